/* Tests for the built-in admission plugins (apiserver/admission/): each
 * plugin runs against a real storage holding the namespaces, priority
 * classes, limit ranges and quotas of the case, and the test checks the
 * object it leaves or the Status it answers, as a client would see them. */
#define _GNU_SOURCE
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
#include "registry/kinds_ext.h"
#include "registry/registry.h"
#include "storage/storage.h"

struct env {
  char dir[64];
  struct apiserver srv;
  int pending;
};

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad test JSON: %s: %s", e.text, s);
  return v;
}

static void written(void *arg, int err, struct kv *kv, struct kv *prev)
{
  struct env *e = arg;
  assert_int_equal(err, 0);
  e->pending--;
}

/* Stores obj (JSON text) at key and waits until it is committed. */
static void put(struct env *e, const char *key, const char *obj)
{
  json_t *o = J(obj);
  e->pending++;
  assert_int_equal(storage_create(e->srv.storage, key, o, "\0", written, e), 0);
  json_decref(o);
  int64_t end = ktime_mono_ms() + 5000;
  while (e->pending && ktime_mono_ms() < end) {
    event_base_loop(e->srv.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    usleep(200);
  }
  assert_int_equal(e->pending, 0);
}

static int setup(void **state)
{
  struct env *e = calloc(1, sizeof(*e));
  strcpy(e->dir, "/tmp/test_admission.XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  e->srv.base = event_base_new();
  e->srv.cfg.default_not_ready_toleration_seconds = 300; /* the flags' defaults */
  e->srv.cfg.default_unreachable_toleration_seconds = 300;
  struct storage_opts so = {.data_dir = e->dir};
  char err[256];
  e->srv.storage = storage_open_sqlite(e->srv.base, &so, err, sizeof(err));
  assert_non_null(e->srv.storage);
  put(e, "/registry/namespaces/default", "{\"metadata\":{\"name\":\"default\"},\"status\":{\"phase\":\"Active\"}}");
  put(e, "/registry/namespaces/gone",
      "{\"metadata\":{\"name\":\"gone\",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"},\"status\":{\"phase\":"
      "\"Terminating\"}}");
  *state = e;
  return 0;
}

static int teardown(void **state)
{
  struct env *e = *state;
  storage_close(e->srv.storage);
  event_base_free(e->srv.base);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
  assert_int_equal(system(cmd), 0);
  free(e);
  return 0;
}

static struct reg_request req(struct env *e, const char *ns, const char *name)
{
  struct reg_request rq = {.srv = &e->srv, .verb = "create", .namespace_ = ns, .name = name, .user = "system:admin"};
  return rq;
}

/* Runs fn on obj; want_msg NULL = admitted, else the Status message. */
static json_t *run(struct env *e, admission_fn fn, const struct resource *res, const char *ns, const char *obj_s,
                   int want_code, const char *want_msg)
{
  json_t *obj = J(obj_s);
  struct reg_request rq = req(e, ns, kj_get_str(obj, "metadata.name"));
  json_t *st = fn(&rq, res, obj, NULL);
  if (!want_msg) {
    if (st) fail_msg("refused: %s", kj_get_str(st, "message"));
  } else {
    if (!st) fail_msg("admitted, wanted: %s", want_msg);
    assert_int_equal(kstatus_code(st), want_code);
    assert_string_equal(kj_get_str(st, "message"), want_msg);
  }
  json_decref(st);
  return obj;
}

#define POD(spec) "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},\"spec\":" spec "}"

static void test_namespace_lifecycle(void **state)
{
  struct env *e = *state;
  const char *cm = "{\"metadata\":{\"name\":\"c\"}}";
  json_decref(run(e, admission_namespace_lifecycle, &reg_configmaps, "default", cm, 0, NULL));
  json_decref(run(e, admission_namespace_lifecycle, &reg_configmaps, "nope", cm, 404, "namespaces \"nope\" not found"));
  json_decref(run(
      e, admission_namespace_lifecycle, &reg_configmaps, "gone", cm, 403,
      "configmaps \"c\" is forbidden: unable to create new content in namespace gone because it is being terminated"));
  struct reg_request rq = req(e, NULL, "default");
  const char *names[] = {"default", "kube-system", "kube-public", "kube-node-lease"};
  for (size_t i = 0; i < 4; i++) {
    json_t *st = admission_delete(&rq, &reg_namespaces, names[i]);
    assert_non_null(st);
    char want[128];
    snprintf(want, sizeof(want), "namespaces \"%s\" is forbidden: this namespace may not be deleted", names[i]);
    assert_string_equal(kj_get_str(st, "message"), want);
    json_decref(st);
  }
  assert_null(admission_delete(&rq, &reg_namespaces, "team-a"));
  assert_null(admission_delete(&rq, &reg_configmaps, "default"));
}

static void test_service_account_and_tolerations(void **state)
{
  struct env *e = *state;
  /* the service account a pod runs as must exist */
  json_decref(run(e, admission_service_account, &reg_pods, "default", POD("{\"containers\":[]}"), 403,
                  "pods \"p\" is forbidden: error looking up service account default/default: serviceaccount "
                  "\"default\" not found"));
  put(e, "/registry/serviceaccounts/default/default",
      "{\"metadata\":{\"name\":\"default\",\"namespace\":\"default\"}}");
  json_t *o = run(e, admission_service_account, &reg_pods, "default", POD("{\"containers\":[]}"), 0, NULL);
  assert_string_equal(kj_get_str(o, "spec.serviceAccountName"), "default");
  json_decref(o);
  json_decref(run(e, admission_service_account, &reg_pods, "default", POD("{\"serviceAccountName\":\"robot\"}"), 403,
                  "pods \"p\" is forbidden: error looking up service account default/robot: serviceaccount \"robot\" "
                  "not found"));
  put(e, "/registry/serviceaccounts/default/robot", "{\"metadata\":{\"name\":\"robot\",\"namespace\":\"default\"}}");
  o = run(e, admission_service_account, &reg_pods, "default", POD("{\"serviceAccountName\":\"robot\"}"), 0, NULL);
  assert_string_equal(kj_get_str(o, "spec.serviceAccountName"), "robot");
  json_decref(o);
  /* a mirror pod (the kubelet's copy of a static pod) is exempt */
  o = run(e, admission_service_account, &reg_pods, "default",
          "{\"metadata\":{\"name\":\"m\",\"annotations\":{\"kubernetes.io/config.mirror\":\"x\"}},\"spec\":"
          "{\"serviceAccountName\":\"ghost\"}}",
          0, NULL);
  json_decref(o);

  struct {
    const char *spec, *want;
  } cases[] = {
      {"{}", "[{\"key\":\"node.kubernetes.io/"
             "not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300},"
             "{\"key\":\"node.kubernetes.io/"
             "unreachable\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]"},
      /* a toleration of its own for not-ready is kept, only unreachable is added */
      {"{\"tolerations\":[{\"key\":\"node.kubernetes.io/"
       "not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":10}]}",
       "[{\"key\":\"node.kubernetes.io/"
       "not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":10},"
       "{\"key\":\"node.kubernetes.io/"
       "unreachable\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]"},
      /* tolerating everything covers both */
      {"{\"tolerations\":[{\"operator\":\"Exists\"}]}", "[{\"operator\":\"Exists\"}]"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char buf[1024];
    snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"p\"},\"spec\":%s}", cases[i].spec);
    o = run(e, admission_default_toleration_seconds, &reg_pods, "default", buf, 0, NULL);
    json_t *want = J(cases[i].want);
    if (!json_equal(kj_get(o, "spec.tolerations"), want))
      fail_msg("case %zu: got %s", i, kj_dumps(kj_get(o, "spec.tolerations")));
    json_decref(want);
    json_decref(o);
  }
  /* --default-not-ready-toleration-seconds=15 --default-unreachable-toleration-seconds=20 */
  e->srv.cfg.default_not_ready_toleration_seconds = 15;
  e->srv.cfg.default_unreachable_toleration_seconds = 20;
  o = run(e, admission_default_toleration_seconds, &reg_pods, "default", "{\"metadata\":{\"name\":\"p\"},\"spec\":{}}",
          0, NULL);
  assert_int_equal(kj_get_int(o, "spec.tolerations[0].tolerationSeconds", -1), 15);
  assert_int_equal(kj_get_int(o, "spec.tolerations[1].tolerationSeconds", -1), 20);
  json_decref(o);
  e->srv.cfg.default_not_ready_toleration_seconds = 300;
  e->srv.cfg.default_unreachable_toleration_seconds = 300;
}

