/*
 * accounts — the account aggregate: create, update, upsert by domain,
 * alternate domains, parent/child hierarchy, typed custom fields, industry
 * classification behind an adapter, soft delete and restore.
 *
 * Domains. `domain` and every one of `alternate_domains` are normalized by
 * norm_domain_parse (scheme, path, port and www./mail./m. prefixes removed,
 * IDN to ASCII) and owned through the unique index kind "account_domain":
 * a domain another account owns is refused with PV_EEXISTS naming the field
 * ("/domain", "/alternate_domains/2"). Contacts link to accounts through
 * the same index (contacts.h).
 *
 * Deleted accounts keep their domains reserved: restoring must never fail
 * on a conflict, and a domain reused by a new account would silently
 * re-route the contacts of the old one. Creating or upserting an account
 * with such a domain is refused (PV_EEXISTS, detail names the deleted
 * account); restore it, or remove the domain from it first. Contacts do not
 * link to deleted accounts.
 *
 * Hierarchy. parent_id names a live account; setting it walks up the parent
 * chain (reading each account's stream) and refuses a cycle or a chain
 * deeper than ACCT_MAX_DEPTH with PV_EINVAL on "/parent_id".
 *
 * Custom fields are defined per tenant (custom_field.defined, one stream
 * "custom_fields-account") with a type; values are checked against the
 * definition on every write (PV_EINVAL on "/custom_fields/NAME").
 *
 * Industry. decide functions do no I/O, so classification happens before a
 * command is submitted: acct_enrich() runs an acct_enricher (the built-in
 * rule table, or the HTTP provider of adapters/enrich/enrich_http.h) and
 * fills the input's industry with source "enrichment" when the input has
 * none.
 *
 * Fields keep provenance (source, time observed) like contacts but account
 * writes are explicit: the latest write wins (SURV_LATEST_WRITE).
 *
 * Events: account.created, account.updated (both carry `changes` as in
 * survivorship.h, and alternate_domains_added / _removed), account.deleted,
 * account.restored, custom_field.defined.
 *
 * Thread: pure functions anywhere; *_decide on the writer thread.
 */
#ifndef PV_ACCOUNTS_H
#define PV_ACCOUNTS_H

#include "core/common/pv_buf.h"
#include "core/entity.h"
#include "core/norm/norm.h"
#include "core/survivorship.h"
#include "core/writer.h"

/* Parent chains deeper than this are refused: real corporate trees are a
 * handful of levels; 32 is arbitrary and bounds the walk in decide. */
#define ACCT_MAX_DEPTH 32
/* 32 alternate domains: arbitrary; groups with more brands are rare and
 * would need a domain-set, not an account. */
#define ACCT_MAX_ALT_DOMAINS 32
#define ACCT_MAX_CUSTOM 64 /* custom values per write; arbitrary */
#define ACCT_CF_NAME_MAX 40
#define ACCT_CF_TEXT_MAX 1024
#define ACCT_CF_MAX_OPTIONS 64

/* XX(NAME, "name"): the account's own fields (custom ones apart). */
#define ACCT_FIELD_MAP(XX)                                                    \
  XX(NAME, "name")                                                            \
  XX(DOMAIN, "domain")                                                        \
  XX(PARENT_ID, "parent_id")                                                  \
  XX(INDUSTRY, "industry")                                                    \
  XX(SIC_CODE, "sic_code")                                                    \
  XX(NAICS_CODE, "naics_code")                                                \
  XX(COUNTRY, "country")

typedef enum acct_field {
#define ACCT__XX(name, str) ACCT_F_##name,
  ACCT_FIELD_MAP(ACCT__XX)
#undef ACCT__XX
  ACCT_FIELD_COUNT
} acct_field;

const char *acct_field_name(acct_field f);

/* XX(NAME, "name"): custom field types. */
#define ACCT_CF_TYPE_MAP(XX)                                                  \
  XX(TEXT, "text")                                                            \
  XX(NUMBER, "number")                                                        \
  XX(DATE, "date")                                                            \
  XX(BOOLEAN, "boolean")                                                      \
  XX(SELECT, "select")

