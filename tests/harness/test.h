/*
 * The test harness: a list of cases per executable, each run in its own
 * process (fork) with a timeout, reported as TAP so meson counts every case.
 *
 *   static void test_append_one(void) { ... ASSERT_EQ(a, b); ... }
 *   TEST_MAIN(TEST(test_append_one), TEST(test_other))
 *
 * `prog NAME` runs one case; TEST_NOFORK=1 runs in-process (for gdb);
 * TEST_TIMEOUT_S overrides the per-case limit (default 120 s).
 * Asserts print both values and the place, then end the case's process.
 */
#ifndef PV_TEST_H
#define PV_TEST_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct test_case {
  const char *name;
  void (*fn)(void);
} test_case;

int test_main(int argc, char **argv, const test_case *cases, size_t count);
void test__fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* A fresh empty directory for this case, removed when the case ends. */
const char *test_tmpdir(void);

#define TEST(fn) {#fn, fn}
#define TEST_MAIN(...)                                                         \
  int main(int argc, char **argv) {                                            \
    static const test_case cases[] = {__VA_ARGS__};                            \
    return test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);       \
  }

#define ASSERT(cond)                                                           \
  do {                                                                         \
    if (!(cond)) test__fail(__FILE__, __LINE__, "assertion failed: %s", #cond); \
  } while (0)

#define ASSERT_EQ(a, b)                                                        \
  do {                                                                         \
    intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                           \
    if (a_ != b_)                                                              \
      test__fail(__FILE__, __LINE__, "%s == %s: %jd != %jd", #a, #b, a_, b_);  \
  } while (0)

#define ASSERT_NE(a, b)                                                        \
  do {                                                                         \
    intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                           \
    if (a_ == b_)                                                              \
      test__fail(__FILE__, __LINE__, "%s != %s: both %jd", #a, #b, a_);        \
  } while (0)

#define ASSERT_U64_EQ(a, b)                                                    \
  do {                                                                         \
    uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                           \
    if (a_ != b_)                                                              \
      test__fail(__FILE__, __LINE__, "%s == %s: %" PRIu64 " != %" PRIu64, #a,  \
                 #b, a_, b_);                                                  \
  } while (0)

#define ASSERT_LE(a, b)                                                        \
  do {                                                                         \
    intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                           \
    if (!(a_ <= b_))                                                           \
      test__fail(__FILE__, __LINE__, "%s <= %s: %jd > %jd", #a, #b, a_, b_);   \
  } while (0)

/* An expression returning 0 or a PV_E* code; prints the code's name. */
#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    int rc_ = (expr);                                                          \
    if (rc_ != 0)                                                              \
      test__fail(__FILE__, __LINE__, "%s: %s (%d)", #expr, test__errname(rc_), \
                 rc_);                                                         \
  } while (0)

#define ASSERT_ERR(expr, code)                                                 \
  do {                                                                         \
    int rc_ = (expr), want_ = (code);                                          \
    if (rc_ != want_)                                                          \
      test__fail(__FILE__, __LINE__, "%s: got %s (%d), want %s", #expr,        \
                 test__errname(rc_), rc_, test__errname(want_));               \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                                    \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                     \
      test__fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,     \
                 a_ ? a_ : "(null)", b_ ? b_ : "(null)");                      \
  } while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                 \
  do {                                                                         \
    if (memcmp((a), (b), (n)) != 0)                                            \
      test__fail(__FILE__, __LINE__, "%s and %s differ in their first %zu bytes", \
                 #a, #b, (size_t)(n));                                         \
  } while (0)

const char *test__errname(int code);

#endif
