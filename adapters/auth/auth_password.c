/*
 * auth_password — see auth_password.h.
 *
 * The pool: `capacity` bounds jobs held (waiting + running + done and not
 * yet delivered), counted on the loop thread only: it rises on submit and
 * falls when a callback is delivered, so the bound needs no lock and a
 * burst submitted in one loop turn is cut at exactly `capacity`. Workers
 * take jobs from `waiting` and put them on `done` under one mutex, then
 * uv_async_send. Sends coalesce (five may give one callback), so the loop
 * drains the whole `done` list on every wake-up and never counts them.
 */
#include "adapters/auth/auth_password.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/common/pv_buf.h"

/* A hash of 32 random bytes, thrown away, at AUTH_PWCOST_DEFAULT. Nothing
 * verifies against it (the dummy always fails); it exists so an unknown
 * user costs one real Argon2id verification. Made with
 * crypto_pwhash_str_alg(t = 2, m = 19 MiB, ARGON2ID13). */
static const char dummy_hash_default[AUTH_PWHASH_MAX] =
    "$argon2id$v=19$m=19456,t=2,p=1$METIMdpSnCfSKaNThAUxyg$"
    "+h57m279sU+H8+HWqkM4MbAH0i3VkRLBi4pVQTwFw8c";

/* The same message for every failed verification, so answers do not say
 * which part was wrong. */
#define BAD_LOGIN "invalid email or password"

static bool cost_is_default(const auth_pwcost *c) {
  return c->opslimit == AUTH_PWCOST_DEFAULT.opslimit &&
         c->memlimit == AUTH_PWCOST_DEFAULT.memlimit;
}

int auth_pwcost_check(const auth_pwcost *cost, pv_error *err) {
  if (cost->opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
      cost->opslimit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
      cost->memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
      cost->memlimit > crypto_pwhash_argon2id_MEMLIMIT_MAX)
    return pv_error_set(err, PV_EINVAL, NULL,
                        "password cost outside Argon2id's limits");
  if (!cost->below_minimum_for_tests &&
      (cost->opslimit < AUTH_PWCOST_DEFAULT.opslimit ||
       cost->memlimit < AUTH_PWCOST_DEFAULT.memlimit)) {
    pv_error_set(err, PV_EINVAL, NULL, "password cost below the minimum");
    pv_error_detail(err, "OWASP's minimum for Argon2id is t = 2 and m = 19 MiB.");
    return PV_EINVAL;
  }
  return 0;
}

