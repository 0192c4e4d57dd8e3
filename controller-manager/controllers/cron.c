/*
 * cron.c - cron schedule parsing and next-time computation for CronJobs.
 *
 * Syntax and semantics follow the cron library upstream Kubernetes uses
 * (robfig/cron v3, ParseStandard): each field becomes a 64-bit mask; a
 * field written "*" or "?" also carries CRON_STAR, and when either
 * day-of-month or day-of-week is starred both must match, otherwise either
 * may ("0 0 13 * 5" is every 13th and every Friday).  A step on a star
 * ("*\/5") clears the star bit again.
 *
 * cron_next() walks wall-clock fields exactly as that library does: month,
 * then day (from local midnight, correcting for DST-shifted midnights),
 * then hour, minute, second, adding absolute hours and minutes inside a
 * day.  Local times are converted to instants like Go's time.Date, so a
 * nonexistent local time (spring forward) resolves with the offset in
 * effect before the gap, and an hour repeated at fall back is visited
 * twice.  Zones come from the system's TZif files (version 2+ 64-bit
 * data); past the last listed transition the last offset is kept (Debian
 * ships "fat" files that list transitions until 2037).
 */
#include "controllers/cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kube/timeutil.h"
#include "kube/xalloc.h"

struct bounds {
  unsigned min, max;
  const char *const *names; /* index = value, from min */
};

