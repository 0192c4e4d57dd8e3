# shellcheck shell=bash
# tests/e2e/cluster.sh - bringing the compose cluster up for the
# end-to-end suite and the whole-cluster benchmark (sourced after lib.sh):
# preflight, the runtime image (deploy/Dockerfile's node-base stage plus the
# programs of $KUBE_BIN), a free address range, `compose up` with settings
# for tests, and the logs worth keeping when something failed.
KUBE_BIN=${KUBE_BIN:-$ROOT/build}
E2E_NODES=${E2E_NODES:-2}
T0=$SECONDS

die() { log "error: $*"; exit 1; }

# missing_programs: the node and control plane programs this build lacks
missing_programs() {
  local p
  for p in apiserver/kube-apiserver scheduler/kube-scheduler controller-manager/kube-controller-manager kubelet/kubelet kube-proxy/kube-proxy; do
    [[ -x "$KUBE_BIN/$p" ]] || echo "${p##*/}"
  done
}

preflight() {
  curl -fsS --max-time 3 --unix-socket /var/run/docker.sock http://d/_ping >/dev/null 2>&1 ||
    die "no container engine at /var/run/docker.sock"
  ((${#COMPOSE_CMD[@]})) || die "neither docker-compose nor 'docker compose' (deploy/install-deps.sh --test)"
  command -v kubectl >/dev/null || die "kubectl is not on PATH (deploy/install-clients.sh)"
  command -v helm >/dev/null || die "helm is not on PATH (deploy/install-clients.sh)"
  /usr/bin/python3 -c 'import kubernetes' 2>/dev/null || die "the Python client is missing (python3-kubernetes)"
}

# runtime_image: sets KUBE_IMAGE
runtime_image() {
  if [[ -n "${KUBE_E2E_IMAGE:-}" ]]; then KUBE_IMAGE=$KUBE_E2E_IMAGE; return 0; fi
  local base hash stage=$E2E_WORK/stage
  base=kube-e2e/node-base:$(cat "$ROOT/deploy/Dockerfile" "$ROOT/deploy/install-deps.sh" | sha256sum | cut -c1-12)
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    log "building $base (deploy/Dockerfile --target node-base; once per change of it)"
    docker build -q --target node-base -t "$base" -f "$ROOT/deploy/Dockerfile" "$ROOT" >"$E2E_WORK/node-base.log" 2>&1 ||
      { tail -30 "$E2E_WORK/node-base.log"; die "building $base failed"; }
  fi
  "$ROOT/deploy/image-stage.sh" "$KUBE_BIN" "$stage" || die "staging the programs of $KUBE_BIN failed"
  hash=$( (cd "$stage" && find . -type f | LC_ALL=C sort | xargs sha256sum; echo "$base") | sha256sum | cut -c1-12)
  KUBE_IMAGE=kube-e2e/kube:$hash
  if ! docker image inspect "$KUBE_IMAGE" >/dev/null 2>&1; then
    log "building $KUBE_IMAGE from $KUBE_BIN"
    docker build -q --build-arg NODE_BASE="$base" -t "$KUBE_IMAGE" -f "$E2E_DIR/Dockerfile.prebuilt" "$stage" \
      >"$E2E_WORK/image.log" 2>&1 || { tail -30 "$E2E_WORK/image.log"; die "building $KUBE_IMAGE failed"; }
  fi
  # older images of this suite that nothing uses any more
  docker image ls --format '{{.Repository}}:{{.Tag}}' kube-e2e/kube | grep -vx "$KUBE_IMAGE" |
    xargs -r docker rmi >/dev/null 2>&1 || true
}

# pick_cluster_range: a 10.R.0.0/15 (R even) that overlaps no route of this
# machine and no network of the engine: the compose network's subnet, with
# the cluster CIDR 10.R.0.0/16 and the containers in 10.R+1.0.0/24.  Each
# run has its own, so that parallel runs never meet.
pick_cluster_range() {
  local taken
  taken=$( { ip -4 route show table all | awk '{print $1}' | grep -E '^[0-9]'
    docker network ls -q | xargs -r docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' | tr ' ' '\n'; } | grep . )
  python3 - "$taken" <<'PY'
import ipaddress, random, sys
taken = [ipaddress.ip_network(t, strict=False) for t in sys.argv[1].split() if ":" not in t and t != "default"]
cands = [r for r in range(130, 250, 2)]
random.shuffle(cands)
for r in cands:
    net = ipaddress.ip_network("10.%d.0.0/15" % r)
    if not any(net.overlaps(t) for t in taken if t.prefixlen > 0):
        print(r)
        break
PY
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cluster_up() {
  export KUBE_IMAGE
  export KUBE_API_PORT=${KUBE_API_PORT:-$(free_port)}
  local r
  r=$(pick_cluster_range)
  [[ -n "$r" ]] || { log "no free 10.x.0.0/15 for the cluster network"; return 1; }
  export KUBE_NETWORK_SUBNET=10.$r.0.0/15 KUBE_NETWORK_IP_RANGE=10.$((r + 1)).0.0/24
  export KUBE_NETWORK_GATEWAY=10.$((r + 1)).0.1 KUBE_CLUSTER_CIDR=10.$r.0.0/16
  export KUBE_KUBECONFIG_DIR=$E2E_WORK/kubeconfig
  # faster node lifecycle than upstream's defaults (50 s grace, 40 s lease)
  export KUBE_NODE_MONITOR_GRACE_PERIOD=20s
  export KUBELET_CONFIG_EXTRA=$'nodeLeaseDurationSeconds: 20\nnodeStatusUpdateFrequency: 5s'
  # the cluster DNS forwards names outside the cluster nowhere: nothing
  # ever resolves through the machine's resolver
  export KUBE_DNS_UPSTREAM=127.0.0.1:1
  # pods evicted 15 s after their node is lost, not 300 s
  if docker run --rm "$KUBE_IMAGE" kube-apiserver --help 2>&1 | grep -q -- --default-unreachable-toleration-seconds; then
    export KUBE_APISERVER_EXTRA_ARGS="--default-not-ready-toleration-seconds=15 --default-unreachable-toleration-seconds=15"
    export E2E_TOLERATION_FLAGS=1
  fi
  mkdir -p "$KUBE_KUBECONFIG_DIR"
  log "compose up: project $E2E_PROJECT, $E2E_NODES workers, API server on 127.0.0.1:$KUBE_API_PORT, network $KUBE_NETWORK_SUBNET"
  compose up -d --scale node="$E2E_NODES" >"$E2E_WORK/compose-up.log" 2>&1 ||
    { tail -30 "$E2E_WORK/compose-up.log"; return 1; }
  local deadline=$((SECONDS + 240))
  until [[ -s "$KUBECONFIG" ]] && kube get --raw /readyz >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { log "the API server did not come up"; return 1; }
    sleep 1
  done
  until node_count_ready "$E2E_NODES"; do
    ((SECONDS < deadline)) || { log "not all $E2E_NODES nodes became Ready"; kube get nodes; return 1; }
    sleep 2
  done
  local c
  for c in $(node_containers); do
    e2e_load_images "$c" "${E2E_TEST_IMAGES[@]}" || { log "loading images into $c failed"; return 1; }
  done
  log "cluster up: $(ready_nodes | tr '\n' ' ')($((SECONDS - T0))s since start)"
}

save_logs() {
  local dir=$E2E_WORK/logs c
  mkdir -p "$dir"
  compose logs --no-color >"$dir/compose.log" 2>&1
  for c in $(node_containers); do
    docker exec "$c" sh -c 'tail -n 400 /var/log/kube/kubelet.log' >"$dir/$c-kubelet.log" 2>&1
    docker exec "$c" sh -c 'tail -n 200 /var/log/kube/kube-proxy.log' >"$dir/$c-kube-proxy.log" 2>&1
    docker exec "$c" sh -c 'tail -n 100 /var/log/kube/dockerd.log; tail -n 50 /var/log/kube/join.log' >"$dir/$c-node.log" 2>&1
  done
  kube get nodes,pods -A -o wide >"$dir/objects.txt" 2>&1
  kube get events -A --sort-by=.lastTimestamp >"$dir/events.txt" 2>&1
  log "logs saved in $dir"
}

