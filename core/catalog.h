/*
 * catalog — the event catalogue (schema/events.def) as tables: look up a
 * type and version, validate a payload against its fields, render the
 * catalogue as Markdown (docs/events.md).
 *
 * Thread: any; the tables are constant.
 */
#ifndef PV_CATALOG_H
#define PV_CATALOG_H

#include "core/common/pv_buf.h"
#include "core/common/pv_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cat_field_type {
  CAT_STR, CAT_UINT, CAT_INT, CAT_BOOL, CAT_FLOAT, CAT_ARRAY, CAT_MAP, CAT_ANY
} cat_field_type;

typedef struct cat_field {
  const char *name;
  cat_field_type type;
  bool required;
  bool secret; /* redacted wherever a payload is shown: read models, replay */
  const char *doc;
} cat_field;

typedef struct cat_event {
  const char *type;
  uint32_t version;
  const char *doc;
  const cat_field *fields;
  size_t field_count;
} cat_event;

size_t cat_count(void);
const cat_event *cat_at(size_t i);
/* The row for (type, version), or NULL. type need not be NUL-terminated. */
const cat_event *cat_find(const char *type, size_t type_len, uint32_t version);
const char *cat_type_name(cat_field_type t);

/*
 * Checks that payload is a map holding only ev's fields, each of its type,
 * and every required one.
 * Returns: 0, PV_EINVAL (unknown or missing field; err->field is
 * "/payload/NAME"), PV_EBADTYPE, or a msgpack read error.
 */
int cat_validate(const cat_event *ev, const void *payload, size_t len, pv_error *err);

/* True when some catalogue row marks a field of this name secret: the rule
 * for values shown apart from their event (a field's history, an entity's
 * state), where no single event type applies. */
bool cat_name_is_secret(const char *name, size_t len);

/* The field of ev named by a slice, or NULL. */
const cat_field *cat_field_find(const cat_event *ev, const char *name, size_t len);

/*
 * Appends the payload as a JSON object (core/mp_json.h's mapping) with the
 * value of every secret field replaced by "[redacted]". ev NULL (a type not
 * in the catalogue) converts the payload as it is.
 * Returns: 0, or mpj_append's errors (out unchanged).
 */
int cat_payload_json(const cat_event *ev, const void *payload, size_t len, pv_buf *out);
/* The same without the top-level fields named in omit (NULL-terminated;
 * NULL: none), for a reader that never looks at a bulky field. A payload
 * that is not a map is converted as it is; with ev NULL nothing is
 * redacted. */
int cat_payload_json_omit(const cat_event *ev, const void *payload, size_t len,
                          const char *const *omit, pv_buf *out);

/* Appends the catalogue as the Markdown page docs/events.md. */
void cat_markdown(pv_buf *out);

#endif
