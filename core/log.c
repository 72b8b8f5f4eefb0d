/*
 * log — see log.h for the sub-databases, the durability rule and the map
 * growth protocol. LMDB result codes are translated into PV_E* here and
 * nowhere above.
 */
#include "core/log.h"

#include "core/common/pv_buf.h"
#include "core/common/pv_time.h"

#include <errno.h>
#include <stdarg.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* 64 MiB to start: a fresh install's log stays small for a long time, and
 * doubling from here reaches the cap in a few steps. */
#define LOG_DEFAULT_MAP_BYTES ((size_t)64 << 20)
/* 64 GiB cap: ~150M events of ~400 bytes. Raise it with --log-max-size. */
#define LOG_DEFAULT_MAP_MAX_BYTES ((size_t)64 << 30)
/* Reader slots: HTTP loops, the projector, the password pool, replay tools.
 * LMDB's default of 126 is tight once several processes read; 510 slots
 * cost 32 KiB of lock file. */
#define LOG_MAX_READERS 510
#define LOG_MAX_KEY LOG_MAX_KEY_BYTES

struct log_wtxn {
  log_t *log;
  MDB_txn *txn;
  /* on stream_events, opened at the first stream head read of the txn
   * (LMDB closes it with the txn): a cursor open costs a malloc, once per
   * event when stream heads were read through a fresh one */
  MDB_cursor *heads;
  uint64_t head;
  uint8_t head_hash[EVT_HASH_BYTES];
  pv_buf encoded;
};

struct log {
  MDB_env *env;
  MDB_dbi events, stream_events, idempotency, unique, suppressions;
  char *dir;
  bool read_only;
  size_t map_size, map_max;
  pthread_rwlock_t resize_lock; /* shared by read txns, exclusive to resize */
  pthread_mutex_t head_lock;    /* guards head_hash */
  _Atomic uint64_t head;
  uint8_t head_hash[EVT_HASH_BYTES];
  struct log_wtxn wtxn;         /* the one write transaction */
  bool wtxn_open;
};

struct log_reader {
  log_t *log;
  MDB_txn *txn;
};

/* Translates an LMDB code (never 0) into ours. */
static int lmdb_to_pv(int rc) {
  switch (rc) {
  case MDB_NOTFOUND: return PV_ENOTFOUND;
  case MDB_MAP_FULL: return PV_EFULL;
  case MDB_KEYEXIST: return PV_EEXISTS;
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
  case MDB_INVALID:
  case MDB_VERSION_MISMATCH: return PV_ECORRUPT;
  case MDB_BAD_VALSIZE: return PV_EINVAL;
  default: return PV_EIO;
  }
}

static int lmdb_fail(pv_error *err, int rc, const char *what, const char *dir) {
  int code = lmdb_to_pv(rc);
  pv_error_set(err, code, NULL, "could not %s the event log", what);
  pv_error_detail(err, "LMDB: %s (directory \"%s\").", mdb_strerror(rc), dir);
  return code;
}

/* ---- keys ------------------------------------------------------------- */

typedef struct key_buf {
  char data[LOG_MAX_KEY + 1];
  size_t len;
  bool overflow;
} key_buf;

static void key_add(key_buf *k, const void *p, size_t n) {
  if (k->overflow || k->len + n > LOG_MAX_KEY) {
    k->overflow = true;
    return;
  }
  memcpy(k->data + k->len, p, n);
  k->len += n;
}

/* parts joined by '\0'; NULL ends the list */
static void key_parts(key_buf *k, const char *first, ...) {
  va_list ap;
  k->len = 0;
  k->overflow = false;
  va_start(ap, first);
  for (const char *s = first; s; s = va_arg(ap, const char *)) {
    if (k->len) key_add(k, "", 1);
    key_add(k, s, strlen(s));
  }
  va_end(ap);
}

static void key_add_be64(key_buf *k, uint64_t v) {
  uint8_t b[8];
  for (int i = 7; i >= 0; i--, v >>= 8) b[i] = (uint8_t)v;
  key_add(k, b, 8);
}

static uint64_t be64(const void *p) {
  const uint8_t *b = p;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | b[i];
  return v;
}

static MDB_val key_val(key_buf *k) { return (MDB_val){k->len, k->data}; }

