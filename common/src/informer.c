/*
 * informer.c - list-then-watch for one resource, feeding a local store
 * and event handlers (client-go's Reflector + SharedIndexInformer, minus
 * the DeltaFIFO: on one event loop, events are applied to the store and
 * handed to handlers in the same step).
 *
 * States: LISTING (paged GETs with limit=500 and continue, accumulated
 * apart from the store) -> the accumulated set replaces the store, with
 * the difference reported to handlers: adds, updates (resourceVersion
 * changed) and deletes for objects that vanished, flagged
 * final_state_unknown because the real delete was missed -> WATCHING from
 * the list's resourceVersion with allowWatchBookmarks and a random 5-10
 * minute timeoutSeconds.  A watch that ends cleanly is restarted from the
 * last resourceVersion seen (events and bookmarks advance it).  An ERROR
 * event with 410 (Expired/Gone) means that version left the server's
 * window: relist at once.  A watch that breaks or cannot be opened
 * (transport error, non-2xx answer) is opened again from the last
 * resourceVersion seen after an exponential backoff (0.8 s doubling to
 * 30 s, reset by a successful list or event), as client-go's reflector
 * does: the server replays what was missed, or answers 410 and we relist.
 * An ERROR event other than 410, or a failed list, relists after the same
 * backoff.  The watch timeout is drawn per watch from the kernel's random
 * source, so that programs started together do not re-watch in step.
 */
#define _GNU_SOURCE
#include "kube/informer.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "informer_internal.h"
#include "kube/log.h"
#include "kube/restclient.h"
#include "kube/strconv.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

#define INFORMER_LIST_PAGE_SIZE 500
#define INFORMER_DEFAULT_BACKOFF_MS 800
#define INFORMER_MAX_BACKOFF_MS 30000
#define INFORMER_MAX_HANDLERS 16

enum inf_state { INF_IDLE, INF_LISTING, INF_WATCHING, INF_BACKOFF };

struct informer {
  struct event_base *base;
  struct rest_client *client;
  char *collection; /* path with the namespace folded in */
  char *path;       /* as given */
  char *namespace;
  char *label_selector, *field_selector;
  struct informer_opts opts;
  struct informer_store store;
  struct informer_handlers handlers[INFORMER_MAX_HANDLERS];
  int nhandlers;
  enum inf_state state;
  struct rest_request *req;
  json_t *list_acc; /* key -> object, while paging */
  char *rv;
  bool synced;
  bool started;
  bool rewatch; /* the backoff timer re-opens the watch instead of relisting */
  int64_t backoff_ms;
  struct event *backoff_timer;
  struct event *resync_timer;
  struct informer *next; /* factory list */
};

static void start_list(struct informer *inf, const char *cont);
static void start_watch(struct informer *inf);

char *informer_key(const json_t *obj, char *out, size_t len)
{
  json_t *md = json_object_get(obj, "metadata");
  const char *name = json_string_value(json_object_get(md, "name"));
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  if (!name || !*name) return NULL;
  if (ns && *ns) snprintf(out, len, "%s/%s", ns, name);
  else snprintf(out, len, "%s", name);
  return out;
}

static const char *obj_rv(const json_t *obj)
{
  const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
  return rv ? rv : "";
}

static void set_rv(struct informer *inf, const char *rv)
{
  if (!rv || !*rv) return;
  char *n = xstrdup(rv);
  if (!n) return;
  free(inf->rv);
  inf->rv = n;
}

/* "/api/v1/pods" + ns -> "/api/v1/namespaces/ns/pods". */
static char *collection_path(const char *path, const char *ns)
{
  if (!ns || !*ns) return xstrdup(path);
  const char *slash = strrchr(path, '/');
  if (!slash) return NULL;
  char *out = NULL;
  if (asprintf(&out, "%.*s/namespaces/%s%s", (int)(slash - path), path, ns, slash) < 0) return NULL;
  return out;
}

static void append_selectors(struct informer *inf, char **url)
{
  const char *names[2] = {"labelSelector", "fieldSelector"};
  const char *vals[2] = {inf->label_selector, inf->field_selector};
  for (int i = 0; i < 2; i++) {
    if (!vals[i] || !*vals[i]) continue;
    char *enc = kstr_url_encode(vals[i]);
    char *n = NULL;
    if (enc && asprintf(&n, "%s&%s=%s", *url, names[i], enc) >= 0) {
      free(*url);
      *url = n;
    }
    free(enc);
  }
}

