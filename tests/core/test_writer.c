/* Tests of core/writer: group commit, ordering inside a batch, per-command
 * failures, idempotency, map growth, many concurrent submitters. */
#include "core/writer.h"
#include "tests/core/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct note_cmd {
  const char *stream;
  int64_t expected;
  const char *text;
  const char *claim_email; /* when set: fail with PV_EEXISTS if taken, else claim */
  bool fail_after_emit;
} note_cmd;

static int decide_note(writer_ctx *ctx, void *arg, pv_error *err) {
  note_cmd *n = arg;
  pv_buf payload = PV_BUF_INIT;
  int rc = 0;
  if (n->claim_email) {
    char owner[64];
    if (writer_unique_get(ctx, "email", n->claim_email, owner, sizeof owner) == 0) {
      rc = pv_error_set(err, PV_EEXISTS, "/email", "email taken by %s", owner);
      goto out;
    }
    writer_unique_put(ctx, "email", n->claim_email, n->stream);
  }
  tu_note(&payload, n->stream, n->text);
  rc = writer_emit(ctx, n->stream, n->expected, "note.added", 1, payload.data, payload.len, err);
  if (rc == 0 && n->fail_after_emit) rc = pv_error_set(err, PV_EINVAL, "/text", "refused");
out:
  pv_buf_release(&payload);
  return rc;
}

static log_t *open_log(const log_options *opt) {
  log_t *log;
  pv_error err = PV_ERROR_INIT;
  if (log_open(&log, test_tmpdir(), opt, &err)) test__fail(__FILE__, __LINE__, "%s", err.message);
  return log;
}

/* A batch budget of a full second: tests that count batches must not see
 * one cut short by a slow (sanitized, loaded) machine. */
static writer_t *start(log_t *log) {
  writer_t *w;
  writer_options opt = {.max_batch_us = 1000000};
  ASSERT_OK(writer_start(&w, log, &opt, NULL));
  return w;
}

static void init_cmd(writer_cmd *cmd, note_cmd *n) {
  memset(cmd, 0, sizeof *cmd);
  cmd->tenant = "acme";
  cmd->actor = "user:1";
  cmd->decide = decide_note;
  cmd->arg = n;
}

static void test_one_command_is_durable_when_answered(void) {
  log_t *log = open_log(NULL);
  writer_t *w = start(log);
  note_cmd n = {"contact-1", LOG_EXPECT_NO_STREAM, "hello", NULL, false};
  writer_cmd cmd;
  init_cmd(&cmd, &n);
  ASSERT_OK(writer_run(w, &cmd));
  ASSERT_U64_EQ(cmd.first_position, 1);
  ASSERT_EQ(cmd.event_count, 1);
  ASSERT_STR_EQ(cmd.stream, "contact-1");
  ASSERT_U64_EQ(cmd.stream_version, 1);
  ASSERT(!cmd.replayed);
  ASSERT_U64_EQ(log_head(log), 1);
  writer_stop(w);
  log_close(log);
  /* durable: visible after reopening */
  log = open_log(NULL);
  ASSERT_U64_EQ(log_head(log), 1);
  log_close(log);
}

/* A gate: the first command's decide blocks until the test has queued the
 * others, so they all land in the next batch together. */
typedef struct gate {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool entered, open;
} gate;
static gate the_gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};

static int decide_wait_gate(writer_ctx *ctx, void *arg, pv_error *err) {
  pthread_mutex_lock(&the_gate.lock);
  the_gate.entered = true;
  pthread_cond_broadcast(&the_gate.cond);
  while (!the_gate.open) pthread_cond_wait(&the_gate.cond, &the_gate.lock);
  pthread_mutex_unlock(&the_gate.lock);
  return 0;
}

/* Submits the gate command and returns once the writer is blocked in it. */
static void submit_gate(writer_t *w, writer_cmd *gate_cmd, void *done_arg);

static void open_gate(void) {
  pthread_mutex_lock(&the_gate.lock);
  the_gate.open = true;
  pthread_cond_broadcast(&the_gate.cond);
  pthread_mutex_unlock(&the_gate.lock);
}

typedef struct completion {
  atomic_int done;
} completion;

static void count_done(writer_cmd *cmd) {
  completion *c = cmd->done_arg;
  atomic_fetch_add(&c->done, 1);
}

