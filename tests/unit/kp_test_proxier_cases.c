/* Rule generation, case by case: the rules of one Service in
 * iptables-save syntax (the fixed chains and jumps left out, they are in
 * kp_test_proxier), for every behaviour of upstream's iptables proxier:
 * serving-terminating fallback, internalTrafficPolicy Local (with and
 * without local endpoints), externalTrafficPolicy Local with a local
 * endpoint, --masquerade-all, UDP and SCTP with equal shares,
 * --nodeport-addresses and localhost NodePorts, loadBalancerSourceRanges
 * that include the node, large cluster mode (hints without the topology
 * annotation ignored), topology-aware hints with this node's zone (used
 * only as upstream's rule allows), and the node-local DNS rules.  Chain names come from kp_chain_name,
 * itself checked against real clusters in kp_test_chainname; {1}..{9} in
 * the expected text stand for them. */
#define _GNU_SOURCE
#include "kp_test_util.h"

#include <event2/buffer.h>

static char *render(struct kp_model *m, const struct kp_proxier_config *c)
{
  struct kp_ruleset *rs = kp_proxier_build(m, c, NULL);
  char *t = kp_ruleset_render(rs);
  kp_ruleset_free(rs);
  return t;
}

static char *take(struct evbuffer *b)
{
  size_t len = evbuffer_get_length(b);
  char *s = malloc(len + 1);
  evbuffer_remove(b, s, len);
  s[len] = 0;
  evbuffer_free(b);
  return s;
}

static bool fixed_line(const char *l)
{
  static const char *const skip[] = {
      "*",
      "COMMIT",
      ":KUBE-SERVICES ",
      ":KUBE-EXTERNAL-SERVICES ",
      ":KUBE-NODEPORTS ",
      ":KUBE-POSTROUTING ",
      ":KUBE-MARK-MASQ ",
      ":KUBE-FORWARD ",
      ":KUBE-PROXY-FIREWALL ",
      ":KUBE-FIREWALL ",
      ":KUBE-PROXY-CANARY ",
      ":KUBE-NODE-DNS ",
      "-A PREROUTING ",
      "-A INPUT ",
      "-A FORWARD ",
      "-A OUTPUT ",
      "-A POSTROUTING ",
      "-A KUBE-POSTROUTING ",
      "-A KUBE-MARK-MASQ ",
      "-A KUBE-FORWARD ",
      "-A KUBE-FIREWALL ",
      "-A KUBE-NODE-DNS ",
  };
  for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
    if (!strncmp(l, skip[i], strlen(skip[i]))) return true;
  return strstr(l, "kubernetes service nodeports; NOTE") != NULL;
}

/* The lines of a render that are about Services. */
static char *service_lines(const char *text)
{
  struct evbuffer *b = evbuffer_new();
  for (const char *p = text; *p;) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char *line = strndup(p, n);
    if (!fixed_line(line)) evbuffer_add_printf(b, "%s\n", line);
    free(line);
    p += n + (e ? 1 : 0);
  }
  return take(b);
}

static char *fill(const char *tmpl, const char *const *args)
{
  struct evbuffer *b = evbuffer_new();
  for (const char *p = tmpl; *p; p++) {
    if (p[0] == '{' && p[1] >= '1' && p[1] <= '9' && p[2] == '}') {
      evbuffer_add_printf(b, "%s", args[p[1] - '1']);
      p += 2;
    } else {
      evbuffer_add(b, p, 1);
    }
  }
  return take(b);
}

static void expect_rules(struct kp_model *m, const struct kp_proxier_config *c, const char *tmpl,
                         const char *const *args)
{
  char *all = render(m, c), *got = service_lines(all), *want = fill(tmpl, args);
  kpt_assert_text(want, got);
  free(all);
  free(got);
  free(want);
}

static char names[16][KP_CHAIN_NAME_MAX];
static int nnames;
static const char *chain(const char *prefix, const char *spn, const char *proto)
{
  char *o = names[nnames++ % 16];
  kp_chain_name(o, prefix, spn, proto);
  return o;
}
static const char *sep(const char *spn, const char *proto, const char *ep)
{
  char *o = names[nnames++ % 16];
  kp_endpoint_chain_name(o, spn, proto, ep);
  return o;
}

