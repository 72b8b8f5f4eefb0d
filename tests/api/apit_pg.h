/*
 * apit_pg — the api end to end with its read models, for the suites that
 * need PostgreSQL: a fresh migrated database (tests/pg/pg_testdb.h), the
 * api on loopback (api_test_util.h) reading that database, the projection
 * engine folding the writer's log into the suite's projections, and
 * Pivotal-Min-Position waiting on those projections, as in `pivotal serve`.
 */
#ifndef PV_TESTS_APIT_PG_H
#define PV_TESTS_APIT_PG_H

#include "projections/proj.h"
#include "tests/api/api_test_util.h"

typedef struct apit_pg {
  apit t;
  char *db; /* the database's conninfo (dropped by apit_pg_stop) */
  proj_engine *proj;
  const char *const *projections; /* NULL-terminated */
  size_t nprojections;
} apit_pg;

/* Starts it all; projections is a NULL-terminated list of names the
 * engine folds and requests wait on. opts (NULL for none): the api's
 * options; its database and waiter are set here. */
void apit_pg_start(apit_pg *h, const char *const *projections, const apit_opts *opts);
/* Stops the engine and the api, drops the database. */
void apit_pg_stop(apit_pg *h);
/* Waits until every projection has folded the log's head (a 240 s hang
 * guard, not a timing assertion); on failure prints each one's state. */
void apit_pg_sync(apit_pg *h);

#endif
