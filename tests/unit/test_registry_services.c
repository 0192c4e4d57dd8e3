/* Tests for the Service strategy (apiserver/registry/services.c,
 * serviceips.c): defaulting, ClusterIP and NodePort allocation through
 * the admit hook (no double allocation, release on delete and on type
 * change, requested values checked), validation, and the table cells. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kube/json.h>
#include <kube/status.h>

#include "apiserver.h"
#include "registry/reg_internal.h"
#include "registry/registry.h"
#include "registry_test_util.h"

/* A fake server: a /29 service range (usable .1-.6, all of them in the
 * dynamic band: ranges this small have no static one) and ten node ports. */
static int setup(void **state)
{
  struct apiserver *srv = calloc(1, sizeof(*srv));
  srv->cfg.service_cluster_ip_range = "10.0.0.0/29";
  srv->cfg.service_node_port_range = "30000-30009";
  assert_int_equal(svc_alloc_setup(srv), 0);
  *state = srv;
  return 0;
}

static int teardown(void **state)
{
  struct apiserver *srv = *state;
  svc_alloc_free(srv);
  free(srv);
  return 0;
}

/* Runs the create hooks as the request path does; returns the Status on
 * failure (new reference) or NULL with *out = the object to store. */
static json_t *create(struct apiserver *srv, const char *body, bool dry_run, json_t **out)
{
  json_t *obj = J(body);
  struct reg_request rq = {.srv = srv, .verb = "create", .namespace_ = "default", .dry_run = dry_run};
  reg_services.defaults(obj);
  reg_services.prepare_create(&rq, obj);
  json_t *st = reg_services.admit(&rq, obj, NULL);
  if (!st) {
    json_t *causes = json_array();
    reg_services.validate(&rq, obj, NULL, causes);
    if (json_array_size(causes)) fail_msg("unexpected validation failure: %s", kj_dumps(causes));
    json_decref(causes);
  }
  if (st || !out) json_decref(obj);
  else *out = obj;
  return st;
}

static json_t *update(struct apiserver *srv, const json_t *old, const char *patch_type, json_t **out)
{
  json_t *obj = json_deep_copy(old);
  kj_set_str(obj, "spec.type", patch_type);
  struct reg_request rq = {.srv = srv, .verb = "update", .namespace_ = "default"};
  reg_services.defaults(obj);
  reg_services.prepare_update(&rq, obj, old);
  json_t *st = reg_services.admit(&rq, obj, old);
  if (st) json_decref(obj);
  else *out = obj;
  return st;
}

static void delete (struct apiserver *srv, json_t *obj)
{
  struct reg_request rq = {.srv = srv, .verb = "delete", .namespace_ = "default"};
  reg_services.after_delete(&rq, obj);
  json_decref(obj);
}

#define SVC(name, spec) "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"default\"},\"spec\":" spec "}"

static void test_defaults(void **state)
{
  (void)state;
  json_t *obj = J(SVC("a", "{\"ports\":[{\"port\":80}]}"));
  reg_services.defaults(obj);
  assert_json(json_object_get(obj, "spec"),
              "{\"type\":\"ClusterIP\",\"sessionAffinity\":\"None\",\"ports\":[{\"port\":80,\"protocol\":\"TCP\","
              "\"targetPort\":80}],\"internalTrafficPolicy\":\"Cluster\",\"ipFamilies\":[\"IPv4\"],"
              "\"ipFamilyPolicy\":\"SingleStack\"}");
  json_decref(obj);

  obj = J(SVC("a", "{\"type\":\"LoadBalancer\",\"sessionAffinity\":\"ClientIP\",\"ports\":[{\"port\":53,\"protocol\":"
                   "\"UDP\",\"targetPort\":\"dns\"}]}"));
  reg_services.defaults(obj);
  assert_json(json_object_get(obj, "spec"),
              "{\"type\":\"LoadBalancer\",\"sessionAffinity\":\"ClientIP\",\"sessionAffinityConfig\":{\"clientIP\":"
              "{\"timeoutSeconds\":10800}},\"ports\":[{\"port\":53,\"protocol\":\"UDP\",\"targetPort\":\"dns\"}],"
              "\"internalTrafficPolicy\":\"Cluster\",\"ipFamilies\":[\"IPv4\"],\"ipFamilyPolicy\":\"SingleStack\","
              "\"externalTrafficPolicy\":\"Cluster\",\"allocateLoadBalancerNodePorts\":true}");
  json_decref(obj);

  obj = J(SVC("a", "{\"type\":\"ExternalName\",\"externalName\":\"example.com\"}"));
  reg_services.defaults(obj);
  assert_json(json_object_get(obj, "spec"),
              "{\"type\":\"ExternalName\",\"externalName\":\"example.com\",\"sessionAffinity\":\"None\"}");
  json_decref(obj);
}