#define CLUSTER_IP_RULES(ip, spn, chain)                                                                               \
  "-A KUBE-SERVICES -d " ip "/32 -p tcp -m comment --comment \"" spn " cluster IP\" -m tcp --dport 80 -j " chain "\n"

static void test_terminating_fallback(void **state)
{
  (void)state;
  struct kp_model *m = kp_model_new(HOST);
  struct kp_proxier_config c;
  kpt_upstream_config(&c);
  kpt_add_service(m, SVC("ns1", "svc1", "{\"clusterIP\":\"172.30.0.50\"," P80 "}"));
  kpt_add_slice(
      m,
      SLICE(
          "ns1", "svc1",
          P80
          ",\"endpoints\":["
          "{\"addresses\":[\"10.180.1.1\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}},"
          "{\"addresses\":[\"10.180.1.2\"],\"conditions\":{\"ready\":false,\"serving\":false,\"terminating\":true}}]"));
  const char *a[] = {chain(KP_PREFIX_SVC, "ns1/svc1:p80", "tcp"), sep("ns1/svc1:p80", "tcp", "10.180.1.1:80"),
                     sep("ns1/svc1:p80", "tcp", "10.180.1.3:80")};
  /* no ready endpoint: the serving, terminating one takes the traffic */
  expect_rules(m, &c,
               ":{2} - [0:0]\n"
               ":{1} - [0:0]\n"
               "-A {2} -s 10.180.1.1/32 -m comment --comment \"ns1/svc1:p80\" -j KUBE-MARK-MASQ\n"
               "-A {2} -p tcp -m comment --comment \"ns1/svc1:p80\" -m tcp -j DNAT --to-destination "
               "10.180.1.1:80\n" CLUSTER_IP_RULES(
                   "172.30.0.50", "ns1/svc1:p80",
                   "{1}") "-A {1} ! -s 10.0.0.0/8 -d 172.30.0.50/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster "
                          "IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n"
                          "-A {1} -m comment --comment \"ns1/svc1:p80 -> 10.180.1.1:80\" -j {2}\n",
               a);
  /* a ready endpoint: the terminating one gets nothing */
  kpt_add_slice(
      m,
      SLICE("ns1", "svc1",
            P80
            ",\"endpoints\":["
            "{\"addresses\":[\"10.180.1.1\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}},"
            "{\"addresses\":[\"10.180.1.3\"]}]"));
  expect_rules(m, &c,
               ":{3} - [0:0]\n"
               ":{1} - [0:0]\n"
               "-A {3} -s 10.180.1.3/32 -m comment --comment \"ns1/svc1:p80\" -j KUBE-MARK-MASQ\n"
               "-A {3} -p tcp -m comment --comment \"ns1/svc1:p80\" -m tcp -j DNAT --to-destination "
               "10.180.1.3:80\n" CLUSTER_IP_RULES(
                   "172.30.0.50", "ns1/svc1:p80",
                   "{1}") "-A {1} ! -s 10.0.0.0/8 -d 172.30.0.50/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster "
                          "IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n"
                          "-A {1} -m comment --comment \"ns1/svc1:p80 -> 10.180.1.3:80\" -j {3}\n",
               a);
  kp_model_free(m);
}

static void test_internal_traffic_policy_local(void **state)
{
  (void)state;
  struct kp_model *m = kp_model_new(HOST);
  struct kp_proxier_config c;
  kpt_upstream_config(&c);
  kpt_add_service(m, SVC("ns2", "svc2", "{\"clusterIP\":\"172.30.0.51\",\"internalTrafficPolicy\":\"Local\"," P80 "}"));
  kpt_add_slice(m, SLICE("ns2", "svc2",
                         P80 ",\"endpoints\":[{\"addresses\":[\"10.180.2.1\"],\"nodeName\":\"" HOST "\"},"
                             "{\"addresses\":[\"10.180.2.2\"],\"nodeName\":\"other\"}]"));
  const char *a[] = {chain(KP_PREFIX_SVL, "ns2/svc2:p80", "tcp"), sep("ns2/svc2:p80", "tcp", "10.180.2.1:80")};
  /* only the local endpoint, through the SVL chain; no SVC chain */
  expect_rules(m, &c,
               ":{2} - [0:0]\n"
               ":{1} - [0:0]\n"
               "-A {2} -s 10.180.2.1/32 -m comment --comment \"ns2/svc2:p80\" -j KUBE-MARK-MASQ\n"
               "-A {2} -p tcp -m comment --comment \"ns2/svc2:p80\" -m tcp -j DNAT --to-destination "
               "10.180.2.1:80\n" CLUSTER_IP_RULES(
                   "172.30.0.51", "ns2/svc2:p80",
                   "{1}") "-A {1} ! -s 10.0.0.0/8 -d 172.30.0.51/32 -p tcp -m comment --comment \"ns2/svc2:p80 cluster "
                          "IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n"
                          "-A {1} -m comment --comment \"ns2/svc2:p80 -> 10.180.2.1:80\" -j {2}\n",
               a);
  /* no local endpoint: cluster IP traffic dropped, not rejected */
  kpt_add_slice(m,
                SLICE("ns2", "svc2", P80 ",\"endpoints\":[{\"addresses\":[\"10.180.2.2\"],\"nodeName\":\"other\"}]"));
  expect_rules(m, &c,
               "-A KUBE-SERVICES -d 172.30.0.51/32 -p tcp -m comment --comment \"ns2/svc2:p80 has no local endpoints\" "
               "-m tcp --dport 80 -j DROP\n",
               a);
  kp_model_free(m);
}

