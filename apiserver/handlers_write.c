/*
 * handlers_write.c - create, update and patch.
 *
 * create: decode -> kind/apiVersion/namespace checks -> field validation
 *   -> name (generateName), uid, creationTimestamp -> NamespaceLifecycle
 *   -> defaults -> managedFields -> prepare_create -> admit -> admission
 *   chain (admission/) -> mutating webhooks -> validate -> validating
 *   webhooks (handlers_admit.c, asynchronous) -> storage_create; 201 once
 *   durable.
 * update/patch (and the status, scale, binding and finalize
 *   subresources): a read-modify-write loop.  The current value is read
 *   from storage, `mutate` computes the new object (the PUT body, the
 *   patched object, the Scale applied...), the generic rules run (identity
 *   fields kept, status or spec carried from the old object, generation
 *   bumped on spec changes, resourceVersion precondition), then the
 *   strategy hooks, and storage_update is a compare-and-swap on the
 *   revision read.  When the client gave no resourceVersion a lost race is
 *   retried from the new value, as upstream's GuaranteedUpdate does.
 * Removing the last finalizer of an object being deleted deletes it.
 *
 * metadata.managedFields: every write but binding and finalize goes
 * through the field manager (fieldmanager/), named by ?fieldManager= or
 * the User-Agent.  Server-side apply (PATCH application/apply-patch+yaml)
 * is the same read-modify-write with fieldmanager_apply as `mutate`; when
 * the object is absent it runs the create path instead, and a create
 * that loses the race to another creator retries as an update.
 */
#define _GNU_SOURCE
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <kube/http.h>
#include <kube/json.h>
#include <kube/names.h>
#include <kube/patch.h>
#include <kube/status.h>
#include <kube/strconv.h>
#include <kube/timeutil.h>
#include <kube/yaml.h>

#include "admission/admission.h"
#include "fieldmanager/fieldmanager.h"
#include "registry/customresources.h"
#include "registry/registry.h"
#include "schema/schema.h"
#include "storage/storage.h"
#include <kube/xalloc.h>

#define UPDATE_MAX_RETRIES 5

bool api_dry_run(struct api_req *ar)
{
  char *v = kstr_query_get(api_req_query(ar), "dryRun");
  bool dry = v && strcmp(v, "All") == 0;
  free(v);
  return dry;
}

const struct resource *api_storage_resource(const struct resource *res)
{
  if (api_needs_conversion(res) && !res->custom) return &reg_events;
  return res;
}

void api_reply_kv(struct api_req *ar, int code, struct kv *kv)
{
  if (api_needs_conversion(ar->res)) api_reply_obj(ar, code, api_kv_object(ar->res, kv));
  else api_reply_bytes(ar, code, kv->bytes, kv->len);
}

struct api_write *api_write_new(struct api_req *ar)
{
  struct api_write *w = xcalloc(1, sizeof(*w));
  if (!w) return NULL;
  w->ar = ar;
  w->res = ar->res;
  w->dry_run = api_dry_run(ar);
  w->success_code = 200;
  char *fm = kstr_query_get(api_req_query(ar), "fieldManager");
  if (fm && *fm) {
    snprintf(w->manager, sizeof(w->manager), "%s", fm);
  } else {
    const char *ua = ar->http ? http_req_header(ar->http, "User-Agent") : NULL;
    fieldmanager_default_manager(ua ? ua : "", w->manager, sizeof(w->manager));
  }
  free(fm);
  return w;
}

json_t *api_write_options(struct api_write *w, const char *options_kind)
{
  const char *q = api_req_query(w->ar);
  char *fm = kstr_query_get(q, "fieldManager");
  char *force = kstr_query_get(q, "force");
  json_t *st = fieldmanager_validate_options(options_kind, fm, w->apply, force != NULL);
  free(fm);
  free(force);
  return st;
}

void api_write_free(struct api_write *w)
{
  if (!w) return;
  free(w->key);
  json_decref(w->body);
  json_decref(w->dups);
  free(w->patch_type);
  json_decref(w->wh_old);
  if (w->wh_kv) kv_unref(w->wh_kv);
  free(w);
}

/* Ends an asynchronous write. */
static void write_end(struct api_write *w)
{
  struct api_req *ar = w->ar;
  bool pending = ar->pending;
  api_write_free(w);
  if (pending) api_req_done(ar);
}

static void write_fail(struct api_write *w, json_t *status)
{
  api_reply_status(w->ar, status);
  write_end(w);
}

void api_write_fail(struct api_write *w, json_t *status) { write_fail(w, status); }

static void gv_of(const struct resource *res, char *out, size_t len)
{
  if (*res->group) snprintf(out, len, "%s/%s", res->group, res->version);
  else snprintf(out, len, "%s", res->version);
}

