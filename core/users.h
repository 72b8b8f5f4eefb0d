/*
 * users — the users aggregate: who may log in, with which role, password
 * hash and token version. Event-sourced like every aggregate: the stream
 * "user-<id>" holds user.registered, user.role_assigned,
 * user.display_name_changed, user.password_changed, user.password_rehashed,
 * user.disabled, user.enabled and user.tokens_revoked (schema/events.def).
 *
 * Pure parts: users_apply folds one event into a users_state; users_decide
 * turns a command and the current state into events or an error. No I/O in
 * them. The writer glue (users_decide_cmd) reads the state through the
 * writer's ctx, checks email uniqueness in the unique index (kind
 * USERS_EMAIL_KIND, value the normalized email) and stages the events.
 *
 * The token version: a counter derived by users_apply, never written in an
 * event. It moves on a password change, a role change, a disable and a "log
 * out everywhere", so every access token (claim "ver") and refresh family
 * issued before stops working at its next use (auth_principal_check_current).
 *
 * Auth state is read from the write side: users_find_email (unique index)
 * and users_load (fold the stream) in one log read transaction, so login
 * and per-request checks need no PostgreSQL.
 *
 * Roles are kept as text: core depends on nothing above it, and the callers
 * (the API and `pivotal user add`) parse roles with auth_role_parse
 * (adapters/auth/auth_role.h, the authoritative list) before building a
 * command. users_decide checks only the shape and the client rule.
 *
 * Thread: the pure functions on any thread; users_decide_cmd on the writer
 * thread (it is a writer_decide_fn); users_load/users_find_email on the
 * thread owning the reader.
 */
#ifndef PV_USERS_H
#define PV_USERS_H

#include "core/common/pv_buf.h"
#include "core/common/pv_error.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/writer.h"

#include <stdbool.h>
#include <stdint.h>

/* Sizes including the NUL. Ids match adapters/auth's AUTH_ID_MAX. */
#define USERS_ID_MAX 64
#define USERS_STREAM_MAX (5 + USERS_ID_MAX) /* "user-" + id */
#define USERS_EMAIL_MAX 255                 /* NORM_EMAIL_MAX (254) + NUL */
#define USERS_ROLE_MAX 32
#define USERS_HASH_MAX 128 /* libsodium's crypto_pwhash_STRBYTES */
/* A display name: 200 bytes, arbitrary; longer than any real name. */
#define USERS_NAME_MAX 201

/* The unique index kind for login emails (value: the normalized email). */
#define USERS_EMAIL_KIND "user_email"
/* The one role that carries a client id (auth_role.h's client_user). */
#define USERS_ROLE_CLIENT "client_user"

typedef struct users_state {
  bool exists;
  uint64_t version;       /* the stream's version: what If-Match compares */
  uint64_t last_position; /* position of the stream's last event */
  char user_id[USERS_ID_MAX];
  char email[USERS_EMAIL_MAX];
  char role[USERS_ROLE_MAX];
  char client_id[USERS_ID_MAX];
  char display_name[USERS_NAME_MAX];
  char password_hash[USERS_HASH_MAX];
  bool disabled;
  uint64_t token_version;
} users_state;

/* "user-<id>" into out. Returns: 0 or PV_EINVAL (id empty or too long). */
int users_stream(const char *user_id, char out[USERS_STREAM_MAX]);

/*
 * Folds one event of a user stream into s (which starts zeroed). Events of
 * other types are ignored.
 * Returns: 0 or PV_ECORRUPT (a payload field missing or too long).
 */
int users_apply(users_state *s, const evt_envelope *e);

/* A log_visit_fn folding into the users_state given as arg. */
int users_fold_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len);

/*
 * Reads a user's state in the reader's snapshot.
 * Returns: 0, PV_ENOTFOUND (no such user in tenant), PV_EINVAL (bad id),
 * PV_ECORRUPT.
 */
int users_load(log_reader *rd, const char *tenant, const char *user_id, users_state *out);

/* Looks up the user id of a normalized email.
 * Returns: 0 or PV_ENOTFOUND. */
int users_find_email(log_reader *rd, const char *tenant, const char *email_normalized,
                     char user_id[USERS_ID_MAX]);

/* Normalizes a login email (norm_email_parse).
 * Returns: 0 or PV_EINVAL (field "/email"). */
int users_normalize_email(const char *email, char out[USERS_EMAIL_MAX], pv_error *err);

typedef enum users_cmd_kind {
  USERS_REGISTER,        /* email, role, client_id?, password_hash, display_name? */
  USERS_UPDATE,          /* role?, client_id?, display_name?, disabled (-1 = keep) */
  USERS_SET_PASSWORD,    /* password_hash */
  USERS_REHASH_PASSWORD, /* password_hash (same password, current cost) */
  USERS_REVOKE_TOKENS,   /* log out everywhere */
} users_cmd_kind;

/*
 * A command on one user. Strings are borrowed (the caller keeps them alive
 * until the writer's done callback). NULL means "not given".
 */
typedef struct users_cmd {
  users_cmd_kind kind;
  const char *user_id;
  /* LOG_EXPECT_ANY, or the version the caller saw (If-Match): another one
   * is PV_EPRECONDITION. */
  int64_t expected_version;
  const char *email;
  const char *role;
  const char *client_id; /* with role: "" or NULL for staff roles */
  const char *display_name;
  const char *password_hash;
  int disabled; /* USERS_UPDATE: -1 keep, 0 enable, 1 disable */
} users_cmd;

/* The events one decision stages, in order. */
#define USERS_MAX_EVENTS 4
typedef struct users_decision {
  size_t n;
  const char *type[USERS_MAX_EVENTS];
  pv_buf payload[USERS_MAX_EVENTS];
  char email[USERS_EMAIL_MAX]; /* USERS_REGISTER: the normalized email */
} users_decision;

void users_decision_init(users_decision *d);
void users_decision_release(users_decision *d);

/*
 * Decides c against s (pure). For USERS_REGISTER, email_taken says whether
 * the normalized email is already in the unique index; d->email gets the
 * normalized address. An update that changes nothing decides no event.
 * Returns: 0 (d holds the events), PV_EINVAL / PV_EBADTYPE (a field; err
 * names it), PV_EEXISTS (user or email exists), PV_ENOTFOUND (no such
 * user), PV_EPRECONDITION (expected_version is not s->version).
 */
int users_decide(const users_state *s, const users_cmd *c, bool email_taken,
                 users_decision *d, pv_error *err);

/* Reads a user's state through the writer's ctx (earlier commands of the
 * batch included). Returns: 0, PV_EINVAL (bad id), PV_ECORRUPT. */
int users_wctx_load(writer_ctx *ctx, const char *user_id, users_state *out);

/*
 * The writer_decide_fn of every users command (arg: a users_cmd): loads the
 * state, checks the email index, decides and stages the events (and the
 * email's unique row on register).
 * Returns: users_decide's codes, or the writer's.
 */
int users_decide_cmd(writer_ctx *ctx, void *arg, pv_error *err);

#endif
