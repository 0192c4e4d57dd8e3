/*
 * local_path.c - creating and removing the directories of this node's
 * local-path volumes (see local_path.h for the design and the safety
 * rules).
 *
 * One attempt at a time: the queue runs one worker, and an attempt owns
 * the removal thread until its answer comes back through a pipe the loop
 * watches, then (on success) the finalizer patch, then workqueue_done.
 * Every other step runs on the loop.
 */
#define _GNU_SOURCE
#include "local_path.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/recorder.h"
#include "kube/restclient.h"
#include "kube/workqueue.h"
#include "kube/xalloc.h"
#include "kubelet.h"

#define LABEL_HOSTNAME "kubernetes.io/hostname"
/* Retries of a failed removal or patch: 500 ms doubling to 5 minutes. */
#define CLEANUP_BACKOFF_BASE_MS 500
#define CLEANUP_BACKOFF_MAX_MS (5 * 60 * 1000)
/* Directory nesting the removal follows before giving up. */
#define REMOVE_MAX_DEPTH 256

/* ---- pure helpers ---- */

static const char *annotation(const json_t *obj, const char *key)
{
  return json_string_value(json_object_get(kj_get(obj, "metadata.annotations"), key));
}

bool kl_local_path_owned(const json_t *pv)
{
  const char *by = annotation(pv, KL_ANN_PROVISIONED_BY);
  return by && !strcmp(by, LOCAL_PATH_PROVISIONER) && kj_get_str(pv, "spec.local.path");
}

static bool term_names_node(const json_t *term, const char *node)
{
  size_t i, j;
  json_t *e, *v;
  json_array_foreach (kj_get(term, "matchExpressions"), i, e) {
    if (strcmp(kj_get_str(e, "key") ?: "", LABEL_HOSTNAME) || strcmp(kj_get_str(e, "operator") ?: "", "In")) continue;
    json_array_foreach (kj_get(e, "values"), j, v)
      if (json_is_string(v) && !strcmp(json_string_value(v), node)) return true;
  }
  return false;
}

bool kl_local_path_on_node(const json_t *pv, const char *node)
{
  const char *ann = annotation(pv, LOCAL_PATH_NODE_ANNOTATION);
  if (ann) return !strcmp(ann, node); /* the provisioner's own record */
  size_t i;
  json_t *t;
  json_array_foreach (kj_get(pv, "spec.nodeAffinity.required.nodeSelectorTerms"), i, t)
    if (term_names_node(t, node)) return true;
  return false;
}

static bool has_finalizer(const json_t *obj, const char *name)
{
  size_t i;
  json_t *f;
  json_array_foreach (kj_get(obj, "metadata.finalizers"), i, f)
    if (json_is_string(f) && !strcmp(json_string_value(f), name)) return true;
  return false;
}

bool kl_local_path_needs_cleanup(const json_t *pv, const char *node)
{
  return kl_local_path_owned(pv) && kj_get_str(pv, "metadata.deletionTimestamp") &&
         has_finalizer(pv, LOCAL_PATH_FINALIZER) && kl_local_path_on_node(pv, node);
}

int kl_local_path_entry(const json_t *pv, const char *root, char *entry, size_t len, char *err, size_t errlen)
{
  const char *path = kj_get_str(pv, "spec.local.path"), *name = kj_get_str(pv, "metadata.name") ?: "";
  size_t rl = strlen(root), nl = strlen(name);
  if (!path || !*path) {
    snprintf(err, errlen, "persistentvolume \"%s\" has no spec.local.path", name);
    return -1;
  }
  if (!*root || !strcmp(root, "/") || root[0] != '/') {
    snprintf(err, errlen, "refusing local-path root \"%s\": not an absolute directory other than \"/\"", root);
    return -1;
  }
  if (strncmp(path, root, rl) || path[rl] != '/' || strchr(path + rl + 1, '/')) {
    snprintf(err, errlen, "path \"%s\" of persistentvolume \"%s\" is not directly inside the local-path root \"%s\"",
             path, name, root);
    return -1;
  }
  const char *e = path + rl + 1;
  if (!*name || strncmp(e, name, nl) || e[nl] != '_' || strlen(e) >= len) {
    snprintf(err, errlen,
             "path \"%s\" is not the directory the local-path provisioner makes for persistentvolume \"%s\"", path,
             name);
    return -1;
  }
  snprintf(entry, len, "%s", e);
  return 0;
}

/* ---- the file system ---- */

static int mkdir_parents(const char *path, mode_t mode)
{
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -ENAMETOOLONG;
  for (char *s = buf + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
    *s = '/';
  }
  if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
  return 0;
}

