/*
 * deployment_util.c - the Deployment controller's arithmetic and
 * bookkeeping (upstream pkg/controller/deployment/util): the pod template
 * hash that names ReplicaSets, template equality ignoring that hash,
 * maxSurge / maxUnavailable resolution, the revision and replicas
 * annotations, conditions and the status computed from the ReplicaSets.
 *
 * The hash must be stable across restarts and versions of this program,
 * since the current ReplicaSet is found by it: it is FNV-32a over the
 * canonical (sorted-key, compact) JSON of the template.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_utils.h"
#include "controllers/deployment.h"
#include "kube/json.h"

static const char safe_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";

/* Drops nulls, empty objects and empty arrays, recursively: clients that
 * serialize typed structs send "creationTimestamp": null or "resources": {}
 * for what others leave out, and upstream's typed comparison sees no
 * difference. */
static bool prune(json_t *v)
{
  if (json_is_object(v)) {
    const char *k;
    json_t *x;
    void *tmp;
    json_object_foreach_safe (v, tmp, k, x)
      if (prune(x)) json_object_del(v, k);
    return json_object_size(v) == 0;
  }
  if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach (v, i, x) prune(x);
    return json_array_size(v) == 0;
  }
  return json_is_null(v);
}

json_t *dep_normalized(const json_t *v)
{
  json_t *c = kj_deep_copy(v);
  if (c) prune(c);
  return c;
}

bool dep_semantic_equal(const json_t *a, const json_t *b)
{
  if (!a || !b) return a == b;
  json_t *na = dep_normalized(a), *nb = dep_normalized(b);
  bool eq = json_equal(na, nb);
  json_decref(na);
  json_decref(nb);
  return eq;
}

char *dep_compute_hash(const json_t *template, int64_t collision_count, char *out)
{
  json_t *norm = dep_normalized(template);
  char *canon = kj_dumps_canonical(norm);
  json_decref(norm);
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)(canon ? canon : ""); *p; p++) {
    h ^= *p;
    h *= 16777619u;
  }
  free(canon);
  if (collision_count >= 0) {
    uint32_t c = (uint32_t)collision_count;
    for (int i = 0; i < 4; i++) {
      h ^= (c >> (8 * i)) & 0xff;
      h *= 16777619u;
    }
  }
  char dec[16];
  snprintf(dec, sizeof dec, "%u", h);
  size_t n = strlen(dec);
  for (size_t i = 0; i < n; i++) out[i] = safe_alphabet[(unsigned char)dec[i] % (sizeof safe_alphabet - 1)];
  out[n] = 0;
  return out;
}

bool dep_templates_equal(const json_t *a, const json_t *b)
{
  if (!a || !b) return a == b;
  json_t *ca = dep_normalized(a), *cb = dep_normalized(b);
  kj_del(ca, "metadata.labels[\"" DEP_POD_TEMPLATE_HASH "\"]");
  kj_del(cb, "metadata.labels[\"" DEP_POD_TEMPLATE_HASH "\"]");
  /* An emptied label map equals an absent one. */
  prune(ca);
  prune(cb);
  bool eq = json_equal(ca, cb);
  json_decref(ca);
  json_decref(cb);
  return eq;
}

int dep_resolve_fenceposts(const json_t *max_surge, const json_t *max_unavailable, int64_t desired, int64_t *surge,
                           int64_t *unavailable)
{
  if (cm_int_or_percent(max_surge, desired, true, surge) < 0) return -EINVAL;
  if (cm_int_or_percent(max_unavailable, desired, false, unavailable) < 0) return -EINVAL;
  if (*surge == 0 && *unavailable == 0) *unavailable = 1;
  return 0;
}

bool dep_is_rolling(const json_t *d)
{
  const char *t = kj_get_str(d, "spec.strategy.type");
  return !t || !strcmp(t, "RollingUpdate");
}

int64_t dep_replicas(const json_t *d) { return kj_get_int(d, "spec.replicas", 1); }
int64_t dep_rs_replicas(const json_t *rs) { return kj_get_int(rs, "spec.replicas", 1); }

static void fenceposts(const json_t *d, int64_t *surge, int64_t *unavail)
{
  json_t *ru = kj_get(d, "spec.strategy.rollingUpdate");
  json_t *ms = ru ? json_object_get(ru, "maxSurge") : NULL;
  json_t *mu = ru ? json_object_get(ru, "maxUnavailable") : NULL;
  json_t *dflt = json_string("25%");
  if (dep_resolve_fenceposts(ms ? ms : dflt, mu ? mu : dflt, dep_replicas(d), surge, unavail) < 0) {
    *surge = 0;
    *unavail = 1;
  }
  json_decref(dflt);
}

