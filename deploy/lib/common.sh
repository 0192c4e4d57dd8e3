# shellcheck shell=bash disable=SC2034
# deploy/lib/common.sh - helpers shared by the deploy scripts (sourced):
# local-up.sh, kube-init.sh (control plane under systemd), kube-join.sh
# (a worker), kube-container.sh (the compose image's entry point) and
# unit-run.sh (runs the systemd units where there is no systemd).
#
# Layout: a script lives either in a checkout (deploy/) or installed
# under /usr/local/lib/kube (the runtime image, or a machine set up by
# kube-init/kube-join); KUBE_DEPLOY is that directory either way, and
# KUBE_SRC the checkout root when there is one (empty when installed).
#
# Progress is printed as numbered steps ("[3/9] starting kube-apiserver");
# `die` names the step that failed and the log file to read.

KUBE_DEPLOY=${KUBE_DEPLOY:-$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)}
KUBE_SRC=""
[[ -f "$KUBE_DEPLOY/../CMakeLists.txt" && -d "$KUBE_DEPLOY/../apiserver" ]] && KUBE_SRC=$(cd "$KUBE_DEPLOY/.." && pwd)

# Cluster-wide defaults (upstream kubeadm defaults), for the scripts that source this.
# shellcheck disable=SC2034
KUBE_SERVICE_CIDR_DEFAULT=10.96.0.0/12
KUBE_CLUSTER_CIDR_DEFAULT=10.244.0.0/16
KUBE_CLUSTER_DNS_DEFAULT=10.96.0.10
KUBE_CLUSTER_DOMAIN_DEFAULT=cluster.local

# The five programs and where a build puts them.
KUBE_PROGRAMS=(kube-apiserver kube-scheduler kube-controller-manager kubelet kube-proxy)
kube_build_path() { # PROGRAM -> path relative to a build directory
  case "$1" in
    kube-apiserver) echo apiserver/kube-apiserver ;;
    kube-scheduler) echo scheduler/kube-scheduler ;;
    kube-controller-manager) echo controller-manager/kube-controller-manager ;;
    kubelet) echo kubelet/kubelet ;;
    kube-proxy) echo kube-proxy/kube-proxy ;;
    *) return 1 ;;
  esac
}

_STEP=0 _STEPS=0 _STEP_NAME="" _STEP_LOG=""
steps_total() { _STEPS=$1; }
# step NAME [LOG]: announce the next step (and the log that tells its story)
step() {
  _STEP=$((_STEP + 1)); _STEP_NAME=$1; _STEP_LOG=${2:-}
  if ((_STEPS)); then printf '[%d/%d] %s\n' "$_STEP" "$_STEPS" "$1"; else printf '==> %s\n' "$1"; fi
}
info() { printf '      %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  [[ -n "$_STEP_NAME" ]] && printf 'error: the step that failed: %s\n' "$_STEP_NAME" >&2
  if [[ -n "$_STEP_LOG" ]]; then
    printf 'error: read %s; its last lines:\n' "$_STEP_LOG" >&2
    tail -n 15 "$_STEP_LOG" 2>/dev/null | sed 's/^/    /' >&2
  fi
  exit 1
}

# wait_for DESC SECONDS cmd...: polls every half second, prints what it
# waits for when it takes more than a few seconds; 1 on timeout.
wait_for() {
  local desc=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs)) said=0
  while ! "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then return 1; fi
    if ((!said && SECONDS + secs - deadline >= 3)); then info "waiting for $desc (up to ${secs}s)"; said=1; fi
    sleep 0.5
  done
}

need_root() { [[ $(id -u) -eq 0 ]] || die "$1 must run as root (it starts a container runtime and programs the network)"; }

docker_up() { curl -fsS --max-time 2 --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1; }
have_systemd() { [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; }
in_container() { [[ -f /.dockerenv || -f /run/.containerenv ]]; }

# container_cgroup: the cgroup (v1 cpu controller, or v2) this process
# lives in when it runs inside a container whose runtime did not give it a
# cgroup namespace ("/docker/ID"); "" elsewhere.  A kubelet and a runtime
# inside such a container nest their cgroups under it, so that nothing is
# left in the machine's hierarchy when the container goes.
container_cgroup() {
  in_container || return 0
  local p
  p=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3; exit}' /proc/self/cgroup)
  [[ -n "$p" ]] || p=$(awk -F: '$1 == "0" {print $3; exit}' /proc/self/cgroup)
  [[ "$p" == "/" ]] && p=""
  echo "$p"
}

