/*
 * api_users — /api/users: an administrator creates users, reads one,
 * changes role, client, display name or disabled (PATCH with If-Match)
 * and sets a password. Every change is a users command through the writer
 * (core/users); passwords are hashed on the Argon2 pool, never on the loop.
 * Reads come from the write side (the user's stream) until the users read
 * model exists.
 */
#include "adapters/http/handlers/api_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NIST SP 800-63B §5.1.1.2: memorized secrets of at least 8 characters. */
#define API_PASSWORD_MIN_BYTES 8

typedef struct user_job {
  users_cmd cmd;
  char user_id[USERS_ID_MAX];
  char email[USERS_EMAIL_MAX];
  char role[USERS_ROLE_MAX];
  char client_id[AUTH_ID_MAX];
  char display_name[USERS_NAME_MAX * 2];
  char hash[AUTH_PWHASH_MAX];
  int status;             /* HTTP status of success */
  uint64_t version_noop;  /* version to report when nothing changed */
  bool has_client, has_role, has_name;
  api_op *op;
} user_job;

static void user_job_free(void *p) {
  user_job *j = p;
  sodium_memzero(j->hash, sizeof j->hash);
  free(j);
}

static void fail(http_request *req, pv_error *e, cJSON *body) {
  http_respond_error(req, e);
  cJSON_Delete(body);
}

/* Decoded body as an object; answers and returns non-zero on error. */
static int object_body(http_request *req, cJSON **body) {
  pv_error e = PV_ERROR_INIT;
  int rc = http_request_json(req, body, &e);
  if (rc == 0 && !cJSON_IsObject(*body))
    rc = pv_error_set(&e, PV_EBADTYPE, "", "the body must be a JSON object");
  if (rc) fail(req, &e, *body);
  return rc;
}

static int check_password(const char *password, pv_error *e) {
  size_t n = strlen(password);
  if (n < API_PASSWORD_MIN_BYTES || n > AUTH_PASSWORD_MAX_BYTES) {
    pv_error_set(e, PV_EINVAL, "/password", "password must be %d to %d bytes",
                 API_PASSWORD_MIN_BYTES, AUTH_PASSWORD_MAX_BYTES);
    return PV_EINVAL;
  }
  return 0;
}

/* A role and client id as the API takes them: the role a known name, the
 * client id exactly for a client user. */
static int check_role(const char *role, const char *client_id, pv_error *e) {
  auth_role r;
  int rc = auth_role_parse(role, strlen(role), &r, e);
  if (rc) {
    snprintf(e->field, sizeof e->field, "/role");
    return rc;
  }
  return auth_role_check_client(r, client_id, e);
}

/* A new user id: a random UUID (version 4). */
static void new_user_id(char out[USERS_ID_MAX]) {
  uint8_t b[16];
  randombytes_buf(b, sizeof b);
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  snprintf(out, USERS_ID_MAX,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
           b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}

static void job_finish(api_op *op) {
  user_job *j = op->data;
  if (op->cmd.status == 0 && j->status == 201) {
    char location[96];
    snprintf(location, sizeof location, "/api/users/%s", op->entity_id);
    http_response_header(op->req, "Location", location);
  }
  api_op_answer(op, j->status, j->version_noop);
}

/* Starts the op for a job on the principal's tenant; answers on error. */
static api_op *job_op(http_request *req, user_job *j) {
  const api_principal *ap = api_principal_of(req);
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  pv_error e = PV_ERROR_INIT;
  if (api_op_idempotency(op, &e)) {
    http_respond_error(req, &e);
    api_op_free(op);
    user_job_free(j);
    return NULL;
  }
  snprintf(op->entity_id, sizeof op->entity_id, "%s", j->user_id);
  j->cmd.user_id = op->entity_id;
  j->op = op;
  op->data = j;
  op->data_free = user_job_free;
  op->cmd.decide = users_decide_cmd;
  op->cmd.arg = &j->cmd;
  op->finish = job_finish;
  return op;
}

static void hashed(void *arg, const auth_pwresult *result) {
  user_job *j = arg;
  api_op *op = j->op;
  if (result->rc) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, result->rc, result->rc == PV_EINVAL ? "/password" : NULL, NULL);
    http_respond_error(op->req, &e);
    api_op_free(op);
    return;
  }
  snprintf(j->hash, sizeof j->hash, "%s", result->hash);
  j->cmd.password_hash = j->hash;
  api_op_submit(op);
}

