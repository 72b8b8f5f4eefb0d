/*
 * pivotal user — user accounts from the command line; today `user add`,
 * which creates the first administrator (or any user) through the writer.
 *
 * It opens the event log itself, so it works whether or not the server
 * runs: beside a running server the two processes share the LMDB
 * environment, LMDB's write lock serializes their write transactions, and
 * log_wtxn_begin re-reads the head inside each one (core/log.c).
 *
 * The password comes from --password-file (its first line), else a prompt
 * without echo when stdin is a terminal, else the first line of stdin.
 */
#include "adapters/auth/auth_password.h"
#include "adapters/auth/auth_role.h"
#include "cmd/cmd_pg.h"
#include "cmd/commands.h"
#include "core/log.h"
#include "core/users.h"
#include "core/writer.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define USER_USAGE                                                                           \
  "pivotal user add --email EMAIL --role ROLE [--client-id ID] [--display-name NAME]\n"      \
  "                 [--password-file FILE] [--tenant TENANT] [--data-dir DIR]\n"             \
  "roles: admin, campaign_manager, data_ops, qa_analyst, agent, client_user (with\n"         \
  "--client-id). DIR defaults to $PIVOTAL_DATA_DIR, else ./var. Without\n"                   \
  "--password-file the password is asked for (no echo) or read from stdin."

/* Reads one line (without its newline) from f into buf. */
static bool read_line(FILE *f, char *buf, size_t cap) {
  if (!fgets(buf, (int)cap, f)) return false;
  size_t n = strlen(buf);
  if (n && buf[n - 1] == '\n') buf[--n] = '\0';
  if (n && buf[n - 1] == '\r') buf[--n] = '\0';
  return true;
}

/* Prompts on the terminal with echo off. */
static bool prompt(const char *text, char *buf, size_t cap) {
  struct termios old, quiet;
  fprintf(stderr, "%s", text);
  fflush(stderr);
  if (tcgetattr(STDIN_FILENO, &old) != 0) return false;
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t)ECHO;
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  bool ok = read_line(stdin, buf, cap);
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  fprintf(stderr, "\n");
  return ok;
}

static int get_password(const char *file, char *buf, size_t cap) {
  if (file) {
    FILE *f = fopen(file, "r");
    if (!f) {
      fprintf(stderr, "error: could not open password file \"%s\"\n", file);
      return 1;
    }
    bool ok = read_line(f, buf, cap);
    fclose(f);
    if (!ok) {
      fprintf(stderr, "error: password file \"%s\" is empty\n", file);
      return 1;
    }
    return 0;
  }
  if (isatty(STDIN_FILENO)) {
    char again[AUTH_PASSWORD_MAX_BYTES + 2];
    if (!prompt("password: ", buf, cap) || !prompt("again: ", again, sizeof again)) return 1;
    bool same = strcmp(buf, again) == 0;
    sodium_memzero(again, sizeof again);
    if (!same) {
      fprintf(stderr, "error: the passwords differ\n");
      return 1;
    }
    return 0;
  }
  if (!read_line(stdin, buf, cap)) {
    fprintf(stderr, "error: no password on stdin\n");
    return 1;
  }
  return 0;
}

static void print_error(const pv_error *e) {
  fprintf(stderr, "error: %s%s%s\n", e->message[0] ? e->message : pv_strerror(e->code),
          e->field[0] ? " at " : "", e->field);
  if (e->detail[0]) fprintf(stderr, "detail: %s\n", e->detail);
  if (e->hint[0]) fprintf(stderr, "hint: %s\n", e->hint);
}

