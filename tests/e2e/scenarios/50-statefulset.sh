# 50-statefulset: a StatefulSet behind a headless Service: pods web-0,
# web-1, web-2 start in order with stable names and DNS names
# (web-N.web.NS.svc.cluster.local); a deleted pod comes back with the same
# name.  With a volumeClaimTemplate (the default StorageClass), the data a
# pod wrote survives its deletion: that part waits for persistent storage.
new_namespace
node=$(ready_nodes | head -1)
kns apply -f - >/dev/null <<YAML || fail "create statefulset"
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: echo
        image: $ECHO_IMAGE_1
        ports: [{containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
YAML
sts_ready() { [[ "$(kns get sts web -o jsonpath='{.status.readyReplicas} {.status.currentReplicas}')" == "3 3" ]]; }
wait_until "3 replicas ready" 150 sts_ready
ok "pod names" kns get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'
expect_eq "stable ordinal names" "web-0 web-1 web-2" "$(sort <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
ok "creation order" kns get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.creationTimestamp} {.metadata.name}{"\n"}{end}'
expect_eq "web-0 before web-1 before web-2" "web-0 web-1 web-2" "$(sort <<<"$OUT" | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')"
ok "hostname and stable DNS names from a pod" pod_run sts-dns "$node" \
  "for i in 0 1 2; do timeout 5 wget -q -O- http://web-\$i.web.$NS.svc.cluster.local:8080/; done; nslookup web.$NS.svc.cluster.local"
expect_match "web-0 answers as web-0" '^web-0 1 /$' "$OUT"
expect_match "web-2 answers as web-2" '^web-2 1 /$' "$OUT"
expect_eq "the headless name has 3 addresses" 3 "$(grep -c '^Address: 10\.' <<<"$OUT")"
uid=$(kns get pod web-1 -o jsonpath='{.metadata.uid}')
ok "delete web-1" kns delete pod web-1 --wait=false
back() { [[ "$(kns get pod web-1 -o jsonpath='{.metadata.uid} {.status.phase}')" =~ ^[0-9a-f-]+\ Running$ && "$(kns get pod web-1 -o jsonpath='{.metadata.uid}')" != "$uid" ]]; }
wait_until "web-1 back under the same name" 120 back
wait_until "3 replicas ready again" 120 sts_ready

# the volume part: a claim per pod from the default StorageClass
default_sc=$(kube get storageclass -o jsonpath='{range .items[?(@.metadata.annotations.storageclass\.kubernetes\.io/is-default-class=="true")]}{.metadata.name}{end}' 2>/dev/null)
[[ -n "$default_sc" ]] || waiting "no default StorageClass: persistent volumes for the StatefulSet's volumeClaimTemplates need the storage work (local-path provisioner, issue 12)"
kns apply -f - >/dev/null <<YAML || fail "create data statefulset"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: data}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: data}}
  template:
    metadata: {labels: {app: data}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: $BUSYBOX_IMAGE
        command: ["sh", "-c", "[ -f /data/first ] || hostname > /data/first; date >> /data/starts; echo first=\$(cat /data/first) starts=\$(wc -l < /data/starts); trap 'exit 0' TERM; while true; do sleep 1; done"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 16Mi}}
YAML
data_ready() { [[ "$(kns get sts data -o jsonpath='{.status.readyReplicas}')" == 2 ]]; }
wait_until "2 pods with volumes ready" 180 data_ready
ok "claims bound" kns get pvc -o jsonpath='{range .items[*]}{.metadata.name}={.status.phase}{"\n"}{end}'
expect_eq "one bound claim per pod" "data-data-0=Bound data-data-1=Bound" "$(sort <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
node1=$(kns get pod data-1 -o jsonpath='{.spec.nodeName}')
uid=$(kns get pod data-1 -o jsonpath='{.metadata.uid}')
ok "delete data-1" kns delete pod data-1 --wait=false
back_data() { [[ "$(kns get pod data-1 -o jsonpath='{.metadata.uid}')" != "$uid" ]] && data_ready; }
wait_until "data-1 back" 180 back_data
ok "same node (the volume's)" kns get pod data-1 -o jsonpath='{.spec.nodeName}'
expect_eq "rescheduled where its volume is" "$node1" "$OUT"
ok "what the new data-1 found on its volume" kns logs data-1
expect_eq "the first start's file and two start records" "first=data-1 starts=2" "$OUT"
