/* The suppression race (issue 7): from many threads, thousands of
 * interleavings of "suppress X", "approve a lead of X" and "check X".
 * Afterwards, read from the log: every lead.approved of X lies before X's
 * suppression.added; every approval and every check that started after the
 * suppression's commit was refused / answered "suppressed". */
#include "core/cmpl_internal.h"
#include "core/leads.h"
#include "core/suppressions.h"
#include "tests/compliance/cutil.h"

#include <stdatomic.h>
#include <stdlib.h>

enum { VALUES = 48, LEADS_PER = 4, THREADS = 6, OPS = 500 };

static cu_env env;
static _Atomic int committed[VALUES]; /* set once "suppress X" has returned */
static _Atomic int violations, approvals, refusals, checks_after, suppressions_done;

static void email_of(int i, char *out, size_t cap) {
  snprintf(out, cap, "Person%d@Race.Example", i);
}

static uint32_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return (uint32_t)(*s >> 16);
}

static void *worker(void *arg) {
  uint64_t seed = 0x1234567ull + (uintptr_t)arg * 7919;
  for (int k = 0; k < OPS; k++) {
    int i = (int)(rnd(&seed) % VALUES);
    char email[48];
    email_of(i, email, sizeof email);
    uint32_t op = rnd(&seed) % 10;
    pv_error err = PV_ERROR_INIT;
    if (op < 2) {
      supp_add a = {.by = {ACTOR_ROLE_DATA_OPS, NULL}, .channel = "email", .value = email,
                    .reason = "race", .source = "test"};
      writer_cmd cmd = cu_cmd("user:s");
      if (supp_add_bind(&a, &cmd, &err) || writer_run(env.w, &cmd)) atomic_fetch_add(&violations, 1);
      atomic_store_explicit(&committed[i], 1, memory_order_release);
      atomic_fetch_add(&suppressions_done, 1);
    } else if (op < 6) {
      char lead[32];
      snprintf(lead, sizeof lead, "lead-%d-%u", i, rnd(&seed) % LEADS_PER);
      int before = atomic_load_explicit(&committed[i], memory_order_acquire);
      lead_act a = {.by = {ACTOR_ROLE_QA_ANALYST, NULL}, .lead_id = lead,
                    .action = LEAD_ACT_APPROVE};
      writer_cmd cmd = cu_cmd("user:q");
      if (lead_act_bind(&a, &cmd, &err)) atomic_fetch_add(&violations, 1);
      int rc = writer_run(env.w, &cmd);
      if (rc == 0) {
        atomic_fetch_add(&approvals, 1);
        if (before) atomic_fetch_add(&violations, 1);
      } else if (rc == PV_ECONFLICT && strcmp(cmd.error.field, "/contact") == 0) {
        atomic_fetch_add(&refusals, 1);
      } else if (rc != PV_ECONFLICT) {
        atomic_fetch_add(&violations, 1);
      }
    } else {
      int before = atomic_load_explicit(&committed[i], memory_order_acquire);
      supp_result r;
      if (supp_check(env.log, "acme", NULL, "email", email, NULL, &r, &err))
        atomic_fetch_add(&violations, 1);
      if (before) {
        atomic_fetch_add(&checks_after, 1);
        if (r.status != SUPP_SUPPRESSED) atomic_fetch_add(&violations, 1);
      }
    }
  }
  return NULL;
}

/* What the log says: lead stream → value index, and each value's first
 * suppression position. */
typedef struct audit {
  uint64_t suppressed_at[VALUES];
  char lead_stream[VALUES * LEADS_PER][32];
  int lead_value[VALUES * LEADS_PER];
  size_t leads;
  size_t approved, bad;
} audit;

static int value_index(const char *key) {
  for (int i = 0; i < VALUES; i++) {
    char want[48];
    snprintf(want, sizeof want, "person%d@race.example", i);
    if (strcmp(want, key) == 0) return i;
  }
  return -1;
}

