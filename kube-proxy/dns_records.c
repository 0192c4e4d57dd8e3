/*
 * dns_records.c - answers from the model (see dns.h for the records).
 *
 * A question name is lower-cased and split into labels; names under the
 * zone are decoded by shape (svc / pod / dns-version), reverse names are
 * matched against ClusterIPs and headless endpoints.  Headless endpoints
 * are read across all of a Service's EndpointSlices, deduplicated by IP.
 */
#include "kube/xalloc.h"
#include "dns.h"

#include <ctype.h>
#include <strings.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "model.h"
#include "ruleset.h"

#define MAX_LABELS 128
#define SOA_REFRESH 7200
#define SOA_RETRY 1800
#define SOA_EXPIRE 86400

const char *kp_dns_type_name(uint16_t t)
{
  switch (t) {
  case KP_DNS_T_A: return "A";
  case KP_DNS_T_NS: return "NS";
  case KP_DNS_T_CNAME: return "CNAME";
  case KP_DNS_T_SOA: return "SOA";
  case KP_DNS_T_PTR: return "PTR";
  case KP_DNS_T_TXT: return "TXT";
  case KP_DNS_T_AAAA: return "AAAA";
  case KP_DNS_T_SRV: return "SRV";
  case KP_DNS_T_ANY: return "ANY";
  default: return "other";
  }
}

const char *kp_dns_rcode_name(int rc)
{
  switch (rc) {
  case KP_DNS_NOERROR: return "NOERROR";
  case KP_DNS_FORMERR: return "FORMERR";
  case KP_DNS_SERVFAIL: return "SERVFAIL";
  case KP_DNS_NXDOMAIN: return "NXDOMAIN";
  case KP_DNS_NOTIMP: return "NOTIMP";
  default: return "REFUSED";
  }
}

void kp_dns_answer_free(struct kp_dns_answer *a)
{
  free(a->rr);
  memset(a, 0, sizeof *a);
}

struct kp_dns_rr *kp_dns_answer_add(struct kp_dns_answer *a, enum kp_dns_section s, uint16_t type, const char *name)
{
  if (a->n == a->cap) {
    a->cap = a->cap ? a->cap * 2 : 8;
    a->rr = xrealloc(a->rr, a->cap * sizeof *a->rr);
  }
  struct kp_dns_rr *rr = &a->rr[a->n++];
  memset(rr, 0, sizeof *rr);
  rr->section = (uint8_t)s;
  rr->type = type;
  rr->ttl = KP_DNS_TTL;
  snprintf(rr->name, sizeof rr->name, "%s", name);
  return rr;
}

/* ---- helpers ---- */

struct q {
  const struct kp_model *m;
  const char *zone;
  char name[KP_DNS_NAME_MAX]; /* lower case, no trailing dot */
  uint16_t type;
  char *labels[MAX_LABELS]; /* into buf: the labels before the zone */
  int nlabels;
  char buf[KP_DNS_NAME_MAX];
  struct kp_dns_answer *out;
};

static void add_soa(struct q *q, enum kp_dns_section s)
{
  struct kp_dns_rr *rr = kp_dns_answer_add(q->out, s, KP_DNS_T_SOA, q->zone);
  snprintf(rr->target, sizeof rr->target, "ns.dns.%s", q->zone);
  snprintf(rr->text, sizeof rr->text, "hostmaster.%s", q->zone);
  rr->soa[0] = (uint32_t)(q->m->version & 0xffffffffu);
  rr->soa[1] = SOA_REFRESH;
  rr->soa[2] = SOA_RETRY;
  rr->soa[3] = SOA_EXPIRE;
  rr->soa[4] = KP_DNS_TTL;
}

static void nxdomain(struct q *q)
{
  q->out->rcode = KP_DNS_NXDOMAIN;
  add_soa(q, KP_DNS_AUTHORITY);
}

/* The name exists but has nothing of the asked type. */
static void nodata(struct q *q) { add_soa(q, KP_DNS_AUTHORITY); }

static bool wants(const struct q *q, uint16_t t) { return q->type == t || q->type == KP_DNS_T_ANY; }

static void add_a(struct q *q, enum kp_dns_section s, const char *name, uint32_t ip)
{
  kp_dns_answer_add(q->out, s, KP_DNS_T_A, name)->a = ip;
}

