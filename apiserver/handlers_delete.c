/*
 * handlers_delete.c - delete and deletecollection.
 *
 * DeleteOptions come from the body (JSON, or protobuf decoded through the
 * schema table like every other body) or the query (gracePeriodSeconds,
 * propagationPolicy, orphanDependents, dryRun, preconditions in the
 * body).  What happens to each object follows upstream's generic store:
 *   - preconditions (uid, resourceVersion) that do not match: 409 Conflict;
 *   - the garbage collector's finalizers are computed from the options, the
 *     object's own finalizers and the kind's default as upstream's
 *     deletionFinalizersForGarbageCollection does: Orphan (or
 *     orphanDependents: true) wants `orphan`, Foreground wants
 *     `foregroundDeletion`, and a second delete with another policy swaps
 *     one for the other;
 *   - an object with finalizers gets deletionTimestamp and
 *     deletionGracePeriodSeconds 0 and stays; its generation, when it keeps
 *     one, is bumped the first time;
 *   - a pod bound to a node with a grace period > 0 (a negative one counts
 *     as 1 s) is marked the same way and stays until the kubelet deletes it
 *     with gracePeriodSeconds=0; a later delete may only shorten the grace;
 *   - a namespace whose spec.finalizers is not empty turns Terminating and
 *     stays until the namespace controller has emptied it;
 *   - anything else is removed at once.
 * The answer is upstream's: an object removed at once is returned itself
 * by the kinds whose store sets ReturnDeletedObject, otherwise a Status
 * {status: Success, details: {name, group, kind: PLURAL, uid}}; an object
 * that stays is returned (202 instead of 200 when orphanDependents was
 * false).  Each object is read, planned and written as a compare-and-swap
 * on its revision; a write refused because another one to the key is
 * still queued, or that loses a race, is planned again from a fresh read
 * (unless the client gave a resourceVersion precondition: then 409), and
 * an object gone meanwhile is 404 (left out of a collection).  With
 * --enable-garbage-collector=false no orphan/foreground finalizers are
 * added (nothing would remove them).  The system namespaces cannot be
 * deleted (NamespaceLifecycle, admission/).  The kind's after_delete hook
 * runs once an object is really gone.
 */
#define _GNU_SOURCE
#include "api.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <kube/http.h>
#include <kube/json.h>
#include <kube/status.h>
#include <kube/strconv.h>
#include <kube/timeutil.h>

#include "admission/admission.h"
#include "admission/webhook.h"
#include "protobuf.h"
#include "registry/customresources.h"
#include "registry/registry.h"
#include "schema/schema.h"
#include "storage/storage.h"
#include <kube/xalloc.h>

#define DELETE_MAX_RETRIES 5

struct delete_opts {
  bool grace_given;
  int64_t grace;
  char policy[32]; /* "" = not given */
  int orphan;      /* orphanDependents: -1 not given, 0 false, 1 true */
  char pre_uid[64];
  char pre_rv[32];
  bool dry_run;
};

/* ---- options ---- */

static void opts_from_json(struct delete_opts *o, const json_t *b)
{
  json_t *gv = json_object_get(b, "gracePeriodSeconds");
  if (json_is_integer(gv)) {
    o->grace_given = true;
    o->grace = json_integer_value(gv);
  }
  const char *pp = kj_get_str(b, "propagationPolicy");
  if (pp) snprintf(o->policy, sizeof(o->policy), "%s", pp);
  json_t *od = json_object_get(b, "orphanDependents");
  if (json_is_boolean(od)) o->orphan = json_is_true(od);
  const char *u = kj_get_str(b, "preconditions.uid");
  if (u) snprintf(o->pre_uid, sizeof(o->pre_uid), "%s", u);
  const char *rv = kj_get_str(b, "preconditions.resourceVersion");
  if (rv) snprintf(o->pre_rv, sizeof(o->pre_rv), "%s", rv);
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get(b, "dryRun"), i, v)
    if (json_is_string(v) && !strcmp(json_string_value(v), "All")) o->dry_run = true;
}

