#!/usr/bin/env bash
# test_stream_proxy.sh - the API server's proxy to kubelets (apiserver/
# proxy.c) through the real kubectl: kl_stream_server plays the kubelet
# (HTTPS with a self-signed certificate, registered as Node fake-node with
# InternalIP 127.0.0.1 and its port in daemonEndpoints), pods bound to it
# are created directly.  Covers exec (WebSocket and SPDY, exit codes,
# stdin, exec -it through a pseudo-terminal), attach, logs and logs -f,
# port-forward (both transports), nodes/NAME/proxy/..., and upstream's
# errors: a pod without a node, a node without an address, an unknown node
# or container, a kubelet that does not answer.  Only loopback is used.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVER=${STREAM_SERVER:-$KUBE_BIN/kubelet/server/kl_stream_server}
[[ -x $SERVER ]] || fail "no $SERVER"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3

openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=fake-node -days 1 \
  -keyout "$WORK/kubelet.key" -out "$WORK/kubelet.crt" >/dev/null 2>&1
"$SERVER" --tls-cert "$WORK/kubelet.crt" --tls-key "$WORK/kubelet.key" --port-file "$WORK/kport" \
  2>"$WORK/kubelet.log" &
PIDS+=($!)
for i in $(seq 1 100); do [[ -s $WORK/kport ]] && break; sleep 0.1; done
KPORT=$(cat "$WORK/kport")
start_apiserver
# pods run as the default service account (no controller-manager here)
kube create sa default >/dev/null
k() { timeout 60 kubectl --cache-dir "$WORK/kcache" "$@"; }

node() { # NAME PORT [ADDRESS]
  local addrs='[]'
  [[ -n ${3:-} ]] && addrs="[{\"type\":\"InternalIP\",\"address\":\"$3\"}]"
  k create -f - >/dev/null <<JSON
{"apiVersion":"v1","kind":"Node","metadata":{"name":"$1"}}
JSON
  k patch node "$1" --subresource=status --type=merge \
    -p "{\"status\":{\"addresses\":$addrs,\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":$2}}}}" >/dev/null
}
pod() { # NAME NODE [CONTAINERS...]
  local cs="" c
  for c in "${@:3}"; do cs+="${cs:+,}{\"name\":\"$c\",\"image\":\"busybox\"}"; done
  [[ -n $cs ]] || cs='{"name":"main","image":"busybox"}'
  k create -f - >/dev/null <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$1"},"spec":{${2:+\"nodeName\":\"$2\",}"containers":[$cs]}}
JSON
  # no kubelet writes status here: port-forward wants a Running pod
  k patch pod "$1" --subresource=status --type=merge -p '{"status":{"phase":"Running"}}' >/dev/null
}
node fake-node "$KPORT" 127.0.0.1
pod box fake-node

# --- exec through the API server ---
expect_eq "exec through the API server to the kubelet" "hi" "$(k exec box -- echo hi)"
expect_match "the kubelet saw its own path over HTTPS" 'GET /exec/default/box/main\?' "$(cat "$WORK/kubelet.log")"
expect_match "the WebSocket upgrade was relayed" 'stream v5\.channel\.k8s\.io over WebSocket' "$(cat "$WORK/kubelet.log")"
set +e
OUT=$(k exec box -- sh -c 'echo out; echo err >&2; exit 7' 2>"$WORK/err"); RC=$?
set -e
expect_eq "exit code through the proxy" 7 "$RC"
expect_eq "stdout through the proxy" "out" "$OUT"
expect_match "stderr through the proxy" '^err$' "$(cat "$WORK/err")"
expect_eq "stdin through the proxy" "hello" "$(echo hello | k exec -i box -- cat)"
expect_eq "2 MB of output through the proxy" 2000000 "$(k exec box -- head -c 2000000 /dev/zero | wc -c)"
OUT=$($PY "$HERE/stream_tty.py" 31 101 'stty size' 'exit 3' -- kubectl --cache-dir "$WORK/kcache" exec -it box -- sh)
expect_match "exec -it: terminal size through the proxy" '31 101' "$OUT"
expect_match "exec -it: exit status" 'EXIT 3' "$OUT"
expect_eq "attach through the proxy" "attached" "$(echo 'echo attached' | k attach -i box 2>/dev/null | tr -d '\r')"
set +e
OUT=$(KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false k exec box -- sh -c 'echo spdy; exit 2'); RC=$?
set -e
expect_eq "SPDY exec through the proxy: output" "spdy" "$OUT"
expect_eq "SPDY exec through the proxy: exit code" 2 "$RC"

