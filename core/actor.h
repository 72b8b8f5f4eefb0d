/*
 * actor — who issues a command, as the write side sees it: a role and, for
 * a client user, the client it belongs to.
 *
 * core/ may not include adapters/, so the role bits are declared here again
 * with the same names and bits as adapters/auth/auth_role.h's
 * AUTH_ROLE_MAP; tests/compliance checks that the two lists agree, so the
 * HTTP layer passes principal.role through unchanged.
 *
 * Thread: everything here is pure.
 */
#ifndef PV_ACTOR_H
#define PV_ACTOR_H

#include <stdbool.h>
#include <stdint.h>

/* XX(NAME, name as written in tokens and events, bit) */
#define ACTOR_ROLE_MAP(XX)                                                    \
  XX(ADMIN,            "admin",            0)                                 \
  XX(CAMPAIGN_MANAGER, "campaign_manager", 1)                                 \
  XX(DATA_OPS,         "data_ops",         2)                                 \
  XX(QA_ANALYST,       "qa_analyst",       3)                                 \
  XX(AGENT,            "agent",            4)                                 \
  XX(CLIENT_USER,      "client_user",      5)

enum {
#define ACTOR__XX(NAME, name, bit) ACTOR_ROLE_##NAME = 1u << (bit),
  ACTOR_ROLE_MAP(ACTOR__XX)
#undef ACTOR__XX
};

#define ACTOR_ROLE_ALL                                                        \
  (ACTOR_ROLE_ADMIN | ACTOR_ROLE_CAMPAIGN_MANAGER | ACTOR_ROLE_DATA_OPS |     \
   ACTOR_ROLE_QA_ANALYST | ACTOR_ROLE_AGENT | ACTOR_ROLE_CLIENT_USER)
#define ACTOR_ROLE_STAFF (ACTOR_ROLE_ALL & ~ACTOR_ROLE_CLIENT_USER)

/*
 * The acting principal a command carries. role is exactly one ACTOR_ROLE_*
 * bit; client_id is the client of a client user (required for that role,
 * ignored for staff). The actor's user id travels in writer_cmd.actor.
 */
typedef struct actor_ref {
  uint32_t role;
  const char *client_id;
} actor_ref;

/* The name of one role bit ("admin"); NULL for anything else. */
static inline const char *actor_role_name(uint32_t role) {
  switch (role) {
#define ACTOR__XX(NAME, name, bit) case ACTOR_ROLE_##NAME: return name;
    ACTOR_ROLE_MAP(ACTOR__XX)
#undef ACTOR__XX
  }
  return 0;
}

/* True when a is one known role, and a client user names its client. */
static inline bool actor_valid(const actor_ref *a) {
  if (!actor_role_name(a->role)) return false;
  if (a->role == ACTOR_ROLE_CLIENT_USER) return a->client_id && a->client_id[0];
  return true;
}

#endif
