/*
 * leads — lead QA: a lead links a contact, a campaign, optionally an order
 * and qualification answers, and moves through one state machine:
 *
 *   new ──start_review──► under_review ──approve──► approved ──publish──► published
 *                              │  ▲                    │
 *                         reject  └──────reopen────────┤
 *                              ▼                       │
 *                          rejected ───reopen──────────┘ (admin)
 *
 * The table (LEAD_TRANSITIONS in leads.c, lead_transitions()) lists every
 * (from, action, to, roles) row, the non-moving actions too (assign a
 * reviewer, check a checklist item); an action with no row from the lead's
 * state is PV_ECONFLICT (field "/status"), a row the role may not use is
 * PV_EFORBIDDEN. Only an approved lead can be published. Every transition
 * is an event on "lead-<id>".
 *
 * Approval gates, decided inside the writer's transaction:
 *   - the campaign's QA checklist (campaign.qa_checklist_defined on
 *     "campaign-qa-<campaign id>"): every item must be checked on the lead,
 *     else PV_ECONFLICT with field "/checklist";
 *   - suppressions: the lead's email and phone (and any extra identifiers
 *     the command carries) are read from the suppressions index with the
 *     lead's client as scope; a suppressed contact is PV_ECONFLICT with
 *     field "/contact". Publishing checks again.
 * Where the identifiers come from: lead.created records the contact's
 * normalized email and phone. With from_contact (the HTTP API), create's
 * decide reads them from the contact's own stream in the log, so the lead
 * carries exactly what the CRM holds for that contact when it is made,
 * never what a request claims; without it (tests of this module, which
 * have no contacts) they are given to lead_create_bind. Either way the
 * suppression checks read exactly the identifiers the client will receive
 * with the lead. lead_act may add more (extra_email, extra_phone) when the
 * contact has changed since.
 *
 * Per-domain cap: approved (and published) leads per (order, email
 * registrable domain) are counted in the unique index (kind
 * "lead-domain-approved", value "<order>/<domain>", the count as decimal).
 * When a lead starts review or is approved while its order already has
 * `domain_cap` of its domain (order.created's domain_cap, default 4), the
 * lead gets a lead.flagged event (flag "domain_cap"); it is not refused.
 *
 * Client users never act on leads: every lead command from a client user
 * is answered PV_ENOTFOUND, as for a missing lead.
 *
 * Thread: pure functions and binds from any thread; decides on the writer;
 * lead_read from any thread.
 */
#ifndef PV_LEADS_H
#define PV_LEADS_H

#include "core/actor.h"
#include "core/common/pv_error.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/suppressions.h"
#include "core/writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Items of one campaign's checklist, and bytes of an item with its NUL.
 * Arbitrary: QA checklists in the spec's examples have under ten. */
#define LEAD_MAX_CHECKLIST 32
#define LEAD_ITEM_MAX 64
/* Qualification answers per lead. Arbitrary. */
#define LEAD_MAX_ANSWERS 64
#define LEAD_ANSWER_MAX 4096

#define LEAD_STATUS_MAP(XX)                                                   \
  XX(NONE, "none")                                                            \
  XX(NEW, "new")                                                              \
  XX(UNDER_REVIEW, "under_review")                                            \
  XX(APPROVED, "approved")                                                    \
  XX(REJECTED, "rejected")                                                    \
  XX(PUBLISHED, "published")

typedef enum lead_status {
#define LEAD__XX(NAME, name) LEAD_##NAME,
  LEAD_STATUS_MAP(LEAD__XX)
#undef LEAD__XX
} lead_status;

#define LEAD_ACTION_MAP(XX)                                                   \
  XX(ASSIGN, "assign")                                                        \
  XX(START_REVIEW, "start_review")                                            \
  XX(CHECK, "check")                                                          \
  XX(APPROVE, "approve")                                                      \
  XX(REJECT, "reject")                                                        \
  XX(REOPEN, "reopen")                                                        \
  XX(PUBLISH, "publish")

typedef enum lead_action {
#define LEAD__XX(NAME, name) LEAD_ACT_##NAME,
  LEAD_ACTION_MAP(LEAD__XX)
#undef LEAD__XX
} lead_action;
#define LEAD_ACTION_COUNT (LEAD_ACT_PUBLISH + 1)

const char *lead_status_name(lead_status s);
const char *lead_action_name(lead_action a);
/* Returns: 0 or PV_EINVAL. */
int lead_action_parse(const char *name, lead_action *out, pv_error *err);

typedef struct lead_transition {
  lead_status from;
  lead_action action;
  lead_status to;
  uint32_t roles; /* ACTOR_ROLE_* mask */
} lead_transition;

const lead_transition *lead_transitions(size_t *count);

/* Pure: Returns: 0 (*to set), PV_ECONFLICT (no row from `from`),
 * PV_EFORBIDDEN (a row, not for this role). */
int lead_decide_transition(lead_status from, lead_action action, uint32_t role,
                           lead_status *to, pv_error *err);

#define LEAD_FLAG_DOMAIN_CAP 1u

typedef struct lead_state {
  lead_status status;
  uint64_t version;
  char lead_id[64], contact_id[64], campaign_id[64], order_id[64], client_id[64];
  char reviewer[64];
  char email[SUPP_KEY_MAX];
  char email_domain[SUPP_KEY_MAX];
  char phone[SUPP_KEY_MAX];
  char reject_reason[64];
  uint32_t flags;
  size_t checked_count;
  char checked[LEAD_MAX_CHECKLIST][LEAD_ITEM_MAX];
} lead_state;

