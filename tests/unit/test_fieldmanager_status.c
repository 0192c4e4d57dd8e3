/*
 * test_fieldmanager_status.c - managedFields across the status split: a
 * kind with a status subresource has its .status written through /status
 * and everything else through the main resource.  Each write limits its
 * own entry and the changes it records to its side, while the managers of
 * the other side keep what they own: a status write by the kubelet must
 * not erase the creator's spec fields, and an apply of spec fields must
 * neither conflict on nor take the status manager's fields.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <kube/json.h>
#include <kube/status.h>

#include "fieldmanager/fieldmanager.h"
#include "schema/schema.h"

#define T0 1700000000

#include "fieldmanager_test_util.h"

static struct fm_request pod_req(const char *manager, const char *subresource, time_t now)
{
  struct fm_request r = {.schema = builtin,
                         .api_version = "v1",
                         .kind = "Pod",
                         .manager = manager,
                         .subresource = subresource,
                         .now = now};
  return r;
}

static const json_t *entry(const json_t *obj, const char *manager, const char *op)
{
  size_t i;
  json_t *e;
  json_array_foreach (kj_get(obj, "metadata.managedFields"), i, e) {
    if (strcmp(json_string_value(json_object_get(e, "manager")), manager) == 0 &&
        strcmp(json_string_value(json_object_get(e, "operation")), op) == 0)
      return e;
  }
  return NULL;
}

/* fieldsV1 of an entry, failing the test when the entry is missing. */
static const json_t *fields_of(const json_t *obj, const char *manager, const char *op)
{
  const json_t *e = entry(obj, manager, op);
  if (!e) {
    char *mf = kj_dumps_flags(kj_get(obj, "metadata.managedFields"), JSON_COMPACT);
    fail_msg("no %s entry for %s in %s", op, manager, mf ? mf : "null");
  }
  return json_object_get(e, "fieldsV1");
}

static void assert_same_fields(const json_t *got, const json_t *want)
{
  if (!json_equal(got, want)) {
    char *g = kj_dumps_flags(got, JSON_COMPACT | JSON_ENCODE_ANY);
    char *w = kj_dumps_flags(want, JSON_COMPACT | JSON_ENCODE_ANY);
    fail_msg("fields changed\ngot  %s\nwant %s", g, w);
  }
}

#define POD_BASE                                                                                                       \
  "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'web','namespace':'default',"                                    \
  "'labels':{'app':'web'}},'spec':{'containers':[{'name':'app','image':'nginx:1.25'}]},"                               \
  "'status':{'phase':'Pending'}}"

#define KUBELET_STATUS                                                                                                 \
  "{'phase':'Running','podIP':'10.0.0.5','conditions':[{'type':'Ready','status':'True'},"                              \
  "{'type':'PodScheduled','status':'True'}]}"

/* A pod created by "kubectl-create" whose status "kubelet" then wrote
 * through /status.  New reference. */
static json_t *created_then_status(void)
{
  json_t *obj = J(POD_BASE);
  struct fm_request r1 = pod_req("kubectl-create", NULL, T0);
  assert_int_equal(fieldmanager_update(&r1, NULL, obj), 0);
  json_t *st = json_deep_copy(obj);
  json_object_set_new(st, "status", J(KUBELET_STATUS));
  struct fm_request r2 = pod_req("kubelet", "status", T0 + 1);
  assert_int_equal(fieldmanager_update(&r2, obj, st), 0);
  json_decref(obj);
  return st;
}

