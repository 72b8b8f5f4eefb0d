/*
 * proj_trail — the field_changes and timeline folds (schema/011, 056): the
 * audit trail of field changes and the activity timeline of accounts and
 * contacts. Each row is computed here from the event's msgpack and a batch
 * is ONE COPY per table. The jsonb batch and the PL/pgSQL that expanded it
 * row by row took 30 s (field_changes) and 9.7 s (timeline) of a
 * 100k-contact import; one COPY row per change took 14.9 s and timeline
 * 2.3 s, mostly the server maintaining (tenant, entity, entity_id,
 * position, seq) over 1.34M rows with random entity ids. field_changes now
 * writes ONE ROW PER EVENT (rm_field_changes.events, schema/056), its
 * changes as one jsonb array: 163k rows and index entries instead of
 * 1.34M, and the fold ~2.2x faster (bench_import run back to back with
 * the previous build on the shared 2-core machine, load ~4.7: 16.0 s ->
 * 7.0 s and 25.7 s -> 11.5 s).
 *
 * Rules:
 * - The rows rm_lib.field_changes() expands from rm_field_changes.events
 *   are exactly those rm_lib.fold_field_changes (schema/011) inserts in the
 *   old one-row-per-change shape, and the timeline's those of
 *   rm_lib.fold_timeline; both SQL folds stay in the database as the
 *   reference: tests/proj/test_proj_trail.c folds the same events both
 *   ways and compares every column. Change one only with the other.
 * - An element of `changes` is {seq, field, old, new, source, priority,
 *   observed_at}, the old columns' values; a key whose column was SQL NULL
 *   is left out (old or new absent from the change, no source on it nor on
 *   the payload, no priority or observed_at), a JSON null is kept as null.
 *   Strings are JSON-escaped by mpj_append_str, whose ->> is the text
 *   mpj_append_text gave the old text columns. An event without changes
 *   has no row.
 * - Values are core/mp_json.h's mapping, as cat_payload_json renders the
 *   payload: a top-level field the catalogue marks secret shows
 *   "[redacted]", and so do the old and new values of a change whose field
 *   is secret in any event (cat_name_is_secret). A text column taken from
 *   a string holds the text a JSON reader gets back (mpj_append_text). The
 *   catalogue types the top-level fields read here STR (source, entity,
 *   name, subject, text, winner_id, loser_id) or ARRAY: the timeline's
 *   jsonb_strip_nulls has only top-level nulls to drop.
 * - Where the SQL folds differ (inputs not seen in practice): envelope
 *   strings (tenant, stream, type, actor) keep their UTF-8 (the jsonb batch
 *   turned each non-ASCII byte into U+FFFD); an observed_at past ~2242 keeps
 *   its exact µs (to_timestamp's float8 rounded them).
 * - A payload that does not read (not a map, a `changes` that is not an
 *   array of maps with a string field, a source, priority or observed_at
 *   of the wrong type, a priority outside the 32 bits the old integer
 *   column took, a pseudo-field list that is not an array) fails the
 *   batch with err naming the position; the engine retries and reports it.
 *   A nil pseudo-field list counts as absent (the SQL folds failed on it).
 */
#include "projections/proj_folds.h"

#include "core/catalog.h"
#include "core/common/pv_time.h"
#include "core/mp_json.h"

#include <inttypes.h>
#include <string.h>

/* A top-level payload field: where its value is, and whether the
 * catalogue hides it. */
typedef struct trail_val {
  bool present;
  bool redacted;
  mp_reader at;
} trail_val;

/* The payload fields the folds read (the last one wins when a key repeats,
 * as in jsonb). */
typedef struct trail_payload {
  trail_val changes, source, winner_id, loser_id, entity, name, subject, text;
  trail_val ids_added, ids_removed, domains_added, domains_removed;
} trail_payload;

