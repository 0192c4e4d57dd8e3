#!/usr/bin/env bash
# The sample controller (deploy/examples/sample-controller), end to end
# with the real kubectl: the Foo CRD and example Foo applied as a user
# would; the Deployment appears owned by the Foo; the Deployment follows
# spec.replicas (and is put back when someone else scales it), keeping
# fields the controller does not manage; the Foo's status follows the
# Deployment's status; a Deployment of the same name not owned by the Foo
# gives the ErrResourceExists Warning; Synced Events; the controller
# survives an API server restart; deleting the Foo lets the garbage
# collector delete its Deployment; SIGTERM exits cleanly.  No kubelet runs:
# the test writes the Deployment's status itself.  Loopback only.
#
# SAMPLE_CONTROLLER_VALGRIND=1 runs the controller under valgrind and
# fails on any error or leak it reports; SAMPLE_CONTROLLER_BIN picks
# another build of it (the ASan one, say).
source "$(dirname "$0")/lib.sh"
EX="$ROOT/deploy/examples/sample-controller"
SC=${SAMPLE_CONTROLLER_BIN:-$KUBE_BIN/deploy/examples/sample-controller/sample-controller}
[[ -x "$SC" ]] || fail "no $SC (build first)"

start_apiserver
"$KUBE_BIN/controller-manager/kube-controller-manager" --kubeconfig="$WORK/kubeconfig" --secure-port=0 \
  --leader-elect=false --controllers=garbagecollector --v=2 >>"$WORK/controller-manager.log" 2>&1 &
PIDS+=("$!")

ok "Foo CRD applied" kube apply -f "$EX/crd.yaml"
wait_until "CRD established" 50 kube wait --for condition=established --timeout=5s crd/foos.samplecontroller.k8s.io

SC_PORT=$(free_port)
WRAP=()
if [[ -n "${SAMPLE_CONTROLLER_VALGRIND:-}" ]]; then
  WRAP=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
        --log-file="$WORK/valgrind.log")
fi
"${WRAP[@]}" "$SC" --kubeconfig="$WORK/kubeconfig" --bind-address=127.0.0.1 --port="$SC_PORT" --v=2 \
  >>"$WORK/sample-controller.log" 2>&1 &
SC_PID=$!
PIDS+=("$SC_PID")
# the test pauses the controller once: a failure then must not leave it
# stopped, where lib.sh's cleanup would wait for it forever
trap 'rc=$?; set +e; kill -CONT "$SC_PID" 2>/dev/null; (exit $rc); cleanup' EXIT
wait_until "workers start once the caches have synced" 300 grep -q "Started workers" "$WORK/sample-controller.log"

ok "/healthz answers" curl -fsS "http://127.0.0.1:$SC_PORT/healthz"
expect_eq "/healthz body" "ok" "$OUT"
ok "/readyz answers once synced" curl -fsS "http://127.0.0.1:$SC_PORT/readyz"

# ---- the example Foo makes its Deployment ----
ok "example Foo applied" kube apply -f "$EX/example-foo.yaml"
FOO_UID=$(kube get foo example-foo -o jsonpath='{.metadata.uid}')
wait_until "the Deployment appears" 150 kube get deployment example-foo
ok "owner reference" kube get deployment example-foo \
  -o jsonpath='{range .metadata.ownerReferences[*]}{.apiVersion}/{.kind}/{.name}/{.uid}/{.controller}/{.blockOwnerDeletion}{end}'
expect_eq "controller owner reference to the Foo" \
  "samplecontroller.k8s.io/v1alpha1/Foo/example-foo/$FOO_UID/true/true" "$OUT"
ok "spec" kube get deployment example-foo \
  -o jsonpath='{.spec.replicas} {.spec.selector.matchLabels.app} {.spec.template.metadata.labels.controller} {.spec.template.spec.containers[0].image}'
expect_eq "replicas, labels and image as the Foo says" "1 nginx example-foo nginx:latest" "$OUT"
wait_until "the Foo's status is written (availableReplicas 0)" 150 \
  bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get foo example-foo -o jsonpath='{.status.availableReplicas}') == 0 ]]"
synced_event() { kube get events --field-selector involvedObject.name="$1" | grep -E "Normal +Synced +foo/$1 +Foo synced successfully"; }
wait_until "Synced event recorded" 150 synced_event example-foo

# ---- replicas follow the Foo, fields not managed are kept ----
ok "an annotation the controller does not manage" kube annotate deployment example-foo example.com/note=kept
ok "Foo scaled to 3" kube patch foo example-foo --type=merge -p '{"spec":{"replicas":3}}'
wait_until "the Deployment follows (3)" 150 \
  bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get deployment example-foo -o jsonpath='{.spec.replicas}') == 3 ]]"
ok "annotation" kube get deployment example-foo -o jsonpath='{.metadata.annotations.example\.com/note}'
expect_eq "read-modify-write kept the annotation" "kept" "$OUT"
ko "the CRD's schema refuses 11 replicas" kube patch foo example-foo --type=merge -p '{"spec":{"replicas":11}}'
expect_match "with upstream's message" 'spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10' "$OUT"
ok "someone else scales the Deployment" kube scale deployment example-foo --replicas=7
wait_until "the controller puts it back (3)" 150 \
  bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get deployment example-foo -o jsonpath='{.spec.replicas}') == 3 ]]"

# ---- status follows the Deployment's (no kubelet: written here) ----
ok "Deployment status: 2 available" kube patch deployment example-foo --subresource=status --type=merge \
  -p '{"status":{"replicas":3,"readyReplicas":2,"availableReplicas":2,"updatedReplicas":3}}'
wait_until "Foo status.availableReplicas follows (2)" 150 \
  bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get foo example-foo -o jsonpath='{.status.availableReplicas}') == 2 ]]"
