/*
 * auth_role — the roles a user can hold, and the principal a request acts
 * as once its access token is verified.
 *
 * Roles are single bits so the route table can declare the roles a route
 * allows as one mask (AUTH_ROLE_ADMIN | AUTH_ROLE_DATA_OPS) and the router
 * tests `mask & principal.role`. A user holds exactly one role. A client
 * user belongs to exactly one client (the company whose orders it sees);
 * every other role belongs to none, so a staff principal can never be
 * confused with a portal one.
 *
 * Identifiers (user, tenant, client) are 1..AUTH_ID_MAX-1 bytes of
 * [A-Za-z0-9._:-]: a UUID, a ULID or a tenant slug fits; anything that
 * would need quoting in a header, a log line or a JWT does not.
 *
 * Thread: everything here is pure and safe from any thread.
 */
#ifndef AUTH_ROLE_H
#define AUTH_ROLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common/pv_error.h"

/* XX(NAME, name as written in tokens, the CLI and the API, bit) */
#define AUTH_ROLE_MAP(XX)                                                     \
  XX(ADMIN,            "admin",            0)                                 \
  XX(CAMPAIGN_MANAGER, "campaign_manager", 1)                                 \
  XX(DATA_OPS,         "data_ops",         2)                                 \
  XX(QA_ANALYST,       "qa_analyst",       3)                                 \
  XX(AGENT,            "agent",            4)                                 \
  XX(CLIENT_USER,      "client_user",      5)

typedef enum auth_role {
  AUTH_ROLE_NONE = 0,
#define AUTH__XX(NAME, name, bit) AUTH_ROLE_##NAME = 1u << (bit),
  AUTH_ROLE_MAP(AUTH__XX)
#undef AUTH__XX
} auth_role;

/* Masks for the route table. */
#define AUTH_ROLE_ALL                                                         \
  (AUTH_ROLE_ADMIN | AUTH_ROLE_CAMPAIGN_MANAGER | AUTH_ROLE_DATA_OPS |        \
   AUTH_ROLE_QA_ANALYST | AUTH_ROLE_AGENT | AUTH_ROLE_CLIENT_USER)
#define AUTH_ROLE_STAFF (AUTH_ROLE_ALL & ~AUTH_ROLE_CLIENT_USER)

/* Bytes of an identifier including its NUL. */
#define AUTH_ID_MAX 64

/*
 * Parses a role name ("data_ops"; exact, case-sensitive) of len bytes.
 * Returns: 0 and *out set, or PV_EINVAL for any other text (err names the
 * value and lists the known roles in its hint). err may be NULL.
 */
int auth_role_parse(const char *name, size_t len, auth_role *out, pv_error *err);

/* The name of a single known role; NULL for NONE, a mask of several bits
 * or an unknown bit. The string is static. */
const char *auth_role_name(auth_role role);

/* True when role is exactly one known role (one bit of AUTH_ROLE_ALL). */
bool auth_role_valid(auth_role role);

/* True when s (NUL-terminated) is a valid identifier (see above). */
bool auth_id_valid(const char *s);

/*
 * Checks that a user of `role` carries a client id exactly when the role is
 * client_user. client_id may be NULL or "" for "none".
 * Returns: 0, or PV_EINVAL (field "/client_id") when a client user has none
 * or an invalid one, or another role has one. err may be NULL.
 */
int auth_role_check_client(auth_role role, const char *client_id, pv_error *err);

/*
 * Who a request acts as: filled by auth_jwt_verify from a token, or by the
 * login endpoint from the users aggregate before auth_jwt_issue. Embedded
 * by value on purpose (a request keeps one; no allocation).
 */
typedef struct auth_principal {
  char user_id[AUTH_ID_MAX];
  char tenant[AUTH_ID_MAX];
  char client_id[AUTH_ID_MAX]; /* "" unless role is AUTH_ROLE_CLIENT_USER */
  auth_role role;
  /* The user's token version when the token was issued. The users
   * aggregate bumps it on a password change, a role change and a disable,
   * so older tokens stop matching (auth_principal_check_current). */
  uint64_t token_version;
  int64_t iat_s;   /* issued at, seconds since the epoch (0 before issue) */
  int64_t exp_s;   /* expires at, seconds since the epoch (0 before issue) */
  char jti[32];    /* token id, base64url (22 chars); "" before issue */
} auth_principal;

/*
 * Checks the identity fields of p: user id and tenant valid, role exactly
 * one known role, client id as auth_role_check_client wants.
 * Returns: 0 or PV_EINVAL with the offending field. err may be NULL.
 */
int auth_principal_validate(const auth_principal *p, pv_error *err);

/*
 * The check every authenticated request makes against the users aggregate
 * (read from the write side or a cache of it): the token's version must
 * equal the user's current one and the user must not be disabled.
 * Returns: 0, or PV_EUNAUTHORIZED ("token is no longer valid") when the
 * versions differ or the user is disabled. err may be NULL.
 */
int auth_principal_check_current(const auth_principal *p,
                                 uint64_t current_token_version,
                                 bool user_disabled, pv_error *err);

#endif