static void test_priority(void **state)
{
  struct env *e = *state;
  put(e, "/registry/priorityclasses/system-node-critical",
      "{\"metadata\":{\"name\":\"system-node-critical\"},\"value\":2000001000}");
  put(e, "/registry/priorityclasses/low",
      "{\"metadata\":{\"name\":\"low\"},\"value\":-5,\"preemptionPolicy\":\"Never\"}");
  json_t *o = run(e, admission_priority, &reg_pods, "default", POD("{\"priorityClassName\":\"system-node-critical\"}"),
                  0, NULL);
  assert_int_equal(kj_get_int(o, "spec.priority", -1), 2000001000);
  assert_string_equal(kj_get_str(o, "spec.preemptionPolicy"), "PreemptLowerPriority");
  json_decref(o);
  o = run(e, admission_priority, &reg_pods, "default", POD("{\"priorityClassName\":\"low\"}"), 0, NULL);
  assert_int_equal(kj_get_int(o, "spec.priority", 0), -5);
  assert_string_equal(kj_get_str(o, "spec.preemptionPolicy"), "Never");
  json_decref(o);
  /* no class and no global default: 0 */
  o = run(e, admission_priority, &reg_pods, "default", POD("{}"), 0, NULL);
  assert_int_equal(kj_get_int(o, "spec.priority", -1), 0);
  json_decref(o);
  json_decref(run(e, admission_priority, &reg_pods, "default", POD("{\"priorityClassName\":\"foo\"}"), 403,
                  "pods \"p\" is forbidden: no PriorityClass with name foo was found"));
  json_decref(run(e, admission_priority, &reg_pods, "default", POD("{\"priorityClassName\":\"low\",\"priority\":7}"),
                  403,
                  "pods \"p\" is forbidden: the integer value of priority (7) must not be provided in pod spec; "
                  "priority admission controller computed -5 from the given PriorityClass name"));
  /* a global default applies to pods without a class */
  put(e, "/registry/priorityclasses/dflt", "{\"metadata\":{\"name\":\"dflt\"},\"value\":1000,\"globalDefault\":true}");
  o = run(e, admission_priority, &reg_pods, "default", POD("{}"), 0, NULL);
  assert_int_equal(kj_get_int(o, "spec.priority", -1), 1000);
  assert_string_equal(kj_get_str(o, "spec.priorityClassName"), "dflt");
  json_decref(o);
}

