/*
 * event_counts — how many events of each type each tenant has: the counter
 * read model of schema/002_proj_event_counts.sql.
 *
 * Deliberately not idempotent: each batch adds its counts (n = n + k), so
 * applying a batch twice, or skipping one, shows in a recount from the log.
 * That is what the exactly-once crash tests check.
 *
 * The batch is summed in memory first: one upsert per distinct (tenant,
 * type), a handful per batch, not one per event.
 */
#include "projections/proj_folds.h"

#include <inttypes.h>
#include <stdio.h>

typedef struct count_key {
  mp_slice tenant, type;
  uint64_t n;
} count_key;

static bool slice_eq(mp_slice a, mp_slice b) {
  return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

int proj_event_counts_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  count_key *keys = pv_xmalloc((n ? n : 1) * sizeof *keys);
  size_t nkeys = 0;
  for (size_t i = 0; i < n; i++) {
    size_t k = 0;
    /* Linear: a batch holds few distinct (tenant, type) pairs. */
    while (k < nkeys && !(slice_eq(keys[k].type, events[i].type) &&
                          slice_eq(keys[k].tenant, events[i].tenant)))
      k++;
    if (k == nkeys) keys[nkeys++] = (count_key){events[i].tenant, events[i].type, 0};
    keys[k].n++;
  }
  int rc = 0;
  for (size_t k = 0; k < nkeys && rc == 0; k++) {
    char *tenant = pv_xstrndup(keys[k].tenant.ptr, keys[k].tenant.len);
    char *type = pv_xstrndup(keys[k].type.ptr, keys[k].type.len);
    char count[24];
    snprintf(count, sizeof count, "%" PRIu64, keys[k].n);
    const char *values[] = {tenant, type, count};
    rc = pg_exec(c,
                 "INSERT INTO counts (tenant, type, n) VALUES ($1, $2, $3) "
                 "ON CONFLICT (tenant, type) DO UPDATE SET n = counts.n + EXCLUDED.n",
                 3, values, NULL, err);
    free(tenant);
    free(type);
  }
  free(keys);
  return rc;
}
