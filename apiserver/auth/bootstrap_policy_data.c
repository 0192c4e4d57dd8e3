/*
 * bootstrap_policy_data.c - upstream's bootstrap policy as data
 * (plugin/pkg/auth/authorizer/rbac/bootstrappolicy policy.go and
 * controller_policy.go): the default ClusterRoles, the system:controller:
 * roles of the controllers kube-controller-manager runs here, and their
 * default ClusterRoleBindings, and the Roles and RoleBindings of the
 * reserved namespaces (namespace_policy.go).
 *
 * A rule is written as comma-separated lists: verbs, apiGroups ("" is
 * the core group, so ",events.k8s.io" is ["", "events.k8s.io"]; NULL
 * means no apiGroups), resources, resourceNames, nonResourceURLs.
 */
#include <stddef.h>

#include "auth/bootstrap_policy.h"

#define RW "get,list,watch,create,update,patch,delete,deletecollection"
#define R "get,list,watch"
#define W "create,update,patch,delete,deletecollection"
#define EVENTS {"create,update,patch", ",events.k8s.io", "events", NULL, NULL}
#define END {NULL, NULL, NULL, NULL, NULL}

static const struct bp_rule cluster_admin[] = {{"*", "*", "*", NULL, NULL}, {"*", NULL, NULL, NULL, "*"}, END};
static const struct bp_rule discovery[] = {
    {"get", NULL, NULL, NULL, "/livez,/readyz,/healthz,/version,/version/,/openapi,/openapi/*,/api,/api/*,/apis,/apis/*"},
    END};
static const struct bp_rule monitoring[] = {
    {"get", NULL, NULL, NULL, "/metrics,/metrics/slis,/livez,/readyz,/healthz,/livez/*,/readyz/*,/healthz/*"}, END};
static const struct bp_rule basic_user[] = {
    {"create", "authorization.k8s.io", "selfsubjectaccessreviews,selfsubjectrulesreviews", NULL, NULL},
    {"create", "authentication.k8s.io", "selfsubjectreviews", NULL, NULL},
    END};
static const struct bp_rule public_info_viewer[] = {
    {"get", NULL, NULL, NULL, "/livez,/readyz,/healthz,/version,/version/"}, END};
static const struct bp_rule aggregate_to_admin[] = {
    {"create", "authorization.k8s.io", "localsubjectaccessreviews", NULL, NULL},
    {RW, "rbac.authorization.k8s.io", "roles,rolebindings", NULL, NULL},
    END};
static const struct bp_rule aggregate_to_edit[] = {
    {R, "", "pods/attach,pods/proxy,pods/exec,pods/portforward,secrets,services/proxy", NULL, NULL},
    {"impersonate", "", "serviceaccounts", NULL, NULL},
    {W, "", "pods,pods/attach,pods/proxy,pods/exec,pods/portforward", NULL, NULL},
    {"create", "", "pods/eviction", NULL, NULL},
    {W, "",
     "replicationcontrollers,replicationcontrollers/scale,serviceaccounts,services,services/proxy,persistentvolumeclaims,"
     "configmaps,secrets,events",
     NULL, NULL},
    {"create", "", "serviceaccounts/token", NULL, NULL},
    {W, "apps",
     "statefulsets,statefulsets/scale,daemonsets,deployments,deployments/scale,deployments/rollback,replicasets,"
     "replicasets/scale",
     NULL, NULL},
    {W, "autoscaling", "horizontalpodautoscalers", NULL, NULL},
    {W, "batch", "jobs,cronjobs", NULL, NULL},
    {W, "extensions",
     "daemonsets,deployments,deployments/scale,deployments/rollback,ingresses,replicasets,replicasets/scale,"
     "replicationcontrollers/scale,networkpolicies",
     NULL, NULL},
    {W, "policy", "poddisruptionbudgets", NULL, NULL},
    {W, "networking.k8s.io", "networkpolicies,ingresses", NULL, NULL},
    END};
