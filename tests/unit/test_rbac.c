/* Tests for the RBAC authorizer (apiserver/auth/rbac.c, rbac_rules.c,
 * rbac_escalation.c, authz.c): rule matching as upstream's RuleAllows
 * (table of upstream's cases), the bindings index (cluster and namespace
 * scope, groups, service accounts, RoleBindings of ClusterRoles, updates
 * and deletes), the reasons, the Forbidden messages and the escalation
 * check's coverage and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kube/json.h>

#include "auth/auth.h"
#include "auth/rbac_internal.h"

static json_t *J(const char *text)
{
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) fail_msg("bad JSON in test: %s: %s", e.text, text);
  return v;
}

/* ---- rule matching ---- */

struct match_case {
  const char *rule;
  bool resource;
  const char *verb, *group, *res, *sub, *name, *path;
  bool want;
};

static void test_rule_allows(void **state)
{
  (void)state;
  static const struct match_case cases[] = {
      /* verbs, groups, resources with stars */
      {"{\"verbs\":[\"*\"],\"apiGroups\":[\"*\"],\"resources\":[\"*\"]}", true, "get", "apps", "deployments", "", "",
       NULL, true},
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}", true, "get", "", "pods", "", "", NULL,
       true},
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}", true, "list", "", "pods", "", "", NULL,
       false},
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}", true, "get", "apps", "pods", "", "", NULL,
       false},
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}", true, "get", "", "services", "", "", NULL,
       false},
      /* subresources: "pods" does not grant "pods/log" */
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}", true, "get", "", "pods", "log", "", NULL,
       false},
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods/log\"]}", true, "get", "", "pods", "log", "",
       NULL, true},
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods/log\"]}", true, "get", "", "pods", "", "", NULL,
       false},
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"*\"],\"resources\":[\"*/scale\"]}", true, "get", "apps", "deployments",
       "scale", "", NULL, true},
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"*\"],\"resources\":[\"*/scale\"]}", true, "get", "apps", "deployments",
       "status", "", NULL, false},
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"*\"],\"resources\":[\"*/scale\"]}", true, "get", "apps", "deployments",
       "", "", NULL, false},
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"*\"],\"resources\":[\"*\"]}", true, "get", "", "pods", "exec", "", NULL,
       true},
      /* resourceNames: only requests with a matching name */
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],\"resourceNames\":[\"a\"]}", true,
       "get", "", "configmaps", "", "a", NULL, true},
      {"{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],\"resourceNames\":[\"a\"]}", true,
       "get", "", "configmaps", "", "b", NULL, false},
      {"{\"verbs\":[\"list\"],\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],\"resourceNames\":[\"a\"]}", true,
       "list", "", "configmaps", "", "", NULL, false},
      {"{\"verbs\":[\"create\"],\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],\"resourceNames\":[\"a\"]}", true,
       "create", "", "configmaps", "", "", NULL, false},
      {"{\"verbs\":[\"*\"],\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],\"resourceNames\":[\"a\",\"b\"]}", true,
       "delete", "", "configmaps", "", "b", NULL, true},
      /* non-resource URLs */
      {"{\"verbs\":[\"get\"],\"nonResourceURLs\":[\"/healthz\"]}", false, "get", NULL, NULL, NULL, NULL, "/healthz",
       true},
      {"{\"verbs\":[\"get\"],\"nonResourceURLs\":[\"/healthz\"]}", false, "post", NULL, NULL, NULL, NULL, "/healthz",
       false},
      {"{\"verbs\":[\"get\"],\"nonResourceURLs\":[\"/api\"]}", false, "get", NULL, NULL, NULL, NULL, "/api/v1", false},
      {"{\"verbs\":[\"get\"],\"nonResourceURLs\":[\"/api/*\"]}", false, "get", NULL, NULL, NULL, NULL, "/api/v1", true},
      {"{\"verbs\":[\"get\"],\"nonResourceURLs\":[\"/api/*\"]}", false, "get", NULL, NULL, NULL, NULL, "/api", false},
      {"{\"verbs\":[\"get\"],\"nonResourceURLs\":[\"/foo*\"]}", false, "get", NULL, NULL, NULL, NULL, "/foobar", true},
      {"{\"verbs\":[\"*\"],\"nonResourceURLs\":[\"*\"]}", false, "delete", NULL, NULL, NULL, NULL, "/anything", true},
      /* a resource rule never grants a path, nor a URL rule a resource */
      {"{\"verbs\":[\"*\"],\"apiGroups\":[\"*\"],\"resources\":[\"*\"]}", false, "get", NULL, NULL, NULL, NULL,
       "/healthz", false},
      {"{\"verbs\":[\"*\"],\"nonResourceURLs\":[\"*\"]}", true, "get", "", "pods", "", "", NULL, false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct match_case *c = &cases[i];
    json_t *arr = json_array();
    json_array_append_new(arr, J(c->rule));
    struct rbac_rules rules;
    rbac_rules_parse(arr, &rules);
    assert_int_equal(rules.n, 1);
    struct authz_attrs a = {.verb = c->verb,
                            .resource_request = c->resource,
                            .api_group = c->group,
                            .resource = c->res,
                            .subresource = c->sub,
                            .name = c->name,
                            .path = c->path};
    bool got = rbac_rule_allows(&rules.v[0], &a);
    if (got != c->want)
      fail_msg("case %zu: rule %s, %s %s/%s/%s name=%s path=%s: got %d want %d", i, c->rule, c->verb,
               c->group ? c->group : "-", c->res ? c->res : "-", c->sub ? c->sub : "-", c->name ? c->name : "-",
               c->path ? c->path : "-", got, c->want);
    rbac_rules_free(&rules);
    json_decref(arr);
  }
}