/* ---- open / close ----------------------------------------------------- */

static int open_dbis(log_t *log, pv_error *err) {
  MDB_txn *txn;
  unsigned flags = log->read_only ? 0 : MDB_CREATE;
  int rc = mdb_txn_begin(log->env, NULL, log->read_only ? MDB_RDONLY : 0, &txn);
  if (rc) return lmdb_fail(err, rc, "open", log->dir);
  struct { const char *name; MDB_dbi *dbi; unsigned flags; } dbs[] = {
      {"events", &log->events, MDB_INTEGERKEY},
      {"stream_events", &log->stream_events, 0},
      {"idempotency", &log->idempotency, 0},
      {"unique", &log->unique, 0},
      {"suppressions", &log->suppressions, 0},
  };
  for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
    rc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | flags, dbs[i].dbi);
    if (rc) {
      mdb_txn_abort(txn);
      if (rc == MDB_NOTFOUND) {
        pv_error_set(err, PV_ENOTFOUND, NULL, "no event log in \"%s\"", log->dir);
        pv_error_hint(err, "Start `pivotal serve` once to create it.");
        return PV_ENOTFOUND;
      }
      return lmdb_fail(err, rc, "open", log->dir);
    }
  }
  /* committed even when read-only: handles opened in an aborted txn close */
  rc = mdb_txn_commit(txn);
  return rc ? lmdb_fail(err, rc, "open", log->dir) : 0;
}

/* Reads the last event to learn the head position and hash. */
static int load_head(log_t *log, pv_error *err) {
  log_reader *rd;
  int rc = log_read_begin(log, &rd);
  if (rc) return pv_error_set(err, rc, NULL, "could not read the event log");
  MDB_cursor *cur;
  MDB_val k, v;
  mdb_cursor_open(rd->txn, log->events, &cur);
  rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  if (rc == MDB_NOTFOUND) {
    rc = 0;
  } else if (rc) {
    rc = lmdb_fail(err, rc, "read", log->dir);
  } else {
    evt_envelope e;
    uint64_t pos;
    memcpy(&pos, k.mv_data, sizeof pos);
    if (evt_decode(v.mv_data, v.mv_size, &e, err) != 0 || e.position != pos) {
      rc = pv_error_set(err, PV_ECORRUPT, NULL, "the last event of the log is corrupt");
      pv_error_detail(err, "Position %llu does not decode.", (unsigned long long)pos);
      pv_error_hint(err, "Run `pivotal replay --verify` to find the first bad position.");
    } else {
      atomic_store(&log->head, pos);
      memcpy(log->head_hash, e.hash, EVT_HASH_BYTES);
    }
  }
  mdb_cursor_close(cur);
  log_read_end(rd);
  return rc;
}

int log_open(log_t **out, const char *dir, const log_options *opt, pv_error *err) {
  static const log_options defaults = {0};
  if (!opt) opt = &defaults;
  log_t *log = pv_xcalloc(1, sizeof *log);
  int rc;

  log->dir = pv_xstrdup(dir);
  log->read_only = opt->read_only;
  log->map_size = opt->map_size_bytes ? opt->map_size_bytes : LOG_DEFAULT_MAP_BYTES;
  log->map_max = opt->map_max_bytes ? opt->map_max_bytes : LOG_DEFAULT_MAP_MAX_BYTES;
  if (log->map_max < log->map_size) log->map_max = log->map_size;
  pthread_rwlockattr_t ra;
  pthread_rwlockattr_init(&ra);
  /* A resize must not starve behind a stream of readers. */
  pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&log->resize_lock, &ra);
  pthread_rwlockattr_destroy(&ra);
  pthread_mutex_init(&log->head_lock, NULL);
  pv_buf_init(&log->wtxn.encoded, 1024);

  if (!log->read_only && mkdir(dir, 0700) != 0 && errno != EEXIST) {
    rc = pv_error_set(err, PV_EIO, NULL, "could not create directory \"%s\": %s", dir,
                      strerror(errno));
    goto fail_log;
  }
  if ((rc = mdb_env_create(&log->env))) {
    rc = lmdb_fail(err, rc, "create", dir);
    goto fail_log;
  }
  mdb_env_set_maxdbs(log->env, 8);
  mdb_env_set_maxreaders(log->env, LOG_MAX_READERS);
  mdb_env_set_mapsize(log->env, log->map_size);
  /* MDB_NOTLS: read transactions are not tied to threads (libuv work
   * threads, several readers per thread). Sync flags stay LMDB's defaults. */
  unsigned flags = MDB_NOTLS | (log->read_only ? MDB_RDONLY : 0);
  if ((rc = mdb_env_open(log->env, dir, flags, 0600))) {
    if (rc == ENOENT && log->read_only) {
      rc = pv_error_set(err, PV_ENOTFOUND, NULL, "no event log in \"%s\"", dir);
      pv_error_hint(err, "Check --data-dir; `pivotal serve` creates the log on first start.");
    } else {
      rc = lmdb_fail(err, rc, "open", dir);
    }
    goto fail_env;
  }
  MDB_envinfo info;
  mdb_env_info(log->env, &info);
  log->map_size = info.me_mapsize; /* an existing log may be larger */
  if (log->map_max < log->map_size) log->map_max = log->map_size;
  int dead;
  mdb_reader_check(log->env, &dead);
  if ((rc = open_dbis(log, err))) goto fail_env;
  if ((rc = load_head(log, err))) goto fail_env;
  *out = log;
  return 0;

