/* Tests of `pivotal replay`, run as the built binary (argv: its path) on a
 * known log: JSON lines and the table, every filter, field-level history,
 * --as-of by position and time, --verify on a good log and on a corrupted
 * copy, reading while another process holds the log open with its writer,
 * and usage errors. */
#include "core/log.h"
#include "core/mp.h"
#include "core/writer.h"
#include "tests/harness/test.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *pivotal_bin;

/* 2020-01-01T00:00:00Z */
#define T0_S 1577836800LL
#define HOUR_US (3600LL * 1000000)

/* The text of position 6: quotes, a tab, a newline, a control character and
 * non-ASCII letters, to see the payload's JSON decode back exactly. */
static const char tricky_text[] = "say \"hi\"\t\\ ok\nJ\xc3\xa9r\xc3\xb4me \x01 \xe2\x82\xac";

static void pack_note(pv_buf *out, const char *subject, const char *text) {
  msgpack_packer pk;
  pv_buf_reset(out);
  mp_packer_init(&pk, out);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "subject");
  mp_pack_cstr(&pk, subject);
  mp_pack_cstr(&pk, "text");
  mp_pack_cstr(&pk, text);
}

/* One event at a chosen time: only the log API lets a test fix the
 * timestamp (the writer stamps the commit's wall time). */
static void append_at(log_t *log, const char *tenant, const char *stream, const char *actor,
                      const char *text, int64_t ts_us) {
  pv_buf payload = PV_BUF_INIT;
  pack_note(&payload, stream, text);
  log_wtxn *tx;
  ASSERT_OK(log_wtxn_begin(log, &tx));
  log_event_in in = {.tenant = tenant, .stream = stream, .expected_version = LOG_EXPECT_ANY,
                     .type = "note.added", .type_version = 1, .actor = actor,
                     .ts_us = ts_us, .payload = payload.data, .payload_len = payload.len};
  uint64_t pos;
  pv_error err = PV_ERROR_INIT;
  int rc = log_append(tx, &in, &pos, NULL, &err);
  if (rc) test__fail(__FILE__, __LINE__, "append: %s", err.message);
  ASSERT_OK(log_wtxn_commit(tx));
  pv_buf_release(&payload);
}

typedef struct note_cmd {
  const char *stream, *text;
} note_cmd;

static int decide_note(writer_ctx *ctx, void *arg, pv_error *err) {
  note_cmd *n = arg;
  pv_buf payload = PV_BUF_INIT;
  pack_note(&payload, n->stream, n->text);
  int rc = writer_emit(ctx, n->stream, LOG_EXPECT_ANY, "note.added", 1, payload.data,
                       payload.len, err);
  pv_buf_release(&payload);
  return rc;
}

static void write_note(writer_t *w, const char *stream, const char *actor, const char *text,
                       const char *correlation, const char *idem) {
  note_cmd n = {stream, text};
  writer_cmd cmd = {.tenant = "default", .actor = actor, .correlation_id = correlation,
                    .idempotency_key = idem, .decide = decide_note, .arg = &n};
  ASSERT_OK(writer_run(w, &cmd));
}

static char log_path[4096];

static log_t *open_log(void) {
  snprintf(log_path, sizeof log_path, "%s/log", test_tmpdir());
  log_t *log;
  pv_error err = PV_ERROR_INIT;
  if (log_open(&log, log_path, NULL, &err)) test__fail(__FILE__, __LINE__, "%s", err.message);
  return log;
}

/*
 * The known history, in the data directory test_tmpdir():
 *   1  default contact-1  user:alice  T0      text "first"
 *   2  default contact-2  user:bob    T0+1h   text "other"
 *   3  default contact-1  user:bob    T0+2h   text "second"
 *   4  acme    contact-1  user:alice  T0+3h   text "acme's"
 *   5  default contact-1  user:carol  now     text "third"  (writer; req-1, k1)
 *   6  default contact-3  user:carol  now     tricky_text   (writer)
 * Returns the open log when keep_open (with the writer stopped).
 */
