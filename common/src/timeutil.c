/*
 * timeutil.c - clocks, RFC 3339 times and Go durations.
 *
 * The API writes metav1.Time with second precision in UTC and
 * metav1.MicroTime with six fraction digits; we parse any RFC 3339 form a
 * client may send (any fraction length, "Z" or a numeric offset).
 * Durations follow Go's time.ParseDuration, whose error texts surface in
 * flag errors, and kubectl's HumanDuration for the AGE column.
 */
#define _GNU_SOURCE
#include "kube/timeutil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

int64_t ktime_now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ktime_mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *ktime_format(time_t t, char *out)
{
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

char *ktime_format_micro(int64_t us, char *out)
{
  int64_t sec = us / 1000000, frac = us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    sec--;
  }
  time_t t = (time_t)sec;
  struct tm tm;
  char date[32];
  gmtime_r(&t, &tm);
  /* strftime has no sub-second field; splice the microseconds in. */
  size_t n = strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  memcpy(out, date, n);
  out[n++] = '.';
  for (int i = 5; i >= 0; i--, frac /= 10) out[n + (size_t)i] = (char)('0' + frac % 10);
  n += 6;
  out[n++] = 'Z';
  out[n] = '\0';
  return out;
}

char *ktime_now_str(char *out) { return ktime_format((time_t)(ktime_now_us() / 1000000), out); }

char *ktime_now_micro_str(char *out) { return ktime_format_micro(ktime_now_us(), out); }

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return true;
}

int ktime_parse(const char *s, int64_t *us_out)
{
  int Y, M, D, h, m, sec, oh = 0, om = 0;
  const char *p = s;
  if (!s) return -EINVAL;
  if (!digits(&p, 4, &Y) || *p++ != '-' || !digits(&p, 2, &M) || *p++ != '-' || !digits(&p, 2, &D) ||
      (*p != 'T' && *p != 't') || !(p++, digits(&p, 2, &h)) || *p++ != ':' || !digits(&p, 2, &m) || *p++ != ':' ||
      !digits(&p, 2, &sec))
    return -EINVAL;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return -EINVAL;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
  if (D > mdays[M - 1] || (M == 2 && D == 29 && !leap)) return -EINVAL;
  int64_t frac_us = 0;
  if (*p == '.') {
    p++;
    int nd = 0;
    int64_t scale = 100000;
    while (*p >= '0' && *p <= '9') {
      frac_us += (*p - '0') * scale;
      scale /= 10;
      p++;
      nd++;
    }
    if (nd == 0) return -EINVAL;
  }
  int sign = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    sign = *p++ == '-' ? -1 : 1;
    if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59) return -EINVAL;
  } else {
    return -EINVAL;
  }
  if (*p) return -EINVAL;
  struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
  int64_t t = (int64_t)timegm(&tm);
  t -= sign * (oh * 3600 + om * 60);
  *us_out = t * 1000000 + frac_us;
  return 0;
}

struct dur_unit {
  const char *name;
  int64_t ns;
};

static const struct dur_unit dur_units[] = {
    {"ns", 1},       {"us", 1000},        {"\xc2\xb5s", 1000},  {"\xce\xbcs", 1000},
    {"ms", 1000000}, {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL},
};

