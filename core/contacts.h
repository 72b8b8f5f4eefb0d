/*
 * contacts — the contact aggregate: deterministic upsert, field-level
 * survivorship, automatic account link, merge and unmerge, soft delete.
 *
 * Identity. A contact is found by its identifiers, each a unique-index entry
 * of the tenant (kind → entity id):
 *   contact_email  the normalized address (norm_email_parse)
 *   contact_ext    "SOURCE:ID", an id the contact has in another system
 *   contact_phone  "ACCOUNT_ID:+E164", a valid phone within its account
 * An upsert goes to the owner of its email; when no contact has the email,
 * to the owner of its first external id, then of its phone — unless that
 * contact already has a different email (a different person sharing a
 * switchboard number, say), which starts a new contact. Identifiers of the
 * command that another contact owns are not moved: the event lists them as
 * identifier_conflicts (merge the two contacts to join them). New ids come
 * from the first identifier (core/entity.h).
 *
 * Order independence. Field values are decided by survivorship
 * (survivorship.h), whose policies are total orders, so the same set of
 * observations gives the same fields in any order. The set of contacts and
 * their ids is order-independent when no command joins two identifiers that
 * earlier commands gave to two different contacts (then the first owner
 * keeps each identifier, as above), and ids match across orders when every
 * command for a contact carries the identifier that first names it.
 *
 * Account link. At decide time the email's registrable domain, then its
 * full domain, is looked up in the account_domain index (primary and
 * alternate domains); a live account found there becomes an observation of
 * account_id from the source "domain_match". An explicit account_id in the
 * input is an observation from the command's source. A contact created
 * before its account stays unlinked until a contact_relink_decide command
 * (the read model finds the candidates: unlinked contacts whose email
 * domain an account now owns).
 *
 * A merge moves the loser's identifiers to the winner; an unmerge puts them
 * back and restores each winner field the merge set and nothing changed
 * since. What upserts did to the winner between the two (through the
 * loser's identifiers too) stays with the winner.
 *
 * Deleted contacts keep their identifiers: an upsert that reaches one is
 * refused (PV_EEXISTS) until it is restored. A merged loser's identifiers
 * point to the winner until the merge is undone.
 *
 * Events (schema/events.def): contact.created, contact.updated,
 * contact.merged (winner), contact.merged_into (loser), contact.merge_undone
 * (winner), contact.unmerged (loser), contact.deleted, contact.restored.
 * created/updated/merged/merge_undone carry `changes`, one map per field
 * (survivorship.h: field, old, new and both provenances), so the audit
 * trail and the read model's per-field provenance need no re-fold.
 *
 * Thread: the pure functions anywhere; the *_decide functions are writer
 * decide functions (writer.h) and run on the writer thread.
 */
#ifndef PV_CONTACTS_H
#define PV_CONTACTS_H

#include "core/common/pv_buf.h"
#include "core/entity.h"
#include "core/norm/norm.h"
#include "core/survivorship.h"
#include "core/writer.h"

/*
 * The fields, one row each: XX(NAME, "name", policy, LEAD, manual_sticks).
 * A field whose LEAD is another field is derived from it (seniority from
 * title, phone_type from phone) and moves with it: it is never compared on
 * its own, so a field and what is derived from it always share provenance.
 */
#define CONTACT_FIELD_MAP(XX)                                                  \
  XX(EMAIL,        "email",        SURV_PRIORITY, EMAIL,        true)          \
  XX(FIRST_NAME,   "first_name",   SURV_PRIORITY, FIRST_NAME,   true)          \
  XX(LAST_NAME,    "last_name",    SURV_PRIORITY, LAST_NAME,    true)          \
  XX(TITLE,        "title",        SURV_RECENT,   TITLE,        true)          \
  XX(SENIORITY,    "seniority",    SURV_RECENT,   TITLE,        true)          \
  XX(DEPARTMENT,   "department",   SURV_RECENT,   TITLE,        true)          \
  XX(PHONE,        "phone",        SURV_PRIORITY, PHONE,        true)          \
  XX(PHONE_VALID,  "phone_valid",  SURV_PRIORITY, PHONE,        true)          \
  XX(PHONE_TYPE,   "phone_type",   SURV_PRIORITY, PHONE,        true)          \
  XX(COUNTRY,      "country",      SURV_PRIORITY, COUNTRY,      true)          \
  XX(CITY,         "city",         SURV_COMPLETE, CITY,         true)          \
  XX(LINKEDIN_URL, "linkedin_url", SURV_COMPLETE, LINKEDIN_URL, true)          \
  XX(ACCOUNT_ID,   "account_id",   SURV_PRIORITY, ACCOUNT_ID,   true)

