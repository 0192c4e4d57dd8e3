/*
 * app.c - the kube-proxy program.
 *
 * Startup, as upstream: flags (a --config KubeProxyConfiguration first,
 * flags given on the command line override it), --cleanup (remove
 * everything and exit), the REST client, /healthz on
 * --healthz-bind-address and /metrics on --metrics-bind-address, the
 * route_localnet sysctl for localhost NodePorts, then informers on
 * Services, EndpointSlices and kube-proxy's own Node (by
 * --hostname-override: its zone label for topology hints, its deletion
 * for /healthz's nodeEligible).  Every event updates the model; the
 * syncer writes the rules once both informers have synced (never from a
 * partial view) and then after each change.  The DNS server answers from
 * the same model at once; it listens on the ClusterIP of the
 * kube-system/kube-dns Service, which is put on a dummy interface
 * (--dns-interface) when the Service appears or moves.
 * SIGTERM/SIGINT stop the loop; rules stay in place (as upstream), so
 * traffic keeps flowing across a restart.
 */
#define _GNU_SOURCE
#include "kube/xalloc.h"
#include "app.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "healthcheck.h"
#include "iptc.h"
#include "kube/flags.h"
#include "kube/http.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/kubeconfig.h"
#include "kube/log.h"
#include "kube/metrics.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/yaml.h"
#include "kube/fileutil.h"
#include "map.h"
#include "model.h"
#include "netif.h"
#include "proxier.h"
#include "syncer.h"

#define KP_MAX_NODEPORT_CIDRS 16
#define KP_MAX_NODE_IPS 64
#define KP_SYNC_POLL_MS 100
#define KP_DNS_RETRY_MS 10000

struct kp_app {
  struct kp_options o;
  struct event_base *base;
  struct rest_client *client;
  struct metrics *metrics;
  struct informer *svc_inf, *eps_inf, *node_inf;
  struct kp_model *model;
  struct kp_proxier_config pcfg;
  struct kp_syncer *syncer;
  struct kp_dns *dns;
  struct http_server *http;
  struct kp_hc_servers *hc;
  struct kp_health health;
  struct event *sig_term, *sig_int, *synced_poll;
  uint32_t np_nets[KP_MAX_NODEPORT_CIDRS];
  int np_prefixes[KP_MAX_NODEPORT_CIDRS];
  size_t n_np;
  uint32_t node_ips[KP_MAX_NODE_IPS];
  char **upstreams;
  char hostname[256];
  uint32_t dns_ip;
  uint32_t dns_failed_ip; /* the address last tried in vain: not retried on every event */
  int64_t dns_failed_ms;
};

void kp_options_defaults(struct kp_options *o)
{
  memset(o, 0, sizeof *o);
  o->config = "";
  o->kubeconfig = "";
  o->master = "";
  o->hostname_override = "";
  o->proxy_mode = "iptables";
  o->cluster_cidr = "";
  o->healthz_bind_address = "0.0.0.0:10256";
  o->metrics_bind_address = "127.0.0.1:10249";
  o->bind_address = "0.0.0.0";
  o->nodeport_addresses = "";
  o->localhost_nodeports = true;
  o->masquerade_bit = 14;
  o->sync_period_ms = 30000;
  o->min_sync_period_ms = 1000;
  o->kube_api_qps = 5;
  o->kube_api_burst = 10;
  o->dns_enabled = true;
  o->cluster_domain = "cluster.local";
  o->dns_upstream = "";
  o->dns_interface = "nodelocaldns";
  o->dns_service = "kube-system/kube-dns";
  o->dns_port = 53;
}

/* ---- KubeProxyConfiguration ---- */

static int cfg_duration(const json_t *doc, const char *path, int64_t *out, char *err, size_t errlen)
{
  json_t *v = kj_get(doc, path);
  if (!v) return 0;
  char derr[128];
  if (!json_is_string(v) || ktime_parse_duration_ms_err(json_string_value(v), out, derr, sizeof derr) < 0) {
    snprintf(err, errlen, "invalid value for %s: %s", path, json_is_string(v) ? derr : "not a duration string");
    return -1;
  }
  return 0;
}

static int cfg_bool(const json_t *doc, const char *path, bool *out, char *err, size_t errlen)
{
  json_t *v = kj_get(doc, path);
  if (!v) return 0;
  if (!json_is_boolean(v)) {
    snprintf(err, errlen, "invalid value for %s: expected a boolean", path);
    return -1;
  }
  *out = json_is_true(v);
  return 0;
}

