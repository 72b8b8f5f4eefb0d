/*
 * The projection engine against a real PostgreSQL: catching up, waking on
 * commit, read-your-writes waits, fencing between two engines, gaps, lag,
 * rebuild (equal to the live model; interruption leaves live untouched) and
 * the status and rebuild commands.
 */
#include "tests/proj/proj_testutil.h"

#include "core/common/pv_time.h"

#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void drop(char *url) {
  pg_testdb_drop(url);
  free(url);
}

static void test_catches_up_from_the_log_without_a_writer(void) {
  char *url = ptu_db();
  log_t *log = ptu_log(test_tmpdir(), false);
  uint64_t head = ptu_append(log, 1200, 0);
  proj_engine *e = ptu_engine(log, NULL, url);
  ptu_wait(e, head);
  /* appended after the first catch-up: found by the head check */
  head = ptu_append(log, 300, 0);
  ptu_wait(e, head);
  proj_engine_stop(e);

  pg_conn *c = ptu_connect(url);
  ptu_assert_counts_exact(c, log);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_audit_events.events"), head);
  ASSERT_EQ(ptu_checkpoint(c, "audit_events"), head);
  /* payloads went through the JSON encoder: each text comes back as written,
   * the invalid UTF-8 bytes as U+FFFD */
  for (uint64_t k = 0; k < PTU_TEXTS; k++) {
    char pos[24], want[64];
    snprintf(pos, sizeof pos, "%" PRIu64, k + 1);
    const char *values[] = {pos};
    PGresult *res = NULL;
    pv_error err = PV_ERROR_INIT;
    ASSERT_OK(pg_exec(c, "SELECT payload->>'text' FROM rm_audit_events.events WHERE position = $1",
                      1, values, &res, &err));
    snprintf(want, sizeof want, "%s",
             strcmp(ptu_texts[k], "bad utf-8 \xff\xfe end") ? ptu_texts[k]
                                                             : "bad utf-8 \xef\xbf\xbd\xef\xbf\xbd end");
    ASSERT_STR_EQ(PQgetvalue(res, 0, 0), want);
    PQclear(res);
  }
  pg_conn_free(c);
  log_close(log);
  drop(url);
}

/* ---- with a writer -------------------------------------------------------- */

static int decide_note(writer_ctx *ctx, void *arg, pv_error *err) {
  pv_buf payload = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "subject");
  mp_pack_cstr(&pk, "contact-1");
  mp_pack_cstr(&pk, "text");
  mp_pack_cstr(&pk, arg);
  int rc = writer_emit(ctx, "contact-1", LOG_EXPECT_ANY, "note.added", 1, payload.data,
                       payload.len, err);
  pv_buf_release(&payload);
  return rc;
}

static uint64_t submit_note(writer_t *w, const char *text) {
  writer_cmd cmd = {.tenant = "acme", .actor = "user:1", .decide = decide_note,
                    .arg = (void *)text};
  ASSERT_OK(writer_run(w, &cmd));
  return cmd.first_position;
}

/* With a writer the engine has no timer at all: only the commit's
 * uv_async_send can wake it, so each wait returning proves the wake path. */
static void test_wakes_on_each_commit(void) {
  char *url = ptu_db();
  log_t *log = ptu_log(test_tmpdir(), false);
  writer_t *w;
  ASSERT_OK(writer_start(&w, log, NULL, NULL));
  proj_engine *e = ptu_engine(log, w, url);
  for (int i = 0; i < 20; i++) ptu_wait(e, submit_note(w, "hello"));
  proj_lag lag[2];
  ASSERT_EQ(proj_engine_lag(e, lag, 2), 2); /* ptu_engine runs its two projections */
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(lag[i].lag_events, 0);
    ASSERT_EQ(lag[i].checkpoint, 20);
    ASSERT_EQ(lag[i].state, PROJ_CAUGHT_UP);
  }
  proj_engine_stop(e);
  writer_stop(w);
  pg_conn *c = ptu_connect(url);
  ptu_assert_counts_exact(c, log);
  pg_conn_free(c);
  log_close(log);
  drop(url);
}

typedef struct wait_result {
  int calls, rc;
} wait_result;

static void on_waited(int rc, void *arg) {
  wait_result *r = arg;
  r->calls++;
  r->rc = rc;
}

static void run_until_called(uv_loop_t *loop, wait_result *r) {
  while (r->calls == 0) uv_run(loop, UV_RUN_ONCE);
}