/* ---- the index and the authorizer ---- */

#define PUT(r, kind, text)                                                                                             \
  do {                                                                                                                 \
    json_t *o_ = J(text);                                                                                              \
    rbac_index_put(r, kind, o_);                                                                                       \
    json_decref(o_);                                                                                                   \
  } while (0)

static struct rbac *fixture(void)
{
  struct rbac *r = rbac_new_empty();
  PUT(r, "ClusterRole",
      "{\"metadata\":{\"name\":\"view\"},\"rules\":[{\"verbs\":[\"get\",\"list\",\"watch\"],"
      "\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"configmaps\"]}]}");
  PUT(r, "ClusterRole",
      "{\"metadata\":{\"name\":\"cluster-admin\"},\"rules\":[{\"verbs\":[\"*\"],\"apiGroups\":[\"*\"],"
      "\"resources\":[\"*\"]},{\"verbs\":[\"*\"],\"nonResourceURLs\":[\"*\"]}]}");
  PUT(r, "Role",
      "{\"metadata\":{\"name\":\"secrets\",\"namespace\":\"ns1\"},\"rules\":[{\"verbs\":[\"get\"],"
      "\"apiGroups\":[\"\"],\"resources\":[\"secrets\"]}]}");
  PUT(r, "ClusterRoleBinding",
      "{\"metadata\":{\"name\":\"admins\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":"
      "\"cluster-admin\"},\"subjects\":[{\"kind\":\"Group\",\"name\":\"system:masters\"}]}");
  PUT(r, "RoleBinding",
      "{\"metadata\":{\"name\":\"jane-view\",\"namespace\":\"ns1\"},\"roleRef\":{\"kind\":"
      "\"ClusterRole\",\"name\":\"view\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"jane\"}]}");
  PUT(r, "RoleBinding",
      "{\"metadata\":{\"name\":\"sa-secrets\",\"namespace\":\"ns1\"},\"roleRef\":{\"kind\":\"Role\","
      "\"name\":\"secrets\"},\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"builder\"}]}");
  PUT(r, "RoleBinding",
      "{\"metadata\":{\"name\":\"dangling\",\"namespace\":\"ns2\"},\"roleRef\":{\"kind\":\"Role\","
      "\"name\":\"nope\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"jane\"}]}");
  return r;
}

static enum authz_decision ask(struct rbac *r, struct auth_user *u, const char *verb, const char *res, const char *ns,
                               char *reason, size_t rl)
{
  struct authz_attrs a = {.user = u,
                          .verb = verb,
                          .resource_request = true,
                          .api_group = "",
                          .resource = res,
                          .subresource = "",
                          .ns = ns,
                          .name = ""};
  return rbac_authorize(r, &a, reason, rl);
}

