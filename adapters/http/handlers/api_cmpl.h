/*
 * api_cmpl — helpers shared by the handlers of issue 7 (suppressions,
 * unsubscribe, consent, leads, orders): the acting principal as the write
 * side's actor_ref, server-made ids, the query string, JSON bodies, and
 * read-model queries on the API's pool whose rows PostgreSQL renders as
 * JSON text (json_build_object), so the handler only joins them.
 *
 * Client isolation rule for every query here: a client user's rows are
 * selected by its client id in the WHERE clause, so another client's id
 * finds no row and answers exactly as a missing one (cmpl_not_found).
 *
 * Thread: the API loop's.
 */
#ifndef PV_API_CMPL_H
#define PV_API_CMPL_H

#include "adapters/http/handlers/api_internal.h"
#include "core/actor.h"
#include "core/common/pv_time.h"

#include <libpq-fe.h>
#include <stdbool.h>

/* Items of one list page: default and cap. Arbitrary: a screenful, and a
 * page that stays well under a megabyte of JSON. */
#define CMPL_PAGE_DEFAULT 50
#define CMPL_PAGE_MAX 500
/* Bytes of a server-made id with its NUL (a ULID is 26 characters). */
#define CMPL_ID_MAX 27

/* The principal as the write side's actor. Ownership: points into ap. */
actor_ref cmpl_actor(const api_principal *ap);
bool cmpl_is_client(const api_principal *ap);
/* The client scope of a read: the client user's client, "" for staff. */
const char *cmpl_scope(const api_principal *ap);

/* A new id: a ULID (48-bit milliseconds, 80 random bits, Crockford base32). */
void cmpl_new_id(char out[CMPL_ID_MAX]);

/* Answers a problem with code, field (may be NULL) and message. */
void cmpl_fail(http_request *req, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The buffered body as a JSON object; answers and returns non-zero when it
 * is not one. */
int cmpl_object_body(http_request *req, cJSON **body);

/*
 * The query parameter name, percent-decoded ('+' is a space), into out.
 * Returns: 1 (found), 0 (absent) or PV_EINVAL (too long, or a bad escape;
 * answered already with field "/query/<name>").
 */
int cmpl_query_param(http_request *req, const char *name, char *out, size_t cap);

/* A page size from ?limit= (CMPL_PAGE_DEFAULT when absent).
 * Returns: 0 or PV_EINVAL (answered). */
int cmpl_limit(http_request *req, int *limit);

/* Called with the rows of a query that succeeded. */
typedef void (*cmpl_rows_fn)(http_request *req, PGresult *res, void *ctx);

/*
 * Runs sql on the API's pool and calls fn on success; answers the error
 * itself otherwise (503 without a database or when the pool is full, 500
 * on a failing statement). ctx is freed with free() after fn when
 * free_ctx is set (fn must not free it then).
 */
void cmpl_query(http_request *req, const char *sql, int n, const char *const *values,
                cmpl_rows_fn fn, void *ctx, bool free_ctx);

/* Answers 200 with column 0 of row 0 (JSON text), or 404 "no such <what>"
 * when there is no row: the answer for missing and for other clients'. */
void cmpl_one(http_request *req, PGresult *res, const char *what);
void cmpl_not_found(http_request *req, const char *what);

/* Answers a list page: column 0 of each row is an item (JSON text),
 * column 1 its cursor; one row past limit means there is a next page. */
void cmpl_page(http_request *req, PGresult *res, int limit);

/* Appends one CSV field (RFC 4180): quoted when it holds a comma, quote,
 * CR or LF; a leading = + - @ is prefixed with ' so that a spreadsheet
 * does not run it as a formula (OWASP CSV injection). */
void cmpl_csv_field(pv_buf *out, const char *s);

/* Handlers named in adapters/http/routes.def. */
void api_supp_add(http_request *req);
void api_supp_remove(http_request *req);
void api_supp_check(http_request *req);
void api_supp_bulk(http_request *req);
void api_supp_list(http_request *req);
void api_supp_export(http_request *req);
void api_supp_history(http_request *req);
void api_unsub_page(http_request *req);
void api_unsub_post(http_request *req);
void api_consent_change(http_request *req);
void api_consent_get(http_request *req);
void api_leads_create(http_request *req);
void api_leads_list(http_request *req);
void api_leads_get(http_request *req);
void api_leads_act(http_request *req);
void api_leads_bulk(http_request *req);
void api_campaign_checklist(http_request *req);
void api_orders_create(http_request *req);
void api_orders_list(http_request *req);
void api_orders_get(http_request *req);
void api_orders_link(http_request *req);
void api_orders_unlink(http_request *req);
void api_orders_status(http_request *req);
void api_orders_stats(http_request *req);
void api_orders_leads_csv(http_request *req);
void api_orders_downloads(http_request *req);
void api_orders_download_get(http_request *req);

#endif
