/*
 * quantity.c - resource.Quantity: parsing, arithmetic, canonical form.
 *
 * Parsing follows upstream's ParseQuantity step by step, because its
 * corner cases are part of the wire format:
 *   1. the scanner splits "<sign><number><suffix>" (leading zeros of the
 *      integer part are skipped; "1.", ".", "+" are numbers; anything the
 *      scanner cannot place is the "must match the regular expression"
 *      error);
 *   2. the suffix is a decimal SI one (n u m "" k M G T P E), a binary one
 *      (Ki..Ei) or an exponent (e3, E-2); anything else is the suffix error;
 *   3. the fast path: at most 18 digits that give an exact int64 at a
 *      scale of at least nano.  When that value is already in canonical
 *      form, upstream keeps the input string and serializes it back as
 *      given ("+1", "1.500" and "01" stay as they are); we keep it in
 *      q->text under the same conditions;
 *   4. otherwise the exact decimal is rounded away from zero to nano and
 *      BinarySI values are capped at 2^63-1.
 * Values are kept as nano-units in a 128-bit integer.
 *
 * The canonical form (CanonicalizeBytes): a decimal mantissa with the
 * largest exponent that is a multiple of 3 ("1500M", "80e-3"); BinarySI
 * prints base-1024 ("1536Mi") when the value is an integer of at least
 * 1024 in magnitude, and DecimalSI otherwise.
 */
#include "kube/quantity.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "kube/strconv.h"
#include "kube/xalloc.h"

typedef __int128 i128;

#define NANO 1000000000LL
/* |nano| stays below this: 10^38 / 10 keeps every step inside i128. */
#define NANO_LIMIT ((i128)1 << 126)
#define MAX_INT64_FACTORS 18

/* --- scanning (parseQuantityString) --- */

struct scan {
  bool positive;
  const char *value; /* sign, digits and dot: [value, value_end) */
  size_t value_len;
  const char *num; /* integer digits without leading zeros ("0" if none) */
  size_t num_len;
  const char *denom; /* fraction digits */
  size_t denom_len;
  const char *suffix;
};

static size_t span_digits(const char *p)
{
  size_t n = 0;
  while (p[n] >= '0' && p[n] <= '9') n++;
  return n;
}

static int scan_quantity(const char *str, struct scan *sc)
{
  const char *p = str, *end = str + strlen(str);
  memset(sc, 0, sizeof *sc);
  sc->positive = true;
  sc->suffix = end;
  if (*p == '-' || *p == '+') sc->positive = *p++ != '-';
  while (*p == '0') p++;
  if (p == end) { /* only zeros (or nothing) after the sign */
    sc->num = "0";
    sc->num_len = 1;
    sc->value = "0";
    sc->value_len = 1;
    return 0;
  }
  sc->num = p;
  sc->num_len = span_digits(p);
  p += sc->num_len;
  if (sc->num_len == 0) {
    sc->num = "0";
    sc->num_len = 1;
  }
  if (*p == '.') {
    p++;
    sc->denom = p;
    sc->denom_len = span_digits(p);
    p += sc->denom_len;
  }
  sc->value = str;
  sc->value_len = (size_t)(p - str);
  sc->suffix = p;
  while (*p && strchr("eEinumkKMGTP", *p)) p++;
  if (*p == '-' || *p == '+') p++;
  p += span_digits(p);
  return *p ? QUANTITY_ERR_FORMAT : 0;
}

/* --- suffixes --- */

struct suffix {
  int base;     /* 10 or 2 */
  int exponent; /* of the base */
  enum quantity_format format;
};