int64_t dep_max_surge(const json_t *d)
{
  if (!dep_is_rolling(d)) return 0;
  int64_t s, u;
  fenceposts(d, &s, &u);
  return s;
}

int64_t dep_max_unavailable(const json_t *d)
{
  if (!dep_is_rolling(d) || dep_replicas(d) == 0) return 0;
  int64_t s, u;
  fenceposts(d, &s, &u);
  return u > dep_replicas(d) ? dep_replicas(d) : u;
}

static int64_t ann_int(const json_t *obj, const char *ann, bool *ok)
{
  char path[160];
  snprintf(path, sizeof path, "metadata.annotations[\"%s\"]", ann);
  const char *s = kj_get_str(obj, path);
  if (ok) *ok = false;
  if (!s || !*s) return 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (*end) return 0;
  if (ok) *ok = true;
  return v;
}

static bool set_ann(json_t *obj, const char *ann, const char *value)
{
  json_t *anns = kj_obj(obj, "metadata.annotations");
  const char *cur = json_string_value(json_object_get(anns, ann));
  if (cur && !strcmp(cur, value)) return false;
  json_object_set_new(anns, ann, json_string(value));
  return true;
}

static bool set_ann_int(json_t *obj, const char *ann, int64_t v)
{
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)v);
  return set_ann(obj, ann, buf);
}

int64_t dep_revision(const json_t *rs) { return ann_int(rs, DEP_REVISION_ANN, NULL); }

bool dep_set_replicas_annotations(json_t *rs, int64_t desired, int64_t max)
{
  bool a = set_ann_int(rs, DEP_DESIRED_REPLICAS_ANN, desired);
  bool b = set_ann_int(rs, DEP_MAX_REPLICAS_ANN, max);
  return a || b;
}

static bool skip_copy(const char *k)
{
  static const char *const skip[] = {"kubectl.kubernetes.io/last-applied-configuration",
                                     DEP_REVISION_ANN,
                                     DEP_REVISION_HISTORY_ANN,
                                     DEP_DESIRED_REPLICAS_ANN,
                                     DEP_MAX_REPLICAS_ANN,
                                     "deprecated.deployment.rollback.to",
                                     NULL};
  for (int i = 0; skip[i]; i++)
    if (!strcmp(k, skip[i])) return true;
  return false;
}

bool dep_set_new_rs_annotations(const json_t *d, json_t *rs, int64_t new_revision, bool exists)
{
  bool changed = false;
  const char *k;
  json_t *v;
  json_object_foreach (kj_get(d, "metadata.annotations"), k, v) {
    if (skip_copy(k) || !json_is_string(v)) continue;
    if (set_ann(rs, k, json_string_value(v))) changed = true;
  }
  bool had;
  int64_t old_rev = ann_int(rs, DEP_REVISION_ANN, &had);
  if (old_rev < new_revision) {
    set_ann_int(rs, DEP_REVISION_ANN, new_revision);
    changed = true;
    if (had) {
      const char *hist = kj_get_str(rs, "metadata.annotations[\"" DEP_REVISION_HISTORY_ANN "\"]");
      char buf[1024];
      if (hist && *hist) snprintf(buf, sizeof buf, "%s,%lld", hist, (long long)old_rev);
      else snprintf(buf, sizeof buf, "%lld", (long long)old_rev);
      set_ann(rs, DEP_REVISION_HISTORY_ANN, buf);
    }
  }
  if (!exists && dep_set_replicas_annotations(rs, dep_replicas(d), dep_replicas(d) + dep_max_surge(d))) changed = true;
  return changed;
}

bool dep_set_deployment_revision(json_t *d, int64_t revision) { return set_ann_int(d, DEP_REVISION_ANN, revision); }

static int by_creation(const void *pa, const void *pb, void *arg)
{
  const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
  int64_t ta = cm_time_at(a, "metadata.creationTimestamp"), tb = cm_time_at(b, "metadata.creationTimestamp");
  /* Not yet created: the newest of all. */
  if (ta < 0) ta = INT64_MAX;
  if (tb < 0) tb = INT64_MAX;
  int c = ta == tb ? 0 : (ta < tb ? -1 : 1);
  if (!c) c = strcmp(kj_get_str(a, "metadata.name"), kj_get_str(b, "metadata.name"));
  return *(const bool *)arg ? -c : c;
}

void dep_sort_by_creation(json_t *rss, bool newest_first) { cm_sort_array(rss, by_creation, &newest_first); }

