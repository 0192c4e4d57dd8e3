/*
 * hollow_node.c - plays the kubelet for N fake nodes against a real API
 * server, for controller, scheduler and load tests without containers.
 *
 * Each node is registered (POST nodes, then its status), and every
 * --heartbeat-period its status conditions are re-posted (PATCH
 * nodes/NAME/status) and its Lease in kube-node-lease renewed (PATCH, or
 * POST when it does not exist yet).  One pod informer sees every pod;
 * those bound to one of our nodes are "run": their status becomes
 * Running and Ready with an IP from the node's podCIDR (or 10.244.N.0/24
 * when it has none), containers running.  Pods of Jobs, and pods with
 * restartPolicy Never/OnFailure and the annotation
 * hollow.kube/exit-after-seconds, finish with phase Succeeded after that
 * many seconds (1 s for Job pods by default).  Graceful deletions are
 * completed at once (DELETE with gracePeriodSeconds 0 and the pod's uid
 * as precondition), as a kubelet does after its containers stop.
 *
 * SIGUSR1 toggles the nodes between alive and dead (no heartbeats, no pod
 * work), as does --stop-heartbeat-after; SIGINT/SIGTERM exit cleanly.
 * --kube-api-qps/--kube-api-burst bound the writes of all nodes together
 * (a real kubelet has its own limit each; load tests raise them).
 * Node addresses are from TEST-NET (192.0.2.0/24, 198.51.100.0/24), which
 * nothing routes to.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/flags.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/kubeconfig.h"
#include "kube/log.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"

#define HN_EXIT_ANNOTATION "hollow.kube/exit-after-seconds"
#define HN_LEASE_NS "kube-node-lease"
#define HN_LEASE_DURATION_S 40
#define HN_RETRY_MS 1000

struct hollow;
struct hn_node {
  struct hollow *h;
  char name[128];
  char ip[32];
  char cidr[48];    /* from the node's spec.podCIDR, "" until known */
  unsigned next_ip; /* next host number in the pod range */
  bool lease_exists;
};

struct hn_timer {
  struct hollow *h;
  struct event *ev;
  char key[512];
  char uid[64];
  bool retry; /* re-examine the pod (a write failed) instead of finishing it */
  struct hn_timer *prev, *next;
};

struct hollow {
  struct event_base *base;
  struct rest_client *client;
  struct informer *pods;
  struct hn_node *nodes;
  int n;
  const char *prefix;
  const char *cpu, *memory;
  int max_pods;
  int64_t period_ms, stop_after_ms;
  bool alive;
  char started[40];
  json_t *seen; /* pod uid -> what we did: "run", "done", "deleting" */
  struct hn_timer *timers;
  struct hn_write *writes;
  struct event *hb_timer, *stop_timer, *sig_usr1, *sig_int, *sig_term;
};

static void hn_log_err(void *arg, int code, json_t *body, const struct rest_status *err)
{
  if (err && code != 404 && code != 409) KLOG_W("%s: %d %s", (const char *)arg, code, err->message ?: "");
}

static struct hn_node *hn_find(struct hollow *h, const char *name)
{
  if (!name) return NULL;
  for (int i = 0; i < h->n; i++)
    if (!strcmp(h->nodes[i].name, name)) return &h->nodes[i];
  return NULL;
}

/* ---- nodes and leases ---- */

static json_t *hn_cond(const char *type, const char *status, const char *reason, const char *msg, const char *now,
                       const char *since)
{
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status, "reason", reason, "message", msg,
                   "lastHeartbeatTime", now, "lastTransitionTime", since);
}

