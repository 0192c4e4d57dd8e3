/*
 * pods.c - the pod set and its workers (see pods.h, pods_internal.h).
 *
 * Sources: an informer on the pods bound to this node (field selector
 * spec.nodeName) and the static pod directory (static_pods.c).  Mirror
 * pods seen in the API are not desired pods: they only tell the static
 * pod source that the mirror exists.
 *
 * Workers: a workqueue keyed by pod UID guarantees one sync per pod at a
 * time.  A sync acts on the PLEG's view of the runtime; after a sync that
 * changed something, the next sync of that pod waits until a relist that
 * started after it ended has completed (upstream's "cache newer than"),
 * so a container just started is never started twice.  The PLEG is asked
 * to relist at once, so that wait is short.
 *
 * A record is dropped when the pod left its source, its containers and
 * sandboxes are gone from the runtime and its node-side state (pod
 * directory, cgroups, network) was released.
 */
#define _GNU_SOURCE
#include "pods.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "images.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/podutil.h"
#include "kube/log.h"
#include "kube/restclient.h"
#include "kube/recorder.h"
#include "kube/timeutil.h"
#include "kube/workqueue.h"
#include "kube/xalloc.h"
#include "objcache.h"
#include "pods_internal.h"
#include "probes.h"
#include "runtime/runtime.h"
#include "static_pods.h"
#include "volumes.h"

#define SYNC_WORKERS 64
#define HOUSEKEEPING_MS 2000

/* ---- records ---- */

struct kl_pod *kl_pod_get(struct kl_pods *m, const char *uid)
{
  for (struct kl_pod *p = m->head; p; p = p->next)
    if (!strcmp(p->uid, uid)) return p;
  return NULL;
}

static void pod_timer_cb(evutil_socket_t fd, short what, void *arg);

struct kl_pod *kl_pod_ensure(struct kl_pods *m, const char *uid)
{
  struct kl_pod *p = kl_pod_get(m, uid);
  if (p) return p;
  p = xcalloc(1, sizeof *p);
  if (!p) return NULL;
  p->mgr = m;
  snprintf(p->uid, sizeof p->uid, "%s", uid);
  p->sandboxes = json_array();
  p->containers = json_array();
  p->timer = evtimer_new(m->k->base, pod_timer_cb, p);
  p->next = m->head;
  if (m->head) m->head->prev = p;
  m->head = p;
  m->count++;
  return p;
}

static void cstate_clear(struct kl_cstate *c)
{
  for (int i = 0; i < KL_PROBE_KINDS; i++) kl_probe_free(c->probes[i]);
  free(c->term_msg);
}

static void pod_free(struct kl_pod *p)
{
  struct kl_pods *m = p->mgr;
  if (p->prev) p->prev->next = p->next;
  else if (m->head == p) m->head = p->next;
  if (p->next) p->next->prev = p->prev;
  m->count--;
  kl_objcache_release(m->objs, p->uid);
  if (p->status_req) rest_cancel(p->status_req);
  if (p->delete_req) rest_cancel(p->delete_req);
  for (size_t i = 0; i < p->ncs; i++) cstate_clear(&p->cs[i]);
  free(p->cs);
  if (p->timer) event_free(p->timer);
  json_decref(p->pod);
  json_decref(p->sandboxes);
  json_decref(p->containers);
  json_decref(p->status_sent);
  free(p);
}

struct kl_cstate *kl_pod_cstate(struct kl_pod *p, const char *name)
{
  for (size_t i = 0; i < p->ncs; i++)
    if (!strcmp(p->cs[i].name, name)) return &p->cs[i];
  struct kl_cstate *n = xrealloc(p->cs, (p->ncs + 1) * sizeof *n);
  if (!n) return NULL;
  p->cs = n;
  struct kl_cstate *c = &p->cs[p->ncs++];
  memset(c, 0, sizeof *c);
  snprintf(c->name, sizeof c->name, "%s", name);
  c->started = false;
  return c;
}

char *kl_pod_dir(const struct kl_pod *p, const char *sub, char *out, size_t len)
{
  snprintf(out, len, "%s/pods/%s%s%s", p->mgr->k->cfg->root_dir, p->uid, sub ? "/" : "", sub ? sub : "");
  return out;
}