/* Hashes password on the pool, then submits the op. */
static void hash_then_submit(api_op *op, const char *password) {
  api *a = op->app;
  int rc = auth_pwpool_hash(a->pool, password, strlen(password), hashed, op->data);
  if (rc) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, rc, NULL, NULL);
    if (rc == PV_EBUSY) http_response_header(op->req, "Retry-After", "1");
    http_respond_error(op->req, &e);
    api_op_free(op);
  }
}

void api_users_create(http_request *req) {
  cJSON *body;
  if (object_body(req, &body)) return;
  pv_error e = PV_ERROR_INIT;
  const char *email = NULL, *role = NULL, *client_id = NULL, *name = NULL, *password = NULL;
  int rc;
  if ((rc = http_json_string(body, "email", true, &email, &e)) ||
      (rc = http_json_string(body, "role", true, &role, &e)) ||
      (rc = http_json_string(body, "client_id", false, &client_id, &e)) ||
      (rc = http_json_string(body, "display_name", false, &name, &e)) ||
      (rc = http_json_string(body, "password", true, &password, &e)) ||
      (rc = check_role(role, client_id, &e)) || (rc = check_password(password, &e)))
    return fail(req, &e, body);
  user_job *j = pv_xcalloc(1, sizeof *j);
  if ((rc = users_normalize_email(email, j->email, &e)) ||
      (name && strlen(name) >= sizeof j->display_name &&
       (rc = pv_error_set(&e, PV_EINVAL, "/display_name", "display name too long")))) {
    user_job_free(j);
    return fail(req, &e, body);
  }
  new_user_id(j->user_id);
  snprintf(j->role, sizeof j->role, "%s", role);
  snprintf(j->client_id, sizeof j->client_id, "%s", client_id ? client_id : "");
  snprintf(j->display_name, sizeof j->display_name, "%s", name ? name : "");
  j->cmd = (users_cmd){.kind = USERS_REGISTER, .expected_version = LOG_EXPECT_ANY,
                       .email = j->email, .role = j->role, .client_id = j->client_id,
                       .display_name = name ? j->display_name : NULL, .disabled = -1};
  j->status = 201;
  api_op *op = job_op(req, j);
  if (op) hash_then_submit(op, password);
  cJSON_Delete(body);
}

void api_users_get(http_request *req) {
  api *a = http_request_app(req);
  const api_principal *ap = api_principal_of(req);
  users_state st;
  int rc = api_user_state(a, ap->p.tenant, http_request_param(req, "id"), &st);
  if (rc) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, rc, NULL, rc == PV_ENOTFOUND ? "no such user" : "could not read the user");
    http_respond_error(req, &e);
    return;
  }
  char etag[32];
  snprintf(etag, sizeof etag, "\"%llu\"", (unsigned long long)st.version);
  http_response_header(req, "ETag", etag);
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "id", st.user_id);
  cJSON_AddStringToObject(body, "email", st.email);
  cJSON_AddStringToObject(body, "role", st.role);
  if (st.client_id[0]) cJSON_AddStringToObject(body, "client_id", st.client_id);
  cJSON_AddStringToObject(body, "display_name", st.display_name);
  cJSON_AddBoolToObject(body, "disabled", st.disabled);
  cJSON_AddNumberToObject(body, "version", (double)st.version);
  http_respond_json(req, 200, body);
}