# --- logs ---
expect_eq "logs" "$(printf 'line 1\nline 2\nline 3')" "$(k logs box)"
expect_match "the kubelet got the container log path" 'GET /containerLogs/default/box/main' "$(cat "$WORK/kubelet.log")"
timeout 60 kubectl --cache-dir "$WORK/kcache" logs -f box >"$WORK/follow.out" 2>&1 &
FP=$!
PIDS+=($FP)
wait_until "logs -f streams as lines arrive" 100 grep -q '^line 5$' "$WORK/follow.out"
kill "$FP"

# --- port-forward ---
$PY "$HERE/stream_echo.py" serve "$WORK/echo-port" &
PIDS+=($!)
for i in $(seq 1 100); do [[ -s $WORK/echo-port ]] && break; sleep 0.1; done
EP=$(cat "$WORK/echo-port")
pf() { # NAME ARGS...
  local name=$1; shift
  timeout 120 kubectl --cache-dir "$WORK/kcache" port-forward pod/box "$@" >"$WORK/$name.out" 2>&1 &
  PF_PID=$!
  PIDS+=($PF_PID)
  for i in $(seq 1 150); do grep -q 'Forwarding from 127' "$WORK/$name.out" && break; sleep 0.1; done
  LP=$(grep -o 'Forwarding from 127.0.0.1:[0-9]*' "$WORK/$name.out" | head -1 | cut -d: -f2)
  [[ -n $LP ]] || { cat "$WORK/$name.out"; fail "port-forward $name did not start"; }
}
pf ws ":$EP"
expect_eq "port-forward (WebSocket) through the proxy" "ok 3" "$($PY "$HERE/stream_echo.py" ask "$LP" 3 100000)"
kill "$PF_PID"
KUBECTL_PORT_FORWARD_WEBSOCKETS=false pf spdy ":$EP"
expect_eq "port-forward (SPDY) through the proxy" "ok 2" "$($PY "$HERE/stream_echo.py" ask "$LP" 2 1000)"
kill "$PF_PID"
expect_match "the kubelet saw port-forward tunnelled in WebSocket" 'port-forward over websocket' "$(cat "$WORK/kubelet.log")"
expect_match "the kubelet saw port-forward over plain SPDY" 'port-forward over spdy' "$(cat "$WORK/kubelet.log")"

# --- nodes/NAME/proxy ---
expect_match "nodes/NAME/proxy/stats/summary" '"nodeName":"fake-node"' "$(k get --raw /api/v1/nodes/fake-node/proxy/stats/summary)"
expect_eq "nodes/NAME/proxy/healthz" "ok" "$(k get --raw /api/v1/nodes/fake-node/proxy/healthz)"

# --- errors ---
pod floating ""
expect_match "exec on a pod without a node" 'pod floating does not have a host assigned' "$(k exec floating -- true 2>&1 || true)"
expect_eq "logs of a pod without a node are empty" "" "$(k logs floating 2>&1)"
node bare-node "$KPORT"
pod onbare bare-node
expect_match "a node without an address" 'no preferred addresses found' "$(k exec onbare -- true 2>&1 || true)"
pod lost gone-node
expect_match "a node that does not exist" 'nodes "gone-node" not found' "$(k exec lost -- true 2>&1 || true)"
expect_match "a container that is not in the pod" 'container nope is not valid for pod box' \
  "$(k exec box -c nope -- true 2>&1 || true)"
pod two fake-node a b
expect_match "logs of a two-container pod need a container" 'a container name must be specified for pod two, choose one of: \[a b\]' \
  "$(k get --raw /api/v1/namespaces/default/pods/two/log 2>&1 || true)"
expect_match "a pod that does not exist" 'pods "ghost" not found' "$(k logs ghost 2>&1 || true)"
CLOSED=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
node dead-node "$CLOSED" 127.0.0.1
pod ondead dead-node
expect_match "a kubelet that does not answer" 'error trying to reach service' "$(k logs ondead 2>&1 || true)"
expect_match "discovery lists the proxied subresources" 'pods/exec.*pods/log.*pods/portforward|pods/attach' \
  "$(k get --raw /api/v1 | tr ',' '\n' | grep -o '"pods/[a-z]*"' | sort | tr '\n' ' ')"
done_testing
