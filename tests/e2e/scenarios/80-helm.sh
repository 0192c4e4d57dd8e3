# 80-helm: helm install, upgrade, rollback and uninstall of the suite's
# chart (tests/e2e/chart): each step's objects as helm says, the release
# history, and the Service answering with the running version.
new_namespace
node=$(ready_nodes | head -1)
CHART=$E2E_DIR/chart
h() { helm -n "$NS" "$@"; }
rel_ready() { # REPLICAS IMAGE-TAG
  [[ "$(kns get deploy g -o jsonpath='{.status.availableReplicas}/{.status.updatedReplicas}/{.status.replicas} {.spec.template.spec.containers[0].image}')" == "$1/$1/$1 kube-e2e/echo:$2" ]] &&
    running_pods app.kubernetes.io/instance=g "$1"
}
answers() { # VERSION: the Service answers with VERSION from inside the cluster
  pod_run "hc-$RANDOM" "$node" "$(http_loop "http://g.$NS.svc.cluster.local/" 4)" >/dev/null &&
    [[ $(grep -c " $1 /\$" <<<"$OUT") -eq 4 ]]
}

ok "helm install" h install g "$CHART" --wait --timeout 3m
wait_until "release 1: 2 replicas of echo:1" 120 rel_ready 2 1
wait_until "the Service answers with version 1" 60 answers 1
ok "helm status" h status g
expect_match "deployed" 'STATUS: deployed' "$OUT"
ok "greeting ConfigMap" kns get cm g-greeting -o jsonpath='{.data.greeting}'
expect_eq "greeting from values" hello "$OUT"

ok "helm upgrade" h upgrade g "$CHART" --set replicaCount=3 --set image.tag=2 --set greeting=hi --wait --timeout 3m
wait_until "release 2: 3 replicas of echo:2" 120 rel_ready 3 2
wait_until "the Service answers with version 2" 60 answers 2
ok "greeting after upgrade" kns get cm g-greeting -o jsonpath='{.data.greeting}'
expect_eq "greeting upgraded" hi "$OUT"

ok "helm rollback to 1" h rollback g 1 --wait --timeout 3m
wait_until "release 3: back to 2 replicas of echo:1" 120 rel_ready 2 1
wait_until "the Service answers with version 1 again" 60 answers 1
ok "helm history" h history g -o json
hist=$(/usr/bin/python3 -c 'import json,sys; print(" ".join("%d:%s" % (r["revision"], r["status"]) for r in json.load(sys.stdin)))' <<<"$OUT")
expect_eq "three revisions, the last deployed" "1:superseded 2:superseded 3:deployed" "$hist"
ok "helm list" h list -o json
expect_match "one release" '"name":"g"' "$OUT"

ok "helm uninstall" h uninstall g --wait --timeout 2m
gone() { [[ -z "$(kns get deploy,svc,cm,secret -l app.kubernetes.io/instance=g -o name 2>/dev/null; kns get secret -l owner=helm -o name 2>/dev/null)" ]]; }
wait_until "the release's objects and records are gone" 60 gone
