/* Tests for the admission webhook plugins' pure parts
 * (apiserver/admission/webhook_match.c, webhook_review.c) and the
 * configuration kinds' defaults and validation
 * (registry/webhookconfigurations.c): rule matching as upstream's
 * rules.Matcher (table), selectors, the AdmissionReview sent, and the
 * checks on the answer (uid, kind, patchType, base64 JSONPatch, garbage). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kube/base64.h>
#include <kube/json.h>
#include <kube/status.h>

#include "admission/webhook.h"
#include "auth/auth.h"
#include "registry/kinds_ext.h"
#include "registry/registry.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad test JSON: %s: %s", e.text, s);
  return v;
}

static struct webhook_attrs pod_create(void)
{
  return (struct webhook_attrs){.operation = "CREATE",
                                .group = "",
                                .version = "v1",
                                .resource = "pods",
                                .kind = "Pod",
                                .namespaced = true,
                                .namespace_ = "default",
                                .name = "p1"};
}

/* ---- rules ---- */

struct rule_case {
  const char *rule;
  const char *op, *group, *version, *resource, *sub, *ns;
  bool namespaced;
  bool want;
};

static void test_rules_table(void **state)
{
  (void)state;
  static const struct rule_case cases[] = {
      /* operations */
      {"{\"operations\":[\"CREATE\"],\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"resources\":[\"pods\"]}", "CREATE",
       "", "v1", "pods", "", "default", true, true},
      {"{\"operations\":[\"UPDATE\"],\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"resources\":[\"pods\"]}", "CREATE",
       "", "v1", "pods", "", "default", true, false},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"resources\":[\"pods\"]}", "DELETE", "",
       "v1", "pods", "", "default", true, true},
      /* groups and versions */
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"apps\"],\"apiVersions\":[\"v1\"],\"resources\":[\"pods\"]}", "CREATE",
       "", "v1", "pods", "", "default", true, false},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"deployments\"]}",
       "CREATE", "apps", "v1", "deployments", "", "default", true, true},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"apps\"],\"apiVersions\":[\"v1beta1\"],\"resources\":[\"*\"]}",
       "CREATE", "apps", "v1", "deployments", "", "default", true, false},
      /* resources and subresources */
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*\"]}", "UPDATE", "",
       "v1", "pods", "status", "default", true, false},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*\"]}", "UPDATE", "",
       "v1", "pods", "", "default", true, true},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*/*\"]}", "UPDATE", "",
       "v1", "pods", "status", "default", true, true},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"pods\"]}", "UPDATE", "",
       "v1", "pods", "status", "default", true, false},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"pods/status\"]}",
       "UPDATE", "", "v1", "pods", "status", "default", true, true},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"pods/status\"]}",
       "UPDATE", "", "v1", "pods", "", "default", true, false},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"pods/*\"]}", "UPDATE",
       "", "v1", "pods", "ephemeralcontainers", "default", true, true},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*/status\"]}", "UPDATE",
       "apps", "v1", "deployments", "status", "default", true, true},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*/status\"]}", "UPDATE",
       "apps", "v1", "deployments", "scale", "default", true, false},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"configmaps\"]}",
       "CREATE", "", "v1", "pods", "", "default", true, false},
      /* scope */
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*\"],\"scope\":"
       "\"Namespaced\"}",
       "CREATE", "", "v1", "pods", "", "default", true, true},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*\"],\"scope\":"
       "\"Namespaced\"}",
       "CREATE", "", "v1", "nodes", "", "", false, false},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*\"],\"scope\":"
       "\"Cluster\"}",
       "CREATE", "", "v1", "nodes", "", "", false, true},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*\"],\"scope\":"
       "\"Cluster\"}",
       "CREATE", "", "v1", "pods", "", "default", true, false},
      /* a Namespace object is cluster scoped even though its request names a namespace */
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*\"],\"scope\":"
       "\"Cluster\"}",
       "CREATE", "", "v1", "namespaces", "", "ns1", false, true},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*\"],\"scope\":"
       "\"Namespaced\"}",
       "CREATE", "", "v1", "namespaces", "", "ns1", false, false},
      {"{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*\"],\"scope\":\"*\"}",
       "CREATE", "", "v1", "nodes", "", "", false, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct rule_case *c = &cases[i];
    json_t *rules = json_array();
    json_array_append_new(rules, J(c->rule));
    struct webhook_attrs a = {.operation = c->op,
                              .group = c->group,
                              .version = c->version,
                              .resource = c->resource,
                              .subresource = c->sub,
                              .kind = "X",
                              .namespaced = c->namespaced,
                              .namespace_ = c->ns};
    if (webhook_rules_match(rules, &a) != c->want)
      fail_msg("case %zu: rule %s on %s %s/%s %s/%s ns=%s: want %d", i, c->rule, c->op, c->group, c->version,
               c->resource, c->sub, c->ns, c->want);
    json_decref(rules);
  }
  /* several rules: any one matching is enough; none is nothing */
  json_t *rules = J("[{\"operations\":[\"DELETE\"],\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"resources\":[\"pods\"]},"
                    "{\"operations\":[\"CREATE\"],\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"resources\":[\"pods\"]}]");
  struct webhook_attrs a = pod_create();
  assert_true(webhook_rules_match(rules, &a));
  json_decref(rules);
  rules = json_array();
  assert_false(webhook_rules_match(rules, &a));
  json_decref(rules);
}

