/*
 * preemption.c - victim selection for DefaultPreemption (see preemption.h).
 *
 * For each node whose failure is not unresolvable, in round-robin order
 * until enough candidates were found (10% of the nodes, at least 100):
 * take every pod of lower priority off the node and re-run PreFilter and
 * Filter.  If the pod still does not fit, the node cannot help.  Otherwise
 * give the would-be victims back one at a time, the most important first
 * (higher priority, then earlier start), first those whose eviction would
 * violate a PodDisruptionBudget and then the rest, keeping each one whose
 * return still lets the pod fit ("reprieve").  The ones that could not be
 * returned are the node's victims.  Among candidates the node is chosen as
 * upstream does: fewest PDB violations, then the lowest highest-victim
 * priority, the smallest sum of victim priorities, the fewest victims, the
 * latest start among the highest-priority victims, then the first found.
 * Dry runs edit the real snapshot and undo their edits: there is one event
 * loop, so nothing else sees the intermediate states.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kube/selector.h"
#include "kube/timeutil.h"
#include "preemption.h"
#include "queue.h"
#include "kube/xalloc.h"

struct victim {
  json_t *pod; /* owned reference */
  bool assumed;
  int64_t priority;
  int64_t start_us;
};

struct candidate {
  size_t node_ix;
  struct victim *v; /* the victims, most important first */
  size_t nv;
  int violations;
};

void sched_preemption_clear(struct sched_preemption *pr)
{
  free(pr->node_name);
  json_decref(pr->victims);
  memset(pr, 0, sizeof *pr);
}

static const char *meta_str(const json_t *pod, const char *field)
{
  return json_string_value(json_object_get(json_object_get(pod, "metadata"), field));
}

static int64_t pod_start_us(const json_t *pod)
{
  const char *s = json_string_value(json_object_get(json_object_get(pod, "status"), "startTime"));
  if (!s) s = meta_str(pod, "creationTimestamp");
  int64_t us = 0;
  if (!s || ktime_parse(s, &us) < 0) return INT64_MAX;
  return us;
}

bool sched_preemption_eligible(const struct sched_snapshot *snap, const json_t *pod, const char **why)
{
  const json_t *spec = json_object_get(pod, "spec");
  const char *policy = json_string_value(json_object_get(spec, "preemptionPolicy"));
  if (policy && strcmp(policy, "Never") == 0) {
    *why = "not eligible due to preemptionPolicy=Never.";
    return false;
  }
  const char *nominated = json_string_value(json_object_get(json_object_get(pod, "status"), "nominatedNodeName"));
  const struct sched_node_info *ni = nominated ? sched_snapshot_node(snap, nominated) : NULL;
  if (ni) {
    int64_t prio = sched_pod_priority(pod);
    for (size_t i = 0; i < ni->npods; i++) {
      const json_t *o = ni->pods[i].pod;
      if (json_object_get(json_object_get(o, "metadata"), "deletionTimestamp") && sched_pod_priority(o) < prio) {
        *why = "not eligible due to a terminating pod on the nominated node.";
        return false;
      }
    }
  }
  return true;
}

/* More important first: higher priority, then the earlier start. */
static int victim_cmp(const void *a, const void *b)
{
  const struct victim *x = a, *y = b;
  if (x->priority != y->priority) return x->priority > y->priority ? -1 : 1;
  if (x->start_us != y->start_us) return x->start_us < y->start_us ? -1 : 1;
  return 0;
}

static void victim_remove(struct sched_snapshot *snap, const char *node, const struct victim *v)
{
  sched_snapshot_remove_pod(snap, meta_str(v->pod, "namespace"), meta_str(v->pod, "name"), node);
}

static void victim_restore(struct sched_snapshot *snap, const char *node, const struct victim *v)
{
  sched_snapshot_add_pod(snap, v->pod, node, v->assumed);
}

static bool fits(struct sched_profile *p, struct sched_snapshot *snap, const json_t *pod,
                 const struct sched_node_info *ni)
{
  struct sched_status st = {0};
  enum sched_code code = sched_filter_node(p, snap, pod, ni, &st);
  sched_status_reset(&st);
  return code == SCHED_SUCCESS;
}

/* Marks each victim that would violate a PDB (upstream's
 * filterPodsWithPDBViolation: budgets are consumed in victim order). */
