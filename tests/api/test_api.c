/*
 * End-to-end tests of the API over loopback: login, refresh rotation and
 * reuse detection, logout, lockout, tokens invalidated by user changes,
 * role denials, the route × role walk, the JWT negative suite, the command
 * path (idempotent retry, If-Match, malformed bodies), Pivotal-Min-Position
 * through a test waiter, and `pivotal user add` beside a running writer.
 *
 * PIVOTAL_BIN: the pivotal binary (for the CLI test; meson sets it).
 */
#include "tests/api/api_test_util.h"

#include "adapters/auth/auth_role.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static const char *jstr(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!cJSON_IsString(v)) test__fail(__FILE__, __LINE__, "no string \"%s\"", key);
  return v->valuestring;
}

static double jnum(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!cJSON_IsNumber(v)) test__fail(__FILE__, __LINE__, "no number \"%s\"", key);
  return v->valuedouble;
}

/* Status of one request, response dropped. */
static int req(apit *t, const char *method, const char *path, const char *token,
               const char *headers, const char *body) {
  test_response r;
  int status = apit_req(t, method, path, token, headers, body, &r);
  test_response_release(&r);
  return status;
}

static int refresh(apit *t, const char *token, cJSON **out) {
  char body[256];
  test_response r;
  snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", token);
  int status = apit_req(t, "POST", "/api/auth/refresh", NULL, NULL, body, &r);
  if (out) *out = status == 200 ? apit_json(&r) : NULL;
  test_response_release(&r);
  return status;
}

static void test_login_me_refresh_rotation_reuse_logout(void) {
  apit t;
  char id[USERS_ID_MAX];
  apit_start(&t, NULL);
  apit_add_user(&t, "Ann@Example.com", "admin", NULL, id);
  cJSON *login = apit_login(&t, " ann@EXAMPLE.com", APIT_PASSWORD);
  ASSERT_STR_EQ(jstr(login, "token_type"), "Bearer");
  ASSERT(jnum(login, "expires_in") <= 900);
  const char *access = jstr(login, "access_token");

  test_response r;
  ASSERT_EQ(apit_req(&t, "GET", "/api/auth/me", access, NULL, NULL, &r), 200);
  cJSON *me = apit_json(&r);
  ASSERT_STR_EQ(jstr(me, "id"), id);
  ASSERT_STR_EQ(jstr(me, "email"), "ann@example.com");
  ASSERT_STR_EQ(jstr(me, "role"), "admin");
  cJSON_Delete(me);
  test_response_release(&r);

  /* rotation: the live token gives a new pair */
  char first[128];
  snprintf(first, sizeof first, "%s", jstr(login, "refresh_token"));
  cJSON *second;
  ASSERT_EQ(refresh(&t, first, &second), 200);
  ASSERT(strcmp(jstr(second, "refresh_token"), first) != 0);
  ASSERT_EQ(req(&t, "GET", "/api/auth/me", jstr(second, "access_token"), NULL, NULL), 200);
  /* reuse of the spent token revokes the family: the live one dies too */
  ASSERT_EQ(refresh(&t, first, NULL), 401);
  ASSERT_EQ(refresh(&t, jstr(second, "refresh_token"), NULL), 401);
  cJSON_Delete(second);

  /* logout revokes the family; logging out again still answers 204 */
  cJSON *again = apit_login(&t, "ann@example.com", APIT_PASSWORD);
  char body[256];
  snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", jstr(again, "refresh_token"));
  ASSERT_EQ(req(&t, "POST", "/api/auth/logout", NULL, NULL, body), 204);
  ASSERT_EQ(req(&t, "POST", "/api/auth/logout", NULL, NULL, body), 204);
  ASSERT_EQ(refresh(&t, jstr(again, "refresh_token"), NULL), 401);
  ASSERT_EQ(refresh(&t, "not-a-token", NULL), 401);
  cJSON_Delete(again);
  cJSON_Delete(login);
  apit_stop(&t);
}

