/*
 * pod_status.c - the v1 PodStatus a pod's worker reports (upstream's
 * generateAPIPodStatus / convertToAPIContainerStatuses / getPhase), and
 * its patch to the API when it changes.
 *
 * Container states come from the newest runtime container of each spec
 * container; the one before it gives lastState.  A container that is not
 * running and has a reason to wait recorded by the worker (back-off, an
 * image or config error) shows state waiting with that reason and
 * message, its last exit moving to lastState.  Conditions the kubelet
 * does not own (PodScheduled, readiness gates, DisruptionTarget) are kept
 * from the API's status; lastTransitionTime is kept while a condition's
 * status stays.
 *
 * The status is PATCHed when it differs from the API's copy, with the
 * two-way strategic merge patch between them (upstream's status manager):
 * changed fields, nulls for what the kubelet no longer reports (a Ready
 * condition turning True loses its reason and message), conditions merged
 * by type and only the kubelet's own, so a condition another writer just
 * set is never lost.  One write per pod is in flight at a time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/json.h"
#include "kube/podutil.h"
#include "kube/log.h"
#include "kube/patch.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "pod_config.h"
#include "pods_internal.h"
#include "podnet.h"
#include "runtime/runtime.h"

#define TERMINATION_MESSAGE_MAX 4096
#define FALLBACK_LOG_LINES 80
#define FALLBACK_LOG_BYTES 2048

void kl_container_id_uri(const struct kubelet *k, const char *id, char *out, size_t len)
{
  snprintf(out, len, "%s://%s", k->rt->ops->name, id);
}

json_t *kl_pod_latest_container(const struct kl_pod *p, const char *name, json_t **previous)
{
  json_t *cur = NULL;
  if (previous) *previous = NULL;
  size_t i;
  json_t *c;
  json_array_foreach (p->containers, i, c) {
    if (strcmp(kj_get_str(c, "status.labels[\"" KL_LABEL_CONTAINER_NAME "\"]") ?: "", name)) continue;
    if (!cur) {
      cur = c;
      if (!previous) break;
    } else {
      *previous = c;
      break;
    }
  }
  return cur;
}

json_t *kl_pod_ready_sandbox(const struct kl_pod *p)
{
  size_t i;
  json_t *s;
  json_array_foreach (p->sandboxes, i, s)
    if (!strcmp(kj_get_str(s, "status.state") ?: "", KL_SANDBOX_READY)) return s;
  return NULL;
}

static const char *state_of(const json_t *c) { return kj_get_str(c, "status.state") ?: ""; }

static void ns_time(int64_t ns, char *out) { ktime_format((time_t)(ns / 1000000000LL), out); }

/* ---- termination messages ---- */

static void term_logs_done(void *arg, int err, json_t *res, const char *msg);

struct term_logs {
  struct kl_pods *m;
  char uid[64], name[64], cid[80];
  char *buf;
  size_t len;
};

static int term_logs_out(void *arg, int stream, const char *data, size_t len)
{
  struct term_logs *t = arg;
  char *nb = xrealloc(t->buf, t->len + len + 1);
  if (!nb) return -1;
  memcpy(nb + t->len, data, len);
  t->buf = nb;
  t->len += len;
  t->buf[t->len] = 0;
  return 0;
}

static void term_logs_done(void *arg, int err, json_t *res, const char *msg)
{
  struct term_logs *t = arg;
  struct kl_pod *p = kl_pod_get(t->m, t->uid);
  struct kl_cstate *cs = p ? kl_pod_cstate(p, t->name) : NULL;
  if (cs && !strcmp(cs->term_cid, t->cid)) {
    cs->term_pending = false;
    const char *tail = t->buf ? t->buf : "";
    if (t->len > FALLBACK_LOG_BYTES) tail = t->buf + t->len - FALLBACK_LOG_BYTES;
    free(cs->term_msg);
    cs->term_msg = xstrdup(tail);
    kl_pod_enqueue(p);
  }
  free(t->buf);
  free(t);
}

