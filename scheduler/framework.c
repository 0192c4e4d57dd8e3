/*
 * framework.c - one scheduling cycle (upstream's schedulePod).
 *
 * PreFilter runs once per pod; a plugin may mark itself skipped for the
 * rest of the cycle, fail the pod outright (every node then carries that
 * status) or restrict the cycle to one node (NodeAffinity's matchFields on
 * metadata.name, which DaemonSet pods use).  Filter then walks the nodes
 * from the profile's round-robin start index and stops once
 * numFeasibleNodesToFind nodes pass; the first failing plugin's status is
 * the node's status.  The next cycle starts where this one stopped, so in a
 * large cluster every node gets its turn.  Scoring sums each score plugin's
 * normalized 0..100 score times its weight; the best total wins, ties broken
 * by reservoir sampling so that each tied node is equally likely.
 *
 * When no node fits, the message is upstream's FitError: the reasons of all
 * node statuses counted, formatted "N reason", sorted as strings, and the
 * preemption post-filter's own summary appended (it ends with its own
 * period, hence upstream's trailing "..").  Preemption itself (evicting
 * lower-priority pods) is preemption.c's job, run by the scheduler after a
 * failed cycle; the summary here, which the scheduler keeps when preemption
 * finds nothing, is computed the way upstream's dry run reports nodes: unresolvable ones are "not helpful",
 * nodes without lower-priority pods have no victims, others keep their
 * filter reasons.  Per-node statuses are kept only for nodes that fail, and
 * constant reasons are not copied, so a large cycle stays cheap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework.h"
#include "kube/xalloc.h"

void sched_status_reset(struct sched_status *st)
{
  for (int i = 0; i < st->nreasons; i++)
    if (st->owned & (1u << i)) free(st->reasons[i]);
  memset(st, 0, sizeof *st);
}

enum sched_code sched_status_fail(struct sched_status *st, enum sched_code code, const char *fmt, ...)
{
  st->code = code;
  if (st->nreasons < SCHED_MAX_REASONS) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) >= 0) {
      st->owned |= 1u << st->nreasons;
      st->reasons[st->nreasons++] = s;
    }
    va_end(ap);
  }
  return code;
}

enum sched_code sched_status_fail_static(struct sched_status *st, enum sched_code code, const char *reason)
{
  st->code = code;
  if (st->nreasons < SCHED_MAX_REASONS) st->reasons[st->nreasons++] = (char *)reason;
  return code;
}

void *sched_cycle_get(const struct sched_cycle *c) { return c->state[c->cur]; }

void sched_cycle_set(struct sched_cycle *c, void *data, void (*free_fn)(void *))
{
  if (c->state[c->cur] && c->state_free[c->cur]) c->state_free[c->cur](c->state[c->cur]);
  c->state[c->cur] = data;
  c->state_free[c->cur] = free_fn;
}

static void cycle_clear(struct sched_cycle *c)
{
  for (int i = 0; i < SCHED_MAX_PLUGINS; i++)
    if (c->state[i] && c->state_free[i]) c->state_free[i](c->state[i]);
  free(c->only_node);
}

void sched_default_normalize(int64_t max_priority, bool reverse, int64_t *scores, size_t n)
{
  int64_t max = 0;
  for (size_t i = 0; i < n; i++)
    if (scores[i] > max) max = scores[i];
  for (size_t i = 0; i < n; i++) {
    if (max == 0) {
      if (reverse) scores[i] = max_priority;
      continue;
    }
    int64_t s = max_priority * scores[i] / max;
    scores[i] = reverse ? max_priority - s : s;
  }
}

void sched_binding_unreserve(struct sched_binding *b)
{
  if (!b) return;
  for (int i = b->p->nplugins - 1; i >= 0; i--) {
    struct sched_plugin_inst *pi = &b->p->plugins[i];
    if (b->state[i] && pi->p->unreserve) pi->p->unreserve(pi->self, b->state[i]);
  }
  sched_binding_free(b);
}

void sched_binding_free(struct sched_binding *b)
{
  if (!b) return;
  for (int i = 0; i < b->p->nplugins; i++)
    if (b->state[i] && b->p->plugins[i].p->state_free) b->p->plugins[i].p->state_free(b->state[i]);
  free(b);
}

/* Reserve on the chosen node: the states the binding carries, or NULL
 * when no plugin keeps one (the common case, which allocates nothing).
 * A failing plugin undoes the ones before it; *err gets upstream's
 * "running Reserve plugin" message. */
