/*
 * sched_test_volumes.c - the volume plugins (VolumeBinding,
 * VolumeRestrictions, VolumeZone, NodeVolumeLimits) with upstream's
 * reasons word for word, VolumeBinding's Reserve/Unreserve through its
 * assume cache and its PreBind checks, the pod transform's volumes, and
 * whole cycles through the default profile (a pod whose claim is bound
 * to one node's local volume goes to that node; a pod without claims
 * costs no binding state).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plugins/volume_binding.h"
#include "scheduler.h"
#include "sched_test_util.h"

static json_t *pvc(const char *name, const char *cls, const char *volume, bool bound, const char *mode)
{
  json_t *c =
      json_pack("{s:{s:s,s:s,s:s,s:s},s:{s:[s],s:{s:{s:s}}},s:{s:s}}", "metadata", "name", name, "namespace", "default",
                "uid", name, "resourceVersion", "10", "spec", "accessModes", mode ? mode : "ReadWriteOnce", "resources",
                "requests", "storage", "1Gi", "status", "phase", bound ? "Bound" : "Pending");
  if (cls) kj_set_str(c, "spec.storageClassName", cls);
  if (volume) kj_set_str(c, "spec.volumeName", volume);
  if (bound) kj_set_str(c, "metadata.annotations[\"pv.kubernetes.io/bind-completed\"]", "yes");
  return c;
}

static json_t *pv(const char *name, const char *cls, const char *host, const char *cap, const char *claim)
{
  json_t *v = json_pack("{s:{s:s,s:s},s:{s:{s:s},s:[s],s:{s:s}},s:{s:s}}", "metadata", "name", name, "resourceVersion",
                        "20", "spec", "capacity", "storage", cap, "accessModes", "ReadWriteOnce", "local", "path", "/x",
                        "status", "phase", claim ? "Bound" : "Available");
  if (cls) kj_set_str(v, "spec.storageClassName", cls);
  if (host)
    kj_set(v, "spec.nodeAffinity",
           json_pack("{s:{s:[{s:[{s:s,s:s,s:[s]}]}]}}", "required", "nodeSelectorTerms", "matchExpressions", "key",
                     "kubernetes.io/hostname", "operator", "In", "values", host));
  if (claim)
    kj_set(v, "spec.claimRef", json_pack("{s:s,s:s,s:s}", "namespace", "default", "name", claim, "uid", claim));
  return v;
}

static json_t *sc(const char *name, const char *prov, const char *mode)
{
  return json_pack("{s:{s:s},s:s,s:s}", "metadata", "name", name, "provisioner", prov, "volumeBindingMode", mode);
}

static void put(json_t *map, const char *key, json_t *obj) { json_object_set_new(map, key, obj); }

static struct sched_snapshot *three_nodes(void)
{
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *n[3] = {
      mk_node("node-a", "4", "8Gi", 110, "{\"metadata\":{\"labels\":{\"topology.kubernetes.io/zone\":\"z1\"}}}"),
      mk_node("node-b", "4", "8Gi", 110, "{\"metadata\":{\"labels\":{\"topology.kubernetes.io/zone\":\"z2\"}}}"),
      mk_node("node-c", "4", "8Gi", 110, "{\"metadata\":{\"labels\":{\"topology.kubernetes.io/zone\":\"z3\"}}}")};
  add_nodes(s, n, 3);
  put(s->classes, "local-path", sc("local-path", "kube.local/local-path", "WaitForFirstConsumer"));
  put(s->classes, "manual", sc("manual", "kubernetes.io/no-provisioner", "WaitForFirstConsumer"));
  put(s->classes, "fast", sc("fast", "example.com/fast", "Immediate"));
  return s;
}

static json_t *claim_pod(const char *name, const char *claim)
{
  char buf[400];
  snprintf(buf, sizeof buf,
           "{\"metadata\":{\"name\":\"%s\",\"uid\":\"uid-%s\"},\"spec\":{\"volumes\":[{\"name\":\"data\","
           "\"persistentVolumeClaim\":{\"claimName\":\"%s\"}}]}}",
           name, name, claim);
  return mk_pod(buf);
}

#define VB &sched_plugin_volume_binding

static void test_prefilter_reasons(void **state)
{
  struct sched_snapshot *s = three_nodes();
  char out[512];
  json_t *p = mk_pod("{\"spec\":{\"volumes\":[{\"name\":\"t\",\"emptyDir\":{}}]}}");
  assert_int_equal(filter_one(VB, NULL, s, p, "node-a", out, sizeof out), SCHED_SUCCESS);
  json_decref(p);

  p = claim_pod("p", "data");
  assert_int_equal(filter_one(VB, NULL, s, p, "node-a", out, sizeof out), SCHED_UNRESOLVABLE);
  assert_string_equal(out, "persistentvolumeclaim \"data\" not found");
  json_t *c = pvc("data", "fast", NULL, false, NULL);
  put(s->pvcs, "default/data", c);
  assert_int_equal(filter_one(VB, NULL, s, p, "node-a", out, sizeof out), SCHED_UNRESOLVABLE);
  assert_string_equal(out, "pod has unbound immediate PersistentVolumeClaims");
  kj_set_str(c, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  filter_one(VB, NULL, s, p, "node-a", out, sizeof out);
  assert_string_equal(out, "persistentvolumeclaim \"data\" is being deleted");
  json_decref(p);

  /* Generic ephemeral volumes: the claim POD-VOLUME, owned by the pod. */
  p = mk_pod("{\"metadata\":{\"name\":\"web\",\"uid\":\"web-uid\"},\"spec\":{\"volumes\":[{\"name\":\"scratch\","
             "\"ephemeral\":{}}]}}");
  filter_one(VB, NULL, s, p, "node-a", out, sizeof out);
  assert_string_equal(out,
                      "waiting for ephemeral volume controller to create the persistentvolumeclaim \"web-scratch\"");
  json_t *ec = pvc("web-scratch", "local-path", NULL, false, NULL);
  put(s->pvcs, "default/web-scratch", ec);
  filter_one(VB, NULL, s, p, "node-a", out, sizeof out);
  assert_string_equal(out, "PVC default/web-scratch was not created for pod default/web (pod is not owner)");
  kj_set(ec, "metadata.ownerReferences",
         json_pack("[{s:s,s:s,s:s,s:s,s:b}]", "apiVersion", "v1", "kind", "Pod", "name", "web", "uid", "web-uid",
                   "controller", 1));
  assert_int_equal(filter_one(VB, NULL, s, p, "node-a", out, sizeof out), SCHED_SUCCESS);
  json_decref(p);
  sched_snapshot_free(s);
}

