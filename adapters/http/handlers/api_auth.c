/*
 * api_auth — /api/auth: login, refresh, logout, log out everywhere, me.
 *
 * Login: lockout check (in memory, keyed by tenant and normalized email
 * whether or not a user has it), then the user from the write side (the
 * unique email index and the user's stream), then Argon2 on the password
 * pool — against the stored hash, or a dummy one for an unknown or disabled
 * user, so every failure costs the same and answers the same 401. A
 * success starts a refresh-token family through the writer (and rehashes
 * the password in the same command when its cost is old) and answers an
 * access JWT and the refresh token.
 *
 * Refresh-token families are durable as events on the stream
 * "refresh-<family id hex>" (auth.refresh_issued, auth.refresh_rotated,
 * auth.refresh_revoked); each refresh or logout is a writer command that
 * folds the family and decides with auth_token (adapters/auth), so the one
 * writer orders the presentations of a family and reuse detection is exact.
 * A reuse or a changed user persists the revocation and answers 401.
 */
#include "adapters/http/handlers/api_internal.h"

#include "adapters/auth/auth_token.h"
#include "core/mp.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFRESH_STREAM_PREFIX "refresh-"
#define REFRESH_STREAM_MAX (sizeof REFRESH_STREAM_PREFIX + 2 * AUTH_TOKEN_FAMILY_ID_BYTES)

static void refresh_stream(const uint8_t id[AUTH_TOKEN_FAMILY_ID_BYTES],
                           char out[REFRESH_STREAM_MAX]) {
  char hex[2 * AUTH_TOKEN_FAMILY_ID_BYTES + 1];
  auth_token_family_hex(id, hex);
  snprintf(out, REFRESH_STREAM_MAX, REFRESH_STREAM_PREFIX "%s", hex);
}

/* ---- the family as events ----------------------------------------------- */

static const char *const revoked_names[] = {
    [AUTH_TOKEN_LIVE] = "live",
    [AUTH_TOKEN_REVOKED_LOGOUT] = "logout",
    [AUTH_TOKEN_REVOKED_REUSE] = "reuse",
    [AUTH_TOKEN_REVOKED_USER_CHANGED] = "user_changed",
    [AUTH_TOKEN_REVOKED_ADMIN] = "admin",
};

typedef struct family_fold {
  auth_token_family f;
  uint64_t version;
  int rc;
} family_fold;

static int map_int(const evt_envelope *e, const char *key, int64_t *out) {
  mp_reader r;
  if (mp_map_find(e->payload, e->payload_len, key, &r)) return PV_ECORRUPT;
  return mp_read_int(&r, out) ? PV_ECORRUPT : 0;
}

static int map_uint(const evt_envelope *e, const char *key, uint64_t *out) {
  mp_reader r;
  if (mp_map_find(e->payload, e->payload_len, key, &r)) return PV_ECORRUPT;
  return mp_read_uint(&r, out) ? PV_ECORRUPT : 0;
}

static int map_str(const evt_envelope *e, const char *key, mp_slice *out) {
  mp_reader r;
  if (mp_map_find(e->payload, e->payload_len, key, &r)) return PV_ECORRUPT;
  return mp_read_str(&r, out) ? PV_ECORRUPT : 0;
}

static int map_hash(const evt_envelope *e, uint8_t out[AUTH_TOKEN_HASH_BYTES]) {
  mp_slice s;
  size_t n = 0;
  if (map_str(e, "live_hash", &s) ||
      sodium_hex2bin(out, AUTH_TOKEN_HASH_BYTES, s.ptr, s.len, NULL, &n, NULL) ||
      n != AUTH_TOKEN_HASH_BYTES)
    return PV_ECORRUPT;
  return 0;
}

