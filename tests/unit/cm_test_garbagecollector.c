/*
 * cm_test_garbagecollector.c - the garbage collector's decisions, as
 * upstream's attemptToDeleteItem: owners classified solid, dangling or
 * waiting; a dependent with a live owner kept (dangling and waiting
 * references patched away), one without deleted with the uid
 * precondition; foreground deletion deciding dependent by dependent and
 * keeping the finalizer while blocking dependents remain; orphaning
 * (references stripped, then the finalizer removed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "controllers/core_logic.h"
#include "cm_test_util.h"
#include "kube/json.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad fixture json: %s: %s", e.text, s);
  return v;
}

static json_t *dep_actions(const json_t *obj, const char *path, const int *st, size_t n, bool has_deps)
{
  struct cm_actions a;
  cm_actions_init(&a);
  gc_dependent_actions(obj, path, st, n, has_deps, &a);
  return cm_actions_json(&a);
}

static json_t *fg_actions(const json_t *owner, const char *path, const json_t *deps)
{
  struct cm_actions a;
  cm_actions_init(&a);
  gc_foreground_actions(owner, path, deps, &a);
  return cm_actions_json(&a);
}

static json_t *orphan_actions(const json_t *owner, const char *path, const json_t *deps)
{
  struct cm_actions a;
  cm_actions_init(&a);
  gc_orphan_actions(owner, path, deps, &a);
  return cm_actions_json(&a);
}

static const char *POD2 =
    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"pod-uid\",\"ownerReferences\":["
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs1\",\"uid\":\"rs1-uid\",\"controller\":true},"
    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"cm\",\"uid\":\"cm-uid\"}]}}";

/* The dependent's decision for every mix of its two owners' states, as
 * upstream's attemptToDeleteItem: a solid owner keeps it (the references
 * to dangling and waiting owners are patched away), no solid owner
 * deletes it (Foreground only when an owner waits and it has dependents
 * itself), an unverified owner decides nothing. */
