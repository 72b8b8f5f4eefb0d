/* Pure tests of survivorship and of the contact decisions: no LMDB. */
#include "core/contacts.h"
#include "core/survivorship.h"
#include "tests/harness/test.h"

#include <stdlib.h>

static surv_field obs(const char *v, const char *src, int64_t at) {
  surv_field f;
  surv_field_str(&f, v, src, surv_source_priority(src), at);
  return f;
}

/* Folds observations in the given order under a policy; returns the winner
 * as text (caller frees). */
static char *fold_order(surv_policy p, surv_field *o, const int *order, int n) {
  surv_field cur = {0};
  for (int i = 0; i < n; i++)
    if (surv_wins(p, true, &o[order[i]], &cur)) {
      surv_field_release(&cur);
      surv_field_copy(&cur, &o[order[i]]);
    }
  pv_buf b = PV_BUF_INIT;
  surv_field_format(&cur, &b);
  surv_field_release(&cur);
  return pv_buf_detach(&b, NULL);
}

static bool next_perm(int *a, int n) {
  int i = n - 2;
  while (i >= 0 && a[i] >= a[i + 1]) i--;
  if (i < 0) return false;
  int j = n - 1;
  while (a[j] <= a[i]) j--;
  int t = a[i]; a[i] = a[j]; a[j] = t;
  for (int l = i + 1, r = n - 1; l < r; l++, r--) { t = a[l]; a[l] = a[r]; a[r] = t; }
  return true;
}

static void test_every_policy_is_order_independent(void) {
  surv_field o[6] = {
      obs("Jane", "crm", 100),  obs("Janet", "enrichment", 300), obs("J.", "import", 200),
      obs("Jane", "crm", 200),  obs("Jayne", "crm", 200),        obs("Jan", "other", 900),
  };
  for (int p = SURV_PRIORITY; p <= SURV_COMPLETE; p++) {
    int order[6] = {0, 1, 2, 3, 4, 5};
    char *first = fold_order((surv_policy)p, o, order, 6);
    int perms = 0;
    do {
      char *got = fold_order((surv_policy)p, o, order, 6);
      ASSERT_STR_EQ(got, first);
      free(got);
      perms++;
    } while (next_perm(order, 6));
    ASSERT_EQ(perms, 720);
    free(first);
  }
  for (int i = 0; i < 6; i++) surv_field_release(&o[i]);
}

static void test_policies_pick_as_documented(void) {
  surv_field crm = obs("Jane", "crm", 100), enr = obs("Janet Q.", "enrichment", 300);
  surv_field man = obs("jane", "manual", 50), man2 = obs("J", "manual", 60);
  /* priority: the CRM beats later enrichment */
  ASSERT(surv_wins(SURV_PRIORITY, true, &crm, &enr));
  ASSERT(!surv_wins(SURV_PRIORITY, true, &enr, &crm));
  /* recent: the later enrichment beats the CRM */
  ASSERT(surv_wins(SURV_RECENT, true, &enr, &crm));
  /* complete: the longer value */
  ASSERT(surv_wins(SURV_COMPLETE, true, &enr, &crm));
  /* a manual edit sticks against every source under every policy, even an
   * older one and a shorter one; until a later manual edit */
  for (int p = SURV_PRIORITY; p <= SURV_COMPLETE; p++) {
    ASSERT(surv_wins((surv_policy)p, true, &man, &enr));
    ASSERT(!surv_wins((surv_policy)p, true, &enr, &man));
    ASSERT(surv_wins((surv_policy)p, true, &man2, &man));
    ASSERT(!surv_wins((surv_policy)p, true, &man, &man2));
  }
  /* without manual_sticks the manual edit is just the highest priority */
  ASSERT(!surv_wins(SURV_RECENT, false, &man, &enr));
  /* equal observations do not replace each other */
  surv_field crm2 = obs("Jane", "crm", 100);
  ASSERT(!surv_wins(SURV_PRIORITY, true, &crm2, &crm));
  ASSERT(surv_field_equal(&crm, &crm2));
  /* an empty string is less complete than anything */
  surv_field empty = obs("", "manual", 10), x = obs("x", "manual", 10);
  ASSERT(surv_wins(SURV_COMPLETE, false, &x, &empty));
  surv_field_release(&crm); surv_field_release(&enr); surv_field_release(&man);
  surv_field_release(&man2); surv_field_release(&crm2); surv_field_release(&empty);
  surv_field_release(&x);
}

