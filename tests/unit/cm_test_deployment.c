/*
 * cm_test_deployment.c - the Deployment controller: maxSurge /
 * maxUnavailable resolution, the template hash and template equality, and
 * the writes one sync issues for creation, rolling updates, restarts,
 * proportional scaling, Recreate, cleanup and the Progressing condition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "controller_utils.h"
#include "controllers/deployment.h"
#include "kube/json.h"

#define NOW 1700000000

static void test_fenceposts(void **state)
{
  static const struct {
    const char *surge, *unavail; /* JSON values */
    int64_t desired, want_surge, want_unavail;
  } cases[] = {
      {"\"25%\"", "\"25%\"", 10, 3, 2}, /* surge rounds up, unavailable down */
      {"\"25%\"", "\"25%\"", 3, 1, 0},
      {"\"25%\"", "\"25%\"", 1, 1, 0},
      {"0", "0", 5, 0, 1}, /* both zero: unavailable becomes 1 */
      {"\"0%\"", "\"0%\"", 5, 0, 1},
      {"\"0%\"", "\"10%\"", 5, 0, 1}, /* 0.5 rounds down to 0, then the fencepost */
      {"1", "0", 3, 1, 0},
      {"\"100%\"", "\"100%\"", 4, 4, 4},
      {"\"50%\"", "\"50%\"", 5, 3, 2},
      {"2", "\"30%\"", 10, 2, 3},
      {"\"1%\"", "0", 0, 0, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *s = json_loads(cases[i].surge, JSON_DECODE_ANY, NULL);
    json_t *u = json_loads(cases[i].unavail, JSON_DECODE_ANY, NULL);
    int64_t gs = -1, gu = -1;
    assert_int_equal(dep_resolve_fenceposts(s, u, cases[i].desired, &gs, &gu), 0);
    if (gs != cases[i].want_surge || gu != cases[i].want_unavail)
      fail_msg("case %zu: surge %lld unavailable %lld", i, (long long)gs, (long long)gu);
    json_decref(s);
    json_decref(u);
  }
  json_t *bad = json_string("abc%");
  json_t *zero = json_integer(0);
  int64_t a, b;
  assert_int_not_equal(dep_resolve_fenceposts(bad, zero, 3, &a, &b), 0);
  json_decref(bad);
  json_decref(zero);
}

static json_t *template_(const char *image)
{
  return json_pack("{s:{s:{s:s}},s:{s:[{s:s,s:s}]}}", "metadata", "labels", "app", "web", "spec", "containers", "name",
                   "c", "image", image);
}

static void test_hash(void **state)
{
  json_t *a = template_("nginx:1");
  json_t *b = json_loads("{\"spec\":{\"containers\":[{\"image\":\"nginx:1\",\"name\":\"c\"}]},"
                         "\"metadata\":{\"labels\":{\"app\":\"web\"}}}",
                         0, NULL);
  char h1[16], h2[16], h3[16], h4[16];
  dep_compute_hash(a, -1, h1);
  dep_compute_hash(b, -1, h2);
  assert_string_equal(h1, h2); /* key order does not matter */
  assert_true(strlen(h1) >= 1 && strlen(h1) <= 10);
  for (const char *p = h1; *p; p++) assert_non_null(strchr("bcdfghjklmnpqrstvwxz2456789", *p));
  dep_compute_hash(a, 1, h3);
  assert_string_not_equal(h1, h3); /* collisionCount changes it */
  json_t *c = template_("nginx:2");
  dep_compute_hash(c, -1, h4);
  assert_string_not_equal(h1, h4);
  /* Stable across runs and builds: a fixed value. */
  char again[16];
  assert_string_equal(dep_compute_hash(a, -1, again), h1);
  json_decref(a);
  json_decref(b);
  json_decref(c);
}

