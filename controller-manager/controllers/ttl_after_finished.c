/*
 * ttl_after_finished.c - the TTL-after-finished controller (upstream
 * pkg/controller/ttlafterfinished): a Job with
 * spec.ttlSecondsAfterFinished is deleted (propagationPolicy Foreground,
 * so its pods go first; uid precondition, so a recreated Job of the same
 * name is safe) once that many seconds passed since its Complete or
 * Failed condition became true.  Jobs not yet due are requeued for the
 * moment they expire.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm.h"
#include "controller_utils.h"
#include "controllers/ttl_after_finished.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/xalloc.h"

int64_t ttl_finish_time(const json_t *job)
{
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(job, "status.conditions"), i, c) {
    const char *t = kj_get_str(c, "type"), *s = kj_get_str(c, "status");
    if (!t || !s || strcmp(s, "True") || (strcmp(t, "Complete") && strcmp(t, "Failed"))) continue;
    int64_t at = cm_time_at(c, "lastTransitionTime");
    return at >= 0 ? at : 0;
  }
  return -1;
}

int64_t ttl_compute(const json_t *job, int64_t now, struct cm_actions *acts)
{
  json_t *ttl = kj_get(job, "spec.ttlSecondsAfterFinished");
  if (!ttl || !json_is_integer(ttl) || obj_is_terminating(job)) return -1;
  int64_t fin = ttl_finish_time(job);
  if (fin < 0) return -1;
  int64_t expire = fin + json_integer_value(ttl);
  if (now < expire) return (expire - now) * 1000;
  char path[512];
  cm_path(path, sizeof path, "/apis/batch/v1", kj_get_str(job, "metadata.namespace"), "jobs",
          kj_get_str(job, "metadata.name"), NULL);
  const char *uid = kj_get_str(job, "metadata.uid");
  json_t *body =
      json_pack("{s:s,s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1", "propagationPolicy", "Foreground");
  if (uid) json_object_set_new(body, "preconditions", json_pack("{s:s}", "uid", uid));
  cm_act(acts, CM_DELETE, path, body);
  KLOG_V(2, "Cleaning up Job %s/%s", kj_get_str(job, "metadata.namespace"), kj_get_str(job, "metadata.name"));
  return -1;
}

struct ttl_ctrl {
  struct cm_base base;
  struct informer *job_inf;
};

static void ttl_sync(struct cm_base *b, const char *key)
{
  struct ttl_ctrl *c = (struct ttl_ctrl *)b;
  json_t *job = informer_store_get_obj(c->job_inf, key);
  if (!job) {
    cm_base_finish(b, key, false, -1);
    return;
  }
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue = ttl_compute(job, cm_now(), &acts);
  json_decref(job);
  cm_base_exec(b, key, &acts, NULL, requeue);
  cm_actions_clear(&acts);
}

static void maybe_enqueue(struct ttl_ctrl *c, const json_t *job)
{
  if (kj_get(job, "spec.ttlSecondsAfterFinished") && ttl_finish_time(job) >= 0) cm_base_enqueue(&c->base, job);
}

static void on_add(void *arg, const json_t *job) { maybe_enqueue(arg, job); }
static void on_update(void *arg, const json_t *o, const json_t *n) { maybe_enqueue(arg, n); }

static int ttl_init(struct cm_base *b)
{
  struct ttl_ctrl *c = (struct ttl_ctrl *)b;
  c->job_inf = informer_factory_get(b->ctx->informers, CM_JOBS);
  struct informer_handlers h = {on_add, on_update, NULL, c};
  informer_add_handlers(c->job_inf, &h);
  return 0;
}

const struct controller_def ctrl_ttl_after_finished = {
    .name = "ttl-after-finished",
    .service_account = "ttl-after-finished-controller",
    .enabled_by_default = true,
    .size = sizeof(struct ttl_ctrl),
    .queue = "ttl_jobs_to_delete",
    .component = "ttl-after-finished-controller",
    .workers = 5,
    .sync = ttl_sync,
    .init = ttl_init,
};
