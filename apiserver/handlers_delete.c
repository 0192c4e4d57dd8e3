/*
 * handlers_delete.c - delete and deletecollection.
 *
 * DeleteOptions come from the body or the query (gracePeriodSeconds,
 * propagationPolicy, dryRun, preconditions).  What happens to the object
 * follows upstream's graceful deletion:
 *   - preconditions (uid, resourceVersion) that do not match: 409 Conflict;
 *   - Foreground / Orphan propagation add the foregroundDeletion / orphan
 *     finalizer (the garbage collector removes it);
 *   - an object with finalizers gets deletionTimestamp and
 *     deletionGracePeriodSeconds and stays (200 with the object);
 *   - a pod bound to a node with a grace period > 0 is marked the same way
 *     and stays until the kubelet deletes it with gracePeriodSeconds=0;
 *   - a namespace whose spec.finalizers is not empty turns Terminating and
 *     stays until the namespace controller has emptied it;
 *   - anything else is removed at once (200 with the last state).
 * With --enable-garbage-collector=false no orphan/foreground finalizers
 * are added (nothing would remove them).  The system namespaces cannot be
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

#include <kube/http.h>
#include <kube/json.h>
#include <kube/status.h>
#include <kube/strconv.h>
#include <kube/timeutil.h>

#include "admission/admission.h"
#include "registry/registry.h"
#include "storage/storage.h"

struct delete_opts {
  int64_t grace;          /* -1 = not given */
  char policy[32];
  char pre_uid[64];
  char pre_rv[32];
  bool dry_run;
};

/* ---- DeleteOptions in the protobuf envelope ----
 * client-go's typed clients (helm's release store among them) send
 * DeleteOptions as protobuf.  DeleteOptions is an options type, not a
 * stored kind, so it is read here field by field: 1 gracePeriodSeconds,
 * 2 preconditions {1 uid, 2 resourceVersion}, 3 orphanDependents,
 * 4 propagationPolicy, 5 dryRun (repeated). */

struct pb {
  const unsigned char *p, *end;
};

static int pb_varint(struct pb *b, uint64_t *v)
{
  *v = 0;
  for (int shift = 0; shift < 64 && b->p < b->end; shift += 7) {
    unsigned char c = *b->p++;
    *v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80))
      return 0;
  }
  return -1;
}

/* Next field: tag, and for length-delimited ones the payload. */
static int pb_field(struct pb *b, uint64_t *num, int *wt, uint64_t *val, struct pb *sub)
{
  uint64_t key;
  if (pb_varint(b, &key) < 0)
    return -1;
  *num = key >> 3;
  *wt = (int)(key & 7);
  switch (*wt) {
  case 0:
    return pb_varint(b, val);
  case 1:
  case 5: {
    size_t n = *wt == 1 ? 8 : 4;
    if ((size_t)(b->end - b->p) < n)
      return -1;
    b->p += n;
    return 0;
  }
  case 2: {
    uint64_t len;
    if (pb_varint(b, &len) < 0 || len > (uint64_t)(b->end - b->p))
      return -1;
    sub->p = b->p;
    sub->end = b->p + len;
    b->p += len;
    return 0;
  }
  default:
    return -1;
  }
}

static json_t *pb_str(const struct pb *s)
{
  return json_stringn((const char *)s->p, (size_t)(s->end - s->p));
}

