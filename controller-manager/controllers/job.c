/*
 * job.c - the Job controller (upstream pkg/controller/job).
 *
 * Pods are created with the batch.kubernetes.io/job-tracking finalizer so
 * that a finished pod cannot vanish before it is counted.  Counting is
 * level-triggered over three syncs, each driven by the cache:
 *   1. a terminated pod with the finalizer, not yet recorded, has its uid
 *      added to status.uncountedTerminatedPods (and, for Indexed jobs, its
 *      index to completedIndexes) by a status write;
 *   2. once the cached Job shows that uid, the finalizer is removed;
 *   3. once the pod is gone or has no finalizer, the uid moves from
 *      uncountedTerminatedPods into status.succeeded / status.failed.
 * A crash or a lost event at any point repeats a step, never counts twice.
 *
 * Failures beyond backoffLimit, activeDeadlineSeconds, or a FailJob rule
 * of podFailurePolicy set the FailureTarget condition; success
 * (completions reached, or for a work queue any success with nothing
 * running) sets SuccessCriteriaMet.  Remaining pods are then deleted and,
 * when nothing is left to count, the terminal Failed or Complete condition
 * follows.  New pods wait out the backoff (10 s doubling, capped at 6
 * minutes) after failures.  Suspending deletes the active pods; resuming
 * restarts startTime.  Pods the controller itself deletes (suspend,
 * excess, termination) lose their finalizer first and never count as
 * failures.
 *
 * Indexed Jobs: a pod's index is its batch.kubernetes.io/job-completion-index
 * annotation; only indexes in [0, completions) count.  Completed indexes
 * are kept as ordered intervals (job_util.c), so spec.completions may be
 * as large as the API allows; a succeeded pod outside the range, or for an
 * index already completed, only loses its finalizer.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm.h"
#include "controller_utils.h"
#include "controllers/job.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/selector.h"
#include "kube/workqueue.h"
#include "kube/xalloc.h"

bool job_is_finished(const json_t *job)
{
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(job, "status.conditions"), i, c) {
    const char *t = kj_get_str(c, "type"), *s = kj_get_str(c, "status");
    if (t && s && !strcmp(s, "True") && (!strcmp(t, "Complete") || !strcmp(t, "Failed"))) return true;
  }
  return false;
}

static bool has_finalizer(const json_t *pod)
{
  size_t i;
  json_t *f;
  json_array_foreach (kj_get(pod, "metadata.finalizers"), i, f)
    if (json_is_string(f) && !strcmp(json_string_value(f), JOB_TRACKING_FINALIZER)) return true;
  return false;
}

static bool uid_in(const json_t *arr, const char *uid)
{
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v)
    if (uid && json_is_string(v) && !strcmp(json_string_value(v), uid)) return true;
  return false;
}

/* A finalizer removal from a pod that is gone is done. */
static void remove_finalizer(struct cm_actions *acts, const json_t *pod)
{
  char path[512];
  cm_path(path, sizeof path, "/api/v1", kj_get_str(pod, "metadata.namespace"), "pods", kj_get_str(pod, "metadata.name"),
          NULL);
  const char *uid = kj_get_str(pod, "metadata.uid");
  struct cm_action *act = cm_act(acts, CM_PATCH, path,
                                 json_pack("{s:{s:[s],s:s}}", "metadata", "$deleteFromPrimitiveList/finalizers",
                                           JOB_TRACKING_FINALIZER, "uid", uid ? uid : ""));
  act->done_if = CM_DONE_IF_GONE;
}

/* One sync of one Job: the working copy of the Job, its pods and what
 * the steps found. */
struct job_sync {
  json_t *j; /* working copy; its status is what gets written */
  json_t *ref;
  struct cm_actions *acts;
  struct job_result *res;
  struct job_backoff *bo;
  int64_t now;
  bool indexed, suspended;
  int64_t completions, parallelism;
  json_t *owned, *active;    /* claimed pods; the active ones among them */
  json_t *us, *uf;           /* status.uncountedTerminatedPods.{succeeded,failed} (borrowed from j) */
  struct job_intervals done; /* completed indexes */
  int64_t ready, terminating, new_failed, new_succeeded, active_n;
  bool fail_job;
  char fail_msg[512];
  int64_t succeeded_total, failed_total;
  bool fail_target, success_target;
};