static int cfg_str(const json_t *doc, const char *path, const char **out, char *err, size_t errlen)
{
  json_t *v = kj_get(doc, path);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_string(v)) {
    snprintf(err, errlen, "invalid value for %s: expected a string", path);
    return -1;
  }
  *out = json_string_value(v);
  return 0;
}

/* A list of strings is joined with commas into a string owned by doc
 * (stored under a private key so it lives as long as doc). */
static int cfg_list(json_t *doc, const char *path, const char *keep_key, const char **out, char *err, size_t errlen)
{
  json_t *v = kj_get(doc, path);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_array(v)) {
    snprintf(err, errlen, "invalid value for %s: expected a list of strings", path);
    return -1;
  }
  char buf[2048] = "";
  size_t i;
  json_t *e;
  json_array_foreach (v, i, e) {
    if (!json_is_string(e)) {
      snprintf(err, errlen, "invalid value for %s[%zu]: expected a string", path, i);
      return -1;
    }
    if (i) strncat(buf, ",", sizeof buf - strlen(buf) - 1);
    strncat(buf, json_string_value(e), sizeof buf - strlen(buf) - 1);
  }
  json_object_set_new(doc, keep_key, json_string(buf));
  *out = json_string_value(json_object_get(doc, keep_key));
  return 0;
}

int kp_options_from_config(struct kp_options *o, const json_t *cdoc, char *err, size_t errlen)
{
  json_t *doc = (json_t *)cdoc;
  const char *kind = kj_get_str(doc, "kind"), *api = kj_get_str(doc, "apiVersion");
  if (!kind || strcmp(kind, "KubeProxyConfiguration") || !api || strcmp(api, "kubeproxy.config.k8s.io/v1alpha1")) {
    snprintf(err, errlen, "no kind \"%s\" is registered for version \"%s\"", kind ? kind : "", api ? api : "");
    return -1;
  }
  int64_t bit = kj_get_int(doc, "iptables.masqueradeBit", o->masquerade_bit);
  o->masquerade_bit = (int)bit;
  int rc = cfg_str(doc, "clientConnection.kubeconfig", &o->kubeconfig, err, errlen);
  if (!rc) rc = cfg_str(doc, "hostnameOverride", &o->hostname_override, err, errlen);
  if (!rc) rc = cfg_str(doc, "mode", &o->proxy_mode, err, errlen);
  if (!rc) rc = cfg_str(doc, "clusterCIDR", &o->cluster_cidr, err, errlen);
  if (!rc) rc = cfg_str(doc, "healthzBindAddress", &o->healthz_bind_address, err, errlen);
  if (!rc) rc = cfg_str(doc, "metricsBindAddress", &o->metrics_bind_address, err, errlen);
  if (!rc) rc = cfg_str(doc, "bindAddress", &o->bind_address, err, errlen);
  if (!rc) rc = cfg_list(doc, "nodePortAddresses", "__nodePortAddresses", &o->nodeport_addresses, err, errlen);
  if (!rc) rc = cfg_bool(doc, "iptables.masqueradeAll", &o->masquerade_all, err, errlen);
  if (!rc) rc = cfg_bool(doc, "iptables.localhostNodePorts", &o->localhost_nodeports, err, errlen);
  if (!rc) rc = cfg_duration(doc, "iptables.syncPeriod", &o->sync_period_ms, err, errlen);
  if (!rc) rc = cfg_duration(doc, "iptables.minSyncPeriod", &o->min_sync_period_ms, err, errlen);
  if (!rc) rc = cfg_bool(doc, "dns.enabled", &o->dns_enabled, err, errlen);
  if (!rc) rc = cfg_str(doc, "dns.clusterDomain", &o->cluster_domain, err, errlen);
  if (!rc) rc = cfg_list(doc, "dns.upstreamServers", "__dnsUpstream", &o->dns_upstream, err, errlen);
  if (!rc) rc = cfg_str(doc, "dns.interface", &o->dns_interface, err, errlen);
  if (!rc) rc = cfg_str(doc, "dns.service", &o->dns_service, err, errlen);
  if (!rc && kj_get(doc, "dns.port")) o->dns_port = (int)kj_get_int(doc, "dns.port", o->dns_port);
  if (!rc && kj_get(doc, "clientConnection.qps")) {
    json_t *q = kj_get(doc, "clientConnection.qps");
    o->kube_api_qps = json_is_number(q) ? json_number_value(q) : o->kube_api_qps;
  }
  if (!rc && kj_get(doc, "clientConnection.burst"))
    o->kube_api_burst = (int)kj_get_int(doc, "clientConnection.burst", 10);
  return rc;
}

