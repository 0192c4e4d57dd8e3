/*
 * dns.c - the DNS server: evdns for UDP, a framed TCP listener, and
 * forwarding with a small cache (see dns.h).
 *
 * Every question goes through serve(): the model answers names it owns
 * at once (kp_dns_lookup); an ExternalName's CNAME is followed inside the
 * zone, or outside it for A/AAAA through the upstream servers; other
 * names are forwarded.  Forwarded A, AAAA and PTR questions are resolved
 * with evdns's client and cached by (type, name) for the upstream TTL
 * (NXDOMAIN for 5 s); the cache is bounded and evicts the oldest entry.
 * Questions of other types outside the cluster (MX, TXT, SRV, CNAME...),
 * which libevent 2.1's client cannot ask, go through the relay
 * (dns_relay.c) as they were asked: a TCP client gets the upstream's
 * message byte for byte (its own id), after a TCP retry upstream if the
 * UDP answer was truncated; a UDP client gets the same header flags,
 * rcode and records re-encoded by evdns (which truncates above 512 bytes
 * and sets TC, so the client asks again over TCP).  Relayed answers are
 * not cached.
 *
 * A pending question holds its transport: the evdns request (UDP), or the
 * TCP connection and query id.  A TCP connection that closes while its
 * questions are pending detaches them; they finish and are dropped.
 */
#define _GNU_SOURCE
#include "kube/xalloc.h"
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube/log.h"
#include "kube/metrics.h"
#include "kube/timeutil.h"
#include "map.h"
#include "model.h"
#include "ruleset.h"

#define DNS_TCP_MAX_MSG 65535
#define DNS_TCP_IDLE_S 10
#define DNS_NEGATIVE_TTL_S 5
#define DNS_MAX_CACHE_TTL_S 300
#define DNS_DEFAULT_CACHE 1024

struct tcp_conn;

struct pending {
  struct kp_dns *d;
  struct evdns_server_request *ureq;
  struct tcp_conn *tc;
  struct pending *tc_next;
  uint16_t id, flags, qtype;
  char qname[KP_DNS_NAME_MAX];
  struct kp_dns_answer ans;       /* what we have so far (a CNAME when chasing) */
  char fwd_name[KP_DNS_NAME_MAX]; /* the name being resolved upstream */
  struct evdns_request *fwd;
  struct kp_dns_relay_req *relayed;
  uint16_t qclass;
  struct pending *next, *prev; /* all pending forwards */
};

struct tcp_conn {
  struct kp_dns *d;
  struct bufferevent *bev;
  struct pending *pending;
  struct tcp_conn *next, *prev;
};

struct cache_entry {
  int rcode;
  int64_t expires_ms;
  struct kp_dns_rr *rr;
  size_t n;
  char *key;
};

struct kp_dns {
  struct event_base *base;
  const struct kp_model *m;
  char *zone;
  uint16_t port, bound_port;
  uint32_t ip;
  struct metrics *metrics;
  struct evdns_server_port *udp;
  evutil_socket_t udp_fd;
  struct evconnlistener *tcp;
  struct evdns_base *client;
  struct kp_dns_relay *relay;
  struct tcp_conn *conns;
  struct pending *pending;
  struct kp_map *cache;
  char **cache_fifo;
  size_t cache_cap, cache_head, cache_len;
  bool closing;
};

/* ---- metrics ---- */

static void count_request(struct kp_dns *d, const char *proto, uint16_t type)
{
  if (!d->metrics) return;
  char labels[96];
  snprintf(labels, sizeof labels, "proto=\"%s\",type=\"%s\"", proto, kp_dns_type_name(type));
  metrics_counter_add(d->metrics, "kubeproxy_dns_requests_total", "DNS questions received, by transport and type",
                      labels, 1);
}

static void count_response(struct kp_dns *d, int rcode)
{
  if (!d->metrics) return;
  char labels[64];
  snprintf(labels, sizeof labels, "rcode=\"%s\"", kp_dns_rcode_name(rcode));
  metrics_counter_add(d->metrics, "kubeproxy_dns_responses_total", "DNS answers sent, by response code", labels, 1);
}

/* ---- answering ---- */

