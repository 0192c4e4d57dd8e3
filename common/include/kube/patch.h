/*
 * patch.h - the three patch kinds of the API.
 *   JSON merge patch (RFC 7386), JSON patch (RFC 6902), and strategic
 *   merge patch (upstream's strategicpatch), whose list semantics come
 *   from the schema: a list field is merged by its merge key, replaced, or
 *   merged as a set of primitives; directives $patch (replace|merge|delete),
 *   $retainKeys, $setElementOrder/FIELD, $deleteFromPrimitiveList/FIELD and
 *   null (delete a key) are honoured.
 * All results are new references; inputs are never modified.
 */
#ifndef KUBE_PATCH_H
#define KUBE_PATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

json_t *patch_merge(const json_t *orig, const json_t *patch);
/* NULL on error with a message in err (bad op, path not found, failed test). */
json_t *patch_json(const json_t *orig, const json_t *ops, char *err, size_t errlen);

/* Patch metadata lookup for strategic merge.  `type` is an opaque schema
 * type handle (NULL = unknown: merge maps, replace lists).  For field
 * `name` of `type`, fill the out parameters and return the field's type
 * handle (element type for lists), or NULL if unknown. */
struct smp_field {
  const char *merge_key; /* list merge key, e.g. "name"; NULL if none */
  const char *strategy;  /* "merge", "replace", "retainKeys", "merge,retainKeys", or NULL */
  int is_list;
};
typedef const void *(*smp_lookup_fn)(void *arg, const void *type, const char *name, struct smp_field *out);
json_t *patch_strategic(const json_t *orig, const json_t *patch, smp_lookup_fn lookup, void *arg, const void *root_type,
                        char *err, size_t errlen);

/* Deep equality with RFC 6902 "test" semantics: numbers compare by value
 * (1 equals 1.0), object member order does not matter. */
bool patch_value_equal(const json_t *a, const json_t *b);

#endif
