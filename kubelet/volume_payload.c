/*
 * volume_payload.c - what configMap, secret, downwardAPI and projected
 * volumes hold, and the atomic writer that puts it on disk (upstream's
 * pkg/volume/util AtomicWriter).
 *
 * The target directory holds the data in a hidden timestamped directory
 * ..2006_01_02_15_04_05.XXXXXX; the symlink ..data points at it, and each
 * user-visible top-level name is a symlink into ..data.  An update writes
 * a new timestamped directory, points a fresh symlink ..data_tmp at it and
 * renames that over ..data (one atomic rename: readers see the old or the
 * new files, never a mix), then fixes the top-level symlinks and removes
 * the old directory.  Nothing is rewritten when the files already match.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env.h"
#include "kube/json.h"
#include "kube/base64.h"
#include "kube/xalloc.h"
#include "volumes.h"

#define MAX_PATH_LEN 4096
#define MAX_NAME_LEN 255
#define DATA_LINK "..data"
#define DATA_TMP "..data_tmp"

int kl_payload_validate_path(const char *p, char *err, size_t errlen)
{
  if (!*p) {
    snprintf(err, errlen, "invalid path: must not be empty: \"%s\"", p);
    return -1;
  }
  if (*p == '/') {
    snprintf(err, errlen, "invalid path: must be relative path: %s", p);
    return -1;
  }
  if (strlen(p) > MAX_PATH_LEN) {
    snprintf(err, errlen, "invalid path: must be less than or equal to %d characters", MAX_PATH_LEN);
    return -1;
  }
  const char *s = p;
  bool first = true;
  while (*s) {
    size_t n = strcspn(s, "/");
    if (n == 2 && !strncmp(s, "..", 2)) {
      snprintf(err, errlen, "invalid path: must not contain '..': %s", p);
      return -1;
    }
    if (n > MAX_NAME_LEN) {
      snprintf(err, errlen, "invalid path: filenames must be less than or equal to %d characters", MAX_NAME_LEN);
      return -1;
    }
    if (first && n > 2 && !strncmp(s, "..", 2)) {
      snprintf(err, errlen, "invalid path: must not start with '..': %s", p);
      return -1;
    }
    first = false;
    s += n;
    if (*s == '/') s++;
  }
  return 0;
}

static void put(json_t *payload, const char *path, json_t *content, int mode)
{
  json_object_set_new(payload, path, json_pack("{s:o, s:i}", "content", content, "mode", mode));
}

/* The value of key in obj as bytes (configMap data/binaryData, secret data). */
static json_t *value_of(const json_t *obj, const char *key, bool secret)
{
  const char *s = json_string_value(json_object_get(kj_get(obj, "data"), key));
  if (s && !secret) return json_string(s);
  if (!s && !secret) s = json_string_value(json_object_get(kj_get(obj, "binaryData"), key));
  if (!s) return NULL;
  unsigned char *dec = NULL;
  size_t n = 0, bad = 0;
  json_t *v = kb64_decode(s, strlen(s), KB64_STD, &dec, &n, &bad) == 0 ? json_stringn_nocheck((char *)dec, n) : NULL;
  free(dec);
  return v;
}

