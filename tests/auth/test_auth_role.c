/* Tests of auth_role: names and values, unknown names, the client binding
 * and principal validation. */
#include "adapters/auth/auth_role.h"
#include "tests/harness/test.h"

#include <string.h>

static void test_every_role_round_trips(void) {
  unsigned seen = 0;
#define CHECK(NAME, text, bit)                                                \
  do {                                                                        \
    auth_role r;                                                              \
    ASSERT_OK(auth_role_parse(text, strlen(text), &r, NULL));                 \
    ASSERT_EQ(r, AUTH_ROLE_##NAME);                                           \
    ASSERT_STR_EQ(auth_role_name(r), text);                                   \
    ASSERT_EQ(seen & (unsigned)r, 0); /* one distinct bit each */            \
    seen |= (unsigned)r;                                                      \
  } while (0);
  AUTH_ROLE_MAP(CHECK)
#undef CHECK
  ASSERT_EQ(seen, AUTH_ROLE_ALL);
  ASSERT_EQ(AUTH_ROLE_STAFF & AUTH_ROLE_CLIENT_USER, 0);
  ASSERT(AUTH_ROLE_STAFF & AUTH_ROLE_ADMIN);
}

static void test_unknown_names_rejected(void) {
  const char *bad[] = {"", "Admin", "ADMIN", "root", "admin ", "client-user",
                       "agents", "agen"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    auth_role r = AUTH_ROLE_NONE;
    ASSERT_ERR(auth_role_parse(bad[i], strlen(bad[i]), &r, NULL), PV_EINVAL);
    ASSERT_EQ(r, AUTH_ROLE_NONE);
  }
  pv_error err = PV_ERROR_INIT;
  auth_role r;
  ASSERT_ERR(auth_role_parse("root", 4, &r, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, "unknown role \"root\"");
  ASSERT_STR_EQ(err.field, "/role");
  /* the length is honoured: "admin" followed by more bytes is not admin */
  ASSERT_ERR(auth_role_parse("adminx", 6, &r, NULL), PV_EINVAL);
  ASSERT_OK(auth_role_parse("adminx", 5, &r, NULL));
  ASSERT_ERR(auth_role_parse(NULL, 0, &r, NULL), PV_EINVAL);
  ASSERT(auth_role_name(AUTH_ROLE_NONE) == NULL);
  ASSERT(auth_role_name(AUTH_ROLE_ADMIN | AUTH_ROLE_AGENT) == NULL);
  ASSERT(auth_role_name((auth_role)(1u << 20)) == NULL);
  ASSERT(!auth_role_valid(AUTH_ROLE_NONE));
}

static void test_client_binding(void) {
  ASSERT_OK(auth_role_check_client(AUTH_ROLE_CLIENT_USER, "client-42", NULL));
  ASSERT_ERR(auth_role_check_client(AUTH_ROLE_CLIENT_USER, NULL, NULL), PV_EINVAL);
  ASSERT_ERR(auth_role_check_client(AUTH_ROLE_CLIENT_USER, "", NULL), PV_EINVAL);
  ASSERT_ERR(auth_role_check_client(AUTH_ROLE_CLIENT_USER, "bad id", NULL), PV_EINVAL);
  ASSERT_OK(auth_role_check_client(AUTH_ROLE_ADMIN, NULL, NULL));
  ASSERT_OK(auth_role_check_client(AUTH_ROLE_AGENT, "", NULL));
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(auth_role_check_client(AUTH_ROLE_AGENT, "client-42", &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/client_id");
}

static void test_ids_and_principal(void) {
  ASSERT(auth_id_valid("01HZX3K9V4T6Q2M8N5B7C1D0EF"));
  ASSERT(auth_id_valid("3f0c8a9e-1b2c-4d5e-8f90-a1b2c3d4e5f6"));
  ASSERT(!auth_id_valid(""));
  ASSERT(!auth_id_valid(NULL));
  ASSERT(!auth_id_valid("a b"));
  ASSERT(!auth_id_valid("a\"b"));
  char longest[AUTH_ID_MAX];
  memset(longest, 'a', AUTH_ID_MAX - 1);
  longest[AUTH_ID_MAX - 1] = '\0';
  ASSERT(auth_id_valid(longest));
  char too_long[AUTH_ID_MAX + 1];
  memset(too_long, 'a', AUTH_ID_MAX);
  too_long[AUTH_ID_MAX] = '\0';
  ASSERT(!auth_id_valid(too_long));

  auth_principal p = {0};
  strcpy(p.user_id, "u1");
  strcpy(p.tenant, "acme");
  p.role = AUTH_ROLE_QA_ANALYST;
  ASSERT_OK(auth_principal_validate(&p, NULL));
  p.role = AUTH_ROLE_CLIENT_USER;
  ASSERT_ERR(auth_principal_validate(&p, NULL), PV_EINVAL);
  strcpy(p.client_id, "c1");
  ASSERT_OK(auth_principal_validate(&p, NULL));
  p.tenant[0] = '\0';
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(auth_principal_validate(&p, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/tenant");
}

TEST_MAIN(TEST(test_every_role_round_trips), TEST(test_unknown_names_rejected),
          TEST(test_client_binding), TEST(test_ids_and_principal))
