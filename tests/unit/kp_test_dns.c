/* Cluster DNS: every record type of the Kubernetes DNS specification
 * answered from Services and EndpointSlices (lookup), the same answers
 * through the real server over UDP (evdns) and TCP on loopback,
 * truncation of a large headless answer over UDP and its full answer over
 * TCP, forwarding to an upstream server with the cache, questions of
 * other types relayed to it as asked (with TCP after a truncated UDP
 * answer, and only the right answer taken), and answers that follow the
 * model at once. */
#define _GNU_SOURCE
#include "kp_test_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns.h"

#define ZONE "cluster.local"

static const char *svc_web =
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},\"spec\":{\"clusterIP\":\"10.96.0.50\","
    "\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"},{\"name\":\"dns\",\"port\":53,"
    "\"protocol\":\"UDP\"},{\"port\":8080,\"protocol\":\"TCP\"}]}}";

static struct kp_model *dns_model(void)
{
  struct kp_model *m = kp_model_new("node-1");
  kpt_add_service(m, svc_web);
  kpt_add_service(m, SVC("default", "nginx",
                         "{\"clusterIP\":\"None\",\"ports\":[{\"name\":\"web\",\"port\":80,\"protocol\":\"TCP\"}]}"));
  kpt_add_slice(m, SLICE("default", "nginx",
                         "\"ports\":[{\"name\":\"web\",\"port\":8080,\"protocol\":\"TCP\"}],\"endpoints\":["
                         "{\"addresses\":[\"10.244.1.5\"],\"hostname\":\"web-0\",\"conditions\":{\"ready\":true}},"
                         "{\"addresses\":[\"10.244.1.6\"],\"hostname\":\"web-1\",\"conditions\":{\"ready\":true}},"
                         "{\"addresses\":[\"10.244.1.7\"],\"conditions\":{\"ready\":true}},"
                         "{\"addresses\":[\"10.244.1.8\"],\"hostname\":\"web-3\",\"conditions\":{\"ready\":false}}]"));
  kpt_add_service(m, SVC("default", "nr", "{\"clusterIP\":\"None\",\"publishNotReadyAddresses\":true}"));
  kpt_add_slice(
      m, SLICE("default", "nr", "\"endpoints\":[{\"addresses\":[\"10.244.2.2\"],\"conditions\":{\"ready\":false}}]"));
  kpt_add_service(m, SVC("default", "empty", "{\"clusterIP\":\"None\"}"));
  kpt_add_service(m, SVC("default", "ext", "{\"type\":\"ExternalName\",\"externalName\":\"www.example.com\"}"));
  kpt_add_service(
      m, SVC("default", "inner", "{\"type\":\"ExternalName\",\"externalName\":\"web.default.svc.cluster.local\"}"));
  /* 60 endpoints: more than 512 bytes of A records */
  char body[16384] = "\"endpoints\":[";
  for (int i = 0; i < 60; i++) {
    char e[96];
    snprintf(e, sizeof e, "%s{\"addresses\":[\"10.244.3.%d\"]}", i ? "," : "", i + 1);
    strcat(body, e);
  }
  strcat(body, "]");
  kpt_add_service(m, SVC("default", "big", "{\"clusterIP\":\"None\"}"));
  char slice[17000];
  snprintf(slice, sizeof slice,
           "{\"metadata\":{\"namespace\":\"default\",\"name\":\"big-1\",\"labels\":{\"kubernetes.io/"
           "service-name\":\"big\"}},"
           "\"addressType\":\"IPv4\",%s}",
           body);
  kpt_add_slice(m, slice);
  return m;
}

/* The answer rendered one record per line, dig-like, for comparison. */
static char *show(const struct kp_dns_answer *a)
{
  static char out[16384];
  size_t n = (size_t)snprintf(out, sizeof out, "%s%s%s\n", kp_dns_rcode_name(a->rcode), a->authoritative ? " aa" : "",
                              a->forward ? " forward" : "");
  static const char *sec[] = {"", "AUTH ", "ADD "};
  for (size_t i = 0; i < a->n && n < sizeof out - 512; i++) {
    const struct kp_dns_rr *r = &a->rr[i];
    char b[16];
    n += (size_t)snprintf(out + n, sizeof out - n, "%s%s %u %s", sec[r->section], r->name, r->ttl,
                          kp_dns_type_name(r->type));
    switch (r->type) {
    case KP_DNS_T_A: n += (size_t)snprintf(out + n, sizeof out - n, " %s", kp_ip_str(r->a, b)); break;
    case KP_DNS_T_CNAME:
    case KP_DNS_T_PTR:
    case KP_DNS_T_NS: n += (size_t)snprintf(out + n, sizeof out - n, " %s", r->target); break;
    case KP_DNS_T_SRV:
      n += (size_t)snprintf(out + n, sizeof out - n, " %u %u %u %s", r->priority, r->weight, r->port, r->target);
      break;
    case KP_DNS_T_TXT: n += (size_t)snprintf(out + n, sizeof out - n, " \"%s\"", r->text); break;
    case KP_DNS_T_SOA:
      n += (size_t)snprintf(out + n, sizeof out - n, " %s %s %u %u %u %u", r->target, r->text, r->soa[1], r->soa[2],
                            r->soa[3], r->soa[4]);
      break;
    }
    n += (size_t)snprintf(out + n, sizeof out - n, "\n");
  }
  return out;
}

static void expect(const struct kp_model *m, const char *qname, uint16_t qtype, const char *want)
{
  struct kp_dns_answer a;
  kp_dns_lookup(m, ZONE, qname, qtype, &a);
  char *got = show(&a);
  if (strcmp(got, want)) fail_msg("%s %s:\n--- want:\n%s--- got:\n%s", qname, kp_dns_type_name(qtype), want, got);
  kp_dns_answer_free(&a);
}

#define SOA_AUTH "AUTH cluster.local 5 SOA ns.dns.cluster.local hostmaster.cluster.local 7200 1800 86400 5\n"

static void test_service_records(void **state)
{
  (void)state;
  struct kp_model *m = dns_model();
  expect(m, "web.default.svc.cluster.local", KP_DNS_T_A, "NOERROR aa\nweb.default.svc.cluster.local 5 A 10.96.0.50\n");
  expect(m, "WEB.Default.svc.Cluster.Local.", KP_DNS_T_A, "NOERROR aa\nweb.default.svc.cluster.local 5 A 10.96.0.50\n");
  expect(m, "web.default.svc.cluster.local", KP_DNS_T_AAAA, "NOERROR aa\n" SOA_AUTH);
  expect(m, "_http._tcp.web.default.svc.cluster.local", KP_DNS_T_SRV,
         "NOERROR aa\n_http._tcp.web.default.svc.cluster.local 5 SRV 0 100 80 web.default.svc.cluster.local\n"
         "ADD web.default.svc.cluster.local 5 A 10.96.0.50\n");
  expect(m, "_dns._udp.web.default.svc.cluster.local", KP_DNS_T_SRV,
         "NOERROR aa\n_dns._udp.web.default.svc.cluster.local 5 SRV 0 100 53 web.default.svc.cluster.local\n"
         "ADD web.default.svc.cluster.local 5 A 10.96.0.50\n");
  expect(m, "_http._udp.web.default.svc.cluster.local", KP_DNS_T_SRV, "NXDOMAIN aa\n" SOA_AUTH);
  expect(m, "nope.default.svc.cluster.local", KP_DNS_T_A, "NXDOMAIN aa\n" SOA_AUTH);
  expect(m, "web.other.svc.cluster.local", KP_DNS_T_A, "NXDOMAIN aa\n" SOA_AUTH);
  expect(m, "default.svc.cluster.local", KP_DNS_T_A, "NOERROR aa\n" SOA_AUTH);
  expect(m, "50.0.96.10.in-addr.arpa", KP_DNS_T_PTR,
         "NOERROR aa\n50.0.96.10.in-addr.arpa 5 PTR web.default.svc.cluster.local\n");
  expect(m, "dns-version.cluster.local", KP_DNS_T_TXT, "NOERROR aa\ndns-version.cluster.local 5 TXT \"1.1.0\"\n");
  expect(m, "cluster.local", KP_DNS_T_SOA,
         "NOERROR aa\ncluster.local 5 SOA ns.dns.cluster.local hostmaster.cluster.local 7200 1800 86400 5\n");
  kp_model_free(m);
}

static void test_headless_records(void **state)
{
  (void)state;
  struct kp_model *m = dns_model();
  expect(m, "nginx.default.svc.cluster.local", KP_DNS_T_A,
         "NOERROR aa\nnginx.default.svc.cluster.local 5 A 10.244.1.5\nnginx.default.svc.cluster.local 5 A 10.244.1.6\n"
         "nginx.default.svc.cluster.local 5 A 10.244.1.7\n");
  expect(m, "web-0.nginx.default.svc.cluster.local", KP_DNS_T_A,
         "NOERROR aa\nweb-0.nginx.default.svc.cluster.local 5 A 10.244.1.5\n");
  /* no hostname: the system-assigned name is the dashed address */
  expect(m, "10-244-1-7.nginx.default.svc.cluster.local", KP_DNS_T_A,
         "NOERROR aa\n10-244-1-7.nginx.default.svc.cluster.local 5 A 10.244.1.7\n");
  /* not ready: not published */
  expect(m, "web-3.nginx.default.svc.cluster.local", KP_DNS_T_A, "NXDOMAIN aa\n" SOA_AUTH);
  expect(m, "_web._tcp.nginx.default.svc.cluster.local", KP_DNS_T_SRV,
         "NOERROR aa\n"
         "_web._tcp.nginx.default.svc.cluster.local 5 SRV 0 33 8080 web-0.nginx.default.svc.cluster.local\n"
         "_web._tcp.nginx.default.svc.cluster.local 5 SRV 0 33 8080 web-1.nginx.default.svc.cluster.local\n"
         "_web._tcp.nginx.default.svc.cluster.local 5 SRV 0 33 8080 10-244-1-7.nginx.default.svc.cluster.local\n"
         "ADD web-0.nginx.default.svc.cluster.local 5 A 10.244.1.5\n"
         "ADD web-1.nginx.default.svc.cluster.local 5 A 10.244.1.6\n"
         "ADD 10-244-1-7.nginx.default.svc.cluster.local 5 A 10.244.1.7\n");
  expect(m, "5.1.244.10.in-addr.arpa", KP_DNS_T_PTR,
         "NOERROR aa\n5.1.244.10.in-addr.arpa 5 PTR web-0.nginx.default.svc.cluster.local\n");
  expect(m, "nr.default.svc.cluster.local", KP_DNS_T_A, "NOERROR aa\nnr.default.svc.cluster.local 5 A 10.244.2.2\n");
  expect(m, "empty.default.svc.cluster.local", KP_DNS_T_A, "NXDOMAIN aa\n" SOA_AUTH);
  kp_model_free(m);
}

static void test_other_records(void **state)
{
  (void)state;
  struct kp_model *m = dns_model();
  expect(m, "ext.default.svc.cluster.local", KP_DNS_T_A,
         "NOERROR aa\next.default.svc.cluster.local 5 CNAME www.example.com\n");
  expect(m, "ext.default.svc.cluster.local", KP_DNS_T_CNAME,
         "NOERROR aa\next.default.svc.cluster.local 5 CNAME www.example.com\n");
  expect(m, "10-1-2-3.default.pod.cluster.local", KP_DNS_T_A,
         "NOERROR aa\n10-1-2-3.default.pod.cluster.local 5 A 10.1.2.3\n");
  expect(m, "10-1-2.default.pod.cluster.local", KP_DNS_T_A, "NXDOMAIN aa\n" SOA_AUTH);
  expect(m, "www.example.com", KP_DNS_T_A, "NOERROR forward\n");
  expect(m, "9.9.9.9.in-addr.arpa", KP_DNS_T_PTR, "NOERROR forward\n");
  kp_model_free(m);
}

static void test_wire_round_trip(void **state)
{
  (void)state;
  struct kp_model *m = dns_model();
  struct kp_dns_answer a, b;
  kp_dns_lookup(m, ZONE, "_web._tcp.nginx.default.svc.cluster.local", KP_DNS_T_SRV, &a);
  uint8_t buf[4096];
  int n = kp_dns_encode_response(0x1234, 0x0100, "_web._tcp.nginx.default.svc.cluster.local", KP_DNS_T_SRV, &a, buf,
                                 sizeof buf);
  assert_true(n > 0);
  uint16_t flags;
  assert_int_equal(kp_dns_parse_response(buf, (size_t)n, &flags, &b), 0);
  assert_true(flags & 0x8000);
  assert_true(flags & 0x0400);
  assert_true(flags & 0x0100);
  char *s1 = strdup(show(&a)), *s2 = show(&b);
  assert_string_equal(s1, s2);
  free(s1);
  uint16_t id, qf, qt;
  char qn[256];
  n = kp_dns_encode_query(7, "web.default.svc.cluster.local", KP_DNS_T_A, buf, sizeof buf);
  assert_int_equal(kp_dns_parse_query(buf, (size_t)n, &id, &qf, qn, sizeof qn, &qt), 0);
  assert_int_equal(id, 7);
  assert_string_equal(qn, "web.default.svc.cluster.local");
  assert_int_equal(qt, KP_DNS_T_A);
  /* garbage is refused, not read past its end */
  assert_int_equal(kp_dns_parse_query(buf, 5, &id, &qf, qn, sizeof qn, &qt), -1);
  buf[12] = 0xc0, buf[13] = 12; /* a pointer to itself */
  assert_int_equal(kp_dns_parse_query(buf, (size_t)n, &id, &qf, qn, sizeof qn, &qt), -1);
  kp_dns_answer_free(&a);
  kp_dns_answer_free(&b);
  kp_model_free(m);
}

/* ---- the server on loopback ---- */

struct live {
  struct event_base *base;
  struct kp_model *m, *um;
  struct kp_dns *d, *up;
};

static int run_until_readable(struct event_base *base, int fd)
{
  for (int i = 0; i < 2000; i++) {
    event_base_loop(base, EVLOOP_NONBLOCK);
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2) > 0) return 0;
  }
  return -1;
}

