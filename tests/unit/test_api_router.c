/*
 * test_api_router.c - the pure parts of the API server's request path:
 * URL routing, storage keys, continue tokens, list query parsing, content
 * negotiation, Table building, events conversion and protobuf bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <kube/json.h>
#include <kube/selector.h>
#include <kube/status.h>

#include "api.h"
#include "registry/registry.h"

static void test_route_table(void **state)
{
  static const struct {
    const char *path;
    enum api_route_kind kind;
    const char *group, *version, *resource, *ns, *name, *sub;
  } cases[] = {
      {"/api", ROUTE_API_VERSIONS, "", "", "", "", "", ""},
      {"/api/", ROUTE_API_VERSIONS, "", "", "", "", "", ""},
      {"/apis", ROUTE_GROUP_LIST, "", "", "", "", "", ""},
      {"/apis/apps", ROUTE_GROUP, "apps", "", "", "", "", ""},
      {"/api/v1", ROUTE_RESOURCE_LIST, "", "v1", "", "", "", ""},
      {"/apis/apps/v1", ROUTE_RESOURCE_LIST, "apps", "v1", "", "", "", ""},
      {"/api/v1/pods", ROUTE_RESOURCE, "", "v1", "pods", "", "", ""},
      {"/api/v1/namespaces/default/pods", ROUTE_RESOURCE, "", "v1", "pods", "default", "", ""},
      {"/api/v1/namespaces/default/pods/web-0", ROUTE_RESOURCE, "", "v1", "pods", "default", "web-0", ""},
      {"/api/v1/namespaces/default/pods/web-0/status", ROUTE_RESOURCE, "", "v1", "pods", "default", "web-0", "status"},
      {"/api/v1/namespaces/kube-system/pods/p/binding", ROUTE_RESOURCE, "", "v1", "pods", "kube-system", "p",
       "binding"},
      {"/apis/apps/v1/namespaces/ns1/deployments/d/scale", ROUTE_RESOURCE, "apps", "v1", "deployments", "ns1", "d",
       "scale"},
      {"/apis/apps/v1/deployments", ROUTE_RESOURCE, "apps", "v1", "deployments", "", "", ""},
      {"/api/v1/nodes/n1", ROUTE_RESOURCE, "", "v1", "nodes", "", "n1", ""},
      {"/api/v1/nodes/n1/status", ROUTE_RESOURCE, "", "v1", "nodes", "", "n1", "status"},
      /* the namespace object itself and its subresources */
      {"/api/v1/namespaces", ROUTE_RESOURCE, "", "v1", "namespaces", "", "", ""},
      {"/api/v1/namespaces/kube-system", ROUTE_RESOURCE, "", "v1", "namespaces", "", "kube-system", ""},
      {"/api/v1/namespaces/x/status", ROUTE_RESOURCE, "", "v1", "namespaces", "", "x", "status"},
      {"/api/v1/namespaces/x/finalize", ROUTE_RESOURCE, "", "v1", "namespaces", "", "x", "finalize"},
      /* a namespaced collection named like a namespace subresource is not confused */
      {"/api/v1/namespaces/x/configmaps", ROUTE_RESOURCE, "", "v1", "configmaps", "x", "", ""},
      {"/api/v1/namespaces/default/bindings", ROUTE_RESOURCE, "", "v1", "bindings", "default", "", ""},
      /* unknown */
      {"/", ROUTE_NOT_FOUND, "", "", "", "", "", ""},
      {"/foo/v1/pods", ROUTE_NOT_FOUND, "", "", "", "", "", ""},
      {"/api/v1/namespaces/default/pods/a/b/c", ROUTE_NOT_FOUND, "", "", "", "", "", ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct api_route rt;
    enum api_route_kind k = api_route_parse(cases[i].path, &rt);
    if (k != cases[i].kind) fail_msg("%s: kind %d, want %d", cases[i].path, k, cases[i].kind);
    if (k == ROUTE_NOT_FOUND) continue;
    assert_string_equal(rt.group, cases[i].group);
    assert_string_equal(rt.version, cases[i].version);
    assert_string_equal(rt.resource, cases[i].resource);
    assert_string_equal(rt.ns, cases[i].ns);
    assert_string_equal(rt.name, cases[i].name);
    assert_string_equal(rt.sub, cases[i].sub);
  }
}

static void test_route_overlong_segment(void **state)
{
  char path[600] = "/api/v1/namespaces/";
  memset(path + strlen(path), 'a', 300);
  strcat(path, "/pods");
  struct api_route rt;
  assert_int_equal(api_route_parse(path, &rt), ROUTE_NOT_FOUND);
}