/* A problem body with its per-request "instance" removed. */
static char *problem_without_instance(const test_response *r) {
  cJSON *j = apit_json(r);
  cJSON_DeleteItemFromObject(j, "instance");
  char *s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return s;
}

static void test_lockout_same_for_known_and_unknown(void) {
  apit t;
  char id[USERS_ID_MAX];
  apit_start(&t, NULL);
  apit_add_user(&t, "bob@example.com", "agent", NULL, id);
  const char *emails[] = {"bob@example.com", "nobody@example.com"};
  char *answers[2][2] = {{0}};
  for (int k = 0; k < 2; k++) {
    char body[256];
    test_response r;
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"wrong password\"}", emails[k]);
    for (int i = 0; i < 5; i++) {
      ASSERT_EQ(apit_req(&t, "POST", "/api/auth/login", NULL, NULL, body, &r), 401);
      if (i == 0) answers[k][0] = problem_without_instance(&r);
      test_response_release(&r);
    }
    ASSERT_EQ(apit_req(&t, "POST", "/api/auth/login", NULL, NULL, body, &r), 429);
    char retry[32];
    ASSERT(test_header(&r, "retry-after", retry, sizeof retry));
    ASSERT(atoi(retry) > 0 && atoi(retry) <= 900);
    answers[k][1] = problem_without_instance(&r);
    test_response_release(&r);
    /* the right password does not get through a lock either */
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", emails[k],
             APIT_PASSWORD);
    ASSERT_EQ(req(&t, "POST", "/api/auth/login", NULL, NULL, body), 429);
  }
  ASSERT_STR_EQ(answers[0][0], answers[1][0]);
  ASSERT_STR_EQ(answers[0][1], answers[1][1]);
  for (int k = 0; k < 2; k++) free(answers[k][0]), free(answers[k][1]);
  apit_stop(&t);
}

static void test_real_argon2_cost_login(void) {
  apit t;
  char id[USERS_ID_MAX];
  apit_opts o = {.real_cost = true};
  apit_start(&t, &o);
  ASSERT(strstr(t.hash, "m=19456,t=2") != NULL);
  apit_add_user(&t, "carol@example.com", "data_ops", NULL, id);
  cJSON *j = apit_login(&t, "carol@example.com", APIT_PASSWORD);
  cJSON_Delete(j);
  ASSERT_EQ(req(&t, "POST", "/api/auth/login", NULL, NULL,
                "{\"email\":\"carol@example.com\",\"password\":\"nope nope\"}"), 401);
  apit_stop(&t);
}

/* Password change, role change, disable and log-out-everywhere each stop
 * the user's outstanding tokens at their next request. */
