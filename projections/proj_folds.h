/*
 * The folds of the projections in the registry (proj_registry.c), one file
 * each: proj_<name>.c. Internal to projections/.
 */
#ifndef PV_PROJ_FOLDS_H
#define PV_PROJ_FOLDS_H

#include "projections/proj.h"

#include <string.h>

/* The entity id of a stream "kind-<id>": what follows the first '-', all
 * of it when there is none (rm_lib.stream_id in SQL). */
static inline mp_slice proj_stream_id(mp_slice stream) {
  const char *dash = memchr(stream.ptr, '-', stream.len);
  return dash ? (mp_slice){dash + 1, stream.len - (size_t)(dash + 1 - stream.ptr)} : stream;
}

int proj_event_counts_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);
int proj_audit_events_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);
int proj_suppressions_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);
int proj_leads_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);
int proj_orders_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);
int proj_lead_downloads_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);
int proj_domain_sets_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);
/* proj_directory.c: accounts and contacts (issue 5) */
int proj_accounts_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);
int proj_contacts_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);
/* proj_trail.c: the audit trail of field changes and the timeline */
int proj_field_changes_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);
int proj_timeline_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);
int proj_segments_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);

#endif
