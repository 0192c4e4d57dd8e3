/*
 * static_pods.c - pods from the manifest directory (staticPodPath,
 * --pod-manifest-path) and their mirror pods in the API.
 *
 * The directory is read every fileCheckFrequency.  Each file that is not
 * hidden holds one Pod (YAML or JSON).  As upstream does, the pod gets the
 * node name appended to its name, the namespace "default" when it has
 * none, a UID that hashes its content, the node and the file (so an edit
 * is a new pod: the old one stops, the new one starts), the annotations
 * kubernetes.io/config.hash, config.source "file" and config.seen, and
 * the defaults the API server would have given it.
 *
 * Each static pod is mirrored: a pod of the same name, annotated
 * kubernetes.io/config.mirror with the static pod's hash and owned by the
 * Node, is created in the API, and the static pod's status is written to
 * it.  A mirror whose hash is stale or whose static pod is gone is
 * deleted; a deleted mirror of a running static pod is made again.
 */
#define _GNU_SOURCE
#include "static_pods.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "images.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/yaml.h"
#include "kube/xalloc.h"
#include "node_status.h"
#include "pods_internal.h"

#define MANIFEST_MAX_BYTES (1 << 20)

struct spod {
  struct spod *next;
  char path[1024];
  char uid[64];
  char ns[256], name[256];
  json_t *pod;
  bool seen;        /* in the last scan */
  bool mirror_ok;   /* a mirror with our hash exists */
  bool mirror_busy; /* a create or delete is in flight */
};

/* A write in flight (create or delete of a mirror), cancelled when the
 * module goes first. */
struct scall {
  struct kl_static *s;
  struct scall *prev, *next;
  struct rest_request *req;
  char uid[64]; /* the static pod's (create) or the mirror's (delete) */
};

struct kl_static {
  struct kl_pods *m;
  struct spod *head;
  struct event *timer;
  json_t *deleting; /* mirror uid -> true: deletes in flight */
  struct scall *calls;
  bool scanned; /* the directory was read once */
};

static struct scall *scall_new(struct kl_static *s, const char *uid)
{
  struct scall *c = xcalloc(1, sizeof *c);
  c->s = s;
  snprintf(c->uid, sizeof c->uid, "%s", uid);
  c->next = s->calls;
  if (s->calls) s->calls->prev = c;
  s->calls = c;
  return c;
}

static void scall_free(struct scall *c)
{
  if (c->prev) c->prev->next = c->next;
  else c->s->calls = c->next;
  if (c->next) c->next->prev = c->prev;
  free(c);
}

/* ---- turning a manifest into the static pod ---- */

