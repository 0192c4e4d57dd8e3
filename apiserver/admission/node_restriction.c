/*
 * node_restriction.c - the NodeRestriction admission plugin (upstream
 * plugin/pkg/admission/noderestriction).
 *
 * Applies only to writes made by a node's credential (auth/node.h
 * node_identity: user system:node:NAME in system:nodes) on the secure
 * port; the insecure port (rq->auth NULL) and every other user pass.  A
 * node may:
 *   - create, update and delete only its own Node, without changing its
 *     taints, and without setting, changing or removing labels in the
 *     node-restriction.kubernetes.io/ namespace or any kubernetes.io /
 *     k8s.io label that is not a kubelet label (upstream's kubelet label
 *     list and the kubelet.kubernetes.io/, node.kubernetes.io/ prefixes);
 *   - create only mirror pods bound to itself, owned by its Node (API
 *     version v1, kind Node, its name and UID, controller, no
 *     blockOwnerDeletion) and referring to no service account, secret,
 *     configmap, cluster trust bundle or claim; delete only pods bound to
 *     itself; update only the status of pods bound to itself, without
 *     changing their labels; evict only pods bound to itself; no other
 *     pod subresource;
 *   - ask a service account token only bound to a pod (name and UID)
 *     scheduled on itself;
 *   - write only the status of claims, changing only status.capacity,
 *     status.conditions and the expansion's allocatedResources(Statuses)
 *     (the refusal lists the other changed fields where upstream prints
 *     a Go cmp.Diff);
 *   - write only its own Lease in kube-node-lease and its own CSINode.
 * Messages are upstream's, in a 403 `RESOURCE "NAME" is forbidden: ...`.
 * Runs for the main resource and subresources alike (admission.c calls it
 * before the other plugins, and from admission_delete; eviction.c and
 * token.c call it for pods/eviction and serviceaccounts/token).
 */
#define _GNU_SOURCE
#include "admission/admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/status.h>
#include <kube/xalloc.h>

#include "apiserver.h"
#include "auth/node.h"
#include "registry/registry.h"

#define MIRROR_POD_ANNOTATION "kubernetes.io/config.mirror"
#define NODE_LEASE_NS "kube-node-lease"

static bool is_verb(const struct reg_request *rq, const char *v) { return rq->verb && strcmp(rq->verb, v) == 0; }
static bool is_update(const struct reg_request *rq) { return is_verb(rq, "update") || is_verb(rq, "patch"); }
static const char *sub(const struct reg_request *rq) { return rq->subresource ? rq->subresource : ""; }

/* The name the request acts on: the URL's, else (create) the object's. */
static const char *req_name(const struct reg_request *rq, const json_t *obj)
{
  if (rq->name && *rq->name) return rq->name;
  const char *n = obj ? kj_get_str(obj, "metadata.name") : NULL;
  return n ? n : "";
}

/* Go's %q of an operation: "CREATE", "UPDATE", "DELETE". */
static const char *operation(const struct reg_request *rq)
{
  if (is_verb(rq, "create")) return "CREATE";
  if (is_update(rq)) return "UPDATE";
  if (is_verb(rq, "delete")) return "DELETE";
  return "CONNECT";
}

/* ---- labels ---- */

static const char *const KUBELET_LABELS[] = {
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type",
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
    NULL,
};
static const char *const KUBELET_LABEL_NAMESPACES[] = {"kubelet.kubernetes.io", "node.kubernetes.io", NULL};

/* The label's prefix (before '/'), into buf; "" when none. */
static const char *label_namespace(const char *key, char *buf, size_t len)
{
  const char *slash = strchr(key, '/');
  size_t n = slash ? (size_t)(slash - key) : 0;
  if (n >= len) n = len - 1;
  memcpy(buf, key, n);
  buf[n] = '\0';
  return buf;
}

static bool in_domain(const char *ns, const char *domain)
{
  size_t l = strlen(ns), d = strlen(domain);
  return strcmp(ns, domain) == 0 || (l > d && ns[l - d - 1] == '.' && strcmp(ns + l - d, domain) == 0);
}

static bool kubelet_label(const char *key, const char *ns)
{
  for (const char *const *l = KUBELET_LABELS; *l; l++)
    if (strcmp(*l, key) == 0) return true;
  for (const char *const *n = KUBELET_LABEL_NAMESPACES; *n; n++)
    if (in_domain(ns, *n)) return true;
  return false;
}

