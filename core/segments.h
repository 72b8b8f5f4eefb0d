/*
 * segments — the audience aggregates: dynamic segments, static lists and
 * saved filters. One module because the three share their rules: a server
 * made id, an owner, a team and a visibility scope, and the same
 * create / change / delete life.
 *
 * Streams "segment-<id>", "list-<id>", "filter-<id>"; events segment.*,
 * list.*, filter.* (schema/events.def). The payload of a create or update
 * is packed by the caller (the HTTP layer, which also checks the filter
 * with core/seg_filter.h); this module decides who may do it and
 * splits list members into events under EVT_MAX_BYTES.
 *
 * Visibility (checked in every decide and by every read-model query):
 *   private  the owner only;
 *   team     users whose team equals the row's team (a user's team is their
 *            role: docs/segments.md says why), and the owner;
 *   global   every staff user.
 * A row that is not visible answers PV_ENOTFOUND exactly as a missing one.
 * Changing it takes the owner or an admin who can see it.
 *
 * Thread: decides on the writer; the rest pure.
 */
#ifndef PV_SEGMENTS_H
#define PV_SEGMENTS_H

#include "core/common/pv_error.h"
#include "core/envelope.h"
#include "core/writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of ids one list.members_added event carries: 192 KiB, under
 * EVT_MAX_BYTES (256 KiB) with room for the envelope. */
#define AUD_CHUNK_BYTES (192 * 1024)
/* Record ids one command may add or remove: a 1M-row export's worth;
 * arbitrary, bounds the staged events (~40 MiB). */
#define AUD_MAX_RECORDS 1000000
#define AUD_ID_MAX 64

typedef enum aud_kind { AUD_SEGMENT, AUD_LIST, AUD_FILTER } aud_kind;

typedef enum aud_action {
  AUD_CREATE, AUD_UPDATE, AUD_DELETE, AUD_REFRESH, AUD_ADD_MEMBERS, AUD_REMOVE_MEMBERS
} aud_action;

/* Who acts: the user's id, team and whether they are an admin. */
typedef struct aud_who {
  const char *user_id;
  const char *team;
  bool admin;
} aud_who;

typedef struct aud_state {
  bool exists, deleted;
  uint64_t version;
  char owner[AUD_ID_MAX];
  char team[AUD_ID_MAX];
  char visibility[16];
  char entity_type[16]; /* "contact" | "account" ("" for a filter's none) */
} aud_state;

/* "segment", "list", "filter". */
const char *aud_kind_name(aud_kind k);
/* True when who may see a row of this state (pure). */
bool aud_visible(const aud_state *s, const aud_who *who);
bool aud_visibility_valid(const char *v);
void aud_apply(aud_state *s, const evt_envelope *e);

typedef struct aud_cmd {
  aud_kind kind;
  aud_action action;
  const char *id;              /* [A-Za-z0-9._:-]{1,63} */
  aud_who by;
  /* CREATE / UPDATE: the event's payload, a msgpack map of the catalogue's
   * fields (checked by the writer against it). */
  const void *payload;
  size_t payload_len;
  /* CREATE of a list, ADD_MEMBERS, REMOVE_MEMBERS (lists only). */
  const char *const *record_ids;
  size_t record_count;
  /* UPDATE: called in the decide with the row's entity type, e.g. to check
   * a new filter against it (the writer thread; must be pure). NULL: none.
   * Returns 0 or a PV_E* code with err filled (the command is refused). */
  int (*check)(void *arg, const char *entity_type, pv_error *err);
  void *check_arg;
} aud_cmd;

/*
 * Sets cmd->decide/arg (tenant, actor, idempotency and done stay the
 * caller's); c must live until done.
 * Returns: 0 or PV_EINVAL (a bad id, a members action on a non-list,
 * over AUD_MAX_RECORDS, a record id that is not 1..63 id characters).
 * Decide refuses: PV_EEXISTS (create: the id is taken), PV_ENOTFOUND
 * (missing, deleted or not visible), PV_EFORBIDDEN (visible, but neither
 * the owner nor an admin).
 */
int aud_bind(aud_cmd *c, writer_cmd *cmd, pv_error *err);

#endif
