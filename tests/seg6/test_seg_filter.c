/*
 * The filter language against a real PostgreSQL: contacts, accounts and
 * suppressions generated into the read-model tables, then every operator
 * of every field type counted by the compiled SQL and by a brute-force
 * loop over the same data in C; nested logic; errors named by JSON
 * pointer; SQL injection in values, keys and field names (inert: a normal
 * answer or PV_EINVAL, never an SQL error).
 */
#include "adapters/pg/pg_conn.h"
#include "adapters/pg/pg_migrate.h"
#include "core/seg_filter.h"
#include "tests/harness/test.h"
#include "tests/pg/pg_testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NC 600
#define NA 40

typedef struct model_contact {
  char id[16], email[48], first[16], seniority[16], phone[20], title[32], account[16];
  int version;
  bool has_email, has_phone, email_supp, phone_supp, deleted;
  int budget; /* custom number; -1: absent */
  int created_days_ago;
} model_contact;

typedef struct model_account {
  char id[16], name[32], industry[16];
  int employees;
  const char *alts[2];
} model_account;

static model_contact mc[NC];
static model_account ma[NA];
static pg_conn *conn;
static char *db;

static const char *const sen[] = {"vp", "director", "manager", "c_level", "staff"};
static const char *const ind[] = {"software", "retail", "finance"};
static const char *const first_names[] = {"Ann", "Bob", "Carla", "50%_off", "O'Brien", "back\\slash"};

static void exec_ok(const char *sql) {
  pv_error err = PV_ERROR_INIT;
  if (pg_exec(conn, sql, 0, NULL, NULL, &err)) test__fail(__FILE__, __LINE__, "%s: %s", sql, err.message);
}

/* contact_facts as the segments projection keeps it */
static void refresh_facts(void) {
  exec_ok("SELECT set_config('search_path', 'rm_segments, public', false)");
  exec_ok("SELECT seg_lib.refresh_facts('t1', ARRAY(SELECT id FROM rm_contacts.contacts"
          " WHERE tenant = 't1'))");
}

static void setup(void) {
  pv_error err = PV_ERROR_INIT;
  db = pg_testdb_create();
  if (pg_connect(&conn, db, &err) ||
      pg_migrate(conn, pg_schema_migrations, pg_schema_migrations_count, NULL, NULL, NULL, &err))
    test__fail(__FILE__, __LINE__, "migrate: %s", err.message);
  exec_ok("SET TimeZone = 'UTC'");
  srand(42);
  for (int i = 0; i < NA; i++) {
    model_account *a = &ma[i];
    snprintf(a->id, sizeof a->id, "a%d", i);
    snprintf(a->name, sizeof a->name, "Acme %d", i);
    snprintf(a->industry, sizeof a->industry, "%s", ind[i % 3]);
    a->employees = (i * 37) % 500;
    a->alts[0] = i % 2 ? "alt.example" : "other.example";
    char sql[4096];
    snprintf(sql, sizeof sql,
             "INSERT INTO rm_accounts.accounts (tenant, id, fields, custom_fields,"
             " alternate_domains, version, created_position, updated_position, created_at,"
             " updated_at) VALUES ('t1', '%s', '{\"name\": \"%s\", \"industry\": \"%s\"}',"
             " '{\"employee_count\": %d}', ARRAY['%s'], 1, 1, 1, now(), now())",
             a->id, a->name, a->industry, a->employees, a->alts[0]);
    exec_ok(sql);
  }
  for (int i = 0; i < NC; i++) {
    model_contact *m = &mc[i];
    snprintf(m->id, sizeof m->id, "c%04d", i);
    m->has_email = rand() % 10 != 0;
    snprintf(m->email, sizeof m->email, "p%d@d%d.example", i, i % 7);
    snprintf(m->first, sizeof m->first, "%s", first_names[rand() % 6]);
    snprintf(m->seniority, sizeof m->seniority, "%s", rand() % 6 ? sen[rand() % 5] : "");
    m->has_phone = rand() % 3 != 0;
    snprintf(m->phone, sizeof m->phone, "+1555%07d", i);
    snprintf(m->title, sizeof m->title, "%s of Sales", rand() % 2 ? "Head" : "VP");
    snprintf(m->account, sizeof m->account, "%s", rand() % 5 ? ma[rand() % NA].id : "");
    m->version = 1 + rand() % 9;
    m->email_supp = m->has_email && rand() % 8 == 0;
    m->phone_supp = m->has_phone && rand() % 8 == 0;
    m->deleted = rand() % 50 == 0;
    m->budget = rand() % 4 ? rand() % 1000 : -1;
    m->created_days_ago = rand() % 60;
    pv_buf f = PV_BUF_INIT, cf = PV_BUF_INIT;
    pv_buf_addf(&f, "{\"first_name\": \"%s\", \"title\": \"%s\"",
                strcmp(m->first, "back\\slash") == 0 ? "back\\\\slash" : m->first, m->title);
    if (m->has_email) pv_buf_addf(&f, ", \"email\": \"%s\"", m->email);
    if (m->seniority[0]) pv_buf_addf(&f, ", \"seniority\": \"%s\"", m->seniority);
    if (m->has_phone) pv_buf_addf(&f, ", \"phone\": \"%s\"", m->phone);
    if (m->account[0]) pv_buf_addf(&f, ", \"account_id\": \"%s\"", m->account);
    pv_buf_addch(&f, '}');
    pv_buf_addch(&cf, '{');
    if (m->budget >= 0) pv_buf_addf(&cf, "\"budget\": %d", m->budget);
    pv_buf_addch(&cf, '}');
    char ver[16], days[16];
    snprintf(ver, sizeof ver, "%d", m->version);
    snprintf(days, sizeof days, "%d", m->created_days_ago);
    const char *v[] = {m->id, f.data, cf.data, ver, days, m->deleted ? "t" : "f",
                       m->has_email ? m->email : "x@none"};
    if (pg_exec(conn,
                "INSERT INTO rm_contacts.contacts (tenant, id, fields, custom_fields, emails,"
                " version, created_position, updated_position, created_at, updated_at, deleted)"
                " VALUES ('t1', $1, $2::jsonb, $3::jsonb, ARRAY[$7], $4::bigint, 1, 1,"
                " now() - make_interval(days => $5::int) - interval '1 hour', now(), $6::boolean)",
                7, v, NULL, &err))
      test__fail(__FILE__, __LINE__, "insert: %s %s", err.message, err.detail);
    pv_buf_release(&f);
    pv_buf_release(&cf);
  }
  refresh_facts();
}

