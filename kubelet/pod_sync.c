/*
 * pod_sync.c - one sync of a pod that should run (upstream's SyncPod with
 * computePodActions): from the desired pod and the runtime's view, plan
 * the next actions, then run them one after the other.
 *
 * The plan:
 *   - a new sandbox when there is no ready one, more than one, or its
 *     network mode no longer matches; everything left of the old one is
 *     stopped first (a restartPolicy Never pod whose containers all ran is
 *     finished instead, never given a second sandbox);
 *   - volumes set up (every sync: ConfigMap and Secret contents follow
 *     their objects);
 *   - init containers in order: a regular one must exit 0 before the next
 *     starts, a restartable one (a sidecar, restartPolicy Always) must be
 *     running and started; a failed regular one is restarted unless the
 *     pod's restartPolicy is Never (the pod then fails);
 *   - app containers once initialization is done: started when missing,
 *     restarted per restartPolicy after an exit (CrashLoopBackOff: 10 s
 *     doubling to 5 min, forgiven after 10 min of quiet), killed and
 *     restarted on a liveness or startup probe failure or a changed spec.
 * A failure stops the container concerned (its reason and message show
 * in its status) but not the others; a sandbox failure ends the sync.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups.h"
#include "dns.h"
#include "env.h"
#include "eviction.h"
#include "hooks.h"
#include "images.h"
#include "kube/json.h"
#include "kube/podutil.h"
#include "kube/log.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "pod_config.h"
#include "podnet.h"
#include "pods_internal.h"
#include "probes.h"
#include "runtime/runtime.h"
#include "volumes.h"

#define MAX_ACTIONS 64
#define MOUNT_BACKOFF_MAX_MS 120000

enum act_kind { ACT_KILL_ALL, ACT_CREATE_SANDBOX, ACT_KILL, ACT_START };

struct action {
  enum act_kind kind;
  char name[64];
  char id[80];      /* ACT_KILL: the container; ACT_START: a created one to start */
  char reason[300]; /* ACT_KILL: the event message */
};

struct sync {
  struct kl_pod *p;
  json_t *pod; /* the desired pod this sync works on (own reference) */
  void (*done)(void *arg);
  void *arg;
  struct action acts[MAX_ACTIONS];
  int n, i;
  bool changed, abort;
  int64_t attempt; /* the sandbox's */
  char sandbox_id[80];
  char cgroup_parent[512];
  json_t *dns;
  json_t *image;      /* the image of the container being started */
  const json_t *spec; /* the container being started (in pod) */
  int64_t restarts;
  int sandbox_pid;
};

static void next(struct sync *s);

static void add(struct sync *s, enum act_kind kind, const char *name, const char *id, const char *reason)
{
  if (s->n >= MAX_ACTIONS) return;
  struct action *a = &s->acts[s->n++];
  memset(a, 0, sizeof *a);
  a->kind = kind;
  snprintf(a->name, sizeof a->name, "%s", name ? name : "");
  snprintf(a->id, sizeof a->id, "%s", id ? id : "");
  snprintf(a->reason, sizeof a->reason, "%s", reason ? reason : "");
}

bool kl_pod_should_run(const struct kl_pod *p)
{
  return p->pod && !p->evicted && !p->rejected && pod_is_active(p->pod);
}

/* Upstream's admission of a pod the node has not started yet (only the
 * eviction manager's rule: no BestEffort pod under memory pressure). */
static void admit(struct kl_pod *p)
{
  if (p->admitted || !p->pod) return;
  if (json_array_size(p->sandboxes) || json_array_size(p->containers)) {
    p->admitted = true; /* already running here (a kubelet restart) */
    return;
  }
  char msg[512];
  if (!kl_eviction_admit(p->mgr->k->eviction, p->pod, msg, sizeof msg)) {
    p->rejected = true;
    snprintf(p->evict_message, sizeof p->evict_message, "%s", msg);
    kl_pod_event(p, "Warning", "Evicted", "%s", msg);
    return;
  }
  p->admitted = true;
}

static const char *rt_state(const json_t *c) { return c ? kj_get_str(c, "status.state") ?: "" : ""; }