static void udp_add(struct evdns_server_request *req, const struct kp_dns_rr *rr)
{
  int section = rr->section == KP_DNS_ANSWER      ? EVDNS_ANSWER_SECTION
                : rr->section == KP_DNS_AUTHORITY ? EVDNS_AUTHORITY_SECTION
                                                  : EVDNS_ADDITIONAL_SECTION;
  switch (rr->type) {
  case KP_DNS_T_A: {
    uint32_t be = htonl(rr->a);
    if (section == EVDNS_ANSWER_SECTION) {
      evdns_server_request_add_a_reply(req, rr->name, 1, &be, (int)rr->ttl);
      return;
    }
    evdns_server_request_add_reply(req, section, rr->name, KP_DNS_T_A, 1, (int)rr->ttl, 4, 0, (const char *)&be);
    return;
  }
  case KP_DNS_T_AAAA: evdns_server_request_add_aaaa_reply(req, rr->name, 1, rr->aaaa, (int)rr->ttl); return;
  case KP_DNS_T_CNAME: evdns_server_request_add_cname_reply(req, rr->name, rr->target, (int)rr->ttl); return;
  case KP_DNS_T_PTR: evdns_server_request_add_ptr_reply(req, NULL, rr->name, rr->target, (int)rr->ttl); return;
  default: {
    uint8_t data[1024];
    int n = kp_dns_rdata(rr, data, sizeof data);
    if (n >= 0)
      evdns_server_request_add_reply(req, section, rr->name, rr->type, 1, (int)rr->ttl, n, 0, (const char *)data);
  }
  }
}

static void tcp_send(struct tcp_conn *tc, uint16_t id, uint16_t flags, const char *qname, uint16_t qtype,
                     const struct kp_dns_answer *a)
{
  static uint8_t buf[DNS_TCP_MAX_MSG + 2];
  int n = kp_dns_encode_response(id, flags, qname, qtype, a, buf + 2, DNS_TCP_MAX_MSG);
  if (n < 0) {
    struct kp_dns_answer fail = {.rcode = KP_DNS_SERVFAIL};
    n = kp_dns_encode_response(id, flags, qname, qtype, &fail, buf + 2, DNS_TCP_MAX_MSG);
  }
  buf[0] = (uint8_t)(n >> 8);
  buf[1] = (uint8_t)n;
  bufferevent_write(tc->bev, buf, (size_t)n + 2);
}

/* Sends p's answer on its transport and frees p. */
static void finish(struct pending *p)
{
  struct kp_dns *d = p->d;
  count_response(d, p->ans.rcode);
  if (p->ureq) {
    if (p->ans.authoritative) p->ureq->flags |= EVDNS_FLAGS_AA;
    p->ureq->flags |= 0x80; /* RA: we recurse for names outside the cluster */
    for (size_t i = 0; i < p->ans.n; i++) udp_add(p->ureq, &p->ans.rr[i]);
    evdns_server_request_respond(p->ureq, p->ans.rcode);
  } else if (p->tc) {
    tcp_send(p->tc, p->id, p->flags, p->qname, p->qtype, &p->ans);
    struct pending **pp = &p->tc->pending;
    while (*pp && *pp != p) pp = &(*pp)->tc_next;
    if (*pp) *pp = p->tc_next;
  }
  kp_dns_answer_free(&p->ans);
  free(p);
}

/* ---- the cache of forwarded answers ---- */

static void cache_entry_free(void *v)
{
  struct cache_entry *e = v;
  if (!e) return;
  free(e->rr);
  free(e->key);
  free(e);
}

static void cache_key(char *out, size_t len, uint16_t type, const char *name)
{
  snprintf(out, len, "%u:%s", type, name);
  for (char *c = out; *c; c++)
    if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
}

static struct cache_entry *cache_get(struct kp_dns *d, uint16_t type, const char *name)
{
  char key[KP_DNS_NAME_MAX + 8];
  cache_key(key, sizeof key, type, name);
  struct cache_entry *e = kp_map_get(d->cache, key);
  if (e && e->expires_ms <= ktime_mono_ms()) return NULL;
  return e;
}

