/*
 * volumes.c - setting up, mounting and tearing down a pod's volumes (see
 * volumes.h), and the service account tokens of projected volumes.
 *
 * Setup is level-triggered: every sync recomputes each volume's contents
 * from the current ConfigMaps, Secrets, pod fields and tokens and lets the
 * atomic writer change what differs.  Objects still loading make the
 * setup PENDING (the object cache requeues the pod when they arrive); a
 * token request in flight does the same.
 */
#define _GNU_SOURCE
#include "volumes.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "env.h"
#include "local_path.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/quantity.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "node_status.h"
#include "objcache.h"
#include "pods_internal.h"

#define TOKEN_MAX_AGE_S (24 * 3600)
#define DEFAULT_TOKEN_EXPIRATION_S 3600

/* ---- tokens ---- */

struct tok {
  struct tok *next;
  char pod_uid[64];
  char key[768];
  char *token;
  int64_t issued_us, exp_us;
  bool inflight;
  char err[512];
  struct rest_request *req;
  struct kl_tokens *t;
};

struct kl_tokens {
  struct kubelet *k;
  struct tok *head;
};

struct kl_tokens *kl_tokens_new(struct kubelet *k)
{
  struct kl_tokens *t = xcalloc(1, sizeof *t);
  if (t) t->k = k;
  return t;
}

static void tok_free(struct tok *x)
{
  if (x->req) rest_cancel(x->req);
  free(x->token);
  free(x);
}

void kl_tokens_release(struct kl_tokens *t, const char *uid)
{
  struct tok **pp = &t->head;
  while (*pp) {
    struct tok *x = *pp;
    if (!strcmp(x->pod_uid, uid)) {
      *pp = x->next;
      tok_free(x);
    } else {
      pp = &x->next;
    }
  }
}

void kl_tokens_free(struct kl_tokens *t)
{
  if (!t) return;
  while (t->head) {
    struct tok *x = t->head;
    t->head = x->next;
    tok_free(x);
  }
  free(t);
}

static void token_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct tok *x = arg;
  x->req = NULL;
  x->inflight = false;
  if (err) {
    snprintf(x->err, sizeof x->err, "failed to fetch token: %s", err->message ? err->message : "request failed");
  } else {
    const char *tk = kj_get_str(body, "status.token"), *exp = kj_get_str(body, "status.expirationTimestamp");
    int64_t exp_us = 0;
    if (!tk || !exp || ktime_parse(exp, &exp_us) < 0) {
      snprintf(x->err, sizeof x->err, "failed to fetch token: the API server's answer carries no token");
    } else {
      free(x->token);
      x->token = xstrdup(tk);
      x->issued_us = ktime_now_us();
      x->exp_us = exp_us;
      x->err[0] = 0;
    }
  }
  struct kl_pod *p = x->t->k->pods ? kl_pod_get(x->t->k->pods, x->pod_uid) : NULL;
  if (p) kl_pod_enqueue(p);
}

static bool needs_refresh(const struct tok *x)
{
  if (!x->token) return true;
  int64_t now = ktime_now_us(), ttl = x->exp_us - x->issued_us;
  return now >= x->exp_us - ttl / 5 || now - x->issued_us >= (int64_t)TOKEN_MAX_AGE_S * 1000000;
}

