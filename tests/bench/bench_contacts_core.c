/*
 * bench contacts_core — contact upserts through the writer into a durable
 * LMDB log (default sync flags), 64 concurrent submitters, each waiting for
 * its acknowledgement before the next upsert. Prints:
 *   contacts_core.upserts_per_s   acknowledged upserts per second
 *   contacts_core.created_share   share of upserts that created a contact, %
 *   contacts_core.batch_mean      commands per group commit
 *   contacts_core.commit_mean_ms  time in the commit (write + fsync) per batch
 * The mix: 5 accounts (so every contact is linked by domain), a pool of
 * CONTACT_POOL emails in messy spellings, two sources, names, titles and
 * phones; about half the upserts hit an existing contact. Runs for
 * BENCH_SECONDS (default 3) in a fresh directory under $TMPDIR.
 */
#include "core/accounts.h"
#include "core/common/pv_time.h"
#include "core/contacts.h"
#include "core/writer.h"

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 64 submitters: the brief's figure for a busy HTTP front end. */
#define SUBMITTERS 64
/* Arbitrary: large enough that most early upserts create, later ones update. */
#define CONTACT_POOL 50000

static double seconds = 3;
static writer_t *writer;
static atomic_int stop;
static atomic_ullong done_total, created_total, failed_total;

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w) {
  (void)s, (void)f, (void)w;
  return remove(p);
}

static int run(writer_decide_fn fn, void *arg) {
  writer_cmd cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.tenant = "acme";
  cmd.actor = "bench";
  cmd.decide = fn;
  cmd.arg = arg;
  return writer_run(writer, &cmd);
}

static void *submitter(void *argp) {
  unsigned seed = (unsigned)(uintptr_t)argp * 2654435761u + 1;
  static const char *titles[] = {"VP Sales", "Software Engineer", "CFO", "Marketing Manager"};
  static const char *sources[] = {"crm", "enrichment"};
  char email[96], first[32], phone[32];
  while (!atomic_load(&stop)) {
    seed = seed * 1103515245u + 12345u;
    unsigned n = (seed >> 4) % CONTACT_POOL;
    snprintf(email, sizeof email, (seed & 1) ? " Person%u@Corp%u.example" : "person%u@corp%u.example",
             n, n % 5);
    snprintf(first, sizeof first, "Name%u", n);
    snprintf(phone, sizeof phone, "(212) 5%02u-%04u", n % 100, n % 10000);
    contact_upsert_arg a;
    memset(&a, 0, sizeof a);
    a.in.email = email;
    a.in.first_name = first;
    a.in.title = titles[(seed >> 8) % 4];
    a.in.phone = phone;
    a.in.country = "US";
    a.in.source = sources[(seed >> 10) & 1];
    a.in.observed_at_us = 1700000000000000 + (int64_t)(seed >> 12);
    /* normalized here, on the submitter's thread, as the HTTP layer will */
    int rc = contact_upsert_prepare(&a, NULL);
    if (rc == 0) rc = run(contact_upsert_decide, &a);
    contact_upsert_release(&a);
    if (rc) atomic_fetch_add(&failed_total, 1);
    else {
      atomic_fetch_add(&done_total, 1);
      if (a.created) atomic_fetch_add(&created_total, 1);
    }
  }
  return NULL;
}

int main(void) {
  const char *s = getenv("BENCH_SECONDS");
  if (s && atof(s) > 0) seconds = atof(s);
  const char *tmp = getenv("TMPDIR");
  char dir[256];
  snprintf(dir, sizeof dir, "%s/pivotal-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) abort();
  log_t *log;
  log_options opt = {.map_size_bytes = (size_t)1 << 30};
  if (log_open(&log, dir, &opt, NULL)) abort();
  if (writer_start(&writer, log, NULL, NULL)) abort();
  for (int i = 0; i < 5; i++) {
    char domain[32];
    snprintf(domain, sizeof domain, "corp%d.example", i);
    acct_write_arg a;
    memset(&a, 0, sizeof a);
    a.in.name = domain;
    a.in.domain = domain;
    a.in.source = "manual";
    a.in.observed_at_us = 1;
    if (run(acct_create_decide, &a)) abort();
  }
  pthread_t threads[SUBMITTERS];
  uint64_t start = pv_mono_ns();
  for (uintptr_t i = 0; i < SUBMITTERS; i++)
    pthread_create(&threads[i], NULL, submitter, (void *)(i + 1));
  usleep((useconds_t)(seconds * 1e6));
  atomic_store(&stop, 1);
  for (int i = 0; i < SUBMITTERS; i++) pthread_join(threads[i], NULL);
  double elapsed = (double)(pv_mono_ns() - start) / 1e9;
  unsigned long long done = atomic_load(&done_total);
  if (atomic_load(&failed_total)) {
    fprintf(stderr, "bench contacts_core: %llu upserts failed\n", atomic_load(&failed_total));
    return 1;
  }
  printf("bench contacts_core.upserts_per_s %.0f upserts/s\n", (double)done / elapsed);
  printf("bench contacts_core.created_share %.1f %%\n",
         done ? 100.0 * (double)atomic_load(&created_total) / (double)done : 0.0);
  writer_stats st;
  writer_get_stats(writer, &st);
  printf("bench contacts_core.batch_mean %.1f commands\n",
         st.batches ? (double)st.commands / (double)st.batches : 0.0);
  printf("bench contacts_core.commit_mean_ms %.2f ms\n",
         st.batches ? (double)st.commit_ns_total / (double)st.batches / 1e6 : 0.0);
  writer_stop(writer);
  log_close(log);
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
