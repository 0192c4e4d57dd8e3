/*
 * handlers.c - REST dispatch for resource paths, and the read verbs (get
 * and list).
 *
 * Reads are served from the storage's in-memory committed state without
 * parsing: a GET answers kv->bytes as they are, and a JSON list is
 * assembled by copying each matching value's bytes between a list header
 * and footer.  Selectors are matched against the compact attributes stored
 * with each value (labels "l:", selectable fields "f:"), and
 * metadata.name/metadata.namespace come from the key itself.  Only Table
 * and YAML output, and kinds served in another shape than stored
 * (events.k8s.io), parse objects.
 */
#define _GNU_SOURCE
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <kube/http.h>
#include <kube/json.h>
#include <kube/selector.h>
#include <kube/status.h>
#include <kube/strconv.h>
#include <kube/timeutil.h>

#include "auth/auth.h"
#include "registry/customresources.h"
#include "registry/registry.h"
#include "storage/storage.h"
#include <kube/xalloc.h>

/* ---- selector attributes ---- */

char *api_attrs_for(const struct resource *res, const json_t *obj)
{
  const char *fields[64];
  char bufs[16][512];
  size_t nf = 0, nb = 0;
  const char *name = kj_get_str(obj, "metadata.name");
  const char *ns = kj_get_str(obj, "metadata.namespace");
  fields[nf++] = "metadata.name";
  fields[nf++] = name ? name : "";
  fields[nf++] = "metadata.namespace";
  fields[nf++] = ns ? ns : "";
  if (res->field_selectors && res->field_value) {
    for (const char *const *f = res->field_selectors; *f && nb < 16 && nf + 2 < 63; f++) {
      const char *v = res->field_value(obj, *f, bufs[nb], sizeof(bufs[nb]));
      if (!v) continue;
      if (v == bufs[nb]) nb++;
      fields[nf++] = *f;
      fields[nf++] = v;
    }
  }
  fields[nf] = NULL;
  return storage_attrs_build(json_object_get(json_object_get(obj, "metadata"), "labels"), fields);
}

struct kv_getter {
  const struct resource *res;
  struct kv *kv;
  char name[256];
  char ns[256];
  json_t *obj;   /* a custom resource, parsed on first use (owned) */
  char buf[64];  /* a formatted selectable field value */
};

/* Splits "/prefix/ns/name" or "/prefix/name" into the getter. */
static void key_parts(struct kv_getter *g)
{
  const char *rest = g->kv->key + strlen(g->res->storage_prefix);
  if (*rest == '/') rest++;
  g->ns[0] = '\0';
  if (g->res->namespaced) {
    const char *slash = strchr(rest, '/');
    if (slash) {
      size_t n = (size_t)(slash - rest);
      if (n >= sizeof(g->ns)) n = sizeof(g->ns) - 1;
      memcpy(g->ns, rest, n);
      g->ns[n] = '\0';
      rest = slash + 1;
    }
  }
  snprintf(g->name, sizeof(g->name), "%s", rest);
}

static const char *get_field(void *arg, const char *key)
{
  struct kv_getter *g = arg;
  if (strcmp(key, "metadata.name") == 0) return g->name;
  if (strcmp(key, "metadata.namespace") == 0) return g->ns;
  if (g->res->custom) {
    /* selectableFields are read from the object, so a field made
     * selectable after the object was written is matched too */
    if (!g->obj) g->obj = kj_loadb(g->kv->bytes, g->kv->len, false, NULL, 0);
    return cr_selectable_value(g->obj, key, g->buf, sizeof g->buf);
  }
  const char *v = kv_field(g->kv, key);
  return v ? v : "";
}

bool api_kv_matches(const struct resource *res, struct kv *kv, const struct api_list_opts *o)
{
  if (o->lsel && !labelsel_matches_fn(o->lsel, kv_label, kv)) return false;
  if (o->fsel) {
    struct kv_getter g = {.res = res, .kv = kv};
    key_parts(&g);
    bool match = fieldsel_matches_fn(o->fsel, get_field, &g);
    json_decref(g.obj);
    if (!match) return false;
  }
  return true;
}

