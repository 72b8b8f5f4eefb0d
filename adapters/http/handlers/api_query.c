/*
 * api_query — list queries (filters, whitelist sort, keyset pages),
 * get-by-id, and streamed export over the read models. See api_query.h.
 */
#include "adapters/http/handlers/api_query.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APIQ_MAX_PARAMS 32
#define APIQ_STR_(x) #x
#define APIQ_STR(x) APIQ_STR_(x)
#define APIQ_CURSOR_MAX 2048  /* bytes of a cursor: two values of 512 and change */

/* Names the query parameter as the error's field ("/name"). */
static void param_field(pv_error *err, const char *name) {
  if (err) snprintf(err->field, sizeof err->field, "/%s", name);
}

const char *apiq_tenant(http_request *req) { return api_principal_of(req)->p.tenant; }

/* ---- query string ---------------------------------------------------- */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Percent-decodes s[0..len) ('+' is a space) into out. Returns 0 or -1. */
static int pct_decode(const char *s, size_t len, pv_buf *out) {
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (ch == '+') {
      ch = ' ';
    } else if (ch == '%') {
      int hi = i + 1 < len ? hexval((unsigned char)s[i + 1]) : -1;
      int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return -1;
      ch = (char)(hi * 16 + lo);
      i += 2;
    }
    pv_buf_addch(out, ch);
  }
  return 0;
}

/* Well-formed UTF-8 without NUL (RFC 3629: no overlongs, no surrogates). */
static bool utf8_ok(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    if (c == 0) return false;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) n = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 3, cp = c & 0x07;
    else return false;
    for (size_t k = 1; k <= n; k++) {
      if (i + k >= len || (s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

static bool name_ok(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return false;
  return true;
}

void apiq_params_release(apiq_params *l) { pv_buf_release(&l->store); }

int apiq_params_parse(const char *qs, apiq_params *l, pv_error *err) {
  memset(l, 0, sizeof *l);
  pv_buf_init(&l->store, 0);
  size_t offs[APIQ_PARAMS_MAX];
  pv_buf name = PV_BUF_INIT;
  int rc = 0;
  for (const char *p = qs; *p;) {
    size_t len = strcspn(p, "&");
    const char *eq = memchr(p, '=', len);
    size_t nlen = eq ? (size_t)(eq - p) : len;
    if (len == 0) {
      p++;
      continue;
    }
    pv_buf_reset(&name);
    if (pct_decode(p, nlen, &name) || name.len >= sizeof l->names[0] ||
        !name_ok(name.data)) {
      rc = pv_error_set(err, PV_EINVAL, "", "unknown query parameter");
      pv_error_hint(err, "Parameters are lower-case names such as sort, limit, cursor.");
      goto out;
    }
    for (size_t i = 0; i < l->n; i++)
      if (strcmp(l->names[i], name.data) == 0) {
        rc = pv_error_set(err, PV_EINVAL, NULL, "parameter %s is given twice", name.data);
        param_field(err, name.data);
        goto out;
      }
    if (l->n == APIQ_PARAMS_MAX) {
      rc = pv_error_set(err, PV_EINVAL, "", "too many query parameters");
      goto out;
    }
    char *pname = l->names[l->n];
    snprintf(pname, sizeof l->names[0], "%s", name.data);
    offs[l->n] = l->store.len;
    size_t before = l->store.len;
    if (eq && pct_decode(eq + 1, len - nlen - 1, &l->store)) {
      rc = pv_error_set(err, PV_EINVAL, NULL, "bad percent-encoding in %s", pname);
      param_field(err, pname);
      goto out;
    }
    size_t vlen = l->store.len - before;
    if (vlen > APIQ_VALUE_MAX || !utf8_ok((const unsigned char *)l->store.data + before, vlen)) {
      rc = pv_error_set(err, PV_EINVAL, NULL, "%s must be UTF-8 text of at most %d bytes",
                        pname, APIQ_VALUE_MAX);
      param_field(err, pname);
      goto out;
    }
    pv_buf_addch(&l->store, '\0');
    l->n++;
    p += len;
    if (*p == '&') p++;
  }
  for (size_t i = 0; i < l->n; i++) l->values[i] = l->store.data + offs[i];
out:
  pv_buf_release(&name);
  return rc;
}

static const char *qs_get(apiq_params *l, const char *name, bool *used, size_t *idx) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->names[i], name) == 0) {
      used[i] = true;
      if (idx) *idx = i;
      return l->values[i];
    }
  return NULL;
}

