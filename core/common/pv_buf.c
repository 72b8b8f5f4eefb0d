/* pv_buf — see pv_buf.h. */
#include "core/common/pv_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char pv_buf__empty[1];

static void pv_die_nomem(size_t n) {
  fprintf(stderr, "fatal: out of memory (allocating %zu bytes)\n", n);
  abort();
}

void *pv_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) pv_die_nomem(n);
  return p;
}

void *pv_xcalloc(size_t count, size_t n) {
  void *p = calloc(count ? count : 1, n ? n : 1);
  if (!p) pv_die_nomem(count * n);
  return p;
}

void *pv_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) pv_die_nomem(n);
  return q;
}

char *pv_xstrdup(const char *s) { return pv_xstrndup(s, strlen(s)); }

char *pv_xstrndup(const char *s, size_t n) {
  char *p = pv_xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

void pv_buf_init(pv_buf *b, size_t hint) {
  b->data = pv_buf__empty;
  b->len = b->alloc = 0;
  if (hint) pv_buf_grow(b, hint);
}

void pv_buf_release(pv_buf *b) {
  if (b->alloc) free(b->data);
  pv_buf_init(b, 0);
}

void pv_buf_reset(pv_buf *b) { pv_buf_setlen(b, 0); }

char *pv_buf_detach(pv_buf *b, size_t *len_out) {
  char *p;
  if (len_out) *len_out = b->len;
  p = b->alloc ? b->data : pv_xcalloc(1, 1);
  pv_buf_init(b, 0);
  return p;
}

void pv_buf_grow(pv_buf *b, size_t extra) {
  size_t need = b->len + extra + 1;
  if (need < b->len) pv_die_nomem(SIZE_MAX);
  if (need <= b->alloc) return;
  size_t cap = b->alloc ? b->alloc : 64;
  while (cap < need) cap = cap < SIZE_MAX / 2 ? cap * 2 : need;
  if (b->alloc) {
    b->data = pv_xrealloc(b->data, cap);
  } else {
    b->data = pv_xmalloc(cap);
    b->data[0] = '\0';
  }
  b->alloc = cap;
}

void pv_buf_add(pv_buf *b, const void *data, size_t len) {
  if (!len) return;
  pv_buf_grow(b, len);
  memcpy(b->data + b->len, data, len);
  pv_buf_setlen(b, b->len + len);
}

void pv_buf_addstr(pv_buf *b, const char *s) { pv_buf_add(b, s, strlen(s)); }

void pv_buf_addch(pv_buf *b, char c) {
  pv_buf_grow(b, 1);
  b->data[b->len] = c;
  pv_buf_setlen(b, b->len + 1);
}

void pv_buf_vaddf(pv_buf *b, const char *fmt, va_list ap) {
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(b->data + b->len, b->alloc ? b->alloc - b->len : 0, fmt, cp);
  va_end(cp);
  if (n < 0) return;
  if ((size_t)n >= (b->alloc ? b->alloc - b->len : 0)) {
    pv_buf_grow(b, (size_t)n);
    vsnprintf(b->data + b->len, b->alloc - b->len, fmt, ap);
  }
  pv_buf_setlen(b, b->len + (size_t)n);
}

void pv_buf_addf(pv_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pv_buf_vaddf(b, fmt, ap);
  va_end(ap);
}

void pv_buf_setlen(pv_buf *b, size_t len) {
  b->len = len;
  if (b->alloc) b->data[len] = '\0';
}
