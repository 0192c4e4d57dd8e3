#!/usr/bin/python3
"""tests/e2e/python_client.py NAMESPACE ECHO_IMAGE - the official Python
client against the compose cluster: creates a Deployment, follows its pods
with a watch until every replica is Ready, reads a pod's log through the
API server (from the node's kubelet), scales with a patch, deletes with
foreground propagation, and lists the nodes (typed: every required field of
NodeSystemInfo must be there).  Prints one line per step; exits 1 on the
first unexpected answer."""
import sys
import time

from kubernetes import client, config, watch

ns, image = sys.argv[1], sys.argv[2]
config.load_kube_config()
core, apps = client.CoreV1Api(), client.AppsV1Api()


def step(msg):
    print("ok - " + msg, flush=True)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


labels = {"app": "py"}
dep = client.V1Deployment(
    metadata=client.V1ObjectMeta(name="py"),
    spec=client.V1DeploymentSpec(
        replicas=2,
        selector=client.V1LabelSelector(match_labels=labels),
        template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels=labels),
            spec=client.V1PodSpec(
                termination_grace_period_seconds=1,
                containers=[client.V1Container(
                    name="echo", image=image,
                    ports=[client.V1ContainerPort(container_port=8080)],
                    readiness_probe=client.V1Probe(
                        tcp_socket=client.V1TCPSocketAction(port=8080), period_seconds=1))]))))
created = apps.create_namespaced_deployment(ns, dep)
if created.metadata.uid is None or created.metadata.generation != 1:
    fail("create answered %r" % created.metadata)
step("Deployment created (resourceVersion %s)" % created.metadata.resource_version)


def wait_ready(want, timeout=120):
    """Watch the pods until `want` of them are Ready (not being deleted)."""
    deadline = time.time() + timeout
    state = {}
    w = watch.Watch()
    rv = core.list_namespaced_pod(ns, label_selector="app=py").metadata.resource_version
    for p in core.list_namespaced_pod(ns, label_selector="app=py").items:
        state[p.metadata.name] = p
    while time.time() < deadline:
        live = [p for p in state.values() if p.metadata.deletion_timestamp is None and any(
            c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))]
        if len(live) == want and len([p for p in state.values() if p.metadata.deletion_timestamp is None]) == want:
            return live
        for ev in w.stream(core.list_namespaced_pod, ns, label_selector="app=py",
                           resource_version=rv, timeout_seconds=5):
            p = ev["object"]
            rv = p.metadata.resource_version
            if ev["type"] == "DELETED":
                state.pop(p.metadata.name, None)
            else:
                state[p.metadata.name] = p
            break
    fail("not %d Ready pods within %ds: %s" % (want, timeout, sorted(state)))


pods = wait_ready(2)
step("watch saw 2 Ready pods: %s" % " ".join(sorted(p.metadata.name for p in pods)))

name = pods[0].metadata.name
log = ""
for _ in range(30):
    log = core.read_namespaced_pod_log(name, ns, container="echo")
    if "listening" in log:
        break
    time.sleep(1)
if "echo-server %s version" % name not in log:
    fail("log of %s: %r" % (name, log))
step("log of %s read through the API server" % name)

apps.patch_namespaced_deployment_scale("py", ns, {"spec": {"replicas": 3}})
pods = wait_ready(3)
step("scaled to 3 with a patch of the scale subresource")
d = apps.read_namespaced_deployment_status("py", ns)
step("status: %s/%s available" % (d.status.available_replicas, d.spec.replicas))

apps.delete_namespaced_deployment("py", ns, propagation_policy="Foreground")
deadline = time.time() + 90
while time.time() < deadline:
    try:
        apps.read_namespaced_deployment("py", ns)
    except client.exceptions.ApiException as e:
        if e.status == 404:
            break
        raise
    time.sleep(1)
else:
    fail("the Deployment was not deleted")
left = core.list_namespaced_pod(ns, label_selector="app=py").items
if left:
    fail("pods left after a foreground delete: %s" % [p.metadata.name for p in left])
step("foreground deletion removed the Deployment after its pods")
try:
    apps.read_namespaced_deployment("py", ns)
    fail("read after delete succeeded")
except client.exceptions.ApiException as e:
    if e.status != 404 or "NotFound" not in (e.body or ""):
        fail("read after delete: %s %s" % (e.status, e.body))
step("a read afterwards is a 404 NotFound Status")

nodes = core.list_node().items
ready = [n.metadata.name for n in nodes
         if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]
if not ready:
    fail("no Ready node")
step("%d Ready nodes: %s" % (len(ready), " ".join(ready)))
