/*
 * bench_domainsets — issue 8's benchmark: 100k uploaded domains (exact
 * domains written every way users write them, typos the repair fixes,
 * near-miss labels, unknown domains, a third with a company name) against
 * 1M accounts, from the upload's bytes to the completed report.
 *
 * What is measured: the candidate index is loaded directly from generated
 * accounts (1M accounts through the writer would measure the writer, not
 * matching); the file is fed in 64 KiB chunks to the streaming CSV reader
 * (libcsv), normalized with typo repair, deduplicated, matched (exact
 * through the index's domain map, which the service replaces with one
 * LMDB read of the account_domain unique index per lookup, about 1 µs), the
 * report computed, and the set recorded: its created, items, matched and
 * processed events appended through the writer to a log in a temporary
 * directory (one command, one commit). Not included: the read model's COPY
 * (the projection runs after the answer).
 *
 * Prints: index build seconds and its bytes, match_100k_s (upload bytes to
 * the recorded report), its CPU seconds, the parts, the counts.
 * Usage: bench_domainsets [accounts] [domains]   (defaults 1000000 100000);
 * BENCH_NONAME=1 leaves the account_name column empty (labels only).
 */
#include "core/common/pv_time.h"
#include "core/domainsets/ds_set.h"
#include "core/writer.h"

#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

static const char *const words[] = {
    "acme", "global", "blue", "river", "tech", "systems", "data", "cloud", "north", "star",
    "green", "field", "bright", "path", "summit", "peak", "alpha", "beta", "delta", "omega",
    "pacific", "atlantic", "metro", "urban", "rural", "prime", "core", "logic", "smart", "wave",
    "stone", "bridge", "harbor", "lake", "forest", "pine", "oak", "maple", "cedar", "iron",
    "silver", "gold", "copper", "nova", "stellar", "orbit", "quantum", "vector", "matrix", "pixel",
    "digital", "micro", "macro", "health", "care", "med", "bio", "pharma", "labs", "works",
    "group", "partners", "capital", "finance", "bank", "trust", "insure", "realty", "homes", "build",
    "construct", "energy", "power", "solar", "wind", "fuel", "motors", "auto", "fleet", "freight",
    "logistics", "supply", "foods", "farms", "fresh", "market", "retail", "shop", "store", "brands",
    "media", "studio", "films", "music", "games", "sports", "travel", "hotels", "air", "sea",
    "consulting", "legal", "law", "account", "tax", "audit", "network", "secure", "cyber", "soft",
    "ware", "apps", "mobile", "net", "web", "online", "direct", "express", "united", "national",
    "american", "euro", "asia", "india", "texas", "ohio", "boston", "denver", "austin", "phoenix"};
#define NWORDS (sizeof words / sizeof words[0])
static const char *const tlds[] = {"com", "com", "com", "net", "io", "co", "org", "co.uk", "de"};
#define NTLDS (sizeof tlds / sizeof tlds[0])

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void) { /* xorshift64 */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}

/* Syllables for made-up brand words ("zentrova", "kalimor"): with the
 * real words above they give labels as varied as real company domains,
 * which share common words but rarely digits. */
static const char *const syl[] = {
    "ka", "li", "mo", "ra", "zen", "tro", "va", "vex", "qua", "dri", "lo", "ne", "sa", "ti",
    "gro", "bel", "cor", "dan", "el", "fi", "ho", "ix", "jo", "ku", "lum", "mar", "nor", "ox",
    "pre", "ry", "sol", "tek", "ul", "ver", "wi", "xa", "yo", "zu", "bra", "cla", "fle", "gli",
    "pla", "sta", "tri", "vo", "ard", "ens", "ion", "ora", "ux", "ma", "ri", "ko", "te", "na"};
#define NSYL (sizeof syl / sizeof syl[0])
static const char *const suffixes[] = {"inc", "llc", "ltd", "group", "corp", "gmbh", "co", ""};
#define NSUF (sizeof suffixes / sizeof suffixes[0])

typedef struct acct_gen {
  char label[64], domain[80], name[96];
} acct_gen;

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

/* A made-up word of 2 or 3 syllables from the bits of h. */
static void brand_word(uint64_t h, char *out, size_t cap) {
  unsigned n = 2 + (unsigned)(h % 2);
  h /= 2;
  out[0] = 0;
  for (unsigned i = 0; i < n; i++) {
    strncat(out, syl[h % NSYL], cap - strlen(out) - 1);
    h /= NSYL;
  }
}

/* Account i: a brand word, or a brand word with a real word, or two real
 * words; one in twenty with a number. Collisions are made unique by the
 * caller. */
