/*
 * pleg.c - the pod lifecycle event generator: the kubelet's view of the
 * runtime (upstream's generic PLEG plus its pod cache).
 *
 * Every RELIST_PERIOD_MS, and at once when the runtime reports an event
 * or a pod worker asks, the sandboxes and containers of this node are
 * listed.  Those that are new or whose state changed since the previous
 * relist are inspected (the list alone lacks exit codes and times); those
 * gone are dropped.  Then every pod whose objects changed gets its
 * sandboxes and containers (newest first) and is queued for a sync, and
 * so is every pod that was waiting for a relist newer than its last sync.
 * Runtime objects of a pod no source knows (it was deleted while the
 * kubelet was down) get a record without a desired pod, so their worker
 * stops and removes them (once every pod source has been heard from).
 *
 * An inspection that fails (not "no such container") keeps the object's
 * previous status and holds the pod's update back until a relist inspects
 * it: a pod never looks as if a container or sandbox it has were gone,
 * which would start them again (upstream's podsToReinspect).
 *
 * kl_pleg_cache_time() is the start of the last completed relist: a sync
 * that ended before it saw the effects of its own actions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/log.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "pods_internal.h"
#include "runtime/runtime.h"

#define RELIST_PERIOD_MS 1000

struct kl_pleg {
  struct kl_pods *m;
  struct event *timer;
  bool relisting, again, synced, watching, stopped;
  int64_t start_ms, cache_ms;
  int pending;
  bool failed;
  json_t *sb_items, *c_items; /* this relist's lists */
  json_t *seen;               /* id -> {"state","uid","sandbox"} as of the last relist */
  json_t *statuses;           /* id -> {"status","info"} */
  json_t *changed;            /* uid -> true */
  json_t *held;               /* uid -> true: an inspection failed this relist */
  json_t *reinspect;          /* id -> true: inspect at the next relist even if unchanged */
};

static void relist(struct kl_pleg *g);

static void timer_cb(evutil_socket_t fd, short what, void *arg) { relist(arg); }

static void schedule(struct kl_pleg *g, int64_t ms)
{
  if (g->stopped) return;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  evtimer_add(g->timer, &tv);
}

void kl_pleg_relist_soon(struct kl_pleg *g)
{
  if (g->relisting) g->again = true;
  else schedule(g, 0);
}

int64_t kl_pleg_cache_time(const struct kl_pleg *g) { return g->cache_ms; }
bool kl_pleg_synced(const struct kl_pleg *g) { return g->synced; }

static const char *uid_of(const json_t *obj)
{
  const char *uid = kj_get_str(obj, "labels[\"" KL_LABEL_POD_UID "\"]");
  return uid ? uid : kj_get_str(obj, "metadata.uid");
}

static int by_created_desc(const void *a, const void *b)
{
  int64_t ca = kj_get_int(*(json_t *const *)a, "status.createdAt", 0);
  int64_t cb = kj_get_int(*(json_t *const *)b, "status.createdAt", 0);
  return ca < cb ? 1 : ca > cb ? -1 : 0;
}

/* The pod's sandboxes or containers from the status map, newest first. */
static json_t *pod_objects(struct kl_pleg *g, const char *uid, bool sandboxes)
{
  size_t n = 0;
  const char *id;
  json_t *st;
  json_t **arr = xcalloc(json_object_size(g->statuses) + 1, sizeof *arr);
  json_object_foreach (g->statuses, id, st) {
    json_t *s = json_object_get(g->seen, id);
    if (!s || kj_get_bool(s, "sandbox", false) != sandboxes) continue;
    if (strcmp(kj_get_str(s, "uid") ?: "", uid)) continue;
    arr[n++] = st;
  }
  qsort(arr, n, sizeof *arr, by_created_desc);
  json_t *out = json_array();
  for (size_t i = 0; i < n; i++) json_array_append(out, arr[i]);
  free(arr);
  return out;
}

