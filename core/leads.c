/*
 * leads — see leads.h for the state machine, the approval gates and the
 * per-domain cap. Pure parts first (the table, apply), then the decides.
 */
#include "core/leads.h"

#include "core/cmpl_internal.h"
#include "core/contacts.h"
#include "core/norm/norm.h"
#include "core/orders.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- names and the table ---------------------------------------------- */

const char *lead_status_name(lead_status s) {
  switch (s) {
#define LEAD__XX(NAME, name) case LEAD_##NAME: return name;
    LEAD_STATUS_MAP(LEAD__XX)
#undef LEAD__XX
  }
  return "unknown";
}

const char *lead_action_name(lead_action a) {
  switch (a) {
#define LEAD__XX(NAME, name) case LEAD_ACT_##NAME: return name;
    LEAD_ACTION_MAP(LEAD__XX)
#undef LEAD__XX
  }
  return "unknown";
}

int lead_action_parse(const char *name, lead_action *out, pv_error *err) {
#define LEAD__XX(NAME, str)                                                   \
  if (name && strcmp(name, str) == 0) {                                       \
    *out = LEAD_ACT_##NAME;                                                   \
    return 0;                                                                 \
  }
  LEAD_ACTION_MAP(LEAD__XX)
#undef LEAD__XX
  return pv_error_set(err, PV_EINVAL, "/action", "unknown lead action \"%.32s\"",
                      name ? name : "");
}

#define QA (ACTOR_ROLE_ADMIN | ACTOR_ROLE_QA_ANALYST)
#define ASSIGNERS (QA | ACTOR_ROLE_CAMPAIGN_MANAGER)
#define PUBLISHERS (ACTOR_ROLE_ADMIN | ACTOR_ROLE_CAMPAIGN_MANAGER)

/* The lead QA state machine: the only place that says what may happen. */
static const lead_transition TRANSITIONS[] = {
    /* from              action                 to                 roles */
    {LEAD_NEW,          LEAD_ACT_ASSIGN,       LEAD_NEW,          ASSIGNERS},
    {LEAD_UNDER_REVIEW, LEAD_ACT_ASSIGN,       LEAD_UNDER_REVIEW, ASSIGNERS},
    {LEAD_NEW,          LEAD_ACT_START_REVIEW, LEAD_UNDER_REVIEW, QA},
    {LEAD_UNDER_REVIEW, LEAD_ACT_CHECK,        LEAD_UNDER_REVIEW, QA},
    {LEAD_UNDER_REVIEW, LEAD_ACT_APPROVE,      LEAD_APPROVED,     QA},
    {LEAD_UNDER_REVIEW, LEAD_ACT_REJECT,       LEAD_REJECTED,     QA},
    {LEAD_APPROVED,     LEAD_ACT_REOPEN,       LEAD_UNDER_REVIEW, ACTOR_ROLE_ADMIN},
    {LEAD_REJECTED,     LEAD_ACT_REOPEN,       LEAD_UNDER_REVIEW, ACTOR_ROLE_ADMIN},
    {LEAD_APPROVED,     LEAD_ACT_PUBLISH,      LEAD_PUBLISHED,    PUBLISHERS},
};

const lead_transition *lead_transitions(size_t *count) {
  *count = sizeof TRANSITIONS / sizeof TRANSITIONS[0];
  return TRANSITIONS;
}

int lead_decide_transition(lead_status from, lead_action action, uint32_t role,
                           lead_status *to, pv_error *err) {
  for (size_t i = 0; i < sizeof TRANSITIONS / sizeof TRANSITIONS[0]; i++) {
    const lead_transition *t = &TRANSITIONS[i];
    if (t->from != from || t->action != action) continue;
    if (!(t->roles & role) || !actor_role_name(role))
      return pv_error_set(err, PV_EFORBIDDEN, NULL, "a %s may not %s a lead",
                          actor_role_name(role) ? actor_role_name(role) : "user",
                          lead_action_name(action));
    *to = t->to;
    return 0;
  }
  pv_error_set(err, PV_ECONFLICT, "/status", "cannot %s a lead that is %s",
               lead_action_name(action), lead_status_name(from));
  if (action == LEAD_ACT_PUBLISH) pv_error_detail(err, "Only an approved lead can be published.");
  return PV_ECONFLICT;
}

/* ---- state ------------------------------------------------------------ */

void lead_state_init(lead_state *s) {
  memset(s, 0, sizeof *s);
  s->status = LEAD_NONE;
}