static int interpret_suffix(const char *s, struct suffix *out)
{
  static const struct {
    const char *name;
    int base, exponent;
  } table[] = {
      {"", 10, 0},   {"n", 10, -9}, {"u", 10, -6}, {"m", 10, -3}, {"k", 10, 3},  {"M", 10, 6},
      {"G", 10, 9},  {"T", 10, 12}, {"P", 10, 15}, {"E", 10, 18}, {"Ki", 2, 10}, {"Mi", 2, 20},
      {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50}, {"Ei", 2, 60},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (strcmp(s, table[i].name) == 0) {
      out->base = table[i].base;
      out->exponent = table[i].exponent;
      out->format = table[i].base == 2 ? QF_BINARY_SI : QF_DECIMAL_SI;
      return 0;
    }
  }
  if ((s[0] == 'e' || s[0] == 'E') && s[1]) {
    int64_t e;
    if (kstr_parse_int64(s + 1, &e) != 0 || e < INT32_MIN || e > INT32_MAX) return QUANTITY_ERR_SUFFIX;
    out->base = 10;
    out->exponent = (int)e;
    out->format = QF_DECIMAL_EXPONENT;
    return 0;
  }
  return QUANTITY_ERR_SUFFIX;
}

/* --- exact arithmetic helpers --- */

static i128 i128_abs(i128 v) { return v < 0 ? -v : v; }

static int mul_checked(i128 *v, i128 by)
{
  if (*v != 0 && by != 0 && i128_abs(by) > NANO_LIMIT / i128_abs(*v)) return QUANTITY_ERR_RANGE;
  *v *= by;
  return 0;
}

/* v * 10^exp into *out, exp >= 0. */
static int scale_up(i128 v, int exp, i128 *out)
{
  for (int i = 0; i < exp && v != 0; i++)
    if (mul_checked(&v, 10) < 0) return QUANTITY_ERR_RANGE;
  *out = v;
  return 0;
}

/* --- the fast path (int64Amount) --- */

static bool canonical_input(const struct suffix *sfx, int64_t digits_value, int scale, const char *shifted,
                            size_t shifted_len)
{
  if (sfx->format == QF_BINARY_SI) return sfx->exponent % 10 == 0 && (digits_value & 0x07) != 0;
  bool ends_000 = shifted_len >= 3 && memcmp(shifted + shifted_len - 3, "000", 3) == 0;
  return scale % 3 == 0 && !ends_000 && shifted[0] != '0';
}

/* 1 when the fast path applied (q filled), 0 when the slow path must run,
 * or an error. */
static int parse_fast(const char *str, const struct scan *sc, const struct suffix *sfx, struct quantity *q)
{
  int precision, scale;
  int64_t mantissa = 1;
  if (sfx->format == QF_BINARY_SI) {
    if (sfx->exponent < 0 || sc->denom_len > 0) return 0;
    mantissa = (int64_t)1 << sfx->exponent;
    precision = 15 - (int)sc->num_len - (int)((float)sfx->exponent * 3 / 10) - 1;
    scale = 0;
  } else {
    precision = MAX_INT64_FACTORS - (int)(sc->num_len + sc->denom_len);
    scale = sfx->exponent;
  }
  if (precision < 0) return 0;
  scale -= (int)sc->denom_len;
  if (scale < -9) return 0;
  char shifted[2 * MAX_INT64_FACTORS + 2];
  size_t n = sc->num_len + sc->denom_len;
  memcpy(shifted, sc->num, sc->num_len);
  if (sc->denom_len) memcpy(shifted + sc->num_len, sc->denom, sc->denom_len);
  shifted[n] = '\0';
  int64_t value;
  if (kstr_parse_int64(shifted, &value) != 0) return QUANTITY_ERR_NUMERIC;
  int64_t result;
  if (__builtin_mul_overflow(value, mantissa, &result)) return 0;
  if (!sc->positive) result = -result;
  i128 nano;
  if (scale_up(result, scale + 9, &nano) < 0) return QUANTITY_ERR_RANGE;
  q->nano = nano;
  q->format = sfx->format;
  q->text[0] = '\0';
  if (canonical_input(sfx, value, scale, shifted, n) && strlen(str) < sizeof q->text)
    snprintf(q->text, sizeof q->text, "%s", str);
  return 1;
}

/* --- the slow path (inf.Dec, rounded up to nano) --- */

/* The decimal digits of value (sign, digits, one optional dot) times
 * 10^exp10 * 2^exp2, in nano-units rounded away from zero. */
