/*
 * bootstrap.c - the objects every cluster has, created by the API server
 * itself (upstream: the system-namespaces controller and the
 * "kubernetes" service/endpoint reconcilers of pkg/controlplane).
 *
 * At start and then every 10 seconds: the namespaces default,
 * kube-system, kube-public and kube-node-lease exist; the `kubernetes`
 * Service in default has the first address of the service range and
 * port 443 -> the API server's port; its Endpoints and EndpointSlice point
 * at --advertise-address.  A missing object is created, a drifted
 * Endpoints/EndpointSlice is rewritten.  Objects are written straight to
 * storage with defaults applied, as no admission is needed for them.  The
 * same tick repairs the Service allocators from storage.
 *
 * The `kube-dns` Service in kube-system is created the same way, with the
 * tenth address of the service range (10.96.0.10 by default, the address
 * kubeadm gives it and kubelets' clusterDNS points at) and the ports,
 * labels and annotations of upstream's CoreDNS manifest.  Cluster DNS is
 * answered by kube-proxy on every node at that address, not by pods, so
 * the Service has no selector: one would select nothing, and the
 * endpointslice controller would publish an empty slice for it.  The
 * address is never taken from another Service: when a Service created
 * before this one holds it, kube-dns is not created (a warning says why)
 * until that address is free again.
 *
 * kube-system/extension-apiserver-authentication is kept holding what
 * extension API servers need to trust this one's callers (upstream's
 * cluster authentication trust controller): client-ca-file (the
 * --client-ca-file bundle) and, with a request-header CA, the
 * requestheader-* keys (the bundle, then the allowed names and header
 * lists as JSON arrays).  Other keys of the ConfigMap are left alone.
 *
 * The first round also creates the default StorageClass `local-path` of
 * the built-in local-path provisioner (as k3s ships one), unless a
 * StorageClass of that name or another default class already exists.
 * It is created at start only, never repaired: a cluster operator may
 * delete it or mark another class default, and that choice stands.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <kube/fileutil.h>
#include <kube/json.h>
#include <kube/localpath.h>
#include <kube/log.h>
#include <kube/names.h>
#include <kube/timeutil.h>

#include "apiserver.h"
#include "registry/kinds_ext.h"
#include "registry/reg_internal.h"
#include "registry/registry.h"
#include "schema/schema.h"
#include "storage/storage.h"
#include <kube/xalloc.h>

#define BOOTSTRAP_PERIOD_MS 10000
/* The built-in provisioner of kube-controller-manager (its
 * controllers/local_path.h has the same name). */
#define LOCAL_PATH_CLASS "local-path"
#define DEFAULT_CLASS_ANNOTATION "storageclass.kubernetes.io/is-default-class"
#define BETA_DEFAULT_CLASS_ANNOTATION "storageclass.beta.kubernetes.io/is-default-class"

struct boot {
  struct apiserver *srv;
  struct event *timer;
  void (*done)(void *arg);
  void *done_arg;
  int pending;       /* writes in flight */
  bool initial_done; /* done() already called */
  bool stopping;     /* freed by the last write callback */
  struct storage_watch *svc_watch;
  bool dns_ip_warned; /* the kube-dns address is held by another Service */
};

/* A deleted Service gives its ClusterIP and node ports back once the
 * deletion is durable, whichever path deleted it (DELETE, collection
 * delete, namespace cleanup, garbage collection). */
static void on_service_event(void *arg, enum storage_event_type type, struct kv *kv, struct kv *prev)
{
  struct boot *b = arg;
  if (type != EV_DELETED || !b->srv->service_alloc) return;
  struct kv *last = prev ? prev : kv;
  json_t *svc = last ? kj_loadb(last->bytes, last->len, false, NULL, 0) : NULL;
  if (svc) svc_alloc_release_service(b->srv->service_alloc, svc);
  json_decref(svc);
}

static const char *const system_namespaces[] = {"default", "kube-system", "kube-public", "kube-node-lease", NULL};

static void boot_maybe_done(struct boot *b)
{
  if (b->pending > 0) return;
  if (b->stopping) {
    free(b);
    return;
  }
  if (!b->initial_done) {
    b->initial_done = true;
    if (b->done) b->done(b->done_arg);
  }
}