static void test_wait_for_position_answers_or_times_out(void) {
  char *url = ptu_db();
  log_t *log = ptu_log(test_tmpdir(), false);
  writer_t *w;
  ASSERT_OK(writer_start(&w, log, NULL, NULL));
  proj_engine *e = ptu_engine(log, w, url);
  uint64_t first = submit_note(w, "one");
  uv_loop_t loop;
  uv_loop_init(&loop);
  const char *const names[] = {"event_counts", "audit_events"};

  /* already passed: answered from the loop, not from inside the call */
  ptu_wait(e, first);
  wait_result r = {0, 1};
  ASSERT_OK(proj_wait_position(e, names, 2, first, 10000, &loop, on_waited, &r));
  ASSERT_EQ(r.calls, 0);
  run_until_called(&loop, &r);
  ASSERT_OK(r.rc);

  /* a position nobody has written yet: times out */
  r = (wait_result){0, 1};
  ASSERT_OK(proj_wait_position(e, names, 2, first + 1, 50, &loop, on_waited, &r));
  run_until_called(&loop, &r);
  ASSERT_ERR(r.rc, PV_ETIMEDOUT);
  ASSERT_ERR(proj_wait_position_sync(e, names, 1, first + 1, 50), PV_ETIMEDOUT);

  /* registered before the command: answered once it is projected */
  r = (wait_result){0, 1};
  ASSERT_OK(proj_wait_position(e, names, 2, first + 1, 60000, &loop, on_waited, &r));
  ASSERT_EQ(submit_note(w, "two"), first + 1);
  run_until_called(&loop, &r);
  ASSERT_OK(r.rc);
  ASSERT_EQ(r.calls, 1);

  const char *const unknown[] = {"no_such_projection"};
  ASSERT_ERR(proj_wait_position(e, unknown, 1, 1, 10, &loop, on_waited, &r), PV_ENOTFOUND);

  /* pending when the engine stops: answered with PV_ESHUTDOWN */
  r = (wait_result){0, 1};
  ASSERT_OK(proj_wait_position(e, names, 2, first + 100, 60000, &loop, on_waited, &r));
  proj_engine_stop(e);
  run_until_called(&loop, &r);
  ASSERT_ERR(r.rc, PV_ESHUTDOWN);
  while (uv_run(&loop, UV_RUN_NOWAIT)) {}
  ASSERT_OK(uv_loop_close(&loop));
  writer_stop(w);
  log_close(log);
  drop(url);
}

/* Two engines on one database and one log: batches race for the same
 * checkpoints, and the fence lets exactly one of each pair commit. */
static void test_two_engines_never_apply_a_batch_twice(void) {
  char *url = ptu_db();
  log_t *log = ptu_log(test_tmpdir(), false);
  proj_engine *a = ptu_engine(log, NULL, url), *b = ptu_engine(log, NULL, url);
  uint64_t head = 0;
  for (int round = 0; round < 8; round++) {
    head = ptu_append(log, 1500, 0);
    proj_engine_notify(a);
    proj_engine_notify(b);
  }
  ptu_wait(a, head);
  ptu_wait(b, head);
  proj_engine_stop(a);
  proj_engine_stop(b);
  pg_conn *c = ptu_connect(url);
  ptu_assert_counts_exact(c, log);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_audit_events.events"), head);
  pg_conn_free(c);
  log_close(log);
  drop(url);
}

/* Deletes one event from the log's LMDB file: a gap no writer can make. */
static void punch_hole(const char *dir, uint64_t position) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  ASSERT_OK(mdb_env_create(&env));
  mdb_env_set_maxdbs(env, 8);
  ASSERT_OK(mdb_env_open(env, dir, 0, 0600));
  ASSERT_OK(mdb_txn_begin(env, NULL, 0, &txn));
  ASSERT_OK(mdb_dbi_open(txn, "events", MDB_INTEGERKEY, &dbi));
  size_t key = (size_t)position;
  MDB_val k = {sizeof key, &key};
  ASSERT_OK(mdb_del(txn, dbi, &k, NULL));
  ASSERT_OK(mdb_txn_commit(txn));
  mdb_env_close(env);
}

