/*
 * test_patch.c - the three patch kinds: JSON merge patch (RFC 7386), JSON
 * patch (RFC 6902) and strategic merge patch.
 *
 * Every case is (original, patch, expected result or expected error text).
 * Documents are written with single quotes to keep the tables readable;
 * they are turned into JSON before parsing.  Strategic cases run against a
 * small fake schema (below) describing Pod- and Deployment-like types with
 * the merge keys and strategies upstream declares for them.  Every failing
 * case also checks that the original document was left untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/patch.h"

/* ---- helpers ----------------------------------------------------------- */

static json_t *J(const char *text)
{
  if (!text) return NULL;
  char *s = strdup(text);
  for (char *p = s; *p; p++)
    if (*p == '\'') *p = '"';
  json_error_t e;
  json_t *v = json_loads(s, JSON_DECODE_ANY, &e);
  if (!v) fail_msg("bad test JSON %s: %s", s, e.text);
  free(s);
  return v;
}

static char *dump(const json_t *v)
{
  return v ? kj_dumps_flags(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : strdup("(null)");
}

static void expect_equal(const char *what, const json_t *got, const json_t *want)
{
  if (!json_equal((json_t *)got, (json_t *)want)) {
    char *g = dump(got), *w = dump(want);
    print_error("%s\n  got:  %s\n  want: %s\n", what, g, w);
    free(g);
    free(w);
    fail();
  }
}

/* No "$..." key anywhere: directives must never reach a stored object. */
static int count_directives(const json_t *v)
{
  int n = 0;
  if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach ((json_t *)v, k, x) {
      if (k[0] == '$') n++;
      n += count_directives(x);
    }
  } else if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach (v, i, x) n += count_directives(x);
  }
  return n;
}

/* ---- fake schema --------------------------------------------------------- */

struct ttype;
struct tfield {
  const char *name;
  const char *merge_key;
  const char *strategy;
  int is_list;
  const struct ttype *type;
};
struct ttype {
  const struct tfield *fields;
};

static const struct tfield container_port_f[] = {{NULL}};
static const struct ttype container_port_t = {container_port_f};
static const struct tfield container_f[] = {{"ports", "containerPort", "merge", 1, &container_port_t},
                                            {"env", "name", "merge", 1, NULL},
                                            {"volumeMounts", "mountPath", "merge", 1, NULL},
                                            {"args", NULL, NULL, 1, NULL},
                                            {"resources", NULL, NULL, 0, NULL},
                                            {NULL}};
static const struct ttype container_t = {container_f};
static const struct tfield volume_f[] = {
    {"configMap", NULL, NULL, 0, NULL}, {"emptyDir", NULL, NULL, 0, NULL}, {"hostPath", NULL, NULL, 0, NULL}, {NULL}};
static const struct ttype volume_t = {volume_f};
static const struct tfield pod_spec_f[] = {{"containers", "name", "merge", 1, &container_t},
                                           {"initContainers", "name", "merge", 1, &container_t},
                                           {"volumes", "name", "merge,retainKeys", 1, &volume_t},
                                           {"tolerations", NULL, NULL, 1, NULL},
                                           /* Not upstream: exercises a map field with strategy "replace". */
                                           {"nodeSelector", NULL, "replace", 0, NULL},
                                           {NULL}};
static const struct ttype pod_spec_t = {pod_spec_f};
static const struct tfield meta_f[] = {{"finalizers", NULL, "merge", 1, NULL},
                                       {"ownerReferences", "uid", "merge", 1, NULL},
                                       {"labels", NULL, NULL, 0, NULL},
                                       {"annotations", NULL, NULL, 0, NULL},
                                       {NULL}};
static const struct ttype meta_t = {meta_f};
static const struct tfield pod_status_f[] = {{"conditions", "type", "merge", 1, NULL}, {NULL}};
static const struct ttype pod_status_t = {pod_status_f};
static const struct tfield pod_f[] = {{"metadata", NULL, NULL, 0, &meta_t},
                                      {"spec", NULL, NULL, 0, &pod_spec_t},
                                      {"status", NULL, NULL, 0, &pod_status_t},
                                      {NULL}};
static const struct ttype pod_t = {pod_f};
static const struct tfield template_f[] = {
    {"metadata", NULL, NULL, 0, &meta_t}, {"spec", NULL, NULL, 0, &pod_spec_t}, {NULL}};
static const struct ttype template_t = {template_f};
static const struct tfield strategy_f[] = {
    {"type", NULL, NULL, 0, NULL}, {"rollingUpdate", NULL, NULL, 0, NULL}, {NULL}};
static const struct ttype strategy_t = {strategy_f};
static const struct tfield deploy_spec_f[] = {{"replicas", NULL, NULL, 0, NULL},
                                              {"strategy", NULL, "retainKeys", 0, &strategy_t},
                                              {"template", NULL, NULL, 0, &template_t},
                                              {NULL}};
