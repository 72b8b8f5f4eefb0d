/*
 * ds_index — the candidate index (design in ds.h): accounts, their domains
 * (an exact map) and the partition postings over domain labels and
 * company-name keys.
 *
 * Layout, chosen for 1M accounts in a few hundred MB: strings live in one
 * byte arena; each string is a 12-byte row; postings are two parallel
 * uint32 arrays (string, next) chained from an open-addressing table of
 * 64-bit segment hashes. A hash collision only adds a candidate, which the
 * verifier (length, kind, banded Levenshtein) throws out. Nothing is ever
 * unlinked: a replaced string is marked dead.
 */
#include "core/domainsets/ds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define DS_ID_MAX 48

typedef struct ds_str {
  uint32_t acct, off, bag, bigrams;
  uint8_t len, kind, dead;
} ds_str;

typedef struct ds_dom {
  uint32_t off;  /* domain text in the arena; NONE: empty slot */
  uint32_t acct; /* NONE: released */
  uint32_t sid;  /* its label string */
  uint8_t primary;
} ds_dom;

typedef struct ds_key {
  uint64_t h;    /* 0: empty slot */
  uint32_t head; /* postings added since the last compaction (a chain) */
  uint32_t off, count; /* the compacted postings: frozen[off .. off+count) */
} ds_key;

/* A compacted posting: the string and its character-set signature, so
 * most candidates are refused without touching the string. */
typedef struct ds_post {
  uint32_t sid, bag, bigrams;
} ds_post;

struct ds_index {
  char (*ids)[DS_ID_MAX];
  uint32_t *name_sid, *contacts, *primary_dom;
  uint8_t *live;
  size_t nacct, acct_capacity;
  uint32_t *acct_slots; /* acct + 1; 0 empty */
  size_t acct_slot_cap;

  ds_dom *doms;
  size_t ndom, dom_cap;

  char *chars;
  size_t nchars, chars_cap;
  ds_str *strs;
  size_t nstr, str_cap, ndead;

  ds_key *keys;
  size_t nkeys, key_cap;
  uint32_t *post_sid, *post_next; /* the chains */
  size_t npost, post_cap;
  ds_post *frozen;
  size_t nfrozen;
};

struct ds_scratch {
  uint32_t *stamp;
  uint8_t *segs; /* segments of the string matched by this query */
  size_t cap;
  uint32_t gen;
};

/* ---- hashing ----------------------------------------------------------- */

static uint64_t mix64(uint64_t h) { /* MurmurHash3's fmix64 */
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

static uint64_t hash_bytes(const char *s, size_t n, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed; /* FNV-1a, then mixed */
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  h = mix64(h);
  return h ? h : 1;
}

static uint64_t seg_hash(ds_kind kind, size_t n, size_t seg, const char *s, size_t len) {
  uint64_t seed = ((uint64_t)kind << 40) | ((uint64_t)n << 16) | (uint64_t)seg;
  return hash_bytes(s, len, mix64(seed + 0x9e3779b97f4a7c15ull));
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return p;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  p = pv_xrealloc(p, c * elem);
  *cap = c;
  return p;
}

/* The set of characters of s as 32 bits: letters, digits folded onto 4
 * bits, '-', anything else. One edit changes at most two bits, so strings
 * within distance d differ in at most 2d bits (a filter: collisions only
 * let more through). */
static uint32_t char_bag(const char *s, size_t n) {
  uint32_t b = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    unsigned bit = c >= 'a' && c <= 'z' ? (unsigned)(c - 'a')
                   : c >= '0' && c <= '9' ? 26u + c % 4u
                   : c == '-'             ? 30u
                                          : 31u;
    b |= 1u << bit;
  }
  return b;
}

/* The set of adjacent character pairs of s hashed onto 32 bits. One edit
 * removes at most two pairs and adds at most two, so strings within
 * distance d differ in at most 4d bits. With char_bag this refuses about
 * nine in ten of the strings that share a segment with the query before
 * the string itself is read (bench_domainsets). */