static const char *const pod_fields[] = {"spec.nodeName", "status.phase", NULL};
static const struct reg_column pod_cols[] = {
    {"Name", "string", "name", 0, "name"},
    {"Status", "string", "", 0, "phase"},
    {"Node", "string", "", 1, "node"},
    {NULL},
};
static json_t *pod_cells(const json_t *obj)
{
  const char *phase = kj_get_str(obj, "status.phase");
  const char *node = kj_get_str(obj, "spec.nodeName");
  return json_pack("[s,s,s]", kj_get_str(obj, "metadata.name"), phase ? phase : "Pending", node ? node : "<none>");
}
static const struct resource fake_pods = {
    .group = "",
    .version = "v1",
    .plural = "pods",
    .singular = "pod",
    .kind = "Pod",
    .namespaced = true,
    .storage_prefix = "/registry/pods",
    .field_selectors = pod_fields,
    .columns = pod_cols,
    .cells = pod_cells,
};
static const struct resource fake_nodes = {
    .group = "",
    .version = "v1",
    .plural = "nodes",
    .singular = "node",
    .kind = "Node",
    .namespaced = false,
    .storage_prefix = "/registry/minions",
};

static void test_storage_key(void **state)
{
  char *k = api_storage_key(&fake_pods, "default", "web");
  assert_string_equal(k, "/registry/pods/default/web");
  free(k);
  k = api_storage_key(&fake_pods, "default", NULL);
  assert_string_equal(k, "/registry/pods/default/");
  free(k);
  k = api_storage_key(&fake_pods, "", NULL);
  assert_string_equal(k, "/registry/pods/");
  free(k);
  k = api_storage_key(&fake_nodes, "ignored", "n1");
  assert_string_equal(k, "/registry/minions/n1");
  free(k);
}

static void test_continue_roundtrip(void **state)
{
  const char *keys[] = {"/registry/pods/default/web-9", "", "/registry/a/\"quoted\"/ü"};
  for (size_t i = 0; i < 3; i++) {
    char *tok = api_continue_encode(1234 + (int64_t)i, keys[i]);
    assert_non_null(tok);
    /* opaque and URL safe */
    assert_null(strpbrk(tok, "+/=&?"));
    int64_t rev = 0;
    char *start = NULL;
    assert_int_equal(api_continue_decode(tok, &rev, &start), 0);
    assert_int_equal(rev, 1234 + (int64_t)i);
    assert_string_equal(start, keys[i]);
    free(start);
    free(tok);
  }
}

static void test_continue_rejects_garbage(void **state)
{
  const char *bad[] = {"", "!!!", "abc", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ" /* no rv */,
                       "eyJ2IjoieCIsInJ2IjoxLCJzdGFydCI6ImEifQ" /* wrong v */};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int64_t rev;
    char *start = NULL;
    if (api_continue_decode(bad[i], &rev, &start) == 0) fail_msg("accepted bad token %s", bad[i]);
  }
}

static void test_list_opts(void **state)
{
  struct api_list_opts o;
  json_t *st = api_list_opts_parse("labelSelector=app%3Dweb&limit=500&watch=True&allowWatchBookmarks=true&"
                                   "timeoutSeconds=30&resourceVersion=12&fieldSelector=spec.nodeName%3Dn1",
                                   &fake_pods, &o);
  assert_null(st);
  assert_non_null(o.lsel);
  assert_non_null(o.fsel);
  assert_int_equal(o.limit, 500);
  assert_true(o.watch);
  assert_true(o.bookmarks);
  assert_int_equal(o.timeout_s, 30);
  assert_string_equal(o.rv, "12");
  api_list_opts_free(&o);

  static const struct {
    const char *q;
    const char *msg_part;
  } bad[] = {
      {"fieldSelector=spec.foo%3Dx", "field label not supported: spec.foo"},
      {"limit=abc", "limit"},
      {"watch=maybe", "watch"},
      {"resourceVersion=xyz", "resource version"},
      {"resourceVersionMatch=Exact", "resourceVersionMatch"},
      {"continue=notatoken", "continue"},
      {"labelSelector=a%20in%20(", ""},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    st = api_list_opts_parse(bad[i].q, &fake_pods, &o);
    if (!st) fail_msg("accepted %s", bad[i].q);
    assert_int_equal(kstatus_code(st), 400);
    assert_string_equal(kstatus_reason(st), "BadRequest");
    const char *msg = json_string_value(json_object_get(st, "message"));
    if (!strstr(msg, bad[i].msg_part)) fail_msg("%s: message %s", bad[i].q, msg);
    json_decref(st);
  }
  /* metadata.name is selectable on every kind */
  st = api_list_opts_parse("fieldSelector=metadata.name%3Dx,metadata.namespace!%3Dy", &fake_nodes, &o);
  assert_null(st);
  api_list_opts_free(&o);
}

