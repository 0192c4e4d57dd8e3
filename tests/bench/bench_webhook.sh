#!/usr/bin/env bash
# The latency a no-op validating admission webhook adds to a write: N
# sequential ConfigMap creates (one keep-alive client) without a webhook,
# then with a ValidatingWebhookConfiguration whose webhook (the test
# server tests/integration/webhook_server.py, HTTPS on 127.0.0.1) allows
# everything; printed next to the webhook server's own handling time.
# Prints figures, never decides pass or fail.
#   tests/bench/bench_webhook.sh [creates-per-phase]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-500}
BIN=${KUBE_BIN:-$ROOT/build}/apiserver/kube-apiserver
[[ -x "$BIN" ]] || { echo "build first (cmake --build build)"; exit 1; }
W=$(mktemp -d /tmp/kube-bench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done; sleep 0.3; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/ca.key" -out "$W/ca.crt" -days 1 -subj /CN=bench-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$W/wh.key" -out "$W/wh.csr" -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$W/ext"
openssl x509 -req -in "$W/wh.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" -CAcreateserial -out "$W/wh.crt" -days 1 \
  -extfile "$W/ext" 2>/dev/null

API_PORT=$(port)
WH_PORT=$(port)
taskset -c 0 "$BIN" --insecure-bind-address=127.0.0.1 --insecure-port="$API_PORT" --secure-port=0 \
  --data-dir="$W/data" >"$W/api.log" 2>&1 &
PIDS+=($!)
taskset -c 1 python3 "$ROOT/tests/integration/webhook_server.py" "$WH_PORT" "$W/wh.crt" "$W/wh.key" "$W/wh.log" \
  >"$W/wh.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 100); do curl -fsk "https://127.0.0.1:$WH_PORT/stats" >/dev/null 2>&1 && break; sleep 0.1; done

echo "# admission webhook latency benchmark"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# apiserver on core 0; client and webhook server (Python, TLS, keep-alive) on core 1"
echo "# $N sequential ConfigMap creates per phase, one client connection"
taskset -c 1 python3 - "$API_PORT" "$WH_PORT" "$W/ca.crt" "$N" <<'PY'
import base64, http.client, json, ssl, statistics, sys, time
api_port, wh_port, ca, n = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", api_port)

def call(method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:300]!r}")
    return data

def phase(tag):
    lat = []
    for i in range(n):
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{tag}-{i}"}, "data": {"k": "v" * 200}}
        t0 = time.perf_counter()
        call("POST", "/api/v1/namespaces/default/configmaps", cm)
        lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    return lat

def stats():
    ctx = ssl.create_default_context(cafile=ca)
    c = http.client.HTTPSConnection("127.0.0.1", wh_port, context=ctx)
    c.request("GET", "/stats")
    return json.loads(c.getresponse().read())

def show(name, lat):
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print(f"{name:<28} mean {statistics.mean(lat):7.3f} ms   p50 {p(0.5):7.3f} ms   p99 {p(0.99):7.3f} ms")

phase("warm")
base = phase("plain")
ca_b64 = base64.b64encode(open(ca, "rb").read()).decode()
call("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
    "metadata": {"name": "noop"},
    "webhooks": [{"name": "noop.bench.example.com",
                  "clientConfig": {"url": f"https://127.0.0.1:{wh_port}/noop", "caBundle": ca_b64},
                  "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                             "resources": ["configmaps"]}],
                  "sideEffects": "None", "admissionReviewVersions": ["v1"]}]})
time.sleep(0.5)
phase("hookwarm")
before = stats()
hooked = phase("hooked")
after = stats()
calls = after["count"] - before["count"]
own = (after["seconds"] - before["seconds"]) / max(1, calls) * 1000
show("create, no webhook", base)
show("create, no-op webhook", hooked)
print(f"{'added per write':<28} mean {statistics.mean(hooked) - statistics.mean(base):7.3f} ms   "
      f"p50 {hooked[len(hooked)//2] - base[len(base)//2]:7.3f} ms")
print(f"{'webhook server own time':<28} mean {own:7.3f} ms over {calls} calls (parse, answer; Python), "
      f"{after['connections'] - before['connections'] - 1} new connections")
PY
