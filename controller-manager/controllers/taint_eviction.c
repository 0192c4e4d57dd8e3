/*
 * taint_eviction.c - the "taint-eviction-controller": deletes pods from
 * nodes with NoExecute taints they do not tolerate.
 *
 * Keys are pods.  A pod event enqueues the pod; a node whose taints
 * change enqueues every pod bound to it.  sync(pod) compares the node's
 * NoExecute taints with the pod's tolerations: a taint not tolerated
 * means deletion at once; a toleration with tolerationSeconds means
 * deletion that long after the taint's timeAdded, so the key is requeued
 * for that moment (the timer); when the taint is gone by then, the sync
 * finds nothing to do, which is how a pending eviction is cancelled.
 * Each deletion records a TaintManagerEviction event on the pod.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "controller_utils.h"
#include "core_logic.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/scheduling.h"
#include "kube/recorder.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

struct te_ctl {
  struct cm_base base;
  struct informer *node_inf, *pod_inf;
  json_t *noexec; /* names of nodes with a NoExecute taint -> true */
};

int64_t taint_eviction_delay_ms(const json_t *pod, const json_t *taints, int64_t now_ms)
{
  int64_t when = -1; /* absolute ms of the earliest eviction */
  size_t i;
  json_t *t;
  json_array_foreach (taints, i, t) {
    if (strcmp(kj_get_str(t, "effect") ?: "", "NoExecute")) continue;
    /* The tolerating toleration with the longest time (none = forever). */
    bool tolerated = false, forever = false;
    int64_t secs = 0;
    size_t j;
    json_t *tol;
    json_array_foreach (kj_get(pod, "spec.tolerations"), j, tol) {
      if (!toleration_tolerates(tol, kj_get_str(t, "key"), kj_get_str(t, "value"), kj_get_str(t, "effect"))) continue;
      tolerated = true;
      json_t *ts = json_object_get(tol, "tolerationSeconds");
      if (!json_is_integer(ts)) forever = true;
      else if (json_integer_value(ts) > secs) secs = json_integer_value(ts);
    }
    if (!tolerated) return 0;
    if (forever) continue;
    if (secs < 0) secs = 0;
    int64_t added = cm_time_us(t, "timeAdded", now_ms * 1000) / 1000;
    int64_t at = added + secs * 1000;
    if (when < 0 || at < when) when = at;
  }
  if (when < 0) return -1;
  return when <= now_ms ? 0 : when - now_ms;
}

static void te_enqueue_node_pods(struct te_ctl *c, const char *node)
{
  /* By the node index: parsing every pod of the cluster per tainted node
   * does not scale. */
  json_t *pods = informer_store_by_index(c->pod_inf, INFORMER_INDEX_NODE_NAME, node);
  size_t i;
  json_t *p;
  json_array_foreach (pods, i, p)
    if (!strcmp(kj_get_str(p, "spec.nodeName") ?: "", node)) cm_base_enqueue(&c->base, p);
  json_decref(pods);
}

/* Pod events matter only on nodes with a NoExecute taint; remembering
 * which those are spares parsing the pod and its node on every status
 * change of every pod. */
static void te_note_node(struct te_ctl *c, const json_t *n)
{
  const char *name = kj_get_str(n, "metadata.name") ?: "";
  bool noexec = false;
  size_t i;
  json_t *t;
  json_array_foreach (kj_get(n, "spec.taints"), i, t) noexec |= !strcmp(kj_get_str(t, "effect") ?: "", "NoExecute");
  if (noexec) json_object_set_new(c->noexec, name, json_true());
  else json_object_del(c->noexec, name);
}

static void te_node_add(void *arg, const json_t *n)
{
  te_note_node(arg, n);
  if (json_array_size(kj_get(n, "spec.taints"))) te_enqueue_node_pods(arg, kj_get_str(n, "metadata.name") ?: "");
}

static void te_node_delete(void *arg, const json_t *n, bool unknown)
{
  struct te_ctl *c = arg;
  json_object_del(c->noexec, kj_get_str(n, "metadata.name") ?: "");
}

static void te_node_update(void *arg, const json_t *o, const json_t *n)
{
  te_note_node(arg, n);
  if (o == n || cm_json_eq(kj_get(o, "spec.taints"), kj_get(n, "spec.taints"))) return;
  te_enqueue_node_pods(arg, kj_get_str(n, "metadata.name") ?: "");
}

static void te_pod_event(void *arg, const json_t *p)
{
  struct te_ctl *c = arg;
  const char *node = kj_get_str(p, "spec.nodeName");
  if (node && json_object_get(c->noexec, node) && !kj_get(p, "metadata.deletionTimestamp"))
    cm_base_enqueue(&c->base, p);
}
static void te_pod_add(void *arg, const json_t *p) { te_pod_event(arg, p); }
static void te_pod_update(void *arg, const json_t *o, const json_t *n) { te_pod_event(arg, n); }

static void te_sync(struct cm_base *b, const char *key)
{
  struct te_ctl *c = (struct te_ctl *)b;
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue = -1;
  json_t *pod = informer_store_get_obj(c->pod_inf, key);
  const char *nodename = pod ? kj_get_str(pod, "spec.nodeName") : NULL;
  json_t *node = nodename ? informer_store_get_obj(c->node_inf, nodename) : NULL;
  if (pod && node && !kj_get(pod, "metadata.deletionTimestamp")) {
    int64_t delay = taint_eviction_delay_ms(pod, kj_get(node, "spec.taints"), ktime_now_us() / 1000);
    if (delay == 0) {
      char path[700];
      cm_act_event(&acts, pod, RECORDER_EVENT_NORMAL, "TaintManagerEviction", "Marking for deletion Pod %s", key);
      cm_path(path, sizeof path, "/api/v1", kj_get_str(pod, "metadata.namespace"), "pods",
              kj_get_str(pod, "metadata.name"), NULL);
      json_t *opts = cm_delete_this(pod);
      cm_act(&acts, CM_DELETE, path, opts);
    } else if (delay > 0) {
      requeue = delay;
    }
  }
  json_decref(pod);
  json_decref(node);
  cm_base_exec(b, key, &acts, NULL, requeue);
  cm_actions_clear(&acts);
}

static int te_init(struct cm_base *b)
{
  struct te_ctl *c = (struct te_ctl *)b;
  c->noexec = json_object();
  c->node_inf = informer_factory_get(b->ctx->informers, CM_NODES);
  c->pod_inf = informer_factory_get(b->ctx->informers, CM_PODS);
  informer_add_index(c->pod_inf, INFORMER_INDEX_NODE_NAME, informer_index_pod_node_name, NULL);
  struct informer_handlers nh = {te_node_add, te_node_update, te_node_delete, c};
  struct informer_handlers ph = {te_pod_add, te_pod_update, NULL, c};
  informer_add_handlers(c->node_inf, &nh);
  informer_add_handlers(c->pod_inf, &ph);
  return 0;
}

static void te_fini(struct cm_base *b) { json_decref(((struct te_ctl *)b)->noexec); }

const struct controller_def ctrl_taint_eviction = {
    .name = "taint-eviction-controller",
    .service_account = "node-controller",
    .enabled_by_default = true,
    .size = sizeof(struct te_ctl),
    .queue = "taint_eviction",
    .component = "taint-eviction-controller",
    .workers = 8,
    .sync = te_sync,
    .init = te_init,
    .fini = te_fini,
};
