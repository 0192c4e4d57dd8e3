/*
 * statefulset.c - the StatefulSet controller (upstream
 * pkg/controller/statefulset).
 *
 * Pods have stable identities SET-0 .. SET-(N-1): hostname = pod name,
 * subdomain = spec.serviceName, labels statefulset.kubernetes.io/pod-name,
 * apps.kubernetes.io/pod-index and controller-revision-hash, and one PVC
 * per volumeClaimTemplate named TEMPLATE-SET-ORDINAL, created before the
 * pod and kept when the pod goes.  persistentVolumeClaimRetentionPolicy
 * decides the claims' owners (statefulset_retention.c): whenDeleted Delete
 * makes the set own them, whenScaled Delete makes a condemned pod own its
 * claims before it is deleted, and the garbage collector does the rest.
 * The owners are kept as the policy says for every healthy pod (so a
 * policy change applies to existing claims), and a pod is not created
 * while one of its claims is being deleted or still owned by an older
 * pod of its name.
 *
 * Each distinct template is a ControllerRevision SET-HASH holding
 * {"spec":{"template":...,"$patch":"replace"}} with an increasing
 * revision number; status.updateRevision names the current template's,
 * status.currentRevision the one the set is rolling away from.
 *
 * OrderedReady creates in ordinal order, each only once every lower pod is
 * Running and Ready, and removes surplus pods highest first, one at a
 * time; Parallel does both all at once.  A RollingUpdate replaces pods not
 * at updateRevision from the highest ordinal down to the partition, once
 * all are healthy (up to maxUnavailable at a time); OnDelete only gives
 * pods that were deleted by someone else the new template.  Failed pods
 * are deleted and recreated.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm.h"
#include "controller_utils.h"
#include "controllers/deployment.h"
#include "controllers/statefulset.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/selector.h"
#include "kube/xalloc.h"

char *sts_pod_name(const char *set, int64_t ordinal, char *out, size_t len)
{
  snprintf(out, len, "%s-%lld", set, (long long)ordinal);
  return out;
}

char *sts_pvc_name(const char *tmpl, const char *set, int64_t ordinal, char *out, size_t len)
{
  snprintf(out, len, "%s-%s-%lld", tmpl, set, (long long)ordinal);
  return out;
}

int64_t sts_ordinal(const char *set, const char *pod_name)
{
  size_t l = strlen(set);
  if (!pod_name || strncmp(pod_name, set, l) || pod_name[l] != '-' || !pod_name[l + 1]) return -1;
  char *end;
  long long v = strtoll(pod_name + l + 1, &end, 10);
  if (*end || v < 0) return -1;
  return v;
}

json_t *sts_revision_data(const json_t *set)
{
  json_t *t = kj_deep_copy(kj_get(set, "spec.template"));
  if (!t) t = json_object();
  json_object_set_new(t, "$patch", json_string("replace"));
  return json_pack("{s:{s:o}}", "spec", "template", t);
}

char *sts_revision_name(const json_t *set, const json_t *data, char *out, size_t len)
{
  char hash[16];
  json_t *cc = kj_get(set, "status.collisionCount");
  dep_compute_hash(data, cc && json_is_integer(cc) ? json_integer_value(cc) : -1, hash);
  snprintf(out, len, "%s-%s", kj_get_str(set, "metadata.name"), hash);
  return out;
}

static bool pod_healthy(const json_t *pod, int64_t min_ready, int64_t now)
{
  const char *ph = kj_get_str(pod, "status.phase");
  return ph && !strcmp(ph, "Running") && pod_is_available(pod, min_ready, now) && !obj_is_terminating(pod);
}

static const char *pod_revision(const json_t *pod)
{
  return kj_get_str(pod, "metadata.labels[\"" STS_REVISION_LABEL "\"]");
}

/* One sync's state: the set, its writes, its revisions and the pods by
 * ordinal. */
