/*
 * cm_test_persistentvolume.c - the persistentvolume-binder's steps and the
 * local-path provisioner: single steps checked write by write, and whole
 * flows replayed against a small fake API server (resourceVersions,
 * status subresources, finalizers) until nothing is left to write:
 * static binding, default class assignment, WaitForFirstConsumer,
 * provisioning, release and every reclaim policy, lost claims, and the
 * upstream Event reasons and messages on the way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "controller_utils.h"
#include "controllers/persistentvolume.h"
#include "controllers/volume_util.h"
#include "kube/json.h"

/* ---- a fake API server ---- */

struct fake {
  json_t *claims;  /* "ns/name" -> claim */
  json_t *volumes; /* name -> volume */
  json_t *classes; /* array */
  json_t *pods;    /* array */
  json_t *nodes;   /* name -> node */
  json_t *events;  /* [{type, reason, message, kind, name}] */
  int64_t rv;
  int conflicts;
};

static void set_rv(struct fake *f, json_t *obj)
{
  char b[32];
  snprintf(b, sizeof b, "%lld", (long long)++f->rv);
  kj_set_str(obj, "metadata.resourceVersion", b);
}

static struct fake *fake_new(void)
{
  struct fake *f = calloc(1, sizeof *f);
  f->claims = json_object();
  f->volumes = json_object();
  f->classes = json_array();
  f->pods = json_array();
  f->nodes = json_object();
  f->events = json_array();
  return f;
}

static void fake_free(struct fake *f)
{
  json_decref(f->claims);
  json_decref(f->volumes);
  json_decref(f->classes);
  json_decref(f->pods);
  json_decref(f->nodes);
  json_decref(f->events);
  free(f);
}

static json_t *add_claim(struct fake *f, const char *name, const char *cls, const char *size, const char *mode)
{
  json_t *c = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:[s],s:{s:{s:s}}},s:{s:s}}", "apiVersion", "v1", "kind",
                        "PersistentVolumeClaim", "metadata", "name", name, "namespace", "ns", "uid", name, "spec",
                        "accessModes", mode, "resources", "requests", "storage", size, "status", "phase", "Pending");
  if (cls) kj_set_str(c, "spec.storageClassName", cls);
  set_rv(f, c);
  char k[128];
  snprintf(k, sizeof k, "ns/%s", name);
  json_object_set_new(f->claims, k, c);
  return c;
}

static json_t *add_volume(struct fake *f, const char *name, const char *cls, const char *size, const char *mode,
                          const char *policy)
{
  json_t *v = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:{s:s},s:[s],s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind",
                        "PersistentVolume", "metadata", "name", name, "uid", name, "spec", "capacity", "storage", size,
                        "accessModes", mode, "persistentVolumeReclaimPolicy", policy, "hostPath", "path", "/tmp/x",
                        "status", "phase", "Available");
  if (cls) kj_set_str(v, "spec.storageClassName", cls);
  set_rv(f, v);
  json_object_set_new(f->volumes, name, v);
  return v;
}

static void add_class(struct fake *f, const char *name, const char *prov, const char *mode, bool dflt)
{
  json_t *sc =
      json_pack("{s:{s:s,s:s},s:s,s:s,s:s}", "metadata", "name", name, "creationTimestamp", "2024-01-01T00:00:00Z",
                "provisioner", prov, "reclaimPolicy", "Delete", "volumeBindingMode", mode);
  if (dflt) kj_set_str(sc, "metadata.annotations[\"" ANN_DEFAULT_CLASS "\"]", "true");
  json_array_append_new(f->classes, sc);
}

static void add_node(struct fake *f, const char *name)
{
  json_object_set_new(f->nodes, name,
                      json_pack("{s:{s:s,s:{s:s}}}", "metadata", "name", name, "labels", LABEL_HOSTNAME, name));
}

static json_t *claim(struct fake *f, const char *name)
{
  char k[128];
  snprintf(k, sizeof k, "ns/%s", name);
  return json_object_get(f->claims, k);
}

