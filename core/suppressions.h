/*
 * suppressions — who may not be contacted: email unsubscribes and phone
 * do-not-call entries, tenant-wide ("global") or for one client, each with
 * a reason, a source and a time.
 *
 * Where it lives: every change is an event (suppression.added,
 * suppression.removed) on the stream "suppression-<channel>-<hash of the
 * value>", and the writer keeps the current state in the log's
 * `suppressions` sub-database under (tenant, channel, normalized value) in
 * the same transaction. So a just-in-time check is one LMDB get in a read
 * transaction (supp_check), and a decide that must not act on a suppressed
 * contact (lead approval) reads the same record inside the writer's
 * transaction (supp_check_w): once a suppression is committed, no later
 * command and no later check can miss it.
 *
 * The record (msgpack map) per value:
 *   global   nil, or an entry
 *   clients  array of entries, each with its client_id
 * entry: {client_id?, reason, source, at_us, position}, position being the
 * suppression.added event that made the entry.
 *
 * Normalization (supp_normalize, core/norm): an email is lowercased and its
 * IDN domain converted to ASCII ("Foo@Bücher.Example" and
 * "foo@xn--bcher-kva.example" are one key); a phone is E.164 by
 * libphonenumber with a default region ("+1 (415) 555-0123",
 * "(415) 555-0123" with region US and "14155550123" are "+14155550123");
 * a phone number libphonenumber does not hold valid is keyed by its digits
 * alone, so it still matches itself however it is punctuated.
 *
 * Who may do what: any staff role may add; a client user may add only for
 * its own client; only an admin may remove, with a reason, and the removal
 * is itself an event (the history stays in the log). A one-click
 * unsubscribe (supp_unsubscribe_bind) needs no role: the signed token is
 * the authority.
 *
 * Commands: fill the struct, call its _bind to set writer_cmd.decide and
 * .arg (tenant, actor, idempotency key and done stay the caller's), submit.
 * The struct must live until done; its out fields are valid from done on.
 *
 * Thread: binds and checks from any thread; decides run on the writer.
 */
#ifndef PV_SUPPRESSIONS_H
#define PV_SUPPRESSIONS_H

#include "core/actor.h"
#include "core/common/pv_error.h"
#include "core/log.h"
#include "core/unsub_token.h"
#include "core/writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SUPP_CHANNEL_EMAIL "email"
#define SUPP_CHANNEL_PHONE "phone"
/* The region a phone without "+" is read in when the caller names none.
 * Arbitrary; tenants outside North America pass their own. */
#define SUPP_DEFAULT_REGION "US"
/* Bytes of a normalized key with its NUL (an email is at most 254). */
#define SUPP_KEY_MAX 255
#define SUPP_REASON_MAX 256 /* with NUL; arbitrary, a sentence or a code */
#define SUPP_SOURCE_MAX 128 /* with NUL; "one_click", "csv:<upload id>" */
/* Per-client entries one value may hold. Arbitrary: keeps a record (read
 * on every check) under ~32 KiB; a value suppressed for this many clients
 * should be suppressed globally. */
#define SUPP_MAX_CLIENTS 64

/*
 * The key a value is stored and compared under.
 * channel: "email" or "phone"; default_region: ISO 3166 alpha-2 for phones
 * without "+" (NULL = SUPP_DEFAULT_REGION).
 * Returns: 0 or PV_EINVAL (unknown channel; an email that does not
 * normalize; an empty phone or one without any digit), err->field "/value".
 */
int supp_normalize(const char *channel, const char *raw, size_t len, const char *default_region,
                   char key[SUPP_KEY_MAX], pv_error *err);

/* ---- commands --------------------------------------------------------- */

typedef struct supp_add {
  /* in */
  actor_ref by;
  const char *channel;        /* "email" | "phone" */
  const char *value;          /* as entered */
  const char *default_region; /* phones; NULL = SUPP_DEFAULT_REGION */
  const char *client_id;      /* NULL or "" = global (tenant-wide) */
  const char *reason;         /* required, < SUPP_REASON_MAX bytes */
  const char *source;         /* required, < SUPP_SOURCE_MAX bytes */
  int64_t at_us;              /* when it was asked for; 0 = now (set by bind) */
  /* set by bind */
  char key[SUPP_KEY_MAX];
  /* out */
  bool already;               /* already suppressed in this scope: no event */
  uint64_t position;          /* of the suppression.added event (or the old one) */
} supp_add;

/*
 * Checks and normalizes c, then points cmd at it.
 * Returns: 0 or PV_EINVAL (err names the field), PV_EFORBIDDEN (a client
 * user adding for another client or tenant-wide).
 * Decide refuses: PV_EINVAL when the value already holds SUPP_MAX_CLIENTS
 * client entries. Adding what is already there succeeds with no event
 * (c->already, c->position of the existing entry).
 */
int supp_add_bind(supp_add *c, writer_cmd *cmd, pv_error *err);

