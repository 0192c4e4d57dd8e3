#!/usr/bin/env bash
# The audit log (security issue): --audit-policy-file picks a level per
# request (first matching rule), --audit-log-path gets one audit.k8s.io/v1
# Event per line with the user, verb, object and status, request and
# response bodies at the levels that ask for them, the Audit-Id header,
# omitStages honoured, rotation by size, batch mode.
source "$(dirname "$0")/lib.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)
cat >"$WORK/policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: None
  users: ["system:unsecured"]
  verbs: ["get", "list", "watch"]
- level: Metadata
  resources: [{group: "", resources: ["secrets"]}]
- level: RequestResponse
  resources: [{group: "", resources: ["configmaps"]}]
- level: Request
  userGroups: ["devs"]
- level: Metadata
EOF
printf 'janetoken,jane,42,"devs"\n' >"$WORK/tokens.csv"
SPORT=$(free_port)
start_apiserver --secure-port="$SPORT" --bind-address=127.0.0.1 --cert-dir="$WORK/certs" \
  --token-auth-file="$WORK/tokens.csv" --authorization-mode=RBAC \
  --audit-policy-file="$WORK/policy.yaml" --audit-log-path="$WORK/audit.log" \
  --audit-log-maxsize=1 --audit-log-maxbackup=1
LOG=$WORK/audit.log
# events NAME-REGEX: the Events whose line matches, as JSON lines
events() { grep -E "$1" "$LOG" 2>/dev/null || true; }
field() { "$PY" -c 'import json,sys
for line in sys.stdin:
  d=json.loads(line)
  for k in sys.argv[1].split("."): d = d.get(k) if isinstance(d, dict) else None
  print("" if d is None else json.dumps(d) if isinstance(d,(dict,list)) else d)' "$1"; }
wait_for_line() { for _ in $(seq 1 100); do grep -qE "$1" "$LOG" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

HDRS=$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"audited"},"data":{"k":"v1"}}' \
  "$API_URL/api/v1/namespaces/default/configmaps")
AID=$(sed -n 's/^Audit-Id: *\([0-9a-f-]*\).*/\1/Ip' <<<"$HDRS")
[[ -n "$AID" ]] || fail "no Audit-Id header: $HDRS"
pass "the response carries an Audit-Id"
wait_for_line "\"auditID\":\"$AID\"" || fail "no event for $AID"
EV=$(events "\"auditID\":\"$AID\"")
expect_eq "one event (RequestReceived omitted)" 1 "$(wc -l <<<"$EV")"
expect_eq "stage" ResponseComplete "$(field stage <<<"$EV")"
expect_eq "level RequestResponse for configmaps" RequestResponse "$(field level <<<"$EV")"
expect_eq "verb" create "$(field verb <<<"$EV")"
expect_eq "user" system:unsecured "$(field user.username <<<"$EV")"
expect_eq "object" configmaps/default/audited \
  "$(field objectRef.resource <<<"$EV")/$(field objectRef.namespace <<<"$EV")/$(field objectRef.name <<<"$EV")"
expect_eq "status" 201 "$(field responseStatus.code <<<"$EV")"
expect_eq "the request body" v1 "$(field requestObject.data.k <<<"$EV")"
expect_match "the response body" '^[0-9]+$' "$(field responseObject.metadata.resourceVersion <<<"$EV")"
expect_match "timestamps" '^20[0-9-]+T[0-9:.]+Z$' "$(field stageTimestamp <<<"$EV")"

# secrets at Metadata: the value never reaches the log
kube create secret generic hush --from-literal=password=neverlogged0001 >/dev/null
wait_for_line '"resource":"secrets".*"name":"hush"|"name":"hush".*"resource":"secrets"' || fail "no event for the secret"
EV=$(events '"resource":"secrets"' | grep '"create"' | tail -1)
expect_eq "secrets are Metadata" Metadata "$(field level <<<"$EV")"
expect_eq "the secret's value is not logged" 0 "$(grep -c neverlogged0001 "$LOG" || true)"