static void write_done(void *arg, int err, struct kv *kv, struct kv *prev)
{
  struct boot *b = arg;
  if (err && err != STORAGE_EEXIST && err != STORAGE_ECONFLICT) KLOG_E("bootstrap write failed: %d", err);
  b->pending--;
  boot_maybe_done(b);
}

/* Fills metadata (uid, creationTimestamp), runs the strategy's
 * defaulting and create preparation, and encodes the object as its Go
 * type, as a request would. */
static void finish_object(struct boot *b, const struct resource *res, json_t *obj)
{
  char uid[37], ts[32];
  names_uuid(uid);
  kj_set_str(obj, "metadata.uid", uid);
  kj_set_str(obj, "metadata.creationTimestamp", ktime_now_str(ts));
  if (res->defaults) res->defaults(obj);
  if (res->prepare_create) {
    struct reg_request rq = {.verb = "create", .user = "system:apiserver"};
    res->prepare_create(&rq, obj);
  }
  if (res->generation != REG_GEN_NONE) kj_set_int(obj, "metadata.generation", 1);
  const struct schema *sc = b->srv->schema;
  const struct stype *t = sc ? schema_kind(sc, res->group, res->version, res->kind) : NULL;
  char err[256];
  if (t && schema_decode(sc, t, obj, NULL, err, sizeof err) < 0)
    KLOG_E("bootstrap %s does not encode: %s", res->kind, err);
}

static void write_object(struct boot *b, const struct resource *res, json_t *obj, struct kv *existing)
{
  char *key = reg_key(res, kj_get_str(obj, "metadata.namespace"), kj_get_str(obj, "metadata.name"));
  char *attrs = registry_attrs(res, obj);
  int rc;
  b->pending++;
  if (existing) rc = storage_update(b->srv->storage, key, obj, attrs, existing->mod_rev, write_done, b);
  else rc = storage_create(b->srv->storage, key, obj, attrs, write_done, b);
  if (rc) {
    b->pending--;
    if (rc != STORAGE_EEXIST) KLOG_E("bootstrap write of %s failed: %d", key, rc);
  }
  free(key);
  free(attrs);
}

static json_t *load_kv(struct kv *kv) { return kv ? kj_loadb(kv->bytes, kv->len, false, NULL, 0) : NULL; }

static const char *advertise_address(const struct apiserver *srv)
{
  const char *a = srv->cfg.advertise_address;
  if (a && *a && strcmp(a, "0.0.0.0")) return a;
  a = srv->cfg.insecure_bind_address;
  if (a && *a && strcmp(a, "0.0.0.0")) return a;
  return "127.0.0.1";
}

static int api_port(const struct apiserver *srv) { return srv->cfg.insecure_port > 0 ? srv->cfg.insecure_port : 6443; }

static json_t *https_port(int port, bool target)
{
  json_t *p = json_object();
  json_object_set_new(p, "name", json_string("https"));
  json_object_set_new(p, "port", json_integer(target ? 443 : port));
  json_object_set_new(p, "protocol", json_string("TCP"));
  if (target) json_object_set_new(p, "targetPort", json_integer(port));
  return p;
}

static void ensure_namespaces(struct boot *b)
{
  for (size_t i = 0; system_namespaces[i]; i++) {
    char *key = reg_key(&reg_namespaces, NULL, system_namespaces[i]);
    struct kv *kv = storage_get(b->srv->storage, key);
    free(key);
    if (kv) continue;
    json_t *ns = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name",
                           system_namespaces[i]);
    finish_object(b, &reg_namespaces, ns);
    write_object(b, &reg_namespaces, ns, NULL);
    json_decref(ns);
  }
}