/* The terminationMessage of an exited container (cached per container id). */
static const char *termination_message(struct kl_pod *p, const json_t *spec, const json_t *rc)
{
  const char *cid = kj_get_str(rc, "status.id") ?: "";
  struct kl_cstate *cs = kl_pod_cstate(p, kj_get_str(spec, "name") ?: "");
  if (!cs) return "";
  if (!strcmp(cs->term_cid, cid)) return cs->term_msg ? cs->term_msg : "";
  snprintf(cs->term_cid, sizeof cs->term_cid, "%s", cid);
  free(cs->term_msg);
  cs->term_msg = NULL;
  cs->term_pending = false;
  const char *mpath = kj_get_str(spec, "terminationMessagePath") ?: "/dev/termination-log";
  size_t i;
  json_t *m;
  json_array_foreach (kj_get(rc, "status.mounts"), i, m) {
    if (strcmp(kj_get_str(m, "containerPath") ?: "", mpath)) continue;
    int fd = open(kj_get_str(m, "hostPath") ?: "", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) break;
    char buf[TERMINATION_MESSAGE_MAX + 1];
    ssize_t n = read(fd, buf, TERMINATION_MESSAGE_MAX);
    close(fd);
    if (n > 0) {
      buf[n] = 0;
      cs->term_msg = xstrdup(buf);
    }
    break;
  }
  const char *policy = kj_get_str(spec, "terminationMessagePolicy") ?: "File";
  if ((!cs->term_msg || !*cs->term_msg) && !strcmp(policy, "FallbackToLogsOnError") &&
      kj_get_int(rc, "status.exitCode", 0) != 0) {
    struct term_logs *t = xcalloc(1, sizeof *t);
    t->m = p->mgr;
    snprintf(t->uid, sizeof t->uid, "%s", p->uid);
    snprintf(t->name, sizeof t->name, "%s", cs->name);
    snprintf(t->cid, sizeof t->cid, "%s", cid);
    cs->term_pending = true;
    struct kl_rt_log_opts o = {.tail_lines = FALLBACK_LOG_LINES};
    struct kl_runtime *rt = p->mgr->k->rt;
    if (!rt->ops->container_logs(rt, cid, &o, term_logs_out, term_logs_done, t)) {
      cs->term_pending = false;
      free(t);
    }
  }
  return cs->term_msg ? cs->term_msg : "";
}

/* ---- container statuses ---- */

static json_t *terminated_of(struct kl_pod *p, const json_t *spec, const json_t *rc)
{
  char started[40], finished[40], cid[128];
  ns_time(kj_get_int(rc, "status.startedAt", 0), started);
  ns_time(kj_get_int(rc, "status.finishedAt", 0), finished);
  kl_container_id_uri(p->mgr->k, kj_get_str(rc, "status.id") ?: "", cid, sizeof cid);
  json_t *t = json_pack("{s:I, s:s, s:s, s:s, s:s}", "exitCode", (json_int_t)kj_get_int(rc, "status.exitCode", 0),
                        "reason", kj_get_str(rc, "status.reason") ?: "", "startedAt", started, "finishedAt", finished,
                        "containerID", cid);
  const char *msg = termination_message(p, spec, rc);
  const char *rmsg = kj_get_str(rc, "status.message");
  if (msg && *msg) json_object_set_new(t, "message", json_string(msg));
  else if (rmsg && *rmsg) json_object_set_new(t, "message", json_string(rmsg));
  if (kj_get_int(rc, "status.startedAt", 0) == 0) json_object_del(t, "startedAt");
  return json_pack("{s:o}", "terminated", t);
}

static bool is_running(const json_t *rc) { return rc && !strcmp(state_of(rc), KL_CONTAINER_RUNNING); }
static bool is_exited(const json_t *rc) { return rc && !strcmp(state_of(rc), KL_CONTAINER_EXITED); }

