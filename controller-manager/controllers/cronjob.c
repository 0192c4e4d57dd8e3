/*
 * cronjob.c - the CronJob controller (upstream
 * pkg/controller/cronjob, the v2 controller).
 *
 * A sync reconciles status.active with the Jobs the CronJob controls
 * (SawCompletedJob, MissingJob, UnexpectedJob), records
 * lastSuccessfulTime, then, unless suspended or the schedule or time zone
 * is unusable, finds the most recent activation not yet started: too
 * late for startingDeadlineSeconds -> MissSchedule; its Job already
 * active -> nothing; Forbid with a Job running -> nothing; Replace ->
 * delete the running Jobs; then creates the Job NAME-<minutes since the
 * epoch of the scheduled time> from the jobTemplate.  Finished Jobs
 * beyond successfulJobsHistoryLimit / failedJobsHistoryLimit are deleted,
 * oldest start first.  The key is requeued just after the next activation.
 *
 * Creating the Job and writing the status are sequenced: the status'
 * active reference needs the created Job's uid.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm.h"
#include "controller_utils.h"
#include "controllers/cronjob.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/recorder.h"
#include "kube/restclient.h"
#include "kube/workqueue.h"
#include "kube/xalloc.h"

const char *cj_job_finished(const json_t *job)
{
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(job, "status.conditions"), i, c) {
    const char *t = kj_get_str(c, "type"), *s = kj_get_str(c, "status");
    if (!t || !s || strcmp(s, "True")) continue;
    if (!strcmp(t, "Complete")) return "Complete";
    if (!strcmp(t, "Failed")) return "Failed";
  }
  return NULL;
}

int cj_most_recent_schedule(const json_t *cj, const struct cron_schedule *s, const struct cron_tz *tz, int64_t now,
                            bool with_deadline, int64_t *earliest, int64_t *most_recent, int64_t *missed)
{
  int64_t e = cm_time_at(cj, "metadata.creationTimestamp");
  int64_t last = cm_time_at(cj, "status.lastScheduleTime");
  if (last >= 0) e = last;
  if (e < 0) e = now;
  json_t *sd = kj_get(cj, "spec.startingDeadlineSeconds");
  if (with_deadline && sd && json_is_integer(sd)) {
    int64_t deadline = now - json_integer_value(sd);
    if (deadline > e) e = deadline;
  }
  *earliest = e;
  *most_recent = 0;
  *missed = 0;
  int64_t t1 = cron_next(s, tz, e);
  if (t1 == 0 || now < t1) return 0;
  int64_t t2 = cron_next(s, tz, t1);
  if (t2 == 0 || now < t2) {
    *most_recent = t1;
    *missed = 1;
    return 0;
  }
  int64_t between = t2 - t1;
  if (between < 1) return -EINVAL;
  int64_t n = (now - t1) / between + 1;
  *missed = n;
  int64_t t = cron_next(s, tz, t1 + (n - 2) * between);
  int64_t mr = 0;
  for (int guard = 0; t && t <= now && guard < 1000000; guard++) {
    mr = t;
    t = cron_next(s, tz, t);
  }
  *most_recent = mr ? mr : t1;
  return 0;
}

static bool in_active(const json_t *cj, const char *field, const char *value)
{
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(cj, "status.active"), i, r) {
    const char *v = kj_get_str(r, field);
    if (v && value && !strcmp(v, value)) return true;
  }
  return false;
}

static void remove_active(json_t *cj, const char *uid)
{
  json_t *arr = kj_get(cj, "status.active");
  for (size_t i = 0; i < json_array_size(arr); i++) {
    const char *u = kj_get_str(json_array_get(arr, i), "uid");
    if (u && uid && !strcmp(u, uid)) json_array_remove(arr, i--);
  }
}

static void delete_job(struct cm_actions *acts, const json_t *ref, const char *ns, const char *name)
{
  char path[512], msg[300];
  cm_path(path, sizeof path, "/apis/batch/v1", ns, "jobs", name, NULL);
  struct cm_action *act = cm_act(
      acts, CM_DELETE, path,
      json_pack("{s:s,s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1", "propagationPolicy", "Background"));
  snprintf(msg, sizeof msg, "Deleted job %s", name);
  char fmsg[300];
  snprintf(fmsg, sizeof fmsg, "Deleted job: %s", name);
  cm_act_events(act, ref, "SuccessfulDelete", msg, "FailedDelete", fmsg);
}

static int by_start(const void *pa, const void *pb)
{
  const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
  int64_t sa = cm_time_at(a, "status.startTime"), sb = cm_time_at(b, "status.startTime");
  if (sa < 0 && sb >= 0) return 1;
  if (sa >= 0 && sb < 0) return -1;
  if (sa != sb) return sa < sb ? -1 : 1;
  return strcmp(kj_get_str(a, "metadata.name"), kj_get_str(b, "metadata.name"));
}

/* Deletes the oldest finished Jobs of one kind beyond limit; returns true
 * if the active list changed. */