static void setup_supp(void) {
  /* positions: unique per row; a sequence of our own */
  exec_ok("CREATE TEMP SEQUENCE pos_seq");
  pv_error err = PV_ERROR_INIT;
  for (int i = 0; i < NC; i++) {
    model_contact *m = &mc[i];
    if (m->email_supp || m->phone_supp) {
      const char *v[] = {m->email_supp ? "email" : "phone", m->email_supp ? m->email : m->phone};
      if (pg_exec(conn, "INSERT INTO rm_suppressions.current VALUES ('t1', $1, $2, '', '',"
                        " 'unsub', 'manual', now(), 'a', nextval('pos_seq'))", 2, v, NULL, &err))
        test__fail(__FILE__, __LINE__, "%s", err.message);
      if (m->email_supp && m->phone_supp) {
        const char *w[] = {"phone", m->phone};
        pg_exec(conn, "INSERT INTO rm_suppressions.current VALUES ('t1', $1, $2, '', '',"
                      " 'unsub', 'manual', now(), 'a', nextval('pos_seq'))", 2, w, NULL, &err);
      }
    }
  }
  refresh_facts();
}

static model_account *acct_of(const model_contact *m) {
  for (int i = 0; i < NA; i++)
    if (strcmp(ma[i].id, m->account) == 0) return &ma[i];
  return NULL;
}

/* Count through the compiler; PV_E* code (negative) on a refused filter. */
static long sql_count(const char *json, seg_entity ent, pv_error *ferr) {
  cJSON *f = cJSON_Parse(json);
  if (!f) test__fail(__FILE__, __LINE__, "bad test JSON %s", json);
  seg_sql q;
  seg_sql_init(&q, 2);
  int rc = seg_compile(f, ent, "/filter", &q, ferr);
  cJSON_Delete(f);
  if (rc) {
    seg_sql_release(&q);
    return rc;
  }
  pv_buf sql = PV_BUF_INIT;
  pv_buf_addf(&sql, "SELECT count(*) %s(%s)", seg_from_sql(ent), q.where.data);
  const char **v = calloc(q.nparams + 1, sizeof *v);
  v[0] = "t1";
  for (size_t i = 0; i < q.nparams; i++) v[i + 1] = q.params[i];
  PGresult *res = NULL;
  pv_error err = PV_ERROR_INIT;
  if (pg_exec(conn, sql.data, (int)q.nparams + 1, v, &res, &err))
    test__fail(__FILE__, __LINE__, "SQL error for %s: %s %s\n%s", json, err.message, err.detail,
               sql.data);
  long n = atol(PQgetvalue(res, 0, 0));
  PQclear(res);
  free(v);
  pv_buf_release(&sql);
  seg_sql_release(&q);
  return n;
}

typedef bool (*pred_fn)(const model_contact *m);

static long brute(pred_fn p) {
  long n = 0;
  for (int i = 0; i < NC; i++)
    if (!mc[i].deleted && p(&mc[i])) n++;
  return n;
}