static void udp_ask(struct live *l, uint16_t port, const char *name, uint16_t type, uint16_t *flags,
                    struct kp_dns_answer *out)
{
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
  uint8_t buf[65536];
  int n = kp_dns_encode_query(99, name, type, buf, sizeof buf);
  assert_true(sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&sin, sizeof sin) == n);
  assert_int_equal(run_until_readable(l->base, fd), 0);
  ssize_t r = recv(fd, buf, sizeof buf, 0);
  assert_true(r > 12);
  *flags = (uint16_t)(buf[2] << 8 | buf[3]);
  if (!(*flags & 0x0200)) assert_int_equal(kp_dns_parse_response(buf, (size_t)r, flags, out), 0);
  else memset(out, 0, sizeof *out);
  close(fd);
}

static uint16_t last_tcp_id; /* the id of tcp_ask's last answer */

static void tcp_ask(struct live *l, uint16_t port, const char *name, uint16_t type, uint16_t *flags,
                    struct kp_dns_answer *out)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
  assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
  uint8_t buf[65536 + 2];
  int n = kp_dns_encode_query(42, name, type, buf + 2, sizeof buf - 2);
  buf[0] = (uint8_t)(n >> 8), buf[1] = (uint8_t)n;
  assert_true(write(fd, buf, (size_t)n + 2) == n + 2);
  size_t have = 0, want = 0;
  while (have < 2 || have < want + 2) {
    assert_int_equal(run_until_readable(l->base, fd), 0);
    ssize_t r = read(fd, buf + have, sizeof buf - have);
    assert_true(r > 0);
    have += (size_t)r;
    if (have >= 2) want = (size_t)buf[0] << 8 | buf[1];
  }
  last_tcp_id = (uint16_t)(buf[2] << 8 | buf[3]);
  assert_int_equal(kp_dns_parse_response(buf + 2, want, flags, out), 0);
  close(fd);
}

