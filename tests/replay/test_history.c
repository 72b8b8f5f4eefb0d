/* Tests of core/history: the generic fold (set, change, remove with nil,
 * unchanged values not reported), what hist_apply records, the state as
 * JSON, and payloads the fold refuses. No LMDB: events are built here. */
#include "core/history.h"
#include "core/mp.h"
#include "core/mp_json.h"
#include "tests/harness/test.h"

#include <stdio.h>

static pv_buf payload;
static msgpack_packer pk;

static msgpack_packer *start_map(uint32_t pairs) {
  pv_buf_release(&payload);
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, pairs);
  return &pk;
}

static evt_envelope event(uint64_t position, uint64_t version, const char *actor) {
  return (evt_envelope){.position = position, .ts_us = (int64_t)position * 1000000,
                        .stream = evt_str("contact-1"), .stream_version = version,
                        .type = evt_str("note.added"), .actor = evt_str(actor),
                        .payload = (const uint8_t *)payload.data, .payload_len = payload.len};
}

/* Changes rendered as "field:old>new;" with values as JSON, "-" for none. */
static pv_buf changes;

static void add_json(const uint8_t *v, size_t len) {
  if (!v) {
    pv_buf_addch(&changes, '-');
    return;
  }
  size_t at = changes.len;
  ASSERT_OK(mpj_append(&changes, v, len));
  ASSERT(changes.len > at);
}

static int record(void *arg, const evt_envelope *e, const hist_change *c) {
  (void)arg;
  pv_buf_addf(&changes, "%.*s@%llu:", (int)c->field.len, c->field.ptr,
              (unsigned long long)e->position);
  add_json(c->old_value, c->old_len);
  pv_buf_addch(&changes, '>');
  add_json(c->new_value, c->new_len);
  pv_buf_addch(&changes, ';');
  return 0;
}

static const char *state_json(const hist_state *st) {
  static pv_buf out;
  pv_buf_reset(&out);
  hist_state_json(st, &out);
  return out.data;
}

static void test_generic_fold_reports_each_change(void) {
  hist_state st;
  hist_state_init(&st);
  pv_error err = PV_ERROR_INIT;

  start_map(2);
  mp_pack_cstr(&pk, "name");
  mp_pack_cstr(&pk, "Ada");
  mp_pack_cstr(&pk, "age");
  msgpack_pack_uint64(&pk, 36);
  evt_envelope e = event(1, 1, "user:1");
  ASSERT_OK(hist_apply(&st, &e, record, NULL, &err));
  ASSERT_STR_EQ(changes.data, "name@1:->\"Ada\";age@1:->36;");
  ASSERT_STR_EQ(state_json(&st), "{\"age\":36,\"name\":\"Ada\"}");
  ASSERT_U64_EQ(st.version, 1);
  ASSERT_U64_EQ(st.last_position, 1);

  /* same name: not reported; age changes; a new field appears */
  pv_buf_reset(&changes);
  start_map(3);
  mp_pack_cstr(&pk, "name");
  mp_pack_cstr(&pk, "Ada");
  mp_pack_cstr(&pk, "age");
  msgpack_pack_uint64(&pk, 37);
  mp_pack_cstr(&pk, "tags");
  msgpack_pack_array(&pk, 1);
  mp_pack_cstr(&pk, "vip");
  e = event(7, 2, "user:2");
  ASSERT_OK(hist_apply(&st, &e, record, NULL, &err));
  ASSERT_STR_EQ(changes.data, "age@7:36>37;tags@7:->[\"vip\"];");
  ASSERT_U64_EQ(st.version, 2);
  ASSERT_U64_EQ(st.last_position, 7);
  ASSERT_EQ(st.last_ts_us, 7000000);

  /* nil removes; nil on an absent field is no change */
  pv_buf_reset(&changes);
  start_map(2);
  mp_pack_cstr(&pk, "age");
  msgpack_pack_nil(&pk);
  mp_pack_cstr(&pk, "never");
  msgpack_pack_nil(&pk);
  e = event(9, 3, "user:1");
  ASSERT_OK(hist_apply(&st, &e, record, NULL, &err));
  ASSERT_STR_EQ(changes.data, "age@9:37>-;");
  ASSERT_STR_EQ(state_json(&st), "{\"name\":\"Ada\",\"tags\":[\"vip\"]}");
  ASSERT(hist_state_get(&st, "age", 3) == NULL);
  const hist_field *f = hist_state_get(&st, "name", 4);
  ASSERT(f != NULL);
  ASSERT_STR_EQ(f->name, "name");

  /* a value of another type is a change even when it prints alike */
  pv_buf_reset(&changes);
  start_map(1);
  mp_pack_cstr(&pk, "name");
  msgpack_pack_double(&pk, 1.0);
  e = event(10, 4, "user:1");
  ASSERT_OK(hist_apply(&st, &e, NULL, NULL, &err)); /* no callback: still folds */
  ASSERT_STR_EQ(changes.data, "");
  ASSERT_STR_EQ(state_json(&st), "{\"name\":1.0,\"tags\":[\"vip\"]}");

  hist_state_release(&st);
  ASSERT_EQ(st.count, 0);
  ASSERT_U64_EQ(st.version, 0);
}

