/*
 * podgc.c - the "podgc" controller: collects pods nobody else will.
 *
 * Every 20 s (upstream's gcCheckPeriod) a pass over the caches (the
 * controller's one key, so a failed write brings the pass back early):
 *  - terminated pods (Succeeded/Failed) beyond --terminated-pod-gc-threshold
 *    are deleted, oldest creationTimestamp first (0 disables this);
 *  - pods bound to a node that does not exist: the node is quarantined
 *    for 40 s from the first pass that missed it, then confirmed gone
 *    with a live GET (a 404), and its pods are force deleted
 *    (gracePeriodSeconds 0);
 *  - terminating pods that were never scheduled are force deleted.
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
#include "kube/log.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

#define PODGC_PERIOD_MS 20000
#define PODGC_QUARANTINE_MS 40000

static int podgc_age_cmp(const void *a, const void *b)
{
  const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  int64_t tx = cm_time_us(x, "metadata.creationTimestamp", 0), ty = cm_time_us(y, "metadata.creationTimestamp", 0);
  if (tx != ty) return tx < ty ? -1 : 1;
  return strcmp(kj_get_str(x, "metadata.name") ?: "", kj_get_str(y, "metadata.name") ?: "");
}

json_t *podgc_terminated_to_delete(const json_t *pods, int threshold)
{
  json_t *out = json_array();
  if (threshold <= 0) return out;
  size_t n = 0, i;
  json_t *p;
  json_t **v = xmalloc((json_array_size(pods) + 1) * sizeof *v);
  json_array_foreach (pods, i, p)
    if (pod_is_terminal(p) && !kj_get(p, "metadata.deletionTimestamp")) v[n++] = p;
  if (n > (size_t)threshold) {
    qsort(v, n, sizeof *v, podgc_age_cmp);
    for (i = 0; i < n - (size_t)threshold; i++) json_array_append(out, v[i]);
  }
  free(v);
  return out;
}

json_t *podgc_unscheduled_terminating(const json_t *pods)
{
  json_t *out = json_array();
  size_t i;
  json_t *p;
  json_array_foreach (pods, i, p) {
    const char *node = kj_get_str(p, "spec.nodeName");
    if (kj_get(p, "metadata.deletionTimestamp") && (!node || !*node)) json_array_append(out, p);
  }
  return out;
}

json_t *podgc_missing_nodes(const json_t *pods, const json_t *nodes)
{
  json_t *have = json_object(), *out = json_object();
  size_t i;
  json_t *x;
  json_array_foreach (nodes, i, x) json_object_set_new(have, kj_get_str(x, "metadata.name") ?: "", json_true());
  json_array_foreach (pods, i, x) {
    const char *node = kj_get_str(x, "spec.nodeName");
    if (node && *node && !json_object_get(have, node)) json_object_set_new(out, node, json_true());
  }
  json_decref(have);
  return out;
}

struct podgc_ctl {
  struct cm_base base; /* one key: the pass */
  struct informer *pod_inf, *node_inf;
  json_t *quarantine; /* node name -> first missed (mono ms) */
};

#define PODGC_KEY "podgc"

static void podgc_delete(struct cm_actions *acts, const json_t *pod, bool force)
{
  char path[700];
  cm_path(path, sizeof path, "/api/v1", kj_get_str(pod, "metadata.namespace"), "pods", kj_get_str(pod, "metadata.name"),
          NULL);
  json_t *opts = cm_delete_this(pod);
  if (force) json_object_set_new(opts, "gracePeriodSeconds", json_integer(0));
  cm_act(acts, CM_DELETE, path, opts);
}

struct podgc_node_check {
  struct podgc_ctl *c;
  char node[256];
};

/* The live GET confirms the node is gone (a 404 naming it): its pods are
 * force deleted in the same run. */
static void podgc_node_checked(void *arg, struct cm_run *run, int code, json_t *body, const struct rest_status *err)
{
  struct podgc_node_check *nc = arg;
  struct podgc_ctl *c = nc->c;
  if (!(code == 404 && err && err->status && !strcmp(kj_get_str(err->status, "details.name") ?: "", nc->node))) return;
  struct cm_actions acts;
  cm_actions_init(&acts);
  json_t *pods = informer_store_by_index(c->pod_inf, INFORMER_INDEX_NODE_NAME, nc->node);
  size_t i;
  json_t *p;
  json_array_foreach (pods, i, p)
    if (!strcmp(kj_get_str(p, "spec.nodeName") ?: "", nc->node)) {
      KLOG_I("podgc: deleting orphaned pod %s/%s of missing node %s", kj_get_str(p, "metadata.namespace"),
             kj_get_str(p, "metadata.name"), nc->node);
      podgc_delete(&acts, p, true);
    }
  json_decref(pods);
  cm_run_add(run, &acts);
  cm_actions_clear(&acts);
}