static json_t *hn_node_status(struct hollow *h, struct hn_node *nd)
{
  char now[40];
  ktime_now_str(now);
  char npods[16];
  snprintf(npods, sizeof npods, "%d", h->max_pods);
  json_t *res = json_pack("{s:s, s:s, s:s, s:s}", "cpu", h->cpu, "memory", h->memory, "pods", npods,
                          "ephemeral-storage", "100Gi");
  return json_pack(
      "{s:O, s:o, s:[o,o,o,o], s:[{s:s, s:s}, {s:s, s:s}], s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}, "
      "s:{s:{s:i}}}",
      "capacity", res, "allocatable", res, "conditions",
      hn_cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", now,
              h->started),
      hn_cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now, h->started),
      hn_cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", now,
              h->started),
      hn_cond("Ready", "True", "KubeletReady", "kubelet is posting ready status", now, h->started), "addresses", "type",
      "InternalIP", "address", nd->ip, "type", "Hostname", "address", nd->name, "nodeInfo", "kubeletVersion", "v1.32.0",
      "kubeProxyVersion", "v1.32.0", "operatingSystem", "linux", "architecture", "amd64", "containerRuntimeVersion",
      "hollow://1.0.0", "osImage", "Hollow Node", "kernelVersion", "hollow", "machineID", nd->name, "daemonEndpoints",
      "kubeletEndpoint", "Port", 10250);
}

/* The status answer carries spec.podCIDR once nodeipam has assigned it. */
static void hn_status_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct hn_node *nd = arg;
  const char *cidr = kj_get_str(body, "spec.podCIDR");
  if (!err && cidr && strcmp(cidr, nd->cidr)) {
    snprintf(nd->cidr, sizeof nd->cidr, "%s", cidr);
    nd->next_ip = 2;
  }
  if (err) KLOG_W("node %s status: %d %s", nd->name, code, err->message ?: "");
}

static void hn_post_status(struct hollow *h, struct hn_node *nd)
{
  char path[300];
  snprintf(path, sizeof path, "/api/v1/nodes/%s/status", nd->name);
  json_t *patch = json_pack("{s:o}", "status", hn_node_status(h, nd));
  rest_request(h->client, "PATCH", path, patch, hn_status_done, nd);
  json_decref(patch);
}

static void hn_registered(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct hn_node *nd = arg;
  if (err && code != 409) KLOG_W("registering node %s: %d %s", nd->name, code, err->message ?: "");
  else hn_post_status(nd->h, nd);
}

static void hn_register(struct hollow *h, struct hn_node *nd)
{
  json_t *node =
      json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s}}, s:{}, s:o}", "apiVersion", "v1", "kind", "Node", "metadata",
                "name", nd->name, "labels", "kubernetes.io/hostname", nd->name, "kubernetes.io/os", "linux",
                "kubernetes.io/arch", "amd64", "spec", "status", hn_node_status(h, nd));
  rest_request(h->client, "POST", "/api/v1/nodes", node, hn_registered, nd);
  json_decref(node);
}

static json_t *hn_lease(struct hn_node *nd)
{
  char now[40];
  return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:i, s:s}}", "apiVersion", "coordination.k8s.io/v1", "kind",
                   "Lease", "metadata", "name", nd->name, "namespace", HN_LEASE_NS, "spec", "holderIdentity", nd->name,
                   "leaseDurationSeconds", HN_LEASE_DURATION_S, "renewTime", ktime_now_micro_str(now));
}

static void hn_lease_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct hn_node *nd = arg;
  if (code == 404) {
    nd->lease_exists = false;
    json_t *lease = hn_lease(nd);
    rest_request(nd->h->client, "POST", "/apis/coordination.k8s.io/v1/namespaces/" HN_LEASE_NS "/leases", lease,
                 hn_log_err, "lease create");
    json_decref(lease);
  } else if (!err) {
    nd->lease_exists = true;
  }
}

static void hn_renew_lease(struct hollow *h, struct hn_node *nd)
{
  char path[300];
  snprintf(path, sizeof path, "/apis/coordination.k8s.io/v1/namespaces/" HN_LEASE_NS "/leases/%s", nd->name);
  json_t *lease = hn_lease(nd);
  json_t *patch = json_pack("{s:O}", "spec", json_object_get(lease, "spec"));
  rest_request(h->client, "PATCH", path, patch, hn_lease_done, nd);
  json_decref(patch);
  json_decref(lease);
}

static void hn_heartbeat(evutil_socket_t fd, short what, void *arg)
{
  struct hollow *h = arg;
  if (!h->alive) return;
  for (int i = 0; i < h->n; i++) {
    hn_post_status(h, &h->nodes[i]);
    hn_renew_lease(h, &h->nodes[i]);
  }
}

/* ---- pods ---- */

