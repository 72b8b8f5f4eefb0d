/*
 * http_parse — see http_parse.h. Strictness: llhttp_init leaves every
 * lenient flag off, and we never turn one on, so llhttp itself rejects
 * Content-Length with Transfer-Encoding, a second Content-Length, bad chunk
 * sizes, bare LF line ends and obsolete line folding (all HPE_* -> 400).
 */
#include "adapters/http/http_parse.h"

#include <string.h>

#include "adapters/http/http.h"

static http_parse *of(llhttp_t *l) { return l->data; }

static int fail(http_parse *p, int status, const char *reason) {
  p->error_status = status;
  p->error_reason = reason;
  llhttp_set_error_reason(&p->llhttp, reason);
  return HPE_USER;
}

/* Counts head bytes (plus 4 per line for ": " or the CRLF) and keeps them;
 * checks the head's extent on the wire too. */
static int add_head(http_parse *p, const char *at, size_t len) {
  if (!p->head_started) {
    p->head_started = true;
    p->head_start = at;
  }
  size_t extent = p->head_prior + (size_t)(at + len - (p->head_start ? p->head_start : p->feed_start));
  p->head_bytes += len;
  if (p->head_bytes > p->max_head_bytes || extent > p->max_head_bytes)
    return fail(p, 431, "request header block too large");
  pv_buf_add(&p->head, at, len);
  return 0;
}

static int on_message_begin(llhttp_t *l) {
  http_parse *p = of(l);
  pv_buf_reset(&p->head);
  p->head_bytes = 0;
  p->head_prior = 0;
  p->head_start = NULL;
  p->head_started = false;
  p->n_headers = 0;
  p->url = NULL;
  p->in_head = true;
  p->in_message = true;
  p->cb->on_begin(p->owner);
  return 0;
}

static int on_url(llhttp_t *l, const char *at, size_t len) {
  return add_head(of(l), at, len);
}

static int on_url_complete(llhttp_t *l) {
  http_parse *p = of(l);
  p->head_bytes += 16; /* method, version and the CRLF, roughly */
  pv_buf_addch(&p->head, '\0');
  return 0;
}

static int on_header_field(llhttp_t *l, const char *at, size_t len) {
  http_parse *p = of(l);
  if (p->n_headers == HTTP_PARSE_MAX_HEADERS)
    return fail(p, 431, "too many request headers");
  if (p->head.len == 0 || p->head.data[p->head.len - 1] == '\0') {
    /* first piece of a new name */
    p->name_off[p->n_headers] = p->head.len;
  }
  return add_head(p, at, len);
}

static int on_header_field_complete(llhttp_t *l) {
  http_parse *p = of(l);
  if (p->n_headers == HTTP_PARSE_MAX_HEADERS)
    return fail(p, 431, "too many request headers");
  pv_buf_addch(&p->head, '\0');
  p->value_off[p->n_headers] = p->head.len;
  p->head_bytes += 4;
  return 0;
}

static int on_header_value(llhttp_t *l, const char *at, size_t len) {
  return add_head(of(l), at, len);
}

static int on_header_value_complete(llhttp_t *l) {
  http_parse *p = of(l);
  pv_buf_addch(&p->head, '\0');
  p->n_headers++;
  return 0;
}

static int on_headers_complete(llhttp_t *l) {
  http_parse *p = of(l);
  p->in_head = false;
  p->url = p->head.data;
  for (size_t i = 0; i < p->n_headers; i++) {
    p->headers[i].name = p->head.data + p->name_off[i];
    p->headers[i].value = p->head.data + p->value_off[i];
  }
  return p->cb->on_head(p->owner);
}

static int on_body(llhttp_t *l, const char *at, size_t len) {
  http_parse *p = of(l);
  return p->cb->on_body(p->owner, at, len);
}

static int on_message_complete(llhttp_t *l) {
  http_parse *p = of(l);
  p->in_message = false;
  p->cb->on_complete(p->owner);
  return HPE_PAUSED;
}