static int family_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  family_fold *ff = arg;
  auth_token_family *f = &ff->f;
  (void)raw;
  (void)len;
  int rc = 0;
  if (mp_slice_eq(e->type, "auth.refresh_issued")) {
    mp_slice uid;
    if ((rc = map_str(e, "user_id", &uid)) || uid.len >= sizeof f->user_id ||
        (rc = map_hash(e, f->live_hash)) ||
        (rc = map_uint(e, "user_token_version", &f->user_token_version)) ||
        (rc = map_int(e, "created_s", &f->created_s)) ||
        (rc = map_int(e, "expires_s", &f->expires_s)))
      return PV_ECORRUPT;
    memcpy(f->user_id, uid.ptr, uid.len);
    f->user_id[uid.len] = '\0';
    f->rotated_s = f->created_s;
  } else if (mp_slice_eq(e->type, "auth.refresh_rotated")) {
    uint64_t gen;
    if ((rc = map_hash(e, f->live_hash)) || (rc = map_uint(e, "generation", &gen)) ||
        (rc = map_int(e, "rotated_s", &f->rotated_s)) ||
        (rc = map_int(e, "expires_s", &f->expires_s)))
      return rc;
    f->generation = (uint32_t)gen;
  } else if (mp_slice_eq(e->type, "auth.refresh_revoked")) {
    mp_slice reason;
    if ((rc = map_str(e, "reason", &reason)) || (rc = map_int(e, "revoked_s", &f->revoked_s)))
      return rc;
    f->revoked = AUTH_TOKEN_REVOKED_ADMIN;
    for (size_t i = 1; i < sizeof revoked_names / sizeof revoked_names[0]; i++)
      if (mp_slice_eq(reason, revoked_names[i])) f->revoked = (auth_token_revoked)i;
  }
  ff->version = e->stream_version;
  return 0;
}

/* Folds a family in the writer. Returns 0 (ff->version 0: no such family). */
static int family_load(writer_ctx *ctx, const uint8_t id[AUTH_TOKEN_FAMILY_ID_BYTES],
                       family_fold *ff) {
  char stream[REFRESH_STREAM_MAX];
  memset(ff, 0, sizeof *ff);
  memcpy(ff->f.family_id, id, AUTH_TOKEN_FAMILY_ID_BYTES);
  snprintf(ff->f.tenant, sizeof ff->f.tenant, "%s", writer_ctx_tenant(ctx));
  refresh_stream(id, stream);
  return writer_read_stream(ctx, stream, 1, family_visit, ff);
}

static void pack_hash(msgpack_packer *pk, const uint8_t h[AUTH_TOKEN_HASH_BYTES]) {
  char hex[2 * AUTH_TOKEN_HASH_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, h, AUTH_TOKEN_HASH_BYTES);
  mp_pack_cstr(pk, "live_hash");
  mp_pack_cstr(pk, hex);
}

/* Stages the event that turns cur (at version) into next. */
static int family_emit(writer_ctx *ctx, const auth_token_family *cur, uint64_t version,
                       const auth_token_family *next, pv_error *err) {
  pv_buf b = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &b);
  const char *type;
  if (version == 0) {
    type = "auth.refresh_issued";
    msgpack_pack_map(&pk, 5);
    mp_pack_cstr(&pk, "user_id");
    mp_pack_cstr(&pk, next->user_id);
    pack_hash(&pk, next->live_hash);
    mp_pack_cstr(&pk, "user_token_version");
    msgpack_pack_uint64(&pk, next->user_token_version);
    mp_pack_cstr(&pk, "created_s");
    msgpack_pack_int64(&pk, next->created_s);
    mp_pack_cstr(&pk, "expires_s");
    msgpack_pack_int64(&pk, next->expires_s);
  } else if (next->revoked != AUTH_TOKEN_LIVE && cur->revoked == AUTH_TOKEN_LIVE) {
    type = "auth.refresh_revoked";
    msgpack_pack_map(&pk, 2);
    mp_pack_cstr(&pk, "reason");
    mp_pack_cstr(&pk, revoked_names[next->revoked]);
    mp_pack_cstr(&pk, "revoked_s");
    msgpack_pack_int64(&pk, next->revoked_s);
  } else {
    type = "auth.refresh_rotated";
    msgpack_pack_map(&pk, 4);
    pack_hash(&pk, next->live_hash);
    mp_pack_cstr(&pk, "generation");
    msgpack_pack_uint64(&pk, next->generation);
    mp_pack_cstr(&pk, "rotated_s");
    msgpack_pack_int64(&pk, next->rotated_s);
    mp_pack_cstr(&pk, "expires_s");
    msgpack_pack_int64(&pk, next->expires_s);
  }
  char stream[REFRESH_STREAM_MAX];
  refresh_stream(next->family_id, stream);
  int rc = writer_emit(ctx, stream, (int64_t)version, type, 1, b.data, b.len, err);
  pv_buf_release(&b);
  return rc;
}

