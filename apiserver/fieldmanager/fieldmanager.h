/*
 * fieldmanager.h - server-side apply and metadata.managedFields tracking.
 *
 * Every write records which manager set which fields of the object, as
 * upstream's fieldmanager (k8s.io/apiserver .../handlers/fieldmanager) does
 * on top of structured-merge-diff:
 *   - a field set is a trie of path elements, stored in the FieldsV1 JSON
 *     encoding: {"f:spec":{"f:replicas":{}}}, list-map items as
 *     "k:{\"name\":\"nginx\"}", set items as "v:\"value\"", atomic list
 *     indexes as "i:0", and "." for "this node itself" when the node also
 *     has children;
 *   - the schema table decides the shape of each node: scalars, atomic
 *     structs/maps/lists (one leaf), granular maps and structs, list-maps
 *     (items by their x-kubernetes-list-map-keys) and sets (items by value);
 *     a part of an object the schema does not describe is treated like
 *     upstream's deduced type (objects recurse, arrays are atomic);
 *   - an ordinary write (POST/PUT/non-apply PATCH) calls fieldmanager_update:
 *     the fields the write added or changed go to the writer's "Update"
 *     entry and are taken from every other manager;
 *   - an apply (PATCH application/apply-patch+yaml) calls fieldmanager_apply:
 *     the applied configuration is merged into the live object, its field
 *     set becomes the writer's "Apply" entry, fields the writer applied
 *     before but dropped now are removed when nobody else owns them, and
 *     changing a field owned by another manager is a 409 Conflict unless
 *     force is set (then ownership moves).
 *
 * Use from the request path:
 *   - every create/update/non-apply patch/status write, after the new
 *     object is computed and before validation and storage:
 *     fieldmanager_update(&req, stored_or_NULL, new_obj), with req.manager
 *     from ?fieldManager= or fieldmanager_default_manager(User-Agent);
 *   - PATCH with Content-Type application/apply-patch+yaml:
 *     fieldmanager_validate_options("PatchOptions", fieldManager, true,
 *     force given); config = fieldmanager_decode_apply(body);
 *     fieldmanager_apply(&req, stored_or_NULL, config, force, &obj, &st);
 *     fieldmanager_check_name(obj, URL name, URL namespace); when the
 *     object is absent, create obj; apply is retried on a storage
 *     resourceVersion conflict like any read-modify-write.
 *   - "kubectl" as applier also gets upstream's client-side-apply upgrade:
 *     conflicts on fields its last-applied-configuration annotation still
 *     describes are not reported, and that annotation, when present, is
 *     rewritten to the new configuration.
 *
 * Fields never tracked (as upstream): apiVersion, kind, metadata.name,
 * metadata.namespace, metadata.uid, metadata.resourceVersion,
 * metadata.generation, metadata.creationTimestamp, metadata.selfLink,
 * metadata.managedFields.  With a status subresource, a main-resource write
 * never owns .status and a status write owns only .status; this limits the
 * writer's entry and the changes it records (so no conflicts across the
 * split), while entries written through the other side keep their fields.
 */
#ifndef APISERVER_FIELDMANAGER_H
#define APISERVER_FIELDMANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <jansson.h>

struct schema;
struct stype;
struct stype;

/* Upstream's limit on the length of ?fieldManager=. */
#define FM_MANAGER_NAME_MAX 128
/* At most this many Update entries are kept; the oldest ones are merged
 * into one entry named "ancient-changes" (upstream's DefaultMaxUpdateManagers). */
#define FM_MAX_UPDATE_MANAGERS 10

/* ---- field sets ---- */

struct fm_set;

struct fm_set *fm_set_new(void);
void fm_set_free(struct fm_set *s);
bool fm_set_empty(const struct fm_set *s);
/* Decode a fieldsV1 object.  0, or -EINVAL (with *out NULL) on a malformed
 * element name or a non-object node. */
int fm_set_from_fieldsv1(const json_t *fields, struct fm_set **out);
/* FieldsV1 encoding, elements in upstream order (fields, keys, values,
 * indexes).  New reference; `{}` for the empty set. */
json_t *fm_set_to_fieldsv1(const struct fm_set *s);
/* Every member path, in upstream's printed form (".spec.replicas",
 * ".spec.template.spec.containers[name=\"nginx\"].image", "[=\"x\"]",
 * "[0]"), members of a node before its children.  New reference (array of
 * strings). */
json_t *fm_set_paths(const struct fm_set *s);

