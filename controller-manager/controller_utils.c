/*
 * controller_utils.c - pod state and deletion ranking, owner references,
 * the controller ref manager, pod templates, conditions, selectors,
 * target ports and tolerations shared by the controllers (see
 * controller_utils.h).
 */
#define _GNU_SOURCE
#include "controller_utils.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/podutil.h"
#include "kube/selector.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

/* ---- time ---- */

int64_t cm_time_us(const json_t *obj, const char *path, int64_t dflt)
{
  const char *s = kj_get_str(obj, path);
  int64_t us;
  if (!s || ktime_parse(s, &us) < 0) return dflt;
  return us;
}

int64_t cm_time_at(const json_t *obj, const char *path)
{
  int64_t us = cm_time_us(obj, path, -1);
  return us < 0 ? -1 : us / 1000000;
}

json_t *cm_time_json(int64_t t)
{
  char buf[40];
  return json_string(ktime_format((time_t)t, buf));
}

/* ---- pods ---- */

static int phase_rank(const json_t *pod)
{
  const char *p = kj_get_str(pod, "status.phase");
  if (!p || !strcmp(p, "Pending")) return 0;
  if (!strcmp(p, "Unknown")) return 1;
  if (!strcmp(p, "Running")) return 2;
  return 3;
}

static int64_t deletion_cost(const json_t *pod)
{
  const char *s = kj_get_str(pod, "metadata.annotations[\"controller.kubernetes.io/pod-deletion-cost\"]");
  if (!s) return 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  return *end ? 0 : v;
}

#define CMP(a, b)                                                                                                      \
  do {                                                                                                                 \
    if ((a) != (b)) return (a) < (b) ? -1 : 1;                                                                         \
  } while (0)

int cm_pod_deletion_cmp(const json_t *a, const json_t *b, int64_t rank_a, int64_t rank_b)
{
  const char *na = kj_get_str(a, "spec.nodeName"), *nb = kj_get_str(b, "spec.nodeName");
  int ba = na && *na, bb = nb && *nb;
  CMP(ba, bb);                       /* unassigned first */
  CMP(phase_rank(a), phase_rank(b)); /* pending < unknown < running */
  int ra = pod_is_ready(a), rb = pod_is_ready(b);
  CMP(ra, rb);                             /* not ready first */
  CMP(deletion_cost(a), deletion_cost(b)); /* lower cost first */
  CMP(-rank_a, -rank_b);                   /* more colocated first */
  if (ra && rb) {
    int64_t ta = pod_ready_since(a), tb = pod_ready_since(b);
    CMP(-ta, -tb); /* ready more recently first */
  }
  CMP(-pod_restart_count(a), -pod_restart_count(b)); /* more restarts first */
  int64_t ca = cm_time_at(a, "metadata.creationTimestamp");
  int64_t cb = cm_time_at(b, "metadata.creationTimestamp");
  CMP(-ca, -cb); /* newer first */
  const char *ka = kj_get_str(a, "metadata.name"), *kb = kj_get_str(b, "metadata.name");
  return strcmp(ka ? ka : "", kb ? kb : "");
}

static int64_t rank_of(const json_t *pod, const json_t *ranks)
{
  if (!ranks) return 0;
  const char *uid = kj_get_str(pod, "metadata.uid");
  return uid ? json_integer_value(json_object_get(ranks, uid)) : 0;
}

static int rank_qsort_cmp(const void *pa, const void *pb, void *ranks)
{
  const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
  return cm_pod_deletion_cmp(a, b, rank_of(a, ranks), rank_of(b, ranks));
}

void cm_sort_array(json_t *arr, int (*cmp)(const void *, const void *, void *), void *arg)
{
  size_t n = json_array_size(arr);
  if (n < 2) return;
  json_t **v = xmalloc(n * sizeof(*v));
  for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(arr, i));
  qsort_r(v, n, sizeof(*v), cmp, arg);
  json_array_clear(arr);
  for (size_t i = 0; i < n; i++) json_array_append_new(arr, v[i]);
  free(v);
}

void cm_rank_pods_for_deletion(json_t *pods, const json_t *ranks)
{
  cm_sort_array(pods, rank_qsort_cmp, (void *)ranks);
}

/* ---- owner references ---- */

json_t *cm_new_controller_ref(const json_t *owner, const char *api_version, const char *kind)
{
  const char *name = kj_get_str(owner, "metadata.name"), *uid = kj_get_str(owner, "metadata.uid");
  return json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "apiVersion", api_version, "kind", kind, "name", name ? name : "",
                   "uid", uid ? uid : "", "controller", 1, "blockOwnerDeletion", 1);
}

