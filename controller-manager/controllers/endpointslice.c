/*
 * endpointslice.c - the "endpointslice" controller: EndpointSlices for
 * every Service with a selector.
 *
 * Service, Pod, Node and EndpointSlice changes enqueue the service key;
 * sync compares the wanted endpoints with the slices this controller owns
 * for the service (label kubernetes.io/service-name plus managed-by
 * endpointslice-controller.k8s.io).  Pods are grouped by their resolved
 * port set (one set of slices per set, as upstream).  Within a group,
 * endpoints already placed in a slice stay there (only changed slices are
 * written), new endpoints fill the free room of existing slices first, and
 * the rest go to new slices of at most --max-endpoints-per-slice (100).
 * Slices left empty are deleted.  Terminating pods are kept with
 * ready=false, serving as their readiness, terminating=true.
 *
 * A sync never runs on a cache that has not yet seen the slices it
 * created (upstream's EndpointSliceTracker): the creations are expected
 * for the service key and observed when the slice informer adds them (or
 * lowered when the POST failed); until then the sync is skipped, the
 * slice's add event enqueues the service again.  Without this, two pod
 * updates in a row create two slices for the same endpoints.  Updates need
 * no such guard: they carry the cached resourceVersion, so a stale cache
 * answers 409 and the key is retried.
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
#include "kube/xalloc.h"

#define ES_MAX_PER_SLICE 100
#define ES_ZONE_LABEL "topology.kubernetes.io/zone"

struct es_ctl {
  struct cm_base base;
  struct informer *svc_inf, *pod_inf, *node_inf, *slice_inf;
  struct cm_expectations *exp; /* slice creations per service key */
};

static const json_t *es_find_node(const json_t *nodes, const char *name)
{
  size_t i;
  json_t *n;
  if (!name) return NULL;
  json_array_foreach (nodes, i, n)
    if (!strcmp(kj_get_str(n, "metadata.name") ?: "", name)) return n;
  return NULL;
}

static json_t *es_endpoint(const json_t *pod, const json_t *svc, const json_t *nodes)
{
  bool terminating = kj_get(pod, "metadata.deletionTimestamp") != NULL;
  bool ready = pod_is_ready(pod);
  bool publish = kj_get_bool(svc, "spec.publishNotReadyAddresses", false);
  json_t *e =
      json_pack("{s:[s], s:{s:b, s:b, s:b}, s:{s:s, s:s, s:s, s:s}}", "addresses", kj_get_str(pod, "status.podIP"),
                "conditions", "ready", publish || (ready && !terminating), "serving", publish || ready, "terminating",
                terminating, "targetRef", "kind", "Pod", "namespace", kj_get_str(pod, "metadata.namespace") ?: "",
                "name", kj_get_str(pod, "metadata.name") ?: "", "uid", kj_get_str(pod, "metadata.uid") ?: "");
  const char *node = kj_get_str(pod, "spec.nodeName");
  if (node) {
    json_object_set_new(e, "nodeName", json_string(node));
    const json_t *n = es_find_node(nodes, node);
    const char *zone = n ? kj_get_str(n, "metadata.labels[\"" ES_ZONE_LABEL "\"]") : NULL;
    if (zone) json_object_set_new(e, "zone", json_string(zone));
  }
  const char *host = kj_get_str(pod, "spec.hostname"), *sub = kj_get_str(pod, "spec.subdomain");
  if (host && sub && !strcmp(sub, kj_get_str(svc, "metadata.name") ?: ""))
    json_object_set_new(e, "hostname", json_string(host));
  return e;
}

static json_t *es_pod_ports(const json_t *svc, const json_t *pod)
{
  json_t *ports = json_array();
  size_t j;
  json_t *sp;
  json_array_foreach (kj_get(svc, "spec.ports"), j, sp) {
    int port = cm_resolve_target_port(sp, pod);
    if (port <= 0) continue;
    json_t *p = json_pack("{s:s, s:i, s:s}", "name", kj_get_str(sp, "name") ?: "", "port", port, "protocol",
                          kj_get_str(sp, "protocol") ?: "TCP");
    const char *ap = kj_get_str(sp, "appProtocol");
    if (ap) json_object_set_new(p, "appProtocol", json_string(ap));
    json_array_append_new(ports, p);
  }
  return ports;
}

