/*
 * test_schema.c - the schema table: parsing (good and bad text), the
 * built-in table's list semantics for strategic merge patch, strict field
 * validation, and the OpenAPI v3 documents kubectl reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kube/json.h"
#include "registry/registry.h"
#include "schema/schema.h"

static struct schema *builtin;

static int load_builtin(void **state)
{
  char err[256] = "";
  builtin = schema_load_builtin(err, sizeof err);
  if (!builtin) fprintf(stderr, "builtin schema: %s\n", err);
  return builtin ? 0 : -1;
}

static int free_builtin(void **state)
{
  schema_free(builtin);
  return 0;
}

/* ---- parser ---- */

static const char good_text[] = "# a comment\n"
                                "alias meta io.k8s.apimachinery.pkg.apis.meta.v1\n"
                                "package io.k8s.apimachinery.pkg.apis.meta.v1\n"
                                "type ObjectMeta\n"
                                "  name    string\n"
                                "  labels  map[string]string\n"
                                "type ListMeta\n"
                                "  resourceVersion string\n"
                                "package example.v1\n"
                                "type Widget \"A widget.\"\n"
                                "  apiVersion string\n"
                                "  kind string\n"
                                "  metadata meta.ObjectMeta\n"
                                "  spec WidgetSpec required \"what the \\\"widget\\\" should be\"\n"
                                "type WidgetSpec\n"
                                "  parts  []Part  merge=name strategy=merge list=map keys=name\n"
                                "  size   Quantity\n"
                                "  port   IntOrString\n"
                                "  extra  RawExtension\n"
                                "type Part\n"
                                "  name string required\n"
                                "kind example.com/v1 Widget\n";

static void test_parse_good(void **state)
{
  char err[256] = "";
  struct schema *s = schema_load_text(good_text, err, sizeof err);
  assert_non_null(s);
  const struct stype *w = schema_kind(s, "example.com", "v1", "Widget");
  assert_non_null(w);
  /* the list kind is added by itself */
  assert_non_null(schema_kind(s, "example.com", "v1", "WidgetList"));
  assert_null(schema_kind(s, "example.com", "v2", "Widget"));
  struct smp_field f;
  const void *spec = schema_smp_lookup(s, w, "spec", &f);
  assert_non_null(spec);
  assert_false(f.is_list);
  const void *part = schema_smp_lookup(s, spec, "parts", &f);
  assert_non_null(part);
  assert_true(f.is_list);
  assert_string_equal(f.merge_key, "name");
  assert_string_equal(f.strategy, "merge");

  /* descriptions and list extensions reach the OpenAPI document */
  static const struct resource widgets = {
      .group = "example.com", .version = "v1", .plural = "widgets", .kind = "Widget", .namespaced = true};
  const struct resource *const res[] = {&widgets};
  json_t *doc = schema_openapi_v3_doc(s, "apis/example.com/v1", res, 1);
  assert_non_null(doc);
  json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
  json_t *wt = json_object_get(schemas, "example.v1.Widget");
  assert_string_equal(json_string_value(json_object_get(wt, "description")), "A widget.");
  json_t *sp = json_object_get(json_object_get(wt, "properties"), "spec");
  assert_string_equal(json_string_value(json_object_get(sp, "description")), "what the \"widget\" should be");
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(sp, "allOf"), 0), "$ref")),
                      "#/components/schemas/example.v1.WidgetSpec");
  json_t *parts =
      json_object_get(json_object_get(json_object_get(schemas, "example.v1.WidgetSpec"), "properties"), "parts");
  assert_string_equal(json_string_value(json_array_get(json_object_get(parts, "x-kubernetes-list-map-keys"), 0)),
                      "name");
  assert_non_null(json_object_get(schemas, "example.v1.WidgetList"));
  json_decref(doc);
  schema_free(s);
}