json_t *cm_object_ref(const json_t *obj, const char *api_version, const char *kind)
{
  json_t *r = json_pack("{s:s,s:s}", "apiVersion", api_version, "kind", kind);
  const char *f[] = {"namespace", "name", "uid", "resourceVersion"};
  for (size_t i = 0; i < 4; i++) {
    char p[40];
    snprintf(p, sizeof p, "metadata.%s", f[i]);
    const char *v = kj_get_str(obj, p);
    if (v) json_object_set_new(r, f[i], json_string(v));
  }
  return r;
}

bool cm_owner_key(const json_t *obj, const char *kind, char *out, size_t len)
{
  json_t *r = obj_controller_ref(obj);
  const char *k = r ? kj_get_str(r, "kind") : NULL, *n = r ? kj_get_str(r, "name") : NULL;
  const char *ns = kj_get_str(obj, "metadata.namespace");
  if (!k || !n || strcmp(k, kind)) return false;
  snprintf(out, len, "%s/%s", ns ? ns : "", n);
  return true;
}

/* ---- pod templates ---- */

json_t *cm_pod_from_template(const json_t *template, const json_t *owner, const char *api_version, const char *kind)
{
  const char *name = kj_get_str(owner, "metadata.name"), *ns = kj_get_str(owner, "metadata.namespace");
  char prefix[300];
  snprintf(prefix, sizeof prefix, "%s-", name ? name : "");
  json_t *pod = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata", "generateName", prefix);
  json_t *md = json_object_get(pod, "metadata");
  if (ns) json_object_set_new(md, "namespace", json_string(ns));
  const char *copy[] = {"labels", "annotations", "finalizers"};
  for (size_t i = 0; i < 3; i++) {
    char p[40];
    snprintf(p, sizeof p, "metadata.%s", copy[i]);
    json_t *v = kj_get(template, p);
    if (v) json_object_set_new(md, copy[i], kj_deep_copy(v));
  }
  json_t *refs = json_array();
  json_array_append_new(refs, cm_new_controller_ref(owner, api_version, kind));
  json_object_set_new(md, "ownerReferences", refs);
  json_t *spec = kj_get(template, "spec");
  json_object_set_new(pod, "spec", spec ? kj_deep_copy(spec) : json_object());
  return pod;
}

/* ---- the controller ref manager ---- */

json_t *cm_claim_objects(const json_t *owner, const char *api_version, const char *kind, const struct labelsel *sel,
                         const json_t *objs, const char *api_prefix, const char *coll, struct cm_actions *acts)
{
  const char *uid = kj_get_str(owner, "metadata.uid");
  bool owner_deleting = obj_is_terminating(owner);
  json_t *out = json_array();
  size_t i;
  json_t *o;
  json_array_foreach (objs, i, o) {
    json_t *ref = obj_controller_ref(o);
    bool matches = labelsel_matches(sel, kj_get(o, "metadata.labels"));
    const char *ouid = kj_get_str(o, "metadata.uid");
    char path[512];
    cm_path(path, sizeof path, api_prefix, kj_get_str(o, "metadata.namespace"), coll, kj_get_str(o, "metadata.name"),
            NULL);
    if (ref) {
      const char *ruid = kj_get_str(ref, "uid");
      if (!ruid || !uid || strcmp(ruid, uid)) continue; /* someone else's */
      if (matches) {
        json_array_append(out, o);
      } else if (!obj_is_terminating(o) && !owner_deleting) {
        /* Release: drop our controller ref, only if the object is still the one we saw. */
        json_t *body = json_pack("{s:{s:[{s:s,s:s}],s:s}}", "metadata", "ownerReferences", "$patch", "delete", "uid",
                                 uid, "uid", ouid ? ouid : "");
        /* A released object that is gone is released. */
        cm_act(acts, CM_PATCH, path, body)->done_if = CM_DONE_IF_GONE;
      }
      continue;
    }
    if (!matches || owner_deleting || obj_is_terminating(o)) continue;
    json_t *body = json_pack("{s:{s:[o],s:s}}", "metadata", "ownerReferences",
                             cm_new_controller_ref(owner, api_version, kind), "uid", ouid ? ouid : "");
    cm_act(acts, CM_PATCH, path, body);
    /* Assume the adoption succeeds; if not, the next sync sees the orphan again. */
    json_t *adopted = kj_deep_copy(o);
    json_t *refs = kj_arr(adopted, "metadata.ownerReferences");
    if (refs) json_array_append_new(refs, cm_new_controller_ref(owner, api_version, kind));
    json_array_append_new(out, adopted);
  }
  return out;
}

json_t *cm_claim_pods(const json_t *owner, const char *api_version, const char *kind, const struct labelsel *sel,
                      const json_t *pods, struct cm_actions *acts)
{
  return cm_claim_objects(owner, api_version, kind, sel, pods, "/api/v1", "pods", acts);
}