static bool remove_oldest(json_t *cj, const json_t *jobs, const char *kind, int64_t limit, const json_t *ref,
                          struct cm_actions *acts)
{
  const json_t **v = xmalloc((json_array_size(jobs) + 1) * sizeof *v);
  size_t n = 0, i;
  json_t *j;
  json_array_foreach (jobs, i, j) {
    const char *f = cj_job_finished(j);
    if (f && !strcmp(f, kind)) v[n++] = j;
  }
  if ((int64_t)n <= limit) {
    free(v);
    return false;
  }
  qsort(v, n, sizeof(*v), by_start);
  bool changed = false;
  for (size_t k = 0; k < n - (size_t)limit; k++) {
    delete_job(acts, ref, kj_get_str(v[k], "metadata.namespace"), kj_get_str(v[k], "metadata.name"));
    const char *uid = kj_get_str(v[k], "metadata.uid");
    if (in_active(cj, "uid", uid)) {
      remove_active(cj, uid);
      changed = true;
    }
  }
  free(v);
  return changed;
}

static json_t *job_from_template(const json_t *cj, int64_t scheduled, const struct cron_tz *tz)
{
  char name[300];
  snprintf(name, sizeof name, "%s-%lld", kj_get_str(cj, "metadata.name"), (long long)(scheduled / 60));
  json_t *tmpl = kj_get(cj, "spec.jobTemplate");
  json_t *job = json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "batch/v1", "kind", "Job", "metadata", "name", name,
                          "namespace", kj_get_str(cj, "metadata.namespace"));
  json_t *labels = kj_get(tmpl, "metadata.labels");
  if (labels) kj_set(job, "metadata.labels", kj_deep_copy(labels));
  json_t *anns = kj_get(tmpl, "metadata.annotations");
  kj_set(job, "metadata.annotations", anns ? kj_deep_copy(anns) : json_object());
  /* RFC 3339 in the CronJob's zone (UTC without one). */
  int off = tz ? cron_tz_offset(tz, scheduled) : 0;
  time_t lt = (time_t)(scheduled + off);
  struct tm tm;
  gmtime_r(&lt, &tm);
  char ts[64];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  if (off == 0) strcat(ts, "Z");
  else
    snprintf(ts + strlen(ts), sizeof ts - strlen(ts), "%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 3600,
             abs(off) % 3600 / 60);
  kj_set_str(job, "metadata.annotations[\"" CJ_SCHEDULED_TIMESTAMP_ANN "\"]", ts);
  kj_set(job, "metadata.ownerReferences", json_pack("[o]", cm_new_controller_ref(cj, "batch/v1", "CronJob")));
  json_t *spec = kj_get(tmpl, "spec");
  json_object_set_new(job, "spec", spec ? kj_deep_copy(spec) : json_object());
  return job;
}

static int64_t next_delay_ms(const json_t *cj, const struct cron_schedule *s, const struct cron_tz *tz, int64_t now)
{
  int64_t earliest, mr, missed;
  if (cj_most_recent_schedule(cj, s, tz, now, false, &earliest, &mr, &missed) < 0) return CJ_NEXT_SCHEDULE_DELTA_MS;
  int64_t next = cron_next(s, tz, mr ? mr : earliest);
  if (!next) return -1;
  return (next - now) * 1000 + CJ_NEXT_SCHEDULE_DELTA_MS;
}