/* The body as DeleteOptions: JSON or protobuf, decoded as the Go type. */
static json_t *opts_body(struct api_req *ar, json_t **status)
{
  size_t len = 0;
  const char *body = ar->http ? http_req_body(ar->http, &len) : NULL;
  if (!body || !len) return NULL;
  const struct stype *t =
      ar->srv->schema ? schema_named(ar->srv->schema, "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions") : NULL;
  const char *ct = http_req_header(ar->http, "Content-Type");
  char err[1024] = "";
  json_t *b;
  if (ct && strncmp(ct, "application/vnd.kubernetes.protobuf", 35) == 0) {
    int code = 400;
    b = t ? protobuf_decode_as(t, body, len, &code, err, sizeof err) : NULL;
    if (!b) {
      *status = code == 415 ? kstatus_unsupported_media_type("%s", err) : kstatus_bad_request("%s", err);
      return NULL;
    }
  } else if (!(b = kj_loadb(body, len, false, err, sizeof err)) || !json_is_object(b)) {
    json_decref(b);
    *status = kstatus_bad_request("couldn't get version/kind; json parse error: %s", *err ? err : "not an object");
    return NULL;
  }
  if (t && schema_decode(ar->srv->schema, t, b, NULL, err, sizeof err) < 0) {
    json_decref(b);
    *status = kstatus_bad_request("DeleteOptions in version \"v1\" cannot be handled as a DeleteOptions: %s", err);
    return NULL;
  }
  return b;
}

static json_t *opts_invalid(const char *reason, const char *field, const char *msg)
{
  json_t *causes = json_array();
  reg_cause_add(causes, reason, field, "%s", msg);
  return kstatus_invalid("meta.k8s.io", "DeleteOptions", "", causes);
}

/* upstream's ValidateDeleteOptions */
static json_t *opts_validate(const struct delete_opts *o)
{
  char msg[256];
  if (*o->policy && strcmp(o->policy, "Foreground") != 0 && strcmp(o->policy, "Background") != 0 &&
      strcmp(o->policy, "Orphan") != 0) {
    snprintf(msg, sizeof msg, "Unsupported value: \"%s\": supported values: \"Foreground\", \"Background\", \"Orphan\"",
             o->policy);
    return opts_invalid("FieldValueNotSupported", "propagationPolicy", msg);
  }
  if (*o->policy && o->orphan >= 0) {
    snprintf(msg, sizeof msg, "Invalid value: \"%s\": orphanDependents and deletionPropagation cannot be both set",
             o->policy);
    return opts_invalid("FieldValueInvalid", "propagationPolicy", msg);
  }
  return NULL;
}

static json_t *delete_opts_parse(struct api_req *ar, struct delete_opts *o)
{
  memset(o, 0, sizeof(*o));
  o->orphan = -1;
  o->dry_run = api_dry_run(ar);
  const char *q = api_req_query(ar);
  char *g = kstr_query_get(q, "gracePeriodSeconds");
  char *p = kstr_query_get(q, "propagationPolicy");
  char *od = kstr_query_get(q, "orphanDependents");
  json_t *st = NULL;
  bool b;
  if (g && *g && kstr_parse_int64(g, &o->grace) != 0)
    st = kstatus_bad_request("invalid value for gracePeriodSeconds: \"%s\"", g);
  else if (g && *g) o->grace_given = true;
  else if (od && *od && kstr_parse_bool(od, &b) != 0)
    st = kstatus_bad_request("invalid value for orphanDependents: \"%s\"", od);
  else if (od && *od) o->orphan = b;
  if (p && *p) snprintf(o->policy, sizeof(o->policy), "%s", p);
  free(g);
  free(p);
  free(od);
  if (st) return st;
  json_t *body = opts_body(ar, &st);
  if (st) return st;
  if (body) {
    opts_from_json(o, body);
    json_decref(body);
  }
  return opts_validate(o);
}

/* ---- planning one object ---- */

/* What to do with one object. */
enum del_action { DEL_REMOVE, DEL_UPDATE, DEL_NOTHING };

static bool has_finalizer(const json_t *obj, const char *f)
{
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(obj, "metadata.finalizers"), i, v)
    if (json_is_string(v) && !strcmp(json_string_value(v), f)) return true;
  return false;
}

/* upstream's shouldOrphanDependents and shouldDeleteDependents (every
 * kind here defaults to deleting dependents in the background) */
