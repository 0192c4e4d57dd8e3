/*
 * snapshot.c - the scheduler's view of the cluster: node infos.
 *
 * Each node info holds a reference to the Node, the pods placed on it
 * (bound, or assumed by the scheduler before the binding is observed), the
 * running totals of their requests (actual and with scoring defaults), the
 * host ports they use, and the node's allocatable parsed once.  Totals are
 * updated incrementally as pods come and go, so the Filter path reads
 * integers only.  Nodes live in a dense array (the order the round-robin
 * feasibility search walks) with a name index; removal swaps the last node
 * into the hole.  The snapshot also counts, per image, how many nodes have
 * it, for ImageLocality's spread factor, and, per claim, how many pods use
 * it (ReadWriteOncePod), next to the claims, volumes and classes the volume
 * plugins read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework.h"
#include "kube/xalloc.h"

struct sched_snapshot *sched_snapshot_new(void)
{
  struct sched_snapshot *s = xcalloc(1, sizeof *s);
  if (!s) return NULL;
  s->index = json_object();
  s->image_nodes = json_object();
  s->namespaces = json_object();
  s->pvcs = json_object();
  s->pvs = json_object();
  s->classes = json_object();
  s->pvc_refs = json_object();
  return s;
}

static void pod_entry_clear(struct sched_pod_entry *e)
{
  json_decref(e->pod);
  free(e->key);
  free(e->req_scalar);
}

/* The entry's requests as full structs again (req, and with scoring
 * defaults), for adding to or subtracting from the node's totals. */
static void entry_requests(const struct sched_pod_entry *e, struct sched_resource *req, struct sched_resource *nz)
{
  if (e->req_scalar) *req = *e->req_scalar;
  else memset(req, 0, sizeof *req);
  req->milli_cpu = e->req_milli_cpu;
  req->memory = e->req_memory;
  req->ephemeral_storage = e->req_ephemeral;
  *nz = *req;
  nz->milli_cpu = e->non_zero_milli_cpu;
  nz->memory = e->non_zero_memory;
}

static void images_account(struct sched_snapshot *s, const struct sched_node_info *ni, int delta)
{
  const char *name;
  json_t *v;
  json_object_foreach (ni->images, name, v) {
    json_int_t n = json_integer_value(json_object_get(s->image_nodes, name)) + delta;
    if (n <= 0) json_object_del(s->image_nodes, name);
    else json_object_set_new(s->image_nodes, name, json_integer(n));
  }
}

static void node_info_free(struct sched_node_info *ni)
{
  if (!ni) return;
  for (size_t i = 0; i < ni->npods; i++) pod_entry_clear(&ni->pods[i]);
  free(ni->pods);
  free(ni->ports);
  json_decref(ni->images);
  json_decref(ni->node);
  free(ni);
}

void sched_snapshot_free(struct sched_snapshot *s)
{
  if (!s) return;
  for (size_t i = 0; i < s->nnodes; i++) node_info_free(s->nodes[i]);
  free(s->nodes);
  json_decref(s->index);
  json_decref(s->image_nodes);
  json_decref(s->namespaces);
  json_decref(s->pvcs);
  json_decref(s->pvs);
  json_decref(s->classes);
  json_decref(s->pvc_refs);
  free(s);
}

struct sched_node_info *sched_snapshot_node(const struct sched_snapshot *s, const char *name)
{
  json_t *ix = name ? json_object_get(s->index, name) : NULL;
  return ix ? s->nodes[json_integer_value(ix)] : NULL;
}

static void node_parse(struct sched_node_info *ni, json_t *node)
{
  ni->node = node;
  ni->name = json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
  ni->labels = json_object_get(json_object_get(node, "metadata"), "labels");
  ni->taints = json_object_get(json_object_get(node, "spec"), "taints");
  ni->unschedulable = json_is_true(json_object_get(json_object_get(node, "spec"), "unschedulable"));
  memset(&ni->allocatable, 0, sizeof ni->allocatable);
  sched_resource_from_list(&ni->allocatable, json_object_get(json_object_get(node, "status"), "allocatable"));
  json_decref(ni->images);
  ni->images = json_object();
  size_t i, j;
  json_t *img, *name;
  char buf[512];
  json_array_foreach (json_object_get(json_object_get(node, "status"), "images"), i, img) {
    json_int_t size = json_integer_value(json_object_get(img, "sizeBytes"));
    json_array_foreach (json_object_get(img, "names"), j, name) {
      if (!json_is_string(name)) continue;
      sched_normalize_image(json_string_value(name), buf, sizeof buf);
      json_object_set_new(ni->images, buf, json_integer(size));
    }
  }
}

