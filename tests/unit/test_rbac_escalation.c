/* Tests for privilege-escalation prevention on RBAC writes
 * (apiserver/registry/rbac.c admit hooks over apiserver/auth): a user
 * with a constructed identity creates Roles, ClusterRoles and bindings;
 * rules it does not hold are refused with upstream's 403 unless it may
 * `escalate` / `bind`, is in system:masters, or the write has no user
 * (the insecure port). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kube/json.h>

#include "apiserver.h"
#include "auth/auth.h"
#include "auth/authn.h"
#include "auth/rbac_internal.h"
#include "registry/kinds_ext.h"
#include "registry/registry.h"

static json_t *J(const char *text)
{
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) fail_msg("bad JSON in test: %s: %s", e.text, text);
  return v;
}

static void put(struct rbac *r, const char *kind, const char *text)
{
  json_t *o = J(text);
  rbac_index_put(r, kind, o);
  json_decref(o);
}

struct env {
  struct apiserver srv;
  struct auth_user *jane;
};

static int setup(void **state)
{
  struct env *e = calloc(1, sizeof(*e));
  struct rbac *r = rbac_new_empty();
  /* jane edits pods in ns1, and may bind the "pod-reader" role there */
  put(r, "ClusterRole",
      "{\"metadata\":{\"name\":\"pods-rw\"},\"rules\":[{\"verbs\":[\"get\",\"list\",\"create\",\"delete\"],"
      "\"apiGroups\":[\"\"],\"resources\":[\"pods\"]},{\"verbs\":[\"get\",\"create\",\"update\"],\"apiGroups\":["
      "\"rbac.authorization.k8s.io\"],\"resources\":[\"roles\",\"rolebindings\"]}]}");
  put(r, "ClusterRole",
      "{\"metadata\":{\"name\":\"secrets-admin\"},\"rules\":[{\"verbs\":[\"*\"],\"apiGroups\":[\"\"],\"resources\":["
      "\"secrets\"]}]}");
  put(r, "RoleBinding",
      "{\"metadata\":{\"name\":\"jane\",\"namespace\":\"ns1\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":"
      "\"pods-rw\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"jane\"}]}");
  put(r, "Role",
      "{\"metadata\":{\"name\":\"binder\",\"namespace\":\"ns1\"},\"rules\":[{\"verbs\":[\"bind\"],\"apiGroups\":["
      "\"rbac.authorization.k8s.io\"],\"resources\":[\"clusterroles\"],\"resourceNames\":[\"secrets-admin\"]}]}");
  put(r, "RoleBinding",
      "{\"metadata\":{\"name\":\"jane-binder\",\"namespace\":\"ns1\"},\"roleRef\":{\"kind\":\"Role\",\"name\":"
      "\"binder\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"jane\"}]}");
  e->srv.rbac = r;
  struct authn_config ac = {.authorization_mode = "Node,RBAC"};
  char err[256];
  assert_int_equal(authn_setup(&e->srv, &ac, err, sizeof err), 0);
  e->jane = auth_user_new("jane");
  auth_user_add_group(e->jane, "system:authenticated");
  *state = e;
  return 0;
}

static int teardown(void **state)
{
  struct env *e = *state;
  rbac_free(e->srv.rbac);
  authn_free(&e->srv);
  auth_user_free(e->jane);
  free(e);
  return 0;
}

static json_t *admit(struct env *e, const struct auth_user *u, const struct resource *res, const char *obj_text,
                     const char *old_text)
{
  json_t *obj = J(obj_text), *old = old_text ? J(old_text) : NULL;
  struct reg_request rq = {
      .srv = &e->srv, .verb = old ? "update" : "create", .user = u ? u->name : "system:admin", .auth = u, .res = res};
  json_t *st = res->admit(&rq, obj, old);
  json_decref(obj);
  json_decref(old);
  return st;
}

#define ROLE_SECRETS                                                                                                   \
  "{\"metadata\":{\"name\":\"r1\",\"namespace\":\"ns1\"},\"rules\":[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],"        \
  "\"resources\":[\"pods\",\"secrets\"]}]}"