static void test_sources(void) {
  ASSERT_EQ(surv_source_priority("manual"), 100);
  ASSERT(surv_source_priority("crm") > surv_source_priority("import"));
  ASSERT(surv_source_priority("import") > surv_source_priority("enrichment"));
  ASSERT_EQ(surv_source_priority("zapier"), SURV_PRIORITY_OTHER);
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(surv_source_check("hubspot.v2", "/source", &err));
  ASSERT_ERR(surv_source_check("Bad Source", "/source", &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/source");
  ASSERT_ERR(surv_source_check("a:b", "/source", &err), PV_EINVAL);
  ASSERT_ERR(surv_source_check("", "/source", &err), PV_EINVAL);
}

static void test_change_round_trip(void) {
  surv_field before = obs("old", "crm", 5), after, b2 = {0}, a2 = {0};
  surv_field_num(&after, 42.5, "manual", 100, 7);
  pv_buf buf = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &buf);
  surv_pack_change(&pk, "employees", &before, &after);
  mp_reader r;
  mp_reader_init(&r, buf.data, buf.len);
  char name[SURV_FIELD_NAME_MAX + 1];
  ASSERT_OK(surv_read_change(&r, name, &b2, &a2));
  ASSERT_STR_EQ(name, "employees");
  ASSERT(surv_field_equal(&before, &b2));
  ASSERT(surv_field_equal(&after, &a2));
  /* an unset old side round-trips as unset */
  surv_field none = {0}, b3 = {0}, a3 = {0};
  pv_buf_reset(&buf);
  surv_pack_change(&pk, "city", &none, &after);
  mp_reader_init(&r, buf.data, buf.len);
  ASSERT_OK(surv_read_change(&r, name, &b3, &a3));
  ASSERT(!b3.set);
  ASSERT(surv_field_equal(&after, &a3));
  /* not a change map */
  mp_reader_init(&r, "\x90", 1);
  ASSERT(surv_read_change(&r, name, &b3, &a3) != 0);
  surv_field_release(&before); surv_field_release(&after); surv_field_release(&b2);
  surv_field_release(&a2); surv_field_release(&a3);
  pv_buf_release(&buf);
}

static void normalize_ok(const contact_input *in, contact_obs *o) {
  pv_error err = PV_ERROR_INIT;
  int rc = contact_normalize(in, o, &err);
  if (rc) test__fail(__FILE__, __LINE__, "%s: %s", err.field, err.message);
}

static void test_messy_emails_normalize_to_one_key(void) {
  const char *variants[] = {"Jane.Doe@Example.com", "  jane.doe@example.COM ",
                            "JANE.DOE@EXAMPLE.COM", "\xc2\xa0jane.doe@example.com\t"};
  for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
    contact_input in = {.email = variants[i], .source = "import", .observed_at_us = 1};
    contact_obs o;
    normalize_ok(&in, &o);
    ASSERT_STR_EQ(o.email.address, "jane.doe@example.com");
    ASSERT_STR_EQ(o.values[CONTACT_F_EMAIL].value.str, "jane.doe@example.com");
    contact_obs_release(&o);
  }
  contact_input idn = {.email = " Juergen@Bücher.Example", .source = "import",
                       .observed_at_us = 1};
  contact_obs o;
  normalize_ok(&idn, &o);
  ASSERT_STR_EQ(o.email.address, "juergen@xn--bcher-kva.example");
  contact_obs_release(&o);
  contact_input bad = {.email = "jane@", .source = "import", .observed_at_us = 1};
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(contact_normalize(&bad, &o, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/email");
  contact_obs_release(&o);
}

static void test_phones_in_ten_national_formats(void) {
  static const struct {
    const char *country, *phone, *e164;
  } cases[] = {
      {"US", "(415) 555-2671", "+14155552671"},
      {"GB", "020 7946 0018", "+442079460018"},
      {"DE", "030 901820", "+4930901820"},
      {"FR", "01 42 68 53 00", "+33142685300"},
      {"JP", "03-3224-9999", "+81332249999"},
      {"AU", "(02) 9374 4000", "+61293744000"},
      {"IN", "022 2202 4254", "+912222024254"},
      {"BR", "(11) 3061-9999", "+551130619999"},
      {"ES", "912 34 56 78", "+34912345678"},
      {"CH", "044 668 18 00", "+41446681800"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    contact_input in = {.email = "a@b.example", .phone = cases[i].phone,
                        .country = cases[i].country, .source = "crm", .observed_at_us = 1};
    contact_obs o;
    normalize_ok(&in, &o);
    ASSERT_STR_EQ(o.phone_e164, cases[i].e164);
    ASSERT_STR_EQ(o.values[CONTACT_F_PHONE].value.str, cases[i].e164);
    ASSERT(o.values[CONTACT_F_PHONE_VALID].value.b);
    ASSERT_STR_EQ(o.values[CONTACT_F_COUNTRY].value.str, cases[i].country);
    contact_obs_release(&o);
  }
  /* an invalid number is kept as entered and flagged */
  contact_input in = {.email = "a@b.example", .phone = "12", .country = "US", .source = "crm",
                      .observed_at_us = 1};
  contact_obs o;
  normalize_ok(&in, &o);
  ASSERT_STR_EQ(o.phone_e164, "");
  ASSERT_STR_EQ(o.values[CONTACT_F_PHONE].value.str, "12");
  ASSERT(!o.values[CONTACT_F_PHONE_VALID].value.b);
  contact_obs_release(&o);
}

static void test_input_errors_name_the_field(void) {
  contact_obs o;
  pv_error err = PV_ERROR_INIT;
  contact_input no_time = {.email = "a@b.example", .source = "crm"};
  ASSERT_ERR(contact_normalize(&no_time, &o, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/observed_at");
  contact_obs_release(&o);
  contact_ext_id ext[] = {{"salesforce", "003A"}, {"hub spot", "1"}};
  contact_input bad_ext = {.email = "a@b.example", .ext_ids = ext, .ext_id_count = 2,
                           .source = "crm", .observed_at_us = 1};
  ASSERT_ERR(contact_normalize(&bad_ext, &o, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/ext_ids/1/source");
  contact_obs_release(&o);
  contact_input bad_acct = {.email = "a@b.example", .account_id = "nope", .source = "crm",
                            .observed_at_us = 1};
  ASSERT_ERR(contact_normalize(&bad_acct, &o, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/account_id");
  contact_obs_release(&o);
}

/* Applies decided changes to a state by hand (the fold's rule). */
static void take(contact_state *st, contact_changes *ch) {
  for (size_t i = 0; i < ch->count; i++) {
    surv_field_release(&st->fields[ch->items[i].field]);
    surv_field_copy(&st->fields[ch->items[i].field], &ch->items[i].after);
  }
}

static void upsert(contact_state *st, const contact_input *in) {
  contact_obs o;
  contact_changes ch;
  normalize_ok(in, &o);
  contact_changes_init(&ch);
  contact_decide_upsert(st, &o, &ch);
  take(st, &ch);
  contact_changes_release(&ch);
  contact_obs_release(&o);
}

static void test_decide_upsert_resolves_conflicting_sources(void) {
  contact_state st;
  contact_state_init(&st);
  contact_input crm = {.email = "j@x.example", .first_name = "Jane", .title = "Sales Manager",
                       .city = "SF", .source = "crm", .observed_at_us = 100};
  contact_input enr = {.email = "j@x.example", .first_name = "Janet", .title = "VP of Sales",
                       .city = "San Francisco", .source = "enrichment", .observed_at_us = 200};
  upsert(&st, &crm);
  upsert(&st, &enr);
  /* first_name: source priority keeps the CRM's value */
  ASSERT_STR_EQ(st.fields[CONTACT_F_FIRST_NAME].value.str, "Jane");
  ASSERT_STR_EQ(st.fields[CONTACT_F_FIRST_NAME].source, "crm");
  /* title: most recent, and its derived fields move with it */
  ASSERT_STR_EQ(st.fields[CONTACT_F_TITLE].value.str, "VP of Sales");
  ASSERT_STR_EQ(st.fields[CONTACT_F_SENIORITY].value.str, "vp");
  ASSERT_STR_EQ(st.fields[CONTACT_F_DEPARTMENT].value.str, "sales");
  ASSERT_STR_EQ(st.fields[CONTACT_F_SENIORITY].source, "enrichment");
  /* city: most complete */
  ASSERT_STR_EQ(st.fields[CONTACT_F_CITY].value.str, "San Francisco");
  /* a manual edit sticks against a later CRM import, then yields to the
   * next manual edit; a manual "" clears */
  contact_input man = {.first_name = "Jo", .source = "manual", .observed_at_us = 150};
  contact_input crm2 = {.first_name = "Jane", .source = "crm", .observed_at_us = 900};
  contact_input man2 = {.first_name = "", .title = "", .source = "manual", .observed_at_us = 160};
  upsert(&st, &man);
  upsert(&st, &crm2);
  ASSERT_STR_EQ(st.fields[CONTACT_F_FIRST_NAME].value.str, "Jo");
  ASSERT_STR_EQ(st.fields[CONTACT_F_FIRST_NAME].source, "manual");
  upsert(&st, &man2);
  ASSERT(st.fields[CONTACT_F_FIRST_NAME].set);
  ASSERT_EQ(st.fields[CONTACT_F_FIRST_NAME].value.type, SURV_NIL);
  ASSERT_EQ(st.fields[CONTACT_F_SENIORITY].value.type, SURV_NIL);
  /* an empty value from a non-manual source is no observation */
  contact_input blank = {.city = "", .source = "crm", .observed_at_us = 999};
  contact_obs o;
  normalize_ok(&blank, &o);
  ASSERT(!o.values[CONTACT_F_CITY].set);
  contact_obs_release(&o);
  contact_state_release(&st);
}

static void test_decide_merge_and_unmerge_are_inverse(void) {
  contact_state w, l, w0;
  contact_state_init(&w);
  contact_state_init(&l);
  contact_input wi = {.email = "w@x.example", .first_name = "Win", .source = "enrichment",
                      .observed_at_us = 100};
  contact_input li = {.email = "l@x.example", .first_name = "Lose", .last_name = "Smith",
                      .source = "crm", .observed_at_us = 50};
  upsert(&w, &wi);
  upsert(&l, &li);
  l.idents = calloc(1, sizeof *l.idents);
  l.ident_count = l.ident_cap = 1;
  snprintf(l.idents[0].kind, sizeof l.idents[0].kind, "email");
  snprintf(l.idents[0].value, sizeof l.idents[0].value, "l@x.example");
  contact_state_init(&w0);
  for (int f = 0; f < CONTACT_FIELD_COUNT; f++) surv_field_copy(&w0.fields[f], &w.fields[f]);

  contact_merge_rec m;
  contact_changes_init(&m.changes);
  contact_decide_merge(&w, &l, &m.changes);
  ASSERT_EQ(m.changes.ident_count, 1);
  take(&w, &m.changes);
  /* the CRM's first and last name beat the enrichment's; email too */
  ASSERT_STR_EQ(w.fields[CONTACT_F_FIRST_NAME].value.str, "Lose");
  ASSERT_STR_EQ(w.fields[CONTACT_F_LAST_NAME].value.str, "Smith");
  contact_changes undo;
  contact_changes_init(&undo);
  contact_decide_unmerge(&w, &m, &undo);
  take(&w, &undo);
  for (int f = 0; f < CONTACT_FIELD_COUNT; f++)
    ASSERT(surv_field_equal(&w.fields[f], &w0.fields[f]));
  contact_changes_release(&undo);
  contact_changes_release(&m.changes);
  contact_state_release(&w);
  contact_state_release(&l);
  contact_state_release(&w0);
}

TEST_MAIN(TEST(test_every_policy_is_order_independent), TEST(test_policies_pick_as_documented),
          TEST(test_sources), TEST(test_change_round_trip),
          TEST(test_messy_emails_normalize_to_one_key), TEST(test_phones_in_ten_national_formats),
          TEST(test_input_errors_name_the_field),
          TEST(test_decide_upsert_resolves_conflicting_sources),
          TEST(test_decide_merge_and_unmerge_are_inverse))
