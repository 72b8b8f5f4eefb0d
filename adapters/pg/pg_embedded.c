/*
 * pg_embedded — makes, starts, stops and reports the private cluster under
 * DATA_DIR/pg by running initdb and pg_ctl. The contract is in
 * pg_embedded.h.
 *
 * Each call resolves the same context (paths, the user the server runs as,
 * the binaries, the socket directory) from the data directory alone, so a
 * later process finds the cluster an earlier one made. The settings that
 * depend on where the data directory is now (the socket directory) live in
 * DATA_DIR/pg/pivotal.conf, rewritten before every start and included from
 * postgresql.conf.
 */
#include "adapters/pg/pg_embedded.h"

#include "core/common/pv_buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG_RUN_USER "pivotal"
#define PG_VERSIONS_DIR "/usr/lib/postgresql"
/* The port only names the socket file (.s.PGSQL.5432): there is no TCP. */
#define PG_PORT "5432"
#define PG_SOCKET_NAME "/.s.PGSQL." PG_PORT
/* sizeof(sockaddr_un.sun_path) on Linux is 108, one byte for the NUL. */
#define PG_SOCKET_PATH_MAX 107
/* Room kept below PATH_MAX for the names joined to a directory here
 * ("pg", "server.log", "postgresql.conf"...): arbitrary, ample. */
#define PG_NAME_MAX 64

typedef struct emb {
  char data_dir[PATH_MAX]; /* absolute, resolved */
  char pgdata[PATH_MAX];
  char sock_dir[PATH_MAX];
  char bin_dir[PATH_MAX];
  bool switch_user; /* we are root: run the server's tools as PG_RUN_USER */
  uid_t uid;
  gid_t gid;
  int lock_fd;
} emb;

/* dir/name into dst (PATH_MAX bytes). resolve() bounds every directory
 * well below PATH_MAX, so a truncation here is a bug, not bad input. */
static void join(char *dst, const char *dir, const char *name) {
  int n = snprintf(dst, PATH_MAX, "%s/%s", dir, name);
  if (n < 0 || n >= PATH_MAX) abort();
}

/* ---- running a program ------------------------------------------------ */

/*
 * Runs argv (argv[0] an absolute path), as the cluster's user when e says
 * so, with stdout and stderr collected into out. Returns the exit status,
 * or -1 when it could not run or died by a signal.
 */
static int run(const emb *e, const char *const *argv, pv_buf *out) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    if (e && e->switch_user &&
        (setgroups(1, &e->gid) != 0 || setgid(e->gid) != 0 || setuid(e->uid) != 0)) {
      perror("could not switch to user " PG_RUN_USER);
      _exit(127);
    }
    if (chdir("/") != 0) _exit(127);
    /* The mask survives exec: a caller blocking SIGINT/SIGTERM for sigwait
     * must not pass that on to the server. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "could not run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  char chunk[4096];
  ssize_t n;
  while ((n = read(fds[0], chunk, sizeof chunk)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (out) pv_buf_add(out, chunk, (size_t)n);
  }
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The last non-empty line of a program's output, for a detail. */
static const char *last_line(pv_buf *out) {
  while (out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == ' '))
    pv_buf_setlen(out, out->len - 1);
  char *nl = strrchr(out->data, '\n');
  return nl ? nl + 1 : out->data;
}

static int tool_failed(pv_error *err, const char *what, pv_buf *out,
                       const emb *e) {
  pv_error_set(err, PV_EIO, NULL, "could not %s the embedded database", what);
  pv_error_detail(err, "%s", out->len ? last_line(out) : "The tool reported nothing.");
  pv_error_hint(err, "See the server log %s/server.log.", e->pgdata);
  return PV_EIO;
}

/* ---- resolving the context ---------------------------------------------- */

