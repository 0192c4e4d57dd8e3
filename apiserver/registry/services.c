/*
 * services.c - the Service strategy (upstream pkg/registry/core/service:
 * strategy.go, storage/alloc.go, SetDefaults_Service, ValidateService,
 * printService).
 *
 * Allocation happens at admission (serviceips.c holds the bitmaps): a
 * ClusterIP for every non-headless, non-ExternalName Service and a node
 * port for every port of NodePort and LoadBalancer Services; a requested
 * value must be in range and free.  Updates keep allocated values the
 * client left out (as upstream's patchAllocatedValues), release what a
 * type change drops and allocate what it adds; delete releases all.
 * Dry-run requests check but never keep an allocation.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/names.h>
#include <kube/status.h>

#include "apiserver.h"
#include "registry/reg_internal.h"
#include <kube/xalloc.h>

static const char *const svc_types[] = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort", NULL};
static const char *const affinities[] = {"ClientIP", "None", NULL};
static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};
static const char *const traffic_policies[] = {"Cluster", "Local", NULL};

static const char *svc_type(const json_t *svc) { return reg_str_or(kj_get_str(svc, "spec.type"), "ClusterIP"); }

static bool needs_node_ports(const json_t *svc)
{
  const char *t = svc_type(svc);
  return !strcmp(t, "NodePort") || !strcmp(t, "LoadBalancer");
}

static bool is_external_name(const json_t *svc) { return !strcmp(svc_type(svc), "ExternalName"); }

static const char *cluster_ip(const json_t *svc)
{
  const char *ip = kj_get_str(svc, "spec.clusterIP");
  if (ip && *ip) return ip;
  return kj_get_str(svc, "spec.clusterIPs[0]");
}

static bool is_headless(const json_t *svc)
{
  const char *ip = cluster_ip(svc);
  return ip && !strcmp(ip, "None");
}

/* ip may point into svc itself: copied before anything is replaced. */
static void set_cluster_ip(json_t *svc, const char *ip)
{
  json_t *s = json_string(ip);
  json_t *arr = json_array();
  json_array_append(arr, s);
  kj_set(svc, "spec.clusterIP", s);
  kj_set(svc, "spec.clusterIPs", arr);
}

static void svc_defaults(json_t *obj)
{
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return;
  const char *t = kj_get_str(spec, "type");
  if (!t || !*t) kj_set_str(spec, "type", "ClusterIP");
  kj_default(spec, "sessionAffinity", json_string("None"));
  const char *aff = kj_get_str(spec, "sessionAffinity");
  if (aff && !strcmp(aff, "ClientIP"))
    kj_default(spec, "sessionAffinityConfig.clientIP.timeoutSeconds", json_integer(10800));
  size_t i;
  json_t *p;
  json_array_foreach (json_object_get(spec, "ports"), i, p) {
    if (!json_is_object(p)) continue;
    kj_default(p, "protocol", json_string("TCP"));
    json_t *tp = json_object_get(p, "targetPort");
    if ((!tp || (json_is_integer(tp) && json_integer_value(tp) == 0) ||
         (json_is_string(tp) && !*json_string_value(tp))) &&
        json_object_get(p, "port"))
      json_object_set(p, "targetPort", json_object_get(p, "port"));
  }
  /* keep clusterIP and clusterIPs in step */
  const char *ip = kj_get_str(spec, "clusterIP");
  json_t *ips = json_object_get(spec, "clusterIPs");
  if (ip && *ip && json_array_size(ips) == 0) set_cluster_ip(obj, ip);
  else if ((!ip || !*ip) && json_array_size(ips) > 0 && json_is_string(json_array_get(ips, 0)))
    kj_set_str(spec, "clusterIP", json_string_value(json_array_get(ips, 0)));

  if (!is_external_name(obj)) {
    kj_default(spec, "internalTrafficPolicy", json_string("Cluster"));
    json_t *fam = json_array();
    json_array_append_new(fam, json_string("IPv4"));
    kj_default(spec, "ipFamilies", fam);
    kj_default(spec, "ipFamilyPolicy", json_string("SingleStack"));
  }
  if (needs_node_ports(obj)) kj_default(spec, "externalTrafficPolicy", json_string("Cluster"));
  if (!strcmp(svc_type(obj), "LoadBalancer")) kj_default(spec, "allocateLoadBalancerNodePorts", json_true());
}

