#!/usr/bin/env bash
# helm v3 installs, upgrades, rolls back and uninstalls a small chart.
source "$(dirname "$0")/lib.sh"
CHART=$ROOT/tests/fixtures/chart
command -v helm >/dev/null || fail "helm not installed (deploy/install-clients.sh)"
start_apiserver
export HELM_CACHE_HOME=$WORK/helm/cache HELM_CONFIG_HOME=$WORK/helm/config HELM_DATA_HOME=$WORK/helm/data

ok "helm install" helm install demo "$CHART"
expect_match "deployed" 'STATUS: deployed' "$OUT"
ok "objects created" kube get cm demo-config -o jsonpath='{.data.message}'
expect_eq "configmap from chart" "hello" "$OUT"
ok "release secret" kube get secrets -l owner=helm -o name
expect_match "release stored as a secret" 'secret/sh.helm.release.v1.demo.v1' "$OUT"

ok "helm upgrade" helm upgrade demo "$CHART" --set replicas=3 --set message=changed
ok "upgraded deployment" kube get deploy demo-web -o jsonpath='{.spec.replicas}'
expect_eq "replicas from upgrade" "3" "$OUT"
ok "upgraded configmap" kube get cm demo-config -o jsonpath='{.data.message}'
expect_eq "message from upgrade" "changed" "$OUT"
ok "helm history" helm history demo
expect_match "two revisions" '^2 ' "$OUT"

ok "helm rollback" helm rollback demo 1
ok "rolled back" kube get deploy demo-web -o jsonpath='{.spec.replicas}'
expect_eq "replicas after rollback" "1" "$OUT"
ok "rolled back cm" kube get cm demo-config -o jsonpath='{.data.message}'
expect_eq "message after rollback" "hello" "$OUT"

ok "helm list" helm list
expect_match "listed" '^demo[[:space:]]' "$OUT"
ok "helm uninstall" helm uninstall demo
ko "deployment gone" kube get deploy demo-web
ko "service gone" kube get svc demo-svc
ok "no release secrets" kube get secrets -l owner=helm -o name
expect_eq "release secrets removed" "" "$OUT"
done_testing