static void test_template_equal_ignores_hash(void **state)
{
  json_t *a = template_("nginx:1"), *b = template_("nginx:1");
  kj_set_str(b, "metadata.labels[\"pod-template-hash\"]", "abc");
  assert_true(dep_templates_equal(a, b));
  /* What typed clients add (kubectl rollout undo) changes nothing. */
  kj_set(b, "metadata.creationTimestamp", json_null());
  kj_set(b, "spec.containers[0].resources", json_object());
  kj_set(b, "spec.volumes", json_array());
  assert_true(dep_templates_equal(a, b));
  char h1[16], h2[16];
  kj_del(b, "metadata.labels[\"pod-template-hash\"]");
  assert_string_equal(dep_compute_hash(a, -1, h1), dep_compute_hash(b, -1, h2));
  kj_set_str(b, "metadata.annotations[\"kubectl.kubernetes.io/restartedAt\"]", "now");
  assert_false(dep_templates_equal(a, b));
  kj_del(b, "metadata.annotations");
  kj_set_int(b, "spec.containers[0].resources.limits.cpu", 1);
  assert_false(dep_templates_equal(a, b));
  json_decref(a);
  json_decref(b);
}

static json_t *deployment(int replicas, const char *image)
{
  json_t *d = json_pack("{s:{s:s,s:s,s:s,s:i},s:{s:i,s:{s:{s:s}},s:o,s:{s:s,s:{s:s,s:s}}},s:{}}", "metadata", "name",
                        "web", "namespace", "ns", "uid", "d-uid", "generation", 1, "spec", "replicas", replicas,
                        "selector", "matchLabels", "app", "web", "template", template_(image), "strategy", "type",
                        "RollingUpdate", "rollingUpdate", "maxSurge", "25%", "maxUnavailable", "25%", "status");
  return d;
}

/* A ReplicaSet owned by the deployment for image, with replicas all available. */
static json_t *owned_rs(const json_t *d, const char *image, int replicas, int available, int revision,
                        const char *created)
{
  json_t *t = template_(image);
  char hash[16], name[64];
  dep_compute_hash(t, -1, hash);
  snprintf(name, sizeof name, "web-%s", hash);
  kj_set_str(t, "metadata.labels[\"pod-template-hash\"]", hash);
  char rev[16];
  snprintf(rev, sizeof rev, "%d", revision);
  json_t *rs = json_pack("{s:{s:s,s:s,s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s}},s:{s:i,s:{s:{s:s,s:s}},s:o},"
                         "s:{s:i,s:i,s:i,s:i}}",
                         "metadata", "name", name, "namespace", "ns", "uid", name, "creationTimestamp", created,
                         "labels", "app", "web", "pod-template-hash", hash, "annotations",
                         "deployment.kubernetes.io/revision", rev, "deployment.kubernetes.io/desired-replicas", "3",
                         "deployment.kubernetes.io/max-replicas", "4", "spec", "replicas", replicas, "selector",
                         "matchLabels", "app", "web", "pod-template-hash", hash, "template", t, "status", "replicas",
                         replicas, "readyReplicas", available, "availableReplicas", available, "observedGeneration", 1);
  char desired[16];
  snprintf(desired, sizeof desired, "%lld", (long long)kj_get_int(d, "spec.replicas", 1));
  kj_set_str(rs, "metadata.annotations[\"deployment.kubernetes.io/desired-replicas\"]", desired);
  kj_set(rs, "metadata.ownerReferences",
         json_pack("[{s:s,s:s,s:s,s:s,s:b}]", "apiVersion", "apps/v1", "kind", "Deployment", "name", "web", "uid",
                   kj_get_str(d, "metadata.uid"), "controller", 1));
  return rs;
}

/* The lookup answers with a foreign ReplicaSet holding the name. */
static json_t *foreign_rs(void *arg, const char *ns, const char *name)
{
  int *calls = arg;
  (*calls)++;
  return json_pack("{s:{s:s,s:s}}", "metadata", "name", name, "namespace", ns);
}

/* A name taken outside the given ReplicaSets (found through the lookup,
 * asked only when a new ReplicaSet is due) bumps collisionCount and
 * creates nothing. */
static void test_hash_collision_through_lookup(void **state)
{
  json_t *d = deployment(3, "nginx:1");
  json_t *rss = json_array(), *pods = json_array();
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue;
  int calls = 0;
  dep_compute(d, rss, pods, foreign_rs, &calls, NOW, &acts, &requeue);
  assert_int_equal(calls, 1);
  assert_null(cm_actions_find(&acts, CM_POST, "/apis/apps/v1/namespaces/ns/replicasets"));
  struct cm_action *st = cm_actions_find(&acts, CM_PUT, "/apis/apps/v1/namespaces/ns/deployments/web/status");
  assert_non_null(st);
  assert_int_equal(kj_get_int(st->body, "status.collisionCount", -1), 1);
  cm_actions_clear(&acts);
  json_decref(d);
  json_decref(rss);
  json_decref(pods);
}