static struct sched_binding *reserve(struct sched_profile *p, struct sched_cycle *c, const char *node, char **err)
{
  struct sched_binding *b = NULL;
  struct sched_status st = {0};
  for (int i = 0; i < p->nplugins; i++) {
    struct sched_plugin_inst *pi = &p->plugins[i];
    if (!pi->reserve || !pi->p->reserve) continue;
    c->cur = i;
    void *state = pi->p->reserve(pi->self, c, node, &st);
    if (st.code != SCHED_SUCCESS) {
      if (asprintf(err, "running Reserve plugin \"%s\": %s", pi->p->name, st.nreasons ? st.reasons[0] : "error") < 0)
        *err = NULL;
      sched_status_reset(&st);
      sched_binding_unreserve(b);
      return NULL;
    }
    if (!state) continue;
    if (!b) {
      b = xcalloc(1, sizeof *b);
      if (!b) {
        if (pi->p->unreserve) pi->p->unreserve(pi->self, state);
        if (pi->p->state_free) pi->p->state_free(state);
        if (asprintf(err, "out of memory") < 0) *err = NULL;
        return NULL;
      }
      b->p = p;
    }
    b->state[i] = state;
  }
  return b;
}

void sched_result_clear(struct sched_result *r)
{
  sched_binding_unreserve(r->binding);
  free(r->node_name);
  free(r->message);
  free(r->node_codes);
  memset(r, 0, sizeof *r);
}

size_t sched_num_feasible_nodes_to_find(int percentage, size_t num_all_nodes)
{
  if (num_all_nodes < SCHED_MIN_FEASIBLE_NODES_TO_FIND || percentage >= 100) return num_all_nodes;
  long pct = percentage;
  if (pct <= 0) {
    pct = 50 - (long)(num_all_nodes / 125);
    if (pct < SCHED_MIN_FEASIBLE_NODES_PERCENTAGE) pct = SCHED_MIN_FEASIBLE_NODES_PERCENTAGE;
  }
  size_t n = num_all_nodes * (size_t)pct / 100;
  return n < SCHED_MIN_FEASIBLE_NODES_TO_FIND ? SCHED_MIN_FEASIBLE_NODES_TO_FIND : n;
}

uint64_t sched_profile_rand(struct sched_profile *p, uint64_t n)
{
  /* xorshift64*: small, fast, and good enough for tie-breaking. */
  uint64_t x = p->rng ? p->rng : 0x9E3779B97F4A7C15ULL;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  p->rng = x;
  return n ? (x * 0x2545F4914F6CDD1DULL >> 11) % n : 0;
}

void sched_profile_seed(struct sched_profile *p, uint64_t seed) { p->rng = seed ? seed : 1; }

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* "N reason, M reason" over the statuses, sorted as upstream sorts them. */
static char *reasons_histogram(struct sched_status *st, size_t n)
{
  json_t *counts = json_object();
  for (size_t i = 0; i < n; i++)
    for (int r = 0; r < st[i].nreasons; r++) {
      json_t *c = json_object_get(counts, st[i].reasons[r]);
      json_object_set_new(counts, st[i].reasons[r], json_integer(c ? json_integer_value(c) + 1 : 1));
    }
  size_t k = json_object_size(counts), j = 0;
  char **items = xcalloc(k ? k : 1, sizeof *items);
  const char *key;
  json_t *v;
  json_object_foreach (counts, key, v) {
    if (asprintf(&items[j], "%lld %s", (long long)json_integer_value(v), key) >= 0) j++;
  }
  qsort(items, j, sizeof *items, str_cmp);
  size_t len = 1;
  for (size_t i = 0; i < j; i++) len += strlen(items[i]) + 2;
  char *out = xcalloc(1, len);
  for (size_t i = 0; i < j; i++) {
    if (i) strcat(out, ", ");
    strcat(out, items[i]);
    free(items[i]);
  }
  free(items);
  json_decref(counts);
  return out;
}

