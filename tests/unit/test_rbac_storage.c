/* Tests for the RBAC indexes over a real SQLite storage
 * (apiserver/auth/rbac.c, bootstrap_policy.c): objects stored before
 * rbac_new are loaded, later writes and deletes reach the indexes through
 * the storage watch, and the bootstrap policy is created once, then
 * reconciled (missing rules and subjects added, users' additions kept,
 * autoupdate=false respected). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/event.h>

#include <kube/json.h>

#include "apiserver.h"
#include "auth/auth.h"
#include "auth/rbac_internal.h"
#include "storage/storage.h"

struct env {
  char dir[64];
  struct apiserver srv;
  int done;
};

static json_t *J(const char *text)
{
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) fail_msg("bad JSON in test: %s: %s", e.text, text);
  return v;
}

static int setup(void **state)
{
  struct env *e = calloc(1, sizeof(*e));
  strcpy(e->dir, "/tmp/test_rbac_storage.XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  e->srv.base = event_base_new();
  struct storage_opts o = {e->dir, 0, 0};
  char err[256];
  e->srv.storage = storage_open_sqlite(e->srv.base, &o, err, sizeof(err));
  if (!e->srv.storage) fail_msg("open: %s", err);
  *state = e;
  return 0;
}

static int teardown(void **state)
{
  struct env *e = *state;
  rbac_free(e->srv.rbac);
  storage_close(e->srv.storage);
  event_base_free(e->srv.base);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
  if (system(cmd) != 0) return -1;
  free(e);
  return 0;
}

/* Turns the loop until every write is committed and delivered, at most 5 s. */
static void run(struct env *e)
{
  for (int i = 0; i < 5000; i++) {
    event_base_loop(e->srv.base, EVLOOP_NONBLOCK);
    if (storage_idle(e->srv.storage) && i > 4) {
      for (int k = 0; k < 4; k++) event_base_loop(e->srv.base, EVLOOP_NONBLOCK);
      if (storage_idle(e->srv.storage)) return;
    }
    usleep(1000);
  }
  fail_msg("storage never became idle");
}

static void write_done(void *arg, int err, struct kv *kv, struct kv *prev)
{
  (void)arg;
  (void)kv;
  (void)prev;
  assert_int_equal(err, 0);
}

static void store(struct env *e, const char *key, const char *text)
{
  json_t *o = J(text);
  struct kv *old = storage_get(e->srv.storage, key);
  int rc = old ? storage_update(e->srv.storage, key, o, "\0", old->mod_rev, write_done, NULL)
               : storage_create(e->srv.storage, key, o, "\0", write_done, NULL);
  assert_int_equal(rc, 0);
  json_decref(o);
  run(e);
}

static void unstore(struct env *e, const char *key)
{
  assert_int_equal(storage_delete(e->srv.storage, key, 0, write_done, NULL), 0);
  run(e);
}

static enum authz_decision can(struct env *e, const char *user, const char *verb, const char *res, const char *ns)
{
  struct auth_user *u = auth_user_new(user);
  struct authz_attrs a = {.user = u,
                          .verb = verb,
                          .resource_request = true,
                          .api_group = "",
                          .resource = res,
                          .subresource = "",
                          .ns = ns,
                          .name = ""};
  enum authz_decision d = rbac_authorize(e->srv.rbac, &a, NULL, 0);
  auth_user_free(u);
  return d;
}