/* ---- checks ------------------------------------------------------------ */

static bool digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

static bool in_range(const char *s, int lo, int hi) {
  int v = (s[0] - '0') * 10 + (s[1] - '0');
  return v >= lo && v <= hi;
}

/* RFC 3339 full-date, or date-time with Z or a numeric offset. */
static bool time_ok(const char *s) {
  size_t n = strlen(s);
  if (n < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
      !digits(s + 8, 2) || !in_range(s + 5, 1, 12) || !in_range(s + 8, 1, 31))
    return false;
  if (n == 10) return true;
  const char *t = s + 10;
  if ((*t != 'T' && *t != 't' && *t != ' ') || strlen(t) < 9 || !digits(t + 1, 2) ||
      t[3] != ':' || !digits(t + 4, 2) || t[6] != ':' || !digits(t + 7, 2) ||
      !in_range(t + 1, 0, 23) || !in_range(t + 4, 0, 59) || !in_range(t + 7, 0, 60))
    return false;
  t += 9;
  if (*t == '.') {
    size_t k = 1;
    while (t[k] >= '0' && t[k] <= '9') k++;
    if (k == 1 || k > 10) return false;
    t += k;
  }
  if ((*t == 'Z' || *t == 'z') && t[1] == '\0') return true;
  return (*t == '+' || *t == '-') && strlen(t) == 6 && digits(t + 1, 2) && t[3] == ':' &&
         digits(t + 4, 2) && in_range(t + 1, 0, 23) && in_range(t + 4, 0, 59);
}

static bool int_text_ok(const char *s) {
  size_t n = strlen(s);
  if (n > 0 && s[0] == '-') s++, n--;
  return n > 0 && n <= 18 && digits(s, n);
}

/* ---- building ----------------------------------------------------------- */

static int add_param(apiq_query *q, const char *v) {
  if (q->n == APIQ_MAX_PARAMS) abort(); /* the tables bound this: a bug */
  q->off[q->n] = q->store.len;
  pv_buf_addstr(&q->store, v);
  pv_buf_addch(&q->store, '\0');
  return ++q->n;
}

/* Appends sql with each "$?" replaced by $idx. */
static void add_sql_param(pv_buf *sql, const char *frag, int idx) {
  for (const char *p = frag; *p; p++) {
    if (p[0] == '$' && p[1] == '?') {
      pv_buf_addf(sql, "$%d", idx);
      p++;
    } else {
      pv_buf_addch(sql, *p);
    }
  }
}

static const char *kind_cast(apiq_kind k) { return k == APIQ_INT ? "bigint" : "text"; }

void apiq_values(const apiq_query *q, const char *values[32]) {
  for (int i = 0; i < q->n; i++) values[i] = q->store.data + q->off[i];
}

void apiq_release(apiq_query *q) {
  pv_buf_release(&q->sql);
  pv_buf_release(&q->store);
}