/*
 * Binds an add from a verified one-click unsubscribe token (RFC 8058):
 * scope is the token's client (or global without one), source "one_click",
 * reason "unsubscribed by link" (plus the campaign id when the token has
 * one, in c->reason_buf_). The claims must outlive the command.
 * Returns: 0 or PV_EINVAL (the claims' value does not normalize).
 */
typedef struct supp_unsubscribe {
  supp_add add;
  char reason_buf_[SUPP_REASON_MAX];
  char source_buf_[SUPP_SOURCE_MAX];
} supp_unsubscribe;
int supp_unsubscribe_bind(supp_unsubscribe *u, const unsub_claims *claims, int64_t at_us,
                          writer_cmd *cmd, pv_error *err);

typedef struct supp_remove {
  /* in */
  actor_ref by;               /* must be an admin */
  const char *channel;
  const char *value;
  const char *default_region;
  const char *client_id;      /* the scope to lift; NULL or "" = the global entry */
  const char *reason;         /* required */
  int64_t at_us;
  /* set by bind */
  char key[SUPP_KEY_MAX];
} supp_remove;

/*
 * Returns: 0, PV_EINVAL, PV_EFORBIDDEN (not an admin: checked at bind and
 * again in decide). Decide refuses: PV_ENOTFOUND (no entry in that scope).
 */
int supp_remove_bind(supp_remove *c, writer_cmd *cmd, pv_error *err);

/* ---- checks ----------------------------------------------------------- */

typedef enum supp_status {
  SUPP_CONTACTABLE = 0,
  SUPP_SUPPRESSED = 1,
  SUPP_INVALID = 2 /* the value does not normalize: treat as not contactable */
} supp_status;

typedef struct supp_result {
  supp_status status;
  char key[SUPP_KEY_MAX];      /* the normalized value ("" when invalid) */
  bool global;                 /* SUPPRESSED tenant-wide; else for the client */
  char reason[SUPP_REASON_MAX];
  char source[SUPP_SOURCE_MAX];
  int64_t at_us;
  uint64_t position;           /* the suppression.added event */
} supp_result;

/*
 * The just-in-time check: normalizes raw and reads its record in one read
 * transaction (one LMDB get). client_id NULL or "" checks the global scope
 * only; otherwise global or that client's entry suppresses.
 * Returns: 0 (see out->status; an unparseable value is SUPP_INVALID, not an
 * error), PV_EINVAL (unknown channel), PV_EIO, PV_ECORRUPT (a record that
 * does not decode).
 */
int supp_check(log_t *log, const char *tenant, const char *client_id, const char *channel,
               const char *raw, const char *default_region, supp_result *out, pv_error *err);

typedef struct supp_query {
  const char *channel;
  const char *value;
  const char *default_region; /* NULL = SUPP_DEFAULT_REGION */
} supp_query;

/* supp_check for n values in one read transaction; out[i] answers q[i].
 * Returns: 0, PV_EINVAL (an unknown channel; err->field "/N/channel"),
 * PV_EIO, PV_ECORRUPT. */
int supp_check_batch(log_t *log, const char *tenant, const char *client_id,
                     const supp_query *q, size_t n, supp_result *out, pv_error *err);

/* The check inside a decide (the writer's transaction, earlier commands of
 * the batch included); key is already normalized.
 * Returns: 0 or PV_ECORRUPT. Thread: the writer, in a decide. */
int supp_check_w(writer_ctx *ctx, const char *client_id, const char *channel, const char *key,
                 supp_result *out);

/* ---- bulk upload ------------------------------------------------------ */

typedef struct supp_row {
  const char *value;
  const char *reason; /* NULL or "" = the upload's default_reason */
} supp_row;

typedef struct supp_bulk {
  const char *tenant, *actor, *correlation_id;
  actor_ref by;
  const char *upload_id;      /* required: idempotency keys are "supp:<upload_id>:<row>" */
  const char *channel;
  const char *default_region;
  const char *client_id;      /* NULL or "" = global */
  const char *source;         /* required */
  const char *default_reason; /* required */
  int64_t at_us;              /* 0 = now */
} supp_bulk;

typedef struct supp_row_result {
  int status;        /* 0 or a PV_E* code */
  bool already;      /* was suppressed already */
  uint64_t position; /* of its suppression.added event */
  char message[256]; /* when status != 0: the error's primary message */
} supp_row_result;

/*
 * Suppresses rows[0..n): one command per row, each with its idempotency key,
 * submitted in windows of SUPP_BULK_WINDOW so the writer batches them; a
 * retried upload (same upload_id) is answered from the idempotency records.
 * A row that fails (bad value) fails alone.
 * Returns: 0 (see out[i]; a row the writer would not take, because it is
 * stopping or failed, has PV_ESHUTDOWN or PV_EIO) or PV_EINVAL /
 * PV_EFORBIDDEN (the upload itself is malformed or not allowed).
 * Thread: any but the writer's; blocks until all are done.
 */
#define SUPP_BULK_WINDOW 1024 /* arbitrary: ~2 MiB of commands in flight */
int supp_bulk_run(writer_t *w, const supp_bulk *b, const supp_row *rows, size_t n,
                  supp_row_result *out, pv_error *err);

#endif
