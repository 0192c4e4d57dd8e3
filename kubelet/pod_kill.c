/*
 * pod_kill.c - stopping containers and pods, and what follows a pod's end
 * (upstream's killPod, the pod worker's terminating and terminated
 * states, and the status manager's final delete).
 *
 * Stopping a container runs its preStop hook first (bounded by the grace
 * period), then asks the runtime to stop it with what is left of the
 * grace period (at least 2 s, as upstream): SIGTERM (or the image's stop
 * signal), SIGKILL when it expires.  A pod stops its app containers (and
 * any running regular init container) together, then its sidecars one by
 * one in reverse order, then its sandboxes.
 *
 * A pod that must not run any more is:
 *   1. stopped (deletion: metadata.deletionGracePeriodSeconds; a pod that
 *      reached Succeeded/Failed: its spec's grace for the sidecars still
 *      running; an evicted pod: at once; a pod no source knows: the grace
 *      its containers were created with);
 *   2. once nothing runs: its network released; a deleted pod's final
 *      status written, then the final DELETE (grace 0, uid precondition)
 *      so the API object goes away only after its containers did;
 *   3. once its API object is gone: its containers and sandboxes removed
 *      from the runtime, its volumes, directory and cgroups removed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroups.h"
#include "hooks.h"
#include "kube/json.h"
#include "kube/podutil.h"
#include "kube/log.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "podnet.h"
#include "pods_internal.h"
#include "probes.h"
#include "runtime/runtime.h"
#include "volumes.h"

#define MIN_GRACE_S 2

static const char *rt_state(const json_t *c) { return kj_get_str(c, "status.state") ?: ""; }
static const char *rt_name(const json_t *c)
{
  return kj_get_str(c, "status.labels[\"" KL_LABEL_CONTAINER_NAME "\"]") ?: "";
}

/* ---- one container ---- */

struct stop_one {
  struct kl_pod *p;
  char id[80];
  char name[64];
  int64_t grace_s;
  int64_t started_ms;
  void (*done)(void *arg);
  void *arg;
};

static void stopped_cb(void *arg, int err, json_t *res, const char *msg)
{
  struct stop_one *o = arg;
  if (err && err != -ENOENT) KLOG_W("stopping container %s of pod %s/%s: %s", o->name, o->p->ns, o->p->name, msg);
  void (*done)(void *) = o->done;
  void *darg = o->arg;
  free(o);
  done(darg);
}

static void stop_now(struct stop_one *o)
{
  int64_t used = (ktime_mono_ms() - o->started_ms) / 1000;
  int64_t left = o->grace_s - used;
  if (left < MIN_GRACE_S && o->grace_s > 0) left = MIN_GRACE_S;
  if (o->grace_s <= 0) left = 0;
  struct kl_runtime *rt = o->p->mgr->k->rt;
  rt->ops->stop_container(rt, o->id, left, stopped_cb, o);
}

static void pre_stop_done(void *arg, int rc, const char *msg)
{
  struct stop_one *o = arg;
  if (rc != 0) kl_pod_event(o->p, "Warning", "FailedPreStopHook", "%s", msg);
  stop_now(o);
}

void kl_pod_stop_container(struct kl_pod *p, const json_t *spec, const char *id, int64_t grace_s,
                           void (*done)(void *arg), void *arg)
{
  struct stop_one *o = xcalloc(1, sizeof *o);
  o->p = p;
  snprintf(o->id, sizeof o->id, "%s", id);
  snprintf(o->name, sizeof o->name, "%s", spec ? kj_get_str(spec, "name") ?: "" : "");
  o->grace_s = grace_s;
  o->started_ms = ktime_mono_ms();
  o->done = done;
  o->arg = arg;
  const json_t *hook = spec ? kj_get(spec, "lifecycle.preStop") : NULL;
  if (hook && grace_s > 0) {
    kl_hook_run_timeout(p, spec, id, hook, "PreStop", grace_s, pre_stop_done, o);
    return;
  }
  stop_now(o);
}

/* ---- the whole pod ---- */

struct stop_all {
  struct kl_pod *p;
  json_t *pod;
  int64_t grace_s;
  bool sandboxes;
  int pending;
  int stage;      /* 0 app containers, 1.. sidecars (reverse), then sandboxes */
  size_t sidecar; /* next sidecar index from the end */
  void (*done)(void *arg);
  void *arg;
};

static void stage_next(struct stop_all *a);

