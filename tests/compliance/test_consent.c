/* Tests of core/consent against a real log: grant, withdraw, the fold per
 * channel, and refused input. */
#include "core/consent.h"
#include "tests/compliance/cutil.h"

static const actor_ref OPS = {ACTOR_ROLE_DATA_OPS, NULL};

static int change(cu_env *env, consent_change *c, pv_error *err) {
  writer_cmd cmd = cu_cmd("user:1");
  int rc = consent_change_bind(c, &cmd, err);
  if (rc) return rc;
  rc = writer_run(env->w, &cmd);
  *err = cmd.error;
  return rc;
}

static void test_grant_withdraw_fold(void) {
  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  consent_change g = {.by = OPS, .contact_id = "contact-1", .channel = "email", .granted = true,
                      .source = "webinar form", .wording = "Yes, email me about Acme.",
                      .ip = "203.0.113.9", .at_us = 1700000000000000};
  ASSERT_OK(change(&env, &g, &err));
  consent_change p = {.by = OPS, .contact_id = "contact-1", .channel = "phone", .granted = true,
                      .source = "call", .wording = "You may call me.", .ip = "2001:db8::1"};
  ASSERT_OK(change(&env, &p, &err));
  consent_state s;
  ASSERT_OK(consent_read(env.log, "acme", "contact-1", &s, &err));
  ASSERT(s.channel[CONSENT_EMAIL].known && s.channel[CONSENT_EMAIL].granted);
  ASSERT_STR_EQ(s.channel[CONSENT_EMAIL].wording, "Yes, email me about Acme.");
  ASSERT_STR_EQ(s.channel[CONSENT_EMAIL].ip, "203.0.113.9");
  ASSERT_STR_EQ(s.channel[CONSENT_EMAIL].source, "webinar form");
  ASSERT_EQ(s.channel[CONSENT_EMAIL].at_us, 1700000000000000);
  ASSERT(s.channel[CONSENT_PHONE].granted);
  ASSERT(!s.channel[CONSENT_SMS].known);

  consent_change w = {.by = OPS, .contact_id = "contact-1", .channel = "email",
                      .granted = false, .source = "preference centre"};
  ASSERT_OK(change(&env, &w, &err));
  ASSERT_OK(consent_read(env.log, "acme", "contact-1", &s, &err));
  ASSERT(s.channel[CONSENT_EMAIL].known && !s.channel[CONSENT_EMAIL].granted);
  ASSERT_STR_EQ(s.channel[CONSENT_EMAIL].source, "preference centre");
  ASSERT(s.channel[CONSENT_PHONE].granted);
  ASSERT_EQ(cu_count_events(env.log, "consent.granted"), 2);
  ASSERT_EQ(cu_count_events(env.log, "consent.withdrawn"), 1);
  /* another contact knows nothing */
  ASSERT_OK(consent_read(env.log, "acme", "contact-2", &s, &err));
  ASSERT(!s.channel[CONSENT_EMAIL].known);
  cu_close(&env);
}

static void test_refused_input(void) {
  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  consent_change c = {.by = OPS, .contact_id = "contact-1", .channel = "fax", .granted = true,
                      .source = "s", .wording = "w"};
  ASSERT_ERR(change(&env, &c, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/channel");
  c.channel = "sms";
  c.wording = NULL;
  ASSERT_ERR(change(&env, &c, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/wording");
  c.wording = "w";
  c.ip = "300.1.1.1";
  ASSERT_ERR(change(&env, &c, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/ip");
  c.ip = NULL;
  c.contact_id = "bad id";
  ASSERT_ERR(change(&env, &c, &err), PV_EINVAL);
  c.contact_id = "contact-1";
  c.by = (actor_ref){ACTOR_ROLE_CLIENT_USER, "client-a"};
  ASSERT_ERR(change(&env, &c, &err), PV_EFORBIDDEN);
  ASSERT_EQ(log_head(env.log), 0);
  cu_close(&env);
}

TEST_MAIN(TEST(test_grant_withdraw_fold), TEST(test_refused_input))