json_t *api_kv_object(const struct resource *res, const struct kv *kv)
{
  json_t *obj = kj_loadb(kv->bytes, kv->len, false, NULL, 0);
  if (!obj) return NULL;
  return api_to_external(res, obj);
}

/* JSON lists at least this large hand freed memory back once sent. */
#define LIST_TRIM_BYTES (1 << 20)

/* ---- get ---- */

void api_handle_get(struct api_req *ar)
{
  ar->verb = "get";
  char *key = api_storage_key(ar->res, ar->rt.ns, ar->rt.name);
  struct kv *kv = key ? storage_get(ar->srv->storage, key) : NULL;
  free(key);
  if (!kv) {
    api_reply_status(ar, api_not_found(ar, ar->rt.name));
    return;
  }
  if (api_needs_conversion(ar->res)) {
    api_reply_obj(ar, 200, api_kv_object(ar->res, kv));
    return;
  }
  api_reply_bytes(ar, 200, kv->bytes, kv->len);
}

/* ---- list ---- */

struct list_ctx {
  struct api_req *ar;
  const struct api_list_opts *o;
  bool parse;             /* build json items instead of copying bytes */
  struct evbuffer *items; /* references to the stored bytes, no copies */
  json_t *jitems;
  int64_t count;
  int64_t remaining; /* items after the page, counted without selectors */
  bool more;
  char *last_key;
  int err;
};

static void unref_cleanup(const void *data, size_t len, void *arg) { kv_unref(arg); }

static int list_visit(void *arg, struct kv *kv)
{
  struct list_ctx *c = arg;
  if (!api_kv_matches(c->ar->res, kv, c->o)) return 0;
  if (c->o->limit > 0 && c->count >= c->o->limit) {
    /* upstream counts what is left only when nothing is filtered */
    c->more = true;
    if (c->o->lsel || c->o->fsel) return 1;
    c->remaining++;
    return 0;
  }
  if (c->parse) {
    json_t *obj = api_kv_object(c->ar->res, kv);
    if (obj) json_array_append_new(c->jitems, obj);
  } else {
    /* a reference, too: a copied separator after a reference chain would
     * open a fresh 1 KiB chain per item */
    if (c->count && evbuffer_add_reference(c->items, ",", 1, NULL, NULL) != 0) {
      c->err = -ENOMEM;
      return 1;
    }
    kv_ref(kv);
    if (evbuffer_add_reference(c->items, kv->bytes, kv->len, unref_cleanup, kv) != 0) {
      kv_unref(kv);
      c->err = -ENOMEM;
      return 1;
    }
  }
  c->count++;
  free(c->last_key);
  c->last_key = xstrdup(kv->key);
  return 0;
}

static void gv_string(const struct resource *res, char *out, size_t len)
{
  if (*res->group) snprintf(out, len, "%s/%s", res->group, res->version);
  else snprintf(out, len, "%s", res->version);
}

/* A list at a resourceVersion newer than the store's waits for it, as
 * upstream's watch cache does (waitUntilFreshAndBlock), then gives up with
 * 504 "Too large resource version". */
#define LIST_FRESH_WAIT_US (3 * 1000000)
#define LIST_FRESH_POLL_US 20000

struct list_wait {
  struct api_req *ar;
  struct api_list_opts o;
  int64_t want;
  int64_t deadline_us;
  struct event *ev;
};

static void list_serve(struct api_req *ar, struct api_list_opts *o_in);

static void list_wait_cb(evutil_socket_t fd, short what, void *arg)
{
  struct list_wait *lw = arg;
  struct api_req *ar = lw->ar;
  int64_t cur = storage_rev(ar->srv->storage);
  if (ar->http && cur < lw->want && ktime_now_us() < lw->deadline_us) return;
  event_free(lw->ev);
  if (!ar->http) {
    api_list_opts_free(&lw->o);
  } else if (cur >= lw->want) {
    list_serve(ar, &lw->o);
  } else {
    json_t *st = kstatus_new(504, "Timeout", "Too large resource version: %lld, current: %lld", (long long)lw->want,
                             (long long)cur);
    kstatus_add_cause(st, "ResourceVersionTooLarge", "Too large resource version", NULL);
    kj_set_int(st, "details.retryAfterSeconds", 1);
    api_reply_status(ar, st);
    api_list_opts_free(&lw->o);
  }
  free(lw);
  api_req_done(ar);
}

