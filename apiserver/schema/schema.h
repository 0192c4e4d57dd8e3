/*
 * schema.h - the one schema table of the built-in kinds.
 *
 * The table is project-written text (the .schema files in apiserver/schema/, embedded
 * at build time as `schema_text`) listing each type's fields, their types,
 * required fields, and list semantics (merge key, patch strategy, list
 * type).  Parsed once at start, it drives:
 *   - OpenAPI v3 documents (/openapi/v3 and per group-version), read by
 *     kubectl for field validation support and `kubectl explain`;
 *   - strict field validation (unknown fields of a request body);
 *   - strategic merge patch metadata (patch.h smp_lookup_fn);
 *   - pruning/defaulting helpers later used for custom resources.
 */
#ifndef APISERVER_SCHEMA_H
#define APISERVER_SCHEMA_H

#include <stddef.h>
#include <jansson.h>
#include <kube/patch.h>

struct schema;
struct stype; /* one named type or an inline field type */
struct resource;

/* Parse the embedded table.  NULL with a message (file line) on error. */
struct schema *schema_load_builtin(char *err, size_t errlen);
/* Parse a given text (tests). */
struct schema *schema_load_text(const char *text, char *err, size_t errlen);
void schema_free(struct schema *s);

/* Top-level type of a kind, or NULL. */
const struct stype *schema_kind(const struct schema *s, const char *group, const char *version, const char *kind);

/* A named type by its OpenAPI definition name
 * ("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"), or NULL. */
const struct stype *schema_named(const struct schema *s, const char *name);

/* Strict field validation: append to `out` (a JSON array) one string per
 * unknown field, as upstream words it: `unknown field "spec.foo"`.
 * Returns how many were appended. */
size_t schema_unknown_fields(const struct schema *s, const struct stype *t, const json_t *obj, json_t *out);

/* Typed decoding (decode.c): obj, an object of struct type t, is left
 * as upstream leaves a body it decodes into the Go type and encodes back
 * (wrong types refused, unknown fields removed, quantities and times
 * canonical, omitempty and zero values as Go prints them).  Changed in
 * place.  Each removed unknown field is appended to `unknown` (NULL: not
 * collected) as `unknown field "spec.foo"`.  Returns 0, or -EINVAL with
 * Go's message of the first decode error in err (obj is then partly
 * decoded and must be dropped).  Idempotent. */
int schema_decode(const struct schema *s, const struct stype *t, json_t *obj, json_t *unknown, char *err,
                  size_t errlen);

/* patch.h lookup: arg is the struct schema *, type a const struct stype *.
 * For a list field the element type is returned (is_list set); for a map
 * field the map itself, whose every key then yields the value type; NULL
 * for unknown names and free-form values (RawExtension, FieldsV1). */
const void *schema_smp_lookup(void *arg, const void *type, const char *name, struct smp_field *out);

/* OpenAPI v3.  The index {"paths":{"api/v1":{"serverRelativeURL":
 * "/openapi/v3/api/v1?hash=H"},...}} for every group/version of the given
 * resources, and the document of one group/version ("api/v1",
 * "apis/apps/v1") with components.schemas for every kind and the types
 * they use, and paths with operations (GET/PUT/PATCH/DELETE/POST) that
 * carry x-kubernetes-group-version-kind and the fieldValidation parameter.
 * New references.  Documents are deterministic so the hash is stable.
 * The index builds every document to hash it: callers cache the index and
 * the documents, which change only when the table or the registry does.
 * A served kind missing from the table still gets its operations, with a
 * free-form schema. */
json_t *schema_openapi_v3_index(const struct schema *s, const struct resource *const *res, size_t n);
json_t *schema_openapi_v3_doc(const struct schema *s, const char *gv_path, const struct resource *const *res, size_t n);

/* The Swagger 2.0 document (/openapi/v2) of every resource; new
 * reference. */
json_t *schema_openapi_v2(const struct schema *s, const struct resource *const *res, size_t n);
/* Its protobuf form, gnostic's openapi_v2.Document, which kubectl asks
 * for (openapi_pb.c).  A malloc'd buffer in *out; 0 or -EINVAL. */
int schema_openapi_v2_protobuf(const json_t *doc, unsigned char **out, size_t *len);

#endif
