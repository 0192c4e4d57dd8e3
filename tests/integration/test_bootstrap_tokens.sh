#!/usr/bin/env bash
# The bootstrap token controllers of kube-controller-manager
# (--controllers=...,bootstrapsigner,tokencleaner, as kubeadm runs it):
#  - bootstrapsigner signs kube-public/cluster-info's kubeconfig with every
#    token whose usage-bootstrap-signing is "true"; the signature is checked
#    here independently (HMAC-SHA256 over the JWS signing input, as a
#    joining node does), and goes when its token is deleted or expires;
#  - tokencleaner deletes a token once its expiration has passed, leaves
#    one without (or with an unparseable) expiration, and never touches a
#    Secret of another type.
source "$(dirname "$0")/lib.sh"

start_apiserver
"$KUBE_BIN/controller-manager/kube-controller-manager" --kubeconfig="$WORK/kubeconfig" --secure-port=0 \
  --leader-elect=false --controllers=bootstrapsigner,tokencleaner --v=3 >>"$WORK/controller-manager.log" 2>&1 &
PIDS+=("$!")

# token NAME-ID SECRET [EXPIRATION] [USAGE...]: a bootstrap token Secret
token() {
  local id=$1 secret=$2 exp=${3:-} args=()
  shift 3 || shift $#
  [[ -n "$exp" ]] && args+=(--from-literal=expiration="$exp")
  local u
  for u in "$@"; do args+=(--from-literal="usage-bootstrap-$u=true"); done
  kube -n kube-system create secret generic "bootstrap-token-$id" --type=bootstrap.kubernetes.io/token \
    --from-literal=token-id="$id" --from-literal=token-secret="$secret" "${args[@]}" >/dev/null
}
in_secs() { date -u -d "+$1 seconds" +%Y-%m-%dT%H:%M:%SZ; }

# sig_ok ID SECRET: cluster-info carries a valid detached JWS for the token
sig_ok() {
  kube -n kube-public get configmap cluster-info -o json | python3 -c '
import base64, hashlib, hmac, json, sys
tid, secret = sys.argv[1], sys.argv[2]
data = json.load(sys.stdin)["data"]
sig = data.get("jws-kubeconfig-" + tid)
if not sig: sys.exit("no signature for " + tid)
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head, empty, mac = sig.split(".")
assert empty == "", "not detached"
assert json.loads(base64.urlsafe_b64decode(head + "==")) == {"alg": "HS256", "kid": tid}, "header"
want = b64(hmac.new(secret.encode(), (head + "." + b64(data["kubeconfig"].encode())).encode(), hashlib.sha256).digest())
sys.exit(0 if mac == want else "bad signature")' "$1" "$2"
}
no_sig() { ! kube -n kube-public get configmap cluster-info -o jsonpath="{.data.jws-kubeconfig-$1}" | grep -q .; }
gone() { ! kube -n kube-system get secret "bootstrap-token-$1" >/dev/null 2>&1; }

kube -n kube-public create configmap cluster-info --from-literal=kubeconfig="apiVersion: v1
kind: Config
clusters:
- name: \"\"
  cluster:
    server: https://127.0.0.1:6443
" >/dev/null
token abcdef 0123456789abcdef "" signing authentication
wait_until "cluster-info signed with token abcdef (signature verified independently)" 150 sig_ok abcdef 0123456789abcdef
token nosign 1111111111111111 "" authentication
token later1 2222222222222222 "$(in_secs 6)" signing
wait_until "a second signing token is added" 150 sig_ok later1 2222222222222222
expect_match "a token without usage-bootstrap-signing does not sign" '^$' \
  "$(kube -n kube-public get configmap cluster-info -o jsonpath='{.data.jws-kubeconfig-nosign}')"

# a changed kubeconfig is signed again
kube -n kube-public patch configmap cluster-info --type=merge \
  -p '{"data":{"kubeconfig":"apiVersion: v1\nkind: Config\nclusters: []\n"}}' >/dev/null
wait_until "an edited kubeconfig is signed again" 150 sig_ok abcdef 0123456789abcdef

# expiry: the signature goes and the cleaner deletes the token
token garbag 3333333333333333 "not-a-time" signing
kube -n kube-system create secret generic expired-but-opaque --from-literal=expiration="$(in_secs -60)" >/dev/null
wait_until "an expired token's signature is removed" 150 no_sig later1
wait_until "tokencleaner deletes the expired token" 150 gone later1
expect_match "a token with an unparseable expiration is left alone" "bootstrap-token-garbag" \
  "$(kube -n kube-system get secrets -o name)"
expect_match "a Secret of another type is never cleaned" "expired-but-opaque" "$(kube -n kube-system get secrets -o name)"

# a deleted token's signature goes
kube -n kube-system delete secret bootstrap-token-abcdef >/dev/null
wait_until "a deleted token's signature is removed" 150 no_sig abcdef
expect_match "other keys of cluster-info are kept" "kubeconfig" \
  "$(kube -n kube-public get configmap cluster-info -o jsonpath='{.data}')"
expect_match "the cleaner logged the deletion" "Deleting expired secret kube-system/bootstrap-token-later1" \
  "$(cat "$WORK/controller-manager.log")"
done_testing
