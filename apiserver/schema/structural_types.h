/*
 * structural_types.h - a CRD version's openAPIV3Schema as the schema
 * table's types (schema_int.h), so that server-side apply walks a custom
 * resource as it walks a built-in kind: x-kubernetes-list-type map (items
 * by x-kubernetes-list-map-keys) and set, x-kubernetes-map-type atomic,
 * maps of additionalProperties, and atomic lists where no list type is
 * given (upstream's default for custom resources).  metadata is the
 * built-in ObjectMeta; x-kubernetes-preserve-unknown-fields parts and
 * anything the schema does not describe are deduced.
 */
#ifndef APISERVER_STRUCTURAL_TYPES_H
#define APISERVER_STRUCTURAL_TYPES_H

#include <jansson.h>

struct stype;
struct stype_set;

/* The root type of schema (borrowed), with object_meta (borrowed, from
 * the built-in table; may be NULL) at metadata.  Every type made is owned
 * by *out, freed with stype_set_free.  NULL when out of memory. */
const struct stype *structural_types_new(const json_t *schema, const struct stype *object_meta,
                                         struct stype_set **out);
void stype_set_free(struct stype_set *set);

#endif