fail_env:
  mdb_env_close(log->env);
fail_log:
  pv_buf_release(&log->wtxn.encoded);
  pthread_rwlock_destroy(&log->resize_lock);
  pthread_mutex_destroy(&log->head_lock);
  free(log->dir);
  free(log);
  return rc;
}

void log_close(log_t *log) {
  if (!log) return;
  mdb_env_close(log->env);
  pv_buf_release(&log->wtxn.encoded);
  pthread_rwlock_destroy(&log->resize_lock);
  pthread_mutex_destroy(&log->head_lock);
  free(log->dir);
  free(log);
}

uint64_t log_head(const log_t *log) { return atomic_load(&log->head); }

void log_head_hash(const log_t *log, uint8_t out[EVT_HASH_BYTES]) {
  pthread_mutex_lock((pthread_mutex_t *)&log->head_lock);
  memcpy(out, log->head_hash, EVT_HASH_BYTES);
  pthread_mutex_unlock((pthread_mutex_t *)&log->head_lock);
}

const char *log_dir(const log_t *log) { return log->dir; }
size_t log_map_size(const log_t *log) { return log->map_size; }

int log_reader_check(log_t *log) {
  int dead = 0;
  mdb_reader_check(log->env, &dead);
  return dead;
}

/* ---- reading ---------------------------------------------------------- */

int log_read_begin(log_t *log, log_reader **out) {
  for (;;) {
    pthread_rwlock_rdlock(&log->resize_lock);
    MDB_txn *txn;
    int rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
      log_reader *rd = pv_xmalloc(sizeof *rd);
      rd->log = log;
      rd->txn = txn;
      *out = rd;
      return 0;
    }
    pthread_rwlock_unlock(&log->resize_lock);
    if (rc != MDB_MAP_RESIZED) return lmdb_to_pv(rc);
    /* Another process grew the map: adopt its size, then retry. */
    pthread_rwlock_wrlock(&log->resize_lock);
    mdb_env_set_mapsize(log->env, 0);
    MDB_envinfo info;
    mdb_env_info(log->env, &info);
    log->map_size = info.me_mapsize;
    pthread_rwlock_unlock(&log->resize_lock);
  }
}

void log_read_end(log_reader *rd) {
  if (!rd) return;
  mdb_txn_abort(rd->txn);
  pthread_rwlock_unlock(&rd->log->resize_lock);
  free(rd);
}

static uint64_t last_position(MDB_txn *txn, MDB_dbi events) {
  MDB_cursor *cur;
  MDB_val k, v;
  uint64_t pos = 0;
  if (mdb_cursor_open(txn, events, &cur)) return 0;
  if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0) memcpy(&pos, k.mv_data, sizeof pos);
  mdb_cursor_close(cur);
  return pos;
}

uint64_t log_reader_head(const log_reader *rd) {
  return last_position(rd->txn, rd->log->events);
}

/* Decodes a stored event and checks it sits at its own position. */
static int decode_stored(const MDB_val *v, uint64_t key, evt_envelope *e) {
  if (evt_decode(v->mv_data, v->mv_size, e, NULL) != 0) return PV_ECORRUPT;
  return e->position == key ? 0 : PV_ECORRUPT;
}

