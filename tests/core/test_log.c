/* Tests of core/log against a real LMDB directory. */
#include "core/log.h"
#include "tests/core/testutil.h"

#include <lmdb.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static log_t *open_log(const log_options *opt) {
  log_t *log;
  pv_error err = PV_ERROR_INIT;
  int rc = log_open(&log, test_tmpdir(), opt, &err);
  if (rc) test__fail(__FILE__, __LINE__, "log_open: %s", err.message);
  return log;
}

typedef struct collected {
  uint64_t positions[64];
  uint64_t versions[64];
  char texts[64][32];
  size_t n;
} collected;

static int collect(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  collected *c = arg;
  mp_reader r;
  mp_slice text;
  if (c->n == 64) return 1;
  c->positions[c->n] = e->position;
  c->versions[c->n] = e->stream_version;
  if (mp_map_find(e->payload, e->payload_len, "text", &r) == 0 && mp_read_str(&r, &text) == 0)
    snprintf(c->texts[c->n], sizeof c->texts[0], "%.*s", (int)text.len, text.ptr);
  c->n++;
  return 0;
}

static void test_append_assigns_positions_and_versions(void) {
  log_t *log = open_log(NULL);
  uint64_t pos;
  ASSERT_U64_EQ(log_head(log), 0);
  ASSERT_OK(tu_append(log, "contact-1", LOG_EXPECT_NO_STREAM, "a", &pos));
  ASSERT_U64_EQ(pos, 1);
  ASSERT_OK(tu_append(log, "contact-2", LOG_EXPECT_ANY, "b", &pos));
  ASSERT_U64_EQ(pos, 2);
  ASSERT_OK(tu_append(log, "contact-1", 1, "c", &pos));
  ASSERT_U64_EQ(pos, 3);
  ASSERT_U64_EQ(log_head(log), 3);

  log_reader *rd;
  ASSERT_OK(log_read_begin(log, &rd));
  uint64_t version;
  ASSERT_OK(log_reader_stream_version(rd, "acme", "contact-1", &version));
  ASSERT_U64_EQ(version, 2);
  ASSERT_OK(log_reader_stream_version(rd, "other-tenant", "contact-1", &version));
  ASSERT_U64_EQ(version, 0);
  collected c = {0};
  ASSERT_OK(log_read_stream(rd, "acme", "contact-1", 1, collect, &c));
  ASSERT_EQ(c.n, 2);
  ASSERT_U64_EQ(c.positions[0], 1);
  ASSERT_U64_EQ(c.positions[1], 3);
  ASSERT_U64_EQ(c.versions[1], 2);
  ASSERT_STR_EQ(c.texts[1], "c");
  memset(&c, 0, sizeof c);
  ASSERT_OK(log_read_stream(rd, "acme", "contact-1", 2, collect, &c));
  ASSERT_EQ(c.n, 1);
  /* a stream whose id is a prefix of another's is not mixed in */
  memset(&c, 0, sizeof c);
  ASSERT_OK(log_read_stream(rd, "acme", "contact-", 1, collect, &c));
  ASSERT_EQ(c.n, 0);
  evt_envelope e;
  ASSERT_ERR(log_read_event(rd, 4, &e, NULL, NULL), PV_ENOTFOUND);
  ASSERT_OK(log_read_event(rd, 2, &e, NULL, NULL));
  ASSERT(mp_slice_eq(e.stream, "contact-2"));
  log_read_end(rd);
  log_close(log);
}

/* A stream's head is the last key of its run in stream_events: streams
 * whose ids are prefixes or neighbours of another's, the first and the
 * last run of the index, and an absent stream between two present ones
 * each get their own version. */
static void test_stream_head_among_neighbours(void) {
  log_t *log = open_log(NULL);
  static const char *const streams[] = {"a", "a-", "ab", "a-b", "b", "zz"};
  uint64_t pos;
  for (int round = 0; round < 3; round++)
    for (size_t i = 0; i < sizeof streams / sizeof *streams; i++)
      if (i <= (size_t)round * 2 + 1) ASSERT_OK(tu_append(log, streams[i], LOG_EXPECT_ANY, "x", &pos));
  log_reader *rd;
  ASSERT_OK(log_read_begin(log, &rd));
  static const struct { const char *stream; uint64_t version; } want[] = {
      {"a", 3}, {"a-", 3}, {"ab", 2}, {"a-b", 2}, {"b", 1}, {"zz", 1},
      {"", 0}, {"a-a", 0}, {"aa", 0}, {"c", 0}, {"zzz", 0}};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    uint64_t version = 99;
    ASSERT_OK(log_reader_stream_version(rd, "acme", want[i].stream, &version));
    if (version != want[i].version)
      test__fail(__FILE__, __LINE__, "%s: version %llu, want %llu", want[i].stream,
                 (unsigned long long)version, (unsigned long long)want[i].version);
  }
  uint64_t version = 99;
  ASSERT_OK(log_reader_stream_version(rd, "acmf", "a", &version));
  ASSERT_U64_EQ(version, 0);
  log_read_end(rd);
  log_close(log);
}

