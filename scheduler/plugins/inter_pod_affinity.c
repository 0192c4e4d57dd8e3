/*
 * inter_pod_affinity.c - InterPodAffinity.
 *
 * A term selects pods by label selector within a set of namespaces (its
 * namespaces list, its namespaceSelector, or, with neither, the namespace
 * of the pod that owns the term) and names a topology key; a node belongs
 * to the domain given by its value for that key.
 *
 * PreFilter walks the existing pods once and counts, per topology pair
 * (key -> value -> count):
 *   - existing pods' required anti-affinity terms that match the incoming
 *     pod (the incoming pod may not join those domains);
 *   - existing pods that match all of the incoming pod's required affinity
 *     terms (the pod must join one of those domains, unless no pod matches
 *     anywhere and the pod matches its own terms: the first of a group);
 *   - existing pods matching each required anti-affinity term.
 * Filter then does hash lookups only.  Failures use upstream's reasons;
 * unmet affinity is unresolvable, anti-affinity is not (preemption could
 * remove the conflicting pod).
 *
 * Score adds the weights of preferred terms (the pod's own, and existing
 * pods' terms that match it, with required affinity of existing pods
 * counted at hardPodAffinityWeight) to the matching pods' topology pairs,
 * subtracts anti-affinity weights, sums the pairs a node belongs to, and
 * normalizes between the lowest and the highest node.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "kube/selector.h"
#include "plugins.h"
#include "kube/xalloc.h"

struct ipa_args {
  int64_t hard_weight;
  bool ignore_preferred_of_existing;
};

struct term {
  const char *key;
  struct labelsel *sel;
  struct labelsel *ns_sel; /* NULL when absent */
  const json_t *namespaces;
  const char *owner_ns;
  int64_t weight;
};

struct terms {
  size_t n;
  struct term *t;
};

static void terms_free(struct terms *ts)
{
  for (size_t i = 0; i < ts->n; i++) {
    labelsel_free(ts->t[i].sel);
    labelsel_free(ts->t[i].ns_sel);
  }
  free(ts->t);
  ts->n = 0;
  ts->t = NULL;
}

static const char *pod_ns(const json_t *pod)
{
  const char *ns = json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace"));
  return ns ? ns : "default";
}

/* weighted: the array holds WeightedPodAffinityTerms. */
static void terms_parse(const json_t *arr, const json_t *owner, bool weighted, struct terms *out)
{
  out->n = 0;
  out->t = xcalloc(json_array_size(arr) ? json_array_size(arr) : 1, sizeof *out->t);
  if (!out->t) return;
  size_t i;
  json_t *e;
  char err[128];
  json_array_foreach (arr, i, e) {
    const json_t *term = weighted ? json_object_get(e, "podAffinityTerm") : e;
    struct term *t = &out->t[out->n];
    t->key = json_string_value(json_object_get(term, "topologyKey"));
    if (!t->key || !*t->key) continue;
    t->weight = weighted ? json_integer_value(json_object_get(e, "weight")) : 1;
    t->sel = labelsel_from_json(json_object_get(term, "labelSelector"), err, sizeof err);
    const json_t *nss = json_object_get(term, "namespaceSelector");
    t->ns_sel = nss && !json_is_null(nss) ? labelsel_from_json(nss, err, sizeof err) : NULL;
    t->namespaces = json_object_get(term, "namespaces");
    t->owner_ns = pod_ns(owner);
    out->n++;
  }
}

static bool term_matches(const struct term *t, const struct sched_snapshot *snap, const json_t *pod)
{
  const char *ns = pod_ns(pod);
  bool ns_ok = false;
  if (json_array_size(t->namespaces) == 0 && !t->ns_sel) {
    ns_ok = strcmp(ns, t->owner_ns) == 0;
  } else {
    size_t i;
    json_t *v;
    json_array_foreach (t->namespaces, i, v)
      if (json_is_string(v) && strcmp(json_string_value(v), ns) == 0) ns_ok = true;
    if (!ns_ok && t->ns_sel) ns_ok = labelsel_matches(t->ns_sel, json_object_get(snap->namespaces, ns));
  }
  return ns_ok && t->sel && labelsel_matches(t->sel, json_object_get(json_object_get(pod, "metadata"), "labels"));
}

static bool matches_all(const struct terms *ts, const struct sched_snapshot *snap, const json_t *pod)
{
  if (ts->n == 0) return false;
  for (size_t i = 0; i < ts->n; i++)
    if (!term_matches(&ts->t[i], snap, pod)) return false;
  return true;
}

/* counts[key][value] += delta for the node's value of key. */
static void bump(json_t *counts, const struct sched_node_info *ni, const char *key, int64_t delta)
{
  const char *v = sched_node_label(ni, key);
  if (!v) return;
  json_t *m = json_object_get(counts, key);
  if (!m) {
    m = json_object();
    json_object_set_new(counts, key, m);
  }
  json_object_set_new(m, v, json_integer(json_integer_value(json_object_get(m, v)) + delta));
}

