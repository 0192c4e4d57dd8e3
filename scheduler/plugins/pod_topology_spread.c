/*
 * pod_topology_spread.c - PodTopologySpread.
 *
 * Each constraint counts the pods that match its selector (in the pod's
 * namespace, not terminating) per domain, a domain being one value of the
 * constraint's topologyKey.  Only nodes that pass the inclusion policies
 * count: nodeAffinityPolicy Honor (default) keeps nodes matching the pod's
 * nodeSelector/required affinity, nodeTaintsPolicy Honor (default Ignore)
 * keeps nodes whose NoSchedule/NoExecute taints the pod tolerates, and a
 * node must carry every constraint's key.  matchLabelKeys add the pod's own
 * values of those labels to the selector.
 *
 * Filter (whenUnsatisfiable DoNotSchedule): placing the pod in the node's
 * domain must keep  count + (1 if the pod matches itself) - global minimum
 * <= maxSkew, where the global minimum is 0 while fewer than minDomains
 * domains exist.  A node without the key is unresolvable.
 *
 * Score (ScheduleAnyway): each constraint adds count * log(domains + 2) +
 * (maxSkew - 1); fewer matching pods is better, so normalization maps the
 * lowest sum to 100, and nodes missing a key score 0.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/selector.h"
#include "plugins.h"
#include "kube/xalloc.h"

#define HOSTNAME_LABEL "kubernetes.io/hostname"
#define NO_LABEL (-1)
#define NO_DOMAIN (-2)

struct constraint {
  int64_t max_skew, min_domains;
  const char *key;
  struct labelsel *sel;
  bool honor_affinity, honor_taints;
  json_t *domains; /* value -> index into count[] */
  int64_t *count;
  size_t ndomains, cap;
  int64_t min_match;
  bool self_match;
  double weight;
};

struct spread_state {
  size_t n;
  struct constraint *c;
  bool pod_has_node_affinity; /* nodeSelector or required node affinity */
  bool *ignored;              /* scoring: by position in the feasible list */
  /* filtering: per snapshot node and constraint, the node's domain index,
   * or NO_LABEL / NO_DOMAIN, so that Filter does no lookups */
  int32_t *dom;
  size_t nignored;
};

static void state_free(void *p)
{
  struct spread_state *s = p;
  for (size_t i = 0; i < s->n; i++) {
    labelsel_free(s->c[i].sel);
    json_decref(s->c[i].domains);
    free(s->c[i].count);
  }
  free(s->c);
  free(s->ignored);
  free(s->dom);
  free(s);
}

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static const json_t *pod_labels(const json_t *pod)
{
  return json_object_get(json_object_get(pod, "metadata"), "labels");
}

static struct labelsel *constraint_selector(const json_t *tsc, const json_t *pod)
{
  char err[128];
  const json_t *keys = json_object_get(tsc, "matchLabelKeys");
  const json_t *ls = json_object_get(tsc, "labelSelector");
  if (json_array_size(keys) == 0 || !ls) return labelsel_from_json(ls, err, sizeof err);
  json_t *copy = kj_deep_copy(ls);
  json_t *exprs = json_object_get(copy, "matchExpressions");
  if (!json_is_array(exprs)) {
    exprs = json_array();
    json_object_set_new(copy, "matchExpressions", exprs);
  }
  size_t i;
  json_t *k;
  json_array_foreach (keys, i, k) {
    const char *v = jstr(pod_labels(pod), json_string_value(k) ? json_string_value(k) : "");
    if (v) json_array_append_new(exprs, json_pack("{s:O,s:s,s:[s]}", "key", k, "operator", "In", "values", v));
  }
  struct labelsel *sel = labelsel_from_json(copy, err, sizeof err);
  json_decref(copy);
  return sel;
}

/* Parses the constraints with the given whenUnsatisfiable; NULL when none. */
static struct spread_state *parse(const json_t *pod, const char *when)
{
  const json_t *list = json_object_get(json_object_get(pod, "spec"), "topologySpreadConstraints");
  size_t i, n = 0;
  json_t *e;
  json_array_foreach (list, i, e) {
    const char *w = jstr(e, "whenUnsatisfiable");
    n += w && strcmp(w, when) == 0 && jstr(e, "topologyKey");
  }
  if (n == 0) return NULL;
  struct spread_state *s = xcalloc(1, sizeof *s);
  if (!s || !(s->c = xcalloc(n, sizeof *s->c))) {
    free(s);
    return NULL;
  }
  json_array_foreach (list, i, e) {
    const char *w = jstr(e, "whenUnsatisfiable");
    if (!w || strcmp(w, when) != 0 || !jstr(e, "topologyKey")) continue;
    struct constraint *c = &s->c[s->n++];
    c->max_skew = json_integer_value(json_object_get(e, "maxSkew"));
    if (c->max_skew < 1) c->max_skew = 1;
    json_t *md = json_object_get(e, "minDomains");
    c->min_domains = json_is_integer(md) && json_integer_value(md) > 0 ? json_integer_value(md) : 1;
    c->key = jstr(e, "topologyKey");
    c->sel = constraint_selector(e, pod);
    const char *ap = jstr(e, "nodeAffinityPolicy"), *tp = jstr(e, "nodeTaintsPolicy");
    c->honor_affinity = !ap || strcmp(ap, "Ignore") != 0;
    c->honor_taints = tp && strcmp(tp, "Honor") == 0;
    c->domains = json_object();
    c->self_match = c->sel && labelsel_matches(c->sel, pod_labels(pod));
  }
  const json_t *spec = json_object_get(pod, "spec");
  s->pod_has_node_affinity = json_object_size(json_object_get(spec, "nodeSelector")) > 0 ||
                             json_object_get(json_object_get(json_object_get(spec, "affinity"), "nodeAffinity"),
                                             "requiredDuringSchedulingIgnoredDuringExecution") != NULL;
  return s;
}