static const struct ttype deploy_spec_t = {deploy_spec_f};
static const struct tfield deploy_f[] = {
    {"metadata", NULL, NULL, 0, &meta_t}, {"spec", NULL, NULL, 0, &deploy_spec_t}, {NULL}};
static const struct ttype deploy_t = {deploy_f};

static int lookups;

static const void *fake_lookup(void *arg, const void *type, const char *name, struct smp_field *out)
{
  (void)arg;
  lookups++;
  const struct ttype *t = type;
  for (const struct tfield *f = t->fields; f->name; f++) {
    if (!strcmp(f->name, name)) {
      out->merge_key = f->merge_key;
      out->strategy = f->strategy;
      out->is_list = f->is_list;
      return f->type;
    }
  }
  return NULL;
}

/* ---- JSON merge patch ---------------------------------------------------- */

struct mcase {
  const char *orig, *patch, *want;
};

static void test_merge_patch(void **state)
{
  (void)state;
  static const struct mcase cases[] = {
      /* RFC 7386 appendix A */
      {"{'a':'b'}", "{'a':'c'}", "{'a':'c'}"},
      {"{'a':'b'}", "{'b':'c'}", "{'a':'b','b':'c'}"},
      {"{'a':'b'}", "{'a':null}", "{}"},
      {"{'a':'b','b':'c'}", "{'a':null}", "{'b':'c'}"},
      {"{'a':['b']}", "{'a':'c'}", "{'a':'c'}"},
      {"{'a':'c'}", "{'a':['b']}", "{'a':['b']}"},
      {"{'a':{'b':'c'}}", "{'a':{'b':'d','c':null}}", "{'a':{'b':'d'}}"},
      {"{'a':[{'b':'c'}]}", "{'a':[1]}", "{'a':[1]}"},
      {"['a','b']", "['c','d']", "['c','d']"},
      {"{'a':'b'}", "['c']", "['c']"},
      {"{'a':'foo'}", "null", "null"},
      {"{'a':'foo'}", "'bar'", "'bar'"},
      {"{'e':null}", "{'a':1}", "{'e':null,'a':1}"},
      {"[1,2]", "{'a':'b','c':null}", "{'a':'b'}"},
      {"{}", "{'a':{'bb':{'ccc':null}}}", "{'a':{'bb':{}}}"},
      /* kubectl scale and label edits */
      {"{'spec':{'replicas':1,'selector':{'app':'x'}}}", "{'spec':{'replicas':3}}",
       "{'spec':{'replicas':3,'selector':{'app':'x'}}}"},
      {"{'metadata':{'labels':{'a':'1','b':'2'}}}", "{'metadata':{'labels':{'a':null,'c':'3'}}}",
       "{'metadata':{'labels':{'b':'2','c':'3'}}}"},
      /* lists are never merged */
      {"{'spec':{'containers':[{'name':'a'},{'name':'b'}]}}", "{'spec':{'containers':[{'name':'c'}]}}",
       "{'spec':{'containers':[{'name':'c'}]}}"},
      {NULL, "{'a':1}", "{'a':1}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *orig = J(cases[i].orig), *patch = J(cases[i].patch), *want = J(cases[i].want);
    char *before = dump(orig);
    json_t *got = patch_merge(orig, patch);
    char what[64];
    snprintf(what, sizeof what, "merge case %zu", i);
    expect_equal(what, got, want);
    char *after = dump(orig);
    assert_string_equal(before, after);
    free(before);
    free(after);
    json_decref(orig);
    json_decref(patch);
    json_decref(want);
    json_decref(got);
  }
}

/* ---- JSON patch ---------------------------------------------------------- */

struct pcase {
  const char *orig, *ops;
  const char *want; /* NULL: must fail */
  const char *err;  /* substring of the error when failing */
};

static void run_pcase(size_t i, const struct pcase *c)
{
  json_t *orig = J(c->orig), *ops = J(c->ops);
  char *before = dump(orig);
  char err[256] = "";
  json_t *got = patch_json(orig, ops, err, sizeof err);
  char what[64];
  snprintf(what, sizeof what, "json patch case %zu", i);
  if (c->want) {
    if (!got) fail_msg("%s: unexpected error: %s", what, err);
    json_t *want = J(c->want);
    expect_equal(what, got, want);
    json_decref(want);
  } else {
    if (got) {
      char *g = dump(got);
      fail_msg("%s: expected failure, got %s", what, g);
    }
    if (!strstr(err, c->err)) fail_msg("%s: error \"%s\" does not contain \"%s\"", what, err, c->err);
  }
  char *after = dump(orig);
  assert_string_equal(before, after);
  free(before);
  free(after);
  json_decref(orig);
  json_decref(ops);
  json_decref(got);
}

static const struct pcase json_cases[] = {
    /* add */
    {"{'a':1}", "[{'op':'add','path':'/b','value':2}]", "{'a':1,'b':2}", NULL},
    {"{'a':1}", "[{'op':'add','path':'/a','value':{'x':null}}]", "{'a':{'x':null}}", NULL},
    {"{'l':[1,2]}", "[{'op':'add','path':'/l/0','value':0}]", "{'l':[0,1,2]}", NULL},
    {"{'l':[1,2]}", "[{'op':'add','path':'/l/2','value':3}]", "{'l':[1,2,3]}", NULL},
    {"{'l':[1,2]}", "[{'op':'add','path':'/l/-','value':3}]", "{'l':[1,2,3]}", NULL},
    {"{'a':1}", "[{'op':'add','path':'','value':[1]}]", "[1]", NULL},
    {"{}", "[{'op':'add','path':'/','value':1}]", "{'':1}", NULL},
    {"{'metadata':{}}",
     "[{'op':'add','path':'/metadata/labels','value':{}},"
     " {'op':'add','path':'/metadata/labels/app.kubernetes.io~1name','value':'web'}]",
     "{'metadata':{'labels':{'app.kubernetes.io/name':'web'}}}", NULL},
    {"{'m~n':1}", "[{'op':'add','path':'/m~0n','value':2}]", "{'m~n':2}", NULL},
    /* remove */
    {"{'a':1,'b':2}", "[{'op':'remove','path':'/a'}]", "{'b':2}", NULL},
    {"{'l':[1,2,3]}", "[{'op':'remove','path':'/l/1'}]", "{'l':[1,3]}", NULL},
    {"{'a/b':1,'c':2}", "[{'op':'remove','path':'/a~1b'}]", "{'c':2}", NULL},
    /* replace */
    {"{'spec':{'replicas':1}}", "[{'op':'replace','path':'/spec/replicas','value':5}]", "{'spec':{'replicas':5}}",
     NULL},
    {"{'l':['a','b']}", "[{'op':'replace','path':'/l/1','value':'c'}]", "{'l':['a','c']}", NULL},
    {"{'a':1}", "[{'op':'replace','path':'','value':{'b':2}}]", "{'b':2}", NULL},
    /* kubectl rollout undo */
    {"{'metadata':{'annotations':{'x':'1'}},'spec':{'template':{'spec':{'c':1}}}}",
     "[{'op':'replace','path':'/spec/template','value':{'spec':{'c':2}}},"
     " {'op':'replace','path':'/metadata/annotations','value':{'y':'2'}}]",
     "{'metadata':{'annotations':{'y':'2'}},'spec':{'template':{'spec':{'c':2}}}}", NULL},
    /* move and copy */
    {"{'a':{'x':1},'b':{}}", "[{'op':'move','from':'/a/x','path':'/b/y'}]", "{'a':{},'b':{'y':1}}", NULL},
    {"{'l':[1,2,3,4]}", "[{'op':'move','from':'/l/1','path':'/l/3'}]", "{'l':[1,3,4,2]}", NULL},
    {"{'a':1}", "[{'op':'move','from':'/a','path':'/a'}]", "{'a':1}", NULL},
    {"{'a':{'x':[1]}}", "[{'op':'copy','from':'/a','path':'/b'}]", "{'a':{'x':[1]},'b':{'x':[1]}}", NULL},
    {"{'l':[1,2]}", "[{'op':'copy','from':'/l/0','path':'/l/-'}]", "{'l':[1,2,1]}", NULL},
    /* test */
    {"{'a':{'b':[1,'x',null]}}", "[{'op':'test','path':'/a','value':{'b':[1,'x',null]}}]", "{'a':{'b':[1,'x',null]}}",
     NULL},
    {"{'n':1}", "[{'op':'test','path':'/n','value':1.0},{'op':'add','path':'/m','value':2}]", "{'n':1,'m':2}", NULL},
    {"{'a':null}", "[{'op':'test','path':'/a','value':null}]", "{'a':null}", NULL},
    {"{}", "[]", "{}", NULL},

    /* errors */
    {"{'a':1}", "{'op':'add','path':'/b','value':1}", NULL, "array"},
    {"{'a':1}", "[1]", NULL, "not an object"},
    {"{'a':1}", "[{'path':'/a'}]", NULL, "has no \"op\""},
    {"{'a':1}", "[{'op':'frobnicate','path':'/a'}]", NULL, "unknown operation \"frobnicate\""},
    {"{'a':1}", "[{'op':'remove'}]", NULL, "has no \"path\""},
    {"{'a':1}", "[{'op':'add','path':'/b'}]", NULL, "no \"value\""},
    {"{'a':1}", "[{'op':'move','path':'/b'}]", NULL, "no \"from\""},
    {"{'a':1}", "[{'op':'add','path':'b','value':1}]", NULL, "invalid JSON pointer"},
    {"{'a':1}", "[{'op':'add','path':'/a~2','value':1}]", NULL, "invalid JSON pointer"},
    {"{'a':1}", "[{'op':'remove','path':'/x'}]", NULL, "path /x not found"},
    {"{'spec':{}}", "[{'op':'replace','path':'/spec/x','value':1}]", NULL, "path /spec/x not found"},
    {"{'a':1}", "[{'op':'add','path':'/x/y','value':1}]", NULL, "path /x/y not found"},
    {"{'l':[1]}", "[{'op':'add','path':'/l/5','value':1}]", NULL, "out of range"},
    {"{'l':[1,2]}", "[{'op':'add','path':'/l/01','value':1}]", NULL, "out of range"},
    {"{'l':[1]}", "[{'op':'remove','path':'/l/-'}]", NULL, "not found"},
    {"{'l':[1]}", "[{'op':'remove','path':'/l/1'}]", NULL, "not found"},
    {"{'a':1}", "[{'op':'test','path':'/a','value':2}]", NULL, "test operation failed"},
    {"{'a':1}", "[{'op':'test','path':'/a','value':'1'}]", NULL, "test operation failed"},
    {"{'a':1}", "[{'op':'test','path':'/b','value':1}]", NULL, "test operation failed"},
    {"{'a':{'b':1}}", "[{'op':'move','from':'/a','path':'/a/b/c'}]", NULL, "own child"},
    {"{'a':1}", "[{'op':'copy','from':'/nope','path':'/b'}]", NULL, "/nope not found"},
    {"{'a':1}", "[{'op':'remove','path':''}]", NULL, "whole document"},
    {"{'a':'s'}", "[{'op':'add','path':'/a/b','value':1}]", NULL, "not an object or array"},
    /* atomic: the first operation applied, the second fails */
    {"{'a':1}", "[{'op':'add','path':'/b','value':2},{'op':'test','path':'/a','value':9}]", NULL,
     "test operation failed"},
};

static void test_json_patch(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof json_cases / sizeof json_cases[0]; i++) run_pcase(i, &json_cases[i]);
}

