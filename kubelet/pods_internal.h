/*
 * pods_internal.h - shared by the pod manager's files:
 *   pods.c        the pod set, its sources (API informer, static pods), the
 *                 workqueue that runs one sync per pod at a time
 *   pleg.c        the runtime cache: relist every second plus runtime
 *                 events, per-pod sandboxes and containers
 *   pod_sync.c    one sync: compute the next actions (upstream's
 *                 computePodActions) and run them
 *   pod_kill.c    termination: preStop, stop with grace, sandbox, cleanup,
 *                 final delete
 *   pod_config.c  the CRI sandbox and container configs of a pod
 *   pod_status.c  the v1 PodStatus from the spec and the runtime cache,
 *                 patched when it changes
 *   env.c dns.c images.c objcache.c volumes.c cgroups.c probes.c
 *
 * A pod is identified by its UID.  Its record lives from the first time a
 * source or the runtime mentions it until it is gone from every source and
 * the runtime holds nothing of it.
 */
#ifndef KL_PODS_INTERNAL_H
#define KL_PODS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "kubelet.h"
#include "pods.h"

struct event;
struct informer;
struct workqueue;
struct kl_probe;
struct kl_objcache;
struct kl_images;
struct kl_pleg;
struct kl_tokens;
struct kl_static;
struct rest_request;
struct kl_handlers;

#define KL_BACKOFF_INITIAL_MS 10000
#define KL_BACKOFF_MAX_MS 300000
#define KL_BACKOFF_RESET_MS 600000 /* running this long forgives the back-off */
#define KL_PULL_BACKOFF_INITIAL_MS 10000
#define KL_PULL_BACKOFF_MAX_MS 300000
#define KL_DEFAULT_GRACE_S 30
#define KL_MIRROR_ANNOTATION "kubernetes.io/config.mirror"
#define KL_SOURCE_ANNOTATION "kubernetes.io/config.source"
#define KL_HASH_ANNOTATION "kubernetes.io/config.hash"

enum kl_probe_kind { KL_PROBE_LIVENESS, KL_PROBE_READINESS, KL_PROBE_STARTUP, KL_PROBE_KINDS };

/* Per container of the pod spec (init, sidecar or app container). */
struct kl_cstate {
  char name[64];
  /* CrashLoopBackOff */
  int64_t backoff_ms;      /* current back-off; 0 none */
  int64_t backoff_last_ms; /* wall ms of the exit it was last advanced for */
  /* image pull back-off */
  int64_t pull_backoff_ms;
  int64_t pull_backoff_until_ms;
  /* why the container waits (shown while it is not running) */
  char reason[64];
  char message[1024];
  /* probe results for probe_cid */
  char probe_cid[80];
  int ready;             /* readiness: 1 success, 0 failure */
  bool started;          /* startup probe succeeded (or none) */
  bool liveness_failed;  /* restart wanted */
  char kill_reason[200]; /* why it is being restarted (event) */
  struct kl_probe *probes[KL_PROBE_KINDS];
  /* terminationMessage of term_cid */
  char term_cid[80];
  char *term_msg;
  bool term_pending; /* fetching the log tail */
  bool post_start_failed;
};

struct kl_pod {
  struct kl_pods *mgr;
  struct kl_pod *prev, *next;
  char uid[64];
  char ns[256];
  char name[256];
  json_t *pod; /* desired pod (owned); NULL once gone from its source */
  bool is_static;
  bool mirror_ok; /* mirror pod exists for this static pod */
  /* the runtime's view (PLEG): {"status":..., "info":...}, newest first */
  json_t *sandboxes;
  json_t *containers;
  /* worker */
  bool syncing, resync, queued_for_relist;
  int64_t cache_after_ms;
  struct event *timer;
  int64_t timer_at_ms;
  /* lifecycle */
  bool terminating; /* stop everything: deleted, terminal or evicted */
  int64_t grace_s;  /* grace period of the termination in progress */
  int64_t kill_started_ms;
  bool terminated; /* nothing runs any more */
  bool cleaned;    /* pod dirs, cgroups and network released */
  bool final_delete_sent, final_deleted;
  bool evicted;  /* by the eviction manager (DisruptionTarget) */
  bool rejected; /* refused at admission */
  bool admitted;
  char evict_message[512];
  char pod_ip[64];
  char start_time[40];
  struct kl_cstate *cs;
  size_t ncs;
  /* status */
  json_t *status_sent; /* last patched status (owned) */
  bool status_inflight, status_dirty;
  struct rest_request *status_req, *delete_req; /* cancelled when the record goes */
  int64_t mount_backoff_ms;                     /* volume set-up retry */
  char mount_error[1024];
};

