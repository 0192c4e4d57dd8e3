/*
 * framework.h - the kube-scheduler's scheduling framework.
 *
 * The scheduler keeps a snapshot of the cluster: one node info per Node
 * (the object, the pods bound or assumed on it, their summed requests, the
 * host ports in use, the node's images) and a name index.  A profile is an
 * ordered list of plugin instances, each enabled at some extension points
 * (PreFilter, Filter, PostFilter, PreScore, Score with a weight).
 * sched_schedule_one() runs one scheduling cycle for one pod, as upstream's
 * schedulePod does: PreFilter once, Filter over the nodes starting at a
 * round-robin index until enough feasible nodes are found (adaptive
 * percentageOfNodesToScore), then PreScore, Score, NormalizeScore, weights,
 * sum, and the highest total wins with a uniformly random tie-break.  When no
 * node fits, the result carries upstream's FitError message.
 *
 * Plugins keep per-cycle data (the pod's parsed requests, tolerations,
 * affinity, counts) in the cycle state, computed once in PreFilter/PreScore
 * so that the per-node Filter and Score calls do not allocate on success.
 *
 * All json_t objects handed to the snapshot are referenced, not copied.
 */
#ifndef SCHED_FRAMEWORK_H
#define SCHED_FRAMEWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "kube/scheduling.h"

#define SCHED_MAX_NODE_SCORE 100
#define SCHED_MAX_SCALAR 8
#define SCHED_SCALAR_NAME_MAX 96
#define SCHED_MAX_REASONS 6
#define SCHED_MAX_PLUGINS 24
/* Defaults given to containers without requests when scoring (upstream's
 * DefaultMilliCPURequest and DefaultMemoryRequest). */
#define SCHED_DEFAULT_MILLI_CPU_REQUEST 100
#define SCHED_DEFAULT_MEMORY_REQUEST_BYTES (200LL * 1024 * 1024)
#define SCHED_MIN_FEASIBLE_NODES_TO_FIND 100
#define SCHED_MIN_FEASIBLE_NODES_PERCENTAGE 5
#define SCHED_DEFAULT_SCHEDULER_NAME "default-scheduler"

/* Status codes, as upstream's framework.Code. */
enum sched_code {
  SCHED_SUCCESS = 0,
  SCHED_ERROR,
  SCHED_UNSCHEDULABLE,
  SCHED_UNRESOLVABLE, /* UnschedulableAndUnresolvable */
  SCHED_WAIT,
  SCHED_SKIP,
};

struct sched_status {
  enum sched_code code;
  const char *plugin; /* the failing plugin's name (static) */
  int nreasons;
  unsigned owned; /* bit i set: reasons[i] is heap-allocated */
  char *reasons[SCHED_MAX_REASONS];
};

