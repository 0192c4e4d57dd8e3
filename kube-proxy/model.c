/*
 * model.c - Services and EndpointSlices parsed for the proxier and DNS
 * (see model.h).
 */
#include "kube/xalloc.h"
#include "model.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "map.h"
#include "ruleset.h"

#define KP_DEFAULT_AFFINITY_TIMEOUT_S 10800

/* Strings may be absent in the object: "" then. */
static char *dup_or_empty(const char *s) { return xstrdup(s ? s : ""); }

const char *kp_proto_lower(uint8_t proto)
{
  switch (proto) {
  case IPPROTO_UDP: return "udp";
  case IPPROTO_SCTP: return "sctp";
  default: return "tcp";
  }
}

const char *kp_proto_upper(uint8_t proto)
{
  switch (proto) {
  case IPPROTO_UDP: return "UDP";
  case IPPROTO_SCTP: return "SCTP";
  default: return "TCP";
  }
}

static uint8_t parse_proto(const char *s)
{
  if (!s || !strcmp(s, "TCP")) return IPPROTO_TCP;
  if (!strcmp(s, "UDP")) return IPPROTO_UDP;
  if (!strcmp(s, "SCTP")) return IPPROTO_SCTP;
  return 0;
}

/* ---- Services ---- */

void kp_service_free(struct kp_service *s)
{
  if (!s) return;
  for (size_t i = 0; i < s->nports; i++) {
    free(s->ports[i].name);
    free(s->ports[i].name_string);
  }
  free(s->ports);
  free(s->external_ips);
  free(s->lb_ips);
  free(s->src_ranges);
  free(s->external_name);
  free(s->ns);
  free(s->name);
  free(s->key);
  free(s);
}

static uint32_t *parse_ip_list(const json_t *arr, size_t *n)
{
  *n = 0;
  if (!json_is_array(arr) || json_array_size(arr) == 0) return NULL;
  uint32_t *v = xcalloc(json_array_size(arr), sizeof *v);
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    uint32_t ip;
    if (kp_ip_parse(json_string_value(e), &ip)) v[(*n)++] = ip;
  }
  return v;
}

static void parse_lb_ips(struct kp_service *s, const json_t *svc)
{
  json_t *ing = kj_get(svc, "status.loadBalancer.ingress");
  if (s->type != KP_SVC_LOAD_BALANCER || !json_is_array(ing) || json_array_size(ing) == 0) return;
  s->lb_ips = xcalloc(json_array_size(ing), sizeof *s->lb_ips);
  size_t i;
  json_t *e;
  json_array_foreach (ing, i, e) {
    const char *mode = kj_get_str(e, "ipMode");
    uint32_t ip;
    if (mode && strcmp(mode, "VIP") != 0) continue; /* "Proxy": the load balancer proxies */
    if (kp_ip_parse(kj_get_str(e, "ip"), &ip)) s->lb_ips[s->n_lb_ips++] = ip;
  }
}

static void parse_source_ranges(struct kp_service *s, const json_t *svc)
{
  json_t *arr = kj_get(svc, "spec.loadBalancerSourceRanges");
  if (!json_is_array(arr) || json_array_size(arr) == 0) return;
  s->src_ranges = xcalloc(json_array_size(arr), sizeof *s->src_ranges);
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    struct kp_cidr c;
    /* invalid entries are ignored, as upstream does */
    if (kp_cidr_parse(json_string_value(e), &c.net, &c.prefix)) s->src_ranges[s->n_src_ranges++] = c;
  }
}