int kp_options_validate(const struct kp_options *o, char *err, size_t errlen)
{
  if (*o->proxy_mode && strcmp(o->proxy_mode, "iptables")) {
    snprintf(err, errlen, "KubeProxyConfiguration.mode: Unsupported value: \"%s\": supported values: \"iptables\"",
             o->proxy_mode);
    return -1;
  }
  if (o->masquerade_bit < 0 || o->masquerade_bit > 31) {
    snprintf(err, errlen,
             "KubeProxyConfiguration.iptables.masqueradeBit: Invalid value: %d: must be within the range [0, 31]",
             o->masquerade_bit);
    return -1;
  }
  if (o->sync_period_ms <= 0) {
    snprintf(err, errlen, "KubeProxyConfiguration.iptables.syncPeriod: Invalid value: must be greater than 0");
    return -1;
  }
  if (o->min_sync_period_ms < 0) {
    snprintf(err, errlen,
             "KubeProxyConfiguration.iptables.minSyncPeriod: Invalid value: must be greater than or equal to 0");
    return -1;
  }
  uint32_t net;
  int prefix;
  if (*o->cluster_cidr && !kp_cidr_parse(o->cluster_cidr, &net, &prefix)) {
    snprintf(
        err, errlen,
        "KubeProxyConfiguration.clusterCIDR: Invalid value: \"%s\": must be a valid CIDR block (e.g. 10.100.0.0/16)",
        o->cluster_cidr);
    return -1;
  }
  char buf[2048];
  snprintf(buf, sizeof buf, "%s", o->nodeport_addresses);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (!strcmp(t, "primary")) continue;
    if (!kp_cidr_parse(t, &net, &prefix)) {
      snprintf(err, errlen, "KubeProxyConfiguration.nodePortAddresses: Invalid value: \"%s\": must be a valid CIDR", t);
      return -1;
    }
  }
  return 0;
}

/* ---- HTTP: /healthz, /livez, /metrics ---- */

static void http_handler(struct http_request *req, void *arg)
{
  struct kp_app *a = arg;
  const char *path = http_req_path(req);
  if (!strcmp(path, "/healthz") || !strcmp(path, "/livez")) {
    kp_health_reply(&a->health, req);
  } else if (!strcmp(path, "/readyz")) {
    http_reply(req, 200, "text/plain; charset=utf-8", "ok", 2);
  } else if (!strcmp(path, "/metrics")) {
    size_t len = 0;
    char *txt = metrics_render(a->metrics, &len);
    http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", txt ? txt : "", txt ? len : 0);
    free(txt);
  } else {
    http_reply(req, 404, "text/plain; charset=utf-8", "404 page not found\n", 19);
  }
}

static int listen_hostport(struct http_server *s, const char *hostport, char *err, size_t errlen)
{
  char host[128];
  const char *colon = strrchr(hostport, ':');
  if (!colon) {
    snprintf(err, errlen, "invalid bind address %s: missing port", hostport);
    return -EINVAL;
  }
  snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
  int port = atoi(colon + 1);
  if (port == 0) return 0; /* disabled */
  int rc = http_server_listen(s, *host ? host : "0.0.0.0", port);
  if (rc < 0) snprintf(err, errlen, "failed to listen on %s: %s", hostport, strerror(-rc));
  return rc < 0 ? rc : 0;
}

/* ---- DNS address ---- */

static void update_dns(struct kp_app *a)
{
  if (!a->dns) return;
  char ns[256], name[256];
  const char *slash = strchr(a->o.dns_service, '/');
  if (!slash) return;
  snprintf(ns, sizeof ns, "%.*s", (int)(slash - a->o.dns_service), a->o.dns_service);
  snprintf(name, sizeof name, "%s", slash + 1);
  const struct kp_service *s = kp_model_service(a->model, ns, name);
  uint32_t ip = s && kp_svc_proxied(s) ? s->cluster_ip : 0;
  if (ip == a->dns_ip) return;
  if (ip == a->dns_failed_ip && ktime_mono_ms() - a->dns_failed_ms < KP_DNS_RETRY_MS) return;
  char err[256] = "", b[16];
  if (kp_netif_ensure_dummy(a->o.dns_interface, ip, err, sizeof err) < 0 ||
      kp_dns_listen(a->dns, ip, err, sizeof err) < 0) {
    KLOG_E("cluster DNS: %s", err);
    a->dns_failed_ip = ip;
    a->dns_failed_ms = ktime_mono_ms();
    return;
  }
  a->dns_failed_ip = 0;
  a->dns_ip = ip;
  a->pcfg.dns_ip = ip;
  if (ip) KLOG_I("Serving cluster DNS on %s:%u (%s)", kp_ip_str(ip, b), kp_dns_port(a->dns), a->o.dns_service);
  else KLOG_I("Not serving cluster DNS: no Service %s", a->o.dns_service);
  kp_syncer_request(a->syncer);
}