/* kind/apiVersion of a request object: filled when absent, must match. */
static json_t *check_type(const struct resource *res, json_t *obj)
{
  char gv[256];
  gv_of(res, gv, sizeof(gv));
  const char *k = kj_get_str(obj, "kind");
  const char *av = kj_get_str(obj, "apiVersion");
  if (k && *k && strcmp(k, res->kind) != 0)
    return kstatus_bad_request("the kind in the data (%s) does not match the expected kind (%s)", k, res->kind);
  if (av && *av && strcmp(av, gv) != 0)
    return kstatus_bad_request("the API version in the data (%s) does not match the expected API version (%s)", av, gv);
  if (!k || !*k || !av || !*av) {
    /* kind and apiVersion lead the stored object, as clients write them */
    json_t *rest = json_copy(obj);
    json_object_del(rest, "kind");
    json_object_del(rest, "apiVersion");
    json_object_clear(obj);
    json_object_set_new(obj, "kind", json_string(res->kind));
    json_object_set_new(obj, "apiVersion", json_string(gv));
    json_object_update(obj, rest);
    json_decref(rest);
  }
  return NULL;
}

/* The schema type of res's stored shape, or NULL. */
static const struct stype *type_of(const struct apiserver *srv, const struct resource *res)
{
  return srv->schema ? schema_kind(srv->schema, res->group, res->version, res->kind) : NULL;
}

/* fieldValidation: Strict fails, Warn adds Warning headers, Ignore skips.
 * `unknown` lists the unknown fields the typed decoding removed; with
 * old, those already unknown in the stored object are not blamed on this
 * request (a patch carries the rest of the object along). */
static json_t *check_fields(struct api_write *w, json_t *unknown, const json_t *old)
{
  char *mode = kstr_query_get(api_req_query(w->ar), "fieldValidation");
  bool strict = mode && strcmp(mode, "Strict") == 0;
  bool ignore = mode && strcmp(mode, "Ignore") == 0;
  free(mode);
  if (ignore) return NULL;
  json_t *found = json_copy(unknown);
  const struct stype *t = type_of(w->ar->srv, w->res);
  if (old && t && json_array_size(found)) {
    json_t *was = json_array();
    schema_unknown_fields(w->ar->srv->schema, t, old, was);
    for (size_t i = json_array_size(found); i-- > 0;) {
      size_t j;
      json_t *v;
      json_array_foreach (was, j, v) {
        if (json_equal(v, json_array_get(found, i))) {
          json_array_remove(found, i);
          break;
        }
      }
    }
    json_decref(was);
  }
  size_t i;
  json_t *d;
  json_array_foreach (w->dups, i, d) {
    char msg[512];
    snprintf(msg, sizeof(msg), "duplicate field \"%s\"", json_string_value(d));
    json_array_append_new(found, json_string(msg));
  }
  json_t *st = NULL;
  if (json_array_size(found) == 0) {
    json_decref(found);
    return NULL;
  }
  if (strict) {
    size_t total = 32;
    json_array_foreach (found, i, d) total += strlen(json_string_value(d)) + 2;
    char *msg = xmalloc(total);
    if (msg) {
      strcpy(msg, "strict decoding error: ");
      json_array_foreach (found, i, d) {
        if (i) strcat(msg, ", ");
        strcat(msg, json_string_value(d));
      }
      st = kstatus_bad_request("%s", msg);
      free(msg);
    }
  } else {
    json_array_foreach (found, i, d) api_add_warning(w->ar, json_string_value(d));
  }
  json_decref(found);
  return st;
}

/* Decodes a request object as its Go type would (schema/decode.c): a
 * wrong type is 400 BadRequest whatever fieldValidation says; unknown and
 * duplicate fields are dropped and then reported per fieldValidation
 * (when the write asks for field checks).  NULL or a Status. */
static json_t *decode_typed(struct api_write *w, json_t *obj, const json_t *old, bool report);

json_t *api_write_decode(struct api_write *w, json_t *obj) { return decode_typed(w, obj, NULL, false); }

static json_t *decode_typed(struct api_write *w, json_t *obj, const json_t *old, bool report)
{
  if (w->res->custom) {
    /* custom resources: upstream's unstructured decoding and pruning */
    json_t *unknown = json_array();
    char err[1024];
    json_t *st = NULL;
    if (cr_decode(w->ar->srv, w->res, obj, unknown, err, sizeof err) < 0) st = kstatus_bad_request("%s", err);
    else if (report) st = check_fields(w, unknown, NULL);
    json_decref(unknown);
    return st;
  }
  const struct stype *t = type_of(w->ar->srv, w->res);
  if (!t) return NULL;
  json_t *unknown = json_array();
  char err[1024];
  json_t *st = NULL;
  if (schema_decode(w->ar->srv->schema, t, obj, unknown, err, sizeof err) < 0) {
    st = kstatus_bad_request("%s in version \"%s\" cannot be handled as a %s: %s", w->res->kind, w->res->version,
                             w->res->kind, err);
  } else if (report) {
    st = check_fields(w, unknown, old);
  }
  json_decref(unknown);
  return st;
}

