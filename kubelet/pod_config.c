/*
 * pod_config.c - CRI sandbox and container configs (see pod_config.h).
 *
 * Resources follow upstream's kuberuntime: cpu.shares from the cpu
 * request (1024 per core, at least 2), a CFS quota from the cpu limit
 * when cpuCFSQuota is on (at least 1 ms per period), the memory limit as
 * is; oom_score_adj by QoS class (Guaranteed -997, BestEffort 1000,
 * Burstable 1000 - 1000 * request / capacity kept within 3..999).
 */
#define _GNU_SOURCE
#include "pod_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns.h"
#include "env.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/podutil.h"
#include "kube/names.h"
#include "kube/quantity.h"
#include "node_status.h"
#include "objcache.h"
#include "pods_internal.h"
#include "runtime/runtime.h"
#include "volumes.h"

#define MIN_SHARES 2
#define SHARES_PER_CPU 1024
#define MIN_QUOTA_US 1000
#define GUARANTEED_OOM_ADJ -997
#define BESTEFFORT_OOM_ADJ 1000

void kl_container_hash(const json_t *container, char *out, size_t len)
{
  char *s = kj_dumps_canonical(container);
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) h = (h ^ *p) * 16777619u;
  free(s);
  snprintf(out, len, "%08x", h);
}

static int64_t res_milli(const json_t *c, const char *kind, const char *name)
{
  char path[128];
  snprintf(path, sizeof path, "resources.%s", kind);
  const char *v = json_string_value(json_object_get(kj_get(c, path), name));
  struct quantity q;
  return v && quantity_parse(v, &q) == 0 ? quantity_milli(&q) : -1;
}

int kl_oom_score_adj(const json_t *pod, const json_t *container, int64_t capacity)
{
  const char *qos = pod_qos_class(pod);
  if (!strcmp(qos, "Guaranteed")) return GUARANTEED_OOM_ADJ;
  if (!strcmp(qos, "BestEffort")) return BESTEFFORT_OOM_ADJ;
  int64_t req = res_milli(container, "requests", "memory");
  req = req > 0 ? req / 1000 : 0;
  int64_t adj = capacity > 0 ? 1000 - (1000 * req) / capacity : 999;
  if (adj < 1000 + GUARANTEED_OOM_ADJ) return 1000 + GUARANTEED_OOM_ADJ;
  if (adj == BESTEFFORT_OOM_ADJ) return BESTEFFORT_OOM_ADJ - 1;
  return (int)adj;
}

json_t *kl_container_resources(const json_t *pod, const json_t *c, int64_t capacity, bool cfs_quota, int64_t period_us)
{
  json_t *r = json_object();
  int64_t req = res_milli(c, "requests", "cpu"), lim = res_milli(c, "limits", "cpu");
  if (req < 0) req = lim;
  int64_t shares = req > 0 ? req * SHARES_PER_CPU / 1000 : 0;
  if (shares < MIN_SHARES) shares = MIN_SHARES;
  json_object_set_new(r, "cpuShares", json_integer(shares));
  if (cfs_quota && lim > 0) {
    int64_t quota = lim * period_us / 1000;
    if (quota < MIN_QUOTA_US) quota = MIN_QUOTA_US;
    json_object_set_new(r, "cpuQuota", json_integer(quota));
    json_object_set_new(r, "cpuPeriod", json_integer(period_us));
  }
  int64_t mem = res_milli(c, "limits", "memory");
  if (mem > 0) json_object_set_new(r, "memoryLimitInBytes", json_integer(mem / 1000));
  json_object_set_new(r, "oomScoreAdj", json_integer(kl_oom_score_adj(pod, c, capacity)));
  return r;
}

/* ---- sandbox ---- */

static json_t *namespace_options(const json_t *pod)
{
  const char *pid = kj_get_bool(pod, "spec.hostPID", false)                 ? "NODE"
                    : kj_get_bool(pod, "spec.shareProcessNamespace", false) ? "POD"
                                                                            : "CONTAINER";
  return json_pack("{s:s, s:s, s:s}", "network", kj_get_bool(pod, "spec.hostNetwork", false) ? "NODE" : "POD", "pid",
                   pid, "ipc", kj_get_bool(pod, "spec.hostIPC", false) ? "NODE" : "POD");
}

static json_t *pod_labels(const struct kl_pod *p)
{
  json_t *l = json_object();
  json_object_update(l, kj_get(p->pod, "metadata.labels"));
  json_object_set_new(l, KL_LABEL_POD_NAME, json_string(p->name));
  json_object_set_new(l, KL_LABEL_POD_NAMESPACE, json_string(p->ns));
  json_object_set_new(l, KL_LABEL_POD_UID, json_string(p->uid));
  return l;
}

