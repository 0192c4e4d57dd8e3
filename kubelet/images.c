/*
 * images.c - the image manager (see images.h).
 */
#define _GNU_SOURCE
#include "images.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/base64.h"
#include "kube/log.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "node_status.h"
#include "objcache.h"
#include "pause/pause_image.h"
#include "pods_internal.h"
#include "runtime/runtime.h"

#define IMAGES_REFRESH_MS 30000

struct pull {
  struct kl_images *im;
  struct pull *next;
  char uid[64];
  char container[64];
  char image[1024];
  json_t *auth;
  int64_t queued_ms;
  int64_t started_ms;
  void (*done)(void *arg, int rc, const char *ref, json_t *image);
  void *arg;
};

struct pause_wait {
  struct pause_wait *next;
  void (*done)(void *arg, int rc, const char *msg);
  void *arg;
};

struct kl_images {
  struct kubelet *k;
  struct pull *queue, *tail;
  bool pulling;
  bool pause_present, pause_busy;
  struct pause_wait *pause_waiters;
  struct event *refresh;
  bool refreshing;
};

const char *kl_image_pull_policy(const json_t *c)
{
  const char *p = kj_get_str(c, "imagePullPolicy");
  if (p && *p) return p;
  const char *image = kj_get_str(c, "image") ?: "";
  const char *slash = strrchr(image, '/');
  const char *colon = strrchr(slash ? slash : image, ':');
  if (strchr(image, '@')) return "IfNotPresent";
  if (!colon || !strcmp(colon + 1, "latest")) return "Always";
  return "IfNotPresent";
}

void kl_image_registry(const char *image, char *out, size_t len)
{
  const char *slash = strchr(image, '/');
  if (slash) {
    size_t n = (size_t)(slash - image);
    if (memchr(image, '.', n) || memchr(image, ':', n) || (n == 9 && !strncmp(image, "localhost", 9))) {
      snprintf(out, len, "%.*s", (int)n, image);
      return;
    }
  }
  snprintf(out, len, "docker.io");
}

static bool registry_matches(const char *key, const char *registry)
{
  /* keys are "host", "https://host", "https://host/v1/", ... */
  const char *h = key;
  if (!strncmp(h, "https://", 8)) h += 8;
  else if (!strncmp(h, "http://", 7)) h += 7;
  size_t n = strcspn(h, "/");
  if (!strcmp(registry, "docker.io") &&
      ((n == 15 && !strncmp(h, "index.docker.io", 15)) || (n == 9 && !strncmp(h, "docker.io", 9))))
    return true;
  return strlen(registry) == n && !strncmp(h, registry, n);
}

json_t *kl_image_auth_from_secret(const json_t *secret, const char *image)
{
  const char *type = kj_get_str(secret, "type") ?: "";
  const char *field = !strcmp(type, "kubernetes.io/dockercfg") ? ".dockercfg" : ".dockerconfigjson";
  const char *b64 = json_string_value(json_object_get(kj_get(secret, "data"), field));
  if (!b64) return NULL;
  unsigned char *raw = NULL;
  size_t n = 0, bad = 0;
  json_t *doc =
      kb64_decode(b64, strlen(b64), KB64_STD, &raw, &n, &bad) == 0 ? json_loadb((char *)raw, n, 0, NULL) : NULL;
  free(raw);
  json_t *auths = !strcmp(field, ".dockercfg") ? doc : json_object_get(doc, "auths");
  char registry[256];
  kl_image_registry(image, registry, sizeof registry);
  json_t *out = NULL;
  const char *key;
  json_t *v;
  json_object_foreach (auths, key, v) {
    if (!registry_matches(key, registry)) continue;
    out = json_pack("{s:s, s:s, s:s, s:s}", "username", kj_get_str(v, "username") ?: "", "password",
                    kj_get_str(v, "password") ?: "", "auth", kj_get_str(v, "auth") ?: "", "serverAddress", key);
    break;
  }
  json_decref(doc);
  return out;
}

/* ---- pulls ---- */

static void pull_next(struct kl_images *im);

static void cs_wait(struct kl_cstate *cs, const char *reason, const char *msg)
{
  if (!cs) return;
  snprintf(cs->reason, sizeof cs->reason, "%s", reason);
  snprintf(cs->message, sizeof cs->message, "%s", msg);
}

