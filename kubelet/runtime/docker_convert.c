/*
 * docker_convert.c - CRI-shaped messages to and from the Engine API's
 * (see docker_internal.h for how sandboxes and containers are named and
 * labelled).  Pure functions: no I/O, unit-tested in
 * tests/unit/kl_test_docker_convert.c.
 *
 * Defaults follow upstream's dockershim: containers join the sandbox's
 * network and IPC namespaces ("container:<sandbox>"), host namespaces
 * when the pod asks for them; seccomp is unconfined unless the pod asks
 * for RuntimeDefault (Kubernetes' own default); a container whose start
 * failed (Docker leaves it "created" with State.Error) is reported as
 * exited with reason StartError and exit code 128, as containerd reports
 * it to a v1.32 kubelet.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker_internal.h"
#include "kube/json.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

#define SANDBOX_OOM_SCORE_ADJ -998
#define SANDBOX_CPU_SHARES 2
#define START_ERROR_EXIT_CODE 128

char *dk_sandbox_name(const json_t *cfg)
{
  return xasprintf("k8s_POD_%s_%s_%s_%lld", kj_get_str(cfg, "metadata.name") ?: "",
                   kj_get_str(cfg, "metadata.namespace") ?: "", kj_get_str(cfg, "metadata.uid") ?: "",
                   (long long)kj_get_int(cfg, "metadata.attempt", 0));
}

char *dk_container_name(const json_t *cfg, const json_t *sb)
{
  return xasprintf("k8s_%s_%s_%s_%s_%lld", kj_get_str(cfg, "metadata.name") ?: "",
                   kj_get_str(sb, "metadata.name") ?: "", kj_get_str(sb, "metadata.namespace") ?: "",
                   kj_get_str(sb, "metadata.uid") ?: "", (long long)kj_get_int(cfg, "metadata.attempt", 0));
}

int dk_parse_name(const char *name, bool sandbox, json_t **out)
{
  *out = NULL;
  if (!name) return -EINVAL;
  if (*name == '/') name++;
  char *dup = xstrdup(name), *save = NULL, *parts[8];
  int n = 0;
  for (char *t = strtok_r(dup, "_", &save); t && n < 8; t = strtok_r(NULL, "_", &save)) parts[n++] = t;
  int rc = -EINVAL;
  if (n >= 6 && !strcmp(parts[0], "k8s")) {
    long long attempt = strtoll(parts[5], NULL, 10);
    if (sandbox && !strcmp(parts[1], "POD")) {
      *out = json_pack("{s:s, s:s, s:s, s:I}", "name", parts[2], "namespace", parts[3], "uid", parts[4], "attempt",
                       attempt);
      rc = 0;
    } else if (!sandbox) {
      *out = json_pack("{s:s, s:I}", "name", parts[1], "attempt", attempt);
      rc = 0;
    }
  }
  free(dup);
  return rc;
}

json_t *dk_make_labels(const json_t *labels, const json_t *annotations, const char *type, const char *node,
                       const char *sandbox_id)
{
  json_t *out = json_object();
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)labels, k, v)
    if (json_is_string(v)) json_object_set(out, k, v);
  json_object_foreach ((json_t *)annotations, k, v) {
    if (!json_is_string(v)) continue;
    char *key = NULL;
    key = xasprintf(DK_ANNOTATION_PREFIX "%s", k);
    json_object_set(out, key, v);
    free(key);
  }
  json_object_set_new(out, DK_LABEL_TYPE, json_string(type));
  json_object_set_new(out, DK_LABEL_NODE, json_string(node));
  if (sandbox_id) json_object_set_new(out, DK_LABEL_SANDBOX_ID, json_string(sandbox_id));
  return out;
}

void dk_split_labels(const json_t *dl, json_t **labels, json_t **annotations)
{
  *labels = json_object();
  *annotations = json_object();
  const char *k;
  json_t *v;
  size_t pl = strlen(DK_ANNOTATION_PREFIX);
  json_object_foreach ((json_t *)dl, k, v) {
    if (!strcmp(k, DK_LABEL_TYPE) || !strcmp(k, DK_LABEL_SANDBOX_ID) || !strcmp(k, DK_LABEL_NODE)) continue;
    if (!strncmp(k, DK_ANNOTATION_PREFIX, pl)) json_object_set(*annotations, k + pl, v);
    else json_object_set(*labels, k, v);
  }
}

static const char *ns_mode(const json_t *cfg, const char *which)
{
  char path[128];
  snprintf(path, sizeof path, "linux.securityContext.namespaceOptions.%s", which);
  const char *m = kj_get_str(cfg, path);
  return m ? m : (!strcmp(which, "pid") ? "CONTAINER" : "POD");
}

static json_t *security_opts(const json_t *sc)
{
  json_t *opts = json_array();
  if (kj_get_bool(sc, "noNewPrivs", false)) json_array_append_new(opts, json_string("no-new-privileges"));
  const char *seccomp = kj_get_str(sc, "seccomp.profileType");
  if (!seccomp || !strcmp(seccomp, "Unconfined")) json_array_append_new(opts, json_string("seccomp=unconfined"));
  return opts;
}

json_t *dk_sandbox_create_body(const json_t *cfg, const char *image, const char *node, const char *host_net_mode,
                               int min_oom)
{
  if (!host_net_mode) host_net_mode = "host";
  bool host_net = !strcmp(ns_mode(cfg, "network"), "NODE");
  bool host_ipc = !strcmp(ns_mode(cfg, "ipc"), "NODE");
  bool host_pid = !strcmp(ns_mode(cfg, "pid"), "NODE");
  json_t *labels = dk_make_labels(kj_get(cfg, "labels"), kj_get(cfg, "annotations"), DK_TYPE_SANDBOX, node, NULL);
  json_t *hc = json_pack("{s:s, s:s, s:i, s:i, s:o, s:b}", "NetworkMode", host_net ? host_net_mode : "none", "IpcMode",
                         host_ipc ? "host" : "shareable", "OomScoreAdj",
                         SANDBOX_OOM_SCORE_ADJ < min_oom ? min_oom : SANDBOX_OOM_SCORE_ADJ, "CpuShares",
                         SANDBOX_CPU_SHARES, "SecurityOpt", security_opts(kj_get(cfg, "linux.securityContext")),
                         "Privileged", kj_get_bool(cfg, "linux.securityContext.privileged", false));
  if (host_pid) json_object_set_new(hc, "PidMode", json_string("host"));
  if (host_net && !strcmp(host_net_mode, "host")) json_object_set_new(hc, "UTSMode", json_string("host"));
  const char *cg = kj_get_str(cfg, "linux.cgroupParent");
  if (cg && *cg) json_object_set_new(hc, "CgroupParent", json_string(cg));
  json_t *sysctls = kj_get(cfg, "linux.sysctls");
  if (json_object_size(sysctls)) json_object_set(hc, "Sysctls", sysctls);
  json_t *body = json_pack("{s:s, s:o, s:o}", "Image", image, "Labels", labels, "HostConfig", hc);
  const char *hostname = kj_get_str(cfg, "hostname");
  if (!host_net && hostname && *hostname) json_object_set_new(body, "Hostname", json_string(hostname));
  return body;
}

static json_t *env_list(const json_t *envs)
{
  json_t *out = json_array();
  size_t i;
  json_t *e;
  json_array_foreach (envs, i, e) {
    char *kv = xasprintf("%s=%s", kj_get_str(e, "key") ?: "", kj_get_str(e, "value") ?: "");
    json_array_append_new(out, json_string(kv));
    free(kv);
  }
  return out;
}

static const char *propagation(const char *cri)
{
  if (cri && !strcmp(cri, "PROPAGATION_HOST_TO_CONTAINER")) return "rslave";
  if (cri && !strcmp(cri, "PROPAGATION_BIDIRECTIONAL")) return "rshared";
  return "rprivate";
}

static json_t *mounts(const json_t *cri_mounts)
{
  json_t *out = json_array();
  size_t i;
  json_t *m;
  json_array_foreach (cri_mounts, i, m) {
    json_array_append_new(
        out, json_pack("{s:s, s:s, s:s, s:b, s:{s:s}}", "Type", "bind", "Source", kj_get_str(m, "hostPath") ?: "",
                       "Target", kj_get_str(m, "containerPath") ?: "", "ReadOnly", kj_get_bool(m, "readonly", false),
                       "BindOptions", "Propagation", propagation(kj_get_str(m, "propagation"))));
  }
  return out;
}

static void set_resources(json_t *hc, const json_t *res)
{
  int64_t mem = kj_get_int(res, "memoryLimitInBytes", 0);
  if (mem > 0) {
    json_object_set_new(hc, "Memory", json_integer(mem));
    json_object_set_new(hc, "MemorySwap", json_integer(mem)); /* no swap, as the kubelet wants */
  }
  int64_t shares = kj_get_int(res, "cpuShares", 0);
  if (shares > 0) json_object_set_new(hc, "CpuShares", json_integer(shares));
  int64_t quota = kj_get_int(res, "cpuQuota", 0), period = kj_get_int(res, "cpuPeriod", 0);
  if (quota > 0) json_object_set_new(hc, "CpuQuota", json_integer(quota));
  if (period > 0) json_object_set_new(hc, "CpuPeriod", json_integer(period));
  json_t *oom = kj_get(res, "oomScoreAdj");
  if (json_is_integer(oom)) json_object_set(hc, "OomScoreAdj", oom);
}

