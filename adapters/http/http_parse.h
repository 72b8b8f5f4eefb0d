/*
 * http_parse — llhttp in strict mode, wrapped: collects the request line
 * and headers of one request at a time into one buffer (bounded by the
 * header limit), hands body bytes through, and pauses at the end of every
 * message so the owner decides when the next pipelined request starts.
 *
 * Internal to adapters/http (the server and the http_request fuzz target).
 * Thread: one parser belongs to one thread.
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "core/common/pv_buf.h"

/* 100 headers: arbitrary; Apache's LimitRequestFields default. */
#define HTTP_PARSE_MAX_HEADERS 100

/* What callbacks return to llhttp: go on, or stop after this callback. */
#define HTTP_PARSE_GO 0
#define HTTP_PARSE_STOP HPE_PAUSED

typedef struct http_parse_cb {
  /* First byte of a request. */
  void (*on_begin)(void *owner);
  /* End of the headers (http_parse's fields are complete). */
  int (*on_head)(void *owner);
  int (*on_body)(void *owner, const char *data, size_t len);
  /* End of the message; parsing always stops after it. */
  void (*on_complete)(void *owner);
} http_parse_cb;

typedef struct http_parse_header {
  const char *name;
  const char *value;
} http_parse_header;

typedef struct http_parse {
  llhttp_t llhttp;
  llhttp_settings_t settings;
  const http_parse_cb *cb;
  void *owner;
  size_t max_head_bytes;

  /* The current request's head: url, then name/value pairs, each
   * NUL-terminated, in `head`; offsets until on_head, pointers after. */
  pv_buf head;
  size_t head_bytes;     /* bytes reported by the callbacks, plus framing */
  /* The head's extent on the wire, which also counts whitespace llhttp
   * skips without a callback: bytes in earlier feeds, plus from head_start
   * (or the current feed's start) to the latest callback's end. */
  size_t head_prior;
  const char *head_start;
  const char *feed_start;
  bool head_started;
  size_t n_headers;
  size_t name_off[HTTP_PARSE_MAX_HEADERS];
  size_t value_off[HTTP_PARSE_MAX_HEADERS];
  http_parse_header headers[HTTP_PARSE_MAX_HEADERS];
  const char *url;
  bool in_head;     /* between message begin and the end of headers */
  bool in_message;  /* between message begin and message complete */

  /* After HTTP_PARSE_ERROR: the status to answer (400 or 431) and why. */
  int error_status;
  const char *error_reason;
} http_parse;

typedef enum http_parse_result {
  HTTP_PARSE_OK,      /* all input consumed */
  HTTP_PARSE_PAUSED,  /* stopped by a callback (or message end); resume by
                         feeding the rest */
  HTTP_PARSE_ERROR,   /* the stream is broken: answer error_status, close */
} http_parse_result;

void http_parse_init(http_parse *p, const http_parse_cb *cb, void *owner,
                     size_t max_head_bytes);
void http_parse_release(http_parse *p);

/* Feeds bytes; *consumed says how many were used (all unless PAUSED). */
http_parse_result http_parse_feed(http_parse *p, const char *data, size_t len,
                                  size_t *consumed);

/* The parser stopped in a callback and has work left that needs no more
 * bytes: a body span paused at the very end of the body still owes its
 * on_complete. Feed it (even zero bytes) once the pause is lifted. */
bool http_parse_paused(const http_parse *p);

/* Method as HTTP_METHOD_* (0 when not one we route). */
int http_parse_method(const http_parse *p);
bool http_parse_keep_alive(const http_parse *p);
/* The request has a body to read (Content-Length > 0 or chunked). */
bool http_parse_has_body(const http_parse *p);
/* Declared Content-Length, or UINT64_MAX for chunked/none. */
uint64_t http_parse_content_length(const http_parse *p);
bool http_parse_is_http10(const http_parse *p);

#endif