static void pdb_violations(const json_t *pdbs, struct victim *v, size_t nv, bool *violating)
{
  size_t npdb = json_array_size(pdbs);
  int64_t *allowed = xcalloc(npdb ? npdb : 1, sizeof *allowed);
  struct labelsel **sel = xcalloc(npdb ? npdb : 1, sizeof *sel);
  if (!allowed || !sel) goto out;
  for (size_t j = 0; j < npdb; j++) {
    const json_t *pdb = json_array_get(pdbs, j);
    allowed[j] = json_integer_value(json_object_get(json_object_get(pdb, "status"), "disruptionsAllowed"));
    const json_t *s = json_object_get(json_object_get(pdb, "spec"), "selector");
    char err[128];
    sel[j] = s ? labelsel_from_json(s, err, sizeof err) : NULL;
  }
  for (size_t i = 0; i < nv; i++) {
    const char *ns = meta_str(v[i].pod, "namespace"), *name = meta_str(v[i].pod, "name");
    const json_t *labels = json_object_get(json_object_get(v[i].pod, "metadata"), "labels");
    for (size_t j = 0; j < npdb; j++) {
      const json_t *pdb = json_array_get(pdbs, j);
      const char *pns = meta_str(pdb, "namespace");
      if (!ns || !pns || strcmp(ns, pns) != 0) continue;
      /* An empty or missing selector matches nothing for a PDB. */
      if (!sel[j] || labelsel_is_empty(sel[j]) || !labelsel_matches(sel[j], labels)) continue;
      if (name && json_object_get(json_object_get(json_object_get(pdb, "status"), "disruptedPods"), name)) continue;
      if (--allowed[j] < 0) violating[i] = true;
    }
  }
out:
  for (size_t j = 0; sel && j < npdb; j++) labelsel_free(sel[j]);
  free(sel);
  free(allowed);
}

/* upstream selectVictimsOnNode.  0 with c filled, or -ENOENT. */
static int select_victims(struct sched_profile *p, struct sched_snapshot *snap, const json_t *pod,
                          struct sched_node_info *ni, const json_t *pdbs, struct candidate *c)
{
  int64_t prio = sched_pod_priority(pod);
  size_t n = 0;
  struct victim *pot = xcalloc(ni->npods ? ni->npods : 1, sizeof *pot);
  if (!pot) return -ENOMEM;
  for (size_t i = 0; i < ni->npods; i++) {
    const json_t *o = ni->pods[i].pod;
    if (sched_pod_priority(o) >= prio) continue;
    pot[n].pod = json_incref(ni->pods[i].pod);
    pot[n].assumed = ni->pods[i].assumed;
    pot[n].priority = sched_pod_priority(o);
    pot[n].start_us = pod_start_us(o);
    n++;
  }
  if (n == 0) {
    free(pot);
    return -ENOENT;
  }
  char *node = xstrdup(ni->name); /* ni->name lives in the Node, which stays, but keep it simple */
  for (size_t i = 0; i < n; i++) victim_remove(snap, node, &pot[i]);
  int rc = 0;
  if (!fits(p, snap, pod, ni)) {
    for (size_t i = 0; i < n; i++) victim_restore(snap, node, &pot[i]);
    rc = -ENOENT;
    goto out;
  }
  qsort(pot, n, sizeof *pot, victim_cmp);
  bool *violating = xcalloc(n, sizeof *violating);
  bool *evict = xcalloc(n, sizeof *evict);
  if (!violating || !evict) {
    for (size_t i = 0; i < n; i++) victim_restore(snap, node, &pot[i]);
    free(violating);
    free(evict);
    rc = -ENOMEM;
    goto out;
  }
  pdb_violations(pdbs, pot, n, violating);
  for (int pass = 0; pass < 2; pass++) {
    bool want_violating = pass == 0;
    for (size_t i = 0; i < n; i++) {
      if (violating[i] != want_violating) continue;
      victim_restore(snap, node, &pot[i]);
      if (!fits(p, snap, pod, ni)) {
        victim_remove(snap, node, &pot[i]);
        evict[i] = true;
        if (violating[i]) c->violations++;
      }
    }
  }
  c->node_ix = ni->index;
  c->v = xcalloc(n, sizeof *c->v);
  for (size_t i = 0; i < n; i++) {
    if (!evict[i]) continue;
    victim_restore(snap, node, &pot[i]);
    if (c->v) c->v[c->nv++] = pot[i];
    else json_decref(pot[i].pod);
    pot[i].pod = NULL;
  }
  free(violating);
  free(evict);
out:
  for (size_t i = 0; i < n; i++) json_decref(pot[i].pod);
  free(pot);
  free(node);
  return rc;
}

static int64_t earliest_top_start(const struct candidate *c)
{
  int64_t best = INT64_MAX;
  for (size_t i = 0; i < c->nv && c->v[i].priority == c->v[0].priority; i++)
    if (c->v[i].start_us < best) best = c->v[i].start_us;
  return best;
}

/* Whether a is a better choice than b (upstream pickOneNodeForPreemption). */
static bool better(const struct candidate *a, const struct candidate *b)
{
  if (a->violations != b->violations) return a->violations < b->violations;
  if (a->nv == 0 || b->nv == 0) return a->nv < b->nv;
  if (a->v[0].priority != b->v[0].priority) return a->v[0].priority < b->v[0].priority;
  int64_t sa = 0, sb = 0;
  /* Shifted to be positive, as upstream does, so negative priorities do
   * not make more victims look cheaper. */
  for (size_t i = 0; i < a->nv; i++) sa += a->v[i].priority + 2147483648LL;
  for (size_t i = 0; i < b->nv; i++) sb += b->v[i].priority + 2147483648LL;
  if (sa != sb) return sa < sb;
  if (a->nv != b->nv) return a->nv < b->nv;
  int64_t ta = earliest_top_start(a), tb = earliest_top_start(b);
  if (ta != tb) return ta > tb;
  return false;
}

