/* gen_contacts — see gen_contacts.h. */
#include "tests/bench/gen_contacts.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

static const char *const firsts[] = {
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark",
    "Margaret", "Paul", "Sandra", "Steven", "Ashley", "Andrew", "Emily", "Kenneth", "Donna",
    "Joshua", "Michelle", "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa", "Sophie",
    "Lukas", "Chloé", "Mateo", "Yuki", "Priya", "Ahmed", "Olga", "Björn", "Zoë"};
static const char *const lasts[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Müller", "Schmidt", "Dubois", "Rossi", "Tanaka", "Kowalski", "Novak", "O'Brien", "Nguyen"};
static const char *const titles[] = {
    "Chief Executive Officer", "CTO", "VP Sales", "VP of Marketing", "Head of Engineering",
    "Director of Finance", "IT Director", "Sales Manager", "Marketing Manager",
    "Senior Software Engineer", "Software Engineer", "Account Executive", "HR Business Partner",
    "Procurement Manager", "Operations Analyst", "Data Scientist", "Office Manager",
    "Product Manager", "Customer Success Manager", "Intern"};
static const char *const words[] = {
    "acme", "globex", "initech", "umbrella", "stark", "wayne", "hooli", "vandelay", "north",
    "blue", "river", "summit", "apex", "nova", "orbit", "pixel", "quantum", "vertex", "zenith",
    "harbor", "cedar", "falcon", "granite", "helix", "iron", "juniper", "keystone", "lumen",
    "maple", "nimbus", "oak", "pioneer", "quartz", "redwood", "silver", "terra", "unity",
    "vector", "willow", "xeno", "yonder", "zephyr", "bright", "clear", "delta", "echo"};
static const char *const kinds[] = {"Systems", "Labs", "Group", "Partners", "Software",
                                    "Logistics", "Health", "Capital", "Foods", "Energy"};
static const char *const tlds[] = {"com", "com", "com", "io", "co.uk", "de", "fr", "net"};
/* country, city, phone format: %04u is replaced by the row's four digits */
static const struct {
  const char *country, *city, *fmt;
} places[] = {
    {"US", "San Francisco", "(415) 555-%04u"}, {"US", "New York", "+1 212-555-%04u"},
    {"GB", "London", "020 7946 %04u"},         {"DE", "Berlin", "030 9018%04u"},
    {"FR", "Paris", "01 42 68 %02u %02u"},     {"CA", "Toronto", "416-555-%04u"},
    {"AU", "Sydney", "(02) 9876 %04u"},        {"IN", "Bengaluru", "+91 80 4567 %04u"}};

static uint64_t mix(uint64_t x) { /* splitmix64 */
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

#define PICK(arr, h) arr[(h) % (sizeof arr / sizeof arr[0])]

/* ASCII lowercase letters only, for email local parts. */
static void ascii_lower(char *out, size_t cap, const char *in) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p && n + 1 < cap; p++)
    if (isalpha(*p)) out[n++] = (char)tolower(*p);
  out[n] = '\0';
}

void gen_contact_row(const gen_contacts_cfg *cfg, uint64_t i, gen_contact *c) {
  uint64_t companies = cfg->companies ? cfg->companies : 100000;
  uint64_t co = mix(cfg->seed ^ (i * 0x2545f4914f6cdd1dull)) % companies;
  uint64_t h = mix(cfg->seed + i);
  uint64_t ch = mix(cfg->seed * 31 + co);
  memset(c, 0, sizeof *c);
  const char *w1 = PICK(words, ch), *w2 = PICK(words, ch >> 8), *kind = PICK(kinds, ch >> 16);
  const char *tld = PICK(tlds, ch >> 24);
  snprintf(c->domain, sizeof c->domain, "%s%s%llu.%s", w1, w2, (unsigned long long)co, tld);
  char cap1[32];
  snprintf(cap1, sizeof cap1, "%s", w1);
  cap1[0] = (char)toupper((unsigned char)cap1[0]);
  snprintf(c->company, sizeof c->company, "%s %s %s", cap1, w2, kind);
  switch ((ch >> 32) % 4) {
  case 0: snprintf(c->website, sizeof c->website, "https://www.%s/", c->domain); break;
  case 1: snprintf(c->website, sizeof c->website, "%s", c->domain); break;
  case 2: snprintf(c->website, sizeof c->website, "www.%s", c->domain); break;
  default: snprintf(c->website, sizeof c->website, "http://%s", c->domain); break;
  }
  snprintf(c->first_name, sizeof c->first_name, "%s", PICK(firsts, h));
  snprintf(c->last_name, sizeof c->last_name, "%s", PICK(lasts, h >> 8));
  snprintf(c->title, sizeof c->title, "%s", PICK(titles, h >> 16));
  char fl[32], ll[32];
  ascii_lower(fl, sizeof fl, c->first_name);
  ascii_lower(ll, sizeof ll, c->last_name);
  /* the row number keeps every email distinct */
  snprintf(c->email, sizeof c->email, "%s.%s%llu@%s", fl, ll, (unsigned long long)i, c->domain);
  if ((h >> 24) % 8 == 0) { /* messy spellings */
    c->email[0] = (char)toupper((unsigned char)c->email[0]);
  }
  size_t p = (ch >> 40) % (sizeof places / sizeof places[0]);
  unsigned digits = (unsigned)(100 + (h >> 32) % 100); /* 0100..0199 */
  snprintf(c->country, sizeof c->country, "%s", places[p].country);
  snprintf(c->city, sizeof c->city, "%s", places[p].city);
  if (strcmp(places[p].country, "FR") == 0)
    snprintf(c->phone, sizeof c->phone, places[p].fmt, digits / 100, digits % 100);
  else
    snprintf(c->phone, sizeof c->phone, places[p].fmt, digits);
}

int gen_contacts_csv_header(FILE *f) {
  return fprintf(f, "Email,First Name,Last Name,Job Title,Phone,Country,City,Company,Website\r\n");
}

static void cell(FILE *f, const char *s, bool last) {
  if (strpbrk(s, ",\"\r\n")) {
    fputc('"', f);
    for (; *s; s++) {
      if (*s == '"') fputc('"', f);
      fputc(*s, f);
    }
    fputc('"', f);
  } else {
    fputs(s, f);
  }
  fputs(last ? "\r\n" : ",", f);
}

int gen_contacts_csv_row(FILE *f, const gen_contact *c) {
  cell(f, c->email, false);
  cell(f, c->first_name, false);
  cell(f, c->last_name, false);
  cell(f, c->title, false);
  cell(f, c->phone, false);
  cell(f, c->country, false);
  cell(f, c->city, false);
  cell(f, c->company, false);
  cell(f, c->website, true);
  return ferror(f) ? -1 : 0;
}
