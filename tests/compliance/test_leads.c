/* Tests of core/leads against a real log: the state machine (a property
 * test of random actions, pure and through the writer), checklist gating,
 * suppressed contacts, the per-domain cap flag and bulk actions. */
#include "core/leads.h"
#include "core/orders.h"
#include "core/suppressions.h"
#include "tests/compliance/cutil.h"

#include <stdlib.h>

static const actor_ref ADMIN = {ACTOR_ROLE_ADMIN, NULL};
static const actor_ref QA = {ACTOR_ROLE_QA_ANALYST, NULL};
static const actor_ref MANAGER = {ACTOR_ROLE_CAMPAIGN_MANAGER, NULL};

static int run(cu_env *env, writer_cmd *cmd, pv_error *err) {
  int rc = writer_run(env->w, cmd);
  *err = cmd->error;
  return rc;
}

static void make_order(cu_env *env, const char *order, const char *campaign, uint32_t cap) {
  pv_error err = PV_ERROR_INIT;
  order_create c = {.by = MANAGER, .order_id = order, .client_id = "client-a", .name = "o",
                    .type = "email", .audience = {.kind = "list", .list_id = "list-1"},
                    .goals = {10, "2024-01-01", "2024-12-31", NULL}, .domain_cap = cap};
  writer_cmd cmd = cu_cmd("user:m");
  ASSERT_OK(order_create_bind(&c, &cmd, &err));
  ASSERT_OK(run(env, &cmd, &err));
  order_link l = {MANAGER, order, campaign, false};
  cmd = cu_cmd("user:m");
  ASSERT_OK(order_link_bind(&l, &cmd, &err));
  ASSERT_OK(run(env, &cmd, &err));
}

static void define_checklist(cu_env *env, const char *campaign, const char *const *items,
                             size_t n) {
  pv_error err = PV_ERROR_INIT;
  lead_checklist_define d = {MANAGER, campaign, items, n};
  writer_cmd cmd = cu_cmd("user:m");
  ASSERT_OK(lead_checklist_define_bind(&d, &cmd, &err));
  ASSERT_OK(run(env, &cmd, &err));
}

static int create_lead(cu_env *env, const char *id, const char *order, const char *email,
                       pv_error *err) {
  static const lead_answer answers[] = {{"budget", "50k"}, {"timeline", "Q3"}};
  lead_create c = {.by = ADMIN, .lead_id = id, .contact_id = "contact-1",
                   .campaign_id = "camp-1", .order_id = order, .email = email,
                   .phone = "+1 415 555 0123", .answers = answers, .answer_count = 2};
  writer_cmd cmd = cu_cmd("user:a");
  int rc = lead_create_bind(&c, &cmd, err);
  return rc ? rc : run(env, &cmd, err);
}

static int act(cu_env *env, const actor_ref *by, const char *id, lead_action a, lead_act *out,
               pv_error *err) {
  lead_act c = {.by = *by, .lead_id = id, .action = a, .reviewer = "user:r",
                .item = "title ok", .checked = true, .reason_code = "bad_title",
                .reason = "second look"};
  if (out && out->item) c.item = out->item;
  if (out) c.checked = out->checked || !out->item;
  writer_cmd cmd = cu_cmd("user:q");
  int rc = lead_act_bind(&c, &cmd, err);
  if (!rc) rc = run(env, &cmd, err);
  if (out) *out = c;
  return rc;
}

/* ---- the table, pure ---------------------------------------------------- */

