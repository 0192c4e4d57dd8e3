/*
 * volume_binding.c - the VolumeBinding plugin (upstream
 * pkg/scheduler/framework/plugins/volumebinding): places a pod where its
 * PersistentVolumeClaims can be had, and has them bound before the pod is.
 *
 * PreFilter sorts the pod's claims (persistentVolumeClaim volumes and
 * generic ephemeral ones): a pod without any is skipped, which is all a
 * pod without volumes costs.  A missing or deleting claim, one bound to a
 * volume that is gone, or an ephemeral claim the pod does not own makes
 * the pod unschedulable everywhere; so does an unbound claim whose class
 * binds Immediately (the persistentvolume-binder binds those, and the pod
 * waits for it).  Filter then checks, per node: bound claims' volumes'
 * node affinity; unbound WaitForFirstConsumer claims either match an
 * Available volume the node can use (smallest first, each volume once),
 * or can be provisioned there (a provisioner other than
 * kubernetes.io/no-provisioner, the class's allowedTopologies), or were
 * already handed to a provisioner for exactly this node.
 *
 * Reserve assumes the chosen node's bindings in an assume cache (a volume
 * with its claimRef set, a claim with volume.kubernetes.io/selected-node),
 * so the next pods see them before the API does; Unreserve forgets them.
 * PreBind (volume_binding_bind.c) writes them and waits until the
 * persistentvolume-binder has fully bound every claim, or gives up after
 * bindTimeoutSeconds or when a provisioner hands the node back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "plugins.h"
#include "volume_binding.h"
#include "volumes.h"
#include "kube/xalloc.h"

/* ---- the assume cache ---- */

static json_t *view(struct vb *vb, const json_t *map, const char *prefix, const char *key)
{
  json_t *cur = json_object_get(map, key);
  if (!vb || !json_object_size(vb->assumed)) return cur;
  char k[700];
  snprintf(k, sizeof k, "%s%s", prefix, key);
  json_t *a = json_object_get(vb->assumed, k);
  if (!a) return cur;
  /* The informer has moved past what was assumed (or lost the object):
   * the assumption has served. */
  if (!cur || sched_vol_rv_cmp(cur, a) > 0) {
    json_object_del(vb->assumed, k);
    return cur;
  }
  return a;
}

json_t *vb_get_pv(struct vb *vb, const struct sched_snapshot *s, const char *name)
{
  return name ? view(vb, s->pvs, "pv:", name) : NULL;
}

json_t *vb_get_pvc(struct vb *vb, const struct sched_snapshot *s, const char *key)
{
  return key ? view(vb, s->pvcs, "pvc:", key) : NULL;
}

static void obj_key(const json_t *obj, const char *kind, char *out, size_t len)
{
  if (!strcmp(kind, "pv")) snprintf(out, len, "pv:%s", kj_get_str(obj, "metadata.name") ?: "");
  else
    snprintf(out, len, "pvc:%s/%s", kj_get_str(obj, "metadata.namespace") ?: "",
             kj_get_str(obj, "metadata.name") ?: "");
}

static void assume(struct vb *vb, const char *kind, json_t *obj)
{
  char k[700];
  obj_key(obj, kind, k, sizeof k);
  json_object_set(vb->assumed, k, obj);
}

void vb_restore(struct vb *vb, const char *kind, const json_t *obj)
{
  char k[700];
  obj_key(obj, kind, k, sizeof k);
  json_object_del(vb->assumed, k);
}

/* ---- PreFilter ---- */

struct vb_state {
  json_t *bound;        /* fully bound claims */
  json_t *delay;        /* unbound WaitForFirstConsumer claims, smallest request first */
  json_t *pvs_by_class; /* class -> the volumes of that class (as the view has them) */
  json_t *by_node;      /* node -> {"bind": [[pvc, pv]], "provision": [pvc]} */
};

static void state_free(void *p)
{
  struct vb_state *st = p;
  json_decref(st->bound);
  json_decref(st->delay);
  json_decref(st->pvs_by_class);
  json_decref(st->by_node);
  free(st);
}

