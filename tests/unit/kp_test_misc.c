/* kube-proxy's smaller parts: which UDP conntrack entries go stale when
 * endpoints move (upstream's CleanStaleEntries cases), the
 * KubeProxyConfiguration file with upstream's validation messages, and
 * /healthz with the node's eligibility. */
#include "kp_test_util.h"

#include "app.h"
#include "conntrack.h"
#include "healthcheck.h"
#include "kube/timeutil.h"
#include "kube/yaml.h"

static uint32_t ip(const char *s)
{
  uint32_t v = 0;
  assert_true(kp_ip_parse(s, &v));
  return v;
}

static void udp_service(struct kp_model *m, const char *name, const char *cip, const char *eps)
{
  char svc[512], slice[1024];
  snprintf(svc, sizeof svc,
           "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"%s\"},\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"%s\","
           "\"externalIPs\":[\"192.168.99.1\"],\"ports\":[{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\","
           "\"nodePort\":30053}]}}",
           name, cip);
  kpt_add_service(m, svc);
  snprintf(
      slice, sizeof slice,
      "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"%s-1\",\"labels\":{\"kubernetes.io/service-name\":\"%s\"}},"
      "\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"dns\",\"port\":5353,\"protocol\":\"UDP\"}],\"endpoints\":[%s]}",
      name, name, eps);
  kpt_add_slice(m, slice);
}

static void test_stale_udp_entries(void **state)
{
  (void)state;
  struct kp_model *m = kp_model_new(HOST);
  udp_service(m, "a", "10.96.0.20", "{\"addresses\":[\"10.1.1.1\"]},{\"addresses\":[\"10.1.1.2\"]}");
  udp_service(m, "b", "10.96.0.21", "");
  udp_service(m, "gone", "10.96.0.22", "{\"addresses\":[\"10.1.1.9\"]}");
  kpt_add_service(m, SVC("ns", "tcp", "{\"clusterIP\":\"10.96.0.23\"," P80 "}"));
  kpt_add_slice(m, SLICE("ns", "tcp", P80 ",\"endpoints\":[{\"addresses\":[\"10.1.1.7\"]}]"));
  struct kp_ct_snapshot *old = kp_ct_snapshot_build(m);
  struct kp_ct_plan plan = {0};
  kp_ct_plan_diff(NULL, old, &plan);
  assert_int_equal(plan.n, 0); /* the first sync deletes nothing */

  /* a loses 10.1.1.1; b gets its first endpoint; gone is deleted; the TCP
   * service loses its endpoint (TCP is never cleaned) */
  udp_service(m, "a", "10.96.0.20", "{\"addresses\":[\"10.1.1.2\"]}");
  udp_service(m, "b", "10.96.0.21", "{\"addresses\":[\"10.1.1.5\"]}");
  json_t *g = kpt_json(SVC("ns", "gone", "{}"));
  kp_model_delete_service(m, g);
  json_decref(g);
  kpt_add_slice(m, SLICE("ns", "tcp", P80 ",\"endpoints\":[]"));
  struct kp_ct_snapshot *new = kp_ct_snapshot_build(m);
  kp_ct_plan_diff(old, new, &plan);
  /* flows of a through 10.1.1.1, by every VIP and the NodePort */
  assert_true(kp_ct_plan_matches(&plan, ip("10.96.0.20"), 53, ip("10.1.1.1")));
  assert_true(kp_ct_plan_matches(&plan, ip("192.168.99.1"), 53, ip("10.1.1.1")));
  assert_true(kp_ct_plan_matches(&plan, ip("192.168.0.2"), 30053, ip("10.1.1.1")));
  assert_false(kp_ct_plan_matches(&plan, ip("10.96.0.20"), 53, ip("10.1.1.2")));
  /* b was rejecting: every flow to it goes */
  assert_true(kp_ct_plan_matches(&plan, ip("10.96.0.21"), 53, ip("10.96.0.21")));
  /* gone: every flow to it */
  assert_true(kp_ct_plan_matches(&plan, ip("10.96.0.22"), 53, ip("10.1.1.9")));
  /* TCP untouched, unrelated UDP untouched */
  assert_false(kp_ct_plan_matches(&plan, ip("10.96.0.23"), 80, ip("10.1.1.7")));
  assert_false(kp_ct_plan_matches(&plan, ip("10.96.0.99"), 53, ip("10.1.1.1")));
  kp_ct_plan_free(&plan);
  kp_ct_snapshot_free(old);
  kp_ct_snapshot_free(new);
  kp_model_free(m);
}

static json_t *yaml(const char *text)
{
  char err[256];
  json_t *v = kyaml_load(text, strlen(text), err, sizeof err);
  if (!v) fail_msg("%s", err);
  return v;
}