static void gc_wants(const json_t *obj, const struct delete_opts *o, bool *orphan, bool *foreground)
{
  *orphan = *foreground = false;
  if (o->orphan >= 0) {
    *orphan = o->orphan;
    return;
  }
  if (*o->policy) {
    *orphan = !strcmp(o->policy, "Orphan");
    *foreground = !strcmp(o->policy, "Foreground");
    return;
  }
  *orphan = has_finalizer(obj, "orphan");
  *foreground = !*orphan && has_finalizer(obj, "foregroundDeletion");
}

/* upstream's deletionFinalizersForGarbageCollection: both GC finalizers
 * are taken out and the wanted one put back.  True when they changed. */
static bool gc_finalizers(json_t *obj, const struct delete_opts *o)
{
  bool orphan, foreground;
  gc_wants(obj, o, &orphan, &foreground);
  bool had_orphan = has_finalizer(obj, "orphan"), had_fg = has_finalizer(obj, "foregroundDeletion");
  if (had_orphan == orphan && had_fg == foreground) return false;
  json_t *keep = json_array();
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(obj, "metadata.finalizers"), i, v) {
    const char *f = json_string_value(v);
    if (!f || (strcmp(f, "orphan") && strcmp(f, "foregroundDeletion"))) json_array_append(keep, v);
  }
  if (orphan) json_array_append_new(keep, json_string("orphan"));
  if (foreground) json_array_append_new(keep, json_string("foregroundDeletion"));
  if (json_array_size(keep)) kj_set(obj, "metadata.finalizers", keep);
  else {
    json_decref(keep);
    kj_del(obj, "metadata.finalizers");
  }
  return true;
}

/* The grace period of a pod's deletion (pods are the graceful kind):
 * 0 for a pod no node runs or one that has finished. */
static int64_t pod_grace(const json_t *obj, const struct delete_opts *o, bool already)
{
  const char *node = kj_get_str(obj, "spec.nodeName");
  const char *phase = kj_get_str(obj, "status.phase");
  bool terminal = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
  /* a negative grace period means 1 s (upstream's BeforeDelete) */
  int64_t grace = !o->grace_given ? kj_get_int(obj, "spec.terminationGracePeriodSeconds", 30)
                  : o->grace < 0  ? 1
                                  : o->grace;
  if (!node || !*node || terminal) grace = 0;
  if (already) {
    int64_t cur = kj_get_int(obj, "metadata.deletionGracePeriodSeconds", 0);
    if (grace > cur) grace = cur; /* a grace period can only shorten */
  }
  return grace;
}

/* Decides the deletion of obj (modified in place for DEL_UPDATE). */
static enum del_action plan_delete(const struct resource *res, json_t *obj, const struct delete_opts *o, bool gc)
{
  bool already = kj_get(obj, "metadata.deletionTimestamp") != NULL;
  bool fins_changed = gc && gc_finalizers(obj, o);
  if (res == &reg_customresourcedefinitions && !already) {
    /* upstream's CRD REST Delete: its custom resources go first */
    if (!has_finalizer(obj, CRD_CLEANUP_FINALIZER))
      json_array_append_new(kj_arr(obj, "metadata.finalizers"), json_string(CRD_CLEANUP_FINALIZER));
    json_t *c =
        json_pack("{s:s,s:s,s:s,s:s}", "type", "Terminating", "status", "True", "reason", "InstanceDeletionPending",
                  "message", "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon");
    char now[40];
    json_object_set_new(c, "lastTransitionTime", json_string(ktime_now_str(now)));
    json_array_append_new(kj_arr(obj, "status.conditions"), c);
  }
  bool pending = json_array_size(kj_get(obj, "metadata.finalizers")) > 0;
  bool ns_pending = res == &reg_namespaces && json_array_size(kj_get(obj, "spec.finalizers")) > 0;
  if (ns_pending) {
    /* the namespace controller empties it, then finalize lets it go */
    const char *phase = kj_get_str(obj, "status.phase");
    fins_changed = fins_changed || !phase || strcmp(phase, "Terminating") != 0;
    kj_set_str(obj, "status.phase", "Terminating");
    pending = true;
  }
  int64_t grace = res == &reg_pods ? pod_grace(obj, o, already) : 0;
  if (!pending && grace == 0) return DEL_REMOVE;
  if (already && !fins_changed && grace == kj_get_int(obj, "metadata.deletionGracePeriodSeconds", 0))
    return DEL_NOTHING;
  int64_t gen = kj_get_int(obj, "metadata.generation", 0);
  if (!already && gen > 0) kj_set_int(obj, "metadata.generation", gen + 1);
  char ts[40];
  ktime_format((time_t)(ktime_now_us() / 1000000 + grace), ts);
  if (!already || grace > 0) kj_set_str(obj, "metadata.deletionTimestamp", ts);
  if (!ns_pending) /* the namespace's own delete sets the timestamp only */
    kj_set_int(obj, "metadata.deletionGracePeriodSeconds", grace);
  return DEL_UPDATE;
}