/* A claim grows only when Bound and its class allows expansion. */
static void test_pvc_resize(void **state)
{
  struct env *e = *state;
  put(e, "/registry/storageclasses/grow",
      "{\"metadata\":{\"name\":\"grow\"},\"provisioner\":\"x\",\"allowVolumeExpansion\":true}");
  put(e, "/registry/storageclasses/fixed", "{\"metadata\":{\"name\":\"fixed\"},\"provisioner\":\"x\"}");
  static const struct {
    const char *cls, *phase, *size, *msg;
  } cases[] = {
      {"grow", "Bound", "2Gi", NULL},
      {"grow", "Bound", "1Gi", NULL}, /* not growing */
      {"grow", "Pending", "2Gi",
       "persistentvolumeclaims \"c\" is forbidden: Only bound persistent volume claims can be expanded"},
      {"fixed", "Bound", "2Gi",
       "persistentvolumeclaims \"c\" is forbidden: only dynamically provisioned pvc can be resized and the "
       "storageclass "
       "that provisions the pvc must support resize"},
      {"", "Bound", "2Gi",
       "persistentvolumeclaims \"c\" is forbidden: only dynamically provisioned pvc can be resized and the "
       "storageclass "
       "that provisions the pvc must support resize"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char o[512], n[512];
    snprintf(o, sizeof(o),
             "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},\"spec\":{\"storageClassName\":\"%s\","
             "\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}},\"status\":{\"phase\":\"%s\"}}",
             cases[i].cls, cases[i].phase);
    snprintf(n, sizeof(n),
             "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},\"spec\":{\"storageClassName\":\"%s\","
             "\"resources\":{\"requests\":{\"storage\":\"%s\"}}}}",
             cases[i].cls, cases[i].size);
    json_t *old = J(o), *obj = J(n);
    struct reg_request rq = req(e, "default", "c");
    rq.verb = "update";
    json_t *st = admission_pvc_resize(&rq, &reg_persistentvolumeclaims, obj, old);
    if (!cases[i].msg && st) fail_msg("case %zu refused: %s", i, kj_get_str(st, "message"));
    if (cases[i].msg) {
      if (!st) fail_msg("case %zu admitted", i);
      assert_int_equal(kstatus_code(st), 403);
      assert_string_equal(kj_get_str(st, "message"), cases[i].msg);
    }
    json_decref(st);
    json_decref(obj);
    json_decref(old);
  }
}

static void test_limit_ranger(void **state)
{
  struct env *e = *state;
  put(e, "/registry/limitranges/default/lr",
      "{\"metadata\":{\"name\":\"lr\",\"namespace\":\"default\"},\"spec\":{\"limits\":[{\"type\":\"Container\","
      "\"default\":{\"memory\":\"128Mi\",\"cpu\":\"500m\"},\"defaultRequest\":{\"cpu\":\"100m\"},"
      "\"max\":{\"cpu\":\"1\"},\"min\":{\"cpu\":\"50m\"},\"maxLimitRequestRatio\":{\"cpu\":\"4\"}}]}}");
  json_t *o = run(e, admission_limit_ranger_mutate, &reg_pods, "default",
                  POD("{\"containers\":[{\"name\":\"main\",\"resources\":{}}]}"), 0, NULL);
  json_t *want = J("{\"limits\":{\"memory\":\"128Mi\",\"cpu\":\"500m\"},\"requests\":{\"cpu\":\"100m\"}}");
  assert_true(json_equal(json_object_get(json_array_get(kj_get(o, "spec.containers"), 0), "resources"), want));
  json_decref(want);
  const char *note =
      json_string_value(json_object_get(kj_get(o, "metadata.annotations"), "kubernetes.io/limit-ranger"));
  assert_non_null(note);
  assert_string_equal(note,
                      "LimitRanger plugin set: cpu request for container main; cpu, memory limit for container main");
  json_decref(o);
  const char *val_cases[][2] = {
      {"{\"limits\":{\"cpu\":\"2\"},\"requests\":{\"cpu\":\"1\"}}",
       "pods \"p\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"},
      {"{\"limits\":{\"cpu\":\"1\"},\"requests\":{\"cpu\":\"10m\"}}",
       "pods \"p\" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m, cpu max limit to "
       "request ratio per Container is 4, but provided ratio is 100.000000]"},
      {"{\"limits\":{\"cpu\":\"400m\"},\"requests\":{\"cpu\":\"100m\"}}", NULL},
  };
  for (size_t i = 0; i < 3; i++) {
    char buf[512];
    snprintf(buf, sizeof(buf), POD("{\"containers\":[{\"name\":\"main\",\"resources\":%s}]}"), val_cases[i][0]);
    json_decref(run(e, admission_limit_ranger_validate, &reg_pods, "default", buf, 403, val_cases[i][1]));
  }
}

static void test_resource_quota(void **state)
{
  struct env *e = *state;
  put(e, "/registry/pods/default/a",
      POD("{\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":{\"cpu\":\"1\"}}}]}"));
  put(e, "/registry/pods/default/done",
      "{\"metadata\":{\"name\":\"done\"},\"spec\":{},\"status\":{\"phase\":\"Succeeded\"}}");
  put(e, "/registry/resourcequotas/default/q",
      "{\"metadata\":{\"name\":\"q\"},\"spec\":{\"hard\":{\"pods\":\"1\",\"limits.cpu\":\"2\"}}}");
  const char *ok_pod = POD("{\"containers\":[{\"name\":\"main\",\"resources\":{\"limits\":{\"cpu\":\"1\"}}}]}");
  /* the terminal pod does not count: one pod used of one */
  json_decref(run(e, admission_resource_quota, &reg_pods, "default", ok_pod, 403,
                  "pods \"p\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1"));
  json_decref(run(e, admission_resource_quota, &reg_pods, "default",
                  POD("{\"containers\":[{\"name\":\"main\"},{\"name\":\"side\"}]}"), 403,
                  "pods \"p\" is forbidden: failed quota: q: must specify limits.cpu for: main,side"));
  /* status.used from the quota controller wins over counting */
  put(e, "/registry/resourcequotas/default/q2",
      "{\"metadata\":{\"name\":\"q2\"},\"spec\":{\"hard\":{\"configmaps\":\"3\"}},\"status\":{\"used\":{\"configmaps\":"
      "\"3\"}}}");
  json_decref(run(e, admission_resource_quota, &reg_configmaps, "default", "{\"metadata\":{\"name\":\"c\"}}", 403,
                  "configmaps \"c\" is forbidden: exceeded quota: q2, requested: configmaps=1, used: configmaps=3, "
                  "limited: configmaps=3"));
  /* other namespaces are not limited */
  json_decref(run(e, admission_resource_quota, &reg_configmaps, "other", "{\"metadata\":{\"name\":\"c\"}}", 0, NULL));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_namespace_lifecycle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service_account_and_tolerations, setup, teardown),
      cmocka_unit_test_setup_teardown(test_priority, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pvc_resize, setup, teardown),
      cmocka_unit_test_setup_teardown(test_limit_ranger, setup, teardown),
      cmocka_unit_test_setup_teardown(test_resource_quota, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
