/*
 * api_accounts_read — the query side of /api/accounts: the list, one
 * account with the provenance of each field and its contact counts (direct
 * and rolled up the hierarchy), its children, audit trail, timeline and
 * the streamed export. Reads rm_accounts, rm_field_changes and rm_timeline
 * through api_query; every value is a parameter.
 */
#include "adapters/http/handlers/api_query.h"

#define ACCOUNT_ITEM                                                              \
  "jsonb_build_object('id', r.id) || r.fields || jsonb_build_object("             \
  "'alternate_domains', r.alternate_domains, 'custom_fields', r.custom_fields, " \
  "'deleted', r.deleted, 'contact_count', r.contact_count, "                     \
  "'rollup_contact_count', r.rollup_contact_count, 'version', r.version, "       \
  "'created_at', rm_lib.ts_text(r.created_at), "                                 \
  "'updated_at', rm_lib.ts_text(r.updated_at), 'position', r.updated_position)"

#define ACCOUNT_EXISTS "SELECT 1 FROM rm_accounts.accounts WHERE tenant = $1 AND id = $2"

static const apiq_sort account_sorts[] = {
    {"id", "r.id", APIQ_TEXT},
    {"name", "coalesce(r.name, '')", APIQ_TEXT},
    {"domain", "coalesce(r.domain, '')", APIQ_TEXT},
    {"created", "r.created_position", APIQ_INT},
    {"updated", "r.updated_position", APIQ_INT},
    {"contact_count", "r.contact_count", APIQ_INT},
    {"rollup_contact_count", "r.rollup_contact_count", APIQ_INT},
};

static const apiq_filter account_filters[] = {
    {"q", "r.search LIKE '%' || lower($?) || '%'", APIQ_CHECK_LIKE},
    {"domain", "r.domain = lower(btrim($?)) OR r.alternate_domains @> ARRAY[lower(btrim($?))]",
     APIQ_CHECK_TEXT},
    {"industry", "r.industry = $?", APIQ_CHECK_TEXT},
    {"parent_id", "r.parent_id = $?", APIQ_CHECK_TEXT},
    {"updated_since", "r.updated_at >= $?::timestamptz", APIQ_CHECK_TIME},
};

static const char *const account_csv_exprs[] = {
    "r.id", "r.name", "r.domain", "array_to_string(r.alternate_domains, ' ')", "r.industry",
    "r.fields->>'sic_code'", "r.fields->>'naics_code'", "r.fields->>'country'", "r.parent_id",
    "r.contact_count", "r.rollup_contact_count", "r.deleted", "rm_lib.ts_text(r.created_at)",
    "rm_lib.ts_text(r.updated_at)",
};
static const char *const account_csv_names[] = {
    "id", "name", "domain", "alternate_domains", "industry", "sic_code", "naics_code",
    "country", "parent_id", "contact_count", "rollup_contact_count", "deleted", "created_at",
    "updated_at",
};

#define N(a) (sizeof a / sizeof a[0])

#define ACCOUNT_LIST_COMMON                                                       \
  .from = "rm_accounts.accounts r", .live = "NOT r.deleted", .deleted = "r.deleted", \
  .tiebreak = "r.id", .tiebreak_kind = APIQ_TEXT, .sorts = account_sorts,         \
  .n_sorts = N(account_sorts), .default_sort = "id", .filters = account_filters,  \
  .n_filters = N(account_filters), .item = ACCOUNT_ITEM

static const apiq_resource accounts = {
    ACCOUNT_LIST_COMMON,
    .where = "r.tenant = $1",
    .csv_exprs = account_csv_exprs,
    .csv_names = account_csv_names,
    .n_csv = N(account_csv_exprs),
    .file_name = "accounts",
};

static const apiq_resource account_children = {
    ACCOUNT_LIST_COMMON,
    .where = "r.tenant = $1 AND r.parent_id = $2",
    .exists_sql = ACCOUNT_EXISTS,
};

static const apiq_sort position_sort[] = {{"position", "r.position", APIQ_INT}};
static const apiq_filter audit_filters[] = {{"field", "r.field = $?", APIQ_CHECK_TEXT}};
static const apiq_filter timeline_filters[] = {{"kind", "r.kind = $?", APIQ_CHECK_TEXT}};

static const apiq_resource account_audit = {
    .from = APIQ_AUDIT_FROM,
    .where = "r.tenant = $1 AND r.entity = 'account' AND r.entity_id = $2",
    .tiebreak = "r.seq",
    .tiebreak_kind = APIQ_INT,
    .sorts = position_sort,
    .n_sorts = 1,
    .default_sort = "position",
    .filters = audit_filters,
    .n_filters = N(audit_filters),
    .item = APIQ_AUDIT_ITEM,
    .exists_sql = ACCOUNT_EXISTS,
};

static const apiq_resource account_timeline = {
    .from = "rm_timeline.entries r",
    .where = "r.tenant = $1 AND r.entity = 'account' AND r.entity_id = $2",
    .tiebreak = "r.entity_id",
    .tiebreak_kind = APIQ_TEXT,
    .sorts = position_sort,
    .n_sorts = 1,
    .default_sort = "-position", /* newest first */
    .filters = timeline_filters,
    .n_filters = N(timeline_filters),
    .item = APIQ_TIMELINE_ITEM,
    .exists_sql = ACCOUNT_EXISTS,
};

void api_accounts_list(http_request *req) {
  const char *fixed[] = {apiq_tenant(req)};
  apiq_list(req, &accounts, fixed, 1);
}

void api_accounts_export(http_request *req) {
  const char *fixed[] = {apiq_tenant(req)};
  apiq_export(req, &accounts, fixed, 1);
}

void api_accounts_get(http_request *req) {
  const char *fixed[] = {apiq_tenant(req), http_request_param(req, "id")};
  apiq_get(req,
           "SELECT (" ACCOUNT_ITEM " || jsonb_build_object('provenance', r.provenance))::text "
           "FROM rm_accounts.accounts r WHERE r.tenant = $1 AND r.id = $2",
           fixed, 2, "account");
}

void api_accounts_children(http_request *req) {
  const char *fixed[] = {apiq_tenant(req), http_request_param(req, "id")};
  apiq_list(req, &account_children, fixed, 2);
}

void api_accounts_audit(http_request *req) {
  const char *fixed[] = {apiq_tenant(req), http_request_param(req, "id")};
  apiq_list(req, &account_audit, fixed, 2);
}

void api_accounts_timeline(http_request *req) {
  const char *fixed[] = {apiq_tenant(req), http_request_param(req, "id")};
  apiq_list(req, &account_timeline, fixed, 2);
}
