/*
 * auth_password — password hashes: Argon2id through libsodium, verified
 * either synchronously (the CLI) or on a bounded worker pool of its own
 * whose completions come back to a libuv loop (the HTTP server).
 *
 * Cost: OWASP's Password Storage Cheat Sheet (Argon2id section) sets the
 * minimum at m = 19 MiB (19456 KiB), t = 2, p = 1; libsodium's Argon2id
 * always uses one lane, so p = 1 is implied. AUTH_PWCOST_DEFAULT is that
 * minimum: measured at ~10 ms per hash or verify on one core of the
 * development machine (2-core VM, Nov 2026), so two workers answer about
 * 200 logins a second. A cost below the minimum is refused unless the
 * caller sets below_minimum_for_tests, which only tests do.
 *
 * Stored hashes are libsodium's encoded strings ("$argon2id$v=19$m=...")
 * of at most AUTH_PWHASH_MAX bytes with the NUL; they carry their own
 * salt and cost, so a cost change needs no migration: a successful login
 * at an old cost is rehashed (auth_password_needs_rehash, and the pool's
 * verify does it in the same job).
 *
 * Unknown users: verifying against a fixed hash at the same cost
 * (auth_password_verify_dummy, or a NULL hash on the pool) costs the same
 * time as a real verification and always fails, so timing does not say
 * whether an email is registered.
 *
 * Thread: the synchronous functions run on any thread. A pool's submit
 * and close functions run on its loop's thread only; its callbacks run
 * there too.
 */
#ifndef AUTH_PASSWORD_H
#define AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "core/common/pv_error.h"

/* libsodium's crypto_pwhash_STRBYTES: room for an encoded hash and NUL. */
#define AUTH_PWHASH_MAX 128
/* Longest password accepted. Argon2 pre-hashes the password, so length
 * costs little; the bound only stops absurd inputs. Arbitrary, and above
 * NIST SP 800-63B's "at least 64 characters" for what must be allowed. */
#define AUTH_PASSWORD_MAX_BYTES 1024

typedef struct auth_pwcost {
  unsigned long long opslimit; /* Argon2 t (passes) */
  size_t memlimit;             /* Argon2 m in bytes */
  bool below_minimum_for_tests;
} auth_pwcost;

/* OWASP's minimum (see above): t = 2, m = 19 MiB. */
#define AUTH_PWCOST_DEFAULT ((auth_pwcost){2, 19u << 20, false})

/*
 * Checks a cost: at or above the OWASP minimum, or flagged for tests and
 * within libsodium's own limits.
 * Returns: 0 or PV_EINVAL. err may be NULL.
 */
int auth_pwcost_check(const auth_pwcost *cost, pv_error *err);

/*
 * Hashes password (len bytes) at cost into out.
 * Returns: 0; PV_EINVAL (field "/password") when len exceeds
 * AUTH_PASSWORD_MAX_BYTES, or a bad cost; PV_ENOMEM when Argon2 could not
 * get its memory. Thread: any; blocks ~10 ms at the default cost.
 */
int auth_password_hash(const auth_pwcost *cost, const char *password,
                       size_t len, char out[AUTH_PWHASH_MAX], pv_error *err);

/*
 * Verifies password against a stored hash (NUL-terminated).
 * Returns: 0 when it matches; PV_EUNAUTHORIZED when it does not, the hash
 * is malformed or the password is too long (message "invalid email or
 * password", the same for every case). Thread: any; blocks.
 */
int auth_password_verify(const char *hash, const char *password, size_t len,
                         pv_error *err);

/* Runs a verification against a fixed hash at AUTH_PWCOST_DEFAULT and
 * returns PV_EUNAUTHORIZED, like auth_password_verify for a wrong password
 * (whatever password is given). Thread: any; blocks. */
int auth_password_verify_dummy(const char *password, size_t len, pv_error *err);

/* True when hash was made with another algorithm or cost than cost (then
 * rehash the password after it verified), or cannot be parsed. */
bool auth_password_needs_rehash(const char *hash, const auth_pwcost *cost);

/* ---- the worker pool ---------------------------------------------------- */

