/* auth_token — see auth_token.h for the token format and the rules. */
#include "adapters/auth/auth_token.h"

#include <sodium.h>
#include <string.h>

#define RAW_BYTES (AUTH_TOKEN_FAMILY_ID_BYTES + AUTH_TOKEN_SECRET_BYTES)

bool auth_token_outcome_persists(auth_token_outcome outcome) {
  return outcome != AUTH_TOKEN_DENIED;
}

static int bad_token(pv_error *err) {
  return pv_error_set(err, PV_EUNAUTHORIZED, NULL, "invalid refresh token");
}

/* Decodes a token into family id || secret. */
static bool decode(const char *token, size_t len, uint8_t raw[RAW_BYTES]) {
  size_t got = 0;
  if (!token || len != AUTH_TOKEN_CHARS) return false;
  /* No ignore set and no end pointer: every character must be base64url
   * and the trailing bits zero, so one token has one spelling. */
  return sodium_base642bin(raw, RAW_BYTES, token, len, NULL, &got, NULL,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
         got == RAW_BYTES;
}

static void hash_raw(const uint8_t raw[RAW_BYTES],
                     uint8_t out[AUTH_TOKEN_HASH_BYTES]) {
  crypto_generichash(out, AUTH_TOKEN_HASH_BYTES, raw, RAW_BYTES, NULL, 0);
}

/* New secret for family (random, or the one given): sets live_hash and
 * writes the token. */
static void mint(auth_token_family *family, const uint8_t *secret,
                 char token[AUTH_TOKEN_BUF]) {
  uint8_t raw[RAW_BYTES];
  memcpy(raw, family->family_id, AUTH_TOKEN_FAMILY_ID_BYTES);
  if (secret) memcpy(raw + AUTH_TOKEN_FAMILY_ID_BYTES, secret, AUTH_TOKEN_SECRET_BYTES);
  else randombytes_buf(raw + AUTH_TOKEN_FAMILY_ID_BYTES, AUTH_TOKEN_SECRET_BYTES);
  hash_raw(raw, family->live_hash);
  sodium_bin2base64(token, AUTH_TOKEN_BUF, raw, RAW_BYTES,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
}

static int64_t live_until(const auth_token_family *family, int64_t now_s) {
  int64_t idle = now_s + AUTH_TOKEN_IDLE_S;
  int64_t absolute = family->created_s + AUTH_TOKEN_ABSOLUTE_S;
  return idle < absolute ? idle : absolute;
}

int auth_token_issue(const char *user_id, const char *tenant,
                     uint64_t user_token_version, int64_t now_s,
                     auth_token_family *family, char token[AUTH_TOKEN_BUF],
                     pv_error *err) {
  memset(family, 0, sizeof *family);
  token[0] = '\0';
  if (!auth_id_valid(user_id))
    return pv_error_set(err, PV_EINVAL, "/user_id", "invalid user id");
  if (!auth_id_valid(tenant))
    return pv_error_set(err, PV_EINVAL, "/tenant", "invalid tenant");
  if (sodium_init() < 0)
    return pv_error_set(err, PV_EINTERNAL, NULL, "could not start libsodium");
  randombytes_buf(family->family_id, sizeof family->family_id);
  strcpy(family->user_id, user_id);
  strcpy(family->tenant, tenant);
  family->user_token_version = user_token_version;
  family->created_s = now_s;
  family->rotated_s = now_s;
  family->expires_s = live_until(family, now_s);
  mint(family, NULL, token);
  return 0;
}

int auth_token_parse(const char *token, size_t len,
                     uint8_t family_id[AUTH_TOKEN_FAMILY_ID_BYTES],
                     pv_error *err) {
  uint8_t raw[RAW_BYTES];
  if (!decode(token, len, raw)) return bad_token(err);
  memcpy(family_id, raw, AUTH_TOKEN_FAMILY_ID_BYTES);
  sodium_memzero(raw, sizeof raw);
  return 0;
}

void auth_token_family_hex(const uint8_t family_id[AUTH_TOKEN_FAMILY_ID_BYTES],
                           char out[2 * AUTH_TOKEN_FAMILY_ID_BYTES + 1]) {
  sodium_bin2hex(out, 2 * AUTH_TOKEN_FAMILY_ID_BYTES + 1, family_id,
                 AUTH_TOKEN_FAMILY_ID_BYTES);
}

bool auth_token_revoke(const auth_token_family *cur, auth_token_revoked reason,
                       int64_t now_s, auth_token_family *next) {
  *next = *cur;
  if (cur->revoked != AUTH_TOKEN_LIVE || reason == AUTH_TOKEN_LIVE) return false;
  next->revoked = reason;
  next->revoked_s = now_s;
  return true;
}

/* The checks rotate and logout share. Answers an outcome other than
 * ROTATED when the presentation ends here (with *next set); ROTATED when
 * the token is the family's live one and the caller may proceed. */
static int present(const auth_token_family *cur, const char *token, size_t len,
                   int64_t now_s, auth_token_family *next,
                   auth_token_outcome *outcome, pv_error *err) {
  uint8_t raw[RAW_BYTES], presented[AUTH_TOKEN_HASH_BYTES];
  *next = *cur;
  *outcome = AUTH_TOKEN_DENIED;
  if (!decode(token, len, raw)) return bad_token(err);
  if (sodium_memcmp(raw, cur->family_id, AUTH_TOKEN_FAMILY_ID_BYTES) != 0) {
    sodium_memzero(raw, sizeof raw);
    return pv_error_set(err, PV_EINVAL, NULL,
                        "refresh token does not belong to this family");
  }
  hash_raw(raw, presented);
  sodium_memzero(raw, sizeof raw);
  if (cur->revoked != AUTH_TOKEN_LIVE || now_s >= cur->expires_s)
    return bad_token(err);
  if (sodium_memcmp(presented, cur->live_hash, sizeof presented) != 0) {
    auth_token_revoke(cur, AUTH_TOKEN_REVOKED_REUSE, now_s, next);
    *outcome = AUTH_TOKEN_REUSED;
    return bad_token(err);
  }
  *outcome = AUTH_TOKEN_ROTATED;
  return 0;
}

int auth_token_rotate(const auth_token_family *cur, const char *token,
                      size_t len, uint64_t user_token_version, int64_t now_s,
                      auth_token_family *next, char token_out[AUTH_TOKEN_BUF],
                      auth_token_outcome *outcome, pv_error *err) {
  return auth_token_rotate_with(cur, token, len, user_token_version, now_s, NULL,
                                next, token_out, outcome, err);
}

int auth_token_rotate_with(const auth_token_family *cur, const char *token,
                           size_t len, uint64_t user_token_version, int64_t now_s,
                           const uint8_t *secret, auth_token_family *next,
                           char token_out[AUTH_TOKEN_BUF],
                           auth_token_outcome *outcome, pv_error *err) {
  token_out[0] = '\0';
  int rc = present(cur, token, len, now_s, next, outcome, err);
  if (rc) return rc;
  if (user_token_version != cur->user_token_version) {
    auth_token_revoke(cur, AUTH_TOKEN_REVOKED_USER_CHANGED, now_s, next);
    *outcome = AUTH_TOKEN_USER_CHANGED;
    return bad_token(err);
  }
  if (sodium_init() < 0)
    return pv_error_set(err, PV_EINTERNAL, NULL, "could not start libsodium");
  next->generation = cur->generation + 1;
  next->rotated_s = now_s;
  next->expires_s = live_until(cur, now_s);
  mint(next, secret, token_out);
  return 0;
}

int auth_token_logout(const auth_token_family *cur, const char *token,
                      size_t len, int64_t now_s, auth_token_family *next,
                      auth_token_outcome *outcome, pv_error *err) {
  int rc = present(cur, token, len, now_s, next, outcome, err);
  if (rc) return rc;
  auth_token_revoke(cur, AUTH_TOKEN_REVOKED_LOGOUT, now_s, next);
  *outcome = AUTH_TOKEN_LOGGED_OUT;
  return 0;
}