static const char *claim_key(const json_t *pod, const char *claim, char *out, size_t len)
{
  const char *ns = kj_get_str(pod, "metadata.namespace");
  snprintf(out, len, "%s/%s", ns ? ns : "default", claim);
  return out;
}

/* podHasPVCs: NULL, or why the pod can go nowhere (into buf).  *any
 * tells whether it uses claims at all. */
static const char *check_claims(struct vb *vb, const struct sched_snapshot *s, const json_t *pod, bool *any, char *buf,
                                size_t len)
{
  *any = false;
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(pod, "spec.volumes"), i, v) {
    char name[512], key[800];
    bool eph;
    if (!sched_volume_claim(pod, v, &eph, name, sizeof name)) continue;
    *any = true;
    const json_t *pvc = vb_get_pvc(vb, s, claim_key(pod, name, key, sizeof key));
    if (!pvc) {
      if (eph)
        snprintf(buf, len, "waiting for ephemeral volume controller to create the persistentvolumeclaim \"%s\"", name);
      else snprintf(buf, len, "persistentvolumeclaim \"%s\" not found", name);
      return buf;
    }
    if (!strcmp(kj_get_str(pvc, "status.phase") ?: "", "Lost")) {
      snprintf(buf, len, "persistentvolumeclaim \"%s\" bound to non-existent persistentvolume \"%s\"", name,
               kj_get_str(pvc, "spec.volumeName") ?: "");
      return buf;
    }
    if (kj_get(pvc, "metadata.deletionTimestamp")) {
      snprintf(buf, len, "persistentvolumeclaim \"%s\" is being deleted", name);
      return buf;
    }
    if (eph && sched_vol_claim_for_pod(pod, pvc, buf, len)) return buf;
  }
  return NULL;
}

static int by_request(const void *a, const void *b)
{
  int64_t x = sched_vol_claim_request(*(json_t *const *)a), y = sched_vol_claim_request(*(json_t *const *)b);
  return x < y ? -1 : x > y;
}

static void sort_by_request(json_t *arr)
{
  size_t n = json_array_size(arr);
  if (n < 2) return;
  json_t **v = xmalloc(n * sizeof *v);
  if (!v) return;
  for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(arr, i));
  qsort(v, n, sizeof *v, by_request);
  json_array_clear(arr);
  for (size_t i = 0; i < n; i++) json_array_append_new(arr, v[i]);
  free(v);
}

/* GetPodVolumeClaims: the state, or NULL with the status set. */
static struct vb_state *classify(struct vb *vb, const struct sched_snapshot *s, const json_t *pod,
                                 struct sched_status *st)
{
  struct vb_state *state = xcalloc(1, sizeof *state);
  if (!state) return NULL;
  state->bound = json_array();
  state->delay = json_array();
  state->pvs_by_class = json_object();
  state->by_node = json_object();
  bool immediate = false;
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(pod, "spec.volumes"), i, v) {
    char name[512], key[800], err[256];
    if (!sched_volume_claim(pod, v, NULL, name, sizeof name)) continue;
    json_t *pvc = vb_get_pvc(vb, s, claim_key(pod, name, key, sizeof key));
    if (sched_vol_claim_fully_bound(pvc)) {
      json_array_append(state->bound, pvc);
      continue;
    }
    int delay = sched_vol_delay_binding(s, pvc, err, sizeof err);
    if (delay < 0) {
      sched_status_fail(st, SCHED_ERROR, "%s", err);
      state_free(state);
      return NULL;
    }
    const char *vn = kj_get_str(pvc, "spec.volumeName");
    if (delay && (!vn || !*vn)) json_array_append(state->delay, pvc);
    else immediate = true;
  }
  if (immediate) {
    sched_status_fail_static(st, SCHED_UNRESOLVABLE, VB_REASON_UNBOUND_IMMEDIATE);
    state_free(state);
    return NULL;
  }
  sort_by_request(state->delay);
  /* The volumes of the delay-bound claims' classes, once per cycle. */
  json_array_foreach (state->delay, i, v) {
    const char *cls = sched_vol_claim_class(v);
    if (json_object_get(state->pvs_by_class, cls)) continue;
    json_t *list = json_array();
    const char *name;
    json_t *pv;
    json_object_foreach (s->pvs, name, pv) {
      if (!strcmp(sched_vol_pv_class(pv), cls)) json_array_append(list, vb_get_pv(vb, s, name));
    }
    json_object_set_new(state->pvs_by_class, cls, list);
  }
  return state;
}

