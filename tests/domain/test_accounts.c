/* Accounts through the writer and a real LMDB log: domains and their
 * uniqueness, upsert by domain, hierarchy, custom fields, industry,
 * soft delete, and a failed command leaving nothing behind. */
#include "tests/domain/domain_util.h"

#include <math.h>
#include <pthread.h>

static void create_ok(du_env *env, acct_write_arg *a) { DU_OK(env, acct_create_decide, a); }

static void test_create_normalizes_domains_and_derives_the_id(void) {
  du_env env;
  du_open(&env);
  acct_write_arg a = du_account("  Acme   Corp ", "HTTPS://www.Acme.example/about");
  const char *alts[] = {"mail.acme-corp.example", "Bücher.example"};
  a.in.alternate_domains = alts;
  a.in.alternate_domain_count = 2;
  a.in.alternate_domains_set = true;
  create_ok(&env, &a);
  ASSERT(a.created);
  char want[ENTITY_ID_LEN + 1];
  entity_derive_id(DU_TENANT, "account", "domain:acme.example", 0, want);
  ASSERT_STR_EQ(a.out_id, want);
  ASSERT_STR_EQ(du_owner(&env, "account_domain", "acme.example"), want);
  ASSERT_STR_EQ(du_owner(&env, "account_domain", "acme-corp.example"), want);
  ASSERT_STR_EQ(du_owner(&env, "account_domain", "xn--bcher-kva.example"), want);
  char *text = du_account_text(&env, a.out_id);
  ASSERT(strstr(text, "name: \"Acme Corp\" <manual,100,1000>"));
  ASSERT(strstr(text, "domain: \"acme.example\""));
  ASSERT(strstr(text, "alt xn--bcher-kva.example"));
  free(text);
  /* an account with no domain gets its id from its name */
  acct_write_arg b = du_account("Globex", NULL);
  create_ok(&env, &b);
  entity_derive_id(DU_TENANT, "account", "name:globex", 0, want);
  ASSERT_STR_EQ(b.out_id, want);
  /* a second "Globex" gets the next id of the same key */
  acct_write_arg c = du_account("GLOBEX", NULL);
  create_ok(&env, &c);
  entity_derive_id(DU_TENANT, "account", "name:globex", 1, want);
  ASSERT_STR_EQ(c.out_id, want);
  du_close(&env);
}

static void test_domains_are_unique_per_tenant(void) {
  du_env env;
  du_open(&env);
  acct_write_arg a = du_account("Acme", "acme.example");
  const char *alts[] = {"acme.io"};
  a.in.alternate_domains = alts;
  a.in.alternate_domain_count = 1;
  a.in.alternate_domains_set = true;
  create_ok(&env, &a);
  writer_cmd cmd;
  acct_write_arg b = du_account("Other", "www.acme.example");
  ASSERT_ERR(du_run_cmd(&env, acct_create_decide, &b, &cmd), PV_EEXISTS);
  ASSERT_STR_EQ(cmd.error.field, "/domain");
  acct_write_arg c = du_account("Other", "other.example");
  const char *calts[] = {"other.io", "other.net", "m.acme.io"};
  c.in.alternate_domains = calts;
  c.in.alternate_domain_count = 3;
  c.in.alternate_domains_set = true;
  ASSERT_ERR(du_run_cmd(&env, acct_create_decide, &c, &cmd), PV_EEXISTS);
  ASSERT_STR_EQ(cmd.error.field, "/alternate_domains/2");
  /* nothing of the refused commands is left: not the domain, not the
   * alternates before the bad one, no stream */
  ASSERT_STR_EQ(du_owner(&env, "account_domain", "other.example"), "");
  ASSERT_STR_EQ(du_owner(&env, "account_domain", "other.io"), "");
  ASSERT_U64_EQ(log_head(env.log), 1);
  /* a list naming a domain twice, and a domain that is also an alternate */
  const char *dup[] = {"x.example", "WWW.x.example"};
  c.in.alternate_domains = dup;
  c.in.alternate_domain_count = 2;
  ASSERT_ERR(du_run_cmd(&env, acct_create_decide, &c, &cmd), PV_EINVAL);
  ASSERT_STR_EQ(cmd.error.field, "/alternate_domains/1");
  const char *self[] = {"other.example"};
  c.in.alternate_domains = self;
  c.in.alternate_domain_count = 1;
  ASSERT_ERR(du_run_cmd(&env, acct_create_decide, &c, &cmd), PV_EINVAL);
  ASSERT_STR_EQ(cmd.error.field, "/alternate_domains/0");
  /* a domain that is only a public suffix */
  acct_write_arg d = du_account("Bad", "co.uk");
  ASSERT_ERR(du_run_cmd(&env, acct_create_decide, &d, &cmd), PV_EINVAL);
  ASSERT_STR_EQ(cmd.error.field, "/domain");
  du_close(&env);
}

