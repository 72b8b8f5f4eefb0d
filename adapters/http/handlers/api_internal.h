/*
 * api_internal — what the handler files of adapters/http/handlers share:
 * the api struct, the principal of a request, the command path (api_op)
 * and small request helpers. Not for other modules: they use api.h.
 */
#ifndef PV_API_INTERNAL_H
#define PV_API_INTERNAL_H

#include "adapters/auth/auth_jwt.h"
#include "adapters/auth/auth_lockout.h"
#include "adapters/auth/auth_password.h"
#include "adapters/auth/auth_role.h"
#include "adapters/http/handlers/api.h"
#include "adapters/pg/pg_pool.h"
#include "core/domainsets/ds_service.h"
#include "core/users.h"

#include <pthread.h>

/* Per-user auth state cached on the loop, keyed by (tenant, user id) and
 * checked against the stream's version on every request, so a change is
 * seen at once. 1024 slots, direct-mapped: arbitrary; a miss costs one
 * stream fold (a few µs). */
#define API_USER_CACHE 1024
/* Login lockout keys held in memory (tenant and normalized email): 4096
 * slots, 4 probes, the stalest evicted. Arbitrary; a restart or an attacker
 * spraying more addresses than that clears old counts, which only gives
 * back a few attempts per address. */
#define API_LOCKOUT_SLOTS 4096
#define API_LOCKOUT_KEY_MAX 320

typedef struct api_user_entry {
  char tenant[AUTH_ID_MAX];
  char user_id[AUTH_ID_MAX];
  uint64_t version; /* 0: empty slot */
  users_state state;
} api_user_entry;

typedef struct api_lockout_entry {
  char key[API_LOCKOUT_KEY_MAX];
  int64_t fail_s[AUTH_LOCKOUT_KEEP + 1];
  size_t n;
} api_lockout_entry;

typedef struct api_op api_op;
typedef struct api_imports api_imports;
typedef struct crm_jobs crm_jobs; /* api_bulk.c */

struct api {
  uv_loop_t *loop;
  api_config cfg;
  uint8_t key[API_JWT_KEY_MAX];
  writer_t *writer;
  log_t *log;
  http_server *srv;
  auth_jwt *jwt;
  auth_pwpool *pool;
  uv_async_t done_async; /* the writer's completions */
  uv_async_t stop_async;
  pthread_mutex_t done_lock;
  api_op *done_head, *done_tail;
  bool listening;
  api_user_entry *users;      /* API_USER_CACHE slots */
  api_lockout_entry *lockout; /* API_LOCKOUT_SLOTS slots */
  pg_pool *db;                /* read models; NULL when not configured */
  uint8_t unsub_key[API_UNSUB_KEY_BYTES];
  char phone_region[8];
  ds_service *dsets;          /* domain-set worker, started on first use */
  api_imports *imports;       /* NULL without a data directory */
  crm_jobs *jobs;             /* bulk jobs (api_crm.h) */
  unsigned enrich_in_flight;  /* provider lookups on the pool (api_accounts.c) */
};

/* The authenticated principal of a request (http_request_principal). */
typedef struct api_principal {
  auth_principal p;
  char actor[AUTH_ID_MAX + 8]; /* "user:<id>" */
} api_principal;

/*
 * One command in flight. The handler allocates it (api_op_new), fills
 * cmd.decide / cmd.arg and finish, and calls api_op_submit; finish runs
 * on the loop once the command is durable (or failed) and must answer the
 * request and free the op (api_op_free). `data` is the handler's own
 * state, freed with the op when data_free is set.
 */
struct api_op {
  writer_cmd cmd;
  api *app;
  http_request *req;
  void (*finish)(api_op *op);
  void *data;
  void (*data_free)(void *data);
  char tenant[AUTH_ID_MAX];
  char actor[AUTH_ID_MAX + 8];
  char idempotency[EVT_MAX_IDEMPOTENCY + 1];
  char entity_id[USERS_ID_MAX]; /* the id to answer with */
  api_op *next_done;
};