static void delete_pod(struct job_sync *s, const json_t *pod)
{
  if (has_finalizer(pod)) remove_finalizer(s->acts, pod);
  char path[512], msg[400];
  const char *name = kj_get_str(pod, "metadata.name");
  cm_path(path, sizeof path, "/api/v1", kj_get_str(pod, "metadata.namespace"), "pods", name, NULL);
  struct cm_action *act = cm_act(s->acts, CM_DELETE, path, NULL);
  act->expect = CM_EXPECT_DELETE;
  snprintf(msg, sizeof msg, "Deleted pod: %s", name);
  cm_act_events(act, s->ref, "SuccessfulDelete", msg, "FailedDelete", "Error deleting");
  const char *uid = kj_get_str(pod, "metadata.uid");
  if (uid) json_array_append_new(s->res->del_uids, json_string(uid));
}

static json_t *job_pod(const json_t *job, int64_t index)
{
  json_t *pod = cm_pod_from_template(kj_get(job, "spec.template"), job, "batch/v1", "Job");
  json_t *fins = kj_arr(pod, "metadata.finalizers");
  json_array_append_new(fins, json_string(JOB_TRACKING_FINALIZER));
  if (index >= 0) {
    char idx[32], buf[300];
    snprintf(idx, sizeof idx, "%lld", (long long)index);
    const char *name = kj_get_str(job, "metadata.name");
    /* upstream podGenerateNameWithIndex: the job name gives way so that
     * "-INDEX-" always survives the generateName length limit. */
    int keep = JOB_MAX_GENERATED_NAME - (int)strlen(idx) - 2;
    snprintf(buf, sizeof buf, "%.*s-%s-", keep > 0 ? keep : 0, name, idx);
    kj_set_str(pod, "metadata.generateName", buf);
    kj_set_str(pod, "metadata.annotations[\"" JOB_COMPLETION_INDEX "\"]", idx);
    kj_set_str(pod, "metadata.labels[\"" JOB_COMPLETION_INDEX "\"]", idx);
    snprintf(buf, sizeof buf, "%s-%s", name, idx);
    kj_set_str(pod, "spec.hostname", buf);
    const char *lists[] = {"spec.containers", "spec.initContainers"};
    for (int l = 0; l < 2; l++) {
      size_t i;
      json_t *c;
      json_array_foreach (kj_get(pod, lists[l]), i, c) {
        json_t *env = kj_arr(c, "env");
        if (!env) continue;
        json_array_append_new(env, json_pack("{s:s,s:{s:{s:s}}}", "name", "JOB_COMPLETION_INDEX", "valueFrom",
                                             "fieldRef", "fieldPath", "metadata.labels['" JOB_COMPLETION_INDEX "']"));
      }
    }
  }
  return pod;
}

static void create_pod(struct job_sync *s, int64_t index)
{
  char path[512];
  cm_path(path, sizeof path, "/api/v1", kj_get_str(s->j, "metadata.namespace"), "pods", NULL, NULL);
  struct cm_action *act = cm_act(s->acts, CM_POST, path, job_pod(s->j, index));
  act->slow_start = true;
  act->expect = CM_EXPECT_CREATE;
  cm_act_events(act, s->ref, "SuccessfulCreate", "Created pod: ", "FailedCreate", "Error creating");
  act->ok_append_name = true;
}