json_t *endpointslice_new_slice(const json_t *svc, const char *managed_by, const json_t *ports,
                                const char *address_type)
{
  const char *name = kj_get_str(svc, "metadata.name") ?: "";
  char gen[300];
  snprintf(gen, sizeof gen, "%s-", name);
  json_t *labels = kj_deep_copy(kj_get(svc, "metadata.labels"));
  if (!json_is_object(labels)) {
    json_decref(labels);
    labels = json_object();
  }
  json_object_set_new(labels, LABEL_SERVICE_NAME, json_string(name));
  json_object_set_new(labels, LABEL_MANAGED_BY, json_string(managed_by));
  const char *cip = kj_get_str(svc, "spec.clusterIP");
  if (cip && !strcmp(cip, "None")) json_object_set_new(labels, "service.kubernetes.io/headless", json_string(""));
  json_t *s =
      json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:[o]}, s:s, s:[], s:O}", "apiVersion", "discovery.k8s.io/v1", "kind",
                "EndpointSlice", "metadata", "generateName", gen, "namespace",
                kj_get_str(svc, "metadata.namespace") ?: "", "labels", labels, "ownerReferences",
                cm_new_controller_ref(svc, "v1", "Service"), "addressType", address_type, "endpoints", "ports", ports);
  return s;
}

/* Identity of an endpoint across syncs: its pod uid, else its address. */
static const char *es_ep_id(const json_t *e)
{
  const char *uid = kj_get_str(e, "targetRef.uid");
  return uid && *uid ? uid : kj_get_str(e, "addresses[0]") ?: "";
}

/* The smallest key of obj, so that placement does not depend on hash order. */
static const char *es_first_key(const json_t *obj)
{
  const char *best = NULL, *k;
  json_t *v;
  json_object_foreach ((json_t *)obj, k, v)
    if (!best || strcmp(k, best) < 0) best = k;
  return best;
}

/* The wanted endpoints of svc by port set: {canonical ports -> {ports,
 * want: {id -> endpoint}}} (new reference). */
static json_t *es_wanted(const json_t *svc, const json_t *pods, const json_t *nodes)
{
  json_t *groups = json_object();
  const char *ns = kj_get_str(svc, "metadata.namespace") ?: "";
  const json_t *selmap = kj_get(svc, "spec.selector");
  if (!json_object_size(selmap)) return groups;
  struct labelsel *sel = cm_selector_from_map(selmap);
  size_t i;
  json_t *pod;
  json_array_foreach (pods, i, pod) {
    if (!sel) break;
    if (strcmp(kj_get_str(pod, "metadata.namespace") ?: "", ns)) continue;
    if (!labelsel_matches(sel, kj_get(pod, "metadata.labels"))) continue;
    const char *ip = kj_get_str(pod, "status.podIP");
    if (!ip || !*ip || pod_is_terminal(pod)) continue;
    json_t *ports = es_pod_ports(svc, pod);
    char *gk = kj_dumps_canonical(ports);
    json_t *g = json_object_get(groups, gk);
    if (!g) {
      g = json_pack("{s:O, s:{}}", "ports", ports, "want");
      json_object_set_new(groups, gk, g);
    }
    free(gk);
    json_decref(ports);
    json_t *e = es_endpoint(pod, svc, nodes);
    json_object_set_new(json_object_get(g, "want"), es_ep_id(e), e);
  }
  labelsel_free(sel);
  return groups;
}

/* Moves wanted endpoints into eps until it is full; true if any moved. */
static bool es_fill(json_t *eps, json_t *want, int max_per_slice)
{
  bool moved = false;
  while (json_array_size(eps) < (size_t)max_per_slice && json_object_size(want) > 0) {
    const char *id = es_first_key(want);
    json_array_append(eps, json_object_get(want, id));
    json_object_del(want, id);
    moved = true;
  }
  return moved;
}

/* Pass 1, one existing slice of the service: it keeps the endpoints still
 * wanted (taken out of its group's want) and the service's labels, or is
 * deleted when none is left.  Returns {slice (updated copy), group, path,
 * changed} for pass 2, or NULL. */
