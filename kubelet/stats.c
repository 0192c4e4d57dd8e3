/*
 * stats.c - resource usage for /stats/summary (the Summary API,
 * stats.k8s.io/v1alpha1) and /metrics/resource, read from the cgroup
 * files the runtime's containers live in (cgroupfs: the pod's cgroup, the
 * container's below it by id), /proc and statvfs() - what cAdvisor gives
 * upstream's kubelet.
 *
 * CPU rates (usageNanoCores) come from two readings of a cumulative
 * counter: every reading is remembered per cgroup path, and a rate is
 * given once an earlier reading at least STATS_MIN_WINDOW_MS old exists.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroups.h"
#include "kube/http.h"
#include "kube/json.h"
#include "kube/podutil.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "machine.h"
#include "pod_config.h"
#include "pods_internal.h"
#include "runtime/runtime.h"
#include "server_handlers.h"
#include "stats.h"

#define CGROUP_FS "/sys/fs/cgroup"
#define STATS_MIN_WINDOW_MS 1000
#define STATS_MAX_SAMPLES 4096

static int64_t read_int_file(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long long v = -1;
  if (fscanf(f, "%lld", &v) != 1) v = -1;
  fclose(f);
  return v;
}

static int64_t stat_field(const char *path, const char *key)
{
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[256];
  size_t kl = strlen(key);
  int64_t v = -1;
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, key, kl) && line[kl] == ' ') {
      v = strtoll(line + kl + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return v;
}

void kl_cgroup_usage(const char *cgroup, struct kl_usage *u)
{
  char p[4096];
  memset(u, 0, sizeof *u);
  bool v2 = access(CGROUP_FS "/cgroup.controllers", F_OK) == 0;
  if (v2) {
    snprintf(p, sizeof p, CGROUP_FS "%s/cpu.stat", cgroup);
    int64_t usec = stat_field(p, "usage_usec");
    u->cpu_ns = usec >= 0 ? usec * 1000 : -1;
    snprintf(p, sizeof p, CGROUP_FS "%s/memory.current", cgroup);
    u->mem_usage = read_int_file(p);
    snprintf(p, sizeof p, CGROUP_FS "%s/memory.stat", cgroup);
    int64_t inactive = stat_field(p, "inactive_file");
    u->mem_rss = stat_field(p, "anon");
    u->page_faults = stat_field(p, "pgfault");
    u->major_faults = stat_field(p, "pgmajfault");
    u->mem_working_set = u->mem_usage - (inactive > 0 ? inactive : 0);
  } else {
    snprintf(p, sizeof p, CGROUP_FS "/cpuacct%s/cpuacct.usage", cgroup);
    u->cpu_ns = read_int_file(p);
    snprintf(p, sizeof p, CGROUP_FS "/memory%s/memory.usage_in_bytes", cgroup);
    u->mem_usage = read_int_file(p);
    snprintf(p, sizeof p, CGROUP_FS "/memory%s/memory.stat", cgroup);
    int64_t inactive = stat_field(p, "total_inactive_file");
    u->mem_rss = stat_field(p, "total_rss");
    u->page_faults = stat_field(p, "total_pgfault");
    u->major_faults = stat_field(p, "total_pgmajfault");
    u->mem_working_set = u->mem_usage - (inactive > 0 ? inactive : 0);
  }
  if (u->mem_working_set < 0) u->mem_working_set = 0;
  u->ok = u->cpu_ns >= 0 || u->mem_usage >= 0;
}

/* ---- CPU rates ---- */

struct sample {
  int64_t t_ms, cpu_ns;       /* latest */
  int64_t prev_t_ms, prev_ns; /* an earlier one, >= STATS_MIN_WINDOW_MS before */
};

struct kl_stats {
  struct kubelet *k;
  json_t *samples; /* cgroup path -> integer index into arr */
  struct sample *arr;
  size_t n, cap;
};

struct kl_stats *kl_stats_new(struct kubelet *k)
{
  struct kl_stats *s = xcalloc(1, sizeof *s);
  if (!s) return NULL;
  s->k = k;
  s->samples = json_object();
  return s;
}