/* Default waiting reason of a container without a runtime container. */
static const char *default_waiting(bool init_done, bool is_app)
{
  return (is_app && !init_done) ? "PodInitializing" : "ContainerCreating";
}

static json_t *container_status(struct kl_pod *p, const json_t *spec, bool is_app, bool init_done, bool terminal)
{
  const char *name = kj_get_str(spec, "name") ?: "";
  struct kl_cstate *cs = kl_pod_cstate(p, name);
  json_t *prev = NULL;
  json_t *cur = kl_pod_latest_container(p, name, &prev);
  json_t *st =
      json_pack("{s:s, s:s, s:s, s:I, s:b, s:b}", "name", name, "image", kj_get_str(spec, "image") ?: "", "imageID",
                cur ? (kj_get_str(cur, "status.imageRef") ?: "") : "", "restartCount",
                (json_int_t)(cur ? kj_get_int(cur, "status.metadata.attempt", 0) : 0), "ready", 0, "started", 0);
  json_t *state = NULL, *last = NULL;
  if (cur) {
    char cid[128];
    kl_container_id_uri(p->mgr->k, kj_get_str(cur, "status.id") ?: "", cid, sizeof cid);
    json_object_set_new(st, "containerID", json_string(cid));
  }
  if (is_running(cur)) {
    char started[40];
    ns_time(kj_get_int(cur, "status.startedAt", 0), started);
    state = json_pack("{s:{s:s}}", "running", "startedAt", started);
    bool same = cs && !strcmp(cs->probe_cid, kj_get_str(cur, "status.id") ?: "");
    bool started_ok = !cs || !cs->probes[KL_PROBE_STARTUP] || (same && cs->started);
    json_object_set_new(st, "started", json_boolean(started_ok));
    bool ready = started_ok && (!cs || !cs->probes[KL_PROBE_READINESS] || (same && cs->ready == 1));
    json_object_set_new(st, "ready", json_boolean(ready && !terminal && !p->terminating));
    if (is_exited(prev)) last = terminated_of(p, spec, prev);
  } else if (cs && cs->reason[0] && !terminal) {
    state = json_pack("{s:{s:s, s:s}}", "waiting", "reason", cs->reason, "message", cs->message);
    if (!cs->message[0]) json_object_del(json_object_get(state, "waiting"), "message");
    if (is_exited(cur)) last = terminated_of(p, spec, cur);
    else if (is_exited(prev)) last = terminated_of(p, spec, prev);
  } else if (is_exited(cur)) {
    state = terminated_of(p, spec, cur);
    if (is_exited(prev)) last = terminated_of(p, spec, prev);
  } else {
    state = json_pack("{s:{s:s}}", "waiting", "reason", default_waiting(init_done, is_app));
  }
  json_object_set_new(st, "state", state);
  json_object_set_new(st, "lastState", last ? last : json_object());
  return st;
}

/* ---- phase and conditions ---- */

struct counts {
  int pending_init, failed_init;
  int unknown, running, waiting, stopped, succeeded;
  char incomplete_init[512];
  char unready[512];
};

static void add_name(char *list, size_t len, const char *name)
{
  snprintf(list + strlen(list), len - strlen(list), "%s%s", list[0] ? " " : "", name);
}

static void count_init(const json_t *pod, const json_t *statuses, struct counts *n)
{
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(pod, "spec.initContainers"), i, c) {
    const json_t *st = json_array_get(statuses, i);
    const char *name = kj_get_str(c, "name") ?: "";
    if (container_is_sidecar(c)) {
      if (!kj_get_bool(st, "started", false)) {
        n->pending_init++;
        add_name(n->incomplete_init, sizeof n->incomplete_init, name);
      }
      if (!kj_get_bool(st, "ready", false)) add_name(n->unready, sizeof n->unready, name);
      continue;
    }
    json_t *term = kj_get(st, "state.terminated");
    if (term && kj_get_int(term, "exitCode", 1) == 0) continue;
    add_name(n->incomplete_init, sizeof n->incomplete_init, name);
    if (term) n->failed_init++;
    else if (kj_get(st, "state.waiting") && kj_get_int(st, "lastState.terminated.exitCode", 0) != 0) n->failed_init++;
    else n->pending_init++;
  }
}