static void set_cond(json_t *j, const char *type, const char *status, const char *reason, const char *msg, int64_t now)
{
  /* Job conditions carry lastProbeTime and lastTransitionTime. */
  json_t *old = cm_get_condition(j, "status.conditions", type);
  if (old && !strcmp(kj_get_str(old, "status") ? kj_get_str(old, "status") : "", status) && kj_get_str(old, "reason") &&
      reason && !strcmp(kj_get_str(old, "reason"), reason))
    return;
  cm_remove_condition(j, "status.conditions", type);
  json_t *arr = kj_arr(j, "status.conditions");
  json_array_append_new(arr, json_pack("{s:s,s:s,s:o,s:o,s:s,s:s}", "type", type, "status", status, "lastProbeTime",
                                       cm_time_json(now), "lastTransitionTime", cm_time_json(now), "reason", reason,
                                       "message", msg));
}

static bool cond_true(const json_t *j, const char *type)
{
  json_t *c = cm_get_condition(j, "status.conditions", type);
  const char *s = c ? kj_get_str(c, "status") : NULL;
  return s && !strcmp(s, "True");
}

struct indexed_pod {
  int64_t idx;
  json_t *pod;
};

/* By index, then the pods to delete first (upstream ActivePods) first. */
static int indexed_pod_cmp(const void *a, const void *b)
{
  const struct indexed_pod *x = a, *y = b;
  if (x->idx != y->idx) return x->idx < y->idx ? -1 : 1;
  return cm_pod_deletion_cmp(x->pod, y->pod, 0, 0);
}

/* Indexed mode: one active pod per pending index, lowest indexes first.
 * Active pods without a valid index, with an index at or beyond
 * completions or already completed are deleted, and so are all but the
 * best pod of an index held by several (upstream
 * appendDuplicatedIndexPodsForRemoval). */
static void manage_indexed(struct job_sync *s, int64_t backoff_remaining)
{
  size_t n = json_array_size(s->active), nbusy = 0, i;
  struct indexed_pod *v = xmalloc((n + 1) * sizeof *v);
  int64_t *busy = xmalloc((n + 1) * sizeof *busy);
  json_t *p;
  json_array_foreach (s->active, i, p) v[i] = (struct indexed_pod){job_pod_index(p), p};
  qsort(v, n, sizeof *v, indexed_pod_cmp);
  for (i = 0; i < n; i++) {
    int64_t idx = v[i].idx;
    bool superseded = i + 1 < n && v[i + 1].idx == idx;
    if (idx < 0 || idx >= s->completions || job_intervals_has(&s->done, idx) || superseded) {
      delete_pod(s, v[i].pod);
      s->active_n--;
      continue;
    }
    busy[nbusy++] = idx;
  }
  free(v);
  int64_t want = s->parallelism, left = s->completions - job_intervals_total(&s->done);
  if (left < want) want = left;
  if (s->active_n < want) {
    if (backoff_remaining > 0) {
      s->res->requeue_ms = backoff_remaining * 1000;
    } else {
      size_t count = (size_t)(want - s->active_n);
      if (count > JOB_MAX_POD_CREATE_DELETE) count = JOB_MAX_POD_CREATE_DELETE;
      int64_t *pending = xmalloc(count * sizeof *pending);
      size_t np = job_first_pending(&s->done, busy, nbusy, s->completions, count, pending);
      for (size_t k = 0; k < np; k++) create_pod(s, pending[k]);
      s->res->adds += (int)np;
      s->active_n += (int64_t)np;
      free(pending);
    }
  }
  free(busy);
}

/* NonIndexed mode: parallelism pods (never more than the completions
 * still missing; a work queue with a success starts no more). */
static void manage_pods(struct job_sync *s, int64_t backoff_remaining)
{
  int64_t want = s->parallelism;
  if (s->completions >= 0) {
    if (s->completions - s->succeeded_total < want) want = s->completions - s->succeeded_total;
  } else if (s->succeeded_total > 0) {
    want = s->active_n;
  }
  if (want < 0) want = 0;
  int64_t diff = s->active_n - want;
  if (diff > 0) {
    json_t *sorted = kj_deep_copy(s->active);
    cm_rank_pods_for_deletion(sorted, NULL);
    for (int64_t k = 0; k < diff && k < JOB_MAX_POD_CREATE_DELETE; k++)
      delete_pod(s, json_array_get(sorted, (size_t)k));
    json_decref(sorted);
    s->active_n -= diff;
  } else if (diff < 0) {
    if (backoff_remaining > 0) {
      s->res->requeue_ms = backoff_remaining * 1000;
      return;
    }
    int64_t n = -diff > JOB_MAX_POD_CREATE_DELETE ? JOB_MAX_POD_CREATE_DELETE : -diff;
    for (int64_t k = 0; k < n; k++) create_pod(s, -1);
    s->res->adds = (int)n;
    s->active_n += n;
  }
}