static bool tolerates_node(const json_t *pod, const struct sched_node_info *ni)
{
  size_t i;
  json_t *t;
  const json_t *tols = json_object_get(json_object_get(pod, "spec"), "tolerations");
  json_array_foreach (json_object_get(json_object_get(ni->node, "spec"), "taints"), i, t) {
    const char *eff = jstr(t, "effect");
    if (eff && (strcmp(eff, "NoSchedule") == 0 || strcmp(eff, "NoExecute") == 0) &&
        !tolerations_tolerate_taint(tols, t))
      return false;
  }
  return true;
}

static bool has_all_keys(const struct spread_state *s, const struct sched_node_info *ni)
{
  for (size_t i = 0; i < s->n; i++)
    if (!sched_node_label(ni, s->c[i].key)) return false;
  return true;
}

/* Whether the node counts toward constraint c's domains. */
static bool node_included(const struct spread_state *s, const struct constraint *c, const json_t *pod,
                          const struct sched_node_info *ni)
{
  if (c->honor_affinity && s->pod_has_node_affinity && !pod_matches_node_affinity(pod, ni->node)) return false;
  if (c->honor_taints && ni->taints && !tolerates_node(pod, ni)) return false;
  return true;
}

/* The domain's counter, created at 0 when create is set; NULL if absent. */
static int64_t *domain(struct constraint *c, const char *value, bool create)
{
  json_t *ix = json_object_get(c->domains, value);
  if (ix) return &c->count[json_integer_value(ix)];
  if (!create) return NULL;
  if (c->ndomains == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 8;
    int64_t *p = xrealloc(c->count, cap * sizeof *p);
    if (!p) return NULL;
    c->count = p;
    c->cap = cap;
  }
  json_object_set_new(c->domains, value, json_integer((json_int_t)c->ndomains));
  c->count[c->ndomains] = 0;
  return &c->count[c->ndomains++];
}

static int64_t domain_count(const struct constraint *c, const char *value)
{
  json_t *ix = json_object_get(c->domains, value);
  return ix ? c->count[json_integer_value(ix)] : 0;
}

static int64_t count_matching(const struct sched_node_info *ni, const struct labelsel *sel, const char *ns)
{
  int64_t n = 0;
  for (size_t i = 0; i < ni->npods; i++) {
    const json_t *md = json_object_get(ni->pods[i].pod, "metadata");
    if (json_object_get(md, "deletionTimestamp")) continue;
    const char *pns = jstr(md, "namespace");
    if (strcmp(pns ? pns : "default", ns) != 0) continue;
    if (sel && labelsel_matches(sel, json_object_get(md, "labels"))) n++;
  }
  return n;
}

static const char *pod_ns(const json_t *pod)
{
  const char *ns = jstr(json_object_get(pod, "metadata"), "namespace");
  return ns ? ns : "default";
}

static enum sched_code pre_filter(void *self, struct sched_cycle *c, struct sched_status *st)
{
  struct spread_state *s = parse(c->pod, "DoNotSchedule");
  if (!s) return SCHED_SKIP;
  size_t nn = c->snap->nnodes;
  const char **vals = xcalloc(nn * s->n + 1, sizeof *vals);
  s->dom = xcalloc(nn * s->n + 1, sizeof *s->dom);
  if (!vals || !s->dom) {
    free(vals);
    state_free(s);
    return sched_status_fail(st, SCHED_ERROR, "out of memory");
  }
  const char *ns = pod_ns(c->pod);
  for (size_t i = 0; i < nn; i++) {
    const struct sched_node_info *ni = c->snap->nodes[i];
    bool all = true;
    for (size_t k = 0; k < s->n; k++) all &= (vals[i * s->n + k] = sched_node_label(ni, s->c[k].key)) != NULL;
    if (!all) continue;
    for (size_t k = 0; k < s->n; k++) {
      if (!node_included(s, &s->c[k], c->pod, ni)) continue;
      int64_t *cnt = domain(&s->c[k], vals[i * s->n + k], true);
      if (cnt) *cnt += count_matching(ni, s->c[k].sel, ns);
    }
  }
  /* Domains are complete only now: resolve every node's index. */
  for (size_t i = 0; i < nn * s->n; i++) {
    json_t *ix = vals[i] ? json_object_get(s->c[i % s->n].domains, vals[i]) : NULL;
    s->dom[i] = !vals[i] ? NO_LABEL : ix ? (int32_t)json_integer_value(ix) : NO_DOMAIN;
  }
  free(vals);
  for (size_t k = 0; k < s->n; k++) {
    struct constraint *cc = &s->c[k];
    int64_t min = INT64_MAX;
    for (size_t d = 0; d < cc->ndomains; d++)
      if (cc->count[d] < min) min = cc->count[d];
    if (min == INT64_MAX || (int64_t)cc->ndomains < cc->min_domains) min = 0;
    cc->min_match = min;
  }
  sched_cycle_set(c, s, state_free);
  return SCHED_SUCCESS;
}

