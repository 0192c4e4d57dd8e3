/*
 * structural.h - structural OpenAPI v3 schemas of custom resources
 * (a CustomResourceDefinition version's schema.openAPIV3Schema), as
 * upstream's apiextensions-apiserver uses them.
 *
 * The schema stays the JSON tree the CRD carries (no parallel C
 * structures); a `struct structural` holds a reference to it plus the
 * compiled `pattern` regular expressions (PCRE2), compiled on first use.
 *
 *   structural_check     at CRD create/update: the schema is structural
 *                        and uses only what upstream allows; every
 *                        problem is a cause with upstream's field path
 *                        ("spec.versions[0].schema.openAPIV3Schema
 *                        .properties[spec].type") and message;
 *   structural_prune     unknown fields removed (each reported as
 *                        `unknown field "spec.foo"`), apiVersion, kind
 *                        and metadata kept at the root and in embedded
 *                        resources, x-kubernetes-preserve-unknown-fields
 *                        honoured; nulls where the schema does not allow
 *                        them are dropped;
 *   structural_default   `default` values set where a property is absent
 *                        (or null and not nullable);
 *   structural_validate  the value validations (types, formats, enum,
 *                        pattern, bounds, lengths, required, ...) with
 *                        kube-openapi's messages, as causes of a 422.
 *
 * Causes are JSON objects {"reason","message","field"} appended to a
 * caller-owned array; the paths of a custom resource are rooted at the
 * object ("spec.replicas").
 */
#ifndef APISERVER_STRUCTURAL_H
#define APISERVER_STRUCTURAL_H

#include <stdbool.h>
#include <jansson.h>

struct structural;

/* New compiled schema; takes a reference to schema (an object).  NULL
 * only when out of memory. */
struct structural *structural_new(json_t *schema);
void structural_free(struct structural *s);
/* The schema tree (borrowed). */
const json_t *structural_schema(const struct structural *s);

/* CRD-time checks of one version's openAPIV3Schema found at `path`.
 * status_sub: the version enables the status subresource. */
void structural_check(const json_t *schema, const char *path, bool status_sub, json_t *causes);

/* True when the schema (anywhere) has x-kubernetes-validations. */
bool structural_has_validations(const json_t *schema);
/* True when the schema (anywhere) has a default. */
bool structural_has_defaults(const json_t *schema);

/* Removes what the schema does not describe from obj (a custom resource,
 * changed in place); each removed field is appended to unknown (may be
 * NULL) as `unknown field "PATH"`. */
void structural_prune(const struct structural *s, json_t *obj, json_t *unknown);
void structural_default(const struct structural *s, json_t *obj);
/* Validates obj (everything but apiVersion, kind and metadata at the
 * root); causes appended. */
void structural_validate(struct structural *s, const json_t *obj, json_t *causes);

/* Go's printing of a bad value in a field error (%q strings, %v
 * numbers); caller frees. */
char *structural_value_string(const json_t *v);

#endif