/* Step 1 of counting, finished: recorded uids whose pods are gone or
 * released move to status.succeeded / status.failed. */
static void count_recorded(struct job_sync *s)
{
  for (int k = 0; k < 2; k++) {
    json_t *arr = k ? s->uf : s->us;
    for (size_t x = 0; x < json_array_size(arr); x++) {
      const char *uid = json_string_value(json_array_get(arr, x));
      bool waiting = false;
      size_t i;
      json_t *p;
      json_array_foreach (s->owned, i, p) {
        const char *pu = kj_get_str(p, "metadata.uid");
        if (pu && uid && !strcmp(pu, uid) && has_finalizer(p)) waiting = true;
      }
      if (waiting) continue;
      const char *field = k ? "status.failed" : "status.succeeded";
      kj_set_int(s->j, field, kj_get_int(s->j, field, 0) + 1);
      json_array_remove(arr, x--);
    }
  }
}

/* A finished, tracked pod not yet recorded: recorded (or, when it cannot
 * count, only released). */
static void record_finished(struct job_sync *s, const json_t *p, bool succeeded)
{
  const char *uid = kj_get_str(p, "metadata.uid");
  if (succeeded) {
    int64_t idx = s->indexed ? job_pod_index(p) : -1;
    if (s->indexed && (idx < 0 || idx >= s->completions || job_intervals_has(&s->done, idx))) {
      remove_finalizer(s->acts, p); /* out of range or duplicate success */
      return;
    }
    if (s->indexed) job_intervals_add(&s->done, idx);
    json_array_append_new(s->us, json_string(uid));
    s->new_succeeded++;
    return;
  }
  char m[512];
  enum job_policy_action a = job_pod_failure_policy(s->j, p, m, sizeof m);
  if (a == JOB_POLICY_IGNORE) {
    remove_finalizer(s->acts, p);
    return;
  }
  if (a == JOB_POLICY_FAIL_JOB && !s->fail_job) {
    s->fail_job = true;
    snprintf(s->fail_msg, sizeof s->fail_msg, "%s", m);
  }
  json_array_append_new(s->uf, json_string(uid));
  s->new_failed++;
}

/* Step 2: the pods into active, finished-and-recorded (finalizer goes),
 * newly finished (recorded in uncountedTerminatedPods). */
