/* Tests for the Node authorizer (apiserver/auth/node.c): the graph (pods
 * added, moved, changed and deleted change what a node may get; volumes
 * through their claims; the graph fed by storage watches), the decisions
 * and upstream's reasons, and the NodeRestriction admission plugin
 * (apiserver/admission/node_restriction.c) with upstream's messages. */
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
#include <kube/status.h>
#include <kube/timeutil.h>

#include "admission/admission.h"
#include "apiserver.h"
#include "auth/auth.h"
#include "auth/node.h"
#include "registry/kinds_ext.h"
#include "registry/registry.h"
#include "storage/storage.h"

static json_t *J(const char *text)
{
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) fail_msg("bad JSON in test: %s: %s", e.text, text);
  return v;
}

static void put_pod(struct node_graph *g, const char *text)
{
  json_t *p = J(text);
  node_graph_put_pod(g, p);
  json_decref(p);
}

#define HAS(g, node, t, ns, name) node_graph_has_path(g, node, t, ns, name)

/* A pod naming one object of every kind the graph follows. */
static const char *BIG_POD =
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},\"spec\":{\"nodeName\":\"%s\","
    "\"serviceAccountName\":\"sa1\",\"imagePullSecrets\":[{\"name\":\"pull\"}],"
    "\"initContainers\":[{\"name\":\"i\",\"env\":[{\"name\":\"A\",\"valueFrom\":{\"secretKeyRef\":{\"name\":"
    "\"initsec\","
    "\"key\":\"k\"}}}]}],"
    "\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"B\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"envcm\","
    "\"key\":\"k\"}}}],\"envFrom\":[{\"secretRef\":{\"name\":\"fromsec\"}},{\"configMapRef\":{\"name\":\"fromcm\"}}]}],"
    "\"volumes\":[{\"name\":\"s\",\"secret\":{\"secretName\":\"volsec\"}},{\"name\":\"c\",\"configMap\":{\"name\":"
    "\"volcm\"}},{\"name\":\"p\",\"projected\":{\"sources\":[{\"secret\":{\"name\":\"projsec\"}},{\"configMap\":{"
    "\"name\":\"projcm\"}}]}},{\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"data\"}},"
    "{\"name\":\"scratch\",\"ephemeral\":{\"volumeClaimTemplate\":{\"spec\":{}}}},"
    "{\"name\":\"x\",\"csi\":{\"driver\":\"d\",\"nodePublishSecretRef\":{\"name\":\"csisec\"}}}]}}";

static void put_big_pod(struct node_graph *g, const char *node)
{
  char buf[4096];
  snprintf(buf, sizeof buf, BIG_POD, node);
  put_pod(g, buf);
}

static void test_graph_references(void **state)
{
  (void)state;
  struct node_graph *g = node_graph_new_empty();
  put_big_pod(g, "n1");
  static const char *const secrets[] = {"pull", "initsec", "fromsec", "volsec", "projsec", "csisec", NULL};
  static const char *const cms[] = {"envcm", "fromcm", "volcm", "projcm", NULL};
  for (const char *const *s = secrets; *s; s++) {
    assert_true(HAS(g, "n1", NODE_REF_SECRET, "default", *s));
    assert_false(HAS(g, "n2", NODE_REF_SECRET, "default", *s));
    assert_false(HAS(g, "n1", NODE_REF_SECRET, "other", *s));
    assert_false(HAS(g, "n1", NODE_REF_CONFIGMAP, "default", *s));
  }
  for (const char *const *c = cms; *c; c++) assert_true(HAS(g, "n1", NODE_REF_CONFIGMAP, "default", *c));
  assert_true(HAS(g, "n1", NODE_REF_PVC, "default", "data"));
  assert_true(HAS(g, "n1", NODE_REF_PVC, "default", "web-scratch"));
  assert_true(HAS(g, "n1", NODE_REF_SERVICEACCOUNT, "default", "sa1"));
  assert_false(HAS(g, "n1", NODE_REF_SECRET, "default", "nothere"));
  node_graph_free(g);
}

