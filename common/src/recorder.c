/*
 * recorder.c - Events with upstream's correlation rules.
 *
 * For each recorded event, in order:
 *  1. Spam filter: a token bucket per source + involved object (burst 25,
 *     refilled by one token every 5 minutes).  An empty bucket drops the
 *     event, so a crash-looping object cannot flood the API server.
 *  2. Aggregation: once 10 different messages with the same source,
 *     object, type and reason were seen within 10 minutes, further ones
 *     are folded into one Event whose message is prefixed
 *     "(combined from similar events): ", keyed without the message.
 *  3. Deduplication: the same source, object, type, reason and message
 *     seen within 10 minutes is the same Event: its count goes up and a
 *     strategic-merge PATCH sets count and lastTimestamp.  Otherwise a new
 *     Event named OBJECTNAME.<hex nanoseconds> is POSTed.
 * Both caches are LRUs bounded at 4096 entries (jansson objects keep
 * insertion order, so "touch" is delete + re-insert and the oldest entry
 * is the first).  While a write for one Event is in flight, repeats only
 * bump its count; one PATCH with the latest count follows when the write
 * returns, so the server never sees a PATCH before the POST it updates.
 */
#define _GNU_SOURCE
#include "kube/recorder.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/log.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

#define RECORDER_SPAM_BURST 25
#define RECORDER_SPAM_REFILL_MS (5 * 60 * 1000)
#define RECORDER_AGGREGATE_WINDOW_MS (10 * 60 * 1000)
#define RECORDER_CACHE_SIZE 4096
#define RECORDER_AGGREGATE_MAX_EVENTS 10
#define RECORDER_COMBINED_PREFIX "(combined from similar events): "

struct rec_write {
  struct event_recorder *r;
  char *key;
  bool create;
  struct rest_request *req;
  struct rec_write *prev, *next;
};

struct event_recorder {
  struct event_base *base;
  struct rest_client *client;
  char *component, *host;
  json_t *spam;    /* spam key -> [tokens, last refill ms] */
  json_t *seen;    /* event key -> {event, last_ms, busy, dirty} */
  json_t *similar; /* aggregate key -> {"msgs": {message: true}, "last_ms": ms} */
  int burst;
  int64_t refill_ms, window_ms;
  size_t cache_size;
  struct rec_write *writes;
  int created, patched, dropped;
};

struct event_recorder *recorder_new(struct event_base *base, struct rest_client *client, const char *component,
                                    const char *host)
{
  struct event_recorder *r = xcalloc(1, sizeof *r);
  if (!r) return NULL;
  r->base = base;
  r->client = client;
  r->component = xstrdup(component ? component : "");
  r->host = host ? xstrdup(host) : NULL;
  r->spam = json_object();
  r->seen = json_object();
  r->similar = json_object();
  r->burst = RECORDER_SPAM_BURST;
  r->refill_ms = RECORDER_SPAM_REFILL_MS;
  r->window_ms = RECORDER_AGGREGATE_WINDOW_MS;
  r->cache_size = RECORDER_CACHE_SIZE;
  if (!r->component || (host && !r->host) || !r->spam || !r->seen || !r->similar) {
    recorder_free(r);
    return NULL;
  }
  return r;
}

static void write_free(struct rec_write *w)
{
  if (w->prev) w->prev->next = w->next;
  else w->r->writes = w->next;
  if (w->next) w->next->prev = w->prev;
  free(w->key);
  free(w);
}

void recorder_free(struct event_recorder *r)
{
  if (!r) return;
  while (r->writes) {
    rest_cancel(r->writes->req);
    write_free(r->writes);
  }
  json_decref(r->spam);
  json_decref(r->seen);
  json_decref(r->similar);
  free(r->component);
  free(r->host);
  free(r);
}

void recorder_set_limits(struct event_recorder *r, int burst, int64_t refill_ms, int64_t window_ms, size_t cache_size)
{
  r->burst = burst > 0 ? burst : 1;
  r->refill_ms = refill_ms > 0 ? refill_ms : 1;
  r->window_ms = window_ms;
  r->cache_size = cache_size > 0 ? cache_size : 1;
}

void recorder_stats(const struct event_recorder *r, int *created, int *patched, int *dropped)
{
  if (created) *created = r->created;
  if (patched) *patched = r->patched;
  if (dropped) *dropped = r->dropped;
}

/* Inserts or moves key to the young end, then evicts the oldest. */
static void lru_set(struct event_recorder *r, json_t *cache, const char *key, json_t *v)
{
  json_incref(v);
  json_object_del(cache, key);
  json_object_set_new(cache, key, v);
  while (json_object_size(cache) > r->cache_size) {
    void *it = json_object_iter(cache);
    if (!it) break;
    json_object_del(cache, json_object_iter_key(it));
  }
}

