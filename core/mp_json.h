/*
 * mp_json — msgpack values as JSON text: the payload printer of the replay
 * tool, and of anything else that shows an event to a person or a JSON
 * consumer (projections, the HTTP layer).
 *
 * The mapping:
 *   nil → null; bool → true/false; uint and int → the exact integer (uint64
 *   max and int64 min included); float → the shortest text that reads back
 *   to the same value (a float32 to the same float32), NaN and ±infinity →
 *   null (JSON has no such numbers); str → a JSON string; bin → a base64
 *   string (RFC 4648, padded); ext → {"$ext": type, "data": base64};
 *   array → array; map → object.
 * Strings are escaped so the output is always valid JSON: `"` `\` and
 * control characters (U+0000–U+001F) are escaped, U+2028 and U+2029 too (so
 * the text is also valid JavaScript), and bytes that are not well-formed
 * UTF-8 (overlongs, surrogates, beyond U+10FFFF, cut sequences) each become
 * U+FFFD, and so does U+0000 (PostgreSQL's jsonb refuses it even as
 * \u0000, and read models store payloads as jsonb). A map key that is not a string becomes the string of its JSON text
 * (key 1 → "1").
 *
 * Reading is core/mp.h's bounds-checked reader: nesting deeper than
 * MP_MAX_DEPTH is refused, declared lengths are checked, nothing is
 * allocated by a declared length.
 *
 * Thread: any; nothing here has state.
 */
#ifndef PV_MP_JSON_H
#define PV_MP_JSON_H

#include "core/common/pv_buf.h"
#include "core/mp.h"

#include <stddef.h>

/*
 * Appends the JSON text of the one msgpack value in data[0..len).
 * Returns: 0, PV_ETRUNCATED, PV_ETOODEEP, PV_EINVAL (a reserved byte, or
 * bytes after the value). On error out is left as it was.
 */
int mpj_append(pv_buf *out, const void *data, size_t len);

/*
 * Appends the JSON text of the next value of r and moves r past it; depth
 * is the nesting depth r is at (0 at the top), as for mp_skip.
 * Returns: as mpj_append (trailing bytes are the caller's business). On
 * error out is left as it was and r is somewhere inside the value.
 */
int mpj_append_next(pv_buf *out, mp_reader *r, int depth);

/* Appends s[0..len) as a JSON string, quotes included, escaped as above. */
void mpj_append_str(pv_buf *out, const char *s, size_t len);

/* Appends the text a JSON reader gets back from mpj_append_str(s, len): s
 * itself with each byte that is not UTF-8, and each U+0000, replaced by
 * U+FFFD (for a text column next to the jsonb of the same value). */
void mpj_append_text(pv_buf *out, const char *s, size_t len);

#endif
