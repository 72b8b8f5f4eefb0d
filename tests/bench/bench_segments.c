/*
 * bench segments — the audience engine on 1M contacts and 100k accounts.
 * Prints `bench segments.FIGURE VALUE UNIT` lines:
 *   segments.load_s                  generating and COPYing the read models
 *                                    (and building contact_facts)
 *   segments.facts_build_s           contact_facts for 1M contacts, by the
 *                                    SQL function the projection uses
 *   segments.preview_<name>_p50_ms / _p99_ms
 *                                    the preview statement the API runs
 *                                    (core/seg_filter.h seg_preview_sql:
 *                                    count, emailable, callable, 10 sample
 *                                    rows) for ten representative filters,
 *                                    BENCH_RUNS runs each after one warm-up
 *   segments.preview_p99_ms          the worst of those p99s (target ≤ 200)
 *   segments.convert_200k_ms         convert a ~200k-member segment to a
 *                                    list: the snapshot statement, the
 *                                    list.created + list.members_added
 *                                    events through the writer, and the
 *                                    segments projection folding them
 *   segments.convert_members         how many members that list got
 *   segments.export_1m_ms            a 1M-row list exported as CSV through
 *                                    the export's cursor (FETCH 5000, the
 *                                    same SELECT and CSV rendering as
 *                                    POST /api/lists/:id/export), HTTP
 *                                    writes left out
 *   segments.export_rows_per_s
 *
 * The read models are loaded straight into their tables with COPY: making
 * 1M contacts through the writer and the projections would take most of
 * an hour on the shared 2-core machine and measures something else
 * (bench_contacts_core, bench_projection). The contacts, accounts and
 * suppressions checkpoints are then set to the log's future so that the
 * segments projection does not wait for them (they were not built from
 * this log).
 *
 * BENCH_CONTACTS (default 1,000,000), BENCH_ACCOUNTS (100,000),
 * BENCH_RUNS (default 11), BENCH_KEEP_DB=1 keeps the database made in
 * PIVOTAL_TEST_DATABASE_URL's cluster (to EXPLAIN a filter). The database:
 * PIVOTAL_TEST_DATABASE_URL (a fresh database in that cluster), else a
 * throwaway embedded cluster.
 */
#include "tests/bench/bench_db.h"
#include "core/common/pv_time.h"
#include "core/seg_filter.h"
#include "core/segments.h"
#include "core/writer.h"
#include "projections/proj.h"

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what, const pv_error *err) {
  fprintf(stderr, "bench segments: %s: %s %s\n", what, err ? err->message : "",
          err ? err->detail : "");
  exit(1);
}

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w) {
  (void)s, (void)f, (void)w;
  return remove(p);
}

static void exec_or_die(pg_conn *c, const char *sql) {
  pv_error err = PV_ERROR_INIT;
  if (pg_exec(c, sql, 0, NULL, NULL, &err)) die(sql, &err);
}

static double env_num(const char *name, double def) {
  const char *v = getenv(name);
  return v && *v ? atof(v) : def;
}

/* xorshift64*: reproducible data without libc's rand() state. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ull;
}
static unsigned pick(unsigned n) { return (unsigned)(rnd() % n); }

static const char *const industries[] = {
    "software", "retail", "financial_services", "healthcare", "manufacturing", "education",
    "media", "telecommunications", "insurance", "real_estate", "professional_services",
    "transportation", "hospitality", "government", "nonprofit", "construction", "wholesale",
    "agriculture", "mining_and_energy", "utilities"};
static const char *const countries[] = {"US", "US", "US", "US", "GB", "GB", "CA", "DE", "FR",
                                        "NL", "AU", "IN", "BR", "ES", "SE", "JP"};
static const char *const tlds[] = {"com", "com", "com", "io", "co.uk", "de", "net", "org"};
static const char *const firsts[] = {"James", "Mary", "Robert", "Patricia", "John", "Jennifer",
                                     "Michael", "Linda", "David", "Elizabeth", "Wei", "Priya",
                                     "Ahmed", "Sofia", "Lukas", "Yuki", "Olga", "Carlos"};
static const char *const lasts[] = {"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia",
                                    "Miller", "Davis", "Martinez", "Lopez", "Wilson", "Anderson",
                                    "Thomas", "Taylor", "Moore", "Chen", "Patel", "Müller"};
/* title, seniority, department: roughly a B2B database's mix (one in five
 * VP or C-level makes the ~200k segment the issue converts) */