static bool forbidden_label(const char *key)
{
  char buf[256];
  const char *ns = label_namespace(key, buf, sizeof buf);
  if (in_domain(ns, "node-restriction.kubernetes.io")) return true;
  bool k8s = in_domain(ns, "kubernetes.io") || in_domain(ns, "k8s.io");
  return k8s && !kubelet_label(key, ns);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Labels added, removed or changed between a and b (either may be NULL)
 * that a node may not touch, sorted and joined by ", "; NULL when none.
 * New string. */
static char *forbidden_modified_labels(const json_t *a, const json_t *b)
{
  const char **v = NULL;
  size_t n = 0;
  const json_t *sides[2] = {a, b};
  for (int s = 0; s < 2; s++) {
    const char *k;
    json_t *val;
    json_object_foreach ((json_t *)sides[s], k, val) {
      json_t *other = json_object_get(sides[1 - s], k);
      if (other && kj_equal(other, val)) continue;
      if (!forbidden_label(k)) continue;
      bool dup = false;
      for (size_t i = 0; i < n && !dup; i++) dup = strcmp(v[i], k) == 0;
      if (dup) continue;
      v = xrealloc(v, (n + 1) * sizeof(*v));
      v[n++] = k;
    }
  }
  if (!n) return NULL;
  qsort(v, n, sizeof(*v), cmp_str);
  size_t len = 1;
  for (size_t i = 0; i < n; i++) len += strlen(v[i]) + 2;
  char *out = xmalloc(len);
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (i) strcat(out, ", ");
    strcat(out, v[i]);
  }
  free(v);
  return out;
}

/* ---- nodes ---- */

static json_t *admit_node(struct reg_request *rq, const struct resource *res, const char *node, const json_t *obj,
                          const json_t *old)
{
  const char *name = req_name(rq, obj);
  if (strcmp(name, node) != 0)
    return adm_forbidden(res, name, "node \"%s\" is not allowed to modify node \"%s\"", node, name);
  char *bad = NULL;
  json_t *st = NULL;
  if (is_verb(rq, "create") && obj) {
    if (kj_get(obj, "spec.configSource"))
      return adm_forbidden(res, name, "node \"%s\" is not allowed to create pods with a non-nil configSource", node);
    if ((bad = forbidden_modified_labels(kj_get(obj, "metadata.labels"), NULL)))
      st = adm_forbidden(res, name, "node \"%s\" is not allowed to set the following labels: %s", node, bad);
  } else if (is_update(rq) && obj && old) {
    const json_t *cs = kj_get(obj, "spec.configSource");
    const json_t *taints = kj_get(obj, "spec.taints"), *otaints = kj_get(old, "spec.taints");
    if (cs && !json_is_null(cs) && !kj_equal(cs, kj_get(old, "spec.configSource")))
      return adm_forbidden(res, name, "node \"%s\" is not allowed to update configSource to a new non-nil configSource",
                           node);
    bool tempty = !taints || json_array_size(taints) == 0, otempty = !otaints || json_array_size(otaints) == 0;
    if (!(tempty && otempty) && !(taints && otaints && kj_equal(taints, otaints)))
      return adm_forbidden(res, name, "node \"%s\" is not allowed to modify taints", node);
    if ((bad = forbidden_modified_labels(kj_get(obj, "metadata.labels"), kj_get(old, "metadata.labels"))))
      st = adm_forbidden(res, name, "is not allowed to modify labels: %s", bad);
  }
  free(bad);
  return st;
}

/* ---- pods ---- */

static bool pod_references_any(const json_t *pod, const char *what);
static json_t *stored_pod(struct reg_request *rq, const char *name);

