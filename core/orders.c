/*
 * orders — see orders.h for the model and the client-scoping rule.
 * Pure parts (the transition table, apply) first, then the decides.
 */
#include "core/orders.h"

#include "core/cmpl_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- names and the table ---------------------------------------------- */

const char *order_status_name(order_status s) {
  switch (s) {
#define ORDER__XX(NAME, name) case ORDER_##NAME: return name;
    ORDER_STATUS_MAP(ORDER__XX)
#undef ORDER__XX
  }
  return "unknown";
}

const char *order_action_name(order_action a) {
  switch (a) {
#define ORDER__XX(NAME, name) case ORDER_ACT_##NAME: return name;
    ORDER_ACTION_MAP(ORDER__XX)
#undef ORDER__XX
  }
  return "unknown";
}

int order_action_parse(const char *name, order_action *out, pv_error *err) {
#define ORDER__XX(NAME, str)                                                  \
  if (name && strcmp(name, str) == 0) {                                       \
    *out = ORDER_ACT_##NAME;                                                  \
    return 0;                                                                 \
  }
  ORDER_ACTION_MAP(ORDER__XX)
#undef ORDER__XX
  pv_error_set(err, PV_EINVAL, "/action", "unknown order action \"%.32s\"", name ? name : "");
  pv_error_hint(err, "Use start, pause, resume, complete or cancel.");
  return PV_EINVAL;
}

#define STAFF_MGR (ACTOR_ROLE_ADMIN | ACTOR_ROLE_CAMPAIGN_MANAGER)

/* The order state machine. A client user may cancel its own order only
 * while nobody has started working on it. */
static const order_transition TRANSITIONS[] = {
    /* from                 action               to                  roles */
    {ORDER_SUBMITTED,   ORDER_ACT_START,    ORDER_IN_PROGRESS, STAFF_MGR},
    {ORDER_IN_PROGRESS, ORDER_ACT_PAUSE,    ORDER_PAUSED,      STAFF_MGR},
    {ORDER_PAUSED,      ORDER_ACT_RESUME,   ORDER_IN_PROGRESS, STAFF_MGR},
    {ORDER_IN_PROGRESS, ORDER_ACT_COMPLETE, ORDER_COMPLETED,   STAFF_MGR},
    {ORDER_PAUSED,      ORDER_ACT_COMPLETE, ORDER_COMPLETED,   STAFF_MGR},
    {ORDER_SUBMITTED,   ORDER_ACT_CANCEL,   ORDER_CANCELLED,   STAFF_MGR | ACTOR_ROLE_CLIENT_USER},
    {ORDER_IN_PROGRESS, ORDER_ACT_CANCEL,   ORDER_CANCELLED,   STAFF_MGR},
    {ORDER_PAUSED,      ORDER_ACT_CANCEL,   ORDER_CANCELLED,   STAFF_MGR},
};

const order_transition *order_transitions(size_t *count) {
  *count = sizeof TRANSITIONS / sizeof TRANSITIONS[0];
  return TRANSITIONS;
}

int order_decide_transition(order_status from, order_action action, uint32_t role,
                            order_status *to, pv_error *err) {
  for (size_t i = 0; i < sizeof TRANSITIONS / sizeof TRANSITIONS[0]; i++) {
    const order_transition *t = &TRANSITIONS[i];
    if (t->from != from || t->action != action) continue;
    if (!(t->roles & role) || !actor_role_name(role))
      return pv_error_set(err, PV_EFORBIDDEN, NULL, "a %s may not %s an order",
                          actor_role_name(role) ? actor_role_name(role) : "user",
                          order_action_name(action));
    *to = t->to;
    return 0;
  }
  return pv_error_set(err, PV_ECONFLICT, "/status", "cannot %s an order that is %s",
                      order_action_name(action), order_status_name(from));
}

/* ---- state ------------------------------------------------------------ */

void order_state_init(order_state *s) {
  memset(s, 0, sizeof *s);
  s->status = ORDER_NONE;
  s->domain_cap = ORDER_DEFAULT_DOMAIN_CAP;
}

bool order_has_campaign(const order_state *s, const char *campaign_id) {
  for (size_t i = 0; i < s->campaign_count; i++)
    if (strcmp(s->campaigns[i], campaign_id) == 0) return true;
  return false;
}

