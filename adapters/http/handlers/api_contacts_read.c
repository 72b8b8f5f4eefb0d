/*
 * api_contacts_read — the query side of /api/contacts: the list (filters,
 * whitelist sort, keyset pages), one contact with the provenance of each
 * field, its audit trail and timeline, and the streamed export. Reads the
 * read models rm_contacts, rm_field_changes and rm_timeline (schema/010,
 * 011) through api_query; every value is a parameter.
 */
#include "adapters/http/handlers/api_query.h"

/* One contact as JSON: its fields (only those set) and the rest. */
#define CONTACT_ITEM                                                              \
  "jsonb_build_object('id', r.id) || r.fields || jsonb_build_object("             \
  "'emails', r.emails, 'external_ids', r.external_ids, 'phones', r.phones, "     \
  "'custom_fields', r.custom_fields, 'deleted', r.deleted, "                     \
  "'merged_into', r.merged_into, 'version', r.version, "                         \
  "'created_at', rm_lib.ts_text(r.created_at), "                                 \
  "'updated_at', rm_lib.ts_text(r.updated_at), 'position', r.updated_position)"

static const apiq_sort contact_sorts[] = {
    {"id", "r.id", APIQ_TEXT},
    {"email", "coalesce(r.email, '')", APIQ_TEXT},
    {"last_name", "coalesce(r.last_name, '')", APIQ_TEXT},
    {"first_name", "coalesce(r.first_name, '')", APIQ_TEXT},
    {"created", "r.created_position", APIQ_INT},
    {"updated", "r.updated_position", APIQ_INT},
};

static const apiq_filter contact_filters[] = {
    {"q", "r.search LIKE '%' || lower($?) || '%'", APIQ_CHECK_LIKE},
    {"email", "r.email = lower(btrim($?)) OR r.emails @> ARRAY[lower(btrim($?))]",
     APIQ_CHECK_TEXT},
    {"domain", "r.email_domain = lower(btrim($?))", APIQ_CHECK_TEXT},
    {"account_id", "r.account_id = $?", APIQ_CHECK_TEXT},
    {"seniority", "r.seniority = $?", APIQ_CHECK_TEXT},
    {"department", "r.department = $?", APIQ_CHECK_TEXT},
    {"updated_since", "r.updated_at >= $?::timestamptz", APIQ_CHECK_TIME},
};

static const char *const contact_csv_exprs[] = {
    "r.id", "r.email", "r.first_name", "r.last_name", "r.fields->>'title'", "r.seniority",
    "r.department", "r.fields->>'phone'", "r.fields->>'country'", "r.fields->>'city'",
    "r.fields->>'linkedin_url'", "r.account_id", "array_to_string(r.external_ids, ' ')",
    "r.deleted", "rm_lib.ts_text(r.created_at)", "rm_lib.ts_text(r.updated_at)",
};
static const char *const contact_csv_names[] = {
    "id", "email", "first_name", "last_name", "title", "seniority", "department", "phone",
    "country", "city", "linkedin_url", "account_id", "external_ids", "deleted", "created_at",
    "updated_at",
};

#define N(a) (sizeof a / sizeof a[0])

static const apiq_resource contacts = {
    .from = "rm_contacts.contacts r",
    /* a contact merged into another is not a contact of the list: its
     * winner is (GET /api/contacts/:id still shows it, with merged_into) */
    .where = "r.tenant = $1 AND r.merged_into IS NULL",
    .live = "NOT r.deleted",
    .deleted = "r.deleted",
    .tiebreak = "r.id",
    .tiebreak_kind = APIQ_TEXT,
    .sorts = contact_sorts,
    .n_sorts = N(contact_sorts),
    .default_sort = "id",
    .filters = contact_filters,
    .n_filters = N(contact_filters),
    .item = CONTACT_ITEM,
    .csv_exprs = contact_csv_exprs,
    .csv_names = contact_csv_names,
    .n_csv = N(contact_csv_exprs),
    .file_name = "contacts",
};

/* ---- audit trail and timeline ---------------------------------------- */

static const apiq_sort audit_sorts[] = {{"position", "r.position", APIQ_INT}};
static const apiq_filter audit_filters[] = {{"field", "r.field = $?", APIQ_CHECK_TEXT}};

static const apiq_resource contact_audit = {
    .from = APIQ_AUDIT_FROM,
    .where = "r.tenant = $1 AND r.entity = 'contact' AND r.entity_id = $2",
    .tiebreak = "r.seq",
    .tiebreak_kind = APIQ_INT,
    .sorts = audit_sorts,
    .n_sorts = N(audit_sorts),
    .default_sort = "position",
    .filters = audit_filters,
    .n_filters = N(audit_filters),
    .item = APIQ_AUDIT_ITEM,
    .exists_sql = "SELECT 1 FROM rm_contacts.contacts WHERE tenant = $1 AND id = $2",
};

static const apiq_sort timeline_sorts[] = {{"position", "r.position", APIQ_INT}};
static const apiq_filter timeline_filters[] = {{"kind", "r.kind = $?", APIQ_CHECK_TEXT}};

static const apiq_resource contact_timeline = {
    .from = "rm_timeline.entries r",
    .where = "r.tenant = $1 AND r.entity = 'contact' AND r.entity_id = $2",
    .tiebreak = "r.entity_id",
    .tiebreak_kind = APIQ_TEXT,
    .sorts = timeline_sorts,
    .n_sorts = N(timeline_sorts),
    .default_sort = "-position", /* newest first */
    .filters = timeline_filters,
    .n_filters = N(timeline_filters),
    .item = APIQ_TIMELINE_ITEM,
    .exists_sql = "SELECT 1 FROM rm_contacts.contacts WHERE tenant = $1 AND id = $2",
};

void api_contacts_list(http_request *req) {
  const char *fixed[] = {apiq_tenant(req)};
  apiq_list(req, &contacts, fixed, 1);
}

void api_contacts_export(http_request *req) {
  const char *fixed[] = {apiq_tenant(req)};
  apiq_export(req, &contacts, fixed, 1);
}

void api_contacts_get(http_request *req) {
  const char *fixed[] = {apiq_tenant(req), http_request_param(req, "id")};
  apiq_get(req,
           "SELECT (" CONTACT_ITEM " || jsonb_build_object('provenance', r.provenance))::text "
           "FROM rm_contacts.contacts r WHERE r.tenant = $1 AND r.id = $2",
           fixed, 2, "contact");
}

void api_contacts_audit(http_request *req) {
  const char *fixed[] = {apiq_tenant(req), http_request_param(req, "id")};
  apiq_list(req, &contact_audit, fixed, 2);
}

void api_contacts_timeline(http_request *req) {
  const char *fixed[] = {apiq_tenant(req), http_request_param(req, "id")};
  apiq_list(req, &contact_timeline, fixed, 2);
}
