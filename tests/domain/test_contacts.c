/* Contacts through the writer and a real LMDB log: dedup by messy emails,
 * account links, secondary identifiers, survivorship between sources,
 * arrival order independence, merge and unmerge, soft delete. */
#include "tests/domain/domain_util.h"

#include <sys/stat.h>

static char *text_of(du_env *env, const char *id) { return du_contact_text(env, id); }

static void upsert_ok(du_env *env, contact_upsert_arg *a) { DU_OK(env, contact_upsert_decide, a); }

static void test_messy_emails_dedupe_to_one_contact(void) {
  du_env env;
  du_open(&env);
  const char *variants[] = {"Jane.Doe@Example.com", "  jane.doe@example.COM ",
                            "JANE.DOE@EXAMPLE.COM", "\xc2\xa0jane.doe@example.com\t"};
  char want[ENTITY_ID_LEN + 1];
  entity_derive_id(DU_TENANT, "contact", "email:jane.doe@example.com", 0, want);
  for (size_t i = 0; i < 4; i++) {
    contact_upsert_arg a = du_contact(variants[i], "Jane", "import", 100 + (int64_t)i);
    upsert_ok(&env, &a);
    ASSERT_STR_EQ(a.id, want);
    ASSERT_EQ(a.created, i == 0);
  }
  ASSERT_STR_EQ(du_owner(&env, "contact_email", "jane.doe@example.com"), want);
  /* the same input again: the same result, and nothing written */
  uint64_t head = log_head(env.log);
  contact_upsert_arg same = du_contact(variants[1], "Jane", "import", 103);
  upsert_ok(&env, &same);
  ASSERT_STR_EQ(same.id, want);
  ASSERT_EQ(same.changed_fields, 0);
  ASSERT_U64_EQ(log_head(env.log), head);
  char *t = text_of(&env, want);
  ASSERT(strstr(t, "email: \"jane.doe@example.com\" <import,60,103>"));
  ASSERT(strstr(t, "id email jane.doe@example.com\n"));
  free(t);
  /* an IDN domain in any spelling is one key */
  contact_upsert_arg u = du_contact("Kurt@BÜCHER.example", NULL, "import", 1);
  contact_upsert_arg v = du_contact("kurt@xn--bcher-kva.example", NULL, "import", 2);
  upsert_ok(&env, &u);
  upsert_ok(&env, &v);
  ASSERT_STR_EQ(u.id, v.id);
  ASSERT(!v.created);
  /* no identifier at all */
  writer_cmd cmd;
  contact_upsert_arg none = du_contact(NULL, "Nobody", "import", 1);
  ASSERT_ERR(du_run_cmd(&env, contact_upsert_decide, &none, &cmd), PV_EINVAL);
  ASSERT_STR_EQ(cmd.error.field, "/email");
  du_close(&env);
}

static void make_account(du_env *env, const char *domain, const char *alt, char *id_out) {
  acct_write_arg a = du_account(domain, domain);
  const char *alts[] = {alt};
  if (alt) {
    a.in.alternate_domains = alts;
    a.in.alternate_domain_count = 1;
    a.in.alternate_domains_set = true;
  }
  DU_OK(env, acct_create_decide, &a);
  snprintf(id_out, ENTITY_ID_LEN + 1, "%s", a.out_id);
}

static void assert_account(du_env *env, const char *contact_id, const char *account_id) {
  contact_state st;
  contact_state_init(&st);
  du_fold_stream(env, "contact", contact_id, contact_apply, &st);
  const surv_field *f = &st.fields[CONTACT_F_ACCOUNT_ID];
  if (account_id) {
    ASSERT(f->set);
    ASSERT_STR_EQ(f->value.str, account_id);
  } else {
    ASSERT(!f->set || f->value.type == SURV_NIL);
  }
  contact_state_release(&st);
}

