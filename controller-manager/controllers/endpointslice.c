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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "core_common.h"
#include "core_logic.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/selector.h"
#include "kube/workqueue.h"

#define ES_MAX_PER_SLICE 100
#define ES_ZONE_LABEL "topology.kubernetes.io/zone"

struct es_ctl {
  struct cm_ctx *ctx;
  struct sync_batch_set batches;
  struct workqueue *q;
  struct informer *svc_inf, *pod_inf, *node_inf, *slice_inf;
};

static const json_t *es_find_node(const json_t *nodes, const char *name)
{
  size_t i;
  json_t *n;
  if (!name) return NULL;
  json_array_foreach(nodes, i, n) if (!strcmp(kj_get_str(n, "metadata.name") ?: "", name)) return n;
  return NULL;
}

static json_t *es_endpoint(const json_t *pod, const json_t *svc, const json_t *nodes)
{
  bool terminating = kj_get(pod, "metadata.deletionTimestamp") != NULL;
  bool ready = cc_pod_ready(pod);
  bool publish = kj_get_bool(svc, "spec.publishNotReadyAddresses", false);
  json_t *e = json_pack("{s:[s], s:{s:b, s:b, s:b}, s:{s:s, s:s, s:s, s:s}}", "addresses",
                        kj_get_str(pod, "status.podIP"), "conditions", "ready",
                        publish || (ready && !terminating), "serving", publish || ready, "terminating",
                        terminating, "targetRef", "kind", "Pod", "namespace",
                        kj_get_str(pod, "metadata.namespace") ?: "", "name",
                        kj_get_str(pod, "metadata.name") ?: "", "uid", kj_get_str(pod, "metadata.uid") ?: "");
  const char *node = kj_get_str(pod, "spec.nodeName");
  if (node) {
    json_object_set_new(e, "nodeName", json_string(node));
    const json_t *n = es_find_node(nodes, node);
    const char *zone = n ? kj_get_str(n, "metadata.labels[\"" ES_ZONE_LABEL "\"]") : NULL;
    if (zone) json_object_set_new(e, "zone", json_string(zone));
  }
  const char *host = kj_get_str(pod, "spec.hostname"), *sub = kj_get_str(pod, "spec.subdomain");
  if (host && sub && !strcmp(sub, kj_get_str(svc, "metadata.name") ?: "")) json_object_set_new(e, "hostname", json_string(host));
  return e;
}

static json_t *es_pod_ports(const json_t *svc, const json_t *pod)
{
  json_t *ports = json_array();
  size_t j;
  json_t *sp;
  json_array_foreach(kj_get(svc, "spec.ports"), j, sp)
  {
    int port = cc_resolve_target_port(sp, pod);
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
  json_t *s = json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:[o]}, s:s, s:[], s:O}", "apiVersion",
                        "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "generateName", gen,
                        "namespace", kj_get_str(svc, "metadata.namespace") ?: "", "labels", labels,
                        "ownerReferences", cc_owner_ref(svc, "v1", "Service", true, true), "addressType",
                        address_type, "endpoints", "ports", ports);
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
  json_object_foreach((json_t *)obj, k, v) if (!best || strcmp(k, best) < 0) best = k;
  return best;
}

static void es_act(json_t *acts, const char *verb, const char *path, json_t *body)
{
  json_t *a = json_pack("{s:s, s:s}", "verb", verb, "path", path);
  if (body) json_object_set_new(a, "body", body);
  json_array_append_new(acts, a);
}