static void test_cluster_ip_allocation(void **state)
{
  struct apiserver *srv = *state;
  json_t *svcs[6];
  char seen[8] = {0};
  for (int i = 0; i < 6; i++) {
    json_t *st = create(srv, SVC("s", "{\"ports\":[{\"port\":80}]}"), false, &svcs[i]);
    assert_null(st);
    const char *ip = kj_get_str(svcs[i], "spec.clusterIP");
    assert_non_null(ip);
    assert_string_equal(ip, kj_get_str(svcs[i], "spec.clusterIPs[0]"));
    int last = atoi(strrchr(ip, '.') + 1);
    /* never the network or broadcast address, never twice */
    assert_true(last >= 1 && last <= 6);
    assert_int_equal(seen[last], 0);
    seen[last] = 1;
  }
  /* the range is full */
  json_t *st = create(srv, SVC("full", "{\"ports\":[{\"port\":80}]}"), false, NULL);
  assert_non_null(st);
  assert_int_equal(kstatus_code(st), 422);
  json_decref(st);

  /* a requested address that is taken */
  st = create(srv, SVC("t", "{\"clusterIP\":\"10.0.0.3\",\"ports\":[{\"port\":80}]}"), false, NULL);
  assert_non_null(st);
  assert_string_equal(kj_get_str(st, "message"),
                      "Service \"t\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.0.0.3\"}: failed to "
                      "allocate IP 10.0.0.3: provided IP is already allocated");
  assert_string_equal(kj_get_str(st, "details.causes[0].field"), "spec.clusterIPs");
  json_decref(st);

  /* delete releases; the freed address can be requested again, once */
  json_t *victim = svcs[1];
  char ip[16];
  snprintf(ip, sizeof(ip), "%s", kj_get_str(victim, "spec.clusterIP"));
  delete (srv, victim);
  char body[256];
  snprintf(body, sizeof(body), SVC("again", "{\"clusterIP\":\"%s\",\"ports\":[{\"port\":80}]}"), ip);
  json_t *again;
  assert_null(create(srv, body, false, &again));
  st = create(srv, body, false, NULL);
  assert_non_null(st);
  json_decref(st);
  json_decref(again);
  for (int i = 0; i < 6; i++)
    if (i != 1) json_decref(svcs[i]);
}

/* Upstream's random scan with a static band: a /24 keeps its first 16
 * addresses and 100 ports their first 16 for values asked for by name;
 * automatic values come from anywhere in the rest, and from the static
 * band only once the rest is full. */