static enum sched_code filter(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                              struct sched_status *st)
{
  const struct spread_state *s = sched_cycle_get(c);
  if (!s || !s->dom) return SCHED_SUCCESS;
  const int32_t *dom = &s->dom[ni->index * s->n];
  for (size_t k = 0; k < s->n; k++) {
    const struct constraint *cc = &s->c[k];
    if (dom[k] == NO_LABEL) return sched_status_fail_static(st, SCHED_UNRESOLVABLE, SCHED_REASON_SPREAD_LABEL);
    int64_t count = dom[k] >= 0 ? cc->count[dom[k]] : 0;
    int64_t skew = count + (cc->self_match ? 1 : 0) - cc->min_match;
    if (skew > cc->max_skew) return sched_status_fail_static(st, SCHED_UNSCHEDULABLE, SCHED_REASON_SPREAD);
  }
  return SCHED_SUCCESS;
}

static enum sched_code pre_score(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, size_t n)
{
  struct spread_state *s = parse(c->pod, "ScheduleAnyway");
  if (!s) {
    sched_cycle_set(c, NULL, NULL);
    return SCHED_SKIP;
  }
  s->ignored = xcalloc(n ? n : 1, sizeof *s->ignored);
  for (size_t i = 0; i < n; i++) {
    if (!has_all_keys(s, nodes[i])) {
      s->ignored[i] = true;
      s->nignored++;
      continue;
    }
    for (size_t k = 0; k < s->n; k++) {
      domain(&s->c[k], sched_node_label(nodes[i], s->c[k].key), true);
    }
  }
  for (size_t k = 0; k < s->n; k++) {
    size_t domains = strcmp(s->c[k].key, HOSTNAME_LABEL) == 0 ? n - s->nignored : s->c[k].ndomains;
    s->c[k].weight = log((double)domains + 2);
  }
  const char *ns = pod_ns(c->pod);
  for (size_t i = 0; i < c->snap->nnodes; i++) {
    const struct sched_node_info *ni = c->snap->nodes[i];
    if (!has_all_keys(s, ni)) continue;
    for (size_t k = 0; k < s->n; k++) {
      struct constraint *cc = &s->c[k];
      if (strcmp(cc->key, HOSTNAME_LABEL) == 0 || !node_included(s, cc, c->pod, ni)) continue;
      int64_t *cnt = domain(cc, sched_node_label(ni, cc->key), false);
      if (cnt) *cnt += count_matching(ni, cc->sel, ns); /* else not a domain of any feasible node */
    }
  }
  sched_cycle_set(c, s, state_free);
  return SCHED_SUCCESS;
}

static int64_t score(void *self, struct sched_cycle *c, const struct sched_node_info *ni)
{
  const struct spread_state *s = sched_cycle_get(c);
  if (!s) return 0;
  double sum = 0;
  for (size_t k = 0; k < s->n; k++) {
    const struct constraint *cc = &s->c[k];
    const char *v = sched_node_label(ni, cc->key);
    if (!v) continue;
    int64_t cnt =
        strcmp(cc->key, HOSTNAME_LABEL) == 0 ? count_matching(ni, cc->sel, pod_ns(c->pod)) : domain_count(cc, v);
    sum += (double)cnt * cc->weight + (double)(cc->max_skew - 1);
  }
  return (int64_t)llround(sum);
}

static void normalize(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, int64_t *scores,
                      size_t n)
{
  const struct spread_state *s = sched_cycle_get(c);
  if (!s) return;
  int64_t min = INT64_MAX, max = 0;
  for (size_t i = 0; i < n; i++) {
    if (s->ignored[i]) continue;
    if (scores[i] < min) min = scores[i];
    if (scores[i] > max) max = scores[i];
  }
  for (size_t i = 0; i < n; i++) {
    if (s->ignored[i]) scores[i] = 0;
    else if (max == 0) scores[i] = SCHED_MAX_NODE_SCORE;
    else scores[i] = SCHED_MAX_NODE_SCORE * (max + min - scores[i]) / max;
  }
}

const struct sched_plugin sched_plugin_pod_topology_spread = {
    .name = "PodTopologySpread",
    .pre_filter = pre_filter,
    .filter = filter,
    .pre_score = pre_score,
    .score = score,
    .normalize = normalize,
};
