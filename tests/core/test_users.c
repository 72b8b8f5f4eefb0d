/* Unit tests of the users aggregate's pure decide and apply (no LMDB). */
#include "core/users.h"
#include "tests/harness/test.h"

#include <string.h>

static const char *hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";

/* Decides c on *s and applies the events, as the writer would. */
static int run(users_state *s, const users_cmd *c, bool taken, size_t *n_events) {
  users_decision d;
  pv_error err = PV_ERROR_INIT;
  users_decision_init(&d);
  int rc = users_decide(s, c, taken, &d, &err);
  for (size_t i = 0; rc == 0 && i < d.n; i++) {
    evt_envelope e;
    memset(&e, 0, sizeof e);
    e.type = evt_str(d.type[i]);
    e.payload = (const uint8_t *)d.payload[i].data;
    e.payload_len = d.payload[i].len;
    e.stream_version = s->version + 1;
    e.position = 100 + s->version;
    ASSERT_OK(users_apply(s, &e));
  }
  if (n_events) *n_events = d.n;
  users_decision_release(&d);
  return rc;
}

static users_cmd reg(const char *email, const char *role, const char *client) {
  return (users_cmd){.kind = USERS_REGISTER, .user_id = "u1", .expected_version = LOG_EXPECT_ANY,
                     .email = email, .role = role, .client_id = client,
                     .password_hash = hash, .display_name = "  Ann   Lee ", .disabled = -1};
}

static void test_register_normalizes_and_checks(void) {
  users_state s = {0};
  users_cmd c = reg(" Ann@EXAMPLE.com ", "admin", NULL);
  ASSERT_ERR(run(&s, &c, true, NULL), PV_EEXISTS); /* email taken */
  c = reg("not an email", "admin", NULL);
  ASSERT_ERR(run(&s, &c, false, NULL), PV_EINVAL);
  c = reg("a@example.com", "client_user", NULL); /* a client user needs a client */
  ASSERT_ERR(run(&s, &c, false, NULL), PV_EINVAL);
  c = reg("a@example.com", "agent", "acme"); /* staff has none */
  ASSERT_ERR(run(&s, &c, false, NULL), PV_EINVAL);
  c = reg(" Ann@EXAMPLE.com ", "admin", NULL);
  ASSERT_OK(run(&s, &c, false, NULL));
  ASSERT(s.exists);
  ASSERT_STR_EQ(s.email, "ann@example.com");
  ASSERT_STR_EQ(s.display_name, "Ann Lee");
  ASSERT_U64_EQ(s.version, 1);
  ASSERT_U64_EQ(s.token_version, 0);
  ASSERT_ERR(run(&s, &c, false, NULL), PV_EEXISTS);
}

static void test_token_version_moves_on_security_changes(void) {
  users_state s = {0};
  users_cmd c = reg("a@example.com", "agent", NULL);
  size_t n;
  ASSERT_OK(run(&s, &c, false, NULL));
  users_cmd name = {.kind = USERS_UPDATE, .user_id = "u1", .expected_version = LOG_EXPECT_ANY,
                    .display_name = "Bea", .disabled = -1};
  ASSERT_OK(run(&s, &name, false, &n));
  ASSERT_EQ(n, 1);
  ASSERT_U64_EQ(s.token_version, 0); /* a name is not a security change */
  ASSERT_OK(run(&s, &name, false, &n));
  ASSERT_EQ(n, 0); /* no change, no event */
  users_cmd rehash = {.kind = USERS_REHASH_PASSWORD, .user_id = "u1",
                      .expected_version = LOG_EXPECT_ANY, .password_hash = hash, .disabled = -1};
  ASSERT_OK(run(&s, &rehash, false, NULL));
  ASSERT_U64_EQ(s.token_version, 0);
  users_cmd pw = rehash;
  pw.kind = USERS_SET_PASSWORD;
  ASSERT_OK(run(&s, &pw, false, NULL));
  ASSERT_U64_EQ(s.token_version, 1);
  users_cmd role = {.kind = USERS_UPDATE, .user_id = "u1", .expected_version = LOG_EXPECT_ANY,
                    .role = "client_user", .client_id = "acme", .disabled = -1};
  ASSERT_OK(run(&s, &role, false, NULL));
  ASSERT_U64_EQ(s.token_version, 2);
  ASSERT_STR_EQ(s.client_id, "acme");
  users_cmd dis = {.kind = USERS_UPDATE, .user_id = "u1", .expected_version = LOG_EXPECT_ANY,
                   .disabled = 1};
  ASSERT_OK(run(&s, &dis, false, NULL));
  ASSERT(s.disabled);
  ASSERT_U64_EQ(s.token_version, 3);
  dis.disabled = 0;
  ASSERT_OK(run(&s, &dis, false, NULL));
  ASSERT(!s.disabled);
  ASSERT_U64_EQ(s.token_version, 3);
  users_cmd all = {.kind = USERS_REVOKE_TOKENS, .user_id = "u1",
                   .expected_version = LOG_EXPECT_ANY, .disabled = -1};
  ASSERT_OK(run(&s, &all, false, NULL));
  ASSERT_U64_EQ(s.token_version, 4);
}

static void test_expected_version_and_missing_user(void) {
  users_state s = {0};
  users_cmd name = {.kind = USERS_UPDATE, .user_id = "u1", .expected_version = LOG_EXPECT_ANY,
                    .display_name = "X", .disabled = -1};
  ASSERT_ERR(run(&s, &name, false, NULL), PV_ENOTFOUND);
  users_cmd c = reg("a@example.com", "agent", NULL);
  ASSERT_OK(run(&s, &c, false, NULL));
  name.expected_version = 3;
  ASSERT_ERR(run(&s, &name, false, NULL), PV_EPRECONDITION);
  name.expected_version = 1;
  ASSERT_OK(run(&s, &name, false, NULL));
  users_cmd bad = {.kind = USERS_SET_PASSWORD, .user_id = "u1",
                   .expected_version = LOG_EXPECT_ANY, .password_hash = "plain", .disabled = -1};
  ASSERT_ERR(run(&s, &bad, false, NULL), PV_EINVAL);
}

TEST_MAIN(TEST(test_register_normalizes_and_checks),
          TEST(test_token_version_moves_on_security_changes),
          TEST(test_expected_version_and_missing_user))