static int64_t pod_priority(const json_t *pod)
{
  return (int64_t)json_integer_value(json_object_get(json_object_get(pod, "spec"), "priority"));
}

/* The summary DefaultPreemption gives when it finds no candidate: nodes
 * whose failure no eviction can fix are "not helpful"; nodes without a
 * lower-priority pod have no victims; other nodes keep their filter
 * reasons (the dry run fails with them). */
static char *preemption_message(const json_t *pod, const struct sched_snapshot *snap, struct sched_status *st, size_t n)
{
  const char *policy = json_string_value(json_object_get(json_object_get(pod, "spec"), "preemptionPolicy"));
  char *out = NULL;
  if (policy && strcmp(policy, "Never") == 0) {
    if (asprintf(&out, "preemption: not eligible due to preemptionPolicy=Never.") < 0) out = NULL;
    return out;
  }
  int64_t prio = pod_priority(pod);
  struct sched_status *pst = xcalloc(n ? n : 1, sizeof *pst);
  for (size_t i = 0; i < n; i++) {
    if (st[i].code == SCHED_UNRESOLVABLE || st[i].code == SCHED_SUCCESS) {
      sched_status_fail_static(&pst[i], SCHED_UNRESOLVABLE, "Preemption is not helpful for scheduling");
      continue;
    }
    const struct sched_node_info *ni = snap->nodes[i];
    bool victims = false;
    for (size_t j = 0; j < ni->npods && !victims; j++) victims = pod_priority(ni->pods[j].pod) < prio;
    if (!victims) {
      sched_status_fail_static(&pst[i], SCHED_UNRESOLVABLE, "No preemption victims found for incoming pod");
      continue;
    }
    for (int r = 0; r < st[i].nreasons; r++) sched_status_fail(&pst[i], st[i].code, "%s", st[i].reasons[r]);
  }
  char *hist = reasons_histogram(pst, n);
  if (asprintf(&out, "preemption: 0/%zu nodes are available: %s.", n, hist) < 0) out = NULL;
  free(hist);
  for (size_t i = 0; i < n; i++) sched_status_reset(&pst[i]);
  free(pst);
  return out;
}

/* *fit_len gets the length of the message before the PostFilter part. */
static char *fit_error(const json_t *pod, const struct sched_snapshot *snap, struct sched_status *st, size_t n,
                       const char *prefilter_msg, size_t *fit_len)
{
  char *hist = prefilter_msg ? xstrdup(prefilter_msg) : reasons_histogram(st, n);
  char *post = preemption_message(pod, snap, st, n);
  char *out = NULL;
  /* Each part is followed by ".", and the post-filter message ends with
   * its own period: upstream's messages end in "..", kept as they are. */
  if (asprintf(&out, "0/%zu nodes are available:%s%s%s%s%s%s", n, hist && *hist ? " " : "", hist ? hist : "",
               hist && *hist ? "." : "", post ? " " : "", post ? post : "", post ? "." : "") < 0)
    out = NULL;
  if (out && fit_len) {
    char *p = post ? strstr(out, post) : NULL;
    *fit_len = p ? (size_t)(p - out - 1) : strlen(out);
  }
  free(hist);
  free(post);
  return out;
}

static enum sched_code run_filters(struct sched_profile *p, struct sched_cycle *c, const struct sched_node_info *ni,
                                   struct sched_status *st)
{
  for (int i = 0; i < p->nplugins; i++) {
    struct sched_plugin_inst *pi = &p->plugins[i];
    if (!pi->filter || !pi->p->filter || c->skip_filter[i]) continue;
    c->cur = i;
    enum sched_code code = pi->p->filter(pi->self, c, ni, st);
    if (code != SCHED_SUCCESS) {
      st->code = code;
      st->plugin = pi->p->name;
      return code;
    }
  }
  return SCHED_SUCCESS;
}

