/* strconv.h - string conversions with Go's rules where the API uses them. */
#ifndef KUBE_STRCONV_H
#define KUBE_STRCONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Go strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False.
 * 0 or -EINVAL. */
int kstr_parse_bool(const char *s, bool *out);
/* Whole string must be a base-10 integer in range. 0, -EINVAL or -ERANGE. */
int kstr_parse_int64(const char *s, int64_t *out);
/* URL percent-decoding (query strings: '+' becomes ' '). Caller frees. */
char *kstr_url_decode(const char *s, size_t len, bool plus_is_space);
/* Percent-encode for a query value. Caller frees. */
char *kstr_url_encode(const char *s);
/* Value of key in a raw query string "a=1&b=2" (decoded), or NULL.
 * Caller frees. Returns "" (allocated) for a key present without value. */
char *kstr_query_get(const char *query, const char *key);

/* Go's strconv.FormatFloat(v, 'g', -1, 64): the shortest digits that read
 * back to v, in exponent form when the decimal exponent is below -4 or at
 * least 6 ("1e+06", "100000", "1.5", "1e-05").  NaN and infinities print
 * as "NaN", "+Inf", "-Inf".  Returns buf. */
char *kstr_format_float(double v, char *buf, size_t len);

#endif