static void test_a_gap_stops_the_projection(void) {
  char *url = ptu_db();
  log_t *log = ptu_log(test_tmpdir(), false);
  ptu_append(log, 10, 0);
  log_close(log);
  punch_hole(test_tmpdir(), 5);
  log = ptu_log(test_tmpdir(), false);
  proj_engine *e = ptu_engine(log, NULL, url);
  ptu_wait(e, 4);
  ASSERT_ERR(proj_wait_position_sync(e, ptu_all, 2, 5, 300), PV_ETIMEDOUT);
  proj_lag lag[2];
  proj_engine_lag(e, lag, 2);
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(lag[i].state, PROJ_FAILED);
    ASSERT_EQ(lag[i].checkpoint, 4);
    ASSERT(strstr(lag[i].error, "gap in the log: expected position 5, found 6") != NULL);
  }
  proj_engine_stop(e);
  pg_conn *c = ptu_connect(url);
  ASSERT_EQ(ptu_checkpoint(c, "event_counts"), 4);
  ASSERT_EQ(ptu_checkpoint(c, "audit_events"), 4);
  ASSERT_EQ(ptu_query_i64(c, "SELECT max(position) FROM rm_audit_events.events"), 4);
  pg_conn_free(c);
  log_close(log);
  drop(url);
}

static void test_lag_in_events_and_seconds(void) {
  log_t *log = ptu_log(test_tmpdir(), false);
  int64_t ten_s_ago = pv_wall_us() - 10 * 1000000LL;
  ptu_append(log, 100, ten_s_ago);
  proj_lag lag;
  ASSERT_OK(proj_lag_compute(log, "event_counts", 40, 0, &lag));
  ASSERT_EQ(lag.head, 100);
  ASSERT_EQ(lag.lag_events, 60);
  ASSERT(lag.lag_seconds >= 10.0);
  ASSERT_EQ(lag.state, PROJ_STALLED);
  ASSERT_OK(proj_lag_compute(log, "event_counts", 40, pv_wall_us(), &lag));
  ASSERT_EQ(lag.state, PROJ_MOVING);
  ASSERT_OK(proj_lag_compute(log, "event_counts", 100, 0, &lag));
  ASSERT_EQ(lag.lag_events, 0);
  ASSERT(lag.lag_seconds == 0);
  ASSERT_EQ(lag.state, PROJ_CAUGHT_UP);
  log_close(log);
}

/* ---- folds that read other read models ------------------------------------ */

static void exec_ok(pg_conn *c, const char *sql) {
  pv_error err = PV_ERROR_INIT;
  if (pg_exec(c, sql, 0, NULL, NULL, &err))
    test__fail(__FILE__, __LINE__, "%s: %s: %s", sql, err.message, err.detail);
}

/* Appends n contact.created events (one change: the email) in one
 * transaction. */
static uint64_t append_contacts(log_t *log, uint64_t n) {
  pv_buf payload = PV_BUF_INIT;
  log_wtxn *tx;
  ASSERT_OK(log_wtxn_begin(log, &tx));
  uint64_t pos = 0;
  for (uint64_t i = 0; i < n; i++) {
    char id[32], stream[48], email[48];
    snprintf(id, sizeof id, "c%" PRIu64, log_head(log) + i);
    snprintf(stream, sizeof stream, "contact-%s", id);
    snprintf(email, sizeof email, "%s@example.com", id);
    msgpack_packer pk;
    pv_buf_reset(&payload);
    mp_packer_init(&pk, &payload);
    msgpack_pack_map(&pk, 2);
    mp_pack_cstr(&pk, "contact_id");
    mp_pack_cstr(&pk, id);
    mp_pack_cstr(&pk, "changes");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    mp_pack_cstr(&pk, "field");
    mp_pack_cstr(&pk, "email");
    mp_pack_cstr(&pk, "old");
    msgpack_pack_nil(&pk);
    mp_pack_cstr(&pk, "new");
    mp_pack_cstr(&pk, email);
    log_event_in in = {.tenant = "t0", .stream = stream, .expected_version = LOG_EXPECT_ANY,
                       .type = "contact.created", .type_version = 1, .actor = "user:1",
                       .correlation = "req-1", .payload = payload.data,
                       .payload_len = payload.len};
    ASSERT_OK(log_append(tx, &in, &pos, NULL, NULL));
  }
  ASSERT_OK(log_wtxn_commit(tx));
  pv_buf_release(&payload);
  return pos;
}

