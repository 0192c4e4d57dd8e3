/* Tests for kube/json.h: path syntax, reads, writes, serialization. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/json.h"

static json_t *load(const char *s)
{
  char err[128];
  json_t *v = kj_loadb(s, strlen(s), false, err, sizeof err);
  assert_non_null(v);
  return v;
}

static const char *POD =
    "{\"metadata\":{\"name\":\"web\",\"labels\":{\"app.kubernetes.io/name\":\"nginx\",\"tier\":\"fe\"},"
    "\"generation\":3},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"nginx\"},"
    "{\"name\":\"b\",\"ports\":[{\"containerPort\":80}]}],\"hostNetwork\":true,\"weight\":2.0,"
    "\"frac\":2.5}}";

static void test_get_paths(void **state)
{
  (void)state;
  json_t *pod = load(POD);
  struct {
    const char *path;
    const char *want; /* compact dump, NULL = absent */
  } cases[] = {
      {"metadata.name", "\"web\""},
      {"metadata.labels[\"app.kubernetes.io/name\"]", "\"nginx\""},
      {"metadata.labels.tier", "\"fe\""},
      {"spec.containers[0].image", "\"nginx\""},
      {"spec.containers[1].ports[0].containerPort", "80"},
      {"spec.containers[1]", "{\"name\":\"b\",\"ports\":[{\"containerPort\":80}]}"},
      {"spec.containers[2]", NULL},   /* out of range */
      {"spec.containers.name", NULL}, /* key step into an array */
      {"metadata[0]", NULL},          /* index step into an object */
      {"metadata.missing.deeper", NULL},
      {"metadata.name.x", NULL}, /* through a string */
      {"", NULL},
      {".metadata", NULL},
      {"metadata.", NULL},
      {"metadata..name", NULL},
      {"spec.containers[x]", NULL},
      {"spec.containers[0", NULL},
      {"metadata.labels[\"tier]", NULL},
      {"metadata.labels[\"tier\"]x", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *v = kj_get(pod, cases[i].path);
    if (!cases[i].want) {
      if (v) fail_msg("path %s: expected absent", cases[i].path);
      continue;
    }
    if (!v) fail_msg("path %s: absent", cases[i].path);
    char *s = kj_dumps(v);
    assert_string_equal(s, cases[i].want);
    free(s);
  }
  assert_string_equal(kj_get_str(pod, "metadata.name"), "web");
  assert_null(kj_get_str(pod, "metadata.generation"));
  assert_int_equal(kj_get_int(pod, "metadata.generation", -1), 3);
  assert_int_equal(kj_get_int(pod, "spec.weight", -1), 2);    /* integral real */
  assert_int_equal(kj_get_int(pod, "spec.frac", -1), -1);     /* not integral */
  assert_int_equal(kj_get_int(pod, "metadata.name", -7), -7); /* wrong type */
  assert_true(kj_get_bool(pod, "spec.hostNetwork", false));
  assert_false(kj_get_bool(pod, "spec.missing", false));
  assert_true(kj_get_bool(pod, "metadata.name", true));
  json_decref(pod);
}

static void test_set_and_default(void **state)
{
  (void)state;
  json_t *o = json_object();
  assert_int_equal(kj_set_str(o, "metadata.labels[\"app.kubernetes.io/name\"]", "x"), 0);
  assert_int_equal(kj_set_int(o, "spec.replicas", 3), 0);
  assert_int_equal(kj_set(o, "spec.list", json_array()), 0);
  assert_int_equal(kj_set_str(o, "spec.list[0]", "appended"), 0);
  assert_int_equal(kj_set_str(o, "spec.list[0]", "replaced"), 0);
  assert_int_equal(kj_set_str(o, "spec.list[5]", "far"), -ENOENT);
  assert_int_equal(kj_set_str(o, "spec.replicas.x", "y"), -EINVAL); /* through an integer */
  assert_int_equal(kj_set_str(o, "spec.newarr[0]", "y"), -ENOENT);  /* arrays never created */
  assert_int_equal(kj_set_str(o, "bad..path", "y"), -EINVAL);
  /* null counts as absent for writers */
  assert_int_equal(kj_set(o, "status", json_null()), 0);
  assert_int_equal(kj_set_str(o, "status.phase", "Pending"), 0);
  char *s = kj_dumps(o);
  assert_string_equal(s, "{\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"x\"}},"
                         "\"spec\":{\"replicas\":3,\"list\":[\"replaced\"]},"
                         "\"status\":{\"phase\":\"Pending\"}}");
  free(s);

  assert_int_equal(kj_default(o, "spec.replicas", json_integer(1)), 0);
  assert_int_equal(kj_get_int(o, "spec.replicas", 0), 3);
  assert_int_equal(kj_default(o, "spec.paused", json_false()), 1);
  assert_int_equal(kj_set(o, "spec.strategy", json_null()), 0);
  assert_int_equal(kj_default(o, "spec.strategy", json_string("RollingUpdate")), 1);
  assert_string_equal(kj_get_str(o, "spec.strategy"), "RollingUpdate");

  assert_int_equal(kj_del(o, "spec.paused"), 0);
  assert_int_equal(kj_del(o, "spec.paused"), -ENOENT);
  assert_int_equal(kj_del(o, "spec.list[0]"), 0);
  assert_int_equal(json_array_size(kj_get(o, "spec.list")), 0);
  assert_int_equal(kj_del(o, "nope.deeper"), -ENOENT);

  json_t *ann = kj_obj(o, "metadata.annotations");
  assert_non_null(ann);
  assert_ptr_equal(ann, kj_obj(o, "metadata.annotations"));
  assert_null(kj_obj(o, "spec.replicas")); /* type clash */
  json_t *arr = kj_arr(o, "spec.containers");
  assert_true(json_is_array(arr));
  assert_null(kj_arr(o, "metadata"));
  json_decref(o);
}

