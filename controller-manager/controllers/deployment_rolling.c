/*
 * deployment_rolling.c - how a Deployment moves replicas between its
 * ReplicaSets (upstream rolling.go, recreate.go and sync.go's scale):
 *
 *   RollingUpdate: the new ReplicaSet grows while the total stays within
 *   replicas + maxSurge; old ReplicaSets shrink while the available pods
 *   stay at or above replicas - maxUnavailable (unhealthy old replicas go
 *   first, as they cost no availability).
 *   Recreate: old ReplicaSets go to zero, and only when none of their pods
 *   is still running does the new one get every replica.
 *   Proportional scaling: a replicas change during a rollout is spread over
 *   the active ReplicaSets in proportion to their size (by their
 *   max-replicas annotation), the leftover going to the largest.
 *
 * Everything works on the working copies of struct dep_sync; a step's
 * effect is visible to the next step of the same sync, as upstream.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_utils.h"
#include "controllers/deployment.h"
#include "kube/json.h"
#include "kube/xalloc.h"

void dep_scale_rs(struct dep_sync *s, json_t *rs, int64_t replicas)
{
  int64_t max = dep_replicas(s->d) + dep_max_surge(s->d);
  kj_set_int(rs, "spec.replicas", replicas);
  dep_set_replicas_annotations(rs, dep_replicas(s->d), max);
}

/* scaleReplicaSetAndRecordEvent: nothing when the size is already right. */
static bool scale_and_record(struct dep_sync *s, json_t *rs, int64_t replicas)
{
  if (dep_rs_replicas(rs) == replicas) return false;
  dep_scale_rs(s, rs, replicas);
  return true;
}

static int64_t sum_replicas(const json_t *rss)
{
  int64_t n = 0;
  size_t i;
  json_t *rs;
  json_array_foreach (rss, i, rs) n += dep_rs_replicas(rs);
  return n;
}

static int64_t sum_field(const json_t *rss, const char *path)
{
  int64_t n = 0;
  size_t i;
  json_t *rs;
  json_array_foreach (rss, i, rs) n += kj_get_int(rs, path, 0);
  return n;
}

/* Old ReplicaSets (working copies, borrowed elements), oldest first. */
static json_t *old_rss(struct dep_sync *s, bool active_only)
{
  json_t *out = json_array();
  size_t i;
  json_t *rs;
  json_array_foreach (s->rss, i, rs) {
    if (rs == s->new_rs) continue;
    if (active_only && dep_rs_replicas(rs) <= 0) continue;
    json_array_append(out, rs);
  }
  return out;
}

int64_t dep_new_rs_new_replicas(struct dep_sync *s, int64_t new_rs_replicas)
{
  int64_t want = dep_replicas(s->d);
  if (!dep_is_rolling(s->d)) return want;
  int64_t current = sum_replicas(s->rss);
  if (!s->new_rs) current += new_rs_replicas; /* the one about to be created */
  int64_t max_total = want + dep_max_surge(s->d);
  if (current >= max_total) return new_rs_replicas;
  int64_t up = max_total - current;
  if (up > want - new_rs_replicas) up = want - new_rs_replicas;
  return new_rs_replicas + up;
}

static bool reconcile_new_rs(struct dep_sync *s)
{
  if (!s->new_rs) return false;
  int64_t want = dep_replicas(s->d), cur = dep_rs_replicas(s->new_rs);
  if (cur == want) return false;
  if (cur > want) return scale_and_record(s, s->new_rs, want);
  return scale_and_record(s, s->new_rs, dep_new_rs_new_replicas(s, cur));
}

static int64_t cleanup_unhealthy(struct dep_sync *s, json_t *olds, int64_t max_cleanup)
{
  int64_t total = 0;
  size_t i;
  json_t *rs;
  json_array_foreach (olds, i, rs) {
    if (total >= max_cleanup) break;
    int64_t r = dep_rs_replicas(rs);
    if (r == 0) continue;
    int64_t unhealthy = r - kj_get_int(rs, "status.availableReplicas", 0);
    if (unhealthy <= 0) continue;
    int64_t down = max_cleanup - total < unhealthy ? max_cleanup - total : unhealthy;
    scale_and_record(s, rs, r - down);
    total += down;
  }
  return total;
}

/* Scales old ReplicaSets down while the available pods stay at or above
 * replicas - maxUnavailable.  Availability counts the new ReplicaSet and
 * the old ones that had replicas when this step began (olds), as
 * upstream's scaleDownOldReplicaSetsForRollingUpdate does over
 * oldRSs + newRS: an old ReplicaSet already scaled to zero may still
 * report pods as available that are on their way out. */
