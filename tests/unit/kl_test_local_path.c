/*
 * kl_test_local_path.c - the node side of local-path volumes: which
 * volumes this kubelet cleans up (provisioner annotation, node affinity,
 * deletion and finalizer), which paths it accepts (only ROOT/NAME_... for
 * the volume's own name, never "/" or anything outside the root), and,
 * on a temporary directory, creating the directory (mode 0777, parents
 * made, a symbolic link in its place refused) and removing it without
 * following symbolic links out of it or going through a symlinked root.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/json.h"
#include "local_path.h"
#include "volumes.h"

static json_t *pv_json(const char *name, const char *path, const char *node, bool deleting, bool finalizer)
{
  json_t *pv =
      json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{s:{s:s}, s:{s:{s:[{s:[{s:s, s:s, s:[s]}]}]}}}}",
                "apiVersion", "v1", "kind", "PersistentVolume", "metadata", "name", name, "resourceVersion", "7",
                "annotations", KL_ANN_PROVISIONED_BY, LOCAL_PATH_PROVISIONER, LOCAL_PATH_NODE_ANNOTATION, node,
                "spec", "local", "path", path, "nodeAffinity", "required", "nodeSelectorTerms", "matchExpressions",
                "key", "kubernetes.io/hostname", "operator", "In", "values", node);
  assert_non_null(pv);
  if (deleting) kj_set_str(pv, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  if (finalizer) kj_set(pv, "metadata.finalizers", json_pack("[s, s]", "example.com/other", LOCAL_PATH_FINALIZER));
  return pv;
}

static void test_selection(void **state)
{
  const char *path = "/r/pvc-1_default_data";
  json_t *pv = pv_json("pvc-1", path, "n1", true, true);
  assert_true(kl_local_path_owned(pv));
  assert_true(kl_local_path_on_node(pv, "n1"));
  assert_false(kl_local_path_on_node(pv, "n2"));
  assert_true(kl_local_path_needs_cleanup(pv, "n1"));
  assert_false(kl_local_path_needs_cleanup(pv, "n2"));
  json_decref(pv);

  /* not deleting, or the finalizer already gone: nothing to do */
  pv = pv_json("pvc-1", path, "n1", false, true);
  assert_false(kl_local_path_needs_cleanup(pv, "n1"));
  json_decref(pv);
  pv = pv_json("pvc-1", path, "n1", true, false);
  assert_false(kl_local_path_needs_cleanup(pv, "n1"));
  json_decref(pv);

  /* a volume some other provisioner (or nobody) made is never touched */
  pv = pv_json("pvc-1", path, "n1", true, true);
  kj_set_str(pv, "metadata.annotations[\"" KL_ANN_PROVISIONED_BY "\"]", "example.com/other");
  assert_false(kl_local_path_owned(pv));
  assert_false(kl_local_path_needs_cleanup(pv, "n1"));
  kj_del(pv, "metadata.annotations");
  assert_false(kl_local_path_needs_cleanup(pv, "n1"));
  /* node affinity alone (no annotation) decides */
  kj_set_str(pv, "metadata.annotations[\"" KL_ANN_PROVISIONED_BY "\"]", LOCAL_PATH_PROVISIONER);
  assert_true(kl_local_path_needs_cleanup(pv, "n1"));
  /* the provisioner's annotation wins over the affinity (a hostname
   * label that differs from the node name) */
  kj_set_str(pv, "metadata.annotations[\"" LOCAL_PATH_NODE_ANNOTATION "\"]", "n2");
  assert_false(kl_local_path_on_node(pv, "n1"));
  assert_true(kl_local_path_on_node(pv, "n2"));
  json_decref(pv);

  /* affinity on another key or operator does not name the node */
  pv = pv_json("pvc-1", path, "n1", true, true);
  kj_del(pv, "metadata.annotations[\"" LOCAL_PATH_NODE_ANNOTATION "\"]");
  kj_set_str(pv, "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].operator", "NotIn");
  assert_false(kl_local_path_on_node(pv, "n1"));
  kj_set_str(pv, "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].operator", "In");
  kj_set_str(pv, "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].key", "zone");
  assert_false(kl_local_path_on_node(pv, "n1"));
  json_decref(pv);
}