static void test_external_policy_local_with_local_endpoint(void **state)
{
  (void)state;
  struct kp_model *m = kp_model_new(HOST);
  struct kp_proxier_config c;
  kpt_upstream_config(&c);
  kpt_add_service(m, SVC("ns3", "svc3",
                         "{\"type\":\"NodePort\",\"externalTrafficPolicy\":\"Local\",\"clusterIP\":\"172.30.0.52\","
                         "\"ports\":[{\"name\":\"p80\",\"port\":80,\"protocol\":\"TCP\",\"nodePort\":30052}]}"));
  kpt_add_slice(m, SLICE("ns3", "svc3",
                         P80 ",\"endpoints\":[{\"addresses\":[\"10.180.3.1\"],\"nodeName\":\"" HOST "\"},"
                             "{\"addresses\":[\"10.180.3.2\"],\"nodeName\":\"other\"}]"));
  const char *a[] = {chain(KP_PREFIX_SVC, "ns3/svc3:p80", "tcp"), chain(KP_PREFIX_SVL, "ns3/svc3:p80", "tcp"),
                     chain(KP_PREFIX_EXT, "ns3/svc3:p80", "tcp"), sep("ns3/svc3:p80", "tcp", "10.180.3.1:80"),
                     sep("ns3/svc3:p80", "tcp", "10.180.3.2:80")};
  char *t = render(m, &c), *got = service_lines(t);
  /* EXT: pods and the node go to every endpoint, outside traffic to the local one */
  char *want =
      fill("-A {3} -s 10.0.0.0/8 -m comment --comment \"pod traffic for ns3/svc3:p80 external destinations\" -j {1}\n"
           "-A {3} -m comment --comment \"masquerade LOCAL traffic for ns3/svc3:p80 external destinations\" -m "
           "addrtype --src-type LOCAL -j KUBE-MARK-MASQ\n"
           "-A {3} -m comment --comment \"route LOCAL traffic for ns3/svc3:p80 external destinations\" -m addrtype "
           "--src-type LOCAL -j {1}\n"
           "-A {3} -j {2}\n",
           a);
  char *w2 = fill("-A KUBE-NODEPORTS -p tcp -m comment --comment \"ns3/svc3:p80\" -m tcp --dport 30052 -j {3}\n", a);
  char *w3 = fill("-A {2} -m comment --comment \"ns3/svc3:p80 -> 10.180.3.1:80\" -j {4}\n", a);
  char *w4 = fill("-A {1} -m comment --comment \"ns3/svc3:p80 -> 10.180.3.1:80\" -m statistic --mode random "
                  "--probability 0.50000000000 -j {4}\n"
                  "-A {1} -m comment --comment \"ns3/svc3:p80 -> 10.180.3.2:80\" -j {5}\n",
                  a);
  assert_non_null(strstr(got, want));
  assert_non_null(strstr(got, w2));
  assert_non_null(strstr(got, w3));
  assert_non_null(strstr(got, w4));
  free(t);
  free(got);
  free(want);
  free(w2);
  free(w3);
  free(w4);
  kp_model_free(m);
}