static void test_random_allocation_static_band(void **state)
{
  struct apiserver *srv = calloc(1, sizeof(*srv));
  srv->cfg.service_cluster_ip_range = "10.1.0.0/24";
  srv->cfg.service_node_port_range = "30000-30099";
  assert_int_equal(svc_alloc_setup(srv), 0);
  struct svc_alloc *a = svc_alloc_get(srv);
  uint32_t net, ip;
  reg_parse_ipv4("10.1.0.0", &net);
  int ascending = 0, prev = -1;
  char seen[256] = {0};
  for (int i = 0; i < 254 - 16; i++) {
    assert_int_equal(svc_alloc_ip(a, 0, &ip), 0);
    int off = (int)(ip - net);
    if (off <= 16 || off >= 255)
      fail_msg("allocation %d took %d from the static band before the dynamic one was full", i, off);
    assert_int_equal(seen[off], 0);
    seen[off] = 1;
    ascending += off == prev + 1;
    prev = off;
  }
  /* random, not in sequence */
  assert_true(ascending < 200);
  /* the dynamic band is full: the static one serves, then nothing */
  for (int i = 0; i < 16; i++) {
    assert_int_equal(svc_alloc_ip(a, 0, &ip), 0);
    assert_true(ip - net >= 1 && ip - net <= 16);
  }
  assert_int_equal(svc_alloc_ip(a, 0, &ip), -ENOSPC);

  int port, low = 0;
  char pseen[100] = {0};
  ascending = 0;
  prev = -1;
  for (int i = 0; i < 100; i++) {
    assert_int_equal(svc_alloc_port(a, 0, &port), 0);
    assert_true(port >= 30000 && port <= 30099);
    assert_int_equal(pseen[port - 30000], 0);
    pseen[port - 30000] = 1;
    if (port < 30016) {
      if (i < 84) fail_msg("port %d of the static band handed out as allocation %d", port, i);
      low++;
    }
    ascending += port == prev + 1;
    prev = port;
  }
  assert_int_equal(low, 16);
  assert_true(ascending < 80);
  assert_int_equal(svc_alloc_port(a, 0, &port), -ENOSPC);
  svc_alloc_free(srv);
  free(srv);
}

static void test_requested_ip(void **state)
{
  struct apiserver *srv = *state;
  json_t *st = create(srv, SVC("o", "{\"clusterIP\":\"10.1.0.5\",\"ports\":[{\"port\":80}]}"), false, NULL);
  assert_non_null(st);
  assert_string_equal(kj_get_str(st, "details.causes[0].message"),
                      "Invalid value: []string{\"10.1.0.5\"}: failed to allocate IP 10.1.0.5: the provided IP "
                      "(10.1.0.5) is not in the valid range. The range of valid IPs is 10.0.0.0/29");
  json_decref(st);
  /* broadcast is not usable */
  st = create(srv, SVC("b", "{\"clusterIP\":\"10.0.0.7\",\"ports\":[{\"port\":80}]}"), false, NULL);
  assert_non_null(st);
  json_decref(st);
  /* the first address may be asked for by name (the kubernetes Service) */
  json_t *k;
  assert_null(create(srv, SVC("kubernetes", "{\"clusterIP\":\"10.0.0.1\",\"ports\":[{\"port\":443}]}"), false, &k));
  json_decref(k);
  /* headless and ExternalName get nothing */
  json_t *h;
  assert_null(create(srv, SVC("h", "{\"clusterIP\":\"None\",\"selector\":{\"a\":\"b\"}}"), false, &h));
  assert_string_equal(kj_get_str(h, "spec.clusterIP"), "None");
  json_decref(h);
  assert_null(create(srv, SVC("e", "{\"type\":\"ExternalName\",\"externalName\":\"x.example.com\"}"), false, &h));
  assert_null(kj_get(h, "spec.clusterIP"));
  json_decref(h);
}

static void test_dry_run_keeps_nothing(void **state)
{
  struct apiserver *srv = *state;
  json_t *a, *b;
  assert_null(create(
      srv, SVC("d", "{\"clusterIP\":\"10.0.0.2\",\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30005}]}"),
      true, &a));
  /* the same values are still free for a real create */
  assert_null(create(
      srv, SVC("r", "{\"clusterIP\":\"10.0.0.2\",\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30005}]}"),
      false, &b));
  json_decref(a);
  json_decref(b);
}

