/* api_cmpl — see api_cmpl.h. */
#include "adapters/http/handlers/api_cmpl.h"

#include "core/common/pv_time.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

actor_ref cmpl_actor(const api_principal *ap) {
  return (actor_ref){.role = (uint32_t)ap->p.role, .client_id = ap->p.client_id};
}

bool cmpl_is_client(const api_principal *ap) {
  return ap->p.role == AUTH_ROLE_CLIENT_USER;
}

const char *cmpl_scope(const api_principal *ap) {
  return cmpl_is_client(ap) ? ap->p.client_id : "";
}

void cmpl_new_id(char out[CMPL_ID_MAX]) {
  static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  uint8_t b[16];
  uint64_t ms = (uint64_t)(pv_wall_us() / 1000);
  for (int i = 0; i < 6; i++) b[i] = (uint8_t)(ms >> (8 * (5 - i)));
  randombytes_buf(b + 6, 10);
  /* 128 bits as 26 base32 digits, most significant first (2 pad bits) */
  for (int i = 0; i < 26; i++) {
    int bit = i * 5 - 2; /* first digit holds the top 3 bits */
    unsigned v = 0;
    for (int k = 0; k < 5; k++, bit++)
      v = (v << 1) | (bit >= 0 ? (unsigned)(b[bit / 8] >> (7 - bit % 8)) & 1u : 0u);
    out[i] = alphabet[v];
  }
  out[26] = '\0';
}

void cmpl_fail(http_request *req, int code, const char *field, const char *fmt, ...) {
  pv_error e = PV_ERROR_INIT;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  pv_error_set(&e, code, field, "%s", msg);
  http_respond_error(req, &e);
}

int cmpl_object_body(http_request *req, cJSON **body) {
  pv_error e = PV_ERROR_INIT;
  *body = NULL;
  int rc = http_request_json(req, body, &e);
  if (rc == 0 && !cJSON_IsObject(*body))
    rc = pv_error_set(&e, PV_EBADTYPE, "", "the body must be a JSON object");
  if (rc) {
    http_respond_error(req, &e);
    cJSON_Delete(*body);
    *body = NULL;
  }
  return rc;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int cmpl_query_param(http_request *req, const char *name, char *out, size_t cap) {
  size_t nlen = strlen(name);
  for (const char *p = http_request_query(req); *p;) {
    const char *end = strchr(p, '&');
    if (!end) end = p + strlen(p);
    if ((size_t)(end - p) >= nlen && strncmp(p, name, nlen) == 0 &&
        (p[nlen] == '=' || p + nlen == end)) {
      const char *v = p[nlen] == '=' ? p + nlen + 1 : end;
      size_t o = 0;
      bool ok = true;
      while (v < end && ok) {
        int c = (unsigned char)*v;
        if (c == '+') {
          c = ' ';
          v++;
        } else if (c == '%') {
          int hi = end - v >= 3 ? hexval(v[1]) : -1, lo = end - v >= 3 ? hexval(v[2]) : -1;
          if (hi >= 0 && lo >= 0) {
            c = hi * 16 + lo;
            v += 3;
          } else {
            ok = false;
          }
        } else {
          v++;
        }
        if (ok && (o + 1 >= cap || c == 0)) ok = false;
        if (ok) out[o++] = (char)c;
      }
      out[o] = '\0';
      if (!ok) {
        char field[96];
        snprintf(field, sizeof field, "/query/%s", name);
        cmpl_fail(req, PV_EINVAL, field, "invalid query parameter \"%s\"", name);
        return PV_EINVAL;
      }
      return 1;
    }
    p = *end ? end + 1 : end;
  }
  return 0;
}

int cmpl_limit(http_request *req, int *limit) {
  char text[16];
  *limit = CMPL_PAGE_DEFAULT;
  int rc = cmpl_query_param(req, "limit", text, sizeof text);
  if (rc < 0) return rc;
  if (rc == 0) return 0;
  char *end;
  long v = strtol(text, &end, 10);
  if (!text[0] || *end || v < 1 || v > CMPL_PAGE_MAX) {
    cmpl_fail(req, PV_EINVAL, "/query/limit", "limit must be 1 to %d", CMPL_PAGE_MAX);
    return PV_EINVAL;
  }
  *limit = (int)v;
  return 0;
}

typedef struct cmpl_q {
  http_request *req;
  cmpl_rows_fn fn;
  void *ctx;
  bool free_ctx;
} cmpl_q;

static void query_done(pg_conn *c, int rc, PGresult *res, const pv_error *err, void *arg) {
  (void)c;
  cmpl_q *q = arg;
  if (rc) {
    /* the statement's text stays in the log, not in the answer */
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, rc == PV_EUNAVAILABLE ? PV_EUNAVAILABLE : PV_EINTERNAL, NULL,
                 "could not read the read model");
    (void)err;
    http_respond_error(q->req, &e);
  } else {
    q->fn(q->req, res, q->ctx);
  }
  PQclear(res); /* the callback's (pg_conn.h) */
  if (q->free_ctx) free(q->ctx);
  free(q);
}