# a user over the secure port: token user, Request level by group
curl -s -k -H "Authorization: Bearer janetoken" "https://127.0.0.1:$SPORT/api/v1/namespaces/default/pods" >/dev/null
wait_for_line '"username":"jane"' || fail "no event for jane"
EV=$(events '"username":"jane"' | tail -1)
expect_eq "jane's list at level Request (userGroups)" Request "$(field level <<<"$EV")"
expect_eq "her 403 is audited" 403 "$(field responseStatus.code <<<"$EV")"
expect_eq "her groups" '["devs", "system:authenticated"]' "$(field user.groups <<<"$EV")"
# a watch: ResponseStarted when it starts streaming, ResponseComplete at its end
kube create role cm-watch --verb=watch --resource=configmaps >/dev/null
kube create rolebinding jane-cm-watch --role=cm-watch --user=jane >/dev/null
sleep 0.5
curl -s -k -H "Authorization: Bearer janetoken" \
  "https://127.0.0.1:$SPORT/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1" >/dev/null
wait_for_line '"verb":"watch".*"stage":"ResponseComplete"' || fail "no ResponseComplete for the watch"
EV=$(events '"verb":"watch"')
expect_eq "a watch is audited as ResponseStarted, then ResponseComplete" "ResponseStarted ResponseComplete" \
  "$(field stage <<<"$EV" | tr '\n' ' ' | sed 's/ $//')"
curl -s "$API_URL/healthz" >/dev/null
kube get configmaps >/dev/null
sleep 0.5
expect_eq "None rules: health checks and the insecure port's reads not logged" 0 \
  "$(grep -cE '"requestURI":"/healthz|"verb":"list","user":\{"username":"system:unsecured"' "$LOG" || true)"

# rotation at 1 MiB, one backup kept
BIG=$("$PY" -c 'print("x"*60000)')
for i in $(seq 1 40); do
  kube create configmap "big$i" --from-literal=blob="$BIG" >/dev/null
done
wait_for_line '"name":"big40"' || fail "no event for big40"
BACKUPS=$(ls "$WORK" | grep -c '^audit.log-' || true)
expect_eq "rotated at --audit-log-maxsize, --audit-log-maxbackup=1 kept" 1 "$BACKUPS"
(( $(stat -c %s "$LOG") <= 1048576 + 200000 )) || fail "the live log outgrew its size"
pass "the live log stays near its size"

# batch mode delivers too; bad flags are named
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
API_PORT='' start_apiserver --audit-policy-file="$WORK/policy.yaml" --audit-log-path="$WORK/batch.log" --audit-log-mode=batch
kube create configmap batched >/dev/null
for _ in $(seq 1 50); do grep -q '"name":"batched"' "$WORK/batch.log" 2>/dev/null && break; sleep 0.1; done
expect_match "batch mode writes within its wait" '"name":"batched"' "$(cat "$WORK/batch.log")"
for bad in --audit-log-mode=sometimes --audit-log-maxsize=-1; do
  rc=0
  OUT=$(timeout 10 "$KUBE_BIN/apiserver/kube-apiserver" --data-dir="$WORK/bad" --secure-port=0 "$bad" 2>&1) || rc=$?
  expect_eq "$bad refused" 1 "$rc"
  expect_match "$bad named" "${bad%%=*}" "$OUT"
done
printf 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n' >"$WORK/badpolicy.yaml"
rc=0
OUT=$(timeout 10 "$KUBE_BIN/apiserver/kube-apiserver" --data-dir="$WORK/bad2" --secure-port=0 --insecure-port="$(free_port)" \
  --audit-policy-file="$WORK/badpolicy.yaml" --audit-log-path="$WORK/x.log" 2>&1) || rc=$?
expect_eq "a bad policy refuses the start" 1 "$rc"
expect_match "naming the rule" 'rules\[0\].level: Unsupported value' "$OUT"
echo "# $CHECKS checks passed"