/* An fd on root, refused when its path holds a symbolic link. */
static int open_root(const char *root, char *err, size_t errlen)
{
  char real[PATH_MAX];
  if (!realpath(root, real)) {
    snprintf(err, errlen, "local-path root \"%s\": %s", root, strerror(errno));
    return -1;
  }
  if (strcmp(real, root)) {
    snprintf(err, errlen, "refusing local-path root \"%s\": it resolves to \"%s\" through a symbolic link", root, real);
    return -1;
  }
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) snprintf(err, errlen, "local-path root \"%s\": %s", root, strerror(errno));
  return fd;
}

int kl_local_path_create(const char *root, const char *entry, char *err, size_t errlen)
{
  int rc = mkdir_parents(root, 0755);
  if (rc < 0) {
    snprintf(err, errlen, "mkdir %s: %s", root, strerror(-rc));
    return -1;
  }
  int rfd = open_root(root, err, errlen);
  if (rfd < 0) return -1;
  struct stat st;
  rc = 0;
  if (mkdirat(rfd, entry, 0777) == 0) {
    /* the umask took bits off: the volume is world-writable, as k3s's */
    if (fchmodat(rfd, entry, 0777, 0) < 0) rc = -errno;
  } else if (errno != EEXIST) {
    rc = -errno;
  } else if (fstatat(rfd, entry, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    rc = -errno;
  } else if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s/%s exists and is not a directory", root, entry);
    close(rfd);
    return -1;
  }
  close(rfd);
  if (rc < 0) {
    snprintf(err, errlen, "mkdir %s/%s: %s", root, entry, strerror(-rc));
    return -1;
  }
  return 0;
}

/* Empties the directory dfd (owned: closed here) on device dev.  0 or a
 * negative errno; path is for messages only. */
static int remove_contents(int dfd, dev_t dev, int depth, const char *path, char *err, size_t errlen)
{
  DIR *d = fdopendir(dfd);
  if (!d) {
    int e = errno;
    close(dfd);
    snprintf(err, errlen, "reading %s: %s", path, strerror(e));
    return -e;
  }
  int rc = 0;
  struct dirent *de;
  while (rc == 0 && (errno = 0, de = readdir(d))) {
    const char *n = de->d_name;
    if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
    struct stat st;
    if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) continue;
      rc = -errno;
      snprintf(err, errlen, "stat %s/%s: %s", path, n, strerror(errno));
      break;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (unlinkat(dirfd(d), n, 0) < 0 && errno != ENOENT) {
        rc = -errno;
        snprintf(err, errlen, "removing %s/%s: %s", path, n, strerror(errno));
      }
      continue;
    }
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/%s", path, n);
    if (st.st_dev != dev) {
      snprintf(err, errlen, "%s is a mount point: not removed", sub);
      rc = -EBUSY;
      break;
    }
    if (depth >= REMOVE_MAX_DEPTH) {
      snprintf(err, errlen, "%s: directories nested too deep", sub);
      rc = -ELOOP;
      break;
    }
    /* O_NOFOLLOW: a directory swapped for a symbolic link since the stat
     * fails to open instead of leading elsewhere. */
    int sfd = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sst;
    if (sfd < 0 || fstat(sfd, &sst) < 0 || sst.st_dev != dev) {
      rc = sfd < 0 ? -errno : -EBUSY;
      snprintf(err, errlen, "opening %s: %s", sub, strerror(-rc));
      if (sfd >= 0) close(sfd);
      break;
    }
    rc = remove_contents(sfd, dev, depth + 1, sub, err, errlen);
    if (rc == 0 && unlinkat(dirfd(d), n, AT_REMOVEDIR) < 0 && errno != ENOENT) {
      rc = -errno;
      snprintf(err, errlen, "removing %s: %s", sub, strerror(errno));
    }
  }
  if (rc == 0 && errno) {
    rc = -errno;
    snprintf(err, errlen, "reading %s: %s", path, strerror(errno));
  }
  closedir(d);
  return rc;
}

