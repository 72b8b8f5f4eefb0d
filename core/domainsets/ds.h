/*
 * ds — the pure parts of ABM domain sets (issue 8): normalizing one
 * uploaded entry with typo repair, bounded Levenshtein, and the in-memory
 * candidate index over accounts' domain labels and company-name keys that
 * makes fuzzy matching of 100k domains against 1M accounts take seconds.
 *
 * Similarity. For two strings a and b at edit distance d (bytes; labels
 * are ASCII A-labels, name keys are folded by norm_name_parse so mostly
 * ASCII), similarity = 1 - d / max(|a|, |b|). A fuzzy match needs
 * d <= DS_FUZZY_MAX_DIST and similarity >= 0.85, i.e. 20 d <= 3 max(|a|,|b|)
 * in integers. So labels shorter than 7 bytes match only at distance 0,
 * distance 2 needs 14 bytes and distance 3 needs 20: the threshold, not the
 * cap of 3, decides most pairs.
 *
 * The index (ds_index) is a pigeonhole partition index (PassJoin, Li et al.,
 * VLDB 2011): a string s of length n that can be within distance K(n) of
 * some query is cut into K(n)+1 segments; a query within K edits leaves at
 * least one segment untouched, found at a position shifted by at most the
 * distance. Each segment is one posting keyed by (kind, n, segment number,
 * bytes), so a query makes at most 7 lengths x 4 segments x 7 shifts hash
 * lookups and verifies the few strings they name with a banded Levenshtein.
 * K(n) = min(3, floor(3n / 17)) is the largest distance the 0.85 threshold
 * allows for any partner of s (a partner is at most d longer). Strings are
 * never removed: a changed name or domain marks its entry dead, and the
 * verifier skips dead entries.
 *
 * Thread: ds_normalize and ds_lev anywhere. A ds_index is not locked: one
 * thread writes it, or many read it with no writer (each with its own
 * ds_scratch).
 */
#ifndef PV_DS_H
#define PV_DS_H

#include "core/common/pv_error.h"
#include "core/norm/norm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Issue 8: Levenshtein distance <= 3 and similarity >= 0.85. */
#define DS_FUZZY_MAX_DIST 3
#define DS_SIM_NUM 17 /* similarity >= 17/20 = 0.85 */
#define DS_SIM_DEN 20
/* Longest string the index and ds_lev take (a domain label is at most 63
 * bytes, RFC 1035; a company name key longer than this is cut). */
#define DS_STR_MAX 255
/* Longest raw cell kept as an item's original text; longer is cut (a
 * domain is at most 253 characters; a URL with a path may be longer). */
#define DS_ORIGINAL_MAX 300

/* ---- normalization with typo repair ----------------------------------- */

/* XX(NAME, "name", bit): what the typo repair changed. */
#define DS_REPAIR_MAP(XX)                                                     \
  XX(COMMA_AS_DOT, "comma_as_dot", 0)                                         \
  XX(DOUBLED_DOTS, "doubled_dots", 1)                                         \
  XX(TRAILING_PUNCTUATION, "trailing_punctuation", 2)                         \
  XX(LEADING_PUNCTUATION, "leading_punctuation", 3)                           \
  XX(INNER_SPACES, "inner_spaces", 4)                                         \
  XX(SCHEME_TYPO, "scheme_typo", 5)                                           \
  XX(SEMICOLON_AS_DOT, "semicolon_as_dot", 6)

enum {
#define DS__XX(name, str, bit) DS_REPAIR_##name = 1u << bit,
  DS_REPAIR_MAP(DS__XX)
#undef DS__XX
};

/* Names of the set bits of mask, comma-separated, into out. */
void ds_repairs_format(unsigned mask, char *out, size_t cap);

typedef struct ds_entry {
  char original[DS_ORIGINAL_MAX + 1]; /* the cell as uploaded (cut) */
  char repaired[DS_ORIGINAL_MAX + 1]; /* after typo repair ("" if none) */
  unsigned repairs;                   /* DS_REPAIR_* bits */
  bool valid;
  char invalid_reason[256];           /* when !valid (pv_error message) */
  norm_domain nd;                     /* when valid */
  char label[64];                     /* registrable minus its suffix */
} ds_entry;