/* ---- handler dispatch ---- */

static void emit_add(struct informer *inf, const json_t *obj)
{
  for (int i = 0; i < inf->nhandlers; i++)
    if (inf->handlers[i].on_add) inf->handlers[i].on_add(inf->handlers[i].arg, obj);
}

static void emit_update(struct informer *inf, const json_t *o, const json_t *n)
{
  for (int i = 0; i < inf->nhandlers; i++)
    if (inf->handlers[i].on_update) inf->handlers[i].on_update(inf->handlers[i].arg, o, n);
}

static void emit_delete(struct informer *inf, const json_t *obj, bool unknown)
{
  for (int i = 0; i < inf->nhandlers; i++)
    if (inf->handlers[i].on_delete) inf->handlers[i].on_delete(inf->handlers[i].arg, obj, unknown);
}

/* Stores obj and tells the handlers; obj borrowed. */
static void apply_upsert(struct informer *inf, const char *key, const json_t *obj, bool only_if_changed)
{
  json_t *old = informer_store_get(&inf->store, key);
  if (old && only_if_changed && !strcmp(obj_rv(old), obj_rv(obj)) && *obj_rv(obj)) {
    json_decref(old);
    return;
  }
  informer_store_put(&inf->store, key, old, obj);
  if (old) emit_update(inf, old, obj);
  else emit_add(inf, obj);
  json_decref(old);
}

static void apply_delete(struct informer *inf, const char *key, const json_t *obj, bool unknown)
{
  json_t *old = informer_store_get(&inf->store, key);
  if (!old) return;
  informer_store_remove(&inf->store, key, old);
  emit_delete(inf, obj ? obj : old, unknown);
  json_decref(old);
}

/* ---- failure handling ---- */

static void backoff_cb(evutil_socket_t fd, short what, void *arg)
{
  struct informer *inf = arg;
  if (inf->rewatch) start_watch(inf);
  else start_list(inf, NULL);
}

/* After the current backoff (which then doubles): relist, or re-watch. */
static void retry_later(struct informer *inf, bool rewatch)
{
  if (inf->req) {
    rest_cancel(inf->req);
    inf->req = NULL;
  }
  json_decref(inf->list_acc);
  inf->list_acc = NULL;
  inf->state = INF_BACKOFF;
  inf->rewatch = rewatch;
  int64_t ms = inf->backoff_ms;
  inf->backoff_ms = ms * 2 > INFORMER_MAX_BACKOFF_MS ? INFORMER_MAX_BACKOFF_MS : ms * 2;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  evtimer_add(inf->backoff_timer, &tv);
}

static void relist_later(struct informer *inf) { retry_later(inf, false); }

static void relist_now(struct informer *inf)
{
  if (inf->req) {
    rest_cancel(inf->req);
    inf->req = NULL;
  }
  inf->state = INF_BACKOFF;
  inf->rewatch = false;
  struct timeval tv = {0, 0};
  evtimer_add(inf->backoff_timer, &tv);
}

/* ---- list ---- */

static void list_finished(struct informer *inf)
{
  /* Deletes for what vanished, then adds/updates for the rest. */
  json_t *gone = json_array();
  const char *key;
  json_t *v;
  json_object_foreach (inf->store.items, key, v)
    if (!json_object_get(inf->list_acc, key)) json_array_append_new(gone, json_string(key));
  size_t i;
  json_array_foreach (gone, i, v) apply_delete(inf, json_string_value(v), NULL, true);
  json_decref(gone);
  json_object_foreach (inf->list_acc, key, v) apply_upsert(inf, key, v, true);
  json_decref(inf->list_acc);
  inf->list_acc = NULL;
  inf->synced = true;
  inf->backoff_ms = inf->opts.relist_backoff_ms;
  start_watch(inf);
}