json_t *kl_payload_configmap(const json_t *obj, const json_t *src, bool secret, char *err, size_t errlen)
{
  int dmode = (int)kj_get_int(src, "defaultMode", 0644);
  bool optional = kj_get_bool(src, "optional", false);
  const char *name = kj_get_str(src, secret ? "secretName" : "name") ?: "";
  json_t *payload = json_object();
  if (!obj) {
    if (optional) return payload;
    snprintf(err, errlen, "%s \"%s\" not found", secret ? "secret" : "configmap", name);
    json_decref(payload);
    return NULL;
  }
  json_t *items = kj_get(src, "items");
  if (!json_array_size(items)) {
    const char *lists[] = {"data", "binaryData"};
    for (int l = 0; l < (secret ? 1 : 2); l++) {
      const char *k;
      json_t *v;
      json_object_foreach (kj_get(obj, lists[l]), k, v) {
        json_t *val = value_of(obj, k, secret);
        if (val) put(payload, k, val, dmode);
      }
    }
  } else {
    size_t i;
    json_t *it;
    json_array_foreach (items, i, it) {
      const char *key = kj_get_str(it, "key") ?: "";
      const char *path = kj_get_str(it, "path") ?: "";
      json_t *val = value_of(obj, key, secret);
      if (!val) {
        if (optional) continue;
        if (secret) snprintf(err, errlen, "references non-existent secret key: %s", key);
        else snprintf(err, errlen, "configmap references non-existent config key: %s", key);
        json_decref(payload);
        return NULL;
      }
      put(payload, path, val, (int)kj_get_int(it, "mode", dmode));
    }
  }
  const char *p;
  json_t *v;
  json_object_foreach (payload, p, v) {
    if (kl_payload_validate_path(p, err, errlen) < 0) {
      json_decref(payload);
      return NULL;
    }
  }
  return payload;
}

/* Go's %q for the strings of a map file. */
static void quote(FILE *f, const char *s)
{
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\t': fputs("\\t", f); break;
    case '\r': fputs("\\r", f); break;
    default:
      if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\x%02x", *p);
      else fputc(*p, f);
    }
  }
  fputc('"', f);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

char *kl_format_map(const json_t *map)
{
  size_t n = json_object_size(map), i = 0;
  const char **keys = xcalloc(n + 1, sizeof *keys);
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)map, k, v) keys[i++] = k;
  qsort(keys, n, sizeof *keys, cmp_str);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  for (i = 0; i < n; i++) {
    fprintf(f, "%s=", keys[i]);
    quote(f, json_string_value(json_object_get(map, keys[i])) ?: "");
    if (i + 1 < n) fputc('\n', f);
  }
  fclose(f);
  free(keys);
  return buf;
}

static json_t *downward_value(const json_t *pod, const json_t *item, const json_t *alloc, char *err, size_t errlen)
{
  const char *fp = kj_get_str(item, "fieldRef.fieldPath");
  if (fp) {
    if (!strcmp(fp, "metadata.labels") || !strcmp(fp, "metadata.annotations")) {
      char *s = kl_format_map(kj_get(pod, fp));
      json_t *v = json_string(s ? s : "");
      free(s);
      return v;
    }
    char *s = kl_field_ref(pod, fp, "", kj_get_str(pod, "status.podIP"), err, errlen);
    json_t *v = s ? json_string(s) : NULL;
    free(s);
    return v;
  }
  const json_t *rf = kj_get(item, "resourceFieldRef");
  if (rf) {
    const char *cname = kj_get_str(rf, "containerName") ?: "";
    const json_t *c = NULL;
    size_t i;
    json_t *x;
    json_array_foreach (kj_get(pod, "spec.containers"), i, x)
      if (!strcmp(kj_get_str(x, "name") ?: "", cname)) c = x;
    json_array_foreach (kj_get(pod, "spec.initContainers"), i, x)
      if (!strcmp(kj_get_str(x, "name") ?: "", cname)) c = x;
    if (!c) {
      snprintf(err, errlen, "container %s not found", cname);
      return NULL;
    }
    char *s = kl_resource_field_ref(c, rf, alloc, err, errlen);
    json_t *v = s ? json_string(s) : NULL;
    free(s);
    return v;
  }
  snprintf(err, errlen, "downwardAPI item %s has neither fieldRef nor resourceFieldRef",
           kj_get_str(item, "path") ?: "");
  return NULL;
}

