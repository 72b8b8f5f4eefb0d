/*
 * auth_jwt — access tokens: HS256 JWTs issued and verified with one
 * server key.
 *
 * libjwt 1.10 signs and parses, but on its own it trusts the token: it
 * takes the algorithm from the token's header (and accepts `alg: none`, or
 * an HS256 token with no key at all, without checking any signature) and
 * it checks no claim. So auth_jwt_verify does the security work itself,
 * in this order, before anything in the token is believed:
 *   1. shape: at most AUTH_JWT_TOKEN_MAX bytes, exactly three non-empty
 *      base64url segments;
 *   2. header: a JSON object of exactly "alg": "HS256" and "typ": "JWT"
 *      (what we issue), nothing else, no duplicate key (so none, HS512,
 *      RS256, "kid" or "crit" tricks never reach libjwt);
 *   3. signature: exactly 32 bytes, HMAC-SHA256 with our key, compared in
 *      constant time (libsodium);
 *   4. only then libjwt parses the claims, and we check them: iss equals
 *      ours; iat, nbf, exp, ver are JSON integers (a string, a float, a
 *      bool or a missing one is invalid); iat ≤ nbf < exp, exp − iat ≤
 *      AUTH_JWT_TTL_MAX_S; iat and nbf not after now + skew; now before
 *      exp + skew; sub, tenant, role, jti present and valid; client_id
 *      present exactly for a client user.
 *
 * Claims of an issued token: iss, sub (user id), tenant, role (name),
 * client_id (client users only), iat, nbf (= iat), exp (iat + ttl), jti
 * (16 random bytes, base64url), ver (the user's token version).
 *
 * What the token does not check: that the user still exists, is enabled
 * and still has that token version. Every request must call
 * auth_principal_check_current (auth_role.h) against the users aggregate.
 *
 * Thread: an auth_jwt is immutable after auth_jwt_new; issue and verify
 * may run on any thread at once. Times are passed in (seconds since the
 * epoch), so tests and replays choose the clock.
 */
#ifndef AUTH_JWT_H
#define AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "adapters/auth/auth_role.h"
#include "core/common/pv_error.h"

/* RFC 7518 §3.2: an HS256 key must be at least the hash size, 256 bits. */
#define AUTH_JWT_KEY_MIN_BYTES 32
/* The issue's ceiling for an access token's life: 15 minutes. */
#define AUTH_JWT_TTL_MAX_S 900
/* Clock skew allowed on iat, nbf and exp. Arbitrary: our own servers issue
 * and check, so only NTP drift between them matters; 30 s covers it. */
#define AUTH_JWT_SKEW_S 30
/* Longest token accepted. Ours are ~450 bytes; 4 KiB leaves room and keeps
 * a hostile header cheap to refuse. */
#define AUTH_JWT_TOKEN_MAX 4096

typedef struct auth_jwt auth_jwt;

/*
 * Creates the token service with a copy of key (raw bytes; zeroed on
 * free), the issuer name to write and require ("pivotal" or the public
 * URL), and the access token's life in seconds.
 * Returns: 0 and *out, or PV_EINVAL when key_len < AUTH_JWT_KEY_MIN_BYTES,
 * issuer is empty or not a valid identifier-like string, or ttl_s is not
 * in 1..AUTH_JWT_TTL_MAX_S.
 * Ownership: *out belongs to the caller; release with auth_jwt_free.
 * Thread: any.
 */
int auth_jwt_new(const uint8_t *key, size_t key_len, const char *issuer,
                 int ttl_s, auth_jwt **out, pv_error *err);

/* Zeroes the key and frees j. NULL is a no-op. */
void auth_jwt_free(auth_jwt *j);

/* The access token's life in seconds (for a login answer's expires_in). */
int auth_jwt_ttl_s(const auth_jwt *j);

/*
 * Issues an access token for who (user id, tenant, role, client id and
 * token version are read; the rest is ignored) at now_s.
 * Returns: 0, *token_out (NUL-terminated) and, when issued is not NULL,
 * *issued = *who with iat_s, exp_s and jti filled; PV_EINVAL when who
 * fails auth_principal_validate or its token version exceeds INT64_MAX;
 * PV_ENOMEM when libjwt could not allocate.
 * Ownership: *token_out is malloc'd; the caller frees it with free().
 * Thread: any.
 */
int auth_jwt_issue(const auth_jwt *j, const auth_principal *who, int64_t now_s,
                   char **token_out, auth_principal *issued, pv_error *err);

/* Why a token was refused: for the access log and tests, never for the
 * client (it gets only "invalid access token" or "... has expired").
 * XX(NAME, text) */
#define AUTH_JWT_REASON_MAP(XX)                                               \
  XX(OK,          "valid")                                                    \
  XX(MALFORMED,   "not three base64url segments of JSON")                     \
  XX(HEADER,      "header is not exactly alg HS256 with typ JWT")             \
  XX(SIGNATURE,   "signature does not match")                                 \
  XX(CLAIM,       "a claim is missing, of the wrong type or invalid")         \
  XX(ISSUER,      "issuer is not ours")                                       \
  XX(LIFETIME,    "iat, nbf and exp are inconsistent or too far apart")       \
  XX(NOT_YET,     "iat or nbf is in the future")                              \
  XX(EXPIRED,     "token has expired")

typedef enum auth_jwt_reason {
#define AUTH__XX(NAME, text) AUTH_JWT_##NAME,
  AUTH_JWT_REASON_MAP(AUTH__XX)
#undef AUTH__XX
} auth_jwt_reason;

/* The text of a reason (static). */
const char *auth_jwt_reason_text(auth_jwt_reason reason);

/*
 * Verifies token (len bytes, need not be NUL-terminated; an "Authorization:
 * Bearer" value without the prefix) at now_s, as described above.
 * Returns: 0 and *out filled (all fields); or PV_EUNAUTHORIZED with message
 * "access token has expired" (reason EXPIRED) or "invalid access token"
 * (every other reason). When reason is not NULL it is always set.
 * *out is zeroed on failure. err may be NULL.
 * Thread: any.
 */
int auth_jwt_verify(const auth_jwt *j, const char *token, size_t len,
                    int64_t now_s, auth_principal *out,
                    auth_jwt_reason *reason, pv_error *err);

#endif
