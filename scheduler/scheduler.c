/*
 * scheduler.c - the scheduler's cache, event routing and scheduling loop.
 *
 * One pods informer feeds both halves of the scheduler: a pod with
 * spec.nodeName is counted on its node in the snapshot (the cache); a pod
 * without one, whose schedulerName names one of our profiles, waits in the
 * scheduling queue.  Nodes come from a nodes informer; a node that appears
 * after pods were bound to it picks them up through the informer's
 * spec.nodeName index, so the informers may deliver in any order.  Cluster
 * events that could make unschedulable pods fit (a node added or changed
 * in what filters read, an assigned pod deleted, a pod with affinity
 * placed) move them back to the active or backoff queue.
 *
 * The loop: a zero-delay timer runs a turn that pops pods in priority
 * order and runs one scheduling cycle each, serially, for at most
 * SCHED_TURN_BUDGET_MS before yielding (a timer, unlike an activated event,
 * lets the loop poll sockets first).  A placed pod is assumed at once (a
 * copy with spec.nodeName set goes into the snapshot, so the next cycle
 * sees its resources) and the binding is POSTed asynchronously; several
 * are in flight at a time.  The informer's update with spec.nodeName set
 * confirms the assumption.  A pod that fits nowhere gets a FailedScheduling
 * event, a PodScheduled=False condition, and, when its priority allows,
 * preemption: victims are deleted and the pod is nominated to the node,
 * where other pods of lower or equal priority must leave room for it.
 *
 * PersistentVolumeClaims, PersistentVolumes and StorageClasses are kept
 * in the snapshot for the volume plugins; a change to any of them sends
 * the pods that use claims back to be tried again.  Pods keep only the
 * volumes the plugins read (claims, generic ephemeral volumes and the
 * disks VolumeRestrictions checks).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/informer.h"
#include "kube/log.h"
#include "kube/metrics.h"
#include "kube/recorder.h"
#include "kube/timeutil.h"
#include "extender.h"
#include "preemption.h"
#include "sched_internal.h"
#include "kube/xalloc.h"

char *sched_pod_key(const json_t *pod)
{
  const json_t *md = json_object_get(pod, "metadata");
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  const char *name = json_string_value(json_object_get(md, "name"));
  char *k = NULL;
  if (!name || asprintf(&k, "%s/%s", ns ? ns : "default", name) < 0) return NULL;
  return k;
}

static const char *pod_node_name(const json_t *pod)
{
  const char *n = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
  return n && *n ? n : NULL;
}

static bool pod_terminal(const json_t *pod)
{
  const char *ph = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
  return ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"));
}

static int profile_index(const struct sched_server *s, const json_t *pod)
{
  const char *name = json_string_value(json_object_get(json_object_get(pod, "spec"), "schedulerName"));
  if (!name || !*name) name = SCHED_DEFAULT_SCHEDULER_NAME;
  for (size_t i = 0; i < s->cfg->nprofiles; i++)
    if (!strcmp(s->cfg->profiles[i]->scheduler_name, name)) return (int)i;
  return -1;
}

/* ---- informer transform ---- */

static bool in_list(const char *key, const char *const *keep)
{
  for (; *keep; keep++)
    if (!strcmp(key, *keep)) return true;
  return false;
}

/* Drops every member of obj not named in keep. */
static void keep_only(json_t *obj, const char *const *keep)
{
  if (!json_is_object(obj)) return;
  const char *k;
  json_t *v;
  void *tmp;
  json_object_foreach_safe (obj, tmp, k, v)
    if (!in_list(k, keep)) json_object_del(obj, k);
}

/* The volumes the volume plugins read, each with only its name and
 * source (a generic ephemeral volume's template is the controller's). */
static void keep_volumes(json_t *vols)
{
  static const char *const sources[] = {
      "persistentVolumeClaim", "ephemeral", "gcePersistentDisk", "awsElasticBlockStore", "rbd", "iscsi", NULL};
  for (size_t i = 0; i < json_array_size(vols); i++) {
    json_t *v = json_array_get(vols, i);
    const char *src = NULL;
    for (int k = 0; sources[k] && !src; k++)
      if (json_object_get(v, sources[k])) src = sources[k];
    if (!src) {
      json_array_remove(vols, i--);
      continue;
    }
    const char *keep[] = {"name", src, NULL};
    keep_only(v, keep);
    if (!strcmp(src, "ephemeral")) json_object_set_new(v, "ephemeral", json_object());
  }
}

/* What the filters, scores, preemption, events and the queue read; the
 * rest of a pod (a parsed tree costs several KB) is dropped before the
 * informer stores it or hands it over. */