static void dashed(uint32_t ip, char *out, size_t len)
{
  snprintf(out, len, "%u-%u-%u-%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

/* One headless endpoint as DNS sees it. */
struct dns_ep {
  uint32_t ip;
  char host[64];
};

/* Distinct endpoint IPs of a service, ready ones (all with
 * publishNotReadyAddresses), with their DNS hostnames. */
static size_t headless_endpoints(const struct kp_model *m, const struct kp_service *s, struct dns_ep **out)
{
  *out = NULL;
  struct kp_map *set = kp_model_slices(m, s->key);
  if (!set) return 0;
  size_t cap = 0, pos = 0, n = 0;
  struct kp_slice *sl;
  while (kp_map_next(set, &pos, NULL, (void **)&sl)) cap += sl->neps;
  struct dns_ep *v = xcalloc(cap ? cap : 1, sizeof *v);
  pos = 0;
  while (kp_map_next(set, &pos, NULL, (void **)&sl)) {
    if (!sl->ipv4) continue;
    for (size_t i = 0; i < sl->neps; i++) {
      const struct kp_ep *e = &sl->eps[i];
      if (!e->ready && !s->publish_not_ready) continue;
      bool dup = false;
      for (size_t j = 0; j < n && !dup; j++) dup = v[j].ip == e->ip;
      if (dup) continue;
      v[n].ip = e->ip;
      if (e->hostname) snprintf(v[n].host, sizeof v[n].host, "%s", e->hostname);
      else dashed(e->ip, v[n].host, sizeof v[n].host);
      n++;
    }
  }
  *out = v;
  return n;
}

/* The endpoints' port for a named service port (target port), from the
 * slices; the service port when no slice has it. */
static uint16_t endpoint_port(const struct kp_model *m, const struct kp_service *s, const struct kp_svc_port *sp)
{
  struct kp_map *set = kp_model_slices(m, s->key);
  size_t pos = 0;
  struct kp_slice *sl;
  while (set && kp_map_next(set, &pos, NULL, (void **)&sl))
    for (size_t i = 0; i < sl->nports; i++)
      if (sl->ports[i].has_port && sl->ports[i].proto == sp->proto && !strcmp(sl->ports[i].name, sp->name))
        return sl->ports[i].port;
  return sp->port;
}

/* ---- service names ---- */

static void answer_service(struct q *q, const struct kp_service *s)
{
  char svcname[KP_DNS_NAME_MAX];
  snprintf(svcname, sizeof svcname, "%s.%s.svc.%s", s->name, s->ns, q->zone);
  if (s->type == KP_SVC_EXTERNAL_NAME) {
    if (!s->external_name) {
      nxdomain(q);
      return;
    }
    if (q->type == KP_DNS_T_SRV || q->type == KP_DNS_T_TXT || q->type == KP_DNS_T_SOA) {
      nodata(q);
      return;
    }
    struct kp_dns_rr *rr = kp_dns_answer_add(q->out, KP_DNS_ANSWER, KP_DNS_T_CNAME, q->name);
    snprintf(rr->target, sizeof rr->target, "%s", s->external_name);
    size_t n = strlen(rr->target);
    if (n && rr->target[n - 1] == '.') rr->target[n - 1] = 0;
    return;
  }
  if (s->headless) {
    struct dns_ep *eps;
    size_t n = headless_endpoints(q->m, s, &eps);
    if (n == 0) {
      nxdomain(q);
    } else if (wants(q, KP_DNS_T_A)) {
      for (size_t i = 0; i < n; i++) add_a(q, KP_DNS_ANSWER, q->name, eps[i].ip);
    } else if (q->type == KP_DNS_T_SRV) {
      free(eps);
      eps = NULL;
      /* SRV on the service name: every named port (CoreDNS does the same) */
      for (size_t p = 0; p < s->nports; p++) {
        if (!*s->ports[p].name) continue;
        struct dns_ep *e2;
        size_t n2 = headless_endpoints(q->m, s, &e2);
        uint16_t port = endpoint_port(q->m, s, &s->ports[p]);
        for (size_t i = 0; i < n2; i++) {
          struct kp_dns_rr *rr = kp_dns_answer_add(q->out, KP_DNS_ANSWER, KP_DNS_T_SRV, q->name);
          rr->weight = (uint16_t)(100 / n2);
          rr->port = port;
          snprintf(rr->target, sizeof rr->target, "%s.%s", e2[i].host, svcname);
        }
        free(e2);
      }
      if (q->out->n == 0) nodata(q);
    } else {
      nodata(q);
    }
    free(eps);
    return;
  }
  if (!s->cluster_ip) {
    nxdomain(q);
    return;
  }
  if (wants(q, KP_DNS_T_A)) {
    add_a(q, KP_DNS_ANSWER, q->name, s->cluster_ip);
  } else if (q->type == KP_DNS_T_SRV) {
    for (size_t p = 0; p < s->nports; p++) {
      if (!*s->ports[p].name) continue;
      struct kp_dns_rr *rr = kp_dns_answer_add(q->out, KP_DNS_ANSWER, KP_DNS_T_SRV, q->name);
      rr->weight = 100;
      rr->port = s->ports[p].port;
      snprintf(rr->target, sizeof rr->target, "%s", svcname);
    }
    if (q->out->n) add_a(q, KP_DNS_ADDITIONAL, svcname, s->cluster_ip);
    else nodata(q);
  } else {
    nodata(q);
  }
}

/* _port._proto.svc.ns.svc.zone */
static void answer_srv(struct q *q, const struct kp_service *s, const char *port_name, const char *proto)
{
  char svcname[KP_DNS_NAME_MAX];
  snprintf(svcname, sizeof svcname, "%s.%s.svc.%s", s->name, s->ns, q->zone);
  const struct kp_svc_port *sp = NULL;
  for (size_t i = 0; i < s->nports && !sp; i++)
    if (*s->ports[i].name && !strcasecmp(s->ports[i].name, port_name) &&
        !strcasecmp(kp_proto_lower(s->ports[i].proto), proto))
      sp = &s->ports[i];
  if (!sp || s->type == KP_SVC_EXTERNAL_NAME) {
    nxdomain(q);
    return;
  }
  if (q->type != KP_DNS_T_SRV && q->type != KP_DNS_T_ANY) {
    nodata(q);
    return;
  }
  if (!s->headless) {
    struct kp_dns_rr *rr = kp_dns_answer_add(q->out, KP_DNS_ANSWER, KP_DNS_T_SRV, q->name);
    rr->weight = 100;
    rr->port = sp->port;
    snprintf(rr->target, sizeof rr->target, "%s", svcname);
    add_a(q, KP_DNS_ADDITIONAL, svcname, s->cluster_ip);
    return;
  }
  struct dns_ep *eps;
  size_t n = headless_endpoints(q->m, s, &eps);
  if (!n) {
    free(eps);
    nxdomain(q);
    return;
  }
  uint16_t port = endpoint_port(q->m, s, sp);
  for (size_t i = 0; i < n; i++) {
    struct kp_dns_rr *rr = kp_dns_answer_add(q->out, KP_DNS_ANSWER, KP_DNS_T_SRV, q->name);
    rr->weight = (uint16_t)(100 / n);
    rr->port = port;
    snprintf(rr->target, sizeof rr->target, "%s.%s", eps[i].host, svcname);
  }
  for (size_t i = 0; i < n; i++) {
    char target[KP_DNS_NAME_MAX];
    snprintf(target, sizeof target, "%s.%s", eps[i].host, svcname);
    add_a(q, KP_DNS_ADDITIONAL, target, eps[i].ip);
  }
  free(eps);
}

/* host.svc.ns.svc.zone: a headless endpoint */
static void answer_endpoint(struct q *q, const struct kp_service *s, const char *host)
{
  if (!s->headless) {
    nxdomain(q);
    return;
  }
  struct dns_ep *eps;
  size_t n = headless_endpoints(q->m, s, &eps);
  size_t found = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcasecmp(eps[i].host, host)) continue;
    found++;
    if (wants(q, KP_DNS_T_A)) add_a(q, KP_DNS_ANSWER, q->name, eps[i].ip);
  }
  free(eps);
  if (!found) nxdomain(q);
  else if (!wants(q, KP_DNS_T_A)) nodata(q);
}