/* One element of `changes`. */
typedef struct trail_change {
  mp_slice field;
  bool has_old, has_new, has_source, has_priority, has_observed;
  mp_reader old, new_;
  mp_slice source;
  int64_t priority, observed;
} trail_change;

/* Depth of a change's values in the payload (payload map, changes array,
 * change map): the nesting limit cat_payload_json applies to them. */
#define TRAIL_CHANGE_DEPTH 3

static trail_val *payload_slot(trail_payload *p, mp_slice key) {
  static const struct {
    const char *name;
    size_t off;
  } slots[] = {
      {"changes", offsetof(trail_payload, changes)},
      {"source", offsetof(trail_payload, source)},
      {"winner_id", offsetof(trail_payload, winner_id)},
      {"loser_id", offsetof(trail_payload, loser_id)},
      {"entity", offsetof(trail_payload, entity)},
      {"name", offsetof(trail_payload, name)},
      {"subject", offsetof(trail_payload, subject)},
      {"text", offsetof(trail_payload, text)},
      {"identifiers_added", offsetof(trail_payload, ids_added)},
      {"identifiers_removed", offsetof(trail_payload, ids_removed)},
      {"alternate_domains_added", offsetof(trail_payload, domains_added)},
      {"alternate_domains_removed", offsetof(trail_payload, domains_removed)},
  };
  for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
    if (mp_slice_eq(key, slots[i].name)) return (trail_val *)((char *)p + slots[i].off);
  return NULL;
}

/* Walks the payload map once, noting the fields read. */
static int payload_read(const evt_envelope *e, const cat_event *ce, trail_payload *p) {
  memset(p, 0, sizeof *p);
  mp_reader r;
  uint32_t pairs;
  mp_reader_init(&r, e->payload, e->payload_len);
  int rc = mp_read_map(&r, &pairs);
  for (uint32_t i = 0; i < pairs && rc == 0; i++) {
    mp_slice key;
    if ((rc = mp_read_str(&r, &key))) break;
    trail_val *v = payload_slot(p, key);
    if (v) {
      const cat_field *f = ce ? cat_field_find(ce, key.ptr, key.len) : NULL;
      *v = (trail_val){true, f && f->secret, r};
    }
    rc = mp_skip(&r, 1);
  }
  if (rc == 0 && mp_remaining(&r) != 0) rc = PV_EINVAL;
  return rc;
}

static bool val_nil(const trail_val *v) {
  mp_reader at = v->at;
  mp_value x;
  return !v->redacted && mp_read(&at, &x) == 0 && x.type == MP_NIL;
}

/* The value's jsonb text (ev->'d'->'name'). */
static int val_json(pv_buf *out, const trail_val *v) {
  if (v->redacted) {
    pv_buf_addstr(out, "\"[redacted]\"");
    return 0;
  }
  mp_reader at = v->at;
  return mpj_append_next(out, &at, 1);
}

/* The value as text (ev->'d'->>'name'); *null when absent or nil. */
static int val_text(pv_buf *out, const trail_val *v, bool *null) {
  *null = !v->present || val_nil(v);
  if (*null) return 0;
  if (v->redacted) {
    pv_buf_addstr(out, "[redacted]");
    return 0;
  }
  mp_reader at = v->at;
  mp_slice s;
  if (mp_read_str(&at, &s) == 0) {
    mpj_append_text(out, s.ptr, s.len);
    return 0;
  }
  return val_json(out, v);
}

/* Positions r on the first change; *n is how many (0 when absent). */
static int changes_open(const trail_payload *p, mp_reader *r, uint32_t *n) {
  *n = 0;
  if (!p->changes.present) return 0;
  if (p->changes.redacted) return PV_EBADTYPE;
  *r = p->changes.at;
  return mp_read_array(r, n);
}