static const struct bp_rule aggregate_to_view[] = {
    {R, "",
     "pods,replicationcontrollers,replicationcontrollers/scale,serviceaccounts,services,services/status,endpoints,"
     "persistentvolumeclaims,persistentvolumeclaims/status,configmaps",
     NULL, NULL},
    {R, "",
     "limitranges,resourcequotas,bindings,events,pods/status,resourcequotas/status,namespaces/status,"
     "replicationcontrollers/status,pods/log",
     NULL, NULL},
    {R, "", "namespaces", NULL, NULL},
    {R, "discovery.k8s.io", "endpointslices", NULL, NULL},
    {R, "apps",
     "controllerrevisions,statefulsets,statefulsets/status,statefulsets/scale,daemonsets,daemonsets/status,deployments,"
     "deployments/status,deployments/scale,replicasets,replicasets/status,replicasets/scale",
     NULL, NULL},
    {R, "autoscaling", "horizontalpodautoscalers,horizontalpodautoscalers/status", NULL, NULL},
    {R, "batch", "jobs,jobs/status,cronjobs,cronjobs/status", NULL, NULL},
    {R, "extensions",
     "daemonsets,daemonsets/status,deployments,deployments/scale,deployments/status,ingresses,ingresses/status,"
     "replicasets,replicasets/scale,replicasets/status,replicationcontrollers/scale,networkpolicies",
     NULL, NULL},
    {R, "policy", "poddisruptionbudgets,poddisruptionbudgets/status", NULL, NULL},
    {R, "networking.k8s.io", "ingresses,ingresses/status,networkpolicies", NULL, NULL},
    END};
static const struct bp_rule heapster[] = {
    {R, "", "events,pods,nodes,namespaces", NULL, NULL}, {R, "extensions", "deployments", NULL, NULL}, END};
static const struct bp_rule node[] = {
    {"create", "authentication.k8s.io", "tokenreviews", NULL, NULL},
    {"create", "authorization.k8s.io", "subjectaccessreviews,localsubjectaccessreviews", NULL, NULL},
    {R, "", "services", NULL, NULL},
    {"create,get,list,watch", "", "nodes", NULL, NULL},
    {"update,patch", "", "nodes/status", NULL, NULL},
    {"update,patch", "", "nodes", NULL, NULL},
    {"create,update,patch", "", "events", NULL, NULL},
    {R, "", "pods", NULL, NULL},
    {"create,delete", "", "pods", NULL, NULL},
    {"update,patch", "", "pods/status", NULL, NULL},
    {"create", "", "pods/eviction", NULL, NULL},
    {"get,list,watch", "", "secrets,configmaps", NULL, NULL},
    {"get", "", "persistentvolumeclaims,persistentvolumes", NULL, NULL},
    {"get", "", "endpoints", NULL, NULL},
    {"create,get,list,watch", "certificates.k8s.io", "certificatesigningrequests", NULL, NULL},
    {"get,create,update,patch,delete", "coordination.k8s.io", "leases", NULL, NULL},
    {"get", "storage.k8s.io", "volumeattachments", NULL, NULL},
    {"create", "", "serviceaccounts/token", NULL, NULL},
    {"get,update,patch", "", "persistentvolumeclaims/status", NULL, NULL},
    {"get,watch,list", "storage.k8s.io", "csidrivers", NULL, NULL},
    {"get,create,update,patch,delete", "storage.k8s.io", "csinodes", NULL, NULL},
    {"get,list,watch", "node.k8s.io", "runtimeclasses", NULL, NULL},
    END};
static const struct bp_rule node_problem_detector[] = {
    {"get", "", "nodes", NULL, NULL}, {"patch", "", "nodes/status", NULL, NULL}, EVENTS, END};
static const struct bp_rule node_proxier[] = {{"list,watch", "", "services,endpoints", NULL, NULL},
                                              {"get,list,watch", "", "nodes", NULL, NULL},
                                              EVENTS,
                                              {"list,watch", "discovery.k8s.io", "endpointslices", NULL, NULL},
                                              END};
static const struct bp_rule kubelet_api_admin[] = {{"get,list,watch", "", "nodes", NULL, NULL},
                                                   {"proxy", "", "nodes", NULL, NULL},
                                                   {"*", "", "nodes/proxy,nodes/stats,nodes/log,nodes/metrics", NULL,
                                                    NULL},
                                                   END};
