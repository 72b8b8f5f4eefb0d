/*
 * Tests of core/norm: one table per normalizer, each row an input as users
 * type it and the output a CRM must store, or the reason it is refused.
 * Expected values come from the standards and libraries named in norm.h
 * (IDNA2008/UTS #46, the Public Suffix List, libphonenumber's metadata);
 * phone numbers are from the ranges each regulator reserves for drama and
 * documentation where one exists (US 555-01xx, UK 020 7946 0xxx, AU
 * 02 5550 xxxx), otherwise well-formed numbers of a valid range.
 */
#include "core/norm/norm.h"
#include "tests/harness/test.h"

#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* ----------------------------------------------------------------- emails */

static const struct {
  const char *in, *address, *domain, *registrable;
} email_ok[] = {
    {"jane@example.com", "jane@example.com", "example.com", "example.com"},
    {"  Jane.Doe@Example.COM  ", "jane.doe@example.com", "example.com", "example.com"},
    {"\t JANE.DOE@EXAMPLE.COM\r\n", "jane.doe@example.com", "example.com", "example.com"},
    /* NBSP, ideographic space, zero-width space and BOM around it */
    {"\xc2\xa0jane@example.com\xe3\x80\x80", "jane@example.com", "example.com", "example.com"},
    {"\xe2\x80\x8bjane@example.com\xef\xbb\xbf", "jane@example.com", "example.com",
     "example.com"},
    {"user@Bücher.example", "user@xn--bcher-kva.example", "xn--bcher-kva.example",
     "xn--bcher-kva.example"},
    {"user@xn--bcher-kva.example", "user@xn--bcher-kva.example", "xn--bcher-kva.example",
     "xn--bcher-kva.example"},
    /* non-transitional: ß stays ß (xn--fa-hia), it does not become "ss" */
    {"info@faß.de", "info@xn--fa-hia.de", "xn--fa-hia.de", "xn--fa-hia.de"},
    {"ivan@почта.рф", "ivan@xn--80a1acny.xn--p1ai", "xn--80a1acny.xn--p1ai",
     "xn--80a1acny.xn--p1ai"},
    {"Bob@mail.Shop.Example.CO.UK", "bob@mail.shop.example.co.uk", "mail.shop.example.co.uk",
     "example.co.uk"},
    /* +tags and dots are kept: distinct mailboxes are never merged */
    {"jane+billing@gmail.com", "jane+billing@gmail.com", "gmail.com", "gmail.com"},
    {"j.a.n.e@gmail.com", "j.a.n.e@gmail.com", "gmail.com", "gmail.com"},
    {"o'brien@example.ie", "o'brien@example.ie", "example.ie", "example.ie"},
    {"a!#$%&'*+-/=?^_`{|}~z@example.org", "a!#$%&'*+-/=?^_`{|}~z@example.org",
     "example.org", "example.org"},
    {"jane@example.com.", "jane@example.com", "example.com", "example.com"},
    {"x@acme.github.io", "x@acme.github.io", "acme.github.io", "acme.github.io"},
};

static void test_email_normalizes(void) {
  for (size_t i = 0; i < COUNT(email_ok); i++) {
    norm_email e;
    pv_error err = PV_ERROR_INIT;
    int rc = norm_email_parse(email_ok[i].in, strlen(email_ok[i].in), &e, &err);
    if (rc != 0) fprintf(stderr, "row %zu: %s\n", i, err.message);
    ASSERT_OK(rc);
    ASSERT_STR_EQ(e.address, email_ok[i].address);
    ASSERT_STR_EQ(e.domain, email_ok[i].domain);
    ASSERT_STR_EQ(e.registrable, email_ok[i].registrable);
  }
}

static void test_email_case_and_space_variants_share_a_key(void) {
  static const char *const variants[] = {
      "jane.doe@acme.com", "Jane.Doe@ACME.com", "  jane.doe@acme.com ",
      "JANE.DOE@acme.COM.", "\xc2\xa0Jane.Doe@Acme.Com\t",
  };
  for (size_t i = 0; i < COUNT(variants); i++) {
    norm_email e;
    ASSERT_OK(norm_email_parse(variants[i], strlen(variants[i]), &e, NULL));
    ASSERT_STR_EQ(e.address, "jane.doe@acme.com");
  }
}