void sched_pod_transform(void *arg, json_t *pod)
{
  const struct sched_server *srv = arg;
  /* Extenders receive the pod itself, as upstream sends it. */
  if (srv && srv->cfg && srv->cfg->nextenders > 0) return;
  static const char *const top[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
  static const char *const meta[] = {
      "name", "namespace", "uid", "labels", "resourceVersion", "creationTimestamp", "deletionTimestamp", NULL};
  static const char *const spec[] = {"affinity",
                                     "containers",
                                     "initContainers",
                                     "nodeName",
                                     "nodeSelector",
                                     "overhead",
                                     "tolerations",
                                     "topologySpreadConstraints",
                                     "priority",
                                     "priorityClassName",
                                     "preemptionPolicy",
                                     "schedulerName",
                                     "schedulingGates",
                                     "volumes",
                                     NULL};
  static const char *const container[] = {"name", "image", "resources", "ports", "restartPolicy", NULL};
  static const char *const resources[] = {"requests", NULL};
  static const char *const status_pending[] = {"phase", "nominatedNodeName", "startTime", "conditions", NULL};
  static const char *const status_bound[] = {"phase", "nominatedNodeName", "startTime", NULL};
  keep_only(pod, top);
  keep_only(json_object_get(pod, "metadata"), meta);
  json_t *sp = json_object_get(pod, "spec");
  keep_only(sp, spec);
  const char *lists[] = {"containers", "initContainers", NULL};
  for (int l = 0; lists[l]; l++) {
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(sp, lists[l]), i, c) {
      keep_only(c, container);
      keep_only(json_object_get(c, "resources"), resources);
    }
  }
  keep_volumes(json_object_get(sp, "volumes"));
  if (json_array_size(json_object_get(sp, "volumes")) == 0) json_object_del(sp, "volumes");
  const char *node = json_string_value(json_object_get(sp, "nodeName"));
  keep_only(json_object_get(pod, "status"), node && *node ? status_bound : status_pending);
}

/* ---- cache ---- */

void sched_forget(struct sched_server *s, const char *key)
{
  const char *node = json_string_value(json_object_get(s->assumed, key));
  if (!node) return;
  const char *slash = strchr(key, '/');
  char ns[256];
  snprintf(ns, sizeof ns, "%.*s", (int)(slash - key), key);
  sched_snapshot_remove_pod(s->snap, ns, slash + 1, node);
  json_object_del(s->assumed, key);
}

static void nominated_set(struct sched_server *s, const char *key, json_t *pod, const char *node)
{
  if (!node) {
    json_object_del(s->nominated, key);
    return;
  }
  json_object_set_new(s->nominated, key, json_pack("{s:s,s:O}", "node", node, "pod", pod));
}

static bool pod_has_affinity_or_spread(void *arg, const json_t *pod)
{
  const json_t *spec = json_object_get(pod, "spec");
  const json_t *aff = json_object_get(spec, "affinity");
  return json_object_get(aff, "podAffinity") || json_object_get(aff, "podAntiAffinity") ||
         json_array_size(json_object_get(spec, "topologySpreadConstraints")) > 0;
}

static void move_all(struct sched_server *s, bool (*pred)(void *, const json_t *))
{
  sched_queue_move_all(s->queue, pred, s, ktime_mono_ms());
  sched_wake(s);
}

static void assigned_pod_upsert(struct sched_server *s, const json_t *old, json_t *pod, const char *key)
{
  const char *node = pod_node_name(pod);
  const char *assumed_node = json_string_value(json_object_get(s->assumed, key));
  if (assumed_node && strcmp(assumed_node, node) != 0) sched_forget(s, key);
  json_object_del(s->assumed, key);
  json_object_del(s->nominated, key);
  sched_queue_delete(s->queue, key);
  if (pod_terminal(pod)) {
    const json_t *md = json_object_get(pod, "metadata");
    if (sched_snapshot_remove_pod(s->snap, json_string_value(json_object_get(md, "namespace")),
                                  json_string_value(json_object_get(md, "name")), node) == 0)
      move_all(s, NULL);
    return;
  }
  sched_snapshot_add_pod(s->snap, pod, node, false);
  if (!old || !pod_node_name(old) || assumed_node) {
    move_all(s, pod_has_affinity_or_spread);
  } else if (!sched_json_eq(json_object_get(json_object_get(old, "metadata"), "labels"),
                            json_object_get(json_object_get(pod, "metadata"), "labels"))) {
    move_all(s, pod_has_affinity_or_spread);
  }
}