static void count_app(const json_t *pod, const json_t *statuses, struct counts *n)
{
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(pod, "spec.containers"), i, c) {
    const json_t *st = json_array_get(statuses, i);
    if (!kj_get_bool(st, "ready", false)) add_name(n->unready, sizeof n->unready, kj_get_str(c, "name") ?: "");
    if (kj_get(st, "state.running")) n->running++;
    else if (kj_get(st, "state.terminated")) {
      n->stopped++;
      if (kj_get_int(st, "state.terminated.exitCode", 1) == 0) n->succeeded++;
    } else if (kj_get(st, "state.waiting")) {
      if (kj_get(st, "lastState.terminated")) n->stopped++;
      else n->waiting++;
    } else n->unknown++;
  }
}

static const char *phase_of(const json_t *pod, const struct counts *n)
{
  const char *policy = kj_get_str(pod, "spec.restartPolicy") ?: "Always";
  const char *api_phase = kj_get_str(pod, "status.phase") ?: "";
  if (!strcmp(api_phase, "Succeeded") || !strcmp(api_phase, "Failed")) return api_phase; /* terminal stays */
  if (n->failed_init > 0 && !strcmp(policy, "Never")) return "Failed";
  if (n->pending_init > 0 || n->failed_init > 0) return "Pending";
  if (n->waiting > 0) return "Pending";
  if (n->running > 0 && n->unknown == 0) return "Running";
  if (n->running == 0 && n->stopped > 0 && n->unknown == 0) {
    if (!strcmp(policy, "Always")) return "Running";
    if (n->stopped == n->succeeded) return "Succeeded";
    if (!strcmp(policy, "Never")) return "Failed";
    return "Running";
  }
  return "Pending";
}

/* The condition's lastTransitionTime: kept from the API while its status stays. */
static const char *transition(const json_t *pod, const char *type, const char *status, const char *now)
{
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(pod, "status.conditions"), i, c) {
    if (strcmp(kj_get_str(c, "type") ?: "", type)) continue;
    if (!strcmp(kj_get_str(c, "status") ?: "", status)) return kj_get_str(c, "lastTransitionTime") ?: now;
    break;
  }
  return now;
}

static json_t *cond(const json_t *pod, const char *type, bool ok, const char *reason, const char *msg, const char *now)
{
  const char *status = ok ? "True" : "False";
  json_t *c = json_pack("{s:s, s:s, s:n, s:s}", "type", type, "status", status, "lastProbeTime", "lastTransitionTime",
                        transition(pod, type, status, now));
  if (reason && *reason) json_object_set_new(c, "reason", json_string(reason));
  if (msg && *msg) json_object_set_new(c, "message", json_string(msg));
  return c;
}

static bool gates_ready(const json_t *pod, char *msg, size_t len)
{
  size_t i;
  json_t *g;
  json_array_foreach (kj_get(pod, "spec.readinessGates"), i, g) {
    const char *type = kj_get_str(g, "conditionType") ?: "";
    const json_t *found = NULL;
    size_t j;
    json_t *c;
    json_array_foreach (kj_get(pod, "status.conditions"), j, c)
      if (!strcmp(kj_get_str(c, "type") ?: "", type)) found = c;
    if (!found) {
      snprintf(msg, len, "corresponding condition of pod readiness gate \"%s\" does not exist.", type);
      return false;
    }
    if (strcmp(kj_get_str(found, "status") ?: "", "True")) {
      snprintf(msg, len, "the status of pod readiness gate \"%s\" is not \"True\", but %s", type,
               kj_get_str(found, "status") ?: "");
      return false;
    }
  }
  return true;
}