/* Reads one change map (the keys the folds use; others are skipped). */
static int change_read(mp_reader *r, trail_change *ch) {
  memset(ch, 0, sizeof *ch);
  uint32_t n;
  int rc = mp_read_map(r, &n);
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    mp_slice key;
    if ((rc = mp_read_str(r, &key))) break;
    if (mp_slice_eq(key, "field")) {
      rc = mp_read_str(r, &ch->field);
    } else if (mp_slice_eq(key, "old")) {
      ch->has_old = true;
      ch->old = *r;
      rc = mp_skip(r, TRAIL_CHANGE_DEPTH);
    } else if (mp_slice_eq(key, "new")) {
      ch->has_new = true;
      ch->new_ = *r;
      rc = mp_skip(r, TRAIL_CHANGE_DEPTH);
    } else if (mp_slice_eq(key, "source")) {
      ch->has_source = true;
      rc = mp_read_str(r, &ch->source);
    } else if (mp_slice_eq(key, "priority")) {
      ch->has_priority = true;
      rc = mp_read_int(r, &ch->priority);
    } else if (mp_slice_eq(key, "observed_at")) {
      ch->has_observed = true;
      rc = mp_read_int(r, &ch->observed);
    } else {
      rc = mp_skip(r, TRAIL_CHANGE_DEPTH);
    }
  }
  if (rc == 0 && ch->field.len == 0) rc = PV_EINVAL;
  return rc;
}

/* A row under construction: each column's text NUL-terminated in one
 * buffer (offsets, as the buffer may move), or NULL; and the COPY it goes
 * to (failed: the server refused a row, err says why). */
#define TRAIL_MAX_COLUMNS 9
#define TRAIL_NULL ((size_t)-1)

typedef struct trail_row {
  pv_buf buf;
  size_t off[TRAIL_MAX_COLUMNS];
  int n;
  pg_conn *c;
  pv_error *err;
  bool failed;
} trail_row;

static void row_start(trail_row *row) {
  pv_buf_reset(&row->buf);
  row->n = 0;
}

/* Opens the next column: its text is what is appended until the next
 * row_col / row_send. */
static void row_col(trail_row *row) {
  if (row->n) pv_buf_addch(&row->buf, 0);
  row->off[row->n++] = row->buf.len;
}

static void row_null(trail_row *row) {
  if (row->n) pv_buf_addch(&row->buf, 0);
  row->off[row->n++] = TRAIL_NULL;
}

static void row_str(trail_row *row, const char *s, size_t len) {
  row_col(row);
  mpj_append_text(&row->buf, s, len);
}

static int row_send(trail_row *row) {
  pv_buf_addch(&row->buf, 0);
  const char *values[TRAIL_MAX_COLUMNS];
  for (int i = 0; i < row->n; i++)
    values[i] = row->off[i] == TRAIL_NULL ? NULL : row->buf.data + row->off[i];
  int rc = pg_copy_row(row->c, row->n, values, row->err);
  row->failed = rc != 0;
  return rc;
}

/* What precedes '-' in a stream id (all of it when there is none). */
static mp_slice stream_entity(mp_slice s) {
  const char *dash = memchr(s.ptr, '-', s.len);
  return (mp_slice){s.ptr, dash ? (size_t)(dash - s.ptr) : s.len};
}

static bool type_is(const evt_envelope *e, const char *type) { return mp_slice_eq(e->type, type); }

/* ---- field_changes ----------------------------------------------------- */

/* The columns of an event's row before its changes. */
typedef struct trail_head {
  pv_buf buf; /* position, tenant, entity, entity_id, source, actor, ts, type */
  size_t off[8];
  bool null[8];
} trail_head;

enum { H_POSITION, H_TENANT, H_ENTITY, H_ENTITY_ID, H_SOURCE, H_ACTOR, H_TS, H_TYPE, H_COUNT };

static void head_mark(trail_head *h, int k) {
  if (k) pv_buf_addch(&h->buf, 0);
  h->off[k] = h->buf.len;
  h->null[k] = false;
}

