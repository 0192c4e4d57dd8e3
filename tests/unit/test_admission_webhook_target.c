/* Tests for where admission webhooks are called (webhook_target in
 * apiserver/admission/webhook.c): a url as given with upstream's timeout
 * query, a Service by its ClusterIP with the TLS name <svc>.<ns>.svc, or
 * with --enable-aggregator-routing an endpoint address, read from a real
 * storage.  Nothing is dialed. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include <kube/json.h>
#include <kube/timeutil.h>

#include "admission/webhook.h"
#include "apiserver.h"
#include "storage/storage.h"

struct env {
  char dir[64];
  struct apiserver srv;
  int pending;
};

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad test JSON: %s: %s", e.text, s);
  return v;
}

static void written(void *arg, int err, struct kv *kv, struct kv *prev)
{
  (void)kv;
  (void)prev;
  struct env *e = arg;
  assert_int_equal(err, 0);
  e->pending--;
}

static void put(struct env *e, const char *key, const char *obj)
{
  json_t *o = J(obj);
  e->pending++;
  assert_int_equal(storage_create(e->srv.storage, key, o, "\0", written, e), 0);
  json_decref(o);
  int64_t end = ktime_mono_ms() + 5000;
  while (e->pending && ktime_mono_ms() < end) {
    event_base_loop(e->srv.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    usleep(200);
  }
  assert_int_equal(e->pending, 0);
}

static int setup(void **state)
{
  struct env *e = calloc(1, sizeof(*e));
  strcpy(e->dir, "/tmp/test_webhook_target.XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  e->srv.base = event_base_new();
  struct storage_opts so = {.data_dir = e->dir};
  char err[256];
  e->srv.storage = storage_open_sqlite(e->srv.base, &so, err, sizeof(err));
  assert_non_null(e->srv.storage);
  put(e, "/registry/services/specs/hooks/wh",
      "{\"metadata\":{\"name\":\"wh\",\"namespace\":\"hooks\"},\"spec\":{\"clusterIP\":\"10.96.0.20\",\"ports\":["
      "{\"name\":\"metrics\",\"port\":9090},{\"name\":\"https\",\"port\":443,\"targetPort\":8443}]}}");
  put(e, "/registry/services/endpoints/hooks/wh",
      "{\"metadata\":{\"name\":\"wh\",\"namespace\":\"hooks\"},\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.1.7\"}],"
      "\"ports\":[{\"name\":\"metrics\",\"port\":9090},{\"name\":\"https\",\"port\":8443}]}]}");
  put(e, "/registry/services/specs/hooks/headless",
      "{\"metadata\":{\"name\":\"headless\",\"namespace\":\"hooks\"},\"spec\":{\"clusterIP\":\"None\",\"ports\":["
      "{\"port\":443}]}}");
  *state = e;
  return 0;
}

static int teardown(void **state)
{
  struct env *e = *state;
  storage_close(e->srv.storage);
  event_base_free(e->srv.base);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
  assert_int_equal(system(cmd), 0);
  free(e);
  return 0;
}

/* target(cc) -> 0 and t, or -1 and err */
static int target(struct env *e, const char *cc_text, int timeout_s, struct webhook_target *t, char *err)
{
  json_t *cc = J(cc_text);
  int rc = webhook_target(&e->srv, cc, timeout_s, t, err, 512);
  json_decref(cc);
  return rc;
}

static void test_url(void **state)
{
  struct env *e = *state;
  struct webhook_target t;
  char err[512];
  assert_int_equal(target(e, "{\"url\":\"https://hooks.example.com:8443/validate\"}", 10, &t, err), 0);
  assert_string_equal(t.base, "https://hooks.example.com:8443");
  assert_string_equal(t.path, "/validate?timeout=10s");
  assert_string_equal(t.url, "https://hooks.example.com:8443/validate?timeout=10s");
  assert_string_equal(t.connect_to, "");
  assert_int_equal(target(e, "{\"url\":\"https://127.0.0.1:9443\"}", 3, &t, err), 0);
  assert_string_equal(t.path, "/?timeout=3s");
}

static void test_service_cluster_ip(void **state)
{
  struct env *e = *state;
  struct webhook_target t;
  char err[512];
  assert_int_equal(target(e, "{\"service\":{\"namespace\":\"hooks\",\"name\":\"wh\",\"path\":\"/mutate\",\"port\":443}}",
                          5, &t, err),
                   0);
  assert_string_equal(t.url, "https://wh.hooks.svc:443/mutate?timeout=5s");
  assert_string_equal(t.connect_to, "wh.hooks.svc:443:10.96.0.20:443");
  /* the port defaults to 443 and the path to / */
  assert_int_equal(target(e, "{\"service\":{\"namespace\":\"hooks\",\"name\":\"wh\"}}", 10, &t, err), 0);
  assert_string_equal(t.url, "https://wh.hooks.svc:443/?timeout=10s");
  /* failures */
  assert_int_equal(target(e, "{\"service\":{\"namespace\":\"hooks\",\"name\":\"nope\"}}", 10, &t, err), -1);
  assert_string_equal(err, "service \"nope\" not found");
  assert_int_equal(target(e, "{\"service\":{\"namespace\":\"hooks\",\"name\":\"wh\",\"port\":444}}", 10, &t, err), -1);
  assert_string_equal(err, "no service port 444 found for service \"wh\"");
  assert_int_equal(target(e, "{\"service\":{\"namespace\":\"hooks\",\"name\":\"headless\"}}", 10, &t, err), -1);
  assert_string_equal(err, "service \"headless\" has no ClusterIP");
  assert_int_equal(target(e, "{}", 10, &t, err), -1);
}

static void test_service_endpoints(void **state)
{
  struct env *e = *state;
  e->srv.cfg.enable_aggregator_routing = true;
  struct webhook_target t;
  char err[512];
  assert_int_equal(target(e, "{\"service\":{\"namespace\":\"hooks\",\"name\":\"wh\",\"path\":\"/v\"}}", 10, &t, err), 0);
  assert_string_equal(t.url, "https://wh.hooks.svc:443/v?timeout=10s");
  /* the endpoint port named as the service port, not the first one */
  assert_string_equal(t.connect_to, "wh.hooks.svc:443:10.244.1.7:8443");
  assert_int_equal(target(e, "{\"service\":{\"namespace\":\"hooks\",\"name\":\"headless\"}}", 10, &t, err), -1);
  assert_string_equal(err, "no endpoints available for service \"headless\"");
  e->srv.cfg.enable_aggregator_routing = false;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_url, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service_cluster_ip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service_endpoints, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
