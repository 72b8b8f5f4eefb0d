/*
 * history — the field-level state of one entity folded from its stream, and
 * the field changes each event makes: what `pivotal replay --history` and
 * `--as-of` print, and what the audit-trail projection will store.
 *
 * The fold: an entity's state is a map of field → value (each value one
 * msgpack value, kept as its bytes). Which fold an event gets is decided by
 * its type through a table (history.c, HIST_FOLD_RULES: type → fold
 * function); a type without a row gets the generic fold, hist_fold_generic:
 * each field of the payload map sets that field's value, and a nil value
 * removes the field. Aggregates whose events mean something else (a merge
 * that moves another entity's fields in, an event that clears a list) add a
 * row for their type when they are written; their rule may call the generic
 * fold for the fields it does not treat specially.
 *
 * A change is reported when a field's value differs from the one before it
 * (byte for byte: our packer always picks the shortest msgpack form, so equal
 * values have equal bytes), including a field that appears or disappears.
 * Changes are reported in the payload's field order, before the state takes
 * the new value.
 *
 * Pure: no I/O, no clocks; a hist_state belongs to one thread.
 */
#ifndef PV_HISTORY_H
#define PV_HISTORY_H

#include "core/common/pv_buf.h"
#include "core/common/pv_error.h"
#include "core/envelope.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hist_field {
  char *name;          /* NUL-terminated */
  uint8_t *value;      /* one msgpack value, never nil */
  size_t value_len;
} hist_field;

/* One entity's state: fields sorted by name (byte order). */
typedef struct hist_state {
  hist_field *fields;
  size_t count, alloc;
  uint64_t version;       /* stream version of the last event folded (0: none) */
  uint64_t last_position; /* its log position */
  int64_t last_ts_us;     /* its timestamp */
} hist_state;

/* One field's change. old_value is NULL when the field was absent;
 * new_value is NULL when the event removes it. */
typedef struct hist_change {
  mp_slice field;
  const uint8_t *old_value;
  size_t old_len;
  const uint8_t *new_value;
  size_t new_len;
} hist_change;

/* Called for each change; return 0 to go on or a PV_E* code to stop the
 * fold with it. Ownership: everything in *c is valid during the call only. */
typedef int (*hist_change_fn)(void *arg, const evt_envelope *e, const hist_change *c);

/* A fold rule: applies e's payload to st, reporting each change to
 * on_change (may be NULL). Returns: 0 or a PV_E* code with err filled. */
typedef int (*hist_fold_fn)(hist_state *st, const evt_envelope *e, hist_change_fn on_change,
                            void *arg, pv_error *err);

/* An empty state. No allocation. */
void hist_state_init(hist_state *st);
/* Frees the fields and leaves st empty (as after init). */
void hist_state_release(hist_state *st);

/* The field called name[0..len), or NULL. Ownership: valid until the next
 * fold or release. */
const hist_field *hist_state_get(const hist_state *st, const char *name, size_t len);

/*
 * The generic fold (see the top of this file).
 * Returns: 0, PV_EBADTYPE (the payload is not a map, or a key is not a
 * string), PV_EINVAL (a field name holding a NUL byte), a msgpack read
 * error (PV_ETRUNCATED, PV_ETOODEEP, PV_EINVAL), or
 * on_change's code. On error st may hold part of the event's changes.
 */
int hist_fold_generic(hist_state *st, const evt_envelope *e, hist_change_fn on_change,
                      void *arg, pv_error *err);

/* The fold rule for an event type (hist_fold_generic when the table has no
 * row for it). */
hist_fold_fn hist_rule_for(mp_slice type);

/*
 * Folds one event with its type's rule, then records its version, position
 * and time in st.
 * Returns: as the rule.
 */
int hist_apply(hist_state *st, const evt_envelope *e, hist_change_fn on_change, void *arg,
               pv_error *err);

/* Appends the fields as one JSON object ({"name": value, ...}, by name;
 * values through core/mp_json.h). */
void hist_state_json(const hist_state *st, pv_buf *out);

#endif
