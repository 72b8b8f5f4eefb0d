/* Tests of core/catalog: every row is well-formed, validation, and
 * docs/events.md matches the catalogue (argv: path to docs/events.md). */
#include "core/catalog.h"
#include "core/mp.h"
#include "tests/harness/test.h"

#include <stdio.h>
#include <stdlib.h>

static const char *events_md_path;

static void test_rows_are_well_formed(void) {
  ASSERT(cat_count() > 0);
  for (size_t i = 0; i < cat_count(); i++) {
    const cat_event *ev = cat_at(i);
    ASSERT(ev->version >= 1);
    ASSERT(ev->field_count < 64);
    ASSERT(strchr(ev->type, '.') != NULL);
    ASSERT(cat_find(ev->type, strlen(ev->type), ev->version) == ev);
    for (size_t j = i + 1; j < cat_count(); j++)
      ASSERT(!(strcmp(ev->type, cat_at(j)->type) == 0 && ev->version == cat_at(j)->version));
  }
  ASSERT(cat_find("note.added", 10, 99) == NULL);
}

static void test_validation(void) {
  const cat_event *ev = cat_find("note.added", 10, 1);
  ASSERT(ev);
  pv_buf b = PV_BUF_INIT;
  msgpack_packer pk;
  pv_error err = PV_ERROR_INIT;

  mp_packer_init(&pk, &b);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "subject");
  mp_pack_cstr(&pk, "contact-1");
  mp_pack_cstr(&pk, "text");
  mp_pack_cstr(&pk, "hello");
  ASSERT_OK(cat_validate(ev, b.data, b.len, &err));

  pv_buf_reset(&b);
  msgpack_pack_map(&pk, 1);
  mp_pack_cstr(&pk, "subject");
  mp_pack_cstr(&pk, "contact-1");
  ASSERT_ERR(cat_validate(ev, b.data, b.len, &err), PV_EINVAL);
  ASSERT(strstr(err.message, "missing field \"text\""));

  pv_buf_reset(&b);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "subject");
  msgpack_pack_int(&pk, 7);
  mp_pack_cstr(&pk, "text");
  mp_pack_cstr(&pk, "hello");
  ASSERT_ERR(cat_validate(ev, b.data, b.len, &err), PV_EBADTYPE);

  pv_buf_reset(&b);
  msgpack_pack_map(&pk, 3);
  mp_pack_cstr(&pk, "subject");
  mp_pack_cstr(&pk, "c");
  mp_pack_cstr(&pk, "text");
  mp_pack_cstr(&pk, "t");
  mp_pack_cstr(&pk, "surprise");
  msgpack_pack_true(&pk);
  ASSERT_ERR(cat_validate(ev, b.data, b.len, &err), PV_EINVAL);
  ASSERT(strstr(err.message, "no field \"surprise\""));
  pv_buf_release(&b);
}

static void test_secret_fields_are_redacted(void) {
  const cat_event *ev = cat_find("user.registered", 15, 1);
  ASSERT(ev);
  ASSERT(cat_field_find(ev, "password_hash", 13)->secret);
  ASSERT(!cat_field_find(ev, "email", 5)->secret);
  ASSERT(cat_name_is_secret("password_hash", 13));
  ASSERT(!cat_name_is_secret("email", 5));
  ASSERT(cat_name_is_secret("live_hash", 9));
  ASSERT(!cat_name_is_secret("password", 8));             /* a prefix */
  ASSERT(!cat_name_is_secret("password_hashes", 15));     /* longer */
  ASSERT(!cat_name_is_secret("password_hash\0x", 15));    /* NUL inside */
  pv_buf b = PV_BUF_INIT, json = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &b);
  msgpack_pack_map(&pk, 3);
  mp_pack_cstr(&pk, "email");
  mp_pack_cstr(&pk, "jane@x.com");
  mp_pack_cstr(&pk, "password_hash");
  mp_pack_cstr(&pk, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
  mp_pack_cstr(&pk, "role");
  mp_pack_cstr(&pk, "admin");
  ASSERT_OK(cat_payload_json(ev, b.data, b.len, &json));
  ASSERT_STR_EQ(json.data,
                "{\"email\":\"jane@x.com\",\"password_hash\":\"[redacted]\",\"role\":\"admin\"}");
  /* a type not in the catalogue converts as it is */
  pv_buf_reset(&json);
  ASSERT_OK(cat_payload_json(NULL, b.data, b.len, &json));
  ASSERT(strstr(json.data, "argon2id") != NULL);
  /* malformed payloads leave the output as it was */
  pv_buf_reset(&json);
  ASSERT(cat_payload_json(ev, b.data, b.len - 3, &json) != 0);
  ASSERT_EQ(json.len, 0);
  pv_buf_release(&b);
  pv_buf_release(&json);
}

static void test_docs_match_catalogue(void) {
  pv_buf want = PV_BUF_INIT, have = PV_BUF_INIT;
  cat_markdown(&want);
  FILE *f = fopen(events_md_path, "rb");
  if (!f) test__fail(__FILE__, __LINE__, "cannot open %s", events_md_path);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) pv_buf_add(&have, chunk, n);
  fclose(f);
  if (strcmp(want.data, have.data) != 0)
    test__fail(__FILE__, __LINE__,
               "docs/events.md is out of date: run `build/cmd/pivotal events --markdown > "
               "docs/events.md`");
  pv_buf_release(&want);
  pv_buf_release(&have);
}

int main(int argc, char **argv) {
  events_md_path = getenv("EVENTS_MD");
  if (!events_md_path && argc > 1 && argv[argc - 1][0] == '/') events_md_path = argv[--argc];
  static const test_case cases[] = {TEST(test_rows_are_well_formed), TEST(test_validation),
                                    TEST(test_secret_fields_are_redacted),
                                    TEST(test_docs_match_catalogue)};
  return test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