static void test_dumps_and_load(void **state)
{
  (void)state;
  json_t *a = load("{\"b\":1,\"a\":{\"d\":[1,2],\"c\":null}}");
  json_t *b = load("{\"a\":{\"c\":null,\"d\":[1,2]},\"b\":1}");
  char *s1 = kj_dumps(a), *c1 = kj_dumps_canonical(a), *c2 = kj_dumps_canonical(b);
  assert_string_equal(s1, "{\"b\":1,\"a\":{\"d\":[1,2],\"c\":null}}");
  assert_string_equal(c1, "{\"a\":{\"c\":null,\"d\":[1,2]},\"b\":1}");
  assert_string_equal(c1, c2);
  assert_true(kj_equal(a, b));
  free(s1);
  free(c1);
  free(c2);
  json_decref(a);
  json_decref(b);

  struct {
    const char *in;
    bool dup;
    const char *err; /* NULL = must parse */
  } cases[] = {
      {"\"bare string\"", false, NULL},
      {"42", false, NULL},
      {"[1,2]", false, NULL},
      {"{\"a\":1,\"a\":2}", false, NULL},
      {"{\"a\":1,\"a\":2}", true, "line 1 column 10: duplicate object key near '\"a\"'"},
      {"{\"a\":}", false, "line 1 column 6: unexpected token near '}'"},
      {"{\n\"a\": tru}", false, "line 2 column 8: invalid token near 'tru'"},
      {"{} []", false, "line 1 column 4: end of file expected near '['"},
      {"", false, "line 1 column 0: unexpected token near end of file"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[128] = "";
    json_t *v = kj_loadb(cases[i].in, strlen(cases[i].in), cases[i].dup, err, sizeof err);
    if (!cases[i].err) {
      if (!v) fail_msg("case %zu: %s", i, err);
      json_decref(v);
    } else {
      assert_null(v);
      assert_string_equal(err, cases[i].err);
    }
  }
}

/* Escaped keys (managedFields' k:{"name":"c"}) and escaped values next
 * to them parse exactly as jansson parses them. */
static void test_escaped_keys(void **state)
{
  (void)state;
  char longkey[700];
  size_t n = 0;
  n += (size_t)snprintf(longkey + n, sizeof longkey - n, "{\"k:{\\\"");
  for (int i = 0; i < 300; i++) longkey[n++] = 'x';
  snprintf(longkey + n, sizeof longkey - n, "\\\"}\":\"v\\tw\"}");
  const char *docs[] = {
      "{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"pause\\\"}\":{\".\":{},\"f:image\":{}}}}}",
      "{\"a\\nb\":\"c\\\"d\",\"e\\/f\":[\"\\t\"]}",
      longkey,
  };
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
    json_t *ours = kj_loadb(docs[i], strlen(docs[i]), true, NULL, 0);
    json_t *ref = json_loads(docs[i], 0, NULL);
    assert_non_null(ours);
    assert_non_null(ref);
    assert_true(json_equal(ours, ref));
    json_decref(ours);
    json_decref(ref);
  }
  const char *dup = "{\"k:{\\\"a\\\"}\":1,\"k:{\\\"a\\\"}\":2}";
  char err[128] = "";
  assert_null(kj_loadb(dup, strlen(dup), true, err, sizeof err));
  assert_non_null(strstr(err, "duplicate object key"));
  json_t *v = kj_loadb(dup, strlen(dup), false, NULL, 0);
  assert_int_equal(json_integer_value(json_object_get(v, "k:{\"a\"}")), 2);
  json_decref(v);
}

/* jansson's small blocks come from chunks that go back to malloc once
 * empty (beyond the spares kept for reuse); values survive being built,
 * dumped and freed in bulk. */