static void test_contacts_link_to_accounts_by_email_domain(void) {
  du_env env;
  du_open(&env);
  char acme[ENTITY_ID_LEN + 1], books[ENTITY_ID_LEN + 1];
  make_account(&env, "www.acme.co.uk", "acme-group.example", acme);
  make_account(&env, "Bücher.example", NULL, books);
  static const struct {
    const char *email;
    int which; /* 0 acme, 1 books, -1 none */
  } cases[] = {
      {"a@acme.co.uk", 0},        {"b@eu.shop.acme.co.uk", 0}, {"c@mail.acme.co.uk", 0},
      {"d@ACME-GROUP.example", 0}, {"e@bücher.example", 1},    {"f@nowhere.example", -1},
  };
  char ids[6][ENTITY_ID_LEN + 1];
  for (size_t i = 0; i < 6; i++) {
    contact_upsert_arg a = du_contact(cases[i].email, NULL, "import", 10);
    upsert_ok(&env, &a);
    snprintf(ids[i], sizeof ids[i], "%s", a.id);
    assert_account(&env, a.id, cases[i].which == 0 ? acme : cases[i].which == 1 ? books : NULL);
  }
  char *t = text_of(&env, ids[0]);
  ASSERT(strstr(t, "<domain_match,40,10>"));
  free(t);
  /* the account appears later: a relink links the waiting contact */
  char nowhere[ENTITY_ID_LEN + 1];
  make_account(&env, "nowhere.example", NULL, nowhere);
  contact_id_arg r = {ids[5], 20, false};
  DU_OK(&env, contact_relink_decide, &r);
  ASSERT(r.changed);
  assert_account(&env, ids[5], nowhere);
  DU_OK(&env, contact_relink_decide, &r);
  ASSERT(!r.changed);
  /* a deleted account takes no new contacts */
  acct_id_arg del = {books, false};
  DU_OK(&env, acct_delete_decide, &del);
  contact_upsert_arg g = du_contact("g@bücher.example", NULL, "import", 30);
  upsert_ok(&env, &g);
  assert_account(&env, g.id, NULL);
  /* an explicit account wins over the domain match by priority; an absent
   * one is refused and leaves nothing */
  contact_upsert_arg h = du_contact("h@acme.co.uk", NULL, "crm", 40);
  h.in.account_id = nowhere;
  upsert_ok(&env, &h);
  assert_account(&env, h.id, nowhere);
  uint64_t head = log_head(env.log);
  char absent[ENTITY_ID_LEN + 1];
  entity_derive_id(DU_TENANT, "account", "absent", 0, absent);
  contact_upsert_arg bad = du_contact("i@acme.co.uk", NULL, "crm", 40);
  bad.in.account_id = absent;
  writer_cmd cmd;
  ASSERT_ERR(du_run_cmd(&env, contact_upsert_decide, &bad, &cmd), PV_ENOTFOUND);
  ASSERT_STR_EQ(cmd.error.field, "/account_id");
  ASSERT_U64_EQ(log_head(env.log), head);
  ASSERT_STR_EQ(du_owner(&env, "contact_email", "i@acme.co.uk"), "");
  du_close(&env);
}

static void test_secondary_identifiers(void) {
  du_env env;
  du_open(&env);
  char acme[ENTITY_ID_LEN + 1];
  make_account(&env, "acme.example", NULL, acme);
  /* an external id alone creates a contact; a later email with it attaches */
  contact_ext_id sf[] = {{"salesforce", "003XYZ"}};
  contact_upsert_arg a = du_contact(NULL, "Ann", "crm", 10);
  a.in.ext_ids = sf;
  a.in.ext_id_count = 1;
  upsert_ok(&env, &a);
  char want[ENTITY_ID_LEN + 1];
  entity_derive_id(DU_TENANT, "contact", "ext:salesforce:003XYZ", 0, want);
  ASSERT_STR_EQ(a.id, want);
  contact_upsert_arg b = du_contact("ann@acme.example", NULL, "import", 20);
  b.in.ext_ids = sf;
  b.in.ext_id_count = 1;
  b.in.phone = "+1 415 555 2671";
  upsert_ok(&env, &b);
  ASSERT_STR_EQ(b.id, a.id);
  ASSERT_STR_EQ(du_owner(&env, "contact_email", "ann@acme.example"), a.id);
  char phone_key[96];
  snprintf(phone_key, sizeof phone_key, "%s:+14155552671", acme);
  ASSERT_STR_EQ(du_owner(&env, "contact_phone", phone_key), a.id);
  /* phone + account alone finds her */
  contact_upsert_arg c = du_contact(NULL, NULL, "form", 30);
  c.in.phone = "(415) 555-2671";
  c.in.country = "us";
  c.in.account_id = acme;
  c.in.city = "Oakland";
  upsert_ok(&env, &c);
  ASSERT_STR_EQ(c.id, a.id);
  /* a colleague on the same switchboard number is someone else: a new
   * contact, and the phone stays with its owner as a recorded conflict */
  contact_upsert_arg d = du_contact("bob@acme.example", NULL, "import", 40);
  d.in.phone = "+14155552671";
  upsert_ok(&env, &d);
  ASSERT(d.created);
  ASSERT(strcmp(d.id, a.id) != 0);
  ASSERT_EQ(d.conflicts, 1);
  ASSERT_STR_EQ(du_owner(&env, "contact_phone", phone_key), a.id);
  /* the same upsert again writes nothing, and still reports the conflict */
  uint64_t head = log_head(env.log);
  upsert_ok(&env, &d);
  ASSERT(!d.created);
  ASSERT_EQ(d.conflicts, 1);
  ASSERT_U64_EQ(log_head(env.log), head);
  /* the same external id with another email: the email decides */
  contact_upsert_arg e = du_contact("carol@acme.example", NULL, "crm", 50);
  e.in.ext_ids = sf;
  e.in.ext_id_count = 1;
  upsert_ok(&env, &e);
  ASSERT(e.created);
  ASSERT_EQ(e.conflicts, 1);
  ASSERT_STR_EQ(du_owner(&env, "contact_ext", "salesforce:003XYZ"), a.id);
  du_close(&env);
}

