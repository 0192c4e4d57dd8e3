/*
 * base64.h - the one base64 codec (OpenSSL's EVP block coder underneath).
 *
 * Two alphabets, as Go's encoding/base64 names them: StdEncoding (what JSON
 * carries for []byte fields such as Secret data, with '=' padding) and
 * RawURLEncoding (URL-safe, no padding: continue tokens).  Decoding follows
 * Go's rules, so an API error can name the same offending byte offset as
 * upstream's "illegal base64 data at input byte N": '\r' and '\n' are
 * skipped anywhere, padding must be complete (StdEncoding) or absent
 * (RawURLEncoding), nothing may follow it.
 */
#ifndef KUBE_BASE64_H
#define KUBE_BASE64_H

#include <stddef.h>

enum kb64_alphabet { KB64_STD, KB64_RAW_URL };

/* A new NUL-terminated string (free()). Aborts on out-of-memory. */
char *kb64_encode(const void *data, size_t len, enum kb64_alphabet a);
/* Decodes s[0..len): 0 with *out (malloc'd, NUL-terminated for
 * convenience, free()) and *outlen, or -EINVAL with *bad_at set to the
 * input offset Go reports. out may be NULL to only validate. */
int kb64_decode(const char *s, size_t len, enum kb64_alphabet a, unsigned char **out, size_t *outlen, size_t *bad_at);

#endif
