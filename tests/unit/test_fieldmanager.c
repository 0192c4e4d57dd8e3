/*
 * test_fieldmanager.c - managedFields tracking and server-side apply
 * against the built-in schema table: field sets in the FieldsV1 encoding
 * (list-maps by key, sets by value, atomic leaves), Update entries across
 * managers, apply create/update/prune, conflicts with upstream's messages,
 * force, shared ownership, and the request checks around apply.
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

#define T0 1700000000 /* 2023-11-14T22:13:20Z */
#define T0_STR "2023-11-14T22:13:20Z"

#include "fieldmanager_test_util.h"

static void assert_json_text(const json_t *v, const char *want_sq)
{
  char *want = strdup(want_sq);
  for (char *p = want; *p; p++)
    if (*p == '\'') *p = '"';
  char *got = kj_dumps_flags(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (strcmp(got, want) != 0) fail_msg("got  %s\nwant %s", got, want);
  free(got);
  free(want);
}

static struct fm_request req_for(const char *manager, time_t now)
{
  struct fm_request r = {
      .schema = builtin, .api_version = "apps/v1", .kind = "Deployment", .manager = manager, .now = now};
  return r;
}

static const json_t *entry(const json_t *obj, const char *manager, const char *op)
{
  const json_t *mf = kj_get(obj, "metadata.managedFields");
  size_t i;
  json_t *e;
  json_array_foreach (mf, i, e) {
    if (strcmp(json_string_value(json_object_get(e, "manager")), manager) == 0 &&
        strcmp(json_string_value(json_object_get(e, "operation")), op) == 0)
      return e;
  }
  return NULL;
}

static void assert_fields(const json_t *obj, const char *manager, const char *op, const char *want)
{
  const json_t *e = entry(obj, manager, op);
  if (!e)
    fail_msg("no %s entry for %s in %s", op, manager,
             kj_dumps_flags(kj_get(obj, "metadata.managedFields"), JSON_COMPACT));
  assert_json_text(json_object_get(e, "fieldsV1"), want);
}

#define DEPLOY_BASE                                                                                                    \
  "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','labels':{'app':'web'}},"                      \
  "'spec':{'replicas':2,'selector':{'matchLabels':{'app':'web'}},"                                                     \
  "'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{'name':'nginx',"                             \
  "'image':'nginx:1.25','ports':[{'containerPort':80}]}]}}}}"

/* ---- field sets ---- */

static void test_object_fields_deployment(void **state)
{
  const struct stype *t = schema_kind(builtin, "apps", "v1", "Deployment");
  assert_non_null(t);
  json_t *obj = J("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web',"
                  "'labels':{'app':'web'},'finalizers':['example.com/x']},"
                  "'spec':{'replicas':2,'selector':{'matchLabels':{'app':'web'}},"
                  "'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{"
                  "'name':'nginx','image':'nginx:1.25','args':['-g','daemon off;'],"
                  "'ports':[{'containerPort':443},{'containerPort':80},{'containerPort':53,'protocol':'UDP'}]}],"
                  "'nodeSelector':{'disk':'ssd'}}}}}");
  struct fm_set *s = fm_object_fields(t, obj);
  json_t *fv = fm_set_to_fieldsv1(s);
  assert_json_text(fv, "{'f:apiVersion':{},'f:kind':{},'f:metadata':{'f:finalizers':{'v:\\'example.com/x\\'':{}},"
                       "'f:labels':{'f:app':{}},'f:name':{}},'f:spec':{'f:replicas':{},'f:selector':{},"
                       "'f:template':{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:containers':{"
                       "'k:{\\'name\\':\\'nginx\\'}':{'.':{},'f:args':{},'f:image':{},'f:name':{},'f:ports':{"
                       "'k:{\\'containerPort\\':53,\\'protocol\\':\\'UDP\\'}':{'.':{},'f:containerPort':{},"
                       "'f:protocol':{}},"
                       "'k:{\\'containerPort\\':80,\\'protocol\\':\\'TCP\\'}':{'.':{},'f:containerPort':{}},"
                       "'k:{\\'containerPort\\':443,\\'protocol\\':\\'TCP\\'}':{'.':{},'f:containerPort':{}}}}},"
                       "'f:nodeSelector':{}}}}}");
  json_t *paths = fm_set_paths(s);
  /* Members of a node come before its children's members; keys order
   * numerically, as upstream orders values. */
  assert_string_equal(json_string_value(json_array_get(paths, 0)), ".apiVersion");
  bool found = false;
  size_t i;
  json_t *p;
  json_array_foreach (paths, i, p)
    found |= strcmp(json_string_value(p), ".spec.template.spec.containers[name=\"nginx\"]"
                                          ".ports[containerPort=80,protocol=\"TCP\"]") == 0;
  assert_true(found);
  json_decref(paths);
  json_decref(fv);
  fm_set_free(s);
  json_decref(obj);
}

static void test_fieldsv1_roundtrip(void **state)
{
  static const char *const good[] = {
      "{}",
      "{'f:metadata':{'f:labels':{'.':{},'f:app':{}}}}",
      "{'f:spec':{'f:ports':{'k:{\\'port\\':80,\\'protocol\\':\\'TCP\\'}':{'.':{},'f:port':{}}}}}",
      "{'f:metadata':{'f:finalizers':{'.':{},'v:\\'a\\'':{}}}}",
      "{'f:x':{'i:0':{},'i:2':{}}}",
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    json_t *in = J(good[i]);
    struct fm_set *s = NULL;
    assert_int_equal(fm_set_from_fieldsv1(in, &s), 0);
    json_t *out = fm_set_to_fieldsv1(s);
    assert_json_text(out, good[i]);
    json_decref(out);
    json_decref(in);
    fm_set_free(s);
  }
  static const char *const bad[] = {"{'x:y':{}}", "{'f:a':3}", "{'k:notjson':{}}", "{'i:x':{}}", "[]"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    json_t *in = J(bad[i]);
    struct fm_set *s = (struct fm_set *)1;
    assert_int_equal(fm_set_from_fieldsv1(in, &s), -EINVAL);
    assert_null(s);
    json_decref(in);
  }
}

/* ---- Update ---- */

static void test_update_two_managers(void **state)
{
  struct fm_request r1 = req_for("kubectl-client-side-apply", T0);
  json_t *obj = J(DEPLOY_BASE);
  assert_int_equal(fieldmanager_update(&r1, NULL, obj), 0);
  const json_t *e = entry(obj, "kubectl-client-side-apply", "Update");
  assert_non_null(e);
  assert_string_equal(json_string_value(json_object_get(e, "apiVersion")), "apps/v1");
  assert_string_equal(json_string_value(json_object_get(e, "time")), T0_STR);
  assert_string_equal(json_string_value(json_object_get(e, "fieldsType")), "FieldsV1");
  assert_null(json_object_get(e, "subresource"));
  assert_fields(obj, "kubectl-client-side-apply", "Update",
                "{'f:metadata':{'f:labels':{'.':{},'f:app':{}}},'f:spec':{'f:replicas':{},"
                "'f:selector':{},'f:template':{'f:metadata':{'f:labels':{'.':{},'f:app':{}}},"
                "'f:spec':{'f:containers':{'k:{\\'name\\':\\'nginx\\'}':{'.':{},'f:image':{},"
                "'f:name':{},'f:ports':{'.':{},'k:{\\'containerPort\\':80,\\'protocol\\':"
                "\\'TCP\\'}':{'.':{},'f:containerPort':{}}}}}}}}}");

  /* kubectl edit sends the object back with the managedFields it read. */
  json_t *edited = json_deep_copy(obj);
  kj_set_str(edited, "spec.template.spec.containers[0].image", "nginx:1.26");
  kj_set_str(edited, "metadata.labels.tier", "frontend");
  kj_del(edited, "spec.replicas");
  struct fm_request r2 = req_for("kubectl-edit", T0 + 60);
  assert_int_equal(fieldmanager_update(&r2, obj, edited), 0);
  assert_fields(edited, "kubectl-edit", "Update",
                "{'f:metadata':{'f:labels':{'f:tier':{}}},'f:spec':{'f:template':{'f:spec':{"
                "'f:containers':{'k:{\\'name\\':\\'nginx\\'}':{'f:image':{}}}}}}}");
  /* The image moved to kubectl-edit, the removed replicas left everyone. */
  assert_fields(edited, "kubectl-client-side-apply", "Update",
                "{'f:metadata':{'f:labels':{'.':{},'f:app':{}}},'f:spec':{"
                "'f:selector':{},'f:template':{'f:metadata':{'f:labels':{'.':{},'f:app':{}}},"
                "'f:spec':{'f:containers':{'k:{\\'name\\':\\'nginx\\'}':{'.':{},"
                "'f:name':{},'f:ports':{'.':{},'k:{\\'containerPort\\':80,\\'protocol\\':"
                "\\'TCP\\'}':{'.':{},'f:containerPort':{}}}}}}}}}");
  /* Sorted by time: the older entry first. */
  assert_string_equal(kj_get_str(edited, "metadata.managedFields[0].manager"), "kubectl-client-side-apply");
  assert_string_equal(kj_get_str(edited, "metadata.managedFields[1].time"), "2023-11-14T22:14:20Z");

  /* A write that changes nothing creates no entry and keeps the times;
   * a client that drops managedFields does not erase them. */
  json_t *same = json_deep_copy(edited);
  kj_del(same, "metadata.managedFields");
  struct fm_request r3 = req_for("noop", T0 + 120);
  assert_int_equal(fieldmanager_update(&r3, edited, same), 0);
  assert_null(entry(same, "noop", "Update"));
  assert_true(json_equal(kj_get(same, "metadata.managedFields"), kj_get(edited, "metadata.managedFields")));

  json_decref(same);
  json_decref(edited);
  json_decref(obj);
}

/* What the client sends in metadata.managedFields on an update. */
static void test_update_client_managed_fields(void **state)
{
  static const struct {
    const char *name, *sent; /* NULL: dropped */
    size_t want_entries;
    bool creator_kept;
  } cases[] = {
      {"dropped: the stored ones stay", NULL, 2, true},
      {"unreadable: the stored ones stay", "[{'manager':'x','operation':'Bogus'}]", 2, true},
      {"[{}] clears them", "[{}]", 1, false},
      {"replaced by the client",
       "[{'manager':'other','operation':'Update','apiVersion':'apps/v1',"
       "'fieldsType':'FieldsV1','fieldsV1':{'f:spec':{'f:paused':{}}}}]",
       2, false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *obj = J(DEPLOY_BASE);
    struct fm_request r1 = req_for("creator", T0);
    assert_int_equal(fieldmanager_update(&r1, NULL, obj), 0);
    json_t *next = json_deep_copy(obj);
    kj_set_int(next, "spec.replicas", 7);
    if (cases[i].sent) kj_set(next, "metadata.managedFields", J(cases[i].sent));
    else kj_del(next, "metadata.managedFields");
    struct fm_request r2 = req_for("editor", T0 + 1);
    assert_int_equal(fieldmanager_update(&r2, obj, next), 0);
    assert_int_equal(json_array_size(kj_get(next, "metadata.managedFields")), cases[i].want_entries);
    assert_fields(next, "editor", "Update", "{'f:spec':{'f:replicas':{}}}");
    assert_true((entry(next, "creator", "Update") != NULL) == cases[i].creator_kept);
    json_decref(next);
    json_decref(obj);
  }
}

static void test_update_status_subresource(void **state)
{
  json_t *obj = J(DEPLOY_BASE);
  struct fm_request r1 = req_for("kubectl-create", T0);
  json_object_set_new(obj, "status", J("{'replicas':1}"));
  assert_int_equal(fieldmanager_update(&r1, NULL, obj), 0);
  /* The main resource never owns status. */
  assert_null(json_object_get(json_object_get(entry(obj, "kubectl-create", "Update"), "fieldsV1"), "f:status"));
  json_t *st = json_deep_copy(obj);
  kj_set_int(st, "status.replicas", 2);
  kj_set_int(st, "status.readyReplicas", 2);
  struct fm_request r2 = req_for("kube-controller-manager", T0 + 1);
  r2.subresource = "status";
  assert_int_equal(fieldmanager_update(&r2, obj, st), 0);
  const json_t *e = entry(st, "kube-controller-manager", "Update");
  assert_non_null(e);
  assert_string_equal(json_string_value(json_object_get(e, "subresource")), "status");
  assert_json_text(json_object_get(e, "fieldsV1"), "{'f:status':{'f:readyReplicas':{},'f:replicas':{}}}");
  json_decref(st);
  json_decref(obj);
}

static void test_update_caps_managers(void **state)
{
  json_t *obj = J("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'}}");
  for (int i = 0; i < FM_MAX_UPDATE_MANAGERS + 3; i++) {
    json_t *next = json_deep_copy(obj);
    char key[16], mgr[16];
    snprintf(key, sizeof key, "k%d", i);
    snprintf(mgr, sizeof mgr, "m%02d", i);
    json_object_set_new(kj_obj(next, "metadata.labels"), key, json_string("v"));
    struct fm_request r = req_for(mgr, T0 + i);
    assert_int_equal(fieldmanager_update(&r, obj, next), 0);
    json_decref(obj);
    obj = next;
  }
  assert_int_equal(json_array_size(kj_get(obj, "metadata.managedFields")), FM_MAX_UPDATE_MANAGERS);
  const json_t *anc = entry(obj, "ancient-changes", "Update");
  assert_non_null(anc);
  assert_non_null(kj_get(anc, "fieldsV1[\"f:metadata\"][\"f:labels\"][\"f:k0\"]"));
  assert_null(entry(obj, "m00", "Update"));
  assert_non_null(entry(obj, "m12", "Update"));
  json_decref(obj);
}

/* ---- Apply ---- */

static json_t *apply_ok(const char *manager, time_t now, const json_t *live, const char *config, bool force)
{
  struct fm_request r = req_for(manager, now);
  json_t *cfg = J(config), *out = NULL, *st = NULL;
  int rc = fieldmanager_apply(&r, live, cfg, force, &out, &st);
  if (rc != 0) fail_msg("apply failed: %s", kj_dumps_flags(st, JSON_COMPACT));
  assert_null(st);
  json_decref(cfg);
  return out;
}

static void test_apply_create(void **state)
{
  json_t *obj = apply_ok("kubectl", T0, NULL, DEPLOY_BASE, false);
  assert_int_equal(kj_get_int(obj, "spec.replicas", 0), 2);
  assert_string_equal(kj_get_str(obj, "spec.template.spec.containers[0].image"), "nginx:1.25");
  assert_string_equal(kj_get_str(obj, "kind"), "Deployment");
  assert_int_equal(json_array_size(kj_get(obj, "metadata.managedFields")), 1);
  const json_t *e = entry(obj, "kubectl", "Apply");
  assert_non_null(e);
  assert_string_equal(json_string_value(json_object_get(e, "apiVersion")), "apps/v1");
  assert_string_equal(json_string_value(json_object_get(e, "time")), T0_STR);
  assert_fields(obj, "kubectl", "Apply",
                "{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:replicas':{},"
                "'f:selector':{},'f:template':{'f:metadata':{'f:labels':{'f:app':{}}},"
                "'f:spec':{'f:containers':{'k:{\\'name\\':\\'nginx\\'}':{'.':{},'f:image':{},"
                "'f:name':{},'f:ports':{'k:{\\'containerPort\\':80,\\'protocol\\':\\'TCP\\'}':{"
                "'.':{},'f:containerPort':{}}}}}}}}}");
  json_decref(obj);
}

/* Apply v1, optionally let another manager take a field, apply v2 without
 * some fields: what the applier alone owned goes, the rest stays. */
static void test_apply_removes_dropped_fields(void **state)
{
  static const struct {
    const char *name;
    bool other_takes_replicas;
    int64_t want_replicas; /* -1: absent */
  } cases[] = {
      {"applier alone owned replicas", false, -1},
      {"an updater took replicas", true, 5},
  };
  const char *v1 = "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','labels':{'app':'web',"
                   "'tier':'fe'}},'spec':{'replicas':2,'selector':{'matchLabels':{'app':'web'}},'template':{"
                   "'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{'name':'nginx','image':'nginx',"
                   "'ports':[{'containerPort':80}]},{'name':'sidecar','image':'busybox'}]}}}}";
  const char *v2 = "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','labels':{'app':'web'}},"
                   "'spec':{'selector':{'matchLabels':{'app':'web'}},'template':{'metadata':{'labels':{"
                   "'app':'web'}},'spec':{'containers':[{'name':'nginx','image':'nginx'}]}}}}";
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *live = apply_ok("kubectl", T0, NULL, v1, false);
    /* The status written by a controller is not the applier's to remove. */
    kj_set_int(live, "status.replicas", 2);
    if (cases[i].other_takes_replicas) {
      json_t *scaled = json_deep_copy(live);
      kj_set_int(scaled, "spec.replicas", 5);
      struct fm_request r = req_for("kube-scale", T0 + 1);
      assert_int_equal(fieldmanager_update(&r, live, scaled), 0);
      json_decref(live);
      live = scaled;
    }
    json_t *out = apply_ok("kubectl", T0 + 2, live, v2, false);
    assert_int_equal(kj_get_int(out, "spec.replicas", -1), cases[i].want_replicas);
    assert_null(kj_get(out, "metadata.labels.tier"));
    assert_string_equal(kj_get_str(out, "metadata.labels.app"), "web");
    assert_int_equal(json_array_size(kj_get(out, "spec.template.spec.containers")), 1);
    assert_null(kj_get(out, "spec.template.spec.containers[0].ports"));
    assert_int_equal(kj_get_int(out, "status.replicas", 0), 2);
    assert_fields(out, "kubectl", "Apply",
                  "{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:selector':{},"
                  "'f:template':{'f:metadata':{'f:labels':{'f:app':{}}},'f:spec':{'f:containers':"
                  "{'k:{\\'name\\':\\'nginx\\'}':{'.':{},'f:image':{},'f:name':{}}}}}}}");
    assert_string_equal(json_string_value(json_object_get(entry(out, "kubectl", "Apply"), "time")),
                        "2023-11-14T22:13:22Z");
    json_decref(out);
    json_decref(live);
  }
}

static json_t *created_by_client_side_apply(void)
{
  json_t *obj = J(DEPLOY_BASE);
  struct fm_request r = req_for("kubectl-client-side-apply", T0);
  assert_int_equal(fieldmanager_update(&r, NULL, obj), 0);
  return obj;
}

static void test_apply_conflicts(void **state)
{
  static const struct {
    const char *name, *replicas, *image;
    const char *message;
    size_t causes;
  } cases[] = {
      {"one", "3", "nginx:1.25",
       "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: "
       ".spec.replicas",
       1},
      {"two", "3", "nginx:1.26",
       "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n"
       "- .spec.replicas\n"
       "- .spec.template.spec.containers[name=\"nginx\"].image",
       2},
      {"same values", "2", "nginx:1.25", NULL, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *live = created_by_client_side_apply();
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},'spec':{"
             "'replicas':%s,'template':{'spec':{'containers':[{'name':'nginx','image':'%s'}]}}}}",
             cases[i].replicas, cases[i].image);
    struct fm_request r = req_for("kubectl", T0 + 5);
    json_t *c = J(cfg), *out = NULL, *st = NULL;
    int rc = fieldmanager_apply(&r, live, c, false, &out, &st);
    if (!cases[i].message) {
      assert_int_equal(rc, 0);
      /* Same value: both own the field. */
      assert_non_null(kj_get(entry(out, "kubectl", "Apply"), "fieldsV1[\"f:spec\"][\"f:replicas\"]"));
      assert_non_null(
          kj_get(entry(out, "kubectl-client-side-apply", "Update"), "fieldsV1[\"f:spec\"][\"f:replicas\"]"));
    } else {
      assert_true(rc < 0);
      assert_null(out);
      assert_int_equal(kstatus_code(st), 409);
      assert_string_equal(kstatus_reason(st), "Conflict");
      assert_string_equal(kj_get_str(st, "message"), cases[i].message);
      json_t *causes = kj_get(st, "details.causes");
      assert_int_equal(json_array_size(causes), cases[i].causes);
      assert_string_equal(kj_get_str(st, "details.causes[0].reason"), "FieldManagerConflict");
      assert_string_equal(kj_get_str(st, "details.causes[0].message"),
                          "conflict with \"kubectl-client-side-apply\" using apps/v1");
      assert_string_equal(kj_get_str(st, "details.causes[0].field"), ".spec.replicas");
    }
    json_decref(st);
    json_decref(out);
    json_decref(c);
    json_decref(live);
  }
}

static void test_apply_force_takes_ownership(void **state)
{
  json_t *live = created_by_client_side_apply();
  json_t *out = apply_ok("kubectl", T0 + 5, live,
                         "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                         "'spec':{'replicas':3}}",
                         true);
  assert_int_equal(kj_get_int(out, "spec.replicas", 0), 3);
  assert_fields(out, "kubectl", "Apply", "{'f:spec':{'f:replicas':{}}}");
  const json_t *csa = entry(out, "kubectl-client-side-apply", "Update");
  assert_non_null(csa);
  assert_null(kj_get(csa, "fieldsV1[\"f:spec\"][\"f:replicas\"]"));
  assert_non_null(kj_get(csa, "fieldsV1[\"f:spec\"][\"f:selector\"]"));
  /* Apply entries sort before Update entries. */
  assert_string_equal(kj_get_str(out, "metadata.managedFields[0].operation"), "Apply");
  /* The rest of the object is untouched. */
  assert_string_equal(kj_get_str(out, "spec.template.spec.containers[0].image"), "nginx:1.25");
  json_decref(out);
  json_decref(live);
}

