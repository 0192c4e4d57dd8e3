/*
 * test_informer.c - informers against an in-process fake API server that
 * serves one pods collection with paged lists and a watch stream the test
 * drives: list+watch, handlers, relist on a 410 ERROR event with the
 * missed delete reported, re-watch after a clean stream end, relist after
 * a failed watch, indexes, transform, resync and the shared factory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/http.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"

/* ---- fake API server ---- */

struct api {
  struct event_base *base;
  struct http_server *srv;
  int port;
  json_t *pods; /* key -> pod, in order */
  int rv;
  struct http_request *watch;
  json_t *log;    /* "GET path?query" of every request */
  int watch_fail; /* answer the next watches with 500 */
  char label_sel[128], field_sel[128];
};

static void watch_closed(struct http_request *r, void *arg)
{
  struct api *a = arg;
  if (a->watch == r) a->watch = NULL;
}

static void api_handler(struct http_request *req, void *arg)
{
  struct api *a = arg;
  char line[512];
  snprintf(line, sizeof line, "%s %s?%s", http_req_method(req), http_req_path(req), http_req_query(req));
  json_array_append_new(a->log, json_string(line));
  const char *ls = http_req_param(req, "labelSelector"), *fs = http_req_param(req, "fieldSelector");
  snprintf(a->label_sel, sizeof a->label_sel, "%s", ls ? ls : "");
  snprintf(a->field_sel, sizeof a->field_sel, "%s", fs ? fs : "");
  if (strcmp(http_req_path(req), "/api/v1/pods")) {
    http_reply(req, 404, "text/plain", "no", 2);
    return;
  }
  const char *watch = http_req_param(req, "watch");
  if (watch) {
    if (a->watch_fail > 0) {
      a->watch_fail--;
      http_reply(req, 500, "text/plain", "x", 1);
      return;
    }
    http_stream_begin(req, 200, "application/json");
    a->watch = req;
    http_req_on_close(req, watch_closed, a);
    return;
  }
  /* Pages of two, whatever the limit, so that continue is exercised. */
  const char *cont = http_req_param(req, "continue");
  size_t start = cont ? (size_t)atoi(cont) : 0, i = 0;
  json_t *items = json_array();
  const char *key;
  json_t *pod;
  json_object_foreach (a->pods, key, pod) {
    if (i >= start && i < start + 2) json_array_append(items, pod);
    i++;
  }
  json_t *list = json_pack("{s:s,s:s,s:{s:s},s:o}", "kind", "PodList", "apiVersion", "v1", "metadata",
                           "resourceVersion", "", "items", items);
  char rvs[16];
  snprintf(rvs, sizeof rvs, "%d", a->rv);
  kj_set_str(list, "metadata.resourceVersion", rvs);
  if (start + 2 < json_object_size(a->pods)) {
    char c[32];
    snprintf(c, sizeof c, "%zu", start + 2);
    kj_set_str(list, "metadata.continue", c);
  }
  http_reply_json(req, 200, list);
  json_decref(list);
}

static json_t *make_pod(const char *name, const char *node, const char *owner)
{
  json_t *p = json_pack("{s:{s:s,s:s,s:s,s:[{s:s}]},s:{s:s}}", "metadata", "name", name, "namespace", "default", "uid",
                        name, "managedFields", "manager", "kubectl", "spec", "nodeName", node ? node : "");
  if (owner) {
    json_t *refs = json_pack("[{s:s,s:s,s:s}]", "kind", "ReplicaSet", "name", "rs", "uid", owner);
    kj_set(p, "metadata.ownerReferences", refs);
  }
  return p;
}

/* Changes the server's state; with type, also sends it as a watch event. */
static void api_put(struct api *a, const char *type, json_t *pod /* stolen */)
{
  char key[256], rvs[16];
  snprintf(rvs, sizeof rvs, "%d", ++a->rv);
  kj_set_str(pod, "metadata.resourceVersion", rvs);
  informer_key(pod, key, sizeof key);
  if (type && !strcmp(type, "DELETED")) json_object_del(a->pods, key);
  else json_object_set(a->pods, key, pod);
  if (type && a->watch) {
    json_t *ev = json_pack("{s:s,s:o}", "type", type, "object", pod);
    char *s = kj_dumps(ev);
    http_stream_write(a->watch, s, strlen(s));
    http_stream_write(a->watch, "\n", 1);
    free(s);
    json_decref(ev);
  } else {
    json_decref(pod);
  }
}

