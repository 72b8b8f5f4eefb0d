/*
 * norm — normalization of the values a CRM dedups and matches on: email
 * addresses, company domains, person names, phone numbers and job titles.
 *
 * Every function here is pure: the same input gives the same output on
 * every machine that has the same Debian library versions, nothing is
 * stored, and nothing is logged. Each fills an output struct or pv_buf the
 * caller owns and returns 0 or a PV_E* code with `err` naming the reason in
 * its message ("invalid email address \"x@\": the domain is empty"). The
 * `field` of `err` is left empty: the caller knows which field it read and
 * sets it. Inputs are (pointer, length) so CSV cells need no copy; they may
 * contain NUL bytes, which are rejected like any control character.
 *
 * The heavy lifting is done by Debian libraries, not by tables of our own:
 * libidn2 (IDNA), libpsl with Debian's `publicsuffix` data (registrable
 * domains), utf8proc (Unicode normalization) and Google's libphonenumber
 * (phone numbers, the one C++ file norm_phone.cpp).
 *
 * Thread: every function may be called from any thread at once. The only
 * shared state is the Public Suffix List, loaded once (pthread_once) on the
 * first call that needs it and read-only afterwards, and libphonenumber's
 * own thread-safe singleton.
 */
#ifndef NORM_H
#define NORM_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stdbool.h>
#include <stddef.h>

#include "core/common/pv_buf.h"
#include "core/common/pv_error.h"

/* RFC 1035 §2.3.4: 255 octets on the wire, 253 characters as text. */
#define NORM_DOMAIN_MAX 253
/* RFC 5321 §4.5.3.1: a path is at most 256 octets including "<" and ">". */
#define NORM_EMAIL_MAX 254
/* RFC 5321 §4.5.3.1.1. */
#define NORM_EMAIL_LOCAL_MAX 64
/* Bytes of a name or job title: 255 characters (Salesforce's limit for an
 * account name, the longest name field we know in CRMs) of up to 4 bytes. */
#define NORM_TEXT_MAX 1020

/* ---------------------------------------------------------------- domains */

typedef struct norm_domain {
  /* ASCII (A-label) host, lowercase, without scheme, userinfo, port, path,
   * trailing dot or a leading "www." / "mail." / "m." */
  char domain[NORM_DOMAIN_MAX + 1];
  /* Registrable domain (public suffix plus one label) by the Public Suffix
   * List, private section included: "shop.example.co.uk" -> "example.co.uk",
   * "acme.github.io" -> "acme.github.io". */
  char registrable[NORM_DOMAIN_MAX + 1];
} norm_domain;

/*
 * Normalizes what a user types as a company's website or domain:
 * "  HTTPS://user@www.Bücher.example:8443/path?q#x " -> "xn--bcher-kva.example".
 * The prefixes "www.", "mail." and "m." are removed (repeatedly) only while
 * what remains is still more than a public suffix, so "www.com" stays.
 * Returns: 0 or PV_EINVAL: invalid UTF-8, a control character, empty, an
 *   IP address, a single label ("localhost"), a label that is not a valid
 *   hostname label or IDN, too long, or only a public suffix ("co.uk");
 *   PV_EINTERNAL if no Public Suffix List could be loaded.
 * Ownership: fills *out, which the caller owns; on error its contents are
 * unspecified.
 */
int norm_domain_parse(const char *in, size_t len, norm_domain *out, pv_error *err);

/* ----------------------------------------------------------------- emails */

typedef struct norm_email {
  /* The normalized address, also the dedup key: local part lowercased,
   * domain lowercase ASCII (IDN converted). Distinct mailboxes are never
   * merged: "+tags" and Gmail's dots are kept, because in B2B data
   * "jane+billing@" and "jane@" are often different people's routes, and
   * dot-folding is right only for gmail.com, not for Google Workspace
   * domains, which cannot be told apart offline. */
  char address[NORM_EMAIL_MAX + 1];
  char local[NORM_EMAIL_LOCAL_MAX + 1];
  /* The address's domain as written (ASCII, lowercase, no prefix removed). */
  char domain[NORM_DOMAIN_MAX + 1];
  /* Its registrable domain, to link the contact to an account. */
  char registrable[NORM_DOMAIN_MAX + 1];
} norm_email;