/* Every operation list against every document: the original never changes
 * and every failure says why. */
static void test_json_patch_cross(void **state)
{
  (void)state;
  size_t n = sizeof json_cases / sizeof json_cases[0];
  for (size_t i = 0; i < n; i++) {
    json_t *orig = J(json_cases[i].orig);
    char *before = dump(orig);
    for (size_t j = 0; j < n; j++) {
      json_t *ops = J(json_cases[j].ops);
      char err[256] = "";
      json_t *got = patch_json(orig, ops, err, sizeof err);
      if (!got && !err[0]) fail_msg("ops %zu on document %zu: failed without a message", j, i);
      json_decref(got);
      json_decref(ops);
    }
    char *after = dump(orig);
    assert_string_equal(before, after);
    free(before);
    free(after);
    json_decref(orig);
  }
}

/* ---- strategic merge patch ----------------------------------------------- */

struct scase {
  const char *name;
  const struct ttype *type;
  const char *orig, *patch;
  const char *want; /* NULL: must fail */
  const char *err;
};

static void run_scase(const struct scase *c)
{
  json_t *orig = J(c->orig), *patch = J(c->patch);
  char *before = dump(orig);
  char err[512] = "";
  json_t *got = patch_strategic(orig, patch, fake_lookup, NULL, c->type, err, sizeof err);
  if (c->want) {
    if (!got) fail_msg("%s: unexpected error: %s", c->name, err);
    json_t *want = J(c->want);
    expect_equal(c->name, got, want);
    if (count_directives(got)) fail_msg("%s: directive keys left in the result", c->name);
    json_decref(want);
  } else {
    if (got) {
      char *g = dump(got);
      fail_msg("%s: expected failure, got %s", c->name, g);
    }
    if (!strstr(err, c->err)) fail_msg("%s: error \"%s\" does not contain \"%s\"", c->name, err, c->err);
  }
  char *after = dump(orig);
  if (strcmp(before, after) != 0) fail_msg("%s: original modified", c->name);
  free(before);
  free(after);
  json_decref(orig);
  json_decref(patch);
  json_decref(got);
}

