/*
 * Fuzz target: a provider's 200 answer through enrich_http_parse_company.
 * Any bytes give 0 with one of our industries (or "") or PV_EUNAVAILABLE,
 * never a crash or a read past the input.
 */
#include "adapters/enrich/enrich_http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char industry[64];
  int rc = enrich_http_parse_company((const char *)data, size, "Acme", "acme.example", industry,
                                     sizeof industry, NULL);
  if (rc != 0 && rc != PV_EUNAVAILABLE) abort();
  if (rc == 0 && strlen(industry) >= sizeof industry) abort();
  return 0;
}