static void api_send_raw(struct api *a, const char *line)
{
  assert_non_null(a->watch);
  http_stream_write(a->watch, line, strlen(line));
}

static struct api *api_new(void)
{
  struct api *a = calloc(1, sizeof *a);
  a->base = event_base_new();
  a->srv = http_server_new(a->base, NULL, api_handler, a);
  a->port = http_server_listen(a->srv, "127.0.0.1", 0);
  assert_true(a->port > 0);
  a->pods = json_object();
  a->log = json_array();
  a->rv = 10;
  return a;
}

static void api_free(struct api *a)
{
  http_server_free(a->srv);
  event_base_free(a->base);
  json_decref(a->pods);
  json_decref(a->log);
  free(a);
}

static struct rest_client *client_for(struct api *a)
{
  struct rest_config cfg;
  rest_config_init(&cfg);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", a->port);
  cfg.server = url;
  cfg.qps = 0;
  return rest_client_new(a->base, &cfg);
}

static bool run_until(struct event_base *b, bool (*pred)(void *), void *arg, int64_t ms)
{
  int64_t end = ktime_mono_ms() + ms;
  while (!pred(arg) && ktime_mono_ms() < end) event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(300);
  return pred(arg);
}

static void run_for(struct event_base *b, int64_t ms)
{
  int64_t end = ktime_mono_ms() + ms;
  while (ktime_mono_ms() < end) event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(300);
}

/* ---- recording handlers ---- */

struct rec {
  json_t *events; /* "ADD a", "UPDATE a 12", "DELETE b", "DELETE? c" */
  int resyncs;
};

static void on_add(void *arg, const json_t *o)
{
  struct rec *r = arg;
  char s[128];
  snprintf(s, sizeof s, "ADD %s", kj_get_str(o, "metadata.name"));
  json_array_append_new(r->events, json_string(s));
}

static void on_update(void *arg, const json_t *o, const json_t *n)
{
  struct rec *r = arg;
  if (o == n) {
    r->resyncs++;
    return;
  }
  char s[128];
  snprintf(s, sizeof s, "UPDATE %s %s", kj_get_str(n, "metadata.name"), kj_get_str(n, "metadata.resourceVersion"));
  json_array_append_new(r->events, json_string(s));
}

static void on_delete(void *arg, const json_t *o, bool unknown)
{
  struct rec *r = arg;
  char s[128];
  snprintf(s, sizeof s, "DELETE%s %s", unknown ? "?" : "", kj_get_str(o, "metadata.name"));
  json_array_append_new(r->events, json_string(s));
}

static bool has_event(struct rec *r, const char *s)
{
  size_t i;
  json_t *v;
  json_array_foreach (r->events, i, v)
    if (!strcmp(json_string_value(v), s)) return true;
  return false;
}

static int count_log(struct api *a, const char *prefix)
{
  int n = 0;
  size_t i;
  json_t *v;
  json_array_foreach (a->log, i, v) n += !strncmp(json_string_value(v), prefix, strlen(prefix));
  return n;
}

struct ctx {
  struct api *a;
  struct informer *inf;
  struct rec *rec;
  size_t want_events;
  int want_watches;
};

static bool pred_synced(void *arg)
{
  struct ctx *c = arg;
  return informer_has_synced(c->inf);
}
static bool pred_events(void *arg)
{
  struct ctx *c = arg;
  return json_array_size(c->rec->events) >= c->want_events;
}
static bool pred_watch_open(void *arg)
{
  struct ctx *c = arg;
  return c->a->watch != NULL;
}
static bool pred_watches(void *arg)
{
  struct ctx *c = arg;
  return count_log(c->a, "GET /api/v1/pods?watch=1") >= c->want_watches && c->a->watch;
}

static void strip_managed(void *arg, json_t *obj) { kj_del(obj, "metadata.managedFields"); }

struct fixture {
  struct api *a;
  struct rest_client *c;
  struct informer *inf;
  struct rec rec;
  struct ctx ctx;
};