void kl_stats_free(struct kl_stats *s)
{
  if (!s) return;
  json_decref(s->samples);
  free(s->arr);
  free(s);
}

/* Records a reading; returns the rate in nanocores or -1 when unknown. */
static int64_t rate(struct kl_stats *s, const char *key, int64_t cpu_ns)
{
  if (cpu_ns < 0) return -1;
  int64_t now = ktime_mono_ms();
  json_t *idx = json_object_get(s->samples, key);
  struct sample *x;
  if (!idx) {
    if (s->n >= STATS_MAX_SAMPLES) { /* start over rather than grow without bound */
      json_object_clear(s->samples);
      s->n = 0;
    }
    if (s->n == s->cap) {
      size_t cap = s->cap ? s->cap * 2 : 64;
      struct sample *na = xrealloc(s->arr, cap * sizeof *na);
      if (!na) return -1;
      s->arr = na;
      s->cap = cap;
    }
    x = &s->arr[s->n];
    memset(x, 0, sizeof *x);
    json_object_set_new(s->samples, key, json_integer((json_int_t)s->n++));
  } else {
    x = &s->arr[json_integer_value(idx)];
  }
  if (x->t_ms && now - x->t_ms >= STATS_MIN_WINDOW_MS) {
    x->prev_t_ms = x->t_ms;
    x->prev_ns = x->cpu_ns;
  }
  if (!x->t_ms || now - x->t_ms >= STATS_MIN_WINDOW_MS) {
    x->t_ms = now;
    x->cpu_ns = cpu_ns;
  }
  if (!x->prev_t_ms || x->t_ms <= x->prev_t_ms || cpu_ns < x->prev_ns) return -1;
  return (int64_t)((double)(x->cpu_ns - x->prev_ns) * 1000.0 / (double)(x->t_ms - x->prev_t_ms));
}

/* ---- JSON pieces ---- */

static json_t *cpu_json(struct kl_stats *s, const char *key, const struct kl_usage *u, const char *now)
{
  json_t *c = json_pack("{s:s}", "time", now);
  if (u->cpu_ns >= 0) json_object_set_new(c, "usageCoreNanoSeconds", json_integer(u->cpu_ns));
  int64_t r = rate(s, key, u->cpu_ns);
  if (r >= 0) json_object_set_new(c, "usageNanoCores", json_integer(r));
  return c;
}

static json_t *mem_json(const struct kl_usage *u, int64_t limit, const char *now)
{
  json_t *m = json_pack("{s:s}", "time", now);
  if (u->mem_usage >= 0) json_object_set_new(m, "usageBytes", json_integer(u->mem_usage));
  if (u->mem_usage >= 0) json_object_set_new(m, "workingSetBytes", json_integer(u->mem_working_set));
  if (u->mem_rss >= 0) json_object_set_new(m, "rssBytes", json_integer(u->mem_rss));
  if (u->page_faults >= 0) json_object_set_new(m, "pageFaults", json_integer(u->page_faults));
  if (u->major_faults >= 0) json_object_set_new(m, "majorPageFaults", json_integer(u->major_faults));
  if (limit > 0 && u->mem_usage >= 0)
    json_object_set_new(m, "availableBytes", json_integer(limit > u->mem_working_set ? limit - u->mem_working_set : 0));
  return m;
}

static json_t *fs_json(const char *path, const char *now)
{
  struct kl_fs_stats fs;
  if (kl_fs_stats(path, &fs) < 0) return json_pack("{s:s}", "time", now);
  return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "time", now, "availableBytes", (json_int_t)fs.available_bytes,
                   "capacityBytes", (json_int_t)fs.capacity_bytes, "usedBytes", (json_int_t)fs.used_bytes, "inodesFree",
                   (json_int_t)fs.inodes_free, "inodes", (json_int_t)fs.inodes, "inodesUsed",
                   (json_int_t)(fs.inodes - fs.inodes_free));
}

static int64_t node_cpu_ns(void)
{
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  unsigned long long v[10] = {0};
  int n =
      fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 4) return -1;
  unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  long hz = sysconf(_SC_CLK_TCK);
  return (int64_t)(busy * (1000000000ULL / (unsigned long long)(hz > 0 ? hz : 100)));
}