static void test_bound_volume_affinity(void **state)
{
  struct sched_snapshot *s = three_nodes();
  char out[512];
  put(s->pvcs, "default/data", pvc("data", "manual", "pv-a", true, NULL));
  json_t *p = claim_pod("p", "data");
  assert_int_equal(filter_one(VB, NULL, s, p, "node-a", out, sizeof out), SCHED_UNRESOLVABLE);
  assert_string_equal(out, "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)");
  put(s->pvs, "pv-a", pv("pv-a", "manual", "node-a", "1Gi", "data"));
  assert_int_equal(filter_one(VB, NULL, s, p, "node-a", out, sizeof out), SCHED_SUCCESS);
  assert_int_equal(filter_one(VB, NULL, s, p, "node-b", out, sizeof out), SCHED_UNRESOLVABLE);
  assert_string_equal(out, "node(s) had volume node affinity conflict");
  json_decref(p);
  sched_snapshot_free(s);
}

static void test_delay_binding(void **state)
{
  struct sched_snapshot *s = three_nodes();
  char out[512];
  /* A class that provisions: every node. */
  put(s->pvcs, "default/dyn", pvc("dyn", "local-path", NULL, false, NULL));
  json_t *p = claim_pod("p", "dyn");
  assert_int_equal(filter_one(VB, NULL, s, p, "node-b", out, sizeof out), SCHED_SUCCESS);
  /* ...unless the class's allowed topologies leave the node out. */
  kj_set(
      json_object_get(s->classes, "local-path"), "allowedTopologies",
      json_pack("[{s:[{s:s,s:[s]}]}]", "matchLabelExpressions", "key", "topology.kubernetes.io/zone", "values", "z1"));
  assert_int_equal(filter_one(VB, NULL, s, p, "node-b", out, sizeof out), SCHED_UNRESOLVABLE);
  assert_string_equal(out, "node(s) didn't find available persistent volumes to bind");
  assert_int_equal(filter_one(VB, NULL, s, p, "node-a", out, sizeof out), SCHED_SUCCESS);
  /* Handed to a provisioner for node-c already: only node-c. */
  kj_set_str(json_object_get(s->pvcs, "default/dyn"), "metadata.annotations[\"volume.kubernetes.io/selected-node\"]",
             "node-c");
  assert_int_equal(filter_one(VB, NULL, s, p, "node-a", out, sizeof out), SCHED_UNRESOLVABLE);
  json_object_del(json_object_get(s->classes, "local-path"), "allowedTopologies");
  assert_int_equal(filter_one(VB, NULL, s, p, "node-c", out, sizeof out), SCHED_SUCCESS);
  json_decref(p);

  /* No provisioner: only nodes with a matching Available volume. */
  put(s->pvcs, "default/man", pvc("man", "manual", NULL, false, NULL));
  put(s->pvs, "small-b", pv("small-b", "manual", "node-b", "500Mi", NULL));
  put(s->pvs, "big-b", pv("big-b", "manual", "node-b", "5Gi", NULL));
  p = claim_pod("q", "man");
  assert_int_equal(filter_one(VB, NULL, s, p, "node-a", out, sizeof out), SCHED_UNRESOLVABLE);
  assert_string_equal(out, "node(s) didn't find available persistent volumes to bind");
  assert_int_equal(filter_one(VB, NULL, s, p, "node-b", out, sizeof out), SCHED_SUCCESS);
  json_decref(p);
  sched_snapshot_free(s);
}

