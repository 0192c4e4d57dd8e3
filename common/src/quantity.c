/*
 * quantity.c - resource.Quantity: parsing, arithmetic, canonical form.
 *
 * A quantity is "<number><suffix>": a decimal number with an optional
 * sign and fraction, then a decimal SI suffix (n u m k M G T P E), a binary
 * one (Ki Mi Gi Ti Pi Ei) or an exponent (e3, E-2).  The value is computed
 * exactly in 128-bit arithmetic and stored in milli-units, rounding away
 * from zero below a milli as upstream rounds up.  The suffix family is
 * kept so that printing follows upstream's canonical rules: the largest
 * suffix of the family with an integral mantissa ("1024Mi" -> "1Gi",
 * "1000M" -> "1G", "0.1" -> "100m"), and binary values that are below 1Ki
 * or fractional fall back to decimal SI.
 */
#include "kube/quantity.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef __int128 i128;

#define I128_LIMIT ((i128)1 << 120) /* stay well inside the type */

static int mul_checked(i128 *v, i128 by)
{
  if (*v != 0 && (by > I128_LIMIT / (*v < 0 ? -*v : *v)))
    return -ERANGE;
  *v *= by;
  return 0;
}

int quantity_parse(const char *s, struct quantity *q)
{
  const char *p = s;
  bool neg = false;
  i128 n = 0;
  int frac_digits = 0, digits = 0;
  bool overflow = false;
  bool sticky = false; /* nonzero digits dropped beyond 128-bit precision */
  if (!s || !*s)
    return -EINVAL;
  if (*p == '+' || *p == '-')
    neg = *p++ == '-';
  while (*p >= '0' && *p <= '9') {
    if (n > I128_LIMIT / 10)
      overflow = true;
    else
      n = n * 10 + (*p - '0');
    p++;
    digits++;
  }
  if (*p == '.') {
    p++;
    while (*p >= '0' && *p <= '9') {
      /* Digits beyond 128-bit precision are far below a milli for any
       * value that fits; they only matter for the round-up. */
      if (n > I128_LIMIT / 10) {
        sticky = sticky || *p != '0';
      } else {
        n = n * 10 + (*p - '0');
        frac_digits++;
      }
      p++;
      digits++;
    }
  }
  if (digits == 0)
    return -EINVAL;
  if (overflow)
    return -ERANGE;

  enum quantity_format fmt = QF_DECIMAL_SI;
  int exp10 = 0, exp2 = 0;
  static const struct {
    const char *sfx;
    int exp10, exp2;
    enum quantity_format fmt;
  } suffixes[] = {
      {"", 0, 0, QF_DECIMAL_SI},    {"n", -9, 0, QF_DECIMAL_SI},  {"u", -6, 0, QF_DECIMAL_SI},
      {"m", -3, 0, QF_DECIMAL_SI},  {"k", 3, 0, QF_DECIMAL_SI},   {"M", 6, 0, QF_DECIMAL_SI},
      {"G", 9, 0, QF_DECIMAL_SI},   {"T", 12, 0, QF_DECIMAL_SI},  {"P", 15, 0, QF_DECIMAL_SI},
      {"E", 18, 0, QF_DECIMAL_SI},  {"Ki", 0, 10, QF_BINARY_SI},  {"Mi", 0, 20, QF_BINARY_SI},
      {"Gi", 0, 30, QF_BINARY_SI},  {"Ti", 0, 40, QF_BINARY_SI},  {"Pi", 0, 50, QF_BINARY_SI},
      {"Ei", 0, 60, QF_BINARY_SI},
  };
  bool found = false;
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    if (strcmp(p, suffixes[i].sfx) == 0) {
      exp10 = suffixes[i].exp10;
      exp2 = suffixes[i].exp2;
      fmt = suffixes[i].fmt;
      found = true;
      break;
    }
  }
  if (!found) {
    if (*p != 'e' && *p != 'E')
      return -EINVAL;
    const char *e = p + 1;
    bool eneg = false;
    int ev = 0, ed = 0;
    if (*e == '+' || *e == '-')
      eneg = *e++ == '-';
    while (*e >= '0' && *e <= '9') {
      if (ev < 100000)
        ev = ev * 10 + (*e - '0');
      e++;
      ed++;
    }
    if (ed == 0 || *e)
      return -EINVAL;
    exp10 = eneg ? -ev : ev;
    fmt = QF_DECIMAL_EXPONENT;
  }

  if (exp2 && mul_checked(&n, (i128)1 << exp2) < 0)
    return -ERANGE;
  /* milli = n * 10^(exp10 - frac_digits + 3), rounded away from zero. */
  int scale = exp10 - frac_digits + 3;
  if (scale >= 0) {
    if (n != 0 && scale > 38)
      return -ERANGE;
    for (int i = 0; i < scale; i++)
      if (mul_checked(&n, 10) < 0)
        return -ERANGE;
  } else {
    bool rem = sticky;
    for (int i = 0; i < -scale && n != 0; i++) {
      rem = rem || n % 10 != 0;
      n /= 10;
    }
    if (rem)
      n += 1;
  }
  if (n > (i128)INT64_MAX)
    return -ERANGE;
  q->milli = neg ? -(int64_t)n : (int64_t)n;
  q->format = fmt;
  return 0;
}