static void test_user_changes_invalidate_tokens(void) {
  apit t;
  char admin[USERS_ID_MAX], user[USERS_ID_MAX], path[128];
  apit_start(&t, NULL);
  apit_add_user(&t, "root@example.com", "admin", NULL, admin);
  apit_add_user(&t, "dan@example.com", "agent", NULL, user);
  char *root = apit_token(&t, admin);
  const char *changes[][3] = {
      {"POST", "/password", "{\"password\":\"another secret\"}"},
      {"PATCH", "", "{\"role\":\"qa_analyst\"}"},
      {"PATCH", "", "{\"disabled\":true}"},
  };
  for (size_t i = 0; i < 3; i++) {
    char *tok = apit_token(&t, user);
    cJSON *session = apit_login(&t, "dan@example.com",
                                i == 0 ? APIT_PASSWORD : "another secret");
    ASSERT_EQ(req(&t, "GET", "/api/auth/me", tok, NULL, NULL), 200);
    snprintf(path, sizeof path, "/api/users/%s%s", user, changes[i][1]);
    ASSERT_EQ(req(&t, changes[i][0], path, root, NULL, changes[i][2]), 200);
    ASSERT_EQ(req(&t, "GET", "/api/auth/me", tok, NULL, NULL), 401);
    ASSERT_EQ(req(&t, "GET", "/api/auth/me", jstr(session, "access_token"), NULL, NULL), 401);
    ASSERT_EQ(refresh(&t, jstr(session, "refresh_token"), NULL), 401);
    cJSON_Delete(session);
    free(tok);
  }
  /* disabled: login refused like a wrong password */
  ASSERT_EQ(req(&t, "POST", "/api/auth/login", NULL, NULL,
                "{\"email\":\"dan@example.com\",\"password\":\"another secret\"}"), 401);
  snprintf(path, sizeof path, "/api/users/%s", user);
  ASSERT_EQ(req(&t, "PATCH", path, root, NULL, "{\"disabled\":false}"), 200);
  cJSON *s = apit_login(&t, "dan@example.com", "another secret");
  /* log out everywhere */
  ASSERT_EQ(req(&t, "POST", "/api/auth/logout-all", jstr(s, "access_token"), NULL, NULL), 200);
  ASSERT_EQ(req(&t, "GET", "/api/auth/me", jstr(s, "access_token"), NULL, NULL), 401);
  ASSERT_EQ(refresh(&t, jstr(s, "refresh_token"), NULL), 401);
  cJSON_Delete(s);
  free(root);
  apit_stop(&t);
}

static void test_client_user_reaching_staff_route(void) {
  apit t;
  char admin[USERS_ID_MAX], client[USERS_ID_MAX], path[128];
  apit_start(&t, NULL);
  apit_add_user(&t, "root@example.com", "admin", NULL, admin);
  apit_add_user(&t, "eve@client.example", "client_user", "acme-corp", client);
  char *tok = apit_token(&t, client);
  snprintf(path, sizeof path, "/api/users/%s", admin);
  test_response r;
  ASSERT_EQ(apit_req(&t, "GET", path, tok, NULL, NULL, &r), 403);
  cJSON *p = apit_json(&r);
  ASSERT_STR_EQ(jstr(p, "code"), "EFORBIDDEN");
  cJSON_Delete(p);
  test_response_release(&r);
  ASSERT_EQ(req(&t, "PATCH", path, tok, NULL, "{\"role\":\"client_user\"}"), 403);
  ASSERT_EQ(req(&t, "GET", "/api/auth/me", tok, NULL, NULL), 200);
  ASSERT_EQ(req(&t, "GET", "/api/auth/me", NULL, NULL, NULL), 401);
  free(tok);
  apit_stop(&t);
}

/* Every route × every role (and anonymous) against the table. */
static void test_route_role_walk(void) {
  apit t;
  char ids[6][USERS_ID_MAX], emails[6][64];
  const char *roles[] = {"admin", "campaign_manager", "data_ops", "qa_analyst", "agent",
                         "client_user"};
  apit_start(&t, NULL);
  for (int i = 0; i < 6; i++) {
    snprintf(emails[i], sizeof emails[i], "%s@example.com", roles[i]);
    apit_add_user(&t, emails[i], roles[i], i == 5 ? "acme" : NULL, ids[i]);
  }
  size_t checked = 0;
  for (size_t ri = 0; ri < http_routes_count; ri++) {
    const http_route *route = &http_routes[ri];
    char path[256] = "";
    for (const char *p = route->path; *p;) {
      if (*p == ':') {
        strcat(path, ids[4]);
        while (*p && *p != '/') p++;
      } else {
        strncat(path, p++, 1);
      }
    }
    const char *method = http_method_name(route->method);
    bool has_body = route->method == HTTP_METHOD_POST || route->method == HTTP_METHOD_PATCH;
    for (int who = -1; who < 6; who++) {
      char *tok = who >= 0 ? apit_token(&t, ids[who]) : NULL;
      int status = req(&t, method, path, tok, NULL, has_body ? "{}" : NULL);
      free(tok);
      if (route->roles & HTTP_PUBLIC) {
        if (status == 401 || status == 403)
          test__fail(__FILE__, __LINE__, "%s %s public but %d", method, path, status);
      } else if (who < 0) {
        if (status != 401)
          test__fail(__FILE__, __LINE__, "%s %s anonymous: %d", method, path, status);
      } else if (!(route->roles & (1u << who))) {
        if (status != 403)
          test__fail(__FILE__, __LINE__, "%s %s as %s: %d", method, path, roles[who], status);
      } else if (status == 401 || status == 403) {
        test__fail(__FILE__, __LINE__, "%s %s as %s: %d", method, path, roles[who], status);
      }
      checked++;
    }
  }
  ASSERT_EQ(checked, http_routes_count * 7);
  /* anything not declared does not exist */
  char *tok = apit_token(&t, ids[0]);
  ASSERT_EQ(req(&t, "GET", "/api/secret", tok, NULL, NULL), 404);
  ASSERT_EQ(req(&t, "DELETE", "/api/users/x", tok, NULL, NULL), 405);
  free(tok);
  apit_stop(&t);
}