static void cache_put(struct kp_dns *d, uint16_t type, const char *name, int rcode, const struct kp_dns_rr *rr,
                      size_t n, int ttl_s)
{
  if (ttl_s <= 0) return;
  if (ttl_s > DNS_MAX_CACHE_TTL_S) ttl_s = DNS_MAX_CACHE_TTL_S;
  char key[KP_DNS_NAME_MAX + 8];
  cache_key(key, sizeof key, type, name);
  struct cache_entry *e = xcalloc(1, sizeof *e);
  if (!e) return;
  e->rcode = rcode;
  e->expires_ms = ktime_mono_ms() + ttl_s * 1000LL;
  e->n = n;
  e->rr = n ? xmalloc(n * sizeof *rr) : NULL;
  if (n && e->rr) memcpy(e->rr, rr, n * sizeof *rr);
  e->key = xstrdup(key);
  struct cache_entry *old = kp_map_put(d->cache, key, e);
  if (old) {
    cache_entry_free(old); /* same key: its FIFO slot now stands for e */
    return;
  }
  if (d->cache_len == d->cache_cap) { /* evict the oldest */
    char *victim = d->cache_fifo[d->cache_head];
    cache_entry_free(kp_map_del(d->cache, victim));
    free(victim);
    d->cache_head = (d->cache_head + 1) % d->cache_cap;
    d->cache_len--;
  }
  d->cache_fifo[(d->cache_head + d->cache_len) % d->cache_cap] = xstrdup(key);
  d->cache_len++;
}

/* Appends cached records for name as answers to p (renamed to owner). */
static void append_cached(struct pending *p, const struct cache_entry *e)
{
  for (size_t i = 0; i < e->n; i++) {
    struct kp_dns_rr *rr = kp_dns_answer_add(&p->ans, KP_DNS_ANSWER, e->rr[i].type, e->rr[i].name);
    *rr = e->rr[i];
  }
  if (p->ans.n == e->n) p->ans.rcode = e->rcode; /* nothing of ours before (no CNAME) */
}

/* ---- forwarding ---- */

static void pending_unlink(struct pending *p)
{
  if (p->prev) p->prev->next = p->next;
  else if (p->d->pending == p) p->d->pending = p->next;
  if (p->next) p->next->prev = p->prev;
  p->next = p->prev = NULL;
}

static void forward_cb(int result, char type, int count, int ttl, void *addresses, void *arg)
{
  struct pending *p = arg;
  struct kp_dns *d = p->d;
  p->fwd = NULL;
  pending_unlink(p);
  if (d->closing) {
    if (p->ureq) evdns_server_request_drop(p->ureq);
    kp_dns_answer_free(&p->ans);
    free(p);
    return;
  }
  size_t first = p->ans.n;
  if (result == DNS_ERR_NONE) {
    for (int i = 0; i < count; i++) {
      uint16_t t = type == DNS_IPv4_A ? KP_DNS_T_A : type == DNS_IPv6_AAAA ? KP_DNS_T_AAAA : KP_DNS_T_PTR;
      struct kp_dns_rr *rr = kp_dns_answer_add(&p->ans, KP_DNS_ANSWER, t, p->fwd_name);
      rr->ttl = ttl > 0 ? (uint32_t)ttl : 0;
      if (type == DNS_IPv4_A) rr->a = ntohl(((const uint32_t *)addresses)[i]);
      else if (type == DNS_IPv6_AAAA) memcpy(rr->aaaa, (const uint8_t *)addresses + 16 * i, 16);
      else snprintf(rr->target, sizeof rr->target, "%s", (const char *)addresses);
      if (type == DNS_PTR) break; /* evdns hands over one name */
    }
    if (first == 0) p->ans.rcode = KP_DNS_NOERROR;
    cache_put(d, p->qtype, p->fwd_name, KP_DNS_NOERROR, p->ans.rr + first, p->ans.n - first, ttl);
  } else if (result == DNS_ERR_NOTEXIST) {
    if (first == 0) p->ans.rcode = KP_DNS_NXDOMAIN;
    cache_put(d, p->qtype, p->fwd_name, KP_DNS_NXDOMAIN, NULL, 0, DNS_NEGATIVE_TTL_S);
  } else if (first == 0) {
    p->ans.rcode = KP_DNS_SERVFAIL;
  }
  finish(p);
}

