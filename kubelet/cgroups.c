/*
 * cgroups.c - the pod cgroup hierarchy (see cgroups.h), cgroup v1
 * (cgroupfs, /sys/fs/cgroup/<controller>/...) or the unified v2 tree.
 */
#define _GNU_SOURCE
#include "cgroups.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/json.h"
#include "kube/podutil.h"
#include "kube/log.h"
#include "kube/quantity.h"
#include "kubelet.h"

#define CGROUP_FS "/sys/fs/cgroup"
#define BESTEFFORT_SHARES 2

static const char *const controllers[] = {"cpu", "cpuacct", "memory", "pids", NULL};

static bool unified(void) { return access(CGROUP_FS "/cgroup.controllers", F_OK) == 0; }

static void root_of(const struct kubelet *k, char *out, size_t len)
{
  const char *r = k->cfg->cgroup_root;
  size_t n = strlen(r);
  while (n > 0 && r[n - 1] == '/') n--;
  snprintf(out, len, "%s%.*s", (n && r[0] != '/') ? "/" : "", (int)n, r);
}

void kl_cgroup_pod_path(const struct kubelet *k, const char *qos, const char *uid, char *out, size_t len)
{
  char root[PATH_MAX];
  root_of(k, root, sizeof root);
  if (!k->cfg->cgroups_per_qos) {
    snprintf(out, len, "%s", root);
    return;
  }
  const char *level = !strcmp(qos, "Guaranteed") ? "" : !strcmp(qos, "BestEffort") ? "/besteffort" : "/burstable";
  snprintf(out, len, "%s/kubepods%s/pod%s", root, level, uid);
}

