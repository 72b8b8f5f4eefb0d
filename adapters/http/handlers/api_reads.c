/*
 * api_reads — which read models each query route reads, so that
 * Pivotal-Min-Position waits for those projections only (api.h,
 * api_route_reads). A contact read then waits for the contacts projection,
 * not for the audit trail folding the tail of an import in the other lane.
 *
 * Rules it keeps:
 * - Keyed by handler, so a renamed path keeps its row. A handler listed
 *   here reads exactly these read models (grep its SQL for rm_<name>);
 *   one that reads none (it answers from the log or from memory) has an
 *   empty list and never waits.
 * - A GET route missing here waits for every projection: slower, never
 *   wrong. tests/api checks that every GET route is listed and every name
 *   is a projection of the registry.
 */
#include "adapters/http/handlers/api.h"
#include "adapters/http/handlers/api_cmpl.h"
#include "adapters/http/handlers/api_crm.h"
#include "adapters/http/handlers/api_internal.h"
#include "adapters/http/handlers/api_seg.h"

#include <string.h>

#define READS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NOTHING ((const char *const[]){NULL})

static const struct {
  http_handler_fn handler;
  const char *const *reads;
} route_reads[] = {
    {http_handle_healthz, NOTHING},
    {http_handle_readyz, NOTHING},
    {http_handle_metrics, NOTHING},
    /* users, consent, imports and jobs answer from the log or memory */
    {api_auth_me, NOTHING},
    {api_users_get, NOTHING},
    {api_consent_get, NOTHING},
    {api_unsub_page, NOTHING},
    {api_imports_get, NOTHING},
    {api_imports_errors, NOTHING},
    {api_jobs_get, NOTHING},
    {api_seg_fields, NOTHING},
    {api_supp_list, READS("suppressions")},
    {api_supp_export, READS("suppressions")},
    {api_supp_history, READS("suppressions")},
    {api_leads_list, READS("leads")},
    {api_leads_get, READS("leads")},
    {api_orders_list, READS("orders")},
    {api_orders_get, READS("orders")},
    {api_orders_stats, READS("orders", "leads")},
    {api_orders_leads_csv, READS("orders", "leads")},
    {api_orders_downloads, READS("orders", "lead_downloads")},
    {api_orders_download_get, READS("orders", "lead_downloads")},
    {api_domain_sets_get, READS("domain_sets")},
    {api_domain_sets_items, READS("domain_sets")},
    {api_contacts_list, READS("contacts")},
    {api_contacts_export, READS("contacts")},
    {api_contacts_get, READS("contacts")},
    {api_contacts_audit, READS("contacts", "field_changes")},
    {api_contacts_timeline, READS("contacts", "timeline")},
    {api_accounts_list, READS("accounts")},
    {api_accounts_export, READS("accounts")},
    {api_accounts_get, READS("accounts")},
    {api_accounts_children, READS("accounts")},
    {api_accounts_audit, READS("accounts", "field_changes")},
    {api_accounts_timeline, READS("accounts", "timeline")},
    {api_audit_list, READS("field_changes")},
    {api_search, READS("contacts", "accounts")},
    {api_seg_list, READS("segments")},
    {api_seg_get, READS("segments")},
    {api_filters_list, READS("segments")},
    {api_filters_get, READS("segments")},
    {api_lists_list, READS("segments")},
    {api_lists_get, READS("segments")},
    {api_lists_members, READS("segments", "contacts", "accounts")},
};

const char *const *api_route_reads(const http_route *route) {
  for (size_t i = 0; route && i < sizeof route_reads / sizeof route_reads[0]; i++)
    if (route_reads[i].handler == route->handler) return route_reads[i].reads;
  return NULL;
}

size_t api_route_waits_for(const http_route *route, const char *const *running,
                           size_t nrunning, const char **out, size_t cap) {
  const char *const *reads = api_route_reads(route);
  size_t n = 0;
  for (size_t i = 0; i < nrunning && n < cap; i++) {
    bool read = !reads;
    for (size_t k = 0; reads && reads[k] && !read; k++) read = strcmp(reads[k], running[i]) == 0;
    if (read) out[n++] = running[i];
  }
  return n;
}
