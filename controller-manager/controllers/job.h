/*
 * job.h - the Job controller's pieces: job.c (sync and controller),
 * job_util.c (completed-index sets, pod failure policy, backoff).
 */
#ifndef CM_JOB_H
#define CM_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct cm_actions;

#define JOB_TRACKING_FINALIZER "batch.kubernetes.io/job-tracking"
#define JOB_COMPLETION_INDEX "batch.kubernetes.io/job-completion-index"
#define JOB_DEFAULT_BACKOFF_LIMIT 6
#define JOB_BACKOFF_BASE_S 10
#define JOB_BACKOFF_MAX_S 360
#define JOB_MAX_POD_CREATE_DELETE 500
#define JOB_MAX_INDEXES 100000

/* ---- job_util.c ---- */

/* Delay before a new pod after `failures` consecutive failures: 10 s
 * doubling, capped at 6 minutes; 0 for no failures. */
int64_t job_backoff_delay_s(int64_t failures);

/* A set of completion indexes below n: bytes, 1 = member. */
struct job_indexes {
  unsigned char *set;
  int64_t n;
};
/* Parses "1,3-5,7" (indexes >= n are dropped). -EINVAL if malformed. */
int job_indexes_parse(const char *s, int64_t n, struct job_indexes *out);
void job_indexes_free(struct job_indexes *x);
int64_t job_indexes_count(const struct job_indexes *x);
/* The compressed form "1,3-5,7" (new string, caller frees; "" if empty). */
char *job_indexes_format(const struct job_indexes *x);
/* Completion index of a pod (annotation, then label), -1 if none/invalid. */
int64_t job_pod_index(const json_t *pod);

enum job_policy_action { JOB_POLICY_NONE, JOB_POLICY_FAIL_JOB, JOB_POLICY_IGNORE, JOB_POLICY_COUNT };
/* Evaluates spec.podFailurePolicy of job on a failed pod: the action of
 * the first matching rule (NONE if none matches: counts as usual).  For
 * FailJob, msg gets upstream's message. */
enum job_policy_action job_pod_failure_policy(const json_t *job, const json_t *pod, char *msg, size_t len);

/* ---- job.c ---- */

/* Consecutive pod failures and the time of the last, kept by the
 * controller in memory (as upstream's backoff store). */
struct job_backoff {
  int64_t failures;
  int64_t last_failure;
};

struct job_result {
  int adds;              /* pod creations issued */
  json_t *del_uids;      /* new reference: pods deleted (expectations, and not to be counted) */
  int64_t requeue_ms;    /* >= 0: sync again after this */
};

/*
 * One sync of job given every pod of its namespace (borrowed).
 * may_manage false while earlier creates/deletes are unobserved.
 * deleted_by_us (object uid -> true, or NULL) names pods this controller
 * deleted, which never count as failures.  bo is updated in place.
 */
int job_compute(const json_t *job, const json_t *pods, bool may_manage, const json_t *deleted_by_us,
                struct job_backoff *bo, int64_t now, struct cm_actions *acts, struct job_result *res);
void job_result_free(struct job_result *res);
bool job_is_finished(const json_t *job);

#endif