static const struct { const char *title, *sen, *dept; } roles[] = {
    {"VP of Sales", "vp", "sales"},
    {"Chief Marketing Officer", "c_level", "marketing"},
    {"Director of Engineering", "director", "engineering"},
    {"Sales Manager", "manager", "sales"},
    {"Marketing Manager", "manager", "marketing"},
    {"Software Engineer", "staff", "engineering"},
    {"Account Executive", "staff", "sales"},
    {"HR Business Partner", "staff", "human_resources"},
    {"Financial Analyst", "staff", "finance"},
    {"Head of Operations", "director", "operations"}};

typedef struct bench_acct {
  char domain[48];
} bench_acct;

static void load(pg_conn *c, long ncontacts, long naccounts) {
  pv_error err = PV_ERROR_INIT;
  bench_acct *accts = calloc((size_t)naccounts, sizeof *accts);
  char id[40], fields[1024], custom[128], alts[96], created[40], pos[24], emails[160],
      phones[48];
  if (pg_copy_begin(c,
                    "COPY rm_accounts.accounts (tenant, id, fields, custom_fields,"
                    " alternate_domains, version, created_position, updated_position,"
                    " created_at, updated_at, contact_count, rollup_contact_count) FROM STDIN",
                    &err))
    die("copy accounts", &err);
  for (long i = 0; i < naccounts; i++) {
    snprintf(accts[i].domain, sizeof accts[i].domain, "acct%ld.%s", i, tlds[pick(8)]);
    snprintf(id, sizeof id, "%032lx", (unsigned long)i + 1);
    const char *country = countries[pick(16)];
    snprintf(fields, sizeof fields,
             "{\"name\": \"Company %ld\", \"domain\": \"%s\", \"industry\": \"%s\","
             " \"country\": \"%s\", \"sic_code\": \"%u\"}",
             i, accts[i].domain, industries[pick(20)], country, 1000 + pick(8000));
    snprintf(custom, sizeof custom, "{\"employee_count\": %u, \"annual_revenue\": %u}",
             10 + pick(20000), 100000 + pick(50000000));
    if (pick(10) == 0) snprintf(alts, sizeof alts, "{alt%ld.com}", i);
    else snprintf(alts, sizeof alts, "{}");
    snprintf(pos, sizeof pos, "%ld", i + 1);
    snprintf(created, sizeof created, "2025-%02u-%02u 10:00:00+00", 1 + pick(12), 1 + pick(28));
    const char *row[] = {"bench", id, fields, custom, alts, "1", pos, pos, created, created,
                         "10", "10"};
    if (pg_copy_row(c, 12, row, &err)) die("copy account row", &err);
  }
  if (pg_copy_end(c, NULL, &err)) die("copy accounts end", &err);

  if (pg_copy_begin(c,
                    "COPY rm_contacts.contacts (tenant, id, fields, custom_fields, emails,"
                    " phones, version, created_position, updated_position, created_at,"
                    " updated_at) FROM STDIN",
                    &err))
    die("copy contacts", &err);
  for (long i = 0; i < ncontacts; i++) {
    long a = (long)pick((unsigned)naccounts);
    snprintf(id, sizeof id, "%032lx", (unsigned long)(0x100000000ul + (unsigned long)i));
    const char *first = firsts[pick(18)], *last = lasts[pick(18)];
    unsigned r = pick(10);
    bool phone = pick(10) < 7;
    char email[96], ph[24];
    snprintf(email, sizeof email, "%c%s.%ld@%s", first[0] | 0x20, last, i, accts[a].domain);
    for (char *p = email; *p; p++)
      if (*p >= 'A' && *p <= 'Z') *p = (char)(*p | 0x20);
    snprintf(ph, sizeof ph, "+1%03u555%04u", 200 + pick(700), pick(10000));
    char acct_id[40];
    snprintf(acct_id, sizeof acct_id, "%032lx", (unsigned long)a + 1);
    int n = snprintf(fields, sizeof fields,
                     "{\"email\": \"%s\", \"first_name\": \"%s\", \"last_name\": \"%s\","
                     " \"title\": \"%s\", \"seniority\": \"%s\", \"department\": \"%s\","
                     " \"country\": \"%s\", \"account_id\": \"%s\"",
                     email, first, last, roles[r].title, roles[r].sen, roles[r].dept,
                     countries[pick(16)], acct_id);
    if (phone)
      n += snprintf(fields + n, sizeof fields - (size_t)n,
                    ", \"phone\": \"%s\", \"phone_valid\": true, \"phone_type\": \"%s\"", ph,
                    pick(2) ? "mobile" : "fixed_line");
    if (pick(3) == 0)
      n += snprintf(fields + n, sizeof fields - (size_t)n,
                    ", \"linkedin_url\": \"https://linkedin.com/in/u%ld\"", i);
    snprintf(fields + n, sizeof fields - (size_t)n, "}");
    if (pick(4) == 0) snprintf(custom, sizeof custom, "{\"budget\": %u}", pick(200000));
    else snprintf(custom, sizeof custom, "{}");
    snprintf(emails, sizeof emails, "{%s}", email);
    snprintf(phones, sizeof phones, phone ? "{%s}" : "{}", ph);
    snprintf(pos, sizeof pos, "%ld", i + 1);
    /* created_at spread over the last two years */
    unsigned days = pick(730);
    char created_ts[48];
    int64_t us = pv_wall_us() - (int64_t)days * 86400000000ll - (int64_t)pick(86400) * 1000000;
    pv_format_rfc3339_us(us, created_ts);
    const char *row[] = {"bench", id, fields, custom, emails, phones, "1", pos, pos,
                         created_ts, created_ts};
    if (pg_copy_row(c, 11, row, &err)) die("copy contact row", &err);
  }
  if (pg_copy_end(c, NULL, &err)) die("copy contacts end", &err);
  /* suppressions: 5% of emails, 3% of phones */
  exec_or_die(c, "CREATE SEQUENCE bench_pos");
  exec_or_die(c,
              "INSERT INTO rm_suppressions.current SELECT tenant, 'email', email, '', email,"
              " 'unsubscribed', 'bench', now(), 'bench', nextval('bench_pos') FROM"
              " rm_contacts.contacts WHERE tenant = 'bench' AND hashtext(id) % 20 = 0");
  exec_or_die(c,
              "INSERT INTO rm_suppressions.current SELECT DISTINCT ON (fields->>'phone') tenant,"
              " 'phone', fields->>'phone', '', fields->>'phone', 'dnc', 'bench', now(), 'bench',"
              " nextval('bench_pos') FROM rm_contacts.contacts WHERE tenant = 'bench' AND"
              " fields ? 'phone' AND hashtext(id || 'p') % 33 = 0");
  /* contact_facts, by the function the segments projection calls per
   * batch, here once for every contact */
  uint64_t t0 = pv_mono_ns();
  exec_or_die(c, "SELECT set_config('search_path', 'rm_segments, public', false)");
  exec_or_die(c, "SELECT seg_lib.refresh_facts('bench', ARRAY(SELECT id FROM"
                 " rm_contacts.contacts WHERE tenant = 'bench'))");
  printf("bench segments.facts_build_s %.1f s\n", (double)(pv_mono_ns() - t0) / 1e9);
  exec_or_die(c, "VACUUM ANALYZE rm_segments.contact_facts");
  exec_or_die(c, "VACUUM ANALYZE rm_contacts.contacts");
  exec_or_die(c, "VACUUM ANALYZE rm_accounts.accounts");
  exec_or_die(c, "VACUUM ANALYZE rm_suppressions.current");
  free(accts);
}