static void parse_ports(struct kp_service *s, const json_t *svc)
{
  json_t *ports = kj_get(svc, "spec.ports");
  if (!json_is_array(ports) || json_array_size(ports) == 0) return;
  s->ports = xcalloc(json_array_size(ports), sizeof *s->ports);
  size_t i;
  json_t *p;
  json_array_foreach (ports, i, p) {
    uint8_t proto = parse_proto(kj_get_str(p, "protocol"));
    int64_t port = kj_get_int(p, "port", 0);
    if (!proto || port <= 0 || port > 65535) continue;
    struct kp_svc_port *sp = &s->ports[s->nports++];
    const char *pname = kj_get_str(p, "name");
    sp->name = dup_or_empty(pname);
    sp->proto = proto;
    sp->port = (uint16_t)port;
    int64_t np = kj_get_int(p, "nodePort", 0);
    sp->node_port = np > 0 && np <= 65535 ? (uint16_t)np : 0;
    char buf[512];
    if (pname && *pname) snprintf(buf, sizeof buf, "%s/%s:%s", s->ns, s->name, pname);
    else snprintf(buf, sizeof buf, "%s/%s", s->ns, s->name);
    sp->name_string = xstrdup(buf);
    const char *pl = kp_proto_lower(proto);
    kp_chain_name(sp->svc_chain, KP_PREFIX_SVC, buf, pl);
    kp_chain_name(sp->svl_chain, KP_PREFIX_SVL, buf, pl);
    kp_chain_name(sp->ext_chain, KP_PREFIX_EXT, buf, pl);
    kp_chain_name(sp->fw_chain, KP_PREFIX_FW, buf, pl);
  }
}

static enum kp_svc_type parse_type(const char *t)
{
  if (t && !strcmp(t, "NodePort")) return KP_SVC_NODE_PORT;
  if (t && !strcmp(t, "LoadBalancer")) return KP_SVC_LOAD_BALANCER;
  if (t && !strcmp(t, "ExternalName")) return KP_SVC_EXTERNAL_NAME;
  return KP_SVC_CLUSTER_IP;
}

/* The topology annotation (topology-mode first, as upstream reads it)
 * set to anything but "" or disabled, or a trafficDistribution. */
static bool parse_topology_aware(const json_t *svc)
{
  json_t *ann = kj_get(svc, "metadata.annotations");
  const char *mode = json_string_value(json_object_get(ann, KP_TOPOLOGY_MODE_ANNOTATION));
  if (!mode) mode = json_string_value(json_object_get(ann, KP_TOPOLOGY_HINTS_ANNOTATION));
  if (mode && *mode && strcmp(mode, "disabled") && strcmp(mode, "Disabled")) return true;
  const char *td = kj_get_str(svc, "spec.trafficDistribution");
  return td && *td;
}

