/*
 * seg_filter — the audience filter language: a filter is JSON, parsed into
 * a tree (groups and conditions), checked against the field catalogue
 * (core/seg_fields.def) and compiled into a parameterized SQL
 * predicate over the read models. Values never enter the SQL text: each
 * one is a parameter ($N); identifiers come only from the catalogue.
 *
 * The shape (docs/segments.md):
 *   group      {"op": "and" | "or" | "not", "conditions": [node, ...]}
 *              "not" negates the AND of its conditions; an empty "and" is
 *              true (everyone), an empty "or" false.
 *   condition  {"field": "contact.seniority", "operator": "in",
 *               "value": ["vp", "c_level"]}
 *              custom fields add "key": the custom field's name.
 * Errors name the offending member by JSON pointer under the pointer the
 * caller gives (e.g. "/filter/conditions/2/operator").
 *
 * Thread: any; the catalogue is constant.
 */
#ifndef PV_SEG_FILTER_H
#define PV_SEG_FILTER_H

#include "core/common/pv_buf.h"
#include "core/common/pv_error.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Limits: nesting depth 8 (a form a person builds is 3 or 4 deep), 200
 * nodes, 1,000 values in one condition, 1,024 bytes per value, a 64-byte
 * custom key. Arbitrary; they bound the SQL text (~100 KiB) and its
 * parameters (< PostgreSQL's 65,535) whatever the input. */
#define SEG_MAX_DEPTH 8
#define SEG_MAX_NODES 200
#define SEG_MAX_VALUES 1000
#define SEG_MAX_VALUE_BYTES 1024
#define SEG_MAX_KEY_BYTES 64
/* Days of within_last_days / within_next_days: 0..36,500 (a century). */
#define SEG_MAX_DAYS 36500

typedef enum seg_entity { SEG_CONTACT = 1, SEG_ACCOUNT = 2 } seg_entity;

typedef enum seg_type {
  SEG_T_TEXT, SEG_T_ENUM, SEG_T_NUMBER, SEG_T_DATE, SEG_T_BOOL, SEG_T_ARRAY, SEG_T_MEMBER,
  SEG_T_CTEXT, SEG_T_CNUMBER, SEG_T_CDATE, SEG_T_CBOOL,
  /* text stored lowercase (normalized emails and domains, the facts'
   * copy of a job title): "text" to a
   * client; its values are lowercased once at compile time, so no
   * lower() runs on each row (bench segments: an ends_with over 1M rows
   * 195 -> 77 ms), and equals matches whatever case was typed */
  SEG_T_LTEXT
} seg_type;

/* XX(NAME, "name") */
#define SEG_OP_MAP(XX)                                                         \
  XX(EQUALS, "equals")                                                         \
  XX(NOT_EQUALS, "not_equals")                                                 \
  XX(IN, "in")                                                                 \
  XX(NOT_IN, "not_in")                                                         \
  XX(CONTAINS, "contains")                                                     \
  XX(NOT_CONTAINS, "not_contains")                                             \
  XX(STARTS_WITH, "starts_with")                                               \
  XX(ENDS_WITH, "ends_with")                                                   \
  XX(IS_EMPTY, "is_empty")                                                     \
  XX(IS_NOT_EMPTY, "is_not_empty")                                             \
  XX(GT, "gt")                                                                 \
  XX(GTE, "gte")                                                               \
  XX(LT, "lt")                                                                 \
  XX(LTE, "lte")                                                               \
  XX(BETWEEN, "between")                                                       \
  XX(BEFORE, "before")                                                         \
  XX(AFTER, "after")                                                           \
  XX(WITHIN_LAST_DAYS, "within_last_days")                                     \
  XX(WITHIN_NEXT_DAYS, "within_next_days")                                     \
  XX(ANY_OF, "any_of")                                                         \
  XX(ALL_OF, "all_of")                                                         \
  XX(NONE_OF, "none_of")

typedef enum seg_op {
#define SEG__XX(NAME, name) SEG_OP_##NAME,
  SEG_OP_MAP(SEG__XX)
#undef SEG__XX
  SEG_OP_COUNT
} seg_op;

typedef struct seg_field {
  const char *name;     /* "contact.email" */
  seg_type type;
  unsigned entities;    /* SEG_CONTACT | SEG_ACCOUNT */
  const char *label;
  const char *category;
  const char *sql;      /* trusted expression (seg_fields.def) */
} seg_field;

size_t seg_field_count(void);
const seg_field *seg_field_at(size_t i);
/* The row named name, or NULL. */
const seg_field *seg_field_find(const char *name);
const char *seg_op_name(seg_op op);
const char *seg_type_name(seg_type t);
/* True when operator op applies to type t. */
bool seg_type_allows(seg_type t, seg_op op);

/* The catalogue as JSON: {"fields": [{name, type, label, category,
 * entities, operators, key?}], "operators": {...}}. Ownership: the caller's. */
cJSON *seg_fields_json(void);

/* "contact" | "account". Returns: 0 or PV_EINVAL. */
int seg_entity_parse(const char *s, seg_entity *out);
const char *seg_entity_name(seg_entity e);

/*
 * A compiled filter: the predicate's SQL text and its parameters in order
 * ($first .. $first + nparams - 1).
 * Ownership: seg_sql_release frees everything.
 */
typedef struct seg_sql {
  pv_buf where;
  char **params;
  size_t nparams, cap;
  int first;
} seg_sql;

void seg_sql_init(seg_sql *q, int first_param);
void seg_sql_release(seg_sql *q);

/*
 * Checks filter against the catalogue for entity and compiles it into q
 * (appended to q->where; q's parameters numbered from its first_param).
 * pointer is the filter's JSON pointer in the request ("/filter").
 * Returns: 0; PV_EINVAL (a bad member, err->field its pointer),
 * PV_EBADTYPE (a value of the wrong JSON type), PV_TOODEEP, PV_ETOOBIG
 * (over a SEG_MAX_* limit). On an error q holds no usable predicate.
 */
int seg_compile(const cJSON *filter, seg_entity entity, const char *pointer, seg_sql *q,
                pv_error *err);

/* The FROM and WHERE of an entity's live records with tenant = $1,
 * ending in "AND " before the predicate: "FROM ... WHERE c.tenant = $1
 * AND NOT c.deleted ... AND ". Static text. */
const char *seg_from_sql(seg_entity entity);
/* The record id expression of the entity: "c.id" or "a.id". */
const char *seg_id_sql(seg_entity entity);

/*
 * Appends the preview statement of a compiled predicate `where` ($1 =
 * tenant, the predicate's own parameters after): one row, one column, a
 * JSON object {entityType, count, emailable, callable, sampleIds, sample}
 * with up to `sample` records in id order. emailable / callable (contacts
 * only; null for accounts): has an email / a phone that no tenant-wide
 * suppression names.
 */
void seg_preview_sql(pv_buf *out, seg_entity entity, const char *where, int sample);

/* Appends s as a LIKE pattern matching it literally (backslash escapes
 * %, _ and \), between prefix and suffix wildcards when asked. */
void seg_like_pattern(pv_buf *out, const char *s, bool any_prefix, bool any_suffix);

#endif
