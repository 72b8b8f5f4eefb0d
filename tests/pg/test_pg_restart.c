/*
 * The shared test server stopped hard and started again (the crash-test
 * helpers of pg_testdb.h): committed rows survive, and a connection that
 * saw the server go away reconnects on its next use. Stops the shared
 * server, so meson runs it alone (is_parallel: false).
 */
#include "adapters/pg/pg_conn.h"
#include "tests/pg/pg_testdb.h"

#include <stdlib.h>

static void test_connection_survives_server_restart(void) {
  char *url = pg_testdb_create();
  pg_conn *c = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_connect(&c, url, &err));
  ASSERT_OK(pg_exec(c, "CREATE TABLE committed (x int)", 0, NULL, NULL, &err));
  ASSERT_OK(pg_exec(c, "INSERT INTO committed VALUES (1)", 0, NULL, NULL, &err));

  pg_testdb_server_stop_immediate();
  ASSERT_ERR(pg_exec(c, "SELECT 1", 0, NULL, NULL, &err), PV_EUNAVAILABLE);
  ASSERT_ERR(pg_exec(c, "SELECT 1", 0, NULL, NULL, &err), PV_EUNAVAILABLE);
  pg_testdb_server_start();

  PGresult *res = NULL;
  ASSERT_OK(pg_exec(c, "SELECT count(*) FROM committed", 0, NULL, &res, &err));
  ASSERT_STR_EQ(PQgetvalue(res, 0, 0), "1");
  PQclear(res);
  ASSERT_EQ(pg_conn_generation(c), 1);
  pg_conn_free(c);
  pg_testdb_drop(url);
  free(url);
}

PG_TEST_MAIN(TEST(test_connection_survives_server_restart))