/* The object as it is stored: converted to the stored shape and encoded
 * as its Go type prints it, after the strategy and admission may have
 * changed it.  Takes obj; returns the new object, or NULL with a Status. */
static json_t *encode_stored(struct api_write *w, json_t *obj, bool convert, json_t **status)
{
  const struct resource *res = w->res;
  if (convert) {
    obj = api_to_internal(res, obj);
    res = api_storage_resource(res);
  }
  const struct stype *t = type_of(w->ar->srv, res);
  char err[1024];
  if (t && schema_decode(w->ar->srv->schema, t, obj, NULL, err, sizeof err) < 0) {
    json_decref(obj);
    *status = kstatus_internal("the %s to store does not encode: %s", res->kind, err);
    return NULL;
  }
  return obj;
}

static void fm_request_init(struct api_write *w, struct fm_request *rq, const json_t *old, char *gv, size_t gvlen)
{
  gv_of(w->res, gv, gvlen);
  memset(rq, 0, sizeof(*rq));
  rq->schema = w->ar->srv->schema;
  rq->api_version = gv;
  rq->kind = w->res->kind;
  rq->manager = w->manager;
  rq->subresource = w->sub;
  (void)old;
  rq->no_status_subresource = !(w->res->subresources & RES_SUB_STATUS);
  if (w->res->custom) rq->root_type = cr_field_types(w->res, w->ar->srv->schema);
}

/* metadata.managedFields for an ordinary write; a failure leaves the
 * object without them, as upstream's UpdateNoErrors does. */
static void track_managed_fields(struct api_write *w, const json_t *old, json_t *obj)
{
  char gv[256];
  struct fm_request rq;
  fm_request_init(w, &rq, old, gv, sizeof(gv));
  if (fieldmanager_update(&rq, old, obj) < 0) kj_del(obj, "metadata.managedFields");
}

/* Warnings the strategy hooks left for the client become Warning headers. */
static void flush_warnings(struct api_write *w, struct reg_request *rq)
{
  size_t i;
  json_t *m;
  json_array_foreach (rq->warnings, i, m) api_add_warning(w->ar, json_string_value(m));
  json_decref(rq->warnings);
  rq->warnings = NULL;
}

static json_t *run_hooks_inner(struct api_write *w, struct reg_request *rq, json_t *obj, const json_t *old);

static json_t *run_hooks(struct api_write *w, struct reg_request *rq, json_t *obj, const json_t *old)
{
  rq->res = w->res;
  rq->warnings = json_array();
  json_t *st = run_hooks_inner(w, rq, obj, old);
  flush_warnings(w, rq);
  return st;
}

static json_t *run_hooks_inner(struct api_write *w, struct reg_request *rq, json_t *obj, const json_t *old)
{
  const struct resource *res = w->res;
  json_t *nst = admission_namespace_lifecycle(rq, res, obj, old);
  if (nst) return nst;
  if (res->defaults) res->defaults(obj);
  if (!w->apply && !w->no_managed_fields) track_managed_fields(w, old, obj);
  if (!old && res->prepare_create) res->prepare_create(rq, obj);
  if (old && res->prepare_update) res->prepare_update(rq, obj, old);
  if (res->admit) {
    json_t *st = res->admit(rq, obj, old);
    if (st) return st;
  }
  return admission_run(rq, res, obj, old);
}

/* The kind's validation (after the mutating webhooks); NULL or a Status. */
json_t *api_write_validate(struct api_write *w, struct reg_request *rq, const json_t *obj, const json_t *old)
{
  const struct resource *res = w->res;
  if (!res->validate) return NULL;
  rq->warnings = json_array();
  json_t *causes = json_array();
  res->validate(rq, obj, old, causes);
  flush_warnings(w, rq);
  if (json_array_size(causes) > 0) {
    const char *name = kj_get_str(obj, "metadata.name");
    return kstatus_invalid(res->group, res->kind, name ? name : "", causes);
  }
  json_decref(causes);
  return NULL;
}

/* ---------------- create ---------------- */

static void update_attempt(struct api_write *w);
static void create_store(struct api_write *w, json_t *obj);
static void update_admitted(struct api_write *w, json_t *obj);
static void update_retry_cb(evutil_socket_t fd, short what, void *arg)
{
  (void)fd;
  (void)what;
  update_attempt(arg);
}

static void create_done(void *arg, int err, struct kv *kv, struct kv *prev)
{
  struct api_write *w = arg;
  struct api_req *ar = w->ar;
  if (err == STORAGE_EEXIST && w->apply && w->retries++ < UPDATE_MAX_RETRIES) {
    /* created meanwhile: apply to what is there now */
    update_attempt(w);
    return;
  }
  if (err == STORAGE_EEXIST) {
    char *name = strrchr(w->key, '/');
    write_fail(w, kstatus_already_exists(w->res->group, w->res->plural, name ? name + 1 : ""));
    return;
  }
  if (err || !kv) {
    write_fail(w, kstatus_internal("storage create failed: %d", err));
    return;
  }
  api_reply_kv(ar, 201, kv);
  write_end(w);
}