static void ensure_service(struct boot *b)
{
  char *key = reg_key(&reg_services, "default", "kubernetes");
  struct kv *kv = storage_get(b->srv->storage, key);
  free(key);
  if (kv) return;
  struct svc_alloc *a = svc_alloc_get(b->srv);
  if (!a) return;
  char ip[16];
  uint32_t first = svc_alloc_first_ip(a), got;
  reg_format_ipv4(first, ip);
  if (!svc_ip_in_use(a, first)) svc_alloc_ip(a, first, &got);
  json_t *svc = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:{s:s,s:s,s:[o],s:s}}", "apiVersion", "v1", "kind",
                          "Service", "metadata", "name", "kubernetes", "namespace", "default", "labels", "component",
                          "apiserver", "provider", "kubernetes", "spec", "type", "ClusterIP", "clusterIP", ip, "ports",
                          https_port(api_port(b->srv), true), "sessionAffinity", "None");
  finish_object(b, &reg_services, svc);
  write_object(b, &reg_services, svc, NULL);
  json_decref(svc);
}

static json_t *dns_port(const char *name, int port, const char *protocol)
{
  return json_pack("{s:s,s:i,s:s,s:i}", "name", name, "port", port, "protocol", protocol, "targetPort", port);
}

/* The kube-dns Service (see the head of the file). */
static void ensure_dns_service(struct boot *b)
{
  char *key = reg_key(&reg_services, "kube-system", "kube-dns");
  struct kv *kv = storage_get(b->srv->storage, key);
  free(key);
  if (kv) return;
  struct svc_alloc *a = svc_alloc_get(b->srv);
  if (!a) return;
  uint32_t dns = svc_alloc_dns_ip(a), got;
  if (!dns || svc_alloc_ip(a, dns, &got) != 0) {
    if (!b->dns_ip_warned)
      KLOG_W("not creating Service kube-system/kube-dns: %s",
             dns ? "its address, the tenth of --service-cluster-ip-range, is allocated to another Service"
                 : "--service-cluster-ip-range is too small to hold its address, the tenth of the range");
    b->dns_ip_warned = true;
    return;
  }
  b->dns_ip_warned = false;
  char ip[16];
  reg_format_ipv4(dns, ip);
  json_t *svc = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s,s:s},s:{s:s,s:s}},s:{s:s,s:s,s:[ooo],s:s}}", "apiVersion",
                          "v1", "kind", "Service", "metadata", "name", "kube-dns", "namespace", "kube-system", "labels",
                          "k8s-app", "kube-dns", "kubernetes.io/cluster-service", "true", "kubernetes.io/name",
                          "CoreDNS", "annotations", "prometheus.io/port", "9153", "prometheus.io/scrape", "true",
                          "spec", "type", "ClusterIP", "clusterIP", ip, "ports", dns_port("dns", 53, "UDP"),
                          dns_port("dns-tcp", 53, "TCP"), dns_port("metrics", 9153, "TCP"), "sessionAffinity", "None");
  finish_object(b, &reg_services, svc);
  write_object(b, &reg_services, svc, NULL);
  json_decref(svc);
}

static void ensure_endpoints(struct boot *b)
{
  const char *addr = advertise_address(b->srv);
  int port = api_port(b->srv);
  json_t *subsets = json_pack("[{s:[{s:s}],s:[o]}]", "addresses", "ip", addr, "ports", https_port(port, false));
  char *key = reg_key(&reg_endpoints, "default", "kubernetes");
  struct kv *kv = storage_get(b->srv->storage, key);
  free(key);
  json_t *cur = load_kv(kv);
  if (cur && json_equal(json_object_get(cur, "subsets"), subsets)) {
    json_decref(cur);
    json_decref(subsets);
    return;
  }
  json_t *ep;
  if (cur) {
    ep = cur;
    json_object_set(ep, "subsets", subsets);
  } else {
    ep = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:O}", "apiVersion", "v1", "kind", "Endpoints", "metadata", "name",
                   "kubernetes", "namespace", "default", "labels", "endpointslice.kubernetes.io/skip-mirror", "true",
                   "subsets", subsets);
    finish_object(b, &reg_endpoints, ep);
  }
  write_object(b, &reg_endpoints, ep, cur ? kv : NULL);
  json_decref(ep);
  json_decref(subsets);
}