/* ---- small helpers ---- */

int cm_split_key(const char *key, char *buf, size_t len, const char **ns, const char **name)
{
  if (!key || strlen(key) >= len) return -EINVAL;
  strcpy(buf, key);
  char *slash = strchr(buf, '/');
  if (!slash) {
    *ns = "";
    *name = buf;
    return *buf ? 0 : -EINVAL;
  }
  *slash = 0;
  *ns = buf;
  *name = slash + 1;
  return **name ? 0 : -EINVAL;
}

char *cm_path(char *out, size_t len, const char *prefix, const char *ns, const char *coll, const char *name,
              const char *sub)
{
  int n;
  if (ns && *ns) n = snprintf(out, len, "%s/namespaces/%s/%s", prefix, ns, coll);
  else n = snprintf(out, len, "%s/%s", prefix, coll);
  if (name && n > 0 && (size_t)n < len) n += snprintf(out + n, len - n, "/%s", name);
  if (sub && n > 0 && (size_t)n < len) snprintf(out + n, len - n, "/%s", sub);
  return out;
}

int cm_int_or_percent(const json_t *v, int64_t total, bool round_up, int64_t *out)
{
  if (!v || json_is_null(v)) {
    *out = 0;
    return 0;
  }
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return 0;
  }
  if (!json_is_string(v)) return -EINVAL;
  const char *s = json_string_value(v);
  size_t l = strlen(s);
  char *end;
  long long p = strtoll(s, &end, 10);
  if (l < 2 || s[l - 1] != '%' || end != s + l - 1) {
    if (*s && !*end) { /* a number in a string counts as an int */
      *out = p;
      return 0;
    }
    return -EINVAL;
  }
  if (round_up) *out = (p * total + 99) / 100;
  else *out = (p * total) / 100;
  return 0;
}

json_t *cm_labels_without(const json_t *labels, const char *key)
{
  json_t *c = labels && json_is_object(labels) ? kj_deep_copy(labels) : json_object();
  json_object_del(c, key);
  return c;
}

json_t *cm_get_condition(const json_t *obj, const char *path, const char *type)
{
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(obj, path), i, c) {
    const char *t = kj_get_str(c, "type");
    if (t && !strcmp(t, type)) return c;
  }
  return NULL;
}

void cm_remove_condition(json_t *obj, const char *path, const char *type)
{
  json_t *arr = kj_get(obj, path);
  for (size_t i = 0; i < json_array_size(arr); i++) {
    const char *t = kj_get_str(json_array_get(arr, i), "type");
    if (t && !strcmp(t, type)) json_array_remove(arr, i--);
  }
}

bool cm_set_condition(json_t *obj, const char *path, const char *type, const char *status, const char *reason,
                      const char *message, int64_t now, bool update_probe_time)
{
  json_t *old = cm_get_condition(obj, path, type);
  if (old) {
    const char *os = kj_get_str(old, "status"), *orsn = kj_get_str(old, "reason");
    const char *om = kj_get_str(old, "message");
    bool same_status = os && !strcmp(os, status);
    if (same_status && orsn && reason && !strcmp(orsn, reason) &&
        ((!om && !message) || (om && message && !strcmp(om, message))))
      return false;
    json_object_set_new(old, "status", json_string(status));
    if (reason) json_object_set_new(old, "reason", json_string(reason));
    if (message) json_object_set_new(old, "message", json_string(message));
    if (!same_status) json_object_set_new(old, "lastTransitionTime", cm_time_json(now));
    if (update_probe_time) json_object_set_new(old, "lastUpdateTime", cm_time_json(now));
    return true;
  }
  json_t *arr = kj_arr(obj, path);
  if (!arr) return false;
  json_t *c = json_pack("{s:s,s:s}", "type", type, "status", status);
  if (update_probe_time) json_object_set_new(c, "lastUpdateTime", cm_time_json(now));
  json_object_set_new(c, "lastTransitionTime", cm_time_json(now));
  if (reason) json_object_set_new(c, "reason", json_string(reason));
  if (message) json_object_set_new(c, "message", json_string(message));
  json_array_append_new(arr, c);
  return true;
}

/* ---- claim candidates ---- */

json_t *cm_owner_ref_to(const json_t *obj, const char *uid)
{
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(obj, "metadata.ownerReferences"), i, r) {
    const char *u = kj_get_str(r, "uid");
    if (u && uid && !strcmp(u, uid)) return r;
  }
  return NULL;
}

void cm_index_orphans(void *arg, const json_t *obj, json_t *out)
{
  if (obj_controller_ref(obj)) return;
  const char *ns = kj_get_str(obj, "metadata.namespace");
  json_array_append_new(out, json_string(ns ? ns : ""));
}

