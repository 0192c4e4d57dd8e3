/*
 * dns.h - the cluster DNS kube-proxy serves on every node.
 *
 * Records follow the Kubernetes DNS-Based Service Discovery specification
 * (kubernetes/dns docs/specification.md, schema 1.1.0), answered from the
 * same model the proxier uses, so an answer changes as soon as the
 * Service or EndpointSlice event arrives:
 *   SVC.NS.svc.ZONE           A: the ClusterIP; headless: the ready
 *                             endpoints (also not-ready ones with
 *                             publishNotReadyAddresses), NXDOMAIN if none;
 *                             ExternalName: CNAME
 *   HOST.SVC.NS.svc.ZONE      A: a headless endpoint by hostname (or by
 *                             its dashed IP when it has none)
 *   _PORT._PROTO.SVC.NS.svc.ZONE  SRV per named port (ClusterIP: the
 *                             service name; headless: one per endpoint)
 *   A-B-C-D.NS.pod.ZONE       A (the deprecated pod record)
 *   D.C.B.A.in-addr.arpa      PTR for ClusterIPs and headless endpoints
 *   dns-version.ZONE          TXT "1.1.0"
 * Names in ZONE that do not exist get NXDOMAIN with the zone's SOA; names
 * that exist without the asked type get an empty NOERROR with the SOA.
 * Everything else (and reverse names no Service has) is forwarded to the
 * upstream servers (the node's resolv.conf by default).  TTL 5 s, as
 * CoreDNS's default.  Comparisons are case-insensitive.
 *
 * UDP is served by libevent's evdns server (which truncates answers
 * above 512 bytes and sets TC); TCP, which libevent 2.1's evdns lacks, by
 * a small listener in dns.c framing the same answers (dns_wire.c).
 * Forwarded A/AAAA/PTR questions are resolved with evdns's client
 * against the upstream servers and cached (bounded LRU, upstream TTLs);
 * questions of every other type (MX, TXT, SRV, CNAME, NS, SOA...) are
 * relayed as they are (dns_relay.c) and the upstream's answer is passed
 * back record for record (over TCP, byte for byte but the id).
 */
#ifndef KP_DNS_H
#define KP_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct kp_model;
struct metrics;

#define KP_DNS_SCHEMA_VERSION "1.1.0"
#define KP_DNS_TTL 5

enum {
  KP_DNS_T_A = 1,
  KP_DNS_T_NS = 2,
  KP_DNS_T_CNAME = 5,
  KP_DNS_T_SOA = 6,
  KP_DNS_T_PTR = 12,
  KP_DNS_T_TXT = 16,
  KP_DNS_T_AAAA = 28,
  KP_DNS_T_SRV = 33,
  KP_DNS_T_ANY = 255,
};
enum { KP_DNS_NOERROR = 0, KP_DNS_FORMERR = 1, KP_DNS_SERVFAIL = 2, KP_DNS_NXDOMAIN = 3, KP_DNS_NOTIMP = 4 };
enum kp_dns_section { KP_DNS_ANSWER, KP_DNS_AUTHORITY, KP_DNS_ADDITIONAL };

#define KP_DNS_NAME_MAX 256

struct kp_dns_rr {
  uint8_t section; /* enum kp_dns_section */
  uint16_t type;
  uint32_t ttl;
  char name[KP_DNS_NAME_MAX];
  uint32_t a; /* A, host order */
  uint8_t aaaa[16];
  char target[KP_DNS_NAME_MAX];    /* CNAME, PTR, SRV target, SOA mname */
  char text[KP_DNS_NAME_MAX];      /* TXT, SOA rname */
  uint16_t priority, weight, port; /* SRV */
  uint32_t soa[5];                 /* serial refresh retry expire minimum */
};

struct kp_dns_answer {
  int rcode;
  bool authoritative;
  bool forward; /* not ours: ask the upstream servers */
  struct kp_dns_rr *rr;
  size_t n, cap;
};

/* Answers qname/qtype from the model (pure; no I/O).  zone is the cluster
 * domain without a trailing dot.  Free with kp_dns_answer_free. */
void kp_dns_lookup(const struct kp_model *m, const char *zone, const char *qname, uint16_t qtype,
                   struct kp_dns_answer *out);
void kp_dns_answer_free(struct kp_dns_answer *a);
struct kp_dns_rr *kp_dns_answer_add(struct kp_dns_answer *a, enum kp_dns_section s, uint16_t type, const char *name);
const char *kp_dns_type_name(uint16_t type); /* "A", "SRV" ... or "OTHER" */
const char *kp_dns_rcode_name(int rcode);    /* "NOERROR" ... */

/* ---- wire format (dns_wire.c) ---- */

/* Encodes the RDATA of rr into out (names uncompressed); returns its
 * length or -1 if it does not fit. */
