/*
 * apply.c - server-side apply, after upstream's structured-merge-diff
 * Updater.Apply and the apiserver's managers around it.
 *
 * Merge the configuration into the live object, make the configuration's
 * field set the applier's entry, remove what the applier owned before and
 * no longer applies unless someone else owns it, then compare live with
 * the result: a changed field owned by another entry is a conflict (409
 * unless force, which takes it away from that entry); a removed field
 * leaves every entry.  Objects written before any tracking get their
 * fields assigned to "before-first-apply" first; "kubectl" upgrading from
 * client-side apply may take the fields its last-applied annotation still
 * describes, and that annotation follows what it applies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/status.h>
#include <kube/timeutil.h>
#include <kube/yaml.h>

#include "fieldmanager/fm_int.h"
#include "schema/schema.h"
#include <kube/xalloc.h>

#define BEFORE_FIRST_APPLY "before-first-apply"
#define KUBECTL_MANAGER "kubectl"
#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"
/* Upstream's limit on the total size of an object's annotations. */
#define TOTAL_ANNOTATION_SIZE_LIMIT_BYTES (256 * 1024)

static char *dup_or_null(const char *s) { return s && *s ? xstrdup(s) : NULL; }

/* ---- Apply ---- */

struct conflict {
  const struct fm_entry *e;
  char *path;
};

struct conflicts {
  struct conflict *v;
  size_t n, cap;
  const struct fm_entry *cur;
};

static int collect_conflict(const struct fm_path *p, void *arg)
{
  struct conflicts *cs = arg;
  if (cs->n == cs->cap) {
    size_t cap = cs->cap ? cs->cap * 2 : 8;
    struct conflict *v = xrealloc(cs->v, cap * sizeof(*v));
    if (!v) return -ENOMEM;
    cs->v = v;
    cs->cap = cap;
  }
  char *s = fm_path_string(p);
  if (!s) return -ENOMEM;
  cs->v[cs->n].e = cs->cur;
  cs->v[cs->n++].path = s;
  return 0;
}

static int entry_id_order(const struct fm_entry *p, const struct fm_entry *q)
{
  int c = strcmp(p->manager, q->manager);
  if (!c) c = strcmp(p->operation, q->operation);
  if (!c) c = strcmp(fm_nz(p->api_version), fm_nz(q->api_version));
  if (!c) c = strcmp(fm_nz(p->subresource), fm_nz(q->subresource));
  return c;
}

static int conflict_order(const void *a, const void *b)
{
  const struct conflict *p = a, *q = b;
  int c = entry_id_order(p->e, q->e);
  return c ? c : (p < q ? -1 : p > q);
}

/* Upstream's printManager: "\"mgr\"", "\"mgr\" with subresource \"status\"",
 * then " using apps/v1" for Update entries. */
static char *print_manager(const struct fm_entry *e)
{
  char *s = NULL;
  int rc;
  json_t *q = json_string(e->manager);
  char *qm = q ? kj_dumps_flags(q, JSON_ENCODE_ANY) : NULL;
  json_decref(q);
  if (!qm) return NULL;
  char *sub = NULL;
  if (e->subresource && asprintf(&sub, " with subresource \"%s\"", e->subresource) < 0) sub = NULL;
  if (strcmp(e->operation, FM_OP_UPDATE) == 0)
    rc = asprintf(&s, "%s%s using %s", qm, fm_nz(sub), fm_nz(e->api_version));
  else rc = asprintf(&s, "%s%s", qm, fm_nz(sub));
  free(qm);
  free(sub);
  return rc < 0 ? NULL : s;
}