/* Reserve assumes the binding, so the next pod cannot take the same
 * volume; Unreserve gives it back. */
static void test_reserve_assumes(void **state)
{
  struct sched_snapshot *s = three_nodes();
  put(s->pvcs, "default/c1", pvc("c1", "manual", NULL, false, NULL));
  put(s->pvcs, "default/c2", pvc("c2", "manual", NULL, false, NULL));
  put(s->pvs, "only", pv("only", "manual", "node-b", "1Gi", NULL));
  json_t *p1 = claim_pod("p1", "c1"), *p2 = claim_pod("p2", "c2");
  struct plugin_run r;
  struct sched_status st = {0};
  run_init(&r, VB, NULL, s, p1);
  assert_int_equal(r.p->pre_filter(r.self, &r.c, &st), SCHED_SUCCESS);
  assert_int_equal(r.p->filter(r.self, &r.c, sched_snapshot_node(s, "node-b"), &st), SCHED_SUCCESS);
  struct vb_binding *b = r.p->reserve(r.self, &r.c, "node-b", &st);
  assert_non_null(b);
  assert_int_equal(json_array_size(b->bindings), 1);
  const json_t *newpv = json_array_get(json_array_get(b->bindings, 0), 1);
  assert_string_equal(kj_get_str(newpv, "spec.claimRef.name"), "c1");
  assert_string_equal(kj_get_str(newpv, "metadata.annotations[\"pv.kubernetes.io/bound-by-controller\"]"), "yes");
  assert_string_equal(kj_get_str(vb_get_pv(r.self, s, "only"), "spec.claimRef.name"), "c1");
  /* The second pod, same plugin instance: the volume is taken. */
  struct sched_cycle c2 = {.snap = s, .pod = p2};
  struct sched_status st2 = {0};
  assert_int_equal(r.p->pre_filter(r.self, &c2, &st2), SCHED_SUCCESS);
  assert_int_equal(r.p->filter(r.self, &c2, sched_snapshot_node(s, "node-b"), &st2), SCHED_UNRESOLVABLE);
  assert_string_equal(st2.reasons[0], "node(s) didn't find available persistent volumes to bind");
  sched_status_reset(&st2);
  /* Unreserve: free again. */
  r.p->unreserve(r.self, b);
  r.p->state_free(b);
  assert_null(kj_get(vb_get_pv(r.self, s, "only"), "spec.claimRef"));
  if (c2.state[0]) c2.state_free[0](c2.state[0]);
  c2.state[0] = NULL;
  assert_int_equal(r.p->pre_filter(r.self, &c2, &st2), SCHED_SUCCESS);
  assert_int_equal(r.p->filter(r.self, &c2, sched_snapshot_node(s, "node-b"), &st2), SCHED_SUCCESS);
  if (c2.state[0]) c2.state_free[0](c2.state[0]);
  /* The informer moving past the assumption ends it too. */
  b = r.p->reserve(r.self, &r.c, "node-b", &st);
  json_t *later = pv("only", "manual", "node-b", "1Gi", "someone");
  kj_set_str(later, "metadata.resourceVersion", "21");
  put(s->pvs, "only", later);
  assert_string_equal(kj_get_str(vb_get_pv(r.self, s, "only"), "spec.claimRef.name"), "someone");
  r.p->state_free(b);
  run_done(&r);
  json_decref(p1);
  json_decref(p2);
  sched_snapshot_free(s);
}

