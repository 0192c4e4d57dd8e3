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
#define JOB_MAX_GENERATED_NAME 58 /* names.MaxGeneratedNameLength */

/* ---- job_util.c ---- */

/* Delay before a new pod after `failures` consecutive failures: 10 s
 * doubling, capped at 6 minutes; 0 for no failures. */
int64_t job_backoff_delay_s(int64_t failures);

/*
 * The completed indexes of an Indexed Job, as upstream's orderedIntervals:
 * sorted, disjoint, non-adjacent intervals [first, last].  Memory grows
 * with the number of gaps, not with spec.completions, which may be as
 * large as the API allows.
 */
struct job_interval {
  int64_t first, last;
};
struct job_intervals {
  struct job_interval *v;
  size_t n, cap;
};
/* Parses status.completedIndexes ("1,3-5,7") keeping only indexes below
 * completions, as upstream: a corrupted piece is skipped, the first
 * interval starting at or beyond completions ends the list, a last bound
 * beyond it is clamped.  Never fails; out must be zeroed or freed. */
void job_intervals_parse(const char *s, int64_t completions, struct job_intervals *out);
void job_intervals_free(struct job_intervals *x);
bool job_intervals_has(const struct job_intervals *x, int64_t ix);
/* Adds ix (>= 0), merging with its neighbours. */
void job_intervals_add(struct job_intervals *x, int64_t ix);
/* Number of indexes held. */
int64_t job_intervals_total(const struct job_intervals *x);
/* Upstream's String(): "1,3-5,7", a two-index interval as "1,2" (new
 * string, caller frees; "" if empty). */
char *job_intervals_format(const struct job_intervals *x);
/* The lowest `count` indexes below completions that are neither in done
 * nor in busy (sorted ascending, duplicates allowed) into out; returns
 * how many (upstream firstPendingIndexes). */
size_t job_first_pending(const struct job_intervals *done, const int64_t *busy, size_t nbusy, int64_t completions,
                         size_t count, int64_t *out);
/* Completion index of a pod: its batch.kubernetes.io/job-completion-index
 * annotation as a non-negative integer (upstream getCompletionIndex), -1
 * when absent or malformed. */
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
  int adds;           /* pod creations issued */
  json_t *del_uids;   /* new reference: pods deleted (expectations, and not to be counted) */
  int64_t requeue_ms; /* >= 0: sync again after this */
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
