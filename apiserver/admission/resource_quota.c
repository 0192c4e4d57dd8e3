/*
 * resource_quota.c - the ResourceQuota admission plugin.
 *
 * A create in a namespace with ResourceQuotas is charged against each of
 * them: object counts ("pods", "configmaps", "count/deployments.apps"...)
 * and, for pods, the compute resources their containers request and limit
 * ("requests.cpu", "limits.memory", "cpu" = requests.cpu...).  The usage a
 * quota already has is its status.used as the quota controller keeps it;
 * a resource the controller has not counted yet is counted here from
 * storage.  Going over any hard limit is refused (403 "exceeded quota"),
 * and a pod must state every compute resource a quota limits ("failed
 * quota ... must specify").  Updates are not charged (pod resources are
 * immutable here).
 */
#define _GNU_SOURCE
#include "admission/admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/quantity.h>

#include "registry/registry.h"

/* Legacy object-count names upstream keeps besides count/RESOURCE. */
static const char *const LEGACY_COUNTS[][2] = {
    {"pods", "pods"},
    {"services", "services"},
    {"configmaps", "configmaps"},
    {"secrets", "secrets"},
    {"persistentvolumeclaims", "persistentvolumeclaims"},
    {"replicationcontrollers", "replicationcontrollers"},
    {"resourcequotas", "resourcequotas"},
};

static bool pod_terminal(const json_t *pod)
{
  const char *p = kj_get_str(pod, "status.phase");
  return p && (strcmp(p, "Succeeded") == 0 || strcmp(p, "Failed") == 0);
}

/* Compute resource `name` ("requests.cpu", "cpu", "limits.memory") of
 * one pod, summed over its containers.  Returns true when the pod sets it
 * for at least one container. */
static bool pod_usage(const json_t *pod, const char *name, struct quantity *out)
{
  const char *field = "requests", *r = name;
  if (strncmp(name, "requests.", 9) == 0)
    r = name + 9;
  else if (strncmp(name, "limits.", 7) == 0) {
    field = "limits";
    r = name + 7;
  }
  memset(out, 0, sizeof(*out));
  bool any = false;
  size_t i;
  json_t *c;
  json_array_foreach(kj_get(pod, "spec.containers"), i, c) {
    const char *s = json_string_value(json_object_get(json_object_get(kj_get(c, "resources"), field), r));
    struct quantity q;
    if (s && quantity_parse(s, &q) == 0) {
      quantity_add(out, &q);
      any = true;
    }
  }
  return any;
}

static bool is_compute(const char *name)
{
  static const char *const N[] = {"cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
                                  "requests.ephemeral-storage", "limits.cpu", "limits.memory",
                                  "limits.ephemeral-storage", NULL};
  for (const char *const *n = N; *n; n++)
    if (strcmp(*n, name) == 0)
      return true;
  return false;
}

/* What creating obj adds to quota resource `name`; false when obj does
 * not count toward it. */
static bool delta_of(const struct resource *res, const json_t *obj, const char *name, struct quantity *d)
{
  memset(d, 0, sizeof(*d));
  char cnt[300];
  if (*res->group)
    snprintf(cnt, sizeof(cnt), "count/%s.%s", res->plural, res->group);
  else
    snprintf(cnt, sizeof(cnt), "count/%s", res->plural);
  bool counts = strcmp(name, cnt) == 0;
  for (size_t i = 0; !counts && !*res->group && i < sizeof(LEGACY_COUNTS) / sizeof(LEGACY_COUNTS[0]); i++)
    counts = strcmp(res->plural, LEGACY_COUNTS[i][0]) == 0 && strcmp(name, LEGACY_COUNTS[i][1]) == 0;
  if (counts) {
    quantity_set_int(d, 1, QF_DECIMAL_SI);
    return true;
  }
  if (res == &reg_pods && is_compute(name)) {
    pod_usage(obj, name, d);
    return true;
  }
  if (res == &reg_services) {
    const char *t = kj_get_str(obj, "spec.type");
    if (strcmp(name, "services.loadbalancers") == 0 && t && strcmp(t, "LoadBalancer") == 0) {
      quantity_set_int(d, 1, QF_DECIMAL_SI);
      return true;
    }
    if (strcmp(name, "services.nodeports") == 0 && t &&
        (strcmp(t, "NodePort") == 0 || strcmp(t, "LoadBalancer") == 0)) {
      quantity_set_int(d, (int64_t)json_array_size(kj_get(obj, "spec.ports")), QF_DECIMAL_SI);
      return true;
    }
  }
  if (strcmp(res->plural, "persistentvolumeclaims") == 0 && !*res->group &&
      strcmp(name, "requests.storage") == 0) {
    const char *s = kj_get_str(obj, "spec.resources.requests.storage");
    return s && quantity_parse(s, d) == 0;
  }
  return false;
}