static bool p_email_eq(const model_contact *m) { return m->has_email && strcmp(m->email, "p7@d0.example") == 0; }
static bool p_email_ne(const model_contact *m) { return !(m->has_email && strcmp(m->email, "p7@d0.example") == 0); }
static bool p_sen_in(const model_contact *m) { return !strcmp(m->seniority, "vp") || !strcmp(m->seniority, "c_level"); }
static bool p_sen_nin(const model_contact *m) { return !p_sen_in(m); }
static bool p_sen_empty(const model_contact *m) { return !m->seniority[0]; }
static bool p_sen_nempty(const model_contact *m) { return m->seniority[0]; }
static bool p_first_contains_pct(const model_contact *m) { return strstr(m->first, "%_") != NULL; }
static bool p_first_starts_b(const model_contact *m) { return m->first[0] == 'b' || m->first[0] == 'B'; }
static bool p_first_ends_slash(const model_contact *m) { size_t n = strlen(m->first); return n >= 5 && !strcmp(m->first + n - 5, "slash"); }
static bool p_first_backslash(const model_contact *m) { return strchr(m->first, '\\') != NULL; }
static bool p_first_not_contains_o(const model_contact *m) { return !strchr(m->first, 'o') && !strchr(m->first, 'O'); }
static bool p_ver_gt5(const model_contact *m) { return m->version > 5; }
static bool p_ver_gte5(const model_contact *m) { return m->version >= 5; }
static bool p_ver_lt3(const model_contact *m) { return m->version < 3; }
static bool p_ver_lte3(const model_contact *m) { return m->version <= 3; }
static bool p_ver_between(const model_contact *m) { return m->version >= 2 && m->version <= 4; }
static bool p_ver_in(const model_contact *m) { return m->version == 1 || m->version == 9; }
static bool p_ver_eq(const model_contact *m) { return m->version == 4; }
static bool p_created_last10(const model_contact *m) { return m->created_days_ago < 10; }
static bool p_has_phone(const model_contact *m) { return m->has_phone; }
static bool p_no_phone(const model_contact *m) { return !m->has_phone; }
static bool p_emailable(const model_contact *m) { return m->has_email && !m->email_supp; }
static bool p_callable(const model_contact *m) { return m->has_phone && !m->phone_supp; }
static bool p_email_status_unsub(const model_contact *m) { return m->email_supp; }
static bool p_supp_both(const model_contact *m) { return m->email_supp && m->phone_supp; }
static bool p_budget_gt(const model_contact *m) { return m->budget > 500; }
static bool p_budget_empty(const model_contact *m) { return m->budget < 0; }
static bool p_emails_any(const model_contact *m) { return m->has_email && (!strcmp(m->email, "p1@d1.example") || !strcmp(m->email, "p2@d2.example")); }
static bool p_acct_ind(const model_contact *m) { model_account *a = acct_of(m); return a && !strcmp(a->industry, "software"); }
static bool p_acct_emp(const model_contact *m) { model_account *a = acct_of(m); return a && a->employees >= 100 && a->employees <= 300; }
static bool p_acct_alt_all(const model_contact *m) { model_account *a = acct_of(m); return a && !strcmp(a->alts[0], "alt.example"); }
static bool p_acct_alt_none(const model_contact *m) { return !p_acct_alt_all(m); }
static bool p_nested(const model_contact *m) {
  return (p_sen_in(m) || p_ver_gt5(m)) && !(p_has_phone(m) && p_first_starts_b(m));
}
static bool p_all(const model_contact *m) { (void)m; return true; }
static bool p_none(const model_contact *m) { (void)m; return false; }
static bool p_domain_end(const model_contact *m) { return m->has_email && strstr(m->email, "@d3.example"); }
static bool p_domain_ends_3ex(const model_contact *m) { return m->has_email && strstr(m->email, "3.example"); }
static bool p_email_starts_p1(const model_contact *m) { return m->has_email && !strncmp(m->email, "p1", 2); }
static bool p_domain_not_contains_d3(const model_contact *m) { return !(m->has_email && strstr(m->email, "@d3.")); }

#define COND(f, op, v) "{\"field\":\"" f "\",\"operator\":\"" op "\"" v "}"
#define V(x) ",\"value\":" x

