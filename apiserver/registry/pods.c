/*
 * pods.c - the Pod strategy (upstream pkg/registry/core/pod/strategy.go,
 * SetDefaults_Pod, ValidatePod, and printPod of the table printers).
 *
 * On create the status is reset to {phase: Pending, qosClass} as upstream
 * does; afterwards only the status subresource writes status, and
 * spec.nodeName changes only through pods/binding.  The STATUS column
 * follows kubectl's logic: the pod reason, then init container states
 * ("Init:0/1", "Init:CrashLoopBackOff"), then the last container's
 * waiting/terminated reason, "Terminating" while being deleted.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/podutil.h>
#include <kube/timeutil.h>

#include "registry/reg_internal.h"

static void pod_defaults(json_t *obj)
{
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return;
  reg_pod_spec_defaults(spec);
  kj_default(spec, "enableServiceLinks", json_true());
  /* Requests default to limits where only limits are given. */
  const char *lists[] = {"containers", "initContainers"};
  for (size_t l = 0; l < 2; l++) {
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(spec, lists[l]), i, c) {
      json_t *lim = kj_get(c, "resources.limits");
      if (!json_is_object(lim) || json_object_size(lim) == 0) continue;
      json_t *req = kj_obj(c, "resources.requests");
      const char *k;
      json_t *v;
      json_object_foreach (lim, k, v)
        if (!json_object_get(req, k)) json_object_set_new(req, k, kj_deep_copy(v));
    }
  }
}

static void pod_prepare_create(struct reg_request *rq, json_t *obj)
{
  json_t *st = json_object();
  json_object_set_new(st, "phase", json_string("Pending"));
  json_object_set_new(st, "qosClass", json_string(pod_compute_qos_class(obj)));
  json_object_set_new(obj, "status", st);
}

static void pod_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  reg_split_status(rq, obj, old);
  if (!rq || !rq->subresource) {
    /* nodeName is bound through pods/binding only. */
    json_t *nn = kj_get(old, "spec.nodeName");
    if (json_is_object(json_object_get(obj, "spec"))) {
      if (nn) kj_set(obj, "spec.nodeName", kj_deep_copy(nn));
      else kj_del(obj, "spec.nodeName");
    }
  }
}

/* Fields of a pod spec that upstream lets an update change. */
static void pod_validate_update(const json_t *obj, const json_t *old, json_t *causes)
{
  json_t *a = kj_deep_copy(kj_get(obj, "spec")), *b = kj_deep_copy(kj_get(old, "spec"));
  if (!a || !b) {
    json_decref(a);
    json_decref(b);
    return;
  }
  const char *lists[] = {"containers", "initContainers"};
  for (size_t l = 0; l < 2; l++) {
    json_t *ca = json_object_get(a, lists[l]), *cb = json_object_get(b, lists[l]);
    if (json_array_size(ca) != json_array_size(cb)) continue;
    size_t i;
    json_t *c;
    json_array_foreach (ca, i, c) {
      json_t *oc = json_array_get(cb, i);
      json_t *img = json_object_get(oc, "image");
      if (img && json_is_object(c)) json_object_set(c, "image", img);
    }
  }
  json_object_del(a, "activeDeadlineSeconds");
  json_object_del(b, "activeDeadlineSeconds");
  /* Scheduling gates may only be removed. */
  json_t *ga = json_object_get(a, "schedulingGates"), *gb = json_object_get(b, "schedulingGates");
  bool gates_ok = true;
  size_t gi;
  json_t *g;
  json_array_foreach (ga, gi, g) {
    bool found = false;
    size_t gj;
    json_t *h;
    json_array_foreach (gb, gj, h)
      if (json_equal(g, h)) found = true;
    if (!found) gates_ok = false;
  }
  if (gates_ok) {
    json_object_del(a, "schedulingGates");
    json_object_del(b, "schedulingGates");
  }
  /* Tolerations may only be added. */
  json_t *ta = json_object_get(a, "tolerations"), *tb = json_object_get(b, "tolerations");
  bool tol_ok = true;
  size_t i;
  json_t *t;
  json_array_foreach (tb, i, t) {
    bool found = false;
    size_t j;
    json_t *u;
    json_array_foreach (ta, j, u)
      if (json_equal(t, u)) found = true;
    if (!found) tol_ok = false;
  }
  if (tol_ok) {
    json_object_del(a, "tolerations");
    json_object_del(b, "tolerations");
  }
  if (kj_get_int(b, "terminationGracePeriodSeconds", 0) < 0 && kj_get_int(a, "terminationGracePeriodSeconds", 0) == 1) {
    json_object_del(a, "terminationGracePeriodSeconds");
    json_object_del(b, "terminationGracePeriodSeconds");
  }
  if (!json_equal(a, b))
    reg_cause_add(causes, REG_FORBIDDEN, "spec",
                  "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                  "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
                  "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                  "(allow it to be set to 1 if it was previously negative)");
  json_decref(a);
  json_decref(b);
}

static void pod_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && rq && rq->subresource && (!strcmp(rq->subresource, "status") || !strcmp(rq->subresource, "binding")))
    return; /* binding only sets spec.nodeName, which the binding handler checks */
  reg_validate_pod_spec(kj_get(obj, "spec"), "spec", causes);
  if (old) pod_validate_update(obj, old, causes);
}