static void test_role_escalation(void **state)
{
  struct env *e = *state;
  json_t *st = admit(e, e->jane, &reg_roles, ROLE_SECRETS, NULL);
  assert_non_null(st);
  assert_int_equal(kj_get_int(st, "code", 0), 403);
  assert_string_equal(kj_get_str(st, "reason"), "Forbidden");
  assert_string_equal(kj_get_str(st, "message"),
                      "roles.rbac.authorization.k8s.io \"r1\" is forbidden: user \"jane\" "
                      "(groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently "
                      "held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}");
  assert_string_equal(kj_get_str(st, "details.name"), "r1");
  assert_string_equal(kj_get_str(st, "details.kind"), "roles");
  json_decref(st);
  /* what jane holds she may grant */
  assert_null(admit(e, e->jane, &reg_roles,
                    "{\"metadata\":{\"name\":\"r2\",\"namespace\":\"ns1\"},\"rules\":[{\"verbs\":[\"get\",\"list\"],"
                    "\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}]}",
                    NULL));
  /* but not in another namespace */
  st = admit(e, e->jane, &reg_roles,
             "{\"metadata\":{\"name\":\"r2\",\"namespace\":\"ns2\"},\"rules\":[{\"verbs\":[\"get\"],\"apiGroups\":["
             "\"\"],\"resources\":[\"pods\"]}]}",
             NULL);
  assert_non_null(st);
  json_decref(st);
  /* no user (insecure port) and system:masters are not checked */
  assert_null(admit(e, NULL, &reg_roles, ROLE_SECRETS, NULL));
  struct auth_user *root = auth_user_new("root");
  auth_user_add_group(root, "system:masters");
  assert_null(admit(e, root, &reg_roles, ROLE_SECRETS, NULL));
  auth_user_free(root);
  /* `escalate` on roles lets jane write what she does not hold */
  put(e->srv.rbac, "ClusterRoleBinding",
      "{\"metadata\":{\"name\":\"esc\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"escalator\"},\"subjects\":[{"
      "\"kind\":\"User\",\"name\":\"jane\"}]}");
  put(e->srv.rbac, "ClusterRole",
      "{\"metadata\":{\"name\":\"escalator\"},\"rules\":[{\"verbs\":[\"escalate\"],\"apiGroups\":["
      "\"rbac.authorization.k8s.io\"],\"resources\":[\"roles\"]}]}");
  assert_null(admit(e, e->jane, &reg_roles, ROLE_SECRETS, NULL));
}

static void test_update_gc_only(void **state)
{
  struct env *e = *state;
  /* an update that only adds an owner reference is not re-checked */
  assert_null(admit(e, e->jane, &reg_roles,
                    "{\"metadata\":{\"name\":\"r1\",\"namespace\":\"ns1\",\"ownerReferences\":[{\"apiVersion\":\"v1\","
                    "\"kind\":\"ConfigMap\",\"name\":\"x\",\"uid\":\"u\"}]},\"rules\":[{\"verbs\":[\"get\"],"
                    "\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"secrets\"]}]}",
                    ROLE_SECRETS));
  /* a label change is */
  json_t *st = admit(e, e->jane, &reg_roles,
                     "{\"metadata\":{\"name\":\"r1\",\"namespace\":\"ns1\",\"labels\":{\"a\":\"b\"}},\"rules\":[{"
                     "\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"secrets\"]}]}",
                     ROLE_SECRETS);
  assert_non_null(st);
  json_decref(st);
}

static void test_clusterrole_aggregation_rule(void **state)
{
  struct env *e = *state;
  json_t *st = admit(e, e->jane, &reg_clusterroles,
                     "{\"metadata\":{\"name\":\"agg\"},\"aggregationRule\":{\"clusterRoleSelectors\":[{\"matchLabels\":"
                     "{\"a\":\"b\"}}]}}",
                     NULL);
  assert_non_null(st);
  assert_string_equal(kj_get_str(st, "message"), "clusterroles.rbac.authorization.k8s.io \"agg\" is forbidden: must "
                                                 "have cluster-admin privileges to use the aggregationRule");
  json_decref(st);
}

static void test_binding_escalation(void **state)
{
  struct env *e = *state;
  /* binding pods-rw: jane holds all of it */
  assert_null(admit(e, e->jane, &reg_rolebindings,
                    "{\"metadata\":{\"name\":\"b1\",\"namespace\":\"ns1\"},\"roleRef\":{\"apiGroup\":"
                    "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"pods-rw\"},\"subjects\":[{"
                    "\"kind\":\"User\",\"name\":\"bob\"}]}",
                    NULL));
  /* secrets-admin: not held, but jane may bind it in ns1 */
  assert_null(admit(e, e->jane, &reg_rolebindings,
                    "{\"metadata\":{\"name\":\"b2\",\"namespace\":\"ns1\"},\"roleRef\":{\"apiGroup\":"
                    "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"secrets-admin\"},\"subjects\":[{"
                    "\"kind\":\"User\",\"name\":\"bob\"}]}",
                    NULL));
  /* ...not cluster-wide */
  json_t *st = admit(e, e->jane, &reg_clusterrolebindings,
                     "{\"metadata\":{\"name\":\"b3\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":"
                     "\"ClusterRole\",\"name\":\"secrets-admin\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"bob\"}]}",
                     NULL);
  assert_non_null(st);
  assert_string_equal(kj_get_str(st, "message"),
                      "clusterrolebindings.rbac.authorization.k8s.io \"b3\" is forbidden: user \"jane\" "
                      "(groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently "
                      "held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"*\"]}");
  json_decref(st);
  /* a role that does not exist */
  st = admit(e, e->jane, &reg_rolebindings,
             "{\"metadata\":{\"name\":\"b4\",\"namespace\":\"ns1\"},\"roleRef\":{\"apiGroup\":"
             "\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"ghost\"},\"subjects\":[]}",
             NULL);
  assert_non_null(st);
  assert_string_equal(kj_get_str(st, "message"), "rolebindings.rbac.authorization.k8s.io \"b4\" is forbidden: "
                                                 "role.rbac.authorization.k8s.io \"ghost\" not found");
  json_decref(st);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_role_escalation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_update_gc_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_clusterrole_aggregation_rule, setup, teardown),
      cmocka_unit_test_setup_teardown(test_binding_escalation, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