static void record_event(struct fake *f, const json_t *ref, const char *type, const char *reason, const char *msg)
{
  json_array_append_new(f->events, json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", type ? type : "Normal", "reason", reason,
                                             "message", msg ? msg : "", "kind", kj_get_str(ref, "kind") ?: "", "name",
                                             kj_get_str(ref, "name") ?: ""));
}

/* The event of this reason, last recorded, or NULL. */
static const json_t *event_of(struct fake *f, const char *reason)
{
  for (size_t i = json_array_size(f->events); i > 0; i--) {
    const json_t *e = json_array_get(f->events, i - 1);
    if (!strcmp(kj_get_str(e, "reason"), reason)) return e;
  }
  return NULL;
}

/* Applies one PUT: a stale resourceVersion is a conflict; a status write
 * takes only the status, a main write everything else. */
static bool put(struct fake *f, json_t *coll, const char *key, const json_t *body, bool status)
{
  json_t *cur = json_object_get(coll, key);
  if (!cur || strcmp(kj_get_str(cur, "metadata.resourceVersion"), kj_get_str(body, "metadata.resourceVersion") ?: "")) {
    f->conflicts++;
    return false;
  }
  json_t *n = kj_deep_copy(status ? cur : body);
  if (status) json_object_set_new(n, "status", kj_deep_copy(json_object_get(body, "status")));
  else json_object_set_new(n, "status", kj_deep_copy(json_object_get(cur, "status")));
  set_rv(f, n);
  json_object_set_new(coll, key, n);
  return true;
}

/* Applies a step's writes; returns how many objects were written. */
static int apply(struct fake *f, struct cm_actions *acts)
{
  int writes = 0;
  for (size_t i = 0; i < acts->n; i++) {
    struct cm_action *a = &acts->v[i];
    bool ok = true;
    char ns[64], name[128], sub[32] = "";
    if (a->verb == CM_EVENT) {
      record_event(f, a->evobj, a->ok_type, a->ok_reason, a->ok_message);
      continue;
    }
    writes++;
    if (sscanf(a->path, "/api/v1/namespaces/%63[^/]/persistentvolumeclaims/%127[^/]/%31s", ns, name, sub) >= 2) {
      char k[200];
      snprintf(k, sizeof k, "%s/%s", ns, name);
      assert_int_equal(a->verb, CM_PUT);
      ok = put(f, f->claims, k, a->body, !strcmp(sub, "status"));
    } else if (sscanf(a->path, "/api/v1/persistentvolumes/%127[^/]/%31s", name, sub) >= 1) {
      json_t *cur = json_object_get(f->volumes, name);
      if (a->verb == CM_DELETE) {
        if (cur && json_array_size(kj_get(cur, "metadata.finalizers")))
          kj_set_str(cur, "metadata.deletionTimestamp", "2024-01-01T00:00:01Z");
        else json_object_del(f->volumes, name);
      } else {
        ok = put(f, f->volumes, name, a->body, !strcmp(sub, "status"));
      }
    } else if (!strcmp(a->path, "/api/v1/persistentvolumes")) {
      json_t *v = kj_deep_copy(a->body);
      kj_set(v, "status", json_pack("{s:s}", "phase", "Pending"));
      set_rv(f, v);
      json_object_set_new(f->volumes, kj_get_str(v, "metadata.name"), v);
    } else {
      fail_msg("unexpected write %s %s", cm_verb_name(a->verb), a->path);
    }
    if (ok && a->ok_reason) record_event(f, a->evobj, a->ok_type, a->ok_reason, a->ok_message);
  }
  cm_actions_clear(acts);
  return writes;
}

