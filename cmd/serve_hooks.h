/*
 * serve_hooks — what `pivotal serve` plugs into the HTTP server so that it
 * speaks for the whole process: /readyz checks the log and every
 * projection, /metrics adds the writer's and the projections' figures, and
 * Pivotal-Min-Position waits on the projection engine.
 *
 * Thread: serve_hooks_install before the server listens; the hooks then run
 * on the HTTP loop (readiness, waiter) or the rendering thread (metrics).
 */
#ifndef PV_CMD_SERVE_HOOKS_H
#define PV_CMD_SERVE_HOOKS_H

#include "adapters/http/http.h"
#include "core/writer.h"
#include "projections/proj.h"

typedef struct serve_hooks {
  writer_t *writer;
  proj_engine *projections;
} serve_hooks;

/* Sets the readiness hook and the position waiter on srv and registers the
 * metrics collector. hooks must outlive the server. */
void serve_hooks_install(serve_hooks *hooks, http_server *srv);
/* Unregisters the metrics collector. */
void serve_hooks_remove(serve_hooks *hooks);

#endif