static void test_new_deployment_creates_rs(void **state)
{
  json_t *d = deployment(3, "nginx:1");
  json_t *rss = json_array(), *pods = json_array();
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue;
  dep_compute(d, rss, pods, NULL, NULL, NOW, &acts, &requeue);
  struct cm_action *post = cm_actions_find(&acts, CM_POST, "/apis/apps/v1/namespaces/ns/replicasets");
  assert_non_null(post);
  json_t *rs = post->body;
  char hash[16], name[64];
  dep_compute_hash(kj_get(d, "spec.template"), -1, hash);
  snprintf(name, sizeof name, "web-%s", hash);
  assert_string_equal(kj_get_str(rs, "metadata.name"), name);
  assert_int_equal(kj_get_int(rs, "spec.replicas", -1), 3);
  assert_string_equal(kj_get_str(rs, "spec.selector.matchLabels[\"pod-template-hash\"]"), hash);
  assert_string_equal(kj_get_str(rs, "spec.template.metadata.labels[\"pod-template-hash\"]"), hash);
  assert_string_equal(kj_get_str(rs, "metadata.annotations[\"deployment.kubernetes.io/revision\"]"), "1");
  assert_string_equal(kj_get_str(rs, "metadata.annotations[\"deployment.kubernetes.io/desired-replicas\"]"), "3");
  assert_string_equal(kj_get_str(rs, "metadata.annotations[\"deployment.kubernetes.io/max-replicas\"]"), "4");
  assert_string_equal(kj_get_str(rs, "metadata.ownerReferences[0].kind"), "Deployment");
  assert_non_null(strstr(post->ok_message, "Scaled up replica set web-"));
  struct cm_action *st = cm_actions_find(&acts, CM_PUT, "/apis/apps/v1/namespaces/ns/deployments/web/status");
  assert_non_null(st);
  json_t *body = st->body;
  assert_string_equal(kj_get_str(body, "metadata.annotations[\"deployment.kubernetes.io/revision\"]"), "1");
  json_t *prog = cm_get_condition(body, "status.conditions", "Progressing");
  assert_non_null(prog);
  assert_string_equal(kj_get_str(prog, "reason"), "NewReplicaSetCreated");
  json_t *av = cm_get_condition(body, "status.conditions", "Available");
  assert_string_equal(kj_get_str(av, "reason"), "MinimumReplicasUnavailable");
  cm_actions_clear(&acts);

  /* After a restart with the RS in the cache and all available: nothing to roll. */
  json_array_append_new(rss, owned_rs(d, "nginx:1", 3, 3, 1, "2023-11-14T00:00:00Z"));
  cm_actions_init(&acts);
  dep_compute(d, rss, pods, NULL, NULL, NOW, &acts, &requeue);
  assert_null(cm_actions_find(&acts, CM_POST, "/apis/apps/v1/namespaces/ns/replicasets"));
  assert_null(cm_actions_find(&acts, CM_PUT, "/apis/apps/v1/namespaces/ns/replicasets"));
  st = cm_actions_find(&acts, CM_PUT, "/apis/apps/v1/namespaces/ns/deployments/web/status");
  assert_non_null(st);
  body = st->body;
  assert_int_equal(kj_get_int(body, "status.availableReplicas", -1), 3);
  assert_int_equal(kj_get_int(body, "status.updatedReplicas", -1), 3);
  assert_string_equal(kj_get_str(cm_get_condition(body, "status.conditions", "Progressing"), "reason"),
                      "NewReplicaSetAvailable");
  assert_string_equal(kj_get_str(cm_get_condition(body, "status.conditions", "Available"), "reason"),
                      "MinimumReplicasAvailable");
  cm_actions_clear(&acts);
  json_decref(rss);
  json_decref(pods);
  json_decref(d);
}

