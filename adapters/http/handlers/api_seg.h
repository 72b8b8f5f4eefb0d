/*
 * api_seg — what the handlers of issue 6 (api_segments.c: fields, preview,
 * segments, saved filters; api_lists.c: lists, convert, export) share:
 * the acting user as core/segments.h's aud_who, the visibility condition
 * of every read, body checks, and the command path of an aud_cmd.
 *
 * Visibility of reads: the SQL of every query here has $1 = tenant, $2 =
 * the user's id and $3 = the user's team, and selects rows through
 * SEG_VISIBLE(alias); a row the user may not see answers exactly like a
 * missing one (404 "no such segment").
 *
 * Thread: the API loop's.
 */
#ifndef PV_API_SEG_H
#define PV_API_SEG_H

#include "adapters/http/handlers/api_cmpl.h"
#include "core/mp.h"
#include "core/segments.h"
#include "core/seg_filter.h"

/* The visibility rule of core/segments.h as SQL over a row alias. */
#define SEG_VISIBLE(t)                                                         \
  "(" t ".tenant = $1 AND NOT " t ".deleted AND (" t ".owner = $2 OR " t       \
  ".visibility = 'global' OR (" t ".visibility = 'team' AND " t ".team = $3)))"

/* Names are 1..200 bytes; tags at most 32 of 1..64 bytes each. Arbitrary:
 * a screen's worth. */
#define SEG_NAME_MAX 200
#define SEG_TAGS_MAX 32
#define SEG_TAG_MAX 64

/* The acting user (team: the user's role name, docs/segments.md). */
void seg_who(const api_principal *ap, aud_who *out);

/* The three visibility parameters of the principal, for values[0..2]. */
void seg_vis_values(const api_principal *ap, const char *values[3]);

/*
 * Checks body member "filter" as a filter of entity, and packs it as JSON
 * text into *text (malloc'd). Pointer of errors: "/filter...".
 * Returns: 0, or a PV_E* code with e filled.
 */
int seg_check_filter(const cJSON *body, seg_entity entity, char **text, pv_error *e);

/* Packs "name", "tags", "visibility" from body members name, tags,
 * visibilityScope (required ones when create) into pk, counting the map
 * entries it wrote in *n. Returns: 0 or PV_EINVAL / PV_EBADTYPE. */
int seg_pack_common(const cJSON *body, bool create, msgpack_packer *pk, uint32_t *n,
                    pv_error *e);

/* One aud command in flight. */
typedef struct seg_job {
  aud_cmd cmd;
  pv_buf payload;
  char id[CMPL_ID_MAX];
  char user_id[AUTH_ID_MAX];
  char team[32];
  char **records; /* owned copies of cmd.record_ids */
  size_t nrecords;
  char *filter_text;
  seg_entity filter_entity;
  int status;     /* the answer's status on success */
  const char *location_prefix; /* "/api/segments/" ... or NULL */
} seg_job;

seg_job *seg_job_new(const api_principal *ap, aud_kind kind, aud_action action, const char *id);
void seg_job_free(void *p);
/* Takes copies of ids[0..n) as the command's record ids. */
void seg_job_records(seg_job *j, const char *const *ids, size_t n);
/* Submits j (answering the error itself when binding fails). */
void seg_job_submit(http_request *req, seg_job *j);

/* A statement made at run time (a compiled filter) and its parameters,
 * kept alive until its query ends (pg_pool_query keeps only a pointer to
 * the SQL text). Parameters: the head values the caller gives, then the
 * compiled filter's (so compile with seg_sql_init(&s->q, nhead + 1)). */
typedef struct seg_stmt {
  pv_buf sql;
  seg_sql q;
  const char **values;
  int nvalues;
} seg_stmt;

/* A statement with q numbered from $2 (first_param 2). */
seg_stmt *seg_stmt_new(void);
void seg_stmt_free(seg_stmt *s);
/* values = head[0..nhead) then q's parameters (head strings must live
 * until the query ends). */
void seg_stmt_params(seg_stmt *s, const char *const *head, int nhead);
/* Runs s on the API's pool; fn gets the rows and owns ctx from then on.
 * Errors are answered here, and ctx_free (may be NULL) frees ctx when fn
 * is not called. s is freed after. */
void seg_stmt_run(http_request *req, seg_stmt *s, cmpl_rows_fn fn, void *ctx,
                  void (*ctx_free)(void *));
/* seg_stmt_run for a fixed statement (sql: a string literal). */
void seg_query(http_request *req, const char *sql, int n, const char *const *values,
               cmpl_rows_fn fn, void *ctx, void (*ctx_free)(void *));

/* Handlers named in adapters/http/routes.def. */
void api_seg_fields(http_request *req);
void api_seg_preview(http_request *req);
void api_seg_create(http_request *req);
void api_seg_list(http_request *req);
void api_seg_get(http_request *req);
void api_seg_update(http_request *req);
void api_seg_delete(http_request *req);
void api_seg_refresh(http_request *req);
void api_seg_convert(http_request *req);
void api_filters_create(http_request *req);
void api_filters_list(http_request *req);
void api_filters_get(http_request *req);
void api_filters_delete(http_request *req);
void api_lists_create(http_request *req);
void api_lists_list(http_request *req);
void api_lists_get(http_request *req);
void api_lists_update(http_request *req);
void api_lists_delete(http_request *req);
void api_lists_add(http_request *req);
void api_lists_remove(http_request *req);
void api_lists_members(http_request *req);
void api_lists_export(http_request *req);

#endif
