/*
 * crd_controller.c - serves the custom resources of
 * CustomResourceDefinitions, inside the API server's event loop.
 *
 * At start every stored CRD is loaded; a storage watch on the CRD prefix
 * then delivers every change once it is durable.  Each change re-runs
 * sync over all CRDs (there are few), level-triggered as upstream's
 * controllers are:
 *   naming       (upstream's NamingConditionController) the requested
 *                names are accepted unless another CRD of the same group
 *                already holds them (`"x" is already in use`); accepted
 *                names are remembered here, so two CRDs created in one
 *                batch cannot both take a name before either status is
 *                written (upstream's mutation cache);
 *   establishing once the names are accepted, Established=True
 *                (InitialNamesAccepted), at once: there is one API server;
 *   serving      an established CRD's served versions are descriptors in
 *                the registry table (customresources.c), rebuilt when
 *                its spec, accepted names or deletion state change;
 *   status       conditions and acceptedNames written back to the CRD
 *                when they differ from what is stored (compare-and-swap;
 *                a lost race is followed by a new event);
 *   finalizer    a CRD being deleted carries
 *                customresourcecleanup.apiextensions.k8s.io (added by its
 *                delete): its custom resources are deleted (those with
 *                finalizers are marked and awaited), then the finalizer is
 *                removed, which deletes the CRD, and its resources stop
 *                being served when the DELETED event arrives.  A timer
 *                re-runs sync while resources remain.
 * The CRD's own create answers only after its storage commit, and the
 * watch event follows in the same loop turn, so a client that sees the
 * 201 can use the new resource with its next request.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <kube/json.h>
#include <kube/log.h>
#include <kube/timeutil.h>

#include "apiserver.h"
#include "registry/customresources.h"
#include "registry/reg_internal.h"
#include "storage/storage.h"
#include <kube/xalloc.h>

#define CRD_CLEANUP_RETRY_MS 500

struct crd_entry {
  char *name;
  json_t *obj; /* the stored CRD (new reference) */
  int64_t mod_rev;
  json_t *accepted; /* accepted names, ahead of the stored status */
  json_t *basis;    /* what the served descriptors were built from */
  struct cr_version **vers;
  size_t nvers;
};

struct crd_state {
  struct apiserver *srv;
  struct storage_watch *sw;
  struct crd_entry **e;
  size_t n, cap;
  const struct resource **served; /* built-in kinds, then every served version */
  size_t nserved;
  bool dirty;
  unsigned gen;
  struct event *retry;
};

static char prefix_of_crds[] = "/registry/apiextensions.k8s.io/customresourcedefinitions/";

/* ---------- the served table ---------- */

static void rebuild_served(struct crd_state *cs)
{
  size_t nb;
  const struct resource *const *builtin = registry_all(&nb);
  size_t total = nb;
  for (size_t i = 0; i < cs->n; i++) total += cs->e[i]->nvers;
  const struct resource **arr = xcalloc(total + 1, sizeof(*arr));
  if (!arr) return;
  size_t k = 0;
  for (size_t i = 0; i < nb; i++) arr[k++] = builtin[i];
  for (size_t i = 0; i < cs->n; i++)
    for (size_t j = 0; j < cs->e[i]->nvers; j++) arr[k++] = &cs->e[i]->vers[j]->res;
  free(cs->served);
  cs->served = arr;
  cs->nserved = k;
  cs->dirty = false;
  cs->gen++;
}

const struct resource *const *crd_served(struct apiserver *srv, size_t *n)
{
  struct crd_state *cs = srv->crds;
  if (cs->dirty || !cs->served) rebuild_served(cs);
  if (!cs->served) return registry_all(n);
  *n = cs->nserved;
  return cs->served;
}

unsigned crd_generation(struct apiserver *srv)
{
  struct crd_state *cs = srv ? srv->crds : NULL;
  if (!cs) return 0;
  if (cs->dirty) rebuild_served(cs);
  return cs->gen;
}

static void drop_versions(struct crd_state *cs, struct crd_entry *e)
{
  for (size_t i = 0; i < e->nvers; i++) registry_res_unref(&e->vers[i]->res);
  free(e->vers);
  e->vers = NULL;
  if (e->nvers) cs->dirty = true;
  e->nvers = 0;
  json_decref(e->basis);
  e->basis = NULL;
}

