/*
 * api_routes — the application's route table, expanded from
 * adapters/http/routes.def (the one place routes are declared).
 */
#include "adapters/http/handlers/api_internal.h"
#include "adapters/http/handlers/api_cmpl.h"
#include "adapters/http/handlers/api_crm.h"
#include "adapters/http/handlers/api_seg.h"

const http_route http_routes[] = {
#define HTTP_ROUTE(method, path, handler, roles, body_limit, streaming, idempotent) \
  {method, path, handler, roles, body_limit, streaming, idempotent},
#include "adapters/http/routes.def"
#undef HTTP_ROUTE
};
const size_t http_routes_count = sizeof http_routes / sizeof http_routes[0];