static int64_t count_at(const json_t *counts, const char *key, const char *value)
{
  return value ? json_integer_value(json_object_get(json_object_get(counts, key), value)) : 0;
}

static const json_t *aff(const json_t *pod, const char *kind, const char *which)
{
  return json_object_get(json_object_get(json_object_get(json_object_get(pod, "spec"), "affinity"), kind), which);
}
#define REQ "requiredDuringSchedulingIgnoredDuringExecution"
#define PREF "preferredDuringSchedulingIgnoredDuringExecution"

struct filter_state {
  struct terms affinity, anti;
  json_t *existing_anti, *affinity_counts, *anti_counts;
  bool self_match;
};

static void filter_state_free(void *p)
{
  struct filter_state *s = p;
  terms_free(&s->affinity);
  terms_free(&s->anti);
  json_decref(s->existing_anti);
  json_decref(s->affinity_counts);
  json_decref(s->anti_counts);
  free(s);
}

static enum sched_code pre_filter(void *self, struct sched_cycle *c, struct sched_status *st)
{
  const struct sched_snapshot *snap = c->snap;
  size_t with_anti = snap->pods_with_required_anti;
  const json_t *ra = aff(c->pod, "podAffinity", REQ), *raa = aff(c->pod, "podAntiAffinity", REQ);
  if (with_anti == 0 && json_array_size(ra) == 0 && json_array_size(raa) == 0) return SCHED_SKIP;
  struct filter_state *s = xcalloc(1, sizeof *s);
  if (!s) return sched_status_fail(st, SCHED_ERROR, "out of memory");
  terms_parse(ra, c->pod, false, &s->affinity);
  terms_parse(raa, c->pod, false, &s->anti);
  s->existing_anti = json_object();
  s->affinity_counts = json_object();
  s->anti_counts = json_object();
  for (size_t i = 0; i < snap->nnodes; i++) {
    const struct sched_node_info *ni = snap->nodes[i];
    for (size_t j = 0; j < ni->npods; j++) {
      const json_t *ep = ni->pods[j].pod;
      if (ni->pods[j].has_required_anti) {
        struct terms et;
        terms_parse(aff(ep, "podAntiAffinity", REQ), ep, false, &et);
        for (size_t k = 0; k < et.n; k++)
          if (term_matches(&et.t[k], snap, c->pod)) bump(s->existing_anti, ni, et.t[k].key, 1);
        terms_free(&et);
      }
      if (s->affinity.n && matches_all(&s->affinity, snap, ep))
        for (size_t k = 0; k < s->affinity.n; k++) bump(s->affinity_counts, ni, s->affinity.t[k].key, 1);
      for (size_t k = 0; k < s->anti.n; k++)
        if (term_matches(&s->anti.t[k], snap, ep)) bump(s->anti_counts, ni, s->anti.t[k].key, 1);
    }
  }
  s->self_match = matches_all(&s->affinity, snap, c->pod);
  sched_cycle_set(c, s, filter_state_free);
  return SCHED_SUCCESS;
}

static enum sched_code filter(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                              struct sched_status *st)
{
  const struct filter_state *s = sched_cycle_get(c);
  if (!s) return SCHED_SUCCESS;
  bool exist = true;
  for (size_t k = 0; k < s->affinity.n; k++) {
    const char *v = sched_node_label(ni, s->affinity.t[k].key);
    if (!v) return sched_status_fail_static(st, SCHED_UNRESOLVABLE, SCHED_REASON_POD_AFFINITY);
    if (count_at(s->affinity_counts, s->affinity.t[k].key, v) <= 0) exist = false;
  }
  if (!exist && !(json_object_size(s->affinity_counts) == 0 && s->self_match))
    return sched_status_fail_static(st, SCHED_UNRESOLVABLE, SCHED_REASON_POD_AFFINITY);
  for (size_t k = 0; k < s->anti.n; k++)
    if (count_at(s->anti_counts, s->anti.t[k].key, sched_node_label(ni, s->anti.t[k].key)) > 0)
      return sched_status_fail_static(st, SCHED_UNSCHEDULABLE, SCHED_REASON_POD_ANTI_AFFINITY);
  const char *key;
  json_t *m;
  json_object_foreach (s->existing_anti, key, m) {
    const char *v = sched_node_label(ni, key);
    if (v && json_integer_value(json_object_get(m, v)) > 0)
      return sched_status_fail_static(st, SCHED_UNSCHEDULABLE, SCHED_REASON_EXISTING_ANTI_AFFINITY);
  }
  return SCHED_SUCCESS;
}

/* ---- scoring ---- */

