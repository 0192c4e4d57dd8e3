/*
 * extender.h - scheduler extenders (KubeSchedulerConfiguration
 * extenders[]): HTTP(S) services the scheduler consults as upstream's
 * HTTPExtender does.
 *
 * An extender is "interested" in a pod when it manages no resources, or
 * when a container or init container of the pod requests or limits one of
 * its managedResources.  For an interested extender the scheduler POSTs
 * JSON to urlPrefix + "/" + verb:
 *   filterVerb      ExtenderArgs -> ExtenderFilterResult; extenders run in
 *                   order, each narrowing the feasible nodes of the last;
 *   prioritizeVerb  ExtenderArgs -> HostPriorityList; scores 0..10 are
 *                   multiplied by weight and by 10 (MaxNodeScore /
 *                   MaxExtenderPriority) and added to the plugins' totals;
 *   bindVerb        ExtenderBindingArgs -> ExtenderBindingResult; the one
 *                   binder takes the place of the API server's Binding;
 *   preemptVerb     ExtenderPreemptionArgs -> ExtenderPreemptionResult.
 * ExtenderArgs carries the whole pod and either the nodes (NodeList) or,
 * for nodeCacheCapable extenders, only their names.  A transport failure,
 * a status other than 200, an answer that is not JSON, the answer's
 * "error" or a node the extender invented fail the call; a failed filter
 * or bind call of a non-ignorable extender fails the scheduling attempt,
 * one of an ignorable extender is skipped, and a failed prioritize call
 * only loses that extender's scores (all as upstream).
 *
 * The calls go through a REST client of the scheduler's own event loop
 * (libcurl multi), one per extender, without retries and with httpTimeout
 * (default 5s) per call: nothing here blocks the loop.
 */
#ifndef SCHED_EXTENDER_H
#define SCHED_EXTENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "kube/restclient.h"

struct event_base;
struct sched_snapshot;

#define SCHED_EXTENDER_DEFAULT_TIMEOUT_MS 5000
/* upstream extenderv1.MaxExtenderPriority */
#define SCHED_MAX_EXTENDER_PRIORITY 10

struct sched_extender {
  char *url_prefix;                                               /* as configured; calls trim trailing '/' */
  char *filter_verb, *prioritize_verb, *bind_verb, *preempt_verb; /* NULL: not offered */
  int64_t weight;
  bool enable_https, node_cache_capable, ignorable;
  int64_t http_timeout_ms;
  json_t *managed;            /* resource name -> ignoredByScheduler (true/false) */
  struct rest_config conn;    /* server, TLS material, timeout (owned) */
  struct rest_client *client; /* NULL until sched_extender_connect */
};

/*
 * Parses and validates extenders[] (NULL or empty: none).  Errors name the
 * field as upstream's validation does ("extenders[0].weight: Invalid value:
 * 0: must have a positive weight applied to it").  On success *out (owned,
 * sched_extenders_free) holds *n extenders.
 */
int sched_extenders_parse(const json_t *list, struct sched_extender **out, size_t *n, char *err, size_t errlen);
void sched_extenders_free(struct sched_extender *e, size_t n);
/* Creates the extender's REST client on base. */
int sched_extender_connect(struct sched_extender *e, struct event_base *base);

bool sched_extender_interested(const struct sched_extender *e, const json_t *pod);

/* ExtenderArgs for pod and the named nodes (looked up in snap; names no
 * longer there are left out).  New reference. */
json_t *sched_extender_args(const struct sched_extender *e, const json_t *pod, const json_t *names,
                            const struct sched_snapshot *snap);
/* ExtenderBindingArgs.  New reference. */
json_t *sched_extender_binding_args(const json_t *pod, const char *node);

/*
 * Applies an ExtenderFilterResult (borrowed) to feasible (an array of node
 * names, replaced by the extender's answer) and failed (node name ->
 * {"code": SCHED_UNSCHEDULABLE or SCHED_UNRESOLVABLE, "reasons": [msg]},
 * where failedAndUnresolvableNodes wins over failedNodes).  Returns 0, or
 * -EINVAL with upstream's message in msg (the answer's error, or a node
 * that was not in the input) and nothing changed.
 */
int sched_extender_apply_filter(const struct sched_extender *e, const json_t *result, json_t *feasible, json_t *failed,
                                char *msg, size_t msglen);
/* Adds a HostPriorityList (borrowed) to scores (node name -> integer):
 * score * weight * (MaxNodeScore / MaxExtenderPriority). */
void sched_extender_add_priorities(const struct sched_extender *e, const json_t *list, json_t *scores);

/* ExtenderPreemptionArgs for candidates (node name -> {"pods": [pod],
 * "numPDBViolations": n}, borrowed): the victims themselves, or only
 * their UIDs (nodeNameToMetaVictims) for a nodeCacheCapable extender.
 * New reference. */
json_t *sched_extender_preemption_args(const struct sched_extender *e, const json_t *pod, const json_t *candidates);
/* Replaces *candidates with an ExtenderPreemptionResult's
 * nodeNameToMetaVictims, the victims found by UID on the snapshot's nodes
 * (nodes left out are no longer candidates).  A node without victims is
 * dropped for an ignorable extender and an error otherwise.  0, or
 * -EINVAL with upstream's message and *candidates unchanged. */
int sched_extender_apply_preemption(const struct sched_extender *e, const json_t *result,
                                    const struct sched_snapshot *snap, json_t **candidates, char *msg, size_t msglen);

/* POSTs args to the verb.  The callback decides with
 * sched_extender_reply.  NULL when the request cannot be started. */
struct rest_request *sched_extender_post(struct sched_extender *e, const char *verb, const json_t *args,
                                         rest_done_fn done, void *arg);
/* 0 when a call answered 200 with a JSON object; otherwise -EIO and
 * upstream's message in msg ("failed filter with extender at URL U, code
 * 500", or the transport's error as Go words it: Post "U": ...). */
int sched_extender_reply(const struct sched_extender *e, const char *verb, int http_code, const json_t *body,
                         const struct rest_status *err, char *msg, size_t msglen);

/* The extender's name in logs and messages (its urlPrefix). */
static inline const char *sched_extender_name(const struct sched_extender *e) { return e->url_prefix; }

#endif