static bool parse_reverse4(const char *name, struct in_addr *out)
{
  unsigned a, b, c, dd;
  char tail[32];
  if (sscanf(name, "%u.%u.%u.%u.%31s", &dd, &c, &b, &a, tail) != 5 || strcasecmp(tail, "in-addr.arpa")) return false;
  if (a > 255 || b > 255 || c > 255 || dd > 255) return false;
  out->s_addr = htonl(a << 24 | b << 16 | c << 8 | dd);
  return true;
}

/* ---- relaying other types ---- */

static void relay_add(const struct kp_dns_raw_rr *rr, void *arg)
{
  struct evdns_server_request *req = arg;
  if (rr->type == 41) return; /* OPT: the hop's own, and we sent none */
  int section = rr->section == KP_DNS_ANSWER      ? EVDNS_ANSWER_SECTION
                : rr->section == KP_DNS_AUTHORITY ? EVDNS_AUTHORITY_SECTION
                                                  : EVDNS_ADDITIONAL_SECTION;
  evdns_server_request_add_reply(req, section, rr->name, rr->type, rr->rclass, (int)rr->ttl, rr->rdlen, 0,
                                 (const char *)rr->rdata);
}

static void relay_check(const struct kp_dns_raw_rr *rr, void *arg) { (void)rr, (void)arg; }

