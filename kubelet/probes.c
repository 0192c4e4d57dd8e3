/*
 * probes.c - probe workers (see probes.h).  A worker is bound to one
 * runtime container; its results live in the pod's per-container state.
 * Callbacks find their worker again by pod UID, container name, kind and
 * generation, so a worker freed while its try was in flight is simply
 * forgotten.
 */
#define _GNU_SOURCE
#include "probes.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "kube/json.h"
#include "kube/podutil.h"
#include "kube/log.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "pods_internal.h"
#include "runtime/runtime.h"

static const char *const kind_field[KL_PROBE_KINDS] = {"livenessProbe", "readinessProbe", "startupProbe"};
static const char *const kind_word[KL_PROBE_KINDS] = {"Liveness", "Readiness", "Startup"};

struct kl_probe {
  struct kl_pods *m;
  char uid[64];
  char name[64];
  int kind;
  unsigned gen;
  char cid[80];
  struct event *timer;
  int successes, failures;
  bool inflight;
  bool stopped; /* liveness/startup decided a restart */
};

struct ticket {
  struct kl_pods *m;
  char uid[64];
  char name[64];
  int kind;
  unsigned gen;
};

void kl_probe_free(struct kl_probe *pr)
{
  if (!pr) return;
  if (pr->timer) event_free(pr->timer);
  free(pr);
}

static struct kl_probe *lookup(struct kl_pods *m, const char *uid, const char *name, int kind, unsigned gen,
                               struct kl_pod **pp, struct kl_cstate **csp)
{
  struct kl_pod *p = kl_pod_get(m, uid);
  struct kl_cstate *cs = p ? kl_pod_cstate(p, name) : NULL;
  struct kl_probe *pr = cs ? cs->probes[kind] : NULL;
  if (!pr || pr->gen != gen) return NULL;
  *pp = p;
  *csp = cs;
  return pr;
}

static void schedule(struct kl_probe *pr, int64_t ms)
{
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  evtimer_add(pr->timer, &tv);
}

static const json_t *probe_spec(struct kl_pod *p, const char *name, int kind, const json_t **container)
{
  const json_t *c = p->pod ? pod_find_container(p->pod, name, POD_CONTAINER_APP | POD_CONTAINER_INIT) : NULL;
  if (container) *container = c;
  return c ? kj_get(c, kind_field[kind]) : NULL;
}

static void result(struct kl_pod *p, struct kl_cstate *cs, struct kl_probe *pr, bool ok, const char *out)
{
  const json_t *spec = probe_spec(p, pr->name, pr->kind, NULL);
  int64_t succ_needed = kj_get_int(spec, "successThreshold", 1), fail_needed = kj_get_int(spec, "failureThreshold", 3);
  if (ok) {
    pr->failures = 0;
    if (++pr->successes < succ_needed) return;
  } else {
    pr->successes = 0;
    kl_pod_event(p, "Warning", "Unhealthy", "%s probe failed: %s", kind_word[pr->kind], out ? out : "");
    if (++pr->failures < fail_needed) return;
  }
  switch (pr->kind) {
  case KL_PROBE_READINESS:
    if (cs->ready != (ok ? 1 : 0)) {
      cs->ready = ok ? 1 : 0;
      kl_pod_enqueue(p);
    }
    break;
  case KL_PROBE_STARTUP:
    if (ok && !cs->started) {
      cs->started = true;
      kl_pod_enqueue(p);
    } else if (!ok) {
      cs->liveness_failed = true;
      snprintf(cs->kill_reason, sizeof cs->kill_reason, "Container %s failed startup probe, will be restarted",
               cs->name);
      pr->stopped = true;
      kl_pod_enqueue(p);
    }
    break;
  case KL_PROBE_LIVENESS:
    if (!ok) {
      cs->liveness_failed = true;
      snprintf(cs->kill_reason, sizeof cs->kill_reason, "Container %s failed liveness probe, will be restarted",
               cs->name);
      pr->stopped = true;
      kl_pod_enqueue(p);
    }
    break;
  }
}

static void probe_done(void *arg, int res, const char *out)
{
  struct ticket *t = arg;
  struct kl_pod *p;
  struct kl_cstate *cs;
  struct kl_probe *pr = lookup(t->m, t->uid, t->name, t->kind, t->gen, &p, &cs);
  free(t);
  if (!pr) return;
  pr->inflight = false;
  if (res < 0) {
    kl_pod_event(p, "Warning", "Unhealthy", "%s probe errored: %s", kind_word[pr->kind], out ? out : "");
  } else {
    result(p, cs, pr, res == 0, out);
  }
  const json_t *spec = probe_spec(p, pr->name, pr->kind, NULL);
  if (!pr->stopped) schedule(pr, kj_get_int(spec, "periodSeconds", 10) * 1000);
}

