/* users — the users aggregate; see users.h for its events and rules. */
#include "core/users.h"

#include "core/mp.h"
#include "core/norm/norm.h"

#include <stdio.h>
#include <string.h>

int users_stream(const char *user_id, char out[USERS_STREAM_MAX]) {
  size_t n = user_id ? strlen(user_id) : 0;
  if (n == 0 || n >= USERS_ID_MAX) return PV_EINVAL;
  snprintf(out, USERS_STREAM_MAX, "user-%s", user_id);
  return 0;
}

/* Copies the string field key of payload into out (cap bytes with NUL).
 * Returns 0, PV_ENOTFOUND when absent, PV_ECORRUPT when not a fitting str. */
static int field_str(const evt_envelope *e, const char *key, char *out, size_t cap) {
  mp_reader r;
  mp_slice s;
  if (mp_map_find(e->payload, e->payload_len, key, &r) != 0) return PV_ENOTFOUND;
  if (mp_read_str(&r, &s) != 0 || s.len >= cap) return PV_ECORRUPT;
  memcpy(out, s.ptr, s.len);
  out[s.len] = '\0';
  return 0;
}

static int required(int rc) { return rc == PV_ENOTFOUND ? PV_ECORRUPT : rc; }
static int optional(int rc) { return rc == PV_ENOTFOUND ? 0 : rc; }

int users_apply(users_state *s, const evt_envelope *e) {
  mp_slice t = e->type;
  int rc = 0;
  if (mp_slice_eq(t, "user.registered")) {
    s->exists = true;
    s->client_id[0] = s->display_name[0] = '\0';
    if ((rc = required(field_str(e, "user_id", s->user_id, sizeof s->user_id))) ||
        (rc = required(field_str(e, "email", s->email, sizeof s->email))) ||
        (rc = required(field_str(e, "role", s->role, sizeof s->role))) ||
        (rc = required(field_str(e, "password_hash", s->password_hash,
                                 sizeof s->password_hash))) ||
        (rc = optional(field_str(e, "client_id", s->client_id, sizeof s->client_id))) ||
        (rc = optional(field_str(e, "display_name", s->display_name, sizeof s->display_name))))
      return rc;
  } else if (mp_slice_eq(t, "user.role_assigned")) {
    s->client_id[0] = '\0';
    if ((rc = required(field_str(e, "role", s->role, sizeof s->role))) ||
        (rc = optional(field_str(e, "client_id", s->client_id, sizeof s->client_id))))
      return rc;
    s->token_version++;
  } else if (mp_slice_eq(t, "user.display_name_changed")) {
    if ((rc = required(field_str(e, "display_name", s->display_name, sizeof s->display_name))))
      return rc;
  } else if (mp_slice_eq(t, "user.password_changed")) {
    if ((rc = required(field_str(e, "password_hash", s->password_hash,
                                 sizeof s->password_hash))))
      return rc;
    s->token_version++;
  } else if (mp_slice_eq(t, "user.password_rehashed")) {
    if ((rc = required(field_str(e, "password_hash", s->password_hash,
                                 sizeof s->password_hash))))
      return rc;
  } else if (mp_slice_eq(t, "user.disabled")) {
    s->disabled = true;
    s->token_version++;
  } else if (mp_slice_eq(t, "user.enabled")) {
    s->disabled = false;
  } else if (mp_slice_eq(t, "user.tokens_revoked")) {
    s->token_version++;
  } else {
    return 0;
  }
  s->version = e->stream_version;
  s->last_position = e->position;
  return 0;
}

int users_fold_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  (void)raw;
  (void)raw_len;
  return users_apply(arg, e);
}

int users_load(log_reader *rd, const char *tenant, const char *user_id, users_state *out) {
  char stream[USERS_STREAM_MAX];
  memset(out, 0, sizeof *out);
  if (users_stream(user_id, stream)) return PV_EINVAL;
  int rc = log_read_stream(rd, tenant, stream, 1, users_fold_visit, out);
  if (rc) return rc;
  return out->exists ? 0 : PV_ENOTFOUND;
}

int users_find_email(log_reader *rd, const char *tenant, const char *email_normalized,
                     char user_id[USERS_ID_MAX]) {
  int rc = log_reader_unique_get(rd, tenant, USERS_EMAIL_KIND, email_normalized, user_id,
                                 USERS_ID_MAX);
  return rc == PV_EINVAL ? PV_ENOTFOUND : rc;
}

int users_normalize_email(const char *email, char out[USERS_EMAIL_MAX], pv_error *err) {
  norm_email n;
  if (!email) return pv_error_set(err, PV_EINVAL, "/email", "email is required");
  int rc = norm_email_parse(email, strlen(email), &n, err);
  if (rc) {
    if (err) snprintf(err->field, sizeof err->field, "/email");
    return rc;
  }
  snprintf(out, USERS_EMAIL_MAX, "%s", n.address);
  return 0;
}

