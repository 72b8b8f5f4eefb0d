/* auth_role — see auth_role.h. Everything about names is expanded from
 * AUTH_ROLE_MAP, so parsing and printing cannot drift. */
#include "adapters/auth/auth_role.h"

#include <string.h>

int auth_role_parse(const char *name, size_t len, auth_role *out, pv_error *err) {
#define AUTH__XX(NAME, text, bit)                                             \
  if (len == sizeof(text) - 1 && memcmp(name, text, len) == 0) {              \
    *out = AUTH_ROLE_##NAME;                                                  \
    return 0;                                                                 \
  }
  if (name) {
    AUTH_ROLE_MAP(AUTH__XX)
  }
#undef AUTH__XX
  pv_error_set(err, PV_EINVAL, "/role", "unknown role \"%.*s\"",
               name ? (int)(len > 64 ? 64 : len) : 0, name ? name : "");
  pv_error_hint(err, "Use one of: admin, campaign_manager, data_ops, "
                     "qa_analyst, agent, client_user.");
  return PV_EINVAL;
}

const char *auth_role_name(auth_role role) {
  switch (role) {
#define AUTH__XX(NAME, text, bit) case AUTH_ROLE_##NAME: return text;
    AUTH_ROLE_MAP(AUTH__XX)
#undef AUTH__XX
  default: return NULL;
  }
}

bool auth_role_valid(auth_role role) { return auth_role_name(role) != NULL; }

bool auth_id_valid(const char *s) {
  if (!s || !*s) return false;
  size_t n = 0;
  for (; s[n]; n++) {
    char c = s[n];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
              c == '-';
    if (!ok || n + 1 >= AUTH_ID_MAX) return false;
  }
  return true;
}

int auth_role_check_client(auth_role role, const char *client_id, pv_error *err) {
  bool has = client_id && *client_id;
  if (role == AUTH_ROLE_CLIENT_USER) {
    if (!has)
      return pv_error_set(err, PV_EINVAL, "/client_id",
                          "a client user needs a client id");
    if (!auth_id_valid(client_id))
      return pv_error_set(err, PV_EINVAL, "/client_id", "invalid client id");
    return 0;
  }
  if (has)
    return pv_error_set(err, PV_EINVAL, "/client_id",
                        "only a client user has a client id");
  return 0;
}

int auth_principal_validate(const auth_principal *p, pv_error *err) {
  if (!auth_id_valid(p->user_id))
    return pv_error_set(err, PV_EINVAL, "/user_id", "invalid user id");
  if (!auth_id_valid(p->tenant))
    return pv_error_set(err, PV_EINVAL, "/tenant", "invalid tenant");
  if (!auth_role_valid(p->role))
    return pv_error_set(err, PV_EINVAL, "/role", "invalid role");
  return auth_role_check_client(p->role, p->client_id, err);
}

int auth_principal_check_current(const auth_principal *p,
                                 uint64_t current_token_version,
                                 bool user_disabled, pv_error *err) {
  if (user_disabled || p->token_version != current_token_version)
    return pv_error_set(err, PV_EUNAUTHORIZED, NULL,
                        "token is no longer valid");
  return 0;
}
