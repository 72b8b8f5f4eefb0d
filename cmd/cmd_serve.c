/*
 * pivotal serve — runs the server: brings up the database (the configured
 * one, or the embedded cluster of the data directory, started here and
 * stopped on the way out) and applies the migrations, opens the event log
 * under the data directory, starts the writer, the projection engine
 * (woken by the writer's commits) and the HTTP API (its own loop thread),
 * and runs until SIGINT or SIGTERM; then stops the API (in-flight requests
 * and their commands finish), the engine (its batch in flight commits or
 * rolls back), the writer (finishing queued commands), closes the log and
 * stops the embedded cluster if this process started it.
 */
#include "adapters/enrich/enrich_http.h"
#include "adapters/http/handlers/api.h"
#include "adapters/pg/pg_embedded.h"
#include "adapters/pg/pg_migrate.h"
#include "cmd/cmd_pg.h"
#include "cmd/commands.h"
#include "cmd/serve_hooks.h"
#include "cmd/settings.h"
#include "core/log.h"
#include "core/writer.h"
#include "projections/proj.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SERVE_USAGE \
  "pivotal serve [--data-dir DIR] [--listen HOST:PORT] [--database-url URL] [--jwt-key-file F]" \
  " [--unsub-key-file F] [--phone-region CC] [--enrichment-url URL] [--enrichment-key-file F]" \
  " [--enrichment-timeout MS]"

static void print_applied(const pg_migration *m, void *arg) {
  (void)arg;
  printf("pivotal: applied migration %s\n", m->file);
}

/* Connects and applies the migrations the database lacks. */
static int migrate(const char *conninfo, pv_error *err) {
  pg_conn *conn = NULL;
  int rc = pg_connect(&conn, conninfo, err);
  if (rc) return rc;
  rc = pg_migrate(conn, pg_schema_migrations, pg_schema_migrations_count, print_applied, NULL,
                  NULL, err);
  pg_conn_free(conn);
  return rc;
}

/* ---- the HTTP API on its own loop thread ---- */

typedef struct serve_http {
  uv_loop_t loop;
  api *api;
  enrich_http *enrich; /* NULL: the built-in rules only */
  pthread_t thread;
  bool running;
} serve_http;