static order_status status_from_name(const char *name) {
#define ORDER__XX(NAME, str) if (strcmp(name, str) == 0) return ORDER_##NAME;
  ORDER_STATUS_MAP(ORDER__XX)
#undef ORDER__XX
  return ORDER_NONE;
}

void order_apply(order_state *s, const evt_envelope *e) {
  const void *p = e->payload;
  size_t n = e->payload_len;
  char buf[64];
  s->version = e->stream_version;
  if (mp_slice_eq(e->type, "order.created")) {
    s->status = ORDER_SUBMITTED;
    cmpl__str_or_empty(p, n, "order_id", s->order_id, sizeof s->order_id);
    cmpl__str_or_empty(p, n, "client_id", s->client_id, sizeof s->client_id);
    cmpl__str_or_empty(p, n, "name", s->name, sizeof s->name);
    cmpl__str_or_empty(p, n, "type", s->type, sizeof s->type);
    uint64_t cap;
    if (cmpl__get_u64(p, n, "domain_cap", &cap) == 0 && cap <= UINT32_MAX)
      s->domain_cap = (uint32_t)cap;
    mp_reader r;
    if (mp_map_find(p, n, "goals", &r) == 0)
      cmpl__get_u64(r.p, mp_remaining(&r), "lead_target", &s->lead_target);
  } else if (mp_slice_eq(e->type, "order.campaign_linked")) {
    if (cmpl__get_str(p, n, "campaign_id", buf, sizeof buf) == 0 &&
        !order_has_campaign(s, buf) && s->campaign_count < ORDER_MAX_CAMPAIGNS)
      memcpy(s->campaigns[s->campaign_count++], buf, sizeof buf);
  } else if (mp_slice_eq(e->type, "order.campaign_unlinked")) {
    if (cmpl__get_str(p, n, "campaign_id", buf, sizeof buf) == 0)
      for (size_t i = 0; i < s->campaign_count; i++)
        if (strcmp(s->campaigns[i], buf) == 0) {
          memcpy(s->campaigns[i], s->campaigns[--s->campaign_count], sizeof buf);
          break;
        }
  } else if (mp_slice_eq(e->type, "order.status_changed")) {
    if (cmpl__get_str(p, n, "to", buf, sizeof buf) == 0) s->status = status_from_name(buf);
  }
}

static void apply_fn(void *state, const evt_envelope *e) { order_apply(state, e); }

static void stream_of(const char *order_id, char out[EVT_MAX_STREAM + 1]) {
  snprintf(out, EVT_MAX_STREAM + 1, "order-%s", order_id);
}

int order_fold_w(writer_ctx *ctx, const char *order_id, order_state *out) {
  char stream[EVT_MAX_STREAM + 1];
  order_state_init(out);
  stream_of(order_id, stream);
  return cmpl__fold_w(ctx, stream, apply_fn, out);
}

/* The one answer for "missing" and "another client's". */
static int not_found(pv_error *err, const char *order_id) {
  return pv_error_set(err, PV_ENOTFOUND, "/order_id", "order \"%s\" not found", order_id);
}

static bool visible(const order_state *s, const actor_ref *by) {
  if (s->status == ORDER_NONE || !actor_valid(by)) return false;
  return by->role != ACTOR_ROLE_CLIENT_USER || strcmp(s->client_id, by->client_id) == 0;
}

/* Folds the order and applies the scoping rule. */
static int load_visible(writer_ctx *ctx, const actor_ref *by, const char *order_id,
                        order_state *s, pv_error *err) {
  int rc = order_fold_w(ctx, order_id, s);
  if (rc) return pv_error_set(err, rc, NULL, "could not read order \"%s\"", order_id);
  return visible(s, by) ? 0 : not_found(err, order_id);
}

int order_read(log_t *log, const char *tenant, const actor_ref *by, const char *order_id,
               order_state *out, pv_error *err) {
  if (!cmpl__id_ok(order_id)) return not_found(err, order_id ? order_id : "");
  log_reader *rd;
  int rc = log_read_begin(log, &rd);
  if (rc) return pv_error_set(err, rc, NULL, "could not read the log");
  char stream[EVT_MAX_STREAM + 1];
  stream_of(order_id, stream);
  order_state_init(out);
  rc = cmpl__fold_r(rd, tenant, stream, apply_fn, out);
  log_read_end(rd);
  if (rc) return pv_error_set(err, rc, NULL, "could not read order \"%s\"", order_id);
  if (!visible(out, by)) {
    order_state_init(out);
    return not_found(err, order_id);
  }
  return 0;
}

