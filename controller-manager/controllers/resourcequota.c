/*
 * resourcequota.c - the "resourcequota" controller: keeps status.hard and
 * status.used of every ResourceQuota.
 *
 * status.hard mirrors spec.hard; status.used is computed for exactly the
 * resources named in spec.hard from the caches of the quota's namespace:
 * object counts (services, secrets, configmaps, persistentvolumeclaims,
 * replicationcontrollers, resourcequotas and count/<resource>[.<group>]),
 * services.nodeports and services.loadbalancers, requests.storage over
 * claims, and the pod resources (pods, count/pods, cpu, memory,
 * requests.*, limits.*, hugepages) summed from podutil's per-pod quota
 * usage, as upstream's pod evaluator: requests and limits as
 * PodRequests/PodLimits (init containers, sidecars, overhead); count/pods
 * counts every pod, the rest only the pods that count for quota (not
 * Succeeded or Failed, not terminating past deletionTimestamp +
 * deletionGracePeriodSeconds: a pod stuck terminating on a lost node is
 * not charged).  A quota is requeued for the moment such a pod stops
 * counting, and enqueued when it changes, when an object of its
 * namespace changes, and every --resource-quota-sync-period (5 min).  The
 * status is written only when it differs.
 *
 * count/<resource>.<group> of any other resource (a custom resource, a
 * built-in kind without a cache here) is counted from an informer of its
 * own, made the first time a quota names it: the resource is found
 * through discovery (its group's preferred version), the informer is
 * started, and quotas naming it wait (requeued) until it has synced.  A
 * name discovery does not know is looked up again at most every 30 s and
 * gets no usage meanwhile.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "controller_utils.h"
#include "core_logic.h"
#include "discovery.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/podutil.h"
#include "kube/quantity.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

#define RQ_RESYNC_MS (5 * 60 * 1000)
#define RQ_DISCOVERY_RETRY_MS 30000
#define RQ_WAIT_SYNC_MS 500

/* Counted resource name -> the objs key holding its objects (pods are
 * the pod evaluator's, below). */
static const struct {
  const char *name, *list;
} rq_counts[] = {
    {"services", "services"},
    {"count/services", "services"},
    {"secrets", "secrets"},
    {"count/secrets", "secrets"},
    {"configmaps", "configmaps"},
    {"count/configmaps", "configmaps"},
    {"persistentvolumeclaims", "persistentvolumeclaims"},
    {"count/persistentvolumeclaims", "persistentvolumeclaims"},
    {"replicationcontrollers", "replicationcontrollers"},
    {"count/replicationcontrollers", "replicationcontrollers"},
    {"resourcequotas", "resourcequotas"},
    {"count/resourcequotas", "resourcequotas"},
};

static json_t *rq_quantity_json(const struct quantity *q)
{
  char buf[QUANTITY_STRING_MAX];
  return json_string(quantity_format(q, buf, sizeof buf));
}

static json_t *rq_count_json(size_t n)
{
  char buf[32];
  snprintf(buf, sizeof buf, "%zu", n);
  return json_string(buf);
}

/* The names the pod evaluator answers for (upstream's podResources and
 * the prefixed ones). */
static bool rq_is_pod_resource(const char *name)
{
  static const char *const exact[] = {"pods", "count/pods", "cpu", "memory", "ephemeral-storage"};
  for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
    if (!strcmp(name, exact[i])) return true;
  return (!strncmp(name, "requests.", 9) && strcmp(name, "requests.storage")) || !strncmp(name, "limits.", 7) ||
         !strncmp(name, "hugepages-", 10);
}

/* The pods' usage, summed (upstream's pod evaluator: every pod counts for
 * count/pods, only those that still count for quota for the rest).
 * *next_change: the earliest second a terminating pod stops counting. */
static void rq_pod_usage(const json_t *pods, int64_t now, struct kres_list *sum, int64_t *next_change)
{
  size_t i;
  json_t *p;
  struct kres_list u = {0};
  json_array_foreach (pods, i, p) {
    kres_list_clear(&u);
    pod_quota_usage(p, now * 1000000, &u);
    for (size_t k = 0; k < u.n; k++) kres_add(sum, u.items[k].name, &u.items[k].q);
    json_t *grace = kj_get(p, "metadata.deletionGracePeriodSeconds");
    int64_t deleted = cm_time_at(p, "metadata.deletionTimestamp");
    if (deleted < 0 || !json_is_integer(grace) || !pod_counts_for_quota(p, now * 1000000)) continue;
    int64_t end = deleted + json_integer_value(grace) + 1;
    if (*next_change < 0 || end < *next_change) *next_change = end;
  }
  kres_list_free(&u);
}

