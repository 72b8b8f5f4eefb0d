/*
 * The field_changes and timeline folds of projections/proj_trail.c (rows
 * computed in C, one COPY) against the SQL folds they replace
 * (rm_lib.fold_field_changes and rm_lib.fold_timeline of schema/011, fed
 * the jsonb batch proj_directory.c used to build for them): the same
 * events folded both ways into two schemas of the same tables must leave
 * equal rows, every column (jsonb compared as jsonb). The events cover
 * every branch of the SQL: several changes with and without source,
 * priority and observed_at, old or new missing, nested values and strings
 * needing escapes, custom fields, a secret-named field, the pseudo-fields
 * (deleted, merged_into, identifiers, alternate_domains, definition),
 * notes on contacts, accounts and odd subjects, a stream without '-'.
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

static void make_schema(pg_conn *c, const char *s) {
  char sql[256];
  snprintf(sql, sizeof sql, "CREATE SCHEMA %s", s);
  exec_ok(c, sql, 0, NULL);
  snprintf(sql, sizeof sql,
           "CREATE TABLE %s.changes (LIKE rm_field_changes.changes INCLUDING ALL)", s);
  exec_ok(c, sql, 0, NULL);
  snprintf(sql, sizeof sql, "CREATE TABLE %s.entries (LIKE rm_timeline.entries INCLUDING ALL)",
           s);
  exec_ok(c, sql, 0, NULL);
}

static void use_schema(pg_conn *c, const char *s) {
  const char *v[] = {s};
  exec_ok(c, "SELECT set_config('search_path', $1, false)", 1, v);
}

static void fold_sql(pg_conn *c, const events *es) {
  pv_buf b = PV_BUF_INIT;
  old_batch(es, &b);
  use_schema(c, "sq");
  const char *v[] = {b.data};
  exec_ok(c, "SELECT rm_lib.fold_field_changes($1::jsonb)", 1, v);
  exec_ok(c, "SELECT rm_lib.fold_timeline($1::jsonb)", 1, v);
  pv_buf_release(&b);
}

static void fold_c(pg_conn *c, const evt_envelope *ev, size_t n) {
  use_schema(c, "cc");
  pv_error err = PV_ERROR_INIT;
  if (proj_find("field_changes")->fold(c, ev, n, &err))
    test__fail(__FILE__, __LINE__, "field_changes: %s: %s", err.message, err.detail);
  if (proj_find("timeline")->fold(c, ev, n, &err))
    test__fail(__FILE__, __LINE__, "timeline: %s: %s", err.message, err.detail);
}

static void assert_same(pg_conn *c) {
  static const char *const tables[] = {"changes", "entries"};
  char sql[512];
  for (size_t i = 0; i < 2; i++) {
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM ((SELECT * FROM sq.%s EXCEPT ALL SELECT * FROM cc.%s) UNION ALL"
             " (SELECT * FROM cc.%s EXCEPT ALL SELECT * FROM sq.%s)) d",
             tables[i], tables[i], tables[i], tables[i]);
    int64_t diff = ptu_query_i64(c, sql);
    if (diff != 0) test__fail(__FILE__, __LINE__, "%s: %lld rows differ", tables[i], (long long)diff);
  }
}

static void test_c_folds_equal_the_sql_folds(void) {
  char *url = ptu_db();
  pg_conn *c = ptu_connect(url);
  make_schema(c, "sq");
  make_schema(c, "cc");
  events es;
  events_make(&es, 1);
  fold_sql(c, &es);
  /* in two batches, as the engine may cut them */
  fold_c(c, es.ev, 5);
  fold_c(c, es.ev + 5, NSPECS - 5);
  assert_same(c);
  /* the cases did happen */
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM cc.changes"), 31);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM cc.entries"), (int64_t)NSPECS - 3);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM cc.changes WHERE field IN"
                             " ('password_hash', 'live_hash') AND old_value = '\"[redacted]\"'"
                             " AND new_value = '\"[redacted]\"'"), 2);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM cc.changes WHERE position = 2 AND seq = 1"
                             " AND source = 'manual' AND priority IS NULL AND observed_at IS NULL"), 1);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM cc.changes WHERE field = 'title'"
                             " AND new_value IS NULL"), 1);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM cc.changes WHERE seq > 1000"), 15);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM cc.changes WHERE entity = 'custom_field'"
                             " AND entity_id = 'account.tier' AND new_value ? 'options'"), 1);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM cc.entries WHERE kind = 'note'"
                             " AND detail->>'text' LIKE 'multi\nline tab\tnl%'"), 1);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM cc.entries WHERE entity = 'lead'"
                             " AND entity_id = 'lead'"), 1);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM cc.entries WHERE detail ? 'other_id'"), 5);
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
  make_schema(c, "cc");
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
  use_schema(c, "cc");
  static const char *const names[] = {"field_changes", "timeline"};
  for (size_t k = 0; k < 2; k++) {
    pv_error err = PV_ERROR_INIT;
    ASSERT_ERR(proj_find(names[k])->fold(c, es.ev, NSPECS, &err), PV_EBADTYPE);
    ASSERT(strstr(err.message, "position 4") != NULL);
  }
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM cc.changes"), 0);
  ASSERT_EQ(ptu_query_i64(c, "SELECT count(*) FROM cc.entries"), 0);
  pv_buf_release(&bad);
  events_release(&es);
  pg_conn_free(c);
  pg_testdb_drop(url);
  free(url);
}

PG_TEST_MAIN(TEST(test_c_folds_equal_the_sql_folds), TEST(test_unreadable_changes_fail_the_batch))
