/* Tests of core/suppressions against a real LMDB log and writer:
 * normalization, scopes, admin-only removal, batch checks, bulk upload and
 * the one-click unsubscribe. */
#include "adapters/auth/auth_role.h"
#include "core/actor.h"
#include "core/suppressions.h"
#include "tests/compliance/cutil.h"

#include <stdlib.h>

static const actor_ref DATA_OPS = {ACTOR_ROLE_DATA_OPS, NULL};
static const actor_ref ADMIN = {ACTOR_ROLE_ADMIN, NULL};

static void key_of(const char *channel, const char *raw, const char *region, char *out) {
  pv_error err = PV_ERROR_INIT;
  int rc = supp_normalize(channel, raw, strlen(raw), region, out, &err);
  if (rc) test__fail(__FILE__, __LINE__, "normalize \"%s\": %s", raw, err.message);
}

static void test_roles_match_auth(void) {
#define XX(NAME, name, bit)                                                   \
  ASSERT_EQ(ACTOR_ROLE_##NAME, AUTH_ROLE_##NAME);                             \
  ASSERT_STR_EQ(actor_role_name(ACTOR_ROLE_##NAME), auth_role_name(AUTH_ROLE_##NAME));
  AUTH_ROLE_MAP(XX)
#undef XX
  ASSERT_EQ(ACTOR_ROLE_ALL, AUTH_ROLE_ALL);
}

static void test_normalize_emails(void) {
  static const char *const same[] = {"foo@example.com", "Foo@Example.COM",
                                     "  foo@EXAMPLE.com\t", ("\xc2\xa0" "FOO@example.com")};
  char want[SUPP_KEY_MAX], got[SUPP_KEY_MAX];
  key_of("email", same[0], NULL, want);
  ASSERT_STR_EQ(want, "foo@example.com");
  for (size_t i = 1; i < sizeof same / sizeof same[0]; i++) {
    key_of("email", same[i], NULL, got);
    ASSERT_STR_EQ(got, want);
  }
  key_of("email", "Jane@Bücher.Example", NULL, got);
  ASSERT_STR_EQ(got, "jane@xn--bcher-kva.example");
  key_of("email", "jane@xn--bcher-kva.example", NULL, want);
  ASSERT_STR_EQ(got, want);
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(supp_normalize("email", "no-at-sign", 10, NULL, got, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/value");
  ASSERT_ERR(supp_normalize("fax", "x", 1, NULL, got, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/channel");
}

static void test_normalize_phones(void) {
  static const char *const us[] = {"+1 (415) 555-0123", "14155550123", "(415) 555-0123",
                                   "415.555.0123", "+1-415-555-0123", "001 415 555 0123"};
  char want[SUPP_KEY_MAX], got[SUPP_KEY_MAX];
  key_of("phone", us[0], NULL, want);
  for (size_t i = 1; i < sizeof us / sizeof us[0]; i++) {
    key_of("phone", us[i], "US", got);
    if (strcmp(got, want) != 0)
      test__fail(__FILE__, __LINE__, "\"%s\" -> \"%s\", want \"%s\"", us[i], got, want);
  }
  /* a UK number written nationally with region GB, and internationally */
  key_of("phone", "020 7946 0018", "GB", want);
  ASSERT_STR_EQ(want, "+442079460018");
  key_of("phone", "+44 20 7946 0018", "US", got);
  ASSERT_STR_EQ(got, want);
  /* a number that is not valid anywhere is compared by its digits */
  key_of("phone", "+999 12-34", NULL, want);
  ASSERT_STR_EQ(want, "9991234");
  key_of("phone", "999 1234", NULL, got);
  ASSERT_STR_EQ(got, want);
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(supp_normalize("phone", "call me", 7, NULL, got, &err), PV_EINVAL);
}

static int add(cu_env *env, const actor_ref *by, const char *channel, const char *value,
               const char *client, supp_add *out) {
  supp_add a = {.by = *by, .channel = channel, .value = value, .client_id = client,
                .reason = "asked", .source = "manual"};
  writer_cmd cmd = cu_cmd("user:1");
  pv_error err = PV_ERROR_INIT;
  int rc = supp_add_bind(&a, &cmd, &err);
  if (rc) return rc;
  rc = writer_run(env->w, &cmd);
  if (out) *out = a;
  return rc;
}

static supp_status check(cu_env *env, const char *client, const char *channel, const char *raw) {
  supp_result r;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(supp_check(env->log, "acme", client, channel, raw, NULL, &r, &err));
  return r.status;
}

static void test_normalized_check_blocks_variants(void) {
  cu_env env;
  cu_open(&env);
  supp_add a;
  ASSERT_OK(add(&env, &DATA_OPS, "email", "Foo@Example.COM", NULL, &a));
  ASSERT(!a.already);
  ASSERT_U64_EQ(a.position, log_head(env.log));
  ASSERT_OK(add(&env, &DATA_OPS, "phone", "+1 (415) 555-0123", NULL, NULL));
  ASSERT_EQ(check(&env, NULL, "email", "foo@example.com"), SUPP_SUPPRESSED);
  ASSERT_EQ(check(&env, "client-a", "email", " FOO@example.com "), SUPP_SUPPRESSED);
  ASSERT_EQ(check(&env, NULL, "phone", "14155550123"), SUPP_SUPPRESSED);
  ASSERT_EQ(check(&env, NULL, "phone", "(415) 555-0123"), SUPP_SUPPRESSED);
  ASSERT_EQ(check(&env, NULL, "email", "bar@example.com"), SUPP_CONTACTABLE);
  ASSERT_EQ(check(&env, NULL, "phone", "+1 415 555 0124"), SUPP_CONTACTABLE);
  ASSERT_EQ(check(&env, NULL, "email", "not an address"), SUPP_INVALID);

  supp_result r;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(supp_check(env.log, "acme", NULL, "email", "FOO@EXAMPLE.COM", NULL, &r, &err));
  ASSERT_STR_EQ(r.key, "foo@example.com");
  ASSERT(r.global);
  ASSERT_STR_EQ(r.reason, "asked");
  ASSERT_STR_EQ(r.source, "manual");
  ASSERT_U64_EQ(r.position, a.position);
  ASSERT_EQ(r.at_us, a.at_us);
  /* another tenant is not affected */
  ASSERT_OK(supp_check(env.log, "other", NULL, "email", "foo@example.com", NULL, &r, &err));
  ASSERT_EQ(r.status, SUPP_CONTACTABLE);
  ASSERT_ERR(supp_check(env.log, "acme", NULL, "fax", "1", NULL, &r, &err), PV_EINVAL);

  /* adding again is a no-op that names the first entry */
  supp_add again;
  ASSERT_OK(add(&env, &DATA_OPS, "email", "foo@EXAMPLE.com", NULL, &again));
  ASSERT(again.already);
  ASSERT_U64_EQ(again.position, a.position);
  ASSERT_EQ(cu_count_events(env.log, "suppression.added"), 2);
  cu_close(&env);
}

static void test_global_vs_client_scope(void) {
  cu_env env;
  cu_open(&env);
  ASSERT_OK(add(&env, &DATA_OPS, "email", "jane@x.com", "client-a", NULL));
  ASSERT_EQ(check(&env, "client-a", "email", "jane@x.com"), SUPP_SUPPRESSED);
  ASSERT_EQ(check(&env, "client-b", "email", "jane@x.com"), SUPP_CONTACTABLE);
  ASSERT_EQ(check(&env, NULL, "email", "jane@x.com"), SUPP_CONTACTABLE);
  ASSERT_OK(add(&env, &DATA_OPS, "email", "jane@x.com", "client-b", NULL));
  ASSERT_EQ(check(&env, "client-b", "email", "jane@x.com"), SUPP_SUPPRESSED);
  ASSERT_EQ(check(&env, "client-c", "email", "jane@x.com"), SUPP_CONTACTABLE);
  ASSERT_OK(add(&env, &DATA_OPS, "email", "jane@x.com", NULL, NULL));
  supp_result r;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(supp_check(env.log, "acme", "client-c", "email", "jane@x.com", NULL, &r, &err));
  ASSERT_EQ(r.status, SUPP_SUPPRESSED);
  ASSERT(r.global);
  /* a client user may suppress for its own client only */
  actor_ref cu = {ACTOR_ROLE_CLIENT_USER, "client-d"};
  ASSERT_OK(add(&env, &cu, "phone", "+14155550123", "client-d", NULL));
  ASSERT_ERR(add(&env, &cu, "phone", "+14155550123", "client-e", NULL), PV_EFORBIDDEN);
  ASSERT_ERR(add(&env, &cu, "phone", "+14155550123", NULL, NULL), PV_EFORBIDDEN);
  actor_ref nobody = {0, NULL};
  ASSERT_ERR(add(&env, &nobody, "phone", "+14155550123", NULL, NULL), PV_EFORBIDDEN);
  cu_close(&env);
}

static int remove_as(cu_env *env, const actor_ref *by, const char *value, const char *client,
                     const char *reason, pv_error *err) {
  supp_remove rm = {.by = *by, .channel = "email", .value = value, .client_id = client,
                    .reason = reason};
  writer_cmd cmd = cu_cmd("user:2");
  int rc = supp_remove_bind(&rm, &cmd, err);
  if (rc) return rc;
  rc = writer_run(env->w, &cmd);
  *err = cmd.error;
  return rc;
}

static void test_removal_admin_only_and_logged(void) {
  cu_env env;
  cu_open(&env);
  ASSERT_OK(add(&env, &DATA_OPS, "email", "jane@x.com", NULL, NULL));
  ASSERT_OK(add(&env, &DATA_OPS, "email", "jane@x.com", "client-a", NULL));
  pv_error err = PV_ERROR_INIT;
  static const uint32_t others[] = {ACTOR_ROLE_CAMPAIGN_MANAGER, ACTOR_ROLE_DATA_OPS,
                                    ACTOR_ROLE_QA_ANALYST, ACTOR_ROLE_AGENT};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    actor_ref by = {others[i], NULL};
    ASSERT_ERR(remove_as(&env, &by, "jane@x.com", NULL, "mistake", &err), PV_EFORBIDDEN);
  }
  actor_ref cu = {ACTOR_ROLE_CLIENT_USER, "client-a"};
  ASSERT_ERR(remove_as(&env, &cu, "jane@x.com", "client-a", "mistake", &err), PV_EFORBIDDEN);
  /* the decide checks the role too, whatever the bind was told */
  supp_remove rm = {.by = ADMIN, .channel = "email", .value = "jane@x.com", .reason = "r"};
  writer_cmd cmd = cu_cmd("user:2");
  ASSERT_OK(supp_remove_bind(&rm, &cmd, &err));
  rm.by.role = ACTOR_ROLE_DATA_OPS;
  ASSERT_ERR(writer_run(env.w, &cmd), PV_EFORBIDDEN);

  ASSERT_ERR(remove_as(&env, &ADMIN, "jane@x.com", NULL, "", &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/reason");
  ASSERT_OK(remove_as(&env, &ADMIN, "JANE@x.com", NULL, "asked by the client's legal team", &err));
  ASSERT_EQ(check(&env, "client-b", "email", "jane@x.com"), SUPP_CONTACTABLE);
  ASSERT_EQ(check(&env, "client-a", "email", "jane@x.com"), SUPP_SUPPRESSED);
  ASSERT_ERR(remove_as(&env, &ADMIN, "jane@x.com", NULL, "again", &err), PV_ENOTFOUND);
  ASSERT_ERR(remove_as(&env, &ADMIN, "jane@x.com", "client-z", "none", &err), PV_ENOTFOUND);
  ASSERT_OK(remove_as(&env, &ADMIN, "jane@x.com", "client-a", "done", &err));
  ASSERT_EQ(check(&env, "client-a", "email", "jane@x.com"), SUPP_CONTACTABLE);
  /* the history stays: two adds and two removals */
  ASSERT_EQ(cu_count_events(env.log, "suppression.added"), 2);
  ASSERT_EQ(cu_count_events(env.log, "suppression.removed"), 2);
  /* and it can be suppressed again */
  ASSERT_OK(add(&env, &DATA_OPS, "email", "jane@x.com", NULL, NULL));
  ASSERT_EQ(check(&env, NULL, "email", "jane@x.com"), SUPP_SUPPRESSED);
  cu_close(&env);
}

static void test_batch_check(void) {
  cu_env env;
  cu_open(&env);
  ASSERT_OK(add(&env, &DATA_OPS, "email", "a@x.com", NULL, NULL));
  ASSERT_OK(add(&env, &DATA_OPS, "phone", "+442079460018", "client-a", NULL));
  supp_query q[] = {{"email", "A@X.COM", NULL},        {"email", "b@x.com", NULL},
                    {"phone", "020 7946 0018", "GB"},  {"phone", "+1 415 555 0100", NULL},
                    {"email", "@", NULL}};
  supp_result r[5];
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(supp_check_batch(env.log, "acme", "client-a", q, 5, r, &err));
  ASSERT_EQ(r[0].status, SUPP_SUPPRESSED);
  ASSERT_EQ(r[1].status, SUPP_CONTACTABLE);
  ASSERT_EQ(r[2].status, SUPP_SUPPRESSED);
  ASSERT(!r[2].global);
  ASSERT_EQ(r[3].status, SUPP_CONTACTABLE);
  ASSERT_EQ(r[4].status, SUPP_INVALID);
  q[3].channel = "fax";
  ASSERT_ERR(supp_check_batch(env.log, "acme", NULL, q, 5, r, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/3/channel");
  cu_close(&env);
}

static void test_bulk_upload(void) {
  cu_env env;
  cu_open(&env);
  enum { N = 2500 };
  supp_row *rows = calloc(N, sizeof *rows);
  char (*values)[64] = calloc(N, 64);
  for (size_t i = 0; i < N; i++) {
    snprintf(values[i], 64, i == 7 ? "broken-%zu" : "User%zu@Example.com", i % 2400);
    rows[i].value = values[i];
    rows[i].reason = i % 3 ? NULL : "bounced";
  }
  supp_bulk b = {.tenant = "acme", .actor = "user:1", .by = DATA_OPS, .upload_id = "up-1",
                 .channel = "email", .source = "csv:up-1", .default_reason = "imported"};
  supp_row_result *out = calloc(N, sizeof *out);
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(supp_bulk_run(env.w, &b, rows, N, out, &err));
  size_t ok = 0, already = 0;
  for (size_t i = 0; i < N; i++) {
    if (i == 7) {
      ASSERT_EQ(out[i].status, PV_EINVAL);
      ASSERT(out[i].message[0]);
      continue;
    }
    ASSERT_OK(out[i].status);
    ASSERT(out[i].position > 0);
    if (out[i].already) already++;
    else ok++;
  }
  /* 2400 distinct values (row 7 is broken, its address comes at 2407);
   * rows 2400.. repeat rows 0..99 */
  ASSERT_EQ(ok, 2400);
  ASSERT_EQ(already, 99);
  ASSERT_EQ(cu_count_events(env.log, "suppression.added"), 2400);
  ASSERT_EQ(check(&env, NULL, "email", "user1234@example.com"), SUPP_SUPPRESSED);
  supp_result r;
  ASSERT_OK(supp_check(env.log, "acme", NULL, "email", "user3@example.com", NULL, &r, &err));
  ASSERT_STR_EQ(r.reason, "bounced");
  ASSERT_STR_EQ(r.source, "csv:up-1");

  /* the same upload retried: answered from idempotency records, no new event */
  supp_row_result *again = calloc(N, sizeof *again);
  ASSERT_OK(supp_bulk_run(env.w, &b, rows, N, again, &err));
  for (size_t i = 0; i < N; i++) {
    ASSERT_EQ(again[i].status, out[i].status);
    if (i != 7 && !out[i].already) ASSERT_U64_EQ(again[i].position, out[i].position);
  }
  ASSERT_EQ(cu_count_events(env.log, "suppression.added"), 2400);
  b.upload_id = "bad id!";
  ASSERT_ERR(supp_bulk_run(env.w, &b, rows, N, again, &err), PV_EINVAL);
  free(again);
  free(out);
  free(values);
  free(rows);
  cu_close(&env);
}

static void test_one_click_unsubscribe(void) {
  cu_env env;
  cu_open(&env);
  static const uint8_t key[UNSUB_KEY_BYTES] = "k-0123456789abcdef0123456789abc";
  unsub_claims c = {.tenant = "acme", .channel = "email", .value = "Jane@X.com",
                    .client_id = "client-a", .campaign_id = "camp-1", .issued_at_s = 1};
  pv_buf tok = PV_BUF_INIT;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(unsub_token_make(&c, key, &tok, &err));
  unsub_claims got;
  ASSERT_OK(unsub_token_verify(tok.data, tok.len, key, 2, 0, &got, &err));
  supp_unsubscribe u;
  writer_cmd cmd = cu_cmd("system:unsubscribe");
  ASSERT_OK(supp_unsubscribe_bind(&u, &got, 0, &cmd, &err));
  ASSERT_OK(writer_run(env.w, &cmd));
  supp_result r;
  ASSERT_OK(supp_check(env.log, "acme", "client-a", "email", "jane@x.com", NULL, &r, &err));
  ASSERT_EQ(r.status, SUPP_SUPPRESSED);
  ASSERT_STR_EQ(r.source, "one_click");
  ASSERT_STR_EQ(r.reason, "unsubscribed by link (campaign camp-1)");
  ASSERT_EQ(check(&env, "client-b", "email", "jane@x.com"), SUPP_CONTACTABLE);
  pv_buf_release(&tok);
  cu_close(&env);
}

TEST_MAIN(TEST(test_roles_match_auth), TEST(test_normalize_emails), TEST(test_normalize_phones),
          TEST(test_normalized_check_blocks_variants), TEST(test_global_vs_client_scope),
          TEST(test_removal_admin_only_and_logged), TEST(test_batch_check),
          TEST(test_bulk_upload), TEST(test_one_click_unsubscribe))
