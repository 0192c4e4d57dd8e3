#!/usr/bin/env bash
# deploy/local-up.sh - a one-node cluster on this machine, in one command.
#
#   deploy/local-up.sh          install what is missing, build, start, wait, print how to use it
#   deploy/local-up.sh down     stop everything it started (and nothing else)
#   deploy/local-up.sh status   what is running
#
# Up: Debian packages (build dependencies, docker.io, iptables, iproute2),
# the build (build/), dockerd when no container engine answers, the safety
# routes, kube-apiserver (SQLite under $LOCAL_DIR/data, plain HTTP on
# 127.0.0.1:$API_PORT), the cluster configuration (deploy/cluster-config.sh:
# the kube-dns Service and what a node reads), kube-scheduler,
# kube-controller-manager, the kubelet and kube-proxy; then it waits until
# the node is Ready and the cluster DNS answers, and writes a kubeconfig.
# Everything listens on loopback only (the node's address is 127.0.0.1).
#
# Safety: before the first pod can start, `ip route add unreachable` for the
# service range and the cluster CIDR, so that a pod's packet to an address
# no rule handles never leaves the machine (the local bridge's pod range and
# kube-proxy's rules still win).  They are removed on `down`.
#
# Down: stops the programs by their recorded PIDs (kubelet first), removes
# the pods' containers (by the node's label), kube-proxy's rules and DNS
# interface (kube-proxy --cleanup), the kubelet's bridge, masquerade chain
# and mounts, the routes it added, and dockerd if it started it.  The data
# (API objects) stays: the next `up` brings the same workloads back.
# Running `up` twice is harmless: what runs is left running.
#
# Settings (environment): LOCAL_DIR (_out/local), API_PORT (8080),
# KUBE_DNS_UPSTREAM (where the cluster DNS forwards other names; default:
# this machine's resolv.conf), KUBE_SKIP_INSTALL=1 (no apt-get),
# KUBE_BUILD_DIR (build).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$(readlink -f "$0")")/lib/common.sh"
ROOT=$KUBE_SRC
[[ -n "$ROOT" ]] || die "local-up.sh runs from a checkout of the sources"
DIR=${LOCAL_DIR:-$ROOT/_out/local}
PORT=${API_PORT:-8080}
BUILD=${KUBE_BUILD_DIR:-$ROOT/build}
SERVER=http://127.0.0.1:$PORT
SERVICE_CIDR=$KUBE_SERVICE_CIDR_DEFAULT
CLUSTER_CIDR=$KUBE_CLUSTER_CIDR_DEFAULT
LOG=$DIR/log
RUN=$DIR/run
KUBECONFIG_FILE=$DIR/kubeconfig

pid_of() { [[ -s "$RUN/$1.pid" ]] && cat "$RUN/$1.pid"; }
# running NAME: its recorded PID is alive and still that program (a PID file
# that outlived a reboot must never make us signal somebody else's process)
running() {
  local p exe
  p=$(pid_of "$1") && kill -0 "$p" 2>/dev/null || return 1
  exe=$(readlink "/proc/$p/exe" 2>/dev/null) || return 1
  [[ "$(basename "${exe% (deleted)}")" == "$1" ]]
}