static void test_table_exhaustive(void) {
  size_t n;
  const lead_transition *t = lead_transitions(&n);
  for (int from = LEAD_NONE; from <= LEAD_PUBLISHED; from++)
    for (int a = 0; a < LEAD_ACTION_COUNT; a++)
      for (int bit = 0; bit < 6; bit++) {
        const lead_transition *row = NULL;
        for (size_t i = 0; i < n; i++)
          if (t[i].from == (lead_status)from && t[i].action == (lead_action)a) row = &t[i];
        lead_status to = LEAD_NONE;
        pv_error err = PV_ERROR_INIT;
        int rc = lead_decide_transition(from, a, 1u << bit, &to, &err);
        if (!row) {
          ASSERT_EQ(rc, PV_ECONFLICT);
          ASSERT_STR_EQ(err.field, "/status");
        } else if (!(row->roles & (1u << bit))) {
          ASSERT_EQ(rc, PV_EFORBIDDEN);
        } else {
          ASSERT_OK(rc);
          ASSERT_EQ(to, row->to);
        }
      }
  /* published only from approved; nothing leaves published */
  for (size_t i = 0; i < n; i++) {
    if (t[i].to == LEAD_PUBLISHED) ASSERT_EQ(t[i].from, LEAD_APPROVED);
    ASSERT_NE(t[i].from, LEAD_PUBLISHED);
    ASSERT(!(t[i].roles & ACTOR_ROLE_CLIENT_USER));
  }
}

/* ---- property test through the writer ------------------------------------ */

enum { P_LEADS = 40, P_ROUNDS = 60 };
static const char *const P_ITEMS[] = {"title ok", "company ok"};

typedef struct model {
  lead_status st;
  bool checked[2];
} model;

static uint32_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return (uint32_t)(*s >> 16);
}

typedef struct pslot {
  writer_cmd cmd;
  lead_act act;
  int bind_rc;
  char item[LEAD_ITEM_MAX];
} pslot;

static void done_latch(writer_cmd *cmd);
typedef struct latch {
  pthread_mutex_t m;
  pthread_cond_t c;
  int n;
} latch;
static void done_latch(writer_cmd *cmd) {
  latch *l = cmd->done_arg;
  pthread_mutex_lock(&l->m);
  if (--l->n == 0) pthread_cond_signal(&l->c);
  pthread_mutex_unlock(&l->m);
}

/* Thousands of random actions by random roles on leads in random states,
 * one action per lead per round, all of a round in flight at once: each
 * answer must be what the table (and the checklist) says, and folding
 * each lead's log must replay only legal steps. */
static void test_property_random_actions(void) {
  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  make_order(&env, "ord-1", "camp-1", 1000);
  define_checklist(&env, "camp-1", P_ITEMS, 2);
  char ids[P_LEADS][16];
  model m[P_LEADS];
  for (int i = 0; i < P_LEADS; i++) {
    snprintf(ids[i], sizeof ids[i], "lead-%d", i);
    char email[32];
    snprintf(email, sizeof email, "p%d@d%d.example", i, i);
    ASSERT_OK(create_lead(&env, ids[i], "ord-1", email, &err));
    m[i] = (model){LEAD_NEW, {false, false}};
  }
  static pslot slots[P_LEADS];
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  size_t legal = 0, illegal = 0;
  for (int round = 0; round < P_ROUNDS; round++) {
    latch l = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    for (int i = 0; i < P_LEADS; i++) {
      pslot *s = &slots[i];
      memset(s, 0, sizeof *s);
      uint32_t role = 1u << (rnd(&seed) % 6);
      lead_action a = (lead_action)(rnd(&seed) % LEAD_ACTION_COUNT);
      snprintf(s->item, sizeof s->item, "%s", P_ITEMS[rnd(&seed) % 2]);
      s->act = (lead_act){.by = {role, role == ACTOR_ROLE_CLIENT_USER ? "client-a" : NULL},
                          .lead_id = ids[i], .action = a, .reviewer = "user:r",
                          .item = s->item, .checked = rnd(&seed) % 4 != 0,
                          .reason_code = "bad_fit", .reason = "again"};
      s->cmd = cu_cmd("user:p");
      s->cmd.done = done_latch;
      s->cmd.done_arg = &l;
      s->bind_rc = lead_act_bind(&s->act, &s->cmd, &err);
      ASSERT_OK(s->bind_rc);
      pthread_mutex_lock(&l.m);
      l.n++;
      pthread_mutex_unlock(&l.m);
      ASSERT_OK(writer_submit(env.w, &s->cmd));
    }
    pthread_mutex_lock(&l.m);
    while (l.n) pthread_cond_wait(&l.c, &l.m);
    pthread_mutex_unlock(&l.m);
    for (int i = 0; i < P_LEADS; i++) {
      pslot *s = &slots[i];
      lead_status to;
      pv_error e = PV_ERROR_INIT;
      int want = s->act.by.role == ACTOR_ROLE_CLIENT_USER
                     ? PV_ENOTFOUND
                     : lead_decide_transition(m[i].st, s->act.action, s->act.by.role, &to, &e);
      if (want == 0 && s->act.action == LEAD_ACT_APPROVE && !(m[i].checked[0] && m[i].checked[1]))
        want = PV_ECONFLICT;
      if (s->cmd.status != want)
        test__fail(__FILE__, __LINE__, "round %d lead %d: %s %s from %s: got %s (%s), want %s",
                   round, i, actor_role_name(s->act.by.role), lead_action_name(s->act.action),
                   lead_status_name(m[i].st), test__errname(s->cmd.status),
                   s->cmd.error.message, test__errname(want));
      if (want) {
        ASSERT(s->cmd.error.message[0]);
        ASSERT_EQ(s->cmd.event_count, 0);
        illegal++;
        continue;
      }
      legal++;
      ASSERT_EQ(s->act.to, to);
      if (s->act.action == LEAD_ACT_CHECK)
        m[i].checked[strcmp(s->item, P_ITEMS[0]) == 0 ? 0 : 1] = s->act.checked;
      m[i].st = to;
    }
  }
  ASSERT(legal > 200);
  ASSERT(illegal > 1000);
  /* the log agrees with the model, lead by lead */
  for (int i = 0; i < P_LEADS; i++) {
    lead_state s;
    ASSERT_OK(lead_read(env.log, "acme", ids[i], &s, &err));
    ASSERT_EQ(s.status, m[i].st);
  }
  cu_close(&env);
}

