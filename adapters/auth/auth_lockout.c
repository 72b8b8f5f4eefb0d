/* auth_lockout — see auth_lockout.h. */
#include "adapters/auth/auth_lockout.h"

#include <stdlib.h>
#include <string.h>

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

void auth_lockout_check(const int64_t *fail_s, size_t n, int64_t now_s,
                        auth_lockout_status *out) {
  memset(out, 0, sizeof *out);
  /* For each failure, count the failures in the window ending at it; five
   * or more lock from it. Quadratic, in any order, without a copy: the
   * list is short once pruned. */
  int64_t until = 0;
  for (size_t j = 0; j < n; j++) {
    size_t within = 0;
    for (size_t i = 0; i < n; i++)
      if (fail_s[i] <= fail_s[j] && fail_s[j] - fail_s[i] < AUTH_LOCKOUT_WINDOW_S)
        within++;
    if (within >= AUTH_LOCKOUT_THRESHOLD &&
        fail_s[j] + AUTH_LOCKOUT_DURATION_S > until)
      until = fail_s[j] + AUTH_LOCKOUT_DURATION_S;
  }
  if (until > now_s) {
    out->locked = true;
    out->locked_until_s = until;
    out->retry_after_s = until - now_s;
  }
}

size_t auth_lockout_prune(int64_t *fail_s, size_t n, int64_t now_s) {
  if (n == 0) return 0;
  qsort(fail_s, n, sizeof *fail_s, cmp_i64);
  int64_t horizon = now_s - AUTH_LOCKOUT_WINDOW_S - AUTH_LOCKOUT_DURATION_S;
  size_t first = 0;
  while (first < n && fail_s[first] < horizon) first++;
  if (n - first > AUTH_LOCKOUT_KEEP) first = n - AUTH_LOCKOUT_KEEP;
  memmove(fail_s, fail_s + first, (n - first) * sizeof *fail_s);
  return n - first;
}