static json_t *conflict_status(struct conflicts *cs)
{
  qsort(cs->v, cs->n, sizeof(*cs->v), conflict_order);
  char *msg = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&msg, &len);
  if (!f) return NULL;
  char **who = xcalloc(cs->n, sizeof(*who));
  if (!who) {
    fclose(f);
    free(msg);
    return NULL;
  }
  for (size_t i = 0; i < cs->n; i++) who[i] = print_manager(cs->v[i].e);
  if (cs->n == 1) {
    fprintf(f, "Apply failed with 1 conflict: conflict with %s: %s", fm_nz(who[0]), cs->v[0].path);
  } else {
    fprintf(f, "Apply failed with %zu conflicts: ", cs->n);
    for (size_t i = 0; i < cs->n; i++) {
      if (i == 0 || cs->v[i].e != cs->v[i - 1].e) fprintf(f, "%sconflicts with %s:", i ? "\n" : "", fm_nz(who[i]));
      fprintf(f, "\n- %s", cs->v[i].path);
    }
  }
  fclose(f);
  json_t *st = kstatus_new(409, "Conflict", "%s", msg ? msg : "");
  free(msg);
  for (size_t i = 0; i < cs->n; i++) {
    char *cm = NULL;
    if (asprintf(&cm, "conflict with %s", fm_nz(who[i])) >= 0) {
      kstatus_add_cause(st, "FieldManagerConflict", cm, cs->v[i].path);
      free(cm);
    }
    free(who[i]);
  }
  free(who);
  return st;
}

static void conflicts_clear(struct conflicts *cs)
{
  for (size_t i = 0; i < cs->n; i++) free(cs->v[i].path);
  free(cs->v);
  memset(cs, 0, sizeof(*cs));
}

static json_t *check_config(const struct fm_request *req, const json_t *config)
{
  if (!json_is_object(config))
    return kstatus_bad_request("error decoding YAML: the applied configuration is not an object");
  const char *av = fm_jstr(config, "apiVersion");
  if (!av || strcmp(av, fm_nz(req->api_version)) != 0)
    return kstatus_bad_request("Incorrect version specified in apply patch. "
                               "Specified patch version: %s, expected: %s",
                               fm_nz(av), fm_nz(req->api_version));
  const json_t *mf = fm_managed_of(config);
  if (mf && !json_is_null(mf)) return kstatus_bad_request("metadata.managedFields must be nil");
  const char *kind = fm_jstr(config, "kind");
  if (!kind || !*kind) {
    char *text = kj_dumps_flags(config, JSON_COMPACT);
    json_t *st = kstatus_bad_request("Object 'Kind' is missing in '%s'", fm_nz(text));
    free(text);
    return st;
  }
  if (req->kind && strcmp(kind, req->kind) != 0)
    return kstatus_bad_request("Incorrect kind specified in apply patch. "
                               "Specified patch kind: %s, expected: %s",
                               kind, req->kind);
  return NULL;
}

/* Duplicate or keyless list-map items make the configuration unusable;
 * upstream answers with its typed-conversion error as a plain 500. */
static json_t *check_typed(struct fm_ctx *c, const json_t *config)
{
  json_t *errs = fm_typed_validate(c->ty, config);
  size_t n = json_array_size(errs);
  if (n == 0) {
    json_decref(errs);
    return NULL;
  }
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) {
    json_decref(errs);
    return kstatus_internal("out of memory");
  }
  const char *av = fm_nz(c->req->api_version);
  fprintf(f, "failed to create typed patch object (%s/%s; %s%s, Kind=%s): ",
          fm_nz(kj_get_str(config, "metadata.namespace")), fm_nz(kj_get_str(config, "metadata.name")),
          strchr(av, '/') ? "" : "/", av, fm_nz(c->req->kind));
  if (n == 1) {
    fputs(json_string_value(json_array_get(errs, 0)), f);
  } else {
    fputs("errors:", f);
    for (size_t i = 0; i < n; i++) fprintf(f, "\n  %s", json_string_value(json_array_get(errs, i)));
  }
  fclose(f);
  json_decref(errs);
  json_t *st = kstatus_new(500, NULL, "%s", text ? text : "");
  free(text);
  return st;
}

/* Upstream gives the fields of an object written before managedFields were
 * tracked to one Update entry, so a first apply can conflict with them. */