static void test_many_fields_stay_sorted(void) {
  hist_state st;
  hist_state_init(&st);
  start_map(40);
  for (int i = 39; i >= 0; i--) {
    char name[8];
    snprintf(name, sizeof name, "f%02d", i);
    mp_pack_cstr(&pk, name);
    msgpack_pack_uint64(&pk, (uint64_t)i);
  }
  evt_envelope e = event(1, 1, "a");
  ASSERT_OK(hist_apply(&st, &e, NULL, NULL, NULL));
  ASSERT_EQ(st.count, 40);
  for (size_t i = 1; i < st.count; i++) ASSERT(strcmp(st.fields[i - 1].name, st.fields[i].name) < 0);
  ASSERT(hist_state_get(&st, "f17", 3) != NULL);
  ASSERT(hist_state_get(&st, "f1", 2) == NULL);
  hist_state_release(&st);
}

static int stop_at_second(void *arg, const evt_envelope *e, const hist_change *c) {
  int *seen = arg;
  return ++*seen == 2 ? PV_EINTERNAL : 0;
}

static void test_callback_error_stops_the_fold(void) {
  hist_state st;
  hist_state_init(&st);
  start_map(3);
  for (int i = 0; i < 3; i++) {
    mp_pack_cstr(&pk, i == 0 ? "a" : i == 1 ? "b" : "c");
    msgpack_pack_true(&pk);
  }
  evt_envelope e = event(4, 1, "a");
  int seen = 0;
  ASSERT_ERR(hist_apply(&st, &e, stop_at_second, &seen, NULL), PV_EINTERNAL);
  ASSERT_EQ(seen, 2);
  ASSERT_U64_EQ(st.version, 0); /* not recorded as folded */
  hist_state_release(&st);
}

static void test_refused_payloads(void) {
  hist_state st;
  hist_state_init(&st);
  pv_error err = PV_ERROR_INIT;
  pv_buf_release(&payload);
  mp_packer_init(&pk, &payload);
  msgpack_pack_array(&pk, 0);
  evt_envelope e = event(3, 1, "a");
  ASSERT_ERR(hist_apply(&st, &e, NULL, NULL, &err), PV_EBADTYPE);
  ASSERT(strstr(err.message, "position 3") != NULL);

  start_map(1);
  msgpack_pack_uint64(&pk, 1);
  msgpack_pack_true(&pk);
  e = event(3, 1, "a");
  ASSERT_ERR(hist_apply(&st, &e, NULL, NULL, &err), PV_EBADTYPE);

  start_map(1);
  msgpack_pack_str(&pk, 3);
  msgpack_pack_str_body(&pk, "a\0b", 3);
  msgpack_pack_true(&pk);
  e = event(3, 1, "a");
  ASSERT_ERR(hist_apply(&st, &e, NULL, NULL, &err), PV_EINVAL);

  start_map(1);
  mp_pack_cstr(&pk, "a");
  e = event(3, 1, "a");
  e.payload_len = payload.len; /* the value is missing */
  ASSERT_ERR(hist_apply(&st, &e, NULL, NULL, &err), PV_ETRUNCATED);
  ASSERT_EQ(st.count, 0);
  hist_state_release(&st);
}

static void test_rule_table_defaults_to_generic(void) {
  ASSERT(hist_rule_for(evt_str("note.added")) == hist_fold_generic);
  ASSERT(hist_rule_for(evt_str("no.such.type")) == hist_fold_generic);
}

TEST_MAIN(TEST(test_generic_fold_reports_each_change), TEST(test_many_fields_stay_sorted),
          TEST(test_callback_error_stops_the_fold), TEST(test_refused_payloads),
          TEST(test_rule_table_defaults_to_generic))