/* ---- create ----------------------------------------------------------- */

static bool date_ok(const char *d) {
  if (!d || strlen(d) != 10 || d[4] != '-' || d[7] != '-') return false;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9')) return false;
  int y = atoi(d), m = atoi(d + 5), day = atoi(d + 8);
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || day < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return day <= days[m - 1] + (m == 2 && leap);
}

static bool text_ok(const char *s, size_t max) { return s && *s && strlen(s) <= max; }
static bool opt_text_ok(const char *s, size_t max) { return !s || strlen(s) <= max; }

static int validate_create(order_create *c, pv_error *err) {
  if (!actor_valid(&c->by) ||
      !(c->by.role & (ACTOR_ROLE_CLIENT_USER | ACTOR_ROLE_ADMIN | ACTOR_ROLE_CAMPAIGN_MANAGER)))
    return pv_error_set(err, PV_EFORBIDDEN, NULL, "only a client user, an admin or a campaign "
                                                  "manager may create an order");
  if (c->by.role == ACTOR_ROLE_CLIENT_USER) {
    if (c->client_id && *c->client_id && strcmp(c->client_id, c->by.client_id) != 0)
      return pv_error_set(err, PV_EFORBIDDEN, "/client_id",
                          "a client user may order only for its own client");
    c->client_id = c->by.client_id;
  }
  if (!cmpl__id_ok(c->order_id)) return cmpl__bad_id(err, "/order_id", "order id");
  if (!cmpl__id_ok(c->client_id)) return cmpl__bad_id(err, "/client_id", "client id");
  if (!text_ok(c->name, 127))
    return pv_error_set(err, PV_EINVAL, "/name", "a name of 1 to 127 bytes is required");
  if (!c->type || (strcmp(c->type, "email") != 0 && strcmp(c->type, "telemarketing") != 0))
    return pv_error_set(err, PV_EINVAL, "/type", "type must be \"email\" or \"telemarketing\"");
  const order_audience *a = &c->audience;
  if (a->kind && strcmp(a->kind, "filters") == 0) {
    if (!text_ok(a->filters_json, ORDER_MAX_FILTERS_BYTES))
      return pv_error_set(err, PV_EINVAL, "/audience/filters",
                          "filters (JSON, up to %d bytes) are required", ORDER_MAX_FILTERS_BYTES);
  } else if (a->kind && strcmp(a->kind, "domain_file") == 0) {
    if (!text_ok(a->file, 255))
      return pv_error_set(err, PV_EINVAL, "/audience/file", "the uploaded file's reference is required");
  } else if (a->kind && strcmp(a->kind, "list") == 0) {
    if (!cmpl__id_ok(a->list_id)) return cmpl__bad_id(err, "/audience/list_id", "list id");
  } else {
    return pv_error_set(err, PV_EINVAL, "/audience/kind",
                        "audience kind must be \"filters\", \"domain_file\" or \"list\"");
  }
  if (c->asset_count > ORDER_MAX_ASSETS || (c->asset_count && !c->assets))
    return pv_error_set(err, PV_EINVAL, "/assets", "at most %d assets", ORDER_MAX_ASSETS);
  for (size_t i = 0; i < c->asset_count; i++) {
    const order_asset *as = &c->assets[i];
    if (!text_ok(as->name, 255) || !opt_text_ok(as->url, 2048) || !opt_text_ok(as->media_type, 127))
      return pv_error_set(err, PV_EINVAL, "/assets", "asset %zu needs a name (up to 255 bytes), "
                          "a url up to 2048 and a media type up to 127", i);
  }
  const order_goals *g = &c->goals;
  if (g->lead_target == 0)
    return pv_error_set(err, PV_EINVAL, "/goals/lead_target", "the lead target must be positive");
  if (!date_ok(g->start_date))
    return pv_error_set(err, PV_EINVAL, "/goals/start_date", "the start date must be YYYY-MM-DD");
  if (!date_ok(g->end_date))
    return pv_error_set(err, PV_EINVAL, "/goals/end_date", "the end date must be YYYY-MM-DD");
  if (strcmp(g->start_date, g->end_date) > 0)
    return pv_error_set(err, PV_EINVAL, "/goals/end_date", "the end date is before the start date");
  if (g->pacing && strcmp(g->pacing, "even") != 0 && strcmp(g->pacing, "front_loaded") != 0 &&
      strcmp(g->pacing, "asap") != 0)
    return pv_error_set(err, PV_EINVAL, "/goals/pacing",
                        "pacing must be \"even\", \"front_loaded\" or \"asap\"");
  if (c->domain_cap == 0) c->domain_cap = ORDER_DEFAULT_DOMAIN_CAP;
  return 0;
}