json_t *endpointslice_reconcile(const json_t *svc, const json_t *pods, const json_t *nodes,
                                const json_t *slices, int max_per_slice)
{
  json_t *acts = json_array();
  const char *ns = kj_get_str(svc, "metadata.namespace") ?: "";
  const char *svcname = kj_get_str(svc, "metadata.name") ?: "";
  if (max_per_slice <= 0) max_per_slice = ES_MAX_PER_SLICE;
  const json_t *selmap = kj_get(svc, "spec.selector");
  struct labelsel *sel = json_object_size(selmap) ? cc_selector_from_map(selmap) : NULL;
  /* port-set key -> {ports, want: {id -> endpoint}} */
  json_t *groups = json_object();
  size_t i;
  json_t *pod;
  json_array_foreach(pods, i, pod)
  {
    if (!sel) break;
    if (strcmp(kj_get_str(pod, "metadata.namespace") ?: "", ns)) continue;
    if (!labelsel_matches(sel, kj_get(pod, "metadata.labels"))) continue;
    const char *ip = kj_get_str(pod, "status.podIP");
    if (!ip || !*ip || cc_pod_terminal(pod)) continue;
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

  char path[700];
  /* Pass 1: existing slices keep the endpoints still wanted. */
  json_t *room = json_array(); /* slices (copies) of a group with free room */
  json_t *slice;
  json_array_foreach(slices, i, slice)
  {
    if (strcmp(kj_get_str(slice, "metadata.namespace") ?: "", ns)) continue;
    if (strcmp(kj_get_str(slice, "metadata.labels[\"" LABEL_SERVICE_NAME "\"]") ?: "", svcname)) continue;
    if (strcmp(kj_get_str(slice, "metadata.labels[\"" LABEL_MANAGED_BY "\"]") ?: "", ENDPOINTSLICE_MANAGED_BY))
      continue;
    snprintf(path, sizeof path, "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices/%s", ns,
             kj_get_str(slice, "metadata.name") ?: "");
    json_t *ports = kj_get(slice, "ports");
    json_t *empty = NULL;
    if (!ports) ports = empty = json_array();
    char *gk = kj_dumps_canonical(ports);
    json_decref(empty);
    json_t *g = json_object_get(groups, gk);
    char gkbuf[4096];
    snprintf(gkbuf, sizeof gkbuf, "%s", gk);
    free(gk);
    if (!g) {
      es_act(acts, "DELETE", path, NULL);
      continue;
    }
    json_t *want = json_object_get(g, "want");
    json_t *kept = json_array();
    size_t j;
    json_t *e;
    json_array_foreach(kj_get(slice, "endpoints"), j, e)
    {
      const char *id = es_ep_id(e);
      json_t *w = json_object_get(want, id);
      if (w && json_array_size(kept) < (size_t)max_per_slice) {
        json_array_append(kept, w);
        json_object_del(want, id);
      }
    }
    if (json_array_size(kept) == 0) {
      json_decref(kept);
      es_act(acts, "DELETE", path, NULL);
      continue;
    }
    json_t *copy = kj_deep_copy(slice);
    bool changed = !cc_json_eq(kept, kj_get(slice, "endpoints"));
    json_object_set_new(copy, "endpoints", kept);
    /* Labels follow the service's. */
    json_t *want_slice = endpointslice_new_slice(svc, ENDPOINTSLICE_MANAGED_BY, ports, "IPv4");
    if (!cc_json_eq(kj_get(copy, "metadata.labels"), kj_get(want_slice, "metadata.labels"))) {
      kj_set(copy, "metadata.labels", json_incref(kj_get(want_slice, "metadata.labels")));
      changed = true;
    }
    json_decref(want_slice);
    json_object_set_new(copy, "apiVersion", json_string("discovery.k8s.io/v1"));
    json_object_set_new(copy, "kind", json_string("EndpointSlice"));
    json_array_append_new(room, json_pack("{s:o, s:s, s:s, s:b}", "slice", copy, "group", gkbuf,
                                          "path", path, "changed", changed));
  }
  /* Pass 2: new endpoints fill the room left in existing slices. */
  json_t *r;
  json_array_foreach(room, i, r)
  {
    json_t *copy = json_object_get(r, "slice");
    json_t *g = json_object_get(groups, json_string_value(json_object_get(r, "group")));
    json_t *want = json_object_get(g, "want");
    json_t *eps = json_object_get(copy, "endpoints");
    bool changed = json_is_true(json_object_get(r, "changed"));
    while (json_array_size(eps) < (size_t)max_per_slice && json_object_size(want) > 0) {
      const char *id = es_first_key(want);
      json_array_append(eps, json_object_get(want, id));
      json_object_del(want, id);
      changed = true;
    }
    if (changed) es_act(acts, "PUT", json_string_value(json_object_get(r, "path")), json_incref(copy));
  }
  json_decref(room);
  /* Pass 3: the rest go to new slices. */
  const char *gk;
  json_t *g;
  snprintf(path, sizeof path, "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices", ns);
  json_object_foreach(groups, gk, g)
  {
    json_t *want = json_object_get(g, "want");
    while (json_object_size(want) > 0) {
      json_t *ns_slice = endpointslice_new_slice(svc, ENDPOINTSLICE_MANAGED_BY, json_object_get(g, "ports"), "IPv4");
      json_t *eps = json_object_get(ns_slice, "endpoints");
      while (json_array_size(eps) < (size_t)max_per_slice && json_object_size(want) > 0) {
        const char *id = es_first_key(want);
        json_array_append(eps, json_object_get(want, id));
        json_object_del(want, id);
      }
      es_act(acts, "POST", path, ns_slice);
    }
  }
  json_decref(groups);
  return acts;
}

static void es_pod_add(void *arg, const json_t *pod)
{
  struct es_ctl *c = arg;
  cc_enqueue_pod_services(c->q, c->svc_inf, pod);
}

static void es_pod_update(void *arg, const json_t *o, const json_t *n)
{
  struct es_ctl *c = arg;
  const char *rv1 = kj_get_str(o, "metadata.resourceVersion"), *rv2 = kj_get_str(n, "metadata.resourceVersion");
  if (o != n && rv1 && rv2 && !strcmp(rv1, rv2)) return;
  cc_enqueue_pod_services(c->q, c->svc_inf, n);
  if (!cc_json_eq(kj_get(o, "metadata.labels"), kj_get(n, "metadata.labels")))
    cc_enqueue_pod_services(c->q, c->svc_inf, o);
}

static void es_pod_delete(void *arg, const json_t *pod, bool unknown)
{
  struct es_ctl *c = arg;
  cc_enqueue_pod_services(c->q, c->svc_inf, pod);
}

/* A slice change (ours, or someone else's edit of ours) re-syncs its service. */
static void es_slice_event(struct es_ctl *c, const json_t *slice)
{
  const char *svc = kj_get_str(slice, "metadata.labels[\"" LABEL_SERVICE_NAME "\"]");
  const char *by = kj_get_str(slice, "metadata.labels[\"" LABEL_MANAGED_BY "\"]");
  const char *ns = kj_get_str(slice, "metadata.namespace");
  if (!svc || !ns || !by || strcmp(by, ENDPOINTSLICE_MANAGED_BY)) return;
  char key[512];
  snprintf(key, sizeof key, "%s/%s", ns, svc);
  workqueue_add(c->q, key);
}
static void es_slice_update(void *arg, const json_t *o, const json_t *n) { es_slice_event(arg, n); }
static void es_slice_delete(void *arg, const json_t *s, bool unknown) { es_slice_event(arg, s); }

static void es_process(void *arg, struct workqueue *q, const char *key)
{
  struct es_ctl *c = arg;
  struct sync_batch *b = sync_batch_new(&c->batches, c->ctx->client, q, key);
  if (!b) {
    workqueue_done(q, key);
    return;
  }
  json_t *svc = informer_store_get_obj(c->svc_inf, key);
  /* A deleted service's slices go with it through their ownerReference. */
  if (svc && json_object_size(kj_get(svc, "spec.selector")) > 0 && !kj_get(svc, "metadata.deletionTimestamp")) {
    /* A selector only picks pods of the service's own namespace. */
    json_t *pods = informer_store_by_index(c->pod_inf, INFORMER_INDEX_NAMESPACE,
                                           kj_get_str(svc, "metadata.namespace") ?: "");
    if (!pods) pods = json_array();
    json_t *nodes = informer_store_list(c->node_inf);
    json_t *slices = informer_store_list(c->slice_inf);
    json_t *acts = endpointslice_reconcile(svc, pods, nodes, slices, ES_MAX_PER_SLICE);
    sync_batch_exec(b, acts);
    json_decref(acts);
    json_decref(pods);
    json_decref(nodes);
    json_decref(slices);
  }
  json_decref(svc);
  sync_batch_end(b);
}

static int es_start(struct cm_ctx *ctx, void **state)
{
  struct es_ctl *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->ctx = ctx;
  c->q = workqueue_new(ctx->base, "endpoint_slice");
  c->svc_inf = informer_factory_get(ctx->informers, CM_SERVICES);
  c->pod_inf = informer_factory_get(ctx->informers, CM_PODS);
  informer_add_index(c->pod_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  c->node_inf = informer_factory_get(ctx->informers, CM_NODES);
  c->slice_inf = informer_factory_get(ctx->informers, CM_ENDPOINTSLICES);
  struct informer_handlers sh = {cc_on_add_enqueue, cc_on_update_enqueue, NULL, c->q};
  struct informer_handlers ph = {es_pod_add, es_pod_update, es_pod_delete, c};
  struct informer_handlers eh = {NULL, es_slice_update, es_slice_delete, c};
  informer_add_handlers(c->svc_inf, &sh);
  informer_add_handlers(c->pod_inf, &ph);
  informer_add_handlers(c->slice_inf, &eh);
  *state = c;
  return 0;
}

static void es_run(void *state)
{
  struct es_ctl *c = state;
  int w = c->ctx->cfg.concurrent_service_endpoint_syncs > 0 ? c->ctx->cfg.concurrent_service_endpoint_syncs : 5;
  workqueue_run(c->q, w, es_process, c);
}

static void es_stop(void *state)
{
  struct es_ctl *c = state;
  if (!c) return;
  sync_batch_set_cancel(&c->batches);
  workqueue_free(c->q);
  free(c);
}

const struct controller_def ctrl_endpointslice = {
    .name = "endpointslice",
    .enabled_by_default = true,
    .start = es_start,
    .run = es_run,
    .stop = es_stop,
};
