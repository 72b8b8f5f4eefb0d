/*
 * cmpl_internal — helpers shared by the compliance aggregates
 * (suppressions, consent, leads, orders): identifier checks, typed reads of
 * payload fields, and folding a stream into a state. Not a public API.
 *
 * Thread: pure, or as the writer/log function they wrap.
 */
#ifndef PV_CMPL_INTERNAL_H
#define PV_CMPL_INTERNAL_H

#include "core/common/pv_error.h"
#include "core/log.h"
#include "core/mp.h"
#include "core/writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Bytes of an identifier including its NUL: auth_role.h's AUTH_ID_MAX. */
#define CMPL_ID_MAX 64

/* An identifier: 1..63 bytes of [A-Za-z0-9._:-] (auth_id_valid's rule). */
static inline bool cmpl__id_ok(const char *s) {
  if (!s || !*s) return false;
  size_t n = 0;
  for (const char *p = s; *p; p++, n++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok || n >= CMPL_ID_MAX - 1) return false;
  }
  return true;
}

static inline int cmpl__bad_id(pv_error *err, const char *field, const char *what) {
  pv_error_set(err, PV_EINVAL, field, "invalid %s", what);
  pv_error_detail(err, "An identifier is 1 to 63 characters of letters, digits, "
                       "'.', '_', ':' and '-'.");
  return PV_EINVAL;
}

/* Copies the string field key of a msgpack map into out (cap with NUL).
 * Returns: 0, PV_ENOTFOUND (absent or nil), PV_EBADTYPE, PV_ETOOBIG. */
static inline int cmpl__get_str(const void *map, size_t len, const char *key, char *out,
                                size_t cap) {
  mp_reader r;
  int rc = mp_map_find(map, len, key, &r);
  if (rc) return rc;
  mp_value v;
  if ((rc = mp_read(&r, &v))) return rc;
  if (v.type == MP_NIL) return PV_ENOTFOUND;
  if (v.type != MP_STR) return PV_EBADTYPE;
  if (v.v.s.len >= cap) return PV_ETOOBIG;
  memcpy(out, v.v.s.ptr, v.v.s.len);
  out[v.v.s.len] = '\0';
  return 0;
}

/* As cmpl__get_str, "" when absent. */
static inline void cmpl__str_or_empty(const void *map, size_t len, const char *key, char *out,
                                      size_t cap) {
  if (cmpl__get_str(map, len, key, out, cap)) out[0] = '\0';
}

static inline int cmpl__get_u64(const void *map, size_t len, const char *key, uint64_t *out) {
  mp_reader r;
  int rc = mp_map_find(map, len, key, &r);
  return rc ? rc : mp_read_uint(&r, out);
}

static inline int cmpl__get_i64(const void *map, size_t len, const char *key, int64_t *out) {
  mp_reader r;
  int rc = mp_map_find(map, len, key, &r);
  return rc ? rc : mp_read_int(&r, out);
}

static inline int cmpl__get_bool(const void *map, size_t len, const char *key, bool *out) {
  mp_reader r;
  mp_value v;
  int rc = mp_map_find(map, len, key, &r);
  if (rc || (rc = mp_read(&r, &v))) return rc;
  if (v.type != MP_BOOL) return PV_EBADTYPE;
  *out = v.v.b;
  return 0;
}

/* Applies one event of a stream to a state; the fold skips nothing. */
typedef void (*cmpl_apply_fn)(void *state, const evt_envelope *e);

typedef struct cmpl_fold {
  cmpl_apply_fn apply;
  void *state;
} cmpl_fold;

static inline int cmpl__fold_visit(void *arg, const evt_envelope *e, const uint8_t *raw,
                                   size_t raw_len) {
  (void)raw;
  (void)raw_len;
  cmpl_fold *f = arg;
  f->apply(f->state, e);
  return 0;
}

/* Folds a stream as the writer sees it (committed and earlier in batch). */
static inline int cmpl__fold_w(writer_ctx *ctx, const char *stream, cmpl_apply_fn apply,
                               void *state) {
  cmpl_fold f = {apply, state};
  return writer_read_stream(ctx, stream, 1, cmpl__fold_visit, &f);
}

/* Folds a stream within a read snapshot. */
static inline int cmpl__fold_r(log_reader *rd, const char *tenant, const char *stream,
                               cmpl_apply_fn apply, void *state) {
  cmpl_fold f = {apply, state};
  return log_read_stream(rd, tenant, stream, 1, cmpl__fold_visit, &f);
}

/* Submits every command of cmds[0..n) (their done and done_arg are taken
 * over) and waits until all are done. A command the writer would not take
 * gets the submit error as its status. Thread: any but the writer's. */
typedef struct cmpl_latch {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  size_t pending;
} cmpl_latch;

static inline void cmpl__latch_done(writer_cmd *cmd) {
  cmpl_latch *l = cmd->done_arg;
  pthread_mutex_lock(&l->lock);
  if (--l->pending == 0) pthread_cond_signal(&l->cond);
  pthread_mutex_unlock(&l->lock);
}

static inline void cmpl__run_all(writer_t *w, writer_cmd *const *cmds, size_t n) {
  cmpl_latch l = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
  for (size_t i = 0; i < n; i++) {
    cmds[i]->done = cmpl__latch_done;
    cmds[i]->done_arg = &l;
    pthread_mutex_lock(&l.lock);
    l.pending++;
    pthread_mutex_unlock(&l.lock);
    int rc = writer_submit(w, cmds[i]);
    if (rc) {
      pthread_mutex_lock(&l.lock);
      l.pending--;
      pthread_mutex_unlock(&l.lock);
      cmds[i]->status = rc;
      pv_error_set(&cmds[i]->error, rc, NULL, NULL);
    }
  }
  pthread_mutex_lock(&l.lock);
  while (l.pending) pthread_cond_wait(&l.cond, &l.lock);
  pthread_mutex_unlock(&l.lock);
  pthread_cond_destroy(&l.cond);
  pthread_mutex_destroy(&l.lock);
}

/* Copies a NUL-terminated string into a fixed array, cut to fit. */
#define CMPL_COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

#endif
