#!/usr/bin/env python3
"""Load generator for bench_scheduler.sh (upstream scheduler_perf's
SchedulingBasic shape).

  sched_load.py create URL NODES PODS   create fake Nodes (4 cpu, 32Gi, 110
                                        pods) and pending Pods (100m, 100Mi)
                                        with parallel keep-alive POSTs; prints
                                        the list resourceVersion afterwards
  sched_load.py wait URL PODS RV        watch pods from RV; print "ready",
                                        then the seconds from the first line
                                        on stdin until PODS pods are bound
"""
import http.client, json, sys, threading, time, urllib.parse

def conn(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=120)

def post_all(url, path, bodies, threads=8):
    errs = []
    def worker(chunk):
        c = conn(url)
        for b in chunk:
            c.request("POST", path, body=b, headers={"Content-Type": "application/json"})
            r = c.getresponse(); data = r.read()
            if r.status >= 300: errs.append(data[:200])
    chunks = [bodies[i::threads] for i in range(threads)]
    ts = [threading.Thread(target=worker, args=(ch,)) for ch in chunks]
    [t.start() for t in ts]; [t.join() for t in ts]
    if errs: sys.exit("create failed: %s (%d errors)" % (errs[0], len(errs)))

def create(url, nodes, pods):
    nb = [json.dumps({"apiVersion": "v1", "kind": "Node",
                      "metadata": {"name": "node-%d" % i, "labels": {"kubernetes.io/hostname": "node-%d" % i}},
                      "status": {"allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                                 "capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                                 "conditions": [{"type": "Ready", "status": "True"}]}}) for i in range(nodes)]
    pb = [json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pod-%d" % i},
                      "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                               "resources": {"requests": {"cpu": "100m", "memory": "100Mi"},
                                                             "limits": {"cpu": "100m", "memory": "100Mi"}}}]}})
          for i in range(pods)]
    t = time.time()
    # the ServiceAccount admission wants the pods' account (no controller-manager runs)
    post_all(url, "/api/v1/namespaces/default/serviceaccounts",
             [json.dumps({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})])
    post_all(url, "/api/v1/nodes", nb)
    post_all(url, "/api/v1/namespaces/default/pods", pb)
    c = conn(url)
    c.request("GET", "/api/v1/pods?limit=1"); r = c.getresponse()
    rv = json.loads(r.read())["metadata"]["resourceVersion"]
    print(rv)
    print("created %d nodes and %d pods in %.1f s" % (nodes, pods, time.time() - t), file=sys.stderr)

def wait(url, pods, rv):
    c = conn(url)
    c.request("GET", "/api/v1/pods?watch=1&allowWatchBookmarks=false&resourceVersion=%s" % rv)
    r = c.getresponse()
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.time()
    bound = set()
    buf = b""
    while len(bound) < pods:
        chunk = r.read1(1 << 16) if hasattr(r, "read1") else r.read(4096)
        if not chunk: sys.exit("watch ended after %d bound" % len(bound))
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if not line.strip(): continue
            ev = json.loads(line)
            obj = ev.get("object", {})
            if ev.get("type") == "MODIFIED" and obj.get("spec", {}).get("nodeName"):
                if not bound: first = time.time() - t0
                bound.add(obj["metadata"]["name"])
    print("%.3f %.3f" % (time.time() - t0, first), flush=True)

if __name__ == "__main__":
    if sys.argv[1] == "create": create(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else: wait(sys.argv[2], int(sys.argv[3]), sys.argv[4])