/* ---- answers ------------------------------------------------------------ */

static int refused(http_request *req, const char *message) {
  pv_error e = PV_ERROR_INIT;
  pv_error_set(&e, PV_EUNAUTHORIZED, NULL, "%s", message);
  http_respond_error(req, &e);
  return PV_EUNAUTHORIZED;
}

/* Answers a new access token (for the user's current state) and, when
 * refresh is not NULL, the refresh token. */
static void answer_tokens(http_request *req, api *a, const char *tenant, const users_state *st,
                          const char *refresh) {
  auth_principal p;
  memset(&p, 0, sizeof p);
  snprintf(p.user_id, sizeof p.user_id, "%s", st->user_id);
  snprintf(p.tenant, sizeof p.tenant, "%s", tenant);
  snprintf(p.client_id, sizeof p.client_id, "%s", st->client_id);
  p.token_version = st->token_version;
  pv_error e = PV_ERROR_INIT;
  char *token = NULL;
  int rc = auth_role_parse(st->role, strlen(st->role), &p.role, &e);
  if (rc == 0) rc = auth_jwt_issue(a->jwt, &p, api_now_s(), &token, NULL, &e);
  if (rc) {
    /* a stored role or id our token rules refuse: not the client's fault */
    pv_error_set(&e, PV_EINTERNAL, NULL, "could not issue a token");
    http_respond_error(req, &e);
    return;
  }
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "access_token", token);
  cJSON_AddStringToObject(body, "token_type", "Bearer");
  cJSON_AddNumberToObject(body, "expires_in", auth_jwt_ttl_s(a->jwt));
  if (refresh) cJSON_AddStringToObject(body, "refresh_token", refresh);
  cJSON *user = cJSON_AddObjectToObject(body, "user");
  cJSON_AddStringToObject(user, "id", st->user_id);
  cJSON_AddStringToObject(user, "email", st->email);
  cJSON_AddStringToObject(user, "role", st->role);
  if (st->client_id[0]) cJSON_AddStringToObject(user, "client_id", st->client_id);
  free(token);
  http_response_header(req, "Cache-Control", "no-store");
  http_respond_json(req, 200, body);
}

/* ---- login -------------------------------------------------------------- */

typedef struct login_job {
  api *app;
  http_request *req;
  char tenant[AUTH_ID_MAX];
  char lock_key[API_LOCKOUT_KEY_MAX];
  bool known; /* a user with this email exists and is enabled */
  users_state st;
  /* the command, once verified */
  auth_token_family family;
  char refresh[AUTH_TOKEN_BUF];
  char rehash[AUTH_PWHASH_MAX];
  users_cmd rehash_cmd;
} login_job;

static void login_job_free(void *p) {
  login_job *j = p;
  sodium_memzero(j->refresh, sizeof j->refresh);
  free(j);
}

/* The login command: the user must still be as verified; starts the family
 * and rehashes the password when asked. */
