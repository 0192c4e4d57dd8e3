/* Tests for kube/status.h: upstream Status shapes and messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/json.h"
#include "kube/status.h"

static void expect_json(json_t *st, const char *want)
{
  assert_non_null(st);
  char *s = kj_dumps(st);
  assert_string_equal(s, want);
  free(s);
  json_decref(st);
}

static void test_object_errors(void **state)
{
  (void)state;
  expect_json(kstatus_not_found("", "pods", "x"),
              "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
              "\"message\":\"pods \\\"x\\\" not found\",\"reason\":\"NotFound\","
              "\"details\":{\"name\":\"x\",\"kind\":\"pods\"},\"code\":404}");
  expect_json(kstatus_not_found("apps", "deployments", "web"),
              "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
              "\"message\":\"deployments.apps \\\"web\\\" not found\",\"reason\":\"NotFound\","
              "\"details\":{\"name\":\"web\",\"group\":\"apps\",\"kind\":\"deployments\"},"
              "\"code\":404}");

  struct {
    json_t *st;
    int code;
    const char *reason;
    const char *message;
  } cases[] = {
      {kstatus_already_exists("", "pods", "x"), 409, "AlreadyExists", "pods \"x\" already exists"},
      {kstatus_already_exists("batch", "jobs", "j"), 409, "AlreadyExists", "jobs.batch \"j\" already exists"},
      {kstatus_conflict("", "pods", "x",
                        "the object has been modified; please apply your "
                        "changes to the latest version and try again"),
       409, "Conflict",
       "Operation cannot be fulfilled on pods \"x\": the object has been modified; please apply "
       "your changes to the latest version and try again"},
      {kstatus_conflict("apps", "replicasets", "rs", "boom"), 409, "Conflict",
       "Operation cannot be fulfilled on replicasets.apps \"rs\": boom"},
      {kstatus_bad_request("bad %s", "thing"), 400, "BadRequest", "bad thing"},
      {kstatus_forbidden("nope"), 403, "Forbidden", "nope"},
      {kstatus_method_not_allowed("no"), 405, "MethodNotAllowed", "no"},
      {kstatus_gone("too old resource version: %d (%d)", 1, 5), 410, "Expired", "too old resource version: 1 (5)"},
      {kstatus_internal("x"), 500, "InternalError", "x"},
      {kstatus_too_many_requests("slow"), 429, "TooManyRequests", "slow"},
      {kstatus_unsupported_media_type("m"), 415, "UnsupportedMediaType", "m"},
      {kstatus_request_entity_too_large("big"), 413, "RequestEntityTooLarge", "big"},
      {kstatus_new(418, "Teapot", "short %d", 1), 418, "Teapot", "short 1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *st = cases[i].st;
    assert_int_equal(kstatus_code(st), cases[i].code);
    assert_string_equal(kstatus_reason(st), cases[i].reason);
    assert_string_equal(kj_get_str(st, "message"), cases[i].message);
    assert_string_equal(kj_get_str(st, "status"), "Failure");
    assert_string_equal(kj_get_str(st, "kind"), "Status");
    json_decref(st);
  }
}

static void test_success(void **state)
{
  (void)state;
  json_t *st = kstatus_success();
  kstatus_set_details(st, "x", "", "pods");
  kstatus_set_details(st, NULL, NULL, NULL);
  expect_json(st, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                  "\"status\":\"Success\",\"details\":{\"name\":\"x\",\"kind\":\"pods\"},"
                  "\"code\":200}");
}

static json_t *cause(const char *reason, const char *msg, const char *field)
{
  json_t *c = json_object();
  json_object_set_new(c, "reason", json_string(reason));
  json_object_set_new(c, "message", json_string(msg));
  json_object_set_new(c, "field", json_string(field));
  return c;
}

static void test_invalid(void **state)
{
  (void)state;
  json_t *causes = json_array();
  json_array_append_new(causes, cause("FieldValueRequired", "Required value", "spec.containers"));
  json_t *st = kstatus_invalid("", "Pod", "x", causes);
  expect_json(st, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                  "\"status\":\"Failure\",\"message\":\"Pod \\\"x\\\" is invalid: "
                  "spec.containers: Required value\",\"reason\":\"Invalid\","
                  "\"details\":{\"name\":\"x\",\"kind\":\"Pod\",\"causes\":[{\"reason\":"
                  "\"FieldValueRequired\",\"message\":\"Required value\",\"field\":"
                  "\"spec.containers\"}]},\"code\":422}");

  causes = json_array();
  json_array_append_new(causes, cause("FieldValueRequired", "Required value", "spec.selector"));
  json_array_append_new(
      causes, cause("FieldValueInvalid", "Invalid value: -1: must be greater than or equal to 0", "spec.replicas"));
  json_array_append_new(causes, cause("FieldValueRequired", "Required value", "spec.selector"));
  st = kstatus_invalid("apps", "Deployment", "web", causes);
  assert_string_equal(kj_get_str(st, "message"),
                      "Deployment.apps \"web\" is invalid: [spec.selector: Required value, "
                      "spec.replicas: Invalid value: -1: must be greater than or equal to 0]");
  assert_string_equal(kj_get_str(st, "details.kind"), "Deployment");
  assert_string_equal(kj_get_str(st, "details.group"), "apps");
  assert_int_equal(json_array_size(kj_get(st, "details.causes")), 3);
  json_decref(st);

  /* Causes added afterwards, then the message rebuilt. */
  st = kstatus_invalid("", "Service", "s", NULL);
  assert_string_equal(kj_get_str(st, "message"), "Service \"s\" is invalid");
  kstatus_add_cause(st, "FieldValueNotSupported", "Unsupported value: \"Foo\"", "spec.type");
  kstatus_add_cause(st, "FieldValueRequired", "Required value", "spec.ports");
  kstatus_finish_invalid(st);
  assert_string_equal(kj_get_str(st, "message"), "Service \"s\" is invalid: [spec.type: Unsupported value: \"Foo\", "
                                                 "spec.ports: Required value]");
  assert_int_equal(kstatus_code(st), 422);
  json_decref(st);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_object_errors),
      cmocka_unit_test(test_success),
      cmocka_unit_test(test_invalid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
