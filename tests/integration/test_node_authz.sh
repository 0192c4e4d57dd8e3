#!/usr/bin/env bash
# The Node authorizer and NodeRestriction admission on the secure port
# (--authorization-mode=Node,RBAC, --client-ca-file), with two kubelet
# credentials (client certificates CN=system:node:n1 / n2 in
# O=system:nodes) and the real kubectl: a node reads the secret of a pod
# bound to it but not one of another node's pod (403 with upstream's
# reason), cannot list secrets, writes its own Node's status but not
# another's, cannot set a node-restriction.kubernetes.io/ label, and a
# pod deleted or recreated on the other node changes access at once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/pki_lib.sh"
pki_ca
client_cert n1 "/O=system:nodes/CN=system:node:n1"
client_cert n2 "/O=system:nodes/CN=system:node:n2"
client_cert admin "/O=system:masters/CN=kubernetes-admin"
client_cert hn0 "/O=system:nodes/CN=system:node:hn-0"

SPORT=$(free_port)
start_apiserver --secure-port="$SPORT" --bind-address=127.0.0.1 --cert-dir="$WORK/certs" \
  --client-ca-file="$PKI/ca.crt" --authorization-mode=Node,RBAC
S=https://127.0.0.1:$SPORT
kcfg() { # NAME
  cat >"$WORK/$1.kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: s
  cluster: {server: "$S", certificate-authority: "$WORK/certs/apiserver.crt"}
users:
- name: u
  user: {client-certificate: "$PKI/$1.crt", client-key: "$PKI/$1.key"}
contexts:
- name: c
  context: {cluster: s, user: u, namespace: default}
current-context: c
KCFG
}
kcfg n1
kcfg n2
kcfg admin
kcfg hn0
ks() { local k=$1; shift; kubectl --cache-dir "$WORK/kcache-$k" --kubeconfig "$WORK/$k.kubeconfig" "$@"; }
forbidden() { # NODE VERB RESOURCE NAME
  printf 'User "system:node:%s" cannot %s resource "%s" in API group "" in the namespace "default"' "$1" "$2" "$3"
}

node_yaml() { printf 'apiVersion: v1\nkind: Node\nmetadata: {name: %s}\n' "$1"; }
pod_yaml() { # NAME NODE SECRET
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: default}
spec:
  nodeName: $2
  automountServiceAccountToken: false
  containers: [{name: c, image: busybox, envFrom: [{configMapRef: {name: cm-$1}}]}]
  volumes: [{name: s, secret: {secretName: $3}}]
YAML
}
ok "the admin creates the nodes" bash -c "$(declare -f node_yaml); { node_yaml n1; echo ---; node_yaml n2; } | kubectl --kubeconfig '$WORK/admin.kubeconfig' create -f -"
ok "and two secrets" ks admin create secret generic s1 --from-literal=k=one
ok "(s2)" ks admin create secret generic s2 --from-literal=k=two
ok "a configmap" ks admin create configmap cm-p1 --from-literal=a=b
ok "the default service account (no controller-manager here)" ks admin create serviceaccount default
ok "a pod on n1 mounting s1" bash -c "$(declare -f pod_yaml); pod_yaml p1 n1 s1 | kubectl --kubeconfig '$WORK/admin.kubeconfig' create -f -"
ok "a pod on n2 mounting s2" bash -c "$(declare -f pod_yaml); pod_yaml p2 n2 s2 | kubectl --kubeconfig '$WORK/admin.kubeconfig' create -f -"

# ---- reads ----
wait_until "n1 gets the secret of its pod" 50 ks n1 get secret s1 -o jsonpath='{.data.k}'
ok "read again" ks n1 get secret s1 -o jsonpath='{.data.k}'
expect_eq "with its data" "$(printf one | base64)" "$OUT"
ok "and the configmap its pod names" ks n1 get configmap cm-p1 -o jsonpath='{.data.a}'
ko "n1 cannot get the secret of n2's pod" ks n1 get secret s2
expect_match "403 with the Node authorizer's reason" \
  "secrets \"s2\" is forbidden: $(forbidden n1 get secrets): no relationship found between node 'n1' and this object" "$OUT"