static void set_security(json_t *body, json_t *hc, const json_t *sc)
{
  if (kj_get_bool(sc, "privileged", false)) json_object_set_new(hc, "Privileged", json_true());
  if (kj_get_bool(sc, "readonlyRootfs", false)) json_object_set_new(hc, "ReadonlyRootfs", json_true());
  json_t *add = kj_get(sc, "capabilities.addCapabilities"), *drop = kj_get(sc, "capabilities.dropCapabilities");
  if (json_array_size(add)) json_object_set(hc, "CapAdd", add);
  if (json_array_size(drop)) json_object_set(hc, "CapDrop", drop);
  json_object_set_new(hc, "SecurityOpt", security_opts(sc));
  json_t *groups = kj_get(sc, "supplementalGroups");
  if (json_array_size(groups)) {
    json_t *g = json_array();
    size_t i;
    json_t *v;
    json_array_foreach (groups, i, v) {
      char buf[32];
      snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
      json_array_append_new(g, json_string(buf));
    }
    json_object_set_new(hc, "GroupAdd", g);
  }
  json_t *uid = kj_get(sc, "runAsUser.value"), *gid = kj_get(sc, "runAsGroup.value");
  const char *uname = kj_get_str(sc, "runAsUsername");
  char user[96] = "";
  if (json_is_integer(uid) && json_is_integer(gid))
    snprintf(user, sizeof user, "%lld:%lld", (long long)json_integer_value(uid), (long long)json_integer_value(gid));
  else if (json_is_integer(uid)) snprintf(user, sizeof user, "%lld", (long long)json_integer_value(uid));
  else if (uname && *uname) snprintf(user, sizeof user, "%s", uname);
  if (*user) json_object_set_new(body, "User", json_string(user));
}