void api_handle_create(struct api_req *ar)
{
  ar->verb = "create";
  json_t *st = NULL;
  struct api_write *w = api_write_new(ar);
  if (!w) {
    api_reply_status(ar, kstatus_internal("out of memory"));
    return;
  }
  if ((st = api_write_options(w, "CreateOptions"))) {
    write_fail(w, st);
    return;
  }
  json_t *obj = api_decode_body(ar, &st, &w->dups);
  if (!obj) {
    write_fail(w, st);
    return;
  }
  w->success_code = 201;
  api_create_object(w, obj);
}

void api_create_object(struct api_write *w, json_t *obj)
{
  struct api_req *ar = w->ar;
  const struct resource *res = ar->res;
  json_t *st = NULL;
  if ((st = check_type(res, obj)) || (st = decode_typed(w, obj, NULL, true))) goto fail;
  json_t *meta = kj_obj(obj, "metadata");
  if (!meta) {
    st = kstatus_bad_request("metadata must be an object");
    goto fail;
  }
  const char *ns = kj_get_str(obj, "metadata.namespace");
  if (res->namespaced) {
    if (ns && *ns && strcmp(ns, ar->rt.ns) != 0) {
      st = kstatus_bad_request("the namespace of the provided object does not match the namespace sent on the request");
      goto fail;
    }
    kj_set_str(obj, "metadata.namespace", ar->rt.ns);
  } else {
    kj_del(obj, "metadata.namespace");
  }
  const char *name = kj_get_str(obj, "metadata.name");
  const char *gen = kj_get_str(obj, "metadata.generateName");
  if ((!name || !*name) && gen && *gen) {
    char *n = names_generate(gen);
    kj_set_str(obj, "metadata.name", n);
    free(n);
  } else if (!name || !*name) {
    json_t *causes = json_array();
    reg_cause_add(causes, "FieldValueRequired", "metadata.name", "Required value: name or generateName is required");
    st = kstatus_invalid(res->group, res->kind, "", causes);
    goto fail;
  }
  name = kj_get_str(obj, "metadata.name");
  char uid[37], now[40];
  names_uuid(uid);
  kj_set_str(obj, "metadata.uid", uid);
  kj_set_str(obj, "metadata.creationTimestamp", ktime_now_str(now));
  kj_del(obj, "metadata.resourceVersion");
  kj_del(obj, "metadata.deletionTimestamp");
  kj_del(obj, "metadata.deletionGracePeriodSeconds");
  kj_del(obj, "metadata.selfLink");
  if (res->generation != REG_GEN_NONE) kj_set_int(obj, "metadata.generation", 1);
  struct reg_request rq = {.srv = ar->srv,
                           .verb = "create",
                           .namespace_ = res->namespaced ? ar->rt.ns : NULL,
                           .name = name,
                           .dry_run = w->dry_run,
                           .user = "system:admin",
                           .auth = ar->user};
  if ((st = run_hooks(w, &rq, obj, NULL))) goto fail;
  api_write_admit(w, &rq, obj, create_store);
  return;
fail:
  json_decref(obj);
  write_fail(w, st ? st : kstatus_internal("create failed"));
}

/* The admitted object to storage (dry run: answered as it would be). */
static void create_store(struct api_write *w, json_t *obj)
{
  struct api_req *ar = w->ar;
  const struct resource *res = ar->res;
  json_t *st = NULL;
  if (!(obj = encode_stored(w, obj, !w->dry_run, &st))) goto fail;
  const char *name = kj_get_str(obj, "metadata.name");
  if (w->dry_run) {
    api_reply_obj(ar, 201, obj);
    write_end(w);
    return;
  }
  const struct resource *sres = api_storage_resource(res);
  free(w->key);
  w->key = api_storage_key(sres, ar->rt.ns, name);
  char *attrs = api_attrs_for(sres, obj);
  int err = storage_create(ar->srv->storage, w->key, obj, attrs, create_done, w);
  free(attrs);
  json_decref(obj);
  obj = NULL;
  if (err == STORAGE_EEXIST && w->apply && w->retries++ < UPDATE_MAX_RETRIES) {
    update_attempt(w);
    return;
  }
  if (err == STORAGE_EEXIST) {
    const char *n = strrchr(w->key, '/');
    st = kstatus_already_exists(res->group, res->plural, n ? n + 1 : "");
    goto fail;
  }
  if (err) {
    st = kstatus_internal("storage create failed: %d", err);
    goto fail;
  }
  ar->pending = true;
  return;
fail:
  json_decref(obj);
  write_fail(w, st ? st : kstatus_internal("create failed"));
}

/* ---------------- update ---------------- */

static const char *const IDENTITY_FIELDS[] = {
    "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", NULL};