int quantity_cmp(const struct quantity *a, const struct quantity *b)
{
  return (a->milli > b->milli) - (a->milli < b->milli);
}

int quantity_add(struct quantity *a, const struct quantity *b)
{
  int64_t r;
  if (__builtin_add_overflow(a->milli, b->milli, &r))
    return -ERANGE;
  if (a->milli == 0)
    a->format = b->format;
  a->milli = r;
  return 0;
}

int quantity_sub(struct quantity *a, const struct quantity *b)
{
  int64_t r;
  if (__builtin_sub_overflow(a->milli, b->milli, &r))
    return -ERANGE;
  if (a->milli == 0)
    a->format = b->format;
  a->milli = r;
  return 0;
}

int64_t quantity_value(const struct quantity *q)
{
  int64_t v = q->milli / 1000;
  if (q->milli % 1000 > 0)
    v++;
  else if (q->milli % 1000 < 0)
    v--;
  return v;
}

int64_t quantity_milli(const struct quantity *q) { return q->milli; }

char *quantity_format(const struct quantity *q, char *buf, size_t len)
{
  int64_t m = q->milli;
  if (m == 0) {
    snprintf(buf, len, "0");
    return buf;
  }
  uint64_t a = m < 0 ? (uint64_t)(-(m + 1)) + 1 : (uint64_t)m;
  const char *sign = m < 0 ? "-" : "";
  enum quantity_format fmt = q->format;
  if (fmt == QF_BINARY_SI && (a < 1024 * 1000 || a % 1000 != 0))
    fmt = QF_DECIMAL_SI;
  if (fmt == QF_BINARY_SI) {
    static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    uint64_t v = a / 1000;
    int k = 0;
    while (k < 6 && v % 1024 == 0) {
      v /= 1024;
      k++;
    }
    snprintf(buf, len, "%s%llu%s", sign, (unsigned long long)v, bin[k]);
    return buf;
  }
  /* Largest exponent (a multiple of 3, from milli up to exa) that leaves
   * an integral mantissa. */
  static const char *const dec[] = {"m", "", "k", "M", "G", "T", "P", "E"};
  uint64_t v = a;
  int k = 0;
  while (k < 7 && v % 1000 == 0) {
    v /= 1000;
    k++;
  }
  if (fmt == QF_DECIMAL_EXPONENT) {
    int e = (k - 1) * 3;
    if (e == 0)
      snprintf(buf, len, "%s%llu", sign, (unsigned long long)v);
    else
      snprintf(buf, len, "%s%llue%d", sign, (unsigned long long)v, e);
  } else {
    snprintf(buf, len, "%s%llu%s", sign, (unsigned long long)v, dec[k]);
  }
  return buf;
}