/* Fills the columns of e; the entity of a custom_field.defined is
 * "custom_field", "<entity>.<name>" (NULL when either is missing, which the
 * table refuses, as the SQL fold's did). */
static int head_fill(trail_head *h, const evt_envelope *e, const trail_payload *p) {
  pv_buf_reset(&h->buf);
  char ts[32];
  pv_format_rfc3339_us(e->ts_us, ts);
  head_mark(h, H_POSITION);
  pv_buf_addf(&h->buf, "%" PRIu64, e->position);
  head_mark(h, H_TENANT);
  mpj_append_text(&h->buf, e->tenant.ptr, e->tenant.len);
  int rc = 0;
  if (type_is(e, "custom_field.defined")) {
    head_mark(h, H_ENTITY);
    pv_buf_addstr(&h->buf, "custom_field");
    head_mark(h, H_ENTITY_ID);
    bool null_entity, null_name;
    if ((rc = val_text(&h->buf, &p->entity, &null_entity))) return rc;
    pv_buf_addch(&h->buf, '.');
    if ((rc = val_text(&h->buf, &p->name, &null_name))) return rc;
    h->null[H_ENTITY_ID] = null_entity || null_name;
  } else {
    mp_slice ent = stream_entity(e->stream), id = proj_stream_id(e->stream);
    head_mark(h, H_ENTITY);
    mpj_append_text(&h->buf, ent.ptr, ent.len);
    head_mark(h, H_ENTITY_ID);
    mpj_append_text(&h->buf, id.ptr, id.len);
  }
  head_mark(h, H_SOURCE);
  if ((rc = val_text(&h->buf, &p->source, &h->null[H_SOURCE]))) return rc;
  head_mark(h, H_ACTOR);
  mpj_append_text(&h->buf, e->actor.ptr, e->actor.len);
  head_mark(h, H_TS);
  pv_buf_addstr(&h->buf, ts);
  head_mark(h, H_TYPE);
  mpj_append_text(&h->buf, e->type.ptr, e->type.len);
  return 0;
}

static const char *head_get(const trail_head *h, int k) {
  return h->null[k] ? NULL : h->buf.data + h->off[k];
}

/* The changes array of one event, built at the end of out after its '[':
 * fc_begin opens an object (seq, field; a comma first unless it follows
 * the '['), fc_value adds old or new, fc_end the rest. */
static void fc_begin(pv_buf *out, int seq, const char *field, size_t field_len) {
  pv_buf_addstr(out, out->data[out->len - 1] == '[' ? "{\"seq\":" : ",{\"seq\":");
  pv_buf_addf(out, "%d,\"field\":", seq);
  mpj_append_str(out, field, field_len);
}

/* source (the change's, else the payload's; left out when neither),
 * priority, observed_at (left out when absent). */
static void fc_end(pv_buf *out, const trail_head *h, const trail_change *ch) {
  const char *source = head_get(h, H_SOURCE);
  if (ch && ch->has_source) {
    pv_buf_addstr(out, ",\"source\":");
    mpj_append_str(out, ch->source.ptr, ch->source.len);
  } else if (source) {
    pv_buf_addstr(out, ",\"source\":");
    mpj_append_str(out, source, strlen(source));
  }
  if (ch && ch->has_priority) pv_buf_addf(out, ",\"priority\":%" PRId64, ch->priority);
  if (ch && ch->has_observed) {
    char at[32];
    pv_format_rfc3339_us(ch->observed, at);
    pv_buf_addf(out, ",\"observed_at\":\"%s\"", at);
  }
  pv_buf_addch(out, '}');
}

/* A change's old or new value: "[redacted]" for a secret field, the key
 * left out when absent (SQL NULL in rm_lib.field_changes()). */
static int fc_value(pv_buf *out, const char *key, bool secret, bool has, const mp_reader *at) {
  if (!secret && !has) return 0;
  pv_buf_addf(out, ",\"%s\":", key);
  if (secret) {
    pv_buf_addstr(out, "\"[redacted]\"");
    return 0;
  }
  mp_reader r = *at;
  return mpj_append_next(out, &r, TRAIL_CHANGE_DEPTH);
}