static void pending_pod_upsert(struct sched_server *s, json_t *pod, const char *key)
{
  if (profile_index(s, pod) < 0) return;
  if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp")) {
    sched_queue_delete(s->queue, key);
    json_object_del(s->nominated, key);
    return;
  }
  enum sched_qstate st = sched_queue_upsert(s->queue, pod, ktime_mono_ms());
  if (st == SQ_GATED && s->running)
    sched_update_pod_status(s, pod, "SchedulingGated", "Scheduling is blocked due to non-empty scheduling gates", NULL);
  if (!json_object_get(s->assumed, key))
    nominated_set(s, key, pod, json_string_value(json_object_get(json_object_get(pod, "status"), "nominatedNodeName")));
  if (st == SQ_ACTIVE) sched_wake(s);
}

static void pod_upsert(struct sched_server *s, const json_t *old, const json_t *obj)
{
  json_t *pod = (json_t *)obj;
  char *key = sched_pod_key(pod);
  if (!key) return;
  if (pod_node_name(pod)) assigned_pod_upsert(s, old, pod, key);
  else pending_pod_upsert(s, pod, key);
  free(key);
}

static void pod_add(void *arg, const json_t *obj) { pod_upsert(arg, NULL, obj); }
static void pod_update(void *arg, const json_t *o, const json_t *n) { pod_upsert(arg, o, n); }

static void pod_delete(void *arg, const json_t *obj, bool unknown)
{
  struct sched_server *s = arg;
  char *key = sched_pod_key(obj);
  if (!key) return;
  json_object_del(s->nominated, key);
  sched_queue_delete(s->queue, key);
  sched_forget(s, key);
  const char *node = pod_node_name(obj);
  if (node) {
    const json_t *md = json_object_get(obj, "metadata");
    sched_snapshot_remove_pod(s->snap, json_string_value(json_object_get(md, "namespace")),
                              json_string_value(json_object_get(md, "name")), node);
    move_all(s, NULL);
  }
  free(key);
}

static bool node_changed_for_scheduling(const json_t *a, const json_t *b)
{
  const json_t *sa = json_object_get(a, "spec"), *sb = json_object_get(b, "spec");
  return !sched_json_eq(json_object_get(json_object_get(a, "status"), "allocatable"),
                        json_object_get(json_object_get(b, "status"), "allocatable")) ||
         !sched_json_eq(json_object_get(json_object_get(a, "metadata"), "labels"),
                        json_object_get(json_object_get(b, "metadata"), "labels")) ||
         !sched_json_eq(json_object_get(sa, "taints"), json_object_get(sb, "taints")) ||
         json_is_true(json_object_get(sa, "unschedulable")) != json_is_true(json_object_get(sb, "unschedulable"));
}

static void node_add(void *arg, const json_t *obj)
{
  struct sched_server *s = arg;
  const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
  if (!name) return;
  bool known = sched_snapshot_node(s->snap, name) != NULL;
  if (sched_snapshot_set_node(s->snap, (json_t *)obj) < 0) return;
  if (!known && s->pods) {
    json_t *pods = informer_store_by_index(s->pods, INFORMER_INDEX_NODE_NAME, name);
    size_t i;
    json_t *p;
    json_array_foreach (pods, i, p)
      if (!pod_terminal(p)) sched_snapshot_add_pod(s->snap, p, name, false);
    json_decref(pods);
  }
  move_all(s, NULL);
}

static void node_update(void *arg, const json_t *o, const json_t *n)
{
  struct sched_server *s = arg;
  sched_snapshot_set_node(s->snap, (json_t *)n);
  if (node_changed_for_scheduling(o, n)) move_all(s, NULL);
}

static void node_delete(void *arg, const json_t *obj, bool unknown)
{
  struct sched_server *s = arg;
  const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
  if (name) sched_snapshot_remove_node(s->snap, name);
}

static void ns_add(void *arg, const json_t *obj)
{
  struct sched_server *s = arg;
  const json_t *md = json_object_get(obj, "metadata");
  const char *name = json_string_value(json_object_get(md, "name"));
  if (name) sched_snapshot_set_namespace(s->snap, name, json_object_get(md, "labels"));
}

static void ns_update(void *arg, const json_t *o, const json_t *n) { ns_add(arg, n); }

static void ns_delete(void *arg, const json_t *obj, bool unknown)
{
  struct sched_server *s = arg;
  const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
  if (name) json_object_del(s->snap->namespaces, name);
}

/* ---- storage ---- */

static bool pod_has_claims(void *arg, const json_t *pod)
{
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get(json_object_get(pod, "spec"), "volumes"), i, v) {
    if (json_object_get(v, "persistentVolumeClaim") || json_object_get(v, "ephemeral")) return true;
  }
  return false;
}