static void test_conflicting_sources_resolve_per_policy(void) {
  du_env env;
  du_open(&env);
  contact_upsert_arg crm = du_contact("j@x.example", "Jane", "crm", 100);
  crm.in.title = "Sales Manager";
  crm.in.city = "SF";
  contact_upsert_arg enr = du_contact("j@x.example", "Janet", "enrichment", 300);
  enr.in.title = "VP Sales";
  enr.in.city = "San Francisco";
  enr.in.last_name = "Doe";
  upsert_ok(&env, &crm);
  upsert_ok(&env, &enr);
  char *t = text_of(&env, crm.id);
  ASSERT(strstr(t, "first_name: \"Jane\" <crm,80,100>"));
  ASSERT(strstr(t, "last_name: \"Doe\" <enrichment,30,300>"));
  ASSERT(strstr(t, "title: \"VP Sales\" <enrichment,30,300>"));
  ASSERT(strstr(t, "seniority: \"vp\" <enrichment,30,300>"));
  ASSERT(strstr(t, "city: \"San Francisco\" <enrichment,30,300>"));
  free(t);
  /* a manual edit sticks against a later import of higher time */
  contact_upsert_arg man = du_contact("j@x.example", "Jo", "manual", 200);
  contact_upsert_arg imp = du_contact("J@X.example", "Jane", "crm", 900);
  upsert_ok(&env, &man);
  upsert_ok(&env, &imp);
  ASSERT_EQ(imp.changed_fields, 0);
  t = text_of(&env, crm.id);
  ASSERT(strstr(t, "first_name: \"Jo\" <manual,100,200>"));
  free(t);
  /* the audit trail is in the events: the manual edit's change carries the
   * old value and provenance */
  log_reader *rd;
  ASSERT_OK(log_read_begin(env.log, &rd));
  evt_envelope e;
  const uint8_t *raw;
  size_t raw_len;
  ASSERT_OK(log_read_event(rd, 3, &e, &raw, &raw_len));
  ASSERT(mp_slice_eq(e.type, "contact.updated"));
  mp_reader r;
  ASSERT_OK(mp_map_find(e.payload, e.payload_len, "changes", &r));
  uint32_t n;
  ASSERT_OK(mp_read_array(&r, &n));
  ASSERT_EQ(n, 2); /* the email's provenance became manual too */
  char field[SURV_FIELD_NAME_MAX + 1];
  surv_field before = {0}, after = {0};
  for (uint32_t i = 0; i < n; i++) {
    surv_field_release(&before);
    surv_field_release(&after);
    ASSERT_OK(surv_read_change(&r, field, &before, &after));
    if (strcmp(field, "first_name") == 0) break;
  }
  ASSERT_STR_EQ(field, "first_name");
  ASSERT_STR_EQ(before.value.str, "Jane");
  ASSERT_STR_EQ(before.source, "crm");
  ASSERT_STR_EQ(after.value.str, "Jo");
  ASSERT_STR_EQ(after.source, "manual");
  ASSERT_U64_EQ(after.observed_at_us, 200);
  surv_field_release(&before);
  surv_field_release(&after);
  log_read_end(rd);
  du_close(&env);
}

