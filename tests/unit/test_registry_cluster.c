/* Tests for the registry table and the smaller kinds: namespaces, nodes,
 * endpoints, endpointslices, events, leases, serviceaccounts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kube/json.h>

#include "registry/reg_internal.h"
#include "registry/registry.h"
#include "registry_test_util.h"

static void test_table(void **state)
{
  (void)state;
  size_t n;
  const struct resource *const *all = registry_all(&n);
  /* the core kinds plus the extended table, each (group, version,
   * plural) once */
  assert_true(n >= 14);
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      if (!strcmp(all[i]->group, all[j]->group) && !strcmp(all[i]->version, all[j]->version) &&
          !strcmp(all[i]->plural, all[j]->plural))
        fail_msg("%s/%s %s listed twice", all[i]->group, all[i]->version, all[i]->plural);
  assert_ptr_equal(all[0], &reg_namespaces);
  assert_ptr_equal(registry_find("", "v1", "pods"), &reg_pods);
  assert_ptr_equal(registry_find("apps", "v1", "deployments"), &reg_deployments);
  assert_ptr_equal(registry_find("events.k8s.io", "v1", "events"), &reg_events_v1);
  assert_ptr_equal(registry_find_kind("coordination.k8s.io", "v1", "Lease"), &reg_leases);
  assert_null(registry_find("apps", "v1", "pods"));
  assert_string_equal(reg_services.storage_prefix, "/registry/services/specs");
  assert_string_equal(reg_events.storage_prefix, reg_events_v1.storage_prefix);
  /* every core kind prints: one cell per column, the name column marked */
  const struct resource *core[] = {&reg_namespaces,  &reg_pods,       &reg_nodes,   &reg_services,
                                   &reg_endpoints,   &reg_configmaps, &reg_secrets, &reg_serviceaccounts,
                                   &reg_events,      &reg_events_v1,  &reg_leases,  &reg_endpointslices,
                                   &reg_deployments, &reg_replicasets};
  json_t *obj = J("{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\"}}");
  for (size_t i = 0; i < sizeof(core) / sizeof(core[0]); i++) {
    const struct resource *r = core[i];
    bool listed = false;
    for (size_t k = 0; k < n; k++) listed = listed || all[k] == r;
    assert_true(listed);
    assert_non_null(r->columns);
    assert_non_null(r->cells);
    assert_non_null(r->validate);
    size_t cols = 0, names = 0;
    for (; r->columns[cols].name; cols++)
      if (!strcmp(r->columns[cols].format, "name")) names++;
    assert_int_equal(names, 1);
    json_t *row = r->cells(obj);
    if (json_array_size(row) != cols) fail_msg("%s: %zu cells for %zu columns", r->plural, json_array_size(row), cols);
    json_decref(row);
    char *key = reg_key(r, "default", "x");
    char want[128];
    snprintf(want, sizeof(want), r->namespaced ? "%s/default/x" : "%s/x", r->storage_prefix);
    assert_string_equal(key, want);
    free(key);
  }
  json_decref(obj);
}