static void entry_free(struct crd_state *cs, struct crd_entry *e)
{
  drop_versions(cs, e);
  free(e->name);
  json_decref(e->obj);
  json_decref(e->accepted);
  free(e);
}

static int cmp_version_desc(const void *a, const void *b)
{
  const struct cr_version *x = *(const struct cr_version *const *)a, *y = *(const struct cr_version *const *)b;
  return -crd_version_cmp(x->res.version, y->res.version);
}

/* Serves every served version of e's CRD with its accepted names. */
static void build_versions(struct crd_state *cs, struct crd_entry *e, const json_t *accepted)
{
  json_t *basis = json_pack("{s:O,s:O,s:b}", "spec", kj_get(e->obj, "spec"), "accepted", accepted, "terminating",
                            kj_get(e->obj, "metadata.deletionTimestamp") != NULL);
  if (!basis) return;
  if (e->basis && json_equal(e->basis, basis)) {
    json_decref(basis);
    return;
  }
  drop_versions(cs, e);
  size_t nv = json_array_size(kj_get(e->obj, "spec.versions"));
  e->vers = xcalloc(nv ? nv : 1, sizeof(*e->vers));
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(e->obj, "spec.versions"), i, v) {
    if (!e->vers || !kj_get_bool(v, "served", false)) continue;
    struct cr_version *cv = cr_version_new(e->obj, accepted, kj_get_str(v, "name"));
    if (cv) e->vers[e->nvers++] = cv;
    else KLOG_E("serving %s version %s: out of memory", e->name, kj_get_str(v, "name"));
  }
  /* discovery lists versions by upstream's priority: the first is preferred */
  qsort(e->vers, e->nvers, sizeof(*e->vers), cmp_version_desc);
  e->basis = basis;
  cs->dirty = true;
  KLOG_I("serving %s: %zu version(s)", e->name, e->nvers);
}

/* ---------- names and conditions ---------- */

static bool str_in(const json_t *arr, const char *s)
{
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v)
    if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
  return false;
}

/* Whether another CRD of group already accepted `name` as a resource
 * name (plural, singular, short name) or, with kinds, as a kind. */
static bool name_used(struct crd_state *cs, const struct crd_entry *self, const char *group, const char *name,
                      bool kinds)
{
  for (size_t i = 0; i < cs->n; i++) {
    const struct crd_entry *o = cs->e[i];
    const char *og = kj_get_str(o->obj, "spec.group");
    if (o == self || !og || strcmp(og, group) != 0 || !o->accepted) continue;
    static const char *const res_keys[] = {"plural", "singular"};
    static const char *const kind_keys[] = {"kind", "listKind"};
    const char *const *keys = kinds ? kind_keys : res_keys;
    for (size_t k = 0; k < 2; k++) {
      const char *v = kj_get_str(o->accepted, keys[k]);
      if (v && strcmp(v, name) == 0) return true;
    }
    if (!kinds && str_in(json_object_get(o->accepted, "shortNames"), name)) return true;
  }
  return false;
}

struct names_result {
  json_t *accepted;   /* new reference */
  const char *reason; /* NULL: no conflicts */
  char message[512];
};

/* equalToAcceptedOrFresh of upstream's naming controller. */
static bool accept_name(struct crd_state *cs, const struct crd_entry *e, const char *group, const char *want,
                        const char *had, bool kinds, struct names_result *r, const char *reason)
{
  if (!want) want = "";
  if ((had && strcmp(want, had) == 0) || !*want || !name_used(cs, e, group, want, kinds)) return true;
  r->reason = reason;
  snprintf(r->message, sizeof r->message, "\"%s\" is already in use", want);
  return false;
}

