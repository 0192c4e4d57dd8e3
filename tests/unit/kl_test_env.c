/*
 * kl_test_env.c - container environments: $(VAR) expansion and escapes,
 * valueFrom (fieldRef, resourceFieldRef, ConfigMap and Secret keys),
 * envFrom with prefix, optional references, service variables, upstream's
 * error messages, and objects still loading (PENDING, never mistaken for
 * a missing optional one: that bug once dropped variables silently).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "env.h"
#include "kube/json.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad JSON in test: %s: %s", e.text, s);
  return v;
}

struct objs {
  json_t *cms, *secrets; /* name -> object */
  bool loading;          /* every lookup is still loading */
  int warnings;
  char last_warning[1024];
};

static int get_obj(void *arg, const char *kind, const char *ns, const char *name, const json_t **out)
{
  struct objs *o = arg;
  if (o->loading) return -EAGAIN;
  json_t *obj = json_object_get(!strcmp(kind, "Secret") ? o->secrets : o->cms, name);
  if (!obj) return -ENOENT;
  *out = obj;
  return 0;
}

static void warn(void *arg, const char *reason, const char *msg)
{
  struct objs *o = arg;
  o->warnings++;
  snprintf(o->last_warning, sizeof o->last_warning, "%s: %s", reason, msg);
}

static const char *val(const json_t *envs, const char *key)
{
  size_t i;
  json_t *e;
  json_array_foreach (envs, i, e)
    if (!strcmp(kj_get_str(e, "key"), key)) return kj_get_str(e, "value");
  return NULL;
}

static json_t *pod_with(const char *container_json)
{
  char buf[4096];
  snprintf(buf, sizeof buf,
           "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns1\",\"uid\":\"u-1\",\"labels\":{\"app\":\"web\"},"
           "\"annotations\":{\"a.b/c\":\"v\"}},\"spec\":{\"nodeName\":\"n1\",\"serviceAccountName\":\"sa\","
           "\"containers\":[%s]}}",
           container_json);
  return J(buf);
}

static int build(struct objs *o, json_t *pod, json_t *services, json_t **out, char *err, size_t errlen)
{
  json_t *alloc = J("{\"cpu\":\"2\",\"memory\":\"4Gi\"}");
  struct kl_env_ctx c = {.pod = pod,
                         .container = kj_get(pod, "spec.containers[0]"),
                         .services = services,
                         .host_ip = "192.0.2.10",
                         .pod_ip = "10.244.1.5",
                         .node_allocatable = alloc,
                         .get_object = get_obj,
                         .warn = warn,
                         .arg = o};
  int rc = kl_env_build(&c, out, err, errlen);
  json_decref(alloc);
  return rc;
}

static void test_expand(void **state)
{
  json_t *vars = J("{\"A\":\"1\",\"B\":\"two\"}");
  struct {
    const char *in, *out;
  } t[] = {
      {"$(A)", "1"}, {"x$(A)y$(B)", "x1ytwo"}, {"$$(A)", "$(A)"}, {"$(NOPE)", "$(NOPE)"}, {"$(A", "$(A"},
      {"$", "$"},    {"a$b", "a$b"},           {"$$", "$"},       {"$()", "$()"},         {"", ""},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    char *s = kl_env_expand(t[i].in, vars);
    if (strcmp(s, t[i].out)) fail_msg("expand(%s) = %s, want %s", t[i].in, s, t[i].out);
    free(s);
  }
  json_decref(vars);
}

