/*
 * entity — what the account and contact aggregates share on the write side:
 * deterministic entity ids, and folding one stream inside a decide.
 *
 * Id scheme: a new entity's id is 32 hex digits, the first 16 bytes of
 * BLAKE2b(tenant \0 kind \0 key \0 n) where key is the identifier that
 * created it (a contact's normalized email, "ext:SOURCE:ID", "phone:...";
 * an account's normalized domain or "name:KEY") and n is 0 unless that
 * stream already exists (an id freed and claimed again), then 1, 2, ...
 * So the same first key gives the same id on every run and in every arrival
 * order of the other commands. The stream is "<kind>-<id>".
 *
 * Thread: the writer thread, inside a decide (entity_new_id, entity_fold);
 * entity_derive_id anywhere.
 */
#ifndef PV_ENTITY_H
#define PV_ENTITY_H

#include "core/common/pv_error.h"
#include "core/writer.h"

#define ENTITY_ID_LEN 32
/* "account-" + id: the longest stream id we make. */
#define ENTITY_STREAM_MAX 48

/* Ids are lower-case hex of exactly ENTITY_ID_LEN digits. */
bool entity_id_valid(const char *id);

void entity_derive_id(const char *tenant, const char *kind, const char *key, unsigned n,
                      char out[ENTITY_ID_LEN + 1]);

/* "<kind>-<id>" into out. */
void entity_stream(const char *kind, const char *id, char out[ENTITY_STREAM_MAX + 1]);

/*
 * Picks the id for a new entity of `kind` first named by `key`: the first
 * n whose stream does not exist yet.
 * Returns: 0 or PV_EINTERNAL (a thousand ids taken: never in practice).
 */
int entity_new_id(writer_ctx *ctx, const char *kind, const char *key,
                  char id[ENTITY_ID_LEN + 1], pv_error *err);

/* Folds an aggregate: calls apply(state, type, payload) for each event. */
typedef int (*entity_apply_fn)(void *state, const char *type, size_t type_len,
                               const void *payload, size_t payload_len);

/*
 * Folds stream "<kind>-<id>" as the decide sees it. *version is the stream's
 * version (0: no such entity; state is left as it was).
 * Returns: 0, PV_EINVAL (a malformed id), PV_ECORRUPT (an event does not
 * apply).
 */
int entity_fold(writer_ctx *ctx, const char *kind, const char *id, entity_apply_fn apply,
                void *state, uint64_t *version, pv_error *err);

#endif