static void pull_done(void *arg, int err, json_t *res, const char *msg)
{
  struct pull *pl = arg;
  struct kl_images *im = pl->im;
  struct kl_pod *p = im->k->pods ? kl_pod_get(im->k->pods, pl->uid) : NULL;
  struct kl_cstate *cs = p ? kl_pod_cstate(p, pl->container) : NULL;
  im->pulling = false;
  int64_t now = ktime_mono_ms();
  if (err) {
    if (p) {
      kl_pod_event(p, "Warning", "Failed", "Failed to pull image \"%s\": %s", pl->image, msg);
      kl_pod_event(p, "Warning", "Failed", "Error: ErrImagePull");
    }
    if (cs) {
      cs->pull_backoff_ms = cs->pull_backoff_ms ? cs->pull_backoff_ms * 2 : KL_PULL_BACKOFF_INITIAL_MS;
      if (cs->pull_backoff_ms > KL_PULL_BACKOFF_MAX_MS) cs->pull_backoff_ms = KL_PULL_BACKOFF_MAX_MS;
      cs->pull_backoff_until_ms = now + cs->pull_backoff_ms;
      cs_wait(cs, "ErrImagePull", msg);
    }
    if (p) kl_pod_enqueue_after(p, cs ? cs->pull_backoff_ms : KL_PULL_BACKOFF_INITIAL_MS);
    pl->done(pl->arg, -1, NULL, NULL);
  } else {
    char took[64], waited[64];
    ktime_format_duration_ms(now - pl->started_ms, took, sizeof took);
    ktime_format_duration_ms(now - pl->queued_ms, waited, sizeof waited);
    if (p)
      kl_pod_event(p, "Normal", "Pulled", "Successfully pulled image \"%s\" in %s (%s including waiting)", pl->image,
                   took, waited);
    if (cs) cs->pull_backoff_ms = 0;
    pl->done(pl->arg, 0, kj_get_str(res, "imageRef"), NULL);
    kl_images_refresh(im);
  }
  json_decref(pl->auth);
  free(pl);
  pull_next(im);
}

static void pull_start(struct pull *pl)
{
  struct kl_images *im = pl->im;
  struct kl_pod *p = im->k->pods ? kl_pod_get(im->k->pods, pl->uid) : NULL;
  if (p) kl_pod_event(p, "Normal", "Pulling", "Pulling image \"%s\"", pl->image);
  im->pulling = true;
  pl->started_ms = ktime_mono_ms();
  im->k->rt->ops->pull_image(im->k->rt, pl->image, pl->auth, pull_done, pl);
}

static void pull_next(struct kl_images *im)
{
  while (im->queue && (!im->pulling || !im->k->cfg->serialize_image_pulls)) {
    struct pull *pl = im->queue;
    im->queue = pl->next;
    if (!im->queue) im->tail = NULL;
    pull_start(pl);
  }
}

/* Credentials of the pod's imagePullSecrets for image (new reference). */
static json_t *pod_auth(struct kl_images *im, struct kl_pod *p, const char *image)
{
  size_t i;
  json_t *ref;
  json_array_foreach (kj_get(p->pod, "spec.imagePullSecrets"), i, ref) {
    const json_t *secret = NULL;
    if (kl_objcache_get(im->k->pods->objs, p->uid, "Secret", p->ns, kj_get_str(ref, "name") ?: "", &secret) < 0)
      continue;
    json_t *auth = kl_image_auth_from_secret(secret, image);
    if (auth) return auth;
  }
  return NULL;
}

struct ensure {
  struct kl_images *im;
  char uid[64];
  char container[64];
  char image[1024];
  const char *policy;
  void (*done)(void *arg, int rc, const char *ref, json_t *image);
  void *arg;
};

