/*
 * http_json — JSON answers, RFC 9457 problem+json built from a pv_error,
 * and the decoding helpers for JSON request bodies (cJSON).
 *
 * A problem carries only what a pv_error says (its code's name, message,
 * detail, hint and field), which our code writes for the client: never a
 * stack, SQL text or a path on the server.
 */
#include "adapters/http/http_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void http_json_escape(pv_buf *out, const char *s) {
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      pv_buf_addch(out, '\\');
      pv_buf_addch(out, (char)ch);
    } else if (ch < 0x20 || ch >= 0x7f) {
      /* control bytes, and bytes of non-ASCII text (kept valid JSON even
       * when they are not valid UTF-8) */
      pv_buf_addf(out, "\\u%04x", ch);
    } else {
      pv_buf_addch(out, (char)ch);
    }
  }
}

void http_respond_json(http_request *req, int status, cJSON *json) {
  char *text = cJSON_PrintUnformatted(json);
  cJSON_Delete(json);
  if (!text) abort(); /* cJSON fails only on out-of-memory; we abort on it */
  size_t len = strlen(text);
  text[len] = '\0';
  http_respond(req, status, "application/json", text, len);
  free(text);
}

void http__respond_problem(http_request *req, int status, const char *type_name,
                           const char *title, const char *detail,
                           const char *code, const char *field, const char *hint) {
  char type[64], instance[96];
  snprintf(type, sizeof type, "urn:pivotal:problem:%s", type_name);
  snprintf(instance, sizeof instance, "urn:pivotal:request:%s", http_request_id(req));
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", type);
  cJSON_AddStringToObject(p, "title", title);
  cJSON_AddNumberToObject(p, "status", status);
  cJSON_AddStringToObject(p, "detail", detail);
  cJSON_AddStringToObject(p, "instance", instance);
  cJSON_AddStringToObject(p, "code", code);
  if (field && field[0]) cJSON_AddStringToObject(p, "field", field);
  if (hint && hint[0]) cJSON_AddStringToObject(p, "hint", hint);
  char *text = cJSON_PrintUnformatted(p);
  cJSON_Delete(p);
  if (!text) abort(); /* cJSON fails only on out-of-memory; we abort on it */
  http_respond(req, status, "application/problem+json", text, strlen(text));
  free(text);
}

void http_respond_error(http_request *req, const pv_error *e) {
  int code = e->code ? e->code : PV_EINTERNAL;
  const char *name = pv_err_name(code);
  char type_name[32];
  snprintf(type_name, sizeof type_name, "%s", name[0] == 'E' ? name + 1 : name);
  for (char *p = type_name; *p; p++) *p = (char)tolower((unsigned char)*p);
  const char *title = e->message[0] ? e->message : pv_strerror(code);
  http__respond_problem(req, pv_http_status(code), type_name, title,
                        e->detail[0] ? e->detail : title, name, e->field, e->hint);
}

int http_json_decode(const char *body, size_t len, cJSON **out, pv_error *err) {
  *out = NULL;
  const char *end = NULL;
  cJSON *json = cJSON_ParseWithLengthOpts(body, len, &end, false);
  if (json) {
    /* only whitespace may follow the value */
    while (end < body + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
      end++;
    if (end == body + len) {
      *out = json;
      return 0;
    }
    cJSON_Delete(json);
  } else {
    /* cJSON sets the end pointer on failure too (its global error
     * pointer would race with other threads' parsing) */
    if (!end || end < body || end > body + len) end = body + len;
  }
  pv_error_set(err, PV_EINVAL, "", "request body is not valid JSON");
  pv_error_detail(err, "The JSON text breaks at byte %zu of %zu.",
                  (size_t)(end - body), len);
  pv_error_hint(err, "Send one JSON value encoded in UTF-8.");
  return PV_EINVAL;
}

int http_request_json(const http_request *req, cJSON **out, pv_error *err) {
  *out = NULL;
  const char *ct = http_request_header(req, "Content-Type");
  size_t n = strlen("application/json");
  if (!ct || strncasecmp(ct, "application/json", n) != 0 ||
      (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ')) {
    pv_error_set(err, PV_EUNSUPPORTED, NULL, "unsupported media type \"%s\"",
                 ct ? ct : "");
    pv_error_hint(err, "Send the body as application/json.");
    return PV_EUNSUPPORTED;
  }
  return http_json_decode(req->body.data, req->body.len, out, err);
}

/* Finds key in obj; sets a JSON-pointer field ("/key", with ~ and / escaped
 * as RFC 6901 says) in err when it is missing (and required). */
static int member(const cJSON *obj, const char *key, bool required,
                  const cJSON **out, pv_error *err, char field[128]) {
  size_t o = 0;
  field[o++] = '/';
  for (const char *k = key; *k && o < 125; k++) {
    if (*k == '~' || *k == '/') {
      field[o++] = '~';
      field[o++] = *k == '~' ? '0' : '1';
    } else {
      field[o++] = *k;
    }
  }
  field[o] = '\0';
  *out = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
  if (!*out && required)
    return pv_error_set(err, PV_EINVAL, field, "missing field \"%s\"", key);
  return 0;
}

int http_json_string(const cJSON *obj, const char *key, bool required,
                     const char **out, pv_error *err) {
  const cJSON *v;
  char field[128];
  int rc = member(obj, key, required, &v, err, field);
  if (rc || !v) return rc;
  if (!cJSON_IsString(v))
    return pv_error_set(err, PV_EBADTYPE, field, "field \"%s\" must be a string", key);
  *out = v->valuestring;
  return 0;
}

int http_json_int64(const cJSON *obj, const char *key, bool required,
                    int64_t *out, pv_error *err) {
  const cJSON *v;
  char field[128];
  int rc = member(obj, key, required, &v, err, field);
  if (rc || !v) return rc;
  /* cJSON keeps numbers as doubles: integers are exact up to 2^53. */
  /* The range check comes first: converting an out-of-range double to an
   * integer is undefined behaviour (found by the json_body fuzzer). */
  double d = v->valuedouble;
  if (!cJSON_IsNumber(v) || !(d >= -9007199254740992.0 && d <= 9007199254740992.0) ||
      d != (double)(int64_t)d)
    return pv_error_set(err, PV_EBADTYPE, field, "field \"%s\" must be an integer", key);
  *out = (int64_t)d;
  return 0;
}

int http_json_bool(const cJSON *obj, const char *key, bool required, bool *out,
                   pv_error *err) {
  const cJSON *v;
  char field[128];
  int rc = member(obj, key, required, &v, err, field);
  if (rc || !v) return rc;
  if (!cJSON_IsBool(v))
    return pv_error_set(err, PV_EBADTYPE, field, "field \"%s\" must be true or false", key);
  *out = cJSON_IsTrue(v);
  return 0;
}