static json_t *make_ref(const json_t *obj)
{
  const json_t *md = json_object_get(obj, "metadata");
  const json_t *src = md ? md : obj;
  json_t *ref = json_object();
  const char *kind = kj_get_str(obj, "kind"), *api = kj_get_str(obj, "apiVersion");
  const char *fields[] = {"namespace", "name", "uid", "resourceVersion"};
  if (kind) json_object_set_new(ref, "kind", json_string(kind));
  for (size_t i = 0; i < 4; i++) {
    const char *v = kj_get_str(src, fields[i]);
    if (v) json_object_set_new(ref, fields[i], json_string(v));
  }
  if (api) json_object_set_new(ref, "apiVersion", json_string(api));
  if (!md) {
    const char *fp = kj_get_str(obj, "fieldPath");
    if (fp) json_object_set_new(ref, "fieldPath", json_string(fp));
  }
  return ref;
}

static const char *s_or(const json_t *o, const char *k)
{
  const char *v = kj_get_str(o, k);
  return v ? v : "";
}

/* true if the event may go out. */
static bool spam_allow(struct event_recorder *r, const char *key)
{
  int64_t now = ktime_mono_ms();
  json_t *b = json_object_get(r->spam, key);
  double tokens = r->burst;
  int64_t last = now;
  if (b) {
    tokens = json_real_value(json_array_get(b, 0));
    last = json_integer_value(json_array_get(b, 1));
    int64_t gained = (now - last) / r->refill_ms;
    if (gained > 0) {
      tokens += (double)gained;
      last += gained * r->refill_ms;
      if (tokens >= r->burst) {
        tokens = r->burst;
        last = now;
      }
    }
  }
  bool ok = tokens >= 1.0;
  if (ok) tokens -= 1.0;
  json_t *nb = json_pack("[f,I]", tokens, (json_int_t)last);
  lru_set(r, r->spam, key, nb);
  json_decref(nb);
  return ok;
}

static void send_write(struct event_recorder *r, const char *key, json_t *entry, bool create);

/* Returns true when the event should be folded into the combined one for
 * agg_key (the message then gets the upstream prefix). */
static bool aggregate(struct event_recorder *r, const char *agg_key, const char *msg)
{
  int64_t now = ktime_mono_ms();
  json_t *rec = json_object_get(r->similar, agg_key);
  if (rec && now - json_integer_value(json_object_get(rec, "last_ms")) > r->window_ms) rec = NULL;
  rec = rec ? json_incref(rec) : json_pack("{s:{},s:I}", "msgs", "last_ms", (json_int_t)now);
  if (!rec) return false;
  json_t *msgs = json_object_get(rec, "msgs");
  json_object_set_new(msgs, msg, json_true());
  json_object_set_new(rec, "last_ms", json_integer(now));
  bool combine = json_object_size(msgs) >= RECORDER_AGGREGATE_MAX_EVENTS;
  if (combine) {
    /* Keep the set from growing past the threshold. */
    void *it = json_object_iter(msgs);
    if (it) json_object_del(msgs, json_object_iter_key(it));
  }
  lru_set(r, r->similar, agg_key, rec);
  json_decref(rec);
  return combine;
}

static void write_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct rec_write *w = arg;
  struct event_recorder *r = w->r;
  json_t *entry = json_object_get(r->seen, w->key);
  if (err && !(err->code == 404 && !w->create)) {
    json_t *ev = json_object_get(entry, "event");
    KLOG_W("Server rejected event '%s/%s' (will not retry!): %s", kj_get_str(ev, "metadata.namespace"),
           kj_get_str(ev, "metadata.name"), err->message ? err->message : "");
  } else if (err) {
  } else if (w->create) {
    r->created++;
  } else {
    r->patched++;
  }
  if (entry) {
    json_object_set_new(entry, "busy", json_false());
    if (err && err->code == 404 && !w->create) {
      /* The Event expired on the server: create it again. */
      json_object_set_new(entry, "dirty", json_false());
      send_write(r, w->key, entry, true);
    } else if (json_is_true(json_object_get(entry, "dirty"))) {
      json_object_set_new(entry, "dirty", json_false());
      send_write(r, w->key, entry, false);
    }
  }
  write_free(w);
}

static void send_write(struct event_recorder *r, const char *key, json_t *entry, bool create)
{
  json_t *ev = json_object_get(entry, "event");
  char *path = NULL;
  const char *ns = kj_get_str(ev, "metadata.namespace"), *name = kj_get_str(ev, "metadata.name");
  struct rec_write *w = xcalloc(1, sizeof *w);
  if (!w) return;
  w->r = r;
  w->key = xstrdup(key);
  w->create = create;
  json_t *body;
  if (create) {
    if (asprintf(&path, "/api/v1/namespaces/%s/events", ns) < 0) path = NULL;
    body = json_incref(ev);
  } else {
    if (asprintf(&path, "/api/v1/namespaces/%s/events/%s", ns, name) < 0) path = NULL;
    body = json_pack("{s:O,s:O,s:O}", "count", json_object_get(ev, "count"), "lastTimestamp",
                     json_object_get(ev, "lastTimestamp"), "message", json_object_get(ev, "message"));
  }
  if (path && w->key && body) {
    w->req = rest_request_ct(r->client, create ? "POST" : "PATCH", path,
                             create ? NULL : "application/strategic-merge-patch+json", body, write_done, w);
    rest_request_discard_body(w->req);
  }
  json_decref(body);
  free(path);
  if (!w->req) {
    free(w->key);
    free(w);
    return;
  }
  w->next = r->writes;
  if (r->writes) r->writes->prev = w;
  r->writes = w;
  json_object_set_new(entry, "busy", json_true());
}

