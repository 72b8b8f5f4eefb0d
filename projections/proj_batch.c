/*
 * proj_batch — reads one bounded batch of the log for a projection and
 * checks that positions are contiguous (see proj_internal.h).
 */
#include "projections/proj_internal.h"

#include <inttypes.h>

void proj_batch_init(proj_batch *b, size_t cap) {
  pv_buf_init(&b->raw, 0);
  b->cap = cap;
  b->n = 0;
  b->last = 0;
  b->offsets = pv_xmalloc(cap * sizeof *b->offsets);
  b->lengths = pv_xmalloc(cap * sizeof *b->lengths);
  b->events = pv_xmalloc(cap * sizeof *b->events);
}

void proj_batch_release(proj_batch *b) {
  pv_buf_release(&b->raw);
  free(b->offsets);
  free(b->lengths);
  free(b->events);
}

typedef struct scan_ctx {
  proj_batch *b;
  const proj_def *def;
  uint64_t from, until, expected;
  uint64_t found; /* the position where a gap was seen */
} scan_ctx;

static bool wanted(const proj_def *def, mp_slice type) {
  if (!def->types) return true;
  for (const char *const *t = def->types; *t; t++)
    if (mp_slice_eq(type, *t)) return true;
  return false;
}

static int visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  scan_ctx *ctx = arg;
  if (e->position > ctx->until) return 1;
  if (e->position != ctx->expected) {
    /* Fold what comes before the gap first; the next batch starts at it. */
    if (ctx->b->last >= ctx->from) return 1;
    ctx->found = e->position;
    return PV_ECORRUPT;
  }
  ctx->expected++;
  ctx->b->last = e->position;
  if (!wanted(ctx->def, e->type)) return 0;
  proj_batch *b = ctx->b;
  b->offsets[b->n] = b->raw.len;
  b->lengths[b->n] = raw_len;
  pv_buf_add(&b->raw, raw, raw_len);
  b->n++;
  return 0;
}

int proj_batch_read(proj_batch *b, log_t *log, const proj_def *def, uint64_t from,
                    uint64_t until, pv_error *err) {
  pv_buf_reset(&b->raw);
  b->n = 0;
  b->last = from - 1;
  scan_ctx ctx = {b, def, from, until, from, 0};
  uint64_t next;
  int rc = log_scan(log, from, b->cap, PROJ_BATCH_BYTES, visit, &ctx, &next);
  if (rc == PV_ECORRUPT && ctx.found)
    return pv_error_set(err, PV_ECORRUPT, NULL,
                        "gap in the log: expected position %" PRIu64 ", found %" PRIu64,
                        ctx.expected, ctx.found);
  if (rc == PV_ECORRUPT && b->last >= from) rc = 0; /* the corrupt one starts the next */
  else if (rc == PV_ECORRUPT)
    return pv_error_set(err, PV_ECORRUPT, NULL,
                        "event at position %" PRIu64 " does not decode", next);
  if (rc) return pv_error_set(err, rc, NULL, "could not read the log");
  for (size_t i = 0; i < b->n; i++)
    if (evt_decode(b->raw.data + b->offsets[i], b->lengths[i], &b->events[i], err) != 0)
      return PV_ECORRUPT;
  return 0;
}

void proj_rollback(pg_conn *c) {
  pv_error ignored = PV_ERROR_INIT;
  pg_exec(c, "ROLLBACK", 0, NULL, NULL, &ignored);
}