static void test_upsert_by_domain_and_alternate(void) {
  du_env env;
  du_open(&env);
  acct_write_arg a = du_account("Acme", "acme.example");
  DU_OK(&env, acct_upsert_decide, &a);
  ASSERT(a.created);
  char id[ENTITY_ID_LEN + 1];
  snprintf(id, sizeof id, "%s", a.out_id);
  /* same domain, messier: the same account, name updated */
  acct_write_arg b = du_account("Acme Inc", "http://WWW.ACME.EXAMPLE:443/");
  DU_OK(&env, acct_upsert_decide, &b);
  ASSERT(!b.created);
  ASSERT_STR_EQ(b.out_id, id);
  ASSERT_EQ(b.changed_fields, 1);
  /* the same write again changes nothing and writes nothing */
  uint64_t head = log_head(env.log);
  DU_OK(&env, acct_upsert_decide, &b);
  ASSERT_EQ(b.changed_fields, 0);
  ASSERT_U64_EQ(log_head(env.log), head);
  /* add an alternate domain by update, then upsert by it: same account,
   * primary domain kept */
  acct_write_arg u = du_account(NULL, NULL);
  const char *alts[] = {"acme.io"};
  u.id = id;
  u.in.alternate_domains = alts;
  u.in.alternate_domain_count = 1;
  u.in.alternate_domains_set = true;
  DU_OK(&env, acct_update_decide, &u);
  acct_write_arg c = du_account("Acme (EU)", "mail.acme.io");
  DU_OK(&env, acct_upsert_decide, &c);
  ASSERT_STR_EQ(c.out_id, id);
  char *text = du_account_text(&env, id);
  ASSERT(strstr(text, "domain: \"acme.example\""));
  ASSERT(strstr(text, "name: \"Acme (EU)\""));
  free(text);
  /* swap primary and alternate in one update: both stay owned */
  acct_write_arg s = du_account(NULL, "acme.io");
  const char *swapped[] = {"acme.example"};
  s.id = id;
  s.in.alternate_domains = swapped;
  s.in.alternate_domain_count = 1;
  s.in.alternate_domains_set = true;
  DU_OK(&env, acct_update_decide, &s);
  ASSERT_STR_EQ(du_owner(&env, "account_domain", "acme.io"), id);
  ASSERT_STR_EQ(du_owner(&env, "account_domain", "acme.example"), id);
  /* dropping the alternate frees it for another account */
  acct_write_arg r = du_account(NULL, NULL);
  r.id = id;
  r.in.alternate_domains_set = true;
  DU_OK(&env, acct_update_decide, &r);
  ASSERT_STR_EQ(du_owner(&env, "account_domain", "acme.example"), "");
  acct_write_arg other = du_account("Other", "acme.example");
  DU_OK(&env, acct_create_decide, &other);
  /* an upsert needs a domain */
  writer_cmd cmd;
  acct_write_arg none = du_account("X", NULL);
  ASSERT_ERR(du_run_cmd(&env, acct_upsert_decide, &none, &cmd), PV_EINVAL);
  ASSERT_STR_EQ(cmd.error.field, "/domain");
  du_close(&env);
}

