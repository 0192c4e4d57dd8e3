/*
 * cm_test_util.h - a helper the controller tests share: the typed
 * actions of a compute step as plain JSON [{verb, path, body}], for
 * tests that compare whole lists or replay the writes onto a fake store.
 */
#ifndef CM_TEST_UTIL_H
#define CM_TEST_UTIL_H

#include <jansson.h>

#include "framework.h"

/* New reference; acts is cleared. */
static inline json_t *cm_actions_json(struct cm_actions *acts)
{
  json_t *out = json_array();
  for (size_t i = 0; i < acts->n; i++) {
    const struct cm_action *a = &acts->v[i];
    json_t *o = json_pack("{s:s,s:s}", "verb", cm_verb_name(a->verb), "path", a->path);
    if (a->body) json_object_set(o, "body", a->body);
    json_array_append_new(out, o);
  }
  cm_actions_clear(acts);
  return out;
}

#endif