bool lead_is_checked(const lead_state *s, const char *item) {
  for (size_t i = 0; i < s->checked_count; i++)
    if (strcmp(s->checked[i], item) == 0) return true;
  return false;
}

void lead_apply(lead_state *s, const evt_envelope *e) {
  const void *p = e->payload;
  size_t n = e->payload_len;
  s->version = e->stream_version;
  if (mp_slice_eq(e->type, "lead.created")) {
    s->status = LEAD_NEW;
    cmpl__str_or_empty(p, n, "lead_id", s->lead_id, sizeof s->lead_id);
    cmpl__str_or_empty(p, n, "contact_id", s->contact_id, sizeof s->contact_id);
    cmpl__str_or_empty(p, n, "campaign_id", s->campaign_id, sizeof s->campaign_id);
    cmpl__str_or_empty(p, n, "order_id", s->order_id, sizeof s->order_id);
    cmpl__str_or_empty(p, n, "client_id", s->client_id, sizeof s->client_id);
    cmpl__str_or_empty(p, n, "email", s->email, sizeof s->email);
    cmpl__str_or_empty(p, n, "email_domain", s->email_domain, sizeof s->email_domain);
    cmpl__str_or_empty(p, n, "phone", s->phone, sizeof s->phone);
  } else if (mp_slice_eq(e->type, "lead.reviewer_assigned")) {
    cmpl__str_or_empty(p, n, "reviewer", s->reviewer, sizeof s->reviewer);
  } else if (mp_slice_eq(e->type, "lead.review_started") ||
             mp_slice_eq(e->type, "lead.reopened")) {
    s->status = LEAD_UNDER_REVIEW;
  } else if (mp_slice_eq(e->type, "lead.checklist_item_set")) {
    char item[LEAD_ITEM_MAX];
    bool checked = false;
    if (cmpl__get_str(p, n, "item", item, sizeof item) || cmpl__get_bool(p, n, "checked", &checked))
      return;
    for (size_t i = 0; i < s->checked_count; i++)
      if (strcmp(s->checked[i], item) == 0) {
        memcpy(s->checked[i], s->checked[--s->checked_count], LEAD_ITEM_MAX);
        break;
      }
    if (checked && s->checked_count < LEAD_MAX_CHECKLIST)
      memcpy(s->checked[s->checked_count++], item, LEAD_ITEM_MAX);
  } else if (mp_slice_eq(e->type, "lead.flagged")) {
    char flag[32];
    if (cmpl__get_str(p, n, "flag", flag, sizeof flag) == 0 && strcmp(flag, "domain_cap") == 0)
      s->flags |= LEAD_FLAG_DOMAIN_CAP;
  } else if (mp_slice_eq(e->type, "lead.approved")) {
    s->status = LEAD_APPROVED;
  } else if (mp_slice_eq(e->type, "lead.rejected")) {
    s->status = LEAD_REJECTED;
    cmpl__str_or_empty(p, n, "reason_code", s->reject_reason, sizeof s->reject_reason);
  } else if (mp_slice_eq(e->type, "lead.published")) {
    s->status = LEAD_PUBLISHED;
  }
}

void lead_checklist_apply(lead_checklist *c, const evt_envelope *e) {
  if (!mp_slice_eq(e->type, "campaign.qa_checklist_defined")) return;
  mp_reader r;
  uint32_t count;
  c->count = 0;
  if (mp_map_find(e->payload, e->payload_len, "items", &r) || mp_read_array(&r, &count)) return;
  for (uint32_t i = 0; i < count && c->count < LEAD_MAX_CHECKLIST; i++) {
    mp_slice s;
    if (mp_read_str(&r, &s) || s.len >= LEAD_ITEM_MAX) return;
    memcpy(c->items[c->count], s.ptr, s.len);
    c->items[c->count++][s.len] = '\0';
  }
}

static void apply_fn(void *state, const evt_envelope *e) { lead_apply(state, e); }
static void checklist_fn(void *state, const evt_envelope *e) { lead_checklist_apply(state, e); }

static void lead_stream(const char *lead_id, char out[EVT_MAX_STREAM + 1]) {
  snprintf(out, EVT_MAX_STREAM + 1, "lead-%s", lead_id);
}

static void checklist_stream(const char *campaign_id, char out[EVT_MAX_STREAM + 1]) {
  snprintf(out, EVT_MAX_STREAM + 1, "campaign-qa-%s", campaign_id);
}