static int get_event(MDB_txn *txn, MDB_dbi events, uint64_t position, evt_envelope *e,
                     const uint8_t **raw, size_t *raw_len) {
  size_t key = (size_t)position;
  MDB_val k = {sizeof key, &key}, v;
  int rc = mdb_get(txn, events, &k, &v);
  if (rc) return lmdb_to_pv(rc);
  if ((rc = decode_stored(&v, position, e))) return rc;
  if (raw) *raw = v.mv_data;
  if (raw_len) *raw_len = v.mv_size;
  return 0;
}

int log_read_event(log_reader *rd, uint64_t position, evt_envelope *e,
                   const uint8_t **raw, size_t *raw_len) {
  return get_event(rd->txn, rd->log->events, position, e, raw, raw_len);
}

int log_scan(log_t *log, uint64_t from, size_t max_events, size_t max_bytes,
             log_visit_fn visit, void *arg, uint64_t *next) {
  log_reader *rd;
  int rc = log_read_begin(log, &rd);
  if (rc) return rc;
  MDB_cursor *cur;
  size_t key = (size_t)(from ? from : 1);
  MDB_val k = {sizeof key, &key}, v;
  size_t visited = 0, bytes = 0;
  *next = key;
  mdb_cursor_open(rd->txn, log->events, &cur);
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && visited < max_events && (visited == 0 || bytes < max_bytes)) {
    uint64_t pos;
    evt_envelope e;
    memcpy(&pos, k.mv_data, sizeof pos);
    if ((rc = decode_stored(&v, pos, &e))) {
      *next = pos;
      goto done;
    }
    rc = visit(arg, &e, v.mv_data, v.mv_size);
    if (rc < 0) goto done;
    *next = pos + 1;
    visited++;
    bytes += v.mv_size;
    if (rc > 0) {
      rc = 0;
      goto done;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  rc = (rc == 0 || rc == MDB_NOTFOUND) ? 0 : lmdb_to_pv(rc);
done:
  mdb_cursor_close(cur);
  log_read_end(rd);
  return rc;
}

/* A stream's head version: the last key of its run in stream_events
 * (tenant \0 stream \0 version), found by seeking just past the run with
 * cur, a cursor on stream_events. */
static int stream_version_at(MDB_cursor *cur, const char *tenant, const char *stream,
                             uint64_t *version) {
  key_buf kb;
  key_parts(&kb, tenant, stream, "", (char *)NULL);
  size_t prefix = kb.len;
  key_add_be64(&kb, UINT64_MAX);
  if (kb.overflow) return PV_EINVAL;
  *version = 0;
  MDB_val k = key_val(&kb), v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  rc = mdb_cursor_get(cur, &k, &v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
  if (rc == 0 && k.mv_size == prefix + 8 && memcmp(k.mv_data, kb.data, prefix) == 0)
    *version = be64((const char *)k.mv_data + prefix);
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : lmdb_to_pv(rc);
}

static int stream_version(MDB_txn *txn, MDB_dbi stream_events, const char *tenant,
                          const char *stream, uint64_t *version) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, stream_events, &cur);
  if (rc) return lmdb_to_pv(rc);
  rc = stream_version_at(cur, tenant, stream, version);
  mdb_cursor_close(cur);
  return rc;
}

static int wtxn_stream_version(log_wtxn *tx, const char *tenant, const char *stream,
                               uint64_t *version) {
  if (!tx->heads) {
    int rc = mdb_cursor_open(tx->txn, tx->log->stream_events, &tx->heads);
    if (rc) {
      tx->heads = NULL;
      return lmdb_to_pv(rc);
    }
  }
  return stream_version_at(tx->heads, tenant, stream, version);
}

int log_reader_stream_version(log_reader *rd, const char *tenant, const char *stream,
                              uint64_t *version) {
  return stream_version(rd->txn, rd->log->stream_events, tenant, stream, version);
}