static uint32_t bigram_bag(const char *s, size_t n) {
  uint32_t b = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    uint32_t h = ((uint32_t)(unsigned char)s[i] * 31u + (unsigned char)s[i + 1]) * 2654435761u;
    b |= 1u << (h >> 27);
  }
  return b;
}

/* Whether a string with these signatures can be within kp of the query. */
static bool sig_ok(uint32_t bag, uint32_t bigrams, uint32_t qbag, uint32_t qbi, unsigned kp) {
  return (unsigned)__builtin_popcount(bag ^ qbag) <= 2 * kp &&
         (unsigned)__builtin_popcount(bigrams ^ qbi) <= 4 * kp;
}

/* ---- the partition ----------------------------------------------------- */

/* The largest distance any partner of a length-n string may have. */
static unsigned part_k(size_t n) {
  size_t k = 3 * n / 17;
  return k > DS_FUZZY_MAX_DIST ? DS_FUZZY_MAX_DIST : (unsigned)k;
}

/* Segment i of K+1 over length n: start and length (even split, the
 * longer segments last, as PassJoin). */
static void segment(size_t n, unsigned k, size_t i, size_t *start, size_t *len) {
  size_t parts = k + 1, base = n / parts, longer = n % parts, shorter = parts - longer;
  *start = i * base + (i > shorter ? i - shorter : 0);
  *len = base + (i >= shorter ? 1 : 0);
}

/* ---- construction ------------------------------------------------------ */

ds_index *ds_index_new(void) {
  ds_index *ix = pv_xcalloc(1, sizeof *ix);
  ix->acct_slot_cap = 1024;
  ix->acct_slots = pv_xcalloc(ix->acct_slot_cap, sizeof *ix->acct_slots);
  ix->dom_cap = 1024;
  ix->doms = pv_xmalloc(ix->dom_cap * sizeof *ix->doms);
  for (size_t i = 0; i < ix->dom_cap; i++) ix->doms[i].off = NONE;
  ix->key_cap = 4096;
  ix->keys = pv_xcalloc(ix->key_cap, sizeof *ix->keys);
  return ix;
}

void ds_index_free(ds_index *ix) {
  if (!ix) return;
  free(ix->ids);
  free(ix->name_sid);
  free(ix->contacts);
  free(ix->primary_dom);
  free(ix->live);
  free(ix->acct_slots);
  free(ix->doms);
  free(ix->chars);
  free(ix->strs);
  free(ix->keys);
  free(ix->post_sid);
  free(ix->post_next);
  free(ix->frozen);
  free(ix);
}

static uint32_t arena_add(ds_index *ix, const char *s, size_t n) {
  ix->chars = grow(ix->chars, &ix->chars_cap, ix->nchars + n + 1, 1);
  uint32_t off = (uint32_t)ix->nchars;
  memcpy(ix->chars + off, s, n);
  ix->chars[off + n] = 0;
  ix->nchars += n + 1;
  return off;
}

static void acct_rehash(ds_index *ix) {
  size_t cap = ix->acct_slot_cap * 2;
  uint32_t *slots = pv_xcalloc(cap, sizeof *slots);
  for (size_t a = 0; a < ix->nacct; a++) {
    size_t i = hash_bytes(ix->ids[a], strlen(ix->ids[a]), 0) & (cap - 1);
    while (slots[i]) i = (i + 1) & (cap - 1);
    slots[i] = (uint32_t)a + 1;
  }
  free(ix->acct_slots);
  ix->acct_slots = slots;
  ix->acct_slot_cap = cap;
}

uint32_t ds_index_find_account(const ds_index *ix, const char *id) {
  size_t i = hash_bytes(id, strlen(id), 0) & (ix->acct_slot_cap - 1);
  while (ix->acct_slots[i]) {
    uint32_t a = ix->acct_slots[i] - 1;
    if (strcmp(ix->ids[a], id) == 0) return a;
    i = (i + 1) & (ix->acct_slot_cap - 1);
  }
  return NONE;
}