static void test_negotiate(void **state)
{
  static const struct {
    const char *accept;
    enum api_format want;
  } cases[] = {
      {NULL, FMT_JSON},
      {"", FMT_JSON},
      {"application/json", FMT_JSON},
      {"*/*", FMT_JSON},
      {"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/"
       "json",
       FMT_TABLE},
      {"application/yaml", FMT_YAML},
      {"application/yaml, application/json", FMT_YAML},
      {"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json", FMT_JSON},
      {"application/vnd.kubernetes.protobuf, application/json", FMT_JSON},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    enum api_format f = api_negotiate(cases[i].accept);
    if (f != cases[i].want)
      fail_msg("accept %s: %d want %d", cases[i].accept ? cases[i].accept : "(null)", f, cases[i].want);
  }
}

static void test_table(void **state)
{
  json_t *pod = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s},s:{s:s}}", "kind", "Pod", "apiVersion", "v1",
                          "metadata", "name", "web", "namespace", "default", "labels", "app", "web", "spec", "nodeName",
                          "n1", "status", "phase", "Running");
  json_t *t = api_table_new(&fake_pods, true);
  api_table_add_row(t, &fake_pods, pod, INCLUDE_METADATA);
  assert_string_equal(kj_get_str(t, "kind"), "Table");
  assert_string_equal(kj_get_str(t, "apiVersion"), "meta.k8s.io/v1");
  assert_int_equal(json_array_size(kj_get(t, "columnDefinitions")), 3);
  assert_string_equal(kj_get_str(t, "columnDefinitions[2].name"), "Node");
  assert_int_equal(kj_get_int(t, "columnDefinitions[2].priority", -1), 1);
  assert_string_equal(kj_get_str(t, "rows[0].cells[1]"), "Running");
  assert_string_equal(kj_get_str(t, "rows[0].object.kind"), "PartialObjectMetadata");
  assert_string_equal(kj_get_str(t, "rows[0].object.apiVersion"), "meta.k8s.io/v1");
  assert_string_equal(kj_get_str(t, "rows[0].object.metadata.labels.app"), "web");
  assert_null(kj_get(t, "rows[0].object.spec"));
  api_table_add_row(t, &fake_pods, pod, INCLUDE_OBJECT);
  assert_string_equal(kj_get_str(t, "rows[1].object.spec.nodeName"), "n1");
  json_decref(t);

  /* a kind without printer hooks gets Name + Created At */
  json_t *node = json_pack("{s:{s:s,s:s}}", "metadata", "name", "n1", "creationTimestamp", "2026-01-01T00:00:00Z");
  t = api_table_new(&fake_nodes, true);
  api_table_add_row(t, &fake_nodes, node, INCLUDE_NONE);
  assert_string_equal(kj_get_str(t, "columnDefinitions[0].name"), "Name");
  assert_string_equal(kj_get_str(t, "columnDefinitions[0].format"), "name");
  assert_string_equal(kj_get_str(t, "columnDefinitions[1].name"), "Created At");
  assert_string_equal(kj_get_str(t, "rows[0].cells[0]"), "n1");
  assert_string_equal(kj_get_str(t, "rows[0].cells[1]"), "2026-01-01T00:00:00Z");
  assert_null(kj_get(t, "rows[0].object"));
  json_decref(t);
  /* watch events after the first omit the definitions */
  t = api_table_new(&fake_nodes, false);
  assert_int_equal(json_array_size(kj_get(t, "columnDefinitions")), 0);
  json_decref(t);
  json_decref(node);
  json_decref(pod);
}