void sched_status_reset(struct sched_status *st);
/* Sets code and appends one formatted reason; returns code. */
enum sched_code sched_status_fail(struct sched_status *st, enum sched_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same with a reason that outlives the status (a string literal): no
 * allocation, for the many nodes that fail the same way. */
enum sched_code sched_status_fail_static(struct sched_status *st, enum sched_code code, const char *reason);

/* ---- resources -------------------------------------------------------- */

struct sched_scalar {
  char name[SCHED_SCALAR_NAME_MAX];
  int64_t value;
};

struct sched_resource {
  int64_t milli_cpu;
  int64_t memory;
  int64_t ephemeral_storage;
  int64_t allowed_pods;
  int nscalar;
  struct sched_scalar scalar[SCHED_MAX_SCALAR];
};

void sched_resource_add(struct sched_resource *a, const struct sched_resource *b);
void sched_resource_sub(struct sched_resource *a, const struct sched_resource *b);
int64_t sched_resource_get(const struct sched_resource *r, const char *name);
/* Resource kinds, so that hot paths compare a name once, not per node. */
enum sched_res_kind { SCHED_RES_CPU, SCHED_RES_MEMORY, SCHED_RES_EPHEMERAL, SCHED_RES_PODS, SCHED_RES_SCALAR };
enum sched_res_kind sched_resource_kind(const char *name);
int64_t sched_resource_get_scalar(const struct sched_resource *r, const char *name);
/* Inline: the score plugins call it for every node they score. */
static inline int64_t sched_resource_get_kind(const struct sched_resource *r, enum sched_res_kind kind,
                                              const char *name)
{
  switch (kind) {
  case SCHED_RES_CPU: return r->milli_cpu;
  case SCHED_RES_MEMORY: return r->memory;
  case SCHED_RES_EPHEMERAL: return r->ephemeral_storage;
  case SCHED_RES_PODS: return r->allowed_pods;
  default: return sched_resource_get_scalar(r, name);
  }
}
/* Parses a ResourceList ({"cpu":"100m",...}) into r (added to r). */
void sched_resource_from_list(struct sched_resource *r, const json_t *list);
/* The pod's effective requests as upstream computes them: sum of the
 * containers, max with the init containers (restartable init containers
 * counted as sidecars), plus spec.overhead.  With non_zero, containers that
 * request no cpu/memory count the scheduler's defaults (used for scoring). */
void sched_pod_requests(const json_t *pod, bool non_zero, struct sched_resource *out);

/* ---- snapshot ----------------------------------------------------------- */

struct sched_host_port {
  char ip[48];
  char protocol[8];
  int port;
};

struct sched_pod_entry {
  json_t *pod; /* owned reference */
  char *key;   /* namespace/name */
  bool assumed;
  bool has_affinity;      /* any pod (anti-)affinity */
  bool has_claims;        /* a volume uses a claim (counted in pvc_refs) */
  bool has_required_anti; /* required anti-affinity */
  /* The pod's requests, kept compact: a node holds up to 110 entries and
   * a full sched_resource is close to 1 KB.  The extended resources are
   * kept (full, owned) only for pods that ask for any. */
  int64_t req_milli_cpu, req_memory, req_ephemeral;
  int64_t non_zero_milli_cpu, non_zero_memory;
  struct sched_resource *req_scalar;
};

struct sched_node_info {
  json_t *node; /* owned reference */
  const char *name;
  size_t index;         /* position in sched_snapshot.nodes, for per-cycle arrays */
  const json_t *labels; /* borrowed from node; may be NULL */
  json_t *images;       /* normalized image name -> sizeBytes (owned) */
  const json_t *taints; /* borrowed from node; may be NULL */
  bool unschedulable;
  struct sched_pod_entry *pods;
  size_t npods, pods_cap;
  size_t pods_with_affinity, pods_with_required_anti;
  struct sched_resource allocatable, requested, non_zero_requested;
  struct sched_host_port *ports;
  size_t nports, ports_cap;
};

struct sched_snapshot {
  struct sched_node_info **nodes;
  size_t nnodes, cap;
  json_t *index;       /* node name -> index */
  json_t *image_nodes; /* normalized image name -> number of nodes having it */
  json_t *namespaces;  /* optional: namespace name -> labels, for namespaceSelector */
  /* Storage as the informers have it, for the volume plugins:
   * "namespace/name" -> PersistentVolumeClaim, name -> PersistentVolume,
   * name -> StorageClass. */
  json_t *pvcs, *pvs, *classes;
  /* "namespace/claim" -> how many pods of the snapshot use the claim
   * (upstream's NodeInfo.PVCRefCounts, summed over the nodes). */
  json_t *pvc_refs;
  /* Sums of the node infos' counters, so that InterPodAffinity can skip
   * without walking every node. */
  size_t pods_with_affinity, pods_with_required_anti;
};

struct sched_snapshot *sched_snapshot_new(void);
void sched_snapshot_free(struct sched_snapshot *s);
/* Adds or replaces the node (by name); pods already on it are kept. */
int sched_snapshot_set_node(struct sched_snapshot *s, json_t *node);
int sched_snapshot_remove_node(struct sched_snapshot *s, const char *name);
/* Borrowed, or NULL. */
struct sched_node_info *sched_snapshot_node(const struct sched_snapshot *s, const char *name);
/* Adds a pod to node_name (spec.nodeName when node_name is NULL).  An
 * assumed pod is one the scheduler placed but whose binding is not yet
 * observed.  Replaces a pod with the same namespace/name.  -ENOENT if the
 * node is unknown. */
int sched_snapshot_add_pod(struct sched_snapshot *s, json_t *pod, const char *node_name, bool assumed);
int sched_snapshot_remove_pod(struct sched_snapshot *s, const char *ns, const char *name, const char *node_name);
/* Namespace labels, for affinity terms with a namespaceSelector. */
void sched_snapshot_set_namespace(struct sched_snapshot *s, const char *ns, json_t *labels);
/* Storage objects (referenced, not copied); NULL obj removes the key. */
void sched_snapshot_set_pvc(struct sched_snapshot *s, const char *key, json_t *pvc);
void sched_snapshot_set_pv(struct sched_snapshot *s, const char *name, json_t *pv);
void sched_snapshot_set_class(struct sched_snapshot *s, const char *name, json_t *sc);
/* The claim a pod volume uses (persistentVolumeClaim, or the generic
 * ephemeral volume's POD-VOLUME) into out; NULL for other volumes.
 * *ephemeral (may be NULL) tells which. */
const char *sched_volume_claim(const json_t *pod, const json_t *volume, bool *ephemeral, char *out, size_t len);

/* Upstream's image name normalization: append ":latest" without a tag. */
void sched_normalize_image(const char *image, char *out, size_t outlen);

/* ---- cycle state and plugins ----------------------------------------- */

struct sched_cycle {
  const struct sched_snapshot *snap;
  const json_t *pod;
  int cur; /* index of the plugin being called */
  void *state[SCHED_MAX_PLUGINS];
  void (*state_free[SCHED_MAX_PLUGINS])(void *);
  bool skip_filter[SCHED_MAX_PLUGINS];
  bool skip_score[SCHED_MAX_PLUGINS];
  /* PreFilterResult: when set, only this node can fit (owned). */
  char *only_node;
};

/* The calling plugin's cycle state slot. */
void *sched_cycle_get(const struct sched_cycle *c);
void sched_cycle_set(struct sched_cycle *c, void *data, void (*free_fn)(void *));

/* What plugins that act beyond the cycle get once the scheduler runs
 * (upstream's framework.Handle): the loop, the client for PreBind's
 * writes, the snapshot the informers keep current, and whether a pod
 * still exists (informer).  Borrowed, valid until the plugin is
 * destroyed. */
struct event_base;
struct rest_client;
struct sched_handle {
  struct event_base *base;
  struct rest_client *client;
  const struct sched_snapshot *snap;
  bool (*pod_exists)(void *arg, const char *ns, const char *name);
  void *arg;
};

/* PreBind's answer: SCHED_SUCCESS, or SCHED_ERROR with the reason. */
typedef void (*sched_prebind_done_fn)(void *arg, enum sched_code code, const char *message);

struct sched_plugin {
  const char *name;
  /* Optional; args is the pluginConfig args object (borrowed, may be NULL). */
  int (*init)(const json_t *args, void **self, char *err, size_t errlen);
  void (*destroy)(void *self);
  enum sched_code (*pre_filter)(void *self, struct sched_cycle *c, struct sched_status *st);
  enum sched_code (*filter)(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                            struct sched_status *st);
  enum sched_code (*pre_score)(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, size_t n);
  int64_t (*score)(void *self, struct sched_cycle *c, const struct sched_node_info *ni);
  void (*normalize)(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, int64_t *scores, size_t n);
  /* Optional: the running scheduler's handle, before the first cycle. */
  void (*attach)(void *self, const struct sched_handle *h);
  /* Reserve, for the node the cycle chose: returns the state PreBind and
   * Unreserve will get (owned by the binding until state_free), or NULL
   * when there is nothing to do; a failure sets st (code SCHED_ERROR). */
  void *(*reserve)(void *self, struct sched_cycle *c, const char *node, struct sched_status *st);
  /* Unreserve: undoes reserve (the pod will not be bound there). */
  void (*unreserve)(void *self, void *state);
  /* PreBind: starts the work and answers through done from the event
   * loop, never from inside the call.  Returns a handle for
   * pre_bind_cancel (at shutdown; done is then never called), or NULL
   * when the work could not start (done is not called; PreBind failed). */
  void *(*pre_bind)(void *self, void *state, const json_t *pod, const char *node, sched_prebind_done_fn done,
                    void *arg);
  void (*pre_bind_cancel)(void *self, void *op);
  void (*state_free)(void *state);
};

/* Registry of in-tree plugins; NULL when unknown. */
const struct sched_plugin *sched_plugin_lookup(const char *name);

/* Upstream's DefaultNormalizeScore. */
void sched_default_normalize(int64_t max_priority, bool reverse, int64_t *scores, size_t n);

/* ---- profiles ------------------------------------------------------------ */

struct sched_plugin_inst {
  const struct sched_plugin *p;
  void *self;
  bool pre_filter, filter, pre_score, score, reserve, pre_bind;
  int64_t weight;
};

struct sched_profile {
  char *scheduler_name;
  int percentage_of_nodes_to_score; /* 0: adaptive */
  struct sched_plugin_inst plugins[SCHED_MAX_PLUGINS];
  int nplugins;
  size_t next_start_node_index;
  uint64_t rng;
};

struct sched_extender;

struct sched_config {
  struct sched_profile **profiles;
  size_t nprofiles;
  int percentage_of_nodes_to_score;
  /* extenders[], shared by every profile as upstream (extender.h). */
  struct sched_extender *extenders;
  size_t nextenders;
};

/* Hands every plugin of every profile the scheduler's handle. */
void sched_config_attach(struct sched_config *c, const struct sched_handle *h);

/* Parses a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1);
 * NULL cfg gives the default configuration.  NULL on error with a message
 * naming the bad value in err. */
struct sched_config *sched_config_parse(const json_t *cfg, char *err, size_t errlen);
void sched_config_free(struct sched_config *c);
/* Borrowed, or NULL when no profile has that schedulerName. */
struct sched_profile *sched_config_profile(const struct sched_config *c, const char *scheduler_name);
void sched_profile_seed(struct sched_profile *p, uint64_t seed);
/* Random integer in [0, n). */
uint64_t sched_profile_rand(struct sched_profile *p, uint64_t n);

/* ---- scheduling one pod ------------------------------------------------- */

/* What the Reserve plugins of a placed pod keep until it is bound. */
struct sched_binding {
  struct sched_profile *p;
  void *state[SCHED_MAX_PLUGINS]; /* by plugin index; NULL: nothing */
};
/* Unreserve (plugins in reverse order) and free. */
void sched_binding_unreserve(struct sched_binding *b);
/* Free the states (the pod was bound). */
void sched_binding_free(struct sched_binding *b);

struct sched_result {
  char *node_name;        /* owned; NULL when unschedulable */
  size_t evaluated_nodes; /* nodes that went through Filter */
  size_t feasible_nodes;
  char *message; /* owned; the FailedScheduling message when unschedulable */
  /* owned; when unschedulable, each node's Filter code by snapshot index
   * (what preemption needs: an unresolvable node cannot be helped). */
  unsigned char *node_codes;
  /* Length of message without the PostFilter (preemption) part, which the
   * scheduler replaces once preemption really ran. */
  size_t fit_len;
  /* owned; when placed, what Reserve kept (NULL when nothing).  Take it
   * (set to NULL) to bind; sched_result_clear unreserves what is left. */
  struct sched_binding *binding;
};

void sched_result_clear(struct sched_result *r);

/* upstream numFeasibleNodesToFind */
size_t sched_num_feasible_nodes_to_find(int percentage, size_t num_all_nodes);

/* Returns 0 with result->node_name set (and Reserve done), -ENOSPC when no
 * node fits (message set), or another negative code on an internal error
 * or a failed Reserve (message set). */
int sched_schedule_one(struct sched_profile *p, const struct sched_snapshot *snap, const json_t *pod,
                       struct sched_result *result);

/* A cycle cut in two around calls to extenders: what Filter found,
 * with nodes named, since the snapshot may change while the calls are
 * out.  feasible: array of node names (new reference); failed: node name
 * -> {"code": enum sched_code, "reasons": [string]} (new reference). */
struct sched_partial {
  json_t *feasible;
  json_t *failed;
};

void sched_partial_clear(struct sched_partial *part);
/* First half: PreFilter and Filter.  Returns 0 with part filled (its
 * feasible list may be empty), or, as sched_schedule_one, -ENOSPC / -EIO
 * with result->message when the pod is rejected before any node is
 * looked at (no nodes, a PreFilter rejection); part is then empty. */
int sched_schedule_filter(struct sched_profile *p, const struct sched_snapshot *snap, const json_t *pod,
                          struct sched_partial *part, struct sched_result *result);
/* Second half, on the snapshot as it is now: with no feasible node left,
 * the FitError from part->failed (-ENOSPC); with one, that node; else
 * PreScore and Score, plus ext_scores (node name -> integer, borrowed, may
 * be NULL), and the best total.  result->evaluated_nodes is kept from the
 * first half. */
int sched_schedule_finish(struct sched_profile *p, const struct sched_snapshot *snap, const json_t *pod,
                          const struct sched_partial *part, const json_t *ext_scores, struct sched_result *result);

/* Runs PreFilter and Filter for pod against one node only (preemption's
 * dry runs, after victims were taken off the node).  Returns the code;
 * st (reset by the caller) gets the reasons. */
enum sched_code sched_filter_node(struct sched_profile *p, const struct sched_snapshot *snap, const json_t *pod,
                                  const struct sched_node_info *ni, struct sched_status *st);

/* ---- helpers shared by plugins ---------------------------------------- */

/* Taints, tolerations and node selectors: kube/scheduling.h. */
const char *sched_node_label(const struct sched_node_info *ni, const char *key);

#endif