static void ensure_status(void *arg, int err, json_t *res, const char *msg)
{
  struct ensure *e = arg;
  struct kl_images *im = e->im;
  struct kl_pod *p = kl_pod_get(im->k->pods, e->uid);
  struct kl_cstate *cs = p ? kl_pod_cstate(p, e->container) : NULL;
  bool present = err == 0;
  if (err && err != -ENOENT) {
    cs_wait(cs, "ErrImagePull", msg);
    e->done(e->arg, -1, NULL, NULL);
    free(e);
    return;
  }
  if (present && strcmp(e->policy, "Always")) {
    if (p) kl_pod_event(p, "Normal", "Pulled", "Container image \"%s\" already present on machine", e->image);
    e->done(e->arg, 0, kj_get_str(res, "image.id"), res);
    free(e);
    return;
  }
  if (!strcmp(e->policy, "Never")) {
    char m[1200];
    snprintf(m, sizeof m, "Container image \"%s\" is not present with pull policy of Never", e->image);
    if (p) kl_pod_event(p, "Warning", "ErrImageNeverPull", "%s", m);
    cs_wait(cs, "ErrImageNeverPull", m);
    e->done(e->arg, -1, NULL, NULL);
    free(e);
    return;
  }
  int64_t now = ktime_mono_ms();
  if (cs && cs->pull_backoff_until_ms > now) {
    char m[1200];
    snprintf(m, sizeof m, "Back-off pulling image \"%s\"", e->image);
    if (p) {
      kl_pod_event(p, "Normal", "BackOff", "%s", m);
      kl_pod_event(p, "Warning", "Failed", "Error: ImagePullBackOff");
      kl_pod_enqueue_after(p, cs->pull_backoff_until_ms - now);
    }
    cs_wait(cs, "ImagePullBackOff", m);
    e->done(e->arg, -1, NULL, NULL);
    free(e);
    return;
  }
  struct pull *pl = xcalloc(1, sizeof *pl);
  pl->im = im;
  snprintf(pl->uid, sizeof pl->uid, "%s", e->uid);
  snprintf(pl->container, sizeof pl->container, "%s", e->container);
  snprintf(pl->image, sizeof pl->image, "%s", e->image);
  pl->auth = p ? pod_auth(im, p, e->image) : NULL;
  pl->queued_ms = now;
  pl->done = e->done;
  pl->arg = e->arg;
  free(e);
  if (im->tail) im->tail->next = pl;
  else im->queue = pl;
  im->tail = pl;
  pull_next(im);
}

void kl_images_ensure(struct kl_images *im, struct kl_pod *p, const json_t *container,
                      void (*done)(void *arg, int rc, const char *ref, json_t *image), void *arg)
{
  const char *image = kj_get_str(container, "image");
  struct kl_cstate *cs = kl_pod_cstate(p, kj_get_str(container, "name") ?: "");
  if (!image || !*image || strpbrk(image, " \t\n")) {
    char m[1200];
    snprintf(m, sizeof m,
             "Failed to apply default image tag \"%s\": couldn't parse image name \"%s\": invalid reference format",
             image ? image : "", image ? image : "");
    kl_pod_event(p, "Warning", "InspectFailed", "%s", m);
    cs_wait(cs, "InvalidImageName", m);
    done(arg, -1, NULL, NULL);
    return;
  }
  struct ensure *e = xcalloc(1, sizeof *e);
  e->im = im;
  snprintf(e->uid, sizeof e->uid, "%s", p->uid);
  snprintf(e->container, sizeof e->container, "%s", cs ? cs->name : "");
  snprintf(e->image, sizeof e->image, "%s", image);
  e->policy = kl_image_pull_policy(container);
  e->done = done;
  e->arg = arg;
  im->k->rt->ops->image_status(im->k->rt, image, ensure_status, e);
}

/* ---- the sandbox image ---- */

static void pause_finish(struct kl_images *im, int rc, const char *msg)
{
  im->pause_busy = false;
  im->pause_present = rc == 0;
  struct pause_wait *w = im->pause_waiters;
  im->pause_waiters = NULL;
  while (w) {
    struct pause_wait *n = w->next;
    w->done(w->arg, rc, msg);
    free(w);
    w = n;
  }
}

static void pause_imported(void *arg, int err, json_t *res, const char *msg)
{
  struct kl_images *im = arg;
  if (err) KLOG_E("importing the sandbox image %s: %s", im->k->cfg->pause_image, msg);
  else
    KLOG_I("Imported the built-in sandbox image %s (%s)", im->k->cfg->pause_image, kj_get_str(res, "imageRef") ?: "");
  pause_finish(im, err, msg);
}

