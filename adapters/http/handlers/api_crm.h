/*
 * api_crm — what the account, contact and bulk handler files share: JSON
 * bodies into the aggregates' inputs (core/accounts.h, core/contacts.h),
 * the If-Match guard around a decide function, the answer of a command on
 * an entity, and the bulk job runner's life cycle inside the api.
 *
 * Every write names a bad field by its JSON pointer ("/email",
 * "/contacts/3/email", "/alternate_domains/2"): the aggregates name the
 * field of their input, and the batch and bulk routes prefix the row.
 *
 * Thread: the api loop's, except where a function says otherwise.
 */
#ifndef PV_API_CRM_H
#define PV_API_CRM_H

#include "adapters/http/handlers/api_internal.h"
#include "core/accounts.h"
#include "core/contacts.h"

/* The source of writes through the API when the body names none, and of a
 * user's edit (PATCH, bulk update). */
#define CRM_SOURCE_API "api"
#define CRM_SOURCE_MANUAL "manual"

/* ---- JSON into inputs (pure; strings point into the cJSON tree) -------- */

/* Decoded body as a JSON object; answers the request and returns non-zero
 * on error. */
int crm_object_body(http_request *req, cJSON **body);

/* RFC 3339 ("2026-11-26T09:00:00Z", fraction and offset allowed) or an
 * integer of microseconds since the epoch into µs.
 * Returns: 0 or PV_EINVAL (err names field). */
int crm_parse_time(const cJSON *v, const char *field, int64_t *us, pv_error *err);

/*
 * Reads a contact object into in. ext_ids must hold CONTACT_MAX_EXT_IDS.
 * source_default fills in->source when the body has none ("manual" forces
 * it: a user's edit names no other source); observed_at defaults to now.
 * Unknown members are refused. Returns: 0 or PV_EINVAL / PV_EBADTYPE with
 * err->field relative to the object ("/email").
 */
int crm_contact_input(const cJSON *obj, const char *source_default, contact_input *in,
                      contact_ext_id *ext_ids, pv_error *err);

/* An account's JSON input: the fields, plus the arrays it points into. */
typedef struct crm_acct_body {
  acct_input in;
  const char *alt[ACCT_MAX_ALT_DOMAINS];
  acct_custom_value custom[ACCT_MAX_CUSTOM];
  const char *description; /* for the classifier only */
  char industry[64];       /* the classifier's answer */
} crm_acct_body;

/* Reads an account object (see crm_contact_input for the defaults).
 * Returns: 0 or PV_EINVAL / PV_EBADTYPE. */
int crm_acct_input(const cJSON *obj, const char *source_default, crm_acct_body *b,
                   pv_error *err);

/* Prefixes err->field with prefix ("/contacts/3"). */
void crm_error_prefix(pv_error *err, const char *prefix);

/* ---- the command path -------------------------------------------------- */

/* A decide with If-Match: the stream's version must equal expected (unless
 * LOG_EXPECT_ANY) or the command fails with PV_EPRECONDITION. */
typedef struct crm_guard {
  int64_t expected;
  char stream[ENTITY_STREAM_MAX + 1];
  writer_decide_fn inner;
  void *inner_arg;
} crm_guard;
int crm_guard_decide(writer_ctx *ctx, void *arg, pv_error *err);

/* Starts an op for the request's principal with its Idempotency-Key and,
 * when id is given, If-Match (into guard: expected and stream "<kind>-<id>";
 * without id the guard lets everything through). Answers the request and
 * returns NULL on a bad header. */
api_op *crm_op(http_request *req, crm_guard *guard, const char *kind, const char *id);

/* The answer of a command on entity kind (its id in op->entity_id): as
 * api_op_answer, the version read from the log when nothing was written.
 * Frees op. */
void crm_answer(api_op *op, const char *kind, int status);

/* The stream's version in the log (0: none). */
uint64_t crm_stream_version(api *a, const char *tenant, const char *stream);

/* ---- bulk jobs (api_bulk.c) ------------------------------------------- */

/* Resumes the unfinished jobs of the api's default tenant (called by
 * api_new once the api exists). */
void crm_jobs_resume(api *a);
/* Asks every running job to stop after its in-flight commands (api_stop). */
void crm_jobs_stop(api *a);
/* Joins the job threads and frees them (api_free; the writer still runs). */
void crm_jobs_free(api *a);

/* ---- handlers named in routes.def -------------------------------------- */

void api_accounts_create(http_request *req);
void api_accounts_update(http_request *req);
void api_accounts_upsert(http_request *req);
void api_accounts_delete(http_request *req);
void api_accounts_restore(http_request *req);
void api_accounts_parent(http_request *req);
void api_custom_fields_define(http_request *req);
void api_contacts_upsert(http_request *req);
void api_contacts_update(http_request *req);
void api_contacts_delete(http_request *req);
void api_contacts_restore(http_request *req);
void api_contacts_merge(http_request *req);
void api_contacts_unmerge(http_request *req);
void api_contacts_relink(http_request *req);
void api_contacts_batch(http_request *req);
void api_notes_add(http_request *req);
void api_contacts_bulk(http_request *req);
void api_accounts_bulk(http_request *req);
void api_jobs_get(http_request *req);

#endif