void apiq_cursor_encode(const apiq_query *q, const char *key, const char *tiebreak, pv_buf *out) {
  cJSON *arr = cJSON_CreateArray();
  char spec[64];
  snprintf(spec, sizeof spec, "%s%s", q->desc ? "-" : "", q->sort->name);
  cJSON_AddItemToArray(arr, cJSON_CreateString(spec));
  cJSON_AddItemToArray(arr, cJSON_CreateString(key));
  cJSON_AddItemToArray(arr, cJSON_CreateString(tiebreak));
  char *text = cJSON_PrintUnformatted(arr);
  cJSON_Delete(arr);
  size_t len = strlen(text);
  size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *b64 = pv_xmalloc(cap);
  sodium_bin2base64(b64, cap, (const unsigned char *)text, len,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  pv_buf_addstr(out, b64);
  free(b64);
  free(text);
}

static int bad_cursor(pv_error *err) {
  pv_error_set(err, PV_EINVAL, "/cursor", "invalid cursor");
  pv_error_hint(err, "Pass next_cursor of the previous page unchanged, with the same sort.");
  return PV_EINVAL;
}

/* Decodes a cursor made with the same sort; key and tiebreak become
 * parameters (checked for their kinds). */
static int cursor_decode(const apiq_resource *res, apiq_query *q, const char *cur, int *kidx,
                         int *tidx, pv_error *err) {
  size_t len = strlen(cur);
  if (len == 0 || len > APIQ_CURSOR_MAX) return bad_cursor(err);
  unsigned char *bin = pv_xmalloc(len + 1);
  size_t got = 0;
  int rc = 0;
  cJSON *arr = NULL;
  if (sodium_base642bin(bin, len, cur, len, NULL, &got, NULL,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    rc = bad_cursor(err);
    goto out;
  }
  bin[got] = '\0';
  arr = cJSON_ParseWithLength((const char *)bin, got);
  char spec[64];
  snprintf(spec, sizeof spec, "%s%s", q->desc ? "-" : "", q->sort->name);
  const cJSON *s = cJSON_GetArrayItem(arr, 0), *k = cJSON_GetArrayItem(arr, 1),
              *t = cJSON_GetArrayItem(arr, 2);
  if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != 3 || !cJSON_IsString(s) ||
      !cJSON_IsString(k) || !cJSON_IsString(t) || strcmp(s->valuestring, spec) != 0 ||
      !utf8_ok((const unsigned char *)k->valuestring, strlen(k->valuestring)) ||
      !utf8_ok((const unsigned char *)t->valuestring, strlen(t->valuestring)) ||
      (q->sort->kind == APIQ_INT && !int_text_ok(k->valuestring)) ||
      (res->tiebreak_kind == APIQ_INT && !int_text_ok(t->valuestring))) {
    rc = bad_cursor(err);
    goto out;
  }
  *kidx = add_param(q, k->valuestring);
  *tidx = add_param(q, t->valuestring);
out:
  cJSON_Delete(arr);
  free(bin);
  return rc;
}

/* value with LIKE's wildcards and escape escaped (ESCAPE '\' is the default). */
void apiq_like_escape(const char *v, pv_buf *out) {
  for (; *v; v++) {
    if (*v == '%' || *v == '_' || *v == '\\') pv_buf_addch(out, '\\');
    pv_buf_addch(out, *v);
  }
}

int apiq_build(const apiq_resource *res, apiq_mode mode, const char *qs,
               const char *const *fixed, size_t n_fixed, apiq_query *q, pv_error *err) {
  memset(q, 0, sizeof *q);
  pv_buf_init(&q->sql, 0);
  pv_buf_init(&q->store, 0);
  q->limit = APIQ_LIMIT_DEFAULT;
  apiq_params l;
  int rc = apiq_params_parse(qs, &l, err);
  if (rc) {
    apiq_params_release(&l);
    return rc;
  }
  bool used[APIQ_PARAMS_MAX] = {0};
  for (size_t i = 0; i < n_fixed; i++) add_param(q, fixed[i]);

  /* sort: only names of the whitelist; the expression comes from the table */
  const char *sort = qs_get(&l, "sort", used, NULL);
  const char *spec = sort ? sort : res->default_sort;
  q->desc = spec[0] == '-';
  const char *sname = q->desc ? spec + 1 : spec;
  for (size_t i = 0; i < res->n_sorts; i++)
    if (strcmp(res->sorts[i].name, sname) == 0) q->sort = &res->sorts[i];
  if (!q->sort) {
    pv_buf names = PV_BUF_INIT;
    for (size_t i = 0; i < res->n_sorts; i++)
      pv_buf_addf(&names, "%s%s", i ? ", " : "", res->sorts[i].name);
    rc = pv_error_set(err, PV_EINVAL, "/sort", "cannot sort by that field");
    pv_error_hint(err, "Sort by one of: %s (prefix - for descending).", names.data);
    pv_buf_release(&names);
    goto out;
  }

  if (mode == APIQ_LIST) {
    const char *lim = qs_get(&l, "limit", used, NULL);
    if (lim) {
      char *end;
      errno = 0;
      long v = strtol(lim, &end, 10);
      if (!digits(lim, strlen(lim)) || !*lim || *end || errno || v < 1 || v > APIQ_LIMIT_MAX) {
        rc = pv_error_set(err, PV_EINVAL, "/limit", "limit must be 1 to %d", APIQ_LIMIT_MAX);
        goto out;
      }
      q->limit = v;
    }
  } else {
    const char *fmt = qs_get(&l, "format", used, NULL);
    if (!fmt || strcmp(fmt, "csv") == 0) {
      q->csv = true;
    } else if (strcmp(fmt, "json") != 0) {
      rc = pv_error_set(err, PV_EINVAL, "/format", "format must be csv or json");
      goto out;
    }
  }

  pv_buf *sql = &q->sql;
  pv_buf_addstr(sql, "SELECT ");
  if (mode == APIQ_LIST) {
    pv_buf_addf(sql, "(%s)::text, (%s)::text, (%s)::text", q->sort->expr, res->tiebreak,
                res->item);
  } else if (q->csv) {
    for (size_t i = 0; i < res->n_csv; i++) pv_buf_addf(sql, "%s(%s)::text", i ? ", " : "", res->csv_exprs[i]);
  } else {
    pv_buf_addf(sql, "(%s)::text", res->item);
  }
  pv_buf_addf(sql, " FROM %s WHERE %s", res->from, res->where);

  if (res->live) {
    const char *del = qs_get(&l, "deleted", used, NULL);
    if (!del || strcmp(del, "false") == 0) {
      pv_buf_addf(sql, " AND %s", res->live);
    } else if (strcmp(del, "true") == 0) {
      pv_buf_addf(sql, " AND %s", res->deleted);
    } else if (strcmp(del, "any") != 0) {
      rc = pv_error_set(err, PV_EINVAL, "/deleted", "deleted must be false, true or any");
      goto out;
    }
  }

  for (size_t i = 0; i < res->n_filters; i++) {
    const apiq_filter *f = &res->filters[i];
    const char *v = qs_get(&l, f->param, used, NULL);
    if (!v) {
      if (res->required && strcmp(res->required, f->param) == 0) {
        rc = pv_error_set(err, PV_EINVAL, NULL, "parameter %s is required", f->param);
        param_field(err, f->param);
        goto out;
      }
      continue;
    }
    int idx;
    if (f->check == APIQ_CHECK_TIME) {
      if (!time_ok(v)) {
        rc = pv_error_set(err, PV_EINVAL, NULL, "%s must be an RFC 3339 date or time",
                          f->param);
        param_field(err, f->param);
        pv_error_hint(err, "For example 2026-01-31 or 2026-01-31T12:00:00Z.");
        goto out;
      }
      idx = add_param(q, v);
    } else if (f->check == APIQ_CHECK_LIKE) {
      pv_buf esc = PV_BUF_INIT;
      apiq_like_escape(v, &esc);
      idx = add_param(q, esc.data ? esc.data : "");
      pv_buf_release(&esc);
    } else {
      idx = add_param(q, v);
    }
    pv_buf_addstr(sql, " AND (");
    add_sql_param(sql, f->sql, idx);
    pv_buf_addch(sql, ')');
  }

  if (mode == APIQ_LIST) {
    const char *cur = qs_get(&l, "cursor", used, NULL);
    if (cur) {
      int kidx, tidx;
      if ((rc = cursor_decode(res, q, cur, &kidx, &tidx, err))) goto out;
      pv_buf_addf(sql, " AND ((%s), %s) %s ($%d::%s, $%d::%s)", q->sort->expr, res->tiebreak,
                  q->desc ? "<" : ">", kidx, kind_cast(q->sort->kind), tidx,
                  kind_cast(res->tiebreak_kind));
      /* redundant, for an index on the sort key (api_query.h) */
      pv_buf_addf(sql, " AND (%s) %s $%d::%s", q->sort->expr, q->desc ? "<=" : ">=", kidx,
                  kind_cast(q->sort->kind));
    }
  }

  /* anything left is not a parameter of this route */
  for (size_t i = 0; i < l.n; i++)
    if (!used[i]) {
      rc = pv_error_set(err, PV_EINVAL, NULL, "unknown query parameter %s", l.names[i]);
      param_field(err, l.names[i]);
      goto out;
    }

  const char *dir = q->desc ? "DESC" : "ASC";
  pv_buf_addf(sql, " ORDER BY (%s) %s, %s %s", q->sort->expr, dir, res->tiebreak, dir);
  if (mode == APIQ_LIST) {
    char lim[24];
    snprintf(lim, sizeof lim, "%ld", q->limit + 1);
    pv_buf_addf(sql, " LIMIT $%d::integer", add_param(q, lim));
  }
out:
  apiq_params_release(&l);
  if (rc) apiq_release(q);
  return rc;
}

/* ---- CSV ---------------------------------------------------------------- */

void apiq_csv_cell(pv_buf *out, const char *s, size_t len) {
  if (!s || len == 0) return;
  /* OWASP "CSV injection": a leading = + - @ tab or CR makes spreadsheets
   * read a formula; a leading quote makes it text */
  bool formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
                 s[0] == '\r';
  bool quote = false;
  for (size_t i = 0; i < len && !quote; i++)
    quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
  if (quote) pv_buf_addch(out, '"');
  if (formula) pv_buf_addch(out, '\'');
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '"') pv_buf_addch(out, '"');
    pv_buf_addch(out, s[i]);
  }
  if (quote) pv_buf_addch(out, '"');
}