static void svc_prepare_create(struct reg_request *rq, json_t *obj)
{
  json_t *st = json_object();
  json_object_set_new(st, "loadBalancer", json_object());
  json_object_set_new(obj, "status", st);
}

static const json_t *old_port_for(const json_t *old, const json_t *p)
{
  size_t i;
  json_t *o;
  json_int_t port = json_integer_value(json_object_get(p, "port"));
  const char *proto = reg_str_or(kj_get_str(p, "protocol"), "TCP");
  json_array_foreach (kj_get(old, "spec.ports"), i, o) {
    if (json_integer_value(json_object_get(o, "port")) == port &&
        !strcmp(reg_str_or(kj_get_str(o, "protocol"), "TCP"), proto))
      return o;
  }
  return NULL;
}

static void svc_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  reg_split_status(rq, obj, old);
  if (rq && rq->subresource) return;
  json_t *spec = json_object_get(obj, "spec");
  if (!json_is_object(spec)) return;
  bool was_ext = is_external_name(old), now_ext = is_external_name(obj);
  const char *oip = cluster_ip(old);
  const char *nip = cluster_ip(obj);
  if (now_ext && !was_ext) {
    /* Leaving the ClusterIP world: drop what the old type had allocated
     * when the client left it as it was. */
    if (!nip || (oip && !strcmp(nip, oip))) {
      json_object_del(spec, "clusterIP");
      json_object_del(spec, "clusterIPs");
    }
    json_object_del(spec, "ipFamilies");
    json_object_del(spec, "ipFamilyPolicy");
    json_object_del(spec, "internalTrafficPolicy");
  } else if (!now_ext && !was_ext && (!nip || !*nip) && oip && *oip) {
    set_cluster_ip(obj, oip); /* patchAllocatedValues */
  } else if (nip && oip && strcmp(nip, oip)) {
    /* clusterIP edited alone: clusterIPs follows (normalizeClusterIPs) */
    const char *ip = kj_get_str(spec, "clusterIP");
    const char *ips0 = kj_get_str(spec, "clusterIPs[0]");
    if (ip && ips0 && !strcmp(ips0, oip) && strcmp(ip, oip)) set_cluster_ip(obj, ip);
  }
  size_t i;
  json_t *p;
  bool now_np = needs_node_ports(obj), was_np = needs_node_ports(old);
  json_array_foreach (json_object_get(spec, "ports"), i, p) {
    const json_t *op = old_port_for(old, p);
    json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
    json_int_t onp = op ? json_integer_value(json_object_get(op, "nodePort")) : 0;
    if (now_np && np == 0 && onp) json_object_set_new(p, "nodePort", json_integer(onp));
    else if (!now_np && was_np && np && np == onp) json_object_del(p, "nodePort");
  }
  if (!now_np && was_np) {
    json_t *etp = json_object_get(spec, "externalTrafficPolicy");
    if (etp && json_equal(etp, kj_get(old, "spec.externalTrafficPolicy")))
      json_object_del(spec, "externalTrafficPolicy");
  }
  json_t *hc = kj_get(old, "spec.healthCheckNodePort");
  bool wants_hc = !strcmp(svc_type(obj), "LoadBalancer") &&
                  !strcmp(reg_str_or(kj_get_str(obj, "spec.externalTrafficPolicy"), "Cluster"), "Local");
  if (!wants_hc) {
    json_t *nhc = json_object_get(spec, "healthCheckNodePort");
    if (nhc && hc && json_equal(nhc, hc)) json_object_del(spec, "healthCheckNodePort");
  } else if (hc && !json_object_get(spec, "healthCheckNodePort")) {
    json_object_set(spec, "healthCheckNodePort", hc);
  }
}

/* ---- admission: allocation ---- */

static json_t *invalid(const char *name, const char *field, const json_t *value, const char *detail)
{
  json_t *causes = json_array();
  reg_cause_invalid(causes, field, value, detail);
  return kstatus_invalid("", "Service", name ? name : "", causes);
}

static bool port_in(const json_t *svc, json_int_t np)
{
  size_t i;
  json_t *p;
  if (!needs_node_ports(svc)) return false;
  json_array_foreach (kj_get(svc, "spec.ports"), i, p)
    if (json_integer_value(json_object_get(p, "nodePort")) == np) return true;
  return false;
}

static bool valid_ipv4(const char *ip)
{
  uint32_t x;
  return ip && reg_parse_ipv4(ip, &x) == 0;
}

/* What one admission took from the allocators, given back on failure or
 * for a dry run. */
