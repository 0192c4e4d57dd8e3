#!/usr/bin/env bash
# The endpoints controller's write that lost a race with its own cache
# (issue: a Service kept empty Endpoints forever).  The controller-manager
# talks to the API server through a loopback proxy that holds back every
# event of the Endpoints watch for $RACE_DELAY seconds, so the race is not
# left to chance:
#   1. a Service with a selector appears; the controller POSTs its empty
#      Endpoints, whose ADDED event the proxy holds back;
#   2. a matching pod becomes Ready with an IP; the controller, whose cache
#      still has no Endpoints, POSTs again and is answered AlreadyExists;
#   3. that answer must bring the key back (rate limited) until the cache
#      holds the object, and the next sync PUTs the address.
# The endpointslice controller runs beside it with its slice watch held
# back the same way: after it POSTs the pod's slice, a second pod update
# makes it sync again on a cache without that slice, and it must wait for
# its own creation instead of creating a second slice for the same pod
# (upstream's EndpointSliceTracker); each round checks there is one.
# Repeated for $RACE_ITERATIONS Services (20, $RACE_PARALLEL at a time);
# any miss fails the test, and each round also checks from the
# controller's log that its AlreadyExists really happened, so the test
# cannot pass without exercising the race.  The time to recover is bounded
# by the rate limiter's backoff (5 ms doubling per failed attempt) once
# the cache has caught up.
source "$(dirname "$0")/lib.sh"
RACE_DELAY=${RACE_DELAY:-3}
RACE_ITERATIONS=${RACE_ITERATIONS:-20}
RACE_PARALLEL=${RACE_PARALLEL:-5}

start_apiserver

# ---- the delaying proxy ----
PROXY_PORT=$(free_port)
python3 -u - "$PROXY_PORT" "$API_PORT" "$RACE_DELAY" /api/v1/endpoints,/apis/discovery.k8s.io/v1/endpointslices <<'PY' >>"$WORK/proxy.log" 2>&1 &
import http.client, http.server, queue, sys, threading, time, urllib.parse
port, upstream, delay, delayed_paths = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4].split(",")
HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "expect"}