static void update_done(void *arg, int err, struct kv *kv, struct kv *prev)
{
  struct api_write *w = arg;
  if (err == STORAGE_ECONFLICT && !w->user_rv && w->retries++ < UPDATE_MAX_RETRIES) {
    update_attempt(w);
    return;
  }
  if (err == STORAGE_ECONFLICT) {
    char *name = strrchr(w->key, '/');
    write_fail(w, kstatus_conflict(
                      w->res->group, w->res->plural, name ? name + 1 : "",
                      "the object has been modified; please apply your changes to the latest version and try again"));
    return;
  }
  if (err == STORAGE_ENOENT) {
    char *name = strrchr(w->key, '/');
    write_fail(w, kstatus_not_found(w->res->group, w->res->plural, name ? name + 1 : ""));
    return;
  }
  if (err) {
    write_fail(w, kstatus_internal("storage update failed: %d", err));
    return;
  }
  if (w->respond) {
    struct kv *stored = kv ? kv : prev;
    json_t *o = stored && !w->respond_without_object ? api_kv_object(w->res, stored) : NULL;
    api_reply_obj(w->ar, w->success_code, w->respond(w, o));
    json_decref(o);
  } else if (kv) {
    api_reply_kv(w->ar, w->success_code, kv);
  } else if (prev) {
    /* the update deleted the object (last finalizer removed) */
    api_reply_kv(w->ar, w->success_code, prev);
  }
  if (!kv && prev) api_after_finalized_delete(w->ar, w->res, prev);
  write_end(w);
}

/* Everything but metadata and status, for spec-change detection. */
static bool spec_changed(const json_t *a, const json_t *b)
{
  json_t *x = json_copy((json_t *)a), *y = json_copy((json_t *)b);
  const char *drop[] = {"metadata", "status", "kind", "apiVersion"};
  for (size_t i = 0; i < 4; i++) {
    json_object_del(x, drop[i]);
    json_object_del(y, drop[i]);
  }
  bool ch = !json_equal(x, y);
  json_decref(x);
  json_decref(y);
  return ch;
}

/* The object a write would store, checked against the request: kind,
 * typed decoding, name and namespace from the URL, and the client's
 * preconditions (resourceVersion; a uid in a PUT body, as upstream's
 * UpdatedObjectInfo preconditions; a patch that changes the uid is
 * refused as an immutable field).  NULL or a Status. */
static json_t *update_check_request(struct api_write *w, json_t *obj, const json_t *old, const struct kv *kv)
{
  struct api_req *ar = w->ar;
  const struct resource *res = w->res;
  json_t *st;
  if (!json_is_object(obj)) return kstatus_bad_request("the object must be a JSON object");
  if ((st = check_type(res, obj)) || (st = decode_typed(w, obj, w->patch_type ? old : NULL, w->check_fields)))
    return st;
  if (!kj_obj(obj, "metadata")) return kstatus_bad_request("metadata must be an object");
  const char *name = kj_get_str(obj, "metadata.name");
  if (!name || !*name) kj_set_str(obj, "metadata.name", ar->rt.name);
  else if (strcmp(name, ar->rt.name) != 0)
    return kstatus_bad_request("the name of the object (%s) does not match the name on the URL (%s)", name,
                               ar->rt.name);
  if (res->namespaced) {
    const char *ns = kj_get_str(obj, "metadata.namespace");
    if (ns && *ns && strcmp(ns, ar->rt.ns) != 0)
      return kstatus_bad_request(
          "the namespace of the provided object does not match the namespace sent on the request");
    kj_set_str(obj, "metadata.namespace", ar->rt.ns);
  } else {
    kj_del(obj, "metadata.namespace");
  }
  const char *rv = kj_get_str(obj, "metadata.resourceVersion");
  if (rv && *rv) {
    int64_t r = 0;
    if (kstr_parse_int64(rv, &r) != 0) return kstatus_bad_request("invalid resourceVersion \"%s\"", rv);
    if (r != kv->mod_rev)
      return kstatus_conflict(
          res->group, res->plural, ar->rt.name,
          "the object has been modified; please apply your changes to the latest version and try again");
  }
  const char *uid = kj_get_str(obj, "metadata.uid"), *old_uid = kj_get_str(old, "metadata.uid");
  if (uid && *uid && (!old_uid || strcmp(uid, old_uid) != 0)) {
    if (!w->patch_type) {
      char msg[256];
      snprintf(msg, sizeof msg, "Precondition failed: UID in precondition: %s, UID in object meta: %s", uid,
               old_uid ? old_uid : "");
      return kstatus_conflict(res->group, res->plural, ar->rt.name, msg);
    }
    json_t *causes = json_array();
    reg_cause_add(causes, "FieldValueInvalid", "metadata.uid", "Invalid value: \"%s\": field is immutable", uid);
    return kstatus_invalid(res->group, res->kind, ar->rt.name, causes);
  }
  return NULL;
}

/* What a write keeps from the stored object: the identity fields, the
 * status (main resource of a kind with a status subresource) or
 * everything but status and metadata (the status subresource), and the
 * generation, bumped when the spec changed on kinds that keep one.
 * Returns the object to go on with (obj, or a new one replacing it). */