static int user_add(int argc, char **argv) {
  const char *email = NULL, *role = NULL, *client_id = NULL, *name = NULL, *pw_file = NULL;
  const char *tenant = "default";
  const char *data_dir = getenv("PIVOTAL_DATA_DIR") ? getenv("PIVOTAL_DATA_DIR") : "./var";
  struct {
    const char *flag;
    const char **value;
  } flags[] = {{"--email", &email},         {"--role", &role},
               {"--client-id", &client_id}, {"--display-name", &name},
               {"--password-file", &pw_file}, {"--tenant", &tenant},
               {"--data-dir", &data_dir}};
  for (int a = 1; a < argc; a++) {
    if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
      printf("usage: %s\n", USER_USAGE);
      return 0;
    }
    size_t i;
    for (i = 0; i < sizeof flags / sizeof flags[0]; i++)
      if (!strcmp(argv[a], flags[i].flag)) break;
    if (i == sizeof flags / sizeof flags[0] || a + 1 >= argc) {
      fprintf(stderr, "error: %s \"%s\"\nusage: %s\n",
              i == sizeof flags / sizeof flags[0] ? "unknown option" : "no value for", argv[a],
              USER_USAGE);
      return 2;
    }
    *flags[i].value = argv[++a];
  }
  if (!email || !role) {
    fprintf(stderr, "error: --email and --role are required\nusage: %s\n", USER_USAGE);
    return 2;
  }
  pv_error err = PV_ERROR_INIT;
  auth_role r;
  char norm[USERS_EMAIL_MAX];
  if (auth_role_parse(role, strlen(role), &r, &err) ||
      auth_role_check_client(r, client_id, &err) || !auth_id_valid(tenant) ||
      users_normalize_email(email, norm, &err)) {
    if (!err.code) pv_error_set(&err, PV_EINVAL, "/tenant", "invalid tenant \"%s\"", tenant);
    print_error(&err);
    return 2;
  }

  char password[AUTH_PASSWORD_MAX_BYTES + 2];
  char hash[AUTH_PWHASH_MAX];
  if (get_password(pw_file, password, sizeof password)) return 1;
  /* NIST SP 800-63B: at least 8 characters (as the API asks). */
  if (strlen(password) < 8) {
    sodium_memzero(password, sizeof password);
    fprintf(stderr, "error: the password must have at least 8 bytes\n");
    return 1;
  }
  auth_pwcost cost = AUTH_PWCOST_DEFAULT;
  int rc = auth_password_hash(&cost, password, strlen(password), hash, &err);
  sodium_memzero(password, sizeof password);
  if (rc) {
    print_error(&err);
    return 1;
  }

  char log_dir[PATH_MAX], user_id[USERS_ID_MAX];
  snprintf(log_dir, sizeof log_dir, "%s/log", data_dir);
  uint8_t b[16];
  randombytes_buf(b, sizeof b);
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  snprintf(user_id, sizeof user_id,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
           b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
  log_t *log = NULL;
  writer_t *writer = NULL;
  int status = 1;
  if (cmd_data_dir_create(data_dir) != 0) goto done;
  if (log_open(&log, log_dir, NULL, &err) ||
      writer_start(&writer, log, NULL, &err)) {
    print_error(&err);
    goto done;
  }
  users_cmd uc = {.kind = USERS_REGISTER, .user_id = user_id,
                  .expected_version = LOG_EXPECT_ANY, .email = norm, .role = role,
                  .client_id = client_id, .display_name = name, .password_hash = hash,
                  .disabled = -1};
  writer_cmd cmd = {.tenant = tenant, .actor = "system:cli", .decide = users_decide_cmd,
                    .arg = &uc};
  if (writer_run(writer, &cmd) != 0) {
    print_error(&cmd.error);
    goto done;
  }
  printf("created user %s (%s, %s) at position %llu\n", user_id, norm, role,
         (unsigned long long)cmd.first_position);
  status = 0;
done:
  sodium_memzero(hash, sizeof hash);
  writer_stop(writer);
  log_close(log);
  return status;
}

int cmd_user(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "add") == 0) return user_add(argc - 1, argv + 1);
  fprintf(stderr, "usage: %s\n", USER_USAGE);
  return 2;
}
