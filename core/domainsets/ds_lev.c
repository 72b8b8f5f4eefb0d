/*
 * ds_lev — edit distance bounded by a small k (Ukkonen's band): only the
 * cells within k of the diagonal can hold a value <= k, so a row costs
 * 2k + 1 cells and the scan stops as soon as a whole row exceeds k.
 */
#include "core/domainsets/ds.h"

#include <string.h>

unsigned ds_max_dist(size_t na, size_t nb) {
  size_t l = na > nb ? na : nb;
  size_t d = (size_t)(DS_SIM_DEN - DS_SIM_NUM) * l / DS_SIM_DEN; /* 0.15 l */
  return d > DS_FUZZY_MAX_DIST ? DS_FUZZY_MAX_DIST : (unsigned)d;
}

bool ds_fuzzy_ok(unsigned d, size_t na, size_t nb) {
  size_t l = na > nb ? na : nb;
  return d <= DS_FUZZY_MAX_DIST && l > 0 &&
         (size_t)DS_SIM_DEN * d <= (size_t)(DS_SIM_DEN - DS_SIM_NUM) * l;
}

unsigned ds_lev(const char *a, size_t na, const char *b, size_t nb, unsigned k) {
  if (na > nb) {
    const char *t = a;
    a = b;
    b = t;
    size_t tn = na;
    na = nb;
    nb = tn;
  }
  if (nb > DS_STR_MAX || nb - na > k) return k + 1;
  if (na == 0) return (unsigned)nb;
  unsigned big = k + 1;
  unsigned rows[2][DS_STR_MAX + 2];
  unsigned *prev = rows[0], *cur = rows[1];
  for (size_t j = 0; j <= nb; j++) prev[j] = j <= k ? (unsigned)j : big;
  for (size_t i = 1; i <= na; i++) {
    size_t lo = i > k ? i - k : 1;
    size_t hi = i + k < nb ? i + k : nb;
    cur[0] = i <= k ? (unsigned)i : big;
    if (lo > 1) cur[lo - 1] = big;
    unsigned row_min = cur[0];
    for (size_t j = lo; j <= hi; j++) {
      unsigned v = prev[j - 1] + (a[i - 1] != b[j - 1]);
      if (prev[j] + 1 < v) v = prev[j] + 1;
      if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
      if (v > big) v = big;
      cur[j] = v;
      if (v < row_min) row_min = v;
    }
    if (hi < nb) cur[hi + 1] = big;
    if (row_min > k) return big;
    unsigned *t = prev;
    prev = cur;
    cur = t;
  }
  return prev[nb] <= k ? prev[nb] : big;
}

unsigned ds_lev_full(const char *a, size_t na, const char *b, size_t nb) {
  unsigned rows[2][DS_STR_MAX + 2];
  unsigned *prev = rows[0], *cur = rows[1];
  if (na > DS_STR_MAX || nb > DS_STR_MAX) return (unsigned)-1;
  for (size_t j = 0; j <= nb; j++) prev[j] = (unsigned)j;
  for (size_t i = 1; i <= na; i++) {
    cur[0] = (unsigned)i;
    for (size_t j = 1; j <= nb; j++) {
      unsigned v = prev[j - 1] + (a[i - 1] != b[j - 1]);
      if (prev[j] + 1 < v) v = prev[j] + 1;
      if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
      cur[j] = v;
    }
    unsigned *t = prev;
    prev = cur;
    cur = t;
  }
  return prev[nb];
}