/* Everything a claim step reads, from the fake. */
static int step_claim(struct fake *f, const char *name)
{
  json_t *c = claim(f, name);
  if (!c) return 0;
  json_t *vols = json_array();
  const char *k;
  json_t *v;
  json_object_foreach (f->volumes, k, v) json_array_append(vols, v);
  char pvname[128];
  snprintf(pvname, sizeof pvname, "pvc-%s", kj_get_str(c, "metadata.uid"));
  const char *node = vol_annotation(c, ANN_SELECTED_NODE);
  const char *vn = kj_get_str(c, "spec.volumeName");
  struct pvb_world w = {.claim = c,
                        .volume = vn ? json_object_get(f->volumes, vn) : NULL,
                        .volumes = vols,
                        .provisioned = json_object_get(f->volumes, pvname),
                        .classes = f->classes,
                        .pods = f->pods,
                        .node = node ? json_object_get(f->nodes, node) : NULL,
                        .local_path_root = "/data"};
  struct cm_actions acts;
  struct pvb_result res;
  cm_actions_init(&acts);
  pvb_sync_claim(&w, &acts, &res);
  json_decref(vols);
  return apply(f, &acts);
}

static int step_volume(struct fake *f, const char *name, struct pvb_result *res_out)
{
  json_t *v = json_object_get(f->volumes, name);
  if (!v) return 0;
  char ck[200];
  snprintf(ck, sizeof ck, "%s/%s", kj_get_str(v, "spec.claimRef.namespace") ?: "",
           kj_get_str(v, "spec.claimRef.name") ?: "");
  const char *node = local_path_node(v);
  struct pvb_world w = {.volume = v,
                        .claim = json_object_get(f->claims, ck),
                        .classes = f->classes,
                        .pods = f->pods,
                        .node = node ? json_object_get(f->nodes, node) : NULL,
                        .claim_live = true};
  struct cm_actions acts;
  struct pvb_result res;
  cm_actions_init(&acts);
  pvb_sync_volume(&w, &acts, &res);
  if (res_out) *res_out = res;
  return apply(f, &acts);
}

/* Syncs every claim and volume until a full pass writes nothing. */
static void converge(struct fake *f)
{
  for (int pass = 0; pass < 40; pass++) {
    int writes = 0;
    json_t *ck = json_object(), *vk = json_object();
    json_object_update(ck, f->claims);
    json_object_update(vk, f->volumes);
    const char *k;
    json_t *x;
    json_object_foreach (ck, k, x) writes += step_claim(f, kj_get_str(x, "metadata.name"));
    json_object_foreach (vk, k, x) writes += step_volume(f, k, NULL);
    json_decref(ck);
    json_decref(vk);
    if (!writes) return;
  }
  fail_msg("the binder did not converge");
}

/* ---- tests ---- */

static void test_static_binding_picks_smallest(void **state)
{
  struct fake *f = fake_new();
  add_volume(f, "big", "", "10Gi", "ReadWriteOnce", "Retain");
  add_volume(f, "small", "", "2Gi", "ReadWriteOnce", "Retain");
  add_volume(f, "tiny", "", "500Mi", "ReadWriteOnce", "Retain");
  add_volume(f, "other-class", "gold", "1Gi", "ReadWriteOnce", "Retain");
  add_claim(f, "data", "", "1Gi", "ReadWriteOnce");
  converge(f);
  json_t *c = claim(f, "data");
  assert_string_equal(kj_get_str(c, "spec.volumeName"), "small");
  assert_string_equal(kj_get_str(c, "status.phase"), "Bound");
  assert_string_equal(kj_get_str(c, "status.capacity.storage"), "2Gi");
  assert_string_equal(kj_get_str(c, "status.accessModes[0]"), "ReadWriteOnce");
  assert_string_equal(vol_annotation(c, ANN_BIND_COMPLETED), "yes");
  assert_string_equal(vol_annotation(c, ANN_BOUND_BY_CONTROLLER), "yes");
  json_t *pv = json_object_get(f->volumes, "small");
  assert_string_equal(kj_get_str(pv, "status.phase"), "Bound");
  assert_string_equal(kj_get_str(pv, "spec.claimRef.name"), "data");
  assert_string_equal(kj_get_str(pv, "spec.claimRef.uid"), "data");
  assert_string_equal(vol_annotation(pv, ANN_BOUND_BY_CONTROLLER), "yes");
  assert_string_equal(kj_get_str(json_object_get(f->volumes, "big"), "status.phase"), "Available");
  assert_int_equal(f->conflicts, 0);
  fake_free(f);
}

