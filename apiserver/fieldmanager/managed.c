/*
 * managed.c - metadata.managedFields entries: decoding, encoding, the
 * fields no entry may own, and the cap on Update entries.
 *
 * An entry is identified by {manager, operation, subresource} plus, for
 * Update entries, the apiVersion (an applier keeps one entry across
 * versions; an updater gets one per version), as upstream's manager
 * identifier.  Entries are written back sorted as upstream sorts them:
 * Apply before Update, then by time, manager, apiVersion and subresource.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/status.h>
#include <kube/timeutil.h>
#include <kube/yaml.h>

#include "kube/json.h"
#include "fieldmanager/fm_int.h"
#include "schema/schema.h"
#include <kube/xalloc.h>

#define ANCIENT_CHANGES "ancient-changes"

static char *dup_or_null(const char *s) { return s && *s ? xstrdup(s) : NULL; }

const char *fm_nz(const char *s) { return s ? s : ""; }

void fm_entry_clear(struct fm_entry *e)
{
  free(e->manager);
  free(e->operation);
  free(e->api_version);
  free(e->time);
  free(e->subresource);
  fm_set_free(e->set);
  memset(e, 0, sizeof(*e));
}

void fm_managed_clear(struct fm_managed *m)
{
  for (size_t i = 0; i < m->n; i++) fm_entry_clear(&m->e[i]);
  free(m->e);
  memset(m, 0, sizeof(*m));
}

static bool same_id(const struct fm_entry *e, const char *manager, const char *op, const char *api_version,
                    const char *subresource)
{
  if (strcmp(fm_nz(e->manager), fm_nz(manager)) || strcmp(fm_nz(e->operation), fm_nz(op)) ||
      strcmp(fm_nz(e->subresource), fm_nz(subresource)))
    return false;
  return strcmp(op, FM_OP_APPLY) == 0 || strcmp(fm_nz(e->api_version), fm_nz(api_version)) == 0;
}

ssize_t fm_managed_find(const struct fm_managed *m, const char *manager, const char *op, const char *api_version,
                        const char *subresource)
{
  for (size_t i = 0; i < m->n; i++)
    if (same_id(&m->e[i], manager, op, api_version, subresource)) return (ssize_t)i;
  return -1;
}

/* New entry (empty set); NULL on allocation failure. */
struct fm_entry *fm_managed_add(struct fm_managed *m, const char *manager, const char *op, const char *api_version,
                                const char *subresource)
{
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 8;
    struct fm_entry *e = xrealloc(m->e, cap * sizeof(*e));
    if (!e) return NULL;
    m->e = e;
    m->cap = cap;
  }
  struct fm_entry *e = &m->e[m->n];
  memset(e, 0, sizeof(*e));
  e->manager = xstrdup(fm_nz(manager));
  e->operation = xstrdup(op);
  e->api_version = dup_or_null(api_version);
  e->subresource = dup_or_null(subresource);
  e->set = fm_set_new();
  if (!e->manager || !e->operation || !e->set || (api_version && *api_version && !e->api_version) ||
      (subresource && *subresource && !e->subresource)) {
    fm_entry_clear(e);
    return NULL;
  }
  m->n++;
  return e;
}

void fm_managed_remove_at(struct fm_managed *m, size_t i)
{
  fm_entry_clear(&m->e[i]);
  memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(*m->e));
  m->n--;
}

const char *fm_jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* 0, or -EINVAL for entries this server cannot read (the caller then falls
 * back as upstream does). */