/* True when the list was parked until the store reaches o->rv. */
static bool list_wait_fresh(struct api_req *ar, struct api_list_opts *o)
{
  int64_t want = 0;
  if (o->cont_rev || !o->rv || !*o->rv || strcmp(o->rv, "0") == 0 || kstr_parse_int64(o->rv, &want) != 0 ||
      want <= storage_rev(ar->srv->storage))
    return false;
  struct list_wait *lw = xcalloc(1, sizeof(*lw));
  if (!lw) return false;
  lw->ev = event_new(ar->srv->base, -1, EV_PERSIST, list_wait_cb, lw);
  if (!lw->ev) {
    free(lw);
    return false;
  }
  lw->ar = ar;
  lw->o = *o;
  memset(o, 0, sizeof(*o));
  lw->want = want;
  lw->deadline_us = ktime_now_us() + LIST_FRESH_WAIT_US;
  struct timeval tv = {0, LIST_FRESH_POLL_US};
  event_add(lw->ev, &tv);
  ar->pending = true;
  return true;
}

void api_handle_list(struct api_req *ar)
{
  ar->verb = "list";
  struct api_list_opts o;
  json_t *st = api_list_opts_parse(api_req_query(ar), ar->res, &o);
  if (st) {
    api_reply_status(ar, st);
    return;
  }
  if (o.watch) {
    api_handle_watch(ar, &o);
    return;
  }
  if (list_wait_fresh(ar, &o)) return;
  list_serve(ar, &o);
}

/* Answers a list; frees *o_in. */
static void list_serve(struct api_req *ar, struct api_list_opts *o_in)
{
  struct api_list_opts o = *o_in;
  memset(o_in, 0, sizeof(*o_in));
  json_t *st = NULL;
  struct storage *sto = ar->srv->storage;
  int64_t rev = 0;
  if (o.cont_rev) {
    rev = o.cont_rev;
  } else if (o.rv && *o.rv && strcmp(o.rv, "0") != 0 && o.rv_match && strcmp(o.rv_match, "Exact") == 0) {
    kstr_parse_int64(o.rv, &rev);
  }
  int64_t list_rev = rev ? rev : storage_rev(sto);
  char *prefix = api_storage_key(ar->res, ar->rt.ns, NULL);
  enum api_format fmt = api_negotiate(api_req_accept(ar));
  struct list_ctx c = {.ar = ar, .o = &o};
  c.parse = fmt != FMT_JSON || api_needs_conversion(ar->res);
  if (c.parse) c.jitems = json_array();
  else c.items = evbuffer_new();
  int err = prefix ? storage_list(sto, prefix, rev, o.cont_start, list_visit, &c) : -ENOMEM;
  free(prefix);
  if (!err) err = c.err;
  if (err == STORAGE_EEXPIRED) {
    if (o.cont_rev)
      st = kstatus_gone("The provided continue parameter is too old to display a consistent list "
                        "result. You can start a new list without the continue parameter, or use "
                        "the continue token in this response to retrieve the remainder of the "
                        "results. Continuing with the provided token results in an inconsistent "
                        "list - objects that were created, modified, or deleted between the time "
                        "the first chunk was returned and now may show up in the list.");
    else st = kstatus_gone("resourceVersion %s is too old", o.rv ? o.rv : "");
  } else if (err) {
    st = kstatus_internal("list failed: %d", err);
  }
  if (st) {
    api_reply_status(ar, st);
    goto out;
  }
  char gv[256], kind[256], meta[1024];
  gv_string(ar->res, gv, sizeof(gv));
  snprintf(kind, sizeof(kind), "%sList", ar->res->kind);
  char *cont = c.more ? api_continue_encode(list_rev, c.last_key) : NULL;
  if (c.parse) {
    json_t *list = json_pack("{s:s,s:s,s:{},s:o}", "kind", kind, "apiVersion", gv, "metadata", "items", c.jitems);
    c.jitems = NULL;
    char rvs[32];
    snprintf(rvs, sizeof(rvs), "%lld", (long long)list_rev);
    kj_set_str(list, "metadata.resourceVersion", rvs);
    if (cont) kj_set_str(list, "metadata.continue", cont);
    if (c.remaining) kj_set_int(list, "metadata.remainingItemCount", c.remaining);
    api_reply_obj(ar, 200, list);
  } else {
    char remaining[48] = "";
    if (c.remaining) snprintf(remaining, sizeof remaining, ",\"remainingItemCount\":%lld", (long long)c.remaining);
    int ml = snprintf(
        meta, sizeof(meta),
        "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"%s%s%s%s},\"items\":[", kind,
        gv, (long long)list_rev, cont ? ",\"continue\":\"" : "", cont ? cont : "", cont ? "\"" : "", remaining);
    struct evbuffer *out = evbuffer_new();
    if (out && evbuffer_add(out, meta, (size_t)ml) == 0 && evbuffer_add_buffer(out, c.items) == 0 &&
        evbuffer_add(out, "]}\n", 3) == 0 &&
        (evbuffer_get_length(out) < LIST_TRIM_BYTES || api_trim_after(ar->srv, out) == 0))
      api_reply_evbuffer(ar, 200, "application/json", out);
    else api_reply_status(ar, kstatus_internal("out of memory"));
    if (out) evbuffer_free(out);
  }
  free(cont);