/* New reference: the DeleteOptions JSON of a protobuf body, or NULL. */
static json_t *delete_opts_from_protobuf(const char *body, size_t len)
{
  if (len < 4 || memcmp(body, "k8s\0", 4) != 0)
    return NULL;
  struct pb env = {(const unsigned char *)body + 4, (const unsigned char *)body + len}, raw = {0}, sub;
  uint64_t num, val;
  int wt;
  while (env.p < env.end) {
    if (pb_field(&env, &num, &wt, &val, &sub) < 0)
      return NULL;
    if (num == 2 && wt == 2)
      raw = sub;
  }
  json_t *o = json_object();
  while (raw.p && raw.p < raw.end) {
    if (pb_field(&raw, &num, &wt, &val, &sub) < 0) {
      json_decref(o);
      return NULL;
    }
    if (num == 1 && wt == 0)
      json_object_set_new(o, "gracePeriodSeconds", json_integer((json_int_t)val));
    else if (num == 3 && wt == 0)
      json_object_set_new(o, "orphanDependents", json_boolean(val != 0));
    else if (num == 4 && wt == 2)
      json_object_set_new(o, "propagationPolicy", pb_str(&sub));
    else if (num == 5 && wt == 2)
      json_array_append_new(kj_arr(o, "dryRun"), pb_str(&sub));
    else if (num == 2 && wt == 2) {
      json_t *pre = kj_obj(o, "preconditions");
      struct pb ps;
      while (sub.p < sub.end) {
        if (pb_field(&sub, &num, &wt, &val, &ps) < 0)
          break;
        if (wt == 2 && (num == 1 || num == 2))
          json_object_set_new(pre, num == 1 ? "uid" : "resourceVersion", pb_str(&ps));
      }
    }
  }
  return o;
}

static json_t *delete_opts_parse(struct api_req *ar, struct delete_opts *o)
{
  memset(o, 0, sizeof(*o));
  o->grace = -1;
  o->dry_run = api_dry_run(ar);
  const char *q = api_req_query(ar);
  char *g = kstr_query_get(q, "gracePeriodSeconds");
  char *p = kstr_query_get(q, "propagationPolicy");
  json_t *st = NULL;
  if (g && *g && kstr_parse_int64(g, &o->grace) != 0)
    st = kstatus_bad_request("invalid value for gracePeriodSeconds: \"%s\"", g);
  if (p && *p)
    snprintf(o->policy, sizeof(o->policy), "%s", p);
  free(g);
  free(p);
  if (st)
    return st;
  size_t len = 0;
  const char *body = ar->http ? http_req_body(ar->http, &len) : NULL;
  if (body && len) {
    char err[256] = "malformed protobuf";
    const char *ct = http_req_header(ar->http, "Content-Type");
    bool pb = ct && strncmp(ct, "application/vnd.kubernetes.protobuf", 35) == 0;
    json_t *b = pb ? delete_opts_from_protobuf(body, len) : kj_loadb(body, len, false, err, sizeof(err));
    if (!json_is_object(b)) {
      json_decref(b);
      return kstatus_bad_request("invalid DeleteOptions: %s", err);
    }
    json_t *gv = json_object_get(b, "gracePeriodSeconds");
    if (json_is_integer(gv))
      o->grace = json_integer_value(gv);
    const char *pp = kj_get_str(b, "propagationPolicy");
    if (pp)
      snprintf(o->policy, sizeof(o->policy), "%s", pp);
    const char *u = kj_get_str(b, "preconditions.uid");
    if (u)
      snprintf(o->pre_uid, sizeof(o->pre_uid), "%s", u);
    const char *rv = kj_get_str(b, "preconditions.resourceVersion");
    if (rv)
      snprintf(o->pre_rv, sizeof(o->pre_rv), "%s", rv);
    json_t *dr = json_object_get(b, "dryRun");
    size_t i;
    json_t *v;
    json_array_foreach(dr, i, v) if (json_is_string(v) && strcmp(json_string_value(v), "All") == 0) o->dry_run = true;
    json_decref(b);
  }
  if (*o->policy && strcmp(o->policy, "Foreground") != 0 && strcmp(o->policy, "Background") != 0 &&
      strcmp(o->policy, "Orphan") != 0) {
    json_t *causes = json_array();
    reg_cause_add(causes, "FieldValueNotSupported", "propagationPolicy",
                  "Unsupported value: \"%s\": supported values: \"Foreground\", \"Background\", \"Orphan\"", o->policy);
    return kstatus_invalid("", "DeleteOptions", "", causes);
  }
  return NULL;
}

/* What to do with one object. */
enum del_action { DEL_REMOVE, DEL_UPDATE, DEL_NOTHING };

