/*
 * resource_quota.c - the ResourceQuota admission plugin.
 *
 * A write in a namespace with ResourceQuotas is charged against each of
 * them: object counts ("pods", "configmaps", "count/deployments.apps"...)
 * and, for pods, the usage upstream's pod evaluator computes (podutil's
 * pod_quota_usage: PodRequests/PodLimits over app, init and sidecar
 * containers plus overhead, as "requests.cpu", "limits.memory", "cpu" =
 * requests.cpu...).  The usage a quota already has is its status.used as
 * the quota controller keeps it; a resource the controller has not counted
 * yet is counted here from storage.  Going over any hard limit is refused
 * (403 "exceeded quota"), and a new pod must state every cpu and memory
 * resource a quota limits in each container ("failed quota ... must
 * specify").  An update is charged what it adds: the usage of the new
 * object minus that of the old one, where positive (a Service turned
 * NodePort, a claim asking for more storage).  Pods count as upstream's
 * QuotaV1Pod says: not once Succeeded or Failed, and not once a deletion's
 * grace period has run out.
 */
#define _GNU_SOURCE
#include "admission/admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/podutil.h>
#include <kube/quantity.h>
#include <kube/timeutil.h>

#include "registry/reg_internal.h"
#include "registry/registry.h"

/* Legacy object-count names upstream keeps besides count/RESOURCE. */
static const char *const LEGACY_COUNTS[] = {
    "services", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers", "resourcequotas", NULL};

/* Resources whose requests and limits every container must state when a
 * quota limits them (upstream's podEvaluator validationSet). */
static const char *const CONTAINER_RESOURCES[] = {
    "cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory", NULL};

static bool in_list(const char *const *list, const char *s)
{
  for (; *list; list++)
    if (strcmp(*list, s) == 0) return true;
  return false;
}

static void one(struct quantity *q) { quantity_set_int(q, 1, QF_DECIMAL_SI); }

/* The usage of quota resource `name` obj carries (zero when none). */
static void usage_of(const struct resource *res, const json_t *obj, const char *name, struct quantity *q)
{
  memset(q, 0, sizeof(*q));
  if (res == &reg_pods) {
    struct kres_list l = {0};
    pod_quota_usage(obj, ktime_now_us(), &l);
    const struct quantity *u = kres_get(&l, name);
    if (u) *q = *u;
    kres_list_free(&l);
    return;
  }
  char cnt[300];
  if (*res->group) snprintf(cnt, sizeof(cnt), "count/%s.%s", res->plural, res->group);
  else snprintf(cnt, sizeof(cnt), "count/%s", res->plural);
  if (!strcmp(name, cnt) || (!*res->group && !strcmp(name, res->plural) && in_list(LEGACY_COUNTS, name))) {
    one(q);
    return;
  }
  if (res == &reg_services) {
    const char *t = kj_get_str(obj, "spec.type");
    bool lb = t && !strcmp(t, "LoadBalancer"), np = lb || (t && !strcmp(t, "NodePort"));
    if (!strcmp(name, "services.loadbalancers") && lb) one(q);
    else if (!strcmp(name, "services.nodeports") && np)
      quantity_set_int(q, (int64_t)json_array_size(kj_get(obj, "spec.ports")), QF_DECIMAL_SI);
    return;
  }
  if (!strcmp(res->plural, "persistentvolumeclaims") && !*res->group && !strcmp(name, "requests.storage")) {
    const char *s = kj_get_str(obj, "spec.resources.requests.storage");
    if (!s || quantity_parse(s, q) != 0) memset(q, 0, sizeof(*q));
  }
}

/* Current usage of `name` in the namespace, counted from storage. */
static void count_usage(struct reg_request *rq, const struct resource *res, const char *name, struct quantity *u)
{
  memset(u, 0, sizeof(*u));
  json_t *all = adm_list_res(rq->srv, res, rq->namespace_);
  size_t i;
  json_t *o;
  json_array_foreach (all, i, o) {
    struct quantity d;
    usage_of(res, o, name, &d);
    quantity_add(u, &d);
  }
  json_decref(all);
}

static void append(char *buf, size_t len, const char *name, const struct quantity *q)
{
  char v[QUANTITY_STRING_MAX];
  size_t n = strlen(buf);
  snprintf(buf + n, len - n, "%s%s=%s", n ? "," : "", name, quantity_format(q, v, sizeof(v)));
}

/* The containers (app, then init) that do not state `name`
 * ("limits.cpu", "memory" = requests.memory), comma-separated. */
static void lacking(const json_t *pod, const char *name, char *who, size_t len)
{
  const char *field = strncmp(name, "limits.", 7) == 0 ? "limits" : "requests";
  const char *rname = strchr(name, '.') ? strchr(name, '.') + 1 : name;
  static const char *const lists[] = {"spec.containers", "spec.initContainers"};
  *who = '\0';
  for (size_t l = 0; l < 2; l++) {
    size_t k;
    json_t *c;
    json_array_foreach (kj_get(pod, lists[l]), k, c) {
      if (json_object_get(json_object_get(json_object_get(c, "resources"), field), rname)) continue;
      size_t w = strlen(who);
      const char *cn = kj_get_str(c, "name");
      snprintf(who + w, len - w, "%s%s", w ? "," : "", cn ? cn : "");
    }
  }
}

/* "must specify limits.cpu for: a,b; limits.memory for: a" or "" */
static void missing_compute(const json_t *hard, const json_t *pod, char *out, size_t len)
{
  *out = '\0';
  const char *names[16];
  size_t n = 0;
  const char *r;
  json_t *v;
  json_object_foreach ((json_t *)hard, r, v)
    if (in_list(CONTAINER_RESOURCES, r) && n < 16) names[n++] = r;
  qsort(names, n, sizeof(*names), reg_cmp_str); /* upstream sorts the resource names */
  for (size_t i = 0; i < n; i++) {
    char who[512];
    lacking(pod, names[i], who, sizeof(who));
    if (!*who) continue;
    size_t o = strlen(out);
    snprintf(out + o, len - o, "%s%s for: %s", o ? "; " : "must specify ", names[i], who);
  }
}

/* What a write adds to quota resource r: the new object's usage minus the
 * old one's; false when it adds nothing. */
static bool write_delta(const struct resource *res, const json_t *obj, const json_t *old, const char *r,
                        struct quantity *d)
{
  usage_of(res, obj, r, d);
  if (quantity_is_zero(d)) return false;
  if (old) {
    struct quantity was;
    usage_of(res, old, r, &was);
    quantity_sub(d, &was);
  }
  return quantity_sign(d) > 0;
}

/* Checks one quota; NULL or the 403. */
static json_t *check_quota(struct reg_request *rq, const struct resource *res, const json_t *obj, const json_t *old,
                           const json_t *q)
{
  const char *qname = kj_get_str(q, "metadata.name");
  const char *objname = kj_get_str(obj, "metadata.name");
  json_t *hard = kj_get(q, "spec.hard");
  if (res == &reg_pods && !old) {
    char miss[1024];
    missing_compute(hard, obj, miss, sizeof(miss));
    if (*miss) return adm_forbidden(res, objname, "failed quota: %s: %s", qname ? qname : "", miss);
  }
  char req[1024] = "", used[1024] = "", lim[1024] = "";
  const char *r;
  json_t *v;
  bool over = false;
  json_object_foreach (hard, r, v) {
    struct quantity d, h, u;
    if (!json_is_string(v) || quantity_parse(json_string_value(v), &h) != 0) continue;
    if (!write_delta(res, obj, old, r, &d)) continue;
    const char *us = kj_get_str(kj_get(q, "status.used"), r);
    if (!us || quantity_parse(us, &u) != 0) count_usage(rq, res, r, &u);
    struct quantity total = u;
    quantity_add(&total, &d);
    if (quantity_cmp(&total, &h) > 0) {
      over = true;
      append(req, sizeof(req), r, &d);
      append(used, sizeof(used), r, &u);
      append(lim, sizeof(lim), r, &h);
    }
  }
  if (!over) return NULL;
  return adm_forbidden(res, objname, "exceeded quota: %s, requested: %s, used: %s, limited: %s", qname ? qname : "",
                       req, used, lim);
}

json_t *admission_resource_quota(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old)
{
  if (!res->namespaced || !rq->namespace_ || !*rq->namespace_) return NULL;
  if (res == &reg_pods && !pod_counts_for_quota(obj, ktime_now_us())) return NULL;
  json_t *quotas = adm_list(rq->srv, "resourcequotas", rq->namespace_);
  json_t *st = NULL;
  size_t i;
  json_t *q;
  json_array_foreach (quotas, i, q) {
    if ((st = check_quota(rq, res, obj, old, q))) break;
  }
  json_decref(quotas);
  return st;
}