static void test_masquerade_all_udp_sctp(void **state)
{
  (void)state;
  struct kp_model *m = kp_model_new(HOST);
  struct kp_proxier_config c;
  kpt_upstream_config(&c);
  c.masquerade_all = true;
  kpt_add_service(m,
                  SVC("ns4", "dns",
                      "{\"clusterIP\":\"172.30.0.53\",\"ports\":[{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"},"
                      "{\"name\":\"s\",\"port\":9,\"protocol\":\"SCTP\"}]}"));
  kpt_add_slice(m, SLICE("ns4", "dns",
                         "\"ports\":[{\"name\":\"dns\",\"port\":5353,\"protocol\":\"UDP\"},{\"name\":\"s\",\"port\":9,"
                         "\"protocol\":\"SCTP\"}],"
                         "\"endpoints\":[{\"addresses\":[\"10.180.4.1\"]},{\"addresses\":[\"10.180.4.2\"]},{"
                         "\"addresses\":[\"10.180.4.3\"]}]"));
  const char *a[] = {chain(KP_PREFIX_SVC, "ns4/dns:dns", "udp"), sep("ns4/dns:dns", "udp", "10.180.4.1:5353"),
                     sep("ns4/dns:dns", "udp", "10.180.4.2:5353"), sep("ns4/dns:dns", "udp", "10.180.4.3:5353"),
                     chain(KP_PREFIX_SVC, "ns4/dns:s", "sctp")};
  char *t = render(m, &c), *got = service_lines(t);
  char *want = fill("-A {1} -d 172.30.0.53/32 -p udp -m comment --comment \"ns4/dns:dns cluster IP\" -m udp --dport 53 "
                    "-j KUBE-MARK-MASQ\n"
                    "-A {1} -m comment --comment \"ns4/dns:dns -> 10.180.4.1:5353\" -m statistic --mode random "
                    "--probability 0.33333333349 -j {2}\n"
                    "-A {1} -m comment --comment \"ns4/dns:dns -> 10.180.4.2:5353\" -m statistic --mode random "
                    "--probability 0.50000000000 -j {3}\n"
                    "-A {1} -m comment --comment \"ns4/dns:dns -> 10.180.4.3:5353\" -j {4}\n",
                    a);
  char *w2 =
      fill("-A {2} -p udp -m comment --comment \"ns4/dns:dns\" -m udp -j DNAT --to-destination 10.180.4.1:5353\n", a);
  char *w3 = fill("-A KUBE-SERVICES -d 172.30.0.53/32 -p sctp -m comment --comment \"ns4/dns:s cluster IP\" -m sctp "
                  "--dport 9 -j {5}\n",
                  a);
  if (!strstr(got, want) || !strstr(got, w2) || !strstr(got, w3)) fail_msg("got:\n%s", got);
  free(t);
  free(got);
  free(want);
  free(w2);
  free(w3);
  kp_model_free(m);
}

static void test_nodeport_addresses(void **state)
{
  (void)state;
  struct kp_model *m = kp_model_new(HOST);
  struct kp_proxier_config c;
  kpt_upstream_config(&c);
  uint32_t ips[2];
  kp_ip_parse("192.168.0.2", &ips[0]);
  kp_ip_parse("127.0.0.1", &ips[1]);
  c.nodeport_all = false;
  c.nodeport_ips = ips;
  c.n_nodeport_ips = 2;
  struct kp_ruleset *rs = kp_proxier_build(m, &c, NULL);
  char *t = kp_ruleset_render(rs);
  kp_ruleset_free(rs);
  assert_non_null(strstr(t, "-A KUBE-SERVICES -d 192.168.0.2/32 -m comment --comment \"kubernetes service nodeports; "
                            "NOTE: this must be the last rule in this chain\" -j KUBE-NODEPORTS\n"
                            "-A KUBE-SERVICES -d 127.0.0.1/32 -m comment --comment \"kubernetes service nodeports; "
                            "NOTE: this must be the last rule in this chain\" -j KUBE-NODEPORTS\n"));
  free(t);
  /* localhost NodePorts off: loopback left out, no localnet guard */
  c.localhost_nodeports = false;
  t = render(m, &c);
  assert_null(strstr(t, "-d 127.0.0.1/32"));
  assert_null(strstr(t, "KUBE-FIREWALL"));
  free(t);
  c.nodeport_all = true;
  t = render(m, &c);
  assert_non_null(
      strstr(t, "-A KUBE-SERVICES ! -d 127.0.0.0/8 -m comment --comment \"kubernetes service nodeports; NOTE: this "
                "must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n"));
  free(t);
  kp_model_free(m);
}