static bool has_finalizer(const json_t *obj, const char *f)
{
  json_t *fins = kj_get(obj, "metadata.finalizers");
  size_t i;
  json_t *v;
  json_array_foreach(fins, i, v) if (json_is_string(v) && strcmp(json_string_value(v), f) == 0) return true;
  return false;
}

/* Decides the deletion of obj (modified in place for DEL_UPDATE). */
static enum del_action plan_delete(const struct resource *res, json_t *obj, const struct delete_opts *o,
                                   bool gc)
{
  bool already = kj_get(obj, "metadata.deletionTimestamp") != NULL;
  if (gc && strcmp(o->policy, "Foreground") == 0 && !has_finalizer(obj, "foregroundDeletion"))
    json_array_append_new(kj_arr(obj, "metadata.finalizers"), json_string("foregroundDeletion"));
  if (gc && strcmp(o->policy, "Orphan") == 0 && !has_finalizer(obj, "orphan"))
    json_array_append_new(kj_arr(obj, "metadata.finalizers"), json_string("orphan"));
  bool fins = json_array_size(kj_get(obj, "metadata.finalizers")) > 0;
  if (res == &reg_namespaces && json_array_size(kj_get(obj, "spec.finalizers")) > 0) {
    /* the namespace controller empties it, then finalize lets it go */
    fins = true;
    kj_set_str(obj, "status.phase", "Terminating");
  }
  int64_t grace = 0;
  if (res == &reg_pods) {
    const char *node = kj_get_str(obj, "spec.nodeName");
    const char *phase = kj_get_str(obj, "status.phase");
    bool terminal = phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
    grace = o->grace >= 0 ? o->grace : kj_get_int(obj, "spec.terminationGracePeriodSeconds", 30);
    if (!node || !*node || terminal)
      grace = 0;
    if (already) {
      int64_t cur = kj_get_int(obj, "metadata.deletionGracePeriodSeconds", 0);
      if (grace > cur)
        grace = cur; /* a grace period can only shorten */
    }
  }
  if (!fins && grace == 0)
    return DEL_REMOVE;
  if (already && grace == kj_get_int(obj, "metadata.deletionGracePeriodSeconds", 0) &&
      strcmp(o->policy, "Foreground") != 0 && strcmp(o->policy, "Orphan") != 0)
    return DEL_NOTHING;
  char ts[40];
  ktime_format((time_t)(ktime_now_us() / 1000000 + grace), ts);
  if (!already || grace > 0)
    kj_set_str(obj, "metadata.deletionTimestamp", ts);
  kj_set_int(obj, "metadata.deletionGracePeriodSeconds", grace);
  return DEL_UPDATE;
}

static json_t *check_preconditions(struct api_req *ar, const json_t *obj, struct kv *kv,
                                   const struct delete_opts *o)
{
  const char *uid = kj_get_str(obj, "metadata.uid");
  char msg[256];
  if (*o->pre_uid && (!uid || strcmp(uid, o->pre_uid) != 0)) {
    snprintf(msg, sizeof(msg), "Precondition failed: UID in precondition: %s, UID in object meta: %s",
             o->pre_uid, uid ? uid : "");
    return kstatus_conflict(ar->res->group, ar->res->plural, ar->rt.name, msg);
  }
  if (*o->pre_rv) {
    char cur[32];
    snprintf(cur, sizeof(cur), "%lld", (long long)kv->mod_rev);
    if (strcmp(cur, o->pre_rv) != 0) {
      snprintf(msg, sizeof(msg),
               "Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s",
               o->pre_rv, cur);
      return kstatus_conflict(ar->res->group, ar->res->plural, ar->rt.name, msg);
    }
  }
  return NULL;
}

/* ---- single delete ---- */