/* ---- running ------------------------------------------------------------ */

static void respond_code(http_request *req, int rc, const pv_error *e) {
  pv_error own = PV_ERROR_INIT;
  if (!e || e->code == 0) {
    pv_error_set(&own, rc, NULL, rc == PV_EUNAVAILABLE ? "the read models are not available"
                                                       : "the query failed");
    e = &own;
  }
  http_respond_error(req, e);
}

static pg_pool *db_or_503(http_request *req) {
  api *a = http_request_app(req);
  if (!a->db) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, PV_EUNAVAILABLE, NULL, "the read models are not configured");
    pv_error_hint(&e, "Start the server with a database (--database-url).");
    http_respond_error(req, &e);
  }
  return a->db;
}

typedef struct list_ctx {
  http_request *req;
  const apiq_resource *res;
  apiq_query q;
  char *fixed_store; /* the fixed values for exists_sql */
  const char *fixed[4];
  size_t n_fixed;
} list_ctx;

static void list_ctx_free(list_ctx *x) {
  apiq_release(&x->q);
  free(x->fixed_store);
  free(x);
}

static void copy_fixed(list_ctx *x, const char *const *fixed, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += strlen(fixed[i]) + 1;
  x->fixed_store = pv_xmalloc(total ? total : 1);
  char *p = x->fixed_store;
  for (size_t i = 0; i < n && i < 4; i++) {
    size_t len = strlen(fixed[i]) + 1;
    memcpy(p, fixed[i], len);
    x->fixed[i] = p;
    p += len;
  }
  x->n_fixed = n < 4 ? n : 4;
}