static int live_setup(void **state)
{
  struct live *l = calloc(1, sizeof *l);
  l->base = event_base_new();
  l->m = dns_model();
  /* a fake upstream: another instance authoritative for example.com */
  l->um = kp_model_new("up");
  kpt_add_service(l->um, SVC("x", "www", "{\"clusterIP\":\"192.0.2.80\"}"));
  kpt_add_service(l->um, SVC("x", "api",
                             "{\"clusterIP\":\"192.0.2.81\",\"ports\":[{\"name\":\"https\",\"port\":443,"
                             "\"protocol\":\"TCP\"}]}"));
  kpt_add_service(l->um, SVC("x", "alias", "{\"type\":\"ExternalName\",\"externalName\":\"www.x.svc.example.com\"}"));
  /* a headless Service whose SRV answer does not fit 512 bytes */
  kpt_add_service(l->um, SVC("x", "many", "{\"clusterIP\":\"None\",\"ports\":[{\"name\":\"web\",\"port\":80}]}"));
  char body[8192] = "{\"metadata\":{\"namespace\":\"x\",\"name\":\"many-1\",\"labels\":{\"kubernetes.io/"
                    "service-name\":\"many\"}},\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"web\",\"port\":80,"
                    "\"protocol\":\"TCP\"}],\"endpoints\":[";
  for (int i = 0; i < 30; i++)
    snprintf(body + strlen(body), sizeof body - strlen(body), "%s{\"addresses\":[\"192.0.2.%d\"]}", i ? "," : "",
             i + 100);
  strcat(body, "]}");
  kpt_add_slice(l->um, body);
  char err[256];
  struct kp_dns_config ucfg = {.zone = "example.com", .port = 0};
  l->up = kp_dns_new(l->base, l->um, &ucfg, NULL, err, sizeof err);
  assert_non_null(l->up);
  assert_int_equal(kp_dns_listen(l->up, 0x7f000001, err, sizeof err), 0);
  char upstream[64];
  snprintf(upstream, sizeof upstream, "127.0.0.1:%u", kp_dns_port(l->up));
  const char *ups[] = {upstream};
  struct kp_dns_config cfg = {.zone = ZONE, .port = 0, .upstreams = ups, .nupstreams = 1};
  l->d = kp_dns_new(l->base, l->m, &cfg, NULL, err, sizeof err);
  assert_non_null(l->d);
  if (kp_dns_listen(l->d, 0x7f000001, err, sizeof err) != 0) fail_msg("%s", err);
  *state = l;
  return 0;
}

