/*
 * log — the event log: an LMDB environment holding every event, and the
 * write-side indexes the writer decides against.
 *
 * Sub-databases (keys use '\0' between parts; tenants, streams and kinds
 * never contain '\0'):
 *   events          position (u64, MDB_INTEGERKEY, MDB_APPEND) → envelope
 *   stream_events   tenant \0 stream \0 version (u64 big-endian) → position;
 *                   a stream's head is the last key of its run (one cursor
 *                   seek). The design page's separate `streams` head index
 *                   held nothing this one does not, and cost every event a
 *                   second random B-tree insert: ~8 % of an import's CPU
 *                   and a quarter of its randomly dirtied pages (bench
 *                   import), so there is none.
 *   idempotency     tenant \0 key → {first position u64, event count u32}
 *   unique          tenant \0 kind \0 normalized value → entity id
 *   suppressions    tenant \0 channel \0 normalized value → msgpack record
 *
 * Durability: LMDB's default sync flags only — none of the flags that skip
 * or defer a sync, and no writable map. A write transaction's effects are durable
 * once log_wtxn_commit() returns 0.
 *
 * Map growth: LMDB's map has a fixed size. A put or commit that hits
 * MDB_MAP_FULL reports PV_EFULL; the caller (the writer) aborts, calls
 * log_grow() (×2 up to the configured cap) and redoes the whole
 * transaction; a failed transaction is never reused. LMDB lets the map be
 * resized only while this process has no transaction open, so every read
 * transaction here holds a shared lock that log_grow() takes exclusively;
 * read transactions are short (bounded by count and bytes), so growth waits
 * at most one of them.
 *
 * Threads: log_open/log_close from one thread with nothing else running.
 * Write functions (log_wtxn_*, log_grow) from the one writer thread only.
 * Read functions from any thread; a log_reader belongs to one thread.
 */
#ifndef PV_LOG_H
#define PV_LOG_H

#include "core/common/pv_error.h"
#include "core/envelope.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct log log_t;

typedef struct log_options {
  size_t map_size_bytes; /* initial map size; 0 = 64 MiB */
  size_t map_max_bytes;  /* growth cap; 0 = 64 GiB */
  bool read_only;        /* open for reading only (replay, status) */
} log_options;

/* The longest index key (LMDB's MDB_MAXKEYSIZE in Debian's build). */
#define LOG_MAX_KEY_BYTES 511

/* Expected stream version for an append. */
#define LOG_EXPECT_ANY (-1)
#define LOG_EXPECT_NO_STREAM 0 /* the stream must not exist yet (version 0) */

/*
 * Opens (creating when absent, unless read-only) the log in directory dir.
 * Runs mdb_reader_check to clear stale reader slots of dead processes.
 * Returns: 0, PV_EIO (cannot create or open; err says why), PV_ECORRUPT (the
 * last event does not decode).
 */
int log_open(log_t **out, const char *dir, const log_options *opt, pv_error *err);
/* Closes the log. No transaction may be open. */
void log_close(log_t *log);

/* The position of the last committed event (0 for an empty log), and its
 * hash (zeros for an empty log). Thread: any. */
uint64_t log_head(const log_t *log);
void log_head_hash(const log_t *log, uint8_t out[EVT_HASH_BYTES]);
const char *log_dir(const log_t *log);
size_t log_map_size(const log_t *log);

/* Clears reader slots left by dead processes; returns how many. */
int log_reader_check(log_t *log);

/* ---- reading ---------------------------------------------------------- */

typedef struct log_reader log_reader;

/* Opens a read transaction (a snapshot). Keep it short.
 * Returns: 0 or PV_EIO. */
int log_read_begin(log_t *log, log_reader **out);
void log_read_end(log_reader *rd);

/* The snapshot's head position. */
uint64_t log_reader_head(const log_reader *rd);

/*
 * The event at position.
 * Returns: 0, PV_ENOTFOUND, PV_ECORRUPT (does not decode, or its position is
 * not its key).
 * Ownership: *raw and the slices in *e point into the map: valid until
 * log_read_end(); do not modify or free.
 */
int log_read_event(log_reader *rd, uint64_t position, evt_envelope *e,
                   const uint8_t **raw, size_t *raw_len);

/* Visitor for the bounded scans: return 0 to go on, 1 to stop, <0 to fail
 * (the code is returned by the scan). */
typedef int (*log_visit_fn)(void *arg, const evt_envelope *e, const uint8_t *raw,
                            size_t raw_len);

/*
 * Visits events from position `from` upward in one read transaction, at most
 * max_events and about max_bytes (at least one event is visited when there
 * is one). *next is the first position not visited.
 * Returns: 0, PV_ECORRUPT, PV_EIO, or the visitor's negative code.
 */
int log_scan(log_t *log, uint64_t from, size_t max_events, size_t max_bytes,
             log_visit_fn visit, void *arg, uint64_t *next);

/*
 * Visits the events of one stream from version from_version (≥ 1) in order,
 * within the reader's snapshot.
 * Returns: 0, PV_ECORRUPT, or the visitor's negative code.
 */
int log_read_stream(log_reader *rd, const char *tenant, const char *stream,
                    uint64_t from_version, log_visit_fn visit, void *arg);

/* The head version of a stream in the snapshot (0 when absent). */
int log_reader_stream_version(log_reader *rd, const char *tenant, const char *stream,
                              uint64_t *version);