static void gen_account(size_t i, unsigned attempt, acct_gen *a) {
  uint64_t h = mix(i + 1 + (uint64_t)attempt * 0x9e3779b97f4a7c15ull);
  char b1[32], b2[32];
  brand_word(h >> 8, b1, sizeof b1);
  brand_word(mix(h), b2, sizeof b2);
  const char *w1 = words[(h >> 40) % NWORDS], *w2 = words[(h >> 50) % NWORDS];
  switch (h % 6) {
  case 0: snprintf(a->label, sizeof a->label, "%s", b1); break;
  case 1: snprintf(a->label, sizeof a->label, "%s%s", b1, w1); break;
  case 2: snprintf(a->label, sizeof a->label, "%s%s", w1, b1); break;
  case 3: snprintf(a->label, sizeof a->label, "%s-%s", b1, w2); break;
  case 4: snprintf(a->label, sizeof a->label, "%s%s", b1, b2); break;
  default: snprintf(a->label, sizeof a->label, "%s%s%s", w1, w2, (h >> 20) % 20 ? "" : "24"); break;
  }
  snprintf(a->domain, sizeof a->domain, "%s.%s", a->label, tlds[(h >> 30) % NTLDS]);
  snprintf(a->name, sizeof a->name, "%s %s %s", b1, (h >> 33) % 2 ? w1 : "",
           suffixes[(h >> 36) % NSUF]);
}

/* Account i's generated data, made unique against the index by trying the
 * next draw: a taken domain is drawn again, as a new company would pick
 * another name. */
static void gen_unique(ds_index *ix, size_t i, acct_gen *a) {
  for (unsigned attempt = 0;; attempt++) {
    gen_account(i, attempt, a);
    if (ds_index_domain_owner(ix, a->domain, NULL) == UINT32_MAX) return;
  }
}

/* Account j's data after the index is built (the draw gen_unique kept). */
static void gen_lookup(const ds_index *ix, size_t j, acct_gen *a) {
  for (unsigned attempt = 0; attempt < 1000; attempt++) {
    gen_account(j, attempt, a);
    if (ds_index_domain_owner(ix, a->domain, NULL) == (uint32_t)j) return;
  }
}

static void typo(char *d) {
  size_t n = strlen(d);
  char *dot = strchr(d, '.');
  switch (rnd() % 4) {
  case 0: if (dot) *dot = ','; break;
  case 1: if (dot) { memmove(dot + 1, dot, n - (size_t)(dot - d) + 1); } break;
  case 2: strcat(d, ";"); break;
  default: if (n > 3) { memmove(d + 3, d + 2, n - 1); d[2] = ' '; } break;
  }
}

static void near_miss(char *label) {
  size_t n = strlen(label);
  size_t p = rnd() % n;
  switch (rnd() % 3) {
  case 0: label[p] = (char)('a' + rnd() % 26); break;
  case 1: memmove(label + p + 1, label + p, n - p + 1); label[p] = (char)('a' + rnd() % 26); break;
  default: if (n > 4) memmove(label + p, label + p + 1, n - p); break;
  }
}

