/* Fuzz target: msgpack to JSON on arbitrary bytes. Must never crash; what
 * it accepts must come out as JSON that parses, with no bytes of invalid
 * UTF-8 (PostgreSQL's jsonb would refuse the whole batch). */
#include "projections/proj_json.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_utf8(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
               : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || i + len > n) return 0;
    for (size_t k = 1; k < len; k++)
      if ((p[i + k] & 0xc0) != 0x80) return 0;
    i += len;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pv_buf out = PV_BUF_INIT;
  if (proj_json_from_msgpack(data, size, &out, NULL) == 0) {
    cJSON *doc = cJSON_ParseWithLength(out.data, out.len);
    if (!doc || !valid_utf8((const unsigned char *)out.data, out.len)) abort();
    cJSON_Delete(doc);
  }
  pv_buf_release(&out);
  return 0;
}