static void test_node_ports(void **state)
{
  struct apiserver *srv = *state;
  json_t *a, *b;
  assert_null(create(srv,
                     SVC("a", "{\"type\":\"NodePort\",\"ports\":[{\"name\":\"w\",\"port\":80,\"nodePort\":30003},{"
                              "\"name\":\"x\",\"port\":81}]}"),
                     false, &a));
  int p1 = (int)kj_get_int(a, "spec.ports[1].nodePort", 0);
  assert_true(p1 >= 30000 && p1 <= 30009 && p1 != 30003);

  json_t *st =
      create(srv, SVC("b", "{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30003}]}"), false, NULL);
  assert_non_null(st);
  assert_string_equal(kj_get_str(st, "message"),
                      "Service \"b\" is invalid: spec.ports[0].nodePort: Invalid value: 30003: "
                      "provided port is already allocated");
  json_decref(st);
  st = create(srv, SVC("b", "{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":80}]}"), false, NULL);
  assert_non_null(st);
  assert_string_equal(
      kj_get_str(st, "details.causes[0].message"),
      "Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-30009");
  json_decref(st);

  /* a failed create gives back the ClusterIP it took */
  json_t *fill[5];
  for (int i = 0; i < 5; i++) assert_null(create(srv, SVC("fill", "{\"ports\":[{\"port\":80}]}"), false, &fill[i]));
  st = create(srv, SVC("c", "{\"ports\":[{\"port\":80}]}"), false, NULL);
  assert_non_null(st); /* range full: a, plus five */
  json_decref(st);
  for (int i = 0; i < 5; i++) delete (srv, fill[i]);

  /* NodePort -> ClusterIP releases the ports; ClusterIP -> NodePort allocates */
  assert_null(update(srv, a, "ClusterIP", &b));
  assert_null(kj_get(b, "spec.ports[0].nodePort"));
  assert_null(kj_get(b, "spec.externalTrafficPolicy"));
  assert_string_equal(kj_get_str(b, "spec.clusterIP"), kj_get_str(a, "spec.clusterIP"));
  json_t *c;
  assert_null(
      create(srv, SVC("c2", "{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30003}]}"), false, &c));
  json_t *d;
  assert_null(update(srv, b, "NodePort", &d));
  int np = (int)kj_get_int(d, "spec.ports[0].nodePort", 0);
  assert_true(np >= 30000 && np <= 30009 && np != 30003);
  json_decref(a);
  json_decref(b);
  json_decref(c);
  json_decref(d);
}

static void test_health_check_node_port(void **state)
{
  struct apiserver *srv = *state;
  json_t *a, *b;
  assert_null(create(srv,
                     SVC("lb", "{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Local\","
                               "\"ports\":[{\"port\":80}]}"),
                     false, &a));
  int hc = (int)kj_get_int(a, "spec.healthCheckNodePort", 0);
  int np = (int)kj_get_int(a, "spec.ports[0].nodePort", 0);
  assert_true(hc >= 30000 && hc <= 30009 && np >= 30000 && np <= 30009 && hc != np);
  /* back to Cluster: the health check port is dropped and released */
  json_t *obj = json_deep_copy(a);
  kj_set_str(obj, "spec.externalTrafficPolicy", "Cluster");
  struct reg_request rq = {.srv = srv, .verb = "update", .namespace_ = "default"};
  reg_services.prepare_update(&rq, obj, a);
  assert_null(reg_services.admit(&rq, obj, a));
  assert_null(kj_get(obj, "spec.healthCheckNodePort"));
  assert_false(svc_port_in_use(svc_alloc_get(srv), hc));
  assert_true(svc_port_in_use(svc_alloc_get(srv), np));
  /* and deleting the Service frees the rest */
  delete (srv, obj);
  assert_false(svc_port_in_use(svc_alloc_get(srv), np));
  (void)b;
  json_decref(a);
}

static void test_update_keeps_allocations(void **state)
{
  struct apiserver *srv = *state;
  json_t *a;
  assert_null(create(srv, SVC("a", "{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}"), false, &a));
  /* a client replacing the object without clusterIP/nodePort keeps them */
  json_t *obj = J(SVC("a", "{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}"));
  struct reg_request rq = {.srv = srv, .verb = "update", .namespace_ = "default"};
  reg_services.defaults(obj);
  reg_services.prepare_update(&rq, obj, a);
  assert_null(reg_services.admit(&rq, obj, a));
  assert_string_equal(kj_get_str(obj, "spec.clusterIP"), kj_get_str(a, "spec.clusterIP"));
  assert_int_equal(kj_get_int(obj, "spec.ports[0].nodePort", 0), kj_get_int(a, "spec.ports[0].nodePort", -1));
  json_t *causes = json_array();
  reg_services.validate(&rq, obj, a, causes);
  assert_int_equal(json_array_size(causes), 0);

  /* changing the ClusterIP is refused (a's address is random) */
  const char *other = strcmp(kj_get_str(a, "spec.clusterIP"), "10.0.0.6") ? "10.0.0.6" : "10.0.0.5";
  kj_set_str(obj, "spec.clusterIP", other);
  json_t *ips = json_array();
  json_array_append_new(ips, json_string(other));
  kj_set(obj, "spec.clusterIPs", ips);
  reg_services.validate(&rq, obj, a, causes);
  assert_int_equal(json_array_size(causes), 1);
  assert_string_equal(kj_get_str(json_array_get(causes, 0), "field"), "spec.clusterIPs[0]");
  char want[128];
  snprintf(want, sizeof want, "Invalid value: []string{\"%s\"}: may not change once set", other);
  assert_string_equal(kj_get_str(json_array_get(causes, 0), "message"), want);
  json_decref(causes);
  json_decref(obj);
  json_decref(a);
}

