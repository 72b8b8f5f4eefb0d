/*
 * Exactly-once under crashes: the projector (in a child process, tailing
 * the log this process writes) is killed with -9 at random moments at least
 * 30 times, and the shared PostgreSQL is stopped with `pg_ctl stop -m
 * immediate` at least 5 times, while events keep being appended. After the
 * catch-up the non-idempotent event_counts equal a recount of the log
 * exactly, and each checkpoint is the head.
 *
 * Stops the shared test server: meson runs this alone (is_parallel: false).
 */
#include "tests/proj/proj_testutil.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILLS 36
#define PG_STOP_EVERY 6 /* 6 stops in 36 rounds */

static void child_projector(const char *dir, const char *url) {
  log_t *log = ptu_log(dir, true);
  ptu_engine(log, NULL, url);
  for (;;) pause();
}

static void test_exactly_once_under_kills_and_postgres_crashes(void) {
  char *url = ptu_db();
  const char *dir = test_tmpdir();
  unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
  printf("# seed %u\n", seed);
  srand(seed);
  log_t *log = ptu_log(dir, false);
  ptu_append(log, 100, 0);
  int kills = 0, pg_stops = 0, moved = 0, behind = 0;
  int64_t last_checkpoint = 0;
  for (int round = 0; round < KILLS; round++) {
    /* LMDB: an environment must not cross fork(); the child opens its own */
    log_close(log);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) child_projector(dir, url);
    log = ptu_log(dir, false);
    for (int k = rand() % 4; k >= 0; k--) {
      ptu_append(log, 50 + (uint64_t)(rand() % 600), 0);
      usleep((useconds_t)(rand() % 20000));
    }
    if (round % PG_STOP_EVERY == PG_STOP_EVERY / 2) {
      pg_testdb_server_stop_immediate();
      pg_stops++;
      ptu_append(log, 300, 0); /* commands go on while the database is down */
      usleep((useconds_t)(rand() % 100000));
      pg_testdb_server_start();
      usleep((useconds_t)(rand() % 60000));
    }
    kill(pid, SIGKILL);
    ASSERT_EQ(waitpid(pid, NULL, 0), pid);
    kills++;
    /* How the kills landed (printed, not asserted: it depends on timing). */
    pg_conn *watch = ptu_connect(url);
    int64_t checkpoint = ptu_checkpoint(watch, "event_counts");
    pg_conn_free(watch);
    moved += checkpoint != last_checkpoint;
    behind += (uint64_t)checkpoint < log_head(log);
    last_checkpoint = checkpoint;
  }
  printf("# %d kills (%d while behind the head), %d database stops; the checkpoint moved in "
         "%d rounds\n", kills, behind, pg_stops, moved);
  ASSERT(kills >= 30);
  ASSERT(pg_stops >= 5);

  uint64_t head = log_head(log);
  proj_engine *e = ptu_engine(log, NULL, url);
  ptu_wait(e, head);
  proj_engine_stop(e);
  pg_conn *c = ptu_connect(url);
  ptu_assert_counts_exact(c, log);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_audit_events.events"), head);
  ASSERT_EQ(ptu_query_i64(c, "SELECT max(position) FROM rm_audit_events.events"), head);
  ASSERT_EQ(ptu_checkpoint(c, "audit_events"), head);
  pg_conn_free(c);
  log_close(log);
  pg_testdb_drop(url);
  free(url);
}

static int decide_note(writer_ctx *ctx, void *arg, pv_error *err) {
  pv_buf payload = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "subject");
  mp_pack_cstr(&pk, "contact-1");
  mp_pack_cstr(&pk, "text");
  mp_pack_cstr(&pk, "while the database is down");
  int rc = writer_emit(ctx, "contact-1", LOG_EXPECT_ANY, "note.added", 1, payload.data,
                       payload.len, err);
  pv_buf_release(&payload);
  return rc;
}

/* The writer never waits for projections: commands are accepted while
 * PostgreSQL is down, and the engine catches up once it returns. */
static void test_commands_accepted_while_postgres_is_down(void) {
  char *url = ptu_db();
  log_t *log = ptu_log(test_tmpdir(), false);
  writer_t *w;
  ASSERT_OK(writer_start(&w, log, NULL, NULL));
  proj_engine *e = ptu_engine(log, w, url);
  writer_cmd cmd = {.tenant = "acme", .actor = "user:1", .decide = decide_note};
  for (int i = 0; i < 10; i++) ASSERT_OK(writer_run(w, &cmd));
  ptu_wait(e, log_head(log));

  pg_testdb_server_stop_immediate();
  for (int i = 0; i < 100; i++) ASSERT_OK(writer_run(w, &cmd));
  proj_lag lag[2];
  proj_engine_lag(e, lag, 2);
  ASSERT_EQ(lag[0].lag_events, 100);
  ASSERT_EQ(lag[1].lag_events, 100);
  pg_testdb_server_start();

  ptu_wait(e, log_head(log));
  proj_engine_stop(e);
  writer_stop(w);
  pg_conn *c = ptu_connect(url);
  ptu_assert_counts_exact(c, log);
  pg_conn_free(c);
  log_close(log);
  pg_testdb_drop(url);
  free(url);
}

PG_TEST_MAIN(TEST(test_exactly_once_under_kills_and_postgres_crashes),
             TEST(test_commands_accepted_while_postgres_is_down))
