/*
 * auth_lockout — the login lockout rule as a pure function: five failed
 * logins within 15 minutes lock the account for 15 minutes (issue 4).
 *
 * Input is the recent failure times of one login key. Key them by tenant
 * and normalized email, whether or not a user has that email, so an
 * unknown address is locked exactly like a known one and the answers
 * (401, then 429 with Retry-After) cannot tell them apart.
 *
 * The lock starts at the failure that makes five within the window and
 * ends AUTH_LOCKOUT_DURATION_S later. The caller:
 *   1. prunes and checks before verifying anything; when locked, answers
 *      429 with Retry-After = retry_after_s and records nothing (an
 *      attempt refused while locked is not a failure, so hammering does
 *      not extend the lock);
 *   2. otherwise verifies (or dummy-verifies) the password; on failure
 *      appends now to the list; on success clears the list.
 * Keeping at most AUTH_LOCKOUT_KEEP times per key is enough.
 *
 * Thread: pure; any thread.
 */
#ifndef AUTH_LOCKOUT_H
#define AUTH_LOCKOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The numbers. */
#define AUTH_LOCKOUT_THRESHOLD 5
#define AUTH_LOCKOUT_WINDOW_S 900
#define AUTH_LOCKOUT_DURATION_S 900
/* Failures that can still matter lie within WINDOW + DURATION; obeying
 * the rule above, at most 2 × (THRESHOLD − 1) + THRESHOLD of them. 16
 * rounds that up. */
#define AUTH_LOCKOUT_KEEP 16

typedef struct auth_lockout_status {
  bool locked;
  int64_t locked_until_s; /* 0 when not locked */
  int64_t retry_after_s;  /* whole seconds, ≥ 1 when locked; 0 otherwise */
} auth_lockout_status;

/*
 * Decides whether the key is locked at now_s given its failure times
 * (seconds, any order; n may be 0 and fail_s NULL then). A failure "within
 * 15 minutes" of another is less than AUTH_LOCKOUT_WINDOW_S after it.
 * Times in the future are counted as they are. Quadratic in n: pass a
 * pruned list (auth_lockout_prune).
 */
void auth_lockout_check(const int64_t *fail_s, size_t n, int64_t now_s,
                        auth_lockout_status *out);

/*
 * Sorts fail_s in place, drops times that can no longer lock the key
 * (older than now − WINDOW − DURATION), keeps at most the newest
 * AUTH_LOCKOUT_KEEP, and moves them to the front.
 * Returns: the new count.
 */
size_t auth_lockout_prune(int64_t *fail_s, size_t n, int64_t now_s);

#endif
