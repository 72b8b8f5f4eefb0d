/*
 * ds_items — rows to items, the streaming CSV/TXT reader on libcsv, the
 * match of every item and the report (see ds_items.h).
 */
#include "core/domainsets/ds_items.h"

#include <csv.h>
#include <pthread.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NONE UINT32_MAX

void ds_items_init(ds_items *it) { memset(it, 0, sizeof *it); }

static void item_release(ds_item *x) {
  free(x->original);
  free(x->repaired);
  free(x->invalid_reason);
  free(x->domain);
  free(x->registrable);
  free(x->label);
  free(x->account_name);
  free(x->name_key);
  free(x->notes);
}

void ds_items_release(ds_items *it) {
  for (size_t i = 0; i < it->n; i++) item_release(&it->v[i]);
  free(it->v);
  free(it->slots);
  ds_items_init(it);
}

ds_item *ds_items_push(ds_items *it) {
  if (it->n == it->cap) {
    it->cap = it->cap ? it->cap * 2 : 256;
    it->v = pv_xrealloc(it->v, it->cap * sizeof *it->v);
  }
  ds_item *x = &it->v[it->n];
  memset(x, 0, sizeof *x);
  x->n = (uint32_t)it->n++;
  x->dup_count = 1;
  return x;
}

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

/* The dedup key of an item: its domain, or its text when invalid. */
static const char *dedup_key(const ds_item *x) { return x->valid ? x->domain : x->original; }

static void slots_rehash(ds_items *it) {
  size_t cap = it->slot_cap ? it->slot_cap * 2 : 1024;
  uint32_t *slots = pv_xcalloc(cap, sizeof *slots);
  for (size_t i = 0; i < it->n; i++) {
    size_t j = hash_str(dedup_key(&it->v[i])) & (cap - 1);
    while (slots[j]) j = (j + 1) & (cap - 1);
    slots[j] = (uint32_t)i + 1;
  }
  free(it->slots);
  it->slots = slots;
  it->slot_cap = cap;
}

/* NUL-terminated copy of at most max bytes, cut at a character boundary. */
static char *dup_cut(const char *s, size_t n, size_t max) {
  if (n > max) {
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) n--;
  }
  return pv_xstrndup(s, n);
}

int ds_items_add_row(ds_items *it, const char *domain, size_t dlen, const char *name,
                     size_t nlen, const char *notes, size_t notes_len, pv_error *err) {
  if (it->rows >= DS_MAX_ROWS)
    return pv_error_set(err, PV_ETOOBIG, NULL, "the file has more than %d rows", DS_MAX_ROWS);
  it->rows++;
  ds_entry e;
  int rc = ds_normalize(domain, dlen, &e, err);
  if (rc) return rc;
  if ((it->n + 1) * 10 > it->slot_cap * 7) slots_rehash(it);
  const char *key = e.valid ? e.nd.domain : e.original;
  size_t j = hash_str(key) & (it->slot_cap - 1);
  while (it->slots[j]) {
    ds_item *x = &it->v[it->slots[j] - 1];
    if (strcmp(dedup_key(x), key) == 0) {
      x->dup_count++;
      it->duplicates++;
      return 0;
    }
    j = (j + 1) & (it->slot_cap - 1);
  }
  ds_item *x = ds_items_push(it);
  it->slots[j] = x->n + 1;
  x->row = (uint32_t)it->rows;
  x->original = pv_xstrdup(e.original);
  x->repaired = pv_xstrdup(e.repaired);
  x->repairs = e.repairs;
  x->valid = e.valid;
  x->invalid_reason = pv_xstrdup(e.valid ? "" : e.invalid_reason);
  x->domain = pv_xstrdup(e.valid ? e.nd.domain : "");
  x->registrable = pv_xstrdup(e.valid ? e.nd.registrable : "");
  x->label = pv_xstrdup(e.valid ? e.label : "");
  x->account_name = dup_cut(name ? name : "", name ? nlen : 0, DS_NAME_MAX);
  x->notes = dup_cut(notes ? notes : "", notes ? notes_len : 0, DS_NOTES_MAX);
  pv_buf display, k;
  pv_buf_init(&display, 0);
  pv_buf_init(&k, 0);
  pv_error ne = PV_ERROR_INIT;
  x->name_key = pv_xstrdup(x->account_name[0] && norm_name_parse(x->account_name,
                                                                 strlen(x->account_name),
                                                                 &display, &k, &ne) == 0
                               ? k.data
                               : "");
  pv_buf_release(&display);
  pv_buf_release(&k);
  return 0;
}