/* ---- arrival order ---------------------------------------------------- */

#define PEOPLE 10
#define PER_PERSON 5
#define FIXTURE (PEOPLE * PER_PERSON)

typedef struct fixture_cmd {
  char email[64], first[32], title[48], city[48], phone[32], ext[16];
  contact_ext_id ext_id;
  contact_upsert_arg arg;
} fixture_cmd;

/* crm thrice and import twice: same-source, same-time observations with
 * different values happen, so ties must break the same way in any order */
static const char *sources[] = {"crm", "import", "crm", "enrichment", "import",
                                "crm", "form", "enrichment", "manual"};
static const char *titles[] = {"Engineer", "Senior Engineer", "VP Engineering", "CTO", "Head of Sales"};
static const char *cities[] = {"NYC", "New York", "New York City", "Brooklyn", ""};
static const char *phone_formats[] = {"(212) 555-01%02d", "212-555-01%02d", "+1 212 555 01%02d",
                                      "212.555.01%02d", "001 212 555 01%02d"};

static void build_fixture(fixture_cmd *f) {
  unsigned seed = 12345;
  for (int p = 0; p < PEOPLE; p++)
    for (int k = 0; k < PER_PERSON; k++) {
      fixture_cmd *c = &f[p * PER_PERSON + k];
      memset(c, 0, sizeof *c);
      seed = seed * 1103515245u + 12345u;
      unsigned r = seed >> 8;
      /* the same mailbox, spelled messily */
      snprintf(c->email, sizeof c->email, k % 2 ? "  Person%d@CORP%d.example " : "person%d@corp%d.example",
               p, p % 2);
      snprintf(c->first, sizeof c->first, "%s%d", k % 3 ? "Pat" : "Patricia", p);
      snprintf(c->title, sizeof c->title, "%s", titles[(r >> 3) % 5]);
      snprintf(c->city, sizeof c->city, "%s", cities[(r >> 6) % 5]);
      snprintf(c->phone, sizeof c->phone, phone_formats[k % 5], p);
      snprintf(c->ext, sizeof c->ext, "003-%d", p);
      c->ext_id = (contact_ext_id){"salesforce", c->ext};
      c->arg.in.email = c->email;
      c->arg.in.first_name = c->first;
      c->arg.in.title = c->title;
      c->arg.in.city = c->city;
      if (k != 2) c->arg.in.phone = c->phone;
      c->arg.in.country = "US";
      if (k >= 3) {
        c->arg.in.ext_ids = &c->ext_id;
        c->arg.in.ext_id_count = 1;
      }
      c->arg.in.source = sources[(r >> 9) % 9];
      /* observation times collide on purpose: ties must break the same way */
      c->arg.in.observed_at_us = 1000 + (int64_t)((r >> 12) % 2) * 100;
      if (k == 1 || k == 3) {
        /* the same source at the same time with different values */
        c->arg.in.source = "crm";
        c->arg.in.observed_at_us = 1100;
        snprintf(c->title, sizeof c->title, "%s", titles[k]);
      }
    }
}