#define POD (&pod_t)
#define DEPLOY (&deploy_t)

static const struct scase smp_cases[] = {
    /* maps */
    {"map merge and null delete", POD, "{'metadata':{'labels':{'a':'1','b':'2'},'name':'p'}}",
     "{'metadata':{'labels':{'b':null,'c':'3'}}}", "{'metadata':{'labels':{'a':'1','c':'3'},'name':'p'}}", NULL},
    {"apply removes a field", DEPLOY, "{'spec':{'replicas':3,'paused':true}}", "{'spec':{'replicas':null}}",
     "{'spec':{'paused':true}}", NULL},
    {"null for an absent key is dropped", POD, "{'metadata':{}}", "{'metadata':{'annotations':{'a':null,'b':'x'}}}",
     "{'metadata':{'annotations':{'b':'x'}}}", NULL},
    {"$patch replace on a map", POD, "{'metadata':{'labels':{'a':'1','b':'2'}}}",
     "{'metadata':{'labels':{'$patch':'replace','c':'3'}}}", "{'metadata':{'labels':{'c':'3'}}}", NULL},
    {"$patch delete on a map", POD, "{'metadata':{'name':'p','labels':{'a':'1'}}}",
     "{'metadata':{'labels':{'$patch':'delete'}}}", "{'metadata':{'name':'p'}}", NULL},
    {"$patch merge on a map is the default", POD, "{'metadata':{'labels':{'a':'1'}}}",
     "{'metadata':{'labels':{'$patch':'merge','b':'2'}}}", "{'metadata':{'labels':{'a':'1','b':'2'}}}", NULL},
    {"$patch delete at the top", POD, "{'metadata':{'name':'p'}}", "{'$patch':'delete'}", "{}", NULL},
    {"$patch replace at the top", POD, "{'metadata':{'name':'p'},'spec':{'x':1}}",
     "{'$patch':'replace','metadata':{'name':'q','labels':{'a':null}}}", "{'metadata':{'name':'q','labels':{}}}", NULL},
    {"$retainKeys honoured on any map", POD, "{'metadata':{'name':'p','labels':{'a':'1'}}}",
     "{'metadata':{'$retainKeys':['name']}}", "{'metadata':{'name':'p'}}", NULL},
    {"strategy replace on a map", POD, "{'spec':{'nodeSelector':{'a':'1','b':'2'}}}",
     "{'spec':{'nodeSelector':{'c':'3'}}}", "{'spec':{'nodeSelector':{'c':'3'}}}", NULL},
    {"scalar replaced by another type", DEPLOY, "{'spec':{'replicas':'3'}}", "{'spec':{'replicas':3}}",
     "{'spec':{'replicas':3}}", NULL},
    {"map replaced by a scalar", POD, "{'metadata':{'labels':{'a':'1'}}}", "{'metadata':{'labels':'x'}}",
     "{'metadata':{'labels':'x'}}", NULL},

    /* lists merged by key */
    {"containers merged by name", POD,
     "{'spec':{'containers':[{'name':'a','image':'a:1'},{'name':'b','image':'b:1'},"
     "{'name':'c','image':'c:1'}]}}",
     "{'spec':{'containers':[{'name':'b','image':'b:2'},{'name':'d','image':'d:1'}]}}",
     "{'spec':{'containers':[{'name':'a','image':'a:1'},{'name':'b','image':'b:2'},"
     "{'name':'d','image':'d:1'},{'name':'c','image':'c:1'}]}}",
     NULL},
    {"$setElementOrder fixes the order", POD,
     "{'spec':{'containers':[{'name':'a','image':'a:1'},{'name':'b','image':'b:1'},"
     "{'name':'c','image':'c:1'}]}}",
     "{'spec':{'$setElementOrder/containers':[{'name':'a'},{'name':'b'},{'name':'c'},"
     "{'name':'d'}],'containers':[{'name':'b','image':'b:2'},{'name':'d','image':'d:1'}]}}",
     "{'spec':{'containers':[{'name':'a','image':'a:1'},{'name':'b','image':'b:2'},"
     "{'name':'c','image':'c:1'},{'name':'d','image':'d:1'}]}}",
     NULL},
    {"$setElementOrder alone reorders", POD, "{'spec':{'containers':[{'name':'a'},{'name':'b'},{'name':'c'}]}}",
     "{'spec':{'$setElementOrder/containers':[{'name':'c'},{'name':'a'},{'name':'b'}]}}",
     "{'spec':{'containers':[{'name':'c'},{'name':'a'},{'name':'b'}]}}", NULL},
    {"apply deletes a container", POD, "{'spec':{'containers':[{'name':'a','image':'x'},{'name':'b','image':'y'}]}}",
     "{'spec':{'$setElementOrder/containers':[{'name':'a'}],"
     "'containers':[{'name':'b','$patch':'delete'}]}}",
     "{'spec':{'containers':[{'name':'a','image':'x'}]}}", NULL},
    {"delete of an absent element is harmless", POD, "{'spec':{'containers':[{'name':'a'}]}}",
     "{'spec':{'containers':[{'name':'zz','$patch':'delete'}]}}", "{'spec':{'containers':[{'name':'a'}]}}", NULL},
    {"$patch replace inside a list", POD, "{'spec':{'containers':[{'name':'a','image':'x'},{'name':'b'}]}}",
     "{'spec':{'containers':[{'name':'z','image':'z'},{'$patch':'replace'}]}}",
     "{'spec':{'containers':[{'name':'z','image':'z'}]}}", NULL},
    {"nested lists: env by name, ports by containerPort", POD,
     "{'spec':{'containers':[{'name':'a','env':[{'name':'X','value':'1'},"
     "{'name':'Y','value':'2'}],'ports':[{'containerPort':80,'protocol':'TCP'}]}]}}",
     "{'spec':{'containers':[{'name':'a','env':[{'name':'Y','value':'3'},"
     "{'name':'X','$patch':'delete'}],'ports':[{'containerPort':80,'name':'http'},"
     "{'containerPort':443}]}]}}",
     "{'spec':{'containers':[{'name':'a','env':[{'name':'Y','value':'3'}],"
     "'ports':[{'containerPort':80,'protocol':'TCP','name':'http'},{'containerPort':443}]}]}}",
     NULL},
    {"merge key compares numbers by value", POD,
     "{'spec':{'containers':[{'name':'a','ports':[{'containerPort':80}]}]}}",
     "{'spec':{'containers':[{'name':'a','ports':[{'containerPort':80.0,'name':'h'}]}]}}",
     "{'spec':{'containers':[{'name':'a','ports':[{'containerPort':80.0,'name':'h'}]}]}}", NULL},
    {"volumeMounts by mountPath", POD,
     "{'spec':{'containers':[{'name':'a','volumeMounts':[{'mountPath':'/d','name':'v1'}]}]}}",
     "{'spec':{'containers':[{'name':'a','volumeMounts':[{'mountPath':'/d','name':'v2'}]}]}}",
     "{'spec':{'containers':[{'name':'a','volumeMounts':[{'mountPath':'/d','name':'v2'}]}]}}", NULL},
    {"new element nulls and directives are dropped", POD, "{'spec':{}}",
     "{'spec':{'$setElementOrder/containers':[{'name':'a'}],"
     "'containers':[{'name':'a','resources':null,'env':[{'name':'E','value':'v'}]}]}}",
     "{'spec':{'containers':[{'name':'a','env':[{'name':'E','value':'v'}]}]}}", NULL},
    {"new list with a delete element", POD, "{'spec':{}}",
     "{'spec':{'containers':[{'name':'a'},{'name':'b','$patch':'delete'}]}}", "{'spec':{'containers':[{'name':'a'}]}}",
     NULL},
    {"whole new subtree with directives", DEPLOY, "{'metadata':{'name':'d'}}",
     "{'spec':{'template':{'spec':{'$setElementOrder/containers':[{'name':'a'}],"
     "'containers':[{'name':'a','image':'x'}]}}}}",
     "{'metadata':{'name':'d'},'spec':{'template':{'spec':{'containers':[{'name':'a',"
     "'image':'x'}]}}}}",
     NULL},
    {"conditions by type", POD,
     "{'status':{'conditions':[{'type':'Ready','status':'False'},"
     "{'type':'Scheduled','status':'True'}]}}",
     "{'status':{'conditions':[{'type':'Ready','status':'True'}]}}",
     "{'status':{'conditions':[{'type':'Ready','status':'True'},"
     "{'type':'Scheduled','status':'True'}]}}",
     NULL},

    /* primitive lists */
    {"finalizers union", POD, "{'metadata':{'finalizers':['a','b']}}", "{'metadata':{'finalizers':['b','c']}}",
     "{'metadata':{'finalizers':['a','b','c']}}", NULL},
    {"finalizers: new items first, as upstream", POD, "{'metadata':{'finalizers':['a','b']}}",
     "{'metadata':{'finalizers':['c']}}", "{'metadata':{'finalizers':['c','a','b']}}", NULL},
    {"$deleteFromPrimitiveList", POD, "{'metadata':{'finalizers':['a','b','c']}}",
     "{'metadata':{'$deleteFromPrimitiveList/finalizers':['a','c']}}", "{'metadata':{'finalizers':['b']}}", NULL},
    {"apply removes a finalizer", POD, "{'metadata':{'finalizers':['a','b']}}",
     "{'metadata':{'$setElementOrder/finalizers':['b'],"
     "'$deleteFromPrimitiveList/finalizers':['a']}}",
     "{'metadata':{'finalizers':['b']}}", NULL},
    {"$deleteFromPrimitiveList on an absent list", POD, "{'metadata':{}}",
     "{'metadata':{'$deleteFromPrimitiveList/finalizers':['a']}}", "{'metadata':{}}", NULL},
    {"$setElementOrder for primitives", POD, "{'metadata':{'finalizers':['a','b','c']}}",
     "{'metadata':{'$setElementOrder/finalizers':['c','d','b','a'],'finalizers':['d']}}",
     "{'metadata':{'finalizers':['c','d','b','a']}}", NULL},

    /* lists replaced */
    {"tolerations replaced", POD, "{'spec':{'tolerations':[{'key':'a','operator':'Exists'},{'key':'b'}]}}",
     "{'spec':{'tolerations':[{'key':'c'}]}}", "{'spec':{'tolerations':[{'key':'c'}]}}", NULL},
    {"args replaced", POD, "{'spec':{'containers':[{'name':'a','args':['x','y']}]}}",
     "{'spec':{'containers':[{'name':'a','args':['z']}]}}", "{'spec':{'containers':[{'name':'a','args':['z']}]}}",
     NULL},
    {"replaced list elements are cleaned", POD, "{'spec':{'tolerations':[{'key':'a'}]}}",
     "{'spec':{'tolerations':[{'key':'b','value':null},{'$patch':'replace'}]}}",
     "{'spec':{'tolerations':[{'key':'b'}]}}", NULL},
    {"unknown field list replaced", POD, "{'spec':{'whatever':[{'name':'a'},{'name':'b'}]}}",
     "{'spec':{'whatever':[{'name':'b','x':1}]}}", "{'spec':{'whatever':[{'name':'b','x':1}]}}", NULL},
    {"no schema type: maps merge, lists replace", NULL,
     "{'spec':{'containers':[{'name':'a'},{'name':'b'}],'m':{'x':1}}}",
     "{'spec':{'containers':[{'name':'c'}],'m':{'y':2}}}", "{'spec':{'containers':[{'name':'c'}],'m':{'x':1,'y':2}}}",
     NULL},
    {"a list deleted with null", POD, "{'spec':{'containers':[{'name':'a'}],'x':1}}", "{'spec':{'containers':null}}",
     "{'spec':{'x':1}}", NULL},

    /* retainKeys */
    {"deployment strategy retainKeys", DEPLOY,
     "{'spec':{'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':1}}}}",
     "{'spec':{'strategy':{'$retainKeys':['type'],'type':'Recreate','rollingUpdate':null}}}",
     "{'spec':{'strategy':{'type':'Recreate'}}}", NULL},
    {"retainKeys drops unlisted keys", DEPLOY,
     "{'spec':{'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':1}}}}",
     "{'spec':{'strategy':{'$retainKeys':['type'],'type':'Recreate'}}}", "{'spec':{'strategy':{'type':'Recreate'}}}",
     NULL},
    {"volume source switched with retainKeys", POD,
     "{'spec':{'volumes':[{'name':'v','hostPath':{'path':'/x'}},{'name':'w','emptyDir':{}}]}}",
     "{'spec':{'$setElementOrder/volumes':[{'name':'v'},{'name':'w'}],"
     "'volumes':[{'name':'v','$retainKeys':['configMap','name'],'configMap':{'name':'c'},"
     "'hostPath':null}]}}",
     "{'spec':{'volumes':[{'name':'v','configMap':{'name':'c'}},{'name':'w','emptyDir':{}}]}}", NULL},

    /* errors */
    {"unknown $patch on a map", POD, "{'metadata':{'labels':{}}}", "{'metadata':{'labels':{'$patch':'frobnicate'}}}",
     NULL, "unknown patch type"},
    {"unknown $patch in a list", POD, "{'spec':{'containers':[{'name':'a'}]}}",
     "{'spec':{'containers':[{'name':'a','$patch':'bogus'}]}}", NULL, "unknown patch type"},
    {"$patch merge in a list", POD, "{'spec':{'containers':[{'name':'a'}]}}",
     "{'spec':{'containers':[{'$patch':'merge'}]}}", NULL, "merging lists cannot yet"},
    {"element without merge key", POD, "{'spec':{'containers':[{'name':'a'}]}}",
     "{'spec':{'containers':[{'image':'x'}]}}", NULL, "does not contain declared merge key: name"},
    {"delete element without merge key", POD, "{'spec':{'containers':[{'name':'a'}]}}",
     "{'spec':{'containers':[{'$patch':'delete'}]}}", NULL, "declared merge key: name"},
    {"retainKeys not a list", DEPLOY, "{'spec':{'strategy':{}}}", "{'spec':{'strategy':{'$retainKeys':'type'}}}", NULL,
     "invalid patch format of retainKeys"},
    {"patch sets a key outside retainKeys", DEPLOY, "{'spec':{'strategy':{}}}",
     "{'spec':{'strategy':{'$retainKeys':['type'],'rollingUpdate':{}}}}", NULL, "invalid patch format of retainKeys"},
    {"setElementOrder not a list", POD, "{'spec':{'containers':[{'name':'a'}]}}",
     "{'spec':{'$setElementOrder/containers':{'name':'a'}}}", NULL, "invalid patch format of setElementOrder list"},
    {"setElementOrder without a field", POD, "{'spec':{}}", "{'spec':{'$setElementOrder':[]}}", NULL,
     "invalid patch format of setElementOrder list"},
    {"setElementOrder disagrees with the patch", POD, "{'spec':{'containers':[{'name':'a'},{'name':'b'}]}}",
     "{'spec':{'$setElementOrder/containers':[{'name':'a'},{'name':'b'}],"
     "'containers':[{'name':'b','image':'x'},{'name':'a','image':'y'}]}}",
     NULL, "doesn't match $setElementOrder list"},
    {"deleteFromPrimitiveList not a list", POD, "{'metadata':{'finalizers':['a']}}",
     "{'metadata':{'$deleteFromPrimitiveList/finalizers':'a'}}", NULL, "invalid patch format of primitive list"},
    {"list of lists", POD, "{'metadata':{'finalizers':[['a']]}}", "{'metadata':{'finalizers':[['b']]}}", NULL,
     "lists of lists"},
    {"mixed element types", POD, "{'metadata':{'finalizers':['a']}}", "{'metadata':{'finalizers':[{'x':1}]}}", NULL,
     "not identical"},
    {"patch is not an object", POD, "{}", "['a']", NULL, "invalid JSON document"},
};