static void test_entry(void **state)
{
  char entry[256], err[512];
  json_t *pv = pv_json("pvc-1", "/var/lp/pvc-1_default_data", "n1", true, true);
  assert_int_equal(kl_local_path_entry(pv, "/var/lp", entry, sizeof entry, err, sizeof err), 0);
  assert_string_equal(entry, "pvc-1_default_data");
  /* another root than this kubelet's */
  assert_int_equal(kl_local_path_entry(pv, "/var/l", entry, sizeof entry, err, sizeof err), -1);
  assert_string_equal(err, "path \"/var/lp/pvc-1_default_data\" of persistentvolume \"pvc-1\" is not directly "
                           "inside the local-path root \"/var/l\"");
  assert_int_equal(kl_local_path_entry(pv, "/", entry, sizeof entry, err, sizeof err), -1);
  assert_string_equal(err, "refusing local-path root \"/\": not an absolute directory other than \"/\"");
  assert_int_equal(kl_local_path_entry(pv, "", entry, sizeof entry, err, sizeof err), -1);
  json_decref(pv);

  struct {
    const char *path, *msg;
  } bad[] = {
      {"/", "is not directly inside"},
      {"/var/lp", "is not directly inside"},
      {"/var/lp/", "is not the directory the local-path provisioner makes"},
      {"/var/lp/..", "is not the directory the local-path provisioner makes"},
      {"/var/lp/pvc-1_a/../../../etc", "is not directly inside"},
      {"/var/lp/pvc-1_a/", "is not directly inside"},
      {"/var/lp//pvc-1_a", "is not directly inside"},
      {"/var/lpx/pvc-1_a", "is not directly inside"},
      {"/etc/pvc-1_a", "is not directly inside"},
      {"/var/lp/pvc-2_default_data", "is not the directory the local-path provisioner makes"},
      {"/var/lp/pvc-1", "is not the directory the local-path provisioner makes"},
      {"/var/lp/pvc-10_x", "is not the directory the local-path provisioner makes"},
      {"", "has no spec.local.path"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    pv = pv_json("pvc-1", bad[i].path, "n1", true, true);
    if (kl_local_path_entry(pv, "/var/lp", entry, sizeof entry, err, sizeof err) != -1 || !strstr(err, bad[i].msg))
      fail_msg("%s: accepted or wrong message: %s", bad[i].path, err);
    json_decref(pv);
  }
}

static char *tmpdir(void)
{
  char *d = strdup("/tmp/kl_test_local_path.XXXXXX");
  assert_non_null(mkdtemp(d));
  return d;
}

static void put(const char *path, const char *content)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

static void test_create(void **state)
{
  char *t = tmpdir(), root[300], path[400], err[512];
  snprintf(root, sizeof root, "%s/a/b/root", t);
  mode_t old = umask(022);
  assert_int_equal(kl_local_path_create(root, "pvc-1_ns_c", err, sizeof err), 0);
  umask(old);
  struct stat st;
  snprintf(path, sizeof path, "%s/pvc-1_ns_c", root);
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0777);
  /* again: the existing directory (and what it holds) is kept */
  snprintf(path, sizeof path, "%s/pvc-1_ns_c/data", root);
  put(path, "kept");
  assert_int_equal(kl_local_path_create(root, "pvc-1_ns_c", err, sizeof err), 0);
  assert_int_equal(access(path, F_OK), 0);

  /* a symbolic link (or a file) in the volume's place is refused */
  char outside[300], link[400];
  snprintf(outside, sizeof outside, "%s/outside", t);
  assert_int_equal(mkdir(outside, 0700), 0);
  snprintf(link, sizeof link, "%s/pvc-2_ns_c", root);
  assert_int_equal(symlink(outside, link), 0);
  assert_int_equal(kl_local_path_create(root, "pvc-2_ns_c", err, sizeof err), -1);
  assert_non_null(strstr(err, "exists and is not a directory"));
  assert_int_equal(stat(outside, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0700);

  /* a root reached through a symbolic link is refused */
  char sroot[300];
  snprintf(sroot, sizeof sroot, "%s/sroot", t);
  assert_int_equal(symlink(outside, sroot), 0);
  assert_int_equal(kl_local_path_create(sroot, "pvc-3_ns_c", err, sizeof err), -1);
  assert_non_null(strstr(err, "through a symbolic link"));
  snprintf(path, sizeof path, "%s/pvc-3_ns_c", outside);
  assert_int_equal(access(path, F_OK), -1);
  assert_int_equal(kl_remove_tree(t), 0);
  free(t);
}

static void test_remove(void **state)
{
  char *t = tmpdir(), root[300], vol[400], path[600], outside[300], err[512];
  snprintf(root, sizeof root, "%s/root", t);
  snprintf(outside, sizeof outside, "%s/outside", t);
  assert_int_equal(mkdir(outside, 0755), 0);
  snprintf(path, sizeof path, "%s/precious", outside);
  put(path, "keep me");
  assert_int_equal(kl_local_path_create(root, "pvc-1_ns_c", err, sizeof err), 0);
  snprintf(vol, sizeof vol, "%s/pvc-1_ns_c", root);
  /* what a pod may leave behind: files, nested directories, symbolic
   * links to a directory and to a file outside, a read-only directory */
  snprintf(path, sizeof path, "%s/f", vol);
  put(path, "x");
  snprintf(path, sizeof path, "%s/d1", vol);
  assert_int_equal(mkdir(path, 0755), 0);
  snprintf(path, sizeof path, "%s/d1/d2", vol);
  assert_int_equal(mkdir(path, 0755), 0);
  char d3[700];
  snprintf(d3, sizeof d3, "%s/d3", path);
  assert_int_equal(mkdir(d3, 0755), 0);
  snprintf(d3, sizeof d3, "%s/d3/deep", path);
  put(d3, "y");
  assert_int_equal(chmod(path, 0555), 0);
  snprintf(path, sizeof path, "%s/d1/to-outside", vol);
  assert_int_equal(symlink(outside, path), 0);
  snprintf(path, sizeof path, "%s/d1/to-file", vol);
  char target[400];
  snprintf(target, sizeof target, "%s/precious", outside);
  assert_int_equal(symlink(target, path), 0);
  snprintf(path, sizeof path, "%s/up", vol);
  assert_int_equal(symlink("../..", path), 0);

  assert_int_equal(kl_local_path_remove(root, "pvc-1_ns_c", err, sizeof err), 0);
  assert_int_equal(access(vol, F_OK), -1);
  assert_int_equal(access(root, F_OK), 0); /* the root stays */
  assert_int_equal(access(target, F_OK), 0);
  assert_int_equal(access(outside, F_OK), 0);
  /* missing: nothing to do, also without a root */
  assert_int_equal(kl_local_path_remove(root, "pvc-1_ns_c", err, sizeof err), 0);
  snprintf(path, sizeof path, "%s/no-root", t);
  assert_int_equal(kl_local_path_remove(path, "pvc-1_ns_c", err, sizeof err), 0);

  /* the volume itself replaced by a link: the link goes, not its target */
  snprintf(vol, sizeof vol, "%s/pvc-2_ns_c", root);
  assert_int_equal(symlink(outside, vol), 0);
  assert_int_equal(kl_local_path_remove(root, "pvc-2_ns_c", err, sizeof err), 0);
  assert_int_equal(access(target, F_OK), 0);

  /* a root reached through a symbolic link is refused */
  char sroot[300];
  snprintf(sroot, sizeof sroot, "%s/sroot", t);
  assert_int_equal(symlink(t, sroot), 0);
  assert_int_equal(kl_local_path_remove(sroot, "outside", err, sizeof err), -1);
  assert_non_null(strstr(err, "through a symbolic link"));
  assert_int_equal(access(target, F_OK), 0);
  assert_int_equal(kl_remove_tree(t), 0);
  free(t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_selection),
      cmocka_unit_test(test_entry),
      cmocka_unit_test(test_create),
      cmocka_unit_test(test_remove),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
