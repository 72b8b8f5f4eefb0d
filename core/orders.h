/*
 * orders — campaign orders, the bridge between a client and the campaigns
 * staff run for it. A client user (or staff on a client's behalf) submits
 * an order: an audience specification, a type, assets and goals. Staff link
 * existing campaigns to it and unlink them; nothing is created
 * automatically. Its state moves by one transition table.
 *
 * Stream "order-<id>"; events order.created, order.campaign_linked,
 * order.campaign_unlinked, order.status_changed (schema/events.def).
 *
 * Client scoping: every order carries its client id. A command from a
 * client user on an order of another client is answered PV_ENOTFOUND with
 * exactly the error of an order that does not exist (same code, field and
 * message), never PV_EFORBIDDEN, so ids of other clients leak nothing.
 * Order ids are made by the server (a ULID); never take one from a client's
 * request, or a create could probe which ids exist.
 *
 * Commands: fill the struct, _bind sets writer_cmd.decide/.arg (tenant,
 * actor, idempotency key and done stay the caller's), submit; the struct
 * lives until done.
 *
 * Thread: pure functions and binds from any thread; decides on the writer;
 * order_read from any thread (its own read transaction).
 */
#ifndef PV_ORDERS_H
#define PV_ORDERS_H

#include "core/actor.h"
#include "core/common/pv_error.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Approved leads per email domain per order before a lead is flagged
 * (issue 7: "a per-domain cap per order (default 4)"). */
#define ORDER_DEFAULT_DOMAIN_CAP 4
/* Campaigns one order may link. Arbitrary; an order is a few campaigns. */
#define ORDER_MAX_CAMPAIGNS 64
/* Assets one order may carry. Arbitrary. */
#define ORDER_MAX_ASSETS 32
/* Bytes of the audience filters (JSON text). Arbitrary: a filter tree of a
 * few hundred conditions. */
#define ORDER_MAX_FILTERS_BYTES (64 * 1024)

/* XX(NAME, "name") */
#define ORDER_STATUS_MAP(XX)                                                  \
  XX(NONE, "none")                                                            \
  XX(SUBMITTED, "submitted")                                                  \
  XX(IN_PROGRESS, "in_progress")                                              \
  XX(PAUSED, "paused")                                                        \
  XX(COMPLETED, "completed")                                                  \
  XX(CANCELLED, "cancelled")

typedef enum order_status {
#define ORDER__XX(NAME, name) ORDER_##NAME,
  ORDER_STATUS_MAP(ORDER__XX)
#undef ORDER__XX
} order_status;

#define ORDER_ACTION_MAP(XX)                                                  \
  XX(START, "start")                                                          \
  XX(PAUSE, "pause")                                                          \
  XX(RESUME, "resume")                                                        \
  XX(COMPLETE, "complete")                                                    \
  XX(CANCEL, "cancel")

typedef enum order_action {
#define ORDER__XX(NAME, name) ORDER_ACT_##NAME,
  ORDER_ACTION_MAP(ORDER__XX)
#undef ORDER__XX
} order_action;

const char *order_status_name(order_status s);
const char *order_action_name(order_action a);
/* Parses "start", ...; Returns: 0 or PV_EINVAL. */
int order_action_parse(const char *name, order_action *out, pv_error *err);

/* One row of the transition table: from --action--> to, by these roles. */
typedef struct order_transition {
  order_status from;
  order_action action;
  order_status to;
  uint32_t roles; /* ACTOR_ROLE_* mask */
} order_transition;

/* The table (static). */
const order_transition *order_transitions(size_t *count);

/*
 * Pure: the state an action leads to.
 * Returns: 0 (*to set), PV_ECONFLICT (no row from this state; field
 * "/status"), PV_EFORBIDDEN (a row, but not for this role).
 */
int order_decide_transition(order_status from, order_action action, uint32_t role,
                            order_status *to, pv_error *err);

