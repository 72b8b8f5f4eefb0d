/*
 * Fuzz target domain_inputs: the parts of the domain aggregates that read
 * bytes they did not make. The first byte picks what the rest is:
 *   0  an event payload folded by contact_apply (type picked by byte 1)
 *   1  an event payload folded by acct_apply and acct_defs_apply
 *   2  contact input fields separated by '\n' (email, first name, title,
 *      phone, country, city, external id) through contact_normalize
 *   3  a custom field value checked against a fixed definition set, and
 *      the industry classifier on the same text
 * Any crash, sanitizer report or leak fails; a malformed payload must come
 * back as an error, never a half-applied state that crashes on release.
 */
#include "core/accounts.h"
#include "core/contacts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const contact_types[] = {
    "contact.created", "contact.updated",  "contact.merged",  "contact.merge_undone",
    "contact.merged_into", "contact.unmerged", "contact.deleted", "contact.restored"};

static void fold_contact(const uint8_t *p, size_t n, const char *type) {
  contact_state st;
  contact_state_init(&st);
  /* twice: the second fold starts from whatever the first left */
  contact_apply(&st, type, strlen(type), p, n);
  contact_apply(&st, type, strlen(type), p, n);
  pv_buf out = PV_BUF_INIT;
  contact_state_format(&st, &out);
  pv_buf_release(&out);
  contact_state_release(&st);
}

static void fold_account(const uint8_t *p, size_t n, const char *type) {
  acct_state st;
  acct_state_init(&st);
  acct_apply(&st, type, strlen(type), p, n);
  pv_buf out = PV_BUF_INIT;
  acct_state_format(&st, &out);
  pv_buf_release(&out);
  acct_state_release(&st);
  acct_defs defs = {0};
  acct_defs_apply(&defs, "custom_field.defined", 20, p, n);
  acct_defs_release(&defs);
}

static void normalize_fields(const uint8_t *p, size_t n) {
  char *text = malloc(n + 1);
  memcpy(text, p, n);
  text[n] = '\0';
  const char *f[7] = {NULL};
  char *s = text;
  for (int i = 0; i < 7 && s; i++) {
    f[i] = s;
    s = strchr(s, '\n');
    if (s) *s++ = '\0';
  }
  contact_ext_id ext = {"crm", f[6]};
  contact_input in = {.email = f[0], .first_name = f[1], .title = f[2], .phone = f[3],
                      .country = f[4], .city = f[5], .ext_ids = &ext,
                      .ext_id_count = f[6] ? 1 : 0, .source = "import", .observed_at_us = 1};
  contact_obs obs;
  pv_error err = PV_ERROR_INIT;
  if (contact_normalize(&in, &obs, &err) == 0) {
    /* what is accepted is usable as an identifier */
    if (obs.has_email && !strchr(obs.email.address, '@')) abort();
    if (obs.phone_e164[0] && obs.phone_e164[0] != '+') abort();
  } else if (!err.field[0]) {
    abort(); /* every refusal names the input field */
  }
  contact_obs_release(&obs);
  free(text);
}

static void check_value(const uint8_t *p, size_t n) {
  char *text = malloc(n + 1);
  memcpy(text, p, n);
  text[n] = '\0';
  static const char *opts[] = {"gold", "silver"};
  acct_cf_def defs_arr[] = {
      {"d", ACCT_CF_DATE, NULL, 0},
      {"t", ACCT_CF_TEXT, NULL, 0},
      {"s", ACCT_CF_SELECT, (char **)opts, 2},
  };
  acct_defs defs = {defs_arr, 3};
  for (size_t i = 0; i < 3; i++) {
    acct_custom_value v = {defs_arr[i].name, SURV_STR, text, 0, false};
    acct_custom_check(&defs, &v, NULL);
  }
  char industry[64];
  acct_enrich_in q = {text, text, text, text, text};
  const acct_enricher *e = acct_enricher_rules();
  e->classify(e, &q, industry, sizeof industry, NULL);
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  switch (data[0] % 4) {
  case 0:
    fold_contact(data + 2, size - 2,
                 contact_types[data[1] % (sizeof contact_types / sizeof *contact_types)]);
    break;
  case 1:
    fold_account(data + 2, size - 2, data[1] % 2 ? "account.created" : "account.updated");
    break;
  case 2: normalize_fields(data + 1, size - 1); break;
  case 3: check_value(data + 1, size - 1); break;
  }
  return 0;
}