/* ---- informers ---- */

static void changed(struct kp_app *a)
{
  kp_health_queued(&a->health);
  metrics_gauge_set(a->metrics, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
                    "[ALPHA] The last time a sync of proxy rules was queued", "ip_family=\"IPv4\"",
                    (double)ktime_now_us() / 1e6);
  kp_syncer_request(a->syncer);
  update_dns(a);
}

static void svc_add(void *arg, const json_t *obj)
{
  struct kp_app *a = arg;
  if (kp_model_set_service(a->model, obj)) {
    metrics_counter_add(a->metrics, "kubeproxy_sync_proxy_rules_service_changes_total",
                        "[ALPHA] Cumulative proxy rules Service changes", NULL, 1);
    changed(a);
  }
}
static void svc_update(void *arg, const json_t *old, const json_t *obj) { svc_add(arg, obj); }
static void svc_delete(void *arg, const json_t *obj, bool unknown)
{
  struct kp_app *a = arg;
  if (kp_model_delete_service(a->model, obj)) changed(a);
}

static void eps_add(void *arg, const json_t *obj)
{
  struct kp_app *a = arg;
  if (kp_model_set_slice(a->model, obj)) {
    metrics_counter_add(a->metrics, "kubeproxy_sync_proxy_rules_endpoint_changes_total",
                        "[ALPHA] Cumulative proxy rules Endpoint changes", NULL, 1);
    changed(a);
  }
}
static void eps_update(void *arg, const json_t *old, const json_t *obj) { eps_add(arg, obj); }
static void eps_delete(void *arg, const json_t *obj, bool unknown)
{
  struct kp_app *a = arg;
  if (kp_model_delete_slice(a->model, obj)) changed(a);
}

/* Our own Node: its zone label for topology hints, and /healthz's
 * nodeEligible (upstream's NodeEligibleHandler). */
static void node_add(void *arg, const json_t *obj)
{
  struct kp_app *a = arg;
  kp_health_node(&a->health, obj);
  const char *zone = json_string_value(json_object_get(kj_get(obj, "metadata.labels"), KP_ZONE_LABEL));
  if (kp_model_set_zone(a->model, zone)) {
    KLOG_I("Node %s is in zone \"%s\"", a->hostname, zone ? zone : "");
    changed(a);
  }
}
static void node_update(void *arg, const json_t *old, const json_t *obj) { node_add(arg, obj); }
static void node_delete(void *arg, const json_t *obj, bool unknown)
{
  struct kp_app *a = arg;
  kp_health_node(&a->health, NULL);
}

/* What the informers keep of each object: the fields the model reads. */
static void slim_service(void *arg, json_t *obj)
{
  json_t *md = json_object_get(obj, "metadata");
  json_object_del(md, "managedFields");
  json_t *ann = json_object_get(md, "annotations");
  const char *key;
  void *tmp;
  json_t *v;
  json_object_foreach_safe (ann, tmp, key, v)
    if (strcmp(key, KP_TOPOLOGY_MODE_ANNOTATION) && strcmp(key, KP_TOPOLOGY_HINTS_ANNOTATION))
      json_object_del(ann, key);
}

static void slim_slice(void *arg, json_t *obj)
{
  json_t *md = json_object_get(obj, "metadata");
  json_object_del(md, "annotations");
  json_object_del(md, "managedFields");
  json_t *eps = json_object_get(obj, "endpoints");
  size_t i;
  json_t *e;
  json_array_foreach (eps, i, e) {
    json_object_del(e, "targetRef");
    json_object_del(e, "deprecatedTopology");
    json_object_del(e, "zone");
    json_object_del(json_object_get(e, "hints"), "forNodes");
  }
}

static void slim_node(void *arg, json_t *obj)
{
  json_object_del(obj, "spec");
  json_object_del(obj, "status");
  json_t *md = json_object_get(obj, "metadata");
  json_object_del(md, "annotations");
  json_object_del(md, "managedFields");
}

static void synced_poll_cb(evutil_socket_t fd, short what, void *arg)
{
  struct kp_app *a = arg;
  if (!informer_has_synced(a->svc_inf) || !informer_has_synced(a->eps_inf)) {
    struct timeval tv = {0, KP_SYNC_POLL_MS * 1000};
    evtimer_add(a->synced_poll, &tv);
    return;
  }
  KLOG_I("Caches are synced (services=%zu), starting to sync rules", kp_map_len(a->model->services));
  update_dns(a);
  kp_syncer_start(a->syncer);
}

