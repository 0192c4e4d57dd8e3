"""Typed objects as the official Python client (python3-kubernetes) sees
them: every kind the client knows lists and decodes, deletes answer what
the client's models expect (a V1Status for most kinds, the object itself
for pods), and quantities come back canonical.  Exits non-zero on the first
mismatch."""
import sys

from kubernetes import client, config

config.load_kube_config(config_file=sys.argv[1])
NS = "default"


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)
    print("ok -", msg)


core, apps, batch = client.CoreV1Api(), client.AppsV1Api(), client.BatchV1Api()
LISTS = [
    (core, ["list_namespace", "list_node", "list_persistent_volume", "list_pod_for_all_namespaces",
            "list_service_for_all_namespaces", "list_endpoints_for_all_namespaces",
            "list_config_map_for_all_namespaces", "list_secret_for_all_namespaces",
            "list_service_account_for_all_namespaces", "list_event_for_all_namespaces",
            "list_persistent_volume_claim_for_all_namespaces", "list_limit_range_for_all_namespaces",
            "list_resource_quota_for_all_namespaces", "list_pod_template_for_all_namespaces",
            "list_replication_controller_for_all_namespaces"]),
    (apps, ["list_deployment_for_all_namespaces", "list_replica_set_for_all_namespaces",
            "list_stateful_set_for_all_namespaces", "list_daemon_set_for_all_namespaces",
            "list_controller_revision_for_all_namespaces"]),
    (batch, ["list_job_for_all_namespaces", "list_cron_job_for_all_namespaces"]),
    (client.DiscoveryV1Api(), ["list_endpoint_slice_for_all_namespaces"]),
    (client.CoordinationV1Api(), ["list_lease_for_all_namespaces"]),
    (client.EventsV1Api(), ["list_event_for_all_namespaces"]),
    (client.NetworkingV1Api(), ["list_ingress_for_all_namespaces", "list_ingress_class",
                                "list_network_policy_for_all_namespaces"]),
    (client.PolicyV1Api(), ["list_pod_disruption_budget_for_all_namespaces"]),
    (client.SchedulingV1Api(), ["list_priority_class"]),
    (client.StorageV1Api(), ["list_storage_class"]),
    (client.RbacAuthorizationV1Api(), ["list_role_for_all_namespaces", "list_cluster_role",
                                       "list_role_binding_for_all_namespaces", "list_cluster_role_binding"]),
]
for api, methods in LISTS:
    for m in methods:
        try:
            res = getattr(api, m)()
        except Exception as e:  # a model refusing what the server stored
            check(False, f"{type(api).__name__}.{m}: {e}")
        check(isinstance(res.items, list), f"{type(api).__name__}.{m} decodes ({len(res.items)} items)")

# deletes: a Status naming the object, or the object for kinds that return it
core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-del")))
st = core.delete_namespaced_config_map("py-del", NS)
check(isinstance(st, client.V1Status) and st.status == "Success", f"configmap delete answers a Success Status: {st}")
check(st.details.name == "py-del" and st.details.kind == "configmaps" and st.details.uid,
      "the Status names the deleted configmap")
pod = client.V1Pod(metadata=client.V1ObjectMeta(name="py-q"), spec=client.V1PodSpec(containers=[client.V1Container(
    name="c", image="busybox", resources=client.V1ResourceRequirements(
        requests={"cpu": "0.5", "memory": "1024Mi"}, limits={"memory": 1073741824, "cpu": "1.5"}))]))
created = core.create_namespaced_pod(NS, pod)
got = core.read_namespaced_pod("py-q", NS).spec.containers[0].resources
check(got.requests == {"cpu": "500m", "memory": "1Gi"}, f"requests canonical: {got.requests}")
check(got.limits == {"cpu": "1500m", "memory": "1073741824"}, f"limits canonical: {got.limits}")
gone = core.delete_namespaced_pod("py-q", NS)
check(isinstance(gone, client.V1Pod) and gone.metadata.uid == created.metadata.uid,
      "pod delete answers the pod")
