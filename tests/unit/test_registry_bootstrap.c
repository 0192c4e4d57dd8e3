/* Tests for registry start-up (apiserver/registry/registry.c,
 * bootstrap.c) against a real SQLite storage in a temporary directory:
 * the system namespaces, the `kubernetes` Service, Endpoints and
 * EndpointSlice and the `kube-dns` Service are created and repaired, the
 * Service allocators are rebuilt from what is stored, and the default
 * StorageClass is created once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/event.h>

#include <kube/json.h>

#include "apiserver.h"
#include "registry/reg_internal.h"
#include "registry/registry.h"
#include "storage/storage.h"

struct env {
  char dir[64];
  struct apiserver srv;
  int done_calls;
};

static void open_storage(struct env *e)
{
  struct storage_opts o = {e->dir, 0, 0};
  char err[256];
  e->srv.storage = storage_open_sqlite(e->srv.base, &o, err, sizeof(err));
  if (!e->srv.storage) fail_msg("open: %s", err);
}

static int setup(void **state)
{
  struct env *e = calloc(1, sizeof(*e));
  strcpy(e->dir, "/tmp/test_registry_boot.XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  e->srv.base = event_base_new();
  e->srv.cfg.service_cluster_ip_range = "10.96.0.0/12";
  e->srv.cfg.service_node_port_range = "30000-32767";
  e->srv.cfg.advertise_address = "192.0.2.10";
  e->srv.cfg.insecure_port = 6444;
  open_storage(e);
  *state = e;
  return 0;
}

static int teardown(void **state)
{
  struct env *e = *state;
  registry_shutdown(&e->srv);
  storage_close(e->srv.storage);
  event_base_free(e->srv.base);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
  if (system(cmd) != 0) return -1;
  free(e);
  return 0;
}

static void on_done(void *arg)
{
  struct env *e = arg;
  e->done_calls++;
}

/* Turns the loop until every queued write is committed and delivered
 * (commits may finish on the storage's own schedule), at most 5 s. */
static void run(struct env *e)
{
  for (int i = 0; i < 5000; i++) {
    event_base_loop(e->srv.base, EVLOOP_NONBLOCK);
    if (storage_idle(e->srv.storage) && i > 4) {
      for (int k = 0; k < 4; k++) event_base_loop(e->srv.base, EVLOOP_NONBLOCK);
      if (storage_idle(e->srv.storage)) return;
    }
    usleep(1000);
  }
}

static json_t *get(struct env *e, const char *key)
{
  struct kv *kv = storage_get(e->srv.storage, key);
  return kv ? kj_loadb(kv->bytes, kv->len, false, NULL, 0) : NULL;
}

/* The kube-dns Service as upstream's CoreDNS manifest has it, at ip. */
static void check_dns_service(struct env *e, const char *ip)
{
  json_t *svc = get(e, "/registry/services/specs/kube-system/kube-dns");
  assert_non_null(svc);
  assert_string_equal(kj_get_str(svc, "metadata.namespace"), "kube-system");
  assert_non_null(kj_get_str(svc, "metadata.uid"));
  assert_string_equal(kj_get_str(svc, "spec.type"), "ClusterIP");
  assert_string_equal(kj_get_str(svc, "spec.clusterIP"), ip);
  assert_string_equal(kj_get_str(svc, "spec.clusterIPs[0]"), ip);
  assert_int_equal(json_array_size(kj_get(svc, "spec.clusterIPs")), 1);
  assert_null(kj_get(svc, "spec.selector"));
  const char *labels[][2] = {
      {"k8s-app", "kube-dns"}, {"kubernetes.io/cluster-service", "true"}, {"kubernetes.io/name", "CoreDNS"}};
  json_t *lbl = kj_get(svc, "metadata.labels");
  assert_int_equal(json_object_size(lbl), 3);
  for (size_t i = 0; i < 3; i++)
    assert_string_equal(json_string_value(json_object_get(lbl, labels[i][0])), labels[i][1]);
  assert_string_equal(kj_get_str(svc, "metadata.annotations[\"prometheus.io/port\"]"), "9153");
  assert_string_equal(kj_get_str(svc, "metadata.annotations[\"prometheus.io/scrape\"]"), "true");
  struct {
    const char *name, *protocol;
    int port;
  } ports[] = {{"dns", "UDP", 53}, {"dns-tcp", "TCP", 53}, {"metrics", "TCP", 9153}};
  json_t *ps = kj_get(svc, "spec.ports");
  assert_int_equal(json_array_size(ps), 3);
  for (size_t i = 0; i < 3; i++) {
    json_t *p = json_array_get(ps, i);
    assert_string_equal(kj_get_str(p, "name"), ports[i].name);
    assert_string_equal(kj_get_str(p, "protocol"), ports[i].protocol);
    assert_int_equal(kj_get_int(p, "port", 0), ports[i].port);
    assert_int_equal(kj_get_int(p, "targetPort", 0), ports[i].port);
  }
  uint32_t a;
  reg_parse_ipv4(ip, &a);
  assert_true(svc_ip_in_use(svc_alloc_get(&e->srv), a));
  json_decref(svc);
}