static json_t *port_mappings(const json_t *pod)
{
  json_t *out = json_array();
  size_t i, j;
  json_t *c, *port;
  json_array_foreach (kj_get(pod, "spec.containers"), i, c) {
    json_array_foreach (kj_get(c, "ports"), j, port) {
      int64_t hp = kj_get_int(port, "hostPort", 0);
      if (hp <= 0) continue;
      json_array_append_new(out, json_pack("{s:s, s:I, s:I, s:s}", "protocol", kj_get_str(port, "protocol") ?: "TCP",
                                           "containerPort", (json_int_t)kj_get_int(port, "containerPort", 0),
                                           "hostPort", (json_int_t)hp, "hostIp", kj_get_str(port, "hostIP") ?: ""));
    }
  }
  return out;
}

static bool any_privileged(const json_t *pod)
{
  const char *lists[] = {"spec.containers", "spec.initContainers"};
  for (int l = 0; l < 2; l++) {
    size_t i;
    json_t *c;
    json_array_foreach (kj_get(pod, lists[l]), i, c)
      if (kj_get_bool(c, "securityContext.privileged", false)) return true;
  }
  return false;
}

json_t *kl_sandbox_config(struct kl_pod *p, int64_t attempt, const char *cgroup_parent, const json_t *dns)
{
  char host[64];
  kl_pod_hostname(p->pod, host, sizeof host);
  json_t *sysctls = json_object();
  size_t i;
  json_t *s;
  json_array_foreach (kj_get(p->pod, "spec.securityContext.sysctls"), i, s)
    json_object_set_new(sysctls, kj_get_str(s, "name") ?: "", json_string(kj_get_str(s, "value") ?: ""));
  json_t *sc =
      json_pack("{s:o, s:b}", "namespaceOptions", namespace_options(p->pod), "privileged", any_privileged(p->pod));
  json_t *ann = kj_deep_copy(kj_get(p->pod, "metadata.annotations"));
  if (!json_is_object(ann)) {
    json_decref(ann);
    ann = json_object();
  }
  json_t *cfg =
      json_pack("{s:{s:s, s:s, s:s, s:I}, s:s, s:o, s:o, s:o, s:{s:s, s:o, s:o}}", "metadata", "name", p->name,
                "namespace", p->ns, "uid", p->uid, "attempt", (json_int_t)attempt, "hostname", host, "portMappings",
                port_mappings(p->pod), "labels", pod_labels(p), "annotations", ann, "linux", "cgroupParent",
                cgroup_parent ? cgroup_parent : "", "securityContext", sc, "sysctls", sysctls);
  if (dns) json_object_set(cfg, "dnsConfig", (json_t *)dns);
  return cfg;
}

/* ---- container ---- */

struct env_arg {
  struct kl_pod *p;
};

static int env_get(void *arg, const char *kind, const char *ns, const char *name, const json_t **out)
{
  struct kl_pod *p = ((struct env_arg *)arg)->p;
  return kl_objcache_get(p->mgr->objs, p->uid, kind, ns, name, out);
}

static void env_warn(void *arg, const char *reason, const char *msg)
{
  kl_pod_event(((struct env_arg *)arg)->p, "Warning", reason, "%s", msg);
}

static json_t *expand_list(const json_t *list, const json_t *vars)
{
  json_t *out = json_array();
  size_t i;
  json_t *v;
  json_array_foreach (list, i, v) {
    char *e = kl_env_expand(json_string_value(v) ?: "", vars);
    json_array_append_new(out, json_string(e ? e : ""));
    free(e);
  }
  return out;
}

static json_t *int_value(const json_t *v) { return json_pack("{s:O}", "value", v); }

/* Pod securityContext overlaid by the container's (upstream's
 * determineEffectiveSecurityContext), in CRI form. */