void users_decision_init(users_decision *d) {
  memset(d, 0, sizeof *d);
  for (size_t i = 0; i < USERS_MAX_EVENTS; i++) pv_buf_init(&d->payload[i], 0);
}

void users_decision_release(users_decision *d) {
  for (size_t i = 0; i < USERS_MAX_EVENTS; i++) pv_buf_release(&d->payload[i]);
  d->n = 0;
}

/* Starts the next event of d: a map of n_fields; returns its packer. */
static void add_event(users_decision *d, const char *type, uint32_t n_fields,
                      msgpack_packer *pk) {
  pv_buf *b = &d->payload[d->n];
  d->type[d->n++] = type;
  pv_buf_reset(b);
  mp_packer_init(pk, b);
  msgpack_pack_map(pk, n_fields);
}

static void pack_kv(msgpack_packer *pk, const char *key, const char *value) {
  mp_pack_cstr(pk, key);
  mp_pack_cstr(pk, value);
}

/* A role name: 1..USERS_ROLE_MAX-1 bytes of [a-z_] (see the header). */
static int check_role(const char *role, const char *client_id, pv_error *err) {
  size_t n = role ? strlen(role) : 0;
  if (n == 0 || n >= USERS_ROLE_MAX || strspn(role, "abcdefghijklmnopqrstuvwxyz_") != n)
    return pv_error_set(err, PV_EINVAL, "/role", "invalid role");
  bool has_client = client_id && client_id[0];
  bool is_client = strcmp(role, USERS_ROLE_CLIENT) == 0;
  if (is_client && !has_client)
    return pv_error_set(err, PV_EINVAL, "/client_id", "a client user needs a client id");
  if (!is_client && has_client)
    return pv_error_set(err, PV_EINVAL, "/client_id", "only a client user has a client id");
  if (has_client && (strlen(client_id) >= USERS_ID_MAX ||
                     strspn(client_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789._:-") != strlen(client_id)))
    return pv_error_set(err, PV_EINVAL, "/client_id", "invalid client id");
  return 0;
}

static int check_hash(const char *hash, pv_error *err) {
  size_t n = hash ? strlen(hash) : 0;
  if (n == 0 || n >= USERS_HASH_MAX || strncmp(hash, "$argon2id$", 10) != 0)
    return pv_error_set(err, PV_EINVAL, "/password_hash", "invalid password hash");
  return 0;
}

/* Normalizes a display name (NFC, trimmed, spaces collapsed) into out. */
static int check_name(const char *name, char out[USERS_NAME_MAX], pv_error *err) {
  pv_buf display = PV_BUF_INIT, key = PV_BUF_INIT;
  int rc = norm_name_parse(name, strlen(name), &display, &key, err);
  if (rc == 0 && display.len >= USERS_NAME_MAX)
    rc = pv_error_set(err, PV_EINVAL, "/display_name", "display name too long");
  if (rc == 0) snprintf(out, USERS_NAME_MAX, "%s", display.data ? display.data : "");
  else if (err) snprintf(err->field, sizeof err->field, "/display_name");
  pv_buf_release(&display);
  pv_buf_release(&key);
  return rc;
}

static int decide_register(const users_state *s, const users_cmd *c, bool email_taken,
                           users_decision *d, pv_error *err) {
  char name[USERS_NAME_MAX] = "";
  int rc;
  if (s->exists) return pv_error_set(err, PV_EEXISTS, "/id", "user already exists");
  if ((rc = users_normalize_email(c->email, d->email, err)) ||
      (rc = check_role(c->role, c->client_id, err)) || (rc = check_hash(c->password_hash, err)) ||
      (c->display_name && (rc = check_name(c->display_name, name, err))))
    return rc;
  if (email_taken) {
    pv_error_set(err, PV_EEXISTS, "/email", "a user with email \"%s\" already exists", d->email);
    return PV_EEXISTS;
  }
  bool client = c->client_id && c->client_id[0];
  msgpack_packer pk;
  add_event(d, "user.registered", 4 + (client ? 1 : 0) + (name[0] ? 1 : 0), &pk);
  pack_kv(&pk, "user_id", c->user_id);
  pack_kv(&pk, "email", d->email);
  pack_kv(&pk, "role", c->role);
  if (client) pack_kv(&pk, "client_id", c->client_id);
  pack_kv(&pk, "password_hash", c->password_hash);
  if (name[0]) pack_kv(&pk, "display_name", name);
  return 0;
}

static int decide_update(const users_state *s, const users_cmd *c, users_decision *d,
                         pv_error *err) {
  msgpack_packer pk;
  int rc;
  if (c->role) {
    if ((rc = check_role(c->role, c->client_id, err))) return rc;
    const char *client = c->client_id ? c->client_id : "";
    if (strcmp(c->role, s->role) != 0 || strcmp(client, s->client_id) != 0) {
      add_event(d, "user.role_assigned", client[0] ? 2 : 1, &pk);
      pack_kv(&pk, "role", c->role);
      if (client[0]) pack_kv(&pk, "client_id", client);
    }
  } else if (c->client_id) {
    if ((rc = check_role(s->role, c->client_id, err))) return rc;
    if (strcmp(c->client_id, s->client_id) != 0) {
      add_event(d, "user.role_assigned", 2, &pk);
      pack_kv(&pk, "role", s->role);
      pack_kv(&pk, "client_id", c->client_id);
    }
  }
  if (c->display_name) {
    char name[USERS_NAME_MAX];
    if ((rc = check_name(c->display_name, name, err))) return rc;
    if (strcmp(name, s->display_name) != 0) {
      add_event(d, "user.display_name_changed", 1, &pk);
      pack_kv(&pk, "display_name", name);
    }
  }
  if (c->disabled == 1 && !s->disabled) add_event(d, "user.disabled", 0, &pk);
  if (c->disabled == 0 && s->disabled) add_event(d, "user.enabled", 0, &pk);
  return 0;
}

int users_decide(const users_state *s, const users_cmd *c, bool email_taken,
                 users_decision *d, pv_error *err) {
  msgpack_packer pk;
  int rc;
  d->n = 0;
  if (!c->user_id || !c->user_id[0] || strlen(c->user_id) >= USERS_ID_MAX)
    return pv_error_set(err, PV_EINVAL, "/id", "invalid user id");
  if (c->expected_version != LOG_EXPECT_ANY && (uint64_t)c->expected_version != s->version) {
    pv_error_set(err, PV_EPRECONDITION, NULL, "the user has changed");
    pv_error_detail(err, "If-Match names version %lld; the user is at version %llu.",
                    (long long)c->expected_version, (unsigned long long)s->version);
    pv_error_hint(err, "Read the user again and retry with its current version.");
    return PV_EPRECONDITION;
  }
  if (c->kind == USERS_REGISTER) return decide_register(s, c, email_taken, d, err);
  if (!s->exists) return pv_error_set(err, PV_ENOTFOUND, NULL, "no such user");
  switch (c->kind) {
  case USERS_UPDATE: return decide_update(s, c, d, err);
  case USERS_SET_PASSWORD:
  case USERS_REHASH_PASSWORD:
    if ((rc = check_hash(c->password_hash, err))) return rc;
    add_event(d, c->kind == USERS_SET_PASSWORD ? "user.password_changed"
                                               : "user.password_rehashed", 1, &pk);
    pack_kv(&pk, "password_hash", c->password_hash);
    return 0;
  case USERS_REVOKE_TOKENS:
    add_event(d, "user.tokens_revoked", 0, &pk);
    return 0;
  default: return pv_error_set(err, PV_EINVAL, NULL, "unknown users command");
  }
}

int users_wctx_load(writer_ctx *ctx, const char *user_id, users_state *out) {
  char stream[USERS_STREAM_MAX];
  memset(out, 0, sizeof *out);
  if (users_stream(user_id, stream)) return PV_EINVAL;
  return writer_read_stream(ctx, stream, 1, users_fold_visit, out);
}

int users_decide_cmd(writer_ctx *ctx, void *arg, pv_error *err) {
  const users_cmd *c = arg;
  users_state s;
  char stream[USERS_STREAM_MAX];
  if (users_stream(c->user_id, stream))
    return pv_error_set(err, PV_EINVAL, "/id", "invalid user id");
  int rc = users_wctx_load(ctx, c->user_id, &s);
  if (rc) return pv_error_set(err, rc, NULL, "could not read user \"%s\"", c->user_id);
  bool taken = false;
  if (c->kind == USERS_REGISTER) {
    char email[USERS_EMAIL_MAX], other[USERS_ID_MAX];
    if ((rc = users_normalize_email(c->email, email, err))) return rc;
    taken = writer_unique_get(ctx, USERS_EMAIL_KIND, email, other, sizeof other) == 0;
  }
  users_decision d;
  users_decision_init(&d);
  rc = users_decide(&s, c, taken, &d, err);
  for (size_t i = 0; rc == 0 && i < d.n; i++)
    rc = writer_emit(ctx, stream, (int64_t)(s.version + i), d.type[i], 1, d.payload[i].data,
                     d.payload[i].len, err);
  if (rc == 0 && c->kind == USERS_REGISTER)
    rc = writer_unique_put(ctx, USERS_EMAIL_KIND, d.email, c->user_id);
  users_decision_release(&d);
  return rc;
}
