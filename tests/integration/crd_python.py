"""CustomObjectsApi of the official Python client against the API server:
create, get, list with a label selector, patch (merge), the status and
scale subresources, a watch that sees the change, and delete."""
import sys
import threading

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(sys.argv[1])
api = client.CustomObjectsApi()
G, V, P, NS = "stable.example.com", "v1", "crontabs", "default"

body = {"apiVersion": f"{G}/{V}", "kind": "CronTab",
        "metadata": {"name": "py", "labels": {"made-by": "python"}},
        "spec": {"cronSpec": "*/2 * * * *"}}
made = api.create_namespaced_custom_object(G, V, NS, P, body)
assert made["spec"]["replicas"] == 1 and made["spec"]["image"] == "nginx", made

got = api.get_namespaced_custom_object(G, V, NS, P, "py")
assert got["metadata"]["uid"] == made["metadata"]["uid"]

lst = api.list_namespaced_custom_object(G, V, NS, P, label_selector="made-by=python")
assert [i["metadata"]["name"] for i in lst["items"]] == ["py"], lst

events = []
def watcher(rv):
    w = watch.Watch()
    for ev in w.stream(api.list_namespaced_custom_object, G, V, NS, P,
                       resource_version=rv, timeout_seconds=5):
        events.append((ev["type"], ev["object"]["metadata"]["name"]))
        if ev["type"] == "MODIFIED":
            w.stop()
t = threading.Thread(target=watcher, args=(lst["metadata"]["resourceVersion"],))
t.start()
api.patch_namespaced_custom_object(G, V, NS, P, "py", {"spec": {"replicas": 2}})
t.join(10)
assert ("MODIFIED", "py") in events, events

api.patch_namespaced_custom_object_status(G, V, NS, P, "py", {"status": {"replicas": 2}})
scale = api.get_namespaced_custom_object_scale(G, V, NS, P, "py")
assert scale["spec"]["replicas"] == 2 and scale["status"]["replicas"] == 2, scale
api.patch_namespaced_custom_object_scale(G, V, NS, P, "py", {"spec": {"replicas": 3}})
assert api.get_namespaced_custom_object(G, V, NS, P, "py")["spec"]["replicas"] == 3

try:
    api.create_namespaced_custom_object(G, V, NS, P, dict(body, spec={"cronSpec": "x"}))
    raise SystemExit("invalid object accepted")
except ApiException as e:
    assert e.status == 422 and "spec.cronSpec" in e.body, e.body

api.delete_namespaced_custom_object(G, V, NS, P, "py")
try:
    api.get_namespaced_custom_object(G, V, NS, P, "py")
    raise SystemExit("still there")
except ApiException as e:
    assert e.status == 404
print("python CustomObjectsApi: create/get/list/watch/patch/status/scale/delete ok")
