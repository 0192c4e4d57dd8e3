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

bool job_is_finished(const json_t *job)
{
  size_t i;
  json_t *c;
  json_array_foreach(kj_get(job, "status.conditions"), i, c) {
    const char *t = kj_get_str(c, "type"), *s = kj_get_str(c, "status");
    if (t && s && !strcmp(s, "True") && (!strcmp(t, "Complete") || !strcmp(t, "Failed"))) return true;
  }
  return false;
}

static bool has_finalizer(const json_t *pod)
{
  size_t i;
  json_t *f;
  json_array_foreach(kj_get(pod, "metadata.finalizers"), i, f)
    if (json_is_string(f) && !strcmp(json_string_value(f), JOB_TRACKING_FINALIZER)) return true;
  return false;
}

static bool uid_in(const json_t *arr, const char *uid)
{
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v)
    if (uid && json_is_string(v) && !strcmp(json_string_value(v), uid)) return true;
  return false;
}

static void remove_finalizer(struct cm_actions *acts, const json_t *pod)
{
  char path[512];
  cm_path(path, sizeof path, "/api/v1", kj_get_str(pod, "metadata.namespace"), "pods", kj_get_str(pod, "metadata.name"),
          NULL);
  const char *uid = kj_get_str(pod, "metadata.uid");
  cm_act(acts, "PATCH", path,
         json_pack("{s:{s:[s],s:s}}", "metadata", "$deleteFromPrimitiveList/finalizers", JOB_TRACKING_FINALIZER, "uid",
                   uid ? uid : ""));
}

static void delete_pod(struct cm_actions *acts, const json_t *ref, const char *key, const json_t *pod,
                       struct job_result *res)
{
  if (has_finalizer(pod)) remove_finalizer(acts, pod);
  char path[512], msg[400];
  const char *name = kj_get_str(pod, "metadata.name");
  cm_path(path, sizeof path, "/api/v1", kj_get_str(pod, "metadata.namespace"), "pods", name, NULL);
  json_t *act = cm_act(acts, "DELETE", path, NULL);
  json_object_set_new(act, "exp_key", json_string(key));
  json_object_set_new(act, "exp", json_string("del"));
  snprintf(msg, sizeof msg, "Deleted pod: %s", name);
  cm_act_events(act, ref, "Normal", "SuccessfulDelete", msg, "FailedDelete", "Error deleting");
  const char *uid = kj_get_str(pod, "metadata.uid");
  if (uid) json_array_append_new(res->del_uids, json_string(uid));
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
    const char *lists[] = { "spec.containers", "spec.initContainers" };
    for (int l = 0; l < 2; l++) {
      size_t i;
      json_t *c;
      json_array_foreach(kj_get(pod, lists[l]), i, c) {
        json_t *env = kj_arr(c, "env");
        if (!env) continue;
        json_array_append_new(env, json_pack("{s:s,s:{s:{s:s}}}", "name", "JOB_COMPLETION_INDEX", "valueFrom",
                                             "fieldRef", "fieldPath",
                                             "metadata.labels['" JOB_COMPLETION_INDEX "']"));
      }
    }
  }
  return pod;
}

