/*
 * cm_test_claim_candidates.c - the pods a ReplicaSet/Job sync looks at
 * (cm_claim_candidates): its own pods and its namespace's orphans, found
 * through informer indexes instead of by parsing the whole namespace.
 * A fake API server on loopback answers the pods LIST once and holds the
 * watch open; the informer syncs from it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <unistd.h>

#include "controller_utils.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"

/* name, namespace, owner uid or "", controller? */
static const struct {
  const char *name, *ns, *owner;
  bool controller;
} PODS[] = {
    {"mine-1", "a", "rs-uid", true},    /* owned: candidate */
    {"mine-2", "a", "rs-uid", true},    /* owned: candidate */
    {"orphan", "a", "", false},         /* orphan of the namespace: candidate */
    {"weak", "a", "rs-uid", false},     /* non-controller ref to us: orphan, listed once */
    {"theirs", "a", "other-uid", true}, /* another controller's: not a candidate */
    {"orphan-b", "b", "", false},       /* orphan elsewhere: not a candidate */
};

static struct evhttp_request *held_watch;

static void handle(struct evhttp_request *req, void *arg)
{
  const char *uri = evhttp_request_get_uri(req);
  if (strstr(uri, "watch=1")) {
    /* hold the watch open, send nothing */
    evhttp_send_reply_start(req, 200, "OK");
    held_watch = req;
    return;
  }
  json_t *items = json_array();
  for (size_t i = 0; i < sizeof PODS / sizeof PODS[0]; i++) {
    json_t *p = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata", "name",
                          PODS[i].name, "namespace", PODS[i].ns, "uid", PODS[i].name, "resourceVersion", "3");
    if (*PODS[i].owner)
      kj_set(p, "metadata.ownerReferences",
             json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", "apps/v1", "kind", "ReplicaSet", "name", "x", "uid",
                       PODS[i].owner, "controller", PODS[i].controller));
    json_array_append_new(items, p);
  }
  json_t *list = json_pack("{s:s, s:s, s:{s:s}, s:o}", "apiVersion", "v1", "kind", "PodList", "metadata",
                           "resourceVersion", "10", "items", items);
  char *s = kj_dumps_flags(list, JSON_COMPACT);
  json_decref(list);
  struct evbuffer *b = evbuffer_new();
  evbuffer_add(b, s, strlen(s));
  free(s);
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
  evhttp_send_reply(req, 200, "OK", b);
  evbuffer_free(b);
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_candidates(void **state)
{
  struct event_base *base = event_base_new();
  struct evhttp *http = evhttp_new(base);
  evhttp_set_gencb(http, handle, NULL);
  struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
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
  struct rest_client *client = rest_client_new(base, &rc);
  rest_config_free(&rc);
  struct informer_opts io = {.path = "/api/v1/pods"};
  struct informer *inf = informer_new(base, client, &io);
  assert_int_equal(cm_add_claim_indexes(inf), 0);
  assert_int_equal(cm_add_claim_indexes(inf), 0); /* a second controller registering them too */
  informer_start(inf);
  int64_t end = ktime_mono_ms() + 10000;
  while (!informer_has_synced(inf) && ktime_mono_ms() < end) {
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    usleep(1000);
  }
  assert_true(informer_has_synced(inf));

  json_t *owner = json_pack("{s:{s:s, s:s, s:s}}", "metadata", "name", "x", "namespace", "a", "uid", "rs-uid");
  json_t *got = cm_claim_candidates(inf, owner);
  assert_int_equal(json_array_size(got), 4);
  const char *names[4];
  for (size_t i = 0; i < 4; i++) names[i] = kj_get_str(json_array_get(got, i), "metadata.name");
  qsort(names, 4, sizeof names[0], cmp_names);
  assert_string_equal(names[0], "mine-1");
  assert_string_equal(names[1], "mine-2");
  assert_string_equal(names[2], "orphan");
  assert_string_equal(names[3], "weak");
  json_decref(got);
  json_decref(owner);

  /* An owner with no pods in a namespace with an orphan gets just that. */
  owner = json_pack("{s:{s:s, s:s, s:s}}", "metadata", "name", "y", "namespace", "b", "uid", "new-uid");
  got = cm_claim_candidates(inf, owner);
  assert_int_equal(json_array_size(got), 1);
  assert_string_equal(kj_get_str(json_array_get(got, 0), "metadata.name"), "orphan-b");
  json_decref(got);
  json_decref(owner);

  /* Table check of the orphan index itself. */
  json_t *out = json_array();
  json_t *ctl = json_pack("{s:{s:s, s:[{s:s, s:b}]}}", "metadata", "namespace", "a", "ownerReferences", "uid", "u",
                          "controller", 1);
  cm_index_orphans(NULL, ctl, out);
  assert_int_equal(json_array_size(out), 0);
  json_t *orph = json_pack("{s:{s:s}}", "metadata", "namespace", "a");
  cm_index_orphans(NULL, orph, out);
  assert_int_equal(json_array_size(out), 1);
  assert_string_equal(json_string_value(json_array_get(out, 0)), "a");
  json_decref(ctl);
  json_decref(orph);
  json_decref(out);

  informer_free(inf);
  rest_client_free(client);
  if (held_watch) evhttp_send_reply_end(held_watch);
  evhttp_free(http);
  event_base_free(base);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_candidates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
