/*
 * Fuzz target ds_upload: the bytes as an uploaded CSV file (fed in two
 * pieces split at the first byte's value) and as a TXT file, then every
 * item matched against a small index. Invariants: each item's dedup key is
 * unique, a valid item has a domain and a registrable domain and its label
 * is the registrable domain's first label, an invalid one has a reason,
 * and rows = items + duplicates. Any break aborts.
 */
#include "core/domainsets/ds_items.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t exact(void *arg, const char *domain) {
  return ds_index_domain_owner(arg, domain, NULL);
}

static void check(ds_items *it, ds_index *ix) {
  uint64_t rows = it->n + it->duplicates;
  if (rows != it->rows) abort();
  for (size_t i = 0; i < it->n; i++) {
    ds_item *x = &it->v[i];
    if (x->valid && (!x->domain[0] || !x->registrable[0])) abort();
    if (!x->valid && !x->invalid_reason[0]) abort();
    if (x->valid && strncmp(x->registrable, x->label, strlen(x->label)) != 0) abort();
    for (size_t j = 0; j < i; j++)
      if (x->valid && it->v[j].valid && strcmp(x->domain, it->v[j].domain) == 0) abort();
  }
  void *args[DS_MATCH_THREADS] = {ix, ix};
  ds_items_match(it, ix, 1, exact, args);
  ds_report r;
  ds_items_report(it, &r);
  if (r.exact + r.fuzzy + r.none + r.invalid + r.excluded != r.items) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ds_index *ix = ds_index_new();
  uint32_t a = ds_index_account(ix, "00000000000000000000000000000001");
  ds_index_add_domain(ix, a, "example.com", "example", true);
  ds_index_set_name(ix, a, "example industries");
  for (int format = 0; format < 2; format++) {
    ds_items it;
    ds_items_init(&it);
    ds_upload *u = ds_upload_new(format ? DS_FORMAT_TXT : DS_FORMAT_CSV, &it);
    size_t cut = size ? data[0] % (size + 1) : 0;
    pv_error e = PV_ERROR_INIT;
    int rc = ds_upload_feed(u, (const char *)data, cut, &e);
    if (rc == 0) rc = ds_upload_feed(u, (const char *)data + cut, size - cut, &e);
    if (rc == 0) rc = ds_upload_finish(u, &e);
    ds_upload_free(u);
    if (rc == 0) check(&it, ix);
    ds_items_release(&it);
  }
  ds_index_free(ix);
  return 0;
}