static json_t *mirror_owner(const struct reg_request *rq, const struct resource *res, const char *name,
                            const char *node, const json_t *pod)
{
  const json_t *owners = kj_get(pod, "metadata.ownerReferences");
  size_t n = json_is_array(owners) ? json_array_size(owners) : 0;
  if (n > 1)
    return adm_forbidden(res, name, "node \"%s\" can only create pods with a single owner reference set to itself",
                         node);
  const json_t *o = n ? json_array_get(owners, 0) : NULL;
  const char *av = kj_get_str(o, "apiVersion"), *kind = kj_get_str(o, "kind"), *oname = kj_get_str(o, "name");
  if (!o || !av || strcmp(av, "v1") || !kind || strcmp(kind, "Node") || !oname || strcmp(oname, node))
    return adm_forbidden(res, name, "node \"%s\" can only create pods with an owner reference set to itself", node);
  if (!json_is_true(json_object_get(o, "controller")))
    return adm_forbidden(res, name, "node \"%s\" can only create pods with a controller owner reference set to itself",
                         node);
  if (json_is_true(json_object_get(o, "blockOwnerDeletion")))
    return adm_forbidden(res, name, "node \"%s\" must not set blockOwnerDeletion on an owner reference", node);
  char key[600];
  snprintf(key, sizeof key, "/registry/minions/%s", node);
  json_t *nobj = adm_get(rq->srv, key);
  if (!nobj) return kstatus_not_found("", "nodes", node);
  const char *uid = kj_get_str(nobj, "metadata.uid"), *ouid = kj_get_str(o, "uid");
  json_t *st = NULL;
  if (!uid || !ouid || strcmp(uid, ouid) != 0)
    st = adm_forbidden(res, name, "node %s UID mismatch: expected %s got %s", node, ouid ? ouid : "", uid ? uid : "");
  json_decref(nobj);
  return st;
}

static json_t *admit_pod_create(struct reg_request *rq, const struct resource *res, const char *node, const json_t *pod)
{
  const char *name = req_name(rq, pod);
  if (!json_object_get(kj_get(pod, "metadata.annotations"), MIRROR_POD_ANNOTATION))
    return adm_forbidden(res, name, "pod does not have \"%s\" annotation, node \"%s\" can only create mirror pods",
                         MIRROR_POD_ANNOTATION, node);
  const char *pn = kj_get_str(pod, "spec.nodeName");
  if (!pn || strcmp(pn, node) != 0)
    return adm_forbidden(res, name, "node \"%s\" can only create pods with spec.nodeName set to itself", node);
  json_t *st = mirror_owner(rq, res, name, node, pod);
  if (st) return st;
  const char *sa = kj_get_str(pod, "spec.serviceAccountName");
  if (sa && *sa)
    return adm_forbidden(res, name, "node \"%s\" can not create pods that reference a service account", node);
  static const char *const kinds[] = {"secrets", "configmaps", "clustertrustbundles", "persistentvolumeclaims", NULL};
  for (const char *const *k = kinds; *k; k++)
    if (pod_references_any(pod, *k))
      return adm_forbidden(res, name, "node \"%s\" can not create pods that reference %s", node, *k);
  return NULL;
}

/* Does the pod refer to any object of the kind (plural), as upstream's
 * visitors?  Secrets and configmaps as the Node authorizer sees them. */
static bool pod_references_any(const json_t *pod, const char *what)
{
  const json_t *spec = json_object_get(pod, "spec");
  size_t i;
  json_t *v;
  if (strcmp(what, "clustertrustbundles") == 0) {
    json_array_foreach (json_object_get(spec, "volumes"), i, v) {
      size_t j;
      json_t *src;
      json_array_foreach (kj_get(v, "projected.sources"), j, src)
        if (json_object_get(src, "clusterTrustBundle")) return true;
    }
    return false;
  }
  if (strcmp(what, "persistentvolumeclaims") == 0) {
    json_array_foreach (json_object_get(spec, "volumes"), i, v)
      if (json_object_get(v, "persistentVolumeClaim")) return true;
    return false;
  }
  return node_pod_refers(pod, strcmp(what, "secrets") == 0 ? NODE_REF_SECRET : NODE_REF_CONFIGMAP);
}

static json_t *admit_pod_delete(struct reg_request *rq, const struct resource *res, const char *node)
{
  json_t *pod = stored_pod(rq, rq->name ? rq->name : "");
  if (!pod) return kstatus_not_found("", "pods", rq->name ? rq->name : "");
  const char *pn = kj_get_str(pod, "spec.nodeName");
  json_t *st = NULL;
  if (!pn || strcmp(pn, node) != 0)
    st = adm_forbidden(res, rq->name, "node \"%s\" can only delete pods with spec.nodeName set to itself", node);
  json_decref(pod);
  return st;
}

