/*
 * audit_events — every event as one row of the audit trail / activity
 * timeline (schema/003_proj_audit_events.sql), the payload converted to
 * jsonb. One COPY per batch.
 */
#include "projections/proj_folds.h"
#include "core/catalog.h"

#include "core/common/pv_time.h"

#include <inttypes.h>
#include <stdio.h>

#define AUDIT_COLUMNS 10

int proj_audit_events_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  if (n == 0) return 0;
  int rc = pg_copy_begin(c,
                         "COPY events (position, ts, tenant, stream, stream_version, type, "
                         "type_version, actor, correlation, payload) FROM STDIN",
                         err);
  if (rc) return rc;
  /* One buffer per batch holds every text value of the current row; the
   * COPY helper copies them into its chunk. */
  pv_buf row = PV_BUF_INIT;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const evt_envelope *e = &events[i];
    pv_buf_reset(&row);
    size_t off[AUDIT_COLUMNS];
    char ts[32];
    pv_format_rfc3339_us(e->ts_us, ts);
#define FIELD(k, ...) (off[k] = row.len, pv_buf_addf(&row, __VA_ARGS__), pv_buf_addch(&row, 0))
    FIELD(0, "%" PRIu64, e->position);
    FIELD(1, "%s", ts);
    FIELD(2, "%.*s", (int)e->tenant.len, e->tenant.ptr);
    FIELD(3, "%.*s", (int)e->stream.len, e->stream.ptr);
    FIELD(4, "%" PRIu64, e->stream_version);
    FIELD(5, "%.*s", (int)e->type.len, e->type.ptr);
    FIELD(6, "%" PRIu32, e->type_version);
    FIELD(7, "%.*s", (int)e->actor.len, e->actor.ptr);
    FIELD(8, "%.*s", (int)e->correlation.len, e->correlation.ptr);
#undef FIELD
    off[9] = row.len;
    /* secret fields (password hashes, token hashes) are redacted here: the
     * audit read model is queryable by staff, the log is not */
    rc = cat_payload_json(cat_find(e->type.ptr, e->type.len, e->type_version), e->payload,
                          e->payload_len, &row);
    pv_buf_addch(&row, 0);
    if (rc) {
      pv_error_set(err, rc, "/payload", "the payload of position %" PRIu64 " is not valid msgpack",
                   e->position);
      break;
    }
    const char *values[AUDIT_COLUMNS];
    for (int k = 0; k < AUDIT_COLUMNS; k++) values[k] = row.data + off[k];
    rc = pg_copy_row(c, AUDIT_COLUMNS, values, err);
  }
  pv_buf_release(&row);
  if (rc) {
    pg_copy_abort(c);
    return rc;
  }
  return pg_copy_end(c, NULL, err);
}
