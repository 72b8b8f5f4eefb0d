/*
 * pivotal serve — runs the server. For now: opens nothing yet and waits for
 * SIGINT/SIGTERM (filled in by issues #2–#4).
 */
#include "cmd/commands.h"

#include <signal.h>
#include <stdio.h>

int cmd_serve(int argc, char **argv) {
  sigset_t set;
  int sig;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  printf("pivotal: waiting for SIGINT or SIGTERM\n");
  fflush(stdout);
  sigwait(&set, &sig);
  printf("pivotal: stopping (signal %d)\n", sig);
  return 0;
}
