#!/usr/bin/env bash
# The cluster DNS kube-proxy serves, asked from a client namespace the way
# a pod asks it (resolv.conf with the kube-dns ClusterIP and the search
# path), inside network namespaces this test creates (see kp_lib.sh):
# getent through glibc's resolver for a Service, a headless Service, a
# StatefulSet pod's stable name and a pod record, dig for SRV, PTR, TXT,
# NXDOMAIN with the SOA, a large headless answer truncated over UDP and
# complete over TCP, a name outside the cluster answered by a fake
# upstream server (dnsmasq) in another namespace (A through the cache,
# MX, TXT, SRV and CNAME relayed as asked, over UDP and TCP), and an answer that
# follows a new Service within a second.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/integration/kp_lib.sh"
command -v dig >/dev/null || fail "dig (bind9-dnsutils) is not installed"
command -v dnsmasq >/dev/null || fail "dnsmasq (dnsmasq-base) is not installed"

start_node
pod c 10.244.1.20
# the fake upstream: answers one outside name, knows nothing else
ip netns exec "$P-up" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts -u root \
  --listen-address=198.51.100.53 --bind-interfaces --local=/example.test/ --address=/www.example.test/198.51.100.77 \
  --mx-host=example.test,mail.example.test,10 --txt-record=example.test,"v=spf1 -all" \
  --srv-host=_sip._tcp.example.test,sip.example.test,5060,1,2 --cname=alias.example.test,www.example.test \
  --pid-file="$WORK/dnsmasq.pid" >>"$WORK/dnsmasq.log" 2>&1 &
PIDS+=($!)
ensure_kube_dns
DNS=$(k get svc -n kube-system kube-dns -o jsonpath='{.spec.clusterIP}')
mkdir -p "/etc/netns/$P-c"
cat >"/etc/netns/$P-c/resolv.conf" <<CONF
search default.svc.cluster.local svc.cluster.local cluster.local
nameserver $DNS
options ndots:5 attempts:2 timeout:2
CONF