struct kp_service *kp_service_parse(const json_t *svc)
{
  const char *ns = kj_get_str(svc, "metadata.namespace"), *name = kj_get_str(svc, "metadata.name");
  if (!ns || !name || !*ns || !*name) return NULL;
  struct kp_service *s = xcalloc(1, sizeof *s);
  s->ns = xstrdup(ns);
  s->name = xstrdup(name);
  char key[512];
  snprintf(key, sizeof key, "%s/%s", ns, name);
  s->key = xstrdup(key);
  s->type = parse_type(kj_get_str(svc, "spec.type"));
  const char *cip = kj_get_str(svc, "spec.clusterIP");
  s->headless = cip && !strcmp(cip, "None");
  if (!s->headless && !kp_ip_parse(cip, &s->cluster_ip)) s->cluster_ip = 0;
  if (s->type == KP_SVC_EXTERNAL_NAME) {
    const char *en = kj_get_str(svc, "spec.externalName");
    if (en && *en) s->external_name = xstrdup(en);
  }
  const char *aff = kj_get_str(svc, "spec.sessionAffinity");
  s->affinity_client_ip = aff && !strcmp(aff, "ClientIP");
  if (s->affinity_client_ip) {
    int64_t t = kj_get_int(svc, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", KP_DEFAULT_AFFINITY_TIMEOUT_S);
    s->affinity_timeout_s = t > 0 ? (uint32_t)t : KP_DEFAULT_AFFINITY_TIMEOUT_S;
  }
  const char *etp = kj_get_str(svc, "spec.externalTrafficPolicy");
  s->etp_local = (s->type == KP_SVC_NODE_PORT || s->type == KP_SVC_LOAD_BALANCER) && etp && !strcmp(etp, "Local");
  const char *itp = kj_get_str(svc, "spec.internalTrafficPolicy");
  s->itp_local = itp && !strcmp(itp, "Local");
  int64_t hc = kj_get_int(svc, "spec.healthCheckNodePort", 0);
  if (s->type == KP_SVC_LOAD_BALANCER && s->etp_local && hc > 0 && hc <= 65535)
    s->health_check_node_port = (uint16_t)hc;
  s->publish_not_ready = kj_get_bool(svc, "spec.publishNotReadyAddresses", false);
  s->external_ips = parse_ip_list(kj_get(svc, "spec.externalIPs"), &s->n_external_ips);
  parse_lb_ips(s, svc);
  parse_source_ranges(s, svc);
  parse_ports(s, svc);
  s->topology_aware = parse_topology_aware(svc);
  return s;
}

bool kp_svc_proxied(const struct kp_service *s) { return s->cluster_ip != 0 && s->type != KP_SVC_EXTERNAL_NAME; }

bool kp_svc_externally_accessible(const struct kp_service *s, const struct kp_svc_port *sp)
{
  return sp->node_port != 0 || s->n_lb_ips > 0 || s->n_external_ips > 0;
}

bool kp_svc_external_policy_local(const struct kp_service *s, const struct kp_svc_port *sp)
{
  return s->etp_local && kp_svc_externally_accessible(s, sp);
}

bool kp_svc_uses_cluster_endpoints(const struct kp_service *s, const struct kp_svc_port *sp)
{
  return !s->itp_local || (kp_svc_externally_accessible(s, sp) && !kp_svc_external_policy_local(s, sp));
}

bool kp_svc_uses_local_endpoints(const struct kp_service *s, const struct kp_svc_port *sp)
{
  return s->itp_local || kp_svc_external_policy_local(s, sp);
}

/* ---- EndpointSlices ---- */

void kp_slice_free(struct kp_slice *s)
{
  if (!s) return;
  for (size_t i = 0; i < s->nports; i++) free(s->ports[i].name);
  for (size_t i = 0; i < s->neps; i++) {
    free(s->eps[i].hostname);
    free(s->eps[i].zone_hints);
  }
  free(s->ports);
  free(s->eps);
  free(s->name);
  free(s);
}

/* hints.forZones [{"name": "a"}, ...] as ",a,b,"; NULL when none. */
static char *parse_zone_hints(const json_t *zones)
{
  if (!json_is_array(zones) || json_array_size(zones) == 0) return NULL;
  size_t len = 2, i;
  json_t *z;
  json_array_foreach (zones, i, z) {
    const char *n = kj_get_str(z, "name");
    if (n) len += strlen(n) + 1;
  }
  char *out = xmalloc(len);
  size_t w = 0;
  out[w++] = ',';
  json_array_foreach (zones, i, z) {
    const char *n = kj_get_str(z, "name");
    if (!n || !*n || strchr(n, ',')) continue;
    memcpy(out + w, n, strlen(n));
    w += strlen(n);
    out[w++] = ',';
  }
  out[w] = 0;
  if (w == 1) { /* no usable name */
    free(out);
    return NULL;
  }
  return out;
}

static void parse_slice_endpoints(struct kp_slice *s, const json_t *arr, const char *hostname)
{
  if (!json_is_array(arr) || json_array_size(arr) == 0) return;
  s->eps = xcalloc(json_array_size(arr), sizeof *s->eps);
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    json_t *addrs = kj_get(e, "addresses");
    uint32_t ip;
    /* upstream uses the first address of an endpoint */
    if (!json_is_array(addrs) || !kp_ip_parse(json_string_value(json_array_get(addrs, 0)), &ip)) continue;
    struct kp_ep *ep = &s->eps[s->neps++];
    ep->ip = ip;
    json_t *ready = kj_get(e, "conditions.ready"), *serving = kj_get(e, "conditions.serving");
    json_t *term = kj_get(e, "conditions.terminating");
    ep->ready = !json_is_boolean(ready) || json_is_true(ready);
    ep->serving = !json_is_boolean(serving) || json_is_true(serving);
    ep->terminating = json_is_true(term);
    const char *h = kj_get_str(e, "hostname"), *n = kj_get_str(e, "nodeName");
    if (h && *h) ep->hostname = xstrdup(h);
    ep->local = n && *n && hostname && !strcmp(n, hostname);
    ep->zone_hints = parse_zone_hints(kj_get(e, "hints.forZones"));
  }
}

