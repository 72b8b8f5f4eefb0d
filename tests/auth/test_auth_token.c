/*
 * Tests of auth_token: issue and rotation, reuse of a spent token revoking
 * the family, logout, a changed user, expiry, and that the stored record
 * never holds the secret.
 */
#include "adapters/auth/auth_token.h"
#include "tests/harness/test.h"

#include <sodium.h>
#include <string.h>

#define NOW 1795000000LL

static auth_token_family login(char token[AUTH_TOKEN_BUF]) {
  auth_token_family fam;
  ASSERT_OK(auth_token_issue("u1", "acme", 7, NOW, &fam, token, NULL));
  return fam;
}

static void test_issue_and_parse(void) {
  char token[AUTH_TOKEN_BUF];
  auth_token_family fam = login(token);
  ASSERT_EQ(strlen(token), AUTH_TOKEN_CHARS);
  ASSERT_EQ(fam.generation, 0);
  ASSERT_EQ(fam.revoked, AUTH_TOKEN_LIVE);
  ASSERT_EQ(fam.expires_s, NOW + AUTH_TOKEN_IDLE_S);
  ASSERT_STR_EQ(fam.user_id, "u1");
  uint8_t id[AUTH_TOKEN_FAMILY_ID_BYTES];
  ASSERT_OK(auth_token_parse(token, strlen(token), id, NULL));
  ASSERT_MEM_EQ(id, fam.family_id, sizeof id);
  char hex[2 * AUTH_TOKEN_FAMILY_ID_BYTES + 1];
  auth_token_family_hex(id, hex);
  ASSERT_EQ(strlen(hex), 32);

  /* the record holds a hash, never the secret */
  uint8_t raw[48];
  size_t got;
  ASSERT_OK(sodium_base642bin(raw, sizeof raw, token, strlen(token), NULL, &got,
                              NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING));
  ASSERT(memmem(&fam, sizeof fam, raw + 16, 32) == NULL);
  ASSERT(memmem(&fam, sizeof fam, raw + 16, 8) == NULL);

  ASSERT_ERR(auth_token_issue("bad id", "acme", 7, NOW, &fam, token, NULL),
             PV_EINVAL);
}

static void test_parse_refuses_garbage(void) {
  uint8_t id[AUTH_TOKEN_FAMILY_ID_BYTES];
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(auth_token_parse("", 0, id, &err), PV_EUNAUTHORIZED);
  ASSERT_STR_EQ(err.message, "invalid refresh token");
  char token[AUTH_TOKEN_BUF];
  login(token);
  ASSERT_ERR(auth_token_parse(token, AUTH_TOKEN_CHARS - 1, id, NULL), PV_EUNAUTHORIZED);
  token[10] = '+'; /* standard base64, not base64url */
  ASSERT_ERR(auth_token_parse(token, AUTH_TOKEN_CHARS, id, NULL), PV_EUNAUTHORIZED);
  token[10] = '=';
  ASSERT_ERR(auth_token_parse(token, AUTH_TOKEN_CHARS, id, NULL), PV_EUNAUTHORIZED);
  ASSERT_ERR(auth_token_parse(NULL, 64, id, NULL), PV_EUNAUTHORIZED);
}

static void test_rotation(void) {
  char t0[AUTH_TOKEN_BUF], t1[AUTH_TOKEN_BUF], t2[AUTH_TOKEN_BUF];
  auth_token_family f0 = login(t0), f1, f2;
  auth_token_outcome out;
  ASSERT_OK(auth_token_rotate(&f0, t0, strlen(t0), 7, NOW + 60, &f1, t1, &out, NULL));
  ASSERT_EQ(out, AUTH_TOKEN_ROTATED);
  ASSERT(auth_token_outcome_persists(out));
  ASSERT(strcmp(t0, t1) != 0);
  ASSERT_EQ(f1.generation, 1);
  ASSERT_EQ(f1.rotated_s, NOW + 60);
  ASSERT_EQ(f1.expires_s, NOW + 60 + AUTH_TOKEN_IDLE_S);
  ASSERT_MEM_EQ(f1.family_id, f0.family_id, AUTH_TOKEN_FAMILY_ID_BYTES);
  ASSERT(memcmp(f1.live_hash, f0.live_hash, AUTH_TOKEN_HASH_BYTES) != 0);
  ASSERT_OK(auth_token_rotate(&f1, t1, strlen(t1), 7, NOW + 120, &f2, t2, &out, NULL));
  ASSERT_EQ(f2.generation, 2);
  ASSERT_EQ(f2.created_s, NOW);
}

