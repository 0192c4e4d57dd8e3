#!/usr/bin/env bash
# tests/e2e/test_local_up.sh - the README's first command on a fresh
# machine.  The machine is a stand-in: a container of the debootstrap'd
# Debian (debian:bookworm-slim, tests/e2e/images.sh) started with the
# settings of machine-notes (every capability but SYS_RESOURCE, no
# seccomp/AppArmor, the cgroup hierarchy read-write, /sys and the network
# sysctls writable, a volume for /var/lib/docker, an init that reaps
# orphans as a machine's does), with a copy of this
# checkout and nothing installed.  Inside it:
#   1. deploy/local-up.sh installs packages, builds, starts dockerd and the
#      cluster, and prints `export KUBECONFIG=...` then `kubectl get nodes`;
#   2. a Deployment of the echo image is reachable through its Service by
#      DNS name from another pod, with answers from both replicas, while the
#      safety routes are in place;
#   3. running local-up.sh again changes nothing;
#   4. `down` leaves no program, pod container, iptables rule, route or
#      interface of the cluster behind;
#   5. `up` again brings the same Deployment back (the data survived), and
#      `down` is clean again.
# Only the stand-in's own network namespace ever sees a pod or Service
# address; it reaches Debian's archive for apt-get (the default bridge).
# Downloaded packages are cached under _out/e2e/cache/apt (mounted into
# the stand-in), so a second run fetches little.
set -uo pipefail
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=images.sh
source "$E2E_DIR/images.sh"
ROOT=$E2E_ROOT
# the checkout copied into the stand-in (another worktree, to try a combination of branches)
SRC=${E2E_SRC:-$ROOT}
_rnd=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NAME=kube-e2e-local-$_rnd
VOL=$NAME-docker
WORK=$ROOT/_out/e2e/$NAME
mkdir -p "$WORK" "$E2E_CACHE/apt"
CHECKS=0
T0=$SECONDS

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { echo "FAIL: $*"; exit 1; }
pass() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $*"; }
expect_match() { if grep -Eq -- "$2" <<<"$3"; then pass "$1"; else echo "--- output was:"; echo "$3"; fail "$1: expected /$2/"; fi; }
expect_eq() { if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: expected [$2] got [$3]"; fi; }
in_box() { docker exec -i "$NAME" "$@"; }
kin() { docker exec -i "$NAME" kubectl --kubeconfig /root/kube/_out/local/kubeconfig "$@"; }
wait_until() { # DESC SECONDS cmd...
  local d=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until OUT=$("$@" 2>&1); do
    ((SECONDS < deadline)) || { echo "--- last output:"; echo "$OUT"; fail "$d: not within ${secs}s"; }
    sleep 2
  done
  pass "$d"
}

teardown() {
  local rc=$?
  trap - EXIT
  if ((rc != 0)) && docker inspect "$NAME" >/dev/null 2>&1; then
    mkdir -p "$WORK/logs"
    docker exec "$NAME" sh -c 'cd /root/kube/_out/local/log 2>/dev/null && tail -n 60 *.log' >"$WORK/logs/local-up.log" 2>&1
    log "logs of the stand-in's cluster: $WORK/logs/local-up.log"
    tail -n 40 "$WORK/logs/local-up.log"
  fi
  docker rm -f "$NAME" >/dev/null 2>&1
  docker volume rm "$VOL" >/dev/null 2>&1
  exit $rc
}
trap teardown EXIT
trap 'exit 143' TERM INT

for d in apiserver scheduler controller-manager kubelet kube-proxy; do
  if [[ ! -f "$SRC/$d/CMakeLists.txt" ]]; then
    echo "WAITING: $SRC has no $d/ (not merged yet): local-up.sh cannot bring up a node"
    exit 77
  fi
done
ensure_debian_base || fail "no debian:bookworm-slim image"
ensure_test_images || fail "building the test images failed"

log "starting the stand-in machine $NAME"
docker run -d --name "$NAME" --hostname kube-local --init \
  --cap-add ALL --cap-drop SYS_RESOURCE \
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  -v /sys/fs/cgroup:/sys/fs/cgroup:rw -v "$VOL:/var/lib/docker" \
  -v "$E2E_CACHE/apt:/var/cache/apt/archives" \
  debian:bookworm-slim sh -c 'mount -o remount,rw /sys; mount --bind /proc/sys/net /proc/sys/net;
    mount -o remount,rw,bind /proc/sys/net; exec sleep infinity' >/dev/null || fail "docker run"
# the machine's apt keeps what it downloads (for the cache above)
in_box sh -c 'rm -f /etc/apt/apt.conf.d/docker-clean; mkdir -p /root/kube' || fail "prepare"
tar -C "$SRC" --exclude=./build --exclude='./build-*' --exclude=./_out --exclude=./.git -c . |
  in_box tar -C /root/kube -x || fail "copying the checkout"
pass "a fresh Debian stand-in with a copy of the checkout"
in_box sh -c 'command -v cmake gcc docker kubectl' && fail "the stand-in is not fresh"

log "deploy/local-up.sh (packages, build, cluster)"
t=$SECONDS
if ! in_box env KUBE_DNS_UPSTREAM=127.0.0.1:1 timeout 1800 bash -c 'cd /root/kube && deploy/local-up.sh' >"$WORK/up1.log" 2>&1; then
  cat "$WORK/up1.log"; fail "deploy/local-up.sh failed"
fi
up=$(cat "$WORK/up1.log")
echo "$up" | sed 's/^/    /'
pass "deploy/local-up.sh succeeded in $((SECONDS - t))s"
expect_match "progress shown step by step" '^\[10/10\] waiting for node' "$up"
expect_match "it prints the export line then kubectl get nodes" \
  'export KUBECONFIG=/root/kube/_out/local/kubeconfig' "$up"
[[ "$(grep -A1 '^  export KUBECONFIG=' <<<"$up" | tail -1)" == "  kubectl get nodes" ]] || fail "no 'kubectl get nodes' after the export line"
pass "the next line is kubectl get nodes"

docker cp "$(command -v kubectl)" "$NAME:/usr/local/bin/kubectl" >/dev/null || fail "kubectl into the stand-in"
docker save "$BUSYBOX_IMAGE" "$ECHO_IMAGE_1" | in_box docker load >/dev/null || fail "loading the test images"
OUT=$(kin get nodes -o wide) || fail "kubectl get nodes: $OUT"
expect_match "the node is Ready" '^kube-local +Ready ' "$OUT"

demo() { # the Deployment, its Service and a client pod asking it by name
  kin create namespace demo >/dev/null 2>&1
  # no automounted API credentials while the API server issues no tokens
  kin -n demo create --raw /api/v1/namespaces/demo/serviceaccounts/default/token -f - >/dev/null 2>&1 <<'JSON' ||
{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}
JSON
    { wait_until "default ServiceAccount" 60 kin -n demo get sa default
      kin -n demo patch sa default -p '{"automountServiceAccountToken": false}' >/dev/null; }
  kin -n demo create deployment web --image="$ECHO_IMAGE_1" --replicas=2 --port=8080 >/dev/null 2>&1
  kin -n demo expose deployment web --port=80 --target-port=8080 >/dev/null 2>&1
  return 0
}
available() { [[ "$(kin -n demo get deploy web -o jsonpath='{.status.availableReplicas}')" == 2 ]]; }
ask_by_name() { # POD: 20 GETs of http://web.demo.svc.cluster.local from a one-shot pod
  kin -n demo delete pod "$1" --ignore-not-found >/dev/null 2>&1
  kin -n demo run "$1" --image="$BUSYBOX_IMAGE" --restart=Never --command -- sh -c \
    'i=0; while [ $i -lt 20 ]; do timeout 5 wget -q -O- http://web.demo.svc.cluster.local/ || echo FAILED; i=$((i+1)); done' >/dev/null || return 1
  local i phase=""
  for i in $(seq 1 60); do
    phase=$(kin -n demo get pod "$1" -o jsonpath='{.status.phase}')
    [[ "$phase" == Succeeded || "$phase" == Failed ]] && break
    sleep 2
  done
  OUT=$(kin -n demo logs "$1")
  [[ "$phase" == Succeeded ]]
}
both_backends() {
  local pods seen
  pods=$(kin -n demo get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort)
  seen=$(awk '{print $1}' <<<"$1" | grep -v FAILED | sort -u)
  [[ -n "$pods" && "$seen" == "$pods" ]]
}

demo
wait_until "Deployment web: 2 replicas available" 180 available
ask_by_name client1 || fail "client pod: $OUT"
both_backends "$OUT" || fail "not both replicas answered web.demo.svc.cluster.local: $OUT"
pass "both replicas answer through the Service by DNS name from another pod"
OUT=$(in_box ip route show type unreachable)
expect_match "safety route for the service range while pods run" '^unreachable 10\.96\.0\.0/12' "$OUT"
expect_match "safety route for the cluster CIDR" '^unreachable 10\.244\.0\.0/16' "$OUT"

log "deploy/local-up.sh again"
in_box bash -c 'cd /root/kube && deploy/local-up.sh' >"$WORK/up2.log" 2>&1 || { cat "$WORK/up2.log"; fail "second local-up.sh"; }
expect_match "a second run finds everything running" 'kubelet is already running' "$(cat "$WORK/up2.log")"
OUT=$(in_box ip route show type unreachable | wc -l)
expect_eq "no route added twice" 2 "$OUT"
available || fail "the Deployment suffered from the second run"
pass "the workload is untouched"

clean() { # nothing of the cluster is left in the stand-in
  local procs ctrs rules
  procs=$(in_box ps -eo stat=,comm= | awk '$1 !~ /^Z/ {print $2}' | grep -E '^(kube-apiserver|kube-scheduler|kube-controll|kubelet|kube-proxy)$' || true)
  [[ -z "$procs" ]] || { echo "programs still running: $procs"; return 1; }
  ctrs=$(in_box docker ps -aq --filter label=io.kubernetes.node.name=kube-local)
  [[ -z "$ctrs" ]] || { echo "pod containers left: $ctrs"; return 1; }
  rules=$(in_box sh -c 'iptables-legacy-save 2>/dev/null | grep -E "KUBE-|KUBELET-"' || true)
  [[ -z "$rules" ]] || { echo "iptables rules left: $rules"; return 1; }
  [[ -z "$(in_box ip route show type unreachable)" ]] || { echo "routes left"; return 1; }
  ! in_box ip link show cni0 >/dev/null 2>&1 || { echo "cni0 left"; return 1; }
  ! in_box ip link show nodelocaldns >/dev/null 2>&1 || { echo "nodelocaldns left"; return 1; }
  [[ -z "$(in_box sh -c 'grep " /root/kube/_out/local/" /proc/mounts')" ]] || { echo "mounts left"; return 1; }
}

log "deploy/local-up.sh down"
in_box bash -c 'cd /root/kube && deploy/local-up.sh down' >"$WORK/down1.log" 2>&1 || { cat "$WORK/down1.log"; fail "down"; }
sed 's/^/    /' "$WORK/down1.log"
OUT=$(clean 2>&1) || fail "after down: $OUT"
pass "down left no program, pod container, rule, route, bridge, interface or mount"
in_box docker info >/dev/null 2>&1 && fail "dockerd still runs although local-up started it"
pass "the dockerd local-up started is stopped too"

log "deploy/local-up.sh up again"
in_box bash -c 'cd /root/kube && deploy/local-up.sh' >"$WORK/up3.log" 2>&1 || { cat "$WORK/up3.log"; fail "up after down"; }
docker save "$BUSYBOX_IMAGE" "$ECHO_IMAGE_1" | in_box docker load >/dev/null
OUT=$(kin -n demo get deploy web -o name 2>&1)
expect_eq "the Deployment survived down/up" deployment.apps/web "$OUT"
wait_until "its 2 replicas run again" 180 available
ask_by_name client2 || fail "client pod after up: $OUT"
both_backends "$OUT" || fail "not both replicas answered after down/up: $OUT"
pass "the Service answers by name again"
in_box bash -c 'cd /root/kube && deploy/local-up.sh down' >"$WORK/down2.log" 2>&1 || { cat "$WORK/down2.log"; fail "second down"; }
OUT=$(clean 2>&1) || fail "after the second down: $OUT"
pass "the second down is clean too"
echo "# $CHECKS checks passed in $((SECONDS - T0))s"
