/*
 * api — the application context, authentication of each request, the
 * command path to the writer and back, and the in-memory login lockout.
 * See api.h for the life cycle and the rules.
 */
#include "adapters/http/handlers/api_crm.h"
#include "core/common/pv_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The router tests route.roles & principal roles: the two bit sets must be
 * the same. */
_Static_assert((unsigned)AUTH_ROLE_ADMIN == (unsigned)HTTP_ROLE_ADMIN &&
                   (unsigned)AUTH_ROLE_CLIENT_USER == (unsigned)HTTP_ROLE_CLIENT_USER &&
                   (unsigned)AUTH_ROLE_ALL == (unsigned)HTTP_ROLES_ALL,
               "auth roles and http roles differ");

int64_t api_now_s(void) { return (int64_t)time(NULL); }

void api_config_init(api_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  http_config_init(&cfg->http);
  cfg->issuer = "pivotal";
  cfg->access_ttl_s = AUTH_JWT_TTL_MAX_S;
  cfg->pwpool.cost = AUTH_PWCOST_DEFAULT;
  cfg->default_tenant = "default";
  cfg->phone_region = "US";
}

/* ---- authentication ---------------------------------------------------- */

static size_t user_slot(const char *tenant, const char *user_id) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (const char *s = tenant; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  h = (h ^ 0) * 1099511628211ull;
  for (const char *s = user_id; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return (size_t)(h % API_USER_CACHE);
}

int api_user_state(api *a, const char *tenant, const char *user_id, users_state *out) {
  char stream[USERS_STREAM_MAX];
  if (users_stream(user_id, stream)) return PV_ENOTFOUND;
  log_reader *rd;
  int rc = log_read_begin(a->log, &rd);
  if (rc) return rc;
  uint64_t version = 0;
  rc = log_reader_stream_version(rd, tenant, stream, &version);
  api_user_entry *e = &a->users[user_slot(tenant, user_id)];
  if (rc == 0 && version == 0) rc = PV_ENOTFOUND;
  if (rc == 0 && !(e->version == version && strcmp(e->tenant, tenant) == 0 &&
                   strcmp(e->user_id, user_id) == 0)) {
    rc = users_load(rd, tenant, user_id, &e->state);
    if (rc == 0) {
      snprintf(e->tenant, sizeof e->tenant, "%s", tenant);
      snprintf(e->user_id, sizeof e->user_id, "%s", user_id);
      e->version = e->state.version;
    } else {
      e->version = 0;
    }
  }
  if (rc == 0) *out = e->state;
  log_read_end(rd);
  return rc;
}

/* The authenticate hook: a Bearer access token, then the users aggregate
 * (token version, disabled). */
static int authenticate(void *ctx, http_request *req, http_roles *roles, pv_error *err) {
  api *a = ctx;
  const char *h = http_request_header(req, "Authorization");
  if (!h || strncasecmp(h, "Bearer ", 7) != 0)
    return pv_error_set(err, PV_EUNAUTHORIZED, NULL, "authentication required");
  const char *token = h + 7;
  while (*token == ' ') token++;
  api_principal *ap = pv_xcalloc(1, sizeof *ap);
  auth_jwt_reason reason;
  int rc = auth_jwt_verify(a->jwt, token, strlen(token), api_now_s(), &ap->p, &reason, err);
  if (rc == 0) {
    users_state st;
    rc = api_user_state(a, ap->p.tenant, ap->p.user_id, &st);
    if (rc == PV_ENOTFOUND)
      rc = pv_error_set(err, PV_EUNAUTHORIZED, NULL, "token is no longer valid");
    else if (rc)
      pv_error_set(err, rc, NULL, "could not read the user");
    else
      rc = auth_principal_check_current(&ap->p, st.token_version, st.disabled, err);
  }
  if (rc) {
    free(ap);
    return rc;
  }
  snprintf(ap->actor, sizeof ap->actor, "user:%s", ap->p.user_id);
  *roles = (http_roles)ap->p.role;
  http_request_set_principal(req, ap, free);
  return 0;
}

const api_principal *api_principal_of(http_request *req) {
  return http_request_principal(req);
}

/* ---- the command path --------------------------------------------------- */

static void op_done(writer_cmd *cmd) {
  api_op *op = cmd->done_arg;
  api *a = op->app;
  op->next_done = NULL;
  pthread_mutex_lock(&a->done_lock);
  if (a->done_tail) a->done_tail->next_done = op;
  else a->done_head = op;
  a->done_tail = op;
  pthread_mutex_unlock(&a->done_lock);
  uv_async_send(&a->done_async);
}

/* uv_async_send coalesces: take the whole queue on each wake-up. */
static void on_done_async(uv_async_t *h) {
  api *a = h->data;
  pthread_mutex_lock(&a->done_lock);
  api_op *op = a->done_head;
  a->done_head = a->done_tail = NULL;
  pthread_mutex_unlock(&a->done_lock);
  while (op) {
    api_op *next = op->next_done;
    op->finish(op);
    op = next;
  }
}

api_op *api_op_new(http_request *req, const char *tenant, const char *actor) {
  api_op *op = pv_xcalloc(1, sizeof *op);
  op->app = http_request_app(req);
  op->req = req;
  snprintf(op->tenant, sizeof op->tenant, "%s", tenant);
  snprintf(op->actor, sizeof op->actor, "%s", actor);
  op->cmd.tenant = op->tenant;
  op->cmd.actor = op->actor;
  op->cmd.correlation_id = http_request_id(req);
  op->cmd.done = op_done;
  op->cmd.done_arg = op;
  return op;
}

void api_op_free(api_op *op) {
  if (!op) return;
  if (op->data_free) op->data_free(op->data);
  free(op);
}

/* 64 printable ASCII characters: Stripe's and the IETF draft's keys are
 * UUIDs (36); 64 leaves room and, with the "u:<id>:" scope, fits the log's
 * 128-byte idempotency field. */
#define API_IDEMPOTENCY_KEY_MAX 64

int api_op_idempotency(api_op *op, pv_error *err) {
  const char *key = http_request_header(op->req, "Idempotency-Key");
  if (!key) return 0;
  size_t n = strlen(key);
  bool ok = n >= 1 && n <= API_IDEMPOTENCY_KEY_MAX;
  for (size_t i = 0; ok && i < n; i++) ok = key[i] > 0x20 && key[i] < 0x7f;
  if (!ok) {
    pv_error_set(err, PV_EINVAL, "/headers/idempotency-key", "invalid Idempotency-Key");
    pv_error_hint(err, "Send 1 to %d printable ASCII characters, such as a UUID.",
                  API_IDEMPOTENCY_KEY_MAX);
    return PV_EINVAL;
  }
  const api_principal *ap = api_principal_of(op->req);
  snprintf(op->idempotency, sizeof op->idempotency, "u:%s:%s",
           ap ? ap->p.user_id : "-", key);
  op->cmd.idempotency_key = op->idempotency;
  return 0;
}

void api_op_submit(api_op *op) {
  int rc = writer_submit(op->app->writer, &op->cmd);
  if (rc == 0) return;
  pv_error e = PV_ERROR_INIT;
  pv_error_set(&e, rc, NULL, NULL);
  if (rc == PV_ESHUTDOWN) http_response_header(op->req, "Retry-After", "1");
  http_respond_error(op->req, &e);
  api_op_free(op);
}

void api_op_answer(api_op *op, int status, uint64_t version_noop) {
  http_request *req = op->req;
  writer_cmd *c = &op->cmd;
  if (c->status) {
    http_respond_error(req, &c->error);
    api_op_free(op);
    return;
  }
  uint64_t position = c->first_position ? c->first_position + c->event_count - 1
                                        : log_head(op->app->log);
  uint64_t version = c->event_count ? c->stream_version + c->event_count - 1 : version_noop;
  char text[32];
  snprintf(text, sizeof text, "%" PRIu64, position);
  http_response_header(req, "Pivotal-Position", text);
  snprintf(text, sizeof text, "\"%" PRIu64 "\"", version);
  http_response_header(req, "ETag", text);
  if (c->replayed) {
    /* the first answer's entity: a retried create drew a new id this time;
     * streams are named "<kind>-<id>" */
    const char *dash = strchr(c->stream, '-');
    if (dash) snprintf(op->entity_id, sizeof op->entity_id, "%s", dash + 1);
    http_response_header(req, "Idempotent-Replayed", "true");
  }
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "id", op->entity_id);
  cJSON_AddNumberToObject(body, "position", (double)position);
  cJSON_AddNumberToObject(body, "version", (double)version);
  http_respond_json(req, status, body);
  api_op_free(op);
}