typedef enum acct_cf_type {
#define ACCT__XX(name, str) ACCT_CF_##name,
  ACCT_CF_TYPE_MAP(ACCT__XX)
#undef ACCT__XX
  ACCT_CF_TYPE_COUNT
} acct_cf_type;

/* The type by name; -1 if unknown. */
int acct_cf_type_by_name(const char *name);
const char *acct_cf_type_name(acct_cf_type t);

/* A custom field value. type SURV_NIL clears it. */
typedef struct acct_custom_value {
  const char *name;
  surv_vtype type;
  const char *str; /* text, date (YYYY-MM-DD), select */
  double num;      /* number */
  bool b;          /* boolean */
} acct_custom_value;

typedef struct acct_custom {
  char name[ACCT_CF_NAME_MAX + 1];
  surv_field field;
} acct_custom;

typedef struct acct_state {
  char id[ENTITY_ID_LEN + 1];
  bool exists, deleted;
  surv_field fields[ACCT_FIELD_COUNT];
  char **alt_domains;
  size_t alt_count;
  acct_custom *custom;
  size_t custom_count;
} acct_state;

void acct_state_init(acct_state *st);
void acct_state_release(acct_state *st);
/* An entity_apply_fn over an acct_state. Returns: 0 or a read error. */
int acct_apply(void *st, const char *type, size_t type_len, const void *payload, size_t len);
/* Canonical text of the state (alternate domains and custom fields sorted). */
void acct_state_format(const acct_state *st, pv_buf *out);

/* One custom field definition. */
typedef struct acct_cf_def {
  char name[ACCT_CF_NAME_MAX + 1];
  acct_cf_type type;
  char **options; /* select */
  size_t option_count;
} acct_cf_def;

typedef struct acct_defs {
  acct_cf_def *defs;
  size_t count;
} acct_defs;

void acct_defs_release(acct_defs *d);
/* entity_apply_fn over acct_defs (custom_field.defined events). */
int acct_defs_apply(void *defs, const char *type, size_t type_len, const void *payload,
                    size_t len);
const acct_cf_def *acct_defs_find(const acct_defs *d, const char *name);

/*
 * Checks a value against its definition (pure).
 * Returns: 0 or PV_EINVAL on "/custom_fields/NAME" (no such field, wrong
 * type, a date that is not a real YYYY-MM-DD day, a number that is not
 * finite, an option not in the list, text over ACCT_CF_TEXT_MAX).
 */
int acct_custom_check(const acct_defs *d, const acct_custom_value *v, pv_error *err);

/* ---- input ------------------------------------------------------------ */

/*
 * An account write. NULL = leave as is; "" = clear (not allowed for a
 * create's name). alternate_domains replaces the whole list when
 * alternate_domains_set.
 */
typedef struct acct_input {
  const char *name;
  const char *domain;
  const char *const *alternate_domains;
  size_t alternate_domain_count;
  bool alternate_domains_set;
  const char *parent_id;
  const char *industry;
  const char *industry_source; /* provenance of industry; NULL = source */
  const char *sic_code;        /* 4 digits */
  const char *naics_code;      /* 2 to 6 digits */
  const char *country;
  const acct_custom_value *custom;
  size_t custom_count;
  const char *source;     /* required */
  int64_t observed_at_us; /* required, > 0 */
} acct_input;

/* ---- industry enrichment ---------------------------------------------- */

/* XX(NAME, "name"): the industries the classifier answers with. */
#define ACCT_INDUSTRY_MAP(XX)                                                 \
  XX(AGRICULTURE, "agriculture")                                              \
  XX(MINING_ENERGY, "mining_and_energy")                                      \
  XX(CONSTRUCTION, "construction")                                            \
  XX(MANUFACTURING, "manufacturing")                                          \
  XX(WHOLESALE, "wholesale")                                                  \
  XX(RETAIL, "retail")                                                        \
  XX(TRANSPORTATION, "transportation")                                        \
  XX(SOFTWARE, "software")                                                    \
  XX(TELECOM, "telecommunications")                                           \
  XX(MEDIA, "media")                                                          \
  XX(FINANCE, "financial_services")                                           \
  XX(INSURANCE, "insurance")                                                  \
  XX(REAL_ESTATE, "real_estate")                                              \
  XX(PROFESSIONAL_SERVICES, "professional_services")                          \
  XX(EDUCATION, "education")                                                  \
  XX(HEALTHCARE, "healthcare")                                                \
  XX(HOSPITALITY, "hospitality")                                              \
  XX(GOVERNMENT, "government")                                                \
  XX(NONPROFIT, "nonprofit")

