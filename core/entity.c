/* entity — see entity.h. */
#include "core/entity.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* 1000 tries: each extra try means an id that was created and then had its
 * first key freed and reclaimed; a thousand of those for one key is a bug. */
#define ENTITY_MAX_TRIES 1000

bool entity_id_valid(const char *id) {
  if (!id || strlen(id) != ENTITY_ID_LEN) return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  return true;
}

void entity_derive_id(const char *tenant, const char *kind, const char *key, unsigned n,
                      char out[ENTITY_ID_LEN + 1]) {
  crypto_generichash_state st;
  uint8_t hash[ENTITY_ID_LEN / 2];
  crypto_generichash_init(&st, NULL, 0, sizeof hash);
  crypto_generichash_update(&st, (const uint8_t *)tenant, strlen(tenant) + 1);
  crypto_generichash_update(&st, (const uint8_t *)kind, strlen(kind) + 1);
  crypto_generichash_update(&st, (const uint8_t *)key, strlen(key) + 1);
  if (n) {
    char num[16];
    int len = snprintf(num, sizeof num, "%u", n);
    crypto_generichash_update(&st, (const uint8_t *)num, (size_t)len);
  }
  crypto_generichash_final(&st, hash, sizeof hash);
  sodium_bin2hex(out, ENTITY_ID_LEN + 1, hash, sizeof hash);
}

void entity_stream(const char *kind, const char *id, char out[ENTITY_STREAM_MAX + 1]) {
  snprintf(out, ENTITY_STREAM_MAX + 1, "%s-%s", kind, id);
}

int entity_new_id(writer_ctx *ctx, const char *kind, const char *key,
                  char id[ENTITY_ID_LEN + 1], pv_error *err) {
  for (unsigned n = 0; n < ENTITY_MAX_TRIES; n++) {
    char stream[ENTITY_STREAM_MAX + 1];
    uint64_t version = 0;
    entity_derive_id(writer_ctx_tenant(ctx), kind, key, n, id);
    entity_stream(kind, id, stream);
    int rc = writer_stream_version(ctx, stream, &version);
    if (rc) return pv_error_set(err, rc, NULL, "could not read a stream version");
    if (version == 0) return 0;
  }
  return pv_error_set(err, PV_EINTERNAL, NULL, "no free id for %s \"%s\"", kind, key);
}

typedef struct fold_arg {
  entity_apply_fn apply;
  void *state;
} fold_arg;

static int fold_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  fold_arg *fa = arg;
  int rc = fa->apply(fa->state, e->type.ptr, e->type.len, e->payload, e->payload_len);
  return rc ? PV_ECORRUPT : 0;
}

int entity_fold(writer_ctx *ctx, const char *kind, const char *id, entity_apply_fn apply,
                void *state, uint64_t *version, pv_error *err) {
  char stream[ENTITY_STREAM_MAX + 1];
  *version = 0;
  if (!entity_id_valid(id))
    return pv_error_set(err, PV_EINVAL, NULL, "invalid %s id \"%.40s\"", kind, id ? id : "");
  entity_stream(kind, id, stream);
  int rc = writer_stream_version(ctx, stream, version);
  if (rc) return pv_error_set(err, rc, NULL, "could not read a stream version");
  if (*version == 0) return 0;
  fold_arg fa = {apply, state};
  rc = writer_read_stream(ctx, stream, 1, fold_visit, &fa);
  if (rc) return pv_error_set(err, PV_ECORRUPT, NULL, "%s %s does not fold", kind, id);
  return 0;
}