out:
  json_decref(c.jitems);
  if (c.items) evbuffer_free(c.items);
  free(c.last_key);
  api_list_opts_free(&o);
}

/* ---- dispatch ---- */

static json_t *method_not_allowed(void)
{
  return kstatus_method_not_allowed("the server does not allow this method on the requested resource");
}

void api_handle_resource(struct api_req *ar)
{
  struct api_route *rt = &ar->rt;
  const char *m = http_req_method(ar->http);
  /* POST .../namespaces/NS/bindings is the legacy form of pods/binding. */
  if (strcmp(rt->resource, "bindings") == 0 && !*rt->group && *rt->ns && !*rt->name) {
    ar->res = registry_find("", rt->version, "pods");
    if (ar->res && strcmp(m, "POST") == 0) {
      snprintf(rt->sub, sizeof(rt->sub), "binding");
      api_handle_subresource(ar);
      return;
    }
  }
  ar->res = registry_lookup(ar->srv, rt->group, rt->version, rt->resource);
  if (!ar->res || (*rt->ns && !ar->res->namespaced)) {
    ar->res = NULL;
    json_t *st = kstatus_new(404, "NotFound", "the server could not find the requested resource");
    json_object_set_new(st, "details", json_object());
    api_reply_status(ar, st);
    return;
  }
  /* held until the request is freed: a CRD change must not pull the
   * descriptor from under a running write or watch */
  registry_res_ref(ar->res);
  if (ar->res->create_only) {
    api_handle_review(ar); /* auth/reviews.c */
    return;
  }
  const struct cr_version *cr = cr_of(ar->res);
  if (cr && cr->warning) api_add_warning(ar, cr->warning);
  if (*rt->sub) {
    api_handle_subresource(ar);
    return;
  }
  bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
  struct api_media media;
  if (get && !api_negotiate_media(api_req_accept(ar), &media)) {
    /* custom resources are JSON only (no protobuf), as upstream */
    api_reply_status(ar, api_not_acceptable(cr ? "only the following media types are accepted: application/json, "
                                                 "application/yaml"
                                               : NULL));
    return;
  }
  if (*rt->name) {
    if (get) api_handle_get(ar);
    else if (strcmp(m, "PUT") == 0) api_handle_update(ar);
    else if (strcmp(m, "PATCH") == 0) api_handle_patch(ar);
    else if (strcmp(m, "DELETE") == 0) api_handle_delete(ar);
    else api_reply_status(ar, method_not_allowed());
    return;
  }
  if (get) api_handle_list(ar);
  else if (strcmp(m, "POST") == 0 && (*rt->ns || !ar->res->namespaced)) api_handle_create(ar);
  else if (strcmp(m, "DELETE") == 0) api_handle_delete_collection(ar);
  else api_reply_status(ar, method_not_allowed());
}
