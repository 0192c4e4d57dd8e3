/*
 * timeutil.h - RFC 3339 times as the API writes them.
 * metav1.Time is "2006-01-02T15:04:05Z" (seconds, UTC); metav1.MicroTime
 * (events, leases) is "2006-01-02T15:04:05.000000Z".
 */
#ifndef KUBE_TIMEUTIL_H
#define KUBE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Wall-clock now in microseconds since the epoch; monotonic in ms. */
int64_t ktime_now_us(void);
int64_t ktime_mono_ms(void);
/* Format into out (at least 32 bytes); returns out. */
char *ktime_format(time_t t, char *out);
char *ktime_format_micro(int64_t us, char *out);
char *ktime_now_str(char *out);       /* ktime_format(now) */
char *ktime_now_micro_str(char *out); /* ktime_format_micro(now) */
/* Parse any RFC 3339 time (fraction and offset optional). 0 or -EINVAL. */
int ktime_parse(const char *s, int64_t *us_out);
/* Go duration ("1h2m3.5s", "300ms", "0") to milliseconds. 0 or -EINVAL. */
int ktime_parse_duration_ms(const char *s, int64_t *ms_out);
/* Same, writing Go's error text into err on failure, e.g.
 * time: invalid duration "abc" / time: missing unit in duration "5" /
 * time: unknown unit "x" in duration "5x". */
int ktime_parse_duration_ms_err(const char *s, int64_t *ms_out, char *err, size_t errlen);
/* Milliseconds as Go's Duration.String(): "0s", "300ms", "1m0s", "1h2m3.5s". */
char *ktime_format_duration_ms(int64_t ms, char *out, size_t len);
/* Human age as kubectl prints it: "45s", "5m", "3h", "2d", "3y" ... */
char *ktime_human_age(int64_t seconds, char *out, size_t len);

#endif