/* Upstream's index order: a volume offering only what the claim asks is
 * preferred to a smaller one offering more. */
static void test_fewest_access_modes_first(void **state)
{
  struct fake *f = fake_new();
  json_t *many = add_volume(f, "many", "", "1Gi", "ReadWriteOnce", "Retain");
  json_array_append_new(kj_get(many, "spec.accessModes"), json_string("ReadOnlyMany"));
  add_volume(f, "exact", "", "5Gi", "ReadWriteOnce", "Retain");
  add_claim(f, "data", "", "1Gi", "ReadWriteOnce");
  json_t *vols = json_array();
  json_array_append(vols, many);
  json_array_append(vols, json_object_get(f->volumes, "exact"));
  const json_t *m = pvb_find_best_match(claim(f, "data"), vols, false);
  assert_string_equal(kj_get_str(m, "metadata.name"), "exact");
  /* A claim for ReadOnlyMany only fits "many". */
  json_array_set_new(kj_get(claim(f, "data"), "spec.accessModes"), 0, json_string("ReadOnlyMany"));
  m = pvb_find_best_match(claim(f, "data"), vols, false);
  assert_string_equal(kj_get_str(m, "metadata.name"), "many");
  /* Delay binding ignores unbound volumes. */
  assert_null(pvb_find_best_match(claim(f, "data"), vols, true));
  json_decref(vols);
  fake_free(f);
}

static void test_no_volume_no_class(void **state)
{
  struct fake *f = fake_new();
  add_volume(f, "rwo", "", "10Gi", "ReadWriteOnce", "Retain");
  add_claim(f, "shared", "", "1Gi", "ReadWriteMany");
  converge(f);
  assert_string_equal(kj_get_str(claim(f, "shared"), "status.phase"), "Pending");
  assert_null(kj_get(claim(f, "shared"), "spec.volumeName"));
  const json_t *e = event_of(f, "FailedBinding");
  assert_non_null(e);
  assert_string_equal(kj_get_str(e, "type"), "Normal");
  assert_string_equal(kj_get_str(e, "message"),
                      "no persistent volumes available for this claim and no storage class is set");
  assert_string_equal(kj_get_str(json_object_get(f->volumes, "rwo"), "status.phase"), "Available");
  fake_free(f);
}

static void test_default_class_assigned(void **state)
{
  struct fake *f = fake_new();
  add_class(f, "old-default", "example.com/x", "Immediate", true);
  json_t *newer = json_pack("{s:{s:s,s:s,s:{s:s}},s:s,s:s}", "metadata", "name", "local-path", "creationTimestamp",
                            "2024-06-01T00:00:00Z", "annotations", ANN_DEFAULT_CLASS, "true", "provisioner",
                            LOCAL_PATH_PROVISIONER, "volumeBindingMode", "WaitForFirstConsumer");
  json_array_append_new(f->classes, newer);
  json_t *c = add_claim(f, "data", NULL, "1Gi", "ReadWriteOnce");
  assert_false(vol_claim_has_class(c));
  assert_int_equal(step_claim(f, "data"), 1);
  /* The newest default class wins. */
  assert_string_equal(kj_get_str(claim(f, "data"), "spec.storageClassName"), "local-path");
  /* A claim that asks for no class ("") keeps it. */
  add_claim(f, "none", "", "1Gi", "ReadWriteOnce");
  step_claim(f, "none");
  assert_string_equal(kj_get_str(claim(f, "none"), "spec.storageClassName"), "");
  fake_free(f);
}