static void test_status_write_keeps_creator_entry(void **state)
{
  json_t *obj = J(POD_BASE);
  struct fm_request r1 = pod_req("kubectl-create", NULL, T0);
  assert_int_equal(fieldmanager_update(&r1, NULL, obj), 0);
  json_t *creator = json_deep_copy(fields_of(obj, "kubectl-create", "Update"));
  assert_non_null(kj_get(creator, "f:spec"));
  assert_non_null(kj_get(creator, "f:metadata"));
  assert_null(json_object_get(creator, "f:status"));

  json_t *st = json_deep_copy(obj);
  json_object_set_new(st, "status", J(KUBELET_STATUS));
  struct fm_request r2 = pod_req("kubelet", "status", T0 + 1);
  assert_int_equal(fieldmanager_update(&r2, obj, st), 0);

  assert_int_equal(json_array_size(kj_get(st, "metadata.managedFields")), 2);
  assert_same_fields(fields_of(st, "kubectl-create", "Update"), creator);
  const json_t *e = entry(st, "kubelet", "Update");
  assert_non_null(e);
  assert_string_equal(json_string_value(json_object_get(e, "subresource")), "status");
  const json_t *kf = json_object_get(e, "fieldsV1");
  assert_int_equal(json_object_size(kf), 1);
  assert_non_null(kj_get(kf, "[\"f:status\"][\"f:phase\"]"));
  assert_non_null(kj_get(kf, "[\"f:status\"][\"f:podIP\"]"));
  assert_non_null(kj_get(kf, "[\"f:status\"][\"f:conditions\"][\"k:{\\\"type\\\":\\\"Ready\\\"}\"]"));

  json_decref(st);
  json_decref(creator);
  json_decref(obj);
}

/* Later writes on either side: the entries of the other side stay, only
 * the fields a write changed move to its writer. */