void dep_set_condition(json_t *d, const char *type, const char *status, const char *reason, const char *message,
                       int64_t now)
{
  json_t *old = cm_get_condition(d, "status.conditions", type);
  if (old) {
    const char *os = kj_get_str(old, "status"), *orsn = kj_get_str(old, "reason");
    if (os && !strcmp(os, status) && orsn && !strcmp(orsn, reason)) return;
  }
  json_t *c =
      json_pack("{s:s,s:s,s:o,s:o,s:s,s:s}", "type", type, "status", status, "lastUpdateTime", cm_time_json(now),
                "lastTransitionTime", cm_time_json(now), "reason", reason, "message", message);
  if (old && !strcmp(kj_get_str(old, "status"), status) && json_object_get(old, "lastTransitionTime"))
    json_object_set(c, "lastTransitionTime", json_object_get(old, "lastTransitionTime"));
  cm_remove_condition(d, "status.conditions", type);
  json_t *arr = kj_arr(d, "status.conditions");
  if (arr) json_array_append_new(arr, c);
  else json_decref(c);
}

json_t *dep_calculate_status(struct dep_sync *s)
{
  int64_t avail = 0, total = 0, actual = 0, ready = 0, updated = 0;
  size_t i;
  json_t *rs;
  json_array_foreach (s->rss, i, rs) {
    avail += kj_get_int(rs, "status.availableReplicas", 0);
    total += dep_rs_replicas(rs);
    actual += kj_get_int(rs, "status.replicas", 0);
    ready += kj_get_int(rs, "status.readyReplicas", 0);
  }
  if (s->new_rs) updated = kj_get_int(s->new_rs, "status.replicas", 0);
  int64_t unavailable = total - avail;
  if (unavailable < 0) unavailable = 0;
  json_t *st = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "observedGeneration",
                         (json_int_t)kj_get_int(s->d, "metadata.generation", 0), "replicas", (json_int_t)actual,
                         "updatedReplicas", (json_int_t)updated, "readyReplicas", (json_int_t)ready,
                         "availableReplicas", (json_int_t)avail, "unavailableReplicas", (json_int_t)unavailable);
  json_t *cc = kj_get(s->d, "status.collisionCount");
  if (cc) json_object_set(st, "collisionCount", cc);
  json_t *conds = kj_get(s->d, "status.conditions");
  json_t *holder = json_pack("{s:{s:o}}", "status", "conditions", conds ? kj_deep_copy(conds) : json_array());
  if (avail >= dep_replicas(s->d) - dep_max_unavailable(s->d))
    dep_set_condition(holder, "Available", "True", DEP_REASON_MIN_AVAILABLE, "Deployment has minimum availability.",
                      s->now);
  else
    dep_set_condition(holder, "Available", "False", DEP_REASON_MIN_UNAVAILABLE,
                      "Deployment does not have minimum availability.", s->now);
  json_object_set(st, "conditions", kj_get(holder, "status.conditions"));
  json_decref(holder);
  return st;
}

bool dep_has_progress_deadline(const json_t *d)
{
  json_t *p = kj_get(d, "spec.progressDeadlineSeconds");
  if (!p) return true; /* defaulted to 600 by the API server */
  return json_integer_value(p) != 2147483647;
}

bool dep_complete(const json_t *d, const json_t *st)
{
  int64_t r = dep_replicas(d);
  return kj_get_int(st, "updatedReplicas", 0) == r && kj_get_int(st, "replicas", 0) == r &&
         kj_get_int(st, "availableReplicas", 0) == r &&
         kj_get_int(st, "observedGeneration", 0) >= kj_get_int(d, "metadata.generation", 0);
}

bool dep_progressing(const json_t *d, const json_t *st)
{
  int64_t oupd = kj_get_int(d, "status.updatedReplicas", 0), orep = kj_get_int(d, "status.replicas", 0);
  int64_t nupd = kj_get_int(st, "updatedReplicas", 0), nrep = kj_get_int(st, "replicas", 0);
  return nupd > oupd || (nrep - nupd) < (orep - oupd) ||
         kj_get_int(st, "readyReplicas", 0) > kj_get_int(d, "status.readyReplicas", 0) ||
         kj_get_int(st, "availableReplicas", 0) > kj_get_int(d, "status.availableReplicas", 0);
}

bool dep_timed_out(const json_t *d, const json_t *st, int64_t now)
{
  if (!dep_has_progress_deadline(d)) return false;
  json_t *holder = json_pack("{s:O}", "status", (json_t *)st);
  json_t *c = cm_get_condition(holder, "status.conditions", "Progressing");
  bool out = false;
  if (c) {
    const char *r = kj_get_str(c, "reason");
    if (r && !strcmp(r, DEP_REASON_TIMED_OUT)) out = true;
    else if (!r || strcmp(r, DEP_REASON_NEW_RS_AVAILABLE)) {
      int64_t from = cm_time_at(c, "lastUpdateTime");
      int64_t deadline = kj_get_int(d, "spec.progressDeadlineSeconds", DEP_DEFAULT_PROGRESS_DEADLINE_S);
      out = from >= 0 && from + deadline < now;
    }
  }
  json_decref(holder);
  return out;
}
