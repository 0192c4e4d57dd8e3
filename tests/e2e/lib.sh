# shellcheck shell=bash
# tests/e2e/lib.sh - the end-to-end suite's harness (sourced by run.sh and
# by every scenario): a multi-node cluster from deploy/docker-compose.yml,
# driven from this machine only through the API server's published
# loopback port (kubectl, helm, the Python client).  Every check of a pod
# or Service address runs inside a pod or a container on the cluster's
# internal network (kubectl exec, docker exec, docker run --network).
#
# Names: the compose project is kube-e2e-XXXXXX (random per run), so its
# containers, networks and volumes never meet anybody else's; images are
# kube-e2e/... (tests/e2e/images.sh) and kube-e2e/kube:<content hash>.
# e2e_teardown (trap EXIT in run.sh) removes the project with its volumes,
# also on failure, after saving the logs.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$E2E_DIR/../.." && pwd)
# shellcheck source=images.sh
source "$E2E_DIR/images.sh"
COMPOSE_FILE=$ROOT/deploy/docker-compose.yml

_rnd=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
E2E_PROJECT=${E2E_PROJECT:-kube-e2e-$_rnd}
E2E_WORK=${E2E_WORK:-$ROOT/_out/e2e/$E2E_PROJECT}
mkdir -p "$E2E_WORK"
export KUBECONFIG=$E2E_WORK/kubeconfig/admin.conf

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# ---- compose ----
if docker-compose version >/dev/null 2>&1; then COMPOSE_CMD=(docker-compose)
elif docker compose version >/dev/null 2>&1; then COMPOSE_CMD=(docker compose)
else COMPOSE_CMD=(); fi
compose() { "${COMPOSE_CMD[@]}" -p "$E2E_PROJECT" -f "$COMPOSE_FILE" "$@"; }

# ---- assertions (a scenario runs in a subshell: fail exits it) ----
CHECKS=0
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $*"; }
# waiting REASON: the scenario needs work that has not landed; the run
# reports it as WAITING with the reason (never as passed)
waiting() { echo "$*" >"$E2E_WORK/waiting.$E2E_SCENARIO"; echo "WAITING: $*"; exit 77; }
# note TEXT: printed with the scenario's result line
note() { echo "$*" >>"$E2E_WORK/note.$E2E_SCENARIO"; echo "note: $*"; }
expect_eq() { if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: expected [$2] got [$3]"; fi; }
expect_match() {
  if grep -Eq -- "$2" <<<"$3"; then pass "$1"; else echo "--- output was:"; echo "$3"; fail "$1: expected /$2/"; fi
}
ok() { # DESC cmd...: must succeed; output in $OUT
  local d=$1; shift
  if OUT=$("$@" 2>&1); then pass "$d"; else echo "--- output was:"; echo "$OUT"; fail "$d"; fi
}
ko() { # DESC cmd...: must fail; output in $OUT
  local d=$1; shift
  if OUT=$("$@" 2>&1); then echo "--- output was:"; echo "$OUT"; fail "$d: succeeded"; else pass "$d"; fi
}
# wait_until DESC SECONDS cmd...: retries every second; output in $OUT
wait_until() {
  local d=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  while :; do
    if OUT=$("$@" 2>&1); then pass "$d ($((SECONDS + secs - deadline))s)"; return 0; fi
    ((SECONDS >= deadline)) && break
    sleep 1
  done
  echo "--- last output:"; echo "$OUT"; fail "$d: not within ${secs}s"
}

# ---- kubectl and friends ----
kube() { kubectl --cache-dir "$E2E_WORK/kcache" "$@"; }
kns() { kube -n "$NS" "$@"; }
# new_namespace: a namespace of the scenario's own ($NS), deleted by the
# runner, once its default ServiceAccount exists (the ServiceAccount
# admission refuses pods until then, as upstream's; upstream's e2e
# framework waits the same way).  The default ServiceAccount does not
# automount API credentials while the API server cannot issue service
# account tokens (TokenRequest); scenarios/05-serviceaccount.sh checks
# that path on its own and reports it as waiting until then.
new_namespace() {
  NS=e2e-$E2E_SCENARIO
  kube create namespace "$NS" >/dev/null || fail "create namespace $NS"
  local i
  for i in $(seq 1 60); do kns get sa default >/dev/null 2>&1 && break; sleep 0.5; done
  kns get sa default >/dev/null 2>&1 || fail "the default ServiceAccount of $NS did not appear within 30 s"
  if ! token_request_served; then
    kns patch sa default -p '{"automountServiceAccountToken": false}' >/dev/null || fail "patch the default ServiceAccount"
  fi
}
# token_request_served: the API server issues a token for the default
# ServiceAccount of "default" (its discovery may list serviceaccounts/token
# before the subresource works, so ask for one)
token_request_served() {
  if [[ -z "${_TOKEN_REQUEST:-}" ]]; then
    _TOKEN_REQUEST=no
    kube create --raw /api/v1/namespaces/default/serviceaccounts/default/token -f - >/dev/null 2>&1 <<'JSON' && _TOKEN_REQUEST=yes
{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}
JSON
  fi
  [[ "$_TOKEN_REQUEST" == yes ]]
}
ready_nodes() {
  kube get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    awk -F= '$2 == "True" {print $1}'
}
node_count_ready() { [[ $(ready_nodes | wc -l) -eq $1 ]]; }
node_ready() { ready_nodes | grep -qx "$1"; }
node_not_ready() { ! node_ready "$1"; }
# deployment_ready NAME REPLICAS: the rollout finished with REPLICAS available
deployment_ready() {
  local got
  got=$(kns get deploy "$1" -o jsonpath='{.status.observedGeneration}/{.metadata.generation} {.status.updatedReplicas}/{.status.availableReplicas}/{.status.replicas}')
  [[ "$got" =~ ^([0-9]+)/([0-9]+)\ $2/$2/$2$ && "${BASH_REMATCH[1]}" == "${BASH_REMATCH[2]}" ]]
}
# pod_nodes SELECTOR: "POD NODE PHASE IP" per line
pod_nodes() {
  kns get pods -l "$1" -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} {.status.podIP}{"\n"}{end}'
}
running_pods() { # SELECTOR COUNT: exactly COUNT pods Running and Ready
  local n
  n=$(kns get pods -l "$1" -o jsonpath='{range .items[*]}{.status.phase}/{.status.conditions[?(@.type=="Ready")].status}/{.metadata.deletionTimestamp}{"\n"}{end}' |
    grep -c '^Running/True/$')
  [[ "$n" -eq "$2" ]]
}