int api_if_match(http_request *req, int64_t *expected, pv_error *err) {
  const char *h = http_request_header(req, "If-Match");
  *expected = LOG_EXPECT_ANY;
  if (!h) return 0;
  size_t n = strlen(h);
  const char *p = h;
  if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
    p = h + 1;
    n -= 2;
  }
  char digits[24];
  bool ok = n >= 1 && n < sizeof digits;
  for (size_t i = 0; ok && i < n; i++) ok = p[i] >= '0' && p[i] <= '9';
  if (ok) {
    memcpy(digits, p, n);
    digits[n] = '\0';
    errno = 0;
    unsigned long long v = strtoull(digits, NULL, 10);
    ok = errno == 0 && v <= INT64_MAX;
    *expected = (int64_t)v;
  }
  if (!ok) {
    *expected = LOG_EXPECT_ANY;
    pv_error_set(err, PV_EINVAL, "/headers/if-match", "invalid If-Match");
    pv_error_hint(err, "Send the ETag the entity was read with, such as \"3\".");
    return PV_EINVAL;
  }
  return 0;
}

void api_respond_json(http_request *req, int status, cJSON *json) {
  http_respond_json(req, status, json);
}

/* ---- lockout ------------------------------------------------------------ */

static uint64_t key_hash(const char *key) {
  uint64_t h = 1469598103934665603ull;
  for (const char *s = key; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

/* The slot holding key, or (create) the one to take for it. */
static api_lockout_entry *lockout_slot(api *a, const char *key, bool create, int64_t now_s) {
  uint64_t h = key_hash(key);
  api_lockout_entry *victim = NULL;
  int64_t victim_last = INT64_MAX;
  for (unsigned i = 0; i < 4; i++) {
    api_lockout_entry *e = &a->lockout[(h + i) % API_LOCKOUT_SLOTS];
    if (e->n && strcmp(e->key, key) == 0) return e;
    if (!create) continue;
    int64_t last = 0;
    if (e->n) {
      e->n = auth_lockout_prune(e->fail_s, e->n, now_s);
      last = e->n ? e->fail_s[e->n - 1] : 0;
    }
    if (last < victim_last) {
      victim = e;
      victim_last = last;
    }
  }
  if (victim) {
    memset(victim, 0, sizeof *victim);
    snprintf(victim->key, sizeof victim->key, "%s", key);
  }
  return victim;
}

void api_lockout_check(api *a, const char *key, int64_t now_s, auth_lockout_status *st) {
  api_lockout_entry *e = lockout_slot(a, key, false, now_s);
  if (e) e->n = auth_lockout_prune(e->fail_s, e->n, now_s);
  auth_lockout_check(e ? e->fail_s : NULL, e ? e->n : 0, now_s, st);
}

void api_lockout_fail(api *a, const char *key, int64_t now_s) {
  api_lockout_entry *e = lockout_slot(a, key, true, now_s);
  e->n = auth_lockout_prune(e->fail_s, e->n, now_s);
  e->fail_s[e->n++] = now_s;
}

void api_lockout_clear(api *a, const char *key) {
  api_lockout_entry *e = lockout_slot(a, key, false, 0);
  if (e) memset(e, 0, sizeof *e);
}

/* ---- life cycle --------------------------------------------------------- */

int api_new(uv_loop_t *loop, writer_t *writer, const api_config *cfg, api **out,
            pv_error *err) {
  if (cfg->jwt_key_len > API_JWT_KEY_MAX)
    return pv_error_set(err, PV_EINVAL, NULL, "JWT key too long");
  api *a = pv_xcalloc(1, sizeof *a);
  a->loop = loop;
  a->cfg = *cfg;
  memcpy(a->key, cfg->jwt_key, cfg->jwt_key_len);
  a->cfg.jwt_key = a->key;
  if (cfg->unsub_key) memcpy(a->unsub_key, cfg->unsub_key, sizeof a->unsub_key);
  else randombytes_buf(a->unsub_key, sizeof a->unsub_key);
  a->cfg.unsub_key = a->unsub_key;
  snprintf(a->phone_region, sizeof a->phone_region, "%s",
           cfg->phone_region && cfg->phone_region[0] ? cfg->phone_region : "US");
  a->cfg.phone_region = a->phone_region;
  a->writer = writer;
  a->log = writer_log(writer);
  a->users = pv_xcalloc(API_USER_CACHE, sizeof *a->users);
  a->lockout = pv_xcalloc(API_LOCKOUT_SLOTS, sizeof *a->lockout);
  pthread_mutex_init(&a->done_lock, NULL);
  int rc = auth_jwt_new(a->key, cfg->jwt_key_len, cfg->issuer, cfg->access_ttl_s, &a->jwt, err);
  if (rc) goto fail;
  rc = http_server_new(loop, &cfg->http, http_routes, http_routes_count, &a->srv, err);
  if (rc) goto fail;
  rc = auth_pwpool_new(loop, &cfg->pwpool, &a->pool, err);
  if (rc) goto fail;
  if (cfg->database_conninfo) {
    rc = pg_pool_new(loop, cfg->database_conninfo, cfg->database_connections, &a->db, err);
    if (rc) goto fail;
  }
  if (cfg->data_dir && (rc = api_imports_new(a, cfg->data_dir, &a->imports, err))) goto fail;
  http_server_set_app(a->srv, a);
  http_server_set_authenticate(a->srv, authenticate, a);
  uv_async_init(loop, &a->done_async, on_done_async);
  a->done_async.data = a;
  crm_jobs_resume(a);
  *out = a;
  return 0;
fail:
  if (a->pool) {
    auth_pwpool_close(a->pool);
    uv_run(loop, UV_RUN_NOWAIT);
  }
  if (a->srv) http_server_free(a->srv);
  auth_jwt_free(a->jwt);
  pthread_mutex_destroy(&a->done_lock);
  sodium_memzero(a->key, sizeof a->key);
  sodium_memzero(a->unsub_key, sizeof a->unsub_key);
  free(a->users);
  free(a->lockout);
  free(a);
  return rc;
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void on_http_done(http_server *srv, void *ctx) {
  api *a = ctx;
  (void)srv;
  auth_pwpool_close(a->pool);
  a->pool = NULL;
  pg_pool_free(a->db); /* every handler has answered: no query in flight */
  a->db = NULL;
  uv_close((uv_handle_t *)&a->done_async, on_handle_closed);
  uv_close((uv_handle_t *)&a->stop_async, on_handle_closed);
}

static void on_stop_async(uv_async_t *h) {
  api *a = h->data;
  http_server_shutdown(a->srv, on_http_done, a);
}

int api_listen(api *a, pv_error *err) {
  int rc = http_server_listen(a->srv, err);
  if (rc) return rc;
  uv_async_init(a->loop, &a->stop_async, on_stop_async);
  a->stop_async.data = a;
  a->listening = true;
  return 0;
}

http_server *api_http(api *a) { return a->srv; }

void api_stop(api *a) {
  crm_jobs_stop(a);
  uv_async_send(&a->stop_async);
}

void api_free(api *a) {
  if (!a) return;
  crm_jobs_free(a); /* joins the job threads: the writer still runs */
  if (!a->listening) {
    /* never ran: close what api_new opened, on the caller's loop */
    if (a->pool) auth_pwpool_close(a->pool);
    pg_pool_free(a->db);
    uv_close((uv_handle_t *)&a->done_async, on_handle_closed);
    uv_run(a->loop, UV_RUN_NOWAIT);
  }
  ds_service_stop(a->dsets); /* idle: every request was answered */
  api_imports_free(a->imports);
  http_server_free(a->srv);
  auth_jwt_free(a->jwt);
  pthread_mutex_destroy(&a->done_lock);
  sodium_memzero(a->key, sizeof a->key);
  sodium_memzero(a->unsub_key, sizeof a->unsub_key);
  free(a->users);
  free(a->lockout);
  free(a);
}

/* ---- the signing key ---------------------------------------------------- */

/* Reads the key at path (made once with `make_len` random bytes when absent
 * and not given), of min..max bytes. */
static int load_key(const char *what, const char *path, bool given, size_t make_len,
                    uint8_t *key, size_t min, size_t max, size_t *len, pv_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && !given) {
    /* First start: make the key. O_EXCL so two processes starting at once
     * cannot both write one; the loser reads the winner's. */
    uint8_t fresh[64];
    randombytes_buf(fresh, make_len);
    int wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (wfd >= 0) {
      bool ok = write(wfd, fresh, make_len) == (ssize_t)make_len && fsync(wfd) == 0;
      close(wfd);
      if (!ok) {
        unlink(path);
        sodium_memzero(fresh, sizeof fresh);
        return pv_error_set(err, PV_EIO, NULL, "could not write the %s \"%s\"", what, path);
      }
    }
    sodium_memzero(fresh, sizeof fresh);
    fd = open(path, O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    pv_error_set(err, PV_EIO, NULL, "could not read the %s \"%s\"", what, path);
    pv_error_detail(err, "%s.", strerror(errno));
    return PV_EIO;
  }
  int rc = pv_file_check_private(fd, what, path, err);
  if (rc) {
    close(fd);
    return rc;
  }
  size_t n = 0;
  ssize_t r;
  uint8_t extra;
  while (n < max && (r = read(fd, key + n, max - n)) > 0) n += (size_t)r;
  bool too_long = n == max && read(fd, &extra, 1) == 1;
  close(fd);
  if (n < min || too_long) {
    sodium_memzero(key, max);
    pv_error_set(err, PV_EINVAL, NULL, "the %s \"%s\" has a bad length", what, path);
    if (min == max)
      pv_error_hint(err, "Use %zu random bytes, e.g. `head -c %zu /dev/urandom > FILE`.", min,
                    min);
    else
      pv_error_hint(err, "Use %zu to %zu random bytes, e.g. `head -c 32 /dev/urandom > FILE`.",
                    min, max);
    return PV_EINVAL;
  }
  *len = n;
  return 0;
}

int api_load_jwt_key(const char *key_file, const char *data_dir,
                     uint8_t key[API_JWT_KEY_MAX], size_t *len, pv_error *err) {
  char path[PATH_MAX];
  bool given = key_file && key_file[0];
  if (given) snprintf(path, sizeof path, "%s", key_file);
  else snprintf(path, sizeof path, "%s/jwt.key", data_dir);
  return load_key("JWT key", path, given, AUTH_JWT_KEY_MIN_BYTES, key, AUTH_JWT_KEY_MIN_BYTES,
                  API_JWT_KEY_MAX, len, err);
}

int api_load_unsub_key(const char *key_file, const char *data_dir,
                       uint8_t key[API_UNSUB_KEY_BYTES], pv_error *err) {
  char path[PATH_MAX];
  bool given = key_file && key_file[0];
  if (given) snprintf(path, sizeof path, "%s", key_file);
  else snprintf(path, sizeof path, "%s/unsub.key", data_dir);
  size_t len;
  return load_key("unsubscribe key", path, given, API_UNSUB_KEY_BYTES, key,
                  API_UNSUB_KEY_BYTES, API_UNSUB_KEY_BYTES, &len, err);
}
