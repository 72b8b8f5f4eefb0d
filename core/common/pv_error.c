/* pv_error — see pv_error.h. Everything here is expanded from PV_ERRNO_MAP. */
#include "core/common/pv_error.h"

#include <stdio.h>
#include <string.h>

const char *pv_err_name(int code) {
  switch (code) {
  case PV_OK: return "OK";
#define PV__XX(name, msg, status) case PV_E##name: return "E" #name;
    PV_ERRNO_MAP(PV__XX)
#undef PV__XX
  default: return "UNKNOWN";
  }
}

const char *pv_strerror(int code) {
  switch (code) {
  case PV_OK: return "success";
#define PV__XX(name, msg, status) case PV_E##name: return msg;
    PV_ERRNO_MAP(PV__XX)
#undef PV__XX
  default: return "unknown error";
  }
}

int pv_http_status(int code) {
  switch (code) {
  case PV_OK: return 200;
#define PV__XX(name, msg, status) case PV_E##name: return status;
    PV_ERRNO_MAP(PV__XX)
#undef PV__XX
  default: return 500;
  }
}

void pv_error_clear(pv_error *e) {
  if (!e) return;
  e->code = 0;
  e->field[0] = e->message[0] = e->detail[0] = e->hint[0] = '\0';
}

int pv_error_set(pv_error *e, int code, const char *field, const char *fmt, ...) {
  if (!e) return code;
  pv_error_clear(e);
  e->code = code;
  if (field) snprintf(e->field, sizeof e->field, "%s", field);
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
  } else {
    snprintf(e->message, sizeof e->message, "%s", pv_strerror(code));
  }
  return code;
}

void pv_error_detail(pv_error *e, const char *fmt, ...) {
  if (!e) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->detail, sizeof e->detail, fmt, ap);
  va_end(ap);
}

void pv_error_hint(pv_error *e, const char *fmt, ...) {
  if (!e) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->hint, sizeof e->hint, fmt, ap);
  va_end(ap);
}