/* The set of fields `obj` sets, typed by the kind's schema (`type` NULL:
 * deduced).  Like upstream's TypedValue.ToFieldSet: scalars and atomic
 * values are leaves, list items and map entries are members too, struct
 * fields only when empty or null.  New set, NULL on allocation failure. */
struct fm_set *fm_object_fields(const struct stype *type, const json_t *obj);

/* ---- managedFields maintenance ---- */

/* What the request path knows about the write. */
struct fm_request {
  const struct schema *schema; /* NULL: every kind is deduced */
  /* The kind's type when it is not in schema (a custom resource's,
   * schema/structural_types.h); NULL: looked up in schema. */
  const struct stype *root_type;
  const char *api_version;     /* the object's group/version: "apps/v1", "v1" */
  const char *kind;            /* "Deployment" */
  const char *manager;         /* ?fieldManager=, or fieldmanager_default_manager() */
  const char *subresource;     /* NULL/"" for the main resource, "status", "scale" */
  time_t now;                  /* entry timestamps; 0: the current time */
  /* Set for kinds without a status subresource (custom resources without
   * one): .status is then an ordinary field. */
  bool no_status_subresource;
};

/* Non-apply write (create, update, non-apply patch): maintains
 * metadata.managedFields on new_obj in place.  old_obj is the stored object
 * (NULL on create).  The entries come from new_obj when it carries valid,
 * non-empty managedFields on a main-resource write (clients may edit
 * them), else from old_obj.  The fields added or changed since old_obj go to
 * the entry {manager, operation Update, apiVersion, subresource} (its time
 * set to now) and are removed from every other entry; fields the write
 * removed leave every entry; empty entries are dropped; [{}] clears the
 * entries.  0, -EINVAL when the arguments are unusable, -ENOMEM (new_obj
 * is then left without managedFields, as upstream's UpdateNoErrors). */
int fieldmanager_update(const struct fm_request *req, const json_t *old_obj, json_t *new_obj);

/* Server-side apply.  live is the stored object or NULL when absent (the
 * caller then creates *result).  config is the applied configuration
 * parsed from YAML or JSON.  On success returns 0 and *result (new
 * reference): the merged object carrying the updated managedFields; the
 * caller still runs defaulting, validation and storage.  On failure
 * returns a negative errno and *status (new reference) is the upstream
 * Status to answer with:
 *   400 BadRequest  "Incorrect version specified in apply patch. Specified
 *                    patch version: X, expected: Y", "metadata.managedFields
 *                    must be nil", a missing kind;
 *   409 Conflict    "Apply failed with 1 conflict: conflict with \"mgr\"
 *                    using apps/v1: .spec.replicas" with details.causes
 *                    [{reason FieldManagerConflict, message, field}]. */
int fieldmanager_apply(const struct fm_request *req, const json_t *live, const json_t *config, bool force,
                       json_t **result, json_t **status);

/* The body of an application/apply-patch+yaml PATCH (YAML or JSON) as the
 * applied configuration.  New reference, or NULL with *status a 400
 * BadRequest "error decoding YAML: ..." (new reference). */
json_t *fieldmanager_decode_apply(const char *body, size_t len, json_t **status);

/* Upstream's checkName for a patched or applied object: its name must be
 * the URL's ("the name of the object (X) does not match the name on the
 * URL (Y)") and a namespace it sets must be the URL's ("the namespace of
 * the object (X) does not match the namespace on the URL (Y)").  NULL when
 * they match, else a 400 BadRequest Status (new reference). */
json_t *fieldmanager_check_name(const json_t *obj, const char *url_name, const char *url_namespace);

/* PatchOptions/UpdateOptions/CreateOptions checks, as upstream's
 * ValidatePatchOptions: apply needs a fieldManager (422 "is required for
 * apply requests"), force only with apply (422 "may not be specified for
 * non-apply patch"), a manager name at most FM_MANAGER_NAME_MAX long
 * (422).  `options_kind` is "PatchOptions", "UpdateOptions" or
 * "CreateOptions".  NULL when valid, else the Status (new reference). */
json_t *fieldmanager_validate_options(const char *options_kind, const char *field_manager, bool is_apply,
                                      bool force_given);

/* The manager name of a write without ?fieldManager=: the User-Agent up to
 * its first "/" ("kubectl/v1.32.0 (linux/amd64)" -> "kubectl"), truncated
 * to FM_MANAGER_NAME_MAX.  Writes into out (at least
 * FM_MANAGER_NAME_MAX + 1 bytes) and returns it. */
char *fieldmanager_default_manager(const char *user_agent, char *out, size_t outlen);

#endif