static int start_informers(struct kp_app *a)
{
  struct informer_opts so = {.path = "/api/v1/services", .drop_managed_fields = true, .transform = slim_service};
  struct informer_opts eo = {
      .path = "/apis/discovery.k8s.io/v1/endpointslices", .drop_managed_fields = true, .transform = slim_slice};
  char node_selector[300];
  snprintf(node_selector, sizeof node_selector, "metadata.name=%s", a->hostname);
  struct informer_opts no = {
      .path = "/api/v1/nodes", .field_selector = node_selector, .drop_managed_fields = true, .transform = slim_node};
  a->svc_inf = informer_new(a->base, a->client, &so);
  a->eps_inf = informer_new(a->base, a->client, &eo);
  a->node_inf = informer_new(a->base, a->client, &no);
  if (!a->svc_inf || !a->eps_inf || !a->node_inf) return -ENOMEM;
  struct informer_handlers sh = {svc_add, svc_update, svc_delete, a};
  struct informer_handlers eh = {eps_add, eps_update, eps_delete, a};
  struct informer_handlers nh = {node_add, node_update, node_delete, a};
  informer_add_handlers(a->svc_inf, &sh);
  informer_add_handlers(a->eps_inf, &eh);
  informer_add_handlers(a->node_inf, &nh);
  informer_start(a->svc_inf);
  informer_start(a->eps_inf);
  informer_start(a->node_inf);
  a->synced_poll = evtimer_new(a->base, synced_poll_cb, a);
  struct timeval tv = {0, 0};
  evtimer_add(a->synced_poll, &tv);
  return 0;
}

/* ---- after each sync ---- */

static void sync_done(void *arg, const struct kp_sync_report *r)
{
  struct kp_app *a = arg;
  update_dns(a); /* retries a DNS address that failed earlier */
  if (!r->ok) return;
  kp_health_updated(&a->health);
  kp_hc_servers_sync(a->hc, a->model);
}

/* ---- configuration of the proxier ---- */

static void node_addresses(struct kp_app *a)
{
  struct kp_proxier_config *c = &a->pcfg;
  const char *skip = a->o.dns_enabled ? a->o.dns_interface : NULL;
  uint32_t ips[KP_MAX_NODE_IPS];
  size_t n = kp_local_ips(skip, NULL, NULL, 0, ips, KP_MAX_NODE_IPS);
  uint32_t bind = 0;
  if (kp_ip_parse(a->o.bind_address, &bind) && bind) c->node_ip = bind;
  for (size_t i = 0; i < n && !c->node_ip; i++)
    if ((ips[i] >> 24) != 127) c->node_ip = ips[i];
  if (a->n_np) {
    c->nodeport_all = false;
    c->n_nodeport_ips = kp_local_ips(skip, a->np_nets, a->np_prefixes, a->n_np, a->node_ips, KP_MAX_NODE_IPS);
    c->nodeport_ips = a->node_ips;
  }
}

static int configure(struct kp_app *a, char *err, size_t errlen)
{
  struct kp_options *o = &a->o;
  struct kp_proxier_config *c = &a->pcfg;
  kp_proxier_config_defaults(c);
  c->masq_mark = 1u << o->masquerade_bit;
  c->masquerade_all = o->masquerade_all;
  if (*o->cluster_cidr) c->has_cluster_cidr = kp_cidr_parse(o->cluster_cidr, &c->cluster_cidr, &c->cluster_prefix);
  char buf[2048];
  snprintf(buf, sizeof buf, "%s", o->nodeport_addresses);
  bool has_loopback = !*o->nodeport_addresses;
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && a->n_np < KP_MAX_NODEPORT_CIDRS;
       t = strtok_r(NULL, ",", &save)) {
    if (!strcmp(t, "primary")) continue;
    if (kp_cidr_parse(t, &a->np_nets[a->n_np], &a->np_prefixes[a->n_np])) {
      if ((0x7f000001u & kp_prefix_mask(a->np_prefixes[a->n_np])) == a->np_nets[a->n_np]) has_loopback = true;
      a->n_np++;
    }
  }
  c->localhost_nodeports = o->localhost_nodeports && has_loopback;
  if (c->localhost_nodeports) {
    KLOG_I("Setting route_localnet=1 to allow node-ports on localhost; to change this either disable "
           "iptables.localhostNodePorts (--iptables-localhost-nodeports) or set nodePortAddresses "
           "(--nodeport-addresses) to filter loopback addresses");
    int rc = kp_sysctl_set("net/ipv4/conf/all/route_localnet", "1");
    if (rc < 0) {
      snprintf(err, errlen, "can't set sysctl net/ipv4/conf/all/route_localnet: %s", strerror(-rc));
      return rc;
    }
  }
  c->conntrack_tcp_liberal = kp_sysctl_get_int("net/netfilter/nf_conntrack_tcp_be_liberal") > 0;
  c->dns_port = (uint16_t)o->dns_port;
  node_addresses(a);
  return 0;
}