static void storage_changed(struct sched_server *s, json_t *map, const json_t *obj, bool deleted)
{
  char key[600];
  if (!informer_key(obj, key, sizeof key)) return;
  if (deleted) json_object_del(map, key);
  else json_object_set(map, key, (json_t *)obj);
  move_all(s, pod_has_claims);
}

static void pvc_add(void *arg, const json_t *obj)
{
  storage_changed(arg, ((struct sched_server *)arg)->snap->pvcs, obj, false);
}
static void pvc_update(void *arg, const json_t *o, const json_t *n) { pvc_add(arg, n); }
static void pvc_delete(void *arg, const json_t *obj, bool u)
{
  storage_changed(arg, ((struct sched_server *)arg)->snap->pvcs, obj, true);
}
static void pv_add(void *arg, const json_t *obj)
{
  storage_changed(arg, ((struct sched_server *)arg)->snap->pvs, obj, false);
}
static void pv_update(void *arg, const json_t *o, const json_t *n) { pv_add(arg, n); }
static void pv_delete(void *arg, const json_t *obj, bool u)
{
  storage_changed(arg, ((struct sched_server *)arg)->snap->pvs, obj, true);
}
static void sc_add(void *arg, const json_t *obj)
{
  storage_changed(arg, ((struct sched_server *)arg)->snap->classes, obj, false);
}
static void sc_update(void *arg, const json_t *o, const json_t *n) { sc_add(arg, n); }
static void sc_delete(void *arg, const json_t *obj, bool u)
{
  storage_changed(arg, ((struct sched_server *)arg)->snap->classes, obj, true);
}

static bool pod_exists(void *arg, const char *ns, const char *name)
{
  struct sched_server *s = arg;
  char key[600];
  snprintf(key, sizeof key, "%s/%s", ns, name);
  json_t *p = informer_store_get_obj(s->pods, key);
  json_decref(p);
  return p != NULL;
}

/* ---- metrics ---- */

static void update_pending_metrics(struct sched_server *s)
{
  static const struct {
    enum sched_qstate st;
    const char *label;
  } qs[] = {{SQ_ACTIVE, "queue=\"active\""},
            {SQ_BACKOFF, "queue=\"backoff\""},
            {SQ_UNSCHEDULABLE, "queue=\"unschedulable\""},
            {SQ_GATED, "queue=\"gated\""}};
  for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
    metrics_gauge_set(s->metrics, "scheduler_pending_pods",
                      "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; "
                      "'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in "
                      "unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number "
                      "of unschedulable pods that the scheduler never attempted to schedule because they are gated.",
                      qs[i].label, (double)sched_queue_len(s->queue, qs[i].st));
}

static void observe_attempt(struct sched_server *s, const char *result, const char *profile, double secs)
{
  char labels[256];
  snprintf(labels, sizeof labels, "profile=\"%s\",result=\"%s\"", profile, result);
  metrics_counter_add(s->metrics, "scheduler_schedule_attempts_total",
                      "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be "
                      "scheduled, while 'error' means an internal scheduler problem.",
                      labels, 1);
  metrics_histogram_observe(s->metrics, "scheduler_scheduling_attempt_duration_seconds",
                            "Scheduling attempt latency in seconds (scheduling algorithm + binding)", labels, NULL, 0,
                            secs);
}

/* ---- scheduling ---- */

/* Puts nominated pods of priority >= pod's on their nominated nodes so the
 * filters leave room for them; returns how many were added to tmp. */
size_t sched_nominated_add(struct sched_server *s, const json_t *pod, const char *key, struct nominated_tmp **tmp)
{
  *tmp = NULL;
  size_t n = json_object_size(s->nominated), k = 0;
  if (n == 0) return 0;
  *tmp = calloc(n, sizeof **tmp);
  if (!*tmp) return 0;
  int64_t prio = sched_pod_priority(pod);
  const char *nk;
  json_t *v;
  json_object_foreach (s->nominated, nk, v) {
    if (!strcmp(nk, key)) continue;
    json_t *np = json_object_get(v, "pod");
    const char *node = json_string_value(json_object_get(v, "node"));
    if (sched_pod_priority(np) < prio || !node) continue;
    if (sched_snapshot_add_pod(s->snap, np, node, true) == 0) {
      (*tmp)[k].pod = np;
      (*tmp)[k].node = node;
      k++;
    }
  }
  return k;
}

void sched_nominated_remove(struct sched_server *s, struct nominated_tmp *tmp, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const json_t *md = json_object_get(tmp[i].pod, "metadata");
    sched_snapshot_remove_pod(s->snap, json_string_value(json_object_get(md, "namespace")),
                              json_string_value(json_object_get(md, "name")), tmp[i].node);
  }
  free(tmp);
}