static int ensure_run_user(emb *e, pv_error *err) {
  struct passwd *pw = getpwnam(PG_RUN_USER);
  if (!pw) {
    /* A concurrent useradd may win the race: look the user up again. */
    const char *argv[] = {"/usr/sbin/useradd", "--system", "--user-group",
                          "--no-create-home", "--shell", "/usr/sbin/nologin",
                          "--comment", "Pivotal embedded PostgreSQL",
                          PG_RUN_USER, NULL};
    pv_buf out = PV_BUF_INIT;
    int st = run(NULL, argv, &out);
    pw = getpwnam(PG_RUN_USER);
    if (!pw) {
      pv_error_set(err, PV_EINTERNAL, NULL,
                   "could not create the system user \"" PG_RUN_USER "\"");
      pv_error_detail(err, "useradd exited with %d: %s", st, last_line(&out));
      pv_error_hint(err, "PostgreSQL refuses to run as root: create the user, "
                         "run pivotal as a normal user, or set PIVOTAL_DATABASE_URL.");
      pv_buf_release(&out);
      return PV_EINTERNAL;
    }
    pv_buf_release(&out);
  }
  e->uid = pw->pw_uid;
  e->gid = pw->pw_gid;
  return 0;
}

/* Numeric order of Debian's version directories ("9.6" < "15" < "16"). */
static int find_bin_dir(emb *e, pv_error *err) {
  const char *env = getenv("PIVOTAL_PG_BINDIR");
  if (env && *env) {
    if (strlen(env) >= PATH_MAX - PG_NAME_MAX)
      return pv_error_set(err, PV_EINVAL, NULL, "PIVOTAL_PG_BINDIR is too long");
    memcpy(e->bin_dir, env, strlen(env) + 1);
    return 0;
  }
  double best = -1;
  DIR *d = opendir(PG_VERSIONS_DIR);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      char *end;
      double v = strtod(de->d_name, &end);
      if (end == de->d_name || *end || v <= best) continue;
      char path[PATH_MAX];
      snprintf(path, sizeof path, PG_VERSIONS_DIR "/%s/bin/pg_ctl", de->d_name);
      if (access(path, X_OK) != 0) continue;
      best = v;
      snprintf(e->bin_dir, sizeof e->bin_dir, PG_VERSIONS_DIR "/%s/bin", de->d_name);
    }
    closedir(d);
  }
  if (best < 0) {
    pv_error_set(err, PV_EINTERNAL, NULL, "cannot find the PostgreSQL server programs");
    pv_error_detail(err, "No " PG_VERSIONS_DIR "/<version>/bin/pg_ctl exists.");
    pv_error_hint(err, "Install the postgresql package, set PIVOTAL_PG_BINDIR, "
                       "or set PIVOTAL_DATABASE_URL.");
    return PV_EINTERNAL;
  }
  return 0;
}

static int mkdir_p(const char *path, mode_t mode) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(tmp, mode) != 0) return errno == EEXIST ? 0 : -1;
  /* mkdir applies the umask; the mode is what the cluster's user needs. */
  return chmod(tmp, mode);
}

/*
 * As the cluster's user, checks that every directory down to the data
 * directory can be searched; names the first one that cannot.
 */