static json_t *check_preconditions(struct api_req *ar, const json_t *obj, const struct kv *kv,
                                   const struct delete_opts *o)
{
  const char *uid = kj_get_str(obj, "metadata.uid");
  char msg[256];
  if (*o->pre_uid && (!uid || strcmp(uid, o->pre_uid) != 0)) {
    snprintf(msg, sizeof(msg), "Precondition failed: UID in precondition: %s, UID in object meta: %s", o->pre_uid,
             uid ? uid : "");
    return kstatus_conflict(ar->res->group, ar->res->plural, kj_get_str(obj, "metadata.name"), msg);
  }
  if (*o->pre_rv) {
    char cur[32];
    snprintf(cur, sizeof(cur), "%lld", (long long)kv->mod_rev);
    if (strcmp(cur, o->pre_rv) != 0) {
      snprintf(msg, sizeof(msg),
               "Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s",
               o->pre_rv, cur);
      return kstatus_conflict(ar->res->group, ar->res->plural, kj_get_str(obj, "metadata.name"), msg);
    }
  }
  return NULL;
}

/* ---- the request: one object or a collection ---- */

struct del_ctx {
  struct api_req *ar;
  const struct resource *res;
  struct delete_opts opts;
  int pending;
  bool collection;
  bool eviction; /* pods/eviction: answer 201 Success */
  bool removed;  /* single delete: the object is gone */
  json_t *items; /* objects answered (the last state of each) */
  json_t *error; /* first error */
};

/* One object's deletion, retried from a fresh read on a lost race. */
struct del_item {
  struct del_ctx *c;
  char *key;
  int retries;
  int wh_stage; /* 0: no webhook ran, 1: mutating ones did, 2: all did */
  json_t *old;  /* the object the webhooks see, while they run */
};

static const char *str_or_empty(const char *s) { return s ? s : ""; }

/* upstream's finalizeDelete answer for an object removed at once */
static json_t *removed_answer(const struct resource *res, json_t *obj)
{
  if (res->return_deleted_object) return obj;
  json_t *st = kstatus_success();
  json_object_del(st, "code"); /* finalizeDelete sets none */
  json_t *d = json_object();
  json_object_set_new(d, "name", json_string(str_or_empty(kj_get_str(obj, "metadata.name"))));
  if (*res->group) json_object_set_new(d, "group", json_string(res->group));
  json_object_set_new(d, "kind", json_string(res->plural));
  json_object_set_new(d, "uid", json_string(str_or_empty(kj_get_str(obj, "metadata.uid"))));
  json_object_set_new(st, "details", d);
  json_decref(obj);
  return st;
}

static void del_ctx_finish(struct del_ctx *c)
{
  struct api_req *ar = c->ar;
  if (c->error) {
    api_reply_status(ar, c->error);
  } else if (c->eviction) {
    json_t *st = kstatus_success();
    json_object_set_new(st, "code", json_integer(201));
    api_reply_obj(ar, 201, st);
  } else if (c->collection) {
    char gv[256], kind[256];
    if (*c->res->group) snprintf(gv, sizeof(gv), "%s/%s", c->res->group, c->res->version);
    else snprintf(gv, sizeof(gv), "%s", c->res->version);
    snprintf(kind, sizeof(kind), "%sList", c->res->kind);
    char rv[32];
    snprintf(rv, sizeof(rv), "%lld", (long long)storage_rev(ar->srv->storage));
    api_reply_obj(ar, 200,
                  json_pack("{s:s,s:s,s:{s:s},s:O}", "kind", kind, "apiVersion", gv, "metadata", "resourceVersion", rv,
                            "items", c->items));
  } else {
    json_t *obj = json_incref(json_array_get(c->items, 0));
    if (c->removed) api_reply_obj(ar, 200, removed_answer(c->res, obj));
    else api_reply_obj(ar, c->opts.orphan == 0 ? 202 : 200, obj);
  }
  json_decref(c->items);
  bool pending = ar->pending;
  free(c);
  if (pending) api_req_done(ar);
}

