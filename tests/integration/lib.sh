# tests/integration/lib.sh - shared by every integration test (sourced).
# Starts the real binaries on loopback ports with a private data directory
# and drives them with the real kubectl; everything is torn down on exit.
# Style: upstream's test/cmd: a command, then assertions on its output.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KUBE_BIN=${KUBE_BIN:-$ROOT/build}
export PATH="$ROOT/_out/tools/bin:$PATH"
WORK=$(mktemp -d /tmp/kube-it.XXXXXX)
PIDS=()
CHECKS=0

cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ $rc -ne 0 ]]; then
    echo "--- failed; server logs:"
    for f in "$WORK"/*.log; do [[ -e "$f" ]] && { echo "## $f"; tail -30 "$f"; }; done
    # KUBE_IT_KEEP=1: the whole work directory (logs, data) stays for a look
    [[ -n "${KUBE_IT_KEEP:-}" ]] && { echo "--- kept: $WORK"; exit $rc; }
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
# a test stopped by a signal (timeout(1) sends TERM) still cleans up
trap 'exit 143' TERM
trap 'exit 130' INT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_apiserver [extra flags...]: sets API_PORT, API_URL, API_PID, KUBECONFIG
start_apiserver() {
  API_PORT=${API_PORT:-$(free_port)}
  API_URL=http://127.0.0.1:$API_PORT
  "$KUBE_BIN/apiserver/kube-apiserver" --insecure-bind-address=127.0.0.1 \
    --insecure-port="$API_PORT" --secure-port=0 --data-dir="$WORK/data" "$@" \
    >>"$WORK/apiserver.log" 2>&1 &
  API_PID=$!
  PIDS+=("$API_PID")
  wait_ready "$API_URL/readyz"
  cat >"$WORK/kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: it
  cluster: {server: "$API_URL"}
users:
- name: it
  user: {}
contexts:
- name: it
  context: {cluster: it, user: it, namespace: default}
current-context: it
KCFG
  export KUBECONFIG=$WORK/kubeconfig
}

wait_ready() { # url [tries]
  local i
  for i in $(seq 1 "${2:-150}"); do
    curl -fsSk "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "not ready: $1" >&2
  return 1
}

# monitoring_token: a token of a service account bound to system:monitoring,
# for the /metrics of a secure port that delegates to the API server
monitoring_token() {
  kube get serviceaccount metrics-reader >/dev/null 2>&1 || {
    kube create serviceaccount metrics-reader >/dev/null
    kube create clusterrolebinding metrics-reader --clusterrole=system:monitoring \
      --serviceaccount=default:metrics-reader >/dev/null
  }
  kube create token metrics-reader
}

# kubectl with a private discovery cache
kube() { kubectl --cache-dir "$WORK/kcache" "$@"; }

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $*"; }

# expect_match DESC REGEX TEXT
expect_match() {
  if grep -Eq -- "$2" <<<"$3"; then pass "$1"; else
    echo "--- output was:"; echo "$3"; fail "$1: expected /$2/"; fi
}
expect_no_match() {
  if grep -Eq -- "$2" <<<"$3"; then echo "--- output was:"; echo "$3"; fail "$1: unexpected /$2/"; else pass "$1"; fi
}
expect_eq() { # DESC EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: expected [$2] got [$3]"; fi
}
# run a command that must succeed; prints its output into $OUT
ok() { # DESC cmd...
  local d=$1; shift
  if OUT=$("$@" 2>&1); then pass "$d"; else echo "--- output was:"; echo "$OUT"; fail "$d: exit $?"; fi
}
# run a command that must fail; output into $OUT
ko() {
  local d=$1; shift
  if OUT=$("$@" 2>&1); then echo "--- output was:"; echo "$OUT"; fail "$d: succeeded"; else pass "$d"; fi
}
# wait_until DESC TRIES cmd... : retry every 0.2 s
wait_until() {
  local d=$1 n=$2; shift 2
  local i
  for i in $(seq 1 "$n"); do
    if OUT=$("$@" 2>&1); then pass "$d"; return 0; fi
    sleep 0.2
  done
  echo "--- last output:"; echo "$OUT"; fail "$d: timed out"
}
done_testing() { echo "# $CHECKS checks passed"; }