int cj_compute(const json_t *cj0, const json_t *jobs, int64_t now, struct cm_actions *acts, struct cj_result *res)
{
  return cj_compute_recent(cj0, jobs, NULL, now, acts, res);
}

/* Step 1: status.active against the Jobs the CronJob controls
 * (SawCompletedJob, MissingJob, UnexpectedJob) and lastSuccessfulTime.
 * Returns true when the status changed. */
static bool reconcile_active(json_t *cj, const json_t *jobs, const json_t *recent, const json_t *ref,
                             struct cm_actions *acts)
{
  bool changed = false;
  size_t i;
  json_t *j;
  json_array_foreach (jobs, i, j) {
    const char *uid = kj_get_str(j, "metadata.uid"), *jname = kj_get_str(j, "metadata.name");
    bool found = in_active(cj, "uid", uid);
    const char *fin = cj_job_finished(j);
    if (!found && !fin && !(recent && uid && json_object_get(recent, uid))) {
      cm_act_event(acts, ref, "Warning", "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s",
                   jname);
    } else if (found && fin) {
      remove_active(cj, uid);
      cm_act_event(acts, ref, "Normal", "SawCompletedJob", "Saw completed job: %s, condition: %s", jname, fin);
      changed = true;
    }
    if (fin && !strcmp(fin, "Complete")) {
      int64_t ct = cm_time_at(j, "status.completionTime");
      if (ct >= 0 && ct > cm_time_at(cj, "status.lastSuccessfulTime")) {
        kj_set(cj, "status.lastSuccessfulTime", cm_time_json(ct));
        changed = true;
      }
    }
  }
  /* Active references whose Job no longer exists. */
  json_t *active = kj_get(cj, "status.active");
  for (i = 0; i < json_array_size(active); i++) {
    const char *uid = kj_get_str(json_array_get(active, i), "uid");
    bool exists = false;
    size_t k;
    json_array_foreach (jobs, k, j) {
      const char *u = kj_get_str(j, "metadata.uid");
      if (u && uid && !strcmp(u, uid)) exists = true;
    }
    if (exists) continue;
    cm_act_event(acts, ref, "Normal", "MissingJob", "Active job went missing: %s",
                 kj_get_str(json_array_get(active, i), "name"));
    json_array_remove(active, i--);
    changed = true;
  }
  return changed;
}

/* The schedule of a CronJob, or false with the Warning event that says
 * why it cannot be used (time zone, TZ in the schedule, unparseable). */
