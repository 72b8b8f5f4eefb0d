/*
 * The field_changes and timeline folds of projections/proj_trail.c (rows
 * computed in C, one COPY) against the SQL folds they replace
 * (rm_lib.fold_field_changes and rm_lib.fold_timeline of schema/011, fed
 * the jsonb batch proj_directory.c used to build for them): the same
 * events folded both ways must leave equal rows, every column (jsonb
 * compared as jsonb, so a JSON null is not an absent value). The SQL fold
 * writes the old one-row-per-change shape into a scratch schema; the C
 * fold writes one row per event into rm_field_changes.events, compared
 * through rm_lib.field_changes(), the expansion the API reads (schema/
 * 056). The events cover every branch of the SQL: several changes with and
 * without source, priority and observed_at, old or new missing or null,
 * nested values and strings needing escapes, custom fields, a
 * secret-named field, the pseudo-fields (deleted, merged_into,
 * identifiers, alternate_domains, definition), notes on contacts,
 * accounts and odd subjects, a stream without '-'. Migration 056's
 * conversion of old rows is checked the same way.
 */
#include "tests/proj/proj_testutil.h"

#include "core/catalog.h"
#include "core/common/pv_time.h"
#include "core/mp_json.h"

#include <cjson/cJSON.h>
#include <string.h>

static void exec_ok(pg_conn *c, const char *sql, int n, const char *const *v) {
  pv_error err = PV_ERROR_INIT;
  if (pg_exec(c, sql, n, v, NULL, &err))
    test__fail(__FILE__, __LINE__, "%s: %s: %s", sql, err.message, err.detail);
}

/* ---- events ------------------------------------------------------------ */

/* A payload written as JSON with ' for " (readable in C), packed as
 * msgpack: integral numbers as integers, others as floats. */
static void pack_json(msgpack_packer *pk, const cJSON *j) {
  if (cJSON_IsNull(j)) {
    msgpack_pack_nil(pk);
  } else if (cJSON_IsBool(j)) {
    if (cJSON_IsTrue(j)) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
  } else if (cJSON_IsNumber(j)) {
    double d = cJSON_GetNumberValue(j);
    if (d == (double)(int64_t)d) msgpack_pack_int64(pk, (int64_t)d);
    else msgpack_pack_double(pk, d);
  } else if (cJSON_IsString(j)) {
    mp_pack_cstr(pk, cJSON_GetStringValue(j));
  } else if (cJSON_IsArray(j)) {
    msgpack_pack_array(pk, (size_t)cJSON_GetArraySize(j));
    for (const cJSON *e = j->child; e; e = e->next) pack_json(pk, e);
  } else {
    msgpack_pack_map(pk, (size_t)cJSON_GetArraySize(j));
    for (const cJSON *e = j->child; e; e = e->next) {
      mp_pack_cstr(pk, e->string);
      pack_json(pk, e);
    }
  }
}

typedef struct ev_spec {
  const char *stream, *type, *payload;
} ev_spec;

/* T: an observed_at (µs); every string escape and some unicode. */
#define T "1767225600123456"
#define ESC "tab\\tnl\\ncr\\rbs\\\\q\\\"sl/ caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ls\\u2028 ctl\\u0001"