static int lead_not_found(pv_error *err, const char *lead_id) {
  return pv_error_set(err, PV_ENOTFOUND, "/lead_id", "lead \"%s\" not found", lead_id);
}

int lead_read(log_t *log, const char *tenant, const char *lead_id, lead_state *out,
              pv_error *err) {
  lead_state_init(out);
  if (!cmpl__id_ok(lead_id)) return lead_not_found(err, lead_id ? lead_id : "");
  log_reader *rd;
  int rc = log_read_begin(log, &rd);
  if (rc) return pv_error_set(err, rc, NULL, "could not read the log");
  char stream[EVT_MAX_STREAM + 1];
  lead_stream(lead_id, stream);
  rc = cmpl__fold_r(rd, tenant, stream, apply_fn, out);
  log_read_end(rd);
  if (rc) return pv_error_set(err, rc, NULL, "could not read lead \"%s\"", lead_id);
  return out->status == LEAD_NONE ? lead_not_found(err, lead_id) : 0;
}

/* ---- the checklist ---------------------------------------------------- */

static int checklist_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  lead_checklist_define *c = arg;
  pv_buf payload = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "campaign_id");
  mp_pack_cstr(&pk, c->campaign_id);
  mp_pack_cstr(&pk, "items");
  msgpack_pack_array(&pk, c->item_count);
  for (size_t i = 0; i < c->item_count; i++) mp_pack_cstr(&pk, c->items[i]);
  char stream[EVT_MAX_STREAM + 1];
  checklist_stream(c->campaign_id, stream);
  int rc = writer_emit(ctx, stream, LOG_EXPECT_ANY, "campaign.qa_checklist_defined", 1,
                       payload.data, payload.len, err);
  pv_buf_release(&payload);
  return rc;
}

int lead_checklist_define_bind(lead_checklist_define *c, writer_cmd *cmd, pv_error *err) {
  if (!(c->by.role & PUBLISHERS) || !actor_valid(&c->by))
    return pv_error_set(err, PV_EFORBIDDEN, NULL,
                        "only an admin or a campaign manager may define a QA checklist");
  if (!cmpl__id_ok(c->campaign_id)) return cmpl__bad_id(err, "/campaign_id", "campaign id");
  if (c->item_count > LEAD_MAX_CHECKLIST || (c->item_count && !c->items))
    return pv_error_set(err, PV_EINVAL, "/items", "a checklist has at most %d items",
                        LEAD_MAX_CHECKLIST);
  for (size_t i = 0; i < c->item_count; i++) {
    if (!c->items[i] || !*c->items[i] || strlen(c->items[i]) >= LEAD_ITEM_MAX)
      return pv_error_set(err, PV_EINVAL, "/items", "item %zu must be 1 to %d bytes", i,
                          LEAD_ITEM_MAX - 1);
    for (size_t j = 0; j < i; j++)
      if (strcmp(c->items[i], c->items[j]) == 0)
        return pv_error_set(err, PV_EINVAL, "/items", "item \"%s\" is listed twice", c->items[i]);
  }
  cmd->decide = checklist_decide;
  cmd->arg = c;
  return 0;
}

/* ---- create ----------------------------------------------------------- */

static int normalize_email(const char *raw, char key[SUPP_KEY_MAX], char domain[SUPP_KEY_MAX],
                           const char *field, pv_error *err) {
  key[0] = '\0';
  if (domain) domain[0] = '\0';
  if (!raw || !*raw) return 0;
  norm_email e;
  int rc = norm_email_parse(raw, strlen(raw), &e, err);
  if (rc) {
    if (err) snprintf(err->field, sizeof err->field, "%s", field);
    return rc;
  }
  memcpy(key, e.address, sizeof e.address);
  if (domain) memcpy(domain, e.registrable, sizeof e.registrable);
  return 0;
}

static int normalize_phone(const char *raw, const char *region, char key[SUPP_KEY_MAX],
                           const char *field, pv_error *err) {
  key[0] = '\0';
  if (!raw || !*raw) return 0;
  int rc = supp_normalize(SUPP_CHANNEL_PHONE, raw, strlen(raw), region, key, err);
  if (rc && err) snprintf(err->field, sizeof err->field, "%s", field);
  return rc;
}

static const char *contact_str(const contact_state *st, contact_field f) {
  const surv_field *v = &st->fields[f];
  return v->set && v->value.type == SURV_STR ? v->value.str : NULL;
}

