/*
 * watch.c - the watch verb: a chunked stream of
 * {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}\n
 * events, one per chunk, flushed as they happen.
 *
 * Without a resourceVersion (or with "0") the stream starts with a
 * synthetic ADDED for every object that currently matches, then goes live
 * from that revision, as upstream does.  With a resourceVersion it resumes
 * from the storage's history; one older than the window gets a single
 * ERROR event carrying a 410 Expired Status (clients relist on it).
 *
 * Selectors are applied per event against the old and new value, as
 * upstream's watch cache does: an object that stops matching is sent as
 * DELETED, one that starts matching as ADDED.  Bookmarks (when allowed)
 * go out every minute (cfg.watch_bookmark_interval_ms), carrying the
 * newest revision in an object of the watched kind, or a
 * PartialObjectMetadata for metadata-only watches; timeoutSeconds ends the stream.  A slow client whose
 * queued output exceeds the HTTP layer's cap is disconnected there; the
 * close callback cancels the storage watch.  Teardown is deferred to a
 * zero timer so that nothing is freed under a running storage callback.
 */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <kube/http.h>
#include <kube/json.h>
#include <kube/status.h>
#include <kube/strconv.h>

#include "registry/registry.h"
#include "storage/storage.h"
#include <kube/xalloc.h>

#define WATCH_BOOKMARK_INTERVAL_MS 60000
#define WATCH_DEFAULT_TIMEOUT_S 1800

struct api_watch {
  struct api_req *ar;
  const struct resource *res;
  struct api_list_opts opts;
  struct storage_watch *sw;
  struct event *bookmark_timer;
  struct event *timeout_timer;
  struct event *reaper;
  struct api_media media;
  enum api_include inc;
  bool columns_sent;
  bool dead;
  int64_t last_rev;
};

static void watch_free(struct api_watch *w)
{
  if (w->sw) storage_watch_cancel(w->sw);
  if (w->bookmark_timer) event_free(w->bookmark_timer);
  if (w->timeout_timer) event_free(w->timeout_timer);
  if (w->reaper) event_free(w->reaper);
  api_list_opts_free(&w->opts);
  struct api_req *ar = w->ar;
  ar->watch = NULL;
  free(w);
  api_req_done(ar);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg) { watch_free(arg); }

/* Marks the watch finished and frees it on the next loop turn. */
static void watch_finish(struct api_watch *w)
{
  if (w->dead) return;
  w->dead = true;
  if (w->ar->http && !w->ar->closed) {
    w->ar->closed = true;
    api_record(w->ar, 200);
    struct http_request *r = w->ar->http;
    w->ar->http = NULL;
    http_req_on_close(r, NULL, NULL);
    http_stream_end(r); /* frees the request */
  }
  w->reaper = evtimer_new(w->ar->srv->base, reap_cb, w);
  struct timeval tv = {0, 0};
  if (w->reaper) evtimer_add(w->reaper, &tv);
  else watch_free(w);
}

void api_watch_closed(struct api_req *ar)
{
  struct api_watch *w = ar->watch;
  if (!w) return;
  if (!ar->closed) {
    ar->closed = true;
    api_record(ar, 200);
  }
  watch_finish(w);
}

static int send_raw(struct api_watch *w, const char *type, const char *obj, size_t len)
{
  if (w->dead || !w->ar->http) return -1;
  size_t tl = strlen(type);
  size_t n = 22 + tl + len + 3;
  char *buf = xmalloc(n);
  if (!buf) return -1;
  size_t o = 0;
  memcpy(buf + o, "{\"type\":\"", 9);
  o += 9;
  memcpy(buf + o, type, tl);
  o += tl;
  memcpy(buf + o, "\",\"object\":", 11);
  o += 11;
  memcpy(buf + o, obj, len);
  o += len;
  memcpy(buf + o, "}\n", 2);
  o += 2;
  int r = http_stream_write(w->ar->http, buf, o);
  free(buf);
  if (r != 0) watch_finish(w);
  return r;
}

static int send_obj(struct api_watch *w, const char *type, json_t *obj /* stolen */)
{
  if (!obj) return 0;
  enum api_format fmt = w->media.fmt;
  if ((fmt == FMT_PARTIAL || fmt == FMT_PARTIAL_LIST) && strcmp(type, "ERROR") != 0) {
    json_t *p = api_partial_object(obj, w->media.meta_gv);
    json_decref(obj);
    obj = p;
  } else if (fmt == FMT_TABLE && strcmp(type, "ERROR") != 0 && strcmp(type, "BOOKMARK") != 0) {
    json_t *t = api_table_new(w->res, !w->columns_sent);
    w->columns_sent = true;
    api_table_add_row(t, w->res, obj, w->inc);
    const char *rv = kj_get_str(obj, "metadata.resourceVersion");
    if (rv) kj_set_str(t, "metadata.resourceVersion", rv);
    json_decref(obj);
    obj = t;
  }
  char *s = kj_dumps(obj);
  json_decref(obj);
  if (!s) return 0;
  int r = send_raw(w, type, s, strlen(s));
  free(s);
  return r;
}