static void set_parent(du_env *env, const char *id, const char *parent, int want,
                       const char *field) {
  acct_write_arg u = du_account(NULL, NULL);
  u.id = id;
  u.in.parent_id = parent;
  writer_cmd cmd;
  ASSERT_ERR(du_run_cmd(env, acct_update_decide, &u, &cmd), want);
  if (field) ASSERT_STR_EQ(cmd.error.field, field);
}

static void test_hierarchy_refuses_cycles(void) {
  du_env env;
  du_open(&env);
  acct_write_arg a = du_account("A", "a.example"), b = du_account("B", "b.example"),
                 c = du_account("C", "c.example");
  create_ok(&env, &a);
  create_ok(&env, &b);
  create_ok(&env, &c);
  set_parent(&env, a.out_id, b.out_id, 0, NULL); /* A under B */
  set_parent(&env, b.out_id, c.out_id, 0, NULL); /* B under C */
  set_parent(&env, c.out_id, a.out_id, PV_EINVAL, "/parent_id"); /* C under A: cycle */
  set_parent(&env, c.out_id, c.out_id, PV_EINVAL, "/parent_id");
  char absent[ENTITY_ID_LEN + 1];
  entity_derive_id(DU_TENANT, "account", "nobody", 0, absent);
  set_parent(&env, c.out_id, absent, PV_ENOTFOUND, "/parent_id");
  set_parent(&env, c.out_id, "not-an-id", PV_EINVAL, "/parent_id");
  /* moving A under C is fine (A has no children) and clearing works */
  set_parent(&env, a.out_id, c.out_id, 0, NULL);
  set_parent(&env, b.out_id, "", 0, NULL);
  set_parent(&env, c.out_id, b.out_id, 0, NULL); /* C under B: B's parent was cleared */
  char *text = du_account_text(&env, c.out_id);
  ASSERT(strstr(text, b.out_id));
  free(text);
  /* a new account may name a parent at creation */
  acct_write_arg d = du_account("D", "d.example");
  d.in.parent_id = a.out_id;
  create_ok(&env, &d);
  du_close(&env);
}

static void define(du_env *env, const char *name, acct_cf_type type, const char *const *opts,
                   size_t n) {
  acct_field_def_arg d = {name, type, opts, n};
  DU_OK(env, acct_define_field_decide, &d);
}

static int write_custom(du_env *env, const char *id, acct_custom_value v, writer_cmd *cmd) {
  acct_write_arg u = du_account(NULL, NULL);
  u.id = id;
  u.in.custom = &v;
  u.in.custom_count = 1;
  return du_run_cmd(env, acct_update_decide, &u, cmd);
}