/* KL_ENV_OK with *token borrowed, PENDING or ERROR. */
static int token_get(struct kl_pod *p, const char *sa, const char *aud, int64_t exp_s, const char **token, char *err,
                     size_t errlen)
{
  struct kl_tokens *t = p->mgr->tokens;
  char key[768];
  snprintf(key, sizeof key, "%s/%s/%s/%lld", p->ns, sa, aud ? aud : "", (long long)exp_s);
  struct tok *x = t->head;
  while (x && (strcmp(x->pod_uid, p->uid) || strcmp(x->key, key))) x = x->next;
  if (!x) {
    x = xcalloc(1, sizeof *x);
    x->t = t;
    snprintf(x->pod_uid, sizeof x->pod_uid, "%s", p->uid);
    snprintf(x->key, sizeof x->key, "%s", key);
    x->next = t->head;
    t->head = x;
  }
  if (!x->inflight && needs_refresh(x)) {
    json_t *spec = json_pack("{s:I, s:{s:s, s:s, s:s, s:s}}", "expirationSeconds", (json_int_t)exp_s, "boundObjectRef",
                             "apiVersion", "v1", "kind", "Pod", "name", p->name, "uid", p->uid);
    if (aud && *aud) json_object_set_new(spec, "audiences", json_pack("[s]", aud));
    json_t *body =
        json_pack("{s:s, s:s, s:o}", "apiVersion", "authentication.k8s.io/v1", "kind", "TokenRequest", "spec", spec);
    char path[800];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/serviceaccounts/%s/token", p->ns, sa);
    x->inflight = true;
    x->req = rest_request(t->k->client, "POST", path, body, token_done, x);
    json_decref(body);
  }
  if (x->token && x->exp_us > ktime_now_us()) {
    *token = x->token;
    return KL_ENV_OK;
  }
  if (x->err[0] && !x->inflight) {
    snprintf(err, errlen, "%s", x->err);
    return KL_ENV_ERROR;
  }
  return KL_ENV_PENDING;
}

/* ---- helpers ---- */

static char *vol_dir(const struct kl_pod *p, const char *plugin, const char *name, char *out, size_t len)
{
  char sub[600];
  snprintf(sub, sizeof sub, "volumes/%s/%s", plugin, name);
  return kl_pod_dir(p, sub, out, len);
}

static int mkdir_p(const char *path, mode_t mode)
{
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *s = buf + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
    *s = '/';
  }
  if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
  return 0;
}

static bool is_mountpoint(const char *path)
{
  struct stat a, b;
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s/..", path);
  return stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

static int ensure_tmpfs(const char *dir, int64_t size_bytes, char *err, size_t errlen)
{
  int rc = mkdir_p(dir, 0750);
  if (rc < 0) {
    snprintf(err, errlen, "mkdir %s: %s", dir, strerror(-rc));
    return -1;
  }
  if (is_mountpoint(dir)) return 0;
  char opts[64] = "";
  if (size_bytes > 0) snprintf(opts, sizeof opts, "size=%lld", (long long)size_bytes);
  if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts[0] ? opts : NULL) < 0) {
    snprintf(err, errlen, "mount tmpfs on %s: %s", dir, strerror(errno));
    return -1;
  }
  return 0;
}

static int fs_group(const struct kl_pod *p)
{
  json_t *g = kj_get(p->pod, "spec.securityContext.fsGroup");
  return json_is_integer(g) ? (int)json_integer_value(g) : -1;
}

/* ---- per volume type ---- */

static int setup_empty_dir(struct kl_pod *p, const json_t *vol, const char *dir, char *err, size_t errlen)
{
  const json_t *ed = kj_get(vol, "emptyDir");
  const char *medium = kj_get_str(ed, "medium") ?: "";
  if (!strcmp(medium, "Memory")) {
    int64_t size = 0;
    struct quantity q;
    const char *limit = kj_get_str(ed, "sizeLimit");
    if (limit && quantity_parse(limit, &q) == 0) size = quantity_value(&q);
    if (size <= 0) size = p->mgr->k->machine.memory_bytes;
    if (ensure_tmpfs(dir, size, err, errlen) < 0) return KL_ENV_ERROR;
  } else {
    int rc = mkdir_p(dir, 0750);
    if (rc < 0) {
      snprintf(err, errlen, "mkdir %s: %s", dir, strerror(-rc));
      return KL_ENV_ERROR;
    }
  }
  int g = fs_group(p);
  if (g >= 0 && chown(dir, (uid_t)-1, (gid_t)g) == 0) chmod(dir, 02777);
  else chmod(dir, 0777);
  return KL_ENV_OK;
}

