/*
 * auth_jwt — see auth_jwt.h for the order of checks and why libjwt is not
 * trusted with them. libjwt signs tokens and, once we have checked the
 * header and the signature ourselves, parses the claims (its jansson
 * parser tells an integer from a float, which cJSON cannot).
 */
#include "adapters/auth/auth_jwt.h"

#include <cJSON.h>
#include <errno.h>
#include <jwt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/common/pv_buf.h"

struct auth_jwt {
  uint8_t *key;
  size_t key_len;
  char *issuer;
  int ttl_s;
};

/* The longest issuer accepted; a URL fits. Arbitrary. */
#define AUTH_JWT_ISSUER_MAX 255
/* A JWT header we issue is 36 bytes of JSON; anything past 256 is hostile. */
#define AUTH_JWT_HEADER_MAX 256
#define AUTH_JWT_SIG_BYTES crypto_auth_hmacsha256_BYTES
#define AUTH_JWT_JTI_BYTES 16

static bool issuer_valid(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > AUTH_JWT_ISSUER_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\') return false;
  return true;
}

int auth_jwt_new(const uint8_t *key, size_t key_len, const char *issuer,
                 int ttl_s, auth_jwt **out, pv_error *err) {
  *out = NULL;
  if (!key || key_len < AUTH_JWT_KEY_MIN_BYTES || key_len > INT32_MAX) {
    pv_error_set(err, PV_EINVAL, NULL, "JWT key too short");
    pv_error_detail(err, "The key has %zu bytes; HS256 needs at least %d.",
                    key ? key_len : 0, AUTH_JWT_KEY_MIN_BYTES);
    pv_error_hint(err, "Generate one with: head -c 32 /dev/urandom | base64");
    return PV_EINVAL;
  }
  if (!issuer_valid(issuer))
    return pv_error_set(err, PV_EINVAL, NULL, "invalid JWT issuer");
  if (ttl_s < 1 || ttl_s > AUTH_JWT_TTL_MAX_S)
    return pv_error_set(err, PV_EINVAL, NULL,
                        "access token life must be 1 to %d seconds",
                        AUTH_JWT_TTL_MAX_S);
  if (sodium_init() < 0)
    return pv_error_set(err, PV_EINTERNAL, NULL, "could not start libsodium");
  auth_jwt *j = pv_xcalloc(1, sizeof *j);
  j->key = pv_xmalloc(key_len);
  memcpy(j->key, key, key_len);
  j->key_len = key_len;
  j->issuer = pv_xstrdup(issuer);
  j->ttl_s = ttl_s;
  *out = j;
  return 0;
}

void auth_jwt_free(auth_jwt *j) {
  if (!j) return;
  sodium_memzero(j->key, j->key_len);
  free(j->key);
  free(j->issuer);
  free(j);
}

int auth_jwt_ttl_s(const auth_jwt *j) { return j->ttl_s; }

const char *auth_jwt_reason_text(auth_jwt_reason reason) {
  switch (reason) {
#define AUTH__XX(NAME, text) case AUTH_JWT_##NAME: return text;
    AUTH_JWT_REASON_MAP(AUTH__XX)
#undef AUTH__XX
  }
  return "unknown";
}