static const char *const month_names[] = {"",    "jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct bounds b_minute = {0, 59, NULL}, b_hour = {0, 23, NULL}, b_dom = {1, 31, NULL},
                           b_month = {1, 12, month_names}, b_dow = {0, 6, dow_names};

static int parse_uint(const char *s, size_t len, unsigned *out, char *err, size_t errlen)
{
  char buf[32];
  if (len == 0 || len >= sizeof buf) goto bad;
  memcpy(buf, s, len);
  buf[len] = 0;
  for (size_t i = 0; i < len; i++)
    if (!isdigit((unsigned char)buf[i])) goto bad;
  *out = (unsigned)strtoul(buf, NULL, 10);
  return 0;
bad:
  snprintf(err, errlen, "failed to parse int from %.*s", (int)len, s);
  return -EINVAL;
}

static int parse_int_or_name(const char *s, size_t len, const struct bounds *b, unsigned *out, char *err, size_t errlen)
{
  if (b->names) {
    for (unsigned i = 0; b->names[i]; i++)
      if (*b->names[i] && strlen(b->names[i]) == len && !strncasecmp(b->names[i], s, len)) {
        *out = i;
        return 0;
      }
  }
  return parse_uint(s, len, out, err, errlen);
}

static uint64_t bits(unsigned start, unsigned end, unsigned step)
{
  uint64_t m = 0;
  for (unsigned i = start; i <= end; i += step) m |= 1ULL << i;
  return m;
}

/* One comma-separated element: "*", "a", "a-b", with optional "/step". */
static int parse_range(const char *expr, size_t len, const struct bounds *b, uint64_t *out, char *err, size_t errlen)
{
  const char *slash = memchr(expr, '/', len);
  size_t rlen = slash ? (size_t)(slash - expr) : len;
  if (slash && memchr(slash + 1, '/', len - rlen - 1)) {
    snprintf(err, errlen, "too many slashes: %.*s", (int)len, expr);
    return -EINVAL;
  }
  unsigned start, end, step = 1;
  uint64_t extra = 0;
  const char *dash = memchr(expr, '-', rlen);
  bool single = !dash;
  if (rlen == 1 && (expr[0] == '*' || expr[0] == '?')) {
    start = b->min;
    end = b->max;
    extra = CRON_STAR;
  } else {
    size_t l1 = dash ? (size_t)(dash - expr) : rlen;
    if (parse_int_or_name(expr, l1, b, &start, err, errlen) < 0) return -EINVAL;
    if (!dash) {
      end = start;
    } else {
      const char *e2 = dash + 1;
      size_t l2 = rlen - l1 - 1;
      if (memchr(e2, '-', l2)) {
        snprintf(err, errlen, "too many hyphens: %.*s", (int)len, expr);
        return -EINVAL;
      }
      if (parse_int_or_name(e2, l2, b, &end, err, errlen) < 0) return -EINVAL;
    }
  }
  if (slash) {
    if (parse_uint(slash + 1, len - rlen - 1, &step, err, errlen) < 0) return -EINVAL;
    if (single) end = b->max; /* "N/step" means "N-max/step" */
    if (step > 1) extra = 0;
  }
  if (start < b->min) {
    snprintf(err, errlen, "beginning of range (%u) below minimum (%u): %.*s", start, b->min, (int)len, expr);
    return -EINVAL;
  }
  if (end > b->max) {
    snprintf(err, errlen, "end of range (%u) above maximum (%u): %.*s", end, b->max, (int)len, expr);
    return -EINVAL;
  }
  if (start > end) {
    snprintf(err, errlen, "beginning of range (%u) beyond end of range (%u): %.*s", start, end, (int)len, expr);
    return -EINVAL;
  }
  if (step == 0) {
    snprintf(err, errlen, "step of range should be a positive number: %.*s", (int)len, expr);
    return -EINVAL;
  }
  *out |= bits(start, end, step) | extra;
  return 0;
}

static int parse_field(const char *f, size_t len, const struct bounds *b, uint64_t *out, char *err, size_t errlen)
{
  *out = 0;
  size_t i = 0;
  while (i <= len) {
    size_t j = i;
    while (j < len && f[j] != ',') j++;
    if (parse_range(f + i, j - i, b, out, err, errlen) < 0) return -EINVAL;
    i = j + 1;
  }
  return 0;
}

static int parse_descriptor(const char *spec, struct cron_schedule *out, char *err, size_t errlen)
{
  static const struct {
    const char *name, *expr;
  } macros[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
      {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
  };
  for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
    if (!strcmp(spec, macros[i].name)) return cron_parse(macros[i].expr, out, err, errlen);
  if (!strncmp(spec, "@every ", 7)) {
    int64_t ms;
    if (ktime_parse_duration_ms(spec + 7, &ms) < 0 || ms <= 0) {
      snprintf(err, errlen, "failed to parse duration %s", spec);
      return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->every_s = ms < 1000 ? 1 : ms / 1000;
    return 0;
  }
  snprintf(err, errlen, "unrecognized descriptor: %s", spec);
  return -EINVAL;
}

int cron_parse(const char *spec, struct cron_schedule *out, char *err, size_t errlen)
{
  if (!spec) spec = "";
  while (*spec == ' ' || *spec == '\t') spec++;
  if (!strncmp(spec, "TZ=", 3) || !strncmp(spec, "CRON_TZ=", 8)) {
    snprintf(err, errlen, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
    return -EINVAL;
  }
  if (!*spec) {
    snprintf(err, errlen, "empty spec string");
    return -EINVAL;
  }
  if (*spec == '@') return parse_descriptor(spec, out, err, errlen);
  const char *f[5];
  size_t fl[5];
  int n = 0;
  const char *p = spec;
  while (*p) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) break;
    const char *s = p;
    while (*p && *p != ' ' && *p != '\t') p++;
    if (n < 5) {
      f[n] = s;
      fl[n] = (size_t)(p - s);
    }
    n++;
  }
  if (n != 5) {
    snprintf(err, errlen, "expected exactly 5 fields, found %d: %s", n, spec);
    return -EINVAL;
  }
  memset(out, 0, sizeof(*out));
  if (parse_field(f[0], fl[0], &b_minute, &out->minute, err, errlen) < 0 ||
      parse_field(f[1], fl[1], &b_hour, &out->hour, err, errlen) < 0 ||
      parse_field(f[2], fl[2], &b_dom, &out->dom, err, errlen) < 0 ||
      parse_field(f[3], fl[3], &b_month, &out->month, err, errlen) < 0 ||
      parse_field(f[4], fl[4], &b_dow, &out->dow, err, errlen) < 0)
    return -EINVAL;
  return 0;
}

/* ---- time zones ---- */

struct cron_tz {
  int64_t *tx;        /* transition times */
  unsigned char *idx; /* type index per transition */
  int32_t *off;       /* offset per type */
  unsigned char *dst; /* isdst per type */
  size_t ntx, ntypes;
};

static uint32_t be32(const unsigned char *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

static struct cron_tz *tz_utc(void)
{
  struct cron_tz *tz = xcalloc(1, sizeof(*tz));
  if (!tz) return NULL;
  tz->off = xcalloc(1, sizeof(int32_t));
  tz->dst = xcalloc(1, 1);
  tz->ntypes = 1;
  return tz;
}

static struct cron_tz *tz_parse(const unsigned char *d, size_t len)
{
  if (len < 44 || memcmp(d, "TZif", 4)) return NULL;
  uint32_t c[6];
  for (int i = 0; i < 6; i++) c[i] = be32(d + 20 + 4 * i);
  /* isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
  size_t v1 = (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
  int tsize = 4;
  const unsigned char *p = d + 44;
  if (d[4] >= '2' && 44 + v1 + 44 <= len && !memcmp(d + 44 + v1, "TZif", 4)) {
    p = d + 44 + v1 + 44;
    for (int i = 0; i < 6; i++) c[i] = be32(d + 44 + v1 + 20 + 4 * i);
    tsize = 8;
  }
  size_t need = (size_t)c[3] * (tsize + 1) + (size_t)c[4] * 6;
  if ((size_t)(p - d) + need > len || c[4] == 0) return NULL;
  struct cron_tz *tz = xcalloc(1, sizeof(*tz));
  tz->ntx = c[3];
  tz->ntypes = c[4];
  tz->tx = xcalloc(tz->ntx + 1, sizeof(int64_t));
  tz->idx = xcalloc(tz->ntx + 1, 1);
  tz->off = xcalloc(tz->ntypes, sizeof(int32_t));
  tz->dst = xcalloc(tz->ntypes, 1);
  for (size_t i = 0; i < tz->ntx; i++) tz->tx[i] = tsize == 8 ? be64(p + 8 * i) : (int32_t)be32(p + 4 * i);
  p += tz->ntx * tsize;
  for (size_t i = 0; i < tz->ntx; i++) tz->idx[i] = p[i] < tz->ntypes ? p[i] : 0;
  p += tz->ntx;
  for (size_t i = 0; i < tz->ntypes; i++) {
    tz->off[i] = (int32_t)be32(p + 6 * i);
    tz->dst[i] = p[6 * i + 4];
  }
  return tz;
}

struct cron_tz *cron_tz_load(const char *name, char *err, size_t errlen)
{
  char path[512];
  if (!name || !*name || !strcmp(name, "Local")) {
    snprintf(path, sizeof path, "/etc/localtime");
  } else if (!strcmp(name, "UTC")) {
    return tz_utc();
  } else {
    if (name[0] == '/' || strstr(name, "..")) {
      snprintf(err, errlen, "unknown time zone %s", name);
      return NULL;
    }
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (!name || !*name || !strcmp(name, "Local")) return tz_utc();
    snprintf(err, errlen, "unknown time zone %s", name);
    return NULL;
  }
  unsigned char *buf = xmalloc(1 << 20);
  size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
  fclose(f);
  struct cron_tz *tz = buf ? tz_parse(buf, n) : NULL;
  free(buf);
  if (!tz) snprintf(err, errlen, "unknown time zone %s", name ? name : "Local");
  return tz;
}

void cron_tz_free(struct cron_tz *tz)
{
  if (!tz) return;
  free(tz->tx);
  free(tz->idx);
  free(tz->off);
  free(tz->dst);
  free(tz);
}

/* Offset in effect at t and the [start, end) of that period (Go's lookup). */
static int tz_lookup(const struct cron_tz *tz, int64_t t, int64_t *start, int64_t *end)
{
  *start = INT64_MIN;
  *end = INT64_MAX;
  if (!tz || tz->ntx == 0 || t < tz->tx[0]) {
    if (tz && tz->ntx) *end = tz->tx[0];
    if (!tz) return 0;
    for (size_t i = 0; i < tz->ntypes; i++)
      if (!tz->dst[i]) return tz->off[i];
    return tz->off[0];
  }
  size_t lo = 0, hi = tz->ntx;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (tz->tx[mid] <= t) lo = mid;
    else hi = mid;
  }
  *start = tz->tx[lo];
  if (lo + 1 < tz->ntx) *end = tz->tx[lo + 1];
  return tz->off[tz->idx[lo]];
}

int cron_tz_offset(const struct cron_tz *tz, int64_t t)
{
  int64_t s, e;
  return tz_lookup(tz, t, &s, &e);
}

/* ---- civil time ---- */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct civil {
  int64_t year;
  int month, day, hour, minute, second, wday;
};

static void civil_from_unix(int64_t local, struct civil *c)
{
  int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
  int64_t secs = local - days * 86400;
  c->hour = (int)(secs / 3600);
  c->minute = (int)(secs % 3600 / 60);
  c->second = (int)(secs % 60);
  c->wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
  c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
  c->year = yoe + era * 400 + (c->month <= 2);
}

static void local_fields(const struct cron_tz *tz, int64_t t, struct civil *c)
{
  civil_from_unix(t + cron_tz_offset(tz, t), c);
}

/* Go's time.Date: normalizes out-of-range fields, then picks the offset. */
static int64_t go_date(const struct cron_tz *tz, int64_t y, int64_t mon, int64_t d, int64_t h, int64_t mi, int64_t s)
{
  int64_t m0 = mon - 1;
  y += m0 >= 0 ? m0 / 12 : -((-m0 + 11) / 12);
  m0 -= (m0 >= 0 ? m0 / 12 : -((-m0 + 11) / 12)) * 12;
  int64_t lt = (days_from_civil(y, m0 + 1, 1) + d - 1) * 86400 + h * 3600 + mi * 60 + s;
  int64_t start, end;
  int off = tz_lookup(tz, lt, &start, &end);
  if (off != 0) {
    int64_t utc = lt - off;
    if (utc < start || utc >= end) off = tz_lookup(tz, utc, &start, &end);
    lt -= off;
  }
  return lt;
}

static bool day_matches(const struct cron_schedule *s, const struct civil *c)
{
  bool dom = (1ULL << c->day) & s->dom, dow = (1ULL << c->wday) & s->dow;
  if ((s->dom & CRON_STAR) || (s->dow & CRON_STAR)) return dom && dow;
  return dom || dow;
}

int64_t cron_next(const struct cron_schedule *s, const struct cron_tz *tz, int64_t t)
{
  if (s->every_s > 0) return t + s->every_s;
  t += 1;
  bool added = false;
  struct civil c;
  local_fields(tz, t, &c);
  int64_t year_limit = c.year + 5;
wrap:
  local_fields(tz, t, &c);
  if (c.year > year_limit) return 0;
  while (!((1ULL << c.month) & s->month)) {
    if (!added) {
      added = true;
      t = go_date(tz, c.year, c.month, 1, 0, 0, 0);
      local_fields(tz, t, &c);
    }
    t = go_date(tz, c.year, c.month + 1, c.day, c.hour, c.minute, c.second);
    local_fields(tz, t, &c);
    if (c.month == 1) goto wrap;
  }
  while (!day_matches(s, &c)) {
    if (!added) {
      added = true;
      t = go_date(tz, c.year, c.month, c.day, 0, 0, 0);
      local_fields(tz, t, &c);
    }
    t = go_date(tz, c.year, c.month, c.day + 1, c.hour, c.minute, c.second);
    local_fields(tz, t, &c);
    /* A midnight moved by DST: back to the day's start. */
    if (c.hour != 0) {
      if (c.hour > 12) t += (int64_t)(24 - c.hour) * 3600;
      else t -= (int64_t)c.hour * 3600;
      local_fields(tz, t, &c);
    }
    if (c.day == 1) goto wrap;
  }
  while (!((1ULL << c.hour) & s->hour)) {
    if (!added) {
      added = true;
      t = go_date(tz, c.year, c.month, c.day, c.hour, 0, 0);
      local_fields(tz, t, &c);
    }
    t += 3600;
    local_fields(tz, t, &c);
    if (c.hour == 0) goto wrap;
  }
  while (!((1ULL << c.minute) & s->minute)) {
    if (!added) {
      added = true;
      t -= ((t % 60) + 60) % 60;
      local_fields(tz, t, &c);
    }
    t += 60;
    local_fields(tz, t, &c);
    if (c.minute == 0) goto wrap;
  }
  /* Seconds: only second 0 in the standard syntax. */
  while (c.second != 0) {
    if (!added) {
      added = true;
    }
    t += 1;
    local_fields(tz, t, &c);
    if (c.second == 0) goto wrap;
  }
  return t;
}