static int start_dns(struct kp_app *a, char *err, size_t errlen)
{
  if (!a->o.dns_enabled) return 0;
  char buf[2048];
  size_t n = 0;
  if (*a->o.dns_upstream) {
    a->upstreams = xcalloc(17, sizeof *a->upstreams);
    snprintf(buf, sizeof buf, "%s", a->o.dns_upstream);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save))
      a->upstreams[n++] = xstrdup(t);
  } else {
    a->upstreams = kp_dns_resolv_conf_servers("/etc/resolv.conf");
    while (a->upstreams && a->upstreams[n]) n++;
  }
  struct kp_dns_config dc = {.zone = a->o.cluster_domain,
                             .upstreams = (const char *const *)a->upstreams,
                             .nupstreams = n,
                             .port = (uint16_t)a->o.dns_port};
  a->dns = kp_dns_new(a->base, a->model, &dc, a->metrics, err, errlen);
  return a->dns ? 0 : -ENOMEM;
}

/* ---- lifecycle ---- */

/* libevent's own messages (evdns: "Nameserver ... has failed") go to the
 * log, at --v=2 unless they are errors. */
static void event_log(int severity, const char *msg)
{
  if (severity >= EVENT_LOG_ERR) KLOG_E("libevent: %s", msg);
  else if (severity >= EVENT_LOG_WARN) KLOG_V(1, "libevent: %s", msg);
  else KLOG_V(4, "libevent: %s", msg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
  struct kp_app *a = arg;
  KLOG_I("Received signal %d, shutting down", (int)sig);
  event_base_loopexit(a->base, NULL);
}

static void app_free(struct kp_app *a)
{
  if (a->syncer) kp_syncer_free(a->syncer);
  if (a->dns) kp_dns_free(a->dns);
  if (a->hc) kp_hc_servers_free(a->hc);
  if (a->http) http_server_free(a->http);
  if (a->svc_inf) informer_free(a->svc_inf);
  if (a->eps_inf) informer_free(a->eps_inf);
  if (a->node_inf) informer_free(a->node_inf);
  if (a->client) rest_client_free(a->client);
  if (a->model) kp_model_free(a->model);
  if (a->metrics) metrics_free(a->metrics);
  if (a->upstreams) {
    for (size_t i = 0; a->upstreams[i]; i++) free(a->upstreams[i]);
    free(a->upstreams);
  }
  if (a->sig_term) event_free(a->sig_term);
  if (a->sig_int) event_free(a->sig_int);
  if (a->synced_poll) event_free(a->synced_poll);
  if (a->base) event_base_free(a->base);
}

static int cleanup_mode(struct kp_app *a)
{
  char err[512] = "";
  int rc = kp_iptc_cleanup(err, sizeof err);
  if (rc < 0) KLOG_E("Error cleaning up iptables rules: %s", err);
  if (a->o.dns_enabled && kp_netif_remove(a->o.dns_interface, err, sizeof err) < 0)
    KLOG_E("Error removing %s: %s", a->o.dns_interface, err);
  return rc < 0 ? 1 : 0;
}

/* --config is read before the other flags so that flags override it. */
static json_t *load_config_file(int argc, char **argv, struct kp_options *o, char *err, size_t errlen)
{
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--config=", 9)) path = argv[i] + 9;
    else if (!strcmp(argv[i], "--config") && i + 1 < argc) path = argv[i + 1];
  }
  if (!path || !*path) return json_object();
  size_t len = 0;
  char *buf = kfile_read(path, &len);
  if (!buf) {
    snprintf(err, errlen, "failed to read config file \"%s\": %s", path, strerror(errno));
    return NULL;
  }
  char yerr[256];
  json_t *doc = kyaml_load(buf, len, yerr, sizeof yerr);
  free(buf);
  if (!doc) {
    snprintf(err, errlen, "failed to decode config file \"%s\": %s", path, yerr);
    return NULL;
  }
  if (kp_options_from_config(o, doc, err, errlen) < 0) {
    json_decref(doc);
    return NULL;
  }
  return doc;
}

