/*
 * serviceips.c - the ClusterIP and NodePort allocators of Services
 * (upstream pkg/registry/core/service/ipallocator and portallocator).
 *
 * Two bitmaps: one bit per address of --service-cluster-ip-range (network
 * and broadcast addresses are never handed out) and one bit per port of
 * --service-node-port-range.  Automatic allocation is upstream's random
 * scan with an offset: each range is split into a small static band at its
 * start (min(max(16, size/16), 256) addresses, min(max(16, size/32), 128)
 * ports; none for ranges of 16 or fewer) that users may ask for by value,
 * such as the `kubernetes` and `kube-dns` addresses, and the dynamic rest.
 * A value is drawn from a random place of the dynamic band, scanning on
 * from there; only when that band is full does the static one serve.
 * The state lives in srv->service_alloc; it is rebuilt from stored
 * Services at start and repaired periodically (bootstrap.c), which also
 * reclaims values taken by writes that failed after admission.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/log.h>
#include <kube/timeutil.h>

#include "apiserver.h"
#include "registry/reg_internal.h"
#include <kube/xalloc.h>

#define SVC_DEFAULT_CIDR "10.96.0.0/12"
#define SVC_DEFAULT_PORTS "30000-32767"
#define SVC_MIN_PREFIX 8 /* at most 2^24 addresses: a 2 MiB bitmap */
#define SVC_DNS_IP_OFFSET 10u

struct svc_alloc {
  char cidr[64];
  uint32_t net;  /* network address */
  uint32_t size; /* addresses in the range, network and broadcast included */
  uint8_t *ips;
  uint32_t ip_static; /* addresses in the static band */
  int port_lo, port_hi;
  uint8_t *ports;
  uint32_t port_static; /* ports in the static band */
  uint64_t rng;         /* xorshift64* state, seeded per process */
  /* Values handed out recently; a repair keeps them even when no stored
   * Service holds them yet (their write may still be in flight). */
  struct svc_pending {
    uint32_t ip;
    int port;
    int64_t at_ms;
  } * pending;
  size_t npending, cap_pending;
  bool watched; /* deletions are released from the storage watch */
};

#define SVC_PENDING_GRACE_MS 30000

static void pending_add(struct svc_alloc *a, uint32_t ip, int port)
{
  if (a->npending == a->cap_pending) {
    size_t cap = a->cap_pending ? a->cap_pending * 2 : 16;
    struct svc_pending *p = xrealloc(a->pending, cap * sizeof(*p));
    if (!p) return;
    a->pending = p;
    a->cap_pending = cap;
  }
  a->pending[a->npending++] = (struct svc_pending){ip, port, ktime_mono_ms()};
}

static void pending_drop(struct svc_alloc *a, uint32_t ip, int port)
{
  for (size_t i = 0; i < a->npending;) {
    if ((ip && a->pending[i].ip == ip) || (port && a->pending[i].port == port))
      a->pending[i] = a->pending[--a->npending];
    else i++;
  }
}

int reg_parse_ipv4(const char *s, uint32_t *out)
{
  struct in_addr a;
  if (!s || inet_pton(AF_INET, s, &a) != 1) return -EINVAL;
  *out = ntohl(a.s_addr);
  return 0;
}

void reg_format_ipv4(uint32_t ip, char out[16])
{
  struct in_addr a = {.s_addr = htonl(ip)};
  inet_ntop(AF_INET, &a, out, 16);
}

static int parse_cidr(const char *s, uint32_t *net, int *prefix)
{
  char buf[64];
  snprintf(buf, sizeof(buf), "%s", s);
  char *slash = strchr(buf, '/');
  if (!slash) return -EINVAL;
  *slash = '\0';
  char *end;
  long p = strtol(slash + 1, &end, 10);
  if (*end || p < 0 || p > 32) return -EINVAL;
  uint32_t ip;
  if (reg_parse_ipv4(buf, &ip)) return -EINVAL;
  uint32_t mask = p ? (uint32_t)(0xffffffffu << (32 - p)) : 0;
  *net = ip & mask;
  *prefix = (int)p;
  return 0;
}

static bool bit_get(const uint8_t *b, uint32_t i) { return b[i >> 3] & (1u << (i & 7)); }
static void bit_set(uint8_t *b, uint32_t i) { b[i >> 3] |= (uint8_t)(1u << (i & 7)); }
static void bit_clr(uint8_t *b, uint32_t i) { b[i >> 3] &= (uint8_t) ~(1u << (i & 7)); }

/* upstream's calculateRangeOffset: min(max(lo, size/step), hi), 0 for
 * ranges of lo or fewer values */
static uint32_t range_offset(uint32_t size, uint32_t lo, uint32_t hi, uint32_t step)
{
  if (size <= lo) return 0;
  uint32_t off = size / step;
  return off < lo ? lo : off > hi ? hi : off;
}

static uint64_t rng_next(struct svc_alloc *a)
{
  a->rng ^= a->rng >> 12;
  a->rng ^= a->rng << 25;
  a->rng ^= a->rng >> 27;
  return a->rng * 0x2545F4914F6CDD1DULL;
}