/*
 * Normalizes an email address: trims (Unicode spaces, NBSP and zero-width
 * characters included), lowercases, converts an IDN domain to ASCII and
 * checks the syntax. The local part is the dot-atom of RFC 5322 §3.4.1 in
 * ASCII: letters, digits and !#$%&'*+-/=?^_`{|}~ separated by single dots.
 * Quoted local parts, comments, IP-literal domains and non-ASCII local parts
 * (RFC 6531) are refused: mail systems and CRMs that receive exports mostly
 * reject them, and in imported data they are nearly always typos.
 * Returns: 0 or PV_EINVAL with the reason (invalid UTF-8, a control
 *   character, no "@", empty or invalid local part, invalid domain as for
 *   norm_domain_parse, longer than NORM_EMAIL_MAX); PV_EINTERNAL if no
 *   Public Suffix List could be loaded.
 * Ownership: fills *out, which the caller owns; on error its contents are
 * unspecified.
 */
int norm_email_parse(const char *in, size_t len, norm_email *out, pv_error *err);

/* ------------------------------------------------------------------ names */

/*
 * Normalizes a person's or company's name into two forms:
 *   display: as entered, in Unicode NFC, trimmed, each run of whitespace
 *            (Unicode spaces included) collapsed to one space.
 *   key:     for matching: NFKC with case folding, accents removed,
 *            punctuation variants lumped (’ -> ', – -> -), whitespace
 *            collapsed. "José  ÁLVAREZ", "jose alvarez" and the NFD
 *            spelling of "José Álvarez" share the key "jose alvarez".
 * Accents are the combining marks of the diacritical blocks (U+0300-036F,
 * U+1AB0-1AFF, U+1DC0-1DFF, U+20D0-20FF, U+FE20-FE2F) and the stroke
 * letters that Unicode does not decompose (ø ł đ ħ ŧ ı); the vowel signs of
 * Indic and other scripts are marks too but are kept, since dropping them
 * changes the name. An empty or all-space input gives two empty strings.
 * Returns: 0 or PV_EINVAL (invalid UTF-8, a control character other than
 *   whitespace, longer than NORM_TEXT_MAX bytes).
 * Ownership: `display` and `key` are reset, then filled; the caller owns
 * them. On error their contents are unspecified.
 */
int norm_name_parse(const char *in, size_t len, pv_buf *display, pv_buf *key,
                    pv_error *err);

/* ----------------------------------------------------------------- phones */

/* XX(NAME, "name"): libphonenumber's PhoneNumberType, in its order. */
#define NORM_PHONE_TYPE_MAP(XX)                                               \
  XX(FIXED_LINE, "fixed_line")                                                \
  XX(MOBILE, "mobile")                                                        \
  XX(FIXED_LINE_OR_MOBILE, "fixed_line_or_mobile")                            \
  XX(TOLL_FREE, "toll_free")                                                  \
  XX(PREMIUM_RATE, "premium_rate")                                            \
  XX(SHARED_COST, "shared_cost")                                              \
  XX(VOIP, "voip")                                                            \
  XX(PERSONAL_NUMBER, "personal_number")                                      \
  XX(PAGER, "pager")                                                          \
  XX(UAN, "uan")                                                              \
  XX(VOICEMAIL, "voicemail")                                                  \
  XX(UNKNOWN, "unknown")

typedef enum norm_phone_type {
#define NORM__XX(name, str) NORM_PHONE_##name,
  NORM_PHONE_TYPE_MAP(NORM__XX)
#undef NORM__XX
} norm_phone_type;

/* "mobile", ...; "unknown" for a value outside the enum. */
const char *norm_phone_type_name(norm_phone_type type);

/* libphonenumber's kMaxInputStringLength: it refuses longer input. */
#define NORM_PHONE_RAW_MAX 250

typedef struct norm_phone {
  /* true when libphonenumber holds it a valid number of its region. */
  bool valid;
  /* "+14155550123"; empty when !valid. At most 15 digits (E.164 §6). */
  char e164[20];
  /* Extension digits ("123" from "... ext. 123"), or empty. */
  char extension[24];
  /* ISO 3166 region of the number ("US"), "001" for non-geographic
   * numbers (+800 ...), empty when !valid. */
  char region[4];
  norm_phone_type type; /* NORM_PHONE_UNKNOWN when !valid */
  /* The input as entered, only trimmed: kept in every case. */
  char raw[NORM_PHONE_RAW_MAX + 1];
  /* Why it is invalid ("too short", "no country code ..."); empty if valid. */
  char invalid_reason[96];
} norm_phone;