static log_t *build_history(bool keep_open) {
  log_t *log = open_log();
  append_at(log, "default", "contact-1", "user:alice", "first", T0_S * 1000000);
  append_at(log, "default", "contact-2", "user:bob", "other", T0_S * 1000000 + HOUR_US);
  append_at(log, "default", "contact-1", "user:bob", "second", T0_S * 1000000 + 2 * HOUR_US);
  append_at(log, "acme", "contact-1", "user:alice", "acme's", T0_S * 1000000 + 3 * HOUR_US);
  writer_t *w;
  ASSERT_OK(writer_start(&w, log, NULL, NULL));
  write_note(w, "contact-1", "user:carol", "third", "req-1", "k1");
  write_note(w, "contact-3", "user:carol", tricky_text, NULL, NULL);
  writer_stop(w);
  ASSERT_U64_EQ(log_head(log), 6);
  if (keep_open) return log;
  log_close(log);
  return NULL;
}

/* ---- running the binary ---------------------------------------------- */

typedef struct run_result {
  int status;
  char *out, *err;
} run_result;

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  ASSERT(f != NULL);
  pv_buf b = PV_BUF_INIT;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) pv_buf_add(&b, chunk, n);
  fclose(f);
  return pv_buf_detach(&b, NULL);
}

/* Runs `pivotal replay --data-dir DIR ARGS... ` (NULL-terminated). */
static run_result replay_in(const char *data_dir, const char *arg, ...) {
  const char *argv[64] = {pivotal_bin, "replay", "--data-dir", data_dir};
  int argc = 4;
  va_list ap;
  va_start(ap, arg);
  for (; arg && argc < 63; arg = va_arg(ap, const char *)) argv[argc++] = arg;
  va_end(ap);
  argv[argc] = NULL;
  char out_path[4200], err_path[4200];
  snprintf(out_path, sizeof out_path, "%s/stdout", test_tmpdir());
  snprintf(err_path, sizeof err_path, "%s/stderr", test_tmpdir());
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || err < 0) _exit(127);
    dup2(out, 1);
    dup2(err, 2);
    execv(pivotal_bin, (char **)argv);
    _exit(127);
  }
  int st;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT(WIFEXITED(st));
  return (run_result){WEXITSTATUS(st), slurp(out_path), slurp(err_path)};
}

#define replay(...) replay_in(test_tmpdir(), __VA_ARGS__, (const char *)NULL)

static void run_free(run_result *r) {
  free(r->out);
  free(r->err);
}

/* Each line of out parsed as JSON (asserts every line parses); NULL ends. */
static cJSON **parse_lines(const char *out, size_t *count) {
  size_t n = 0, cap = 8;
  cJSON **docs = pv_xmalloc(cap * sizeof *docs);
  for (const char *p = out; *p;) {
    const char *nl = strchr(p, '\n');
    ASSERT(nl != NULL); /* every line ends with a newline */
    cJSON *doc = cJSON_ParseWithLength(p, (size_t)(nl - p));
    if (!doc) test__fail(__FILE__, __LINE__, "not JSON: %.*s", (int)(nl - p), p);
    if (n + 1 == cap) docs = pv_xrealloc(docs, (cap *= 2) * sizeof *docs);
    docs[n++] = doc;
    p = nl + 1;
  }
  docs[n] = NULL;
  if (count) *count = n;
  return docs;
}

static void free_lines(cJSON **docs) {
  for (size_t i = 0; docs[i]; i++) cJSON_Delete(docs[i]);
  free(docs);
}

static const char *str_of(const cJSON *obj, const char *key) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
  if (!s) test__fail(__FILE__, __LINE__, "no string \"%s\"", key);
  return s;
}

