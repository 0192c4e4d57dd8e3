/*
 * preemption.h - upstream's DefaultPreemption PostFilter: choosing a node
 * and the lower-priority pods to evict from it so that a pod that did not
 * fit anywhere can be placed.  Only the choice is made here (on the
 * snapshot, which is restored before returning); the scheduler carries it
 * out (nominatedNodeName, deleting the victims).
 */
#ifndef SCHED_PREEMPTION_H
#define SCHED_PREEMPTION_H

#include <stdint.h>
#include <jansson.h>

#include "framework.h"

/* upstream MinCandidateNodesPercentage / MinCandidateNodesAbsolute */
#define SCHED_PREEMPT_MIN_CANDIDATE_PERCENTAGE 10
#define SCHED_PREEMPT_MIN_CANDIDATE_ABSOLUTE 100

struct sched_preemption {
  char *node_name; /* owned; the chosen node */
  json_t *victims; /* new reference: array of pods to evict, most important first */
  int num_pdb_violations;
};

void sched_preemption_clear(struct sched_preemption *pr);

/* Whether pod may preempt at all: not with preemptionPolicy Never, and not
 * while a lower-priority pod on its nominated node is still terminating
 * (an earlier preemption is in progress).  On false, why is set to a
 * static explanation. */
bool sched_preemption_eligible(const struct sched_snapshot *snap, const json_t *pod, const char **why);

/*
 * Picks the node and victims.  node_codes are the Filter codes of the
 * failed cycle (sched_result.node_codes): unresolvable nodes are skipped.
 * pdbs: array of PodDisruptionBudget objects (borrowed, may be NULL).
 * offset: where the round-robin search over nodes starts.  The snapshot is
 * modified during the dry runs and restored.  Returns 0 with out filled,
 * or -ENOENT when no node can be made to fit.
 */
int sched_preemption_select(struct sched_profile *p, struct sched_snapshot *snap, const json_t *pod,
                            const unsigned char *node_codes, const json_t *pdbs, uint64_t offset,
                            struct sched_preemption *out);

/*
 * For extenders with a preemptVerb: every candidate the search above finds
 * (same order and count), as ExtenderPreemptionArgs' nodeNameToVictims:
 * node name -> {"pods": [victim pods, most important first],
 * "numPDBViolations": n}.  New reference (an empty object when none).
 */
json_t *sched_preemption_candidates(struct sched_profile *p, struct sched_snapshot *snap, const json_t *pod,
                                    const unsigned char *node_codes, const json_t *pdbs, uint64_t offset);
/* The best node of such a map (borrowed), by the rules above.  0 with out
 * filled, or -ENOENT when the map is empty. */
int sched_preemption_pick(const json_t *candidates, struct sched_preemption *out);

#endif
