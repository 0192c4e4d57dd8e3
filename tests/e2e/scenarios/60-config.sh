# 60-config: ConfigMap and Secret values reach a pod as environment
# variables (single keys and envFrom) and as files; an update of the
# ConfigMap shows in the mounted file while the pod runs.
new_namespace
node=$(ready_nodes | tail -1)
ok "configmap" kns create configmap settings --from-literal=color=blue --from-literal=size=large
ok "secret" kns create secret generic creds --from-literal=user=admin --from-literal=password='s3cr3t pass'
kns apply -f - >/dev/null <<YAML || fail "create pod"
apiVersion: v1
kind: Pod
metadata: {name: consumer}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: cfg, configMap: {name: settings}}
  - {name: sec, secret: {secretName: creds, defaultMode: 0400}}
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    env:
    - {name: COLOR, valueFrom: {configMapKeyRef: {name: settings, key: color}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    envFrom:
    - {prefix: CFG_, configMapRef: {name: settings}}
    - {secretRef: {name: creds}}
    volumeMounts:
    - {name: cfg, mountPath: /etc/settings}
    - {name: sec, mountPath: /etc/creds, readOnly: true}
    command: ["sh", "-c", "echo COLOR=\$COLOR; echo PASSWORD=\$PASSWORD; echo CFG_size=\$CFG_size; echo user=\$user; echo file-color=\$(cat /etc/settings/color); echo file-user=\$(cat /etc/creds/user); echo mode=\$(stat -L -c %a /etc/creds/user); echo READY; while true; do echo now-color=\$(cat /etc/settings/color); sleep 1; done"]
YAML
started() { kns logs consumer 2>/dev/null | grep -q '^READY$'; }
wait_until "the consumer pod started" 120 started
ok "its output" kns logs consumer
expect_match "ConfigMap key as env" '^COLOR=blue$' "$OUT"
expect_match "Secret key as env" '^PASSWORD=s3cr3t pass$' "$OUT"
expect_match "envFrom ConfigMap with a prefix" '^CFG_size=large$' "$OUT"
expect_match "envFrom Secret" '^user=admin$' "$OUT"
expect_match "ConfigMap as a file" '^file-color=blue$' "$OUT"
expect_match "Secret as a file" '^file-user=admin$' "$OUT"
expect_match "Secret file mode 0400" '^mode=400$' "$OUT"
ok "update the ConfigMap" kns patch configmap settings -p '{"data":{"color":"green"}}'
updated() { kns logs consumer --tail=3 | grep -q '^now-color=green$'; }
wait_until "the mounted file follows the update" 120 updated
