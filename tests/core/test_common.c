/* Tests of core/common: the error map and the buffer. */
#include "core/common/pv_buf.h"
#include "core/common/pv_error.h"
#include "core/common/pv_time.h"
#include "tests/harness/test.h"

#include <stdlib.h>

static void test_error_map_is_consistent(void) {
  ASSERT_STR_EQ(pv_err_name(PV_EINVAL), "EINVAL");
  ASSERT_STR_EQ(pv_strerror(PV_EFULL), "storage full");
  ASSERT_EQ(pv_http_status(PV_ECONFLICT), 409);
  ASSERT_EQ(pv_http_status(PV_OK), 200);
  ASSERT_STR_EQ(pv_err_name(12345), "UNKNOWN");
  /* codes are negative and clear of errno and LMDB's -30800 range */
  ASSERT(PV_EINVAL < -40000);
}

static void test_error_set_fills_fields(void) {
  pv_error e = PV_ERROR_INIT;
  ASSERT_EQ(pv_error_set(&e, PV_EINVAL, "/email", "invalid email \"%s\"", "x@"),
            PV_EINVAL);
  pv_error_detail(&e, "The domain part is empty.");
  pv_error_hint(&e, "Check the address.");
  ASSERT_STR_EQ(e.field, "/email");
  ASSERT_STR_EQ(e.message, "invalid email \"x@\"");
  ASSERT_STR_EQ(e.detail, "The domain part is empty.");
  ASSERT_EQ(pv_error_set(NULL, PV_EIO, NULL, NULL), PV_EIO);
  pv_error_set(&e, PV_EIO, NULL, NULL);
  ASSERT_STR_EQ(e.message, "could not write to storage");
  ASSERT_STR_EQ(e.detail, "");
}

static void test_buf_invariants(void) {
  pv_buf b = PV_BUF_INIT;
  ASSERT(b.data != NULL);
  ASSERT_STR_EQ(b.data, "");
  pv_buf_addstr(&b, "hello");
  pv_buf_addch(&b, ' ');
  pv_buf_addf(&b, "%d-%s", 42, "x");
  ASSERT_STR_EQ(b.data, "hello 42-x");
  ASSERT_EQ(b.len, 10);
  for (int i = 0; i < 1000; i++) pv_buf_addf(&b, "%04d", i);
  ASSERT_EQ(b.len, 4010);
  ASSERT_EQ(b.data[b.len], '\0');
  size_t n;
  char *p = pv_buf_detach(&b, &n);
  ASSERT_EQ(n, 4010);
  ASSERT_EQ(b.len, 0);
  ASSERT_STR_EQ(b.data, "");
  free(p);
  p = pv_buf_detach(&b, &n);
  ASSERT_EQ(n, 0);
  free(p);
  pv_buf_release(&b);
}

static void test_rfc3339(void) {
  char out[32];
  pv_format_rfc3339_us(1764147761123456LL, out);
  ASSERT_STR_EQ(out, "2025-11-26T09:02:41.123456Z");
  int64_t us;
  ASSERT(pv_parse_rfc3339_us("2025-11-26T09:02:41.123456Z", &us));
  ASSERT_EQ(us, 1764147761123456LL);
  ASSERT(pv_parse_rfc3339_us("2025-11-26T10:02:41.123456+01:00", &us));
  ASSERT_EQ(us, 1764147761123456LL);
  ASSERT(pv_parse_rfc3339_us("2025-11-26 09:02:41z", &us));
  ASSERT(!pv_parse_rfc3339_us("2024-02-31T00:00:00Z", &us)); /* no 31 February */
  ASSERT(!pv_parse_rfc3339_us("2024-13-01T00:00:00Z", &us));
  ASSERT(!pv_parse_rfc3339_us("2024-01-01T00:00:00", &us)); /* an offset is required */
  ASSERT(!pv_parse_rfc3339_us("2024-01-01T00:00:00Z; DROP", &us));
  ASSERT(pv_parse_unix_us("@1764147761.5", &us));
  ASSERT_EQ(us, 1764147761500000LL);
  ASSERT(!pv_parse_unix_us("17641477615555", &us));
}

TEST_MAIN(TEST(test_error_map_is_consistent), TEST(test_error_set_fills_fields),
          TEST(test_buf_invariants), TEST(test_rfc3339))
