/*
 * gc.c - dead-container and unused-image garbage collection (see gc.h).
 */
#define _GNU_SOURCE
#include "gc.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/json.h"
#include "kube/log.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "machine.h"
#include "pods_internal.h"
#include "runtime/runtime.h"

#define GC_CONTAINER_PERIOD_MS 60000
#define GC_IMAGE_PERIOD_MS 300000
#define DOCKER_ROOT "/var/lib/docker"

struct kl_gc {
  struct kubelet *k;
  struct event *ctimer, *itimer;
  json_t *first_seen; /* image id -> ms */
  bool image_busy;
  int64_t to_free;
};

json_t *kl_gc_pod_containers(const json_t *containers, const json_t *sandboxes)
{
  json_t *remove = json_array(), *exited_seen = json_object(), *used_sandboxes = json_object();
  size_t i;
  json_t *c;
  json_array_foreach (containers, i, c) {
    const char *name = kj_get_str(c, "status.labels[\"" KL_LABEL_CONTAINER_NAME "\"]") ?: "";
    const char *state = kj_get_str(c, "status.state") ?: "";
    bool dead = !strcmp(state, KL_CONTAINER_EXITED);
    if (dead && json_object_get(exited_seen, name)) {
      json_array_append_new(remove, json_string(kj_get_str(c, "status.id") ?: ""));
      continue;
    }
    if (dead) json_object_set_new(exited_seen, name, json_true());
    const char *sb = kj_get_str(c, "status.podSandboxId");
    if (sb) json_object_set_new(used_sandboxes, sb, json_true());
  }
  json_array_foreach (sandboxes, i, c) {
    if (i == 0 || !strcmp(kj_get_str(c, "status.state") ?: "", KL_SANDBOX_READY)) continue; /* the newest, or ready */
    const char *id = kj_get_str(c, "status.id") ?: "";
    if (!json_object_get(used_sandboxes, id)) json_array_append_new(remove, json_string(id));
  }
  json_decref(exited_seen);
  json_decref(used_sandboxes);
  return remove;
}

static int by_first_seen(const void *a, const void *b)
{
  int64_t x = kj_get_int(*(json_t *const *)a, "seen", 0), y = kj_get_int(*(json_t *const *)b, "seen", 0);
  return x < y ? -1 : x > y;
}

json_t *kl_gc_images(const json_t *images, const json_t *in_use, const json_t *first_seen, int64_t now_ms,
                     int64_t min_age_ms, const char *keep_id, int64_t bytes)
{
  size_t n = json_array_size(images), m = 0, i;
  json_t **cand = xcalloc(n + 1, sizeof *cand);
  json_t *img;
  json_array_foreach (images, i, img) {
    const char *id = kj_get_str(img, "id") ?: "";
    json_t *seen = json_object_get(first_seen, id);
    if (json_object_get(in_use, id) || (keep_id && !strcmp(id, keep_id)) || !seen) continue;
    if (now_ms - json_integer_value(seen) < min_age_ms) continue;
    cand[m++] = json_pack("{s:s, s:I, s:I}", "id", id, "size", (json_int_t)kj_get_int(img, "size", 0), "seen",
                          json_integer_value(seen));
  }
  qsort(cand, m, sizeof *cand, by_first_seen);
  json_t *out = json_array();
  int64_t freed = 0;
  for (i = 0; i < m; i++) {
    if (freed < bytes) {
      json_array_append(out, json_object_get(cand[i], "id"));
      freed += kj_get_int(cand[i], "size", 0);
    }
    json_decref(cand[i]);
  }
  free(cand);
  return out;
}

/* ---- containers ---- */

static void removed(void *arg, int err, json_t *res, const char *msg)
{
  if (err && err != -ENOENT) KLOG_W("container GC: %s", msg);
}

static void gc_containers(struct kubelet *k)
{
  struct kl_runtime *rt = k->rt;
  for (struct kl_pod *p = k->pods->head; p; p = p->next) {
    if (!p->pod || p->syncing) continue;
    json_t *ids = kl_gc_pod_containers(p->containers, p->sandboxes);
    size_t i;
    json_t *id;
    json_array_foreach (ids, i, id) {
      KLOG_V(3, "container GC: removing %s of pod %s/%s", json_string_value(id), p->ns, p->name);
      bool sandbox = false;
      size_t j;
      json_t *sb;
      json_array_foreach (p->sandboxes, j, sb)
        sandbox |= !strcmp(kj_get_str(sb, "status.id") ?: "", json_string_value(id));
      if (sandbox) rt->ops->remove_pod_sandbox(rt, json_string_value(id), removed, NULL);
      else rt->ops->remove_container(rt, json_string_value(id), removed, NULL);
    }
    if (json_array_size(ids)) kl_pleg_relist_soon(k->pods->pleg);
    json_decref(ids);
  }
}

/* ---- images ---- */

struct image_gc {
  struct kl_gc *g;
  json_t *ids;
  size_t next;
  char pause_id[128];
};

static void gc_image_next(struct image_gc *ig);