/* A pseudo-field (seq from 1001): old and new given as JSON text, or
 * taken from a payload field (left out when it is absent). */
static int fc_pseudo(pv_buf *out, const trail_head *h, int seq, const char *field,
                     const char *old_json, const trail_val *old_val, const char *new_json,
                     const trail_val *new_val) {
  fc_begin(out, seq, field, strlen(field));
  static const char *const keys[2] = {"old", "new"};
  const char *json[2] = {old_json, new_json};
  const trail_val *val[2] = {old_val, new_val};
  for (int k = 0; k < 2; k++) {
    if (json[k]) {
      pv_buf_addf(out, ",\"%s\":%s", keys[k], json[k]);
    } else if (val[k] && val[k]->present) {
      pv_buf_addf(out, ",\"%s\":", keys[k]);
      int rc = val_json(out, val[k]);
      if (rc) return rc;
    }
  }
  fc_end(out, h, NULL);
  return 0;
}

/* 1003-1006: a non-empty list of identifiers or domains added or removed. */
static int fc_list(pv_buf *out, const trail_head *h, int seq, const char *field,
                   const trail_val *v, bool added) {
  if (!v->present || val_nil(v)) return 0;
  mp_reader at = v->at;
  uint32_t n;
  if (!v->redacted && mp_read_array(&at, &n) != 0) return PV_EBADTYPE;
  if (!v->redacted && n == 0) return 0;
  return added ? fc_pseudo(out, h, seq, field, "null", NULL, NULL, v)
               : fc_pseudo(out, h, seq, field, NULL, v, "null", NULL);
}

/* 1007: the definition of a custom field, its payload without entity and
 * name. */
static int fc_definition(pv_buf *out, const trail_head *h, const evt_envelope *e,
                         const cat_event *ce) {
  fc_begin(out, 1007, "definition", strlen("definition"));
  pv_buf_addstr(out, ",\"old\":null,\"new\":");
  static const char *const named[] = {"entity", "name", NULL};
  int rc = cat_payload_json_omit(ce, e->payload, e->payload_len, named, out);
  if (rc) return rc;
  fc_end(out, h, NULL);
  return 0;
}

/* The row of one event, none when it changes nothing. */
static int fc_event(trail_row *row, trail_head *h, const evt_envelope *e,
                    const char **where) {
  const cat_event *ce = cat_find(e->type.ptr, e->type.len, e->type_version);
  trail_payload p;
  int rc;
  *where = "/payload";
  if ((rc = payload_read(e, ce, &p)) || (rc = head_fill(h, e, &p))) return rc;
  row_start(row);
  for (int k = 0; k < H_COUNT; k++) {
    const char *v = head_get(h, k);
    if (v) {
      row_col(row);
      pv_buf_addstr(&row->buf, v);
    } else {
      row_null(row);
    }
  }
  row_col(row);
  pv_buf *out = &row->buf;
  size_t start = out->len;
  pv_buf_addch(out, '[');
  *where = "/payload/changes";
  mp_reader r;
  uint32_t n;
  if ((rc = changes_open(&p, &r, &n))) return rc;
  for (uint32_t i = 0; i < n; i++) {
    trail_change ch;
    if ((rc = change_read(&r, &ch))) return rc;
    /* the old table's integer column refused the others */
    if (ch.has_priority && (ch.priority < INT32_MIN || ch.priority > INT32_MAX))
      return PV_EINVAL;
    bool secret = cat_name_is_secret(ch.field.ptr, ch.field.len);
    fc_begin(out, (int)i + 1, ch.field.ptr, ch.field.len);
    if ((rc = fc_value(out, "old", secret, ch.has_old, &ch.old)) ||
        (rc = fc_value(out, "new", secret, ch.has_new, &ch.new_)))
      return rc;
    fc_end(out, h, &ch);
  }
  *where = "/payload";
  if (type_is(e, "account.deleted") || type_is(e, "contact.deleted"))
    rc = fc_pseudo(out, h, 1001, "deleted", "false", NULL, "true", NULL);
  else if (type_is(e, "account.restored") || type_is(e, "contact.restored"))
    rc = fc_pseudo(out, h, 1001, "deleted", "true", NULL, "false", NULL);
  else if (type_is(e, "contact.merged_into"))
    rc = fc_pseudo(out, h, 1002, "merged_into", "null", NULL, NULL, &p.winner_id);
  else if (type_is(e, "contact.unmerged"))
    rc = fc_pseudo(out, h, 1002, "merged_into", NULL, &p.winner_id, "null", NULL);
  if (rc == 0) rc = fc_list(out, h, 1003, "identifiers", &p.ids_added, true);
  if (rc == 0) rc = fc_list(out, h, 1004, "identifiers", &p.ids_removed, false);
  if (rc == 0) rc = fc_list(out, h, 1005, "alternate_domains", &p.domains_added, true);
  if (rc == 0) rc = fc_list(out, h, 1006, "alternate_domains", &p.domains_removed, false);
  if (rc == 0 && type_is(e, "custom_field.defined")) rc = fc_definition(out, h, e, ce);
  if (rc || out->len == start + 1) return rc;
  pv_buf_addch(out, ']');
  return row_send(row);
}