static void test_creates_system_objects(void **state)
{
  struct env *e = *state;
  assert_int_equal(registry_init(&e->srv, on_done, e), 0);
  assert_int_equal(e->done_calls, 0); /* only once durable */
  run(e);
  assert_int_equal(e->done_calls, 1);

  const char *nss[] = {"default", "kube-system", "kube-public", "kube-node-lease"};
  for (size_t i = 0; i < 4; i++) {
    char key[128];
    snprintf(key, sizeof(key), "/registry/namespaces/%s", nss[i]);
    json_t *ns = get(e, key);
    assert_non_null(ns);
    assert_string_equal(kj_get_str(ns, "status.phase"), "Active");
    assert_string_equal(kj_get_str(ns, "metadata.labels[\"kubernetes.io/metadata.name\"]"), nss[i]);
    assert_non_null(kj_get_str(ns, "metadata.uid"));
    assert_non_null(kj_get_str(ns, "metadata.creationTimestamp"));
    json_decref(ns);
  }
  json_t *svc = get(e, "/registry/services/specs/default/kubernetes");
  assert_non_null(svc);
  assert_string_equal(kj_get_str(svc, "spec.clusterIP"), "10.96.0.1");
  assert_int_equal(kj_get_int(svc, "spec.ports[0].port", 0), 443);
  assert_int_equal(kj_get_int(svc, "spec.ports[0].targetPort", 0), 6444);
  assert_string_equal(kj_get_str(svc, "spec.ports[0].name"), "https");
  assert_string_equal(kj_get_str(svc, "metadata.labels.component"), "apiserver");
  assert_string_equal(kj_get_str(svc, "metadata.labels.provider"), "kubernetes");
  json_decref(svc);
  json_t *ep = get(e, "/registry/services/endpoints/default/kubernetes");
  assert_non_null(ep);
  assert_string_equal(kj_get_str(ep, "subsets[0].addresses[0].ip"), "192.0.2.10");
  assert_int_equal(kj_get_int(ep, "subsets[0].ports[0].port", 0), 6444);
  json_decref(ep);
  json_t *eps = get(e, "/registry/endpointslices/default/kubernetes");
  assert_non_null(eps);
  assert_string_equal(kj_get_str(eps, "addressType"), "IPv4");
  assert_string_equal(kj_get_str(eps, "metadata.labels[\"kubernetes.io/service-name\"]"), "kubernetes");
  assert_string_equal(kj_get_str(eps, "endpoints[0].addresses[0]"), "192.0.2.10");
  json_decref(eps);

  /* the allocator knows the first address is taken */
  uint32_t ip;
  reg_parse_ipv4("10.96.0.1", &ip);
  assert_true(svc_ip_in_use(svc_alloc_get(&e->srv), ip));
  check_dns_service(e, "10.96.0.10");

  /* drifted Endpoints and a deleted namespace are repaired by a round */
  struct kv *kv = storage_get(e->srv.storage, "/registry/services/endpoints/default/kubernetes");
  json_t *bad = kj_loadb(kv->bytes, kv->len, false, NULL, 0);
  kj_set_str(bad, "subsets[0].addresses[0].ip", "203.0.113.1");
  assert_int_equal(storage_update(e->srv.storage, kv->key, bad, NULL, kv->mod_rev, NULL, NULL), 0);
  json_decref(bad);
  assert_int_equal(storage_delete(e->srv.storage, "/registry/namespaces/kube-public", 0, NULL, NULL), 0);
  run(e);
  reg_bootstrap_kick(&e->srv);
  run(e);
  ep = get(e, "/registry/services/endpoints/default/kubernetes");
  assert_string_equal(kj_get_str(ep, "subsets[0].addresses[0].ip"), "192.0.2.10");
  json_decref(ep);
  json_t *ns = get(e, "/registry/namespaces/kube-public");
  assert_non_null(ns);
  json_decref(ns);
  assert_int_equal(e->done_calls, 1); /* done() only for the first round */
}