json_t *kl_payload_downward(const json_t *pod, const json_t *items, int dmode, const json_t *alloc, char *err,
                            size_t errlen)
{
  json_t *payload = json_object();
  size_t i;
  json_t *it;
  json_array_foreach (items, i, it) {
    const char *path = kj_get_str(it, "path") ?: "";
    json_t *v = NULL;
    if (kl_payload_validate_path(path, err, errlen) < 0 || !(v = downward_value(pod, it, alloc, err, errlen))) {
      json_decref(payload);
      return NULL;
    }
    put(payload, path, v, (int)kj_get_int(it, "mode", dmode));
  }
  return payload;
}

/* ---- the atomic writer ---- */

static int mkdirs(const char *dir, const char *rel, mode_t mode)
{
  char buf[MAX_PATH_LEN * 2];
  snprintf(buf, sizeof buf, "%s/%s", dir, rel);
  char *slash = strrchr(buf, '/');
  if (!slash || slash < buf + strlen(dir)) return 0;
  *slash = 0;
  for (char *p = buf + strlen(dir) + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
    *p = '/';
  }
  if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
  return 0;
}

/* Regular files below dir, symlinks not followed. */
static size_t count_files(const char *dir)
{
  DIR *d = opendir(dir);
  if (!d) return 0;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    struct stat st;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
    if (S_ISREG(st.st_mode)) n++;
    else if (S_ISDIR(st.st_mode)) {
      char sub[MAX_PATH_LEN * 2];
      snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
      n += count_files(sub);
    }
  }
  closedir(d);
  return n;
}

/* Do the files under data_dir equal payload (contents and modes)? */
static bool same_files(const char *data_dir, const json_t *payload)
{
  const char *p;
  json_t *v;
  json_object_foreach ((json_t *)payload, p, v) {
    char path[MAX_PATH_LEN * 2];
    snprintf(path, sizeof path, "%s/%s", data_dir, p);
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) return false;
    if ((st.st_mode & 07777) != (mode_t)kj_get_int(v, "mode", 0644)) return false;
    json_t *c = json_object_get(v, "content");
    size_t n = json_string_length(c);
    if ((size_t)st.st_size != n) return false;
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char *buf = xmalloc(n + 1);
    size_t got = buf ? fread(buf, 1, n, f) : 0;
    fclose(f);
    bool eq = buf && got == n && !memcmp(buf, json_string_value(c), n);
    free(buf);
    if (!eq) return false;
  }
  /* and nothing more */
  return count_files(data_dir) == json_object_size(payload);
}

static int write_one(const char *dir, const char *rel, const json_t *v, int fs_group)
{
  int rc = mkdirs(dir, rel, 0755);
  if (rc < 0) return rc;
  char path[MAX_PATH_LEN * 2];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  int mode = (int)kj_get_int(v, "mode", 0644);
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -errno;
  json_t *c = json_object_get(v, "content");
  size_t n = json_string_length(c);
  ssize_t w = n ? write(fd, json_string_value(c), n) : 0;
  if (fs_group >= 0) {
    if (fchown(fd, (uid_t)-1, (gid_t)fs_group) == 0) mode |= 0040;
  }
  fchmod(fd, (mode_t)mode);
  close(fd);
  return w == (ssize_t)n ? 0 : -EIO;
}

/* Removes dir's contents on device dev; never follows symlinks. */
static void remove_below(const char *dir, dev_t dev)
{
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    struct stat st;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) continue; /* a mount point: left alone */
      char sub[MAX_PATH_LEN * 2];
      snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
      remove_below(sub, dev);
      unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
    } else {
      unlinkat(dirfd(d), de->d_name, 0);
    }
  }
  closedir(d);
}

int kl_remove_tree(const char *path)
{
  struct stat st;
  if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR(st.st_mode)) return unlink(path) < 0 ? -errno : 0;
  remove_below(path, st.st_dev);
  return rmdir(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* Top-level names of the payload ("a" of "a/b/c"). */
static json_t *top_level(const json_t *payload)
{
  json_t *names = json_object();
  const char *p;
  json_t *v;
  json_object_foreach ((json_t *)payload, p, v) {
    char first[MAX_NAME_LEN + 1];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(p, "/"), p);
    json_object_set_new(names, first, json_true());
  }
  return names;
}

