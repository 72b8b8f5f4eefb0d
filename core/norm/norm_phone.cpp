/*
 * norm_phone — phone numbers by Google's libphonenumber (Debian's
 * libphonenumber-dev), the only C++ in the tree: it exposes norm_phone_parse
 * and norm_phone_type_name with C linkage (norm.h) and lets no exception
 * cross that line; std::bad_alloc becomes PV_ENOMEM, anything else
 * PV_EINTERNAL.
 *
 * Thread: PhoneNumberUtil::GetInstance() is a thread-safe singleton and its
 * const methods may be called concurrently (libphonenumber's documentation);
 * nothing else here is shared.
 */
#include "core/norm/norm.h"
#include "core/norm/norm_internal.h"

#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

extern "C" const char *norm_phone_type_name(norm_phone_type type) {
  switch (type) {
#define NORM__XX(name, str) case NORM_PHONE_##name: return str;
    NORM_PHONE_TYPE_MAP(NORM__XX)
#undef NORM__XX
  }
  return "unknown";
}

static norm_phone_type type_from_lib(PhoneNumberUtil::PhoneNumberType t) {
  switch (t) {
#define NORM__XX(name, str) case PhoneNumberUtil::name: return NORM_PHONE_##name;
    NORM_PHONE_TYPE_MAP(NORM__XX)
#undef NORM__XX
  }
  return NORM_PHONE_UNKNOWN;
}

static const char *parse_error_reason(PhoneNumberUtil::ErrorType e, bool has_region) {
  switch (e) {
  case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
    return has_region ? "invalid country code"
                      : "no country code, and no default country to assume";
  case PhoneNumberUtil::NOT_A_NUMBER: return "not a phone number";
  case PhoneNumberUtil::TOO_SHORT_AFTER_IDD: return "too short after the international prefix";
  case PhoneNumberUtil::TOO_SHORT_NSN: return "too short";
  case PhoneNumberUtil::TOO_LONG_NSN: return "too long";
  case PhoneNumberUtil::NO_PARSING_ERROR: break;
  }
  return "not a phone number";
}

static const char *invalid_reason(const PhoneNumberUtil &util, const PhoneNumber &number) {
  switch (util.IsPossibleNumberWithReason(number)) {
  case PhoneNumberUtil::IS_POSSIBLE_LOCAL_ONLY: return "too short: possible only as a local number";
  case PhoneNumberUtil::INVALID_COUNTRY_CODE: return "invalid country code";
  case PhoneNumberUtil::TOO_SHORT: return "too short for its country";
  case PhoneNumberUtil::INVALID_LENGTH: return "wrong length for its country";
  case PhoneNumberUtil::TOO_LONG: return "too long for its country";
  case PhoneNumberUtil::IS_POSSIBLE: break;
  }
  return "not a number in use in its country";
}

/* Parses text for region; fills out and returns true if valid, else sets
 * out->invalid_reason and returns false. */
static bool parse_into(const PhoneNumberUtil &util, const std::string &text,
                       const std::string &region, norm_phone *out) {
  PhoneNumber number;
  PhoneNumberUtil::ErrorType e = util.Parse(text, region, &number);
  if (e != PhoneNumberUtil::NO_PARSING_ERROR) {
    snprintf(out->invalid_reason, sizeof out->invalid_reason, "%s",
             parse_error_reason(e, region != "ZZ"));
    return false;
  }
  /* Valid exactly when its type is known: IsValidNumber is
   * GetNumberTypeHelper(...) != UNKNOWN under the same metadata, and
   * calling both ran the type patterns twice (bench norm: 26 -> 20 us). */
  PhoneNumberUtil::PhoneNumberType type = util.GetNumberType(number);
  if (type == PhoneNumberUtil::UNKNOWN) {
    snprintf(out->invalid_reason, sizeof out->invalid_reason, "%s",
             invalid_reason(util, number));
    return false;
  }
  std::string e164, region_code;
  util.Format(number, PhoneNumberUtil::E164, &e164);
  util.GetRegionCodeForNumber(number, &region_code);
  const std::string &ext = number.extension();
  if (e164.size() >= sizeof out->e164 || region_code.size() >= sizeof out->region ||
      ext.size() >= sizeof out->extension) {
    snprintf(out->invalid_reason, sizeof out->invalid_reason, "%s", "too long");
    return false;
  }
  out->valid = true;
  memcpy(out->e164, e164.c_str(), e164.size() + 1);
  memcpy(out->region, region_code.c_str(), region_code.size() + 1);
  memcpy(out->extension, ext.c_str(), ext.size() + 1);
  out->type = type_from_lib(type);
  out->invalid_reason[0] = '\0';
  return true;
}

static int phone_parse(const char *in, size_t len, const char *default_region,
                       norm_phone *out, pv_error *err) {
  size_t start, tlen;
  int why = norm__trim(in, len, &start, &tlen);
  if (why == -1) return pv_error_set(err, PV_EINVAL, NULL, "invalid phone number: not valid UTF-8");
  if (why == -2)
    return pv_error_set(err, PV_EINVAL, NULL,
                        "invalid phone number: contains a control character");
  if (tlen == 0) return pv_error_set(err, PV_EINVAL, NULL, "invalid phone number: empty");
  if (tlen > NORM_PHONE_RAW_MAX)
    return pv_error_set(err, PV_EINVAL, NULL,
                        "invalid phone number \"%.*s\": longer than %d characters",
                        norm__quote_len(in + start, tlen, NORM__QUOTE_MAX), in + start,
                        NORM_PHONE_RAW_MAX);

  const PhoneNumberUtil &util = *PhoneNumberUtil::GetInstance();
  /* "ZZ" is libphonenumber's unknown region: only "+..." numbers parse */
  std::string region = "ZZ";
  if (default_region && default_region[0]) {
    const char *r = default_region;
    bool alpha2 = strlen(r) == 2;
    for (int i = 0; alpha2 && i < 2; i++)
      alpha2 = (r[i] >= 'a' && r[i] <= 'z') || (r[i] >= 'A' && r[i] <= 'Z');
    if (!alpha2)
      return pv_error_set(err, PV_EINVAL, NULL,
                          "invalid default country \"%.8s\": not an ISO 3166 two-letter code",
                          r);
    std::string upper{static_cast<char>(r[0] & ~0x20), static_cast<char>(r[1] & ~0x20)};
    if (util.GetCountryCodeForRegion(upper) != 0) region = upper;
  }

  memcpy(out->raw, in + start, tlen);
  out->raw[tlen] = '\0';
  std::string text(out->raw, tlen);
  if (parse_into(util, text, region, out)) return 0;
  if (tlen > 2 && text[0] == '0' && text[1] == '0') {
    /* keep the first reason: it speaks about the input as written */
    char first_reason[sizeof out->invalid_reason];
    memcpy(first_reason, out->invalid_reason, sizeof first_reason);
    if (parse_into(util, "+" + text.substr(2), region, out)) return 0;
    memcpy(out->invalid_reason, first_reason, sizeof first_reason);
  }
  return 0;
}

extern "C" int norm_phone_parse(const char *in, size_t len, const char *default_region,
                                norm_phone *out, pv_error *err) {
  memset(out, 0, sizeof *out);
  out->type = NORM_PHONE_UNKNOWN;
  try {
    return phone_parse(in, len, default_region, out, err);
  } catch (const std::bad_alloc &) {
    return pv_error_set(err, PV_ENOMEM, NULL, NULL);
  } catch (...) {
    return pv_error_set(err, PV_EINTERNAL, NULL, "could not parse the phone number");
  }
}
