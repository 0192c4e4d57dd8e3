/*
 * kl_test_config.c - the kubelet's configuration: flag/config-file
 * precedence (defaults < file < flags given, even when a flag repeats its
 * default), unknown flags, bad values naming their field or flag, the
 * list and map flag syntaxes, the --node-labels namespace rule, and the
 * Node's capacity/allocatable arithmetic.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "kube/json.h"
#include "kubelet.h"
#include "node_status.h"

static char *write_tmp(const char *content)
{
  char *path = strdup("/tmp/kl_test_config.XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
  close(fd);
  return path;
}

static struct kl_config *load(int argc, char **argv, int want_rc, char *err, size_t errlen)
{
  struct kl_config *c = NULL;
  int rc = kl_config_load(argc, argv, &c, err, errlen);
  if (rc != want_rc) fail_msg("rc %d want %d: %s", rc, want_rc, err);
  return c;
}

static void test_defaults(void **state)
{
  char *argv[] = {"kubelet", NULL};
  char err[512];
  struct kl_config *c = load(1, argv, 0, err, sizeof err);
  assert_int_equal(c->port, 10250);
  assert_int_equal(c->read_only_port, 0); /* the config-file default, not the flag's 10255 */
  assert_int_equal(c->max_pods, 110);
  assert_int_equal(c->healthz_port, 10248);
  assert_string_equal(c->root_dir, "/var/lib/kubelet");
  assert_string_equal(c->local_path_root, "/var/lib/kubelet-local-path");
  assert_string_equal(c->runtime_socket, "/var/run/docker.sock");
  assert_string_equal(c->cluster_domain, "");
  assert_int_equal(json_array_size(c->cluster_dns), 0);
  assert_int_equal(c->node_status_update_frequency_ms, 10000);
  assert_int_equal(c->node_status_report_frequency_ms, 300000);
  assert_int_equal(c->node_lease_duration_s, 40);
  assert_string_equal(json_string_value(json_object_get(c->eviction_hard, "memory.available")), "100Mi");
  assert_int_equal(c->container_log_max_size_bytes, 10 << 20);
  assert_true(c->cgroups_per_qos);
  kl_config_free(c);
}

static void test_file_and_flag_precedence(void **state)
{
  char *path = write_tmp("apiVersion: kubelet.config.k8s.io/v1beta1\n"
                         "kind: KubeletConfiguration\n"
                         "maxPods: 50\n"
                         "port: 11250\n"
                         "clusterDomain: cluster.local\n"
                         "clusterDNS: [10.96.0.10]\n"
                         "evictionHard: {memory.available: 200Mi}\n"
                         "registerWithTaints: [{key: a, value: b, effect: NoSchedule}]\n"
                         "staticPodPath: /etc/kubernetes/manifests\n");
  char cfg[300];
  snprintf(cfg, sizeof cfg, "--config=%s", path);
  /* --port repeats its own default: it still wins over the file. */
  char *argv[] = {"kubelet", cfg, "--port=10250", "--cluster-dns=10.0.0.10,10.0.0.11", NULL};
  char err[512];
  struct kl_config *c = load(4, argv, 0, err, sizeof err);
  assert_int_equal(c->max_pods, 50);
  assert_int_equal(c->port, 10250);
  assert_string_equal(c->cluster_domain, "cluster.local");
  assert_int_equal(json_array_size(c->cluster_dns), 2);
  assert_string_equal(json_string_value(json_array_get(c->cluster_dns, 1)), "10.0.0.11");
  assert_string_equal(json_string_value(json_object_get(c->eviction_hard, "memory.available")), "200Mi");
  assert_null(json_object_get(c->eviction_hard, "nodefs.available")); /* the file's map replaces the default */
  assert_int_equal(json_array_size(c->register_with_taints), 1);
  assert_string_equal(c->static_pod_path, "/etc/kubernetes/manifests");
  kl_config_free(c);
  unlink(path);
  free(path);
}

static void test_unknown_flag(void **state)
{
  char *argv[] = {"kubelet", "--no-such-flag=1", NULL};
  char err[512];
  load(2, argv, -1, err, sizeof err);
  assert_string_equal(err, "unknown flag: --no-such-flag");
}

static void test_bad_values(void **state)
{
  char err[512];
  char *a1[] = {"kubelet", "--max-pods=lots", NULL};
  load(2, a1, -1, err, sizeof err);
  assert_non_null(strstr(err, "--max-pods"));
  char *a2[] = {"kubelet", "--register-with-taints=a=b:Sometimes", NULL};
  load(2, a2, -1, err, sizeof err);
  assert_non_null(strstr(err, "invalid taint effect: Sometimes"));
  char *a3[] = {"kubelet", "--eviction-hard=memory.avail<1Gi", NULL};
  load(2, a3, -1, err, sizeof err);
  assert_non_null(strstr(err, "unsupported eviction signal memory.avail"));
  char *path = write_tmp("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
                         "syncFrequency: soon\nnoSuchField: 1\n");
  char cfg[300];
  snprintf(cfg, sizeof cfg, "--config=%s", path);
  char *a4[] = {"kubelet", cfg, NULL};
  load(2, a4, -1, err, sizeof err);
  assert_non_null(strstr(err, "syncFrequency"));
  assert_non_null(strstr(err, "invalid duration"));
  unlink(path);
  free(path);
  char *a5[] = {"kubelet", "--config=/nonexistent/kubelet.yaml", NULL};
  load(2, a5, -1, err, sizeof err);
  assert_non_null(strstr(err, "failed to load Kubelet config file /nonexistent/kubelet.yaml"));
  char *wrong = write_tmp("apiVersion: v1\nkind: Pod\n");
  snprintf(cfg, sizeof cfg, "--config=%s", wrong);
  char *a6[] = {"kubelet", cfg, NULL};
  load(2, a6, -1, err, sizeof err);
  assert_non_null(strstr(err, "no kind \"Pod\" is registered for version \"v1\""));
  unlink(wrong);
  free(wrong);
}