static void one_done(void *arg)
{
  struct stop_all *a = arg;
  if (--a->pending == 0) stage_next(a);
}

static void sandbox_stopped(void *arg, int err, json_t *res, const char *msg)
{
  struct stop_all *a = arg;
  if (err && err != -ENOENT) KLOG_W("stopping sandbox of pod %s/%s: %s", a->p->ns, a->p->name, msg);
  if (--a->pending == 0) stage_next(a);
}

static bool is_sidecar_name(const json_t *pod, const char *name, size_t *index)
{
  if (!container_is_sidecar(pod_find_container(pod, name, POD_CONTAINER_INIT))) return false;
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(pod, "spec.initContainers"), i, c)
    if (!strcmp(kj_get_str(c, "name") ?: "", name)) *index = i;
  return true;
}

static void stop_spec_container(struct stop_all *a, const json_t *rc)
{
  const char *name = rt_name(rc);
  const json_t *spec = a->pod ? pod_find_container(a->pod, name, POD_CONTAINER_APP | POD_CONTAINER_INIT) : NULL;
  if (name[0]) kl_pod_event(a->p, "Normal", "Killing", "Stopping container %s", name);
  a->pending++;
  kl_pod_stop_container(a->p, spec, kj_get_str(rc, "status.id") ?: "", a->grace_s, one_done, a);
}

static void stage_next(struct stop_all *a)
{
  struct kl_pod *p = a->p;
  size_t i;
  json_t *c;
  a->pending = 1; /* held while starting this stage's work */
  if (a->stage == 0) {
    a->stage = 1;
    a->sidecar = json_array_size(kj_get(a->pod, "spec.initContainers"));
    json_array_foreach (p->containers, i, c) {
      size_t idx;
      if (strcmp(rt_state(c), KL_CONTAINER_RUNNING) || (a->pod && is_sidecar_name(a->pod, rt_name(c), &idx))) continue;
      stop_spec_container(a, c);
    }
  } else if (a->stage == 1 && a->sidecar > 0) {
    const json_t *spec = json_array_get(kj_get(a->pod, "spec.initContainers"), --a->sidecar);
    json_array_foreach (p->containers, i, c) {
      if (strcmp(rt_state(c), KL_CONTAINER_RUNNING) || strcmp(rt_name(c), kj_get_str(spec, "name") ?: "")) continue;
      stop_spec_container(a, c);
    }
  } else if (a->stage == 1) {
    a->stage = 2;
    struct kl_runtime *rt = p->mgr->k->rt;
    json_array_foreach (p->sandboxes, i, c) {
      if (!a->sandboxes || strcmp(rt_state(c), KL_SANDBOX_READY)) continue;
      a->pending++;
      rt->ops->stop_pod_sandbox(rt, kj_get_str(c, "status.id") ?: "", sandbox_stopped, a);
    }
  } else {
    json_decref(a->pod);
    void (*done)(void *) = a->done;
    void *darg = a->arg;
    free(a);
    done(darg);
    return;
  }
  if (--a->pending == 0) stage_next(a);
}

void kl_pod_stop_all(struct kl_pod *p, const json_t *pod, int64_t grace_s, bool sandboxes, void (*done)(void *arg),
                     void *arg)
{
  struct stop_all *a = xcalloc(1, sizeof *a);
  a->p = p;
  a->pod = json_incref((json_t *)pod);
  a->grace_s = grace_s;
  a->sandboxes = sandboxes;
  a->done = done;
  a->arg = arg;
  stage_next(a);
}

/* ---- termination ---- */

struct kill {
  struct kl_pod *p;
  void (*done)(void *arg);
  void *arg;
  int pending;
};

static void kill_finish(struct kill *k)
{
  void (*done)(void *) = k->done;
  void *arg = k->arg;
  free(k);
  done(arg);
}

static void stop_all_done(void *arg)
{
  struct kill *k = arg;
  k->p->cache_after_ms = ktime_mono_ms();
  kl_pleg_relist_soon(k->p->mgr->pleg);
  kill_finish(k);
}

static int64_t kill_grace(const struct kl_pod *p)
{
  if (p->evicted) return 0;
  if (p->pod) {
    json_t *g = kj_get(p->pod, "metadata.deletionGracePeriodSeconds");
    if (kj_get(p->pod, "metadata.deletionTimestamp") && json_is_integer(g)) return json_integer_value(g);
    return kj_get_int(p->pod, "spec.terminationGracePeriodSeconds", KL_DEFAULT_GRACE_S);
  }
  json_t *c = json_array_get(p->containers, 0);
  const char *g = kj_get_str(c, "status.annotations[\"io.kubernetes.pod.terminationGracePeriod\"]");
  return g ? atoll(g) : KL_DEFAULT_GRACE_S;
}

