/*
 * table.c - meta.k8s.io/v1 Table output, what `kubectl get` asks for.
 *
 * Column definitions and cells come from the kind's registry hooks
 * (`columns`, `cells`); a kind without them gets upstream's default table
 * (Name, Created At).  Should a kind's columns have no name column at
 * all, the name is prepended so every table has NAME as kubectl expects.  Each row carries the object as PartialObjectMetadata (the
 * default of includeObject=Metadata), the whole object, or nothing.
 * The same PartialObjectMetadata(List) answers clients that ask for
 * metadata only (Accept: ...;as=PartialObjectMetadata;g=meta.k8s.io).
 */
#include "api.h"

#include <string.h>

#include <kube/json.h>

#include "registry/customresources.h"
#include "registry/registry.h"

static bool has_hooks(const struct resource *res)
{
  return res && res->columns && res->columns[0].name && (res->cells || res->custom);
}

/* Events put Name last (priority 1) as upstream does: a name column
 * anywhere counts; only tables with none get one in front. */
static bool prepend_name(const struct resource *res)
{
  if (!has_hooks(res)) return true;
  for (const struct reg_column *c = res->columns; c->name; c++)
    if (c->format && strcmp(c->format, "name") == 0) return false;
  return true;
}

static json_t *coldef(const char *name, const char *type, const char *format, int prio, const char *desc)
{
  return json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", name, "type", type ? type : "string", "format",
                   format ? format : "", "description", desc ? desc : "", "priority", prio);
}

json_t *api_table_new(const struct resource *res, bool with_columns)
{
  json_t *t = json_pack("{s:s,s:s,s:{}}", "kind", "Table", "apiVersion", "meta.k8s.io/v1", "metadata");
  json_t *cols = json_array();
  if (with_columns) {
    if (prepend_name(res))
      json_array_append_new(cols, coldef("Name", "string", "name", 0,
                                         "Name must be unique within a namespace. Is required when "
                                         "creating resources, although some resources may allow a "
                                         "client to request the generation of an appropriate name "
                                         "automatically. Name is primarily intended for creation "
                                         "idempotence and configuration definition. Cannot be updated."));
    if (has_hooks(res)) {
      for (const struct reg_column *c = res->columns; c->name; c++)
        json_array_append_new(cols, coldef(c->name, c->type, c->format, c->priority, c->description));
    } else {
      json_array_append_new(cols, coldef("Created At", "date", "", 0,
                                         "CreationTimestamp is a timestamp representing the server "
                                         "time when this object was created."));
    }
  }
  json_object_set_new(t, "columnDefinitions", cols);
  json_object_set_new(t, "rows", json_array());
  return t;
}

void api_table_add_row(json_t *table, const struct resource *res, const json_t *obj, enum api_include inc)
{
  json_t *cells = NULL;
  if (has_hooks(res)) cells = res->custom ? cr_cells(res, obj) : res->cells(obj);
  if (!json_is_array(cells)) {
    json_decref(cells);
    cells = json_array();
    if (!has_hooks(res)) {
      const char *ts = kj_get_str(obj, "metadata.creationTimestamp");
      json_array_append_new(cells, ts ? json_string(ts) : json_null());
    }
  }
  if (prepend_name(res)) {
    const char *name = kj_get_str(obj, "metadata.name");
    json_array_insert_new(cells, 0, json_string(name ? name : ""));
  }
  json_t *row = json_pack("{s:o}", "cells", cells);
  if (inc == INCLUDE_OBJECT) {
    json_object_set(row, "object", (json_t *)obj);
  } else if (inc == INCLUDE_METADATA) {
    json_object_set_new(row, "object", api_partial_object(obj, "meta.k8s.io/v1"));
  }
  json_array_append_new(json_object_get(table, "rows"), row);
}

json_t *api_partial_object(const json_t *obj, const char *meta_gv)
{
  json_t *meta = json_object_get(obj, "metadata");
  return json_pack("{s:s,s:s,s:o}", "kind", "PartialObjectMetadata", "apiVersion", meta_gv, "metadata",
                   meta ? json_incref(meta) : json_object());
}

json_t *api_partial_list(const json_t *list, const char *meta_gv)
{
  json_t *items = json_array();
  size_t i;
  json_t *it;
  json_array_foreach (json_object_get(list, "items"), i, it)
    json_array_append_new(items, api_partial_object(it, meta_gv));
  json_t *meta = json_object_get(list, "metadata");
  return json_pack("{s:s,s:s,s:o,s:o}", "kind", "PartialObjectMetadataList", "apiVersion", meta_gv, "metadata",
                   meta ? json_incref(meta) : json_object(), "items", items);
}