static json_t *admit_pod_status(struct reg_request *rq, const struct resource *res, const char *node, const json_t *obj,
                                const json_t *old)
{
  const char *name = req_name(rq, obj);
  if (!is_update(rq) || !old || !obj) return adm_forbidden(res, name, "unexpected operation \"%s\"", operation(rq));
  const char *pn = kj_get_str(old, "spec.nodeName");
  if (!pn || strcmp(pn, node) != 0)
    return adm_forbidden(res, name, "node \"%s\" can only update pod status for pods with spec.nodeName set to itself",
                         node);
  const json_t *l = kj_get(obj, "metadata.labels"), *ol = kj_get(old, "metadata.labels");
  bool empty = !l || json_object_size(l) == 0, oempty = !ol || json_object_size(ol) == 0;
  if (!(empty && oempty) && !(l && ol && kj_equal(l, ol)))
    return adm_forbidden(res, name, "node \"%s\" cannot update labels through pod status", node);
  return NULL;
}

/* The stored pod NAME of the request's namespace, or NULL; new reference. */
static json_t *stored_pod(struct reg_request *rq, const char *name)
{
  char key[600];
  snprintf(key, sizeof key, "%s/%s/%s", reg_pods.storage_prefix, rq->namespace_ ? rq->namespace_ : "", name);
  return adm_get(rq->srv, key);
}

static json_t *admit_pod_eviction(struct reg_request *rq, const struct resource *res, const char *node,
                                  const json_t *obj)
{
  const char *name = rq->name && *rq->name ? rq->name : obj ? kj_get_str(obj, "metadata.name") : NULL;
  if (!is_verb(rq, "create")) return adm_forbidden(res, name, "unexpected operation %s", operation(rq));
  if (!name || !*name) return adm_forbidden(res, "", "could not determine pod from request data");
  json_t *pod = stored_pod(rq, name);
  if (!pod) return kstatus_not_found("", "pods", name);
  const char *pn = kj_get_str(pod, "spec.nodeName");
  json_t *st = NULL;
  if (!pn || strcmp(pn, node) != 0)
    st = adm_forbidden(res, name, "node %s can only evict pods with spec.nodeName set to itself", node);
  json_decref(pod);
  return st;
}

static json_t *admit_pod(struct reg_request *rq, const struct resource *res, const char *node, const json_t *obj,
                         const json_t *old)
{
  const char *s = sub(rq);
  if (strcmp(s, "status") == 0) return admit_pod_status(rq, res, node, obj, old);
  if (strcmp(s, "eviction") == 0) return admit_pod_eviction(rq, res, node, obj);
  if (*s)
    return adm_forbidden(res, req_name(rq, obj),
                         "unexpected pod subresource \"%s\", only 'status' and 'eviction' are allowed", s);
  if (is_verb(rq, "create")) return admit_pod_create(rq, res, node, obj);
  if (is_verb(rq, "delete")) return admit_pod_delete(rq, res, node);
  return adm_forbidden(res, req_name(rq, obj),
                       "unexpected operation \"%s\", node \"%s\" can only create and delete mirror pods", operation(rq),
                       node);
}

/* ---- service account tokens ---- */

/* A node's TokenRequest must be bound to a pod (by name and UID) that is
 * scheduled on the node. */
static json_t *admit_token(struct reg_request *rq, const struct resource *res, const char *node, const json_t *tr)
{
  if (!is_verb(rq, "create") || strcmp(sub(rq), "token") != 0) return NULL;
  const char *name = rq->name ? rq->name : "";
  const json_t *ref = kj_get(tr, "spec.boundObjectRef");
  const char *av = kj_get_str(ref, "apiVersion"), *kind = kj_get_str(ref, "kind");
  const char *pname = kj_get_str(ref, "name"), *uid = kj_get_str(ref, "uid");
  if (!av || strcmp(av, "v1") || !kind || strcmp(kind, "Pod") || !pname || !*pname)
    return adm_forbidden(res, name, "node requested token not bound to a pod");
  if (!uid || !*uid) return adm_forbidden(res, name, "node requested token with a pod binding without a uid");
  json_t *pod = stored_pod(rq, pname);
  if (!pod) return kstatus_not_found("", "pods", pname);
  const char *have = kj_get_str(pod, "metadata.uid"), *pn = kj_get_str(pod, "spec.nodeName");
  json_t *st = NULL;
  if (!have || strcmp(have, uid) != 0)
    st = adm_forbidden(res, name,
                       "the UID in the bound object reference (%s) does not match the UID in record. The object might "
                       "have been deleted and then recreated",
                       uid);
  else if (!pn || strcmp(pn, node) != 0)
    st = adm_forbidden(res, name, "node requested token bound to a pod scheduled on a different node");
  json_decref(pod);
  return st;
}