static void hn_pod_ip(struct hn_node *nd, int node_idx, char *out, size_t len)
{
  unsigned host = nd->next_ip++;
  if (nd->cidr[0]) {
    char buf[48];
    snprintf(buf, sizeof buf, "%s", nd->cidr);
    char *slash = strchr(buf, '/');
    if (slash) *slash = 0;
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) == 1) {
      uint32_t v = ntohl(a.s_addr) + host;
      snprintf(out, len, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
      return;
    }
  }
  snprintf(out, len, "10.244.%d.%u", node_idx % 256, (host - 1) % 254 + 1);
}

static json_t *hn_container_statuses(const json_t *pod, const char *uid, const char *now, bool done)
{
  json_t *out = json_array();
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(pod, "spec.containers"), i, c) {
    const char *name = kj_get_str(c, "name") ?: "c";
    char *cid = NULL;
    if (asprintf(&cid, "hollow://%s-%s", uid, name) < 0) cid = NULL;
    json_t *state = done ? json_pack("{s:{s:i, s:s, s:s, s:s}}", "terminated", "exitCode", 0, "reason", "Completed",
                                     "startedAt", now, "finishedAt", now)
                         : json_pack("{s:{s:s}}", "running", "startedAt", now);
    json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:i, s:o}", "name", name, "image",
                                         kj_get_str(c, "image") ?: "", "imageID", "", "containerID", cid ? cid : "",
                                         "ready", !done, "started", !done, "restartCount", 0, "state", state));
    free(cid);
  }
  return out;
}

static void hn_add_timer(struct hollow *h, const char *key, const char *uid, int64_t after_ms, bool retry);

/* A pod write in flight: a failure other than NotFound/Conflict (the pod
 * is gone or was replaced) is retried after HN_RETRY_MS, as a kubelet
 * keeps syncing a pod until its status sticks. */
struct hn_write {
  struct hollow *h;
  const char *what;
  char key[512];
  char uid[64];
  struct hn_write *prev, *next; /* in flight, freed at exit if unanswered */
};

static void hn_write_unlink(struct hn_write *w)
{
  if (w->prev) w->prev->next = w->next;
  else w->h->writes = w->next;
  if (w->next) w->next->prev = w->prev;
  free(w);
}

static void hn_write_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct hn_write *w = arg;
  if (err && code != 404 && code != 409) {
    KLOG_W("%s %s: %d %s (retrying)", w->what, w->key, code, err->message ?: "");
    hn_add_timer(w->h, w->key, w->uid, HN_RETRY_MS, true);
  }
  hn_write_unlink(w);
}

static void hn_pod_write(struct hollow *h, const json_t *pod, const char *verb, const char *path, json_t *body,
                         const char *what)
{
  struct hn_write *w = calloc(1, sizeof *w);
  if (!w) return;
  w->h = h;
  w->what = what;
  informer_key(pod, w->key, sizeof w->key);
  snprintf(w->uid, sizeof w->uid, "%s", kj_get_str(pod, "metadata.uid") ?: "");
  w->next = h->writes;
  if (h->writes) h->writes->prev = w;
  h->writes = w;
  if (!rest_request(h->client, verb, path, body, hn_write_done, w)) hn_write_unlink(w);
}

static void hn_patch_pod_status(struct hollow *h, const json_t *pod, json_t *status)
{
  char path[700];
  snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s/status", kj_get_str(pod, "metadata.namespace") ?: "",
           kj_get_str(pod, "metadata.name") ?: "");
  json_t *patch = json_pack("{s:o}", "status", status);
  hn_pod_write(h, pod, "PATCH", path, patch, "pod status");
  json_decref(patch);
}