static const struct {
  const char *in, *message;
} email_bad[] = {
    {"", "invalid email address: empty"},
    {"   ", "invalid email address: empty"},
    {"jane.example.com", "invalid email address \"jane.example.com\": no \"@\""},
    {"jane@@example.com", "invalid email address \"jane@@example.com\": more than one \"@\""},
    {"@example.com", "invalid email address \"@example.com\": the local part is empty"},
    {"jane@", "invalid email address \"jane@\": the domain is empty"},
    {"jane doe@example.com",
     "invalid email address \"jane doe@example.com\": the local part contains a space"},
    {".jane@example.com",
     "invalid email address \".jane@example.com\": the local part begins or ends with a dot"},
    {"jane..doe@example.com",
     "invalid email address \"jane..doe@example.com\": the local part has two dots in a row"},
    {"\"jane\"@example.com",
     "invalid email address \"\"jane\"@example.com\": the local part contains \"\"\""},
    {"josé@example.com",
     "invalid email address \"josé@example.com\": the local part contains a non-ASCII "
     "character"},
    {"jane@localhost", "invalid email address \"jane@localhost\": the domain has a single label"},
    {"jane@[192.168.0.1]",
     "invalid email address \"jane@[192.168.0.1]\": the domain is an IP address"},
    {"jane@192.168.0.1",
     "invalid email address \"jane@192.168.0.1\": the domain is an IP address"},
    {"jane@exa_mple.com",
     "invalid email address \"jane@exa_mple.com\": the domain has a character not allowed in "
     "a host name"},
    {"jane@-example.com",
     "invalid email address \"jane@-example.com\": the domain has a label that begins or ends "
     "with a hyphen"},
    {"jane@example..com",
     "invalid email address \"jane@example..com\": the domain has an empty label"},
    {"jane@co.uk", "invalid email address \"jane@co.uk\": the domain is a public suffix"},
    {"jane@example.123",
     "invalid email address \"jane@example.123\": the domain has an all-numeric top-level "
     "label"},
    {"jane@example.com\x01", "invalid email address: contains a control character"},
    {"jane@exa\xff.com", "invalid email address: not valid UTF-8"},
};