static void test_local_path_root(void **state)
{
  char err[512];
  char *ok[] = {"kubelet", "--local-path-root=/srv/volumes//", NULL};
  struct kl_config *c = load(2, ok, 0, err, sizeof err);
  assert_string_equal(c->local_path_root, "/srv/volumes");
  kl_config_free(c);
  const char *bad[] = {"/", "//", "", "volumes", "/srv/../etc", "/srv/.", "/srv//v", "/srv/.."};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char flag[64];
    snprintf(flag, sizeof flag, "--local-path-root=%s", bad[i]);
    char *argv[] = {"kubelet", flag, NULL};
    load(2, argv, -1, err, sizeof err);
    if (!strstr(err, "for \"--local-path-root\" flag: must be a clean absolute path other than \"/\""))
      fail_msg("%s: %s", bad[i], err);
  }
}

static void test_unknown_field_is_lenient(void **state)
{
  char *path = write_tmp("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
                         "noSuchField: 1\nmaxPods: 7\n");
  char cfg[300];
  snprintf(cfg, sizeof cfg, "--config=%s", path);
  char *argv[] = {"kubelet", cfg, NULL};
  char err[512];
  struct kl_config *c = load(2, argv, 0, err, sizeof err);
  assert_int_equal(c->max_pods, 7);
  kl_config_free(c);
  unlink(path);
  free(path);
}

static void test_taints_labels(void **state)
{
  char err[512];
  json_t *t = kl_parse_taints("dedicated=gpu:NoSchedule, only-key:NoExecute", err, sizeof err);
  assert_non_null(t);
  assert_int_equal(json_array_size(t), 2);
  assert_string_equal(kj_get_str(t, "[0].key"), "dedicated");
  assert_string_equal(kj_get_str(t, "[0].value"), "gpu");
  assert_string_equal(kj_get_str(t, "[1].effect"), "NoExecute");
  assert_null(kj_get(t, "[1].value"));
  json_decref(t);
  assert_null(kl_parse_taints("novalue", err, sizeof err));

  json_t *l = kl_parse_label_map("a=b,node.kubernetes.io/role=x", err, sizeof err);
  assert_int_equal(kl_validate_node_labels(l, err, sizeof err), 0);
  json_decref(l);
  l = kl_parse_label_map("node-role.kubernetes.io/master=,example.com/x=y", err, sizeof err);
  assert_int_equal(kl_validate_node_labels(l, err, sizeof err), -1);
  assert_non_null(strstr(err, "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: "
                              "[node-role.kubernetes.io/master]"));
  json_decref(l);
  assert_null(kl_parse_label_map("=x", err, sizeof err));
}

static void test_allocatable(void **state)
{
  struct kl_config cfg = {0};
  cfg.max_pods = 110;
  cfg.kube_reserved = json_pack("{s:s, s:s}", "cpu", "100m", "memory", "100Mi");
  cfg.system_reserved = json_pack("{s:s}", "memory", "156Mi");
  cfg.eviction_hard = json_pack("{s:s, s:s}", "memory.available", "100Mi", "nodefs.available", "10%");
  struct kubelet k;
  memset(&k, 0, sizeof k);
  k.cfg = &cfg;
  k.machine.num_cpus = 2;
  k.machine.memory_bytes = 4LL << 30;
  json_t *cap = kl_node_capacity(&k, 100LL << 30);
  assert_string_equal(kj_get_str(cap, "cpu"), "2");
  assert_string_equal(kj_get_str(cap, "memory"), "4Gi");
  assert_string_equal(kj_get_str(cap, "pods"), "110");
  assert_string_equal(kj_get_str(cap, "ephemeral-storage"), "100Gi");
  json_t *al = kl_node_allocatable(&k, cap);
  assert_string_equal(kj_get_str(al, "cpu"), "1900m");
  assert_string_equal(kj_get_str(al, "memory"), "3740Mi");          /* 4096 - 100 - 156 - 100 */
  assert_string_equal(kj_get_str(al, "ephemeral-storage"), "90Gi"); /* 90% of 100Gi */
  assert_string_equal(kj_get_str(al, "pods"), "110");
  json_decref(al);
  json_decref(cap);
  json_decref(cfg.kube_reserved);
  json_decref(cfg.system_reserved);
  json_decref(cfg.eviction_hard);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),        cmocka_unit_test(test_file_and_flag_precedence),
      cmocka_unit_test(test_unknown_flag),    cmocka_unit_test(test_bad_values),
      cmocka_unit_test(test_local_path_root), cmocka_unit_test(test_unknown_field_is_lenient),
      cmocka_unit_test(test_taints_labels),   cmocka_unit_test(test_allocatable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