static int64_t scale_down_old_for_rolling(struct dep_sync *s, json_t *olds)
{
  int64_t min_available = dep_replicas(s->d) - dep_max_unavailable(s->d);
  int64_t available = sum_field(olds, "status.availableReplicas");
  if (s->new_rs) available += kj_get_int(s->new_rs, "status.availableReplicas", 0);
  if (available <= min_available) return 0;
  int64_t budget = available - min_available, total = 0;
  size_t i;
  json_t *rs;
  json_array_foreach (olds, i, rs) {
    if (total >= budget) break;
    int64_t r = dep_rs_replicas(rs);
    if (r == 0) continue;
    int64_t down = r < budget - total ? r : budget - total;
    scale_and_record(s, rs, r - down);
    total += down;
  }
  return total;
}

static bool reconcile_old_rss(struct dep_sync *s)
{
  json_t *olds = old_rss(s, true);
  if (sum_replicas(olds) == 0) {
    json_decref(olds);
    return false;
  }
  int64_t all = sum_replicas(s->rss);
  int64_t min_available = dep_replicas(s->d) - dep_max_unavailable(s->d);
  int64_t new_unavailable = 0;
  if (s->new_rs) new_unavailable = dep_rs_replicas(s->new_rs) - kj_get_int(s->new_rs, "status.availableReplicas", 0);
  int64_t max_scaled_down = all - min_available - new_unavailable;
  if (max_scaled_down <= 0) {
    json_decref(olds);
    return false;
  }
  int64_t cleaned = cleanup_unhealthy(s, olds, max_scaled_down);
  int64_t down = scale_down_old_for_rolling(s, olds);
  json_decref(olds);
  return cleaned + down > 0;
}

void dep_rollout_rolling(struct dep_sync *s)
{
  dep_get_all_and_sync_revision(s, true);
  if (reconcile_new_rs(s)) {
    dep_sync_rollout_status(s);
    return;
  }
  if (reconcile_old_rss(s)) {
    dep_sync_rollout_status(s);
    return;
  }
  json_t *st = dep_calculate_status(s);
  if (dep_complete(s->d, st)) dep_cleanup(s);
  json_decref(st);
  dep_sync_rollout_status(s);
}

/* Any pod of an old ReplicaSet still running (or about to)? */
static bool old_pods_running(struct dep_sync *s)
{
  json_t *olds = old_rss(s, false);
  bool running = false;
  size_t i, j;
  json_t *rs, *p;
  json_array_foreach (olds, i, rs) {
    if (kj_get_int(rs, "status.replicas", 0) > 0) running = true;
    const char *uid = kj_get_str(rs, "metadata.uid");
    json_array_foreach (s->pods, j, p) {
      if (!obj_is_controlled_by(p, uid)) continue;
      const char *ph = kj_get_str(p, "status.phase");
      if (ph && (!strcmp(ph, "Failed") || !strcmp(ph, "Succeeded"))) continue;
      running = true;
    }
  }
  json_decref(olds);
  return running;
}

void dep_rollout_recreate(struct dep_sync *s)
{
  dep_get_all_and_sync_revision(s, false);
  json_t *active = old_rss(s, true);
  bool scaled = false;
  size_t i;
  json_t *rs;
  json_array_foreach (active, i, rs)
    if (scale_and_record(s, rs, 0)) scaled = true;
  json_decref(active);
  if (scaled || old_pods_running(s)) {
    dep_sync_rollout_status(s);
    return;
  }
  if (!s->new_rs) dep_get_all_and_sync_revision(s, true);
  if (s->new_rs) scale_and_record(s, s->new_rs, dep_replicas(s->d));
  json_t *st = dep_calculate_status(s);
  if (dep_complete(s->d, st)) dep_cleanup(s);
  json_decref(st);
  dep_sync_rollout_status(s);
}

bool dep_is_scaling_event(struct dep_sync *s)
{
  size_t i;
  json_t *rs;
  json_array_foreach (s->rss, i, rs) {
    if (dep_rs_replicas(rs) <= 0) continue;
    const char *a = kj_get_str(rs, "metadata.annotations[\"" DEP_DESIRED_REPLICAS_ANN "\"]");
    if (!a) continue;
    if (strtoll(a, NULL, 10) != dep_replicas(s->d)) return true;
  }
  return false;
}

