/* Tests of auth_lockout: five failures within 15 minutes lock for 15
 * minutes; four do not; spread-out and old failures do not count. */
#include "adapters/auth/auth_lockout.h"
#include "tests/harness/test.h"

#define T0 1795000000LL

static void test_four_failures_do_not_lock(void) {
  int64_t f[] = {T0, T0 + 10, T0 + 20, T0 + 30};
  auth_lockout_status s;
  auth_lockout_check(f, 4, T0 + 31, &s);
  ASSERT(!s.locked);
  ASSERT_EQ(s.retry_after_s, 0);
  auth_lockout_check(NULL, 0, T0, &s);
  ASSERT(!s.locked);
}

static void test_fifth_failure_locks_for_15_minutes(void) {
  int64_t f[] = {T0, T0 + 10, T0 + 20, T0 + 30, T0 + 40};
  auth_lockout_status s;
  auth_lockout_check(f, 5, T0 + 40, &s);
  ASSERT(s.locked);
  ASSERT_EQ(s.locked_until_s, T0 + 40 + 900);
  ASSERT_EQ(s.retry_after_s, 900);
  auth_lockout_check(f, 5, T0 + 40 + 899, &s);
  ASSERT(s.locked);
  ASSERT_EQ(s.retry_after_s, 1);
  auth_lockout_check(f, 5, T0 + 40 + 900, &s);
  ASSERT(!s.locked);
}

static void test_order_does_not_matter(void) {
  int64_t f[] = {T0 + 40, T0, T0 + 30, T0 + 10, T0 + 20};
  auth_lockout_status s;
  auth_lockout_check(f, 5, T0 + 100, &s);
  ASSERT(s.locked);
  ASSERT_EQ(s.locked_until_s, T0 + 940);
}

static void test_window_edges(void) {
  auth_lockout_status s;
  /* five failures spanning exactly 15 minutes: not "within" */
  int64_t spread[] = {T0, T0 + 300, T0 + 600, T0 + 800, T0 + 900};
  auth_lockout_check(spread, 5, T0 + 900, &s);
  ASSERT(!s.locked);
  /* one second less: locked from the fifth */
  int64_t tight[] = {T0, T0 + 300, T0 + 600, T0 + 800, T0 + 899};
  auth_lockout_check(tight, 5, T0 + 899, &s);
  ASSERT(s.locked);
  ASSERT_EQ(s.locked_until_s, T0 + 899 + 900);
}

static void test_old_failures_expire(void) {
  /* four long ago, one now: no five within the window */
  int64_t f[] = {T0, T0 + 1, T0 + 2, T0 + 3, T0 + 3600};
  auth_lockout_status s;
  auth_lockout_check(f, 5, T0 + 3600, &s);
  ASSERT(!s.locked);
  /* after a lock ends, one more failure does not lock again at once */
  int64_t g[] = {T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + 904};
  auth_lockout_check(g, 6, T0 + 904, &s);
  ASSERT(!s.locked);
}

static void test_prune(void) {
  int64_t f[40];
  size_t n = 0;
  f[n++] = T0 - 5000; /* too old to matter */
  f[n++] = T0 - 1801;
  for (int i = 0; i < 30; i++) f[n++] = T0 - 1700 + i * 50;
  n = auth_lockout_prune(f, n, T0);
  ASSERT_EQ(n, AUTH_LOCKOUT_KEEP);
  for (size_t i = 1; i < n; i++) ASSERT(f[i - 1] <= f[i]);
  ASSERT_EQ(f[n - 1], T0 - 1700 + 29 * 50);
  int64_t old[] = {T0 - 4000, T0 - 3000};
  ASSERT_EQ(auth_lockout_prune(old, 2, T0), 0);
  /* pruning keeps a live lock */
  int64_t lock[] = {T0 - 1000, T0 - 990, T0 - 980, T0 - 970, T0 - 960, T0 - 9000};
  n = auth_lockout_prune(lock, 6, T0);
  ASSERT_EQ(n, 5);
  auth_lockout_status s;
  auth_lockout_check(lock, n, T0, &s);
  ASSERT(!s.locked); /* ended at T0 - 60 */
  auth_lockout_check(lock, n, T0 - 61, &s);
  ASSERT(s.locked);
}

TEST_MAIN(TEST(test_four_failures_do_not_lock),
          TEST(test_fifth_failure_locks_for_15_minutes),
          TEST(test_order_does_not_matter), TEST(test_window_edges),
          TEST(test_old_failures_expire), TEST(test_prune))