static void test_wait_for_first_consumer(void **state)
{
  struct fake *f = fake_new();
  add_class(f, "local-path", LOCAL_PATH_PROVISIONER, "WaitForFirstConsumer", true);
  add_claim(f, "data", "local-path", "1Gi", "ReadWriteOnce");
  converge(f);
  const json_t *e = event_of(f, "WaitForFirstConsumer");
  assert_non_null(e);
  assert_string_equal(kj_get_str(e, "message"), "waiting for first consumer to be created before binding");
  assert_int_equal(json_object_size(f->volumes), 0);
  /* A pending pod uses it. */
  json_array_append_new(f->pods,
                        json_pack("{s:{s:s,s:s},s:{s:[{s:s,s:{s:s}}]}}", "metadata", "name", "app-0", "namespace", "ns",
                                  "spec", "volumes", "name", "d", "persistentVolumeClaim", "claimName", "data"));
  step_claim(f, "data");
  e = event_of(f, "WaitForPodScheduled");
  assert_non_null(e);
  assert_string_equal(kj_get_str(e, "message"), "waiting for pod app-0 to be scheduled");
  assert_string_equal(kj_get_str(claim(f, "data"), "status.phase"), "Pending");
  fake_free(f);
}

static void test_local_path_provisioning(void **state)
{
  struct fake *f = fake_new();
  add_class(f, "local-path", LOCAL_PATH_PROVISIONER, "WaitForFirstConsumer", true);
  add_node(f, "node-1");
  json_t *c = add_claim(f, "data", "local-path", "3Gi", "ReadWriteOnce");
  kj_set_str(c, "metadata.annotations[\"" ANN_SELECTED_NODE "\"]", "node-1");
  converge(f);
  c = claim(f, "data");
  assert_string_equal(vol_annotation(c, ANN_STORAGE_PROVISIONER), LOCAL_PATH_PROVISIONER);
  assert_string_equal(vol_annotation(c, ANN_BETA_STORAGE_PROVISIONER), LOCAL_PATH_PROVISIONER);
  assert_string_equal(kj_get_str(c, "spec.volumeName"), "pvc-data");
  assert_string_equal(kj_get_str(c, "status.phase"), "Bound");
  assert_string_equal(kj_get_str(c, "status.capacity.storage"), "3Gi");
  json_t *pv = json_object_get(f->volumes, "pvc-data");
  assert_non_null(pv);
  assert_string_equal(kj_get_str(pv, "status.phase"), "Bound");
  assert_string_equal(kj_get_str(pv, "spec.local.path"), "/data/pvc-data_ns_data");
  assert_string_equal(kj_get_str(pv, "spec.capacity.storage"), "3Gi");
  assert_string_equal(kj_get_str(pv, "spec.persistentVolumeReclaimPolicy"), "Delete");
  assert_string_equal(kj_get_str(pv, "spec.storageClassName"), "local-path");
  assert_string_equal(kj_get_str(pv, "spec.volumeMode"), "Filesystem");
  assert_string_equal(kj_get_str(pv, "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].key"),
                      LABEL_HOSTNAME);
  assert_string_equal(kj_get_str(pv, "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]"),
                      "node-1");
  assert_string_equal(vol_annotation(pv, ANN_DYNAMICALLY_PROVISIONED), LOCAL_PATH_PROVISIONER);
  assert_string_equal(vol_annotation(pv, ANN_BOUND_BY_CONTROLLER), "yes");
  assert_string_equal(local_path_node(pv), "node-1");
  assert_true(vol_has_finalizer(pv, LOCAL_PATH_FINALIZER));
  const json_t *e = event_of(f, "ProvisioningSucceeded");
  assert_non_null(e);
  assert_string_equal(kj_get_str(e, "message"), "Successfully provisioned volume pvc-data using kube.local/local-path");
  assert_string_equal(kj_get_str(e, "kind"), "PersistentVolumeClaim");
  assert_int_equal(f->conflicts, 0);

  /* The claim goes: Released, then deleted; the finalizer holds the
   * object for the node's kubelet. */
  json_object_del(f->claims, "ns/data");
  converge(f);
  pv = json_object_get(f->volumes, "pvc-data");
  assert_non_null(pv);
  assert_string_equal(kj_get_str(pv, "status.phase"), "Released");
  assert_non_null(kj_get(pv, "metadata.deletionTimestamp"));
  assert_true(vol_has_finalizer(pv, LOCAL_PATH_FINALIZER));
  /* Its node goes too: nothing is left to clean, the finalizer goes. */
  json_object_del(f->nodes, "node-1");
  assert_int_equal(step_volume(f, "pvc-data", NULL), 1);
  assert_false(vol_has_finalizer(json_object_get(f->volumes, "pvc-data"), LOCAL_PATH_FINALIZER));
  fake_free(f);
}