/* A free index in [lo, hi) of the bitmap (bit lo is bits[bit0 + lo]),
 * scanning from a random one; -1 when all are taken. */
static long scan_random(struct svc_alloc *a, const uint8_t *bits, uint32_t bit0, uint32_t lo, uint32_t hi)
{
  if (hi <= lo) return -1;
  uint32_t n = hi - lo, start = (uint32_t)(rng_next(a) % n);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t at = lo + (start + i) % n;
    if (!bit_get(bits, bit0 + at)) return (long)at;
  }
  return -1;
}

/* Dynamic band first, then the static one (upstream's
 * randomScanStrategyWithOffset). */
static long pick(struct svc_alloc *a, const uint8_t *bits, uint32_t bit0, uint32_t count, uint32_t static_n)
{
  long at = scan_random(a, bits, bit0, static_n, count);
  return at >= 0 ? at : scan_random(a, bits, bit0, 0, static_n);
}

int svc_alloc_setup(struct apiserver *srv)
{
  const char *cidr = reg_str_or(srv->cfg.service_cluster_ip_range, SVC_DEFAULT_CIDR);
  const char *ports = reg_str_or(srv->cfg.service_node_port_range, SVC_DEFAULT_PORTS);
  uint32_t net;
  int prefix;
  /* dual-stack ranges are "v4,v6": only the IPv4 family is allocated here */
  char first[64];
  snprintf(first, sizeof(first), "%s", cidr);
  char *comma = strchr(first, ',');
  if (comma) *comma = '\0';
  if (parse_cidr(first, &net, &prefix) || prefix < SVC_MIN_PREFIX || prefix > 30) {
    KLOG_E("invalid --service-cluster-ip-range %s", cidr);
    return -EINVAL;
  }
  int lo, hi;
  char tail;
  if (sscanf(ports, "%d-%d%c", &lo, &hi, &tail) != 2) {
    if (sscanf(ports, "%d%c", &lo, &tail) != 1) {
      KLOG_E("invalid --service-node-port-range %s", ports);
      return -EINVAL;
    }
    hi = lo;
  }
  if (lo < 1 || hi > 65535 || lo > hi) {
    KLOG_E("invalid --service-node-port-range %s", ports);
    return -EINVAL;
  }
  svc_alloc_free(srv);
  struct svc_alloc *a = xcalloc(1, sizeof(*a));
  if (!a) return -ENOMEM;
  snprintf(a->cidr, sizeof(a->cidr), "%s", first);
  a->net = net;
  a->size = (uint32_t)1 << (32 - prefix);
  a->ips = xcalloc((a->size + 7) / 8, 1);
  a->port_lo = lo;
  a->port_hi = hi;
  a->ports = xcalloc((size_t)(hi - lo + 1 + 7) / 8, 1);
  if (!a->ips || !a->ports) {
    free(a->ips);
    free(a->ports);
    free(a);
    return -ENOMEM;
  }
  a->ip_static = range_offset(a->size, 16, 256, 16);
  a->port_static = range_offset((uint32_t)(hi - lo + 1), 16, 128, 32);
  if (getrandom(&a->rng, sizeof a->rng, 0) != sizeof a->rng || !a->rng) a->rng = (uint64_t)ktime_now_us() | 1;
  srv->service_alloc = a;
  return 0;
}

void svc_alloc_free(struct apiserver *srv)
{
  struct svc_alloc *a = srv->service_alloc;
  if (!a) return;
  free(a->ips);
  free(a->ports);
  free(a->pending);
  free(a);
  srv->service_alloc = NULL;
}

struct svc_alloc *svc_alloc_get(struct apiserver *srv)
{
  if (!srv->service_alloc && svc_alloc_setup(srv) != 0) return NULL;
  return srv->service_alloc;
}

const char *svc_alloc_cidr(struct svc_alloc *a) { return a->cidr; }

void svc_alloc_port_range(struct svc_alloc *a, int *lo, int *hi)
{
  *lo = a->port_lo;
  *hi = a->port_hi;
}

uint32_t svc_alloc_first_ip(struct svc_alloc *a) { return a->net + 1; }

uint32_t svc_alloc_dns_ip(struct svc_alloc *a)
{
  /* offset 10 must be a usable address: not the broadcast one */
  return a->size - 1 > SVC_DNS_IP_OFFSET ? a->net + SVC_DNS_IP_OFFSET : 0;
}

static bool ip_offset(struct svc_alloc *a, uint32_t ip, uint32_t *off)
{
  if (ip < a->net || ip - a->net >= a->size) return false;
  *off = ip - a->net;
  return *off != 0 && *off != a->size - 1;
}

int svc_alloc_ip(struct svc_alloc *a, uint32_t want, uint32_t *out)
{
  uint32_t off;
  if (want) {
    if (!ip_offset(a, want, &off)) return -ERANGE;
    if (bit_get(a->ips, off)) return -EEXIST;
    bit_set(a->ips, off);
    pending_add(a, want, 0);
    *out = want;
    return 0;
  }
  /* bit i of the dynamic scan is the address net + 1 + i */
  long at = pick(a, a->ips, 1, a->size - 2, a->ip_static);
  if (at < 0) return -ENOSPC;
  off = (uint32_t)at + 1;
  bit_set(a->ips, off);
  *out = a->net + off;
  pending_add(a, *out, 0);
  return 0;
}

