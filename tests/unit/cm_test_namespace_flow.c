/*
 * cm_test_namespace_flow.c - the namespace controller end to end against
 * a small fake API server on a loopback port: discovery, deletecollection
 * of pods, per-object deletion of a resource without deletecollection,
 * the status conditions while a pod with a finalizer remains, the
 * requeue, and finally PUT .../finalize without the "kubernetes"
 * finalizer once the namespace is empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "framework.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"

struct fake {
  struct event_base *base;
  struct evhttp *http;
  struct evhttp_request *watch; /* the namespaces watch, held open */
  int pod_lists, pod_deletecollections, cm_deletes, status_patches, finalizes;
  bool pod_gone, cm_gone;
  json_t *last_status; /* conditions of the last status PATCH */
  json_t *finalize_body;
};

static const char *NS = "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\",\"uid\":\"ns-uid\","
                        "\"resourceVersion\":\"5\","
                        "\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"},\"spec\":{\"finalizers\":[\"kubernetes\"]},"
                        "\"status\":{\"phase\":\"Terminating\"}}";

static void reply(struct evhttp_request *req, int code, const char *body)
{
  struct evbuffer *b = evbuffer_new();
  evbuffer_add(b, body, strlen(body));
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
  evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
  evbuffer_free(b);
}

static json_t *req_body(struct evhttp_request *req)
{
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t n = evbuffer_get_length(in);
  char *buf = malloc(n + 1);
  evbuffer_remove(in, buf, n);
  buf[n] = 0;
  json_t *v = json_loads(buf, 0, NULL);
  free(buf);
  return v;
}

static void handle(struct evhttp_request *req, void *arg)
{
  struct fake *f = arg;
  const char *uri = evhttp_request_get_uri(req);
  enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
  char path[512];
  snprintf(path, sizeof path, "%s", uri);
  char *q = strchr(path, '?');
  if (q) *q = 0;
  bool watch = q && strstr(q + 1, "watch=1");

  if (!strcmp(path, "/api/v1/namespaces") && cmd == EVHTTP_REQ_GET) {
    if (watch) {
      if (f->watch) {
        reply(req, 200, "");
        return;
      }
      f->watch = req;
      evhttp_send_reply_start(req, 200, "OK");
      return;
    }
    char body[1024];
    snprintf(
        body, sizeof body,
        "{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[%s]}",
        NS);
    reply(req, 200, body);
  } else if (!strcmp(path, "/api/v1")) {
    reply(
        req, 200,
        "{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\",\"resources\":["
        "{\"name\":\"pods\",\"namespaced\":true,\"kind\":\"Pod\",\"verbs\":[\"delete\",\"deletecollection\",\"get\","
        "\"list\"]},"
        "{\"name\":\"pods/status\",\"namespaced\":true,\"kind\":\"Pod\",\"verbs\":[\"get\"]},"
        "{\"name\":\"configmaps\",\"namespaced\":true,\"kind\":\"ConfigMap\",\"verbs\":[\"delete\",\"get\",\"list\"]},"
        "{\"name\":\"namespaces\",\"namespaced\":false,\"kind\":\"Namespace\",\"verbs\":[\"delete\",\"list\"]}]}");
  } else if (!strcmp(path, "/apis")) {
    reply(req, 200, "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[]}");
  } else if (!strcmp(path, "/api/v1/namespaces/x/pods") && cmd == EVHTTP_REQ_DELETE) {
    f->pod_deletecollections++;
    reply(req, 200, "{\"kind\":\"PodList\",\"items\":[]}");
  } else if (!strcmp(path, "/api/v1/namespaces/x/pods")) {
    /* The pod waits on its finalizer during the first pass. */
    if (f->pod_lists++ >= 1) f->pod_gone = true;
    reply(req, 200,
          f->pod_gone ? "{\"items\":[]}"
                      : "{\"items\":[{\"metadata\":{\"name\":\"p\",\"namespace\":\"x\","
                        "\"deletionTimestamp\":\"2024-01-01T00:00:00Z\",\"finalizers\":[\"example.com/hold\"]}}]}");
  } else if (!strcmp(path, "/api/v1/namespaces/x/configmaps")) {
    reply(req, 200,
          f->cm_gone ? "{\"items\":[]}" : "{\"items\":[{\"metadata\":{\"name\":\"cm1\",\"namespace\":\"x\"}}]}");
  } else if (!strcmp(path, "/api/v1/namespaces/x/configmaps/cm1") && cmd == EVHTTP_REQ_DELETE) {
    f->cm_deletes++;
    f->cm_gone = true;
    reply(req, 200, "{}");
  } else if (!strcmp(path, "/api/v1/namespaces/x/status") && cmd == EVHTTP_REQ_PATCH) {
    f->status_patches++;
    json_t *b = req_body(req);
    json_decref(f->last_status);
    f->last_status = json_incref(kj_get(b, "status.conditions"));
    json_decref(b);
    reply(req, 200, NS);
  } else if (!strcmp(path, "/api/v1/namespaces/x/finalize") && cmd == EVHTTP_REQ_PUT) {
    f->finalizes++;
    json_decref(f->finalize_body);
    f->finalize_body = req_body(req);
    reply(req, 200, NS);
  } else {
    reply(req, 404,
          "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404}");
  }
}