struct svc_taken {
  struct svc_alloc *a;
  const char *name;
  uint32_t ip;
  bool ip_taken;
  int ports[256];
  size_t nports;
};

static void taken_port(struct svc_taken *t, int port)
{
  if (t->nports < sizeof(t->ports) / sizeof(t->ports[0])) t->ports[t->nports++] = port;
}

static void give_back(struct svc_taken *t)
{
  if (t->ip_taken) svc_release_ip(t->a, t->ip);
  for (size_t k = 0; k < t->nports; k++) svc_release_port(t->a, t->ports[k]);
}

/* A ClusterIP for a Service that has none (or newly needs one after being
 * ExternalName), or the one it asks for when free and in range. */
static json_t *admit_cluster_ip(struct svc_taken *t, json_t *obj, const json_t *old)
{
  const char *oip = old && !is_external_name(old) ? cluster_ip(old) : NULL;
  if (is_external_name(obj) || is_headless(obj)) return NULL;
  const char *ip = cluster_ip(obj);
  if (ip && oip && !strcmp(ip, oip)) return NULL;
  if (!ip || !*ip) {
    if (svc_alloc_ip(t->a, 0, &t->ip) != 0) {
      json_t *ips = kj_get(obj, "spec.clusterIPs"), *empty = json_array();
      json_t *err =
          invalid(t->name, "spec.clusterIPs", ips ? ips : empty, "failed to allocate a serviceIP: range is full");
      json_decref(empty);
      return err;
    }
    char buf[16];
    reg_format_ipv4(t->ip, buf);
    set_cluster_ip(obj, buf);
    t->ip_taken = true;
    return NULL;
  }
  /* an edited clusterIP on update is left to validation to refuse */
  if (!valid_ipv4(ip) || (old && !is_external_name(old))) return NULL;
  uint32_t want;
  reg_parse_ipv4(ip, &want);
  int rc = svc_alloc_ip(t->a, want, &t->ip);
  if (rc == 0) {
    t->ip_taken = true;
    return NULL;
  }
  char detail[256];
  if (old)
    snprintf(detail, sizeof(detail), "failed to allocate IP %s: %s", ip,
             rc == -EEXIST ? "provided IP is already allocated" : "provided IP is not in the valid range");
  else if (rc == -EEXIST)
    snprintf(detail, sizeof(detail), "failed to allocate IP %s: provided IP is already allocated", ip);
  else
    snprintf(detail, sizeof(detail),
             "failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s",
             ip, ip, svc_alloc_cidr(t->a));
  return invalid(t->name, "spec.clusterIPs", kj_get(obj, "spec.clusterIPs"), detail);
}

/* A node port for every port of a NodePort or LoadBalancer Service that
 * lacks one (a LoadBalancer only when it allocates them), or the one asked
 * for; one node port may serve several ports (TCP and UDP on 53). */
static json_t *admit_node_ports(struct svc_taken *t, json_t *obj, const json_t *old)
{
  if (!needs_node_ports(obj)) return NULL;
  bool auto_ports =
      strcmp(svc_type(obj), "LoadBalancer") || kj_get_bool(obj, "spec.allocateLoadBalancerNodePorts", true);
  json_t *ports = kj_get(obj, "spec.ports");
  size_t i;
  json_t *p;
  json_array_foreach (ports, i, p) {
    json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
    if (np && old && port_in(old, np)) continue;
    bool shared = false;
    for (size_t k = 0; k < i && np; k++)
      shared = shared || json_integer_value(json_object_get(json_array_get(ports, k), "nodePort")) == np;
    if (shared || (!np && !auto_ports)) continue;
    int got, rc = svc_alloc_port(t->a, (int)np, &got);
    if (rc) {
      char f[64], detail[160];
      int lo, hi;
      svc_alloc_port_range(t->a, &lo, &hi);
      snprintf(f, sizeof(f), "spec.ports[%zu].nodePort", i);
      if (rc == -EEXIST) snprintf(detail, sizeof(detail), "provided port is already allocated");
      else if (rc == -ERANGE)
        snprintf(detail, sizeof(detail), "provided port is not in the valid range. The range of valid ports is %d-%d",
                 lo, hi);
      else snprintf(detail, sizeof(detail), "range is full");
      json_t *v = json_integer(np), *err = invalid(t->name, f, v, detail);
      json_decref(v);
      return err;
    }
    taken_port(t, got);
    if (!np) json_object_set_new(p, "nodePort", json_integer(got));
  }
  return NULL;
}

