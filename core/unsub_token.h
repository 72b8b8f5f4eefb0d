/*
 * unsub_token — the signed token of a one-click unsubscribe link
 * (RFC 8058): who is unsubscribed (tenant, channel, normalized address),
 * from what (optional client and campaign ids) and when the link was made,
 * signed with HMAC-SHA256 so that nobody can unsubscribe an address the
 * link was not made for.
 *
 * Wire form: base64url without padding (RFC 4648 §5) of
 *   version u8 (UNSUB_TOKEN_VERSION)
 *   tenant, channel, value, client_id, campaign_id: each u8 length + bytes
 *   issued_at_s u64 big-endian (seconds since the epoch)
 *   tag: 32 bytes, HMAC-SHA256(key, every byte before it)
 * About 130 characters for a typical address: short enough for any mail
 * client's link.
 *
 * Verification refuses anything that is not exactly such a token: an
 * unknown version, bad base64url (non-zero padding bits included), a wrong
 * length, a tag that does not match (compared in constant time by
 * libsodium), a field that is not of its shape. Which key signs is the
 * caller's business (a key file later, with rotation by trying each key).
 *
 * Thread: pure functions, any thread. sodium_init() must have run (both
 * functions call it; it is idempotent).
 */
#ifndef PV_UNSUB_TOKEN_H
#define PV_UNSUB_TOKEN_H

#include "core/common/pv_buf.h"
#include "core/common/pv_error.h"

#include <stddef.h>
#include <stdint.h>

#define UNSUB_TOKEN_VERSION 1
#define UNSUB_KEY_BYTES 32 /* crypto_auth_hmacsha256_KEYBYTES */
/* Longest token text: every field at its cap, base64url of ~1 KiB. */
#define UNSUB_TOKEN_MAX_CHARS 1400

typedef struct unsub_claims {
  char tenant[65];      /* 1..64 bytes */
  char channel[8];      /* "email" (the only channel RFC 8058 speaks of) or "phone" */
  char value[255];      /* email: normalized by make; phone: E.164 "+…" */
  char client_id[64];   /* "" = none */
  char campaign_id[64]; /* "" = none */
  int64_t issued_at_s;  /* ≥ 0 */
} unsub_claims;

/*
 * Makes a token for c, normalizing an email value (core/norm) first.
 * Returns: 0 (token appended to out) or PV_EINVAL (err names the field: an
 * empty or over-long tenant, unknown channel, an address that does not
 * normalize, a phone value that is not "+digits", a negative time).
 */
int unsub_token_make(const unsub_claims *c, const uint8_t key[UNSUB_KEY_BYTES], pv_buf *out,
                     pv_error *err);

/*
 * Verifies token[0..len) with key and fills *out. When max_age_s > 0 a
 * token issued more than max_age_s before now_s is refused too.
 * Returns: 0 or PV_EINVAL ("invalid unsubscribe token" with the reason:
 * malformed, unknown version N, signature mismatch, expired).
 * Ownership: *out is the caller's; on error its contents are unspecified.
 */
int unsub_token_verify(const char *token, size_t len, const uint8_t key[UNSUB_KEY_BYTES],
                       int64_t now_s, int64_t max_age_s, unsub_claims *out, pv_error *err);

#endif