static void test_graph_move_and_delete(void **state)
{
  (void)state;
  struct node_graph *g = node_graph_new_empty();
  /* unscheduled: nothing */
  put_pod(g, "{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},\"spec\":{\"volumes\":[{\"name\":\"s\","
             "\"secret\":{\"secretName\":\"volsec\"}}]}}");
  assert_int_equal(node_graph_pod_count(g), 0);
  assert_false(HAS(g, "n1", NODE_REF_SECRET, "default", "volsec"));
  /* bound to n1, then moved to n2 */
  put_big_pod(g, "n1");
  assert_true(HAS(g, "n1", NODE_REF_SECRET, "default", "volsec"));
  put_big_pod(g, "n2");
  assert_false(HAS(g, "n1", NODE_REF_SECRET, "default", "volsec"));
  assert_false(HAS(g, "n1", NODE_REF_SERVICEACCOUNT, "default", "sa1"));
  assert_true(HAS(g, "n2", NODE_REF_SECRET, "default", "volsec"));
  /* a second pod on n2 naming the same secret keeps it when one goes */
  put_pod(g, "{\"metadata\":{\"namespace\":\"default\",\"name\":\"two\"},\"spec\":{\"nodeName\":\"n2\","
             "\"volumes\":[{\"name\":\"s\",\"secret\":{\"secretName\":\"volsec\"}},{\"name\":\"t\",\"secret\":{"
             "\"secretName\":\"volsec\"}}]}}");
  node_graph_del_pod(g, "default", "web");
  assert_true(HAS(g, "n2", NODE_REF_SECRET, "default", "volsec"));
  assert_false(HAS(g, "n2", NODE_REF_CONFIGMAP, "default", "volcm"));
  /* the pod changes its volumes: the old secret goes */
  put_pod(g, "{\"metadata\":{\"namespace\":\"default\",\"name\":\"two\"},\"spec\":{\"nodeName\":\"n2\","
             "\"volumes\":[{\"name\":\"s\",\"secret\":{\"secretName\":\"newsec\"}}]}}");
  assert_false(HAS(g, "n2", NODE_REF_SECRET, "default", "volsec"));
  assert_true(HAS(g, "n2", NODE_REF_SECRET, "default", "newsec"));
  node_graph_del_pod(g, "default", "two");
  assert_false(HAS(g, "n2", NODE_REF_SECRET, "default", "newsec"));
  assert_int_equal(node_graph_pod_count(g), 0);
  node_graph_free(g);
}

static void test_graph_volumes(void **state)
{
  (void)state;
  struct node_graph *g = node_graph_new_empty();
  json_t *pv =
      J("{\"metadata\":{\"name\":\"pv1\"},\"spec\":{\"claimRef\":{\"namespace\":\"default\",\"name\":"
        "\"data\"},\"csi\":{\"driver\":\"d\",\"nodeStageSecretRef\":{\"name\":\"stage\",\"namespace\":"
        "\"kube-system\"},\"controllerPublishSecretRef\":{\"name\":\"ctrl\",\"namespace\":\"kube-system\"}}}}");
  node_graph_put_pv(g, pv);
  json_decref(pv);
  assert_false(HAS(g, "n1", NODE_REF_PV, "", "pv1"));
  put_big_pod(g, "n1");
  assert_true(HAS(g, "n1", NODE_REF_PV, "", "pv1"));
  assert_false(HAS(g, "n2", NODE_REF_PV, "", "pv1"));
  assert_true(HAS(g, "n1", NODE_REF_SECRET, "kube-system", "stage"));
  assert_false(HAS(g, "n1", NODE_REF_SECRET, "kube-system", "ctrl")); /* not for the kubelet */
  node_graph_del_pod(g, "default", "web");
  assert_false(HAS(g, "n1", NODE_REF_PV, "", "pv1"));
  assert_false(HAS(g, "n1", NODE_REF_SECRET, "kube-system", "stage"));
  put_big_pod(g, "n1");
  node_graph_del_pv(g, "pv1");
  assert_false(HAS(g, "n1", NODE_REF_PV, "", "pv1"));
  assert_false(HAS(g, "n1", NODE_REF_SECRET, "kube-system", "stage"));
  node_graph_free(g);
}

