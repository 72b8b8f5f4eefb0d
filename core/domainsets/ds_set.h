/*
 * ds_set — the domain set aggregate on stream "domain_set-<id>": its
 * events (schema/events.def, the issue 8 block), the fold of its state
 * (and of its items, for a re-run or an expansion), the payloads the
 * upload and the re-run write, and the writer decide functions.
 *
 * Items and matches are computed outside the writer (ds_service, on its
 * own thread: matching 100k items takes seconds and decide functions must
 * stay short); the decide only checks the set's state and appends the
 * prepared events, so a re-run of decide gives the same answer.
 *
 * Thread: pure functions anywhere; *_decide on the writer thread.
 */
#ifndef PV_DS_SET_H
#define PV_DS_SET_H

#include "core/common/pv_buf.h"
#include "core/domainsets/ds_items.h"
#include "core/log.h"
#include "core/mp.h"
#include "core/writer.h"

#define DS_SET_ID_LEN 32
#define DS_SET_STREAM_MAX 48
#define DS_SET_NAME_MAX 200
#define DS_CLIENT_ID_MAX 64
/* Items per domain_set.items_added event: 100 items of at most ~2 KiB
 * (DS_ORIGINAL_MAX twice, DS_NAME_MAX, DS_NOTES_MAX, a reason) stay under
 * the log's 256 KiB event cap. */
#define DS_ITEMS_PER_EVENT 100
/* Matches per domain_set.matched event: ~200 bytes each. */
#define DS_MATCHES_PER_EVENT 500
/* Exclusions remembered in the fold's header state (the decide's view):
 * arbitrary; an item excluded past this is still recorded. */
#define DS_MAX_EXCLUDED 100000

/* "domain_set-<id>" into out. Returns: 0 or PV_EINVAL (not 32 hex). */
int ds_set_stream(const char *id, char out[DS_SET_STREAM_MAX + 1]);
/* A new random id (32 hex digits). */
void ds_set_new_id(char out[DS_SET_ID_LEN + 1]);

typedef struct ds_set_state {
  bool exists, archived;
  uint64_t version; /* the stream's version folded */
  char id[DS_SET_ID_LEN + 1];
  char name[DS_SET_NAME_MAX + 1];
  char client_id[DS_CLIENT_ID_MAX + 1];
  char status[16]; /* processing | completed | error */
  uint64_t item_count, run;
  uint32_t *excluded; /* sorted item numbers */
  size_t excluded_count;
} ds_set_state;

void ds_set_state_init(ds_set_state *st);
void ds_set_state_release(ds_set_state *st);
bool ds_set_is_excluded(const ds_set_state *st, uint32_t n);

/*
 * Folds one event into st and, when items is not NULL, into the items
 * (items_added appends, processing_started clears the matches, matched
 * sets them, exclusions set the flag).
 * Returns: 0 or PV_ECORRUPT (a payload not of its shape).
 */
int ds_set_apply(ds_set_state *st, ds_items *items, const char *type, size_t type_len,
                 const void *payload, size_t len);

/* Reads a set from the log (st, and items when not NULL).
 * Returns: 0 (st->exists false when absent), PV_EINVAL (bad id), PV_EIO,
 * PV_ECORRUPT. */
int ds_set_read(log_t *log, const char *tenant, const char *id, ds_set_state *st,
                ds_items *items);

/* ---- payloads ------------------------------------------------------------ */

typedef struct ds_upload_meta {
  const char *set_id, *name, *file_name, *format, *client_id; /* file_name, client_id may be NULL */
  uint64_t size_bytes;
} ds_upload_meta;

void ds_pack_created(pv_buf *out, const ds_upload_meta *m, const ds_items *items);
/* Items [from, to). */
void ds_pack_items(pv_buf *out, const ds_items *items, size_t from, size_t to);
/* The matched items among [from, to) (may be an empty array). */
void ds_pack_matched(pv_buf *out, uint64_t run, const ds_items *items, size_t from, size_t to);
void ds_pack_report(msgpack_packer *pk, const ds_report *r);

typedef struct ds_stub {
  uint32_t n;
  char account_id[48];
} ds_stub;
void ds_pack_processed(pv_buf *out, uint64_t run, const char *status, const char *error,
                       const ds_report *r, uint64_t index_position, const ds_stub *stubs,
                       size_t stub_count);

/* ---- commands ------------------------------------------------------------ */

typedef struct ds_prepared {
  const char *type;
  pv_buf payload;
} ds_prepared;

/*
 * The events of a run, in order: with meta (an upload) domain_set.created
 * and the items in chunks, else domain_set.processing_started; then the
 * matched chunks (only chunks with a match) and domain_set.processed
 * (completed, with the report). *count is set; free with
 * ds_prepared_free.
 */
ds_prepared *ds_prepare_run(const ds_upload_meta *meta, const ds_items *items, uint64_t run,
                            const ds_report *report, uint64_t index_position,
                            const ds_stub *stubs, size_t stub_count, size_t *count);
void ds_prepared_free(ds_prepared *ev, size_t count);

/*
 * arg: ds_emit_arg. Appends prepared events to the set's stream. create:
 * the stream must not exist. Otherwise (a re-run) the set must exist and
 * not be archived, and its run must still be run - 1 (no other re-run
 * came first).
 * Returns: 0, PV_EEXISTS (create: the id is taken), PV_ENOTFOUND,
 * PV_ECONFLICT (archived, or another run came first), writer_emit's errors.
 */
typedef struct ds_emit_arg {
  const char *set_id;
  bool create;
  uint64_t run;
  ds_prepared *events;
  size_t count;
} ds_emit_arg;
int ds_emit_decide(writer_ctx *ctx, void *arg, pv_error *err);

typedef enum ds_cmd_kind { DS_CMD_EXCLUDE, DS_CMD_INCLUDE, DS_CMD_LINK, DS_CMD_ARCHIVE } ds_cmd_kind;

/*
 * arg: ds_cmd_arg. Exclude / include item n (no event when already so),
 * link an audience target (campaign or order; no event when linked), or
 * archive (no event when archived). A client user's principal names its
 * client: a set of another client (or a staff set) is not found.
 * Returns: 0, PV_ENOTFOUND (no such set or item), PV_EINVAL (a bad target
 * type or id, field named), PV_ECONFLICT (changing an archived set).
 */
typedef struct ds_cmd_arg {
  ds_cmd_kind kind;
  const char *set_id;
  const char *client_id; /* NULL: staff */
  uint32_t n;
  const char *reason;                /* exclude; may be NULL */
  const char *target_type, *target_id; /* link */
  bool changed; /* out */
} ds_cmd_arg;
int ds_cmd_decide(writer_ctx *ctx, void *arg, pv_error *err);

/*
 * arg: ds_list_arg. A static list "list-<list_id>": list.created with the
 * first chunk of ids, list.records_added with the rest.
 * Returns: 0, PV_EEXISTS (the id is taken), writer_emit's errors.
 */
#define DS_LIST_IDS_PER_EVENT 5000 /* 5000 x ~36 bytes: well under 256 KiB */
typedef struct ds_list_arg {
  const char *list_id, *name, *set_id;
  const char *title; /* filters, for the record; may be NULL */
  const char *const *seniority;
  size_t seniority_count;
  const char *const *department;
  size_t department_count;
  bool include_orphans;
  char (*ids)[48];
  size_t id_count;
  uint64_t snapshot_position;
} ds_list_arg;
int ds_list_decide(writer_ctx *ctx, void *arg, pv_error *err);

#endif
