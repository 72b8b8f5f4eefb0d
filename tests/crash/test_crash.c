/*
 * Crash test of the log and the writer: a child process appends through the
 * writer from several threads and reports every acknowledged position to
 * the parent over a pipe; the parent kill -9s it at random moments (60
 * times), reopens the log and checks that
 *   - every acknowledged event is present, with the key it was sent with;
 *   - positions are contiguous from 1 and the hash chain verifies;
 *   - no idempotency key appears twice, although every child first retries
 *     keys of the run before it (as a client whose request was cut off).
 */
#include "core/writer.h"
#include "tests/core/testutil.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { RUNS = 60, THREADS = 4, PER_THREAD = 100000, RETRIED = 20 };

typedef struct child_thread {
  writer_t *w;
  int run, thread, fd;
} child_thread;

static int decide_note(writer_ctx *ctx, void *arg, pv_error *err) {
  const char *key = arg;
  pv_buf payload = PV_BUF_INIT;
  tu_note(&payload, "crash-stream", key);
  int rc = writer_emit(ctx, "crash-stream", LOG_EXPECT_ANY, "note.added", 1, payload.data,
                       payload.len, err);
  pv_buf_release(&payload);
  return rc;
}

static int submit(writer_t *w, const char *key, int fd) {
  writer_cmd cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.tenant = "acme";
  cmd.actor = "crash";
  cmd.idempotency_key = key;
  cmd.decide = decide_note;
  cmd.arg = (void *)key;
  int rc = writer_run(w, &cmd);
  if (rc) return rc;
  char line[128];
  int n = snprintf(line, sizeof line, "%llu %s\n", (unsigned long long)cmd.first_position, key);
  return write(fd, line, (size_t)n) == n ? 0 : -1; /* < PIPE_BUF: one atomic write */
}

static void *child_thread_main(void *arg) {
  child_thread *t = arg;
  char key[64];
  if (t->run > 0)
    for (int i = 0; i < RETRIED; i++) {
      snprintf(key, sizeof key, "r%d-t%d-%d", t->run - 1, t->thread, i);
      if (submit(t->w, key, t->fd)) return NULL;
    }
  for (int i = 0; i < PER_THREAD; i++) {
    snprintf(key, sizeof key, "r%d-t%d-%d", t->run, t->thread, i);
    if (submit(t->w, key, t->fd)) return NULL;
  }
  return NULL;
}

static void run_child(const char *dir, int run, int fd) {
  log_t *log;
  writer_t *w;
  if (log_open(&log, dir, NULL, NULL) || writer_start(&w, log, NULL, NULL)) _exit(3);
  pthread_t threads[THREADS];
  child_thread ts[THREADS];
  for (int i = 0; i < THREADS; i++) {
    ts[i] = (child_thread){w, run, i, fd};
    pthread_create(&threads[i], NULL, child_thread_main, &ts[i]);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
  _exit(0);
}

typedef struct acked {
  uint64_t position;
  char key[40];
} acked;

typedef struct acked_list {
  acked *items;
  size_t n, cap;
} acked_list;

static void read_acks(int fd, acked_list *out) {
  static char pending[256];
  static size_t pending_len;
  char buf[8192];
  ssize_t got;
  while ((got = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < got; i++) {
      if (buf[i] != '\n') {
        if (pending_len < sizeof pending - 1) pending[pending_len++] = buf[i];
        continue;
      }
      pending[pending_len] = '\0';
      pending_len = 0;
      if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 4096;
        out->items = realloc(out->items, out->cap * sizeof *out->items);
      }
      acked *a = &out->items[out->n++];
      unsigned long long pos;
      if (sscanf(pending, "%llu %39s", &pos, a->key) != 2) test__fail(__FILE__, __LINE__, "bad ack line");
      a->position = pos;
    }
  }
  pending_len = 0; /* a line cut by the kill was never acknowledged whole */
}

typedef struct key_check {
  char **keys;
  size_t n, cap;
  const acked_list *acks;
  char (*key_at)[40]; /* key of each position */
} key_check;

static int collect_key(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  key_check *kc = arg;
  if (e->idempotency.len == 0) return 0;
  if (kc->n == kc->cap) {
    kc->cap = kc->cap ? kc->cap * 2 : 4096;
    kc->keys = realloc(kc->keys, kc->cap * sizeof *kc->keys);
    kc->key_at = realloc(kc->key_at, (kc->cap + 1) * sizeof *kc->key_at);
  }
  kc->keys[kc->n] = strndup(e->idempotency.ptr, e->idempotency.len);
  snprintf(kc->key_at[kc->n], sizeof kc->key_at[0], "%.*s", (int)e->idempotency.len,
           e->idempotency.ptr);
  kc->n++;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_log(const char *dir, const acked_list *acks) {
  log_t *log;
  pv_error err = PV_ERROR_INIT;
  if (log_open(&log, dir, NULL, &err)) test__fail(__FILE__, __LINE__, "reopen: %s", err.message);
  uint64_t count, bad = 0;
  if (log_verify(log, &count, NULL, &bad, &err))
    test__fail(__FILE__, __LINE__, "chain broken at %llu: %s", (unsigned long long)bad, err.message);
  ASSERT_U64_EQ(count, log_head(log));

  key_check kc = {0};
  uint64_t next = 1;
  for (;;) {
    uint64_t from = next;
    ASSERT_OK(log_scan(log, from, 50000, SIZE_MAX, collect_key, &kc, &next));
    if (next == from) break;
  }
  ASSERT_U64_EQ(kc.n, count); /* every event here carries its command's key */
  for (size_t i = 0; i < acks->n; i++) {
    const acked *a = &acks->items[i];
    ASSERT(a->position >= 1 && a->position <= count);
    if (strcmp(kc.key_at[a->position - 1], a->key) != 0)
      test__fail(__FILE__, __LINE__, "acknowledged position %llu holds key %s, not %s",
                 (unsigned long long)a->position, kc.key_at[a->position - 1], a->key);
  }
  /* a kill before the first commit leaves no event, and no array: qsort of
   * NULL is undefined even for zero elements (UBSan found it) */
  if (kc.n) qsort(kc.keys, kc.n, sizeof *kc.keys, cmp_str);
  for (size_t i = 1; i < kc.n; i++)
    if (strcmp(kc.keys[i - 1], kc.keys[i]) == 0)
      test__fail(__FILE__, __LINE__, "idempotency key %s appears twice", kc.keys[i]);
  for (size_t i = 0; i < kc.n; i++) free(kc.keys[i]);
  free(kc.keys);
  free(kc.key_at);
  log_close(log);
}

static void test_kill_9_loses_no_acknowledged_event(void) {
  const char *dir = test_tmpdir();
  acked_list acks = {0};
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  for (int run = 0; run < RUNS; run++) {
    int fds[2];
    ASSERT_OK(pipe(fds));
    pid_t child = fork();
    if (child == 0) {
      close(fds[0]);
      run_child(dir, run, fds[1]);
    }
    close(fds[1]);
    /* kill somewhere between 5 and 80 ms in: during start-up, mid-batch,
     * mid-commit */
    struct timespec delay = {0, (5 + rand() % 75) * 1000000L};
    nanosleep(&delay, NULL);
    kill(child, SIGKILL);
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    read_acks(fds[0], &acks);
    close(fds[0]);
    ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    check_log(dir, &acks);
  }
  ASSERT(acks.n > 0);
  printf("# %d kills, %zu acknowledged commands checked\n", RUNS, acks.n);
  free(acks.items);
}

TEST_MAIN(TEST(test_kill_9_loses_no_acknowledged_event))