static void create_pod(struct cm_actions *acts, const json_t *job, const json_t *ref, const char *key, int64_t index)
{
  char path[512];
  cm_path(path, sizeof path, "/api/v1", kj_get_str(job, "metadata.namespace"), "pods", NULL, NULL);
  json_t *act = cm_act(acts, "POST", path, job_pod(job, index));
  json_object_set_new(act, "slow_start", json_true());
  json_object_set_new(act, "exp_key", json_string(key));
  json_object_set_new(act, "exp", json_string("add"));
  cm_act_events(act, ref, "Normal", "SuccessfulCreate", "Created pod: {name}", "FailedCreate", "Error creating");
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
static void manage_indexed(struct cm_actions *acts, const json_t *j, const json_t *ref, const char *key,
                           const json_t *active, const struct job_intervals *done, int64_t completions,
                           int64_t parallelism, int64_t backoff_remaining, struct job_result *res, int64_t *active_n)
{
  size_t n = json_array_size(active), nbusy = 0, i;
  struct indexed_pod *v = malloc((n + 1) * sizeof *v);
  int64_t *busy = malloc((n + 1) * sizeof *busy);
  json_t *p;
  json_array_foreach(active, i, p) v[i] = (struct indexed_pod){ job_pod_index(p), p };
  qsort(v, n, sizeof *v, indexed_pod_cmp);
  for (i = 0; i < n; i++) {
    int64_t idx = v[i].idx;
    bool superseded = i + 1 < n && v[i + 1].idx == idx;
    if (idx < 0 || idx >= completions || job_intervals_has(done, idx) || superseded) {
      delete_pod(acts, ref, key, v[i].pod, res);
      (*active_n)--;
      continue;
    }
    busy[nbusy++] = idx;
  }
  free(v);
  int64_t want = parallelism, left = completions - job_intervals_total(done);
  if (left < want) want = left;
  if (*active_n < want) {
    if (backoff_remaining > 0) {
      res->requeue_ms = backoff_remaining * 1000;
    } else {
      size_t count = (size_t)(want - *active_n);
      if (count > JOB_MAX_POD_CREATE_DELETE) count = JOB_MAX_POD_CREATE_DELETE;
      int64_t *pending = malloc(count * sizeof *pending);
      size_t np = job_first_pending(done, busy, nbusy, completions, count, pending);
      for (size_t k = 0; k < np; k++) create_pod(acts, j, ref, key, pending[k]);
      res->adds += (int)np;
      *active_n += (int64_t)np;
      free(pending);
    }
  }
  free(busy);
}

int job_compute(const json_t *job0, const json_t *pods, bool may_manage, const json_t *deleted_by_us,
                struct job_backoff *bo, int64_t now, struct cm_actions *acts, struct job_result *res)
{
  memset(res, 0, sizeof(*res));
  res->del_uids = json_array();
  res->requeue_ms = -1;
  json_t *j = kj_deep_copy(job0);
  json_t *ref = cm_object_ref(j, "batch/v1", "Job");
  const char *ns = kj_get_str(j, "metadata.namespace"), *name = kj_get_str(j, "metadata.name");
  char key[512];
  snprintf(key, sizeof key, "%s/%s", ns ? ns : "", name ? name : "");
  char err[256];
  struct labelsel *sel = labelsel_from_json(kj_get(j, "spec.selector"), err, sizeof err);
  json_t *owned = sel ? cm_claim_pods(j, "batch/v1", "Job", sel, pods, acts) : json_array();
  bool indexed = kj_get_str(j, "spec.completionMode") && !strcmp(kj_get_str(j, "spec.completionMode"), "Indexed");
  json_t *comp = kj_get(j, "spec.completions");
  int64_t completions = comp && json_is_integer(comp) ? json_integer_value(comp) : -1;
  int64_t parallelism = kj_get_int(j, "spec.parallelism", 1);
  bool suspended = kj_get_bool(j, "spec.suspend", false);
  size_t i;
  json_t *p;

  if (job_is_finished(j)) {
    /* Nothing to do but let the remaining pods go. */
    json_array_foreach(owned, i, p) if (has_finalizer(p)) remove_finalizer(acts, p);
    goto out;
  }

  json_t *unc = kj_obj(j, "status.uncountedTerminatedPods");
  json_t *us = json_object_get(unc, "succeeded"), *uf = json_object_get(unc, "failed");
  if (!us) json_object_set_new(unc, "succeeded", us = json_array());
  if (!uf) json_object_set_new(unc, "failed", uf = json_array());
  struct job_intervals done = { 0 };
  if (indexed) job_intervals_parse(kj_get_str(j, "status.completedIndexes"), completions, &done);

  /* Step 3: recorded uids whose pods are gone or released move to the counters. */
  for (int k = 0; k < 2; k++) {
    json_t *arr = k ? uf : us;
    for (size_t x = 0; x < json_array_size(arr); x++) {
      const char *uid = json_string_value(json_array_get(arr, x));
      bool waiting = false;
      json_array_foreach(owned, i, p) {
        const char *pu = kj_get_str(p, "metadata.uid");
        if (pu && uid && !strcmp(pu, uid) && has_finalizer(p)) waiting = true;
      }
      if (waiting) continue;
      const char *field = k ? "status.failed" : "status.succeeded";
      kj_set_int(j, field, kj_get_int(j, field, 0) + 1);
      json_array_remove(arr, x--);
    }
  }

  /* Classify the pods. */
  const char *prp = kj_get_str(j, "spec.podReplacementPolicy");
  bool only_failed = kj_get(j, "spec.podFailurePolicy") || (prp && !strcmp(prp, "Failed"));
  json_t *active = json_array();
  int64_t ready = 0, new_failed = 0, new_succeeded = 0, terminating = 0;
  char fail_msg[512] = "";
  bool fail_job = false;
  int64_t last_fail_time = -1;
  json_array_foreach(owned, i, p) {
    const char *uid = kj_get_str(p, "metadata.uid");
    const char *phase = kj_get_str(p, "status.phase");
    bool succeeded = phase && !strcmp(phase, "Succeeded");
    bool phase_failed = phase && !strcmp(phase, "Failed");
    bool deleting = cm_obj_is_deleting(p);
    /* podReplacementPolicy: TerminatingOrFailed (the default without a
     * podFailurePolicy) counts a deleted pod as failed at once; Failed
     * waits for the Failed phase. */
    bool failed = phase_failed || (deleting && !succeeded && !only_failed);
    bool ours = deleted_by_us && uid && json_object_get(deleted_by_us, uid);
    if (deleting && !succeeded && !phase_failed) terminating++;
    if (deleting && !succeeded && !failed) continue;
    if (!succeeded && !failed) {
      json_array_append(active, p);
      if (cm_pod_is_ready(p)) ready++;
      continue;
    }
    if (!has_finalizer(p)) continue;                       /* already counted, or never tracked */
    if (uid_in(us, uid) || uid_in(uf, uid)) {              /* step 2 */
      remove_finalizer(acts, p);
      continue;
    }
    if (ours && failed) {                                  /* our own deletion: not a failure */
      remove_finalizer(acts, p);
      continue;
    }
    if (succeeded) {                                       /* step 1 */
      int64_t idx = indexed ? job_pod_index(p) : -1;
      if (indexed && (idx < 0 || idx >= completions || job_intervals_has(&done, idx))) {
        remove_finalizer(acts, p);                         /* out of range or duplicate success */
        continue;
      }
      if (indexed) job_intervals_add(&done, idx);
      json_array_append_new(us, json_string(uid));
      new_succeeded++;
      continue;
    }
    char m[512];
    enum job_policy_action a = job_pod_failure_policy(j, p, m, sizeof m);
    if (a == JOB_POLICY_IGNORE) {
      remove_finalizer(acts, p);
      continue;
    }
    if (a == JOB_POLICY_FAIL_JOB && !fail_job) {
      fail_job = true;
      snprintf(fail_msg, sizeof fail_msg, "%s", m);
    }
    json_array_append_new(uf, json_string(uid));
    new_failed++;
    int64_t ft = cm_time_at(p, "status.conditions[0].lastTransitionTime");
    if (ft > last_fail_time) last_fail_time = ft;
  }
  if (indexed) {
    char *ci = job_intervals_format(&done);
    if (*ci || kj_get(j, "status.completedIndexes")) kj_set_str(j, "status.completedIndexes", ci);
    free(ci);
  }
  if (new_succeeded > 0) bo->failures = 0;
  if (new_failed > 0) {
    bo->failures += new_failed;
    bo->last_failure = now;
  }
  int64_t succeeded_total = kj_get_int(j, "status.succeeded", 0) + (int64_t)json_array_size(us);
  int64_t failed_total = kj_get_int(j, "status.failed", 0) + (int64_t)json_array_size(uf);

  /* Suspension. */
  json_t *scond = cm_get_condition(j, "status.conditions", "Suspended");
  if (suspended && !cond_true(j, "Suspended")) {
    set_cond(j, "Suspended", "True", "JobSuspended", "Job suspended", now);
    cm_act_event(acts, ref, "Normal", "Suspended", "Job suspended");
  } else if (!suspended && scond && cond_true(j, "Suspended")) {
    set_cond(j, "Suspended", "False", "JobResumed", "Job resumed", now);
    cm_act_event(acts, ref, "Normal", "Resumed", "Job resumed");
    kj_set(j, "status.startTime", cm_time_json(now));
  }
  if (!suspended && !kj_get(j, "status.startTime")) kj_set(j, "status.startTime", cm_time_json(now));

  /* Terminal targets. */
  bool fail_target = cond_true(j, "FailureTarget"), success_target = cond_true(j, "SuccessCriteriaMet");
  if (!fail_target && !success_target) {
    int64_t backoff_limit = kj_get_int(j, "spec.backoffLimit", JOB_DEFAULT_BACKOFF_LIMIT);
    int64_t ads = kj_get_int(j, "spec.activeDeadlineSeconds", -1);
    int64_t start = cm_time_at(j, "status.startTime");
    const char *reason = NULL, *msg = NULL;
    if (fail_job) {
      reason = "PodFailurePolicy";
      msg = fail_msg;
    } else if (failed_total > backoff_limit) {
      reason = "BackoffLimitExceeded";
      msg = "Job has reached the specified backoff limit";
    } else if (!suspended && ads >= 0 && start >= 0 && start + ads <= now) {
      reason = "DeadlineExceeded";
      msg = "Job was active longer than specified deadline";
    }
    if (reason) {
      set_cond(j, "FailureTarget", "True", reason, msg, now);
      cm_act_event(acts, ref, "Warning", reason, "%s", msg);
      fail_target = true;
    } else {
      bool complete;
      if (indexed)
        complete = job_intervals_total(&done) >= completions;
      else if (completions < 0)
        complete = succeeded_total > 0 && json_array_size(active) == 0;
      else
        complete = succeeded_total >= completions;
      if (complete) {
        set_cond(j, "SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods", now);
        success_target = true;
      }
    }
    if (ads >= 0 && start >= 0 && !fail_target && !suspended) res->requeue_ms = (start + ads - now) * 1000 + 100;
  }

  int64_t active_n = (int64_t)json_array_size(active);
  if (fail_target || success_target || suspended) {
    /* Stop everything still running. */
    json_array_foreach(active, i, p) delete_pod(acts, ref, key, p, res);
    active_n = 0;
    bool any_tracked = false;
    json_array_foreach(owned, i, p) if (has_finalizer(p)) any_tracked = true;
    if (!suspended && json_array_size(active) == 0 && json_array_size(us) == 0 && json_array_size(uf) == 0 && !any_tracked) {
      json_t *t = cm_get_condition(j, "status.conditions", fail_target ? "FailureTarget" : "SuccessCriteriaMet");
      const char *r = kj_get_str(t, "reason"), *m = kj_get_str(t, "message");
      char rb[128], mb[512];
      snprintf(rb, sizeof rb, "%s", r ? r : "");
      snprintf(mb, sizeof mb, "%s", m ? m : "");
      if (fail_target) {
        set_cond(j, "Failed", "True", rb, mb, now);
      } else {
        set_cond(j, "Complete", "True", rb, mb, now);
        kj_set(j, "status.completionTime", cm_time_json(now));
        cm_act_event(acts, ref, "Normal", "Completed", "Job completed");
      }
    }
  } else if (may_manage && sel) {
    int64_t remaining = bo->failures > 0 ? bo->last_failure + job_backoff_delay_s(bo->failures) - now : 0;
    if (!indexed) {
      int64_t want = parallelism;
      if (completions >= 0) {
        if (completions - succeeded_total < want) want = completions - succeeded_total;
      } else if (succeeded_total > 0) {
        want = active_n;  /* a work queue with a success: no new pods */
      }
      if (want < 0) want = 0;
      int64_t diff = active_n - want;
      if (diff > 0) {
        json_t *sorted = kj_deep_copy(active);
        cm_rank_pods_for_deletion(sorted, NULL);
        for (int64_t k = 0; k < diff && k < JOB_MAX_POD_CREATE_DELETE; k++)
          delete_pod(acts, ref, key, json_array_get(sorted, (size_t)k), res);
        json_decref(sorted);
        active_n -= diff;
      } else if (diff < 0) {
        if (remaining > 0) {
          res->requeue_ms = remaining * 1000;
        } else {
          for (int64_t k = 0; k < -diff && k < JOB_MAX_POD_CREATE_DELETE; k++) create_pod(acts, j, ref, key, -1);
          res->adds = (int)(-diff > JOB_MAX_POD_CREATE_DELETE ? JOB_MAX_POD_CREATE_DELETE : -diff);
          active_n += res->adds;
        }
      }
    } else {
      manage_indexed(acts, j, ref, key, active, &done, completions, parallelism, remaining, res, &active_n);
    }
  }
  (void)last_fail_time;

  kj_set_int(j, "status.active", active_n);
  kj_set_int(j, "status.ready", ready);
  kj_set_int(j, "status.terminating", terminating);
  /* Upstream's active/succeeded/failed are plain omitempty integers: a
   * zero count is absent on the wire (only ready and terminating, which
   * are pointers, show 0). */
  json_t *st = kj_get(j, "status");
  const char *omit_zero[] = {"active", "succeeded", "failed"};
  for (size_t k = 0; k < 3; k++)
    if (kj_get_int(st, omit_zero[k], -1) == 0) json_object_del(st, omit_zero[k]);
  if (!kj_equal(kj_get(j, "status"), kj_get(job0, "status"))) {
    /* Zero-valued defaults alone are not worth a write. */
    char path[512];
    cm_path(path, sizeof path, "/apis/batch/v1", ns, "jobs", name, "status");
    json_t *body = kj_deep_copy(j);
    if (!kj_get_str(body, "kind")) json_object_set_new(body, "kind", json_string("Job"));
    if (!kj_get_str(body, "apiVersion")) json_object_set_new(body, "apiVersion", json_string("batch/v1"));
    cm_act(acts, "PUT", path, body);
  }
  json_decref(active);
  job_intervals_free(&done);
out:
  json_decref(owned);
  labelsel_free(sel);
  json_decref(ref);
  json_decref(j);
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
  json_t *backoff;      /* key -> {failures, last} */
  json_t *deleted;      /* key -> {uid: true} pods we deleted */
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
    cm_base_finish(b, key, false);
    return;
  }
  int64_t now = cm_now();
  json_t *pods = cm_claim_candidates(c->pod_inf, job);
  json_t *bj = json_object_get(c->backoff, key);
  struct job_backoff bo = { bj ? json_integer_value(json_object_get(bj, "failures")) : 0,
                            bj ? json_integer_value(json_object_get(bj, "last")) : 0 };
  json_t *del = json_object_get(c->deleted, key);
  if (!del) json_object_set_new(c->deleted, key, del = json_object());
  bool may = cm_expectations_satisfied(c->exp, key, now);
  struct cm_actions acts;
  cm_actions_init(&acts);
  struct job_result res;
  job_compute(job, pods, may, del, &bo, now, &acts, &res);
  json_object_set_new(c->backoff, key, json_pack("{s:I,s:I}", "failures", (json_int_t)bo.failures, "last",
                                                 (json_int_t)bo.last_failure));
  size_t i;
  json_t *u;
  json_array_foreach(res.del_uids, i, u) json_object_set(del, json_string_value(u), json_true());
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
  if (cm_owner_key(pod, "Job", key, sizeof key) && !cm_obj_is_deleting(pod)) cm_creation_observed(c->exp, key);
  on_pod(c, pod, false);
}