static const struct { const char *json; pred_fn p; } op_cases[] = {
  {COND("contact.email", "equals", V("\"p7@d0.example\"")), p_email_eq},
  {COND("contact.email", "not_equals", V("\"p7@d0.example\"")), p_email_ne},
  {COND("contact.seniority", "in", V("[\"vp\",\"c_level\"]")), p_sen_in},
  {COND("contact.seniority", "not_in", V("[\"vp\",\"c_level\"]")), p_sen_nin},
  {COND("contact.seniority", "is_empty", ""), p_sen_empty},
  {COND("contact.seniority", "is_not_empty", ""), p_sen_nempty},
  {COND("contact.first_name", "contains", V("\"%_\"")), p_first_contains_pct},
  {COND("contact.first_name", "starts_with", V("\"b\"")), p_first_starts_b},
  {COND("contact.first_name", "ends_with", V("\"SLASH\"")), p_first_ends_slash},
  {COND("contact.first_name", "contains", V("\"\\\\\"")), p_first_backslash},
  {COND("contact.first_name", "not_contains", V("\"o\"")), p_first_not_contains_o},
  {COND("contact.email_domain", "equals", V("\"d3.example\"")), p_domain_end},
  /* emails and domains are stored lowercase (LTEXT): a value in any case
   * matches, without lower() on the column */
  {COND("contact.email", "equals", V("\"P7@D0.Example\"")), p_email_eq},
  {COND("contact.email_domain", "in", V("[\"D3.EXAMPLE\"]")), p_domain_end},
  {COND("contact.email_domain", "ends_with", V("\"3.EXAMPLE\"")), p_domain_ends_3ex},
  {COND("contact.email", "starts_with", V("\"P1\"")), p_email_starts_p1},
  {COND("contact.email_domain", "not_contains", V("\"D3.\"")), p_domain_not_contains_d3},
  {COND("contact.version", "gt", V("5")), p_ver_gt5},
  {COND("contact.version", "gte", V("5")), p_ver_gte5},
  {COND("contact.version", "lt", V("3")), p_ver_lt3},
  {COND("contact.version", "lte", V("3")), p_ver_lte3},
  {COND("contact.version", "between", V("[2, 4]")), p_ver_between},
  {COND("contact.version", "in", V("[1, 9]")), p_ver_in},
  {COND("contact.version", "equals", V("4")), p_ver_eq},
  {COND("contact.created_at", "within_last_days", V("10")), p_created_last10},
  {COND("contact.created_at", "after", V("\"1999-01-01\"")), p_all},
  {COND("contact.created_at", "before", V("\"1999-01-01T00:00:00Z\"")), p_none},
  {COND("contact.created_at", "within_next_days", V("5")), p_none},
  {COND("contact.created_at", "between", V("[\"2000-02-29\", \"2999-12-31T23:59:59+02:00\"]")), p_all},
  {COND("contact.created_at", "is_not_empty", ""), p_all},
  {COND("contact.has_phone", "equals", V("true")), p_has_phone},
  {COND("contact.has_phone", "equals", V("false")), p_no_phone},
  {COND("contact.emailable", "equals", V("true")), p_emailable},
  {COND("contact.callable", "equals", V("true")), p_callable},
  {COND("contact.email_status", "equals", V("\"unsubscribed\"")), p_email_status_unsub},
  {COND("contact.suppression_status", "equals", V("\"both\"")), p_supp_both},
  {"{\"field\":\"contact.custom_number\",\"key\":\"budget\",\"operator\":\"gt\",\"value\":500}", p_budget_gt},
  {"{\"field\":\"contact.custom_number\",\"key\":\"budget\",\"operator\":\"is_empty\"}", p_budget_empty},
  {COND("contact.emails", "any_of", V("[\"p1@d1.example\",\"p2@d2.example\"]")), p_emails_any},
  {COND("contact.emails", "contains", V("\"p1@d1.example\"")), NULL},
  {COND("account.industry", "equals", V("\"software\"")), p_acct_ind},
  {COND("account.employee_count", "between", V("[100, 300]")), p_acct_emp},
  {COND("account.alternate_domains", "all_of", V("[\"alt.example\"]")), p_acct_alt_all},
  {COND("account.alternate_domains", "none_of", V("[\"alt.example\"]")), p_acct_alt_none},
  {"{\"op\":\"and\",\"conditions\":[{\"op\":\"or\",\"conditions\":["
   COND("contact.seniority", "in", V("[\"vp\",\"c_level\"]")) ","
   COND("contact.version", "gt", V("5")) "]},{\"op\":\"not\",\"conditions\":["
   COND("contact.has_phone", "equals", V("true")) ","
   COND("contact.first_name", "starts_with", V("\"B\"")) "]}]}", p_nested},
  {"{\"op\":\"and\",\"conditions\":[]}", p_all},
  {"{\"op\":\"or\",\"conditions\":[]}", p_none},
};

static bool p_email_p1(const model_contact *m) { return m->has_email && !strcmp(m->email, "p1@d1.example"); }

static void every_operator_matches_brute_force(void) {
  setup();
  setup_supp();
  for (size_t i = 0; i < sizeof op_cases / sizeof op_cases[0]; i++) {
    pv_error err = PV_ERROR_INIT;
    long got = sql_count(op_cases[i].json, SEG_CONTACT, &err);
    long want = brute(op_cases[i].p ? op_cases[i].p : p_email_p1);
    if (got != want)
      test__fail(__FILE__, __LINE__, "case %zu %s: sql %ld, brute force %ld (%s)", i,
                 op_cases[i].json, got, want, err.message);
  }
  pg_conn_free(conn);
  pg_testdb_drop(db);
}