int kl_local_path_remove(const char *root, const char *entry, char *err, size_t errlen)
{
  struct stat st;
  if (lstat(root, &st) < 0 && errno == ENOENT) return 0; /* nothing was ever made */
  int rfd = open_root(root, err, errlen);
  if (rfd < 0) return -1;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", root, entry);
  int rc = 0;
  if (fstatat(rfd, entry, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno != ENOENT) {
      snprintf(err, errlen, "stat %s: %s", path, strerror(errno));
      rc = -1;
    }
  } else if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(rfd, entry, 0) < 0 && errno != ENOENT) {
      snprintf(err, errlen, "removing %s: %s", path, strerror(errno));
      rc = -1;
    }
  } else {
    int dfd = openat(rfd, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
      snprintf(err, errlen, "opening %s: %s", path, strerror(errno));
      rc = -1;
    } else if (remove_contents(dfd, st.st_dev, 0, path, err, errlen) < 0) {
      rc = -1;
    } else if (unlinkat(rfd, entry, AT_REMOVEDIR) < 0 && errno != ENOENT) {
      snprintf(err, errlen, "removing %s: %s", path, strerror(errno));
      rc = -1;
    }
  }
  close(rfd);
  return rc;
}

/* ---- the cleaner ---- */

/* One removal on the worker thread; the loop reads it after the thread
 * has written its byte to the pipe. */
struct removal {
  char root[PATH_MAX];
  char entry[NAME_MAX + 1];
  int rc;
  char err[1024];
};

struct kl_local_path {
  struct kubelet *k;
  struct informer *inf;
  struct workqueue *q;
  int pipe[2];
  struct event *done_ev;
  bool thread_running;
  pthread_t thread;
  struct removal job;
  char key[256];      /* the volume of the attempt in flight, "" none */
  char rv[64];        /* its resourceVersion when the attempt began */
  json_t *finalizers; /* what the patch leaves (owned) */
  struct rest_request *req;
};

static void enqueue_if_needed(struct kl_local_path *l, const json_t *pv)
{
  if (!kl_local_path_needs_cleanup(pv, l->k->node_name)) return;
  workqueue_add(l->q, kj_get_str(pv, "metadata.name") ?: "");
}

static void on_add(void *arg, const json_t *pv) { enqueue_if_needed(arg, pv); }
static void on_update(void *arg, const json_t *old, const json_t *pv) { enqueue_if_needed(arg, pv); }
static void on_delete(void *arg, const json_t *pv, bool unknown) {}

/* Ends the attempt at key; failed: retried after the backoff. */
static void attempt_end(struct kl_local_path *l, bool failed)
{
  char key[sizeof l->key];
  snprintf(key, sizeof key, "%s", l->key);
  l->key[0] = 0;
  json_decref(l->finalizers);
  l->finalizers = NULL;
  if (failed) {
    workqueue_add_rate_limited(l->q, key);
  } else {
    workqueue_forget(l->q, key);
  }
  workqueue_done(l->q, key);
}

/* A Warning Event on the volume (list items carry no kind: a reference). */
static void warn(struct kl_local_path *l, const json_t *pv, const char *msg)
{
  KLOG_W("local-path volume %s: %s", kj_get_str(pv, "metadata.name") ?: "", msg);
  json_t *ref = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", "PersistentVolume", "apiVersion", "v1", "name",
                          kj_get_str(pv, "metadata.name") ?: "", "uid", kj_get_str(pv, "metadata.uid") ?: "",
                          "resourceVersion", kj_get_str(pv, "metadata.resourceVersion") ?: "");
  recorder_eventf(l->k->recorder, ref, RECORDER_EVENT_WARNING, "VolumeFailedDelete", "%s", msg);
  json_decref(ref);
}

static void patch_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct kl_local_path *l = arg;
  l->req = NULL;
  if (!err || err->code == 404) {
    if (!err) KLOG_I("local-path volume %s: directory removed, finalizer %s removed", l->key, LOCAL_PATH_FINALIZER);
    attempt_end(l, false);
    return;
  }
  if (err->code == 409) { /* changed meanwhile: look again at the newer version */
    KLOG_V(2, "local-path volume %s: %s", l->key, err->message ?: "conflict");
    char key[sizeof l->key];
    snprintf(key, sizeof key, "%s", l->key);
    attempt_end(l, false);
    workqueue_add(l->q, key);
    return;
  }
  KLOG_W("local-path volume %s: removing finalizer %s: %s", l->key, LOCAL_PATH_FINALIZER,
         err->message ?: "request failed");
  attempt_end(l, true);
}

static void remove_finalizer(struct kl_local_path *l)
{
  json_t *patch = json_pack("{s:{s:s, s:O}}", "metadata", "resourceVersion", l->rv, "finalizers",
                            json_array_size(l->finalizers) ? l->finalizers : json_null());
  char path[400];
  snprintf(path, sizeof path, "/api/v1/persistentvolumes/%s", l->key);
  l->req = rest_request(l->k->client, "PATCH", path, patch, patch_done, l);
  json_decref(patch);
  if (l->req) rest_request_discard_body(l->req);
  else attempt_end(l, true);
}