static const struct bp_rule node_bootstrapper[] = {
    {"create,get,list,watch", "certificates.k8s.io", "certificatesigningrequests", NULL, NULL}, END};
static const struct bp_rule auth_delegator[] = {{"create", "authentication.k8s.io", "tokenreviews", NULL, NULL},
                                                {"create", "authorization.k8s.io", "subjectaccessreviews", NULL, NULL},
                                                END};
static const struct bp_rule kube_aggregator[] = {{R, "", "services,endpoints", NULL, NULL}, END};
static const struct bp_rule kube_controller_manager[] = {
    EVENTS,
    {"create", "coordination.k8s.io", "leases", NULL, NULL},
    {"get,update", "coordination.k8s.io", "leases", "kube-controller-manager", NULL},
    {"create", "", "secrets,serviceaccounts", NULL, NULL},
    {"delete", "", "secrets", NULL, NULL},
    {"get", "", "namespaces,secrets,serviceaccounts,configmaps", NULL, NULL},
    {"update", "", "secrets,serviceaccounts", NULL, NULL},
    {"create", "authentication.k8s.io", "tokenreviews", NULL, NULL},
    {"create", "authorization.k8s.io", "subjectaccessreviews", NULL, NULL},
    {"list,watch", "*", "*", NULL, NULL},
    {"create", "", "serviceaccounts/token", NULL, NULL},
    END};
static const struct bp_rule kube_dns[] = {{"list,watch", "", "endpoints,services", NULL, NULL}, END};
static const struct bp_rule persistent_volume_provisioner[] = {
    {"get,list,watch,create,delete", "", "persistentvolumes", NULL, NULL},
    {"get,list,watch,update", "", "persistentvolumeclaims", NULL, NULL},
    {R, "storage.k8s.io", "storageclasses", NULL, NULL},
    {"watch", "", "events", NULL, NULL},
    EVENTS,
    END};
static const struct bp_rule kube_scheduler[] = {
    EVENTS,
    {"create", "coordination.k8s.io", "leases", NULL, NULL},
    {"get,update", "coordination.k8s.io", "leases", "kube-scheduler", NULL},
    {R, "", "nodes", NULL, NULL},
    {"get,list,watch,delete", "", "pods", NULL, NULL},
    {"create", "", "bindings,pods/binding", NULL, NULL},
    {"patch,update", "", "pods/status", NULL, NULL},
    {R, "", "replicationcontrollers,services", NULL, NULL},
    {R, "apps,extensions", "replicasets", NULL, NULL},
    {R, "apps", "statefulsets", NULL, NULL},
    {R, "policy", "poddisruptionbudgets", NULL, NULL},
    {R, "", "persistentvolumeclaims,persistentvolumes", NULL, NULL},
    {"create", "authentication.k8s.io", "tokenreviews", NULL, NULL},
    {"create", "authorization.k8s.io", "subjectaccessreviews", NULL, NULL},
    {R, "storage.k8s.io", "csinodes", NULL, NULL},
    {R, "", "namespaces", NULL, NULL},
    {R, "storage.k8s.io", "csidrivers", NULL, NULL},
    {R, "storage.k8s.io", "csistoragecapacities", NULL, NULL},
    END};
static const struct bp_rule volume_scheduler[] = {
    {"get,list,watch,update,patch", "", "persistentvolumes", NULL, NULL},
    {R, "storage.k8s.io", "storageclasses", NULL, NULL},
    {"get,list,watch,update,patch", "", "persistentvolumeclaims", NULL, NULL},
    END};
static const struct bp_rule sa_issuer_discovery[] = {
    {"get", NULL, NULL, NULL, "/.well-known/openid-configuration,/openid/v1/jwks"}, END};
static const struct bp_rule csr_nodeclient[] = {
    {"create", "certificates.k8s.io", "certificatesigningrequests/nodeclient", NULL, NULL}, END};
static const struct bp_rule csr_selfnodeclient[] = {
    {"create", "certificates.k8s.io", "certificatesigningrequests/selfnodeclient", NULL, NULL}, END};