static int adopt_untracked(struct fm_ctx *c, struct fm_managed *m, const json_t *live_s)
{
  struct fm_compare cmp;
  int rc = fm_typed_compare(c->ty, NULL, live_s, true, &cmp);
  if (rc < 0) return rc;
  struct fm_entry *e = fm_managed_add(m, BEFORE_FIRST_APPLY, FM_OP_UPDATE, c->req->api_version, NULL);
  if (!e || fm_set_union_into(e->set, cmp.added) < 0 || fm_set_union_into(e->set, cmp.modified) < 0 ||
      fm_set_time(e, c->now) < 0)
    rc = -ENOMEM;
  if (e) fm_filter_set(c, e->set);
  fm_compare_clear(&cmp);
  return rc;
}

/* Fields of the last-applied annotation whose live value is still the one
 * last applied (upstream's lastAppliedManager): conflicts on them are not
 * reported to "kubectl".  New set or NULL. */
static struct fm_set *allowed_from_last_applied(struct fm_ctx *c, const json_t *live_s)
{
  const char *text = json_string_value(
      json_object_get(json_object_get(json_object_get(live_s, "metadata"), "annotations"), LAST_APPLIED));
  if (!text || !*text) return NULL;
  json_t *la = json_loads(text, 0, NULL);
  if (!json_is_object(la)) {
    json_decref(la);
    return NULL;
  }
  struct fm_set *set = fm_object_fields(c->ty.t, la);
  struct fm_compare cmp;
  if (set && fm_typed_compare(c->ty, la, live_s, false, &cmp) == 0) {
    fm_set_subtract(set, cmp.modified);
    fm_compare_clear(&cmp);
  } else {
    fm_set_free(set);
    set = NULL;
  }
  json_decref(la);
  return set;
}

/* Keeps client-side apply's annotation in step with what "kubectl" applied
 * server-side (upstream's lastAppliedUpdater), when the object has it. */