static double num_of(const cJSON *obj, const char *key) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsNumber(item)) test__fail(__FILE__, __LINE__, "no number \"%s\"", key);
  return cJSON_GetNumberValue(item);
}

/* The positions of a JSON-lines output, as "1,3,5". */
static const char *positions(run_result r) {
  static char text[256];
  if (r.status != 0) test__fail(__FILE__, __LINE__, "exit %d: %s", r.status, r.err);
  cJSON **docs = parse_lines(r.out, NULL);
  text[0] = '\0';
  for (size_t i = 0; docs[i]; i++)
    snprintf(text + strlen(text), sizeof text - strlen(text), "%s%.0f", i ? "," : "",
             num_of(docs[i], "position"));
  free_lines(docs);
  return text;
}

/* positions() of one run, freeing it. */
static const char *positions_of(run_result r) {
  const char *p = positions(r);
  run_free(&r);
  return p;
}

/* ---- the cases --------------------------------------------------------- */

static void test_lists_every_event_as_json_lines(void) {
  build_history(false);
  run_result r = replay("--format", "json");
  ASSERT_EQ(r.status, 0);
  ASSERT_STR_EQ(r.err, "");
  size_t n;
  cJSON **docs = parse_lines(r.out, &n);
  ASSERT_EQ(n, 6);
  const cJSON *first = docs[0];
  ASSERT_EQ(num_of(first, "position"), 1);
  ASSERT_STR_EQ(str_of(first, "ts"), "2020-01-01T00:00:00.000000Z");
  ASSERT_EQ(num_of(first, "ts_us"), (double)(T0_S * 1000000));
  ASSERT_STR_EQ(str_of(first, "tenant"), "default");
  ASSERT_STR_EQ(str_of(first, "stream"), "contact-1");
  ASSERT_EQ(num_of(first, "stream_version"), 1);
  ASSERT_STR_EQ(str_of(first, "type"), "note.added");
  ASSERT_EQ(num_of(first, "type_version"), 1);
  ASSERT_STR_EQ(str_of(first, "actor"), "user:alice");
  ASSERT_EQ(strlen(str_of(first, "hash")), 64);
  ASSERT_STR_EQ(str_of(first, "prev_hash"), "0000000000000000000000000000000000000000000000000000000000000000");
  const cJSON *payload = cJSON_GetObjectItemCaseSensitive(first, "payload");
  ASSERT_STR_EQ(str_of(payload, "subject"), "contact-1");
  ASSERT_STR_EQ(str_of(payload, "text"), "first");
  for (size_t i = 1; i < n; i++)
    ASSERT_STR_EQ(str_of(docs[i], "prev_hash"), str_of(docs[i - 1], "hash"));
  ASSERT_STR_EQ(str_of(docs[3], "tenant"), "acme");
  ASSERT_STR_EQ(str_of(docs[4], "actor"), "user:carol");
  ASSERT_STR_EQ(str_of(docs[4], "correlation"), "req-1");
  ASSERT_STR_EQ(str_of(docs[4], "idempotency"), "k1");
  ASSERT_EQ(num_of(docs[4], "stream_version"), 3);
  /* escaping round-trips: the parsed text is exactly what was written */
  payload = cJSON_GetObjectItemCaseSensitive(docs[5], "payload");
  ASSERT_STR_EQ(str_of(payload, "text"), tricky_text);
  free_lines(docs);
  run_free(&r);
  /* not a terminal: JSON lines by default */
  ASSERT_STR_EQ(positions_of(replay("--from", "1")), "1,2,3,4,5,6");
}