/* from_contact: the lead's email and phone keys from the contact's stream. */
static int identifiers_of_contact(writer_ctx *ctx, lead_create *c, pv_error *err) {
  if (!entity_id_valid(c->contact_id)) /* one that cannot exist is just missing */
    return pv_error_set(err, PV_ENOTFOUND, "/contact_id", "contact \"%s\" not found",
                        c->contact_id);
  contact_state st;
  contact_state_init(&st);
  int rc = contact_load(ctx, c->contact_id, &st, err);
  if (rc) goto out;
  if (!st.exists || st.deleted) {
    rc = pv_error_set(err, PV_ENOTFOUND, "/contact_id", "contact \"%s\" not found",
                      c->contact_id);
    goto out;
  }
  if (st.merged_into[0]) {
    rc = pv_error_set(err, PV_ECONFLICT, "/contact_id", "contact \"%s\" was merged into \"%s\"",
                      c->contact_id, st.merged_into);
    pv_error_hint(err, "Create the lead for contact \"%s\".", st.merged_into);
    goto out;
  }
  /* stored normalized; an email that no longer parses or a phone flagged
   * invalid is not an identifier the client can be sent or checked on */
  pv_error ignored = PV_ERROR_INIT;
  if (normalize_email(contact_str(&st, CONTACT_F_EMAIL), c->email_key, c->email_domain,
                      "/contact_id", &ignored))
    c->email_key[0] = c->email_domain[0] = '\0';
  const surv_field *valid = &st.fields[CONTACT_F_PHONE_VALID];
  bool phone_ok = valid->set && valid->value.type == SURV_BOOL && valid->value.b;
  if (!phone_ok ||
      normalize_phone(contact_str(&st, CONTACT_F_PHONE), contact_str(&st, CONTACT_F_COUNTRY),
                      c->phone_key, "/contact_id", &ignored))
    c->phone_key[0] = '\0';
out:
  contact_state_release(&st);
  return rc;
}

static int create_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  lead_create *c = arg;
  char stream[EVT_MAX_STREAM + 1];
  lead_stream(c->lead_id, stream);
  uint64_t version;
  int rc = writer_stream_version(ctx, stream, &version);
  if (rc) return pv_error_set(err, rc, NULL, "could not read lead \"%s\"", c->lead_id);
  if (version) return pv_error_set(err, PV_EEXISTS, "/lead_id", "lead \"%s\" already exists",
                                   c->lead_id);
  if (c->from_contact && (rc = identifiers_of_contact(ctx, c, err))) return rc;
  const char *client_id = NULL;
  order_state *o = NULL;
  pv_buf payload = PV_BUF_INIT;
  if (c->order_id && *c->order_id) {
    o = pv_xmalloc(sizeof *o);
    if ((rc = order_fold_w(ctx, c->order_id, o))) {
      pv_error_set(err, rc, NULL, "could not read order \"%s\"", c->order_id);
      goto out;
    }
    if (o->status == ORDER_NONE) {
      rc = pv_error_set(err, PV_ENOTFOUND, "/order_id", "order \"%s\" not found", c->order_id);
      goto out;
    }
    if (!order_has_campaign(o, c->campaign_id)) {
      rc = pv_error_set(err, PV_EINVAL, "/campaign_id",
                        "campaign \"%s\" is not linked to order \"%s\"", c->campaign_id,
                        c->order_id);
      pv_error_hint(err, "Link the campaign to the order first.");
      goto out;
    }
    client_id = o->client_id;
  }
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 3 + (o != NULL) * 2 + !!c->email_key[0] * 2 + !!c->phone_key[0] +
                            (c->answer_count > 0));
  mp_pack_cstr(&pk, "lead_id");
  mp_pack_cstr(&pk, c->lead_id);
  mp_pack_cstr(&pk, "contact_id");
  mp_pack_cstr(&pk, c->contact_id);
  mp_pack_cstr(&pk, "campaign_id");
  mp_pack_cstr(&pk, c->campaign_id);
  if (o) {
    mp_pack_cstr(&pk, "order_id");
    mp_pack_cstr(&pk, c->order_id);
    mp_pack_cstr(&pk, "client_id");
    mp_pack_cstr(&pk, client_id);
  }
  if (c->email_key[0]) {
    mp_pack_cstr(&pk, "email");
    mp_pack_cstr(&pk, c->email_key);
    mp_pack_cstr(&pk, "email_domain");
    mp_pack_cstr(&pk, c->email_domain);
  }
  if (c->phone_key[0]) {
    mp_pack_cstr(&pk, "phone");
    mp_pack_cstr(&pk, c->phone_key);
  }
  if (c->answer_count) {
    mp_pack_cstr(&pk, "answers");
    msgpack_pack_map(&pk, c->answer_count);
    for (size_t i = 0; i < c->answer_count; i++) {
      mp_pack_cstr(&pk, c->answers[i].question);
      mp_pack_cstr(&pk, c->answers[i].answer);
    }
  }
  rc = writer_emit(ctx, stream, LOG_EXPECT_NO_STREAM, "lead.created", 1, payload.data,
                   payload.len, err);
