/*
 * The registry of projections: one row each. Adding a read model is a row
 * here, its fold in proj_<name>.c and a migration in schema/ that makes its
 * schema rm_<name> and tables (rebuild clones the tables from there).
 *
 * Columns: name (the checkpoint's key), event types read (NULL = all),
 * schema of the live read model, fold, lane (the engine's worker), and the
 * projections whose read models the fold reads (folded up to their
 * checkpoints: segments reads suppressions, accounts and contacts). The
 * lanes split an import's folds about evenly (bench import, which prints
 * each fold's seconds): lane 0 suppressions, contacts, the timeline and
 * segments, lane 1 accounts, the field changes, the audit events and the
 * rest (100k contacts: about 31 s each).
 */
#include "projections/proj.h"
#include "projections/proj_folds.h"

#include <string.h>

static const char *const suppressions_types[] = {"suppression.added", "suppression.removed",
                                                  NULL};
static const char *const leads_types[] = {
    "lead.created",  "lead.reviewer_assigned", "lead.review_started", "lead.checklist_item_set",
    "lead.flagged",  "lead.approved",          "lead.rejected",       "lead.reopened",
    "lead.published", NULL};
static const char *const orders_types[] = {"order.created", "order.campaign_linked",
                                           "order.campaign_unlinked", "order.status_changed",
                                           NULL};
static const char *const lead_downloads_types[] = {"lead_download.recorded",
                                                   "lead_download.leads_listed", NULL};
static const char *const domain_set_types[] = {
    "domain_set.created", "domain_set.items_added", "domain_set.processing_started",
    "domain_set.matched", "domain_set.processed", "domain_set.item_excluded",
    "domain_set.item_included", "domain_set.audience_linked", "domain_set.archived", NULL};
#define PROJ_CONTACT_TYPES                                                     \
  "contact.created", "contact.updated", "contact.merged", "contact.merged_into", \
      "contact.merge_undone", "contact.unmerged", "contact.deleted", "contact.restored"
#define PROJ_ACCOUNT_TYPES                                                     \
  "account.created", "account.updated", "account.deleted", "account.restored"

/* Accounts read contacts' events too: the contact counts and rollups. */
static const char *const accounts_types[] = {PROJ_ACCOUNT_TYPES, PROJ_CONTACT_TYPES, NULL};
static const char *const contacts_types[] = {PROJ_CONTACT_TYPES, NULL};
static const char *const field_changes_types[] = {PROJ_ACCOUNT_TYPES, PROJ_CONTACT_TYPES,
                                                  "custom_field.defined", NULL};
static const char *const timeline_types[] = {PROJ_ACCOUNT_TYPES, PROJ_CONTACT_TYPES,
                                             "note.added", NULL};

/* issue 6: segment, list and filter definitions, and what segment
 * membership depends on (contacts, accounts, suppressions). */
static const char *const segments_types[] = {
    "segment.created", "segment.updated", "segment.deleted", "segment.refresh_requested",
    "list.created", "list.updated", "list.members_added", "list.members_removed", "list.deleted",
    "filter.saved", "filter.deleted", "suppression.added", "suppression.removed",
    PROJ_ACCOUNT_TYPES, PROJ_CONTACT_TYPES, NULL};

static const char *const segments_after[] = {"suppressions", "accounts", "contacts", NULL};

static const proj_def registry[] = {
    /* Counts per (tenant, type); deliberately NOT idempotent (n = n + k):
     * a batch applied twice shows. The crash tests rely on that. */
    {"event_counts", NULL, "rm_event_counts", proj_event_counts_fold, 1, NULL},
    /* Every event as an audit/timeline row, payload as jsonb. */
    {"audit_events", NULL, "rm_audit_events", proj_audit_events_fold, 1, NULL},
    /* issue 7: compliance, lead QA, orders, lead downloads */
    {"suppressions", suppressions_types, "rm_suppressions", proj_suppressions_fold, 0, NULL},
    {"leads", leads_types, "rm_leads", proj_leads_fold, 1, NULL},
    {"orders", orders_types, "rm_orders", proj_orders_fold, 1, NULL},
    {"lead_downloads", lead_downloads_types, "rm_lead_downloads", proj_lead_downloads_fold, 1, NULL},
    /* ABM domain sets (issue 8): sets, items with matches, links, stubs. */
    {"domain_sets", domain_set_types, "rm_domain_sets", proj_domain_sets_fold, 1, NULL},
    /* Accounts and contacts (proj_directory.c, docs/read-models.md). */
    {"accounts", accounts_types, "rm_accounts", proj_accounts_fold, 1, NULL},
    {"contacts", contacts_types, "rm_contacts", proj_contacts_fold, 0, NULL},
    {"field_changes", field_changes_types, "rm_field_changes", proj_field_changes_fold, 1, NULL},
    {"timeline", timeline_types, "rm_timeline", proj_timeline_fold, 0, NULL},
    /* issue 6: segments, lists, saved filters, segment members. */
    {"segments", segments_types, "rm_segments", proj_segments_fold, 0, segments_after},
};

size_t proj_count(void) { return sizeof registry / sizeof registry[0]; }

const proj_def *proj_at(size_t i) { return i < proj_count() ? &registry[i] : NULL; }

const proj_def *proj_find(const char *name) {
  for (size_t i = 0; i < proj_count(); i++)
    if (strcmp(registry[i].name, name) == 0) return &registry[i];
  return NULL;
}