static void compute_names(struct crd_state *cs, struct crd_entry *e, struct names_result *r)
{
  const json_t *req = kj_get(e->obj, "spec.names");
  const char *group = reg_str_or(kj_get_str(e->obj, "spec.group"), "");
  json_t *acc = e->accepted ? kj_deep_copy(e->accepted) : json_object();
  json_t *had = e->accepted;
  static const struct {
    const char *key, *reason;
    bool kinds;
  } single[] = {
      {"plural", "PluralConflict", false},
      {"singular", "SingularConflict", false},
      {"kind", "KindConflict", true},
      {"listKind", "ListKindConflict", true},
  };
  for (size_t i = 0; i < 4; i++) {
    const char *want = kj_get_str(req, single[i].key);
    if (accept_name(cs, e, group, want, kj_get_str(had, single[i].key), single[i].kinds, r, single[i].reason))
      json_object_set_new(acc, single[i].key, json_string(want ? want : ""));
  }
  const json_t *shorts = json_object_get(req, "shortNames");
  if (!json_equal((json_t *)shorts, json_object_get(had, "shortNames"))) {
    bool ok = true;
    size_t i;
    json_t *s;
    json_array_foreach (shorts, i, s) {
      const char *sn = json_string_value(s);
      if (sn && !str_in(json_object_get(had, "shortNames"), sn) &&
          !accept_name(cs, e, group, sn, NULL, false, r, "ShortNamesConflict"))
        ok = false;
    }
    if (ok) {
      if (shorts) json_object_set(acc, "shortNames", (json_t *)shorts);
      else json_object_del(acc, "shortNames");
    }
  }
  json_t *cats = json_object_get(req, "categories");
  if (cats) json_object_set(acc, "categories", cats);
  else json_object_del(acc, "categories");
  r->accepted = acc;
}

/* Sets condition `type` in status.conditions; lastTransitionTime moves
 * only when the status changes. */
static void set_condition(json_t *status, const char *type, const char *st, const char *reason, const char *message)
{
  json_t *conds = json_object_get(status, "conditions");
  if (!json_is_array(conds)) {
    conds = json_array();
    json_object_set_new(status, "conditions", conds);
  }
  json_t *c = NULL;
  size_t i;
  json_t *v;
  json_array_foreach (conds, i, v)
    if (strcmp(reg_str_or(kj_get_str(v, "type"), ""), type) == 0) c = v;
  if (!c) {
    c = json_pack("{s:s}", "type", type);
    json_array_append_new(conds, c);
  }
  const char *old = kj_get_str(c, "status");
  if (!old || strcmp(old, st) != 0 || !json_object_get(c, "lastTransitionTime")) {
    char now[40];
    json_object_set_new(c, "lastTransitionTime", json_string(ktime_now_str(now)));
  }
  json_object_set_new(c, "status", json_string(st));
  json_object_set_new(c, "reason", json_string(reason));
  json_object_set_new(c, "message", json_string(message));
}

static bool condition_true(const json_t *obj, const char *type)
{
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(obj, "status.conditions"), i, c) {
    if (strcmp(reg_str_or(kj_get_str(c, "type"), ""), type) == 0)
      return strcmp(reg_str_or(kj_get_str(c, "status"), ""), "True") == 0;
  }
  return false;
}

/* ---------- writing the CRD back ---------- */

static void write_done(void *arg, int err, struct kv *kv, struct kv *prev)
{
  char *name = arg;
  if (err && err != STORAGE_ECONFLICT && err != STORAGE_ENOENT)
    KLOG_E("writing CustomResourceDefinition %s: %d", name, err);
  free(name);
}

static void write_crd(struct crd_state *cs, struct crd_entry *e, json_t *obj)
{
  char key[600];
  snprintf(key, sizeof key, "%s%s", prefix_of_crds, e->name);
  char *attrs = registry_attrs(&reg_customresourcedefinitions, obj);
  char *arg = xstrdup(e->name);
  int rc = storage_update(cs->srv->storage, key, obj, attrs, e->mod_rev, write_done, arg);
  if (rc != 0) free(arg);
  free(attrs);
}

static void delete_crd(struct crd_state *cs, struct crd_entry *e)
{
  char key[600];
  snprintf(key, sizeof key, "%s%s", prefix_of_crds, e->name);
  char *arg = xstrdup(e->name);
  if (storage_delete(cs->srv->storage, key, e->mod_rev, write_done, arg) != 0) free(arg);
}

/* ---------- deletion: the cleanup finalizer ---------- */

static bool has_finalizer(const json_t *obj, const char *f) { return str_in(kj_get(obj, "metadata.finalizers"), f); }

struct cleanup_ctx {
  struct crd_state *cs;
  const struct resource *res; /* a descriptor for attributes; may be NULL */
  size_t remaining;
};