static json_t *security_context(const json_t *pod, const json_t *c)
{
  const json_t *psc = kj_get(pod, "spec.securityContext"), *csc = kj_get(c, "securityContext");
  json_t *out = json_pack("{s:o, s:b, s:b}", "namespaceOptions", namespace_options(pod), "privileged",
                          kj_get_bool(csc, "privileged", false), "readonlyRootfs",
                          kj_get_bool(csc, "readOnlyRootFilesystem", false));
  json_t *uid = kj_get(csc, "runAsUser") ?: kj_get(psc, "runAsUser");
  json_t *gid = kj_get(csc, "runAsGroup") ?: kj_get(psc, "runAsGroup");
  if (json_is_integer(uid)) json_object_set_new(out, "runAsUser", int_value(uid));
  if (json_is_integer(gid)) json_object_set_new(out, "runAsGroup", int_value(gid));
  json_t *groups = json_array();
  if (json_is_integer(kj_get(psc, "fsGroup"))) json_array_append(groups, kj_get(psc, "fsGroup"));
  size_t i;
  json_t *g;
  json_array_foreach (kj_get(psc, "supplementalGroups"), i, g) json_array_append(groups, g);
  json_object_set_new(out, "supplementalGroups", groups);
  json_t *add = kj_get(csc, "capabilities.add"), *drop = kj_get(csc, "capabilities.drop");
  json_t *caps = json_pack("{s:o, s:o}", "addCapabilities", json_is_array(add) ? json_incref(add) : json_array(),
                           "dropCapabilities", json_is_array(drop) ? json_incref(drop) : json_array());
  json_object_set_new(out, "capabilities", caps);
  json_t *ape = kj_get(csc, "allowPrivilegeEscalation");
  if (json_is_false(ape) && !kj_get_bool(csc, "privileged", false)) json_object_set_new(out, "noNewPrivs", json_true());
  const char *seccomp = kj_get_str(csc, "seccompProfile.type") ?: kj_get_str(psc, "seccompProfile.type");
  if (seccomp) json_object_set_new(out, "seccomp", json_pack("{s:s}", "profileType", seccomp));
  return out;
}

/* runAsNonRoot (upstream's verifyRunAsNonRoot): 0 or -1 with the message. */
static int verify_non_root(const struct kl_pod *p, const json_t *c, const json_t *sc, const json_t *image, char *err,
                           size_t errlen)
{
  json_t *nr = kj_get(c, "securityContext.runAsNonRoot") ?: kj_get(p->pod, "spec.securityContext.runAsNonRoot");
  if (!json_is_true(nr)) return 0;
  const char *cname = kj_get_str(c, "name") ?: "";
  json_t *uid = kj_get(sc, "runAsUser.value");
  if (json_is_integer(uid)) {
    if (json_integer_value(uid) == 0) {
      snprintf(err, errlen, "container's runAsUser breaks non-root policy (pod: \"%s_%s(%s)\", container: %s)", p->name,
               p->ns, p->uid, cname);
      return -1;
    }
    return 0;
  }
  const char *uname = kj_get_str(image, "username");
  json_t *iuid = kj_get(image, "uid.value");
  if (uname && *uname) {
    snprintf(err, errlen,
             "container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: "
             "\"%s_%s(%s)\", container: %s)",
             uname, p->name, p->ns, p->uid, cname);
    return -1;
  }
  if (!json_is_integer(iuid) || json_integer_value(iuid) == 0) {
    snprintf(err, errlen, "container has runAsNonRoot and image will run as root (pod: \"%s_%s(%s)\", container: %s)",
             p->name, p->ns, p->uid, cname);
    return -1;
  }
  return 0;
}

/* The file behind terminationMessagePath: ROOT/pods/UID/containers/NAME/<random>. */
static int termination_file(struct kl_pod *p, const char *cname, char *out, size_t len)
{
  char dir[4096], sub[512];
  snprintf(sub, sizeof sub, "containers/%s", cname);
  kl_pod_dir(p, sub, dir, sizeof dir);
  if (mkdir(dir, 0750) < 0 && errno != EEXIST) return -errno;
  char uuid[37];
  names_uuid(uuid);
  snprintf(out, len, "%s/%.8s", dir, uuid);
  int fd = open(out, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0) return -errno;
  fchmod(fd, 0666);
  close(fd);
  return 0;
}

static bool mounts_path(const json_t *c, const char *path)
{
  size_t i;
  json_t *m;
  json_array_foreach (kj_get(c, "volumeMounts"), i, m)
    if (!strcmp(kj_get_str(m, "mountPath") ?: "", path)) return true;
  return false;
}

static int make_mounts(struct kl_pod *p, const json_t *c, const json_t *vars, json_t **out, char *err, size_t errlen)
{
  json_t *mounts = json_array();
  int rc = kl_volume_mounts(p, c, vars, mounts, err, errlen);
  if (rc != 0) {
    json_decref(mounts);
    return rc;
  }
  char path[4096];
  if (!mounts_path(c, "/etc/hosts")) {
    kl_pod_dir(p, "etc-hosts", path, sizeof path);
    json_array_append_new(mounts,
                          json_pack("{s:s, s:s, s:b}", "containerPath", "/etc/hosts", "hostPath", path, "readonly", 0));
  }
  const char *tmp = kj_get_str(c, "terminationMessagePath") ?: "/dev/termination-log";
  if (*tmp && termination_file(p, kj_get_str(c, "name") ?: "", path, sizeof path) == 0)
    json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "containerPath", tmp, "hostPath", path, "readonly", 0));
  *out = mounts;
  return 0;
}