static void test_filters(void) {
  build_history(false);
  ASSERT_STR_EQ(positions_of(replay("--type", "note.added")), "1,2,3,4,5,6");
  ASSERT_STR_EQ(positions_of(replay("--type", "contact.upserted")), "");
  ASSERT_STR_EQ(positions_of(replay("--type", "x.y", "--type", "note.added")), "1,2,3,4,5,6");
  ASSERT_STR_EQ(positions_of(replay("--actor", "user:bob")), "2,3");
  ASSERT_STR_EQ(positions_of(replay("--actor", "user:carol", "--type", "note.added")), "5,6");
  ASSERT_STR_EQ(positions_of(replay("--since", "2020-01-01T01:00:00Z", "--until",
                                    "2020-01-01T02:00:00Z")), "2,3");
  ASSERT_STR_EQ(positions_of(replay("--since", "2020-01-01T02:00:00+01:00", "--until",
                                    "2020-01-01T01:59:59.999999Z")), "2");
  ASSERT_STR_EQ(positions_of(replay("--since", "1577840400")), "2,3,4,5,6"); /* T0+1h */
  ASSERT_STR_EQ(positions_of(replay("--until", "@1577836800.5")), "1");
  ASSERT_STR_EQ(positions_of(replay("--since", "2021-01-01T00:00:00Z")), "5,6");
  ASSERT_STR_EQ(positions_of(replay("--from", "2", "--to", "4")), "2,3,4");
  ASSERT_STR_EQ(positions_of(replay("--from", "5")), "5,6");
  ASSERT_STR_EQ(positions_of(replay("--to", "1")), "1");
  ASSERT_STR_EQ(positions_of(replay("--from", "7")), "");
  ASSERT_STR_EQ(positions_of(replay("--tenant", "acme")), "4");
  ASSERT_STR_EQ(positions_of(replay("--tenant", "default", "--from", "3", "--to", "4")), "3");
  ASSERT_STR_EQ(positions_of(replay("--stream", "contact-1")), "1,3,5");
  ASSERT_STR_EQ(positions_of(replay("--stream", "contact-1", "--tenant", "acme")), "4");
  ASSERT_STR_EQ(positions_of(replay("--stream", "contact-1", "--actor", "user:bob")), "3");
  ASSERT_STR_EQ(positions_of(replay("--stream", "contact-1", "--from", "2", "--to", "5")), "3,5");
}

static void test_table_is_aligned(void) {
  build_history(false);
  run_result r = replay("--format", "table", "--to", "3");
  ASSERT_EQ(r.status, 0);
  char *lines[8];
  int n = 0;
  for (char *save, *line = strtok_r(r.out, "\n", &save); line && n < 8;
       line = strtok_r(NULL, "\n", &save))
    lines[n++] = line;
  ASSERT_EQ(n, 4);
  ASSERT(strstr(lines[0], "POSITION") == lines[0]);
  const char *cols[] = {"TIME", "STREAM", "TYPE", "ACTOR", "PAYLOAD"};
  const char *vals[] = {"2020-01-01T00:00:00.000000Z", "contact-1", "note.added", "user:alice",
                        "{\"subject\":\"contact-1\",\"text\":\"first\"}"};
  for (int i = 0; i < 5; i++) {
    const char *head = strstr(lines[0], cols[i]), *cell = strstr(lines[1], vals[i]);
    ASSERT(head && cell);
    ASSERT_EQ(head - lines[0], cell - lines[1]);
  }
  ASSERT(strstr(lines[3], "user:bob") != NULL);
  run_free(&r);
}