static const struct bp_rule approve_client[] = {
    {"approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client", NULL}, END};
static const struct bp_rule approve_kubelet_client[] = {
    {"approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client-kubelet", NULL}, END};
static const struct bp_rule approve_kubelet_serving[] = {
    {"approve", "certificates.k8s.io", "signers", "kubernetes.io/kubelet-serving", NULL}, END};
static const struct bp_rule approve_legacy_unknown[] = {
    {"approve", "certificates.k8s.io", "signers", "kubernetes.io/legacy-unknown", NULL}, END};

#define AGG_ADMIN "rbac.authorization.k8s.io/aggregate-to-admin"
#define AGG_EDIT "rbac.authorization.k8s.io/aggregate-to-edit"
#define AGG_VIEW "rbac.authorization.k8s.io/aggregate-to-view"

const struct bp_role bp_cluster_roles[] = {
    {"cluster-admin", NULL, NULL, cluster_admin},
    {"system:discovery", NULL, NULL, discovery},
    {"system:monitoring", NULL, NULL, monitoring},
    {"system:basic-user", NULL, NULL, basic_user},
    {"system:public-info-viewer", NULL, NULL, public_info_viewer},
    {"admin", NULL, AGG_ADMIN, NULL},
    {"edit", AGG_ADMIN, AGG_EDIT, NULL},
    {"view", AGG_EDIT, AGG_VIEW, NULL},
    {"system:aggregate-to-admin", AGG_ADMIN, NULL, aggregate_to_admin},
    {"system:aggregate-to-edit", AGG_EDIT, NULL, aggregate_to_edit},
    {"system:aggregate-to-view", AGG_VIEW, NULL, aggregate_to_view},
    {"system:heapster", NULL, NULL, heapster},
    {"system:node", NULL, NULL, node},
    {"system:node-problem-detector", NULL, NULL, node_problem_detector},
    {"system:kubelet-api-admin", NULL, NULL, kubelet_api_admin},
    {"system:node-bootstrapper", NULL, NULL, node_bootstrapper},
    {"system:auth-delegator", NULL, NULL, auth_delegator},
    {"system:kube-aggregator", NULL, NULL, kube_aggregator},
    {"system:kube-controller-manager", NULL, NULL, kube_controller_manager},
    {"system:kube-dns", NULL, NULL, kube_dns},
    {"system:persistent-volume-provisioner", NULL, NULL, persistent_volume_provisioner},
    {"system:certificates.k8s.io:certificatesigningrequests:nodeclient", NULL, NULL, csr_nodeclient},
    {"system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", NULL, NULL, csr_selfnodeclient},
    {"system:volume-scheduler", NULL, NULL, volume_scheduler},
    {"system:certificates.k8s.io:legacy-unknown-approver", NULL, NULL, approve_legacy_unknown},
    {"system:certificates.k8s.io:kubelet-serving-approver", NULL, NULL, approve_kubelet_serving},
    {"system:certificates.k8s.io:kube-apiserver-client-approver", NULL, NULL, approve_client},
    {"system:certificates.k8s.io:kube-apiserver-client-kubelet-approver", NULL, NULL, approve_kubelet_client},
    {"system:service-account-issuer-discovery", NULL, NULL, sa_issuer_discovery},
    {"system:node-proxier", NULL, NULL, node_proxier},
    {"system:kube-scheduler", NULL, NULL, kube_scheduler},
    {NULL, NULL, NULL, NULL},
};