int ktime_parse_duration_ms_err(const char *orig, int64_t *ms_out, char *err, size_t errlen)
{
  const char *s = orig;
  bool neg = false;
  long double total = 0;
  if (!s) s = "";
  if (*s == '-' || *s == '+') neg = *s++ == '-';
  if (strcmp(s, "0") == 0) {
    *ms_out = 0;
    return 0;
  }
  if (!*s) goto invalid;
  while (*s) {
    long double v = 0;
    bool any = false;
    while (*s >= '0' && *s <= '9') {
      v = v * 10 + (*s++ - '0');
      any = true;
    }
    if (*s == '.') {
      s++;
      long double scale = 0.1L;
      while (*s >= '0' && *s <= '9') {
        v += (*s++ - '0') * scale;
        scale /= 10;
        any = true;
      }
    }
    if (!any) goto invalid;
    const char *u = s;
    while (*s && *s != '.' && (*s < '0' || *s > '9')) s++;
    size_t ulen = (size_t)(s - u);
    if (ulen == 0) {
      if (err && errlen) snprintf(err, errlen, "time: missing unit in duration \"%s\"", orig ? orig : "");
      return -EINVAL;
    }
    const struct dur_unit *found = NULL;
    for (size_t i = 0; i < sizeof dur_units / sizeof dur_units[0]; i++)
      if (strlen(dur_units[i].name) == ulen && memcmp(dur_units[i].name, u, ulen) == 0) found = &dur_units[i];
    if (!found) {
      if (err && errlen)
        snprintf(err, errlen, "time: unknown unit \"%.*s\" in duration \"%s\"", (int)ulen, u, orig ? orig : "");
      return -EINVAL;
    }
    total += v * (long double)found->ns;
    if (total > 9223372036854775807.0L) goto invalid;
  }
  *ms_out = (int64_t)(total / 1000000.0L) * (neg ? -1 : 1);
  return 0;
invalid:
  if (err && errlen) snprintf(err, errlen, "time: invalid duration \"%s\"", orig ? orig : "");
  return -EINVAL;
}

int ktime_parse_duration_ms(const char *s, int64_t *ms_out) { return ktime_parse_duration_ms_err(s, ms_out, NULL, 0); }

char *ktime_format_duration_ms(int64_t ms, char *out, size_t len)
{
  char buf[64];
  size_t o = 0;
  uint64_t u = ms < 0 ? (uint64_t)(-(ms + 1)) + 1 : (uint64_t)ms;
  if (ms < 0) buf[o++] = '-';
  if (u == 0) {
    snprintf(out, len, "0s");
    return out;
  }
  if (u < 1000) {
    snprintf(buf + o, sizeof buf - o, "%llums", (unsigned long long)u);
  } else {
    uint64_t h = u / 3600000, m = u / 60000 % 60, s = u / 1000 % 60, frac = u % 1000;
    if (h) o += (size_t)snprintf(buf + o, sizeof buf - o, "%lluh", (unsigned long long)h);
    if (h || m) o += (size_t)snprintf(buf + o, sizeof buf - o, "%llum", (unsigned long long)m);
    o += (size_t)snprintf(buf + o, sizeof buf - o, "%llu", (unsigned long long)s);
    if (frac) {
      o += (size_t)snprintf(buf + o, sizeof buf - o, ".%03llu", (unsigned long long)frac);
      while (buf[o - 1] == '0') o--;
    }
    buf[o++] = 's';
    buf[o] = '\0';
  }
  snprintf(out, len, "%s", buf);
  return out;
}

char *ktime_human_age(int64_t seconds, char *out, size_t len)
{
  if (seconds < -1) {
    snprintf(out, len, "<invalid>");
    return out;
  }
  if (seconds < 0) seconds = 0;
  long long s = seconds, minutes = s / 60, hours = s / 3600, days = hours / 24, years = hours / (24 * 365);
  if (s < 120) snprintf(out, len, "%llds", s);
  else if (minutes < 10)
    s % 60 ? snprintf(out, len, "%lldm%llds", minutes, s % 60) : snprintf(out, len, "%lldm", minutes);
  else if (minutes < 180) snprintf(out, len, "%lldm", minutes);
  else if (hours < 8)
    minutes % 60 ? snprintf(out, len, "%lldh%lldm", hours, minutes % 60) : snprintf(out, len, "%lldh", hours);
  else if (hours < 48) snprintf(out, len, "%lldh", hours);
  else if (hours < 24 * 8)
    hours % 24 ? snprintf(out, len, "%lldd%lldh", days, hours % 24) : snprintf(out, len, "%lldd", days);
  else if (hours < 24 * 365 * 2) snprintf(out, len, "%lldd", days);
  else if (hours < 24 * 365 * 8)
    days % 365 ? snprintf(out, len, "%lldy%lldd", years, days % 365) : snprintf(out, len, "%lldy", years);
  else snprintf(out, len, "%lldy", years);
  return out;
}