/* A LoadBalancer with externalTrafficPolicy Local gets a health-check
 * node port. */
static json_t *admit_health_check_port(struct svc_taken *t, json_t *obj, const json_t *old)
{
  if (strcmp(svc_type(obj), "LoadBalancer") ||
      strcmp(reg_str_or(kj_get_str(obj, "spec.externalTrafficPolicy"), "Cluster"), "Local"))
    return NULL;
  json_int_t hc = json_integer_value(kj_get(obj, "spec.healthCheckNodePort"));
  json_int_t ohc = old ? json_integer_value(kj_get(old, "spec.healthCheckNodePort")) : 0;
  if (hc && hc == ohc) return NULL;
  int got, rc = svc_alloc_port(t->a, (int)hc, &got);
  if (rc) {
    json_t *v = json_integer(hc);
    json_t *err =
        invalid(t->name, "spec.healthCheckNodePort", v,
                rc == -EEXIST ? "provided port is already allocated" : "provided port is not in the valid range");
    json_decref(v);
    return err;
  }
  taken_port(t, got);
  if (!hc) kj_set_int(obj, "spec.healthCheckNodePort", got);
  return NULL;
}

/* Gives back what an update dropped: the ClusterIP of a Service turned
 * headless or ExternalName, node ports no longer used. */
static void release_dropped(struct svc_alloc *a, const json_t *obj, const json_t *old)
{
  const char *oip = !is_external_name(old) ? cluster_ip(old) : NULL;
  uint32_t x;
  if (oip && valid_ipv4(oip) && (is_external_name(obj) || is_headless(obj))) {
    reg_parse_ipv4(oip, &x);
    svc_release_ip(a, x);
  }
  size_t i;
  json_t *p;
  if (needs_node_ports(old)) {
    json_array_foreach (kj_get(old, "spec.ports"), i, p) {
      json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
      if (np && !port_in(obj, np)) svc_release_port(a, (int)np);
    }
  }
  json_int_t ohc = json_integer_value(kj_get(old, "spec.healthCheckNodePort"));
  if (ohc && ohc != json_integer_value(kj_get(obj, "spec.healthCheckNodePort"))) svc_release_port(a, (int)ohc);
}

static json_t *svc_admit(struct reg_request *rq, json_t *obj, const json_t *old)
{
  if (!rq || rq->subresource || !rq->srv) return NULL;
  struct svc_taken t = {.a = svc_alloc_get(rq->srv), .name = kj_get_str(obj, "metadata.name")};
  if (!t.a) return kstatus_internal("service allocators are not configured");
  json_t *err;
  if ((err = admit_cluster_ip(&t, obj, old)) || (err = admit_node_ports(&t, obj, old)) ||
      (err = admit_health_check_port(&t, obj, old))) {
    give_back(&t);
    return err;
  }
  if (rq->dry_run) give_back(&t); /* report what would be allocated but keep nothing */
  else if (old) release_dropped(t.a, obj, old);
  return NULL;
}

static void svc_after_delete(struct reg_request *rq, const json_t *obj)
{
  if (!rq || !rq->srv || rq->dry_run || !rq->srv->service_alloc) return;
  struct svc_alloc *a = rq->srv->service_alloc;
  if (svc_alloc_watched(a)) return; /* the storage watch releases it (bootstrap.c) */
  svc_alloc_release_service(a, obj);
}

/* ---- validation ---- */

