/* Helpers shared by the domain tests: a log with a writer, one-call
 * commands, folding an entity from the committed log, index probes. */
#ifndef PV_TESTS_DOMAIN_UTIL_H
#define PV_TESTS_DOMAIN_UTIL_H

#include "core/accounts.h"
#include "core/contacts.h"
#include "core/writer.h"
#include "tests/harness/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DU_TENANT "acme"

typedef struct du_env {
  log_t *log;
  writer_t *w;
} du_env;

static inline void du_open_at(du_env *env, const char *dir) {
  pv_error err = PV_ERROR_INIT;
  if (log_open(&env->log, dir, NULL, &err)) test__fail(__FILE__, __LINE__, "%s", err.message);
  ASSERT_OK(writer_start(&env->w, env->log, NULL, NULL));
}

static inline void du_open(du_env *env) { du_open_at(env, test_tmpdir()); }

static inline void du_close(du_env *env) {
  writer_stop(env->w);
  log_close(env->log);
}

/* Runs one command; returns its status; *cmd_out (may be NULL) gets it. */
static inline int du_run_cmd(du_env *env, writer_decide_fn fn, void *arg, writer_cmd *cmd_out) {
  writer_cmd cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.tenant = DU_TENANT;
  cmd.actor = "user:test";
  cmd.decide = fn;
  cmd.arg = arg;
  int rc = writer_run(env->w, &cmd);
  if (cmd_out) *cmd_out = cmd;
  return rc;
}

static inline int du_run(du_env *env, writer_decide_fn fn, void *arg) {
  return du_run_cmd(env, fn, arg, NULL);
}

/* Runs and fails the test on error, printing the error. */
#define DU_OK(env, fn, arg)                                                    \
  do {                                                                         \
    writer_cmd c_;                                                             \
    int rc_ = du_run_cmd((env), (fn), (arg), &c_);                             \
    if (rc_)                                                                   \
      test__fail(__FILE__, __LINE__, "%s: %s: %s %s", #fn, test__errname(rc_), \
                 c_.error.field, c_.error.message);                            \
  } while (0)

typedef struct du_fold {
  entity_apply_fn apply;
  void *state;
} du_fold;

static inline int du_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  du_fold *f = arg;
  return f->apply(f->state, e->type.ptr, e->type.len, e->payload, e->payload_len) ? -1 : 0;
}

static inline void du_fold_stream(du_env *env, const char *kind, const char *id,
                                  entity_apply_fn apply, void *state) {
  char stream[ENTITY_STREAM_MAX + 1];
  entity_stream(kind, id, stream);
  log_reader *rd;
  ASSERT_OK(log_read_begin(env->log, &rd));
  du_fold f = {apply, state};
  ASSERT_OK(log_read_stream(rd, DU_TENANT, stream, 1, du_visit, &f));
  log_read_end(rd);
}

/* The contact's canonical text (caller frees). */
static inline char *du_contact_text(du_env *env, const char *id) {
  contact_state st;
  contact_state_init(&st);
  du_fold_stream(env, "contact", id, contact_apply, &st);
  pv_buf b = PV_BUF_INIT;
  contact_state_format(&st, &b);
  contact_state_release(&st);
  return pv_buf_detach(&b, NULL);
}

static inline char *du_account_text(du_env *env, const char *id) {
  acct_state st;
  acct_state_init(&st);
  du_fold_stream(env, "account", id, acct_apply, &st);
  pv_buf b = PV_BUF_INIT;
  acct_state_format(&st, &b);
  acct_state_release(&st);
  return pv_buf_detach(&b, NULL);
}

/* Reads the unique index through a command that writes nothing. */
typedef struct du_probe {
  const char *kind, *value;
  char owner[ENTITY_ID_LEN + 1];
} du_probe;

static inline int du_probe_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  du_probe *p = arg;
  if (writer_unique_get(ctx, p->kind, p->value, p->owner, sizeof p->owner) != 0)
    p->owner[0] = '\0';
  return 0;
}

/* The owner of (kind, value), "" if none; points into a static buffer. */
static inline const char *du_owner(du_env *env, const char *kind, const char *value) {
  static du_probe p;
  p.kind = kind;
  p.value = value;
  ASSERT_OK(du_run(env, du_probe_decide, &p));
  return p.owner;
}

/* A contact upsert from the usual parts. */
static inline contact_upsert_arg du_contact(const char *email, const char *first,
                                            const char *source, int64_t at) {
  contact_upsert_arg a;
  memset(&a, 0, sizeof a);
  a.in.email = email;
  a.in.first_name = first;
  a.in.source = source;
  a.in.observed_at_us = at;
  return a;
}

static inline acct_write_arg du_account(const char *name, const char *domain) {
  acct_write_arg a;
  memset(&a, 0, sizeof a);
  a.in.name = name;
  a.in.domain = domain;
  a.in.source = "manual";
  a.in.observed_at_us = 1000;
  return a;
}

#endif