static void *removal_main(void *arg)
{
  struct kl_local_path *l = arg;
  l->job.rc = kl_local_path_remove(l->job.root, l->job.entry, l->job.err, sizeof l->job.err);
  char b = 1;
  while (write(l->pipe[1], &b, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

static void removal_done(evutil_socket_t fd, short what, void *arg)
{
  struct kl_local_path *l = arg;
  char b;
  if (read(fd, &b, 1) != 1) return;
  pthread_join(l->thread, NULL);
  l->thread_running = false;
  if (l->job.rc == 0) {
    remove_finalizer(l);
    return;
  }
  json_t *pv = informer_store_get_obj(l->inf, l->key);
  if (pv) {
    char msg[1300];
    snprintf(msg, sizeof msg, "failed to delete volume directory %s/%s: %s", l->job.root, l->job.entry, l->job.err);
    warn(l, pv, msg);
  }
  json_decref(pv);
  attempt_end(l, true);
}

/* The finalizers the volume keeps (new reference). */
static json_t *other_finalizers(const json_t *pv)
{
  json_t *out = json_array();
  size_t i;
  json_t *f;
  json_array_foreach (kj_get(pv, "metadata.finalizers"), i, f)
    if (!json_is_string(f) || strcmp(json_string_value(f), LOCAL_PATH_FINALIZER)) json_array_append(out, f);
  return out;
}

static void process(void *arg, struct workqueue *q, const char *key)
{
  struct kl_local_path *l = arg;
  snprintf(l->key, sizeof l->key, "%s", key);
  json_t *pv = informer_store_get_obj(l->inf, key);
  if (!pv || !kl_local_path_needs_cleanup(pv, l->k->node_name)) {
    json_decref(pv);
    attempt_end(l, false);
    return;
  }
  char err[1024];
  if (kl_local_path_entry(pv, l->k->cfg->local_path_root, l->job.entry, sizeof l->job.entry, err, sizeof err) < 0) {
    warn(l, pv, err);
    json_decref(pv);
    attempt_end(l, true);
    return;
  }
  snprintf(l->job.root, sizeof l->job.root, "%s", l->k->cfg->local_path_root);
  snprintf(l->rv, sizeof l->rv, "%s", kj_get_str(pv, "metadata.resourceVersion") ?: "");
  l->finalizers = other_finalizers(pv);
  json_decref(pv);
  l->job.err[0] = 0;
  if (pthread_create(&l->thread, NULL, removal_main, l) != 0) {
    KLOG_E("local-path volume %s: cannot start the removal thread", key);
    attempt_end(l, true);
    return;
  }
  l->thread_running = true;
}

struct kl_local_path *kl_local_path_new(struct kubelet *k)
{
  struct kl_local_path *l = xcalloc(1, sizeof *l);
  l->k = k;
  l->pipe[0] = l->pipe[1] = -1;
  if (pipe2(l->pipe, O_CLOEXEC) < 0) {
    free(l);
    return NULL;
  }
  struct informer_opts o = {.path = "/api/v1/persistentvolumes", .keep_parsed = true, .drop_managed_fields = true};
  l->inf = informer_new(k->base, k->client, &o);
  l->q = workqueue_new(k->base, "local-path-cleanup");
  l->done_ev = event_new(k->base, l->pipe[0], EV_READ | EV_PERSIST, removal_done, l);
  if (!l->inf || !l->q || !l->done_ev) {
    kl_local_path_free(l);
    return NULL;
  }
  workqueue_set_rate_limits(l->q, CLEANUP_BACKOFF_BASE_MS, CLEANUP_BACKOFF_MAX_MS, 0, 0);
  struct informer_handlers h = {on_add, on_update, on_delete, l};
  informer_add_handlers(l->inf, &h);
  event_add(l->done_ev, NULL);
  return l;
}

void kl_local_path_start(struct kl_local_path *l)
{
  informer_start(l->inf);
  workqueue_run(l->q, 1, process, l);
}

void kl_local_path_stop(struct kl_local_path *l) { workqueue_shutdown(l->q); }

void kl_local_path_free(struct kl_local_path *l)
{
  if (!l) return;
  if (l->thread_running) pthread_join(l->thread, NULL);
  if (l->req) rest_cancel(l->req);
  if (l->done_ev) event_free(l->done_ev);
  if (l->q) workqueue_free(l->q);
  if (l->inf) informer_free(l->inf);
  json_decref(l->finalizers);
  if (l->pipe[0] >= 0) close(l->pipe[0]);
  if (l->pipe[1] >= 0) close(l->pipe[1]);
  free(l);
}