static enum sched_code vb_pre_filter(void *self, struct sched_cycle *c, struct sched_status *st)
{
  struct vb *vb = self;
  char buf[1024];
  bool any;
  const char *why = check_claims(vb, c->snap, c->pod, &any, buf, sizeof buf);
  if (why) return sched_status_fail(st, SCHED_UNRESOLVABLE, "%s", why);
  if (!any) return SCHED_SKIP;
  struct vb_state *state = classify(vb, c->snap, c->pod, st);
  if (!state) return st->code != SCHED_SUCCESS ? st->code : sched_status_fail_static(st, SCHED_ERROR, "out of memory");
  sched_cycle_set(c, state, state_free);
  return SCHED_SUCCESS;
}

/* ---- Filter ---- */

/* MatchTopologySelectorTerms: no terms, or one whose every expression
 * the node's labels satisfy. */
static bool topology_ok(const json_t *sc, const struct sched_node_info *ni)
{
  const json_t *terms = json_object_get(sc, "allowedTopologies");
  if (!json_array_size(terms)) return true;
  size_t i, j, k;
  json_t *t, *e, *val;
  json_array_foreach (terms, i, t) {
    bool ok = true;
    json_array_foreach (json_object_get(t, "matchLabelExpressions"), j, e) {
      const char *have = sched_node_label(ni, kj_get_str(e, "key") ?: "");
      bool in = false;
      json_array_foreach (json_object_get(e, "values"), k, val)
        in = in || (have && !strcmp(have, json_string_value(val) ?: ""));
      ok = ok && in;
    }
    if (ok) return true;
  }
  return false;
}

/* checkVolumeProvisions: 1 all can be provisioned on the node, 0 not,
 * -1 error (status set). */
static int check_provisions(const struct sched_snapshot *s, const json_t *claims, const struct sched_node_info *ni,
                            struct sched_status *st)
{
  size_t i;
  json_t *pvc;
  json_array_foreach (claims, i, pvc) {
    const char *cls = sched_vol_claim_class(pvc);
    if (!*cls) {
      sched_status_fail(st, SCHED_ERROR, "no class for claim \"%s/%s\"", kj_get_str(pvc, "metadata.namespace") ?: "",
                        kj_get_str(pvc, "metadata.name") ?: "");
      return -1;
    }
    const json_t *sc = json_object_get(s->classes, cls);
    if (!sc) {
      sched_status_fail(st, SCHED_ERROR, "failed to find storage class \"%s\"", cls);
      return -1;
    }
    const char *prov = kj_get_str(sc, "provisioner") ?: "";
    if (!*prov || !strcmp(prov, SCHED_NOT_SUPPORTED_PROVISIONER) || !topology_ok(sc, ni)) return 0;
  }
  return 1;
}

/* The bound claims' volumes: false when a volume is missing or does not
 * suit the node (which of the two in *missing). */
static bool bound_ok(struct vb *vb, const struct sched_snapshot *s, const json_t *bound,
                     const struct sched_node_info *ni, bool *missing)
{
  size_t i;
  json_t *pvc;
  *missing = false;
  json_array_foreach (bound, i, pvc) {
    const json_t *pv = vb_get_pv(vb, s, kj_get_str(pvc, "spec.volumeName"));
    if (!pv) {
      *missing = true;
      return false;
    }
    if (!sched_vol_node_affinity_ok(pv, ni->node)) return false;
  }
  return true;
}