static void test_check_bindings(void **state)
{
  struct sched_snapshot *s = three_nodes();
  char err[512];
  json_t *want = pvc("dyn", "local-path", NULL, false, NULL);
  kj_set_str(want, "metadata.annotations[\"volume.kubernetes.io/selected-node\"]", "node-a");
  kj_set_str(want, "metadata.resourceVersion", "30");
  struct vb_binding b = {json_array(), json_pack("[O]", want)};
  put(s->pvcs, "default/dyn", pvc("dyn", "local-path", NULL, false, NULL)); /* rv 10: our write not seen yet */
  assert_int_equal(vb_check_bindings(s, &b, "node-a", err, sizeof err), 0);
  json_t *seen = kj_deep_copy(want);
  kj_set_str(seen, "metadata.resourceVersion", "31");
  put(s->pvcs, "default/dyn", json_incref(seen));
  assert_int_equal(vb_check_bindings(s, &b, "node-a", err, sizeof err), 0); /* not bound yet */
  /* The provisioner gave the node back. */
  json_t *back = kj_deep_copy(seen);
  json_object_del(kj_get(back, "metadata.annotations"), "volume.kubernetes.io/selected-node");
  kj_set_str(back, "metadata.resourceVersion", "32");
  put(s->pvcs, "default/dyn", back);
  assert_int_equal(vb_check_bindings(s, &b, "node-a", err, sizeof err), -1);
  assert_string_equal(err, "provisioning failed for PVC \"dyn\"");
  /* Bound to a volume on the node: done. */
  json_t *done = kj_deep_copy(seen);
  kj_set_str(done, "metadata.resourceVersion", "33");
  kj_set_str(done, "spec.volumeName", "pvc-dyn");
  kj_set_str(done, "metadata.annotations[\"pv.kubernetes.io/bind-completed\"]", "yes");
  put(s->pvcs, "default/dyn", done);
  assert_int_equal(vb_check_bindings(s, &b, "node-a", err, sizeof err), 0); /* volume not in the cache yet */
  put(s->pvs, "pvc-dyn", pv("pvc-dyn", "local-path", "node-b", "1Gi", "dyn"));
  assert_int_equal(vb_check_bindings(s, &b, "node-a", err, sizeof err), -1);
  assert_string_equal(err, "pv \"pvc-dyn\" node affinity doesn't match node \"node-a\": no matching NodeSelectorTerms");
  put(s->pvs, "pvc-dyn", pv("pvc-dyn", "local-path", "node-a", "1Gi", "dyn"));
  assert_int_equal(vb_check_bindings(s, &b, "node-a", err, sizeof err), 1);
  json_decref(b.bindings);
  json_decref(b.provisions);
  json_decref(want);
  json_decref(seen);
  sched_snapshot_free(s);
}

static void test_volume_restrictions(void **state)
{
  struct sched_snapshot *s = three_nodes();
  char out[512];
  put(s->pvcs, "default/solo", pvc("solo", "manual", "pv-s", true, "ReadWriteOncePod"));
  json_t *p = claim_pod("p", "solo");
  assert_int_equal(filter_one(&sched_plugin_volume_restrictions, NULL, s, p, "node-a", out, sizeof out), SCHED_SUCCESS);
  add_pod_on(s, claim_pod("holder", "solo"), "node-b");
  assert_int_equal(filter_one(&sched_plugin_volume_restrictions, NULL, s, p, "node-a", out, sizeof out),
                   SCHED_UNRESOLVABLE);
  assert_string_equal(out,
                      "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode");
  sched_snapshot_remove_pod(s, "default", "holder", "node-b");
  assert_int_equal(filter_one(&sched_plugin_volume_restrictions, NULL, s, p, "node-a", out, sizeof out), SCHED_SUCCESS);
  json_decref(p);
  /* A GCE disk used read-write on node-b. */
  add_pod_on(s,
             mk_pod("{\"metadata\":{\"name\":\"db\"},\"spec\":{\"volumes\":[{\"name\":\"d\",\"gcePersistentDisk\":{"
                    "\"pdName\":\"disk1\"}}]}}"),
             "node-b");
  p = mk_pod(
      "{\"spec\":{\"volumes\":[{\"name\":\"d\",\"gcePersistentDisk\":{\"pdName\":\"disk1\",\"readOnly\":true}}]}}");
  assert_int_equal(filter_one(&sched_plugin_volume_restrictions, NULL, s, p, "node-b", out, sizeof out),
                   SCHED_UNSCHEDULABLE);
  assert_string_equal(out, "node(s) had no available disk");
  assert_int_equal(filter_one(&sched_plugin_volume_restrictions, NULL, s, p, "node-a", out, sizeof out), SCHED_SUCCESS);
  json_decref(p);
  sched_snapshot_free(s);
}