struct sts_ctx {
  const json_t *set;
  const char *ns, *name;
  json_t *ref;
  struct cm_actions *acts;
  const json_t *pvcs;
  char cur_rev[300], upd_rev[300];
  json_t *cur_tmpl, *upd_tmpl;
  int64_t now, replicas, start, min_ready, partition, max_unavailable;
  bool parallel, rolling, collision;
  json_t **slot;     /* slot[k]: the pod of ordinal start + k, or NULL */
  json_t *condemned; /* pods outside the wanted ordinals */
  int64_t n_replicas, n_ready, n_avail, n_cur, n_upd;
  int64_t requeue_ms;
};

static json_t *claim_for(struct sts_ctx *c, const json_t *ct, int64_t ord)
{
  char name[512];
  sts_pvc_name(kj_get_str(ct, "metadata.name"), c->name, ord, name, sizeof name);
  json_t *pvc = json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind", "PersistentVolumeClaim", "metadata",
                          "name", name, "namespace", c->ns);
  json_t *labels = kj_get(ct, "metadata.labels");
  json_t *l = labels ? kj_deep_copy(labels) : json_object();
  const char *k;
  json_t *v;
  json_object_foreach (kj_get(c->set, "spec.selector.matchLabels"), k, v) json_object_set(l, k, v);
  kj_set(pvc, "metadata.labels", l);
  json_t *anns = kj_get(ct, "metadata.annotations");
  if (anns) kj_set(pvc, "metadata.annotations", kj_deep_copy(anns));
  json_t *spec = kj_get(ct, "spec");
  kj_set(pvc, "spec", spec ? kj_deep_copy(spec) : json_object());
  const char *wd = kj_get_str(c->set, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted");
  if (wd && !strcmp(wd, "Delete"))
    kj_set(pvc, "metadata.ownerReferences", json_pack("[o]", cm_new_controller_ref(c->set, "apps/v1", "StatefulSet")));
  return pvc;
}

/* Creates the missing claims of ordinal ord.  A claim that already exists
 * is what is wanted, whatever made it (upstream ignores AlreadyExists
 * here): its content is not the set's to manage. */
static void ensure_claims(struct sts_ctx *c, int64_t ord, const char *pod_name)
{
  size_t i;
  json_t *ct;
  json_array_foreach (kj_get(c->set, "spec.volumeClaimTemplates"), i, ct) {
    char name[512], path[512], msg[800], fmsg[800];
    sts_pvc_name(kj_get_str(ct, "metadata.name"), c->name, ord, name, sizeof name);
    if (cm_find_named(c->pvcs, name)) continue;
    cm_path(path, sizeof path, "/api/v1", c->ns, "persistentvolumeclaims", NULL, NULL);
    struct cm_action *act = cm_act(c->acts, CM_POST, path, claim_for(c, ct, ord));
    act->done_if = CM_DONE_IF_EXISTS;
    snprintf(msg, sizeof msg, "create Claim %s Pod %s in StatefulSet %s success", name, pod_name, c->name);
    snprintf(fmsg, sizeof fmsg, "create Claim %s for Pod %s in StatefulSet %s failed error", name, pod_name, c->name);
    cm_act_events(act, c->ref, "SuccessfulCreate", msg, "FailedCreate", fmsg);
  }
}

