/* api_test_util — see api_test_util.h. */
#include "tests/api/api_test_util.h"

#include "adapters/auth/auth_password.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The test cost: libsodium's minimum passes (1) and 64 KiB, about 0.1 ms;
 * flagged so auth_pwcost_check allows it. */
static const auth_pwcost test_cost = {1, 64u << 10, true};

static void *loop_main(void *arg) {
  apit *t = arg;
  uv_run(&t->loop, UV_RUN_DEFAULT);
  return NULL;
}

void apit_start(apit *t, const apit_opts *opts) {
  static const apit_opts none = {0};
  if (!opts) opts = &none;
  memset(t, 0, sizeof *t);
  pv_error err = PV_ERROR_INIT;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/log", test_tmpdir());
  ASSERT_OK(log_open(&t->log, dir, NULL, &err));
  ASSERT_OK(writer_start(&t->writer, t->log, NULL, &err));
  randombytes_buf(t->key, sizeof t->key);
  ASSERT_OK(auth_jwt_new(t->key, sizeof t->key, "pivotal", 900, &t->jwt, &err));
  api_config cfg;
  api_config_init(&cfg);
  test_config(&cfg.http);
  cfg.jwt_key = t->key;
  cfg.jwt_key_len = sizeof t->key;
  cfg.data_dir = opts->data_dir;
  cfg.unsub_key = opts->unsub_key;
  cfg.enricher = opts->enricher;
  if (!opts->real_cost) cfg.pwpool.cost = test_cost;
  cfg.database_conninfo = opts->database_conninfo;
  auth_pwcost cost = cfg.pwpool.cost;
  ASSERT_OK(auth_password_hash(&cost, APIT_PASSWORD, strlen(APIT_PASSWORD), t->hash, &err));
  ASSERT_OK(uv_loop_init(&t->loop));
  int rc = api_new(&t->loop, t->writer, &cfg, &t->api, &err);
  if (rc) test__fail(__FILE__, __LINE__, "api_new: %s", err.message);
  if (opts->waiter)
    http_server_set_position_waiter(api_http(t->api), opts->waiter, opts->waiter_ctx);
  ASSERT_OK(api_listen(t->api, &err));
  t->port = http_server_port(api_http(t->api));
  ASSERT_EQ(pthread_create(&t->thread, NULL, loop_main, t), 0);
}

static void count_handle(uv_handle_t *h, void *arg) {
  (void)h;
  (*(int *)arg)++;
}

void apit_stop(apit *t) {
  api_stop(t->api);
  ASSERT_EQ(pthread_join(t->thread, NULL), 0);
  api_free(t->api);
  uv_run(&t->loop, UV_RUN_NOWAIT);
  int open_handles = 0;
  uv_walk(&t->loop, count_handle, &open_handles);
  ASSERT_EQ(open_handles, 0);
  ASSERT_EQ(uv_loop_close(&t->loop), 0);
  writer_stop(t->writer);
  log_close(t->log);
  auth_jwt_free(t->jwt);
}

void apit_add_user(apit *t, const char *email, const char *role, const char *client_id,
                   char id[USERS_ID_MAX]) {
  static unsigned counter;
  snprintf(id, USERS_ID_MAX, "u%u-%s", ++counter, role);
  users_cmd uc = {.kind = USERS_REGISTER, .user_id = id, .expected_version = LOG_EXPECT_ANY,
                  .email = email, .role = role, .client_id = client_id,
                  .password_hash = t->hash, .disabled = -1};
  writer_cmd cmd = {.tenant = "default", .actor = "test", .decide = users_decide_cmd,
                    .arg = &uc};
  int rc = writer_run(t->writer, &cmd);
  if (rc) test__fail(__FILE__, __LINE__, "add user: %s", cmd.error.message);
}

char *apit_token(apit *t, const char *user_id) {
  log_reader *rd;
  users_state st;
  ASSERT_OK(log_read_begin(t->log, &rd));
  ASSERT_OK(users_load(rd, "default", user_id, &st));
  log_read_end(rd);
  auth_principal p;
  memset(&p, 0, sizeof p);
  snprintf(p.user_id, sizeof p.user_id, "%s", user_id);
  snprintf(p.tenant, sizeof p.tenant, "default");
  snprintf(p.client_id, sizeof p.client_id, "%s", st.client_id);
  ASSERT_OK(auth_role_parse(st.role, strlen(st.role), &p.role, NULL));
  p.token_version = st.token_version;
  char *token;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(auth_jwt_issue(t->jwt, &p, (int64_t)time(NULL), &token, NULL, &err));
  return token;
}

int apit_req(apit *t, const char *method, const char *path, const char *token,
             const char *extra_headers, const char *body, test_response *r) {
  pv_buf raw = PV_BUF_INIT;
  pv_buf_addf(&raw, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", method, path);
  if (token) pv_buf_addf(&raw, "Authorization: Bearer %s\r\n", token);
  if (extra_headers) pv_buf_addstr(&raw, extra_headers);
  if (body) {
    if (!extra_headers || !strstr(extra_headers, "Content-Type"))
      pv_buf_addstr(&raw, "Content-Type: application/json\r\n");
    pv_buf_addf(&raw, "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
  } else {
    pv_buf_addstr(&raw, "\r\n");
  }
  int status = test_request(t->port, raw.data, r);
  pv_buf_release(&raw);
  return status;
}

cJSON *apit_json(const test_response *r) {
  cJSON *j = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
  if (!j) test__fail(__FILE__, __LINE__, "not JSON: %.*s", (int)r->body.len, r->body.data);
  return j;
}

cJSON *apit_login(apit *t, const char *email, const char *password) {
  char body[512];
  test_response r;
  snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
  int status = apit_req(t, "POST", "/api/auth/login", NULL, NULL, body, &r);
  if (status != 200)
    test__fail(__FILE__, __LINE__, "login %d: %.*s", status, (int)r.body.len, r.body.data);
  cJSON *j = apit_json(&r);
  test_response_release(&r);
  return j;
}