static const char *const pod_fields[] = {"spec.nodeName",    "spec.schedulerName",       "spec.serviceAccountName",
                                         "spec.hostNetwork", "spec.restartPolicy",       "status.phase",
                                         "status.podIP",     "status.nominatedNodeName", NULL};

static const char *pod_field_value(const json_t *obj, const char *field, char *buf, size_t len)
{
  if (!strcmp(field, "spec.hostNetwork")) {
    snprintf(buf, len, "%s", kj_get_bool(obj, "spec.hostNetwork", false) ? "true" : "false");
    return buf;
  }
  if (!strcmp(field, "status.podIP")) {
    /* upstream: the first of status.podIPs */
    const char *ip = kj_get_str(obj, "status.podIPs[0].ip");
    snprintf(buf, len, "%s", reg_str_or(ip, reg_str_or(kj_get_str(obj, "status.podIP"), "")));
    return buf;
  }
  for (size_t i = 0; pod_fields[i]; i++) {
    if (!strcmp(field, pod_fields[i])) {
      snprintf(buf, len, "%s", reg_str_or(kj_get_str(obj, field), ""));
      return buf;
    }
  }
  return NULL;
}

/* ---- table ---- */

static const json_t *find_container(const json_t *list, const char *name)
{
  size_t i;
  json_t *c;
  json_array_foreach (list, i, c) {
    const char *n = kj_get_str(c, "name");
    if (n && name && !strcmp(n, name)) return c;
  }
  return NULL;
}

/* Sidecar: an init container with restartPolicy Always. */
static bool restartable_init(const json_t *c)
{
  const char *rp = c ? kj_get_str(c, "restartPolicy") : NULL;
  return rp && !strcmp(rp, "Always");
}

static int64_t finished_at(const json_t *cs)
{
  const char *s = kj_get_str(cs, "lastState.terminated.finishedAt");
  int64_t us;
  if (!s || ktime_parse(s, &us) != 0) return 0;
  return us;
}