static void hn_run_pod(struct hollow *h, const json_t *pod, struct hn_node *nd)
{
  char now[40], ip[48];
  ktime_now_str(now);
  hn_pod_ip(nd, (int)(nd - h->nodes), ip, sizeof ip);
  const char *uid = kj_get_str(pod, "metadata.uid") ?: "";
  json_t *conds = json_array();
  const char *types[] = {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"};
  for (size_t i = 0; i < 5; i++)
    json_array_append_new(conds,
                          json_pack("{s:s, s:s, s:s}", "type", types[i], "status", "True", "lastTransitionTime", now));
  json_t *st = json_pack("{s:s, s:s, s:[{s:s}], s:s, s:[{s:s}], s:s, s:o, s:o}", "phase", "Running", "hostIP", nd->ip,
                         "hostIPs", "ip", nd->ip, "podIP", ip, "podIPs", "ip", ip, "startTime", now, "conditions",
                         conds, "containerStatuses", hn_container_statuses(pod, uid, now, false));
  hn_patch_pod_status(h, pod, st);
}

static void hn_finish_pod(struct hollow *h, const json_t *pod)
{
  char now[40];
  ktime_now_str(now);
  const char *uid = kj_get_str(pod, "metadata.uid") ?: "";
  json_t *conds = kj_deep_copy(kj_get(pod, "status.conditions"));
  if (!json_is_array(conds)) {
    json_decref(conds);
    conds = json_array();
  }
  size_t i;
  json_t *c;
  json_array_foreach (conds, i, c) {
    const char *t = kj_get_str(c, "type") ?: "";
    if (strcmp(t, "Ready") && strcmp(t, "ContainersReady")) continue;
    json_object_set_new(c, "status", json_string("False"));
    json_object_set_new(c, "reason", json_string("PodCompleted"));
    json_object_set_new(c, "lastTransitionTime", json_string(now));
  }
  json_t *st = json_pack("{s:s, s:o, s:o}", "phase", "Succeeded", "conditions", conds, "containerStatuses",
                         hn_container_statuses(pod, uid, now, true));
  hn_patch_pod_status(h, pod, st);
}

static void hn_timer_free(struct hn_timer *t)
{
  if (t->prev) t->prev->next = t->next;
  else t->h->timers = t->next;
  if (t->next) t->next->prev = t->prev;
  event_free(t->ev);
  free(t);
}

static void hn_pod_changed(struct hollow *h, const json_t *pod);

static void hn_timer_fire(evutil_socket_t fd, short what, void *arg)
{
  struct hn_timer *t = arg;
  struct hollow *h = t->h;
  json_t *pod = informer_store_get_obj(h->pods, t->key);
  if (t->retry) {
    if (pod && !strcmp(kj_get_str(pod, "metadata.uid") ?: "", t->uid)) {
      json_object_del(h->seen, t->uid);
      hn_pod_changed(h, pod);
    }
  } else if (pod && !strcmp(kj_get_str(pod, "metadata.uid") ?: "", t->uid) && h->alive) {
    hn_finish_pod(h, pod);
    json_object_set_new(h->seen, t->uid, json_string("done"));
  } else if (pod) {
    json_object_del(h->seen, t->uid); /* dead node: try again when alive */
  }
  json_decref(pod);
  hn_timer_free(t);
}

static void hn_add_timer(struct hollow *h, const char *key, const char *uid, int64_t after_ms, bool retry)
{
  struct hn_timer *t = calloc(1, sizeof *t);
  if (!t) return;
  t->h = h;
  t->retry = retry;
  snprintf(t->key, sizeof t->key, "%s", key);
  snprintf(t->uid, sizeof t->uid, "%s", uid);
  t->ev = evtimer_new(h->base, hn_timer_fire, t);
  t->next = h->timers;
  if (h->timers) h->timers->prev = t;
  h->timers = t;
  struct timeval tv = {after_ms / 1000, (after_ms % 1000) * 1000};
  evtimer_add(t->ev, &tv);
}

/* Seconds until the pod completes, or -1 if it runs forever. */
static int64_t hn_exit_after(const json_t *pod)
{
  const char *ann = kj_get_str(pod, "metadata.annotations[\"" HN_EXIT_ANNOTATION "\"]");
  const char *rp = kj_get_str(pod, "spec.restartPolicy") ?: "Always";
  bool job = false;
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(pod, "metadata.ownerReferences"), i, r) job |= !strcmp(kj_get_str(r, "kind") ?: "", "Job");
  if (ann && (job || strcmp(rp, "Always"))) return atoll(ann);
  return job ? 1 : -1;
}