/* The default StorageClass of the built-in provisioner: created by the
 * first round, and, once deleted, not brought back by later rounds. */
static void test_default_storage_class(void **state)
{
  struct env *e = *state;
  assert_int_equal(registry_init(&e->srv, on_done, e), 0);
  run(e);
  json_t *sc = get(e, "/registry/storageclasses/local-path");
  assert_non_null(sc);
  assert_string_equal(kj_get_str(sc, "provisioner"), "kube.local/local-path");
  assert_string_equal(kj_get_str(sc, "metadata.annotations[\"storageclass.kubernetes.io/is-default-class\"]"), "true");
  assert_string_equal(kj_get_str(sc, "volumeBindingMode"), "WaitForFirstConsumer");
  assert_string_equal(kj_get_str(sc, "reclaimPolicy"), "Delete");
  assert_true(kj_get_bool(sc, "allowVolumeExpansion", false));
  assert_non_null(kj_get_str(sc, "metadata.uid"));
  json_decref(sc);
  assert_int_equal(storage_delete(e->srv.storage, "/registry/storageclasses/local-path", 0, NULL, NULL), 0);
  run(e);
  reg_bootstrap_kick(&e->srv);
  run(e);
  assert_null(get(e, "/registry/storageclasses/local-path"));
}

/* A cluster that already has a default class keeps it as the only one. */
static void test_default_storage_class_respects_existing(void **state)
{
  struct env *e = *state;
  const char *body = "{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":\"StorageClass\",\"metadata\":{\"name\":"
                     "\"fast\",\"annotations\":{\"storageclass.kubernetes.io/is-default-class\":\"true\"}},"
                     "\"provisioner\":\"example.com/fast\"}";
  json_t *sc = kj_loadb(body, strlen(body), false, NULL, 0);
  assert_int_equal(storage_create(e->srv.storage, "/registry/storageclasses/fast", sc, NULL, NULL, NULL), 0);
  json_decref(sc);
  run(e);
  assert_int_equal(registry_init(&e->srv, on_done, e), 0);
  run(e);
  assert_int_equal(e->done_calls, 1);
  assert_null(get(e, "/registry/storageclasses/local-path"));
}

static void test_rebuilds_allocators(void **state)
{
  struct env *e = *state;
  const char *body = "{\"metadata\":{\"name\":\"old\",\"namespace\":\"default\"},\"spec\":{\"type\":\"NodePort\","
                     "\"clusterIP\":\"10.96.5.5\",\"clusterIPs\":[\"10.96.5.5\"],\"ports\":[{\"port\":80,"
                     "\"nodePort\":31000}]}}";
  json_t *svc = kj_loadb(body, strlen(body), false, NULL, 0);
  assert_non_null(svc);
  assert_int_equal(storage_create(e->srv.storage, "/registry/services/specs/default/old", svc, NULL, NULL, NULL), 0);
  json_decref(svc);
  run(e);
  assert_int_equal(registry_init(&e->srv, on_done, e), 0);
  run(e);
  assert_int_equal(e->done_calls, 1);
  struct svc_alloc *a = svc_alloc_get(&e->srv);
  uint32_t ip;
  reg_parse_ipv4("10.96.5.5", &ip);
  assert_true(svc_ip_in_use(a, ip));
  assert_true(svc_port_in_use(a, 31000));
  assert_false(svc_port_in_use(a, 31001));

  /* a deletion, by whatever path, gives the values back once durable */
  assert_int_equal(storage_delete(e->srv.storage, "/registry/services/specs/default/old", 0, NULL, NULL), 0);
  assert_true(svc_port_in_use(a, 31000)); /* not before the commit */
  run(e);
  assert_false(svc_ip_in_use(a, ip));
  assert_false(svc_port_in_use(a, 31000));
}