/* Ends the COPY of a fold: sends it, or abandons it after an error (one
 * of a payload: err says which position). */
static int copy_finish(trail_row *row, int rc, const char *where, const evt_envelope *e) {
  if (rc == 0) return pg_copy_end(row->c, NULL, row->err);
  if (!row->failed)
    pv_error_set(row->err, rc, where, "the payload of position %" PRIu64 " does not read",
                 e->position);
  pg_copy_abort(row->c);
  return rc;
}

int proj_field_changes_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  if (n == 0) return 0;
  int rc = pg_copy_begin(c,
                         "COPY events (position, tenant, entity, entity_id, source, actor, "
                         "ts, event_type, changes) FROM STDIN",
                         err);
  if (rc) return rc;
  trail_row row = {.buf = PV_BUF_INIT, .c = c, .err = err};
  trail_head head = {.buf = PV_BUF_INIT};
  const char *where = "/payload";
  size_t i = 0;
  while (i < n && (rc = fc_event(&row, &head, &events[i], &where)) == 0) i++;
  rc = copy_finish(&row, rc, where, &events[i < n ? i : 0]);
  pv_buf_release(&row.buf);
  pv_buf_release(&head.buf);
  return rc;
}

/* ---- timeline ---------------------------------------------------------- */

/* The kind of entry an event type makes: its verb, renamed for merges. */
static void tl_kind(pv_buf *out, mp_slice type) {
  static const char *const renamed[][2] = {
      {"note.added", "note"},
      {"contact.merged", "merged"},
      {"contact.merged_into", "merged_into"},
      {"contact.merge_undone", "unmerged"},
      {"contact.unmerged", "unmerged"},
  };
  for (size_t i = 0; i < sizeof renamed / sizeof renamed[0]; i++)
    if (mp_slice_eq(type, renamed[i][0])) {
      pv_buf_addstr(out, renamed[i][1]);
      return;
    }
  /* split_part(type, '.', 2) */
  const char *dot = memchr(type.ptr, '.', type.len);
  if (!dot) return;
  const char *from = dot + 1, *end = type.ptr + type.len;
  const char *next = memchr(from, '.', (size_t)(end - from));
  mpj_append_text(out, from, (size_t)((next ? next : end) - from));
}

/* Appends "key":<value> (after a comma unless *first) when the value is
 * present and not nil (the SQL's jsonb_strip_nulls). */
