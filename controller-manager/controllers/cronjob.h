/*
 * cronjob.h - the CronJob controller's pure sync step, for tests.
 */
#ifndef CM_CRONJOB_H
#define CM_CRONJOB_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "controllers/cron.h"

struct cm_actions;

#define CJ_SCHEDULED_TIMESTAMP_ANN "batch.kubernetes.io/cronjob-scheduled-timestamp"
#define CJ_NEXT_SCHEDULE_DELTA_MS 100
#define CJ_MAX_MISSED 100

struct cj_result {
  json_t *status; /* new reference: the status to write (before the new Job) */
  bool status_changed;
  json_t *create_job;     /* new reference: the Job to POST, or NULL */
  int64_t scheduled_time; /* the create_job's scheduled time */
  int64_t requeue_ms;     /* >= 0: sync again after this */
};

/*
 * One sync of cj given the Jobs it controls (array, borrowed).
 * Appends deletions (Replace, history limits) and Events to acts.  The
 * caller POSTs res->create_job and, on success, appends its reference to
 * status.active and sets lastScheduleTime before writing the status.
 */
int cj_compute(const json_t *cj, const json_t *jobs, int64_t now, struct cm_actions *acts, struct cj_result *res);
/* Same; recent (object uid -> true, or NULL) names Jobs this controller
 * just created, which the cached status may not list yet. */
int cj_compute_recent(const json_t *cj, const json_t *jobs, const json_t *recent, int64_t now, struct cm_actions *acts,
                      struct cj_result *res);
void cj_result_free(struct cj_result *res);

/* mostRecentScheduleTime: the latest activation at or before now after
 * the last schedule (or creation, or now - startingDeadlineSeconds);
 * *missed counts the activations missed (approximation, as upstream).
 * Returns 0 (with *most_recent 0 when none), or -EINVAL for a schedule
 * whose two next activations coincide. */
int cj_most_recent_schedule(const json_t *cj, const struct cron_schedule *s, const struct cron_tz *tz, int64_t now,
                            bool with_deadline, int64_t *earliest, int64_t *most_recent, int64_t *missed);

/* Finished: "Complete" or "Failed" (condition True), else NULL. */
const char *cj_job_finished(const json_t *job);

#endif
