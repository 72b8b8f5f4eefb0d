/*
 * http_router — matches a request's method and path against a route table
 * (a linear scan: tables have tens of rows, and a row check is a few byte
 * compares), extracts `:name` parameters, and lists the methods of a path
 * for 405's Allow header.
 */
#include "adapters/http/http_internal.h"

#include <string.h>

const char *http_method_name(int method) {
  switch (method) {
  case HTTP_METHOD_GET: return "GET";
  case HTTP_METHOD_HEAD: return "HEAD";
  case HTTP_METHOD_POST: return "POST";
  case HTTP_METHOD_PUT: return "PUT";
  case HTTP_METHOD_PATCH: return "PATCH";
  case HTTP_METHOD_DELETE: return "DELETE";
  case HTTP_METHOD_OPTIONS: return "OPTIONS";
  default: return "OTHER";
  }
}

/* Matches path against pattern; when req is not NULL, records params. */
static bool path_match(const char *pattern, const char *path, http_request *req) {
  const char *p = pattern, *s = path;
  size_t n_params = 0;
  while (*p && *s) {
    if (*p == ':') {
      const char *name = ++p;
      while (*p && *p != '/') p++;
      const char *value = s;
      while (*s && *s != '/') s++;
      if (s == value || n_params == HTTP_MAX_PARAMS) return false;
      if (req) {
        req->param_name[n_params] = name;
        req->param_name_len[n_params] = (size_t)(p - name);
        req->param_off[n_params] = req->param_values.len;
        pv_buf_add(&req->param_values, value, (size_t)(s - value));
        pv_buf_addch(&req->param_values, '\0');
        req->n_params = n_params + 1;
      }
      n_params++;
      continue;
    }
    if (*p != *s) return false;
    p++;
    s++;
  }
  return *p == '\0' && *s == '\0';
}

int http_router_match(const http_route *routes, size_t n, int method,
                      const char *path, http_request *req, pv_buf *allow) {
  bool path_seen = false;
  for (size_t i = 0; i < n; i++) {
    if (!path_match(routes[i].path, path, NULL)) continue;
    if (routes[i].method == method) {
      path_match(routes[i].path, path, req);
      return (int)i;
    }
    if (path_seen) pv_buf_addstr(allow, ", ");
    pv_buf_addstr(allow, http_method_name(routes[i].method));
    path_seen = true;
  }
  return path_seen ? -405 : -404;
}

int http_router_check(const http_route *routes, size_t n, pv_error *err) {
  for (size_t i = 0; i < n; i++) {
    const http_route *r = &routes[i];
    if (!r->path || r->path[0] != '/' || !r->handler || r->method < HTTP_METHOD_GET ||
        r->method > HTTP_METHOD_OPTIONS || (r->roles == 0))
      return pv_error_set(err, PV_EINVAL, NULL, "invalid route row %zu (\"%s\")", i,
                          r->path ? r->path : "");
    for (size_t j = 0; j < i; j++)
      if (routes[j].method == r->method && strcmp(routes[j].path, r->path) == 0)
        return pv_error_set(err, PV_EINVAL, NULL, "route %s \"%s\" declared twice",
                            http_method_name(r->method), r->path);
  }
  return 0;
}