static void ensure_endpointslice(struct boot *b)
{
  const char *addr = advertise_address(b->srv);
  int port = api_port(b->srv);
  json_t *endpoints = json_pack("[{s:[s],s:{s:b}}]", "addresses", addr, "conditions", "ready", 1);
  json_t *ports = json_pack("[o]", https_port(port, false));
  char *key = reg_key(&reg_endpointslices, "default", "kubernetes");
  struct kv *kv = storage_get(b->srv->storage, key);
  free(key);
  json_t *cur = load_kv(kv);
  if (cur && json_equal(json_object_get(cur, "endpoints"), endpoints) &&
      json_equal(json_object_get(cur, "ports"), ports)) {
    json_decref(cur);
    json_decref(endpoints);
    json_decref(ports);
    return;
  }
  json_t *eps;
  if (cur) {
    eps = cur;
    json_object_set(eps, "endpoints", endpoints);
    json_object_set(eps, "ports", ports);
  } else {
    eps = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:s,s:O,s:O}", "apiVersion", "discovery.k8s.io/v1", "kind",
                    "EndpointSlice", "metadata", "name", "kubernetes", "namespace", "default", "labels",
                    "kubernetes.io/service-name", "kubernetes", "addressType", "IPv4", "endpoints", endpoints, "ports",
                    ports);
    finish_object(b, &reg_endpointslices, eps);
  }
  write_object(b, &reg_endpointslices, eps, cur ? kv : NULL);
  json_decref(eps);
  json_decref(endpoints);
  json_decref(ports);
}

/* Stops the visit (returns 1) at a class marked default. */
static int find_default_class(void *arg, struct kv *kv)
{
  json_t *sc = load_kv(kv);
  const json_t *ann = kj_get(sc, "metadata.annotations");
  const char *v = json_string_value(json_object_get(ann, DEFAULT_CLASS_ANNOTATION));
  const char *beta = json_string_value(json_object_get(ann, BETA_DEFAULT_CLASS_ANNOTATION));
  bool dflt = (v && !strcmp(v, "true")) || (beta && !strcmp(beta, "true"));
  json_decref(sc);
  if (dflt) *(bool *)arg = true;
  return dflt ? 1 : 0;
}

static void ensure_default_storage_class(struct boot *b)
{
  char *key = reg_key(&reg_storageclasses, NULL, LOCAL_PATH_CLASS);
  struct kv *kv = storage_get(b->srv->storage, key);
  free(key);
  if (kv) return;
  char prefix[256];
  bool has_default = false;
  snprintf(prefix, sizeof(prefix), "%s/", reg_storageclasses.storage_prefix);
  storage_list(b->srv->storage, prefix, 0, NULL, find_default_class, &has_default);
  if (has_default) return;
  json_t *sc = json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:s,s:s,s:s,s:b}", "apiVersion", "storage.k8s.io/v1", "kind",
                         "StorageClass", "metadata", "name", LOCAL_PATH_CLASS, "annotations", DEFAULT_CLASS_ANNOTATION,
                         "true", "provisioner", LOCAL_PATH_PROVISIONER, "reclaimPolicy", "Delete", "volumeBindingMode",
                         "WaitForFirstConsumer", "allowVolumeExpansion", 1);
  finish_object(b, &reg_storageclasses, sc);
  write_object(b, &reg_storageclasses, sc, NULL);
  json_decref(sc);
}

/* A comma-separated flag value as upstream's JSON array of strings. */
static json_t *csv_json(const char *csv)
{
  json_t *a = json_array();
  for (const char *p = csv; p && *p;) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n) json_array_append_new(a, json_stringn(p, n));
    p = e ? e + 1 : NULL;
  }
  return a;
}

static void put_file(json_t *data, const char *key, const char *file)
{
  size_t len = 0;
  char *pem = file && *file ? kfile_read(file, &len) : NULL;
  if (pem) json_object_set_new(data, key, json_stringn(pem, len));
  free(pem);
}

static void put_list(json_t *data, const char *key, const char *csv)
{
  json_t *a = csv_json(csv);
  char *s = kj_dumps_flags(a, JSON_COMPACT);
  json_object_set_new(data, key, json_string(s));
  free(s);
  json_decref(a);
}