int fm_managed_decode(const json_t *arr, struct fm_managed *m)
{
  memset(m, 0, sizeof(*m));
  if (!arr || json_is_null(arr)) return 0;
  if (!json_is_array(arr)) return -EINVAL;
  if (json_array_size(arr) == 1 && json_is_object(json_array_get(arr, 0)) &&
      json_object_size(json_array_get(arr, 0)) == 0) {
    m->reset = true;
    return 0;
  }
  size_t i;
  json_t *it;
  json_array_foreach (arr, i, it) {
    const char *op = fm_jstr(it, "operation"), *ft = fm_jstr(it, "fieldsType");
    if (!json_is_object(it) || !op || (strcmp(op, FM_OP_APPLY) && strcmp(op, FM_OP_UPDATE)) ||
        (ft && strcmp(ft, "FieldsV1"))) {
      fm_managed_clear(m);
      return -EINVAL;
    }
    struct fm_set *set = NULL;
    json_t *fv = json_object_get(it, "fieldsV1");
    if (fv && fm_set_from_fieldsv1(fv, &set) < 0) {
      fm_managed_clear(m);
      return -EINVAL;
    }
    const char *mgr = fm_jstr(it, "manager"), *av = fm_jstr(it, "apiVersion"), *sub = fm_jstr(it, "subresource");
    ssize_t at = fm_managed_find(m, mgr, op, av, sub);
    struct fm_entry *e = at >= 0 ? &m->e[at] : fm_managed_add(m, mgr, op, av, sub);
    if (!e) {
      fm_set_free(set);
      fm_managed_clear(m);
      return -ENOMEM;
    }
    if (set) fm_set_union_into(e->set, set);
    fm_set_free(set);
    const char *t = fm_jstr(it, "time");
    if (t && !e->time) e->time = xstrdup(t);
  }
  return 0;
}

int fm_entry_order(const void *a, const void *b)
{
  const struct fm_entry *p = a, *q = b;
  int c = strcmp(p->operation, q->operation);
  if (!c) c = strcmp(fm_nz(p->time), fm_nz(q->time));
  if (!c) c = strcmp(p->manager, q->manager);
  if (!c) c = strcmp(fm_nz(p->api_version), fm_nz(q->api_version));
  if (!c) c = strcmp(fm_nz(p->subresource), fm_nz(q->subresource));
  return c;
}

/* Writes the entries into obj.metadata.managedFields (removed when none). */
int fm_managed_encode(struct fm_managed *m, json_t *obj)
{
  json_t *meta = json_object_get(obj, "metadata");
  if (!json_is_object(meta)) {
    if (m->n == 0) return 0;
    meta = json_object();
    if (!meta || json_object_set_new(obj, "metadata", meta) < 0) return -ENOMEM;
  }
  if (m->n == 0) {
    json_object_del(meta, "managedFields");
    return 0;
  }
  qsort(m->e, m->n, sizeof(*m->e), fm_entry_order);
  json_t *arr = json_array();
  if (!arr) return -ENOMEM;
  for (size_t i = 0; i < m->n; i++) {
    const struct fm_entry *e = &m->e[i];
    json_t *o = json_object();
    json_t *fv = fm_set_to_fieldsv1(e->set);
    if (!o || !fv) {
      json_decref(o);
      json_decref(fv);
      json_decref(arr);
      return -ENOMEM;
    }
    json_object_set_new(o, "manager", json_string(e->manager));
    json_object_set_new(o, "operation", json_string(e->operation));
    if (e->api_version) json_object_set_new(o, "apiVersion", json_string(e->api_version));
    if (e->time) json_object_set_new(o, "time", json_string(e->time));
    json_object_set_new(o, "fieldsType", json_string("FieldsV1"));
    json_object_set_new(o, "fieldsV1", fv);
    if (e->subresource) json_object_set_new(o, "subresource", json_string(e->subresource));
    json_array_append_new(arr, o);
  }
  return json_object_set_new(meta, "managedFields", arr) < 0 ? -ENOMEM : 0;
}

/* ---- the request's view ---- */

void fm_ctx_init(struct fm_ctx *c, const struct fm_request *req)
{
  c->req = req;
  c->ty.t = NULL;
  c->ty.f = NULL;
  if (req->root_type) {
    c->ty.t = req->root_type;
  } else if (req->schema && req->api_version && req->kind) {
    const char *slash = strchr(req->api_version, '/');
    if (slash) {
      char *group = xstrndup(req->api_version, (size_t)(slash - req->api_version));
      if (group) c->ty.t = schema_kind(req->schema, group, slash + 1, req->kind);
      free(group);
    } else {
      c->ty.t = schema_kind(req->schema, "", req->api_version, req->kind);
    }
  }
  ktime_format(req->now ? req->now : (time_t)(ktime_now_us() / 1000000), c->now);
}

static bool is_subresource(const struct fm_request *req, const char *name)
{
  return req->subresource && strcmp(req->subresource, name) == 0;
}

