/*
 * unsub_token — see unsub_token.h for the format and the rules.
 */
#include "core/unsub_token.h"

#include "core/norm/norm.h"

#include <sodium.h>
#include <string.h>

#define TAG_BYTES crypto_auth_hmacsha256_BYTES
/* version + five length bytes + the time */
#define FIXED_BYTES (1 + 5 + 8)
#define RAW_MAX (FIXED_BYTES + 64 + 7 + 254 + 63 + 63 + TAG_BYTES)

static void put_field(pv_buf *raw, const char *s) {
  size_t n = strlen(s);
  pv_buf_addch(raw, (char)(uint8_t)n);
  pv_buf_add(raw, s, n);
}

static int check_id(const char *s, size_t max, const char *field, bool required,
                    pv_error *err) {
  size_t n = strnlen(s, max + 1);
  if ((required && n == 0) || n > max)
    return pv_error_set(err, PV_EINVAL, field, "%s must be %s to %zu bytes", field + 1,
                        required ? "1" : "0", max);
  return 0;
}

static bool phone_key_ok(const char *v) {
  if (v[0] != '+' || !v[1]) return false;
  for (const char *p = v + 1; *p; p++)
    if (*p < '0' || *p > '9') return false;
  return strlen(v) <= 16; /* E.164: at most 15 digits */
}

int unsub_token_make(const unsub_claims *c, const uint8_t key[UNSUB_KEY_BYTES], pv_buf *out,
                     pv_error *err) {
  if (sodium_init() < 0) return pv_error_set(err, PV_EINTERNAL, NULL, "libsodium did not start");
  int rc;
  if ((rc = check_id(c->tenant, 64, "/tenant", true, err)) ||
      (rc = check_id(c->client_id, 63, "/client_id", false, err)) ||
      (rc = check_id(c->campaign_id, 63, "/campaign_id", false, err)))
    return rc;
  if (c->issued_at_s < 0)
    return pv_error_set(err, PV_EINVAL, "/issued_at", "the issue time is negative");
  char value[NORM_EMAIL_MAX + 1];
  if (strcmp(c->channel, "email") == 0) {
    norm_email e;
    if ((rc = norm_email_parse(c->value, strnlen(c->value, sizeof c->value), &e, err))) {
      if (err) snprintf(err->field, sizeof err->field, "/value");
      return rc;
    }
    memcpy(value, e.address, sizeof value);
  } else if (strcmp(c->channel, "phone") == 0) {
    if (!phone_key_ok(c->value))
      return pv_error_set(err, PV_EINVAL, "/value",
                          "a phone value must be in E.164 form (\"+14155550123\")");
    memcpy(value, c->value, strlen(c->value) + 1);
  } else {
    return pv_error_set(err, PV_EINVAL, "/channel", "unknown channel \"%.16s\"", c->channel);
  }

  uint8_t raw[RAW_MAX];
  pv_buf b = PV_BUF_INIT;
  pv_buf_addch(&b, UNSUB_TOKEN_VERSION);
  put_field(&b, c->tenant);
  put_field(&b, c->channel);
  put_field(&b, value);
  put_field(&b, c->client_id);
  put_field(&b, c->campaign_id);
  for (int i = 7; i >= 0; i--) pv_buf_addch(&b, (char)(uint8_t)((uint64_t)c->issued_at_s >> (8 * i)));
  size_t n = b.len;
  memcpy(raw, b.data, n);
  pv_buf_release(&b);
  crypto_auth_hmacsha256(raw + n, raw, n, key);
  n += TAG_BYTES;

  char text[UNSUB_TOKEN_MAX_CHARS + 1];
  sodium_bin2base64(text, sizeof text, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  pv_buf_addstr(out, text);
  sodium_memzero(raw, sizeof raw);
  return 0;
}

/* Reads one length-prefixed field into out (cap includes the NUL). */
static bool take_field(const uint8_t **p, const uint8_t *end, char *out, size_t cap) {
  if (*p >= end) return false;
  size_t n = **p;
  (*p)++;
  if (n >= cap || (size_t)(end - *p) < n) return false;
  if (memchr(*p, '\0', n)) return false;
  memcpy(out, *p, n);
  out[n] = '\0';
  *p += n;
  return true;
}

static int refuse(pv_error *err, const char *why) {
  pv_error_set(err, PV_EINVAL, "/token", "invalid unsubscribe token: %s", why);
  pv_error_hint(err, "Use the link from the message exactly as it was sent.");
  return PV_EINVAL;
}

int unsub_token_verify(const char *token, size_t len, const uint8_t key[UNSUB_KEY_BYTES],
                       int64_t now_s, int64_t max_age_s, unsub_claims *out, pv_error *err) {
  if (sodium_init() < 0) return pv_error_set(err, PV_EINTERNAL, NULL, "libsodium did not start");
  if (len == 0 || len > UNSUB_TOKEN_MAX_CHARS) return refuse(err, "wrong length");
  uint8_t raw[RAW_MAX + 4];
  size_t n = 0;
  const char *end = NULL;
  /* no ignore set: every character must be base64url, and libsodium
   * refuses non-zero padding bits, so one token has one spelling */
  if (sodium_base642bin(raw, sizeof raw, token, len, NULL, &n, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != token + len)
    return refuse(err, "not base64url");
  if (n < FIXED_BYTES + TAG_BYTES) return refuse(err, "too short");
  if (raw[0] != UNSUB_TOKEN_VERSION) {
    pv_error_set(err, PV_EINVAL, "/token", "invalid unsubscribe token: unknown version %u",
                 raw[0]);
    return PV_EINVAL;
  }
  size_t body = n - TAG_BYTES;
  if (crypto_auth_hmacsha256_verify(raw + body, raw, body, key) != 0)
    return refuse(err, "signature mismatch");

  memset(out, 0, sizeof *out);
  const uint8_t *p = raw + 1, *stop = raw + body;
  if (!take_field(&p, stop, out->tenant, sizeof out->tenant) ||
      !take_field(&p, stop, out->channel, sizeof out->channel) ||
      !take_field(&p, stop, out->value, sizeof out->value) ||
      !take_field(&p, stop, out->client_id, sizeof out->client_id) ||
      !take_field(&p, stop, out->campaign_id, sizeof out->campaign_id) || stop - p != 8)
    return refuse(err, "malformed");
  uint64_t t = 0;
  for (int i = 0; i < 8; i++) t = t << 8 | p[i];
  if (t > INT64_MAX) return refuse(err, "malformed");
  out->issued_at_s = (int64_t)t;
  if (!out->tenant[0] || !out->value[0] ||
      (strcmp(out->channel, "email") != 0 && strcmp(out->channel, "phone") != 0))
    return refuse(err, "malformed");
  if (max_age_s > 0 && now_s - out->issued_at_s > max_age_s) return refuse(err, "expired");
  return 0;
}