static void pause_status(void *arg, int err, json_t *res, const char *msg)
{
  struct kl_images *im = arg;
  if (err == 0) {
    pause_finish(im, 0, NULL);
    return;
  }
  if (err != -ENOENT) {
    pause_finish(im, err, msg);
    return;
  }
  size_t len = 0;
  unsigned char *tar = kl_pause_rootfs_tar(&len);
  if (!tar) {
    pause_finish(im, -ENOMEM, "out of memory");
    return;
  }
  json_t *ep = json_pack("[s]", "/pause");
  im->k->rt->ops->import_image(im->k->rt, im->k->cfg->pause_image, tar, len, ep, pause_imported, im);
  json_decref(ep);
  free(tar);
}

void kl_images_ensure_pause(struct kl_images *im, void (*done)(void *arg, int rc, const char *msg), void *arg)
{
  if (im->pause_present) {
    done(arg, 0, NULL);
    return;
  }
  struct pause_wait *w = xcalloc(1, sizeof *w);
  w->done = done;
  w->arg = arg;
  w->next = im->pause_waiters;
  im->pause_waiters = w;
  if (im->pause_busy) return;
  im->pause_busy = true;
  im->k->rt->ops->image_status(im->k->rt, im->k->cfg->pause_image, pause_status, im);
}

/* ---- the node's images ---- */

static int by_size_desc(const void *a, const void *b)
{
  int64_t sa = kj_get_int(*(json_t *const *)a, "sizeBytes", 0), sb = kj_get_int(*(json_t *const *)b, "sizeBytes", 0);
  return sa < sb ? 1 : sa > sb ? -1 : 0;
}

static void images_listed(void *arg, int err, json_t *res, const char *msg)
{
  struct kl_images *im = arg;
  im->refreshing = false;
  if (err) return;
  json_t *imgs = json_object_get(res, "images");
  size_t n = json_array_size(imgs), i;
  json_t **arr = xcalloc(n + 1, sizeof *arr);
  json_t *img;
  size_t m = 0;
  json_array_foreach (imgs, i, img) {
    json_t *names = json_array();
    size_t j;
    json_t *v;
    json_array_foreach (kj_get(img, "repoDigests"), j, v)
      if (!strstr(json_string_value(v), "<none>")) json_array_append(names, v);
    json_array_foreach (kj_get(img, "repoTags"), j, v)
      if (!strstr(json_string_value(v), "<none>")) json_array_append(names, v);
    if (!json_array_size(names)) json_array_append_new(names, json_string(kj_get_str(img, "id") ?: ""));
    arr[m++] = json_pack("{s:o, s:I}", "names", names, "sizeBytes", (json_int_t)kj_get_int(img, "size", 0));
  }
  qsort(arr, m, sizeof *arr, by_size_desc);
  json_t *list = json_array();
  for (i = 0; i < m; i++) json_array_append_new(list, arr[i]);
  free(arr);
  if (!json_equal(list, im->k->node_images)) {
    json_decref(im->k->node_images);
    im->k->node_images = list;
    if (im->k->node) kl_node_status_changed(im->k->node);
  } else {
    json_decref(list);
  }
}

void kl_images_refresh(struct kl_images *im)
{
  if (im->refreshing) return;
  im->refreshing = true;
  im->k->rt->ops->list_images(im->k->rt, images_listed, im);
}

static void refresh_tick(evutil_socket_t fd, short what, void *arg)
{
  struct kl_images *im = arg;
  kl_images_refresh(im);
  struct timeval tv = {IMAGES_REFRESH_MS / 1000, 0};
  evtimer_add(im->refresh, &tv);
}

struct kl_images *kl_images_new(struct kubelet *k)
{
  struct kl_images *im = xcalloc(1, sizeof *im);
  if (!im) return NULL;
  im->k = k;
  im->refresh = evtimer_new(k->base, refresh_tick, im);
  return im;
}

void kl_images_start(struct kl_images *im)
{
  struct timeval tv = {0, 0};
  evtimer_add(im->refresh, &tv);
}

void kl_images_free(struct kl_images *im)
{
  if (!im) return;
  while (im->queue) {
    struct pull *pl = im->queue;
    im->queue = pl->next;
    json_decref(pl->auth);
    free(pl);
  }
  while (im->pause_waiters) {
    struct pause_wait *w = im->pause_waiters;
    im->pause_waiters = w->next;
    free(w);
  }
  if (im->refresh) event_free(im->refresh);
  free(im);
}