static int tl_detail_val(pv_buf *out, bool *first, const char *key, const trail_val *v) {
  if (!v->present || val_nil(v)) return 0;
  pv_buf_addf(out, "%s\"%s\":", *first ? "" : ",", key);
  *first = false;
  return val_json(out, v);
}

/* detail: source, fields (the changes' fields), other_id (loser_id if
 * the payload has one, else winner_id), text (of a note). */
static int tl_detail(pv_buf *out, const evt_envelope *e, const trail_payload *p) {
  bool first = true;
  pv_buf_addch(out, '{');
  int rc = tl_detail_val(out, &first, "source", &p->source);
  mp_reader r;
  uint32_t n = 0;
  if (rc == 0) rc = changes_open(p, &r, &n);
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    trail_change ch;
    if ((rc = change_read(&r, &ch))) break;
    if (i == 0) pv_buf_addstr(out, first ? "\"fields\":[" : ",\"fields\":[");
    else pv_buf_addch(out, ',');
    first = false;
    mpj_append_str(out, ch.field.ptr, ch.field.len);
    if (i + 1 == n) pv_buf_addch(out, ']');
  }
  const trail_val *other = p->loser_id.present ? &p->loser_id : &p->winner_id;
  if (rc == 0) rc = tl_detail_val(out, &first, "other_id", other);
  if (rc == 0 && type_is(e, "note.added")) rc = tl_detail_val(out, &first, "text", &p->text);
  pv_buf_addch(out, '}');
  return rc;
}

/* The entry of one event, unless it has no entity (a note without a
 * subject, a stream id without an id). about is scratch space. */
static int tl_event(trail_row *row, pv_buf *about, const evt_envelope *e) {
  if (type_is(e, "custom_field.defined")) return 0;
  const cat_event *ce = cat_find(e->type.ptr, e->type.len, e->type_version);
  trail_payload p;
  int rc = payload_read(e, ce, &p);
  if (rc) return rc;
  /* the stream or the note's subject, as text */
  pv_buf_reset(about);
  if (type_is(e, "note.added")) {
    bool null;
    if ((rc = val_text(about, &p.subject, &null)) || null) return rc;
  } else {
    mpj_append_text(about, e->stream.ptr, e->stream.len);
  }
  mp_slice whole = {about->data, about->len};
  mp_slice ent = stream_entity(whole), id = proj_stream_id(whole);
  if (ent.len == 0 || id.len == 0) return 0;
  char ts[32];
  pv_format_rfc3339_us(e->ts_us, ts);
  row_start(row);
  row_str(row, e->tenant.ptr, e->tenant.len);
  row_col(row);
  pv_buf_add(&row->buf, ent.ptr, ent.len);
  row_col(row);
  pv_buf_add(&row->buf, id.ptr, id.len);
  row_col(row);
  pv_buf_addf(&row->buf, "%" PRIu64, e->position);
  row_col(row);
  pv_buf_addstr(&row->buf, ts);
  row_col(row);
  tl_kind(&row->buf, e->type);
  row_str(row, e->type.ptr, e->type.len);
  row_str(row, e->actor.ptr, e->actor.len);
  row_col(row);
  if ((rc = tl_detail(&row->buf, e, &p))) return rc;
  return row_send(row);
}

int proj_timeline_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  if (n == 0) return 0;
  int rc = pg_copy_begin(c,
                         "COPY entries (tenant, entity, entity_id, position, ts, kind, "
                         "event_type, actor, detail) FROM STDIN",
                         err);
  if (rc) return rc;
  trail_row row = {.buf = PV_BUF_INIT, .c = c, .err = err};
  pv_buf about = PV_BUF_INIT;
  size_t i = 0;
  while (i < n && (rc = tl_event(&row, &about, &events[i])) == 0) i++;
  rc = copy_finish(&row, rc, "/payload", &events[i < n ? i : 0]);
  pv_buf_release(&row.buf);
  pv_buf_release(&about);
  return rc;
}