static void test_exempt(void **state)
{
  (void)state;
  struct webhook_attrs a = pod_create();
  assert_false(webhook_is_exempt(&a));
  a.group = "admissionregistration.k8s.io";
  a.resource = "validatingwebhookconfigurations";
  assert_true(webhook_is_exempt(&a));
  a.resource = "mutatingwebhookconfigurations";
  assert_true(webhook_is_exempt(&a));
}

static void test_selectors(void **state)
{
  (void)state;
  json_t *obj = J("{\"metadata\":{\"name\":\"p1\",\"labels\":{\"app\":\"web\"}}}");
  json_t *old = J("{\"metadata\":{\"name\":\"p1\",\"labels\":{\"tier\":\"db\"}}}");
  struct webhook_attrs a = pod_create();
  a.object = obj;
  json_t *sel = J("{\"matchLabels\":{\"app\":\"web\"}}");
  assert_true(webhook_object_selector_matches(sel, &a));
  json_decref(sel);
  sel = J("{\"matchLabels\":{\"tier\":\"db\"}}");
  assert_false(webhook_object_selector_matches(sel, &a));
  a.old_object = old; /* an update: the old object's labels count too */
  assert_true(webhook_object_selector_matches(sel, &a));
  json_decref(sel);
  sel = J("{\"matchExpressions\":[{\"key\":\"skip\",\"operator\":\"DoesNotExist\"}]}");
  assert_true(webhook_object_selector_matches(sel, &a));
  json_decref(sel);
  sel = J("{}");
  assert_true(webhook_object_selector_matches(sel, &a));
  assert_true(webhook_object_selector_matches(NULL, &a));
  json_decref(sel);

  /* namespaceSelector: the namespace's labels; a Namespace's own; not for
   * other cluster-scoped resources */
  json_t *ns = J("{\"metadata\":{\"name\":\"default\",\"labels\":{\"env\":\"prod\"}}}");
  sel = J("{\"matchLabels\":{\"env\":\"prod\"}}");
  assert_true(webhook_namespace_selector_applies(&a));
  assert_true(webhook_selector_matches(sel, webhook_namespace_labels(&a, ns)));
  assert_false(webhook_selector_matches(sel, webhook_namespace_labels(&a, NULL)));
  json_t *nsobj = J("{\"metadata\":{\"name\":\"team\",\"labels\":{\"env\":\"prod\"}}}");
  struct webhook_attrs n = {.operation = "CREATE", .group = "", .version = "v1", .resource = "namespaces",
                            .kind = "Namespace", .namespace_ = "team", .name = "team", .object = nsobj};
  assert_true(webhook_namespace_selector_applies(&n));
  assert_true(webhook_selector_matches(sel, webhook_namespace_labels(&n, NULL)));
  n.object = NULL;
  n.old_object = nsobj; /* delete: the old object's */
  assert_true(webhook_selector_matches(sel, webhook_namespace_labels(&n, NULL)));
  struct webhook_attrs node = {.operation = "CREATE", .group = "", .version = "v1", .resource = "nodes",
                               .kind = "Node", .namespaced = false};
  assert_false(webhook_namespace_selector_applies(&node));
  json_decref(sel);
  json_decref(ns);
  json_decref(nsobj);
  json_decref(obj);
  json_decref(old);
}

