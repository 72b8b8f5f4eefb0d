/*
 * proj_json — msgpack to JSON text, for read models that keep an event's
 * payload as jsonb.
 *
 * Rules (so that PostgreSQL's jsonb input accepts every output):
 * - strings are escaped per RFC 8259; bytes that are not valid UTF-8 and
 *   U+0000 (which jsonb refuses) become U+FFFD;
 * - map keys that are not strings are written as the JSON text of the key;
 * - NaN and infinities become null; binaries become base64 strings; ext
 *   values become null.
 * Depth is bounded by MP_MAX_DEPTH like every msgpack read.
 *
 * Thread: any; no state.
 */
#ifndef PV_PROJ_JSON_H
#define PV_PROJ_JSON_H

#include "core/common/pv_buf.h"
#include "core/common/pv_error.h"

#include <stddef.h>

/*
 * Appends the JSON of the one msgpack value in data[0..len) to out.
 * Returns: 0 or PV_ETRUNCATED, PV_ETOODEEP, PV_EINVAL (malformed input or
 * trailing bytes). On error out is left as it was.
 */
int proj_json_from_msgpack(const void *data, size_t len, pv_buf *out, pv_error *err);

#endif