void kl_pod_event(struct kl_pod *p, const char *type, const char *reason, const char *fmt, ...)
{
  if (!p->pod) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *ref = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", "Pod", "apiVersion", "v1", "namespace", p->ns, "name",
                          p->name, "uid", kj_get_str(p->pod, "metadata.uid") ?: p->uid);
  const char *rv = kj_get_str(p->pod, "metadata.resourceVersion");
  if (rv) json_object_set_new(ref, "resourceVersion", json_string(rv));
  recorder_eventf(p->mgr->k->recorder, ref, type, reason, "%s", msg);
  json_decref(ref);
}

/* ---- the queue ---- */

void kl_pod_enqueue(struct kl_pod *p) { workqueue_add(p->mgr->q, p->uid); }

static void pod_timer_cb(evutil_socket_t fd, short what, void *arg)
{
  struct kl_pod *p = arg;
  p->timer_at_ms = 0;
  kl_pod_enqueue(p);
}

void kl_pod_enqueue_after(struct kl_pod *p, int64_t delay_ms)
{
  if (delay_ms <= 0) {
    kl_pod_enqueue(p);
    return;
  }
  int64_t at = ktime_mono_ms() + delay_ms;
  if (p->timer_at_ms && p->timer_at_ms <= at) return; /* an earlier wake-up is armed */
  p->timer_at_ms = at;
  struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
  evtimer_add(p->timer, &tv);
}

/* Nothing left of the pod anywhere: forget it. */
static bool pod_finished(const struct kl_pod *p)
{
  return !p->pod && p->cleaned && json_array_size(p->sandboxes) == 0 && json_array_size(p->containers) == 0 &&
         !p->status_inflight;
}

struct sync_ctx {
  struct kl_pods *m;
  char uid[64];
};

static void sync_done(void *arg)
{
  struct sync_ctx *s = arg;
  struct kl_pods *m = s->m;
  m->syncing--;
  struct kl_pod *p = kl_pod_get(m, s->uid);
  if (p) {
    p->syncing = false;
    kl_pod_status_sync(p);
    if (pod_finished(p)) {
      KLOG_V(2, "pod %s/%s (%s) is gone", p->ns, p->name, p->uid);
      pod_free(p);
      p = NULL;
    }
  }
  workqueue_done(m->q, s->uid);
  if (p && p->resync) {
    p->resync = false;
    kl_pod_enqueue(p);
  }
  free(s);
}

/* Upstream's sourcesReady: a pod the runtime has but no source wants is
 * an orphan, killed and cleaned up, only once every source delivered its
 * pods; before that it may just not have been listed yet (a restart). */
static bool sources_ready(const struct kl_pods *m)
{
  return informer_has_synced(m->inf) && kl_static_scanned(m->statics);
}

static void process(void *arg, struct workqueue *q, const char *uid)
{
  struct kl_pods *m = arg;
  struct kl_pod *p = kl_pod_get(m, uid);
  if (!p || m->stopping) {
    workqueue_done(q, uid);
    return;
  }
  if (!kl_pleg_synced(m->pleg) || kl_pleg_cache_time(m->pleg) < p->cache_after_ms) {
    p->queued_for_relist = true; /* the PLEG requeues it after its next relist */
    kl_pleg_relist_soon(m->pleg);
    workqueue_done(q, uid);
    return;
  }
  if (!p->pod && !sources_ready(m)) {
    m->orphans_waiting = true; /* housekeeping requeues it */
    workqueue_done(q, uid);
    return;
  }
  struct sync_ctx *s = xcalloc(1, sizeof *s);
  s->m = m;
  snprintf(s->uid, sizeof s->uid, "%s", uid);
  p->syncing = true;
  m->syncing++;
  kl_pod_sync(p, sync_done, s);
}

/* ---- sources ---- */

void kl_pods_set_desired(struct kl_pods *m, const char *uid, const json_t *pod, bool is_static)
{
  if (m->stopping) return;
  struct kl_pod *p = pod ? kl_pod_ensure(m, uid) : kl_pod_get(m, uid);
  if (!p) return;
  json_t *old = p->pod;
  p->pod = pod ? kj_deep_copy(pod) : NULL;
  if (pod) {
    p->is_static = is_static;
    snprintf(p->ns, sizeof p->ns, "%s", kj_get_str(pod, "metadata.namespace") ?: "");
    snprintf(p->name, sizeof p->name, "%s", kj_get_str(pod, "metadata.name") ?: "");
  }
  json_decref(old);
  kl_pod_enqueue(p);
}