int auth_jwt_issue(const auth_jwt *j, const auth_principal *who, int64_t now_s,
                   char **token_out, auth_principal *issued, pv_error *err) {
  *token_out = NULL;
  int rc = auth_principal_validate(who, err);
  if (rc) return rc;
  if (who->token_version > (uint64_t)INT64_MAX)
    return pv_error_set(err, PV_EINVAL, "/token_version",
                        "token version out of range");
  if (now_s <= 0 || now_s > INT64_MAX - AUTH_JWT_TTL_MAX_S)
    return pv_error_set(err, PV_EINVAL, NULL, "clock out of range");

  uint8_t jti_raw[AUTH_JWT_JTI_BYTES];
  char jti[sizeof who->jti];
  randombytes_buf(jti_raw, sizeof jti_raw);
  sodium_bin2base64(jti, sizeof jti, jti_raw, sizeof jti_raw,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  int64_t exp_s = now_s + j->ttl_s;

  jwt_t *t = NULL;
  if (jwt_new(&t)) goto nomem;
  if (jwt_set_alg(t, JWT_ALG_HS256, j->key, (int)j->key_len) ||
      jwt_add_grant(t, "iss", j->issuer) ||
      jwt_add_grant(t, "sub", who->user_id) ||
      jwt_add_grant(t, "tenant", who->tenant) ||
      jwt_add_grant(t, "role", auth_role_name(who->role)) ||
      (who->role == AUTH_ROLE_CLIENT_USER &&
       jwt_add_grant(t, "client_id", who->client_id)) ||
      jwt_add_grant_int(t, "iat", (long)now_s) ||
      jwt_add_grant_int(t, "nbf", (long)now_s) ||
      jwt_add_grant_int(t, "exp", (long)exp_s) ||
      jwt_add_grant(t, "jti", jti) ||
      jwt_add_grant_int(t, "ver", (long)who->token_version))
    goto nomem;
  *token_out = jwt_encode_str(t);
  if (!*token_out) goto nomem;
  jwt_free(t);
  if (issued) {
    *issued = *who;
    issued->iat_s = now_s;
    issued->exp_s = exp_s;
    memcpy(issued->jti, jti, sizeof jti);
  }
  return 0;

nomem:
  jwt_free(t);
  return pv_error_set(err, PV_ENOMEM, NULL, "could not issue an access token");
}

/* ---- verification ------------------------------------------------------
 * Every helper answers a reason; only AUTH_JWT_OK lets the next step run. */

static bool b64url_decode(const char *s, size_t len, uint8_t *out, size_t cap,
                          size_t *out_len) {
  /* With no ignore set and no end pointer, libsodium refuses any character
   * outside the alphabet, padding, and non-zero trailing bits, so each
   * byte string has exactly one accepted spelling. */
  return sodium_base642bin(out, cap, s, len, NULL, out_len, NULL,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0;
}

static auth_jwt_reason check_header(const char *seg, size_t len) {
  uint8_t raw[AUTH_JWT_HEADER_MAX + 1];
  size_t raw_len = 0;
  if (!b64url_decode(seg, len, raw, sizeof raw - 1, &raw_len))
    return AUTH_JWT_MALFORMED;
  raw[raw_len] = '\0';
  if (memchr(raw, '\0', raw_len)) return AUTH_JWT_MALFORMED;
  cJSON *h = cJSON_ParseWithOpts((const char *)raw, NULL, 1);
  if (!h) return AUTH_JWT_MALFORMED;
  auth_jwt_reason r = AUTH_JWT_OK;
  bool seen_alg = false, seen_typ = false;
  if (!cJSON_IsObject(h)) {
    r = AUTH_JWT_MALFORMED;
    goto done;
  }
  for (const cJSON *m = h->child; m; m = m->next) {
    bool *seen;
    const char *want;
    if (strcmp(m->string, "alg") == 0) {
      seen = &seen_alg;
      want = "HS256";
    } else if (strcmp(m->string, "typ") == 0) {
      seen = &seen_typ;
      want = "JWT";
    } else {
      r = AUTH_JWT_HEADER; /* kid, crit, jku, ...: nothing we issue */
      goto done;
    }
    if (*seen || !cJSON_IsString(m) || strcmp(m->valuestring, want) != 0) {
      r = AUTH_JWT_HEADER;
      goto done;
    }
    *seen = true;
  }
  if (!seen_alg || !seen_typ) r = AUTH_JWT_HEADER;
done:
  cJSON_Delete(h);
  return r;
}

static auth_jwt_reason check_signature(const auth_jwt *j, const char *token,
                                       size_t signed_len, const char *sig,
                                       size_t sig_len) {
  uint8_t got[AUTH_JWT_SIG_BYTES + 1], want[AUTH_JWT_SIG_BYTES];
  size_t got_len = 0;
  if (!b64url_decode(sig, sig_len, got, sizeof got, &got_len) ||
      got_len != AUTH_JWT_SIG_BYTES)
    return AUTH_JWT_SIGNATURE;
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, j->key, j->key_len);
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)token, signed_len);
  crypto_auth_hmacsha256_final(&st, want);
  sodium_memzero(&st, sizeof st);
  return sodium_memcmp(got, want, sizeof want) == 0 ? AUTH_JWT_OK
                                                    : AUTH_JWT_SIGNATURE;
}

/* A claim that must be a JSON integer. libjwt's jwt_get_grant_int answers
 * 0 without an error for a float, so read the claim's JSON text instead:
 * jansson writes an integer as digits only and a real always with '.' or
 * 'e'. Negative values are refused: no claim of ours is negative. */
static bool claim_int(jwt_t *t, const char *name, int64_t *out) {
  char *text = jwt_get_grants_json(t, name);
  bool ok = text && text[0] != '\0' && strlen(text) <= 18;
  for (const char *p = text; ok && *p; p++) ok = *p >= '0' && *p <= '9';
  if (ok) *out = strtoll(text, NULL, 10);
  free(text);
  return ok;
}

/* A claim that must be a JSON string that fits cap (with its NUL). */
static bool claim_str(jwt_t *t, const char *name, char *out, size_t cap) {
  const char *v = jwt_get_grant(t, name);
  if (!v) return false;
  size_t n = strlen(v);
  if (n == 0 || n >= cap) return false;
  memcpy(out, v, n + 1);
  return true;
}