static void fixture_start(struct fixture *f, bool keep_parsed, int64_t resync_ms)
{
  memset(f, 0, sizeof *f);
  f->a = api_new();
  api_put(f->a, NULL, make_pod("a", "node1", "rs1"));
  api_put(f->a, NULL, make_pod("b", "node1", "rs1"));
  api_put(f->a, NULL, make_pod("c", "node2", "rs2"));
  f->c = client_for(f->a);
  struct informer_opts o = {.path = "/api/v1/pods",
                            .transform = strip_managed,
                            .keep_parsed = keep_parsed,
                            .resync_ms = resync_ms,
                            .relist_backoff_ms = 50};
  f->inf = informer_new(f->a->base, f->c, &o);
  assert_non_null(f->inf);
  f->rec.events = json_array();
  struct informer_handlers h = {on_add, on_update, on_delete, &f->rec};
  informer_add_handlers(f->inf, &h);
  assert_int_equal(informer_add_index(f->inf, INFORMER_INDEX_NODE_NAME, informer_index_pod_node_name, NULL), 0);
  assert_int_equal(informer_add_index(f->inf, INFORMER_INDEX_OWNER_UID, informer_index_owner_uid, NULL), 0);
  f->ctx = (struct ctx){.a = f->a, .inf = f->inf, .rec = &f->rec};
  assert_false(informer_has_synced(f->inf));
  informer_start(f->inf);
  assert_true(run_until(f->a->base, pred_synced, &f->ctx, 5000));
  assert_true(run_until(f->a->base, pred_watch_open, &f->ctx, 5000));
}

static void fixture_stop(struct fixture *f)
{
  informer_free(f->inf);
  rest_client_free(f->c);
  json_decref(f->rec.events);
  api_free(f->a);
}

static void test_list_watch_handlers(void **state)
{
  for (int keep = 0; keep < 2; keep++) {
    struct fixture f;
    fixture_start(&f, keep, 0);
    /* Two pages: the second carries continue=2. */
    assert_int_equal(count_log(f.a, "GET /api/v1/pods?limit=500"), 2);
    assert_int_equal(count_log(f.a, "GET /api/v1/pods?limit=500&continue=2"), 1);
    assert_int_equal(
        count_log(f.a, "GET /api/v1/pods?watch=1&resourceVersion=13&allowWatchBookmarks=true&timeoutSeconds="), 1);
    assert_int_equal(informer_store_len(f.inf), 3);
    assert_true(has_event(&f.rec, "ADD a") && has_event(&f.rec, "ADD b") && has_event(&f.rec, "ADD c"));
    json_t *a = informer_store_get_obj(f.inf, "default/a");
    assert_non_null(a);
    assert_string_equal(kj_get_str(a, "kind"), "Pod"); /* restored from the list kind */
    assert_null(kj_get(a, "metadata.managedFields"));  /* transformed */
    json_decref(a);

    api_put(f.a, "ADDED", make_pod("d", "node2", NULL));
    json_t *a2 = make_pod("a", "node3", "rs1");
    api_put(f.a, "MODIFIED", a2);
    api_put(f.a, "DELETED", make_pod("b", "node1", "rs1"));
    api_send_raw(f.a,
                 "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"40\"}}}\n");
    f.ctx.want_events = 6;
    assert_true(run_until(f.a->base, pred_events, &f.ctx, 5000));
    assert_true(has_event(&f.rec, "ADD d"));
    assert_true(has_event(&f.rec, "UPDATE a 15"));
    assert_true(has_event(&f.rec, "DELETE b"));
    run_for(f.a->base, 20);
    assert_string_equal(informer_last_resource_version(f.inf), "40");
    assert_int_equal(informer_store_len(f.inf), 3);
    assert_null(informer_store_get_obj(f.inf, "default/b"));

    /* Indexes follow the updates. */
    json_t *on3 = informer_store_by_index(f.inf, INFORMER_INDEX_NODE_NAME, "node3");
    assert_int_equal(json_array_size(on3), 1);
    assert_string_equal(kj_get_str(json_array_get(on3, 0), "metadata.name"), "a");
    json_decref(on3);
    json_t *on1 = informer_store_index_keys(f.inf, INFORMER_INDEX_NODE_NAME, "node1");
    assert_int_equal(json_array_size(on1), 0); /* a moved, b deleted */
    json_decref(on1);
    json_t *on2 = informer_store_index_keys(f.inf, INFORMER_INDEX_NODE_NAME, "node2");
    assert_int_equal(json_array_size(on2), 2);
    json_decref(on2);
    json_t *own = informer_store_index_keys(f.inf, INFORMER_INDEX_OWNER_UID, "rs1");
    assert_int_equal(json_array_size(own), 1);
    assert_string_equal(json_string_value(json_array_get(own, 0)), "default/a");
    json_decref(own);
    assert_null(informer_store_by_index(f.inf, "nope", "x"));
    fixture_stop(&f);
  }
}