/* The error of projection name in the engine's lag ("" when none). */
static void lag_error(proj_engine *e, const char *name, char *out, size_t cap) {
  proj_lag lags[16];
  size_t n = proj_engine_lag(e, lags, 16);
  out[0] = '\0';
  for (size_t i = 0; i < n && i < 16; i++)
    if (strcmp(lags[i].name, name) == 0) snprintf(out, cap, "%s", lags[i].error);
}

/* segments reads accounts (another lane): while accounts cannot write,
 * segments waits without an error and without holding up its own lane
 * (contacts goes on); once accounts moves, the commit wakes segments'
 * lane and it catches up. */
static void test_a_fold_waits_for_what_it_reads_in_another_lane(void) {
  char *url = ptu_db();
  log_t *log = ptu_log(test_tmpdir(), false);
  pg_conn *blocker = ptu_connect(url);
  exec_ok(blocker, "BEGIN");
  exec_ok(blocker, "LOCK TABLE rm_accounts.contact_links IN ACCESS EXCLUSIVE MODE");
  uint64_t head = append_contacts(log, 40);
  static const char *const names[] = {"suppressions", "accounts", "contacts", "segments", NULL};
  proj_options opt = {.names = names, .retry_base_ms = 50, .retry_max_ms = 500, .poll_ms = 20};
  proj_engine *e = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(proj_engine_start(&e, log, NULL, url, &opt, &err));
  const char *contacts[] = {"contacts"}, *segments[] = {"segments"};
  ASSERT_OK(proj_wait_position_sync(e, contacts, 1, head, 60000));
  usleep(300000); /* several polls of segments' lane */
  char error[256];
  lag_error(e, "segments", error, sizeof error);
  ASSERT_STR_EQ(error, "");
  lag_error(e, "contacts", error, sizeof error);
  ASSERT_STR_EQ(error, "");
  ASSERT_EQ(proj_wait_position_sync(e, segments, 1, head, 50), PV_ETIMEDOUT);
  exec_ok(blocker, "COMMIT");
  ASSERT_OK(proj_wait_position_sync(e, segments, 1, head, 60000));
  proj_engine_stop(e);
  pg_conn *c = ptu_connect(url);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_segments.contact_facts"), 40);
  pg_conn_free(c);
  pg_conn_free(blocker);
  log_close(log);
  drop(url);
}

/* ---- rebuild --------------------------------------------------------------- */

/* Copies the live read models into schema snap. */
static void snapshot(pg_conn *c) {
  exec_ok(c, "DROP SCHEMA IF EXISTS snap CASCADE");
  exec_ok(c, "CREATE SCHEMA snap");
  exec_ok(c, "CREATE TABLE snap.counts AS SELECT * FROM rm_event_counts.counts");
  exec_ok(c, "CREATE TABLE snap.events AS SELECT * FROM rm_audit_events.events");
}

/* Live equals the snapshot row for row (EXCEPT both ways, and counts). */
static void assert_equals_snapshot(pg_conn *c) {
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM (SELECT * FROM rm_event_counts.counts "
                             "EXCEPT SELECT * FROM snap.counts) d"), 0);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM (SELECT * FROM snap.counts "
                             "EXCEPT SELECT * FROM rm_event_counts.counts) d"), 0);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM (SELECT * FROM rm_audit_events.events "
                             "EXCEPT SELECT * FROM snap.events) d"), 0);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM (SELECT * FROM snap.events "
                             "EXCEPT SELECT * FROM rm_audit_events.events) d"), 0);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_audit_events.events"),
            ptu_query_i64(c, "SELECT count(*) FROM snap.events"));
}

static void rebuild(log_t *log, pg_conn *c, const char *name, proj_progress_fn progress,
                    void *arg, int want) {
  pv_error err = PV_ERROR_INIT;
  uint64_t position = 0;
  int rc = proj_rebuild(log, c, proj_find(name), progress, arg, &position, &err);
  if (rc != want)
    test__fail(__FILE__, __LINE__, "rebuild %s: %s (%s: %s)", name, test__errname(rc),
               err.message, err.detail);
  if (want == 0) ASSERT_EQ(position, log_head(log));
}