static void test_validate(void **state)
{
  (void)state;
  struct {
    const char *obj, *want;
  } cases[] = {
      {SVC("ok", "{\"type\":\"ClusterIP\",\"ports\":[{\"port\":80,\"protocol\":\"TCP\"}]}"), ""},
      {SVC("1abc", "{\"type\":\"ClusterIP\",\"ports\":[{\"port\":80}]}"),
       "metadata.name|FieldValueInvalid|Invalid value: \"1abc\": a DNS-1035 label must consist of lower case "
       "alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character "
       "(e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"},
      {SVC("a", "{\"type\":\"ClusterIP\"}"), "spec.ports|FieldValueRequired|Required value"},
      {SVC("a", "{\"type\":\"Bogus\",\"ports\":[{\"port\":0},{\"port\":80}]}"),
       "spec.type|FieldValueNotSupported|Unsupported value: \"Bogus\": supported values: \"ClusterIP\", "
       "\"ExternalName\", \"LoadBalancer\", \"NodePort\"\n"
       "spec.ports[0].name|FieldValueRequired|Required value\n"
       "spec.ports[0].port|FieldValueInvalid|Invalid value: 0: must be between 1 and 65535, inclusive\n"
       "spec.ports[1].name|FieldValueRequired|Required value"},
      {SVC("a", "{\"type\":\"ClusterIP\",\"ports\":[{\"port\":80,\"nodePort\":30001}]}"),
       "spec.ports[0].nodePort|FieldValueForbidden|Forbidden: may not be used when `type` is 'ClusterIP'"},
      {SVC("a", "{\"type\":\"ExternalName\"}"), "spec.externalName|FieldValueRequired|Required value"},
      {SVC("a", "{\"type\":\"NodePort\",\"clusterIP\":\"None\",\"clusterIPs\":[\"None\"],\"ports\":[{\"port\":80}]}"),
       "spec.clusterIPs[0]|FieldValueInvalid|Invalid value: \"None\": may not be set to 'None' for NodePort services"},
      {SVC("a", "{\"type\":\"ClusterIP\",\"clusterIPs\":[\"abc\"],\"ports\":[{\"port\":80}]}"),
       "spec.clusterIPs[0]|FieldValueInvalid|Invalid value: \"abc\": must be empty, 'None', or a valid IP address"},
      {SVC("a", "{\"type\":\"ClusterIP\",\"externalTrafficPolicy\":\"Local\",\"ports\":[{\"port\":80}]}"),
       "spec.externalTrafficPolicy|FieldValueInvalid|Invalid value: \"Local\": may only be set when `type` is "
       "'NodePort' or 'LoadBalancer'"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *obj = J(cases[i].obj), *causes = json_array();
    struct reg_request rq = {.verb = "create"};
    reg_services.validate(&rq, obj, NULL, causes);
    char *buf = NULL;
    size_t len = 0, k;
    FILE *f = open_memstream(&buf, &len);
    json_t *c;
    json_array_foreach (causes, k, c)
      fprintf(f, "%s%s|%s|%s", k ? "\n" : "", kj_get_str(c, "field"), kj_get_str(c, "reason"),
              kj_get_str(c, "message"));
    fclose(f);
    if (strcmp(buf, cases[i].want)) fail_msg("case %zu\n got:\n%s\nwant:\n%s", i, buf, cases[i].want);
    free(buf);
    json_decref(causes);
    json_decref(obj);
  }
}

static void test_cells(void **state)
{
  (void)state;
  struct {
    const char *obj, *want;
  } cases[] = {
      {SVC("a", "{\"type\":\"ClusterIP\",\"clusterIPs\":[\"10.0.0.2\"],\"ports\":[{\"port\":80,\"protocol\":\"TCP\"}],"
                "\"selector\":{\"b\":\"2\",\"a\":\"1\"}}"),
       "[\"a\",\"ClusterIP\",\"10.0.0.2\",\"<none>\",\"80/TCP\",\"<unknown>\",\"a=1,b=2\"]"},
      {SVC("n", "{\"type\":\"NodePort\",\"clusterIPs\":[\"10.0.0.3\"],\"externalIPs\":[\"1.2.3.4\"],\"ports\":["
                "{\"port\":80,\"nodePort\":30080,\"protocol\":\"TCP\"},{\"port\":53,\"protocol\":\"UDP\"}]}"),
       "[\"n\",\"NodePort\",\"10.0.0.3\",\"1.2.3.4\",\"80:30080/TCP,53/UDP\",\"<unknown>\",\"<none>\"]"},
      {SVC("l", "{\"type\":\"LoadBalancer\",\"clusterIPs\":[\"10.0.0.4\"],\"ports\":[]}"),
       "[\"l\",\"LoadBalancer\",\"10.0.0.4\",\"<pending>\",\"<none>\",\"<unknown>\",\"<none>\"]"},
      {SVC("e", "{\"type\":\"ExternalName\",\"externalName\":\"x.example.com\"}"),
       "[\"e\",\"ExternalName\",\"<none>\",\"x.example.com\",\"<none>\",\"<unknown>\",\"<none>\"]"},
      {SVC("h", "{\"clusterIP\":\"None\",\"clusterIPs\":[\"None\"]}"),
       "[\"h\",\"ClusterIP\",\"None\",\"<none>\",\"<none>\",\"<unknown>\",\"<none>\"]"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *obj = J(cases[i].obj);
    json_t *row = reg_services.cells(obj);
    assert_json(row, cases[i].want);
    json_decref(row);
    json_decref(obj);
  }
  json_t *lb =
      J("{\"metadata\":{\"name\":\"l\"},\"spec\":{\"type\":\"LoadBalancer\",\"externalIPs\":[\"9.9.9.9\"]},"
        "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"1.1.1.1\"},{\"hostname\":\"lb.example.com\"}]}}}");
  json_t *row = reg_services.cells(lb);
  assert_string_equal(json_string_value(json_array_get(row, 3)), "1.1.1.1,lb.example.com,9.9.9.9");
  json_decref(row);
  json_decref(lb);
}

static void test_rebuild_from_stored(void **state)
{
  struct apiserver *srv = *state;
  struct svc_alloc *a = svc_alloc_get(srv);
  json_t *stored = J(SVC("s", "{\"type\":\"NodePort\",\"clusterIP\":\"10.0.0.4\",\"clusterIPs\":[\"10.0.0.4\"],"
                              "\"ports\":[{\"port\":80,\"nodePort\":30007}]}"));
  svc_alloc_begin_repair(a);
  svc_alloc_mark_service(a, stored);
  svc_alloc_end_repair(a);
  uint32_t ip;
  reg_parse_ipv4("10.0.0.4", &ip);
  assert_true(svc_ip_in_use(a, ip));
  assert_true(svc_port_in_use(a, 30007));
  json_t *st = create(srv, SVC("x", "{\"clusterIP\":\"10.0.0.4\",\"ports\":[{\"port\":80}]}"), false, NULL);
  assert_non_null(st);
  json_decref(st);
  json_decref(stored);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test_setup_teardown(test_cluster_ip_allocation, setup, teardown),
      cmocka_unit_test(test_random_allocation_static_band),
      cmocka_unit_test_setup_teardown(test_requested_ip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dry_run_keeps_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_node_ports, setup, teardown),
      cmocka_unit_test_setup_teardown(test_update_keeps_allocations, setup, teardown),
      cmocka_unit_test_setup_teardown(test_health_check_node_port, setup, teardown),
      cmocka_unit_test(test_validate),
      cmocka_unit_test(test_cells),
      cmocka_unit_test_setup_teardown(test_rebuild_from_stored, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
