/*
 * endpointslice_mirroring.c - the "endpointslice-mirroring" controller:
 * EndpointSlices for Services without a selector, copied from the
 * Endpoints their users maintain.
 *
 * Each subset of the Endpoints becomes one slice (addresses ready,
 * notReadyAddresses not ready; nodeName, hostname and targetRef kept),
 * labelled kubernetes.io/service-name and managed-by
 * endpointslicemirroring-controller.k8s.io, owned by the Endpoints.
 * Endpoints labelled endpointslice.kubernetes.io/skip-mirror=true, and
 * those of services that have a selector (the endpointslice controller's
 * business), are not mirrored; their mirrored slices are deleted.
 * Existing slices are matched to wanted ones in name order and only
 * rewritten when their endpoints, ports or labels differ.
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
#include "kube/xalloc.h"

#define MIRROR_SKIP_LABEL "endpointslice.kubernetes.io/skip-mirror"
#define MIRROR_MAX_PER_SUBSET 1000

struct mir_ctl {
  struct cm_base base;
  struct informer *svc_inf, *ep_inf, *slice_inf;
};

static void mir_add_eps(json_t *out, const json_t *addrs, bool ready)
{
  size_t i;
  json_t *a;
  json_array_foreach (addrs, i, a) {
    if (json_array_size(out) >= MIRROR_MAX_PER_SUBSET) return;
    json_t *e = json_pack("{s:[s], s:{s:b, s:b, s:b}}", "addresses", kj_get_str(a, "ip") ?: "", "conditions", "ready",
                          ready, "serving", ready, "terminating", false);
    const char *node = kj_get_str(a, "nodeName"), *host = kj_get_str(a, "hostname");
    if (node) json_object_set_new(e, "nodeName", json_string(node));
    if (host) json_object_set_new(e, "hostname", json_string(host));
    json_t *tr = json_object_get(a, "targetRef");
    if (tr) json_object_set(e, "targetRef", tr);
    json_array_append_new(out, e);
  }
}

static json_t *mir_slice_ports(const json_t *subset)
{
  json_t *out = json_array();
  size_t i;
  json_t *p;
  json_array_foreach (kj_get(subset, "ports"), i, p) {
    json_t *np = json_pack("{s:s, s:I, s:s}", "name", kj_get_str(p, "name") ?: "", "port",
                           (json_int_t)kj_get_int(p, "port", 0), "protocol", kj_get_str(p, "protocol") ?: "TCP");
    if (kj_get_str(p, "appProtocol")) json_object_set_new(np, "appProtocol", json_string(kj_get_str(p, "appProtocol")));
    json_array_append_new(out, np);
  }
  return out;
}

static json_t *mir_labels(const json_t *svc, const json_t *ep)
{
  json_t *l = kj_deep_copy(kj_get(ep, "metadata.labels"));
  if (!json_is_object(l)) {
    json_decref(l);
    l = json_object();
  }
  json_object_del(l, MIRROR_SKIP_LABEL);
  json_object_set_new(l, LABEL_SERVICE_NAME, json_string(kj_get_str(svc, "metadata.name") ?: ""));
  json_object_set_new(l, LABEL_MANAGED_BY, json_string(ENDPOINTSLICE_MIRROR_MANAGED_BY));
  return l;
}

static int mir_name_cmp(const void *a, const void *b)
{
  return strcmp(kj_get_str(*(json_t *const *)a, "metadata.name") ?: "",
                kj_get_str(*(json_t *const *)b, "metadata.name") ?: "");
}

void endpointslice_mirror_reconcile(const char *ns, const char *name, const json_t *svc, const json_t *ep,
                                    const json_t *slices, struct cm_actions *acts)
{
  /* wanted: [{endpoints, ports}]; nothing when the Service is gone */
  json_t *want = json_array();
  bool mirror = svc && ep && !json_object_size(kj_get(svc, "spec.selector")) &&
                strcmp(kj_get_str(ep, "metadata.labels[\"" MIRROR_SKIP_LABEL "\"]") ?: "", "true");
  size_t i;
  json_t *ss;
  if (mirror) {
    json_array_foreach (kj_get(ep, "subsets"), i, ss) {
      json_t *eps = json_array();
      mir_add_eps(eps, kj_get(ss, "addresses"), true);
      mir_add_eps(eps, kj_get(ss, "notReadyAddresses"), false);
      if (!json_array_size(eps)) {
        json_decref(eps);
        continue;
      }
      json_array_append_new(want, json_pack("{s:o, s:o}", "endpoints", eps, "ports", mir_slice_ports(ss)));
    }
  }
  size_t n = json_array_size(slices), have_n = 0;
  json_t **have = xmalloc((n + 1) * sizeof *have);
  json_t *sl;
  json_array_foreach (slices, i, sl) {
    if (strcmp(kj_get_str(sl, "metadata.namespace") ?: "", ns) ||
        strcmp(kj_get_str(sl, "metadata.labels[\"" LABEL_SERVICE_NAME "\"]") ?: "", name) ||
        strcmp(kj_get_str(sl, "metadata.labels[\"" LABEL_MANAGED_BY "\"]") ?: "", ENDPOINTSLICE_MIRROR_MANAGED_BY))
      continue;
    have[have_n++] = sl;
  }
  qsort(have, have_n, sizeof *have, mir_name_cmp);
  json_t *labels = mirror ? mir_labels(svc, ep) : NULL;
  char path[700];
  for (i = 0; i < json_array_size(want) || i < have_n; i++) {
    json_t *w = json_array_get(want, i);
    if (i < have_n) {
      snprintf(path, sizeof path, "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices/%s", ns,
               kj_get_str(have[i], "metadata.name") ?: "");
      if (!w) {
        cm_act(acts, CM_DELETE, path, NULL);
        continue;
      }
      if (cm_json_eq(kj_get(have[i], "endpoints"), json_object_get(w, "endpoints")) &&
          cm_json_eq(kj_get(have[i], "ports"), json_object_get(w, "ports")) &&
          cm_json_eq(kj_get(have[i], "metadata.labels"), labels))
        continue;
      json_t *copy = kj_deep_copy(have[i]);
      json_object_set(copy, "endpoints", json_object_get(w, "endpoints"));
      json_object_set(copy, "ports", json_object_get(w, "ports"));
      kj_set(copy, "metadata.labels", json_incref(labels));
      json_object_set_new(copy, "apiVersion", json_string("discovery.k8s.io/v1"));
      json_object_set_new(copy, "kind", json_string("EndpointSlice"));
      cm_act(acts, CM_PUT, path, copy);
    } else {
      json_t *s = endpointslice_new_slice(svc, ENDPOINTSLICE_MIRROR_MANAGED_BY, json_object_get(w, "ports"), "IPv4");
      kj_set(s, "metadata.labels", json_incref(labels));
      json_object_set(s, "endpoints", json_object_get(w, "endpoints"));
      kj_set(s, "metadata.ownerReferences", json_pack("[o]", cm_new_controller_ref(ep, "v1", "Endpoints")));
      snprintf(path, sizeof path, "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices", ns);
      cm_act(acts, CM_POST, path, s);
    }
  }
  json_decref(labels);
  free(have);
  json_decref(want);
}

