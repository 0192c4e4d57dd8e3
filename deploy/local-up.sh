#!/usr/bin/env bash
# Builds the tree and starts a one-node local cluster on loopback with
# embedded SQLite storage, then prints how to use it with kubectl.
#   deploy/local-up.sh          build and (re)start
#   deploy/local-up.sh down     stop it
# State lives under _out/local (override with LOCAL_DIR).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${LOCAL_DIR:-$ROOT/_out/local}
PORT=${API_PORT:-8080}
BUILD=$ROOT/build

stop_all() {
  for p in "$DIR"/*.pid; do
    [[ -e "$p" ]] || continue
    kill "$(cat "$p")" 2>/dev/null || true
    rm -f "$p"
  done
}

if [[ "${1:-}" == "down" ]]; then stop_all; echo "local cluster stopped"; exit 0; fi

"$ROOT/deploy/install-deps.sh"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j2 >/dev/null

mkdir -p "$DIR/log"
stop_all
sleep 0.5

start() { # name binary args...
  local name=$1; shift
  nohup "$@" >"$DIR/log/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
}

start kube-apiserver "$BUILD/apiserver/kube-apiserver" \
  --insecure-bind-address=127.0.0.1 --insecure-port="$PORT" \
  --data-dir="$DIR/data" --service-cluster-ip-range=10.96.0.0/12
for i in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
  [[ $i == 100 ]] && { echo "kube-apiserver did not become ready; see $DIR/log/kube-apiserver.log" >&2; exit 1; }
done

cat >"$DIR/kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: http://127.0.0.1:$PORT
users:
- name: admin
  user: {}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
KCFG

WRITE_KUBECONFIG=$DIR/kubeconfig
if [[ -x "$BUILD/scheduler/kube-scheduler" ]]; then
  start kube-scheduler "$BUILD/scheduler/kube-scheduler" --kubeconfig="$WRITE_KUBECONFIG" \
    --bind-address=127.0.0.1 --secure-port=10259
fi
if [[ -x "$BUILD/controller-manager/kube-controller-manager" ]]; then
  start kube-controller-manager "$BUILD/controller-manager/kube-controller-manager" \
    --kubeconfig="$WRITE_KUBECONFIG" --bind-address=127.0.0.1 --secure-port=10257 \
    --allocate-node-cidrs=true --cluster-cidr=10.244.0.0/16
fi

cat <<MSG
Local cluster is up (logs in $DIR/log, data in $DIR/data).

  export KUBECONFIG=$DIR/kubeconfig
  kubectl get namespaces
  kubectl create deployment web --image=nginx --replicas=2
  kubectl get all -A

Or script it with curl:  curl http://127.0.0.1:$PORT/api/v1/namespaces
Stop it with:            deploy/local-up.sh down
MSG