static void test_relist_after_410(void **state)
{
  struct fixture f;
  fixture_start(&f, false, 0);
  json_array_clear(f.rec.events);
  /* Behind the informer's back: c deleted, e added, a changed, b unchanged. */
  char key[] = "default/c";
  json_object_del(f.a->pods, key);
  api_put(f.a, NULL, make_pod("e", "node1", NULL));
  api_put(f.a, NULL, make_pod("a", "node1", "rs1"));
  api_send_raw(f.a, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                    "\"status\":\"Failure\",\"message\":\"too old resource version: 13 (15)\","
                    "\"reason\":\"Expired\",\"code\":410}}\n");
  f.ctx.want_events = 3;
  assert_true(run_until(f.a->base, pred_events, &f.ctx, 5000));
  run_for(f.a->base, 50);
  assert_int_equal(json_array_size(f.rec.events), 3);
  assert_true(has_event(&f.rec, "DELETE? c"));
  assert_true(has_event(&f.rec, "ADD e"));
  assert_true(has_event(&f.rec, "UPDATE a 15"));
  assert_int_equal(count_log(f.a, "GET /api/v1/pods?limit=500"), 4); /* a second two-page list */
  f.ctx.want_watches = 2;
  assert_true(run_until(f.a->base, pred_watches, &f.ctx, 5000));
  assert_int_equal(count_log(f.a, "GET /api/v1/pods?watch=1&resourceVersion=15&"), 1);
  json_t *own = informer_store_index_keys(f.inf, INFORMER_INDEX_OWNER_UID, "rs2");
  assert_int_equal(json_array_size(own), 0); /* c's index entry went with it */
  json_decref(own);
  fixture_stop(&f);
}

static void test_rewatch_after_stream_end(void **state)
{
  struct fixture f;
  fixture_start(&f, false, 0);
  api_put(f.a, "ADDED", make_pod("d", NULL, NULL));
  f.ctx.want_events = 4;
  assert_true(run_until(f.a->base, pred_events, &f.ctx, 5000));
  http_stream_end(f.a->watch); /* timeoutSeconds elapsed on the server */
  f.a->watch = NULL;
  f.ctx.want_watches = 2;
  assert_true(run_until(f.a->base, pred_watches, &f.ctx, 5000));
  assert_int_equal(count_log(f.a, "GET /api/v1/pods?watch=1&resourceVersion=14&"), 1);
  assert_int_equal(count_log(f.a, "GET /api/v1/pods?limit="), 2); /* no relist */
  assert_int_equal(json_array_size(f.rec.events), 4);
  fixture_stop(&f);
}

/* A watch that fails (here: answered 500) is opened again from the last
 * resourceVersion seen, after a backoff; nothing is relisted. */
static void test_rewatch_after_failed_watch(void **state)
{
  struct fixture f;
  fixture_start(&f, false, 0);
  f.a->watch_fail = 2;
  http_stream_end(f.a->watch);
  f.a->watch = NULL;
  f.ctx.want_watches = 4; /* the first, its clean restart that fails, one more failure, the good one */
  assert_true(run_until(f.a->base, pred_watches, &f.ctx, 10000));
  assert_true(run_until(f.a->base, pred_watch_open, &f.ctx, 10000));
  assert_int_equal(count_log(f.a, "GET /api/v1/pods?watch=1&resourceVersion=13&"), 4);
  assert_int_equal(count_log(f.a, "GET /api/v1/pods?limit=500"), 2); /* only the first list's pages */
  api_put(f.a, "ADDED", make_pod("d", NULL, NULL));
  f.ctx.want_events = 4;
  assert_true(run_until(f.a->base, pred_events, &f.ctx, 5000));
  assert_true(has_event(&f.rec, "ADD d"));
  fixture_stop(&f);
}

/* An ERROR event other than 410 still relists (client-go returns from
 * ListAndWatch then). */
static void test_relist_after_error_event(void **state)
{
  struct fixture f;
  fixture_start(&f, false, 0);
  api_send_raw(f.a, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                    "\"metadata\":{},\"status\":\"Failure\",\"message\":\"internal\","
                    "\"reason\":\"InternalError\",\"code\":500}}\n");
  f.ctx.want_watches = 2;
  assert_true(run_until(f.a->base, pred_watches, &f.ctx, 5000));
  assert_int_equal(count_log(f.a, "GET /api/v1/pods?limit=500"), 4);
  fixture_stop(&f);
}

static bool pred_resyncs(void *arg)
{
  struct ctx *c = arg;
  return c->rec->resyncs >= 6;
}