static const ev_spec specs[] = {
    {"account-a1", "account.created",
     "{'account_id':'a1','source':'crm','observed_at':" T ",'key':'domain:acme.com',"
     "'changes':[{'field':'name','new':'Acme " ESC "','source':'crm','priority':10,'observed_at':" T "},"
     "{'field':'domain','new':'acme.com','source':'crm','priority':10,'observed_at':" T "},"
     "{'field':'custom_fields.tier','new':{'a':[1,2.5,null,true,{'k':'" ESC "'}],'b':{}},"
     "'source':'crm','priority':-3,'observed_at':-1}],"
     "'alternate_domains_added':['acme.org','acme.net']}"},
    /* no source, priority or observed_at on the change: the payload's
     * source; an empty list makes no row */
    {"account-a1", "account.updated",
     "{'account_id':'a1','source':'manual','observed_at':" T ","
     "'changes':[{'field':'name','old':'Acme " ESC "','new':'Acme2'},"
     "{'field':'industry','old':'x','new':null,'source':'manual'}],"
     "'alternate_domains_added':[],'alternate_domains_removed':['acme.org']}"},
    {"contact-c1", "contact.created",
     "{'contact_id':'c1','source':'import','observed_at':" T ",'key':'email:c1@acme.com',"
     "'changes':[{'field':'email','new':'c1@acme.com','source':'import','priority':5,'observed_at':" T "},"
     "{'field':'first_name','old':null,'new':'Bo \\\"the\\\" \\\\ one','source':'import'},"
     "{'field':'custom_fields.score','new':42.75,'source':'import','priority':1},"
     "{'field':'password_hash','old':'h1','new':'h2','source':'import'},"
     "{'field':'live_hash','source':'import'},"
     "{'field':'title','old':'CTO','extra':[1,{'x':null}]},"
     "{'field':'custom_fields.big','new':[9007199254740993,-1e300,1e-7],'old':{'nested':{'deep':['" ESC "']}}}],"
     "'identifiers_added':[{'kind':'email','value':'c1@acme.com'}]}"},
    {"contact-c1", "contact.updated",
     "{'contact_id':'c1','source':'crm','observed_at':" T ","
     "'changes':[{'field':'last_name','new':'Ng','source':'crm','priority':7,'observed_at':0}],"
     "'identifiers_added':[]}"},
    {"contact-c2", "contact.created",
     "{'contact_id':'c2','source':'import','observed_at':" T ",'key':'ext:crm:2',"
     "'changes':[],'identifiers_added':[{'kind':'ext','value':'crm:2'},{'kind':'phone','value':'+331'}]}"},
    {"contact-c1", "contact.merged",
     "{'contact_id':'c1','loser_id':'c2','changes':[{'field':'phone','new':'+331','source':'import'}],"
     "'identifiers_added':[{'kind':'ext','value':'crm:2'}]}"},
    {"contact-c2", "contact.merged_into", "{'contact_id':'c2','winner_id':'c1'}"},
    {"contact-c1", "contact.merge_undone",
     "{'contact_id':'c1','loser_id':'c2','changes':[{'field':'phone','old':'+331','new':null}],"
     "'identifiers_removed':[{'kind':'ext','value':'crm:2'}]}"},
    {"contact-c2", "contact.unmerged", "{'contact_id':'c2','winner_id':'c1'}"},
    /* other_id: loser_id when the payload has one, even nil (then none) */
    {"contact-c3", "contact.merged",
     "{'contact_id':'c3','loser_id':null,'winner_id':'c9','source':null,'changes':[]}"},
    {"contact-c3", "contact.merged_into", "{'contact_id':'c3','loser_id':'c4','winner_id':'c5'}"},
    {"contact-c2", "contact.deleted", "{'contact_id':'c2'}"},
    {"contact-c2", "contact.restored", "{'contact_id':'c2'}"},
    {"account-a1", "account.deleted", "{'account_id':'a1'}"},
    {"account-a1", "account.restored", "{'account_id':'a1'}"},
    {"custom_field-account.tier", "custom_field.defined",
     "{'entity':'account','name':'tier','type':'select','options':['gold','" ESC "']}"},
    {"custom_field-contact.note", "custom_field.defined",
     "{'name':'note','entity':'contact','type':'text','options':null}"},
    {"note-n1", "note.added", "{'subject':'contact-c1','text':'multi\\nline " ESC "'}"},
    {"note-n2", "note.added", "{'subject':'account-a1','text':'bad utf-8 \xff\xfe end'}"},
    /* a subject without '-' is its own entity and id; one without an id
     * makes no entry */
    {"note-n3", "note.added", "{'subject':'lead','text':'no dash'}"},
    {"note-n4", "note.added", "{'subject':'contact-','text':'no id'}"},
    {"weird", "contact.updated",
     "{'contact_id':'w','source':'x','observed_at':1,'changes':[{'field':'a-b','new':'-'}]}"},
};
#define NSPECS (sizeof specs / sizeof specs[0])

typedef struct events {
  evt_envelope ev[NSPECS];
  pv_buf payload[NSPECS];
} events;

static void events_make(events *es, uint64_t first) {
  for (size_t i = 0; i < NSPECS; i++) {
    char json[4096];
    ASSERT(strlen(specs[i].payload) < sizeof json);
    snprintf(json, sizeof json, "%s", specs[i].payload);
    for (char *q = json; *q; q++)
      if (*q == '\'') *q = '"';
    cJSON *doc = cJSON_Parse(json);
    if (!doc) test__fail(__FILE__, __LINE__, "payload %zu is not JSON: %s", i, json);
    pv_buf_init(&es->payload[i], 0);
    msgpack_packer pk;
    mp_packer_init(&pk, &es->payload[i]);
    pack_json(&pk, doc);
    cJSON_Delete(doc);
    es->ev[i] = (evt_envelope){
        .position = first + i,
        .ts_us = 1767225600000000 + (int64_t)i * 1000001,
        .tenant = evt_str("t1"),
        .stream = evt_str(specs[i].stream),
        .stream_version = i + 1,
        .type = evt_str(specs[i].type),
        .type_version = 1,
        .actor = evt_str(i % 2 ? "user:u1" : "system"),
        .correlation = evt_str("req-1"),
        .payload = (const uint8_t *)es->payload[i].data,
        .payload_len = es->payload[i].len,
    };
  }
}