uint32_t ds_index_account(ds_index *ix, const char *id) {
  uint32_t a = ds_index_find_account(ix, id);
  if (a != NONE) return a;
  if ((ix->nacct + 1) * 10 > ix->acct_slot_cap * 7) acct_rehash(ix);
  size_t cap = ix->acct_capacity;
  a = (uint32_t)ix->nacct++;
  ix->ids = grow(ix->ids, &cap, ix->nacct, sizeof *ix->ids);
  cap = ix->acct_capacity;
  ix->name_sid = grow(ix->name_sid, &cap, ix->nacct, sizeof *ix->name_sid);
  cap = ix->acct_capacity;
  ix->contacts = grow(ix->contacts, &cap, ix->nacct, sizeof *ix->contacts);
  cap = ix->acct_capacity;
  ix->primary_dom = grow(ix->primary_dom, &cap, ix->nacct, sizeof *ix->primary_dom);
  cap = ix->acct_capacity;
  ix->live = grow(ix->live, &cap, ix->nacct, sizeof *ix->live);
  ix->acct_capacity = cap;
  snprintf(ix->ids[a], DS_ID_MAX, "%s", id);
  ix->name_sid[a] = NONE;
  ix->contacts[a] = 0;
  ix->primary_dom[a] = NONE;
  ix->live[a] = 1;
  size_t i = hash_bytes(ix->ids[a], strlen(ix->ids[a]), 0) & (ix->acct_slot_cap - 1);
  while (ix->acct_slots[i]) i = (i + 1) & (ix->acct_slot_cap - 1);
  ix->acct_slots[i] = a + 1;
  return a;
}

const char *ds_index_account_id(const ds_index *ix, uint32_t acct) {
  return acct < ix->nacct ? ix->ids[acct] : "";
}
size_t ds_index_account_count(const ds_index *ix) { return ix->nacct; }
void ds_index_set_live(ds_index *ix, uint32_t acct, bool live) {
  if (acct < ix->nacct) ix->live[acct] = live;
}
bool ds_index_is_live(const ds_index *ix, uint32_t acct) {
  return acct < ix->nacct && ix->live[acct];
}
void ds_index_contacts_add(ds_index *ix, uint32_t acct, int delta) {
  if (acct >= ix->nacct) return;
  if (delta < 0 && ix->contacts[acct] < (uint32_t)-delta) ix->contacts[acct] = 0;
  else ix->contacts[acct] = (uint32_t)((int64_t)ix->contacts[acct] + delta);
}
uint32_t ds_index_contacts(const ds_index *ix, uint32_t acct) {
  return acct < ix->nacct ? ix->contacts[acct] : 0;
}

static void keys_rehash(ds_index *ix) {
  size_t cap = ix->key_cap * 2;
  ds_key *keys = pv_xcalloc(cap, sizeof *keys);
  for (size_t i = 0; i < ix->key_cap; i++) {
    if (!ix->keys[i].h) continue;
    size_t j = ix->keys[i].h & (cap - 1);
    while (keys[j].h) j = (j + 1) & (cap - 1);
    keys[j] = ix->keys[i];
  }
  free(ix->keys);
  ix->keys = keys;
  ix->key_cap = cap;
}

static void post_add(ds_index *ix, uint64_t h, uint32_t sid) {
  if ((ix->nkeys + 1) * 10 > ix->key_cap * 7) keys_rehash(ix);
  size_t j = h & (ix->key_cap - 1);
  while (ix->keys[j].h && ix->keys[j].h != h) j = (j + 1) & (ix->key_cap - 1);
  if (!ix->keys[j].h) {
    ix->keys[j] = (ds_key){h, NONE, 0, 0};
    ix->nkeys++;
  }
  size_t cap = ix->post_cap;
  ix->post_sid = grow(ix->post_sid, &cap, ix->npost + 1, sizeof *ix->post_sid);
  cap = ix->post_cap;
  ix->post_next = grow(ix->post_next, &cap, ix->npost + 1, sizeof *ix->post_next);
  ix->post_cap = cap;
  ix->post_sid[ix->npost] = sid;
  ix->post_next[ix->npost] = ix->keys[j].head;
  ix->keys[j].head = (uint32_t)ix->npost++;
}

static const ds_key *key_find(const ds_index *ix, uint64_t h) {
  size_t j = h & (ix->key_cap - 1);
  while (ix->keys[j].h) {
    if (ix->keys[j].h == h) return &ix->keys[j];
    j = (j + 1) & (ix->key_cap - 1);
  }
  return NULL;
}