static int exact_nano(const struct scan *sc, int exp10, int exp2, i128 *out)
{
  i128 n = 0;
  int frac = 0;
  bool sticky = false, any = false, dot = false;
  for (size_t i = 0; i < sc->value_len; i++) {
    char c = sc->value[i];
    if (c == '+' || c == '-') continue;
    if (c == '.') {
      dot = true;
      continue;
    }
    any = true;
    if (n > NANO_LIMIT / 10) { /* beyond 38 digits: only a fraction can be dropped */
      if (!dot) return QUANTITY_ERR_RANGE;
      sticky = sticky || c != '0';
      continue;
    }
    n = n * 10 + (c - '0');
    if (dot) frac++;
  }
  if (!any) return QUANTITY_ERR_NUMERIC;
  for (int i = 0; i < exp2; i++)
    if (mul_checked(&n, 2) < 0) return QUANTITY_ERR_RANGE;
  int scale = exp10 - frac + 9; /* nano = n * 10^scale */
  if (scale >= 0) return scale_up(n, scale, out);
  for (int i = 0; i < -scale && n != 0; i++) {
    sticky = sticky || n % 10 != 0;
    n /= 10;
  }
  *out = n + (sticky ? 1 : 0);
  return 0;
}

static int parse_slow(const struct scan *sc, const struct suffix *sfx, struct quantity *q)
{
  i128 nano;
  int rc = exact_nano(sc, sfx->base == 10 ? sfx->exponent : 0, sfx->base == 2 ? sfx->exponent : 0, &nano);
  if (rc < 0) return rc;
  enum quantity_format format = sfx->format;
  if (format == QF_BINARY_SI && nano > (i128)INT64_MAX * NANO) nano = (i128)INT64_MAX * NANO;
  if (format == QF_BINARY_SI && nano > 0 && nano < NANO) format = QF_DECIMAL_SI;
  q->nano = sc->positive ? nano : -nano;
  q->format = format;
  q->text[0] = '\0';
  return 0;
}

int quantity_parse(const char *s, struct quantity *q)
{
  struct scan sc;
  struct suffix sfx;
  if (!s || !*s) return QUANTITY_ERR_FORMAT;
  if (strcmp(s, "0") == 0) {
    q->nano = 0;
    q->format = QF_DECIMAL_SI;
    snprintf(q->text, sizeof q->text, "0");
    return 0;
  }
  int rc = scan_quantity(s, &sc);
  if (rc < 0) return rc;
  if ((rc = interpret_suffix(sc.suffix, &sfx)) < 0) return rc;
  struct quantity tmp;
  rc = parse_fast(s, &sc, &sfx, &tmp);
  if (rc == 0) rc = parse_slow(&sc, &sfx, &tmp);
  if (rc < 0) return rc;
  *q = tmp;
  return 0;
}

const char *quantity_strerror(int rc)
{
  switch (rc) {
  case QUANTITY_ERR_FORMAT:
    return "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  case QUANTITY_ERR_NUMERIC: return "unable to parse numeric part of quantity";
  case QUANTITY_ERR_SUFFIX: return "unable to parse quantity's suffix";
  case QUANTITY_ERR_RANGE: return "quantity is too large";
  default: return "invalid quantity";
  }
}

int quantity_from_json(const json_t *v, struct quantity *q)
{
  char buf[64];
  const char *s;
  if (!v || json_is_null(v)) {
    memset(q, 0, sizeof *q);
    q->format = QF_DECIMAL_SI;
    return 0;
  }
  if (json_is_integer(v)) {
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    return quantity_parse(buf, q);
  }
  if (json_is_real(v)) return quantity_parse(kstr_format_float(json_real_value(v), buf, sizeof buf), q);
  if (!(s = json_string_value(v))) return QUANTITY_ERR_FORMAT;
  size_t len = strlen(s);
  while (len && isspace((unsigned char)s[len - 1])) len--;
  while (len && isspace((unsigned char)*s)) s++, len--;
  if (len == strlen(s)) return quantity_parse(s, q);
  char *t = xstrndup(s, len);
  if (!t) return -ENOMEM;
  int rc = quantity_parse(t, q);
  free(t);
  return rc;
}