void reg_pod_summarize(const json_t *pod, struct reg_pod_summary *out)
{
  memset(out, 0, sizeof(*out));
  json_t *inits = kj_get(pod, "spec.initContainers");
  out->total = (int)json_array_size(kj_get(pod, "spec.containers"));
  const char *phase = reg_str_or(kj_get_str(pod, "status.phase"), "");
  snprintf(out->reason, sizeof(out->reason), "%s", reg_str_or(kj_get_str(pod, "status.reason"), phase));

  size_t i;
  json_t *c;
  json_array_foreach (kj_get(pod, "status.conditions"), i, c) {
    const char *t = kj_get_str(c, "type"), *r = kj_get_str(c, "reason");
    if (t && r && !strcmp(t, "PodScheduled") && !strcmp(r, "SchedulingGated"))
      snprintf(out->reason, sizeof(out->reason), "SchedulingGated");
  }
  json_array_foreach (inits, i, c)
    if (restartable_init(c)) out->total++;

  int restarts = 0, sidecar_restarts = 0;
  int64_t last = 0, sidecar_last = 0;
  bool initializing = false;
  json_t *ics = kj_get(pod, "status.initContainerStatuses");
  size_t ninit = json_array_size(inits);
  json_array_foreach (ics, i, c) {
    int rc = (int)kj_get_int(c, "restartCount", 0);
    int64_t fin = finished_at(c);
    restarts += rc;
    if (fin > last) last = fin;
    const json_t *spec_c = find_container(inits, kj_get_str(c, "name"));
    bool sidecar = restartable_init(spec_c);
    if (sidecar) {
      sidecar_restarts += rc;
      if (fin > sidecar_last) sidecar_last = fin;
    }
    json_t *term = kj_get(c, "state.terminated");
    json_t *wait = kj_get(c, "state.waiting");
    const char *wreason = kj_get_str(wait, "reason");
    if (term && kj_get_int(term, "exitCode", 0) == 0) continue;
    if (sidecar && kj_get_bool(c, "started", false)) {
      if (kj_get_bool(c, "ready", false)) out->ready++;
      continue;
    }
    if (term) {
      const char *tr = kj_get_str(term, "reason");
      if (!tr || !*tr) {
        int64_t sig = kj_get_int(term, "signal", 0);
        if (sig) snprintf(out->reason, sizeof(out->reason), "Init:Signal:%lld", (long long)sig);
        else
          snprintf(out->reason, sizeof(out->reason), "Init:ExitCode:%lld", (long long)kj_get_int(term, "exitCode", 0));
      } else {
        snprintf(out->reason, sizeof(out->reason), "Init:%s", tr);
      }
    } else if (wait && wreason && *wreason && strcmp(wreason, "PodInitializing")) {
      snprintf(out->reason, sizeof(out->reason), "Init:%s", wreason);
    } else {
      snprintf(out->reason, sizeof(out->reason), "Init:%zu/%zu", i, ninit);
    }
    initializing = true;
    break;
  }

  if (!initializing || pod_condition_true(pod, "Initialized")) {
    restarts = sidecar_restarts;
    last = sidecar_last;
    bool has_running = false;
    json_t *cs = kj_get(pod, "status.containerStatuses");
    for (size_t k = json_array_size(cs); k-- > 0;) {
      c = json_array_get(cs, k);
      int64_t fin = finished_at(c);
      restarts += (int)kj_get_int(c, "restartCount", 0);
      if (fin > last) last = fin;
      const char *wr = kj_get_str(c, "state.waiting.reason");
      json_t *term = kj_get(c, "state.terminated");
      const char *tr = kj_get_str(term, "reason");
      if (wr && *wr) {
        snprintf(out->reason, sizeof(out->reason), "%s", wr);
      } else if (term && tr && *tr) {
        snprintf(out->reason, sizeof(out->reason), "%s", tr);
      } else if (term) {
        int64_t sig = kj_get_int(term, "signal", 0);
        if (sig) snprintf(out->reason, sizeof(out->reason), "Signal:%lld", (long long)sig);
        else snprintf(out->reason, sizeof(out->reason), "ExitCode:%lld", (long long)kj_get_int(term, "exitCode", 0));
      } else if (kj_get_bool(c, "ready", false) && kj_get(c, "state.running")) {
        has_running = true;
        out->ready++;
      }
    }
    if (!strcmp(out->reason, "Completed") && has_running)
      snprintf(out->reason, sizeof(out->reason), "%s", pod_condition_true(pod, "Ready") ? "Running" : "NotReady");
  }

  if (kj_get(pod, "metadata.deletionTimestamp")) {
    const char *sr = kj_get_str(pod, "status.reason");
    if (sr && !strcmp(sr, "NodeLost")) snprintf(out->reason, sizeof(out->reason), "Unknown");
    else if (strcmp(phase, "Succeeded") && strcmp(phase, "Failed"))
      snprintf(out->reason, sizeof(out->reason), "Terminating");
  }
  out->restarts = restarts;
  out->last_restart_us = last;
}

