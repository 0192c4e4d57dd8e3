/*
 * base64.c - see kube/base64.h.  Validation walks the input once with Go's
 * quantum rules (to find the offset Go would report); the bytes themselves
 * are then coded by EVP_EncodeBlock/EVP_DecodeBlock on a normalized copy
 * (newlines dropped, URL alphabet mapped to the standard one, padding
 * completed).
 */
#include "kube/base64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kube/xalloc.h"

static bool in_alphabet(unsigned char c, enum kb64_alphabet a)
{
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return a == KB64_STD ? (c == '+' || c == '/') : (c == '-' || c == '_');
}

static bool is_newline(unsigned char c) { return c == '\n' || c == '\r'; }

static size_t skip_newlines(const char *s, size_t len, size_t i)
{
  while (i < len && is_newline((unsigned char)s[i])) i++;
  return i;
}

/* Go's decodeQuantum over the whole input: 0, or -EINVAL with *bad. The
 * number of data characters (without padding and newlines) goes to *ndata. */
static int validate(const char *s, size_t len, enum kb64_alphabet a, size_t *ndata, size_t *bad)
{
  size_t si = 0, n = 0;
  for (;;) {
    int j;
    for (j = 0; j < 4; j++) {
      if (si == len) {
        if (j == 0) goto done;
        if (j == 1 || a == KB64_STD) { /* a lone char, or missing padding */
          *bad = si - (size_t)j;
          return -EINVAL;
        }
        n += (size_t)j;
        goto done;
      }
      unsigned char c = (unsigned char)s[si++];
      if (in_alphabet(c, a)) continue;
      if (is_newline(c)) {
        j--;
        continue;
      }
      if (c != '=' || a != KB64_STD || j < 2) {
        *bad = si - 1;
        return -EINVAL;
      }
      if (j == 2) { /* "==" expected: the second one after optional newlines */
        si = skip_newlines(s, len, si);
        if (si == len) {
          *bad = len;
          return -EINVAL;
        }
        if (s[si] != '=') {
          *bad = si - 1;
          return -EINVAL;
        }
        si++;
      }
      si = skip_newlines(s, len, si);
      if (si < len) {
        *bad = si;
        return -EINVAL;
      }
      n += (size_t)j;
      goto done;
    }
    n += 4;
  }
done:
  *ndata = n;
  return 0;
}

char *kb64_encode(const void *data, size_t len, enum kb64_alphabet a)
{
  char *out = xmalloc(4 * ((len + 2) / 3) + 1);
  int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
  if (a == KB64_RAW_URL) {
    while (n > 0 && out[n - 1] == '=') n--;
    out[n] = '\0';
    for (int i = 0; i < n; i++) out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
  }
  return out;
}

int kb64_decode(const char *s, size_t len, enum kb64_alphabet a, unsigned char **out, size_t *outlen, size_t *bad_at)
{
  size_t ndata, bad = 0;
  if (validate(s, len, a, &ndata, &bad) < 0) {
    if (bad_at) *bad_at = bad;
    return -EINVAL;
  }
  if (!out) return 0;
  size_t padded = (ndata + 3) / 4 * 4;
  char *clean = xmalloc(padded + 1);
  size_t k = 0;
  for (size_t i = 0; i < len && k < ndata; i++) {
    unsigned char c = (unsigned char)s[i];
    if (is_newline(c) || c == '=') continue;
    clean[k++] = (char)(c == '-' ? '+' : c == '_' ? '/' : c);
  }
  while (k < padded) clean[k++] = '=';
  clean[k] = '\0';
  unsigned char *buf = xmalloc(padded / 4 * 3 + 1);
  int n = padded ? EVP_DecodeBlock(buf, (unsigned char *)clean, (int)padded) : 0;
  free(clean);
  if (n < 0) { /* cannot happen after validation */
    free(buf);
    if (bad_at) *bad_at = 0;
    return -EINVAL;
  }
  size_t pad = padded - ndata;
  size_t total = (size_t)n - (pad == 2 ? 2 : pad == 1 ? 1 : 0);
  buf[total] = '\0';
  *out = buf;
  if (outlen) *outlen = total;
  return 0;
}