/* PrepareCandidate's last step: pods of lower priority nominated to the
 * node the preemptor is now nominated to lose their nomination (they would
 * otherwise keep space there that the preemptor needs). */
static void clear_lower_nominations(struct sched_server *s, const json_t *preemptor, const char *preemptor_key,
                                    const char *node)
{
  int64_t prio = sched_pod_priority(preemptor);
  json_t *losers = json_array();
  const char *k;
  json_t *v;
  json_object_foreach (s->nominated, k, v) {
    const json_t *np = json_object_get(v, "pod");
    if (strcmp(k, preemptor_key) != 0 && !strcmp(json_string_value(json_object_get(v, "node")) ?: "", node) &&
        sched_pod_priority(np) < prio)
      json_array_append_new(losers, json_string(k));
  }
  size_t i;
  json_array_foreach (losers, i, v) {
    const char *key = json_string_value(v);
    KLOG_V(2, "Clearing the nomination of %s to node %s", key, node);
    sched_clear_nominated_node(s, json_object_get(json_object_get(s->nominated, key), "pod"));
    json_object_del(s->nominated, key);
  }
  json_decref(losers);
}

char *sched_preempt_execute(struct sched_server *s, int pix, json_t *pod, const char *key, struct sched_preemption *pr)
{
  size_t i;
  json_t *v;
  KLOG_V(2, "Preempting %zu pod(s) on node %s for %s", json_array_size(pr->victims), pr->node_name,
         json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")));
  json_array_foreach (pr->victims, i, v) sched_delete_victim(s, v, pod, pr->node_name, pix);
  clear_lower_nominations(s, pod, key, pr->node_name);
  char *node = pr->node_name;
  pr->node_name = NULL;
  s->preemptions++;
  return node;
}

/* Runs DefaultPreemption.  Returns the nominated node when it found one
 * (owned), else NULL; *post gets upstream's PostFilter message when it
 * differs from the framework's dry-run summary (owned, or NULL).  When
 * extenders with a preemptVerb are interested, only the candidates are
 * found here: *ext_candidates (new reference) then goes to them, and the
 * attempt completes in ext_cycle.c. */
static char *try_preempt(struct sched_server *s, struct sched_profile *p, int pix, json_t *pod, const char *key,
                         const struct sched_result *res, char **post, json_t **ext_candidates)
{
  const char *why = NULL;
  *post = NULL;
  *ext_candidates = NULL;
  if (!sched_preemption_eligible(s->snap, pod, &why)) {
    if (asprintf(post, "preemption: %s", why) < 0) *post = NULL;
    return NULL;
  }
  json_t *pdbs = s->pdbs ? informer_store_list(s->pdbs) : NULL;
  char *node = NULL;
  if (sched_ext_preempt_wanted(s, pod)) {
    json_t *c = sched_preemption_candidates(p, s->snap, pod, res->node_codes, pdbs, s->preempt_offset++);
    if (json_object_size(c) > 0) *ext_candidates = c;
    else json_decref(c);
    json_decref(pdbs);
    return NULL;
  }
  struct sched_preemption pr;
  if (sched_preemption_select(p, s->snap, pod, res->node_codes, pdbs, s->preempt_offset++, &pr) == 0) {
    node = sched_preempt_execute(s, pix, pod, key, &pr);
    *post = strdup("");
  }
  sched_preemption_clear(&pr);
  json_decref(pdbs);
  return node;
}

/* The outcome of a scheduling attempt: the pod assumed and bound, or
 * reported unschedulable (nominated when preemption found room) or failed. */
void sched_attempt_done(struct sched_server *s, struct sched_qpod *qp, json_t *pod, int pix, int rc,
                        struct sched_result *res, char *nominated, char *post, int64_t t0)
{
  struct sched_profile *p = s->cfg->profiles[pix];
  char *key = xstrdup(qp->key);
  const char *result;
  if (rc == 0) {
    json_t *assumed = kj_deep_copy(pod);
    json_object_set_new(json_object_get(assumed, "spec"), "nodeName", json_string(res->node_name));
    sched_snapshot_add_pod(s->snap, assumed, res->node_name, true);
    json_decref(assumed);
    json_object_set_new(s->assumed, key, json_string(res->node_name));
    json_object_del(s->nominated, key);
    sched_queue_done(s->queue, qp, SQ_OUT_ASSUMED, ktime_mono_ms());
    struct sched_binding *binding = res->binding; /* what Reserve kept; the bind owns it now */
    res->binding = NULL;
    if (sched_bind(s, pod, res->node_name, pix, binding) < 0) {
      sched_forget(s, key);
      struct sched_qpod *again = sched_queue_get(s->queue, key);
      if (again) sched_queue_done(s->queue, again, SQ_OUT_ERROR, ktime_mono_ms());
    }
    result = "scheduled";
  } else {
    if (rc == -ENOSPC) {
      /* Upstream's FitError carries the PostFilter's own message: none
       * when preemption nominated a node, its reason when not eligible. */
      if (post && res->message && res->fit_len <= strlen(res->message)) {
        char *m = NULL;
        if (asprintf(&m, "%.*s%s%s%s", (int)res->fit_len, res->message, *post ? " " : "", post, *post ? "." : "") >=
            0) {
          free(res->message);
          res->message = m;
        }
      }
      if (nominated) nominated_set(s, key, pod, nominated);
      s->unschedulable++;
      result = "unschedulable";
    } else {
      s->errors++;
      result = "error";
    }
    const char *msg = res->message ? res->message : "scheduling failed";
    KLOG_V(2, "Unable to schedule pod %s: %s", key, msg);
    recorder_eventf(s->recorders[pix], pod, RECORDER_EVENT_WARNING, "FailedScheduling", "%s", msg);
    sched_update_pod_status(s, pod, rc == -ENOSPC ? "Unschedulable" : "SchedulerError", msg, nominated);
    sched_queue_done(s->queue, qp, rc == -ENOSPC ? SQ_OUT_UNSCHEDULABLE : SQ_OUT_ERROR, ktime_mono_ms());
  }
  free(post);
  free(nominated);
  observe_attempt(s, result, p->scheduler_name, (double)(ktime_now_us() - t0) / 1e6);
  free(key);
}

void sched_complete_attempt(struct sched_server *s, struct sched_qpod *qp, json_t *pod, int pix, int rc,
                            struct sched_result *res, int64_t t0)
{
  char *nominated = NULL, *post = NULL;
  json_t *cands = NULL;
  if (rc == -ENOSPC) {
    struct nominated_tmp *tmp = NULL;
    size_t ntmp = sched_nominated_add(s, pod, qp->key, &tmp);
    nominated = try_preempt(s, s->cfg->profiles[pix], pix, pod, qp->key, res, &post, &cands);
    sched_nominated_remove(s, tmp, ntmp);
  }
  if (cands) sched_ext_preempt_start(s, qp, pod, pix, res, cands, t0);
  else sched_attempt_done(s, qp, pod, pix, rc, res, nominated, post, t0);
}

static void schedule_one(struct sched_server *s, struct sched_qpod *qp)
{
  int64_t t0 = ktime_now_us();
  json_t *pod = json_incref(qp->pod);
  int pix = profile_index(s, pod);
  if (pix < 0) {
    sched_queue_done(s->queue, qp, SQ_OUT_BOUND, ktime_mono_ms());
    json_decref(pod);
    return;
  }
  if (sched_ext_wanted(s, pod)) {
    /* Extenders answer later; the cycle goes on from their callbacks. */
    sched_ext_cycle_start(s, qp, pod, pix, t0);
    json_decref(pod);
    return;
  }
  struct sched_profile *p = s->cfg->profiles[pix];
  struct nominated_tmp *tmp = NULL;
  size_t ntmp = sched_nominated_add(s, pod, qp->key, &tmp);
  struct sched_result res;
  int rc = sched_schedule_one(p, s->snap, pod, &res);
  /* Preemption's dry run sees the nominated pods too (as upstream's
   * RunFilterPluginsWithNominatedPods): they stay until it is done. */
  char *nominated = NULL, *post = NULL;
  json_t *cands = NULL;
  if (rc == -ENOSPC) nominated = try_preempt(s, p, pix, pod, qp->key, &res, &post, &cands);
  sched_nominated_remove(s, tmp, ntmp);
  if (cands) sched_ext_preempt_start(s, qp, pod, pix, &res, cands, t0);
  else sched_attempt_done(s, qp, pod, pix, rc, &res, nominated, post, t0);
  sched_result_clear(&res);
  json_decref(pod);
}

static void turn_cb(evutil_socket_t fd, short what, void *arg)
{
  struct sched_server *s = arg;
  if (!s->running) return;
  s->busy_since_trim = true;
  int64_t start = ktime_mono_ms();
  sched_queue_flush(s->queue, start);
  struct sched_qpod *qp;
  /* One cycle at a time: while extenders are consulted, the next pod waits
   * (the cycle's end wakes the loop again). */
  while (!s->ext_cycle && s->binds_in_flight < SCHED_MAX_BINDS_IN_FLIGHT && (qp = sched_queue_pop(s->queue, start))) {
    schedule_one(s, qp);
    if (ktime_mono_ms() - start >= SCHED_TURN_BUDGET_MS) break;
  }
  if (!s->ext_cycle && s->binds_in_flight < SCHED_MAX_BINDS_IN_FLIGHT && sched_queue_len(s->queue, SQ_ACTIVE) > 0)
    sched_wake(s);
  /* Wake exactly when the earliest backoff ends rather than on the tick. */
  int64_t d = sched_queue_next_backoff_ms(s->queue, ktime_mono_ms());
  if (d >= 0) {
    struct timeval tv = {d / 1000, (d % 1000) * 1000};
    evtimer_add(s->backoff_ev, &tv);
  }
}

static void backoff_cb(evutil_socket_t fd, short what, void *arg) { sched_wake(arg); }

void sched_wake(struct sched_server *s)
{
  if (!s->running || !s->turn_ev || evtimer_pending(s->turn_ev, NULL)) return;
  struct timeval tv = {0, 0};
  evtimer_add(s->turn_ev, &tv);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
  struct sched_server *s = arg;
  int64_t now = ktime_mono_ms();
  if (now - s->last_unsched_flush_ms >= SCHED_UNSCHEDULABLE_FLUSH_MS) {
    s->last_unsched_flush_ms = now;
    sched_queue_flush(s->queue, now);
  }
  if (sched_queue_next_backoff_ms(s->queue, now) == 0) sched_wake(s);
  update_pending_metrics(s);
  /* After a burst of scheduling (parsed watch events, request bodies),
   * return freed pages once things are quiet. */
  if (s->busy_since_trim && s->binds_in_flight == 0 && sched_queue_len(s->queue, SQ_ACTIVE) == 0) {
    malloc_trim(0);
    s->busy_since_trim = false;
  }
}

static void mark_gated(void *arg, struct sched_qpod *qp)
{
  if (qp->state == SQ_GATED)
    sched_update_pod_status(arg, qp->pod, "SchedulingGated", "Scheduling is blocked due to non-empty scheduling gates",
                            NULL);
}

static void update_running(struct sched_server *s)
{
  bool run = s->synced && s->leading;
  if (run == s->running) return;
  s->running = run;
  if (run) {
    KLOG_I("Starting to schedule pods (%zu nodes, %zu pending)", s->snap->nnodes, sched_queue_len(s->queue, SQ_ACTIVE));
    sched_queue_foreach(s->queue, mark_gated, s);
    sched_wake(s);
  }
}

static void sync_cb(evutil_socket_t fd, short what, void *arg)
{
  struct sched_server *s = arg;
  if (!informer_has_synced(s->nodes) || !informer_has_synced(s->pods) || !informer_has_synced(s->namespaces) ||
      !informer_has_synced(s->pvcs) || !informer_has_synced(s->pvs) || !informer_has_synced(s->classes)) {
    struct timeval tv = {0, 50 * 1000};
    evtimer_add(s->sync_ev, &tv);
    return;
  }
  s->synced = true;
  KLOG_I("Caches are synced");
  /* The initial LISTs parse every object at once; give those pages back. */
  malloc_trim(0);
  update_running(s);
}

/* ---- lifecycle ---- */

struct sched_server *sched_server_new(struct event_base *base, struct rest_client *client, struct metrics *metrics,
                                      struct sched_config *cfg, const char *host)
{
  struct sched_server *s = xcalloc(1, sizeof *s);
  if (!s) return NULL;
  s->base = base;
  s->client = client;
  s->metrics = metrics;
  s->cfg = cfg;
  s->host = xstrdup(host ? host : "");
  s->snap = sched_snapshot_new();
  s->queue = sched_queue_new(0, 0, 0);
  s->assumed = json_object();
  s->nominated = json_object();
  s->recorders = xcalloc(cfg->nprofiles ? cfg->nprofiles : 1, sizeof *s->recorders);
  for (size_t i = 0; i < cfg->nextenders; i++)
    if (sched_extender_connect(&cfg->extenders[i], base) < 0) goto fail;
  s->turn_ev = evtimer_new(base, turn_cb, s);
  s->tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, s);
  s->sync_ev = evtimer_new(base, sync_cb, s);
  s->backoff_ev = evtimer_new(base, backoff_cb, s);
  if (!s->backoff_ev || !s->host || !s->snap || !s->queue || !s->recorders || !s->turn_ev || !s->tick_ev || !s->sync_ev)
    goto fail;
  for (size_t i = 0; i < cfg->nprofiles; i++) {
    s->recorders[i] = recorder_new(base, client, cfg->profiles[i]->scheduler_name, host);
    if (!s->recorders[i]) goto fail;
  }
  /* The snapshot and the queue hold the pods and nodes they are given, so
   * the stores keep the same trees rather than a serialized copy each. */
  struct informer_opts po = {.path = "/api/v1/pods",
                             .transform = sched_pod_transform,
                             .transform_arg = s,
                             .keep_parsed = true,
                             .drop_managed_fields = true};
  struct informer_opts no = {.path = "/api/v1/nodes", .keep_parsed = true, .drop_managed_fields = true};
  struct informer_opts nso = {.path = "/api/v1/namespaces", .keep_parsed = true};
  struct informer_opts pdo = {.path = "/apis/policy/v1/poddisruptionbudgets", .keep_parsed = true};
  s->pods = informer_new(base, client, &po);
  s->nodes = informer_new(base, client, &no);
  s->namespaces = informer_new(base, client, &nso);
  s->pdbs = informer_new(base, client, &pdo);
  struct informer_opts pvco = {
      .path = "/api/v1/persistentvolumeclaims", .keep_parsed = true, .drop_managed_fields = true};
  struct informer_opts pvo = {.path = "/api/v1/persistentvolumes", .keep_parsed = true, .drop_managed_fields = true};
  struct informer_opts sco = {
      .path = "/apis/storage.k8s.io/v1/storageclasses", .keep_parsed = true, .drop_managed_fields = true};
  s->pvcs = informer_new(base, client, &pvco);
  s->pvs = informer_new(base, client, &pvo);
  s->classes = informer_new(base, client, &sco);
  if (!s->pods || !s->nodes || !s->namespaces || !s->pdbs || !s->pvcs || !s->pvs || !s->classes) goto fail;
  informer_add_index(s->pods, INFORMER_INDEX_NODE_NAME, informer_index_pod_node_name, NULL);
  struct informer_handlers ph = {pod_add, pod_update, pod_delete, s};
  struct informer_handlers nh = {node_add, node_update, node_delete, s};
  struct informer_handlers nsh = {ns_add, ns_update, ns_delete, s};
  informer_add_handlers(s->pods, &ph);
  informer_add_handlers(s->nodes, &nh);
  informer_add_handlers(s->namespaces, &nsh);
  struct informer_handlers pvch = {pvc_add, pvc_update, pvc_delete, s};
  struct informer_handlers pvh = {pv_add, pv_update, pv_delete, s};
  struct informer_handlers sch = {sc_add, sc_update, sc_delete, s};
  informer_add_handlers(s->pvcs, &pvch);
  informer_add_handlers(s->pvs, &pvh);
  informer_add_handlers(s->classes, &sch);
  s->handle =
      (struct sched_handle){.base = base, .client = client, .snap = s->snap, .pod_exists = pod_exists, .arg = s};
  sched_config_attach(cfg, &s->handle);
  return s;
fail:
  sched_server_free(s);
  return NULL;
}