/* ---- persistent volume claims ---- */

/* Appends to buf the dotted paths (two levels deep) where a and b differ. */
static void diff_paths(const json_t *a, const json_t *b, const char *prefix, int depth, char *buf, size_t len)
{
  const json_t *sides[2] = {a, b};
  for (int s = 0; s < 2; s++) {
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)sides[s], k, v) {
      json_t *o = json_object_get(sides[1 - s], k);
      if (s == 1 && o) continue; /* keys in both were compared from a */
      if (o && kj_equal(o, v)) continue;
      char path[256];
      snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", k);
      if (o && depth < 1 && json_is_object(o) && json_is_object(v)) {
        diff_paths(s ? o : v, s ? v : o, path, depth + 1, buf, len);
        continue;
      }
      size_t l = strlen(buf);
      snprintf(buf + l, len - l, "%s%s", l ? ", " : "", path);
    }
  }
}

/* A node may change only status.capacity, status.conditions and the
 * expansion's allocatedResources / allocatedResourceStatuses. */
static json_t *admit_pvc(struct reg_request *rq, const struct resource *res, const char *node, const json_t *obj,
                         const json_t *old)
{
  const char *name = req_name(rq, obj);
  if (strcmp(sub(rq), "status") != 0) return adm_forbidden(res, name, "may only update PVC status");
  if (!is_update(rq) || !obj || !old) return adm_forbidden(res, name, "unexpected operation \"%s\"", operation(rq));
  json_t *o = json_deep_copy(old), *n = json_deep_copy(obj);
  static const char *const ignored[] = {"metadata.resourceVersion",
                                        "metadata.managedFields",
                                        "status.capacity",
                                        "status.conditions",
                                        "status.allocatedResources",
                                        "status.allocatedResourceStatuses",
                                        NULL};
  for (const char *const *p = ignored; *p; p++) {
    kj_del(o, *p);
    kj_del(n, *p);
  }
  json_t *st = NULL;
  if (!kj_equal(o, n)) {
    char changed[1024] = "";
    diff_paths(o, n, "", 0, changed, sizeof changed);
    st = adm_forbidden(res, name,
                       "node \"%s\" is not allowed to update fields other than status.capacity and status.conditions: "
                       "changed %s",
                       node, changed);
  }
  json_decref(o);
  json_decref(n);
  return st;
}

/* ---- leases, CSINodes ---- */

static json_t *admit_own_named(struct reg_request *rq, const struct resource *res, const char *node, const json_t *obj,
                               const char *what)
{
  const char *name = req_name(rq, obj);
  if (strcmp(name, node) != 0)
    return adm_forbidden(res, name, "can only access %s with the same name as the requesting node", what);
  return NULL;
}

static json_t *admit_lease(struct reg_request *rq, const struct resource *res, const char *node, const json_t *obj)
{
  if (!rq->namespace_ || strcmp(rq->namespace_, NODE_LEASE_NS) != 0)
    return adm_forbidden(res, req_name(rq, obj), "can only access leases in the \"%s\" system namespace",
                         NODE_LEASE_NS);
  return admit_own_named(rq, res, node, obj, "node lease");
}

static bool res_is(const struct resource *res, const char *group, const char *plural)
{
  return strcmp(res->group, group) == 0 && strcmp(res->plural, plural) == 0;
}

json_t *admission_node_restriction(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old)
{
  const char *node = NULL;
  if (!rq || !res || !rq->auth || !admission_node_restriction_enabled(rq->srv) || !node_identity(rq->auth, &node))
    return NULL;
  if (!*node) return adm_forbidden(res, req_name(rq, obj), "could not determine node from user \"%s\"", rq->auth->name);
  if (res_is(res, "", "pods")) return admit_pod(rq, res, node, obj, old);
  if (res_is(res, "", "nodes")) return admit_node(rq, res, node, obj, old);
  if (res_is(res, "", "serviceaccounts")) return admit_token(rq, res, node, obj);
  if (res_is(res, "", "persistentvolumeclaims")) return admit_pvc(rq, res, node, obj, old);
  if (res_is(res, "coordination.k8s.io", "leases")) return admit_lease(rq, res, node, obj);
  if (res_is(res, "storage.k8s.io", "csinodes")) return admit_own_named(rq, res, node, obj, "CSINode");
  return NULL;
}