static int parse_flags(int argc, char **argv, struct kp_options *o, char *err, size_t errlen)
{
  const char *str_unused = "";
  int int_unused = 0;
  int64_t dur_unused = 0;
  const struct flag flags[] = {
      {"config", FLAG_STRING, &o->config, "The path to the configuration file."},
      {"kubeconfig", FLAG_STRING, &o->kubeconfig,
       "Path to kubeconfig file with authorization information (the master location can be overridden by the master "
       "flag)."},
      {"master", FLAG_STRING, &o->master,
       "The address of the Kubernetes API server (overrides any value in kubeconfig)"},
      {"hostname-override", FLAG_STRING, &o->hostname_override,
       "If non-empty, will be used as the name of the Node that kube-proxy is running on. If unset, the node name is "
       "assumed to be the same as the node's hostname."},
      {"proxy-mode", FLAG_STRING, &o->proxy_mode,
       "Which proxy mode to use: on Linux this can be 'iptables' (default)."},
      {"cluster-cidr", FLAG_STRING, &o->cluster_cidr,
       "The CIDR range of the pods in the cluster. Traffic from outside it to a Service's cluster IP is masqueraded."},
      {"masquerade-all", FLAG_BOOL, &o->masquerade_all,
       "SNAT all traffic sent via Service cluster IPs. This may be required with some CNI plugins."},
      {"iptables-masquerade-bit", FLAG_INT, &o->masquerade_bit,
       "If using the iptables or ipvs proxy mode, the bit of the fwmark space to mark packets requiring SNAT with. "
       "Must be within the range [0, 31]."},
      {"iptables-sync-period", FLAG_DURATION, &o->sync_period_ms,
       "An interval (e.g. '5s', '1m', '2h22m') indicating how frequently various re-synchronizing and cleanup "
       "operations are performed. Must be greater than 0."},
      {"iptables-min-sync-period", FLAG_DURATION, &o->min_sync_period_ms,
       "The minimum period between iptables rule resyncs (e.g. '5s', '1m', '2h22m'). A value of 0 means every Service "
       "or EndpointSlice change will result in an immediate iptables resync."},
      {"iptables-localhost-nodeports", FLAG_BOOL, &o->localhost_nodeports,
       "If false, kube-proxy will disable the legacy behavior of allowing NodePort services to be accessed via "
       "localhost."},
      {"nodeport-addresses", FLAG_STRING, &o->nodeport_addresses,
       "A list of CIDR ranges that contain valid node IPs. If set, connections to NodePort services will only be "
       "accepted on node IPs in one of the indicated ranges. If unset, NodePort connections will be accepted on all "
       "local IPs."},
      {"healthz-bind-address", FLAG_STRING, &o->healthz_bind_address,
       "The IP address and port for the health check server to serve on, defaulting to \"0.0.0.0:10256\". Port 0 "
       "disables it."},
      {"metrics-bind-address", FLAG_STRING, &o->metrics_bind_address,
       "The IP address and port for the metrics server to serve on, defaulting to \"127.0.0.1:10249\". Port 0 disables "
       "it."},
      {"bind-address", FLAG_STRING, &o->bind_address, "Overrides kube-proxy's idea of what its node's primary IP is."},
      {"cleanup", FLAG_BOOL, &o->cleanup, "If true cleanup iptables and ipvs rules and exit."},
      {"kube-api-qps", FLAG_FLOAT, &o->kube_api_qps, "QPS to use while talking with kubernetes apiserver"},
      {"kube-api-burst", FLAG_INT, &o->kube_api_burst, "Burst to use while talking with kubernetes apiserver"},
      {"v", FLAG_INT, &o->v, "number for the log level verbosity"},
      {"cluster-domain", FLAG_STRING, &o->cluster_domain,
       "Domain of the cluster DNS served on this node (beyond upstream: kube-proxy answers cluster DNS itself)."},
      {"dns-upstream", FLAG_STRING, &o->dns_upstream,
       "Comma-separated nameservers (IP or IP:port) for names outside the cluster domain; default: the nameservers of "
       "/etc/resolv.conf."},
      {"dns-interface", FLAG_STRING, &o->dns_interface, "Dummy interface that holds the cluster DNS address."},
      {"dns-service", FLAG_STRING, &o->dns_service,
       "namespace/name of the Service whose ClusterIP the cluster DNS listens on."},
      {"dns-port", FLAG_INT, &o->dns_port, "Port of the cluster DNS (UDP and TCP)."},
      {"enable-dns", FLAG_BOOL, &o->dns_enabled, "Serve the cluster DNS on this node."},
      {"conntrack-max-per-core", FLAG_INT, &int_unused,
       "Maximum number of NAT connections to track per CPU core (ignored)."},
      {"conntrack-min", FLAG_INT, &int_unused, "Minimum number of conntrack entries to allocate (ignored)."},
      {"conntrack-tcp-timeout-established", FLAG_DURATION, &dur_unused,
       "Idle timeout for established TCP connections (ignored)."},
      {"conntrack-tcp-timeout-close-wait", FLAG_DURATION, &dur_unused,
       "NAT timeout for TCP connections in the CLOSE_WAIT state (ignored)."},
      {"oom-score-adj", FLAG_INT, &int_unused, "The oom-score-adj value for kube-proxy process (ignored)."},
      {"feature-gates", FLAG_STRING, &str_unused, "A set of key=value pairs that describe feature gates (ignored)."},
      {NULL},
  };
  return flags_parse(argc, argv, flags,
                     "The Kubernetes network proxy runs on each node. This reflects services as defined in the "
                     "Kubernetes API on each node and can do simple TCP, UDP, and SCTP stream forwarding across a "
                     "set of backends. It also serves the cluster DNS on the node.",
                     err, errlen);
}