class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass

    def relay(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        up = http.client.HTTPConnection("127.0.0.1", upstream, timeout=3600)
        up.request(self.command, self.path, body=body,
                   headers={k: v for k, v in self.headers.items() if k.lower() not in HOP})
        resp = up.getresponse()
        url = urllib.parse.urlsplit(self.path)
        watch = urllib.parse.parse_qs(url.query).get("watch", [""])[0] in ("1", "true")
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP: self.send_header(k, v)
        if not watch:
            data = resp.read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            up.close()
            return
        self.close_connection = True
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.stream(resp, delay if url.path in delayed_paths else 0.0)
        up.close()

    def stream(self, resp, hold):
        # Lines keep their order; each leaves `hold` seconds after it came.
        lines = queue.Queue()
        def reader():
            try:
                for line in iter(resp.readline, b""): lines.put((time.monotonic() + hold, line))
            except Exception: pass
            lines.put((0, None))
        threading.Thread(target=reader, daemon=True).start()
        try:
            while True:
                due, line = lines.get()
                if line is None: break
                time.sleep(max(0.0, due - time.monotonic()))
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

Server(("127.0.0.1", port), Proxy).serve_forever()
PY
PIDS+=("$!")
wait_ready "http://127.0.0.1:$PROXY_PORT/readyz"
sed "s|$API_URL|http://127.0.0.1:$PROXY_PORT|" "$WORK/kubeconfig" >"$WORK/proxy.kubeconfig"

"$KUBE_BIN/controller-manager/kube-controller-manager" --kubeconfig="$WORK/proxy.kubeconfig" --secure-port=0 \
  --leader-elect=false --controllers=endpoints,endpointslice,serviceaccount --v=2 >>"$WORK/controller-manager.log" 2>&1 &
PIDS+=("$!")
wait_until "controllers running (default ServiceAccount made)" 150 kube get serviceaccount default

# race NAME: how many times the controller's POST of NAME's Endpoints was
# answered AlreadyExists (the log line of a write that was not done).
raced() { grep -c "POST /api/v1/namespaces/default/endpoints: 409 AlreadyExists .*\"$1\"" "$WORK/controller-manager.log" || true; }

# api METHOD PATH [BODY]: curl straight to the API server (no kubectl
# start-up time inside the race window); fails on HTTP errors.
api() {
  curl -fsS -X "$1" -H 'Content-Type: application/json' "$API_URL$2" ${3:+-d "$3"}
}

# slices_of NAME: the address lists of NAME's EndpointSlices, one per line.
slices_of() {
  api GET "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io/service-name=$1" |
    python3 -c 'import json,sys; [print(",".join(a for e in s.get("endpoints") or [] for a in e["addresses"])) for s in json.load(sys.stdin)["items"]]'
}
# slices_one NAME IP: after the held-back events have all arrived, NAME
# has exactly one slice, listing IP.
slices_one() {
  local n
  for n in $(seq 1 $(( RACE_DELAY * 10 + 20 ))); do [[ "$(slices_of "$1")" == "$2" ]] && break; sleep 0.1; done
  sleep "$RACE_DELAY"
  [[ "$(slices_of "$1")" == "$2" ]]
}

# one_round I: the three steps for Service race-I; the outcome goes to
# $WORK/race-I.result ("ok SECONDS" or the reason it failed).  Rounds run
# in parallel, each on its own Service, so they do not share a cause.
one_round() {
  local i=$1 name=race-$1 ip=10.244.77.$1 out=$WORK/race-$1.result n start took
  local ns=/api/v1/namespaces/default
  api POST $ns/services "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"$name\"},
    \"spec\":{\"selector\":{\"app\":\"$name\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}}" >/dev/null ||
    { echo "service not created" >"$out"; return; }
  # 1. the empty Endpoints exist on the server; the controller's cache is
  #    told only RACE_DELAY seconds later
  for n in $(seq 1 200); do api GET $ns/endpoints/$name >/dev/null 2>&1 && break; sleep 0.05; done
  [[ $n -lt 200 ]] || { echo "empty Endpoints never created" >"$out"; return; }
  # 2. the pod becomes Ready with an IP at once
  api POST $ns/pods "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$name\",\"labels\":{\"app\":\"$name\"}},
    \"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1.25\",\"ports\":[{\"containerPort\":8080}]}]}}" >/dev/null &&
    curl -fsS -X PATCH -H 'Content-Type: application/merge-patch+json' "$API_URL$ns/pods/$name/status" \
      -d "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$ip\",\"podIPs\":[{\"ip\":\"$ip\"}],
          \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}" >/dev/null ||
    { echo "pod not made Ready" >"$out"; return; }
  start=$(date +%s.%N)
  # a second sync of the slice controller while its first slice is held back
  sleep 0.5
  curl -fsS -X PATCH -H 'Content-Type: application/merge-patch+json' "$API_URL$ns/pods/$name" \
    -d '{"metadata":{"annotations":{"touched":"1"}}}' >/dev/null || { echo "pod not touched" >"$out"; return; }
  # 3. the Endpoints reach the pod's address (bounded: 60 s)
  for n in $(seq 1 300); do
    api GET $ns/endpoints/$name 2>/dev/null | grep -q "\"ip\":\"$ip\"" && break
    sleep 0.2
  done
  took=$(python3 -c "import time; print('%.1f' % (time.time() - $start))")
  if [[ $n -ge 300 ]]; then
    echo "the Endpoints never reached $ip: $(api GET $ns/endpoints/$name)" >"$out"
  elif ! slices_one "$name" "$ip"; then
    echo "EndpointSlices of $name: wanted one listing $ip, got: $(slices_of "$name")" >"$out"
  elif [[ $(raced "$name") -eq 0 ]]; then
    echo "the race was not reproduced (no AlreadyExists): raise RACE_DELAY" >"$out"
  else
    echo "ok $took" >"$out"
  fi
}

for batch in $(seq 0 $(( (RACE_ITERATIONS - 1) / RACE_PARALLEL ))); do
  rounds=()
  for j in $(seq 1 "$RACE_PARALLEL"); do
    i=$(( batch * RACE_PARALLEL + j ))
    [[ $i -le $RACE_ITERATIONS ]] || continue
    one_round "$i" &
    rounds+=("$!")
  done
  wait "${rounds[@]}"
done
for i in $(seq 1 "$RACE_ITERATIONS"); do
  r=$(cat "$WORK/race-$i.result" 2>/dev/null || echo "no result")
  if [[ $r == ok* ]]; then
    pass "[$i] a POST answered AlreadyExists, the Endpoints reached the address ${r#ok } s after the pod was Ready, one EndpointSlice"
  else
    fail "[$i] $r"
  fi
done
done_testing