/*
 * Compaction: every chain (and the old frozen ranges) into one array in
 * key order, so a lookup reads one contiguous run. Chains are followed by
 * pointer and each hop is a cache miss; at 1M accounts that was most of a
 * query's time. New postings after this go to chains again.
 */
void ds_index_compact(ds_index *ix) {
  size_t total = ix->nfrozen + ix->npost;
  ds_post *out = pv_xmalloc((total ? total : 1) * sizeof *out);
  size_t w = 0;
  for (size_t j = 0; j < ix->key_cap; j++) {
    ds_key *k = &ix->keys[j];
    if (!k->h) continue;
    size_t off = w;
    for (uint32_t i = 0; i < k->count; i++) {
      uint32_t sid = ix->frozen[k->off + i].sid;
      if (!ix->strs[sid].dead) out[w++] = ix->frozen[k->off + i];
    }
    for (uint32_t e = k->head; e != NONE; e = ix->post_next[e]) {
      uint32_t sid = ix->post_sid[e];
      if (!ix->strs[sid].dead)
        out[w++] = (ds_post){sid, ix->strs[sid].bag, ix->strs[sid].bigrams};
    }
    k->off = (uint32_t)off;
    k->count = (uint32_t)(w - off);
    k->head = NONE;
  }
  free(ix->frozen);
  ix->frozen = out;
  ix->nfrozen = w;
  ix->npost = 0;
}

size_t ds_index_uncompacted(const ds_index *ix) { return ix->npost; }

static uint32_t str_add(ds_index *ix, uint32_t acct, ds_kind kind, const char *s) {
  size_t n = strlen(s);
  if (n > DS_STR_MAX) n = DS_STR_MAX;
  if (n == 0) return NONE;
  ix->strs = grow(ix->strs, &ix->str_cap, ix->nstr + 1, sizeof *ix->strs);
  uint32_t sid = (uint32_t)ix->nstr++;
  ix->strs[sid] = (ds_str){acct, arena_add(ix, s, n), char_bag(s, n), bigram_bag(s, n),
                           (uint8_t)n, (uint8_t)kind, 0};
  unsigned k = part_k(n);
  const char *p = ix->chars + ix->strs[sid].off;
  for (size_t i = 0; i <= k; i++) {
    size_t start, len;
    segment(n, k, i, &start, &len);
    post_add(ix, seg_hash(kind, n, i, p + start, len), sid);
  }
  return sid;
}

static void str_kill(ds_index *ix, uint32_t sid) {
  if (sid == NONE || ix->strs[sid].dead) return;
  ix->strs[sid].dead = 1;
  ix->ndead++;
}

void ds_index_set_name(ds_index *ix, uint32_t acct, const char *name_key) {
  if (acct >= ix->nacct) return;
  char key[DS_STR_MAX + 1];
  ds_company_key(name_key, key, sizeof key);
  name_key = key;
  uint32_t old = ix->name_sid[acct];
  if (old != NONE && strcmp(ix->chars + ix->strs[old].off, name_key) == 0) return;
  str_kill(ix, old);
  ix->name_sid[acct] = str_add(ix, acct, DS_KIND_NAME, name_key);
}

const char *ds_index_name(const ds_index *ix, uint32_t acct) {
  if (acct >= ix->nacct || ix->name_sid[acct] == NONE) return "";
  return ix->chars + ix->strs[ix->name_sid[acct]].off;
}

static void doms_rehash(ds_index *ix) {
  size_t cap = ix->dom_cap * 2;
  ds_dom *doms = pv_xmalloc(cap * sizeof *doms);
  for (size_t i = 0; i < cap; i++) doms[i].off = NONE;
  uint32_t *moved = pv_xmalloc(ix->dom_cap * sizeof *moved);
  for (size_t i = 0; i < ix->dom_cap; i++) {
    moved[i] = NONE;
    if (ix->doms[i].off == NONE) continue;
    const char *d = ix->chars + ix->doms[i].off;
    size_t j = hash_bytes(d, strlen(d), 1) & (cap - 1);
    while (doms[j].off != NONE) j = (j + 1) & (cap - 1);
    doms[j] = ix->doms[i];
    moved[i] = (uint32_t)j;
  }
  for (size_t a = 0; a < ix->nacct; a++)
    if (ix->primary_dom[a] != NONE) ix->primary_dom[a] = moved[ix->primary_dom[a]];
  free(moved);
  free(ix->doms);
  ix->doms = doms;
  ix->dom_cap = cap;
}

