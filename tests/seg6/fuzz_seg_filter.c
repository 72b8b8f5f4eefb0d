/*
 * Fuzz target: the filter compiler (core/seg_filter.h) on arbitrary JSON,
 * for both entity types. It must never crash, and a filter it accepts must
 * give SQL whose parameter numbers all fall within the parameters it made
 * ($2 .. $first + nparams - 1), with no quote or semicolon copied from the
 * input (values only ever travel as parameters).
 */
#include "core/seg_filter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const seg_sql *q) {
  for (const char *p = q->where.data; (p = strchr(p, '$')); p++) {
    long n = strtol(p + 1, NULL, 10);
    if (n < q->first || n >= q->first + (long)q->nparams) abort();
  }
  if (strchr(q->where.data, ';')) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *f = cJSON_ParseWithLength((const char *)data, size);
  if (!f) return 0;
  for (int e = SEG_CONTACT; e <= SEG_ACCOUNT; e++) {
    seg_sql q;
    seg_sql_init(&q, 2);
    pv_error err = PV_ERROR_INIT;
    if (seg_compile(f, (seg_entity)e, "/filter", &q, &err) == 0) check(&q);
    seg_sql_release(&q);
  }
  cJSON_Delete(f);
  return 0;
}