const struct bp_binding bp_cluster_role_bindings[] = {
    {"cluster-admin", "cluster-admin", {{"Group", "system:masters"}}},
    {"system:monitoring", "system:monitoring", {{"Group", "system:monitoring"}}},
    {"system:discovery", "system:discovery", {{"Group", "system:authenticated"}}},
    {"system:basic-user", "system:basic-user", {{"Group", "system:authenticated"}}},
    {"system:public-info-viewer",
     "system:public-info-viewer",
     {{"Group", "system:authenticated"}, {"Group", "system:unauthenticated"}}},
    {"system:node-proxier", "system:node-proxier", {{"User", "system:kube-proxy"}}},
    {"system:kube-controller-manager", "system:kube-controller-manager", {{"User", "system:kube-controller-manager"}}},
    {"system:kube-dns", "system:kube-dns", {{"ServiceAccount", "kube-system:kube-dns"}}},
    {"system:kube-scheduler", "system:kube-scheduler", {{"User", "system:kube-scheduler"}}},
    {"system:volume-scheduler", "system:volume-scheduler", {{"User", "system:kube-scheduler"}}},
    {"system:node", "system:node", {{NULL, NULL}}},
    {"system:service-account-issuer-discovery",
     "system:service-account-issuer-discovery",
     {{"Group", "system:serviceaccounts"}}},
    {NULL, NULL, {{NULL, NULL}}},
};

/* ---- controller roles (controller_policy.go), for the controllers of
 * controller-manager/controllers/registry.c and the aggregation
 * controller; each bound to the kube-system service account of the
 * same name. ---- */

static const struct bp_rule c_clusterrole_aggregation[] = {
    {"escalate,get,list,watch,update,patch", "rbac.authorization.k8s.io", "clusterroles", NULL, NULL}, END};
static const struct bp_rule c_certificate[] = {
    {"get,list,watch,delete", "certificates.k8s.io", "certificatesigningrequests", NULL, NULL},
    {"update", "certificates.k8s.io", "certificatesigningrequests/status,certificatesigningrequests/approval", NULL,
     NULL},
    {"approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client-kubelet", NULL},
    {"sign", "certificates.k8s.io", "signers",
     "kubernetes.io/legacy-unknown,kubernetes.io/kube-apiserver-client,kubernetes.io/kube-apiserver-client-kubelet,"
     "kubernetes.io/kubelet-serving",
     NULL},
    {"create", "authorization.k8s.io", "subjectaccessreviews", NULL, NULL},
    EVENTS,
    END};
static const struct bp_rule c_cronjob[] = {{"get,list,watch,update", "batch", "cronjobs", NULL, NULL},
                                           {"get,list,watch,create,update,delete,patch", "batch", "jobs", NULL, NULL},
                                           {"update", "batch", "cronjobs/status", NULL, NULL},
                                           {"update", "batch", "cronjobs/finalizers", NULL, NULL},
                                           {"list,watch,delete", "", "pods", NULL, NULL},
                                           EVENTS,
                                           END};
static const struct bp_rule c_daemonset[] = {
    {R, "apps,extensions", "daemonsets", NULL, NULL},
    {"update", "apps,extensions", "daemonsets/status", NULL, NULL},
    {"update", "apps,extensions", "daemonsets/finalizers", NULL, NULL},
    {"list,watch", "", "nodes", NULL, NULL},
    {"list,watch,create,delete,patch", "", "pods", NULL, NULL},
    {"create", "", "pods/binding", NULL, NULL},
    {"get,list,watch,create,update,patch,delete", "apps", "controllerrevisions", NULL, NULL},
    EVENTS,
    END};
static const struct bp_rule c_deployment[] = {
    {"get,list,watch,update", "apps,extensions", "deployments", NULL, NULL},
    {"update", "apps,extensions", "deployments/status", NULL, NULL},
    {"update", "apps,extensions", "deployments/finalizers", NULL, NULL},
    {"get,list,watch,create,update,patch,delete", "apps,extensions", "replicasets", NULL, NULL},
    {"get,list,watch,update", "", "pods", NULL, NULL},
    EVENTS,
    END};
static const struct bp_rule c_disruption[] = {{R, "apps,extensions", "deployments", NULL, NULL},
                                              {R, "apps,extensions", "replicasets", NULL, NULL},
                                              {R, "", "replicationcontrollers", NULL, NULL},
                                              {R, "policy", "poddisruptionbudgets", NULL, NULL},
                                              {R, "apps", "statefulsets", NULL, NULL},
                                              {"update", "policy", "poddisruptionbudgets/status", NULL, NULL},
                                              {"patch,update", "", "pods/status", NULL, NULL},
                                              {"get", "*", "*/scale", NULL, NULL},
                                              EVENTS,
                                              END};
