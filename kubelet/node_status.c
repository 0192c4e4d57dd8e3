/*
 * node_status.c - registration, status and Lease of the kubelet's Node
 * (see node_status.h).
 *
 * Conditions keep their lastTransitionTime across updates; a change of any
 * condition's status, the capacity, the addresses, nodeInfo or images
 * makes the next status post happen at once (kl_node_status_changed), and
 * an Event "Node NAME status is now: NodeReady" (and friends) is recorded
 * for condition transitions, as upstream does.  Writes failing with a
 * transport error or 5xx are retried by the REST client; a failed post is
 * simply redone on the next tick (level-triggered: the status is always
 * recomputed from the current state).
 */
#define _GNU_SOURCE
#include "node_status.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/quantity.h"
#include "kube/recorder.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "kubelet.h"
#include "node_health.h"

#define LEASE_NS "kube-node-lease"
#define REGISTER_RETRY_MAX_MS 7000
#define MAX_NODE_IMAGES 50

struct cond_state {
  bool status;
  char transition[40];
  bool known;
};

enum { C_MEMORY, C_DISK, C_PID, C_READY, C_COUNT };

static const struct {
  const char *type;
  const char *reason_true, *msg_true, *reason_false, *msg_false, *event_true, *event_false;
} cond_info[C_COUNT] = {
    {"MemoryPressure", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
     "KubeletHasSufficientMemory", "kubelet has sufficient memory available", "NodeHasInsufficientMemory",
     "NodeHasSufficientMemory"},
    {"DiskPressure", "KubeletHasDiskPressure", "kubelet has disk pressure", "KubeletHasNoDiskPressure",
     "kubelet has no disk pressure", "NodeHasDiskPressure", "NodeHasNoDiskPressure"},
    {"PIDPressure", "KubeletHasInsufficientPID", "kubelet has insufficient PID available", "KubeletHasSufficientPID",
     "kubelet has sufficient PID available", "NodeHasInsufficientPID", "NodeHasSufficientPID"},
    {"Ready", "KubeletReady", "kubelet is posting ready status", "KubeletNotReady", "", "NodeReady", "NodeNotReady"},
};

struct kl_node {
  struct kubelet *k;
  struct informer *inf;
  bool registered, registering;
  int64_t register_backoff_ms;
  struct event *register_timer, *status_timer, *lease_timer;
  struct rest_request *reg_req, *status_req, *lease_req;
  json_t *last_posted; /* last status posted, heartbeat times removed */
  int64_t last_post_ms;
  bool post_soon;
  struct cond_state conds[C_COUNT];
  char pod_cidr[64];
  char uid[64];
  int64_t lease_backoff_ms;
};

json_t *kl_node_ref(const struct kubelet *k)
{
  return json_pack("{s:s, s:s, s:s, s:s}", "kind", "Node", "apiVersion", "v1", "name", k->node_name, "uid",
                   k->node_name);
}

json_t *kl_node_condition(const char *type, bool status, const char *reason, const char *message, const char *heartbeat,
                          const char *transition)
{
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status ? "True" : "False",
                   "lastHeartbeatTime", heartbeat, "lastTransitionTime", transition, "reason", reason, "message",
                   message);
}

/* ---- capacity and allocatable ---- */

static void set_quantity(json_t *obj, const char *name, const struct quantity *q)
{
  char buf[QUANTITY_STRING_MAX];
  json_object_set_new(obj, name, json_string(quantity_format(q, buf, sizeof buf)));
}

json_t *kl_node_capacity(const struct kubelet *k, int64_t fs_capacity_bytes)
{
  json_t *cap = json_object();
  struct quantity q;
  quantity_set_int(&q, k->machine.num_cpus, QF_DECIMAL_SI);
  set_quantity(cap, "cpu", &q);
  quantity_set_int(&q, k->machine.memory_bytes, QF_BINARY_SI);
  set_quantity(cap, "memory", &q);
  quantity_set_int(&q, k->cfg->max_pods, QF_DECIMAL_SI);
  set_quantity(cap, "pods", &q);
  quantity_set_int(&q, fs_capacity_bytes, QF_BINARY_SI);
  set_quantity(cap, "ephemeral-storage", &q);
  json_object_set_new(cap, "hugepages-1Gi", json_string("0"));
  json_object_set_new(cap, "hugepages-2Mi", json_string("0"));
  return cap;
}

