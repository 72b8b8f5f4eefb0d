/* settings — see settings.h. */
#include "cmd/settings.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *flag, *env, *def, *help;
  size_t offset;
} table[] = {
#define PV__XX(field, flag, env, def, help) {flag, env, def, help, offsetof(pv_settings, field)},
    PV_SETTINGS_MAP(PV__XX)
#undef PV__XX
};
#define TABLE_SIZE (sizeof table / sizeof table[0])

static const char **slot(pv_settings *s, size_t i) {
  return (const char **)((char *)s + table[i].offset);
}

void pv_settings_print_help(FILE *out, const char *usage) {
  fprintf(out, "usage: %s\n\nsettings (flag, environment variable, default):\n", usage);
  for (size_t i = 0; i < TABLE_SIZE; i++)
    fprintf(out, "  %-16s %-22s %s\n      %s\n", table[i].flag, table[i].env,
            table[i].def[0] ? table[i].def : "(empty)", table[i].help);
}

int pv_settings_parse(pv_settings *s, int argc, char **argv, const char *usage, bool *help) {
  *help = false;
  for (size_t i = 0; i < TABLE_SIZE; i++) {
    const char *env = getenv(table[i].env);
    *slot(s, i) = env ? env : table[i].def;
  }
  for (int a = 1; a < argc; a++) {
    if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
      pv_settings_print_help(stdout, usage);
      *help = true;
      return 0;
    }
    size_t i;
    const char *value = NULL;
    for (i = 0; i < TABLE_SIZE; i++) {
      size_t n = strlen(table[i].flag);
      if (!strncmp(argv[a], table[i].flag, n) && (argv[a][n] == '\0' || argv[a][n] == '=')) {
        value = argv[a][n] == '=' ? argv[a] + n + 1 : NULL;
        break;
      }
    }
    if (i == TABLE_SIZE) {
      fprintf(stderr, "error: unknown option \"%s\"\nhint: `%s --help` lists the settings.\n",
              argv[a], usage);
      return 2;
    }
    if (!value) {
      if (a + 1 >= argc) {
        fprintf(stderr, "error: %s needs a value\n", table[i].flag);
        return 2;
      }
      value = argv[++a];
    }
    *slot(s, i) = value;
  }
  return 0;
}

int pv_parse_size(const char *text, size_t *out) {
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  if (end == text) return -1;
  unsigned shift = 0;
  switch (*end) {
  case '\0': break;
  case 'K': case 'k': shift = 10; end++; break;
  case 'M': case 'm': shift = 20; end++; break;
  case 'G': case 'g': shift = 30; end++; break;
  case 'T': case 't': shift = 40; end++; break;
  default: return -1;
  }
  if (*end != '\0' || v > (SIZE_MAX >> shift)) return -1;
  *out = (size_t)v << shift;
  return 0;
}
