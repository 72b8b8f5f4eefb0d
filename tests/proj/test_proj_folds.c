/*
 * The set-based contacts and accounts folds (schema/053) against the
 * per-event loops they replace (rm_lib.fold_*_each, 010's bodies): the same
 * batches folded both ways into two schemas of the same tables must leave
 * equal rows. The batches mix creates, several events on one contact
 * inside a batch (more than the rounds' cap too), merge and unmerge,
 * deletes and restores, events on missing rows, and account hierarchy
 * changes (the barriers), then a second batch on the existing rows.
 */
#include "tests/proj/proj_testutil.h"

#include <string.h>

static void exec_ok(pg_conn *c, const char *sql, int n, const char *const *v) {
  pv_error err = PV_ERROR_INIT;
  if (pg_exec(c, sql, n, v, NULL, &err))
    test__fail(__FILE__, __LINE__, "%s: %s: %s", sql, err.message, err.detail);
}

/* One element of a batch as proj_directory.c renders it; xf and d are JSON
 * objects (x.c and x.p stay small: the folds treat them as x.f). */
static void ev(pv_buf *b, uint64_t p, const char *stream, const char *type, const char *xf,
               const char *d) {
  if (b->len > 1) pv_buf_addch(b, ',');
  pv_buf_addf(b,
              "{\"p\":%" PRIu64 ",\"ts\":\"2026-01-01T00:00:%02" PRIu64 ".%06" PRIu64 "Z\","
              "\"v\":%" PRIu64 ",\"t\":\"t1\",\"s\":\"%s\",\"y\":\"%s\",\"a\":\"test\","
              "\"d\":%s,\"x\":{\"f\":%s,\"c\":{\"n\":%" PRIu64 "},\"p\":{\"x\":{\"p\":%" PRIu64
              "}},\"s\":[]}}",
              p, p % 60, p, p, stream, type, d, xf, p, p);
}

#define IDS_ADD(kind, value) "{\"identifiers_added\":[{\"kind\":\"" kind "\",\"value\":\"" value "\"}]}"
#define IDS_REM(kind, value) "{\"identifiers_removed\":[{\"kind\":\"" kind "\",\"value\":\"" value "\"}]}"

static void batch1(pv_buf *b) {
  uint64_t p = 1;
  pv_buf_addch(b, '[');
  ev(b, p++, "account-a1", "account.created", "{\"name\":\"A1\",\"domain\":\"a1.com\"}",
     "{\"alternate_domains_added\":[\"a1.org\"]}");
  ev(b, p++, "account-a2", "account.created", "{\"name\":\"A2\"}", "{}");
  ev(b, p++, "contact-c1", "contact.created", "{\"email\":\"c1@a1.com\",\"account_id\":\"a1\"}",
     IDS_ADD("email", "c1@a1.com"));
  ev(b, p++, "contact-c2", "contact.created", "{\"email\":\"c2@a1.com\",\"account_id\":\"a1\"}",
     IDS_ADD("phone", "a1:+331"));
  /* the same contact again in the batch, moving to another account */
  ev(b, p++, "contact-c1", "contact.updated", "{\"first_name\":\"Bo\",\"account_id\":\"a2\"}",
     IDS_ADD("ext", "crm:1"));
  ev(b, p++, "contact-c3", "contact.created", "{\"email\":\"c3@x.com\",\"account_id\":\"a2\"}",
     IDS_ADD("email", "c3@x.com"));
  ev(b, p++, "contact-c1", "contact.merged", "{\"last_name\":\"Ng\"}",
     "{\"loser_id\":\"c3\",\"identifiers_added\":[{\"kind\":\"email\",\"value\":\"c3@x.com\"}]}");
  ev(b, p++, "contact-c3", "contact.merged_into", "{}", "{\"winner_id\":\"c1\"}");
  ev(b, p++, "contact-c2", "contact.deleted", "{}", "{}");
  ev(b, p++, "contact-c9", "contact.updated", "{\"first_name\":\"None\"}", "{}");
  /* a contact of an account not created yet, then the account */
  ev(b, p++, "contact-c6", "contact.created", "{\"account_id\":\"a4\"}", "{}");
  ev(b, p++, "account-a4", "account.created", "{\"name\":\"A4\"}", "{}");
  /* barriers: a child account, a contact on it, re-parenting */
  ev(b, p++, "account-a3", "account.created", "{\"name\":\"A3\",\"parent_id\":\"a1\"}", "{}");
  ev(b, p++, "contact-c4", "contact.created", "{\"account_id\":\"a3\"}", "{}");
  ev(b, p++, "contact-c1", "contact.merge_undone", "{\"last_name\":null}",
     "{\"loser_id\":\"c3\",\"identifiers_removed\":[{\"kind\":\"email\",\"value\":\"c3@x.com\"}]}");
  ev(b, p++, "contact-c3", "contact.unmerged", "{}", "{\"winner_id\":\"c1\"}");
  ev(b, p++, "contact-c2", "contact.restored", "{}", "{}");
  ev(b, p++, "account-a2", "account.updated", "{\"industry\":\"x\"}",
     "{\"alternate_domains_added\":[\"a2.org\",\"a2.net\"]}");
  ev(b, p++, "account-a3", "account.updated", "{\"parent_id\":\"a2\"}", "{}");
  /* a burst on one contact: more rounds than the cap */
  ev(b, p++, "contact-c5", "contact.created", "{\"account_id\":\"a1\",\"n\":0}", "{}");
  for (int i = 1; i <= 12; i++) {
    char f[64];
    snprintf(f, sizeof f, "{\"n\":%d%s}", i, i == 6 ? ",\"account_id\":\"a3\"" : "");
    ev(b, p++, "contact-c5", i == 9 ? "contact.deleted" : i == 11 ? "contact.restored"
                                                                   : "contact.updated",
       f, i == 4 ? IDS_ADD("email", "c5@y.com") : "{}");
  }
  ev(b, p++, "account-a5", "account.updated", "{\"name\":\"missing\"}", "{}");
  ev(b, p++, "account-a4", "account.deleted", "{}", "{}");
  pv_buf_addch(b, ']');
}