static void test_local_path_refusals(void **state)
{
  struct fake *f = fake_new();
  add_class(f, "local-path", LOCAL_PATH_PROVISIONER, "WaitForFirstConsumer", true);
  add_node(f, "node-1");
  json_t *c = add_claim(f, "rwx", "local-path", "1Gi", "ReadWriteMany");
  kj_set_str(c, "metadata.annotations[\"" ANN_SELECTED_NODE "\"]", "node-1");
  converge(f);
  /* The node choice goes back to the scheduler, the reason to the claim. */
  assert_false(vol_has_annotation(claim(f, "rwx"), ANN_SELECTED_NODE));
  assert_int_equal(json_object_size(f->volumes), 0);
  const json_t *e = event_of(f, "ProvisioningFailed");
  assert_non_null(e);
  assert_string_equal(kj_get_str(e, "type"), "Warning");
  assert_string_equal(
      kj_get_str(e, "message"),
      "Failed to provision volume with StorageClass \"local-path\": invalid AccessModes [ReadWriteMany]: "
      "only AccessModes [ReadWriteOnce ReadWriteOncePod] are supported");
  /* A node that does not exist. */
  c = add_claim(f, "ghost", "local-path", "1Gi", "ReadWriteOnce");
  kj_set_str(c, "metadata.annotations[\"" ANN_SELECTED_NODE "\"]", "node-9");
  converge(f);
  assert_string_equal(kj_get_str(event_of(f, "ProvisioningFailed"), "message"),
                      "Failed to get target node: node \"node-9\" not found");
  /* Immediate binding: no node is ever chosen. */
  add_class(f, "local-now", LOCAL_PATH_PROVISIONER, "Immediate", false);
  add_claim(f, "now", "local-now", "1Gi", "ReadWriteOnce");
  converge(f);
  assert_string_equal(kj_get_str(event_of(f, "ProvisioningFailed"), "message"),
                      "Failed to provision volume with StorageClass \"local-now\": configuration error, no node was "
                      "specified");
  fake_free(f);
}

static void test_other_provisioners(void **state)
{
  struct fake *f = fake_new();
  add_class(f, "intree", "kubernetes.io/gce-pd", "Immediate", false);
  add_class(f, "ext", "example.com/nfs", "Immediate", false);
  add_claim(f, "a", "intree", "1Gi", "ReadWriteOnce");
  add_claim(f, "b", "ext", "1Gi", "ReadWriteOnce");
  add_claim(f, "c", "missing", "1Gi", "ReadWriteOnce");
  converge(f);
  bool seen_intree = false, seen_missing = false;
  size_t i;
  json_t *e;
  json_array_foreach (f->events, i, e) {
    const char *m = kj_get_str(e, "message");
    if (!strcmp(kj_get_str(e, "reason"), "ProvisioningFailed") &&
        !strcmp(m, "no volume plugin matched name: kubernetes.io/gce-pd"))
      seen_intree = true;
    if (!strcmp(kj_get_str(e, "reason"), "ProvisioningFailed") &&
        !strcmp(m, "storageclass.storage.k8s.io \"missing\" not found"))
      seen_missing = true;
  }
  assert_true(seen_intree);
  assert_true(seen_missing);
  assert_string_equal(vol_annotation(claim(f, "b"), ANN_STORAGE_PROVISIONER), "example.com/nfs");
  const json_t *ext = event_of(f, "ExternalProvisioning");
  assert_non_null(ext);
  assert_non_null(strstr(kj_get_str(ext, "message"), "by the external provisioner 'example.com/nfs'"));
  assert_null(vol_annotation(claim(f, "a"), ANN_STORAGE_PROVISIONER));
  fake_free(f);
}