static void on_list_rows(pg_conn *c, int rc, PGresult *res, const pv_error *err, void *arg) {
  (void)c;
  list_ctx *x = arg;
  if (rc) {
    respond_code(x->req, rc, err);
    list_ctx_free(x);
    return;
  }
  int rows = PQntuples(res);
  bool more = rows > x->q.limit;
  if (more) rows = (int)x->q.limit;
  pv_buf body = PV_BUF_INIT;
  pv_buf_addstr(&body, "{\"items\":[");
  for (int i = 0; i < rows; i++) {
    if (i) pv_buf_addch(&body, ',');
    pv_buf_add(&body, PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2));
  }
  pv_buf_addstr(&body, "],\"next_cursor\":");
  if (more) {
    pv_buf_addch(&body, '"');
    apiq_cursor_encode(&x->q, PQgetvalue(res, rows - 1, 0), PQgetvalue(res, rows - 1, 1), &body);
    pv_buf_addch(&body, '"');
  } else {
    pv_buf_addstr(&body, "null");
  }
  pv_buf_addch(&body, '}');
  PQclear(res);
  http_respond(x->req, 200, "application/json", body.data, body.len);
  pv_buf_release(&body);
  list_ctx_free(x);
}

static void run_list(list_ctx *x) {
  api *a = http_request_app(x->req);
  const char *values[32];
  apiq_values(&x->q, values);
  int rc = pg_pool_query(a->db, x->q.sql.data, x->q.n, values, on_list_rows, x);
  if (rc) {
    respond_code(x->req, rc, NULL);
    list_ctx_free(x);
  }
}