static const json_t *cond(const json_t *conds, const char *type)
{
  for (size_t i = 0; i < json_array_size(conds); i++)
    if (!strcmp(kj_get_str(json_array_get(conds, i), "type") ?: "", type)) return json_array_get(conds, i);
  return NULL;
}

static void test_namespace_emptied_then_finalized(void **state)
{
  struct fake f = {0};
  f.base = event_base_new();
  f.http = evhttp_new(f.base);
  evhttp_set_allowed_methods(f.http,
                             EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH);
  evhttp_set_gencb(f.http, handle, &f);
  struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(f.http, "127.0.0.1", 0);
  assert_non_null(sock);
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&sa, &sl);

  struct rest_config rc;
  memset(&rc, 0, sizeof rc);
  rest_config_init(&rc);
  char server[64];
  snprintf(server, sizeof server, "http://127.0.0.1:%d", ntohs(sa.sin_port));
  rc.server = strdup(server);
  rc.qps = 0;
  struct cm_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.base = f.base;
  ctx.client = rest_client_new(f.base, &rc);
  rest_config_free(&rc);
  ctx.informers = informer_factory_new(f.base, ctx.client, 0);
  ctx.cfg.concurrent_namespace_syncs = 2;

  int err = 0;
  struct cm_base *st = cm_controller_start(&ctrl_namespace, &ctx, &err);
  assert_non_null(st);
  informer_factory_start(ctx.informers);
  bool running = false;
  int64_t end = ktime_mono_ms() + 15000;
  while (ktime_mono_ms() < end && f.finalizes == 0) {
    event_base_loop(f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    if (!running && informer_factory_has_synced(ctx.informers)) {
      cm_controller_run(st);
      running = true;
    }
    /* First pass done: the pod is still there, so the namespace is not finalized. */
    if (f.status_patches == 1 && f.finalizes == 0 && f.last_status) {
      const json_t *c = cond(f.last_status, "NamespaceContentRemaining");
      assert_non_null(c);
      assert_string_equal(kj_get_str(c, "status"), "True");
      /* the config map is deleted one by one during the pass that counted it */
      assert_string_equal(kj_get_str(c, "message"),
                          "Some resources are remaining: configmaps. has 1 resource instances, "
                          "pods. has 1 resource instances");
      assert_string_equal(kj_get_str(cond(f.last_status, "NamespaceFinalizersRemaining"), "status"), "True");
    }
    usleep(1000);
  }
  assert_int_equal(f.finalizes, 1);
  assert_true(f.pod_deletecollections >= 2); /* one per pass */
  assert_int_equal(f.cm_deletes, 1);
  assert_int_equal(f.status_patches, 2);
  assert_string_equal(kj_get_str(cond(f.last_status, "NamespaceContentRemaining"), "reason"), "ContentRemoved");
  assert_int_equal(json_array_size(kj_get(f.finalize_body, "spec.finalizers")), 0);
  assert_string_equal(kj_get_str(f.finalize_body, "metadata.name"), "x");

  cm_controller_stop(st);
  informer_factory_free(ctx.informers);
  rest_client_free(ctx.client);
  if (f.watch) evhttp_send_reply_end(f.watch);
  evhttp_free(f.http);
  json_decref(f.last_status);
  json_decref(f.finalize_body);
  event_base_free(f.base);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_namespace_emptied_then_finalized),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