out:
  pv_buf_release(&payload);
  free(o);
  return rc;
}

int lead_create_bind(lead_create *c, writer_cmd *cmd, pv_error *err) {
  if (!actor_valid(&c->by) || !(c->by.role & ACTOR_ROLE_STAFF))
    return pv_error_set(err, PV_EFORBIDDEN, NULL, "only staff may create a lead");
  if (!cmpl__id_ok(c->lead_id)) return cmpl__bad_id(err, "/lead_id", "lead id");
  if (!cmpl__id_ok(c->contact_id)) return cmpl__bad_id(err, "/contact_id", "contact id");
  if (!cmpl__id_ok(c->campaign_id)) return cmpl__bad_id(err, "/campaign_id", "campaign id");
  if (c->order_id && *c->order_id && !cmpl__id_ok(c->order_id))
    return cmpl__bad_id(err, "/order_id", "order id");
  if (c->answer_count > LEAD_MAX_ANSWERS || (c->answer_count && !c->answers))
    return pv_error_set(err, PV_EINVAL, "/answers", "at most %d answers", LEAD_MAX_ANSWERS);
  for (size_t i = 0; i < c->answer_count; i++) {
    const lead_answer *a = &c->answers[i];
    if (!a->question || !*a->question || strlen(a->question) > 255 || !a->answer ||
        strlen(a->answer) >= LEAD_ANSWER_MAX)
      return pv_error_set(err, PV_EINVAL, "/answers",
                          "answer %zu needs a question (1 to 255 bytes) and an answer (up to "
                          "%d bytes)", i, LEAD_ANSWER_MAX - 1);
    for (size_t j = 0; j < i; j++)
      if (strcmp(a->question, c->answers[j].question) == 0)
        return pv_error_set(err, PV_EINVAL, "/answers", "question \"%.64s\" is answered twice",
                            a->question);
  }
  if (c->from_contact && (c->email || c->phone || c->default_region)) {
    const char *f = c->email ? "/email" : c->phone ? "/phone" : "/default_region";
    pv_error_set(err, PV_EINVAL, f, "a lead's email and phone are its contact's");
    pv_error_hint(err, "Leave out email, phone and default_region; to change them, update "
                       "the contact.");
    return PV_EINVAL;
  }
  int rc;
  if ((rc = normalize_email(c->email, c->email_key, c->email_domain, "/email", err)) ||
      (rc = normalize_phone(c->phone, c->default_region, c->phone_key, "/phone", err)))
    return rc;
  cmd->decide = create_decide;
  cmd->arg = c;
  return 0;
}

/* ---- acting on a lead ------------------------------------------------- */

/* The count of approved leads of (order, domain), in the unique index. */
static void domain_key(const lead_state *s, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", s->order_id, s->email_domain);
}

static uint64_t domain_count(writer_ctx *ctx, const lead_state *s) {
  char key[CMPL_ID_MAX + SUPP_KEY_MAX + 1], val[24];
  domain_key(s, key, sizeof key);
  if (writer_unique_get(ctx, "lead-domain-approved", key, val, sizeof val)) return 0;
  return strtoull(val, NULL, 10);
}

static int domain_count_set(writer_ctx *ctx, const lead_state *s, uint64_t n) {
  char key[CMPL_ID_MAX + SUPP_KEY_MAX + 1], val[24];
  domain_key(s, key, sizeof key);
  if (n == 0) return writer_unique_del(ctx, "lead-domain-approved", key);
  snprintf(val, sizeof val, "%" PRIu64, n);
  return writer_unique_put(ctx, "lead-domain-approved", key, val);
}

static bool counts_domain(const lead_state *s) { return s->order_id[0] && s->email_domain[0]; }

/* Flags the lead when its order already has `cap` approved leads of its
 * domain (once per lead). */