int sched_snapshot_set_node(struct sched_snapshot *s, json_t *node)
{
  const char *name = json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
  if (!name || !*name) return -EINVAL;
  struct sched_node_info *ni = sched_snapshot_node(s, name);
  if (ni) {
    images_account(s, ni, -1);
    json_t *old = ni->node;
    node_parse(ni, json_incref(node));
    json_decref(old);
    images_account(s, ni, +1);
    return 0;
  }
  if (s->nnodes == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    void *p = xrealloc(s->nodes, cap * sizeof *s->nodes);
    if (!p) return -ENOMEM;
    s->nodes = p;
    s->cap = cap;
  }
  ni = xcalloc(1, sizeof *ni);
  if (!ni) return -ENOMEM;
  node_parse(ni, json_incref(node));
  json_object_set_new(s->index, ni->name, json_integer((json_int_t)s->nnodes));
  ni->index = s->nnodes;
  s->nodes[s->nnodes++] = ni;
  images_account(s, ni, +1);
  return 0;
}

int sched_snapshot_remove_node(struct sched_snapshot *s, const char *name)
{
  json_t *ix = json_object_get(s->index, name);
  if (!ix) return -ENOENT;
  size_t i = (size_t)json_integer_value(ix);
  struct sched_node_info *ni = s->nodes[i];
  images_account(s, ni, -1);
  s->pods_with_affinity -= ni->pods_with_affinity;
  s->pods_with_required_anti -= ni->pods_with_required_anti;
  json_object_del(s->index, name); /* before freeing: name points into the node */
  node_info_free(ni);
  s->nodes[i] = s->nodes[--s->nnodes];
  if (i < s->nnodes) {
    s->nodes[i]->index = i;
    json_object_set_new(s->index, s->nodes[i]->name, json_integer((json_int_t)i));
  }
  return 0;
}

static bool pod_affinity_flags(const json_t *pod, bool *required_anti)
{
  const json_t *aff = json_object_get(json_object_get(pod, "spec"), "affinity");
  const json_t *pa = json_object_get(aff, "podAffinity"), *paa = json_object_get(aff, "podAntiAffinity");
  *required_anti = json_array_size(json_object_get(paa, "requiredDuringSchedulingIgnoredDuringExecution")) > 0;
  return pa != NULL || paa != NULL;
}

static void ports_add(struct sched_node_info *ni, const json_t *pod)
{
  size_t i, j;
  json_t *c, *p;
  json_array_foreach (json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
    json_array_foreach (json_object_get(c, "ports"), j, p) {
      int hp = (int)json_integer_value(json_object_get(p, "hostPort"));
      if (hp <= 0) continue;
      if (ni->nports == ni->ports_cap) {
        size_t cap = ni->ports_cap ? ni->ports_cap * 2 : 4;
        void *np = xrealloc(ni->ports, cap * sizeof *ni->ports);
        if (!np) return;
        ni->ports = np;
        ni->ports_cap = cap;
      }
      struct sched_host_port *h = &ni->ports[ni->nports++];
      const char *ip = json_string_value(json_object_get(p, "hostIP"));
      const char *proto = json_string_value(json_object_get(p, "protocol"));
      snprintf(h->ip, sizeof h->ip, "%s", ip && *ip ? ip : "0.0.0.0");
      snprintf(h->protocol, sizeof h->protocol, "%s", proto && *proto ? proto : "TCP");
      h->port = hp;
    }
  }
}

static void ports_rebuild(struct sched_node_info *ni)
{
  ni->nports = 0;
  for (size_t i = 0; i < ni->npods; i++) ports_add(ni, ni->pods[i].pod);
}

static int pod_key(const json_t *pod, char *buf, size_t len)
{
  const json_t *md = json_object_get(pod, "metadata");
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  const char *name = json_string_value(json_object_get(md, "name"));
  if (!name) return -EINVAL;
  snprintf(buf, len, "%s/%s", ns ? ns : "default", name);
  return 0;
}

/* The node's and the snapshot's counts of pods with (anti-)affinity. */
static void count_affinity(struct sched_snapshot *s, struct sched_node_info *ni, const struct sched_pod_entry *e,
                           int delta)
{
  if (e->has_affinity) {
    ni->pods_with_affinity += (size_t)delta;
    s->pods_with_affinity += (size_t)delta;
  }
  if (e->has_required_anti) {
    ni->pods_with_required_anti += (size_t)delta;
    s->pods_with_required_anti += (size_t)delta;
  }
}

const char *sched_volume_claim(const json_t *pod, const json_t *volume, bool *ephemeral, char *out, size_t len)
{
  if (ephemeral) *ephemeral = false;
  const char *cn = json_string_value(json_object_get(json_object_get(volume, "persistentVolumeClaim"), "claimName"));
  if (cn) {
    snprintf(out, len, "%s", cn);
    return out;
  }
  if (!json_object_get(volume, "ephemeral")) return NULL;
  if (ephemeral) *ephemeral = true;
  snprintf(out, len, "%s-%s", json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")) ?: "",
           json_string_value(json_object_get(volume, "name")) ?: "");
  return out;
}

/* The claims the pod's volumes use, counted in pvc_refs; returns whether
 * it uses any. */