static int create_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  order_create *c = arg;
  char stream[EVT_MAX_STREAM + 1];
  stream_of(c->order_id, stream);
  uint64_t version;
  int rc = writer_stream_version(ctx, stream, &version);
  if (rc) return pv_error_set(err, rc, NULL, "could not read order \"%s\"", c->order_id);
  if (version) return pv_error_set(err, PV_EEXISTS, "/order_id", "order \"%s\" already exists",
                                   c->order_id);
  pv_buf payload = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 8 + (c->asset_count > 0));
  mp_pack_cstr(&pk, "order_id");
  mp_pack_cstr(&pk, c->order_id);
  mp_pack_cstr(&pk, "client_id");
  mp_pack_cstr(&pk, c->client_id);
  mp_pack_cstr(&pk, "name");
  mp_pack_cstr(&pk, c->name);
  mp_pack_cstr(&pk, "type");
  mp_pack_cstr(&pk, c->type);

  const order_audience *a = &c->audience;
  mp_pack_cstr(&pk, "audience");
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "kind");
  mp_pack_cstr(&pk, a->kind);
  if (strcmp(a->kind, "filters") == 0) {
    mp_pack_cstr(&pk, "filters");
    mp_pack_cstr(&pk, a->filters_json);
  } else if (strcmp(a->kind, "domain_file") == 0) {
    mp_pack_cstr(&pk, "file");
    mp_pack_cstr(&pk, a->file);
  } else {
    mp_pack_cstr(&pk, "list_id");
    mp_pack_cstr(&pk, a->list_id);
  }
  if (c->asset_count) {
    mp_pack_cstr(&pk, "assets");
    msgpack_pack_array(&pk, c->asset_count);
    for (size_t i = 0; i < c->asset_count; i++) {
      const order_asset *as = &c->assets[i];
      msgpack_pack_map(&pk, 1 + !!as->url + !!as->media_type + !!as->size_bytes);
      mp_pack_cstr(&pk, "name");
      mp_pack_cstr(&pk, as->name);
      if (as->url) {
        mp_pack_cstr(&pk, "url");
        mp_pack_cstr(&pk, as->url);
      }
      if (as->media_type) {
        mp_pack_cstr(&pk, "media_type");
        mp_pack_cstr(&pk, as->media_type);
      }
      if (as->size_bytes) {
        mp_pack_cstr(&pk, "size_bytes");
        msgpack_pack_uint64(&pk, as->size_bytes);
      }
    }
  }
  const order_goals *g = &c->goals;
  mp_pack_cstr(&pk, "goals");
  msgpack_pack_map(&pk, 4);
  mp_pack_cstr(&pk, "lead_target");
  msgpack_pack_uint64(&pk, g->lead_target);
  mp_pack_cstr(&pk, "start_date");
  mp_pack_cstr(&pk, g->start_date);
  mp_pack_cstr(&pk, "end_date");
  mp_pack_cstr(&pk, g->end_date);
  mp_pack_cstr(&pk, "pacing");
  mp_pack_cstr(&pk, g->pacing ? g->pacing : "even");
  mp_pack_cstr(&pk, "domain_cap");
  msgpack_pack_uint32(&pk, c->domain_cap);
  mp_pack_cstr(&pk, "role");
  mp_pack_cstr(&pk, actor_role_name(c->by.role));
  rc = writer_emit(ctx, stream, LOG_EXPECT_NO_STREAM, "order.created", 1, payload.data,
                   payload.len, err);
  pv_buf_release(&payload);
  return rc;
}

int order_create_bind(order_create *c, writer_cmd *cmd, pv_error *err) {
  int rc = validate_create(c, err);
  if (rc) return rc;
  cmd->decide = create_decide;
  cmd->arg = c;
  return 0;
}

/* ---- link / unlink ---------------------------------------------------- */

