/*
 * read5_util — the read side end to end for tests and the benchmark: a
 * migrated PostgreSQL database, the api on loopback (tests/api) with the
 * read models' pool, the projection engine folding the writer's log, users
 * of each role, and fixtures written through the contact/account decide
 * commands (so the events are exactly the write side's).
 */
#ifndef PV_TESTS_READ5_UTIL_H
#define PV_TESTS_READ5_UTIL_H

#include "core/accounts.h"
#include "core/contacts.h"
#include "tests/api/apit_pg.h"

#include <cjson/cJSON.h>

typedef struct r5 {
  apit_pg pg;
  char admin[USERS_ID_MAX], agent[USERS_ID_MAX], data_ops[USERS_ID_MAX],
      client[USERS_ID_MAX], qa[USERS_ID_MAX];
  char *tok_admin, *tok_agent, *tok_data_ops, *tok_client, *tok_qa;
} r5;

/* The read models the API reads. */
extern const char *const r5_projections[];

void r5_start(r5 *x);
void r5_stop(r5 *x);
/* Waits until every read model has folded the log's head. */
void r5_sync(r5 *x);

/* Runs one command as actor "user:tester" in tenant (NULL: "default").
 * Returns: the command's status. */
int r5_run(r5 *x, const char *tenant, writer_decide_fn decide, void *arg, pv_error *err);

/* An account; parent may be NULL. Writes its id to id. */
void r5_account(r5 *x, const char *name, const char *domain, const char *parent,
                char id[ENTITY_ID_LEN + 1]);
/* Sets (or clears, with "") an account's parent. */
void r5_reparent(r5 *x, const char *id, const char *parent);
/* A contact upsert; id (may be NULL) gets its id. */
void r5_contact(r5 *x, const char *tenant, const char *email, const char *first,
                const char *last, const char *title, const char *source, int64_t observed_at,
                char *id);
/* n contacts "<prefix><i>@<domain>" submitted at once (group commit);
 * first names come from first(i) when not NULL. */
void r5_seed(r5 *x, const char *prefix, const char *domain, size_t n,
             const char *(*first)(size_t i));
/* A note on a stream's timeline (note.added). */
void r5_note(r5 *x, const char *subject, const char *text);

/* GET path with token; *out (may be NULL) gets the body as JSON (NULL when
 * not JSON). Returns: the status. */
int r5_get(r5 *x, const char *path, const char *token, cJSON **out);
/* Percent-encodes s for a query string. */
void r5_urlenc(const char *s, pv_buf *out);

#endif