static int cleanup_visit(void *arg, struct kv *kv)
{
  struct cleanup_ctx *c = arg;
  c->remaining++;
  json_t *obj = kj_loadb(kv->bytes, kv->len, false, NULL, 0);
  if (!obj) return 0;
  char *karg = xstrdup(kv->key);
  int rc;
  if (json_array_size(kj_get(obj, "metadata.finalizers")) == 0) {
    rc = storage_delete(c->cs->srv->storage, kv->key, kv->mod_rev, write_done, karg);
  } else if (!kj_get(obj, "metadata.deletionTimestamp")) {
    char now[40];
    kj_set_str(obj, "metadata.deletionTimestamp", ktime_now_str(now));
    kj_set_int(obj, "metadata.deletionGracePeriodSeconds", 0);
    char *attrs = c->res ? registry_attrs(c->res, obj) : NULL;
    rc = storage_update(c->cs->srv->storage, kv->key, obj, attrs, kv->mod_rev, write_done, karg);
    free(attrs);
  } else {
    rc = -1; /* waiting for its finalizers */
  }
  if (rc != 0) free(karg);
  json_decref(obj);
  return 0;
}

static void arm_retry(struct crd_state *cs)
{
  struct timeval tv = {0, CRD_CLEANUP_RETRY_MS * 1000};
  if (cs->retry) evtimer_add(cs->retry, &tv);
}

/* Returns the number of custom resources still stored. */
static size_t delete_instances(struct crd_state *cs, struct crd_entry *e)
{
  const char *group = kj_get_str(e->obj, "spec.group");
  const char *plural = kj_get_str(e->accepted, "plural");
  if (!group || !plural || !*plural) return 0;
  char prefix[600];
  snprintf(prefix, sizeof prefix, "/registry/%s/%s/", group, plural);
  struct cleanup_ctx c = {.cs = cs, .res = e->nvers ? &e->vers[0]->res : NULL};
  storage_list(cs->srv->storage, prefix, 0, NULL, cleanup_visit, &c);
  return c.remaining;
}

/* One step of the finalizer: returns the status to write (new reference)
 * or NULL when the CRD was handed to storage for deletion. */
static void cleanup(struct crd_state *cs, struct crd_entry *e, json_t *obj)
{
  json_t *status = kj_obj(obj, "status");
  size_t left = condition_true(e->obj, "Established") || e->nvers ? delete_instances(cs, e) : 0;
  if (left) {
    set_condition(status, "Terminating", "True", "InstanceDeletionInProgress",
                  "CustomResource deletion is in progress");
    arm_retry(cs);
    return;
  }
  set_condition(status, "Terminating", "True", "InstanceDeletionCompleted", "removed all instances");
  json_t *fins = kj_get(obj, "metadata.finalizers");
  for (size_t i = json_array_size(fins); i-- > 0;)
    if (strcmp(reg_str_or(json_string_value(json_array_get(fins, i)), ""), CRD_CLEANUP_FINALIZER) == 0)
      json_array_remove(fins, i);
  if (json_array_size(fins) == 0) kj_del(obj, "metadata.finalizers");
}

/* ---------- sync ---------- */