static void test_volume_zone(void **state)
{
  struct sched_snapshot *s = three_nodes();
  char out[512];
  put(s->pvcs, "default/z", pvc("z", "manual", "pv-z", true, NULL));
  json_t *v = pv("pv-z", "manual", NULL, "1Gi", "z");
  kj_set_str(v, "metadata.labels[\"topology.kubernetes.io/zone\"]", "z1__z2");
  put(s->pvs, "pv-z", v);
  json_t *p = claim_pod("p", "z");
  assert_int_equal(filter_one(&sched_plugin_volume_zone, NULL, s, p, "node-a", out, sizeof out), SCHED_SUCCESS);
  assert_int_equal(filter_one(&sched_plugin_volume_zone, NULL, s, p, "node-b", out, sizeof out), SCHED_SUCCESS);
  assert_int_equal(filter_one(&sched_plugin_volume_zone, NULL, s, p, "node-c", out, sizeof out), SCHED_UNRESOLVABLE);
  assert_string_equal(out, "node(s) had no available volume zone");
  json_t *nz = mk_node("plain", "4", "8Gi", 110, NULL);
  json_object_del(kj_get(nz, "metadata.labels"), "topology.kubernetes.io/zone");
  sched_snapshot_set_node(s, nz);
  json_decref(nz);
  assert_int_equal(filter_one(&sched_plugin_volume_zone, NULL, s, p, "plain", out, sizeof out), SCHED_SUCCESS);
  json_decref(p);
  /* An unbound claim of an Immediate class. */
  put(s->pvcs, "default/imm", pvc("imm", "fast", NULL, false, NULL));
  p = claim_pod("q", "imm");
  assert_int_equal(filter_one(&sched_plugin_volume_zone, NULL, s, p, "node-a", out, sizeof out), SCHED_UNRESOLVABLE);
  assert_string_equal(out, "PersistentVolume had no name");
  json_decref(p);
  sched_snapshot_free(s);
}

static void test_node_volume_limits(void **state)
{
  struct sched_snapshot *s = three_nodes();
  char out[512];
  json_t *lim = mk_node("limited", "4", "8Gi", 110,
                        "{\"status\":{\"allocatable\":{\"attachable-volumes-csi-ebs.csi.aws.com\":\"1\"}}}");
  sched_snapshot_set_node(s, lim);
  json_decref(lim);
  for (int i = 0; i < 2; i++) {
    char n[16], v[16], k[32];
    snprintf(n, sizeof n, "e%d", i);
    snprintf(v, sizeof v, "vol-%d", i);
    snprintf(k, sizeof k, "default/%s", n);
    put(s->pvcs, k, pvc(n, "ebs", v, true, NULL));
    json_t *x = pv(v, "ebs", NULL, "1Gi", n);
    json_object_del(json_object_get(x, "spec"), "local");
    kj_set(x, "spec.csi", json_pack("{s:s,s:s}", "driver", "ebs.csi.aws.com", "volumeHandle", v));
    put(s->pvs, v, x);
  }
  add_pod_on(s, claim_pod("first", "e0"), "limited");
  json_t *p = claim_pod("second", "e1");
  assert_int_equal(filter_one(&sched_plugin_node_volume_limits, NULL, s, p, "limited", out, sizeof out),
                   SCHED_UNSCHEDULABLE);
  assert_string_equal(out, "node(s) exceed max volume count");
  assert_int_equal(filter_one(&sched_plugin_node_volume_limits, NULL, s, p, "node-a", out, sizeof out), SCHED_SUCCESS);
  json_decref(p);
  /* The same volume again does not count twice. */
  p = claim_pod("again", "e0");
  assert_int_equal(filter_one(&sched_plugin_node_volume_limits, NULL, s, p, "limited", out, sizeof out), SCHED_SUCCESS);
  json_decref(p);
  sched_snapshot_free(s);
}