static void add_matching(json_t *scores, const struct terms *ts, const struct sched_snapshot *snap,
                         const json_t *target, const struct sched_node_info *ni, int64_t sign, int64_t fixed_weight)
{
  for (size_t k = 0; k < ts->n; k++) {
    int64_t w = fixed_weight ? fixed_weight : ts->t[k].weight;
    if (w != 0 && term_matches(&ts->t[k], snap, target)) bump(scores, ni, ts->t[k].key, sign * w);
  }
}

static void free_json(void *p) { json_decref(p); }

static enum sched_code pre_score(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, size_t n)
{
  const struct ipa_args *a = self;
  const struct sched_snapshot *snap = c->snap;
  const json_t *pa = aff(c->pod, "podAffinity", PREF), *paa = aff(c->pod, "podAntiAffinity", PREF);
  bool has_pref = json_array_size(pa) || json_array_size(paa);
  size_t with_aff = snap->pods_with_affinity;
  if (!has_pref && with_aff == 0) return SCHED_SKIP;
  struct terms mine_a, mine_aa;
  terms_parse(pa, c->pod, true, &mine_a);
  terms_parse(paa, c->pod, true, &mine_aa);
  json_t *scores = json_object();
  for (size_t i = 0; i < snap->nnodes; i++) {
    const struct sched_node_info *ni = snap->nodes[i];
    if (!has_pref && ni->pods_with_affinity == 0) continue;
    for (size_t j = 0; j < ni->npods; j++) {
      const json_t *ep = ni->pods[j].pod;
      add_matching(scores, &mine_a, snap, ep, ni, +1, 0);
      add_matching(scores, &mine_aa, snap, ep, ni, -1, 0);
      if (!ni->pods[j].has_affinity) continue;
      struct terms t;
      if (a->hard_weight > 0) {
        terms_parse(aff(ep, "podAffinity", REQ), ep, false, &t);
        add_matching(scores, &t, snap, c->pod, ni, +1, a->hard_weight);
        terms_free(&t);
      }
      if (a->ignore_preferred_of_existing) continue;
      terms_parse(aff(ep, "podAffinity", PREF), ep, true, &t);
      add_matching(scores, &t, snap, c->pod, ni, +1, 0);
      terms_free(&t);
      terms_parse(aff(ep, "podAntiAffinity", PREF), ep, true, &t);
      add_matching(scores, &t, snap, c->pod, ni, -1, 0);
      terms_free(&t);
    }
  }
  terms_free(&mine_a);
  terms_free(&mine_aa);
  /* Replaces (and frees) the PreFilter state: Filter is over. */
  sched_cycle_set(c, scores, free_json);
  return SCHED_SUCCESS;
}

static int64_t score(void *self, struct sched_cycle *c, const struct sched_node_info *ni)
{
  const json_t *scores = sched_cycle_get(c);
  int64_t sum = 0;
  const char *key;
  json_t *m;
  json_object_foreach ((json_t *)scores, key, m) {
    const char *v = sched_node_label(ni, key);
    if (v) sum += json_integer_value(json_object_get(m, v));
  }
  return sum;
}

static void normalize(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, int64_t *scores,
                      size_t n)
{
  if (json_object_size(sched_cycle_get(c)) == 0) return;
  int64_t min = INT64_MAX, max = INT64_MIN;
  for (size_t i = 0; i < n; i++) {
    if (scores[i] < min) min = scores[i];
    if (scores[i] > max) max = scores[i];
  }
  int64_t diff = max - min;
  for (size_t i = 0; i < n; i++)
    scores[i] = diff > 0 ? (int64_t)((double)SCHED_MAX_NODE_SCORE * ((double)(scores[i] - min) / (double)diff)) : 0;
}

static int ipa_init(const json_t *args, void **self, char *err, size_t errlen)
{
  struct ipa_args *a = xcalloc(1, sizeof *a);
  if (!a) return -ENOMEM;
  a->hard_weight = 1;
  json_t *w = json_object_get(args, "hardPodAffinityWeight");
  if (w) {
    a->hard_weight = json_integer_value(w);
    if (!json_is_integer(w) || a->hard_weight < 0 || a->hard_weight > 100) {
      snprintf(err, errlen, "hardPodAffinityWeight: Invalid value: %lld: not in valid range [0, 100]",
               (long long)a->hard_weight);
      free(a);
      return -EINVAL;
    }
  }
  a->ignore_preferred_of_existing = json_is_true(json_object_get(args, "ignorePreferredTermsOfExistingPods"));
  *self = a;
  return 0;
}

const struct sched_plugin sched_plugin_inter_pod_affinity = {
    .name = "InterPodAffinity",
    .init = ipa_init,
    .destroy = free,
    .pre_filter = pre_filter,
    .filter = filter,
    .pre_score = pre_score,
    .score = score,
    .normalize = normalize,
};
