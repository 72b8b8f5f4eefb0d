/*
 * auth_token — opaque refresh tokens and their rotation, as a pure state
 * machine over one small record per login (a "family").
 *
 * A token is base64url (no padding, AUTH_TOKEN_CHARS characters) of
 * family id (16 random bytes) || secret (32 random bytes). The family id
 * is the storage key; the secret is never stored: the family keeps only
 * BLAKE2b-256(family id || secret) of its one live token. A plain fast
 * hash is enough because the secret is 256 random bits, not a password.
 *
 * Rules (auth_token_rotate, auth_token_logout):
 *   - login issues a family with its first token (generation 0);
 *   - presenting the live token rotates: a new secret, generation + 1, the
 *     old token is spent;
 *   - presenting a token of the family that is not the live one means a
 *     spent token was kept and replayed (by a thief, or by the client
 *     after the thief used it): the whole family is revoked, so both lose
 *     it and the user logs in again;
 *   - the user's token version (bumped on password change, role change,
 *     disable) must still be the one the family was issued under, else
 *     the family is revoked;
 *   - a revoked or expired family refuses everything.
 * Two refreshes racing with the same token are one rotation and one reuse:
 * the family is revoked. That is the issue's rule; clients must serialize
 * their refreshes.
 *
 * Each call returns the family's next state and an outcome saying whether
 * to persist it; storage only writes what it is given (an event carrying
 * the record), so replaying the log rebuilds the same state. The single
 * writer decides calls for one family in order, which is what makes reuse
 * detection exact.
 *
 * Thread: every function is pure apart from reading random bytes, and
 * safe from any thread.
 */
#ifndef AUTH_TOKEN_H
#define AUTH_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/auth/auth_role.h"
#include "core/common/pv_error.h"

#define AUTH_TOKEN_FAMILY_ID_BYTES 16
#define AUTH_TOKEN_SECRET_BYTES 32
#define AUTH_TOKEN_HASH_BYTES 32
/* base64url of 48 bytes without padding, and a buffer for it with NUL. */
#define AUTH_TOKEN_CHARS 64
#define AUTH_TOKEN_BUF (AUTH_TOKEN_CHARS + 1)

/* Policy, not a standard: a token unused for a week expires (a laptop
 * left closed over a holiday logs in again); a login lasts at most 30 days
 * however often it refreshes. */
#define AUTH_TOKEN_IDLE_S (7 * 24 * 3600)
#define AUTH_TOKEN_ABSOLUTE_S (30 * 24 * 3600)

typedef enum auth_token_revoked {
  AUTH_TOKEN_LIVE = 0,
  AUTH_TOKEN_REVOKED_LOGOUT,       /* the user logged out */
  AUTH_TOKEN_REVOKED_REUSE,        /* a spent token was presented */
  AUTH_TOKEN_REVOKED_USER_CHANGED, /* the user's token version moved on */
  AUTH_TOKEN_REVOKED_ADMIN,        /* revoked by an administrator */
} auth_token_revoked;

/* One login's refresh state: what storage keeps, keyed by family_id. */
typedef struct auth_token_family {
  uint8_t family_id[AUTH_TOKEN_FAMILY_ID_BYTES];
  uint8_t live_hash[AUTH_TOKEN_HASH_BYTES]; /* hash of the live token */
  uint32_t generation;                      /* rotations so far */
  char user_id[AUTH_ID_MAX];
  char tenant[AUTH_ID_MAX];
  uint64_t user_token_version; /* the user's version at login */
  int64_t created_s;           /* login time */
  int64_t rotated_s;           /* when the live token was issued */
  int64_t expires_s;           /* the live token's end */
  auth_token_revoked revoked;
  int64_t revoked_s;           /* 0 while live */
} auth_token_family;