static void test_history_prints_field_changes(void) {
  build_history(false);
  run_result r = replay("--stream", "contact-1", "--history", "--format", "json");
  ASSERT_EQ(r.status, 0);
  size_t n;
  cJSON **docs = parse_lines(r.out, &n);
  ASSERT_EQ(n, 4);
  /* position, actor, field, old (NULL: none), new */
  const struct {
    double position;
    const char *actor, *field, *old_value, *new_value;
  } want[] = {
      {1, "user:alice", "subject", NULL, "contact-1"},
      {1, "user:alice", "text", NULL, "first"},
      {3, "user:bob", "text", "first", "second"},
      {5, "user:carol", "text", "second", "third"},
  };
  for (size_t i = 0; i < n; i++) {
    ASSERT_EQ(num_of(docs[i], "position"), want[i].position);
    ASSERT_STR_EQ(str_of(docs[i], "actor"), want[i].actor);
    ASSERT_STR_EQ(str_of(docs[i], "field"), want[i].field);
    ASSERT_STR_EQ(str_of(docs[i], "type"), "note.added");
    const cJSON *old_value = cJSON_GetObjectItemCaseSensitive(docs[i], "old");
    if (want[i].old_value) ASSERT_STR_EQ(cJSON_GetStringValue(old_value), want[i].old_value);
    else ASSERT(cJSON_IsNull(old_value));
    ASSERT_STR_EQ(str_of(docs[i], "new"), want[i].new_value);
  }
  ASSERT_STR_EQ(str_of(docs[2], "ts"), "2020-01-01T02:00:00.000000Z");
  ASSERT_EQ(num_of(docs[2], "stream_version"), 2);
  free_lines(docs);
  run_free(&r);

  /* filters choose the rows; the fold still sees every event */
  r = replay("--stream", "contact-1", "--history", "--actor", "user:bob");
  docs = parse_lines(r.out, &n);
  ASSERT_EQ(n, 1);
  ASSERT_STR_EQ(str_of(docs[0], "old"), "first");
  free_lines(docs);
  run_free(&r);

  r = replay("--stream", "contact-1", "--history", "--format", "table");
  ASSERT_EQ(r.status, 0);
  ASSERT(strstr(r.out, "FIELD") != NULL);
  ASSERT(strstr(r.out, "\"first\" \xe2\x86\x92 \"second\"") != NULL);
  ASSERT(strstr(r.out, "(none) \xe2\x86\x92 \"contact-1\"") != NULL);
  run_free(&r);
}

/* The --as-of answer: version, last position and the text field. */
static void check_as_of(const char *at, double version, double last_position, const char *text) {
  run_result r = replay("--stream", "contact-1", "--as-of", at);
  if (r.status) test__fail(__FILE__, __LINE__, "--as-of %s: exit %d: %s", at, r.status, r.err);
  size_t n;
  cJSON **docs = parse_lines(r.out, &n);
  ASSERT_EQ(n, 1);
  ASSERT_STR_EQ(str_of(docs[0], "stream"), "contact-1");
  ASSERT_STR_EQ(str_of(docs[0], "tenant"), "default");
  ASSERT_EQ(num_of(docs[0], "version"), version);
  ASSERT_EQ(num_of(docs[0], "last_position"), last_position);
  const cJSON *fields = cJSON_GetObjectItemCaseSensitive(docs[0], "fields");
  ASSERT(cJSON_IsObject(fields));
  if (text) {
    ASSERT_STR_EQ(str_of(fields, "text"), text);
    ASSERT_STR_EQ(str_of(fields, "subject"), "contact-1");
  } else {
    ASSERT(fields->child == NULL);
    ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(docs[0], "last_ts")));
  }
  free_lines(docs);
  run_free(&r);
}

static void test_as_of_position_and_time(void) {
  build_history(false);
  check_as_of("1", 1, 1, "first");
  check_as_of("2", 1, 1, "first");
  check_as_of("3", 2, 3, "second");
  check_as_of("4", 2, 3, "second");
  check_as_of("99", 3, 5, "third");
  check_as_of("2020-01-01T01:59:59Z", 1, 1, "first");
  check_as_of("2020-01-01T02:00:00Z", 2, 3, "second");
  check_as_of("@1577844000", 2, 3, "second"); /* T0+2h in unix seconds */
  check_as_of("2019-12-31T23:59:59Z", 0, 0, NULL);
  check_as_of("0", 0, 0, NULL);
}

