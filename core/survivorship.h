/*
 * survivorship — field-level provenance and the rules that decide which of
 * two observations of a field survives. Used by contacts (full
 * survivorship) and accounts (provenance only, last write wins).
 *
 * A field holds a value with its provenance: the source that observed it
 * ("crm", "enrichment", "manual", ...), that source's priority (from
 * SURV_SOURCE_MAP, copied into the event so later edits of the table never
 * change old folds) and the time the source observed it (from the command's
 * input, never the clock, so folds are deterministic).
 *
 * Every policy is a total order over observations: it compares a policy
 * key first, then the others, then the value, then the source name. The
 * surviving value of a field is therefore the maximum of the set of its
 * observations, whatever the order they arrived in — that is what makes
 * upserts order-independent. With manual_sticks, an observation from the
 * source "manual" beats every other source, and among manual observations
 * the most recent wins (a manual edit sticks until the next manual edit).
 *
 * Field changes travel in events as maps (see surv_pack_change) carrying
 * the field, old and new value and both provenances, so the audit trail and
 * unmerge need no re-fold.
 *
 * Thread: any; nothing here has state. Ownership: a surv_field owns its
 * string value; release it with surv_field_release.
 */
#ifndef PV_SURVIVORSHIP_H
#define PV_SURVIVORSHIP_H

#include "core/common/pv_error.h"
#include "core/mp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A source name: 1..32 bytes of [a-z0-9_.-] (no ':' — it separates the
 * parts of external-id keys). 32 is arbitrary; fits every name we use. */
#define SURV_SOURCE_MAX 32
/* The longest field name ("custom_fields.NAME" included). */
#define SURV_FIELD_NAME_MAX 64

/* XX(NAME, "source", priority): the built-in sources, highest first.
 * Priorities are arbitrary but ordered as the spec asks: a user's edit over
 * a CRM import over a file import over enrichment; sources not listed get
 * SURV_PRIORITY_OTHER. */
#define SURV_SOURCE_MAP(XX)                                                   \
  XX(MANUAL,       "manual",       100)                                       \
  XX(CRM,          "crm",           80)                                       \
  XX(IMPORT,       "import",        60)                                       \
  XX(FORM,         "form",          50)                                       \
  XX(DOMAIN_MATCH, "domain_match",  40)                                       \
  XX(ENRICHMENT,   "enrichment",    30)
#define SURV_PRIORITY_OTHER 10

/* XX(NAME, "name"): how a field chooses between two observations. */
#define SURV_POLICY_MAP(XX)                                                   \
  XX(PRIORITY, "source_priority") /* higher priority, then later, then value */ \
  XX(RECENT, "most_recent")       /* later, then higher priority, then value */ \
  XX(COMPLETE, "most_complete")   /* longer (non-empty), then priority, time */ \
  XX(LATEST_WRITE, "latest_write") /* the newer observation always wins */

typedef enum surv_policy {
#define SURV__XX(name, str) SURV_##name,
  SURV_POLICY_MAP(SURV__XX)
#undef SURV__XX
} surv_policy;

const char *surv_policy_name(surv_policy p);

typedef enum surv_vtype { SURV_NIL, SURV_STR, SURV_NUM, SURV_BOOL } surv_vtype;

typedef struct surv_value {
  surv_vtype type;
  char *str; /* SURV_STR: owned, NUL-terminated */
  double num;
  bool b;
} surv_value;

/* One field: its value and provenance. set == false: never observed. */
typedef struct surv_field {
  bool set;
  surv_value value;
  char source[SURV_SOURCE_MAX + 1];
  int32_t priority;
  int64_t observed_at_us;
} surv_field;

/* Checks a source name. Returns: 0 or PV_EINVAL (err names `json_field`). */
int surv_source_check(const char *source, const char *json_field, pv_error *err);
/* The priority of a source (SURV_PRIORITY_OTHER for names not in the map). */
int32_t surv_source_priority(const char *source);
bool surv_is_manual(const char *source);

/* Builders; strings are copied. The provenance is taken from src/prio/at. */
void surv_field_str(surv_field *f, const char *s, const char *source, int32_t prio, int64_t at);
void surv_field_num(surv_field *f, double n, const char *source, int32_t prio, int64_t at);
void surv_field_bool(surv_field *f, bool b, const char *source, int32_t prio, int64_t at);
void surv_field_nil(surv_field *f, const char *source, int32_t prio, int64_t at);
/* Deep copy (dst must not hold a value: release it first). */
void surv_field_copy(surv_field *dst, const surv_field *src);
/* Frees the value and marks the field unset. */
void surv_field_release(surv_field *f);
/* Value and provenance identical. */
bool surv_field_equal(const surv_field *a, const surv_field *b);
bool surv_value_equal(const surv_value *a, const surv_value *b);

/*
 * True when `incoming` should replace `current` under the policy (false when
 * they are equal in value and provenance). An unset current always loses.
 */
bool surv_wins(surv_policy policy, bool manual_sticks, const surv_field *incoming,
               const surv_field *current);

/*
 * Packs one change as a msgpack map:
 *   field, old, new                    value before and after (nil if none)
 *   source, priority, observed_at      provenance of new (absent if unset)
 *   old_source, old_priority, old_observed_at   of old (absent if unset)
 */
void surv_pack_change(msgpack_packer *pk, const char *field, const surv_field *before,
                      const surv_field *after);
/* Packs a value (nil, str, float64, bool). */
void surv_pack_value(msgpack_packer *pk, const surv_value *v);

/*
 * Reads a change map packed by surv_pack_change.
 * Returns: 0, PV_EINVAL / PV_EBADTYPE (not of that shape), or a msgpack read
 * error. Ownership: fills before and after (which must be unset); the caller
 * releases them, also on error.
 */
int surv_read_change(mp_reader *r, char field[SURV_FIELD_NAME_MAX + 1], surv_field *before,
                     surv_field *after);
/* Reads one packed value into v (which must not hold a string). */
int surv_read_value(mp_reader *r, surv_value *v);

/* Appends a canonical text form of a field ("value" <source,prio,time>). */
void surv_field_format(const surv_field *f, pv_buf *out);

#endif