static const struct { const char *name, *filter; } filters[] = {
    {"seniority_in", "{\"field\":\"contact.seniority\",\"operator\":\"in\",\"value\":[\"vp\","
                     "\"c_level\"]}"},
    {"country_and_phone", "{\"op\":\"and\",\"conditions\":[{\"field\":\"contact.country\","
                          "\"operator\":\"equals\",\"value\":\"US\"},{\"field\":"
                          "\"contact.has_phone\",\"operator\":\"equals\",\"value\":true}]}"},
    {"account_industry_size", "{\"op\":\"and\",\"conditions\":[{\"field\":\"account.industry\","
                              "\"operator\":\"equals\",\"value\":\"software\"},{\"field\":"
                              "\"account.employee_count\",\"operator\":\"between\",\"value\":"
                              "[100,1000]}]}"},
    {"title_contains", "{\"field\":\"contact.title\",\"operator\":\"contains\",\"value\":"
                       "\"market\"}"},
    {"domain_ends_with", "{\"field\":\"contact.email_domain\",\"operator\":\"ends_with\","
                         "\"value\":\".io\"}"},
    {"created_last_30d", "{\"field\":\"contact.created_at\",\"operator\":\"within_last_days\","
                         "\"value\":30}"},
    {"nested_not_suppressed",
     "{\"op\":\"and\",\"conditions\":[{\"op\":\"or\",\"conditions\":[{\"field\":"
     "\"contact.department\",\"operator\":\"equals\",\"value\":\"sales\"},{\"field\":"
     "\"contact.seniority\",\"operator\":\"equals\",\"value\":\"director\"}]},{\"op\":\"not\","
     "\"conditions\":[{\"field\":\"contact.email_suppressed\",\"operator\":\"equals\","
     "\"value\":true}]}]}"},
    {"custom_budget", "{\"field\":\"contact.custom_number\",\"key\":\"budget\",\"operator\":"
                      "\"gt\",\"value\":150000}"},
    {"emailable_callable_countries",
     "{\"op\":\"and\",\"conditions\":[{\"field\":\"contact.emailable\",\"operator\":\"equals\","
     "\"value\":true},{\"field\":\"contact.callable\",\"operator\":\"equals\",\"value\":true},"
     "{\"field\":\"contact.country\",\"operator\":\"in\",\"value\":[\"US\",\"CA\",\"GB\"]}]}"},
    {"email_exact", "{\"field\":\"contact.email\",\"operator\":\"equals\",\"value\":"
                    "\"jsmith.4242@acct17.com\"}"},
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double preview_ms(pg_conn *c, const char *filter_json, long *count) {
  cJSON *f = cJSON_Parse(filter_json);
  seg_sql q;
  seg_sql_init(&q, 2);
  pv_error err = PV_ERROR_INIT;
  if (seg_compile(f, SEG_CONTACT, "/filter", &q, &err)) die("compile", &err);
  cJSON_Delete(f);
  pv_buf sql = PV_BUF_INIT;
  seg_preview_sql(&sql, SEG_CONTACT, q.where.data, 10);
  const char **v = calloc(q.nparams + 1, sizeof *v);
  v[0] = "bench";
  for (size_t i = 0; i < q.nparams; i++) v[i + 1] = q.params[i];
  PGresult *res = NULL;
  uint64_t t0 = pv_mono_ns();
  if (pg_exec(c, sql.data, (int)q.nparams + 1, v, &res, &err)) die("preview", &err);
  double ms = (double)(pv_mono_ns() - t0) / 1e6;
  cJSON *j = cJSON_Parse(PQgetvalue(res, 0, 0));
  *count = (long)cJSON_GetObjectItem(j, "count")->valuedouble;
  cJSON_Delete(j);
  PQclear(res);
  free(v);
  pv_buf_release(&sql);
  seg_sql_release(&q);
  return ms;
}

/* Convert: the snapshot statement, then the events, then the fold. */
static double convert(pg_conn *c, writer_t *w, proj_engine *e, const char *filter_json,
                      long *members) {
  static const char *const seg_only[] = {"segments", NULL};
  pv_error err = PV_ERROR_INIT;
  uint64_t t0 = pv_mono_ns();
  cJSON *f = cJSON_Parse(filter_json);
  seg_sql q;
  seg_sql_init(&q, 2);
  if (seg_compile(f, SEG_CONTACT, "/filter", &q, &err)) die("compile", &err);
  cJSON_Delete(f);
  pv_buf sql = PV_BUF_INIT;
  pv_buf_addf(&sql,
              "SELECT (SELECT position FROM pivotal.proj_checkpoint WHERE name = 'contacts'),"
              " coalesce((SELECT string_agg(x.id, E'\\n' ORDER BY x.id) FROM (SELECT c.id id"
              " %s(%s)) x), '')",
              seg_from_sql(SEG_CONTACT), q.where.data);
  const char **v = calloc(q.nparams + 1, sizeof *v);
  v[0] = "bench";
  for (size_t i = 0; i < q.nparams; i++) v[i + 1] = q.params[i];
  PGresult *res = NULL;
  if (pg_exec(c, sql.data, (int)q.nparams + 1, v, &res, &err)) die("snapshot", &err);
  char *ids = PQgetvalue(res, 0, 1);
  size_t n = 1;
  for (char *p = ids; *p; p++) n += *p == '\n';
  const char **rec = calloc(n, sizeof *rec);
  size_t k = 0;
  for (char *p = ids; p;) {
    rec[k++] = p;
    char *nl = strchr(p, '\n');
    if (nl) *nl = '\0';
    p = nl ? nl + 1 : NULL;
  }
  pv_buf payload = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 12);
  const char *kv[][2] = {{"list_id", "bench-list"}, {"entity_type", "contact"},
                         {"name", "VP and C-level"}, {"visibility", "global"},
                         {"team", "admin"}, {"owner", "bench"}, {"source_type", "segment"},
                         {"source_ref", "bench-segment"}, {"filter", filter_json}};
  for (size_t i = 0; i < 9; i++) {
    mp_pack_cstr(&pk, kv[i][0]);
    mp_pack_cstr(&pk, kv[i][1]);
  }
  mp_pack_cstr(&pk, "tags");
  msgpack_pack_array(&pk, 0);
  mp_pack_cstr(&pk, "snapshot_position");
  msgpack_pack_uint64(&pk, strtoull(PQgetvalue(res, 0, 0), NULL, 10));
  mp_pack_cstr(&pk, "snapshot_ts");
  msgpack_pack_int64(&pk, pv_wall_us());
  aud_cmd ac = {.kind = AUD_LIST, .action = AUD_CREATE, .id = "bench-list",
                .by = {"bench", "admin", true}, .payload = payload.data,
                .payload_len = payload.len, .record_ids = rec, .record_count = k};
  writer_cmd cmd = {.tenant = "bench", .actor = "bench"};
  if (aud_bind(&ac, &cmd, &err)) die("bind", &err);
  if (writer_run(w, &cmd)) die("convert command", &cmd.error);
  uint64_t last = cmd.first_position + cmd.event_count - 1;
  if (proj_wait_position_sync(e, seg_only, 1, last, 600000)) die("fold", NULL);
  double ms = (double)(pv_mono_ns() - t0) / 1e6;
  *members = (long)k;
  pv_buf_release(&payload);
  free(rec);
  PQclear(res);
  free(v);
  pv_buf_release(&sql);
  seg_sql_release(&q);
  return ms;
}