struct kp_slice *kp_slice_parse(const json_t *slice, const char *hostname, char *svc_key, size_t keylen)
{
  const char *ns = kj_get_str(slice, "metadata.namespace"), *name = kj_get_str(slice, "metadata.name");
  json_t *labels = kj_get(slice, "metadata.labels");
  const char *svc = json_string_value(json_object_get(labels, KP_SERVICE_NAME_LABEL));
  if (!ns || !name || !svc || !*svc) return NULL;
  snprintf(svc_key, keylen, "%s/%s", ns, svc);
  struct kp_slice *s = xcalloc(1, sizeof *s);
  s->name = xstrdup(name);
  const char *at = kj_get_str(slice, "addressType");
  s->ipv4 = at && !strcmp(at, "IPv4");
  json_t *ports = kj_get(slice, "ports");
  if (json_is_array(ports) && json_array_size(ports) > 0) {
    s->ports = xcalloc(json_array_size(ports), sizeof *s->ports);
    size_t i;
    json_t *p;
    json_array_foreach (ports, i, p) {
      struct kp_slice_port *sp = &s->ports[s->nports++];
      sp->name = dup_or_empty(kj_get_str(p, "name"));
      sp->proto = parse_proto(kj_get_str(p, "protocol"));
      int64_t port = kj_get_int(p, "port", 0);
      sp->has_port = port > 0 && port <= 65535;
      sp->port = sp->has_port ? (uint16_t)port : 0;
    }
  }
  parse_slice_endpoints(s, kj_get(slice, "endpoints"), hostname);
  return s;
}

/* ---- the model ---- */

struct kp_model *kp_model_new(const char *hostname)
{
  struct kp_model *m = xcalloc(1, sizeof *m);
  m->services = kp_map_new();
  m->slices = kp_map_new();
  m->hostname = dup_or_empty(hostname);
  return m;
}

static void free_slice_map(void *v) { kp_map_free(v, (void (*)(void *))kp_slice_free); }

void kp_model_free(struct kp_model *m)
{
  if (!m) return;
  kp_map_free(m->services, (void (*)(void *))kp_service_free);
  kp_map_free(m->slices, free_slice_map);
  free(m->hostname);
  free(m->zone);
  free(m);
}

bool kp_model_set_zone(struct kp_model *m, const char *zone)
{
  if (zone && !*zone) zone = NULL;
  if ((!zone && !m->zone) || (zone && m->zone && !strcmp(zone, m->zone))) return false;
  free(m->zone);
  m->zone = zone ? xstrdup(zone) : NULL;
  m->version++;
  return true;
}

bool kp_endpoint_hinted_for(const struct kp_endpoint *e, const char *zone)
{
  if (!e->zone_hints || !zone || !*zone) return false;
  size_t n = strlen(zone);
  for (const char *p = strstr(e->zone_hints, zone); p; p = strstr(p + 1, zone))
    if (p[-1] == ',' && p[n] == ',') return true; /* zone_hints starts with ',': p > zone_hints */
  return false;
}

bool kp_topology_use_hints(const struct kp_service *s, const struct kp_endpoint *eps, size_t n, const char *zone)
{
  if (!s->topology_aware || !zone || !*zone) return false;
  bool ready = false, for_zone = false;
  for (size_t i = 0; i < n; i++) {
    if (!eps[i].ready) continue;
    ready = true;
    if (!eps[i].zone_hints) return false; /* one ready endpoint without hints: no topology */
    if (kp_endpoint_hinted_for(&eps[i], zone)) for_zone = true;
  }
  return ready && for_zone;
}

bool kp_model_set_service(struct kp_model *m, const json_t *svc)
{
  struct kp_service *s = kp_service_parse(svc);
  if (!s) return false;
  kp_service_free(kp_map_put(m->services, s->key, s));
  m->version++;
  return true;
}