/* Replays the whole log: every lead event is a legal step from the state
 * before it, by a role the table allows (also run after the race test). */
typedef struct replay {
  char stream[P_LEADS * 4][24];
  lead_status st[P_LEADS * 4];
  size_t n;
} replay;

static int replay_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  (void)raw;
  (void)len;
  replay *r = arg;
  if (e->type.len < 5 || memcmp(e->type.ptr, "lead.", 5) != 0) return 0;
  size_t k = 0;
  while (k < r->n && !mp_slice_eq(e->stream, r->stream[k])) k++;
  if (k == r->n) {
    ASSERT(mp_slice_eq(e->type, "lead.created"));
    snprintf(r->stream[r->n], sizeof r->stream[0], "%.*s", (int)e->stream.len, e->stream.ptr);
    r->st[r->n++] = LEAD_NEW;
    return 0;
  }
  static const struct { const char *type; lead_action a; } map[] = {
      {"lead.reviewer_assigned", LEAD_ACT_ASSIGN}, {"lead.review_started", LEAD_ACT_START_REVIEW},
      {"lead.checklist_item_set", LEAD_ACT_CHECK}, {"lead.approved", LEAD_ACT_APPROVE},
      {"lead.rejected", LEAD_ACT_REJECT},          {"lead.reopened", LEAD_ACT_REOPEN},
      {"lead.published", LEAD_ACT_PUBLISH}};
  if (mp_slice_eq(e->type, "lead.flagged")) return 0;
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    if (!mp_slice_eq(e->type, map[i].type)) continue;
    char role_name[32];
    mp_reader rd;
    mp_slice rs;
    ASSERT_OK(mp_map_find(e->payload, e->payload_len, "role", &rd));
    ASSERT_OK(mp_read_str(&rd, &rs));
    snprintf(role_name, sizeof role_name, "%.*s", (int)rs.len, rs.ptr);
    uint32_t role = 0;
    for (int b = 0; b < 6; b++)
      if (strcmp(actor_role_name(1u << b), role_name) == 0) role = 1u << b;
    lead_status to;
    pv_error err = PV_ERROR_INIT;
    if (lead_decide_transition(r->st[k], map[i].a, role, &to, &err))
      test__fail(__FILE__, __LINE__, "illegal step in the log at %" PRIu64 ": %s", e->position,
                 err.message);
    r->st[k] = to;
    return 0;
  }
  test__fail(__FILE__, __LINE__, "unknown lead event at %" PRIu64, e->position);
}