/* ---- AdmissionReview ---- */

static void test_review_request(void **state)
{
  (void)state;
  json_t *obj = J("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\"}}");
  json_t *old = J("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\",\"labels\":{\"a\":\"b\"}}}");
  json_t *opts = J("{\"kind\":\"UpdateOptions\",\"apiVersion\":\"meta.k8s.io/v1\"}");
  struct auth_user *u = auth_user_new("jane");
  auth_user_add_group(u, "devs");
  struct webhook_attrs a = pod_create();
  a.operation = "UPDATE";
  a.subresource = "status";
  a.object = obj;
  a.old_object = old;
  a.options = opts;
  a.dry_run = true;
  a.user = u;
  json_t *r = webhook_review_new(&a, "v1", "uid-1");
  assert_string_equal(kj_get_str(r, "apiVersion"), "admission.k8s.io/v1");
  assert_string_equal(kj_get_str(r, "kind"), "AdmissionReview");
  assert_string_equal(kj_get_str(r, "request.uid"), "uid-1");
  assert_string_equal(kj_get_str(r, "request.kind.kind"), "Pod");
  assert_string_equal(kj_get_str(r, "request.kind.version"), "v1");
  assert_string_equal(kj_get_str(r, "request.resource.resource"), "pods");
  assert_string_equal(kj_get_str(r, "request.subResource"), "status");
  assert_string_equal(kj_get_str(r, "request.requestResource.resource"), "pods");
  assert_string_equal(kj_get_str(r, "request.requestSubResource"), "status");
  assert_string_equal(kj_get_str(r, "request.name"), "p1");
  assert_string_equal(kj_get_str(r, "request.namespace"), "default");
  assert_string_equal(kj_get_str(r, "request.operation"), "UPDATE");
  assert_string_equal(kj_get_str(r, "request.userInfo.username"), "jane");
  assert_true(json_equal(kj_get(r, "request.object"), obj));
  assert_true(json_equal(kj_get(r, "request.oldObject"), old));
  assert_true(json_equal(kj_get(r, "request.options"), opts));
  assert_true(kj_get_bool(r, "request.dryRun", false));
  json_t *groups = kj_get(r, "request.userInfo.groups");
  assert_true(json_is_array(groups));
  assert_string_equal(json_string_value(json_array_get(groups, 0)), "devs");
  json_decref(r);

  /* create: no oldObject; v1beta1 differs in apiVersion */
  a.operation = "CREATE";
  a.subresource = NULL;
  a.old_object = NULL;
  a.user = NULL;
  r = webhook_review_new(&a, "v1beta1", "uid-2");
  assert_string_equal(kj_get_str(r, "apiVersion"), "admission.k8s.io/v1beta1");
  assert_true(json_is_null(kj_get(r, "request.oldObject")));
  assert_null(kj_get(r, "request.subResource"));
  assert_string_equal(kj_get_str(r, "request.userInfo.username"), "system:admin");
  json_decref(r);
  /* matched through an equivalent version: requestKind names the client's */
  a.version = "v1";
  a.request_version = "v2";
  r = webhook_review_new(&a, "v1", "uid-3");
  assert_string_equal(kj_get_str(r, "request.kind.version"), "v1");
  assert_string_equal(kj_get_str(r, "request.resource.version"), "v1");
  assert_string_equal(kj_get_str(r, "request.requestKind.version"), "v2");
  assert_string_equal(kj_get_str(r, "request.requestResource.version"), "v2");
  json_decref(r);
  auth_user_free(u);
  json_decref(obj);
  json_decref(old);
  json_decref(opts);
}

