/*
 * core_common.c - groups the API writes of one controller sync and
 * finishes the workqueue key when the last one answers (see core_common.h).
 * The batch holds one reference for the sync itself, released by
 * sync_batch_end(), and one per request in flight.
 */
#include "core_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/informer.h"
#include "kube/log.h"
#include "kube/json.h"
#include "kube/restclient.h"
#include "kube/selector.h"
#include "kube/timeutil.h"
#include "kube/workqueue.h"

struct sb_req;

struct sync_batch {
  struct sync_batch_set *set;
  struct sync_batch *prev, *next; /* in set */
  struct sb_req *reqs;            /* in flight */
  struct rest_client *client;
  struct workqueue *q;
  char *key;
  int refs;
  bool failed;
  int64_t requeue_ms;
  void *att;
  void (*att_free)(void *);
};

struct sb_req {
  struct sync_batch *b;
  struct sb_req *prev, *next;
  struct rest_request *rq;
  sync_batch_fn cb;
  void *arg;
  bool free_arg;
  char method[8];
  char *path;
};

struct sync_batch *sync_batch_new(struct sync_batch_set *set, struct rest_client *c, struct workqueue *q,
                                  const char *key)
{
  struct sync_batch *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->client = c;
  b->q = q;
  b->key = key ? strdup(key) : NULL;
  b->refs = 1;
  b->requeue_ms = -1;
  b->set = set;
  if (set) {
    b->next = set->head;
    if (set->head) set->head->prev = b;
    set->head = b;
  }
  return b;
}

void sync_batch_attach(struct sync_batch *b, void *ptr, void (*free_fn)(void *))
{
  b->att = ptr;
  b->att_free = free_fn;
}

static void sb_destroy(struct sync_batch *b)
{
  if (b->set) {
    if (b->prev) b->prev->next = b->next;
    else b->set->head = b->next;
    if (b->next) b->next->prev = b->prev;
  }
  if (b->att_free) b->att_free(b->att);
  free(b->key);
  free(b);
}

static void sb_put(struct sync_batch *b)
{
  if (--b->refs > 0) return;
  if (b->q && b->key) {
    if (b->failed) {
      workqueue_add_rate_limited(b->q, b->key);
    } else {
      workqueue_forget(b->q, b->key);
      if (b->requeue_ms >= 0) workqueue_add_after(b->q, b->key, b->requeue_ms);
    }
    workqueue_done(b->q, b->key);
  }
  sb_destroy(b);
}

static void sb_unlink_req(struct sb_req *r)
{
  if (r->prev) r->prev->next = r->next;
  else r->b->reqs = r->next;
  if (r->next) r->next->prev = r->prev;
}

static void sb_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct sb_req *r = arg;
  struct sync_batch *b = r->b;
  sb_unlink_req(r);
  if (err) {
    bool ok = code == 404 || (code == 409 && !strcmp(r->method, "POST") && err->reason &&
                              !strcmp(err->reason, "AlreadyExists"));
    if (!ok) {
      KLOG_W("%s %s: %d %s", r->method, r->path, code, err->message ? err->message : "");
      b->failed = true;
    }
  }
  if (r->cb) r->cb(r->arg, b, code, body, err);
  free(r->path);
  free(r);
  sb_put(b);
}

static int sb_start(struct sync_batch *b, const char *method, const char *path, const char *content_type,
                    const json_t *body, sync_batch_fn cb, void *arg, bool free_arg)
{
  struct sb_req *r = calloc(1, sizeof *r);
  if (!r) {
    b->failed = true;
    if (free_arg) free(arg);
    return -ENOMEM;
  }
  r->b = b;
  r->cb = cb;
  r->arg = arg;
  r->free_arg = free_arg;
  snprintf(r->method, sizeof r->method, "%s", method);
  r->path = strdup(path);
  struct rest_request *rq = content_type
                                ? rest_request_ct(b->client, method, path, content_type, body, sb_done, r)
                                : rest_request(b->client, method, path, body, sb_done, r);
  if (!rq || !r->path) {
    if (rq) rest_cancel(rq);
    free(r->path);
    free(r);
    if (free_arg) free(arg);
    b->failed = true;
    return -ENOMEM;
  }
  r->rq = rq;
  r->next = b->reqs;
  if (b->reqs) b->reqs->prev = r;
  b->reqs = r;
  b->refs++;
  return 0;
}