static void md5_hex(const char *data, size_t len, char *out)
{
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data, len, d, &n, EVP_md5(), NULL);
  for (unsigned i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static void default_container(json_t *c)
{
  kj_default(c, "imagePullPolicy", json_string(kl_image_pull_policy(c)));
  kj_default(c, "terminationMessagePath", json_string("/dev/termination-log"));
  kj_default(c, "terminationMessagePolicy", json_string("File"));
}

json_t *kl_static_pod_from_manifest(const json_t *doc, const char *node, const char *path, char *err, size_t errlen)
{
  if (!json_is_object(doc) || strcmp(kj_get_str(doc, "kind") ?: "", "Pod") ||
      strcmp(kj_get_str(doc, "apiVersion") ?: "", "v1")) {
    snprintf(err, errlen, "%s: not a v1 Pod", path);
    return NULL;
  }
  const char *name = kj_get_str(doc, "metadata.name");
  if (!name || !*name) {
    snprintf(err, errlen, "%s: the pod has no name", path);
    return NULL;
  }
  json_t *pod = kj_deep_copy(doc);
  char *canon = kj_dumps_canonical(doc);
  char *hash_in = NULL;
  hash_in = xasprintf("%shost:%sfile:%s", canon ? canon : "", node, path);
  char uid[2 * EVP_MAX_MD_SIZE + 1] = "";
  if (hash_in) md5_hex(hash_in, strlen(hash_in), uid);
  free(canon);
  free(hash_in);
  char full[600], now[40];
  snprintf(full, sizeof full, "%s-%s", name, node);
  kj_set_str(pod, "metadata.name", full);
  kj_default(pod, "metadata.namespace", json_string("default"));
  kj_set_str(pod, "metadata.uid", uid);
  json_t *ann = kj_obj(pod, "metadata.annotations");
  json_object_set_new(ann, KL_HASH_ANNOTATION, json_string(uid));
  json_object_set_new(ann, KL_SOURCE_ANNOTATION, json_string("file"));
  json_object_set_new(ann, "kubernetes.io/config.seen", json_string(ktime_now_micro_str(now)));
  json_t *spec = kj_obj(pod, "spec");
  json_object_set_new(spec, "nodeName", json_string(node));
  kj_default(spec, "restartPolicy", json_string("Always"));
  kj_default(spec, "dnsPolicy", json_string("ClusterFirst"));
  kj_default(spec, "terminationGracePeriodSeconds", json_integer(30));
  kj_default(spec, "schedulerName", json_string("default-scheduler"));
  kj_default(spec, "enableServiceLinks", json_true());
  json_array_append_new(kj_arr(spec, "tolerations"),
                        json_pack("{s:s, s:s}", "operator", "Exists", "effect", "NoExecute"));
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(spec, "containers"), i, c) default_container(c);
  json_array_foreach (kj_get(spec, "initContainers"), i, c) default_container(c);
  json_object_set_new(pod, "status", json_pack("{s:s}", "phase", "Pending"));
  return pod;
}

/* ---- mirrors ---- */

static struct spod *by_uid(struct kl_static *s, const char *uid)
{
  for (struct spod *p = s->head; p; p = p->next)
    if (!strcmp(p->uid, uid)) return p;
  return NULL;
}

static struct spod *by_name(struct kl_static *s, const char *ns, const char *name)
{
  for (struct spod *p = s->head; p; p = p->next)
    if (!strcmp(p->ns, ns) && !strcmp(p->name, name)) return p;
  return NULL;
}

/* A new mirror starts from its own status (Pending when created): the
 * static pod's status is compared against it and written to it. */
static void set_mirror_ok(struct kl_static *s, struct spod *sp, bool ok, const json_t *mirror_status)
{
  sp->mirror_ok = ok;
  struct kl_pod *p = kl_pod_get(s->m, sp->uid);
  if (!p) return;
  p->mirror_ok = ok;
  if (!ok || !p->pod) return;
  json_t *np = json_copy(p->pod); /* a sync may hold the old object */
  json_object_set_new(np, "status",
                      mirror_status ? kj_deep_copy(mirror_status) : json_pack("{s:s}", "phase", "Pending"));
  json_decref(p->pod);
  p->pod = np;
  kl_pod_enqueue(p);
}

static void created_cb(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct scall *c = arg;
  struct spod *sp = by_uid(c->s, c->uid);
  if (sp) {
    sp->mirror_busy = false;
    if (!err) set_mirror_ok(c->s, sp, true, kj_get(body, "status"));
    else if (code != 409) KLOG_W("creating mirror pod %s/%s: %d %s", sp->ns, sp->name, code, err->message ?: "");
  }
  scall_free(c);
}

static void create_mirror(struct kl_static *s, struct spod *sp)
{
  char node_uid[64];
  kl_node_uid(s->m->k->node, node_uid, sizeof node_uid);
  if (!node_uid[0]) return; /* the Node is not registered yet */
  json_t *mirror = kj_deep_copy(sp->pod);
  json_object_del(json_object_get(mirror, "metadata"), "uid");
  json_object_del(mirror, "status");
  json_object_set_new(kj_obj(mirror, "metadata.annotations"), KL_MIRROR_ANNOTATION, json_string(sp->uid));
  kj_set(mirror, "metadata.ownerReferences",
         json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", "v1", "kind", "Node", "name", s->m->k->node_name, "uid",
                   node_uid, "controller", 1));
  char path[400];
  snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", sp->ns);
  struct scall *c = scall_new(s, sp->uid);
  sp->mirror_busy = true;
  c->req = rest_request(s->m->k->client, "POST", path, mirror, created_cb, c);
  if (!c->req) {
    sp->mirror_busy = false;
    scall_free(c);
  }
  json_decref(mirror);
}