/* hostPath type checks (upstream's checkType): 0 or -1 with the message. */
static int host_path_check(const char *path, const char *type, char *err, size_t errlen)
{
  struct stat st;
  bool exists = stat(path, &st) == 0;
  if (!type || !*type) return 0;
  if (!strcmp(type, "DirectoryOrCreate")) {
    if (!exists && mkdir_p(path, 0755) < 0) {
      snprintf(err, errlen, "hostPath type check failed: %s: %s", path, strerror(errno));
      return -1;
    }
    if (exists && !S_ISDIR(st.st_mode)) {
      snprintf(err, errlen, "hostPath type check failed: %s is not a directory", path);
      return -1;
    }
    return 0;
  }
  if (!strcmp(type, "FileOrCreate")) {
    if (!exists) {
      int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) {
        snprintf(err, errlen, "hostPath type check failed: %s: %s", path, strerror(errno));
        return -1;
      }
      close(fd);
      return 0;
    }
    if (!S_ISREG(st.st_mode)) {
      snprintf(err, errlen, "hostPath type check failed: %s is not a file", path);
      return -1;
    }
    return 0;
  }
  static const struct {
    const char *type, *what;
    mode_t fmt;
  } checks[] = {
      {"Directory", "a directory", S_IFDIR},      {"File", "a file", S_IFREG},
      {"Socket", "a socket file", S_IFSOCK},      {"CharDevice", "a character device", S_IFCHR},
      {"BlockDevice", "a block device", S_IFBLK},
  };
  for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
    if (strcmp(type, checks[i].type)) continue;
    if (!exists || (st.st_mode & S_IFMT) != checks[i].fmt) {
      snprintf(err, errlen, "hostPath type check failed: %s is not %s", path, checks[i].what);
      return -1;
    }
    return 0;
  }
  snprintf(err, errlen, "hostPath type check failed: unknown type %s", type);
  return -1;
}

/* The object of a configMap/secret source: OK (obj may be NULL: missing), PENDING. */
static int source_object(struct kl_pod *p, const char *kind, const char *name, const json_t **obj)
{
  *obj = NULL;
  int rc = kl_objcache_get(p->mgr->objs, p->uid, kind, p->ns, name, obj);
  if (rc == -EAGAIN) return KL_ENV_PENDING;
  if (rc < 0) *obj = NULL;
  return KL_ENV_OK;
}

static int payload_of_source(struct kl_pod *p, const json_t *src, bool secret, json_t **out, char *err, size_t errlen)
{
  const json_t *obj;
  const char *name = kj_get_str(src, secret ? "secretName" : "name") ?: "";
  if (source_object(p, secret ? "Secret" : "ConfigMap", name, &obj) == KL_ENV_PENDING) return KL_ENV_PENDING;
  *out = kl_payload_configmap(obj, src, secret, err, errlen);
  return *out ? KL_ENV_OK : KL_ENV_ERROR;
}

static json_t *node_allocatable(struct kl_pod *p)
{
  json_t *node = kl_node_object(p->mgr->k->node);
  json_t *a = json_incref(kj_get(node, "status.allocatable"));
  json_decref(node);
  return a ? a : json_object();
}

static int projected_payload(struct kl_pod *p, const json_t *proj, json_t **out, char *err, size_t errlen)
{
  int dmode = (int)kj_get_int(proj, "defaultMode", 0644);
  json_t *all = json_object();
  size_t i;
  json_t *s;
  int rc = KL_ENV_OK;
  json_array_foreach (kj_get(proj, "sources"), i, s) {
    json_t *part = NULL;
    if (kj_get(s, "configMap") || kj_get(s, "secret")) {
      bool secret = kj_get(s, "secret") != NULL;
      json_t *src = kj_deep_copy(kj_get(s, secret ? "secret" : "configMap"));
      if (secret) json_object_set(src, "secretName", json_object_get(src, "name"));
      if (!json_object_get(src, "defaultMode")) json_object_set_new(src, "defaultMode", json_integer(dmode));
      rc = payload_of_source(p, src, secret, &part, err, errlen);
      json_decref(src);
    } else if (kj_get(s, "downwardAPI")) {
      json_t *alloc = node_allocatable(p);
      part = kl_payload_downward(p->pod, kj_get(s, "downwardAPI.items"), dmode, alloc, err, errlen);
      json_decref(alloc);
      rc = part ? KL_ENV_OK : KL_ENV_ERROR;
    } else if (kj_get(s, "serviceAccountToken")) {
      const json_t *sat = kj_get(s, "serviceAccountToken");
      const char *path = kj_get_str(sat, "path") ?: "";
      const char *token = NULL;
      const char *sa = kj_get_str(p->pod, "spec.serviceAccountName") ?: "default";
      rc = token_get(p, sa, kj_get_str(sat, "audience"),
                     kj_get_int(sat, "expirationSeconds", DEFAULT_TOKEN_EXPIRATION_S), &token, err, errlen);
      if (rc == KL_ENV_OK) {
        part = json_object();
        json_object_set_new(part, path, json_pack("{s:s, s:i}", "content", token, "mode", dmode));
        if (kl_payload_validate_path(path, err, errlen) < 0) rc = KL_ENV_ERROR;
      }
    } else {
      snprintf(err, errlen, "unsupported projected volume source");
      rc = KL_ENV_ERROR;
    }
    if (part) json_object_update(all, part);
    json_decref(part);
    if (rc != KL_ENV_OK) break;
  }
  if (rc != KL_ENV_OK) {
    json_decref(all);
    return rc;
  }
  *out = all;
  return KL_ENV_OK;
}