static int audit_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  (void)raw;
  (void)len;
  audit *a = arg;
  char key[SUPP_KEY_MAX];
  if (mp_slice_eq(e->type, "suppression.added")) {
    ASSERT_OK(cmpl__get_str(e->payload, e->payload_len, "value", key, sizeof key));
    int i = value_index(key);
    ASSERT(i >= 0);
    if (!a->suppressed_at[i]) a->suppressed_at[i] = e->position;
  } else if (mp_slice_eq(e->type, "lead.created")) {
    ASSERT_OK(cmpl__get_str(e->payload, e->payload_len, "email", key, sizeof key));
    snprintf(a->lead_stream[a->leads], 32, "%.*s", (int)e->stream.len, e->stream.ptr);
    a->lead_value[a->leads++] = value_index(key);
  } else if (mp_slice_eq(e->type, "lead.approved")) {
    a->approved++;
    for (size_t k = 0; k < a->leads; k++) {
      if (!mp_slice_eq(e->stream, a->lead_stream[k])) continue;
      uint64_t s = a->suppressed_at[a->lead_value[k]];
      if (s && e->position > s) a->bad++;
    }
  }
  return 0;
}

static void test_suppress_vs_approve_vs_check(void) {
  cu_open(&env);
  pv_error err = PV_ERROR_INIT;
  /* VALUES × LEADS_PER leads under review, created in two bulk rounds */
  enum { N = VALUES * LEADS_PER };
  static lead_create creates[N];
  static writer_cmd cmds[N];
  static char ids[N][32], emails[N][48];
  writer_cmd *ptrs[N];
  for (int n = 0; n < N; n++) {
    snprintf(ids[n], sizeof ids[n], "lead-%d-%d", n / LEADS_PER, n % LEADS_PER);
    email_of(n / LEADS_PER, emails[n], sizeof emails[n]);
    creates[n] = (lead_create){.by = {ACTOR_ROLE_ADMIN, NULL}, .lead_id = ids[n],
                               .contact_id = "c", .campaign_id = "camp", .email = emails[n]};
    cmds[n] = cu_cmd("user:a");
    ASSERT_OK(lead_create_bind(&creates[n], &cmds[n], &err));
    ptrs[n] = &cmds[n];
  }
  cmpl__run_all(env.w, ptrs, N);
  for (int n = 0; n < N; n++) ASSERT_OK(cmds[n].status);
  const char *idp[N];
  for (int n = 0; n < N; n++) idp[n] = ids[n];
  lead_bulk b = {.tenant = "acme", .actor = "user:q", .by = {ACTOR_ROLE_QA_ANALYST, NULL},
                 .action = LEAD_ACT_START_REVIEW};
  static lead_result res[N];
  ASSERT_OK(lead_bulk_run(env.w, &b, idp, N, res, &err));
  for (int n = 0; n < N; n++) ASSERT_OK(res[n].status);

  pthread_t th[THREADS];
  for (uintptr_t t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, worker, (void *)t);
  for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);

  printf("# %d suppressions, %d approvals, %d approvals refused as suppressed, %d checks "
         "after a suppression\n", atomic_load(&suppressions_done), atomic_load(&approvals),
         atomic_load(&refusals), atomic_load(&checks_after));
  ASSERT_EQ(atomic_load(&violations), 0);
  /* the run exercised every side of the race */
  ASSERT(atomic_load(&approvals) > 0);
  ASSERT(atomic_load(&refusals) > 0);
  ASSERT(atomic_load(&checks_after) > 0);
  ASSERT(atomic_load(&suppressions_done) > 0);

  audit *a = calloc(1, sizeof *a);
  uint64_t next = 1;
  while (next <= log_head(env.log))
    ASSERT_OK(log_scan(env.log, next, 4096, 1 << 24, audit_visit, a, &next));
  ASSERT_EQ(a->leads, N);
  ASSERT_EQ(a->approved, (size_t)atomic_load(&approvals));
  ASSERT_EQ(a->bad, 0);
  /* and after the run every suppressed value checks suppressed */
  for (int i = 0; i < VALUES; i++) {
    if (!a->suppressed_at[i]) continue;
    char email[48];
    email_of(i, email, sizeof email);
    supp_result r;
    ASSERT_OK(supp_check(env.log, "acme", NULL, "email", email, NULL, &r, &err));
    ASSERT_EQ(r.status, SUPP_SUPPRESSED);
    ASSERT_U64_EQ(r.position, a->suppressed_at[i]);
  }
  free(a);
  cu_close(&env);
}

TEST_MAIN(TEST(test_suppress_vs_approve_vs_check))