static bool is_mirror(const json_t *pod)
{
  return kj_get_str(pod, "metadata.annotations[\"" KL_MIRROR_ANNOTATION "\"]") != NULL;
}

static void pod_add(void *arg, const json_t *pod)
{
  struct kl_pods *m = arg;
  if (m->stopping) return;
  if (is_mirror(pod)) {
    kl_static_mirror_seen(m->statics, pod, false);
    return;
  }
  const char *uid = kj_get_str(pod, "metadata.uid");
  if (uid) kl_pods_set_desired(m, uid, pod, false);
}

static void pod_update(void *arg, const json_t *old, const json_t *pod) { pod_add(arg, pod); }

static void pod_delete(void *arg, const json_t *pod, bool unknown)
{
  struct kl_pods *m = arg;
  if (m->stopping) return;
  if (is_mirror(pod)) {
    kl_static_mirror_seen(m->statics, pod, true);
    return;
  }
  const char *uid = kj_get_str(pod, "metadata.uid");
  if (uid) kl_pods_set_desired(m, uid, NULL, false);
}

/* ---- housekeeping ---- */

static void housekeeping(evutil_socket_t fd, short what, void *arg)
{
  struct kl_pods *m = arg;
  static const int64_t period = HOUSEKEEPING_MS;
  int64_t now = ktime_mono_ms();
  bool orphans = m->orphans_waiting && sources_ready(m);
  if (orphans) m->orphans_waiting = false;
  for (struct kl_pod *p = m->head; p; p = p->next) {
    if (orphans && !p->pod) {
      kl_pod_enqueue(p);
      continue;
    }
    /* Periodic resync (syncFrequency) and pods whose termination waits. */
    if (p->terminating && !p->terminated) kl_pod_enqueue(p);
    else if (!p->syncing && now - p->cache_after_ms > m->k->cfg->sync_frequency_ms) kl_pod_enqueue(p);
  }
  struct timeval tv = {period / 1000, (period % 1000) * 1000};
  evtimer_add(m->housekeeping, &tv);
}

/* ---- public ---- */

struct kl_pods *kl_pods_new(struct kubelet *k)
{
  struct kl_pods *m = xcalloc(1, sizeof *m);
  if (!m) return NULL;
  m->k = k;
  char sel[300];
  snprintf(sel, sizeof sel, "spec.nodeName=%s", k->node_name);
  struct informer_opts o = {
      .path = "/api/v1/pods", .field_selector = sel, .keep_parsed = true, .drop_managed_fields = true};
  m->inf = informer_new(k->base, k->client, &o);
  struct informer_opts so = {.path = "/api/v1/services", .keep_parsed = true, .drop_managed_fields = true};
  m->svc_inf = informer_new(k->base, k->client, &so);
  m->q = workqueue_new(k->base, "pods");
  m->pleg = kl_pleg_new(m);
  m->images = kl_images_new(k);
  m->objs = kl_objcache_new(k, m);
  m->tokens = kl_tokens_new(k);
  m->statics = kl_static_new(m);
  m->handlers = kl_handlers_new(k);
  m->housekeeping = evtimer_new(k->base, housekeeping, m);
  if (!m->inf || !m->svc_inf || !m->q || !m->pleg || !m->images || !m->objs || !m->tokens || !m->statics ||
      !m->handlers || !m->housekeeping) {
    kl_pods_free(m);
    return NULL;
  }
  workqueue_set_rate_limits(m->q, 5, 1000, 0, 0);
  struct informer_handlers h = {pod_add, pod_update, pod_delete, m};
  informer_add_handlers(m->inf, &h);
  return m;
}

void kl_pods_start(struct kl_pods *m)
{
  m->started = true;
  informer_start(m->inf);
  informer_start(m->svc_inf);
  kl_pleg_start(m->pleg);
  kl_images_start(m->images);
  kl_static_start(m->statics);
  workqueue_run(m->q, SYNC_WORKERS, process, m);
  struct timeval tv = {HOUSEKEEPING_MS / 1000, 0};
  evtimer_add(m->housekeeping, &tv);
}

