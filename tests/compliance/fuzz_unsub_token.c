/*
 * Fuzz target: unsub_token_verify with a fixed key. Each input is tried
 * twice: as token text (base64url, version, length and signature checks),
 * and as the signed body of a token we sign with the key, so the field
 * parser behind the signature sees arbitrary bytes too (a fuzzer cannot
 * forge the HMAC). It must never crash, and whatever it accepts must be a
 * well-formed claim set.
 */
#include "core/unsub_token.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The key the committed corpus (tests/fuzz/corpus/unsub_token/) was made with. */
static const uint8_t fuzz_key[UNSUB_KEY_BYTES] = "pivotal-unsub-fuzz-key-01234567";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *token, size_t len) {
  unsub_claims c;
  if (unsub_token_verify(token, len, fuzz_key, 0, 0, &c, NULL) != 0) return;
  if (!c.tenant[0] || !c.value[0] || c.issued_at_s < 0 ||
      (strcmp(c.channel, "email") != 0 && strcmp(c.channel, "phone") != 0))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (sodium_init() < 0) abort();
  check((const char *)data, size);
  if (size > 600) return 0;
  uint8_t raw[600 + crypto_auth_hmacsha256_BYTES];
  memcpy(raw, data, size);
  crypto_auth_hmacsha256(raw + size, raw, size, fuzz_key);
  char text[UNSUB_TOKEN_MAX_CHARS * 2];
  sodium_bin2base64(text, sizeof text, raw, size + crypto_auth_hmacsha256_BYTES,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  check(text, strlen(text));
  return 0;
}