/* ---- back-off ---- */

static void pod_desc(const struct kl_pod *p, char *out, size_t len)
{
  snprintf(out, len, "%s_%s(%s)", p->name, p->ns, p->uid);
}

/* true when the exited container cur may not be restarted yet (upstream's
 * IsInBackOffSince, then Next when it may). */
static bool in_backoff(struct sync *s, struct kl_cstate *cs, const json_t *cur)
{
  int64_t fin_ms = kj_get_int(cur, "status.finishedAt", 0) / 1000000;
  int64_t now_ms = ktime_now_us() / 1000;
  char desc[600], dur[32];
  pod_desc(s->p, desc, sizeof desc);
  if (cs->backoff_ms > 0 && now_ms - fin_ms < cs->backoff_ms) {
    ktime_format_duration_ms(cs->backoff_ms, dur, sizeof dur);
    snprintf(cs->reason, sizeof cs->reason, "CrashLoopBackOff");
    snprintf(cs->message, sizeof cs->message, "back-off %s restarting failed container=%s pod=%s", dur, cs->name, desc);
    kl_pod_event(s->p, "Warning", "BackOff", "Back-off restarting failed container %s in pod %s", cs->name, desc);
    kl_pod_enqueue_after(s->p, cs->backoff_ms - (now_ms - fin_ms) + 10);
    return true;
  }
  if (cs->backoff_ms == 0 || fin_ms - cs->backoff_last_ms > KL_BACKOFF_RESET_MS) cs->backoff_ms = KL_BACKOFF_INITIAL_MS;
  else cs->backoff_ms = cs->backoff_ms * 2 > KL_BACKOFF_MAX_MS ? KL_BACKOFF_MAX_MS : cs->backoff_ms * 2;
  cs->backoff_last_ms = fin_ms;
  return false;
}

/* ---- the plan ---- */

static bool started(struct kl_cstate *cs, const json_t *cur)
{
  if (!cs->probes[KL_PROBE_STARTUP]) return true;
  return !strcmp(cs->probe_cid, kj_get_str(cur, "status.id") ?: "") && cs->started;
}

/* Running container that must go: liveness/startup failure or new spec. */
static bool must_restart(struct sync *s, const json_t *spec, struct kl_cstate *cs, const json_t *cur, char *why,
                         size_t len)
{
  if (cs->liveness_failed && !strcmp(cs->probe_cid, kj_get_str(cur, "status.id") ?: "")) {
    snprintf(why, len, "%s",
             cs->kill_reason[0] ? cs->kill_reason : "Container failed liveness probe, will be restarted");
    return true;
  }
  char hash[16];
  kl_container_hash(spec, hash, sizeof hash);
  const char *had = kj_get_str(cur, "status.annotations[\"" KL_LABEL_CONTAINER_HASH "\"]");
  if (had && strcmp(had, hash)) {
    snprintf(why, len, "Container %s definition changed, will be restarted", cs->name);
    return true;
  }
  return false;
}

/* A stopped (or never made) container: start it if its policy says so.
 * Returns true when an action was planned. */
static bool plan_start(struct sync *s, const json_t *spec, const json_t *cur, bool restart_on_exit, bool fresh)
{
  const char *name = kj_get_str(spec, "name") ?: "";
  struct kl_cstate *cs = kl_pod_cstate(s->p, name);
  const char *st = rt_state(cur);
  if (!fresh && cur && !strcmp(st, KL_CONTAINER_CREATED)) {
    add(s, ACT_START, name, kj_get_str(cur, "status.id"), NULL);
    return true;
  }
  if (cur && !strcmp(st, KL_CONTAINER_EXITED)) {
    if (!restart_on_exit) {
      cs->reason[0] = cs->message[0] = 0;
      return false;
    }
    if (in_backoff(s, cs, cur)) return false;
  }
  add(s, ACT_START, name, NULL, NULL);
  return true;
}

static bool exit_restarts(const char *policy, const json_t *cur)
{
  if (!strcmp(policy, "Always")) return true;
  if (!strcmp(policy, "OnFailure")) return kj_get_int(cur, "status.exitCode", 0) != 0;
  return false;
}