struct del_ctx {
  struct api_req *ar;
  const struct resource *res;
  int pending;
  bool collection;
  bool eviction;     /* pods/eviction: answer 201 Success */
  json_t *items;     /* deletecollection: objects answered */
  json_t *error;     /* first error */
};

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
    if (*c->res->group)
      snprintf(gv, sizeof(gv), "%s/%s", c->res->group, c->res->version);
    else
      snprintf(gv, sizeof(gv), "%s", c->res->version);
    snprintf(kind, sizeof(kind), "%sList", c->res->kind);
    char rv[32];
    snprintf(rv, sizeof(rv), "%lld", (long long)storage_rev(ar->srv->storage));
    api_reply_obj(ar, 200, json_pack("{s:s,s:s,s:{s:s},s:O}", "kind", kind, "apiVersion", gv, "metadata",
                                     "resourceVersion", rv, "items", c->items));
  } else {
    api_reply_obj(ar, 200, json_incref(json_array_get(c->items, 0)));
  }
  json_decref(c->items);
  bool pending = ar->pending;
  free(c);
  if (pending)
    api_req_done(ar);
}

static void del_done(void *arg, int err, struct kv *kv, struct kv *prev)
{
  struct del_ctx *c = arg;
  if (err == STORAGE_ECONFLICT && !c->error && !c->collection)
    c->error = kstatus_conflict(c->res->group, c->res->plural, c->ar->rt.name,
                                "the object has been modified; please apply your changes to the latest version and try again");
  else if (err == STORAGE_ENOENT && !c->error && !c->collection)
    c->error = api_not_found(c->ar, c->ar->rt.name);
  else if (err && err != STORAGE_ENOENT && err != STORAGE_ECONFLICT && !c->error)
    c->error = kstatus_internal("storage delete failed: %d", err);
  if (!err) {
    struct kv *v = kv ? kv : prev;
    json_t *o = v ? api_kv_object(c->res, v) : NULL;
    if (o)
      json_array_append_new(c->items, o);
    /* storage hands a delete's last value as kv (prev on some paths); a
     * write that only marked the object for deletion leaves the key in
     * place, and nothing is to be released yet */
    struct kv *gone = v && !storage_get(c->ar->srv->storage, v->key) ? v : NULL;
    if (gone && c->res->after_delete) {
      struct reg_request rq = {.srv = c->ar->srv, .verb = "delete", .user = "system:admin"};
      json_t *po = kj_loadb(gone->bytes, gone->len, false, NULL, 0);
      if (po) {
        rq.namespace_ = kj_get_str(po, "metadata.namespace");
        rq.name = kj_get_str(po, "metadata.name");
        c->res->after_delete(&rq, po);
      }
      json_decref(po);
    }
  }
  if (--c->pending == 0)
    del_ctx_finish(c);
}

/* Starts the deletion of one stored value; the callback counts in c. */
static json_t *delete_kv(struct del_ctx *c, struct kv *kv, const struct delete_opts *o)
{
  struct api_req *ar = c->ar;
  json_t *obj = api_kv_object(c->res, kv);
  if (!obj)
    return kstatus_internal("stored object is not valid JSON");
  json_t *st = check_preconditions(ar, obj, kv, o);
  if (st) {
    json_decref(obj);
    return st;
  }
  enum del_action a = plan_delete(c->res, obj, o, !ar->srv->cfg.gc_disabled);
  if (o->dry_run || a == DEL_NOTHING) {
    json_array_append_new(c->items, obj);
    return NULL;
  }
  int err;
  const struct resource *sres = api_storage_resource(c->res);
  if (a == DEL_REMOVE) {
    err = storage_delete(ar->srv->storage, kv->key, kv->mod_rev, del_done, c);
  } else {
    obj = api_to_internal(c->res, obj);
    char *attrs = api_attrs_for(sres, obj);
    err = storage_update(ar->srv->storage, kv->key, obj, attrs, kv->mod_rev, del_done, c);
    free(attrs);
  }
  json_decref(obj);
  if (err)
    return kstatus_internal("storage delete failed: %d", err);
  c->pending++;
  return NULL;
}

static void delete_one(struct api_req *ar, bool eviction, const json_t *evict_opts);

void api_handle_delete(struct api_req *ar)
{
  delete_one(ar, false, NULL);
}

void api_evict_delete(struct api_req *ar, const json_t *delete_options)
{
  delete_one(ar, true, delete_options);
}