static void test_property_log_replays_legally(void) {
  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  make_order(&env, "ord-1", "camp-1", 2);
  uint64_t seed = 42;
  char ids[P_LEADS][16];
  for (int i = 0; i < P_LEADS; i++) {
    snprintf(ids[i], sizeof ids[i], "lead-%d", i);
    ASSERT_OK(create_lead(&env, ids[i], "ord-1", "x@same.example", &err));
  }
  for (int k = 0; k < 1500; k++) {
    lead_act a = {.item = NULL};
    actor_ref by = {1u << (rnd(&seed) % 5), NULL};
    act(&env, &by, ids[rnd(&seed) % P_LEADS], (lead_action)(rnd(&seed) % LEAD_ACTION_COUNT), &a,
        &err);
  }
  replay *r = calloc(1, sizeof *r);
  uint64_t next = 1;
  while (next <= log_head(env.log))
    ASSERT_OK(log_scan(env.log, next, 4096, 1 << 24, replay_visit, r, &next));
  ASSERT_EQ(r->n, P_LEADS);
  for (int i = 0; i < P_LEADS; i++) {
    lead_state s;
    ASSERT_OK(lead_read(env.log, "acme", ids[i], &s, &err));
    for (size_t k = 0; k < r->n; k++)
      if (strcmp(r->stream[k] + 5, ids[i]) == 0) ASSERT_EQ(r->st[k], s.status);
  }
  free(r);
  cu_close(&env);
}

/* ---- gates ------------------------------------------------------------- */

