/* Tests for the storage, networking, policy, scheduling, autoscaling,
 * RBAC and core quota/limit strategies of kinds_ext.h:
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
#include "apiserver.h"
#include "registry/kinds_ext.h"

#include "registry_ext_test_util.h"

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

static void test_defaults(void **state)
{
  (void)state;
  const struct dcase cases[] = {
      {&reg_persistentvolumes, "{'spec':{'capacity':{'storage':'1Gi'},'hostPath':{'path':'/data'}}}",
       "{'spec':{'capacity':{'storage':'1Gi'},'hostPath':{'path':'/data','type':''},'persistentVolumeReclaimPolicy':"
       "'Retain','volumeMode':'Filesystem'},'status':{'phase':'Pending'}}"},
      {&reg_persistentvolumeclaims, "{'spec':{'accessModes':['ReadWriteOnce']}}",
       "{'spec':{'accessModes':['ReadWriteOnce'],'volumeMode':'Filesystem'},'status':{'phase':'Pending'}}"},
      {&reg_storageclasses, "{'provisioner':'x.io/p'}",
       "{'provisioner':'x.io/p','reclaimPolicy':'Delete','volumeBindingMode':'Immediate'}"},
      {&reg_priorityclasses, "{'value':10}", "{'value':10,'preemptionPolicy':'PreemptLowerPriority'}"},
      {&reg_networkpolicies, "{'spec':{'ingress':[{'ports':[{'port':80}]}]}}",
       "{'spec':{'ingress':[{'ports':[{'port':80,'protocol':'TCP'}]}],'policyTypes':['Ingress'],'podSelector':{}}}"},
      {&reg_networkpolicies, "{'spec':{'podSelector':{},'egress':[{'ports':[{'protocol':'UDP','port':53}]}]}}",
       "{'spec':{'podSelector':{},'egress':[{'ports':[{'protocol':'UDP','port':53}]}],'policyTypes':['Ingress',"
       "'Egress']}}"},
      {&reg_horizontalpodautoscalers, "{'spec':{'maxReplicas':5}}",
       "{'spec':{'maxReplicas':5,'minReplicas':1,'metrics':[{'type':'Resource','resource':{'name':'cpu','target':{"
       "'type':'Utilization','averageUtilization':80}}}]}}"},
      {&reg_horizontalpodautoscalers,
       "{'spec':{'minReplicas':2,'metrics':[{'type':'Pods'}],'behavior':{'scaleDown':{"
       "'stabilizationWindowSeconds':60}}}}",
       "{'spec':{'minReplicas':2,'metrics':[{'type':'Pods'}],'behavior':{'scaleDown':{'stabilizationWindowSeconds':60,"
       "'policies':[{'type':'Percent','value':100,'periodSeconds':15}],'selectPolicy':'Max'},'scaleUp':{'policies':"
       "[{'type':'Pods','value':4,'periodSeconds':15},{'type':'Percent','value':100,'periodSeconds':15}],"
       "'selectPolicy':'Max','stabilizationWindowSeconds':0}}}}"},
      {&reg_limitranges,
       "{'spec':{'limits':[{'type':'Container','max':{'cpu':'2'},'min':{'memory':'64Mi'},"
       "'default':{'memory':'256Mi'}},{'type':'Pod','max':{'cpu':'4'}}]}}",
       "{'spec':{'limits':[{'type':'Container','max':{'cpu':'2'},'min':{'memory':'64Mi'},'default':{'memory':'256Mi',"
       "'cpu':'2'},'defaultRequest':{'memory':'64Mi','cpu':'2'}},{'type':'Pod','max':{'cpu':'4'}}]}}"},
      {&reg_rolebindings,
       "{'roleRef':{'kind':'Role','name':'r'},'subjects':[{'kind':'User','name':'jane'},"
       "{'kind':'ServiceAccount','name':'sa','namespace':'d'}]}",
       "{'roleRef':{'kind':'Role','name':'r','apiGroup':'rbac.authorization.k8s.io'},'subjects':[{'kind':'User',"
       "'name':'jane','apiGroup':'rbac.authorization.k8s.io'},{'kind':'ServiceAccount','name':'sa','namespace':'d'}]}"},
  };
  run_dcases(cases, sizeof(cases) / sizeof(cases[0]));
}

#define PVC(spec) "{'metadata':{'name':'data','namespace':'d'},'spec':" spec "}"
#define PVC_BOUND(req)                                                                                                 \
  "{'metadata':{'name':'data','namespace':'d'},'spec':{'accessModes':['ReadWriteOnce'],'volumeName':'pv1',"            \
  "'resources':{'requests':{'storage':'" req "'}}},'status':{'phase':'Bound'}}"
#define RB(ref)                                                                                                        \
  "{'metadata':{'name':'rb','namespace':'d'},'roleRef':" ref ",'subjects':[{'kind':'User','name':'jane'}]}"

static void test_validation(void **state)
{
  (void)state;
  const struct vcase cases[] = {
      {&reg_persistentvolumes, NULL,
       "{'metadata':{'name':'pv1'},'spec':{'accessModes':['ReadWriteOnce'],"
       "'capacity':{'storage':'1Gi'},'hostPath':{'path':'/d'}}}",
       ""},
      {&reg_persistentvolumes, NULL, "{'metadata':{'name':'pv1'},'spec':{'accessModes':['ReadWriteSometimes']}}",
       "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", "
       "\"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"\n"
       "spec.capacity: Required value\n"
       "spec: Required value: must specify a volume type"},
      {&reg_persistentvolumeclaims, NULL, PVC("{}"),
       "spec.accessModes: Required value: at least 1 access mode is required\n"
       "spec.resources[storage]: Required value"},
      {&reg_persistentvolumeclaims, NULL,
       PVC("{'accessModes':['ReadWriteOnce'],'resources':{'requests':{'storage':'1Gi'}}}"), ""},
      /* pending claim: the whole spec is fixed */
      {&reg_persistentvolumeclaims, PVC("{'accessModes':['ReadWriteOnce'],'resources':{'requests':{'storage':'1Gi'}}}"),
       PVC("{'accessModes':['ReadWriteMany'],'resources':{'requests':{'storage':'1Gi'}}}"),
       "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName "
       "for bound claims"},
      /* binding sets volumeName once */
      {&reg_persistentvolumeclaims, PVC("{'accessModes':['ReadWriteOnce'],'resources':{'requests':{'storage':'1Gi'}}}"),
       PVC("{'accessModes':['ReadWriteOnce'],'volumeName':'pv1','resources':{'requests':{'storage':'1Gi'}}}"), ""},
      {&reg_storageclasses, NULL, "{'metadata':{'name':'fast'},'provisioner':'','reclaimPolicy':'Recycle'}",
       "provisioner: Required value\n"
       "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\""},
      {&reg_storageclasses, "{'metadata':{'name':'fast'},'provisioner':'a.io/p'}",
       "{'metadata':{'name':'fast'},'provisioner':'b.io/p','parameters':{'x':'y'}}",
       "parameters: Forbidden: updates to parameters are forbidden.\n"
       "provisioner: Forbidden: updates to provisioner are forbidden."},
      {&reg_priorityclasses, NULL, "{'metadata':{'name':'high'},'value':1000000001}",
       "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"},
      {&reg_priorityclasses, NULL, "{'metadata':{'name':'system-mine'},'value':5}",
       "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
       "error: system-mine is not a known system priority class"},
      {&reg_priorityclasses, NULL, "{'metadata':{'name':'system-node-critical'},'value':2000001000}", ""},
      {&reg_priorityclasses, "{'metadata':{'name':'high'},'value':10}",
       "{'metadata':{'name':'high'},'value':11,'preemptionPolicy':'Never'}",
       "value: Forbidden: may not be changed in an update.\n"
       "preemptionPolicy: Invalid value: \"Never\": field is immutable"},
      {&reg_poddisruptionbudgets, NULL,
       "{'metadata':{'name':'p','namespace':'d'},'spec':{'minAvailable':1,'maxUnavailable':'10%'}}",
       "spec.minAvailable: Invalid value: 1: minAvailable and maxUnavailable cannot be both set"},
      {&reg_poddisruptionbudgets, NULL, "{'metadata':{'name':'p','namespace':'d'},'spec':{'minAvailable':'120%'}}",
       "spec.minAvailable: Invalid value: \"120%\": must not be greater than 100%"},
      {&reg_roles, NULL,
       "{'metadata':{'name':'r','namespace':'d'},'rules':[{'apiGroups':[''],'resources':['pods']},"
       "{'verbs':['get'],'nonResourceURLs':['/healthz']},{'verbs':['get']}]}",
       "rules[0].verbs: Required value: verbs must contain at least one value\n"
       "rules[1].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to "
       "non-resource URLs\n"
       "rules[2].apiGroups: Required value: resource rules must supply at least one api group\n"
       "rules[2].resources: Required value: resource rules must supply at least one resource"},
      {&reg_clusterroles, NULL,
       "{'metadata':{'name':'system:x'},'rules':[{'verbs':['get'],'nonResourceURLs':['/healthz']}]}", ""},
      {&reg_rolebindings, NULL, RB("{'kind':'Role','name':'r'}"), ""},
      {&reg_rolebindings, NULL, RB("{'kind':'Pod','name':'r','apiGroup':'rbac.authorization.k8s.io'}"),
       "roleRef.kind: Unsupported value: \"Pod\": supported values: \"Role\", \"ClusterRole\""},
      {&reg_clusterrolebindings, NULL,
       "{'metadata':{'name':'crb'},'roleRef':{'kind':'Role','name':'r'},'subjects':[{'kind':'ServiceAccount',"
       "'name':'sa'}]}",
       "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"\n"
       "subjects[0].namespace: Required value"},
      {&reg_rolebindings, RB("{'kind':'Role','name':'r'}"), RB("{'kind':'ClusterRole','name':'admin'}"),
       "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", "
       "Name:\"admin\"}: cannot change roleRef"},
      {&reg_ingresses, NULL,
       "{'metadata':{'name':'ing','namespace':'d'},'spec':{'rules':[{'host':'example.com','http':{'paths':[{"
       "'path':'/','pathType':'Prefix','backend':{'service':{'name':'web','port':{'number':80}}}}]}}]}}",
       ""},
      {&reg_ingresses, NULL,
       "{'metadata':{'name':'ing','namespace':'d'},'spec':{'rules':[{'host':'10.0.0.1','http':{'paths':[{"
       "'path':'api','backend':{'service':{'name':'web','port':{}}}},{'path':'api','pathType':'Exact','backend':"
       "{'service':{'name':'web','port':{'number':70000}}}}]}}]}}",
       "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address\n"
       "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified\n"
       "spec.rules[0].http.paths[0].backend.service.port: Required value: port name or number is required\n"
       "spec.rules[0].http.paths[1].path: Invalid value: \"api\": must be an absolute path\n"
       "spec.rules[0].http.paths[1].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, "
       "inclusive"},
      {&reg_ingresses, NULL, "{'metadata':{'name':'ing','namespace':'d'},'spec':{}}",
       "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"},
      {&reg_ingressclasses, NULL, "{'metadata':{'name':'nginx'},'spec':{'controller':'nginx'}}",
       "spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")"},
      {&reg_networkpolicies, NULL,
       "{'metadata':{'name':'np','namespace':'d'},'spec':{'podSelector':{},'ingress':[{'ports':[{'protocol':'ICMP',"
       "'port':80,'endPort':70}],'from':[{'ipBlock':{'cidr':'10.0.0.0/33'}}]}]}}",
       "spec.ingress[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"\n"
       "spec.ingress[0].ports[0].endPort: Invalid value: 70: must be greater than or equal to `port`\n"
       "spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. "
       "10.9.8.0/24 or 2001:db8::/64)"},
      {&reg_horizontalpodautoscalers, NULL,
       "{'metadata':{'name':'h','namespace':'d'},'spec':{'minReplicas':3,'maxReplicas':2,'scaleTargetRef':{"
       "'apiVersion':'apps/v1','kind':'Deployment'}}}",
       "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`\n"
       "spec.scaleTargetRef.name: Required value"},
      {&reg_limitranges, NULL,
       "{'metadata':{'name':'l','namespace':'d'},'spec':{'limits':[{'type':'Container','min':{'cpu':'2'},'max':{"
       "'cpu':'1'}}]}}",
       "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1\n"
       "spec.limits[0].defaultRequest[cpu]: Invalid value: \"2\": default request value 2 is greater than max value 1\n"
       "spec.limits[0].defaultRequest[cpu]: Invalid value: \"2\": default request value 2 is greater than default "
       "limit value 1\n"
       "spec.limits[0].default[cpu]: Invalid value: \"1\": min value 2 is greater than default value 1"},
      {&reg_limitranges, NULL,
       "{'metadata':{'name':'l','namespace':'d'},'spec':{'limits':[{'type':'Pod','max':{'cpu':'1'},'default':{"
       "'cpu':'1'}}]}}",
       "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"},
      {&reg_resourcequotas, NULL, "{'metadata':{'name':'q','namespace':'d'},'spec':{'hard':{'pods':'ten'}}}",
       "spec.hard[pods]: Invalid value: \"ten\": quantities must match the regular expression "
       "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"},
  };
  run_vcases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_cells(void **state)
{
  (void)state;
  struct {
    const struct resource *res;
    const char *src, *want;
  } cases[] = {
      {&reg_persistentvolumes,
       "{'metadata':{'name':'pv1'},'spec':{'capacity':{'storage':'5Gi'},'accessModes':['ReadWriteMany',"
       "'ReadWriteOnce'],'persistentVolumeReclaimPolicy':'Retain','claimRef':{'namespace':'d','name':'data'},"
       "'storageClassName':'fast','volumeMode':'Filesystem'},'status':{'phase':'Bound'}}",
       "[\"pv1\",\"5Gi\",\"RWO,RWX\",\"Retain\",\"Bound\",\"d/data\",\"fast\",\"<unset>\",\"\",\"<unknown>\","
       "\"Filesystem\"]"},
      {&reg_persistentvolumeclaims,
       "{'metadata':{'name':'data'},'spec':{'volumeName':'pv1','storageClassName':'fast','volumeMode':'Block'},"
       "'status':{'phase':'Bound','capacity':{'storage':'5Gi'},'accessModes':['ReadWriteOnce']}}",
       "[\"data\",\"Bound\",\"pv1\",\"5Gi\",\"RWO\",\"fast\",\"<unset>\",\"<unknown>\",\"Block\"]"},
      {&reg_persistentvolumeclaims, "{'metadata':{'name':'p'},'spec':{},'status':{'phase':'Pending'}}",
       "[\"p\",\"Pending\",\"\",\"\",\"\",\"\",\"<unset>\",\"<unknown>\",\"<unset>\"]"},
      {&reg_storageclasses,
       "{'metadata':{'name':'std','annotations':{'storageclass.kubernetes.io/is-default-class':'true'}},"
       "'provisioner':'rancher.io/local-path','reclaimPolicy':'Delete','volumeBindingMode':'WaitForFirstConsumer'}",
       "[\"std (default)\",\"rancher.io/local-path\",\"Delete\",\"WaitForFirstConsumer\",false,\"<unknown>\"]"},
      {&reg_priorityclasses,
       "{'metadata':{'name':'system-node-critical'},'value':2000001000,'preemptionPolicy':"
       "'PreemptLowerPriority'}",
       "[\"system-node-critical\",2000001000,false,\"<unknown>\",\"PreemptLowerPriority\"]"},
      {&reg_horizontalpodautoscalers,
       "{'metadata':{'name':'h'},'spec':{'scaleTargetRef':{'kind':'Deployment','name':'web'},'minReplicas':1,"
       "'maxReplicas':10,'metrics':[{'type':'Resource','resource':{'name':'cpu','target':{'type':'Utilization',"
       "'averageUtilization':80}}},{'type':'Resource','resource':{'name':'memory','target':{'type':'AverageValue',"
       "'averageValue':'100Mi'}}},{'type':'Pods','pods':{'target':{'averageValue':'1'}}}]},'status':{"
       "'currentReplicas':2,'currentMetrics':[{'type':'Resource','resource':{'name':'cpu','current':{"
       "'averageUtilization':45}}}]}}",
       "[\"h\",\"Deployment/web\",\"cpu: 45%/80%, <unknown>/100Mi + 1 more...\",\"1\",10,2,\"<unknown>\"]"},
      {&reg_ingresses,
       "{'metadata':{'name':'ing'},'spec':{'ingressClassName':'nginx','rules':[{'host':'a.com'},{'host':'b.com'}],"
       "'tls':[{'hosts':['a.com']}]},'status':{'loadBalancer':{'ingress':[{'ip':'192.168.10.20'},{'ip':"
       "'192.168.10.3'}]}}}",
       "[\"ing\",\"nginx\",\"a.com,b.com\",\"192.168.10.20...\",\"80, 443\",\"<unknown>\"]"},
      {&reg_ingresses, "{'metadata':{'name':'ing'},'spec':{'rules':[{'http':{}}]}}",
       "[\"ing\",\"<none>\",\"*\",\"\",\"80\",\"<unknown>\"]"},
      {&reg_ingressclasses,
       "{'metadata':{'name':'ic'},'spec':{'controller':'k8s.io/"
       "ingress-nginx','parameters':{'apiGroup':'k8s.example.com',"
       "'kind':'IngressParameters','name':'external-lb'}}}",
       "[\"ic\",\"k8s.io/ingress-nginx\",\"IngressParameters.k8s.example.com/external-lb\",\"<unknown>\"]"},
      {&reg_networkpolicies, "{'metadata':{'name':'np'},'spec':{'podSelector':{}}}",
       "[\"np\",\"<none>\",\"<unknown>\"]"},
      {&reg_networkpolicies, "{'metadata':{'name':'np'},'spec':{'podSelector':{'matchLabels':{'role':'db'}}}}",
       "[\"np\",\"role=db\",\"<unknown>\"]"},
      {&reg_poddisruptionbudgets,
       "{'metadata':{'name':'p'},'spec':{'maxUnavailable':'25%'},'status':{"
       "'disruptionsAllowed':1}}",
       "[\"p\",\"N/A\",\"25%\",1,\"<unknown>\"]"},
      {&reg_roles, "{'metadata':{'name':'r','creationTimestamp':'2024-01-02T03:04:05Z'}}",
       "[\"r\",\"2024-01-02T03:04:05Z\"]"},
      {&reg_clusterrolebindings,
       "{'metadata':{'name':'crb'},'roleRef':{'kind':'ClusterRole','name':'admin'},'subjects':[{'kind':'User','name':"
       "'jane'},{'kind':'User','name':'joe'},{'kind':'Group','name':'devs'},{'kind':'ServiceAccount','name':'sa',"
       "'namespace':'kube-system'}]}",
       "[\"crb\",\"ClusterRole/admin\",\"<unknown>\",\"jane, joe\",\"devs\",\"kube-system:sa\"]"},
      {&reg_resourcequotas,
       "{'metadata':{'name':'q'},'spec':{'hard':{'pods':'10','requests.cpu':'1','limits.memory':'2Gi','limits.cpu':"
       "'2'}},'status':{'used':{'pods':'3','requests.cpu':'500m'}}}",
       "[\"q\",\"<unknown>\",\"pods: 3/10, requests.cpu: 500m/1\",\"limits.cpu: 0/2, limits.memory: 0/2Gi\"]"},
      {&reg_limitranges, "{'metadata':{'name':'l','creationTimestamp':'2024-01-02T03:04:05Z'}}",
       "[\"l\",\"2024-01-02T03:04:05Z\"]"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *s = cells_str(cases[i].res, cases[i].src);
    if (strcmp(s, cases[i].want)) fail_msg("case %zu (%s): got %s want %s", i, cases[i].res->plural, s, cases[i].want);
    free(s);
  }
}

/* A bound claim may grow, never shrink; its other spec fields stay fixed. */
static void test_pvc_resize(void **state)
{
  (void)state;
  struct {
    const char *old_size, *new_size, *new_mode, *causes;
  } cases[] = {
      {"1Gi", "2Gi", "ReadWriteOnce", ""},
      {"2Gi", "1Gi", "ReadWriteOnce",
       "spec.resources.requests.storage: Forbidden: field can not be less than previous value"},
      {"1Gi", "2Gi", "ReadWriteMany",
       "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName "
       "for bound claims"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char src[512];
    snprintf(src, sizeof(src), PVC_BOUND("%s"), cases[i].old_size);
    json_t *old = prepared(&reg_persistentvolumeclaims, src);
    kj_set_str(old, "status.phase", "Bound");
    snprintf(src, sizeof(src), PVC_BOUND("%s"), cases[i].new_size);
    json_t *obj = J(src);
    json_array_set_new(kj_get(obj, "spec.accessModes"), 0, json_string(cases[i].new_mode));
    reg_persistentvolumeclaims.defaults(obj);
    struct reg_request rq = {.verb = "update"};
    reg_persistentvolumeclaims.prepare_update(&rq, obj, old);
    char *c = validate_sub(&reg_persistentvolumeclaims, obj, old, NULL);
    assert_string_equal(c, cases[i].causes);
    free(c);
    json_decref(obj);
    json_decref(old);
  }
}

/* A claim created without a class may get one, once; a class, once
 * set (even to ""), stays. */
static void test_pvc_class_set_once(void **state)
{
  (void)state;
  struct {
    const char *old_class, *new_class, *causes;
  } cases[] = {
      {NULL, "local-path", ""},
      {"", "local-path",
       "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName "
       "for bound claims"},
      {"gold", "local-path",
       "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName "
       "for bound claims"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *old = prepared(&reg_persistentvolumeclaims,
                           PVC("{'accessModes':['ReadWriteOnce'],'resources':{'requests':{'storage':'1Gi'}}}"));
    if (cases[i].old_class) kj_set_str(old, "spec.storageClassName", cases[i].old_class);
    json_t *obj = kj_deep_copy(old);
    kj_set_str(obj, "spec.storageClassName", cases[i].new_class);
    struct reg_request rq = {.verb = "update"};
    reg_persistentvolumeclaims.prepare_update(&rq, obj, old);
    char *c = validate_sub(&reg_persistentvolumeclaims, obj, old, NULL);
    if (strcmp(c, cases[i].causes)) fail_msg("case %zu: got [%s] want [%s]", i, c, cases[i].causes);
    free(c);
    json_decref(obj);
    json_decref(old);
  }
}

static void done_cb(void *arg) { (*(int *)arg)++; }

static void test_bootstrap_without_storage(void **state)
{
  (void)state;
  int called = 0;
  struct apiserver srv;
  memset(&srv, 0, sizeof(srv));
  assert_int_equal(registry_ext_bootstrap(&srv, done_cb, &called), 0);
  assert_int_equal(called, 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_cells),
      cmocka_unit_test(test_pvc_resize),
      cmocka_unit_test(test_pvc_class_set_once),
      cmocka_unit_test(test_bootstrap_without_storage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