/* ---- the JWT negative suite ----------------------------------------------- */

static void b64url(const void *data, size_t len, pv_buf *out) {
  char buf[2048];
  sodium_bin2base64(buf, sizeof buf, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  pv_buf_addstr(out, buf);
}

/* header.payload signed with HS256 under key (key_len may be 0). */
static char *mint(const char *header, const char *payload, const uint8_t *key, size_t key_len) {
  pv_buf tok = PV_BUF_INIT;
  b64url(header, strlen(header), &tok);
  pv_buf_addch(&tok, '.');
  b64url(payload, strlen(payload), &tok);
  uint8_t mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key, key_len);
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)tok.data, tok.len);
  crypto_auth_hmacsha256_final(&st, mac);
  pv_buf_addch(&tok, '.');
  b64url(mac, sizeof mac, &tok);
  return pv_buf_detach(&tok, NULL);
}

static void test_jwt_negative_suite(void) {
  apit t;
  char admin[USERS_ID_MAX], path[128];
  apit_start(&t, NULL);
  apit_add_user(&t, "root@example.com", "admin", NULL, admin);
  snprintf(path, sizeof path, "/api/users/%s", admin);
  long now = (long)time(NULL);
  const char *hs256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  char claims[512], valid[512];
#define CLAIMS(buf, iss, iat, nbf, exp)                                                      \
  snprintf(buf, sizeof buf,                                                                  \
           "{\"iss\":%s,\"sub\":\"%s\",\"tenant\":\"default\",\"role\":\"admin\","          \
           "\"iat\":%s,\"nbf\":%s,\"exp\":%s,\"jti\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"ver\":0}", \
           iss, admin, iat, nbf, exp)
  char iat[32], exp[32], past[32], future[32], fexp[32];
  snprintf(iat, sizeof iat, "%ld", now);
  snprintf(exp, sizeof exp, "%ld", now + 600);
  snprintf(past, sizeof past, "%ld", now - 100);
  snprintf(future, sizeof future, "%ld", now + 300);
  snprintf(fexp, sizeof fexp, "%ld", now + 900);
  CLAIMS(valid, "\"pivotal\"", iat, iat, exp);
  /* the control: a well-made token is accepted */
  char *good = mint(hs256, valid, t.key, sizeof t.key);
  ASSERT_EQ(req(&t, "GET", path, good, NULL, NULL), 200);

  char *bad[16];
  size_t n = 0;
  char past_iat[32];
  snprintf(past_iat, sizeof past_iat, "%ld", now - 1000);
  bad[n++] = mint("{\"alg\":\"none\",\"typ\":\"JWT\"}", valid, t.key, sizeof t.key);
  {
    /* alg none with no signature at all */
    pv_buf b = PV_BUF_INIT;
    b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}", 26, &b);
    pv_buf_addch(&b, '.');
    b64url(valid, strlen(valid), &b);
    pv_buf_addch(&b, '.');
    bad[n++] = pv_buf_detach(&b, NULL);
  }
  bad[n++] = mint("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", valid, t.key, sizeof t.key);
  bad[n++] = mint("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", valid, t.key, sizeof t.key);
  {
    /* tampered payload: the role claim changed after signing */
    char *tok = mint(hs256, valid, t.key, sizeof t.key);
    char tampered[512];
    CLAIMS(tampered, "\"pivotal\"", iat, iat, exp);
    *strstr(tampered, "admin\",\"iat") = 'A';
    pv_buf b = PV_BUF_INIT;
    b64url(hs256, strlen(hs256), &b);
    pv_buf_addch(&b, '.');
    b64url(tampered, strlen(tampered), &b);
    pv_buf_addstr(&b, strrchr(tok, '.'));
    free(tok);
    bad[n++] = pv_buf_detach(&b, NULL);
  }
  char *no_exp;
  CLAIMS(claims, "\"pivotal\"", iat, iat, "0");
  *strstr(claims, ",\"exp\":0") = '\0';
  strcat(claims, ",\"jti\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"ver\":0}");
  bad[n++] = no_exp = mint(hs256, claims, t.key, sizeof t.key);
  char sexp[40];
  snprintf(sexp, sizeof sexp, "\"%ld\"", now + 600);
  CLAIMS(claims, "\"pivotal\"", iat, iat, sexp); /* string exp */
  bad[n++] = mint(hs256, claims, t.key, sizeof t.key);
  char fl[40];
  snprintf(fl, sizeof fl, "%ld.5", now + 600);
  CLAIMS(claims, "\"pivotal\"", iat, iat, fl); /* float exp */
  bad[n++] = mint(hs256, claims, t.key, sizeof t.key);
  CLAIMS(claims, "\"pivotal\"", past_iat, past_iat, past); /* past exp */
  bad[n++] = mint(hs256, claims, t.key, sizeof t.key);
  CLAIMS(claims, "\"pivotal\"", iat, future, fexp); /* future nbf */
  bad[n++] = mint(hs256, claims, t.key, sizeof t.key);
  CLAIMS(claims, "\"evil\"", iat, iat, exp); /* wrong iss */
  bad[n++] = mint(hs256, claims, t.key, sizeof t.key);
  {
    char *tok = mint(hs256, valid, t.key, sizeof t.key);
    tok[strlen(tok) - 4] = '\0'; /* truncated signature */
    bad[n++] = tok;
  }
  bad[n++] = mint(hs256, valid, (const uint8_t *)"", 0); /* empty key */
  (void)no_exp;

  uint64_t head = log_head(t.log);
  for (size_t i = 0; i < n; i++) {
    test_response r;
    int status = apit_req(&t, "PATCH", path, bad[i], NULL, "{\"display_name\":\"Mallory\"}", &r);
    if (status != 401)
      test__fail(__FILE__, __LINE__, "token %zu answered %d: %.*s", i, status,
                 (int)r.body.len, r.body.data);
    char www[64];
    ASSERT(test_header(&r, "www-authenticate", www, sizeof www));
    test_response_release(&r);
    ASSERT_EQ(req(&t, "POST", "/api/auth/logout-all", bad[i], NULL, NULL), 401);
    free(bad[i]);
  }
  ASSERT_U64_EQ(log_head(t.log), head); /* no side effect */
  ASSERT_EQ(req(&t, "GET", path, good, NULL, NULL), 200);
  free(good);
  apit_stop(&t);
}