ok "spec of the Foo" kube get foo example-foo -o jsonpath='{.spec.replicas}'
expect_eq "the status write left spec alone" "3" "$OUT"

# ---- a Deployment of that name that the Foo does not own ----
ok "a Deployment made by someone else" kube create deployment taken --image=nginx:1.25 --replicas=1
kube apply -f - >/dev/null <<'YAML'
apiVersion: samplecontroller.k8s.io/v1alpha1
kind: Foo
metadata: {name: intruder}
spec: {deploymentName: taken, replicas: 2}
YAML
exists_event() {
  kube get events --field-selector involvedObject.name=intruder |
    grep -E 'Warning +ErrResourceExists +foo/intruder +Resource "taken" already exists and is not managed by Foo'
}
wait_until "ErrResourceExists Warning event" 150 exists_event
wait_until "the failure is requeued (logged again)" 150 \
  bash -c "[[ \$(grep -c \"error syncing 'default/intruder'\" '$WORK/sample-controller.log') -ge 2 ]]"
ok "the foreign Deployment" kube get deployment taken -o jsonpath='{.spec.replicas}/{.metadata.ownerReferences}'
expect_eq "is left alone" "1/" "$OUT"

# ---- a Foo without deploymentName is refused, not requeued ----
kube apply -f - >/dev/null <<'YAML'
apiVersion: samplecontroller.k8s.io/v1alpha1
kind: Foo
metadata: {name: nameless}
spec: {replicas: 1}
YAML
wait_until "empty deploymentName logged" 150 grep -q "default/nameless: deployment name must be specified" \
  "$WORK/sample-controller.log"

# ---- health and metrics ----
ok "/metrics" curl -fsS "http://127.0.0.1:$SC_PORT/metrics"
expect_match "sync counter" 'sample_controller_syncs_total\{result="success"\} [1-9]' "$OUT"
expect_match "sync errors counted" 'sample_controller_syncs_total\{result="error"\} [1-9]' "$OUT"
expect_match "workqueue depth" 'workqueue_depth\{name="Foos"\} [0-9]' "$OUT"

# ---- the API server restarts, and what the controller watched expires ----
# The controller is paused across the restart so that it misses a change
# (the Deployment scaled behind its back) and the history it would resume
# from: its informers get 410 Expired, relist, and the level-triggered sync
# puts the Deployment back.  The new API server keeps only 1.5 s of history.
kill -STOP "$SC_PID"
# (the list's own resourceVersion: kubectl get -o jsonpath would show its
# client-side List, which has none)
RV=$(kube get --raw /apis/apps/v1/deployments | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
OLD_API=$API_PID
keep=(); for p in "${PIDS[@]}"; do [[ $p == "$OLD_API" ]] || keep+=("$p"); done; PIDS=("${keep[@]}")
start_apiserver --etcd-compaction-interval=1s
pass "API server restarted on the same port and data"
ok "the Deployment scaled while the controller is away" kube scale deployment example-foo --replicas=6
# later writes push that change out of the short history (one event is
# always kept, and a watch from RV needs every event after it)
ok "more writes" kube create configmap filler --from-literal=a=b
ok "and more" kube label configmap filler round=2
expired() { curl -sS --max-time 5 "$API_URL/apis/apps/v1/deployments?watch=1&resourceVersion=$RV&timeoutSeconds=1" | grep -q Expired; }
wait_until "history from before the pause has expired (410)" 50 expired
kill -CONT "$SC_PID"
wait_until "the controller relists Deployments on 410" 300 \
  grep -Eq "watch of /apis/apps/v1/deployments closed: .*relisting" "$WORK/sample-controller.log"
wait_until "and puts the Deployment back (3)" 300 \
  bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get deployment example-foo -o jsonpath='{.spec.replicas}') == 3 ]]"
ok "Foo scaled to 4 after the restart" kube patch foo example-foo --type=merge -p '{"spec":{"replicas":4}}'
wait_until "the Deployment follows (4)" 300 \
  bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get deployment example-foo -o jsonpath='{.spec.replicas}') == 4 ]]"
kube apply -f - >/dev/null <<'YAML'
apiVersion: samplecontroller.k8s.io/v1alpha1
kind: Foo
metadata: {name: after-restart}
spec: {deploymentName: after-restart, replicas: 1}
YAML
wait_until "a Foo made after the restart gets its Deployment" 300 kube get deployment after-restart

# ---- deleting the Foo: the garbage collector deletes the Deployment ----
gone() { ! kube get "$@" >/dev/null 2>&1; }
ok "Foo deleted" kube delete foo example-foo --wait=false
wait_until "its Deployment is collected" 300 gone deployment example-foo
ok "the foreign Deployment stays" kube get deployment taken -o name

# ---- SIGTERM: a clean exit ----
kill -TERM "$SC_PID"
RC=0; wait "$SC_PID" || RC=$?
keep=(); for p in "${PIDS[@]}"; do [[ $p == "$SC_PID" ]] || keep+=("$p"); done; PIDS=("${keep[@]}")
expect_eq "SIGTERM exits 0" 0 "$RC"
ok "shutdown logged" grep -q "Shut down cleanly" "$WORK/sample-controller.log"
if [[ -n "${SAMPLE_CONTROLLER_VALGRIND:-}" ]]; then
  ok "valgrind summary" grep -E "ERROR SUMMARY: 0 errors" "$WORK/valgrind.log"
  grep -E "lost:|reachable:|ERROR SUMMARY" "$WORK/valgrind.log" || true
fi
expect_match "no unexpected errors logged" '^0$' \
  "$(grep '^E' "$WORK/sample-controller.log" | grep -v "default/intruder\|default/nameless" | grep -vc '(Conflict, 409)' || true)"
done_testing
