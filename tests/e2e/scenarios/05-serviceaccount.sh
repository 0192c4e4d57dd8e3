# 05-serviceaccount: a pod as `kubectl run` makes it, with the default
# ServiceAccount's credentials automounted (a projected token, the cluster
# CA from kube-root-ca.crt, the namespace), starts and finds them under
# /var/run/secrets/kubernetes.io/serviceaccount.
NS=e2e-$E2E_SCENARIO
kube create namespace "$NS" >/dev/null || fail "create namespace $NS"
if ! token_request_served; then
  waiting "the API server does not serve serviceaccounts/token (TokenRequest, the security issue), so no pod with automounted credentials can start"
fi
node=$(ready_nodes | head -1)
ok "a pod with automounted credentials" pod_run sa "$node" 'ls /var/run/secrets/kubernetes.io/serviceaccount; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace'
expect_match "token, CA and namespace" 'ca\.crt' "$OUT"
expect_match "namespace file" "^$NS\$" "$OUT"