/*
 * Normalizes one uploaded cell: trims, repairs typos (a comma or semicolon
 * for a dot, doubled dots, punctuation at either end, spaces inside,
 * "http//" for "http://"), then norm_domain_parse. An entry that still
 * does not parse comes back !valid with the reason.
 * Returns: 0 (valid or not) or PV_EINTERNAL (no Public Suffix List).
 */
int ds_normalize(const char *in, size_t len, ds_entry *out, pv_error *err);

/* The label of a registrable domain ("example" of "example.co.uk") into
 * out; "" when it does not fit. */
void ds_label_of(const char *registrable, char *out, size_t cap);

/*
 * The company-name key the index and the matcher compare: a norm_name_parse
 * key with punctuation turned to spaces, a leading "the" and trailing legal
 * forms (inc, llc, ltd, corp, corporation, gmbh, plc, ...) removed, since
 * "Acme Inc." and "ACME Corporation" are the same company, and such common
 * words would make every name a near neighbour of every other.
 * Writes at most cap - 1 bytes; "" when nothing is left.
 */
void ds_company_key(const char *name_key, char *out, size_t cap);

/* ---- Levenshtein ------------------------------------------------------ */

/* Edit distance of a and b when it is <= k (k <= DS_FUZZY_MAX_DIST), else
 * k + 1. Banded: O(k * min(|a|,|b|)). Lengths <= DS_STR_MAX. */
unsigned ds_lev(const char *a, size_t na, const char *b, size_t nb, unsigned k);
/* The plain O(|a| |b|) distance (for tests). */
unsigned ds_lev_full(const char *a, size_t na, const char *b, size_t nb);
/* The largest distance allowed between lengths na and nb (the 0.85
 * threshold and the cap of 3). */
unsigned ds_max_dist(size_t na, size_t nb);
/* Whether distance d between lengths na and nb is a fuzzy match. */
bool ds_fuzzy_ok(unsigned d, size_t na, size_t nb);

/* ---- the candidate index ---------------------------------------------- */

typedef enum ds_kind { DS_KIND_LABEL = 0, DS_KIND_NAME = 1 } ds_kind;

typedef struct ds_index ds_index;
typedef struct ds_scratch ds_scratch;

ds_index *ds_index_new(void);
void ds_index_free(ds_index *ix);

/* The account with this id (32 hex digits or any id up to 47 bytes):
 * found or added (live, no name, no domains). Returns its number. */
uint32_t ds_index_account(ds_index *ix, const char *id);
/* Its number, or UINT32_MAX when unknown. */
uint32_t ds_index_find_account(const ds_index *ix, const char *id);
const char *ds_index_account_id(const ds_index *ix, uint32_t acct);
size_t ds_index_account_count(const ds_index *ix);
void ds_index_set_live(ds_index *ix, uint32_t acct, bool live);
bool ds_index_is_live(const ds_index *ix, uint32_t acct);
/* Replaces the account's company-name key (a norm_name_parse key; kept as
 * ds_company_key makes it; "" clears it). */
void ds_index_set_name(ds_index *ix, uint32_t acct, const char *name_key);
const char *ds_index_name(const ds_index *ix, uint32_t acct);
/* Adds a normalized domain to the account (primary or alternate) with its
 * label; the primary replaces the previous primary. */
void ds_index_add_domain(ds_index *ix, uint32_t acct, const char *domain, const char *label,
                         bool primary);
void ds_index_remove_domain(ds_index *ix, uint32_t acct, const char *domain);
/* The account owning domain (any owner, live or not), or UINT32_MAX;
 * *primary says whether it is that account's primary domain. */
uint32_t ds_index_domain_owner(const ds_index *ix, const char *domain, bool *primary);
/* Per-account contact count (kept by the caller from contact events). */
void ds_index_contacts_add(ds_index *ix, uint32_t acct, int delta);
uint32_t ds_index_contacts(const ds_index *ix, uint32_t acct);

