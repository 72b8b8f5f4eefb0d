/* Fuzz target: msgpack → JSON on arbitrary bytes. Must never crash; when
 * the conversion succeeds the output must parse as JSON (cJSON), and a
 * value that converts must convert the same way through a reader. */
#include "core/mp_json.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pv_buf out = PV_BUF_INIT;
  if (mpj_append(&out, data, size) == 0) {
    cJSON *doc = cJSON_ParseWithLength(out.data, out.len);
    if (!doc) abort();
    cJSON_Delete(doc);
  } else if (out.len != 0) {
    abort(); /* a failed conversion leaves the output as it was */
  }
  /* the same bytes as a sequence of values, each through the reader */
  mp_reader r;
  mp_reader_init(&r, data, size);
  pv_buf one = PV_BUF_INIT;
  while (mp_remaining(&r) && mpj_append_next(&one, &r, 0) == 0) {
    cJSON *doc = cJSON_ParseWithLength(one.data, one.len);
    if (!doc) abort();
    cJSON_Delete(doc);
    pv_buf_reset(&one);
  }
  pv_buf_release(&one);
  pv_buf_release(&out);
  return 0;
}