typedef struct order_state {
  order_status status;          /* ORDER_NONE: no such order */
  uint64_t version;             /* of its stream */
  char order_id[64];
  char client_id[64];
  char name[128];
  char type[16];                /* "email" | "telemarketing" */
  uint64_t lead_target;
  uint32_t domain_cap;
  size_t campaign_count;
  char campaigns[ORDER_MAX_CAMPAIGNS][64];
} order_state;

void order_state_init(order_state *s);
/* Pure: folds one event of the order's stream into s. */
void order_apply(order_state *s, const evt_envelope *e);
bool order_has_campaign(const order_state *s, const char *campaign_id);

/* ---- commands --------------------------------------------------------- */

typedef struct order_audience {
  const char *kind;         /* "filters" | "domain_file" | "list" */
  const char *filters_json; /* kind filters: the filter tree as JSON text
                             * (the HTTP layer checks it parses) */
  const char *file;         /* kind domain_file: the uploaded file's reference */
  const char *list_id;      /* kind list */
} order_audience;

typedef struct order_asset {
  const char *name;       /* required */
  const char *url;        /* a link, or the stored file's reference */
  const char *media_type; /* optional */
  uint64_t size_bytes;    /* optional (0) */
} order_asset;

typedef struct order_goals {
  uint64_t lead_target;   /* > 0 */
  const char *start_date; /* YYYY-MM-DD */
  const char *end_date;   /* YYYY-MM-DD, not before start_date */
  const char *pacing;     /* "even" | "front_loaded" | "asap"; NULL = "even" */
} order_goals;

typedef struct order_create {
  actor_ref by;           /* client_user (for its own client), admin, campaign_manager */
  const char *order_id;   /* made by the server */
  const char *client_id;  /* staff: required; client user: NULL or its own */
  const char *name;       /* 1..127 bytes */
  const char *type;       /* "email" | "telemarketing" */
  order_audience audience;
  const order_asset *assets;
  size_t asset_count;
  order_goals goals;
  uint32_t domain_cap;    /* 0 = ORDER_DEFAULT_DOMAIN_CAP */
} order_create;

/*
 * Returns: 0, PV_EINVAL (err names the field), PV_EFORBIDDEN (a role that
 * may not order, or a client user naming another client).
 * Decide refuses: PV_EEXISTS (the id is taken).
 */
int order_create_bind(order_create *c, writer_cmd *cmd, pv_error *err);

typedef struct order_link {
  actor_ref by;            /* admin, campaign_manager */
  const char *order_id;
  const char *campaign_id; /* an existing campaign's id */
  bool unlink;
} order_link;

/*
 * Returns: 0, PV_EINVAL. Decide refuses: PV_ENOTFOUND (no such order, or
 * another client's), PV_EFORBIDDEN (a role other than admin or
 * campaign_manager), PV_EEXISTS (already linked), PV_ENOTFOUND with field
 * "/campaign_id" (unlinking a campaign that is not linked), PV_ECONFLICT
 * (the order is completed or cancelled), PV_EINVAL (ORDER_MAX_CAMPAIGNS).
 */
int order_link_bind(order_link *c, writer_cmd *cmd, pv_error *err);

typedef struct order_change {
  actor_ref by;
  const char *order_id;
  order_action action;
  const char *reason;   /* optional */
  /* out */
  order_status to;
} order_change;

/* Returns: 0, PV_EINVAL. Decide refuses: PV_ENOTFOUND (missing or another
 * client's), then order_decide_transition's codes. */
int order_change_bind(order_change *c, writer_cmd *cmd, pv_error *err);

/* ---- reading ---------------------------------------------------------- */

/*
 * Folds an order as by may see it, in its own read transaction.
 * Returns: 0, PV_ENOTFOUND (missing, or another client's: the same error),
 * PV_EINVAL (a bad id), PV_EIO, PV_ECORRUPT.
 */
int order_read(log_t *log, const char *tenant, const actor_ref *by, const char *order_id,
               order_state *out, pv_error *err);

/* The fold inside a decide (no scoping). Returns: 0 (status NONE when
 * missing) or a log error. Thread: the writer, in a decide. */
int order_fold_w(writer_ctx *ctx, const char *order_id, order_state *out);

#endif