typedef struct acct_enrich_in {
  const char *name, *domain, *description, *sic_code, *naics_code;
} acct_enrich_in;

/*
 * An industry classifier. classify fills `industry` (one of
 * ACCT_INDUSTRY_MAP's names, or "" when it cannot tell) and returns 0 or a
 * PV_E* code (an HTTP provider: PV_EUNAVAILABLE, PV_ETIMEDOUT). It may do
 * I/O, so it runs before a command is submitted, never inside decide.
 */
typedef struct acct_enricher acct_enricher;
struct acct_enricher {
  const char *source; /* the provenance it writes: "enrichment" */
  int (*classify)(const acct_enricher *self, const acct_enrich_in *in, char *industry,
                  size_t cap, pv_error *err);
  void *impl;
};

/* The built-in rule-based classifier (NAICS prefix, then SIC range, then
 * keywords of the name, description and domain). Thread: any. */
const acct_enricher *acct_enricher_rules(void);

/*
 * When in->industry is NULL, classifies and points in->industry at buf and
 * in->industry_source at the enricher's source; a classifier that cannot
 * tell leaves the input as it was. description feeds the classifier only.
 * Returns: 0 or the classifier's error.
 */
int acct_enrich(const acct_enricher *e, acct_input *in, const char *description, char *buf,
                size_t cap, pv_error *err);

/* ---- commands (writer decide functions) ------------------------------- */

/*
 * arg: acct_write_arg. create: a new account (name or domain required).
 * update: the account `id`. upsert: the account owning `in.domain`
 * (primary or alternate), else a new one.
 * Returns: 0, PV_EINVAL (bad input, cycle, custom value), PV_EEXISTS (a
 * domain owned by another account, or an upsert reaching a deleted one),
 * PV_ENOTFOUND (update of an absent or deleted account; parent absent).
 */
typedef struct acct_write_arg {
  acct_input in;
  const char *id; /* update only */
  /* out */
  char out_id[ENTITY_ID_LEN + 1];
  bool created;
  size_t changed_fields;
} acct_write_arg;
int acct_create_decide(writer_ctx *ctx, void *arg, pv_error *err);
int acct_update_decide(writer_ctx *ctx, void *arg, pv_error *err);
int acct_upsert_decide(writer_ctx *ctx, void *arg, pv_error *err);

/* arg: acct_id_arg. Returns: 0 (no event when already so) or PV_ENOTFOUND. */
typedef struct acct_id_arg {
  const char *id;
  bool changed;
} acct_id_arg;
int acct_delete_decide(writer_ctx *ctx, void *arg, pv_error *err);
int acct_restore_decide(writer_ctx *ctx, void *arg, pv_error *err);

/* arg: acct_field_def_arg. Defining the same field again with the same type
 * and options writes nothing; another type or options is PV_EEXISTS.
 * Returns: 0, PV_EINVAL (name not [a-z][a-z0-9_]*, ≤ ACCT_CF_NAME_MAX; a
 * select without options or with a duplicate), PV_EEXISTS. */
typedef struct acct_field_def_arg {
  const char *name;
  acct_cf_type type;
  const char *const *options;
  size_t option_count;
} acct_field_def_arg;
int acct_define_field_decide(writer_ctx *ctx, void *arg, pv_error *err);

/* Folds an account through the decide's view. Returns: as entity_fold. */
int acct_load(writer_ctx *ctx, const char *id, acct_state *st, pv_error *err);

/* The id of the live account owning `domain` (a normalized domain), in
 * out, or "" (none, or deleted). Returns: 0 or PV_ECORRUPT. */
int acct_find_live_by_domain(writer_ctx *ctx, const char *domain,
                             char out[ENTITY_ID_LEN + 1], pv_error *err);

#endif