static void on_exists(pg_conn *c, int rc, PGresult *res, const pv_error *err, void *arg) {
  (void)c;
  list_ctx *x = arg;
  if (rc) {
    respond_code(x->req, rc, err);
    list_ctx_free(x);
    return;
  }
  int rows = PQntuples(res);
  PQclear(res);
  if (rows == 0) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, PV_ENOTFOUND, NULL, "no such entity");
    http_respond_error(x->req, &e);
    list_ctx_free(x);
    return;
  }
  run_list(x);
}

void apiq_list(http_request *req, const apiq_resource *res, const char *const *fixed,
               size_t n_fixed) {
  pg_pool *db = db_or_503(req);
  if (!db) return;
  list_ctx *x = pv_xcalloc(1, sizeof *x);
  x->req = req;
  x->res = res;
  pv_error e = PV_ERROR_INIT;
  if (apiq_build(res, APIQ_LIST, http_request_query(req), fixed, n_fixed, &x->q, &e)) {
    http_respond_error(req, &e);
    free(x);
    return;
  }
  if (!res->exists_sql) {
    run_list(x);
    return;
  }
  copy_fixed(x, fixed, n_fixed);
  int rc = pg_pool_query(db, res->exists_sql, (int)x->n_fixed, x->fixed, on_exists, x);
  if (rc) {
    respond_code(req, rc, NULL);
    list_ctx_free(x);
  }
}

typedef struct get_ctx {
  http_request *req;
  const char *what;
} get_ctx;

static void on_get(pg_conn *c, int rc, PGresult *res, const pv_error *err, void *arg) {
  (void)c;
  get_ctx *x = arg;
  if (rc) {
    respond_code(x->req, rc, err);
  } else if (PQntuples(res) == 0) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, PV_ENOTFOUND, NULL, "no such %s", x->what);
    http_respond_error(x->req, &e);
  } else {
    http_respond(x->req, 200, "application/json", PQgetvalue(res, 0, 0),
                 (size_t)PQgetlength(res, 0, 0));
  }
  PQclear(res);
  free(x);
}