static void publish(struct kl_pleg *g)
{
  struct kl_pods *m = g->m;
  const char *uid;
  json_t *v;
  json_t *tmp;
  json_object_foreach_safe (g->changed, tmp, uid, v) {
    if (json_object_get(g->held, uid)) continue; /* stays changed */
    struct kl_pod *p = kl_pod_ensure(m, uid);
    json_object_del(g->changed, uid); /* uid is freed: p->uid from here */
    if (!p) continue;
    json_decref(p->sandboxes);
    json_decref(p->containers);
    p->sandboxes = pod_objects(g, p->uid, true);
    p->containers = pod_objects(g, p->uid, false);
    if (!p->pod && !p->name[0]) {
      /* An orphan: name it from the runtime's labels for logs. */
      json_t *any = json_array_get(p->sandboxes, 0) ?: json_array_get(p->containers, 0);
      snprintf(p->ns, sizeof p->ns, "%s", kj_get_str(any, "status.labels[\"" KL_LABEL_POD_NAMESPACE "\"]") ?: "");
      snprintf(p->name, sizeof p->name, "%s", kj_get_str(any, "status.labels[\"" KL_LABEL_POD_NAME "\"]") ?: "");
    }
    kl_pod_enqueue(p);
  }
  for (struct kl_pod *p = m->head; p; p = p->next) {
    if (!p->queued_for_relist) continue;
    p->queued_for_relist = false;
    kl_pod_enqueue(p);
  }
}

static void finish(struct kl_pleg *g)
{
  struct kubelet *k = g->m->k;
  g->relisting = false;
  if (!g->failed) {
    g->cache_ms = g->start_ms;
    g->synced = true;
    k->relist_ok_ms = ktime_mono_ms();
    publish(g);
  }
  json_decref(g->sb_items);
  json_decref(g->c_items);
  g->sb_items = g->c_items = NULL;
  if (g->again) {
    g->again = false;
    schedule(g, 0);
  } else {
    schedule(g, RELIST_PERIOD_MS);
  }
}

static void status_done(void *arg, int err, json_t *res, const char *msg);

struct status_req {
  struct kl_pleg *g;
  char id[80];
  char uid[64];
};

static void mark_changed(struct kl_pleg *g, const char *uid)
{
  if (uid && *uid) json_object_set_new(g->changed, uid, json_true());
}

static void status_done(void *arg, int err, json_t *res, const char *msg)
{
  struct status_req *r = arg;
  struct kl_pleg *g = r->g;
  if (err == 0 && res) {
    json_object_set(g->statuses, r->id, res);
  } else if (err == -ENOENT) {
    json_object_del(g->statuses, r->id);
  } else {
    KLOG_V(2, "status of %s: %s", r->id, msg);
    if (*r->uid) json_object_set_new(g->held, r->uid, json_true());
    /* Without a status the next relist inspects it again; with one, when
     * the listed state differs from it. */
  }
  mark_changed(g, r->uid);
  free(r);
  if (--g->pending == 0) finish(g);
}

/* Compares this relist's lists with the last; inspects what changed. */
static void diff(struct kl_pleg *g)
{
  struct kl_runtime *rt = g->m->k->rt;
  json_t *now = json_object();
  const struct {
    json_t *items;
    bool sandbox;
  } lists[] = {{g->sb_items, true}, {g->c_items, false}};
  for (int l = 0; l < 2; l++) {
    size_t i;
    json_t *it;
    json_array_foreach (lists[l].items, i, it) {
      const char *id = kj_get_str(it, "id");
      if (!id) continue;
      json_object_set_new(now, id,
                          json_pack("{s:s, s:s, s:b}", "state", kj_get_str(it, "state") ?: "", "uid", uid_of(it) ?: "",
                                    "sandbox", lists[l].sandbox));
    }
  }
  const char *id;
  json_t *v, *tmp;
  json_object_foreach_safe (g->seen, tmp, id, v) {
    if (json_object_get(now, id)) continue;
    mark_changed(g, kj_get_str(v, "uid"));
    json_object_del(g->statuses, id);
    json_object_del(g->reinspect, id);
  }
  json_decref(g->seen);
  g->seen = now;
  g->pending = 1; /* released below, so that finish runs once */
  json_object_foreach (now, id, v) {
    json_t *st = json_object_get(g->statuses, id);
    const char *old_state = kj_get_str(st, "status.state");
    bool sandbox = kj_get_bool(v, "sandbox", false);
    const char *state = kj_get_str(v, "state") ?: "";
    /* The list's CREATED of a container whose start failed is EXITED once
     * inspected: no change then. */
    bool same = old_state && (!strcmp(old_state, state) || (!sandbox && !strcmp(state, KL_CONTAINER_CREATED) &&
                                                            !strcmp(old_state, KL_CONTAINER_EXITED)));
    /* A start that fails leaves the list's state as it was: look again
     * at containers created but not started. */
    if (!sandbox && !strcmp(state, KL_CONTAINER_CREATED) && old_state && !strcmp(old_state, KL_CONTAINER_CREATED))
      same = false;
    if (st && same && !json_object_get(g->reinspect, id)) continue;
    json_object_del(g->reinspect, id);
    struct status_req *r = xcalloc(1, sizeof *r);
    r->g = g;
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->uid, sizeof r->uid, "%s", kj_get_str(v, "uid") ?: "");
    g->pending++;
    if (sandbox) rt->ops->pod_sandbox_status(rt, id, status_done, r);
    else rt->ops->container_status(rt, id, status_done, r);
  }
  if (--g->pending == 0) finish(g);
}