static void image_removed(void *arg, int err, json_t *res, const char *msg)
{
  struct image_gc *ig = arg;
  if (err) KLOG_V(2, "image GC: %s", msg); /* in use by some container: kept */
  gc_image_next(ig);
}

static void gc_image_next(struct image_gc *ig)
{
  struct kubelet *k = ig->g->k;
  if (ig->next >= json_array_size(ig->ids)) {
    ig->g->image_busy = false;
    json_decref(ig->ids);
    free(ig);
    return;
  }
  const char *id = json_string_value(json_array_get(ig->ids, ig->next++));
  KLOG_I("image GC: removing image %s", id);
  k->rt->ops->remove_image(k->rt, id, image_removed, ig);
}

static void images_listed(void *arg, int err, json_t *res, const char *msg)
{
  struct image_gc *ig = arg;
  struct kl_gc *g = ig->g;
  struct kubelet *k = g->k;
  if (err) {
    g->image_busy = false;
    free(ig);
    return;
  }
  json_t *images = json_object_get(res, "images"), *in_use = json_object();
  int64_t now = ktime_mono_ms();
  size_t i;
  json_t *img;
  json_array_foreach (images, i, img) {
    const char *id = kj_get_str(img, "id") ?: "";
    if (!json_object_get(g->first_seen, id)) json_object_set_new(g->first_seen, id, json_integer(now));
    json_t *tags = kj_get(img, "repoTags");
    size_t j;
    json_t *t;
    json_array_foreach (tags, j, t)
      if (!strcmp(json_string_value(t) ?: "", k->cfg->pause_image))
        snprintf(ig->pause_id, sizeof ig->pause_id, "%s", id);
  }
  for (struct kl_pod *p = k->pods->head; p; p = p->next) {
    json_t *c;
    json_array_foreach (p->containers, i, c)
      json_object_set_new(in_use, kj_get_str(c, "status.imageRef") ?: "", json_true());
  }
  ig->ids = kl_gc_images(images, in_use, g->first_seen, now, k->cfg->image_minimum_gc_age_ms, ig->pause_id, g->to_free);
  json_decref(in_use);
  gc_image_next(ig);
}

static void gc_images(struct kl_gc *g, bool force)
{
  struct kubelet *k = g->k;
  struct kl_fs_stats fs;
  if (g->image_busy || kl_fs_stats(access(DOCKER_ROOT, F_OK) == 0 ? DOCKER_ROOT : k->cfg->root_dir, &fs) < 0 ||
      fs.capacity_bytes <= 0)
    return;
  int64_t used = fs.capacity_bytes - fs.available_bytes;
  int64_t pct = used * 100 / fs.capacity_bytes;
  if (!force && pct < k->cfg->image_gc_high_threshold_percent) return;
  g->to_free = used - fs.capacity_bytes * k->cfg->image_gc_low_threshold_percent / 100;
  if (g->to_free <= 0) return;
  KLOG_I("image GC: disk usage %lld%% (high threshold %d%%): freeing %lld bytes", (long long)pct,
         k->cfg->image_gc_high_threshold_percent, (long long)g->to_free);
  struct image_gc *ig = xcalloc(1, sizeof *ig);
  ig->g = g;
  g->image_busy = true;
  k->rt->ops->list_images(k->rt, images_listed, ig);
}

static void ctick(evutil_socket_t fd, short what, void *arg)
{
  struct kl_gc *g = arg;
  gc_containers(g->k);
  struct timeval tv = {GC_CONTAINER_PERIOD_MS / 1000, 0};
  evtimer_add(g->ctimer, &tv);
}

static void itick(evutil_socket_t fd, short what, void *arg)
{
  struct kl_gc *g = arg;
  gc_images(g, false);
  struct timeval tv = {GC_IMAGE_PERIOD_MS / 1000, 0};
  evtimer_add(g->itimer, &tv);
}

void kl_gc_now(struct kubelet *k, bool images)
{
  gc_containers(k);
  if (images && k->gc) gc_images(k->gc, true);
}

struct kl_gc *kl_gc_new(struct kubelet *k)
{
  struct kl_gc *g = xcalloc(1, sizeof *g);
  g->k = k;
  g->ctimer = evtimer_new(k->base, ctick, g);
  g->itimer = evtimer_new(k->base, itick, g);
  g->first_seen = json_object();
  return g;
}

void kl_gc_start(struct kl_gc *g)
{
  struct timeval tv = {GC_CONTAINER_PERIOD_MS / 1000, 0};
  evtimer_add(g->ctimer, &tv);
  struct timeval iv = {30, 0}; /* the first look after the node settled */
  evtimer_add(g->itimer, &iv);
}

void kl_gc_stop(struct kl_gc *g)
{
  evtimer_del(g->ctimer);
  evtimer_del(g->itimer);
}

void kl_gc_free(struct kl_gc *g)
{
  if (!g) return;
  event_free(g->ctimer);
  event_free(g->itimer);
  json_decref(g->first_seen);
  free(g);
}
