"""Drives the API server with the official Python client (python3-kubernetes):
list, create, get, watch with watch.Watch().stream, delete.  Exits non-zero
with a message on the first mismatch."""
import sys
import threading
import time

from kubernetes import client, config, watch

config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
apps = client.AppsV1Api()
NS = "default"


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)
    print("ok -", msg)


pods = v1.list_namespaced_pod(NS)
check(pods.items == [], "empty pod list decodes with items == []")
rv0 = pods.metadata.resource_version
check(rv0 and rv0.isdigit(), "list carries a resourceVersion")

seen = []
def watcher():
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_pod, NS, resource_version=rv0, timeout_seconds=20):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) >= 3:
            w.stop()

t = threading.Thread(target=watcher)
t.start()
time.sleep(0.5)

for i in range(2):
    body = client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"py-{i}", labels={"app": "py"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")]))
    created = v1.create_namespaced_pod(NS, body)
    check(created.metadata.uid, f"created pod py-{i} has a uid")
    check(created.spec.restart_policy == "Always", "pod defaults applied")

got = v1.read_namespaced_pod("py-0", NS)
check(got.metadata.name == "py-0", "read pod")
lst = v1.list_namespaced_pod(NS, label_selector="app=py")
check(sorted(p.metadata.name for p in lst.items) == ["py-0", "py-1"], "list with label selector")

v1.delete_namespaced_pod("py-1", NS, grace_period_seconds=0)
t.join(25)
check(("ADDED", "py-0") in seen and ("ADDED", "py-1") in seen, f"watch saw both creates: {seen}")
check(("DELETED", "py-1") in seen, f"watch saw the delete: {seen}")

try:
    v1.read_namespaced_pod("nope", NS)
    check(False, "missing pod raises")
except client.exceptions.ApiException as e:
    check(e.status == 404, "404 for a missing pod")

dep = apps.create_namespaced_deployment(NS, {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pyd"},
    "spec": {"selector": {"matchLabels": {"a": "b"}},
             "template": {"metadata": {"labels": {"a": "b"}},
                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
check(dep.spec.strategy.type == "RollingUpdate", "deployment defaults through the client")
print("python client: all checks passed")