int kp_dns_rdata(const struct kp_dns_rr *rr, uint8_t *out, size_t cap);
/* A complete response message for question (qname, qtype) with id and
 * the query's flags (RD is echoed); -1 if it exceeds cap. */
int kp_dns_encode_response(uint16_t id, uint16_t qflags, const char *qname, uint16_t qtype,
                           const struct kp_dns_answer *a, uint8_t *out, size_t cap);
/* Parses a query: id, flags, first question.  0 or -1 (malformed). */
int kp_dns_parse_query(const uint8_t *msg, size_t len, uint16_t *id, uint16_t *flags, char *qname, size_t qlen,
                       uint16_t *qtype);
/* A query message (for tests and tools). */
int kp_dns_encode_query(uint16_t id, const char *qname, uint16_t qtype, uint8_t *out, size_t cap);
/* Parses a response into an answer (every section).  0 or -1. */
int kp_dns_parse_response(const uint8_t *msg, size_t len, uint16_t *flags, struct kp_dns_answer *out);
/* A query with the given header flags (RD, CD...) and question class. */
int kp_dns_encode_question(uint16_t id, uint16_t flags, const char *qname, uint16_t qtype, uint16_t qclass,
                           uint8_t *out, size_t cap);

/* One record of a message as it came, for relaying it: the owner name
 * read, the RDATA as received except that the names inside the RDATA of
 * the types RFC 1035 lets servers compress (NS, CNAME, SOA, PTR, MX, and
 * SRV, which some servers compress too) are written out uncompressed, so
 * the RDATA can be put into another message. */
struct kp_dns_raw_rr {
  uint8_t section; /* enum kp_dns_section */
  char name[KP_DNS_NAME_MAX];
  uint16_t type, rclass;
  uint32_t ttl;
  uint16_t rdlen;
  uint8_t rdata[1024 + 512]; /* RDATA beyond 1024 bytes (and names grown past it) make the message refused */
};
typedef void (*kp_dns_rr_fn)(const struct kp_dns_raw_rr *rr, void *arg);
/* Calls fn for every record of every section; flags gets the header's
 * flags.  0, or -1 if the message is malformed (fn may have run for the
 * records before the fault). */
int kp_dns_each_rr(const uint8_t *msg, size_t len, uint16_t *flags, kp_dns_rr_fn fn, void *arg);

/* ---- relaying questions as they are (dns_relay.c) ---- */

/* Questions outside the cluster that evdns's client cannot ask (every
 * type but A, AAAA and IPv4 PTR) are sent as they are to the upstream
 * servers over UDP with an id of the relay's, and the upstream's answer
 * comes back whole (the caller's id restored); with whole set, an
 * answer truncated over UDP (TC) is asked again over TCP.  cb gets the
 * message, or NULL after every server was tried twice (2 s each). */
struct kp_dns_relay;
struct kp_dns_relay_req;
typedef void (*kp_dns_relay_cb)(uint8_t *msg, size_t len, void *arg);
/* upstreams as in kp_dns_config; NULL if none is an address */
struct kp_dns_relay *kp_dns_relay_new(struct event_base *base, const char *const *upstreams, size_t n);
/* Questions in flight get cb(NULL) first. */
void kp_dns_relay_free(struct kp_dns_relay *r);
/* NULL (and no callback) if the query is malformed or no id is free. */
struct kp_dns_relay_req *kp_dns_relay_ask(struct kp_dns_relay *r, const uint8_t *query, size_t len, bool whole,
                                          kp_dns_relay_cb cb, void *arg);

/* ---- the server (dns.c) ---- */

struct kp_dns_config {
  const char *zone;             /* cluster domain: "cluster.local" */
  const char *const *upstreams; /* "1.2.3.4" or "1.2.3.4:5353" */
  size_t nupstreams;
  uint16_t port;     /* 53 */
  size_t cache_size; /* forwarded answers kept; 0: 1024 */
};

struct kp_dns;
struct kp_dns *kp_dns_new(struct event_base *base, const struct kp_model *m, const struct kp_dns_config *cfg,
                          struct metrics *metrics, char *err, size_t errlen);
void kp_dns_free(struct kp_dns *d);
/* Serves UDP and TCP on ip:port (host order; re-binds when ip changes;
 * 0 stops serving).  0 or -errno with a message. */
int kp_dns_listen(struct kp_dns *d, uint32_t ip, char *err, size_t errlen);
uint32_t kp_dns_bound_ip(const struct kp_dns *d);
/* The port actually bound (tests bind port 0). */
uint16_t kp_dns_port(const struct kp_dns *d);
/* Reads "nameserver" lines of a resolv.conf into a new NULL-terminated
 * array (free each and the array); NULL if none. */
char **kp_dns_resolv_conf_servers(const char *path);

#endif
