/* Tests for the batch/v1 Job strategy (apiserver/registry/jobs.c):
 * defaulting, selector generation, validation, immutability, table cells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kube/json.h>
#include <kube/timeutil.h>

#include "registry/kinds_ext.h"
#include "registry/registry.h"

/* JSON written with single quotes for readability. */
#include "registry_ext_test_util.h"

/* "field: message" per cause, joined by newlines. */
static char *causes_str(const json_t *causes)
{
  char *buf = NULL;
  size_t len = 0, i;
  FILE *f = open_memstream(&buf, &len);
  json_t *c;
  json_array_foreach (causes, i, c)
    fprintf(f, "%s%s: %s", i ? "\n" : "", kj_get_str(c, "field"), kj_get_str(c, "message"));
  fclose(f);
  return buf;
}

static char *validate(const struct resource *res, const json_t *obj, const json_t *old, const char *sub)
{
  struct reg_request rq = {.verb = old ? "update" : "create", .subresource = sub};
  json_t *causes = json_array();
  res->validate(&rq, obj, old, causes);
  char *s = causes_str(causes);
  json_decref(causes);
  return s;
}

/* What the request path does to a new object before validation. */
static json_t *create(const struct resource *res, const char *src)
{
  json_t *obj = J(src);
  kj_set_str(obj, "metadata.uid", "11111111-2222-4333-8444-555555555555");
  kj_set_str(obj, "metadata.creationTimestamp", "2024-01-01T00:00:00Z");
  res->defaults(obj);
  struct reg_request rq = {.verb = "create"};
  res->prepare_create(&rq, obj);
  return obj;
}

#define UID "11111111-2222-4333-8444-555555555555"
#define JOB_MIN                                                                                                        \
  "{'apiVersion':'batch/v1','kind':'Job','metadata':{'name':'pi','namespace':'default'},'spec':{'template':"           \
  "{'spec':{'restartPolicy':'Never','containers':[{'name':'pi','image':'perl:5.34'}]}}}}"

static void test_job_defaults_and_selector(void **state)
{
  (void)state;
  json_t *job = create(&reg_jobs, JOB_MIN);
  json_t *spec = json_object_get(job, "spec");
  assert_int_equal(kj_get_int(spec, "parallelism", -1), 1);
  assert_int_equal(kj_get_int(spec, "completions", -1), 1);
  assert_int_equal(kj_get_int(spec, "backoffLimit", -1), 6);
  assert_string_equal(kj_get_str(spec, "completionMode"), "NonIndexed");
  assert_string_equal(kj_get_str(spec, "podReplacementPolicy"), "TerminatingOrFailed");
  assert_false(kj_get_bool(spec, "suspend", true));
  assert_null(kj_get(spec, "manualSelector"));
  assert_int_equal(kj_get_int(job, "metadata.generation", 0), 1);

  json_t *want_labels = J("{'controller-uid':'" UID "','batch.kubernetes.io/controller-uid':'" UID "',"
                          "'job-name':'pi','batch.kubernetes.io/job-name':'pi'}");
  assert_true(json_equal(kj_get(spec, "template.metadata.labels"), want_labels));
  assert_true(json_equal(kj_get(job, "metadata.labels"), want_labels));
  json_t *want_sel = J("{'matchLabels':{'batch.kubernetes.io/controller-uid':'" UID "'}}");
  assert_true(json_equal(json_object_get(spec, "selector"), want_sel));
  /* pod defaults reach the template */
  assert_string_equal(kj_get_str(spec, "template.spec.dnsPolicy"), "ClusterFirst");
  char *c = validate(&reg_jobs, job, NULL, NULL);
  assert_string_equal(c, "");
  free(c);
  json_decref(want_labels);
  json_decref(want_sel);
  json_decref(job);
}

