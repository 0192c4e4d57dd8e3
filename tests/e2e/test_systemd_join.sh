#!/usr/bin/env bash
# tests/e2e/test_systemd_join.sh - the README's real-machine path under a
# real systemd: two machine stand-ins booting systemd (the runtime image
# plus Debian's systemd), on an internal network of their own:
#   cp: deploy/kube-init.sh brings the control plane up as systemd units
#       and prints the join command;
#   w1: that command (deploy/kube-join.sh) starts docker.service,
#       kubelet.service and kube-proxy.service; the node turns Ready;
# then a Deployment behind a Service answers a pod on w1 by DNS name, a
# kubelet restart leaves the pods' containers running (KillMode=process),
# journalctl has each unit's log, and the worker is removed the README's
# way (drain, disable the units, kube-proxy --cleanup, delete the node).
# Everything runs inside the two containers; this machine only starts them.
set -uo pipefail
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$E2E_DIR/lib.sh"
# shellcheck source=cluster.sh
source "$E2E_DIR/cluster.sh"
P=$E2E_PROJECT-sd
NET=$P-net
CHECKS=0

teardown() {
  local rc=$?
  trap - EXIT
  if ((rc != 0 && rc != 77)); then
    for m in cp w1; do
      docker exec "$P-$m" sh -c 'journalctl --no-pager -n 40 -u "kube*" -u docker; tail -n 20 /var/log/kube/*.log' \
        >"$E2E_WORK/$m.log" 2>&1 && echo "logs of $m: $E2E_WORK/$m.log"
    done
    tail -n 30 "$E2E_WORK/w1.log" 2>/dev/null
  fi
  docker rm -f "$P-cp" "$P-w1" >/dev/null 2>&1
  docker volume rm "$P-w1-docker" >/dev/null 2>&1
  docker network rm "$NET" >/dev/null 2>&1
  rm -rf "$E2E_WORK/stage" "$E2E_WORK/kcache"
  exit $rc
}
trap teardown EXIT
trap 'exit 143' TERM INT

missing=$(missing_programs | tr '\n' ' ')
if [[ -n "$missing" ]]; then
  echo "WAITING: the build in $KUBE_BIN has no ${missing% } (not merged yet)"
  exit 77