static void test_authorize(void **state)
{
  (void)state;
  struct rbac *r = fixture();
  struct auth_user *jane = auth_user_new("jane");
  auth_user_add_group(jane, "system:authenticated");
  char why[512];
  assert_int_equal(ask(r, jane, "get", "pods", "ns1", why, sizeof why), AUTHZ_ALLOW);
  assert_string_equal(why, "RBAC: allowed by RoleBinding \"jane-view/ns1\" of ClusterRole \"view\" to User \"jane\"");
  assert_int_equal(ask(r, jane, "create", "pods", "ns1", why, sizeof why), AUTHZ_NO_OPINION);
  assert_string_equal(why, "");
  /* the RoleBinding grants only in its namespace */
  assert_int_equal(ask(r, jane, "get", "pods", "default", why, sizeof why), AUTHZ_NO_OPINION);
  assert_int_equal(ask(r, jane, "get", "pods", "", why, sizeof why), AUTHZ_NO_OPINION);
  /* a binding to a role that does not exist explains the denial */
  assert_int_equal(ask(r, jane, "get", "pods", "ns2", why, sizeof why), AUTHZ_NO_OPINION);
  assert_string_equal(why, "RBAC: role.rbac.authorization.k8s.io \"nope\" not found");

  struct auth_user *admin = auth_user_new("root");
  auth_user_add_group(admin, "system:authenticated");
  auth_user_add_group(admin, "system:masters");
  assert_int_equal(ask(r, admin, "delete", "nodes", "", why, sizeof why), AUTHZ_ALLOW);
  assert_string_equal(why, "RBAC: allowed by ClusterRoleBinding \"admins\" of ClusterRole \"cluster-admin\" to Group "
                           "\"system:masters\"");
  struct authz_attrs path = {.user = admin, .verb = "get", .path = "/metrics"};
  assert_int_equal(rbac_authorize(r, &path, NULL, 0), AUTHZ_ALLOW);

  /* service account subject without namespace: the binding's */
  struct auth_user *sa = auth_user_new("system:serviceaccount:ns1:builder");
  auth_user_add_group(sa, "system:serviceaccounts");
  auth_user_add_group(sa, "system:serviceaccounts:ns1");
  assert_int_equal(ask(r, sa, "get", "secrets", "ns1", why, sizeof why), AUTHZ_ALLOW);
  assert_string_equal(why, "RBAC: allowed by RoleBinding \"sa-secrets/ns1\" of Role \"secrets\" to ServiceAccount "
                           "\"builder/ns1\"");
  struct auth_user *other = auth_user_new("system:serviceaccount:ns2:builder");
  assert_int_equal(ask(r, other, "get", "secrets", "ns1", why, sizeof why), AUTHZ_NO_OPINION);

  /* updates and deletes take effect */
  PUT(r, "ClusterRole",
      "{\"metadata\":{\"name\":\"view\"},\"rules\":[{\"verbs\":[\"get\",\"list\",\"watch\",\"create\"],"
      "\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}]}");
  assert_int_equal(ask(r, jane, "create", "pods", "ns1", why, sizeof why), AUTHZ_ALLOW);
  assert_int_equal(ask(r, jane, "get", "configmaps", "ns1", why, sizeof why), AUTHZ_NO_OPINION);
  rbac_index_del(r, "RoleBinding", "ns1", "jane-view");
  assert_int_equal(ask(r, jane, "create", "pods", "ns1", why, sizeof why), AUTHZ_NO_OPINION);
  /* a binding whose subjects change is re-indexed */
  PUT(r, "ClusterRoleBinding",
      "{\"metadata\":{\"name\":\"admins\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":"
      "\"cluster-admin\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"jane\"}]}");
  assert_int_equal(ask(r, admin, "delete", "nodes", "", why, sizeof why), AUTHZ_NO_OPINION);
  assert_int_equal(ask(r, jane, "delete", "nodes", "", why, sizeof why), AUTHZ_ALLOW);
  assert_int_equal(rbac_index_count(r, "ClusterRoleBinding"), 1);
  /* no user: no opinion */
  assert_int_equal(ask(r, NULL, "get", "pods", "ns1", why, sizeof why), AUTHZ_NO_OPINION);

  auth_user_free(jane);
  auth_user_free(admin);
  auth_user_free(sa);
  auth_user_free(other);
  rbac_free(r);
}