/* The keys this server owns in extension-apiserver-authentication. */
static json_t *auth_trust_data(const struct apiserver_config *c)
{
  json_t *d = json_object();
  put_file(d, "client-ca-file", c->secure.client_ca_file);
  const struct requestheader_config *rh = &c->secure.requestheader;
  if (rh->client_ca_file && *rh->client_ca_file) {
    put_file(d, "requestheader-client-ca-file", rh->client_ca_file);
    put_list(d, "requestheader-allowed-names", rh->allowed_names);
    put_list(d, "requestheader-username-headers", rh->username_headers);
    put_list(d, "requestheader-group-headers", rh->group_headers);
    put_list(d, "requestheader-extra-headers-prefix", rh->extra_headers_prefix);
  }
  return d;
}

static void ensure_auth_trust(struct boot *b)
{
  json_t *want = auth_trust_data(&b->srv->cfg);
  if (json_object_size(want) == 0) {
    json_decref(want);
    return;
  }
  char *key = reg_key(&reg_configmaps, "kube-system", "extension-apiserver-authentication");
  struct kv *kv = storage_get(b->srv->storage, key);
  free(key);
  json_t *cm = load_kv(kv);
  if (!cm) {
    cm = json_pack("{s:s,s:s,s:{s:s,s:s},s:O}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
                   "extension-apiserver-authentication", "namespace", "kube-system", "data", want);
    finish_object(b, &reg_configmaps, cm);
    write_object(b, &reg_configmaps, cm, NULL);
  } else {
    json_t *data = kj_obj(cm, "data");
    bool same = true;
    const char *k;
    json_t *v;
    json_object_foreach (want, k, v) same = same && json_equal(json_object_get(data, k), v);
    if (!same) {
      json_object_update(data, want);
      write_object(b, &reg_configmaps, cm, kv);
    }
  }
  json_decref(cm);
  json_decref(want);
}

static void boot_round(struct boot *b)
{
  if (!b->srv->storage) return;
  b->pending++; /* hold done() until every write of the round is queued */
  ensure_namespaces(b);
  ensure_service(b);
  ensure_dns_service(b);
  ensure_endpoints(b);
  ensure_endpointslice(b);
  ensure_auth_trust(b);
  if (!b->initial_done) ensure_default_storage_class(b);
  b->pending--;
}

static void boot_tick(evutil_socket_t fd, short what, void *arg)
{
  struct boot *b = arg;
  if (b->pending > 0) return; /* previous round still in flight */
  registry_rebuild_allocators(b->srv);
  boot_round(b);
  boot_maybe_done(b);
}

void reg_bootstrap_kick(struct apiserver *srv)
{
  struct boot *b = srv->bootstrap;
  if (b) boot_tick(-1, 0, b);
}

int reg_bootstrap_start(struct apiserver *srv, void (*done)(void *arg), void *arg)
{
  struct boot *b = xcalloc(1, sizeof(*b));
  if (!b) return -ENOMEM;
  b->srv = srv;
  b->done = done;
  b->done_arg = arg;
  srv->bootstrap = b;
  if (srv->storage && srv->service_alloc) {
    char prefix[128];
    int err = 0;
    snprintf(prefix, sizeof(prefix), "%s/", reg_services.storage_prefix);
    b->svc_watch = storage_watch(srv->storage, prefix, storage_rev(srv->storage), on_service_event, b, &err);
    if (b->svc_watch) svc_alloc_set_watched(srv->service_alloc, true);
    else KLOG_W("no watch on services (%d): releases follow deletes only", err);
  }
  if (srv->base) {
    b->timer = event_new(srv->base, -1, EV_PERSIST, boot_tick, b);
    struct timeval tv = {BOOTSTRAP_PERIOD_MS / 1000, (BOOTSTRAP_PERIOD_MS % 1000) * 1000};
    if (b->timer) event_add(b->timer, &tv);
  }
  boot_round(b);
  boot_maybe_done(b);
  return 0;
}

void reg_bootstrap_stop(struct apiserver *srv)
{
  struct boot *b = srv->bootstrap;
  if (!b) return;
  srv->bootstrap = NULL;
  if (b->timer) event_free(b->timer);
  b->timer = NULL;
  if (b->svc_watch) storage_watch_cancel(b->svc_watch);
  b->svc_watch = NULL;
  if (srv->service_alloc) svc_alloc_set_watched(srv->service_alloc, false);
  if (b->pending > 0) {
    b->stopping = true; /* the last callback frees it */
    return;
  }
  free(b);
}