struct kl_pods {
  struct kubelet *k;
  struct informer *inf;     /* pods bound to this node */
  struct informer *svc_inf; /* services (service env vars) */
  struct workqueue *q;
  struct kl_pod *head;
  size_t count;
  struct kl_pleg *pleg;
  struct kl_images *images;
  struct kl_objcache *objs;
  struct kl_tokens *tokens;
  struct kl_static *statics;
  struct kl_handlers *handlers;
  unsigned probe_gen;
  int syncing; /* syncs in flight (shutdown waits for them) */
  bool stopping;
  bool orphans_waiting; /* runtime-only pods wait for every source */
  struct event *housekeeping;
  bool started;
};

/* ---- pods.c ---- */
struct kl_pod *kl_pod_get(struct kl_pods *m, const char *uid);
/* Creates the record when missing. */
struct kl_pod *kl_pod_ensure(struct kl_pods *m, const char *uid);
void kl_pod_enqueue(struct kl_pod *p);
void kl_pod_enqueue_after(struct kl_pod *p, int64_t delay_ms);
/* Per-container state by name (created on first use). */
struct kl_cstate *kl_pod_cstate(struct kl_pod *p, const char *name);
/* Desired pod from a source (borrowed), NULL when it left the source. */
void kl_pods_set_desired(struct kl_pods *m, const char *uid, const json_t *pod, bool is_static);
/* Records an event about the pod (object reference built from p->pod). */
void kl_pod_event(struct kl_pod *p, const char *type, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* ROOT/pods/UID[/sub] into out. */
char *kl_pod_dir(const struct kl_pod *p, const char *sub, char *out, size_t len);

/* ---- pleg.c ---- */
struct kl_pleg *kl_pleg_new(struct kl_pods *m);
void kl_pleg_start(struct kl_pleg *g);
void kl_pleg_free(struct kl_pleg *g);
/* No relist after the one in flight. */
void kl_pleg_stop(struct kl_pleg *g);
void kl_pleg_relist_soon(struct kl_pleg *g);
/* Monotonic ms at which the last completed relist started (0 never). */
int64_t kl_pleg_cache_time(const struct kl_pleg *g);
bool kl_pleg_synced(const struct kl_pleg *g);

/* ---- pod_sync.c / pod_kill.c ---- */
/* Stops the pod's running containers (app containers, then sidecars in
 * reverse order, each after its preStop hook, with grace_s) and, with
 * sandboxes, its ready sandboxes; done(arg) from the loop. */
void kl_pod_stop_all(struct kl_pod *p, const json_t *pod, int64_t grace_s, bool sandboxes, void (*done)(void *arg),
                     void *arg);
/* Stops one container after its preStop hook (spec may be NULL). */
void kl_pod_stop_container(struct kl_pod *p, const json_t *spec, const char *id, int64_t grace_s,
                           void (*done)(void *arg), void *arg);
/* One sync of p; calls done(arg) from the loop when its actions end. */
void kl_pod_sync(struct kl_pod *p, void (*done)(void *arg), void *arg);
/* Starts or continues the termination of p (from kl_pod_sync). */
void kl_pod_kill(struct kl_pod *p, void (*done)(void *arg), void *arg);
/* Whether the pod should be running (not deleted, not terminal). */
bool kl_pod_should_run(const struct kl_pod *p);

/* ---- pod_status.c ---- */
/* The v1 PodStatus the kubelet reports now (new reference). */
json_t *kl_pod_status(struct kl_pod *p);
/* Does the API's status equal what the kubelet reports now? */
bool kl_pod_status_current(struct kl_pod *p);
/* The strategic merge patch of the status from the API's old to st (new
 * reference; an empty object when there is nothing to write). */
json_t *kl_pod_status_patch(const struct kl_pod *p, const json_t *old, const json_t *st);
/* Patches the status when it differs from the last one sent. */
void kl_pod_status_sync(struct kl_pod *p);
/* Newest runtime container of a spec container (borrowed) and the one
 * before it, or NULL. */
json_t *kl_pod_latest_container(const struct kl_pod *p, const char *name, json_t **previous);
/* The sandbox that is ready, or NULL (borrowed). */
json_t *kl_pod_ready_sandbox(const struct kl_pod *p);
/* "docker://ID" */
void kl_container_id_uri(const struct kubelet *k, const char *id, char *out, size_t len);

#endif
