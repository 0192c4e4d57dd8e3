/*
 * kl_test_dns.c - a pod's resolv.conf and /etc/hosts: every dnsPolicy,
 * the hostNetwork rule, dnsConfig merging, the limits and their event
 * text, a missing cluster DNS, hostname/subdomain/hostAliases, and
 * resolv.conf parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dns.h"
#include "kube/json.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad JSON in test: %s: %s", e.text, s);
  return v;
}

static const char host_resolv[] = "# generated\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
                                  "search corp.example lab.example\noptions edns0 ndots:2\n";

static char *joined(const json_t *arr)
{
  static char buf[4096];
  buf[0] = 0;
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v) {
    strcat(buf, i ? " " : "");
    strcat(buf, json_string_value(v));
  }
  return buf;
}

static void check(const char *pod_json, const char *servers, const char *searches, const char *options, bool missing)
{
  json_t *pod = J(pod_json), *dns = J("[\"10.96.0.10\"]"), *none = json_array();
  struct kl_dns_notes n;
  json_t *cfg = kl_dns_config(pod, missing ? none : dns, "cluster.local", host_resolv, &n);
  assert_string_equal(joined(kj_get(cfg, "servers")), servers);
  assert_string_equal(joined(kj_get(cfg, "searches")), searches);
  assert_string_equal(joined(kj_get(cfg, "options")), options);
  assert_int_equal(n.missing_cluster_dns,
                   missing && strstr(pod_json, "None") == NULL && strstr(pod_json, "\"Default\"") == NULL);
  json_decref(cfg);
  json_decref(pod);
  json_decref(dns);
  json_decref(none);
}

static void test_policies(void **state)
{
  const char *ns = "\"metadata\":{\"name\":\"p\",\"namespace\":\"ns1\"}";
  char p[1024];
  snprintf(p, sizeof p, "{%s,\"spec\":{}}", ns);
  check(p, "10.96.0.10", "ns1.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example", "ndots:5",
        false);
  snprintf(p, sizeof p, "{%s,\"spec\":{\"hostNetwork\":true}}", ns); /* ClusterFirst + hostNetwork = Default */
  check(p, "192.0.2.53 192.0.2.54", "corp.example lab.example", "edns0 ndots:2", false);
  snprintf(p, sizeof p, "{%s,\"spec\":{\"hostNetwork\":true,\"dnsPolicy\":\"ClusterFirstWithHostNet\"}}", ns);
  check(p, "10.96.0.10", "ns1.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example", "ndots:5",
        false);
  snprintf(p, sizeof p, "{%s,\"spec\":{\"dnsPolicy\":\"Default\"}}", ns);
  check(p, "192.0.2.53 192.0.2.54", "corp.example lab.example", "edns0 ndots:2", false);
  snprintf(p, sizeof p,
           "{%s,\"spec\":{\"dnsPolicy\":\"None\",\"dnsConfig\":{\"nameservers\":[\"1.2.3.4\"],\"searches\":[\"a.b\"],"
           "\"options\":[{\"name\":\"ndots\",\"value\":\"1\"},{\"name\":\"rotate\"}]}}}",
           ns);
  check(p, "1.2.3.4", "a.b", "ndots:1 rotate", false);
  /* dnsConfig merged onto ClusterFirst: appended, options by name */
  snprintf(p, sizeof p,
           "{%s,\"spec\":{\"dnsConfig\":{\"nameservers\":[\"10.96.0.10\",\"9.9.9.9\"],\"searches\":[\"x.y\"],"
           "\"options\":[{\"name\":\"ndots\",\"value\":\"2\"},{\"name\":\"edns0\"}]}}}",
           ns);
  check(p, "10.96.0.10 9.9.9.9", "ns1.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example x.y",
        "ndots:2 edns0", false);
  /* no cluster DNS: ClusterFirst falls back to Default and says so */
  snprintf(p, sizeof p, "{%s,\"spec\":{}}", ns);
  check(p, "192.0.2.53 192.0.2.54", "corp.example lab.example", "edns0 ndots:2", true);
}

static void test_limits(void **state)
{
  json_t *pod = J("{\"metadata\":{\"namespace\":\"n\"},\"spec\":{\"dnsPolicy\":\"None\",\"dnsConfig\":{"
                  "\"nameservers\":[\"1.1.1.1\",\"2.2.2.2\",\"3.3.3.3\",\"4.4.4.4\"]}}}");
  struct kl_dns_notes n;
  json_t *cfg = kl_dns_config(pod, NULL, "", NULL, &n);
  assert_int_equal(json_array_size(kj_get(cfg, "servers")), 3);
  assert_string_equal(n.limit_message, "Nameserver limits were exceeded, some nameservers have been omitted, the "
                                       "applied nameserver line is: 1.1.1.1 2.2.2.2 3.3.3.3");
  json_decref(cfg);
  json_decref(pod);
}

static void test_hosts(void **state)
{
  json_t *pod = J("{\"metadata\":{\"name\":\"web-0\",\"namespace\":\"ns1\"},\"spec\":{\"hostname\":\"web\","
                  "\"subdomain\":\"svc\",\"hostAliases\":[{\"ip\":\"1.2.3.4\",\"hostnames\":[\"foo\",\"bar\"]}]}}");
  char *h = kl_hosts_file(pod, "10.244.1.5", "cluster.local", NULL);
  assert_non_null(strstr(h, "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"));
  assert_non_null(strstr(h, "\n10.244.1.5\tweb.svc.ns1.svc.cluster.local\tweb\n"));
  assert_non_null(strstr(h, "\n# Entries added by HostAliases.\n1.2.3.4\tfoo\tbar\n"));
  free(h);
  json_decref(pod);
  pod = J("{\"metadata\":{\"name\":\"hn\"},\"spec\":{\"hostNetwork\":true}}");
  h = kl_hosts_file(pod, "192.0.2.10", "cluster.local", "127.0.0.1 localhost\n192.0.2.10 node1");
  assert_string_equal(h, "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.0.2.10 node1\n");
  free(h);
  json_decref(pod);
  char name[64];
  pod = J("{\"metadata\":{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbb\"}}");
  kl_pod_hostname(pod, name, sizeof name);
  assert_string_equal(
      name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); /* cut at 63, no trailing '-' */
  json_decref(pod);
}

static void test_parse(void **state)
{
  json_t *s, *se, *o;
  kl_parse_resolv_conf("domain a.b\nsearch c.d e.f # comment\nnameserver 1.1.1.1 extra\n;x\noptions ndots:3 rotate\n",
                       &s, &se, &o);
  assert_string_equal(joined(s), "1.1.1.1");
  assert_string_equal(joined(se), "c.d e.f");
  assert_string_equal(joined(o), "ndots:3 rotate");
  json_decref(s);
  json_decref(se);
  json_decref(o);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_policies),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_hosts),
      cmocka_unit_test(test_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