static void test_email_rejects_with_reason(void) {
  for (size_t i = 0; i < COUNT(email_bad); i++) {
    norm_email e;
    pv_error err = PV_ERROR_INIT;
    ASSERT_ERR(norm_email_parse(email_bad[i].in, strlen(email_bad[i].in), &e, &err),
               PV_EINVAL);
    ASSERT_EQ(err.code, PV_EINVAL);
    ASSERT_STR_EQ(err.message, email_bad[i].message);
  }
  /* a NUL byte inside the cell is a control character, not an end */
  norm_email e;
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(norm_email_parse("ja\0ne@example.com", 17, &e, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, "invalid email address: contains a control character");
}

static void test_email_length_limits(void) {
  char local[80], addr[400];
  pv_error err = PV_ERROR_INIT;
  norm_email e;
  memset(local, 'a', 65);
  local[65] = '\0';
  snprintf(addr, sizeof addr, "%s@example.com", local);
  ASSERT_ERR(norm_email_parse(addr, strlen(addr), &e, &err), PV_EINVAL);
  ASSERT(strstr(err.message, "longer than 64") != NULL);
  local[64] = '\0';
  snprintf(addr, sizeof addr, "%s@example.com", local);
  ASSERT_OK(norm_email_parse(addr, strlen(addr), &e, &err));
  /* 64 + 1 + 4 labels of 47 + ".com": 257 characters */
  snprintf(addr, sizeof addr, "%s@%.47s.%.47s.%.47s.%.47s.com", local,
           "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
           "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
           "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
           "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  ASSERT_ERR(norm_email_parse(addr, strlen(addr), &e, &err), PV_EINVAL);
  ASSERT(strstr(err.message, "longer than 254") != NULL);
}

static void test_error_quotes_a_long_value_whole_characters(void) {
  /* "a" then 50 "é": the 80-byte quote limit falls inside an "é" */
  char in[128] = "a", want[160] = "invalid email address \"a";
  for (int i = 0; i < 50; i++) strcat(in, "\xc3\xa9");
  for (int i = 0; i < 39; i++) strcat(want, "\xc3\xa9");
  strcat(want, "\": no \"@\"");
  norm_email e;
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(norm_email_parse(in, strlen(in), &e, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, want);
}

/* ---------------------------------------------------------------- domains */

static const struct {
  const char *in, *domain, *registrable;
} domain_ok[] = {
    {"example.com", "example.com", "example.com"},
    {"  Example.COM  ", "example.com", "example.com"},
    {"http://example.com", "example.com", "example.com"},
    {"https://www.example.com/", "example.com", "example.com"},
    {"HTTPS://WWW.Example.com/about/team?ref=x#top", "example.com", "example.com"},
    {"example.com/pricing", "example.com", "example.com"},
    {"example.com?utm_source=x", "example.com", "example.com"},
    {"example.com:8080", "example.com", "example.com"},
    {"https://user:secret@www.example.com:8443/x", "example.com", "example.com"},
    {"//www.example.com/x", "example.com", "example.com"},
    {"www.example.com.", "example.com", "example.com"},
    {"mail.example.com", "example.com", "example.com"},
    {"m.example.com", "example.com", "example.com"},
    {"www.m.example.com", "example.com", "example.com"},
    {"shop.example.co.uk", "shop.example.co.uk", "example.co.uk"},
    {"https://www.shop.example.co.uk/", "shop.example.co.uk", "example.co.uk"},
    {"www.example.co.uk", "example.co.uk", "example.co.uk"},
    {"example.com.au", "example.com.au", "example.com.au"},
    {"blog.example.co.jp", "blog.example.co.jp", "example.co.jp"},
    {"www.Bücher.example", "xn--bcher-kva.example", "xn--bcher-kva.example"},
    {"https://münchen.de/", "xn--mnchen-3ya.de", "xn--mnchen-3ya.de"},
    {"例え.テスト", "xn--r8jz45g.xn--zckzah", "xn--r8jz45g.xn--zckzah"},
    {"acme.myshopify.com", "acme.myshopify.com", "acme.myshopify.com"},
    /* the prefix stays when removing it would leave a public suffix */
    {"www.com", "www.com", "www.com"},
    {"m.co.uk", "m.co.uk", "m.co.uk"},
    {"www.co.uk", "www.co.uk", "www.co.uk"},
    /* other subdomains are kept; the registrable domain is beside them */
    {"app.eu.example.com", "app.eu.example.com", "example.com"},
};

static void test_domain_normalizes(void) {
  for (size_t i = 0; i < COUNT(domain_ok); i++) {
    norm_domain d;
    pv_error err = PV_ERROR_INIT;
    int rc = norm_domain_parse(domain_ok[i].in, strlen(domain_ok[i].in), &d, &err);
    if (rc != 0) fprintf(stderr, "row %zu: %s\n", i, err.message);
    ASSERT_OK(rc);
    ASSERT_STR_EQ(d.domain, domain_ok[i].domain);
    ASSERT_STR_EQ(d.registrable, domain_ok[i].registrable);
  }
}

static const struct {
  const char *in, *message;
} domain_bad[] = {
    {"", "invalid domain \"\": it is empty"},
    {"https://", "invalid domain \"https://\": it is empty"},
    {"localhost", "invalid domain \"localhost\": it has a single label"},
    {"http://intranet/", "invalid domain \"http://intranet/\": it has a single label"},
    {"192.168.1.10", "invalid domain \"192.168.1.10\": it is an IP address"},
    {"http://10.0.0.1:8080/x", "invalid domain \"http://10.0.0.1:8080/x\": it is an IP address"},
    {"[2001:db8::1]", "invalid domain \"[2001:db8::1]\": it is an IP address"},
    {"http://[2001:db8::1]:80/",
     "invalid domain \"http://[2001:db8::1]:80/\": it is an IP address"},
    {"2001:db8::1", "invalid domain \"2001:db8::1\": it is an IP address"},
    {"co.uk", "invalid domain \"co.uk\": it is a public suffix"},
    {"exa mple.com",
     "invalid domain \"exa mple.com\": it has a character not allowed in a host name"},
    {"under_score.com",
     "invalid domain \"under_score.com\": it has a character not allowed in a host name"},
    {"-bad.com", "invalid domain \"-bad.com\": it has a label that begins or ends with a hyphen"},
    {"a..b.com", "invalid domain \"a..b.com\": it has an empty label"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
     "invalid domain \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com\": "
     "it has a label longer than 63 characters"},
};

static void test_domain_rejects_with_reason(void) {
  for (size_t i = 0; i < COUNT(domain_bad); i++) {
    norm_domain d;
    pv_error err = PV_ERROR_INIT;
    ASSERT_ERR(norm_domain_parse(domain_bad[i].in, strlen(domain_bad[i].in), &d, &err),
               PV_EINVAL);
    ASSERT_STR_EQ(err.message, domain_bad[i].message);
  }
  norm_domain d;
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(norm_domain_parse("b\xc3(cher.de", 10, &d, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, "invalid domain: not valid UTF-8");
  /* a disallowed code point is refused by libidn2, with its explanation */
  const char *snowman = "a\xe2\x98\x83\xcc\x81\xe2\x80\x8d.com";
  ASSERT_ERR(norm_domain_parse(snowman, strlen(snowman), &d, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message,
                "invalid domain \"a\xe2\x98\x83\xcc\x81\xe2\x80\x8d.com\": it is not a valid "
                "internationalized domain name");
  ASSERT(strncmp(err.detail, "IDNA: ", 6) == 0);
}

/* Letter-digit-hyphen hosts skip libidn2 (norm_host.c): what they come out
 * as must be what libidn2 itself gives, for every shape of label; and an
 * "xn--" label still goes through it, so broken Punycode is refused. */
static void test_domain_ascii_fast_path_equals_libidn2(void) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789--";
  static const char *const fixed[] = {"a-b--c.example.com", "ab--cd.de", "x1.y2.co.uk",
                                      "Mixed-Case.Example.ORG", "a.b.c.d.e.f.example.net",
                                      "xx--yy.example.com", "123abc.example.io"};
  srand(7);
  for (int i = 0; i < 2000; i++) {
    char host[80];
    if (i < (int)COUNT(fixed)) {
      snprintf(host, sizeof host, "%s", fixed[i]);
    } else {
      size_t n = 0;
      for (int label = 0, labels = 2 + rand() % 3; label < labels; label++) {
        if (label) host[n++] = '.';
        for (int k = 0, len = 1 + rand() % 12; k < len; k++)
          host[n++] = alphabet[rand() % (int)(sizeof alphabet - 1)];
      }
      memcpy(host + n, ".com", 5);
    }
    norm_domain d;
    pv_error err = PV_ERROR_INIT;
    int rc = norm_domain_parse(host, strlen(host), &d, &err);
    uint8_t *ascii = NULL;
    int idn = idn2_lookup_u8((const uint8_t *)host, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc == 0) {
      if (idn != IDN2_OK) test__fail(__FILE__, __LINE__, "%s: accepted, libidn2 refuses: %s", host, idn2_strerror(idn));
      char lower[80];
      size_t k = 0;
      for (const uint8_t *c = ascii; *c; c++)
        lower[k++] = (char)((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c);
      lower[k] = '\0';
      const char *want = lower;
      for (const char *const *pre = (const char *const[]){"www.", "mail.", "m.", NULL}; *pre; pre++)
        if (strncmp(want, *pre, strlen(*pre)) == 0) want += strlen(*pre);
      if (strcmp(d.domain, want) != 0) test__fail(__FILE__, __LINE__, "%s: %s, libidn2 %s", host, d.domain, want);
    }
    idn2_free(ascii);
  }
  norm_domain d;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(norm_domain_parse("xn--bcher-kva.example", 21, &d, &err));
  ASSERT_STR_EQ(d.domain, "xn--bcher-kva.example");
  ASSERT_ERR(norm_domain_parse("xn--a.example", 13, &d, &err), PV_EINVAL);
  ASSERT_ERR(norm_domain_parse("shop.xn--zz-.example", 20, &d, &err), PV_EINVAL);
}

/* ------------------------------------------------------------------ names */

static const struct {
  const char *in, *display, *key;
} name_rows[] = {
    {"José Álvarez", "José Álvarez", "jose alvarez"},
    {"José  ÁLVAREZ", "José ÁLVAREZ", "jose alvarez"},
    {"jose alvarez", "jose alvarez", "jose alvarez"},
    /* NFD input (e + U+0301) is shown in NFC */
    {"Jose\xcc\x81 A\xcc\x81lvarez", "José Álvarez", "jose alvarez"},
    {"  Anne-Marie\t\tO’Neill \n", "Anne-Marie O’Neill", "anne-marie o'neill"},
    {"\xc2\xa0Zoë\xe2\x80\x83Saldaña\xe2\x80\x8b", "Zoë Saldaña", "zoe saldana"},
    {"Straße", "Straße", "strasse"},
    {"Łukasz Żółć", "Łukasz Żółć", "lukasz zolc"},
    {"Søren Kierkegaard", "Søren Kierkegaard", "soren kierkegaard"},
    {"Nguyễn Đức", "Nguyễn Đức", "nguyen duc"},
    {"ＡＣＭＥ Corp", "ＡＣＭＥ Corp", "acme corp"},
    {"ΣΩΚΡΑΤΗΣ", "ΣΩΚΡΑΤΗΣ", "σωκρατησ"},
    {"Müller–Lüdenscheidt GmbH", "Müller–Lüdenscheidt GmbH", "muller-ludenscheidt gmbh"},
    {"李小龍", "李小龍", "李小龍"},
    /* Devanagari vowel signs are marks but are kept in the key */
    {"राम", "राम", "राम"},
    {"", "", ""},
    {" \t\xe3\x80\x80 ", "", ""},
};

static void test_name_display_and_key(void) {
  pv_buf display = PV_BUF_INIT, key = PV_BUF_INIT;
  for (size_t i = 0; i < COUNT(name_rows); i++) {
    pv_error err = PV_ERROR_INIT;
    int rc = norm_name_parse(name_rows[i].in, strlen(name_rows[i].in), &display, &key, &err);
    if (rc != 0) fprintf(stderr, "row %zu: %s\n", i, err.message);
    ASSERT_OK(rc);
    ASSERT_STR_EQ(display.data, name_rows[i].display);
    ASSERT_STR_EQ(key.data, name_rows[i].key);
  }
  pv_buf_release(&display);
  pv_buf_release(&key);
}

static void test_name_nfc_and_nfd_are_equal(void) {
  /* "Renée Ångström" precomposed, and decomposed (e + U+0301, A + U+030A) */
  const char *nfc = "Ren\xc3\xa9" "e \xc3\x85ngstr\xc3\xb6m";
  const char *nfd = "Rene\xcc\x81" "e A\xcc\x8angstro\xcc\x88m";
  pv_buf d1 = PV_BUF_INIT, k1 = PV_BUF_INIT, d2 = PV_BUF_INIT, k2 = PV_BUF_INIT;
  ASSERT_OK(norm_name_parse(nfc, strlen(nfc), &d1, &k1, NULL));
  ASSERT_OK(norm_name_parse(nfd, strlen(nfd), &d2, &k2, NULL));
  ASSERT_STR_EQ(d1.data, d2.data);
  ASSERT_STR_EQ(d1.data, nfc);
  ASSERT_STR_EQ(k1.data, k2.data);
  ASSERT_STR_EQ(k1.data, "renee angstrom");
  pv_buf_release(&d1);
  pv_buf_release(&k1);
  pv_buf_release(&d2);
  pv_buf_release(&k2);
}

static void test_name_rejects_invalid_text(void) {
  pv_buf display = PV_BUF_INIT, key = PV_BUF_INIT;
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(norm_name_parse("Jos\xc3", 4, &display, &key, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, "invalid name: not valid UTF-8");
  ASSERT_ERR(norm_name_parse("\xed\xa0\x80", 3, &display, &key, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, "invalid name: not valid UTF-8");
  ASSERT_ERR(norm_name_parse("Jo\x07se", 5, &display, &key, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, "invalid name: contains a control character");
  ASSERT_ERR(norm_name_parse("Jo\0se", 5, &display, &key, &err), PV_EINVAL);
  char long_name[NORM_TEXT_MAX + 1];
  memset(long_name, 'a', sizeof long_name);
  ASSERT_ERR(norm_name_parse(long_name, sizeof long_name, &display, &key, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, "invalid name: longer than 1020 bytes");
  ASSERT_OK(norm_name_parse(long_name, NORM_TEXT_MAX, &display, &key, &err));
  ASSERT_EQ(key.len, NORM_TEXT_MAX);
  pv_buf_release(&display);
  pv_buf_release(&key);
}

/* ----------------------------------------------------------------- phones */

static const struct {
  const char *in, *region, *e164, *extension, *number_region;
  norm_phone_type type;
} phone_ok[] = {
    {"(415) 555-0123", "US", "+14155550123", "", "US", NORM_PHONE_FIXED_LINE_OR_MOBILE},
    {"415.555.0123", "us", "+14155550123", "", "US", NORM_PHONE_FIXED_LINE_OR_MOBILE},
    {"+1 415 555 0123", NULL, "+14155550123", "", "US", NORM_PHONE_FIXED_LINE_OR_MOBILE},
    {"+44 20 7946 0958", "US", "+442079460958", "", "GB", NORM_PHONE_FIXED_LINE},
    {"020 7946 0958", "GB", "+442079460958", "", "GB", NORM_PHONE_FIXED_LINE},
    {"07400 123456", "GB", "+447400123456", "", "GB", NORM_PHONE_MOBILE},
    {"030 12345678", "DE", "+493012345678", "", "DE", NORM_PHONE_FIXED_LINE},
    {"0151 23456789", "DE", "+4915123456789", "", "DE", NORM_PHONE_MOBILE},
    {"01 23 45 67 89", "FR", "+33123456789", "", "FR", NORM_PHONE_FIXED_LINE},
    {"06 12 34 56 78", "FR", "+33612345678", "", "FR", NORM_PHONE_MOBILE},
    {"098765 43210", "IN", "+919876543210", "", "IN", NORM_PHONE_MOBILE},
    {"(11) 91234-5678", "BR", "+5511912345678", "", "BR", NORM_PHONE_MOBILE},
    {"03-1234-5678", "JP", "+81312345678", "", "JP", NORM_PHONE_FIXED_LINE},
    {"(02) 5550 1234", "AU", "+61255501234", "", "AU", NORM_PHONE_FIXED_LINE},
    {"0412 345 678", "AU", "+61412345678", "", "AU", NORM_PHONE_MOBILE},
    {"1-800-555-0199", "US", "+18005550199", "", "US", NORM_PHONE_TOLL_FREE},
    {"(415) 555-0123 ext. 4567", "US", "+14155550123", "4567", "US",
     NORM_PHONE_FIXED_LINE_OR_MOBILE},
    {"+44 20 7946 0958 x12", NULL, "+442079460958", "12", "GB", NORM_PHONE_FIXED_LINE},
    /* 00 is the international prefix of DE, so libphonenumber reads it */
    {"0044 20 7946 0958", "DE", "+442079460958", "", "GB", NORM_PHONE_FIXED_LINE},
    /* US dials out with 011: 00 is retried as "+" */
    {"0049 30 12345678", "US", "+493012345678", "", "DE", NORM_PHONE_FIXED_LINE},
    {"0049 30 12345678", NULL, "+493012345678", "", "DE", NORM_PHONE_FIXED_LINE},
    {"011 44 20 7946 0958", "US", "+442079460958", "", "GB", NORM_PHONE_FIXED_LINE},
    {"\xc2\xa0+33\xc2\xa0" "1\xc2\xa0" "23 45 67 89 ", "FR", "+33123456789", "", "FR",
     NORM_PHONE_FIXED_LINE},
    /* a region libphonenumber does not know acts as none */
    {"+81 3-1234-5678", "XK", "+81312345678", "", "JP", NORM_PHONE_FIXED_LINE},
};

static void test_phone_e164(void) {
  for (size_t i = 0; i < COUNT(phone_ok); i++) {
    norm_phone p;
    pv_error err = PV_ERROR_INIT;
    ASSERT_OK(norm_phone_parse(phone_ok[i].in, strlen(phone_ok[i].in), phone_ok[i].region, &p,
                               &err));
    if (!p.valid) fprintf(stderr, "row %zu: %s\n", i, p.invalid_reason);
    ASSERT(p.valid);
    ASSERT_STR_EQ(p.e164, phone_ok[i].e164);
    ASSERT_STR_EQ(p.extension, phone_ok[i].extension);
    ASSERT_STR_EQ(p.region, phone_ok[i].number_region);
    if (p.type != phone_ok[i].type)
      fprintf(stderr, "row %zu: type %s\n", i, norm_phone_type_name(p.type));
    ASSERT_EQ(p.type, phone_ok[i].type);
    ASSERT_STR_EQ(p.invalid_reason, "");
  }
}

static const struct {
  const char *in, *region, *raw, *reason;
} phone_invalid[] = {
    {"12345", "US", "12345", "too short for its country"},
    {"(415) 555-01", "US", "(415) 555-01", "too short for its country"},
    {" call me maybe ", "US", "call me maybe", "not a phone number"},
    {"415 555 0123", NULL, "415 555 0123", "no country code, and no default country to assume"},
    {"+999 1234 5678", "US", "+999 1234 5678", "invalid country code"},
    {"+1 200 555 0123", NULL, "+1 200 555 0123", "not a number in use in its country"},
    {"+49 30 1", "US", "+49 30 1", "too short: possible only as a local number"},
};

static void test_phone_invalid_is_kept_and_flagged(void) {
  for (size_t i = 0; i < COUNT(phone_invalid); i++) {
    norm_phone p;
    pv_error err = PV_ERROR_INIT;
    ASSERT_OK(norm_phone_parse(phone_invalid[i].in, strlen(phone_invalid[i].in),
                               phone_invalid[i].region, &p, &err));
    ASSERT(!p.valid);
    ASSERT_STR_EQ(p.raw, phone_invalid[i].raw);
    ASSERT_STR_EQ(p.invalid_reason, phone_invalid[i].reason);
    ASSERT_STR_EQ(p.e164, "");
    ASSERT_STR_EQ(p.region, "");
    ASSERT_EQ(p.type, NORM_PHONE_UNKNOWN);
  }
}

static void test_phone_refuses_unusable_input(void) {
  norm_phone p;
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(norm_phone_parse("  ", 2, "US", &p, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, "invalid phone number: empty");
  ASSERT_ERR(norm_phone_parse("415\xff", 4, "US", &p, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, "invalid phone number: not valid UTF-8");
  ASSERT_ERR(norm_phone_parse("4155550123", 10, "USA", &p, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, "invalid default country \"USA\": not an ISO 3166 two-letter code");
  char long_input[NORM_PHONE_RAW_MAX + 2];
  memset(long_input, '1', sizeof long_input);
  ASSERT_ERR(norm_phone_parse(long_input, sizeof long_input, "US", &p, &err), PV_EINVAL);
  ASSERT(strstr(err.message, "longer than 250 characters") != NULL);
}

static void test_phone_type_names(void) {
  ASSERT_STR_EQ(norm_phone_type_name(NORM_PHONE_MOBILE), "mobile");
  ASSERT_STR_EQ(norm_phone_type_name(NORM_PHONE_FIXED_LINE_OR_MOBILE), "fixed_line_or_mobile");
  ASSERT_STR_EQ(norm_phone_type_name(NORM_PHONE_TOLL_FREE), "toll_free");
  ASSERT_STR_EQ(norm_phone_type_name((norm_phone_type)99), "unknown");
}

/* ----------------------------------------------------------------- titles */

static const struct {
  const char *title;
  norm_seniority seniority;
  norm_department department;
} title_rows[] = {
#define S(x) NORM_SENIORITY_##x
#define D(x) NORM_DEPARTMENT_##x
    {"VP of Sales", S(VP), D(SALES)},
    {"Chief Revenue Officer", S(C_LEVEL), D(SALES)},
    {"Sr. Software Engineer", S(SENIOR), D(ENGINEERING)},
    {"Head of Demand Gen", S(DIRECTOR), D(MARKETING)},
    {"CFO", S(C_LEVEL), D(FINANCE)},
    {"ceo & co-founder", S(OWNER), D(EXECUTIVE)},
    {"Chief Executive Officer", S(C_LEVEL), D(EXECUTIVE)},
    {"CTO", S(C_LEVEL), D(ENGINEERING)},
    {"Chief Information Security Officer", S(C_LEVEL), D(IT)},
    {"Senior Vice President, Marketing", S(VP), D(MARKETING)},
    {"SVP Global Sales", S(VP), D(SALES)},
    {"Vice President", S(VP), D(UNKNOWN)},
    {"President", S(C_LEVEL), D(EXECUTIVE)},
    {"Director of Engineering", S(DIRECTOR), D(ENGINEERING)},
    {"Senior Director, Human Resources", S(DIRECTOR), D(HR)},
    {"Engineering Manager", S(MANAGER), D(ENGINEERING)},
    {"Marketing Manager", S(MANAGER), D(MARKETING)},
    {"Account Executive", S(UNKNOWN), D(SALES)},
    {"Senior Account Executive", S(SENIOR), D(SALES)},
    {"Account Manager", S(MANAGER), D(SALES)},
    {"Sales Development Representative (SDR)", S(ENTRY), D(SALES)},
    {"Junior Accountant", S(ENTRY), D(FINANCE)},
    {"Marketing Intern", S(INTERN), D(MARKETING)},
    {"Executive Assistant to the CEO", S(ENTRY), D(OPERATIONS)},
    {"Product Owner", S(UNKNOWN), D(PRODUCT)},
    {"Senior Product Owner", S(SENIOR), D(PRODUCT)},
    {"HR Business Partner", S(UNKNOWN), D(HR)},
    {"Managing Partner", S(PARTNER), D(EXECUTIVE)},
    {"General Counsel", S(C_LEVEL), D(LEGAL)},
    {"IT Manager", S(MANAGER), D(IT)},
    {"Customer Success Manager", S(MANAGER), D(CUSTOMER_SUCCESS)},
    {"Data Scientist", S(UNKNOWN), D(DATA)},
    {"Lead Data Engineer", S(SENIOR), D(DATA)},
    {"Principal UX Designer", S(SENIOR), D(DESIGN)},
    {"Talent Acquisition Partner", S(PARTNER), D(HR)},
    {"Procurement Manager", S(MANAGER), D(PROCUREMENT)},
    {"Director of Operations", S(DIRECTOR), D(OPERATIONS)},
    {"Chief of Staff", S(DIRECTOR), D(EXECUTIVE)},
    {"Geschäftsführer", S(C_LEVEL), D(EXECUTIVE)},
    {"Directeur Général", S(C_LEVEL), D(EXECUTIVE)},
    {"  VP,   SALES  ", S(VP), D(SALES)},
    {"vpn specialist", S(UNKNOWN), D(UNKNOWN)},
    {"Astronaut", S(UNKNOWN), D(UNKNOWN)},
    {"", S(UNKNOWN), D(UNKNOWN)},
#undef S
#undef D
};

static void test_title_rules(void) {
  for (size_t i = 0; i < COUNT(title_rows); i++) {
    norm_title t;
    pv_error err = PV_ERROR_INIT;
    ASSERT_OK(norm_title_classify(title_rows[i].title, strlen(title_rows[i].title), &t, &err));
    if (t.seniority != title_rows[i].seniority || t.department != title_rows[i].department)
      fprintf(stderr, "row %zu \"%s\": got %s/%s\n", i, title_rows[i].title,
              norm_seniority_name(t.seniority), norm_department_name(t.department));
    ASSERT_EQ(t.seniority, title_rows[i].seniority);
    ASSERT_EQ(t.department, title_rows[i].department);
  }
}

static void test_title_names_and_errors(void) {
  ASSERT_STR_EQ(norm_seniority_name(NORM_SENIORITY_C_LEVEL), "c_level");
  ASSERT_STR_EQ(norm_department_name(NORM_DEPARTMENT_CUSTOMER_SUCCESS), "customer_success");
  ASSERT_STR_EQ(norm_seniority_name((norm_seniority)99), "unknown");
  norm_title t;
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(norm_title_classify("VP\xc0", 3, &t, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, "invalid title: not valid UTF-8");
  ASSERT_EQ(t.seniority, NORM_SENIORITY_UNKNOWN);
}

TEST_MAIN(TEST(test_email_normalizes), TEST(test_email_case_and_space_variants_share_a_key),
          TEST(test_email_rejects_with_reason), TEST(test_email_length_limits),
          TEST(test_error_quotes_a_long_value_whole_characters),
          TEST(test_domain_normalizes), TEST(test_domain_rejects_with_reason),
          TEST(test_domain_ascii_fast_path_equals_libidn2),
          TEST(test_name_display_and_key), TEST(test_name_nfc_and_nfd_are_equal),
          TEST(test_name_rejects_invalid_text), TEST(test_phone_e164),
          TEST(test_phone_invalid_is_kept_and_flagged), TEST(test_phone_refuses_unusable_input),
          TEST(test_phone_type_names), TEST(test_title_rules), TEST(test_title_names_and_errors))