static void test_dependent_decisions(void **state)
{
  json_t *pod = J(POD2);
  const char *path = "/api/v1/namespaces/ns/pods/p";
  static const struct {
    int s0, s1;
    bool has_deps;
    const char *verb; /* NULL: nothing */
    const char *policy;
    const char *kept; /* PATCH: uid of the reference kept, "" for none */
  } cases[] = {
      {GC_OWNER_PRESENT, GC_OWNER_PRESENT, false, NULL, NULL, NULL},
      /* all owners gone */
      {GC_OWNER_ABSENT, GC_OWNER_ABSENT, false, "DELETE", "Background", NULL},
      {GC_OWNER_ABSENT, GC_OWNER_ABSENT, true, "DELETE", "Background", NULL},
      /* one live owner: only the dangling reference goes */
      {GC_OWNER_ABSENT, GC_OWNER_PRESENT, false, "PATCH", NULL, "cm-uid"},
      /* one live owner, the other deleting in the foreground: the dependent
       * is not deleted, the waiting owner's reference goes */
      {GC_OWNER_WAITING, GC_OWNER_PRESENT, false, "PATCH", NULL, "cm-uid"},
      {GC_OWNER_WAITING, GC_OWNER_PRESENT, true, "PATCH", NULL, "cm-uid"},
      /* no solid owner, one waiting: deleted, Foreground only with dependents */
      {GC_OWNER_ABSENT, GC_OWNER_WAITING, false, "DELETE", "Background", NULL},
      {GC_OWNER_ABSENT, GC_OWNER_WAITING, true, "DELETE", "Foreground", NULL},
      {GC_OWNER_WAITING, GC_OWNER_WAITING, false, "DELETE", "Background", NULL},
      /* unverified owners: nothing decided */
      {GC_OWNER_ABSENT, GC_OWNER_UNKNOWN, false, NULL, NULL, NULL},
      {GC_OWNER_UNKNOWN, GC_OWNER_UNKNOWN, false, NULL, NULL, NULL},
      {GC_OWNER_WAITING, GC_OWNER_UNKNOWN, true, NULL, NULL, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int st[2] = {cases[i].s0, cases[i].s1};
    json_t *acts = dep_actions(pod, path, st, 2, cases[i].has_deps);
    if (!cases[i].verb) {
      if (json_array_size(acts)) fail_msg("case %zu: unexpected %s", i, kj_get_str(acts, "[0].verb"));
      json_decref(acts);
      continue;
    }
    if (json_array_size(acts) != 1) fail_msg("case %zu: %zu actions", i, json_array_size(acts));
    json_t *a = json_array_get(acts, 0);
    if (strcmp(kj_get_str(a, "verb"), cases[i].verb)) fail_msg("case %zu: %s", i, kj_get_str(a, "verb"));
    assert_string_equal(kj_get_str(a, "path"), path);
    if (cases[i].policy) {
      if (strcmp(kj_get_str(a, "body.propagationPolicy"), cases[i].policy))
        fail_msg("case %zu: policy %s", i, kj_get_str(a, "body.propagationPolicy"));
      assert_string_equal(kj_get_str(a, "body.preconditions.uid"), "pod-uid");
    } else {
      json_t *refs = kj_get(a, "body.metadata.ownerReferences");
      assert_int_equal(json_array_size(refs), 1);
      assert_string_equal(kj_get_str(refs, "[0].uid"), cases[i].kept);
      assert_string_equal(kj_get_str(a, "body.metadata.uid"), "pod-uid");
    }
    json_decref(acts);
  }
  /* An orphan with its own finalizer is deleted with that policy; one
   * already being deleted is left alone. */
  kj_set(pod, "metadata.finalizers", J("[\"orphan\"]"));
  int st[2] = {GC_OWNER_ABSENT, GC_OWNER_ABSENT};
  json_t *acts = dep_actions(pod, path, st, 2, false);
  assert_string_equal(kj_get_str(acts, "[0].body.propagationPolicy"), "Orphan");
  json_decref(acts);
  kj_set(pod, "metadata.finalizers", J("[\"foregroundDeletion\"]"));
  acts = dep_actions(pod, path, st, 2, false);
  assert_string_equal(kj_get_str(acts, "[0].body.propagationPolicy"), "Foreground");
  json_decref(acts);
  kj_set_str(pod, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  acts = dep_actions(pod, path, st, 2, false);
  assert_int_equal(json_array_size(acts), 0);
  json_decref(acts);
  json_decref(pod);
}

/* An owner's state from the object found under the reference's name. */
static void test_classify_owner(void **state)
{
  json_t *ref = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"uid\":\"rs-uid\"}");
  assert_int_equal(gc_classify_owner(ref, NULL), GC_OWNER_ABSENT);
  /* Same name, another uid: the owner was deleted and recreated. */
  json_t *other = J("{\"metadata\":{\"name\":\"rs\",\"uid\":\"new-uid\"}}");
  assert_int_equal(gc_classify_owner(ref, other), GC_OWNER_ABSENT);
  json_t *live = J("{\"metadata\":{\"name\":\"rs\",\"uid\":\"rs-uid\"}}");
  assert_int_equal(gc_classify_owner(ref, live), GC_OWNER_PRESENT);
  /* Deleting with the orphan finalizer, or without finalizers: still solid. */
  kj_set_str(live, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  assert_int_equal(gc_classify_owner(ref, live), GC_OWNER_PRESENT);
  /* Foreground deletion: waiting, even for a reference without
   * blockOwnerDeletion. */
  kj_set(live, "metadata.finalizers", J("[\"foregroundDeletion\"]"));
  assert_int_equal(gc_classify_owner(ref, live), GC_OWNER_WAITING);
  json_decref(ref);
  json_decref(other);
  json_decref(live);
}

static json_t *dep(const char *name, const char *owner_uid, bool block, bool deleting)
{
  char buf[1024];
  snprintf(
      buf, sizeof buf,
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

/* An owner deleted in the foreground never deletes its dependents
 * itself: each decides with the owner counted as waiting (a dependent with
 * another live owner survives).  The finalizer stays while a dependent
 * with blockOwnerDeletion remains, deleting or not. */
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
  json_t *acts = fg_actions(owner, opath, deps);
  assert_int_equal(json_array_size(acts), 0);
  assert_int_equal(count(acts, "DELETE", "/api/v1/namespaces/ns/pods/"), 0);
  json_decref(acts);

  /* Only the non-blocking dependent left: the finalizer goes, others stay. */
  json_array_clear(deps);
  json_array_append_new(deps, dep("b", "rs-uid", false, false));
  json_array_append_new(deps, dep("z", "someone-else", true, false));
  acts = fg_actions(owner, opath, deps);
  assert_int_equal(json_array_size(acts), 1);
  assert_string_equal(kj_get_str(acts, "[0].verb"), "PATCH");
  assert_string_equal(kj_get_str(acts, "[0].path"), opath);
  json_t *fins = kj_get(json_array_get(acts, 0), "body.metadata.finalizers");
  assert_int_equal(json_array_size(fins), 1);
  assert_string_equal(kj_get_str(fins, "[0]"), "x");
  assert_string_equal(kj_get_str(json_array_get(acts, 0), "body.metadata.resourceVersion"), "5");
  json_decref(acts);

  /* The dependent b of the waiting owner, with a second live owner (the
   * ConfigMap "other"): it stays and loses only the waiting owner's
   * reference. */
  json_t *b = json_object_get(json_array_get(deps, 0), "obj");
  int st[2] = {gc_classify_owner(json_array_get(kj_get(b, "metadata.ownerReferences"), 0), owner), GC_OWNER_PRESENT};
  assert_int_equal(st[0], GC_OWNER_WAITING);
  acts = dep_actions(b, "/api/v1/namespaces/ns/pods/b", st, 2, false);
  assert_int_equal(json_array_size(acts), 1);
  assert_string_equal(kj_get_str(acts, "[0].verb"), "PATCH");
  assert_string_equal(kj_get_str(acts, "[0].body.metadata.ownerReferences[0].uid"), "other");
  json_decref(acts);
  /* All its other owners gone: it is deleted. */
  st[1] = GC_OWNER_ABSENT;
  acts = dep_actions(b, "/api/v1/namespaces/ns/pods/b", st, 2, false);
  assert_string_equal(kj_get_str(acts, "[0].verb"), "DELETE");
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
  json_t *acts = orphan_actions(owner, opath, deps);
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
  acts = orphan_actions(owner, opath, deps);
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
      cmocka_unit_test(test_dependent_decisions), cmocka_unit_test(test_classify_owner),
      cmocka_unit_test(test_foreground),          cmocka_unit_test(test_orphan),
      cmocka_unit_test(test_kind_resource),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