/* A hard eviction threshold for signal as an absolute amount of cap. */
static void eviction_amount(const struct kubelet *k, const char *signal, const struct quantity *cap,
                            struct quantity *out)
{
  quantity_set_int(out, 0, cap->format);
  const char *t = json_string_value(json_object_get(k->cfg->eviction_hard, signal));
  if (!t) return;
  size_t n = strlen(t);
  if (n > 1 && t[n - 1] == '%') {
    out->nano = (__int128)((long double)cap->nano * strtold(t, NULL) / 100.0L);
    return;
  }
  if (quantity_parse(t, out) < 0) quantity_set_int(out, 0, cap->format);
}

json_t *kl_node_allocatable(const struct kubelet *k, const json_t *capacity)
{
  json_t *alloc = json_object();
  const char *name;
  json_t *v;
  json_object_foreach ((json_t *)capacity, name, v) {
    struct quantity q;
    if (quantity_parse(json_string_value(v), &q) < 0) continue;
    struct quantity cap = q;
    const json_t *res[] = {k->cfg->kube_reserved, k->cfg->system_reserved};
    for (size_t i = 0; i < 2; i++) {
      struct quantity r;
      const char *s = json_string_value(json_object_get(res[i], name));
      if (s && quantity_parse(s, &r) == 0) quantity_sub(&q, &r);
    }
    struct quantity ev;
    quantity_set_int(&ev, 0, q.format);
    if (!strcmp(name, "memory")) eviction_amount(k, "memory.available", &cap, &ev);
    else if (!strcmp(name, "ephemeral-storage")) eviction_amount(k, "nodefs.available", &cap, &ev);
    quantity_sub(&q, &ev);
    if (quantity_sign(&q) < 0) quantity_set_int(&q, 0, q.format);
    /* whole bytes and pods; cpu keeps its millicores */
    if (strcmp(name, "cpu")) quantity_set_int(&q, (int64_t)(q.nano / 1000000000), q.format);
    else quantity_set_milli(&q, quantity_milli(&q), q.format);
    set_quantity(alloc, name, &q);
  }
  return alloc;
}

/* ---- status ---- */

static json_t *node_info(struct kl_node *n)
{
  struct kubelet *k = n->k;
  char rtv[160];
  kl_health_runtime_version(k, rtv, sizeof rtv);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "machineID", k->machine.machine_id, "systemUUID",
                   k->machine.system_uuid, "bootID", k->machine.boot_id, "kernelVersion", k->machine.kernel_version,
                   "osImage", k->machine.os_image, "containerRuntimeVersion", rtv, "kubeletVersion", KL_VERSION,
                   "operatingSystem", "linux", "architecture", k->machine.architecture);
}

/* Updates the condition states; records events for transitions.
 * Returns true when a status changed. */
static bool update_conditions(struct kl_node *n, char *ready_msg, size_t len)
{
  struct kubelet *k = n->k;
  bool want[C_COUNT];
  want[C_MEMORY] = kl_health_pressure(k, "MemoryPressure");
  want[C_DISK] = kl_health_pressure(k, "DiskPressure");
  want[C_PID] = kl_health_pressure(k, "PIDPressure");
  want[C_READY] = kl_health_ready(k, ready_msg, len);
  bool changed = false;
  char now[40];
  ktime_now_str(now);
  for (int i = 0; i < C_COUNT; i++) {
    struct cond_state *c = &n->conds[i];
    if (c->known && c->status == want[i]) continue;
    bool first = !c->known;
    c->known = true;
    c->status = want[i];
    snprintf(c->transition, sizeof c->transition, "%s", now);
    changed = true;
    const char *ev = want[i] ? cond_info[i].event_true : cond_info[i].event_false;
    if (first && i == C_READY && !want[i]) continue; /* upstream records NodeNotReady only on a transition */
    json_t *ref = kl_node_ref(k);
    recorder_eventf(k->recorder, ref, RECORDER_EVENT_NORMAL, ev, "Node %s status is now: %s", k->node_name, ev);
    json_decref(ref);
  }
  return changed;
}

static json_t *conditions_json(struct kl_node *n, const char *ready_msg, const char *now)
{
  json_t *arr = json_array();
  for (int i = 0; i < C_COUNT; i++) {
    struct cond_state *c = &n->conds[i];
    const char *reason = c->status ? cond_info[i].reason_true : cond_info[i].reason_false;
    const char *msg = c->status ? cond_info[i].msg_true : cond_info[i].msg_false;
    if (i == C_READY && !c->status) msg = ready_msg;
    json_array_append_new(arr, kl_node_condition(cond_info[i].type, c->status, reason, msg, now, c->transition));
  }
  return arr;
}

