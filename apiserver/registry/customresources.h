/*
 * customresources.h - custom resources served from
 * CustomResourceDefinitions (apiextensions.k8s.io/v1).
 *
 * Every served version of an established CRD is one heap `struct
 * resource` descriptor (custom = true) that joins the registry's table
 * (registry_served / registry_lookup): the request path, storage, watch,
 * selectors, pagination, finalizers and the field manager treat it as
 * they treat a built-in kind.  What differs lives behind the descriptor:
 *   - typed decoding is upstream's unstructured one: metadata decoded as
 *     ObjectMeta, unknown fields pruned by the structural schema,
 *     defaults applied (cr_decode);
 *   - validation is the schema's (structural.c) plus ObjectMeta's;
 *   - Table output from additionalPrinterColumns (cr_columns, cr_cells);
 *   - several versions share one storage prefix
 *     (/registry/GROUP/PLURAL); objects are stored in the storage
 *     version and served in the requested one (conversion None: only
 *     apiVersion changes).
 *
 * Descriptors are reference counted: a request holds its descriptor
 * (registry_res_ref) until it is freed, so a CRD updated or deleted
 * under a running watch or write never leaves a dangling pointer.  A
 * CRD change builds fresh descriptors and drops the table's references
 * to the old ones.
 *
 * The CRD controller (crd_controller.c) loads CRDs at start, follows them
 * through a storage watch, computes NamesAccepted / Established (and
 * Terminating) as upstream's naming and establishing controllers do,
 * writes them to the CRD's status, and on deletion removes every custom
 * resource before the customresourcecleanup.apiextensions.k8s.io
 * finalizer is released.
 */
#ifndef APISERVER_CUSTOMRESOURCES_H
#define APISERVER_CUSTOMRESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "registry/registry.h"

struct apiserver;
struct structural;

#define CRD_CLEANUP_FINALIZER "customresourcecleanup.apiextensions.k8s.io"

extern const struct resource reg_customresourcedefinitions;

/* One served version of a CRD. */
#define CR_MAX_SELECTABLE 8 /* upstream's MaxSelectableFields */

struct cr_version {
  struct resource res; /* first: the descriptor requests see */
  int refs;
  char *strs[8]; /* owned strings the descriptor points at */
  char *short_names[6];
  char *categories[3];
  char *storage_api_version;                        /* apiVersion objects are stored in */
  bool multi_version;                               /* another version is served from the same storage */
  bool terminating;                                 /* the CRD is being deleted: creates refused */
  bool read_defaults;                               /* the schema has defaults: applied on every read too */
  char *warning;                                    /* deprecation warning, or NULL */
  struct structural *schema;                        /* NULL: no schema (everything but metadata pruned) */
  json_t *columns;                                  /* additionalPrinterColumns, or the default Age */
  struct reg_column *cols;                          /* the same as reg_columns, strings borrowed */
  char *scale_spec, *scale_status, *scale_selector; /* paths without the leading dot */
  /* selectableFields: "spec.color" (the jsonPath without its leading dot),
   * and the NULL-terminated array res.field_selectors points at */
  /* the schema as the field manager's types, made on first use
   * (cr_field_types) */
  struct stype_set *types;
  const struct stype *root_type;
  bool types_made;
  char *selectable[CR_MAX_SELECTABLE];
  const char *selectable_ptrs[CR_MAX_SELECTABLE + 1];
};

/* The cr_version of a custom resource descriptor, or NULL. */
static inline struct cr_version *cr_of(const struct resource *res)
{
  return res && res->custom ? (struct cr_version *)res : NULL;
}

/* Builds the descriptor of version `vname` of crd (borrowed) with its
 * accepted names; NULL when out of memory.  One reference. */
struct cr_version *cr_version_new(const json_t *crd, const json_t *accepted, const char *vname);

/* Upstream's unstructured decoding of a custom resource: metadata typed
 * as ObjectMeta, fields the schema does not know removed (and appended
 * to unknown as `unknown field "spec.x"`), defaults applied.  0, or
 * -EINVAL with a message in err. */
int cr_decode(struct apiserver *srv, const struct resource *res, json_t *obj, json_t *unknown, char *err,
              size_t errlen);

/* Conversion None between versions: a stored object as served for res,
 * and a request object in its stored form.  Both take obj and return it
 * (apiVersion rewritten). */
json_t *cr_to_external(const struct resource *res, json_t *obj);
json_t *cr_to_internal(const struct resource *res, json_t *obj);

/* The value a field selector compares for a selectable field of a custom
 * resource ("spec.color"): a string as is, an integer or boolean
 * formatted, "" when absent or of another type (upstream).  Returns buf or
 * a string borrowed from obj. */
const char *cr_selectable_value(const json_t *obj, const char *field, char *buf, size_t len);

/* The root type server-side apply walks a custom resource of res with
 * (its schema's list and map types; schema/structural_types.h), made on
 * first use with the built-in ObjectMeta of schema; NULL: deduced. */
struct schema;
const struct stype *cr_field_types(const struct resource *res, const struct schema *schema);

/* Table output: the columns (Name first) and a row's cells. */
const struct reg_column *cr_columns(const struct resource *res);
json_t *cr_cells(const struct resource *res, const json_t *obj);

/* Evaluates a printer column's JSONPath ("{.spec.x}" without braces) on
 * obj: the first result (borrowed), or NULL. */
const json_t *cr_jsonpath(const json_t *obj, const char *path);

/* The CRD controller (crd_controller.c). */
int crd_controller_start(struct apiserver *srv);
void crd_controller_stop(struct apiserver *srv);
/* Descriptors of every served custom resource version (borrowed,
 * valid until the next CRD change); *n set. */
const struct resource *const *crd_served(struct apiserver *srv, size_t *n);
/* Bumped whenever the served set changes (caches of discovery and
 * OpenAPI compare it). */
unsigned crd_generation(struct apiserver *srv);

/* CRD strategy helpers (customresourcedefinitions.c). */
/* Upstream's ordering of version names (v1 > v1beta2 > v1beta1 > v1alpha1 > foo); <0, 0, >0. */
int crd_version_cmp(const char *a, const char *b);

#endif