static int login_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  login_job *j = arg;
  users_state st;
  int rc = users_wctx_load(ctx, j->st.user_id, &st);
  if (rc) return pv_error_set(err, rc, NULL, "could not read the user");
  if (!st.exists || st.disabled || st.token_version != j->family.user_token_version)
    return pv_error_set(err, PV_EUNAUTHORIZED, NULL, "invalid email or password");
  auth_token_family none;
  memset(&none, 0, sizeof none);
  if ((rc = family_emit(ctx, &none, 0, &j->family, err))) return rc;
  if (j->rehash[0]) {
    j->rehash_cmd = (users_cmd){.kind = USERS_REHASH_PASSWORD,
                                .user_id = j->st.user_id,
                                .expected_version = LOG_EXPECT_ANY,
                                .password_hash = j->rehash,
                                .disabled = -1};
    if ((rc = users_decide_cmd(ctx, &j->rehash_cmd, err))) return rc;
  }
  j->st = st;
  return 0;
}

static void login_finish(api_op *op) {
  login_job *j = op->data;
  if (op->cmd.status) {
    http_respond_error(op->req, &op->cmd.error);
  } else {
    answer_tokens(op->req, op->app, j->tenant, &j->st, j->refresh);
  }
  api_op_free(op);
}

static void login_verified(void *arg, const auth_pwresult *result) {
  login_job *j = arg;
  api *a = j->app;
  http_request *req = j->req;
  int64_t now = api_now_s();
  if (result->rc == PV_ESHUTDOWN || result->rc == PV_ENOMEM) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, result->rc, NULL, NULL);
    http_respond_error(req, &e);
    login_job_free(j);
    return;
  }
  if (result->rc != 0 || !j->known) {
    api_lockout_fail(a, j->lock_key, now);
    refused(req, "invalid email or password");
    login_job_free(j);
    return;
  }
  api_lockout_clear(a, j->lock_key);
  pv_error e = PV_ERROR_INIT;
  if (auth_token_issue(j->st.user_id, j->tenant, j->st.token_version, now, &j->family,
                       j->refresh, &e)) {
    pv_error_set(&e, PV_EINTERNAL, NULL, "could not start a session");
    http_respond_error(req, &e);
    login_job_free(j);
    return;
  }
  snprintf(j->rehash, sizeof j->rehash, "%s", result->hash);
  char actor[AUTH_ID_MAX + 8];
  snprintf(actor, sizeof actor, "user:%s", j->st.user_id);
  api_op *op = api_op_new(req, j->tenant, actor);
  op->data = j;
  op->data_free = login_job_free;
  op->cmd.decide = login_decide;
  op->cmd.arg = j;
  op->finish = login_finish;
  api_op_submit(op);
}

void api_auth_login(http_request *req) {
  api *a = http_request_app(req);
  cJSON *body = NULL;
  pv_error e = PV_ERROR_INIT;
  const char *email = NULL, *password = NULL, *tenant = NULL;
  int rc = http_request_json(req, &body, &e);
  if (rc == 0 && !cJSON_IsObject(body))
    rc = pv_error_set(&e, PV_EBADTYPE, "", "the body must be a JSON object");
  if (rc == 0) rc = http_json_string(body, "email", true, &email, &e);
  if (rc == 0) rc = http_json_string(body, "password", true, &password, &e);
  if (rc == 0) rc = http_json_string(body, "tenant", false, &tenant, &e);
  if (rc == 0 && !tenant) tenant = a->cfg.default_tenant;
  if (rc == 0 && !auth_id_valid(tenant))
    rc = pv_error_set(&e, PV_EINVAL, "/tenant", "invalid tenant");
  if (rc) {
    http_respond_error(req, &e);
    cJSON_Delete(body);
    return;
  }
  login_job *j = pv_xcalloc(1, sizeof *j);
  j->app = a;
  j->req = req;
  snprintf(j->tenant, sizeof j->tenant, "%s", tenant);
  /* The lockout key: the normalized email, or the text as sent when it is
   * not an email (no user has it; it is locked all the same). */
  char norm[USERS_EMAIL_MAX];
  bool valid_email = users_normalize_email(email, norm, NULL) == 0;
  snprintf(j->lock_key, sizeof j->lock_key, "%s\n%s", tenant, valid_email ? norm : email);

  auth_lockout_status lock;
  api_lockout_check(a, j->lock_key, api_now_s(), &lock);
  if (lock.locked) {
    char retry[24];
    snprintf(retry, sizeof retry, "%" PRId64, lock.retry_after_s);
    http_response_header(req, "Retry-After", retry);
    pv_error_set(&e, PV_ELOCKED, NULL, "too many failed logins");
    pv_error_hint(&e, "Wait %" PRId64 " seconds, then try again.", lock.retry_after_s);
    http_respond_error(req, &e);
    login_job_free(j);
    cJSON_Delete(body);
    return;
  }

  const char *hash = NULL;
  char user_id[USERS_ID_MAX];
  if (valid_email) {
    log_reader *rd;
    if (log_read_begin(a->log, &rd) == 0) {
      if (users_find_email(rd, tenant, norm, user_id) == 0 &&
          users_load(rd, tenant, user_id, &j->st) == 0)
        hash = j->st.password_hash;
      log_read_end(rd);
    }
  }
  /* A disabled user's password is verified like anyone's, then refused
   * like a wrong one: the same work and the same answer. */
  j->known = hash && !j->st.disabled;
  rc = auth_pwpool_verify(a->pool, hash, password, strlen(password), login_verified, j);
  cJSON_Delete(body);
  if (rc) {
    pv_error_set(&e, rc, NULL, NULL);
    if (rc == PV_EBUSY) http_response_header(req, "Retry-After", "1");
    http_respond_error(req, &e);
    login_job_free(j);
  }
}