static void test_reuse_revokes_family(void) {
  char t0[AUTH_TOKEN_BUF], t1[AUTH_TOKEN_BUF], t2[AUTH_TOKEN_BUF];
  auth_token_family f0 = login(t0), f1, f2, f3;
  auth_token_outcome out;
  ASSERT_OK(auth_token_rotate(&f0, t0, strlen(t0), 7, NOW + 60, &f1, t1, &out, NULL));
  /* the spent t0 comes back (a thief, or the client after the thief) */
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(auth_token_rotate(&f1, t0, strlen(t0), 7, NOW + 90, &f2, t2, &out, &err),
             PV_EUNAUTHORIZED);
  ASSERT_EQ(out, AUTH_TOKEN_REUSED);
  ASSERT(auth_token_outcome_persists(out));
  ASSERT_STR_EQ(err.message, "invalid refresh token");
  ASSERT_STR_EQ(t2, "");
  ASSERT_EQ(f2.revoked, AUTH_TOKEN_REVOKED_REUSE);
  ASSERT_EQ(f2.revoked_s, NOW + 90);
  /* the live t1 is now dead too: the whole family is revoked */
  ASSERT_ERR(auth_token_rotate(&f2, t1, strlen(t1), 7, NOW + 100, &f3, t2, &out, NULL),
             PV_EUNAUTHORIZED);
  ASSERT_EQ(out, AUTH_TOKEN_DENIED);
  ASSERT(!auth_token_outcome_persists(out));
  ASSERT_EQ(f3.revoked, AUTH_TOKEN_REVOKED_REUSE);
  ASSERT_EQ(f3.revoked_s, NOW + 90);
}

static void test_logout(void) {
  char t0[AUTH_TOKEN_BUF], t1[AUTH_TOKEN_BUF];
  auth_token_family f0 = login(t0), f1, f2;
  auth_token_outcome out;
  ASSERT_OK(auth_token_logout(&f0, t0, strlen(t0), NOW + 5, &f1, &out, NULL));
  ASSERT_EQ(out, AUTH_TOKEN_LOGGED_OUT);
  ASSERT_EQ(f1.revoked, AUTH_TOKEN_REVOKED_LOGOUT);
  ASSERT_ERR(auth_token_rotate(&f1, t0, strlen(t0), 7, NOW + 6, &f2, t1, &out, NULL),
             PV_EUNAUTHORIZED);
  ASSERT_EQ(out, AUTH_TOKEN_DENIED);
  ASSERT_ERR(auth_token_logout(&f1, t0, strlen(t0), NOW + 7, &f2, &out, NULL),
             PV_EUNAUTHORIZED);
  ASSERT_EQ(out, AUTH_TOKEN_DENIED);
}

static void test_logout_with_spent_token_is_reuse(void) {
  char t0[AUTH_TOKEN_BUF], t1[AUTH_TOKEN_BUF];
  auth_token_family f0 = login(t0), f1, f2;
  auth_token_outcome out;
  ASSERT_OK(auth_token_rotate(&f0, t0, strlen(t0), 7, NOW + 60, &f1, t1, &out, NULL));
  ASSERT_ERR(auth_token_logout(&f1, t0, strlen(t0), NOW + 70, &f2, &out, NULL),
             PV_EUNAUTHORIZED);
  ASSERT_EQ(out, AUTH_TOKEN_REUSED);
  ASSERT_EQ(f2.revoked, AUTH_TOKEN_REVOKED_REUSE);
}