static int check_reachable(const emb *e, pv_error *err) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return pv_error_set(err, PV_EINTERNAL, NULL, "could not create a pipe");
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return pv_error_set(err, PV_EINTERNAL, NULL, "could not fork");
  }
  if (pid == 0) {
    if (setgroups(1, &e->gid) != 0 || setgid(e->gid) != 0 || setuid(e->uid) != 0)
      _exit(2);
    char prefix[PATH_MAX];
    if (snprintf(prefix, sizeof prefix, "%s/", e->data_dir) >= (int)sizeof prefix) _exit(2);
    for (char *p = prefix + 1; *p; p++) {
      if (*p != '/') continue;
      *p = '\0';
      if (access(prefix, X_OK) != 0) {
        if (write(fds[1], prefix, strlen(prefix)) < 0) _exit(2);
        _exit(1);
      }
      *p = '/';
    }
    _exit(0);
  }
  close(fds[1]);
  char blocked[PATH_MAX] = "";
  ssize_t n = read(fds[0], blocked, sizeof blocked - 1);
  blocked[n > 0 ? n : 0] = '\0';
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) break;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  pv_error_set(err, PV_EINVAL, NULL,
               "cannot run the embedded database in \"%s\"", e->data_dir);
  pv_error_detail(err, "PostgreSQL refuses to run as root, so the cluster runs as "
                       "the system user \"" PG_RUN_USER "\", which cannot enter \"%s\".",
                  blocked[0] ? blocked : e->data_dir);
  pv_error_hint(err, "Allow it (chmod o+x \"%s\"), choose a data directory "
                     "elsewhere, or set PIVOTAL_DATABASE_URL.",
                blocked[0] ? blocked : e->data_dir);
  return PV_EINVAL;
}

/* FNV-1a 64: a stable short name for a path; not a security boundary (the
 * directory's owner and mode are checked). */
static unsigned long long fnv1a64(const char *s) {
  unsigned long long h = 0xcbf29ce484222325ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  return h;
}