int sync_batch_req(struct sync_batch *b, const char *method, const char *path,
                   const char *content_type, const json_t *body, sync_batch_fn cb, void *arg)
{
  return sb_start(b, method, path, content_type, body, cb, arg, false);
}

int sync_batch_req_owned(struct sync_batch *b, const char *method, const char *path, const json_t *body,
                         sync_batch_fn cb, void *arg)
{
  return sb_start(b, method, path, NULL, body, cb, arg, true);
}

void sync_batch_set_cancel(struct sync_batch_set *set)
{
  while (set->head) {
    struct sync_batch *b = set->head;
    while (b->reqs) {
      struct sb_req *r = b->reqs;
      sb_unlink_req(r);
      rest_cancel(r->rq);
      if (r->free_arg) free(r->arg);
      free(r->path);
      free(r);
    }
    sb_destroy(b);
  }
}

void sync_batch_fail(struct sync_batch *b) { b->failed = true; }
bool sync_batch_failed(const struct sync_batch *b) { return b->failed; }

void sync_batch_requeue_after(struct sync_batch *b, int64_t ms)
{
  if (ms < 0) ms = 0;
  if (b->requeue_ms < 0 || ms < b->requeue_ms) b->requeue_ms = ms;
}

void sync_batch_end(struct sync_batch *b) { sb_put(b); }

void cc_enqueue_obj(struct workqueue *q, const json_t *obj)
{
  char key[512];
  if (informer_key(obj, key, sizeof key)) workqueue_add(q, key);
}

void cc_on_add_enqueue(void *arg, const json_t *obj) { cc_enqueue_obj(arg, obj); }
void cc_on_update_enqueue(void *arg, const json_t *o, const json_t *n) { cc_enqueue_obj(arg, n); }
void cc_on_delete_enqueue(void *arg, const json_t *obj, bool unknown) { cc_enqueue_obj(arg, obj); }

json_t *cc_owner_ref(const json_t *obj, const char *api_version, const char *kind,
                      bool controller, bool block)
{
  const json_t *md = json_object_get(obj, "metadata");
  return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion", api_version, "kind", kind,
                   "name", json_string_value(json_object_get(md, "name")) ?: "", "uid",
                   json_string_value(json_object_get(md, "uid")) ?: "", "controller", controller,
                   "blockOwnerDeletion", block);
}

void cc_split_key(const char *key, char *ns, size_t nslen, char *name, size_t namelen)
{
  const char *slash = strchr(key, '/');
  if (slash) {
    snprintf(ns, nslen, "%.*s", (int)(slash - key), key);
    snprintf(name, namelen, "%s", slash + 1);
  } else {
    snprintf(ns, nslen, "%s", "");
    snprintf(name, namelen, "%s", key);
  }
}

char *cc_query_escape(const char *s)
{
  size_t n = strlen(s);
  char *out = malloc(n * 3 + 1), *p = out;
  if (!out) return NULL;
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        strchr("-._~", ch))
      *p++ = (char)ch;
    else
      p += sprintf(p, "%%%02X", ch);
  }
  *p = 0;
  return out;
}

bool cc_pod_ready(const json_t *pod)
{
  json_t *conds = kj_get(pod, "status.conditions");
  size_t i;
  json_t *c;
  json_array_foreach(conds, i, c)
  {
    const char *t = kj_get_str(c, "type");
    if (t && !strcmp(t, "Ready")) return !strcmp(kj_get_str(c, "status") ?: "", "True");
  }
  return false;
}

bool cc_pod_terminal(const json_t *pod)
{
  const char *ph = kj_get_str(pod, "status.phase");
  return ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"));
}