static void hn_pod_changed(struct hollow *h, const json_t *pod)
{
  struct hn_node *nd = hn_find(h, kj_get_str(pod, "spec.nodeName"));
  const char *uid = kj_get_str(pod, "metadata.uid");
  if (!nd || !uid || !h->alive) return;
  const char *did = json_string_value(json_object_get(h->seen, uid)) ?: "";
  char key[512];
  if (!informer_key(pod, key, sizeof key)) return;
  if (kj_get(pod, "metadata.deletionTimestamp")) {
    if (!strcmp(did, "deleting")) return;
    char path[700];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", kj_get_str(pod, "metadata.namespace") ?: "",
             kj_get_str(pod, "metadata.name") ?: "");
    json_t *opts = json_pack("{s:s, s:s, s:i, s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
                             "gracePeriodSeconds", 0, "preconditions", "uid", uid);
    hn_pod_write(h, pod, "DELETE", path, opts, "pod delete");
    json_decref(opts);
    json_object_set_new(h->seen, uid, json_string("deleting"));
    return;
  }
  const char *phase = kj_get_str(pod, "status.phase") ?: "Pending";
  if (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed") || *did) return;
  if (strcmp(phase, "Running") || !kj_get_str(pod, "status.podIP")) hn_run_pod(h, pod, nd);
  int64_t after = hn_exit_after(pod);
  json_object_set_new(h->seen, uid, json_string(after >= 0 ? "timer" : "run"));
  if (after < 0) return;
  hn_add_timer(h, key, uid, after * 1000, false);
}

static void hn_on_add(void *arg, const json_t *pod) { hn_pod_changed(arg, pod); }
static void hn_on_update(void *arg, const json_t *o, const json_t *n) { hn_pod_changed(arg, n); }
static void hn_on_delete(void *arg, const json_t *pod, bool unknown)
{
  struct hollow *h = arg;
  const char *uid = kj_get_str(pod, "metadata.uid");
  if (uid) json_object_del(h->seen, uid);
}

/* ---- signals and main ---- */

static void hn_toggle(struct hollow *h, const char *why)
{
  h->alive = !h->alive;
  KLOG_I("%s: nodes are now %s", why, h->alive ? "alive (heartbeating)" : "dead (no heartbeats)");
  if (h->alive) {
    /* Catch up with pods that arrived while dead. */
    json_object_clear(h->seen);
    json_t *pods = informer_store_list(h->pods);
    size_t i;
    json_t *p;
    json_array_foreach (pods, i, p) hn_pod_changed(h, p);
    json_decref(pods);
    hn_heartbeat(-1, 0, h);
  }
}

static void hn_on_usr1(evutil_socket_t fd, short what, void *arg) { hn_toggle(arg, "SIGUSR1"); }
static void hn_on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
  struct hollow *h = arg;
  if (h->alive) hn_toggle(h, "--stop-heartbeat-after");
}
static void hn_on_term(evutil_socket_t fd, short what, void *arg) { event_base_loopbreak(arg); }