static void wait_for(completion *c, int n) {
  while (atomic_load(&c->done) < n) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

static void submit_gate(writer_t *w, writer_cmd *gate_cmd, void *done_arg) {
  memset(gate_cmd, 0, sizeof *gate_cmd);
  gate_cmd->tenant = "acme";
  gate_cmd->actor = "gate";
  gate_cmd->decide = decide_wait_gate;
  gate_cmd->done = count_done;
  gate_cmd->done_arg = done_arg;
  pthread_mutex_lock(&the_gate.lock);
  the_gate.entered = the_gate.open = false;
  pthread_mutex_unlock(&the_gate.lock);
  ASSERT_OK(writer_submit(w, gate_cmd));
  pthread_mutex_lock(&the_gate.lock);
  while (!the_gate.entered) pthread_cond_wait(&the_gate.cond, &the_gate.lock);
  pthread_mutex_unlock(&the_gate.lock);
}

static void submit_batch_behind_gate(writer_t *w, writer_cmd *cmds, note_cmd *notes, size_t n,
                                     completion *c) {
  writer_cmd gate_cmd;
  submit_gate(w, &gate_cmd, c);
  for (size_t i = 0; i < n; i++) {
    init_cmd(&cmds[i], &notes[i]);
    cmds[i].done = count_done;
    cmds[i].done_arg = c;
    ASSERT_OK(writer_submit(w, &cmds[i]));
  }
  open_gate();
  wait_for(c, (int)n + 1);
}

static void test_batch_sees_earlier_commands_and_isolates_failures(void) {
  log_t *log = open_log(NULL);
  writer_t *w = start(log);
  note_cmd notes[5] = {
      {"contact-1", LOG_EXPECT_NO_STREAM, "first", "jane@x.com", false},
      {"contact-2", LOG_EXPECT_NO_STREAM, "dup", "jane@x.com", false}, /* sees #0's claim */
      {"contact-3", LOG_EXPECT_NO_STREAM, "fails", NULL, true},         /* emits, then fails */
      {"contact-1", 1, "second", NULL, false},                           /* sees #0's event */
      {"contact-1", 1, "stale", NULL, false},                            /* conflict */
  };
  writer_cmd cmds[5];
  completion c = {0};
  submit_batch_behind_gate(w, cmds, notes, 5, &c);
  writer_stats st;
  writer_get_stats(w, &st);
  ASSERT_U64_EQ(st.batches, 2); /* the gate's batch, then all five together */
  ASSERT_U64_EQ(st.last_batch_commands, 5);

  ASSERT_OK(cmds[0].status);
  ASSERT_U64_EQ(cmds[0].first_position, 1);
  ASSERT_ERR(cmds[1].status, PV_EEXISTS);
  ASSERT_STR_EQ(cmds[1].error.field, "/email");
  ASSERT_ERR(cmds[2].status, PV_EINVAL);
  ASSERT_EQ(cmds[2].event_count, 0);
  ASSERT_OK(cmds[3].status);
  ASSERT_U64_EQ(cmds[3].first_position, 2);
  ASSERT_U64_EQ(cmds[3].stream_version, 2);
  ASSERT_ERR(cmds[4].status, PV_ECONFLICT);
  ASSERT_U64_EQ(log_head(log), 2);

  /* the failed commands left nothing: contact-2's email claim and
   * contact-3's stream do not exist */
  log_reader *rd;
  uint64_t version;
  ASSERT_OK(log_read_begin(log, &rd));
  ASSERT_OK(log_reader_stream_version(rd, "acme", "contact-3", &version));
  ASSERT_U64_EQ(version, 0);
  log_read_end(rd);
  writer_stop(w);
  log_close(log);
}

static void test_idempotency_key_answers_the_first_result(void) {
  log_t *log = open_log(NULL);
  writer_t *w = start(log);
  note_cmd n = {"contact-1", LOG_EXPECT_ANY, "once", NULL, false};
  writer_cmd a, b;
  init_cmd(&a, &n);
  a.idempotency_key = "req-42";
  ASSERT_OK(writer_run(w, &a));
  init_cmd(&b, &n);
  b.idempotency_key = "req-42";
  ASSERT_OK(writer_run(w, &b));
  ASSERT(b.replayed);
  ASSERT_U64_EQ(b.first_position, a.first_position);
  ASSERT_STR_EQ(b.stream, "contact-1");
  ASSERT_U64_EQ(log_head(log), 1);
  /* another tenant's identical key is another command */
  writer_cmd c;
  init_cmd(&c, &n);
  c.tenant = "beta";
  c.idempotency_key = "req-42";
  ASSERT_OK(writer_run(w, &c));
  ASSERT(!c.replayed);
  ASSERT_U64_EQ(log_head(log), 2);

  /* the same key twice in one batch: the second is answered from the first */
  note_cmd notes[2] = {{"contact-5", LOG_EXPECT_ANY, "x", NULL, false},
                       {"contact-5", LOG_EXPECT_ANY, "x", NULL, false}};
  writer_cmd cmds[2];
  completion done = {0};
  writer_cmd gate_cmd;
  submit_gate(w, &gate_cmd, &done);
  for (int i = 0; i < 2; i++) {
    init_cmd(&cmds[i], &notes[i]);
    cmds[i].idempotency_key = "req-43";
    cmds[i].done = count_done;
    cmds[i].done_arg = &done;
    ASSERT_OK(writer_submit(w, &cmds[i]));
  }
  open_gate();
  wait_for(&done, 3);
  ASSERT(!cmds[0].replayed);
  ASSERT(cmds[1].replayed);
  ASSERT_U64_EQ(cmds[1].first_position, cmds[0].first_position);
  ASSERT_U64_EQ(log_head(log), 3);
  writer_stop(w);
  log_close(log);
}

static void test_bad_commands_are_refused(void) {
  log_t *log = open_log(NULL);
  writer_t *w = start(log);
  writer_cmd cmd;
  note_cmd n = {"s", LOG_EXPECT_ANY, "x", NULL, false};
  init_cmd(&cmd, &n);
  cmd.tenant = NULL;
  ASSERT_ERR(writer_run(w, &cmd), PV_EINVAL);
  init_cmd(&cmd, &n);
  char long_key[EVT_MAX_IDEMPOTENCY + 2];
  memset(long_key, 'k', sizeof long_key - 1);
  long_key[sizeof long_key - 1] = '\0';
  cmd.idempotency_key = long_key;
  ASSERT_ERR(writer_run(w, &cmd), PV_EINVAL);
  writer_stop(w);
  log_close(log);
}

static int decide_unknown_type(writer_ctx *ctx, void *arg, pv_error *err) {
  pv_buf payload = PV_BUF_INIT;
  tu_note(&payload, "s", "x");
  int rc = writer_emit(ctx, "s", LOG_EXPECT_ANY, "no.such.event", 1, payload.data, payload.len, err);
  pv_buf_release(&payload);
  return rc;
}

static void test_events_must_be_in_the_catalogue(void) {
  log_t *log = open_log(NULL);
  writer_t *w = start(log);
  writer_cmd cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.tenant = "acme";
  cmd.actor = "t";
  cmd.decide = decide_unknown_type;
  ASSERT_ERR(writer_run(w, &cmd), PV_EINVAL);
  ASSERT_STR_EQ(cmd.error.field, "type");
  ASSERT_U64_EQ(log_head(log), 0);
  writer_stop(w);
  log_close(log);
}

typedef struct submitter {
  writer_t *w;
  int id;
  int count;
  uint64_t *positions;
} submitter;

static void *submit_many(void *arg) {
  submitter *s = arg;
  char stream[32];
  snprintf(stream, sizeof stream, "contact-%d", s->id);
  for (int i = 0; i < s->count; i++) {
    note_cmd n = {stream, i, "x", NULL, false}; /* exact expected versions */
    writer_cmd cmd;
    init_cmd(&cmd, &n);
    if (writer_run(s->w, &cmd) != 0) return (void *)1;
    s->positions[i] = cmd.first_position;
    if (cmd.stream_version != (uint64_t)i + 1) return (void *)2;
  }
  return NULL;
}

static void test_many_concurrent_submitters(void) {
  enum { THREADS = 16, EACH = 300 };
  log_t *log = open_log(NULL);
  writer_t *w = start(log);
  pthread_t threads[THREADS];
  submitter subs[THREADS];
  uint64_t *positions = calloc(THREADS * EACH, sizeof *positions);
  for (int t = 0; t < THREADS; t++) {
    subs[t] = (submitter){w, t, EACH, positions + t * EACH};
    pthread_create(&threads[t], NULL, submit_many, &subs[t]);
  }
  for (int t = 0; t < THREADS; t++) {
    void *ret;
    pthread_join(threads[t], &ret);
    ASSERT(ret == NULL);
  }
  /* every position 1..N handed out exactly once */
  char *seen = calloc(THREADS * EACH + 1, 1);
  for (int i = 0; i < THREADS * EACH; i++) {
    ASSERT(positions[i] >= 1 && positions[i] <= THREADS * EACH);
    ASSERT(!seen[positions[i]]);
    seen[positions[i]] = 1;
  }
  writer_stats st;
  writer_get_stats(w, &st);
  ASSERT_U64_EQ(st.commands, THREADS * EACH);
  ASSERT(st.batches < st.commands); /* some commits were shared */
  writer_stop(w);
  uint64_t count, bad;
  ASSERT_OK(log_verify(log, &count, NULL, &bad, NULL));
  ASSERT_U64_EQ(count, THREADS * EACH);
  free(seen);
  free(positions);
  log_close(log);
}

static void test_map_growth_redoes_the_batch(void) {
  log_options opt = {.map_size_bytes = 1 << 20, .map_max_bytes = 64 << 20};
  log_t *log = open_log(&opt);
  writer_t *w = start(log);
  static char text[4000];
  memset(text, 'y', sizeof text - 1);
  for (int i = 0; i < 1000; i++) {
    note_cmd n = {"s", i, text, NULL, false};
    writer_cmd cmd;
    init_cmd(&cmd, &n);
    ASSERT_OK(writer_run(w, &cmd));
    ASSERT_U64_EQ(cmd.first_position, (uint64_t)i + 1);
  }
  writer_stats st;
  writer_get_stats(w, &st);
  ASSERT(st.map_grows >= 2);
  writer_stop(w);
  uint64_t count, bad;
  ASSERT_OK(log_verify(log, &count, NULL, &bad, NULL));
  ASSERT_U64_EQ(count, 1000);
  log_close(log);
}

static void test_storage_full_refuses_commands_and_keeps_running(void) {
  log_options opt = {.map_size_bytes = 1 << 20, .map_max_bytes = 2 << 20};
  log_t *log = open_log(&opt);
  writer_t *w = start(log);
  static char text[8000];
  memset(text, 'z', sizeof text - 1);
  int rc = 0, ok = 0;
  for (int i = 0; i < 1000 && rc == 0; i++) {
    note_cmd n = {"s", LOG_EXPECT_ANY, text, NULL, false};
    writer_cmd cmd;
    init_cmd(&cmd, &n);
    rc = writer_run(w, &cmd);
    if (rc == 0) ok++;
    else ASSERT_STR_EQ(cmd.error.message, "storage full");
  }
  ASSERT_ERR(rc, PV_EFULL);
  ASSERT(ok > 50);
  ASSERT_U64_EQ(log_head(log), (uint64_t)ok);
  /* still answering: a small command may still fit, or is refused cleanly */
  note_cmd n = {"s", LOG_EXPECT_ANY, "tiny", NULL, false};
  writer_cmd cmd;
  init_cmd(&cmd, &n);
  rc = writer_run(w, &cmd);
  ASSERT(rc == 0 || rc == PV_EFULL);
  writer_stop(w);
  log_close(log);
}

static void on_commit(uv_async_t *h) { (*(int *)h->data)++; uv_close((uv_handle_t *)h, NULL); }

static void *submit_one(void *arg) {
  writer_t *w = arg;
  note_cmd n = {"s", LOG_EXPECT_ANY, "x", NULL, false};
  writer_cmd cmd;
  init_cmd(&cmd, &n);
  return (void *)(intptr_t)writer_run(w, &cmd);
}

static void test_commit_wakes_subscribed_loops(void) {
  log_t *log = open_log(NULL);
  writer_t *w = start(log);
  uv_loop_t loop;
  uv_async_t async;
  int woken = 0;
  uv_loop_init(&loop);
  uv_async_init(&loop, &async, on_commit);
  async.data = &woken;
  writer_subscribe(w, &async);
  pthread_t t;
  pthread_create(&t, NULL, submit_one, w);
  uv_run(&loop, UV_RUN_DEFAULT); /* returns once the async fired and closed */
  void *ret;
  pthread_join(t, &ret);
  ASSERT(ret == NULL);
  ASSERT_EQ(woken, 1);
  writer_unsubscribe(w, &async);
  ASSERT_OK(uv_loop_close(&loop));
  writer_stop(w);
  log_close(log);
}

static void test_stop_finishes_queued_commands(void) {
  log_t *log = open_log(NULL);
  writer_t *w = start(log);
  enum { N = 200 };
  static writer_cmd cmds[N];
  static note_cmd notes[N];
  completion c = {0};
  for (int i = 0; i < N; i++) {
    notes[i] = (note_cmd){"s", LOG_EXPECT_ANY, "x", NULL, false};
    init_cmd(&cmds[i], &notes[i]);
    cmds[i].done = count_done;
    cmds[i].done_arg = &c;
    ASSERT_OK(writer_submit(w, &cmds[i]));
  }
  writer_stop(w);
  ASSERT_EQ(atomic_load(&c.done), N);
  ASSERT_U64_EQ(log_head(log), N);
  log_close(log);
}

TEST_MAIN(TEST(test_one_command_is_durable_when_answered),
          TEST(test_batch_sees_earlier_commands_and_isolates_failures),
          TEST(test_idempotency_key_answers_the_first_result), TEST(test_bad_commands_are_refused),
          TEST(test_events_must_be_in_the_catalogue), TEST(test_many_concurrent_submitters),
          TEST(test_map_growth_redoes_the_batch),
          TEST(test_storage_full_refuses_commands_and_keeps_running),
          TEST(test_commit_wakes_subscribed_loops), TEST(test_stop_finishes_queued_commands))