static bool namespace_has_services(const struct kp_model *m, const char *ns)
{
  size_t pos = 0;
  struct kp_service *s;
  while (kp_map_next(m->services, &pos, NULL, (void **)&s))
    if (!strcmp(s->ns, ns)) return true;
  return false;
}

static void answer_in_zone(struct q *q)
{
  char **l = q->labels;
  int n = q->nlabels;
  q->out->authoritative = true;
  if (n == 0) { /* the zone apex */
    if (wants(q, KP_DNS_T_SOA)) add_soa(q, KP_DNS_ANSWER);
    else if (wants(q, KP_DNS_T_NS)) {
      struct kp_dns_rr *rr = kp_dns_answer_add(q->out, KP_DNS_ANSWER, KP_DNS_T_NS, q->name);
      snprintf(rr->target, sizeof rr->target, "ns.dns.%s", q->zone);
    } else nodata(q);
    return;
  }
  if (n == 1 && !strcmp(l[0], "dns-version")) {
    if (wants(q, KP_DNS_T_TXT))
      snprintf(kp_dns_answer_add(q->out, KP_DNS_ANSWER, KP_DNS_T_TXT, q->name)->text, KP_DNS_NAME_MAX, "%s",
               KP_DNS_SCHEMA_VERSION);
    else nodata(q);
    return;
  }
  if (n == 1 && (!strcmp(l[0], "svc") || !strcmp(l[0], "pod"))) {
    nodata(q);
    return;
  }
  if (n == 2 && !strcmp(l[1], "svc")) {
    if (namespace_has_services(q->m, l[0])) nodata(q);
    else nxdomain(q);
    return;
  }
  if (n == 3 && !strcmp(l[2], "pod")) {
    char ipbuf[64];
    snprintf(ipbuf, sizeof ipbuf, "%s", l[0]);
    for (char *p = ipbuf; *p; p++)
      if (*p == '-') *p = '.';
    uint32_t ip;
    if (!kp_ip_parse(ipbuf, &ip)) nxdomain(q);
    else if (wants(q, KP_DNS_T_A)) add_a(q, KP_DNS_ANSWER, q->name, ip);
    else nodata(q);
    return;
  }
  if (n >= 3 && n <= 5 && !strcmp(l[n - 1], "svc")) {
    const struct kp_service *s = kp_model_service(q->m, l[n - 2], l[n - 3]);
    if (!s) nxdomain(q);
    else if (n == 3) answer_service(q, s);
    else if (n == 5 && l[0][0] == '_' && l[1][0] == '_') answer_srv(q, s, l[0] + 1, l[1] + 1);
    else if (n == 4) answer_endpoint(q, s, l[0]);
    else nxdomain(q);
    return;
  }
  nxdomain(q);
}