static void test_job_defaults_table(void **state)
{
  (void)state;
  struct {
    const char *spec_extra; /* inserted into spec */
    long long parallelism, completions, backoff;
    const char *replacement;
  } cases[] = {
      {"", 1, 1, 6, "TerminatingOrFailed"},
      /* parallelism given, completions stays unset */
      {"'parallelism':3,", 3, -1, 6, "TerminatingOrFailed"},
      {"'completions':5,", 1, 5, 6, "TerminatingOrFailed"},
      {"'backoffLimitPerIndex':1,'completionMode':'Indexed','completions':2,", 1, 2, 2147483647, "TerminatingOrFailed"},
      {"'podFailurePolicy':{'rules':[]},", 1, 1, 6, "Failed"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char src[1024];
    snprintf(src, sizeof(src),
             "{'metadata':{'name':'j','namespace':'d'},'spec':{%s'template':{'spec':{'restartPolicy':'Never',"
             "'containers':[{'name':'c','image':'i'}]}}}}",
             cases[i].spec_extra);
    json_t *job = J(src);
    reg_jobs.defaults(job);
    assert_int_equal(kj_get_int(job, "spec.parallelism", -1), cases[i].parallelism);
    assert_int_equal(kj_get_int(job, "spec.completions", -1), cases[i].completions);
    assert_int_equal(kj_get_int(job, "spec.backoffLimit", -1), cases[i].backoff);
    assert_string_equal(kj_get_str(job, "spec.podReplacementPolicy"), cases[i].replacement);
    json_decref(job);
  }
}

static void test_job_manual_selector(void **state)
{
  (void)state;
  json_t *job =
      create(&reg_jobs, "{'metadata':{'name':'m','namespace':'d'},'spec':{'manualSelector':true,'selector':{"
                        "'matchLabels':{'a':'b'}},'template':{'metadata':{'labels':{'a':'b'}},'spec':{'restartPolicy':"
                        "'OnFailure','containers':[{'name':'c','image':'i'}]}}}}");
  assert_int_equal(json_object_size(kj_get(job, "spec.template.metadata.labels")), 1);
  assert_int_equal(json_object_size(kj_get(job, "spec.selector.matchLabels")), 1);
  /* job labels default from the template labels */
  assert_string_equal(kj_get_str(job, "metadata.labels.a"), "b");
  char *c = validate(&reg_jobs, job, NULL, NULL);
  assert_string_equal(c, "");
  free(c);
  json_decref(job);
}

static void test_job_validation(void **state)
{
  (void)state;
  struct {
    const char *src;
    const char *causes;
  } cases[] = {
      {"{'metadata':{'name':'j','namespace':'d'},'spec':{'template':{'spec':{'containers':[{'name':'c','image':'i'}]}}}"
       "}",
       "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""},
      {"{'metadata':{'name':'j','namespace':'d'},'spec':{'parallelism':-1,'backoffLimit':-2,'template':{'spec':{"
       "'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}}}}",
       "spec.parallelism: Invalid value: -1: must be greater than or equal to 0\n"
       "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0"},
      {"{'metadata':{'name':'j','namespace':'d'},'spec':{'completionMode':'Indexed','parallelism':2,'template':{"
       "'spec':{'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}}}}",
       "spec.completions: Required value: when completion mode is Indexed"},
      {"{'metadata':{'name':'j','namespace':'d'},'spec':{'completionMode':'Sometimes','template':{"
       "'spec':{'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}}}}",
       "spec.completionMode: Unsupported value: \"Sometimes\": supported values: \"NonIndexed\", \"Indexed\""},
      /* a user label that fights the generated one */
      {"{'metadata':{'name':'j','namespace':'d'},'spec':{'template':{'metadata':{'labels':{'job-name':'other'}},"
       "'spec':{'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}}}}",
       "spec.template.metadata.labels[job-name]: Invalid value: "
       "map[string]string{\"batch.kubernetes.io/controller-uid\":"
       "\"" UID "\", \"batch.kubernetes.io/job-name\":\"j\", \"controller-uid\":\"" UID "\", \"job-name\":\"other\"}: "
       "must be 'j'"},
      /* a selector the generated labels do not satisfy */
      {"{'metadata':{'name':'j','namespace':'d'},'spec':{'selector':{'matchLabels':{'x':'y'}},'template':{'metadata':"
       "{'labels':{'x':'y'}},'spec':{'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}}}}",
       "spec.selector: Invalid value: "
       "v1.LabelSelector{MatchLabels:map[string]string{\"batch.kubernetes.io/controller-uid\":"
       "\"" UID
       "\", \"x\":\"y\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated"},
      /* Indexed: completions may be large, parallelism is capped */
      {"{'metadata':{'name':'j','namespace':'d'},'spec':{'completionMode':'Indexed','completions':200000,"
       "'parallelism':100000,'template':{'spec':{'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}}}}",
       ""},
      {"{'metadata':{'name':'j','namespace':'d'},'spec':{'completionMode':'Indexed','completions':200000,"
       "'parallelism':100001,'template':{'spec':{'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}}}}",
       "spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 when completion mode is Indexed"},
      /* a parallelism over the cap is fine for NonIndexed Jobs */
      {"{'metadata':{'name':'j','namespace':'d'},'spec':{'completions':200000,'parallelism':150000,"
       "'template':{'spec':{'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}}}}",
       ""},
      /* completions is capped only together with backoffLimitPerIndex */
      {"{'metadata':{'name':'j','namespace':'d'},'spec':{'completionMode':'Indexed','completions':100001,"
       "'parallelism':1,'backoffLimitPerIndex':1,'maxFailedIndexes':100001,'template':{'spec':{'restartPolicy':'Never',"
       "'containers':[{'name':'c','image':'i'}]}}}}",
       "spec.maxFailedIndexes: Invalid value: 100001: must be less than or equal to 100000\n"
       "spec.completions: Invalid value: 100001: must be less than or equal to 100000 when backoffLimitPerIndex is "
       "specified"},
      {"{'metadata':{'name':'j','namespace':'d'},'spec':{'completionMode':'Indexed','completions':3,"
       "'parallelism':1,'backoffLimitPerIndex':1,'maxFailedIndexes':4,'template':{'spec':{'restartPolicy':'Never',"
       "'containers':[{'name':'c','image':'i'}]}}}}",
       "spec.maxFailedIndexes: Invalid value: 4: must be less than or equal to completions"},
      {"{'metadata':{'name':'j','namespace':'d'},'spec':{'backoffLimitPerIndex':1,'template':{'spec':{"
       "'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}}}}",
       "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"},
      /* the last pod, NAME-(completions-1), must be a DNS label */
      {"{'metadata':{'name':'abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvwxyz-0123456','namespace':'d'},"
       "'spec':{'completionMode':'Indexed','completions':11,'parallelism':1,'template':{'spec':{"
       "'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}}}}",
       "metadata.name: Invalid value: \"abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvwxyz-0123456\": will not able "
       "to create pod with invalid DNS label: abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvwxyz-0123456-10"},
      {"{'metadata':{'name':'abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvwxyz-0123456','namespace':'d'},"
       "'spec':{'completionMode':'Indexed','completions':10,'parallelism':1,'template':{'spec':{"
       "'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}}}}",
       ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *job = create(&reg_jobs, cases[i].src);
    char *c = validate(&reg_jobs, job, NULL, NULL);
    assert_string_equal(c, cases[i].causes);
    free(c);
    json_decref(job);
  }
}

static void test_job_update_immutable(void **state)
{
  (void)state;
  json_t *old = create(&reg_jobs, JOB_MIN);
  struct {
    const char *path;
    const char *value;
    const char *causes;
  } cases[] = {
      {"spec.parallelism", "5", ""},
      {"spec.suspend", "true", ""},
      {"spec.completions", "4", "spec.completions: Invalid value: 4: field is immutable"},
      {"spec.template.spec.containers[0].image", "'perl:6'", NULL /* template immutable: checked by prefix */},
      {"spec.selector.matchLabels.x", "'y'", NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *obj = json_deep_copy(old);
    json_t *v = J(cases[i].value);
    kj_set(obj, cases[i].path, v);
    reg_jobs.defaults(obj);
    struct reg_request rq = {.verb = "update"};
    reg_jobs.prepare_update(&rq, obj, old);
    char *c = validate(&reg_jobs, obj, old, NULL);
    if (cases[i].causes) {
      assert_string_equal(c, cases[i].causes);
    } else if (i == 3) {
      assert_non_null(strstr(c, "spec.template: Invalid value: "));
      assert_non_null(strstr(c, ": field is immutable"));
    } else {
      assert_non_null(strstr(c, "spec.selector: Invalid value: v1.LabelSelector{"));
      assert_non_null(strstr(c, "field is immutable"));
    }
    free(c);
    /* spec changes bump the generation */
    assert_int_equal(kj_get_int(obj, "metadata.generation", 0), 2);
    json_decref(obj);
  }
  json_decref(old);
}

static void test_job_status_update_keeps_spec(void **state)
{
  (void)state;
  json_t *old = create(&reg_jobs, JOB_MIN);
  json_t *obj = json_deep_copy(old);
  kj_set_int(obj, "spec.parallelism", 9);
  kj_set_int(obj, "status.succeeded", 1);
  struct reg_request rq = {.verb = "update", .subresource = "status"};
  reg_jobs.prepare_update(&rq, obj, old);
  assert_int_equal(kj_get_int(obj, "spec.parallelism", 0), 1);
  assert_int_equal(kj_get_int(obj, "status.succeeded", 0), 1);
  assert_int_equal(kj_get_int(obj, "metadata.generation", 0), 1);
  char buf[32];
  assert_string_equal(reg_jobs.field_value(obj, "status.successful", buf, sizeof(buf)), "1");
  json_decref(obj);
  json_decref(old);
}

static void test_job_cells(void **state)
{
  (void)state;
  char now[40];
  ktime_now_str(now);
  struct {
    const char *spec;
    const char *status;
    const char *meta_extra;
    const char *want_status, *want_completions, *want_duration;
  } cases[] = {
      {"'completions':1,'parallelism':1", "{}", "", "Running", "0/1", ""},
      {"'completions':3,'parallelism':1",
       "{'succeeded':3,'startTime':'2024-01-01T00:00:00Z','completionTime':'2024-01-01T00:00:42Z',"
       "'conditions':[{'type':'SuccessCriteriaMet','status':'True'},{'type':'Complete','status':'True'}]}",
       "", "Complete", "3/3", "42s"},
      {"'parallelism':4", "{'succeeded':1}", "", "Running", "1/1 of 4", ""},
      {"'parallelism':1", "{}", "", "Running", "0/1", ""},
      {"'completions':2",
       "{'startTime':'2024-01-01T00:00:00Z','completionTime':'2024-01-01T00:05:30Z',"
       "'conditions':[{'type':'Failed','status':'True'}]}",
       "", "Failed", "0/2", "5m30s"},
      {"'completions':1", "{'conditions':[{'type':'Suspended','status':'True'}]}", "", "Suspended", "0/1", ""},
      {"'completions':1", "{'conditions':[{'type':'Suspended','status':'False'}]}", "", "Running", "0/1", ""},
      {"'completions':1", "{'conditions':[{'type':'Suspended','status':'True'}]}",
       ",'deletionTimestamp':'2024-01-01T00:00:00Z'", "Terminating", "0/1", ""},
      {"'completions':1", "{'conditions':[{'type':'FailureTarget','status':'True'}]}", "", "FailureTarget", "0/1", ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char src[2048];
    snprintf(src, sizeof(src),
             "{'metadata':{'name':'j%zu','creationTimestamp':'%s'%s},'spec':{%s,'selector':{'matchLabels':{'a':'b'}},"
             "'template':{'spec':{'containers':[{'name':'c1','image':'busybox'},{'name':'c2','image':'nginx'}]}}},"
             "'status':%s}",
             i, now, cases[i].meta_extra, cases[i].spec, cases[i].status);
    json_t *job = J(src);
    json_t *cells = reg_jobs.cells(job);
    size_t ncols = 0;
    while (reg_jobs.columns[ncols].name) ncols++;
    assert_int_equal(json_array_size(cells), ncols);
    char name[16];
    snprintf(name, sizeof(name), "j%zu", i);
    assert_string_equal(json_string_value(json_array_get(cells, 0)), name);
    assert_string_equal(json_string_value(json_array_get(cells, 1)), cases[i].want_status);
    assert_string_equal(json_string_value(json_array_get(cells, 2)), cases[i].want_completions);
    assert_string_equal(json_string_value(json_array_get(cells, 3)), cases[i].want_duration);
    assert_string_equal(json_string_value(json_array_get(cells, 4)), "0s");
    assert_string_equal(json_string_value(json_array_get(cells, 5)), "c1,c2");
    assert_string_equal(json_string_value(json_array_get(cells, 6)), "busybox,nginx");
    assert_string_equal(json_string_value(json_array_get(cells, 7)), "a=b");
    json_decref(cells);
    json_decref(job);
  }
  const char *want[] = {"Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"};
  for (size_t i = 0; i < 8; i++) assert_string_equal(reg_jobs.columns[i].name, want[i]);
  assert_int_equal(reg_jobs.columns[5].priority, 1);
}

static void test_ext_table(void **state)
{
  (void)state;
  size_t n;
  const struct resource *const *all = registry_ext_all(&n);
  assert_true(n >= 22);
  for (size_t i = 0; i < n; i++) {
    if (all[i]->create_only) continue; /* the authorization reviews store and list nothing */
    assert_non_null(all[i]->storage_prefix);
    assert_non_null(all[i]->columns);
    assert_non_null(all[i]->cells);
    assert_non_null(all[i]->validate);
    assert_string_equal(all[i]->columns[0].format, "name");
    for (size_t j = 0; j < i; j++)
      assert_false(!strcmp(all[i]->group, all[j]->group) && !strcmp(all[i]->plural, all[j]->plural));
  }
  assert_string_equal(reg_jobs.storage_prefix, "/registry/jobs");
  assert_string_equal(reg_statefulsets.short_names[0], "sts");
  assert_string_equal(reg_statefulsets.categories[0], "all");
  assert_true(reg_statefulsets.subresources & RES_SUB_SCALE);
  assert_string_equal(reg_clusterroles.storage_prefix, "/registry/clusterroles");
  assert_false(reg_clusterroles.namespaced);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_job_defaults_and_selector),
      cmocka_unit_test(test_job_defaults_table),
      cmocka_unit_test(test_job_manual_selector),
      cmocka_unit_test(test_job_validation),
      cmocka_unit_test(test_job_update_immutable),
      cmocka_unit_test(test_job_status_update_keeps_spec),
      cmocka_unit_test(test_job_cells),
      cmocka_unit_test(test_ext_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