json_t *dk_container_create_body(const json_t *cfg, const json_t *sb, const char *sandbox_id, const char *node,
                                 const char *host_net_mode)
{
  if (!host_net_mode) host_net_mode = "host";
  char joined[120];
  snprintf(joined, sizeof joined, "container:%s", sandbox_id);
  bool host_net = !strcmp(ns_mode(sb, "network"), "NODE");
  bool host_ipc = !strcmp(ns_mode(sb, "ipc"), "NODE");
  const char *pid = ns_mode(cfg, "pid");
  json_t *hc = json_pack("{s:s, s:s, s:o}", "NetworkMode", host_net ? host_net_mode : joined, "IpcMode",
                         host_ipc ? "host" : joined, "Mounts", mounts(kj_get(cfg, "mounts")));
  if (!strcmp(pid, "NODE")) json_object_set_new(hc, "PidMode", json_string("host"));
  else if (!strcmp(pid, "POD")) json_object_set_new(hc, "PidMode", json_string(joined));
  if (host_net && !strcmp(host_net_mode, "host")) json_object_set_new(hc, "UTSMode", json_string("host"));
  const char *cg = kj_get_str(sb, "linux.cgroupParent");
  if (cg && *cg) json_object_set_new(hc, "CgroupParent", json_string(cg));
  set_resources(hc, kj_get(cfg, "linux.resources"));
  json_t *labels =
      dk_make_labels(kj_get(cfg, "labels"), kj_get(cfg, "annotations"), DK_TYPE_CONTAINER, node, sandbox_id);
  json_t *body =
      json_pack("{s:s, s:o, s:o, s:b, s:b, s:b, s:b, s:b, s:b}", "Image", kj_get_str(cfg, "image.image") ?: "", "Env",
                env_list(kj_get(cfg, "envs")), "Labels", labels, "Tty", kj_get_bool(cfg, "tty", false), "OpenStdin",
                kj_get_bool(cfg, "stdin", false), "StdinOnce", kj_get_bool(cfg, "stdinOnce", false), "AttachStdin",
                kj_get_bool(cfg, "stdin", false), "AttachStdout", true, "AttachStderr", true);
  set_security(body, hc, kj_get(cfg, "linux.securityContext"));
  json_object_set_new(body, "HostConfig", hc);
  json_t *cmd = kj_get(cfg, "command"), *args = kj_get(cfg, "args");
  if (json_array_size(cmd)) json_object_set(body, "Entrypoint", cmd);
  if (json_array_size(args)) json_object_set(body, "Cmd", args);
  const char *wd = kj_get_str(cfg, "workingDir");
  if (wd && *wd) json_object_set_new(body, "WorkingDir", json_string(wd));
  return body;
}