static int read_stream(log_t *log, MDB_txn *txn, const char *tenant, const char *stream,
                       uint64_t from_version, log_visit_fn visit, void *arg) {
  key_buf kb;
  key_parts(&kb, tenant, stream, "", (char *)NULL);
  size_t prefix = kb.len; /* tenant \0 stream \0 */
  key_add_be64(&kb, from_version ? from_version : 1);
  if (kb.overflow) return PV_EINVAL;
  MDB_cursor *cur;
  MDB_val k = key_val(&kb), v;
  int rc = mdb_cursor_open(txn, log->stream_events, &cur);
  if (rc) return lmdb_to_pv(rc);
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    if (k.mv_size != prefix + 8 || memcmp(k.mv_data, kb.data, prefix) != 0) {
      rc = MDB_NOTFOUND;
      break;
    }
    if (v.mv_size != 8) {
      rc = PV_ECORRUPT;
      goto done;
    }
    evt_envelope e;
    const uint8_t *raw = NULL;
    size_t raw_len = 0;
    if ((rc = get_event(txn, log->events, be64(v.mv_data), &e, &raw, &raw_len))) {
      if (rc == PV_ENOTFOUND) rc = PV_ECORRUPT;
      goto done;
    }
    rc = visit(arg, &e, raw, raw_len);
    if (rc < 0) goto done;
    if (rc > 0) {
      rc = 0;
      goto done;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  rc = rc == MDB_NOTFOUND ? 0 : lmdb_to_pv(rc);
done:
  mdb_cursor_close(cur);
  return rc;
}

int log_read_stream(log_reader *rd, const char *tenant, const char *stream,
                    uint64_t from_version, log_visit_fn visit, void *arg) {
  return read_stream(rd->log, rd->txn, tenant, stream, from_version, visit, arg);
}

/* ---- verification ----------------------------------------------------- */

typedef struct verify_state {
  uint64_t expect;
  uint8_t prev_hash[EVT_HASH_BYTES];
  uint64_t bad;
  pv_error *err;
} verify_state;

static int verify_one(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  verify_state *vs = arg;
  if (e->position != vs->expect) {
    vs->bad = vs->expect;
    pv_error_set(vs->err, PV_ECORRUPT, NULL, "position %llu is missing",
                 (unsigned long long)vs->expect);
    pv_error_detail(vs->err, "The next stored event is at position %llu.",
                    (unsigned long long)e->position);
    return PV_ECORRUPT;
  }
  if (memcmp(e->prev_hash, vs->prev_hash, EVT_HASH_BYTES) != 0) {
    vs->bad = e->position;
    pv_error_set(vs->err, PV_ECORRUPT, NULL, "position %llu does not chain to the one before",
                 (unsigned long long)e->position);
    pv_error_detail(vs->err, "Its previous-hash is not the hash of position %llu.",
                    (unsigned long long)(e->position - 1));
    return PV_ECORRUPT;
  }
  if (!evt_hash_ok(raw, len, vs->prev_hash)) {
    vs->bad = e->position;
    pv_error_set(vs->err, PV_ECORRUPT, NULL, "position %llu does not match its hash",
                 (unsigned long long)e->position);
    pv_error_detail(vs->err, "Its bytes were changed after it was written.");
    return PV_ECORRUPT;
  }
  memcpy(vs->prev_hash, e->hash, EVT_HASH_BYTES);
  vs->expect++;
  return 0;
}

int log_verify(log_t *log, uint64_t *count, uint8_t head_hash[EVT_HASH_BYTES],
               uint64_t *bad_position, pv_error *err) {
  verify_state vs = {.expect = 1, .err = err};
  uint64_t next = 1;
  for (;;) {
    uint64_t from = next;
    /* 10k events per read transaction keeps each snapshot short. */
    int rc = log_scan(log, from, 10000, SIZE_MAX, verify_one, &vs, &next);
    if (rc == PV_ECORRUPT && vs.bad == 0) {
      vs.bad = next;
      pv_error_set(err, PV_ECORRUPT, NULL, "position %llu does not decode",
                   (unsigned long long)next);
      pv_error_detail(err, "Its bytes are not a well-formed event, or not the event of that position.");
    }
    if (rc) {
      if (bad_position) *bad_position = vs.bad;
      return rc == PV_ECORRUPT ? PV_ECORRUPT : pv_error_set(err, rc, NULL, "could not read the event log");
    }
    if (next == from) break;
  }
  if (count) *count = vs.expect - 1;
  if (head_hash) memcpy(head_hash, vs.prev_hash, EVT_HASH_BYTES);
  return 0;
}

/* ---- writing ---------------------------------------------------------- */

/* Another process (`pivotal user add` beside a running server) may have
 * appended since this one last committed: LMDB's write lock serializes the
 * two, but our head copy would be stale. So the head is re-read inside the
 * transaction (one cursor step); the in-memory copy is only a shortcut
 * when it still matches. */
static int wtxn_load_head(log_wtxn *tx) {
  log_t *log = tx->log;
  uint64_t pos = last_position(tx->txn, log->events);
  tx->head = atomic_load(&log->head);
  log_head_hash(log, tx->head_hash);
  if (pos == tx->head) return 0;
  evt_envelope e;
  MDB_val k = {sizeof pos, &pos}, v;
  if (pos == 0) return PV_ECORRUPT; /* the log shrank: never done by us */
  int rc = mdb_get(tx->txn, log->events, &k, &v);
  if (rc) return lmdb_to_pv(rc);
  if (decode_stored(&v, pos, &e) != 0) return PV_ECORRUPT;
  tx->head = pos;
  memcpy(tx->head_hash, e.hash, EVT_HASH_BYTES);
  return 0;
}

int log_wtxn_begin(log_t *log, log_wtxn **out) {
  log_wtxn *tx = &log->wtxn;
  if (log->wtxn_open || log->read_only) return PV_EINVAL;
  int rc;
  while ((rc = mdb_txn_begin(log->env, NULL, 0, &tx->txn)) == MDB_MAP_RESIZED) {
    /* Another process grew the map: adopt its size (no transaction of
     * ours may be open meanwhile, hence the exclusive lock), then retry. */
    pthread_rwlock_wrlock(&log->resize_lock);
    mdb_env_set_mapsize(log->env, 0);
    MDB_envinfo info;
    mdb_env_info(log->env, &info);
    log->map_size = info.me_mapsize;
    pthread_rwlock_unlock(&log->resize_lock);
  }
  if (rc) return lmdb_to_pv(rc);
  tx->log = log;
  tx->heads = NULL;
  if ((rc = wtxn_load_head(tx)) != 0) {
    mdb_txn_abort(tx->txn);
    return rc;
  }
  log->wtxn_open = true;
  *out = tx;
  return 0;
}

int log_wtxn_commit(log_wtxn *tx) {
  log_t *log = tx->log;
  int rc = mdb_txn_commit(tx->txn);
  log->wtxn_open = false;
  if (rc) return lmdb_to_pv(rc);
  pthread_mutex_lock(&log->head_lock);
  memcpy(log->head_hash, tx->head_hash, EVT_HASH_BYTES);
  atomic_store(&log->head, tx->head);
  pthread_mutex_unlock(&log->head_lock);
  return 0;
}

void log_wtxn_abort(log_wtxn *tx) {
  if (!tx || !tx->log->wtxn_open) return;
  mdb_txn_abort(tx->txn);
  tx->log->wtxn_open = false;
}

int log_grow(log_t *log, pv_error *err) {
  if (log->map_size >= log->map_max) {
    pv_error_set(err, PV_EFULL, NULL, "storage full");
    pv_error_detail(err, "The event log has reached its size cap of %zu MiB.",
                    log->map_max >> 20);
    pv_error_hint(err, "Free disk space and raise the cap (--log-max-size), then restart.");
    return PV_EFULL;
  }
  size_t grown = log->map_size > log->map_max / 2 ? log->map_max : log->map_size * 2;
  pthread_rwlock_wrlock(&log->resize_lock);
  int rc = mdb_env_set_mapsize(log->env, grown);
  if (rc == 0) log->map_size = grown;
  pthread_rwlock_unlock(&log->resize_lock);
  if (rc) return lmdb_fail(err, rc, "grow", log->dir);
  return 0;
}

uint64_t log_wtxn_head(const log_wtxn *tx) { return tx->head; }

int log_wtxn_stream_version(log_wtxn *tx, const char *tenant, const char *stream,
                            uint64_t *version) {
  return wtxn_stream_version(tx, tenant, stream, version);
}

int log_wtxn_read_event(log_wtxn *tx, uint64_t position, evt_envelope *e) {
  return get_event(tx->txn, tx->log->events, position, e, NULL, NULL);
}

int log_wtxn_read_stream(log_wtxn *tx, const char *tenant, const char *stream,
                         uint64_t from_version, log_visit_fn visit, void *arg) {
  return read_stream(tx->log, tx->txn, tenant, stream, from_version, visit, arg);
}

int log_append(log_wtxn *tx, const log_event_in *in, uint64_t *position,
               uint64_t *stream_version_out, pv_error *err) {
  log_t *log = tx->log;
  uint64_t version;
  int rc = wtxn_stream_version(tx, in->tenant, in->stream, &version);
  if (rc == PV_EINVAL) return pv_error_set(err, rc, "stream", "stream id is too long");
  if (rc) return pv_error_set(err, rc, NULL, "could not read the stream's version");
  if (in->expected_version != LOG_EXPECT_ANY && (uint64_t)in->expected_version != version) {
    pv_error_set(err, PV_ECONFLICT, NULL, "stream \"%s\" is at version %llu, not %lld",
                 in->stream, (unsigned long long)version, (long long)in->expected_version);
    pv_error_hint(err, "Read the entity again and retry with its current version.");
    return PV_ECONFLICT;
  }

  evt_envelope e = {
      .position = tx->head + 1,
      .ts_us = in->ts_us ? in->ts_us : pv_wall_us(),
      .tenant = evt_str(in->tenant),
      .stream = evt_str(in->stream),
      .stream_version = version + 1,
      .type = evt_str(in->type),
      .type_version = in->type_version,
      .actor = evt_str(in->actor),
      .correlation = evt_str(in->correlation),
      .idempotency = evt_str(in->idempotency),
      .payload = in->payload,
      .payload_len = in->payload_len,
  };
  memcpy(e.prev_hash, tx->head_hash, EVT_HASH_BYTES);
  pv_buf *enc = &tx->encoded;
  pv_buf_reset(enc);
  if ((rc = evt_encode(&e, enc, err))) return rc;
  uint8_t hash[EVT_HASH_BYTES];
  evt_seal((uint8_t *)enc->data, enc->len, tx->head_hash, hash);

  size_t key = (size_t)e.position;
  MDB_val k = {sizeof key, &key}, v = {enc->len, enc->data};
  if ((rc = mdb_put(tx->txn, log->events, &k, &v, MDB_APPEND))) goto fail;

  key_buf kb;
  uint8_t pos_be[8];
  for (int i = 0; i < 8; i++) pos_be[i] = (uint8_t)(e.position >> (56 - 8 * i));
  key_parts(&kb, in->tenant, in->stream, "", (char *)NULL);
  key_add_be64(&kb, e.stream_version);
  k = key_val(&kb);
  v = (MDB_val){sizeof pos_be, pos_be};
  if ((rc = mdb_put(tx->txn, log->stream_events, &k, &v, 0))) goto fail;

  tx->head = e.position;
  memcpy(tx->head_hash, hash, EVT_HASH_BYTES);
  if (position) *position = e.position;
  if (stream_version_out) *stream_version_out = e.stream_version;
  return 0;

fail:
  return lmdb_fail(err, rc, "append to", log->dir);
}

static int put_kv(log_wtxn *tx, MDB_dbi dbi, key_buf *kb, const void *val, size_t len) {
  if (kb->overflow) return PV_EINVAL;
  MDB_val k = key_val(kb), v = {len, (void *)val};
  int rc = mdb_put(tx->txn, dbi, &k, &v, 0);
  return rc ? lmdb_to_pv(rc) : 0;
}

static int get_kv(MDB_txn *txn, MDB_dbi dbi, key_buf *kb, MDB_val *v) {
  if (kb->overflow) return PV_ENOTFOUND;
  MDB_val k = key_val(kb);
  int rc = mdb_get(txn, dbi, &k, v);
  return rc ? lmdb_to_pv(rc) : 0;
}

static int del_kv(log_wtxn *tx, MDB_dbi dbi, key_buf *kb) {
  if (kb->overflow) return PV_ENOTFOUND;
  MDB_val k = key_val(kb);
  int rc = mdb_del(tx->txn, dbi, &k, NULL);
  return rc ? lmdb_to_pv(rc) : 0;
}

int log_idem_get(log_wtxn *tx, const char *tenant, const char *key, log_idem *out) {
  key_buf kb;
  MDB_val v;
  key_parts(&kb, tenant, key, (char *)NULL);
  int rc = get_kv(tx->txn, tx->log->idempotency, &kb, &v);
  if (rc) return rc;
  if (v.mv_size != 12) return PV_ECORRUPT;
  out->first_position = be64(v.mv_data);
  const uint8_t *c = (const uint8_t *)v.mv_data + 8;
  out->event_count = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
  return 0;
}

int log_idem_put(log_wtxn *tx, const char *tenant, const char *key, const log_idem *rec) {
  key_buf kb;
  uint8_t v[12];
  for (int i = 0; i < 8; i++) v[i] = (uint8_t)(rec->first_position >> (56 - 8 * i));
  for (int i = 0; i < 4; i++) v[8 + i] = (uint8_t)(rec->event_count >> (24 - 8 * i));
  key_parts(&kb, tenant, key, (char *)NULL);
  return put_kv(tx, tx->log->idempotency, &kb, v, sizeof v);
}

int log_unique_get(log_wtxn *tx, const char *tenant, const char *kind, const char *value,
                   char *out, size_t cap) {
  key_buf kb;
  MDB_val v;
  key_parts(&kb, tenant, kind, value, (char *)NULL);
  int rc = get_kv(tx->txn, tx->log->unique, &kb, &v);
  if (rc) return rc;
  if (v.mv_size + 1 > cap) return PV_EINVAL;
  memcpy(out, v.mv_data, v.mv_size);
  out[v.mv_size] = '\0';
  return 0;
}

int log_reader_unique_get(log_reader *rd, const char *tenant, const char *kind,
                          const char *value, char *out, size_t cap) {
  key_buf kb;
  MDB_val v;
  key_parts(&kb, tenant, kind, value, (char *)NULL);
  int rc = get_kv(rd->txn, rd->log->unique, &kb, &v);
  if (rc) return rc;
  if (v.mv_size + 1 > cap) return PV_EINVAL;
  memcpy(out, v.mv_data, v.mv_size);
  out[v.mv_size] = '\0';
  return 0;
}

int log_unique_put(log_wtxn *tx, const char *tenant, const char *kind, const char *value,
                   const char *entity_id) {
  key_buf kb;
  key_parts(&kb, tenant, kind, value, (char *)NULL);
  return put_kv(tx, tx->log->unique, &kb, entity_id, strlen(entity_id));
}

int log_unique_del(log_wtxn *tx, const char *tenant, const char *kind, const char *value) {
  key_buf kb;
  key_parts(&kb, tenant, kind, value, (char *)NULL);
  return del_kv(tx, tx->log->unique, &kb);
}

int log_suppression_put(log_wtxn *tx, const char *tenant, const char *channel,
                        const char *value, const void *rec, size_t len) {
  key_buf kb;
  key_parts(&kb, tenant, channel, value, (char *)NULL);
  return put_kv(tx, tx->log->suppressions, &kb, rec, len);
}

int log_suppression_del(log_wtxn *tx, const char *tenant, const char *channel,
                        const char *value) {
  key_buf kb;
  key_parts(&kb, tenant, channel, value, (char *)NULL);
  return del_kv(tx, tx->log->suppressions, &kb);
}

static int suppression_get(MDB_txn *txn, MDB_dbi dbi, const char *tenant,
                           const char *channel, const char *value, const void **rec,
                           size_t *len) {
  key_buf kb;
  MDB_val v;
  key_parts(&kb, tenant, channel, value, (char *)NULL);
  int rc = get_kv(txn, dbi, &kb, &v);
  if (rc) return rc;
  *rec = v.mv_data;
  *len = v.mv_size;
  return 0;
}

int log_suppression_get(log_reader *rd, const char *tenant, const char *channel,
                        const char *value, const void **rec, size_t *len) {
  return suppression_get(rd->txn, rd->log->suppressions, tenant, channel, value, rec, len);
}

int log_wtxn_suppression_get(log_wtxn *tx, const char *tenant, const char *channel,
                             const char *value, const void **rec, size_t *len) {
  return suppression_get(tx->txn, tx->log->suppressions, tenant, channel, value, rec, len);
}