static int cmp_ids(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

/* Runs the fixture in the given order into a fresh log under dir (with the
 * inputs normalized beforehand by contact_upsert_prepare when `prepare`);
 * returns the canonical text of every contact, sorted by id (caller frees). */
static char *run_order(const char *dir, fixture_cmd *f, const int *order, bool prepare) {
  du_env env;
  mkdir(dir, 0700);
  du_open_at(&env, dir);
  char a0[ENTITY_ID_LEN + 1], a1[ENTITY_ID_LEN + 1];
  make_account(&env, "corp0.example", NULL, a0);
  make_account(&env, "corp1.example", NULL, a1);
  char ids[FIXTURE][ENTITY_ID_LEN + 1];
  for (int i = 0; i < FIXTURE; i++) {
    fixture_cmd *c = &f[order[i]];
    if (prepare) ASSERT_OK(contact_upsert_prepare(&c->arg, NULL));
    upsert_ok(&env, &c->arg);
    contact_upsert_release(&c->arg);
    snprintf(ids[i], sizeof ids[i], "%s", c->arg.id);
  }
  qsort(ids, FIXTURE, sizeof ids[0], cmp_ids);
  pv_buf all = PV_BUF_INIT;
  int distinct = 0;
  for (int i = 0; i < FIXTURE; i++) {
    if (i && strcmp(ids[i], ids[i - 1]) == 0) continue;
    distinct++;
    char *t = text_of(&env, ids[i]);
    pv_buf_addstr(&all, t);
    free(t);
  }
  ASSERT_EQ(distinct, PEOPLE);
  du_close(&env);
  return pv_buf_detach(&all, NULL);
}

static void test_shuffled_arrival_orders_give_the_same_state(void) {
  static fixture_cmd f[FIXTURE];
  build_fixture(f);
  int order[FIXTURE];
  for (int i = 0; i < FIXTURE; i++) order[i] = i;
  char dir[512];
  snprintf(dir, sizeof dir, "%s/run0", test_tmpdir());
  char *first = run_order(dir, f, order, false);
  ASSERT(strstr(first, "salesforce:003-0"));
  ASSERT(strstr(first, "phone: \"+12125550100\""));
  unsigned seed = 7;
  for (int run = 1; run <= 6; run++) {
    for (int i = FIXTURE - 1; i > 0; i--) {
      seed = seed * 1103515245u + 12345u;
      int j = (int)((seed >> 8) % (unsigned)(i + 1));
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    if (run == 6)
      for (int i = 0; i < FIXTURE; i++) order[i] = FIXTURE - 1 - i; /* reversed */
    snprintf(dir, sizeof dir, "%s/run%d", test_tmpdir(), run);
    char *got = run_order(dir, f, order, run % 2 == 1);
    if (strcmp(got, first) != 0)
      test__fail(__FILE__, __LINE__, "order %d differs:\n%s\n---- vs first ----\n%s", run, got,
                 first);
    free(got);
  }
  free(first);
}

/* ---- merge, unmerge, delete ------------------------------------------- */

static void test_merge_then_unmerge_restores_both_exactly(void) {
  du_env env;
  du_open(&env);
  char acme[ENTITY_ID_LEN + 1];
  make_account(&env, "acme.example", NULL, acme);
  contact_ext_id wext[] = {{"hubspot", "77"}}, lext[] = {{"salesforce", "003L"}};
  contact_upsert_arg w = du_contact("jane@acme.example", "Jane", "enrichment", 100);
  w.in.title = "Engineer";
  w.in.ext_ids = wext;
  w.in.ext_id_count = 1;
  contact_upsert_arg l = du_contact("j.doe@gmail.example", "Janet", "crm", 50);
  l.in.last_name = "Doe";
  l.in.title = "Staff Engineer";
  l.in.city = "Berlin";
  l.in.phone = "030 901820";
  l.in.country = "DE";
  l.in.account_id = acme;
  l.in.ext_ids = lext;
  l.in.ext_id_count = 1;
  upsert_ok(&env, &w);
  upsert_ok(&env, &l);
  char *w0 = text_of(&env, w.id), *l0 = text_of(&env, l.id);

  contact_merge_arg m = {w.id, l.id};
  DU_OK(&env, contact_merge_decide, &m);
  char *w1 = text_of(&env, w.id), *l1 = text_of(&env, l.id);
  /* survivorship: the CRM's name beats the enrichment's; the loser's
   * identifiers now lead to the winner */
  ASSERT(strstr(w1, "first_name: \"Janet\" <crm,80,50>"));
  ASSERT(strstr(w1, "last_name: \"Doe\""));
  ASSERT(strstr(w1, "id email j.doe@gmail.example"));
  ASSERT(strstr(l1, "merged_into="));
  ASSERT_STR_EQ(du_owner(&env, "contact_email", "j.doe@gmail.example"), w.id);
  ASSERT_STR_EQ(du_owner(&env, "contact_ext", "salesforce:003L"), w.id);
  char phone_key[96];
  snprintf(phone_key, sizeof phone_key, "%s:+4930901820", acme);
  ASSERT_STR_EQ(du_owner(&env, "contact_phone", phone_key), w.id);
  /* refusals */
  writer_cmd cmd;
  ASSERT_ERR(du_run_cmd(&env, contact_merge_decide, &m, &cmd), PV_EINVAL); /* again */
  ASSERT_STR_EQ(cmd.error.field, "/loser_id");
  contact_merge_arg self = {w.id, w.id};
  ASSERT_ERR(du_run(&env, contact_merge_decide, &self), PV_EINVAL);
  contact_merge_arg backwards = {l.id, w.id};
  ASSERT_ERR(du_run(&env, contact_unmerge_decide, &backwards), PV_EINVAL);
  contact_id_arg del_loser = {l.id, 0, false};
  ASSERT_ERR(du_run(&env, contact_delete_decide, &del_loser), PV_ENOTFOUND);

  DU_OK(&env, contact_unmerge_decide, &m);
  char *w2 = text_of(&env, w.id), *l2 = text_of(&env, l.id);
  ASSERT_STR_EQ(w2, w0);
  ASSERT_STR_EQ(l2, l0);
  ASSERT_STR_EQ(du_owner(&env, "contact_email", "j.doe@gmail.example"), l.id);
  ASSERT_STR_EQ(du_owner(&env, "contact_email", "jane@acme.example"), w.id);
  ASSERT_STR_EQ(du_owner(&env, "contact_ext", "salesforce:003L"), l.id);
  ASSERT_STR_EQ(du_owner(&env, "contact_ext", "hubspot:77"), w.id);
  ASSERT_STR_EQ(du_owner(&env, "contact_phone", phone_key), l.id);
  ASSERT_ERR(du_run(&env, contact_unmerge_decide, &m), PV_EINVAL); /* not merged any more */
  /* the merge can be done again, and upserts by the loser's email then
   * reach the winner */
  DU_OK(&env, contact_merge_decide, &m);
  contact_upsert_arg via = du_contact("J.Doe@gmail.example", NULL, "form", 500);
  via.in.city = "Berlin-Mitte";
  upsert_ok(&env, &via);
  ASSERT_STR_EQ(via.id, w.id);
  free(w0); free(l0); free(w1); free(l1); free(w2); free(l2);
  du_close(&env);
}

static void test_soft_delete_and_restore(void) {
  du_env env;
  du_open(&env);
  contact_upsert_arg a = du_contact("gone@x.example", "Gone", "crm", 10);
  upsert_ok(&env, &a);
  char *before = text_of(&env, a.id);
  contact_id_arg d = {a.id, 0, false};
  DU_OK(&env, contact_delete_decide, &d);
  ASSERT(d.changed);
  DU_OK(&env, contact_delete_decide, &d);
  ASSERT(!d.changed);
  /* its identifiers stay reserved: an upsert reaching it is refused */
  writer_cmd cmd;
  contact_upsert_arg again = du_contact("GONE@x.example", "Back", "crm", 20);
  ASSERT_ERR(du_run_cmd(&env, contact_upsert_decide, &again, &cmd), PV_EEXISTS);
  ASSERT_STR_EQ(cmd.error.field, "/email");
  ASSERT_STR_EQ(du_owner(&env, "contact_email", "gone@x.example"), a.id);
  contact_merge_arg m = {a.id, a.id};
  ASSERT_ERR(du_run(&env, contact_merge_decide, &m), PV_EINVAL);
  DU_OK(&env, contact_restore_decide, &d);
  ASSERT(d.changed);
  char *after = text_of(&env, a.id);
  ASSERT_STR_EQ(after, before);
  upsert_ok(&env, &again);
  ASSERT_STR_EQ(again.id, a.id);
  char absent[ENTITY_ID_LEN + 1];
  entity_derive_id(DU_TENANT, "contact", "absent", 0, absent);
  contact_id_arg none = {absent, 0, false};
  ASSERT_ERR(du_run(&env, contact_delete_decide, &none), PV_ENOTFOUND);
  contact_id_arg bad = {"x", 0, false};
  ASSERT_ERR(du_run(&env, contact_restore_decide, &bad), PV_EINVAL);
  free(before);
  free(after);
  du_close(&env);
}

TEST_MAIN(TEST(test_messy_emails_dedupe_to_one_contact),
          TEST(test_contacts_link_to_accounts_by_email_domain),
          TEST(test_secondary_identifiers), TEST(test_conflicting_sources_resolve_per_policy),
          TEST(test_shuffled_arrival_orders_give_the_same_state),
          TEST(test_merge_then_unmerge_restores_both_exactly),
          TEST(test_soft_delete_and_restore))