static json_t *new_pod(struct sts_ctx *c, int64_t ord, bool use_current)
{
  const json_t *tmpl = use_current ? c->cur_tmpl : c->upd_tmpl;
  const char *rev = use_current ? c->cur_rev : c->upd_rev;
  char name[512], idx[32];
  sts_pod_name(c->name, ord, name, sizeof name);
  snprintf(idx, sizeof idx, "%lld", (long long)ord);
  json_t *pod = cm_pod_from_template(tmpl, c->set, "apps/v1", "StatefulSet");
  json_t *md = json_object_get(pod, "metadata");
  json_object_del(md, "generateName");
  json_object_set_new(md, "name", json_string(name));
  json_t *labels = kj_obj(pod, "metadata.labels");
  json_object_set_new(labels, STS_POD_NAME_LABEL, json_string(name));
  json_object_set_new(labels, STS_POD_INDEX_LABEL, json_string(idx));
  json_object_set_new(labels, STS_REVISION_LABEL, json_string(rev));
  kj_set_str(pod, "spec.hostname", name);
  const char *svc = kj_get_str(c->set, "spec.serviceName");
  if (svc && *svc) kj_set_str(pod, "spec.subdomain", svc);
  /* Claim volumes replace same-named template volumes. */
  json_t *vols = kj_arr(pod, "spec.volumes");
  size_t i;
  json_t *ct;
  json_array_foreach (kj_get(c->set, "spec.volumeClaimTemplates"), i, ct) {
    const char *vn = kj_get_str(ct, "metadata.name");
    if (!vn) continue;
    for (size_t k = 0; k < json_array_size(vols); k++) {
      const char *n = kj_get_str(json_array_get(vols, k), "name");
      if (n && !strcmp(n, vn)) json_array_remove(vols, k--);
    }
    char claim[512];
    sts_pvc_name(vn, c->name, ord, claim, sizeof claim);
    json_array_append_new(vols, json_pack("{s:s,s:{s:s}}", "name", vn, "persistentVolumeClaim", "claimName", claim));
  }
  if (!json_array_size(vols)) kj_del(pod, "spec.volumes");
  return pod;
}

/* Claims that keep ord's pod from being created: one being deleted
 * (upstream: "pvc ... is being deleted"), or, with whenScaled Delete, one
 * an older pod of the same name still owns (PodClaimIsStale). */
static bool claims_block_creation(struct sts_ctx *c, int64_t ord, const char *pod_name)
{
  json_t *pod = json_pack("{s:{s:s}}", "metadata", "name", pod_name);
  bool blocked = false;
  size_t i;
  json_t *ct;
  json_array_foreach (kj_get(c->set, "spec.volumeClaimTemplates"), i, ct) {
    char name[512];
    sts_pvc_name(kj_get_str(ct, "metadata.name"), c->name, ord, name, sizeof name);
    const json_t *pvc = cm_find_named(c->pvcs, name);
    if (pvc && (obj_is_terminating(pvc) || sts_claim_is_stale(pvc, c->set, pod))) blocked = true;
  }
  json_decref(pod);
  return blocked;
}

/* The claims of pod get the owner references the retention policy wants
 * (upstream UpdatePodClaimForRetentionPolicy).  True when all were
 * already right. */
static bool update_claim_retention(struct sts_ctx *c, const json_t *pod, bool in_range)
{
  int64_t ord = sts_ordinal(c->name, kj_get_str(pod, "metadata.name"));
  bool ok = true;
  size_t i;
  json_t *ct;
  json_array_foreach (kj_get(c->set, "spec.volumeClaimTemplates"), i, ct) {
    char name[512], path[600];
    sts_pvc_name(kj_get_str(ct, "metadata.name"), c->name, ord, name, sizeof name);
    const json_t *pvc = cm_find_named(c->pvcs, name);
    if (!pvc || sts_claim_owner_up_to_date(pvc, c->set, pod, in_range)) continue;
    ok = false;
    json_t *body = kj_deep_copy(pvc);
    json_object_set_new(body, "apiVersion", json_string("v1"));
    json_object_set_new(body, "kind", json_string("PersistentVolumeClaim"));
    json_t *refs = sts_claim_owner_refs(pvc, c->set, pod, in_range);
    if (json_array_size(refs)) kj_set(body, "metadata.ownerReferences", refs);
    else {
      json_decref(refs);
      kj_del(body, "metadata.ownerReferences");
    }
    cm_path(path, sizeof path, "/api/v1", c->ns, "persistentvolumeclaims", name, NULL);
    cm_act(c->acts, CM_PUT, path, body);
  }
  return ok;
}

/* A pod of the same name that already exists (one still terminating) is
 * not this pod: AlreadyExists retries the set (upstream CreateStatefulPod).
 * Returns false when its claims do not allow it yet (retried shortly). */