static const struct bp_rule c_endpoint[] = {{R, "", "services,pods", NULL, NULL},
                                            {"get,list,watch,create,update,delete", "", "endpoints", NULL, NULL},
                                            {"create", "", "endpoints/restricted", NULL, NULL},
                                            EVENTS,
                                            END};
static const struct bp_rule c_endpointslice[] = {
    {R, "", "services,pods,nodes", NULL, NULL},
    {"update", "", "services/finalizers", NULL, NULL},
    {"get,list,watch,create,update,delete", "discovery.k8s.io", "endpointslices", NULL, NULL},
    EVENTS,
    END};
static const struct bp_rule c_endpointslicemirroring[] = {
    {R, "", "services,endpoints", NULL, NULL},
    {"update", "", "services/finalizers", NULL, NULL},
    {"update", "", "endpoints/finalizers", NULL, NULL},
    {"get,list,watch,create,update,delete", "discovery.k8s.io", "endpointslices", NULL, NULL},
    EVENTS,
    END};
static const struct bp_rule c_ephemeral_volume[] = {{R, "", "pods", NULL, NULL},
                                                    {"update", "", "pods/finalizers", NULL, NULL},
                                                    {"get,list,watch,create", "", "persistentvolumeclaims", NULL, NULL},
                                                    EVENTS,
                                                    END};
static const struct bp_rule c_expand[] = {{"get,list,watch,update,patch", "", "persistentvolumes", NULL, NULL},
                                          {"update,patch", "", "persistentvolumeclaims/status", NULL, NULL},
                                          {R, "", "persistentvolumeclaims", NULL, NULL},
                                          EVENTS,
                                          END};
static const struct bp_rule c_gc[] = {{"get,list,watch,patch,update,delete", "*", "*", NULL, NULL}, EVENTS, END};
static const struct bp_rule c_job[] = {{"get,list,watch,update,patch", "batch", "jobs", NULL, NULL},
                                       {"update", "batch", "jobs/status", NULL, NULL},
                                       {"update", "batch", "jobs/finalizers", NULL, NULL},
                                       {"list,watch,create,delete,patch", "", "pods", NULL, NULL},
                                       EVENTS,
                                       END};
static const struct bp_rule c_namespace[] = {{"get,list,watch,delete", "", "namespaces", NULL, NULL},
                                             {"update", "", "namespaces/finalize,namespaces/status", NULL, NULL},
                                             {"get,list,watch,delete,deletecollection", "*", "*", NULL, NULL},
                                             END};
static const struct bp_rule c_node[] = {{"get,list,watch,update,delete,patch", "", "nodes", NULL, NULL},
                                        {"patch,update", "", "nodes/status", NULL, NULL},
                                        {"patch,update", "", "pods/status", NULL, NULL},
                                        {"get,list,watch,delete", "", "pods", NULL, NULL},
                                        EVENTS,
                                        END};
static const struct bp_rule c_pv_binder[] = {
    {"get,list,watch,update,create,delete", "", "persistentvolumes", NULL, NULL},
    {"update", "", "persistentvolumes/status", NULL, NULL},
    {"get,list,watch,update", "", "persistentvolumeclaims", NULL, NULL},
    {"update", "", "persistentvolumeclaims/status", NULL, NULL},
    {"list,watch,get,create,delete", "", "pods", NULL, NULL},
    {R, "storage.k8s.io", "storageclasses", NULL, NULL},
    {"list,watch", "", "nodes", NULL, NULL},
    EVENTS,
    {"watch", "", "events", NULL, NULL},
    END};
static const struct bp_rule c_podgc[] = {{"list,watch,delete", "", "pods", NULL, NULL},
                                         {"get,list,watch", "", "nodes", NULL, NULL},
                                         {"patch", "", "pods/status", NULL, NULL},
                                         END};
static const struct bp_rule c_pv_protection[] = {
    {"get,list,watch,update", "", "persistentvolumes", NULL, NULL}, EVENTS, END};