static void list_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct informer *inf = arg;
  inf->req = NULL;
  if (err || !json_is_object(body)) {
    KLOG_W("failed to list %s: %s", inf->collection, err ? err->message : "bad response");
    relist_later(inf);
    return;
  }
  const char *list_kind = json_string_value(json_object_get(body, "kind"));
  const char *list_api = json_string_value(json_object_get(body, "apiVersion"));
  char kind[128] = "";
  if (list_kind) {
    size_t n = strlen(list_kind);
    if (n > 4 && !strcmp(list_kind + n - 4, "List") && n - 4 < sizeof kind)
      snprintf(kind, sizeof kind, "%.*s", (int)(n - 4), list_kind);
  }
  size_t i;
  json_t *item;
  json_array_foreach (json_object_get(body, "items"), i, item) {
    /* The list body is ours and freed after this; take its items. */
    json_t *obj = json_incref(item);
    /* List items carry no kind/apiVersion on the wire; restore them as
     * the dynamic client does, so references built from them are full. */
    if (*kind && !json_object_get(obj, "kind")) json_object_set_new(obj, "kind", json_string(kind));
    if (list_api && !json_object_get(obj, "apiVersion")) json_object_set_new(obj, "apiVersion", json_string(list_api));
    if (inf->opts.transform) inf->opts.transform(inf->opts.transform_arg, obj);
    char key[512];
    if (informer_key(obj, key, sizeof key)) json_object_set_new(inf->list_acc, key, obj);
    else json_decref(obj);
  }
  const char *cont = json_string_value(json_object_get(json_object_get(body, "metadata"), "continue"));
  if (cont && *cont) {
    start_list(inf, cont);
    return;
  }
  set_rv(inf, json_string_value(json_object_get(json_object_get(body, "metadata"), "resourceVersion")));
  list_finished(inf);
}

static void start_list(struct informer *inf, const char *cont)
{
  char *url = NULL;
  if (!cont) {
    json_decref(inf->list_acc);
    inf->list_acc = json_object();
  }
  char *enc = cont ? kstr_url_encode(cont) : NULL;
  if (asprintf(&url, "%s?limit=%d%s%s", inf->collection, INFORMER_LIST_PAGE_SIZE, enc ? "&continue=" : "",
               enc ? enc : "") < 0)
    url = NULL;
  free(enc);
  if (!url) {
    relist_later(inf);
    return;
  }
  append_selectors(inf, &url);
  inf->state = INF_LISTING;
  inf->req = rest_request(inf->client, "GET", url, NULL, list_done, inf);
  if (inf->opts.drop_managed_fields) rest_request_skip_managed_fields(inf->req);
  free(url);
  if (!inf->req) relist_later(inf);
}

/* ---- watch ---- */

static void watch_event(void *arg, json_t *ev)
{
  struct informer *inf = arg;
  const char *type = json_string_value(json_object_get(ev, "type"));
  json_t *obj = json_object_get(ev, "object");
  if (!type || !json_is_object(obj)) return;
  if (!strcmp(type, "ERROR")) {
    int code = (int)json_integer_value(json_object_get(obj, "code"));
    const char *reason = json_string_value(json_object_get(obj, "reason"));
    const char *msg = json_string_value(json_object_get(obj, "message"));
    if (code == 410 || (reason && (!strcmp(reason, "Expired") || !strcmp(reason, "Gone")))) {
      KLOG_V(2, "watch of %s closed: %s; relisting", inf->collection, msg ? msg : "expired");
      relist_now(inf);
    } else {
      KLOG_W("watch of %s failed: %s", inf->collection, msg ? msg : "unknown error");
      relist_later(inf);
    }
    return;
  }
  set_rv(inf, obj_rv(obj));
  inf->backoff_ms = inf->opts.relist_backoff_ms; /* the watch works */
  if (!strcmp(type, "BOOKMARK")) return;
  /* The event is freed after this; its object is ours to trim. */
  json_t *copy = json_incref(obj);
  if (inf->opts.transform) inf->opts.transform(inf->opts.transform_arg, copy);
  char key[512];
  if (informer_key(copy, key, sizeof key)) {
    if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) apply_upsert(inf, key, copy, false);
    else if (!strcmp(type, "DELETED")) apply_delete(inf, key, copy, false);
  }
  json_decref(copy);
}

static void watch_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct informer *inf = arg;
  inf->req = NULL;
  if (!err) {
    start_watch(inf); /* timeoutSeconds elapsed: carry on from the last version */
    return;
  }
  if (err->code == 410) {
    relist_now(inf);
    return;
  }
  KLOG_W("watch of %s ended: %s; watching again from resourceVersion %s", inf->collection,
         err->message ? err->message : "", inf->rv ? inf->rv : "");
  retry_later(inf, true);
}

