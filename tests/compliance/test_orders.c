/* Tests of core/orders against a real log: create, client scoping (another
 * client's id answers exactly like a missing one), linking campaigns and
 * the status table. */
#include "core/orders.h"
#include "tests/compliance/cutil.h"

static const actor_ref CLIENT_A = {ACTOR_ROLE_CLIENT_USER, "client-a"};
static const actor_ref CLIENT_B = {ACTOR_ROLE_CLIENT_USER, "client-b"};
static const actor_ref MANAGER = {ACTOR_ROLE_CAMPAIGN_MANAGER, NULL};
static const actor_ref ADMIN = {ACTOR_ROLE_ADMIN, NULL};

static order_create sample(const actor_ref *by, const char *id) {
  static const order_asset assets[] = {{"brief.pdf", "files/abc", "application/pdf", 1234},
                                       {"landing page", "https://x.example/lp", NULL, 0}};
  order_create c = {.by = *by, .order_id = id, .name = "Q3 CFOs", .type = "email",
                    .audience = {.kind = "filters", .filters_json = "{\"title\":\"cfo\"}"},
                    .assets = assets, .asset_count = 2,
                    .goals = {100, "2024-07-01", "2024-09-30", "even"}};
  return c;
}

static int run(cu_env *env, const char *tenant, writer_cmd *cmd, pv_error *err) {
  cmd->tenant = tenant;
  int rc = writer_run(env->w, cmd);
  *err = cmd->error;
  return rc;
}

static int create(cu_env *env, order_create *c, pv_error *err) {
  writer_cmd cmd = cu_cmd("user:1");
  int rc = order_create_bind(c, &cmd, err);
  return rc ? rc : run(env, "acme", &cmd, err);
}

static int link_campaign(cu_env *env, const char *tenant, const actor_ref *by, const char *order,
                const char *campaign, bool unlink, pv_error *err) {
  order_link l = {*by, order, campaign, unlink};
  writer_cmd cmd = cu_cmd("user:2");
  int rc = order_link_bind(&l, &cmd, err);
  return rc ? rc : run(env, tenant, &cmd, err);
}

static int change(cu_env *env, const char *tenant, const actor_ref *by, const char *order,
                  order_action a, pv_error *err) {
  order_change ch = {.by = *by, .order_id = order, .action = a, .reason = "because"};
  writer_cmd cmd = cu_cmd("user:3");
  int rc = order_change_bind(&ch, &cmd, err);
  return rc ? rc : run(env, tenant, &cmd, err);
}