static int write_volume(struct kl_pod *p, const char *dir, json_t *payload, bool tmpfs, char *err, size_t errlen)
{
  int mk = tmpfs ? 0 : mkdir_p(dir, 0755);
  if (mk < 0) snprintf(err, errlen, "mkdir %s: %s", dir, strerror(-mk));
  if (mk < 0 || (tmpfs && ensure_tmpfs(dir, 0, err, errlen) < 0)) {
    json_decref(payload);
    return KL_ENV_ERROR;
  }
  int rc = kl_atomic_write(dir, payload, fs_group(p), err, errlen);
  json_decref(payload);
  return rc < 0 ? KL_ENV_ERROR : KL_ENV_OK;
}

/* Where a failed volume setup is reported: upstream's operation and the
 * volume's name in `OPERATION for volume "NAME" : why` (for a claim, the
 * bound volume's name). */
struct mount_fail {
  const char *op;
  char vol[256];
};

static void fail_at(struct mount_fail *f, const char *op, const char *vol)
{
  if (!f) return;
  f->op = op;
  snprintf(f->vol, sizeof f->vol, "%s", vol);
}

/* Is volume name listed in the volumeMounts (devices false) or
 * volumeDevices (devices true) of one of the pod's containers? */
static bool pod_uses_volume(const json_t *pod, const char *name, bool devices)
{
  static const char *const lists[] = {"spec.initContainers", "spec.containers"};
  for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
    size_t i, j;
    json_t *c, *m;
    json_array_foreach (kj_get(pod, lists[l]), i, c) {
      json_array_foreach (kj_get(c, devices ? "volumeDevices" : "volumeMounts"), j, m)
        if (!strcmp(kj_get_str(m, "name") ?: "", name)) return true;
    }
  }
  return false;
}

/* Only Filesystem volumes, and only through volumeMounts (upstream's
 * messages for the mismatches); raw block devices are not supported. */
static int check_volume_mode(struct kl_pod *p, const char *vname, const json_t *pv, char *err, size_t errlen)
{
  const char *mode = kj_get_str(pv, "spec.volumeMode") ?: "Filesystem";
  bool block = !strcmp(mode, "Block");
  if (block && pod_uses_volume(p->pod, vname, false)) {
    snprintf(err, errlen, "volume %s has volumeMode %s, but is specified in volumeMounts", vname, mode);
    return -1;
  }
  if (!block && pod_uses_volume(p->pod, vname, true)) {
    snprintf(err, errlen, "volume %s has volumeMode %s, but is specified in volumeDevices", vname, mode);
    return -1;
  }
  if (block) {
    snprintf(err, errlen,
             "volume %s has volumeMode Block: raw block volumes (volumeDevices) are not supported by this kubelet",
             vname);
    return -1;
  }
  return 0;
}

/* The directory of a local volume: a local-path volume's is made here
 * (under --local-path-root only, and only on the volume's own node: a pod
 * placed elsewhere by nodeName would otherwise get an empty directory on
 * the wrong disk); any other must exist, as upstream. */