typedef struct auth_pwpool auth_pwpool;

typedef struct auth_pwpool_config {
  /* Worker threads; 0 means AUTH_PWPOOL_THREADS_DEFAULT. */
  unsigned threads;
  /* Jobs the pool holds at once (waiting, running, or done and not yet
   * delivered); one more is refused with PV_EBUSY. 0 means
   * AUTH_PWPOOL_CAPACITY_DEFAULT. */
  unsigned capacity;
  auth_pwcost cost;
} auth_pwpool_config;

/* Two workers: the default; on the 2-core target machine more
 * would take cores from the HTTP loop and the writer. */
#define AUTH_PWPOOL_THREADS_DEFAULT 2
/* 64 jobs at ~10 ms each on 2 workers drain in ~0.3 s: a burst beyond that
 * gets a fast 503 instead of a slow answer. Arbitrary within that bound. */
#define AUTH_PWPOOL_CAPACITY_DEFAULT 64
/* Upper bounds on the configuration, against typos. Arbitrary. */
#define AUTH_PWPOOL_THREADS_MAX 64
#define AUTH_PWPOOL_CAPACITY_MAX 65536

/* What a job answers, valid only during the callback. */
typedef struct auth_pwresult {
  /* 0; PV_EUNAUTHORIZED (no match, unknown user or malformed stored hash);
   * PV_EINVAL (password too long, hash jobs); PV_ENOMEM; PV_ESHUTDOWN
   * (the pool closed before the job ran). */
  int rc;
  /* Hash job: the new hash. Verify job: a new hash at the pool's cost when
   * the password matched but the stored hash needed a rehash (persist it),
   * else "". */
  char hash[AUTH_PWHASH_MAX];
} auth_pwresult;

typedef void (*auth_pwpool_cb)(void *arg, const auth_pwresult *result);

/*
 * Starts a pool whose completions arrive on loop.
 * Returns: 0 and *out; PV_EINVAL for a bad configuration; PV_ENOMEM when a
 * thread or the dummy hash (made at start when the cost is not the
 * default) could not be created.
 * Ownership: the pool lives until auth_pwpool_close and the loop's next
 * turn. Thread: loop's thread.
 */
int auth_pwpool_new(uv_loop_t *loop, const auth_pwpool_config *config,
                    auth_pwpool **out, pv_error *err);

/*
 * Queues hashing password (copied, and wiped after use). cb runs on the
 * loop with the result, exactly once, unless this returns an error (then
 * never).
 * Returns: 0; PV_EBUSY when the pool holds `capacity` jobs; PV_EINVAL when
 * len > AUTH_PASSWORD_MAX_BYTES; PV_ESHUTDOWN after auth_pwpool_close.
 * Thread: loop's thread.
 */
int auth_pwpool_hash(auth_pwpool *pool, const char *password, size_t len,
                     auth_pwpool_cb cb, void *arg);

/*
 * Queues verifying password against hash (copied; NULL for an unknown user:
 * a dummy verification that fails, at the same cost). On a match with a
 * stored hash that needs a rehash, the same job makes the new hash.
 * A too-long password is not refused here: it gets PV_EUNAUTHORIZED after
 * a dummy verification, like any wrong password.
 * Returns: 0; PV_EBUSY; PV_ESHUTDOWN. As auth_pwpool_hash otherwise.
 */
int auth_pwpool_verify(auth_pwpool *pool, const char *hash,
                       const char *password, size_t len, auth_pwpool_cb cb,
                       void *arg);

/* Jobs the pool holds now (for /metrics and tests). Thread: loop's. */
unsigned auth_pwpool_pending(const auth_pwpool *pool);

/*
 * Stops the pool: refuses new jobs, answers queued ones with PV_ESHUTDOWN,
 * waits for the running ones (at most one job per worker), delivers every
 * outstanding callback before it returns, and closes its handle; memory is
 * freed on the loop's next turn, so run the loop once more before
 * uv_loop_close. May be called from a pool callback.
 * Thread: loop's thread.
 */
void auth_pwpool_close(auth_pwpool *pool);

#endif