static int sync_last_applied(json_t *obj, const json_t *config)
{
  json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
  const char *cur = json_string_value(json_object_get(ann, LAST_APPLIED));
  if (!cur || !*cur) return 0;
  json_t *copy = kj_deep_copy(config);
  if (!copy) return -ENOMEM;
  json_t *cann = json_object_get(json_object_get(copy, "metadata"), "annotations");
  if (json_is_object(cann)) {
    json_object_del(cann, LAST_APPLIED);
    if (json_object_size(cann) == 0) json_object_del(json_object_get(copy, "metadata"), "annotations");
  }
  char *text = kj_dumps_flags(copy, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(copy);
  if (!text) return -ENOMEM;
  size_t total = strlen(text);
  const char *k;
  json_t *v;
  json_object_foreach (ann, k, v) {
    if (strcmp(k, LAST_APPLIED) != 0) total += strlen(k) + strlen(json_string_value(v) ? json_string_value(v) : "");
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES) json_object_del(ann, LAST_APPLIED);
  else json_object_set_new(ann, LAST_APPLIED, json_string(text));
  free(text);
  return 0;
}

int fieldmanager_apply(const struct fm_request *req, const json_t *live, const json_t *config, bool force,
                       json_t **result, json_t **status)
{
  *result = NULL;
  *status = NULL;
  if (!req || !req->manager || !*req->manager) {
    *status = kstatus_bad_request("fieldManager must be set for apply");
    return -EINVAL;
  }
  if ((*status = check_config(req, config))) return -EINVAL;
  struct fm_ctx c;
  fm_ctx_init(&c, req);
  if ((*status = check_typed(&c, config))) return -EINVAL;
  const char *sub = req->subresource && *req->subresource ? req->subresource : NULL;

  struct fm_managed m = {0};
  struct fm_set *last = NULL, *owned = NULL, *changed = NULL, *allowed = NULL;
  struct fm_compare cmp = {0};
  struct conflicts cs = {0};
  json_t *merged = NULL;
  int rc = 0;
  if (live && fm_managed_decode(fm_managed_of(live), &m) < 0) memset(&m, 0, sizeof(m));
  json_t *live_s = fm_without_managed(live);
  if (live && m.n == 0 && (rc = adopt_untracked(&c, &m, live_s)) < 0) goto out;

  merged = fm_typed_merge(c.ty, live_s, config);
  struct fm_set *applied = fm_object_fields(c.ty.t, config);
  if (!merged || !applied) {
    fm_set_free(applied);
    rc = -ENOMEM;
    goto out;
  }
  fm_filter_set(&c, applied);
  ssize_t own = fm_managed_find(&m, req->manager, FM_OP_APPLY, NULL, sub);
  bool new_entry = own < 0;
  if (own < 0) {
    if (!fm_managed_add(&m, req->manager, FM_OP_APPLY, NULL, sub)) {
      fm_set_free(applied);
      rc = -ENOMEM;
      goto out;
    }
    own = (ssize_t)m.n - 1;
  }
  last = m.e[own].set;
  m.e[own].set = applied;
  free(m.e[own].api_version);
  m.e[own].api_version = dup_or_null(req->api_version);

  /* Drop what this applier gave up, unless someone still owns it. */
  if (!fm_set_empty(last)) {
    owned = fm_set_new();
    if (!owned) {
      rc = -ENOMEM;
      goto out;
    }
    for (size_t i = 0; i < m.n; i++) fm_set_union_into(owned, m.e[i].set);
    fm_typed_prune(c.ty, merged, last, owned);
  }

  if ((rc = fm_typed_compare(c.ty, live_s, merged, live == NULL, &cmp)) < 0) goto out;
  changed = fm_set_dup(cmp.added);
  if (!changed || fm_set_union_into(changed, cmp.modified) < 0) {
    rc = -ENOMEM;
    goto out;
  }
  /* Changes on the other side of the status split neither conflict nor
   * move ownership (the strategy resets them anyway). */
  fm_filter_set(&c, changed);
  fm_filter_set(&c, cmp.removed);
  /* A first `kubectl apply --server-side` after client-side applies may
   * take the fields its last-applied annotation still describes. */
  if (!force && live && strcmp(req->manager, KUBECTL_MANAGER) == 0) allowed = allowed_from_last_applied(&c, live_s);
  for (size_t i = 0; i < m.n && rc >= 0; i++) {
    if ((ssize_t)i == own) continue;
    struct fm_set *x = fm_set_intersect(m.e[i].set, changed);
    struct fm_set *y = x ? fm_set_dup(x) : NULL;
    if (!x || !y) {
      rc = -ENOMEM;
    } else {
      fm_set_subtract(y, allowed);
      cs.cur = &m.e[i];
      rc = fm_set_walk(y, collect_conflict, &cs);
      /* Only reached without reported conflicts or with force: ownership
       * of the changed fields moves to the applier. */
      fm_set_subtract(m.e[i].set, x);
    }
    fm_set_free(x);
    fm_set_free(y);
  }
  if (rc < 0) goto out;
  if (cs.n && !force) {
    *status = conflict_status(&cs);
    rc = -EBUSY;
    goto out;
  }
  for (size_t i = 0; i < m.n; i++)
    if ((ssize_t)i != own) fm_set_subtract(m.e[i].set, cmp.removed);
  if (new_entry || !json_equal(live_s, merged) || !m.e[own].time)
    if ((rc = fm_set_time(&m.e[own], c.now)) < 0) goto out;
  fm_filter_entries(&c, &m, own);
  fm_drop_empty_entries(&m, own);
  if ((rc = fm_cap_update_managers(&m, req->api_version, c.now)) < 0 || (rc = fm_managed_encode(&m, merged)) < 0)
    goto out;
  if (strcmp(req->manager, KUBECTL_MANAGER) == 0 && (rc = sync_last_applied(merged, config)) < 0) goto out;
  *result = merged;
  merged = NULL;
out:
  if (rc < 0 && !*status) *status = kstatus_internal("failed to update managed fields: %s", strerror(-rc));
  conflicts_clear(&cs);
  fm_set_free(changed);
  fm_set_free(owned);
  fm_set_free(allowed);
  fm_set_free(last);
  fm_compare_clear(&cmp);
  fm_managed_clear(&m);
  json_decref(live_s);
  json_decref(merged);
  return rc;
}