bool kp_model_delete_service(struct kp_model *m, const json_t *svc)
{
  char key[512];
  snprintf(key, sizeof key, "%s/%s", kj_get_str(svc, "metadata.namespace") ? kj_get_str(svc, "metadata.namespace") : "",
           kj_get_str(svc, "metadata.name") ? kj_get_str(svc, "metadata.name") : "");
  struct kp_service *s = kp_map_del(m->services, key);
  if (!s) return false;
  kp_service_free(s);
  m->version++;
  return true;
}

bool kp_model_set_slice(struct kp_model *m, const json_t *slice)
{
  char key[512];
  struct kp_slice *s = kp_slice_parse(slice, m->hostname, key, sizeof key);
  if (!s) return false;
  struct kp_map *set = kp_map_get(m->slices, key);
  if (!set) {
    set = kp_map_new();
    kp_map_put(m->slices, key, set);
  }
  kp_slice_free(kp_map_put(set, s->name, s));
  m->version++;
  return true;
}

bool kp_model_delete_slice(struct kp_model *m, const json_t *slice)
{
  char key[512];
  struct kp_slice *parsed = kp_slice_parse(slice, m->hostname, key, sizeof key);
  if (!parsed) return false;
  struct kp_map *set = kp_map_get(m->slices, key);
  struct kp_slice *old = set ? kp_map_del(set, parsed->name) : NULL;
  kp_slice_free(parsed);
  if (!old) return false;
  kp_slice_free(old);
  if (kp_map_len(set) == 0) kp_map_free(kp_map_del(m->slices, key), NULL);
  m->version++;
  return true;
}

struct kp_service *kp_model_service(const struct kp_model *m, const char *ns, const char *name)
{
  char key[512];
  snprintf(key, sizeof key, "%s/%s", ns, name);
  return kp_map_get(m->services, key);
}

struct kp_map *kp_model_slices(const struct kp_model *m, const char *key) { return kp_map_get(m->slices, key); }

static int endpoint_cmp(const void *a, const void *b)
{
  return strcmp(((const struct kp_endpoint *)a)->str, ((const struct kp_endpoint *)b)->str);
}

size_t kp_model_endpoints(const struct kp_model *m, const struct kp_service *s, const struct kp_svc_port *sp,
                          struct kp_endpoint **out)
{
  *out = NULL;
  struct kp_map *set = kp_map_get(m->slices, s->key);
  if (!set) return 0;
  size_t cap = 0, pos = 0;
  struct kp_slice *sl;
  while (kp_map_next(set, &pos, NULL, (void **)&sl)) cap += sl->neps;
  if (!cap) return 0;
  struct kp_endpoint *v = xcalloc(cap, sizeof *v);
  size_t n = 0;
  pos = 0;
  while (kp_map_next(set, &pos, NULL, (void **)&sl)) {
    if (!sl->ipv4) continue;
    for (size_t p = 0; p < sl->nports; p++) {
      const struct kp_slice_port *spp = &sl->ports[p];
      if (!spp->has_port || spp->proto != sp->proto || strcmp(spp->name, sp->name)) continue;
      for (size_t i = 0; i < sl->neps; i++) {
        const struct kp_ep *ep = &sl->eps[i];
        struct kp_endpoint *e = &v[n];
        e->ip = ep->ip;
        e->port = spp->port;
        e->ready = ep->ready;
        e->serving = ep->serving;
        e->terminating = ep->terminating;
        e->local = ep->local;
        e->hostname = ep->hostname;
        e->zone_hints = ep->zone_hints;
        char b[16];
        snprintf(e->str, sizeof e->str, "%s:%u", kp_ip_str(ep->ip, b), spp->port);
        n++;
      }
      break; /* one port entry per name and protocol */
    }
  }
  qsort(v, n, sizeof *v, endpoint_cmp);
  /* the same ip:port from two slices: keep one, a ready one if any */
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    if (w > 0 && !strcmp(v[w - 1].str, v[i].str)) {
      if (!v[w - 1].ready && v[i].ready) v[w - 1] = v[i];
      continue;
    }
    v[w++] = v[i];
  }
  if (!w) {
    free(v);
    return 0;
  }
  *out = v;
  return w;
}