static void test_reclaim_policies(void **state)
{
  struct fake *f = fake_new();
  const char *policies[] = {"Retain", "Recycle", "Delete"};
  for (int i = 0; i < 3; i++) {
    char n[32];
    snprintf(n, sizeof n, "c-%d", i);
    add_claim(f, n, "", "1Gi", "ReadWriteOnce");
    snprintf(n, sizeof n, "v-%d", i);
    json_t *v = add_volume(f, n, "", "1Gi", "ReadWriteOnce", policies[i]);
    snprintf(n, sizeof n, "c-%d", i);
    kj_set(v, "spec.claimRef", json_pack("{s:s,s:s,s:s}", "namespace", "ns", "name", n, "uid", n));
  }
  converge(f);
  for (int i = 0; i < 3; i++) {
    char n[32];
    snprintf(n, sizeof n, "c-%d", i);
    assert_string_equal(kj_get_str(claim(f, n), "status.phase"), "Bound");
    char k[40];
    snprintf(k, sizeof k, "ns/c-%d", i);
    json_object_del(f->claims, k);
  }
  /* The volume's claim is not in the cache: a live read decides. */
  struct pvb_world w = {.volume = json_object_get(f->volumes, "v-0"), .classes = f->classes};
  struct cm_actions acts;
  struct pvb_result res;
  cm_actions_init(&acts);
  pvb_sync_volume(&w, &acts, &res);
  assert_true(res.get_claim);
  assert_int_equal(acts.n, 0);
  converge(f);
  assert_string_equal(kj_get_str(json_object_get(f->volumes, "v-0"), "status.phase"), "Released");
  assert_string_equal(kj_get_str(json_object_get(f->volumes, "v-1"), "status.phase"), "Failed");
  const json_t *e = event_of(f, "VolumeFailedRecycle");
  assert_string_equal(kj_get_str(e, "message"), "No recycler plugin found for the volume!");
  assert_string_equal(kj_get_str(e, "type"), "Warning");
  /* A static hostPath volume with Delete has no deleter. */
  assert_string_equal(kj_get_str(json_object_get(f->volumes, "v-2"), "status.phase"), "Failed");
  e = event_of(f, "VolumeFailedDelete");
  assert_string_equal(kj_get_str(e, "message"),
                      "error getting deleter volume plugin for volume \"v-2\": no deletable volume plugin matched");
  fake_free(f);
}

