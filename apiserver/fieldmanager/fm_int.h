/*
 * fm_int.h - shared internals of the field manager: the field-set trie
 * (fieldset.c), the schema-typed walks over objects (typed.c: field sets,
 * comparison, structured merge, removal), the managedFields entries
 * (managed.c), Update tracking (fieldmanager.c) and apply (apply.c).
 *
 * A set is a tree of nodes; a node is one path element below its parent and
 * says whether that path itself is a member.  Children are kept sorted in
 * upstream's element order, so encoding and iteration are deterministic
 * and set operations are merges of sorted arrays.
 */
#ifndef APISERVER_FM_INT_H
#define APISERVER_FM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

#include "fieldmanager/fieldmanager.h"

struct stype;
struct sfield;

/* Upstream's element order: fields, then keys, then values, then indexes. */
enum fm_pe_kind { FM_PE_FIELD = 0, FM_PE_KEY = 1, FM_PE_VALUE = 2, FM_PE_INDEX = 3 };

/* One path element.  str is the field name (FIELD), the canonical compact
 * JSON of the key object with sorted names (KEY) or of the value (VALUE). */
struct fm_pe {
  enum fm_pe_kind kind;
  char *str;
  long index;
  json_t *val; /* KEY/VALUE: the parsed key object or value, for ordering */
};

struct fm_node {
  struct fm_pe pe; /* unused at the root */
  bool member;
  struct fm_node **kids; /* sorted by fm_pe_cmp */
  size_t nkids, capkids;
};

struct fm_set {
  struct fm_node root;
};

/* A path while walking: borrowed elements. */
#define FM_PATH_MAX 64
struct fm_path {
  const struct fm_pe *el[FM_PATH_MAX];
  size_t n;
};

/* Upstream's order: kinds first, then names, key field lists and values
 * (numbers numerically, before strings, booleans, lists, maps, null). */
int fm_pe_cmp(const struct fm_pe *a, const struct fm_pe *b);
/* Frees what a pe owns (str, val). */
void fm_pe_release(struct fm_pe *pe);
/* Insert a path as member.  0, -ENOMEM, -E2BIG (empty path is ignored). */
int fm_set_insert(struct fm_set *s, const struct fm_path *p);
/* Node for a path, or NULL. */
const struct fm_node *fm_set_find(const struct fm_set *s, const struct fm_path *p);
bool fm_set_has(const struct fm_set *s, const struct fm_path *p);
struct fm_set *fm_set_dup(const struct fm_set *s);
/* dst |= src, dst -= src; results of intersection are new sets. */
int fm_set_union_into(struct fm_set *dst, const struct fm_set *src);
void fm_set_subtract(struct fm_set *dst, const struct fm_set *src);
struct fm_set *fm_set_intersect(const struct fm_set *a, const struct fm_set *b);
/* Remove one exact member (children stay). */
void fm_set_remove_member(struct fm_set *s, const struct fm_path *p);
/* Keep only the subtree under the top-level field `name` (keep=true) or
 * drop that subtree (keep=false). */
void fm_set_filter_top(struct fm_set *s, const char *name, bool keep);
/* Does any member lie strictly below node n? */
bool fm_node_has_member_below(const struct fm_node *n);
/* Call fn for every member path, members of a node before its children. */
typedef int (*fm_path_fn)(const struct fm_path *p, void *arg);
int fm_set_walk(const struct fm_set *s, fm_path_fn fn, void *arg);
/* Printed form of a path (".spec.containers[name=\"x\"].image"); malloc'd. */
char *fm_path_string(const struct fm_path *p);

/* ---- typed walks (typed.c) ---- */

/* Where a node's shape comes from: its type and the field that holds it
 * (list and map attributes live on the field).  t NULL means deduced. */
struct fm_type {
  const struct stype *t;
  const struct sfield *f;
};

/* ToFieldSet. */
int fm_typed_to_set(struct fm_type ty, const json_t *obj, struct fm_set *out);