/* Fields nobody owns: identity and bookkeeping fields of every object. */
void fm_strip_untracked(struct fm_set *s)
{
  static const char *const meta_fields[] = {"name",        "namespace",  "creationTimestamp", "selfLink",       "uid",
                                            "clusterName", "generation", "managedFields",     "resourceVersion"};
  struct fm_pe top[3] = {{FM_PE_FIELD, "apiVersion", 0}, {FM_PE_FIELD, "kind", 0}, {FM_PE_FIELD, "metadata", 0}};
  for (size_t i = 0; i < 3; i++) {
    struct fm_path p = {.el = {&top[i]}, .n = 1};
    fm_set_remove_member(s, &p);
  }
  for (size_t i = 0; i < sizeof(meta_fields) / sizeof(meta_fields[0]); i++) {
    struct fm_pe pe = {FM_PE_FIELD, (char *)meta_fields[i], 0};
    struct fm_path p = {.el = {&top[2], &pe}, .n = 2};
    fm_set_remove_member(s, &p);
  }
}

/* The status split is the request's view only (upstream's per-strategy
 * reset fields applied to the comparison and the writer's set): entries
 * written through the other side keep what they own. */
void fm_filter_set(const struct fm_ctx *c, struct fm_set *s)
{
  fm_strip_untracked(s);
  if (c->req->no_status_subresource) return;
  if (is_subresource(c->req, "status")) fm_set_filter_top(s, "status", true);
  else if (!c->req->subresource || !*c->req->subresource) fm_set_filter_top(s, "status", false);
}

void fm_filter_entries(const struct fm_ctx *c, struct fm_managed *m, ssize_t own)
{
  for (size_t i = 0; i < m->n; i++) {
    if ((ssize_t)i == own) fm_filter_set(c, m->e[i].set);
    else fm_strip_untracked(m->e[i].set);
  }
}

const json_t *fm_managed_of(const json_t *obj)
{
  return obj ? json_object_get(json_object_get(obj, "metadata"), "managedFields") : NULL;
}

/* Deep copy without metadata.managedFields; NULL stays NULL. */
json_t *fm_without_managed(const json_t *obj)
{
  if (!obj) return NULL;
  json_t *c = kj_deep_copy(obj);
  json_t *meta = c ? json_object_get(c, "metadata") : NULL;
  if (json_is_object(meta)) json_object_del(meta, "managedFields");
  return c;
}

void fm_drop_empty_entries(struct fm_managed *m, ssize_t keep)
{
  for (size_t i = m->n; i-- > 0;)
    if ((ssize_t)i != keep && fm_set_empty(m->e[i].set)) fm_managed_remove_at(m, i);
}

/* Upstream keeps at most FM_MAX_UPDATE_MANAGERS Update entries by folding
 * the oldest into one "ancient-changes" entry. */
int fm_cap_update_managers(struct fm_managed *m, const char *api_version, const char *now)
{
  size_t updates = 0;
  for (size_t i = 0; i < m->n; i++)
    if (strcmp(m->e[i].operation, FM_OP_UPDATE) == 0) updates++;
  if (updates <= FM_MAX_UPDATE_MANAGERS) return 0;
  qsort(m->e, m->n, sizeof(*m->e), fm_entry_order);
  struct fm_set *ancient = fm_set_new();
  if (!ancient) return -ENOMEM;
  size_t fold = updates - FM_MAX_UPDATE_MANAGERS + 1;
  for (size_t i = 0; i < m->n && fold > 0;) {
    if (strcmp(m->e[i].operation, FM_OP_UPDATE) != 0) {
      i++;
      continue;
    }
    fm_set_union_into(ancient, m->e[i].set);
    fm_managed_remove_at(m, i);
    fold--;
  }
  ssize_t at = fm_managed_find(m, ANCIENT_CHANGES, FM_OP_UPDATE, api_version, NULL);
  struct fm_entry *e = at >= 0 ? &m->e[at] : fm_managed_add(m, ANCIENT_CHANGES, FM_OP_UPDATE, api_version, NULL);
  if (!e) {
    fm_set_free(ancient);
    return -ENOMEM;
  }
  fm_set_union_into(e->set, ancient);
  fm_set_free(ancient);
  free(e->time);
  e->time = xstrdup(now);
  return 0;
}

int fm_set_time(struct fm_entry *e, const char *now)
{
  free(e->time);
  e->time = xstrdup(now);
  return e->time ? 0 : -ENOMEM;
}