static void sync_entry(struct crd_state *cs, struct crd_entry *e)
{
  struct names_result r = {0};
  compute_names(cs, e, &r);
  json_decref(e->accepted);
  e->accepted = json_incref(r.accepted);
  json_t *obj = kj_deep_copy(e->obj);
  json_t *status = kj_obj(obj, "status");
  json_object_set(status, "acceptedNames", r.accepted);
  if (r.reason) set_condition(status, "NamesAccepted", "False", r.reason, r.message);
  else set_condition(status, "NamesAccepted", "True", "NoConflicts", "no conflicts found");
  bool established = condition_true(e->obj, "Established");
  if (!established && !r.reason) {
    set_condition(status, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted");
    established = true;
  } else if (!established) {
    set_condition(status, "Established", "False", "NotAccepted", "not all names are accepted");
  }
  if (established) build_versions(cs, e, r.accepted);
  else drop_versions(cs, e);
  bool deleting = kj_get(obj, "metadata.deletionTimestamp") != NULL;
  if (deleting && has_finalizer(obj, CRD_CLEANUP_FINALIZER)) cleanup(cs, e, obj);
  if (deleting && !kj_get(obj, "metadata.finalizers") && has_finalizer(e->obj, CRD_CLEANUP_FINALIZER))
    delete_crd(cs, e);
  else if (!json_equal(obj, e->obj)) write_crd(cs, e, obj);
  json_decref(obj);
  json_decref(r.accepted);
}

static void sync_all(struct crd_state *cs)
{
  for (size_t i = 0; i < cs->n; i++) sync_entry(cs, cs->e[i]);
}

static struct crd_entry *find_entry(struct crd_state *cs, const char *name, size_t *idx)
{
  for (size_t i = 0; i < cs->n; i++)
    if (strcmp(cs->e[i]->name, name) == 0) {
      if (idx) *idx = i;
      return cs->e[i];
    }
  return NULL;
}

/* Records the stored CRD of kv; the entry, or NULL. */
static struct crd_entry *upsert(struct crd_state *cs, struct kv *kv)
{
  json_t *obj = kj_loadb(kv->bytes, kv->len, false, NULL, 0);
  const char *name = kj_get_str(obj, "metadata.name");
  if (!name) {
    json_decref(obj);
    return NULL;
  }
  struct crd_entry *e = find_entry(cs, name, NULL);
  if (!e) {
    if (cs->n == cs->cap) {
      size_t nc = cs->cap ? cs->cap * 2 : 8;
      struct crd_entry **ne = xrealloc(cs->e, nc * sizeof(*ne));
      if (!ne) {
        json_decref(obj);
        return NULL;
      }
      cs->e = ne;
      cs->cap = nc;
    }
    e = xcalloc(1, sizeof(*e));
    if (!e || !(e->name = xstrdup(name))) {
      free(e);
      json_decref(obj);
      return NULL;
    }
    json_t *acc = kj_get(obj, "status.acceptedNames");
    if (json_is_object(acc) && json_object_size(acc)) e->accepted = kj_deep_copy(acc);
    cs->e[cs->n++] = e;
  }
  json_decref(e->obj);
  e->obj = obj;
  e->mod_rev = kv->mod_rev;
  return e;
}

static void on_crd_event(void *arg, enum storage_event_type type, struct kv *kv, struct kv *prev)
{
  struct crd_state *cs = arg;
  if (type == EV_DELETED) {
    const char *name = kv->key + strlen(prefix_of_crds);
    size_t idx;
    struct crd_entry *e = find_entry(cs, name, &idx);
    if (e) {
      KLOG_I("no longer serving %s", e->name);
      entry_free(cs, e);
      memmove(&cs->e[idx], &cs->e[idx + 1], (cs->n - idx - 1) * sizeof(cs->e[0]));
      cs->n--;
      cs->dirty = true;
    }
  } else {
    upsert(cs, kv);
  }
  sync_all(cs);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg) { sync_all(arg); }

static int load_visit(void *arg, struct kv *kv)
{
  upsert(arg, kv);
  return 0;
}

int crd_controller_start(struct apiserver *srv)
{
  struct crd_state *cs = xcalloc(1, sizeof(*cs));
  if (!cs) return -ENOMEM;
  cs->srv = srv;
  cs->dirty = true;
  srv->crds = cs;
  int rc = storage_list(srv->storage, prefix_of_crds, 0, NULL, load_visit, cs);
  if (rc != 0) return rc;
  int64_t rev = storage_rev(srv->storage);
  if (srv->base) cs->retry = evtimer_new(srv->base, retry_cb, cs);
  sync_all(cs);
  int err = 0;
  cs->sw = storage_watch(srv->storage, prefix_of_crds, rev, on_crd_event, cs, &err);
  return cs->sw ? 0 : err ? err : -ENOMEM;
}

void crd_controller_stop(struct apiserver *srv)
{
  struct crd_state *cs = srv->crds;
  if (!cs) return;
  if (cs->sw) storage_watch_cancel(cs->sw);
  if (cs->retry) event_free(cs->retry);
  for (size_t i = 0; i < cs->n; i++) entry_free(cs, cs->e[i]);
  free(cs->e);
  free(cs->served);
  free(cs);
  srv->crds = NULL;
}