/* The whole status as the kubelet reports it (new reference). */
static json_t *build_status(struct kl_node *n)
{
  struct kubelet *k = n->k;
  char ready_msg[512] = "";
  update_conditions(n, ready_msg, sizeof ready_msg);
  char now[40];
  ktime_now_str(now);
  struct kl_fs_stats fs;
  kl_fs_stats(k->cfg->root_dir, &fs);
  json_t *cap = kl_node_capacity(k, fs.capacity_bytes);
  json_t *alloc = kl_node_allocatable(k, cap);
  json_t *st = json_pack("{s:o, s:o, s:o, s:[{s:s, s:s}, {s:s, s:s}], s:{s:{s:i}}, s:o}", "capacity", cap,
                         "allocatable", alloc, "conditions", conditions_json(n, ready_msg, now), "addresses", "type",
                         "InternalIP", "address", k->node_ip, "type", "Hostname", "address", k->node_name,
                         "daemonEndpoints", "kubeletEndpoint", "Port", k->cfg->port, "nodeInfo", node_info(n));
  json_t *images = kl_health_node_images(k, MAX_NODE_IMAGES);
  if (images) json_object_set_new(st, "images", images);
  return st;
}

/* The status without heartbeat times, for change detection. */
static json_t *status_fingerprint(const json_t *st)
{
  json_t *fp = kj_deep_copy(st);
  size_t i;
  json_t *c;
  json_array_foreach (json_object_get(fp, "conditions"), i, c) json_object_del(c, "lastHeartbeatTime");
  return fp;
}

static void status_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct kl_node *n = arg;
  n->status_req = NULL;
  if (err) {
    KLOG_E("Error updating node status, will retry: %d %s", code, err->message ? err->message : "");
    json_decref(n->last_posted);
    n->last_posted = NULL;
    if (code == 404) n->registered = false; /* the Node was deleted: register again */
    return;
  }
  const char *cidr = kj_get_str(body, "spec.podCIDR");
  if (cidr && strcmp(cidr, n->pod_cidr)) snprintf(n->pod_cidr, sizeof n->pod_cidr, "%s", cidr);
}

static void register_node(struct kl_node *n);

static void post_status(struct kl_node *n, bool force)
{
  struct kubelet *k = n->k;
  if (!n->registered) {
    register_node(n);
    return;
  }
  if (n->status_req) return;
  json_t *st = build_status(n);
  json_t *fp = status_fingerprint(st);
  int64_t now = ktime_mono_ms();
  bool changed = !n->last_posted || !json_equal(fp, n->last_posted);
  if (!force && !changed && now - n->last_post_ms < k->cfg->node_status_report_frequency_ms) {
    json_decref(fp);
    json_decref(st);
    return;
  }
  json_decref(n->last_posted);
  n->last_posted = fp;
  n->last_post_ms = now;
  char path[400];
  snprintf(path, sizeof path, "/api/v1/nodes/%s/status", k->node_name);
  json_t *patch = json_pack("{s:o}", "status", st);
  n->status_req =
      rest_request_ct(k->client, "PATCH", path, "application/strategic-merge-patch+json", patch, status_done, n);
  json_decref(patch);
}

static void status_tick(evutil_socket_t fd, short what, void *arg)
{
  struct kl_node *n = arg;
  bool soon = n->post_soon;
  n->post_soon = false;
  post_status(n, false);
  int64_t ms = n->k->cfg->node_status_update_frequency_ms;
  if (soon && n->status_req == NULL && !n->registered) ms = 1000;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  evtimer_add(n->status_timer, &tv);
}

void kl_node_status_changed(struct kl_node *n)
{
  if (n->post_soon) return;
  n->post_soon = true;
  struct timeval tv = {0, 0};
  evtimer_add(n->status_timer, &tv);
}

/* ---- registration ---- */

static json_t *initial_node(struct kl_node *n)
{
  struct kubelet *k = n->k;
  json_t *labels = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kubernetes.io/hostname", k->node_name, "kubernetes.io/os",
                             "linux", "kubernetes.io/arch", k->machine.architecture, "beta.kubernetes.io/os", "linux",
                             "beta.kubernetes.io/arch", k->machine.architecture);
  json_object_update(labels, k->cfg->node_labels);
  json_t *spec = json_object();
  if (json_array_size(k->cfg->register_with_taints)) json_object_set(spec, "taints", k->cfg->register_with_taints);
  if (*k->cfg->provider_id) json_object_set_new(spec, "providerID", json_string(k->cfg->provider_id));
  return json_pack("{s:s, s:s, s:{s:s, s:o, s:{s:s}}, s:o, s:o}", "apiVersion", "v1", "kind", "Node", "metadata",
                   "name", k->node_name, "labels", labels, "annotations",
                   "volumes.kubernetes.io/controller-managed-attach-detach", "true", "spec", spec, "status",
                   build_status(n));
}