static void test_resync_and_late_handler(void **state)
{
  struct fixture f;
  fixture_start(&f, true, 50);
  assert_true(run_until(f.a->base, pred_resyncs, &f.ctx, 5000)); /* 3 objects x 2 periods */
  struct rec late = {json_array(), 0};
  struct informer_handlers h = {on_add, NULL, NULL, &late};
  informer_add_handlers(f.inf, &h);
  assert_int_equal(json_array_size(late.events), 3);
  json_decref(late.events);
  fixture_stop(&f);
}

static void test_factory_shares(void **state)
{
  struct api *a = api_new();
  struct rest_client *c = client_for(a);
  struct informer_factory *fac = informer_factory_new(a->base, c, 0);
  struct informer *i1 = informer_factory_get(fac, "/api/v1/pods");
  struct informer *i2 = informer_factory_get(fac, "/api/v1/pods");
  struct informer *i3 = informer_factory_get(fac, "/api/v1/nodes");
  assert_ptr_equal(i1, i2);
  assert_ptr_not_equal(i1, i3);
  struct informer_opts o = {.path = "/api/v1/pods", .namespace = "kube-system"};
  struct informer *i4 = informer_factory_get_opts(fac, &o);
  assert_ptr_not_equal(i1, i4);
  /* different selectors or transforms are different informers */
  struct informer_opts ol = {.path = "/api/v1/pods", .label_selector = "app=a"};
  struct informer_opts ol2 = {.path = "/api/v1/pods", .label_selector = "app=b"};
  struct informer_opts of = {.path = "/api/v1/pods", .field_selector = "spec.nodeName=n1"};
  struct informer_opts ot = {.path = "/api/v1/pods", .transform = strip_managed};
  struct informer *il = informer_factory_get_opts(fac, &ol);
  assert_ptr_not_equal(il, i1);
  assert_ptr_not_equal(informer_factory_get_opts(fac, &ol2), il);
  assert_ptr_equal(informer_factory_get_opts(fac, &ol), il);
  struct informer *iff = informer_factory_get_opts(fac, &of);
  assert_ptr_not_equal(iff, i1);
  assert_ptr_not_equal(iff, il);
  struct informer *it = informer_factory_get_opts(fac, &ot);
  assert_ptr_not_equal(it, i1);
  assert_ptr_equal(informer_factory_get_opts(fac, &ot), it);
  informer_factory_start(fac);
  run_for(a->base, 100);
  assert_false(informer_factory_has_synced(fac)); /* nodes and the namespaced path answer 404 */
  assert_true(informer_has_synced(i1));
  assert_int_equal(count_log(a, "GET /api/v1/namespaces/kube-system/pods?limit=500"), 1);
  informer_factory_free(fac);
  rest_client_free(c);
  api_free(a);
}

static void test_selectors_sent(void **state)
{
  struct api *a = api_new();
  struct rest_client *c = client_for(a);
  struct informer_opts o = {
      .path = "/api/v1/pods", .label_selector = "app=web,tier in (a,b)", .field_selector = "spec.nodeName=node 1"};
  struct informer *inf = informer_new(a->base, c, &o);
  informer_start(inf);
  struct ctx x = {.a = a, .inf = inf};
  assert_true(run_until(a->base, pred_watch_open, &x, 5000));
  assert_string_equal(a->label_sel, "app=web,tier in (a,b)"); /* on the watch too */
  assert_string_equal(a->field_sel, "spec.nodeName=node 1");
  informer_free(inf);
  rest_client_free(c);
  api_free(a);
}

static void test_key(void **state)
{
  char buf[64];
  json_t *o = json_pack("{s:{s:s,s:s}}", "metadata", "name", "x", "namespace", "ns");
  assert_string_equal(informer_key(o, buf, sizeof buf), "ns/x");
  json_decref(o);
  o = json_pack("{s:{s:s}}", "metadata", "name", "node1");
  assert_string_equal(informer_key(o, buf, sizeof buf), "node1");
  json_decref(o);
  o = json_pack("{s:{}}", "metadata");
  assert_null(informer_key(o, buf, sizeof buf));
  json_decref(o);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_key),
      cmocka_unit_test(test_list_watch_handlers),
      cmocka_unit_test(test_relist_after_410),
      cmocka_unit_test(test_rewatch_after_stream_end),
      cmocka_unit_test(test_rewatch_after_failed_watch),
      cmocka_unit_test(test_relist_after_error_event),
      cmocka_unit_test(test_resync_and_late_handler),
      cmocka_unit_test(test_factory_shares),
      cmocka_unit_test(test_selectors_sent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