static void test_event_conversion(void **state)
{
  json_t *core =
      json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:s},s:s,s:s,s:i,s:{s:s},s:s}", "kind", "Event", "apiVersion", "v1",
                "metadata", "name", "e1", "involvedObject", "kind", "Pod", "name", "web", "reason", "Scheduled",
                "message", "assigned", "count", 3, "source", "component", "scheduler", "futureField", "kept");
  json_t *v1 = conv_event_to_v1(core);
  assert_string_equal(kj_get_str(v1, "apiVersion"), "events.k8s.io/v1");
  assert_string_equal(kj_get_str(v1, "regarding.name"), "web");
  assert_string_equal(kj_get_str(v1, "note"), "assigned");
  assert_int_equal(kj_get_int(v1, "deprecatedCount", 0), 3);
  assert_string_equal(kj_get_str(v1, "deprecatedSource.component"), "scheduler");
  assert_string_equal(kj_get_str(v1, "futureField"), "kept");
  assert_null(kj_get(v1, "involvedObject"));
  json_t *back = conv_event_to_core(v1);
  assert_true(json_equal(back, core));
  json_decref(back);
  json_decref(v1);
  json_decref(core);
}

/* Appends a length-delimited field to buf. */
static size_t pb_put(unsigned char *buf, size_t o, int num, const void *data, size_t len)
{
  buf[o++] = (unsigned char)(num << 3 | 2);
  buf[o++] = (unsigned char)len;
  memcpy(buf + o, data, len);
  return o + len;
}

static void test_protobuf_configmap(void **state)
{
  unsigned char tm[64], meta[64], entry[32], raw[256], msg[512];
  size_t t = pb_put(tm, 0, 1, "v1", 2);
  t = pb_put(tm, t, 2, "ConfigMap", 9);
  size_t m = pb_put(meta, 0, 1, "cfg", 3);
  m = pb_put(meta, m, 4, "", 0); /* selfLink: not served */
  m = pb_put(meta, m, 2, "", 0); /* empty generateName: dropped */
  size_t e = pb_put(entry, 0, 1, "k", 1);
  e = pb_put(entry, e, 2, "v", 1);
  size_t r = pb_put(raw, 0, 1, meta, m);
  r = pb_put(raw, r, 2, entry, e);
  r = pb_put(raw, r, 3, entry, e); /* binaryData: base64 */
  raw[r++] = 4 << 3;               /* immutable=true (varint) */
  raw[r++] = 1;
  memcpy(msg, "k8s\0", 4);
  size_t n = pb_put(msg, 4, 1, tm, t);
  n = pb_put(msg, n, 2, raw, r);
  char err[256];
  json_t *o = api_protobuf_decode((const char *)msg, n, err, sizeof(err));
  assert_non_null(o);
  assert_string_equal(kj_get_str(o, "kind"), "ConfigMap");
  assert_string_equal(kj_get_str(o, "apiVersion"), "v1");
  assert_string_equal(kj_get_str(o, "metadata.name"), "cfg");
  assert_null(kj_get(o, "metadata.generateName"));
  assert_string_equal(kj_get_str(o, "data.k"), "v");
  assert_string_equal(kj_get_str(o, "binaryData.k"), "dg==");
  assert_true(kj_get_bool(o, "immutable", false));
  json_decref(o);

  /* truncated input and unknown kinds are refused with a message */
  assert_null(api_protobuf_decode((const char *)msg, n - 3, err, sizeof(err)));
  assert_null(api_protobuf_decode("{\"kind\":1}", 10, err, sizeof(err)));
  assert_non_null(strstr(err, "protobuf"));
  t = pb_put(tm, 0, 1, "batch/v1", 8);
  t = pb_put(tm, t, 2, "CronJob", 7);
  n = pb_put(msg, 4, 1, tm, t);
  n = pb_put(msg, n, 2, raw, r);
  assert_null(api_protobuf_decode((const char *)msg, n, err, sizeof(err)));
  assert_non_null(strstr(err, "CronJob"));
  /* a known kind with a field the tables do not know is refused, not truncated */
  t = pb_put(tm, 0, 1, "v1", 2);
  t = pb_put(tm, t, 2, "ConfigMap", 9);
  raw[r++] = 9 << 3; /* field 9, varint 1 */
  raw[r++] = 1;
  n = pb_put(msg, 4, 1, tm, t);
  n = pb_put(msg, n, 2, raw, r);
  assert_null(api_protobuf_decode((const char *)msg, n, err, sizeof(err)));
  assert_non_null(strstr(err, "field 9"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_route_table),
      cmocka_unit_test(test_route_overlong_segment),
      cmocka_unit_test(test_storage_key),
      cmocka_unit_test(test_continue_roundtrip),
      cmocka_unit_test(test_continue_rejects_garbage),
      cmocka_unit_test(test_list_opts),
      cmocka_unit_test(test_negotiate),
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_event_conversion),
      cmocka_unit_test(test_protobuf_configmap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