static void test_checklist_gates_approval(void) {
  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  make_order(&env, "ord-1", "camp-1", 4);
  static const char *const items[] = {"title ok", "company ok", "consent ok"};
  define_checklist(&env, "camp-1", items, 3);
  ASSERT_OK(create_lead(&env, "lead-1", "ord-1", "jane@acme.example", &err));
  ASSERT_OK(act(&env, &QA, "lead-1", LEAD_ACT_START_REVIEW, NULL, &err));
  ASSERT_ERR(act(&env, &QA, "lead-1", LEAD_ACT_APPROVE, NULL, &err), PV_ECONFLICT);
  ASSERT_STR_EQ(err.field, "/checklist");
  lead_act a = {.item = "title ok", .checked = true};
  ASSERT_OK(act(&env, &QA, "lead-1", LEAD_ACT_CHECK, &a, &err));
  a = (lead_act){.item = "company ok", .checked = true};
  ASSERT_OK(act(&env, &QA, "lead-1", LEAD_ACT_CHECK, &a, &err));
  a = (lead_act){.item = "not an item", .checked = true};
  ASSERT_ERR(act(&env, &QA, "lead-1", LEAD_ACT_CHECK, &a, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/item");
  ASSERT_ERR(act(&env, &QA, "lead-1", LEAD_ACT_APPROVE, NULL, &err), PV_ECONFLICT);
  ASSERT(strstr(err.message, "consent ok") != NULL);
  a = (lead_act){.item = "consent ok", .checked = true};
  ASSERT_OK(act(&env, &QA, "lead-1", LEAD_ACT_CHECK, &a, &err));
  /* unchecking counts too */
  a = (lead_act){.item = "title ok", .checked = false};
  ASSERT_OK(act(&env, &QA, "lead-1", LEAD_ACT_CHECK, &a, &err));
  ASSERT_ERR(act(&env, &QA, "lead-1", LEAD_ACT_APPROVE, NULL, &err), PV_ECONFLICT);
  a = (lead_act){.item = "title ok", .checked = true};
  ASSERT_OK(act(&env, &QA, "lead-1", LEAD_ACT_CHECK, &a, &err));
  /* an agent may not approve; a QA analyst may */
  actor_ref agent = {ACTOR_ROLE_AGENT, NULL};
  ASSERT_ERR(act(&env, &agent, "lead-1", LEAD_ACT_APPROVE, NULL, &err), PV_EFORBIDDEN);
  ASSERT_OK(act(&env, &QA, "lead-1", LEAD_ACT_APPROVE, &a, &err));
  ASSERT_EQ(a.to, LEAD_APPROVED);
  /* publish: only from approved, by admin or campaign manager */
  ASSERT_ERR(act(&env, &QA, "lead-1", LEAD_ACT_PUBLISH, NULL, &err), PV_EFORBIDDEN);
  ASSERT_OK(act(&env, &MANAGER, "lead-1", LEAD_ACT_PUBLISH, NULL, &err));
  ASSERT_ERR(act(&env, &ADMIN, "lead-1", LEAD_ACT_PUBLISH, NULL, &err), PV_ECONFLICT);
  lead_state s;
  ASSERT_OK(lead_read(env.log, "acme", "lead-1", &s, &err));
  ASSERT_EQ(s.status, LEAD_PUBLISHED);
  ASSERT_STR_EQ(s.client_id, "client-a");
  ASSERT_STR_EQ(s.email, "jane@acme.example");
  ASSERT_STR_EQ(s.phone, "+14155550123");
  /* a client user sees no lead to act on */
  actor_ref cu = {ACTOR_ROLE_CLIENT_USER, "client-a"};
  ASSERT_ERR(act(&env, &cu, "lead-1", LEAD_ACT_REOPEN, NULL, &err), PV_ENOTFOUND);
  ASSERT_STR_EQ(err.message, "lead \"lead-1\" not found");
  ASSERT_ERR(act(&env, &QA, "lead-404", LEAD_ACT_APPROVE, NULL, &err), PV_ENOTFOUND);
  ASSERT_STR_EQ(err.message, "lead \"lead-404\" not found");
  cu_close(&env);
}

static void test_create_checks(void) {
  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  make_order(&env, "ord-1", "camp-1", 4);
  ASSERT_OK(create_lead(&env, "lead-1", "ord-1", "a@b.example", &err));
  ASSERT_ERR(create_lead(&env, "lead-1", "ord-1", "a@b.example", &err), PV_EEXISTS);
  ASSERT_ERR(create_lead(&env, "lead-2", "ord-404", "a@b.example", &err), PV_ENOTFOUND);
  ASSERT_STR_EQ(err.field, "/order_id");
  ASSERT_ERR(create_lead(&env, "lead-2", "ord-1", "not-an-email", &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/email");
  make_order(&env, "ord-2", "camp-9", 4);
  ASSERT_ERR(create_lead(&env, "lead-2", "ord-2", "a@b.example", &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/campaign_id");
  ASSERT_OK(create_lead(&env, "lead-3", NULL, NULL, &err));
  cu_close(&env);
}

static void suppress(cu_env *env, const char *channel, const char *value, const char *client) {
  pv_error err = PV_ERROR_INIT;
  supp_add a = {.by = ADMIN, .channel = channel, .value = value, .client_id = client,
                .reason = "asked", .source = "manual"};
  writer_cmd cmd = cu_cmd("user:a");
  ASSERT_OK(supp_add_bind(&a, &cmd, &err));
  ASSERT_OK(run(env, &cmd, &err));
}

static void test_suppressed_contact_not_approved(void) {
  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  make_order(&env, "ord-1", "camp-1", 4);
  for (int i = 1; i <= 5; i++) {
    char id[16], email[32];
    snprintf(id, sizeof id, "lead-%d", i);
    snprintf(email, sizeof email, "p%d@x.example", i);
    ASSERT_OK(create_lead(&env, id, "ord-1", email, &err));
    ASSERT_OK(act(&env, &QA, id, LEAD_ACT_START_REVIEW, NULL, &err));
  }
  /* by email, written differently */
  suppress(&env, "email", "P1@X.Example", NULL);
  ASSERT_ERR(act(&env, &QA, "lead-1", LEAD_ACT_APPROVE, NULL, &err), PV_ECONFLICT);
  ASSERT_STR_EQ(err.field, "/contact");
  ASSERT(strstr(err.message, "suppressed") != NULL);
  /* by phone (every lead here has +14155550123) for another client: no effect */
  suppress(&env, "phone", "(415) 555-0123", "client-z");
  ASSERT_OK(act(&env, &QA, "lead-2", LEAD_ACT_APPROVE, NULL, &err));
  /* for the lead's client: refused, and publishing re-checks */
  suppress(&env, "phone", "14155550123", "client-a");
  ASSERT_ERR(act(&env, &QA, "lead-3", LEAD_ACT_APPROVE, NULL, &err), PV_ECONFLICT);
  ASSERT_ERR(act(&env, &ADMIN, "lead-2", LEAD_ACT_PUBLISH, NULL, &err), PV_ECONFLICT);
  ASSERT_STR_EQ(err.field, "/contact");
  /* an extra identifier given at approval is checked too */
  lead_create c = {.by = ADMIN, .lead_id = "lead-9", .contact_id = "c-9", .campaign_id = "camp-1"};
  writer_cmd cmd = cu_cmd("user:a");
  ASSERT_OK(lead_create_bind(&c, &cmd, &err));
  ASSERT_OK(run(&env, &cmd, &err));
  ASSERT_OK(act(&env, &QA, "lead-9", LEAD_ACT_START_REVIEW, NULL, &err));
  lead_act a = {.by = QA, .lead_id = "lead-9", .action = LEAD_ACT_APPROVE,
                .extra_email = "p1@x.example"};
  cmd = cu_cmd("user:q");
  ASSERT_OK(lead_act_bind(&a, &cmd, &err));
  ASSERT_ERR(run(&env, &cmd, &err), PV_ECONFLICT);
  ASSERT_EQ(cu_count_events(env.log, "lead.approved"), 1);
  cu_close(&env);
}

static void test_domain_cap_flag(void) {
  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  make_order(&env, "ord-1", "camp-1", 0); /* default cap: 4 */
  char ids[8][16];
  for (int i = 0; i < 7; i++) {
    char email[48];
    snprintf(ids[i], sizeof ids[i], "lead-%d", i);
    /* sub.acme.example and acme.example share the registrable domain */
    snprintf(email, sizeof email, i % 2 ? "p%d@sub.acme.example" : "p%d@acme.example", i);
    ASSERT_OK(create_lead(&env, ids[i], "ord-1", email, &err));
    ASSERT_OK(act(&env, &QA, ids[i], LEAD_ACT_START_REVIEW, NULL, &err));
  }
  ASSERT_OK(create_lead(&env, "other", "ord-1", "q@other.example", &err));
  lead_act a;
  for (int i = 0; i < 4; i++) {
    a = (lead_act){.item = NULL};
    ASSERT_OK(act(&env, &QA, ids[i], LEAD_ACT_APPROVE, &a, &err));
    ASSERT(!a.flagged);
  }
  /* the fifth of the domain is flagged at approval, not refused */
  a = (lead_act){.item = NULL};
  ASSERT_OK(act(&env, &QA, ids[4], LEAD_ACT_APPROVE, &a, &err));
  ASSERT(a.flagged);
  ASSERT_EQ(a.to, LEAD_APPROVED);
  lead_state s;
  ASSERT_OK(lead_read(env.log, "acme", ids[4], &s, &err));
  ASSERT(s.flags & LEAD_FLAG_DOMAIN_CAP);
  /* a lead entering review once the cap is reached is flagged at review */
  ASSERT_OK(create_lead(&env, "late", "ord-1", "z@acme.example", &err));
  a = (lead_act){.item = NULL};
  ASSERT_OK(act(&env, &QA, "late", LEAD_ACT_START_REVIEW, &a, &err));
  ASSERT(a.flagged);
  /* another domain is not */
  a = (lead_act){.item = NULL};
  ASSERT_OK(act(&env, &QA, "other", LEAD_ACT_START_REVIEW, &a, &err));
  ASSERT(!a.flagged);
  /* reopening approved leads frees places under the cap */
  for (int i = 0; i < 2; i++) ASSERT_OK(act(&env, &ADMIN, ids[i], LEAD_ACT_REOPEN, NULL, &err));
  a = (lead_act){.item = NULL};
  ASSERT_OK(act(&env, &QA, ids[5], LEAD_ACT_APPROVE, &a, &err));
  ASSERT(!a.flagged);
  ASSERT_EQ(cu_count_events(env.log, "lead.flagged"), 2);
  cu_close(&env);
}

static void test_bulk_approve_per_lead_result(void) {
  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  make_order(&env, "ord-1", "camp-1", 100);
  enum { N = 300 };
  static char idbuf[N][16];
  const char *ids[N + 2];
  for (int i = 0; i < N; i++) {
    char email[32];
    snprintf(idbuf[i], sizeof idbuf[i], "lead-%d", i);
    snprintf(email, sizeof email, "p%d@x%d.example", i, i);
    ids[i] = idbuf[i];
    ASSERT_OK(create_lead(&env, ids[i], "ord-1", email, &err));
    /* every third stays new, so its approval is refused */
    if (i % 3) ASSERT_OK(act(&env, &QA, ids[i], LEAD_ACT_START_REVIEW, NULL, &err));
  }
  suppress(&env, "email", "p1@x1.example", NULL);
  ids[N] = "lead-404";
  ids[N + 1] = "bad id!";
  lead_bulk b = {.tenant = "acme", .actor = "user:q", .by = QA, .action = LEAD_ACT_APPROVE,
                 .idempotency_prefix = "bulk-7"};
  lead_result *out = calloc(N + 2, sizeof *out);
  ASSERT_OK(lead_bulk_run(env.w, &b, ids, N + 2, out, &err));
  size_t approved = 0;
  for (int i = 0; i < N; i++) {
    if (i % 3 == 0) {
      ASSERT_EQ(out[i].status, PV_ECONFLICT);
      ASSERT_STR_EQ(out[i].field, "/status");
    } else if (i == 1) {
      ASSERT_EQ(out[i].status, PV_ECONFLICT);
      ASSERT_STR_EQ(out[i].field, "/contact");
    } else {
      ASSERT_OK(out[i].status);
      ASSERT_EQ(out[i].to, LEAD_APPROVED);
      ASSERT(out[i].position > 0);
      approved++;
    }
  }
  ASSERT_EQ(out[N].status, PV_ENOTFOUND);
  ASSERT_EQ(out[N + 1].status, PV_ENOTFOUND);
  ASSERT_EQ(cu_count_events(env.log, "lead.approved"), approved);
  /* retried with the same keys: answered, nothing applied twice */
  ASSERT_OK(lead_bulk_run(env.w, &b, ids, N + 2, out, &err));
  ASSERT_EQ(cu_count_events(env.log, "lead.approved"), approved);
  /* bulk reject of the approved ones is refused lead by lead */
  b = (lead_bulk){.tenant = "acme", .actor = "user:q", .by = QA, .action = LEAD_ACT_REJECT,
                  .reason_code = "duplicate"};
  ASSERT_OK(lead_bulk_run(env.w, &b, ids, 3, out, &err));
  ASSERT_EQ(out[0].status, PV_ECONFLICT); /* new */
  ASSERT_EQ(out[1].status, 0);            /* under review (suppressed, still rejectable) */
  ASSERT_EQ(out[1].to, LEAD_REJECTED);
  ASSERT_EQ(out[2].status, PV_ECONFLICT); /* approved */
  free(out);
  cu_close(&env);
}

TEST_MAIN(TEST(test_table_exhaustive), TEST(test_property_random_actions),
          TEST(test_property_log_replays_legally), TEST(test_checklist_gates_approval),
          TEST(test_create_checks), TEST(test_suppressed_contact_not_approved),
          TEST(test_domain_cap_flag), TEST(test_bulk_approve_per_lead_result))