static int choose_sock_dir(emb *e, bool create, pv_error *err) {
  if (strlen(e->pgdata) + strlen(PG_SOCKET_NAME) <= PG_SOCKET_PATH_MAX) {
    memcpy(e->sock_dir, e->pgdata, strlen(e->pgdata) + 1);
    return 0;
  }
  snprintf(e->sock_dir, sizeof e->sock_dir, "/tmp/pivotal-pg-%016llx", fnv1a64(e->pgdata));
  if (!create) return 0;
  if (mkdir(e->sock_dir, 0700) == 0) {
    if (e->switch_user && chown(e->sock_dir, e->uid, e->gid) != 0)
      return pv_error_set(err, PV_EIO, NULL, "could not hand \"%s\" to user " PG_RUN_USER, e->sock_dir);
  } else if (errno != EEXIST) {
    return pv_error_set(err, PV_EIO, NULL, "could not create \"%s\": %s", e->sock_dir, strerror(errno));
  }
  struct stat st;
  uid_t want = e->switch_user ? e->uid : geteuid();
  if (lstat(e->sock_dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != want ||
      (st.st_mode & 077)) {
    pv_error_set(err, PV_EINVAL, NULL, "cannot use \"%s\" for the database socket", e->sock_dir);
    pv_error_detail(err, "It must be a directory owned by the database's user with mode 0700.");
    pv_error_hint(err, "Remove it, or use a shorter data directory path.");
    return PV_EINVAL;
  }
  return 0;
}

/*
 * Fills e for data_dir. create: make the data directory when missing.
 * Returns 0, PV_ENOTFOUND (no data directory and !create), or an error.
 */
static int resolve(emb *e, const char *data_dir, bool create, pv_error *err) {
  memset(e, 0, sizeof *e);
  e->lock_fd = -1;
  if (!data_dir || !*data_dir) return pv_error_set(err, PV_EINVAL, NULL, "no data directory given");
  if (create && mkdir_p(data_dir, 0711) != 0)
    return pv_error_set(err, PV_EINVAL, NULL, "could not create the data directory \"%s\": %s",
                        data_dir, strerror(errno));
  if (!realpath(data_dir, e->data_dir)) {
    if (errno == ENOENT && !create) return PV_ENOTFOUND;
    return pv_error_set(err, PV_EINVAL, NULL, "cannot use the data directory \"%s\": %s",
                        data_dir, strerror(errno));
  }
  join(e->pgdata, e->data_dir, "pg");
  e->switch_user = geteuid() == 0;
  int rc = 0;
  if (e->switch_user && (rc = ensure_run_user(e, err)) != 0) return rc;
  if (!e->switch_user) {
    e->uid = geteuid();
    e->gid = getegid();
  }
  if ((rc = find_bin_dir(e, err)) != 0) return rc;
  if (e->switch_user && (rc = check_reachable(e, err)) != 0) return rc;
  return choose_sock_dir(e, create, err);
}

static int lock(emb *e, pv_error *err) {
  char path[PATH_MAX];
  join(path, e->data_dir, "pg.lock");
  e->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (e->lock_fd < 0)
    return pv_error_set(err, PV_EIO, NULL, "could not open \"%s\": %s", path, strerror(errno));
  while (flock(e->lock_fd, LOCK_EX) != 0)
    if (errno != EINTR)
      return pv_error_set(err, PV_EIO, NULL, "could not lock \"%s\": %s", path, strerror(errno));
  return 0;
}

static void unlock(emb *e) {
  if (e->lock_fd >= 0) close(e->lock_fd); /* releases the flock */
  e->lock_fd = -1;
}

static bool cluster_exists(const emb *e) {
  char path[PATH_MAX];
  join(path, e->pgdata, "PG_VERSION");
  return access(path, F_OK) == 0;
}

static bool is_running(const emb *e) {
  char tool[PATH_MAX];
  join(tool, e->bin_dir, "pg_ctl");
  const char *argv[] = {tool, "status", "-D", e->pgdata, NULL};
  return run(e, argv, NULL) == 0; /* 3: not running, 4: no data directory */
}

/* ---- making and starting ------------------------------------------------ */

/* Appends s quoted for postgresql.conf ('...' with '' for a quote). */
static void add_conf_quoted(pv_buf *b, const char *s) {
  pv_buf_addch(b, '\'');
  for (; *s; s++) {
    if (*s == '\'') pv_buf_addch(b, '\'');
    pv_buf_addch(b, *s);
  }
  pv_buf_addch(b, '\'');
}

/* Appends s quoted for a libpq conninfo ('...' with \' and \\). */
static void add_conninfo_quoted(pv_buf *b, const char *s) {
  pv_buf_addch(b, '\'');
  for (; *s; s++) {
    if (*s == '\'' || *s == '\\') pv_buf_addch(b, '\\');
    pv_buf_addch(b, *s);
  }
  pv_buf_addch(b, '\'');
}

static int write_file(const emb *e, const char *name, const char *text,
                      bool append, pv_error *err) {
  char path[PATH_MAX];
  join(path, e->pgdata, name);
  FILE *f = fopen(path, append ? "a" : "w");
  if (!f) return pv_error_set(err, PV_EIO, NULL, "could not write \"%s\": %s", path, strerror(errno));
  bool ok = fputs(text, f) >= 0;
  ok = fclose(f) == 0 && ok;
  if (ok && e->switch_user && chown(path, e->uid, e->gid) != 0) ok = false;
  if (!ok) return pv_error_set(err, PV_EIO, NULL, "could not write \"%s\": %s", path, strerror(errno));
  return 0;
}

/* PIVOTAL_PG_NO_FSYNC=1: a throwaway cluster (see pg_embedded.h). */
static bool no_fsync(void) {
  const char *v = getenv("PIVOTAL_PG_NO_FSYNC");
  return v && !strcmp(v, "1");
}

static int init_cluster(const emb *e, pv_error *err) {
  if (mkdir(e->pgdata, 0700) != 0 && errno != EEXIST)
    return pv_error_set(err, PV_EIO, NULL, "could not create \"%s\": %s", e->pgdata, strerror(errno));
  if (e->switch_user && chown(e->pgdata, e->uid, e->gid) != 0)
    return pv_error_set(err, PV_EIO, NULL, "could not hand \"%s\" to user " PG_RUN_USER ": %s",
                        e->pgdata, strerror(errno));
  char tool[PATH_MAX];
  join(tool, e->bin_dir, "initdb");
  /* Collation C: glibc's C.UTF-8 sorts by code point, which is the byte
   * order of UTF-8, so no order changes; but PostgreSQL 15 takes the C fast
   * path (memcmp, abbreviated sort keys) only for C, and compares every
   * other text key with strcoll_l (seen in perf profiles of the folds; a
   * rebuild of 100k contacts was ~3 % faster). The character classes stay
   * C.UTF-8, so lower() and pg_trgm still see Unicode letters. */
  const char *argv[] = {tool, "-D", e->pgdata, "-U", PG_RUN_USER, "-E", "UTF8",
                        "--locale=C.UTF-8", "--lc-collate=C", "--auth-local=trust",
                        "--auth-host=reject", no_fsync() ? "--no-sync" : NULL, NULL};
  pv_buf out = PV_BUF_INIT;
  int rc = 0;
  if (run(e, argv, &out) != 0) {
    rc = tool_failed(err, "create", &out, e);
    pv_error_hint(err, "initdb failed; remove \"%s\" once the cause is fixed.", e->pgdata);
  } else {
    rc = write_file(e, "postgresql.conf",
                    "\n# Pivotal: the settings of the embedded cluster, "
                    "rewritten before every start.\n"
                    "include_if_exists = 'pivotal.conf'\n",
                    true, err);
  }
  pv_buf_release(&out);
  return rc;
}

static int start_server(const emb *e, pv_error *err) {
  pv_buf conf = PV_BUF_INIT;
  pv_buf_addstr(&conf, "# Written by pivotal before every start; edits are lost.\n"
                       "listen_addresses = ''\n"
                       "port = " PG_PORT "\n"
                       "unix_socket_directories = ");
  add_conf_quoted(&conf, e->sock_dir);
  pv_buf_addch(&conf, '\n');
  /* Sized for a bulk import (bench import; issue 5): the read models of 1M
   * contacts are several GiB and their WAL tens of GiB. The defaults
   * (128MB buffers, a checkpoint every 1GB of WAL, each followed by full
   * page images, pglz for every value past 2 kB) cost more than the folds
   * did. The buffers: a quarter of the memory (PostgreSQL's own tuning
   * advice for a dedicated server), 128MB to 4GB; the planner is told the
   * kernel's cache holds about half. */
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  uint64_t ram_mb = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page >> 20 : 2048;
  uint64_t buffers_mb = ram_mb / 4 < 128 ? 128 : ram_mb / 4 > 4096 ? 4096 : ram_mb / 4;
  pv_buf_addf(&conf, "shared_buffers = %" PRIu64 "MB\neffective_cache_size = %" PRIu64 "MB\n",
              buffers_mb, ram_mb / 2 > buffers_mb ? ram_mb / 2 : buffers_mb);
  pv_buf_addstr(&conf, "max_wal_size = 8GB\n"
                       "checkpoint_timeout = 15min\n"
                       "wal_compression = lz4\n"
                       "default_toast_compression = lz4\n");
  if (no_fsync())
    pv_buf_addstr(&conf, "# PIVOTAL_PG_NO_FSYNC=1: a throwaway cluster.\n"
                         "fsync = off\nfull_page_writes = off\n");
  /* synchronous_commit stays on: with it off, a commit may still sit in
   * shared memory, and a server crash (the crash tests) would lose it. */
  int rc = write_file(e, "pivotal.conf", conf.data, false, err);
  pv_buf_release(&conf);
  if (rc) return rc;

  char tool[PATH_MAX], log[PATH_MAX];
  join(tool, e->bin_dir, "pg_ctl");
  join(log, e->pgdata, "server.log");
  const char *argv[] = {tool, "start", "-D", e->pgdata, "-l", log, "-w", "-s", NULL};
  pv_buf out = PV_BUF_INIT;
  if (run(e, argv, &out) != 0 && !is_running(e)) rc = tool_failed(err, "start", &out, e);
  pv_buf_release(&out);
  return rc;
}

static char *conninfo_for(const emb *e, const char *dbname) {
  pv_buf b = PV_BUF_INIT;
  pv_buf_addstr(&b, "host=");
  add_conninfo_quoted(&b, e->sock_dir);
  pv_buf_addf(&b, " port=" PG_PORT " user=" PG_RUN_USER " dbname=%s", dbname);
  return pv_buf_detach(&b, NULL);
}

static int ensure_database(const emb *e, pv_error *err) {
  char *conninfo = conninfo_for(e, "postgres");
  PGconn *conn = PQconnectdb(conninfo);
  free(conninfo);
  int rc = 0;
  if (PQstatus(conn) != CONNECTION_OK) {
    pv_error_set(err, PV_EUNAVAILABLE, NULL, "the embedded database started but does not answer");
    pv_error_detail(err, "%.*s", (int)strcspn(PQerrorMessage(conn), "\n"), PQerrorMessage(conn));
    rc = PV_EUNAVAILABLE;
    goto finish;
  }
  const char *params[] = {PG_RUN_USER};
  PGresult *res = PQexecParams(conn, "SELECT 1 FROM pg_database WHERE datname = $1",
                               1, NULL, params, NULL, NULL, 0);
  bool exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
  PQclear(res);
  if (!exists) {
    /* The start lock keeps a second process from racing this. */
    res = PQexec(conn, "CREATE DATABASE " PG_RUN_USER);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
      pv_error_set(err, PV_EIO, NULL, "could not create the database \"" PG_RUN_USER "\"");
      pv_error_detail(err, "%s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                                     ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                                     : "no reason given");
      rc = PV_EIO;
    }
    PQclear(res);
  }
finish:
  PQfinish(conn);
  return rc;
}

int pg_embedded_start(const char *data_dir, char **conninfo_out,
                      bool *started_out, pv_error *err) {
  *conninfo_out = NULL;
  if (started_out) *started_out = false;
  emb e;
  int rc = resolve(&e, data_dir, true, err);
  if (rc) return rc;
  if ((rc = lock(&e, err)) != 0) goto unlock;
  bool started = false;
  if (!cluster_exists(&e) && (rc = init_cluster(&e, err)) != 0) goto unlock;
  if (!is_running(&e)) {
    if ((rc = start_server(&e, err)) != 0) goto unlock;
    started = true;
  }
  if ((rc = ensure_database(&e, err)) != 0) goto unlock;
  *conninfo_out = conninfo_for(&e, PG_RUN_USER);
  if (started_out) *started_out = started;
unlock:
  unlock(&e);
  return rc;
}

int pg_embedded_stop(const char *data_dir, bool immediate, pv_error *err) {
  emb e;
  int rc = resolve(&e, data_dir, false, err);
  if (rc == PV_ENOTFOUND) return 0;
  if (rc) return rc;
  if ((rc = lock(&e, err)) != 0) goto unlock;
  if (!cluster_exists(&e) || !is_running(&e)) goto unlock;
  char tool[PATH_MAX];
  join(tool, e.bin_dir, "pg_ctl");
  const char *argv[] = {tool, "stop", "-D", e.pgdata, "-m",
                        immediate ? "immediate" : "fast", "-w", "-s", NULL};
  pv_buf out = PV_BUF_INIT;
  if (run(&e, argv, &out) != 0 && is_running(&e)) rc = tool_failed(err, "stop", &out, &e);
  pv_buf_release(&out);
  /* A socket directory of our own in /tmp goes with the server (rmdir
   * leaves it when something is still inside). */
  if (rc == 0 && strcmp(e.sock_dir, e.pgdata) != 0) rmdir(e.sock_dir);
unlock:
  unlock(&e);
  return rc;
}

int pg_embedded_status(const char *data_dir, bool *running_out, pv_error *err) {
  *running_out = false;
  emb e;
  int rc = resolve(&e, data_dir, false, err);
  if (rc == PV_ENOTFOUND) return 0;
  if (rc) return rc;
  *running_out = cluster_exists(&e) && is_running(&e);
  return 0;
}
