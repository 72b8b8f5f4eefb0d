/*
 * consent — a contact's consent to be contacted, per channel: when it was
 * given or withdrawn, where (source), the exact wording shown and the IP
 * address it came from. Events consent.granted / consent.withdrawn on
 * "consent-<contact id>"; the state is their fold (the latest per channel).
 *
 * Consent and suppression are separate facts: withdrawing consent does not
 * suppress the address (a withdrawal by unsubscribe link goes through
 * suppressions as well); the projection shows both.
 *
 * Thread: pure functions and binds from any thread; decides on the
 * writer; consent_read from any thread.
 */
#ifndef PV_CONSENT_H
#define PV_CONSENT_H

#include "core/actor.h"
#include "core/common/pv_error.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/writer.h"

#include <stdbool.h>
#include <stdint.h>

#define CONSENT_CHANNEL_MAP(XX)                                               \
  XX(EMAIL, "email")                                                          \
  XX(PHONE, "phone")                                                          \
  XX(SMS, "sms")

typedef enum consent_channel {
#define CONSENT__XX(NAME, name) CONSENT_##NAME,
  CONSENT_CHANNEL_MAP(CONSENT__XX)
#undef CONSENT__XX
  CONSENT_CHANNEL_COUNT
} consent_channel;

/* Bytes with the NUL. The wording is the text the contact saw: a consent
 * sentence or a short paragraph (4 KiB is arbitrary, well above that). */
#define CONSENT_SOURCE_MAX 128
#define CONSENT_WORDING_MAX 4096
#define CONSENT_IP_MAX 46 /* INET6_ADDRSTRLEN */

/* Returns: 0 (*out set) or PV_EINVAL. */
int consent_channel_parse(const char *name, consent_channel *out, pv_error *err);
const char *consent_channel_name(consent_channel c);

typedef struct consent_entry {
  bool known;     /* any event for this channel */
  bool granted;   /* the latest one was a grant */
  char source[CONSENT_SOURCE_MAX];
  char wording[CONSENT_WORDING_MAX];
  char ip[CONSENT_IP_MAX];
  int64_t at_us;
  uint64_t position;
} consent_entry;

typedef struct consent_state {
  consent_entry channel[CONSENT_CHANNEL_COUNT];
} consent_state;

void consent_state_init(consent_state *s);
/* Pure: folds one event of a contact's consent stream. */
void consent_apply(consent_state *s, const evt_envelope *e);

typedef struct consent_change {
  actor_ref by;          /* any staff role */
  const char *contact_id;
  const char *channel;   /* "email" | "phone" | "sms" */
  bool granted;          /* grant or withdraw */
  const char *source;    /* required */
  const char *wording;   /* required to grant, optional to withdraw */
  const char *ip;        /* optional; IPv4 or IPv6 text */
  int64_t at_us;         /* when the contact did it; 0 = now (set by bind) */
} consent_change;

/* Returns: 0, PV_EINVAL (err names the field), PV_EFORBIDDEN (not staff). */
int consent_change_bind(consent_change *c, writer_cmd *cmd, pv_error *err);

/* The contact's consent in a read transaction (all channels unknown when
 * nothing was recorded). Returns: 0, PV_EINVAL (bad id), PV_EIO, PV_ECORRUPT. */
int consent_read(log_t *log, const char *tenant, const char *contact_id, consent_state *out,
                 pv_error *err);

#endif