/* ---- reverse names ---- */

static bool parse_reverse(const char *name, uint32_t *ip)
{
  unsigned a, b, c, d;
  char tail[32];
  if (sscanf(name, "%u.%u.%u.%u.%31s", &d, &c, &b, &a, tail) != 5 || strcmp(tail, "in-addr.arpa")) return false;
  if (a > 255 || b > 255 || c > 255 || d > 255) return false;
  *ip = a << 24 | b << 16 | c << 8 | d;
  return true;
}

static void add_ptr(struct q *q, const char *target)
{
  snprintf(kp_dns_answer_add(q->out, KP_DNS_ANSWER, KP_DNS_T_PTR, q->name)->target, KP_DNS_NAME_MAX, "%s", target);
}

static void answer_reverse(struct q *q, uint32_t ip)
{
  size_t pos = 0;
  struct kp_service *s;
  char target[KP_DNS_NAME_MAX];
  while (kp_map_next(q->m->services, &pos, NULL, (void **)&s)) {
    if (s->cluster_ip == ip && !s->headless && s->type != KP_SVC_EXTERNAL_NAME) {
      snprintf(target, sizeof target, "%s.%s.svc.%s", s->name, s->ns, q->zone);
      add_ptr(q, target);
    } else if (s->headless) {
      struct dns_ep *eps;
      size_t n = headless_endpoints(q->m, s, &eps);
      for (size_t i = 0; i < n; i++)
        if (eps[i].ip == ip) {
          snprintf(target, sizeof target, "%s.%s.%s.svc.%s", eps[i].host, s->name, s->ns, q->zone);
          add_ptr(q, target);
        }
      free(eps);
    }
  }
  if (q->out->n == 0) {
    q->out->forward = true; /* not a cluster address: the upstream servers may know it */
    return;
  }
  q->out->authoritative = true;
  if (!wants(q, KP_DNS_T_PTR)) { /* the name exists: no data of the asked type */
    q->out->n = 0;
    nodata(q);
  }
}

void kp_dns_lookup(const struct kp_model *m, const char *zone, const char *qname, uint16_t qtype,
                   struct kp_dns_answer *out)
{
  memset(out, 0, sizeof *out);
  struct q *q = xcalloc(1, sizeof *q);
  q->m = m;
  q->zone = zone;
  q->type = qtype;
  q->out = out;
  size_t n = 0;
  for (const char *p = qname; *p && n < sizeof q->name - 1; p++) q->name[n++] = (char)tolower((unsigned char)*p);
  while (n && q->name[n - 1] == '.') n--;
  q->name[n] = 0;
  size_t zl = strlen(zone);
  uint32_t ip;
  if (n == zl && !strcmp(q->name, zone)) {
    answer_in_zone(q);
  } else if (n > zl && q->name[n - zl - 1] == '.' && !strcmp(q->name + n - zl, zone)) {
    memcpy(q->buf, q->name, n - zl - 1);
    q->buf[n - zl - 1] = 0;
    for (char *save = NULL, *t = strtok_r(q->buf, ".", &save); t && q->nlabels < MAX_LABELS;
         t = strtok_r(NULL, ".", &save))
      q->labels[q->nlabels++] = t;
    answer_in_zone(q);
  } else if (parse_reverse(q->name, &ip)) {
    answer_reverse(q, ip);
  } else {
    out->forward = true;
  }
  free(q);
}