static void fix_links(const char *dir, const json_t *payload)
{
  json_t *names = top_level(payload);
  const char *n;
  json_t *v;
  json_object_foreach (names, n, v) {
    char link[MAX_PATH_LEN * 2], target[MAX_PATH_LEN];
    snprintf(link, sizeof link, "%s/%s", dir, n);
    snprintf(target, sizeof target, DATA_LINK "/%s", n);
    char cur[MAX_PATH_LEN];
    ssize_t l = readlink(link, cur, sizeof cur - 1);
    if (l >= 0) {
      cur[l] = 0;
      if (!strcmp(cur, target)) continue;
    }
    unlink(link);
    if (symlink(target, link) < 0 && errno != EEXIST) continue;
  }
  /* Remove user-visible links no longer in the payload. */
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (!strncmp(de->d_name, "..", 2) || !strcmp(de->d_name, ".") || json_object_get(names, de->d_name)) continue;
    char link[MAX_PATH_LEN * 2], cur[MAX_PATH_LEN];
    snprintf(link, sizeof link, "%s/%s", dir, de->d_name);
    ssize_t l = readlink(link, cur, sizeof cur - 1);
    if (l < 0) continue;
    cur[l] = 0;
    if (!strncmp(cur, DATA_LINK "/", strlen(DATA_LINK) + 1)) unlink(link);
  }
  if (d) closedir(d);
  json_decref(names);
}

int kl_atomic_write(const char *dir, const json_t *payload, int fs_group, char *err, size_t errlen)
{
  const char *p;
  json_t *v;
  json_object_foreach ((json_t *)payload, p, v)
    if (kl_payload_validate_path(p, err, errlen) < 0) return -1;
  if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
    snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
    return -1;
  }
  char data_link[MAX_PATH_LEN * 2], old[MAX_PATH_LEN] = "";
  snprintf(data_link, sizeof data_link, "%s/" DATA_LINK, dir);
  ssize_t l = readlink(data_link, old, sizeof old - 1);
  if (l > 0) {
    old[l] = 0;
    char old_dir[MAX_PATH_LEN * 2];
    snprintf(old_dir, sizeof old_dir, "%s/%s", dir, old);
    if (same_files(old_dir, payload)) {
      fix_links(dir, payload);
      return 0;
    }
  } else {
    old[0] = 0;
  }
  char ts[64], new_dir[MAX_PATH_LEN * 2];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof ts, "..%Y_%m_%d_%H_%M_%S.XXXXXX", &tm);
  snprintf(new_dir, sizeof new_dir, "%s/%s", dir, ts);
  if (!mkdtemp(new_dir)) {
    snprintf(err, errlen, "cannot create %s: %s", new_dir, strerror(errno));
    return -1;
  }
  chmod(new_dir, 0755);
  json_object_foreach ((json_t *)payload, p, v) {
    int rc = write_one(new_dir, p, v, fs_group);
    if (rc < 0) {
      snprintf(err, errlen, "writing %s: %s", p, strerror(-rc));
      kl_remove_tree(new_dir);
      return -1;
    }
  }
  char tmp_link[MAX_PATH_LEN * 2];
  snprintf(tmp_link, sizeof tmp_link, "%s/" DATA_TMP, dir);
  unlink(tmp_link);
  const char *base = strrchr(new_dir, '/') + 1;
  if (symlink(base, tmp_link) < 0 || rename(tmp_link, data_link) < 0) {
    snprintf(err, errlen, "switching %s: %s", data_link, strerror(errno));
    kl_remove_tree(new_dir);
    return -1;
  }
  fix_links(dir, payload);
  if (old[0] && strcmp(old, base)) {
    char old_dir[MAX_PATH_LEN * 2];
    snprintf(old_dir, sizeof old_dir, "%s/%s", dir, old);
    kl_remove_tree(old_dir);
  }
  return 1;
}
