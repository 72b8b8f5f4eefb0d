/*
 * The subcommands of `pivotal`, one file each (cmd/cmd_NAME.c). Each takes
 * the arguments after its name (argv[0] is the subcommand) and returns the
 * process exit status: 0 success, 1 failure, 2 bad usage.
 *
 * XX(name, function, one-line summary)
 */
#ifndef PV_CMD_COMMANDS_H
#define PV_CMD_COMMANDS_H

#define PV_COMMAND_MAP(XX)                                                   \
  XX(serve, cmd_serve, "run the server: the log, the writer and the API")     \
  XX(migrate, cmd_migrate, "apply the database schema migrations")              \
  XX(pg, cmd_pg, "start, stop or check the embedded PostgreSQL cluster")        \
  XX(events, cmd_events, "list the event catalogue (--markdown: docs/events.md)")   \
  XX(replay, cmd_replay, "print the event log, an entity's history, or verify the chain") \
  XX(rebuild, cmd_rebuild, "rebuild a read model from the whole log and swap it in") \
  XX(status, cmd_status, "show each projection's checkpoint and lag")                \
  XX(user, cmd_user, "add a user (the first admin): user add --email E --role R") \
  XX(import, cmd_import, "import a contact file (CSV, XLSX), or resume one: import FILE [--dry-run]")

#define PV__XX(name, fn, summary) int fn(int argc, char **argv);
PV_COMMAND_MAP(PV__XX)
#undef PV__XX

#endif