static void test_parse_bad(void **state)
{
  static const struct {
    const char *text, *want; /* want: a substring of the error */
  } cases[] = {
      {"package a.v1\ntype T\n  x  Nope\n", "schema:3: unknown type \"a.v1.Nope\""},
      {"package a.v1\ntype T\n  x\n", "schema:3: field \"x\" has no type"},
      {"  x string\n", "schema:1: field line outside a type"},
      {"package a.v1\ntype T\n  x string\n  x int32\n", "schema:4: field \"x\" declared twice"},
      {"package a.v1\ntype T\ntype T\n", "schema:3: type \"a.v1.T\" declared twice"},
      {"package a.v1\ntype T\n  x []string strategy=sideways\n", "schema:3: unknown patch strategy"},
      {"package a.v1\ntype T\n  x string merge=name\n", "schema:3: field \"x\": merge= and keys="},
      {"package a.v1\ntype T\n  x string \"open\n", "schema:3: unterminated description"},
      {"package a.v1\ntype T\n  x map[int]string\n", "schema:3: bad type"},
      {"package a.v1\nkind v1 Missing\n", "schema:2: kind Missing: unknown type"},
      {"bogus line\n", "schema:1: unknown statement \"bogus\""},
      {"type T\n", "schema:1: type \"T\" declared before any package line"},
      {"package a.v1\ntype T\n  x string fancy\n", "schema:3: unknown attribute \"fancy\""},
      /* file markers of the embedded text name the file */
      {"#@file 10-x.schema\npackage a.v1\n\ntype T\n  y Gone\n", "10-x.schema:4: unknown type"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char err[256] = "";
    struct schema *s = schema_load_text(cases[i].text, err, sizeof err);
    if (s || !strstr(err, cases[i].want))
      fail_msg("case %zu: got %s, error \"%s\", want \"%s\"", i, s ? "a schema" : "NULL", err, cases[i].want);
  }
}

/* ---- built-in table: strategic merge metadata ---- */

static const void *walk(const char *const *path, struct smp_field *last)
{
  const void *t = schema_kind(builtin, path[0], path[1], path[2]);
  for (path += 3; t && *path; path++) t = schema_smp_lookup(builtin, t, *path, last);
  return t;
}

static void test_smp_builtin(void **state)
{
  static const struct {
    const char *path[8];
    const char *merge_key, *strategy;
    int is_list;
  } cases[] = {
      {{"", "v1", "Pod", "spec", "containers", NULL}, "name", "merge", 1},
      {{"", "v1", "Pod", "spec", "containers", "ports", NULL}, "containerPort", "merge", 1},
      {{"", "v1", "Pod", "spec", "containers", "env", NULL}, "name", "merge", 1},
      {{"", "v1", "Pod", "spec", "containers", "volumeMounts", NULL}, "mountPath", "merge", 1},
      {{"", "v1", "Pod", "spec", "volumes", NULL}, "name", "merge,retainKeys", 1},
      {{"", "v1", "Pod", "spec", "tolerations", NULL}, NULL, NULL, 1},
      {{"", "v1", "Pod", "metadata", "finalizers", NULL}, NULL, "merge", 1},
      {{"", "v1", "Pod", "metadata", "ownerReferences", NULL}, "uid", "merge", 1},
      {{"", "v1", "Pod", "status", "conditions", NULL}, "type", "merge", 1},
      {{"", "v1", "Service", "spec", "ports", NULL}, "port", "merge", 1},
      {{"apps", "v1", "Deployment", "spec", "strategy", NULL}, NULL, "retainKeys", 0},
      {{"apps", "v1", "Deployment", "spec", "template", "spec", "initContainers", NULL}, "name", "merge", 1},
      {{"", "v1", "Node", "spec", "taints", NULL}, NULL, NULL, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    struct smp_field f;
    const void *t = walk(cases[i].path, &f);
    if (!t) fail_msg("case %zu: path not found", i);
    if (f.is_list != cases[i].is_list) fail_msg("case %zu: is_list %d", i, f.is_list);
    if ((f.merge_key == NULL) != (cases[i].merge_key == NULL) ||
        (f.merge_key && strcmp(f.merge_key, cases[i].merge_key)))
      fail_msg("case %zu: merge key %s", i, f.merge_key ? f.merge_key : "(none)");
    if ((f.strategy == NULL) != (cases[i].strategy == NULL) || (f.strategy && strcmp(f.strategy, cases[i].strategy)))
      fail_msg("case %zu: strategy %s", i, f.strategy ? f.strategy : "(none)");
  }
  /* unknown names and free-form values give no type: maps merge, lists replace */
  struct smp_field f;
  const char *const bogus[] = {"", "v1", "Pod", "spec", "nosuchfield", NULL};
  assert_null(walk(bogus, &f));
  assert_null(schema_smp_lookup(builtin, NULL, "spec", &f));
  /* labels is a map: any key of it has the value type, not a list */
  const char *const lab[] = {"", "v1", "Pod", "metadata", "labels", "app", NULL};
  assert_non_null(walk(lab, &f));
  assert_false(f.is_list);
}

/* ---- strict field validation ---- */

static void test_unknown_fields(void **state)
{
  static const struct {
    const char *group, *kind, *body;
    const char *want[4];
  } cases[] = {
      {"",
       "Pod",
       "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"labels\":{\"x\":\"y\"}},"
       "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]},\"status\":{\"phase\":\"Running\"}}",
       {NULL}},
      {"", "Pod", "{\"spec\":{\"containers\":[]},\"foo\":1}", {"unknown field \"foo\"", NULL}},
      {"",
       "Pod",
       "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\",\"imagee\":\"x\"}]}}",
       {"unknown field \"spec.containers[1].imagee\"", NULL}},
      {"",
       "Pod",
       "{\"metadata\":{\"nmae\":\"x\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":1,"
       "\"hostport\":2}]}],\"bogus\":true}}",
       {"unknown field \"metadata.nmae\"", "unknown field \"spec.containers[0].ports[0].hostport\"",
        "unknown field \"spec.bogus\"", NULL}},
      /* map keys are free; quantities in maps are values, not fields */
      {"",
       "Pod",
       "{\"spec\":{\"nodeSelector\":{\"any.key/x\":\"v\"},\"containers\":[{\"name\":\"a\",\"resources\":"
       "{\"limits\":{\"cpu\":\"1\",\"example.com/gpu\":\"2\"}}}]}}",
       {NULL}},
      /* RawExtension (ControllerRevision.data) accepts anything */
      {"apps", "ControllerRevision", "{\"revision\":1,\"data\":{\"anything\":{\"goes\":[1,2]}}}", {NULL}},
      {"apps",
       "Deployment",
       "{\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"strategy\":{\"type\":\"RollingUpdate\","
       "\"rollingUpdate\":{\"maxSurge\":\"25%\",\"maxUnavailabel\":1}},\"template\":{\"metadata\":{\"labels\":"
       "{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"env\":[{\"name\":\"X\","
       "\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\",\"extra\":0}}}]}]}}}}",
       {"unknown field \"spec.strategy.rollingUpdate.maxUnavailabel\"",
        "unknown field \"spec.template.spec.containers[0].env[0].valueFrom.fieldRef.extra\"", NULL}},
      {"", "ConfigMap", "{\"data\":{\"k\":\"v\"},\"binaryData\":{\"b\":\"AAA=\"},\"immutable\":true}", {NULL}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *version = "v1";
    const struct stype *t = schema_kind(builtin, cases[i].group, version, cases[i].kind);
    assert_non_null(t);
    json_error_t jerr;
    json_t *body = json_loads(cases[i].body, 0, &jerr);
    if (!body) fail_msg("case %zu: bad test JSON: %s", i, jerr.text);
    json_t *out = json_array();
    size_t n = schema_unknown_fields(builtin, t, body, out);
    size_t want = 0;
    while (cases[i].want[want]) want++;
    if (n != want || json_array_size(out) != want) {
      char *dump = kj_dumps_flags(out, 0);
      fail_msg("case %zu: got %zu: %s", i, n, dump);
    }
    for (size_t j = 0; j < want; j++)
      if (strcmp(json_string_value(json_array_get(out, j)), cases[i].want[j]))
        fail_msg("case %zu: item %zu is %s", i, j, json_string_value(json_array_get(out, j)));
    json_decref(out);
    json_decref(body);
  }
}

static const char *const kinds[][3] = {
    {"", "v1", "Namespace"},
    {"", "v1", "ConfigMap"},
    {"", "v1", "Secret"},
    {"", "v1", "ServiceAccount"},
    {"", "v1", "Service"},
    {"", "v1", "Endpoints"},
    {"", "v1", "Pod"},
    {"", "v1", "Node"},
    {"", "v1", "Event"},
    {"events.k8s.io", "v1", "Event"},
    {"coordination.k8s.io", "v1", "Lease"},
    {"discovery.k8s.io", "v1", "EndpointSlice"},
    {"apps", "v1", "Deployment"},
    {"apps", "v1", "ReplicaSet"},
    {"autoscaling", "v1", "Scale"},
    {"apps", "v1", "StatefulSet"},
    {"batch", "v1", "CronJob"},
    {"autoscaling", "v2", "HorizontalPodAutoscaler"},
    {"networking.k8s.io", "v1", "Ingress"},
    {"policy", "v1", "PodDisruptionBudget"},
    {"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"},
    {"storage.k8s.io", "v1", "StorageClass"},
    {"scheduling.k8s.io", "v1", "PriorityClass"},
    {"", "v1", "PersistentVolumeClaim"},
    {"", "v1", "ReplicationController"},
    {"apps", "v1", "DaemonSet"},
    {"batch", "v1", "Job"},
    {"networking.k8s.io", "v1", "NetworkPolicy"},
    {"rbac.authorization.k8s.io", "v1", "Role"},
};
#define NKINDS (sizeof kinds / sizeof *kinds)

static void test_builtin_kinds(void **state)
{
  assert_non_null(schema_kind(builtin, "", "v1", "PodList"));
  for (size_t i = 0; i < NKINDS; i++)
    if (!schema_kind(builtin, kinds[i][0], kinds[i][1], kinds[i][2]))
      fail_msg("kind %s/%s %s missing", kinds[i][0], kinds[i][1], kinds[i][2]);
  /* the events.k8s.io Event is its own type, not core's */
  assert_ptr_not_equal(schema_kind(builtin, "", "v1", "Event"), schema_kind(builtin, "events.k8s.io", "v1", "Event"));
}

/* ---- OpenAPI ---- */

static const struct resource t_pods = {
    .group = "", .version = "v1", .plural = "pods", .kind = "Pod", .namespaced = true, .subresources = RES_SUB_STATUS};
static const struct resource t_nodes = {.group = "",
                                        .version = "v1",
                                        .plural = "nodes",
                                        .kind = "Node",
                                        .namespaced = false,
                                        .subresources = RES_SUB_STATUS};
static const struct resource t_deploy = {.group = "apps",
                                         .version = "v1",
                                         .plural = "deployments",
                                         .kind = "Deployment",
                                         .namespaced = true,
                                         .subresources = RES_SUB_STATUS | RES_SUB_SCALE};
static const struct resource t_rs = {.group = "apps",
                                     .version = "v1",
                                     .plural = "replicasets",
                                     .kind = "ReplicaSet",
                                     .namespaced = true,
                                     .subresources = RES_SUB_STATUS | RES_SUB_SCALE};
static const struct resource t_crb = {.group = "rbac.authorization.k8s.io",
                                      .version = "v1",
                                      .plural = "clusterrolebindings",
                                      .kind = "ClusterRoleBinding"};
static const struct resource *const t_all[] = {&t_pods, &t_nodes, &t_deploy, &t_rs, &t_crb};
#define NRES (sizeof t_all / sizeof *t_all)

static bool has_param(const json_t *op, const char *name)
{
  size_t i;
  json_t *p;
  json_array_foreach (json_object_get(op, "parameters"), i, p)
    if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0) return true;
  return false;
}

static void check_refs(const json_t *doc)
{
  json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
  char *txt = kj_dumps_flags(doc, JSON_COMPACT);
  for (char *p = strstr(txt, "#/components/schemas/"); p; p = strstr(p + 1, "#/components/schemas/")) {
    char name[256];
    size_t n = strcspn(p + 21, "\"");
    snprintf(name, sizeof name, "%.*s", (int)n, p + 21);
    if (!json_object_get(schemas, name)) fail_msg("dangling $ref %s", name);
  }
  free(txt);
}

/* kubectl's check: a PATCH whose x-kubernetes-group-version-kind is the
 * kind and that declares fieldValidation. */
static bool kubectl_finds_field_validation(const json_t *doc, const char *g, const char *v, const char *k)
{
  const char *path;
  json_t *item;
  json_object_foreach (json_object_get(doc, "paths"), path, item) {
    json_t *op = json_object_get(item, "patch");
    json_t *gvk = json_object_get(op, "x-kubernetes-group-version-kind");
    if (!gvk) continue;
    if (strcmp(json_string_value(json_object_get(gvk, "group")), g) ||
        strcmp(json_string_value(json_object_get(gvk, "version")), v) ||
        strcmp(json_string_value(json_object_get(gvk, "kind")), k))
      continue;
    if (has_param(op, "fieldValidation")) return true;
  }
  return false;
}

static void test_openapi_apps(void **state)
{
  json_t *doc = schema_openapi_v3_doc(builtin, "apis/apps/v1", t_all, NRES);
  assert_non_null(doc);
  assert_true(kubectl_finds_field_validation(doc, "apps", "v1", "Deployment"));
  assert_true(kubectl_finds_field_validation(doc, "apps", "v1", "ReplicaSet"));
  assert_false(kubectl_finds_field_validation(doc, "", "v1", "Pod")); /* other group-version */

  json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
  json_t *d = json_object_get(schemas, "io.k8s.api.apps.v1.Deployment");
  assert_non_null(d);
  json_t *gvk = json_array_get(json_object_get(d, "x-kubernetes-group-version-kind"), 0);
  assert_string_equal(json_string_value(json_object_get(gvk, "group")), "apps");
  assert_string_equal(json_string_value(json_object_get(gvk, "kind")), "Deployment");
  /* reachable types are there, unrelated groups are not */
  assert_non_null(json_object_get(schemas, "io.k8s.api.core.v1.PodSpec"));
  assert_non_null(json_object_get(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
  assert_non_null(json_object_get(schemas, "io.k8s.api.autoscaling.v1.Scale"));
  assert_non_null(json_object_get(schemas, "io.k8s.api.apps.v1.DeploymentList"));
  assert_null(json_object_get(schemas, "io.k8s.api.core.v1.NodeSpec"));
  assert_null(json_object_get(schemas, "io.k8s.api.rbac.v1.ClusterRoleBinding"));

  /* patch extensions that clients compute strategic merge patches from */
  json_t *c = json_object_get(json_object_get(json_object_get(schemas, "io.k8s.api.core.v1.PodSpec"), "properties"),
                              "containers");
  assert_string_equal(json_string_value(json_object_get(c, "x-kubernetes-patch-merge-key")), "name");
  assert_string_equal(json_string_value(json_object_get(c, "x-kubernetes-patch-strategy")), "merge");
  assert_string_equal(json_string_value(json_object_get(c, "x-kubernetes-list-type")), "map");
  assert_string_equal(json_string_value(json_object_get(json_object_get(c, "items"), "$ref")),
                      "#/components/schemas/io.k8s.api.core.v1.Container");
  json_t *st = json_object_get(
      json_object_get(json_object_get(schemas, "io.k8s.api.apps.v1.DeploymentSpec"), "properties"), "strategy");
  assert_string_equal(json_string_value(json_object_get(st, "x-kubernetes-patch-strategy")), "retainKeys");
  assert_non_null(json_object_get(st, "allOf"));
  json_t *req = json_object_get(json_object_get(schemas, "io.k8s.api.apps.v1.DeploymentSpec"), "required");
  assert_int_equal(json_array_size(req), 2); /* selector, template */

  /* paths */
  json_t *paths = json_object_get(doc, "paths");
  json_t *item = json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}");
  assert_non_null(item);
  json_t *patch = json_object_get(item, "patch");
  assert_string_equal(json_string_value(json_object_get(patch, "operationId")), "patchAppsV1NamespacedDeployment");
  assert_string_equal(json_string_value(json_object_get(patch, "x-kubernetes-action")), "patch");
  json_t *ct = json_object_get(json_object_get(patch, "requestBody"), "content");
  assert_non_null(json_object_get(ct, "application/strategic-merge-patch+json"));
  assert_non_null(json_object_get(ct, "application/apply-patch+yaml"));
  assert_true(
      has_param(json_object_get(json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/deployments"), "post"),
                "fieldValidation"));
  assert_true(has_param(json_object_get(item, "put"), "fieldValidation"));
  assert_true(has_param(json_object_get(item, "put"), "dryRun"));
  assert_non_null(json_object_get(paths, "/apis/apps/v1/deployments"));
  json_t *scale =
      json_object_get(json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"), "patch");
  assert_non_null(scale);
  assert_string_equal(json_string_value(json_object_get(scale, "operationId")), "patchAppsV1NamespacedDeploymentScale");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(scale, "x-kubernetes-group-version-kind"), "group")),
      "autoscaling");
  assert_non_null(json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/status"));

  check_refs(doc); /* every $ref resolves */

  /* deterministic: the same input gives the same document */
  json_t *again = schema_openapi_v3_doc(builtin, "apis/apps/v1", t_all, NRES);
  assert_true(json_equal(doc, again));
  json_decref(again);
  json_decref(doc);
  assert_null(schema_openapi_v3_doc(builtin, "apis/nosuch/v1", t_all, NRES));
}

static void test_openapi_core(void **state)
{
  json_t *doc = schema_openapi_v3_doc(builtin, "api/v1", t_all, NRES);
  assert_non_null(doc);
  assert_true(kubectl_finds_field_validation(doc, "", "v1", "Pod"));
  assert_true(kubectl_finds_field_validation(doc, "", "v1", "Node"));
  json_t *paths = json_object_get(doc, "paths");
  assert_non_null(json_object_get(paths, "/api/v1/namespaces/{namespace}/pods"));
  assert_non_null(json_object_get(paths, "/api/v1/pods"));
  /* cluster-scoped: no namespace segment and no all-namespaces list */
  json_t *nodes = json_object_get(paths, "/api/v1/nodes/{name}");
  assert_non_null(nodes);
  assert_string_equal(json_string_value(json_object_get(json_object_get(nodes, "get"), "operationId")),
                      "readCoreV1Node");
  assert_null(json_object_get(paths, "/api/v1/namespaces/{namespace}/nodes"));
  json_t *lst = json_object_get(json_object_get(paths, "/api/v1/pods"), "get");
  assert_string_equal(json_string_value(json_object_get(lst, "operationId")), "listCoreV1PodForAllNamespaces");
  json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
  json_t *ios = json_object_get(schemas, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
  assert_string_equal(json_string_value(json_object_get(ios, "format")), "int-or-string");
  json_t *tm = json_object_get(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Time");
  assert_string_equal(json_string_value(json_object_get(tm, "format")), "date-time");
  assert_non_null(json_object_get(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Status"));
  json_decref(doc);
}

/* A kind the registry serves but the table lacks still gets operations
 * (or kubectl would refuse to create it) and a free-form schema. */
static void test_openapi_kind_not_in_table(void **state)
{
  static const struct resource widgets = {
      .group = "example.com", .version = "v1", .plural = "widgets", .kind = "Widget", .namespaced = true};
  const struct resource *const res[] = {&widgets};
  json_t *doc = schema_openapi_v3_doc(builtin, "apis/example.com/v1", res, 1);
  assert_non_null(doc);
  assert_true(kubectl_finds_field_validation(doc, "example.com", "v1", "Widget"));
  json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
  json_t *w = json_object_get(schemas, "example.com.v1.Widget");
  assert_non_null(w);
  assert_true(json_is_true(json_object_get(w, "x-kubernetes-preserve-unknown-fields")));
  check_refs(doc); /* every $ref resolves */
  json_decref(doc);
}

/* Every kind of the table, served: each document kubectl could fetch is
 * self-contained and declares fieldValidation for each kind. */
static void test_openapi_all_kinds(void **state)
{
  struct resource rs[NKINDS];
  const struct resource *ptrs[NKINDS];
  char plurals[NKINDS][64];
  for (size_t i = 0; i < NKINDS; i++) {
    snprintf(plurals[i], sizeof plurals[i], "%ss", kinds[i][2]);
    rs[i] = (struct resource){.group = kinds[i][0],
                              .version = kinds[i][1],
                              .plural = plurals[i],
                              .kind = kinds[i][2],
                              .namespaced = true,
                              .subresources = RES_SUB_STATUS};
    ptrs[i] = &rs[i];
  }
  json_t *idx = schema_openapi_v3_index(builtin, ptrs, NKINDS);
  const char *gv;
  json_t *v;
  size_t ndocs = 0;
  json_object_foreach (json_object_get(idx, "paths"), gv, v) {
    json_t *doc = schema_openapi_v3_doc(builtin, gv, ptrs, NKINDS);
    assert_non_null(doc);
    check_refs(doc);
    for (size_t i = 0; i < NKINDS; i++) {
      char want[128];
      snprintf(want, sizeof want, "%s%s%s", kinds[i][0][0] ? "apis/" : "api/", kinds[i][0], kinds[i][0][0] ? "/" : "");
      strcat(want, kinds[i][1]);
      if (strcmp(want, gv) == 0 && !kubectl_finds_field_validation(doc, kinds[i][0], kinds[i][1], kinds[i][2]))
        fail_msg("%s: no PATCH with fieldValidation for %s", gv, kinds[i][2]);
    }
    json_decref(doc);
    ndocs++;
  }
  assert_int_equal(ndocs, 13);
  json_decref(idx);
}

static void test_openapi_index(void **state)
{
  json_t *idx = schema_openapi_v3_index(builtin, t_all, NRES);
  assert_non_null(idx);
  json_t *paths = json_object_get(idx, "paths");
  assert_int_equal(json_object_size(paths), 3);
  const char *core = json_string_value(json_object_get(json_object_get(paths, "api/v1"), "serverRelativeURL"));
  const char *apps = json_string_value(json_object_get(json_object_get(paths, "apis/apps/v1"), "serverRelativeURL"));
  assert_non_null(core);
  assert_non_null(apps);
  assert_int_equal(strncmp(core, "/openapi/v3/api/v1?hash=", 24), 0);
  assert_int_equal(strncmp(apps, "/openapi/v3/apis/apps/v1?hash=", 30), 0);
  assert_true(strlen(core) > 24 + 32);
  assert_non_null(json_object_get(paths, "apis/rbac.authorization.k8s.io/v1"));
  assert_string_not_equal(core + 24, apps + 30);

  /* the hash follows the document: dropping replicasets changes apps only */
  const struct resource *const fewer[] = {&t_pods, &t_nodes, &t_deploy, &t_crb};
  json_t *idx2 = schema_openapi_v3_index(builtin, fewer, 4);
  json_t *paths2 = json_object_get(idx2, "paths");
  assert_string_equal(json_string_value(json_object_get(json_object_get(paths2, "api/v1"), "serverRelativeURL")), core);
  assert_string_not_equal(
      json_string_value(json_object_get(json_object_get(paths2, "apis/apps/v1"), "serverRelativeURL")), apps);
  json_decref(idx2);
  json_decref(idx);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_good),
      cmocka_unit_test(test_parse_bad),
      cmocka_unit_test(test_smp_builtin),
      cmocka_unit_test(test_unknown_fields),
      cmocka_unit_test(test_builtin_kinds),
      cmocka_unit_test(test_openapi_apps),
      cmocka_unit_test(test_openapi_core),
      cmocka_unit_test(test_openapi_index),
      cmocka_unit_test(test_openapi_kind_not_in_table),
      cmocka_unit_test(test_openapi_all_kinds),
  };
  return cmocka_run_group_tests(tests, load_builtin, free_builtin);
}
