/*
 * cronjobs.c - the batch/v1 CronJob strategy (upstream
 * pkg/registry/batch/cronjob, SetDefaults_CronJob, ValidateCronJob,
 * printCronJob) and the schedule parser the validation needs.
 *
 * Schedules follow the controller's parser (the standard cron format):
 * five whitespace-separated fields - minute 0-59, hour 0-23, day of month
 * 1-31, month 1-12 or jan-dec, day of week 0-6 or sun-sat - each a comma
 * list of `*`, `?`, N, N-M, with an optional /STEP; or a descriptor
 * (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly,
 * @every DURATION).  Error texts are the parser's, since upstream puts them
 * verbatim in the Invalid message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <kube/json.h>
#include <kube/timeutil.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"
#include <kube/xalloc.h>

#define CRONJOB_NAME_MAX 52
#define ZONEINFO_DIR "/usr/share/zoneinfo"

struct cron_bounds {
  int min, max;
  const char *const *names; /* index = value - names_base */
  int names_base;
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct cron_bounds cron_fields[5] = {
    {0, 59, NULL, 0}, {0, 23, NULL, 0}, {1, 31, NULL, 0}, {1, 12, month_names, 1}, {0, 6, dow_names, 0},
};

/* Go's strconv.Atoi plus the parser's wording. */
static int must_parse_int(const char *s, int *out, char *err, size_t errlen)
{
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  bool ok = *p != 0;
  for (const char *q = p; *q; q++)
    if (*q < '0' || *q > '9') ok = false;
  if (!ok) {
    snprintf(err, errlen, "failed to parse int from %s: strconv.Atoi: parsing \"%s\": invalid syntax", s, s);
    return -EINVAL;
  }
  errno = 0;
  long long v = strtoll(s, NULL, 10);
  if (errno || v > 2147483647LL || v < -2147483648LL) {
    snprintf(err, errlen, "failed to parse int from %s: strconv.Atoi: parsing \"%s\": value out of range", s, s);
    return -EINVAL;
  }
  if (v < 0) {
    snprintf(err, errlen, "negative number (%lld) not allowed: %s", v, s);
    return -EINVAL;
  }
  *out = (int)v;
  return 0;
}

static int parse_int_or_name(const char *s, const struct cron_bounds *b, int *out, char *err, size_t errlen)
{
  if (b->names)
    for (int i = 0; b->names[i]; i++)
      if (!strcasecmp(s, b->names[i])) {
        *out = i + b->names_base;
        return 0;
      }
  return must_parse_int(s, out, err, errlen);
}

static int cron_range(const char *expr, const struct cron_bounds *b, char *err, size_t errlen)
{
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", expr);
  char *slash = strchr(buf, '/');
  char *step_s = NULL;
  if (slash) {
    *slash = 0;
    step_s = slash + 1;
    if (strchr(step_s, '/')) {
      snprintf(err, errlen, "too many slashes: %s", expr);
      return -EINVAL;
    }
  }
  int start, end, step = 1;
  char *dash = strchr(buf, '-');
  bool single = dash == NULL;
  if (!strcmp(buf, "*") || !strcmp(buf, "?")) {
    start = b->min;
    end = b->max;
  } else {
    if (dash) {
      *dash = 0;
      if (strchr(dash + 1, '-')) {
        snprintf(err, errlen, "too many hyphens: %s", expr);
        return -EINVAL;
      }
    }
    if (parse_int_or_name(buf, b, &start, err, errlen)) return -EINVAL;
    end = start;
    if (dash && parse_int_or_name(dash + 1, b, &end, err, errlen)) return -EINVAL;
  }
  if (step_s) {
    if (must_parse_int(step_s, &step, err, errlen)) return -EINVAL;
    if (single) end = b->max;
  }
  if (start < b->min) {
    snprintf(err, errlen, "beginning of range (%d) below minimum (%d): %s", start, b->min, expr);
    return -EINVAL;
  }
  if (end > b->max) {
    snprintf(err, errlen, "end of range (%d) above maximum (%d): %s", end, b->max, expr);
    return -EINVAL;
  }
  if (start > end) {
    snprintf(err, errlen, "beginning of range (%d) beyond end of range (%d): %s", start, end, expr);
    return -EINVAL;
  }
  if (step == 0) {
    snprintf(err, errlen, "step of range should be a positive number: %s", expr);
    return -EINVAL;
  }
  return 0;
}

static int cron_field(const char *field, const struct cron_bounds *b, char *err, size_t errlen)
{
  int rc = 0;
  /* Go's strings.Split keeps empty pieces, and an empty piece fails to parse. */
  const char *p = field;
  for (;;) {
    const char *comma = strchr(p, ',');
    char piece[256];
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (n >= sizeof(piece)) n = sizeof(piece) - 1;
    memcpy(piece, p, n);
    piece[n] = 0;
    if ((rc = cron_range(piece, b, err, errlen))) break;
    if (!comma) break;
    p = comma + 1;
  }
  return rc;
}

