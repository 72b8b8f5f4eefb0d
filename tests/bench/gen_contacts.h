/*
 * gen_contacts — realistic, deterministic contacts and accounts for tests
 * and benchmarks: people with common first and last names, emails on a set
 * of company domains (first.lastN@, N the row: every email distinct), titles across seniorities and departments,
 * phones in national formats of eight countries (numbers in ranges
 * libphonenumber holds valid, mostly fictional: 555-01xx, Ofcom's drama
 * ranges), the company's name and website in varied spellings.
 *
 * Row i is a pure function of (seed, companies, i): any process can
 * regenerate any row. Thread: any; nothing is shared.
 */
#ifndef PV_GEN_CONTACTS_H
#define PV_GEN_CONTACTS_H

#include <stdint.h>
#include <stdio.h>

typedef struct gen_contact {
  char email[192];
  char first_name[32], last_name[32];
  char title[64];
  char phone[32];
  char country[3];
  char city[32];
  char company[96];
  char website[128]; /* "https://www.x.com/", "x.com", "WWW.X.COM" ... */
  char domain[96];   /* the company's plain domain */
} gen_contact;

typedef struct gen_contacts_cfg {
  uint64_t seed;
  uint64_t companies; /* 0 = 100,000 */
} gen_contacts_cfg;

/* Fills row i. */
void gen_contact_row(const gen_contacts_cfg *cfg, uint64_t i, gen_contact *out);

/* The header line and row i as CSV (RFC 4180, CRLF), as an export from a
 * CRM would have them: Email,First Name,Last Name,Job Title,Phone,Country,
 * City,Company,Website. Returns: bytes written, or -1. */
int gen_contacts_csv_header(FILE *f);
int gen_contacts_csv_row(FILE *f, const gen_contact *c);

#endif
