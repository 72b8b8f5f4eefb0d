/*
 * mp — msgpack reading by our own bounds-checked cursor, and writing through
 * msgpack-c's packer into a pv_buf.
 *
 * Why our own reader: msgpack-c's unpacker trusts declared lengths and
 * allocates for them (the 7-byte input 93 dd dd dd dd dd 61 makes it try
 * ~128 GiB). Here every declared length is checked against the bytes that
 * remain before anything is read: a string or binary longer than what is
 * left, or an array/map claiming more elements than there are bytes left
 * (each element takes at least one), is PV_ETRUNCATED; nesting deeper than
 * MP_MAX_DEPTH is PV_ETOODEEP. Reading never allocates: strings and binaries
 * come back as slices into the input.
 *
 * Thread: a reader or writer belongs to one thread.
 */
#ifndef PV_MP_H
#define PV_MP_H

#include "core/common/pv_buf.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of arrays and maps accepted anywhere in an event.
 * Arbitrary; payloads are flat records with a few nested lists. */
#define MP_MAX_DEPTH 16

typedef enum mp_type {
  MP_NIL, MP_BOOL, MP_UINT, MP_INT, MP_FLOAT, MP_STR, MP_BIN, MP_ARRAY, MP_MAP, MP_EXT
} mp_type;

/* A slice of the input; not NUL-terminated. */
typedef struct mp_slice {
  const char *ptr;
  uint32_t len;
} mp_slice;

typedef struct mp_value {
  mp_type type;
  union {
    bool b;
    uint64_t u;    /* MP_UINT */
    int64_t i;     /* MP_INT (negative only) */
    double f;      /* MP_FLOAT */
    mp_slice s;    /* MP_STR, MP_BIN, MP_EXT (data) */
    uint32_t n;    /* MP_ARRAY, MP_MAP: elements (pairs for a map) to follow */
  } v;
} mp_value;

typedef struct mp_reader {
  const uint8_t *p;
  const uint8_t *end;
} mp_reader;

void mp_reader_init(mp_reader *r, const void *data, size_t len);
static inline size_t mp_remaining(const mp_reader *r) { return (size_t)(r->end - r->p); }

/*
 * Reads one value's header (for arrays and maps: the count; their elements
 * follow) or one whole scalar.
 * Returns: 0, PV_ETRUNCATED (declared length beyond the input), or
 * PV_EINVAL (a reserved byte 0xc1).
 */
int mp_read(mp_reader *r, mp_value *out);

/* Skips one complete value, checking every nested length and the depth
 * (depth counts from `depth`; over MP_MAX_DEPTH is PV_ETOODEEP).
 * Returns: 0, PV_ETRUNCATED, PV_ETOODEEP or PV_EINVAL. */
int mp_skip(mp_reader *r, int depth);

/* Typed reads: PV_EBADTYPE when the next value is of another type. */
int mp_read_uint(mp_reader *r, uint64_t *out);
int mp_read_int(mp_reader *r, int64_t *out); /* uint ≤ INT64_MAX or int */
int mp_read_str(mp_reader *r, mp_slice *out);
int mp_read_bin(mp_reader *r, mp_slice *out);
int mp_read_array(mp_reader *r, uint32_t *count);
int mp_read_map(mp_reader *r, uint32_t *count);

/*
 * Finds `key` in the map that starts at `map` (map bytes), positioning *r
 * at its value. Returns: 0, PV_ENOTFOUND, or a read error.
 */
int mp_map_find(const void *map, size_t len, const char *key, mp_reader *r);

/* True when a slice equals a C string. */
bool mp_slice_eq(mp_slice s, const char *cstr);

/* A msgpack-c packer writing into a pv_buf (which must outlive it). */
void mp_packer_init(msgpack_packer *pk, pv_buf *out);
/* Packs a C string as a msgpack str (NULL packs nil). */
void mp_pack_cstr(msgpack_packer *pk, const char *s);
void mp_pack_slice(msgpack_packer *pk, mp_slice s);

#endif