/* ---- refresh and logout --------------------------------------------------- */

typedef struct refresh_job {
  bool logout;
  uint8_t family_id[AUTH_TOKEN_FAMILY_ID_BYTES];
  char presented[AUTH_TOKEN_BUF];
  uint8_t secret[AUTH_TOKEN_SECRET_BYTES]; /* drawn once: decide may rerun */
  int64_t now_s;
  /* out */
  auth_token_outcome outcome;
  char token_out[AUTH_TOKEN_BUF];
  users_state st;
} refresh_job;

static void refresh_job_free(void *p) {
  sodium_memzero(p, sizeof(refresh_job));
  free(p);
}

static int refresh_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  refresh_job *j = arg;
  family_fold ff;
  j->outcome = AUTH_TOKEN_DENIED;
  j->token_out[0] = '\0';
  int rc = family_load(ctx, j->family_id, &ff);
  if (rc) return pv_error_set(err, rc, NULL, "could not read the refresh token");
  if (ff.version == 0)
    return pv_error_set(err, PV_EUNAUTHORIZED, NULL, "invalid refresh token");
  auth_token_family next;
  size_t len = strlen(j->presented);
  if (j->logout) {
    rc = auth_token_logout(&ff.f, j->presented, len, j->now_s, &next, &j->outcome, err);
  } else {
    if ((rc = users_wctx_load(ctx, ff.f.user_id, &j->st)))
      return pv_error_set(err, rc, NULL, "could not read the user");
    /* A user gone or disabled has moved on from the family's version. */
    uint64_t version = j->st.exists && !j->st.disabled ? j->st.token_version
                                                       : ff.f.user_token_version + 1;
    rc = auth_token_rotate_with(&ff.f, j->presented, len, version, j->now_s, j->secret, &next,
                                j->token_out, &j->outcome, err);
  }
  if (!auth_token_outcome_persists(j->outcome)) return rc ? rc : PV_EUNAUTHORIZED;
  /* reuse or a changed user: the revocation is kept; the answer is 401 */
  pv_error_clear(err);
  return family_emit(ctx, &ff.f, ff.version, &next, err);
}

static void refresh_finish(api_op *op) {
  refresh_job *j = op->data;
  http_request *req = op->req;
  if (j->logout) {
    http_respond(req, 204, NULL, NULL, 0);
  } else if (op->cmd.status) {
    http_respond_error(req, &op->cmd.error);
  } else if (j->outcome != AUTH_TOKEN_ROTATED) {
    refused(req, "invalid refresh token");
  } else {
    answer_tokens(req, op->app, op->tenant, &j->st, j->token_out);
  }
  api_op_free(op);
}