static void item_end(struct del_item *it)
{
  struct del_ctx *c = it->c;
  free(it->key);
  json_decref(it->old);
  free(it);
  if (--c->pending == 0) del_ctx_finish(c);
}

static void item_fail(struct del_item *it, json_t *st)
{
  if (!it->c->error) it->c->error = st;
  else json_decref(st);
  item_end(it);
}

static void after_delete(struct apiserver *srv, const struct resource *res, const struct kv *gone)
{
  if (!res->after_delete) return;
  json_t *po = kj_loadb(gone->bytes, gone->len, false, NULL, 0);
  if (po) {
    struct reg_request rq = {.srv = srv,
                             .verb = "delete",
                             .user = "system:admin",
                             .namespace_ = kj_get_str(po, "metadata.namespace"),
                             .name = kj_get_str(po, "metadata.name")};
    res->after_delete(&rq, po);
  }
  json_decref(po);
}

static void item_attempt(struct del_item *it);

static void item_retry_cb(evutil_socket_t fd, short what, void *arg) { item_attempt(arg); }

/* A lost race: plan again from a fresh read, after a short pause when the
 * key still has a write queued.  False when out of retries. */
static bool item_retry(struct del_item *it, bool wait)
{
  struct del_ctx *c = it->c;
  if (*c->opts.pre_rv || it->retries++ >= DELETE_MAX_RETRIES) return false;
  if (!wait) {
    item_attempt(it);
    return true;
  }
  struct timeval tv = {0, 2000 << (it->retries < 5 ? it->retries : 5)};
  if (event_base_once(c->ar->srv->base, -1, EV_TIMEOUT, item_retry_cb, it, &tv) != 0) return false;
  c->ar->pending = true;
  return true;
}

static json_t *conflict(struct del_ctx *c, const char *name)
{
  return kstatus_conflict(
      c->res->group, c->res->plural, name,
      "the object has been modified; please apply your changes to the latest version and try again");
}

static const char *key_name(const char *key)
{
  const char *s = strrchr(key, '/');
  return s ? s + 1 : key;
}

static void item_done(void *arg, int err, struct kv *kv, struct kv *prev)
{
  struct del_item *it = arg;
  struct del_ctx *c = it->c;
  if (err == STORAGE_ECONFLICT && item_retry(it, false)) return;
  if (err == STORAGE_ENOENT) {
    if (c->collection) item_end(it);
    else item_fail(it, kstatus_not_found(c->res->group, c->res->plural, key_name(it->key)));
    return;
  }
  if (err == STORAGE_ECONFLICT) {
    item_fail(it, conflict(c, key_name(it->key)));
    return;
  }
  if (err) {
    item_fail(it, kstatus_internal("storage delete failed: %d", err));
    return;
  }
  struct kv *v = kv ? kv : prev;
  json_t *o = v ? api_kv_object(c->res, v) : NULL;
  if (o) json_array_append_new(c->items, o);
  /* storage hands a delete's last value as kv (prev on some paths); a
   * write that only marked the object for deletion leaves the key */
  if (v && !storage_get(c->ar->srv->storage, v->key)) {
    c->removed = true;
    after_delete(c->ar->srv, c->res, v);
  }
  item_end(it);
}

/* ---- admission webhooks: mutating (no object, only oldObject), then
 * validating, once per item before its first write ---- */