int cm_add_claim_indexes(struct informer *inf)
{
  int rc = informer_add_index(inf, INFORMER_INDEX_OWNER_UID, informer_index_owner_uid, NULL);
  if (rc < 0 && rc != -EEXIST) return rc;
  rc = informer_add_index(inf, CM_INDEX_ORPHANS, cm_index_orphans, NULL);
  return rc == -EEXIST ? 0 : rc;
}

json_t *cm_claim_candidates(const struct informer *inf, const json_t *owner)
{
  const char *uid = kj_get_str(owner, "metadata.uid");
  const char *ns = kj_get_str(owner, "metadata.namespace");
  json_t *out = informer_store_by_index(inf, INFORMER_INDEX_OWNER_UID, uid ? uid : "");
  if (!out) out = json_array();
  json_t *orphans = informer_store_by_index(inf, CM_INDEX_ORPHANS, ns ? ns : "");
  size_t i;
  json_t *o;
  json_array_foreach (orphans, i, o) {
    /* An orphan with a plain (non-controller) reference to the owner is
     * in both lists. */
    if (uid && *uid && cm_owner_ref_to(o, uid)) continue;
    json_array_append(out, o);
  }
  json_decref(orphans);
  return out;
}

/* ---- JSON, selectors, services, taints ---- */

const json_t *cm_find_named(const json_t *arr, const char *name)
{
  size_t i;
  json_t *o;
  json_array_foreach (arr, i, o) {
    const char *n = kj_get_str(o, "metadata.name");
    if (n && name && !strcmp(n, name)) return o;
  }
  return NULL;
}

static bool json_blank(const json_t *v)
{
  return !v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
         (json_is_object(v) && json_object_size(v) == 0);
}

bool cm_json_eq(const json_t *a, const json_t *b)
{
  if (json_blank(a) || json_blank(b)) return json_blank(a) && json_blank(b);
  return json_equal(a, b);
}

struct labelsel *cm_selector_from_map(const json_t *map)
{
  char err[256];
  if (!json_object_size(map)) return labelsel_from_json(NULL, err, sizeof err);
  json_t *ls = json_pack("{s:O}", "matchLabels", map);
  struct labelsel *s = labelsel_from_json(ls, err, sizeof err);
  json_decref(ls);
  return s;
}

/* A named container port of pod with this protocol, -1 if none. */
static int named_port(const json_t *pod, const char *name, const char *proto)
{
  static const char *const lists[] = {"spec.containers", "spec.initContainers"};
  for (size_t l = 0; l < 2; l++) {
    size_t i, j;
    json_t *c, *p;
    json_array_foreach (kj_get(pod, lists[l]), i, c)
      json_array_foreach (json_object_get(c, "ports"), j, p) {
        const char *n = kj_get_str(p, "name");
        const char *pp = kj_get_str(p, "protocol");
        if (n && !strcmp(n, name) && !strcmp(pp ? pp : "TCP", proto)) return (int)kj_get_int(p, "containerPort", -1);
      }
  }
  return -1;
}

int cm_resolve_target_port(const json_t *svc_port, const json_t *pod)
{
  json_t *tp = json_object_get(svc_port, "targetPort");
  if (json_is_integer(tp)) return (int)json_integer_value(tp);
  if (!json_is_string(tp)) return (int)kj_get_int(svc_port, "port", -1);
  const char *want = json_string_value(tp);
  const char *proto = kj_get_str(svc_port, "protocol");
  int port = named_port(pod, want, proto ? proto : "TCP");
  if (port > 0) return port;
  /* A string of digits is a number written as a string. */
  char *end;
  long v = strtol(want, &end, 10);
  return *want && !*end && v > 0 ? (int)v : -1;
}

void cm_enqueue_pod_services(struct cm_base *b, struct informer *svc_inf, const json_t *pod)
{
  const char *ns = kj_get_str(pod, "metadata.namespace");
  if (!ns) return;
  json_t *svcs = informer_store_by_index(svc_inf, INFORMER_INDEX_NAMESPACE, ns);
  size_t i;
  json_t *svc;
  json_array_foreach (svcs, i, svc) {
    json_t *selmap = kj_get(svc, "spec.selector");
    if (!json_object_size(selmap)) continue;
    struct labelsel *sel = cm_selector_from_map(selmap);
    if (sel && labelsel_matches(sel, kj_get(pod, "metadata.labels"))) cm_base_enqueue(b, svc);
    labelsel_free(sel);
  }
  json_decref(svcs);
}

json_t *cm_delete_this(const json_t *obj)
{
  return json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions", "preconditions", "uid",
                   kj_get_str(obj, "metadata.uid") ?: "");
}