/* The export's cursor and CSV rendering over a 1M-member list. */
static double export_ms(pg_conn *c, long *rows_out) {
  pv_error err = PV_ERROR_INIT;
  exec_or_die(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  uint64_t t0 = pv_mono_ns();
  exec_or_die(c,
              "DECLARE seg_export NO SCROLL CURSOR FOR SELECT m.record_id, c.email,"
              " c.first_name, c.last_name, c.fields->>'title', c.seniority, c.department,"
              " c.fields->>'phone', c.fields->>'country', c.account_id, a.name FROM"
              " rm_segments.list_members m LEFT JOIN rm_contacts.contacts c ON c.tenant ="
              " m.tenant AND c.id = m.record_id LEFT JOIN rm_accounts.accounts a ON a.tenant ="
              " c.tenant AND a.id = c.account_id WHERE m.tenant = 'bench' AND m.list_id ="
              " 'everyone' ORDER BY m.record_id COLLATE \"C\"");
  pv_buf out = PV_BUF_INIT;
  long rows = 0;
  size_t bytes = 0;
  for (;;) {
    PGresult *res = NULL;
    if (pg_exec(c, "FETCH 5000 FROM seg_export", 0, NULL, &res, &err)) die("fetch", &err);
    int n = PQntuples(res);
    pv_buf_reset(&out);
    for (int r = 0; r < n; r++) {
      for (int col = 0; col < 11; col++) {
        if (col) pv_buf_addch(&out, ',');
        const char *s = PQgetvalue(res, r, col);
        /* the export's CSV quoting (api_cmpl.c cmpl_csv_field) */
        if (strpbrk(s, ",\"\r\n") || s[0] == '=' || s[0] == '@') {
          pv_buf_addch(&out, '"');
          for (; *s; s++) {
            if (*s == '"') pv_buf_addch(&out, '"');
            pv_buf_addch(&out, *s);
          }
          pv_buf_addch(&out, '"');
        } else {
          pv_buf_addstr(&out, s);
        }
      }
      pv_buf_addstr(&out, "\r\n");
    }
    bytes += out.len;
    rows += n;
    PQclear(res);
    if (n < 5000) break;
  }
  exec_or_die(c, "COMMIT");
  double ms = (double)(pv_mono_ns() - t0) / 1e6;
  pv_buf_release(&out);
  *rows_out = rows;
  (void)bytes;
  return ms;
}

int main(void) {
  long ncontacts = (long)env_num("BENCH_CONTACTS", 1000000);
  long naccounts = (long)env_num("BENCH_ACCOUNTS", 100000);
  int runs = (int)env_num("BENCH_RUNS", 11);
  pv_error err = PV_ERROR_INIT;
  char dir[] = "/tmp/bench-segments-XXXXXX", log_dir[64];
  if (!mkdtemp(dir)) die("mkdtemp", NULL);
  chmod(dir, 0711);
  snprintf(log_dir, sizeof log_dir, "%s/log", dir);
  bench_db db;
  if (bench_db_open(&db, dir, "segments", &err)) die("database", &err);
  const char *conninfo = db.conninfo;
  pg_conn *c;
  if (pg_connect(&c, conninfo, &err)) die("connect", &err);

  uint64_t t0 = pv_mono_ns();
  load(c, ncontacts, naccounts);
  printf("bench segments.load_s %.1f s\n", (double)(pv_mono_ns() - t0) / 1e9);
  fflush(stdout);

  double worst = 0;
  for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
    long count = 0;
    preview_ms(c, filters[i].filter, &count); /* warm-up */
    double *ms = calloc((size_t)runs, sizeof *ms);
    for (int r = 0; r < runs; r++) ms[r] = preview_ms(c, filters[i].filter, &count);
    qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
    double p50 = ms[runs / 2], p99 = ms[(int)((runs - 1) * 0.99 + 0.5)];
    printf("bench segments.preview_%s_p50_ms %.1f ms\n", filters[i].name, p50);
    printf("bench segments.preview_%s_p99_ms %.1f ms\n", filters[i].name, p99);
    printf("bench segments.preview_%s_count %ld rows\n", filters[i].name, count);
    fflush(stdout);
    if (p99 > worst) worst = p99;
    free(ms);
  }
  printf("bench segments.preview_p99_ms %.1f ms\n", worst);
  fflush(stdout);

  /* convert: a log, the writer and the segments projection */
  log_t *log;
  mkdir(log_dir, 0700);
  log_options lopt = {.map_size_bytes = (size_t)1 << 30};
  if (log_open(&log, log_dir, &lopt, &err)) die("log", &err);
  writer_t *w;
  if (writer_start(&w, log, NULL, &err)) die("writer", &err);
  exec_or_die(c, "INSERT INTO pivotal.proj_checkpoint (name, position) VALUES ('contacts',"
                 " 1000000000), ('accounts', 1000000000), ('suppressions', 1000000000)"
                 " ON CONFLICT (name) DO UPDATE SET position = excluded.position");
  static const char *const seg_only[] = {"segments", NULL};
  proj_options popt = {.names = seg_only};
  proj_engine *e;
  if (proj_engine_start(&e, log, w, conninfo, &popt, &err)) die("engine", &err);
  long members = 0;
  double conv = convert(c, w, e, filters[0].filter, &members);
  printf("bench segments.convert_200k_ms %.0f ms\n", conv);
  printf("bench segments.convert_members %ld rows\n", members);
  fflush(stdout);
  proj_engine_stop(e);
  writer_stop(w);
  log_close(log);

  /* export: a list of every contact */
  exec_or_die(c, "INSERT INTO rm_segments.list_members SELECT 'bench', 'everyone', id, 1 FROM"
                 " rm_contacts.contacts WHERE tenant = 'bench'");
  exec_or_die(c, "VACUUM ANALYZE rm_segments.list_members");
  long rows = 0;
  double ex = export_ms(c, &rows);
  printf("bench segments.export_1m_ms %.0f ms\n", ex * 1000000.0 / (double)(rows ? rows : 1));
  printf("bench segments.export_rows_per_s %.0f rows/s\n", (double)rows / (ex / 1000.0));
  fflush(stdout);

  pg_conn_free(c);
  if (bench_db_close(&db, env_num("BENCH_KEEP_DB", 0) != 0, &err))
    die("drop the database", &err);
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