static int maybe_flag(writer_ctx *ctx, lead_act *c, const lead_state *s, const char *stream,
                      uint64_t count, pv_error *err) {
  if (!counts_domain(s) || (s->flags & LEAD_FLAG_DOMAIN_CAP)) return 0;
  order_state *o = pv_xmalloc(sizeof *o);
  int rc = order_fold_w(ctx, s->order_id, o);
  uint32_t cap = o->domain_cap;
  free(o);
  if (rc) return pv_error_set(err, rc, NULL, "could not read order \"%s\"", s->order_id);
  if (count < cap) return 0;
  pv_buf payload = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 4);
  mp_pack_cstr(&pk, "flag");
  mp_pack_cstr(&pk, "domain_cap");
  mp_pack_cstr(&pk, "domain");
  mp_pack_cstr(&pk, s->email_domain);
  mp_pack_cstr(&pk, "count");
  msgpack_pack_uint64(&pk, count);
  mp_pack_cstr(&pk, "cap");
  msgpack_pack_uint32(&pk, cap);
  rc = writer_emit(ctx, stream, LOG_EXPECT_ANY, "lead.flagged", 1, payload.data, payload.len, err);
  pv_buf_release(&payload);
  if (rc == 0) c->flagged = true;
  return rc;
}

/* Refuses when any identifier of the contact is suppressed for the lead's
 * client (or tenant-wide), as the writer's transaction sees it. */
static int check_contact(writer_ctx *ctx, const lead_act *c, const lead_state *s,
                         pv_error *err) {
  const char *ids[][2] = {{SUPP_CHANNEL_EMAIL, s->email},
                          {SUPP_CHANNEL_EMAIL, c->extra_email_key},
                          {SUPP_CHANNEL_PHONE, s->phone},
                          {SUPP_CHANNEL_PHONE, c->extra_phone_key}};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    if (!ids[i][1][0]) continue;
    supp_result r;
    int rc = supp_check_w(ctx, s->client_id, ids[i][0], ids[i][1], &r);
    if (rc) return pv_error_set(err, rc, NULL, "could not read the suppression list");
    if (r.status != SUPP_SUPPRESSED) continue;
    pv_error_set(err, PV_ECONFLICT, "/contact", "cannot %s lead \"%s\": its contact's %s "
                 "\"%s\" is suppressed", lead_action_name(c->action), s->lead_id, ids[i][0],
                 ids[i][1]);
    pv_error_detail(err, "Suppressed %s since log position %" PRIu64 " (%s, source %s).",
                    r.global ? "tenant-wide" : "for this client", r.position, r.reason, r.source);
    return PV_ECONFLICT;
  }
  return 0;
}

static int check_checklist(writer_ctx *ctx, const lead_state *s, lead_checklist *cl,
                           pv_error *err) {
  char stream[EVT_MAX_STREAM + 1];
  checklist_stream(s->campaign_id, stream);
  int rc = cmpl__fold_w(ctx, stream, checklist_fn, cl);
  if (rc) return pv_error_set(err, rc, NULL, "could not read the campaign's checklist");
  return 0;
}