ok "n2 can" ks n2 get secret s2
ko "n1 cannot list secrets" ks n1 get secrets
expect_match "upstream's reason" "secrets is forbidden: $(forbidden n1 list secrets): No Object name found" "$OUT"
ko "n1 cannot create a secret" ks n1 create secret generic mine --from-literal=a=b
expect_match "only reads" "can only read resources of this type" "$OUT"
ok "the system:node rules still apply: n1 lists pods" ks n1 get pods
expect_match "and sees both" "p2" "$OUT"
OUT=$(curl -sS --cacert "$WORK/certs/apiserver.crt" --cert "$PKI/n1.crt" --key "$PKI/n1.key" \
  -o /dev/null -w '%{http_code}' "$S/api/v1/namespaces/default/secrets/s2")
expect_eq "curl sees a 403" "403" "$OUT"

# ---- node writes (NodeRestriction) ----
# A kubelet PATCHes status directly (kubectl patch --subresource would GET
# nodes/status first, which the system:node rules do not grant).
cpatch() { # NODE PATH BODY: merge patch with the node's certificate; fails unless 2xx
  local code
  code=$(curl -sS --cacert "$WORK/certs/apiserver.crt" --cert "$PKI/$1.crt" --key "$PKI/$1.key" -X PATCH \
    -H 'Content-Type: application/merge-patch+json' -d "$3" -o "$WORK/patch.out" -w '%{http_code}' "$S$2")
  sed 's/\\"/"/g' "$WORK/patch.out" # the Status, its quotes unescaped for the checks
  [[ $code == 2* ]]
}
ok "n1 patches its own Node status" cpatch n1 /api/v1/nodes/n1/status \
  '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"ok"}]}}'
expect_eq "the condition is stored" "KubeletReady" \
  "$(ks admin get node n1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')"
ko "but not n2's" cpatch n1 /api/v1/nodes/n2/status '{"status":{"phase":"Running"}}'
expect_match "upstream's message" 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"' "$OUT"
ko "n1 cannot set a node-restriction.kubernetes.io/ label" ks n1 label node n1 node-restriction.kubernetes.io/team=a
expect_match "named in the refusal" \
  'nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/team' "$OUT"
ok "a kubelet label is fine" ks n1 label node n1 node.kubernetes.io/exclude-from-external-load-balancers=true
ok "the admin may set it" ks admin label node n1 node-restriction.kubernetes.io/team=a
ok "n1 updates the status of its pod" cpatch n1 /api/v1/namespaces/default/pods/p1/status '{"status":{"phase":"Running"}}'
ko "not of n2's" cpatch n1 /api/v1/namespaces/default/pods/p2/status '{"status":{"phase":"Running"}}'
expect_match "upstream's message" \
  'pods "p2" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself' "$OUT"
ko "n1 cannot delete n2's pod" ks n1 delete pod p2 --wait=false
expect_match "upstream's message" 'node "n1" can only delete pods with spec.nodeName set to itself' "$OUT"
ko "n1 cannot create a regular pod" bash -c "$(declare -f pod_yaml); pod_yaml p3 n1 s1 | kubectl --kubeconfig '$WORK/n1.kubeconfig' create -f -"
expect_match "only mirror pods" 'can only create mirror pods' "$OUT"

cpost() { # NODE PATH BODY: POST with the node's certificate; fails unless 2xx
  local code
  code=$(curl -sS --cacert "$WORK/certs/apiserver.crt" --cert "$PKI/$1.crt" --key "$PKI/$1.key" -X POST \
    -H 'Content-Type: application/json' -d "$3" -o "$WORK/post.out" -w '%{http_code}' "$S$2")
  sed 's/\\"/"/g' "$WORK/post.out"
  [[ $code == 2* ]]
}
ko "n1 cannot evict n2's pod" cpost n1 /api/v1/namespaces/default/pods/p2/eviction \
  '{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"p2","namespace":"default"}}'
