/* read5_util — see read5_util.h. */
#include "tests/read5/read5_util.h"


#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const r5_projections[] = {"accounts", "contacts", "field_changes", "timeline", NULL};

void r5_start(r5 *x) {
  memset(x, 0, sizeof *x);
  apit_pg_start(&x->pg, r5_projections, NULL);
  apit *t = &x->pg.t;
  apit_add_user(t, "admin@example.com", "admin", NULL, x->admin);
  apit_add_user(t, "agent@example.com", "agent", NULL, x->agent);
  apit_add_user(t, "ops@example.com", "data_ops", NULL, x->data_ops);
  apit_add_user(t, "qa@example.com", "qa_analyst", NULL, x->qa);
  apit_add_user(t, "client@example.com", "client_user", "acme", x->client);
  x->tok_admin = apit_token(t, x->admin);
  x->tok_agent = apit_token(t, x->agent);
  x->tok_data_ops = apit_token(t, x->data_ops);
  x->tok_qa = apit_token(t, x->qa);
  x->tok_client = apit_token(t, x->client);
}

void r5_stop(r5 *x) {
  apit_pg_stop(&x->pg);
  free(x->tok_admin);
  free(x->tok_agent);
  free(x->tok_data_ops);
  free(x->tok_qa);
  free(x->tok_client);
}

void r5_sync(r5 *x) { apit_pg_sync(&x->pg); }

int r5_run(r5 *x, const char *tenant, writer_decide_fn decide, void *arg, pv_error *err) {
  writer_cmd cmd = {.tenant = tenant ? tenant : "default", .actor = "user:tester",
                    .decide = decide, .arg = arg};
  int rc = writer_run(x->pg.t.writer, &cmd);
  if (err) *err = cmd.error;
  return rc;
}

void r5_account(r5 *x, const char *name, const char *domain, const char *parent,
                char id[ENTITY_ID_LEN + 1]) {
  acct_write_arg a = {.in = {.name = name, .domain = domain, .parent_id = parent,
                             .source = "manual", .observed_at_us = 1700000000000000}};
  pv_error err = PV_ERROR_INIT;
  if (r5_run(x, NULL, acct_create_decide, &a, &err))
    test__fail(__FILE__, __LINE__, "account %s: %s", name, err.message);
  snprintf(id, ENTITY_ID_LEN + 1, "%s", a.out_id);
}

void r5_reparent(r5 *x, const char *id, const char *parent) {
  acct_write_arg a = {.id = id, .in = {.parent_id = parent, .source = "manual",
                                       .observed_at_us = 1700000000000001}};
  pv_error err = PV_ERROR_INIT;
  if (r5_run(x, NULL, acct_update_decide, &a, &err))
    test__fail(__FILE__, __LINE__, "reparent: %s", err.message);
}

void r5_contact(r5 *x, const char *tenant, const char *email, const char *first,
                const char *last, const char *title, const char *source, int64_t observed_at,
                char *id) {
  contact_upsert_arg a;
  memset(&a, 0, sizeof a);
  a.in.email = email;
  a.in.first_name = first;
  a.in.last_name = last;
  a.in.title = title;
  a.in.source = source;
  a.in.observed_at_us = observed_at;
  pv_error err = PV_ERROR_INIT;
  int rc = r5_run(x, tenant, contact_upsert_decide, &a, &err);
  if (rc) test__fail(__FILE__, __LINE__, "contact %s: %s", email, err.message);
  if (id) snprintf(id, ENTITY_ID_LEN + 1, "%s", a.id);
  contact_upsert_release(&a);
}

typedef struct seed_cmd {
  writer_cmd cmd;
  contact_upsert_arg a;
  char email[96];
} seed_cmd;

static atomic_size_t seed_done;
static void on_seeded(writer_cmd *cmd) {
  (void)cmd;
  atomic_fetch_add(&seed_done, 1);
}

void r5_seed(r5 *x, const char *prefix, const char *domain, size_t n,
             const char *(*first)(size_t i)) {
  seed_cmd *s = pv_xcalloc(n, sizeof *s);
  atomic_store(&seed_done, 0);
  pv_error err = PV_ERROR_INIT;
  for (size_t i = 0; i < n; i++) {
    snprintf(s[i].email, sizeof s[i].email, "%s%zu@%s", prefix, i, domain);
    s[i].a.in.email = s[i].email;
    s[i].a.in.first_name = first ? first(i) : "Seed";
    s[i].a.in.last_name = "Contact";
    s[i].a.in.source = "import";
    s[i].a.in.observed_at_us = 1700000000000000 + (int64_t)i;
    ASSERT_OK(contact_upsert_prepare(&s[i].a, &err));
    s[i].cmd = (writer_cmd){.tenant = "default", .actor = "user:seed",
                            .decide = contact_upsert_decide, .arg = &s[i].a,
                            .done = on_seeded};
    ASSERT_OK(writer_submit(x->pg.t.writer, &s[i].cmd));
  }
  struct timespec ms = {0, 1000000};
  while (atomic_load(&seed_done) < n) nanosleep(&ms, NULL);
  for (size_t i = 0; i < n; i++) {
    if (s[i].cmd.status)
      test__fail(__FILE__, __LINE__, "seed %s: %s", s[i].email, s[i].cmd.error.message);
    contact_upsert_release(&s[i].a);
  }
  free(s);
}

static int decide_note(writer_ctx *ctx, void *arg, pv_error *err) {
  const char *const *st = arg;
  pv_buf payload = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "subject");
  mp_pack_cstr(&pk, st[0]);
  mp_pack_cstr(&pk, "text");
  mp_pack_cstr(&pk, st[1]);
  int rc = writer_emit(ctx, st[0], LOG_EXPECT_ANY, "note.added", 1, payload.data, payload.len,
                       err);
  pv_buf_release(&payload);
  return rc;
}

void r5_note(r5 *x, const char *subject, const char *text) {
  const char *st[] = {subject, text};
  ASSERT_OK(r5_run(x, NULL, decide_note, (void *)st, NULL));
}

int r5_get(r5 *x, const char *path, const char *token, cJSON **out) {
  test_response r;
  int status = apit_req(&x->pg.t, "GET", path, token, NULL, NULL, &r);
  if (out) *out = cJSON_ParseWithLength(r.body.data ? r.body.data : "", r.body.len);
  test_response_release(&r);
  return status;
}

void r5_urlenc(const char *s, pv_buf *out) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '-' || *p == '_' || *p == '.' || *p == '~')
      pv_buf_addch(out, (char)*p);
    else
      pv_buf_addf(out, "%%%02X", *p);
  }
}