fi
ensure_debian_base || fail "no debian:bookworm-slim image"
ensure_test_images || fail "building the test images failed"
runtime_image
SD_IMAGE=kube-e2e/kube-systemd:${KUBE_IMAGE##*:}
if ! docker image inspect "$SD_IMAGE" >/dev/null 2>&1; then
  log "building $SD_IMAGE (the runtime image with systemd as init)"
  docker build -q -t "$SD_IMAGE" - >"$E2E_WORK/systemd-image.log" 2>&1 <<DOCKERFILE || { cat "$E2E_WORK/systemd-image.log"; fail "image"; }
FROM $KUBE_IMAGE
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd systemd-sysv dbus >/dev/null \\
 && rm -rf /var/lib/apt/lists/* \\
 && systemctl mask getty.target console-getty.service systemd-udevd.service systemd-logind.service \\
      systemd-resolved.service systemd-networkd.service sys-kernel-config.mount \\
 && systemctl disable docker.service docker.socket containerd.service
ENV container=docker
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
DOCKERFILE
fi

r=$(pick_cluster_range)
[[ -n "$r" ]] || fail "no free address range"
docker network create --internal --subnet "10.$r.0.0/15" --ip-range "10.$((r + 1)).0.0/24" --gateway "10.$((r + 1)).0.1" \
  "$NET" >/dev/null || fail "network"
boot() { # NAME [docker run args]
  local m=$1; shift
  docker run -d --name "$P-$m" --hostname "$m" --network "$NET" \
    --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --tmpfs /run --tmpfs /run/lock -v /sys/fs/cgroup:/sys/fs/cgroup:rw "$@" "$SD_IMAGE" >/dev/null || fail "start $m"
}
boot cp
boot w1 -v "$P-w1-docker:/var/lib/docker"
booted() { [[ "$(docker exec "$1" systemctl is-system-running 2>/dev/null)" =~ ^(running|degraded)$ ]]; }
wait_until "cp booted systemd" 120 booted "$P-cp"
wait_until "w1 booted systemd" 120 booted "$P-w1"
for m in cp w1; do
  # as on a real machine: /sys and the network sysctls writable
  docker exec "$P-$m" sh -c 'mount -o remount,rw /sys; mount --bind /proc/sys/net /proc/sys/net && mount -o remount,rw,bind /proc/sys/net' ||
    fail "remount in $m"
done

ok "kube-init.sh on cp" docker exec "$P-cp" kube-init --pod-network-cidr "10.$r.0.0/16"
echo "$OUT" | sed 's/^/    /'
join=$(grep -E '^ +deploy/kube-join.sh --server http://[0-9.]+:8080$' <<<"$OUT" | sed 's/^ *//')
[[ -n "$join" ]] || fail "kube-init printed no join command"
pass "it printed: $join"
ok "the control plane units" docker exec "$P-cp" systemctl is-active kube-apiserver kube-scheduler kube-controller-manager
expect_eq "all active" "active active active" "$(tr '\n' ' ' <<<"$OUT" | sed 's/ $//')"
ok "journald has the API server's log" docker exec "$P-cp" journalctl --no-pager -u kube-apiserver
expect_match "its start" 'kube-apiserver' "$OUT"
docker cp "$(command -v kubectl)" "$P-cp:/usr/local/bin/kubectl" >/dev/null || fail "kubectl into cp"
kcp() { docker exec -i "$P-cp" kubectl --kubeconfig /etc/kubernetes/admin.conf "$@"; }

# w1's dockerd nests its containers' cgroups under the machine's own (a
# real machine's root); the rest is Debian's docker.service as installed
cg=$(docker exec "$P-w1" awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3; exit}' /proc/1/cgroup)
docker exec "$P-w1" sh -c "echo 'DOCKER_OPTS=\"--cgroup-parent=$cg/docker\"' >/etc/default/docker" || fail "docker options"
server=${join##* }
ok "the join command on w1" docker exec "$P-w1" kube-join --server "$server"
echo "$OUT" | sed 's/^/    /'
expect_match "joined" 'This node has joined the cluster as w1' "$OUT"
ok "the node units" docker exec "$P-w1" systemctl is-active docker kubelet kube-proxy
expect_eq "all active" "active active active" "$(tr '\n' ' ' <<<"$OUT" | sed 's/ $//')"
ok "kubelet.service KillMode" docker exec "$P-w1" systemctl show kubelet -p KillMode -p Restart
expect_eq "process, always" "KillMode=process Restart=always" "$(sort <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
ok "nodes" kcp get nodes -o wide
expect_match "w1 Ready" '^w1 +Ready ' "$OUT"

docker save "$BUSYBOX_IMAGE" "$ECHO_IMAGE_1" | docker exec -i "$P-w1" docker load >/dev/null || fail "images into w1"
kcp create namespace demo >/dev/null
tokens() { # the API server issues service account tokens
  kcp create --raw /api/v1/namespaces/default/serviceaccounts/default/token -f - >/dev/null 2>&1 <<'JSON'
{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}
JSON
}
if ! tokens; then # no automounted credentials until it does
  wait_until "default ServiceAccount" 60 kcp -n demo get sa default
  kcp -n demo patch sa default -p '{"automountServiceAccountToken": false}' >/dev/null
fi
kcp -n demo create deployment web --image="$ECHO_IMAGE_1" --replicas=2 --port=8080 >/dev/null
kcp -n demo expose deployment web --port=80 --target-port=8080 >/dev/null
available() { [[ "$(kcp -n demo get deploy web -o jsonpath='{.status.availableReplicas}')" == 2 ]]; }
wait_until "2 replicas on w1" 180 available
kcp -n demo run client --image="$BUSYBOX_IMAGE" --restart=Never --command -- sh -c \
  'i=0; while [ $i -lt 20 ]; do timeout 5 wget -q -O- http://web.demo.svc.cluster.local/ || echo FAILED; i=$((i+1)); done' >/dev/null
done_client() { [[ "$(kcp -n demo get pod client -o jsonpath='{.status.phase}')" =~ ^(Succeeded|Failed)$ ]]; }
wait_until "the client pod finished" 120 done_client
ok "client log" kcp -n demo logs client
expect_eq "both replicas answered by name, no failure" 2 "$(awk '{print $1}' <<<"$OUT" | grep -v FAILED | sort -u | wc -l)"
expect_eq "no failed request" 0 "$(grep -c FAILED <<<"$OUT")"

ids() { docker exec "$P-w1" docker ps -q --filter label=io.kubernetes.pod.namespace=demo --filter status=running | sort | tr '\n' ' '; }
before=$(ids)
ok "systemctl restart kubelet" docker exec "$P-w1" systemctl restart kubelet
w1_ready() { kcp get node w1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True; }
wait_until "w1 Ready after the kubelet restart" 60 w1_ready
sleep 5
expect_eq "the pods' containers kept running through the restart" "$before" "$(ids)"
ok "journald has the kubelet's log" docker exec "$P-w1" journalctl --no-pager -u kubelet
expect_match "kubelet lines" 'Successfully registered node w1|Attempting to register node w1' "$OUT"

ok "drain w1" kcp drain w1 --ignore-daemonsets --delete-emptydir-data --timeout=120s
ok "disable the units on w1" docker exec "$P-w1" systemctl disable --now kubelet kube-proxy
ok "kube-proxy --cleanup on w1" docker exec "$P-w1" kube-proxy --cleanup
ok "delete node w1" kcp delete node w1
OUT=$(docker exec "$P-w1" sh -c 'iptables-legacy-save | grep -c "^-A KUBE-"' 2>&1)
expect_eq "no kube-proxy rule left on w1" 0 "$OUT"
ok "nodes after the removal" kcp get nodes -o name
expect_eq "no node left" "" "$OUT"
echo "# $CHECKS checks passed"
