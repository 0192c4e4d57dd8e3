/*
 * nodelifecycle.c - the "nodelifecycle" controller: notices nodes whose
 * kubelet stopped reporting, marks them Unknown, and keeps the condition
 * taints of every node in step with its conditions.
 *
 * Keys are node names.  Every --node-monitor-period (5 s) every cached
 * Node is enqueued (and one whose conditions or taints change at once);
 * its sync looks at the Node and its Lease in kube-node-lease.  Heartbeats are judged by local
 * observation, as upstream does to be immune to clock skew: the probe time
 * of a node moves to now whenever its Ready heartbeat or Lease renewTime
 * changes.  A node not probed for --node-monitor-grace-period (50 s; 60 s
 * startup grace for a node that never posted Ready) gets every condition
 * set to Unknown (PUT nodes/NAME/status) and the pods on it marked not
 * ready (PUT pods/NAME/status).  Taints follow conditions: Ready=False
 * gives node.kubernetes.io/not-ready, Ready=Unknown
 * node.kubernetes.io/unreachable, each as NoSchedule and as NoExecute
 * (with timeAdded, which the taint-eviction controller counts
 * tolerationSeconds from); the pressure conditions, NetworkUnavailable
 * and spec.unschedulable give their NoSchedule taints.
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
#include "kube/timeutil.h"
#include "kube/xalloc.h"

#define NL_STARTUP_GRACE_MS 60000
#define NL_DEFAULT_GRACE_MS 50000
#define NL_DEFAULT_PERIOD_MS 5000

bool nodelifecycle_is_stale(json_t *health, const json_t *node, const json_t *lease, int64_t now_ms, int64_t grace_ms,
                            int64_t startup_grace_ms)
{
  const char *name = kj_get_str(node, "metadata.name") ?: "";
  json_t *ready = cm_get_condition(node, "status.conditions", "Ready");
  const char *hb = ready ? kj_get_str(ready, "lastHeartbeatTime") ?: "" : "";
  const char *renew = lease ? kj_get_str(lease, "spec.renewTime") ?: "" : "";
  json_t *h = json_object_get(health, name);
  if (!h) {
    int64_t probe = now_ms;
    if (!ready) probe = cm_time_us(node, "metadata.creationTimestamp", now_ms * 1000) / 1000;
    h = json_pack("{s:s, s:s, s:I}", "hb", hb, "lease", renew, "probe", (json_int_t)probe);
    json_object_set_new(health, name, h);
  } else if (strcmp(kj_get_str(h, "hb") ?: "", hb) || strcmp(kj_get_str(h, "lease") ?: "", renew)) {
    json_object_set_new(h, "hb", json_string(hb));
    json_object_set_new(h, "lease", json_string(renew));
    json_object_set_new(h, "probe", json_integer(now_ms));
  }
  int64_t probe = kj_get_int(h, "probe", now_ms);
  int64_t grace = ready ? grace_ms : startup_grace_ms;
  return now_ms - probe > grace;
}

json_t *nodelifecycle_unknown_conditions(const json_t *node, const char *now)
{
  json_t *conds = kj_deep_copy(kj_get(node, "status.conditions"));
  if (!json_is_array(conds)) {
    json_decref(conds);
    conds = json_array();
  }
  bool changed = false, have_ready = false;
  size_t i;
  json_t *c;
  json_array_foreach (conds, i, c) {
    const char *type = kj_get_str(c, "type") ?: "";
    if (!strcmp(type, "Ready")) have_ready = true;
    if (!strcmp(kj_get_str(c, "status") ?: "", "Unknown")) continue;
    json_object_set_new(c, "status", json_string("Unknown"));
    json_object_set_new(c, "reason", json_string("NodeStatusUnknown"));
    json_object_set_new(c, "message", json_string("Kubelet stopped posting node status."));
    json_object_set_new(c, "lastTransitionTime", json_string(now));
    changed = true;
  }
  if (!have_ready) {
    json_array_append_new(conds,
                          json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "Ready", "status", "Unknown", "reason",
                                    "NodeStatusNeverUpdated", "message", "Kubelet never posted node status.",
                                    "lastHeartbeatTime", now, "lastTransitionTime", now));
    changed = true;
  }
  if (!changed) {
    json_decref(conds);
    return NULL;
  }
  return conds;
}

static bool nl_taint_is(const json_t *t, const char *key, const char *effect)
{
  return !strcmp(kj_get_str(t, "key") ?: "", key) && !strcmp(kj_get_str(t, "effect") ?: "", effect);
}

static const char *const nl_managed[] = {TAINT_NOT_READY,
                                         TAINT_UNREACHABLE,
                                         "node.kubernetes.io/memory-pressure",
                                         "node.kubernetes.io/disk-pressure",
                                         "node.kubernetes.io/pid-pressure",
                                         "node.kubernetes.io/network-unavailable",
                                         "node.kubernetes.io/unschedulable"};

static bool nl_cond_is(const json_t *node, const char *type, const char *status)
{
  json_t *c = cm_get_condition(node, "status.conditions", type);
  return c && !strcmp(kj_get_str(c, "status") ?: "", status);
}

json_t *nodelifecycle_desired_taints(const json_t *node, const char *now)
{
  /* key, effect pairs wanted now */
  const char *want[16][2];
  size_t nw = 0;
  json_t *ready = cm_get_condition(node, "status.conditions", "Ready");
  const char *rs = ready ? kj_get_str(ready, "status") ?: "" : "Unknown";
  if (!strcmp(rs, "False")) {
    want[nw][0] = TAINT_NOT_READY, want[nw++][1] = "NoSchedule";
    want[nw][0] = TAINT_NOT_READY, want[nw++][1] = "NoExecute";
  } else if (strcmp(rs, "True")) {
    want[nw][0] = TAINT_UNREACHABLE, want[nw++][1] = "NoSchedule";
    want[nw][0] = TAINT_UNREACHABLE, want[nw++][1] = "NoExecute";
  }
  if (nl_cond_is(node, "MemoryPressure", "True")) want[nw][0] = nl_managed[2], want[nw++][1] = "NoSchedule";
  if (nl_cond_is(node, "DiskPressure", "True")) want[nw][0] = nl_managed[3], want[nw++][1] = "NoSchedule";
  if (nl_cond_is(node, "PIDPressure", "True")) want[nw][0] = nl_managed[4], want[nw++][1] = "NoSchedule";
  if (nl_cond_is(node, "NetworkUnavailable", "True")) want[nw][0] = nl_managed[5], want[nw++][1] = "NoSchedule";
  if (kj_get_bool(node, "spec.unschedulable", false)) want[nw][0] = nl_managed[6], want[nw++][1] = "NoSchedule";

  json_t *old = kj_get(node, "spec.taints");
  json_t *out = json_array();
  bool changed = false;
  size_t i;
  json_t *t;
  json_array_foreach (old, i, t) {
    const char *key = kj_get_str(t, "key") ?: "";
    bool managed = false, wanted = false;
    for (size_t m = 0; m < sizeof nl_managed / sizeof nl_managed[0]; m++) managed |= !strcmp(key, nl_managed[m]);
    for (size_t w = 0; w < nw; w++) wanted |= nl_taint_is(t, want[w][0], want[w][1]);
    if (managed && !wanted) {
      changed = true;
      continue;
    }
    json_array_append(out, t);
  }
  for (size_t w = 0; w < nw; w++) {
    bool have = false;
    json_array_foreach (old, i, t) have |= nl_taint_is(t, want[w][0], want[w][1]);
    if (have) continue;
    json_t *nt = json_pack("{s:s, s:s}", "key", want[w][0], "effect", want[w][1]);
    if (!strcmp(want[w][1], "NoExecute")) json_object_set_new(nt, "timeAdded", json_string(now));
    json_array_append_new(out, nt);
    changed = true;
  }
  if (!changed) {
    json_decref(out);
    return NULL;
  }
  return out;
}