void kl_node_usage(struct kl_usage *u)
{
  struct kl_mem_stats m;
  memset(u, 0, sizeof *u);
  u->cpu_ns = node_cpu_ns();
  if (kl_mem_stats(&m) == 0) {
    u->mem_usage = m.total_bytes - m.available_bytes;
    u->mem_working_set = m.working_set_bytes;
    u->mem_rss = -1;
    u->page_faults = u->major_faults = -1;
  } else {
    u->mem_usage = -1;
  }
  u->ok = true;
}

static json_t *node_summary(struct kl_stats *s, const char *now)
{
  struct kubelet *k = s->k;
  struct kl_usage u;
  kl_node_usage(&u);
  char start[40];
  ktime_format((time_t)(k->start_us / 1000000), start);
  json_t *n = json_pack("{s:s, s:s, s:o, s:o, s:o, s:{s:o, s:o}}", "nodeName", k->node_name, "startTime", start, "cpu",
                        cpu_json(s, "/", &u, now), "memory", mem_json(&u, k->machine.memory_bytes, now), "fs",
                        fs_json(k->cfg->root_dir, now), "runtime", "imageFs",
                        fs_json(access("/var/lib/docker", F_OK) == 0 ? "/var/lib/docker" : k->cfg->root_dir, now),
                        "containerFs",
                        fs_json(access("/var/lib/docker", F_OK) == 0 ? "/var/lib/docker" : k->cfg->root_dir, now));
  char pods_cg[512];
  kl_cgroup_pod_path(k, "Guaranteed", "", pods_cg, sizeof pods_cg);
  size_t l = strlen(pods_cg);
  if (l >= 4 && !strcmp(pods_cg + l - 4, "/pod")) pods_cg[l - 4] = 0; /* ROOT/kubepods */
  struct kl_usage pu;
  kl_cgroup_usage(pods_cg, &pu);
  json_object_set_new(n, "systemContainers",
                      json_pack("[{s:s, s:s, s:o, s:o}]", "name", "pods", "startTime", start, "cpu",
                                cpu_json(s, pods_cg, &pu, now), "memory", mem_json(&pu, k->machine.memory_bytes, now)));
  return n;
}

static json_t *pod_summary(struct kl_stats *s, struct kl_pod *p, const char *now)
{
  struct kubelet *k = s->k;
  char pcg[512];
  kl_cgroup_pod_path(k, pod_qos_class(p->pod), p->uid, pcg, sizeof pcg);
  json_t *containers = json_array();
  size_t i;
  json_t *c;
  json_array_foreach (p->containers, i, c) {
    if (strcmp(kj_get_str(c, "status.state") ?: "", KL_CONTAINER_RUNNING)) continue;
    const char *name = kj_get_str(c, "status.labels[\"" KL_LABEL_CONTAINER_NAME "\"]") ?: "";
    char ccg[700], started[40];
    snprintf(ccg, sizeof ccg, "%s/%s", pcg, kj_get_str(c, "status.id") ?: "");
    struct kl_usage u;
    kl_cgroup_usage(ccg, &u);
    ktime_format((time_t)(kj_get_int(c, "status.startedAt", 0) / 1000000000LL), started);
    json_array_append_new(containers, json_pack("{s:s, s:s, s:o, s:o}", "name", name, "startTime", started, "cpu",
                                                cpu_json(s, ccg, &u, now), "memory", mem_json(&u, 0, now)));
  }
  struct kl_usage u;
  kl_cgroup_usage(pcg, &u);
  return json_pack("{s:{s:s, s:s, s:s}, s:s, s:o, s:o, s:o, s:[]}", "podRef", "name", p->name, "namespace", p->ns,
                   "uid", p->uid, "startTime", p->start_time[0] ? p->start_time : now, "containers", containers, "cpu",
                   cpu_json(s, pcg, &u, now), "memory", mem_json(&u, 0, now), "volume");
}

json_t *kl_stats_summary(struct kl_stats *s)
{
  char now[40];
  ktime_now_str(now);
  json_t *pods = json_array();
  for (struct kl_pod *p = s->k->pods->head; p; p = p->next)
    if (p->pod && json_array_size(p->containers)) json_array_append_new(pods, pod_summary(s, p, now));
  return json_pack("{s:o, s:o}", "node", node_summary(s, now), "pods", pods);
}

