/*
 * ds_items — an uploaded domain file turned into a domain set's items:
 * streaming parse (CSV through Debian's libcsv, or TXT one domain a line),
 * header detection, normalization with typo repair, collapsing duplicates,
 * matching every item against the candidate index, and the match report.
 *
 * Columns: domain, account_name, notes. A first row whose cells are column
 * names (domain / website / url, account_name / company / company_name /
 * account / name, notes / note; any case) is a header and maps the columns
 * by name; otherwise the columns are taken in that order. A TXT file is
 * one domain per line ("domain" alone on the first line is a header).
 *
 * Duplicates: valid entries with the same normalized domain, and invalid
 * entries with the same text, are one item whose dup_count says how many
 * rows it stands for (1 when unique).
 *
 * Thread: a ds_upload and a ds_items belong to one thread at a time.
 */
#ifndef PV_DS_ITEMS_H
#define PV_DS_ITEMS_H

#include "core/domainsets/ds.h"

/* Cells longer than these are cut (at a character boundary): a company
 * name of Salesforce's longest (255) and a note of 1000 bytes, arbitrary;
 * they keep an item chunk of DS_ITEMS_PER_EVENT under the log's 256 KiB. */
#define DS_NAME_MAX 255
#define DS_NOTES_MAX 1000
/* Rows per upload: 1M, arbitrary (the benchmark is 100k); more is
 * refused with PV_ETOOBIG. */
#define DS_MAX_ROWS 1000000

typedef struct ds_item {
  uint32_t n;            /* 0-based item number, in file order of first sight */
  uint32_t dup_count;    /* rows collapsed into it (>= 1) */
  uint32_t row;          /* 1-based data row of its first sight */
  char *original, *repaired; /* repaired "" when nothing was repaired */
  unsigned repairs;
  bool valid;
  char *invalid_reason;  /* "" when valid */
  char *domain, *registrable, *label; /* "" when invalid */
  char *account_name, *name_key, *notes;
  bool excluded;         /* manual exclude (events), false on upload */
  /* the match */
  ds_match_type match;
  ds_rule rule;
  char account_id[48], runner_up_id[48];
  double confidence, runner_up_confidence;
  uint32_t contacts;
} ds_item;

typedef struct ds_items {
  ds_item *v;
  size_t n, cap;
  uint64_t rows;       /* data rows read (header excluded) */
  uint64_t duplicates; /* rows collapsed into an earlier item */
  bool header;
  /* private: dedup table */
  uint32_t *slots;
  size_t slot_cap;
} ds_items;

void ds_items_init(ds_items *it);
void ds_items_release(ds_items *it);
/*
 * Adds one row (cells as uploaded). Returns: 0, PV_ETOOBIG (more than
 * DS_MAX_ROWS rows), PV_EINTERNAL (no Public Suffix List).
 */
int ds_items_add_row(ds_items *it, const char *domain, size_t dlen, const char *name,
                     size_t nlen, const char *notes, size_t notes_len, pv_error *err);
/* Appends an item as recorded (from the log); takes the strings' copies.
 * Used to rebuild a set's items for a re-run. */
ds_item *ds_items_push(ds_items *it);

typedef enum ds_format { DS_FORMAT_CSV, DS_FORMAT_TXT } ds_format;

typedef struct ds_upload ds_upload;
/* A streaming parser adding rows to items (which must outlive it). */
ds_upload *ds_upload_new(ds_format format, ds_items *items);
/* Feeds bytes as they arrive. Returns: 0, PV_EINVAL (not CSV: a quote
 * left open is only known at finish; bad UTF-8 is an item's problem),
 * PV_ETOOBIG, PV_EINTERNAL. */
int ds_upload_feed(ds_upload *u, const char *data, size_t len, pv_error *err);
/* Ends the file. Returns: as feed; PV_EINVAL for an unterminated quote. */
int ds_upload_finish(ds_upload *u, pv_error *err);
void ds_upload_free(ds_upload *u);

/* Threads ds_items_match uses at most: the target machine has 2
 * cores; more would only contend with the writer and the HTTP loop. */
#define DS_MATCH_THREADS 2

/* Matches every valid item (all of them, excluded too: exclusion only
 * keeps an item out of the report and the expansion) on `threads` threads
 * (1..DS_MATCH_THREADS), each item on one, with exact_args[t] the exact
 * lookup's argument for thread t (an LMDB reader belongs to one thread).
 * The index must not change meanwhile. */
void ds_items_match(ds_items *it, const ds_index *ix, unsigned threads, ds_exact_fn exact,
                    void *const *exact_args);

typedef struct ds_report {
  uint64_t rows, items, duplicates, invalid, excluded;
  uint64_t exact, fuzzy, none;  /* valid, included items */
  uint64_t by_rule[DS_RULE_COUNT];
  uint64_t matched_accounts;    /* distinct */
  uint64_t matched_contacts;    /* contacts at those accounts */
  uint64_t unknown_domains;     /* valid, included, no match */
  double match_rate;            /* (exact + fuzzy) / valid included items */
} ds_report;

/* The report over the included items. */
void ds_items_report(const ds_items *it, ds_report *out);

#endif