static bool create_pod(struct sts_ctx *c, int64_t ord, bool use_current)
{
  char name[512], path[512], msg[800], fmsg[800];
  sts_pod_name(c->name, ord, name, sizeof name);
  if (claims_block_creation(c, ord, name)) {
    if (c->requeue_ms < 0 || c->requeue_ms > STS_CLAIM_WAIT_MS) c->requeue_ms = STS_CLAIM_WAIT_MS;
    return false;
  }
  ensure_claims(c, ord, name);
  cm_path(path, sizeof path, "/api/v1", c->ns, "pods", NULL, NULL);
  struct cm_action *act = cm_act(c->acts, CM_POST, path, new_pod(c, ord, use_current));
  snprintf(msg, sizeof msg, "create Pod %s in StatefulSet %s successful", name, c->name);
  snprintf(fmsg, sizeof fmsg, "create Pod %s in StatefulSet %s failed error", name, c->name);
  cm_act_events(act, c->ref, "SuccessfulCreate", msg, "FailedCreate", fmsg);
  return true;
}

static void delete_pod(struct sts_ctx *c, const json_t *pod)
{
  const char *name = kj_get_str(pod, "metadata.name");
  char path[512], msg[800], fmsg[800];
  cm_path(path, sizeof path, "/api/v1", c->ns, "pods", name, NULL);
  struct cm_action *act = cm_act(c->acts, CM_DELETE, path, NULL);
  snprintf(msg, sizeof msg, "delete Pod %s in StatefulSet %s successful", name, c->name);
  snprintf(fmsg, sizeof fmsg, "delete Pod %s in StatefulSet %s failed error", name, c->name);
  cm_act_events(act, c->ref, "SuccessfulDelete", msg, "FailedDelete", fmsg);
}

/* Step 1: the update revision (the current template's, found by data or
 * created as SET-HASH; a name taken by other data bumps collisionCount
 * and nothing is created until the next sync hashes again) and the
 * current revision (status.currentRevision, while it exists). */
static void sync_revisions(struct sts_ctx *c, const json_t *revs, const json_t *revs_ns, json_t *st)
{
  json_t *data = sts_revision_data(c->set);
  int64_t maxrev = 0;
  const json_t *equal = NULL;
  size_t i;
  json_t *r;
  json_array_foreach (revs, i, r) {
    int64_t n = kj_get_int(r, "revision", 0);
    if (n > maxrev) maxrev = n;
    if (!equal && dep_semantic_equal(json_object_get(r, "data"), data)) equal = r;
  }
  char path[512];
  if (equal) {
    snprintf(c->upd_rev, sizeof c->upd_rev, "%s", kj_get_str(equal, "metadata.name"));
    if (kj_get_int(equal, "revision", 0) < maxrev) {
      /* Rolling back to an older template makes it the newest revision. */
      json_t *body = kj_deep_copy(equal);
      json_object_set_new(body, "revision", json_integer(maxrev + 1));
      cm_path(path, sizeof path, "/apis/apps/v1", c->ns, "controllerrevisions", c->upd_rev, NULL);
      cm_act(c->acts, CM_PUT, path, body);
    }
  } else {
    sts_revision_name(c->set, data, c->upd_rev, sizeof c->upd_rev);
    const json_t *taken = cm_find_named(revs_ns, c->upd_rev);
    if (taken && !dep_semantic_equal(json_object_get(taken, "data"), data)) {
      c->collision = true;
      json_object_set_new(st, "collisionCount", json_integer(kj_get_int(c->set, "status.collisionCount", 0) + 1));
    } else if (!taken) {
      json_t *cr = json_pack("{s:s,s:s,s:{s:s,s:s,s:[o]},s:O,s:I}", "apiVersion", "apps/v1", "kind",
                             "ControllerRevision", "metadata", "name", c->upd_rev, "namespace", c->ns,
                             "ownerReferences", cm_new_controller_ref(c->set, "apps/v1", "StatefulSet"), "data", data,
                             "revision", (json_int_t)(maxrev + 1));
      json_t *labels = kj_get(c->set, "spec.template.metadata.labels");
      if (labels) kj_set(cr, "metadata.labels", kj_deep_copy(labels));
      cm_path(path, sizeof path, "/apis/apps/v1", c->ns, "controllerrevisions", NULL, NULL);
      cm_act(c->acts, CM_POST, path, cr);
    }
  }
  c->upd_tmpl = kj_deep_copy(kj_get(c->set, "spec.template"));
  const char *cr_name = kj_get_str(c->set, "status.currentRevision");
  const json_t *cur_r = cr_name ? cm_find_named(revs, cr_name) : NULL;
  json_t *t = cur_r ? kj_deep_copy(kj_get(cur_r, "data.spec.template")) : NULL;
  if (t) json_object_del(t, "$patch");
  snprintf(c->cur_rev, sizeof c->cur_rev, "%s", cur_r ? cr_name : c->upd_rev);
  c->cur_tmpl = t ? t : kj_deep_copy(c->upd_tmpl);
  json_decref(data);
}