/* ---- the command path ------------------------------------------------------ */

static void test_idempotent_retry_and_if_match(void) {
  apit t;
  char admin[USERS_ID_MAX], path[128];
  apit_start(&t, NULL);
  apit_add_user(&t, "root@example.com", "admin", NULL, admin);
  char *tok = apit_token(&t, admin);
  const char *key = "Idempotency-Key: 6f1c2a9e-retry-1\r\n";
  test_response r1, r2;
  const char *body = "{\"email\":\"new@example.com\",\"role\":\"agent\",\"password\":\"a long one\"}";
  uint64_t head = log_head(t.log);
  ASSERT_EQ(apit_req(&t, "POST", "/api/users", tok, key, body, &r1), 201);
  ASSERT_EQ(apit_req(&t, "POST", "/api/users", tok, key, body, &r2), 201);
  ASSERT_U64_EQ(log_head(t.log), head + 1); /* one event */
  ASSERT_EQ(r1.body.len, r2.body.len);
  ASSERT(memcmp(r1.body.data, r2.body.data, r1.body.len) == 0);
  char pos[32], replay[16];
  ASSERT(test_header(&r1, "pivotal-position", pos, sizeof pos));
  ASSERT_U64_EQ(strtoull(pos, NULL, 10), head + 1);
  ASSERT(test_header(&r2, "idempotent-replayed", replay, sizeof replay));
  cJSON *created = apit_json(&r1);
  ASSERT_EQ((uint64_t)jnum(created, "position"), head + 1);
  snprintf(path, sizeof path, "/api/users/%s", jstr(created, "id"));
  test_response_release(&r1);
  test_response_release(&r2);
  /* the same key on another request of the same user answers the first */
  /* a new user with the same email is refused */
  ASSERT_EQ(req(&t, "POST", "/api/users", tok, NULL, body), 409);

  /* If-Match: the current version passes, a stale one is 412 */
  test_response r;
  ASSERT_EQ(apit_req(&t, "PATCH", path, tok, "If-Match: \"1\"\r\n",
                     "{\"display_name\":\"New  Person\"}", &r), 200);
  cJSON *upd = apit_json(&r);
  ASSERT_EQ((int)jnum(upd, "version"), 2);
  char etag[16];
  ASSERT(test_header(&r, "etag", etag, sizeof etag));
  ASSERT_STR_EQ(etag, "\"2\"");
  cJSON_Delete(upd);
  test_response_release(&r);
  head = log_head(t.log);
  ASSERT_EQ(apit_req(&t, "PATCH", path, tok, "If-Match: \"1\"\r\n",
                     "{\"display_name\":\"Other\"}", &r), 412);
  cJSON *p = apit_json(&r);
  ASSERT_STR_EQ(jstr(p, "code"), "EPRECONDITION");
  cJSON_Delete(p);
  test_response_release(&r);
  ASSERT_U64_EQ(log_head(t.log), head);
  ASSERT_EQ(req(&t, "PATCH", path, tok, "If-Match: soon\r\n", "{}"), 400);
  ASSERT_EQ(apit_req(&t, "GET", path, tok, NULL, NULL, &r), 200);
  cJSON *got = apit_json(&r);
  ASSERT_STR_EQ(jstr(got, "display_name"), "New Person");
  cJSON_Delete(got);
  test_response_release(&r);

  /* malformed JSON and a wrong content type on a command route */
  ASSERT_EQ(req(&t, "PATCH", path, tok, NULL, "{\"display_name\":"), 400);
  ASSERT_EQ(req(&t, "PATCH", path, tok, "Content-Type: text/plain\r\n", "{}"), 415);
  ASSERT_EQ(req(&t, "PATCH", path, tok, NULL, "[1]"), 400);
  ASSERT_EQ(req(&t, "PATCH", path, tok, NULL, "{\"display_name\":5}"), 400);
  ASSERT_EQ(req(&t, "PATCH", path, tok, NULL, "{\"salary\":5}"), 400);
  ASSERT_EQ(req(&t, "PATCH", "/api/users/nobody", tok, NULL, "{\"disabled\":true}"), 404);
  ASSERT_EQ(req(&t, "PATCH", path, tok, "Idempotency-Key: \r\n", "{}"), 400);
  ASSERT_U64_EQ(log_head(t.log), head);
  cJSON_Delete(created);
  free(tok);
  apit_stop(&t);
}