static int live_teardown(void **state)
{
  struct live *l = *state;
  kp_dns_free(l->d);
  kp_dns_free(l->up);
  kp_model_free(l->m);
  kp_model_free(l->um);
  event_base_free(l->base);
  free(l);
  return 0;
}

static void test_udp_and_tcp(void **state)
{
  struct live *l = *state;
  uint16_t port = kp_dns_port(l->d), flags;
  struct kp_dns_answer a;
  udp_ask(l, port, "web.default.svc.cluster.local", KP_DNS_T_A, &flags, &a);
  assert_string_equal(show(&a), "NOERROR aa\nweb.default.svc.cluster.local 5 A 10.96.0.50\n");
  assert_true(flags & 0x0100); /* RD echoed */
  kp_dns_answer_free(&a);
  /* SRV and SOA go through evdns as raw RDATA */
  udp_ask(l, port, "_http._tcp.web.default.svc.cluster.local", KP_DNS_T_SRV, &flags, &a);
  assert_string_equal(
      show(&a), "NOERROR aa\n_http._tcp.web.default.svc.cluster.local 5 SRV 0 100 80 web.default.svc.cluster.local\n"
                "ADD web.default.svc.cluster.local 5 A 10.96.0.50\n");
  kp_dns_answer_free(&a);
  udp_ask(l, port, "nope.default.svc.cluster.local", KP_DNS_T_A, &flags, &a);
  assert_string_equal(show(&a), "NXDOMAIN aa\n" SOA_AUTH);
  kp_dns_answer_free(&a);
  udp_ask(l, port, "dns-version.cluster.local", KP_DNS_T_TXT, &flags, &a);
  assert_string_equal(show(&a), "NOERROR aa\ndns-version.cluster.local 5 TXT \"1.1.0\"\n");
  kp_dns_answer_free(&a);
  tcp_ask(l, port, "_web._tcp.nginx.default.svc.cluster.local", KP_DNS_T_SRV, &flags, &a);
  assert_int_equal(a.n, 6);
  kp_dns_answer_free(&a);
}