static int by_revision_num(const void *a, const void *b)
{
  int64_t ra = kj_get_int(*(json_t *const *)a, "revision", 0), rb = kj_get_int(*(json_t *const *)b, "revision", 0);
  return ra < rb ? -1 : ra > rb;
}

/* Old revisions no pod uses, beyond revisionHistoryLimit, go. */
static void truncate_history(const struct sts_ctx *c, const json_t *revs, const json_t *pods, const char *cur)
{
  int64_t limit = kj_get_int(c->set, "spec.revisionHistoryLimit", STS_DEFAULT_HISTORY_LIMIT);
  size_t n = 0, i;
  const json_t **v = xmalloc((json_array_size(revs) + 1) * sizeof *v);
  json_t *r;
  json_array_foreach (revs, i, r) {
    const char *name = kj_get_str(r, "metadata.name");
    if (!name || !strcmp(name, cur) || !strcmp(name, c->upd_rev)) continue;
    bool live = false;
    size_t k;
    json_t *p;
    json_array_foreach (pods, k, p) {
      const char *pr = pod_revision(p);
      if (pr && !strcmp(pr, name)) live = true;
    }
    if (!live) v[n++] = r;
  }
  if ((int64_t)n > limit) {
    qsort(v, n, sizeof(*v), by_revision_num);
    for (size_t k = 0; k < n - (size_t)limit; k++) {
      char path[512];
      cm_path(path, sizeof path, "/apis/apps/v1", c->ns, "controllerrevisions", kj_get_str(v[k], "metadata.name"),
              NULL);
      cm_act(c->acts, CM_DELETE, path, NULL);
    }
  }
  free(v);
}

/* Step 2: pods into their ordinal slots (the rest condemned), counting
 * the status. */
static void sts_collect(struct sts_ctx *c, const json_t *pods)
{
  size_t i;
  json_t *p;
  json_array_foreach (pods, i, p) {
    int64_t ord = sts_ordinal(c->name, kj_get_str(p, "metadata.name"));
    if (ord < 0) continue;
    c->n_replicas++;
    if (pod_is_ready(p)) c->n_ready++;
    if (pod_healthy(p, c->min_ready, c->now)) c->n_avail++;
    const char *pr = pod_revision(p);
    if (pr && !strcmp(pr, c->cur_rev)) c->n_cur++;
    if (pr && !strcmp(pr, c->upd_rev)) c->n_upd++;
    if (ord >= c->start && ord < c->start + c->replicas && !c->slot[ord - c->start]) c->slot[ord - c->start] = p;
    else json_array_append(c->condemned, p);
  }
}

/* Step 3: missing pods created and failed ones replaced, in ordinal order
 * (OrderedReady stops at the first pod not yet healthy).  Returns true
 * when the sync must stop here. */