/* ---- Pivotal-Min-Position --------------------------------------------------- */

typedef struct waiter_ctx {
  uint64_t projected; /* what the "projections" have reached */
  uint64_t asked;
  uv_timer_t timer;
  http_request *held;
  int status;
} waiter_ctx;

static void waiter_fire(uv_timer_t *timer) {
  waiter_ctx *w = timer->data;
  uv_close((uv_handle_t *)timer, NULL);
  http_request_position_done(w->held, w->status);
}

/* Answers later (on a timer, as a real engine would) — reached when the
 * asked position is at most `projected`, else timed out. */
static void test_waiter(void *ctx, http_request *r, uint64_t position, unsigned timeout_ms) {
  waiter_ctx *w = ctx;
  w->asked = position;
  w->held = r;
  w->status = position <= w->projected ? 0 : PV_ETIMEDOUT;
  uv_timer_init(http_request_loop(r), &w->timer);
  w->timer.data = w;
  uv_timer_start(&w->timer, waiter_fire, w->status ? timeout_ms / 100 : 1, 0);
}

static void test_min_position_waits_through_the_hook(void) {
  apit t;
  char admin[USERS_ID_MAX];
  waiter_ctx w = {.projected = 1};
  apit_opts o = {.waiter = test_waiter, .waiter_ctx = &w};
  apit_start(&t, &o);
  apit_add_user(&t, "root@example.com", "admin", NULL, admin);
  char *tok = apit_token(&t, admin);
  ASSERT_EQ(req(&t, "GET", "/api/auth/me", tok, "Pivotal-Min-Position: 1\r\n", NULL), 200);
  ASSERT_U64_EQ(w.asked, 1);
  test_response r;
  ASSERT_EQ(apit_req(&t, "GET", "/api/auth/me", tok, "Pivotal-Min-Position: 7\r\n", NULL, &r),
            504);
  ASSERT_U64_EQ(w.asked, 7);
  cJSON *p = apit_json(&r);
  ASSERT_STR_EQ(jstr(p, "code"), "ETIMEDOUT");
  cJSON_Delete(p);
  test_response_release(&r);
  ASSERT_EQ(req(&t, "GET", "/api/auth/me", tok, "Pivotal-Min-Position: -3\r\n", NULL), 400);
  ASSERT_EQ(req(&t, "GET", "/api/auth/me", tok, "Pivotal-Min-Position: 99999999999999999999\r\n",
                NULL), 400);
  /* position 0 and commands do not wait */
  w.asked = 0;
  ASSERT_EQ(req(&t, "GET", "/api/auth/me", tok, "Pivotal-Min-Position: 0\r\n", NULL), 200);
  ASSERT_EQ(req(&t, "POST", "/api/auth/logout-all", tok, "Pivotal-Min-Position: 9\r\n", NULL),
            200);
  ASSERT_U64_EQ(w.asked, 0);
  free(tok);
  apit_stop(&t);
}