/* ---- the controller ---- */

struct nl_ctl {
  struct cm_base base; /* keys are node names */
  struct informer *node_inf, *lease_inf, *pod_inf;
  json_t *health;
  int64_t grace_ms;
};

static void nl_mark_pods_not_ready(struct nl_ctl *c, struct cm_actions *acts, const char *node, const char *now)
{
  /* Runs every monitor period for each unready node: by the node index. */
  json_t *pods = informer_store_by_index(c->pod_inf, INFORMER_INDEX_NODE_NAME, node);
  size_t i;
  json_t *pod;
  json_array_foreach (pods, i, pod) {
    if (strcmp(kj_get_str(pod, "spec.nodeName") ?: "", node) || !pod_is_ready(pod) || pod_is_terminal(pod)) continue;
    json_t *copy = kj_deep_copy(pod);
    size_t j;
    json_t *cond;
    json_array_foreach (kj_get(copy, "status.conditions"), j, cond) {
      if (strcmp(kj_get_str(cond, "type") ?: "", "Ready")) continue;
      json_object_set_new(cond, "status", json_string("False"));
      json_object_set_new(cond, "lastTransitionTime", json_string(now));
    }
    char path[700];
    cm_path(path, sizeof path, "/api/v1", kj_get_str(pod, "metadata.namespace"), "pods",
            kj_get_str(pod, "metadata.name"), "status");
    cm_act(acts, CM_PUT, path, copy);
  }
  json_decref(pods);
}

/* One node: marked Unknown when stale (and its pods not ready), its
 * condition taints brought in line with its conditions. */