static void classify_pods(struct job_sync *s, const json_t *deleted_by_us)
{
  const char *prp = kj_get_str(s->j, "spec.podReplacementPolicy");
  bool only_failed = kj_get(s->j, "spec.podFailurePolicy") || (prp && !strcmp(prp, "Failed"));
  size_t i;
  json_t *p;
  json_array_foreach (s->owned, i, p) {
    const char *uid = kj_get_str(p, "metadata.uid");
    const char *phase = kj_get_str(p, "status.phase");
    bool succeeded = phase && !strcmp(phase, "Succeeded");
    bool phase_failed = phase && !strcmp(phase, "Failed");
    bool deleting = obj_is_terminating(p);
    /* podReplacementPolicy: TerminatingOrFailed (the default without a
     * podFailurePolicy) counts a deleted pod as failed at once; Failed
     * waits for the Failed phase. */
    bool failed = phase_failed || (deleting && !succeeded && !only_failed);
    bool ours = deleted_by_us && uid && json_object_get(deleted_by_us, uid);
    if (deleting && !succeeded && !phase_failed) s->terminating++;
    if (deleting && !succeeded && !failed) continue;
    if (!succeeded && !failed) {
      json_array_append(s->active, p);
      if (pod_is_ready(p)) s->ready++;
      continue;
    }
    if (!has_finalizer(p)) continue; /* already counted, or never tracked */
    if (uid_in(s->us, uid) || uid_in(s->uf, uid) || (ours && failed)) {
      /* recorded (step 2 of counting), or our own deletion: not a failure */
      remove_finalizer(s->acts, p);
      continue;
    }
    record_finished(s, p, succeeded);
  }
  if (s->indexed) {
    char *ci = job_intervals_format(&s->done);
    if (*ci || kj_get(s->j, "status.completedIndexes")) kj_set_str(s->j, "status.completedIndexes", ci);
    free(ci);
  }
  if (s->new_succeeded > 0) s->bo->failures = 0;
  if (s->new_failed > 0) {
    s->bo->failures += s->new_failed;
    s->bo->last_failure = s->now;
  }
  s->succeeded_total = kj_get_int(s->j, "status.succeeded", 0) + (int64_t)json_array_size(s->us);
  s->failed_total = kj_get_int(s->j, "status.failed", 0) + (int64_t)json_array_size(s->uf);
  s->active_n = (int64_t)json_array_size(s->active);
}

/* Step 3: the Suspended condition and startTime. */
static void sync_suspension(struct job_sync *s)
{
  json_t *scond = cm_get_condition(s->j, "status.conditions", "Suspended");
  if (s->suspended && !cond_true(s->j, "Suspended")) {
    set_cond(s->j, "Suspended", "True", "JobSuspended", "Job suspended", s->now);
    cm_act_event(s->acts, s->ref, "Normal", "Suspended", "Job suspended");
  } else if (!s->suspended && scond && cond_true(s->j, "Suspended")) {
    set_cond(s->j, "Suspended", "False", "JobResumed", "Job resumed", s->now);
    cm_act_event(s->acts, s->ref, "Normal", "Resumed", "Job resumed");
    kj_set(s->j, "status.startTime", cm_time_json(s->now));
  }
  if (!s->suspended && !kj_get(s->j, "status.startTime")) kj_set(s->j, "status.startTime", cm_time_json(s->now));
}

/* Step 4: FailureTarget (FailJob rule, backoffLimit, activeDeadlineSeconds)
 * or SuccessCriteriaMet (completions reached). */
static void check_targets(struct job_sync *s)
{
  s->fail_target = cond_true(s->j, "FailureTarget");
  s->success_target = cond_true(s->j, "SuccessCriteriaMet");
  if (s->fail_target || s->success_target) return;
  int64_t backoff_limit = kj_get_int(s->j, "spec.backoffLimit", JOB_DEFAULT_BACKOFF_LIMIT);
  int64_t ads = kj_get_int(s->j, "spec.activeDeadlineSeconds", -1);
  int64_t start = cm_time_at(s->j, "status.startTime");
  const char *reason = NULL, *msg = NULL;
  if (s->fail_job) {
    reason = "PodFailurePolicy";
    msg = s->fail_msg;
  } else if (s->failed_total > backoff_limit) {
    reason = "BackoffLimitExceeded";
    msg = "Job has reached the specified backoff limit";
  } else if (!s->suspended && ads >= 0 && start >= 0 && start + ads <= s->now) {
    reason = "DeadlineExceeded";
    msg = "Job was active longer than specified deadline";
  }
  if (reason) {
    set_cond(s->j, "FailureTarget", "True", reason, msg, s->now);
    cm_act_event(s->acts, s->ref, "Warning", reason, "%s", msg);
    s->fail_target = true;
    return;
  }
  bool complete;
  if (s->indexed) complete = job_intervals_total(&s->done) >= s->completions;
  else if (s->completions < 0) complete = s->succeeded_total > 0 && json_array_size(s->active) == 0;
  else complete = s->succeeded_total >= s->completions;
  if (complete) {
    set_cond(s->j, "SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods",
             s->now);
    s->success_target = true;
  }
  if (ads >= 0 && start >= 0 && !s->success_target && !s->suspended)
    s->res->requeue_ms = (start + ads - s->now) * 1000 + 100;
}