static void test_two_appliers_share_field(void **state)
{
  json_t *a = apply_ok("alice", T0, NULL, DEPLOY_BASE, false);
  json_t *b = apply_ok("bob", T0 + 1, a,
                       "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                       "'spec':{'replicas':2}}",
                       false);
  assert_non_null(kj_get(entry(b, "alice", "Apply"), "fieldsV1[\"f:spec\"][\"f:replicas\"]"));
  assert_fields(b, "bob", "Apply", "{'f:spec':{'f:replicas':{}}}");

  /* Changing the shared value now conflicts with the other applier, which
   * is named without a version. */
  struct fm_request r = req_for("bob", T0 + 2);
  json_t *c = J("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                "'spec':{'replicas':4}}");
  json_t *out = NULL, *st = NULL;
  assert_true(fieldmanager_apply(&r, b, c, false, &out, &st) < 0);
  assert_string_equal(kj_get_str(st, "message"),
                      "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas");
  json_decref(st);

  /* When bob stops applying it, alice still owns it: it stays. */
  json_t *b2 = apply_ok("bob", T0 + 3, b,
                        "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web',"
                        "'labels':{'bob':'yes'}}}",
                        false);
  assert_int_equal(kj_get_int(b2, "spec.replicas", 0), 2);
  assert_fields(b2, "bob", "Apply", "{'f:metadata':{'f:labels':{'f:bob':{}}}}");
  json_decref(b2);
  json_decref(c);
  json_decref(b);
  json_decref(a);
}