int main(int argc, char **argv)
{
  const char *master = "", *kubeconfig = "", *prefix = "hollow-node-", *cpu = "4", *memory = "16Gi";
  int nodes = 1, pods = 110, v = 0, burst = REST_DEFAULT_BURST;
  double qps = REST_DEFAULT_QPS;
  int64_t period_ms = 10000, stop_after_ms = 0;
  const struct flag flags[] = {
      {"master", FLAG_STRING, &master, "The address of the Kubernetes API server"},
      {"kubeconfig", FLAG_STRING, &kubeconfig, "Path to a kubeconfig file"},
      {"nodes", FLAG_INT, &nodes, "Number of hollow nodes to run"},
      {"node-name-prefix", FLAG_STRING, &prefix, "Node names are PREFIX0, PREFIX1, ..."},
      {"cpu", FLAG_STRING, &cpu, "CPU capacity of each node"},
      {"memory", FLAG_STRING, &memory, "Memory capacity of each node"},
      {"pods", FLAG_INT, &pods, "Pod capacity of each node"},
      {"heartbeat-period", FLAG_DURATION, &period_ms, "How often node status and leases are renewed"},
      {"stop-heartbeat-after", FLAG_DURATION, &stop_after_ms, "Stop heartbeating after this long (0: never)"},
      {"kube-api-qps", FLAG_FLOAT, &qps, "QPS to use while talking with the API server (all nodes together)"},
      {"kube-api-burst", FLAG_INT, &burst, "Burst to use while talking with the API server"},
      {"v", FLAG_INT, &v, "Log verbosity"},
      {NULL},
  };
  char err[512];
  int rc = flags_parse(argc, argv, flags, "hollow_node plays the kubelet for fake nodes", err, sizeof err);
  if (rc == 1) return 0;
  if (rc < 0) {
    fprintf(stderr, "Error: %s\n", err);
    return 1;
  }
  klog_set_verbosity(v);
  if (nodes < 1 || nodes > 60000 || period_ms <= 0) {
    fprintf(stderr, "Error: --nodes must be 1..60000 and --heartbeat-period positive\n");
    return 1;
  }
  struct rest_config cfg;
  if (kubeconfig_load(kubeconfig, NULL, master, &cfg, err, sizeof err) < 0) {
    fprintf(stderr, "Error: %s\n", err);
    return 1;
  }
  cfg.qps = qps;
  cfg.burst = burst;
  signal(SIGPIPE, SIG_IGN);
  struct hollow h = {0};
  h.base = event_base_new();
  h.client = rest_client_new(h.base, &cfg);
  rest_config_free(&cfg);
  h.n = nodes;
  h.prefix = prefix;
  h.cpu = cpu;
  h.memory = memory;
  h.max_pods = pods;
  h.period_ms = period_ms;
  h.alive = true;
  h.seen = json_object();
  ktime_now_str(h.started);
  h.nodes = calloc((size_t)nodes, sizeof *h.nodes);
  for (int i = 0; i < nodes; i++) {
    snprintf(h.nodes[i].name, sizeof h.nodes[i].name, "%s%d", prefix, i);
    if (i < 254) snprintf(h.nodes[i].ip, sizeof h.nodes[i].ip, "192.0.2.%d", i + 1);
    else snprintf(h.nodes[i].ip, sizeof h.nodes[i].ip, "198.51.100.%d", (i - 254) % 254 + 1);
    h.nodes[i].next_ip = 2;
    h.nodes[i].h = &h;
    hn_register(&h, &h.nodes[i]);
  }
  /* One node: the server filters; many: one informer over all pods. */
  struct informer_opts io = {.path = "/api/v1/pods", .drop_managed_fields = true};
  char fs[300];
  if (nodes == 1) {
    snprintf(fs, sizeof fs, "spec.nodeName=%s", h.nodes[0].name);
    io.field_selector = fs;
  }
  h.pods = informer_new(h.base, h.client, &io);
  struct informer_handlers ph = {hn_on_add, hn_on_update, hn_on_delete, &h};
  informer_add_handlers(h.pods, &ph);
  informer_start(h.pods);

  h.hb_timer = event_new(h.base, -1, EV_PERSIST, hn_heartbeat, &h);
  struct timeval tv = {period_ms / 1000, (period_ms % 1000) * 1000};
  event_add(h.hb_timer, &tv);
  if (stop_after_ms > 0) {
    h.stop_timer = evtimer_new(h.base, hn_on_stop_timer, &h);
    struct timeval st = {stop_after_ms / 1000, (stop_after_ms % 1000) * 1000};
    evtimer_add(h.stop_timer, &st);
  }
  h.sig_usr1 = evsignal_new(h.base, SIGUSR1, hn_on_usr1, &h);
  h.sig_int = evsignal_new(h.base, SIGINT, hn_on_term, h.base);
  h.sig_term = evsignal_new(h.base, SIGTERM, hn_on_term, h.base);
  event_add(h.sig_usr1, NULL);
  event_add(h.sig_int, NULL);
  event_add(h.sig_term, NULL);
  KLOG_I("hollow node: %d node(s) %s0..%s%d", nodes, prefix, prefix, nodes - 1);

  event_base_dispatch(h.base);

  while (h.timers) hn_timer_free(h.timers);
  informer_free(h.pods);
  event_free(h.hb_timer);
  if (h.stop_timer) event_free(h.stop_timer);
  event_free(h.sig_usr1);
  event_free(h.sig_int);
  event_free(h.sig_term);
  rest_client_free(h.client);
  while (h.writes) hn_write_unlink(h.writes);
  json_decref(h.seen);
  free(h.nodes);
  event_base_free(h.base);
  return 0;
}