static void test_config_file(void **state)
{
  (void)state;
  struct kp_options o;
  kp_options_defaults(&o);
  char err[512] = "";
  json_t *doc =
      yaml("apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
           "kind: KubeProxyConfiguration\n"
           "clientConnection: {kubeconfig: /etc/kube/proxy.conf, qps: 20, burst: 40}\n"
           "hostnameOverride: node-7\n"
           "mode: iptables\n"
           "clusterCIDR: 10.244.0.0/16\n"
           "healthzBindAddress: 0.0.0.0:10256\n"
           "nodePortAddresses: [192.168.0.0/24, 127.0.0.0/8]\n"
           "iptables: {masqueradeAll: true, masqueradeBit: 15, syncPeriod: 1m, minSyncPeriod: 2s, localhostNodePorts: "
           "false}\n"
           "dns: {clusterDomain: corp.local, upstreamServers: [192.0.2.53, '192.0.2.54:5353'], port: 5353}\n");
  assert_int_equal(kp_options_from_config(&o, doc, err, sizeof err), 0);
  assert_string_equal(o.kubeconfig, "/etc/kube/proxy.conf");
  assert_string_equal(o.hostname_override, "node-7");
  assert_string_equal(o.cluster_cidr, "10.244.0.0/16");
  assert_string_equal(o.nodeport_addresses, "192.168.0.0/24,127.0.0.0/8");
  assert_true(o.masquerade_all);
  assert_false(o.localhost_nodeports);
  assert_int_equal(o.masquerade_bit, 15);
  assert_int_equal(o.sync_period_ms, 60000);
  assert_int_equal(o.min_sync_period_ms, 2000);
  assert_int_equal(o.kube_api_burst, 40);
  assert_string_equal(o.cluster_domain, "corp.local");
  assert_string_equal(o.dns_upstream, "192.0.2.53,192.0.2.54:5353");
  assert_int_equal(o.dns_port, 5353);
  assert_int_equal(kp_options_validate(&o, err, sizeof err), 0);
  json_decref(doc);
}

static void test_config_errors(void **state)
{
  (void)state;
  struct kp_options o;
  char err[512];
  kp_options_defaults(&o);
  json_t *doc = yaml("apiVersion: v1\nkind: ConfigMap\n");
  assert_int_equal(kp_options_from_config(&o, doc, err, sizeof err), -1);
  assert_string_equal(err, "no kind \"ConfigMap\" is registered for version \"v1\"");
  json_decref(doc);
  doc = yaml(
      "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\niptables: {syncPeriod: soon}\n");
  assert_int_equal(kp_options_from_config(&o, doc, err, sizeof err), -1);
  assert_string_equal(err, "invalid value for iptables.syncPeriod: time: invalid duration \"soon\"");
  json_decref(doc);
  kp_options_defaults(&o);
  o.proxy_mode = "ipvs";
  assert_int_equal(kp_options_validate(&o, err, sizeof err), -1);
  assert_string_equal(err, "KubeProxyConfiguration.mode: Unsupported value: \"ipvs\": supported values: \"iptables\"");
  kp_options_defaults(&o);
  o.cluster_cidr = "10.244.0.0/33";
  assert_int_equal(kp_options_validate(&o, err, sizeof err), -1);
  assert_non_null(strstr(err, "clusterCIDR: Invalid value: \"10.244.0.0/33\""));
  kp_options_defaults(&o);
  o.masquerade_bit = 32;
  assert_int_equal(kp_options_validate(&o, err, sizeof err), -1);
  assert_non_null(strstr(err, "masqueradeBit: Invalid value: 32: must be within the range [0, 31]"));
}

/* /healthz: upstream's JSON; 503 while a change waits too long, and while
 * our Node is being deleted or gone (nodeEligible false), 200 again when
 * it is back. */
static void test_healthz_node(void **state)
{
  (void)state;
  struct kp_health h;
  kp_health_init(&h, 1000);
  char body[256];
  int64_t t0 = 1700000000000000; /* 2023-11-14 22:13:20 UTC */
  h.last_updated_us = t0;
  assert_int_equal(kp_health_body(&h, t0 + 500000, body, sizeof body), 200);
  assert_string_equal(body, "{\"lastUpdated\": \"2023-11-14 22:13:20.5 +0000 UTC\",\"currentTime\": \"2023-11-14 "
                            "22:13:20.5 +0000 UTC\", \"nodeEligible\": true}");
  json_t *node = kpt_json("{\"metadata\":{\"name\":\"node-1\",\"labels\":{\"topology.kubernetes.io/zone\":\"a\"}}}");
  kp_health_node(&h, node);
  assert_int_equal(kp_health_body(&h, t0, body, sizeof body), 200);
  json_object_set_new(json_object_get(node, "metadata"), "deletionTimestamp", json_string("2023-11-14T22:13:00Z"));
  kp_health_node(&h, node);
  assert_int_equal(kp_health_body(&h, t0 + 2000000, body, sizeof body), 503);
  assert_string_equal(body, "{\"lastUpdated\": \"2023-11-14 22:13:20 +0000 UTC\",\"currentTime\": \"2023-11-14 "
                            "22:13:22 +0000 UTC\", \"nodeEligible\": false}");
  kp_health_node(&h, NULL); /* deleted */
  assert_int_equal(kp_health_body(&h, t0, body, sizeof body), 503);
  json_object_del(json_object_get(node, "metadata"), "deletionTimestamp");
  kp_health_node(&h, node); /* created again */
  assert_int_equal(kp_health_body(&h, t0, body, sizeof body), 200);
  json_decref(node);
  /* a change waiting longer than the timeout */
  h.oldest_queued_us = t0;
  assert_int_equal(kp_health_body(&h, t0 + 999000, body, sizeof body), 200);
  assert_int_equal(kp_health_body(&h, t0 + 1000000, body, sizeof body), 503);
  assert_non_null(strstr(body, "\"nodeEligible\": true"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stale_udp_entries),
      cmocka_unit_test(test_config_file),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_healthz_node),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