static int mkdir_p(const char *path)
{
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -errno;
    *p = '/';
  }
  return mkdir(buf, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static void write_value(const char *dir, const char *file, const char *value)
{
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen(path, "w");
  if (!f) return;
  if (fputs(value, f) < 0) KLOG_V(2, "writing %s: %s", path, strerror(errno));
  fclose(f);
}

/* Creates rel (a cgroup path) in every controller we manage. */
static int ensure(const char *rel, char *err, size_t errlen)
{
  char path[PATH_MAX];
  if (unified()) {
    snprintf(path, sizeof path, CGROUP_FS "%s", rel);
    int rc = mkdir_p(path);
    if (rc < 0) snprintf(err, errlen, "failed to create cgroup %s: %s", path, strerror(-rc));
    return rc;
  }
  for (const char *const *c = controllers; *c; c++) {
    char base[PATH_MAX];
    snprintf(base, sizeof base, CGROUP_FS "/%s", *c);
    if (access(base, F_OK) < 0) continue;
    snprintf(path, sizeof path, "%s%s", base, rel);
    int rc = mkdir_p(path);
    if (rc < 0) {
      snprintf(err, errlen, "failed to create cgroup %s: %s", path, strerror(-rc));
      return rc;
    }
  }
  return 0;
}

static void v1_set(const char *ctrl, const char *rel, const char *file, const char *value)
{
  char dir[PATH_MAX];
  if (unified()) return;
  snprintf(dir, sizeof dir, CGROUP_FS "/%s%s", ctrl, rel);
  write_value(dir, file, value);
}

/* The node level (kubepods) and the QoS levels below it. */
static int ensure_qos(struct kubelet *k, char *err, size_t errlen)
{
  char root[PATH_MAX], rel[PATH_MAX];
  root_of(k, root, sizeof root);
  snprintf(rel, sizeof rel, "%s/kubepods", root);
  if (ensure(rel, err, errlen) < 0) return -1;
  char buf[64];
  snprintf(buf, sizeof buf, "%lld", (long long)k->machine.num_cpus * 1024);
  v1_set("cpu", rel, "cpu.shares", buf);
  snprintf(rel, sizeof rel, "%s/kubepods/burstable", root);
  if (ensure(rel, err, errlen) < 0) return -1;
  snprintf(rel, sizeof rel, "%s/kubepods/besteffort", root);
  if (ensure(rel, err, errlen) < 0) return -1;
  snprintf(buf, sizeof buf, "%d", BESTEFFORT_SHARES);
  v1_set("cpu", rel, "cpu.shares", buf);
  return 0;
}

/* Every container (and init container) declares a limit for res. */
static bool all_declare(const json_t *pod, const char *res)
{
  const char *lists[] = {"spec.containers", "spec.initContainers"};
  for (int l = 0; l < 2; l++) {
    size_t i;
    json_t *c;
    json_array_foreach (kj_get(pod, lists[l]), i, c) {
      const char *v = json_string_value(json_object_get(kj_get(c, "resources.limits"), res));
      struct quantity q;
      if (!v || quantity_parse(v, &q) < 0 || quantity_is_zero(&q)) return false;
    }
  }
  return true;
}

void kl_pod_cgroup_config(const json_t *pod, bool cfs_quota, int64_t period_us, struct kl_pod_cgroup *out)
{
  struct kres_list req = {0}, lim = {0};
  pod_requests(pod, NULL, &req);
  pod_limits(pod, NULL, &lim);
  const struct quantity *cpu_req = kres_get(&req, "cpu"), *cpu_lim = kres_get(&lim, "cpu");
  const struct quantity *mem_lim = kres_get(&lim, "memory");
  int64_t shares = cpu_req ? quantity_milli(cpu_req) * 1024 / 1000 : 0;
  out->cpu_shares = shares < BESTEFFORT_SHARES ? BESTEFFORT_SHARES : shares;
  out->cpu_quota_us = out->cpu_period_us = out->memory_limit = -1;
  const char *qos = pod_qos_class(pod);
  bool guaranteed = !strcmp(qos, "Guaranteed");
  if (!strcmp(qos, "BestEffort")) {
    out->cpu_shares = BESTEFFORT_SHARES;
  } else {
    if (cfs_quota && cpu_lim && (guaranteed || all_declare(pod, "cpu"))) {
      int64_t quota = quantity_milli(cpu_lim) * period_us / 1000;
      out->cpu_quota_us = quota < 1000 ? 1000 : quota;
      out->cpu_period_us = period_us;
    }
    if (mem_lim && (guaranteed || all_declare(pod, "memory"))) out->memory_limit = quantity_value(mem_lim);
  }
  kres_list_free(&req);
  kres_list_free(&lim);
}

int kl_cgroups_ensure_pod(struct kubelet *k, const json_t *pod, const char *uid, char *parent, size_t len, char *err,
                          size_t errlen)
{
  kl_cgroup_pod_path(k, pod_qos_class(pod), uid, parent, len);
  if (!k->cfg->cgroups_per_qos) return 0;
  if (ensure_qos(k, err, errlen) < 0 || ensure(parent, err, errlen) < 0) return -1;
  struct kl_pod_cgroup pc;
  kl_pod_cgroup_config(pod, k->cfg->cpu_cfs_quota, k->cfg->cpu_cfs_quota_period_ms * 1000, &pc);
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)pc.cpu_shares);
  v1_set("cpu", parent, "cpu.shares", buf);
  if (pc.cpu_quota_us > 0) {
    snprintf(buf, sizeof buf, "%lld", (long long)pc.cpu_period_us);
    v1_set("cpu", parent, "cpu.cfs_period_us", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)pc.cpu_quota_us);
    v1_set("cpu", parent, "cpu.cfs_quota_us", buf);
  }
  if (pc.memory_limit > 0) {
    snprintf(buf, sizeof buf, "%lld", (long long)pc.memory_limit);
    v1_set("memory", parent, "memory.limit_in_bytes", buf);
  }
  if (k->cfg->pod_pids_limit > 0) {
    snprintf(buf, sizeof buf, "%lld", (long long)k->cfg->pod_pids_limit);
    v1_set("pids", parent, "pids.max", buf);
  }
  return 0;
}

void kl_cgroups_remove_pod(struct kubelet *k, const char *uid)
{
  if (!k->cfg->cgroups_per_qos) return;
  const char *levels[] = {"Guaranteed", "Burstable", "BestEffort"};
  DIR *d = unified() ? NULL : opendir(CGROUP_FS);
  struct dirent *de;
  for (int l = 0; l < 3; l++) {
    char rel[PATH_MAX], path[PATH_MAX];
    kl_cgroup_pod_path(k, levels[l], uid, rel, sizeof rel);
    if (!d) {
      snprintf(path, sizeof path, CGROUP_FS "%s", rel);
      rmdir(path);
      continue;
    }
    rewinddir(d);
    while ((de = readdir(d))) {
      if (de->d_name[0] == '.') continue;
      snprintf(path, sizeof path, CGROUP_FS "/%s%s", de->d_name, rel);
      if (rmdir(path) < 0 && errno != ENOENT && errno != ENOTDIR)
        KLOG_V(2, "removing cgroup %s: %s", path, strerror(errno));
    }
  }
  if (d) closedir(d);
}