/* The slot of domain: found, or the empty slot it would take. */
static size_t dom_slot(const ds_index *ix, const char *domain) {
  size_t j = hash_bytes(domain, strlen(domain), 1) & (ix->dom_cap - 1);
  while (ix->doms[j].off != NONE && strcmp(ix->chars + ix->doms[j].off, domain) != 0)
    j = (j + 1) & (ix->dom_cap - 1);
  return j;
}

void ds_index_remove_domain(ds_index *ix, uint32_t acct, const char *domain) {
  size_t j = dom_slot(ix, domain);
  ds_dom *d = &ix->doms[j];
  if (d->off == NONE || d->acct != acct) return;
  str_kill(ix, d->sid);
  d->sid = NONE;
  d->acct = NONE;
  if (d->primary && acct < ix->nacct && ix->primary_dom[acct] == j) ix->primary_dom[acct] = NONE;
  d->primary = 0;
}

void ds_index_add_domain(ds_index *ix, uint32_t acct, const char *domain, const char *label,
                         bool primary) {
  if (acct >= ix->nacct || !domain[0]) return;
  if (primary && ix->primary_dom[acct] != NONE) {
    ds_dom *old = &ix->doms[ix->primary_dom[acct]];
    if (strcmp(ix->chars + old->off, domain) != 0)
      ds_index_remove_domain(ix, acct, ix->chars + old->off);
  }
  if ((ix->ndom + 1) * 10 > ix->dom_cap * 7) doms_rehash(ix);
  size_t j = dom_slot(ix, domain);
  ds_dom *d = &ix->doms[j];
  if (d->off == NONE) {
    uint32_t off = arena_add(ix, domain, strlen(domain));
    d = &ix->doms[j];
    *d = (ds_dom){off, NONE, NONE, 0};
    ix->ndom++;
  }
  if (d->acct != acct) {
    if (d->acct != NONE) str_kill(ix, d->sid);
    d->acct = acct;
    uint32_t sid = str_add(ix, acct, DS_KIND_LABEL, label);
    d = &ix->doms[j];
    d->sid = sid;
  }
  d->primary = primary;
  if (primary) ix->primary_dom[acct] = (uint32_t)j;
}

uint32_t ds_index_domain_owner(const ds_index *ix, const char *domain, bool *primary) {
  const ds_dom *d = &ix->doms[dom_slot(ix, domain)];
  if (primary) *primary = d->off != NONE && d->primary;
  return d->off == NONE ? NONE : d->acct;
}

void ds_index_get_stats(const ds_index *ix, ds_index_stats *out) {
  out->accounts = ix->nacct;
  out->strings = ix->nstr;
  out->dead_strings = ix->ndead;
  out->postings = ix->npost + ix->nfrozen;
  out->keys = ix->nkeys;
  out->bytes = ix->acct_capacity * (DS_ID_MAX + 4 * 3 + 1) +
               ix->acct_slot_cap * sizeof(uint32_t) + ix->dom_cap * sizeof(ds_dom) +
               ix->chars_cap + ix->str_cap * sizeof(ds_str) + ix->key_cap * sizeof(ds_key) +
               ix->post_cap * 2 * sizeof(uint32_t) + ix->nfrozen * sizeof(ds_post);
}

/* ---- queries ----------------------------------------------------------- */

ds_scratch *ds_scratch_new(void) { return pv_xcalloc(1, sizeof(ds_scratch)); }

void ds_scratch_free(ds_scratch *s) {
  if (!s) return;
  free(s->stamp);
  free(s->segs);
  free(s);
}