/* The user's current version, for an update that changes nothing. */
static uint64_t current_version(http_request *req, const char *user_id) {
  const api_principal *ap = api_principal_of(req);
  users_state st;
  return api_user_state(http_request_app(req), ap->p.tenant, user_id, &st) == 0 ? st.version
                                                                                : 0;
}

void api_users_update(http_request *req) {
  cJSON *body;
  if (object_body(req, &body)) return;
  pv_error e = PV_ERROR_INIT;
  const char *role = NULL, *client_id = NULL, *name = NULL;
  bool disabled = false;
  int64_t expected;
  int rc;
  const cJSON *dis = cJSON_GetObjectItemCaseSensitive(body, "disabled");
  if ((rc = api_if_match(req, &expected, &e)) ||
      (rc = http_json_string(body, "role", false, &role, &e)) ||
      (rc = http_json_string(body, "client_id", false, &client_id, &e)) ||
      (rc = http_json_string(body, "display_name", false, &name, &e)) ||
      (rc = http_json_bool(body, "disabled", false, &disabled, &e)) ||
      (role && (rc = check_role(role, client_id, &e))))
    return fail(req, &e, body);
  for (const cJSON *m = body->child; m; m = m->next)
    if (strcmp(m->string, "role") && strcmp(m->string, "client_id") &&
        strcmp(m->string, "display_name") && strcmp(m->string, "disabled")) {
      char field[128];
      snprintf(field, sizeof field, "/%s", m->string);
      pv_error_set(&e, PV_EINVAL, field, "unknown field \"%s\"", m->string);
      pv_error_hint(&e, "A user's role, client_id, display_name and disabled can change.");
      return fail(req, &e, body);
    }
  user_job *j = pv_xcalloc(1, sizeof *j);
  const char *id = http_request_param(req, "id");
  if (strlen(id) >= sizeof j->user_id || (name && strlen(name) >= sizeof j->display_name)) {
    user_job_free(j);
    pv_error_set(&e, PV_EINVAL, NULL, "value too long");
    return fail(req, &e, body);
  }
  snprintf(j->user_id, sizeof j->user_id, "%s", id);
  snprintf(j->role, sizeof j->role, "%s", role ? role : "");
  snprintf(j->client_id, sizeof j->client_id, "%s", client_id ? client_id : "");
  snprintf(j->display_name, sizeof j->display_name, "%s", name ? name : "");
  j->cmd = (users_cmd){.kind = USERS_UPDATE, .expected_version = expected,
                       .role = role ? j->role : NULL,
                       .client_id = client_id ? j->client_id : NULL,
                       .display_name = name ? j->display_name : NULL,
                       .disabled = dis ? (disabled ? 1 : 0) : -1};
  j->status = 200;
  j->version_noop = current_version(req, j->user_id);
  cJSON_Delete(body);
  api_op *op = job_op(req, j);
  if (op) api_op_submit(op);
}

void api_users_set_password(http_request *req) {
  cJSON *body;
  if (object_body(req, &body)) return;
  pv_error e = PV_ERROR_INIT;
  const char *password = NULL;
  int64_t expected;
  int rc;
  const char *id = http_request_param(req, "id");
  if ((rc = api_if_match(req, &expected, &e)) ||
      (rc = http_json_string(body, "password", true, &password, &e)) ||
      (rc = check_password(password, &e)))
    return fail(req, &e, body);
  if (strlen(id) >= USERS_ID_MAX) {
    pv_error_set(&e, PV_ENOTFOUND, NULL, "no such user");
    return fail(req, &e, body);
  }
  user_job *j = pv_xcalloc(1, sizeof *j);
  snprintf(j->user_id, sizeof j->user_id, "%s", id);
  j->cmd = (users_cmd){.kind = USERS_SET_PASSWORD, .expected_version = expected,
                       .disabled = -1};
  j->status = 200;
  api_op *op = job_op(req, j);
  if (op) hash_then_submit(op, password);
  cJSON_Delete(body);
}