static void events_release(events *es) {
  for (size_t i = 0; i < NSPECS; i++) pv_buf_release(&es->payload[i]);
}

/* The jsonb batch the SQL folds read, as proj_directory.c built it for
 * them: the envelope, the whole payload through cat_payload_json and x.s,
 * the changed fields whose names are secret. */
static void old_batch(const events *es, pv_buf *b) {
  pv_buf_addch(b, '[');
  for (size_t i = 0; i < NSPECS; i++) {
    const evt_envelope *e = &es->ev[i];
    char ts[32];
    pv_format_rfc3339_us(e->ts_us, ts);
    pv_buf_addf(b, "%s{\"p\":%" PRIu64 ",\"ts\":\"%s\",\"v\":%" PRIu64 ",\"t\":", i ? "," : "",
                e->position, ts, e->stream_version);
    mpj_append_str(b, e->tenant.ptr, e->tenant.len);
    pv_buf_addstr(b, ",\"s\":");
    mpj_append_str(b, e->stream.ptr, e->stream.len);
    pv_buf_addstr(b, ",\"y\":");
    mpj_append_str(b, e->type.ptr, e->type.len);
    pv_buf_addstr(b, ",\"a\":");
    mpj_append_str(b, e->actor.ptr, e->actor.len);
    pv_buf_addstr(b, ",\"d\":");
    ASSERT_OK(cat_payload_json(cat_find(e->type.ptr, e->type.len, 1), e->payload,
                               e->payload_len, b));
    pv_buf_addstr(b, ",\"x\":{\"s\":[");
    mp_reader r;
    uint32_t n = 0;
    if (mp_map_find(e->payload, e->payload_len, "changes", &r) == 0) ASSERT_OK(mp_read_array(&r, &n));
    bool first = true;
    for (uint32_t k = 0; k < n; k++) {
      uint32_t pairs;
      ASSERT_OK(mp_read_map(&r, &pairs));
      for (uint32_t j = 0; j < pairs; j++) {
        mp_slice key, field;
        ASSERT_OK(mp_read_str(&r, &key));
        if (mp_slice_eq(key, "field")) {
          ASSERT_OK(mp_read_str(&r, &field));
          if (!cat_name_is_secret(field.ptr, field.len)) continue;
          if (!first) pv_buf_addch(b, ',');
          first = false;
          mpj_append_str(b, field.ptr, field.len);
        } else {
          ASSERT_OK(mp_skip(&r, 2));
        }
      }
    }
    pv_buf_addstr(b, "]}}");
  }
  pv_buf_addch(b, ']');
}

/* ---- the two ways ------------------------------------------------------ */

/* The old one-row-per-change table of schema/011, which rm_lib.
 * fold_field_changes inserts into, and the timeline's. */
static void make_sql_schema(pg_conn *c) {
  exec_ok(c, "CREATE SCHEMA sq", 0, NULL);
  exec_ok(c,
          "CREATE TABLE sq.changes (position bigint NOT NULL, seq integer NOT NULL,"
          " tenant text NOT NULL, entity text NOT NULL, entity_id text NOT NULL,"
          " field text NOT NULL, old_value jsonb, new_value jsonb, source text,"
          " priority integer, observed_at text, actor text NOT NULL,"
          " ts timestamptz NOT NULL, event_type text NOT NULL, PRIMARY KEY (position, seq))",
          0, NULL);
  exec_ok(c, "CREATE TABLE sq.entries (LIKE rm_timeline.entries INCLUDING ALL)", 0, NULL);
}

static void use_schema(pg_conn *c, const char *s) {
  const char *v[] = {s};
  exec_ok(c, "SELECT set_config('search_path', $1, false)", 1, v);
}

/* The SQL folds of the events, into the tables named changes and entries
 * on search_path. */
static void fold_sql(pg_conn *c, const events *es, const char *search_path) {
  pv_buf b = PV_BUF_INIT;
  old_batch(es, &b);
  use_schema(c, search_path);
  const char *v[] = {b.data};
  exec_ok(c, "SELECT rm_lib.fold_field_changes($1::jsonb)", 1, v);
  exec_ok(c, "SELECT rm_lib.fold_timeline($1::jsonb)", 1, v);
  pv_buf_release(&b);
}