typedef enum contact_field {
#define CONTACT__XX(name, str, policy, lead, sticks) CONTACT_F_##name,
  CONTACT_FIELD_MAP(CONTACT__XX)
#undef CONTACT__XX
  CONTACT_FIELD_COUNT
} contact_field;

/* "first_name", ...; NULL outside the table. */
const char *contact_field_name(contact_field f);
/* The field by name, or -1. */
int contact_field_by_name(const char *name);

/* An identifier: kind "email", "ext" or "phone" and its index value. */
#define CONTACT_IDENT_MAX 300
typedef struct contact_ident {
  char kind[8];
  char value[CONTACT_IDENT_MAX + 1];
} contact_ident;

/* One field change of an event. */
typedef struct contact_change {
  contact_field field;
  surv_field before, after;
} contact_change;

/* What a decision changes. Ownership: release with contact_changes_release. */
typedef struct contact_changes {
  contact_change items[CONTACT_FIELD_COUNT];
  size_t count;
  contact_ident *idents; /* identifiers added (upsert, merge) or removed (unmerge) */
  size_t ident_count, ident_cap;
} contact_changes;

void contact_changes_init(contact_changes *c);
void contact_changes_release(contact_changes *c);
void contact_changes_add_ident(contact_changes *c, const char *kind, const char *value);

/* A merge this contact won and that is not undone: what it changed. */
typedef struct contact_merge_rec {
  char loser_id[ENTITY_ID_LEN + 1];
  contact_changes changes;
} contact_merge_rec;

/* A contact folded from its stream. */
typedef struct contact_state {
  char id[ENTITY_ID_LEN + 1];
  bool exists, deleted;
  char merged_into[ENTITY_ID_LEN + 1]; /* "" unless merged into another */
  surv_field fields[CONTACT_FIELD_COUNT];
  contact_ident *idents;
  size_t ident_count, ident_cap;
  contact_merge_rec *merges;
  size_t merge_count, merge_cap;
} contact_state;

void contact_state_init(contact_state *st);
void contact_state_release(contact_state *st);
bool contact_state_has_ident(const contact_state *st, const char *kind, const char *value);

/*
 * Folds one event into st (an entity_apply_fn: st is a contact_state *).
 * Unknown types are ignored (other aggregates' events).
 * Returns: 0 or PV_EINVAL / a msgpack read error (a malformed payload).
 */
int contact_apply(void *st, const char *type, size_t type_len, const void *payload,
                  size_t len);

/* A canonical text of the state (identifiers and merges sorted): two states
 * are the same contact, field by field with provenance, when these match. */
void contact_state_format(const contact_state *st, pv_buf *out);

/* ---- input ------------------------------------------------------------ */

typedef struct contact_ext_id {
  const char *source; /* a source name (surv_source_check) */
  const char *id;     /* 1..128 bytes, no control characters */
} contact_ext_id;

/* 8: arbitrary; a contact known to more systems is an integration bug. */
#define CONTACT_MAX_EXT_IDS 8
#define CONTACT_EXT_ID_MAX 128
/* City and URL fields: at most this many bytes (arbitrary, as norm's
 * NORM_TEXT_MAX for names). */
#define CONTACT_TEXT_MAX 1020

/*
 * One upsert as the HTTP layer or an import row gives it. NULL means "not
 * observed"; for any source but "manual" an empty string is also "not
 * observed"; a manual "" clears the field (a manual edit to nothing).
 */
typedef struct contact_input {
  const char *email;
  const char *first_name, *last_name;
  const char *title;
  const char *phone;   /* as entered; parsed with the country as region */
  const char *country; /* ISO 3166 alpha-2 is used as the phone region */
  const char *city;
  const char *linkedin_url;
  const char *account_id; /* explicit link; NULL = by the email's domain */
  const contact_ext_id *ext_ids;
  size_t ext_id_count;
  const char *source;     /* required: who observed this */
  int64_t observed_at_us; /* required, > 0: when the source observed it */
} contact_input;

/* The input normalized: field observations and identifier candidates. */
typedef struct contact_obs {
  char source[SURV_SOURCE_MAX + 1];
  int32_t priority;
  int64_t observed_at_us;
  surv_field values[CONTACT_FIELD_COUNT]; /* set = observed */
  norm_email email;                       /* when has_email */
  bool has_email;
  char ext_keys[CONTACT_MAX_EXT_IDS][CONTACT_IDENT_MAX + 1];
  size_t ext_count;
  char phone_e164[20]; /* "" unless a valid phone was observed */
} contact_obs;