/* FindPodVolumes for the unbound claims: false when they cannot all be
 * had on the node; the node's bindings and provisions in out.  -1:
 * error (status set). */
static int unbound_ok(const struct sched_snapshot *s, struct vb_state *state, const struct sched_node_info *ni,
                      json_t *out, struct sched_status *st)
{
  json_t *provision = json_array(), *bind = json_array(), *chosen = json_object();
  int ok = 1;
  size_t i;
  json_t *pvc;
  json_array_foreach (state->delay, i, pvc) {
    const char *sel = sched_vol_annotation(pvc, SCHED_ANN_SELECTED_NODE);
    if (sel && strcmp(sel, ni->name)) {
      ok = 0; /* handed to a provisioner for another node */
      goto out;
    }
    if (sel) json_array_append(provision, pvc);
  }
  json_array_foreach (state->delay, i, pvc) {
    if (sched_vol_annotation(pvc, SCHED_ANN_SELECTED_NODE)) continue;
    const json_t *pv = sched_vol_find_matching(pvc, json_object_get(state->pvs_by_class, sched_vol_claim_class(pvc)),
                                               ni->node, chosen);
    if (!pv) {
      json_array_append(provision, pvc);
      continue;
    }
    json_object_set_new(chosen, kj_get_str(pv, "metadata.name"), json_true());
    json_array_append_new(bind, json_pack("[O,O]", pvc, pv));
  }
  if (json_array_size(provision)) ok = check_provisions(s, provision, ni, st);
out:
  if (ok == 1 && (json_array_size(bind) || json_array_size(provision)))
    json_object_set_new(out, ni->name, json_pack("{s:O,s:O}", "bind", bind, "provision", provision));
  json_decref(provision);
  json_decref(bind);
  json_decref(chosen);
  return ok;
}

static enum sched_code vb_filter(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                                 struct sched_status *st)
{
  struct vb *vb = self;
  struct vb_state *state = sched_cycle_get(c);
  if (!state) return SCHED_SUCCESS;
  bool missing = false, node_ok = bound_ok(vb, c->snap, state->bound, ni, &missing);
  int unbound = json_array_size(state->delay) ? unbound_ok(c->snap, state, ni, state->by_node, st) : 1;
  if (unbound < 0) return st->code;
  if (node_ok && unbound) return SCHED_SUCCESS;
  if (!node_ok && !missing) sched_status_fail_static(st, SCHED_UNRESOLVABLE, VB_REASON_NODE_CONFLICT);
  if (!unbound) sched_status_fail_static(st, SCHED_UNRESOLVABLE, VB_REASON_BIND_CONFLICT);
  if (missing) sched_status_fail_static(st, SCHED_UNRESOLVABLE, VB_REASON_PV_NOT_EXIST);
  return SCHED_UNRESOLVABLE;
}

/* ---- Reserve / Unreserve ---- */

static void binding_free(void *p)
{
  struct vb_binding *b = p;
  json_decref(b->bindings);
  json_decref(b->provisions);
  free(b);
}

/* arePodVolumesBound, through the view. */
static bool all_bound(struct vb *vb, const struct sched_snapshot *s, const json_t *pod)
{
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(pod, "spec.volumes"), i, v) {
    char name[512], key[800];
    if (!sched_volume_claim(pod, v, NULL, name, sizeof name)) continue;
    if (!sched_vol_claim_fully_bound(vb_get_pvc(vb, s, claim_key(pod, name, key, sizeof key)))) return false;
  }
  return true;
}