static json_t *update_carry_over(struct api_write *w, json_t *obj, const json_t *old)
{
  const struct resource *res = w->res;
  json_t *m = json_object_get(obj, "metadata");
  for (const char *const *f = IDENTITY_FIELDS; *f; f++) {
    json_t *ov = json_object_get(json_object_get(old, "metadata"), *f);
    if (ov) json_object_set(m, *f, ov);
    else json_object_del(m, *f);
  }
  if (w->spec_only_from_old) {
    json_t *nstatus = json_incref(json_object_get(obj, "status"));
    json_t *nmeta = json_incref(m);
    json_decref(obj);
    obj = kj_deep_copy(old);
    if (nstatus) json_object_set_new(obj, "status", nstatus);
    else json_object_del(obj, "status");
    json_object_set_new(obj, "metadata", nmeta);
    json_t *og = kj_get(old, "metadata.generation");
    if (og) kj_set(obj, "metadata.generation", json_incref(og));
    else kj_del(obj, "metadata.generation");
    return obj;
  }
  if (!w->sub && (res->subresources & RES_SUB_STATUS)) {
    json_t *os = json_object_get(old, "status");
    if (os) json_object_set(obj, "status", os);
    else json_object_del(obj, "status");
  }
  /* requests cannot set the generation (upstream's BeforeUpdate); the
   * strategy of a kind that keeps one bumps it on a spec change */
  json_t *og = kj_get(old, "metadata.generation");
  int64_t gen = json_is_integer(og) ? json_integer_value(og) : 0;
  bool counts = !w->sub || strcmp(w->sub, "scale") == 0; /* not binding, finalize */
  if (res->generation == REG_GEN_SPEC && counts && spec_changed(obj, old)) gen++;
  if (gen > 0) kj_set_int(obj, "metadata.generation", gen);
  else if (og) kj_set(obj, "metadata.generation", json_incref(og));
  else kj_del(obj, "metadata.generation");
  return obj;
}

/* True when obj, ready to store, is what kv already holds but for its
 * resourceVersion: upstream's storage skips such a write (GuaranteedUpdate
 * compares the encoded bytes), so a no-op update makes no new revision
 * and no watch event.  Without this, a client that writes back what the
 * server normalizes away (a zero its Go type omits) would loop forever on
 * its own events. */
static bool update_is_noop(const struct resource *res, json_t *obj, const struct kv *kv)
{
  json_t *cur = api_kv_object(res, kv);
  if (!cur) return false;
  json_t *meta = json_object_get(obj, "metadata");
  json_t *rv = json_incref(json_object_get(meta, "resourceVersion"));
  json_t *cur_rv = json_object_get(json_object_get(cur, "metadata"), "resourceVersion");
  if (cur_rv) json_object_set(meta, "resourceVersion", cur_rv);
  else json_object_del(meta, "resourceVersion");
  bool same = json_equal(obj, cur);
  if (rv) json_object_set_new(meta, "resourceVersion", rv);
  else json_object_del(meta, "resourceVersion");
  json_decref(cur);
  return same;
}

/* Hands the checked object to storage: an update, or the final delete
 * when the update removed the last finalizer of an object being deleted
 * (upstream's ShouldDeleteDuringUpdate), or nothing when the update
 * changes nothing (answered with the stored object).  Takes obj. */
static void update_store(struct api_write *w, json_t *obj, const struct kv *kv)
{
  struct api_req *ar = w->ar;
  const struct resource *res = w->res;
  bool finish_delete = kj_get(obj, "metadata.deletionTimestamp") &&
                       json_array_size(kj_get(obj, "metadata.finalizers")) == 0 &&
                       kj_get_int(obj, "metadata.deletionGracePeriodSeconds", 0) == 0 &&
                       !(res == &reg_namespaces && json_array_size(kj_get(obj, "spec.finalizers")) > 0);
  if (!finish_delete && !kv->stale && update_is_noop(api_storage_resource(res), obj, kv)) {
    json_decref(obj);
    update_done(w, 0, (struct kv *)kv, NULL);
    return;
  }
  int err;
  if (finish_delete) {
    err = storage_delete(ar->srv->storage, w->key, kv->mod_rev, update_done, w);
  } else {
    const struct resource *sres = api_storage_resource(res);
    char *attrs = api_attrs_for(sres, obj);
    err = storage_update(ar->srv->storage, w->key, obj, attrs, kv->mod_rev, update_done, w);
    free(attrs);
  }
  json_decref(obj);
  if (err) {
    /* Refused at once: the key has a write queued but not yet committed.
     * Unconditional writes retry once the queue has moved on (a few ms);
     * the rest get the same answer as a refusal at commit time. */
    if (err == STORAGE_ECONFLICT && !w->user_rv && w->retries++ < UPDATE_MAX_RETRIES) {
      struct timeval tv = {0, 2000 << (w->retries < 5 ? w->retries : 5)};
      if (event_base_once(ar->srv->base, -1, EV_TIMEOUT, update_retry_cb, w, &tv) == 0) {
        ar->pending = true;
        return;
      }
    }
    update_done(w, err, NULL, NULL);
    return;
  }
  ar->pending = true;
}