void apiq_get(http_request *req, const char *sql, const char *const *fixed, size_t n_fixed,
              const char *what) {
  pg_pool *db = db_or_503(req);
  if (!db) return;
  get_ctx *x = pv_xmalloc(sizeof *x);
  x->req = req;
  x->what = what;
  int rc = pg_pool_query(db, sql, (int)n_fixed, fixed, on_get, x);
  if (rc) {
    respond_code(req, rc, NULL);
    free(x);
  }
}

/* ---- export --------------------------------------------------------------- */

typedef enum exp_step { EXP_BEGIN, EXP_DECLARE, EXP_FETCH, EXP_FINISH, EXP_ABORT } exp_step;

typedef struct exp_ctx {
  http_request *req;
  const apiq_resource *res;
  apiq_query q;
  pg_pool *db;
  pg_conn *conn;
  exp_step step;
  bool started;    /* headers sent */
  bool rows_sent;  /* JSON: a row before (for the comma) */
  bool failed;     /* mid-stream failure: abort the answer */
  pv_buf chunk;
} exp_ctx;

static void exp_next(exp_ctx *x);

static void exp_done(exp_ctx *x) {
  if (x->conn) pg_pool_release(x->db, x->conn);
  if (x->started) {
    if (x->failed) http_respond_abort(x->req);
    else http_respond_end(x->req);
  }
  apiq_release(&x->q);
  pv_buf_release(&x->chunk);
  free(x);
}

static void exp_fail(exp_ctx *x, int rc, const pv_error *err) {
  if (!x->started) respond_code(x->req, rc, err);
  x->failed = true;
  /* the transaction goes with ROLLBACK; a lost connection has none */
  x->step = EXP_ABORT;
  exp_next(x);
}

static void on_writable(http_request *req, int status, void *ctx) {
  (void)req;
  exp_ctx *x = ctx;
  if (status) {
    x->failed = true;
    x->step = EXP_ABORT;
  }
  exp_next(x);
}