/* One candidate string through the count filter, then verified. */
static void verify(const ds_index *ix, ds_scratch *s, ds_kind kind, const char *q, size_t m,
                   size_t n, unsigned kp, unsigned need, uint8_t bit, uint32_t sid,
                   ds_hit_fn hit, void *arg) {
  if (s->stamp[sid] != s->gen) {
    s->stamp[sid] = s->gen;
    s->segs[sid] = 0;
  }
  if (s->segs[sid] & bit) return;
  s->segs[sid] |= bit;
  if ((unsigned)__builtin_popcount(s->segs[sid]) != need) return;
  const ds_str *st = &ix->strs[sid];
  if (st->dead || st->len != n || st->kind != kind || !ix->live[st->acct]) return;
  unsigned d = ds_lev(q, m, ix->chars + st->off, n, kp);
  if (d <= kp && ds_fuzzy_ok(d, n, m))
    hit(arg, st->acct, d, 1.0 - (double)d / (double)(n > m ? n : m));
}

void ds_index_query(const ds_index *ix, ds_scratch *s, ds_kind kind, const char *q, size_t m,
                    ds_hit_fn hit, void *arg) {
  if (m == 0 || m > DS_STR_MAX) return;
  if (s->cap < ix->nstr) {
    free(s->stamp);
    free(s->segs);
    s->cap = ix->nstr + ix->nstr / 2 + 64;
    s->stamp = pv_xcalloc(s->cap, sizeof *s->stamp);
    s->segs = pv_xcalloc(s->cap, sizeof *s->segs);
    s->gen = 0;
  }
  if (++s->gen == 0) { /* wrapped: clear once every 4G queries */
    memset(s->stamp, 0, s->cap * sizeof *s->stamp);
    s->gen = 1;
  }
  uint32_t qbag = char_bag(q, m), qbi = bigram_bag(q, m);
  size_t nlo = m > DS_FUZZY_MAX_DIST ? m - DS_FUZZY_MAX_DIST : 1;
  size_t nhi = m + DS_FUZZY_MAX_DIST < DS_STR_MAX ? m + DS_FUZZY_MAX_DIST : DS_STR_MAX;
  for (size_t n = nlo; n <= nhi; n++) {
    unsigned kp = ds_max_dist(n, m);
    long delta = (long)m - (long)n;
    if ((delta < 0 ? -delta : delta) > (long)kp) continue;
    unsigned k = part_k(n);
    /* At least k + 1 - kp segments come through kp edits untouched. */
    unsigned need = k + 1 - kp;
    /* A segment shifted by dl has |dl| edits on its left and |delta - dl|
     * on its right, together at most kp (PassJoin's position-aware
     * window): dl in [(delta - kp) / 2, (delta + kp) / 2]. */
    long dlo = delta - (long)kp, dhi = delta + (long)kp;
    dlo = dlo < 0 ? -((-dlo) / 2) : (dlo + 1) / 2; /* ceil */
    dhi = dhi < 0 ? -((-dhi) / 2) - ((-dhi) % 2) : dhi / 2; /* floor */
    for (size_t i = 0; i <= k; i++) {
      size_t start, len;
      segment(n, k, i, &start, &len);
      for (long dl = dlo; dl <= dhi; dl++) {
        long p = (long)start + dl;
        if (p < 0 || (size_t)p + len > m) continue;
        const ds_key *key = key_find(ix, seg_hash(kind, n, i, q + p, len));
        if (!key) continue;
        for (uint32_t c = 0; c < key->count; c++) {
          const ds_post *fp = &ix->frozen[key->off + c];
          if (!sig_ok(fp->bag, fp->bigrams, qbag, qbi, kp)) continue;
          verify(ix, s, kind, q, m, n, kp, need, (uint8_t)(1u << i), fp->sid, hit, arg);
        }
        for (uint32_t e = key->head; e != NONE; e = ix->post_next[e]) {
          uint32_t sid = ix->post_sid[e];
          if (!sig_ok(ix->strs[sid].bag, ix->strs[sid].bigrams, qbag, qbi, kp)) continue;
          verify(ix, s, kind, q, m, n, kp, need, (uint8_t)(1u << i), sid, hit, arg);
        }
      }
    }
  }
}