/* One read-modify-write round (see the head of the file). */
static void update_attempt(struct api_write *w)
{
  struct api_req *ar = w->ar;
  const struct resource *res = w->res;
  json_t *st = NULL, *obj = NULL, *old = NULL;
  struct kv *kv = storage_get(ar->srv->storage, w->key);
  if (!kv && w->apply && !w->sub) {
    obj = w->mutate(w, NULL, &st);
    if (!obj) {
      write_fail(w, st);
      return;
    }
    w->success_code = 201;
    api_create_object(w, obj);
    return;
  }
  if (!kv) {
    write_fail(w, api_not_found(ar, ar->rt.name));
    return;
  }
  old = api_kv_object(res, kv);
  if (!old) {
    write_fail(w, kstatus_internal("stored object is not valid JSON"));
    return;
  }
  obj = w->mutate(w, old, &st);
  if (!obj || (st = update_check_request(w, obj, old, kv))) goto fail;
  obj = update_carry_over(w, obj, old);
  struct reg_request rq = {.srv = ar->srv,
                           .verb = ar->verb,
                           .subresource = w->sub,
                           .namespace_ = res->namespaced ? ar->rt.ns : NULL,
                           .name = ar->rt.name,
                           .dry_run = w->dry_run,
                           .user = "system:admin",
                           .auth = ar->user};
  if ((st = run_hooks(w, &rq, obj, old))) goto fail;
  json_decref(w->wh_old);
  w->wh_old = old;
  if (w->wh_kv) kv_unref(w->wh_kv);
  kv_ref(kv);
  w->wh_kv = kv;
  api_write_admit(w, &rq, obj, update_admitted);
  return;
fail:
  json_decref(obj);
  json_decref(old);
  write_fail(w, st ? st : kstatus_internal("update failed"));
}

/* The admitted object to storage against the value read (dry run:
 * answered as it would be). */
static void update_admitted(struct api_write *w, json_t *obj)
{
  struct api_req *ar = w->ar;
  json_t *st = NULL;
  kj_set_str(obj, "metadata.name", ar->rt.name);
  json_decref(w->wh_old);
  w->wh_old = NULL;
  struct kv *kv = w->wh_kv;
  w->wh_kv = NULL;
  if (!(obj = encode_stored(w, obj, !w->dry_run, &st))) {
    kv_unref(kv);
    write_fail(w, st ? st : kstatus_internal("update failed"));
    return;
  }
  if (w->dry_run) {
    kv_unref(kv);
    api_reply_obj(ar, w->success_code, w->respond ? w->respond(w, obj) : json_incref(obj));
    json_decref(obj);
    write_end(w);
    return;
  }
  update_store(w, obj, kv);
  kv_unref(kv);
}

void api_write_update(struct api_write *w)
{
  if (!w->key) w->key = api_storage_key(api_storage_resource(w->res), w->ar->rt.ns, w->ar->rt.name);
  update_attempt(w);
}

static json_t *mutate_put(struct api_write *w, const json_t *old, json_t **status) { return kj_deep_copy(w->body); }

void api_handle_update(struct api_req *ar)
{
  ar->verb = "update";
  json_t *st = NULL;
  struct api_write *w = api_write_new(ar);
  if (!w) {
    api_reply_status(ar, kstatus_internal("out of memory"));
    return;
  }
  w->body = api_decode_body(ar, &st, &w->dups);
  if (!w->body) {
    api_reply_status(ar, st);
    api_write_free(w);
    return;
  }
  const char *rv = kj_get_str(w->body, "metadata.resourceVersion");
  w->user_rv = rv && *rv;
  w->mutate = mutate_put;
  w->check_fields = true;
  if ((st = api_write_options(w, "UpdateOptions"))) {
    write_fail(w, st);
    return;
  }
  api_write_update(w);
}

/* ---------------- patch ---------------- */

json_t *api_read_patch(struct api_write *w)
{
  struct api_req *ar = w->ar;
  const char *ct = ar->http ? http_req_header(ar->http, "Content-Type") : NULL;
  char type[128] = "";
  if (ct) {
    size_t n = strcspn(ct, ";");
    if (n >= sizeof(type)) n = sizeof(type) - 1;
    memcpy(type, ct, n);
    type[n] = '\0';
    while (n > 0 && type[n - 1] == ' ') type[--n] = '\0';
  }
  if (strcmp(type, "application/merge-patch+json") != 0 && strcmp(type, "application/json-patch+json") != 0 &&
      strcmp(type, "application/strategic-merge-patch+json") != 0)
    return kstatus_unsupported_media_type(
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, "
        "application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json");
  size_t len = 0;
  const char *body = ar->http ? http_req_body(ar->http, &len) : NULL;
  char err[512] = "";
  json_t *p = body && len ? kj_loadb(body, len, false, err, sizeof(err)) : NULL;
  if (!p) return kstatus_bad_request("error decoding patch: %s", len ? err : "the body of the request was empty");
  bool jp = strcmp(type, "application/json-patch+json") == 0;
  if (jp ? !json_is_array(p) : !json_is_object(p)) {
    json_decref(p);
    return kstatus_bad_request(jp ? "json patch must be an array of operations" : "patch must be a JSON object");
  }
  w->body = p;
  w->patch_type = xstrdup(type);
  return NULL;
}

