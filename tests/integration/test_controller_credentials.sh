#!/usr/bin/env bash
# kube-controller-manager with --use-service-account-credentials over the
# secure port with RBAC (as kubeadm runs it): it authenticates as
# system:kube-controller-manager with a client certificate, makes the
# kube-system service account of each controller, and each controller then
# writes as that account, allowed by exactly upstream's bootstrap roles
# (the system:controller:* ClusterRoles, and the namespaced Roles of
# kube-system and kube-public for the bootstrap signer and token cleaner).
# Who made each write is read from the API server's audit log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pki_lib.sh"

pki_ca
client_cert admin "/O=system:masters/CN=kubernetes-admin"
client_cert kcm "/CN=system:kube-controller-manager"
cat >"$WORK/policy.yaml" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, update, patch, delete]
YAML
SPORT=$(free_port)
start_apiserver --secure-port="$SPORT" --bind-address=127.0.0.1 --cert-dir="$WORK/certs" \
  --client-ca-file="$PKI/ca.crt" --authorization-mode=Node,RBAC \
  --audit-policy-file="$WORK/policy.yaml" --audit-log-path="$WORK/audit.log"
S=https://127.0.0.1:$SPORT
kcfg() { # NAME CERT
  cat >"$WORK/$1.kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: s
  cluster: {server: "$S", certificate-authority: "$WORK/certs/apiserver.crt"}
users:
- name: u
  user: {client-certificate: "$PKI/$2.crt", client-key: "$PKI/$2.key"}
contexts:
- name: c
  context: {cluster: s, user: u, namespace: default}
current-context: c
KCFG
}
kcfg admin admin
kcfg kcm kcm
export KUBECONFIG=$WORK/admin.kubeconfig

"$KUBE_BIN/controller-manager/kube-controller-manager" --kubeconfig="$WORK/kcm.kubeconfig" --secure-port=0 \
  --leader-elect=false --use-service-account-credentials --controllers='*,bootstrapsigner,tokencleaner' \
  --v=2 >>"$WORK/controller-manager.log" 2>&1 &
PIDS+=("$!")

for sa in deployment-controller replicaset-controller bootstrap-signer token-cleaner generic-garbage-collector \
  certificate-controller; do
  wait_until "the controller-manager made service account kube-system/$sa" 150 \
    kube -n kube-system get serviceaccount "$sa"
done

# who: the user of the audited VERB of RESOURCE named NAME (a regex)
who() {
  python3 - "$WORK/audit.log" "$@" <<'PY'
import json, re, sys
log, verb, res, name = sys.argv[1:5]
users = set()
for line in open(log):
    e = json.loads(line)
    o = e.get("objectRef") or {}
    if e.get("verb") == verb and o.get("resource") == res and re.fullmatch(name, o.get("name") or "") \
       and e.get("stage") == "ResponseComplete" and e.get("responseStatus", {}).get("code", 0) < 300:
        users.add(e["user"]["username"])
print(" ".join(sorted(users)))
PY
}
has_writer() { [[ " $(who "$1" "$2" "$3") " == *" $4 "* ]]; }
SA=system:serviceaccount:kube-system

# workloads: the Deployment's ReplicaSet and its pods, each by its controller
kube create deployment web --image=nginx:1.25 --replicas=2 >/dev/null
wait_until "the deployment controller made the ReplicaSet as $SA:deployment-controller" 150 \
  has_writer create replicasets 'web-.*' "$SA:deployment-controller"
wait_until "the replicaset controller made the pods as $SA:replicaset-controller" 150 \
  has_writer create pods 'web-.*' "$SA:replicaset-controller"
expect_eq "no workload write went as the controller-manager's own identity" "" \
  "$(who create pods 'web-.*' | tr ' ' '\n' | grep -v "^$SA:" || true)"

# the namespaced bootstrap Roles: the signer updates kube-public/cluster-info,
# the cleaner deletes an expired token in kube-system
kube -n kube-public create configmap cluster-info --from-literal=kubeconfig="apiVersion: v1
kind: Config
" >/dev/null
kube -n kube-system create secret generic bootstrap-token-abcdef --type=bootstrap.kubernetes.io/token \
  --from-literal=token-id=abcdef --from-literal=token-secret=0123456789abcdef \
  --from-literal=usage-bootstrap-signing=true >/dev/null
wait_until "the bootstrap signer signed cluster-info as $SA:bootstrap-signer" 150 \
  has_writer update configmaps cluster-info "$SA:bootstrap-signer"
kube -n kube-system create secret generic bootstrap-token-old000 --type=bootstrap.kubernetes.io/token \
  --from-literal=token-id=old000 --from-literal=token-secret=0123456789abcdef \
  --from-literal=expiration=2020-01-01T00:00:00Z >/dev/null
wait_until "the token cleaner deleted the expired token as $SA:token-cleaner" 150 \
  has_writer delete secrets bootstrap-token-old000 "$SA:token-cleaner"

# Events too go as the controller's account
wait_until "the deployment controller's Events are written as $SA:deployment-controller" 150 \
  has_writer create events 'web.*' "$SA:deployment-controller"

# each account holds its role and nothing more
OUT=$(kubectl auth can-i delete secrets -n default --as="$SA:deployment-controller" 2>&1 || true)
expect_eq "the deployment controller's account may not delete secrets" "no" "$OUT"
OUT=$(kubectl auth can-i delete secrets -n default --as="$SA:token-cleaner" 2>&1 || true)
expect_eq "the token cleaner may delete secrets only in kube-system" "no" "$OUT"
OUT=$(kubectl auth can-i delete secrets -n kube-system --as="$SA:token-cleaner" 2>&1 || true)
expect_eq "... where it may" "yes" "$OUT"
expect_match "no controller was refused (no 403 in its log)" '^0$' \
  "$(grep -c 'is forbidden' "$WORK/controller-manager.log" || true)"
done_testing