static void store_service(struct env *e, const char *name, const char *ip)
{
  char body[256], key[128];
  snprintf(body, sizeof(body),
           "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},\"spec\":{\"type\":\"ClusterIP\","
           "\"clusterIP\":\"%s\",\"clusterIPs\":[\"%s\"],\"ports\":[{\"port\":80}]}}",
           name, ip, ip);
  snprintf(key, sizeof(key), "/registry/services/specs/default/%s", name);
  json_t *svc = kj_loadb(body, strlen(body), false, NULL, 0);
  assert_non_null(svc);
  assert_int_equal(storage_create(e->srv.storage, key, svc, NULL, NULL, NULL), 0);
  json_decref(svc);
  run(e);
}

/* A Service that already holds the tenth address keeps it: kube-dns waits
 * until the address is free, then takes it. */
static void test_dns_address_held_by_another_service(void **state)
{
  struct env *e = *state;
  store_service(e, "squatter", "10.96.0.10");
  assert_int_equal(registry_init(&e->srv, on_done, e), 0);
  run(e);
  assert_int_equal(e->done_calls, 1);
  json_t *dns = get(e, "/registry/services/specs/kube-system/kube-dns");
  assert_null(dns);
  json_t *sq = get(e, "/registry/services/specs/default/squatter");
  assert_string_equal(kj_get_str(sq, "spec.clusterIP"), "10.96.0.10");
  json_decref(sq);

  assert_int_equal(storage_delete(e->srv.storage, "/registry/services/specs/default/squatter", 0, NULL, NULL), 0);
  run(e);
  reg_bootstrap_kick(&e->srv);
  run(e);
  check_dns_service(e, "10.96.0.10");
}

/* A deleted kube-dns comes back at the next round; a range too small for a
 * tenth address gets none. */
static void test_dns_service_recreated_and_small_range(void **state)
{
  struct env *e = *state;
  e->srv.cfg.service_cluster_ip_range = "172.30.0.0/24";
  assert_int_equal(registry_init(&e->srv, on_done, e), 0);
  run(e);
  check_dns_service(e, "172.30.0.10");
  assert_int_equal(storage_delete(e->srv.storage, "/registry/services/specs/kube-system/kube-dns", 0, NULL, NULL), 0);
  run(e);
  assert_null(get(e, "/registry/services/specs/kube-system/kube-dns"));
  reg_bootstrap_kick(&e->srv);
  run(e);
  check_dns_service(e, "172.30.0.10");
  registry_shutdown(&e->srv);
  svc_alloc_free(&e->srv);

  /* a /29 has addresses .1 to .6 only */
  assert_int_equal(storage_delete(e->srv.storage, "/registry/services/specs/kube-system/kube-dns", 0, NULL, NULL), 0);
  run(e);
  e->srv.cfg.service_cluster_ip_range = "172.30.0.0/29";
  assert_int_equal(registry_init(&e->srv, on_done, e), 0);
  run(e);
  assert_null(get(e, "/registry/services/specs/kube-system/kube-dns"));
  json_t *k = get(e, "/registry/services/specs/default/kubernetes");
  assert_string_equal(kj_get_str(k, "spec.clusterIP"), "172.30.0.1");
  json_decref(k);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_creates_system_objects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rebuilds_allocators, setup, teardown),
      cmocka_unit_test_setup_teardown(test_default_storage_class, setup, teardown),
      cmocka_unit_test_setup_teardown(test_default_storage_class_respects_existing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dns_address_held_by_another_service, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dns_service_recreated_and_small_range, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
