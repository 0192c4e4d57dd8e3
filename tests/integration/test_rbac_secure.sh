#!/usr/bin/env bash
# RBAC on the secure port with real users (token file) and the real
# kubectl: a user bound to `view` gets but cannot create (upstream's
# Forbidden text), `kubectl auth can-i` and `can-i --list` answer for the
# user, and role and binding writes that would grant more than the writer
# holds are refused unless it may `escalate` or `bind`.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"

cat >"$WORK/tokens.csv" <<'CSV'
admintoken,it-admin,100,"system:masters"
janetoken,jane,101,"devs"
leadtoken,lead,102,"devs"
CSV
SPORT=$(free_port)
start_apiserver --secure-port="$SPORT" --bind-address=127.0.0.1 --cert-dir="$WORK/certs" \
  --token-auth-file="$WORK/tokens.csv" --authorization-mode=Node,RBAC
# the aggregation controller fills view/edit/admin (over the insecure port)
start_controller_manager controller-manager --leader-elect=false --controllers=clusterrole-aggregation
S=https://127.0.0.1:$SPORT
kcfg() { # NAME TOKEN
  cat >"$WORK/$1.kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: s
  cluster: {server: "$S", certificate-authority: "$WORK/certs/apiserver.crt"}
users:
- name: u
  user: {token: $2}
contexts:
- name: c
  context: {cluster: s, user: u, namespace: rbac-s}
current-context: c
KCFG
}
kcfg admin admintoken
kcfg jane janetoken
kcfg lead leadtoken
ks() { local k=$1; shift; kubectl --cache-dir "$WORK/kcache-$k" --kubeconfig "$WORK/$k.kubeconfig" "$@"; }

ok "the admin (system:masters) creates a namespace" ks admin create namespace rbac-s
ok "jane is bound to view in rbac-s" ks admin create rolebinding jane-view --clusterrole=view --user=jane
ok "lead is bound to admin in rbac-s" ks admin create rolebinding lead-admin --clusterrole=admin --user=lead
ok "a configmap to read" ks admin create configmap settings --from-literal=a=b
view_filled() { kube get clusterrole view -o jsonpath='{.rules[*].resources}' | grep -q configmaps; }
wait_until "view is aggregated" 150 view_filled
admin_filled() { kube get clusterrole admin -o jsonpath='{.rules[*].resources}' | grep -q rolebindings; }
wait_until "admin is aggregated" 150 admin_filled

# ---- view: get, not create ----
ok "jane reads configmaps" ks jane get configmap settings -o jsonpath='{.data.a}'
expect_eq "and sees the data" "b" "$OUT"
ok "jane lists pods" ks jane get pods
ko "jane cannot create" ks jane create configmap mine --from-literal=x=y
expect_match "kubectl prints upstream's Forbidden" \
  'configmaps is forbidden: User "jane" cannot create resource "configmaps" in API group "" in the namespace "rbac-s"' "$OUT"
ko "nor read secrets (view leaves them out)" ks jane get secrets
expect_match "named in the message" 'secrets is forbidden: User "jane" cannot list resource "secrets"' "$OUT"
ko "nor delete the configmap" ks jane delete configmap settings
expect_match "a named request names the object" \
  'configmaps "settings" is forbidden: User "jane" cannot delete resource "configmaps" in API group "" in the namespace "rbac-s"' "$OUT"
ko "nor list pods in default" ks jane get pods -n default
expect_match "in the namespace default" 'in the namespace "default"' "$OUT"
ko "nor list nodes" ks jane get nodes
expect_match "at the cluster scope" 'nodes is forbidden: User "jane" cannot list resource "nodes" in API group "" at the cluster scope' "$OUT"

# ---- can-i, for the caller ----
expect_eq "can-i get pods" "yes" "$(ks jane auth can-i get pods 2>&1)"
expect_eq "can-i create pods" "no" "$(ks jane auth can-i create pods 2>&1)"
expect_eq "can-i get pods in default" "no" "$(ks jane auth can-i get pods -n default 2>&1)"
expect_eq "can-i create selfsubjectaccessreviews (system:basic-user)" "yes" \
  "$(ks jane auth can-i create selfsubjectaccessreviews.authorization.k8s.io 2>/dev/null)"
ok "can-i --list" ks jane auth can-i --list
expect_match "lists view's rules" '^configmaps +\[\] +\[\] +\[get list watch\]' "$OUT"
expect_match "and system:basic-user's" '^selfsubjectaccessreviews.authorization.k8s.io +\[\] +\[\] +\[create\]' "$OUT"
expect_no_match "and nothing more" '^secrets ' "$OUT"
expect_eq "the admin can-i anything" "yes" "$(ks admin auth can-i delete nodes 2>/dev/null)"

# ---- escalation ----
ok "lead (admin in rbac-s) grants what it holds" ks lead create role pod-reader --verb=get,list --resource=pods
ko "but not what it does not hold" ks lead create role node-reader --verb=get --resource=nodes
expect_match "refused with upstream's message" \
  'roles.rbac.authorization.k8s.io "node-reader" is forbidden: user "lead" \(groups=\["devs" "system:authenticated"\]\) is attempting to grant RBAC permissions not currently held:' "$OUT"
expect_match "naming the missing rule" '\{APIGroups:\[""\], Resources:\["nodes"\], Verbs:\["get"\]\}' "$OUT"
ok "lead binds a role it holds" ks lead create rolebinding jane-pods --role=pod-reader --user=jane
ko "lead cannot bind cluster-admin" ks lead create rolebinding jane-root --clusterrole=cluster-admin --user=jane
expect_match "the binding is refused" \
  'rolebindings.rbac.authorization.k8s.io "jane-root" is forbidden: user "lead" .* is attempting to grant RBAC permissions not currently held' "$OUT"
ko "jane (view) cannot write roles at all" ks jane create role r --verb=get --resource=pods
expect_match "the authorizer refuses first" 'roles.rbac.authorization.k8s.io is forbidden: User "jane" cannot create resource "roles"' "$OUT"
ok "the admin gives lead escalate on roles in rbac-s" ks admin create role escalator \
  --verb=escalate --resource=roles.rbac.authorization.k8s.io
ok "bound" ks admin create rolebinding lead-escalate --role=escalator --user=lead
wait_until "lead may now create the role" 50 ks lead create role node-reader --verb=get --resource=nodes
ok "the admin gives lead bind on cluster-admin" ks admin create role binder --verb=bind \
  --resource=clusterroles.rbac.authorization.k8s.io --resource-name=cluster-admin
ok "bound" ks admin create rolebinding lead-bind --role=binder --user=lead
wait_until "lead may now bind it" 50 ks lead create rolebinding jane-root --clusterrole=cluster-admin --user=jane
wait_until "and jane holds it in rbac-s" 50 bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache-jane' --kubeconfig '$WORK/jane.kubeconfig' auth can-i create secrets) == yes ]]"
expect_eq "only in rbac-s" "no" "$(ks jane auth can-i create secrets -n default 2>&1)"

done_testing
