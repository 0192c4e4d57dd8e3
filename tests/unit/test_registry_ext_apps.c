/* Tests for the apps/v1 StatefulSet, DaemonSet and ControllerRevision
 * strategies and the core/v1 ReplicationController and PodTemplate ones:
 * defaulting (object in, defaulted object out), validation causes,
 * immutability on update and table cells. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kube/json.h>
#include <kube/timeutil.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

#include "registry_ext_test_util.h"

#define POD_IN "'spec':{'restartPolicy':'Always','containers':[{'name':'c','image':'nginx:1.25'}]}"
#define POD_OUT                                                                                                        \
  "'spec':{'restartPolicy':'Always','containers':[{'name':'c','image':'nginx:1.25','terminationMessagePath':"          \
  "'/dev/termination-log','terminationMessagePolicy':'File','imagePullPolicy':'IfNotPresent'}],'dnsPolicy':"           \
  "'ClusterFirst','terminationGracePeriodSeconds':30,'securityContext':{},'schedulerName':'default-scheduler'}"

static void test_defaults(void **state)
{
  (void)state;
  const struct dcase cases[] = {
      {&reg_statefulsets,
       "{'spec':{'selector':{'matchLabels':{'a':'b'}},'template':{'metadata':{'labels':{'a':'b'}}," POD_IN "},"
       "'volumeClaimTemplates':[{'metadata':{'name':'data'},'spec':{'accessModes':['ReadWriteOnce']}}]}}",
       "{'spec':{'selector':{'matchLabels':{'a':'b'}},'template':{'metadata':{'labels':{'a':'b'}}," POD_OUT "},"
       "'volumeClaimTemplates':[{'apiVersion':'v1','kind':'PersistentVolumeClaim','metadata':{'name':'data'},"
       "'spec':{'accessModes':['ReadWriteOnce'],'volumeMode':"
       "'Filesystem'},'status':{'phase':'Pending'}}],'podManagementPolicy':'OrderedReady','updateStrategy':{'type':"
       "'RollingUpdate','rollingUpdate':{'partition':0}},'persistentVolumeClaimRetentionPolicy':{'whenDeleted':"
       "'Retain','whenScaled':'Retain'},'replicas':1,'revisionHistoryLimit':10}}"},
      /* OnDelete keeps no rollingUpdate; explicit values stay */
      {&reg_statefulsets,
       "{'spec':{'replicas':3,'updateStrategy':{'type':'OnDelete'},'podManagementPolicy':'Parallel'}}",
       "{'spec':{'replicas':3,'updateStrategy':{'type':'OnDelete'},'podManagementPolicy':'Parallel',"
       "'persistentVolumeClaimRetentionPolicy':{'whenDeleted':'Retain','whenScaled':'Retain'},'revisionHistoryLimit':"
       "10}}"},
      {&reg_daemonsets, "{'spec':{'template':{" POD_IN "}}}",
       "{'spec':{'template':{" POD_OUT "},'updateStrategy':{'type':'RollingUpdate','rollingUpdate':{'maxUnavailable':1,"
       "'maxSurge':0}},'revisionHistoryLimit':10}}"},
      {&reg_daemonsets, "{'spec':{'updateStrategy':{'type':'OnDelete'}}}",
       "{'spec':{'updateStrategy':{'type':'OnDelete'},'revisionHistoryLimit':10}}"},
      {&reg_replicationcontrollers,
       "{'metadata':{'name':'rc'},'spec':{'template':{'metadata':{'labels':{'app':'x'}}," POD_IN "}}}",
       "{'metadata':{'name':'rc','labels':{'app':'x'}},'spec':{'selector':{'app':'x'},'replicas':1,'template':{"
       "'metadata':{'labels':{'app':'x'}}," POD_OUT "}}}"},
      {&reg_podtemplates, "{'template':{" POD_IN "}}", "{'template':{" POD_OUT "}}"},
  };
  run_dcases(cases, sizeof(cases) / sizeof(cases[0]));
}

#define STS(spec_extra)                                                                                                \
  "{'metadata':{'name':'web','namespace':'default'},'spec':{" spec_extra "'serviceName':'web','selector':{"            \
  "'matchLabels':{'app':'web'}},'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{'name':"        \
  "'c','image':'nginx'}]}}}}"