static bool count_claims(struct sched_snapshot *s, const json_t *pod, int delta)
{
  const char *ns = json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace"));
  bool any = false;
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get(json_object_get(pod, "spec"), "volumes"), i, v) {
    char claim[512], key[800];
    if (!sched_volume_claim(pod, v, NULL, claim, sizeof claim)) continue;
    snprintf(key, sizeof key, "%s/%s", ns ? ns : "default", claim);
    json_int_t n = json_integer_value(json_object_get(s->pvc_refs, key)) + delta;
    if (n <= 0) json_object_del(s->pvc_refs, key);
    else json_object_set_new(s->pvc_refs, key, json_integer(n));
    any = true;
  }
  return any;
}

static void entry_unaccount(struct sched_snapshot *s, struct sched_node_info *ni, struct sched_pod_entry *e)
{
  struct sched_resource req, nz;
  entry_requests(e, &req, &nz);
  sched_resource_sub(&ni->requested, &req);
  sched_resource_sub(&ni->non_zero_requested, &nz);
  count_affinity(s, ni, e, -1);
  if (e->has_claims) count_claims(s, e->pod, -1);
}

int sched_snapshot_remove_pod(struct sched_snapshot *s, const char *ns, const char *name, const char *node_name)
{
  struct sched_node_info *ni = sched_snapshot_node(s, node_name);
  char key[512];
  if (!ni) return -ENOENT;
  snprintf(key, sizeof key, "%s/%s", ns ? ns : "default", name);
  for (size_t i = 0; i < ni->npods; i++) {
    if (strcmp(ni->pods[i].key, key) != 0) continue;
    entry_unaccount(s, ni, &ni->pods[i]);
    pod_entry_clear(&ni->pods[i]);
    ni->pods[i] = ni->pods[--ni->npods];
    ports_rebuild(ni);
    return 0;
  }
  return -ENOENT;
}

int sched_snapshot_add_pod(struct sched_snapshot *s, json_t *pod, const char *node_name, bool assumed)
{
  char key[512];
  if (!node_name) node_name = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
  struct sched_node_info *ni = sched_snapshot_node(s, node_name);
  if (!ni) return -ENOENT;
  if (pod_key(pod, key, sizeof key) != 0) return -EINVAL;
  const char *slash = strchr(key, '/');
  char ns[256];
  snprintf(ns, sizeof ns, "%.*s", (int)(slash - key), key);
  sched_snapshot_remove_pod(s, ns, slash + 1, node_name);
  if (ni->npods == ni->pods_cap) {
    size_t cap = ni->pods_cap ? ni->pods_cap * 2 : 8;
    void *p = xrealloc(ni->pods, cap * sizeof *ni->pods);
    if (!p) return -ENOMEM;
    ni->pods = p;
    ni->pods_cap = cap;
  }
  struct sched_pod_entry *e = &ni->pods[ni->npods];
  memset(e, 0, sizeof *e);
  e->key = xstrdup(key);
  if (!e->key) return -ENOMEM;
  e->pod = json_incref(pod);
  e->assumed = assumed;
  e->has_affinity = pod_affinity_flags(pod, &e->has_required_anti);
  struct sched_resource req, nz;
  sched_pod_requests(pod, false, &req);
  sched_pod_requests(pod, true, &nz);
  e->req_milli_cpu = req.milli_cpu;
  e->req_memory = req.memory;
  e->req_ephemeral = req.ephemeral_storage;
  e->non_zero_milli_cpu = nz.milli_cpu;
  e->non_zero_memory = nz.memory;
  if (req.nscalar > 0 || req.allowed_pods != 0) {
    e->req_scalar = xmalloc(sizeof req);
    if (!e->req_scalar) {
      pod_entry_clear(e);
      return -ENOMEM;
    }
    *e->req_scalar = req;
  }
  ni->npods++;
  sched_resource_add(&ni->requested, &req);
  sched_resource_add(&ni->non_zero_requested, &nz);
  count_affinity(s, ni, e, +1);
  e->has_claims = count_claims(s, pod, +1);
  ports_add(ni, pod);
  return 0;
}

void sched_snapshot_set_namespace(struct sched_snapshot *s, const char *ns, json_t *labels)
{
  json_object_set_new(s->namespaces, ns, labels ? json_incref(labels) : json_object());
}

static void set_or_del(json_t *map, const char *key, json_t *obj)
{
  if (!key) return;
  if (obj) json_object_set(map, key, obj);
  else json_object_del(map, key);
}

void sched_snapshot_set_pvc(struct sched_snapshot *s, const char *key, json_t *pvc) { set_or_del(s->pvcs, key, pvc); }
void sched_snapshot_set_pv(struct sched_snapshot *s, const char *name, json_t *pv) { set_or_del(s->pvs, name, pv); }
void sched_snapshot_set_class(struct sched_snapshot *s, const char *name, json_t *sc)
{
  set_or_del(s->classes, name, sc);
}

void sched_normalize_image(const char *image, char *out, size_t outlen)
{
  const char *colon = strrchr(image, ':'), *slash = strrchr(image, '/');
  if (!colon || (slash && colon < slash)) snprintf(out, outlen, "%s:latest", image);
  else snprintf(out, outlen, "%s", image);
}

const char *sched_node_label(const struct sched_node_info *ni, const char *key)
{
  return json_string_value(json_object_get(ni->labels, key));
}
