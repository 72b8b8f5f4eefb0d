/*
 * api_test_util — a real API for end-to-end tests: an LMDB log in the
 * case's temp dir, the writer, and the api (adapters/http/handlers) on its
 * own loop thread on an ephemeral loopback port; requests over real
 * sockets (tests/http's client).
 *
 * Argon2 runs at a documented test cost (t = 1, m = 64 KiB, flagged
 * below_minimum_for_tests) unless real_cost is set, to keep the suite
 * fast; one test keeps OWASP's cost.
 */
#ifndef API_TEST_UTIL_H
#define API_TEST_UTIL_H

#include "adapters/auth/auth_jwt.h"
#include "adapters/http/handlers/api.h"
#include "core/users.h"
#include "tests/harness/test.h"
#include "tests/http/http_test_util.h"

#include <cjson/cJSON.h>

typedef struct apit {
  log_t *log;
  writer_t *writer;
  uv_loop_t loop;
  api *api;
  pthread_t thread;
  int port;
  uint8_t key[32];
  auth_jwt *jwt; /* the same key, for tests that mint tokens */
  char hash[AUTH_PWHASH_MAX]; /* hash of APIT_PASSWORD at the test cost */
} apit;

#define APIT_PASSWORD "correct horse battery"

typedef struct apit_opts {
  bool real_cost;
  http_position_waiter_fn waiter;
  void *waiter_ctx;
  const char *database_conninfo; /* the read models' database; NULL: none */
  const char *data_dir; /* api_config.data_dir (imports); NULL = none */
  const uint8_t *unsub_key; /* api_config.unsub_key (32 bytes); NULL = none */
  const acct_enricher *enricher; /* api_config.enricher; NULL = the rules */
} apit_opts;

void apit_start(apit *t, const apit_opts *opts);
/* Stops the api (drains), the writer and the log; asserts the loop closed. */
void apit_stop(apit *t);

/* Creates a user through the writer with APIT_PASSWORD; id written to id. */
void apit_add_user(apit *t, const char *email, const char *role, const char *client_id,
                   char id[USERS_ID_MAX]);
/* An access token for the user as it is now (token version from the log).
 * Returns a malloc'd string. */
char *apit_token(apit *t, const char *user_id);

/* One request on a fresh connection. token may be NULL; extra_headers is
 * "Name: value\r\n" lines or NULL; body NULL for none (JSON otherwise).
 * Returns the status; r is filled (release it). */
int apit_req(apit *t, const char *method, const char *path, const char *token,
             const char *extra_headers, const char *body, test_response *r);
/* The response body as JSON (cJSON_Delete it). */
cJSON *apit_json(const test_response *r);
/* Logs in; returns the parsed answer (status checked to be 200). */
cJSON *apit_login(apit *t, const char *email, const char *password);

#endif
