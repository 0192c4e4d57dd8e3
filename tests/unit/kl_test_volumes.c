/*
 * kl_test_volumes.c - volume contents and the atomic writer, on a
 * temporary directory: configMap/secret payloads (items, modes, optional,
 * upstream's messages), path validation (".." refused), downwardAPI map
 * files, the ..data symlink swap (an update replaces the files in one
 * rename, removed keys disappear, nothing is rewritten when unchanged),
 * and tree removal that never follows symlinks out.
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
#include "pause/pause_image.h"
#include "volumes.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad JSON in test: %s: %s", e.text, s);
  return v;
}

static char *slurp(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  static char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static void test_paths(void **state)
{
  char err[256];
  struct {
    const char *p, *msg;
  } bad[] = {
      {"../x", "invalid path: must not contain '..': ../x"}, {"a/../b", "invalid path: must not contain '..': a/../b"},
      {"/abs", "invalid path: must be relative path: /abs"}, {"..x", "invalid path: must not start with '..': ..x"},
      {"", "invalid path: must not be empty: \"\""},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(kl_payload_validate_path(bad[i].p, err, sizeof err), -1);
    assert_string_equal(err, bad[i].msg);
  }
  assert_int_equal(kl_payload_validate_path("a/b..c/d", err, sizeof err), 0);
  assert_int_equal(kl_payload_validate_path("x..", err, sizeof err), 0);
}

static void test_configmap_payload(void **state)
{
  json_t *cm = J("{\"data\":{\"a\":\"1\",\"b\":\"2\"},\"binaryData\":{\"bin\":\"AAE=\"}}");
  char err[256] = "";
  json_t *src = J("{\"name\":\"cm\",\"defaultMode\":416}");
  json_t *p = kl_payload_configmap(cm, src, false, err, sizeof err);
  assert_int_equal(json_object_size(p), 3);
  assert_int_equal(kj_get_int(p, "a.mode", 0), 416);
  assert_int_equal(json_string_length(json_object_get(kj_get(p, "bin"), "content")), 2);
  json_decref(p);
  json_decref(src);
  src = J("{\"name\":\"cm\",\"items\":[{\"key\":\"a\",\"path\":\"d/x\",\"mode\":256}]}");
  p = kl_payload_configmap(cm, src, false, err, sizeof err);
  assert_int_equal(json_object_size(p), 1);
  assert_int_equal(kj_get_int(json_object_get(p, "d/x"), "mode", 0), 256);
  json_decref(p);
  json_decref(src);
  src = J("{\"name\":\"cm\",\"items\":[{\"key\":\"zz\",\"path\":\"x\"}]}");
  assert_null(kl_payload_configmap(cm, src, false, err, sizeof err));
  assert_string_equal(err, "configmap references non-existent config key: zz");
  json_decref(src);
  src = J("{\"name\":\"cm\",\"items\":[{\"key\":\"a\",\"path\":\"../escape\"}]}");
  assert_null(kl_payload_configmap(cm, src, false, err, sizeof err));
  assert_string_equal(err, "invalid path: must not contain '..': ../escape");
  json_decref(src);
  src = J("{\"name\":\"gone\"}");
  assert_null(kl_payload_configmap(NULL, src, false, err, sizeof err));
  assert_string_equal(err, "configmap \"gone\" not found");
  json_decref(src);
  src = J("{\"secretName\":\"gone\",\"optional\":true}");
  p = kl_payload_configmap(NULL, src, true, err, sizeof err);
  assert_int_equal(json_object_size(p), 0);
  json_decref(p);
  json_decref(src);
  json_t *secret = J("{\"data\":{\"pw\":\"aHVudGVyMg==\"}}");
  src = J("{\"secretName\":\"s\",\"items\":[{\"key\":\"nope\",\"path\":\"x\"}]}");
  assert_null(kl_payload_configmap(secret, src, true, err, sizeof err));
  assert_string_equal(err, "references non-existent secret key: nope");
  json_decref(src);
  json_decref(secret);
  json_decref(cm);
}

static void test_downward(void **state)
{
  json_t *pod = J("{\"metadata\":{\"name\":\"p\",\"labels\":{\"b\":\"2\",\"a\":\"x\\\"y\"}}}");
  json_t *items = J("[{\"path\":\"labels\",\"fieldRef\":{\"fieldPath\":\"metadata.labels\"}},"
                    "{\"path\":\"n\",\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}]");
  char err[256];
  json_t *p = kl_payload_downward(pod, items, 0644, NULL, err, sizeof err);
  assert_string_equal(kj_get_str(json_object_get(p, "labels"), "content"), "a=\"x\\\"y\"\nb=\"2\"");
  assert_string_equal(kj_get_str(json_object_get(p, "n"), "content"), "p");
  json_decref(p);
  json_decref(items);
  json_decref(pod);
}

static void test_atomic_writer(void **state)
{
  char tmpl[] = "/tmp/kl_test_vol.XXXXXX";
  char *dir = mkdtemp(tmpl);
  assert_non_null(dir);
  char vol[600], err[256], path[700];
  snprintf(vol, sizeof vol, "%s/vol", dir);
  json_t *p1 = J("{\"a\":{\"content\":\"1\",\"mode\":420},\"sub/b\":{\"content\":\"2\",\"mode\":384}}");
  assert_int_equal(kl_atomic_write(vol, p1, -1, err, sizeof err), 1);
  snprintf(path, sizeof path, "%s/a", vol);
  assert_string_equal(slurp(path), "1");
  snprintf(path, sizeof path, "%s/sub/b", vol);
  assert_string_equal(slurp(path), "2");
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  snprintf(path, sizeof path, "%s/..data", vol);
  char first[256] = "", second[256] = "";
  assert_true(readlink(path, first, sizeof first - 1) > 0);
  /* unchanged: nothing rewritten */
  assert_int_equal(kl_atomic_write(vol, p1, -1, err, sizeof err), 0);
  assert_true(readlink(path, second, sizeof second - 1) > 0);
  assert_string_equal(first, second);
  /* update: new data directory, removed key gone, old directory removed */
  json_t *p2 = J("{\"a\":{\"content\":\"updated\",\"mode\":420}}");
  assert_int_equal(kl_atomic_write(vol, p2, -1, err, sizeof err), 1);
  memset(second, 0, sizeof second);
  assert_true(readlink(path, second, sizeof second - 1) > 0);
  assert_string_not_equal(first, second);
  snprintf(path, sizeof path, "%s/a", vol);
  assert_string_equal(slurp(path), "updated");
  snprintf(path, sizeof path, "%s/sub", vol);
  assert_int_equal(lstat(path, &st), -1);
  snprintf(path, sizeof path, "%s/%s", vol, first);
  assert_int_equal(lstat(path, &st), -1);
  /* a bad path is refused before anything is written */
  json_t *p3 = J("{\"../x\":{\"content\":\"no\",\"mode\":420}}");
  assert_int_equal(kl_atomic_write(vol, p3, -1, err, sizeof err), -1);
  assert_string_equal(err, "invalid path: must not contain '..': ../x");
  snprintf(path, sizeof path, "%s/x", dir);
  assert_int_equal(lstat(path, &st), -1);
  /* tree removal does not follow a symlink out of the tree */
  char outside[700], link[700];
  snprintf(outside, sizeof outside, "%s/outside", dir);
  mkdir(outside, 0755);
  snprintf(path, sizeof path, "%s/keep", outside);
  FILE *f = fopen(path, "w");
  fclose(f);
  snprintf(link, sizeof link, "%s/link", vol);
  assert_int_equal(symlink(outside, link), 0);
  assert_int_equal(kl_remove_tree(vol), 0);
  assert_int_equal(lstat(vol, &st), -1);
  assert_int_equal(lstat(path, &st), 0);
  kl_remove_tree(dir);
  json_decref(p1);
  json_decref(p2);
  json_decref(p3);
}