static void candidate_clear(struct candidate *c)
{
  for (size_t i = 0; i < c->nv; i++) json_decref(c->v[i].pod);
  free(c->v);
  memset(c, 0, sizeof *c);
}

json_t *sched_preemption_candidates(struct sched_profile *p, struct sched_snapshot *snap, const json_t *pod,
                                    const unsigned char *node_codes, const json_t *pdbs, uint64_t offset)
{
  json_t *out = json_object();
  size_t n = snap->nnodes;
  size_t want = n * SCHED_PREEMPT_MIN_CANDIDATE_PERCENTAGE / 100;
  if (want < SCHED_PREEMPT_MIN_CANDIDATE_ABSOLUTE) want = SCHED_PREEMPT_MIN_CANDIDATE_ABSOLUTE;
  for (size_t k = 0; out && k < n && json_object_size(out) < want; k++) {
    size_t ix = (size_t)((offset + k) % n);
    if (node_codes && node_codes[ix] == SCHED_UNRESOLVABLE) continue;
    struct candidate c = {0};
    if (select_victims(p, snap, pod, snap->nodes[ix], pdbs, &c) < 0) continue;
    json_t *pods = json_array();
    for (size_t i = 0; i < c.nv; i++) json_array_append(pods, c.v[i].pod);
    json_object_set_new(out, snap->nodes[ix]->name,
                        json_pack("{s:o,s:i}", "pods", pods, "numPDBViolations", c.violations));
    candidate_clear(&c);
  }
  return out;
}

int sched_preemption_pick(const json_t *candidates, struct sched_preemption *out)
{
  memset(out, 0, sizeof *out);
  struct candidate best = {0};
  const char *best_name = NULL, *name;
  json_t *v;
  json_object_foreach ((json_t *)candidates, name, v) {
    const json_t *pods = json_object_get(v, "pods");
    struct candidate c = {.violations = (int)json_integer_value(json_object_get(v, "numPDBViolations"))};
    c.v = xcalloc(json_array_size(pods) ? json_array_size(pods) : 1, sizeof *c.v);
    if (!c.v) break;
    size_t i;
    json_t *pod;
    json_array_foreach (pods, i, pod) {
      c.v[c.nv].pod = json_incref(pod);
      c.v[c.nv].priority = sched_pod_priority(pod);
      c.v[c.nv++].start_us = pod_start_us(pod);
    }
    qsort(c.v, c.nv, sizeof *c.v, victim_cmp);
    if (!best_name || better(&c, &best)) {
      candidate_clear(&best);
      best = c;
      best_name = name;
    } else {
      candidate_clear(&c);
    }
  }
  if (!best_name) return -ENOENT;
  out->node_name = xstrdup(best_name);
  out->victims = json_array();
  for (size_t i = 0; i < best.nv; i++) json_array_append(out->victims, best.v[i].pod);
  out->num_pdb_violations = best.violations;
  candidate_clear(&best);
  return out->node_name ? 0 : -ENOMEM;
}

int sched_preemption_select(struct sched_profile *p, struct sched_snapshot *snap, const json_t *pod,
                            const unsigned char *node_codes, const json_t *pdbs, uint64_t offset,
                            struct sched_preemption *out)
{
  memset(out, 0, sizeof *out);
  size_t n = snap->nnodes;
  if (n == 0) return -ENOENT;
  size_t want = n * SCHED_PREEMPT_MIN_CANDIDATE_PERCENTAGE / 100;
  if (want < SCHED_PREEMPT_MIN_CANDIDATE_ABSOLUTE) want = SCHED_PREEMPT_MIN_CANDIDATE_ABSOLUTE;
  if (want > n) want = n;
  struct candidate best = {0};
  bool have = false;
  size_t found = 0;
  for (size_t k = 0; k < n && found < want; k++) {
    size_t ix = (size_t)((offset + k) % n);
    if (node_codes && node_codes[ix] == SCHED_UNRESOLVABLE) continue;
    struct candidate c = {0};
    if (select_victims(p, snap, pod, snap->nodes[ix], pdbs, &c) < 0) continue;
    found++;
    if (!have || better(&c, &best)) {
      candidate_clear(&best);
      best = c;
      have = true;
    } else {
      candidate_clear(&c);
    }
  }
  if (!have) return -ENOENT;
  out->node_name = xstrdup(snap->nodes[best.node_ix]->name);
  out->victims = json_array();
  for (size_t i = 0; i < best.nv; i++) json_array_append(out->victims, best.v[i].pod);
  out->num_pdb_violations = best.violations;
  candidate_clear(&best);
  return out->node_name ? 0 : -ENOMEM;
}