/*
 * Walks the whole chain: each event decodes, positions are contiguous from 1,
 * each prev_hash is the previous event's hash and each hash matches its
 * bytes. On success *count and head_hash describe the log; on failure
 * *bad_position is the first bad position and err says what is wrong.
 * Returns: 0 or PV_ECORRUPT.
 */
int log_verify(log_t *log, uint64_t *count, uint8_t head_hash[EVT_HASH_BYTES],
               uint64_t *bad_position, pv_error *err);

/* ---- writing (writer thread only) ------------------------------------- */

typedef struct log_wtxn log_wtxn;

/* Begins the write transaction. The head (position and hash) is read from
 * the transaction, so another process that appended to the same
 * environment in between (LMDB serializes the write transactions of all
 * processes) is seen; a map grown by another process is adopted.
 * Returns: 0, PV_EIO, PV_ECORRUPT (the last event does not decode). */
int log_wtxn_begin(log_t *log, log_wtxn **out);
/*
 * Commits: when it returns 0 everything appended is durable and log_head()
 * shows it. Returns: 0, PV_EFULL (map full: grow and redo), PV_EIO (the
 * transaction is gone; see the writer for why this is fatal).
 * The transaction is freed either way.
 */
int log_wtxn_commit(log_wtxn *tx);
void log_wtxn_abort(log_wtxn *tx);

/* Grows the map ×2 up to the cap. No transaction may be open in this process
 * except read transactions, which it waits for.
 * Returns: 0, PV_EFULL ("storage full": at the cap), PV_EIO. */
int log_grow(log_t *log, pv_error *err);

/* The position of the last event the transaction holds (its own appends
 * included; log_head() when it has none). */
uint64_t log_wtxn_head(const log_wtxn *tx);

/* The head version of a stream as the transaction sees it (0 when absent). */
int log_wtxn_stream_version(log_wtxn *tx, const char *tenant, const char *stream,
                            uint64_t *version);

/* The event at position as the write transaction sees it (log_read_event's
 * rules; valid until the transaction ends). */
int log_wtxn_read_event(log_wtxn *tx, uint64_t position, evt_envelope *e);

/* Reads one stream within the write transaction (sees its own appends). */
int log_wtxn_read_stream(log_wtxn *tx, const char *tenant, const char *stream,
                         uint64_t from_version, log_visit_fn visit, void *arg);

/* What to append: the envelope fields a caller chooses. */
typedef struct log_event_in {
  const char *tenant;
  const char *stream;
  int64_t expected_version; /* LOG_EXPECT_ANY, LOG_EXPECT_NO_STREAM or N */
  const char *type;
  uint32_t type_version;
  const char *actor;
  const char *correlation;
  const char *idempotency; /* recorded in the envelope; NULL = "" */
  int64_t ts_us;           /* 0 = now */
  const void *payload;     /* one msgpack map */
  size_t payload_len;
} log_event_in;

/*
 * Appends one event: assigns the next position and stream version, chains
 * the hash, indexes the stream.
 * Returns: 0, PV_ECONFLICT (the stream's version is not the expected one;
 * nothing written), PV_EINVAL/PV_ETOOBIG (bad envelope; nothing written),
 * PV_EFULL (map full: abort, grow, redo), PV_EIO.
 */
int log_append(log_wtxn *tx, const log_event_in *in, uint64_t *position,
               uint64_t *stream_version, pv_error *err);

/* Idempotency records. */
typedef struct log_idem {
  uint64_t first_position;
  uint32_t event_count;
} log_idem;
/* Returns: 0, PV_ENOTFOUND. */
int log_idem_get(log_wtxn *tx, const char *tenant, const char *key, log_idem *out);
/* Returns: 0, PV_EFULL, PV_EIO. */
int log_idem_put(log_wtxn *tx, const char *tenant, const char *key, const log_idem *rec);

/* Unique index: (tenant, kind, value) → entity id.
 * get: 0 (id copied, NUL-terminated, into out) or PV_ENOTFOUND; PV_EINVAL if
 * it does not fit in cap. put: 0, PV_EFULL, PV_EIO. del: 0 or PV_ENOTFOUND. */
int log_unique_get(log_wtxn *tx, const char *tenant, const char *kind, const char *value,
                   char *out, size_t cap);
int log_unique_put(log_wtxn *tx, const char *tenant, const char *kind, const char *value,
                   const char *entity_id);
/* The unique index as a read snapshot sees it (same rules as get). */
int log_reader_unique_get(log_reader *rd, const char *tenant, const char *kind,
                          const char *value, char *out, size_t cap);
int log_unique_del(log_wtxn *tx, const char *tenant, const char *kind, const char *value);

/* Suppressions: (tenant, channel, value) → record bytes.
 * The get in a read transaction is the just-in-time check. */
int log_suppression_put(log_wtxn *tx, const char *tenant, const char *channel,
                        const char *value, const void *rec, size_t len);
int log_suppression_del(log_wtxn *tx, const char *tenant, const char *channel,
                        const char *value);
int log_suppression_get(log_reader *rd, const char *tenant, const char *channel,
                        const char *value, const void **rec, size_t *len);
int log_wtxn_suppression_get(log_wtxn *tx, const char *tenant, const char *channel,
                             const char *value, const void **rec, size_t *len);

#endif