/* ---- Forbidden ---- */

static void check_forbidden(const struct authz_attrs *a, const char *reason, const char *want_msg, const char *name,
                            const char *group, const char *kind)
{
  json_t *st = authz_forbidden(a, reason);
  assert_string_equal(kj_get_str(st, "message"), want_msg);
  assert_string_equal(kj_get_str(st, "reason"), "Forbidden");
  assert_string_equal(kj_get_str(st, "status"), "Failure");
  assert_int_equal(kj_get_int(st, "code", 0), 403);
  json_t *d = json_object_get(st, "details");
  assert_non_null(d);
  if (name) assert_string_equal(kj_get_str(d, "name"), name);
  else assert_null(json_object_get(d, "name"));
  if (group) assert_string_equal(kj_get_str(d, "group"), group);
  else assert_null(json_object_get(d, "group"));
  if (kind) assert_string_equal(kj_get_str(d, "kind"), kind);
  else assert_null(json_object_get(d, "kind"));
  json_decref(st);
}

static void test_forbidden_messages(void **state)
{
  (void)state;
  struct auth_user *jane = auth_user_new("jane");
  struct authz_attrs a = {.user = jane,
                          .verb = "create",
                          .resource_request = true,
                          .api_group = "",
                          .resource = "pods",
                          .subresource = "",
                          .ns = "default",
                          .name = ""};
  check_forbidden(&a, NULL,
                  "pods is forbidden: User \"jane\" cannot create resource \"pods\" in API group \"\" in the "
                  "namespace \"default\"",
                  NULL, NULL, "pods");
  a.verb = "get";
  a.subresource = "log";
  a.name = "web-0";
  check_forbidden(&a, "",
                  "pods \"web-0\" is forbidden: User \"jane\" cannot get resource \"pods/log\" in API group \"\" in "
                  "the namespace \"default\"",
                  "web-0", NULL, "pods");
  struct authz_attrs c = {.user = jane,
                          .verb = "list",
                          .resource_request = true,
                          .api_group = "apps",
                          .resource = "deployments",
                          .subresource = "",
                          .ns = "",
                          .name = ""};
  check_forbidden(&c, "RBAC: role.rbac.authorization.k8s.io \"x\" not found",
                  "deployments.apps is forbidden: User \"jane\" cannot list resource \"deployments\" in API group "
                  "\"apps\" at the cluster scope: RBAC: role.rbac.authorization.k8s.io \"x\" not found",
                  NULL, "apps", "deployments");
  struct authz_attrs p = {.user = jane, .verb = "get", .resource_request = false, .path = "/foo"};
  check_forbidden(&p, NULL, "forbidden: User \"jane\" cannot get path \"/foo\"", NULL, NULL, NULL);
  struct auth_user *anon = auth_user_new("system:anonymous");
  struct authz_attrs n = {.user = anon,
                          .verb = "get",
                          .resource_request = true,
                          .api_group = "",
                          .resource = "nodes",
                          .subresource = "",
                          .ns = "",
                          .name = "n1"};
  check_forbidden(&n, NULL,
                  "nodes \"n1\" is forbidden: User \"system:anonymous\" cannot get resource \"nodes\" in API group "
                  "\"\" at the cluster scope",
                  "n1", NULL, "nodes");
  auth_user_free(jane);
  auth_user_free(anon);
}

/* ---- coverage and escalation ---- */

static bool covers(const char *owner_json, const char *servant_json, char **missing)
{
  json_t *o = J(owner_json), *s = J(servant_json);
  struct rbac_rules or, sr;
  rbac_rules_parse(o, & or);
  rbac_rules_parse(s, &sr);
  const struct rbac_rule **ov = calloc(or.n + 1, sizeof(*ov));
  for (size_t i = 0; i < or.n; i++) ov[i] = & or.v[i];
  bool ok = rbac_rules_cover(ov, or.n, &sr, missing);
  free(ov);
  rbac_rules_free(& or);
  rbac_rules_free(&sr);
  json_decref(o);
  json_decref(s);
  return ok;
}

