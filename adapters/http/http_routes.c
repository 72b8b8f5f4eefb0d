/*
 * http_routes — the built-in handlers /healthz, /readyz and /metrics. The
 * application's table (routes.def) is expanded in
 * adapters/http/handlers/api_routes.c, beside the handlers it names.
 */
#include "adapters/http/http_internal.h"

#include <stdlib.h>
#include <string.h>

void http_handle_healthz(http_request *req) {
  static const char body[] = "{\"status\":\"alive\"}\n";
  http_respond(req, 200, "application/json", body, sizeof body - 1);
}

void http_handle_readyz(http_request *req) {
  http_readiness r;
  http_server_readiness(req->srv, &r);
  bool ready = true;
  cJSON *root = cJSON_CreateObject();
  cJSON *checks = cJSON_AddArrayToObject(root, "checks");
  for (size_t i = 0; i < r.n; i++) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "name", r.name[i]);
    cJSON_AddBoolToObject(c, "ok", r.ok[i]);
    if (r.detail[i][0]) cJSON_AddStringToObject(c, "detail", r.detail[i]);
    cJSON_AddItemToArray(checks, c);
    ready = ready && r.ok[i];
  }
  cJSON_AddStringToObject(root, "status", ready ? "ready" : "not ready");
  http_respond_json(req, ready ? 200 : 503, root);
}

void http_handle_metrics(http_request *req) {
  pv_buf out = PV_BUF_INIT;
  http_server_render_metrics(req->srv, &out);
  http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
  pv_buf_release(&out);
}