/* Step 5a: a target reached or suspended: everything still running is
 * deleted; once nothing is left to count, the terminal condition. */
static void stop_all(struct job_sync *s)
{
  size_t i;
  json_t *p;
  json_array_foreach (s->active, i, p) delete_pod(s, p);
  s->active_n = 0;
  bool any_tracked = false;
  json_array_foreach (s->owned, i, p)
    if (has_finalizer(p)) any_tracked = true;
  if (s->suspended || json_array_size(s->active) || json_array_size(s->us) || json_array_size(s->uf) || any_tracked)
    return;
  json_t *t = cm_get_condition(s->j, "status.conditions", s->fail_target ? "FailureTarget" : "SuccessCriteriaMet");
  const char *r = kj_get_str(t, "reason"), *m = kj_get_str(t, "message");
  char rb[128], mb[512];
  snprintf(rb, sizeof rb, "%s", r ? r : "");
  snprintf(mb, sizeof mb, "%s", m ? m : "");
  if (s->fail_target) {
    set_cond(s->j, "Failed", "True", rb, mb, s->now);
  } else {
    set_cond(s->j, "Complete", "True", rb, mb, s->now);
    kj_set(s->j, "status.completionTime", cm_time_json(s->now));
    cm_act_event(s->acts, s->ref, "Normal", "Completed", "Job completed");
  }
}

/* Step 6: the status, written when it changed. */
static void write_status(struct job_sync *s, const json_t *job0)
{
  kj_set_int(s->j, "status.active", s->active_n);
  kj_set_int(s->j, "status.ready", s->ready);
  kj_set_int(s->j, "status.terminating", s->terminating);
  /* Upstream's active/succeeded/failed are plain omitempty integers: a
   * zero count is absent on the wire (only ready and terminating, which
   * are pointers, show 0). */
  json_t *st = kj_get(s->j, "status");
  const char *omit_zero[] = {"active", "succeeded", "failed"};
  for (size_t k = 0; k < 3; k++)
    if (kj_get_int(st, omit_zero[k], -1) == 0) json_object_del(st, omit_zero[k]);
  if (kj_equal(st, kj_get(job0, "status"))) return;
  char path[512];
  cm_path(path, sizeof path, "/apis/batch/v1", kj_get_str(s->j, "metadata.namespace"), "jobs",
          kj_get_str(s->j, "metadata.name"), "status");
  json_t *body = kj_deep_copy(s->j);
  if (!kj_get_str(body, "kind")) json_object_set_new(body, "kind", json_string("Job"));
  if (!kj_get_str(body, "apiVersion")) json_object_set_new(body, "apiVersion", json_string("batch/v1"));
  cm_act(s->acts, CM_PUT, path, body);
}

static void read_spec(struct job_sync *s)
{
  const char *mode = kj_get_str(s->j, "spec.completionMode");
  s->indexed = mode && !strcmp(mode, "Indexed");
  json_t *comp = kj_get(s->j, "spec.completions");
  s->completions = json_is_integer(comp) ? json_integer_value(comp) : -1;
  s->parallelism = kj_get_int(s->j, "spec.parallelism", 1);
  s->suspended = kj_get_bool(s->j, "spec.suspend", false);
  json_t *unc = kj_obj(s->j, "status.uncountedTerminatedPods");
  s->us = json_object_get(unc, "succeeded");
  s->uf = json_object_get(unc, "failed");
  if (!s->us) json_object_set_new(unc, "succeeded", s->us = json_array());
  if (!s->uf) json_object_set_new(unc, "failed", s->uf = json_array());
  if (s->indexed) job_intervals_parse(kj_get_str(s->j, "status.completedIndexes"), s->completions, &s->done);
}

