#!/usr/bin/env bash
# Secrets encrypted at rest (security issue): --encryption-provider-config
# with aescbc, aesgcm and secretbox; the bytes in the SQLite files are
# ciphertext with upstream's k8s:enc: prefix, kubectl reads them back, and
# upstream's key rotation procedure works (add a key, restart, make it
# first, restart, `kubectl get secrets -A -o json | kubectl replace -f -`,
# drop the old key).  Bad configurations are refused naming the field.
source "$(dirname "$0")/lib.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)
key() { head -c "$1" /dev/urandom | base64 -w0; }
K1=$(key 32) K2=$(key 32) K3=$(key 32)
conf() { # FILE PROVIDERS-YAML
  cat >"$1" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
$2
EOF
}
P_CBC1="  - aescbc: {keys: [{name: key1, secret: $K1}]}"
P_GCM2="  - aesgcm: {keys: [{name: key2, secret: $K2}]}"
P_BOX3="  - secretbox: {keys: [{name: key3, secret: $K3}]}"
P_ID="  - identity: {}"

# stored VALUE-PREFIX of a key: the raw value SQLite holds (WAL included)
stored() {
  "$PY" - "$WORK/data/state.db" "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
row = db.execute("SELECT value FROM log WHERE key = ? ORDER BY rev DESC LIMIT 1", (sys.argv[2],)).fetchone()
print(bytes(row[0])[:40].decode("latin-1") if row else "")
EOF
}
restart() { # extra flags
  if [[ -n "${API_PID:-}" ]]; then kill "$API_PID"; wait "$API_PID" 2>/dev/null || true; fi
  start_apiserver "$@"
}
plaintext_on_disk() { cat "$WORK"/data/state.db* 2>/dev/null | grep -c "$1" || true; }

# a secret written before encryption is plaintext on disk
API_PORT=$(free_port)
start_apiserver
kube create secret generic before --from-literal=password=plainvalue0001 >/dev/null
expect_match "without a configuration: stored as JSON" '^\{' "$(stored /registry/secrets/default/before)"

conf "$WORK/enc1.yaml" "$P_CBC1
$P_ID"
restart --encryption-provider-config="$WORK/enc1.yaml"
kube create secret generic s1 --from-literal=password=topsecretvalue01 >/dev/null
kube create configmap c1 --from-literal=note=openvalue0001 >/dev/null
expect_match "a new secret is aescbc ciphertext" '^k8s:enc:aescbc:v1:key1:' "$(stored /registry/secrets/default/s1)"
expect_eq "its value nowhere in the files" 0 "$(plaintext_on_disk topsecretvalue01)"
expect_match "configmaps are not in the configuration: plaintext" '^\{' "$(stored /registry/configmaps/default/c1)"
OUT=$(kube get secret s1 -o jsonpath='{.data.password}' | base64 -d)
expect_eq "kubectl reads it back" topsecretvalue01 "$OUT"
OUT=$(kube get secret before -o jsonpath='{.data.password}' | base64 -d)
expect_eq "the plaintext one is read through identity" plainvalue0001 "$OUT"

restart --encryption-provider-config="$WORK/enc1.yaml"
OUT=$(kube get secret s1 -o jsonpath='{.data.password}' | base64 -d)
expect_eq "read back after a restart" topsecretvalue01 "$OUT"

# rotation: add key2 (aesgcm) second, restart; first, restart; rewrite all
conf "$WORK/enc2.yaml" "$P_CBC1
$P_GCM2
$P_ID"
restart --encryption-provider-config="$WORK/enc2.yaml"
conf "$WORK/enc3.yaml" "$P_GCM2
$P_CBC1
$P_ID"
restart --encryption-provider-config="$WORK/enc3.yaml"
expect_match "still key1 until rewritten" '^k8s:enc:aescbc:v1:key1:' "$(stored /registry/secrets/default/s1)"
kube get secrets -A -o json | kube replace -f - >/dev/null
expect_match "replace rewrites with the new first key, though unchanged" '^k8s:enc:aesgcm:v1:key2:' \
  "$(stored /registry/secrets/default/s1)"
expect_match "the plaintext secret is encrypted too" '^k8s:enc:aesgcm:v1:key2:' \
  "$(stored /registry/secrets/default/before)"
conf "$WORK/enc4.yaml" "$P_GCM2"
restart --encryption-provider-config="$WORK/enc4.yaml"
OUT=$(kube get secret s1 -o jsonpath='{.data.password}' | base64 -d)
expect_eq "key1 and identity removed: still readable" topsecretvalue01 "$OUT"

# secretbox, and a value no listed key can read refuses the start
conf "$WORK/enc5.yaml" "$P_BOX3
$P_GCM2"
restart --encryption-provider-config="$WORK/enc5.yaml"
kube create secret generic s3 --from-literal=password=boxedvalue0001 >/dev/null
expect_match "secretbox" '^k8s:enc:secretbox:v1:key3:' "$(stored /registry/secrets/default/s3)"
OUT=$(kube get secret s3 -o jsonpath='{.data.password}' | base64 -d)
expect_eq "secretbox read back" boxedvalue0001 "$OUT"
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
API_PID=
rc=0
OUT=$(timeout 20 "$KUBE_BIN/apiserver/kube-apiserver" --insecure-port="$(free_port)" --secure-port=0 \
  --data-dir="$WORK/data" --encryption-provider-config="$WORK/enc1.yaml" 2>&1) || rc=$?
expect_eq "a value no listed key can read refuses the start" 1 "$rc"
expect_match "naming the object" "reading /registry/secrets/default/[a-z0-9]* at revision [0-9]*: .*no matching prefix" "$OUT"

# bad configurations: upstream's field paths, secrets never printed
bad() { # DESC YAML-PROVIDERS REGEX
  conf "$WORK/bad.yaml" "$2"
  local rc=0 out
  out=$(timeout 10 "$KUBE_BIN/apiserver/kube-apiserver" --data-dir="$WORK/bad" --secure-port=0 \
    --encryption-provider-config="$WORK/bad.yaml" 2>&1) || rc=$?
  expect_eq "$1: refused" 1 "$rc"
  expect_match "$1: named" "$3" "$out"
  grep -q "$K1" <<<"$out" && fail "$1: the key was printed"
  return 0
}
bad "short key" "  - aescbc: {keys: [{name: k, secret: $(key 5)}]}" \
  'resources\[0\].providers\[0\].aescbc.keys\[0\].secret: Invalid value: "REDACTED": secret is not of the expected length, got 5'
bad "not base64" "  - aesgcm: {keys: [{name: k, secret: '***'}]}" 'keys\[0\].secret: Invalid value: "REDACTED": secrets must be base64 encoded'
bad "two kinds in one" "  - {identity: {}, aescbc: {keys: [{name: k, secret: $K1}]}}" 'more than one provider specified'
bad "no keys" "  - secretbox: {}" 'providers\[0\].secretbox.keys: Required value'
bad "duplicate names" "  - aescbc: {keys: [{name: k, secret: $K1}, {name: k, secret: $K1}]}" 'keys\[1\].name: Duplicate value: "k"'
bad "kms" "  - kms: {name: x}" 'kms: Forbidden'
echo "# $CHECKS checks passed"
