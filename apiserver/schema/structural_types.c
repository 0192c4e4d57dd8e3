/*
 * structural_types.c - CRD schemas as schema-table types
 * (structural_types.h).  Types are made depth first; every one goes into
 * the set, whose free releases them all (fields' names and attributes
 * included).  Schemas are structural (checked at CRD write), so each node
 * has one type; a node without one (preserve-unknown-fields) is NULL:
 * deduced.
 */
#define _GNU_SOURCE
#include "schema/structural_types.h"

#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/xalloc.h>

#include "schema/schema_int.h"

#define TYPES_MAX_DEPTH 64

struct stype_set {
  struct stype **v;
  size_t n, cap;
};

static struct stype *new_type(struct stype_set *set, enum st_kind kind)
{
  struct stype *t = xcalloc(1, sizeof *t);
  t->kind = kind;
  if (set->n == set->cap) {
    set->cap = set->cap ? set->cap * 2 : 16;
    set->v = xrealloc(set->v, set->cap * sizeof *set->v);
  }
  set->v[set->n++] = t;
  return t;
}

static const char *str(const json_t *node, const char *key) { return json_string_value(json_object_get(node, key)); }

static char *keys_csv(const json_t *keys)
{
  size_t i, len = 0;
  json_t *k;
  json_array_foreach (keys, i, k) len += strlen(json_string_value(k) ?: "") + 1;
  if (!len) return NULL;
  char *out = xcalloc(1, len + 1);
  json_array_foreach (keys, i, k) {
    if (i) strcat(out, ",");
    strcat(out, json_string_value(k) ?: "");
  }
  return out;
}

static struct stype *conv(struct stype_set *set, const json_t *node, const struct stype *meta, int depth);

static void add_field(struct stype *t, const char *name, struct stype *type, const json_t *node)
{
  if (t->nfields == t->capfields) {
    t->capfields = t->capfields ? t->capfields * 2 : 8;
    t->fields = xrealloc(t->fields, t->capfields * sizeof *t->fields);
  }
  struct sfield *f = &t->fields[t->nfields++];
  memset(f, 0, sizeof *f);
  f->name = xstrdup(name);
  f->type = type;
  const char *lt = str(node, "x-kubernetes-list-type"), *mt = str(node, "x-kubernetes-map-type");
  if (lt) f->list_type = xstrdup(lt);
  f->list_keys = keys_csv(json_object_get(node, "x-kubernetes-list-map-keys"));
  if (mt) f->map_type = xstrdup(mt);
}

static struct stype *conv_object(struct stype_set *set, const json_t *node, const struct stype *meta, int depth)
{
  const json_t *props = json_object_get(node, "properties"), *ap = json_object_get(node, "additionalProperties");
  if (!json_object_size(props) && json_is_object(ap)) {
    struct stype *m = new_type(set, ST_MAP);
    m->elem = conv(set, ap, NULL, depth + 1);
    return m;
  }
  if (!json_object_size(props)) return NULL; /* preserve-unknown-fields or empty: deduced */
  struct stype *t = new_type(set, ST_STRUCT);
  if (!strcmp(str(node, "x-kubernetes-map-type") ?: "", "atomic")) t->struct_type = xstrdup("atomic");
  const char *name;
  json_t *child;
  json_object_foreach ((json_t *)props, name, child) {
    struct stype *ct = meta && !strcmp(name, "metadata") ? (struct stype *)meta : conv(set, child, NULL, depth + 1);
    add_field(t, name, ct, child);
  }
  return t;
}

static struct stype *conv(struct stype_set *set, const json_t *node, const struct stype *meta, int depth)
{
  if (!json_is_object(node) || depth > TYPES_MAX_DEPTH) return NULL;
  if (json_is_true(json_object_get(node, "x-kubernetes-int-or-string"))) return new_type(set, ST_INT_OR_STRING);
  const char *type = str(node, "type") ?: "";
  if (!strcmp(type, "object")) return conv_object(set, node, meta, depth);
  if (!strcmp(type, "array")) {
    struct stype *a = new_type(set, ST_ARRAY);
    a->elem = conv(set, json_object_get(node, "items"), NULL, depth + 1);
    return a;
  }
  if (!strcmp(type, "string")) return new_type(set, ST_STRING);
  if (!strcmp(type, "integer")) return new_type(set, ST_INTEGER);
  if (!strcmp(type, "number")) return new_type(set, ST_NUMBER);
  if (!strcmp(type, "boolean")) return new_type(set, ST_BOOLEAN);
  return NULL;
}

const struct stype *structural_types_new(const json_t *schema, const struct stype *object_meta, struct stype_set **out)
{
  struct stype_set *set = xcalloc(1, sizeof *set);
  *out = set;
  return conv(set, schema, object_meta, 0);
}

void stype_set_free(struct stype_set *set)
{
  if (!set) return;
  for (size_t i = 0; i < set->n; i++) {
    struct stype *t = set->v[i];
    for (size_t j = 0; j < t->nfields; j++) {
      free(t->fields[j].name);
      free(t->fields[j].list_type);
      free(t->fields[j].list_keys);
      free(t->fields[j].map_type);
    }
    free(t->fields);
    free(t->struct_type);
    free(t);
  }
  free(set->v);
  free(set);
}