static void account_entity_and_membership(void) {
  setup();
  pv_error err = PV_ERROR_INIT;
  long n = sql_count(COND("account.industry", "equals", V("\"software\"")), SEG_ACCOUNT, &err);
  long want = 0;
  for (int i = 0; i < NA; i++) want += !strcmp(ma[i].industry, "software");
  ASSERT_EQ(n, want);
  /* contact fields are not account fields */
  ASSERT_EQ(sql_count(COND("contact.email", "equals", V("\"x\"")), SEG_ACCOUNT, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/filter/field");
  exec_ok("INSERT INTO rm_segments.list_members VALUES ('t1', 'L1', 'c0001', 1),"
          " ('t1', 'L1', 'c0002', 1), ('t1', 'L2', 'c0002', 1)");
  long any = sql_count(COND("contact.lists", "any_of", V("[\"L1\",\"L2\"]")), SEG_CONTACT, &err);
  long all = sql_count(COND("contact.lists", "all_of", V("[\"L1\",\"L2\"]")), SEG_CONTACT, &err);
  long none = sql_count(COND("contact.lists", "none_of", V("[\"L1\"]")), SEG_CONTACT, &err);
  long live = sql_count("{\"op\":\"and\",\"conditions\":[]}", SEG_CONTACT, &err);
  int d1 = mc[1].deleted, d2 = mc[2].deleted;
  ASSERT_EQ(any, 2 - d1 - d2);
  ASSERT_EQ(all, 1 - d2);
  ASSERT_EQ(none, live - (2 - d1 - d2));
  pg_conn_free(conn);
  pg_testdb_drop(db);
}

static void errors_name_the_condition(void) {
  static const struct { const char *json; int code; const char *field; } bad[] = {
    {"{\"op\":\"and\",\"conditions\":[" COND("contact.email", "equals", V("\"a\"")) ","
     COND("contact.email", "gt", V("\"a\"")) "]}", PV_EINVAL, "/filter/conditions/1/operator"},
    {"{\"op\":\"and\",\"conditions\":[" COND("contact.nope", "equals", V("\"a\"")) "]}",
     PV_EINVAL, "/filter/conditions/0/field"},
    {COND("contact.version", "gt", V("\"5\"")), PV_EBADTYPE, "/filter/value"},
    {COND("contact.version", "between", V("[1]")), PV_EINVAL, "/filter/value"},
    {COND("contact.version", "in", V("[1, \"x\"]")), PV_EBADTYPE, "/filter/value/1"},
    {COND("contact.created_at", "before", V("\"2025-02-30\"")), PV_EINVAL, "/filter/value"},
    {COND("contact.created_at", "before", V("\"2025-01-01; DROP\"")), PV_EINVAL, "/filter/value"},
    {COND("contact.created_at", "within_last_days", V("1.5")), PV_EINVAL, "/filter/value"},
    {COND("contact.has_phone", "equals", V("\"yes\"")), PV_EBADTYPE, "/filter/value"},
    {"{\"field\":\"contact.custom_text\",\"operator\":\"equals\",\"value\":\"a\"}", PV_EINVAL,
     "/filter/key"},
    {"{\"field\":\"contact.custom_text\",\"key\":\"a'b\",\"operator\":\"equals\",\"value\":\"a\"}",
     PV_EINVAL, "/filter/key"},
    {"{\"op\":\"xor\",\"conditions\":[]}", PV_EINVAL, "/filter/op"},
    {"[1]", PV_EBADTYPE, "/filter"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cJSON *f = cJSON_Parse(bad[i].json);
    seg_sql q;
    seg_sql_init(&q, 2);
    pv_error err = PV_ERROR_INIT;
    int rc = seg_compile(f, SEG_CONTACT, "/filter", &q, &err);
    if (rc != bad[i].code || strcmp(err.field, bad[i].field) != 0)
      test__fail(__FILE__, __LINE__, "case %zu: rc %d field %s (%s)", i, rc,
                 err.field, err.message);
    seg_sql_release(&q);
    cJSON_Delete(f);
  }
  /* depth and size limits */
  pv_buf deep = PV_BUF_INIT;
  for (int i = 0; i < 20; i++) pv_buf_addstr(&deep, "{\"op\":\"and\",\"conditions\":[");
  for (int i = 0; i < 20; i++) pv_buf_addstr(&deep, "]}");
  cJSON *f = cJSON_Parse(deep.data);
  seg_sql q;
  seg_sql_init(&q, 2);
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(seg_compile(f, SEG_CONTACT, "/filter", &q, &err), PV_ETOODEEP);
  seg_sql_release(&q);
  cJSON_Delete(f);
  pv_buf_release(&deep);
  pv_buf many = PV_BUF_INIT;
  pv_buf_addstr(&many, "{\"op\":\"or\",\"conditions\":[");
  for (int i = 0; i < 300; i++)
    pv_buf_addf(&many, "%s" COND("contact.version", "equals", V("1")), i ? "," : "");
  pv_buf_addstr(&many, "]}");
  f = cJSON_Parse(many.data);
  seg_sql_init(&q, 2);
  ASSERT_ERR(seg_compile(f, SEG_CONTACT, "/filter", &q, &err), PV_ETOOBIG);
  seg_sql_release(&q);
  cJSON_Delete(f);
  pv_buf_release(&many);
}

static void injection_is_inert(void) {
  setup();
  static const char *const values[] = {
    "'; DROP TABLE rm_contacts.contacts; --", "\\'); SELECT pg_sleep(10); --",
    "x' OR '1'='1", "$1", "%' OR 1=1 --", "\"", "\\", "'::int", "\xc3\xa9 $$ $q$",
  };
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    static const char *const ops[] = {"equals", "contains", "starts_with", "not_in"};
    for (size_t o = 0; o < 4; o++) {
      cJSON *cond = cJSON_CreateObject();
      cJSON_AddStringToObject(cond, "field", "contact.first_name");
      cJSON_AddStringToObject(cond, "operator", ops[o]);
      if (o == 3) {
        cJSON *arr = cJSON_AddArrayToObject(cond, "value");
        cJSON_AddItemToArray(arr, cJSON_CreateString(values[i]));
      } else {
        cJSON_AddStringToObject(cond, "value", values[i]);
      }
      char *json = cJSON_PrintUnformatted(cond);
      pv_error err = PV_ERROR_INIT;
      long n = sql_count(json, SEG_CONTACT, &err); /* fails the test on an SQL error */
      ASSERT(n >= 0);
      free(json);
      cJSON_Delete(cond);
    }
    /* as a field name and as a custom key: refused */
    cJSON *cond = cJSON_CreateObject();
    cJSON_AddStringToObject(cond, "field", values[i]);
    cJSON_AddStringToObject(cond, "operator", "equals");
    cJSON_AddStringToObject(cond, "value", "a");
    char *json = cJSON_PrintUnformatted(cond);
    pv_error err = PV_ERROR_INIT;
    ASSERT_EQ(sql_count(json, SEG_CONTACT, &err), PV_EINVAL);
    free(json);
    cJSON_ReplaceItemInObject(cond, "field", cJSON_CreateString("contact.custom_text"));
    cJSON_AddStringToObject(cond, "key", values[i]);
    json = cJSON_PrintUnformatted(cond);
    ASSERT_EQ(sql_count(json, SEG_CONTACT, &err), PV_EINVAL);
    free(json);
    cJSON_Delete(cond);
  }
  /* the table is still there and whole */
  pv_error err = PV_ERROR_INIT;
  ASSERT_EQ(sql_count("{\"op\":\"and\",\"conditions\":[]}", SEG_CONTACT, &err), brute(p_all));
  pg_conn_free(conn);
  pg_testdb_drop(db);
}

/* ---- custom numbers and dates (schema/052's typed copies) ------------- */

/* The ids of tenant t2's contacts a filter matches, ","-joined. */
static char *sql_ids(const char *json) {
  cJSON *f = cJSON_Parse(json);
  if (!f) test__fail(__FILE__, __LINE__, "bad test JSON %s", json);
  seg_sql q;
  seg_sql_init(&q, 2);
  pv_error err = PV_ERROR_INIT;
  if (seg_compile(f, SEG_CONTACT, "/filter", &q, &err))
    test__fail(__FILE__, __LINE__, "compile %s: %s", json, err.message);
  cJSON_Delete(f);
  pv_buf sql = PV_BUF_INIT;
  pv_buf_addf(&sql, "SELECT coalesce(string_agg(f.id, ',' ORDER BY f.id), '') %s(%s)",
              seg_from_sql(SEG_CONTACT), q.where.data);
  const char **v = calloc(q.nparams + 1, sizeof *v);
  v[0] = "t2";
  for (size_t i = 0; i < q.nparams; i++) v[i + 1] = q.params[i];
  PGresult *res = NULL;
  if (pg_exec(conn, sql.data, (int)q.nparams + 1, v, &res, &err))
    test__fail(__FILE__, __LINE__, "SQL error for %s: %s\n%s", json, err.message, sql.data);
  char *ids = pv_xstrdup(PQgetvalue(res, 0, 0));
  PQclear(res);
  free(v);
  pv_buf_release(&sql);
  seg_sql_release(&q);
  return ids;
}

/* The same ids by the expressions of 051, straight over custom_fields:
 * what the typed copies must agree with. */
static char *oracle_ids(const char *cmp, const char *value) {
  pv_buf sql = PV_BUF_INIT;
  pv_buf_addf(&sql,
              "SELECT coalesce(string_agg(id, ',' ORDER BY id), '') FROM"
              " rm_segments.contact_facts f WHERE tenant = 't2' AND (CASE"
              " jsonb_typeof(custom_fields->'n') WHEN 'number' THEN (custom_fields->'n')::numeric"
              " WHEN 'string' THEN seg_lib.num(custom_fields->>'n') END) %s $1::numeric",
              cmp);
  const char *v[] = {value};
  PGresult *res = NULL;
  pv_error err = PV_ERROR_INIT;
  if (pg_exec(conn, sql.data, 1, v, &res, &err))
    test__fail(__FILE__, __LINE__, "oracle: %s", err.message);
  char *ids = pv_xstrdup(PQgetvalue(res, 0, 0));
  PQclear(res);
  pv_buf_release(&sql);
  return ids;
}

static void set_custom(const char *id, const char *custom_json) {
  const char *v[] = {id, custom_json};
  pv_error err = PV_ERROR_INIT;
  if (pg_exec(conn,
              "INSERT INTO rm_contacts.contacts (tenant, id, fields, custom_fields, version,"
              " created_position, updated_position, created_at, updated_at) VALUES ('t2', $1,"
              " '{}', $2::jsonb, 1, 1, 1, now(), now()) ON CONFLICT (tenant, id) DO UPDATE SET"
              " custom_fields = excluded.custom_fields",
              2, v, NULL, &err))
    test__fail(__FILE__, __LINE__, "contact %s: %s", id, err.message);
}

#define NUM(op, v) "{\"field\":\"contact.custom_number\",\"key\":\"n\",\"operator\":\"" op "\"" v "}"
#define DATE(op, v) "{\"field\":\"contact.custom_date\",\"key\":\"d\",\"operator\":\"" op "\"" v "}"

static void expect_ids(const char *json, const char *want) {
  char *got = sql_ids(json);
  if (strcmp(got, want) != 0)
    test__fail(__FILE__, __LINE__, "%s: got [%s], want [%s]", json, got, want);
  free(got);
}

/* Every comparison over a few values agrees with 051's expression. */
static void expect_oracle(void) {
  static const char *const ops[][2] = {{"gt", ">"}, {"gte", ">="}, {"lt", "<"}, {"lte", "<="},
                                       {"equals", "="}};
  static const char *const vals[] = {"-5", "0", "10", "20", "35", "1000"};
  for (size_t o = 0; o < 5; o++)
    for (size_t k = 0; k < 6; k++) {
      char json[256];
      snprintf(json, sizeof json, NUM("%s", ",\"value\":%s"), ops[o][0], vals[k]);
      char *want = oracle_ids(ops[o][1], vals[k]);
      expect_ids(json, want);
      free(want);
    }
}

/* Facts made by 051's refresh_facts get their copies from 052's backfill;
 * then each refresh (what the segments projection runs for the contacts a
 * batch touched) keeps them current as values change type. */
static void custom_numbers_and_dates_follow_the_values(void) {
  pv_error err = PV_ERROR_INIT;
  db = pg_testdb_create();
  size_t upto51 = 0;
  while (upto51 < pg_schema_migrations_count && pg_schema_migrations[upto51].version <= 51)
    upto51++;
  if (pg_connect(&conn, db, &err) ||
      pg_migrate(conn, pg_schema_migrations, upto51, NULL, NULL, NULL, &err))
    test__fail(__FILE__, __LINE__, "migrate to 051: %s", err.message);
  exec_ok("SET TimeZone = 'UTC'");
  set_custom("k01", "{\"n\": 10, \"d\": \"2025-03-01\"}");
  set_custom("k02", "{\"n\": \"20\", \"d\": \"2025-03-01T10:00:00+02:00\"}");
  set_custom("k03", "{\"n\": \" 3.5e1 \", \"d\": \"2025-03-01 09:30\"}");
  set_custom("k04", "{\"n\": \"abc\", \"d\": \"not a date\"}");
  set_custom("k05", "{\"n\": true, \"d\": 20250301}");
  set_custom("k06", "{}");
  set_custom("k07", "{\"n\": null, \"d\": null}");
  set_custom("k08", "{\"n\": \"1e99999\", \"d\": \"2025-02-30\"}");
  set_custom("k09", "{\"n\": {\"v\": 1}, \"d\": [\"2025-03-01\"]}");
  set_custom("k10", "[1, 2]");
  set_custom("k11", "{\"n\": -5, \"d\": \"2024-12-31\", \"other\": 1}");
  exec_ok("SELECT set_config('search_path', 'rm_segments, public', false)");
  exec_ok("SELECT seg_lib.refresh_facts('t2', ARRAY(SELECT id FROM rm_contacts.contacts"
          " WHERE tenant = 't2'))");
  if (pg_migrate(conn, pg_schema_migrations, pg_schema_migrations_count, NULL, NULL, NULL, &err))
    test__fail(__FILE__, __LINE__, "migrate: %s %s", err.message, err.detail);

  expect_ids(NUM("gt", ",\"value\":15"), "k02,k03");
  expect_ids(NUM("lte", ",\"value\":10"), "k01,k11");
  expect_ids(NUM("between", ",\"value\":[-5, 20]"), "k01,k02,k11");
  expect_ids(NUM("in", ",\"value\":[35, 7]"), "k03");
  expect_ids(NUM("is_empty", ""), "k04,k05,k06,k07,k08,k09,k10");
  expect_ids(NUM("is_not_empty", ""), "k01,k02,k03,k11");
  /* NULL never matches a comparison, also under NOT */
  expect_ids("{\"op\":\"not\",\"conditions\":[" NUM("gt", ",\"value\":15") "]}", "k01,k11");
  expect_ids(DATE("after", ",\"value\":\"2025-01-01\""), "k01,k02,k03");
  expect_ids(DATE("before", ",\"value\":\"2025-03-01T08:30:00Z\""), "k01,k02,k11");
  expect_ids(DATE("is_empty", ""), "k04,k05,k06,k07,k08,k09,k10");
  expect_oracle();

  /* number -> text, text -> numeric text, absent -> number, numeric text
   * -> absent, bool -> number, a date -> not one, not an object -> one */
  set_custom("k01", "{\"n\": \"abc\", \"d\": \"2025-13-01\"}");
  set_custom("k04", "{\"n\": \"42\", \"d\": \"2026-01-01\"}");
  set_custom("k06", "{\"n\": 7}");
  set_custom("k02", "{\"d\": \"2025-03-01T10:00:00+02:00\"}");
  set_custom("k05", "{\"n\": 99.5}");
  set_custom("k10", "{\"n\": \"-0.5\", \"d\": \"2030-06-01T00:00:00Z\"}");
  exec_ok("SELECT seg_lib.refresh_facts('t2', ARRAY['k01', 'k02', 'k04', 'k05', 'k06', 'k10'])");
  expect_ids(NUM("gt", ",\"value\":15"), "k03,k04,k05");
  expect_ids(NUM("lt", ",\"value\":10"), "k06,k10,k11");
  expect_ids(NUM("is_empty", ""), "k01,k02,k07,k08,k09");
  expect_ids(DATE("after", ",\"value\":\"2025-01-01\""), "k02,k03,k04,k10");
  expect_ids(DATE("is_empty", ""), "k01,k05,k06,k07,k08,k09");
  expect_oracle();
  /* a contact deleted: its facts (and copies) go */
  exec_ok("UPDATE rm_contacts.contacts SET deleted = true WHERE tenant = 't2' AND id = 'k03'");
  exec_ok("SELECT seg_lib.refresh_facts('t2', ARRAY['k03'])");
  expect_ids(NUM("gt", ",\"value\":15"), "k04,k05");
  pg_conn_free(conn);
  pg_testdb_drop(db);
}

/* A lowercase-stored field (emails, domains, the facts' title) compares
 * its column as is (the value is lowercased once); other text fields
 * lower() both sides. */
static void lowercase_fields_skip_lower_per_row(void) {
  static const struct { const char *json; bool lowered; const char *param; } cases[] = {
      {COND("contact.email_domain", "ends_with", V("\"Acme.IO\"")), false, "%acme.io"},
      {COND("account.domain", "contains", V("\"Acme\"")), false, "%acme%"},
      {COND("contact.title", "contains", V("\"Chief\"")), false, "%chief%"},
      {COND("contact.city", "contains", V("\"Paris\"")), true, "%Paris%"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cJSON *f = cJSON_Parse(cases[i].json);
    seg_sql q;
    seg_sql_init(&q, 2);
    pv_error err = PV_ERROR_INIT;
    ASSERT_OK(seg_compile(f, SEG_CONTACT, "/filter", &q, &err));
    if ((strstr(q.where.data, "lower(") != NULL) != cases[i].lowered)
      test__fail(__FILE__, __LINE__, "%s compiled to %s", cases[i].json, q.where.data);
    ASSERT_EQ(q.nparams, 1);
    ASSERT_STR_EQ(q.params[0], cases[i].param);
    seg_sql_release(&q);
    cJSON_Delete(f);
  }
}

static void catalogue_has_52_fields_each_with_operators(void) {
  ASSERT(seg_field_count() >= 52);
  cJSON *j = seg_fields_json();
  cJSON *fields = cJSON_GetObjectItem(j, "fields");
  ASSERT_EQ((size_t)cJSON_GetArraySize(fields), seg_field_count());
  cJSON *it;
  cJSON_ArrayForEach(it, fields) ASSERT(cJSON_GetArraySize(cJSON_GetObjectItem(it, "operators")) > 0);
  cJSON_Delete(j);
  pv_buf b = PV_BUF_INIT;
  seg_like_pattern(&b, "a%b_c\\d", true, true);
  ASSERT_STR_EQ(b.data, "%a\\%b\\_c\\\\d%");
  pv_buf_release(&b);
}

PG_TEST_MAIN(TEST(every_operator_matches_brute_force), TEST(account_entity_and_membership),
             TEST(errors_name_the_condition), TEST(injection_is_inert),
             TEST(catalogue_has_52_fields_each_with_operators),
             TEST(lowercase_fields_skip_lower_per_row),
             TEST(custom_numbers_and_dates_follow_the_values))