static void relay_cb(uint8_t *msg, size_t len, void *arg)
{
  struct pending *p = arg;
  struct kp_dns *d = p->d;
  p->relayed = NULL;
  pending_unlink(p);
  if (d->closing) {
    if (p->ureq) evdns_server_request_drop(p->ureq);
    free(p);
    return;
  }
  uint16_t flags = 0;
  if (msg && p->tc) { /* the upstream's message as it is */
    count_response(d, msg[3] & 0xf);
    uint8_t lenb[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    bufferevent_write(p->tc->bev, lenb, 2);
    bufferevent_write(p->tc->bev, msg, len);
    struct pending **pp = &p->tc->pending;
    while (*pp && *pp != p) pp = &(*pp)->tc_next;
    if (*pp) *pp = p->tc_next;
    free(p);
    return;
  }
  /* UDP: read through once to see the whole message is sound, then
   * hand its records to evdns.  A truncated answer (TC; cut anywhere)
   * goes back as TC without records: the client asks again over TCP. */
  if (msg && p->ureq && len >= 12 && (msg[2] & 0x02)) {
    flags = (uint16_t)(msg[2] << 8 | msg[3]);
  } else if (!(msg && p->ureq && kp_dns_each_rr(msg, len, &flags, relay_check, NULL) == 0 &&
               kp_dns_each_rr(msg, len, &flags, relay_add, p->ureq) == 0)) {
    msg = NULL;
  }
  if (msg && p->ureq) {
    count_response(d, flags & 0xf);
    p->ureq->flags |= flags & 0x07a0; /* AA, TC, RD, RA, AD from the upstream's header */
    p->ureq->flags |= 0x80;
    evdns_server_request_respond(p->ureq, flags & 0xf);
    free(p);
    return;
  }
  p->ans.rcode = KP_DNS_SERVFAIL;
  finish(p);
}

/* Relays p's question as it was asked to the upstream servers. */
static void relay(struct pending *p)
{
  struct kp_dns *d = p->d;
  uint8_t q[512];
  int n = kp_dns_encode_question(p->id, p->flags, p->qname, p->qtype, p->qclass ? p->qclass : 1, q, sizeof q);
  if (n > 0 && d->relay) p->relayed = kp_dns_relay_ask(d->relay, q, (size_t)n, p->tc != NULL, relay_cb, p);
  if (!p->relayed) {
    p->ans.rcode = KP_DNS_SERVFAIL;
    finish(p);
    return;
  }
  if (d->metrics)
    metrics_counter_add(d->metrics, "kubeproxy_dns_forward_requests_total",
                        "Questions forwarded to the upstream servers", NULL, 1);
  p->next = d->pending;
  if (d->pending) d->pending->prev = p;
  d->pending = p;
}

/* Resolves name (type p->qtype) upstream and appends the records to p. */
static void forward(struct pending *p, const char *name)
{
  struct kp_dns *d = p->d;
  snprintf(p->fwd_name, sizeof p->fwd_name, "%s", name);
  size_t n = strlen(p->fwd_name);
  while (n && p->fwd_name[n - 1] == '.') p->fwd_name[--n] = 0;
  const struct cache_entry *e = cache_get(d, p->qtype, p->fwd_name);
  if (e) {
    if (d->metrics)
      metrics_counter_add(d->metrics, "kubeproxy_dns_cache_hits_total", "Forwarded answers served from the cache", NULL,
                          1);
    append_cached(p, e);
    finish(p);
    return;
  }
  if (!d->client) {
    if (p->ans.n == 0) p->ans.rcode = KP_DNS_SERVFAIL;
    finish(p);
    return;
  }
  if (d->metrics)
    metrics_counter_add(d->metrics, "kubeproxy_dns_forward_requests_total",
                        "Questions forwarded to the upstream servers", NULL, 1);
  struct in_addr in;
  if (p->qtype == KP_DNS_T_A)
    p->fwd = evdns_base_resolve_ipv4(d->client, p->fwd_name, DNS_QUERY_NO_SEARCH, forward_cb, p);
  else if (p->qtype == KP_DNS_T_AAAA)
    p->fwd = evdns_base_resolve_ipv6(d->client, p->fwd_name, DNS_QUERY_NO_SEARCH, forward_cb, p);
  else if (p->qtype == KP_DNS_T_PTR && parse_reverse4(p->fwd_name, &in))
    p->fwd = evdns_base_resolve_reverse(d->client, &in, DNS_QUERY_NO_SEARCH, forward_cb, p);
  else if (p->ans.n == 0) { /* a question of ours as it was asked: relayed */ relay(p);
    return;
  } else { /* an ExternalName's target asked for another type than A/AAAA: the CNAME alone */
    finish(p);
    return;
  }
  if (!p->fwd) { /* the request could not even be made */
    if (p->ans.n == 0) p->ans.rcode = KP_DNS_SERVFAIL;
    finish(p);
    return;
  }
  p->next = d->pending;
  if (d->pending) d->pending->prev = p;
  d->pending = p;
}

static bool in_zone(const struct kp_dns *d, const char *name)
{
  size_t n = strlen(name), z = strlen(d->zone);
  while (n && name[n - 1] == '.') n--;
  if (n == z) return !strncasecmp(name, d->zone, z);
  return n > z && name[n - z - 1] == '.' && !strncasecmp(name + n - z, d->zone, z);
}

static void serve(struct pending *p)
{
  struct kp_dns *d = p->d;
  kp_dns_lookup(d->m, d->zone, p->qname, p->qtype, &p->ans);
  if (p->ans.forward) {
    kp_dns_answer_free(&p->ans);
    forward(p, p->qname);
    return;
  }
  /* ExternalName: follow the CNAME for address questions */
  if (p->ans.n == 1 && p->ans.rr[0].type == KP_DNS_T_CNAME && (p->qtype == KP_DNS_T_A || p->qtype == KP_DNS_T_AAAA)) {
    char target[KP_DNS_NAME_MAX];
    snprintf(target, sizeof target, "%s", p->ans.rr[0].target);
    if (in_zone(d, target)) {
      struct kp_dns_answer more;
      kp_dns_lookup(d->m, d->zone, target, p->qtype, &more);
      for (size_t i = 0; i < more.n; i++)
        if (more.rr[i].section == KP_DNS_ANSWER) *kp_dns_answer_add(&p->ans, KP_DNS_ANSWER, 0, "") = more.rr[i];
      kp_dns_answer_free(&more);
    } else {
      forward(p, target);
      return;
    }
  }
  finish(p);
}

/* ---- UDP (evdns) ---- */

static void udp_cb(struct evdns_server_request *req, void *arg)
{
  struct kp_dns *d = arg;
  if (req->nquestions < 1) {
    evdns_server_request_respond(req, KP_DNS_FORMERR);
    return;
  }
  struct pending *p = xcalloc(1, sizeof *p);
  if (!p) {
    evdns_server_request_drop(req);
    return;
  }
  p->d = d;
  p->ureq = req;
  p->qtype = (uint16_t)req->questions[0]->type;
  p->qclass = (uint16_t)req->questions[0]->dns_question_class;
  p->flags = (uint16_t)req->flags;
  snprintf(p->qname, sizeof p->qname, "%s", req->questions[0]->name);
  count_request(d, "udp", p->qtype);
  serve(p);
}

/* ---- TCP ---- */

static void tcp_close(struct tcp_conn *tc)
{
  struct kp_dns *d = tc->d;
  for (struct pending *p = tc->pending; p; p = p->tc_next) p->tc = NULL; /* finish later, drop the answer */
  if (tc->prev) tc->prev->next = tc->next;
  else d->conns = tc->next;
  if (tc->next) tc->next->prev = tc->prev;
  bufferevent_free(tc->bev);
  free(tc);
}

static void tcp_read(struct bufferevent *bev, void *arg)
{
  struct tcp_conn *tc = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  for (;;) {
    size_t have = evbuffer_get_length(in);
    uint8_t lenb[2];
    if (have < 2 || evbuffer_copyout(in, lenb, 2) != 2) return;
    size_t len = (size_t)lenb[0] << 8 | lenb[1];
    if (have < len + 2) return;
    uint8_t *msg = xmalloc(len + 2);
    if (!msg) {
      tcp_close(tc);
      return;
    }
    evbuffer_remove(in, msg, len + 2);
    struct pending *p = xcalloc(1, sizeof *p);
    if (!p || kp_dns_parse_query(msg + 2, len, &p->id, &p->flags, p->qname, sizeof p->qname, &p->qtype) < 0) {
      free(p);
      free(msg);
      tcp_close(tc); /* not DNS: hang up */
      return;
    }
    free(msg);
    p->d = tc->d;
    p->tc = tc;
    p->tc_next = tc->pending;
    tc->pending = p;
    count_request(tc->d, "tcp", p->qtype);
    serve(p);
  }
}

static void tcp_event(struct bufferevent *bev, short what, void *arg)
{
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) tcp_close(arg);
}