/* CPU seconds of the whole process (both matching threads): on the shared
 * machine wall time also counts other agents' load. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t exact_by_index(void *arg, const char *domain) {
  return ds_index_domain_owner(arg, domain, NULL);
}

int main(int argc, char **argv) {
  size_t naccounts = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
  size_t ndomains = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;

  uint64_t t0 = pv_mono_ns();
  ds_index *ix = ds_index_new();
  pv_buf display = PV_BUF_INIT, key = PV_BUF_INIT;
  for (size_t i = 0; i < naccounts; i++) {
    acct_gen a;
    gen_unique(ix, i, &a);
    char id[40];
    snprintf(id, sizeof id, "%032zx", i);
    uint32_t ai = ds_index_account(ix, id);
    ds_index_add_domain(ix, ai, a.domain, a.label, true);
    pv_error e = PV_ERROR_INIT;
    if (norm_name_parse(a.name, strlen(a.name), &display, &key, &e) == 0)
      ds_index_set_name(ix, ai, key.data);
    ds_index_contacts_add(ix, ai, (int)(i % 7));
  }
  ds_index_compact(ix);
  double build_s = (double)(pv_mono_ns() - t0) / 1e9;
  ds_index_stats st;
  ds_index_get_stats(ix, &st);

  /* The file. */
  pv_buf file = PV_BUF_INIT;
  pv_buf_addstr(&file, "domain,account_name,notes\n");
  for (size_t i = 0; i < ndomains; i++) {
    acct_gen a;
    gen_lookup(ix, rnd() % naccounts, &a);
    char d[200];
    unsigned kind = rnd() % 100;
    const char *name = "";
    if (kind < 50) { /* exact, written every way */
      static const char *const fmt[] = {"%s", "www.%s", "https://www.%s/about", "HTTP://%s:8080",
                                        "  %s  "};
      snprintf(d, sizeof d, fmt[rnd() % 5], a.domain);
    } else if (kind < 70) { /* a typo the repair fixes */
      snprintf(d, sizeof d, "%s", a.domain);
      typo(d);
    } else if (kind < 85) { /* a near miss on the label */
      char label[80];
      snprintf(label, sizeof label, "%s", a.label);
      near_miss(label);
      snprintf(d, sizeof d, "%s.%s", label, tlds[rnd() % NTLDS]);
    } else { /* unknown */
      snprintf(d, sizeof d, "unknown%u%s.com", rnd(), words[rnd() % NWORDS]);
    }
    if (getenv("BENCH_NONAME") == NULL && rnd() % 3 == 0) name = a.name;
    pv_buf_addf(&file, "\"%s\",\"%s\",row %zu\n", d, name, i);
  }

  uint64_t t1 = pv_mono_ns();
  double c1 = cpu_s();
  ds_items items;
  ds_items_init(&items);
  ds_upload *u = ds_upload_new(DS_FORMAT_CSV, &items);
  pv_error err = PV_ERROR_INIT;
  for (size_t off = 0; off < file.len; off += 65536) {
    size_t n = file.len - off < 65536 ? file.len - off : 65536;
    if (ds_upload_feed(u, file.data + off, n, &err)) break;
  }
  if (err.code == 0) ds_upload_finish(u, &err);
  ds_upload_free(u);
  if (err.code) {
    fprintf(stderr, "upload: %s\n", err.message);
    return 1;
  }
  uint64_t t2 = pv_mono_ns();
  void *args[DS_MATCH_THREADS] = {ix, ix};
  ds_items_match(&items, ix, DS_MATCH_THREADS, exact_by_index, args);
  ds_report r;
  ds_items_report(&items, &r);
  uint64_t t3a = pv_mono_ns();

  /* Record it, as the service does. */
  char dir[] = "/tmp/bench_domainsets.XXXXXX";
  if (!mkdtemp(dir)) return 1;
  log_t *log;
  writer_t *w;
  if (log_open(&log, dir, NULL, &err) || writer_start(&w, log, NULL, &err)) {
    fprintf(stderr, "log: %s\n", err.message);
    return 1;
  }
  char set_id[DS_SET_ID_LEN + 1];
  ds_set_new_id(set_id);
  ds_upload_meta meta = {set_id, "bench", "bench.csv", "csv", NULL, file.len};
  size_t nev;
  ds_prepared *ev = ds_prepare_run(&meta, &items, 1, &r, 0, NULL, 0, &nev);
  ds_emit_arg arg = {set_id, true, 1, ev, nev};
  writer_cmd cmd = {.tenant = "default", .actor = "bench", .decide = ds_emit_decide, .arg = &arg};
  if (writer_run(w, &cmd)) {
    fprintf(stderr, "record: %s\n", cmd.error.message);
    return 1;
  }
  ds_prepared_free(ev, nev);
  uint64_t t3 = pv_mono_ns();
  double c3 = cpu_s();
  writer_stop(w);
  log_close(log);
  char rm[64];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);

  printf("bench domainsets.accounts %zu count\n", naccounts);
  printf("bench domainsets.index_build_s %.2f s\n", build_s);
  printf("bench domainsets.index_mb %.1f MiB\n", (double)st.bytes / (1 << 20));
  printf("bench domainsets.index_postings %zu count\n", st.postings);
  printf("bench domainsets.parse_normalize_s %.2f s\n", (double)(t2 - t1) / 1e9);
  printf("bench domainsets.match_only_s %.2f s\n", (double)(t3a - t2) / 1e9);
  printf("bench domainsets.record_s %.2f s\n", (double)(t3 - t3a) / 1e9);
  printf("bench domainsets.record_events %zu count\n", nev);
  printf("bench domainsets.match_100k_s %.2f s\n", (double)(t3 - t1) / 1e9);
  printf("bench domainsets.match_100k_cpu_s %.2f s\n", c3 - c1);
  printf("bench domainsets.items %llu count\n", (unsigned long long)r.items);
  printf("bench domainsets.exact %llu count\n", (unsigned long long)r.exact);
  printf("bench domainsets.fuzzy %llu count\n", (unsigned long long)r.fuzzy);
  printf("bench domainsets.none %llu count\n", (unsigned long long)r.none);
  printf("bench domainsets.invalid %llu count\n", (unsigned long long)r.invalid);
  printf("bench domainsets.match_rate %.3f ratio\n", r.match_rate);
  ds_items_release(&items);
  pv_buf_release(&file);
  pv_buf_release(&display);
  pv_buf_release(&key);
  ds_index_free(ix);
  return 0;
}