static int64_t rs_fraction(struct dep_sync *s, const json_t *rs)
{
  int64_t r = dep_rs_replicas(rs);
  if (dep_replicas(s->d) == 0) return -r;
  int64_t dep_total = dep_replicas(s->d) + dep_max_surge(s->d);
  const char *a = kj_get_str(rs, "metadata.annotations[\"" DEP_MAX_REPLICAS_ANN "\"]");
  int64_t annotated = a ? strtoll(a, NULL, 10) : kj_get_int(s->d, "status.replicas", 0);
  if (annotated <= 0) annotated = kj_get_int(s->d, "status.replicas", 0);
  if (annotated <= 0) return 0;
  double size = (double)(r * dep_total) / (double)annotated;
  return (int64_t)llround(size) - r;
}

static int64_t proportion(struct dep_sync *s, const json_t *rs, int64_t to_add, int64_t added)
{
  if (!rs || dep_rs_replicas(rs) == 0 || to_add == 0 || to_add == added) return 0;
  int64_t frac = rs_fraction(s, rs), allowed = to_add - added;
  if (to_add > 0) return frac < allowed ? frac : allowed;
  return frac > allowed ? frac : allowed;
}

/* Larger first; ties by creation, older first when arg points to true
 * (scaling down), newer first otherwise (upstream ReplicaSetsBySizeOlder
 * and ReplicaSetsBySizeNewer). */
static int by_size(const void *pa, const void *pb, void *arg)
{
  bool older_ties = *(const bool *)arg;
  const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
  int64_t ra = dep_rs_replicas(a), rb = dep_rs_replicas(b);
  if (ra != rb) return ra > rb ? -1 : 1;
  int64_t ta = cm_time_at(a, "metadata.creationTimestamp"), tb = cm_time_at(b, "metadata.creationTimestamp");
  if (ta < 0) ta = INT64_MAX;
  if (tb < 0) tb = INT64_MAX;
  if (ta != tb) return (ta < tb) == older_ties ? -1 : 1;
  return strcmp(kj_get_str(a, "metadata.name"), kj_get_str(b, "metadata.name"));
}

void dep_scale(struct dep_sync *s)
{
  json_t *active = json_array();
  size_t i;
  json_t *rs;
  json_array_foreach (s->rss, i, rs)
    if (dep_rs_replicas(rs) > 0) json_array_append(active, rs);
  /* FindActiveOrLatest */
  json_t *one = NULL;
  if (json_array_size(active) == 1) one = json_array_get(active, 0);
  else if (json_array_size(active) == 0)
    one = s->new_rs ? s->new_rs : json_array_get(s->rss, json_array_size(s->rss) - 1);
  if (json_array_size(active) <= 1) {
    if (one && dep_rs_replicas(one) != dep_replicas(s->d)) scale_and_record(s, one, dep_replicas(s->d));
    json_decref(active);
    return;
  }
  /* IsSaturated: the new ReplicaSet has everything; old ones go. */
  if (s->new_rs && dep_rs_replicas(s->new_rs) == dep_replicas(s->d) &&
      kj_get_int(s->new_rs, "status.availableReplicas", 0) == dep_replicas(s->d)) {
    const char *a = kj_get_str(s->new_rs, "metadata.annotations[\"" DEP_DESIRED_REPLICAS_ANN "\"]");
    if (a && strtoll(a, NULL, 10) == dep_replicas(s->d)) {
      json_array_foreach (active, i, rs)
        if (rs != s->new_rs) scale_and_record(s, rs, 0);
      json_decref(active);
      return;
    }
  }
  if (dep_is_rolling(s->d)) {
    int64_t all = sum_replicas(active);
    int64_t allowed = dep_replicas(s->d) > 0 ? dep_replicas(s->d) + dep_max_surge(s->d) : 0;
    int64_t to_add = allowed - all;
    size_t n = json_array_size(active);
    json_t **v = xmalloc(n * sizeof(*v));
    for (i = 0; i < n; i++) v[i] = json_array_get(active, i);
    bool older_ties = to_add < 0;
    qsort_r(v, n, sizeof(*v), by_size, &older_ties);
    int64_t *sizes = xcalloc(n, sizeof(*sizes));
    int64_t added = 0;
    for (i = 0; i < n; i++) {
      if (to_add != 0) {
        int64_t p = proportion(s, v[i], to_add, added);
        sizes[i] = dep_rs_replicas(v[i]) + p;
        added += p;
      } else {
        sizes[i] = dep_rs_replicas(v[i]);
      }
    }
    if (n > 0) {
      sizes[0] += to_add - added;
      if (sizes[0] < 0) sizes[0] = 0;
    }
    for (i = 0; i < n; i++) dep_scale_rs(s, v[i], sizes[i]);
    free(sizes);
    free(v);
  }
  json_decref(active);
}
