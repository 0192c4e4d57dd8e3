/*
 * dns_relay.c - questions relayed as they are to the upstream servers
 * (see dns.h, "relay").
 *
 * One unconnected UDP socket carries every relayed question.  Each gets
 * an id of its own (random, unique among the questions in flight); an
 * answer is accepted only from the server it was sent to, with that id
 * and the same question (name compared case-insensitively, type and
 * class), so a stray or forged datagram cannot answer another question.
 * The caller gets the upstream's message with the caller's own id put
 * back.  A question unanswered for KP_DNS_RELAY_TIMEOUT_S goes to the
 * next server, KP_DNS_RELAY_ROUNDS times around the list; then the
 * caller gets NULL.  An answer with TC set is asked again over TCP of
 * the same server when the caller wants the whole answer (its client
 * came over TCP); if TCP fails, the truncated answer is handed over.
 *
 * Invariants: a request is in the id table exactly while a UDP attempt
 * is outstanding; it owns its timer and, during the TCP fallback, its
 * bufferevent; the callback runs once, after which the request is freed.
 */
#define _GNU_SOURCE
#include "kube/xalloc.h"
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube/log.h"

#define KP_DNS_RELAY_TIMEOUT_S 2
#define KP_DNS_RELAY_ROUNDS 2
#define KP_DNS_RELAY_MAX_MSG 65535
#define KP_DNS_RELAY_MAX_QUERY 512

struct kp_dns_relay_req {
  struct kp_dns_relay *r;
  uint16_t id, client_id; /* ours on the wire, the caller's */
  uint8_t query[KP_DNS_RELAY_MAX_QUERY];
  size_t qlen;
  size_t server, tries;
  bool whole; /* fall back to TCP on TC */
  struct event *timer;
  struct bufferevent *bev;
  uint8_t *truncated; /* the UDP answer, while TCP is tried */
  size_t truncated_len;
  kp_dns_relay_cb cb;
  void *arg;
  struct kp_dns_relay_req *next, *prev; /* every request in flight */
};

struct kp_dns_relay {
  struct event_base *base;
  struct sockaddr_storage *servers;
  socklen_t *server_len;
  size_t nservers;
  evutil_socket_t fd;
  struct event *read_ev;
  struct kp_dns_relay_req *all;
  struct kp_dns_relay_req *by_id[65536];
};

static bool send_udp(struct kp_dns_relay_req *q);

/* ---- ids ---- */

static bool take_id(struct kp_dns_relay *r, struct kp_dns_relay_req *q)
{
  uint16_t start;
  if (getrandom(&start, sizeof start, GRND_NONBLOCK) != sizeof start) start = (uint16_t)rand();
  for (uint32_t i = 0; i < 65536; i++) {
    uint16_t id = (uint16_t)(start + i);
    if (!r->by_id[id]) {
      r->by_id[id] = q;
      q->id = id;
      q->query[0] = (uint8_t)(id >> 8);
      q->query[1] = (uint8_t)id;
      return true;
    }
  }
  return false;
}

static void drop_id(struct kp_dns_relay_req *q)
{
  if (q->r->by_id[q->id] == q) q->r->by_id[q->id] = NULL;
}

/* ---- finishing ---- */

static void req_free(struct kp_dns_relay_req *q)
{
  drop_id(q);
  if (q->prev) q->prev->next = q->next;
  else if (q->r->all == q) q->r->all = q->next;
  if (q->next) q->next->prev = q->prev;
  if (q->timer) event_free(q->timer);
  if (q->bev) bufferevent_free(q->bev);
  free(q->truncated);
  free(q);
}

/* Hands msg (NULL: no answer) to the caller with its id, frees q. */
static void deliver(struct kp_dns_relay_req *q, uint8_t *msg, size_t len)
{
  if (msg && len >= 2) {
    msg[0] = (uint8_t)(q->client_id >> 8);
    msg[1] = (uint8_t)q->client_id;
  }
  kp_dns_relay_cb cb = q->cb;
  void *arg = q->arg;
  req_free(q);
  cb(msg, msg ? len : 0, arg);
}

/* ---- matching an answer to its question ---- */