static void test_rolling_update_steps(void **state)
{
  /* 3 replicas, 25%/25%: surge 1, unavailable 0. */
  json_t *d = deployment(3, "nginx:2");
  json_t *rss = json_array(), *pods = json_array();
  json_t *old = owned_rs(d, "nginx:1", 3, 3, 1, "2023-11-14T00:00:00Z");
  json_array_append(rss, old);
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue;
  dep_compute(d, rss, pods, NULL, NULL, NOW, &acts, &requeue);
  struct cm_action *post = cm_actions_find(&acts, CM_POST, "/apis/apps/v1/namespaces/ns/replicasets");
  assert_non_null(post);
  assert_int_equal(kj_get_int(post->body, "spec.replicas", -1), 1);
  assert_string_equal(kj_get_str(post->body, "metadata.annotations[\"deployment.kubernetes.io/revision\"]"), "2");
  /* The old one is not scaled down yet: the new pod is not available. */
  assert_int_equal(cm_actions_count(&acts, CM_PUT, "/apis/apps/v1/namespaces/ns/replicasets/"), 0);
  cm_actions_clear(&acts);

  /* New RS has its 1 pod available: old goes 3 -> 2. */
  json_t *nrs = owned_rs(d, "nginx:2", 1, 1, 2, "2023-11-14T01:00:00Z");
  json_array_append(rss, nrs);
  cm_actions_init(&acts);
  dep_compute(d, rss, pods, NULL, NULL, NOW, &acts, &requeue);
  char oldpath[128];
  snprintf(oldpath, sizeof oldpath, "/apis/apps/v1/namespaces/ns/replicasets/%s", kj_get_str(old, "metadata.name"));
  struct cm_action *put = cm_actions_find(&acts, CM_PUT, oldpath);
  assert_non_null(put);
  assert_int_equal(kj_get_int(put->body, "spec.replicas", -1), 2);
  char want[200];
  snprintf(want, sizeof want, "Scaled down replica set %s to 2 from 3", kj_get_str(old, "metadata.name"));
  assert_string_equal(put->ok_message, want);
  cm_actions_clear(&acts);

  /* Then the new one grows to 2 (total 2 + 2 = 4 = 3 + surge). */
  kj_set_int(old, "spec.replicas", 2);
  kj_set_int(old, "status.replicas", 2);
  kj_set_int(old, "status.availableReplicas", 2);
  cm_actions_init(&acts);
  dep_compute(d, rss, pods, NULL, NULL, NOW, &acts, &requeue);
  char newpath[128];
  snprintf(newpath, sizeof newpath, "/apis/apps/v1/namespaces/ns/replicasets/%s", kj_get_str(nrs, "metadata.name"));
  put = cm_actions_find(&acts, CM_PUT, newpath);
  assert_non_null(put);
  assert_int_equal(kj_get_int(put->body, "spec.replicas", -1), 2);
  cm_actions_clear(&acts);
  json_decref(old);
  json_decref(nrs);
  json_decref(rss);
  json_decref(pods);
  json_decref(d);
}

/* Rolling scale-down counts the availability of the new ReplicaSet and of
 * the old ones that still have replicas (upstream
 * scaleDownOldReplicaSetsForRollingUpdate over oldRSs + newRS): an old
 * ReplicaSet just scaled to zero whose status still reports its pods as
 * available must not make room for more scale-down than the live pods
 * allow. */
static void test_rolling_scale_down_ignores_drained_rs(void **state)
{
  /* 4 replicas, maxSurge 0, maxUnavailable 1: at least 3 available. */
  json_t *d = deployment(4, "nginx:3");
  kj_set(d, "spec.strategy.rollingUpdate", json_pack("{s:i,s:i}", "maxSurge", 0, "maxUnavailable", 1));
  json_t *rss = json_array(), *pods = json_array();
  json_t *drained = owned_rs(d, "nginx:1", 0, 4, 1, "2023-11-14T00:00:00Z"); /* stale: 4 available */
  json_t *old = owned_rs(d, "nginx:2", 2, 2, 2, "2023-11-14T01:00:00Z");
  json_t *nrs = owned_rs(d, "nginx:3", 2, 2, 3, "2023-11-14T02:00:00Z");
  json_array_append(rss, drained);
  json_array_append(rss, old);
  json_array_append(rss, nrs);
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue;
  dep_compute(d, rss, pods, NULL, NULL, NOW, &acts, &requeue);
  /* Available: 2 (old) + 2 (new) = 4, minimum 3: one old replica may go. */
  char p[128];
  snprintf(p, sizeof p, "/apis/apps/v1/namespaces/ns/replicasets/%s", kj_get_str(old, "metadata.name"));
  struct cm_action *put = cm_actions_find(&acts, CM_PUT, p);
  assert_non_null(put);
  assert_int_equal(kj_get_int(put->body, "spec.replicas", -1), 1);
  snprintf(p, sizeof p, "/apis/apps/v1/namespaces/ns/replicasets/%s", kj_get_str(drained, "metadata.name"));
  assert_null(cm_actions_find(&acts, CM_PUT, p));
  cm_actions_clear(&acts);
  json_decref(drained);
  json_decref(old);
  json_decref(nrs);
  json_decref(rss);
  json_decref(pods);
  json_decref(d);
}