static void test_truncation(void **state)
{
  struct live *l = *state;
  uint16_t port = kp_dns_port(l->d), flags;
  struct kp_dns_answer a;
  udp_ask(l, port, "big.default.svc.cluster.local", KP_DNS_T_A, &flags, &a);
  assert_true(flags & 0x0200); /* TC: ask again over TCP */
  kp_dns_answer_free(&a);
  tcp_ask(l, port, "big.default.svc.cluster.local", KP_DNS_T_A, &flags, &a);
  assert_false(flags & 0x0200);
  assert_int_equal(a.n, 60);
  assert_int_equal(a.rr[59].a, 0x0af40300u + 60);
  kp_dns_answer_free(&a);
}

static void test_forwarding_and_cache(void **state)
{
  struct live *l = *state;
  uint16_t port = kp_dns_port(l->d), flags;
  struct kp_dns_answer a;
  udp_ask(l, port, "www.x.svc.example.com", KP_DNS_T_A, &flags, &a);
  assert_string_equal(show(&a), "NOERROR\nwww.x.svc.example.com 5 A 192.0.2.80\n");
  kp_dns_answer_free(&a);
  udp_ask(l, port, "nope.x.svc.example.com", KP_DNS_T_A, &flags, &a);
  assert_int_equal(a.rcode, KP_DNS_NXDOMAIN);
  kp_dns_answer_free(&a);
  /* ExternalName into the cluster: the CNAME and its target */
  udp_ask(l, port, "inner.default.svc.cluster.local", KP_DNS_T_A, &flags, &a);
  assert_string_equal(show(&a), "NOERROR aa\ninner.default.svc.cluster.local 5 CNAME web.default.svc.cluster.local\n"
                                "web.default.svc.cluster.local 5 A 10.96.0.50\n");
  kp_dns_answer_free(&a);
  /* the upstream forgets the name: the cached answer is still served */
  json_t *w = kpt_json(SVC("x", "www", "{}"));
  assert_true(kp_model_delete_service(l->um, w));
  json_decref(w);
  udp_ask(l, port, "www.x.svc.example.com", KP_DNS_T_A, &flags, &a);
  assert_string_equal(show(&a), "NOERROR\nwww.x.svc.example.com 5 A 192.0.2.80\n");
  kp_dns_answer_free(&a);
  /* over TCP too */
  tcp_ask(l, port, "www.x.svc.example.com", KP_DNS_T_A, &flags, &a);
  assert_int_equal(a.n, 1);
  kp_dns_answer_free(&a);
}