static json_t *container_annotations(const struct kl_pod *p, const json_t *c, int64_t attempt)
{
  char hash[16], rc[32], grace[32];
  kl_container_hash(c, hash, sizeof hash);
  snprintf(rc, sizeof rc, "%lld", (long long)attempt);
  snprintf(grace, sizeof grace, "%lld",
           (long long)kj_get_int(p->pod, "spec.terminationGracePeriodSeconds", KL_DEFAULT_GRACE_S));
  json_t *a =
      json_pack("{s:s, s:s, s:s, s:s, s:s}", KL_LABEL_CONTAINER_HASH, hash, "io.kubernetes.container.restartCount", rc,
                "io.kubernetes.container.terminationMessagePath",
                kj_get_str(c, "terminationMessagePath") ?: "/dev/termination-log",
                "io.kubernetes.container.terminationMessagePolicy", kj_get_str(c, "terminationMessagePolicy") ?: "File",
                "io.kubernetes.pod.terminationGracePeriod", grace);
  return a;
}

int kl_container_config(struct kl_pod *p, const json_t *c, int64_t attempt, const json_t *image, json_t **out,
                        char *err, size_t errlen)
{
  struct kubelet *k = p->mgr->k;
  struct env_arg ea = {p};
  json_t *services = informer_store_list(p->mgr->svc_inf);
  json_t *alloc = json_object(); /* node allocatable for resourceFieldRef without limits */
  json_t *node = kl_node_object(k->node);
  if (node) json_object_update(alloc, kj_get(node, "status.allocatable"));
  json_decref(node);
  struct kl_env_ctx ec = {.pod = p->pod,
                          .container = c,
                          .services = services,
                          .host_ip = k->node_ip,
                          .pod_ip = p->pod_ip,
                          .node_allocatable = alloc,
                          .get_object = env_get,
                          .warn = env_warn,
                          .arg = &ea};
  json_t *envs = NULL, *mounts = NULL;
  int rc = kl_env_build(&ec, &envs, err, errlen);
  json_decref(services);
  json_decref(alloc);
  if (rc != KL_ENV_OK) return rc;
  json_t *vars = json_object();
  size_t i;
  json_t *e;
  json_array_foreach (envs, i, e) json_object_set(vars, kj_get_str(e, "key"), json_object_get(e, "value"));
  json_t *sc = security_context(p->pod, c);
  if (verify_non_root(p, c, sc, image, err, errlen) < 0 || (rc = make_mounts(p, c, vars, &mounts, err, errlen)) != 0) {
    json_decref(envs);
    json_decref(sc);
    json_decref(vars);
    return rc ? rc : KL_ENV_ERROR;
  }
  const char *cname = kj_get_str(c, "name") ?: "";
  char restarts[32];
  snprintf(restarts, sizeof restarts, "%lld", (long long)attempt);
  json_t *labels =
      json_pack("{s:s, s:s, s:s, s:s, s:s}", KL_LABEL_POD_NAME, p->name, KL_LABEL_POD_NAMESPACE, p->ns,
                KL_LABEL_POD_UID, p->uid, KL_LABEL_CONTAINER_NAME, cname, KL_LABEL_RESTART_COUNT, restarts);
  json_t *res = kl_container_resources(p->pod, c, k->machine.memory_bytes, k->cfg->cpu_cfs_quota,
                                       k->cfg->cpu_cfs_quota_period_ms * 1000);
  if (kj_get_int(res, "oomScoreAdj", 0) < k->min_oom_score_adj)
    json_object_set_new(res, "oomScoreAdj", json_integer(k->min_oom_score_adj));
  *out = json_pack("{s:{s:s, s:I}, s:{s:s}, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:b, s:b, s:b, s:{s:o, s:o}}",
                   "metadata", "name", cname, "attempt", (json_int_t)attempt, "image", "image",
                   kj_get_str(c, "image") ?: "", "command", expand_list(kj_get(c, "command"), vars), "args",
                   expand_list(kj_get(c, "args"), vars), "workingDir", kj_get_str(c, "workingDir") ?: "", "envs", envs,
                   "mounts", mounts, "labels", labels, "annotations", container_annotations(p, c, attempt), "stdin",
                   kj_get_bool(c, "stdin", false), "stdinOnce", kj_get_bool(c, "stdinOnce", false), "tty",
                   kj_get_bool(c, "tty", false), "linux", "resources", res, "securityContext", sc);
  json_decref(vars);
  return KL_ENV_OK;
}