static int send_kv(struct api_watch *w, const char *type, struct kv *kv, int64_t rev_override)
{
  if (w->media.fmt == FMT_JSON && !api_needs_conversion(w->res) && !rev_override)
    return send_raw(w, type, kv->bytes, kv->len);
  json_t *obj = api_kv_object(w->res, kv);
  if (obj && rev_override) {
    char rv[32];
    snprintf(rv, sizeof(rv), "%lld", (long long)rev_override);
    kj_set_str(obj, "metadata.resourceVersion", rv);
  }
  return send_obj(w, type, obj);
}

static void on_event(void *arg, enum storage_event_type type, struct kv *kv, struct kv *prev)
{
  struct api_watch *w = arg;
  if (w->dead) return;
  if (kv->mod_rev > w->last_rev) w->last_rev = kv->mod_rev;
  bool cur = api_kv_matches(w->res, kv, &w->opts);
  bool old = prev && api_kv_matches(w->res, prev, &w->opts);
  switch (type) {
  case EV_ADDED:
    if (cur) send_kv(w, "ADDED", kv, 0);
    break;
  case EV_MODIFIED:
    if (cur && old) send_kv(w, "MODIFIED", kv, 0);
    else if (cur) send_kv(w, "ADDED", kv, 0);
    else if (old) send_kv(w, "DELETED", prev, kv->mod_rev);
    break;
  case EV_DELETED:
    if (cur) send_kv(w, "DELETED", kv, 0);
    break;
  }
}

static void bookmark_cb(evutil_socket_t fd, short what, void *arg)
{
  struct api_watch *w = arg;
  if (w->dead) return;
  int64_t rev = storage_rev(w->ar->srv->storage);
  if (rev < w->last_rev) rev = w->last_rev;
  char gv[256], buf[512];
  if (*w->res->group) snprintf(gv, sizeof(gv), "%s/%s", w->res->group, w->res->version);
  else snprintf(gv, sizeof(gv), "%s", w->res->version);
  bool partial = w->media.fmt == FMT_PARTIAL || w->media.fmt == FMT_PARTIAL_LIST;
  int n =
      snprintf(buf, sizeof(buf), "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"}}",
               partial ? "PartialObjectMetadata" : w->res->kind, partial ? w->media.meta_gv : gv, (long long)rev);
  send_raw(w, "BOOKMARK", buf, (size_t)n);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg) { watch_finish(arg); }

struct initial_ctx {
  struct api_watch *w;
  int stop;
};

static int initial_visit(void *arg, struct kv *kv)
{
  struct initial_ctx *c = arg;
  if (!api_kv_matches(c->w->res, kv, &c->w->opts)) return 0;
  if (send_kv(c->w, "ADDED", kv, 0) != 0) {
    c->stop = 1;
    return 1;
  }
  return 0;
}

void api_handle_watch(struct api_req *ar, struct api_list_opts *opts)
{
  ar->verb = "watch";
  struct api_watch *w = xcalloc(1, sizeof(*w));
  if (!w) {
    api_list_opts_free(opts);
    api_reply_status(ar, kstatus_internal("out of memory"));
    return;
  }
  w->ar = ar;
  w->res = ar->res;
  w->opts = *opts;
  memset(opts, 0, sizeof(*opts));
  api_negotiate_media(api_req_accept(ar), &w->media);
  if (w->media.fmt == FMT_YAML) w->media.fmt = FMT_JSON;
  char *iv = kstr_query_get(api_req_query(ar), "includeObject");
  w->inc = api_include_parse(iv);
  free(iv);
  ar->watch = w;
  ar->pending = true;

  struct storage *st = ar->srv->storage;
  char *prefix = api_storage_key(ar->res, ar->rt.ns, NULL);
  http_stream_begin(ar->http, 200, "application/json");
  audit_response_started(ar, 200);
  int64_t from = 0;
  bool initial = !w->opts.rv || !*w->opts.rv || strcmp(w->opts.rv, "0") == 0;
  if (initial) {
    from = storage_rev(st);
    struct initial_ctx c = {.w = w};
    storage_list(st, prefix, 0, NULL, initial_visit, &c);
    if (c.stop || w->dead) {
      free(prefix);
      return;
    }
  } else {
    kstr_parse_int64(w->opts.rv, &from);
  }
  w->last_rev = from;
  int err = 0;
  w->sw = storage_watch(st, prefix, from, on_event, w, &err);
  free(prefix);
  if (!w->sw) {
    json_t *status = err == STORAGE_EEXPIRED ? kstatus_gone("too old resource version: %lld (%lld)", (long long)from,
                                                            (long long)storage_oldest_rev(st))
                                             : kstatus_internal("watch failed: %d", err);
    send_obj(w, "ERROR", status);
    watch_finish(w);
    return;
  }
  int64_t timeout = w->opts.timeout_s > 0 ? w->opts.timeout_s : WATCH_DEFAULT_TIMEOUT_S;
  w->timeout_timer = evtimer_new(ar->srv->base, timeout_cb, w);
  struct timeval tv = {.tv_sec = timeout};
  evtimer_add(w->timeout_timer, &tv);
  if (w->opts.bookmarks) {
    w->bookmark_timer = event_new(ar->srv->base, -1, EV_PERSIST, bookmark_cb, w);
    int64_t ms = ar->srv->cfg.watch_bookmark_interval_ms > 0 ? ar->srv->cfg.watch_bookmark_interval_ms
                                                             : WATCH_BOOKMARK_INTERVAL_MS;
    struct timeval bt = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(w->bookmark_timer, &bt);
  }
}
