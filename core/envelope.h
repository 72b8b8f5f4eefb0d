/*
 * envelope — the msgpack form of one event in the log, and its hash chain.
 *
 * An encoded event is a msgpack array of 14 elements, in this order:
 *
 *   0  format        uint, EVT_FORMAT (1)
 *   1  position      uint, global position in the log, from 1
 *   2  ts_us         int, wall time of the commit's batch, µs since epoch
 *   3  tenant        str
 *   4  stream        str, the entity's stream id ("contact-…")
 *   5  stream_ver    uint, version of the stream after this event, from 1
 *   6  type          str, catalogue type ("contact.upserted")
 *   7  type_ver      uint, catalogue version of the payload's shape
 *   8  actor         str, who issued the command ("user:…", "system")
 *   9  correlation   str, request or job id ("" when none)
 *  10  idempotency   str, the command's idempotency key, on the first event
 *                    of a command only ("" otherwise)
 *  11  prev_hash     bin 32, hash of the event before (zeros before the first)
 *  12  payload       map, the event's fields (catalogue: schema/events.def)
 *  13  hash          bin 32, BLAKE2b-256(prev_hash || every byte before this
 *                    element's 32 hash bytes)
 *
 * The hash is last so that it covers exactly the bytes before it and can be
 * checked without re-encoding. evt_encode() writes zeros there;
 * evt_seal() fills it in once the previous hash is known.
 *
 * Decoding is bounds-checked (core/mp.h) and never allocates: strings and the
 * payload come back as slices into the input. Limits: an event is at most
 * EVT_MAX_BYTES; each string field has its own cap below.
 *
 * Thread: any; nothing here has state.
 */
#ifndef PV_ENVELOPE_H
#define PV_ENVELOPE_H

#include "core/common/pv_buf.h"
#include "core/common/pv_error.h"
#include "core/mp.h"

#include <stdint.h>

#define EVT_FORMAT 1
#define EVT_HASH_BYTES 32
/* 256 KiB: far above any record the CRM writes (a contact with every field
 * is ~2 KiB), small enough that one event never dominates a batch. */
#define EVT_MAX_BYTES (256 * 1024)
#define EVT_MAX_TENANT 64
#define EVT_MAX_STREAM 128
#define EVT_MAX_TYPE 64
#define EVT_MAX_ACTOR 128
#define EVT_MAX_CORRELATION 128
#define EVT_MAX_IDEMPOTENCY 128

typedef struct evt_envelope {
  uint64_t position;
  int64_t ts_us;
  mp_slice tenant;
  mp_slice stream;
  uint64_t stream_version;
  mp_slice type;
  uint32_t type_version;
  mp_slice actor;
  mp_slice correlation;
  mp_slice idempotency;
  uint8_t prev_hash[EVT_HASH_BYTES];
  uint8_t hash[EVT_HASH_BYTES];
  const uint8_t *payload; /* msgpack map */
  size_t payload_len;
} evt_envelope;

/* A slice of a C string (NULL gives an empty slice). */
mp_slice evt_str(const char *s);

/*
 * Appends the encoding of e to out, with zeros for the hash (e->hash is not
 * read). The payload must be one msgpack map; it is checked like decoding
 * checks it.
 * Returns: 0, PV_EINVAL (a field over its cap or a payload that is not one
 * well-formed map; err names the field), or PV_ETOOBIG (over EVT_MAX_BYTES).
 * On error out is left as it was.
 */
int evt_encode(const evt_envelope *e, pv_buf *out, pv_error *err);

/*
 * Computes the hash of the encoded event in data[0..len) given the previous
 * hash, writes it into the event's last 32 bytes and into hash_out (may be
 * NULL).
 */
void evt_seal(uint8_t *data, size_t len, const uint8_t prev_hash[EVT_HASH_BYTES],
              uint8_t hash_out[EVT_HASH_BYTES]);

/*
 * Decodes data[0..len) into *e, checking every length, the nesting depth, the
 * size cap, the string caps and that nothing follows the array.
 * Returns: 0, PV_ETOOBIG, PV_ETRUNCATED, PV_ETOODEEP, PV_EBADTYPE or
 * PV_EINVAL (err says which element).
 * Ownership: the slices in *e point into data and live as long as it does.
 */
int evt_decode(const void *data, size_t len, evt_envelope *e, pv_error *err);

/* True when the stored hash matches the bytes and prev_hash. */
bool evt_hash_ok(const void *data, size_t len, const uint8_t prev_hash[EVT_HASH_BYTES]);

#endif
