/*
 * test_api_writes.c - the write path of kube-apiserver over real HTTP:
 * server-side apply and managedFields, admission answers, eviction with
 * disruption budgets, protobuf DeleteOptions and the events table.  The
 * whole server (storage, schema, registry bootstrap, HTTP) runs in this
 * process on an ephemeral loopback port; requests go through libcurl's
 * multi interface, pumped together with the server's event loop.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>

#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <kube/base64.h>
#include <kube/json.h>
#include <kube/metrics.h>

#include "apiserver.h"
#include "registry/reg_internal.h"
#include "registry/registry.h"
#include "schema/schema.h"
#include "storage/storage.h"

struct env {
  char dir[64];
  struct apiserver srv;
  struct schema *schema;
  int port;
  bool ready;
};

struct buf {
  char *p;
  size_t n;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *arg)
{
  struct buf *b = arg;
  char *np = realloc(b->p, b->n + sz * nm + 1);
  if (!np) return 0;
  memcpy(np + b->n, d, sz * nm);
  b->p = np;
  b->n += sz * nm;
  b->p[b->n] = '\0';
  return sz * nm;
}

static void pump(struct env *e, int ms)
{
  for (int i = 0; i < ms; i++) {
    event_base_loop(e->srv.base, EVLOOP_NONBLOCK);
    usleep(1000);
  }
}

/* One request; returns the HTTP code and *out the parsed body (new
 * reference, may be NULL).  body_len 0: strlen(body). */
static long req(struct env *e, const char *method, const char *path, const char *ctype, const char *body,
                size_t body_len, const char *ua, json_t **out)
{
  char url[1024];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", e->port, path);
  CURL *c = curl_easy_init();
  struct buf b = {0};
  struct curl_slist *h = NULL;
  char hdr[256];
  if (ctype) {
    snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
    h = curl_slist_append(h, hdr);
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_USERAGENT, ua ? ua : "test/1.0");
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body_len ? body_len : strlen(body)));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  CURLM *m = curl_multi_init();
  curl_multi_add_handle(m, c);
  int running = 1;
  for (int i = 0; running && i < 20000; i++) {
    curl_multi_perform(m, &running);
    event_base_loop(e->srv.base, EVLOOP_NONBLOCK);
    if (running) curl_multi_wait(m, NULL, 0, 1, NULL);
  }
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_multi_remove_handle(m, c);
  curl_multi_cleanup(m);
  curl_easy_cleanup(c);
  curl_slist_free_all(h);
  if (out) *out = b.p ? json_loads(b.p, 0, NULL) : NULL;
  free(b.p);
  return code;
}

static void on_ready(void *arg) { ((struct env *)arg)->ready = true; }