static void test_min_position_without_waiter_answers_at_once(void) {
  apit t;
  char admin[USERS_ID_MAX];
  apit_start(&t, NULL);
  apit_add_user(&t, "root@example.com", "admin", NULL, admin);
  char *tok = apit_token(&t, admin);
  ASSERT_EQ(req(&t, "GET", "/api/auth/me", tok, "Pivotal-Min-Position: 123456\r\n", NULL), 200);
  ASSERT_EQ(req(&t, "GET", "/api/auth/me", tok, "Pivotal-Min-Position: x\r\n", NULL), 400);
  free(tok);
  apit_stop(&t);
}

/* ---- pivotal user add beside a running writer -------------------------------- */

static void test_cli_user_add_beside_the_server(void) {
  apit t;
  char admin[USERS_ID_MAX];
  apit_start(&t, NULL);
  apit_add_user(&t, "first@example.com", "admin", NULL, admin);
  char pwfile[4096];
  snprintf(pwfile, sizeof pwfile, "%s/pw", test_tmpdir());
  FILE *f = fopen(pwfile, "w");
  ASSERT(f != NULL);
  fprintf(f, "%s\n", APIT_PASSWORD);
  fclose(f);
  const char *pivotal_bin = getenv("PIVOTAL_BIN");
  ASSERT(pivotal_bin != NULL);
  pid_t child = fork();
  ASSERT(child >= 0);
  if (child == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    execl(pivotal_bin, pivotal_bin, "user", "add", "--email", "Second@Example.com", "--role",
          "campaign_manager", "--password-file", pwfile, "--data-dir", test_tmpdir(),
          (char *)NULL);
    _exit(127);
  }
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* the server's writer appends after the other process did */
  char third[USERS_ID_MAX];
  apit_add_user(&t, "third@example.com", "agent", NULL, third);
  uint64_t count, bad;
  uint8_t hash[32];
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(log_verify(t.log, &count, hash, &bad, &err));
  ASSERT_U64_EQ(count, 3);
  /* the CLI's user logs in at the real cost its hash carries */
  cJSON *j = apit_login(&t, "second@example.com", APIT_PASSWORD);
  cJSON *user = cJSON_GetObjectItemCaseSensitive(j, "user");
  ASSERT_STR_EQ(jstr(user, "role"), "campaign_manager");
  cJSON_Delete(j);
  apit_stop(&t);
}