static void test_expected_version_conflicts(void) {
  log_t *log = open_log(NULL);
  uint64_t pos;
  ASSERT_OK(tu_append(log, "s", LOG_EXPECT_NO_STREAM, "1", &pos));
  ASSERT_ERR(tu_append(log, "s", LOG_EXPECT_NO_STREAM, "x", &pos), PV_ECONFLICT);
  ASSERT_ERR(tu_append(log, "s", 2, "x", &pos), PV_ECONFLICT);
  ASSERT_ERR(tu_append(log, "t", 1, "x", &pos), PV_ECONFLICT);
  ASSERT_OK(tu_append(log, "s", 1, "2", &pos));
  ASSERT_OK(tu_append(log, "s", LOG_EXPECT_ANY, "3", &pos));
  ASSERT_U64_EQ(log_head(log), 3);
  log_close(log);
}

static void test_reopen_keeps_head_and_hash(void) {
  log_t *log = open_log(NULL);
  uint64_t pos;
  for (int i = 0; i < 10; i++) ASSERT_OK(tu_append(log, "s", LOG_EXPECT_ANY, "x", &pos));
  uint8_t h1[EVT_HASH_BYTES], h2[EVT_HASH_BYTES];
  log_head_hash(log, h1);
  log_close(log);
  log = open_log(NULL);
  ASSERT_U64_EQ(log_head(log), 10);
  log_head_hash(log, h2);
  ASSERT_MEM_EQ(h1, h2, EVT_HASH_BYTES);
  ASSERT_OK(tu_append(log, "s", 10, "x", &pos));
  ASSERT_U64_EQ(pos, 11);
  uint64_t count, bad = 0;
  ASSERT_OK(log_verify(log, &count, h1, &bad, NULL));
  ASSERT_U64_EQ(count, 11);
  log_close(log);
}

static int count_visits(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  (*(size_t *)arg)++;
  return 0;
}

static void test_scan_is_bounded(void) {
  log_t *log = open_log(NULL);
  uint64_t pos, next;
  for (int i = 0; i < 25; i++) ASSERT_OK(tu_append(log, "s", LOG_EXPECT_ANY, "x", &pos));
  size_t visits = 0;
  ASSERT_OK(log_scan(log, 1, 10, SIZE_MAX, count_visits, &visits, &next));
  ASSERT_EQ(visits, 10);
  ASSERT_U64_EQ(next, 11);
  visits = 0;
  ASSERT_OK(log_scan(log, 11, 100, 1, count_visits, &visits, &next));
  ASSERT_EQ(visits, 1); /* a byte bound still makes progress */
  ASSERT_U64_EQ(next, 12);
  visits = 0;
  ASSERT_OK(log_scan(log, 12, 100, SIZE_MAX, count_visits, &visits, &next));
  ASSERT_EQ(visits, 14);
  ASSERT_U64_EQ(next, 26);
  visits = 0;
  ASSERT_OK(log_scan(log, 26, 100, SIZE_MAX, count_visits, &visits, &next));
  ASSERT_EQ(visits, 0);
  ASSERT_U64_EQ(next, 26);
  log_close(log);
}

static void test_indexes(void) {
  log_t *log = open_log(NULL);
  log_wtxn *tx;
  char id[64];
  ASSERT_OK(log_wtxn_begin(log, &tx));
  ASSERT_ERR(log_unique_get(tx, "acme", "email", "jane@x.com", id, sizeof id), PV_ENOTFOUND);
  ASSERT_OK(log_unique_put(tx, "acme", "email", "jane@x.com", "contact-9"));
  ASSERT_OK(log_unique_get(tx, "acme", "email", "jane@x.com", id, sizeof id));
  ASSERT_STR_EQ(id, "contact-9");
  ASSERT_ERR(log_unique_get(tx, "acme", "email", "jane@x.com", id, 4), PV_EINVAL);
  ASSERT_ERR(log_unique_get(tx, "beta", "email", "jane@x.com", id, sizeof id), PV_ENOTFOUND);
  log_idem rec = {7, 2}, got;
  ASSERT_OK(log_idem_put(tx, "acme", "key-1", &rec));
  ASSERT_OK(log_idem_get(tx, "acme", "key-1", &got));
  ASSERT_U64_EQ(got.first_position, 7);
  ASSERT_EQ(got.event_count, 2);
  ASSERT_ERR(log_idem_get(tx, "beta", "key-1", &got), PV_ENOTFOUND);
  ASSERT_OK(log_suppression_put(tx, "acme", "email", "jane@x.com", "unsub", 5));
  ASSERT_OK(log_wtxn_commit(tx));

  log_reader *rd;
  const void *recp;
  size_t len;
  ASSERT_OK(log_read_begin(log, &rd));
  ASSERT_OK(log_suppression_get(rd, "acme", "email", "jane@x.com", &recp, &len));
  ASSERT_EQ(len, 5);
  ASSERT_MEM_EQ(recp, "unsub", 5);
  ASSERT_ERR(log_suppression_get(rd, "acme", "phone", "jane@x.com", &recp, &len), PV_ENOTFOUND);
  log_read_end(rd);

  ASSERT_OK(log_wtxn_begin(log, &tx));
  ASSERT_OK(log_unique_del(tx, "acme", "email", "jane@x.com"));
  ASSERT_ERR(log_unique_del(tx, "acme", "email", "jane@x.com"), PV_ENOTFOUND);
  ASSERT_OK(log_suppression_del(tx, "acme", "email", "jane@x.com"));
  ASSERT_OK(log_wtxn_commit(tx));
  ASSERT_OK(log_read_begin(log, &rd));
  ASSERT_ERR(log_suppression_get(rd, "acme", "email", "jane@x.com", &recp, &len), PV_ENOTFOUND);
  log_read_end(rd);
  log_close(log);
}