static void test_pause_tar(void **state)
{
  size_t len = 0, bin_len = 0;
  const unsigned char *bin = kl_pause_binary(&bin_len);
  assert_true(bin_len > 1000);
  assert_memory_equal(bin,
                      "\x7f"
                      "ELF",
                      4);
  unsigned char *tar = kl_pause_rootfs_tar(&len);
  assert_non_null(tar);
  assert_int_equal(len % 512, 0);
  assert_true(len >= 512 + bin_len + 1024);
  assert_string_equal((char *)tar, "pause");
  assert_memory_equal(tar + 257, "ustar", 6);
  unsigned sum = 0;
  for (int i = 0; i < 512; i++) sum += (i >= 148 && i < 156) ? ' ' : tar[i];
  assert_int_equal(strtoul((char *)tar + 148, NULL, 8), sum);
  assert_int_equal(strtoull((char *)tar + 124, NULL, 8), bin_len);
  assert_int_equal(strtoul((char *)tar + 100, NULL, 8), 0755);
  assert_memory_equal(tar + 512, bin, bin_len);
  free(tar);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_paths),         cmocka_unit_test(test_configmap_payload), cmocka_unit_test(test_downward),
      cmocka_unit_test(test_atomic_writer), cmocka_unit_test(test_pause_tar),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
