/*
 * endpoints.c - the "endpoints" controller: keeps one core/v1 Endpoints
 * object per Service that has a selector.
 *
 * Every Service, Pod and Endpoints change enqueues the affected Service
 * keys; sync(key) recomputes the subsets from the caches.  A pod counts
 * when it is in the service's namespace, matches its selector, has an IP,
 * is not terminal and (unless publishNotReadyAddresses) not terminating.
 * Ready pods (or all, with publishNotReadyAddresses) go to addresses, the
 * rest to notReadyAddresses.  Each service port resolves per pod (named
 * targetPorts look the container ports up by name); addresses with the
 * same resolved port set share one subset, as upstream's repacking does.
 * The object is written only when subsets or labels differ.  Endpoints of
 * selector-less services are never touched (users manage those).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "controller_utils.h"
#include "core_logic.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/selector.h"
#include "kube/timeutil.h"
#include "kube/workqueue.h"
#include "kube/xalloc.h"

#define EP_TRIGGER_ANNOTATION "endpoints.kubernetes.io/last-change-trigger-time"
#define EP_HEADLESS_LABEL "service.kubernetes.io/headless"

struct ep_ctl {
  struct cm_base base;
  struct informer *svc_inf, *pod_inf, *ep_inf;
};

static bool ep_pod_included(const json_t *pod, bool publish_not_ready)
{
  if (!kj_get_str(pod, "status.podIP") || !*kj_get_str(pod, "status.podIP")) return false;
  if (!publish_not_ready && kj_get(pod, "metadata.deletionTimestamp")) return false;
  return !pod_is_terminal(pod);
}

static int ep_addr_cmp(const void *a, const void *b, void *unused)
{
  const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  return strcmp(kj_get_str(x, "ip") ?: "", kj_get_str(y, "ip") ?: "");
}

static json_t *ep_address(const json_t *pod, const json_t *svc)
{
  json_t *a = json_pack("{s:s, s:{s:s, s:s, s:s, s:s}}", "ip", kj_get_str(pod, "status.podIP"), "targetRef", "kind",
                        "Pod", "namespace", kj_get_str(pod, "metadata.namespace") ?: "", "name",
                        kj_get_str(pod, "metadata.name") ?: "", "uid", kj_get_str(pod, "metadata.uid") ?: "");
  const char *node = kj_get_str(pod, "spec.nodeName");
  if (node) json_object_set_new(a, "nodeName", json_string(node));
  const char *host = kj_get_str(pod, "spec.hostname");
  const char *sub = kj_get_str(pod, "spec.subdomain");
  const char *svcname = kj_get_str(svc, "metadata.name");
  if (host && sub && svcname && !strcmp(sub, svcname)) json_object_set_new(a, "hostname", json_string(host));
  return a;
}

static int ep_str_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

json_t *endpoints_compute_subsets(const json_t *svc, const json_t *pods)
{
  json_t *subsets = json_array();
  const json_t *selmap = kj_get(svc, "spec.selector");
  if (!json_is_object(selmap) || json_object_size(selmap) == 0) return subsets;
  struct labelsel *sel = cm_selector_from_map(selmap);
  if (!sel) return subsets;
  const char *ns = kj_get_str(svc, "metadata.namespace") ?: "";
  bool publish = kj_get_bool(svc, "spec.publishNotReadyAddresses", false);
  json_t *svc_ports = kj_get(svc, "spec.ports");
  /* canonical port-set string -> {addresses, notReadyAddresses, ports} */
  json_t *groups = json_object();
  size_t i;
  json_t *pod;
  json_array_foreach (pods, i, pod) {
    if (strcmp(kj_get_str(pod, "metadata.namespace") ?: "", ns)) continue;
    if (!labelsel_matches(sel, kj_get(pod, "metadata.labels"))) continue;
    if (!ep_pod_included(pod, publish)) continue;
    json_t *ports = json_array();
    size_t j;
    json_t *sp;
    json_array_foreach (svc_ports, j, sp) {
      int port = cm_resolve_target_port(sp, pod);
      if (port <= 0) continue;
      json_t *p = json_pack("{s:i, s:s}", "port", port, "protocol", kj_get_str(sp, "protocol") ?: "TCP");
      const char *pname = kj_get_str(sp, "name");
      if (pname && *pname) json_object_set_new(p, "name", json_string(pname));
      const char *ap = kj_get_str(sp, "appProtocol");
      if (ap) json_object_set_new(p, "appProtocol", json_string(ap));
      json_array_append_new(ports, p);
    }
    /* A service with ports whose pod resolves none of them gets no address. */
    if (json_array_size(svc_ports) > 0 && json_array_size(ports) == 0) {
      json_decref(ports);
      continue;
    }
    char *gk = kj_dumps_canonical(ports);
    json_t *g = json_object_get(groups, gk);
    if (!g) {
      g = json_pack("{s:[], s:[], s:O}", "addresses", "notReadyAddresses", "ports", ports);
      json_object_set_new(groups, gk, g);
    }
    free(gk);
    json_decref(ports);
    bool ready = publish || pod_is_ready(pod);
    json_array_append_new(json_object_get(g, ready ? "addresses" : "notReadyAddresses"), ep_address(pod, svc));
  }
  labelsel_free(sel);
  /* Object keys iterate in insertion order; sort them for a stable output. */
  const char *k;
  json_t *g;
  size_t nk = json_object_size(groups), idx = 0;
  const char **keys = xcalloc(nk ? nk : 1, sizeof *keys);
  json_object_foreach (groups, k, g) keys[idx++] = k;
  qsort(keys, nk, sizeof *keys, ep_str_cmp);
  for (idx = 0; idx < nk; idx++) {
    g = json_object_get(groups, keys[idx]);
    json_t *ss = json_object();
    json_t *ad = json_object_get(g, "addresses"), *nr = json_object_get(g, "notReadyAddresses");
    cm_sort_array(ad, ep_addr_cmp, NULL);
    cm_sort_array(nr, ep_addr_cmp, NULL);
    if (json_array_size(ad)) json_object_set(ss, "addresses", ad);
    if (json_array_size(nr)) json_object_set(ss, "notReadyAddresses", nr);
    if (json_array_size(json_object_get(g, "ports"))) json_object_set(ss, "ports", json_object_get(g, "ports"));
    json_array_append_new(subsets, ss);
  }
  free(keys);
  json_decref(groups);
  return subsets;
}