int sched_server_start(struct sched_server *s)
{
  informer_start(s->namespaces);
  informer_start(s->nodes);
  informer_start(s->pods);
  informer_start(s->pdbs);
  informer_start(s->classes);
  informer_start(s->pvs);
  informer_start(s->pvcs);
  struct timeval tv = {0, 0}, tick = {SCHED_TICK_MS / 1000, (SCHED_TICK_MS % 1000) * 1000};
  evtimer_add(s->sync_ev, &tv);
  event_add(s->tick_ev, &tick);
  s->last_unsched_flush_ms = ktime_mono_ms();
  return 0;
}

void sched_server_set_leading(struct sched_server *s, bool leading)
{
  s->leading = leading;
  update_running(s);
}

bool sched_server_synced(const struct sched_server *s) { return s->synced; }

void sched_server_free(struct sched_server *s)
{
  if (!s) return;
  sched_ext_cycle_cancel(s);
  sched_ops_cancel_all(s);
  if (s->pods) informer_free(s->pods);
  if (s->nodes) informer_free(s->nodes);
  if (s->namespaces) informer_free(s->namespaces);
  if (s->pdbs) informer_free(s->pdbs);
  if (s->pvcs) informer_free(s->pvcs);
  if (s->pvs) informer_free(s->pvs);
  if (s->classes) informer_free(s->classes);
  for (size_t i = 0; s->recorders && i < s->cfg->nprofiles; i++)
    if (s->recorders[i]) recorder_free(s->recorders[i]);
  free(s->recorders);
  if (s->turn_ev) event_free(s->turn_ev);
  if (s->tick_ev) event_free(s->tick_ev);
  if (s->sync_ev) event_free(s->sync_ev);
  if (s->backoff_ev) event_free(s->backoff_ev);
  sched_queue_free(s->queue);
  sched_snapshot_free(s->snap);
  json_decref(s->assumed);
  json_decref(s->nominated);
  free(s->host);
  free(s);
}