static bool kubelet_owned(const char *type)
{
  return !strcmp(type, "PodReadyToStartContainers") || !strcmp(type, "Initialized") || !strcmp(type, "Ready") ||
         !strcmp(type, "ContainersReady");
}

static json_t *conditions(struct kl_pod *p, const struct counts *n, const char *phase, const char *now)
{
  const json_t *pod = p->pod;
  bool terminal = !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed");
  json_t *out = json_array();
  bool sandbox_ok = kl_pod_ready_sandbox(p) != NULL && (p->pod_ip[0] || kj_get_bool(pod, "spec.hostNetwork", false));
  json_array_append_new(out, cond(pod, "PodReadyToStartContainers", sandbox_ok && !terminal, NULL, NULL, now));
  char msg[700];
  bool init_ok = n->pending_init == 0 && n->failed_init == 0;
  snprintf(msg, sizeof msg, "containers with incomplete status: [%s]", n->incomplete_init);
  if (terminal && !strcmp(phase, "Succeeded")) init_ok = true;
  json_array_append_new(
      out, cond(pod, "Initialized", init_ok, init_ok ? NULL : "ContainersNotInitialized", init_ok ? NULL : msg, now));
  bool cready = !n->unready[0] && !terminal && !p->terminating;
  const char *creason = terminal ? "PodCompleted" : "ContainersNotReady";
  snprintf(msg, sizeof msg, "containers with unready status: [%s]", n->unready);
  char gmsg[600] = "";
  bool gates = gates_ready(pod, gmsg, sizeof gmsg);
  bool ready = cready && gates;
  const char *rreason = terminal ? "PodCompleted" : !cready ? "ContainersNotReady" : "ReadinessGatesNotReady";
  json_array_append_new(
      out, cond(pod, "Ready", ready, ready ? NULL : rreason, ready || terminal ? NULL : (!cready ? msg : gmsg), now));
  json_array_append_new(
      out, cond(pod, "ContainersReady", cready, cready ? NULL : creason, cready || terminal ? NULL : msg, now));
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(pod, "status.conditions"), i, c) {
    const char *type = kj_get_str(c, "type") ?: "";
    if (!kubelet_owned(type) && !(p->evicted && !strcmp(type, "DisruptionTarget"))) json_array_append(out, c);
  }
  if (p->evicted)
    json_array_append_new(out, json_pack("{s:s, s:s, s:n, s:s, s:s, s:s}", "type", "DisruptionTarget", "status", "True",
                                         "lastProbeTime", "lastTransitionTime",
                                         transition(pod, "DisruptionTarget", "True", now), "reason",
                                         "TerminationByKubelet", "message", p->evict_message));
  return out;
}