json_t *api_apply_patch(struct api_write *w, const json_t *old, json_t **status)
{
  char err[512] = "";
  json_t *out = NULL;
  if (strcmp(w->patch_type, "application/merge-patch+json") == 0) {
    out = patch_merge(old, w->body);
  } else if (strcmp(w->patch_type, "application/json-patch+json") == 0) {
    out = patch_json(old, w->body, err, sizeof(err));
    if (!out) {
      *status = kstatus_new(422, "Invalid", "the server rejected our request due to an error in our request: %s", err);
      return NULL;
    }
  } else if (w->res->custom) {
    /* upstream: strategic merge patch needs Go types */
    *status = kstatus_unsupported_media_type("the body of the request was in an unknown format - accepted media "
                                             "types include: application/json-patch+json, "
                                             "application/merge-patch+json, application/apply-patch+yaml");
    return NULL;
  } else {
    const struct schema *sc = w->ar->srv->schema;
    const struct stype *t = sc ? schema_kind(sc, w->res->group, w->res->version, w->res->kind) : NULL;
    out = patch_strategic(old, w->body, sc ? schema_smp_lookup : NULL, (void *)sc, t, err, sizeof(err));
    if (!out) {
      *status = kstatus_bad_request("%s", *err ? err : "invalid strategic merge patch");
      return NULL;
    }
  }
  if (!out) *status = kstatus_internal("patch failed");
  return out;
}

/* Server-side apply: the stored object (NULL when absent) merged with the
 * applied configuration, its managedFields updated. */
static json_t *mutate_apply(struct api_write *w, const json_t *old, json_t **status)
{
  char gv[256];
  struct fm_request rq;
  fm_request_init(w, &rq, old, gv, sizeof(gv));
  json_t *obj = NULL;
  if (fieldmanager_apply(&rq, old, w->body, w->force, &obj, status) < 0) {
    if (!*status) *status = kstatus_internal("apply failed");
    return NULL;
  }
  json_t *st = fieldmanager_check_name(obj, w->ar->rt.name, w->res->namespaced ? w->ar->rt.ns : NULL);
  if (st) {
    json_decref(obj);
    *status = st;
    return NULL;
  }
  return obj;
}

bool api_is_apply_patch(struct api_req *ar)
{
  const char *ct = ar->http ? http_req_header(ar->http, "Content-Type") : NULL;
  if (!ct) return false;
  while (*ct == ' ') ct++;
  const char *t = "application/apply-patch+yaml";
  size_t n = strlen(t);
  return strncmp(ct, t, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

json_t *api_read_apply(struct api_write *w)
{
  struct api_req *ar = w->ar;
  w->apply = true;
  json_t *st = api_write_options(w, "PatchOptions");
  if (st) return st;
  w->force = api_query_bool(api_req_query(ar), "force", false);
  size_t len = 0;
  const char *body = ar->http ? http_req_body(ar->http, &len) : NULL;
  if (!body || !len) return kstatus_bad_request("the body of the request was empty");
  w->body = fieldmanager_decode_apply(body, len, &st);
  if (!w->body) return st ? st : kstatus_bad_request("error decoding YAML");
  w->patch_type = xstrdup("application/apply-patch+yaml");
  w->mutate = mutate_apply;
  return NULL;
}

void api_handle_patch(struct api_req *ar)
{
  ar->verb = "patch";
  struct api_write *w = api_write_new(ar);
  if (!w) {
    api_reply_status(ar, kstatus_internal("out of memory"));
    return;
  }
  json_t *st;
  if (api_is_apply_patch(ar)) {
    if ((st = api_read_apply(w))) {
      write_fail(w, st);
      return;
    }
    w->check_fields = true;
    api_write_update(w);
    return;
  }
  if ((st = api_write_options(w, "PatchOptions")) || (st = api_read_patch(w))) {
    api_reply_status(ar, st);
    api_write_free(w);
    return;
  }
  if (json_is_object(w->body)) {
    const char *rv = kj_get_str(w->body, "metadata.resourceVersion");
    w->user_rv = rv && *rv;
  } else {
    size_t i;
    json_t *op;
    json_array_foreach (w->body, i, op) {
      const char *p = kj_get_str(op, "path");
      if (p && strcmp(p, "/metadata/resourceVersion") == 0) w->user_rv = true;
    }
  }
  w->mutate = api_apply_patch;
  w->check_fields = true;
  api_write_update(w);
}