static int setup(void **state)
{
  struct env *e = calloc(1, sizeof(*e));
  strcpy(e->dir, "/tmp/test_api_writes.XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  struct apiserver *s = &e->srv;
  s->base = event_base_new();
  s->cfg.insecure_bind_address = "127.0.0.1";
  s->cfg.insecure_port = -1;
  s->cfg.advertise_address = "127.0.0.1";
  s->cfg.service_cluster_ip_range = "10.96.0.0/12";
  s->cfg.service_node_port_range = "30000-32767";
  s->cfg.data_dir = e->dir;
  s->cfg.service_account_issuer = "https://kubernetes.default.svc.cluster.local";
  s->cfg.api_audiences = "https://kubernetes.default.svc.cluster.local";
  s->cfg.service_account_extend_token_expiration = true;
  s->metrics = metrics_new();
  struct storage_opts o = {.data_dir = e->dir};
  char err[256];
  s->storage = storage_open_sqlite(s->base, &o, err, sizeof(err));
  assert_non_null(s->storage);
  e->schema = schema_load_builtin(err, sizeof(err));
  assert_non_null(e->schema);
  s->schema = e->schema;
  assert_int_equal(api_sa_signer_setup(s, err, sizeof(err)), 0);
  assert_int_equal(registry_init(s, on_ready, e), 0);
  for (int i = 0; i < 5000 && !e->ready; i++) pump(e, 1);
  assert_true(e->ready);
  assert_int_equal(apiserver_serve(s, err, sizeof(err)), 0);
  e->port = s->insecure_bound_port;
  assert_true(e->port > 0);
  /* pods run as the namespace's default service account, which the
   * controller-manager would create */
  assert_int_equal(req(e, "POST", "/api/v1/namespaces/default/serviceaccounts", "application/json",
                       "{\"metadata\":{\"name\":\"default\"}}", 0, NULL, NULL),
                   201);
  *state = e;
  return 0;
}

static int teardown(void **state)
{
  struct env *e = *state;
  apiserver_stop(&e->srv);
  pump(e, 5);
  registry_shutdown(&e->srv);
  api_sa_signer_free(&e->srv);
  storage_close(e->srv.storage);
  event_base_loop(e->srv.base, EVLOOP_NONBLOCK);
  schema_free(e->schema);
  metrics_free(e->srv.metrics);
  event_base_free(e->srv.base);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
  assert_int_equal(system(cmd), 0);
  free(e);
  return 0;
}

/* "manager/operation/subresource" of every managedFields entry, joined by " ". */
static void managers(const json_t *obj, char *out, size_t len)
{
  *out = '\0';
  size_t i;
  json_t *m;
  json_array_foreach (kj_get(obj, "metadata.managedFields"), i, m) {
    size_t n = strlen(out);
    const char *sub = kj_get_str(m, "subresource");
    snprintf(out + n, len - n, "%s%s/%s/%s", n ? " " : "", kj_get_str(m, "manager"), kj_get_str(m, "operation"),
             sub ? sub : "");
  }
}

#define CM "/api/v1/namespaces/default/configmaps"
#define APPLY "application/apply-patch+yaml"

static void test_server_side_apply(void **state)
{
  struct env *e = *state;
  json_t *o = NULL;
  char mg[512];
  /* apply creates */
  assert_int_equal(req(e, "PATCH", CM "/ssa?fieldManager=alice", APPLY,
                       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: '1', b: '2'}\n", 0, NULL, &o),
                   201);
  managers(o, mg, sizeof(mg));
  assert_string_equal(mg, "alice/Apply/");
  assert_string_equal(kj_get_str(o, "data.a"), "1");
  json_decref(o);
  /* another manager changing alice's field conflicts */
  assert_int_equal(req(e, "PATCH", CM "/ssa?fieldManager=bob", APPLY,
                       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: '9'}\n", 0, NULL, &o),
                   409);
  assert_string_equal(kj_get_str(o, "reason"), "Conflict");
  assert_string_equal(kj_get_str(o, "message"), "Apply failed with 1 conflict: conflict with \"alice\": .data.a");
  json_decref(o);
  /* force takes the field over; alice keeps b */
  assert_int_equal(req(e, "PATCH", CM "/ssa?fieldManager=bob&force=true", APPLY,
                       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: '9'}\n", 0, NULL, &o),
                   200);
  assert_string_equal(kj_get_str(o, "data.a"), "9");
  managers(o, mg, sizeof(mg));
  assert_string_equal(mg, "alice/Apply/ bob/Apply/");
  assert_non_null(kj_get(json_array_get(kj_get(o, "metadata.managedFields"), 0), "fieldsV1.f:data.f:b"));
  assert_null(kj_get(json_array_get(kj_get(o, "metadata.managedFields"), 0), "fieldsV1.f:data.f:a"));
  json_decref(o);
  /* an ordinary write without ?fieldManager= is named after the User-Agent */
  assert_int_equal(req(e, "PATCH", CM "/ssa", "application/merge-patch+json", "{\"data\":{\"c\":\"3\"}}", 0,
                       "kubectl/v1.32.0 (linux/amd64)", &o),
                   200);
  managers(o, mg, sizeof(mg));
  assert_string_equal(mg, "alice/Apply/ bob/Apply/ kubectl/Update/");
  json_decref(o);
  /* options checks */
  assert_int_equal(req(e, "PATCH", CM "/ssa", APPLY, "{}", 0, NULL, &o), 422);
  json_decref(o);
  assert_int_equal(req(e, "PATCH", CM "/ssa?force=true", "application/merge-patch+json", "{}", 0, NULL, &o), 422);
  json_decref(o);
  /* the name in the configuration must be the URL's */
  assert_int_equal(req(e, "PATCH", CM "/ssa?fieldManager=x", APPLY,
                       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n", 0, NULL, &o),
                   400);
  json_decref(o);
  /* create records the creator */
  assert_int_equal(
      req(e, "POST", CM "?fieldManager=kubectl-create", "application/json",
          "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"made\"},\"data\":{\"k\":\"v\"}}", 0,
          NULL, &o),
      201);
  managers(o, mg, sizeof(mg));
  assert_string_equal(mg, "kubectl-create/Update/");
  json_decref(o);
}

static void test_admission_answers(void **state)
{
  struct env *e = *state;
  json_t *o = NULL;
  assert_int_equal(req(e, "DELETE", "/api/v1/namespaces/kube-system", NULL, NULL, 0, NULL, &o), 403);
  assert_string_equal(kj_get_str(o, "message"),
                      "namespaces \"kube-system\" is forbidden: this namespace may not be deleted");
  json_decref(o);
  assert_int_equal(req(e, "POST", "/api/v1/namespaces/missing/configmaps", "application/json",
                       "{\"metadata\":{\"name\":\"x\"}}", 0, NULL, &o),
                   404);
  json_decref(o);
  /* a pod gets its service account, priority and tolerations */
  assert_int_equal(req(e, "POST", "/api/v1/namespaces/default/pods", "application/json",
                       "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"priorityClassName\":\"system-cluster-critical\","
                       "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}",
                       0, NULL, &o),
                   201);
  assert_string_equal(kj_get_str(o, "spec.serviceAccountName"), "default");
  assert_int_equal(kj_get_int(o, "spec.priority", 0), 2000000000);
  assert_int_equal(json_array_size(kj_get(o, "spec.tolerations")), 2);
  json_decref(o);
}

static void test_eviction(void **state)
{
  struct env *e = *state;
  json_t *o = NULL;
  const char *pods = "/api/v1/namespaces/default/pods";
  const char *pdbs = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";
  assert_int_equal(req(e, "POST", pods, "application/json",
                       "{\"metadata\":{\"name\":\"w\",\"labels\":{\"app\":\"w\"}},\"spec\":{\"containers\":[{\"name\":"
                       "\"c\",\"image\":\"busybox\"}]}}",
                       0, NULL, NULL),
                   201);
  assert_int_equal(req(e, "PATCH", "/api/v1/namespaces/default/pods/w/status", "application/merge-patch+json",
                       "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
                       0, NULL, NULL),
                   200);
  assert_int_equal(req(e, "POST", pdbs, "application/json",
                       "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"minAvailable\":1,\"selector\":{\"matchLabels\":{"
                       "\"app\":\"w\"}}}}",
                       0, NULL, NULL),
                   201);
  assert_int_equal(
      req(e, "PATCH", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/b/status",
          "application/merge-patch+json",
          "{\"status\":{\"observedGeneration\":1,\"disruptionsAllowed\":0,\"currentHealthy\":1,\"desiredHealthy\":1}}",
          0, NULL, NULL),
      200);
  const char *ev = "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"w\"}}";
  assert_int_equal(req(e, "POST", "/api/v1/namespaces/default/pods/w/eviction", "application/json", ev, 0, NULL, &o),
                   429);
  assert_string_equal(kj_get_str(o, "message"), "Cannot evict pod as it would violate the pod's disruption budget.");
  json_t *cause = json_array_get(kj_get(o, "details.causes"), 0);
  assert_string_equal(kj_get_str(cause, "reason"), "DisruptionBudget");
  assert_string_equal(kj_get_str(cause, "message"), "The disruption budget b needs 1 healthy pods and has 1 currently");
  json_decref(o);
  assert_int_equal(req(e, "PATCH", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/b/status",
                       "application/merge-patch+json", "{\"status\":{\"disruptionsAllowed\":1,\"currentHealthy\":2}}",
                       0, NULL, NULL),
                   200);
  assert_int_equal(req(e, "POST", "/api/v1/namespaces/default/pods/w/eviction", "application/json", ev, 0, NULL, &o),
                   201);
  json_decref(o);
  assert_int_equal(req(e, "GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/b", NULL, NULL, 0, NULL, &o),
                   200);
  assert_int_equal(kj_get_int(o, "status.disruptionsAllowed", -1), 0);
  assert_non_null(json_object_get(kj_get(o, "status.disruptedPods"), "w"));
  json_decref(o);
  assert_int_equal(req(e, "GET", "/api/v1/namespaces/default/pods/w", NULL, NULL, 0, NULL, NULL), 404);
}

static void test_protobuf_delete_options(void **state)
{
  struct env *e = *state;
  assert_int_equal(req(e, "POST", CM, "application/json", "{\"metadata\":{\"name\":\"keep\"}}", 0, NULL, NULL), 201);
  /* "k8s\0" + Unknown{2: raw DeleteOptions{5: "All"}}: a dry run */
  static const char dry[] = {'k', '8', 's', 0, 0x12, 5, 0x2a, 3, 'A', 'l', 'l'};
  assert_int_equal(req(e, "DELETE", CM "/keep", "application/vnd.kubernetes.protobuf", dry, sizeof(dry), NULL, NULL),
                   200);
  assert_int_equal(req(e, "GET", CM "/keep", NULL, NULL, 0, NULL, NULL), 200);
  static const char bad[] = {'k', '8', 's', 0, 0x12, 9, 0x2a};
  assert_int_equal(req(e, "DELETE", CM "/keep", "application/vnd.kubernetes.protobuf", bad, sizeof(bad), NULL, NULL),
                   400);
  static const char plain[] = {'k', '8', 's', 0, 0x12, 2, 0x08, 0};
  assert_int_equal(
      req(e, "DELETE", CM "/keep", "application/vnd.kubernetes.protobuf", plain, sizeof(plain), NULL, NULL), 200);
  assert_int_equal(req(e, "GET", CM "/keep", NULL, NULL, 0, NULL, NULL), 404);
}

/* ---- service account tokens ---- */

/* The JSON of one base64url part of a JWT; new reference. */
static json_t *jwt_part(const char *tok, int which)
{
  const char *p = tok;
  for (int i = 0; i < which; i++) p = strchr(p, '.') + 1;
  size_t n = strcspn(p, "."), len;
  unsigned char *raw;
  size_t bad;
  assert_int_equal(kb64_decode(p, n, KB64_RAW_URL, &raw, &len, &bad), 0);
  json_t *j = json_loadb((const char *)raw, len, 0, NULL);
  free(raw);
  assert_non_null(j);
  return j;
}

static BIGNUM *b64_bn(const char *s)
{
  unsigned char *raw;
  size_t len, bad;
  assert_int_equal(kb64_decode(s, strlen(s), KB64_RAW_URL, &raw, &len, &bad), 0);
  BIGNUM *bn = BN_bin2bn(raw, (int)len, NULL);
  free(raw);
  return bn;
}

/* The token's signature checks out against the key the JWKS publishes
 * under the token's kid. */
static void verify_jwt(struct env *e, const char *tok)
{
  json_t *jwks = NULL, *hdr = jwt_part(tok, 0);
  assert_int_equal(req(e, "GET", "/openid/v1/jwks", NULL, NULL, 0, NULL, &jwks), 200);
  assert_string_equal(kj_get_str(hdr, "alg"), "RS256");
  json_t *key = NULL;
  size_t i;
  json_t *k;
  json_array_foreach (json_object_get(jwks, "keys"), i, k)
    if (!strcmp(kj_get_str(k, "kid"), kj_get_str(hdr, "kid"))) key = k;
  assert_non_null(key);
  assert_string_equal(kj_get_str(key, "kty"), "RSA");
  BIGNUM *n = b64_bn(kj_get_str(key, "n")), *ex = b64_bn(kj_get_str(key, "e"));
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, ex);
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
  EVP_PKEY *pub = NULL;
  assert_int_equal(EVP_PKEY_fromdata_init(pctx), 1);
  assert_int_equal(EVP_PKEY_fromdata(pctx, &pub, EVP_PKEY_PUBLIC_KEY, params), 1);
  const char *dot2 = strrchr(tok, '.');
  unsigned char *sig;
  size_t siglen, bad;
  assert_int_equal(kb64_decode(dot2 + 1, strlen(dot2 + 1), KB64_RAW_URL, &sig, &siglen, &bad), 0);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
  assert_int_equal(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)tok, (size_t)(dot2 - tok)), 1);
  /* and a changed byte does not */
  sig[0] ^= 1;
  assert_int_not_equal(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)tok, (size_t)(dot2 - tok)), 1);
  EVP_MD_CTX_free(md);
  free(sig);
  EVP_PKEY_free(pub);
  EVP_PKEY_CTX_free(pctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(ex);
  json_decref(hdr);
  json_decref(jwks);
}