/* Comparison of two versions (NULL = absent).  Fills added/modified/
 * removed like upstream's TypedValue.Compare.  With `creating`, struct
 * nodes and required fields added whole are not members themselves
 * (upstream compares a create against the zero value of the Go type, where
 * value structs and non-omitempty fields exist). */
struct fm_compare {
  struct fm_set *added, *modified, *removed;
};
int fm_typed_compare(struct fm_type ty, const json_t *lhs, const json_t *rhs, bool creating, struct fm_compare *out);
void fm_compare_clear(struct fm_compare *c);

/* Structured merge of rhs into lhs (either may be NULL).  New reference. */
json_t *fm_typed_merge(struct fm_type ty, const json_t *lhs, const json_t *rhs);

/* Remove from obj (in place) every member of `remove` that is neither in
 * `owned` nor has an owned path below it. */
void fm_typed_prune(struct fm_type ty, json_t *obj, const struct fm_set *remove, const struct fm_set *owned);

/* Errors that make a configuration unusable for apply, as upstream's
 * typed conversion words them (".spec.template.spec.containers: duplicate
 * entries for key [name=\"x\"]").  New reference: an array of strings,
 * empty when valid. */
json_t *fm_typed_validate(struct fm_type ty, const json_t *obj);

/* ---- managedFields entries (managed.c) ---- */

#define FM_OP_APPLY "Apply"
#define FM_OP_UPDATE "Update"

struct fm_entry {
  char *manager, *operation, *api_version, *time, *subresource;
  struct fm_set *set;
};

struct fm_managed {
  struct fm_entry *e;
  size_t n, cap;
  bool reset; /* the write asked to clear managedFields ([{}]) */
};

/* The request's view: its kind's type and the time stamp to write. */
struct fm_ctx {
  const struct fm_request *req;
  struct fm_type ty;
  char now[40];
};

const char *fm_nz(const char *s);
const char *fm_jstr(const json_t *o, const char *k);
void fm_entry_clear(struct fm_entry *e);
void fm_managed_clear(struct fm_managed *m);
ssize_t fm_managed_find(const struct fm_managed *m, const char *manager, const char *op, const char *api_version,
                        const char *subresource);
/* New entry with an empty set (may move the array); NULL on ENOMEM. */
struct fm_entry *fm_managed_add(struct fm_managed *m, const char *manager, const char *op, const char *api_version,
                                const char *subresource);
void fm_managed_remove_at(struct fm_managed *m, size_t i);
/* 0, -EINVAL for entries this server cannot read, -ENOMEM. */
int fm_managed_decode(const json_t *arr, struct fm_managed *m);
int fm_entry_order(const void *a, const void *b);
/* Writes the sorted entries into obj.metadata.managedFields (removed when none). */
int fm_managed_encode(struct fm_managed *m, json_t *obj);
void fm_ctx_init(struct fm_ctx *c, const struct fm_request *req);
/* Drops the fields nobody owns and splits status from the main resource:
 * for the writer's own set and for the fields a write changed, never for
 * other managers' entries. */
void fm_filter_set(const struct fm_ctx *c, struct fm_set *s);
/* Only drops the fields nobody owns (apiVersion, kind, metadata.name...). */
void fm_strip_untracked(struct fm_set *s);
/* fm_filter_set on entry `own` (-1: none), fm_strip_untracked on the rest. */
void fm_filter_entries(const struct fm_ctx *c, struct fm_managed *m, ssize_t own);
/* metadata.managedFields of obj, borrowed (NULL-safe). */
const json_t *fm_managed_of(const json_t *obj);
/* Deep copy without metadata.managedFields (new reference); NULL stays NULL. */
json_t *fm_without_managed(const json_t *obj);
void fm_drop_empty_entries(struct fm_managed *m, ssize_t keep);
int fm_cap_update_managers(struct fm_managed *m, const char *api_version, const char *now);
int fm_set_time(struct fm_entry *e, const char *now);

#endif
