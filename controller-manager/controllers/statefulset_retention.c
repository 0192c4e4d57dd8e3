/*
 * statefulset_retention.c - persistentVolumeClaimRetentionPolicy: who
 * owns a StatefulSet's claims (upstream's stateful_set_utils.go,
 * isClaimOwnerUpToDate and updateClaimOwnerRefForSetAndPod).
 *
 * Retention is expressed only through owner references, and the garbage
 * collector does the deleting:
 *   whenScaled Retain, whenDeleted Retain: neither the set nor the pod
 *     owns the claim;
 *   whenDeleted Delete: the set controls the claim of a pod within the
 *     set's ordinals (deleting the set deletes it);
 *   whenScaled Delete: the pod controls the claim once the pod's ordinal
 *     is beyond the set's replicas (the claim goes with the condemned
 *     pod), and no longer does when it is back in range.
 * A reference whose name matches but whose uid does not (an older set or
 * pod of the same name) means the claim belongs to that one still: it is
 * left alone, and a pod whose claims are so held by an older pod of its
 * name is not created yet (PodClaimIsStale).  A claim controlled by
 * something else entirely is only cleared of our references.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <string.h>

#include "controller_utils.h"
#include "controllers/statefulset.h"
#include "kube/json.h"

static const char *policy(const json_t *set, const char *when)
{
  char p[96];
  snprintf(p, sizeof p, "spec.persistentVolumeClaimRetentionPolicy.%s", when);
  const char *v = kj_get_str(set, p);
  return v && *v ? v : "Retain";
}

static bool is_delete(const json_t *set, const char *when) { return !strcmp(policy(set, when), "Delete"); }

static const char *str(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)) ?: ""; }

/* matchesRef: same group/version, kind and name. */
static bool matches(const json_t *ref, const char *api_version, const char *kind, const json_t *obj)
{
  return !strcmp(str(ref, "apiVersion"), api_version) && !strcmp(str(ref, "kind"), kind) &&
         !strcmp(str(ref, "name"), kj_get_str(obj, "metadata.name") ?: "");
}

static const char *uid_of(const json_t *obj) { return kj_get_str(obj, "metadata.uid") ?: ""; }

static bool matches_set(const json_t *ref, const json_t *set) { return matches(ref, "apps/v1", "StatefulSet", set); }
static bool matches_pod(const json_t *ref, const json_t *pod) { return matches(ref, "v1", "Pod", pod); }

/* hasStaleOwnerRef: the first reference matching obj has another uid. */
static bool stale_ref(const json_t *claim, const json_t *obj, bool is_set)
{
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(claim, "metadata.ownerReferences"), i, r) {
    if (is_set ? matches_set(r, obj) : matches_pod(r, obj)) return strcmp(str(r, "uid"), uid_of(obj)) != 0;
  }
  return false;
}

/* hasOwnerRef (by uid, controller or not). */
static bool has_ref(const json_t *claim, const json_t *owner)
{
  const char *uid = uid_of(owner);
  size_t i;
  json_t *r;
  if (!*uid) return false;
  json_array_foreach (kj_get(claim, "metadata.ownerReferences"), i, r) {
    if (!strcmp(str(r, "uid"), uid)) return true;
  }
  return false;
}

static bool retain_all(const json_t *set) { return !is_delete(set, "whenScaled") && !is_delete(set, "whenDeleted"); }

/* hasUnexpectedController. */
static bool unexpected_controller(const json_t *claim, const json_t *set, const json_t *pod)
{
  if (retain_all(set)) return false;
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(claim, "metadata.ownerReferences"), i, r) {
    if (matches_set(r, set)) {
      if (strcmp(str(r, "uid"), uid_of(set))) return true;
      continue;
    }
    if (matches_pod(r, pod)) {
      if (strcmp(str(r, "uid"), uid_of(pod))) return true;
      continue;
    }
    if (json_is_true(json_object_get(r, "controller"))) return true;
  }
  return false;
}

/* hasNonControllerOwner. */
static bool non_controller_owner(const json_t *claim, const json_t *set, const json_t *pod)
{
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(claim, "metadata.ownerReferences"), i, r) {
    const char *u = str(r, "uid");
    bool ours = (*uid_of(set) && !strcmp(u, uid_of(set))) || (*uid_of(pod) && !strcmp(u, uid_of(pod)));
    if (ours && !json_is_true(json_object_get(r, "controller"))) return true;
  }
  return false;
}

bool sts_claim_owner_up_to_date(const json_t *claim, const json_t *set, const json_t *pod, bool in_range)
{
  if (stale_ref(claim, set, true) || stale_ref(claim, pod, false)) return true; /* not ours to touch */
  if (unexpected_controller(claim, set, pod)) return !(has_ref(claim, set) || has_ref(claim, pod));
  if (non_controller_owner(claim, set, pod)) return false;
  bool scaled = is_delete(set, "whenScaled"), deleted = is_delete(set, "whenDeleted");
  bool set_ref = has_ref(claim, set), pod_ref = has_ref(claim, pod);
  if (!scaled && !deleted) return !set_ref && !pod_ref;
  if (!scaled) return set_ref && !pod_ref;
  if (!deleted) return !set_ref && pod_ref == !in_range;
  return set_ref == in_range && pod_ref == !in_range;
}

json_t *sts_claim_owner_refs(const json_t *claim, const json_t *set, const json_t *pod, bool in_range)
{
  bool unexpected = unexpected_controller(claim, set, pod);
  json_t *refs = json_array();
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(claim, "metadata.ownerReferences"), i, r) {
    if (!matches_set(r, set) && !matches_pod(r, pod)) json_array_append(refs, r);
  }
  if (unexpected) return refs;
  bool scaled = is_delete(set, "whenScaled"), deleted = is_delete(set, "whenDeleted");
  if (scaled && !in_range) json_array_append_new(refs, cm_new_controller_ref(pod, "v1", "Pod"));
  else if (deleted && (!scaled || in_range))
    json_array_append_new(refs, cm_new_controller_ref(set, "apps/v1", "StatefulSet"));
  return refs;
}

bool sts_claim_is_stale(const json_t *claim, const json_t *set, const json_t *pod)
{
  return is_delete(set, "whenScaled") && stale_ref(claim, pod, false);
}