static bool zone_exists(const char *tz)
{
  if (!strcmp(tz, "UTC") || !strcmp(tz, "")) return true;
  if (tz[0] == '/' || strstr(tz, "..")) return false;
  char path[512];
  struct stat st;
  snprintf(path, sizeof(path), "%s/%s", ZONEINFO_DIR, tz);
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int ext_cron_parse(const char *schedule, char *err, size_t errlen)
{
  if (!schedule || !*schedule) {
    snprintf(err, errlen, "empty spec string");
    return -EINVAL;
  }
  const char *s = schedule;
  if (!strncmp(s, "TZ=", 3) || !strncmp(s, "CRON_TZ=", 8)) {
    const char *eq = strchr(s, '=') + 1;
    const char *sp = strpbrk(eq, " \t");
    if (!sp) {
      snprintf(err, errlen, "expected exactly 5 fields, found 0: []");
      return -EINVAL;
    }
    char tz[256];
    snprintf(tz, sizeof(tz), "%.*s", (int)(sp - eq), eq);
    if (!zone_exists(tz)) {
      snprintf(err, errlen, "provided bad location %s: unknown time zone %s", tz, tz);
      return -EINVAL;
    }
    s = sp;
    while (*s == ' ' || *s == '\t') s++;
  }
  if (*s == '@') {
    static const char *const desc[] = {"@yearly", "@annually", "@monthly", "@weekly",
                                       "@daily",  "@midnight", "@hourly",  NULL};
    for (size_t i = 0; desc[i]; i++)
      if (!strcmp(s, desc[i])) return 0;
    if (!strncmp(s, "@every ", 7)) {
      int64_t ms;
      char derr[256];
      if (ktime_parse_duration_ms_err(s + 7, &ms, derr, sizeof(derr))) {
        snprintf(err, errlen, "failed to parse duration %s: %s", s, derr);
        return -EINVAL;
      }
      return 0;
    }
    snprintf(err, errlen, "unrecognized descriptor: %s", s);
    return -EINVAL;
  }
  char *copy = xstrdup(s), *save = NULL;
  char *fields[64];
  int n = 0;
  for (char *t = strtok_r(copy, " \t\n\r\v\f", &save); t; t = strtok_r(NULL, " \t\n\r\v\f", &save))
    if (n < 64) fields[n++] = t;
  int rc = 0;
  if (n != 5) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fprintf(f, "expected exactly 5 fields, found %d: [", n);
    for (int i = 0; i < n; i++) fprintf(f, "%s%s", i ? " " : "", fields[i]);
    fputc(']', f);
    fclose(f);
    snprintf(err, errlen, "%s", buf);
    free(buf);
    rc = -EINVAL;
  } else {
    for (int i = 0; i < 5 && !rc; i++) rc = cron_field(fields[i], &cron_fields[i], err, errlen);
  }
  free(copy);
  return rc;
}

/* ---- strategy ---- */

static void cj_defaults(json_t *obj)
{
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return;
  kj_default(spec, "concurrencyPolicy", json_string("Allow"));
  kj_default(spec, "suspend", json_false());
  kj_default(spec, "successfulJobsHistoryLimit", json_integer(3));
  kj_default(spec, "failedJobsHistoryLimit", json_integer(1));
  json_t *tmpl = kj_get(spec, "jobTemplate.spec.template");
  if (json_is_object(tmpl)) reg_pod_template_defaults(tmpl);
}