static int act_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  lead_act *c = arg;
  c->to = LEAD_NONE;
  c->flagged = false;
  lead_state *s = pv_xmalloc(sizeof *s);
  lead_checklist *cl = pv_xcalloc(1, sizeof *cl);
  pv_buf payload = PV_BUF_INIT;
  char stream[EVT_MAX_STREAM + 1];
  lead_stream(c->lead_id, stream);
  lead_state_init(s);
  int rc = cmpl__fold_w(ctx, stream, apply_fn, s);
  if (rc) {
    pv_error_set(err, rc, NULL, "could not read lead \"%s\"", c->lead_id);
    goto out;
  }
  if (s->status == LEAD_NONE || c->by.role == ACTOR_ROLE_CLIENT_USER) {
    rc = lead_not_found(err, c->lead_id);
    goto out;
  }
  lead_status to;
  if ((rc = lead_decide_transition(s->status, c->action, c->by.role, &to, err))) goto out;

  const char *type = NULL;
  uint64_t count = 0;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  const char *role = actor_role_name(c->by.role);
  bool note = c->note && *c->note;
  switch (c->action) {
  case LEAD_ACT_ASSIGN:
    type = "lead.reviewer_assigned";
    msgpack_pack_map(&pk, 2);
    mp_pack_cstr(&pk, "reviewer");
    mp_pack_cstr(&pk, c->reviewer);
    break;
  case LEAD_ACT_START_REVIEW:
    type = "lead.review_started";
    msgpack_pack_map(&pk, 1);
    break;
  case LEAD_ACT_CHECK: {
    if ((rc = check_checklist(ctx, s, cl, err))) goto out;
    bool known = false;
    for (size_t i = 0; i < cl->count && !known; i++) known = strcmp(cl->items[i], c->item) == 0;
    if (!known) {
      rc = pv_error_set(err, PV_EINVAL, "/item", "\"%s\" is not on the QA checklist of "
                        "campaign \"%s\"", c->item, s->campaign_id);
      goto out;
    }
    type = "lead.checklist_item_set";
    msgpack_pack_map(&pk, 3);
    mp_pack_cstr(&pk, "item");
    mp_pack_cstr(&pk, c->item);
    mp_pack_cstr(&pk, "checked");
    if (c->checked) msgpack_pack_true(&pk);
    else msgpack_pack_false(&pk);
    break;
  }
  case LEAD_ACT_APPROVE:
    if ((rc = check_checklist(ctx, s, cl, err))) goto out;
    for (size_t i = 0; i < cl->count; i++)
      if (!lead_is_checked(s, cl->items[i])) {
        rc = pv_error_set(err, PV_ECONFLICT, "/checklist", "cannot approve lead \"%s\": "
                          "checklist item \"%s\" is not checked", s->lead_id, cl->items[i]);
        pv_error_hint(err, "Check every item of the campaign's QA checklist first.");
        goto out;
      }
    if ((rc = check_contact(ctx, c, s, err))) goto out;
    type = "lead.approved";
    msgpack_pack_map(&pk, 1 + note);
    if (note) {
      mp_pack_cstr(&pk, "note");
      mp_pack_cstr(&pk, c->note);
    }
    break;
  case LEAD_ACT_REJECT:
    type = "lead.rejected";
    msgpack_pack_map(&pk, 2 + note);
    mp_pack_cstr(&pk, "reason_code");
    mp_pack_cstr(&pk, c->reason_code);
    if (note) {
      mp_pack_cstr(&pk, "note");
      mp_pack_cstr(&pk, c->note);
    }
    break;
  case LEAD_ACT_REOPEN:
    type = "lead.reopened";
    msgpack_pack_map(&pk, 3);
    mp_pack_cstr(&pk, "from");
    mp_pack_cstr(&pk, lead_status_name(s->status));
    mp_pack_cstr(&pk, "reason");
    mp_pack_cstr(&pk, c->reason);
    break;
  case LEAD_ACT_PUBLISH:
    if ((rc = check_contact(ctx, c, s, err))) goto out;
    type = "lead.published";
    msgpack_pack_map(&pk, 1);
    break;
  }
  mp_pack_cstr(&pk, "role");
  mp_pack_cstr(&pk, role);
  if ((rc = writer_emit(ctx, stream, (int64_t)s->version, type, 1, payload.data, payload.len,
                        err)))
    goto out;

  /* the per-domain cap: flag at review, count approvals */
  if (counts_domain(s)) {
    count = domain_count(ctx, s);
    if (c->action == LEAD_ACT_START_REVIEW || c->action == LEAD_ACT_APPROVE)
      if ((rc = maybe_flag(ctx, c, s, stream, count, err))) goto out;
    if (c->action == LEAD_ACT_APPROVE) rc = domain_count_set(ctx, s, count + 1);
    else if (c->action == LEAD_ACT_REOPEN && s->status == LEAD_APPROVED)
      rc = domain_count_set(ctx, s, count ? count - 1 : 0);
    if (rc) {
      pv_error_set(err, rc, "/email", "the email domain is too long to index");
      goto out;
    }
  }
  c->to = to;
out:
  pv_buf_release(&payload);
  free(cl);
  free(s);
  return rc;
}

static bool code_ok(const char *s) {
  if (!s || !*s || strlen(s) >= 64) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return false;
  return true;
}