static void delete_one(struct api_req *ar, bool eviction, const json_t *evict_opts)
{
  ar->verb = eviction ? "create" : "delete";
  struct delete_opts o;
  json_t *st = eviction ? NULL : delete_opts_parse(ar, &o);
  if (eviction) {
    memset(&o, 0, sizeof(o));
    o.grace = -1;
    o.dry_run = api_dry_run(ar);
    json_t *g = kj_get(evict_opts, "gracePeriodSeconds");
    if (json_is_integer(g))
      o.grace = json_integer_value(g);
    const char *u = kj_get_str(evict_opts, "preconditions.uid");
    if (u)
      snprintf(o.pre_uid, sizeof(o.pre_uid), "%s", u);
    const char *rv = kj_get_str(evict_opts, "preconditions.resourceVersion");
    if (rv)
      snprintf(o.pre_rv, sizeof(o.pre_rv), "%s", rv);
    size_t i;
    json_t *v;
    json_array_foreach(kj_get(evict_opts, "dryRun"), i, v) if (json_is_string(v) && strcmp(json_string_value(v), "All") == 0) o.dry_run = true;
  }
  if (st) {
    api_reply_status(ar, st);
    return;
  }
  char *key = api_storage_key(api_storage_resource(ar->res), ar->rt.ns, ar->rt.name);
  struct kv *kv = key ? storage_get(ar->srv->storage, key) : NULL;
  free(key);
  if (!kv) {
    api_reply_status(ar, api_not_found(ar, ar->rt.name));
    return;
  }
  struct reg_request arq = {.srv = ar->srv, .verb = "delete", .name = ar->rt.name,
                            .namespace_ = ar->res->namespaced ? ar->rt.ns : NULL, .user = "system:admin"};
  if ((st = admission_delete(&arq, ar->res, ar->rt.name))) {
    api_reply_status(ar, st);
    return;
  }
  struct del_ctx *c = calloc(1, sizeof(*c));
  if (!c) {
    api_reply_status(ar, kstatus_internal("out of memory"));
    return;
  }
  c->ar = ar;
  c->res = ar->res;
  c->eviction = eviction;
  c->items = json_array();
  c->pending = 1; /* held until the storage call is issued */
  st = delete_kv(c, kv, &o);
  if (st && !c->error)
    c->error = st;
  else
    json_decref(st);
  if (c->pending > 1)
    ar->pending = true;
  if (--c->pending == 0)
    del_ctx_finish(c);
}

struct coll_visit {
  struct del_ctx *c;
  const struct api_list_opts *lo;
  struct kv **kvs;
  size_t n, cap;
};

static int coll_visit(void *arg, struct kv *kv)
{
  struct coll_visit *v = arg;
  if (!api_kv_matches(v->c->res, kv, v->lo))
    return 0;
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 64;
    struct kv **p = realloc(v->kvs, cap * sizeof(*p));
    if (!p)
      return 1;
    v->kvs = p;
    v->cap = cap;
  }
  kv_ref(kv);
  v->kvs[v->n++] = kv;
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
  struct del_ctx *c = calloc(1, sizeof(*c));
  if (!c) {
    api_list_opts_free(&lo);
    api_reply_status(ar, kstatus_internal("out of memory"));
    return;
  }
  c->ar = ar;
  c->res = ar->res;
  c->collection = true;
  c->items = json_array();
  c->pending = 1;
  char *prefix = api_storage_key(api_storage_resource(ar->res), ar->rt.ns, NULL);
  struct coll_visit v = {.c = c, .lo = &lo};
  if (prefix)
    storage_list(ar->srv->storage, prefix, 0, NULL, coll_visit, &v);
  free(prefix);
  for (size_t i = 0; i < v.n; i++) {
    json_t *e = delete_kv(c, v.kvs[i], &o);
    if (e && !c->error)
      c->error = e;
    else
      json_decref(e);
    kv_unref(v.kvs[i]);
  }
  free(v.kvs);
  api_list_opts_free(&lo);
  if (c->pending > 1)
    ar->pending = true;
  if (--c->pending == 0)
    del_ctx_finish(c);
}
