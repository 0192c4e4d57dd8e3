"""Durability load: CLIENTS threads create ConfigMaps over keep-alive
connections as fast as they can, and append "name resourceVersion" to ACKS
for every 201 received, until the server goes away or SECONDS pass."""
import http.client
import json
import sys
import threading
import time

port, clients, seconds, acks_path = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
lock = threading.Lock()
out = open(acks_path, "a", buffering=1)
deadline = time.time() + seconds


def run(cid):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    i = 0
    while time.time() < deadline:
        name = f"c{cid}-{i}"
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": name}, "data": {"payload": "x" * 600}})
        try:
            conn.request("POST", "/api/v1/namespaces/default/configmaps", body,
                         {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
        except Exception:
            return
        if resp.status == 201:
            rv = json.loads(data)["metadata"]["resourceVersion"]
            with lock:
                out.write(f"{name} {rv}\n")
        i += 1


threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
