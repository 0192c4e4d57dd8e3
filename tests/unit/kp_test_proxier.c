/* Rule generation: Services and EndpointSlices in, iptables-save text out.
 * The expected text is upstream's golden output for the same inputs
 * (pkg/proxy/iptables/proxier_test.go), written the way iptables-save
 * prints those rules, plus the jumps from the built-in chains as a real
 * node shows them. */
#include "kp_test_util.h"

#include "proxier.h"
#include "ruleset.h"

static char *build(struct kp_model *m, const struct kp_proxier_config *c, struct kp_proxier_stats *st)
{
  struct kp_ruleset *rs = kp_proxier_build(m, c, st);
  assert_non_null(rs);
  char *text = kp_ruleset_render(rs);
  kp_ruleset_free(rs);
  return text;
}

static const char *filter_builtin_jumps =
    "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j "
    "KUBE-PROXY-FIREWALL\n"
    "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS\n"
    "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j "
    "KUBE-EXTERNAL-SERVICES\n"
    "-A INPUT -j KUBE-FIREWALL\n"
    "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j "
    "KUBE-PROXY-FIREWALL\n"
    "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n"
    "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
    "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j "
    "KUBE-EXTERNAL-SERVICES\n"
    "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j "
    "KUBE-PROXY-FIREWALL\n"
    "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
    "-A OUTPUT -j KUBE-FIREWALL\n";

static const char *filter_tail =
    "-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" -m "
    "conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n"
    "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n"
    "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT\n"
    "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate "
    "RELATED,ESTABLISHED -j ACCEPT\n";

static const char *nat_builtin_jumps =
    "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
    "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
    "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n";

static const char *nat_masq =
    "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
    "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n"
    "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE\n";

