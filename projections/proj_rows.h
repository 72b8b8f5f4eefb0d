/*
 * proj_rows — the text parameters the issue 7 folds (suppressions, leads,
 * orders, lead downloads) bind for one event: its envelope facts and its
 * payload as JSON, so that each fold is one parameterized statement per
 * event type that picks fields with ->> in SQL. Internal to projections/.
 *
 * Thread: pure. Ownership: the values point into buf (the caller's).
 */
#ifndef PV_PROJ_ROWS_H
#define PV_PROJ_ROWS_H

#include "core/catalog.h"
#include "core/common/pv_time.h"
#include "projections/proj.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum {
  PROJ_ROW_TENANT,   /* $1 */
  PROJ_ROW_ID,       /* $2: the stream id after its "<kind>-" prefix */
  PROJ_ROW_POSITION, /* $3 */
  PROJ_ROW_TS,       /* $4: RFC 3339 */
  PROJ_ROW_ACTOR,    /* $5 */
  PROJ_ROW_PAYLOAD,  /* $6: JSON (secret fields redacted) */
  PROJ_ROW_VERSION,  /* $7: the stream's version after the event */
  PROJ_ROW_COUNT
};

/* Fills values[PROJ_ROW_COUNT] for e; prefix is the stream's "<kind>-".
 * Returns: 0 or PV_ECORRUPT (a payload that is not valid msgpack). */
static inline int proj_row_of(const evt_envelope *e, const char *prefix, pv_buf *buf,
                              const char *values[PROJ_ROW_COUNT], pv_error *err) {
  size_t off[PROJ_ROW_COUNT];
  size_t plen = strlen(prefix);
  mp_slice id = e->stream;
  if (id.len >= plen && memcmp(id.ptr, prefix, plen) == 0) {
    id.ptr += plen;
    id.len -= plen;
  }
  char ts[32];
  pv_format_rfc3339_us(e->ts_us, ts);
  pv_buf_reset(buf);
#define PROJ_ROW_FIELD(k, ...) \
  (off[k] = buf->len, pv_buf_addf(buf, __VA_ARGS__), pv_buf_addch(buf, 0))
  PROJ_ROW_FIELD(PROJ_ROW_TENANT, "%.*s", (int)e->tenant.len, e->tenant.ptr);
  PROJ_ROW_FIELD(PROJ_ROW_ID, "%.*s", (int)id.len, id.ptr);
  PROJ_ROW_FIELD(PROJ_ROW_POSITION, "%" PRIu64, e->position);
  PROJ_ROW_FIELD(PROJ_ROW_TS, "%s", ts);
  PROJ_ROW_FIELD(PROJ_ROW_ACTOR, "%.*s", (int)e->actor.len, e->actor.ptr);
  PROJ_ROW_FIELD(PROJ_ROW_VERSION, "%" PRIu64, e->stream_version);
#undef PROJ_ROW_FIELD
  off[PROJ_ROW_PAYLOAD] = buf->len;
  int rc = cat_payload_json(cat_find(e->type.ptr, e->type.len, e->type_version), e->payload,
                            e->payload_len, buf);
  pv_buf_addch(buf, 0);
  if (rc)
    return pv_error_set(err, PV_ECORRUPT, "/payload",
                        "the payload of position %" PRIu64 " is not valid msgpack", e->position);
  for (int k = 0; k < PROJ_ROW_COUNT; k++) values[k] = buf->data + off[k];
  return 0;
}

/* True when e's type is name. */
static inline bool proj_row_is(const evt_envelope *e, const char *name) {
  return mp_slice_eq(e->type, name);
}

#endif