void kl_pods_stop(struct kl_pods *m)
{
  m->stopping = true;
  workqueue_shutdown(m->q);
  evtimer_del(m->housekeeping);
  kl_pleg_stop(m->pleg);
  kl_static_free(m->statics);
  m->statics = NULL;
  for (struct kl_pod *p = m->head; p; p = p->next) {
    kl_probes_stop(p);
    evtimer_del(p->timer);
  }
}

bool kl_pods_idle(const struct kl_pods *m) { return m->syncing == 0 && kl_handlers_inflight(m->handlers) == 0; }

void kl_pods_free(struct kl_pods *m)
{
  if (!m) return;
  if (m->housekeeping) event_free(m->housekeeping);
  if (m->statics) kl_static_free(m->statics);
  if (m->inf) informer_free(m->inf);
  if (m->svc_inf) informer_free(m->svc_inf);
  while (m->head) pod_free(m->head);
  if (m->pleg) kl_pleg_free(m->pleg);
  if (m->objs) kl_objcache_free(m->objs);
  if (m->tokens) kl_tokens_free(m->tokens);
  if (m->handlers) kl_handlers_free(m->handlers);
  if (m->images) kl_images_free(m->images);
  if (m->q) workqueue_free(m->q);
  free(m);
}

json_t *kl_pods_list(struct kl_pods *m)
{
  json_t *items = json_array();
  for (struct kl_pod *p = m->head; p; p = p->next) {
    if (!p->pod) continue;
    json_t *pod = kj_deep_copy(p->pod);
    json_object_set_new(pod, "status", kl_pod_status(p));
    json_array_append_new(items, pod);
  }
  return json_pack("{s:s, s:s, s:{}, s:o}", "kind", "PodList", "apiVersion", "v1", "metadata", "items", items);
}

static struct kl_pod *find(struct kl_pods *m, const char *ns, const char *name)
{
  for (struct kl_pod *p = m->head; p; p = p->next)
    if (p->pod && !strcmp(p->ns, ns) && !strcmp(p->name, name)) return p;
  return NULL;
}

json_t *kl_pods_find(struct kl_pods *m, const char *ns, const char *name)
{
  struct kl_pod *p = find(m, ns, name);
  if (!p) return NULL;
  json_t *pod = kj_deep_copy(p->pod);
  json_object_set_new(pod, "status", kl_pod_status(p));
  return pod;
}

int kl_pods_container_id(struct kl_pods *m, const char *ns, const char *name, const char *container, bool previous,
                         char *id, size_t idlen, char *waiting, size_t wlen)
{
  struct kl_pod *p = find(m, ns, name);
  if (!p || !pod_find_container(p->pod, container, POD_CONTAINER_APP | POD_CONTAINER_INIT)) return -ENOENT;
  json_t *prev = NULL;
  json_t *cur = kl_pod_latest_container(p, container, &prev);
  json_t *want = previous ? prev : cur;
  if (!want) {
    struct kl_cstate *c = kl_pod_cstate(p, container);
    snprintf(waiting, wlen, "%s", c && c->reason[0] ? c->reason : (previous ? "" : "ContainerCreating"));
    return previous ? -ENOENT : -EAGAIN;
  }
  snprintf(id, idlen, "%s", kj_get_str(want, "status.id") ?: "");
  return 0;
}

int kl_pods_sandbox_pid(struct kl_pods *m, const char *ns, const char *name)
{
  struct kl_pod *p = find(m, ns, name);
  if (!p) return -ENOENT;
  json_t *sb = kl_pod_ready_sandbox(p);
  int pid = sb ? (int)kj_get_int(sb, "info.pid", 0) : 0;
  return pid > 0 ? pid : -EAGAIN;
}

size_t kl_pods_running(const struct kl_pods *m)
{
  size_t n = 0;
  for (struct kl_pod *p = m->head; p; p = p->next) {
    size_t i;
    json_t *c;
    json_array_foreach (p->containers, i, c) {
      if (!strcmp(kj_get_str(c, "status.state") ?: "", KL_CONTAINER_RUNNING)) {
        n++;
        break;
      }
    }
  }
  return n;
}
