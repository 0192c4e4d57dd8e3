/*
 * eviction.c - node-pressure eviction (see eviction.h).
 */
#define _GNU_SOURCE
#include "eviction.h"

#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroups.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/podutil.h"
#include "kube/quantity.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "machine.h"
#include "node_status.h"
#include "pods_internal.h"
#include "gc.h"
#include "stats.h"
#include "volumes.h"

#define EVICTION_MONITOR_MS 10000
#define DOCKER_ROOT "/var/lib/docker"

enum signal { SIG_MEMORY, SIG_NODEFS, SIG_NODEFS_INODES, SIG_IMAGEFS, SIG_COUNT };

static const struct {
  const char *name;     /* evictionHard key */
  const char *resource; /* for messages */
  bool disk;
} signals[SIG_COUNT] = {
    {"memory.available", "memory", false},
    {"nodefs.available", "ephemeral-storage", true},
    {"nodefs.inodesFree", "inodes", true},
    {"imagefs.available", "ephemeral-storage", true},
};

struct kl_eviction {
  struct kubelet *k;
  struct event *timer;
  int64_t memory_last_met_ms, disk_last_met_ms; /* monotonic; 0 never */
  bool reclaimed;                               /* disk: node-level reclaim tried */
};

int64_t kl_eviction_threshold(const char *v, int64_t capacity)
{
  if (!v) return -1;
  size_t n = strlen(v);
  if (n > 1 && v[n - 1] == '%') return (int64_t)((long double)capacity * strtold(v, NULL) / 100.0L);
  struct quantity q;
  return quantity_parse(v, &q) == 0 ? quantity_value(&q) : -1;
}

/* upstream's rankMemoryPressure: exceeds requests, priority, usage above requests */
static int rank_cmp(const void *a, const void *b)
{
  const struct kl_evict_candidate *x = a, *y = b;
  bool xe = x->usage > x->request, ye = y->usage > y->request;
  if (xe != ye) return xe ? -1 : 1;
  if (x->priority != y->priority) return x->priority < y->priority ? -1 : 1;
  int64_t xa = x->usage - x->request, ya = y->usage - y->request;
  return xa > ya ? -1 : xa < ya ? 1 : 0;
}

void kl_eviction_rank(struct kl_evict_candidate *c, size_t n) { qsort(c, n, sizeof *c, rank_cmp); }

/* ---- signals ---- */

struct observation {
  int64_t available, capacity;
  bool known;
};

static void observe(struct kubelet *k, struct observation obs[SIG_COUNT])
{
  memset(obs, 0, sizeof(struct observation) * SIG_COUNT);
  struct kl_mem_stats m;
  if (kl_mem_stats(&m) == 0) obs[SIG_MEMORY] = (struct observation){m.available_bytes, m.total_bytes, true};
  struct kl_fs_stats fs;
  if (kl_fs_stats(k->cfg->root_dir, &fs) == 0) {
    obs[SIG_NODEFS] = (struct observation){fs.available_bytes, fs.capacity_bytes, true};
    obs[SIG_NODEFS_INODES] = (struct observation){fs.inodes_free, fs.inodes, true};
  }
  if (kl_fs_stats(access(DOCKER_ROOT, F_OK) == 0 ? DOCKER_ROOT : k->cfg->root_dir, &fs) == 0)
    obs[SIG_IMAGEFS] = (struct observation){fs.available_bytes, fs.capacity_bytes, true};
}

/* Thresholds met now; *threshold of the first one met. */
static int met(struct kubelet *k, const struct observation obs[SIG_COUNT], bool disk, int64_t *threshold)
{
  for (int i = 0; i < SIG_COUNT; i++) {
    if (signals[i].disk != disk || !obs[i].known) continue;
    int64_t t = kl_eviction_threshold(json_string_value(json_object_get(k->cfg->eviction_hard, signals[i].name)),
                                      obs[i].capacity);
    if (t >= 0 && obs[i].available < t) {
      *threshold = t;
      return i;
    }
  }
  return -1;
}

/* ---- choosing and evicting a pod ---- */

static int64_t pod_memory(struct kubelet *k, struct kl_pod *p)
{
  char cg[512];
  kl_cgroup_pod_path(k, pod_qos_class(p->pod), p->uid, cg, sizeof cg);
  struct kl_usage u;
  kl_cgroup_usage(cg, &u);
  return u.mem_working_set > 0 ? u.mem_working_set : 0;
}

/* Local storage of a pod: its directory (emptyDir and friends). */
static int64_t dir_usage(const char *path, int depth)
{
  int64_t total = 0;
  DIR *d = depth < 16 ? opendir(path) : NULL;
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    struct stat st;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
    if (S_ISDIR(st.st_mode)) {
      char sub[4096];
      snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
      total += dir_usage(sub, depth + 1);
    } else {
      total += (int64_t)st.st_blocks * 512;
    }
  }
  if (d) closedir(d);
  return total;
}

static int64_t pod_request(const json_t *pod, const char *resource)
{
  struct kres_list req = {0};
  pod_requests(pod, NULL, &req);
  const struct quantity *q = kres_get(&req, resource);
  int64_t v = q ? quantity_value(q) : 0;
  kres_list_free(&req);
  return v;
}