static int select_host(struct sched_profile *p, struct sched_node_info **feasible, const int64_t *total, size_t n)
{
  size_t sel = 0, ties = 1;
  for (size_t i = 1; i < n; i++) {
    if (total[i] > total[sel]) {
      sel = i;
      ties = 1;
    } else if (total[i] == total[sel]) {
      ties++;
      if (sched_profile_rand(p, ties) == 0) sel = i;
    }
  }
  return (int)sel;
}

static int score_nodes(struct sched_profile *p, struct sched_cycle *c, struct sched_node_info **feasible, size_t nf,
                       int64_t *total)
{
  int64_t *scores = xcalloc(nf, sizeof *scores);
  if (!scores) return -ENOMEM;
  for (int i = 0; i < p->nplugins; i++) {
    struct sched_plugin_inst *pi = &p->plugins[i];
    if (!pi->pre_score || !pi->p->pre_score) continue;
    c->cur = i;
    enum sched_code code = pi->p->pre_score(pi->self, c, feasible, nf);
    if (code == SCHED_SKIP) c->skip_score[i] = true;
  }
  for (int i = 0; i < p->nplugins; i++) {
    struct sched_plugin_inst *pi = &p->plugins[i];
    if (!pi->score || !pi->p->score || c->skip_score[i]) continue;
    c->cur = i;
    for (size_t j = 0; j < nf; j++) scores[j] = pi->p->score(pi->self, c, feasible[j]);
    if (pi->p->normalize) pi->p->normalize(pi->self, c, feasible, scores, nf);
    for (size_t j = 0; j < nf; j++) total[j] += scores[j] * pi->weight;
  }
  free(scores);
  return 0;
}

/* Failed nodes of one cycle, kept sparse: in a large cluster a cycle
 * usually stops after a fraction of the nodes, most of which fit. */
struct failures {
  struct {
    size_t ix;
    struct sched_status st;
  } * v;
  size_t n, cap;
};

static int failures_push(struct failures *f, size_t ix, struct sched_status *st)
{
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 64;
    void *p = xrealloc(f->v, cap * sizeof *f->v);
    if (!p) return -ENOMEM;
    f->v = p;
    f->cap = cap;
  }
  f->v[f->n].ix = ix;
  f->v[f->n++].st = *st;
  memset(st, 0, sizeof *st);
  return 0;
}

static void failures_clear(struct failures *f)
{
  for (size_t i = 0; i < f->n; i++) sched_status_reset(&f->v[i].st);
  free(f->v);
  memset(f, 0, sizeof *f);
}

/* Builds the FitError message from the failures (moved out of f). */
static char *unschedulable_message(const json_t *pod, const struct sched_snapshot *snap, struct failures *f,
                                   const char *prefilter_msg, struct sched_result *result)
{
  size_t n = snap->nnodes;
  free(result->node_codes);
  result->node_codes = xmalloc(n);
  if (result->node_codes) {
    memset(result->node_codes, SCHED_UNRESOLVABLE, n);
    for (size_t i = 0; i < f->n; i++) result->node_codes[f->v[i].ix] = (unsigned char)f->v[i].st.code;
  }
  struct sched_status *st = xcalloc(n, sizeof *st);
  if (!st) return NULL;
  for (size_t i = 0; i < f->n; i++) {
    sched_status_reset(&st[f->v[i].ix]);
    st[f->v[i].ix] = f->v[i].st;
    memset(&f->v[i].st, 0, sizeof f->v[i].st);
  }
  char *msg = fit_error(pod, snap, st, n, prefilter_msg, &result->fit_len);
  for (size_t j = 0; j < n; j++) sched_status_reset(&st[j]);
  free(st);
  return msg;
}

static char *join_reasons(const struct sched_status *st)
{
  size_t len = 1;
  for (int r = 0; r < st->nreasons; r++) len += strlen(st->reasons[r]) + 2;
  char *msg = xcalloc(1, len);
  for (int r = 0; msg && r < st->nreasons; r++) {
    if (r) strcat(msg, ", ");
    strcat(msg, st->reasons[r]);
  }
  return msg;
}

