#!/usr/bin/env bash
# kube-controller-manager end to end, workload controllers: Deployment
# (rollout, rolling update bounds, undo, history, scale), StatefulSet
# ordering and claims, DaemonSet placement.  The real API server and
# scheduler run with hollow nodes standing in for kubelets, and the real
# kubectl drives everything.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
start_cluster

# ---- Deployment: apply, rollout status ----
cat >"$WORK/web.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: nginx, image: "nginx:1.25"}
YAML
ok "apply deployment" kube apply -f "$WORK/web.yaml"
expect_match "created" 'deployment.apps/web created' "$OUT"
ok "rollout status" kube rollout status deploy/web --timeout=60s
expect_match "rolled out" 'deployment "web" successfully rolled out' "$OUT"
ok "deployment status" kube get deploy web -o jsonpath='{.status.readyReplicas}/{.status.availableReplicas}/{.status.updatedReplicas}/{.status.observedGeneration}'
expect_eq "4 ready, available, updated; generation observed" "4/4/4/1" "$OUT"
ok "pods" kube get pods -l app=web -o jsonpath='{range .items[*]}{.status.phase} {.spec.nodeName}{"\n"}{end}'
expect_eq "4 pods running" "4" "$(grep -c '^Running node-' <<<"$OUT")"
ok "one replicaset" kube get rs -l app=web -o name
expect_eq "one replicaset" "1" "$(wc -l <<<"$OUT")"
ok "revision annotation" kube get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}'
expect_eq "revision 1" "1" "$OUT"

# ---- set image: rolling update within maxSurge / maxUnavailable ----
watch_pods roll app=web
ok "set image" kube set image deploy/web nginx=nginx:1.26
expect_match "image updated" 'deployment.apps/web image updated' "$OUT"
ok "rollout status after set image" kube rollout status deploy/web --timeout=60s
expect_match "rolled out" 'successfully rolled out' "$OUT"
sleep 0.5
check_watch "never more than replicas+maxSurge=5 pods" roll 'len(live) <= 5'
check_watch "never fewer than replicas-maxUnavailable=3 ready" roll \
  'sum(1 for p in live.values() if p["ready"]) >= 3'
ok "all pods on the new image" kube get pods -l app=web -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}'
expect_eq "4 pods nginx:1.26" "4" "$(grep -c '^nginx:1.26$' <<<"$OUT")"
expect_no_match "no old pods" 'nginx:1.25' "$OUT"
ok "two replicasets" kube get rs -l app=web -o jsonpath='{range .items[*]}{.spec.replicas} {.spec.template.spec.containers[0].image}{"\n"}{end}'
expect_match "old one scaled to 0" '^0 nginx:1.25$' "$OUT"
expect_match "new one has 4" '^4 nginx:1.26$' "$OUT"

# ---- history and undo ----
ok "rollout history" kube rollout history deploy/web
expect_match "revision 1 listed" '^1 ' "$OUT"
expect_match "revision 2 listed" '^2 ' "$OUT"
ok "history of revision 2" kube rollout history deploy/web --revision=2
expect_match "revision 2 is nginx:1.26" 'Image:[[:space:]]+nginx:1.26' "$OUT"
ok "rollout undo" kube rollout undo deploy/web
expect_match "rolled back" 'deployment.apps/web rolled back' "$OUT"
ok "rollout status after undo" kube rollout status deploy/web --timeout=60s
ok "image after undo" kube get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}'
expect_eq "template back to nginx:1.25" "nginx:1.25" "$OUT"
wait_until "pods back on nginx:1.25" 100 bash -c \
  "[[ \$(kubectl --cache-dir $WORK/kcache get pods -l app=web -o jsonpath='{range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}' | sort | uniq -c | tr -s ' ') == ' 4 nginx:1.25' ]]"
ok "history after undo" kube rollout history deploy/web
expect_match "revision 3 listed" '^3 ' "$OUT"
expect_no_match "revision 1 renumbered away" '^1 ' "$OUT"
ok "deployment revision" kube get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}'
expect_eq "revision 3" "3" "$OUT"

# ---- scale ----
ok "scale up" kube scale deploy/web --replicas=7
expect_match "scaled" 'deployment.apps/web scaled' "$OUT"
ok "rollout status after scale" kube rollout status deploy/web --timeout=60s
wait_until "7 available" 100 bash -c \
  "[[ \$(kubectl --cache-dir $WORK/kcache get deploy web -o jsonpath='{.status.availableReplicas}') == 7 ]]"
ok "scale down" kube scale deploy/web --replicas=2
wait_until "2 pods left" 100 bash -c \
  "[[ \$(kubectl --cache-dir $WORK/kcache get pods -l app=web -o name | wc -l) == 2 ]]"
wait_until "status after scale down is 2/2" 100 bash -c \
  "[[ \$(kubectl --cache-dir $WORK/kcache get deploy web -o jsonpath='{.status.replicas}/{.status.availableReplicas}') == 2/2 ]]"

# ---- StatefulSet: ordered creation, claims ----
watch_pods sts app=db
cat >"$WORK/sts.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - {name: pg, image: "postgres:16"}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
YAML
ok "apply statefulset" kube apply -f "$WORK/sts.yaml"
ok "sts rollout status" kube rollout status sts/web --timeout=60s
expect_match "sts rolled out" 'partitioned roll out complete|roll out complete' "$OUT"
ok "sts pods" kube get pods -l app=db -o name
expect_eq "web-0, web-1, web-2" "$(printf 'pod/web-0\npod/web-1\npod/web-2')" "$(sort <<<"$OUT")"
check_watch "each pod created after its predecessor is Running and Ready" sts \
  's["ev"] != "ADDED" or s["pod"] == "web-0" or (lambda p: p is not None and p["phase"] == "Running" and p["ready"])(pods.get("web-%d" % (int(s["pod"].split("-")[1]) - 1)))'
ok "claims" kube get pvc -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'
expect_eq "one claim per pod" "$(printf 'data-web-0\ndata-web-1\ndata-web-2')" "$(sort <<<"$OUT")"
ok "pod mounts its claim" kube get pod web-1 -o jsonpath='{.spec.volumes[?(@.name=="data")].persistentVolumeClaim.claimName}'
expect_eq "web-1 uses data-web-1" "data-web-1" "$OUT"
ok "hostname" kube get pod web-2 -o jsonpath='{.spec.hostname}/{.spec.subdomain}'
expect_eq "hostname and subdomain" "web-2/db" "$OUT"
ok "sts status" kube get sts web -o jsonpath='{.status.readyReplicas}/{.status.currentReplicas}'
expect_eq "3 ready" "3/3" "$OUT"

# ---- DaemonSet: one pod per node ----
cat >"$WORK/ds.yaml" <<YAML
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - {name: agent, image: "busybox:1.36"}
YAML
ok "apply daemonset" kube apply -f "$WORK/ds.yaml"
ok "ds rollout status" kube rollout status ds/agent --timeout=60s
ok "ds pods" kube get pods -l app=agent -o jsonpath='{range .items[*]}{.spec.nodeName} {.status.phase}{"\n"}{end}'
expect_eq "one running pod on each node" "$(printf 'node-0 Running\nnode-1 Running\nnode-2 Running')" "$(sort <<<"$OUT")"
ok "ds status" kube get ds agent -o jsonpath='{.status.desiredNumberScheduled}/{.status.numberReady}/{.status.numberAvailable}'
expect_eq "3 desired, ready, available" "3/3/3" "$OUT"

done_testing
