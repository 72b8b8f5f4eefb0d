/*
 * norm internals shared by the files of core/norm/ (prefix norm__); not a
 * contract for anyone else. Thread: as norm.h.
 */
#ifndef NORM_INTERNAL_H
#define NORM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/common/pv_buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Checks that in[0..len) is UTF-8 without control characters other than
 * whitespace, and finds it without leading and trailing whitespace (Unicode
 * spaces, NBSP, line separators and the zero-width characters that copy and
 * paste leaves behind).
 * Returns: 0, or -1 for invalid UTF-8, -2 for a control character (NUL
 *   included). *start and *trimmed_len are set on 0.
 */
int norm__trim(const char *in, size_t len, size_t *start, size_t *trimmed_len);

/* True for a code point that norm__trim strips and names collapse. */
int norm__is_space(int32_t cp);

/* Length of the longest prefix of s[0..len) that is at most max bytes and
 * ends on a UTF-8 boundary: for quoting user values in messages. */
int norm__quote_len(const char *s, size_t len, size_t max);

/* Maximum bytes of a user's value quoted in an error message. */
#define NORM__QUOTE_MAX 80

/*
 * Appends the matching key of valid UTF-8 s[0..len) to out (see
 * norm_name_parse): NFKC_Casefold, accents stripped, punctuation lumped.
 * Whitespace is not collapsed here.
 * Returns: 0 or -1 if utf8proc refuses the text.
 */
int norm__fold(const char *s, size_t len, pv_buf *out);

/*
 * Converts a host name (valid UTF-8) to lowercase ASCII with libidn2 and
 * checks every label: 1 to 63 octets of letters, digits and inner hyphens,
 * a top-level label that is not all digits, at least two labels, at most
 * NORM_DOMAIN_MAX octets. One trailing dot is dropped. `out` has room for
 * NORM_DOMAIN_MAX + 1 bytes.
 * Returns: 0 with out filled, or -1 with *reason set to a static phrase
 *   that follows "it" ("is an IP address", "has a single label", ...) and
 *   *detail to libidn2's explanation or NULL.
 */
int norm__host_to_ascii(const char *host, size_t len, char *out, const char **reason,
                        const char **detail);

/*
 * Writes the registrable domain of an ASCII lowercase host to `out` (room
 * for NORM_DOMAIN_MAX + 1 bytes).
 * Returns: 0, -1 when the host is itself a public suffix ("co.uk"), -2 when
 *   no Public Suffix List could be loaded.
 */
int norm__registrable(const char *host, char *out);

#ifdef __cplusplus
}
#endif

#endif