static void deleted_cb(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct scall *c = arg;
  json_object_del(c->s->deleting, c->uid);
  if (err && code != 404 && code != 409) KLOG_W("deleting a mirror pod: %d %s", code, err->message ?: "");
  scall_free(c);
}

/* Deletes a mirror at once (grace 0, its uid as precondition); a delete
 * that fails is made again by the next check. */
static void delete_mirror(struct kl_static *s, const json_t *mirror)
{
  const char *uid = kj_get_str(mirror, "metadata.uid");
  if (!uid || json_object_get(s->deleting, uid)) return;
  char path[800];
  snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", kj_get_str(mirror, "metadata.namespace") ?: "",
           kj_get_str(mirror, "metadata.name") ?: "");
  json_t *opts = json_pack("{s:s, s:s, s:i, s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1",
                           "gracePeriodSeconds", 0, "preconditions", "uid", uid);
  struct scall *c = scall_new(s, uid);
  json_object_set_new(s->deleting, uid, json_true());
  c->req = rest_request(s->m->k->client, "DELETE", path, opts, deleted_cb, c);
  if (!c->req) {
    json_object_del(s->deleting, uid);
    scall_free(c);
  }
  json_decref(opts);
}

/* A mirror that must go: its static pod is gone or changed, or someone is
 * deleting it (a deleted mirror of a running static pod is made again). */
static bool mirror_stale(struct kl_static *s, const json_t *mirror, struct spod **out)
{
  const char *ns = kj_get_str(mirror, "metadata.namespace") ?: "";
  const char *name = kj_get_str(mirror, "metadata.name") ?: "";
  const char *hash = kj_get_str(mirror, "metadata.annotations[\"" KL_MIRROR_ANNOTATION "\"]") ?: "";
  struct spod *sp = by_name(s, ns, name);
  *out = sp;
  return !sp || strcmp(hash, sp->uid) || kj_get(mirror, "metadata.deletionTimestamp");
}

void kl_static_mirror_seen(struct kl_static *s, const json_t *mirror, bool deleted)
{
  struct spod *sp = NULL;
  bool stale = mirror_stale(s, mirror, &sp);
  const char *hash = kj_get_str(mirror, "metadata.annotations[\"" KL_MIRROR_ANNOTATION "\"]") ?: "";
  if (deleted) {
    if (sp && !strcmp(hash, sp->uid)) set_mirror_ok(s, sp, false, NULL);
    return;
  }
  if (stale) {
    KLOG_I("Deleting mirror pod %s/%s", kj_get_str(mirror, "metadata.namespace") ?: "",
           kj_get_str(mirror, "metadata.name") ?: "");
    if (sp && !strcmp(hash, sp->uid)) set_mirror_ok(s, sp, false, NULL);
    delete_mirror(s, mirror);
    return;
  }
  if (!sp->mirror_ok) set_mirror_ok(s, sp, true, kj_get(mirror, "status"));
}

/* Mirrors on this node whose static pod is gone (a delete that failed, a
 * kubelet restart): deleted. */
static void sweep_mirrors(struct kl_static *s)
{
  json_t *pods = informer_store_list(s->m->inf);
  size_t i;
  json_t *pod;
  json_array_foreach (pods, i, pod) {
    if (!kj_get_str(pod, "metadata.annotations[\"" KL_MIRROR_ANNOTATION "\"]")) continue;
    struct spod *sp = NULL;
    if (mirror_stale(s, pod, &sp)) delete_mirror(s, pod);
  }
  json_decref(pods);
}

/* ---- the directory ---- */