void cmpl_query(http_request *req, const char *sql, int n, const char *const *values,
                cmpl_rows_fn fn, void *ctx, bool free_ctx) {
  api *a = http_request_app(req);
  int rc = PV_EUNAVAILABLE;
  cmpl_q *q = pv_xcalloc(1, sizeof *q);
  *q = (cmpl_q){req, fn, ctx, free_ctx};
  if (a->db) rc = pg_pool_query(a->db, sql, n, values, query_done, q);
  if (rc == 0) return;
  if (free_ctx) free(ctx);
  free(q);
  pv_error e = PV_ERROR_INIT;
  pv_error_set(&e, rc, NULL, rc == PV_EUNAVAILABLE ? "no read-model database is configured"
                                                   : "too many queries wait; retry");
  http_response_header(req, "Retry-After", "1");
  http_respond_error(req, &e);
}

void cmpl_not_found(http_request *req, const char *what) {
  cmpl_fail(req, PV_ENOTFOUND, NULL, "no such %s", what);
}

void cmpl_one(http_request *req, PGresult *res, const char *what) {
  if (PQntuples(res) < 1) return cmpl_not_found(req, what);
  const char *v = PQgetvalue(res, 0, 0);
  http_respond(req, 200, "application/json", v, strlen(v));
}

void cmpl_page(http_request *req, PGresult *res, int limit) {
  int rows = PQntuples(res);
  pv_buf out = PV_BUF_INIT;
  pv_buf_addstr(&out, "{\"items\":[");
  for (int i = 0; i < rows && i < limit; i++) {
    if (i) pv_buf_addch(&out, ',');
    pv_buf_addstr(&out, PQgetvalue(res, i, 0));
  }
  pv_buf_addstr(&out, "],\"next_cursor\":");
  if (rows > limit) {
    cJSON *s = cJSON_CreateString(PQgetvalue(res, limit - 1, 1));
    char *text = cJSON_PrintUnformatted(s);
    pv_buf_addstr(&out, text);
    free(text);
    cJSON_Delete(s);
  } else {
    pv_buf_addstr(&out, "null");
  }
  pv_buf_addch(&out, '}');
  http_respond(req, 200, "application/json", out.data, out.len);
  pv_buf_release(&out);
}

void cmpl_csv_field(pv_buf *out, const char *s) {
  bool formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@';
  if (s[0] == '+' && s[1] && strspn(s + 1, "0123456789") == strlen(s + 1))
    formula = false; /* an E.164 phone number stays as it is */
  bool quote = formula || strpbrk(s, ",\"\r\n") != NULL;
  if (!quote) return pv_buf_addstr(out, s);
  pv_buf_addch(out, '"');
  if (formula) pv_buf_addch(out, '\'');
  for (; *s; s++) {
    if (*s == '"') pv_buf_addch(out, '"');
    pv_buf_addch(out, *s);
  }
  pv_buf_addch(out, '"');
}