/* The question section (from offset 12 to its end) of a message with
 * one question; 0 if malformed.  Names in questions are never
 * compressed by the servers we relay to (RFC 1035 allows it, nobody
 * does); a pointer there makes the answer not match. */
static size_t question_end(const uint8_t *m, size_t len)
{
  size_t off = 12;
  while (off < len && m[off] != 0) {
    if (m[off] & 0xc0) return 0;
    off += 1 + (size_t)m[off];
  }
  off += 1 + 4;
  return off <= len ? off : 0;
}

static bool same_question(const struct kp_dns_relay_req *q, const uint8_t *m, size_t len)
{
  if (len < 12 || m[4] != 0 || m[5] != 1) return false;
  size_t a = question_end(q->query, q->qlen), b = question_end(m, len);
  if (!a || a != b) return false;
  for (size_t i = 12; i < a; i++) {
    uint8_t x = q->query[i], y = m[i];
    if (x >= 'A' && x <= 'Z') x = (uint8_t)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = (uint8_t)(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
  if (a->ss_family != b->ss_family) return false;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
}

/* ---- TCP fallback ---- */

static void tcp_read(struct bufferevent *bev, void *arg)
{
  struct kp_dns_relay_req *q = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  uint8_t lenb[2];
  if (evbuffer_get_length(in) < 2 || evbuffer_copyout(in, lenb, 2) != 2) return;
  size_t len = (size_t)lenb[0] << 8 | lenb[1];
  if (evbuffer_get_length(in) < len + 2) return;
  uint8_t *msg = xmalloc(len ? len : 1);
  evbuffer_drain(in, 2);
  evbuffer_remove(in, msg, len);
  if (len >= 12 && msg[0] == q->query[0] && msg[1] == q->query[1] && same_question(q, msg, len)) {
    deliver(q, msg, len);
  } else { /* not our answer: the truncated one is all there is */
    uint8_t *t = q->truncated;
    q->truncated = NULL;
    deliver(q, t, q->truncated_len);
    free(t);
  }
  free(msg);
}

static void tcp_event(struct bufferevent *bev, short what, void *arg)
{
  struct kp_dns_relay_req *q = arg;
  if (what & BEV_EVENT_CONNECTED) return;
  uint8_t *t = q->truncated;
  q->truncated = NULL;
  deliver(q, t, q->truncated_len);
  free(t);
}

static void ask_tcp(struct kp_dns_relay_req *q, const uint8_t *truncated, size_t len)
{
  struct kp_dns_relay *r = q->r;
  q->truncated = xmalloc(len);
  memcpy(q->truncated, truncated, len);
  q->truncated_len = len;
  q->bev = bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
  struct timeval tv = {KP_DNS_RELAY_TIMEOUT_S, 0};
  bufferevent_set_timeouts(q->bev, &tv, &tv);
  bufferevent_setcb(q->bev, tcp_read, NULL, tcp_event, q);
  bufferevent_enable(q->bev, EV_READ | EV_WRITE);
  uint8_t lenb[2] = {(uint8_t)(q->qlen >> 8), (uint8_t)q->qlen};
  bufferevent_write(q->bev, lenb, 2);
  bufferevent_write(q->bev, q->query, q->qlen);
  if (bufferevent_socket_connect(q->bev, (struct sockaddr *)&r->servers[q->server], (int)r->server_len[q->server]) <
      0) {
    uint8_t *t = q->truncated;
    q->truncated = NULL;
    deliver(q, t, len);
    free(t);
  }
}

/* ---- UDP ---- */

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
  struct kp_dns_relay *r = arg;
  static uint8_t buf[KP_DNS_RELAY_MAX_MSG];
  for (int i = 0; i < 64; i++) {
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (n < 0) return;
    if (n < 12 || !(buf[2] & 0x80)) continue;
    struct kp_dns_relay_req *q = r->by_id[(uint16_t)(buf[0] << 8 | buf[1])];
    if (!q || !same_addr(&from, &r->servers[q->server]) || !same_question(q, buf, (size_t)n)) continue;
    drop_id(q);
    event_del(q->timer);
    if ((buf[2] & 0x02) && q->whole) ask_tcp(q, buf, (size_t)n);
    else deliver(q, buf, (size_t)n);
  }
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
  struct kp_dns_relay_req *q = arg;
  drop_id(q);
  if (++q->tries >= q->r->nservers * KP_DNS_RELAY_ROUNDS) {
    deliver(q, NULL, 0);
    return;
  }
  q->server = (q->server + 1) % q->r->nservers;
  if (!send_udp(q)) deliver(q, NULL, 0);
}

/* One UDP attempt to q->server; false if no id is free. */
static bool send_udp(struct kp_dns_relay_req *q)
{
  struct kp_dns_relay *r = q->r;
  if (!take_id(r, q)) return false;
  if (sendto(r->fd, q->query, q->qlen, 0, (struct sockaddr *)&r->servers[q->server], r->server_len[q->server]) < 0)
    KLOG_V(4, "relaying a DNS question: %s", strerror(errno)); /* the timeout tries the next server */
  struct timeval tv = {KP_DNS_RELAY_TIMEOUT_S, 0};
  event_add(q->timer, &tv);
  return true;
}

/* ---- the API ---- */

struct kp_dns_relay *kp_dns_relay_new(struct event_base *base, const char *const *upstreams, size_t n)
{
  struct kp_dns_relay *r = xcalloc(1, sizeof *r);
  r->base = base;
  r->fd = -1;
  r->servers = xcalloc(n ? n : 1, sizeof *r->servers);
  r->server_len = xcalloc(n ? n : 1, sizeof *r->server_len);
  for (size_t i = 0; i < n; i++) {
    int len = (int)sizeof r->servers[0];
    if (evutil_parse_sockaddr_port(upstreams[i], (struct sockaddr *)&r->servers[r->nservers], &len) != 0) continue;
    struct sockaddr_in *sin = (void *)&r->servers[r->nservers];
    if (sin->sin_port == 0) sin->sin_port = htons(53); /* same offset in sockaddr_in6 */
    r->server_len[r->nservers++] = (socklen_t)len;
  }
  if (r->nservers == 0) {
    kp_dns_relay_free(r);
    return NULL;
  }
  /* one socket for both families would need v4-mapped addresses; the
   * first server's family decides, servers of the other are skipped */
  int fam = r->servers[0].ss_family;
  size_t k = 0;
  for (size_t i = 0; i < r->nservers; i++)
    if (r->servers[i].ss_family == fam) {
      r->servers[k] = r->servers[i];
      r->server_len[k++] = r->server_len[i];
    }
  r->nservers = k;
  r->fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  r->read_ev = r->fd >= 0 ? event_new(base, r->fd, EV_READ | EV_PERSIST, read_cb, r) : NULL;
  if (!r->read_ev) {
    kp_dns_relay_free(r);
    return NULL;
  }
  event_add(r->read_ev, NULL);
  return r;
}

void kp_dns_relay_free(struct kp_dns_relay *r)
{
  if (!r) return;
  while (r->all) deliver(r->all, NULL, 0); /* questions in flight: answered with nothing */
  if (r->read_ev) event_free(r->read_ev);
  if (r->fd >= 0) close(r->fd);
  free(r->servers);
  free(r->server_len);
  free(r);
}

struct kp_dns_relay_req *kp_dns_relay_ask(struct kp_dns_relay *r, const uint8_t *query, size_t len, bool whole,
                                          kp_dns_relay_cb cb, void *arg)
{
  if (!r || len < 12 || len > KP_DNS_RELAY_MAX_QUERY || !question_end(query, len)) return NULL;
  struct kp_dns_relay_req *q = xcalloc(1, sizeof *q);
  q->r = r;
  memcpy(q->query, query, len);
  q->qlen = len;
  q->client_id = (uint16_t)(query[0] << 8 | query[1]);
  q->whole = whole;
  q->cb = cb;
  q->arg = arg;
  q->timer = evtimer_new(r->base, timeout_cb, q);
  q->next = r->all;
  if (r->all) r->all->prev = q;
  r->all = q;
  if (!send_udp(q)) {
    req_free(q);
    return NULL;
  }
  return q;
}