# node_container NODE-NAME: the compose container behind a node (a node's
# name is its container's host name)
node_container() {
  local c
  for c in $(compose ps -q node); do
    [[ "$(docker inspect -f '{{.Config.Hostname}}' "$c")" == "$1" ]] && { docker inspect -f '{{.Name}}' "$c" | tr -d /; return 0; }
  done
  return 1
}
node_containers() { compose ps -q node | xargs -r docker inspect -f '{{.Name}}' | tr -d /; }
cluster_network() { echo "${E2E_PROJECT}_cluster"; }

# busybox_pod NAME NODE: a client pod pinned to NODE (sleeps)
busybox_pod() {
  kns apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $1}}
spec:
  nodeName: $2
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
YAML
}
# echo_deployment NAME REPLICAS [IMAGE]: the echo server behind app=NAME
echo_deployment() {
  kns apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: $2
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: echo
        image: ${3:-$ECHO_IMAGE_1}
        ports: [{containerPort: 8080}]
        readinessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 1
YAML
}
# pod_run NAME NODE SCRIPT [TIMEOUT]: runs SCRIPT (sh) in a one-shot
# busybox pod on NODE; its output (the pod's log) on stdout and in $OUT;
# 0 when the pod Succeeded.  The pod is deleted afterwards.
pod_run() {
  local name=$1 node=$2 script=$3 secs=${4:-120} phase="" deadline
  kns apply -f - >/dev/null <<YAML || return 1
apiVersion: v1
kind: Pod
metadata: {name: $name, labels: {e2e-client: "true"}}
spec:
  nodeName: $node
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    command: ["sh", "-c", $(printf '%s' "$script" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')]
YAML
  deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    phase=$(kns get pod "$name" -o jsonpath='{.status.phase}' 2>/dev/null)
    [[ "$phase" == Succeeded || "$phase" == Failed ]] && break
    sleep 1
  done
  OUT=$(kns logs "$name" 2>&1)
  kns delete pod "$name" --wait=false >/dev/null 2>&1
  printf '%s\n' "$OUT"
  [[ "$phase" == Succeeded ]]
}
# http_loop URL COUNT: a shell loop for pod_run: COUNT GETs, one answer line each
# (busybox 1.35's wget -T crashes: timeout(1) bounds each request instead)
http_loop() {
  echo "i=0; while [ \$i -lt $2 ]; do timeout 5 wget -q -O- '$1' || echo FAILED; i=\$((i+1)); done"
}
