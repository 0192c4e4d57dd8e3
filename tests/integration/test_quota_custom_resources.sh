#!/usr/bin/env bash
# Quota over custom resources (extension issue): a ResourceQuota with
# count/crontabs.stable.example.com is enforced at admission and its
# status.used is kept by the resourcequota controller, which finds the
# resource through discovery the first time a quota names it; a built-in
# kind it has no cache for (count/roles.rbac.authorization.k8s.io) is
# counted the same way.
source "$(dirname "$0")/lib.sh"
FIX=$(cd "$(dirname "$0")/fixtures" && pwd)
start_apiserver
"$KUBE_BIN/controller-manager/kube-controller-manager" --kubeconfig="$WORK/kubeconfig" --secure-port=0 \
  --leader-elect=false --controllers=resourcequota --v=2 >>"$WORK/controller-manager.log" 2>&1 &
PIDS+=("$!")
ok "CRD created" kube apply -f "$FIX/crd-crontab.yaml"
wait_until "CRD established" 50 kube wait --for condition=established --timeout=5s crd/crontabs.stable.example.com
ct() { # NAME
  kube apply -f - <<YAML
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: $1}
spec: {cronSpec: "* * * * *", replicas: 1}
YAML
}
ok "one CronTab before the quota" ct first
kube create quota crs --hard=count/crontabs.stable.example.com=2,count/roles.rbac.authorization.k8s.io=1 >/dev/null
used() { kube get quota crs -o jsonpath="{.status.used['count/$1']}"; }
wait_until "status.used counts the CronTab" 150 bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get quota crs -o jsonpath=\"{.status.used['count/crontabs\\.stable\\.example\\.com']}\") == 1 ]]"
wait_until "and no Roles" 150 bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get quota crs -o jsonpath=\"{.status.used['count/roles\\.rbac\\.authorization\\.k8s\\.io']}\") == 0 ]]"
ok "a second CronTab fits" ct second
wait_until "status.used follows (2)" 150 bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get quota crs -o jsonpath=\"{.status.used['count/crontabs\\.stable\\.example\\.com']}\") == 2 ]]"
ko "a third is refused" ct third
expect_match "with upstream's quota message" 'exceeded quota: crs, requested: count/crontabs.stable.example.com=1, used: count/crontabs.stable.example.com=2, limited: count/crontabs.stable.example.com=2' "$OUT"
ok "deleting one" kube delete crontab first
wait_until "frees its share (1)" 150 bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get quota crs -o jsonpath=\"{.status.used['count/crontabs\\.stable\\.example\\.com']}\") == 1 ]]"
ok "so a new one fits" ct third
kube create role r1 --verb=get --resource=pods >/dev/null
wait_until "Roles are counted too" 150 bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get quota crs -o jsonpath=\"{.status.used['count/roles\\.rbac\\.authorization\\.k8s\\.io']}\") == 1 ]]"
done_testing