static json_t *es_keep(const json_t *svc, const json_t *slice, json_t *groups, int max_per_slice,
                       struct cm_actions *acts)
{
  char path[700];
  cm_path(path, sizeof path, "/apis/discovery.k8s.io/v1", kj_get_str(slice, "metadata.namespace"), "endpointslices",
          kj_get_str(slice, "metadata.name"), NULL);
  json_t *ports = kj_get(slice, "ports"), *empty = NULL;
  if (!ports) ports = empty = json_array();
  char *gk = kj_dumps_canonical(ports);
  json_t *want = json_object_get(json_object_get(groups, gk), "want");
  json_t *kept = json_array(), *e, *out = NULL;
  size_t j;
  json_array_foreach (want ? kj_get(slice, "endpoints") : NULL, j, e) {
    const char *id = es_ep_id(e);
    json_t *w = json_object_get(want, id);
    if (w && json_array_size(kept) < (size_t)max_per_slice) {
      json_array_append(kept, w);
      json_object_del(want, id);
    }
  }
  if (json_array_size(kept) == 0) {
    cm_act(acts, CM_DELETE, path, NULL);
  } else {
    json_t *copy = kj_deep_copy(slice);
    bool changed = !cm_json_eq(kept, kj_get(slice, "endpoints"));
    json_object_set(copy, "endpoints", kept);
    json_t *want_slice = endpointslice_new_slice(svc, ENDPOINTSLICE_MANAGED_BY, ports, "IPv4");
    if (!cm_json_eq(kj_get(copy, "metadata.labels"), kj_get(want_slice, "metadata.labels"))) {
      kj_set(copy, "metadata.labels", json_incref(kj_get(want_slice, "metadata.labels")));
      changed = true;
    }
    json_decref(want_slice);
    json_object_set_new(copy, "apiVersion", json_string("discovery.k8s.io/v1"));
    json_object_set_new(copy, "kind", json_string("EndpointSlice"));
    out = json_pack("{s:o, s:s, s:s, s:b}", "slice", copy, "group", gk, "path", path, "changed", changed);
  }
  json_decref(kept);
  json_decref(empty);
  free(gk);
  return out;
}

void endpointslice_reconcile(const json_t *svc, const json_t *pods, const json_t *nodes, const json_t *slices,
                             int max_per_slice, struct cm_actions *acts)
{
  const char *ns = kj_get_str(svc, "metadata.namespace") ?: "";
  const char *svcname = kj_get_str(svc, "metadata.name") ?: "";
  if (max_per_slice <= 0) max_per_slice = ES_MAX_PER_SLICE;
  json_t *groups = es_wanted(svc, pods, nodes);
  /* Pass 1: existing slices keep the endpoints still wanted. */
  json_t *room = json_array(), *slice;
  size_t i;
  json_array_foreach (slices, i, slice) {
    if (strcmp(kj_get_str(slice, "metadata.namespace") ?: "", ns)) continue;
    if (strcmp(kj_get_str(slice, "metadata.labels[\"" LABEL_SERVICE_NAME "\"]") ?: "", svcname)) continue;
    if (strcmp(kj_get_str(slice, "metadata.labels[\"" LABEL_MANAGED_BY "\"]") ?: "", ENDPOINTSLICE_MANAGED_BY))
      continue;
    json_t *r = es_keep(svc, slice, groups, max_per_slice, acts);
    if (r) json_array_append_new(room, r);
  }
  /* Pass 2: new endpoints fill the room left in existing slices. */
  json_t *r;
  json_array_foreach (room, i, r) {
    json_t *copy = json_object_get(r, "slice");
    json_t *want = json_object_get(json_object_get(groups, json_string_value(json_object_get(r, "group"))), "want");
    bool filled = es_fill(json_object_get(copy, "endpoints"), want, max_per_slice);
    if (filled || json_is_true(json_object_get(r, "changed")))
      cm_act(acts, CM_PUT, json_string_value(json_object_get(r, "path")), json_incref(copy));
  }
  json_decref(room);
  /* Pass 3: the rest go to new slices. */
  char path[700];
  cm_path(path, sizeof path, "/apis/discovery.k8s.io/v1", ns, "endpointslices", NULL, NULL);
  const char *gk;
  json_t *g;
  json_object_foreach (groups, gk, g) {
    json_t *want = json_object_get(g, "want");
    while (json_object_size(want) > 0) {
      json_t *s = endpointslice_new_slice(svc, ENDPOINTSLICE_MANAGED_BY, json_object_get(g, "ports"), "IPv4");
      es_fill(json_object_get(s, "endpoints"), want, max_per_slice);
      cm_act(acts, CM_POST, path, s)->expect = CM_EXPECT_CREATE;
    }
  }
  json_decref(groups);
}

static void es_pod_add(void *arg, const json_t *pod)
{
  struct es_ctl *c = arg;
  cm_enqueue_pod_services(&c->base, c->svc_inf, pod);
}

static void es_pod_update(void *arg, const json_t *o, const json_t *n)
{
  struct es_ctl *c = arg;
  const char *rv1 = kj_get_str(o, "metadata.resourceVersion"), *rv2 = kj_get_str(n, "metadata.resourceVersion");
  if (o != n && rv1 && rv2 && !strcmp(rv1, rv2)) return;
  cm_enqueue_pod_services(&c->base, c->svc_inf, n);
  if (!cm_json_eq(kj_get(o, "metadata.labels"), kj_get(n, "metadata.labels")))
    cm_enqueue_pod_services(&c->base, c->svc_inf, o);
}

static void es_pod_delete(void *arg, const json_t *pod, bool unknown) { es_pod_add(arg, pod); }