static int link_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  order_link *c = arg;
  order_state *s = pv_xmalloc(sizeof *s);
  int rc = load_visible(ctx, &c->by, c->order_id, s, err);
  if (rc) goto out;
  if (!(c->by.role & STAFF_MGR)) {
    rc = pv_error_set(err, PV_EFORBIDDEN, NULL, "only staff may link campaigns to an order");
    goto out;
  }
  if (s->status == ORDER_COMPLETED || s->status == ORDER_CANCELLED) {
    rc = pv_error_set(err, PV_ECONFLICT, "/status", "cannot change the campaigns of an order "
                      "that is %s", order_status_name(s->status));
    goto out;
  }
  bool linked = order_has_campaign(s, c->campaign_id);
  if (!c->unlink && linked) {
    rc = pv_error_set(err, PV_EEXISTS, "/campaign_id", "campaign \"%s\" is already linked",
                      c->campaign_id);
    goto out;
  }
  if (c->unlink && !linked) {
    rc = pv_error_set(err, PV_ENOTFOUND, "/campaign_id", "campaign \"%s\" is not linked to "
                      "order \"%s\"", c->campaign_id, c->order_id);
    goto out;
  }
  if (!c->unlink && s->campaign_count == ORDER_MAX_CAMPAIGNS) {
    rc = pv_error_set(err, PV_EINVAL, "/campaign_id", "an order links at most %d campaigns",
                      ORDER_MAX_CAMPAIGNS);
    goto out;
  }
  pv_buf payload = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "campaign_id");
  mp_pack_cstr(&pk, c->campaign_id);
  mp_pack_cstr(&pk, "role");
  mp_pack_cstr(&pk, actor_role_name(c->by.role));
  char stream[EVT_MAX_STREAM + 1];
  stream_of(c->order_id, stream);
  rc = writer_emit(ctx, stream, (int64_t)s->version,
                   c->unlink ? "order.campaign_unlinked" : "order.campaign_linked", 1,
                   payload.data, payload.len, err);
  pv_buf_release(&payload);
out:
  free(s);
  return rc;
}

int order_link_bind(order_link *c, writer_cmd *cmd, pv_error *err) {
  if (!cmpl__id_ok(c->order_id)) return not_found(err, c->order_id ? c->order_id : "");
  if (!cmpl__id_ok(c->campaign_id)) return cmpl__bad_id(err, "/campaign_id", "campaign id");
  cmd->decide = link_decide;
  cmd->arg = c;
  return 0;
}

/* ---- transitions ------------------------------------------------------ */

static int change_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  order_change *c = arg;
  order_state *s = pv_xmalloc(sizeof *s);
  int rc = load_visible(ctx, &c->by, c->order_id, s, err);
  if (rc) goto out;
  if ((rc = order_decide_transition(s->status, c->action, c->by.role, &c->to, err))) goto out;
  pv_buf payload = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  bool reason = c->reason && *c->reason;
  msgpack_pack_map(&pk, 4 + reason);
  mp_pack_cstr(&pk, "action");
  mp_pack_cstr(&pk, order_action_name(c->action));
  mp_pack_cstr(&pk, "from");
  mp_pack_cstr(&pk, order_status_name(s->status));
  mp_pack_cstr(&pk, "to");
  mp_pack_cstr(&pk, order_status_name(c->to));
  if (reason) {
    mp_pack_cstr(&pk, "reason");
    mp_pack_cstr(&pk, c->reason);
  }
  mp_pack_cstr(&pk, "role");
  mp_pack_cstr(&pk, actor_role_name(c->by.role));
  char stream[EVT_MAX_STREAM + 1];
  stream_of(c->order_id, stream);
  rc = writer_emit(ctx, stream, (int64_t)s->version, "order.status_changed", 1, payload.data,
                   payload.len, err);
  pv_buf_release(&payload);
out:
  free(s);
  return rc;
}

int order_change_bind(order_change *c, writer_cmd *cmd, pv_error *err) {
  if (!cmpl__id_ok(c->order_id)) return not_found(err, c->order_id ? c->order_id : "");
  if ((unsigned)c->action > ORDER_ACT_CANCEL)
    return pv_error_set(err, PV_EINVAL, "/action", "unknown order action");
  if (c->reason && strlen(c->reason) > 1024)
    return pv_error_set(err, PV_EINVAL, "/reason", "the reason is longer than 1024 bytes");
  c->to = ORDER_NONE;
  cmd->decide = change_decide;
  cmd->arg = c;
  return 0;
}