/* GetBindVolumeToClaim (new reference). */
static json_t *bind_volume_to_claim(const json_t *pv, const json_t *pvc)
{
  json_t *c = kj_deep_copy(pv);
  bool bound = sched_vol_bound_to_claim(pv, pvc);
  json_t *ref = json_pack("{s:s,s:s}", "kind", "PersistentVolumeClaim", "apiVersion", "v1");
  const char *f[] = {"namespace", "name", "uid", "resourceVersion"};
  for (int i = 0; i < 4; i++) {
    char p[40];
    snprintf(p, sizeof p, "metadata.%s", f[i]);
    const char *val = kj_get_str(pvc, p);
    if (val) json_object_set_new(ref, f[i], json_string(val));
  }
  kj_set(c, "spec.claimRef", ref);
  if (!bound) {
    json_t *ann = kj_obj(c, "metadata.annotations");
    if (!json_object_get(ann, SCHED_ANN_BOUND_BY_CONTROLLER))
      json_object_set_new(ann, SCHED_ANN_BOUND_BY_CONTROLLER, json_string("yes"));
  }
  return c;
}

static void *vb_reserve(void *self, struct sched_cycle *c, const char *node, struct sched_status *st)
{
  struct vb *vb = self;
  struct vb_state *state = sched_cycle_get(c);
  const json_t *pv_node = state ? json_object_get(state->by_node, node) : NULL;
  if (!pv_node || all_bound(vb, c->snap, c->pod)) return NULL;
  struct vb_binding *b = xcalloc(1, sizeof *b);
  if (!b) {
    sched_status_fail_static(st, SCHED_ERROR, "out of memory");
    return NULL;
  }
  b->bindings = json_array();
  b->provisions = json_array();
  size_t i;
  json_t *e;
  json_array_foreach (json_object_get(pv_node, "bind"), i, e) {
    const json_t *pvc = json_array_get(e, 0);
    json_t *pv = bind_volume_to_claim(json_array_get(e, 1), pvc);
    assume(vb, "pv", pv);
    json_array_append_new(b->bindings, json_pack("[O,o]", pvc, pv));
  }
  json_array_foreach (json_object_get(pv_node, "provision"), i, e) {
    json_t *pvc = kj_deep_copy(e);
    json_object_set_new(kj_obj(pvc, "metadata.annotations"), SCHED_ANN_SELECTED_NODE, json_string(node));
    assume(vb, "pvc", pvc);
    json_array_append_new(b->provisions, pvc);
  }
  return b;
}

static void vb_unreserve(void *self, void *state)
{
  struct vb *vb = self;
  struct vb_binding *b = state;
  size_t i;
  json_t *e;
  json_array_foreach (b->bindings, i, e) vb_restore(vb, "pv", json_array_get(e, 1));
  json_array_foreach (b->provisions, i, e) vb_restore(vb, "pvc", e);
}

/* ---- life ---- */

static int vb_init(const json_t *args, void **self, char *err, size_t errlen)
{
  int64_t timeout = VB_DEFAULT_BIND_TIMEOUT_S;
  const json_t *t = json_object_get(args, "bindTimeoutSeconds");
  if (t) {
    if (!json_is_integer(t) || json_integer_value(t) < 0) {
      snprintf(err, errlen,
               "bindTimeoutSeconds: Invalid value: %s: invalid BindTimeoutSeconds, should not be a negative value",
               json_is_integer(t) ? "negative" : "not an integer");
      return -EINVAL;
    }
    timeout = json_integer_value(t);
  }
  struct vb *vb = xcalloc(1, sizeof *vb);
  if (!vb) return -ENOMEM;
  vb->bind_timeout_ms = timeout * 1000;
  vb->assumed = json_object();
  *self = vb;
  return 0;
}

static void vb_attach(void *self, const struct sched_handle *h) { ((struct vb *)self)->h = h; }

static void vb_destroy(void *self)
{
  struct vb *vb = self;
  if (!vb) return;
  vb_cancel_all(vb);
  json_decref(vb->assumed);
  free(vb);
}

const struct sched_plugin sched_plugin_volume_binding = {
    .name = "VolumeBinding",
    .init = vb_init,
    .destroy = vb_destroy,
    .attach = vb_attach,
    .pre_filter = vb_pre_filter,
    .filter = vb_filter,
    .reserve = vb_reserve,
    .unreserve = vb_unreserve,
    .pre_bind = vb_pre_bind,
    .pre_bind_cancel = vb_pre_bind_cancel,
    .state_free = binding_free,
};