static void test_source_ranges_include_node(void **state)
{
  (void)state;
  struct kp_model *m = kp_model_new(HOST);
  struct kp_proxier_config c;
  kpt_upstream_config(&c);
  kpt_add_service(
      m,
      "{\"metadata\":{\"namespace\":\"ns5\",\"name\":\"lb\"},\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"172."
      "30.0.55\","
      "\"ports\":[{\"name\":\"p80\",\"port\":80,\"protocol\":\"TCP\",\"nodePort\":30055}],"
      "\"loadBalancerSourceRanges\":[\"192.168.0.0/24\",\"not-a-cidr\"]},"
      "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"5.6.7.9\"},{\"ip\":\"5.6.7.10\",\"ipMode\":\"Proxy\"}]}}}");
  kpt_add_slice(m, SLICE("ns5", "lb", P80 ",\"endpoints\":[{\"addresses\":[\"10.180.5.1\"]}]"));
  const char *a[] = {chain(KP_PREFIX_FW, "ns5/lb:p80", "tcp"), chain(KP_PREFIX_EXT, "ns5/lb:p80", "tcp")};
  char *t = render(m, &c), *got = service_lines(t);
  /* the node (192.168.0.2) is inside the range: the LB IP as a source is allowed too;
   * the Proxy-mode ingress IP and the bad CIDR are ignored */
  char *want =
      fill("-A {1} -s 192.168.0.0/24 -m comment --comment \"ns5/lb:p80 loadbalancer IP\" -j {2}\n"
           "-A {1} -s 5.6.7.9/32 -m comment --comment \"ns5/lb:p80 loadbalancer IP\" -j {2}\n"
           "-A {1} -m comment --comment \"other traffic to ns5/lb:p80 will be dropped by KUBE-PROXY-FIREWALL\"\n",
           a);
  if (!strstr(got, want)) fail_msg("got:\n%s", got);
  assert_null(strstr(got, "5.6.7.10"));
  char *w2 = fill("-A KUBE-PROXY-FIREWALL -d 5.6.7.9/32 -p tcp -m comment --comment \"ns5/lb:p80 traffic not accepted "
                  "by {1}\" -m tcp --dport 80 -j DROP\n",
                  a);
  assert_non_null(strstr(got, w2));
  free(t);
  free(got);
  free(want);
  free(w2);
  kp_model_free(m);
}

static void test_large_cluster_mode_and_hints(void **state)
{
  (void)state;
  struct kp_model *m = kp_model_new(HOST);
  struct kp_proxier_config c;
  kpt_upstream_config(&c);
  char svc[256], slice[65536];
  for (int s = 0; s < 11; s++) { /* 11 x 100 endpoints: over 1000 */
    snprintf(svc, sizeof svc, SVC("ns6", "s%d", "{\"clusterIP\":\"172.30.1.%d\"," P80 "}"), s, s + 1);
    kpt_add_service(m, svc);
    int n = snprintf(
        slice, sizeof slice,
        "{\"metadata\":{\"namespace\":\"ns6\",\"name\":\"s%d-1\",\"labels\":{\"kubernetes.io/service-name\":\"s%d\"}},"
        "\"addressType\":\"IPv4\"," P80 ",\"endpoints\":[",
        s, s);
    for (int e = 0; e < 100; e++)
      n += snprintf(slice + n, sizeof slice - (size_t)n,
                    "%s{\"addresses\":[\"10.181.%d.%d\"],\"hints\":{\"forZones\":[{\"name\":\"zone-b\"}]}}",
                    e ? "," : "", s, e + 1);
    snprintf(slice + n, sizeof slice - (size_t)n, "]}");
    kpt_add_slice(m, slice);
  }
  struct kp_proxier_stats st;
  struct kp_ruleset *rs = kp_proxier_build(m, &c, &st);
  assert_true(st.large_cluster);
  assert_int_equal(st.endpoints, 1100);
  char *t = kp_ruleset_render(rs);
  kp_ruleset_free(rs);
  const char *a[] = {chain(KP_PREFIX_SVC, "ns6/s0:p80", "tcp"), sep("ns6/s0:p80", "tcp", "10.181.0.1:80"),
                     sep("ns6/s0:p80", "tcp", "10.181.0.100:80")};
  /* no comments on the per-endpoint rules; hints change nothing; the
   * endpoints are in upstream's order, by "ip:port" as a string */
  char *want = fill("-A {2} -s 10.181.0.1/32 -j KUBE-MARK-MASQ\n"
                    "-A {2} -p tcp -m tcp -j DNAT --to-destination 10.181.0.1:80\n",
                    a);
  char *w2 = fill("-A {1} -m statistic --mode random --probability 0.00999999978 -j {3}\n", a);
  if (!strstr(t, want) || !strstr(t, w2)) {
    char *svc = strstr(t, "-A KUBE-SVC-");
    fail_msg("want:\n%s%sgot (from the first SVC rule):\n%.600s", want, w2, svc ? svc : t);
  }
  free(t);
  free(want);
  free(w2);
  kp_model_free(m);
}