/* 300-600 s, as client-go draws it (minWatchTimeout times 1 + rand). */
static int watch_timeout_s(const struct informer *inf)
{
  if (inf->opts.watch_timeout_s > 0) return inf->opts.watch_timeout_s;
  unsigned int r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) r = (unsigned int)ktime_now_us();
  return 300 + (int)(r % 300);
}

static void start_watch(struct informer *inf)
{
  int timeout = watch_timeout_s(inf);
  char *url = NULL;
  char *rv = kstr_url_encode(inf->rv ? inf->rv : "");
  if (!rv || asprintf(&url, "%s?watch=1&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=%d", inf->collection,
                      rv, timeout) < 0)
    url = NULL;
  free(rv);
  if (!url) {
    relist_later(inf);
    return;
  }
  append_selectors(inf, &url);
  inf->state = INF_WATCHING;
  inf->req = rest_stream(inf->client, url, watch_event, watch_done, inf);
  if (inf->opts.drop_managed_fields) rest_request_skip_managed_fields(inf->req);
  free(url);
  if (!inf->req) retry_later(inf, true);
}

/* ---- resync ---- */

static void resync_cb(evutil_socket_t fd, short what, void *arg)
{
  struct informer *inf = arg;
  if (!inf->synced) return;
  json_t *keys = informer_store_keys(inf);
  size_t i;
  json_t *k;
  json_array_foreach (keys, i, k) {
    json_t *obj = informer_store_get(&inf->store, json_string_value(k));
    if (obj) emit_update(inf, obj, obj);
    json_decref(obj);
  }
  json_decref(keys);
}

/* ---- public ---- */

struct informer *informer_new(struct event_base *base, struct rest_client *client, const struct informer_opts *opts)
{
  if (!opts || !opts->path) return NULL;
  struct informer *inf = xcalloc(1, sizeof *inf);
  if (!inf) return NULL;
  inf->base = base;
  inf->client = client;
  inf->opts = *opts;
  inf->path = xstrdup(opts->path);
  inf->namespace = xstrdup(opts->namespace ? opts->namespace : "");
  inf->label_selector = opts->label_selector ? xstrdup(opts->label_selector) : NULL;
  inf->field_selector = opts->field_selector ? xstrdup(opts->field_selector) : NULL;
  inf->opts.path = inf->path;
  inf->opts.namespace = inf->namespace;
  inf->opts.label_selector = inf->label_selector;
  inf->opts.field_selector = inf->field_selector;
  if (inf->opts.relist_backoff_ms <= 0) inf->opts.relist_backoff_ms = INFORMER_DEFAULT_BACKOFF_MS;
  inf->backoff_ms = inf->opts.relist_backoff_ms;
  inf->collection = collection_path(opts->path, opts->namespace);
  inf->backoff_timer = evtimer_new(base, backoff_cb, inf);
  inf->resync_timer = event_new(base, -1, EV_PERSIST, resync_cb, inf);
  if (informer_store_init(&inf->store, opts->keep_parsed) < 0 || !inf->path || !inf->namespace || !inf->collection ||
      !inf->backoff_timer || !inf->resync_timer) {
    informer_free(inf);
    return NULL;
  }
  return inf;
}

void informer_free(struct informer *inf)
{
  if (!inf) return;
  if (inf->req) rest_cancel(inf->req);
  if (inf->backoff_timer) event_free(inf->backoff_timer);
  if (inf->resync_timer) event_free(inf->resync_timer);
  json_decref(inf->list_acc);
  informer_store_fini(&inf->store);
  free(inf->collection);
  free(inf->path);
  free(inf->namespace);
  free(inf->label_selector);
  free(inf->field_selector);
  free(inf->rv);
  free(inf);
}

int informer_add_handlers(struct informer *inf, const struct informer_handlers *h)
{
  if (inf->nhandlers >= INFORMER_MAX_HANDLERS) return -ENOSPC;
  inf->handlers[inf->nhandlers++] = *h;
  if (inf->synced && h->on_add) {
    json_t *objs = informer_store_list(inf);
    size_t i;
    json_t *o;
    json_array_foreach (objs, i, o) h->on_add(h->arg, o);
    json_decref(objs);
  }
  return 0;
}

int informer_add_index(struct informer *inf, const char *name, informer_index_fn fn, void *arg)
{
  return informer_store_add_index(&inf->store, name, fn, arg);
}