static void test_values_and_refs(void **state)
{
  struct objs o = {J("{\"cm\":{\"data\":{\"k\":\"v1\",\"k2\":\"v2\"}}}"),
                   J("{\"s\":{\"data\":{\"pw\":\"aHVudGVyMg==\"}}}")};
  json_t *pod = pod_with(
      "{\"name\":\"c\",\"resources\":{\"limits\":{\"memory\":\"64Mi\"},\"requests\":{\"cpu\":\"250m\"}},"
      "\"envFrom\":[{\"prefix\":\"P_\",\"configMapRef\":{\"name\":\"cm\"}}],"
      "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"$(A)-$(P_k)\"},"
      "{\"name\":\"N\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},"
      "{\"name\":\"L\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.labels['app']\"}}},"
      "{\"name\":\"AN\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.annotations['a.b/c']\"}}},"
      "{\"name\":\"IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
      "{\"name\":\"HIP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.hostIP\"}}},"
      "{\"name\":\"SA\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.serviceAccountName\"}}},"
      "{\"name\":\"MEM\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.memory\",\"divisor\":\"1Mi\"}}},"
      "{\"name\":\"CPU\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"requests.cpu\",\"divisor\":\"1m\"}}},"
      "{\"name\":\"CPULIM\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.cpu\"}}},"
      "{\"name\":\"CM\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cm\",\"key\":\"k2\"}}},"
      "{\"name\":\"SEC\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"pw\"}}},"
      "{\"name\":\"OPT\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"missing\",\"key\":\"x\",\"optional\":true}}},"
      "{\"name\":\"OPTK\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"nope\",\"optional\":true}}},"
      "{\"name\":\"A\",\"value\":\"override\"}]}");
  json_t *envs = NULL;
  char err[512] = "";
  json_t *none = json_array();
  assert_int_equal(build(&o, pod, none, &envs, err, sizeof err), KL_ENV_OK);
  assert_string_equal(val(envs, "A"), "override");
  assert_string_equal(val(envs, "B"), "1-v1");
  assert_string_equal(val(envs, "P_k"), "v1");
  assert_string_equal(val(envs, "N"), "p");
  assert_string_equal(val(envs, "L"), "web");
  assert_string_equal(val(envs, "AN"), "v");
  assert_string_equal(val(envs, "IP"), "10.244.1.5");
  assert_string_equal(val(envs, "HIP"), "192.0.2.10");
  assert_string_equal(val(envs, "SA"), "sa");
  assert_string_equal(val(envs, "MEM"), "64");
  assert_string_equal(val(envs, "CPU"), "250");
  assert_string_equal(val(envs, "CPULIM"), "2"); /* no limit: node allocatable */
  assert_string_equal(val(envs, "CM"), "v2");
  assert_string_equal(val(envs, "SEC"), "hunter2");
  assert_null(val(envs, "OPT"));
  assert_null(val(envs, "OPTK"));
  json_decref(envs);
  json_decref(pod);
  json_decref(none);
  json_decref(o.cms);
  json_decref(o.secrets);
}

static void test_errors(void **state)
{
  struct objs o = {J("{\"cm\":{\"data\":{\"k\":\"v\"}}}"), J("{}")};
  struct {
    const char *container, *msg;
  } t[] = {
      {"{\"name\":\"c\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"nope\",\"key\":\"k\"}}}"
       "]}",
       "configmap \"nope\" not found"},
      {"{\"name\":\"c\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cm\",\"key\":\"zz\"}}}]"
       "}",
       "couldn't find key zz in ConfigMap ns1/cm"},
      {"{\"name\":\"c\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"}}}]}",
       "secret \"s\" not found"},
      {"{\"name\":\"c\",\"envFrom\":[{\"secretRef\":{\"name\":\"s2\"}}]}", "secret \"s2\" not found"},
      {"{\"name\":\"c\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.bogus\"}}}]}",
       "unsupported fieldPath: spec.bogus"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    json_t *pod = pod_with(t[i].container), *envs = NULL, *none = json_array();
    char err[512] = "";
    assert_int_equal(build(&o, pod, none, &envs, err, sizeof err), KL_ENV_ERROR);
    assert_string_equal(err, t[i].msg);
    json_decref(pod);
    json_decref(none);
  }
  json_decref(o.cms);
  json_decref(o.secrets);
}

/* Regression: an object still loading must make the build wait, even for
 * an optional reference; it used to be taken as "missing and optional". */
