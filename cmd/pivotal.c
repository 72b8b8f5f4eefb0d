/*
 * pivotal — the one binary. Dispatches to the subcommands listed in
 * cmd/commands.h.
 */
#include "cmd/commands.h"

#include <stdio.h>
#include <string.h>

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *summary;
} commands[] = {
#define PV__XX(name, fn, summary) {#name, fn, summary},
    PV_COMMAND_MAP(PV__XX)
#undef PV__XX
};

static void usage(FILE *out) {
  fprintf(out, "usage: pivotal COMMAND [OPTIONS]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n`pivotal COMMAND --help` lists a command's settings.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "error: unknown command \"%s\"\n", argv[1]);
  usage(stderr);
  return 2;
}
