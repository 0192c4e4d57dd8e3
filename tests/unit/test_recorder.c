/*
 * test_recorder.c - Events against a fake events endpoint: the Event a
 * user sees (kubectl describe), aggregation of repeats into count, the
 * per-object spam filter, re-creation after the Event expired, and the
 * bounded cache.
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
#include "kube/json.h"
#include "kube/recorder.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"

struct ev_srv {
  struct event_base *base;
  struct http_server *srv;
  int port;
  json_t *events; /* "ns/name" -> event */
  int posts, patches, patch_404s;
  char patch_ct[128];
};

static void ev_handler(struct http_request *req, void *arg)
{
  struct ev_srv *s = arg;
  const char *m = http_req_method(req), *p = http_req_path(req);
  size_t bl = 0;
  const char *b = http_req_body(req, &bl);
  json_t *obj = b ? json_loadb(b, bl, 0, NULL) : NULL;
  char ns[128], name[256];
  if (!strcmp(m, "POST") && sscanf(p, "/api/v1/namespaces/%127[^/]/events%n", ns, &(int){0}) == 1 && obj &&
      !strstr(p + strlen("/api/v1/namespaces/"), "/events/")) {
    s->posts++;
    char key[400];
    snprintf(key, sizeof key, "%s/%s", ns, kj_get_str(obj, "metadata.name"));
    json_object_set(s->events, key, obj);
    http_reply_json(req, 201, obj);
  } else if (!strcmp(m, "PATCH") && sscanf(p, "/api/v1/namespaces/%127[^/]/events/%255s", ns, name) == 2 && obj) {
    s->patches++;
    snprintf(s->patch_ct, sizeof s->patch_ct, "%s", http_req_header(req, "Content-Type"));
    char key[400];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    json_t *cur = json_object_get(s->events, key);
    if (!cur) {
      s->patch_404s++;
      http_reply(req, 404, "application/json", "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}", 49);
    } else {
      json_object_update(cur, obj);
      http_reply_json(req, 200, cur);
    }
  } else {
    http_reply(req, 400, "text/plain", "bad", 3);
  }
  json_decref(obj);
}

static struct ev_srv *srv_new(void)
{
  struct ev_srv *s = calloc(1, sizeof *s);
  s->base = event_base_new();
  s->srv = http_server_new(s->base, NULL, ev_handler, s);
  s->port = http_server_listen(s->srv, "127.0.0.1", 0);
  assert_true(s->port > 0);
  s->events = json_object();
  return s;
}

static void srv_free(struct ev_srv *s)
{
  http_server_free(s->srv);
  event_base_free(s->base);
  json_decref(s->events);
  free(s);
}

static struct rest_client *client_for(struct ev_srv *s)
{
  struct rest_config cfg;
  rest_config_init(&cfg);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
  cfg.server = url;
  cfg.qps = 0;
  return rest_client_new(s->base, &cfg);
}