static void test_review_version(void **state)
{
  (void)state;
  json_t *v = J("[\"v2\",\"v1beta1\",\"v1\"]");
  assert_string_equal(webhook_review_version(v), "v1beta1");
  json_decref(v);
  v = J("[\"v1\",\"v1beta1\"]");
  assert_string_equal(webhook_review_version(v), "v1");
  json_decref(v);
  v = J("[\"v2\"]");
  assert_null(webhook_review_version(v));
  json_decref(v);
}

/* parse(answer) -> 0/-1 and the message */
static int parse(const char *answer, const char *version, bool mutating, struct webhook_result *res, char *err)
{
  json_t *b = J(answer);
  int rc = webhook_review_parse(b, version, "u1", mutating, res, err, 512);
  json_decref(b);
  return rc;
}

static void test_response_parse(void **state)
{
  (void)state;
  struct webhook_result res;
  char err[512];
  /* allowed, with warnings */
  assert_int_equal(parse("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":"
                         "\"u1\",\"allowed\":true,\"warnings\":[\"w1\",\"w2\"]}}",
                         "v1", false, &res, err),
                   0);
  assert_true(res.allowed);
  assert_int_equal(json_array_size(res.warnings), 2);
  webhook_result_clear(&res);
  /* denied with a status */
  assert_int_equal(parse("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":"
                         "\"u1\",\"allowed\":false,\"status\":{\"code\":422,\"message\":\"no\"}}}",
                         "v1", false, &res, err),
                   0);
  assert_false(res.allowed);
  assert_int_equal(kj_get_int(res.status, "code", 0), 422);
  webhook_result_clear(&res);
  /* a patch: base64 of a JSON array */
  const char *ops = "[{\"op\":\"add\",\"path\":\"/metadata/labels\",\"value\":{\"a\":\"b\"}}]";
  char *b64 = kb64_encode(ops, strlen(ops), KB64_STD);
  char answer[1024];
  snprintf(answer, sizeof answer,
           "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"u1\","
           "\"allowed\":true,\"patchType\":\"JSONPatch\",\"patch\":\"%s\"}}",
           b64);
  assert_int_equal(parse(answer, "v1", true, &res, err), 0);
  assert_int_equal(json_array_size(res.patch), 1);
  assert_string_equal(kj_get_str(json_array_get(res.patch, 0), "op"), "add");
  webhook_result_clear(&res);
  /* ... but not from a validating webhook */
  assert_int_equal(parse(answer, "v1", false, &res, err), -1);
  assert_string_equal(err, "validating webhook may not return response.patchType");
  free(b64);

  struct {
    const char *answer;
    const char *msg;
  } bad[] = {
      {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"other\","
       "\"allowed\":true}}",
       "expected response.uid=\"u1\", got \"other\""},
      {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", "webhook response was absent"},
      {"{\"response\":{\"uid\":\"u1\",\"allowed\":true}}",
       "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got /, Kind="},
      {"{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"u1\","
       "\"allowed\":true}}",
       "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got admission.k8s.io/v1beta1, "
       "Kind=AdmissionReview"},
      {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"u1\","
       "\"allowed\":true,\"patch\":\"W10=\"}}",
       "webhook returned response.patch but not response.patchType"},
      {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"u1\","
       "\"allowed\":true,\"patchType\":\"MergePatch\",\"patch\":\"e30=\"}}",
       "webhook returned invalid response.patchType of \"MergePatch\""},
      {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"u1\","
       "\"allowed\":true,\"patchType\":\"JSONPatch\",\"patch\":\"!!!\"}}",
       "illegal base64 data at input byte 0"},
      {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"u1\","
       "\"allowed\":true,\"patchType\":\"JSONPatch\",\"patch\":\"e30=\"}}",
       "json: cannot unmarshal object into Go value of type jsonpatch.Patch"},
      {"[1,2]", "the webhook answered no AdmissionReview object"},
      {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"u1\","
       "\"allowed\":\"yes\"}}",
       "response.allowed is not a boolean"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    if (parse(bad[i].answer, "v1", true, &res, err) != -1) fail_msg("case %zu accepted: %s", i, bad[i].answer);
    if (strcmp(err, bad[i].msg) != 0) fail_msg("case %zu: got [%s] want [%s]", i, err, bad[i].msg);
    assert_null(res.patch);
    assert_null(res.status);
  }
  /* v1beta1 answers need not name their kind */
  assert_int_equal(parse("{\"response\":{\"uid\":\"u1\",\"allowed\":true}}", "v1beta1", false, &res, err), 0);
  webhook_result_clear(&res);
}

static void test_statuses(void **state)
{
  (void)state;
  struct webhook_attrs a = pod_create();
  json_t *st = webhook_denied_status(&a, "x.example.com", NULL);
  assert_int_equal(kstatus_code(st), 403);
  assert_string_equal(kstatus_reason(st), "Forbidden");
  assert_string_equal(kj_get_str(st, "message"),
                      "pods \"p1\" is forbidden: admission webhook \"x.example.com\" denied the request without "
                      "explanation");
  assert_string_equal(kj_get_str(st, "details.kind"), "pods");
  json_decref(st);
  json_t *result = J("{\"code\":429,\"reason\":\"TooManyRequests\",\"message\":\"slow down\"}");
  a.group = "apps";
  a.resource = "deployments";
  st = webhook_denied_status(&a, "x.example.com", result);
  assert_int_equal(kstatus_code(st), 429);
  assert_string_equal(kstatus_reason(st), "TooManyRequests");
  assert_string_equal(kj_get_str(st, "message"),
                      "deployments.apps \"p1\" is forbidden: admission webhook \"x.example.com\" denied the request: "
                      "slow down");
  json_decref(result);
  json_decref(st);
  result = J("{\"code\":500,\"message\":\"boom\"}");
  st = webhook_denied_status(&a, "x.example.com", result);
  assert_string_equal(kstatus_reason(st), "InternalError");
  assert_string_equal(kj_get_str(st, "message"),
                      "Internal error occurred: admission webhook \"x.example.com\" denied the request: boom");
  json_decref(result);
  json_decref(st);
  st = webhook_call_error_status("x.example.com", "failed to call webhook: Post \"https://h/x\": refused");
  assert_int_equal(kstatus_code(st), 500);
  assert_string_equal(kstatus_reason(st), "InternalError");
  assert_string_equal(kj_get_str(st, "message"), "Internal error occurred: failed calling webhook \"x.example.com\": "
                                                 "failed to call webhook: Post \"https://h/x\": refused");
  json_decref(st);
}

/* ---- the configuration kinds ---- */

static json_t *validate(const struct resource *res, const char *obj_text)
{
  json_t *obj = J(obj_text);
  res->defaults(obj);
  json_t *causes = json_array();
  struct reg_request rq = {.verb = "create", .user = "test"};
  res->validate(&rq, obj, NULL, causes);
  json_decref(obj);
  return causes;
}

static bool has_cause(const json_t *causes, const char *field, const char *msg)
{
  size_t i;
  json_t *c;
  json_array_foreach (causes, i, c) {
    const char *f = kj_get_str(c, "field"), *m = kj_get_str(c, "message");
    if (f && m && !strcmp(f, field) && strstr(m, msg)) return true;
  }
  return false;
}

static void test_configuration_validation(void **state)
{
  (void)state;
  json_t *c = validate(&reg_validatingwebhookconfigurations,
                       "{\"metadata\":{\"name\":\"ok\"},\"webhooks\":[{\"name\":\"a.b.c\",\"clientConfig\":{\"url\":"
                       "\"https://127.0.0.1:9443/x\"},\"rules\":[{\"operations\":[\"CREATE\"],\"apiGroups\":[\"\"],"
                       "\"apiVersions\":[\"v1\"],\"resources\":[\"pods\"]}],\"sideEffects\":\"None\","
                       "\"admissionReviewVersions\":[\"v1\"]}]}");
  if (json_array_size(c) != 0) fail_msg("valid configuration refused: %s", json_dumps(c, 0));
  json_decref(c);
  c = validate(&reg_mutatingwebhookconfigurations,
               "{\"metadata\":{\"name\":\"bad\"},\"webhooks\":["
               "{\"name\":\"a.b.c\",\"clientConfig\":{\"url\":\"https://u@h/x?q=1\"},\"rules\":[{\"operations\":[],"
               "\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"resources\":[\"pods\"],\"scope\":\"Everywhere\"}],"
               "\"admissionReviewVersions\":[\"v1\"],\"reinvocationPolicy\":\"Always\",\"failurePolicy\":\"Maybe\"},"
               "{\"name\":\"a.b.c\",\"clientConfig\":{},\"sideEffects\":\"None\",\"admissionReviewVersions\":[]},"
               "{\"name\":\"x.y.z\",\"clientConfig\":{\"service\":{\"namespace\":\"ns\",\"name\":\"s\",\"path\":\"p\","
               "\"port\":70000}},\"sideEffects\":\"None\",\"admissionReviewVersions\":[\"v1\"],\"timeoutSeconds\":0}]}");
  assert_true(has_cause(c, "webhooks[0].clientConfig.url", "user information is not permitted in the URL"));
  assert_true(has_cause(c, "webhooks[0].clientConfig.url", "query parameters are not permitted in the URL"));
  assert_true(has_cause(c, "webhooks[0].rules[0].operations", "Required value"));
  assert_true(has_cause(c, "webhooks[0].rules[0].scope", "Unsupported value: \"Everywhere\""));
  assert_true(has_cause(c, "webhooks[0].sideEffects", "Required value: must specify one of None, NoneOnDryRun"));
  assert_true(has_cause(c, "webhooks[0].reinvocationPolicy", "Unsupported value: \"Always\""));
  assert_true(has_cause(c, "webhooks[0].failurePolicy", "Unsupported value: \"Maybe\""));
  assert_true(has_cause(c, "webhooks[1].name", "Duplicate value: \"a.b.c\""));
  assert_true(has_cause(c, "webhooks[1].clientConfig", "exactly one of url or service is required"));
  assert_true(has_cause(c, "webhooks[1].admissionReviewVersions", "must specify one of v1, v1beta1"));
  assert_true(has_cause(c, "webhooks[2].clientConfig.service.path", "must start with a '/'"));
  assert_true(has_cause(c, "webhooks[2].clientConfig.service.port", "port is not valid"));
  assert_true(has_cause(c, "webhooks[2].timeoutSeconds", "the timeout value must be between 1 and 30 seconds"));
  json_decref(c);
}

static void test_configuration_defaults(void **state)
{
  (void)state;
  json_t *o = J("{\"webhooks\":[{\"name\":\"a.b.c\",\"clientConfig\":{\"service\":{\"namespace\":\"n\",\"name\":"
                "\"s\"}},\"rules\":[{\"operations\":[\"*\"]}],\"timeoutSeconds\":3}]}");
  reg_mutatingwebhookconfigurations.defaults(o);
  json_t *h = json_array_get(json_object_get(o, "webhooks"), 0);
  assert_string_equal(kj_get_str(h, "failurePolicy"), "Fail");
  assert_string_equal(kj_get_str(h, "matchPolicy"), "Equivalent");
  assert_string_equal(kj_get_str(h, "reinvocationPolicy"), "Never");
  assert_int_equal(kj_get_int(h, "timeoutSeconds", 0), 3);
  assert_int_equal(kj_get_int(h, "clientConfig.service.port", 0), 443);
  assert_true(json_is_object(kj_get(h, "namespaceSelector")));
  assert_true(json_is_object(kj_get(h, "objectSelector")));
  assert_string_equal(kj_get_str(json_array_get(kj_get(h, "rules"), 0), "scope"), "*");
  json_decref(o);
  o = J("{\"webhooks\":[{\"name\":\"a.b.c\"}]}");
  reg_validatingwebhookconfigurations.defaults(o);
  h = json_array_get(json_object_get(o, "webhooks"), 0);
  assert_int_equal(kj_get_int(h, "timeoutSeconds", 0), 10);
  assert_null(kj_get(h, "reinvocationPolicy"));
  json_decref(o);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rules_table),       cmocka_unit_test(test_exempt),
      cmocka_unit_test(test_selectors),         cmocka_unit_test(test_review_request),
      cmocka_unit_test(test_review_version),    cmocka_unit_test(test_response_parse),
      cmocka_unit_test(test_statuses),          cmocka_unit_test(test_configuration_validation),
      cmocka_unit_test(test_configuration_defaults),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