static void fmt_bytes(int64_t v, char *out, size_t len)
{
  struct quantity q;
  quantity_set_int(&q, v < 0 ? 0 : v, QF_BINARY_SI);
  quantity_format(&q, out, len);
}

static void evict(struct kl_eviction *e, struct kl_pod *p, int sig, int64_t threshold, int64_t available, int64_t usage,
                  int64_t request)
{
  char th[QUANTITY_STRING_MAX], av[QUANTITY_STRING_MAX], us[QUANTITY_STRING_MAX], rq[QUANTITY_STRING_MAX];
  fmt_bytes(threshold, th, sizeof th);
  fmt_bytes(available, av, sizeof av);
  fmt_bytes(usage, us, sizeof us);
  fmt_bytes(request, rq, sizeof rq);
  const char *res = signals[sig].resource;
  const json_t *c = json_array_get(kj_get(p->pod, "spec.containers"), 0);
  snprintf(p->evict_message, sizeof p->evict_message,
           "The node was low on resource: %s. Threshold quantity: %s, available: %s. Container %s was using %s, "
           "request is %s, has larger consumption of %s. ",
           res, th, av, kj_get_str(c, "name") ?: "", us, rq, res);
  KLOG_I("Evicting pod %s/%s: %s", p->ns, p->name, p->evict_message);
  kl_pod_event(p, "Warning", "Evicted", "%s", p->evict_message);
  p->evicted = true;
  kl_pod_enqueue(p);
}

static void evict_one(struct kl_eviction *e, int sig, int64_t threshold, int64_t available)
{
  struct kubelet *k = e->k;
  size_t n = 0, cap = 16;
  struct kl_evict_candidate *c = xcalloc(cap, sizeof *c);
  for (struct kl_pod *p = k->pods->head; p; p = p->next) {
    if (!p->pod || p->is_static || !kl_pod_should_run(p) || !json_array_size(p->containers)) continue;
    if (n == cap) c = xrealloc(c, (cap *= 2) * sizeof *c);
    bool disk = signals[sig].disk;
    char dir[4096];
    c[n] = (struct kl_evict_candidate){
        .name = p->name, .ref = p, .priority = (int32_t)kj_get_int(p->pod, "spec.priority", 0)};
    c[n].usage = disk ? dir_usage(kl_pod_dir(p, NULL, dir, sizeof dir), 0) : pod_memory(k, p);
    c[n].request = pod_request(p->pod, disk ? "ephemeral-storage" : "memory");
    n++;
  }
  if (n) {
    kl_eviction_rank(c, n);
    evict(e, c[0].ref, sig, threshold, available, c[0].usage, c[0].request);
  } else {
    KLOG_W("eviction manager: %s below its threshold and no pod to evict", signals[sig].name);
  }
  free(c);
}

static void set_pressure(struct kl_eviction *e, bool *flag, bool met_now, int64_t *last_met)
{
  struct kubelet *k = e->k;
  int64_t now = ktime_mono_ms();
  if (met_now) *last_met = now;
  bool want = *last_met && now - *last_met < k->cfg->eviction_pressure_transition_period_ms;
  if (met_now) want = true;
  if (want != *flag) {
    *flag = want;
    if (k->node) kl_node_status_changed(k->node);
  }
}

static void monitor(evutil_socket_t fd, short what, void *arg)
{
  struct kl_eviction *e = arg;
  struct kubelet *k = e->k;
  struct observation obs[SIG_COUNT];
  observe(k, obs);
  int64_t mt = 0, dt = 0;
  int msig = met(k, obs, false, &mt), dsig = met(k, obs, true, &dt);
  set_pressure(e, &k->pressure_memory, msig >= 0, &e->memory_last_met_ms);
  set_pressure(e, &k->pressure_disk, dsig >= 0, &e->disk_last_met_ms);
  if (msig >= 0) {
    evict_one(e, msig, mt, obs[msig].available);
  } else if (dsig >= 0) {
    /* Node-level resources first: dead containers and unused images;
     * a pod goes when that did not help by the next cycle. */
    if (!e->reclaimed) {
      e->reclaimed = true;
      kl_gc_now(k, true);
    } else {
      evict_one(e, dsig, dt, obs[dsig].available);
    }
  }
  if (dsig < 0) e->reclaimed = false;
  struct timeval tv = {EVICTION_MONITOR_MS / 1000, 0};
  evtimer_add(e->timer, &tv);
}

bool kl_eviction_admit(struct kl_eviction *e, const json_t *pod, char *msg, size_t len)
{
  if (!e || !e->k->pressure_memory || strcmp(pod_qos_class(pod), "BestEffort")) return true;
  snprintf(msg, len, "The node had condition: [MemoryPressure]. ");
  return false;
}

struct kl_eviction *kl_eviction_new(struct kubelet *k)
{
  struct kl_eviction *e = xcalloc(1, sizeof *e);
  e->k = k;
  e->timer = evtimer_new(k->base, monitor, e);
  return e;
}

void kl_eviction_start(struct kl_eviction *e)
{
  struct timeval tv = {1, 0};
  evtimer_add(e->timer, &tv);
}

void kl_eviction_stop(struct kl_eviction *e) { evtimer_del(e->timer); }

void kl_eviction_free(struct kl_eviction *e)
{
  if (!e) return;
  event_free(e->timer);
  free(e);
}