/* Every other type outside the cluster is relayed as asked: the
 * upstream's records come back (over UDP re-encoded by evdns, their
 * compressed names read out), over TCP as the upstream sent them with the
 * client's id, after a TCP retry upstream when its UDP answer was
 * truncated. */
static void test_relay_other_types(void **state)
{
  struct live *l = *state;
  uint16_t port = kp_dns_port(l->d), flags;
  struct kp_dns_answer a;
  udp_ask(l, port, "_https._tcp.api.x.svc.example.com", KP_DNS_T_SRV, &flags, &a);
  assert_string_equal(show(&a), "NOERROR aa\n_https._tcp.api.x.svc.example.com 5 SRV 0 100 443 api.x.svc.example.com\n"
                                "ADD api.x.svc.example.com 5 A 192.0.2.81\n");
  kp_dns_answer_free(&a);
  udp_ask(l, port, "dns-version.example.com", KP_DNS_T_TXT, &flags, &a);
  assert_string_equal(show(&a), "NOERROR aa\ndns-version.example.com 5 TXT \"1.1.0\"\n");
  kp_dns_answer_free(&a);
  udp_ask(l, port, "alias.x.svc.example.com", KP_DNS_T_CNAME, &flags, &a);
  assert_string_equal(show(&a), "NOERROR aa\nalias.x.svc.example.com 5 CNAME www.x.svc.example.com\n");
  kp_dns_answer_free(&a);
  /* MX of a name that has none: the empty answer with the upstream's SOA */
  udp_ask(l, port, "www.x.svc.example.com", 15, &flags, &a);
  assert_string_equal(show(&a), "NOERROR aa\nAUTH example.com 5 SOA ns.dns.example.com hostmaster.example.com 7200 "
                                "1800 86400 5\n");
  kp_dns_answer_free(&a);
  udp_ask(l, port, "nope.x.svc.example.com", 15, &flags, &a);
  assert_int_equal(a.rcode, KP_DNS_NXDOMAIN);
  kp_dns_answer_free(&a);
  /* over TCP: byte for byte, with our id */
  tcp_ask(l, port, "_https._tcp.api.x.svc.example.com", KP_DNS_T_SRV, &flags, &a);
  assert_int_equal(last_tcp_id, 42);
  assert_int_equal(a.n, 2);
  kp_dns_answer_free(&a);
  /* too large for UDP upstream: a UDP client sees TC, a TCP client gets it all */
  udp_ask(l, port, "_web._tcp.many.x.svc.example.com", KP_DNS_T_SRV, &flags, &a);
  if (!(flags & 0x0200)) fail_msg("flags %x:\n%s", flags, show(&a));
  kp_dns_answer_free(&a);
  tcp_ask(l, port, "_web._tcp.many.x.svc.example.com", KP_DNS_T_SRV, &flags, &a);
  assert_false(flags & 0x0200);
  assert_int_equal(last_tcp_id, 42);
  size_t srv = 0;
  for (size_t i = 0; i < a.n; i++) srv += a.rr[i].type == KP_DNS_T_SRV;
  assert_int_equal(srv, 30);
  kp_dns_answer_free(&a);
}