json_t *kl_pod_status(struct kl_pod *p)
{
  struct kubelet *k = p->mgr->k;
  const json_t *pod = p->pod;
  char now[40];
  ktime_now_str(now);
  bool api_terminal = !strcmp(kj_get_str(pod, "status.phase") ?: "", "Succeeded") ||
                      !strcmp(kj_get_str(pod, "status.phase") ?: "", "Failed");
  json_t *init = json_array(), *app = json_array();
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(pod, "spec.initContainers"), i, c)
    json_array_append_new(init, container_status(p, c, false, true, api_terminal));
  struct counts n = {0};
  count_init(pod, init, &n);
  bool init_done = n.pending_init == 0 && n.failed_init == 0;
  json_array_foreach (kj_get(pod, "spec.containers"), i, c)
    json_array_append_new(app, container_status(p, c, true, init_done, api_terminal));
  count_app(pod, app, &n);
  const char *phase = p->evicted || p->rejected ? "Failed" : phase_of(pod, &n);
  bool host_net = kj_get_bool(pod, "spec.hostNetwork", false);
  if (!p->pod_ip[0] && host_net && kl_pod_ready_sandbox(p)) snprintf(p->pod_ip, sizeof p->pod_ip, "%s", k->node_ip);
  if (!p->pod_ip[0] && !host_net && kl_pod_ready_sandbox(p)) kl_podnet_ip(k->net, p->uid, p->pod_ip, sizeof p->pod_ip);
  if (!p->start_time[0]) {
    const char *st = kj_get_str(pod, "status.startTime");
    snprintf(p->start_time, sizeof p->start_time, "%s", st ? st : now);
  }
  json_t *out = json_pack("{s:s, s:o, s:s, s:[{s:s}], s:s, s:s, s:o}", "phase", phase, "conditions",
                          conditions(p, &n, phase, now), "hostIP", k->node_ip, "hostIPs", "ip", k->node_ip, "startTime",
                          p->start_time, "qosClass", pod_qos_class(pod), "containerStatuses", app);
  if (json_array_size(init)) json_object_set_new(out, "initContainerStatuses", init);
  else json_decref(init);
  if (p->pod_ip[0]) {
    json_object_set_new(out, "podIP", json_string(p->pod_ip));
    json_object_set_new(out, "podIPs", json_pack("[{s:s}]", "ip", p->pod_ip));
  }
  if (p->evicted || p->rejected) {
    json_object_set_new(out, "reason", json_string("Evicted"));
    json_object_set_new(out, "message", json_string(p->evict_message));
  }
  return out;
}

/* ---- writing it ---- */

/* Fields of the status the kubelet writes (others, like nominatedNodeName
 * or resize, belong to other writers). */
static const char *const OWNED_FIELDS[] = {"phase",
                                           "message",
                                           "reason",
                                           "hostIP",
                                           "hostIPs",
                                           "podIP",
                                           "podIPs",
                                           "startTime",
                                           "qosClass",
                                           "initContainerStatuses",
                                           "containerStatuses",
                                           "ephemeralContainerStatuses"};

static bool condition_ours(const struct kl_pod *p, const char *type)
{
  return kubelet_owned(type) || !strcmp(type, "PodScheduled") || (p->evicted && !strcmp(type, "DisruptionTarget"));
}

static const json_t *condition_of(const json_t *status, const char *type)
{
  size_t i;
  json_t *c;
  json_array_foreach (json_object_get(status, "conditions"), i, c)
    if (!strcmp(kj_get_str(c, "type") ?: "", type)) return c;
  return NULL;
}

/* new's value for a patch, with null for each key of old it lacks (a
 * null or absent key is the same). */
static json_t *with_deletions(const json_t *old, const json_t *new)
{
  json_t *out = json_copy((json_t *)new);
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)old, k, v)
    if (!json_is_null(v) && !json_object_get(new, k)) json_object_set_new(out, k, json_null());
  return out;
}

static bool same_value(const json_t *a, const json_t *b)
{
  if (!a || json_is_null(a)) return !b || json_is_null(b);
  return b && patch_value_equal(a, b);
}

/* Key by key, a null or absent key being the same; observedGeneration is
 * not the kubelet's to report (yet). */
static bool same_condition(const json_t *a, const json_t *b)
{
  const json_t *pair[2][2] = {{a, b}, {b, a}};
  for (int i = 0; i < 2; i++) {
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)pair[i][0], k, v)
      if (strcmp(k, "observedGeneration") && !same_value(v, json_object_get(pair[i][1], k))) return false;
  }
  return true;
}

/* The strategic merge patch from the API's status old to st (upstream's
 * status manager sends the two-way patch of the two): changed fields,
 * nulls for the kubelet's fields st no longer has, the kubelet's changed
 * conditions (merged by type, with nulls for their dropped reason or
 * message), pod and host IP lists replaced whole.  An empty object when
 * the API already shows st. */