# start NAME ARGV...: runs a program in the background with its log, unless
# the one started last time still runs
start() {
  local name=$1; shift
  if running "$name"; then info "$name is already running (pid $(pid_of "$name"))"; return 0; fi
  echo "---- $(date -Is) $*" >>"$LOG/$name.log"
  setsid "$@" </dev/null >>"$LOG/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

# stop NAME: SIGTERM, up to 20 s, then SIGKILL
stop() {
  local name=$1 p
  p=$(pid_of "$name") || return 0
  if running "$name"; then
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    echo "stopped $name (pid $p)"
  fi
  rm -f "$RUN/$name.pid"
}

# ---- the safety net ----
add_route() { # CIDR: an unreachable route, recorded when this script added it
  if ip route show type unreachable | awk '{print $2}' | grep -qx "$1"; then return 0; fi
  ip route add unreachable "$1" || die "cannot add the route 'unreachable $1'"
  echo "$1" >>"$RUN/routes"
}
del_routes() {
  [[ -f "$RUN/routes" ]] || return 0
  local r
  while read -r r; do ip route del unreachable "$r" 2>/dev/null && echo "removed route unreachable $r" || true; done <"$RUN/routes"
  rm -f "$RUN/routes"
}

# ---- DNS check: one A query for kubernetes.default over UDP ----
# The cluster DNS address is bound on this machine (kube-proxy's dummy
# interface) and covered by the unreachable service route, so the query
# is delivered locally or refused: it cannot leave the machine.
dns_answers() {
  local q a rc
  [[ "$(ip -4 route get "$KUBE_CLUSTER_DNS_DEFAULT" 2>/dev/null)" == local* ]] || return 1
  q='\x4b\x55\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00'
  q+='\x0akubernetes\x07default\x03svc\x07cluster\x05local\x00\x00\x01\x00\x01'
  # one datagram: printf alone writes at each newline byte; dd with
  # iflag=fullblock writes the whole query at once
  a=$( (exec 3<>"/dev/udp/$KUBE_CLUSTER_DNS_DEFAULT/53" && printf "$q" | dd bs=512 count=1 iflag=fullblock status=none >&3 &&
    timeout 2 dd bs=512 count=1 <&3 2>/dev/null | od -An -tx1 -v) 2>/dev/null | tr -s ' \n' ' ')
  read -r -a a <<<"$a"
  ((${#a[@]} >= 12)) || return 1
  rc=$((0x${a[3]} & 15))
  [[ "${a[0]}${a[1]}" == 4b55 && $rc -eq 0 && $((0x${a[6]}${a[7]})) -ge 1 ]]
}

node_ready() {
  api_get "$SERVER" "/api/v1/nodes/$NODE" |
    jq -e '.status.conditions[]? | select(.type == "Ready" and .status == "True")' >/dev/null
}

cmd_status() {
  local n
  for n in dockerd kube-apiserver kube-scheduler kube-controller-manager kubelet kube-proxy; do
    if running "$n"; then echo "$n: running (pid $(pid_of "$n"))"; else echo "$n: not running"; fi
  done
}

cmd_down() {
  need_root "local-up.sh down"
  [[ -d "$RUN" ]] || { echo "nothing to stop ($RUN does not exist)"; return 0; }
  local node=""
  [[ -s "$RUN/node" ]] && node=$(cat "$RUN/node")
  stop kubelet
  stop kube-proxy
  stop kube-controller-manager
  stop kube-scheduler
  stop kube-apiserver
  if [[ -n "$node" ]] && docker_up; then
    local ids
    ids=$(docker ps -aq --filter "label=io.kubernetes.node.name=$node")
    if [[ -n "$ids" ]]; then
      docker rm -f $ids >/dev/null && echo "removed $(wc -w <<<"$ids") pod containers of node $node"
    fi
  fi
  if [[ -f "$RUN/kube-proxy.started" ]]; then
    "$BUILD/kube-proxy/kube-proxy" --cleanup >>"$LOG/kube-proxy.log" 2>&1 && echo "removed kube-proxy's rules"
    rm -f "$RUN/kube-proxy.started"
  fi
  if [[ -f "$RUN/kubelet.started" ]]; then
    cleanup_kubelet_network
    rm -f "$RUN/kubelet.started"
  fi
  del_routes
  if [[ -f "$RUN/dockerd.started" ]]; then stop dockerd; rm -f "$RUN/dockerd.started"; fi
  echo "local cluster stopped; data kept in $DIR/data (deploy/local-up.sh brings it back)"
}

# What the kubelet's pod networking leaves behind on purpose (it outlives
# kubelet restarts): the bridge, the masquerade chain (libiptc, so the
# legacy tables), host-gw routes (protocol 75), and volume mounts.
cleanup_kubelet_network() {
  local rule m
  while read -r rule; do
    [[ -n "$rule" ]] && iptables-legacy -t nat ${rule/#-A/-D} 2>/dev/null
  done < <(iptables-legacy -t nat -S POSTROUTING 2>/dev/null | grep -- '-j KUBELET-MASQ' || true)
  if iptables-legacy -t nat -S KUBELET-MASQ >/dev/null 2>&1; then
    iptables-legacy -t nat -F KUBELET-MASQ && iptables-legacy -t nat -X KUBELET-MASQ && echo "removed the kubelet's masquerade chain"
  fi
  ip link show cni0 >/dev/null 2>&1 && ip link del cni0 && echo "removed the bridge cni0"
  ip route show proto 75 | while read -r rule; do ip route del $rule 2>/dev/null || true; done
  { grep " $DIR/kubelet/" /proc/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" || true; done
  local cg=${KUBELET_CGROUP_ROOT:-}
  [[ -s "$RUN/cgroup-root" ]] && cg=$(cat "$RUN/cgroup-root")
  for m in /sys/fs/cgroup/*/"${cg#/}"/kubepods /sys/fs/cgroup/"${cg#/}"/kubepods; do
    [[ -d "$m" ]] && { find "$m" -depth -type d -exec rmdir {} \; 2>/dev/null || true; }
  done
  return 0
}

cmd_up() {
  need_root local-up.sh
  mkdir -p "$LOG" "$RUN" "$DIR/data"
  steps_total 10

  step "installing packages from Debian's archive (build dependencies, docker.io, iptables, iproute2)" "$LOG/install.log"
  if [[ -z "${KUBE_SKIP_INSTALL:-}" ]]; then
    "$KUBE_DEPLOY/install-deps.sh" --node >>"$LOG/install.log" 2>&1 || die "installing packages failed"
  fi

  step "building into $BUILD (first time: a few minutes)" "$LOG/build.log"
  {
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
      cmake --build "$BUILD" -j"$(nproc)" --target "${KUBE_PROGRAMS[@]}"
  } >>"$LOG/build.log" 2>&1 || die "the build failed"

  step "container runtime (dockerd)" "$LOG/dockerd.log"
  local cg
  cg=$(container_cgroup)
  if ! docker_up; then
    if have_systemd && systemctl list-unit-files docker.service >/dev/null 2>&1; then
      info "starting docker.service"
      systemctl start docker >>"$LOG/dockerd.log" 2>&1 || die "systemctl start docker failed"
    else
      info "no dockerd answers: starting one (stopped again by 'down')"
      # shellcheck disable=SC2046
      start dockerd dockerd $([[ -n "$cg" ]] && echo "--cgroup-parent=$cg/docker")
      touch "$RUN/dockerd.started"
    fi
    wait_for "dockerd to answer on /var/run/docker.sock" 60 docker_up || die "dockerd did not start"
  fi

  step "safety routes: unreachable $SERVICE_CIDR and $CLUSTER_CIDR"
  add_route "$SERVICE_CIDR"
  add_route "$CLUSTER_CIDR"

  step "kube-apiserver on $SERVER (data in $DIR/data)" "$LOG/kube-apiserver.log"
  start kube-apiserver "$BUILD/apiserver/kube-apiserver" --insecure-bind-address=127.0.0.1 --insecure-port="$PORT" \
    --data-dir="$DIR/data" --cert-dir="$DIR/pki" --service-cluster-ip-range="$SERVICE_CIDR"
  wait_for "kube-apiserver /readyz" 60 api_ready "$SERVER" || die "kube-apiserver did not become ready"
  write_kubeconfig "$KUBECONFIG_FILE" "$SERVER" admin

  step "cluster configuration (kube-dns Service, node configuration)" "$LOG/cluster-config.log"
  local up=()
  [[ -n "${KUBE_DNS_UPSTREAM:-}" ]] && up=(--dns-upstream "$KUBE_DNS_UPSTREAM")
  "$KUBE_DEPLOY/cluster-config.sh" --server "$SERVER" "${up[@]}" >>"$LOG/cluster-config.log" 2>&1 ||
    die "publishing the cluster configuration failed"

  step "kube-scheduler and kube-controller-manager" "$LOG/kube-controller-manager.log"
  start kube-scheduler "$BUILD/scheduler/kube-scheduler" --kubeconfig="$KUBECONFIG_FILE" \
    --bind-address=127.0.0.1 --leader-elect=false
  start kube-controller-manager "$BUILD/controller-manager/kube-controller-manager" --kubeconfig="$KUBECONFIG_FILE" \
    --bind-address=127.0.0.1 --leader-elect=false --allocate-node-cidrs=true --cluster-cidr="$CLUSTER_CIDR" \
    --service-cluster-ip-range="$SERVICE_CIDR"

  NODE=$(hostname | tr '[:upper:]' '[:lower:]')
  echo "$NODE" >"$RUN/node"
  step "kubelet (node $NODE, pods under $DIR/kubelet)" "$LOG/kubelet.log"
  api_get "$SERVER" /api/v1/namespaces/kube-system/configmaps/kubelet-config | jq -r .data.kubelet >"$DIR/kubelet-config.yaml" ||
    die "cannot read kube-system/kubelet-config"
  echo "${cg:-/}" >"$RUN/cgroup-root"
  touch "$RUN/kubelet.started"
  start kubelet "$BUILD/kubelet/kubelet" --config="$DIR/kubelet-config.yaml" --kubeconfig="$KUBECONFIG_FILE" \
    --hostname-override="$NODE" --node-ip=127.0.0.1 --address=127.0.0.1 --root-dir="$DIR/kubelet" \
    ${cg:+--cgroup-root="$cg"}

  step "kube-proxy (Services and the cluster DNS at $KUBE_CLUSTER_DNS_DEFAULT)" "$LOG/kube-proxy.log"
  api_get "$SERVER" /api/v1/namespaces/kube-system/configmaps/kube-proxy | jq -r '.data["config.conf"]' >"$DIR/kube-proxy.conf" ||
    die "cannot read kube-system/kube-proxy"
  touch "$RUN/kube-proxy.started"
  start kube-proxy "$BUILD/kube-proxy/kube-proxy" --config="$DIR/kube-proxy.conf" --kubeconfig="$KUBECONFIG_FILE" \
    --hostname-override="$NODE" --bind-address=127.0.0.1 --nodeport-addresses=127.0.0.0/8 \
    --healthz-bind-address=127.0.0.1:10256 --metrics-bind-address=127.0.0.1:10249

  step "waiting for node $NODE to be Ready and the cluster DNS to answer" "$LOG/kubelet.log"
  wait_for "node $NODE Ready" 180 node_ready || die "node $NODE is not Ready"
  _STEP_LOG=$LOG/kube-proxy.log
  wait_for "an answer from the cluster DNS ($KUBE_CLUSTER_DNS_DEFAULT)" 60 dns_answers || die "the cluster DNS does not answer"

  cat <<MSG

Local cluster is up: node $NODE is Ready and the cluster DNS answers.
Logs: $LOG/*.log   Data: $DIR/data   Stop: deploy/local-up.sh down

  export KUBECONFIG=$KUBECONFIG_FILE
  kubectl get nodes
MSG
  command -v kubectl >/dev/null || echo "(kubectl is not installed: deploy/install-clients.sh puts kubectl and helm into _out/tools/bin)"
}

case "${1:-up}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  -h|--help) sed -n '2,34p' "$0" ;;
  *) die "usage: local-up.sh [up|down|status]" ;;
esac