static const struct bp_rule c_pvc_protection[] = {{"get,list,watch,update", "", "persistentvolumeclaims", NULL, NULL},
                                                  {"update", "", "persistentvolumeclaims/status", NULL, NULL},
                                                  {"get,list,watch", "", "pods", NULL, NULL},
                                                  EVENTS,
                                                  END};
static const struct bp_rule c_replicaset[] = {{"get,list,watch,update", "apps,extensions", "replicasets", NULL, NULL},
                                              {"update", "apps,extensions", "replicasets/status", NULL, NULL},
                                              {"update", "apps,extensions", "replicasets/finalizers", NULL, NULL},
                                              {"list,watch,patch,create,delete", "", "pods", NULL, NULL},
                                              EVENTS,
                                              END};
static const struct bp_rule c_replication[] = {{"get,list,watch,update", "", "replicationcontrollers", NULL, NULL},
                                               {"update", "", "replicationcontrollers/status", NULL, NULL},
                                               {"update", "", "replicationcontrollers/finalizers", NULL, NULL},
                                               {"list,watch,patch,create,delete", "", "pods", NULL, NULL},
                                               EVENTS,
                                               END};
static const struct bp_rule c_resourcequota[] = {
    {"list,watch", "*", "*", NULL, NULL}, {"update", "", "resourcequotas/status", NULL, NULL}, EVENTS, END};
static const struct bp_rule c_root_ca[] = {{"create,update", "", "configmaps", NULL, NULL}, EVENTS, END};
static const struct bp_rule c_serviceaccount[] = {{"create", "", "serviceaccounts", NULL, NULL}, EVENTS, END};
static const struct bp_rule c_statefulset[] = {
    {"list,watch", "", "pods", NULL, NULL},
    {R, "apps", "statefulsets", NULL, NULL},
    {"update", "apps", "statefulsets/status", NULL, NULL},
    {"update", "apps", "statefulsets/finalizers", NULL, NULL},
    {"get,create,delete,update,patch", "", "pods", NULL, NULL},
    {"get,create,delete,update,patch,list,watch", "apps", "controllerrevisions", NULL, NULL},
    {"get,create", "", "persistentvolumeclaims", NULL, NULL},
    {"update,delete", "", "persistentvolumeclaims", NULL, NULL},
    {"update", "", "pods/finalizers", NULL, NULL},
    EVENTS,
    END};
static const struct bp_rule c_ttl_after_finished[] = {{"get,list,watch,delete", "batch", "jobs", NULL, NULL}, EVENTS, END};

const struct bp_role bp_controller_roles[] = {
    {"certificate-controller", NULL, NULL, c_certificate},
    {"clusterrole-aggregation-controller", NULL, NULL, c_clusterrole_aggregation},
    {"cronjob-controller", NULL, NULL, c_cronjob},
    {"daemon-set-controller", NULL, NULL, c_daemonset},
    {"deployment-controller", NULL, NULL, c_deployment},
    {"disruption-controller", NULL, NULL, c_disruption},
    {"endpoint-controller", NULL, NULL, c_endpoint},
    {"endpointslice-controller", NULL, NULL, c_endpointslice},
    {"endpointslicemirroring-controller", NULL, NULL, c_endpointslicemirroring},
    {"ephemeral-volume-controller", NULL, NULL, c_ephemeral_volume},
    {"expand-controller", NULL, NULL, c_expand},
    {"generic-garbage-collector", NULL, NULL, c_gc},
    {"job-controller", NULL, NULL, c_job},
    {"namespace-controller", NULL, NULL, c_namespace},
    {"node-controller", NULL, NULL, c_node},
    {"persistent-volume-binder", NULL, NULL, c_pv_binder},
    {"pod-garbage-collector", NULL, NULL, c_podgc},
    {"pv-protection-controller", NULL, NULL, c_pv_protection},
    {"pvc-protection-controller", NULL, NULL, c_pvc_protection},
    {"replicaset-controller", NULL, NULL, c_replicaset},
    {"replication-controller", NULL, NULL, c_replication},
    {"resourcequota-controller", NULL, NULL, c_resourcequota},
    {"root-ca-cert-publisher", NULL, NULL, c_root_ca},
    {"service-account-controller", NULL, NULL, c_serviceaccount},
    {"statefulset-controller", NULL, NULL, c_statefulset},
    {"ttl-after-finished-controller", NULL, NULL, c_ttl_after_finished},
    {NULL, NULL, NULL, NULL},
};