/* PreFilter, then Filter until to_find nodes fit.  Returns 0 (*nf may be
 * 0; fails holds the nodes that failed), or the PreFilter's rejection:
 * -ENOSPC (-EIO for an error) with *pre_msg (owned) and every node failed
 * with its status; -ENOMEM. */
static int find_feasible(struct sched_profile *p, struct sched_cycle *c, struct sched_node_info **feasible,
                         size_t to_find, size_t *nf_out, struct failures *fails, char **pre_msg,
                         struct sched_result *result)
{
  const struct sched_snapshot *snap = c->snap;
  size_t n = snap->nnodes, nf = 0;
  struct sched_status st = {0};
  *pre_msg = NULL;
  for (int i = 0; i < p->nplugins; i++) {
    struct sched_plugin_inst *pi = &p->plugins[i];
    if (!pi->pre_filter || !pi->p->pre_filter) continue;
    c->cur = i;
    enum sched_code code = pi->p->pre_filter(pi->self, c, &st);
    if (code == SCHED_SKIP) {
      c->skip_filter[i] = true;
    } else if (code != SCHED_SUCCESS) {
      /* The pod cannot fit anywhere; every node carries this status. */
      *pre_msg = join_reasons(&st);
      for (size_t j = 0; j < n; j++) {
        struct sched_status copy = {.code = code};
        for (int r = 0; r < st.nreasons; r++) sched_status_fail(&copy, code, "%s", st.reasons[r]);
        failures_push(fails, j, &copy);
      }
      sched_status_reset(&st);
      return code == SCHED_ERROR ? -EIO : -ENOSPC;
    }
    sched_status_reset(&st);
  }

  if (c->only_node) {
    struct sched_node_info *ni = sched_snapshot_node(snap, c->only_node);
    if (ni) {
      result->evaluated_nodes = 1;
      if (run_filters(p, c, ni, &st) == SCHED_SUCCESS) feasible[nf++] = ni;
      else failures_push(fails, (size_t)json_integer_value(json_object_get(snap->index, ni->name)), &st);
    }
    if (nf == 0)
      for (size_t j = 0; j < n; j++) {
        if (snap->nodes[j] == ni) continue;
        sched_status_fail_static(&st, SCHED_UNRESOLVABLE, "node(s) didn't satisfy plugin(s) [NodeAffinity]");
        failures_push(fails, j, &st);
      }
  } else {
    size_t start = p->next_start_node_index % n, processed = 0;
    for (size_t i = 0; i < n && nf < to_find; i++) {
      size_t ix = (start + i) % n;
      processed++;
      if (run_filters(p, c, snap->nodes[ix], &st) == SCHED_SUCCESS) feasible[nf++] = snap->nodes[ix];
      else if (failures_push(fails, ix, &st) < 0) {
        sched_status_reset(&st);
        return -ENOMEM;
      }
    }
    p->next_start_node_index = (start + processed) % n;
    result->evaluated_nodes = processed;
  }
  sched_status_reset(&st);
  *nf_out = nf;
  result->feasible_nodes = nf;
  return 0;
}

/* Scores the feasible nodes (plugins, plus extender scores by node name
 * when given) and picks the winner into result->node_name. */
static int pick_host(struct sched_profile *p, struct sched_cycle *c, struct sched_node_info **feasible, size_t nf,
                     const json_t *ext_scores, struct sched_result *result)
{
  size_t sel = 0;
  if (nf > 1) {
    int64_t *total = xcalloc(nf, sizeof *total);
    if (!total) return -ENOMEM;
    int rc = score_nodes(p, c, feasible, nf, total);
    for (size_t j = 0; rc == 0 && ext_scores && j < nf; j++)
      total[j] += json_integer_value(json_object_get(ext_scores, feasible[j]->name));
    if (rc == 0) sel = (size_t)select_host(p, feasible, total, nf);
    free(total);
    if (rc < 0) return rc;
  }
  char *rerr = NULL;
  result->binding = reserve(p, c, feasible[sel]->name, &rerr);
  if (rerr) {
    result->message = rerr;
    return -EIO;
  }
  result->node_name = xstrdup(feasible[sel]->name);
  return result->node_name ? 0 : -ENOMEM;
}