# api_get SERVER PATH: GET on the API server (curl), body on stdout
api_get() { curl -fsS --max-time 10 "$1$2"; }
api_ready() { [[ "$(curl -fsS --max-time 5 "$1/readyz" 2>/dev/null)" == ok ]]; }
# api_create_yaml SERVER COLLECTION-PATH NAME: creates the object read from
# stdin (YAML) unless one by that name exists.  Existing objects are left
# as they are (an administrator may have changed them).
api_create_yaml() {
  local server=$1 coll=$2 name=$3 body code
  body=$(cat)
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$server$coll/$name") || return 1
  [[ "$code" == 200 ]] && return 0
  curl -fsS -o /dev/null --max-time 10 -X POST -H 'Content-Type: application/yaml' --data-binary "$body" "$server$coll"
}
# api_put_yaml SERVER COLLECTION-PATH NAME: create or replace (stdin, YAML)
api_put_yaml() {
  local server=$1 coll=$2 name=$3 body code
  body=$(cat)
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$server$coll/$name") || return 1
  if [[ "$code" == 200 ]]; then
    curl -fsS -o /dev/null --max-time 10 -X PUT -H 'Content-Type: application/yaml' --data-binary "$body" "$server$coll/$name"
  else
    curl -fsS -o /dev/null --max-time 10 -X POST -H 'Content-Type: application/yaml' --data-binary "$body" "$server$coll"
  fi
}

# write_kubeconfig FILE SERVER USER: a kubeconfig for one cluster and user
write_kubeconfig() {
  local file=$1 server=$2 user=$3
  mkdir -p "$(dirname "$file")"
  umask 077
  cat >"$file.tmp" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: kube
  cluster:
    server: $server
users:
- name: $user
  user: {}
contexts:
- name: $user@kube
  context: {cluster: kube, user: $user}
current-context: $user@kube
KCFG
  mv "$file.tmp" "$file"
  umask 022
}

# host_of URL -> host; port_of URL -> port (default by scheme)
host_of() { local u=${1#*://}; u=${u%%/*}; u=${u%:*}; echo "${u#[}" | tr -d ']'; }
port_of() {
  local u=${1#*://}; u=${u%%/*}
  if [[ "$u" == *:* ]]; then echo "${u##*:}"; elif [[ "$1" == https://* ]]; then echo 443; else echo 80; fi
}
# resolve HOST -> first IPv4 address
resolve_ipv4() {
  if [[ "$1" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then echo "$1"; return; fi
  getent ahostsv4 "$1" | awk '{print $1; exit}'
}
# source_ip_for IP: this machine's address that packets to IP leave from
source_ip_for() { ip -4 route get "$1" 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1; }

# install_programs SRC-BUILD-DIR DEST-DIR PROGRAM...: copies the programs
# of a build (only those that changed, atomically, so a running program is
# never overwritten in place)
install_programs() {
  local build=$1 dest=$2; shift 2
  local p src
  mkdir -p "$dest"
  for p in "$@"; do
    src=$build/$(kube_build_path "$p")
    [[ -x "$src" ]] || die "$src is missing (the build did not produce $p)"
    cmp -s "$src" "$dest/$p" && continue
    install -m 0755 "$src" "$dest/.$p.new" && mv -f "$dest/.$p.new" "$dest/$p"
  done
}

# build_from_checkout LOG: install build dependencies and build the
# checkout into $KUBE_SRC/build (incremental)
build_from_checkout() {
  local log=$1
  [[ -n "$KUBE_SRC" ]] || die "no source checkout next to $KUBE_DEPLOY to build from"
  {
    cmake -S "$KUBE_SRC" -B "$KUBE_SRC/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
      cmake --build "$KUBE_SRC/build" -j"$(nproc)" --target "${KUBE_PROGRAMS[@]}"
  } >>"$log" 2>&1
}