/* ---- the streaming reader ------------------------------------------------ */

enum { COL_DOMAIN, COL_NAME, COL_NOTES, COL_COUNT };

struct ds_upload {
  ds_format format;
  ds_items *items;
  struct csv_parser csv;
  bool first_row_seen;
  int col_of[8]; /* cell index -> COL_*, -1 ignored */
  /* the row being read */
  pv_buf cells[COL_COUNT];
  bool cell_set[COL_COUNT];
  size_t cell_no;
  pv_buf line; /* TXT: the partial line */
  int rc;
  pv_error err;
};

static int header_col(const char *s, size_t n) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  static const struct {
    const char *name;
    int col;
  } names[] = {{"domain", COL_DOMAIN},       {"domains", COL_DOMAIN},
               {"website", COL_DOMAIN},      {"url", COL_DOMAIN},
               {"account_name", COL_NAME},   {"account name", COL_NAME},
               {"company", COL_NAME},        {"company_name", COL_NAME},
               {"company name", COL_NAME},   {"account", COL_NAME},
               {"name", COL_NAME},           {"notes", COL_NOTES},
               {"note", COL_NOTES}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i].name) == n && strncasecmp(names[i].name, s, n) == 0) return names[i].col;
  return -1;
}

static void row_reset(ds_upload *u) {
  for (int c = 0; c < COL_COUNT; c++) {
    pv_buf_reset(&u->cells[c]);
    u->cell_set[c] = false;
  }
  u->cell_no = 0;
}

static void on_cell(void *s, size_t len, void *data) {
  ds_upload *u = data;
  size_t i = u->cell_no++;
  if (!u->first_row_seen) {
    /* Keep the first row's cells in order until the row ends. */
    if (i < 8) {
      int col = i < COL_COUNT ? (int)i : -1;
      if (col >= 0) {
        pv_buf_add(&u->cells[col], s ? s : "", s ? len : 0);
        u->cell_set[col] = true;
      }
      u->col_of[i] = header_col(s ? s : "", s ? len : 0);
    }
    return;
  }
  if (i >= 8 || u->col_of[i] < 0) return;
  int col = u->col_of[i];
  if (u->cell_set[col]) return;
  pv_buf_add(&u->cells[col], s ? s : "", s ? len : 0);
  u->cell_set[col] = true;
}

static void emit_row(ds_upload *u) {
  if (u->rc) return;
  if (!u->cell_set[COL_DOMAIN] && !u->cell_set[COL_NAME]) return;
  u->rc = ds_items_add_row(u->items, u->cells[COL_DOMAIN].data, u->cells[COL_DOMAIN].len,
                           u->cells[COL_NAME].data, u->cells[COL_NAME].len,
                           u->cells[COL_NOTES].data, u->cells[COL_NOTES].len, &u->err);
}

static void on_row(int term, void *data) {
  (void)term;
  ds_upload *u = data;
  if (!u->first_row_seen) {
    u->first_row_seen = true;
    bool header = false;
    size_t ncells = u->cell_no < 8 ? u->cell_no : 8;
    for (size_t i = 0; i < ncells; i++)
      if (u->col_of[i] == COL_DOMAIN) header = true;
    u->items->header = header;
    if (!header) {
      /* Positional: the row just read is data. */
      for (size_t i = 0; i < 8; i++) u->col_of[i] = i < COL_COUNT ? (int)i : -1;
      emit_row(u);
    } else {
      /* A header may name a column twice: the first wins. */
      bool seen[COL_COUNT] = {false};
      for (size_t i = 0; i < 8; i++) {
        if (i >= ncells || u->col_of[i] < 0) u->col_of[i] = -1;
        else if (seen[u->col_of[i]]) u->col_of[i] = -1;
        else seen[u->col_of[i]] = true;
      }
    }
  } else {
    emit_row(u);
  }
  row_reset(u);
}