/* Init containers; true when initialization is complete. */
static bool plan_init(struct sync *s, bool fresh)
{
  const char *policy = kj_get_str(s->pod, "spec.restartPolicy") ?: "Always";
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(s->pod, "spec.initContainers"), i, c) {
    const char *name = kj_get_str(c, "name") ?: "";
    struct kl_cstate *cs = kl_pod_cstate(s->p, name);
    const json_t *cur = fresh ? NULL : kl_pod_latest_container(s->p, name, NULL);
    bool sidecar = container_is_sidecar(c);
    const char *st = rt_state(cur);
    if (!strcmp(st, KL_CONTAINER_RUNNING)) {
      cs->reason[0] = cs->message[0] = 0;
      char why[300];
      if (sidecar && must_restart(s, c, cs, cur, why, sizeof why)) {
        add(s, ACT_KILL, name, kj_get_str(cur, "status.id"), why);
        add(s, ACT_START, name, NULL, NULL);
        return false;
      }
      if (!sidecar || !started(cs, cur)) return false;
      continue;
    }
    if (!sidecar && !strcmp(st, KL_CONTAINER_EXITED) && kj_get_int(cur, "status.exitCode", 1) == 0) {
      cs->reason[0] = cs->message[0] = 0;
      continue;
    }
    bool restart = sidecar || strcmp(policy, "Never");
    plan_start(s, c, cur, restart, fresh);
    return false;
  }
  return true;
}

static void plan_app(struct sync *s, bool fresh)
{
  const char *policy = kj_get_str(s->pod, "spec.restartPolicy") ?: "Always";
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(s->pod, "spec.containers"), i, c) {
    const char *name = kj_get_str(c, "name") ?: "";
    struct kl_cstate *cs = kl_pod_cstate(s->p, name);
    const json_t *cur = kl_pod_latest_container(s->p, name, NULL);
    if (!fresh && !strcmp(rt_state(cur), KL_CONTAINER_RUNNING)) {
      cs->reason[0] = cs->message[0] = 0;
      char why[300];
      if (must_restart(s, c, cs, cur, why, sizeof why)) {
        add(s, ACT_KILL, name, kj_get_str(cur, "status.id"), why);
        if (strcmp(policy, "Never")) add(s, ACT_START, name, NULL, NULL);
      }
      continue;
    }
    if (fresh && !strcmp(rt_state(cur), KL_CONTAINER_RUNNING)) cur = NULL; /* killed with the old sandbox */
    plan_start(s, c, cur, exit_restarts(policy, cur), fresh);
  }
}

static int count_ready_sandboxes(const struct kl_pod *p)
{
  int n = 0;
  size_t i;
  json_t *sb;
  json_array_foreach (p->sandboxes, i, sb) n += !strcmp(kj_get_str(sb, "status.state") ?: "", KL_SANDBOX_READY);
  return n;
}

static bool any_running(const struct kl_pod *p)
{
  size_t i;
  json_t *c;
  json_array_foreach (p->containers, i, c)
    if (!strcmp(rt_state(c), KL_CONTAINER_RUNNING)) return true;
  return false;
}