bool cc_is_controlled_by(const json_t *obj, const char *uid)
{
  json_t *refs = kj_get(obj, "metadata.ownerReferences");
  size_t i;
  json_t *r;
  json_array_foreach(refs, i, r)
  {
    if (kj_get_bool(r, "controller", false) && uid && !strcmp(kj_get_str(r, "uid") ?: "", uid))
      return true;
  }
  return false;
}

struct labelsel *cc_selector_from_map(const json_t *map)
{
  char err[256];
  if (!json_is_object(map)) return labelsel_from_json(NULL, err, sizeof err);
  json_t *ls = json_pack("{s:O}", "matchLabels", map);
  struct labelsel *s = labelsel_from_json(ls, err, sizeof err);
  json_decref(ls);
  return s;
}

json_t *cc_filter_namespace(const json_t *arr, const char *ns)
{
  json_t *out = json_array();
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o)
  {
    const char *ons = kj_get_str(o, "metadata.namespace");
    if (ons && ns && !strcmp(ons, ns)) json_array_append(out, o);
  }
  return out;
}

int64_t cc_time_us(const json_t *obj, const char *path, int64_t dflt)
{
  const char *s = kj_get_str(obj, path);
  int64_t us;
  if (!s || ktime_parse(s, &us) < 0) return dflt;
  return us;
}

int cc_resolve_target_port(const json_t *svc_port, const json_t *pod)
{
  json_t *tp = json_object_get(svc_port, "targetPort");
  if (json_is_integer(tp)) return (int)json_integer_value(tp);
  if (json_is_string(tp)) {
    const char *want = json_string_value(tp);
    json_t *ctrs = kj_get(pod, "spec.containers");
    size_t i, j;
    json_t *c, *p;
    json_array_foreach(ctrs, i, c)
    {
      json_array_foreach(json_object_get(c, "ports"), j, p)
      {
        const char *n = kj_get_str(p, "name");
        const char *proto = kj_get_str(p, "protocol") ?: "TCP";
        const char *sproto = kj_get_str(svc_port, "protocol") ?: "TCP";
        if (n && !strcmp(n, want) && !strcmp(proto, sproto))
          return (int)kj_get_int(p, "containerPort", -1);
      }
    }
    /* A string of digits is a number written as a string. */
    char *end;
    long v = strtol(want, &end, 10);
    if (*want && !*end && v > 0) return (int)v;
    return -1;
  }
  return (int)kj_get_int(svc_port, "port", -1);
}

void sync_batch_exec(struct sync_batch *b, const json_t *acts)
{
  size_t i;
  json_t *a;
  json_array_foreach(acts, i, a)
  sync_batch_req(b, kj_get_str(a, "verb"), kj_get_str(a, "path"), kj_get_str(a, "content_type"),
                 kj_get(a, "body"), NULL, NULL);
}

void cc_enqueue_pod_services(struct workqueue *q, struct informer *svc_inf, const json_t *pod)
{
  const char *ns = kj_get_str(pod, "metadata.namespace");
  if (!pod || !ns) return;
  json_t *all = informer_store_list(svc_inf);
  size_t i;
  json_t *svc;
  json_array_foreach(all, i, svc)
  {
    if (strcmp(kj_get_str(svc, "metadata.namespace") ?: "", ns)) continue;
    json_t *selmap = kj_get(svc, "spec.selector");
    if (!json_object_size(selmap)) continue;
    struct labelsel *sel = cc_selector_from_map(selmap);
    if (sel && labelsel_matches(sel, kj_get(pod, "metadata.labels"))) cc_enqueue_obj(q, svc);
    labelsel_free(sel);
  }
  json_decref(all);
}

static bool cc_json_blank(const json_t *v)
{
  return !v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
         (json_is_object(v) && json_object_size(v) == 0);
}

bool cc_json_eq(const json_t *a, const json_t *b)
{
  if (cc_json_blank(a) || cc_json_blank(b)) return cc_json_blank(a) && cc_json_blank(b);
  return json_equal(a, b);
}