int job_compute(const json_t *job0, const json_t *pods, bool may_manage, const json_t *deleted_by_us,
                struct job_backoff *bo, int64_t now, struct cm_actions *acts, struct job_result *res)
{
  memset(res, 0, sizeof(*res));
  res->del_uids = json_array();
  res->requeue_ms = -1;
  struct job_sync s = {.acts = acts, .res = res, .bo = bo, .now = now};
  s.j = kj_deep_copy(job0);
  s.ref = cm_object_ref(s.j, "batch/v1", "Job");
  char err[256];
  struct labelsel *sel = labelsel_from_json(kj_get(s.j, "spec.selector"), err, sizeof err);
  s.owned = sel ? cm_claim_pods(s.j, "batch/v1", "Job", sel, pods, acts) : json_array();
  if (job_is_finished(s.j)) {
    /* Nothing to do but let the remaining pods go. */
    size_t i;
    json_t *p;
    json_array_foreach (s.owned, i, p)
      if (has_finalizer(p)) remove_finalizer(acts, p);
  } else {
    s.active = json_array();
    read_spec(&s);
    count_recorded(&s);
    classify_pods(&s, deleted_by_us);
    sync_suspension(&s);
    check_targets(&s);
    int64_t remaining = bo->failures > 0 ? bo->last_failure + job_backoff_delay_s(bo->failures) - now : 0;
    if (s.fail_target || s.success_target || s.suspended) stop_all(&s);
    else if (may_manage && sel && s.indexed) manage_indexed(&s, remaining);
    else if (may_manage && sel) manage_pods(&s, remaining);
    write_status(&s, job0);
    json_decref(s.active);
    job_intervals_free(&s.done);
  }
  json_decref(s.owned);
  labelsel_free(sel);
  json_decref(s.ref);
  json_decref(s.j);
  return 0;
}

void job_result_free(struct job_result *res)
{
  json_decref(res->del_uids);
  memset(res, 0, sizeof(*res));
}

/* ---- the controller ---- */

struct job_ctrl {
  struct cm_base base;
  struct informer *job_inf, *pod_inf;
  struct cm_expectations *exp;
  json_t *backoff; /* key -> {failures, last} */
  json_t *deleted; /* key -> {uid: true} pods we deleted */
};

#define ORPHAN_PREFIX "orphan-pod:"

static void job_sync(struct cm_base *b, const char *key)
{
  struct job_ctrl *c = (struct job_ctrl *)b;
  if (!strncmp(key, ORPHAN_PREFIX, strlen(ORPHAN_PREFIX))) {
    /* A tracked pod whose Job is gone: release it. */
    json_t *pod = informer_store_get_obj(c->pod_inf, key + strlen(ORPHAN_PREFIX));
    struct cm_actions acts;
    cm_actions_init(&acts);
    if (pod && has_finalizer(pod)) remove_finalizer(&acts, pod);
    json_decref(pod);
    cm_base_exec(b, key, &acts, NULL, -1);
    cm_actions_clear(&acts);
    return;
  }
  json_t *job = informer_store_get_obj(c->job_inf, key);
  if (!job) {
    cm_expectations_delete(c->exp, key);
    json_object_del(c->backoff, key);
    json_object_del(c->deleted, key);
    cm_base_finish(b, key, false, -1);
    return;
  }
  int64_t now = cm_now();
  json_t *pods = cm_claim_candidates(c->pod_inf, job);
  json_t *bj = json_object_get(c->backoff, key);
  struct job_backoff bo = {bj ? json_integer_value(json_object_get(bj, "failures")) : 0,
                           bj ? json_integer_value(json_object_get(bj, "last")) : 0};
  json_t *del = json_object_get(c->deleted, key);
  if (!del) json_object_set_new(c->deleted, key, del = json_object());
  bool may = cm_expectations_satisfied(c->exp, key, now);
  struct cm_actions acts;
  cm_actions_init(&acts);
  struct job_result res;
  job_compute(job, pods, may, del, &bo, now, &acts, &res);
  json_object_set_new(c->backoff, key,
                      json_pack("{s:I,s:I}", "failures", (json_int_t)bo.failures, "last", (json_int_t)bo.last_failure));
  size_t i;
  json_t *u;
  json_array_foreach (res.del_uids, i, u) json_object_set(del, json_string_value(u), json_true());
  cm_expect_writes(c->exp, key, res.adds, res.del_uids, now);
  int64_t requeue = res.requeue_ms;
  job_result_free(&res);
  json_decref(pods);
  json_decref(job);
  cm_base_exec(b, key, &acts, c->exp, requeue);
  cm_actions_clear(&acts);
}