static json_t *read_manifest(const char *path, char *err, size_t errlen)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = xmalloc(MANIFEST_MAX_BYTES + 1);
  size_t n = buf ? fread(buf, 1, MANIFEST_MAX_BYTES, f) : 0;
  fclose(f);
  json_t *doc = n ? kyaml_load(buf, n, err, errlen) : NULL;
  if (!n) snprintf(err, errlen, "%s: empty", path);
  free(buf);
  return doc;
}

static void scan_file(struct kl_static *s, const char *path)
{
  char err[600] = "";
  json_t *doc = read_manifest(path, err, sizeof err);
  json_t *pod = doc ? kl_static_pod_from_manifest(doc, s->m->k->node_name, path, err, sizeof err) : NULL;
  json_decref(doc);
  if (!pod) {
    KLOG_W("Could not process manifest file %s", err);
    return;
  }
  const char *uid = kj_get_str(pod, "metadata.uid");
  struct spod *sp = by_uid(s, uid);
  if (sp) {
    sp->seen = true;
    json_decref(pod);
    return;
  }
  sp = xcalloc(1, sizeof *sp);
  snprintf(sp->path, sizeof sp->path, "%s", path);
  snprintf(sp->uid, sizeof sp->uid, "%s", uid);
  snprintf(sp->ns, sizeof sp->ns, "%s", kj_get_str(pod, "metadata.namespace") ?: "");
  snprintf(sp->name, sizeof sp->name, "%s", kj_get_str(pod, "metadata.name") ?: "");
  sp->pod = pod;
  sp->seen = true;
  sp->next = s->head;
  s->head = sp;
  KLOG_I("Static pod %s/%s from %s", sp->ns, sp->name, path);
  kl_pods_set_desired(s->m, sp->uid, sp->pod, true);
}

void kl_static_check(struct kl_static *s)
{
  const char *dir = s->m->k->cfg->static_pod_path;
  if (!*dir) return;
  for (struct spod *p = s->head; p; p = p->next) p->seen = false;
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) continue;
    scan_file(s, path);
  }
  if (d) closedir(d);
  struct spod **pp = &s->head;
  while (*pp) {
    struct spod *sp = *pp;
    if (sp->seen) {
      if (!sp->mirror_ok && !sp->mirror_busy) create_mirror(s, sp);
      pp = &sp->next;
      continue;
    }
    KLOG_I("Static pod %s/%s removed from %s", sp->ns, sp->name, dir);
    *pp = sp->next;
    kl_pods_set_desired(s->m, sp->uid, NULL, true);
    json_decref(sp->pod);
    free(sp);
  }
  sweep_mirrors(s);
  s->scanned = true;
}

bool kl_static_scanned(const struct kl_static *s) { return !s || !*s->m->k->cfg->static_pod_path || s->scanned; }

static void tick(evutil_socket_t fd, short what, void *arg)
{
  struct kl_static *s = arg;
  kl_static_check(s);
  int64_t ms = s->m->k->cfg->file_check_frequency_ms > 0 ? s->m->k->cfg->file_check_frequency_ms : 20000;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  evtimer_add(s->timer, &tv);
}

struct kl_static *kl_static_new(struct kl_pods *m)
{
  struct kl_static *s = xcalloc(1, sizeof *s);
  if (!s) return NULL;
  s->m = m;
  s->timer = evtimer_new(m->k->base, tick, s);
  s->deleting = json_object();
  return s;
}

void kl_static_start(struct kl_static *s)
{
  if (!*s->m->k->cfg->static_pod_path) return;
  struct timeval tv = {0, 0};
  evtimer_add(s->timer, &tv);
}

void kl_static_free(struct kl_static *s)
{
  if (!s) return;
  while (s->head) {
    struct spod *sp = s->head;
    s->head = sp->next;
    json_decref(sp->pod);
    free(sp);
  }
  while (s->calls) {
    rest_cancel(s->calls->req);
    scall_free(s->calls);
  }
  if (s->timer) event_free(s->timer);
  json_decref(s->deleting);
  free(s);
}
