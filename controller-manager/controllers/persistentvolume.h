/*
 * persistentvolume.h - the persistentvolume-binder controller (upstream
 * pkg/controller/volume/persistentvolume): its pure decision steps and
 * the built-in local-path provisioner it drives (local_path.c).
 *
 * A sync of one claim or one volume is a chain of steps.  Each step reads
 * a struct pvb_world (the claim, the volume, candidate volumes, classes,
 * pods, nodes as the controller last saw or wrote them) and appends the
 * next writes the object needs -- at most one object write (upstream
 * writes one object at a time, the volume before the claim, and so does
 * every step here), plus Events.  The controller sends them, folds the
 * answers into its view, and runs the next step, until a step has nothing
 * to write.  Each decision is therefore taken on the newest state, and a
 * step interrupted by a conflict or a crash is simply recomputed.
 */
#ifndef CM_PERSISTENTVOLUME_H
#define CM_PERSISTENTVOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <kube/localpath.h>

struct cm_actions;

/* ---- the built-in local-path provisioner (local_path.c) ---- */

#define LABEL_HOSTNAME "kubernetes.io/hostname"

/*
 * The volume for claim of class on node (its Node object), a `local`
 * volume at ROOT/pvc-UID_NS_NAME with node affinity to the node's
 * hostname label and the cleanup finalizer when the class reclaims with
 * Delete.  NULL with the reason in err (upstream-style wording) when the
 * claim cannot be provisioned here: no node, access modes other than
 * ReadWriteOnce/ReadWriteOncePod, Block mode, an unknown class parameter.
 * New reference.
 */
json_t *local_path_volume(const json_t *claim, const json_t *sc, const json_t *node, const char *root, char *err,
                          size_t errlen);
/* The node a provisioned volume lives on (its annotation), or NULL. */
const char *local_path_node(const json_t *pv);
/* The volume was provisioned by the local-path provisioner. */
bool local_path_owns(const json_t *pv);

/* ---- the binder's steps (persistentvolume_sync.c) ---- */

/* What one step reads; everything borrowed, any member may be NULL. */
struct pvb_world {
  const json_t *claim;       /* the claim of this sync (volume sync: the volume's claim) */
  const json_t *volume;      /* the volume of this sync (claim sync: the one volumeName names) */
  const json_t *volumes;     /* claim sync: the volumes that could bind the claim (array) */
  const json_t *provisioned; /* claim sync: the volume pvc-UID, if it exists */
  const json_t *classes;     /* every StorageClass (array) */
  const json_t *pods;        /* the pods whose volumes use the claim (array) */
  /* Claim sync: the Node the claim's selected-node annotation names;
   * volume sync: the node of a local-path volume.  NULL when absent. */
  const json_t *node;
  /* Volume sync: the claim was read from the API server in this sync (an
   * absence, or a uid that differs from claimRef, is then final). */
  bool claim_live;
  bool provisioning_disabled; /* --enable-dynamic-provisioning=false */
  const char *local_path_root;
};

struct pvb_result {
  bool get_claim;     /* volume sync: read the claim from the API server, then step again */
  bool enqueue_claim; /* volume sync: the claim should be synced too */
  const char *error;  /* the step failed without a write (the key is retried); static string */
};

/* syncClaim / syncVolume: the next writes, appended to acts. */
void pvb_sync_claim(const struct pvb_world *w, struct cm_actions *acts, struct pvb_result *res);
void pvb_sync_volume(const struct pvb_world *w, struct cm_actions *acts, struct pvb_result *res);

/* findBestMatchForClaim over volumes (array): a volume pre-bound to the
 * claim, else (unless delay_binding) the smallest Available volume of the
 * claim's class, label selector, volume mode and access modes, preferring
 * volumes with the fewest access modes (upstream's index order).
 * Borrowed, or NULL. */
const json_t *pvb_find_best_match(const json_t *claim, const json_t *volumes, bool delay_binding);

/* ---- persistentvolume-expander (expand.c) ---- */

/* A Bound claim whose storage request exceeds its status capacity. */
bool expand_needed(const json_t *pvc);
/* The next step of expanding the claim's volume (pv: its bound volume;
 * either may be NULL), appended to acts; now in seconds. */
void expand_compute(const json_t *pvc, const json_t *pv, int64_t now, struct cm_actions *acts);

#endif