k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: nginx}
spec:
  clusterIP: None
  ports: [{name: web, port: 80, targetPort: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: many}
spec:
  clusterIP: None
  ports: [{name: web, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: www.example.test
YAML
slice nginx-1 nginx web 80 TCP 10.244.1.11,hostname=web-0 10.244.1.12,hostname=web-1 10.244.1.13,hostname=web-2,ready=false
MANY=()
for i in $(seq 1 80); do MANY+=("10.244.2.$i"); done
slice many-1 many web 80 TCP "${MANY[@]}"

start_proxy
WEB=$(cluster_ip web)
resolves() { [[ "$(nsx c getent hosts "$1" | awk '{print $1}' | sort | tr '\n' ' ')" == "$2" ]]; }
wait_until "getent hosts web (search path) is the ClusterIP" 100 resolves web "$WEB "
ok "getent hosts web.default" nsx c getent hosts web.default
expect_match "the full name" "^$WEB +web.default.svc.cluster.local" "$OUT"
ok "headless Service: its ready endpoints" nsx c getent ahostsv4 nginx
expect_eq "headless addresses" "10.244.1.11 10.244.1.12 " "$(awk '{print $1}' <<<"$OUT" | sort -u | tr '\n' ' ')"
ok "a StatefulSet pod's stable name" nsx c getent hosts web-0.nginx
expect_match "web-0.nginx" "^10.244.1.11 +web-0.nginx.default.svc.cluster.local" "$OUT"
ko "a not-ready pod has no name" nsx c getent hosts web-2.nginx.default.svc.cluster.local
ok "a pod record" nsx c getent hosts 10-244-1-11.default.pod.cluster.local
expect_match "pod A record" "^10.244.1.11 " "$OUT"

ok "SRV of a named port" nsx c dig +short SRV _http._tcp.web.default.svc.cluster.local
expect_eq "SRV answer" "0 100 80 web.default.svc.cluster.local." "$OUT"
ok "SRV of a headless Service" nsx c dig +short SRV _web._tcp.nginx.default.svc.cluster.local
expect_eq "one SRV per ready endpoint, by hostname" \
  "0 50 80 web-0.nginx.default.svc.cluster.local.|0 50 80 web-1.nginx.default.svc.cluster.local." "$(sort <<<"$OUT" | paste -sd'|')"
ok "PTR of the ClusterIP" nsx c dig +short -x "$WEB"
expect_eq "PTR answer" "web.default.svc.cluster.local." "$OUT"
ok "dns-version TXT" nsx c dig +short TXT dns-version.cluster.local
expect_eq "schema version" '"1.1.0"' "$OUT"
ok "a name that does not exist" nsx c dig nope.default.svc.cluster.local
expect_match "NXDOMAIN" "status: NXDOMAIN" "$OUT"
expect_match "authoritative" "flags: qr aa rd ra" "$OUT"
expect_match "with the zone's SOA" "^cluster.local\.[[:space:]]+5[[:space:]]+IN[[:space:]]+SOA[[:space:]]+ns.dns.cluster.local. hostmaster.cluster.local." "$OUT"

ok "80 endpoints over UDP" nsx c dig many.default.svc.cluster.local
expect_match "truncated, then TCP" "Truncated, retrying in TCP mode" "$OUT"
expect_match "every endpoint in the TCP answer" "ANSWER: 80," "$OUT"
ok "the same over TCP at once" nsx c dig +tcp +short many.default.svc.cluster.local
expect_eq "80 addresses" 80 "$(wc -l <<<"$OUT")"

ok "a name outside the cluster, through the upstream server" nsx c getent hosts www.example.test
expect_match "the upstream's answer" "^198.51.100.77 +www.example.test" "$OUT"
ok "an ExternalName Service" nsx c dig ext.default.svc.cluster.local
expect_match "CNAME" "ext.default.svc.cluster.local. 5 IN CNAME www.example.test." "$(tr -s '\t ' ' ' <<<"$OUT")"
expect_match "and its target's address" "www.example.test. [0-9]+ IN A 198.51.100.77" "$(tr -s '\t ' ' ' <<<"$OUT")"
ok "unknown outside names" nsx c dig nothing.example.test
expect_match "NXDOMAIN from upstream" "status: NXDOMAIN" "$OUT"
# every other type is relayed to the upstream as asked
ok "MX outside the cluster" nsx c dig +short MX example.test
expect_eq "the upstream's MX" "10 mail.example.test." "$OUT"
ok "TXT outside the cluster" nsx c dig +short TXT example.test
expect_eq "the upstream's TXT" '"v=spf1 -all"' "$OUT"
ok "SRV outside the cluster" nsx c dig +short SRV _sip._tcp.example.test
expect_eq "the upstream's SRV" "1 2 5060 sip.example.test." "$OUT"
ok "CNAME outside the cluster" nsx c dig +short CNAME alias.example.test
expect_eq "the upstream's CNAME" "www.example.test." "$OUT"
ok "MX over TCP" nsx c dig +tcp +short MX example.test
expect_eq "the same MX" "10 mail.example.test." "$OUT"

k create service clusterip late --tcp=80:80 >/dev/null
LATE=$(cluster_ip late)
wait_until "a new Service resolves within a second" 5 resolves late.default.svc.cluster.local "$LATE "
k delete service late >/dev/null
gone() { ! nsx c dig +short late.default.svc.cluster.local | grep -q .; }
wait_until "a deleted one is gone within a second" 5 gone

OUT=$(kernel_rules -t raw)
expect_match "DNS traffic is not tracked (no NAT)" "^-A KUBE-NODE-DNS -d $DNS/32 -p udp .* --dport 53 -j NOTRACK" "$OUT"
ok "/metrics" in_node curl -fsS http://127.0.0.1:10249/metrics
expect_match "queries by type" 'kubeproxy_dns_requests_total\{proto="udp",type="SRV"\} [1-9]' "$OUT"
expect_match "answers by rcode" 'kubeproxy_dns_responses_total\{rcode="NXDOMAIN"\} [1-9]' "$OUT"
expect_match "TCP queries" 'kubeproxy_dns_requests_total\{proto="tcp",type="A"\} [1-9]' "$OUT"
done_testing