static void test_load_and_watch(void **state)
{
  struct env *e = *state;
  store(e, "/registry/clusterroles/reader",
        "{\"metadata\":{\"name\":\"reader\"},\"rules\":[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":["
        "\"pods\"]}]}");
  store(e, "/registry/rolebindings/ns1/amy",
        "{\"metadata\":{\"name\":\"amy\",\"namespace\":\"ns1\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":"
        "\"reader\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"amy\"}]}");
  e->srv.rbac = rbac_new(&e->srv);
  assert_non_null(e->srv.rbac);
  assert_int_equal(can(e, "amy", "get", "pods", "ns1"), AUTHZ_ALLOW);
  assert_int_equal(can(e, "amy", "list", "pods", "ns1"), AUTHZ_NO_OPINION);
  /* a change to the role reaches the index through the watch */
  store(e, "/registry/clusterroles/reader",
        "{\"metadata\":{\"name\":\"reader\"},\"rules\":[{\"verbs\":[\"get\",\"list\"],\"apiGroups\":[\"\"],"
        "\"resources\":[\"pods\"]}]}");
  assert_int_equal(can(e, "amy", "list", "pods", "ns1"), AUTHZ_ALLOW);
  /* new bindings too; deletions take access away */
  store(e, "/registry/clusterrolebindings/bo",
        "{\"metadata\":{\"name\":\"bo\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"reader\"},\"subjects\":[{"
        "\"kind\":\"User\",\"name\":\"bo\"}]}");
  assert_int_equal(can(e, "bo", "get", "pods", "ns7"), AUTHZ_ALLOW);
  unstore(e, "/registry/rolebindings/ns1/amy");
  assert_int_equal(can(e, "amy", "get", "pods", "ns1"), AUTHZ_NO_OPINION);
  unstore(e, "/registry/clusterroles/reader");
  assert_int_equal(can(e, "bo", "get", "pods", "ns7"), AUTHZ_NO_OPINION);
  assert_int_equal(rbac_index_count(e->srv.rbac, "ClusterRole"), 0);
  assert_int_equal(rbac_index_count(e->srv.rbac, "ClusterRoleBinding"), 1);
}

static void on_done(void *arg) { ((struct env *)arg)->done++; }

static json_t *stored(struct env *e, const char *key)
{
  struct kv *kv = storage_get(e->srv.storage, key);
  return kv ? kj_loadb(kv->bytes, kv->len, false, NULL, 0) : NULL;
}

static void test_bootstrap_policy(void **state)
{
  struct env *e = *state;
  e->srv.rbac = rbac_new(&e->srv);
  assert_int_equal(rbac_bootstrap_policy(&e->srv, on_done, e), 0);
  run(e);
  assert_int_equal(e->done, 1);
  json_t *roles = rbac_bootstrap_cluster_roles(), *bindings = rbac_bootstrap_cluster_role_bindings();
  assert_int_equal(storage_count(e->srv.storage, "/registry/clusterroles/"), json_array_size(roles));
  assert_int_equal(storage_count(e->srv.storage, "/registry/clusterrolebindings/"), json_array_size(bindings));
  json_decref(roles);
  json_decref(bindings);
  /* the namespaced ones: the token cleaner may delete secrets in
   * kube-system only, through its RoleBinding */
  assert_int_equal(storage_count(e->srv.storage, "/registry/roles/kube-system/"), 6);
  assert_int_equal(storage_count(e->srv.storage, "/registry/roles/kube-public/"), 1);
  assert_int_equal(storage_count(e->srv.storage, "/registry/rolebindings/kube-system/"), 6);
  assert_int_equal(storage_count(e->srv.storage, "/registry/rolebindings/kube-public/"), 1);
  struct auth_user *tc = auth_user_new("system:serviceaccount:kube-system:token-cleaner");
  struct authz_attrs del = {.user = tc,
                            .verb = "delete",
                            .resource_request = true,
                            .api_group = "",
                            .resource = "secrets",
                            .subresource = "",
                            .ns = "kube-system",
                            .name = "bootstrap-token-abcdef"};
  char why_ns[512];
  assert_int_equal(rbac_authorize(e->srv.rbac, &del, why_ns, sizeof why_ns), AUTHZ_ALLOW);
  assert_string_equal(why_ns, "RBAC: allowed by RoleBinding \"system:controller:token-cleaner/kube-system\" of Role "
                              "\"system:controller:token-cleaner\" to ServiceAccount \"token-cleaner/kube-system\"");
  del.ns = "default";
  assert_int_not_equal(rbac_authorize(e->srv.rbac, &del, why_ns, sizeof why_ns), AUTHZ_ALLOW);
  auth_user_free(tc);
  /* the indexes saw them: system:masters may do anything */
  struct auth_user *root = auth_user_new("root");
  auth_user_add_group(root, "system:masters");
  struct authz_attrs a = {.user = root,
                          .verb = "delete",
                          .resource_request = true,
                          .api_group = "apps",
                          .resource = "deployments",
                          .subresource = "",
                          .ns = "x",
                          .name = "y"};
  char why[512];
  assert_int_equal(rbac_authorize(e->srv.rbac, &a, why, sizeof why), AUTHZ_ALLOW);
  assert_string_equal(why, "RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of ClusterRole \"cluster-admin\" "
                           "to Group \"system:masters\"");
  auth_user_free(root);
  /* a second start writes nothing */
  int64_t rev = storage_rev(e->srv.storage);
  assert_int_equal(rbac_bootstrap_policy(&e->srv, on_done, e), 0);
  run(e);
  assert_int_equal(e->done, 2);
  assert_int_equal(storage_rev(e->srv.storage), rev);
  /* a user's edits: a rule replaced in one role, another taken over */
  store(e, "/registry/clusterroles/system:basic-user",
        "{\"metadata\":{\"name\":\"system:basic-user\",\"labels\":{\"kubernetes.io/bootstrapping\":\"mine\"}},"
        "\"rules\":[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}]}");
  store(e, "/registry/clusterroles/system:monitoring",
        "{\"metadata\":{\"name\":\"system:monitoring\",\"annotations\":{"
        "\"rbac.authorization.kubernetes.io/autoupdate\":\"false\"}},\"rules\":[]}");
  store(e, "/registry/clusterrolebindings/system:discovery",
        "{\"metadata\":{\"name\":\"system:discovery\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\","
        "\"kind\":\"ClusterRole\",\"name\":\"system:discovery\"},\"subjects\":[{\"kind\":\"Group\",\"apiGroup\":"
        "\"rbac.authorization.k8s.io\",\"name\":\"mine\"}]}");
  assert_int_equal(rbac_bootstrap_policy(&e->srv, on_done, e), 0);
  run(e);
  json_t *bu = stored(e, "/registry/clusterroles/system:basic-user");
  json_t *want = J("[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]},"
                   "{\"verbs\":[\"create\"],\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":["
                   "\"selfsubjectaccessreviews\"]},"
                   "{\"verbs\":[\"create\"],\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":["
                   "\"selfsubjectrulesreviews\"]},"
                   "{\"verbs\":[\"create\"],\"apiGroups\":[\"authentication.k8s.io\"],\"resources\":["
                   "\"selfsubjectreviews\"]}]");
  if (!json_equal(json_object_get(bu, "rules"), want)) {
    char *s = kj_dumps(json_object_get(bu, "rules"));
    fail_msg("reconciled rules: %s", s);
  }
  /* the stored label wins; the annotation is added */
  assert_string_equal(kj_get_str(bu, "metadata.labels[\"kubernetes.io/bootstrapping\"]"), "mine");
  assert_string_equal(kj_get_str(bu, "metadata.annotations[\"rbac.authorization.kubernetes.io/autoupdate\"]"), "true");
  json_decref(bu);
  json_decref(want);
  json_t *mon = stored(e, "/registry/clusterroles/system:monitoring");
  assert_int_equal(json_array_size(json_object_get(mon, "rules")), 0);
  json_decref(mon);
  json_t *disc = stored(e, "/registry/clusterrolebindings/system:discovery");
  assert_int_equal(json_array_size(json_object_get(disc, "subjects")), 2);
  assert_string_equal(kj_get_str(disc, "subjects[1].name"), "system:authenticated");
  json_decref(disc);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_load_and_watch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bootstrap_policy, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
