/*
 * Fuzz target json_body: decodes bytes as a JSON request body the way
 * handlers do (http_json_decode, then typed member reads that name the
 * offending field), and builds a problem's text from any error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pv_error err = PV_ERROR_INIT;
  cJSON *doc = NULL;
  if (http_json_decode((const char *)data, size, &doc, &err) == 0) {
    const char *s = NULL;
    int64_t i = 0;
    bool b = false;
    (void)http_json_string(doc, "name", true, &s, &err);
    (void)http_json_int64(doc, "age", false, &i, &err);
    (void)http_json_bool(doc, "active", false, &b, &err);
    (void)http_json_string(doc, "a/b~c", false, &s, &err);
    char *text = cJSON_PrintUnformatted(doc);
    free(text);
    cJSON_Delete(doc);
  }
  if (strlen(err.field) >= sizeof err.field) abort();
  return 0;
}