expect_match "upstream's message" 'pods "p2" is forbidden: node n1 can only evict pods with spec.nodeName set to itself' "$OUT"

# ---- service account tokens ----
UID1=$(ks admin get pod p1 -o jsonpath='{.metadata.uid}')
UID2=$(ks admin get pod p2 -o jsonpath='{.metadata.uid}')
ok "n1 gets a token for its pod's service account, bound to the pod" \
  ks n1 create token default --bound-object-kind=Pod --bound-object-name=p1 --bound-object-uid="$UID1"
ko "not one bound to n2's pod" \
  ks n1 create token default --bound-object-kind=Pod --bound-object-name=p2 --bound-object-uid="$UID2"
expect_match "upstream's message" 'node requested token bound to a pod scheduled on a different node' "$OUT"
ko "nor an unbound one" ks n1 create token default
expect_match "upstream's message" 'serviceaccounts "default" is forbidden: node requested token not bound to a pod' "$OUT"
ok "the admin makes a service account no pod uses" ks admin create serviceaccount lonely
ko "n1 cannot get its tokens" ks n1 create token lonely --bound-object-kind=Pod --bound-object-name=p1 --bound-object-uid="$UID1"
expect_match "the Node authorizer refuses" \
  "serviceaccounts \"lonely\" is forbidden: $(forbidden n1 create serviceaccounts/token): no relationship found between node 'n1' and this object" "$OUT"

# ---- the graph follows pods at once ----
ok "the admin deletes p1" ks admin delete pod p1 --grace-period=0 --force --wait=false
gone() { ! ks n1 get secret s1 >/dev/null 2>&1; }
wait_until "n1 loses s1" 50 gone
ko "a get after the delete is refused" ks n1 get secret s1
expect_match "no relationship any more" "no relationship found between node 'n1' and this object" "$OUT"
ok "p1 comes back on n2" bash -c "$(declare -f pod_yaml); pod_yaml p1 n2 s1 | kubectl --kubeconfig '$WORK/admin.kubeconfig' create -f -"
wait_until "n2 now reads s1" 50 ks n2 get secret s1
ko "n1 still cannot" ks n1 get secret s1
ok "the admin deletes p2" ks admin delete pod p2 --grace-period=0 --force --wait=false
gone2() { ! ks n2 get secret s2 >/dev/null 2>&1; }
wait_until "n2 loses s2" 50 gone2

# ---- a kubelet's own flow under Node,RBAC and NodeRestriction ----
# hollow_node plays the kubelet with hn-0's certificate: it registers its
# Node, posts its status, renews its Lease and runs the pods bound to it.
KUBECONFIG="$WORK/hn0.kubeconfig" start_hollow hollow hn- 1
hn_ready() { [[ $(ks admin get node hn-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]; }
wait_until "a kubelet with hn-0's certificate registers its Node and reports Ready" 150 hn_ready
wait_until "and renews its own Lease" 150 ks admin get lease hn-0 -n kube-node-lease
ok "a pod bound to hn-0" bash -c "$(declare -f pod_yaml); pod_yaml p4 hn-0 s1 | kubectl --kubeconfig '$WORK/admin.kubeconfig' create -f -"
p4_running() { [[ $(ks admin get pod p4 -o jsonpath='{.status.phase}') == Running ]]; }
wait_until "is reported Running by the node" 150 p4_running
ok "hn-0 reads the secret p4 mounts" ks hn0 get secret s1
expect_no_match "the node was refused nothing" "Forbidden|forbidden" "$(cat "$WORK/hollow.log")"

done_testing
