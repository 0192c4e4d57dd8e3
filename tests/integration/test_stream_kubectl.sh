#!/usr/bin/env bash
# test_stream_kubectl.sh - the streaming libraries (kubelet/server) against
# the real kubectl: kl_stream_server plays the API server for one made-up
# Running pod and serves exec (commands run here), attach and port-forward
# (to a loopback echo server).  Covers the WebSocket channel protocol v5
# (exit codes, stdout/stderr apart, stdin and its close, exec -it through a
# pseudo-terminal with its size, large output), port-forward over SPDY in
# WebSocket (several connections, half-close, a large transfer, a refused
# port), and the SPDY/3.1 fallbacks of both.  Only loopback is used.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVER=${STREAM_SERVER:-$KUBE_BIN/kubelet/server/kl_stream_server}
[[ -x $SERVER ]] || fail "no $SERVER"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3

"$SERVER" --port-file "$WORK/port" 2>"$WORK/stream-server.log" &
PIDS+=($!)
for i in $(seq 1 100); do [[ -s $WORK/port ]] && break; sleep 0.1; done
S=http://127.0.0.1:$(cat "$WORK/port")
k() { timeout 60 kubectl --cache-dir "$WORK/kcache" -s "$S" "$@"; }
log_since() { tail -c +"$1" "$WORK/stream-server.log"; }
mark() { stat -c %s "$WORK/stream-server.log"; }

# --- exec over WebSocket (v5.channel.k8s.io) ---
M=$(mark)
expect_eq "exec echo" "hi" "$(k exec foo -- echo hi)"
expect_match "kubectl chose the v5 channel protocol over WebSocket" 'stream v5\.channel\.k8s\.io over WebSocket' "$(log_since "$M")"

set +e
OUT=$(k exec foo -- sh -c 'echo out; echo err >&2; exit 3' 2>"$WORK/err"); RC=$?
set -e
expect_eq "non-zero exit code comes through" 3 "$RC"
expect_eq "stdout on its channel" "out" "$OUT"
expect_match "stderr on its channel" '^err$' "$(cat "$WORK/err")"
expect_match "kubectl reports the exit code" 'command terminated with exit code 3' "$(cat "$WORK/err")"
expect_eq "stdin reaches the process and its close ends it" "hello" "$(echo hello | k exec -i foo -- cat)"
expect_eq "3 MB of output arrive whole" 3000000 "$(k exec foo -- head -c 3000000 /dev/zero | wc -c)"
expect_eq "2 MB of input arrive whole" 2000000 "$(head -c 2000000 /dev/zero | k exec -i foo -- wc -c | tr -d ' ')"
set +e
OUT=$(k exec foo -- /nonexistent/cmd 2>&1); RC=$?
set -e
expect_eq "a command that cannot run exits 127" 127 "$RC"

# --- exec -it through a pseudo-terminal ---
OUT=$($PY "$HERE/stream_tty.py" 30 100 'echo $((6*7)); stty size; tty' 'exit 5' -- \
  kubectl --cache-dir "$WORK/kcache" -s "$S" exec -it foo -- sh)
expect_match "interactive shell answers" '(^|[^*])42' "$OUT"
expect_match "the terminal size reaches the process (resize)" '30 100' "$OUT"
expect_match "the process runs on a terminal" '/dev/pts/' "$OUT"
expect_match "exit status of the interactive shell" 'EXIT 5' "$OUT"

# --- port-forward over WebSocket (SPDY/3.1+portforward.k8s.io) ---
$PY "$HERE/stream_echo.py" serve "$WORK/echo-port" &
PIDS+=($!)
for i in $(seq 1 100); do [[ -s $WORK/echo-port ]] && break; sleep 0.1; done
EP=$(cat "$WORK/echo-port")
# pf NAME ARGS...: starts kubectl port-forward, waits for its local port (LP)
pf() {
  local name=$1; shift
  timeout 120 kubectl --cache-dir "$WORK/kcache" -s "$S" port-forward pod/foo "$@" >"$WORK/$name.out" 2>&1 &
  PIDS+=($!)
  PF_PID=$!
  for i in $(seq 1 150); do grep -q 'Forwarding from 127' "$WORK/$name.out" && break; sleep 0.1; done
  LP=$(grep -o 'Forwarding from 127.0.0.1:[0-9]*' "$WORK/$name.out" | head -1 | cut -d: -f2)
  [[ -n $LP ]] || { cat "$WORK/$name.out"; fail "port-forward $name did not start"; }
}
M=$(mark)
pf ws ":$EP"
expect_match "kubectl tunnels SPDY in a WebSocket" 'port-forward over websocket' "$(log_since "$M")"
expect_eq "five forwarded connections echo with half-close" "ok 5" "$($PY "$HERE/stream_echo.py" ask "$LP" 5 1000)"
expect_eq "a 4 MB transfer through the tunnel" "ok 1" "$($PY "$HERE/stream_echo.py" ask "$LP" 1 4000000)"
kill "$PF_PID"

CLOSED=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pf refused ":$CLOSED"
$PY "$HERE/stream_echo.py" ask "$LP" 1 10 >/dev/null 2>&1 || true
wait_until "a refused port is reported by kubectl" 50 grep -q "error forwarding port $CLOSED" "$WORK/refused.out"
kill "$PF_PID" 2>/dev/null || true

# --- the SPDY/3.1 fallbacks ---
export KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false KUBECTL_PORT_FORWARD_WEBSOCKETS=false
M=$(mark)
set +e
OUT=$(k exec foo -- sh -c 'echo out; echo err >&2; exit 4' 2>"$WORK/err"); RC=$?
set -e
expect_match "exec falls back to SPDY with v4.channel.k8s.io" 'stream v4\.channel\.k8s\.io over SPDY' "$(log_since "$M")"
expect_eq "SPDY: exit code" 4 "$RC"
expect_eq "SPDY: stdout" "out" "$OUT"
expect_match "SPDY: stderr" '^err$' "$(cat "$WORK/err")"
expect_eq "SPDY: stdin and its close" "hello" "$(echo hello | k exec -i foo -- cat)"
expect_eq "SPDY: 3 MB of output" 3000000 "$(k exec foo -- head -c 3000000 /dev/zero | wc -c)"
OUT=$($PY "$HERE/stream_tty.py" 33 120 'stty size' 'exit 6' -- \
  kubectl --cache-dir "$WORK/kcache" -s "$S" exec -it foo -- sh)
expect_match "SPDY: terminal size through the resize stream" '33 120' "$OUT"
expect_match "SPDY: exit status of the interactive shell" 'EXIT 6' "$OUT"
M=$(mark)
pf spdy ":$EP"
expect_match "port-forward over plain SPDY" 'port-forward over spdy' "$(log_since "$M")"
expect_eq "SPDY: forwarded connections echo" "ok 3" "$($PY "$HERE/stream_echo.py" ask "$LP" 3 70000)"
kill "$PF_PID"
unset KUBECTL_REMOTE_COMMAND_WEBSOCKETS KUBECTL_PORT_FORWARD_WEBSOCKETS

# --- attach (the stand-in's main process is a shell) ---
expect_eq "attach with stdin" "attached" "$(echo 'echo attached' | k attach -i foo 2>/dev/null | tr -d '\r')"
done_testing
