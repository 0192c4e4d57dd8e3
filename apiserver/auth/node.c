/*
 * node.c - the Node authorizer's graph and decisions (node.h).
 *
 * Graph.  Upstream keeps a graph of vertices (pods, secrets, configmaps,
 * PVCs, PVs, service accounts, nodes) and asks whether a path leads from
 * an object to the node.  Every path ends in a pod bound to the node, so
 * here the graph is kept as counted edges from a node to what its pods
 * reference:
 *     edges:  "NODE\x01T\x01NS/NAME" -> number of pods of NODE naming it
 * (T is an enum node_ref_type letter) and, per pod, the node and the
 * deduplicated references it contributed ("T\x01NS/NAME"), so a pod that
 * moves, changes or goes away takes back exactly what it added.  A
 * PersistentVolume is reached through the claim it is bound to
 * (spec.claimRef); the secrets a PV names for the kubelet (CSI node
 * publish/stage/expand secrets, the in-tree plugins' secretRef) are
 * reached through their PV:
 *     pvs:         "NAME" -> its claim "NS/NAME" and its secrets
 *     secret_pvs:  "NS/NAME" -> the PVs naming that secret
 * so every question is one or a few hash lookups.
 *
 * Pods without spec.nodeName add nothing, as upstream's graph populator.
 * References: spec.serviceAccountName, imagePullSecrets, the env
 * valueFrom and envFrom of every container (init and ephemeral too),
 * volumes (secret, configMap, projected secret/configMap sources,
 * persistentVolumeClaim, ephemeral as the claim "<pod>-<volume>", and the
 * in-tree secretRefs), as upstream's VisitPodSecretNames and
 * VisitPodConfigmapNames.
 *
 * Currency: list at one revision, then watch from it, as rbac.c.
 */
#define _GNU_SOURCE
#include "auth/node.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/hmap.h>
#include <kube/json.h>
#include <kube/log.h>
#include <kube/xalloc.h>

#include "apiserver.h"
#include "auth/rbac_internal.h"
#include "storage/mirror.h"
#include "storage/storage.h"

#define NODE_USER_PREFIX "system:node:"
#define NODES_GROUP "system:nodes"
#define NODE_LEASE_NS "kube-node-lease"

#define PREFIX_PODS "/registry/pods/"
#define PREFIX_PVS "/registry/persistentvolumes/"

struct strv {
  char **v;
  size_t n;
};

struct ng_pod {
  char *node;
  struct strv refs; /* "T\x01NS/NAME", distinct */
};

struct ng_pv {
  char *claim;         /* "NS/NAME" or NULL when unbound */
  struct strv secrets; /* "NS/NAME", distinct */
};

struct node_graph {
  struct apiserver *srv;   /* NULL for node_graph_new_empty */
  struct khmap pods;       /* "NS/NAME" -> struct ng_pod */
  struct khmap pvs;        /* "NAME" -> struct ng_pv */
  struct khmap secret_pvs; /* "NS/NAME" -> struct strv of PV names */
  struct khmap edges;      /* "NODE\x01T\x01NS/NAME" -> count (uintptr_t) */
  struct rbac_rules node_rules;
  struct storage_mirror *mirror; /* NULL for node_graph_new_empty */
};

/* ---- small string sets ---- */

static bool strv_has(const struct strv *s, const char *x)
{
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i], x) == 0) return true;
  return false;
}

/* Adds x (taken) unless present (then freed). */
static void strv_add_take(struct strv *s, char *x)
{
  if (strv_has(s, x)) {
    free(x);
    return;
  }
  s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
  s->v[s->n++] = x;
}

static void strv_remove(struct strv *s, const char *x)
{
  for (size_t i = 0; i < s->n; i++) {
    if (strcmp(s->v[i], x) != 0) continue;
    free(s->v[i]);
    s->v[i] = s->v[--s->n];
    return;
  }
}