static void registered(struct kl_node *n, const json_t *node)
{
  const char *uid = kj_get_str(node, "metadata.uid");
  if (uid) snprintf(n->uid, sizeof n->uid, "%s", uid);
  const char *cidr = kj_get_str(node, "spec.podCIDR");
  if (cidr) snprintf(n->pod_cidr, sizeof n->pod_cidr, "%s", cidr);
  n->registered = true;
  n->registering = false;
  n->register_backoff_ms = 0;
  KLOG_I("Successfully registered node %s", n->k->node_name);
  kl_node_status_changed(n);
}

static void register_retry(struct kl_node *n)
{
  n->registering = false;
  n->register_backoff_ms = n->register_backoff_ms ? n->register_backoff_ms * 2 : 100;
  if (n->register_backoff_ms > REGISTER_RETRY_MAX_MS) n->register_backoff_ms = REGISTER_RETRY_MAX_MS;
  struct timeval tv = {n->register_backoff_ms / 1000, (n->register_backoff_ms % 1000) * 1000};
  evtimer_add(n->register_timer, &tv);
}

/* The Node existed: make its default labels ours again (upstream's
 * reconcile of an existing node), then start posting status. */
static void existing_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct kl_node *n = arg;
  n->reg_req = NULL;
  if (err) {
    KLOG_E("Unable to reconcile node %s with API server: %s", n->k->node_name, err->message ? err->message : "");
    register_retry(n);
    return;
  }
  registered(n, body);
}

static void register_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct kl_node *n = arg;
  struct kubelet *k = n->k;
  n->reg_req = NULL;
  if (!err) {
    registered(n, body);
    return;
  }
  if (err->reason && !strcmp(err->reason, "AlreadyExists")) {
    char path[400];
    snprintf(path, sizeof path, "/api/v1/nodes/%s", k->node_name);
    json_t *labels = json_pack("{s:s, s:s, s:s}", "kubernetes.io/hostname", k->node_name, "kubernetes.io/os", "linux",
                               "kubernetes.io/arch", k->machine.architecture);
    json_object_update(labels, k->cfg->node_labels);
    json_t *patch = json_pack("{s:{s:o}}", "metadata", "labels", labels);
    n->reg_req = rest_request(k->client, "PATCH", path, patch, existing_done, n);
    json_decref(patch);
    return;
  }
  KLOG_E("Unable to register node %s with API server: %s", k->node_name, err->message ? err->message : "");
  register_retry(n);
}

static void register_node(struct kl_node *n)
{
  if (n->registering || n->registered || !n->k->cfg->register_node) return;
  n->registering = true;
  KLOG_I("Attempting to register node %s", n->k->node_name);
  json_t *node = initial_node(n);
  n->reg_req = rest_request(n->k->client, "POST", "/api/v1/nodes", node, register_done, n);
  json_decref(node);
}

static void register_timer_cb(evutil_socket_t fd, short what, void *arg) { register_node(arg); }

/* ---- lease ---- */

static json_t *lease_spec(struct kl_node *n)
{
  char now[40];
  return json_pack("{s:s, s:i, s:s}", "holderIdentity", n->k->node_name, "leaseDurationSeconds",
                   n->k->cfg->node_lease_duration_s, "renewTime", ktime_now_micro_str(now));
}

static void lease_schedule(struct kl_node *n, bool failed)
{
  int64_t ms = (int64_t)n->k->cfg->node_lease_duration_s * 1000 / 4;
  if (failed) {
    n->lease_backoff_ms = n->lease_backoff_ms ? n->lease_backoff_ms * 2 : 200;
    if (n->lease_backoff_ms > 7000) n->lease_backoff_ms = 7000;
    ms = n->lease_backoff_ms;
  } else {
    n->lease_backoff_ms = 0;
  }
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  evtimer_add(n->lease_timer, &tv);
}

static void lease_created(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct kl_node *n = arg;
  n->lease_req = NULL;
  if (err && code != 409) KLOG_E("failed to create lease: %d %s", code, err->message ? err->message : "");
  lease_schedule(n, err && code != 409);
}

static void lease_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct kl_node *n = arg;
  struct kubelet *k = n->k;
  n->lease_req = NULL;
  if (code == 404 && n->uid[0]) {
    json_t *lease =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:[{s:s, s:s, s:s, s:s}]}, s:o}", "apiVersion", "coordination.k8s.io/v1",
                  "kind", "Lease", "metadata", "name", k->node_name, "namespace", LEASE_NS, "ownerReferences",
                  "apiVersion", "v1", "kind", "Node", "name", k->node_name, "uid", n->uid, "spec", lease_spec(n));
    n->lease_req = rest_request(k->client, "POST", "/apis/coordination.k8s.io/v1/namespaces/" LEASE_NS "/leases", lease,
                                lease_created, n);
    json_decref(lease);
    return;
  }
  if (err) KLOG_E("failed to update lease: %d %s", code, err->message ? err->message : "");
  lease_schedule(n, err != NULL);
}

