#!/usr/bin/env bash
# deploy/kube-init.sh - brings up the control plane of a cluster on this
# machine under systemd, in the spirit of `kubeadm init`, and prints the
# command that joins each worker (deploy/kube-join.sh).
#
#   sudo deploy/kube-init.sh [options]
#
#   --advertise-address IP   the address workers reach the API server on
#                            (default: the address of the default route's interface)
#   --port PORT              the API server's port (default 8080)
#   --service-cidr CIDR      default 10.96.0.0/12
#   --pod-network-cidr CIDR  default 10.244.0.0/16 (node IPAM hands out /24s)
#   --data-dir DIR           SQLite data (default /var/lib/kube-apiserver)
#   --bin-dir DIR            take the programs from DIR (a build directory or
#                            a directory holding them) instead of building
#   --node-monitor-grace-period D   the controller-manager's (default 50s)
#   --no-systemd             start the units with unit-run.sh (containers)
#
# Steps: programs (installed into /usr/local/bin), configuration
# (/etc/default/kube-apiserver, kube-scheduler, kube-controller-manager;
# kubeconfigs in /etc/kubernetes), units, start, wait for /readyz, the
# cluster configuration nodes join with (deploy/cluster-config.sh), and the
# join command.  Running it again rewrites the configuration and restarts
# the three programs; the data stays.
#
# Until the cluster has authentication (the security work), the API
# server's port is plain HTTP without authentication: run this only on a
# network you trust.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$(readlink -f "$0")")/lib/common.sh"

addr="" port=8080 service_cidr=$KUBE_SERVICE_CIDR_DEFAULT cluster_cidr=$KUBE_CLUSTER_CIDR_DEFAULT
data_dir=/var/lib/kube-apiserver bin_dir="" grace=50s use_systemd=""
while (($#)); do
  case "$1" in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
    --advertise-address) addr=$2; shift ;;
    --port) port=$2; shift ;;
    --service-cidr) service_cidr=$2; shift ;;
    --pod-network-cidr) cluster_cidr=$2; shift ;;
    --data-dir) data_dir=$2; shift ;;
    --bin-dir) bin_dir=$2; shift ;;
    --node-monitor-grace-period) grace=$2; shift ;;
    --no-systemd) use_systemd=0 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) die "kube-init.sh: unknown argument $1 (see --help)" ;;
  esac
  shift
done
need_root kube-init.sh
if [[ -z "$use_systemd" ]]; then if have_systemd; then use_systemd=1; else use_systemd=0; fi; fi
LOG_DIR=/var/log/kube
mkdir -p "$LOG_DIR"
LOG=$LOG_DIR/init.log
CP=(kube-apiserver kube-scheduler kube-controller-manager)
steps_total 6

step "installing the control plane programs" "$LOG"
if [[ -n "$bin_dir" ]]; then
  if [[ -x "$bin_dir/apiserver/kube-apiserver" ]]; then install_programs "$bin_dir" /usr/local/bin "${CP[@]}"
  else
    for p in "${CP[@]}"; do
      [[ -x "$bin_dir/$p" ]] || die "$bin_dir/$p is missing"
      cmp -s "$bin_dir/$p" "/usr/local/bin/$p" || install -m 0755 "$bin_dir/$p" "/usr/local/bin/$p"
    done
  fi
elif [[ -n "$KUBE_SRC" ]]; then
  "$KUBE_DEPLOY/install-deps.sh" --node >>"$LOG" 2>&1 || die "installing packages failed"
  info "building in $KUBE_SRC/build"
  build_from_checkout "$LOG" || die "the build failed"
  install_programs "$KUBE_SRC/build" /usr/local/bin "${CP[@]}"
else
  for p in "${CP[@]}"; do [[ -x "/usr/local/bin/$p" ]] || die "$p is not installed and there is no checkout to build it from"; done
fi

