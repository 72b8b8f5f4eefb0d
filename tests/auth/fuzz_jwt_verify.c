/*
 * Fuzz target: auth_jwt_verify on arbitrary bytes, with a fixed key and a
 * fixed clock so the committed valid token (tests/fuzz/corpus/jwt_verify/)
 * reaches the claim checks. It must never crash, and whatever it accepts
 * must be a well-formed principal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/auth/auth_jwt.h"

/* The clock and key the corpus's valid tokens were issued with. */
#define FUZZ_NOW 1795000000LL
static const uint8_t fuzz_key[32] = "pivotal-fuzz-key-0123456789abcde";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static auth_jwt *j;
  if (!j && auth_jwt_new(fuzz_key, sizeof fuzz_key, "pivotal", 900, &j, NULL) != 0)
    abort();
  auth_principal p;
  auth_jwt_reason reason;
  int rc = auth_jwt_verify(j, (const char *)data, size, FUZZ_NOW, &p, &reason, NULL);
  if (rc == 0 && (reason != AUTH_JWT_OK || auth_principal_validate(&p, NULL) != 0 ||
                  p.exp_s - p.iat_s > AUTH_JWT_TTL_MAX_S))
    abort();
  if (rc != 0 && (reason == AUTH_JWT_OK || p.user_id[0] != '\0')) abort();
  return 0;
}