json_t *kl_pod_status_patch(const struct kl_pod *p, const json_t *old, const json_t *st)
{
  json_t *out = json_object();
  for (size_t i = 0; i < sizeof OWNED_FIELDS / sizeof *OWNED_FIELDS; i++) {
    const char *k = OWNED_FIELDS[i];
    json_t *n = json_object_get(st, k), *o = json_object_get(old, k);
    if (same_value(o, n)) continue;
    if (!n) {
      json_object_set_new(out, k, json_null());
    } else if (json_is_array(n) && (!strcmp(k, "podIPs") || !strcmp(k, "hostIPs"))) {
      json_t *l = json_pack("[{s:s}]", "$patch", "replace"); /* merged by ip otherwise */
      json_array_extend(l, n);
      json_object_set_new(out, k, l);
    } else {
      json_object_set(out, k, n);
    }
  }
  json_t *conds = json_array();
  size_t i;
  json_t *c;
  json_array_foreach (json_object_get(st, "conditions"), i, c) {
    const char *type = kj_get_str(c, "type") ?: "";
    if (!condition_ours(p, type)) continue;
    const json_t *oc = condition_of(old, type);
    if (oc && same_condition(oc, c)) continue;
    json_array_append_new(conds, oc ? with_deletions(oc, c) : json_copy(c));
  }
  if (json_array_size(conds)) {
    json_object_set_new(out, "conditions", conds);
    /* the kubelet's order (merged lists keep the server's otherwise) */
    json_t *order = json_array();
    json_array_foreach (json_object_get(st, "conditions"), i, c)
      json_array_append_new(order, json_pack("{s:s}", "type", kj_get_str(c, "type") ?: ""));
    json_object_set_new(out, "$setElementOrder/conditions", order);
  } else {
    json_decref(conds);
  }
  return out;
}
static void status_written(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct kl_pod *p = arg;
  p->status_req = NULL;
  p->status_inflight = false;
  if (err) {
    if (code != 404 && code != 409 && code != 422)
      KLOG_W("pod %s/%s: status update failed: %d %s", p->ns, p->name, code, err->message ? err->message : "");
    json_decref(p->status_sent);
    p->status_sent = NULL;
    if (code != 404 && p->pod) kl_pod_enqueue_after(p, 1000);
    return;
  }
  /* Our write is the API's status now, until the informer tells otherwise. */
  if (p->pod && body && kj_get(body, "status")) {
    json_t *np = json_copy(p->pod); /* a sync may hold the old object */
    json_object_set(np, "status", kj_get(body, "status"));
    json_decref(p->pod);
    p->pod = np;
  }
  if (p->status_dirty) {
    p->status_dirty = false;
    kl_pod_status_sync(p);
  }
  kl_pod_enqueue(p); /* a final delete may wait for this write */
}

bool kl_pod_status_current(struct kl_pod *p)
{
  if (!p->pod || p->status_inflight) return false;
  json_t *st = kl_pod_status(p);
  json_t *diff = kl_pod_status_patch(p, kj_get(p->pod, "status"), st);
  bool same = json_object_size(diff) == 0;
  json_decref(diff);
  json_decref(st);
  return same;
}

void kl_pod_status_sync(struct kl_pod *p)
{
  if (!p->pod || (p->is_static && !p->mirror_ok)) return;
  if (p->status_inflight) {
    p->status_dirty = true;
    return;
  }
  json_t *st = kl_pod_status(p);
  json_t *diff = kl_pod_status_patch(p, kj_get(p->pod, "status"), st);
  if (json_object_size(diff) == 0) {
    json_decref(diff);
    json_decref(st);
    return;
  }
  char path[800];
  snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s/status", p->ns, p->name);
  json_t *patch = json_pack("{s:o}", "status", diff);
  if (!p->is_static) json_object_set_new(patch, "metadata", json_pack("{s:s}", "uid", p->uid));
  p->status_inflight = true;
  json_decref(p->status_sent);
  p->status_sent = st;
  p->status_req = rest_request_ct(p->mgr->k->client, "PATCH", path, "application/strategic-merge-patch+json", patch,
                                  status_written, p);
  if (!p->status_req) p->status_inflight = false;
  json_decref(patch);
}