void svc_release_ip(struct svc_alloc *a, uint32_t ip)
{
  uint32_t off;
  if (ip_offset(a, ip, &off)) bit_clr(a->ips, off);
  pending_drop(a, ip, 0);
}

bool svc_ip_in_use(struct svc_alloc *a, uint32_t ip)
{
  uint32_t off;
  return ip_offset(a, ip, &off) && bit_get(a->ips, off);
}

int svc_alloc_port(struct svc_alloc *a, int want, int *out)
{
  int n = a->port_hi - a->port_lo + 1;
  if (want) {
    if (want < a->port_lo || want > a->port_hi) return -ERANGE;
    if (bit_get(a->ports, (uint32_t)(want - a->port_lo))) return -EEXIST;
    bit_set(a->ports, (uint32_t)(want - a->port_lo));
    pending_add(a, 0, want);
    *out = want;
    return 0;
  }
  long at = pick(a, a->ports, 0, (uint32_t)n, a->port_static);
  if (at < 0) return -ENOSPC;
  bit_set(a->ports, (uint32_t)at);
  *out = a->port_lo + (int)at;
  pending_add(a, 0, *out);
  return 0;
}

void svc_release_port(struct svc_alloc *a, int port)
{
  if (port >= a->port_lo && port <= a->port_hi) bit_clr(a->ports, (uint32_t)(port - a->port_lo));
  pending_drop(a, 0, port);
}

bool svc_port_in_use(struct svc_alloc *a, int port)
{
  return port >= a->port_lo && port <= a->port_hi && bit_get(a->ports, (uint32_t)(port - a->port_lo));
}

void svc_alloc_mark_service(struct svc_alloc *a, const json_t *svc)
{
  size_t i;
  json_t *v;
  uint32_t ip, got;
  json_t *ips = kj_get(svc, "spec.clusterIPs");
  if (json_array_size(ips) == 0 && kj_get_str(svc, "spec.clusterIP")) {
    if (!reg_parse_ipv4(kj_get_str(svc, "spec.clusterIP"), &ip) && !svc_ip_in_use(a, ip)) svc_alloc_ip(a, ip, &got);
  }
  json_array_foreach (ips, i, v) {
    if (!reg_parse_ipv4(json_string_value(v), &ip) && !svc_ip_in_use(a, ip)) svc_alloc_ip(a, ip, &got);
  }
  json_array_foreach (kj_get(svc, "spec.ports"), i, v) {
    int p = (int)kj_get_int(v, "nodePort", 0), gp;
    if (p && !svc_port_in_use(a, p)) svc_alloc_port(a, p, &gp);
  }
  int hc = (int)kj_get_int(svc, "spec.healthCheckNodePort", 0), gp;
  if (hc && !svc_port_in_use(a, hc)) svc_alloc_port(a, hc, &gp);
}

void svc_alloc_begin_repair(struct svc_alloc *a)
{
  memset(a->ips, 0, (a->size + 7) / 8);
  memset(a->ports, 0, (size_t)(a->port_hi - a->port_lo + 1 + 7) / 8);
}

void svc_alloc_end_repair(struct svc_alloc *a)
{
  int64_t now = ktime_mono_ms();
  for (size_t i = 0; i < a->npending;) {
    struct svc_pending *p = &a->pending[i];
    if (now - p->at_ms > SVC_PENDING_GRACE_MS) {
      *p = a->pending[--a->npending];
      continue;
    }
    uint32_t off;
    if (p->ip && ip_offset(a, p->ip, &off)) bit_set(a->ips, off);
    if (p->port >= a->port_lo && p->port <= a->port_hi) bit_set(a->ports, (uint32_t)(p->port - a->port_lo));
    i++;
  }
}

void svc_alloc_set_watched(struct svc_alloc *a, bool on) { a->watched = on; }

bool svc_alloc_watched(const struct svc_alloc *a) { return a->watched; }

void svc_alloc_release_service(struct svc_alloc *a, const json_t *svc)
{
  size_t i;
  json_t *v;
  uint32_t ip;
  json_t *ips = kj_get(svc, "spec.clusterIPs");
  json_array_foreach (ips, i, v)
    if (!reg_parse_ipv4(json_string_value(v), &ip)) svc_release_ip(a, ip);
  if (!json_array_size(ips) && !reg_parse_ipv4(kj_get_str(svc, "spec.clusterIP"), &ip)) svc_release_ip(a, ip);
  json_array_foreach (kj_get(svc, "spec.ports"), i, v) {
    json_int_t np = json_integer_value(json_object_get(v, "nodePort"));
    if (np) svc_release_port(a, (int)np);
  }
  json_int_t hc = json_integer_value(kj_get(svc, "spec.healthCheckNodePort"));
  if (hc) svc_release_port(a, (int)hc);
}
