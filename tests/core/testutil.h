/* Helpers shared by the core tests: payloads and one-call appends. */
#ifndef PV_TESTS_CORE_TESTUTIL_H
#define PV_TESTS_CORE_TESTUTIL_H

#include "core/log.h"
#include "core/mp.h"
#include "tests/harness/test.h"

#include <stdio.h>

/* A note.added payload. */
static inline void tu_note(pv_buf *out, const char *subject, const char *text) {
  msgpack_packer pk;
  pv_buf_reset(out);
  mp_packer_init(&pk, out);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "subject");
  mp_pack_cstr(&pk, subject);
  mp_pack_cstr(&pk, "text");
  mp_pack_cstr(&pk, text);
}

/* Appends one note event in its own transaction. */
static inline int tu_append(log_t *log, const char *stream, int64_t expected,
                            const char *text, uint64_t *pos) {
  pv_buf payload = PV_BUF_INIT;
  tu_note(&payload, stream, text);
  log_wtxn *tx;
  int rc = log_wtxn_begin(log, &tx);
  if (rc) return rc;
  log_event_in in = {.tenant = "acme", .stream = stream, .expected_version = expected,
                     .type = "note.added", .type_version = 1, .actor = "test",
                     .payload = payload.data, .payload_len = payload.len};
  rc = log_append(tx, &in, pos, NULL, NULL);
  if (rc) log_wtxn_abort(tx);
  else rc = log_wtxn_commit(tx);
  pv_buf_release(&payload);
  return rc;
}

#endif