static void test_strategic_patch(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof smp_cases / sizeof smp_cases[0]; i++) run_scase(&smp_cases[i]);
}

/* Every patch of the tables against every original, under every root
 * type: whatever the outcome, nothing crashes or leaks, the original is
 * untouched, a failure explains itself and a success holds no directive. */
static void test_cross_apply(void **state)
{
  (void)state;
  const struct ttype *types[] = {POD, DEPLOY, NULL};
  size_t n = sizeof smp_cases / sizeof smp_cases[0];
  for (size_t i = 0; i < n; i++) {
    json_t *orig = J(smp_cases[i].orig);
    char *before = dump(orig);
    for (size_t j = 0; j < n; j++) {
      json_t *patch = J(smp_cases[j].patch);
      for (size_t t = 0; t < 3; t++) {
        char err[512] = "";
        json_t *got = patch_strategic(orig, patch, fake_lookup, NULL, types[t], err, sizeof err);
        if (got && count_directives(got))
          fail_msg("patch of \"%s\" on \"%s\": directives left", smp_cases[j].name, smp_cases[i].name);
        if (!got && !err[0]) fail_msg("patch of \"%s\" on \"%s\": no error text", smp_cases[j].name, smp_cases[i].name);
        json_decref(got);
      }
      json_t *m = patch_merge(orig, patch);
      assert_non_null(m);
      json_decref(m);
      json_decref(patch);
    }
    char *after = dump(orig);
    assert_string_equal(before, after);
    free(before);
    free(after);
    json_decref(orig);
  }
}