static bool anything_running(const struct kl_pod *p)
{
  size_t i;
  json_t *c;
  json_array_foreach (p->containers, i, c)
    if (!strcmp(rt_state(c), KL_CONTAINER_RUNNING)) return true;
  json_array_foreach (p->sandboxes, i, c)
    if (!strcmp(rt_state(c), KL_SANDBOX_READY)) return true;
  return false;
}

static void deleted_cb(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct kl_pod *p = arg;
  p->delete_req = NULL;
  if (err && code != 404 && code != 409) {
    KLOG_W("pod %s/%s: final delete failed: %d %s", p->ns, p->name, code, err->message ? err->message : "");
    p->final_delete_sent = false;
    kl_pod_enqueue_after(p, 1000);
    return;
  }
  p->final_deleted = true;
  KLOG_V(2, "pod %s/%s deleted from the API", p->ns, p->name);
}

static void final_delete(struct kl_pod *p)
{
  char path[800];
  snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", p->ns, p->name);
  json_t *opts = json_pack("{s:s, s:s, s:i, s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1",
                           "gracePeriodSeconds", 0, "preconditions", "uid", p->uid);
  p->final_delete_sent = true;
  p->delete_req = rest_request(p->mgr->k->client, "DELETE", path, opts, deleted_cb, p);
  if (!p->delete_req) p->final_delete_sent = false;
  json_decref(opts);
}

static void removed_cb(void *arg, int err, json_t *res, const char *msg)
{
  struct kill *k = arg;
  if (err && err != -ENOENT) KLOG_W("removing a container of pod %s/%s: %s", k->p->ns, k->p->name, msg);
  if (--k->pending > 0) return;
  struct kl_pod *p = k->p;
  char why[300];
  kl_podnet_teardown(p->mgr->k->net, p->uid, why, sizeof why);
  kl_volumes_teardown(p);
  kl_cgroups_remove_pod(p->mgr->k, p->uid);
  p->cleaned = true;
  p->cache_after_ms = ktime_mono_ms();
  kl_pleg_relist_soon(p->mgr->pleg);
  kill_finish(k);
}

/* The pod is gone from its source and nothing runs: remove everything. */
static void clean_up(struct kill *k)
{
  struct kl_pod *p = k->p;
  struct kl_runtime *rt = p->mgr->k->rt;
  k->pending = 1;
  size_t i;
  json_t *c;
  json_array_foreach (p->containers, i, c) {
    k->pending++;
    rt->ops->remove_container(rt, kj_get_str(c, "status.id") ?: "", removed_cb, k);
  }
  json_array_foreach (p->sandboxes, i, c) {
    k->pending++;
    rt->ops->remove_pod_sandbox(rt, kj_get_str(c, "status.id") ?: "", removed_cb, k);
  }
  removed_cb(k, 0, NULL, NULL);
}

void kl_pod_kill(struct kl_pod *p, void (*done)(void *arg), void *arg)
{
  struct kill *k = xcalloc(1, sizeof *k);
  k->p = p;
  k->done = done;
  k->arg = arg;
  kl_probes_stop(p);
  if (anything_running(p)) {
    if (!p->terminating) p->kill_started_ms = ktime_mono_ms();
    p->terminating = true;
    p->terminated = false;
    kl_pod_stop_all(p, p->pod, kill_grace(p), true, stop_all_done, k);
    return;
  }
  if (!p->terminated) {
    char why[300];
    p->terminated = true;
    if (!p->pod || !kj_get_bool(p->pod, "spec.hostNetwork", false))
      kl_podnet_teardown(p->mgr->k->net, p->uid, why, sizeof why);
  }
  if (!p->pod) {
    if (p->cleaned && !json_array_size(p->containers) && !json_array_size(p->sandboxes)) {
      kill_finish(k);
      return;
    }
    clean_up(k);
    return;
  }
  if (kj_get(p->pod, "metadata.deletionTimestamp") && !p->final_delete_sent && !p->is_static) {
    /* The API object goes only once its final status is written. */
    if (kl_pod_status_current(p)) final_delete(p);
    else kl_pod_status_sync(p);
  }
  kill_finish(k);
}