/* The C folds, into the read models' own tables (the engine's
 * search_path is the projection's schema). */
static void fold_c(pg_conn *c, const evt_envelope *ev, size_t n) {
  use_schema(c, "rm_field_changes, rm_timeline");
  pv_error err = PV_ERROR_INIT;
  if (proj_find("field_changes")->fold(c, ev, n, &err))
    test__fail(__FILE__, __LINE__, "field_changes: %s: %s", err.message, err.detail);
  if (proj_find("timeline")->fold(c, ev, n, &err))
    test__fail(__FILE__, __LINE__, "timeline: %s: %s", err.message, err.detail);
}

/* Equal multisets of rows, each side a table or a set-returning call named
 * by a literal: the query is one constant text. */
#define ROWS_DIFFERING(a, b)                                                      \
  "SELECT count(*) FROM ((SELECT * FROM " a " EXCEPT ALL SELECT * FROM " b ")" \
  " UNION ALL (SELECT * FROM " b " EXCEPT ALL SELECT * FROM " a ")) d"
#define assert_rows_equal(c, a, b, line) \
  assert_no_rows_differ(c, ROWS_DIFFERING(a, b), a " vs " b, line)

static void assert_no_rows_differ(pg_conn *c, const char *sql, const char *what, int line) {
  int64_t diff = ptu_query_i64(c, sql);
  if (diff != 0) test__fail(__FILE__, line, "%s: %lld rows differ", what, (long long)diff);
}

static void assert_same(pg_conn *c) {
  assert_rows_equal(c, "sq.changes", "rm_lib.field_changes()", __LINE__);
  assert_rows_equal(c, "sq.entries", "rm_timeline.entries", __LINE__);
}

static void test_c_folds_equal_the_sql_folds(void) {
  char *url = ptu_db();
  pg_conn *c = ptu_connect(url);
  make_sql_schema(c);
  events es;
  events_make(&es, 1);
  fold_sql(c, &es, "sq");
  /* in two batches, as the engine may cut them */
  fold_c(c, es.ev, 5);
  fold_c(c, es.ev + 5, NSPECS - 5);
  assert_same(c);
  /* the cases did happen */
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_lib.field_changes()"), 31);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_timeline.entries"), (int64_t)NSPECS - 3);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_lib.field_changes() WHERE field IN"
                             " ('password_hash', 'live_hash') AND old_value = '\"[redacted]\"'"
                             " AND new_value = '\"[redacted]\"'"), 2);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_lib.field_changes()"
                             " WHERE position = 2 AND seq = 1"
                             " AND source = 'manual' AND priority IS NULL AND observed_at IS NULL"), 1);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_lib.field_changes() WHERE field = 'title'"
                             " AND new_value IS NULL"), 1);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_lib.field_changes() WHERE seq > 1000"), 15);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_lib.field_changes()"
                             " WHERE entity = 'custom_field'"
                             " AND entity_id = 'account.tier' AND new_value ? 'options'"), 1);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_timeline.entries WHERE kind = 'note'"
                             " AND detail->>'text' LIKE 'multi\nline tab\tnl%'"), 1);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_timeline.entries WHERE entity = 'lead'"
                             " AND entity_id = 'lead'"), 1);
  ASSERT_EQ(
      ptu_query_i64(c, "SELECT count(*) FROM rm_timeline.entries WHERE detail ? 'other_id'"),
      5);
  /* one row per event that changes something */
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_field_changes.events"), 17);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(DISTINCT position) FROM rm_lib.field_changes()"), 17);
  /* a JSON null old or new is the key with null, an absent one no key,
   * and the expansion tells them apart (jsonb_to_recordset would not) */
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_field_changes.events e,"
                             " jsonb_array_elements(e.changes) c(ch) WHERE"
                             " (ch->>'field' = 'first_name' AND ch->'old' = 'null' AND ch ? 'new')"
                             " OR (ch->>'field' = 'title' AND ch ? 'old' AND NOT ch ? 'new')"
                             " OR (ch->>'field' = 'industry' AND ch->'new' = 'null')"), 3);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_lib.field_changes() WHERE"
                             " (field = 'first_name' AND old_value = 'null')"
                             " OR (field = 'title' AND new_value IS NULL AND old_value = '\"CTO\"')"
                             " OR (field = 'industry' AND new_value = 'null')"), 3);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_lib.field_changes() WHERE"
                             " old_value IS NULL"),
            ptu_query_i64(c, "SELECT count(*) FROM sq.changes WHERE old_value IS NULL"));
  events_release(&es);
  pg_conn_free(c);
  pg_testdb_drop(url);
  free(url);
}