static void test_overall_rules(void **state)
{
  (void)state;
  struct kp_model *m = kpt_overall_model();
  struct kp_proxier_config c;
  kpt_upstream_config(&c);
  struct kp_proxier_stats st;
  char *got = build(m, &c, &st);
  char want[16384];
  snprintf(want, sizeof want, "%s%s%s%s%s%s",
           "*filter\n"
           ":KUBE-EXTERNAL-SERVICES - [0:0]\n"
           ":KUBE-FIREWALL - [0:0]\n"
           ":KUBE-FORWARD - [0:0]\n"
           ":KUBE-NODEPORTS - [0:0]\n"
           ":KUBE-PROXY-CANARY - [0:0]\n"
           ":KUBE-PROXY-FIREWALL - [0:0]\n"
           ":KUBE-SERVICES - [0:0]\n",
           filter_builtin_jumps,
           "-A KUBE-EXTERNAL-SERVICES -d 192.168.99.22/32 -p tcp -m comment --comment \"ns2/svc2:p80 has no local "
           "endpoints\" -m tcp --dport 80 -j DROP\n"
           "-A KUBE-EXTERNAL-SERVICES -d 1.2.3.4/32 -p tcp -m comment --comment \"ns2/svc2:p80 has no local "
           "endpoints\" -m tcp --dport 80 -j DROP\n"
           "-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment \"ns2/svc2:p80 has no local endpoints\" -m addrtype "
           "--dst-type LOCAL -m tcp --dport 3001 -j DROP\n",
           filter_tail,
           "-A KUBE-NODEPORTS -p tcp -m comment --comment \"ns2/svc2:p80 health check node port\" -m tcp --dport 30000 "
           "-j ACCEPT\n"
           "-A KUBE-PROXY-FIREWALL -d 5.6.7.8/32 -p tcp -m comment --comment \"ns5/svc5:p80 traffic not accepted by "
           "KUBE-FW-NUKIZ6OKUXPJNT4C\" -m tcp --dport 80 -j DROP\n"
           "-A KUBE-SERVICES -d 172.30.0.46/32 -p tcp -m comment --comment \"ns6/svc6:p80 has no endpoints\" -m tcp "
           "--dport 80 -j REJECT --reject-with icmp-port-unreachable\n"
           "COMMIT\n"
           "*nat\n"
           ":KUBE-EXT-4SW47YFZTEDKD3PK - [0:0]\n"
           ":KUBE-EXT-GNZBNJ2PO5MGZ6GT - [0:0]\n"
           ":KUBE-EXT-NUKIZ6OKUXPJNT4C - [0:0]\n"
           ":KUBE-EXT-X27LE4BHSL4DOUIK - [0:0]\n"
           ":KUBE-FW-NUKIZ6OKUXPJNT4C - [0:0]\n"
           ":KUBE-MARK-MASQ - [0:0]\n"
           ":KUBE-NODEPORTS - [0:0]\n"
           ":KUBE-POSTROUTING - [0:0]\n"
           ":KUBE-PROXY-CANARY - [0:0]\n"
           ":KUBE-SEP-C6EBXVWJJZMIWKLZ - [0:0]\n"
           ":KUBE-SEP-I77PXRDZVX7PMWMN - [0:0]\n"
           ":KUBE-SEP-OYPFS5VJICHGATKP - [0:0]\n"
           ":KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]\n"
           ":KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]\n"
           ":KUBE-SEP-UKSFD7AGPMPPLUHC - [0:0]\n"
           ":KUBE-SERVICES - [0:0]\n"
           ":KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]\n"
           ":KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]\n"
           ":KUBE-SVC-NUKIZ6OKUXPJNT4C - [0:0]\n"
           ":KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]\n"
           ":KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]\n",
           nat_builtin_jumps);
  char *p = want + strlen(want);
  snprintf(p, sizeof want - (size_t)(p - want), "%s%s",
           "-A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment \"masquerade traffic for ns4/svc4:p80 external "
           "destinations\" -j KUBE-MARK-MASQ\n"
           "-A KUBE-EXT-4SW47YFZTEDKD3PK -j KUBE-SVC-4SW47YFZTEDKD3PK\n"
           "-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -s 10.0.0.0/8 -m comment --comment \"pod traffic for ns2/svc2:p80 external "
           "destinations\" -j KUBE-SVC-GNZBNJ2PO5MGZ6GT\n"
           "-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment \"masquerade LOCAL traffic for ns2/svc2:p80 external "
           "destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ\n"
           "-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment \"route LOCAL traffic for ns2/svc2:p80 external "
           "destinations\" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT\n"
           "-A KUBE-EXT-NUKIZ6OKUXPJNT4C -m comment --comment \"masquerade traffic for ns5/svc5:p80 external "
           "destinations\" -j KUBE-MARK-MASQ\n"
           "-A KUBE-EXT-NUKIZ6OKUXPJNT4C -j KUBE-SVC-NUKIZ6OKUXPJNT4C\n"
           "-A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment \"masquerade traffic for ns3/svc3:p80 external "
           "destinations\" -j KUBE-MARK-MASQ\n"
           "-A KUBE-EXT-X27LE4BHSL4DOUIK -j KUBE-SVC-X27LE4BHSL4DOUIK\n"
           "-A KUBE-FW-NUKIZ6OKUXPJNT4C -s 203.0.113.0/25 -m comment --comment \"ns5/svc5:p80 loadbalancer IP\" -j "
           "KUBE-EXT-NUKIZ6OKUXPJNT4C\n"
           "-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment \"other traffic to ns5/svc5:p80 will be dropped by "
           "KUBE-PROXY-FIREWALL\"\n"
           "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"
           "-A KUBE-NODEPORTS -p tcp -m comment --comment \"ns2/svc2:p80\" -m tcp --dport 3001 -j "
           "KUBE-EXT-GNZBNJ2PO5MGZ6GT\n"
           "-A KUBE-NODEPORTS -p tcp -m comment --comment \"ns3/svc3:p80\" -m tcp --dport 3003 -j "
           "KUBE-EXT-X27LE4BHSL4DOUIK\n"
           "-A KUBE-NODEPORTS -p tcp -m comment --comment \"ns5/svc5:p80\" -m tcp --dport 3002 -j "
           "KUBE-EXT-NUKIZ6OKUXPJNT4C\n",
           nat_masq);
  p = want + strlen(want);
  snprintf(p, sizeof want - (size_t)(p - want), "%s",
           "-A KUBE-SEP-C6EBXVWJJZMIWKLZ -s 10.180.0.5/32 -m comment --comment \"ns4/svc4:p80\" -j KUBE-MARK-MASQ\n"
           "-A KUBE-SEP-C6EBXVWJJZMIWKLZ -p tcp -m comment --comment \"ns4/svc4:p80\" -m tcp -j DNAT --to-destination "
           "10.180.0.5:80\n"
           "-A KUBE-SEP-I77PXRDZVX7PMWMN -s 10.180.0.3/32 -m comment --comment \"ns5/svc5:p80\" -j KUBE-MARK-MASQ\n"
           "-A KUBE-SEP-I77PXRDZVX7PMWMN -p tcp -m comment --comment \"ns5/svc5:p80\" -m recent --set --name "
           "KUBE-SEP-I77PXRDZVX7PMWMN --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.180.0.3:80\n"
           "-A KUBE-SEP-OYPFS5VJICHGATKP -s 10.180.0.3/32 -m comment --comment \"ns3/svc3:p80\" -j KUBE-MARK-MASQ\n"
           "-A KUBE-SEP-OYPFS5VJICHGATKP -p tcp -m comment --comment \"ns3/svc3:p80\" -m tcp -j DNAT --to-destination "
           "10.180.0.3:80\n"
           "-A KUBE-SEP-RS4RBKLTHTF2IUXJ -s 10.180.0.2/32 -m comment --comment \"ns2/svc2:p80\" -j KUBE-MARK-MASQ\n"
           "-A KUBE-SEP-RS4RBKLTHTF2IUXJ -p tcp -m comment --comment \"ns2/svc2:p80\" -m tcp -j DNAT --to-destination "
           "10.180.0.2:80\n"
           "-A KUBE-SEP-SXIVWICOYRO3J4NJ -s 10.180.0.1/32 -m comment --comment \"ns1/svc1:p80\" -j KUBE-MARK-MASQ\n"
           "-A KUBE-SEP-SXIVWICOYRO3J4NJ -p tcp -m comment --comment \"ns1/svc1:p80\" -m tcp -j DNAT --to-destination "
           "10.180.0.1:80\n"
           "-A KUBE-SEP-UKSFD7AGPMPPLUHC -s 10.180.0.4/32 -m comment --comment \"ns4/svc4:p80\" -j KUBE-MARK-MASQ\n"
           "-A KUBE-SEP-UKSFD7AGPMPPLUHC -p tcp -m comment --comment \"ns4/svc4:p80\" -m tcp -j DNAT --to-destination "
           "10.180.0.4:80\n"
           "-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp --dport "
           "80 -j KUBE-SVC-XPGD46QRK7WJZT7O\n"
           "-A KUBE-SERVICES -d 172.30.0.42/32 -p tcp -m comment --comment \"ns2/svc2:p80 cluster IP\" -m tcp --dport "
           "80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT\n"
           "-A KUBE-SERVICES -d 192.168.99.22/32 -p tcp -m comment --comment \"ns2/svc2:p80 external IP\" -m tcp "
           "--dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT\n"
           "-A KUBE-SERVICES -d 1.2.3.4/32 -p tcp -m comment --comment \"ns2/svc2:p80 loadbalancer IP\" -m tcp --dport "
           "80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT\n"
           "-A KUBE-SERVICES -d 172.30.0.43/32 -p tcp -m comment --comment \"ns3/svc3:p80 cluster IP\" -m tcp --dport "
           "80 -j KUBE-SVC-X27LE4BHSL4DOUIK\n"
           "-A KUBE-SERVICES -d 172.30.0.44/32 -p tcp -m comment --comment \"ns4/svc4:p80 cluster IP\" -m tcp --dport "
           "80 -j KUBE-SVC-4SW47YFZTEDKD3PK\n"
           "-A KUBE-SERVICES -d 192.168.99.33/32 -p tcp -m comment --comment \"ns4/svc4:p80 external IP\" -m tcp "
           "--dport 80 -j KUBE-EXT-4SW47YFZTEDKD3PK\n"
           "-A KUBE-SERVICES -d 172.30.0.45/32 -p tcp -m comment --comment \"ns5/svc5:p80 cluster IP\" -m tcp --dport "
           "80 -j KUBE-SVC-NUKIZ6OKUXPJNT4C\n"
           "-A KUBE-SERVICES -d 5.6.7.8/32 -p tcp -m comment --comment \"ns5/svc5:p80 loadbalancer IP\" -m tcp --dport "
           "80 -j KUBE-FW-NUKIZ6OKUXPJNT4C\n"
           "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in "
           "this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n"
           "-A KUBE-SVC-4SW47YFZTEDKD3PK ! -s 10.0.0.0/8 -d 172.30.0.44/32 -p tcp -m comment --comment \"ns4/svc4:p80 "
           "cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n"
           "-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment \"ns4/svc4:p80 -> 10.180.0.4:80\" -m statistic --mode "
           "random --probability 0.50000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC\n"
           "-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment \"ns4/svc4:p80 -> 10.180.0.5:80\" -j "
           "KUBE-SEP-C6EBXVWJJZMIWKLZ\n"
           "-A KUBE-SVC-GNZBNJ2PO5MGZ6GT ! -s 10.0.0.0/8 -d 172.30.0.42/32 -p tcp -m comment --comment \"ns2/svc2:p80 "
           "cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n"
           "-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment \"ns2/svc2:p80 -> 10.180.0.2:80\" -j "
           "KUBE-SEP-RS4RBKLTHTF2IUXJ\n"
           "-A KUBE-SVC-NUKIZ6OKUXPJNT4C ! -s 10.0.0.0/8 -d 172.30.0.45/32 -p tcp -m comment --comment \"ns5/svc5:p80 "
           "cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n"
           "-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment \"ns5/svc5:p80 -> 10.180.0.3:80\" -m recent --rcheck "
           "--seconds 10800 --reap --name KUBE-SEP-I77PXRDZVX7PMWMN --mask 255.255.255.255 --rsource -j "
           "KUBE-SEP-I77PXRDZVX7PMWMN\n"
           "-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment \"ns5/svc5:p80 -> 10.180.0.3:80\" -j "
           "KUBE-SEP-I77PXRDZVX7PMWMN\n"
           "-A KUBE-SVC-X27LE4BHSL4DOUIK ! -s 10.0.0.0/8 -d 172.30.0.43/32 -p tcp -m comment --comment \"ns3/svc3:p80 "
           "cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n"
           "-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment \"ns3/svc3:p80 -> 10.180.0.3:80\" -j "
           "KUBE-SEP-OYPFS5VJICHGATKP\n"
           "-A KUBE-SVC-XPGD46QRK7WJZT7O ! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m comment --comment \"ns1/svc1:p80 "
           "cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n"
           "-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -j "
           "KUBE-SEP-SXIVWICOYRO3J4NJ\n"
           "COMMIT\n");
  kpt_assert_text(want, got);
  assert_int_equal(st.services, 6);
  assert_int_equal(st.endpoints, 6);
  assert_int_equal(st.no_local_external, 1);
  assert_false(st.large_cluster);
  free(got);
  kp_model_free(m);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_overall_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