static void test_alloc_chunks(void **state)
{
  (void)state;
  size_t before = kj_alloc_chunks();
  json_t *arr = json_array();
  for (int i = 0; i < 100000; i++) {
    json_t *o = json_pack("{s:i,s:s,s:[i,i]}", "n", i, "name", "pod-abcdefghijklmnop", "xs", i, -i);
    json_array_append_new(arr, o);
  }
#ifndef KUBE_JSON_PLAIN_MALLOC
  assert_true(kj_alloc_chunks() > before + 50);
#endif
  char *s = kj_dumps_flags(json_array_get(arr, 99999), JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal(s, "{\"n\":99999,\"name\":\"pod-abcdefghijklmnop\",\"xs\":[99999,-99999]}");
  free(s);
  json_decref(arr);
  /* At most one chunk with room per size class, plus the spares. */
  assert_true(kj_alloc_chunks() <= before + 16 + 128);
  json_t *one = json_integer(1);
  assert_null(kj_dumps_flags(one, JSON_COMPACT)); /* a bare value needs JSON_ENCODE_ANY */
  json_decref(one);
  s = kj_dumps_flags(json_true(), JSON_ENCODE_ANY);
  assert_string_equal(s, "true");
  free(s);
}

/* metadata.managedFields is left out wherever an object sits (alone, in
 * a watch event, in a list), and nothing else is. */
static void test_without_managed_fields(void **state)
{
  (void)state;
  const char *mf =
      "\"managedFields\":[{\"manager\":\"m\",\"fieldsV1\":{\"f:spec\":{\"k:{\\\"name\\\":\\\"c]}\\\"}\":{}}}}]";
  char doc[3][1024];
  snprintf(doc[0], sizeof doc[0], "{\"metadata\":{\"name\":\"a\",%s,\"uid\":\"u\"},\"spec\":{\"managedFields\":1}}",
           mf);
  snprintf(doc[1], sizeof doc[1], "{\"type\":\"ADDED\",\"object\":{\"metadata\":{%s,\"name\":\"b\"}}}", mf);
  snprintf(doc[2], sizeof doc[2],
           "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[{\"metadata\":{\"name\":\"c\",%s}"
           "},{\"metadata\":{%s}}]}",
           mf, mf);
  const char *want[3] = {
      "{\"metadata\":{\"name\":\"a\",\"uid\":\"u\"},\"spec\":{\"managedFields\":1}}",
      "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\"}}}",
      "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[{\"metadata\":{\"name\":\"c\"}},{"
      "\"metadata\":{}}]}",
  };
  for (int i = 0; i < 3; i++) {
    json_t *got = kj_loadb_without_managed_fields(doc[i], strlen(doc[i]), NULL, 0);
    char *txt = kj_dumps(got);
    assert_string_equal(txt, want[i]);
    free(txt);
    json_decref(got);
  }
  /* Non-ASCII sends the document to jansson: the result is the same. */
  char other[1024];
  snprintf(other, sizeof other, "{\"metadata\":{\"name\":\"\xc3\xa9\",%s}}", mf);
  json_t *got = kj_loadb_without_managed_fields(other, strlen(other), NULL, 0);
  assert_non_null(got);
  assert_null(json_object_get(json_object_get(got, "metadata"), "managedFields"));
  json_decref(got);
  /* Broken brackets inside the skipped part are still an error. */
  const char *bad = "{\"metadata\":{\"managedFields\":[{\"a\":1]}}";
  char err[128] = "";
  assert_null(kj_loadb_without_managed_fields(bad, strlen(bad), err, sizeof err));
  assert_true(err[0] != 0);
}

/* A deep copy equals its source, keeps key order, and shares nothing. */
static void test_deep_copy(void **state)
{
  (void)state;
  json_t *a = load("{\"z\":1,\"a\":[true,null,2.5,\"s\",{\"k\":\"v\",\"b\":false}],\"m\":{}}");
  json_t *b = kj_deep_copy(a);
  assert_true(json_equal(a, b));
  char *sa = kj_dumps(a), *sb = kj_dumps(b);
  assert_string_equal(sa, sb);
  free(sa);
  free(sb);
  kj_set_str(b, "a[4].k", "changed");
  assert_string_equal(kj_get_str(a, "a[4].k"), "v");
  assert_null(kj_deep_copy(NULL));
  json_decref(a);
  json_decref(b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_paths),      cmocka_unit_test(test_set_and_default),
      cmocka_unit_test(test_dumps_and_load), cmocka_unit_test(test_escaped_keys),
      cmocka_unit_test(test_alloc_chunks),   cmocka_unit_test(test_without_managed_fields),
      cmocka_unit_test(test_deep_copy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