static void nl_sync(struct cm_base *b, const char *name)
{
  struct nl_ctl *c = (struct nl_ctl *)b;
  struct cm_actions acts;
  cm_actions_init(&acts);
  json_t *node = informer_store_get_obj(c->node_inf, name);
  if (!node) {
    json_object_del(c->health, name);
    cm_base_finish(b, name, false, -1);
    return;
  }
  int64_t now_ms = ktime_now_us() / 1000;
  char now[40], lkey[300], path[400];
  ktime_now_str(now);
  snprintf(lkey, sizeof lkey, "kube-node-lease/%s", name);
  json_t *lease = informer_store_get_obj(c->lease_inf, lkey);
  bool stale = nodelifecycle_is_stale(c->health, node, lease, now_ms, c->grace_ms, NL_STARTUP_GRACE_MS);
  json_decref(lease);
  json_t *view = json_incref(node);
  json_t *conds = stale ? nodelifecycle_unknown_conditions(node, now) : NULL;
  if (conds) {
    KLOG_I("node %s hasn't been updated for longer than the grace period; marking it Unknown", name);
    json_decref(view);
    view = kj_deep_copy(node);
    kj_set(view, "status.conditions", conds);
    cm_path(path, sizeof path, "/api/v1", NULL, "nodes", name, "status");
    cm_act(&acts, CM_PUT, path, json_incref(view));
  }
  json_t *ready = cm_get_condition(view, "status.conditions", "Ready");
  /* Pods of a never-ready node are the kubelet's business until it is stale. */
  if ((ready || stale) && (!ready || strcmp(kj_get_str(ready, "status") ?: "", "True")))
    nl_mark_pods_not_ready(c, &acts, name, now);
  json_t *taints = nodelifecycle_desired_taints(view, now);
  if (taints) {
    json_t *patch = json_pack("{s:{s:o}, s:{s:s}}", "spec", "taints", taints, "metadata", "resourceVersion",
                              kj_get_str(node, "metadata.resourceVersion") ?: "");
    cm_path(path, sizeof path, "/api/v1", NULL, "nodes", name, NULL);
    cm_act(&acts, CM_PATCH, path, patch)->patch = CM_PATCH_MERGE;
  }
  json_decref(view);
  json_decref(node);
  cm_base_exec(b, name, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

/* Every --node-monitor-period: every node is looked at. */
static void nl_monitor(struct cm_base *b)
{
  struct nl_ctl *c = (struct nl_ctl *)b;
  json_t *keys = informer_store_keys(c->node_inf);
  size_t i;
  json_t *k;
  json_array_foreach (keys, i, k) cm_base_enqueue_key(b, json_string_value(k));
  json_decref(keys);
}

/* A condition or taint change is looked at at once; heartbeats wait for
 * the monitor. */
static void nl_node_update(void *arg, const json_t *o, const json_t *n)
{
  struct nl_ctl *c = arg;
  if (o == n) return;
  size_t i;
  json_t *cn;
  bool changed = !cm_json_eq(kj_get(o, "spec.taints"), kj_get(n, "spec.taints")) ||
                 kj_get_bool(o, "spec.unschedulable", false) != kj_get_bool(n, "spec.unschedulable", false);
  json_array_foreach (kj_get(n, "status.conditions"), i, cn) {
    json_t *oc = cm_get_condition(o, "status.conditions", kj_get_str(cn, "type") ?: "");
    if (!oc || strcmp(kj_get_str(oc, "status") ?: "", kj_get_str(cn, "status") ?: "")) changed = true;
  }
  if (changed) cm_base_enqueue(&c->base, n);
}

static void nl_node_delete(void *arg, const json_t *n, bool unknown)
{
  struct nl_ctl *c = arg;
  cm_base_enqueue(&c->base, n);
}

static int nl_init(struct cm_base *b)
{
  struct nl_ctl *c = (struct nl_ctl *)b;
  const struct cm_config *cfg = &b->ctx->cfg;
  c->health = json_object();
  c->grace_ms = cfg->node_monitor_grace_period_ms > 0 ? cfg->node_monitor_grace_period_ms : NL_DEFAULT_GRACE_MS;
  c->node_inf = informer_factory_get(b->ctx->informers, CM_NODES);
  c->lease_inf = informer_factory_get(b->ctx->informers, CM_LEASES_NODE);
  c->pod_inf = informer_factory_get(b->ctx->informers, CM_PODS);
  informer_add_index(c->pod_inf, INFORMER_INDEX_NODE_NAME, informer_index_pod_node_name, NULL);
  struct informer_handlers h = {cm_on_add_enqueue, nl_node_update, nl_node_delete, c};
  informer_add_handlers(c->node_inf, &h);
  return 0;
}

static void nl_run(struct cm_base *b)
{
  int64_t period = b->ctx->cfg.node_monitor_period_ms;
  cm_base_periodic(b, period > 0 ? period : NL_DEFAULT_PERIOD_MS, nl_monitor);
}

static void nl_fini(struct cm_base *b) { json_decref(((struct nl_ctl *)b)->health); }

const struct controller_def ctrl_nodelifecycle = {
    .name = "nodelifecycle",
    .service_account = "node-controller",
    .enabled_by_default = true,
    .size = sizeof(struct nl_ctl),
    .queue = "node_lifecycle_controller",
    .component = "node-controller",
    .workers = 1,
    .sync = nl_sync,
    .init = nl_init,
    .run = nl_run,
    .fini = nl_fini,
};
