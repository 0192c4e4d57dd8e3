/*
 * docker_images.c - the image half of the runtime interface over the
 * Engine API: list, status, pull (with registry credentials), remove, and
 * import of a root filesystem tarball (the built-in pause image).
 *
 * Pulls and imports answer 200 and then report progress as JSON lines;
 * a failure arrives as a line {"error": ...} inside that 200 body, so the
 * stream is scanned for it.  The image reference returned is the image id
 * ("sha256:..."), read back after the pull.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker_internal.h"
#include "kube/base64.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/strconv.h"
#include "kube/xalloc.h"

#define DK(rt) ((struct dk_runtime *)(rt))
#define PROGRESS_MAX_BYTES (1 << 20)

static void started(struct dk_call *c, struct dk_req *r)
{
  if (!r) dk_call_finish(c, -ENOMEM, NULL, "out of memory");
}

static json_t *image_json(const json_t *in)
{
  json_t *tags = kj_get(in, "RepoTags"), *digests = kj_get(in, "RepoDigests");
  json_t *img = json_pack("{s:s, s:o, s:o, s:I}", "id", kj_get_str(in, "Id") ?: "", "repoTags",
                          json_is_array(tags) ? json_incref(tags) : json_array(), "repoDigests",
                          json_is_array(digests) ? json_incref(digests) : json_array(), "size",
                          (json_int_t)kj_get_int(in, "Size", 0));
  const char *user = kj_get_str(in, "Config.User");
  if (user && *user) {
    char u[128];
    snprintf(u, sizeof u, "%s", user);
    char *colon = strchr(u, ':');
    if (colon) *colon = 0;
    int64_t uid;
    if (kstr_parse_int64(u, &uid) == 0) json_object_set_new(img, "uid", json_pack("{s:I}", "value", (json_int_t)uid));
    else json_object_set_new(img, "username", json_string(u));
  }
  return img;
}

static void list_done(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  json_t *items = dk_body_json(r);
  if (!json_is_array(items)) {
    json_decref(items);
    dk_call_fail(c, r);
    return;
  }
  json_t *out = json_array();
  size_t i;
  json_t *it;
  json_array_foreach (items, i, it) json_array_append_new(out, image_json(it));
  json_decref(items);
  json_t *res = json_pack("{s:o}", "images", out);
  dk_call_finish(c, 0, res, NULL);
  json_decref(res);
}

void dk_list_images(struct kl_runtime *rt, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  started(c, dk_request(DK(rt)->cli, "GET", DK_API "/images/json", NULL, NULL, 0, list_done, c));
}

static void status_done(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  json_t *in = dk_body_json(r);
  if (!in) {
    dk_call_fail(c, r);
    return;
  }
  json_t *res = json_pack("{s:o}", "image", image_json(in));
  json_decref(in);
  dk_call_finish(c, 0, res, NULL);
  json_decref(res);
}

void dk_image_status(struct kl_runtime *rt, const char *image, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  char path[1200];
  snprintf(path, sizeof path, DK_API "/images/%s/json", image);
  started(c, dk_request(DK(rt)->cli, "GET", path, NULL, NULL, 0, status_done, c));
}

static void remove_done(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  if (dk_errno(r)) dk_call_fail(c, r);
  else dk_call_finish(c, 0, NULL, NULL);
}

void dk_remove_image(struct kl_runtime *rt, const char *image, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  char path[1200];
  snprintf(path, sizeof path, DK_API "/images/%s", image);
  started(c, dk_request(DK(rt)->cli, "DELETE", path, NULL, NULL, 0, remove_done, c));
}

/* ---- pull and import: progress streams ---- */

/* Keeps the last complete lines of the progress stream in c->data.buf;
 * remembers the first {"error"} line's message and the last status. */
static int progress_data(void *arg, const char *data, size_t len)
{
  struct dk_call *c = arg;
  json_t *buf = json_object_get(c->data, "buf");
  const char *old = json_string_value(buf) ?: "";
  size_t ol = strlen(old);
  if (ol + len > PROGRESS_MAX_BYTES) ol = 0;
  char *all = xmalloc(ol + len + 1);
  if (!all) return -1;
  memcpy(all, old, ol);
  memcpy(all + ol, data, len);
  all[ol + len] = 0;
  char *line = all, *nl;
  while ((nl = strchr(line, '\n'))) {
    *nl = 0;
    json_t *j = json_loads(line, 0, NULL);
    const char *err = json_string_value(json_object_get(j, "error"));
    const char *st = json_string_value(json_object_get(j, "status"));
    if (err && !json_object_get(c->data, "error")) json_object_set_new(c->data, "error", json_string(err));
    if (st) json_object_set_new(c->data, "status", json_string(st));
    json_decref(j);
    line = nl + 1;
  }
  json_object_set_new(c->data, "buf", json_string(line));
  free(all);
  return 0;
}

