/* Fuzz target: the envelope decoder, then a skip of the payload and a
 * catalogue validation, on arbitrary bytes. Must never crash or allocate
 * by a declared length. */
#include "core/catalog.h"
#include "core/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  evt_envelope e;
  if (evt_decode(data, size, &e, NULL) == 0) {
    const cat_event *ev = cat_find(e.type.ptr, e.type.len, e.type_version);
    if (ev) cat_validate(ev, e.payload, e.payload_len, NULL);
    (void)evt_hash_ok(data, size, e.prev_hash);
  }
  mp_reader r;
  mp_reader_init(&r, data, size);
  while (mp_remaining(&r) && mp_skip(&r, 0) == 0) {
  }
  return 0;
}