int informer_start(struct informer *inf)
{
  if (inf->started) return 0;
  inf->started = true;
  if (inf->opts.resync_ms > 0) {
    struct timeval tv = {inf->opts.resync_ms / 1000, (inf->opts.resync_ms % 1000) * 1000};
    evtimer_add(inf->resync_timer, &tv);
  }
  start_list(inf, NULL);
  return 0;
}

bool informer_has_synced(const struct informer *inf) { return inf->synced; }
const char *informer_last_resource_version(const struct informer *inf) { return inf->rv ? inf->rv : ""; }
const char *informer_path(const struct informer *inf) { return inf->path; }

size_t informer_store_len(const struct informer *inf) { return json_object_size(inf->store.items); }

json_t *informer_store_get_obj(const struct informer *inf, const char *key)
{
  return informer_store_get(&inf->store, key);
}

json_t *informer_store_keys(const struct informer *inf)
{
  json_t *out = json_array();
  const char *key;
  json_t *v;
  json_object_foreach (inf->store.items, key, v) json_array_append_new(out, json_string(key));
  return out;
}

json_t *informer_store_list(const struct informer *inf)
{
  json_t *out = json_array();
  const char *key;
  json_t *v;
  json_object_foreach (inf->store.items, key, v) {
    json_t *obj = informer_store_get(&inf->store, key);
    if (obj) json_array_append_new(out, obj);
  }
  return out;
}

json_t *informer_store_index_keys(const struct informer *inf, const char *index, const char *value)
{
  return informer_store_index_keys_raw(&inf->store, index, value);
}

json_t *informer_store_by_index(const struct informer *inf, const char *index, const char *value)
{
  json_t *keys = informer_store_index_keys_raw(&inf->store, index, value);
  if (!keys) return NULL;
  json_t *out = json_array();
  size_t i;
  json_t *k;
  json_array_foreach (keys, i, k) {
    json_t *obj = informer_store_get(&inf->store, json_string_value(k));
    if (obj) json_array_append_new(out, obj);
  }
  json_decref(keys);
  return out;
}

/* ---- factory ---- */

struct informer_factory {
  struct event_base *base;
  struct rest_client *client;
  int64_t resync_ms;
  struct informer *list;
  bool drop_managed_fields;
};

struct informer_factory *informer_factory_new(struct event_base *base, struct rest_client *client,
                                              int64_t default_resync_ms)
{
  struct informer_factory *f = xcalloc(1, sizeof *f);
  if (!f) return NULL;
  f->base = base;
  f->client = client;
  f->resync_ms = default_resync_ms;
  return f;
}

static bool same_str(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

/* Two requests share an informer only when they would cache the same
 * objects in the same form. */
static bool same_informer(const struct informer *i, const struct informer_opts *o)
{
  return !strcmp(i->path, o->path) && same_str(i->namespace, o->namespace) &&
         same_str(i->label_selector, o->label_selector) && same_str(i->field_selector, o->field_selector) &&
         i->opts.transform == o->transform && i->opts.transform_arg == o->transform_arg &&
         i->opts.keep_parsed == o->keep_parsed;
}

struct informer *informer_factory_get_opts(struct informer_factory *f, const struct informer_opts *o)
{
  for (struct informer *i = f->list; i; i = i->next)
    if (same_informer(i, o)) return i;
  struct informer_opts opts = *o;
  if (opts.resync_ms == 0) opts.resync_ms = f->resync_ms;
  if (f->drop_managed_fields) opts.drop_managed_fields = true;
  struct informer *inf = informer_new(f->base, f->client, &opts);
  if (!inf) return NULL;
  inf->next = f->list;
  f->list = inf;
  return inf;
}

void informer_factory_drop_managed_fields(struct informer_factory *f) { f->drop_managed_fields = true; }

struct informer *informer_factory_get(struct informer_factory *f, const char *path)
{
  struct informer_opts o = {.path = path};
  return informer_factory_get_opts(f, &o);
}

void informer_factory_start(struct informer_factory *f)
{
  for (struct informer *i = f->list; i; i = i->next) informer_start(i);
}

bool informer_factory_has_synced(const struct informer_factory *f)
{
  for (struct informer *i = f->list; i; i = i->next)
    if (!i->synced) return false;
  return true;
}

void informer_factory_free(struct informer_factory *f)
{
  if (!f) return;
  while (f->list) {
    struct informer *i = f->list;
    f->list = i->next;
    informer_free(i);
  }
  free(f);
}