ds_upload *ds_upload_new(ds_format format, ds_items *items) {
  ds_upload *u = pv_xcalloc(1, sizeof *u);
  u->format = format;
  u->items = items;
  for (int c = 0; c < COL_COUNT; c++) pv_buf_init(&u->cells[c], 0);
  pv_buf_init(&u->line, 0);
  for (int i = 0; i < 8; i++) u->col_of[i] = -1;
  if (format == DS_FORMAT_CSV) csv_init(&u->csv, CSV_APPEND_NULL);
  return u;
}

void ds_upload_free(ds_upload *u) {
  if (!u) return;
  if (u->format == DS_FORMAT_CSV) csv_free(&u->csv);
  for (int c = 0; c < COL_COUNT; c++) pv_buf_release(&u->cells[c]);
  pv_buf_release(&u->line);
  free(u);
}

static void txt_line(ds_upload *u, const char *s, size_t n) {
  while (n && (s[n - 1] == '\r')) n--;
  size_t t = 0;
  while (t < n && isspace((unsigned char)s[t])) t++;
  if (t == n) return; /* blank lines are not rows */
  on_cell((void *)s, n, u);
  on_row('\n', u);
}

int ds_upload_feed(ds_upload *u, const char *data, size_t len, pv_error *err) {
  if (u->rc == 0 && u->format == DS_FORMAT_CSV) {
    if (csv_parse(&u->csv, data, len, on_cell, on_row, u) != len && u->rc == 0)
      u->rc = pv_error_set(&u->err, PV_EINVAL, NULL, "the file is not CSV: %s",
                           csv_strerror(csv_error(&u->csv)));
  } else if (u->rc == 0) {
    size_t start = 0;
    for (size_t i = 0; i < len && u->rc == 0; i++) {
      if (data[i] != '\n') continue;
      if (u->line.len) {
        pv_buf_add(&u->line, data + start, i - start);
        txt_line(u, u->line.data, u->line.len);
        pv_buf_reset(&u->line);
      } else {
        txt_line(u, data + start, i - start);
      }
      start = i + 1;
    }
    if (start < len) pv_buf_add(&u->line, data + start, len - start);
  }
  if (u->rc && err) *err = u->err;
  return u->rc;
}

int ds_upload_finish(ds_upload *u, pv_error *err) {
  if (u->rc == 0 && u->format == DS_FORMAT_CSV) {
    /* libcsv reports an open quote at the end only in strict mode; set
     * here, so the rest of the file was read leniently. */
    csv_set_opts(&u->csv, CSV_APPEND_NULL | CSV_STRICT | CSV_STRICT_FINI);
    if (csv_fini(&u->csv, on_cell, on_row, u) != 0 && u->rc == 0)
      u->rc = pv_error_set(&u->err, PV_EINVAL, NULL,
                           "the file is not CSV: a quoted cell is not closed");
  } else if (u->rc == 0 && u->line.len) {
    txt_line(u, u->line.data, u->line.len);
    pv_buf_reset(&u->line);
  }
  if (u->rc && err) *err = u->err;
  return u->rc;
}

/* ---- matching and the report ------------------------------------------- */