#define DS(spec_extra)                                                                                                 \
  "{'metadata':{'name':'agent','namespace':'kube-system'},'spec':{" spec_extra "'selector':{'matchLabels':{"           \
  "'app':'agent'}},'template':{'metadata':{'labels':{'app':'agent'}},'spec':{'containers':[{'name':'c',"               \
  "'image':'agent'}]}}}}"

static void test_validation(void **state)
{
  (void)state;
  const struct vcase cases[] = {
      {&reg_statefulsets, NULL, STS(""), ""},
      {&reg_statefulsets, NULL, STS("'replicas':-1,'podManagementPolicy':'Random',"),
       "spec.replicas: Invalid value: -1: must be greater than or equal to 0\n"
       "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"},
      {&reg_statefulsets, NULL,
       "{'metadata':{'name':'web','namespace':'default'},'spec':{'selector':{'matchLabels':{'app':'web'}},"
       "'template':{'metadata':{'labels':{'app':'other'}},'spec':{'restartPolicy':'Never','containers':[{'name':"
       "'c','image':'nginx'}]}}}}",
       "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not "
       "match template `labels`\n"
       "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""},
      {&reg_statefulsets, NULL,
       "{'metadata':{'name':'web','namespace':'default'},'spec':{'selector':{},'template':{'spec':{'containers':"
       "[{'name':'c','image':'nginx'}]}}}}",
       "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
       "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for statefulset"},
      /* update: replicas, template, updateStrategy may change */
      {&reg_statefulsets, STS(""), STS("'replicas':5,'minReadySeconds':3,"), ""},
      {&reg_statefulsets, STS(""),
       "{'metadata':{'name':'web','namespace':'default'},'spec':{'serviceName':'web','selector':{'matchLabels':{"
       "'app':'web'}},'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{'name':'c','image':"
       "'nginx:2'}]}}}}",
       ""},
      {&reg_statefulsets, STS(""), STS("'podManagementPolicy':'Parallel',"),
       "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
       "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"},
      {&reg_daemonsets, NULL, DS(""), ""},
      {&reg_daemonsets, NULL, DS("'updateStrategy':{'type':'RollingUpdate','rollingUpdate':{'maxUnavailable':0}},"),
       "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"},
      {&reg_daemonsets, NULL, DS("'updateStrategy':{'type':'Sometimes'},"),
       "spec.updateStrategy.type: Unsupported value: \"Sometimes\": supported values: \"RollingUpdate\", \"OnDelete\""},
      {&reg_daemonsets, NULL,
       DS("'updateStrategy':{'type':'RollingUpdate','rollingUpdate':{'maxUnavailable':'150%','maxSurge':0}},"),
       "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%"},
      {&reg_daemonsets, DS(""),
       "{'metadata':{'name':'agent','namespace':'kube-system'},'spec':{'selector':{'matchLabels':{'app':'agent',"
       "'tier':'x'}},'template':{'metadata':{'labels':{'app':'agent','tier':'x'}},'spec':{'containers':[{'name':"
       "'c','image':'agent'}]}}}}",
       "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"agent\", "
       "\"tier\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"},
      {&reg_controllerrevisions, NULL, "{'metadata':{'name':'web-1','namespace':'d'},'revision':-1}",
       "data: Required value: data is mandatory\nrevision: Invalid value: -1: must be greater than or equal to 0"},
      {&reg_controllerrevisions, "{'metadata':{'name':'web-1','namespace':'d'},'revision':1,'data':{'a':1}}",
       "{'metadata':{'name':'web-1','namespace':'d','uid':'u-1','creationTimestamp':'2024-01-01T00:00:00Z'},"
       "'revision':2,'data':{'a':2}}",
       "data: Invalid value: {\"a\":2}: field is immutable"},
      {&reg_replicationcontrollers, NULL,
       "{'metadata':{'name':'rc','namespace':'d'},'spec':{'selector':{'app':'y'},'template':{'metadata':{'labels':"
       "{'app':'x'}},'spec':{'containers':[{'name':'c','image':'i'}]}}}}",
       "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match "
       "template `labels`"},
      {&reg_podtemplates, NULL, "{'metadata':{'name':'pt','namespace':'d'},'template':{'spec':{'containers':[]}}}",
       "template.spec.containers: Required value"},
  };
  run_vcases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_status_subresource(void **state)
{
  (void)state;
  json_t *old = prepared(&reg_statefulsets, STS(""));
  json_t *obj = json_deep_copy(old);
  kj_set_int(obj, "spec.replicas", 7);
  kj_set_int(obj, "status.readyReplicas", 1);
  struct reg_request rq = {.verb = "update", .subresource = "status"};
  reg_statefulsets.prepare_update(&rq, obj, old);
  assert_int_equal(kj_get_int(obj, "spec.replicas", 0), 1);
  assert_int_equal(kj_get_int(obj, "status.readyReplicas", 0), 1);
  assert_int_equal(kj_get_int(obj, "metadata.generation", 0), 1);
  char *c = validate_sub(&reg_statefulsets, obj, old, "status");
  assert_string_equal(c, "");
  free(c);
  /* and the main resource ignores status */
  json_t *obj2 = json_deep_copy(old);
  kj_set_int(obj2, "spec.replicas", 7);
  kj_set_int(obj2, "status.readyReplicas", 4);
  struct reg_request up = {.verb = "update"};
  reg_statefulsets.prepare_update(&up, obj2, old);
  assert_int_equal(kj_get_int(obj2, "status.readyReplicas", -1), -1);
  assert_int_equal(kj_get_int(obj2, "metadata.generation", 0), 2);
  json_decref(obj2);
  json_decref(obj);
  json_decref(old);
}

static char *cells_str(const struct resource *res, const char *src)
{
  json_t *obj = J(src);
  json_t *cells = res->cells(obj);
  size_t ncols = 0;
  while (res->columns[ncols].name) ncols++;
  assert_int_equal(json_array_size(cells), ncols);
  char *s = kj_dumps(cells);
  json_decref(cells);
  json_decref(obj);
  return s;
}

static void test_cells(void **state)
{
  (void)state;
  struct {
    const struct resource *res;
    const char *src, *want;
  } cases[] = {
      {&reg_statefulsets,
       "{'metadata':{'name':'web'},'spec':{'replicas':3,'template':{'spec':{'containers':[{'name':'n','image':"
       "'nginx'}]}}},'status':{'readyReplicas':2}}",
       "[\"web\",\"2/3\",\"<unknown>\",\"n\",\"nginx\"]"},
      {&reg_daemonsets,
       "{'metadata':{'name':'ds'},'spec':{'selector':{'matchLabels':{'a':'b'}},'template':{'spec':{'nodeSelector':"
       "{'kubernetes.io/os':'linux'},'containers':[{'name':'n','image':'x'}]}}},'status':{'desiredNumberScheduled':"
       "3,'currentNumberScheduled':3,'numberReady':2,'updatedNumberScheduled':1,'numberAvailable':2}}",
       "[\"ds\",3,3,2,1,2,\"kubernetes.io/os=linux\",\"<unknown>\",\"n\",\"x\",\"a=b\"]"},
      {&reg_controllerrevisions,
       "{'metadata':{'name':'web-5d8','ownerReferences':[{'apiVersion':'apps/v1','kind':'StatefulSet','name':'web',"
       "'uid':'u','controller':true}]},'revision':2}",
       "[\"web-5d8\",\"statefulset.apps/web\",2,\"<unknown>\"]"},
      {&reg_replicationcontrollers,
       "{'metadata':{'name':'rc'},'spec':{'replicas':2,'selector':{'app':'x'},'template':{'spec':{'containers':[{"
       "'name':'n','image':'x'}]}}},'status':{'replicas':2,'readyReplicas':1}}",
       "[\"rc\",2,2,1,\"<unknown>\",\"n\",\"x\",\"app=x\"]"},
      {&reg_podtemplates,
       "{'metadata':{'name':'pt'},'template':{'metadata':{'labels':{'a':'b'}},'spec':{'containers':[{'name':'n',"
       "'image':'x'}]}}}",
       "[\"pt\",\"n\",\"x\",\"a=b\"]"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *s = cells_str(cases[i].res, cases[i].src);
    assert_string_equal(s, cases[i].want);
    free(s);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_status_subresource),
      cmocka_unit_test(test_cells),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
