/*
 * bench norm — the cost of each normalizer of core/norm on the fields of
 * realistic contacts (tests/bench/gen_contacts: emails on company domains,
 * names, titles, national phone numbers of eight countries with the row's
 * country as default). One thread; each figure is the mean thread CPU
 * time (not wall time: the machine is shared) over BENCH_ROWS (default
 * 100,000) rows:
 *   norm.email_ns   norm.website_ns   norm.name_ns   norm.title_ns
 *   norm.phone_ns   norm.row_ns (all five fields of a row, as a contact
 *                   upsert normalizes them)
 */
#include "core/norm/norm.h"
#include "tests/bench/gen_contacts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { F_EMAIL, F_WEBSITE, F_NAME, F_TITLE, F_PHONE, F_COUNT };
static const char *const figure[F_COUNT] = {"email", "website", "name", "title", "phone"};

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(const char *what, const pv_error *err) {
  fprintf(stderr, "bench_norm: %s: %s\n", what, err->message);
  exit(1);
}

/* Normalizes field f of row c; exits on an error the generator never makes. */
static void normalize(int f, const gen_contact *c, pv_buf *display, pv_buf *key) {
  pv_error err = PV_ERROR_INIT;
  norm_email email;
  norm_domain domain;
  norm_title title;
  norm_phone phone;
  switch (f) {
  case F_EMAIL:
    if (norm_email_parse(c->email, strlen(c->email), &email, &err)) fail(c->email, &err);
    break;
  case F_WEBSITE:
    if (norm_domain_parse(c->website, strlen(c->website), &domain, &err)) fail(c->website, &err);
    break;
  case F_NAME:
    if (norm_name_parse(c->last_name, strlen(c->last_name), display, key, &err))
      fail(c->last_name, &err);
    break;
  case F_TITLE:
    if (norm_title_classify(c->title, strlen(c->title), &title, &err)) fail(c->title, &err);
    break;
  case F_PHONE:
    if (norm_phone_parse(c->phone, strlen(c->phone), c->country, &phone, &err))
      fail(c->phone, &err);
    if (!phone.valid) {
      fprintf(stderr, "bench_norm: %s (%s) is not valid: %s\n", c->phone, c->country,
              phone.invalid_reason);
      exit(1);
    }
    break;
  }
}

int main(void) {
  uint64_t rows = getenv("BENCH_ROWS") ? strtoull(getenv("BENCH_ROWS"), NULL, 10) : 100000;
  if (rows == 0) rows = 1;
  gen_contacts_cfg cfg = {.seed = 1, .companies = 0};
  gen_contact *data = malloc(rows * sizeof *data);
  if (!data) return 1;
  for (uint64_t i = 0; i < rows; i++) gen_contact_row(&cfg, i, &data[i]);
  pv_buf display = PV_BUF_INIT, key = PV_BUF_INIT;
  /* warm up: the Public Suffix List, libphonenumber's metadata and regexes */
  for (int f = 0; f < F_COUNT; f++)
    for (uint64_t i = 0; i < 100 && i < rows; i++) normalize(f, &data[i], &display, &key);
  uint64_t total_ns = 0;
  for (int f = 0; f < F_COUNT; f++) {
    uint64_t t0 = thread_cpu_ns();
    for (uint64_t i = 0; i < rows; i++) normalize(f, &data[i], &display, &key);
    uint64_t ns = thread_cpu_ns() - t0;
    total_ns += ns;
    printf("bench norm.%s_ns %.0f ns\n", figure[f], (double)ns / (double)rows);
  }
  printf("bench norm.row_ns %.0f ns\n", (double)total_ns / (double)rows);
  pv_buf_release(&display);
  pv_buf_release(&key);
  free(data);
  return 0;
}
