/*
 * informer_store.c - the informer's local cache and its indexes.
 *
 * Objects are kept as compact JSON bytes (a few KB each instead of the
 * tens of KB a parsed tree costs) and parsed on each read; an informer
 * over a small collection may keep the parsed trees instead.  Indexes map
 * an index value to the set of keys whose object yields that value; they
 * are maintained on every put and remove from the old and new objects, so
 * lookups never scan the store.
 */
#include "informer_internal.h"
#include "kube/json.h"
#include "kube/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int informer_store_init(struct informer_store *s, bool keep_parsed)
{
  memset(s, 0, sizeof *s);
  s->items = json_object();
  s->keep_parsed = keep_parsed;
  return s->items ? 0 : -ENOMEM;
}

void informer_store_fini(struct informer_store *s)
{
  json_decref(s->items);
  for (int i = 0; i < s->nidx; i++) {
    free(s->idx[i].name);
    json_decref(s->idx[i].map);
  }
  memset(s, 0, sizeof *s);
}

static json_t *index_values(const struct informer_index *ix, const json_t *obj)
{
  json_t *out = json_array();
  if (out && obj) ix->fn(ix->arg, obj, out);
  return out;
}

static void index_update(struct informer_index *ix, const char *key, const json_t *obj, bool add)
{
  json_t *vals = index_values(ix, obj);
  size_t i;
  json_t *v;
  json_array_foreach (vals, i, v) {
    const char *val = json_string_value(v);
    if (!val) continue;
    json_t *set = json_object_get(ix->map, val);
    if (add) {
      if (!set) {
        set = json_object();
        json_object_set_new(ix->map, val, set);
      }
      json_object_set_new(set, key, json_true());
    } else if (set) {
      json_object_del(set, key);
      if (json_object_size(set) == 0) json_object_del(ix->map, val);
    }
  }
  json_decref(vals);
}

int informer_store_add_index(struct informer_store *s, const char *name, informer_index_fn fn, void *arg)
{
  if (s->nidx >= INFORMER_MAX_INDEXES) return -ENOSPC;
  for (int i = 0; i < s->nidx; i++)
    if (!strcmp(s->idx[i].name, name)) return -EEXIST;
  struct informer_index *ix = &s->idx[s->nidx];
  ix->name = xstrdup(name);
  ix->fn = fn;
  ix->arg = arg;
  ix->map = json_object();
  if (!ix->name || !ix->map) {
    free(ix->name);
    json_decref(ix->map);
    return -ENOMEM;
  }
  s->nidx++;
  /* Index what is already stored. */
  const char *key;
  json_t *v;
  json_object_foreach (s->items, key, v) {
    json_t *obj = informer_store_get(s, key);
    index_update(ix, key, obj, true);
    json_decref(obj);
  }
  return 0;
}

json_t *informer_store_get(const struct informer_store *s, const char *key)
{
  json_t *v = json_object_get(s->items, key);
  if (!v) return NULL;
  if (s->keep_parsed) return json_incref(v);
  return kj_loadb(json_string_value(v), json_string_length(v), false, NULL, 0);
}

int informer_store_put(struct informer_store *s, const char *key, const json_t *old, const json_t *obj)
{
  json_t *val;
  if (s->keep_parsed) {
    /* Shared with the caller, which hands it to the handlers read-only. */
    val = json_incref((json_t *)obj);
  } else {
    char *bytes = kj_dumps(obj);
    val = bytes ? json_stringn_nocheck(bytes, strlen(bytes)) : NULL;
    free(bytes);
  }
  if (!val) return -ENOMEM;
  for (int i = 0; i < s->nidx; i++) {
    if (old) index_update(&s->idx[i], key, old, false);
    index_update(&s->idx[i], key, obj, true);
  }
  return json_object_set_new(s->items, key, val) ? -ENOMEM : 0;
}

void informer_store_remove(struct informer_store *s, const char *key, const json_t *old)
{
  for (int i = 0; i < s->nidx && old; i++) index_update(&s->idx[i], key, old, false);
  json_object_del(s->items, key);
}

json_t *informer_store_index_keys_raw(const struct informer_store *s, const char *index, const char *value)
{
  for (int i = 0; i < s->nidx; i++) {
    if (strcmp(s->idx[i].name, index)) continue;
    json_t *out = json_array();
    json_t *set = json_object_get(s->idx[i].map, value);
    const char *key;
    json_t *v;
    json_object_foreach (set, key, v) json_array_append_new(out, json_string(key));
    return out;
  }
  return NULL;
}

/* ---- built-in index functions ---- */

void informer_index_pod_node_name(void *arg, const json_t *obj, json_t *out)
{
  const char *n = json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
  if (n && *n) json_array_append_new(out, json_string(n));
}

void informer_index_owner_uid(void *arg, const json_t *obj, json_t *out)
{
  json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
  size_t i;
  json_t *r;
  json_array_foreach (refs, i, r) {
    const char *uid = json_string_value(json_object_get(r, "uid"));
    if (uid && *uid) json_array_append_new(out, json_string(uid));
  }
}

void informer_index_namespace(void *arg, const json_t *obj, json_t *out)
{
  const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
  json_array_append_new(out, json_string(ns ? ns : ""));
}