static bool sts_create_or_replace(struct sts_ctx *c)
{
  int64_t cur_replicas_status = kj_get_int(c->set, "status.currentReplicas", 0);
  bool has_partition = kj_get(c->set, "spec.updateStrategy.rollingUpdate.partition") != NULL;
  bool blocked = false;
  for (int64_t k = 0; k < c->replicas; k++) {
    json_t *pod = c->slot[k];
    int64_t ord = c->start + k;
    bool use_current = false;
    if (c->rolling && strcmp(c->cur_rev, c->upd_rev))
      use_current = has_partition ? ord < c->partition : ord < cur_replicas_status;
    if (!pod) {
      create_pod(c, ord, use_current);
      if (c->parallel) continue;
      return true;
    }
    const char *ph = kj_get_str(pod, "status.phase");
    if (ph && !strcmp(ph, "Failed") && !obj_is_terminating(pod)) {
      delete_pod(c, pod);
      if (c->parallel) continue;
      return true;
    }
    if (!c->parallel && !pod_healthy(pod, c->min_ready, c->now)) {
      if (pod_is_ready(pod) && c->min_ready > 0) c->requeue_ms = c->min_ready * 1000;
      return true;
    }
    /* Claims may have been removed while the pod ran. */
    ensure_claims(c, ord, kj_get_str(pod, "metadata.name"));
    update_claim_retention(c, pod, true);
  }
  return blocked;
}

static int by_ordinal_desc(const void *a, const void *b, void *set)
{
  int64_t oa = sts_ordinal(set, kj_get_str(*(json_t *const *)a, "metadata.name"));
  int64_t ob = sts_ordinal(set, kj_get_str(*(json_t *const *)b, "metadata.name"));
  return oa < ob ? 1 : oa > ob ? -1 : 0;
}

/* Step 4: surplus pods go, highest ordinal first (one at a time with
 * OrderedReady).  Returns true when anything is condemned. */
static bool sts_scale_down(struct sts_ctx *c)
{
  if (json_array_size(c->condemned) == 0) return false;
  cm_sort_array(c->condemned, by_ordinal_desc, (void *)c->name);
  size_t i;
  json_t *p;
  json_array_foreach (c->condemned, i, p) {
    /* Its claims first pass to it (whenScaled Delete) or stay as they are,
     * and only then does the pod go. */
    if (update_claim_retention(c, p, false) && !obj_is_terminating(p)) delete_pod(c, p);
    if (!c->parallel) break;
  }
  return true;
}

/* Step 5: RollingUpdate, highest ordinal first down to the partition, at
 * most maxUnavailable pods unavailable at a time. */
static void sts_rolling_update(struct sts_ctx *c)
{
  int64_t unavailable = 0;
  for (int64_t k = 0; k < c->replicas; k++)
    if (!c->slot[k] || !pod_healthy(c->slot[k], c->min_ready, c->now)) unavailable++;
  for (int64_t k = c->replicas - 1; k >= 0 && c->start + k >= c->partition; k--) {
    json_t *pod = c->slot[k];
    if (!pod) continue;
    const char *pr = pod_revision(pod);
    if (pr && !strcmp(pr, c->upd_rev)) continue;
    if (obj_is_terminating(pod)) {
      if (!c->parallel) break;
      continue;
    }
    if (unavailable >= c->max_unavailable) break;
    delete_pod(c, pod);
    unavailable++;
  }
}

/* Step 6: the status, written when it changed. */
static void sts_write_status(struct sts_ctx *c, json_t *st)
{
  json_object_set_new(st, "replicas", json_integer(c->n_replicas));
  json_object_set_new(st, "readyReplicas", json_integer(c->n_ready));
  json_object_set_new(st, "availableReplicas", json_integer(c->n_avail));
  json_object_set_new(st, "currentReplicas", json_integer(c->n_cur));
  json_object_set_new(st, "updatedReplicas", json_integer(c->n_upd));
  json_object_set_new(st, "currentRevision", json_string(c->cur_rev));
  json_object_set_new(st, "updateRevision", json_string(c->upd_rev));
  json_object_set_new(st, "observedGeneration", json_integer(kj_get_int(c->set, "metadata.generation", 0)));
  /* A finished rolling update makes the update revision current. */
  if (c->rolling && c->n_upd == c->replicas && c->n_replicas == c->replicas && c->n_ready == c->replicas) {
    json_object_set_new(st, "currentRevision", json_string(c->upd_rev));
    json_object_set_new(st, "currentReplicas", json_integer(c->n_upd));
  }
  if (kj_equal(st, kj_get(c->set, "status"))) return;
  char path[512];
  cm_path(path, sizeof path, "/apis/apps/v1", c->ns, "statefulsets", c->name, "status");
  json_t *body = kj_deep_copy(c->set);
  json_object_set(body, "status", st);
  if (!kj_get_str(body, "kind")) json_object_set_new(body, "kind", json_string("StatefulSet"));
  if (!kj_get_str(body, "apiVersion")) json_object_set_new(body, "apiVersion", json_string("apps/v1"));
  cm_act(c->acts, CM_PUT, path, body);
}