/* A relayed answer is taken only from the server asked, with the relay's
 * id and the same question; anything else is ignored until the real one
 * comes. */
static void relay_done(uint8_t *msg, size_t len, void *arg)
{
  uint8_t **out = arg;
  *out = msg ? malloc(len) : NULL;
  if (msg) memcpy(*out, msg, len);
  if (!msg) *out = (uint8_t *)"";
}

static void test_relay_matching(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  int up = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
  assert_int_equal(bind(up, (struct sockaddr *)&sin, sizeof sin), 0);
  socklen_t sl = sizeof sin;
  getsockname(up, (struct sockaddr *)&sin, &sl);
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%u", ntohs(sin.sin_port));
  const char *ups[] = {addr};
  struct kp_dns_relay *r = kp_dns_relay_new(base, ups, 1);
  assert_non_null(r);
  uint8_t q[512], got[512];
  int n = kp_dns_encode_question(0x1234, 0x0100, "Mail.Example.Org", 15, 1, q, sizeof q);
  uint8_t *answer = NULL;
  assert_non_null(kp_dns_relay_ask(r, q, (size_t)n, false, relay_done, &answer));
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  for (int i = 0; i < 200 && fl == sizeof from; i++) {
    event_base_loop(base, EVLOOP_NONBLOCK);
    struct pollfd p = {up, POLLIN, 0};
    if (poll(&p, 1, 5) > 0) break;
  }
  ssize_t k = recvfrom(up, got, sizeof got, 0, (struct sockaddr *)&from, &fl);
  assert_int_equal(k, n);
  assert_memory_equal(got + 2, q + 2, (size_t)n - 2); /* the question as asked, under another id */
  uint16_t id = (uint16_t)(got[0] << 8 | got[1]);
  /* answers: wrong id, other question, then the real one (name case differs) */
  uint8_t resp[512];
  memcpy(resp, got, (size_t)k);
  resp[2] |= 0x80;
  resp[0] ^= 0xff;
  sendto(up, resp, (size_t)k, 0, (struct sockaddr *)&from, fl);
  resp[0] = (uint8_t)(id >> 8);
  int m = kp_dns_encode_question(id, 0, "other.example.org", 15, 1, got, sizeof got);
  got[2] |= 0x80;
  sendto(up, got, (size_t)m, 0, (struct sockaddr *)&from, fl);
  resp[13] = 'm';
  resp[3] = 3; /* NXDOMAIN */
  sendto(up, resp, (size_t)k, 0, (struct sockaddr *)&from, fl);
  for (int i = 0; i < 400 && !answer; i++) {
    event_base_loop(base, EVLOOP_NONBLOCK);
    usleep(2000);
  }
  assert_non_null(answer);
  assert_true(answer[0] == 0x12 && answer[1] == 0x34); /* the asker's id back */
  assert_int_equal(answer[3] & 0xf, 3);
  free(answer);
  kp_dns_relay_free(r);
  close(up);
  event_base_free(base);
}