/* Opens the raw LMDB environment of a closed log to damage it. */
static void with_raw_events(void (*damage)(MDB_txn *, MDB_dbi)) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  ASSERT_OK(mdb_env_create(&env));
  mdb_env_set_maxdbs(env, 8);
  mdb_env_set_mapsize(env, 64 << 20);
  ASSERT_OK(mdb_env_open(env, test_tmpdir(), 0, 0600));
  ASSERT_OK(mdb_txn_begin(env, NULL, 0, &txn));
  ASSERT_OK(mdb_dbi_open(txn, "events", MDB_INTEGERKEY, &dbi));
  damage(txn, dbi);
  ASSERT_OK(mdb_txn_commit(txn));
  mdb_env_close(env);
}

static MDB_val raw_get(MDB_txn *txn, MDB_dbi dbi, size_t pos, void *copy) {
  MDB_val k = {sizeof pos, &pos}, v;
  ASSERT_OK(mdb_get(txn, dbi, &k, &v));
  memcpy(copy, v.mv_data, v.mv_size);
  v.mv_data = copy;
  return v;
}

static void raw_put(MDB_txn *txn, MDB_dbi dbi, size_t pos, MDB_val v) {
  MDB_val k = {sizeof pos, &pos};
  ASSERT_OK(mdb_put(txn, dbi, &k, &v, 0));
}

static void flip_byte_of_5(MDB_txn *txn, MDB_dbi dbi) {
  char copy[1024];
  MDB_val v = raw_get(txn, dbi, 5, copy);
  copy[v.mv_size - 40] ^= 0x20; /* inside the payload */
  raw_put(txn, dbi, 5, v);
}

static void delete_5(MDB_txn *txn, MDB_dbi dbi) {
  size_t pos = 5;
  MDB_val k = {sizeof pos, &pos};
  ASSERT_OK(mdb_del(txn, dbi, &k, NULL));
}

static void swap_5_and_6(MDB_txn *txn, MDB_dbi dbi) {
  char a[1024], b[1024];
  MDB_val va = raw_get(txn, dbi, 5, a), vb = raw_get(txn, dbi, 6, b);
  raw_put(txn, dbi, 5, vb);
  raw_put(txn, dbi, 6, va);
}

static uint64_t verify_after(void (*damage)(MDB_txn *, MDB_dbi)) {
  log_t *log = open_log(NULL);
  uint64_t pos, count, bad = 0;
  uint8_t head[EVT_HASH_BYTES];
  for (int i = 0; i < 10; i++) ASSERT_OK(tu_append(log, "s", LOG_EXPECT_ANY, "payload text", &pos));
  ASSERT_OK(log_verify(log, &count, head, &bad, NULL));
  ASSERT_U64_EQ(count, 10);
  log_close(log);
  with_raw_events(damage);
  log = open_log(NULL);
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(log_verify(log, &count, head, &bad, &err), PV_ECORRUPT);
  ASSERT(err.message[0] != '\0');
  log_close(log);
  return bad;
}

static void test_verify_detects_flipped_byte(void) { ASSERT_U64_EQ(verify_after(flip_byte_of_5), 5); }
static void test_verify_detects_deleted_event(void) { ASSERT_U64_EQ(verify_after(delete_5), 5); }
static void test_verify_detects_swapped_events(void) { ASSERT_U64_EQ(verify_after(swap_5_and_6), 5); }