void http_parse_init(http_parse *p, const http_parse_cb *cb, void *owner,
                     size_t max_head_bytes) {
  memset(p, 0, sizeof *p);
  llhttp_settings_init(&p->settings);
  p->settings.on_message_begin = on_message_begin;
  p->settings.on_url = on_url;
  p->settings.on_url_complete = on_url_complete;
  p->settings.on_header_field = on_header_field;
  p->settings.on_header_field_complete = on_header_field_complete;
  p->settings.on_header_value = on_header_value;
  p->settings.on_header_value_complete = on_header_value_complete;
  p->settings.on_headers_complete = on_headers_complete;
  p->settings.on_body = on_body;
  p->settings.on_message_complete = on_message_complete;
  llhttp_init(&p->llhttp, HTTP_REQUEST, &p->settings);
  p->llhttp.data = p;
  p->cb = cb;
  p->owner = owner;
  p->max_head_bytes = max_head_bytes;
  pv_buf_init(&p->head, 0);
}

void http_parse_release(http_parse *p) { pv_buf_release(&p->head); }

http_parse_result http_parse_feed(http_parse *p, const char *data, size_t len,
                                  size_t *consumed) {
  llhttp_errno_t e = llhttp_get_errno(&p->llhttp);
  if (e == HPE_PAUSED) llhttp_resume(&p->llhttp);
  else if (e == HPE_PAUSED_UPGRADE) llhttp_resume_after_upgrade(&p->llhttp);
  p->feed_start = data;
  e = llhttp_execute(&p->llhttp, data, len);
  if (e == HPE_OK || e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
    *consumed = e == HPE_OK ? len : (size_t)(llhttp_get_error_pos(&p->llhttp) - data);
    if (p->in_head) {
      /* the head goes on in the next feed: remember what it used here */
      const char *base = p->head_start ? p->head_start : data;
      if (p->head_started) p->head_prior += (size_t)(data + *consumed - base);
      p->head_start = NULL;
      if (p->head_prior > p->max_head_bytes) {
        p->error_status = 431;
        p->error_reason = "request header block too large";
        return HTTP_PARSE_ERROR;
      }
    }
    return e == HPE_OK ? HTTP_PARSE_OK : HTTP_PARSE_PAUSED;
  }
  *consumed = len;
  if (!p->error_status) {
    p->error_status = 400;
    p->error_reason = llhttp_get_error_reason(&p->llhttp);
  }
  return HTTP_PARSE_ERROR;
}

bool http_parse_paused(const http_parse *p) {
  return llhttp_get_errno(&p->llhttp) == HPE_PAUSED;
}

int http_parse_method(const http_parse *p) {
  switch (p->llhttp.method) {
  case HTTP_GET: return HTTP_METHOD_GET;
  case HTTP_HEAD: return HTTP_METHOD_HEAD;
  case HTTP_POST: return HTTP_METHOD_POST;
  case HTTP_PUT: return HTTP_METHOD_PUT;
  case HTTP_PATCH: return HTTP_METHOD_PATCH;
  case HTTP_DELETE: return HTTP_METHOD_DELETE;
  case HTTP_OPTIONS: return HTTP_METHOD_OPTIONS;
  default: return 0;
  }
}

bool http_parse_keep_alive(const http_parse *p) {
  return llhttp_should_keep_alive(&p->llhttp) && !p->llhttp.upgrade;
}

bool http_parse_has_body(const http_parse *p) {
  return (p->llhttp.flags & F_CHUNKED) ||
         ((p->llhttp.flags & F_CONTENT_LENGTH) && p->llhttp.content_length > 0);
}

uint64_t http_parse_content_length(const http_parse *p) {
  if ((p->llhttp.flags & F_CONTENT_LENGTH) && !(p->llhttp.flags & F_CHUNKED))
    return p->llhttp.content_length;
  return UINT64_MAX;
}

bool http_parse_is_http10(const http_parse *p) {
  return p->llhttp.http_major == 1 && p->llhttp.http_minor == 0;
}