static void *serve_http_main(void *arg) {
  serve_http *h = arg;
  uv_run(&h->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* The enrichment provider of the settings, or none (*out NULL) when no URL
 * is set. Returns: 0 or a PV_E code with err filled. */
static int enrichment_start(const pv_settings *s, enrich_http **out, pv_error *err) {
  *out = NULL;
  if (!s->enrichment_url[0]) return 0;
  char *end;
  errno = 0;
  long total = strtol(s->enrichment_timeout, &end, 10);
  if (errno || end == s->enrichment_timeout || *end || total <= 0) {
    pv_error_set(err, PV_EINVAL, NULL, "invalid --enrichment-timeout \"%s\"",
                 s->enrichment_timeout);
    pv_error_hint(err, "Milliseconds, e.g. 5000.");
    return PV_EINVAL;
  }
  char key[ENRICH_HTTP_KEY_MAX + 1] = "";
  int rc = s->enrichment_key_file[0] ? enrich_http_load_key(s->enrichment_key_file, key, err) : 0;
  if (rc == 0) {
    enrich_http_config cfg = {
        .base_url = s->enrichment_url,
        .key = key,
        .key_name = s->enrichment_key_file[0] ? s->enrichment_key_file : NULL,
        .connect_timeout_ms =
            total < ENRICH_HTTP_CONNECT_TIMEOUT_MS ? total : ENRICH_HTTP_CONNECT_TIMEOUT_MS,
        .timeout_ms = total,
    };
    rc = enrich_http_new(&cfg, out, err);
  }
  explicit_bzero(key, sizeof key);
  if (rc == 0) printf("pivotal: industry enrichment by %s\n", s->enrichment_url);
  return rc;
}

/* Loads the key, builds the API on a fresh loop, listens and starts the
 * loop thread. Returns: 0 or a PV_E code with err filled. */
static int serve_http_start(serve_http *h, const pv_settings *s, const char *conninfo,
                            serve_hooks *hooks, pv_error *err) {
  uint8_t key[API_JWT_KEY_MAX];
  size_t key_len = 0;
  uint8_t unsub_key[API_UNSUB_KEY_BYTES];
  int rc = api_load_jwt_key(s->jwt_key_file, s->data_dir, key, &key_len, err);
  if (rc == 0) rc = api_load_unsub_key(s->unsub_key_file, s->data_dir, unsub_key, err);
  if (rc == 0) rc = enrichment_start(s, &h->enrich, err);
  if (rc) {
    memset(key, 0, sizeof key);
    return rc;
  }
  api_config cfg;
  api_config_init(&cfg);
  cfg.jwt_key = key;
  cfg.jwt_key_len = key_len;
  cfg.unsub_key = unsub_key;
  cfg.phone_region = s->phone_region;
  cfg.http.access_log = stderr;
  cfg.database_conninfo = conninfo;
  cfg.data_dir = s->data_dir;
  cfg.enricher = h->enrich ? enrich_http_enricher(h->enrich) : NULL;
  uv_loop_init(&h->loop);
  if ((rc = http_config_set_listen(&cfg.http, s->listen, err)) == 0 &&
      (rc = api_new(&h->loop, hooks->writer, &cfg, &h->api, err)) == 0) {
    serve_hooks_install(hooks, api_http(h->api));
    rc = api_listen(h->api, err);
  }
  memset(key, 0, sizeof key);
  memset(unsub_key, 0, sizeof unsub_key);
  if (rc == 0 && pthread_create(&h->thread, NULL, serve_http_main, h) != 0)
    rc = pv_error_set(err, PV_ENOMEM, NULL, "could not start the HTTP thread");
  if (rc) {
    api_free(h->api);
    h->api = NULL;
    uv_loop_close(&h->loop);
    enrich_http_free(h->enrich);
    h->enrich = NULL;
    return rc;
  }
  h->running = true;
  printf("pivotal: listening on http://%s:%d\n", cfg.http.host, http_server_port(api_http(h->api)));
  return 0;
}

/* Drains the API (before the writer stops: in-flight commands still need
 * their answers), joins the thread and frees the loop. */
static void serve_http_stop(serve_http *h) {
  if (!h->running) return;
  api_stop(h->api);
  pthread_join(h->thread, NULL);
  api_free(h->api);
  uv_run(&h->loop, UV_RUN_NOWAIT); /* the password pool frees on this turn */
  uv_loop_close(&h->loop);
  enrich_http_free(h->enrich); /* after the loop: no lookup is in flight */
  h->enrich = NULL;
  h->running = false;
}

int cmd_serve(int argc, char **argv) {
  pv_settings s;
  bool help;
  int rc = pv_settings_parse(&s, argc, argv, SERVE_USAGE, &help);
  if (rc || help) return rc;
  size_t log_max;
  if (pv_parse_size(s.log_max_size, &log_max) != 0) {
    fprintf(stderr, "error: invalid --log-max-size \"%s\"\nhint: a size such as 512M or 64G.\n",
            s.log_max_size);
    return 2;
  }

  /* Blocked before any thread or the cluster starts, so that only sigwait
   * below receives them and a signal during start-up still reaches the
   * clean stop. */
  sigset_t stop_signals;
  int sig = 0;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  if (cmd_data_dir_create(s.data_dir) != 0) return 1;
  pv_error err = PV_ERROR_INIT;
  char *conninfo = NULL;
  bool pg_started = false;
  log_t *log = NULL;
  writer_t *writer = NULL;
  proj_engine *projections = NULL;
  serve_http http = {0};
  serve_hooks hooks = {0};
  int status = 1;

  if (cmd_pg_database(s.database_url[0] ? s.database_url : NULL, s.data_dir, &conninfo,
                      &pg_started, &err) != 0)
    goto fail;
  if (pg_started) printf("pivotal: started the embedded database in %s/pg\n", s.data_dir);
  if (migrate(conninfo, &err) != 0) goto fail;

  char log_dir[PATH_MAX];
  snprintf(log_dir, sizeof log_dir, "%s/log", s.data_dir);
  log_options opt = {.map_max_bytes = log_max};
  if (log_open(&log, log_dir, &opt, &err) != 0) goto fail;
  if (writer_start(&writer, log, NULL, &err) != 0) goto fail;
  if (proj_engine_start(&projections, log, writer, conninfo, NULL, &err) != 0) goto fail;
  char resolved[PATH_MAX];
  printf("pivotal: event log %s, head position %llu\n",
         realpath(log_dir, resolved) ? resolved : log_dir, (unsigned long long)log_head(log));
  hooks = (serve_hooks){writer, projections};
  if (serve_http_start(&http, &s, conninfo, &hooks, &err) != 0) goto fail;
  printf("pivotal: running; SIGINT or SIGTERM stops\n");
  fflush(stdout);

  sigwait(&stop_signals, &sig);
  printf("pivotal: stopping (signal %d)\n", sig);
  status = 0;
  goto done;
fail:
  cmd_pg_print_error(&err);
done:
  serve_http_stop(&http);
  serve_hooks_remove(&hooks);
  proj_engine_stop(projections);
  writer_stop(writer);
  log_close(log);
  free(conninfo);
  if (pg_started) {
    pv_error stop_err = PV_ERROR_INIT;
    if (pg_embedded_stop(s.data_dir, false, &stop_err) != 0) {
      cmd_pg_print_error(&stop_err);
      status = 1;
    }
  }
  return status;
}