static void tcp_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg)
{
  struct kp_dns *d = arg;
  struct tcp_conn *tc = xcalloc(1, sizeof *tc);
  struct bufferevent *bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!tc || !bev) {
    free(tc);
    if (bev) bufferevent_free(bev);
    else close(fd);
    return;
  }
  tc->d = d;
  tc->bev = bev;
  tc->next = d->conns;
  if (d->conns) d->conns->prev = tc;
  d->conns = tc;
  struct timeval idle = {DNS_TCP_IDLE_S, 0};
  bufferevent_set_timeouts(bev, &idle, NULL);
  bufferevent_setcb(bev, tcp_read, NULL, tcp_event, tc);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* ---- lifecycle ---- */

static void stop_listening(struct kp_dns *d)
{
  if (d->udp) evdns_close_server_port(d->udp);
  d->udp = NULL;
  if (d->udp_fd >= 0) close(d->udp_fd);
  d->udp_fd = -1;
  if (d->tcp) evconnlistener_free(d->tcp);
  d->tcp = NULL;
  d->ip = 0;
}

/* UDP and TCP on one address and port (d->port, or with 0 the port the
 * kernel picks for UDP).  0 or a negative errno, with err set. */
static int listen_pair(struct kp_dns *d, uint32_t ip, char *err, size_t errlen)
{
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(d->port), .sin_addr.s_addr = htonl(ip)};
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    char b[16];
    snprintf(err, errlen, "listen udp %s:%u: %s", kp_ip_str(ip, b), d->port, strerror(e));
    return -e;
  }
  socklen_t sl = sizeof sin;
  getsockname(fd, (struct sockaddr *)&sin, &sl);
  d->bound_port = ntohs(sin.sin_port);
  d->udp_fd = fd;
  d->udp = evdns_add_server_port_with_base(d->base, fd, 0, udp_cb, d);
  sin.sin_port = htons(d->bound_port); /* TCP on the same port as UDP */
  errno = 0;
  d->tcp =
      evconnlistener_new_bind(d->base, tcp_accept, d, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                              128, (struct sockaddr *)&sin, sizeof sin);
  if (!d->udp || !d->tcp) {
    int e = errno ? errno : EIO;
    stop_listening(d);
    char b[16];
    snprintf(err, errlen, "listen tcp %s:%u: %s", kp_ip_str(ip, b), d->bound_port, strerror(e));
    return -e;
  }
  return 0;
}