static void on_pod(struct job_ctrl *c, const json_t *pod, bool deleted)
{
  char key[512];
  if (!cm_owner_key(pod, "Job", key, sizeof key)) return;
  json_t *job = informer_store_get_obj(c->job_inf, key);
  if (!job) {
    if (!deleted && has_finalizer(pod)) {
      char ok[600], pk[512];
      if (informer_key(pod, pk, sizeof pk)) {
        snprintf(ok, sizeof ok, ORPHAN_PREFIX "%s", pk);
        cm_base_enqueue_key(&c->base, ok);
      }
    }
    return;
  }
  json_decref(job);
  cm_base_enqueue_key(&c->base, key);
}

static void on_pod_add(void *arg, const json_t *pod)
{
  struct job_ctrl *c = arg;
  char key[512];
  if (cm_owner_key(pod, "Job", key, sizeof key) && !obj_is_terminating(pod)) cm_creation_observed(c->exp, key);
  on_pod(c, pod, false);
}

static void on_pod_update(void *arg, const json_t *o, const json_t *n)
{
  struct job_ctrl *c = arg;
  char key[512];
  if (obj_is_terminating(n) && cm_owner_key(n, "Job", key, sizeof key))
    cm_deletion_uid_observed(c->exp, key, kj_get_str(n, "metadata.uid"));
  on_pod(c, n, false);
}

static void on_pod_delete(void *arg, const json_t *pod, bool unknown)
{
  struct job_ctrl *c = arg;
  char key[512];
  if (cm_owner_key(pod, "Job", key, sizeof key)) {
    cm_deletion_uid_observed(c->exp, key, kj_get_str(pod, "metadata.uid"));
    json_t *del = json_object_get(c->deleted, key);
    if (del) json_object_del(del, kj_get_str(pod, "metadata.uid") ? kj_get_str(pod, "metadata.uid") : "");
  }
  on_pod(c, pod, true);
}

static int job_init(struct cm_base *b)
{
  struct job_ctrl *c = (struct job_ctrl *)b;
  c->exp = cm_expectations_new();
  c->backoff = json_object();
  c->deleted = json_object();
  c->job_inf = informer_factory_get(b->ctx->informers, CM_JOBS);
  c->pod_inf = informer_factory_get(b->ctx->informers, CM_PODS);
  informer_add_index(c->pod_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  cm_add_claim_indexes(c->pod_inf);
  struct informer_handlers jh = {cm_on_add_enqueue, cm_on_update_enqueue, cm_on_delete_enqueue, c};
  struct informer_handlers ph = {on_pod_add, on_pod_update, on_pod_delete, c};
  informer_add_handlers(c->job_inf, &jh);
  informer_add_handlers(c->pod_inf, &ph);
  return 0;
}

static void job_fini(struct cm_base *b)
{
  struct job_ctrl *c = (struct job_ctrl *)b;
  cm_expectations_free(c->exp);
  json_decref(c->backoff);
  json_decref(c->deleted);
}

const struct controller_def ctrl_job = {
    .name = "job",
    .service_account = "job-controller",
    .enabled_by_default = true,
    .size = sizeof(struct job_ctrl),
    .queue = "job",
    .component = "job-controller",
    .workers_flag = offsetof(struct cm_config, concurrent_job_syncs),
    .workers = 5,
    .sync = job_sync,
    .init = job_init,
    .fini = job_fini,
};