static void test_custom_fields_are_validated(void) {
  du_env env;
  du_open(&env);
  const char *tiers[] = {"gold", "silver"};
  define(&env, "notes", ACCT_CF_TEXT, NULL, 0);
  define(&env, "revenue", ACCT_CF_NUMBER, NULL, 0);
  define(&env, "renewal", ACCT_CF_DATE, NULL, 0);
  define(&env, "active", ACCT_CF_BOOLEAN, NULL, 0);
  define(&env, "tier", ACCT_CF_SELECT, tiers, 2);
  uint64_t head = log_head(env.log);
  define(&env, "tier", ACCT_CF_SELECT, tiers, 2); /* the same again: nothing */
  ASSERT_U64_EQ(log_head(env.log), head);
  writer_cmd cmd;
  acct_field_def_arg redef = {"tier", ACCT_CF_TEXT, NULL, 0};
  ASSERT_ERR(du_run_cmd(&env, acct_define_field_decide, &redef, &cmd), PV_EEXISTS);
  acct_field_def_arg badname = {"9lives", ACCT_CF_TEXT, NULL, 0};
  ASSERT_ERR(du_run_cmd(&env, acct_define_field_decide, &badname, &cmd), PV_EINVAL);
  ASSERT_STR_EQ(cmd.error.field, "/name");
  acct_field_def_arg noopts = {"size", ACCT_CF_SELECT, NULL, 0};
  ASSERT_ERR(du_run_cmd(&env, acct_define_field_decide, &noopts, &cmd), PV_EINVAL);
  ASSERT_STR_EQ(cmd.error.field, "/options");

  acct_write_arg a = du_account("Acme", "acme.example");
  create_ok(&env, &a);
  ASSERT_OK(write_custom(&env, a.out_id, (acct_custom_value){"notes", SURV_STR, "hi", 0, 0}, &cmd));
  ASSERT_OK(write_custom(&env, a.out_id, (acct_custom_value){"revenue", SURV_NUM, NULL, 1.5e6, 0}, &cmd));
  ASSERT_OK(write_custom(&env, a.out_id, (acct_custom_value){"renewal", SURV_STR, "2024-02-29", 0, 0}, &cmd));
  ASSERT_OK(write_custom(&env, a.out_id, (acct_custom_value){"active", SURV_BOOL, NULL, 0, true}, &cmd));
  ASSERT_OK(write_custom(&env, a.out_id, (acct_custom_value){"tier", SURV_STR, "gold", 0, 0}, &cmd));
  static const struct {
    acct_custom_value v;
    const char *field;
  } bad[] = {
      {{"tier", SURV_STR, "bronze", 0, 0}, "/custom_fields/tier"},
      {{"renewal", SURV_STR, "2023-02-29", 0, 0}, "/custom_fields/renewal"},
      {{"renewal", SURV_STR, "29/02/2024", 0, 0}, "/custom_fields/renewal"},
      {{"revenue", SURV_STR, "lots", 0, 0}, "/custom_fields/revenue"},
      {{"active", SURV_STR, "yes", 0, 0}, "/custom_fields/active"},
      {{"notes", SURV_NUM, NULL, 1, 0}, "/custom_fields/notes"},
      {{"undefined_field", SURV_STR, "x", 0, 0}, "/custom_fields/undefined_field"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ASSERT_ERR(write_custom(&env, a.out_id, bad[i].v, &cmd), PV_EINVAL);
    ASSERT_STR_EQ(cmd.error.field, bad[i].field);
  }
  ASSERT_ERR(write_custom(&env, a.out_id, (acct_custom_value){"revenue", SURV_NUM, NULL, NAN, 0}, &cmd),
             PV_EINVAL);
  char *text = du_account_text(&env, a.out_id);
  ASSERT(strstr(text, "custom tier: \"gold\""));
  ASSERT(strstr(text, "custom revenue: 1500000"));
  ASSERT(strstr(text, "custom active: true"));
  free(text);
  /* clearing a value */
  ASSERT_OK(write_custom(&env, a.out_id, (acct_custom_value){"tier", SURV_NIL, NULL, 0, 0}, &cmd));
  text = du_account_text(&env, a.out_id);
  ASSERT(strstr(text, "custom tier: nil"));
  free(text);
  du_close(&env);
}

static const char *classify(const char *name, const char *domain, const char *desc,
                            const char *sic, const char *naics) {
  static char out[64];
  acct_enrich_in in = {name, domain, desc, sic, naics};
  const acct_enricher *e = acct_enricher_rules();
  ASSERT_OK(e->classify(e, &in, out, sizeof out, NULL));
  return out;
}

static void test_rule_based_industry_classifier(void) {
  ASSERT_STR_EQ(classify("Acme", NULL, NULL, NULL, "541511"), "software");
  ASSERT_STR_EQ(classify("Acme", NULL, NULL, NULL, "511210"), "software"); /* NAICS 2017 */
  ASSERT_STR_EQ(classify("Acme", NULL, NULL, NULL, "519130"), "media");
  ASSERT_STR_EQ(classify("Acme", NULL, NULL, NULL, "524126"), "insurance");
  ASSERT_STR_EQ(classify("Acme", NULL, NULL, NULL, "622110"), "healthcare");
  ASSERT_STR_EQ(classify("Acme", NULL, NULL, "7372", NULL), "software");
  ASSERT_STR_EQ(classify("Acme", NULL, NULL, "6021", NULL), "financial_services");
  ASSERT_STR_EQ(classify("Acme", NULL, NULL, "8111", NULL), "professional_services");
  ASSERT_STR_EQ(classify("First National Bank", NULL, NULL, NULL, NULL), "financial_services");
  ASSERT_STR_EQ(classify("Acme", NULL, "A SaaS platform for teams", NULL, NULL), "software");
  ASSERT_STR_EQ(classify("Acme", "acme-logistics.example", NULL, NULL, NULL), "transportation");
  ASSERT_STR_EQ(classify("Springfield", "springfield.edu", NULL, NULL, NULL), "education");
  ASSERT_STR_EQ(classify("Acme", "acme.example", NULL, NULL, NULL), "");
  /* NAICS wins over keywords */
  ASSERT_STR_EQ(classify("Acme Bank", NULL, NULL, NULL, "611310"), "education");

  /* through the adapter into a write: industry with source "enrichment" */
  du_env env;
  du_open(&env);
  acct_write_arg a = du_account("Northwind Hotels", "northwind.example");
  char buf[64];
  ASSERT_OK(acct_enrich(acct_enricher_rules(), &a.in, NULL, buf, sizeof buf, NULL));
  ASSERT_STR_EQ(a.in.industry, "hospitality");
  create_ok(&env, &a);
  char *text = du_account_text(&env, a.out_id);
  ASSERT(strstr(text, "industry: \"hospitality\" <enrichment,30,1000>"));
  free(text);
  /* an explicit industry is kept */
  acct_write_arg b = du_account("Contoso Bank", "contoso.example");
  b.in.industry = "retail";
  ASSERT_OK(acct_enrich(acct_enricher_rules(), &b.in, NULL, buf, sizeof buf, NULL));
  ASSERT_STR_EQ(b.in.industry, "retail");
  du_close(&env);
}

static void test_soft_delete_keeps_domains_reserved(void) {
  du_env env;
  du_open(&env);
  acct_write_arg a = du_account("Acme", "acme.example");
  create_ok(&env, &a);
  char *before = du_account_text(&env, a.out_id);
  acct_id_arg del = {a.out_id, false};
  DU_OK(&env, acct_delete_decide, &del);
  ASSERT(del.changed);
  DU_OK(&env, acct_delete_decide, &del); /* again: nothing */
  ASSERT(!del.changed);
  writer_cmd cmd;
  acct_write_arg b = du_account("New Acme", "acme.example");
  ASSERT_ERR(du_run_cmd(&env, acct_create_decide, &b, &cmd), PV_EEXISTS);
  ASSERT_STR_EQ(cmd.error.field, "/domain");
  ASSERT(strstr(cmd.error.detail, "deleted"));
  ASSERT_ERR(du_run_cmd(&env, acct_upsert_decide, &b, &cmd), PV_EEXISTS);
  acct_write_arg u = du_account("Renamed", NULL);
  u.id = a.out_id;
  ASSERT_ERR(du_run_cmd(&env, acct_update_decide, &u, &cmd), PV_ENOTFOUND);
  acct_id_arg res = {a.out_id, false};
  DU_OK(&env, acct_restore_decide, &res);
  ASSERT(res.changed);
  char *after = du_account_text(&env, a.out_id);
  ASSERT_STR_EQ(after, before);
  free(before);
  free(after);
  DU_OK(&env, acct_update_decide, &u);
  char absent[ENTITY_ID_LEN + 1];
  entity_derive_id(DU_TENANT, "account", "nobody", 0, absent);
  acct_id_arg none = {absent, false};
  ASSERT_ERR(du_run(&env, acct_delete_decide, &none), PV_ENOTFOUND);
  du_close(&env);
}

typedef struct batch_item {
  writer_cmd cmd;
  acct_write_arg arg;
} batch_item;

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done_count;

static void on_done(writer_cmd *cmd) {
  pthread_mutex_lock(&done_lock);
  done_count++;
  pthread_cond_signal(&done_cond);
  pthread_mutex_unlock(&done_lock);
}

static void test_a_failed_command_in_a_batch_leaves_nothing(void) {
  du_env env;
  du_open(&env);
  /* three creates submitted together: the middle one claims a free domain
   * and alternate, then fails on an alternate the first one takes */
  static batch_item items[3];
  const char *alts1[] = {"one.io"};
  const char *alts2[] = {"two.io", "one.io"};
  items[0].arg = du_account("One", "one.example");
  items[0].arg.in.alternate_domains = alts1;
  items[0].arg.in.alternate_domain_count = 1;
  items[0].arg.in.alternate_domains_set = true;
  items[1].arg = du_account("Two", "two.example");
  items[1].arg.in.alternate_domains = alts2;
  items[1].arg.in.alternate_domain_count = 2;
  items[1].arg.in.alternate_domains_set = true;
  items[2].arg = du_account("Three", "three.example");
  for (int i = 0; i < 3; i++) {
    memset(&items[i].cmd, 0, sizeof items[i].cmd);
    items[i].cmd.tenant = DU_TENANT;
    items[i].cmd.actor = "user:test";
    items[i].cmd.decide = acct_create_decide;
    items[i].cmd.arg = &items[i].arg;
    items[i].cmd.done = on_done;
    ASSERT_OK(writer_submit(env.w, &items[i].cmd));
  }
  pthread_mutex_lock(&done_lock);
  while (done_count < 3) pthread_cond_wait(&done_cond, &done_lock);
  pthread_mutex_unlock(&done_lock);
  ASSERT_OK(items[0].cmd.status);
  ASSERT_ERR(items[1].cmd.status, PV_EEXISTS);
  ASSERT_STR_EQ(items[1].cmd.error.field, "/alternate_domains/1");
  ASSERT_OK(items[2].cmd.status);
  ASSERT_STR_EQ(du_owner(&env, "account_domain", "two.example"), "");
  ASSERT_STR_EQ(du_owner(&env, "account_domain", "two.io"), "");
  ASSERT_STR_EQ(du_owner(&env, "account_domain", "one.io"), items[0].arg.out_id);
  char id2[ENTITY_ID_LEN + 1], stream[ENTITY_STREAM_MAX + 1];
  entity_derive_id(DU_TENANT, "account", "domain:two.example", 0, id2);
  entity_stream("account", id2, stream);
  log_reader *rd;
  uint64_t version = 99;
  ASSERT_OK(log_read_begin(env.log, &rd));
  ASSERT_OK(log_reader_stream_version(rd, DU_TENANT, stream, &version));
  log_read_end(rd);
  ASSERT_U64_EQ(version, 0);
  ASSERT_U64_EQ(log_head(env.log), 2);
  du_close(&env);
}

TEST_MAIN(TEST(test_create_normalizes_domains_and_derives_the_id),
          TEST(test_domains_are_unique_per_tenant), TEST(test_upsert_by_domain_and_alternate),
          TEST(test_hierarchy_refuses_cycles), TEST(test_custom_fields_are_validated),
          TEST(test_rule_based_industry_classifier),
          TEST(test_soft_delete_keeps_domains_reserved),
          TEST(test_a_failed_command_in_a_batch_leaves_nothing))