/* The schema is consulted: without it the same patch replaces the list. */
static void test_strategic_uses_lookup(void **state)
{
  (void)state;
  json_t *orig = J("{'spec':{'containers':[{'name':'a'},{'name':'b'}]}}");
  json_t *patch = J("{'spec':{'containers':[{'name':'b','image':'x'}]}}");
  lookups = 0;
  json_t *with = patch_strategic(orig, patch, fake_lookup, NULL, &pod_t, NULL, 0);
  assert_true(lookups > 0);
  json_t *without = patch_strategic(orig, patch, NULL, NULL, &pod_t, NULL, 0);
  json_t *want_with = J("{'spec':{'containers':[{'name':'a'},{'name':'b','image':'x'}]}}");
  json_t *want_without = J("{'spec':{'containers':[{'name':'b','image':'x'}]}}");
  expect_equal("with lookup", with, want_with);
  expect_equal("without lookup", without, want_without);
  json_decref(orig);
  json_decref(patch);
  json_decref(with);
  json_decref(without);
  json_decref(want_with);
  json_decref(want_without);
}

static void test_value_equal(void **state)
{
  (void)state;
  static const char *same[][2] = {
      {"1", "1.0"}, {"{'a':1,'b':[1,2]}", "{'b':[1,2],'a':1}"}, {"null", "null"}, {"''", "''"}};
  static const char *diff[][2] = {
      {"1", "'1'"}, {"[1,2]", "[2,1]"}, {"{'a':1}", "{'a':1,'b':2}"}, {"true", "false"}, {"{'a':null}", "{}"}};
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    json_t *a = J(same[i][0]), *b = J(same[i][1]);
    assert_true(patch_value_equal(a, b));
    json_decref(a);
    json_decref(b);
  }
  for (size_t i = 0; i < sizeof diff / sizeof diff[0]; i++) {
    json_t *a = J(diff[i][0]), *b = J(diff[i][1]);
    assert_false(patch_value_equal(a, b));
    json_decref(a);
    json_decref(b);
  }
}