json_t *endpoints_desired(const json_t *svc, const json_t *pods, const json_t *existing)
{
  json_t *subsets = endpoints_compute_subsets(svc, pods);
  json_t *labels = kj_deep_copy(kj_get(svc, "metadata.labels"));
  if (!json_is_object(labels)) {
    json_decref(labels);
    labels = json_object();
  }
  const char *cip = kj_get_str(svc, "spec.clusterIP");
  if (cip && !strcmp(cip, "None")) json_object_set_new(labels, EP_HEADLESS_LABEL, json_string(""));
  else json_object_del(labels, EP_HEADLESS_LABEL);
  if (existing) {
    json_t *old_sub = kj_get(existing, "subsets");
    bool same_sub =
        (json_array_size(old_sub) == 0 && json_array_size(subsets) == 0) || (old_sub && cm_json_eq(old_sub, subsets));
    json_t *old_labels = kj_get(existing, "metadata.labels");
    bool same_labels = (json_object_size(old_labels) == 0 && json_object_size(labels) == 0) ||
                       (old_labels && cm_json_eq(old_labels, labels));
    if (same_sub && same_labels) {
      json_decref(subsets);
      json_decref(labels);
      return NULL;
    }
  }
  json_t *ep = existing ? kj_deep_copy(existing)
                        : json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Endpoints", "metadata",
                                    "name", kj_get_str(svc, "metadata.name") ?: "", "namespace",
                                    kj_get_str(svc, "metadata.namespace") ?: "");
  json_object_set_new(ep, "apiVersion", json_string("v1"));
  json_object_set_new(ep, "kind", json_string("Endpoints"));
  if (json_object_size(labels)) kj_set(ep, "metadata.labels", labels);
  else {
    json_decref(labels);
    kj_del(ep, "metadata.labels");
  }
  char now[40];
  kj_set_str(ep, "metadata.annotations[\"" EP_TRIGGER_ANNOTATION "\"]", ktime_now_str(now));
  if (json_array_size(subsets)) json_object_set_new(ep, "subsets", subsets);
  else {
    json_decref(subsets);
    json_object_del(ep, "subsets");
  }
  return ep;
}