/* On the rows batch1 left: updates, a second created on an existing
 * contact, a parent created after its child named it. */
static void batch2(pv_buf *b) {
  uint64_t p = 100;
  pv_buf_addch(b, '[');
  ev(b, p++, "contact-c1", "contact.created", "{\"title\":\"CTO\"}", IDS_ADD("email", "c1b@a1.com"));
  ev(b, p++, "contact-c2", "contact.updated", "{\"account_id\":null}", "{}");
  ev(b, p++, "contact-c3", "contact.updated", "{\"account_id\":\"a1\"}", "{}");
  ev(b, p++, "contact-c4", "contact.merged_into", "{}", "{\"winner_id\":\"c1\"}");
  ev(b, p++, "account-a6", "account.created", "{\"name\":\"A6\",\"parent_id\":\"a7\"}", "{}");
  ev(b, p++, "contact-c7", "contact.created", "{\"account_id\":\"a6\"}", "{}");
  ev(b, p++, "account-a7", "account.created", "{\"name\":\"A7\"}", "{}");
  ev(b, p++, "contact-c8", "contact.created", "{\"account_id\":\"a7\"}", "{}");
  ev(b, p++, "account-a4", "account.restored", "{}", "{}");
  ev(b, p++, "account-a1", "account.updated", "{\"domain\":null}",
     "{\"alternate_domains_removed\":[\"a1.org\"]}");
  ev(b, p++, "contact-c5", "contact.deleted", "{}", "{}");
  ev(b, p++, "contact-c6", "contact.updated", "{\"account_id\":\"a1\"}", "{}");
  pv_buf_addch(b, ']');
}

static const char *const tables[] = {"contacts", "accounts", "contact_links"};

static void make_schema(pg_conn *c, const char *s) {
  char sql[256];
  snprintf(sql, sizeof sql, "CREATE SCHEMA %s", s);
  exec_ok(c, sql, 0, NULL);
  for (size_t i = 0; i < 3; i++) {
    snprintf(sql, sizeof sql, "CREATE TABLE %s.%s (LIKE %s.%s INCLUDING ALL)", s, tables[i],
             i == 0 ? "rm_contacts" : "rm_accounts", tables[i]);
    exec_ok(c, sql, 0, NULL);
  }
}

static void fold(pg_conn *c, const char *schema, bool each, const char *batch) {
  const char *v[] = {schema};
  exec_ok(c, "SELECT set_config('search_path', $1, false)", 1, v);
  const char *b[] = {batch};
  exec_ok(c, each ? "SELECT rm_lib.fold_contacts_each($1::jsonb)"
                  : "SELECT rm_lib.fold_contacts($1::jsonb)", 1, b);
  exec_ok(c, each ? "SELECT rm_lib.fold_accounts_each($1::jsonb)"
                  : "SELECT rm_lib.fold_accounts($1::jsonb)", 1, b);
}

static void assert_same(pg_conn *c) {
  char sql[512];
  for (size_t i = 0; i < 3; i++) {
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM ((SELECT * FROM e.%s EXCEPT ALL SELECT * FROM s.%s) UNION ALL"
             " (SELECT * FROM s.%s EXCEPT ALL SELECT * FROM e.%s)) d",
             tables[i], tables[i], tables[i], tables[i]);
    int64_t diff = ptu_query_i64(c, sql);
    if (diff != 0) test__fail(__FILE__, __LINE__, "%s: %lld rows differ", tables[i], (long long)diff);
  }
}

static void test_set_based_folds_equal_the_per_event_loops(void) {
  char *url = ptu_db();
  pg_conn *c = ptu_connect(url);
  make_schema(c, "e");
  make_schema(c, "s");
  pv_buf b1 = PV_BUF_INIT, b2 = PV_BUF_INIT;
  batch1(&b1);
  batch2(&b2);
  fold(c, "e", true, b1.data);
  fold(c, "s", false, b1.data);
  assert_same(c);
  fold(c, "e", true, b2.data);
  fold(c, "s", false, b2.data);
  assert_same(c);
  /* the cases did happen: a merge moved identifiers and undid it, counts
   * rolled up through a re-parented child */
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM s.contacts"), 8);
  ASSERT_EQ(ptu_query_i64(c, "SELECT cardinality(emails) FROM s.contacts WHERE id = 'c1'"), 2);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM s.contacts WHERE merged_into = 'c1'"), 1);
  ASSERT_EQ(ptu_query_i64(c, "SELECT (fields->>'n')::int FROM s.contacts WHERE id = 'c5'"), 12);
  ASSERT_EQ(ptu_query_i64(c, "SELECT rollup_contact_count FROM s.accounts WHERE id = 'a2'"), 1);
  ASSERT_EQ(ptu_query_i64(c, "SELECT sum(contact_count) FROM s.accounts"), 5);
  pv_buf_release(&b1);
  pv_buf_release(&b2);
  pg_conn_free(c);
  pg_testdb_drop(url);
  free(url);
}

PG_TEST_MAIN(TEST(test_set_based_folds_equal_the_per_event_loops))
