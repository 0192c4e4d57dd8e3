/* Shared by the kube-proxy unit tests: objects from JSON text, and a
 * line-by-line comparison of golden text that names the first
 * difference. */
#ifndef KP_TEST_UTIL_H
#define KP_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "model.h"
#include "proxier.h"
#include "ruleset.h"

static inline json_t *kpt_json(const char *text)
{
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) fail_msg("bad test JSON at line %d: %s\n%s", e.line, e.text, text);
  return v;
}

static inline void kpt_add_service(struct kp_model *m, const char *text)
{
  json_t *v = kpt_json(text);
  assert_true(kp_model_set_service(m, v));
  json_decref(v);
}

static inline void kpt_add_slice(struct kp_model *m, const char *text)
{
  json_t *v = kpt_json(text);
  assert_true(kp_model_set_slice(m, v));
  json_decref(v);
}

/* Fails with the first differing line of want and got. */
static inline void kpt_assert_text(const char *want, const char *got)
{
  if (!strcmp(want, got)) return;
  const char *w = want, *g = got;
  int line = 1;
  while (*w && *g) {
    const char *we = strchr(w, '\n'), *ge = strchr(g, '\n');
    size_t wl = we ? (size_t)(we - w) : strlen(w), gl = ge ? (size_t)(ge - g) : strlen(g);
    if (wl != gl || memcmp(w, g, wl)) {
      print_error("line %d differs:\n want: %.*s\n  got: %.*s\n", line, (int)wl, w, (int)gl, g);
      break;
    }
    w += wl + (we ? 1 : 0);
    g += gl + (ge ? 1 : 0);
    line++;
  }
  print_error("--- want:\n%s--- got:\n%s", want, got);
  fail();
}

#define HOST "test-hostname"
#define SVC(ns, name, spec) "{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name "\"},\"spec\":" spec "}"
#define SLICE(ns, svc, body)                                                                                           \
  "{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" svc "-1\",\"labels\":{\"kubernetes.io/service-name\":\"" svc   \
  "\"}},\"addressType\":\"IPv4\"," body "}"
#define P80 "\"ports\":[{\"name\":\"p80\",\"port\":80,\"protocol\":\"TCP\"}]"

/* upstream's fake proxier: pod CIDR 10.0.0.0/8, node IP 192.168.0.2,
 * localhost NodePorts on, no --random-fully, no nfacct */
static inline void kpt_upstream_config(struct kp_proxier_config *c)
{
  kp_proxier_config_defaults(c);
  c->has_cluster_cidr = true;
  kp_cidr_parse("10.0.0.0/8", &c->cluster_cidr, &c->cluster_prefix);
  c->random_fully = false;
  kp_ip_parse("192.168.0.2", &c->node_ip);
}

/* The Services and EndpointSlices of upstream's TestOverallIPTablesRules. */
static inline struct kp_model *kpt_overall_model(void)
{
  struct kp_model *m = kp_model_new(HOST);
  /* ClusterIP */
  kpt_add_service(m, SVC("ns1", "svc1", "{\"clusterIP\":\"172.30.0.41\"," P80 "}"));
  /* LoadBalancer, externalTrafficPolicy Local, external IP, health check */
  kpt_add_service(m,
                  "{\"metadata\":{\"namespace\":\"ns2\",\"name\":\"svc2\"},\"spec\":{\"type\":\"LoadBalancer\","
                  "\"externalTrafficPolicy\":\"Local\",\"clusterIP\":\"172.30.0.42\",\"ports\":[{\"name\":\"p80\","
                  "\"port\":80,\"protocol\":\"TCP\",\"nodePort\":3001}],\"externalIPs\":[\"192.168.99.22\"],"
                  "\"healthCheckNodePort\":30000},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"1.2.3.4\"}]}}}");
  /* NodePort */
  kpt_add_service(m, SVC("ns3", "svc3",
                         "{\"type\":\"NodePort\",\"clusterIP\":\"172.30.0.43\",\"ports\":[{\"name\":\"p80\","
                         "\"port\":80,\"protocol\":\"TCP\",\"nodePort\":3003}]}"));
  /* external IP */
  kpt_add_service(m, SVC("ns4", "svc4",
                         "{\"type\":\"NodePort\",\"clusterIP\":\"172.30.0.44\",\"externalIPs\":"
                         "[\"192.168.99.33\"]," P80 "}"));
  /* LoadBalancer, Cluster policy, source ranges, session affinity */
  kpt_add_service(m, "{\"metadata\":{\"namespace\":\"ns5\",\"name\":\"svc5\"},\"spec\":{\"type\":\"LoadBalancer\","
                     "\"externalTrafficPolicy\":\"Cluster\",\"clusterIP\":\"172.30.0.45\",\"ports\":[{\"name\":\"p80\","
                     "\"port\":80,\"protocol\":\"TCP\",\"nodePort\":3002}],\"healthCheckNodePort\":30000,"
                     "\"loadBalancerSourceRanges\":[\" 203.0.113.0/25\"],\"sessionAffinity\":\"ClientIP\","
                     "\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":10800}}},"
                     "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"5.6.7.8\"}]}}}");
  /* no endpoints */
  kpt_add_service(m, SVC("ns6", "svc6", "{\"type\":\"ClusterIP\",\"clusterIP\":\"172.30.0.46\"," P80 "}"));
  kpt_add_slice(m, SLICE("ns1", "svc1", "\"endpoints\":[{\"addresses\":[\"10.180.0.1\"]}]," P80));
  /* not on this node: ignored for the Local policy */
  kpt_add_slice(m, SLICE("ns2", "svc2", "\"endpoints\":[{\"addresses\":[\"10.180.0.2\"]}]," P80));
  kpt_add_slice(m, SLICE("ns3", "svc3", "\"endpoints\":[{\"addresses\":[\"10.180.0.3\"]}]," P80));
  kpt_add_slice(m, SLICE("ns4", "svc4",
                         "\"endpoints\":[{\"addresses\":[\"10.180.0.4\"]},{\"addresses\":[\"10.180.0.5\"],"
                         "\"nodeName\":\"test-node\"}]," P80));
  kpt_add_slice(m, SLICE("ns5", "svc5", "\"endpoints\":[{\"addresses\":[\"10.180.0.3\"]}]," P80));

  return m;
}

#endif
