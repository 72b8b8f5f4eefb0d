/*
 * `pivotal migrate` as a user runs it: the SQL travels inside the binary,
 * the first run says what it applied, the second that nothing was left, a
 * bad database URL is a clear error. argv[1]... are the harness's; the
 * binary's path comes from PIVOTAL_BIN (set by tests/pg/meson.build).
 */
#include "adapters/pg/pg_migrate.h"
#include "core/common/pv_buf.h"
#include "tests/pg/pg_testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs `pivotal migrate --database-url URL` with stderr folded into the
 * output; returns the exit status. */
static int run_migrate(const char *url, pv_buf *out) {
  const char *bin = getenv("PIVOTAL_BIN");
  ASSERT(bin != NULL);
  /* The URL goes through the environment, not the shell command line. */
  setenv("PIVOTAL_DATABASE_URL", url, 1);
  pv_buf cmd = PV_BUF_INIT;
  pv_buf_addf(&cmd, "'%s' migrate 2>&1", bin);
  FILE *p = popen(cmd.data, "r");
  ASSERT(p != NULL);
  char chunk[512];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) pv_buf_add(out, chunk, n);
  int status = pclose(p);
  pv_buf_release(&cmd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_migrate_command(void) {
  char *url = pg_testdb_create();
  pv_buf out = PV_BUF_INIT;
  ASSERT_EQ(run_migrate(url, &out), 0);
  ASSERT(strstr(out.data, "applied 001_core.sql\n") != NULL);
  char want[96];
  snprintf(want, sizeof want, "%zu applied now, 0 already", pg_schema_migrations_count);
  ASSERT(strstr(out.data, want) != NULL);

  pv_buf_reset(&out);
  ASSERT_EQ(run_migrate(url, &out), 0);
  ASSERT(strstr(out.data, "applied 001") == NULL);
  snprintf(want, sizeof want, "0 applied now, %zu already", pg_schema_migrations_count);
  ASSERT(strstr(out.data, want) != NULL);

  pv_buf_reset(&out);
  ASSERT_EQ(run_migrate("host=/nonexistent port=1 dbname=x", &out), 1);
  ASSERT(strstr(out.data, "error: could not reach the database\n") != NULL);
  ASSERT(strstr(out.data, "hint: ") != NULL);
  pv_buf_release(&out);
  pg_testdb_drop(url);
  free(url);
}

PG_TEST_MAIN(TEST(test_migrate_command))