static void settle(struct ev_srv *s, struct rest_client *c)
{
  int64_t end = ktime_mono_ms() + 3000;
  while (rest_client_pending(c) && ktime_mono_ms() < end)
    event_base_loop(s->base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(300);
  for (int i = 0; i < 10; i++) event_base_loop(s->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  assert_int_equal(rest_client_pending(c), 0);
}

static json_t *pod(const char *name)
{
  return json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata", "name", name,
                   "namespace", "team", "uid", "uid-1", "resourceVersion", "42");
}

static json_t *only_event(struct ev_srv *s)
{
  assert_int_equal(json_object_size(s->events), 1);
  void *it = json_object_iter(s->events);
  return json_object_iter_value(it);
}

static void test_event_shape_and_aggregation(void **state)
{
  struct ev_srv *s = srv_new();
  struct rest_client *c = client_for(s);
  struct event_recorder *r = recorder_new(s->base, c, "default-scheduler", "node-1");
  json_t *p = pod("web-1");
  recorder_eventf(r, p, RECORDER_EVENT_WARNING, "FailedScheduling", "0/%d nodes are available", 3);
  settle(s, c);
  json_t *ev = only_event(s);
  assert_string_equal(kj_get_str(ev, "kind"), "Event");
  assert_string_equal(kj_get_str(ev, "metadata.namespace"), "team");
  assert_int_equal(strncmp(kj_get_str(ev, "metadata.name"), "web-1.", 6), 0);
  assert_string_equal(kj_get_str(ev, "involvedObject.kind"), "Pod");
  assert_string_equal(kj_get_str(ev, "involvedObject.name"), "web-1");
  assert_string_equal(kj_get_str(ev, "involvedObject.namespace"), "team");
  assert_string_equal(kj_get_str(ev, "involvedObject.uid"), "uid-1");
  assert_string_equal(kj_get_str(ev, "involvedObject.apiVersion"), "v1");
  assert_string_equal(kj_get_str(ev, "involvedObject.resourceVersion"), "42");
  assert_string_equal(kj_get_str(ev, "type"), "Warning");
  assert_string_equal(kj_get_str(ev, "reason"), "FailedScheduling");
  assert_string_equal(kj_get_str(ev, "message"), "0/3 nodes are available");
  assert_string_equal(kj_get_str(ev, "source.component"), "default-scheduler");
  assert_string_equal(kj_get_str(ev, "source.host"), "node-1");
  assert_string_equal(kj_get_str(ev, "reportingComponent"), "default-scheduler");
  assert_string_equal(kj_get_str(ev, "reportingInstance"), "node-1");
  assert_int_equal(kj_get_int(ev, "count", 0), 1);
  int64_t t;
  assert_int_equal(ktime_parse(kj_get_str(ev, "firstTimestamp"), &t), 0);
  assert_string_equal(kj_get_str(ev, "firstTimestamp"), kj_get_str(ev, "lastTimestamp"));

  /* Two repeats in a row (the second while the first PATCH is in flight). */
  recorder_eventf(r, p, RECORDER_EVENT_WARNING, "FailedScheduling", "0/%d nodes are available", 3);
  recorder_eventf(r, p, RECORDER_EVENT_WARNING, "FailedScheduling", "0/%d nodes are available", 3);
  settle(s, c);
  ev = only_event(s);
  assert_int_equal(kj_get_int(ev, "count", 0), 3);
  assert_int_equal(s->posts, 1);
  assert_true(s->patches >= 1 && s->patches <= 2);
  assert_string_equal(s->patch_ct, "application/strategic-merge-patch+json");

  /* Another message is another Event. */
  recorder_eventf(r, p, RECORDER_EVENT_WARNING, "FailedScheduling", "0/%d nodes are available", 4);
  settle(s, c);
  assert_int_equal(json_object_size(s->events), 2);
  assert_int_equal(s->posts, 2);

  /* The Event expired on the server: a repeat recreates it. */
  json_object_clear(s->events);
  recorder_eventf(r, p, RECORDER_EVENT_WARNING, "FailedScheduling", "0/%d nodes are available", 3);
  settle(s, c);
  assert_int_equal(s->patch_404s, 1);
  ev = only_event(s);
  assert_int_equal(kj_get_int(ev, "count", 0), 4);
  json_decref(p);
  recorder_free(r);
  rest_client_free(c);
  srv_free(s);
}

static void test_spam_filter(void **state)
{
  struct ev_srv *s = srv_new();
  struct rest_client *c = client_for(s);
  struct event_recorder *r = recorder_new(s->base, c, "kubelet", NULL);
  json_t *p = pod("crashy");
  for (int i = 0; i < 30; i++) {
    char reason[16];
    snprintf(reason, sizeof reason, "Reason%d", i); /* all different: no aggregation */
    recorder_eventf(r, p, RECORDER_EVENT_NORMAL, reason, "attempt");
  }
  settle(s, c);
  int created, patched, dropped;
  recorder_stats(r, &created, &patched, &dropped);
  assert_int_equal(created, 25);
  assert_int_equal(dropped, 5);
  assert_int_equal(json_object_size(s->events), 25);
  /* Another object has its own bucket. */
  json_t *q = pod("calm");
  recorder_eventf(r, q, RECORDER_EVENT_NORMAL, "Pulled", "ok");
  settle(s, c);
  assert_int_equal(json_object_size(s->events), 26);
  json_decref(q);
  json_decref(p);
  recorder_free(r);

  /* Refill: one token per interval. */
  r = recorder_new(s->base, c, "kubelet", NULL);
  recorder_set_limits(r, 2, 100, 600000, 4096);
  p = pod("refill");
  for (int i = 0; i < 4; i++) recorder_eventf(r, p, RECORDER_EVENT_NORMAL, "X", "m%d", i);
  recorder_stats(r, &created, &patched, &dropped);
  assert_int_equal(dropped, 2);
  int64_t end = ktime_mono_ms() + 130;
  while (ktime_mono_ms() < end) event_base_loop(s->base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(500);
  recorder_eventf(r, p, RECORDER_EVENT_NORMAL, "X", "m%d", 10);
  recorder_eventf(r, p, RECORDER_EVENT_NORMAL, "X", "m%d", 11);
  recorder_stats(r, &created, &patched, &dropped);
  assert_int_equal(dropped, 3);
  settle(s, c);
  recorder_stats(r, &created, &patched, &dropped);
  assert_int_equal(created, 3);
  json_decref(p);
  recorder_free(r);
  rest_client_free(c);
  srv_free(s);
}

static void test_similar_events_combined(void **state)
{
  struct ev_srv *s = srv_new();
  struct rest_client *c = client_for(s);
  struct event_recorder *r = recorder_new(s->base, c, "default-scheduler", NULL);
  json_t *p = pod("pending");
  for (int i = 0; i < 12; i++) {
    recorder_eventf(r, p, RECORDER_EVENT_WARNING, "FailedScheduling", "0/%d nodes are available", i);
    settle(s, c);
  }
  /* Nine on their own, then one combined Event counting the rest. */
  assert_int_equal(json_object_size(s->events), 10);
  json_t *comb = NULL;
  const char *k;
  json_t *v;
  json_object_foreach (s->events, k, v)
    if (!strncmp(kj_get_str(v, "message"), "(combined from similar events): ", 32)) comb = v;
  assert_non_null(comb);
  assert_int_equal(kj_get_int(comb, "count", 0), 3);
  assert_string_equal(kj_get_str(comb, "message"), "(combined from similar events): 0/11 nodes are available");
  json_decref(p);
  recorder_free(r);
  rest_client_free(c);
  srv_free(s);
}

static void test_cluster_scoped_and_ref_and_lru(void **state)
{
  struct ev_srv *s = srv_new();
  struct rest_client *c = client_for(s);
  struct event_recorder *r = recorder_new(s->base, c, "node-controller", NULL);
  recorder_set_limits(r, 25, 300000, 600000, 2);
  json_t *node =
      json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind", "Node", "metadata", "name", "n1", "uid", "u-n1");
  recorder_eventf(r, node, RECORDER_EVENT_NORMAL, "RegisteredNode", "Node n1 event: Registered Node n1 in Controller");
  settle(s, c);
  json_t *ev = only_event(s);
  assert_string_equal(kj_get_str(ev, "metadata.namespace"), "default");
  assert_null(kj_get(ev, "involvedObject.namespace"));
  assert_null(kj_get(ev, "source.host"));
  /* An ObjectReference works as well as the object. */
  json_t *ref =
      json_pack("{s:s,s:s,s:s,s:s}", "kind", "Deployment", "namespace", "ns1", "name", "web", "apiVersion", "apps/v1");
  recorder_eventf(r, ref, RECORDER_EVENT_NORMAL, "ScalingReplicaSet", "Scaled up replica set web-abc to 3");
  recorder_eventf(r, ref, RECORDER_EVENT_NORMAL, "ScalingReplicaSet", "Scaled up replica set web-abc to 4");
  settle(s, c);
  assert_int_equal(s->posts, 3);
  /* With room for two entries, the node's event was evicted: its repeat is a new Event. */
  recorder_eventf(r, node, RECORDER_EVENT_NORMAL, "RegisteredNode", "Node n1 event: Registered Node n1 in Controller");
  settle(s, c);
  assert_int_equal(s->posts, 4);
  assert_int_equal(s->patches, 0);
  json_t *dep = NULL;
  const char *k;
  json_t *v;
  json_object_foreach (s->events, k, v)
    if (!strcmp(kj_get_str(v, "involvedObject.kind"), "Deployment")) dep = v;
  assert_non_null(dep);
  assert_string_equal(kj_get_str(dep, "metadata.namespace"), "ns1");
  assert_string_equal(kj_get_str(dep, "involvedObject.apiVersion"), "apps/v1");
  json_decref(ref);
  json_decref(node);
  recorder_free(r);
  rest_client_free(c);
  srv_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_event_shape_and_aggregation),
      cmocka_unit_test(test_spam_filter),
      cmocka_unit_test(test_similar_events_combined),
      cmocka_unit_test(test_cluster_scoped_and_ref_and_lru),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