static void mir_slice_event(struct mir_ctl *c, const json_t *s)
{
  const char *svc = kj_get_str(s, "metadata.labels[\"" LABEL_SERVICE_NAME "\"]");
  const char *by = kj_get_str(s, "metadata.labels[\"" LABEL_MANAGED_BY "\"]");
  const char *ns = kj_get_str(s, "metadata.namespace");
  if (!svc || !ns || !by || strcmp(by, ENDPOINTSLICE_MIRROR_MANAGED_BY)) return;
  char key[512];
  snprintf(key, sizeof key, "%s/%s", ns, svc);
  cm_base_enqueue_key(&c->base, key);
}
static void mir_slice_update(void *arg, const json_t *o, const json_t *n) { mir_slice_event(arg, n); }
static void mir_slice_delete(void *arg, const json_t *s, bool u) { mir_slice_event(arg, s); }

static void mir_sync(struct cm_base *b, const char *key)
{
  struct mir_ctl *c = (struct mir_ctl *)b;
  char buf[512];
  const char *ns, *name;
  if (cm_split_key(key, buf, sizeof buf, &ns, &name) < 0) {
    cm_base_finish(b, key, false, -1);
    return;
  }
  json_t *svc = informer_store_get_obj(c->svc_inf, key);
  json_t *ep = informer_store_get_obj(c->ep_inf, key);
  json_t *slices = informer_store_by_index(c->slice_inf, INFORMER_INDEX_NAMESPACE, ns);
  struct cm_actions acts;
  cm_actions_init(&acts);
  endpointslice_mirror_reconcile(ns, name, svc, ep, slices, &acts);
  json_decref(svc);
  json_decref(ep);
  json_decref(slices);
  cm_base_exec(b, key, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

static int mir_init(struct cm_base *b)
{
  struct mir_ctl *c = (struct mir_ctl *)b;
  struct informer_factory *f = b->ctx->informers;
  c->svc_inf = informer_factory_get(f, CM_SERVICES);
  c->ep_inf = informer_factory_get(f, CM_ENDPOINTS);
  c->slice_inf = informer_factory_get(f, CM_ENDPOINTSLICES);
  informer_add_index(c->slice_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  struct informer_handlers h = {cm_on_add_enqueue, cm_on_update_enqueue, cm_on_delete_enqueue, c};
  struct informer_handlers sh = {NULL, mir_slice_update, mir_slice_delete, c};
  informer_add_handlers(c->svc_inf, &h);
  informer_add_handlers(c->ep_inf, &h);
  informer_add_handlers(c->slice_inf, &sh);
  return 0;
}

const struct controller_def ctrl_endpointslice_mirroring = {
    .name = "endpointslice-mirroring",
    .service_account = "endpointslicemirroring-controller",
    .enabled_by_default = true,
    .size = sizeof(struct mir_ctl),
    .queue = "endpoint_slice_mirroring",
    .workers = 5,
    .sync = mir_sync,
    .init = mir_init,
};