static void on_pod_update(void *arg, const json_t *o, const json_t *n)
{
  struct job_ctrl *c = arg;
  char key[512];
  if (cm_obj_is_deleting(n) && cm_owner_key(n, "Job", key, sizeof key))
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

static void on_job_add(void *arg, const json_t *j) { cm_base_enqueue(arg, j); }
static void on_job_update(void *arg, const json_t *o, const json_t *n) { cm_base_enqueue(arg, n); }
static void on_job_delete(void *arg, const json_t *j, bool unknown) { cm_base_enqueue(arg, j); }

static int job_start(struct cm_ctx *ctx, void **state)
{
  struct job_ctrl *c = calloc(1, sizeof(*c));
  if (!c) return -ENOMEM;
  if (cm_base_init(&c->base, ctx, "job", ctx->cfg.concurrent_job_syncs, job_sync) < 0) {
    free(c);
    return -ENOMEM;
  }
  cm_base_set_component(&c->base, "job-controller");
  c->exp = cm_expectations_new();
  c->backoff = json_object();
  c->deleted = json_object();
  c->job_inf = informer_factory_get(ctx->informers, CM_JOBS);
  c->pod_inf = informer_factory_get(ctx->informers, CM_PODS);
  informer_add_index(c->pod_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  cm_add_claim_indexes(c->pod_inf);
  struct informer_handlers jh = { on_job_add, on_job_update, on_job_delete, c };
  struct informer_handlers ph = { on_pod_add, on_pod_update, on_pod_delete, c };
  informer_add_handlers(c->job_inf, &jh);
  informer_add_handlers(c->pod_inf, &ph);
  *state = c;
  return 0;
}

static void job_run(void *state) { cm_base_run(state); }

static void job_stop(void *state)
{
  struct job_ctrl *c = state;
  if (!c) return;
  cm_base_stop(&c->base);
  cm_expectations_free(c->exp);
  json_decref(c->backoff);
  json_decref(c->deleted);
  free(c);
}

const struct controller_def ctrl_job = { "job", true, job_start, job_run, job_stop };