static json_t *pod_cells(const json_t *obj)
{
  struct reg_pod_summary s;
  reg_pod_summarize(obj, &s);
  json_t *row = json_array();
  char buf[160], age[32];
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "metadata.name"), "")));
  snprintf(buf, sizeof(buf), "%d/%d", s.ready, s.total);
  json_array_append_new(row, json_string(buf));
  json_array_append_new(row, json_string(s.reason));
  if (s.restarts && s.last_restart_us) {
    int64_t secs = (ktime_now_us() - s.last_restart_us) / 1000000;
    snprintf(buf, sizeof(buf), "%d (%s ago)", s.restarts, ktime_human_age(secs < 0 ? 0 : secs, age, sizeof(age)));
  } else {
    snprintf(buf, sizeof(buf), "%d", s.restarts);
  }
  json_array_append_new(row, json_string(buf));
  json_array_append_new(row, reg_age_cell(obj));
  const char *ip = reg_str_or(kj_get_str(obj, "status.podIPs[0].ip"), kj_get_str(obj, "status.podIP"));
  json_array_append_new(row, json_string(reg_str_or(ip, "<none>")));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "spec.nodeName"), "<none>")));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "status.nominatedNodeName"), "<none>")));
  json_t *gates = kj_get(obj, "spec.readinessGates");
  if (json_array_size(gates) > 0) {
    int ok = 0;
    size_t i;
    json_t *g;
    json_array_foreach (gates, i, g) {
      const char *t = kj_get_str(g, "conditionType");
      if (t && pod_condition_true(obj, t)) ok++;
    }
    snprintf(buf, sizeof(buf), "%d/%zu", ok, json_array_size(gates));
    json_array_append_new(row, json_string(buf));
  } else {
    json_array_append_new(row, json_string("<none>"));
  }
  return row;
}

static const struct reg_column pod_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"Ready", "string", "", 0, "The aggregate readiness state of this pod for accepting traffic."},
    {"Status", "string", "", 0, "The aggregate status of the containers in this pod."},
    {"Restarts", "string", "", 0,
     "The number of times the containers in this pod have been restarted and when the last container in this pod has "
     "restarted."},
    {"Age", "string", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {"IP", "string", "", 1, "IP address allocated to the pod. Routable at least within the cluster."},
    {"Node", "string", "", 1, "NodeName is a request to schedule this pod onto a specific node."},
    {"Nominated Node", "string", "", 1,
     "nominatedNodeName is set when this pod preempts other pods on the node, but it cannot be scheduled right away as "
     "preemption victims receive their graceful termination periods."},
    {"Readiness Gates", "string", "", 1, "If specified, all readiness gates will be evaluated for pod readiness."},
    {NULL},
};

const struct resource reg_pods = {
    .return_deleted_object = true,
    .group = "",
    .version = "v1",
    .plural = "pods",
    .singular = "pod",
    .kind = "Pod",
    .namespaced = true,
    .short_names = {"po", NULL},
    .categories = {"all", NULL},
    .subresources = RES_SUB_STATUS | RES_SUB_BINDING | RES_SUB_EVICTION | RES_SUB_LOG | RES_SUB_EXEC | RES_SUB_PROXY |
                    RES_SUB_EPHEMERAL,
    .storage_prefix = "/registry/pods",
    .field_selectors = pod_fields,
    .defaults = pod_defaults,
    .prepare_create = pod_prepare_create,
    .prepare_update = pod_prepare_update,
    .validate = pod_validate,
    .field_value = pod_field_value,
    .columns = pod_columns,
    .cells = pod_cells,
};