static const char *container_state(const char *docker_state)
{
  if (!docker_state) return KL_CONTAINER_UNKNOWN;
  if (!strcmp(docker_state, "created")) return KL_CONTAINER_CREATED;
  if (!strcmp(docker_state, "running") || !strcmp(docker_state, "paused") || !strcmp(docker_state, "restarting"))
    return KL_CONTAINER_RUNNING;
  if (!strcmp(docker_state, "exited") || !strcmp(docker_state, "dead") || !strcmp(docker_state, "removing"))
    return KL_CONTAINER_EXITED;
  return KL_CONTAINER_UNKNOWN;
}

static const char *first_name(const json_t *item)
{
  return json_string_value(json_array_get(json_object_get(item, "Names"), 0));
}

json_t *dk_to_container(const json_t *item)
{
  json_t *md = NULL, *labels, *ann;
  if (dk_parse_name(first_name(item), false, &md) < 0) return NULL;
  dk_split_labels(kj_get(item, "Labels"), &labels, &ann);
  return json_pack("{s:s, s:s, s:o, s:{s:s}, s:s, s:s, s:I, s:o, s:o}", "id", kj_get_str(item, "Id") ?: "",
                   "podSandboxId", kj_get_str(item, "Labels[\"" DK_LABEL_SANDBOX_ID "\"]") ?: "", "metadata", md,
                   "image", "image", kj_get_str(item, "Image") ?: "", "imageRef", kj_get_str(item, "ImageID") ?: "",
                   "state", container_state(kj_get_str(item, "State")), "createdAt",
                   (json_int_t)(kj_get_int(item, "Created", 0) * 1000000000LL), "labels", labels, "annotations", ann);
}