#define SA "/api/v1/namespaces/default/serviceaccounts"

static void test_token_request(void **state)
{
  struct env *e = *state;
  json_t *o = NULL, *sa = NULL;
  assert_int_equal(req(e, "GET", SA "/default", NULL, NULL, 0, NULL, &sa), 200);
  assert_int_equal(req(e, "POST", SA "/default/token", "application/json",
                       "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{}}", 0, NULL,
                       &o),
                   201);
  assert_string_equal(kj_get_str(o, "kind"), "TokenRequest");
  assert_string_equal(kj_get_str(o, "metadata.name"), "default");
  assert_int_equal(kj_get_int(o, "spec.expirationSeconds", 0), 3600);
  assert_string_equal(kj_get_str(o, "spec.audiences[0]"), "https://kubernetes.default.svc.cluster.local");
  const char *tok = kj_get_str(o, "status.token");
  assert_non_null(tok);
  verify_jwt(e, tok);
  json_t *c = jwt_part(tok, 1);
  assert_string_equal(kj_get_str(c, "sub"), "system:serviceaccount:default:default");
  assert_string_equal(kj_get_str(c, "iss"), "https://kubernetes.default.svc.cluster.local");
  assert_string_equal(kj_get_str(c, "aud[0]"), "https://kubernetes.default.svc.cluster.local");
  assert_int_equal(kj_get_int(c, "exp", 0) - kj_get_int(c, "iat", 0), 3600);
  assert_int_equal(kj_get_int(c, "nbf", 0), kj_get_int(c, "iat", 1));
  assert_int_equal(strlen(kj_get_str(c, "jti")), 36);
  assert_string_equal(kj_get_str(json_object_get(c, "kubernetes.io"), "namespace"), "default");
  assert_string_equal(kj_get_str(json_object_get(c, "kubernetes.io"), "serviceaccount.name"), "default");
  assert_string_equal(kj_get_str(json_object_get(c, "kubernetes.io"), "serviceaccount.uid"),
                      kj_get_str(sa, "metadata.uid"));
  assert_null(kj_get(json_object_get(c, "kubernetes.io"), "pod"));
  json_decref(c);
  json_decref(o);

  /* bound to a pod on a node, as the kubelet asks (3607 s): a year with a
   * warnafter claim, the pod and its node named */
  assert_int_equal(
      req(e, "POST", "/api/v1/nodes", "application/json", "{\"metadata\":{\"name\":\"n1\"}}", 0, NULL, NULL), 201);
  json_t *pod = NULL, *node = NULL;
  assert_int_equal(req(e, "POST", "/api/v1/namespaces/default/pods", "application/json",
                       "{\"metadata\":{\"name\":\"tp\"},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\","
                       "\"image\":\"busybox\"}]}}",
                       0, NULL, &pod),
                   201);
  assert_int_equal(req(e, "GET", "/api/v1/nodes/n1", NULL, NULL, 0, NULL, &node), 200);
  char body[512];
  snprintf(body, sizeof body,
           "{\"spec\":{\"expirationSeconds\":3607,\"boundObjectRef\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
           "\"name\":\"tp\",\"uid\":\"%s\"}}}",
           kj_get_str(pod, "metadata.uid"));
  assert_int_equal(req(e, "POST", SA "/default/token", "application/json", body, 0, NULL, &o), 201);
  c = jwt_part(kj_get_str(o, "status.token"), 1);
  int64_t iat = kj_get_int(c, "iat", 0);
  assert_int_equal(kj_get_int(c, "exp", 0) - iat, 24LL * 365 * 3600);
  assert_int_equal(kj_get_int(json_object_get(c, "kubernetes.io"), "warnafter", 0) - iat, 3607);
  assert_string_equal(kj_get_str(json_object_get(c, "kubernetes.io"), "pod.name"), "tp");
  assert_string_equal(kj_get_str(json_object_get(c, "kubernetes.io"), "pod.uid"), kj_get_str(pod, "metadata.uid"));
  assert_string_equal(kj_get_str(json_object_get(c, "kubernetes.io"), "node.name"), "n1");
  assert_string_equal(kj_get_str(json_object_get(c, "kubernetes.io"), "node.uid"), kj_get_str(node, "metadata.uid"));
  json_decref(c);
  json_decref(o);

  /* refusals */
  struct {
    const char *path, *body;
    long code;
    const char *msg;
  } bad[] = {
      {SA "/ghost/token", "{\"spec\":{}}", 404, "serviceaccounts \"ghost\" not found"},
      {SA "/default/token", "{\"spec\":{\"expirationSeconds\":60}}", 422,
       "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify "
       "a "
       "duration less than 10 minutes"},
      {SA "/default/token", "{\"metadata\":{\"name\":\"other\"},\"spec\":{}}", 422,
       "TokenRequest.authentication.k8s.io \"default\" is invalid: metadata.name: Invalid value: \"other\": must match "
       "the service account name if specified"},
      {SA "/default/token",
       "{\"spec\":{\"boundObjectRef\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"name\":\"tp\","
       "\"uid\":\"00000000-0000-0000-0000-000000000000\"}}}",
       409,
       "Operation cannot be fulfilled on Pod \"tp\": the UID in the bound object reference "
       "(00000000-0000-0000-0000-000000000000) does not match the UID in record. The object might have been "
       "deleted and then recreated"},
      {SA "/default/token",
       "{\"spec\":{\"boundObjectRef\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"name\":\"nope\"}}}", 404,
       "pods \"nope\" not found"},
      {SA "/default/token",
       "{\"spec\":{\"boundObjectRef\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"name\":\"x\"}}}", 400,
       "cannot bind token to object of type /v1, Kind=ConfigMap"},
      {SA "/default/token", "{\"spec\":{\"expirationSeconds\":\"1h\"}}", 400,
       "TokenRequest in version \"v1\" cannot be handled as a TokenRequest: json: cannot unmarshal string into Go "
       "struct field TokenRequestSpec.spec.expirationSeconds of type int64"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    long code = req(e, "POST", bad[i].path, "application/json", bad[i].body, 0, NULL, &o);
    if (code != bad[i].code || strcmp(reg_str_or(kj_get_str(o, "message"), ""), bad[i].msg))
      fail_msg("case %zu: %ld %s", i, code, kj_get_str(o, "message"));
    json_decref(o);
  }
  /* a pod running as another account */
  assert_int_equal(req(e, "POST", SA, "application/json", "{\"metadata\":{\"name\":\"robot\"}}", 0, NULL, NULL), 201);
  assert_int_equal(req(e, "POST", SA "/robot/token", "application/json",
                       "{\"spec\":{\"boundObjectRef\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"name\":\"tp\"}}}", 0,
                       NULL, &o),
                   400);
  assert_string_equal(
      kj_get_str(o, "message"),
      "cannot bind token for serviceaccount \"robot\" to pod running with different serviceaccount name.");
  json_decref(o);
  json_decref(pod);
  json_decref(node);
  json_decref(sa);
}

/* The generated key is kept (0600) and used again after a restart. */
static void test_token_key_kept(void **state)
{
  struct env *e = *state;
  json_t *a = NULL, *b = NULL;
  assert_int_equal(req(e, "GET", "/openid/v1/jwks", NULL, NULL, 0, NULL, &a), 200);
  char path[128], err[256];
  snprintf(path, sizeof path, "%s/sa.key", e->dir);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  api_sa_signer_free(&e->srv);
  assert_int_equal(api_sa_signer_setup(&e->srv, err, sizeof err), 0);
  assert_int_equal(req(e, "GET", "/openid/v1/jwks", NULL, NULL, 0, NULL, &b), 200);
  assert_true(json_equal(a, b));
  json_decref(b);
  assert_int_equal(req(e, "GET", "/.well-known/openid-configuration", NULL, NULL, 0, NULL, &b), 200);
  assert_string_equal(kj_get_str(b, "issuer"), "https://kubernetes.default.svc.cluster.local");
  assert_string_equal(kj_get_str(b, "id_token_signing_alg_values_supported[0]"), "RS256");
  json_decref(a);
  json_decref(b);
}

int main(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_server_side_apply, setup, teardown),
      cmocka_unit_test_setup_teardown(test_admission_answers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_eviction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_protobuf_delete_options, setup, teardown),
      cmocka_unit_test_setup_teardown(test_token_request, setup, teardown),
      cmocka_unit_test_setup_teardown(test_token_key_kept, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