/* services.nodeports / services.loadbalancers */
static size_t rq_service_usage(const json_t *services, const char *name)
{
  size_t n = 0, i;
  json_t *svc;
  json_array_foreach (services, i, svc) {
    const char *type = kj_get_str(svc, "spec.type") ?: "ClusterIP";
    if (!strcmp(name, "services.loadbalancers")) n += !strcmp(type, "LoadBalancer");
    else if (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"))
      n += json_array_size(kj_get(svc, "spec.ports"));
  }
  return n;
}

/* requests.storage over the claims. */
static json_t *rq_storage_usage(const json_t *claims)
{
  struct kres_list sum = {0};
  size_t i;
  json_t *pvc;
  json_array_foreach (claims, i, pvc) kres_add_json(&sum, kj_get(pvc, "spec.resources.requests"));
  const struct quantity *q = kres_get(&sum, "storage");
  struct quantity zero;
  quantity_set_int(&zero, 0, QF_BINARY_SI);
  json_t *out = rq_quantity_json(q ? q : &zero);
  kres_list_free(&sum);
  return out;
}

json_t *resourcequota_usage(const json_t *hard, const json_t *objs, int64_t now, int64_t *next_change)
{
  json_t *used = json_object();
  int64_t next = -1;
  struct kres_list pods = {0};
  rq_pod_usage(json_object_get(objs, "pods"), now, &pods, &next);
  if (next_change) *next_change = next;
  const char *name;
  json_t *v;
  json_object_foreach ((json_t *)hard, name, v) {
    bool done = false;
    for (size_t k = 0; k < sizeof rq_counts / sizeof rq_counts[0] && !done; k++) {
      if (strcmp(rq_counts[k].name, name)) continue;
      json_object_set_new(used, name, rq_count_json(json_array_size(json_object_get(objs, rq_counts[k].list))));
      done = true;
    }
    if (done) continue;
    if (rq_is_pod_resource(name)) {
      const struct quantity *q = kres_get(&pods, name);
      json_object_set_new(used, name, q ? rq_quantity_json(q) : json_string("0"));
    } else if (!strncmp(name, "count/", 6)) {
      json_t *list = json_object_get(objs, name);
      if (list) json_object_set_new(used, name, rq_count_json(json_array_size(list)));
    } else if (!strcmp(name, "services.nodeports") || !strcmp(name, "services.loadbalancers")) {
      json_object_set_new(used, name, rq_count_json(rq_service_usage(json_object_get(objs, "services"), name)));
    } else if (!strcmp(name, "requests.storage")) {
      json_object_set_new(used, name, rq_storage_usage(json_object_get(objs, "persistentvolumeclaims")));
    }
  }
  kres_list_free(&pods);
  return used;
}

/* ---- the controller ---- */

static const struct {
  const char *list, *path;
} rq_sources[] = {
    {"pods", CM_PODS},
    {"services", CM_SERVICES},
    {"secrets", "/api/v1/secrets"},
    {"configmaps", "/api/v1/configmaps"},
    {"persistentvolumeclaims", CM_PVCS},
    {"replicationcontrollers", CM_REPLICATIONCONTROLLERS},
    {"resourcequotas", CM_RESOURCEQUOTAS},
    {"count/deployments.apps", CM_DEPLOYMENTS},
    {"count/replicasets.apps", CM_REPLICASETS},
    {"count/statefulsets.apps", CM_STATEFULSETS},
    {"count/daemonsets.apps", CM_DAEMONSETS},
    {"count/jobs.batch", CM_JOBS},
    {"count/cronjobs.batch", CM_CRONJOBS},
};
#define RQ_NSRC (sizeof rq_sources / sizeof rq_sources[0])

/* An informer for a count/ name outside rq_sources. */
struct rq_extra {
  char *name; /* "count/crontabs.stable.example.com" */
  struct informer *inf;
  struct rq_extra *next;
};

struct rq_ctl {
  struct cm_base base;
  struct informer *inf[RQ_NSRC]; /* inf[RQ_QUOTAS] is the quotas' own */
  struct rq_extra *extra;
  json_t *wanted;            /* count/ names quotas asked for, not found yet */
  struct cm_discovery *disc; /* the pass in flight */
  int64_t disc_at_ms;        /* when the last pass started (monotonic) */
};

#define RQ_QUOTAS 6

static void rq_enqueue_ns(struct rq_ctl *c, const char *ns)
{
  json_t *quotas = informer_store_by_index(c->inf[RQ_QUOTAS], INFORMER_INDEX_NAMESPACE, ns);
  size_t i;
  json_t *q;
  json_array_foreach (quotas, i, q) cm_base_enqueue(&c->base, q);
  json_decref(quotas);
}

static void rq_obj_add(void *arg, const json_t *o) { rq_enqueue_ns(arg, kj_get_str(o, "metadata.namespace") ?: ""); }
static void rq_obj_update(void *arg, const json_t *o, const json_t *n)
{
  if (o == n) return;
  rq_enqueue_ns(arg, kj_get_str(n, "metadata.namespace") ?: "");
}
static void rq_obj_delete(void *arg, const json_t *o, bool u)
{
  rq_enqueue_ns(arg, kj_get_str(o, "metadata.namespace") ?: "");
}

/* ---- count/ names outside rq_sources ---- */

static bool rq_static_name(const char *name)
{
  for (size_t i = 0; i < RQ_NSRC; i++)
    if (!strcmp(rq_sources[i].list, name)) return true;
  for (size_t k = 0; k < sizeof rq_counts / sizeof rq_counts[0]; k++)
    if (!strcmp(rq_counts[k].name, name)) return true;
  return !strcmp(name, "count/pods");
}

static struct rq_extra *rq_find_extra(const struct rq_ctl *c, const char *name)
{
  for (struct rq_extra *e = c->extra; e; e = e->next)
    if (!strcmp(e->name, name)) return e;
  return NULL;
}

/* The collection of "count/PLURAL[.GROUP]" among the discovered
 * resources, or NULL. */
static const char *rq_resolve(const json_t *resources, const char *name)
{
  const char *rg = name + 6, *dot = strchr(rg, '.');
  char plural[256], group[256];
  snprintf(plural, sizeof plural, "%.*s", dot ? (int)(dot - rg) : (int)strlen(rg), rg);
  snprintf(group, sizeof group, "%s", dot ? dot + 1 : "");
  size_t i;
  json_t *r;
  json_array_foreach (resources, i, r) {
    const char *path = kj_get_str(r, "path"), *gv = kj_get_str(r, "apiVersion");
    const char *slash = strrchr(path, '/'), *gslash = strchr(gv, '/');
    size_t glen = gslash ? (size_t)(gslash - gv) : 0;
    if (strcmp(slash + 1, plural) || strlen(group) != glen || strncmp(gv, group, glen)) continue;
    return path;
  }
  return NULL;
}

static void rq_watch_extra(struct rq_ctl *c, const char *name, const char *path)
{
  struct informer_opts o = {.path = path, .drop_managed_fields = true};
  struct informer *inf = informer_new(c->base.ctx->base, c->base.ctx->client, &o);
  if (!inf) return;
  informer_add_index(inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  struct informer_handlers h = {rq_obj_add, rq_obj_update, rq_obj_delete, c};
  informer_add_handlers(inf, &h);
  struct rq_extra *e = xcalloc(1, sizeof *e);
  e->name = xstrdup(name);
  e->inf = inf;
  e->next = c->extra;
  c->extra = e;
  informer_start(inf);
}

static void rq_discovered(void *arg, json_t *lists, const char *failed)
{
  struct rq_ctl *c = arg;
  c->disc = NULL;
  json_t *resources = json_array();
  cm_discovery_resources(lists, "list,watch", NULL, resources);
  const char *name;
  json_t *v, *tmp;
  json_object_foreach_safe (c->wanted, tmp, name, v) {
    const char *path = rq_resolve(resources, name);
    if (!path) continue;
    rq_watch_extra(c, name, path);
    json_object_del(c->wanted, name);
  }
  json_decref(resources);
  json_decref(lists);
}

/* The objects of the quota's namespace counted under a count/ name
 * outside rq_sources, as a new array; NULL while not known or not synced
 * (*wait: come back soon). */
static json_t *rq_extra_objs(struct rq_ctl *c, const char *name, const char *ns, bool *wait)
{
  struct rq_extra *e = rq_find_extra(c, name);
  if (e) {
    if (informer_has_synced(e->inf)) return informer_store_by_index(e->inf, INFORMER_INDEX_NAMESPACE, ns);
    *wait = true;
    return NULL;
  }
  json_object_set_new(c->wanted, name, json_true());
  int64_t now = ktime_mono_ms();
  if (!c->disc && (!c->disc_at_ms || now - c->disc_at_ms >= RQ_DISCOVERY_RETRY_MS)) {
    c->disc_at_ms = now;
    c->disc = cm_discovery_start(c->base.ctx->client, rq_discovered, c);
    *wait = true;
  }
  return NULL;
}

/* Every --resource-quota-sync-period: every quota. */
static void rq_on_resync(struct cm_base *b)
{
  struct rq_ctl *c = (struct rq_ctl *)b;
  json_t *keys = informer_store_keys(c->inf[RQ_QUOTAS]);
  size_t i;
  json_t *k;
  json_array_foreach (keys, i, k) cm_base_enqueue_key(b, json_string_value(k));
  json_decref(keys);
}

static void rq_sync(struct cm_base *b, const char *key)
{
  struct rq_ctl *c = (struct rq_ctl *)b;
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue = -1;
  json_t *quota = informer_store_get_obj(c->inf[RQ_QUOTAS], key);
  if (quota) {
    const char *ns = kj_get_str(quota, "metadata.namespace") ?: "";
    json_t *objs = json_object();
    for (size_t i = 0; i < RQ_NSRC; i++)
      json_object_set_new(objs, rq_sources[i].list, informer_store_by_index(c->inf[i], INFORMER_INDEX_NAMESPACE, ns));
    json_t *hard = kj_get(quota, "spec.hard");
    hard = json_is_object(hard) ? json_incref(hard) : json_object();
    bool wait = false;
    const char *hname;
    json_t *hv;
    json_object_foreach (hard, hname, hv) {
      if (strncmp(hname, "count/", 6) || rq_static_name(hname)) continue;
      json_t *list = rq_extra_objs(c, hname, ns, &wait);
      if (list) json_object_set_new(objs, hname, list);
    }
    if (wait) requeue = RQ_WAIT_SYNC_MS;
    int64_t now = cm_now(), next_change;
    json_t *used = resourcequota_usage(hard, objs, now, &next_change);
    /* A pod stuck terminating stops counting once its grace period is
     * over, with no event to say so. */
    if (next_change > now && (requeue < 0 || (next_change - now) * 1000 < requeue)) requeue = (next_change - now) * 1000;
    json_t *want = json_pack("{s:o, s:o}", "hard", hard, "used", used);
    if (!cm_json_eq(json_object_get(want, "hard"), kj_get(quota, "status.hard")) ||
        !cm_json_eq(json_object_get(want, "used"), kj_get(quota, "status.used"))) {
      json_t *body = kj_deep_copy(quota);
      json_object_set(body, "status", want);
      json_object_set_new(body, "apiVersion", json_string("v1"));
      json_object_set_new(body, "kind", json_string("ResourceQuota"));
      char path[700];
      cm_path(path, sizeof path, "/api/v1", ns, "resourcequotas", kj_get_str(quota, "metadata.name"), "status");
      cm_act(&acts, CM_PUT, path, body);
    }
    json_decref(want);
    json_decref(objs);
    json_decref(quota);
  }
  cm_base_exec(b, key, &acts, NULL, requeue);
  cm_actions_clear(&acts);
}

static int rq_init(struct cm_base *b)
{
  struct rq_ctl *c = (struct rq_ctl *)b;
  c->wanted = json_object();
  for (size_t i = 0; i < RQ_NSRC; i++) {
    c->inf[i] = informer_factory_get(b->ctx->informers, rq_sources[i].path);
    informer_add_index(c->inf[i], INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
    struct informer_handlers h = {rq_obj_add, rq_obj_update, rq_obj_delete, c};
    if (i == RQ_QUOTAS) h = (struct informer_handlers){cm_on_add_enqueue, cm_on_update_enqueue, NULL, c};
    informer_add_handlers(c->inf[i], &h);
  }
  return 0;
}

static void rq_run(struct cm_base *b) { cm_base_periodic(b, RQ_RESYNC_MS, rq_on_resync); }

static void rq_fini(struct cm_base *b)
{
  struct rq_ctl *c = (struct rq_ctl *)b;
  cm_discovery_cancel(c->disc);
  while (c->extra) {
    struct rq_extra *e = c->extra;
    c->extra = e->next;
    informer_free(e->inf);
    free(e->name);
    free(e);
  }
  json_decref(c->wanted);
}

const struct controller_def ctrl_resourcequota = {
    .name = "resourcequota",
    .service_account = "resourcequota-controller",
    .enabled_by_default = true,
    .size = sizeof(struct rq_ctl),
    .queue = "resourcequota_primary",
    .workers_flag = offsetof(struct cm_config, concurrent_resource_quota_syncs),
    .workers = 5,
    .sync = rq_sync,
    .init = rq_init,
    .run = rq_run,
    .fini = rq_fini,
};