static void test_map_full_grows_then_storage_full(void) {
  /* 1 MiB map, 4 MiB cap: fill it through grow-and-redo until the cap. */
  log_options opt = {.map_size_bytes = 1 << 20, .map_max_bytes = 4 << 20};
  log_t *log = open_log(&opt);
  char text[2000];
  memset(text, 'x', sizeof text - 1);
  text[sizeof text - 1] = '\0';
  pv_buf payload = PV_BUF_INIT;
  tu_note(&payload, "s", text);
  int grows = 0, rc = 0;
  uint64_t appended = 0;
  pv_error err = PV_ERROR_INIT;
  while (rc == 0) {
    log_wtxn *tx;
    ASSERT_OK(log_wtxn_begin(log, &tx));
    for (int i = 0; i < 50 && rc == 0; i++) {
      log_event_in in = {.tenant = "acme", .stream = "s", .expected_version = LOG_EXPECT_ANY,
                         .type = "note.added", .type_version = 1, .actor = "t",
                         .payload = payload.data, .payload_len = payload.len};
      rc = log_append(tx, &in, NULL, NULL, NULL);
    }
    if (rc == 0) rc = log_wtxn_commit(tx);
    else log_wtxn_abort(tx);
    if (rc == 0) {
      appended += 50;
      continue;
    }
    ASSERT_ERR(rc, PV_EFULL);
    rc = log_grow(log, &err);
    if (rc == 0) grows++;
  }
  ASSERT_ERR(rc, PV_EFULL);
  ASSERT_STR_EQ(err.message, "storage full");
  ASSERT_EQ(grows, 2);
  ASSERT_U64_EQ(log_head(log), appended);
  uint64_t count, bad;
  ASSERT_OK(log_verify(log, &count, NULL, &bad, NULL));
  ASSERT_U64_EQ(count, appended);
  pv_buf_release(&payload);
  log_close(log);
}

/* The replay tool opens the log read-only from another process while the
 * server has it open (LMDB forbids two opens in one process). */
static void test_read_only_open_beside_the_writer(void) {
  pv_error err = PV_ERROR_INIT;
  log_t *ro;
  log_options opt = {.read_only = true};
  ASSERT_ERR(log_open(&ro, test_tmpdir(), &opt, &err), PV_ENOTFOUND);
  log_t *log = open_log(NULL);
  uint64_t pos;
  ASSERT_OK(tu_append(log, "s", LOG_EXPECT_ANY, "x", &pos));
  pid_t child = fork();
  if (child == 0) {
    if (log_open(&ro, test_tmpdir(), &opt, &err))
      test__fail(__FILE__, __LINE__, "%s: %s", err.message, err.detail);
    ASSERT_U64_EQ(log_head(ro), 1);
    log_wtxn *tx;
    ASSERT_ERR(log_wtxn_begin(ro, &tx), PV_EINVAL);
    uint64_t count, bad;
    ASSERT_OK(log_verify(ro, &count, NULL, &bad, NULL));
    ASSERT_U64_EQ(count, 1);
    log_close(ro);
    _exit(0);
  }
  int status;
  waitpid(child, &status, 0);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  log_close(log);
}

/* Another process appends between two of our write transactions (as
 * `pivotal user add` does beside a running server): our next append must
 * chain onto its event, not onto our stale head. */
static void test_append_after_another_process_appended(void) {
  log_t *log = open_log(NULL);
  uint64_t pos;
  ASSERT_OK(tu_append(log, "contact-1", LOG_EXPECT_NO_STREAM, "ours", &pos));
  pid_t child = fork();
  ASSERT(child >= 0);
  if (child == 0) {
    log_t *other;
    pv_error err = PV_ERROR_INIT;
    if (log_open(&other, test_tmpdir(), NULL, &err) != 0) _exit(1);
    int rc = tu_append(other, "contact-2", LOG_EXPECT_NO_STREAM, "theirs", &pos);
    log_close(other);
    _exit(rc == 0 && pos == 2 ? 0 : 2);
  }
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_OK(tu_append(log, "contact-1", 1, "ours again", &pos));
  ASSERT_U64_EQ(pos, 3);
  ASSERT_U64_EQ(log_head(log), 3);
  uint64_t count, bad;
  uint8_t hash[EVT_HASH_BYTES];
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(log_verify(log, &count, hash, &bad, &err));
  ASSERT_U64_EQ(count, 3);
  log_close(log);
}

TEST_MAIN(TEST(test_append_assigns_positions_and_versions), TEST(test_stream_head_among_neighbours),
          TEST(test_expected_version_conflicts),
          TEST(test_reopen_keeps_head_and_hash), TEST(test_scan_is_bounded), TEST(test_indexes),
          TEST(test_verify_detects_flipped_byte), TEST(test_verify_detects_deleted_event),
          TEST(test_verify_detects_swapped_events), TEST(test_map_full_grows_then_storage_full),
          TEST(test_read_only_open_beside_the_writer),
          TEST(test_append_after_another_process_appended))
