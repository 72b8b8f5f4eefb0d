/*
 * Migrations against a real database: applied once and recorded, re-runs
 * are no-ops, a failing migration leaves nothing behind, an edited one is
 * refused, two processes migrating at once apply each exactly once.
 */
#include "adapters/pg/pg_migrate.h"
#include "tests/pg/pg_testdb.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pg_conn *connect_to(const char *url) {
  pg_conn *c = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_connect(&c, url, &err));
  return c;
}

/* The single text value of a one-row query. */
static char *query_value(pg_conn *c, const char *sql) {
  PGresult *res = NULL;
  pv_error err = PV_ERROR_INIT;
  int rc = pg_exec(c, sql, 0, NULL, &res, &err);
  if (rc) test__fail(__FILE__, __LINE__, "%s: %s", sql, err.detail);
  ASSERT_EQ(PQntuples(res), 1);
  char *v = strdup(PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0));
  PQclear(res);
  return v;
}

static void assert_value(pg_conn *c, const char *sql, const char *want) {
  char *got = query_value(c, sql);
  ASSERT_STR_EQ(got, want);
  free(got);
}

static void count_applied(const pg_migration *m, void *arg) { (*(int *)arg)++; }

static void test_schema_applies_once(void) {
  char *url = pg_testdb_create();
  pg_conn *c = connect_to(url);
  pv_error err = PV_ERROR_INIT;
  size_t applied = 0;
  int callbacks = 0;
  ASSERT(pg_schema_migrations_count >= 1);
  ASSERT_EQ(pg_schema_migrations[0].version, 1);
  ASSERT_STR_EQ(pg_schema_migrations[0].file, "001_core.sql");

  ASSERT_OK(pg_migrate(c, pg_schema_migrations, pg_schema_migrations_count,
                       count_applied, &callbacks, &applied, &err));
  ASSERT_EQ(applied, pg_schema_migrations_count);
  ASSERT_EQ(callbacks, (int)pg_schema_migrations_count);

  char want[32];
  snprintf(want, sizeof want, "%zu", pg_schema_migrations_count);
  assert_value(c, "SELECT count(*) FROM pivotal_migrations", want);
  assert_value(c, "SELECT name || ':' || length(checksum) || ':' || (applied_at IS NOT NULL)"
                  " FROM pivotal_migrations WHERE version = 1", "core:64:true");
  /* The projection engine's table is there and works. */
  ASSERT_OK(pg_exec(c, "INSERT INTO pivotal.proj_checkpoint (name, position, updated_at)"
                       " VALUES ('contacts', 0, now())", 0, NULL, NULL, &err));

  ASSERT_OK(pg_migrate(c, pg_schema_migrations, pg_schema_migrations_count,
                       count_applied, &callbacks, &applied, &err));
  ASSERT_EQ(applied, 0);
  ASSERT_EQ(callbacks, (int)pg_schema_migrations_count);
  assert_value(c, "SELECT count(*) FROM pivotal_migrations", want);
  assert_value(c, "SELECT count(*) FROM pivotal.proj_checkpoint", "1");

  pg_conn_free(c);
  pg_testdb_drop(url);
  free(url);
}

static void test_failing_migration_leaves_nothing(void) {
  char *url = pg_testdb_create();
  pg_conn *c = connect_to(url);
  pv_error err = PV_ERROR_INIT;
  const pg_migration list[] = {
      {1, "good", "001_good.sql", "CREATE TABLE good_t (x int);"},
      {2, "bad", "002_bad.sql",
       "CREATE TABLE bad_t (x int);\nINSERT INTO bad_t VALUES (1);\n"
       "SELECT * FROM no_such_table;\n"},
      {3, "later", "003_later.sql", "CREATE TABLE later_t (x int);"},
  };
  size_t applied = 0;
  int rc = pg_migrate(c, list, 3, NULL, NULL, &applied, &err);
  ASSERT_ERR(rc, PV_EINTERNAL);
  ASSERT_EQ(applied, 1);
  ASSERT(strstr(err.message, "002_bad.sql") != NULL);
  ASSERT(strstr(err.detail, "no_such_table") != NULL);
  assert_value(c, "SELECT to_regclass('good_t') IS NOT NULL", "t");
  assert_value(c, "SELECT to_regclass('bad_t') IS NULL", "t");
  assert_value(c, "SELECT to_regclass('later_t') IS NULL", "t");
  assert_value(c, "SELECT string_agg(version::text, ',') FROM pivotal_migrations", "1");
  /* The connection is not left inside a failed transaction. */
  assert_value(c, "SELECT 'usable'", "usable");

  pg_conn_free(c);
  pg_testdb_drop(url);
  free(url);
}

static void test_edited_migration_is_refused(void) {
  char *url = pg_testdb_create();
  pg_conn *c = connect_to(url);
  pv_error err = PV_ERROR_INIT;
  const pg_migration v1[] = {{1, "t", "001_t.sql", "CREATE TABLE t (x int);"}};
  const pg_migration edited[] = {{1, "t", "001_t.sql", "CREATE TABLE t (x bigint);"}};
  ASSERT_OK(pg_migrate(c, v1, 1, NULL, NULL, NULL, &err));
  ASSERT_ERR(pg_migrate(c, edited, 1, NULL, NULL, NULL, &err), PV_ECORRUPT);
  ASSERT(strstr(err.message, "001_t.sql") != NULL);

  const pg_migration unordered[] = {{2, "b", "002_b.sql", "SELECT 1"},
                                    {1, "a", "001_a.sql", "SELECT 1"}};
  ASSERT_ERR(pg_migrate(c, unordered, 2, NULL, NULL, NULL, &err), PV_EINVAL);
  pg_conn_free(c);
  pg_testdb_drop(url);
  free(url);
}

/* Two processes migrating the same database: each migration applies once. */
static void test_concurrent_migrators(void) {
  char *url = pg_testdb_create();
  const pg_migration list[] = {
      {1, "slow", "001_slow.sql", "CREATE TABLE slow_t (x int); SELECT pg_sleep(0.1);"},
      {2, "next", "002_next.sql", "CREATE TABLE next_t (x int);"},
  };
  pid_t child = fork();
  ASSERT(child >= 0);
  pg_conn *c = connect_to(url);
  pv_error err = PV_ERROR_INIT;
  size_t applied = 0;
  int rc = pg_migrate(c, list, 2, NULL, NULL, &applied, &err);
  pg_conn_free(c);
  if (child == 0) _exit(rc == 0 ? (int)applied : 100);
  ASSERT_OK(rc);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(applied + (size_t)WEXITSTATUS(status), 2);

  c = connect_to(url);
  assert_value(c, "SELECT string_agg(version::text, ',' ORDER BY version) FROM pivotal_migrations",
               "1,2");
  pg_conn_free(c);
  pg_testdb_drop(url);
  free(url);
}

PG_TEST_MAIN(TEST(test_schema_applies_once), TEST(test_failing_migration_leaves_nothing),
             TEST(test_edited_migration_is_refused), TEST(test_concurrent_migrators))
