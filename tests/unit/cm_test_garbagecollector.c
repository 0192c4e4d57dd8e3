/*
 * cm_test_garbagecollector.c - the garbage collector's decisions:
 * background deletion of a dependent whose owners are all gone (with the
 * uid precondition), patching away only the dangling references,
 * nothing while an owner is present or unverified, foreground deletion
 * (dependents deleted, finalizer kept until blocking dependents are gone)
 * and orphaning (references stripped, then the finalizer removed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "controllers/core_logic.h"
#include "kube/json.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad fixture json: %s: %s", e.text, s);
  return v;
}

static const char *POD2 =
    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"pod-uid\",\"ownerReferences\":["
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs1\",\"uid\":\"rs1-uid\",\"controller\":true},"
    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"cm\",\"uid\":\"cm-uid\"}]}}";

static void test_dependent_decisions(void **state)
{
  json_t *pod = J(POD2);
  const char *path = "/api/v1/namespaces/ns/pods/p";
  static const struct {
    int s0, s1;
    const char *verb; /* NULL: nothing */
    const char *policy;
    int kept_refs;
  } cases[] = {
      {GC_OWNER_PRESENT, GC_OWNER_PRESENT, NULL, NULL, 0},
      {GC_OWNER_ABSENT, GC_OWNER_ABSENT, "DELETE", "Background", 0},
      {GC_OWNER_ABSENT, GC_OWNER_PRESENT, "PATCH", NULL, 1},
      {GC_OWNER_ABSENT, GC_OWNER_UNKNOWN, "PATCH", NULL, 1},
      {GC_OWNER_UNKNOWN, GC_OWNER_UNKNOWN, NULL, NULL, 0},
      {GC_OWNER_ABSENT, GC_OWNER_WAITING, "DELETE", "Foreground", 0},
      {GC_OWNER_WAITING, GC_OWNER_PRESENT, NULL, NULL, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int st[2] = {cases[i].s0, cases[i].s1};
    json_t *acts = gc_dependent_actions(pod, path, st, 2);
    if (!cases[i].verb) {
      assert_int_equal(json_array_size(acts), 0);
    } else {
      assert_int_equal(json_array_size(acts), 1);
      json_t *a = json_array_get(acts, 0);
      assert_string_equal(kj_get_str(a, "verb"), cases[i].verb);
      assert_string_equal(kj_get_str(a, "path"), path);
      if (cases[i].policy) {
        assert_string_equal(kj_get_str(a, "body.propagationPolicy"), cases[i].policy);
        assert_string_equal(kj_get_str(a, "body.preconditions.uid"), "pod-uid");
      } else {
        json_t *refs = kj_get(a, "body.metadata.ownerReferences");
        assert_int_equal(json_array_size(refs), cases[i].kept_refs);
        assert_string_equal(kj_get_str(refs, "[0].uid"), "cm-uid");
      }
    }
    json_decref(acts);
  }
  /* An orphan with its own orphan finalizer is deleted with that policy;
   * one already being deleted is left alone. */
  kj_set(pod, "metadata.finalizers", J("[\"orphan\"]"));
  int st[2] = {GC_OWNER_ABSENT, GC_OWNER_ABSENT};
  json_t *acts = gc_dependent_actions(pod, path, st, 2);
  assert_string_equal(kj_get_str(acts, "[0].body.propagationPolicy"), "Orphan");
  json_decref(acts);
  kj_set_str(pod, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  acts = gc_dependent_actions(pod, path, st, 2);
  assert_int_equal(json_array_size(acts), 0);
  json_decref(acts);
  json_decref(pod);
}

static json_t *dep(const char *name, const char *owner_uid, bool block, bool deleting)
{
  char buf[1024];
  snprintf(buf, sizeof buf,
           "{\"obj\":{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"uid\":\"%s-uid\",%s"
           "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"uid\":\"%s\","
           "\"blockOwnerDeletion\":%s},{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"c\",\"uid\":\"other\"}]}},"
           "\"path\":\"/api/v1/namespaces/ns/pods/%s\"}",
           name, name, deleting ? "\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"," : "", owner_uid,
           block ? "true" : "false", name);
  return J(buf);
}

static size_t count(const json_t *acts, const char *verb, const char *path_prefix)
{
  size_t n = 0;
  for (size_t i = 0; i < json_array_size(acts); i++) {
    json_t *a = json_array_get(acts, i);
    n += !strcmp(kj_get_str(a, "verb"), verb) && !strncmp(kj_get_str(a, "path"), path_prefix, strlen(path_prefix));
  }
  return n;
}

static void test_foreground(void **state)
{
  json_t *owner = J("{\"metadata\":{\"name\":\"rs\",\"namespace\":\"ns\",\"uid\":\"rs-uid\",\"resourceVersion\":\"5\","
                    "\"deletionTimestamp\":\"2024-01-01T00:00:00Z\",\"finalizers\":[\"foregroundDeletion\",\"x\"]}}");
  const char *opath = "/apis/apps/v1/namespaces/ns/replicasets/rs";
  json_t *deps = json_array();
  json_array_append_new(deps, dep("a", "rs-uid", true, false));
  json_array_append_new(deps, dep("b", "rs-uid", false, false));
  json_array_append_new(deps, dep("c", "rs-uid", true, true));
  json_array_append_new(deps, dep("z", "someone-else", true, false));
  json_t *acts = gc_foreground_actions(owner, opath, deps);
  /* a (blocking) in the foreground, b in the background, c already going,
   * z is not ours; the finalizer stays while a and c block. */
  assert_int_equal(json_array_size(acts), 2);
  assert_string_equal(kj_get_str(acts, "[0].path"), "/api/v1/namespaces/ns/pods/a");
  assert_string_equal(kj_get_str(acts, "[0].body.propagationPolicy"), "Foreground");
  assert_string_equal(kj_get_str(acts, "[1].body.propagationPolicy"), "Background");
  assert_int_equal(count(acts, "PATCH", opath), 0);
  json_decref(acts);

  /* Only the non-blocking dependent left: the finalizer goes, others stay. */
  json_array_clear(deps);
  json_array_append_new(deps, dep("b", "rs-uid", false, true));
  acts = gc_foreground_actions(owner, opath, deps);
  assert_int_equal(json_array_size(acts), 1);
  assert_string_equal(kj_get_str(acts, "[0].verb"), "PATCH");
  assert_string_equal(kj_get_str(acts, "[0].path"), opath);
  json_t *fins = kj_get(json_array_get(acts, 0), "body.metadata.finalizers");
  assert_int_equal(json_array_size(fins), 1);
  assert_string_equal(kj_get_str(fins, "[0]"), "x");
  json_decref(acts);
  json_decref(deps);
  json_decref(owner);
}

static void test_orphan(void **state)
{
  json_t *owner = J("{\"metadata\":{\"name\":\"rs\",\"namespace\":\"ns\",\"uid\":\"rs-uid\","
                    "\"deletionTimestamp\":\"2024-01-01T00:00:00Z\",\"finalizers\":[\"orphan\"]}}");
  const char *opath = "/apis/apps/v1/namespaces/ns/replicasets/rs";
  json_t *deps = json_array();
  json_array_append_new(deps, dep("a", "rs-uid", true, false));
  json_array_append_new(deps, dep("b", "rs-uid", false, false));
  json_t *acts = gc_orphan_actions(owner, opath, deps);
  assert_int_equal(json_array_size(acts), 2);
  for (size_t i = 0; i < 2; i++) {
    json_t *refs = kj_get(json_array_get(acts, i), "body.metadata.ownerReferences");
    assert_int_equal(json_array_size(refs), 1);
    assert_string_equal(kj_get_str(refs, "[0].uid"), "other");
  }
  assert_int_equal(count(acts, "PATCH", opath), 0);
  json_decref(acts);
  json_array_clear(deps);
  json_array_append_new(deps, dep("a", "not-rs", true, false));
  acts = gc_orphan_actions(owner, opath, deps);
  assert_int_equal(json_array_size(acts), 1);
  assert_string_equal(kj_get_str(acts, "[0].path"), opath);
  assert_int_equal(json_array_size(kj_get(json_array_get(acts, 0), "body.metadata.finalizers")), 0);
  json_decref(acts);
  json_decref(deps);
  json_decref(owner);
}

static void test_kind_resource(void **state)
{
  char prefix[100], plural[100];
  bool ns;
  assert_true(gc_kind_resource("apps/v1", "ReplicaSet", prefix, sizeof prefix, plural, sizeof plural, &ns));
  assert_string_equal(prefix, "/apis/apps/v1");
  assert_string_equal(plural, "replicasets");
  assert_true(ns);
  assert_true(gc_kind_resource("v1", "Node", prefix, sizeof prefix, plural, sizeof plural, &ns));
  assert_string_equal(prefix, "/api/v1");
  assert_false(ns);
  assert_false(gc_kind_resource("example.com/v1", "Widget", prefix, sizeof prefix, plural, sizeof plural, &ns));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dependent_decisions),
      cmocka_unit_test(test_foreground),
      cmocka_unit_test(test_orphan),
      cmocka_unit_test(test_kind_resource),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