static void validate_schedule(const json_t *spec, const json_t *old, json_t *causes)
{
  const char *sched = kj_get_str(spec, "schedule");
  if (!sched || !*sched) {
    reg_cause_add(causes, REG_REQUIRED, "spec.schedule", "Required value");
    return;
  }
  char err[512];
  if (ext_cron_parse(sched, err, sizeof(err))) reg_cause_invalid_str(causes, "spec.schedule", sched, err);
  const char *osched = old ? kj_get_str(old, "spec.schedule") : NULL;
  bool allow_tz = osched && strstr(osched, "TZ");
  if (strstr(sched, "TZ")) {
    if (!allow_tz)
      reg_cause_invalid_str(causes, "spec.schedule", sched,
                            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
    else if (json_object_get(spec, "timeZone"))
      reg_cause_invalid_str(causes, "spec.schedule", sched,
                            "cannot use both timeZone field and TZ or CRON_TZ in schedule");
  }
}

static void validate_time_zone(const json_t *spec, json_t *causes)
{
  json_t *tzj = json_object_get(spec, "timeZone");
  if (!tzj || json_is_null(tzj)) return;
  const char *tz = json_string_value(tzj);
  if (!tz || !*tz) {
    reg_cause_invalid_str(causes, "spec.timeZone", "", "timeZone must be nil or non-empty string");
  } else if (!strcasecmp(tz, "Local")) {
    reg_cause_invalid_str(causes, "spec.timeZone", tz,
                          "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones");
  } else if (tz[0] == '/' || strstr(tz, "..")) {
    reg_cause_invalid_str(causes, "spec.timeZone", tz, "time: invalid location name");
  } else if (!zone_exists(tz)) {
    char msg[300];
    snprintf(msg, sizeof(msg), "unknown time zone %s", tz);
    reg_cause_invalid_str(causes, "spec.timeZone", tz, msg);
  }
}

static void cj_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  const char *name = kj_get_str(obj, "metadata.name");
  if (name && strlen(name) > CRONJOB_NAME_MAX)
    reg_cause_invalid_str(causes, "metadata.name", name, "must be no more than 52 characters");
  if (old && ext_is_status(rq)) return;
  const json_t *spec = json_object_get(obj, "spec");
  validate_schedule(spec, old, causes);
  validate_time_zone(spec, causes);
  static const char *const policies[] = {"Allow", "Forbid", "Replace", NULL};
  const char *cp = kj_get_str(spec, "concurrencyPolicy");
  if (!cp || !*cp) reg_cause_add(causes, REG_REQUIRED, "spec.concurrencyPolicy", "Required value");
  else reg_check_enum(causes, "spec.concurrencyPolicy", cp, policies);
  ext_nonneg(spec, "spec", "startingDeadlineSeconds", causes);
  ext_nonneg(spec, "spec", "successfulJobsHistoryLimit", causes);
  ext_nonneg(spec, "spec", "failedJobsHistoryLimit", causes);

  const json_t *jt = json_object_get(spec, "jobTemplate");
  reg_validate_labels(kj_get(jt, "metadata.labels"), "spec.jobTemplate.metadata.labels", causes);
  reg_validate_annotations(kj_get(jt, "metadata.annotations"), "spec.jobTemplate.metadata.annotations", causes);
  const json_t *jspec = json_object_get(jt, "spec");
  if (kj_get_bool(jspec, "manualSelector", false)) {
    static const char *const allowed[] = {"nil", "false", NULL};
    reg_cause_not_supported(causes, "spec.jobTemplate.spec.manualSelector", "true", allowed);
  }
  ext_validate_job_spec(jspec, "spec.jobTemplate.spec", causes);
}

static json_t *cj_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  reg_cell_str(row, kj_get_str(obj, "spec.schedule"));
  reg_cell_str(row, reg_str_or(kj_get_str(obj, "spec.timeZone"), "<none>"));
  reg_cell_str(row, ext_bool_ptr(kj_get(obj, "spec.suspend")));
  reg_cell_int(row, (long long)json_array_size(kj_get(obj, "status.active")));
  const char *last = kj_get_str(obj, "status.lastScheduleTime");
  int64_t us;
  char buf[32];
  if (last && ktime_parse(last, &us) == 0) {
    int64_t secs = (ktime_now_us() - us) / 1000000;
    reg_cell_str(row, ktime_human_age(secs < 0 ? 0 : secs, buf, sizeof(buf)));
  } else {
    reg_cell_str(row, "<none>");
  }
  json_array_append_new(row, reg_age_cell(obj));
  reg_cell_containers(row, kj_get(obj, "spec.jobTemplate.spec.template.spec"));
  char *sel = ext_selector_string(kj_get(obj, "spec.jobTemplate.spec.selector"));
  reg_cell_str(row, sel);
  free(sel);
  return row;
}

static const struct reg_column cj_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Schedule", "string", "", 0, "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."},
    {"Timezone", "string", "", 0,
     "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."},
    {"Suspend", "boolean", "", 0,
     "This flag tells the controller to suspend subsequent executions, it does not apply to already started "
     "executions.  Defaults to false."},
    {"Active", "integer", "", 0, "A list of pointers to currently running jobs."},
    {"Last Schedule", "string", "", 0, "Information when was the last time the job was successfully scheduled."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {"Containers", "string", "", 1, "Names of each container in the template."},
    {"Images", "string", "", 1, "Images referenced by each container in the template."},
    {"Selector", "string", "", 1, "A label query over pods that should match the pod count."},
    {NULL},
};

const struct resource reg_cronjobs = {
    .generation = REG_GEN_SPEC,
    .group = "batch",
    .version = "v1",
    .plural = "cronjobs",
    .singular = "cronjob",
    .kind = "CronJob",
    .namespaced = true,
    .short_names = {"cj", NULL},
    .categories = {"all", NULL},
    .subresources = RES_SUB_STATUS,
    .storage_prefix = "/registry/cronjobs",
    .defaults = cj_defaults,
    .prepare_create = ext_prepare_create,
    .prepare_update = ext_prepare_update,
    .validate = cj_validate,
    .columns = cj_columns,
    .cells = cj_cells,
};