static void match_item(ds_item *x, const ds_index *ix, ds_scratch *s, ds_exact_fn exact,
                       void *exact_arg) {
  x->match = DS_MATCH_NONE;
  x->rule = DS_RULE_NONE;
  x->account_id[0] = x->runner_up_id[0] = 0;
  x->confidence = x->runner_up_confidence = 0;
  x->contacts = 0;
  if (!x->valid) return;
  ds_entry e;
  e.valid = true;
  snprintf(e.nd.domain, sizeof e.nd.domain, "%s", x->domain);
  snprintf(e.nd.registrable, sizeof e.nd.registrable, "%s", x->registrable);
  snprintf(e.label, sizeof e.label, "%s", x->label);
  ds_result r;
  ds_match(ix, s, exact, exact_arg, &e, x->name_key, &r);
  if (r.best.acct == NONE) return;
  x->match = r.best.type;
  x->rule = r.best.rule;
  x->confidence = r.best.confidence;
  snprintf(x->account_id, sizeof x->account_id, "%s", ds_index_account_id(ix, r.best.acct));
  x->contacts = ds_index_contacts(ix, r.best.acct);
  if (r.runner_up.acct != NONE) {
    snprintf(x->runner_up_id, sizeof x->runner_up_id, "%s",
             ds_index_account_id(ix, r.runner_up.acct));
    x->runner_up_confidence = r.runner_up.confidence;
  }
}

typedef struct match_part {
  ds_items *it;
  const ds_index *ix;
  ds_exact_fn exact;
  void *exact_arg;
  size_t from, step;
} match_part;

static void *match_thread(void *p) {
  match_part *mp = p;
  ds_scratch *s = ds_scratch_new();
  for (size_t i = mp->from; i < mp->it->n; i += mp->step)
    match_item(&mp->it->v[i], mp->ix, s, mp->exact, mp->exact_arg);
  ds_scratch_free(s);
  return NULL;
}

void ds_items_match(ds_items *it, const ds_index *ix, unsigned threads, ds_exact_fn exact,
                    void *const *exact_args) {
  if (threads < 1) threads = 1;
  if (threads > DS_MATCH_THREADS) threads = DS_MATCH_THREADS;
  match_part parts[DS_MATCH_THREADS];
  pthread_t tids[DS_MATCH_THREADS];
  bool started[DS_MATCH_THREADS] = {false};
  /* Interleaved, so a run of hard items (a file sorted by name) is shared. */
  for (unsigned t = 0; t < threads; t++)
    parts[t] = (match_part){it, ix, exact, exact_args[t], t, threads};
  for (unsigned t = 1; t < threads; t++)
    started[t] = pthread_create(&tids[t], NULL, match_thread, &parts[t]) == 0;
  match_thread(&parts[0]);
  for (unsigned t = 1; t < threads; t++) {
    if (started[t]) pthread_join(tids[t], NULL);
    else match_thread(&parts[t]); /* no thread: do its share here */
  }
}

static int cmp_account(const void *a, const void *b) {
  return strcmp((*(const ds_item *const *)a)->account_id, (*(const ds_item *const *)b)->account_id);
}

void ds_items_report(const ds_items *it, ds_report *out) {
  memset(out, 0, sizeof *out);
  out->rows = it->rows;
  out->items = it->n;
  out->duplicates = it->duplicates;
  const ds_item **matched = pv_xmalloc((it->n ? it->n : 1) * sizeof *matched);
  size_t nm = 0;
  uint64_t valid = 0;
  for (size_t i = 0; i < it->n; i++) {
    const ds_item *x = &it->v[i];
    if (!x->valid) out->invalid++;
    if (x->excluded) {
      out->excluded++;
      continue;
    }
    if (!x->valid) continue;
    valid++;
    out->by_rule[x->rule < DS_RULE_COUNT ? x->rule : DS_RULE_NONE]++;
    if (x->match == DS_MATCH_EXACT) out->exact++;
    else if (x->match == DS_MATCH_FUZZY) out->fuzzy++;
    else out->none++;
    if (x->match != DS_MATCH_NONE) matched[nm++] = x;
  }
  out->unknown_domains = out->none;
  out->match_rate = valid ? (double)(out->exact + out->fuzzy) / (double)valid : 0.0;
  /* Distinct accounts (and their contacts once each): sort by account. */
  qsort(matched, nm, sizeof *matched, cmp_account);
  for (size_t i = 0; i < nm; i++) {
    if (i > 0 && strcmp(matched[i]->account_id, matched[i - 1]->account_id) == 0) continue;
    out->matched_accounts++;
    out->matched_contacts += matched[i]->contacts;
  }
  free(matched);
}