static void test_verify_good_log(void) {
  build_history(false);
  run_result all = replay("--format", "json");
  cJSON **docs = parse_lines(all.out, NULL);
  char head_hash[65];
  snprintf(head_hash, sizeof head_hash, "%s", str_of(docs[5], "hash"));
  free_lines(docs);
  run_free(&all);

  run_result r = replay("--verify", "--format", "json");
  ASSERT_EQ(r.status, 0);
  docs = parse_lines(r.out, NULL);
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(docs[0], "ok")));
  ASSERT_EQ(num_of(docs[0], "count"), 6);
  ASSERT_STR_EQ(str_of(docs[0], "head_hash"), head_hash);
  free_lines(docs);
  run_free(&r);

  r = replay("--verify", "--format", "table");
  ASSERT_EQ(r.status, 0);
  char want[128];
  snprintf(want, sizeof want, "ok: 6 events, head hash %s\n", head_hash);
  ASSERT_STR_EQ(r.out, want);
  run_free(&r);
}

static void copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  ASSERT(in && out);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, in)) > 0) ASSERT_EQ(fwrite(chunk, 1, n, out), n);
  fclose(in);
  ASSERT_EQ(fclose(out), 0);
}

/* Flips one byte of the text inside position 3's payload, through LMDB. */
static void corrupt_position_3(const char *dir) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  ASSERT_OK(mdb_env_create(&env));
  mdb_env_set_maxdbs(env, 8);
  ASSERT_OK(mdb_env_open(env, dir, 0, 0600));
  ASSERT_OK(mdb_txn_begin(env, NULL, 0, &txn));
  ASSERT_OK(mdb_dbi_open(txn, "events", MDB_INTEGERKEY, &dbi));
  size_t pos = 3;
  MDB_val k = {sizeof pos, &pos}, v;
  ASSERT_OK(mdb_get(txn, dbi, &k, &v));
  char copy[1024];
  ASSERT(v.mv_size <= sizeof copy);
  memcpy(copy, v.mv_data, v.mv_size);
  char *text = memmem(copy, v.mv_size, "second", 6);
  ASSERT(text != NULL);
  text[0] ^= 0x01; /* "second" → "recond": still decodes, no longer hashes */
  v.mv_data = copy;
  ASSERT_OK(mdb_put(txn, dbi, &k, &v, 0));
  ASSERT_OK(mdb_txn_commit(txn));
  mdb_env_close(env);
}

static void test_verify_catches_a_corrupted_copy(void) {
  build_history(false);
  char copy_dir[4200], copy_log[4300], from[4300], to[4400];
  snprintf(copy_dir, sizeof copy_dir, "%s/copy", test_tmpdir());
  snprintf(copy_log, sizeof copy_log, "%s/log", copy_dir);
  ASSERT_EQ(mkdir(copy_dir, 0700), 0);
  ASSERT_EQ(mkdir(copy_log, 0700), 0);
  snprintf(from, sizeof from, "%s/data.mdb", log_path);
  snprintf(to, sizeof to, "%s/data.mdb", copy_log);
  copy_file(from, to);
  corrupt_position_3(copy_log);

  run_result r = replay_in(copy_dir, "--verify", (const char *)NULL);
  ASSERT_EQ(r.status, 1);
  ASSERT(strstr(r.err, "error: position 3 does not match its hash") != NULL);
  ASSERT(strstr(r.err, "detail: ") != NULL);
  ASSERT(strstr(r.err, "hint: ") != NULL);
  cJSON **docs = parse_lines(r.out, NULL); /* stdout is not a terminal: JSON */
  ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(docs[0], "ok")));
  ASSERT_EQ(num_of(docs[0], "bad_position"), 3);
  free_lines(docs);
  run_free(&r);

  /* the history of the copy shows the changed text: verify is what tells */
  r = replay_in(copy_dir, "--stream", "contact-1", "--as-of", "3", (const char *)NULL);
  ASSERT_EQ(r.status, 0);
  ASSERT(strstr(r.out, "\"text\":\"recond\"") != NULL);
  run_free(&r);

  /* the original is untouched */
  r = replay("--verify");
  ASSERT_EQ(r.status, 0);
  run_free(&r);
}