/*
 * Parses a phone number with libphonenumber. `default_region` is the ISO
 * 3166 alpha-2 code of the contact's or account's country ("US", any case),
 * used when the number has no "+" or international prefix; NULL or "" for
 * none. A region libphonenumber does not know acts as none. A number that
 * begins "00" and fails to parse for the default region is retried as
 * "+...", since 00 is the international prefix of most of the world.
 * An invalid number is not an error: it comes back with valid == false, its
 * raw text and invalid_reason, so the caller keeps it and flags it.
 * Returns: 0 (valid or not) or PV_EINVAL (invalid UTF-8, a control
 *   character, empty, longer than NORM_PHONE_RAW_MAX bytes, or a
 *   default_region that is not two ASCII letters), PV_ENOMEM.
 * Ownership: fills *out, which the caller owns; on error its contents are
 * unspecified.
 */
int norm_phone_parse(const char *in, size_t len, const char *default_region,
                     norm_phone *out, pv_error *err);

/* ----------------------------------------------------------------- titles */

/* XX(NAME, "name"), from most to least senior; UNKNOWN when no rule says. */
#define NORM_SENIORITY_MAP(XX)                                                \
  XX(UNKNOWN, "unknown")                                                      \
  XX(OWNER, "owner")                                                          \
  XX(C_LEVEL, "c_level")                                                      \
  XX(PARTNER, "partner")                                                      \
  XX(VP, "vp")                                                                \
  XX(DIRECTOR, "director")                                                    \
  XX(MANAGER, "manager")                                                      \
  XX(SENIOR, "senior")                                                        \
  XX(ENTRY, "entry")                                                          \
  XX(INTERN, "intern")

typedef enum norm_seniority {
#define NORM__XX(name, str) NORM_SENIORITY_##name,
  NORM_SENIORITY_MAP(NORM__XX)
#undef NORM__XX
} norm_seniority;

#define NORM_DEPARTMENT_MAP(XX)                                               \
  XX(UNKNOWN, "unknown")                                                      \
  XX(EXECUTIVE, "executive")                                                  \
  XX(SALES, "sales")                                                          \
  XX(MARKETING, "marketing")                                                  \
  XX(ENGINEERING, "engineering")                                              \
  XX(PRODUCT, "product")                                                      \
  XX(DESIGN, "design")                                                        \
  XX(IT, "it")                                                                \
  XX(DATA, "data")                                                            \
  XX(FINANCE, "finance")                                                      \
  XX(HR, "hr")                                                                \
  XX(OPERATIONS, "operations")                                                \
  XX(LEGAL, "legal")                                                          \
  XX(CUSTOMER_SUCCESS, "customer_success")                                    \
  XX(PROCUREMENT, "procurement")

typedef enum norm_department {
#define NORM__XX(name, str) NORM_DEPARTMENT_##name,
  NORM_DEPARTMENT_MAP(NORM__XX)
#undef NORM__XX
} norm_department;

const char *norm_seniority_name(norm_seniority s);
const char *norm_department_name(norm_department d);

typedef struct norm_title {
  norm_seniority seniority;
  norm_department department;
} norm_title;

/*
 * Classifies a job title by the rule table in norm_title.c: the title is
 * folded like a name key and split into words; rules are tried from the
 * highest priority down, a rule matches where its words occur consecutively
 * and are not yet taken by a higher rule, and seniority and department are
 * each set by the first matching rule that has a say on them.
 * "VP of Sales" -> vp/sales, "Chief Revenue Officer" -> c_level/sales,
 * "Sr. Software Engineer" -> senior/engineering. An empty title or one that
 * no rule matches gives unknown/unknown.
 * Returns: 0 or PV_EINVAL (as norm_name_parse); *out is unknown/unknown on
 *   error.
 */
int norm_title_classify(const char *in, size_t len, norm_title *out, pv_error *err);

#ifdef __cplusplus
}
#endif

#endif