/* Current usage of `name` in the namespace, counted from storage. */
static void count_usage(struct reg_request *rq, const struct resource *res, const char *name, struct quantity *u)
{
  memset(u, 0, sizeof(*u));
  json_t *all = adm_list(rq->srv, res->plural, rq->namespace_);
  size_t i;
  json_t *o;
  json_array_foreach(all, i, o) {
    if (res == &reg_pods && pod_terminal(o))
      continue;
    struct quantity d;
    if (delta_of(res, o, name, &d))
      quantity_add(u, &d);
  }
  json_decref(all);
}

static void append(char *buf, size_t len, const char *name, const struct quantity *q)
{
  char v[64];
  size_t n = strlen(buf);
  snprintf(buf + n, len - n, "%s%s=%s", n ? "," : "", name, quantity_format(q, v, sizeof(v)));
}

/* "must specify limits.cpu for: a,b; limits.memory for: a" or "" */
static void missing_compute(const json_t *hard, const json_t *pod, char *out, size_t len)
{
  *out = '\0';
  const char *r;
  json_t *v;
  /* jansson keeps insertion order; upstream sorts the resource names */
  json_t *names = json_array();
  json_object_foreach((json_t *)hard, r, v) if (is_compute(r)) json_array_append_new(names, json_string(r));
  size_t n = json_array_size(names);
  for (size_t a = 0; a + 1 < n; a++)
    for (size_t b = a + 1; b < n; b++)
      if (strcmp(json_string_value(json_array_get(names, a)), json_string_value(json_array_get(names, b))) > 0) {
        json_t *t = json_incref(json_array_get(names, a));
        json_array_set(names, a, json_array_get(names, b));
        json_array_set_new(names, b, t);
      }
  size_t i;
  json_t *nm;
  json_array_foreach(names, i, nm) {
    const char *name = json_string_value(nm);
    const char *field = strncmp(name, "limits.", 7) == 0 ? "limits" : "requests";
    const char *rname = strchr(name, '.') ? strchr(name, '.') + 1 : name;
    char who[512] = "";
    size_t k;
    json_t *c;
    json_array_foreach(kj_get(pod, "spec.containers"), k, c) {
      if (json_object_get(json_object_get(kj_get(c, "resources"), field), rname))
        continue;
      size_t w = strlen(who);
      const char *cn = kj_get_str(c, "name");
      snprintf(who + w, sizeof(who) - w, "%s%s", w ? "," : "", cn ? cn : "");
    }
    if (!*who)
      continue;
    size_t o = strlen(out);
    snprintf(out + o, len - o, "%s%s for: %s", o ? "; " : "must specify ", name, who);
  }
  json_decref(names);
}

json_t *admission_resource_quota(struct reg_request *rq, const struct resource *res, json_t *obj,
                                 const json_t *old)
{
  if (old || !res->namespaced || !rq->namespace_ || !*rq->namespace_)
    return NULL;
  if (res == &reg_pods && pod_terminal(obj))
    return NULL;
  json_t *quotas = adm_list(rq->srv, "resourcequotas", rq->namespace_);
  json_t *st = NULL;
  const char *objname = kj_get_str(obj, "metadata.name");
  size_t i;
  json_t *q;
  json_array_foreach(quotas, i, q) {
    const char *qname = kj_get_str(q, "metadata.name");
    json_t *hard = kj_get(q, "spec.hard");
    if (res == &reg_pods) {
      char miss[1024];
      missing_compute(hard, obj, miss, sizeof(miss));
      if (*miss) {
        st = adm_forbidden(res, objname, "failed quota: %s: %s", qname ? qname : "", miss);
        break;
      }
    }
    char req[1024] = "", used[1024] = "", lim[1024] = "";
    const char *r;
    json_t *v;
    bool over = false;
    json_object_foreach(hard, r, v) {
      struct quantity d, h, u;
      if (!json_is_string(v) || quantity_parse(json_string_value(v), &h) != 0)
        continue;
      if (!delta_of(res, obj, r, &d) || quantity_is_zero(&d))
        continue;
      const char *us = kj_get_str(kj_get(q, "status.used"), r);
      if (!us || quantity_parse(us, &u) != 0)
        count_usage(rq, res, r, &u);
      struct quantity total = u;
      quantity_add(&total, &d);
      if (quantity_cmp(&total, &h) > 0) {
        over = true;
        append(req, sizeof(req), r, &d);
        append(used, sizeof(used), r, &u);
        append(lim, sizeof(lim), r, &h);
      }
    }
    if (over) {
      st = adm_forbidden(res, objname, "exceeded quota: %s, requested: %s, used: %s, limited: %s",
                         qname ? qname : "", req, used, lim);
      break;
    }
  }
  json_decref(quotas);
  return st;
}
