/*
 * sched_test_util.h - fixtures for the scheduler's unit tests: nodes and
 * pods built from short JSON, and drivers that run one plugin the way the
 * framework does (PreFilter, Filter on one node; PreScore, Score,
 * NormalizeScore over all nodes) so that table tests state inputs and the
 * exact upstream reasons or scores.
 */
#ifndef SCHED_TEST_UTIL_H
#define SCHED_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework.h"
#include "kube/json.h"
#include "plugins/plugins.h"

/* New reference; fails the test on a JSON error. */
static inline json_t *tj(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) {
    fprintf(stderr, "bad fixture JSON: %s: %s\n", e.text, s);
    abort();
  }
  return v;
}

/* A node with allocatable cpu/memory/pods; extra (may be NULL) is merged
 * into the object (e.g. {"metadata":{"labels":...},"spec":{"taints":...}}). */
static inline json_t *mk_node(const char *name, const char *cpu, const char *mem, int pods, const char *extra)
{
  json_t *n = json_pack("{s:{s:s,s:{s:s}},s:{},s:{s:{s:s,s:s,s:s,s:s}}}", "metadata", "name", name, "labels",
                        "kubernetes.io/hostname", name, "spec", "status", "allocatable", "cpu", cpu, "memory", mem,
                        "pods", "110", "ephemeral-storage", "100Gi");
  char p[16];
  snprintf(p, sizeof p, "%d", pods);
  kj_set_str(n, "status.allocatable.pods", p);
  if (extra) {
    json_t *x = tj(extra);
    const char *k;
    json_t *v;
    json_object_foreach (x, k, v) {
      json_t *dst = json_object_get(n, k);
      if (json_is_object(dst) && json_is_object(v)) {
        const char *k2;
        json_t *v2;
        json_object_foreach (v, k2, v2) {
          json_t *d2 = json_object_get(dst, k2);
          if (json_is_object(d2) && json_is_object(v2)) json_object_update(d2, v2);
          else json_object_set(dst, k2, v2);
        }
      } else json_object_set(n, k, v);
    }
    json_decref(x);
  }
  return n;
}

/* A pod from JSON; namespace defaults to "default", name to "p". */
static inline json_t *mk_pod(const char *s)
{
  json_t *p = tj(s);
  kj_default(p, "metadata.namespace", json_string("default"));
  kj_default(p, "metadata.name", json_string("p"));
  kj_default(p, "spec.containers", json_pack("[{s:s}]", "name", "c"));
  return p;
}

/* A pod with one container requesting cpu/memory (NULL: none). */
static inline json_t *mk_req_pod(const char *name, const char *cpu, const char *mem)
{
  json_t *req = json_object();
  if (cpu) json_object_set_new(req, "cpu", json_string(cpu));
  if (mem) json_object_set_new(req, "memory", json_string(mem));
  return json_pack("{s:{s:s,s:s},s:{s:[{s:s,s:s,s:{s:o}}]}}", "metadata", "name", name, "namespace", "default", "spec",
                   "containers", "name", "c", "image", "busybox", "resources", "requests", req);
}

static inline void add_nodes(struct sched_snapshot *s, json_t **nodes, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    sched_snapshot_set_node(s, nodes[i]);
    json_decref(nodes[i]);
  }
}

static inline void add_pod_on(struct sched_snapshot *s, json_t *pod, const char *node)
{
  if (sched_snapshot_add_pod(s, pod, node, false) != 0) {
    fprintf(stderr, "add_pod_on %s failed\n", node);
    abort();
  }
  json_decref(pod);
}

struct plugin_run {
  const struct sched_plugin *p;
  void *self;
  struct sched_cycle c;
};

static inline void run_init(struct plugin_run *r, const struct sched_plugin *p, const char *args,
                            const struct sched_snapshot *snap, const json_t *pod)
{
  memset(r, 0, sizeof *r);
  r->p = p;
  r->c.snap = snap;
  r->c.pod = pod;
  if (p->init) {
    json_t *a = args ? tj(args) : NULL;
    char err[256];
    if (p->init(a, &r->self, err, sizeof err) != 0) {
      fprintf(stderr, "init: %s\n", err);
      abort();
    }
    json_decref(a);
  }
}

static inline void run_done(struct plugin_run *r)
{
  if (r->c.state[0] && r->c.state_free[0]) r->c.state_free[0](r->c.state[0]);
  free(r->c.only_node);
  if (r->p->destroy) r->p->destroy(r->self);
}

/* Runs PreFilter then Filter on node; writes the reasons joined by ", ". */
static inline enum sched_code filter_one(const struct sched_plugin *p, const char *args,
                                         const struct sched_snapshot *snap, const json_t *pod, const char *node,
                                         char *out, size_t len)
{
  struct plugin_run r;
  struct sched_status st = {0};
  enum sched_code code = SCHED_SUCCESS;
  run_init(&r, p, args, snap, pod);
  out[0] = '\0';
  if (p->pre_filter) code = p->pre_filter(r.self, &r.c, &st);
  if (code == SCHED_SKIP) code = SCHED_SUCCESS;
  else if (code == SCHED_SUCCESS && p->filter) code = p->filter(r.self, &r.c, sched_snapshot_node(snap, node), &st);
  for (int i = 0; i < st.nreasons; i++) {
    if (i) strncat(out, ", ", len - strlen(out) - 1);
    strncat(out, st.reasons[i], len - strlen(out) - 1);
  }
  sched_status_reset(&st);
  run_done(&r);
  return code;
}

/* Scores every node of the snapshot in order (PreScore/Score/Normalize). */
static inline void score_all(const struct sched_plugin *p, const char *args, const struct sched_snapshot *snap,
                             const json_t *pod, int64_t *out)
{
  struct plugin_run r;
  run_init(&r, p, args, snap, pod);
  size_t n = snap->nnodes;
  bool skip = false;
  if (p->pre_score) skip = p->pre_score(r.self, &r.c, snap->nodes, n) == SCHED_SKIP;
  for (size_t i = 0; i < n; i++) out[i] = skip ? 0 : p->score(r.self, &r.c, snap->nodes[i]);
  if (!skip && p->normalize) p->normalize(r.self, &r.c, snap->nodes, out, n);
  run_done(&r);
}

#endif
