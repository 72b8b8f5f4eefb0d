/*
 * api_query — what the query routes share: a list query's filters, sort
 * and keyset pagination built from the URL's query string against
 * whitelist tables, run on the read models through the api's pg_pool, and
 * the same query exported as a streamed CSV or JSON body.
 *
 * Rules. SQL text is assembled only from the fragments of a resource's
 * tables (apiq_resource: compile-time strings); every value a client sends
 * is a parameter ($n). A parameter not in the table, a duplicate, a value
 * that is not UTF-8 or holds a NUL, a sort not in the whitelist, a bad
 * cursor or limit answers 400 problem+json naming the parameter as a JSON
 * pointer ("/sort", "/cursor", "/limit", "/updated_since", ...).
 *
 * Pagination is keyset, never OFFSET: rows are ordered by (sort key,
 * tiebreak) and the opaque cursor (base64url of ["sort", key, tiebreak])
 * holds the last row's pair; the next page is the rows after it. A cursor
 * is only valid with the sort that made it. Next to the row comparison
 * ((sort), tiebreak) > (key, tiebreak) goes the redundant (sort) >= key
 * (<= descending): an index on the sort key can start there even when the
 * tiebreak is computed (the audit trail's seq, from a jsonb array), where
 * the row comparison alone made a deep page scan from the first row.
 *
 * Export: the list's query (same filters and sort, no limit) runs as a
 * server-side cursor (BEGIN READ ONLY; DECLARE ... NO SCROLL CURSOR;
 * FETCH APIQ_EXPORT_FETCH) on a connection of its own (pg_pool_acquire),
 * each batch written as one chunk of a streamed answer
 * (http_respond_start/chunk/end), fetching the next batch only when the
 * socket has room: memory is one batch plus the write backlog, whatever
 * the row count. CSV follows RFC 4180 (CRLF, quotes doubled, fields with
 * a comma, quote, CR or LF quoted) and a cell starting with = + - @ (or
 * tab / CR) is prefixed with a single quote so spreadsheets do not run it
 * as a formula (OWASP CSV injection).
 *
 * Thread: the api's loop.
 */
#ifndef PV_API_QUERY_H
#define PV_API_QUERY_H

#include "adapters/http/handlers/api_internal.h"

/* Pages: 50 by default, at most 1000 (arbitrary; one page of 1000 contacts
 * is ~1 MB of JSON). */
#define APIQ_LIMIT_DEFAULT 50
#define APIQ_LIMIT_MAX 1000
/* A filter value: 512 bytes at most (arbitrary; longer than any email,
 * domain or name we keep). */
#define APIQ_VALUE_MAX 512
/* Export: rows per FETCH (the 1000: ~200 KB of CSV per round trip). */
#define APIQ_EXPORT_FETCH 1000
/* Search: 20 results by default, at most 100 (arbitrary). */
#define APIQ_SEARCH_DEFAULT 20
#define APIQ_SEARCH_MAX 100

/* The audit trail, one row per change: rm_lib.field_changes() (schema/
 * 056) expands the one row per event of rm_field_changes.events; inlined
 * by the planner, the routes' conditions on tenant, entity, entity_id,
 * actor and position reach the table's indexes. */
#define APIQ_AUDIT_FROM "rm_lib.field_changes() r"

/* Items of the audit trail (APIQ_AUDIT_FROM) and the timeline
 * (rm_timeline.entries r), shared by the contact, account and actor routes. */
#define APIQ_AUDIT_ITEM                                                                \
  "jsonb_build_object('position', r.position, 'seq', r.seq, 'entity', r.entity, " \
  "'entity_id', r.entity_id, 'field', r.field, 'old', r.old_value, "              \
  "'new', r.new_value, 'source', r.source, 'priority', r.priority, "              \
  "'observed_at', r.observed_at, 'actor', r.actor, "                              \
  "'at', rm_lib.ts_text(r.ts), 'event_type', r.event_type)"

#define APIQ_TIMELINE_ITEM                                                             \
  "jsonb_build_object('position', r.position, 'at', rm_lib.ts_text(r.ts), "       \
  "'kind', r.kind, 'event_type', r.event_type, 'actor', r.actor, "                \
  "'detail', r.detail)"

typedef enum apiq_kind { APIQ_TEXT, APIQ_INT } apiq_kind;

/* One sortable field: `sort=name` ascending, `sort=-name` descending. */
typedef struct apiq_sort {
  const char *name; /* the client's name */
  const char *expr; /* SQL over the row alias r, e.g. "coalesce(r.email, '')" */
  apiq_kind kind;
} apiq_sort;