static json_t *webhook_delete_options(const struct delete_opts *o)
{
  json_t *j = json_pack("{s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "meta.k8s.io/v1");
  if (o->grace_given) json_object_set_new(j, "gracePeriodSeconds", json_integer(o->grace));
  if (*o->policy) json_object_set_new(j, "propagationPolicy", json_string(o->policy));
  if (o->orphan >= 0) json_object_set_new(j, "orphanDependents", json_boolean(o->orphan));
  if (*o->pre_uid || *o->pre_rv) {
    json_t *pre = json_object();
    if (*o->pre_uid) json_object_set_new(pre, "uid", json_string(o->pre_uid));
    if (*o->pre_rv) json_object_set_new(pre, "resourceVersion", json_string(o->pre_rv));
    json_object_set_new(j, "preconditions", pre);
  }
  if (o->dry_run) json_object_set_new(j, "dryRun", json_pack("[s]", "All"));
  return j;
}

static void item_webhooks_done(void *arg, json_t *obj, json_t *status, const json_t *warnings);

static bool item_webhooks_start(struct del_item *it, bool mutating)
{
  struct del_ctx *c = it->c;
  struct api_req *ar = c->ar;
  /* an eviction is upstream's CREATE of pods/eviction, whose deletion
   * is not admitted again; that CREATE is not sent to webhooks here */
  if (c->eviction || !webhook_configured(ar->srv, mutating)) return false;
  const struct resource *res = c->res;
  const char *name = key_name(it->key);
  bool ns_obj = !*res->group && !strcmp(res->plural, "namespaces");
  json_t *opts = webhook_delete_options(&c->opts);
  struct webhook_attrs a = {.operation = "DELETE",
                            .group = res->group,
                            .version = res->version,
                            .resource = res->plural,
                            .kind = res->kind,
                            .namespaced = res->namespaced,
                            .namespace_ = ns_obj ? name : res->namespaced ? ar->rt.ns : NULL,
                            .name = name,
                            .old_object = it->old,
                            .options = opts,
                            .dry_run = c->opts.dry_run,
                            .user = ar->user};
  bool started = webhook_admit(ar->srv, &a, mutating, NULL, item_webhooks_done, it);
  json_decref(opts);
  return started;
}

static void item_webhooks_done(void *arg, json_t *obj, json_t *status, const json_t *warnings)
{
  struct del_item *it = arg;
  json_decref(obj);
  size_t i;
  json_t *m;
  json_array_foreach (warnings, i, m) api_add_warning(it->c->ar, json_string_value(m));
  if (status) {
    item_fail(it, status);
    return;
  }
  if (++it->wh_stage == 1 && item_webhooks_start(it, false)) return;
  it->wh_stage = 2;
  json_decref(it->old);
  it->old = NULL;
  item_attempt(it); /* from a fresh read */
}

/* Reads, plans and writes one object's deletion; ends the item when it
 * is settled without a write. */
static void item_attempt(struct del_item *it)
{
  struct del_ctx *c = it->c;
  struct api_req *ar = c->ar;
  struct kv *kv = storage_get(ar->srv->storage, it->key);
  if (!kv) {
    item_done(it, STORAGE_ENOENT, NULL, NULL);
    return;
  }
  json_t *obj = api_kv_object(c->res, kv);
  if (!obj) {
    item_fail(it, kstatus_internal("stored object is not valid JSON"));
    return;
  }
  json_t *st = check_preconditions(ar, obj, kv, &c->opts);
  if (st) {
    json_decref(obj);
    item_fail(it, st);
    return;
  }
  if (it->wh_stage < 2) {
    it->old = json_incref(obj);
    for (; it->wh_stage < 2; it->wh_stage++)
      if (item_webhooks_start(it, it->wh_stage == 0)) {
        json_decref(obj);
        ar->pending = true;
        return;
      }
    json_decref(it->old);
    it->old = NULL;
  }
  enum del_action a = plan_delete(c->res, obj, &c->opts, !ar->srv->cfg.gc_disabled);
  if (c->opts.dry_run || a == DEL_NOTHING) {
    c->removed = a == DEL_REMOVE;
    json_array_append_new(c->items, obj);
    item_end(it);
    return;
  }
  int err;
  if (a == DEL_REMOVE) {
    err = storage_delete(ar->srv->storage, kv->key, kv->mod_rev, item_done, it);
  } else {
    obj = api_to_internal(c->res, obj);
    char *attrs = api_attrs_for(api_storage_resource(c->res), obj);
    err = storage_update(ar->srv->storage, kv->key, obj, attrs, kv->mod_rev, item_done, it);
    free(attrs);
  }
  json_decref(obj);
  if (err == STORAGE_ECONFLICT && item_retry(it, true)) return;
  if (err) {
    item_done(it, err, NULL, NULL);
    return;
  }
  ar->pending = true;
}

static void start_item(struct del_ctx *c, const char *key)
{
  struct del_item *it = xcalloc(1, sizeof(*it));
  if (!it || !(it->key = xstrdup(key))) {
    free(it);
    if (!c->error) c->error = kstatus_internal("out of memory");
    return;
  }
  it->c = c;
  c->pending++;
  item_attempt(it);
}

static struct del_ctx *del_ctx_new(struct api_req *ar, const struct delete_opts *o)
{
  struct del_ctx *c = xcalloc(1, sizeof(*c));
  if (!c) return NULL;
  c->ar = ar;
  c->res = ar->res;
  c->opts = *o;
  c->items = json_array();
  c->pending = 1; /* held until every item has started */
  return c;
}

/* Releases the hold del_ctx_new took. */
static void del_ctx_started(struct del_ctx *c)
{
  if (c->pending > 1) c->ar->pending = true;
  if (--c->pending == 0) del_ctx_finish(c);
}

static void delete_one(struct api_req *ar, bool eviction, const struct delete_opts *o)
{
  char *key = api_storage_key(api_storage_resource(ar->res), ar->rt.ns, ar->rt.name);
  if (!key || !storage_get(ar->srv->storage, key)) {
    free(key);
    api_reply_status(ar, api_not_found(ar, ar->rt.name));
    return;
  }
  struct reg_request arq = {.srv = ar->srv,
                            .verb = "delete",
                            .name = ar->rt.name,
                            .namespace_ = ar->res->namespaced ? ar->rt.ns : NULL,
                            .user = "system:admin",
                            .auth = ar->user};
  json_t *st = admission_delete(&arq, ar->res, ar->rt.name);
  struct del_ctx *c = st ? NULL : del_ctx_new(ar, o);
  if (!c) {
    free(key);
    api_reply_status(ar, st ? st : kstatus_internal("out of memory"));
    return;
  }
  c->eviction = eviction;
  start_item(c, key);
  free(key);
  del_ctx_started(c);
}

void api_handle_delete(struct api_req *ar)
{
  ar->verb = "delete";
  struct delete_opts o;
  json_t *st = delete_opts_parse(ar, &o);
  if (st) {
    api_reply_status(ar, st);
    return;
  }
  delete_one(ar, false, &o);
}

void api_evict_delete(struct api_req *ar, const json_t *delete_options)
{
  ar->verb = "create";
  struct delete_opts o = {.orphan = -1, .dry_run = api_dry_run(ar)};
  opts_from_json(&o, delete_options);
  json_t *st = opts_validate(&o);
  if (st) {
    api_reply_status(ar, st);
    return;
  }
  delete_one(ar, true, &o);
}

struct coll_visit {
  const struct resource *res;
  const struct api_list_opts *lo;
  json_t *keys;
};

static int coll_visit(void *arg, struct kv *kv)
{
  struct coll_visit *v = arg;
  if (api_kv_matches(v->res, kv, v->lo)) json_array_append_new(v->keys, json_string(kv->key));
  return 0;
}

void api_handle_delete_collection(struct api_req *ar)
{
  ar->verb = "deletecollection";
  struct delete_opts o;
  json_t *st = delete_opts_parse(ar, &o);
  if (st) {
    api_reply_status(ar, st);
    return;
  }
  struct api_list_opts lo;
  st = api_list_opts_parse(api_req_query(ar), ar->res, &lo);
  if (st) {
    api_reply_status(ar, st);
    return;
  }
  struct del_ctx *c = del_ctx_new(ar, &o);
  if (!c) {
    api_list_opts_free(&lo);
    api_reply_status(ar, kstatus_internal("out of memory"));
    return;
  }
  c->collection = true;
  char *prefix = api_storage_key(api_storage_resource(ar->res), ar->rt.ns, NULL);
  struct coll_visit v = {.res = ar->res, .lo = &lo, .keys = json_array()};
  if (prefix) storage_list(ar->srv->storage, prefix, 0, NULL, coll_visit, &v);
  free(prefix);
  size_t i;
  json_t *k;
  json_array_foreach (v.keys, i, k) start_item(c, json_string_value(k));
  json_decref(v.keys);
  api_list_opts_free(&lo);
  del_ctx_started(c);
}

/* A write that removed the last finalizer of an object being deleted
 * deleted it (handlers_write.c): the same after-delete work as a delete. */
void api_after_finalized_delete(struct api_req *ar, const struct resource *res, const struct kv *gone)
{
  after_delete(ar->srv, res, gone);
}
