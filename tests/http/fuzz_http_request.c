/*
 * Fuzz target http_request: feeds a byte stream to the request parser
 * (http_parse over llhttp, strict) split into chunks whose sizes come from
 * the input itself, so every split point of headers, chunk sizes and bodies
 * is tried. After each message the parser is resumed, as the server does.
 * Input: byte 0 = seed for the chunk sizes; the rest is the stream.
 */
#include <stdint.h>
#include <string.h>

#include "adapters/http/http.h"
#include "adapters/http/http_parse.h"

static size_t body_bytes;

static void f_begin(void *owner) { (void)owner; }

static int f_head(void *owner) {
  http_parse *p = owner;
  /* touch what the server reads at the end of the headers */
  for (size_t i = 0; i < p->n_headers; i++)
    body_bytes += strlen(p->headers[i].name) + strlen(p->headers[i].value);
  body_bytes += strlen(p->url);
  (void)http_parse_method(p);
  (void)http_parse_keep_alive(p);
  (void)http_parse_content_length(p);
  return http_parse_has_body(p) && (body_bytes & 1) ? HTTP_PARSE_STOP : HTTP_PARSE_GO;
}

static int f_body(void *owner, const char *data, size_t len) {
  (void)owner;
  (void)data;
  body_bytes += len;
  return len & 1 ? HTTP_PARSE_STOP : HTTP_PARSE_GO;
}

static void f_complete(void *owner) { (void)owner; }

static const http_parse_cb cb = {f_begin, f_head, f_body, f_complete};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint32_t rng = data[0] * 2654435761u + 1;
  data++;
  size--;
  http_parse p;
  http_parse_init(&p, &cb, &p, 16 * 1024);
  p.owner = &p;
  size_t off = 0;
  while (off < size) {
    rng = rng * 1103515245u + 12345u;
    size_t n = 1 + (rng >> 16) % 64;
    if (n > size - off) n = size - off;
    size_t end = off + n;
    while (off < end) {
      size_t used = 0;
      http_parse_result r = http_parse_feed(&p, (const char *)data + off, end - off, &used);
      if (r == HTTP_PARSE_ERROR) goto done;
      off += used;
    }
  }
done:
  http_parse_release(&p);
  return 0;
}