static void test_answers_follow_the_model(void **state)
{
  struct live *l = *state;
  uint16_t port = kp_dns_port(l->d), flags;
  struct kp_dns_answer a;
  kpt_add_service(l->m, SVC("default", "late", "{\"clusterIP\":\"10.96.0.77\"}"));
  udp_ask(l, port, "late.default.svc.cluster.local", KP_DNS_T_A, &flags, &a);
  assert_string_equal(show(&a), "NOERROR aa\nlate.default.svc.cluster.local 5 A 10.96.0.77\n");
  kp_dns_answer_free(&a);
  json_t *s = kpt_json(SVC("default", "late", "{}"));
  kp_model_delete_service(l->m, s);
  json_decref(s);
  udp_ask(l, port, "late.default.svc.cluster.local", KP_DNS_T_A, &flags, &a);
  assert_int_equal(a.rcode, KP_DNS_NXDOMAIN);
  kp_dns_answer_free(&a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_service_records),
      cmocka_unit_test(test_headless_records),
      cmocka_unit_test(test_other_records),
      cmocka_unit_test(test_wire_round_trip),
      cmocka_unit_test_setup_teardown(test_udp_and_tcp, live_setup, live_teardown),
      cmocka_unit_test_setup_teardown(test_truncation, live_setup, live_teardown),
      cmocka_unit_test_setup_teardown(test_forwarding_and_cache, live_setup, live_teardown),
      cmocka_unit_test_setup_teardown(test_answers_follow_the_model, live_setup, live_teardown),
      cmocka_unit_test_setup_teardown(test_relay_other_types, live_setup, live_teardown),
      cmocka_unit_test(test_relay_matching),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