step "writing the configuration" "$LOG"
if [[ -z "$addr" ]]; then
  dev=$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
  [[ -n "$dev" ]] && addr=$(ip -4 -o addr show dev "$dev" | awk '{split($4, a, "/"); print a[1]; exit}')
  [[ -n "$addr" ]] || die "cannot tell this machine's address; give --advertise-address"
fi
server=http://$addr:$port
info "API server: $server (data in $data_dir)"
mkdir -p /etc/kubernetes "$data_dir"
write_kubeconfig /etc/kubernetes/admin.conf "$server" kubernetes-admin
write_kubeconfig /etc/kubernetes/scheduler.conf "$server" system:kube-scheduler
write_kubeconfig /etc/kubernetes/controller-manager.conf "$server" system:kube-controller-manager
env_file() { # FILE VAR FLAGS...: a systemd environment file
  local f=$1 var=$2; shift 2
  printf '# written by kube-init.sh; add your own flags as %s_EXTRA_ARGS="..."\n%s="%s"\n' "${var%_ARGS}" "$var" "$*" >"$f.tmp"
  grep -E "^${var%_ARGS}_EXTRA_ARGS=" "$f" 2>/dev/null >>"$f.tmp" || true
  mv "$f.tmp" "$f"
}
env_file /etc/default/kube-apiserver KUBE_APISERVER_ARGS --insecure-bind-address="$addr" --insecure-port="$port" \
  --advertise-address="$addr" --data-dir="$data_dir" --service-cluster-ip-range="$service_cidr"
env_file /etc/default/kube-scheduler KUBE_SCHEDULER_ARGS --kubeconfig=/etc/kubernetes/scheduler.conf
env_file /etc/default/kube-controller-manager KUBE_CONTROLLER_MANAGER_ARGS \
  --kubeconfig=/etc/kubernetes/controller-manager.conf --allocate-node-cidrs=true --cluster-cidr="$cluster_cidr" \
  --service-cluster-ip-range="$service_cidr" --node-monitor-grace-period="$grace"

step "installing the systemd units" "$LOG"
mkdir -p /etc/systemd/system
for u in "${CP[@]}"; do
  cmp -s "$KUBE_DEPLOY/systemd/$u.service" "/etc/systemd/system/$u.service" ||
    install -m 0644 "$KUBE_DEPLOY/systemd/$u.service" "/etc/systemd/system/$u.service"
done

if ((use_systemd)); then
  step "starting the control plane (systemd)" "$LOG"
  { systemctl daemon-reload && systemctl enable "${CP[@]}" && systemctl restart "${CP[@]}"; } >>"$LOG" 2>&1 ||
    die "systemctl could not start the units (journalctl -u kube-apiserver)"
  logs="journalctl -u kube-apiserver -u kube-scheduler -u kube-controller-manager"
else
  step "starting the control plane (no systemd here: unit-run.sh)" "$LOG"
  "$KUBE_DEPLOY/unit-run.sh" restart "${CP[@]}" >>"$LOG" 2>&1 || die "unit-run.sh could not start the units"
  logs="$LOG_DIR/kube-apiserver.log (and kube-scheduler.log, kube-controller-manager.log)"
fi

step "waiting for the API server" "$LOG"
wait_for "$server/readyz" 120 api_ready "$server" || die "the API server does not answer /readyz; see $logs"

step "publishing the cluster configuration" "$LOG"
"$KUBE_DEPLOY/cluster-config.sh" --server "$server" --cluster-cidr "$cluster_cidr" >>"$LOG" 2>&1 ||
  die "cluster-config.sh failed"

cat <<MSG

The control plane is up at $server.
  export KUBECONFIG=/etc/kubernetes/admin.conf
  kubectl get nodes
Logs: $logs

Join each worker: on the worker, from a checkout of these sources, run as root

  deploy/kube-join.sh --server $server

(warning: the API server answers plain HTTP without authentication on
$addr:$port until the cluster has TLS and tokens; use a trusted network)
MSG
