/* Tests for what the built-in kinds check (tests/integration/
 * test_builtin_kinds.sh, test_builtin_behaviour.sh) found to differ from
 * upstream: StatefulSet templates mounting their claim templates, status
 * integers Go always encodes, events.k8s.io field selectors, and the
 * deprecated serviceAccount mirror of pod specs. */

#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kube/json.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"
#include "registry/registry.h"
#include "storage/storage.h"

static json_t *J(const char *s)
{
  char *d = strdup(s);
  for (char *p = d; *p; p++)
    if (*p == '\'') *p = '"';
  json_error_t err;
  json_t *v = json_loads(d, JSON_DECODE_ANY, &err);
  if (!v) fail_msg("bad test JSON: %s: %s", err.text, d);
  free(d);
  return v;
}

/* Causes of a create (old NULL) as "field: message" lines; caller frees. */
static char *causes_of(const struct resource *res, const json_t *obj, const json_t *old, const char *sub)
{
  struct reg_request rq = {.verb = old ? "update" : "create", .subresource = sub};
  json_t *causes = json_array();
  res->validate(&rq, obj, old, causes);
  char *out = strdup("");
  size_t i;
  json_t *c;
  json_array_foreach (causes, i, c) {
    char *n = NULL;
    if (asprintf(&n, "%s%s: %s\n", out, json_string_value(json_object_get(c, "field")),
                 json_string_value(json_object_get(c, "message"))) < 0)
      fail();
    free(out);
    out = n;
  }
  json_decref(causes);
  return out;
}

#define STS_TMPL(MOUNT)                                                                                                \
  "{'apiVersion':'apps/v1','kind':'StatefulSet','metadata':{'name':'web','namespace':'default'},"                      \
  "'spec':{'serviceName':'nginx','selector':{'matchLabels':{'app':'w'}},"                                              \
  "'template':{'metadata':{'labels':{'app':'w'}},'spec':{'containers':[{'name':'nginx','image':'nginx',"               \
  "'volumeMounts':[{'name':'" MOUNT "','mountPath':'/usr/share/nginx/html'}]}]}},"                                     \
  "'volumeClaimTemplates':[{'metadata':{'name':'www'},'spec':{'accessModes':['ReadWriteOnce'],"                        \
  "'resources':{'requests':{'storage':'1Gi'}}}}]}}"