/* How a filter's value is checked before it becomes a parameter. */
typedef enum apiq_check {
  APIQ_CHECK_TEXT,  /* any UTF-8 */
  APIQ_CHECK_TIME,  /* RFC 3339 date or date-time */
  APIQ_CHECK_LIKE,  /* UTF-8; LIKE wildcards escaped: the SQL wraps it in % */
} apiq_check;

/* One filter: `param=value` adds `sql` to the WHERE clause, where every
 * "$?" stands for the value's parameter. */
typedef struct apiq_filter {
  const char *param;
  const char *sql;
  apiq_check check;
} apiq_filter;

typedef struct apiq_resource {
  const char *from;          /* "rm_contacts.contacts r" */
  const char *where;         /* base condition over $1 (tenant) and the fixed values */
  const char *live;          /* added unless deleted=true|any ("NOT r.deleted"); NULL: no
                                `deleted` parameter */
  const char *deleted;       /* added for deleted=true ("r.deleted") */
  const char *tiebreak;      /* unique within a page's order with the key ("r.id") */
  apiq_kind tiebreak_kind;
  const apiq_sort *sorts;
  size_t n_sorts;
  const char *default_sort;  /* "email" or "-position" */
  const apiq_filter *filters;
  size_t n_filters;
  const char *required;      /* a filter parameter that must be given, or NULL */
  const char *item;          /* SQL expression of one item as json/jsonb */
  /* export: CSV columns (SQL expressions as text, and their header) */
  const char *const *csv_exprs;
  const char *const *csv_names;
  size_t n_csv;
  const char *file_name;     /* "contacts": contacts.csv / contacts.json */
  /* run first when set: must return one row, else 404 (the parent entity) */
  const char *exists_sql;
} apiq_resource;

/* A built query. Ownership: apiq_release. */
typedef struct apiq_query {
  pv_buf sql;
  pv_buf store;        /* parameter values, NUL-separated */
  size_t off[32];
  int n;               /* parameters */
  long limit;
  const apiq_sort *sort;
  bool desc;
  bool csv;            /* export format */
} apiq_query;

/* The URL's query parameters, percent-decoded ('+' is a space), each
 * checked: a lower-case name given once, a UTF-8 value without NUL of at
 * most APIQ_VALUE_MAX bytes. 24 parameters at most (arbitrary; a list
 * takes a dozen). */
#define APIQ_PARAMS_MAX 24
typedef struct apiq_params {
  size_t n;
  char names[APIQ_PARAMS_MAX][40];
  const char *values[APIQ_PARAMS_MAX];
  pv_buf store;
} apiq_params;
/* Returns: 0 or PV_EINVAL (field "/name"). Ownership: apiq_params_release,
 * also on error. */
int apiq_params_parse(const char *qs, apiq_params *p, pv_error *err);
void apiq_params_release(apiq_params *p);
/* Appends v with LIKE's wildcards (% _) and its escape (\) escaped. */
void apiq_like_escape(const char *v, pv_buf *out);

typedef enum apiq_mode { APIQ_LIST, APIQ_EXPORT } apiq_mode;

/*
 * Builds the SELECT of res for the URL query string `qs` (raw, as
 * http_request_query gives it); fixed[0..n_fixed) are $1.. (tenant first).
 * LIST: SELECT key, tiebreak, item ... ORDER BY ... LIMIT limit+1.
 * EXPORT: SELECT the CSV columns or the item (format=csv|json), no limit.
 * Returns: 0 or PV_EINVAL (err->field names the parameter).
 */
int apiq_build(const apiq_resource *res, apiq_mode mode, const char *qs,
               const char *const *fixed, size_t n_fixed, apiq_query *q, pv_error *err);
void apiq_release(apiq_query *q);
/* The values as the pg_pool_query's array (valid until apiq_release). */
void apiq_values(const apiq_query *q, const char *values[32]);

/* The opaque cursor of a row: base64url of ["[-]sort", key, tiebreak].
 * Appends to out. */
void apiq_cursor_encode(const apiq_query *q, const char *key, const char *tiebreak, pv_buf *out);

/* CSV: appends one cell, RFC 4180 quoted when needed, formula-protected.
 * NULL is an empty cell. */
void apiq_csv_cell(pv_buf *out, const char *s, size_t len);

/* Handlers' entry points: answer req. fixed as in apiq_build. */
void apiq_list(http_request *req, const apiq_resource *res, const char *const *fixed,
               size_t n_fixed);
void apiq_export(http_request *req, const apiq_resource *res, const char *const *fixed,
                 size_t n_fixed);
/* One row of `sql` ($1.. = fixed) whose single column is a JSON text:
 * 200 with it, or 404 (`what` names the entity in the message). */
void apiq_get(http_request *req, const char *sql, const char *const *fixed, size_t n_fixed,
              const char *what);

/* The principal's tenant (the routes require authentication). */
const char *apiq_tenant(http_request *req);

#endif