/* A few hundred bytes of "copy" operations must not make the server build
 * an exponentially large document: as upstream (JSONPatchMaxCopyBytes,
 * 3 MiB), the bytes copied by one patch are bounded. */
static void test_json_patch_copy_limit(void **state)
{
  (void)state;
  char big[1001];
  memset(big, 'x', 1000);
  big[1000] = '\0';
  json_t *orig = json_pack("{s:[s]}", "a", big);
  json_t *ops = json_array();
  for (int i = 0; i < 13; i++) /* each copy doubles /a: 8 MiB copied in all */
    json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "copy", "from", "/a", "path", "/a/-"));
  char err[256] = "";
  json_t *got = patch_json(orig, ops, err, sizeof err);
  if (got) fail_msg("a patch copying 8 MiB was applied (%zu items)", json_array_size(json_object_get(got, "a")));
  assert_non_null(strstr(err, "the accumulated size increase of copy is"));
  assert_non_null(strstr(err, "exceeding the limit 3145728"));
  json_decref(ops);
  /* Under the limit, copies still work: about 1+2+...+512 KiB copied. */
  ops = json_array();
  for (int i = 0; i < 10; i++)
    json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "copy", "from", "/a", "path", "/a/-"));
  got = patch_json(orig, ops, err, sizeof err);
  if (!got) fail_msg("%s", err);
  assert_int_equal(json_array_size(json_object_get(got, "a")), 11);
  json_decref(got);
  json_decref(ops);
  json_decref(orig);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_merge_patch),           cmocka_unit_test(test_json_patch),
      cmocka_unit_test(test_json_patch_cross),      cmocka_unit_test(test_strategic_patch),
      cmocka_unit_test(test_strategic_uses_lookup), cmocka_unit_test(test_cross_apply),
      cmocka_unit_test(test_value_equal),           cmocka_unit_test(test_json_patch_copy_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