static void test_proportional_scaling(void **state)
{
  /* Mid-rollout (10 replicas, surge 3): old 8, new 5; scale to 20. */
  json_t *d = deployment(20, "nginx:2");
  json_t *rss = json_array(), *pods = json_array();
  json_t *old = owned_rs(d, "nginx:1", 8, 8, 1, "2023-11-14T00:00:00Z");
  json_t *nrs = owned_rs(d, "nginx:2", 5, 0, 2, "2023-11-14T01:00:00Z");
  const char *anns[] = {"deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas"};
  for (int i = 0; i < 2; i++) {
    char p[128];
    snprintf(p, sizeof p, "metadata.annotations[\"%s\"]", anns[i]);
    kj_set_str(old, p, i ? "13" : "10");
    kj_set_str(nrs, p, i ? "13" : "10");
  }
  json_array_append(rss, old);
  json_array_append(rss, nrs);
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue;
  dep_compute(d, rss, pods, NULL, NULL, NOW, &acts, &requeue);
  /* allowed 20 + 5 = 25; to add 12: old 8*25/13 = 15.38 -> +7, new 5*25/13 = 9.6 -> +5. */
  char p[128];
  snprintf(p, sizeof p, "/apis/apps/v1/namespaces/ns/replicasets/%s", kj_get_str(old, "metadata.name"));
  struct cm_action *po = cm_actions_find(&acts, CM_PUT, p);
  snprintf(p, sizeof p, "/apis/apps/v1/namespaces/ns/replicasets/%s", kj_get_str(nrs, "metadata.name"));
  struct cm_action *pn = cm_actions_find(&acts, CM_PUT, p);
  assert_non_null(po);
  assert_non_null(pn);
  assert_int_equal(kj_get_int(po->body, "spec.replicas", -1) + kj_get_int(pn->body, "spec.replicas", -1), 25);
  assert_int_equal(kj_get_int(po->body, "spec.replicas", -1), 15);
  assert_int_equal(kj_get_int(pn->body, "spec.replicas", -1), 10);
  assert_string_equal(kj_get_str(po->body, "metadata.annotations[\"deployment.kubernetes.io/desired-replicas\"]"),
                      "20");
  cm_actions_clear(&acts);
  json_decref(old);
  json_decref(nrs);
  json_decref(rss);
  json_decref(pods);
  json_decref(d);
}