static void svc_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta_fn(obj, true, names_is_dns1035_label, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && rq && rq->subresource) return;
  json_t *spec = json_object_get(obj, "spec");
  const char *type = kj_get_str(spec, "type");
  reg_check_enum(causes, "spec.type", type, svc_types);
  reg_check_enum(causes, "spec.sessionAffinity", kj_get_str(spec, "sessionAffinity"), affinities);
  bool ext = is_external_name(obj);
  char f[128], msg[512];

  if (ext) {
    const char *en = kj_get_str(spec, "externalName");
    if (!en || !*en) reg_cause_add(causes, REG_REQUIRED, "spec.externalName", "Required value");
    else if (!names_is_dns1123_subdomain(en[strlen(en) - 1] == '.' ? "x" : en, msg, sizeof(msg)))
      reg_cause_invalid_str(causes, "spec.externalName", en, msg);
  }
  json_t *ips = json_object_get(spec, "clusterIPs");
  size_t i;
  json_t *v;
  json_array_foreach (ips, i, v) {
    const char *ip = json_string_value(v);
    struct in6_addr tmp;
    snprintf(f, sizeof(f), "spec.clusterIPs[%zu]", i);
    if (ip && *ip && strcmp(ip, "None") && inet_pton(AF_INET, ip, &tmp) != 1 && inet_pton(AF_INET6, ip, &tmp) != 1)
      reg_cause_invalid_str(causes, f, ip, "must be empty, 'None', or a valid IP address");
  }
  if (needs_node_ports(obj) && is_headless(obj)) {
    json_t *none = json_string("None");
    char d[96];
    snprintf(d, sizeof(d), "may not be set to 'None' for %s services", svc_type(obj));
    reg_cause_invalid(causes, "spec.clusterIPs[0]", none, d);
    json_decref(none);
  }
  if (ext && cluster_ip(obj) && *cluster_ip(obj))
    reg_cause_invalid(causes, "spec.clusterIPs", ips ? ips : json_object_get(spec, "clusterIP"),
                      "may not be set for ExternalName services");

  json_t *ports = json_object_get(spec, "ports");
  if (json_array_size(ports) == 0 && !is_headless(obj) && !ext)
    reg_cause_add(causes, REG_REQUIRED, "spec.ports", "Required value");
  json_t *names = json_object();
  bool np_ok = needs_node_ports(obj);
  json_t *p;
  json_array_foreach (ports, i, p) {
    const char *pn = kj_get_str(p, "name");
    snprintf(f, sizeof(f), "spec.ports[%zu].name", i);
    if (json_array_size(ports) > 1 && (!pn || !*pn)) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
    else if (pn && *pn) {
      if (!names_is_dns1123_label(pn, msg, sizeof(msg))) reg_cause_invalid_str(causes, f, pn, msg);
      else if (json_object_get(names, pn)) reg_cause_add(causes, REG_DUPLICATE, f, "Duplicate value: \"%s\"", pn);
      json_object_set_new(names, pn, json_true());
    }
    json_t *port = json_object_get(p, "port");
    snprintf(f, sizeof(f), "spec.ports[%zu].port", i);
    json_int_t pv = json_integer_value(port);
    if (pv < 1 || pv > 65535) {
      json_t *z = port ? NULL : json_integer(0);
      reg_cause_invalid(causes, f, port ? port : z, "must be between 1 and 65535, inclusive");
      json_decref(z);
    }
    snprintf(f, sizeof(f), "spec.ports[%zu].protocol", i);
    const char *proto = kj_get_str(p, "protocol");
    if (proto) reg_check_enum(causes, f, proto, protocols);
    json_t *tp = json_object_get(p, "targetPort");
    snprintf(f, sizeof(f), "spec.ports[%zu].targetPort", i);
    if (json_is_integer(tp) && (json_integer_value(tp) < 1 || json_integer_value(tp) > 65535))
      reg_cause_invalid(causes, f, tp, "must be between 1 and 65535, inclusive");
    else if (json_is_string(tp) && strlen(json_string_value(tp)) > 15)
      reg_cause_invalid(causes, f, tp, "must be no more than 15 characters");
    json_t *np = json_object_get(p, "nodePort");
    if (np && json_integer_value(np) != 0 && !np_ok) {
      snprintf(f, sizeof(f), "spec.ports[%zu].nodePort", i);
      reg_cause_add(causes, REG_FORBIDDEN, f, "Forbidden: may not be used when `type` is '%s'",
                    reg_str_or(type, "ClusterIP"));
    }
  }
  json_decref(names);
  reg_validate_labels(json_object_get(spec, "selector"), "spec.selector", causes);

  const char *etp = kj_get_str(spec, "externalTrafficPolicy");
  if (etp && *etp) {
    if (!np_ok)
      reg_cause_invalid_str(causes, "spec.externalTrafficPolicy", etp,
                            "may only be set when `type` is 'NodePort' or 'LoadBalancer'");
    else reg_check_enum(causes, "spec.externalTrafficPolicy", etp, traffic_policies);
  }
  const char *itp = kj_get_str(spec, "internalTrafficPolicy");
  if (itp && *itp) reg_check_enum(causes, "spec.internalTrafficPolicy", itp, traffic_policies);

  if (old && !ext && !is_external_name(old)) {
    const char *a = cluster_ip(obj), *b = cluster_ip(old);
    if (a && b && *b && strcmp(a, b))
      reg_cause_invalid(causes, "spec.clusterIPs[0]", kj_get(obj, "spec.clusterIPs"), "may not change once set");
  }
}

