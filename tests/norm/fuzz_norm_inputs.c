/*
 * Fuzz target norm_inputs: runs every normalizer of core/norm on the same
 * bytes. The first byte picks a default region for the phone parser, so
 * the fuzzer explores regions too. Any crash, sanitizer report or broken
 * output invariant (an accepted email that does not normalize to itself, a
 * valid phone number without "+", an invalid one without a reason) aborts.
 */
#include "core/norm/norm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A few regions with different international prefixes and trunk codes. */
static const char *const regions[] = {"US", "GB", "DE", "FR", "IN", "BR",
                                      "JP", "AU", "zz", "", "1x", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *region = regions[size ? data[0] % (sizeof regions / sizeof *regions) : 0];
  const char *in = (const char *)data;
  pv_error err = PV_ERROR_INIT;

  norm_email email;
  if (norm_email_parse(in, size, &email, &err) == 0) {
    if (!strchr(email.address, '@') || !email.registrable[0]) abort();
    /* normalizing a normalized address gives itself */
    norm_email again;
    if (norm_email_parse(email.address, strlen(email.address), &again, &err) != 0 ||
        strcmp(again.address, email.address) != 0)
      abort();
  }

  norm_domain domain;
  if (norm_domain_parse(in, size, &domain, &err) == 0) {
    if (!domain.domain[0] || strlen(domain.registrable) > strlen(domain.domain)) abort();
  }

  pv_buf display = PV_BUF_INIT, key = PV_BUF_INIT;
  if (norm_name_parse(in, size, &display, &key, &err) == 0) {
    if (strlen(display.data) != display.len || strlen(key.data) != key.len) abort();
  }
  pv_buf_release(&display);
  pv_buf_release(&key);

  norm_phone phone;
  if (norm_phone_parse(in, size, region, &phone, &err) == 0) {
    if (phone.valid ? phone.e164[0] != '+' : phone.invalid_reason[0] == '\0') abort();
  }

  norm_title title;
  norm_title_classify(in, size, &title, &err);
  return 0;
}