static void test_later_writes_keep_other_side(void **state)
{
  static const struct {
    const char *name, *manager, *subresource;
    const char *path, *value; /* the change, a string */
    bool creator_same, kubelet_same;
    const char *creator_lost, *kubelet_lost; /* kj path into fieldsV1, or NULL */
  } cases[] = {
      {"main write adds a label", "kubectl-label", NULL, "metadata.labels.tier", "frontend", true, true, NULL, NULL},
      {"main write changes the image", "kubectl-set", NULL, "spec.containers[0].image", "nginx:1.26", false, true,
       "[\"f:spec\"][\"f:containers\"][\"k:{\\\"name\\\":\\\"app\\\"}\"][\"f:image\"]", NULL},
      {"status write changes the phase", "node-problem-detector", "status", "status.phase", "Failed", true, false, NULL,
       "[\"f:status\"][\"f:phase\"]"},
      {"status write adds a field", "node-problem-detector", "status", "status.reason", "Evicted", true, true, NULL,
       NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *live = created_then_status();
    json_t *creator = json_deep_copy(fields_of(live, "kubectl-create", "Update"));
    json_t *kubelet = json_deep_copy(fields_of(live, "kubelet", "Update"));
    json_t *next = json_deep_copy(live);
    assert_int_equal(kj_set_str(next, cases[i].path, cases[i].value), 0);
    struct fm_request r = pod_req(cases[i].manager, cases[i].subresource, T0 + 2);
    assert_int_equal(fieldmanager_update(&r, live, next), 0);

    const json_t *cf = fields_of(next, "kubectl-create", "Update");
    const json_t *kf = fields_of(next, "kubelet", "Update");
    if (cases[i].creator_same) assert_same_fields(cf, creator);
    if (cases[i].kubelet_same) assert_same_fields(kf, kubelet);
    if (cases[i].creator_lost) {
      assert_non_null(kj_get(creator, cases[i].creator_lost));
      assert_null(kj_get(cf, cases[i].creator_lost));
      /* Only that field: the container itself is still the creator's. */
      assert_non_null(kj_get(cf, "[\"f:spec\"][\"f:containers\"][\"k:{\\\"name\\\":\\\"app\\\"}\"]"
                                 "[\"f:name\"]"));
    }
    if (cases[i].kubelet_lost) {
      assert_null(kj_get(kf, cases[i].kubelet_lost));
      assert_non_null(kj_get(kf, "[\"f:status\"][\"f:podIP\"]"));
    }
    /* The writer owns only its side. */
    const json_t *wf = fields_of(next, cases[i].manager, "Update");
    if (cases[i].subresource) {
      assert_int_equal(json_object_size(wf), 1);
      assert_non_null(json_object_get(wf, "f:status"));
    } else {
      assert_true(json_object_size(wf) >= 1);
      assert_null(json_object_get(wf, "f:status"));
    }
    json_decref(next);
    json_decref(kubelet);
    json_decref(creator);
    json_decref(live);
  }
}

static void test_apply_spec_after_status_write(void **state)
{
  static const struct {
    const char *name, *config;
    const char *conflict; /* NULL: the apply succeeds */
  } cases[] = {
      {"spec only",
       "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'web','labels':{'tier':'frontend'}},"
       "'spec':{'activeDeadlineSeconds':60}}",
       NULL},
      {"status in a main-resource apply is not a conflict",
       "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'web'},'spec':{"
       "'activeDeadlineSeconds':60},'status':{'phase':'Failed','podIP':'10.9.9.9'}}",
       NULL},
      {"spec conflicts are still reported, status ones are not",
       "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'web'},'spec':{'containers':[{"
       "'name':'app','image':'nginx:1.26'}]},'status':{'phase':'Failed'}}",
       "Apply failed with 1 conflict: conflict with \"kubectl-create\" using v1: "
       ".spec.containers[name=\"app\"].image"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *live = created_then_status();
    json_t *creator = json_deep_copy(fields_of(live, "kubectl-create", "Update"));
    json_t *kubelet = json_deep_copy(fields_of(live, "kubelet", "Update"));
    json_t *cfg = J(cases[i].config), *out = NULL, *st = NULL;
    struct fm_request r = pod_req("deployer", NULL, T0 + 5);
    int rc = fieldmanager_apply(&r, live, cfg, false, &out, &st);
    if (cases[i].conflict) {
      assert_int_equal(rc, -EBUSY);
      assert_null(out);
      assert_int_equal(kstatus_code(st), 409);
      assert_string_equal(kj_get_str(st, "message"), cases[i].conflict);
      assert_int_equal(json_array_size(kj_get(st, "details.causes")), 1);
    } else {
      if (rc != 0) fail_msg("%s: apply failed: %s", cases[i].name, kj_get_str(st, "message"));
      assert_null(st);
      assert_same_fields(fields_of(out, "kubelet", "Update"), kubelet);
      assert_same_fields(fields_of(out, "kubectl-create", "Update"), creator);
      const json_t *af = fields_of(out, "deployer", "Apply");
      assert_null(json_object_get(af, "f:status"));
      assert_non_null(kj_get(af, "[\"f:spec\"][\"f:activeDeadlineSeconds\"]"));
    }
    json_decref(st);
    json_decref(out);
    json_decref(cfg);
    json_decref(kubelet);
    json_decref(creator);
    json_decref(live);
  }
}

/* An apply through /status does not conflict with or take the main
 * resource's fields, even when its configuration carries them. */
static void test_status_apply_leaves_main_entries(void **state)
{
  json_t *live = created_then_status();
  json_t *creator = json_deep_copy(fields_of(live, "kubectl-create", "Update"));
  json_t *cfg = J("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'web'},'spec':{"
                  "'containers':[{'name':'app','image':'nginx:1.26'}]},"
                  "'status':{'reason':'Evicted'}}");
  json_t *out = NULL, *st = NULL;
  struct fm_request r = pod_req("status-applier", "status", T0 + 5);
  int rc = fieldmanager_apply(&r, live, cfg, false, &out, &st);
  if (rc != 0) fail_msg("apply failed: %s", kj_get_str(st, "message"));
  assert_same_fields(fields_of(out, "kubectl-create", "Update"), creator);
  const json_t *af = fields_of(out, "status-applier", "Apply");
  assert_null(json_object_get(af, "f:spec"));
  assert_non_null(kj_get(af, "[\"f:status\"][\"f:reason\"]"));
  assert_non_null(kj_get(fields_of(out, "kubelet", "Update"), "[\"f:status\"][\"f:phase\"]"));
  json_decref(st);
  json_decref(out);
  json_decref(cfg);
  json_decref(creator);
  json_decref(live);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_write_keeps_creator_entry),
      cmocka_unit_test(test_later_writes_keep_other_side),
      cmocka_unit_test(test_apply_spec_after_status_write),
      cmocka_unit_test(test_status_apply_leaves_main_entries),
  };
  return cmocka_run_group_tests(tests, load_builtin, free_builtin);
}
