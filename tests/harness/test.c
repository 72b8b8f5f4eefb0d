/*
 * The test runner behind test.h: forks a process per case, enforces the
 * timeout, prints TAP ("1..N", "ok 1 - name", "not ok 2 - name"), and
 * removes each case's temporary directory.
 */
#include "tests/harness/test.h"

#include "core/common/pv_error.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir_path[PATH_MAX];

const char *test__errname(int code) { return pv_err_name(code); }

void test__fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "# %s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
  _exit(1);
}

const char *test_tmpdir(void) {
  if (tmpdir_path[0]) return tmpdir_path;
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir_path, sizeof tmpdir_path, "%s/pivotal-test-XXXXXX",
           base && *base ? base : "/tmp");
  if (!mkdtemp(tmpdir_path)) {
    perror("mkdtemp");
    _exit(1);
  }
  return tmpdir_path;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static void remove_tmpdir(void) {
  if (!tmpdir_path[0]) return;
  nftw(tmpdir_path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  tmpdir_path[0] = '\0';
}

static int run_case(const test_case *tc, unsigned timeout_s) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(timeout_s);
    tc->fn();
    remove_tmpdir();
    /* exit, not _exit: under ASan, LeakSanitizer checks at exit, so a case
     * that leaks fails */
    exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    fprintf(stderr, "# %s: killed by signal %d%s\n", tc->name, sig,
            sig == SIGALRM ? " (timeout)" : "");
  }
  return 1;
}

int test_main(int argc, char **argv, const test_case *cases, size_t count) {
  const char *only = argc > 1 ? argv[1] : NULL;
  const char *nofork = getenv("TEST_NOFORK");
  const char *timeout_env = getenv("TEST_TIMEOUT_S");
  unsigned timeout_s = timeout_env ? (unsigned)atoi(timeout_env) : 120;
  size_t selected = 0, failed = 0, n = 0;

  setvbuf(stdout, NULL, _IOLBF, 0);
  for (size_t i = 0; i < count; i++)
    if (!only || strcmp(only, cases[i].name) == 0) selected++;
  if (only && !selected) {
    fprintf(stderr, "no test named %s\n", only);
    return 2;
  }
  printf("1..%zu\n", selected);
  for (size_t i = 0; i < count; i++) {
    if (only && strcmp(only, cases[i].name) != 0) continue;
    n++;
    int rc;
    if (nofork && *nofork == '1') {
      cases[i].fn();
      rc = 0;
    } else {
      rc = run_case(&cases[i], timeout_s);
    }
    printf("%sok %zu - %s\n", rc == 0 ? "" : "not ", n, cases[i].name);
    if (rc != 0) failed++;
  }
  return failed ? 1 : 0;
}