static void test_rebuild_equals_the_live_model(void) {
  char *url = ptu_db();
  log_t *log = ptu_log(test_tmpdir(), false);
  uint64_t head = ptu_append(log, 12000, 0);
  proj_engine *e = ptu_engine(log, NULL, url);
  ptu_wait(e, head);
  proj_engine_stop(e);
  pg_conn *c = ptu_connect(url);
  snapshot(c);
  rebuild(log, c, "event_counts", NULL, NULL, 0);
  rebuild(log, c, "audit_events", NULL, NULL, 0);
  assert_equals_snapshot(c);
  ASSERT_EQ(ptu_checkpoint(c, "event_counts"), head);
  ASSERT_EQ(ptu_checkpoint(c, "audit_events"), head);
  /* the indexes came along with the tables */
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM pg_indexes WHERE schemaname = "
                             "'rm_audit_events'"), 3);

  /* while an engine runs and the log grows: the swap hands the engine the
   * rebuilt checkpoint, and every event still counts exactly once */
  e = ptu_engine(log, NULL, url);
  ptu_append(log, 3000, 0);
  rebuild(log, c, "event_counts", NULL, NULL, 0);
  head = ptu_append(log, 3000, 0);
  ptu_wait(e, head);
  proj_engine_stop(e);
  ptu_assert_counts_exact(c, log);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM pg_namespace WHERE strpos(nspname, '__') > 0"),
            0);
  pg_conn_free(c);
  log_close(log);
  drop(url);
}

/* Every read model rebuilt keeps its index names and definitions and its
 * tables' storage options: a later migration may name an index (054 drops
 * rm_segments.contact_facts_title_trgm by name). */
static void test_rebuild_keeps_index_names_and_options(void) {
  char *url = ptu_db();
  log_t *log = ptu_log(test_tmpdir(), false);
  ptu_append(log, 30, 0);
  pg_conn *c = ptu_connect(url);
  exec_ok(c, "ALTER TABLE rm_contacts.contacts SET (fillfactor = 90)");
  exec_ok(c, "DROP SCHEMA IF EXISTS snap CASCADE");
  exec_ok(c, "CREATE SCHEMA snap");
  exec_ok(c, "CREATE TABLE snap.idx AS SELECT schemaname, indexname, "
             "replace(indexdef, schemaname || '.', '') def FROM pg_indexes "
             "WHERE schemaname LIKE 'rm\\_%'");
  ASSERT_LE(40, ptu_query_i64(c, "SELECT count(*) FROM snap.idx"));
  for (size_t i = 0; i < proj_count(); i++) rebuild(log, c, proj_at(i)->name, NULL, NULL, 0);
  exec_ok(c, "CREATE TABLE snap.idx_after AS SELECT schemaname, indexname, "
             "replace(indexdef, schemaname || '.', '') def FROM pg_indexes "
             "WHERE schemaname LIKE 'rm\\_%'");
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM (SELECT * FROM snap.idx_after "
                             "EXCEPT SELECT * FROM snap.idx) d"), 0);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM (SELECT * FROM snap.idx "
                             "EXCEPT SELECT * FROM snap.idx_after) d"), 0);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM pg_class WHERE oid = "
                             "'rm_contacts.contacts'::regclass AND reloptions = '{fillfactor=90}'"),
            1);
  pg_conn_free(c);
  log_close(log);
  drop(url);
}

static int stop_after_first_batch(void *arg, uint64_t position, uint64_t head) {
  (*(int *)arg)++;
  return 1;
}

/* Signals the parent after the first batch, then waits to be killed. */
static int hang_after_first_batch(void *arg, uint64_t position, uint64_t head) {
  ASSERT_EQ(write(*(int *)arg, "x", 1), 1);
  for (;;) pause();
  return 0;
}