int lead_act_bind(lead_act *c, writer_cmd *cmd, pv_error *err) {
  if (!cmpl__id_ok(c->lead_id)) return lead_not_found(err, c->lead_id ? c->lead_id : "");
  if ((unsigned)c->action >= LEAD_ACTION_COUNT)
    return pv_error_set(err, PV_EINVAL, "/action", "unknown lead action");
  if (c->note && strlen(c->note) > 4096)
    return pv_error_set(err, PV_EINVAL, "/note", "the note is longer than 4096 bytes");
  switch (c->action) {
  case LEAD_ACT_ASSIGN:
    if (!cmpl__id_ok(c->reviewer)) return cmpl__bad_id(err, "/reviewer", "reviewer id");
    break;
  case LEAD_ACT_CHECK:
    if (!c->item || !*c->item || strlen(c->item) >= LEAD_ITEM_MAX)
      return pv_error_set(err, PV_EINVAL, "/item", "an item name of 1 to %d bytes is required",
                          LEAD_ITEM_MAX - 1);
    break;
  case LEAD_ACT_REJECT:
    if (!code_ok(c->reason_code))
      return pv_error_set(err, PV_EINVAL, "/reason_code",
                          "a reason code of 1 to 63 characters of [a-z0-9_] is required");
    break;
  case LEAD_ACT_REOPEN:
    if (!c->reason || !*c->reason || strlen(c->reason) > 1024)
      return pv_error_set(err, PV_EINVAL, "/reason", "a reason of 1 to 1024 bytes is required");
    break;
  default:
    break;
  }
  int rc;
  if ((rc = normalize_email(c->extra_email, c->extra_email_key, NULL, "/extra_email", err)) ||
      (rc = normalize_phone(c->extra_phone, c->default_region, c->extra_phone_key,
                            "/extra_phone", err)))
    return rc;
  c->to = LEAD_NONE;
  c->flagged = false;
  cmd->decide = act_decide;
  cmd->arg = c;
  return 0;
}

/* ---- bulk ------------------------------------------------------------- */

/* Commands in flight at once. Arbitrary: ~2.5 MiB of commands. */
#define LEAD_BULK_WINDOW 1024

typedef struct bulk_slot {
  writer_cmd cmd;
  lead_act act;
  char idem[EVT_MAX_IDEMPOTENCY + 1];
  int bind_rc;
  pv_error bind_err;
} bulk_slot;

static void result_fail(lead_result *r, int code, const pv_error *e) {
  r->status = code;
  snprintf(r->field, sizeof r->field, "%.63s", e->field);
  snprintf(r->message, sizeof r->message, "%.255s", e->message[0] ? e->message : pv_strerror(code));
}

int lead_bulk_run(writer_t *w, const lead_bulk *b, const char *const *lead_ids, size_t n,
                  lead_result *out, pv_error *err) {
  if (!b->tenant || !b->actor)
    return pv_error_set(err, PV_EINVAL, NULL, "a bulk action needs a tenant and an actor");
  if (b->idempotency_prefix && strlen(b->idempotency_prefix) > EVT_MAX_IDEMPOTENCY - 65)
    return pv_error_set(err, PV_EINVAL, "/idempotency_key", "the idempotency key is too long");
  size_t window = n < LEAD_BULK_WINDOW ? n : LEAD_BULK_WINDOW;
  bulk_slot *slots = pv_xcalloc(window ? window : 1, sizeof *slots);
  writer_cmd **run = pv_xcalloc(window ? window : 1, sizeof *run);
  for (size_t base = 0; base < n; base += window) {
    size_t count = n - base < window ? n - base : window, m = 0;
    for (size_t j = 0; j < count; j++) {
      bulk_slot *s = &slots[j];
      memset(s, 0, sizeof *s);
      s->act = (lead_act){.by = b->by, .lead_id = lead_ids[base + j], .action = b->action,
                          .reason_code = b->reason_code, .note = b->note};
      s->cmd = (writer_cmd){.tenant = b->tenant, .actor = b->actor,
                            .correlation_id = b->correlation_id};
      if (b->idempotency_prefix && lead_ids[base + j]) {
        snprintf(s->idem, sizeof s->idem, "%s:%.63s", b->idempotency_prefix, lead_ids[base + j]);
        s->cmd.idempotency_key = s->idem;
      }
      s->bind_rc = lead_act_bind(&s->act, &s->cmd, &s->bind_err);
      if (!s->bind_rc) run[m++] = &s->cmd;
    }
    cmpl__run_all(w, run, m);
    for (size_t j = 0; j < count; j++) {
      bulk_slot *s = &slots[j];
      lead_result *r = &out[base + j];
      memset(r, 0, sizeof *r);
      if (s->bind_rc) result_fail(r, s->bind_rc, &s->bind_err);
      else if (s->cmd.status) result_fail(r, s->cmd.status, &s->cmd.error);
      else {
        r->to = s->cmd.replayed ? LEAD_NONE : s->act.to;
        r->flagged = s->act.flagged;
        r->position = s->cmd.first_position;
      }
    }
  }
  free(run);
  free(slots);
  return 0;
}
