#!/usr/bin/env bash
# --enable-admission-plugins / --disable-admission-plugins (security
# issue): upstream's names turn the built-in plugins off and on; upstream
# plugins this server lacks are accepted with a warning; unknown names and
# a plugin both enabled and disabled are refused naming the flag.
source "$(dirname "$0")/lib.sh"
start_apiserver --disable-admission-plugins=NamespaceLifecycle,ServiceAccount --enable-admission-plugins=PodSecurity
OUT=$(kube create configmap c1 -n ghost --from-literal=a=b 2>&1) || fail "NamespaceLifecycle off: $OUT"
pass "NamespaceLifecycle off: a configmap in a namespace that does not exist is created"
OUT=$(kube run p1 --image=busybox --restart=Never 2>&1) || fail "ServiceAccount off: $OUT"
pass "ServiceAccount off: a pod without its service account is created"
expect_match "an absent upstream plugin is a warning" "PodSecurity is not built into this API server" "$(cat "$WORK/apiserver.log")"

kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
API_PORT='' start_apiserver
OUT=$(kube create configmap c2 -n ghost2 --from-literal=a=b 2>&1) && fail "NamespaceLifecycle on by default: $OUT"
expect_match "by default NamespaceLifecycle refuses it" 'namespaces "ghost2" not found' "$OUT"
OUT=$(kube run p2 --image=busybox --restart=Never 2>&1) && fail "ServiceAccount on by default: $OUT"
expect_match "by default ServiceAccount refuses a pod without its account" 'serviceaccount "default" not found' "$OUT"

for bad in "--enable-admission-plugins=Bogus" "--disable-admission-plugins=LimitRanger,Nope"; do
  rc=0
  OUT=$(timeout 10 "$KUBE_BIN/apiserver/kube-apiserver" --data-dir="$WORK/bad" --secure-port=0 "$bad" 2>&1) || rc=$?
  expect_eq "$bad refused" 1 "$rc"
  expect_match "$bad named" "${bad%%=*}: admission plugin \"(Bogus|Nope)\" is unknown" "$OUT"
done
rc=0
OUT=$(timeout 10 "$KUBE_BIN/apiserver/kube-apiserver" --data-dir="$WORK/bad" --secure-port=0 \
  --enable-admission-plugins=ResourceQuota --disable-admission-plugins=ResourceQuota 2>&1) || rc=$?
expect_eq "enabled and disabled at once refused" 1 "$rc"
expect_match "naming the plugin" "ResourceQuota in --enable-admission-plugins and --disable-admission-plugins" "$OUT"
echo "# $CHECKS checks passed"