static void test_recreate_and_cleanup(void **state)
{
  json_t *d = deployment(2, "nginx:2");
  kj_set(d, "spec.strategy", json_pack("{s:s}", "type", "Recreate"));
  json_t *rss = json_array(), *pods = json_array();
  json_t *old = owned_rs(d, "nginx:1", 2, 2, 1, "2023-11-14T00:00:00Z");
  json_array_append(rss, old);
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue;
  dep_compute(d, rss, pods, NULL, NULL, NOW, &acts, &requeue);
  /* First the old ones go to zero, no new ReplicaSet yet. */
  assert_null(cm_actions_find(&acts, CM_POST, "/apis/apps/v1/namespaces/ns/replicasets"));
  struct cm_action *put = cm_actions_find(&acts, CM_PUT, "/apis/apps/v1/namespaces/ns/replicasets/");
  assert_non_null(put);
  assert_int_equal(kj_get_int(put->body, "spec.replicas", -1), 0);
  cm_actions_clear(&acts);
  /* Old scaled to 0 and its pods gone: the new one gets everything. */
  kj_set_int(old, "spec.replicas", 0);
  kj_set_int(old, "status.replicas", 0);
  kj_set_int(old, "status.availableReplicas", 0);
  cm_actions_init(&acts);
  dep_compute(d, rss, pods, NULL, NULL, NOW, &acts, &requeue);
  struct cm_action *post = cm_actions_find(&acts, CM_POST, "/apis/apps/v1/namespaces/ns/replicasets");
  assert_non_null(post);
  assert_int_equal(kj_get_int(post->body, "spec.replicas", -1), 2);
  cm_actions_clear(&acts);
  json_decref(old);

  /* revisionHistoryLimit 1: of three drained old ReplicaSets, the two oldest go. */
  json_t *d2 = deployment(1, "nginx:9");
  kj_set_int(d2, "spec.revisionHistoryLimit", 1);
  json_t *rss2 = json_array();
  json_array_append_new(rss2, owned_rs(d2, "nginx:1", 0, 0, 1, "2023-11-14T00:00:00Z"));
  json_array_append_new(rss2, owned_rs(d2, "nginx:2", 0, 0, 2, "2023-11-14T01:00:00Z"));
  json_array_append_new(rss2, owned_rs(d2, "nginx:3", 0, 0, 3, "2023-11-14T02:00:00Z"));
  json_array_append_new(rss2, owned_rs(d2, "nginx:9", 1, 1, 4, "2023-11-14T03:00:00Z"));
  kj_set_int(json_array_get(rss2, 3), "status.readyReplicas", 1);
  cm_actions_init(&acts);
  dep_compute(d2, rss2, pods, NULL, NULL, NOW, &acts, &requeue);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/apis/apps/v1/namespaces/ns/replicasets/"), 2);
  char p[128];
  snprintf(p, sizeof p, "/apis/apps/v1/namespaces/ns/replicasets/%s",
           kj_get_str(json_array_get(rss2, 2), "metadata.name"));
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, p), 0);
  cm_actions_clear(&acts);
  json_decref(rss2);
  json_decref(d2);
  json_decref(rss);
  json_decref(pods);
  json_decref(d);
}

static void test_progress_deadline(void **state)
{
  json_t *d = deployment(3, "nginx:2");
  kj_set_int(d, "spec.progressDeadlineSeconds", 60);
  json_t *rss = json_array(), *pods = json_array();
  json_t *old = owned_rs(d, "nginx:1", 3, 3, 1, "2023-11-14T00:00:00Z");
  json_t *nrs = owned_rs(d, "nginx:2", 1, 0, 2, "2023-11-14T01:00:00Z");
  json_array_append_new(rss, old);
  json_array_append_new(rss, nrs);
  kj_set(d, "status",
         json_pack("{s:i,s:i,s:i,s:i,s:[{s:s,s:s,s:s,s:o,s:o}]}", "replicas", 4, "updatedReplicas", 1, "readyReplicas",
                   3, "availableReplicas", 3, "conditions", "type", "Progressing", "status", "True", "reason",
                   "ReplicaSetUpdated", "lastUpdateTime", cm_time_json(NOW - 100), "lastTransitionTime",
                   cm_time_json(NOW - 100)));
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue;
  dep_compute(d, rss, pods, NULL, NULL, NOW, &acts, &requeue);
  struct cm_action *st = cm_actions_find(&acts, CM_PUT, "/apis/apps/v1/namespaces/ns/deployments/web/status");
  assert_non_null(st);
  json_t *c = cm_get_condition(st->body, "status.conditions", "Progressing");
  assert_string_equal(kj_get_str(c, "status"), "False");
  assert_string_equal(kj_get_str(c, "reason"), "ProgressDeadlineExceeded");
  cm_actions_clear(&acts);
  /* Not yet timed out: requeued for the deadline. */
  kj_set(d, "status.conditions[0].lastUpdateTime", cm_time_json(NOW - 20));
  cm_actions_init(&acts);
  dep_compute(d, rss, pods, NULL, NULL, NOW, &acts, &requeue);
  assert_true(requeue >= 40 && requeue <= 42);
  cm_actions_clear(&acts);
  json_decref(rss);
  json_decref(pods);
  json_decref(d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fenceposts),
      cmocka_unit_test(test_hash),
      cmocka_unit_test(test_template_equal_ignores_hash),
      cmocka_unit_test(test_new_deployment_creates_rs),
      cmocka_unit_test(test_hash_collision_through_lookup),
      cmocka_unit_test(test_rolling_update_steps),
      cmocka_unit_test(test_rolling_scale_down_ignores_drained_rs),
      cmocka_unit_test(test_proportional_scaling),
      cmocka_unit_test(test_recreate_and_cleanup),
      cmocka_unit_test(test_progress_deadline),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