/* With port 0 (tests) the kernel's UDP port may be taken for TCP by
 * another program: a few fresh pairs are tried before giving up. */
#define KP_DNS_EPHEMERAL_TRIES 20

int kp_dns_listen(struct kp_dns *d, uint32_t ip, char *err, size_t errlen)
{
  if (ip == d->ip && (ip == 0 || d->udp)) return 0;
  stop_listening(d);
  if (!ip) return 0;
  int rc = listen_pair(d, ip, err, errlen);
  for (int i = 1; rc == -EADDRINUSE && d->port == 0 && i < KP_DNS_EPHEMERAL_TRIES; i++)
    rc = listen_pair(d, ip, err, errlen);
  if (rc == 0) d->ip = ip;
  return rc;
}

uint32_t kp_dns_bound_ip(const struct kp_dns *d) { return d->ip; }
uint16_t kp_dns_port(const struct kp_dns *d) { return d->bound_port; }

char **kp_dns_resolv_conf_servers(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char line[512];
  size_t n = 0;
  char **v = xcalloc(8, sizeof *v);
  while (v && n < 7 && fgets(line, sizeof line, f)) {
    char addr[128];
    if (sscanf(line, " nameserver %127s", addr) == 1) v[n++] = xstrdup(addr);
  }
  fclose(f);
  if (v && n == 0) {
    free(v);
    return NULL;
  }
  return v;
}

struct kp_dns *kp_dns_new(struct event_base *base, const struct kp_model *m, const struct kp_dns_config *cfg,
                          struct metrics *metrics, char *err, size_t errlen)
{
  struct kp_dns *d = xcalloc(1, sizeof *d);
  if (!d) return NULL;
  d->base = base;
  d->m = m;
  d->zone = xstrdup(cfg->zone && *cfg->zone ? cfg->zone : "cluster.local");
  size_t zl = strlen(d->zone);
  while (zl && d->zone[zl - 1] == '.') d->zone[--zl] = 0;
  d->port = cfg->port;
  d->metrics = metrics;
  d->udp_fd = -1;
  d->cache = kp_map_new();
  d->cache_cap = cfg->cache_size ? cfg->cache_size : DNS_DEFAULT_CACHE;
  d->cache_fifo = xcalloc(d->cache_cap, sizeof *d->cache_fifo);
  if (cfg->nupstreams > 0) {
    d->client = evdns_base_new(base, 0);
    if (d->client) {
      evdns_base_set_option(d->client, "timeout:", "2");
      evdns_base_set_option(d->client, "attempts:", "2");
      evdns_base_set_option(d->client, "randomize-case:", "0");
      for (size_t i = 0; i < cfg->nupstreams; i++)
        if (evdns_base_nameserver_ip_add(d->client, cfg->upstreams[i]) != 0)
          KLOG_W("ignoring DNS upstream %s: not an address", cfg->upstreams[i]);
    }
    d->relay = kp_dns_relay_new(base, cfg->upstreams, cfg->nupstreams);
  }
  if (!d->zone || !d->cache || !d->cache_fifo) {
    snprintf(err, errlen, "out of memory");
    kp_dns_free(d);
    return NULL;
  }
  return d;
}

void kp_dns_free(struct kp_dns *d)
{
  if (!d) return;
  d->closing = true;
  stop_listening(d);
  while (d->conns) tcp_close(d->conns);
  /* pending forwards: their callbacks run (with an error) inside
   * evdns_base_free and free themselves, seeing closing */
  if (d->client) evdns_base_free(d->client, 1);
  kp_dns_relay_free(d->relay); /* relayed questions too */
  while (d->pending) {         /* none should be left; be safe */
    struct pending *p = d->pending;
    pending_unlink(p);
    kp_dns_answer_free(&p->ans);
    free(p);
  }
  kp_map_free(d->cache, cache_entry_free);
  if (d->cache_fifo) {
    for (size_t i = 0; i < d->cache_len; i++) free(d->cache_fifo[(d->cache_head + i) % d->cache_cap]);
    free(d->cache_fifo);
  }
  free(d->zone);
  free(d);
}