static void plan(struct sync *s)
{
  struct kl_pod *p = s->p;
  bool host_net = kj_get_bool(s->pod, "spec.hostNetwork", false);
  json_t *sb = kl_pod_ready_sandbox(p);
  bool mismatch = sb && !strcmp(kj_get_str(sb, "status.linux.namespaces.options.network") ?: "POD", "NODE") != host_net;
  if (sb && count_ready_sandboxes(p) == 1 && !mismatch) {
    snprintf(s->sandbox_id, sizeof s->sandbox_id, "%s", kj_get_str(sb, "status.id") ?: "");
    s->attempt = kj_get_int(sb, "status.metadata.attempt", 0);
    s->sandbox_pid = (int)kj_get_int(sb, "info.pid", 0);
    if (plan_init(s, false)) plan_app(s, false);
    return;
  }
  json_t *latest = json_array_get(p->sandboxes, 0);
  const char *policy = kj_get_str(s->pod, "spec.restartPolicy") ?: "Always";
  if (!strcmp(policy, "Never") && latest && json_array_size(p->containers) > 0) return; /* finished */
  s->attempt = latest ? kj_get_int(latest, "status.metadata.attempt", 0) + 1 : 0;
  if (latest) {
    KLOG_V(2, "pod %s/%s: new sandbox (ready %d of %zu, network mismatch %d)", p->ns, p->name, count_ready_sandboxes(p),
           json_array_size(p->sandboxes), mismatch);
    kl_pod_event(p, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.");
  }
  if (any_running(p) || sb) add(s, ACT_KILL_ALL, NULL, NULL, NULL);
  add(s, ACT_CREATE_SANDBOX, NULL, NULL, NULL);
  if (plan_init(s, true)) plan_app(s, true);
}

/* ---- running the plan ---- */

static void finish(struct sync *s)
{
  struct kl_pod *p = s->p;
  if (s->changed) {
    p->cache_after_ms = ktime_mono_ms();
    kl_pleg_relist_soon(p->mgr->pleg);
  }
  json_decref(s->pod);
  json_decref(s->dns);
  json_decref(s->image);
  void (*done)(void *) = s->done;
  void *arg = s->arg;
  free(s);
  done(arg);
}

static void fail_start(struct sync *s, const char *reason, const char *msg, bool event)
{
  struct kl_cstate *cs = kl_pod_cstate(s->p, kj_get_str(s->spec, "name") ?: "");
  if (cs && reason) {
    snprintf(cs->reason, sizeof cs->reason, "%s", reason);
    snprintf(cs->message, sizeof cs->message, "%s", msg ? msg : "");
  }
  if (event) kl_pod_event(s->p, "Warning", "Failed", "Error: %s", msg ? msg : reason);
  next(s);
}

/* -- starting a container -- */

static void killed_cb(void *arg);

/* A failed postStart hook kills the container (upstream: FailedPostStartHook). */
static void post_start_done(void *arg, int rc, const char *msg)
{
  struct sync *s = arg;
  if (rc == 0) {
    next(s);
    return;
  }
  kl_pod_event(s->p, "Warning", "FailedPostStartHook", "%s", msg);
  int64_t grace = kj_get_int(s->pod, "spec.terminationGracePeriodSeconds", KL_DEFAULT_GRACE_S);
  kl_pod_stop_container(s->p, s->spec, s->acts[s->i - 1].id, grace, killed_cb, s);
}

static void started_cb(void *arg, int err, json_t *res, const char *msg)
{
  struct sync *s = arg;
  const char *name = kj_get_str(s->spec, "name") ?: "";
  s->changed = true;
  if (err) {
    fail_start(s, "RunContainerError", msg, true);
    return;
  }
  struct kl_cstate *cs = kl_pod_cstate(s->p, name);
  if (cs) cs->reason[0] = cs->message[0] = 0;
  kl_pod_event(s->p, "Normal", "Started", "Started container %s", name);
  const json_t *hook = kj_get(s->spec, "lifecycle.postStart");
  const char *cid = s->acts[s->i - 1].id;
  if (hook) {
    kl_hook_run(s->p, s->spec, cid, hook, "PostStart", post_start_done, s);
    return;
  }
  next(s);
}

static void start_created(struct sync *s, const char *id)
{
  struct kl_runtime *rt = s->p->mgr->k->rt;
  struct action *a = &s->acts[s->i - 1];
  if (a->id != id) snprintf(a->id, sizeof a->id, "%s", id);
  rt->ops->start_container(rt, a->id, started_cb, s);
}

static void created_cb(void *arg, int err, json_t *res, const char *msg)
{
  struct sync *s = arg;
  if (err) {
    fail_start(s, "CreateContainerError", msg, true);
    return;
  }
  s->changed = true;
  kl_pod_event(s->p, "Normal", "Created", "Created container: %s", kj_get_str(s->spec, "name") ?: "");
  start_created(s, kj_get_str(res, "containerId") ?: "");
}

static void create_container(struct sync *s)
{
  struct kl_pod *p = s->p;
  char err[1500] = "";
  json_t *cfg = NULL;
  int rc = kl_container_config(p, s->spec, s->restarts, kj_get(s->image, "image"), &cfg, err, sizeof err);
  if (rc == KL_ENV_PENDING) {
    KLOG_V(3, "pod %s/%s: container %s waits for the objects it references", p->ns, p->name,
           kj_get_str(s->spec, "name") ?: "");
    next(s); /* objects still loading; the object cache requeues the pod */
    return;
  }
  if (rc != KL_ENV_OK) {
    fail_start(s, "CreateContainerConfigError", err, true);
    return;
  }
  json_t *sbcfg = kl_sandbox_config(p, s->attempt, s->cgroup_parent, s->dns);
  struct kl_runtime *rt = p->mgr->k->rt;
  rt->ops->create_container(rt, s->sandbox_id, cfg, sbcfg, created_cb, s);
  json_decref(cfg);
  json_decref(sbcfg);
}

static void image_user_cb(void *arg, int err, json_t *res, const char *msg)
{
  struct sync *s = arg;
  json_decref(s->image);
  s->image = err ? NULL : json_incref(res);
  create_container(s);
}

static void image_cb(void *arg, int rc, const char *ref, json_t *image)
{
  struct sync *s = arg;
  if (rc != 0) {
    fail_start(s, NULL, NULL, false); /* the image manager set the reason and events */
    return;
  }
  if (image) { /* its user and so on are known already */
    image_user_cb(s, 0, image, NULL);
    return;
  }
  struct kl_runtime *rt = s->p->mgr->k->rt;
  rt->ops->image_status(rt, kj_get_str(s->spec, "image") ?: "", image_user_cb, s);
}

static void act_start(struct sync *s, struct action *a)
{
  s->spec = pod_find_container(s->pod, a->name, POD_CONTAINER_APP | POD_CONTAINER_INIT);
  if (!s->spec || !s->sandbox_id[0]) {
    next(s);
    return;
  }
  if (a->id[0]) {
    start_created(s, a->id);
    return;
  }
  json_t *cur = kl_pod_latest_container(s->p, a->name, NULL);
  s->restarts = cur ? kj_get_int(cur, "status.metadata.attempt", 0) + 1 : 0;
  kl_images_ensure(s->p->mgr->images, s->p, s->spec, image_cb, s);
}

/* -- the sandbox -- */

static void sandbox_failed(struct sync *s, const char *msg)
{
  kl_pod_event(s->p, "Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: %s", msg);
  s->abort = true;
  kl_pod_enqueue_after(s->p, 2000);
  next(s);
}

static int write_hosts(struct sync *s)
{
  struct kl_pod *p = s->p;
  char path[4096], *host_hosts = NULL;
  size_t n = 0;
  FILE *f = fopen("/etc/hosts", "r");
  if (f) {
    FILE *m = open_memstream(&host_hosts, &n);
    char buf[4096];
    size_t r;
    while (m && (r = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, r, m);
    if (m) fclose(m);
    fclose(f);
  }
  char *content = kl_hosts_file(s->pod, p->pod_ip, p->mgr->k->cfg->cluster_domain, host_hosts);
  free(host_hosts);
  kl_pod_dir(p, "etc-hosts", path, sizeof path);
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  int rc = -errno;
  if (fd >= 0) {
    size_t len = content ? strlen(content) : 0;
    rc = write(fd, content ? content : "", len) == (ssize_t)len ? 0 : -EIO;
    close(fd);
  }
  free(content);
  return rc;
}

static void sandbox_network_done(struct sync *s)
{
  if (write_hosts(s) < 0) {
    sandbox_failed(s, "cannot write the pod's /etc/hosts");
    return;
  }
  next(s);
}

static void sandbox_status_cb(void *arg, int err, json_t *res, const char *msg)
{
  struct sync *s = arg;
  struct kl_pod *p = s->p;
  int pid = (int)kj_get_int(res, "info.pid", 0);
  if (err || pid <= 0) {
    sandbox_failed(s, err ? msg : "the sandbox has no process");
    return;
  }
  char ip[64] = "", why[1024] = "";
  if (kl_podnet_setup(p->mgr->k->net, p->uid, pid, ip, sizeof ip, why, sizeof why) < 0) {
    char m[1200];
    snprintf(m, sizeof m, "failed to set up sandbox container \"%s\" network for pod \"%s\": %s", s->sandbox_id,
             p->name, why);
    struct kl_runtime *rt = p->mgr->k->rt;
    rt->ops->stop_pod_sandbox(rt, s->sandbox_id, NULL, NULL);
    sandbox_failed(s, m);
    return;
  }
  snprintf(p->pod_ip, sizeof p->pod_ip, "%s", ip);
  sandbox_network_done(s);
}

static void sandbox_cb(void *arg, int err, json_t *res, const char *msg)
{
  struct sync *s = arg;
  struct kl_pod *p = s->p;
  s->changed = true;
  if (err) {
    sandbox_failed(s, msg);
    return;
  }
  snprintf(s->sandbox_id, sizeof s->sandbox_id, "%s", kj_get_str(res, "podSandboxId") ?: "");
  if (kj_get_bool(s->pod, "spec.hostNetwork", false)) {
    snprintf(p->pod_ip, sizeof p->pod_ip, "%s", p->mgr->k->node_ip);
    sandbox_network_done(s);
    return;
  }
  struct kl_runtime *rt = p->mgr->k->rt;
  rt->ops->pod_sandbox_status(rt, s->sandbox_id, sandbox_status_cb, s);
}

static void pause_cb(void *arg, int rc, const char *msg)
{
  struct sync *s = arg;
  struct kl_pod *p = s->p;
  if (rc != 0) {
    sandbox_failed(s, msg);
    return;
  }
  json_t *cfg = kl_sandbox_config(p, s->attempt, s->cgroup_parent, s->dns);
  struct kl_runtime *rt = p->mgr->k->rt;
  p->pod_ip[0] = 0;
  rt->ops->run_pod_sandbox(rt, cfg, sandbox_cb, s);
  json_decref(cfg);
}

static void act_create_sandbox(struct sync *s)
{
  struct kl_pod *p = s->p;
  char why[1024];
  if (!kj_get_bool(s->pod, "spec.hostNetwork", false) && !kl_podnet_ready(p->mgr->k->net, why, sizeof why)) {
    kl_pod_event(p, "Warning", "NetworkNotReady", "%s", why);
    s->abort = true;
    kl_pod_enqueue_after(p, 5000);
    next(s);
    return;
  }
  kl_images_ensure_pause(p->mgr->images, pause_cb, s);
}

/* -- killing -- */

static void killed_cb(void *arg)
{
  struct sync *s = arg;
  s->changed = true;
  next(s);
}

static void act_kill(struct sync *s, struct action *a)
{
  struct kl_cstate *cs = kl_pod_cstate(s->p, a->name);
  kl_pod_event(s->p, "Normal", "Killing", "%s", a->reason);
  if (cs) {
    cs->liveness_failed = false;
    cs->kill_reason[0] = 0;
  }
  const json_t *spec = pod_find_container(s->pod, a->name, POD_CONTAINER_APP | POD_CONTAINER_INIT);
  int64_t grace = kj_get_int(s->pod, "spec.terminationGracePeriodSeconds", KL_DEFAULT_GRACE_S);
  kl_pod_stop_container(s->p, spec, a->id, grace, killed_cb, s);
}

static void next(struct sync *s)
{
  static const char *const names[] = {"KillPod", "CreatePodSandbox", "KillContainer", "StartContainer"};
  while (s->i < s->n) {
    struct action *a = &s->acts[s->i++];
    if (s->abort && a->kind != ACT_KILL && a->kind != ACT_KILL_ALL) continue;
    KLOG_V(3, "pod %s/%s: %s %s", s->p->ns, s->p->name, names[a->kind], a->name);
    switch (a->kind) {
    case ACT_KILL_ALL:
      kl_pod_stop_all(s->p, s->pod, kj_get_int(s->pod, "spec.terminationGracePeriodSeconds", KL_DEFAULT_GRACE_S), true,
                      killed_cb, s);
      return;
    case ACT_CREATE_SANDBOX: act_create_sandbox(s); return;
    case ACT_KILL: act_kill(s, a); return;
    case ACT_START: act_start(s, a); return;
    }
  }
  finish(s);
}

/* Volumes first; false when starting must wait. */
static bool volumes_ready(struct sync *s)
{
  struct kl_pod *p = s->p;
  char err[1500] = "";
  int rc = kl_volumes_setup(p, err, sizeof err);
  if (rc == KL_ENV_OK) {
    p->mount_backoff_ms = 0;
    p->mount_error[0] = 0;
    return true;
  }
  if (rc == KL_ENV_ERROR) {
    kl_pod_event(p, "Warning", "FailedMount", "%s", err);
    snprintf(p->mount_error, sizeof p->mount_error, "%s", err);
    p->mount_backoff_ms = p->mount_backoff_ms ? p->mount_backoff_ms * 2 : 1000;
    if (p->mount_backoff_ms > MOUNT_BACKOFF_MAX_MS) p->mount_backoff_ms = MOUNT_BACKOFF_MAX_MS;
    kl_pod_enqueue_after(p, p->mount_backoff_ms);
  }
  return false;
}

static bool prepare(struct sync *s)
{
  struct kl_pod *p = s->p;
  struct kubelet *k = p->mgr->k;
  char dir[4096], err[600];
  const char *subs[] = {NULL, "volumes", "containers", "plugins"};
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
    kl_pod_dir(p, subs[i], dir, sizeof dir);
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
      kl_pod_event(p, "Warning", "FailedCreatePodContainer", "unable to create pod directory %s: %s", dir,
                   strerror(errno));
      return false;
    }
  }
  if (kl_cgroups_ensure_pod(k, s->pod, p->uid, s->cgroup_parent, sizeof s->cgroup_parent, err, sizeof err) < 0) {
    kl_pod_event(p, "Warning", "FailedCreatePodContainer", "unable to ensure pod container exists: %s", err);
    kl_pod_enqueue_after(p, 5000);
    return false;
  }
  char *resolv = NULL;
  size_t n = 0;
  FILE *f = *k->cfg->resolv_conf ? fopen(k->cfg->resolv_conf, "r") : NULL;
  if (f) {
    FILE *m = open_memstream(&resolv, &n);
    char buf[4096];
    size_t r;
    while (m && (r = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, r, m);
    if (m) fclose(m);
    fclose(f);
  }
  struct kl_dns_notes notes;
  s->dns = kl_dns_config(s->pod, k->cfg->cluster_dns, k->cfg->cluster_domain, resolv, &notes);
  free(resolv);
  if (notes.missing_cluster_dns) {
    char desc[600];
    pod_desc(p, desc, sizeof desc);
    kl_pod_event(
        p, "Warning", "MissingClusterDNS",
        "pod: \"%s\". kubelet does not have ClusterDNS IP configured and cannot create Pod using \"ClusterFirst\" "
        "policy. Falling back to \"Default\" policy.",
        desc);
  }
  if (notes.limit_message[0]) kl_pod_event(p, "Warning", "DNSConfigForming", "%s", notes.limit_message);
  return true;
}

void kl_pod_sync(struct kl_pod *p, void (*done)(void *arg), void *arg)
{
  admit(p);
  if (!kl_pod_should_run(p)) {
    kl_pod_kill(p, done, arg);
    return;
  }
  struct sync *s = xcalloc(1, sizeof *s);
  s->p = p;
  s->pod = json_incref(p->pod);
  s->done = done;
  s->arg = arg;
  p->terminating = false;
  kl_probes_sync(p);
  plan(s);
  bool starts = false;
  for (int i = 0; i < s->n; i++) starts |= s->acts[i].kind == ACT_START || s->acts[i].kind == ACT_CREATE_SANDBOX;
  if (!prepare(s) || !volumes_ready(s)) {
    /* Nothing new may start; stopping what must stop still happens. */
    int j = 0;
    for (int i = 0; i < s->n; i++)
      if (s->acts[i].kind == ACT_KILL) s->acts[j++] = s->acts[i];
    s->n = j;
  }
  (void)starts;
  next(s);
}