static void test_reads_while_the_writer_holds_the_log(void) {
  log_t *log = build_history(true);
  writer_t *w;
  ASSERT_OK(writer_start(&w, log, NULL, NULL));
  ASSERT_STR_EQ(positions_of(replay("--stream", "contact-1")), "1,3,5");
  write_note(w, "contact-1", "user:dave", "fourth", NULL, NULL);
  ASSERT_STR_EQ(positions_of(replay("--stream", "contact-1")), "1,3,5,7");
  run_result r = replay("--verify");
  ASSERT_EQ(r.status, 0);
  ASSERT(strstr(r.out, "\"count\":7") != NULL);
  run_free(&r);
  check_as_of("7", 4, 7, "fourth");
  writer_stop(w);
  log_close(log);
}

static void test_usage_and_errors(void) {
  run_result r = replay_in("/nonexistent", "--help", (const char *)NULL);
  ASSERT_EQ(r.status, 0);
  const char *every_option[] = {"--data-dir", "--stream", "--tenant", "--format", "--type",
                                "--actor", "--since", "--until", "--from", "--to", "--history",
                                "--as-of", "--verify", "--help"};
  for (size_t i = 0; i < sizeof every_option / sizeof every_option[0]; i++)
    if (!strstr(r.out, every_option[i]))
      test__fail(__FILE__, __LINE__, "--help does not list %s", every_option[i]);
  run_free(&r);

  const char *bad[][4] = {
      {"--no-such-flag", NULL},
      {"--format", "xml", NULL},
      {"--since", "yesterday", NULL},
      {"--until", "2024-02-30T00:00:00Z", NULL},
      {"--from", "-1", NULL},
      {"--to", "12x", NULL},
      {"--history", NULL},
      {"--as-of", "3", NULL},
      {"--stream", "s", "--history", NULL}, /* with --as-of below */
      {"--verify", "--stream", "s", NULL},
      {"extra", NULL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (i == 8)
      r = replay_in("/nonexistent", bad[i][0], bad[i][1], bad[i][2], "--as-of", "1",
                    (const char *)NULL);
    else
      r = replay_in("/nonexistent", bad[i][0], bad[i][1], bad[i][2], (const char *)NULL);
    if (r.status != 2) test__fail(__FILE__, __LINE__, "%s: exit %d", bad[i][0], r.status);
    ASSERT(strstr(r.err, "usage: pivotal replay") != NULL);
    run_free(&r);
  }
  r = replay("--stream", "s", "--as-of", "not a time");
  ASSERT_EQ(r.status, 2);
  run_free(&r);

  /* no log yet */
  r = replay("--verify");
  ASSERT_EQ(r.status, 1);
  ASSERT(strstr(r.err, "error: no event log in ") == r.err);
  ASSERT(strstr(r.err, "hint: ") != NULL);
  run_free(&r);

  build_history(false);
  r = replay("--stream", "nope", "--history");
  ASSERT_EQ(r.status, 1);
  ASSERT(strstr(r.err, "error: stream \"nope\" not found in tenant \"default\"") == r.err);
  run_free(&r);
}

int main(int argc, char **argv) {
  if (argc > 1 && argv[argc - 1][0] == '/') pivotal_bin = argv[--argc];
  if (!pivotal_bin) {
    fprintf(stderr, "usage: test_replay [CASE] /path/to/pivotal\n");
    return 2;
  }
  static const test_case cases[] = {
      TEST(test_lists_every_event_as_json_lines), TEST(test_filters),
      TEST(test_table_is_aligned), TEST(test_history_prints_field_changes),
      TEST(test_as_of_position_and_time), TEST(test_verify_good_log),
      TEST(test_verify_catches_a_corrupted_copy), TEST(test_reads_while_the_writer_holds_the_log),
      TEST(test_usage_and_errors),
  };
  return test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
