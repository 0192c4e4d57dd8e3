/*
 * cron.h - cron schedules as the CronJob controller reads them (the
 * standard 5-field syntax of the cron library upstream uses) and their
 * next activation time in an IANA time zone.
 */
#ifndef CM_CRON_H
#define CM_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bit n of each mask: value n allowed.  CRON_STAR marks a field written
 * as "*" or "?" (which changes how day-of-month and day-of-week combine). */
#define CRON_STAR (1ULL << 63)

struct cron_schedule {
  uint64_t minute, hour, dom, month, dow;
  int64_t every_s; /* > 0 for "@every DURATION" */
};

/*
 * Parses "MIN HOUR DOM MONTH DOW" (ranges a-b, lists a,b, steps "*\/n", "a-b/n", "a/n",
 * names JAN-DEC and SUN-SAT, "?" as "*") or a macro (@yearly @annually
 * @monthly @weekly @daily @midnight @hourly, @every DURATION).  TZ= and
 * CRON_TZ= prefixes are refused.  Returns 0, or -EINVAL with the reason
 * in err.
 */
int cron_parse(const char *spec, struct cron_schedule *out, char *err, size_t errlen);

/* A time zone from the system zone database (TZif files). */
struct cron_tz;
/* name: IANA name ("Europe/Berlin"), "UTC", or NULL/"" for the local zone
 * (/etc/localtime, else UTC).  NULL with a message in err if unknown. */
struct cron_tz *cron_tz_load(const char *name, char *err, size_t errlen);
void cron_tz_free(struct cron_tz *tz);
/* UTC offset in seconds in effect at unix time t. */
int cron_tz_offset(const struct cron_tz *tz, int64_t t);

/* The first activation strictly after t (unix seconds), computed in tz
 * (NULL: UTC) with the same wall-clock stepping as upstream's library, so
 * skipped local times (spring forward) are skipped and repeated ones (fall
 * back) may fire twice.  0 if none within five years. */
int64_t cron_next(const struct cron_schedule *s, const struct cron_tz *tz, int64_t t);

#endif