static void test_apply_list_merge(void **state)
{
  /* A container added by another manager survives an apply that names
   * only its own; the applier's order leads, ports merge by key. */
  json_t *live = J("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                   "'spec':{'selector':{'matchLabels':{'app':'web'}},'template':{'spec':{"
                   "'containers':[{'name':'istio','image':'proxy'},{'name':'nginx','image':'nginx',"
                   "'ports':[{'containerPort':80,'protocol':'TCP'}]}]}}}}");
  struct fm_request r0 = req_for("injector", T0);
  assert_int_equal(fieldmanager_update(&r0, NULL, live), 0);
  json_t *out = apply_ok("kubectl", T0 + 1, live,
                         "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                         "'spec':{'template':{'spec':{'containers':[{'name':'nginx','ports':[{"
                         "'containerPort':80},{'containerPort':443}]}]}}}}",
                         false);
  json_t *cs = kj_get(out, "spec.template.spec.containers");
  assert_int_equal(json_array_size(cs), 2);
  assert_string_equal(kj_get_str(out, "spec.template.spec.containers[0].name"), "istio");
  assert_string_equal(kj_get_str(out, "spec.template.spec.containers[1].image"), "nginx");
  assert_int_equal(json_array_size(kj_get(out, "spec.template.spec.containers[1].ports")), 2);
  assert_string_equal(kj_get_str(out, "spec.template.spec.containers[1].ports[0].protocol"), "TCP");
  json_decref(out);
  json_decref(live);
}

static void test_apply_bad_requests(void **state)
{
  static const struct {
    const char *manager, *config;
    int code;
    const char *message;
  } cases[] = {
      {"kubectl", "{'apiVersion':'apps/v1beta1','kind':'Deployment','metadata':{'name':'web'}}", 400,
       "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, "
       "expected: apps/v1"},
      {"kubectl", "{'kind':'Deployment','metadata':{'name':'web'}}", 400,
       "Incorrect version specified in apply patch. Specified patch version: , expected: apps/v1"},
      {"kubectl", "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','managedFields':[]}}", 400,
       "metadata.managedFields must be nil"},
      {"kubectl", "{'apiVersion':'apps/v1','metadata':{'name':'web'}}", 400,
       "Object 'Kind' is missing in '{\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":\"web\"}}'"},
      {"", "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'}}", 400,
       "fieldManager must be set for apply"},
      {"kubectl",
       "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','namespace':'ns'},"
       "'spec':{'template':{'spec':{'containers':[{'name':'a','env':[{'name':'X'},{'name':'X'}]},"
       "{'name':'a'}]}}}}",
       500,
       "failed to create typed patch object (ns/web; apps/v1, Kind=Deployment): errors:\n"
       "  .spec.template.spec.containers[name=\"a\"].env: duplicate entries for key [name=\"X\"]\n"
       "  .spec.template.spec.containers: duplicate entries for key [name=\"a\"]"},
      {"kubectl",
       "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
       "'spec':{'template':{'spec':{'containers':[{'image':'x'}]}}}}",
       500,
       "failed to create typed patch object (/web; apps/v1, Kind=Deployment): "
       ".spec.template.spec.containers: element 0: associative list with keys has an element that "
       "omits key field \"name\" (and doesn't have default value)"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct fm_request r = req_for(cases[i].manager, T0);
    json_t *c = J(cases[i].config), *out = NULL, *st = NULL;
    assert_true(fieldmanager_apply(&r, NULL, c, false, &out, &st) < 0);
    assert_null(out);
    assert_int_equal(kstatus_code(st), cases[i].code);
    if (cases[i].code == 400) assert_string_equal(kstatus_reason(st), "BadRequest");
    else assert_null(kstatus_reason(st));
    assert_string_equal(kj_get_str(st, "message"), cases[i].message);
    json_decref(st);
    json_decref(c);
  }
}

static void test_apply_adopts_untracked_object(void **state)
{
  json_t *live = J(DEPLOY_BASE);
  struct fm_request r = req_for("kubectl", T0);
  json_t *c = J("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                "'spec':{'replicas':3}}");
  json_t *out = NULL, *st = NULL;
  assert_true(fieldmanager_apply(&r, live, c, false, &out, &st) < 0);
  assert_string_equal(kj_get_str(st, "message"),
                      "Apply failed with 1 conflict: conflict with \"before-first-apply\" using "
                      "apps/v1: .spec.replicas");
  json_decref(st);
  json_decref(c);
  json_decref(live);
}

/* kubectl's server-side apply after client-side applies: fields whose live
 * value is still the last-applied one move without conflict, and the
 * annotation follows the new configuration; a field someone changed since
 * still conflicts. */
static void test_apply_upgrade_from_client_side(void **state)
{
  static const struct {
    const char *name, *manager;
    bool scaled_since;
    const char *message; /* NULL: success */
  } cases[] = {
      {"kubectl upgrades", "kubectl", false, NULL},
      {"another applier", "argo", false,
       "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: "
       ".spec.replicas"},
      {"changed since last apply", "kubectl", true,
       "Apply failed with 1 conflict: conflict with \"kubectl-scale\" using apps/v1: "
       ".spec.replicas"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *live = J(DEPLOY_BASE);
    json_t *la = J(DEPLOY_BASE);
    char *la_text = kj_dumps_flags(la, JSON_COMPACT | JSON_SORT_KEYS);
    json_object_set_new(kj_obj(live, "metadata.annotations"), "kubectl.kubernetes.io/last-applied-configuration",
                        json_string(la_text));
    free(la_text);
    json_decref(la);
    struct fm_request r0 = req_for("kubectl-client-side-apply", T0);
    assert_int_equal(fieldmanager_update(&r0, NULL, live), 0);
    if (cases[i].scaled_since) {
      json_t *scaled = json_deep_copy(live);
      kj_set_int(scaled, "spec.replicas", 5);
      struct fm_request rs = req_for("kubectl-scale", T0 + 1);
      assert_int_equal(fieldmanager_update(&rs, live, scaled), 0);
      json_decref(live);
      live = scaled;
    }
    struct fm_request r = req_for(cases[i].manager, T0 + 2);
    json_t *c = J("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                  "'spec':{'replicas':3}}");
    json_t *out = NULL, *st = NULL;
    int rc = fieldmanager_apply(&r, live, c, false, &out, &st);
    if (cases[i].message) {
      assert_true(rc < 0);
      assert_string_equal(kj_get_str(st, "message"), cases[i].message);
    } else {
      assert_int_equal(rc, 0);
      assert_int_equal(kj_get_int(out, "spec.replicas", 0), 3);
      assert_null(kj_get(entry(out, "kubectl-client-side-apply", "Update"), "fieldsV1[\"f:spec\"][\"f:replicas\"]"));
      assert_string_equal(kj_get_str(out, "metadata.annotations[\"kubectl.kubernetes.io/last-applied-configuration\"]"),
                          "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
                          "\"spec\":{\"replicas\":3}}");
    }
    json_decref(st);
    json_decref(out);
    json_decref(c);
    json_decref(live);
  }
}

/* A kind the schema does not know is deduced: objects merge per key,
 * arrays are replaced whole, and very deep values still work. */
static void test_apply_deduced_kind(void **state)
{
  struct fm_request r = {.schema = builtin,
                         .api_version = "example.com/v1",
                         .kind = "Widget",
                         .manager = "kubectl",
                         .now = T0,
                         .no_status_subresource = true};
  json_t *live = J("{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'},"
                   "'spec':{'a':1,'list':[1,2,3],'keep':true},'status':{'phase':'x'}}");
  struct fm_request r0 = r;
  r0.manager = "creator";
  assert_int_equal(fieldmanager_update(&r0, NULL, live), 0);
  /* Without a status subresource, status is an ordinary field. */
  assert_non_null(kj_get(entry(live, "creator", "Update"), "fieldsV1[\"f:status\"]"));
  json_t *cfg = J("{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'},"
                  "'spec':{'a':1,'list':[9]}}");
  json_t *deep = json_object_get(cfg, "spec");
  for (int i = 0; i < 100; i++) {
    json_t *n = json_object();
    json_object_set_new(deep, "d", n);
    deep = n;
  }
  json_t *out = NULL, *st = NULL;
  assert_int_equal(fieldmanager_apply(&r, live, cfg, true, &out, &st), 0);
  assert_true(kj_get_bool(out, "spec.keep", false));
  assert_int_equal(json_array_size(kj_get(out, "spec.list")), 1);
  assert_non_null(kj_get(entry(out, "kubectl", "Apply"), "fieldsV1[\"f:spec\"][\"f:list\"]"));
  assert_null(kj_get(entry(out, "creator", "Update"), "fieldsV1[\"f:spec\"][\"f:list\"]"));
  assert_non_null(kj_get(out, "spec.d.d.d.d"));
  json_decref(out);
  json_decref(cfg);
  json_decref(live);
}

/* ---- request checks ---- */

static void test_validate_options(void **state)
{
  assert_null(fieldmanager_validate_options("PatchOptions", "kubectl", true, true));
  assert_null(fieldmanager_validate_options("PatchOptions", NULL, false, false));
  json_t *st = fieldmanager_validate_options("PatchOptions", "", true, false);
  assert_int_equal(kstatus_code(st), 422);
  assert_string_equal(kj_get_str(st, "message"),
                      "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is "
                      "required for apply patch");
  json_decref(st);
  st = fieldmanager_validate_options("PatchOptions", "kubectl", false, true);
  assert_string_equal(kj_get_str(st, "details.causes[0].field"), "force");
  assert_string_equal(kj_get_str(st, "details.causes[0].reason"), "FieldValueForbidden");
  json_decref(st);
  char longname[FM_MANAGER_NAME_MAX + 2];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  st = fieldmanager_validate_options("UpdateOptions", longname, false, false);
  assert_string_equal(kj_get_str(st, "details.causes[0].reason"), "FieldValueTooLong");
  json_decref(st);
}

static void test_decode_apply(void **state)
{
  static const struct {
    const char *body;
    const char *want;    /* compact JSON, or NULL for an error */
    const char *message; /* prefix of the error */
  } cases[] = {
      {"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n",
       "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"},"
       "\"data\":{\"a\":\"1\"}}",
       NULL},
      {"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}", NULL},
      {"", "{}", NULL},
      {"# nothing\n", "{}", NULL},
      {"- a\n- b\n", NULL, "error decoding YAML: json: cannot unmarshal array"},
      {"a: [\n", NULL, "error decoding YAML: yaml: line"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *st = NULL;
    json_t *cfg = fieldmanager_decode_apply(cases[i].body, strlen(cases[i].body), &st);
    if (cases[i].want) {
      assert_null(st);
      char *got = kj_dumps_flags(cfg, JSON_COMPACT);
      assert_string_equal(got, cases[i].want);
      free(got);
    } else {
      assert_null(cfg);
      assert_int_equal(kstatus_code(st), 400);
      const char *m = kj_get_str(st, "message");
      if (strncmp(m, cases[i].message, strlen(cases[i].message)) != 0) fail_msg("message %s", m);
    }
    json_decref(cfg);
    json_decref(st);
  }
}

static void test_check_name(void **state)
{
  static const struct {
    const char *obj, *name, *ns, *message; /* message NULL: accepted */
  } cases[] = {
      {"{'metadata':{'name':'web','namespace':'ns'}}", "web", "ns", NULL},
      {"{'metadata':{'name':'web'}}", "web", "ns", NULL},
      {"{'metadata':{'name':'web'}}", "api", "ns",
       "the name of the object (web) does not match the name on the URL (api)"},
      {"{'metadata':{}}", "web", "ns", "the name of the object () does not match the name on the URL (web)"},
      {"{'metadata':{'name':'web','namespace':'other'}}", "web", "ns",
       "the namespace of the object (other) does not match the namespace on the URL (ns)"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *o = J(cases[i].obj);
    json_t *st = fieldmanager_check_name(o, cases[i].name, cases[i].ns);
    if (!cases[i].message) {
      assert_null(st);
    } else {
      assert_int_equal(kstatus_code(st), 400);
      assert_string_equal(kj_get_str(st, "message"), cases[i].message);
    }
    json_decref(st);
    json_decref(o);
  }
}

static void test_default_manager(void **state)
{
  static const struct {
    const char *ua, *want;
  } cases[] = {
      {"kubectl/v1.32.0 (linux/amd64) kubernetes/abc", "kubectl"},
      {"kube-controller-manager/v1.32.0", "kube-controller-manager"},
      {"curl", "curl"},
      {"", ""},
      {NULL, ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char out[FM_MANAGER_NAME_MAX + 1];
    assert_string_equal(fieldmanager_default_manager(cases[i].ua, out, sizeof out), cases[i].want);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_object_fields_deployment),
      cmocka_unit_test(test_fieldsv1_roundtrip),
      cmocka_unit_test(test_update_two_managers),
      cmocka_unit_test(test_update_client_managed_fields),
      cmocka_unit_test(test_update_status_subresource),
      cmocka_unit_test(test_update_caps_managers),
      cmocka_unit_test(test_apply_create),
      cmocka_unit_test(test_apply_removes_dropped_fields),
      cmocka_unit_test(test_apply_conflicts),
      cmocka_unit_test(test_apply_force_takes_ownership),
      cmocka_unit_test(test_two_appliers_share_field),
      cmocka_unit_test(test_apply_list_merge),
      cmocka_unit_test(test_apply_bad_requests),
      cmocka_unit_test(test_apply_adopts_untracked_object),
      cmocka_unit_test(test_apply_upgrade_from_client_side),
      cmocka_unit_test(test_apply_deduced_kind),
      cmocka_unit_test(test_validate_options),
      cmocka_unit_test(test_decode_apply),
      cmocka_unit_test(test_check_name),
      cmocka_unit_test(test_default_manager),
  };
  return cmocka_run_group_tests(tests, load_builtin, free_builtin);
}
