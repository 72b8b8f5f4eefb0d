/* Helpers shared by the compliance tests: a real log and writer in the
 * case's temporary directory, and one-call command runs. */
#ifndef PV_TESTS_COMPLIANCE_CUTIL_H
#define PV_TESTS_COMPLIANCE_CUTIL_H

#include "core/log.h"
#include "core/writer.h"
#include "tests/harness/test.h"

#include <stdio.h>
#include <string.h>

typedef struct cu_env {
  log_t *log;
  writer_t *w;
} cu_env;

static inline void cu_open(cu_env *env) {
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(log_open(&env->log, test_tmpdir(), NULL, &err));
  ASSERT_OK(writer_start(&env->w, env->log, NULL, &err));
}

/* Ends by checking that the writer and the log close cleanly. */
static inline void cu_close(cu_env *env) {
  writer_stop(env->w);
  log_close(env->log);
}

/* A command for tenant "acme" by actor, not idempotent. */
static inline writer_cmd cu_cmd(const char *actor) {
  writer_cmd c;
  memset(&c, 0, sizeof c);
  c.tenant = "acme";
  c.actor = actor;
  return c;
}

/* Counts the events of type in the whole log. */
typedef struct cu_count {
  const char *type;
  size_t n;
} cu_count;

static inline int cu_count_visit(void *arg, const evt_envelope *e, const uint8_t *raw,
                                 size_t len) {
  (void)raw;
  (void)len;
  cu_count *c = arg;
  if (mp_slice_eq(e->type, c->type)) c->n++;
  return 0;
}

static inline size_t cu_count_events(log_t *log, const char *type) {
  cu_count c = {type, 0};
  uint64_t next = 1;
  while (next <= log_head(log))
    ASSERT_OK(log_scan(log, next, 4096, 1 << 24, cu_count_visit, &c, &next));
  return c.n;
}

#endif
