/*
 * discovery.c - a discovery pass (discovery.h): the requests of one pass
 * share a context that counts what is still out; the last answer hands
 * the collected lists to the caller and frees the context.
 */
#define _GNU_SOURCE
#include "discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/restclient.h"
#include "kube/xalloc.h"

#define DISC_MAX_REQUESTS 256

struct cm_discovery {
  struct rest_client *c;
  cm_discovery_fn done;
  void *arg;
  json_t *lists;
  char *failed;
  int pending;
  struct disc_req *reqs[DISC_MAX_REQUESTS]; /* NULL once answered */
  int nreqs;
};

/* One request of a pass: its slot is cleared when it answers, so a cancel
 * only touches requests still out. */
struct disc_req {
  struct cm_discovery *d;
  int idx;
  struct rest_request *r;
};

/* The pass a request belongs to, its slot cleared. */
static struct cm_discovery *req_answered(void *arg)
{
  struct disc_req *q = arg;
  struct cm_discovery *d = q->d;
  d->reqs[q->idx] = NULL;
  free(q);
  return d;
}

static void disc_free(struct cm_discovery *d)
{
  json_decref(d->lists);
  free(d->failed);
  free(d);
}

static void disc_fail(struct cm_discovery *d, const char *what, const struct rest_status *err)
{
  char *s = NULL;
  if (asprintf(&s, "%s%s%s: %s", d->failed ? d->failed : "", d->failed ? ", " : "", what,
               err && err->message ? err->message : "error") < 0)
    return;
  free(d->failed);
  d->failed = s;
}

static void disc_release(struct cm_discovery *d)
{
  if (--d->pending > 0) return;
  json_t *lists = d->lists;
  d->lists = NULL;
  d->done(d->arg, lists, d->failed);
  disc_free(d);
}

static void disc_send(struct cm_discovery *d, const char *path, rest_done_fn fn);

static void gv_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct cm_discovery *d = req_answered(arg);
  if (err) disc_fail(d, "group version", err);
  else if (body) json_array_append(d->lists, body);
  disc_release(d);
}

void cm_discovery_preferred(const json_t *group_list, json_t *out)
{
  size_t i;
  json_t *g;
  json_array_foreach (kj_get(group_list, "groups"), i, g) {
    const char *gv = kj_get_str(g, "preferredVersion.groupVersion");
    if (!gv) gv = kj_get_str(g, "versions[0].groupVersion");
    if (!gv) continue;
    char path[400];
    snprintf(path, sizeof path, "/apis/%s", gv);
    json_array_append_new(out, json_string(path));
  }
}

static void apis_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct cm_discovery *d = req_answered(arg);
  if (err) {
    disc_fail(d, "/apis", err);
  } else {
    json_t *paths = json_array();
    cm_discovery_preferred(body, paths);
    size_t i;
    json_t *p;
    json_array_foreach (paths, i, p) disc_send(d, json_string_value(p), gv_done);
    json_decref(paths);
  }
  disc_release(d);
}

static void disc_send(struct cm_discovery *d, const char *path, rest_done_fn fn)
{
  if (d->nreqs >= DISC_MAX_REQUESTS) {
    disc_fail(d, path, NULL);
    return;
  }
  struct disc_req *q = xcalloc(1, sizeof *q);
  q->d = d;
  q->idx = d->nreqs;
  d->pending++;
  q->r = rest_request(d->c, "GET", path, NULL, fn, q);
  if (!q->r) {
    d->pending--;
    free(q);
    return;
  }
  d->reqs[d->nreqs++] = q;
}

struct cm_discovery *cm_discovery_start(struct rest_client *c, cm_discovery_fn done, void *arg)
{
  if (!c) return NULL;
  struct cm_discovery *d = xcalloc(1, sizeof *d);
  d->c = c;
  d->done = done;
  d->arg = arg;
  d->lists = json_array();
  d->pending = 1; /* held until both are sent */
  disc_send(d, "/api/v1", gv_done);
  disc_send(d, "/apis", apis_done);
  if (d->pending == 1) {
    disc_free(d);
    return NULL;
  }
  disc_release(d);
  return d;
}

void cm_discovery_cancel(struct cm_discovery *d)
{
  if (!d) return;
  for (int i = 0; i < d->nreqs; i++)
    if (d->reqs[i]) {
      rest_cancel(d->reqs[i]->r);
      free(d->reqs[i]);
    }
  disc_free(d);
}

static bool has_verbs(const json_t *have, const char *verbs)
{
  char buf[256];
  snprintf(buf, sizeof buf, "%s", verbs);
  char *save = NULL;
  for (char *v = strtok_r(buf, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
    bool found = false;
    size_t i;
    json_t *x;
    json_array_foreach (have, i, x)
      if (!strcmp(json_string_value(x) ?: "", v)) found = true;
    if (!found) return false;
  }
  return true;
}

static bool skipped(const char *skip, const char *plural, const char *group)
{
  if (!skip) return false;
  char want[300];
  snprintf(want, sizeof want, "%s.%s", plural, group);
  size_t n = strlen(want);
  for (const char *p = skip; p && *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && !strncmp(p, want, n)) return true;
    p = e ? e + 1 : NULL;
  }
  return false;
}

void cm_discovery_resources(const json_t *lists, const char *verbs, const char *skip, json_t *out)
{
  size_t i, j;
  json_t *rl, *r;
  json_array_foreach (lists, i, rl) {
    const char *gv = kj_get_str(rl, "groupVersion");
    if (!gv) continue;
    const char *slash = strchr(gv, '/');
    char group[256];
    snprintf(group, sizeof group, "%.*s", slash ? (int)(slash - gv) : 0, gv);
    json_array_foreach (kj_get(rl, "resources"), j, r) {
      const char *name = kj_get_str(r, "name"), *kind = kj_get_str(r, "kind");
      if (!name || !kind || strchr(name, '/') || !has_verbs(kj_get(r, "verbs"), verbs)) continue;
      if (skipped(skip, name, group)) continue;
      char path[400];
      snprintf(path, sizeof path, "%s/%s/%s", slash ? "/apis" : "/api", gv, name);
      json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:b}", "path", path, "apiVersion", gv, "kind", kind,
                                           "namespaced", kj_get_bool(r, "namespaced", false)));
    }
  }
}
