#!/usr/bin/env python3
"""Loads SERVICES Services with ENDPOINTS endpoints each (one EndpointSlice
per Service, in 100 namespaces) into the API server at URL, with a few
concurrent connections; prints the seconds it took.  Also writes the
name -> ClusterIP list for dnsmasq's hosts file to HOSTS.
  kp_load.py URL SERVICES ENDPOINTS HOSTS
  kp_load.py move URL        (one endpoint of svc-0 replaced)"""
import http.client, json, sys, threading, time, urllib.parse

def client(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)

def post(c, path, obj):
    c.request("POST", path, json.dumps(obj), {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    if r.status not in (200, 201, 409):
        raise SystemExit("POST %s: %d %s" % (path, r.status, body[:200]))
    return json.loads(body) if r.status != 409 else None

def ep_ip(idx):
    return "10.%d.%d.%d" % (128 + ((idx >> 16) & 127), (idx >> 8) & 255, idx & 255)

def slice_obj(i, neps, variant=0):
    eps = [{"addresses": [ep_ip(i * neps + j + (100000000 if (j == 0 and variant) else 0) % (1 << 23))],
            "conditions": {"ready": True}, "nodeName": "node-%d" % ((i * neps + j) % 50)} for j in range(neps)]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "svc-%d-abcde" % i, "namespace": "ns%d" % (i % 100),
                         "labels": {"kubernetes.io/service-name": "svc-%d" % i}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}], "endpoints": eps}

if sys.argv[1] == "move":
    c = client(sys.argv[2])
    obj = slice_obj(0, 10, 1)
    c.request("PUT", "/apis/discovery.k8s.io/v1/namespaces/ns0/endpointslices/svc-0-abcde", json.dumps(obj),
              {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    if r.status != 200: raise SystemExit("PUT: %d" % r.status)
    sys.exit(0)

url, nsvc, neps, hosts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
start = time.time()
c = client(url)
for n in range(100):
    post(c, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns%d" % n}})
ips = {}
lock = threading.Lock()

def worker(k, step):
    c = client(url)
    for i in range(k, nsvc, step):
        ns = "ns%d" % (i % 100)
        svc = post(c, "/api/v1/namespaces/%s/services" % ns,
                   {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-%d" % i, "namespace": ns},
                    "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
        post(c, "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices" % ns, slice_obj(i, neps))
        if svc:
            with lock:
                ips["svc-%d.%s.svc.cluster.local" % (i, ns)] = svc["spec"]["clusterIP"]

threads = [threading.Thread(target=worker, args=(k, 8)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
with open(hosts, "w") as f:
    for name, ip in ips.items():
        f.write("%s %s\n" % (ip, name))
print("%.1f" % (time.time() - start))