json_t *dk_to_sandbox(const json_t *item)
{
  json_t *md = NULL, *labels, *ann;
  if (dk_parse_name(first_name(item), true, &md) < 0) return NULL;
  dk_split_labels(kj_get(item, "Labels"), &labels, &ann);
  const char *st = kj_get_str(item, "State");
  return json_pack("{s:s, s:o, s:s, s:I, s:o, s:o}", "id", kj_get_str(item, "Id") ?: "", "metadata", md, "state",
                   st && !strcmp(st, "running") ? KL_SANDBOX_READY : KL_SANDBOX_NOTREADY, "createdAt",
                   (json_int_t)(kj_get_int(item, "Created", 0) * 1000000000LL), "labels", labels, "annotations", ann);
}

int64_t dk_time_ns(const char *s)
{
  int64_t us;
  if (!s || !strncmp(s, "0001-01-01", 10) || ktime_parse(s, &us) < 0 || us <= 0) return 0;
  /* ktime_parse keeps microseconds; take the nanoseconds Docker wrote. */
  const char *dot = strchr(s, '.');
  int64_t ns = us * 1000;
  if (dot) {
    int64_t frac = 0, scale = 100000000;
    for (const char *p = dot + 1; *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10) frac += (*p - '0') * scale;
    ns = (us / 1000000) * 1000000000LL + frac;
  }
  return ns;
}

static json_t *status_mounts(const json_t *inspect)
{
  json_t *out = json_array();
  size_t i;
  json_t *m;
  json_array_foreach (kj_get(inspect, "Mounts"), i, m) {
    json_array_append_new(out,
                          json_pack("{s:s, s:s, s:b}", "containerPath", kj_get_str(m, "Destination") ?: "", "hostPath",
                                    kj_get_str(m, "Source") ?: "", "readonly", !kj_get_bool(m, "RW", true)));
  }
  return out;
}

json_t *dk_to_container_status(const json_t *in)
{
  json_t *md = NULL, *labels, *ann;
  if (dk_parse_name(kj_get_str(in, "Name"), false, &md) < 0) return NULL;
  dk_split_labels(kj_get(in, "Config.Labels"), &labels, &ann);
  const char *state = container_state(kj_get_str(in, "State.Status"));
  const char *error = kj_get_str(in, "State.Error") ?: "";
  int64_t created = dk_time_ns(kj_get_str(in, "Created"));
  int64_t started = dk_time_ns(kj_get_str(in, "State.StartedAt"));
  int64_t finished = dk_time_ns(kj_get_str(in, "State.FinishedAt"));
  int64_t exit_code = kj_get_int(in, "State.ExitCode", 0);
  const char *reason = "";
  if (!strcmp(state, KL_CONTAINER_CREATED) && *error) {
    state = KL_CONTAINER_EXITED;
    reason = "StartError";
    exit_code = START_ERROR_EXIT_CODE;
    finished = created;
  } else if (!strcmp(state, KL_CONTAINER_EXITED)) {
    if (kj_get_bool(in, "State.OOMKilled", false)) reason = "OOMKilled";
    else reason = exit_code == 0 ? "Completed" : "Error";
  }
  json_t *st = json_pack("{s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:{s:s}, s:s, s:s, s:s, s:o, s:o, s:o, s:s}", "id",
                         kj_get_str(in, "Id") ?: "", "metadata", md, "state", state, "createdAt", (json_int_t)created,
                         "startedAt", (json_int_t)started, "finishedAt", (json_int_t)finished, "exitCode",
                         (json_int_t)exit_code, "image", "image", kj_get_str(in, "Config.Image") ?: "", "imageRef",
                         kj_get_str(in, "Image") ?: "", "reason", reason, "message", error, "labels", labels,
                         "annotations", ann, "mounts", status_mounts(in), "logPath", kj_get_str(in, "LogPath") ?: "");
  json_object_set_new(st, "podSandboxId",
                      json_string(kj_get_str(in, "Config.Labels[\"" DK_LABEL_SANDBOX_ID "\"]") ?: ""));
  return json_pack("{s:o, s:{s:I, s:b}}", "status", st, "info", "pid", (json_int_t)kj_get_int(in, "State.Pid", 0),
                   "tty", kj_get_bool(in, "Config.Tty", false));
}

