/*
 * pv_buf — a growable byte buffer in the shape of git's strbuf.
 *
 * Invariants: after pv_buf_init() (or PV_BUF_INIT) `data` is never NULL and
 * data[len] is always '\0', so text can be used as a C string; `alloc` is
 * private. Growing may move `data`: never keep a pointer into it across an
 * add. Allocation failure aborts the process (as h2o and palloc do), so call
 * sites stay clean; nothing here returns an error.
 *
 * Ownership: pv_buf_release() frees the contents and leaves the buffer as if
 * just initialised; pv_buf_detach() hands the bytes to the caller (free()
 * them) and re-initialises the buffer.
 *
 * Thread: a pv_buf belongs to one thread at a time.
 */
#ifndef PV_BUF_H
#define PV_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pv_buf {
  char *data;
  size_t len;
  size_t alloc; /* private: 0 while data points at the shared empty string */
} pv_buf;

extern char pv_buf__empty[];
#define PV_BUF_INIT {pv_buf__empty, 0, 0}

void pv_buf_init(pv_buf *b, size_t hint);
void pv_buf_release(pv_buf *b);
/* Sets len to 0, keeping the allocation. */
void pv_buf_reset(pv_buf *b);
/* Returns the bytes (caller frees) and re-initialises b. Never NULL. */
char *pv_buf_detach(pv_buf *b, size_t *len_out);
/* Ensures room for `extra` more bytes plus the terminating NUL. */
void pv_buf_grow(pv_buf *b, size_t extra);
void pv_buf_add(pv_buf *b, const void *data, size_t len);
void pv_buf_addstr(pv_buf *b, const char *s);
void pv_buf_addch(pv_buf *b, char c);
void pv_buf_addf(pv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pv_buf_vaddf(pv_buf *b, const char *fmt, va_list ap);
/* Shortens to len (len <= b->len). */
void pv_buf_setlen(pv_buf *b, size_t len);

/* Allocation helpers that abort on out-of-memory. */
void *pv_xmalloc(size_t n);
void *pv_xcalloc(size_t count, size_t n);
void *pv_xrealloc(void *p, size_t n);
char *pv_xstrdup(const char *s);
char *pv_xstrndup(const char *s, size_t n);

#endif