static int local_dir(struct kl_pod *p, const json_t *pv, const char *path, char *err, size_t errlen)
{
  const char *root = p->mgr->k->cfg->local_path_root, *node = p->mgr->k->node_name;
  if (kl_local_path_owned(pv)) {
    char entry[NAME_MAX + 1];
    if (!kl_local_path_on_node(pv, node)) {
      snprintf(err, errlen, "volume node affinity conflict: persistentvolume \"%s\" lives on another node than %s",
               kj_get_str(pv, "metadata.name") ?: "", node);
      return -1;
    }
    if (kl_local_path_entry(pv, root, entry, sizeof entry, err, errlen) < 0) return -1;
    return kl_local_path_create(root, entry, err, errlen);
  }
  struct stat st;
  if (stat(path, &st) < 0) {
    if (errno == ENOENT) snprintf(err, errlen, "path \"%s\" does not exist", path);
    else snprintf(err, errlen, "stat %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* The bound PV's host directory of a PVC volume (hostPath volumes made
 * when missing, local-path ones made, other local ones checked).  fail
 * (may be NULL) says where an error belongs. */
static int pvc_path(struct kl_pod *p, const json_t *vol, char *out, size_t len, struct mount_fail *fail, char *err,
                    size_t errlen)
{
  const char *claim = kj_get_str(vol, "persistentVolumeClaim.claimName") ?: "";
  const char *vname = kj_get_str(vol, "name") ?: "";
  const json_t *pvc = NULL, *pv = NULL;
  int rc = kl_objcache_get(p->mgr->objs, p->uid, "PersistentVolumeClaim", p->ns, claim, &pvc);
  if (rc == -EAGAIN) return KL_ENV_PENDING;
  if (rc < 0) {
    snprintf(err, errlen, "persistentvolumeclaim \"%s\" not found", claim);
    return KL_ENV_ERROR;
  }
  const char *pvname = kj_get_str(pvc, "spec.volumeName");
  if (!pvname || !*pvname || strcmp(kj_get_str(pvc, "status.phase") ?: "", "Bound")) {
    snprintf(err, errlen, "error processing PVC %s/%s: PVC is not bound", p->ns, claim);
    return KL_ENV_ERROR;
  }
  rc = kl_objcache_get(p->mgr->objs, p->uid, "PersistentVolume", "", pvname, &pv);
  if (rc == -EAGAIN) return KL_ENV_PENDING;
  if (rc < 0) {
    snprintf(err, errlen, "persistentvolume \"%s\" not found", pvname);
    return KL_ENV_ERROR;
  }
  if (check_volume_mode(p, vname, pv, err, errlen) < 0) {
    fail_at(fail, "MountVolume.SetUp failed", pvname);
    return KL_ENV_ERROR;
  }
  const char *path = kj_get_str(pv, "spec.hostPath.path"), *local = kj_get_str(pv, "spec.local.path");
  if (!path && !local) {
    snprintf(err, errlen, "persistentvolume \"%s\" is neither hostPath nor local: not supported by this kubelet",
             pvname);
    return KL_ENV_ERROR;
  }
  if (path) {
    const char *type = kj_get_str(pv, "spec.hostPath.type");
    if (host_path_check(path, type && *type ? type : "DirectoryOrCreate", err, errlen) < 0) {
      fail_at(fail, "MountVolume.SetUp failed", pvname);
      return KL_ENV_ERROR;
    }
  } else if (local_dir(p, pv, local, err, errlen) < 0) {
    fail_at(fail, "MountVolume.NewMounter initialization failed", pvname);
    return KL_ENV_ERROR;
  } else {
    path = local;
  }
  snprintf(out, len, "%s", path);
  return KL_ENV_OK;
}

static int setup_one(struct kl_pod *p, const json_t *vol, struct mount_fail *fail, char *err, size_t errlen)
{
  const char *name = kj_get_str(vol, "name") ?: "";
  char dir[PATH_MAX];
  json_t *payload = NULL;
  int rc;
  if (kj_get(vol, "emptyDir")) {
    return setup_empty_dir(p, vol, vol_dir(p, "kubernetes.io~empty-dir", name, dir, sizeof dir), err, errlen);
  } else if (kj_get(vol, "hostPath")) {
    return host_path_check(kj_get_str(vol, "hostPath.path") ?: "", kj_get_str(vol, "hostPath.type"), err, errlen) < 0
               ? KL_ENV_ERROR
               : KL_ENV_OK;
  } else if (kj_get(vol, "configMap") || kj_get(vol, "secret")) {
    bool secret = kj_get(vol, "secret") != NULL;
    if ((rc = payload_of_source(p, kj_get(vol, secret ? "secret" : "configMap"), secret, &payload, err, errlen)) !=
        KL_ENV_OK)
      return rc;
    vol_dir(p, secret ? "kubernetes.io~secret" : "kubernetes.io~configmap", name, dir, sizeof dir);
    return write_volume(p, dir, payload, secret, err, errlen);
  } else if (kj_get(vol, "downwardAPI")) {
    json_t *alloc = node_allocatable(p);
    payload = kl_payload_downward(p->pod, kj_get(vol, "downwardAPI.items"),
                                  (int)kj_get_int(vol, "downwardAPI.defaultMode", 0644), alloc, err, errlen);
    json_decref(alloc);
    if (!payload) return KL_ENV_ERROR;
    return write_volume(p, vol_dir(p, "kubernetes.io~downward-api", name, dir, sizeof dir), payload, false, err,
                        errlen);
  } else if (kj_get(vol, "projected")) {
    if ((rc = projected_payload(p, kj_get(vol, "projected"), &payload, err, errlen)) != KL_ENV_OK) return rc;
    return write_volume(p, vol_dir(p, "kubernetes.io~projected", name, dir, sizeof dir), payload, true, err, errlen);
  } else if (kj_get(vol, "persistentVolumeClaim")) {
    return pvc_path(p, vol, dir, sizeof dir, fail, err, errlen);
  }
  snprintf(err, errlen, "volume plugin for volume \"%s\" is not supported by this kubelet", name);
  return KL_ENV_ERROR;
}

int kl_volumes_setup(struct kl_pod *p, char *err, size_t errlen)
{
  size_t i;
  json_t *vol;
  int result = KL_ENV_OK;
  json_array_foreach (kj_get(p->pod, "spec.volumes"), i, vol) {
    char why[1024] = "";
    struct mount_fail fail = {.op = "MountVolume.SetUp failed"};
    snprintf(fail.vol, sizeof fail.vol, "%s", kj_get_str(vol, "name") ?: "");
    int rc = setup_one(p, vol, &fail, why, sizeof why);
    if (rc == KL_ENV_ERROR) {
      snprintf(err, errlen, "%s for volume \"%s\" : %s", fail.op, fail.vol, why);
      return KL_ENV_ERROR;
    }
    if (rc == KL_ENV_PENDING) result = KL_ENV_PENDING;
  }
  return result;
}

/* ---- mounts ---- */

static const json_t *find_volume(const json_t *pod, const char *name)
{
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(pod, "spec.volumes"), i, v)
    if (!strcmp(kj_get_str(v, "name") ?: "", name)) return v;
  return NULL;
}

/* Host path of a volume: KL_ENV_OK, or an error/pending. */
static int volume_host_path(struct kl_pod *p, const json_t *vol, char *out, size_t len, bool *ro, char *err,
                            size_t errlen)
{
  const char *name = kj_get_str(vol, "name") ?: "";
  *ro = false;
  if (kj_get(vol, "hostPath")) snprintf(out, len, "%s", kj_get_str(vol, "hostPath.path") ?: "");
  else if (kj_get(vol, "emptyDir")) vol_dir(p, "kubernetes.io~empty-dir", name, out, len);
  else if (kj_get(vol, "configMap")) *ro = true, vol_dir(p, "kubernetes.io~configmap", name, out, len);
  else if (kj_get(vol, "secret")) *ro = true, vol_dir(p, "kubernetes.io~secret", name, out, len);
  else if (kj_get(vol, "downwardAPI")) *ro = true, vol_dir(p, "kubernetes.io~downward-api", name, out, len);
  else if (kj_get(vol, "projected")) *ro = true, vol_dir(p, "kubernetes.io~projected", name, out, len);
  else if (kj_get(vol, "persistentVolumeClaim")) {
    *ro = kj_get_bool(vol, "persistentVolumeClaim.readOnly", false);
    return pvc_path(p, vol, out, len, NULL, err, errlen);
  } else {
    snprintf(err, errlen, "volume plugin for volume \"%s\" is not supported by this kubelet", name);
    return KL_ENV_ERROR;
  }
  return KL_ENV_OK;
}

static const char *propagation(const char *mp)
{
  if (mp && !strcmp(mp, "HostToContainer")) return "PROPAGATION_HOST_TO_CONTAINER";
  if (mp && !strcmp(mp, "Bidirectional")) return "PROPAGATION_BIDIRECTIONAL";
  return "PROPAGATION_PRIVATE";
}

/* host/sub, created as a directory when missing, never outside host. */
static int sub_path(const char *host, const char *sub, char *out, size_t len)
{
  if (!*sub || *sub == '/') return -EINVAL;
  for (const char *s = sub; *s;) {
    size_t n = strcspn(s, "/");
    if (n == 2 && !strncmp(s, "..", 2)) return -EINVAL;
    s += n;
    if (*s) s++;
  }
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", host, sub);
  struct stat st;
  if (lstat(path, &st) < 0 && mkdir_p(path, 0750) < 0) return -errno;
  char real_host[PATH_MAX], real[PATH_MAX];
  if (!realpath(host, real_host) || !realpath(path, real)) return -errno;
  size_t hl = strlen(real_host);
  if (strncmp(real, real_host, hl) || (real[hl] != '/' && real[hl] != 0)) return -EPERM;
  snprintf(out, len, "%s", real);
  return 0;
}

int kl_volume_mounts(struct kl_pod *p, const json_t *c, const json_t *vars, json_t *mounts, char *err, size_t errlen)
{
  size_t i;
  json_t *vm;
  const char *cname = kj_get_str(c, "name") ?: "";
  json_array_foreach (kj_get(c, "volumeMounts"), i, vm) {
    const char *vname = kj_get_str(vm, "name") ?: "";
    const json_t *vol = find_volume(p->pod, vname);
    if (!vol) {
      snprintf(err, errlen, "cannot find volume \"%s\" to mount into container \"%s\"", vname, cname);
      return KL_ENV_ERROR;
    }
    char host[PATH_MAX];
    bool ro = false;
    int rc = volume_host_path(p, vol, host, sizeof host, &ro, err, errlen);
    if (rc != KL_ENV_OK) return rc;
    const char *sp = kj_get_str(vm, "subPath");
    char *expanded = NULL;
    if (!sp || !*sp) {
      const char *expr = kj_get_str(vm, "subPathExpr");
      if (expr && *expr) sp = expanded = kl_env_expand(expr, vars);
    }
    if (sp && *sp) {
      char full[PATH_MAX];
      rc = sub_path(host, sp, full, sizeof full);
      free(expanded);
      if (rc < 0) {
        snprintf(err, errlen, "failed to prepare subPath for volumeMount \"%s\" of container \"%s\"", vname, cname);
        return KL_ENV_ERROR;
      }
      snprintf(host, sizeof host, "%s", full);
    }
    json_array_append_new(mounts, json_pack("{s:s, s:s, s:b, s:s}", "containerPath", kj_get_str(vm, "mountPath") ?: "",
                                            "hostPath", host, "readonly", ro || kj_get_bool(vm, "readOnly", false),
                                            "propagation", propagation(kj_get_str(vm, "mountPropagation"))));
  }
  return KL_ENV_OK;
}

/* ---- teardown ---- */

int kl_volumes_teardown(struct kl_pod *p)
{
  char vols[PATH_MAX];
  kl_pod_dir(p, "volumes", vols, sizeof vols);
  DIR *d = opendir(vols);
  struct dirent *plugin;
  while (d && (plugin = readdir(d))) {
    if (plugin->d_name[0] == '.') continue;
    char pdir[PATH_MAX];
    snprintf(pdir, sizeof pdir, "%s/%s", vols, plugin->d_name);
    DIR *pd = opendir(pdir);
    struct dirent *v;
    while (pd && (v = readdir(pd))) {
      if (v->d_name[0] == '.') continue;
      char path[PATH_MAX];
      snprintf(path, sizeof path, "%s/%s", pdir, v->d_name);
      if (is_mountpoint(path) && umount2(path, MNT_DETACH) < 0) KLOG_W("unmounting %s: %s", path, strerror(errno));
    }
    if (pd) closedir(pd);
  }
  if (d) closedir(d);
  kl_tokens_release(p->mgr->tokens, p->uid);
  char dir[PATH_MAX];
  kl_pod_dir(p, NULL, dir, sizeof dir);
  return kl_remove_tree(dir);
}