json_t *dk_to_sandbox_status(const json_t *in)
{
  /* A sandbox joins another container's network only for host-network
   * pods (--host-network-container; Docker records that container's id). */
  json_t *md = NULL, *labels, *ann;
  if (dk_parse_name(kj_get_str(in, "Name"), true, &md) < 0) return NULL;
  dk_split_labels(kj_get(in, "Config.Labels"), &labels, &ann);
  const char *net = kj_get_str(in, "HostConfig.NetworkMode") ?: "";
  const char *pid = kj_get_str(in, "HostConfig.PidMode") ?: "";
  const char *ipc = kj_get_str(in, "HostConfig.IpcMode") ?: "";
  json_t *st = json_pack("{s:s, s:o, s:s, s:I, s:{s:s}, s:{s:{s:{s:s, s:s, s:s}}}, s:o, s:o}", "id",
                         kj_get_str(in, "Id") ?: "", "metadata", md, "state",
                         kj_get_bool(in, "State.Running", false) ? KL_SANDBOX_READY : KL_SANDBOX_NOTREADY, "createdAt",
                         (json_int_t)dk_time_ns(kj_get_str(in, "Created")), "network", "ip", "", "linux", "namespaces",
                         "options", "network", !strcmp(net, "host") || !strncmp(net, "container:", 10) ? "NODE" : "POD",
                         "pid", !strcmp(pid, "host") ? "NODE" : "CONTAINER", "ipc",
                         !strcmp(ipc, "host") ? "NODE" : "POD", "labels", labels, "annotations", ann);
  return json_pack("{s:o, s:{s:I, s:s, s:s}}", "status", st, "info", "pid", (json_int_t)kj_get_int(in, "State.Pid", 0),
                   "resolvConfPath", kj_get_str(in, "ResolvConfPath") ?: "", "hostsPath",
                   kj_get_str(in, "HostsPath") ?: "");
}

static void append_words(FILE *f, const char *prefix, const json_t *arr, bool one_line)
{
  if (!json_array_size(arr)) return;
  size_t i;
  json_t *v;
  if (one_line) fputs(prefix, f);
  json_array_foreach (arr, i, v) {
    if (one_line) fprintf(f, " %s", json_string_value(v) ?: "");
    else fprintf(f, "%s %s\n", prefix, json_string_value(v) ?: "");
  }
  if (one_line) fputc('\n', f);
}

char *dk_resolv_conf(const json_t *dns)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  append_words(f, "search", kj_get(dns, "searches"), true);
  append_words(f, "nameserver", kj_get(dns, "servers"), false);
  append_words(f, "options", kj_get(dns, "options"), true);
  fclose(f);
  return buf;
}

void dk_split_image_ref(const char *image, char *repo, size_t rlen, char *tag, size_t tlen)
{
  const char *at = strchr(image, '@');
  if (at) {
    snprintf(repo, rlen, "%.*s", (int)(at - image), image);
    snprintf(tag, tlen, "%s", at + 1);
    return;
  }
  const char *slash = strrchr(image, '/');
  const char *colon = strrchr(slash ? slash : image, ':');
  if (colon) {
    snprintf(repo, rlen, "%.*s", (int)(colon - image), image);
    snprintf(tag, tlen, "%s", colon + 1);
  } else {
    snprintf(repo, rlen, "%s", image);
    snprintf(tag, tlen, "latest");
  }
}

size_t dk_demux(const char *buf, size_t len, kl_rt_output_fn out, void *arg, bool *stop)
{
  size_t off = 0;
  while (len - off >= 8 && !*stop) {
    const unsigned char *h = (const unsigned char *)buf + off;
    size_t n = ((size_t)h[4] << 24) | ((size_t)h[5] << 16) | ((size_t)h[6] << 8) | h[7];
    if (len - off - 8 < n) break;
    int stream = h[0] == 2 ? 2 : 1;
    if (n > 0 && out && out(arg, stream, buf + off + 8, n) < 0) *stop = true;
    off += 8 + n;
  }
  return off;
}