static bool usable_schedule(const json_t *cj, const json_t *ref, struct cm_actions *acts, struct cron_schedule *s,
                            struct cron_tz **tz)
{
  char err[256];
  const char *zone = kj_get_str(cj, "spec.timeZone");
  *tz = cron_tz_load(zone, err, sizeof err);
  if (!*tz) {
    cm_act_event(acts, ref, "Warning", "UnknownTimeZone", "invalid timeZone: \"%s\": %s", zone ? zone : "", err);
    return false;
  }
  const char *sched_str = kj_get_str(cj, "spec.schedule");
  if (!sched_str) sched_str = "";
  if (strstr(sched_str, "TZ")) {
    cm_act_event(acts, ref, "Warning", "UnsupportedSchedule",
                 "CRON_TZ or TZ used in schedule \"%s\" is not officially supported, see "
                 "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                 sched_str);
    return false;
  }
  if (kj_get_bool(cj, "spec.suspend", false)) return false;
  if (cron_parse(sched_str, s, err, sizeof err) < 0) {
    cm_act_event(acts, ref, "Warning", "UnparseableSchedule", "unparseable schedule: \"%s\" : %s", sched_str, err);
    return false;
  }
  return true;
}

/* The Job of the scheduled time already exists and is ours but the
 * status does not list it (a create that answered AlreadyExists, or a
 * status write lost after the create): it becomes the active one, as
 * upstream does after AlreadyExists. */
static bool adopt_existing(json_t *cj, const json_t *jobs, const char *jname, int64_t scheduled)
{
  const json_t *job = cm_find_named(jobs, jname);
  if (!job || cj_job_finished(job)) return false;
  json_array_append_new(kj_arr(cj, "status.active"), cm_object_ref(job, "batch/v1", "Job"));
  kj_set(cj, "status.lastScheduleTime", cm_time_json(scheduled));
  return true;
}

/* Step 2: the most recent activation not yet started, and what to do
 * about it: miss it (startingDeadlineSeconds), wait (Forbid), replace
 * the running Jobs (Replace), create its Job.  Returns true when the
 * status changed. */
static bool schedule(json_t *cj, const json_t *jobs, int64_t now, const json_t *ref, struct cm_actions *acts,
                     struct cj_result *res)
{
  struct cron_schedule s;
  struct cron_tz *tz = NULL;
  bool changed = false;
  if (!usable_schedule(cj, ref, acts, &s, &tz)) goto out;
  int64_t earliest, scheduled, missed;
  if (cj_most_recent_schedule(cj, &s, tz, now, true, &earliest, &scheduled, &missed) < 0) {
    cm_act_event(acts, ref, "Warning", "InvalidSchedule", "invalid schedule: %s : %s", kj_get_str(cj, "spec.schedule"),
                 "time difference between two schedules is less than 1 second");
    goto out;
  }
  if (scheduled && missed > CJ_MAX_MISSED)
    cm_act_event(acts, ref, "Warning", "TooManyMissedTimes",
                 "too many missed start times: %lld. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
                 (long long)missed);
  res->requeue_ms = next_delay_ms(cj, &s, tz, now);
  if (!scheduled || scheduled > now) goto out;
  json_t *sd = kj_get(cj, "spec.startingDeadlineSeconds");
  if (json_is_integer(sd) && scheduled + json_integer_value(sd) < now) {
    char buf[64];
    time_t st = (time_t)scheduled;
    struct tm tm;
    gmtime_r(&st, &tm);
    strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    cm_act_event(acts, ref, "Warning", "MissSchedule", "Missed scheduled time to start a job: %s", buf);
    goto out;
  }
  char jname[300];
  snprintf(jname, sizeof jname, "%s-%lld", kj_get_str(cj, "metadata.name"), (long long)(scheduled / 60));
  if (in_active(cj, "name", jname)) goto out;
  if (adopt_existing(cj, jobs, jname, scheduled)) {
    changed = true;
    goto out;
  }
  const char *policy = kj_get_str(cj, "spec.concurrencyPolicy");
  if (!policy) policy = "Allow";
  if (!strcmp(policy, "Forbid") && json_array_size(kj_get(cj, "status.active")) > 0) goto out;
  if (!strcmp(policy, "Replace")) {
    json_t *act_list = kj_get(cj, "status.active");
    const char *ns = kj_get_str(cj, "metadata.namespace");
    while (json_array_size(act_list) > 0) {
      json_t *r = json_array_get(act_list, 0);
      delete_job(acts, ref, kj_get_str(r, "namespace") ? kj_get_str(r, "namespace") : ns, kj_get_str(r, "name"));
      json_array_remove(act_list, 0);
      changed = true;
    }
  }
  res->create_job = job_from_template(cj, scheduled, tz);
  res->scheduled_time = scheduled;
out:
  cron_tz_free(tz);
  return changed;
}

int cj_compute_recent(const json_t *cj0, const json_t *jobs, const json_t *recent, int64_t now, struct cm_actions *acts,
                      struct cj_result *res)
{
  memset(res, 0, sizeof(*res));
  res->requeue_ms = -1;
  json_t *cj = kj_deep_copy(cj0);
  json_t *ref = cm_object_ref(cj, "batch/v1", "CronJob");
  bool changed = reconcile_active(cj, jobs, recent, ref, acts);
  if (!obj_is_terminating(cj)) {
    if (schedule(cj, jobs, now, ref, acts, res)) changed = true;
    /* Step 3: finished Jobs beyond the history limits. */
    json_t *sh = kj_get(cj, "spec.successfulJobsHistoryLimit"), *fh = kj_get(cj, "spec.failedJobsHistoryLimit");
    if (json_is_integer(sh) && remove_oldest(cj, jobs, "Complete", json_integer_value(sh), ref, acts)) changed = true;
    if (json_is_integer(fh) && remove_oldest(cj, jobs, "Failed", json_integer_value(fh), ref, acts)) changed = true;
  }
  json_t *st = kj_get(cj, "status");
  res->status = st ? json_incref(st) : json_object();
  res->status_changed = changed;
  json_decref(ref);
  json_decref(cj);
  return 0;
}

void cj_result_free(struct cj_result *res)
{
  json_decref(res->status);
  json_decref(res->create_job);
  memset(res, 0, sizeof(*res));
}

/* ---- the controller ---- */

struct cj_ctrl {
  struct cm_base base;
  struct informer *cj_inf, *job_inf;
  json_t *recent; /* key -> {uid of a Job we created: true} */
};

/* A sync whose Job creation is in flight: the status is written after
 * its answer, with the new Job's reference when it was created. */
struct cj_pending {
  json_t *cj; /* the cached CronJob */
  struct cj_result res;
};

static void pending_free(void *arg)
{
  struct cj_pending *p = arg;
  cj_result_free(&p->res);
  json_decref(p->cj);
  free(p);
}

static void put_status(struct cm_actions *acts, const json_t *cj, json_t *status)
{
  json_t *body = kj_deep_copy(cj);
  json_object_set(body, "status", status);
  if (!kj_get_str(body, "kind")) json_object_set_new(body, "kind", json_string("CronJob"));
  if (!kj_get_str(body, "apiVersion")) json_object_set_new(body, "apiVersion", json_string("batch/v1"));
  char path[512];
  cm_path(path, sizeof path, "/apis/batch/v1", kj_get_str(cj, "metadata.namespace"), "cronjobs",
          kj_get_str(cj, "metadata.name"), "status");
  cm_act(acts, CM_PUT, path, body);
}

/* The Job POST answered.  Created: it joins status.active (with
 * lastScheduleTime).  Refused: the run is not done and the key comes back
 * with backoff; an AlreadyExists is then adopted from the cache by the
 * next sync, and records no FailedCreate, as upstream. */
static void job_created(void *arg, struct cm_run *run, int code, json_t *body, const struct rest_status *err)
{
  struct cj_pending *p = arg;
  struct cj_ctrl *c = (struct cj_ctrl *)cm_run_base(run);
  json_t *ref = cm_object_ref(p->cj, "batch/v1", "CronJob");
  if (err) {
    if (!(code == 409 && err->reason && !strcmp(err->reason, "AlreadyExists")))
      recorder_eventf(c->base.recorder, ref, "Warning", "FailedCreate", "Error creating job: %s",
                      err->message ? err->message : "");
  } else {
    recorder_eventf(c->base.recorder, ref, "Normal", "SuccessfulCreate", "Created job %s",
                    kj_get_str(body, "metadata.name"));
    const char *juid = kj_get_str(body, "metadata.uid");
    const char *key = cm_run_key(run);
    json_t *rec = json_object_get(c->recent, key);
    if (!rec) json_object_set_new(c->recent, key, rec = json_object());
    if (juid) json_object_set_new(rec, juid, json_true());
    json_array_append_new(kj_arr(p->res.status, "active"), cm_object_ref(body, "batch/v1", "Job"));
    json_object_set_new(p->res.status, "lastScheduleTime", cm_time_json(p->res.scheduled_time));
    p->res.status_changed = true;
  }
  json_decref(ref);
  if (p->res.status_changed) {
    struct cm_actions acts;
    cm_actions_init(&acts);
    put_status(&acts, p->cj, p->res.status);
    cm_run_add(run, &acts);
    cm_actions_clear(&acts);
  }
}

/* Only the Jobs it controls (the index also lists non-controller owners). */
static json_t *controlled_jobs(struct cj_ctrl *c, const char *uid)
{
  json_t *jobs = informer_store_by_index(c->job_inf, INFORMER_INDEX_OWNER_UID, uid ? uid : "");
  json_t *owned = json_array();
  size_t i;
  json_t *j;
  json_array_foreach (jobs, i, j)
    if (obj_is_controlled_by(j, uid)) json_array_append(owned, j);
  json_decref(jobs);
  return owned;
}

static void cj_sync(struct cm_base *b, const char *key)
{
  struct cj_ctrl *c = (struct cj_ctrl *)b;
  json_t *cj = informer_store_get_obj(c->cj_inf, key);
  if (!cj) {
    json_object_del(c->recent, key);
    cm_base_finish(b, key, false, -1);
    return;
  }
  json_t *owned = controlled_jobs(c, kj_get_str(cj, "metadata.uid"));
  /* Forget created Jobs the cached status now lists. */
  json_t *rec = json_object_get(c->recent, key);
  const char *u;
  json_t *v, *tmp;
  json_object_foreach_safe (rec, tmp, u, v)
    if (in_active(cj, "uid", u)) json_object_del(rec, u);
  struct cj_pending *p = xcalloc(1, sizeof(*p));
  p->cj = cj;
  struct cm_actions acts;
  cm_actions_init(&acts);
  cj_compute_recent(cj, owned, rec, cm_now(), &acts, &p->res);
  json_decref(owned);
  struct cm_run *run = cm_run_begin(b, key, NULL, NULL);
  cm_run_attach(run, p, pending_free);
  if (p->res.create_job) {
    char path[512];
    cm_path(path, sizeof path, "/apis/batch/v1", kj_get_str(cj, "metadata.namespace"), "jobs", NULL, NULL);
    struct cm_action *act = cm_act(&acts, CM_POST, path, json_incref(p->res.create_job));
    cm_act_on_answer(act, job_created, p, NULL);
  } else if (p->res.status_changed) {
    put_status(&acts, cj, p->res.status);
  }
  cm_run_add(run, &acts);
  if (p->res.requeue_ms >= 0) cm_run_requeue_after(run, p->res.requeue_ms);
  cm_run_end(run);
  cm_actions_clear(&acts);
}

static void on_job(void *arg, const json_t *job)
{
  struct cj_ctrl *c = arg;
  char key[512];
  if (cm_owner_key(job, "CronJob", key, sizeof key)) cm_base_enqueue_key(&c->base, key);
}
static void on_job_add(void *arg, const json_t *job) { on_job(arg, job); }
static void on_job_update(void *arg, const json_t *o, const json_t *n) { on_job(arg, n); }
static void on_job_delete(void *arg, const json_t *job, bool unknown) { on_job(arg, job); }

static int cj_init(struct cm_base *b)
{
  struct cj_ctrl *c = (struct cj_ctrl *)b;
  c->recent = json_object();
  c->cj_inf = informer_factory_get(b->ctx->informers, CM_CRONJOBS);
  c->job_inf = informer_factory_get(b->ctx->informers, CM_JOBS);
  informer_add_index(c->job_inf, INFORMER_INDEX_OWNER_UID, informer_index_owner_uid, NULL);
  struct informer_handlers ch = {cm_on_add_enqueue, cm_on_update_enqueue, NULL, c};
  struct informer_handlers jh = {on_job_add, on_job_update, on_job_delete, c};
  informer_add_handlers(c->cj_inf, &ch);
  informer_add_handlers(c->job_inf, &jh);
  return 0;
}

static void cj_fini(struct cm_base *b) { json_decref(((struct cj_ctrl *)b)->recent); }

const struct controller_def ctrl_cronjob = {
    .name = "cronjob",
    .service_account = "cronjob-controller",
    .enabled_by_default = true,
    .size = sizeof(struct cj_ctrl),
    .queue = "cronjob",
    .component = "cronjob-controller",
    .workers_flag = offsetof(struct cm_config, concurrent_cron_job_syncs),
    .workers = 5,
    .sync = cj_sync,
    .init = cj_init,
    .fini = cj_fini,
};