static void test_interrupted_rebuild_leaves_live_untouched(void) {
  char *url = ptu_db();
  log_t *log = ptu_log(test_tmpdir(), false);
  uint64_t head = ptu_append(log, 3 * PROJ_BATCH_EVENTS, 0);
  proj_engine *e = ptu_engine(log, NULL, url);
  ptu_wait(e, head);
  proj_engine_stop(e);
  pg_conn *c = ptu_connect(url);
  snapshot(c);

  /* asked to stop (SIGINT in `pivotal rebuild`) */
  int calls = 0;
  rebuild(log, c, "audit_events", stop_after_first_batch, &calls, PV_ESHUTDOWN);
  ASSERT_EQ(calls, 1);
  assert_equals_snapshot(c);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM pg_namespace WHERE nspname = "
                             "'rm_audit_events__rebuild'"), 0);

  /* killed with -9 in the middle */
  log_close(log);
  int fds[2];
  ASSERT_OK(pipe(fds));
  fflush(NULL);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    log_t *child_log = ptu_log(test_tmpdir(), true);
    pg_conn *child_c = ptu_connect(url);
    pv_error err = PV_ERROR_INIT;
    proj_rebuild(child_log, child_c, proj_find("audit_events"), hang_after_first_batch, &fds[1],
                 NULL, &err);
    _exit(1);
  }
  char x;
  ASSERT_EQ(read(fds[0], &x, 1), 1);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  close(fds[0]);
  close(fds[1]);
  log = ptu_log(test_tmpdir(), false);
  assert_equals_snapshot(c);
  ASSERT_EQ(ptu_checkpoint(c, "audit_events"), head);
  /* the next rebuild drops the leftover shadow and succeeds */
  rebuild(log, c, "audit_events", NULL, NULL, 0);
  assert_equals_snapshot(c);
  /* the killed child's session may still be closing; wait for it */
  for (int i = 0; i < 200 && ptu_query_i64(c, "SELECT count(*) FROM pg_stat_activity WHERE "
                                              "datname = current_database()") > 1; i++)
    usleep(10000);
  pg_conn_free(c);
  log_close(log);
  drop(url);
}

/* ---- the commands --------------------------------------------------------------- */

/* Runs `pivotal ARGS...` and returns its exit status; its stdout in out. */
static int run_pivotal(pv_buf *out, const char *args, const char *url) {
  const char *bin = getenv("PIVOTAL_BIN");
  ASSERT(bin != NULL);
  pv_buf cmd = PV_BUF_INIT;
  /* the conninfo's quotes are single; wrap it in double quotes */
  pv_buf_addf(&cmd, "%s %s --data-dir %s --database-url \"%s\" 2>&1", bin, args, test_tmpdir(),
              url);
  FILE *p = popen(cmd.data, "r");
  ASSERT(p != NULL);
  char chunk[512];
  size_t n;
  pv_buf_reset(out);
  while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) pv_buf_add(out, chunk, n);
  int status = pclose(p);
  pv_buf_release(&cmd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_status_and_rebuild_commands(void) {
  char *url = ptu_db();
  char log_dir[512];
  snprintf(log_dir, sizeof log_dir, "%s/log", test_tmpdir());
  log_t *log = ptu_log(log_dir, false);
  uint64_t head = ptu_append(log, 500, 0);
  proj_engine *e = ptu_engine(log, NULL, url);
  const char *const one[] = {"event_counts"};
  ASSERT_OK(proj_wait_position_sync(e, one, 1, head, 60000));
  proj_engine_stop(e);

  pv_buf out = PV_BUF_INIT;
  ASSERT_EQ(run_pivotal(&out, "status", url), 0);
  ASSERT(strstr(out.data, "event_counts") != NULL);
  ASSERT(strstr(out.data, "caught up") != NULL);
  ASSERT(strstr(out.data, "audit_events") != NULL);

  /* the log is open read-write here, as a running server holds it */
  ASSERT_EQ(run_pivotal(&out, "rebuild --all", url), 0);
  ASSERT(strstr(out.data, "rebuilt event_counts: 500 events") != NULL);
  ASSERT(strstr(out.data, "rebuilt audit_events: 500 events") != NULL);
  ASSERT_EQ(run_pivotal(&out, "rebuild no_such", url), 2);
  ASSERT(strstr(out.data, "no projection named \"no_such\"") != NULL);
  ASSERT_EQ(run_pivotal(&out, "rebuild", url), 2);

  pg_conn *c = ptu_connect(url);
  ptu_assert_counts_exact(c, log);
  ASSERT_EQ(ptu_checkpoint(c, "audit_events"), head);
  pg_conn_free(c);
  pv_buf_release(&out);
  log_close(log);
  drop(url);
}

PG_TEST_MAIN(TEST(test_catches_up_from_the_log_without_a_writer), TEST(test_wakes_on_each_commit),
             TEST(test_wait_for_position_answers_or_times_out),
             TEST(test_two_engines_never_apply_a_batch_twice),
             TEST(test_a_gap_stops_the_projection), TEST(test_lag_in_events_and_seconds),
             TEST(test_a_fold_waits_for_what_it_reads_in_another_lane),
             TEST(test_rebuild_equals_the_live_model),
             TEST(test_rebuild_keeps_index_names_and_options),
             TEST(test_interrupted_rebuild_leaves_live_untouched),
             TEST(test_status_and_rebuild_commands))