/* Does text have a rule in chain from that jumps to chain to? */
static bool has_jump(const char *text, const char *from, const char *to)
{
  char head[64], tail[64];
  snprintf(head, sizeof head, "-A %s ", from);
  snprintf(tail, sizeof tail, " -j %s", to);
  size_t tl = strlen(tail);
  for (const char *l = text; l && *l;) {
    const char *e = strchr(l, '\n');
    size_t n = e ? (size_t)(e - l) : strlen(l);
    if (!strncmp(l, head, strlen(head)) && n >= tl && !memcmp(l + n - tl, tail, tl)) return true;
    l = e ? e + 1 : NULL;
  }
  return false;
}

/* Which of the three endpoints 10.180.7.1-3 the Service's chain sends
 * to, as "1.3" style text. */
static void expect_sent_to(struct kp_model *m, const struct kp_proxier_config *c, const char *want)
{
  char *t = render(m, c), got[16] = "";
  const char *svc = chain(KP_PREFIX_SVC, "ns7/svc7:p80", "tcp");
  for (int i = 1; i <= 3; i++) {
    char ep[32];
    snprintf(ep, sizeof ep, "10.180.7.%d:80", i);
    if (has_jump(t, svc, sep("ns7/svc7:p80", "tcp", ep)))
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d", *got ? "." : "", i);
  }
  if (strcmp(got, want)) fail_msg("endpoints used: want %s, got %s\n%s", want, got, t);
  free(t);
}

#define TOPO_SVC(meta, spec)                                                                                           \
  "{\"metadata\":{\"namespace\":\"ns7\",\"name\":\"svc7\"" meta "},\"spec\":{\"clusterIP\":\"172.30.7.1\"," P80 spec   \
  "}}"
#define AUTO ",\"annotations\":{\"service.kubernetes.io/topology-mode\":\"Auto\"}"
#define HINTED(ip, zone) "{\"addresses\":[\"" ip "\"],\"hints\":{\"forZones\":[{\"name\":\"" zone "\"}]}}"