static void test_covers(void **state)
{
  (void)state;
  char *m = NULL;
  assert_true(covers(
      "[{\"verbs\":[\"*\"],\"apiGroups\":[\"*\"],\"resources\":[\"*\"]}]",
      "[{\"verbs\":[\"get\",\"delete\"],\"apiGroups\":[\"apps\"],\"resources\":[\"deployments/scale\"]}]", NULL));
  assert_true(covers("[{\"verbs\":[\"get\"],\"apiGroups\":[\"apps\"],\"resources\":[\"*/scale\"]}]",
                     "[{\"verbs\":[\"get\"],\"apiGroups\":[\"apps\"],\"resources\":[\"deployments/scale\"]}]", NULL));
  /* owner names restrict: an unnamed servant rule is not covered */
  assert_false(
      covers("[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],\"resourceNames\":[\"a\"]}]",
             "[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"secrets\"]}]", NULL));
  assert_true(covers(
      "[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"secrets\"]}]",
      "[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],\"resourceNames\":[\"a\"]}]", NULL));
  assert_true(covers("[{\"verbs\":[\"get\"],\"nonResourceURLs\":[\"/api/*\"]}]",
                     "[{\"verbs\":[\"get\"],\"nonResourceURLs\":[\"/api/v1\"]}]", NULL));
  /* split across two owner rules, each piece covered by one */
  assert_true(covers("[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]},"
                     "{\"verbs\":[\"list\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}]",
                     "[{\"verbs\":[\"get\",\"list\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}]", NULL));
  assert_false(
      covers("[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}]",
             "[{\"verbs\":[\"get\",\"delete\",\"create\"],\"apiGroups\":[\"\",\"apps\"],\"resources\":[\"pods\"]},"
             "{\"verbs\":[\"get\"],\"nonResourceURLs\":[\"/metrics\"]}]",
             &m));
  assert_string_equal(m, "{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\" \"create\"]}\n"
                         "{APIGroups:[\"apps\"], Resources:[\"pods\"], Verbs:[\"get\" \"delete\" \"create\"]}\n"
                         "{NonResourceURLs:[\"/metrics\"], Verbs:[\"get\"]}");
  free(m);
}

static void test_escalation_message(void **state)
{
  (void)state;
  struct rbac *r = fixture();
  struct auth_user *jane = auth_user_new("jane");
  auth_user_add_group(jane, "system:authenticated");
  json_t *want = J("[{\"verbs\":[\"get\",\"list\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"secrets\"]}]");
  struct rbac_rules rules;
  rbac_rules_parse(want, &rules);
  /* jane views pods in ns1 but holds nothing on secrets */
  json_t *st = rbac_confirm_no_escalation(r, jane, "ns1", &rules, "roles", "r1");
  assert_non_null(st);
  assert_int_equal(kj_get_int(st, "code", 0), 403);
  assert_string_equal(kj_get_str(st, "reason"), "Forbidden");
  assert_string_equal(kj_get_str(st, "message"),
                      "roles.rbac.authorization.k8s.io \"r1\" is forbidden: user \"jane\" "
                      "(groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently "
                      "held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\"]}");
  assert_string_equal(kj_get_str(st, "details.kind"), "roles");
  assert_string_equal(kj_get_str(st, "details.group"), "rbac.authorization.k8s.io");
  json_decref(st);
  /* in another namespace jane holds nothing at all */
  json_t *pods = J("[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}]");
  struct rbac_rules pr;
  rbac_rules_parse(pods, &pr);
  st = rbac_confirm_no_escalation(r, jane, "ns1", &pr, "roles", "r1");
  assert_null(st);
  st = rbac_confirm_no_escalation(r, jane, "default", &pr, "roles", "r1");
  assert_non_null(st);
  json_decref(st);
  /* system:masters holds everything, and is allowed to escalate anyway */
  struct auth_user *root = auth_user_new("root");
  auth_user_add_group(root, "system:masters");
  assert_true(rbac_escalation_allowed(root));
  assert_false(rbac_escalation_allowed(jane));
  assert_null(rbac_confirm_no_escalation(r, root, "default", &rules, "roles", "r1"));
  rbac_rules_free(&rules);
  rbac_rules_free(&pr);
  json_decref(want);
  json_decref(pods);
  auth_user_free(jane);
  auth_user_free(root);
  rbac_free(r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rule_allows),        cmocka_unit_test(test_authorize),
      cmocka_unit_test(test_forbidden_messages), cmocka_unit_test(test_covers),
      cmocka_unit_test(test_escalation_message),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