static void strv_clear(struct strv *s)
{
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

static void strv_free(void *p)
{
  if (!p) return;
  strv_clear(p);
  free(p);
}

/* ---- node identity ---- */

bool node_identity(const struct auth_user *u, const char **name)
{
  if (!u || !u->name || strncmp(u->name, NODE_USER_PREFIX, strlen(NODE_USER_PREFIX)) != 0) return false;
  if (!auth_user_in_group(u, NODES_GROUP)) return false;
  if (name) *name = u->name + strlen(NODE_USER_PREFIX);
  return true;
}

/* ---- edges ---- */

static char *edge_key(const char *node, const char *ref) { return xasprintf("%s\x01%s", node, ref); }

static void edge_add(struct node_graph *g, const char *node, const char *ref)
{
  char *k = edge_key(node, ref);
  uintptr_t c = (uintptr_t)khmap_get(&g->edges, k);
  khmap_put(&g->edges, k, (void *)(c + 1));
  free(k);
}

static void edge_drop(struct node_graph *g, const char *node, const char *ref)
{
  char *k = edge_key(node, ref);
  uintptr_t c = (uintptr_t)khmap_get(&g->edges, k);
  if (c <= 1) khmap_del(&g->edges, k);
  else khmap_put(&g->edges, k, (void *)(c - 1));
  free(k);
}

static bool edge_has(const struct node_graph *g, const char *node, char type, const char *nsname)
{
  char *k = xasprintf("%s\x01%c\x01%s", node, type, nsname);
  bool has = khmap_get(&g->edges, k) != NULL;
  free(k);
  return has;
}

/* ---- pod references ---- */

static void ref_add(struct strv *refs, char type, const char *ns, const char *name)
{
  if (!name || !*name) return;
  strv_add_take(refs, xasprintf("%c\x01%s/%s", type, ns, name));
}

static void container_refs(const json_t *containers, const char *ns, struct strv *refs)
{
  size_t i, j;
  json_t *c, *e;
  json_array_foreach (containers, i, c) {
    json_array_foreach (json_object_get(c, "env"), j, e) {
      ref_add(refs, NODE_REF_SECRET, ns, kj_get_str(e, "valueFrom.secretKeyRef.name"));
      ref_add(refs, NODE_REF_CONFIGMAP, ns, kj_get_str(e, "valueFrom.configMapKeyRef.name"));
    }
    json_array_foreach (json_object_get(c, "envFrom"), j, e) {
      ref_add(refs, NODE_REF_SECRET, ns, kj_get_str(e, "secretRef.name"));
      ref_add(refs, NODE_REF_CONFIGMAP, ns, kj_get_str(e, "configMapRef.name"));
    }
  }
}

/* In-tree volume plugins naming a secret of the pod's namespace. */
static const char *const POD_VOLUME_SECRET_PATHS[] = {
    "secret.secretName",
    "azureFile.secretName",
    "cephfs.secretRef.name",
    "cinder.secretRef.name",
    "flexVolume.secretRef.name",
    "rbd.secretRef.name",
    "scaleIO.secretRef.name",
    "iscsi.secretRef.name",
    "storageos.secretRef.name",
    "csi.nodePublishSecretRef.name",
    NULL,
};

static void volume_refs(const json_t *v, const char *ns, const char *pod, struct strv *refs)
{
  for (const char *const *p = POD_VOLUME_SECRET_PATHS; *p; p++) ref_add(refs, NODE_REF_SECRET, ns, kj_get_str(v, *p));
  ref_add(refs, NODE_REF_CONFIGMAP, ns, kj_get_str(v, "configMap.name"));
  size_t i;
  json_t *src;
  json_array_foreach (kj_get(v, "projected.sources"), i, src) {
    ref_add(refs, NODE_REF_SECRET, ns, kj_get_str(src, "secret.name"));
    ref_add(refs, NODE_REF_CONFIGMAP, ns, kj_get_str(src, "configMap.name"));
  }
  ref_add(refs, NODE_REF_PVC, ns, kj_get_str(v, "persistentVolumeClaim.claimName"));
  const char *vname = kj_get_str(v, "name");
  if (json_is_object(json_object_get(v, "ephemeral")) && vname) {
    char *claim = xasprintf("%s-%s", pod, vname);
    ref_add(refs, NODE_REF_PVC, ns, claim);
    free(claim);
  }
}

static void pod_refs(const json_t *pod, struct strv *refs)
{
  const char *ns = kj_get_str(pod, "metadata.namespace");
  const char *name = kj_get_str(pod, "metadata.name");
  if (!ns) ns = "";
  if (!name) name = "";
  const json_t *spec = json_object_get(pod, "spec");
  ref_add(refs, NODE_REF_SERVICEACCOUNT, ns, kj_get_str(spec, "serviceAccountName"));
  size_t i;
  json_t *x;
  json_array_foreach (json_object_get(spec, "imagePullSecrets"), i, x)
    ref_add(refs, NODE_REF_SECRET, ns, kj_get_str(x, "name"));
  container_refs(json_object_get(spec, "initContainers"), ns, refs);
  container_refs(json_object_get(spec, "containers"), ns, refs);
  container_refs(json_object_get(spec, "ephemeralContainers"), ns, refs);
  json_array_foreach (json_object_get(spec, "volumes"), i, x) volume_refs(x, ns, name, refs);
}

bool node_pod_refers(const json_t *pod, enum node_ref_type type)
{
  struct strv refs = {0};
  pod_refs(pod, &refs);
  bool any = false;
  for (size_t i = 0; i < refs.n && !any; i++) any = refs.v[i][0] == (char)type;
  strv_clear(&refs);
  return any;
}

/* ---- pods ---- */

static void pod_free(void *p)
{
  struct ng_pod *pod = p;
  if (!pod) return;
  free(pod->node);
  strv_clear(&pod->refs);
  free(pod);
}

static void pod_unlink(struct node_graph *g, const char *key)
{
  struct ng_pod *old = khmap_del(&g->pods, key);
  if (!old) return;
  for (size_t i = 0; i < old->refs.n; i++) edge_drop(g, old->node, old->refs.v[i]);
  pod_free(old);
}

static void pod_put_key(struct node_graph *g, const char *key, const json_t *obj)
{
  pod_unlink(g, key);
  const char *node = kj_get_str(obj, "spec.nodeName");
  if (!node || !*node) return;
  struct ng_pod *p = xcalloc(1, sizeof(*p));
  p->node = xstrdup(node);
  pod_refs(obj, &p->refs);
  for (size_t i = 0; i < p->refs.n; i++) edge_add(g, p->node, p->refs.v[i]);
  khmap_put(&g->pods, key, p);
}

void node_graph_put_pod(struct node_graph *g, const json_t *pod)
{
  const char *ns = kj_get_str(pod, "metadata.namespace"), *name = kj_get_str(pod, "metadata.name");
  if (!g || !ns || !name) return;
  char *key = xasprintf("%s/%s", ns, name);
  pod_put_key(g, key, pod);
  free(key);
}

void node_graph_del_pod(struct node_graph *g, const char *ns, const char *name)
{
  if (!g || !ns || !name) return;
  char *key = xasprintf("%s/%s", ns, name);
  pod_unlink(g, key);
  free(key);
}

size_t node_graph_pod_count(const struct node_graph *g) { return g ? g->pods.n : 0; }

/* ---- persistent volumes ---- */

static void pv_free(void *p)
{
  struct ng_pv *pv = p;
  if (!pv) return;
  free(pv->claim);
  strv_clear(&pv->secrets);
  free(pv);
}

static void pv_unlink(struct node_graph *g, const char *name)
{
  struct ng_pv *old = khmap_del(&g->pvs, name);
  if (!old) return;
  for (size_t i = 0; i < old->secrets.n; i++) {
    struct strv *s = khmap_get(&g->secret_pvs, old->secrets.v[i]);
    if (!s) continue;
    strv_remove(s, name);
    if (!s->n) strv_free(khmap_del(&g->secret_pvs, old->secrets.v[i]));
  }
  pv_free(old);
}

/* A PV's secret reference {name, namespace} (namespace defaulting to
 * def), as "NS/NAME" into out. */
static void pv_secret(const json_t *ref, const char *def, struct strv *out)
{
  const char *name = kj_get_str(ref, "name");
  if (!name || !*name) return;
  const char *ns = kj_get_str(ref, "namespace");
  strv_add_take(out, xasprintf("%s/%s", ns && *ns ? ns : def, name));
}

static void pv_secrets(const json_t *spec, const char *claim_ns, struct strv *out)
{
  static const char *const refs[] = {"csi.nodePublishSecretRef",
                                     "csi.nodeStageSecretRef",
                                     "csi.nodeExpandSecretRef",
                                     "cephfs.secretRef",
                                     "cinder.secretRef",
                                     "flexVolume.secretRef",
                                     "rbd.secretRef",
                                     "scaleIO.secretRef",
                                     "iscsi.secretRef",
                                     "storageos.secretRef",
                                     NULL};
  for (const char *const *r = refs; *r; r++) pv_secret(kj_get(spec, *r), claim_ns, out);
  const char *az = kj_get_str(spec, "azureFile.secretName");
  if (az && *az) {
    const char *ns = kj_get_str(spec, "azureFile.secretNamespace");
    strv_add_take(out, xasprintf("%s/%s", ns && *ns ? ns : "default", az));
  }
}

static void pv_put_name(struct node_graph *g, const char *name, const json_t *obj)
{
  pv_unlink(g, name);
  const char *cns = kj_get_str(obj, "spec.claimRef.namespace"), *cname = kj_get_str(obj, "spec.claimRef.name");
  if (!cns || !cname || !*cname) return;
  struct ng_pv *pv = xcalloc(1, sizeof(*pv));
  pv->claim = xasprintf("%s/%s", cns, cname);
  pv_secrets(json_object_get(obj, "spec"), cns, &pv->secrets);
  for (size_t i = 0; i < pv->secrets.n; i++) {
    struct strv *s = khmap_get(&g->secret_pvs, pv->secrets.v[i]);
    if (!s) {
      s = xcalloc(1, sizeof(*s));
      khmap_put(&g->secret_pvs, pv->secrets.v[i], s);
    }
    strv_add_take(s, xstrdup(name));
  }
  khmap_put(&g->pvs, name, pv);
}

void node_graph_put_pv(struct node_graph *g, const json_t *pv)
{
  const char *name = kj_get_str(pv, "metadata.name");
  if (g && name) pv_put_name(g, name, pv);
}

void node_graph_del_pv(struct node_graph *g, const char *name)
{
  if (g && name) pv_unlink(g, name);
}

/* ---- questions ---- */

static bool pv_reaches(const struct node_graph *g, const char *node, const char *pvname)
{
  const struct ng_pv *pv = khmap_get(&g->pvs, pvname);
  return pv && pv->claim && edge_has(g, node, NODE_REF_PVC, pv->claim);
}

bool node_graph_has_path(const struct node_graph *g, const char *node, enum node_ref_type type, const char *ns,
                         const char *name)
{
  if (!g || !node || !*node || !name || !*name) return false;
  if (type == NODE_REF_PV) return pv_reaches(g, node, name);
  char *nsname = xasprintf("%s/%s", ns ? ns : "", name);
  bool has = edge_has(g, node, (char)type, nsname);
  if (!has && type == NODE_REF_SECRET) {
    const struct strv *s = khmap_get(&g->secret_pvs, nsname);
    for (size_t i = 0; s && i < s->n && !has; i++) has = pv_reaches(g, node, s->v[i]);
  }
  free(nsname);
  return has;
}

/* ---- the authorizer (upstream NodeAuthorizer.Authorize) ---- */

static enum authz_decision deny(char *reason, size_t len, const char *fmt, const char *arg)
{
  if (reason && len) snprintf(reason, len, fmt, arg);
  return AUTHZ_NO_OPINION;
}

#define NO_RELATIONSHIP "no relationship found between node '%s' and this object"

static enum authz_decision path_or_deny(const struct node_graph *g, const char *node, enum node_ref_type t,
                                        const struct authz_attrs *a, char *reason, size_t len)
{
  if (!a->name || !*a->name) return deny(reason, len, "No Object name found%s", "");
  if (node_graph_has_path(g, node, t, a->ns, a->name)) return AUTHZ_ALLOW;
  KLOG_V(2, "NODE DENY: '%s' %s %s %s/%s", node, a->verb, a->resource, a->ns ? a->ns : "", a->name);
  return deny(reason, len, NO_RELATIONSHIP, node);
}

static bool has_sub(const struct authz_attrs *a) { return a->subresource && *a->subresource; }

static bool is_verb(const struct authz_attrs *a, const char *const *verbs)
{
  for (; *verbs; verbs++)
    if (strcmp(a->verb, *verbs) == 0) return true;
  return false;
}

/* secrets, configmaps */
static enum authz_decision read_namespaced(const struct node_graph *g, const char *node, enum node_ref_type t,
                                           const struct authz_attrs *a, char *reason, size_t len)
{
  static const char *const verbs[] = {"get", "list", "watch", NULL};
  if (!is_verb(a, verbs)) return deny(reason, len, "can only read resources of this type%s", "");
  if (has_sub(a)) return deny(reason, len, "cannot read subresource%s", "");
  if (!a->ns || !*a->ns) return deny(reason, len, "can only read namespaced object of this type%s", "");
  return path_or_deny(g, node, t, a, reason, len);
}

/* persistentvolumeclaims, persistentvolumes */
static enum authz_decision get_only(const struct node_graph *g, const char *node, enum node_ref_type t,
                                    const struct authz_attrs *a, char *reason, size_t len)
{
  if (strcmp(a->verb, "get") != 0) return deny(reason, len, "can only get individual resources of this type%s", "");
  if (has_sub(a)) return deny(reason, len, "cannot get subresource%s", "");
  return path_or_deny(g, node, t, a, reason, len);
}

static enum authz_decision pvc_status(const struct node_graph *g, const char *node, const struct authz_attrs *a,
                                      char *reason, size_t len)
{
  static const char *const verbs[] = {"update", "patch", NULL};
  if (!is_verb(a, verbs)) return deny(reason, len, "can only get/update/patch this type%s", "");
  return path_or_deny(g, node, NODE_REF_PVC, a, reason, len);
}

static enum authz_decision create_token(const struct node_graph *g, const char *node, const struct authz_attrs *a,
                                        char *reason, size_t len)
{
  if (strcmp(a->verb, "create") != 0 || !a->name || !*a->name)
    return deny(reason, len, "can only create tokens for individual service accounts%s", "");
  if (!a->subresource || strcmp(a->subresource, "token") != 0)
    return deny(reason, len, "can only create token subresource of serviceaccount%s", "");
  return path_or_deny(g, node, NODE_REF_SERVICEACCOUNT, a, reason, len);
}

static const char *const OWN_OBJECT_VERBS[] = {"get", "create", "update", "patch", "delete", NULL};

static enum authz_decision lease(const char *node, const struct authz_attrs *a, char *reason, size_t len)
{
  if (!is_verb(a, OWN_OBJECT_VERBS))
    return deny(reason, len, "can only get, create, update, patch, or delete a node lease%s", "");
  if (!a->ns || strcmp(a->ns, NODE_LEASE_NS) != 0)
    return deny(reason, len, "can only access leases in the \"%s\" system namespace", NODE_LEASE_NS);
  /* create: the name is checked by NodeRestriction admission */
  if (strcmp(a->verb, "create") != 0 && (!a->name || strcmp(a->name, node) != 0))
    return deny(reason, len, "can only access node lease with the same name as the requesting node%s", "");
  return AUTHZ_ALLOW;
}

static enum authz_decision csinode(const char *node, const struct authz_attrs *a, char *reason, size_t len)
{
  if (!is_verb(a, OWN_OBJECT_VERBS))
    return deny(reason, len, "can only get, create, update, patch, or delete a CSINode%s", "");
  if (has_sub(a)) return deny(reason, len, "cannot authorize CSINode subresources%s", "");
  if (strcmp(a->verb, "create") != 0 && (!a->name || strcmp(a->name, node) != 0))
    return deny(reason, len, "can only access CSINode with the same name as the requesting node%s", "");
  return AUTHZ_ALLOW;
}

static bool is_res(const struct authz_attrs *a, const char *group, const char *resource)
{
  return strcmp(a->api_group ? a->api_group : "", group) == 0 && a->resource && strcmp(a->resource, resource) == 0;
}

/* The subdivided resources; -1 when a's resource is not one of them. */
static int subdivided(const struct node_graph *g, const char *node, const struct authz_attrs *a, char *reason,
                      size_t len)
{
  if (is_res(a, "", "secrets")) return (int)read_namespaced(g, node, NODE_REF_SECRET, a, reason, len);
  if (is_res(a, "", "configmaps")) return (int)read_namespaced(g, node, NODE_REF_CONFIGMAP, a, reason, len);
  if (is_res(a, "", "persistentvolumeclaims")) {
    if (a->subresource && strcmp(a->subresource, "status") == 0) return (int)pvc_status(g, node, a, reason, len);
    return (int)get_only(g, node, NODE_REF_PVC, a, reason, len);
  }
  if (is_res(a, "", "persistentvolumes")) return (int)get_only(g, node, NODE_REF_PV, a, reason, len);
  if (is_res(a, "", "serviceaccounts")) return (int)create_token(g, node, a, reason, len);
  if (is_res(a, "coordination.k8s.io", "leases")) return (int)lease(node, a, reason, len);
  if (is_res(a, "storage.k8s.io", "csinodes")) return (int)csinode(node, a, reason, len);
  return -1;
}

enum authz_decision node_authorize(const struct node_graph *g, const struct authz_attrs *a, char *reason,
                                   size_t reasonlen)
{
  if (reason && reasonlen) reason[0] = '\0';
  const char *node = NULL;
  if (!g || !a || !node_identity(a->user, &node)) return AUTHZ_NO_OPINION;
  if (!*node) return deny(reason, reasonlen, "unknown node for user \"%s\"", a->user->name);
  if (a->resource_request) {
    int d = subdivided(g, node, a, reason, reasonlen);
    if (d >= 0) return (enum authz_decision)d;
  }
  for (size_t i = 0; i < g->node_rules.n; i++)
    if (rbac_rule_allows(&g->node_rules.v[i], a)) return AUTHZ_ALLOW;
  return AUTHZ_NO_OPINION;
}

/* ---- storage: list, then watch (storage/mirror.h) ---- */

static const char *const mirror_prefixes[] = {PREFIX_PODS, PREFIX_PVS};

static void mirror_apply(void *arg, size_t which, const char *rest, const json_t *obj)
{
  struct node_graph *g = arg;
  bool pod = which == 0;
  if (!obj) {
    if (pod) pod_unlink(g, rest);
    else pv_unlink(g, rest);
  } else if (pod) {
    pod_put_key(g, rest, obj);
  } else {
    pv_put_name(g, rest, obj);
  }
}

static void graph_clear(void *arg)
{
  struct node_graph *g = arg;
  khmap_clear(&g->pods, pod_free);
  khmap_clear(&g->pvs, pv_free);
  khmap_clear(&g->secret_pvs, strv_free);
  khmap_clear(&g->edges, NULL);
}

/* Upstream's node rules: the system:node ClusterRole of the bootstrap
 * policy. */
static void load_node_rules(struct node_graph *g)
{
  json_t *roles = rbac_bootstrap_cluster_roles();
  size_t i;
  json_t *r;
  json_array_foreach (roles, i, r) {
    const char *name = kj_get_str(r, "metadata.name");
    if (name && strcmp(name, "system:node") == 0) rbac_rules_parse(json_object_get(r, "rules"), &g->node_rules);
  }
  json_decref(roles);
}

struct node_graph *node_graph_new_empty(void)
{
  struct node_graph *g = xcalloc(1, sizeof(*g));
  load_node_rules(g);
  return g;
}

struct node_graph *node_graph_new(struct apiserver *srv)
{
  if (!srv || !srv->storage) return NULL;
  struct node_graph *g = node_graph_new_empty();
  g->srv = srv;
  int err = 0;
  g->mirror = storage_mirror_new(srv->storage, mirror_prefixes, 2, mirror_apply, graph_clear, g, "node authorizer", &err);
  if (!g->mirror) {
    KLOG_E("node authorizer: loading pods and persistent volumes: %d", err);
    node_graph_free(g);
    return NULL;
  }
  KLOG_I("node authorizer: %zu bound pods, %zu bound persistent volumes", g->pods.n, g->pvs.n);
  return g;
}

void node_graph_free(struct node_graph *g)
{
  if (!g) return;
  storage_mirror_free(g->mirror);
  graph_clear(g);
  rbac_rules_free(&g->node_rules);
  free(g);
}
