/*
 * Internal to projections/: reading one batch of the log for a projection,
 * shared by the engine and the rebuild.
 */
#ifndef PV_PROJ_INTERNAL_H
#define PV_PROJ_INTERNAL_H

#include "projections/proj.h"

/*
 * One batch: the raw events of the projection's types copied out of the
 * read transaction (the map's memory is valid only inside it) and decoded
 * from the copies. Reused from batch to batch (the per-batch arena).
 */
typedef struct proj_batch {
  pv_buf raw;
  size_t *offsets, *lengths;
  evt_envelope *events; /* n decoded events, slices into raw */
  size_t n, cap;
  uint64_t last;        /* last position visited (events of every type) */
} proj_batch;

void proj_batch_init(proj_batch *b, size_t cap);
void proj_batch_release(proj_batch *b);

/*
 * Reads events from position from (= the checkpoint + 1) upward, none past
 * until, at most b->cap events or about PROJ_BATCH_BYTES, in one read
 * transaction, keeping
 * those of def's types. b->last is from - 1 when there was nothing to read.
 * Returns: 0, PV_ECORRUPT (a gap: an event whose position is not the next
 * one, or an event that does not decode; err says which), PV_EIO.
 */
int proj_batch_read(proj_batch *b, log_t *log, const proj_def *def, uint64_t from,
                    uint64_t until, pv_error *err);

/* Rolls back whatever transaction c is in; failures are ignored (a lost
 * connection has no transaction left). */
void proj_rollback(pg_conn *c);

#endif