/* The service key of one of our slices; false for others' slices. */
static bool es_slice_key(const json_t *slice, char *key, size_t n)
{
  const char *svc = kj_get_str(slice, "metadata.labels[\"" LABEL_SERVICE_NAME "\"]");
  const char *by = kj_get_str(slice, "metadata.labels[\"" LABEL_MANAGED_BY "\"]");
  const char *ns = kj_get_str(slice, "metadata.namespace");
  if (!svc || !ns || !by || strcmp(by, ENDPOINTSLICE_MANAGED_BY)) return false;
  return (size_t)snprintf(key, n, "%s/%s", ns, svc) < n;
}

/* A slice change (ours, or someone else's edit of ours) re-syncs its service. */
static void es_slice_event(struct es_ctl *c, const json_t *slice)
{
  char key[512];
  if (es_slice_key(slice, key, sizeof key)) cm_base_enqueue_key(&c->base, key);
}
static void es_slice_add(void *arg, const json_t *slice)
{
  struct es_ctl *c = arg;
  char key[512];
  if (!es_slice_key(slice, key, sizeof key)) return;
  cm_creation_observed(c->exp, key);
  cm_base_enqueue_key(&c->base, key);
}
static void es_slice_update(void *arg, const json_t *o, const json_t *n) { es_slice_event(arg, n); }
static void es_slice_delete(void *arg, const json_t *s, bool unknown) { es_slice_event(arg, s); }

static void es_sync(struct cm_base *b, const char *key)
{
  struct es_ctl *c = (struct es_ctl *)b;
  struct cm_actions acts;
  cm_actions_init(&acts);
  json_t *svc = informer_store_get_obj(c->svc_inf, key);
  int64_t now = cm_now();
  if (!svc) cm_expectations_delete(c->exp, key);
  bool fresh = cm_expectations_satisfied(c->exp, key, now);
  /* A deleted service's slices go with it through their ownerReference. */
  if (fresh && svc && json_object_size(kj_get(svc, "spec.selector")) > 0 &&
      !kj_get(svc, "metadata.deletionTimestamp")) {
    /* A selector only picks pods of the service's own namespace. */
    const char *ns = kj_get_str(svc, "metadata.namespace") ?: "";
    json_t *pods = informer_store_by_index(c->pod_inf, INFORMER_INDEX_NAMESPACE, ns);
    json_t *slices = informer_store_by_index(c->slice_inf, INFORMER_INDEX_NAMESPACE, ns);
    json_t *nodes = informer_store_list(c->node_inf);
    endpointslice_reconcile(svc, pods, nodes, slices, ES_MAX_PER_SLICE, &acts);
    cm_expect_creations(c->exp, key, (int)cm_actions_count(&acts, CM_POST, NULL), now);
    json_decref(pods);
    json_decref(nodes);
    json_decref(slices);
  }
  json_decref(svc);
  cm_base_exec(b, key, &acts, c->exp, -1);
  cm_actions_clear(&acts);
}

static int es_init(struct cm_base *b)
{
  struct es_ctl *c = (struct es_ctl *)b;
  struct informer_factory *f = b->ctx->informers;
  c->svc_inf = informer_factory_get(f, CM_SERVICES);
  c->pod_inf = informer_factory_get(f, CM_PODS);
  c->node_inf = informer_factory_get(f, CM_NODES);
  c->slice_inf = informer_factory_get(f, CM_ENDPOINTSLICES);
  informer_add_index(c->pod_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  informer_add_index(c->svc_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  informer_add_index(c->slice_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  struct informer_handlers sh = {cm_on_add_enqueue, cm_on_update_enqueue, NULL, c};
  struct informer_handlers ph = {es_pod_add, es_pod_update, es_pod_delete, c};
  c->exp = cm_expectations_new();
  struct informer_handlers eh = {es_slice_add, es_slice_update, es_slice_delete, c};
  informer_add_handlers(c->svc_inf, &sh);
  informer_add_handlers(c->pod_inf, &ph);
  informer_add_handlers(c->slice_inf, &eh);
  return 0;
}

static void es_fini(struct cm_base *b)
{
  struct es_ctl *c = (struct es_ctl *)b;
  cm_expectations_free(c->exp);
}

const struct controller_def ctrl_endpointslice = {
    .name = "endpointslice",
    .service_account = "endpointslice-controller",
    .enabled_by_default = true,
    .size = sizeof(struct es_ctl),
    .queue = "endpoint_slice",
    .workers_flag = offsetof(struct cm_config, concurrent_service_endpoint_syncs),
    .workers = 5,
    .sync = es_sync,
    .init = es_init,
    .fini = es_fini,
};
