/* Chain names against names seen on real clusters and in upstream's own
 * tests: the same Service port and endpoint must give the same chain. */
#include "kp_test_util.h"

#include "chainname.h"

static void check_svc(const char *prefix, const char *spn, const char *proto, const char *want)
{
  char got[KP_CHAIN_NAME_MAX];
  kp_chain_name(got, prefix, spn, proto);
  assert_string_equal(got, want);
}

static void check_sep(const char *spn, const char *proto, const char *ep, const char *want)
{
  char got[KP_CHAIN_NAME_MAX];
  kp_endpoint_chain_name(got, spn, proto, ep);
  assert_string_equal(got, want);
}

static void test_real_cluster_names(void **state)
{
  (void)state;
  /* iptables-save of kubeadm/kind clusters */
  check_svc(KP_PREFIX_SVC, "default/kubernetes:https", "tcp", "KUBE-SVC-NPX46M4PTMTKRN6Y");
  check_svc(KP_PREFIX_SVC, "kube-system/kube-dns:dns", "udp", "KUBE-SVC-TCOU7JCQXEZGVUNU");
  check_svc(KP_PREFIX_SVC, "kube-system/kube-dns:dns-tcp", "tcp", "KUBE-SVC-ERIFXISQEP7F7OF4");
  check_svc(KP_PREFIX_SVC, "kube-system/kube-dns:metrics", "tcp", "KUBE-SVC-JD5MR3NA4I4DYORP");
  check_sep("kube-system/kube-dns:dns", "udp", "10.244.0.2:53", "KUBE-SEP-YIL6JZP7A3QYXJU2");
  check_sep("kube-system/kube-dns:dns", "udp", "10.244.0.4:53", "KUBE-SEP-WXWGHGKZOCNYRYI7");
}

static void test_upstream_test_names(void **state)
{
  (void)state;
  /* pkg/proxy/iptables/proxier_test.go TestOverallIPTablesRules */
  check_svc(KP_PREFIX_SVC, "ns1/svc1:p80", "tcp", "KUBE-SVC-XPGD46QRK7WJZT7O");
  check_svc(KP_PREFIX_SVC, "ns2/svc2:p80", "tcp", "KUBE-SVC-GNZBNJ2PO5MGZ6GT");
  check_svc(KP_PREFIX_EXT, "ns2/svc2:p80", "tcp", "KUBE-EXT-GNZBNJ2PO5MGZ6GT");
  check_svc(KP_PREFIX_FW, "ns5/svc5:p80", "tcp", "KUBE-FW-NUKIZ6OKUXPJNT4C");
  check_sep("ns1/svc1:p80", "tcp", "10.180.0.1:80", "KUBE-SEP-SXIVWICOYRO3J4NJ");
  check_sep("ns4/svc4:p80", "tcp", "10.180.0.5:80", "KUBE-SEP-C6EBXVWJJZMIWKLZ");
  check_sep("ns5/svc5:p80", "tcp", "10.180.0.3:80", "KUBE-SEP-I77PXRDZVX7PMWMN");
  check_sep("ns3/svc3:p80", "tcp", "10.180.0.3:80", "KUBE-SEP-OYPFS5VJICHGATKP");
}

static void test_inputs_matter(void **state)
{
  (void)state;
  char a[KP_CHAIN_NAME_MAX], b[KP_CHAIN_NAME_MAX];
  kp_chain_name(a, KP_PREFIX_SVC, "ns1/svc1:p80", "tcp");
  kp_chain_name(b, KP_PREFIX_SVC, "ns1/svc1:p80", "udp");
  assert_string_not_equal(a, b);
  kp_chain_name(b, KP_PREFIX_SVC, "ns1/svc1", "tcp");
  assert_string_not_equal(a, b);
  assert_int_equal(strlen(a), strlen("KUBE-SVC-") + 16);
  assert_true(kp_is_service_chain("KUBE-SEP-SXIVWICOYRO3J4NJ"));
  assert_true(kp_is_service_chain("KUBE-FW-NUKIZ6OKUXPJNT4C"));
  assert_false(kp_is_service_chain("KUBE-SERVICES"));
  assert_false(kp_is_service_chain("KUBELET-MASQ"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_cluster_names),
      cmocka_unit_test(test_upstream_test_names),
      cmocka_unit_test(test_inputs_matter),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