/* ---- namespaced roles (namespace_policy.go) ---- */

static const struct bp_rule ns_auth_reader[] = {
    {R, "", "configmaps", "extension-apiserver-authentication", NULL}, END};
static const struct bp_rule ns_bootstrap_signer_system[] = {{R, "", "secrets", NULL, NULL}, END};
static const struct bp_rule ns_cloud_provider[] = {{"create,get,list,watch", "", "configmaps", NULL, NULL}, END};
static const struct bp_rule ns_token_cleaner[] = {{"get,list,watch,delete", "", "secrets", NULL, NULL}, EVENTS, END};
static const struct bp_rule ns_leader_kcm[] = {
    {"watch", "", "configmaps", NULL, NULL},
    {"get,update", "", "configmaps", "kube-controller-manager", NULL},
    {"get,watch,list,create,update", "coordination.k8s.io", "leases", NULL, NULL},
    END};
static const struct bp_rule ns_leader_scheduler[] = {
    {"watch", "", "configmaps", NULL, NULL}, {"get,update", "", "configmaps", "kube-scheduler", NULL}, END};
static const struct bp_rule ns_bootstrap_signer_public[] = {
    {R, "", "configmaps", NULL, NULL}, {"update", "", "configmaps", "cluster-info", NULL}, EVENTS, END};

const struct bp_ns_role bp_namespace_roles[] = {
    {"kube-system", {"extension-apiserver-authentication-reader", NULL, NULL, ns_auth_reader}},
    {"kube-system", {"system:controller:bootstrap-signer", NULL, NULL, ns_bootstrap_signer_system}},
    {"kube-system", {"system:controller:cloud-provider", NULL, NULL, ns_cloud_provider}},
    {"kube-system", {"system:controller:token-cleaner", NULL, NULL, ns_token_cleaner}},
    {"kube-system", {"system::leader-locking-kube-controller-manager", NULL, NULL, ns_leader_kcm}},
    {"kube-system", {"system::leader-locking-kube-scheduler", NULL, NULL, ns_leader_scheduler}},
    {"kube-public", {"system:controller:bootstrap-signer", NULL, NULL, ns_bootstrap_signer_public}},
    {NULL, {NULL, NULL, NULL, NULL}},
};

const struct bp_ns_binding bp_namespace_role_bindings[] = {
    {"kube-system",
     {"system::extension-apiserver-authentication-reader",
      "extension-apiserver-authentication-reader",
      {{"User", "system:kube-controller-manager"}, {"User", "system:kube-scheduler"}}}},
    {"kube-system",
     {"system::leader-locking-kube-controller-manager",
      "system::leader-locking-kube-controller-manager",
      {{"User", "system:kube-controller-manager"},
       {"ServiceAccount", "kube-system:kube-controller-manager"},
       {"ServiceAccount", "kube-system:leader-election-controller"}}}},
    {"kube-system",
     {"system::leader-locking-kube-scheduler",
      "system::leader-locking-kube-scheduler",
      {{"User", "system:kube-scheduler"}, {"ServiceAccount", "kube-system:kube-scheduler"}}}},
    {"kube-system",
     {"system:controller:bootstrap-signer",
      "system:controller:bootstrap-signer",
      {{"ServiceAccount", "kube-system:bootstrap-signer"}}}},
    {"kube-system",
     {"system:controller:cloud-provider", "system:controller:cloud-provider", {{"ServiceAccount", "kube-system:cloud-provider"}}}},
    {"kube-system",
     {"system:controller:token-cleaner", "system:controller:token-cleaner", {{"ServiceAccount", "kube-system:token-cleaner"}}}},
    {"kube-public",
     {"system:controller:bootstrap-signer",
      "system:controller:bootstrap-signer",
      {{"ServiceAccount", "kube-system:bootstrap-signer"}}}},
    {NULL, {NULL, NULL, {{NULL, NULL}}}},
};
