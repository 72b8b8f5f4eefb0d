/* apit_pg — see apit_pg.h. */
#include "tests/api/apit_pg.h"

#include "adapters/pg/pg_migrate.h"
#include "tests/pg/pg_testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reached(int rc, void *arg) { http_request_position_done(arg, rc); }

/* Pivotal-Min-Position as `pivotal serve` waits: for what the route reads
 * (api_route_waits_for), of the projections the suite runs. */
static void waiter(void *ctx, http_request *req, uint64_t position, unsigned timeout_ms) {
  apit_pg *h = ctx;
  const char *names[32];
  size_t n = api_route_waits_for(http_request_route(req), h->projections, h->nprojections,
                                 names, 32);
  if (n == 0) return http_request_position_done(req, 0);
  int rc = proj_wait_position(h->proj, names, n, position, timeout_ms, http_request_loop(req),
                              reached, req);
  if (rc) http_request_position_done(req, rc);
}

void apit_pg_start(apit_pg *h, const char *const *projections, const apit_opts *opts) {
  memset(h, 0, sizeof *h);
  h->projections = projections;
  while (projections[h->nprojections]) h->nprojections++;
  pv_error err = PV_ERROR_INIT;
  h->db = pg_testdb_create();
  pg_conn *c = NULL;
  if (pg_connect(&c, h->db, &err) ||
      pg_migrate(c, pg_schema_migrations, pg_schema_migrations_count, NULL, NULL, NULL, &err))
    test__fail(__FILE__, __LINE__, "migrate: %s: %s", err.message, err.detail);
  pg_conn_free(c);
  apit_opts o = opts ? *opts : (apit_opts){0};
  o.database_conninfo = h->db;
  o.waiter = waiter;
  o.waiter_ctx = h;
  apit_start(&h->t, &o);
  /* no request reaches the waiter before the test sends one, after this */
  proj_options po = {.names = projections, .retry_base_ms = 20, .retry_max_ms = 200};
  ASSERT_OK(proj_engine_start(&h->proj, h->t.log, h->t.writer, h->db, &po, &err));
}

void apit_pg_stop(apit_pg *h) {
  proj_engine_stop(h->proj);
  apit_stop(&h->t);
  pg_testdb_drop(h->db);
  free(h->db);
}

void apit_pg_sync(apit_pg *h) {
  int rc = proj_wait_position_sync(h->proj, h->projections, h->nprojections,
                                   log_head(h->t.log), 240000);
  if (rc) {
    proj_lag lag[16];
    size_t n = proj_engine_lag(h->proj, lag, 16);
    for (size_t i = 0; i < n && i < 16; i++)
      fprintf(stderr, "# %s: %s %s\n", lag[i].name, proj_state_name(lag[i].state), lag[i].error);
    ASSERT_OK(rc);
  }
}