static void test_namespaces(void **state)
{
  (void)state;
  json_t *ns = J("{\"metadata\":{\"name\":\"team-a\",\"labels\":{\"kubernetes.io/metadata.name\":\"spoof\"}},"
                 "\"status\":{\"phase\":\"Terminating\"}}");
  struct reg_request rq = {.verb = "create"};
  reg_namespaces.defaults(ns);
  reg_namespaces.prepare_create(&rq, ns);
  assert_json(ns, "{\"metadata\":{\"name\":\"team-a\",\"labels\":{\"kubernetes.io/metadata.name\":\"team-a\"}},"
                  "\"spec\":{\"finalizers\":[\"kubernetes\"]},\"status\":{\"phase\":\"Active\"}}");
  /* finalizers change only through /finalize */
  json_t *upd = json_deep_copy(ns);
  json_array_clear(kj_get(upd, "spec.finalizers"));
  rq.verb = "update";
  reg_namespaces.prepare_update(&rq, upd, ns);
  assert_int_equal(json_array_size(kj_get(upd, "spec.finalizers")), 1);
  json_decref(upd);
  upd = json_deep_copy(ns);
  json_array_clear(kj_get(upd, "spec.finalizers"));
  kj_set_str(upd, "metadata.labels.x", "y");
  rq.subresource = "finalize";
  reg_namespaces.prepare_update(&rq, upd, ns);
  assert_int_equal(json_array_size(kj_get(upd, "spec.finalizers")), 0);
  assert_null(kj_get(upd, "metadata.labels.x"));
  json_decref(upd);
  char buf[32];
  assert_string_equal(reg_namespaces.field_value(ns, "status.phase", buf, sizeof(buf)), "Active");
  json_decref(ns);

  check_validate(&reg_namespaces, "{\"metadata\":{\"name\":\"ok\"}}", NULL, "");
  check_validate(&reg_namespaces, "{\"metadata\":{\"name\":\"a.b\",\"namespace\":\"x\"}}", NULL,
                 "metadata.name|FieldValueInvalid|Invalid value: \"a.b\": must not contain dots\n"
                 "metadata.namespace|FieldValueForbidden|Forbidden: not allowed on this type");
  check_validate(
      &reg_namespaces, "{\"metadata\":{\"name\":\"A_b\"}}", NULL,
      "metadata.name|FieldValueInvalid|Invalid value: \"A_b\": a lowercase RFC 1123 label must consist of "
      "lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. "
      "'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
  check_validate(&reg_namespaces, "{\"metadata\":{\"name\":\"b\"}}", "{\"metadata\":{\"name\":\"a\"}}",
                 "metadata.name|FieldValueInvalid|Invalid value: \"b\": field is immutable");
}

static void test_nodes(void **state)
{
  (void)state;
  struct {
    const char *node, *want;
  } cases[] = {
      {"{\"metadata\":{\"name\":\"n1\",\"labels\":{\"node-role.kubernetes.io/control-plane\":\"\","
       "\"node-role.kubernetes.io/worker\":\"\"}},\"spec\":{\"unschedulable\":true},\"status\":{\"conditions\":["
       "{\"type\":\"Ready\",\"status\":\"True\"}],\"nodeInfo\":{\"kubeletVersion\":\"v1.32.0\",\"osImage\":\"Debian\","
       "\"kernelVersion\":\"6.1\",\"containerRuntimeVersion\":\"docker://24\"},\"addresses\":[{\"type\":\"InternalIP\","
       "\"address\":\"10.0.0.1\"}]}}",
       "[\"n1\",\"Ready,SchedulingDisabled\",\"control-plane,worker\",\"<unknown>\",\"v1.32.0\",\"10.0.0.1\",\"<none>"
       "\","
       "\"Debian\",\"6.1\",\"docker://24\"]"},
      {"{\"metadata\":{\"name\":\"n2\",\"labels\":{\"kubernetes.io/role\":\"node\"}},\"status\":{\"conditions\":["
       "{\"type\":\"Ready\",\"status\":\"False\"}]}}",
       "[\"n2\",\"NotReady\",\"node\",\"<unknown>\",\"\",\"<none>\",\"<none>\",\"<unknown>\",\"<unknown>\",\"<unknown>"
       "\"]"},
      {"{\"metadata\":{\"name\":\"n3\"},\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"Unknown\"}]}}",
       "[\"n3\",\"NotReady\",\"<none>\",\"<unknown>\",\"\",\"<none>\",\"<none>\",\"<unknown>\",\"<unknown>\",\"<"
       "unknown>\"]"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *n = J(cases[i].node);
    json_t *row = reg_nodes.cells(n);
    assert_json(row, cases[i].want);
    json_decref(row);
    json_decref(n);
  }
  json_t *n = J("{\"spec\":{\"unschedulable\":true},\"status\":{\"capacity\":{\"cpu\":\"2\"}}}");
  char buf[16];
  assert_string_equal(reg_nodes.field_value(n, "spec.unschedulable", buf, sizeof(buf)), "true");
  reg_nodes.defaults(n);
  assert_json(kj_get(n, "status.allocatable"), "{\"cpu\":\"2\"}");
  json_decref(n);
  check_validate(&reg_nodes,
                 "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"taints\":[{\"key\":\"k\",\"effect\":\"Bad\"}]}}", NULL,
                 "spec.taints[0].effect|FieldValueNotSupported|Unsupported value: \"Bad\": supported values: "
                 "\"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"");
}

static void test_endpoints(void **state)
{
  (void)state;
  json_t *ep =
      J("{\"metadata\":{\"name\":\"e\"},\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.1\"},{\"ip\":\"10.0.0.2\"}],"
        "\"ports\":[{\"port\":80},{\"port\":443}]}]}");
  json_t *row = reg_endpoints.cells(ep);
  assert_string_equal(json_string_value(json_array_get(row, 1)), "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...");
  json_decref(row);
  reg_endpoints.defaults(ep);
  assert_string_equal(kj_get_str(ep, "subsets[0].ports[1].protocol"), "TCP");
  json_decref(ep);
  ep = J("{\"metadata\":{\"name\":\"e\"}}");
  row = reg_endpoints.cells(ep);
  assert_string_equal(json_string_value(json_array_get(row, 1)), "<none>");
  json_decref(row);
  json_decref(ep);
  check_validate(&reg_endpoints,
                 "{\"metadata\":{\"name\":\"e\",\"namespace\":\"d\"},\"subsets\":[{\"addresses\":[{\"ip\":\"x\"}],"
                 "\"ports\":[{\"port\":80,\"protocol\":\"TCP\"},{\"name\":\"b\",\"port\":0,\"protocol\":\"TCP\"}]}]}",
                 NULL,
                 "subsets[0].addresses[0].ip|FieldValueInvalid|Invalid value: \"x\": must be a valid IP address, (e.g. "
                 "10.9.8.7 or 2001:db8::ffff)\n"
                 "subsets[0].ports[0].name|FieldValueRequired|Required value\n"
                 "subsets[0].ports[1].port|FieldValueInvalid|Invalid value: 0: must be between 1 and 65535, inclusive");
}

static void test_endpointslices(void **state)
{
  (void)state;
  json_t *s =
      J("{\"metadata\":{\"name\":\"s\"},\"addressType\":\"IPv4\",\"ports\":[{\"port\":80},{\"name\":\"n\"}],"
        "\"endpoints\":[{\"addresses\":[\"10.0.0.1\",\"10.0.0.2\"]},{\"addresses\":[\"10.0.0.3\",\"10.0.0.4\"]}]}");
  reg_endpointslices.defaults(s);
  assert_json(json_object_get(s, "ports"),
              "[{\"port\":80,\"name\":\"\",\"protocol\":\"TCP\"},{\"name\":\"n\",\"protocol\":\"TCP\"}]");
  json_t *row = reg_endpointslices.cells(s);
  assert_json(row, "[\"s\",\"IPv4\",\"80,n\",\"10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...\",\"<unknown>\"]");
  json_decref(row);
  json_decref(s);
  check_validate(&reg_endpointslices,
                 "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"endpoints\":[{\"addresses\":[]}]}", NULL,
                 "addressType|FieldValueRequired|Required value\n"
                 "endpoints[0].addresses|FieldValueRequired|Required value: must contain at least 1 address");
  check_validate(&reg_endpointslices, "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"addressType\":\"IPv6\"}",
                 "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"addressType\":\"IPv4\"}",
                 "addressType|FieldValueInvalid|Invalid value: \"IPv6\": field is immutable");
}

static void test_events(void **state)
{
  (void)state;
  const char *core =
      "{\"metadata\":{\"name\":\"e1\",\"namespace\":\"default\"},\"involvedObject\":{\"kind\":\"Pod\","
      "\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"u1\",\"fieldPath\":\"spec.containers{c}\"},"
      "\"reason\":\"Pulled\",\"message\":\" Pulled image \\n\",\"type\":\"Normal\",\"source\":{\"component\":"
      "\"kubelet\",\"host\":\"n1\"},\"count\":4}";
  const char *v1 =
      "{\"apiVersion\":\"events.k8s.io/v1\",\"metadata\":{\"name\":\"e1\",\"namespace\":\"default\"},"
      "\"regarding\":{\"kind\":\"Pod\",\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"u1\",\"fieldPath\":"
      "\"spec.containers{c}\"},\"reason\":\"Pulled\",\"note\":\" Pulled image \\n\",\"type\":\"Normal\","
      "\"deprecatedSource\":{\"component\":\"kubelet\",\"host\":\"n1\"},\"deprecatedCount\":4}";
  const char *both[] = {core, v1};
  for (size_t i = 0; i < 2; i++) {
    json_t *e = J(both[i]);
    char buf[64];
    assert_string_equal(reg_events.field_value(e, "involvedObject.name", buf, sizeof(buf)), "web");
    assert_string_equal(reg_events.field_value(e, "involvedObject.uid", buf, sizeof(buf)), "u1");
    assert_string_equal(reg_events.field_value(e, "source", buf, sizeof(buf)), "kubelet");
    assert_string_equal(reg_events.field_value(e, "type", buf, sizeof(buf)), "Normal");
    assert_null(reg_events.field_value(e, "note", buf, sizeof(buf)));
    json_t *row = reg_events_v1.cells(e);
    assert_json(row, "[\"<unknown>\",\"Normal\",\"Pulled\",\"pod/web\",\"spec.containers{c}\",\"kubelet, n1\","
                     "\"Pulled image\",\"<unknown>\",4,\"e1\"]");
    json_decref(row);
    json_decref(e);
  }
  check_validate(
      &reg_events,
      "{\"metadata\":{\"name\":\"e\",\"namespace\":\"a\"},\"involvedObject\":{\"namespace\":\"b\"},\"type\":\"Bad\"}",
      NULL,
      "involvedObject.namespace|FieldValueInvalid|Invalid value: \"b\": does not match event.namespace\n"
      "type|FieldValueNotSupported|Unsupported value: \"Bad\": supported values: \"Normal\", \"Warning\"");
  check_validate(&reg_events_v1,
                 "{\"metadata\":{\"name\":\"e\",\"namespace\":\"a\"},\"type\":\"Normal\",\"eventTime\":\"2024-01-01T00:"
                 "00:00.000000Z\","
                 "\"reportingController\":\"c\",\"reportingInstance\":\"i\",\"reason\":\"R\"}",
                 NULL, "action|FieldValueRequired|Required value");
}

static void test_leases_and_sa(void **state)
{
  (void)state;
  check_validate(
      &reg_leases,
      "{\"metadata\":{\"name\":\"l\",\"namespace\":\"kube-node-lease\"},\"spec\":{\"leaseDurationSeconds\":0,"
      "\"leaseTransitions\":-1}}",
      NULL,
      "spec.leaseDurationSeconds|FieldValueInvalid|Invalid value: 0: must be greater than 0\n"
      "spec.leaseTransitions|FieldValueInvalid|Invalid value: -1: must be greater than or equal to 0");
  json_t *l = J("{\"metadata\":{\"name\":\"l\"},\"spec\":{\"holderIdentity\":\"n1\"}}");
  json_t *row = reg_leases.cells(l);
  assert_json(row, "[\"l\",\"n1\",\"<unknown>\"]");
  json_decref(row);
  json_decref(l);
  json_t *sa = J("{\"metadata\":{\"name\":\"default\"},\"secrets\":[{\"name\":\"a\"}]}");
  row = reg_serviceaccounts.cells(sa);
  assert_json(row, "[\"default\",1,\"<unknown>\"]");
  json_decref(row);
  json_decref(sa);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),         cmocka_unit_test(test_namespaces),     cmocka_unit_test(test_nodes),
      cmocka_unit_test(test_endpoints),     cmocka_unit_test(test_endpointslices), cmocka_unit_test(test_events),
      cmocka_unit_test(test_leases_and_sa),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