typedef enum auth_token_outcome {
  AUTH_TOKEN_ROTATED,      /* persist next; hand the new token to the client */
  AUTH_TOKEN_LOGGED_OUT,   /* persist next (revoked, reason logout) */
  AUTH_TOKEN_REUSED,       /* persist next (revoked, reason reuse); 401 */
  AUTH_TOKEN_USER_CHANGED, /* persist next (revoked, reason user changed); 401 */
  AUTH_TOKEN_DENIED,       /* nothing to persist (already revoked, expired,
                            * malformed); 401 */
} auth_token_outcome;

/* True when the outcome's next state must be persisted. */
bool auth_token_outcome_persists(auth_token_outcome outcome);

/*
 * Starts a family at login for a user (valid ids) at now_s.
 * Returns: 0, *family (persist it) and the first token in token (give it to
 * the client; never store or log it); PV_EINVAL for an invalid id.
 */
int auth_token_issue(const char *user_id, const char *tenant,
                     uint64_t user_token_version, int64_t now_s,
                     auth_token_family *family, char token[AUTH_TOKEN_BUF],
                     pv_error *err);

/*
 * Reads the family id out of a presented token, to look the family up.
 * Returns: 0, or PV_EUNAUTHORIZED ("invalid refresh token") for anything
 * that is not exactly AUTH_TOKEN_CHARS canonical base64url characters.
 */
int auth_token_parse(const char *token, size_t len,
                     uint8_t family_id[AUTH_TOKEN_FAMILY_ID_BYTES],
                     pv_error *err);

/* Lower-case hex of a family id, for storage keys and logs (not secret). */
void auth_token_family_hex(const uint8_t family_id[AUTH_TOKEN_FAMILY_ID_BYTES],
                           char out[2 * AUTH_TOKEN_FAMILY_ID_BYTES + 1]);

/*
 * Presents token for a refresh against cur (the family auth_token_parse's
 * id found), with the user's current token version, at now_s.
 * Always sets *next (a copy of cur, changed as the outcome says) and
 * *outcome; token_out gets the new token only when ROTATED.
 * Returns: 0 when ROTATED; PV_EUNAUTHORIZED ("invalid refresh token") for
 * every other outcome; PV_EINVAL when token's family id is not cur's (the
 * caller looked up the wrong family; *outcome is DENIED).
 */
int auth_token_rotate(const auth_token_family *cur, const char *token,
                      size_t len, uint64_t user_token_version, int64_t now_s,
                      auth_token_family *next, char token_out[AUTH_TOKEN_BUF],
                      auth_token_outcome *outcome, pv_error *err);

/*
 * auth_token_rotate with the new token's secret chosen by the caller
 * (AUTH_TOKEN_SECRET_BYTES random bytes; NULL draws them here). For a
 * writer's decide function, which must give the same answer when the
 * writer redoes its batch: the caller draws the secret once, before
 * submitting. Returns: as auth_token_rotate.
 */
int auth_token_rotate_with(const auth_token_family *cur, const char *token,
                           size_t len, uint64_t user_token_version, int64_t now_s,
                           const uint8_t *secret, auth_token_family *next,
                           char token_out[AUTH_TOKEN_BUF],
                           auth_token_outcome *outcome, pv_error *err);

/*
 * Logs out with token: revokes the family (outcome LOGGED_OUT). A spent
 * token revokes it too, as reuse (REUSED). An already revoked or expired
 * family gives DENIED; an HTTP logout may still answer 204 then.
 * Returns: 0 when LOGGED_OUT; else as auth_token_rotate.
 */
int auth_token_logout(const auth_token_family *cur, const char *token,
                      size_t len, int64_t now_s, auth_token_family *next,
                      auth_token_outcome *outcome, pv_error *err);

/*
 * Revokes cur without a token (an administrator, "log out everywhere").
 * reason must not be AUTH_TOKEN_LIVE. Sets *next; an already revoked
 * family stays as it was. Returns: true when *next must be persisted.
 */
bool auth_token_revoke(const auth_token_family *cur, auth_token_revoked reason,
                       int64_t now_s, auth_token_family *next);

#endif