static void test_topology_hints(void **state)
{
  (void)state;
  struct kp_model *m = kp_model_new(HOST);
  struct kp_proxier_config c;
  kpt_upstream_config(&c);
  kpt_add_service(m, TOPO_SVC(AUTO, ""));
  const char *hinted = SLICE("ns7", "svc7",
                             P80 ",\"endpoints\":[" HINTED("10.180.7.1", "zone-a") "," HINTED(
                                 "10.180.7.2", "zone-b") "," HINTED("10.180.7.3", "zone-a") "]");
  kpt_add_slice(m, hinted);
  expect_sent_to(m, &c, "1.2.3"); /* the node's zone is not known yet */
  assert_true(kp_model_set_zone(m, "zone-a"));
  assert_false(kp_model_set_zone(m, "zone-a"));
  expect_sent_to(m, &c, "1.3");
  /* the endpoint of another zone gets no chain at all */
  char *t = render(m, &c);
  assert_null(strstr(t, sep("ns7/svc7:p80", "tcp", "10.180.7.2:80")));
  free(t);
  kp_model_set_zone(m, "zone-b");
  expect_sent_to(m, &c, "2");
  kp_model_set_zone(m, "zone-c"); /* no endpoint hinted for this zone: all of them */
  expect_sent_to(m, &c, "1.2.3");
  kp_model_set_zone(m, "zone-a");
  /* a ready endpoint without hints: hints are not used */
  kpt_add_slice(m, SLICE("ns7", "svc7",
                         P80 ",\"endpoints\":[" HINTED("10.180.7.1", "zone-a") "," HINTED(
                             "10.180.7.2", "zone-b") ",{\"addresses\":[\"10.180.7.3\"]}]"));
  expect_sent_to(m, &c, "1.2.3");
  /* a not-ready one without hints does not count */
  kpt_add_slice(m, SLICE("ns7", "svc7",
                         P80 ",\"endpoints\":[" HINTED("10.180.7.1", "zone-a") "," HINTED(
                             "10.180.7.2", "zone-b") ",{\"addresses\":[\"10.180.7.3\"],\"conditions\":{\"ready\":"
                                                     "false}}]"));
  expect_sent_to(m, &c, "1");
  kpt_add_slice(m, hinted);
  expect_sent_to(m, &c, "1.3");
  /* the annotation decides: Disabled, absent, the older annotation,
   * trafficDistribution */
  kpt_add_service(m, TOPO_SVC(",\"annotations\":{\"service.kubernetes.io/topology-mode\":\"Disabled\"}", ""));
  expect_sent_to(m, &c, "1.2.3");
  kpt_add_service(m, TOPO_SVC("", ""));
  expect_sent_to(m, &c, "1.2.3");
  kpt_add_service(m, TOPO_SVC(",\"annotations\":{\"service.kubernetes.io/topology-aware-hints\":\"auto\"}", ""));
  expect_sent_to(m, &c, "1.3");
  kpt_add_service(m, TOPO_SVC("", ",\"trafficDistribution\":\"PreferClose\""));
  expect_sent_to(m, &c, "1.3");
  /* zone names are matched whole */
  kp_model_set_zone(m, "zone");
  expect_sent_to(m, &c, "1.2.3");
  assert_true(kp_model_set_zone(m, NULL));
  expect_sent_to(m, &c, "1.2.3");
  kp_model_free(m);
}

static void test_node_dns_rules(void **state)
{
  (void)state;
  struct kp_model *m = kp_model_new(HOST);
  struct kp_proxier_config c;
  kpt_upstream_config(&c);
  kp_ip_parse("10.96.0.10", &c.dns_ip);
  struct kp_ruleset *rs = kp_proxier_build(m, &c, NULL);
  struct evbuffer *b = evbuffer_new();
  kp_ruleset_render_table(rs, KP_TABLE_RAW, b);
  char *got = take(b);
  kpt_assert_text("*raw\n"
                  ":KUBE-NODE-DNS - [0:0]\n"
                  "-A PREROUTING -m comment --comment \"kubernetes node-local dns\" -j KUBE-NODE-DNS\n"
                  "-A OUTPUT -m comment --comment \"kubernetes node-local dns\" -j KUBE-NODE-DNS\n"
                  "-A KUBE-NODE-DNS -d 10.96.0.10/32 -p udp -m comment --comment \"node-local dns: no NAT\" -m udp "
                  "--dport 53 -j NOTRACK\n"
                  "-A KUBE-NODE-DNS -d 10.96.0.10/32 -p tcp -m comment --comment \"node-local dns: no NAT\" -m tcp "
                  "--dport 53 -j NOTRACK\n"
                  "-A KUBE-NODE-DNS -s 10.96.0.10/32 -p udp -m comment --comment \"node-local dns: no NAT\" -m udp "
                  "--sport 53 -j NOTRACK\n"
                  "-A KUBE-NODE-DNS -s 10.96.0.10/32 -p tcp -m comment --comment \"node-local dns: no NAT\" -m tcp "
                  "--sport 53 -j NOTRACK\n"
                  "COMMIT\n",
                  got);
  free(got);
  kp_ruleset_free(rs);
  kp_model_free(m);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_terminating_fallback),
      cmocka_unit_test(test_internal_traffic_policy_local),
      cmocka_unit_test(test_external_policy_local_with_local_endpoint),
      cmocka_unit_test(test_masquerade_all_udp_sctp),
      cmocka_unit_test(test_nodeport_addresses),
      cmocka_unit_test(test_source_ranges_include_node),
      cmocka_unit_test(test_large_cluster_mode_and_hints),
      cmocka_unit_test(test_topology_hints),
      cmocka_unit_test(test_node_dns_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