static void ep_pod_add(void *arg, const json_t *pod)
{
  struct ep_ctl *c = arg;
  cm_enqueue_pod_services(&c->base, c->svc_inf, pod);
}

static void ep_pod_update(void *arg, const json_t *o, const json_t *n)
{
  struct ep_ctl *c = arg;
  const char *rv1 = kj_get_str(o, "metadata.resourceVersion"), *rv2 = kj_get_str(n, "metadata.resourceVersion");
  if (o != n && rv1 && rv2 && !strcmp(rv1, rv2)) return; /* resync, nothing changed */
  cm_enqueue_pod_services(&c->base, c->svc_inf, n);
  if (!cm_json_eq(kj_get(o, "metadata.labels"), kj_get(n, "metadata.labels")))
    cm_enqueue_pod_services(&c->base, c->svc_inf, o);
}

static void ep_pod_delete(void *arg, const json_t *pod, bool unknown) { ep_pod_add(arg, pod); }

/* POST when the cache has no Endpoints, PUT over the cached one: a POST
 * answered AlreadyExists or a PUT answered Conflict or NotFound means the
 * cache was behind, and the framework brings the key back until it has
 * caught up. */
static void ep_sync(struct cm_base *b, const char *key)
{
  struct ep_ctl *c = (struct ep_ctl *)b;
  char buf[512], path[700];
  const char *ns, *name;
  if (cm_split_key(key, buf, sizeof buf, &ns, &name) < 0) {
    cm_base_finish(b, key, false, -1);
    return;
  }
  json_t *svc = informer_store_get_obj(c->svc_inf, key);
  json_t *existing = informer_store_get_obj(c->ep_inf, key);
  struct cm_actions acts;
  cm_actions_init(&acts);
  if (!svc) {
    /* Service gone: its Endpoints follow, unless a user manages them
     * (a selector-less service's Endpoints never carry our annotation). */
    if (existing && kj_get_str(existing, "metadata.annotations[\"" EP_TRIGGER_ANNOTATION "\"]")) {
      cm_path(path, sizeof path, "/api/v1", ns, "endpoints", name, NULL);
      cm_act(&acts, CM_DELETE, path, NULL);
    }
  } else if (json_object_size(kj_get(svc, "spec.selector")) > 0) {
    /* A selector only picks pods of the service's own namespace. */
    json_t *pods = informer_store_by_index(c->pod_inf, INFORMER_INDEX_NAMESPACE, ns);
    json_t *want = endpoints_desired(svc, pods, existing);
    if (want) {
      cm_path(path, sizeof path, "/api/v1", ns, "endpoints", existing ? name : NULL, NULL);
      cm_act(&acts, existing ? CM_PUT : CM_POST, path, want);
    }
    json_decref(pods);
  }
  json_decref(svc);
  json_decref(existing);
  cm_base_exec(b, key, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

static int ep_init(struct cm_base *b)
{
  struct ep_ctl *c = (struct ep_ctl *)b;
  c->svc_inf = informer_factory_get(b->ctx->informers, CM_SERVICES);
  c->pod_inf = informer_factory_get(b->ctx->informers, CM_PODS);
  c->ep_inf = informer_factory_get(b->ctx->informers, CM_ENDPOINTS);
  informer_add_index(c->pod_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  informer_add_index(c->svc_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  struct informer_handlers sh = {cm_on_add_enqueue, cm_on_update_enqueue, cm_on_delete_enqueue, c};
  struct informer_handlers ph = {ep_pod_add, ep_pod_update, ep_pod_delete, c};
  /* As upstream, no add handler: an Endpoints object appearing changes
   * nothing a sync would do differently; edits and deletes are undone. */
  struct informer_handlers eh = {NULL, cm_on_update_enqueue, cm_on_delete_enqueue, c};
  informer_add_handlers(c->svc_inf, &sh);
  informer_add_handlers(c->pod_inf, &ph);
  informer_add_handlers(c->ep_inf, &eh);
  return 0;
}

const struct controller_def ctrl_endpoints = {
    .name = "endpoints",
    .service_account = "endpoint-controller",
    .enabled_by_default = true,
    .size = sizeof(struct ep_ctl),
    .queue = "endpoint",
    .workers_flag = offsetof(struct cm_config, concurrent_endpoint_syncs),
    .workers = 5,
    .sync = ep_sync,
    .init = ep_init,
};
