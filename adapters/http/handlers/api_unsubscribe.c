/*
 * api_unsubscribe — one-click unsubscribe links (RFC 8058), public routes:
 *   GET  /u/:token  a small HTML page that says what the link unsubscribes
 *                   and offers the button; it changes nothing (mail
 *                   scanners and link previews fetch links).
 *   POST /u/:token  with the form body List-Unsubscribe=One-Click: the
 *                   suppression (supp_unsubscribe_bind), scoped by the token.
 * The token is verified with the API's unsubscribe key before anything
 * else: a token that does not verify is 400 (an HTML page for GET,
 * problem+json for POST) and never reaches the writer.
 */
#include "adapters/http/handlers/api_cmpl.h"
#include "core/suppressions.h"
#include "core/unsub_token.h"

#include <stdlib.h>
#include <string.h>

static void html_escape(pv_buf *out, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '&': pv_buf_addstr(out, "&amp;"); break;
    case '<': pv_buf_addstr(out, "&lt;"); break;
    case '>': pv_buf_addstr(out, "&gt;"); break;
    case '"': pv_buf_addstr(out, "&quot;"); break;
    case '\'': pv_buf_addstr(out, "&#39;"); break;
    default: pv_buf_addch(out, *s);
    }
  }
}

static void page(http_request *req, int status, const char *title, const char *text,
                 const char *value, bool form) {
  pv_buf out = PV_BUF_INIT;
  pv_buf_addstr(&out, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<meta name=\"robots\" content=\"noindex\"><title>");
  html_escape(&out, title);
  pv_buf_addstr(&out, "</title></head><body><h1>");
  html_escape(&out, title);
  pv_buf_addstr(&out, "</h1><p>");
  html_escape(&out, text);
  if (value) {
    pv_buf_addstr(&out, " <strong>");
    html_escape(&out, value);
    pv_buf_addstr(&out, "</strong>");
  }
  pv_buf_addstr(&out, "</p>");
  if (form)
    pv_buf_addstr(&out, "<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" "
                        "value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>");
  pv_buf_addstr(&out, "</body></html>\n");
  http_response_header(req, "Cache-Control", "no-store");
  http_respond(req, status, "text/html; charset=utf-8", out.data, out.len);
  pv_buf_release(&out);
}

/* Verifies the path's token. Returns: 0 or PV_EINVAL (e filled). */
static int verify(http_request *req, unsub_claims *claims, pv_error *e) {
  api *a = http_request_app(req);
  const char *token = http_request_param(req, "token");
  size_t len = strlen(token);
  if (len > UNSUB_TOKEN_MAX_CHARS)
    return pv_error_set(e, PV_EINVAL, "/token", "invalid unsubscribe token");
  int rc = unsub_token_verify(token, len, a->unsub_key, api_now_s(), 0, claims, e);
  if (rc) snprintf(e->field, sizeof e->field, "/token");
  return rc;
}

void api_unsub_page(http_request *req) {
  unsub_claims claims;
  pv_error e = PV_ERROR_INIT;
  if (verify(req, &claims, &e))
    return page(req, 400, "Invalid link",
                "This unsubscribe link is not valid. Nothing was changed.", NULL, false);
  page(req, 200, "Unsubscribe", "Press the button to stop messages to", claims.value, true);
}

typedef struct unsub_job {
  supp_unsubscribe u;
  unsub_claims claims;
} unsub_job;

static void unsub_finish(api_op *op) {
  unsub_job *j = op->data;
  if (op->cmd.status) {
    http_respond_error(op->req, &op->cmd.error);
  } else {
    page(op->req, 200, "Unsubscribed", "You will get no more messages at", j->claims.value,
         false);
  }
  api_op_free(op);
}

/* True when the form body holds the pair List-Unsubscribe=One-Click. */
static bool one_click(const char *body, size_t len) {
  static const char pair[] = "List-Unsubscribe=One-Click";
  size_t n = sizeof pair - 1;
  for (size_t i = 0; i + n <= len; i++)
    if ((i == 0 || body[i - 1] == '&') && memcmp(body + i, pair, n) == 0 &&
        (i + n == len || body[i + n] == '&' || body[i + n] == '\r' || body[i + n] == '\n'))
      return true;
  return false;
}

void api_unsub_post(http_request *req) {
  unsub_job *j = pv_xcalloc(1, sizeof *j);
  pv_error e = PV_ERROR_INIT;
  size_t len;
  const char *body = http_request_body(req, &len);
  const char *ct = http_request_header(req, "Content-Type");
  int rc = verify(req, &j->claims, &e);
  if (rc == 0 && !(ct && (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 ||
                          strncasecmp(ct, "multipart/form-data", 19) == 0) &&
                   one_click(body, len))) {
    rc = pv_error_set(&e, PV_EINVAL, "/body", "not a one-click unsubscribe");
    pv_error_hint(&e, "POST the form body List-Unsubscribe=One-Click (RFC 8058).");
  }
  if (rc) {
    http_respond_error(req, &e);
    return free(j);
  }
  api_op *op = api_op_new(req, j->claims.tenant, "unsubscribe:one_click");
  op->data = j;
  op->data_free = free;
  op->finish = unsub_finish;
  if ((rc = supp_unsubscribe_bind(&j->u, &j->claims, 0, &op->cmd, &e))) {
    http_respond_error(req, &e);
    return api_op_free(op);
  }
  api_op_submit(op);
}
