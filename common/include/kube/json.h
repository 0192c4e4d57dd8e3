/*
 * json.h - helpers over jansson for reading and writing API objects by path.
 *
 * Paths are dot-separated keys with optional array indexes:
 *   "metadata.name", "spec.containers[0].image", "metadata.labels.app"
 * A key that itself contains dots or brackets (label keys such as
 * "app.kubernetes.io/name") is written in brackets and quotes:
 *   "metadata.labels[\"app.kubernetes.io/name\"]"
 */
#ifndef KUBE_JSON_H
#define KUBE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Borrowed reference to the value at path, or NULL if any step is absent
 * or of the wrong type. */
json_t *kj_get(const json_t *root, const char *path);
/* Borrowed string at path, or NULL if absent or not a string. */
const char *kj_get_str(const json_t *root, const char *path);
/* Integer at path (JSON integer, or real with integral value), else dflt. */
int64_t kj_get_int(const json_t *root, const char *path, int64_t dflt);
bool kj_get_bool(const json_t *root, const char *path, bool dflt);

/* Set value at path, creating intermediate objects (not arrays) as needed.
 * Steals the reference to value (also on failure).  Returns 0, or -EINVAL
 * if an intermediate step exists and is not an object/array or the path is
 * malformed, or -ENOENT for an array index out of range.  An index equal to
 * the array's size appends; a JSON null on the way counts as absent. */
int kj_set(json_t *root, const char *path, json_t *value);
int kj_set_str(json_t *root, const char *path, const char *s);
int kj_set_int(json_t *root, const char *path, int64_t v);
/* Set only if absent or null (defaulting).  Steals value.  Returns 1 if
 * set, 0 if already present, negative on error. */
int kj_default(json_t *root, const char *path, json_t *value);
/* Remove the value at path. Returns 0, or -ENOENT if absent. */
int kj_del(json_t *root, const char *path);
/* The JSON kind of v in the words of Go's encoding/json errors
 * ("cannot unmarshal string into ..."): object, array, string, number,
 * bool or null (NULL too). */
const char *kj_kind_name(const json_t *v);
/* Object at path, created empty if absent; borrowed; NULL on type clash. */
json_t *kj_obj(json_t *root, const char *path);
/* Array at path, created empty if absent; borrowed; NULL on type clash. */
json_t *kj_arr(json_t *root, const char *path);

/* jansson's values live in size-class chunks (json_alloc.c), so memory
 * jansson returns (json_dumps) must never reach free(): these functions
 * return malloc'd strings instead. */
/* How many 64 KiB chunks hold jansson's small blocks now (0 in the
 * sanitizer build, which leaves jansson on malloc). */
size_t kj_alloc_chunks(void);
/* json_dumps with jansson's flags, into a malloc'd string (free()). */
char *kj_dumps_flags(const json_t *v, size_t flags);

/* Serializations; caller frees with free().  Compact, key order kept. */
char *kj_dumps(const json_t *v);
/* Canonical: compact with keys sorted (hashing templates, comparisons). */
char *kj_dumps_canonical(const json_t *v);
/* json_deep_copy for trees (no cycle check: parsed and built values
 * cannot hold cycles, and jansson's check formats a key per object). */
json_t *kj_deep_copy(const json_t *v);
/* Deep equality (jansson's json_equal, exposed for symmetry). */
bool kj_equal(const json_t *a, const json_t *b);

/* Parse one JSON value from buf.  With reject_duplicates, a duplicate key
 * fails.  On error returns NULL and writes "line L column C: msg" to err. */
json_t *kj_loadb(const char *buf, size_t len, bool reject_duplicates, char *err, size_t errlen);

/* kj_loadb for clients that never read managedFields: the managedFields
 * member of every object that is the value of a "metadata" member, at any
 * depth (an object's, a watch event's object's, a list's items'), is left
 * out, most of it without being built at all. */
json_t *kj_loadb_without_managed_fields(const char *buf, size_t len, char *err, size_t errlen);

#endif