void kl_serve_stats_summary(struct kubelet *k, struct http_request *req)
{
  json_t *sum = kl_stats_summary(k->stats);
  http_reply_json(req, 200, sum);
  json_decref(sum);
}

/* ---- /metrics/resource ---- */

static void metric(FILE *f, const char *name, const char *labels, double v, int64_t ts_ms)
{
  fprintf(f, "%s%s%s%s %.9g %" PRId64 "\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "", v, ts_ms);
}

void kl_serve_metrics_resource(struct kubelet *k, struct http_request *req)
{
  json_t *sum = kl_stats_summary(k->stats);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  int64_t ts = ktime_now_us() / 1000;
  fputs("# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in "
        "core-seconds\n"
        "# TYPE container_cpu_usage_seconds_total counter\n",
        f);
  size_t i, j;
  json_t *p, *c;
  char labels[1024];
  json_array_foreach (kj_get(sum, "pods"), i, p)
    json_array_foreach (kj_get(p, "containers"), j, c) {
      snprintf(labels, sizeof labels, "container=\"%s\",namespace=\"%s\",pod=\"%s\"", kj_get_str(c, "name") ?: "",
               kj_get_str(p, "podRef.namespace") ?: "", kj_get_str(p, "podRef.name") ?: "");
      metric(f, "container_cpu_usage_seconds_total", labels, (double)kj_get_int(c, "cpu.usageCoreNanoSeconds", 0) / 1e9,
             ts);
    }
  fputs("# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes\n"
        "# TYPE container_memory_working_set_bytes gauge\n",
        f);
  json_array_foreach (kj_get(sum, "pods"), i, p)
    json_array_foreach (kj_get(p, "containers"), j, c) {
      snprintf(labels, sizeof labels, "container=\"%s\",namespace=\"%s\",pod=\"%s\"", kj_get_str(c, "name") ?: "",
               kj_get_str(p, "podRef.namespace") ?: "", kj_get_str(p, "podRef.name") ?: "");
      metric(f, "container_memory_working_set_bytes", labels, (double)kj_get_int(c, "memory.workingSetBytes", 0), ts);
    }
  fputs("# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds\n"
        "# TYPE node_cpu_usage_seconds_total counter\n",
        f);
  metric(f, "node_cpu_usage_seconds_total", "", (double)kj_get_int(sum, "node.cpu.usageCoreNanoSeconds", 0) / 1e9, ts);
  fputs("# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes\n"
        "# TYPE node_memory_working_set_bytes gauge\n",
        f);
  metric(f, "node_memory_working_set_bytes", "", (double)kj_get_int(sum, "node.memory.workingSetBytes", 0), ts);
  fputs("# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds\n"
        "# TYPE pod_cpu_usage_seconds_total counter\n",
        f);
  json_array_foreach (kj_get(sum, "pods"), i, p) {
    snprintf(labels, sizeof labels, "namespace=\"%s\",pod=\"%s\"", kj_get_str(p, "podRef.namespace") ?: "",
             kj_get_str(p, "podRef.name") ?: "");
    metric(f, "pod_cpu_usage_seconds_total", labels, (double)kj_get_int(p, "cpu.usageCoreNanoSeconds", 0) / 1e9, ts);
  }
  fputs("# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes\n"
        "# TYPE pod_memory_working_set_bytes gauge\n",
        f);
  json_array_foreach (kj_get(sum, "pods"), i, p) {
    snprintf(labels, sizeof labels, "namespace=\"%s\",pod=\"%s\"", kj_get_str(p, "podRef.namespace") ?: "",
             kj_get_str(p, "podRef.name") ?: "");
    metric(f, "pod_memory_working_set_bytes", labels, (double)kj_get_int(p, "memory.workingSetBytes", 0), ts);
  }
  fputs("# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise\n"
        "# TYPE resource_scrape_error gauge\nresource_scrape_error 0\n",
        f);
  fclose(f);
  http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
  free(buf);
  json_decref(sum);
}