int auth_password_hash(const auth_pwcost *cost, const char *password,
                       size_t len, char out[AUTH_PWHASH_MAX], pv_error *err) {
  out[0] = '\0';
  int rc = auth_pwcost_check(cost, err);
  if (rc) return rc;
  if (len > AUTH_PASSWORD_MAX_BYTES)
    return pv_error_set(err, PV_EINVAL, "/password",
                        "password longer than %d bytes",
                        AUTH_PASSWORD_MAX_BYTES);
  if (sodium_init() < 0)
    return pv_error_set(err, PV_EINTERNAL, NULL, "could not start libsodium");
  if (crypto_pwhash_str_alg(out, password, len, cost->opslimit, cost->memlimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    out[0] = '\0';
    return pv_error_set(err, PV_ENOMEM, NULL,
                        "could not allocate memory to hash a password");
  }
  return 0;
}

/* One Argon2id verification whose answer is ignored. */
static void verify_and_discard(const char *hash, const char *password,
                               size_t len) {
  if (len > AUTH_PASSWORD_MAX_BYTES) len = AUTH_PASSWORD_MAX_BYTES;
  int ignored = crypto_pwhash_str_verify(hash, password, len);
  (void)ignored;
}

int auth_password_verify(const char *hash, const char *password, size_t len,
                         pv_error *err) {
  if (sodium_init() < 0)
    return pv_error_set(err, PV_EINTERNAL, NULL, "could not start libsodium");
  if (len > AUTH_PASSWORD_MAX_BYTES || !hash ||
      strnlen(hash, AUTH_PWHASH_MAX) >= AUTH_PWHASH_MAX) {
    verify_and_discard(dummy_hash_default, password, len);
    return pv_error_set(err, PV_EUNAUTHORIZED, NULL, BAD_LOGIN);
  }
  if (crypto_pwhash_str_verify(hash, password, len) != 0)
    return pv_error_set(err, PV_EUNAUTHORIZED, NULL, BAD_LOGIN);
  return 0;
}

int auth_password_verify_dummy(const char *password, size_t len, pv_error *err) {
  if (sodium_init() >= 0) verify_and_discard(dummy_hash_default, password, len);
  return pv_error_set(err, PV_EUNAUTHORIZED, NULL, BAD_LOGIN);
}

bool auth_password_needs_rehash(const char *hash, const auth_pwcost *cost) {
  if (!hash || strnlen(hash, AUTH_PWHASH_MAX) >= AUTH_PWHASH_MAX) return true;
  /* The Argon2id form of crypto_pwhash_str_needs_rehash: the generic one
   * judges an Argon2i string by its own parameters and would keep it. It
   * answers -1 for another algorithm or a malformed string, 1 for other
   * parameters, 0 for a match. */
  return crypto_pwhash_argon2id_str_needs_rehash(hash, cost->opslimit,
                                                 cost->memlimit) != 0;
}

/* ---- the worker pool ---------------------------------------------------- */

typedef enum pwjob_kind { PWJOB_HASH, PWJOB_VERIFY } pwjob_kind;

typedef struct pwjob {
  struct pwjob *next;
  pwjob_kind kind;
  bool unknown_user;            /* verify against the dummy */
  char *password;               /* copy; wiped before free */
  size_t len;
  char stored[AUTH_PWHASH_MAX]; /* verify: the stored hash */
  auth_pwpool_cb cb;
  void *arg;
  auth_pwresult result;
} pwjob;

struct auth_pwpool {
  uv_loop_t *loop;
  uv_async_t wake;
  auth_pwcost cost;
  char dummy_hash[AUTH_PWHASH_MAX];
  unsigned capacity;
  unsigned held;   /* loop thread only */
  bool closed;     /* loop thread only */
  uv_thread_t *threads;
  unsigned nthreads;

  uv_mutex_t mu;   /* guards what follows */
  uv_cond_t work;  /* signalled when a job is queued or stopping is set */
  pwjob *waiting_head, *waiting_tail;
  pwjob *done_head, *done_tail;
  bool stopping;
};

static void job_free(pwjob *job) {
  sodium_memzero(job->password, job->len);
  free(job->password);
  sodium_memzero(job, sizeof *job);
  free(job);
}

static void job_run(const auth_pwpool *pool, pwjob *job) {
  auth_pwresult *res = &job->result;
  res->hash[0] = '\0';
  if (job->kind == PWJOB_HASH) {
    res->rc = auth_password_hash(&pool->cost, job->password, job->len,
                                 res->hash, NULL);
    return;
  }
  if (job->unknown_user) {
    verify_and_discard(pool->dummy_hash, job->password, job->len);
    res->rc = PV_EUNAUTHORIZED;
    return;
  }
  res->rc = auth_password_verify(job->stored, job->password, job->len, NULL);
  /* A failed rehash leaves res->hash empty: the login still succeeds and
   * the next one tries again. */
  if (res->rc == 0 && auth_password_needs_rehash(job->stored, &pool->cost) &&
      auth_password_hash(&pool->cost, job->password, job->len, res->hash,
                         NULL) != 0)
    res->hash[0] = '\0';
}

static void push_done_locked(auth_pwpool *pool, pwjob *job) {
  job->next = NULL;
  if (pool->done_tail) pool->done_tail->next = job;
  else pool->done_head = job;
  pool->done_tail = job;
}

static void worker_main(void *arg) {
  auth_pwpool *pool = arg;
  uv_mutex_lock(&pool->mu);
  for (;;) {
    while (!pool->waiting_head && !pool->stopping)
      uv_cond_wait(&pool->work, &pool->mu);
    if (pool->stopping) break;
    pwjob *job = pool->waiting_head;
    pool->waiting_head = job->next;
    if (!pool->waiting_head) pool->waiting_tail = NULL;
    uv_mutex_unlock(&pool->mu);

    job_run(pool, job);
    sodium_memzero(job->password, job->len);

    uv_mutex_lock(&pool->mu);
    push_done_locked(pool, job);
    uv_async_send(&pool->wake);
  }
  uv_mutex_unlock(&pool->mu);
}

/* Delivers every finished job. One at a time under the lock, so a callback
 * may submit or close (a nested drain just finds the list shorter). */
static void drain(auth_pwpool *pool) {
  for (;;) {
    uv_mutex_lock(&pool->mu);
    pwjob *job = pool->done_head;
    if (job) {
      pool->done_head = job->next;
      if (!pool->done_head) pool->done_tail = NULL;
    }
    uv_mutex_unlock(&pool->mu);
    if (!job) return;
    pool->held--;
    job->cb(job->arg, &job->result);
    job_free(job);
  }
}

static void on_wake(uv_async_t *handle) { drain(handle->data); }

static void pool_free(auth_pwpool *pool) {
  uv_cond_destroy(&pool->work);
  uv_mutex_destroy(&pool->mu);
  free(pool->threads);
  free(pool);
}

static void on_closed(uv_handle_t *handle) { pool_free(handle->data); }

/* Tells the first n workers to stop and waits for them. */
static void stop_workers(auth_pwpool *pool, unsigned n) {
  uv_mutex_lock(&pool->mu);
  pool->stopping = true;
  uv_cond_broadcast(&pool->work);
  uv_mutex_unlock(&pool->mu);
  for (unsigned i = 0; i < n; i++) uv_thread_join(&pool->threads[i]);
}

int auth_pwpool_new(uv_loop_t *loop, const auth_pwpool_config *config,
                    auth_pwpool **out, pv_error *err) {
  *out = NULL;
  unsigned nthreads = config->threads ? config->threads
                                      : AUTH_PWPOOL_THREADS_DEFAULT;
  unsigned capacity = config->capacity ? config->capacity
                                       : AUTH_PWPOOL_CAPACITY_DEFAULT;
  if (nthreads > AUTH_PWPOOL_THREADS_MAX || capacity > AUTH_PWPOOL_CAPACITY_MAX)
    return pv_error_set(err, PV_EINVAL, NULL,
                        "password pool size out of range");
  int rc = auth_pwcost_check(&config->cost, err);
  if (rc) return rc;
  if (sodium_init() < 0)
    return pv_error_set(err, PV_EINTERNAL, NULL, "could not start libsodium");

  auth_pwpool *pool = pv_xcalloc(1, sizeof *pool);
  pool->loop = loop;
  pool->cost = config->cost;
  pool->capacity = capacity;
  pool->nthreads = nthreads;
  pool->threads = pv_xcalloc(nthreads, sizeof *pool->threads);
  if (cost_is_default(&pool->cost)) {
    memcpy(pool->dummy_hash, dummy_hash_default, AUTH_PWHASH_MAX);
  } else {
    /* The fixed dummy is at the default cost; at another cost an unknown
     * user would answer faster or slower than a known one. */
    uint8_t secret[32];
    randombytes_buf(secret, sizeof secret);
    rc = auth_password_hash(&pool->cost, (const char *)secret, sizeof secret,
                            pool->dummy_hash, err);
    if (rc) {
      free(pool->threads);
      free(pool);
      return rc;
    }
  }
  if (uv_mutex_init(&pool->mu) != 0) goto fail_mutex;
  if (uv_cond_init(&pool->work) != 0) goto fail_cond;
  if (uv_async_init(loop, &pool->wake, on_wake) != 0) goto fail_async;
  pool->wake.data = pool;
  for (unsigned i = 0; i < nthreads; i++) {
    if (uv_thread_create(&pool->threads[i], worker_main, pool) != 0) {
      stop_workers(pool, i);
      uv_close((uv_handle_t *)&pool->wake, on_closed);
      return pv_error_set(err, PV_ENOMEM, NULL,
                          "could not start password worker threads");
    }
  }
  *out = pool;
  return 0;

fail_async:
  uv_cond_destroy(&pool->work);
fail_cond:
  uv_mutex_destroy(&pool->mu);
fail_mutex:
  free(pool->threads);
  free(pool);
  return pv_error_set(err, PV_ENOMEM, NULL, "could not start the password pool");
}

static int submit(auth_pwpool *pool, pwjob_kind kind, const char *hash,
                  const char *password, size_t len, auth_pwpool_cb cb,
                  void *arg) {
  if (pool->closed) return PV_ESHUTDOWN;
  if (pool->held >= pool->capacity) return PV_EBUSY;
  pwjob *job = pv_xcalloc(1, sizeof *job);
  job->kind = kind;
  /* Only verify jobs see an over-long password (hash jobs refuse it): it
   * gets a dummy verification, so only the first bytes are needed. */
  bool too_long = len > AUTH_PASSWORD_MAX_BYTES;
  job->len = too_long ? AUTH_PASSWORD_MAX_BYTES : len;
  job->password = pv_xmalloc(job->len ? job->len : 1);
  if (job->len) memcpy(job->password, password, job->len);
  if (kind == PWJOB_VERIFY) {
    job->unknown_user = too_long || !hash ||
                        strnlen(hash, AUTH_PWHASH_MAX) >= AUTH_PWHASH_MAX;
    if (!job->unknown_user) strcpy(job->stored, hash);
  }
  job->cb = cb;
  job->arg = arg;
  pool->held++;

  uv_mutex_lock(&pool->mu);
  if (pool->waiting_tail) pool->waiting_tail->next = job;
  else pool->waiting_head = job;
  pool->waiting_tail = job;
  uv_cond_signal(&pool->work);
  uv_mutex_unlock(&pool->mu);
  return 0;
}

int auth_pwpool_hash(auth_pwpool *pool, const char *password, size_t len,
                     auth_pwpool_cb cb, void *arg) {
  if (len > AUTH_PASSWORD_MAX_BYTES) return PV_EINVAL;
  return submit(pool, PWJOB_HASH, NULL, password, len, cb, arg);
}

int auth_pwpool_verify(auth_pwpool *pool, const char *hash,
                       const char *password, size_t len, auth_pwpool_cb cb,
                       void *arg) {
  return submit(pool, PWJOB_VERIFY, hash, password, len, cb, arg);
}

unsigned auth_pwpool_pending(const auth_pwpool *pool) { return pool->held; }

void auth_pwpool_close(auth_pwpool *pool) {
  if (pool->closed) return;
  pool->closed = true;

  uv_mutex_lock(&pool->mu);
  pool->stopping = true;
  while (pool->waiting_head) {
    pwjob *job = pool->waiting_head;
    pool->waiting_head = job->next;
    job->result.rc = PV_ESHUTDOWN;
    push_done_locked(pool, job);
  }
  pool->waiting_tail = NULL;
  uv_cond_broadcast(&pool->work);
  uv_mutex_unlock(&pool->mu);

  for (unsigned i = 0; i < pool->nthreads; i++)
    uv_thread_join(&pool->threads[i]);
  drain(pool);
  uv_close((uv_handle_t *)&pool->wake, on_closed);
}