/* A payload whose changes do not read fails the batch with the position
 * named, leaves nothing written and the connection usable. */
static void test_unreadable_changes_fail_the_batch(void) {
  char *url = ptu_db();
  pg_conn *c = ptu_connect(url);
  events es;
  events_make(&es, 1);
  pv_buf bad = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &bad);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "contact_id");
  mp_pack_cstr(&pk, "c9");
  mp_pack_cstr(&pk, "changes");
  msgpack_pack_array(&pk, 1);
  mp_pack_cstr(&pk, "not a map");
  es.ev[3].payload = (const uint8_t *)bad.data;
  es.ev[3].payload_len = bad.len;
  use_schema(c, "rm_field_changes, rm_timeline");
  static const char *const names[] = {"field_changes", "timeline"};
  for (size_t k = 0; k < 2; k++) {
    pv_error err = PV_ERROR_INIT;
    ASSERT_ERR(proj_find(names[k])->fold(c, es.ev, NSPECS, &err), PV_EBADTYPE);
    ASSERT(strstr(err.message, "position 4") != NULL);
  }
  /* a priority the old integer column refused */
  pv_buf_reset(&bad);
  mp_packer_init(&pk, &bad);
  msgpack_pack_map(&pk, 1);
  mp_pack_cstr(&pk, "changes");
  msgpack_pack_array(&pk, 1);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "field");
  mp_pack_cstr(&pk, "email");
  mp_pack_cstr(&pk, "priority");
  msgpack_pack_int64(&pk, (int64_t)INT32_MAX + 1);
  es.ev[3].payload = (const uint8_t *)bad.data;
  es.ev[3].payload_len = bad.len;
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(proj_find("field_changes")->fold(c, es.ev, NSPECS, &err), PV_EINVAL);
  ASSERT(strstr(err.message, "position 4") != NULL);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_field_changes.events"), 0);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM rm_timeline.entries"), 0);
  pv_buf_release(&bad);
  events_release(&es);
  pg_conn_free(c);
  pg_testdb_drop(url);
  free(url);
}

/* Migration 056 turns the rows of the old table into rows per event: the
 * SQL fold's rows, written before it, read back through
 * rm_lib.field_changes() unchanged, and the converted rows are those the
 * C fold writes (these events' payload source is recoverable from their
 * rows). */
static void test_migration_converts_the_old_rows(void) {
  char *url = pg_testdb_create();
  pg_conn *c = ptu_connect(url);
  size_t before = 0;
  while (before < pg_schema_migrations_count && pg_schema_migrations[before].version < 56)
    before++;
  pv_error err = PV_ERROR_INIT;
  if (pg_migrate(c, pg_schema_migrations, before, NULL, NULL, NULL, &err))
    test__fail(__FILE__, __LINE__, "migrate: %s: %s", err.message, err.detail);
  events es;
  events_make(&es, 1);
  fold_sql(c, &es, "rm_field_changes, rm_timeline");
  exec_ok(c, "CREATE TABLE public.old_rows AS SELECT * FROM rm_field_changes.changes", 0, NULL);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM public.old_rows"), 31);
  if (pg_migrate(c, pg_schema_migrations, pg_schema_migrations_count, NULL, NULL, NULL, &err))
    test__fail(__FILE__, __LINE__, "migrate: %s: %s", err.message, err.detail);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM pg_tables WHERE schemaname ="
                             " 'rm_field_changes' AND tablename = 'changes'"), 0);
  assert_rows_equal(c, "public.old_rows", "rm_lib.field_changes()", __LINE__);
  exec_ok(c, "CREATE SCHEMA cc", 0, NULL);
  exec_ok(c, "CREATE TABLE cc.events (LIKE rm_field_changes.events INCLUDING ALL)", 0, NULL);
  exec_ok(c, "CREATE TABLE cc.entries (LIKE rm_timeline.entries INCLUDING ALL)", 0, NULL);
  use_schema(c, "cc");
  if (proj_find("field_changes")->fold(c, es.ev, NSPECS, &err))
    test__fail(__FILE__, __LINE__, "field_changes: %s: %s", err.message, err.detail);
  assert_rows_equal(c, "cc.events", "rm_field_changes.events", __LINE__);
  events_release(&es);
  pg_conn_free(c);
  pg_testdb_drop(url);
  free(url);
}

PG_TEST_MAIN(TEST(test_c_folds_equal_the_sql_folds), TEST(test_unreadable_changes_fail_the_batch),
             TEST(test_migration_converts_the_old_rows))