static void test_statefulset_claim_mounts(void **state)
{
  (void)state;
  struct {
    const char *mount;
    const char *want; /* substring of the causes; "" = valid */
  } cases[] = {
      {"www", ""},
      {"data", "spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"data\""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char doc[2048];
    snprintf(doc, sizeof(doc), "%s", i == 0 ? STS_TMPL("www") : STS_TMPL("data"));
    json_t *sts = J(doc);
    reg_statefulsets.defaults(sts);
    char *got = causes_of(&reg_statefulsets, sts, NULL, NULL);
    if (!*cases[i].want) assert_string_equal(got, "");
    else if (!strstr(got, cases[i].want)) fail_msg("mount %s: want %s in [%s]", cases[i].mount, cases[i].want, got);
    /* validation works on a copy: the stored template gains no volume */
    assert_null(kj_get(sts, "spec.template.spec.volumes"));
    free(got);
    json_decref(sts);
  }
}

static void test_statefulset_claim_template_defaults(void **state)
{
  (void)state;
  json_t *sts = J(STS_TMPL("www"));
  reg_statefulsets.defaults(sts);
  json_t *vct = json_array_get(kj_get(sts, "spec.volumeClaimTemplates"), 0);
  assert_string_equal(kj_get_str(vct, "apiVersion"), "v1");
  assert_string_equal(kj_get_str(vct, "kind"), "PersistentVolumeClaim");
  assert_string_equal(kj_get_str(vct, "spec.volumeMode"), "Filesystem");
  assert_string_equal(kj_get_str(vct, "status.phase"), "Pending");
  assert_string_equal(kj_get_str(sts, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted"), "Retain");
  json_decref(sts);
}

/* Go encodes these status integers even when 0; Python's client refuses
 * the objects without them. */
static void test_status_integers(void **state)
{
  (void)state;
  struct {
    const struct resource *res;
    const char *fields;
  } cases[] = {
      {&reg_daemonsets, "currentNumberScheduled numberMisscheduled desiredNumberScheduled numberReady"},
      {&reg_statefulsets, "replicas availableReplicas"},
      {&reg_replicationcontrollers, "replicas"},
      {&reg_horizontalpodautoscalers, "desiredReplicas"},
      {&reg_poddisruptionbudgets, "disruptionsAllowed currentHealthy desiredHealthy expectedPods"},
      {&reg_replicasets, "replicas"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct resource *res = cases[i].res;
    json_t *obj = J("{'metadata':{'name':'x','namespace':'default'},'spec':{},'status':{'bogus':1}}");
    struct reg_request create = {.verb = "create"};
    res->prepare_create(&create, obj);
    json_t *old = json_deep_copy(obj);
    /* a status write that leaves the integers out keeps them at 0 */
    json_t *upd = J("{'metadata':{'name':'x','namespace':'default'},'spec':{},'status':{}}");
    struct reg_request st = {.verb = "update", .subresource = "status"};
    res->prepare_update(&st, upd, old);
    char *list = strdup(cases[i].fields);
    for (char *save = NULL, *f = strtok_r(list, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
      json_t *status = json_object_get(obj, "status");
      json_t *v = json_object_get(status, f), *u = json_object_get(json_object_get(upd, "status"), f);
      if (!json_is_integer(v) || json_integer_value(v) != 0 || !json_is_integer(u) || json_integer_value(u) != 0)
        fail_msg("%s: status.%s not 0 on create and status update", res->plural, f);
    }
    assert_null(kj_get(obj, "status.bogus"));
    free(list);
    json_decref(obj);
    json_decref(old);
    json_decref(upd);
  }
}

static void test_event_field_selectors(void **state)
{
  (void)state;
  json_t *core = J("{'apiVersion':'v1','kind':'Event','metadata':{'name':'e','namespace':'default'},"
                   "'involvedObject':{'kind':'Pod','name':'web-1','namespace':'default','uid':'u1'},"
                   "'reportingComponent':'kubelet','reason':'Pulled','type':'Normal'}");
  json_t *v1 = J("{'apiVersion':'events.k8s.io/v1','kind':'Event','metadata':{'name':'e','namespace':'default'},"
                 "'regarding':{'kind':'Pod','name':'web-1','namespace':'default','uid':'u1'},"
                 "'reportingController':'kubelet','reason':'Pulled','type':'Normal'}");
  struct {
    const char *field, *want;
  } cases[] = {
      {"regarding.name", "web-1"},
      {"regarding.kind", "Pod"},
      {"regarding.uid", "u1"},
      {"regarding.fieldPath", ""},
      {"reportingController", "kubelet"},
      {"involvedObject.name", "web-1"},
      {"reason", "Pulled"},
      {"type", "Normal"},
  };
  char buf[256];
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *a = reg_events.field_value(core, cases[i].field, buf, sizeof(buf));
    assert_non_null(a);
    assert_string_equal(a, cases[i].want);
    a = reg_events_v1.field_value(v1, cases[i].field, buf, sizeof(buf));
    assert_non_null(a);
    assert_string_equal(a, cases[i].want);
  }
  assert_null(reg_events.field_value(core, "note", buf, sizeof(buf)));
  /* events.k8s.io/v1 accepts upstream's names only */
  bool has_regarding = false, has_involved = false;
  for (const char *const *f = reg_events_v1.field_selectors; *f; f++) {
    has_regarding |= !strcmp(*f, "regarding.name");
    has_involved |= !strcmp(*f, "involvedObject.name");
  }
  assert_true(has_regarding);
  assert_false(has_involved);
  /* the stored (core) attributes carry the events.k8s.io names too */
  struct kv kv = {.attrs = registry_attrs(&reg_events, core)};
  assert_non_null(kv.attrs);
  const char *stored = kv_field(&kv, "regarding.name");
  assert_non_null(stored);
  assert_string_equal(stored, "web-1");
  assert_string_equal(kv_field(&kv, "involvedObject.uid"), "u1");
  free(kv.attrs);
  json_decref(core);
  json_decref(v1);
}

static void test_pod_service_account_mirror(void **state)
{
  (void)state;
  struct {
    const char *spec, *name, *deprecated;
  } cases[] = {
      {"{'serviceAccountName':'builder','containers':[]}", "builder", "builder"},
      {"{'serviceAccount':'old','containers':[]}", "old", "old"},
      {"{'serviceAccountName':'new','serviceAccount':'old','containers':[]}", "new", "new"},
      {"{'containers':[]}", NULL, NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *spec = J(cases[i].spec);
    reg_pod_spec_defaults(spec);
    const char *n = kj_get_str(spec, "serviceAccountName"), *d = kj_get_str(spec, "serviceAccount");
    if (cases[i].name) {
      assert_string_equal(n, cases[i].name);
      assert_string_equal(d, cases[i].deprecated);
    } else {
      assert_null(n);
      assert_null(d);
    }
    json_decref(spec);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_statefulset_claim_mounts),
      cmocka_unit_test(test_statefulset_claim_template_defaults),
      cmocka_unit_test(test_status_integers),
      cmocka_unit_test(test_event_field_selectors),
      cmocka_unit_test(test_pod_service_account_mirror),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