static void ref_done(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  json_t *in = dk_body_json(r);
  if (!in) {
    dk_call_fail(c, r);
    return;
  }
  json_t *res = json_pack("{s:s}", "imageRef", kj_get_str(in, "Id") ?: "");
  json_decref(in);
  dk_call_finish(c, 0, res, NULL);
  json_decref(res);
}

static void progress_done(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  if (dk_errno(r)) {
    dk_call_fail(c, r);
    return;
  }
  const char *err = json_string_value(json_object_get(c->data, "error"));
  if (err) {
    dk_call_finish(c, strstr(err, "not found") || strstr(err, "does not exist") ? -ENOENT : -EIO, NULL, err);
    return;
  }
  char path[1200];
  snprintf(path, sizeof path, DK_API "/images/%s/json", json_string_value(json_object_get(c->data, "image")));
  started(c, dk_request(c->rt->cli, "GET", path, NULL, NULL, 0, ref_done, c));
}

/* X-Registry-Auth: the AuthConfig JSON in URL-safe base64 with padding
 * (Go's URLEncoding, which the engine decodes). */
static char *registry_auth_header(const json_t *auth)
{
  json_t *ac = json_pack("{s:s, s:s, s:s, s:s}", "username", kj_get_str(auth, "username") ?: "", "password",
                         kj_get_str(auth, "password") ?: "", "auth", kj_get_str(auth, "auth") ?: "", "serveraddress",
                         kj_get_str(auth, "serverAddress") ?: "");
  char *js = kj_dumps(ac);
  json_decref(ac);
  char *b64 = kb64_encode(js, strlen(js), KB64_STD);
  for (char *p = b64; *p; p++) {
    if (*p == '+') *p = '-';
    else if (*p == '/') *p = '_';
  }
  char *hdr = xasprintf("X-Registry-Auth: %s", b64);
  free(b64);
  free(js);
  return hdr;
}

void dk_pull_image(struct kl_runtime *rt, const char *image, const json_t *auth, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  c->data = json_pack("{s:s}", "image", image);
  char repo[1024], tag[256];
  dk_split_image_ref(image, repo, sizeof repo, tag, sizeof tag);
  char *er = kstr_url_encode(repo), *et = kstr_url_encode(tag);
  char path[1600];
  snprintf(path, sizeof path, DK_API "/images/create?fromImage=%s&tag=%s", er ? er : "", et ? et : "");
  free(er);
  free(et);
  struct dk_req *r = dk_stream(DK(rt)->cli, "POST", path, NULL, NULL, 0, progress_data, progress_done, c);
  if (r && auth) {
    char *h = registry_auth_header(auth);
    if (h) dk_add_header(r, h);
    free(h);
  }
  started(c, r);
}

void dk_import_image(struct kl_runtime *rt, const char *image, const void *tar, size_t len, const json_t *entrypoint,
                     kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  c->data = json_pack("{s:s}", "image", image);
  char repo[1024], tag[256];
  dk_split_image_ref(image, repo, sizeof repo, tag, sizeof tag);
  char *ep = entrypoint ? kj_dumps(entrypoint) : NULL;
  char *change = NULL;
  change = xasprintf("ENTRYPOINT %s", ep ? ep : "[]");
  char *er = kstr_url_encode(repo), *et = kstr_url_encode(tag), *ec = kstr_url_encode(change ? change : "");
  char path[2048];
  snprintf(path, sizeof path, DK_API "/images/create?fromSrc=-&repo=%s&tag=%s&changes=%s", er ? er : "", et ? et : "",
           ec ? ec : "");
  free(ep);
  free(change);
  free(er);
  free(et);
  free(ec);
  started(c, dk_stream(DK(rt)->cli, "POST", path, "application/x-tar", tar, len, progress_data, progress_done, c));
}
