/*
 * objcache.c - watched ConfigMaps and Secrets (see objcache.h).
 */
#define _GNU_SOURCE
#include "objcache.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/xalloc.h"
#include "kubelet.h"
#include "pods_internal.h"

struct entry {
  struct kl_objcache *c;
  struct entry *next;
  char kind[32]; /* the longest: "PersistentVolumeClaim" */
  char ns[256];
  char name[256];
  struct informer *inf;
  json_t *obj;   /* current object or NULL (owned) */
  json_t *users; /* pod uid -> true */
  bool synced;   /* users were told the first list is in */
};

struct kl_objcache {
  struct kubelet *k;
  struct kl_pods *m;
  struct entry *head;
  struct event *poll; /* watches for first lists that found nothing */
};

#define SYNC_POLL_MS 100

static void notify(struct entry *e)
{
  KLOG_V(3, "%s %s/%s changed", e->kind, e->ns, e->name);
  const char *uid;
  json_t *v;
  json_object_foreach (e->users, uid, v) {
    struct kl_pod *p = kl_pod_get(e->c->m, uid);
    if (p) kl_pod_enqueue(p);
  }
}

/* An object that does not exist raises no handler: tell its users when
 * the first list is in, so that they stop waiting for it. */
static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
  struct kl_objcache *c = arg;
  bool waiting = false;
  for (struct entry *e = c->head; e; e = e->next) {
    if (e->synced) continue;
    if (informer_has_synced(e->inf)) {
      e->synced = true;
      notify(e);
    } else {
      waiting = true;
    }
  }
  if (waiting) {
    struct timeval tv = {0, SYNC_POLL_MS * 1000};
    evtimer_add(c->poll, &tv);
  }
}

static void on_add(void *arg, const json_t *obj)
{
  struct entry *e = arg;
  e->synced = true;
  json_decref(e->obj);
  e->obj = kj_deep_copy(obj);
  notify(e);
}

static void on_update(void *arg, const json_t *old, const json_t *obj) { on_add(arg, obj); }

static void on_delete(void *arg, const json_t *obj, bool unknown)
{
  struct entry *e = arg;
  json_decref(e->obj);
  e->obj = NULL;
  notify(e);
}

static struct entry *find(struct kl_objcache *c, const char *kind, const char *ns, const char *name)
{
  for (struct entry *e = c->head; e; e = e->next)
    if (!strcmp(e->kind, kind) && !strcmp(e->ns, ns) && !strcmp(e->name, name)) return e;
  return NULL;
}

static const char *kind_path(const char *kind)
{
  if (!strcmp(kind, "Secret")) return "/api/v1/secrets";
  if (!strcmp(kind, "PersistentVolumeClaim")) return "/api/v1/persistentvolumeclaims";
  if (!strcmp(kind, "PersistentVolume")) return "/api/v1/persistentvolumes";
  if (!strcmp(kind, "ServiceAccount")) return "/api/v1/serviceaccounts";
  return "/api/v1/configmaps";
}

static struct entry *add(struct kl_objcache *c, const char *kind, const char *ns, const char *name)
{
  struct entry *e = xcalloc(1, sizeof *e);
  if (!e) return NULL;
  e->c = c;
  snprintf(e->kind, sizeof e->kind, "%s", kind);
  snprintf(e->ns, sizeof e->ns, "%s", ns);
  snprintf(e->name, sizeof e->name, "%s", name);
  e->users = json_object();
  char sel[300];
  snprintf(sel, sizeof sel, "metadata.name=%s", name);
  struct informer_opts o = {.path = kind_path(kind),
                            .namespace = ns,
                            .field_selector = sel,
                            .keep_parsed = true,
                            .drop_managed_fields = true};
  e->inf = informer_new(c->k->base, c->k->client, &o);
  if (!e->inf) {
    json_decref(e->users);
    free(e);
    return NULL;
  }
  struct informer_handlers h = {on_add, on_update, on_delete, e};
  informer_add_handlers(e->inf, &h);
  informer_start(e->inf);
  e->next = c->head;
  c->head = e;
  return e;
}

int kl_objcache_get(struct kl_objcache *c, const char *pod_uid, const char *kind, const char *ns, const char *name,
                    const json_t **out)
{
  struct entry *e = find(c, kind, ns, name);
  if (!e && !(e = add(c, kind, ns, name))) return -ENOMEM;
  json_object_set_new(e->users, pod_uid, json_true());
  if (e->obj) {
    *out = e->obj;
    return 0;
  }
  if (informer_has_synced(e->inf)) return -ENOENT;
  if (!evtimer_pending(c->poll, NULL)) {
    struct timeval tv = {0, SYNC_POLL_MS * 1000};
    evtimer_add(c->poll, &tv);
  }
  return -EAGAIN;
}

static void entry_free(struct entry *e)
{
  informer_free(e->inf);
  json_decref(e->obj);
  json_decref(e->users);
  free(e);
}

void kl_objcache_release(struct kl_objcache *c, const char *pod_uid)
{
  if (!c) return;
  struct entry **pp = &c->head;
  while (*pp) {
    struct entry *e = *pp;
    json_object_del(e->users, pod_uid);
    if (json_object_size(e->users) == 0) {
      *pp = e->next;
      entry_free(e);
    } else {
      pp = &e->next;
    }
  }
}

struct kl_objcache *kl_objcache_new(struct kubelet *k, struct kl_pods *m)
{
  struct kl_objcache *c = xcalloc(1, sizeof *c);
  if (!c) return NULL;
  c->k = k;
  c->m = m;
  c->poll = evtimer_new(k->base, poll_cb, c);
  if (!c->poll) {
    free(c);
    return NULL;
  }
  return c;
}

void kl_objcache_free(struct kl_objcache *c)
{
  if (!c) return;
  while (c->head) {
    struct entry *e = c->head;
    c->head = e->next;
    entry_free(e);
  }
  event_free(c->poll);
  free(c);
}