static void sts_read_spec(struct sts_ctx *c)
{
  c->replicas = kj_get_int(c->set, "spec.replicas", 1);
  c->start = kj_get_int(c->set, "spec.ordinals.start", 0);
  c->min_ready = kj_get_int(c->set, "spec.minReadySeconds", 0);
  const char *pmp = kj_get_str(c->set, "spec.podManagementPolicy");
  c->parallel = pmp && !strcmp(pmp, "Parallel");
  const char *ust = kj_get_str(c->set, "spec.updateStrategy.type");
  c->rolling = !ust || !strcmp(ust, "RollingUpdate");
  c->partition = kj_get_int(c->set, "spec.updateStrategy.rollingUpdate.partition", 0);
  c->max_unavailable = 1;
  json_t *mu = kj_get(c->set, "spec.updateStrategy.rollingUpdate.maxUnavailable");
  if (mu && cm_int_or_percent(mu, c->replicas, false, &c->max_unavailable) == 0 && c->max_unavailable < 1)
    c->max_unavailable = 1;
}

int sts_compute(const json_t *set, const json_t *pods_ns, const json_t *pvcs, const json_t *revs_ns, int64_t now,
                struct cm_actions *acts, int64_t *requeue_ms)
{
  char err[256];
  struct labelsel *sel = labelsel_from_json(kj_get(set, "spec.selector"), err, sizeof err);
  *requeue_ms = -1;
  if (!sel) return -EINVAL;
  struct sts_ctx c = {.set = set, .acts = acts, .pvcs = pvcs, .now = now, .requeue_ms = -1};
  c.ns = kj_get_str(set, "metadata.namespace");
  c.name = kj_get_str(set, "metadata.name");
  if (!c.ns) c.ns = "";
  if (!c.name) c.name = "";
  c.ref = cm_object_ref(set, "apps/v1", "StatefulSet");
  sts_read_spec(&c);
  json_t *pods = cm_claim_pods(set, "apps/v1", "StatefulSet", sel, pods_ns, acts);
  json_t *revs =
      cm_claim_objects(set, "apps/v1", "StatefulSet", sel, revs_ns, "/apis/apps/v1", "controllerrevisions", acts);
  json_t *st = kj_deep_copy(kj_get(set, "status"));
  if (!st) st = json_object();
  sync_revisions(&c, revs, revs_ns, st);
  c.slot = xcalloc((size_t)(c.replicas > 0 ? c.replicas : 0) + 1, sizeof *c.slot);
  c.condemned = json_array();
  sts_collect(&c, pods);
  if (!obj_is_terminating(set) && !c.collision && !sts_create_or_replace(&c) && !sts_scale_down(&c) && c.rolling &&
      strcmp(c.cur_rev, c.upd_rev))
    sts_rolling_update(&c);
  sts_write_status(&c, st);
  truncate_history(&c, revs, pods, json_string_value(json_object_get(st, "currentRevision")));
  *requeue_ms = c.requeue_ms;
  free(c.slot);
  json_decref(c.condemned);
  json_decref(st);
  json_decref(c.upd_tmpl);
  json_decref(c.cur_tmpl);
  json_decref(revs);
  json_decref(pods);
  labelsel_free(sel);
  json_decref(c.ref);
  return 0;
}

/* ---- the controller ---- */

struct sts_ctrl {
  struct cm_base base;
  struct informer *set_inf, *pod_inf, *pvc_inf, *rev_inf;
};

static json_t *by_ns(struct informer *inf, const char *ns)
{
  json_t *a = informer_store_by_index(inf, INFORMER_INDEX_NAMESPACE, ns ? ns : "");
  return a ? a : json_array();
}