void lead_state_init(lead_state *s);
/* Pure: folds one event of the lead's stream. */
void lead_apply(lead_state *s, const evt_envelope *e);
bool lead_is_checked(const lead_state *s, const char *item);

typedef struct lead_checklist {
  size_t count;
  char items[LEAD_MAX_CHECKLIST][LEAD_ITEM_MAX];
} lead_checklist;

/* Pure: folds one event of "campaign-qa-<id>". */
void lead_checklist_apply(lead_checklist *c, const evt_envelope *e);

/* ---- commands --------------------------------------------------------- */

typedef struct lead_checklist_define {
  actor_ref by;              /* admin, campaign_manager */
  const char *campaign_id;
  const char *const *items;  /* 0..LEAD_MAX_CHECKLIST distinct names, 1..63 bytes */
  size_t item_count;
} lead_checklist_define;

/* Returns: 0, PV_EINVAL, PV_EFORBIDDEN. */
int lead_checklist_define_bind(lead_checklist_define *c, writer_cmd *cmd, pv_error *err);

typedef struct lead_answer {
  const char *question;
  const char *answer;
} lead_answer;

typedef struct lead_create {
  actor_ref by;               /* any staff role */
  const char *lead_id;        /* made by the server */
  const char *contact_id;
  const char *campaign_id;
  const char *order_id;       /* optional; the campaign must be linked to it */
  /* the contact's email and phone, read by decide from the contact's
   * stream: it must exist, not deleted, not merged into another; an
   * invalid phone (kept as entered, phone_valid false) is left out.
   * email, phone and default_region must then be NULL */
  bool from_contact;
  const char *email;          /* the contact's, as stored; optional */
  const char *phone;          /* optional */
  const char *default_region; /* for the phone; NULL = SUPP_DEFAULT_REGION */
  const lead_answer *answers;
  size_t answer_count;
  /* set by bind */
  char email_key[SUPP_KEY_MAX], email_domain[SUPP_KEY_MAX], phone_key[SUPP_KEY_MAX];
} lead_create;

/*
 * Returns: 0, PV_EINVAL (err names the field; an email that does not
 * normalize; email or phone with from_contact), PV_EFORBIDDEN (not staff).
 * Decide refuses: PV_EEXISTS (the lead id is taken), PV_ENOTFOUND
 * ("/order_id"; "/contact_id" with from_contact: no such live contact),
 * PV_ECONFLICT ("/contact_id": merged into another, named in the hint),
 * PV_EINVAL ("/campaign_id": the campaign is not linked to the order).
 */
int lead_create_bind(lead_create *c, writer_cmd *cmd, pv_error *err);

typedef struct lead_act {
  actor_ref by;
  const char *lead_id;
  lead_action action;
  const char *reviewer;       /* ASSIGN: the reviewer's user id */
  const char *item;           /* CHECK: a checklist item of the campaign */
  bool checked;               /* CHECK */
  const char *reason_code;    /* REJECT: required, 1..63 bytes of [a-z0-9_] */
  const char *reason;         /* REOPEN: required */
  const char *note;           /* APPROVE, REJECT: optional */
  const char *extra_email;    /* APPROVE, PUBLISH: more identifiers to check */
  const char *extra_phone;
  const char *default_region;
  /* set by bind */
  char extra_email_key[SUPP_KEY_MAX], extra_phone_key[SUPP_KEY_MAX];
  /* out */
  lead_status to;             /* the lead's state after the action */
  bool flagged;               /* this action flagged the lead (domain cap) */
} lead_act;

/*
 * Returns: 0, PV_EINVAL (a missing or bad argument for the action).
 * Decide refuses: PV_ENOTFOUND (no such lead; any lead for a client user),
 * PV_ECONFLICT ("/status": no such transition from the lead's state;
 * "/checklist": items unchecked; "/contact": suppressed), PV_EFORBIDDEN
 * (the role may not), PV_EINVAL ("/item": not on the campaign's checklist).
 */
int lead_act_bind(lead_act *c, writer_cmd *cmd, pv_error *err);

/* ---- bulk ------------------------------------------------------------- */

typedef struct lead_bulk {
  const char *tenant, *actor, *correlation_id;
  actor_ref by;
  lead_action action;        /* LEAD_ACT_APPROVE or LEAD_ACT_REJECT (any action works) */
  const char *reason_code;   /* REJECT */
  const char *note;
  const char *idempotency_prefix; /* optional: keys "<prefix>:<lead id>" */
} lead_bulk;

typedef struct lead_result {
  int status;         /* 0 or a PV_E* code */
  lead_status to;     /* when status == 0; LEAD_NONE when answered from an
                       * idempotency record (the action was applied before) */
  bool flagged;
  uint64_t position;  /* of the lead's transition event */
  char field[64];     /* when status != 0 */
  char message[256];
} lead_result;

/*
 * Applies one action to many leads: one command per lead, all submitted
 * before any is waited for (so they share group commits), each decided on
 * its own: a refused lead does not stop the others.
 * Returns: 0 (see out[i] for lead_ids[i]) or PV_EINVAL (bad bulk arguments).
 * Thread: any but the writer's; blocks.
 */
int lead_bulk_run(writer_t *w, const lead_bulk *b, const char *const *lead_ids, size_t n,
                  lead_result *out, pv_error *err);

/* ---- reading ---------------------------------------------------------- */

/* Folds a lead in a read transaction (staff view: no client scoping).
 * Returns: 0, PV_ENOTFOUND, PV_EIO, PV_ECORRUPT. */
int lead_read(log_t *log, const char *tenant, const char *lead_id, lead_state *out,
              pv_error *err);

#endif