/* ---- table ---- */

static char *join_strings(const json_t *arr)
{
  char *buf = NULL;
  size_t len = 0, i, n = 0;
  FILE *f = open_memstream(&buf, &len);
  json_t *v;
  json_array_foreach (arr, i, v)
    if (json_is_string(v)) fprintf(f, "%s%s", n++ ? "," : "", json_string_value(v));
  fclose(f);
  return buf;
}

static char *external_ip(const json_t *svc)
{
  const char *t = svc_type(svc);
  json_t *eips = kj_get(svc, "spec.externalIPs");
  if (!strcmp(t, "ClusterIP") || !strcmp(t, "NodePort"))
    return json_array_size(eips) ? join_strings(eips) : xstrdup("<none>");
  if (!strcmp(t, "ExternalName")) return xstrdup(reg_str_or(kj_get_str(svc, "spec.externalName"), ""));
  if (!strcmp(t, "LoadBalancer")) {
    char *buf = NULL;
    size_t len = 0, i, n = 0;
    FILE *f = open_memstream(&buf, &len);
    json_t *ing;
    json_array_foreach (kj_get(svc, "status.loadBalancer.ingress"), i, ing) {
      const char *s = reg_str_or(kj_get_str(ing, "ip"), kj_get_str(ing, "hostname"));
      if (s && *s) fprintf(f, "%s%s", n++ ? "," : "", s);
    }
    json_t *e;
    json_array_foreach (eips, i, e)
      if (json_is_string(e)) fprintf(f, "%s%s", n++ ? "," : "", json_string_value(e));
    fclose(f);
    if (!n) {
      free(buf);
      return xstrdup("<pending>");
    }
    return buf;
  }
  return xstrdup("<unknown>");
}

static json_t *svc_cells(const json_t *obj)
{
  json_t *row = json_array();
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "metadata.name"), "")));
  json_array_append_new(row, json_string(svc_type(obj)));
  const char *ip = kj_get_str(obj, "spec.clusterIPs[0]");
  json_array_append_new(row, json_string(reg_str_or(ip, "<none>")));
  char *eip = external_ip(obj);
  json_array_append_new(row, json_string(eip ? eip : ""));
  free(eip);
  char *buf = NULL;
  size_t len = 0, i;
  FILE *f = open_memstream(&buf, &len);
  json_t *p;
  json_array_foreach (kj_get(obj, "spec.ports"), i, p) {
    long long port = (long long)kj_get_int(p, "port", 0), np = (long long)kj_get_int(p, "nodePort", 0);
    const char *proto = reg_str_or(kj_get_str(p, "protocol"), "");
    if (np > 0) fprintf(f, "%s%lld:%lld/%s", i ? "," : "", port, np, proto);
    else fprintf(f, "%s%lld/%s", i ? "," : "", port, proto);
  }
  fclose(f);
  json_array_append_new(row, json_string(buf && *buf ? buf : "<none>"));
  free(buf);
  json_array_append_new(row, reg_age_cell(obj));
  char *sel = reg_format_labels(kj_get(obj, "spec.selector"));
  json_array_append_new(row, json_string(sel ? sel : "<none>"));
  free(sel);
  return row;
}

static const struct reg_column svc_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"Type", "string", "", 0, "type determines how the Service is exposed."},
    {"Cluster-IP", "string", "", 0, "clusterIP is the IP address of the service and is usually assigned randomly."},
    {"External-IP", "string", "", 0,
     "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."},
    {"Port(s)", "string", "", 0, "The list of ports that are exposed by this service."},
    {"Age", "string", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {"Selector", "string", "", 1, "Route service traffic to pods with label keys and values matching this selector."},
    {NULL},
};

const struct resource reg_services = {
    .return_deleted_object = true,
    .group = "",
    .version = "v1",
    .plural = "services",
    .singular = "service",
    .kind = "Service",
    .namespaced = true,
    .short_names = {"svc", NULL},
    .categories = {"all", NULL},
    .subresources = RES_SUB_STATUS | RES_SUB_PROXY,
    .storage_prefix = "/registry/services/specs",
    .defaults = svc_defaults,
    .prepare_create = svc_prepare_create,
    .prepare_update = svc_prepare_update,
    .admit = svc_admit,
    .validate = svc_validate,
    .after_delete = svc_after_delete,
    .columns = svc_columns,
    .cells = svc_cells,
};
