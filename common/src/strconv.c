/*
 * strconv.c - string conversions following Go's strconv and net/url.
 *
 * Flags, query parameters and API fields are specified in terms of Go's
 * parsers, so "True" is a boolean but "yes" is not, and an integer must fill
 * the whole string.  URL decoding accepts '+' as space only for query
 * strings, as url.QueryUnescape does; encoding matches url.QueryEscape.
 */
#include "kube/strconv.h"
#include "kube/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kstr_parse_bool(const char *s, bool *out)
{
  static const char *const truths[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char *const falses[] = {"0", "f", "F", "FALSE", "false", "False"};
  if (!s) return -EINVAL;
  for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++) {
    if (strcmp(s, truths[i]) == 0) {
      *out = true;
      return 0;
    }
    if (strcmp(s, falses[i]) == 0) {
      *out = false;
      return 0;
    }
  }
  return -EINVAL;
}

int kstr_parse_int64(const char *s, int64_t *out)
{
  const char *p = s;
  bool neg = false;
  uint64_t acc = 0;
  if (!s || !*s) return -EINVAL;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  if (!*p) return -EINVAL;
  bool overflow = false;
  for (; *p; p++) {
    if (*p < '0' || *p > '9') return -EINVAL;
    unsigned d = (unsigned)(*p - '0');
    if (acc > (UINT64_MAX - d) / 10) overflow = true;
    else acc = acc * 10 + d;
  }
  if (overflow) return -ERANGE;
  if (neg) {
    if (acc > (uint64_t)INT64_MAX + 1) return -ERANGE;
    *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
  } else {
    if (acc > (uint64_t)INT64_MAX) return -ERANGE;
    *out = (int64_t)acc;
  }
  return 0;
}

static int hexval(int c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *kstr_url_decode(const char *s, size_t len, bool plus_is_space)
{
  char *out = xmalloc(len + 1);
  size_t o = 0;
  if (!out) return NULL;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 1 < len ? hexval((unsigned char)s[i + 1]) : -1;
      int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
        continue;
      }
      /* A malformed escape is kept literally rather than rejected: the
       * callers use the result as a lookup key, never as trusted syntax. */
      out[o++] = c;
    } else if (c == '+' && plus_is_space) {
      out[o++] = ' ';
    } else {
      out[o++] = c;
    }
  }
  out[o] = '\0';
  return out;
}

char *kstr_url_encode(const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen(s);
  char *out = xmalloc(n * 3 + 1);
  size_t o = 0;
  if (!out) return NULL;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
      out[o++] = (char)*p;
    } else if (*p == ' ') {
      out[o++] = '+';
    } else {
      out[o++] = '%';
      out[o++] = hex[*p >> 4];
      out[o++] = hex[*p & 15];
    }
  }
  out[o] = '\0';
  return out;
}

char *kstr_query_get(const char *query, const char *key)
{
  if (!query || !key) return NULL;
  const char *p = query;
  while (*p) {
    const char *end = strchr(p, '&');
    size_t seglen = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', seglen);
    size_t klen = eq ? (size_t)(eq - p) : seglen;
    char *k = kstr_url_decode(p, klen, true);
    if (!k) return NULL;
    bool hit = strcmp(k, key) == 0;
    free(k);
    if (hit) {
      if (!eq) return xstrdup("");
      return kstr_url_decode(eq + 1, seglen - klen - 1, true);
    }
    if (!end) break;
    p = end + 1;
  }
  return NULL;
}

char *kstr_format_float(double v, char *buf, size_t len)
{
  if (isnan(v)) {
    snprintf(buf, len, "NaN");
    return buf;
  }
  if (isinf(v)) {
    snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
    return buf;
  }
  char e[40];
  int digits = 1;
  for (; digits <= 17; digits++) {
    snprintf(e, sizeof e, "%.*e", digits - 1, v);
    if (strtod(e, NULL) == v) break;
  }
  const char *epos = strchr(e, 'e');
  int exp = epos ? atoi(epos + 1) : 0;
  if (exp < -4 || exp >= 6) {
    snprintf(buf, len, "%s", e);
  } else {
    int frac = digits - 1 - exp;
    snprintf(buf, len, "%.*f", frac > 0 ? frac : 0, v);
  }
  return buf;
}