/* The JWT and unsubscribe keys: made once, owner-only; a given key file
 * others can read is refused. */
static void test_key_files_are_the_owners_alone(void) {
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s", test_tmpdir());
  uint8_t key[API_JWT_KEY_MAX], again[API_JWT_KEY_MAX];
  size_t len = 0, len2 = 0;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(api_load_jwt_key(NULL, dir, key, &len, &err));
  snprintf(path, sizeof path, "%s/jwt.key", dir);
  struct stat st;
  ASSERT_EQ(stat(path, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  ASSERT_OK(api_load_jwt_key(NULL, dir, again, &len2, &err));
  ASSERT_EQ(len2, len);
  ASSERT_MEM_EQ(again, key, len);

  snprintf(path, sizeof path, "%s/given.key", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT(fd >= 0);
  ASSERT_EQ(write(fd, key, 32), 32);
  close(fd);
  ASSERT_OK(api_load_jwt_key(path, dir, again, &len2, &err));
  ASSERT_EQ(chmod(path, 0644), 0);
  ASSERT_ERR(api_load_jwt_key(path, dir, again, &len2, &err), PV_EINVAL);
  ASSERT(strstr(err.message, "given.key") && strstr(err.hint, "chmod 600"));
  uint8_t unsub[API_UNSUB_KEY_BYTES];
  ASSERT_ERR(api_load_unsub_key(path, dir, unsub, &err), PV_EINVAL);
}

TEST_MAIN(TEST(test_login_me_refresh_rotation_reuse_logout),
          TEST(test_lockout_same_for_known_and_unknown), TEST(test_real_argon2_cost_login),
          TEST(test_user_changes_invalidate_tokens), TEST(test_client_user_reaching_staff_route),
          TEST(test_route_role_walk), TEST(test_jwt_negative_suite),
          TEST(test_idempotent_retry_and_if_match),
          TEST(test_min_position_waits_through_the_hook),
          TEST(test_min_position_without_waiter_answers_at_once),
          TEST(test_cli_user_add_beside_the_server), TEST(test_key_files_are_the_owners_alone))
