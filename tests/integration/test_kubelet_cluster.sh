#!/usr/bin/env bash
# test_kubelet_cluster.sh - two real nodes with pod networking and the
# kubectl commands that reach into pods through the API server and the
# kubelet: pods get IPs from their node's podCIDR, reach each other on the
# same node and across nodes (host-gw), a pod reaches itself by its IP;
# kubectl logs (and -f), exec (plain and -it through a pseudo-terminal),
# attach, port-forward (client on the machine's loopback, the pod side in
# the pod's namespace).  Every connection to a pod IP is made from inside a
# pod.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/kubelet_lib.sh"

ensure_dockerd
build_images
start_control_plane
start_node 1
N1=$NODE_NAME
start_node 2
N2=$NODE_NAME
wait_until "node 1 Ready" 150 node_ready "$N1"
wait_until "node 2 Ready" 150 node_ready "$N2"
cidr1=$(kube get node "$N1" -o jsonpath='{.spec.podCIDR}')
cidr2=$(kube get node "$N2" -o jsonpath='{.spec.podCIDR}')
expect_match "node 1 pod range" '^10\.244\.[0-9]+\.0/24$' "$cidr1"
expect_match "node 2 pod range" '^10\.244\.[0-9]+\.0/24$' "$cidr2"

# srv NAME NODE: a web server answering its own name on 8080
srv() {
  cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $1}}
spec:
  nodeName: $2
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: $BUSYBOX_IMAGE
    command: [sh, -c, "mkdir -p /www; echo hello-from-$1 >/www/index.html; echo serving; exec httpd -f -p 8080 -h /www"]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
YAML
}
# client NAME NODE TARGET-IP: fetches http://TARGET:8080/ from inside a pod
# (with nc: Debian's static busybox wget crashes in its resolver)
client() {
  cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  nodeName: $2
  automountServiceAccountToken: false
  restartPolicy: Never
  containers:
  - name: c
    image: $BUSYBOX_IMAGE
    command: [sh, -c, "for i in \$(seq 1 20); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $3 8080 | tail -n 1 >/dev/termination-log; grep -q hello /dev/termination-log && exit 0; sleep 1; done; exit 1"]
YAML
}

srv srv1 "$N1"
srv srv2 "$N2"
wait_until "srv1 Ready" 150 pod_ready srv1
wait_until "srv2 Ready" 150 pod_ready srv2
ip1=$(pod_field srv1 '{.status.podIP}')
ip2=$(pod_field srv2 '{.status.podIP}')
in_range() { python3 -c "import ipaddress,sys; sys.exit(0 if ipaddress.ip_address('$1') in ipaddress.ip_network('$2') else 1)"; }
ok "srv1's IP is in node 1's range" in_range "$ip1" "$cidr1"
ok "srv2's IP is in node 2's range" in_range "$ip2" "$cidr2"
ok "podIPs" pod_field srv1 '{.status.podIPs[0].ip} {.status.hostIP}'
expect_eq "podIPs and hostIP" "$ip1 192.0.2.$((NET_X + 2))" "$OUT"

client same "$N1" "$ip1"
client cross "$N2" "$ip1"
client self "$N1" "$ip1"
wait_until "same-node pod-to-pod" 200 pod_phase_is same Succeeded
expect_eq "same-node answer" hello-from-srv1 "$(pod_field same '{.status.containerStatuses[0].state.terminated.message}')"
wait_until "cross-node pod-to-pod" 200 pod_phase_is cross Succeeded
expect_eq "cross-node answer" hello-from-srv1 "$(pod_field cross '{.status.containerStatuses[0].state.terminated.message}')"

# ---- logs ----
ok "kubectl logs" kube logs srv1
expect_eq "logs" serving "$OUT"
kube logs -f srv2 >"$WORK/logsf.out" 2>&1 &
LF=$!
PIDS+=("$LF")
logs_follow() { grep -q serving "$WORK/logsf.out"; }
wait_until "kubectl logs -f streams" 100 logs_follow
kill "$LF" 2>/dev/null || true
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: blocked}
spec:
  nodeName: $N1
  automountServiceAccountToken: false
  containers: [{name: c, image: $BUSYBOX_IMAGE, command: [sleep, "3600"], env: [{name: X, valueFrom: {configMapKeyRef: {name: none, key: x}}}]}]
YAML
wait_until "blocked waits" 150 pod_waiting_is blocked CreateContainerConfigError
ko "kubectl logs of a container that never started" kube logs blocked
# The kubelet answers 400 with upstream's text (test_kubelet_server.sh checks
# it word for word); the API server relays it as BadRequest.
expect_match "a 400 from the kubelet" 'Error from server \(BadRequest\)' "$OUT"

# ---- exec ----
ok "kubectl exec" kube exec srv1 -- cat /etc/hostname
expect_eq "hostname is the pod's name" srv1 "$OUT"
ko "exec exit code" kube exec srv1 -- sh -c 'exit 3'
expect_match "non-zero exit reported" 'command terminated with exit code 3' "$OUT"
ok "exec with stdin" sh -c "echo piped | kubectl --cache-dir $WORK/kcache exec -i srv1 -- cat"
expect_eq "stdin reaches the process" piped "$OUT"
ok "exec -it through a pseudo-terminal" python3 - "$WORK/kcache" <<'PY'
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execvp("kubectl", ["kubectl", "--cache-dir", sys.argv[1], "exec", "-it", "srv1", "--", "sh"])
out = b""
def read_until(token, timeout=30):
    global out
    end = time.time() + timeout
    while token not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return token in out
os.write(fd, b"echo tty-$((6*7)); tty\n")
ok = read_until(b"tty-42")
os.write(fd, b"exit\n")
read_until(b"\x00", 5)
os.waitpid(pid, 0)
text = out.decode(errors="replace")
print(text)
sys.exit(0 if ok and "/dev/pts/" in text else 1)
PY

# ---- /etc/resolv.conf and /etc/hosts ----
ok "resolv.conf" kube exec srv1 -- cat /etc/resolv.conf
expect_eq "ClusterFirst resolv.conf" $'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5' "$OUT"
ok "hosts" kube exec srv1 -- cat /etc/hosts
expect_match "managed /etc/hosts names the pod" "^# Kubernetes-managed hosts file\.\$" "$OUT"
expect_match "pod IP and name" "^$ip1	srv1\$" "$OUT"

# ---- attach ----
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: talk}
spec:
  nodeName: $N2
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: $BUSYBOX_IMAGE, command: [sh, -c, "i=0; while true; do i=\$((i+1)); echo attach-line-\$i; sleep 0.5; done"]}]
YAML
wait_until "talk Running" 150 pod_phase_is talk Running
timeout 5 kubectl --cache-dir "$WORK/kcache" attach talk >"$WORK/attach.out" 2>&1 || true
expect_match "kubectl attach shows new output" 'attach-line-[0-9]+' "$(cat "$WORK/attach.out")"

# ---- port-forward ----
PF_PORT=$(free_port)
kube port-forward pod/srv2 "$PF_PORT:8080" >"$WORK/pf.out" 2>&1 &
PF=$!
PIDS+=("$PF")
pf_works() { [[ "$(curl -s --max-time 3 "http://127.0.0.1:$PF_PORT/")" == hello-from-srv2 ]]; }
wait_until "kubectl port-forward reaches the pod" 100 pf_works
ok "a second request on the same forward" pf_works
kill "$PF" 2>/dev/null || true

done_testing
