/*
 * Fuzz target api_query: a URL query string through the list builder the
 * query routes use (apiq_build: percent-decoding, UTF-8 and length checks,
 * whitelist sort, filters, cursor decoding) in both modes, and the CSV
 * cell writer over the same bytes. Whatever the input: no crash, and the
 * SQL text holds nothing of the input (every value is a parameter).
 */
#include "adapters/http/handlers/api_query.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const apiq_sort sorts[] = {{"id", "r.id", APIQ_TEXT}, {"n", "r.n", APIQ_INT}};
static const apiq_filter filters[] = {
    {"q", "r.s LIKE '%' || $? || '%'", APIQ_CHECK_LIKE},
    {"e", "r.e = $? OR r.f = $?", APIQ_CHECK_TEXT},
    {"t", "r.t >= $?::timestamptz", APIQ_CHECK_TIME},
};
static const char *const csv[] = {"r.id"};
static const apiq_resource res = {
    .from = "t r", .where = "r.tenant = $1", .live = "NOT r.d", .deleted = "r.d",
    .tiebreak = "r.id", .tiebreak_kind = APIQ_TEXT, .sorts = sorts, .n_sorts = 2,
    .default_sort = "id", .filters = filters, .n_filters = 3, .item = "r.j",
    .csv_exprs = csv, .csv_names = csv, .n_csv = 1, .file_name = "t"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *qs = malloc(size + 1);
  memcpy(qs, data, size);
  qs[size] = '\0';
  const char *fixed[] = {"tenant"};
  for (int mode = 0; mode < 2; mode++) {
    apiq_query q;
    pv_error err = PV_ERROR_INIT;
    if (apiq_build(&res, mode ? APIQ_EXPORT : APIQ_LIST, qs, fixed, 1, &q, &err) == 0) {
      /* the SQL is made of the table's fragments only */
      if (strchr(q.sql.data, '\'') && !strstr(q.sql.data, "'%'")) abort();
      if (q.n > 32) abort();
      if (mode == 0) {
        pv_buf cur = PV_BUF_INIT;
        apiq_cursor_encode(&q, "k", "t", &cur);
        pv_buf_release(&cur);
      }
      apiq_release(&q);
    } else if (err.code != PV_EINVAL) {
      abort();
    }
  }
  pv_buf cell = PV_BUF_INIT;
  apiq_csv_cell(&cell, qs, size);
  pv_buf_release(&cell);
  free(qs);
  return 0;
}
