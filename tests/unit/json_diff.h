/*
 * json_diff.h - the comparison behind the JSON differential test and the
 * fuzz target: the fast path (kj_loadb, kj_loadb_without_managed_fields,
 * kj_dumps) against jansson on one document.  Returns NULL when they agree,
 * else a static description of the first difference; *accepted tells
 * whether jansson accepted the document.
 */
#ifndef KUBE_TEST_JSON_DIFF_H
#define KUBE_TEST_JSON_DIFF_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"

/* What kj_loadb_without_managed_fields leaves out, done on jansson's tree. */
static inline void json_diff_strip_managed(json_t *v)
{
  if (json_is_object(v)) {
    json_object_del(json_object_get(v, "metadata"), "managedFields");
    const char *k;
    json_t *m;
    json_object_foreach (v, k, m) json_diff_strip_managed(m);
  } else if (json_is_array(v)) {
    size_t i;
    json_t *m;
    json_array_foreach (v, i, m) json_diff_strip_managed(m);
  }
}

static inline const char *json_diff_serializers(const json_t *v)
{
  char *mine = kj_dumps(v);
  char *ref = kj_dumps_flags(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
  bool same = (mine == NULL) == (ref == NULL) && (!mine || strcmp(mine, ref) == 0);
  free(mine);
  free(ref);
  return same ? NULL : "kj_dumps differs from jansson's compact dump";
}

static inline const char *json_diff_check(const char *buf, size_t len, bool *accepted)
{
  const char *why = NULL;
  *accepted = false;
  for (int dups = 0; dups < 2 && !why; dups++) {
    json_error_t je;
    json_t *mine = kj_loadb(buf, len, dups, NULL, 0);
    json_t *ref = json_loadb(buf, len, JSON_DECODE_ANY | (dups ? JSON_REJECT_DUPLICATES : 0), &je);
    if ((mine == NULL) != (ref == NULL)) why = dups ? "acceptance differs (duplicates rejected)" : "acceptance differs";
    else if (mine && !json_equal(mine, ref)) why = dups ? "trees differ (duplicates rejected)" : "trees differ";
    else if (mine && !dups) {
      *accepted = true;
      why = json_diff_serializers(ref);
      json_t *noman = kj_loadb_without_managed_fields(buf, len, NULL, 0);
      json_diff_strip_managed(ref);
      if (!why && (!noman || !json_equal(noman, ref))) why = "managedFields-free parse differs";
      json_decref(noman);
    }
    json_decref(mine);
    json_decref(ref);
  }
  return why;
}

#endif