static int setup(struct kp_app *a, char *err, size_t errlen)
{
  struct rest_config rc_cfg;
  if (kubeconfig_load(a->o.kubeconfig, "", a->o.master, &rc_cfg, err, errlen) < 0) return -EINVAL;
  rc_cfg.qps = a->o.kube_api_qps;
  rc_cfg.burst = a->o.kube_api_burst;
  if (!rc_cfg.user_agent) rc_cfg.user_agent = rest_default_user_agent("kube-proxy");
  a->base = event_base_new();
  a->client = a->base ? rest_client_new(a->base, &rc_cfg) : NULL;
  rest_config_free(&rc_cfg);
  a->metrics = metrics_new();
  a->model = kp_model_new(a->hostname);
  if (!a->client || !a->metrics) {
    snprintf(err, errlen, "failed to initialise the client");
    return -ENOMEM;
  }
  int rc = configure(a, err, errlen);
  if (rc < 0) return rc;
  kp_health_init(&a->health, 2 * a->o.sync_period_ms);
  a->hc = kp_hc_servers_new(a->base, &a->health);
  a->syncer = kp_syncer_new(a->base, a->model, &a->pcfg, a->o.min_sync_period_ms, a->o.sync_period_ms, a->metrics,
                            sync_done, a);
  if (!a->hc || !a->syncer) {
    snprintf(err, errlen, "failed to start the sync worker");
    return -ENOMEM;
  }
  a->http = http_server_new(a->base, NULL, http_handler, a);
  if (!a->http) return -ENOMEM;
  if ((rc = listen_hostport(a->http, a->o.healthz_bind_address, err, errlen)) < 0) return rc;
  if ((rc = listen_hostport(a->http, a->o.metrics_bind_address, err, errlen)) < 0) return rc;
  if ((rc = start_dns(a, err, errlen)) < 0) return rc;
  a->sig_term = evsignal_new(a->base, SIGTERM, on_signal, a);
  a->sig_int = evsignal_new(a->base, SIGINT, on_signal, a);
  event_add(a->sig_term, NULL);
  event_add(a->sig_int, NULL);
  return start_informers(a);
}

int kp_main(int argc, char **argv)
{
  struct kp_app app;
  memset(&app, 0, sizeof app);
  struct kp_app *a = &app;
  kp_options_defaults(&a->o);
  char err[512] = "";
  json_t *config_doc = load_config_file(argc, argv, &a->o, err, sizeof err);
  if (!config_doc) {
    fprintf(stderr, "Error: %s\n", err);
    return 1;
  }
  int rc = parse_flags(argc, argv, &a->o, err, sizeof err);
  if (rc == 0 && kp_options_validate(&a->o, err, sizeof err) < 0) rc = -1;
  if (rc != 0) {
    if (rc < 0) fprintf(stderr, "Error: %s\n", err);
    json_decref(config_doc);
    return rc < 0 ? 1 : 0;
  }
  klog_set_verbosity(a->o.v);
  event_set_log_callback(event_log);
  signal(SIGPIPE, SIG_IGN);
  if (a->o.cleanup) {
    rc = cleanup_mode(a);
    json_decref(config_doc);
    return rc;
  }
  if (*a->o.hostname_override) snprintf(a->hostname, sizeof a->hostname, "%s", a->o.hostname_override);
  else gethostname(a->hostname, sizeof a->hostname - 1);
  KLOG_I("Using iptables Proxier hostname=\"%s\"", a->hostname);
  if (setup(a, err, sizeof err) < 0) {
    KLOG_E("%s", err);
    app_free(a);
    json_decref(config_doc);
    return 1;
  }
  event_base_dispatch(a->base);
  app_free(a);
  json_decref(config_doc);
  return 0;
}