static void lease_tick(evutil_socket_t fd, short what, void *arg)
{
  struct kl_node *n = arg;
  if (n->lease_req) return;
  if (!n->registered) {
    lease_schedule(n, true);
    return;
  }
  char path[400];
  snprintf(path, sizeof path, "/apis/coordination.k8s.io/v1/namespaces/" LEASE_NS "/leases/%s", n->k->node_name);
  json_t *patch = json_pack("{s:o}", "spec", lease_spec(n));
  n->lease_req = rest_request(n->k->client, "PATCH", path, patch, lease_done, n);
  json_decref(patch);
}

/* ---- the Node informer ---- */

static void node_seen(void *arg, const json_t *node)
{
  struct kl_node *n = arg;
  const char *cidr = kj_get_str(node, "spec.podCIDR");
  if (cidr && strcmp(cidr, n->pod_cidr)) {
    snprintf(n->pod_cidr, sizeof n->pod_cidr, "%s", cidr);
    KLOG_I("Updating Pod CIDR to %s", cidr);
  }
  const char *uid = kj_get_str(node, "metadata.uid");
  if (uid) snprintf(n->uid, sizeof n->uid, "%s", uid);
}

static void node_add(void *arg, const json_t *obj) { node_seen(arg, obj); }
static void node_update(void *arg, const json_t *o, const json_t *obj) { node_seen(arg, obj); }
static void node_delete(void *arg, const json_t *obj, bool unknown)
{
  struct kl_node *n = arg;
  KLOG_W("Node %s was deleted from the API; registering it again", n->k->node_name);
  n->registered = false;
  json_decref(n->last_posted);
  n->last_posted = NULL;
  kl_node_status_changed(n);
}

struct kl_node *kl_node_new(struct kubelet *k)
{
  struct kl_node *n = xcalloc(1, sizeof *n);
  if (!n) return NULL;
  n->k = k;
  n->register_timer = evtimer_new(k->base, register_timer_cb, n);
  n->status_timer = evtimer_new(k->base, status_tick, n);
  n->lease_timer = evtimer_new(k->base, lease_tick, n);
  char sel[300];
  snprintf(sel, sizeof sel, "metadata.name=%s", k->node_name);
  struct informer_opts o = {
      .path = "/api/v1/nodes", .field_selector = sel, .keep_parsed = true, .drop_managed_fields = true};
  n->inf = informer_new(k->base, k->client, &o);
  struct informer_handlers h = {node_add, node_update, node_delete, n};
  if (!n->register_timer || !n->status_timer || !n->lease_timer || !n->inf) {
    kl_node_free(n);
    return NULL;
  }
  informer_add_handlers(n->inf, &h);
  return n;
}

void kl_node_start(struct kl_node *n)
{
  register_node(n);
  informer_start(n->inf);
  struct timeval tv = {0, 0};
  evtimer_add(n->status_timer, &tv);
  evtimer_add(n->lease_timer, &tv);
}

void kl_node_stop(struct kl_node *n)
{
  evtimer_del(n->register_timer);
  evtimer_del(n->status_timer);
  evtimer_del(n->lease_timer);
}

void kl_node_free(struct kl_node *n)
{
  if (!n) return;
  if (n->inf) informer_free(n->inf);
  if (n->reg_req) rest_cancel(n->reg_req);
  if (n->status_req) rest_cancel(n->status_req);
  if (n->lease_req) rest_cancel(n->lease_req);
  if (n->register_timer) event_free(n->register_timer);
  if (n->status_timer) event_free(n->status_timer);
  if (n->lease_timer) event_free(n->lease_timer);
  json_decref(n->last_posted);
  free(n);
}

bool kl_node_registered(const struct kl_node *n) { return n && n->registered; }

json_t *kl_node_object(struct kl_node *n)
{
  if (!n || !n->inf) return NULL;
  return informer_store_get_obj(n->inf, n->k->node_name);
}

const char *kl_node_pod_cidr(const struct kl_node *n) { return n ? n->pod_cidr : ""; }

void kl_node_uid(const struct kl_node *n, char *out, size_t len)
{
  snprintf(out, len, "%s", n && n->registered ? n->uid : "");
}