static void list_done(struct kl_pleg *g, int err, json_t *res, const char *msg, bool sandboxes)
{
  if (err) {
    if (!g->failed) KLOG_E("PLEG: relist failed: %s", msg);
    g->failed = true;
  } else if (sandboxes) {
    g->sb_items = json_incref(json_object_get(res, "items"));
  } else {
    g->c_items = json_incref(json_object_get(res, "containers"));
  }
  if (--g->pending > 0) return;
  if (g->failed) {
    finish(g);
    return;
  }
  diff(g);
}

static void sb_listed(void *arg, int err, json_t *res, const char *msg) { list_done(arg, err, res, msg, true); }
static void c_listed(void *arg, int err, json_t *res, const char *msg) { list_done(arg, err, res, msg, false); }

static void relist(struct kl_pleg *g)
{
  if (g->relisting) {
    g->again = true;
    return;
  }
  struct kl_runtime *rt = g->m->k->rt;
  g->relisting = true;
  g->failed = false;
  json_object_clear(g->held);
  g->start_ms = ktime_mono_ms();
  g->pending = 2;
  rt->ops->list_pod_sandbox(rt, sb_listed, g);
  rt->ops->list_containers(rt, c_listed, g);
}

static void on_runtime_event(void *arg, const json_t *ev)
{
  struct kl_pleg *g = arg;
  const char *type = kj_get_str(ev, "type") ?: "", *id = kj_get_str(ev, "containerId") ?: "";
  KLOG_V(4, "runtime event %s %s", type, id);
  /* The engine may report the exit before the OOM kill: inspect again. */
  if (!strcmp(type, KL_CONTAINER_OOM_EVENT) && *id) json_object_set_new(g->reinspect, id, json_true());
  kl_pleg_relist_soon(g);
}

struct kl_pleg *kl_pleg_new(struct kl_pods *m)
{
  struct kl_pleg *g = xcalloc(1, sizeof *g);
  if (!g) return NULL;
  g->m = m;
  g->timer = evtimer_new(m->k->base, timer_cb, g);
  g->seen = json_object();
  g->statuses = json_object();
  g->changed = json_object();
  g->held = json_object();
  g->reinspect = json_object();
  return g;
}

void kl_pleg_start(struct kl_pleg *g)
{
  struct kl_runtime *rt = g->m->k->rt;
  rt->ops->watch_events(rt, on_runtime_event, g);
  schedule(g, 0);
}

void kl_pleg_stop(struct kl_pleg *g)
{
  g->stopped = true;
  evtimer_del(g->timer);
}

void kl_pleg_free(struct kl_pleg *g)
{
  if (!g) return;
  if (g->timer) event_free(g->timer);
  json_decref(g->sb_items);
  json_decref(g->c_items);
  json_decref(g->seen);
  json_decref(g->statuses);
  json_decref(g->changed);
  json_decref(g->held);
  json_decref(g->reinspect);
  free(g);
}