static void test_transform_keeps_claims(void **state)
{
  json_t *p =
      mk_pod("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"volumes\":[{\"name\":\"cfg\",\"configMap\":{\"name\":\"c\"}},"
             "{\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"data\",\"readOnly\":true}},"
             "{\"name\":\"e\",\"ephemeral\":{\"volumeClaimTemplate\":{\"spec\":{}}}},"
             "{\"name\":\"k\",\"projected\":{\"sources\":[]}}]}}");
  sched_pod_transform(NULL, p);
  json_t *v = kj_get(p, "spec.volumes");
  assert_int_equal(json_array_size(v), 2);
  assert_string_equal(kj_get_str(v, "[0].persistentVolumeClaim.claimName"), "data");
  assert_int_equal(json_object_size(kj_get(v, "[1].ephemeral")), 0);
  json_decref(p);
  p = mk_pod("{\"spec\":{\"volumes\":[{\"name\":\"cfg\",\"configMap\":{\"name\":\"c\"}}]}}");
  sched_pod_transform(NULL, p);
  assert_null(kj_get(p, "spec.volumes"));
  json_decref(p);
}

/* Whole cycles through the default profile. */
static void test_cycles(void **state)
{
  char err[256];
  struct sched_config *cfg = sched_config_parse(NULL, err, sizeof err);
  struct sched_profile *prof = sched_config_profile(cfg, NULL);
  struct sched_snapshot *s = three_nodes();
  struct sched_result r;
  /* No claims: placed, no binding state. */
  json_t *p = mk_req_pod("plain", "100m", NULL);
  assert_int_equal(sched_schedule_one(prof, s, p, &r), 0);
  assert_null(r.binding);
  sched_result_clear(&r);
  json_decref(p);
  /* A claim bound to node-c's local volume: node-c, whatever the scores. */
  put(s->pvcs, "default/data", pvc("data", "manual", "pv-c", true, NULL));
  put(s->pvs, "pv-c", pv("pv-c", "manual", "node-c", "1Gi", "data"));
  p = claim_pod("web", "data");
  for (int i = 0; i < 5; i++) {
    assert_int_equal(sched_schedule_one(prof, s, p, &r), 0);
    assert_string_equal(r.node_name, "node-c");
    assert_null(r.binding); /* bound already: nothing for PreBind */
    sched_result_clear(&r);
  }
  /* node-c gone: the upstream FitError. */
  sched_snapshot_remove_node(s, "node-c");
  assert_int_equal(sched_schedule_one(prof, s, p, &r), -ENOSPC);
  assert_string_equal(r.message,
                      "0/2 nodes are available: 2 node(s) had volume node affinity conflict. preemption: 0/2 "
                      "nodes are available: 2 Preemption is not helpful for scheduling..");
  sched_result_clear(&r);
  json_decref(p);
  /* A claim to provision: placed, with PreBind work and the node chosen. */
  put(s->pvcs, "default/dyn", pvc("dyn", "local-path", NULL, false, NULL));
  p = claim_pod("db", "dyn");
  assert_int_equal(sched_schedule_one(prof, s, p, &r), 0);
  assert_non_null(r.binding);
  struct vb_binding *b = NULL;
  for (int i = 0; i < prof->nplugins; i++)
    if (r.binding->state[i]) b = r.binding->state[i];
  assert_non_null(b);
  assert_string_equal(
      kj_get_str(json_array_get(b->provisions, 0), "metadata.annotations[\"volume.kubernetes.io/selected-node\"]"),
      r.node_name);
  sched_result_clear(&r); /* unreserves */
  json_decref(p);
  /* An unbound Immediate claim. */
  put(s->pvcs, "default/imm", pvc("imm", "fast", NULL, false, NULL));
  p = claim_pod("late", "imm");
  assert_int_equal(sched_schedule_one(prof, s, p, &r), -ENOSPC);
  assert_string_equal(r.message,
                      "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: "
                      "0/2 nodes are available: 2 Preemption is not helpful for scheduling..");
  sched_result_clear(&r);
  json_decref(p);
  sched_snapshot_free(s);
  sched_config_free(cfg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prefilter_reasons),
      cmocka_unit_test(test_bound_volume_affinity),
      cmocka_unit_test(test_delay_binding),
      cmocka_unit_test(test_reserve_assumes),
      cmocka_unit_test(test_check_bindings),
      cmocka_unit_test(test_volume_restrictions),
      cmocka_unit_test(test_volume_zone),
      cmocka_unit_test(test_node_volume_limits),
      cmocka_unit_test(test_transform_keeps_claims),
      cmocka_unit_test(test_cycles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