int sched_schedule_one(struct sched_profile *p, const struct sched_snapshot *snap, const json_t *pod,
                       struct sched_result *result)
{
  memset(result, 0, sizeof *result);
  size_t n = snap->nnodes;
  if (n == 0) {
    result->message = xstrdup("no nodes available to schedule pods");
    return -ENOSPC;
  }
  size_t to_find = sched_num_feasible_nodes_to_find(p->percentage_of_nodes_to_score, n);
  struct sched_cycle *c = xcalloc(1, sizeof *c);
  struct sched_node_info **feasible = xcalloc(to_find, sizeof *feasible);
  struct failures fails = {0};
  char *pre_msg = NULL;
  size_t nf = 0;
  int rc = 0;
  if (!c || !feasible) {
    rc = -ENOMEM;
    goto out;
  }
  c->snap = snap;
  c->pod = pod;
  rc = find_feasible(p, c, feasible, to_find, &nf, &fails, &pre_msg, result);
  if (rc == -ENOSPC || rc == -EIO) {
    result->message = unschedulable_message(pod, snap, &fails, pre_msg, result);
    goto out;
  }
  if (rc < 0) goto out;
  if (nf == 0) {
    result->message = unschedulable_message(pod, snap, &fails, NULL, result);
    rc = -ENOSPC;
    goto out;
  }
  rc = pick_host(p, c, feasible, nf, NULL, result);
out:
  if (rc == -ENOMEM && !result->message) result->message = xstrdup("out of memory");
  if (c) cycle_clear(c);
  free(c);
  free(pre_msg);
  failures_clear(&fails);
  free(feasible);
  return rc;
}

void sched_partial_clear(struct sched_partial *part)
{
  json_decref(part->feasible);
  json_decref(part->failed);
  memset(part, 0, sizeof *part);
}

static json_t *status_json(const struct sched_status *st)
{
  json_t *reasons = json_array();
  for (int r = 0; r < st->nreasons; r++) json_array_append_new(reasons, json_string(st->reasons[r]));
  return json_pack("{s:i,s:o}", "code", (int)st->code, "reasons", reasons);
}

int sched_schedule_filter(struct sched_profile *p, const struct sched_snapshot *snap, const json_t *pod,
                          struct sched_partial *part, struct sched_result *result)
{
  memset(part, 0, sizeof *part);
  memset(result, 0, sizeof *result);
  size_t n = snap->nnodes;
  if (n == 0) {
    result->message = xstrdup("no nodes available to schedule pods");
    return -ENOSPC;
  }
  size_t to_find = sched_num_feasible_nodes_to_find(p->percentage_of_nodes_to_score, n);
  struct sched_cycle *c = xcalloc(1, sizeof *c);
  struct sched_node_info **feasible = xcalloc(to_find, sizeof *feasible);
  struct failures fails = {0};
  char *pre_msg = NULL;
  size_t nf = 0;
  int rc = 0;
  if (!c || !feasible) {
    rc = -ENOMEM;
    goto out;
  }
  c->snap = snap;
  c->pod = pod;
  rc = find_feasible(p, c, feasible, to_find, &nf, &fails, &pre_msg, result);
  if (rc == -ENOSPC || rc == -EIO) {
    result->message = unschedulable_message(pod, snap, &fails, pre_msg, result);
    goto out;
  }
  if (rc < 0) goto out;
  part->feasible = json_array();
  part->failed = json_object();
  for (size_t i = 0; i < nf; i++) json_array_append_new(part->feasible, json_string(feasible[i]->name));
  for (size_t i = 0; i < fails.n; i++)
    json_object_set_new(part->failed, snap->nodes[fails.v[i].ix]->name, status_json(&fails.v[i].st));
out:
  if (rc == -ENOMEM && !result->message) result->message = xstrdup("out of memory");
  if (c) cycle_clear(c);
  free(c);
  free(pre_msg);
  failures_clear(&fails);
  free(feasible);
  return rc;
}