api_op *api_op_new(http_request *req, const char *tenant, const char *actor);
void api_op_free(api_op *op);
/* Takes Idempotency-Key into op (scoped to the principal).
 * Returns: 0 or PV_EINVAL (field "/headers/idempotency-key"). */
int api_op_idempotency(api_op *op, pv_error *err);
/* Submits; on a submit error answers the request and frees the op. */
void api_op_submit(api_op *op);
/* The usual answer of a command: the error, or status with {"id",
 * "position", "version"}, Pivotal-Position and ETag. version_noop is the
 * entity's version to report when the command appended nothing. Frees op. */
void api_op_answer(api_op *op, int status, uint64_t version_noop);

/* The request's principal (NULL on public routes). */
const api_principal *api_principal_of(http_request *req);

/* Parses If-Match ("\"N\"" or N) into *expected, LOG_EXPECT_ANY when absent.
 * Returns: 0 or PV_EINVAL (field "/headers/if-match"). */
int api_if_match(http_request *req, int64_t *expected, pv_error *err);

/* The user's state through the loop's cache (read from the log).
 * Returns: 0, PV_ENOTFOUND, PV_EIO, PV_ECORRUPT. */
int api_user_state(api *a, const char *tenant, const char *user_id, users_state *out);

/* Answers status with a JSON object built by the caller (takes json). */
void api_respond_json(http_request *req, int status, cJSON *json);

/* Seconds since the epoch. */
int64_t api_now_s(void);

/* Lockout (api_auth.c keeps the table in the api). */
void api_lockout_check(api *a, const char *key, int64_t now_s, auth_lockout_status *st);
void api_lockout_fail(api *a, const char *key, int64_t now_s);
void api_lockout_clear(api *a, const char *key);

/* Handlers named in adapters/http/routes.def. */
void api_auth_login(http_request *req);
void api_auth_refresh(http_request *req);
void api_auth_logout(http_request *req);
void api_auth_logout_all(http_request *req);
void api_auth_me(http_request *req);
void api_users_create(http_request *req);
void api_users_get(http_request *req);
void api_users_update(http_request *req);
void api_users_set_password(http_request *req);
/* Queries of accounts and contacts (api_contacts_read.c, api_accounts_read.c,
 * api_search_read.c over api_query.h). */
void api_contacts_list(http_request *req);
void api_contacts_export(http_request *req);
void api_contacts_get(http_request *req);
void api_contacts_audit(http_request *req);
void api_contacts_timeline(http_request *req);
void api_accounts_list(http_request *req);
void api_accounts_export(http_request *req);
void api_accounts_get(http_request *req);
void api_accounts_children(http_request *req);
void api_accounts_audit(http_request *req);
void api_accounts_timeline(http_request *req);
void api_audit_list(http_request *req);
void api_search(http_request *req);

/* ABM domain sets (issue 8): api_domain_sets.c. */
void api_domain_sets_upload(http_request *req);
void api_domain_sets_get(http_request *req);
void api_domain_sets_items(http_request *req);
void api_domain_sets_process(http_request *req);
void api_domain_sets_expand(http_request *req);
void api_domain_sets_convert(http_request *req);
void api_domain_sets_exclude(http_request *req);
void api_domain_sets_include(http_request *req);
void api_domain_sets_link(http_request *req);
void api_domain_sets_archive(http_request *req);
/* Imports (api_imports.c): the registry of import jobs, made with the api
 * when it has a data directory (resuming unfinished imports) and freed
 * with it (stopping and joining the jobs, before the writer stops).
 * Returns: 0 or PV_EIO (cannot create DATA_DIR/imports). */
int api_imports_new(api *a, const char *data_dir, api_imports **out, pv_error *err);
void api_imports_free(api_imports *im);
void api_imports_create(http_request *req);
void api_imports_get(http_request *req);
void api_imports_errors(http_request *req);

#endif