static auth_jwt_reason check_claims(const auth_jwt *j, jwt_t *t, int64_t now_s,
                                    auth_principal *p) {
  char iss[AUTH_JWT_ISSUER_MAX + 1], role[32];
  int64_t iat, nbf, exp, ver;
  if (!claim_int(t, "iat", &iat) || !claim_int(t, "nbf", &nbf) ||
      !claim_int(t, "exp", &exp) || !claim_int(t, "ver", &ver) ||
      !claim_str(t, "iss", iss, sizeof iss) ||
      !claim_str(t, "sub", p->user_id, sizeof p->user_id) ||
      !claim_str(t, "tenant", p->tenant, sizeof p->tenant) ||
      !claim_str(t, "role", role, sizeof role) ||
      !claim_str(t, "jti", p->jti, sizeof p->jti) ||
      auth_role_parse(role, strlen(role), &p->role, NULL) != 0)
    return AUTH_JWT_CLAIM;
  /* client_id: absent, or a string; a non-string one is invalid. */
  char *cid_json = jwt_get_grants_json(t, "client_id");
  bool cid_present = cid_json != NULL;
  free(cid_json);
  if (cid_present && !claim_str(t, "client_id", p->client_id, sizeof p->client_id))
    return AUTH_JWT_CLAIM;
  if (auth_principal_validate(p, NULL) != 0) return AUTH_JWT_CLAIM;
  if (strcmp(iss, j->issuer) != 0) return AUTH_JWT_ISSUER;
  if (!(iat <= nbf && nbf < exp && exp - iat <= AUTH_JWT_TTL_MAX_S))
    return AUTH_JWT_LIFETIME;
  if (iat > now_s + AUTH_JWT_SKEW_S || nbf > now_s + AUTH_JWT_SKEW_S)
    return AUTH_JWT_NOT_YET;
  if (now_s >= exp + AUTH_JWT_SKEW_S) return AUTH_JWT_EXPIRED;
  p->token_version = (uint64_t)ver;
  p->iat_s = iat;
  p->exp_s = exp;
  return AUTH_JWT_OK;
}

static auth_jwt_reason check_token(const auth_jwt *j, const char *token,
                                   size_t len, int64_t now_s,
                                   auth_principal *p) {
  if (!token || len == 0 || len > AUTH_JWT_TOKEN_MAX ||
      memchr(token, '\0', len))
    return AUTH_JWT_MALFORMED;
  const char *dot1 = memchr(token, '.', len);
  if (!dot1) return AUTH_JWT_MALFORMED;
  const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
  if (!dot2) return AUTH_JWT_MALFORMED;
  const char *sig = dot2 + 1, *end = token + len;
  if (dot1 == token || dot2 == dot1 + 1 || sig == end ||
      memchr(sig, '.', (size_t)(end - sig)))
    return AUTH_JWT_MALFORMED;

  auth_jwt_reason r = check_header(token, (size_t)(dot1 - token));
  if (r != AUTH_JWT_OK) return r;
  r = check_signature(j, token, (size_t)(dot2 - token), sig, (size_t)(end - sig));
  if (r != AUTH_JWT_OK) return r;

  /* Header and signature are ours: now libjwt may parse. It needs a C
   * string; the copy is small (len ≤ AUTH_JWT_TOKEN_MAX). */
  char copy[AUTH_JWT_TOKEN_MAX + 1];
  memcpy(copy, token, len);
  copy[len] = '\0';
  jwt_t *t = NULL;
  if (jwt_decode(&t, copy, j->key, (int)j->key_len) != 0 || !t) {
    jwt_free(t);
    return AUTH_JWT_MALFORMED;
  }
  r = jwt_get_alg(t) == JWT_ALG_HS256 ? check_claims(j, t, now_s, p)
                                      : AUTH_JWT_HEADER;
  jwt_free(t);
  return r;
}

int auth_jwt_verify(const auth_jwt *j, const char *token, size_t len,
                    int64_t now_s, auth_principal *out,
                    auth_jwt_reason *reason, pv_error *err) {
  memset(out, 0, sizeof *out);
  auth_jwt_reason r = check_token(j, token, len, now_s, out);
  if (reason) *reason = r;
  if (r == AUTH_JWT_OK) return 0;
  memset(out, 0, sizeof *out);
  pv_error_set(err, PV_EUNAUTHORIZED, NULL,
               r == AUTH_JWT_EXPIRED ? "access token has expired"
                                     : "invalid access token");
  pv_error_hint(err, r == AUTH_JWT_EXPIRED
                         ? "Get a new access token with the refresh token."
                         : "Log in again.");
  return PV_EUNAUTHORIZED;
}