/* Rebuilds per-node statuses for the current snapshot from the nodes'
 * names (the snapshot may have changed since Filter ran). */
static int failures_from_json(const struct sched_snapshot *snap, const json_t *failed, struct failures *f)
{
  const char *name;
  json_t *v;
  json_object_foreach ((json_t *)failed, name, v) {
    const json_t *ix = json_object_get(snap->index, name);
    if (!ix) continue;
    struct sched_status st = {0};
    enum sched_code code = (enum sched_code)json_integer_value(json_object_get(v, "code"));
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get(v, "reasons"), i, r) sched_status_fail(&st, code, "%s", json_string_value(r));
    st.code = code;
    if (failures_push(f, (size_t)json_integer_value(ix), &st) < 0) {
      sched_status_reset(&st);
      return -ENOMEM;
    }
  }
  return 0;
}

int sched_schedule_finish(struct sched_profile *p, const struct sched_snapshot *snap, const json_t *pod,
                          const struct sched_partial *part, const json_t *ext_scores, struct sched_result *result)
{
  size_t evaluated = result->evaluated_nodes;
  memset(result, 0, sizeof *result);
  result->evaluated_nodes = evaluated;
  size_t cap = json_array_size(part->feasible), nf = 0;
  struct sched_node_info **feasible = xcalloc(cap ? cap : 1, sizeof *feasible);
  struct sched_cycle *c = xcalloc(1, sizeof *c);
  struct failures fails = {0};
  int rc = 0;
  if (!feasible || !c) {
    rc = -ENOMEM;
    goto out;
  }
  c->snap = snap;
  c->pod = pod;
  size_t i;
  json_t *v;
  json_array_foreach (part->feasible, i, v) {
    struct sched_node_info *ni = sched_snapshot_node(snap, json_string_value(v));
    if (ni) feasible[nf++] = ni;
  }
  result->feasible_nodes = nf;
  if (nf == 0) {
    if (snap->nnodes == 0) {
      result->message = xstrdup("no nodes available to schedule pods");
    } else if ((rc = failures_from_json(snap, part->failed, &fails)) == 0) {
      result->message = unschedulable_message(pod, snap, &fails, NULL, result);
    }
    if (rc == 0) rc = -ENOSPC;
    goto out;
  }
  rc = pick_host(p, c, feasible, nf, ext_scores, result);
out:
  if (rc == -ENOMEM && !result->message) result->message = xstrdup("out of memory");
  if (c) cycle_clear(c);
  free(c);
  failures_clear(&fails);
  free(feasible);
  return rc;
}

enum sched_code sched_filter_node(struct sched_profile *p, const struct sched_snapshot *snap, const json_t *pod,
                                  const struct sched_node_info *ni, struct sched_status *st)
{
  struct sched_cycle *c = xcalloc(1, sizeof *c);
  if (!c) return sched_status_fail_static(st, SCHED_ERROR, "out of memory");
  c->snap = snap;
  c->pod = pod;
  enum sched_code code = SCHED_SUCCESS;
  for (int i = 0; i < p->nplugins && code == SCHED_SUCCESS; i++) {
    struct sched_plugin_inst *pi = &p->plugins[i];
    if (!pi->pre_filter || !pi->p->pre_filter) continue;
    c->cur = i;
    enum sched_code pc = pi->p->pre_filter(pi->self, c, st);
    if (pc == SCHED_SKIP) c->skip_filter[i] = true;
    else if (pc != SCHED_SUCCESS) code = pc;
    else sched_status_reset(st);
  }
  if (code == SCHED_SUCCESS && c->only_node && strcmp(c->only_node, ni->name) != 0)
    code = sched_status_fail_static(st, SCHED_UNRESOLVABLE, "node(s) didn't satisfy plugin(s) [NodeAffinity]");
  if (code == SCHED_SUCCESS) code = run_filters(p, c, ni, st);
  cycle_clear(c);
  free(c);
  return code;
}
