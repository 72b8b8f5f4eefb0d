/*
 * ds_match — one entry against the index: exact owners first, then fuzzy
 * candidates, keeping the best two accounts by a total order (exact before
 * fuzzy, higher confidence, lower account id) so the pick never depends on
 * the order candidates arrive in.
 */
#include "core/domainsets/ds.h"

#include <math.h>
#include <string.h>

#define NONE UINT32_MAX

static const char *const rule_names[] = {
#define DS__XX(name, str) str,
    DS_RULE_MAP(DS__XX)
#undef DS__XX
};

const char *ds_rule_name(ds_rule r) {
  return (unsigned)r < DS_RULE_COUNT ? rule_names[r] : "none";
}

int ds_rule_by_name(const char *name) {
  for (int r = 0; r < DS_RULE_COUNT; r++)
    if (strcmp(rule_names[r], name) == 0) return r;
  return -1;
}

const char *ds_match_type_name(ds_match_type t) {
  return t == DS_MATCH_EXACT ? "exact" : t == DS_MATCH_FUZZY ? "fuzzy" : "none";
}

typedef struct match_ctx {
  const ds_index *ix;
  ds_result *r;
  ds_rule rule;
  double weight;
} match_ctx;

/* Two decimals, as reported. */
static double round2(double x) { return round(x * 100.0) / 100.0; }

/* a ranks before b. */
static bool better(const ds_index *ix, const ds_candidate *a, const ds_candidate *b) {
  if (a->acct == NONE) return false;
  if (b->acct == NONE) return true;
  if (a->type != b->type) return a->type > b->type;
  if (a->confidence != b->confidence) return a->confidence > b->confidence;
  return strcmp(ds_index_account_id(ix, a->acct), ds_index_account_id(ix, b->acct)) < 0;
}

static void offer(const ds_index *ix, ds_result *r, const ds_candidate *c) {
  if (c->acct == r->best.acct) {
    if (better(ix, c, &r->best)) r->best = *c;
    return;
  }
  if (c->acct == r->runner_up.acct) {
    if (better(ix, c, &r->runner_up)) r->runner_up = *c;
  } else if (better(ix, c, &r->runner_up)) {
    r->runner_up = *c;
  }
  if (better(ix, &r->runner_up, &r->best)) {
    ds_candidate t = r->best;
    r->best = r->runner_up;
    r->runner_up = t;
  }
}

static void on_hit(void *arg, uint32_t acct, unsigned dist, double similarity) {
  (void)dist;
  match_ctx *m = arg;
  ds_candidate c = {acct, DS_MATCH_FUZZY, m->rule, round2(similarity * m->weight)};
  offer(m->ix, m->r, &c);
}

static const ds_candidate no_candidate = {NONE, DS_MATCH_NONE, DS_RULE_NONE, 0.0};

void ds_match(const ds_index *ix, ds_scratch *s, ds_exact_fn exact, void *exact_arg,
              const ds_entry *e, const char *name_key, ds_result *out) {
  out->best = out->runner_up = no_candidate;
  if (!e->valid) return;
  uint32_t owner = exact(exact_arg, e->nd.domain);
  if (owner != NONE && ds_index_is_live(ix, owner)) {
    bool primary = false;
    ds_index_domain_owner(ix, e->nd.domain, &primary);
    ds_candidate c = {owner, DS_MATCH_EXACT,
                      primary ? DS_RULE_EXACT_DOMAIN : DS_RULE_EXACT_ALTERNATE_DOMAIN, 1.0};
    offer(ix, out, &c);
  }
  if (strcmp(e->nd.registrable, e->nd.domain) != 0) {
    owner = exact(exact_arg, e->nd.registrable);
    if (owner != NONE && ds_index_is_live(ix, owner)) {
      ds_candidate c = {owner, DS_MATCH_EXACT, DS_RULE_EXACT_REGISTRABLE,
                        DS_CONF_EXACT_REGISTRABLE};
      offer(ix, out, &c);
    }
  }
  match_ctx m = {ix, out, DS_RULE_FUZZY_DOMAIN_LABEL, DS_CONF_LABEL_WEIGHT};
  ds_index_query(ix, s, DS_KIND_LABEL, e->label, strlen(e->label), on_hit, &m);
  char key[DS_STR_MAX + 1];
  ds_company_key(name_key ? name_key : "", key, sizeof key);
  if (key[0]) {
    m.rule = DS_RULE_FUZZY_COMPANY_NAME;
    m.weight = DS_CONF_NAME_WEIGHT;
    ds_index_query(ix, s, DS_KIND_NAME, key, strlen(key), on_hit, &m);
  }
}