static void sts_sync(struct cm_base *b, const char *key)
{
  struct sts_ctrl *c = (struct sts_ctrl *)b;
  json_t *set = informer_store_get_obj(c->set_inf, key);
  if (!set) {
    cm_base_finish(b, key, false, -1);
    return;
  }
  const char *ns = kj_get_str(set, "metadata.namespace");
  json_t *pods = by_ns(c->pod_inf, ns), *pvcs = by_ns(c->pvc_inf, ns), *revs = by_ns(c->rev_inf, ns);
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue = -1;
  sts_compute(set, pods, pvcs, revs, cm_now(), &acts, &requeue);
  json_decref(pods);
  json_decref(pvcs);
  json_decref(revs);
  json_decref(set);
  cm_base_exec(b, key, &acts, NULL, requeue);
  cm_actions_clear(&acts);
}

static void enqueue_owner(struct sts_ctrl *c, const json_t *obj)
{
  char key[512];
  if (cm_owner_key(obj, "StatefulSet", key, sizeof key)) {
    cm_base_enqueue_key(&c->base, key);
    return;
  }
  if (obj_controller_ref(obj)) return;
  /* Orphans: every set of the namespace selecting them. */
  const char *ns = kj_get_str(obj, "metadata.namespace");
  json_t *all = informer_store_list(c->set_inf);
  size_t i;
  json_t *s;
  char err[128];
  json_array_foreach (all, i, s) {
    const char *sns = kj_get_str(s, "metadata.namespace");
    if (!ns || !sns || strcmp(ns, sns)) continue;
    struct labelsel *sel = labelsel_from_json(kj_get(s, "spec.selector"), err, sizeof err);
    if (sel && labelsel_matches(sel, kj_get(obj, "metadata.labels"))) cm_base_enqueue(&c->base, s);
    labelsel_free(sel);
  }
  json_decref(all);
}

static void on_obj_add(void *arg, const json_t *o) { enqueue_owner(arg, o); }
static void on_obj_update(void *arg, const json_t *o, const json_t *n)
{
  struct sts_ctrl *c = arg;
  char ko[512], kn[512];
  bool ho = cm_owner_key(o, "StatefulSet", ko, sizeof ko), hn = cm_owner_key(n, "StatefulSet", kn, sizeof kn);
  if (ho && (!hn || strcmp(ko, kn))) cm_base_enqueue_key(&c->base, ko);
  enqueue_owner(c, n);
}
static void on_obj_delete(void *arg, const json_t *o, bool unknown) { enqueue_owner(arg, o); }

static int sts_init(struct cm_base *b)
{
  struct sts_ctrl *c = (struct sts_ctrl *)b;
  struct informer_factory *f = b->ctx->informers;
  c->set_inf = informer_factory_get(f, CM_STATEFULSETS);
  c->pod_inf = informer_factory_get(f, CM_PODS);
  c->pvc_inf = informer_factory_get(f, CM_PVCS);
  c->rev_inf = informer_factory_get(f, CM_CONTROLLERREVISIONS);
  struct informer *idx[] = {c->pod_inf, c->pvc_inf, c->rev_inf};
  for (int i = 0; i < 3; i++) informer_add_index(idx[i], INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  struct informer_handlers sh = {cm_on_add_enqueue, cm_on_update_enqueue, NULL, c};
  struct informer_handlers oh = {on_obj_add, on_obj_update, on_obj_delete, c};
  informer_add_handlers(c->set_inf, &sh);
  informer_add_handlers(c->pod_inf, &oh);
  informer_add_handlers(c->rev_inf, &oh);
  return 0;
}

const struct controller_def ctrl_statefulset = {
    .name = "statefulset",
    .service_account = "statefulset-controller",
    .enabled_by_default = true,
    .size = sizeof(struct sts_ctrl),
    .queue = "statefulset",
    .component = "statefulset-controller",
    .workers_flag = offsetof(struct cm_config, concurrent_statefulset_syncs),
    .workers = 5,
    .sync = sts_sync,
    .init = sts_init,
};