void quantity_set_int(struct quantity *q, int64_t value, enum quantity_format f)
{
  q->nano = (i128)value * NANO;
  q->format = f;
  q->text[0] = '\0';
}

void quantity_set_milli(struct quantity *q, int64_t milli, enum quantity_format f)
{
  q->nano = (i128)milli * 1000000;
  q->format = f;
  q->text[0] = '\0';
}

int quantity_cmp(const struct quantity *a, const struct quantity *b)
{
  return (a->nano > b->nano) - (a->nano < b->nano);
}

int quantity_sign(const struct quantity *q) { return (q->nano > 0) - (q->nano < 0); }

static int combine(struct quantity *a, const struct quantity *b, int sign)
{
  i128 r = a->nano + sign * b->nano;
  if (i128_abs(a->nano) >= NANO_LIMIT / 2 || i128_abs(b->nano) >= NANO_LIMIT / 2) return -ERANGE;
  if (a->nano == 0) a->format = b->format;
  a->nano = r;
  a->text[0] = '\0';
  return 0;
}

int quantity_add(struct quantity *a, const struct quantity *b) { return combine(a, b, 1); }
int quantity_sub(struct quantity *a, const struct quantity *b) { return combine(a, b, -1); }

/* ceil(|nano| / unit) with the sign of nano, saturated to int64. */
static int64_t scaled(const struct quantity *q, int64_t unit)
{
  i128 a = i128_abs(q->nano);
  i128 v = a / unit + (a % unit != 0);
  if (v > INT64_MAX) return q->nano < 0 ? INT64_MIN : INT64_MAX;
  return q->nano < 0 ? -(int64_t)v : (int64_t)v;
}

int64_t quantity_value(const struct quantity *q) { return scaled(q, NANO); }
int64_t quantity_milli(const struct quantity *q) { return scaled(q, 1000000); }

/* Digits of a non-negative i128 into buf; returns buf. */
static char *u128_str(i128 v, char *buf, size_t len)
{
  char tmp[48];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v && n < (int)sizeof tmp);
  size_t i = 0;
  while (n && i + 1 < len) buf[i++] = tmp[--n];
  buf[i] = '\0';
  return buf;
}

static const char *decimal_suffix(int exponent, char *ebuf, size_t len, enum quantity_format f)
{
  static const char *const si[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
  if (f == QF_DECIMAL_SI && exponent >= -9 && exponent <= 18) return si[(exponent + 9) / 3];
  if (exponent == 0) return "";
  snprintf(ebuf, len, "e%d", exponent);
  return ebuf;
}

static char *format_decimal(i128 a, const char *sign, enum quantity_format f, char *buf, size_t len)
{
  int exponent = -9;
  while (a >= 10 && a % 10 == 0) {
    a /= 10;
    exponent++;
  }
  while (exponent % 3 != 0) { /* down to a multiple of 3 */
    a *= 10;
    exponent--;
  }
  char digits[48], ebuf[16];
  snprintf(buf, len, "%s%s%s", sign, u128_str(a, digits, sizeof digits),
           decimal_suffix(exponent, ebuf, sizeof ebuf, f));
  return buf;
}

char *quantity_format(const struct quantity *q, char *buf, size_t len)
{
  if (q->text[0]) {
    snprintf(buf, len, "%s", q->text);
    return buf;
  }
  if (q->nano == 0) {
    snprintf(buf, len, "0");
    return buf;
  }
  i128 a = i128_abs(q->nano);
  const char *sign = q->nano < 0 ? "-" : "";
  enum quantity_format f = q->format;
  if (f == QF_BINARY_SI && (a < (i128)1024 * NANO || a % NANO != 0)) f = QF_DECIMAL_SI;
  if (f != QF_BINARY_SI) return format_decimal(a, sign, f, buf, len);
  static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  i128 v = a / NANO;
  int k = 0;
  while (k < 6 && v >= 1024 && v % 1024 == 0) {
    v /= 1024;
    k++;
  }
  char digits[48];
  snprintf(buf, len, "%s%s%s", sign, u128_str(v, digits, sizeof digits), bin[k]);
  return buf;
}