static void probe_tick(evutil_socket_t fd, short what, void *arg)
{
  struct kl_probe *pr = arg;
  struct kl_pod *p = kl_pod_get(pr->m, pr->uid);
  if (!p || pr->inflight || pr->stopped) return;
  struct kl_cstate *cs = kl_pod_cstate(p, pr->name);
  const json_t *container = NULL;
  const json_t *spec = probe_spec(p, pr->name, pr->kind, &container);
  int64_t period = kj_get_int(spec, "periodSeconds", 10) * 1000;
  if (!spec) return;
  /* Liveness and readiness wait for the startup probe. */
  if (pr->kind != KL_PROBE_STARTUP && cs->probes[KL_PROBE_STARTUP] && !cs->started) {
    schedule(pr, period);
    return;
  }
  struct ticket *t = xcalloc(1, sizeof *t);
  t->m = pr->m;
  snprintf(t->uid, sizeof t->uid, "%s", pr->uid);
  snprintf(t->name, sizeof t->name, "%s", pr->name);
  t->kind = pr->kind;
  t->gen = pr->gen;
  pr->inflight = true;
  kl_handler_run(pr->m->handlers, p, container, pr->cid, spec, kj_get_int(spec, "timeoutSeconds", 1), probe_done, t);
}

static void start_worker(struct kl_pod *p, struct kl_cstate *cs, int kind, const json_t *cur, const json_t *spec)
{
  struct kl_probe *pr = xcalloc(1, sizeof *pr);
  pr->m = p->mgr;
  snprintf(pr->uid, sizeof pr->uid, "%s", p->uid);
  snprintf(pr->name, sizeof pr->name, "%s", cs->name);
  pr->kind = kind;
  pr->gen = ++p->mgr->probe_gen;
  snprintf(pr->cid, sizeof pr->cid, "%s", kj_get_str(cur, "status.id") ?: "");
  pr->timer = evtimer_new(p->mgr->k->base, probe_tick, pr);
  cs->probes[kind] = pr;
  int64_t started_ms = kj_get_int(cur, "status.startedAt", 0) / 1000000;
  int64_t delay = kj_get_int(spec, "initialDelaySeconds", 0) * 1000 - (ktime_now_us() / 1000 - started_ms);
  schedule(pr, delay > 0 ? delay : 0);
}

void kl_probes_sync(struct kl_pod *p)
{
  const char *lists[] = {"spec.initContainers", "spec.containers"};
  for (int l = 0; l < 2; l++) {
    size_t i;
    json_t *c;
    json_array_foreach (kj_get(p->pod, lists[l]), i, c) {
      const char *name = kj_get_str(c, "name") ?: "";
      if (l == 0 && !container_is_sidecar(c)) continue; /* regular init: no probes */
      struct kl_cstate *cs = kl_pod_cstate(p, name);
      json_t *cur = kl_pod_latest_container(p, name, NULL);
      bool running = cur && !strcmp(kj_get_str(cur, "status.state") ?: "", KL_CONTAINER_RUNNING);
      const char *cid = running ? kj_get_str(cur, "status.id") ?: "" : "";
      if (running && strcmp(cs->probe_cid, cid)) {
        /* A new container: results start over. */
        snprintf(cs->probe_cid, sizeof cs->probe_cid, "%s", cid);
        cs->ready = 0;
        cs->started = false;
        cs->liveness_failed = false;
      }
      for (int k = 0; k < KL_PROBE_KINDS; k++) {
        const json_t *spec = kj_get(c, kind_field[k]);
        struct kl_probe *pr = cs->probes[k];
        bool keep = running && spec && pr && !strcmp(pr->cid, cid);
        if (pr && !keep) {
          kl_probe_free(pr);
          cs->probes[k] = NULL;
        }
        if (running && spec && !cs->probes[k]) start_worker(p, cs, k, cur, spec);
      }
    }
  }
}

void kl_probes_stop(struct kl_pod *p)
{
  for (size_t i = 0; i < p->ncs; i++)
    for (int k = 0; k < KL_PROBE_KINDS; k++) {
      kl_probe_free(p->cs[i].probes[k]);
      p->cs[i].probes[k] = NULL;
    }
}
