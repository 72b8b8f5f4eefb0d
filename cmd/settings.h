/*
 * settings — the settings of `pivotal serve` (and the tools that share
 * them), each from the command line (--name VALUE or --name=VALUE), else
 * its environment variable, else its default. One table, so --help lists
 * exactly what is parsed.
 *
 * XX(field, "--flag", "ENV_VAR", "default", "help")
 */
#ifndef PV_CMD_SETTINGS_H
#define PV_CMD_SETTINGS_H

#include <stdbool.h>
#include <stdio.h>

#define PV_SETTINGS_MAP(XX)                                                                     \
  XX(data_dir, "--data-dir", "PIVOTAL_DATA_DIR", "./var",                                      \
     "directory of the event log (DIR/log) and of the embedded PostgreSQL (DIR/pg)")           \
  XX(listen, "--listen", "PIVOTAL_LISTEN", "127.0.0.1:8080", "HTTP address, HOST:PORT")        \
  XX(database_url, "--database-url", "PIVOTAL_DATABASE_URL", "",                               \
     "PostgreSQL ≥ 15 for the read models; empty: a private cluster under DIR/pg")              \
  XX(log_max_size, "--log-max-size", "PIVOTAL_LOG_MAX_SIZE", "64G",                             \
     "cap on the event log's size (K, M, G suffixes); at the cap commands get \"storage full\"") \
  XX(jwt_key_file, "--jwt-key-file", "PIVOTAL_JWT_KEY_FILE", "",                                \
     "HS256 key for access tokens (32 to 1024 raw bytes); empty: DIR/jwt.key, made once (0600)") \
  XX(unsub_key_file, "--unsub-key-file", "PIVOTAL_UNSUB_KEY_FILE", "",                          \
     "HMAC key of one-click unsubscribe links (32 raw bytes); empty: DIR/unsub.key, made once") \
  XX(phone_region, "--phone-region", "PIVOTAL_PHONE_REGION", "US",                              \
     "region (ISO 3166 alpha-2) a phone number without \"+\" is read in")               \
  XX(enrichment_url, "--enrichment-url", "PIVOTAL_ENRICHMENT_URL", "",                          \
     "industry enrichment provider speaking the Clearbit Company API (e.g. "                   \
     "https://company.clearbit.com); empty: the built-in rules only")                          \
  XX(enrichment_key_file, "--enrichment-key-file", "PIVOTAL_ENRICHMENT_KEY_FILE", "",           \
     "the provider's bearer key (a text file); empty: no Authorization header")                \
  XX(enrichment_timeout, "--enrichment-timeout", "PIVOTAL_ENRICHMENT_TIMEOUT", "5000",          \
     "milliseconds a provider lookup may take (connecting: at most 2000); then the rules answer")

typedef struct pv_settings {
#define PV__XX(field, flag, env, def, help) const char *field;
  PV_SETTINGS_MAP(PV__XX)
#undef PV__XX
} pv_settings;

/*
 * Fills s from argv (argv[0] is the subcommand), the environment and the
 * defaults. --help prints the table and sets *help.
 * Returns: 0, or 2 (usage error, already printed).
 */
int pv_settings_parse(pv_settings *s, int argc, char **argv, const char *usage, bool *help);
void pv_settings_print_help(FILE *out, const char *usage);

/* Parses a size with an optional K/M/G/T suffix. Returns 0 or -1. */
int pv_parse_size(const char *text, size_t *out);

#endif