/* New reference: the only pods a pass can act on (terminated, being
 * deleted, or bound to a node that is not in the cache), parsed one at a
 * time.  Parsing a large cluster's whole pod list at once every pass would
 * hold hundreds of MB of trees just to throw almost all of them away. */
static json_t *podgc_candidates(struct podgc_ctl *c, const json_t *nodes)
{
  json_t *names = json_object();
  size_t i;
  json_t *n;
  json_array_foreach (nodes, i, n) json_object_set_new(names, kj_get_str(n, "metadata.name") ?: "", json_true());
  json_t *keys = informer_store_keys(c->pod_inf), *out = json_array(), *k;
  json_array_foreach (keys, i, k) {
    json_t *pod = informer_store_get_obj(c->pod_inf, json_string_value(k));
    if (!pod) continue;
    const char *node = kj_get_str(pod, "spec.nodeName") ?: "";
    if (pod_is_terminal(pod) || kj_get(pod, "metadata.deletionTimestamp") || (*node && !json_object_get(names, node)))
      json_array_append(out, pod);
    json_decref(pod);
  }
  json_decref(keys);
  json_decref(names);
  return out;
}

/* Nodes missing from the cache are quarantined for 40 s, then checked
 * with a live GET. */
static void podgc_check_missing_nodes(struct podgc_ctl *c, const json_t *pods, const json_t *nodes,
                                      struct cm_actions *acts)
{
  json_t *missing = podgc_missing_nodes(pods, nodes);
  int64_t now = ktime_mono_ms();
  const char *k;
  json_t *v, *tmp;
  json_object_foreach_safe (c->quarantine, tmp, k, v)
    if (!json_object_get(missing, k)) json_object_del(c->quarantine, k);
  json_object_foreach (missing, k, v) {
    json_t *since = json_object_get(c->quarantine, k);
    if (!since) {
      json_object_set_new(c->quarantine, k, json_integer(now));
      continue;
    }
    if (now - json_integer_value(since) < PODGC_QUARANTINE_MS) continue;
    struct podgc_node_check *nc = xcalloc(1, sizeof *nc);
    nc->c = c;
    snprintf(nc->node, sizeof nc->node, "%s", k);
    char path[400];
    cm_path(path, sizeof path, "/api/v1", NULL, "nodes", k, NULL);
    cm_act_on_answer(cm_act(acts, CM_GET, path, NULL), podgc_node_checked, nc, free);
  }
  json_decref(missing);
}

static void podgc_sync(struct cm_base *b, const char *key)
{
  struct podgc_ctl *c = (struct podgc_ctl *)b;
  struct cm_actions acts;
  cm_actions_init(&acts);
  json_t *nodes = informer_store_list(c->node_inf);
  json_t *pods = podgc_candidates(c, nodes);
  json_t *del = podgc_terminated_to_delete(pods, b->ctx->cfg.terminated_pod_gc_threshold);
  size_t i;
  json_t *p;
  json_array_foreach (del, i, p) podgc_delete(&acts, p, false);
  json_decref(del);
  del = podgc_unscheduled_terminating(pods);
  json_array_foreach (del, i, p) podgc_delete(&acts, p, true);
  json_decref(del);
  podgc_check_missing_nodes(c, pods, nodes, &acts);
  json_decref(pods);
  json_decref(nodes);
  cm_base_exec(b, key, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

static void podgc_tick(struct cm_base *b) { cm_base_enqueue_key(b, PODGC_KEY); }

static int podgc_init(struct cm_base *b)
{
  struct podgc_ctl *c = (struct podgc_ctl *)b;
  c->pod_inf = informer_factory_get(b->ctx->informers, CM_PODS);
  c->node_inf = informer_factory_get(b->ctx->informers, CM_NODES);
  informer_add_index(c->pod_inf, INFORMER_INDEX_NODE_NAME, informer_index_pod_node_name, NULL);
  c->quarantine = json_object();
  return 0;
}

static void podgc_run(struct cm_base *b) { cm_base_periodic(b, PODGC_PERIOD_MS, podgc_tick); }
static void podgc_fini(struct cm_base *b) { json_decref(((struct podgc_ctl *)b)->quarantine); }

const struct controller_def ctrl_podgc = {
    .name = "podgc",
    .service_account = "pod-garbage-collector",
    .enabled_by_default = true,
    .size = sizeof(struct podgc_ctl),
    .queue = "pod_garbage_collector",
    .workers = 1,
    .sync = podgc_sync,
    .init = podgc_init,
    .run = podgc_run,
    .fini = podgc_fini,
};