/* ---- decisions ---- */

struct dcase {
  const char *verb, *group, *resource, *sub, *ns, *name;
  enum authz_decision want;
  const char *reason;
};

static void test_authorize(void **state)
{
  (void)state;
  struct node_graph *g = node_graph_new_empty();
  put_big_pod(g, "n1");
  struct auth_user *u = auth_user_new("system:node:n1");
  auth_user_add_group(u, "system:nodes");
  auth_user_add_group(u, "system:authenticated");
#define NOREL "no relationship found between node 'n1' and this object"
  static const struct dcase cases[] = {
      {"get", "", "secrets", "", "default", "volsec", AUTHZ_ALLOW, ""},
      {"get", "", "secrets", "", "default", "other", AUTHZ_NO_OPINION, NOREL},
      {"list", "", "secrets", "", "default", "", AUTHZ_NO_OPINION, "No Object name found"},
      {"watch", "", "secrets", "", "default", "volsec", AUTHZ_ALLOW, ""},
      {"create", "", "secrets", "", "default", "", AUTHZ_NO_OPINION, "can only read resources of this type"},
      {"delete", "", "configmaps", "", "default", "volcm", AUTHZ_NO_OPINION, "can only read resources of this type"},
      {"get", "", "configmaps", "", "default", "volcm", AUTHZ_ALLOW, ""},
      {"get", "", "persistentvolumeclaims", "", "default", "data", AUTHZ_ALLOW, ""},
      {"list", "", "persistentvolumeclaims", "", "default", "", AUTHZ_NO_OPINION,
       "can only get individual resources of this type"},
      {"get", "", "persistentvolumes", "", "", "nope", AUTHZ_NO_OPINION, NOREL},
      {"create", "", "serviceaccounts", "token", "default", "sa1", AUTHZ_ALLOW, ""},
      {"create", "", "serviceaccounts", "token", "default", "other", AUTHZ_NO_OPINION, NOREL},
      {"get", "", "serviceaccounts", "", "default", "sa1", AUTHZ_NO_OPINION,
       "can only create tokens for individual service accounts"},
      {"update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n1", AUTHZ_ALLOW, ""},
      {"update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n2", AUTHZ_NO_OPINION,
       "can only access node lease with the same name as the requesting node"},
      {"get", "coordination.k8s.io", "leases", "", "default", "n1", AUTHZ_NO_OPINION,
       "can only access leases in the \"kube-node-lease\" system namespace"},
      {"list", "coordination.k8s.io", "leases", "", "kube-node-lease", "", AUTHZ_NO_OPINION,
       "can only get, create, update, patch, or delete a node lease"},
      {"get", "storage.k8s.io", "csinodes", "", "", "n2", AUTHZ_NO_OPINION,
       "can only access CSINode with the same name as the requesting node"},
      /* the system:node rules */
      {"list", "", "pods", "", "", "", AUTHZ_ALLOW, ""},
      {"update", "", "pods", "status", "default", "web", AUTHZ_ALLOW, ""},
      {"update", "", "nodes", "status", "", "n2", AUTHZ_ALLOW, ""}, /* NodeRestriction's business */
      {"create", "", "events", "", "default", "", AUTHZ_ALLOW, ""},
      {"delete", "", "nodes", "", "", "n1", AUTHZ_NO_OPINION, ""},
      {"create", "apps", "deployments", "", "default", "", AUTHZ_NO_OPINION, ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct dcase *c = &cases[i];
    struct authz_attrs a = {.user = u,
                            .verb = c->verb,
                            .resource_request = true,
                            .api_group = c->group,
                            .api_version = "v1",
                            .resource = c->resource,
                            .subresource = c->sub,
                            .ns = c->ns,
                            .name = c->name,
                            .path = "/"};
    char reason[512];
    enum authz_decision d = node_authorize(g, &a, reason, sizeof reason);
    if (d != c->want || strcmp(reason, c->reason) != 0)
      fail_msg("case %zu (%s %s/%s %s/%s): got %d \"%s\", want %d \"%s\"", i, c->verb, c->resource, c->sub, c->ns,
               c->name, d, reason, c->want, c->reason);
  }
  /* not a node: no opinion, no reason */
  struct auth_user *jane = auth_user_new("jane");
  struct auth_user *fake = auth_user_new("system:node:n1"); /* not in system:nodes */
  struct auth_user *anon = auth_user_new("system:node:");
  auth_user_add_group(anon, "system:nodes");
  struct authz_attrs a = {.verb = "get",
                          .resource_request = true,
                          .api_group = "",
                          .resource = "secrets",
                          .subresource = "",
                          .ns = "default",
                          .name = "volsec"};
  char reason[512];
  a.user = jane;
  assert_int_equal(node_authorize(g, &a, reason, sizeof reason), AUTHZ_NO_OPINION);
  assert_string_equal(reason, "");
  a.user = fake;
  assert_int_equal(node_authorize(g, &a, reason, sizeof reason), AUTHZ_NO_OPINION);
  a.user = anon;
  assert_int_equal(node_authorize(g, &a, reason, sizeof reason), AUTHZ_NO_OPINION);
  assert_string_equal(reason, "unknown node for user \"system:node:\"");
  /* moving the pod takes the access away at once */
  put_big_pod(g, "n2");
  a.user = u;
  assert_int_equal(node_authorize(g, &a, reason, sizeof reason), AUTHZ_NO_OPINION);
  assert_string_equal(reason, NOREL);
  auth_user_free(jane);
  auth_user_free(fake);
  auth_user_free(anon);
  auth_user_free(u);
  node_graph_free(g);
}

/* ---- the graph from storage, and NodeRestriction ---- */

struct env {
  char dir[64];
  struct apiserver srv;
  int pending;
  struct auth_user *n1;
};

static void written(void *arg, int err, struct kv *kv, struct kv *prev)
{
  (void)kv;
  (void)prev;
  struct env *e = arg;
  assert_int_equal(err, 0);
  e->pending--;
}

static void wait_pending(struct env *e)
{
  int64_t end = ktime_mono_ms() + 10000;
  while (e->pending && ktime_mono_ms() < end) {
    event_base_loop(e->srv.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    usleep(200);
  }
  assert_int_equal(e->pending, 0);
  for (int i = 0; i < 20; i++) event_base_loop(e->srv.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void put(struct env *e, const char *key, const char *obj)
{
  json_t *o = J(obj);
  e->pending++;
  struct kv *cur = storage_get(e->srv.storage, key);
  if (cur) assert_int_equal(storage_update(e->srv.storage, key, o, "\0", cur->mod_rev, written, e), 0);
  else assert_int_equal(storage_create(e->srv.storage, key, o, "\0", written, e), 0);
  json_decref(o);
  wait_pending(e);
}

static void del(struct env *e, const char *key)
{
  e->pending++;
  assert_int_equal(storage_delete(e->srv.storage, key, 0, written, e), 0);
  wait_pending(e);
}

static int setup(void **state)
{
  struct env *e = calloc(1, sizeof(*e));
  strcpy(e->dir, "/tmp/test_node_authz.XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  e->srv.base = event_base_new();
  struct storage_opts so = {.data_dir = e->dir};
  char err[256];
  e->srv.storage = storage_open_sqlite(e->srv.base, &so, err, sizeof(err));
  assert_non_null(e->srv.storage);
  put(e, "/registry/minions/n1", "{\"metadata\":{\"name\":\"n1\",\"uid\":\"uid-n1\"}}");
  put(e, "/registry/pods/default/mine",
      "{\"metadata\":{\"namespace\":\"default\",\"name\":\"mine\",\"uid\":\"uid-mine\"},\"spec\":{\"nodeName\":\"n1\"}"
      "}");
  put(e, "/registry/pods/default/theirs",
      "{\"metadata\":{\"namespace\":\"default\",\"name\":\"theirs\",\"uid\":\"uid-theirs\"},\"spec\":{\"nodeName\":"
      "\"n2\"}}");
  e->n1 = auth_user_new("system:node:n1");
  auth_user_add_group(e->n1, "system:nodes");
  *state = e;
  return 0;
}

static int teardown(void **state)
{
  struct env *e = *state;
  auth_user_free(e->n1);
  storage_close(e->srv.storage);
  event_base_free(e->srv.base);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
  assert_int_equal(system(cmd), 0);
  free(e);
  return 0;
}

static void test_graph_from_storage(void **state)
{
  struct env *e = *state;
  put(e, "/registry/pods/default/early",
      "{\"metadata\":{\"namespace\":\"default\",\"name\":\"early\"},\"spec\":{\"nodeName\":\"n1\",\"volumes\":[{"
      "\"name\":\"s\",\"secret\":{\"secretName\":\"s-early\"}}]}}");
  struct node_graph *g = node_graph_new(&e->srv);
  assert_non_null(g);
  assert_true(HAS(g, "n1", NODE_REF_SECRET, "default", "s-early"));
  /* a pod written later: the watch brings it */
  put(e, "/registry/pods/default/late",
      "{\"metadata\":{\"namespace\":\"default\",\"name\":\"late\"},\"spec\":{\"nodeName\":\"n1\",\"volumes\":[{"
      "\"name\":\"s\",\"secret\":{\"secretName\":\"s-late\"}}]}}");
  assert_true(HAS(g, "n1", NODE_REF_SECRET, "default", "s-late"));
  put(e, "/registry/pods/default/late",
      "{\"metadata\":{\"namespace\":\"default\",\"name\":\"late\"},\"spec\":{\"nodeName\":\"n2\",\"volumes\":[{"
      "\"name\":\"s\",\"secret\":{\"secretName\":\"s-late\"}}]}}");
  assert_false(HAS(g, "n1", NODE_REF_SECRET, "default", "s-late"));
  assert_true(HAS(g, "n2", NODE_REF_SECRET, "default", "s-late"));
  del(e, "/registry/pods/default/late");
  assert_false(HAS(g, "n2", NODE_REF_SECRET, "default", "s-late"));
  put(e, "/registry/persistentvolumes/pv9",
      "{\"metadata\":{\"name\":\"pv9\"},\"spec\":{\"claimRef\":{\"namespace\":\"default\",\"name\":\"c9\"}}}");
  put(e, "/registry/pods/default/early",
      "{\"metadata\":{\"namespace\":\"default\",\"name\":\"early\"},\"spec\":{\"nodeName\":\"n1\",\"volumes\":[{"
      "\"name\":\"v\",\"persistentVolumeClaim\":{\"claimName\":\"c9\"}}]}}");
  assert_true(HAS(g, "n1", NODE_REF_PV, "", "pv9"));
  assert_false(HAS(g, "n1", NODE_REF_SECRET, "default", "s-early"));
  node_graph_free(g);
}

/* Runs NodeRestriction as user u (NULL: the insecure port); want NULL =
 * admitted, else the Status message. */
static void admit(struct env *e, const struct auth_user *u, const struct resource *res, const char *verb,
                  const char *sub, const char *ns, const char *name, const char *obj_s, const char *old_s,
                  const char *want)
{
  json_t *obj = obj_s ? J(obj_s) : NULL, *old = old_s ? J(old_s) : NULL;
  struct reg_request rq = {.srv = &e->srv,
                           .verb = verb,
                           .subresource = sub,
                           .namespace_ = ns,
                           .name = name,
                           .user = "system:admin",
                           .auth = u,
                           .res = res};
  json_t *st = admission_node_restriction(&rq, res, obj, old);
  if (!want) {
    if (st)
      fail_msg("%s %s/%s %s refused: %s", verb, res->plural, sub ? sub : "", name ? name : "",
               kj_get_str(st, "message"));
  } else {
    if (!st) fail_msg("%s %s %s admitted, want: %s", verb, res->plural, name ? name : "", want);
    const char *msg = kj_get_str(st, "message");
    if (strcmp(msg, want) != 0) fail_msg("got  \"%s\"\nwant \"%s\"", msg, want);
    assert_int_equal(kstatus_code(st), strstr(want, "not found") ? 404 : 403);
  }
  json_decref(st);
  json_decref(obj);
  json_decref(old);
}

#define NODE(labels, taints) "{\"metadata\":{\"name\":\"n1\",\"labels\":{" labels "}},\"spec\":{" taints "}}"

static void test_restriction_nodes(void **state)
{
  struct env *e = *state;
  const struct resource *N = &reg_nodes;
  admit(e, e->n1, N, "update", "status", NULL, "n2", NODE("", ""), NODE("", ""),
        "nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\"");
  admit(e, e->n1, N, "delete", NULL, NULL, "n2", NULL, NULL,
        "nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\"");
  admit(e, e->n1, N, "update", "status", NULL, "n1", NODE("", ""), NODE("", ""), NULL);
  admit(e, e->n1, N, "update", NULL, NULL, "n1", NODE("\"node-restriction.kubernetes.io/x\":\"y\"", ""), NODE("", ""),
        "nodes \"n1\" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/x");
  admit(e, e->n1, N, "update", NULL, NULL, "n1", NODE("", ""), NODE("\"a.node-restriction.kubernetes.io/x\":\"y\"", ""),
        "nodes \"n1\" is forbidden: is not allowed to modify labels: a.node-restriction.kubernetes.io/x");
  admit(e, e->n1, N, "update", NULL, NULL, "n1",
        NODE("\"kubernetes.io/hostname\":\"n1\",\"node.kubernetes.io/exclude\":\"x\",\"kubelet.kubernetes.io/a\":"
             "\"b\",\"topology.kubernetes.io/zone\":\"z\",\"example.com/x\":\"y\"",
             ""),
        NODE("", ""), NULL);
  admit(e, e->n1, N, "create", NULL, NULL, NULL,
        NODE("\"foo.k8s.io/b\":\"1\",\"kubernetes.io/role\":\"master\",\"kubernetes.io/os\":\"linux\"", ""), NULL,
        "nodes \"n1\" is forbidden: node \"n1\" is not allowed to set the following labels: foo.k8s.io/b, "
        "kubernetes.io/role");
  admit(e, e->n1, N, "patch", NULL, NULL, "n1", NODE("", "\"taints\":[]"),
        NODE("", "\"taints\":[{\"key\":\"k\",\"effect\":\"NoSchedule\"}]"),
        "nodes \"n1\" is forbidden: node \"n1\" is not allowed to modify taints");
  admit(e, e->n1, N, "update", NULL, NULL, "n1", NODE("", "\"taints\":[]"), NODE("", ""), NULL);
  /* the insecure port and other users pass */
  admit(e, NULL, N, "update", NULL, NULL, "n2", NODE("\"node-restriction.kubernetes.io/x\":\"y\"", ""), NODE("", ""),
        NULL);
  struct auth_user *jane = auth_user_new("jane");
  admit(e, jane, N, "delete", NULL, NULL, "n2", NULL, NULL, NULL);
  auth_user_free(jane);
}

#define POD(name, node, extra)                                                                                         \
  "{\"metadata\":{\"namespace\":\"default\",\"name\":\"" name "\"" extra "},\"spec\":{\"nodeName\":\"" node "\"}}"
#define MIRROR ",\"annotations\":{\"kubernetes.io/config.mirror\":\"h\"}"
#define OWNER(uid)                                                                                                     \
  ",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":\"n1\",\"uid\":\"" uid                      \
  "\",\"controller\":true}]"

static void test_restriction_pods(void **state)
{
  struct env *e = *state;
  const struct resource *P = &reg_pods;
  admit(e, e->n1, P, "update", "status", "default", "theirs", POD("theirs", "n2", ""), POD("theirs", "n2", ""),
        "pods \"theirs\" is forbidden: node \"n1\" can only update pod status for pods with spec.nodeName set to "
        "itself");
  admit(e, e->n1, P, "update", "status", "default", "mine", POD("mine", "n1", ""), POD("mine", "n1", ""), NULL);
  admit(e, e->n1, P, "patch", "status", "default", "mine", POD("mine", "n1", ",\"labels\":{\"a\":\"b\"}"),
        POD("mine", "n1", ""), "pods \"mine\" is forbidden: node \"n1\" cannot update labels through pod status");
  admit(e, e->n1, P, "update", NULL, "default", "mine", POD("mine", "n1", ""), POD("mine", "n1", ""),
        "pods \"mine\" is forbidden: unexpected operation \"UPDATE\", node \"n1\" can only create and delete mirror "
        "pods");
  admit(e, e->n1, P, "update", "binding", "default", "mine", POD("mine", "n1", ""), POD("mine", "n1", ""),
        "pods \"mine\" is forbidden: unexpected pod subresource \"binding\", only 'status' and 'eviction' are allowed");
  admit(e, e->n1, P, "create", NULL, "default", NULL, POD("new", "n1", ""), NULL,
        "pods \"new\" is forbidden: pod does not have \"kubernetes.io/config.mirror\" annotation, node \"n1\" can "
        "only create mirror pods");
  admit(e, e->n1, P, "create", NULL, "default", NULL, POD("new", "n2", MIRROR), NULL,
        "pods \"new\" is forbidden: node \"n1\" can only create pods with spec.nodeName set to itself");
  admit(e, e->n1, P, "create", NULL, "default", NULL, POD("new", "n1", MIRROR), NULL,
        "pods \"new\" is forbidden: node \"n1\" can only create pods with an owner reference set to itself");
  admit(e, e->n1, P, "create", NULL, "default", NULL, POD("new", "n1", MIRROR OWNER("bad")), NULL,
        "pods \"new\" is forbidden: node n1 UID mismatch: expected bad got uid-n1");
  admit(e, e->n1, P, "create", NULL, "default", NULL, POD("new", "n1", MIRROR OWNER("uid-n1")), NULL, NULL);
  admit(e, e->n1, P, "create", NULL, "default", NULL,
        "{\"metadata\":{\"namespace\":\"default\",\"name\":\"new\"" MIRROR OWNER(
            "uid-n1") "},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"envFrom\":[{\"secretRef\":{"
                      "\"name\":"
                      "\"s\"}}]}]}}",
        NULL, "pods \"new\" is forbidden: node \"n1\" can not create pods that reference secrets");
  admit(e, e->n1, P, "delete", NULL, "default", "theirs", NULL, NULL,
        "pods \"theirs\" is forbidden: node \"n1\" can only delete pods with spec.nodeName set to itself");
  admit(e, e->n1, P, "delete", NULL, "default", "mine", NULL, NULL, NULL);
  admit(e, NULL, P, "delete", NULL, "default", "theirs", NULL, NULL, NULL);
  const char *ev = "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"x\"}}";
  admit(e, e->n1, P, "create", "eviction", "default", "theirs", ev, NULL,
        "pods \"theirs\" is forbidden: node n1 can only evict pods with spec.nodeName set to itself");
  admit(e, e->n1, P, "create", "eviction", "default", "nothere", ev, NULL, "pods \"nothere\" not found");
  admit(e, e->n1, P, "create", "eviction", "default", "mine", ev, NULL, NULL);
}

#define TOKEN(ref) "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{" ref "}}"
#define PODREF(name, uid)                                                                                              \
  "\"boundObjectRef\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"name\":\"" name "\",\"uid\":\"" uid "\"}"

static void test_restriction_tokens(void **state)
{
  struct env *e = *state;
  const struct resource *SA = &reg_serviceaccounts;
  admit(e, e->n1, SA, "create", "token", "default", "default", TOKEN(""), NULL,
        "serviceaccounts \"default\" is forbidden: node requested token not bound to a pod");
  admit(e, e->n1, SA, "create", "token", "default", "default",
        TOKEN("\"boundObjectRef\":{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"name\":\"s\",\"uid\":\"u\"}"), NULL,
        "serviceaccounts \"default\" is forbidden: node requested token not bound to a pod");
  admit(e, e->n1, SA, "create", "token", "default", "default", TOKEN(PODREF("mine", "")), NULL,
        "serviceaccounts \"default\" is forbidden: node requested token with a pod binding without a uid");
  admit(e, e->n1, SA, "create", "token", "default", "default", TOKEN(PODREF("theirs", "uid-theirs")), NULL,
        "serviceaccounts \"default\" is forbidden: node requested token bound to a pod scheduled on a different node");
  admit(e, e->n1, SA, "create", "token", "default", "default", TOKEN(PODREF("mine", "old")), NULL,
        "serviceaccounts \"default\" is forbidden: the UID in the bound object reference (old) does not match the "
        "UID in record. The object might have been deleted and then recreated");
  admit(e, e->n1, SA, "create", "token", "default", "default", TOKEN(PODREF("mine", "uid-mine")), NULL, NULL);
  admit(e, NULL, SA, "create", "token", "default", "default", TOKEN(""), NULL, NULL);
}

static void test_restriction_leases(void **state)
{
  struct env *e = *state;
  const struct resource *L = &reg_leases;
  const char *lease1 = "{\"metadata\":{\"namespace\":\"kube-node-lease\",\"name\":\"n1\"}}";
  const char *lease2 = "{\"metadata\":{\"namespace\":\"kube-node-lease\",\"name\":\"n2\"}}";
  admit(e, e->n1, L, "create", NULL, "kube-node-lease", NULL, lease1, NULL, NULL);
  admit(e, e->n1, L, "create", NULL, "kube-node-lease", NULL, lease2, NULL,
        "leases.coordination.k8s.io \"n2\" is forbidden: can only access node lease with the same name as the "
        "requesting node");
  admit(e, e->n1, L, "update", NULL, "default", "n1", lease1, lease1,
        "leases.coordination.k8s.io \"n1\" is forbidden: can only access leases in the \"kube-node-lease\" system "
        "namespace");
}

#define PVC(labels, status)                                                                                            \
  "{\"metadata\":{\"namespace\":\"default\",\"name\":\"c\",\"resourceVersion\":\"1\",\"labels\":{" labels "}},"        \
  "\"spec\":{\"volumeName\":\"pv1\"},\"status\":{" status "}}"

static void test_restriction_pvcs(void **state)
{
  struct env *e = *state;
  const struct resource *C = &reg_persistentvolumeclaims;
  admit(e, e->n1, C, "patch", "status", "default", "c",
        PVC("", "\"phase\":\"Bound\",\"capacity\":{\"storage\":\"2Gi\"},\"conditions\":[{\"type\":\"Resizing\"}]"),
        PVC("", "\"phase\":\"Bound\",\"capacity\":{\"storage\":\"1Gi\"}"), NULL);
  admit(e, e->n1, C, "patch", "status", "default", "c", PVC("\"a\":\"b\"", "\"phase\":\"Lost\""),
        PVC("", "\"phase\":\"Bound\""),
        "persistentvolumeclaims \"c\" is forbidden: node \"n1\" is not allowed to update fields other than "
        "status.capacity and status.conditions: changed metadata.labels, status.phase");
  admit(e, e->n1, C, "update", NULL, "default", "c", PVC("", ""), PVC("", ""),
        "persistentvolumeclaims \"c\" is forbidden: may only update PVC status");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_graph_references),
      cmocka_unit_test(test_graph_move_and_delete),
      cmocka_unit_test(test_graph_volumes),
      cmocka_unit_test(test_authorize),
      cmocka_unit_test_setup_teardown(test_graph_from_storage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restriction_nodes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restriction_pods, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restriction_leases, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restriction_tokens, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restriction_pvcs, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