static void test_lost_and_mismatched_claims(void **state)
{
  struct fake *f = fake_new();
  add_volume(f, "pv1", "", "1Gi", "ReadWriteOnce", "Retain");
  add_claim(f, "data", "", "1Gi", "ReadWriteOnce");
  converge(f);
  json_object_del(f->volumes, "pv1");
  step_claim(f, "data");
  assert_string_equal(kj_get_str(claim(f, "data"), "status.phase"), "Lost");
  assert_null(kj_get(claim(f, "data"), "status.capacity"));
  const json_t *e = event_of(f, "ClaimLost");
  assert_string_equal(kj_get_str(e, "message"),
                      "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
  /* A claim that asks for a volume too small for it. */
  add_volume(f, "small", "", "1Gi", "ReadWriteOnce", "Retain");
  json_t *c = add_claim(f, "big", "", "5Gi", "ReadWriteOnce");
  kj_set_str(c, "spec.volumeName", "small");
  converge(f);
  e = event_of(f, "VolumeMismatch");
  assert_string_equal(kj_get_str(e, "message"), "Cannot bind to requested volume \"small\": requested PV is too small");
  assert_string_equal(kj_get_str(json_object_get(f->volumes, "small"), "status.phase"), "Available");
  fake_free(f);
}

/* A volume pre-bound by its creator to a claim: bound as asked, and the
 * pointer stays the user's (no bound-by-controller on the volume). */
static void test_prebound_volume(void **state)
{
  struct fake *f = fake_new();
  json_t *v = add_volume(f, "mine", "", "1Gi", "ReadWriteOnce", "Retain");
  kj_set(v, "spec.claimRef", json_pack("{s:s,s:s}", "namespace", "ns", "name", "want"));
  add_volume(f, "smaller", "", "1Gi", "ReadWriteOnce", "Retain");
  add_claim(f, "want", "", "1Gi", "ReadWriteOnce");
  converge(f);
  assert_string_equal(kj_get_str(claim(f, "want"), "spec.volumeName"), "mine");
  v = json_object_get(f->volumes, "mine");
  assert_string_equal(kj_get_str(v, "spec.claimRef.uid"), "want");
  assert_false(vol_has_annotation(v, ANN_BOUND_BY_CONTROLLER));
  fake_free(f);
}

static void test_local_path_volume_fields(void **state)
{
  json_t *claim = json_pack("{s:{s:s,s:s,s:s},s:{s:[s],s:{s:{s:s}}}}", "metadata", "name", "c", "namespace", "n", "uid",
                            "u1", "spec", "accessModes", "ReadWriteOncePod", "resources", "requests", "storage", "2Gi");
  json_t *sc = json_pack("{s:s,s:[s]}", "reclaimPolicy", "Retain", "mountOptions", "noatime");
  json_t *node = json_pack("{s:{s:s,s:{s:s}}}", "metadata", "name", "n1", "labels", LABEL_HOSTNAME, "host-one");
  char err[256];
  json_t *pv = local_path_volume(claim, sc, node, "/srv/lp", err, sizeof err);
  assert_non_null(pv);
  assert_string_equal(kj_get_str(pv, "metadata.name"), "pvc-u1");
  assert_string_equal(kj_get_str(pv, "spec.local.path"), "/srv/lp/pvc-u1_n_c");
  assert_string_equal(kj_get_str(pv, "spec.persistentVolumeReclaimPolicy"), "Retain");
  assert_null(kj_get(pv, "metadata.finalizers")); /* Retain: nothing to clean */
  assert_string_equal(kj_get_str(pv, "spec.mountOptions[0]"), "noatime");
  assert_string_equal(kj_get_str(pv, "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]"),
                      "host-one");
  json_decref(pv);
  kj_set(sc, "parameters", json_pack("{s:s}", "pathPattern", "x"));
  assert_null(local_path_volume(claim, sc, node, "/srv/lp", err, sizeof err));
  assert_string_equal(err, "invalid option \"pathPattern\" for volume plugin kube.local/local-path");
  json_decref(claim);
  json_decref(sc);
  json_decref(node);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_static_binding_picks_smallest),
      cmocka_unit_test(test_fewest_access_modes_first),
      cmocka_unit_test(test_no_volume_no_class),
      cmocka_unit_test(test_default_class_assigned),
      cmocka_unit_test(test_wait_for_first_consumer),
      cmocka_unit_test(test_local_path_provisioning),
      cmocka_unit_test(test_local_path_refusals),
      cmocka_unit_test(test_other_provisioners),
      cmocka_unit_test(test_reclaim_policies),
      cmocka_unit_test(test_lost_and_mismatched_claims),
      cmocka_unit_test(test_prebound_volume),
      cmocka_unit_test(test_local_path_volume_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