static void test_user_changed_revokes(void) {
  char t0[AUTH_TOKEN_BUF], t1[AUTH_TOKEN_BUF];
  auth_token_family f0 = login(t0), f1;
  auth_token_outcome out;
  ASSERT_ERR(auth_token_rotate(&f0, t0, strlen(t0), 8, NOW + 60, &f1, t1, &out, NULL),
             PV_EUNAUTHORIZED);
  ASSERT_EQ(out, AUTH_TOKEN_USER_CHANGED);
  ASSERT(auth_token_outcome_persists(out));
  ASSERT_EQ(f1.revoked, AUTH_TOKEN_REVOKED_USER_CHANGED);
}

static void test_expiry(void) {
  char t0[AUTH_TOKEN_BUF], t1[AUTH_TOKEN_BUF];
  auth_token_family f0 = login(t0), f1;
  auth_token_outcome out;
  /* unused for the idle period */
  ASSERT_ERR(auth_token_rotate(&f0, t0, strlen(t0), 7, NOW + AUTH_TOKEN_IDLE_S, &f1,
                               t1, &out, NULL), PV_EUNAUTHORIZED);
  ASSERT_EQ(out, AUTH_TOKEN_DENIED);
  ASSERT_EQ(f1.revoked, AUTH_TOKEN_LIVE);

  /* refreshed every 6 days: still ends at the absolute limit */
  char tok[AUTH_TOKEN_BUF], next_tok[AUTH_TOKEN_BUF];
  strcpy(tok, t0);
  auth_token_family cur = f0, next;
  int64_t t = NOW;
  for (;;) {
    t += 6 * 24 * 3600;
    int rc = auth_token_rotate(&cur, tok, strlen(tok), 7, t, &next, next_tok, &out,
                               NULL);
    if (rc != 0) break;
    ASSERT_LE(next.expires_s, NOW + AUTH_TOKEN_ABSOLUTE_S);
    cur = next;
    strcpy(tok, next_tok);
  }
  ASSERT_EQ(out, AUTH_TOKEN_DENIED);
  ASSERT_LE(t, NOW + AUTH_TOKEN_ABSOLUTE_S + 6 * 24 * 3600);
  ASSERT(t >= NOW + AUTH_TOKEN_ABSOLUTE_S);
}

static void test_wrong_family_and_admin_revoke(void) {
  char ta[AUTH_TOKEN_BUF], tb[AUTH_TOKEN_BUF], t1[AUTH_TOKEN_BUF];
  auth_token_family fa = login(ta), fb = login(tb), next;
  auth_token_outcome out;
  ASSERT_ERR(auth_token_rotate(&fa, tb, strlen(tb), 7, NOW, &next, t1, &out, NULL),
             PV_EINVAL);
  ASSERT_EQ(out, AUTH_TOKEN_DENIED);
  ASSERT_EQ(next.revoked, AUTH_TOKEN_LIVE);
  ASSERT(auth_token_revoke(&fb, AUTH_TOKEN_REVOKED_ADMIN, NOW + 1, &next));
  ASSERT_EQ(next.revoked, AUTH_TOKEN_REVOKED_ADMIN);
  auth_token_family again;
  ASSERT(!auth_token_revoke(&next, AUTH_TOKEN_REVOKED_LOGOUT, NOW + 2, &again));
  ASSERT_EQ(again.revoked, AUTH_TOKEN_REVOKED_ADMIN);
  ASSERT(!auth_token_revoke(&fa, AUTH_TOKEN_LIVE, NOW, &again));
}

TEST_MAIN(TEST(test_issue_and_parse), TEST(test_parse_refuses_garbage),
          TEST(test_rotation), TEST(test_reuse_revokes_family), TEST(test_logout),
          TEST(test_logout_with_spent_token_is_reuse),
          TEST(test_user_changed_revokes), TEST(test_expiry),
          TEST(test_wrong_family_and_admin_revoke))