/*
 * Normalizes an input (pure). Returns: 0 or PV_EINVAL (err->field names the
 * input field: "/email", "/ext_ids/1/id", "/observed_at", ...).
 * Ownership: fills *obs; release with contact_obs_release, also on error.
 */
int contact_normalize(const contact_input *in, contact_obs *obs, pv_error *err);
void contact_obs_release(contact_obs *obs);

/* ---- pure decisions --------------------------------------------------- */

/* The field changes an observation makes to a contact (st may be a fresh
 * state): each observed lead field that wins its policy, with the fields
 * derived from it. Identifiers are the writer's business. */
void contact_decide_upsert(const contact_state *st, const contact_obs *obs,
                           contact_changes *out);

/* The winner's field changes when loser is merged into it (loser's fields
 * that win their policy) and the loser's identifiers it takes over. */
void contact_decide_merge(const contact_state *winner, const contact_state *loser,
                          contact_changes *out);

/* The compensation of a merge: each field the merge set and that still
 * holds what the merge gave goes back to what it was before; the
 * identifiers the merge added are removed (out->idents). */
void contact_decide_unmerge(const contact_state *winner, const contact_merge_rec *merge,
                            contact_changes *out);

/* ---- commands (writer decide functions) ------------------------------- */

/*
 * arg: contact_upsert_arg. Out: the contact's id, whether it was created,
 * how many fields changed and how many identifiers stayed with another
 * contact. Returns: 0, PV_EINVAL (bad input or no identifier at all),
 * PV_ENOTFOUND (/account_id is not a live account), PV_EEXISTS (the
 * contact it reaches is deleted; /email).
 * With target_id set the command is an edit of that contact (the HTTP
 * PATCH): identity lookup is skipped, no identifier is needed, the
 * identifiers it observes are claimed when free, and an email another
 * contact owns is refused (PV_EEXISTS on /email: merge them instead);
 * PV_ENOTFOUND when the contact is absent, deleted or merged.
 * Initialise the arg with zeros (memset or `= {0}`) before filling `in`.
 */
typedef struct contact_upsert_arg {
  contact_input in;
  const char *target_id; /* NULL: upsert by identity */
  /* private: set by contact_upsert_prepare */
  bool prepared;
  contact_obs obs;
  /* out */
  char id[ENTITY_ID_LEN + 1];
  bool created;
  size_t changed_fields, conflicts;
} contact_upsert_arg;

/*
 * Optional: normalizes arg->in on the caller's thread (libphonenumber and
 * IDNA are the costly part of an upsert), so the one writer thread only
 * decides. Without it, decide normalizes. Thread: the caller's, before
 * submitting. Returns: 0 or as contact_normalize.
 * Ownership: contact_upsert_release frees what it made; call it after the
 * command is done (also when prepare failed; it is then a no-op).
 */
int contact_upsert_prepare(contact_upsert_arg *arg, pv_error *err);
void contact_upsert_release(contact_upsert_arg *arg);
int contact_upsert_decide(writer_ctx *ctx, void *arg, pv_error *err);

/* arg: contact_merge_arg. Returns: 0, PV_EINVAL (same ids, or one side is
 * already merged; names /winner_id or /loser_id), PV_ENOTFOUND (absent or
 * deleted), and for unmerge PV_EINVAL when loser is not merged into winner
 * or winner was since merged into another contact. */
typedef struct contact_merge_arg {
  const char *winner_id;
  const char *loser_id;
} contact_merge_arg;
int contact_merge_decide(writer_ctx *ctx, void *arg, pv_error *err);
int contact_unmerge_decide(writer_ctx *ctx, void *arg, pv_error *err);

/* arg: contact_id_arg. delete/restore: 0 (no event when already in that
 * state) or PV_ENOTFOUND (absent or merged). relink: looks the account up
 * again by the contact's email (observed_at_us required); 0 or PV_ENOTFOUND. */
typedef struct contact_id_arg {
  const char *id;
  int64_t observed_at_us;
  bool changed; /* out: an event was written */
} contact_id_arg;
int contact_delete_decide(writer_ctx *ctx, void *arg, pv_error *err);
int contact_restore_decide(writer_ctx *ctx, void *arg, pv_error *err);
int contact_relink_decide(writer_ctx *ctx, void *arg, pv_error *err);

/* Folds a contact through the decide's view (for other aggregates).
 * Returns: as entity_fold. */
int contact_load(writer_ctx *ctx, const char *id, contact_state *st, pv_error *err);

#endif