static void exp_rows(exp_ctx *x, PGresult *res) {
  int rows = PQntuples(res), cols = PQnfields(res);
  pv_buf_reset(&x->chunk);
  for (int i = 0; i < rows; i++) {
    if (x->q.csv) {
      for (int k = 0; k < cols; k++) {
        if (k) pv_buf_addch(&x->chunk, ',');
        if (!PQgetisnull(res, i, k))
          apiq_csv_cell(&x->chunk, PQgetvalue(res, i, k), (size_t)PQgetlength(res, i, k));
      }
      pv_buf_addstr(&x->chunk, "\r\n");
    } else {
      pv_buf_addstr(&x->chunk, x->rows_sent ? ",\n" : "\n");
      pv_buf_add(&x->chunk, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
      x->rows_sent = true;
    }
  }
}

static void on_exp_result(pg_conn *c, int rc, PGresult *res, const pv_error *err, void *arg) {
  (void)c;
  exp_ctx *x = arg;
  if (x->step == EXP_ABORT || x->step == EXP_FINISH) {
    PQclear(res);
    exp_done(x);
    return;
  }
  if (rc) {
    exp_fail(x, rc, err);
    return;
  }
  if (x->step == EXP_BEGIN) {
    PQclear(res);
    x->step = EXP_DECLARE;
    exp_next(x);
    return;
  }
  if (x->step == EXP_DECLARE) {
    PQclear(res);
    char cd[160];
    snprintf(cd, sizeof cd, "attachment; filename=\"%s.%s\"", x->res->file_name,
             x->q.csv ? "csv" : "json");
    http_response_header(x->req, "Content-Disposition", cd);
    http_response_header(x->req, "Cache-Control", "no-store");
    http_respond_start(x->req, 200, x->q.csv ? "text/csv; charset=utf-8" : "application/json",
                       on_writable, x);
    x->started = true;
    pv_buf_reset(&x->chunk);
    if (x->q.csv) {
      for (size_t i = 0; i < x->res->n_csv; i++) {
        if (i) pv_buf_addch(&x->chunk, ',');
        apiq_csv_cell(&x->chunk, x->res->csv_names[i], strlen(x->res->csv_names[i]));
      }
      pv_buf_addstr(&x->chunk, "\r\n");
    } else {
      pv_buf_addch(&x->chunk, '[');
    }
    x->step = EXP_FETCH;
  } else { /* EXP_FETCH */
    bool last = PQntuples(res) < APIQ_EXPORT_FETCH;
    exp_rows(x, res);
    PQclear(res);
    if (last) {
      if (!x->q.csv) pv_buf_addstr(&x->chunk, "\n]\n");
      x->step = EXP_FINISH;
    }
  }
  int wr = http_respond_chunk(x->req, x->chunk.data, x->chunk.len);
  if (wr == PV_EIO) {
    x->failed = true;
    x->step = EXP_ABORT;
  }
  if (wr != PV_EBUSY) exp_next(x);
  /* PV_EBUSY: on_writable calls exp_next once the socket has room */
}

static void exp_next(exp_ctx *x) {
  api *a = http_request_app(x->req);
  pv_error err = PV_ERROR_INIT;
  const char *values[32];
  int rc;
  switch (x->step) {
  case EXP_BEGIN:
    /* one snapshot for the whole file */
    rc = pg_query_async(x->conn, a->loop, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
                        NULL, on_exp_result, x, &err);
    break;
  case EXP_DECLARE: {
    pv_buf decl = PV_BUF_INIT;
    pv_buf_addf(&decl, "DECLARE apiq_export NO SCROLL CURSOR FOR %s", x->q.sql.data);
    pv_buf_release(&x->q.sql);
    x->q.sql = decl;
    apiq_values(&x->q, values);
    rc = pg_query_async(x->conn, a->loop, x->q.sql.data, x->q.n, values, on_exp_result, x, &err);
    break;
  }
  case EXP_FETCH:
    rc = pg_query_async(x->conn, a->loop, "FETCH " APIQ_STR(APIQ_EXPORT_FETCH) " FROM apiq_export",
                        0, NULL, on_exp_result, x, &err);
    break;
  case EXP_FINISH:
    rc = pg_query_async(x->conn, a->loop, "COMMIT", 0, NULL, on_exp_result, x, &err);
    break;
  default:
    rc = pg_query_async(x->conn, a->loop, "ROLLBACK", 0, NULL, on_exp_result, x, &err);
    break;
  }
  if (rc == 0) return;
  if (x->step == EXP_ABORT || x->step == EXP_FINISH) {
    /* the connection is unusable: the pool resets it before its next use */
    exp_done(x);
    return;
  }
  exp_fail(x, rc, &err);
}

static void on_exp_conn(pg_pool *p, pg_conn *c, int rc, void *arg) {
  (void)p;
  exp_ctx *x = arg;
  if (rc) {
    respond_code(x->req, rc, NULL);
    exp_done(x);
    return;
  }
  x->conn = c;
  x->step = EXP_BEGIN;
  exp_next(x);
}

void apiq_export(http_request *req, const apiq_resource *res, const char *const *fixed,
                 size_t n_fixed) {
  pg_pool *db = db_or_503(req);
  if (!db) return;
  exp_ctx *x = pv_xcalloc(1, sizeof *x);
  x->req = req;
  x->res = res;
  x->db = db;
  pv_buf_init(&x->chunk, 0);
  pv_error e = PV_ERROR_INIT;
  if (apiq_build(res, APIQ_EXPORT, http_request_query(req), fixed, n_fixed, &x->q, &e)) {
    http_respond_error(req, &e);
    pv_buf_release(&x->chunk);
    free(x);
    return;
  }
  int rc = pg_pool_acquire(db, on_exp_conn, x);
  if (rc) {
    respond_code(req, rc, NULL);
    apiq_release(&x->q);
    pv_buf_release(&x->chunk);
    free(x);
  }
}
