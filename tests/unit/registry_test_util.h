/*
 * registry_test_util.h - fixtures shared by the registry strategy tests
 * (tests/unit/test_registry_*.c): JSON literals, canonical comparison, and
 * running a kind's validate hook to compare its causes, one
 * "field|reason|message" line each.
 */
#ifndef TESTS_REGISTRY_TEST_UTIL_H
#define TESTS_REGISTRY_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "registry/registry.h"

/* New reference to the JSON value of s; fails the test on bad JSON. */
static inline json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, JSON_DECODE_ANY, &e);
  if (!v) fail_msg("bad test JSON: %s: %s", e.text, s);
  return v;
}

static inline void assert_json(const json_t *got, const char *want)
{
  json_t *w = J(want);
  char *gs = kj_dumps_canonical(got), *ws = kj_dumps_canonical(w);
  if (strcmp(gs, ws)) fail_msg("\n got: %s\nwant: %s", gs, ws);
  free(gs);
  free(ws);
  json_decref(w);
}

/* "field|reason|message" per cause, newline-separated; caller frees. */
static inline char *causes_string(const json_t *causes)
{
  char *buf = NULL;
  size_t len = 0, i;
  FILE *f = open_memstream(&buf, &len);
  json_t *c;
  json_array_foreach (causes, i, c)
    fprintf(f, "%s%s|%s|%s", i ? "\n" : "", kj_get_str(c, "field"), kj_get_str(c, "reason"), kj_get_str(c, "message"));
  fclose(f);
  return buf;
}

/* Validate obj_s (against old_s for an update) through subresource sub
 * (NULL for the main resource) and compare the causes with want. */
static inline void check_validate_sub(const struct resource *res, const char *sub, const char *obj_s, const char *old_s,
                                      const char *want)
{
  json_t *obj = J(obj_s), *old = old_s ? J(old_s) : NULL, *causes = json_array();
  struct reg_request rq = {.verb = old ? "update" : "create", .subresource = sub};
  res->validate(&rq, obj, old, causes);
  char *got = causes_string(causes);
  if (strcmp(got, want)) fail_msg("\nobject: %s\n got:\n%s\nwant:\n%s", obj_s, got, want);
  free(got);
  json_decref(causes);
  json_decref(obj);
  json_decref(old);
}

static inline void check_validate(const struct resource *res, const char *obj_s, const char *old_s, const char *want)
{
  check_validate_sub(res, NULL, obj_s, old_s, want);
}

#endif