static void refresh_or_logout(http_request *req, bool logout) {
  api *a = http_request_app(req);
  cJSON *body = NULL;
  pv_error e = PV_ERROR_INIT;
  const char *token = NULL, *tenant = NULL;
  int rc = http_request_json(req, &body, &e);
  if (rc == 0 && !cJSON_IsObject(body))
    rc = pv_error_set(&e, PV_EBADTYPE, "", "the body must be a JSON object");
  if (rc == 0) rc = http_json_string(body, "refresh_token", true, &token, &e);
  if (rc == 0) rc = http_json_string(body, "tenant", false, &tenant, &e);
  if (rc == 0 && !tenant) tenant = a->cfg.default_tenant;
  if (rc == 0 && !auth_id_valid(tenant))
    rc = pv_error_set(&e, PV_EINVAL, "/tenant", "invalid tenant");
  if (rc) {
    http_respond_error(req, &e);
    cJSON_Delete(body);
    return;
  }
  refresh_job *j = pv_xcalloc(1, sizeof *j);
  j->logout = logout;
  j->now_s = api_now_s();
  if (auth_token_parse(token, strlen(token), j->family_id, &e) != 0) {
    cJSON_Delete(body);
    refresh_job_free(j);
    if (logout) http_respond(req, 204, NULL, NULL, 0);
    else http_respond_error(req, &e);
    return;
  }
  snprintf(j->presented, sizeof j->presented, "%s", token);
  cJSON_Delete(body);
  randombytes_buf(j->secret, sizeof j->secret);
  api_op *op = api_op_new(req, tenant, "system:refresh");
  op->data = j;
  op->data_free = refresh_job_free;
  op->cmd.decide = refresh_decide;
  op->cmd.arg = j;
  op->finish = refresh_finish;
  api_op_submit(op);
}

void api_auth_refresh(http_request *req) { refresh_or_logout(req, false); }
void api_auth_logout(http_request *req) { refresh_or_logout(req, true); }

/* ---- log out everywhere, me ------------------------------------------------ */

static void users_cmd_free(void *p) { free(p); }

static void logout_all_finish(api_op *op) { api_op_answer(op, 200, 0); }

void api_auth_logout_all(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  pv_error e = PV_ERROR_INIT;
  if (api_op_idempotency(op, &e)) {
    http_respond_error(req, &e);
    api_op_free(op);
    return;
  }
  users_cmd *c = pv_xcalloc(1, sizeof *c);
  snprintf(op->entity_id, sizeof op->entity_id, "%s", ap->p.user_id);
  *c = (users_cmd){.kind = USERS_REVOKE_TOKENS, .user_id = op->entity_id,
                   .expected_version = LOG_EXPECT_ANY, .disabled = -1};
  op->data = c;
  op->data_free = users_cmd_free;
  op->cmd.decide = users_decide_cmd;
  op->cmd.arg = c;
  op->finish = logout_all_finish;
  api_op_submit(op);
}

void api_auth_me(http_request *req) {
  api *a = http_request_app(req);
  const api_principal *ap = api_principal_of(req);
  users_state st;
  int rc = api_user_state(a, ap->p.tenant, ap->p.user_id, &st);
  if (rc) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, rc, NULL, "could not read the user");
    http_respond_error(req, &e);
    return;
  }
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "id", st.user_id);
  cJSON_AddStringToObject(body, "tenant", ap->p.tenant);
  cJSON_AddStringToObject(body, "email", st.email);
  cJSON_AddStringToObject(body, "role", st.role);
  if (st.client_id[0]) cJSON_AddStringToObject(body, "client_id", st.client_id);
  cJSON_AddStringToObject(body, "display_name", st.display_name);
  cJSON_AddNumberToObject(body, "version", (double)st.version);
  cJSON_AddNumberToObject(body, "token_expires_at", (double)ap->p.exp_s);
  http_respond_json(req, 200, body);
}
