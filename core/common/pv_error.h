/*
 * pv_error — the one list of Pivotal's error codes, and the error record
 * that carries a code with its field, message, detail and hint.
 *
 * Every code is declared once in PV_ERRNO_MAP (name, primary message, HTTP
 * status); the enum, pv_err_name(), pv_strerror() and pv_http_status() are
 * all expanded from it, so they cannot drift. Codes are negative and start
 * at -40001, clear of errno (positive) and LMDB (-30800 range). LMDB and
 * libpq results are translated into these at their boundary (core/log.c,
 * adapters/pg/) and never above it.
 *
 * Messages follow PostgreSQL's style guide: the primary message is short,
 * lower case, no final period; "could not" when a retry may work, "cannot"
 * when it never will; the detail is full sentences; the hint says what to do.
 *
 * Thread: everything here is safe from any thread; a pv_error belongs to
 * the caller that passed it in.
 */
#ifndef PV_ERROR_H
#define PV_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/* XX(NAME, primary message, HTTP status) */
#define PV_ERRNO_MAP(XX)                                                      \
  XX(INVAL,        "invalid input",                                  400)     \
  XX(NOMEM,        "out of memory",                                  503)     \
  XX(IO,           "could not write to storage",                     500)     \
  XX(CORRUPT,      "stored data is corrupt",                         500)     \
  XX(FULL,         "storage full",                                   507)     \
  XX(CONFLICT,     "stream version conflict",                        409)     \
  XX(EXISTS,       "already exists",                                 409)     \
  XX(NOTFOUND,     "not found",                                      404)     \
  XX(TRUNCATED,    "input ends early",                               400)     \
  XX(TOOBIG,       "input too large",                                413)     \
  XX(TOODEEP,      "input nested too deeply",                        400)     \
  XX(BADTYPE,      "value has the wrong type",                       400)     \
  XX(SHUTDOWN,     "server is shutting down",                        503)     \
  XX(BUSY,         "server is busy",                                 503)     \
  XX(TIMEDOUT,     "timed out",                                      504)     \
  XX(UNAVAILABLE,  "could not reach the database",                   503)     \
  XX(UNAUTHORIZED, "authentication required",                        401)     \
  XX(FORBIDDEN,    "not allowed",                                    403)     \
  XX(PRECONDITION, "precondition failed",                            412)     \
  XX(LOCKED,       "too many attempts",                              429)     \
  XX(UNSUPPORTED,  "unsupported media type",                         415)     \
  XX(INTERNAL,     "internal error",                                 500)

enum pv__errno_index {
  PV__ERR_BASE = 40000,
#define PV__XX(name, msg, status) PV__I_##name,
  PV_ERRNO_MAP(PV__XX)
#undef PV__XX
  PV__ERR_END
};

typedef enum pv_errno {
  PV_OK = 0,
#define PV__XX(name, msg, status) PV_E##name = -PV__I_##name,
  PV_ERRNO_MAP(PV__XX)
#undef PV__XX
} pv_errno;

/* Name of a code ("EINVAL"), or "UNKNOWN" for a code not in the map. */
const char *pv_err_name(int code);
/* Primary message of a code; "unknown error" for a code not in the map. */
const char *pv_strerror(int code);
/* HTTP status a code maps to (500 for a code not in the map, 200 for 0). */
int pv_http_status(int code);

/*
 * An error with its context. Fixed-size text so that filling one never
 * allocates (it is filled on out-of-memory paths too); longer text is cut.
 * `field` is a JSON pointer ("/email") or empty.
 */
typedef struct pv_error {
  int code;
  char field[128];
  char message[256];
  char detail[512];
  char hint[256];
} pv_error;

#define PV_ERROR_INIT {0, "", "", "", ""}

/* Clears e to "no error". */
void pv_error_clear(pv_error *e);

/*
 * Sets code, field (may be NULL) and the primary message (printf format;
 * NULL takes pv_strerror(code)); clears detail and hint.
 * Returns: code, so callers can write `return pv_error_set(...)`.
 * e may be NULL, then only code is returned.
 */
int pv_error_set(pv_error *e, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sets the detail sentence(s). e may be NULL. */
void pv_error_detail(pv_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets the hint. e may be NULL. */
void pv_error_hint(pv_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