static void test_create_and_read(void) {
  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  order_create c = sample(&CLIENT_A, "ord-1");
  ASSERT_OK(create(&env, &c, &err));
  order_state s;
  ASSERT_OK(order_read(env.log, "acme", &CLIENT_A, "ord-1", &s, &err));
  ASSERT_EQ(s.status, ORDER_SUBMITTED);
  ASSERT_STR_EQ(s.client_id, "client-a");
  ASSERT_STR_EQ(s.type, "email");
  ASSERT_EQ(s.lead_target, 100);
  ASSERT_EQ(s.domain_cap, ORDER_DEFAULT_DOMAIN_CAP);
  ASSERT_OK(order_read(env.log, "acme", &MANAGER, "ord-1", &s, &err));
  /* the id is taken */
  c = sample(&MANAGER, "ord-1");
  c.client_id = "client-b";
  ASSERT_ERR(create(&env, &c, &err), PV_EEXISTS);
  /* staff must name the client; a client user may not name another */
  c = sample(&MANAGER, "ord-2");
  ASSERT_ERR(create(&env, &c, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/client_id");
  c = sample(&CLIENT_A, "ord-2");
  c.client_id = "client-b";
  ASSERT_ERR(create(&env, &c, &err), PV_EFORBIDDEN);
  actor_ref agent = {ACTOR_ROLE_AGENT, NULL};
  c = sample(&agent, "ord-2");
  c.client_id = "client-a";
  ASSERT_ERR(create(&env, &c, &err), PV_EFORBIDDEN);
  /* bad input, each with its field */
  c = sample(&CLIENT_A, "ord-2");
  c.type = "fax";
  ASSERT_ERR(create(&env, &c, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/type");
  c = sample(&CLIENT_A, "ord-2");
  c.audience = (order_audience){.kind = "list"};
  ASSERT_ERR(create(&env, &c, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/audience/list_id");
  c = sample(&CLIENT_A, "ord-2");
  c.goals.end_date = "2024-06-30";
  ASSERT_ERR(create(&env, &c, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/goals/end_date");
  c = sample(&CLIENT_A, "ord-2");
  c.goals.start_date = "2023-02-29";
  ASSERT_ERR(create(&env, &c, &err), PV_EINVAL);
  c.goals.start_date = "2024-02-29";
  c.audience = (order_audience){.kind = "domain_file", .file = "uploads/7/domains.csv"};
  c.type = "telemarketing";
  c.domain_cap = 2;
  ASSERT_OK(create(&env, &c, &err));
  ASSERT_OK(order_read(env.log, "acme", &CLIENT_A, "ord-2", &s, &err));
  ASSERT_EQ(s.domain_cap, 2);
  cu_close(&env);
}

static void assert_same_error(const pv_error *a, const pv_error *b) {
  ASSERT_EQ(a->code, b->code);
  ASSERT_STR_EQ(a->field, b->field);
  ASSERT_STR_EQ(a->message, b->message);
  ASSERT_STR_EQ(a->detail, b->detail);
  ASSERT_STR_EQ(a->hint, b->hint);
}

static void test_foreign_order_is_not_found(void) {
  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT, missing = PV_ERROR_INIT;
  order_create c = sample(&CLIENT_B, "ord-b");
  ASSERT_OK(create(&env, &c, &err));
  order_state s;
  /* "other" has no order ord-b: the answers for B's order must match */
  ASSERT_ERR(order_read(env.log, "other", &CLIENT_A, "ord-b", &s, &missing), PV_ENOTFOUND);
  ASSERT_ERR(order_read(env.log, "acme", &CLIENT_A, "ord-b", &s, &err), PV_ENOTFOUND);
  assert_same_error(&err, &missing);
  ASSERT_EQ(s.status, ORDER_NONE);
  ASSERT_STR_EQ(s.client_id, "");

  for (int a = ORDER_ACT_START; a <= ORDER_ACT_CANCEL; a++) {
    ASSERT_ERR(change(&env, "other", &CLIENT_A, "ord-b", a, &missing), PV_ENOTFOUND);
    ASSERT_ERR(change(&env, "acme", &CLIENT_A, "ord-b", a, &err), PV_ENOTFOUND);
    assert_same_error(&err, &missing);
  }
  for (int u = 0; u < 2; u++) {
    ASSERT_ERR(link_campaign(&env, "other", &CLIENT_A, "ord-b", "camp-1", u, &missing), PV_ENOTFOUND);
    ASSERT_ERR(link_campaign(&env, "acme", &CLIENT_A, "ord-b", "camp-1", u, &err), PV_ENOTFOUND);
    assert_same_error(&err, &missing);
  }
  /* nothing was written for the foreign attempts */
  ASSERT_EQ(cu_count_events(env.log, "order.status_changed"), 0);
  /* B itself may cancel its submitted order */
  ASSERT_OK(change(&env, "acme", &CLIENT_B, "ord-b", ORDER_ACT_CANCEL, &err));
  cu_close(&env);
}

static void test_link_unlink(void) {
  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  order_create c = sample(&CLIENT_A, "ord-1");
  ASSERT_OK(create(&env, &c, &err));
  ASSERT_OK(link_campaign(&env, "acme", &MANAGER, "ord-1", "camp-1", false, &err));
  ASSERT_OK(link_campaign(&env, "acme", &ADMIN, "ord-1", "camp-2", false, &err));
  ASSERT_ERR(link_campaign(&env, "acme", &MANAGER, "ord-1", "camp-1", false, &err), PV_EEXISTS);
  ASSERT_ERR(link_campaign(&env, "acme", &CLIENT_A, "ord-1", "camp-3", false, &err), PV_EFORBIDDEN);
  actor_ref qa = {ACTOR_ROLE_QA_ANALYST, NULL};
  ASSERT_ERR(link_campaign(&env, "acme", &qa, "ord-1", "camp-3", false, &err), PV_EFORBIDDEN);
  ASSERT_ERR(link_campaign(&env, "acme", &MANAGER, "ord-1", "bad id", false, &err), PV_EINVAL);
  ASSERT_ERR(link_campaign(&env, "acme", &MANAGER, "ord-9", "camp-1", false, &err), PV_ENOTFOUND);
  order_state s;
  ASSERT_OK(order_read(env.log, "acme", &CLIENT_A, "ord-1", &s, &err));
  ASSERT_EQ(s.campaign_count, 2);
  ASSERT(order_has_campaign(&s, "camp-1") && order_has_campaign(&s, "camp-2"));
  ASSERT_OK(link_campaign(&env, "acme", &MANAGER, "ord-1", "camp-1", true, &err));
  ASSERT_ERR(link_campaign(&env, "acme", &MANAGER, "ord-1", "camp-1", true, &err), PV_ENOTFOUND);
  ASSERT_STR_EQ(err.field, "/campaign_id");
  ASSERT_OK(order_read(env.log, "acme", &CLIENT_A, "ord-1", &s, &err));
  ASSERT_EQ(s.campaign_count, 1);
  ASSERT(!order_has_campaign(&s, "camp-1") && order_has_campaign(&s, "camp-2"));
  /* a closed order's campaigns are frozen */
  ASSERT_OK(change(&env, "acme", &MANAGER, "ord-1", ORDER_ACT_CANCEL, &err));
  ASSERT_ERR(link_campaign(&env, "acme", &MANAGER, "ord-1", "camp-3", false, &err), PV_ECONFLICT);
  cu_close(&env);
}

static void test_status_table(void) {
  /* pure: every (state, action, role) answers as the table says */
  size_t n;
  const order_transition *t = order_transitions(&n);
  for (int from = ORDER_NONE; from <= ORDER_CANCELLED; from++)
    for (int a = ORDER_ACT_START; a <= ORDER_ACT_CANCEL; a++)
      for (int bit = 0; bit < 6; bit++) {
        uint32_t role = 1u << bit;
        const order_transition *row = NULL;
        for (size_t i = 0; i < n; i++)
          if (t[i].from == (order_status)from && t[i].action == (order_action)a) row = &t[i];
        order_status to = ORDER_NONE;
        pv_error err = PV_ERROR_INIT;
        int rc = order_decide_transition(from, a, role, &to, &err);
        if (!row) ASSERT_EQ(rc, PV_ECONFLICT);
        else if (!(row->roles & role)) ASSERT_EQ(rc, PV_EFORBIDDEN);
        else {
          ASSERT_OK(rc);
          ASSERT_EQ(to, row->to);
        }
      }

  cu_env env;
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  order_create c = sample(&CLIENT_A, "ord-1");
  ASSERT_OK(create(&env, &c, &err));
  ASSERT_ERR(change(&env, "acme", &MANAGER, "ord-1", ORDER_ACT_PAUSE, &err), PV_ECONFLICT);
  ASSERT_ERR(change(&env, "acme", &CLIENT_A, "ord-1", ORDER_ACT_START, &err), PV_EFORBIDDEN);
  ASSERT_OK(change(&env, "acme", &MANAGER, "ord-1", ORDER_ACT_START, &err));
  ASSERT_OK(change(&env, "acme", &MANAGER, "ord-1", ORDER_ACT_PAUSE, &err));
  ASSERT_ERR(change(&env, "acme", &CLIENT_A, "ord-1", ORDER_ACT_CANCEL, &err), PV_EFORBIDDEN);
  ASSERT_OK(change(&env, "acme", &ADMIN, "ord-1", ORDER_ACT_RESUME, &err));
  ASSERT_OK(change(&env, "acme", &ADMIN, "ord-1", ORDER_ACT_COMPLETE, &err));
  ASSERT_ERR(change(&env, "acme", &ADMIN, "ord-1", ORDER_ACT_CANCEL, &err), PV_ECONFLICT);
  order_state s;
  ASSERT_OK(order_read(env.log, "acme", &CLIENT_A, "ord-1", &s, &err));
  ASSERT_EQ(s.status, ORDER_COMPLETED);
  ASSERT_EQ(cu_count_events(env.log, "order.status_changed"), 4);
  order_action act;
  ASSERT_OK(order_action_parse("resume", &act, &err));
  ASSERT_EQ(act, ORDER_ACT_RESUME);
  ASSERT_ERR(order_action_parse("explode", &act, &err), PV_EINVAL);
  cu_close(&env);
}

TEST_MAIN(TEST(test_create_and_read), TEST(test_foreign_order_is_not_found),
          TEST(test_link_unlink), TEST(test_status_table))