void recorder_eventf(struct event_recorder *r, const json_t *obj, const char *type, const char *reason, const char *fmt,
                     ...)
{
  char *msg = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  if (!msg) return;
  json_t *ref = make_ref(obj);
  /* as upstream's structured logging of the event broadcaster */
  KLOG_V(3, "Event occurred object=\"%s/%s\" fieldPath=\"%s\" kind=\"%s\" apiVersion=\"%s\" type=\"%s\" "
            "reason=\"%s\" message=\"%s\"",
         s_or(ref, "namespace"), s_or(ref, "name"), s_or(ref, "fieldPath"), s_or(ref, "kind"), s_or(ref, "apiVersion"),
         type, reason, msg);
  const char *host = r->host ? r->host : "";
  char *spam_key = NULL, *key = NULL, *agg_key = NULL;
  if (asprintf(&spam_key, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", r->component, host, s_or(ref, "kind"),
               s_or(ref, "namespace"), s_or(ref, "name"), s_or(ref, "uid"), s_or(ref, "apiVersion")) < 0)
    spam_key = NULL;
  if (spam_key && asprintf(&agg_key, "%s\x1f%s\x1f%s\x1f%s", spam_key, s_or(ref, "fieldPath"), type, reason) < 0)
    agg_key = NULL;
  if (!agg_key) goto out;

  if (!spam_allow(r, spam_key)) {
    r->dropped++;
    KLOG_V(4, "dropping event %s %s for %s/%s: too many events", type, reason, s_or(ref, "namespace"),
           s_or(ref, "name"));
    goto out;
  }
  if (aggregate(r, agg_key, msg)) {
    char *combined = NULL;
    if (asprintf(&combined, RECORDER_COMBINED_PREFIX "%s", msg) < 0) goto out;
    free(msg);
    msg = combined;
    key = xstrdup(agg_key);
  } else if (asprintf(&key, "%s\x1f%s", agg_key, msg) < 0) {
    key = NULL;
  }
  if (!key) goto out;

  int64_t now_ms = ktime_mono_ms();
  char ts[40];
  ktime_now_str(ts);
  json_t *entry = json_object_get(r->seen, key);
  if (entry && now_ms - json_integer_value(json_object_get(entry, "last_ms")) <= r->window_ms) {
    json_incref(entry);
    json_t *ev = json_object_get(entry, "event");
    json_object_set_new(ev, "count", json_integer(json_integer_value(json_object_get(ev, "count")) + 1));
    json_object_set_new(ev, "lastTimestamp", json_string(ts));
    json_object_set_new(ev, "message", json_string(msg)); /* combined events show the latest */
    json_object_set_new(entry, "last_ms", json_integer(now_ms));
    lru_set(r, r->seen, key, entry);
    if (json_is_true(json_object_get(entry, "busy"))) json_object_set_new(entry, "dirty", json_true());
    else send_write(r, key, entry, false);
    json_decref(entry);
    goto out;
  }

  const char *ns = s_or(ref, "namespace");
  char name[320];
  snprintf(name, sizeof name, "%s.%llx", s_or(ref, "name"), (unsigned long long)ktime_now_us() * 1000ULL);
  json_t *ev =
      json_pack("{s:s,s:s,s:{s:s,s:s},s:O,s:s,s:s,s:{s:s},s:s,s:s,s:i,s:s,s:n,s:s,s:s}", "apiVersion", "v1", "kind",
                "Event", "metadata", "name", name, "namespace", *ns ? ns : "default", "involvedObject", ref, "reason",
                reason, "message", msg, "source", "component", r->component, "firstTimestamp", ts, "lastTimestamp", ts,
                "count", 1, "type", type, "eventTime", "reportingComponent", r->component, "reportingInstance", host);
  if (!ev) goto out;
  if (r->host) kj_set_str(ev, "source.host", r->host);
  entry = json_pack("{s:o,s:I,s:b,s:b}", "event", ev, "last_ms", (json_int_t)now_ms, "busy", 0, "dirty", 0);
  if (entry) {
    lru_set(r, r->seen, key, entry);
    send_write(r, key, entry, true);
    json_decref(entry);
  }
out:
  json_decref(ref);
  free(spam_key);
  free(agg_key);
  free(key);
  free(msg);
}