/* Packs every posting list into one array (see ds_index.c): call after a
 * bulk load, and again when ds_index_uncompacted grows (the service does
 * when it passes a quarter of the total). */
void ds_index_compact(ds_index *ix);
size_t ds_index_uncompacted(const ds_index *ix);

typedef struct ds_index_stats {
  size_t accounts, strings, dead_strings, postings, keys, bytes;
} ds_index_stats;
void ds_index_get_stats(const ds_index *ix, ds_index_stats *out);

ds_scratch *ds_scratch_new(void);
void ds_scratch_free(ds_scratch *s);

/* Called for each live account whose string of kind is a fuzzy match of
 * the query: distance and similarity. An account may be reported more
 * than once (several domains); the caller keeps the best. */
typedef void (*ds_hit_fn)(void *arg, uint32_t acct, unsigned dist, double similarity);

/* Finds the fuzzy matches of q (length <= DS_STR_MAX) among the strings of
 * kind. Thread: readers with their own scratch. */
void ds_index_query(const ds_index *ix, ds_scratch *s, ds_kind kind, const char *q, size_t m,
                    ds_hit_fn hit, void *arg);

/* ---- matching one entry ----------------------------------------------- */

typedef enum ds_match_type { DS_MATCH_NONE = 0, DS_MATCH_FUZZY = 1, DS_MATCH_EXACT = 2 } ds_match_type;
const char *ds_match_type_name(ds_match_type t);

/* XX(NAME, "name"): the rule that matched. */
#define DS_RULE_MAP(XX)                                                       \
  XX(NONE, "none")                                                            \
  XX(EXACT_DOMAIN, "exact_domain")                                            \
  XX(EXACT_ALTERNATE_DOMAIN, "exact_alternate_domain")                        \
  XX(EXACT_REGISTRABLE, "exact_registrable_domain")                           \
  XX(FUZZY_DOMAIN_LABEL, "fuzzy_domain_label")                                \
  XX(FUZZY_COMPANY_NAME, "fuzzy_company_name")

typedef enum ds_rule {
#define DS__XX(name, str) DS_RULE_##name,
  DS_RULE_MAP(DS__XX)
#undef DS__XX
  DS_RULE_COUNT
} ds_rule;
const char *ds_rule_name(ds_rule r);
/* The rule by name, or -1. */
int ds_rule_by_name(const char *name);

/* Confidence weights (arbitrary; they order the rules): an exact domain is
 * certain; a registrable-domain match (the upload named a subdomain) is
 * nearly so; a fuzzy label match is its similarity x 0.95, a company-name
 * match its similarity x 0.90, since names are shared more often than
 * domain labels. */
#define DS_CONF_EXACT_REGISTRABLE 0.97
#define DS_CONF_LABEL_WEIGHT 0.95
#define DS_CONF_NAME_WEIGHT 0.90

typedef struct ds_candidate {
  uint32_t acct; /* UINT32_MAX: none */
  ds_match_type type;
  ds_rule rule;
  double confidence; /* 0.00 .. 1.00, two decimals */
} ds_candidate;

/* Looks up an exact owner of a normalized domain: the account number in
 * the index or UINT32_MAX (the service reads the log's account_domain
 * unique index; tests and the benchmark the index's own map). */
typedef uint32_t (*ds_exact_fn)(void *arg, const char *domain);

typedef struct ds_result {
  ds_candidate best, runner_up; /* runner_up: another account, or none */
} ds_result;

/*
 * Matches one valid entry (and its norm_name_parse name key, may be "";
 * compared as ds_company_key makes it) against
 * the index: exact on the domain, then the registrable domain; fuzzy on
 * the label and on the name key. The best candidate wins by exact before
 * fuzzy, higher confidence, then lower account id; runner_up is the best
 * of the other accounts. Dead and deleted accounts never match.
 */
void ds_match(const ds_index *ix, ds_scratch *s, ds_exact_fn exact, void *exact_arg,
              const ds_entry *e, const char *name_key, ds_result *out);

#endif
