/*
 * registry_ext_test_util.h - fixtures shared by the tests of the
 * registry's other kinds (tests/unit/test_registry_ext_*.c): JSON
 * literals written with single quotes, validation through a subresource,
 * objects prepared as a create would store them, and table-driven
 * validation (vcase) and defaulting (dcase) runners.
 */
#ifndef TESTS_REGISTRY_EXT_TEST_UTIL_H
#define TESTS_REGISTRY_EXT_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

static inline json_t *J(const char *s)
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

static inline char *validate_sub(const struct resource *res, const json_t *obj, const json_t *old, const char *sub)
{
  struct reg_request rq = {.verb = old ? "update" : "create", .subresource = sub};
  json_t *causes = json_array();
  res->validate(&rq, obj, old, causes);
  char *buf = NULL;
  size_t len = 0, i;
  FILE *f = open_memstream(&buf, &len);
  json_t *c;
  json_array_foreach (causes, i, c)
    fprintf(f, "%s%s: %s", i ? "\n" : "", kj_get_str(c, "field"), kj_get_str(c, "message"));
  fclose(f);
  json_decref(causes);
  return buf;
}

static inline json_t *prepared(const struct resource *res, const char *src)
{
  json_t *obj = J(src);
  kj_set_str(obj, "metadata.uid", "u-1");
  kj_set_str(obj, "metadata.creationTimestamp", "2024-01-01T00:00:00Z");
  if (res->defaults) res->defaults(obj);
  struct reg_request rq = {.verb = "create"};
  if (res->prepare_create) res->prepare_create(&rq, obj);
  return obj;
}

struct vcase {
  const struct resource *res;
  const char *old; /* NULL: create */
  const char *obj;
  const char *causes;
};

static inline void run_vcases(const struct vcase *cases, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    json_t *old = cases[i].old ? prepared(cases[i].res, cases[i].old) : NULL;
    json_t *obj;
    if (old) {
      obj = J(cases[i].obj);
      if (cases[i].res->defaults) cases[i].res->defaults(obj);
      struct reg_request rq = {.verb = "update"};
      if (cases[i].res->prepare_update) cases[i].res->prepare_update(&rq, obj, old);
    } else {
      obj = prepared(cases[i].res, cases[i].obj);
    }
    char *c = validate_sub(cases[i].res, obj, old, NULL);
    if (strcmp(c, cases[i].causes))
      fail_msg("case %zu (%s): got\n%s\nwant\n%s", i, cases[i].res->plural, c, cases[i].causes);
    free(c);
    json_decref(obj);
    json_decref(old);
  }
}

struct dcase {
  const struct resource *res;
  const char *in, *out;
};

static inline void run_dcases(const struct dcase *cases, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    json_t *obj = J(cases[i].in), *want = J(cases[i].out);
    cases[i].res->defaults(obj);
    if (!json_equal(obj, want)) {
      char *a = kj_dumps_canonical(obj), *b = kj_dumps_canonical(want);
      fail_msg("case %zu (%s): got\n%s\nwant\n%s", i, cases[i].res->plural, a, b);
    }
    json_decref(obj);
    json_decref(want);
  }
}

#endif