static void test_pending_is_not_optional(void **state)
{
  struct objs o = {J("{}"), J("{}"), .loading = true};
  const char *cs[] = {
      "{\"name\":\"c\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cm\",\"key\":\"k\"}}}]}",
      "{\"name\":\"c\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cm\",\"key\":\"k\","
      "\"optional\":true}}}]}",
      "{\"name\":\"c\",\"envFrom\":[{\"configMapRef\":{\"name\":\"cm\",\"optional\":true}}]}",
  };
  for (size_t i = 0; i < 3; i++) {
    json_t *pod = pod_with(cs[i]), *envs = NULL, *none = json_array();
    char err[512] = "";
    assert_int_equal(build(&o, pod, none, &envs, err, sizeof err), KL_ENV_PENDING);
    assert_null(envs);
    json_decref(pod);
    json_decref(none);
  }
  json_decref(o.cms);
  json_decref(o.secrets);
}

static void test_service_env(void **state)
{
  json_t *svcs =
      J("[{\"metadata\":{\"name\":\"kubernetes\",\"namespace\":\"default\"},"
        "\"spec\":{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"name\":\"https\",\"port\":443,\"protocol\":\"TCP\"}]}},"
        "{\"metadata\":{\"name\":\"redis-master\",\"namespace\":\"ns1\"},"
        "\"spec\":{\"clusterIP\":\"10.96.5.5\",\"ports\":[{\"port\":6379,\"protocol\":\"TCP\"},"
        "{\"name\":\"metrics\",\"port\":9121,\"protocol\":\"TCP\"}]}},"
        "{\"metadata\":{\"name\":\"headless\",\"namespace\":\"ns1\"},\"spec\":{\"clusterIP\":\"None\"}},"
        "{\"metadata\":{\"name\":\"other\",\"namespace\":\"ns2\"},\"spec\":{\"clusterIP\":\"10.96.7.7\",\"ports\":[{"
        "\"port\":80}]}}]");
  json_t *e = kl_service_env(svcs, "ns1", true);
  assert_string_equal(kj_get_str(e, "REDIS_MASTER_SERVICE_HOST"), "10.96.5.5");
  assert_string_equal(kj_get_str(e, "REDIS_MASTER_SERVICE_PORT"), "6379");
  assert_string_equal(kj_get_str(e, "REDIS_MASTER_SERVICE_PORT_METRICS"), "9121");
  assert_string_equal(kj_get_str(e, "REDIS_MASTER_PORT"), "tcp://10.96.5.5:6379");
  assert_string_equal(kj_get_str(e, "REDIS_MASTER_PORT_6379_TCP_ADDR"), "10.96.5.5");
  assert_string_equal(kj_get_str(e, "REDIS_MASTER_PORT_9121_TCP_PROTO"), "tcp");
  assert_string_equal(kj_get_str(e, "KUBERNETES_SERVICE_HOST"), "10.96.0.1");
  assert_string_equal(kj_get_str(e, "KUBERNETES_SERVICE_PORT_HTTPS"), "443");
  assert_null(kj_get(e, "HEADLESS_SERVICE_HOST"));
  assert_null(kj_get(e, "OTHER_SERVICE_HOST"));
  json_decref(e);
  e = kl_service_env(svcs, "ns1", false);
  assert_null(kj_get(e, "REDIS_MASTER_SERVICE_HOST"));
  assert_string_equal(kj_get_str(e, "KUBERNETES_SERVICE_HOST"), "10.96.0.1"); /* always there */
  json_decref(e);
  json_decref(svcs);
}

static void test_env_names(void **state)
{
  assert_true(kl_is_env_var_name("MY_VAR"));
  assert_true(kl_is_env_var_name("1leading.digit-ok")); /* relaxed validation (v1.32) */
  assert_false(kl_is_env_var_name(""));
  assert_false(kl_is_env_var_name("a=b"));
  assert_false(kl_is_env_var_name("tab\tx"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_expand),      cmocka_unit_test(test_values_and_refs),
      cmocka_unit_test(test_errors),      cmocka_unit_test(test_pending_is_not_optional),
      cmocka_unit_test(test_service_env), cmocka_unit_test(test_env_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
