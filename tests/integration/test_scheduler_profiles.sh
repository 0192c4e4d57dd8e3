#!/usr/bin/env bash
# tests/integration/test_scheduler_profiles.sh - KubeSchedulerConfiguration
# profiles and extenders with the real kube-scheduler, the real API server
# and three hollow nodes (node-0..2, 4 cpu each).
#
# Covers: a second profile ("packer": NodeResourcesFit MostAllocated,
# BalancedAllocation off) places its pods on the fullest node while the
# default profile (LeastAllocated) spreads them, and its events carry its
# schedulerName as source/reportingComponent; a pod naming no profile is
# left alone; a Python extender on loopback (sched_extender.py) filters out
# node-2 (its message in the FailedScheduling FitError), prioritizes
# node-0 and binds through its bindVerb, only for pods that use its managed
# resource; a nodeCacheCapable extender gets node names; an extender
# answering 500 or garbage fails the attempt with upstream's message
# (SchedulerError), a slow ignorable one is skipped after its httpTimeout
# while the scheduler keeps answering; bad configurations are refused
# with upstream's field paths.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"

SCHED=$KUBE_BIN/scheduler/kube-scheduler

# ---- bad configurations: refused before anything starts ----
bad_config() { # DESC EXPECTED-REGEX YAML
  printf '%s\n' "$3" >"$WORK/bad.yaml"
  ko "$1 is refused" "$SCHED" --config="$WORK/bad.yaml" --master=http://127.0.0.1:1 --secure-port=0
  expect_match "$1: message" "$2" "$OUT"
}
HDR='apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration'
bad_config "second profile without schedulerName" 'profiles\[1\]\.schedulerName: Required value' "$HDR
profiles:
- schedulerName: a
- plugins: {}"
bad_config "duplicate schedulerName" 'profiles\[1\]\.schedulerName: Duplicate value: "a"' "$HDR
profiles: [{schedulerName: a}, {schedulerName: a}]"
bad_config "prioritizer without weight" 'extenders\[0\]\.weight: Invalid value: 0: must have a positive weight applied to it' "$HDR
extenders: [{urlPrefix: 'http://127.0.0.1:1', prioritizeVerb: prioritize}]"
bad_config "two binders" 'extenders: Invalid value: "found 2 extenders implementing bind": only one extender can implement bind' "$HDR
extenders: [{urlPrefix: 'http://127.0.0.1:1', bindVerb: bind}, {urlPrefix: 'http://127.0.0.1:2', bindVerb: bind}]"
bad_config "native managed resource" 'extenders\[0\]\.managedResources\[0\]\.name: Invalid value: "cpu": is an invalid extended resource name' "$HDR
extenders: [{urlPrefix: 'http://127.0.0.1:1', filterVerb: filter, managedResources: [{name: cpu}]}]"
bad_config "duplicate managed resource" 'extenders\[1\]\.managedResources\[0\]\.name: Invalid value: "example.com/a": duplicate extender managed resource name' "$HDR
extenders:
- {urlPrefix: 'http://127.0.0.1:1', filterVerb: filter, managedResources: [{name: example.com/a}]}
- {urlPrefix: 'http://127.0.0.1:2', filterVerb: filter, managedResources: [{name: example.com/a}]}"
bad_config "unknown extender field" 'strict decoding error: unknown field "extenders\[0\]\.filterverb"' "$HDR
extenders: [{urlPrefix: 'http://127.0.0.1:1', filterverb: filter}]"
bad_config "bad httpTimeout" 'time: invalid duration "soon"' "$HDR
extenders: [{urlPrefix: 'http://127.0.0.1:1', filterVerb: filter, httpTimeout: soon}]"
bad_config "duplicate pluginConfig" 'profiles\[0\]\.pluginConfig\[1\]: Duplicate value: "NodeResourcesFit"' "$HDR
profiles:
- schedulerName: a
  pluginConfig: [{name: NodeResourcesFit, args: {}}, {name: NodeResourcesFit, args: {}}]"
bad_config "unknown scoring strategy" 'scoringStrategy' "$HDR
profiles:
- pluginConfig: [{name: NodeResourcesFit, args: {scoringStrategy: {type: Bogus}}}]"

# ---- a cluster with two profiles and extenders ----
start_apiserver
kube create sa default >/dev/null
start_hollow hollow node- 3 --cpu=4
wait_until "3 hollow nodes registered" 150 bash -c "[[ \$(kubectl --cache-dir $WORK/kcache get nodes -o name | wc -l) -ge 3 ]]"

python3 -u "$(dirname "$0")/sched_extender.py" "$WORK/ext.port" "$WORK/ext.jsonl" "$API_URL" node-2 node-0 node-1 \
  >>"$WORK/extender.log" 2>&1 &
PIDS+=("$!")
wait_until "extender listening" 50 test -s "$WORK/ext.port"
EXT="http://127.0.0.1:$(cat "$WORK/ext.port")"

cat >"$WORK/sched.yaml" <<EOF
$HDR
leaderElection:
  leaderElect: false
profiles:
- schedulerName: default-scheduler
- schedulerName: packer
  plugins:
    score:
      disabled:
      - name: NodeResourcesBalancedAllocation
      enabled:
      - name: NodeResourcesFit
        weight: 5
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
extenders:
- urlPrefix: $EXT/ok
  filterVerb: filter
  prioritizeVerb: prioritize
  bindVerb: bind
  preemptVerb: preempt
  weight: 5
  managedResources:
  - {name: example.com/widget, ignoredByScheduler: true}
- urlPrefix: $EXT/ok/
  filterVerb: filter
  nodeCacheCapable: true
  managedResources:
  - {name: example.com/gadget, ignoredByScheduler: true}
- urlPrefix: $EXT/broken
  filterVerb: filter
  managedResources:
  - {name: example.com/broken, ignoredByScheduler: true}
- urlPrefix: $EXT/garbage
  filterVerb: filter
  managedResources:
  - {name: example.com/garbage, ignoredByScheduler: true}
- urlPrefix: $EXT/slow
  filterVerb: filter
  httpTimeout: 2s
  ignorable: true
  managedResources:
  - {name: example.com/slow, ignoredByScheduler: true}
EOF
SPORT=$(free_port)
"$SCHED" --kubeconfig="$KUBECONFIG" --config="$WORK/sched.yaml" --secure-port="$SPORT" --bind-address=127.0.0.1 --v=2 \
  --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
  >>"$WORK/scheduler.log" 2>&1 &
PIDS+=("$!")
wait_ready "https://127.0.0.1:$SPORT/healthz"

pod() { # name scheduler cpu [extended-resource-json] [extra-spec-fields]
  local req="\"cpu\":\"$3\"" lim=""
  if [[ -n "${4:-}" ]]; then req="$req,$4"; lim=",\"limits\":{$4}"; fi
  kube create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$1"},
 "spec":{"schedulerName":"$2","containers":[{"name":"c","image":"busybox",
   "resources":{"requests":{$req}$lim}}]${5:+,$5}}}
EOF
}
node_of() { kube get pod "$1" -o jsonpath='{.spec.nodeName}'; }
bound() { [[ -n "$(node_of "$1")" ]]; }
events_of() { # pod reason -> messages
  kube get events --field-selector "involvedObject.name=$1,reason=$2" -o jsonpath='{range .items[*]}{.message}{"\n"}{end}'
}
has_event() { [[ -n "$(events_of "$1" "$2")" ]]; }
ext_calls() { # path pod -> count of extender calls
  [[ -e "$WORK/ext.jsonl" ]] || { echo 0; return; }
  python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if (e:=json.loads(l))["path"]==sys.argv[2] and e["pod"]==sys.argv[3]))' \
    "$WORK/ext.jsonl" "$2" "$1"
}

# node-0 is half full: LeastAllocated avoids it, MostAllocated prefers it.
kube create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"filler"},
 "spec":{"nodeName":"node-0","containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"2"}}}]}}
EOF

# ---- two profiles ----
pod spread-1 default-scheduler 100m
pod packed-1 packer 100m
pod nobody no-such-scheduler 100m
wait_until "default profile binds its pod" 100 bound spread-1
wait_until "packer profile binds its pod" 100 bound packed-1
expect_match "LeastAllocated avoids the busy node" '^node-[12]$' "$(node_of spread-1)"
expect_eq "MostAllocated packs onto the busy node" "node-0" "$(node_of packed-1)"
pod packed-2 packer 100m
wait_until "packer binds a second pod" 100 bound packed-2
expect_eq "the second packed pod joins them" "node-0" "$(node_of packed-2)"
wait_until "Scheduled event for packed-1" 50 has_event packed-1 Scheduled
OUT=$(kube get events --field-selector involvedObject.name=packed-1,reason=Scheduled -o jsonpath='{.items[0].source.component} {.items[0].reportingComponent}')
expect_eq "packer's events come from its schedulerName" "packer packer" "$OUT"
OUT=$(kube get events --field-selector involvedObject.name=spread-1,reason=Scheduled -o jsonpath='{.items[0].source.component}')
expect_eq "default profile's events come from default-scheduler" "default-scheduler" "$OUT"
expect_eq "a pod naming no profile stays pending" "" "$(node_of nobody)"
expect_eq "and gets no event" "" "$(events_of nobody FailedScheduling)"
OUT=$(curl -fsSk -H "Authorization: Bearer $(monitoring_token)" "https://127.0.0.1:$SPORT/metrics")
expect_match "attempts counted per profile" 'scheduler_schedule_attempts_total\{profile="packer",result="scheduled"\} 2' "$OUT"
expect_eq "pods without a managed resource never reach the extenders" "0" "$(ext_calls spread-1 /ok/filter)"

# ---- extender: filter, prioritize, bind ----
pod widget-1 default-scheduler 100m '"example.com/widget":"1"'
wait_until "widget pod bound" 100 bound widget-1
expect_eq "extender's prioritize wins: node-0" "node-0" "$(node_of widget-1)"
expect_eq "filter called once" "1" "$(ext_calls widget-1 /ok/filter)"
expect_eq "prioritize called once" "1" "$(ext_calls widget-1 /ok/prioritize)"
expect_eq "bound through bindVerb" "1" "$(ext_calls widget-1 /ok/bind)"
OUT=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["pod"] == "widget-1": print(e["path"], e["via"], ",".join(sorted(e["nodes"])), e["ctype"], json.dumps(e["bind"], sort_keys=True))' "$WORK/ext.jsonl")
expect_match "filter got a NodeList of every node" '^/ok/filter nodes node-0,node-1,node-2 application/json' "$OUT"
expect_match "prioritize got what the filter kept" '^/ok/prioritize nodes node-0,node-1 ' "$OUT"
UID0=$(kube get pod widget-1 -o jsonpath='{.metadata.uid}')
expect_match "ExtenderBindingArgs" "^/ok/bind .*\{\"node\": \"node-0\", \"podName\": \"widget-1\", \"podNamespace\": \"default\", \"podUID\": \"$UID0\"\}" "$OUT"
wait_until "Scheduled event after the extender bound" 50 has_event widget-1 Scheduled
expect_match "Scheduled message" '^Successfully assigned default/widget-1 to node-0$' "$(events_of widget-1 Scheduled)"

# the extender's filter excludes the only node the pod's selector allows
pod widget-2 default-scheduler 100m '"example.com/widget":"1"' '"nodeSelector":{"kubernetes.io/hostname":"node-2"}'
wait_until "FailedScheduling for widget-2" 100 has_event widget-2 FailedScheduling
expect_match "the extender's reason in the FitError" \
  "^0/3 nodes are available: 1 node-2 is excluded by the test extender, 2 node\(s\) didn't match Pod's node affinity/selector\. preemption: " \
  "$(events_of widget-2 FailedScheduling)"
expect_eq "widget-2 stays pending" "" "$(node_of widget-2)"
wait_until "PodScheduled=False Unschedulable" 50 bash -c \
  "kubectl --cache-dir $WORK/kcache get pod widget-2 -o jsonpath='{.status.conditions[?(@.type==\"PodScheduled\")].reason}' | grep -qx Unschedulable"

# preemption: the default choice would be node-2 (its victim has the
# lower priority), but the extender's preemptVerb keeps only node-1.
for pc in mid:50 high:100; do
  kube create priorityclass "${pc%%:*}" --value="${pc##*:}" >/dev/null
done
kube create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"victim-1"},
 "spec":{"nodeName":"node-1","priorityClassName":"mid","containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"3500m"}}}]}}
EOF
kube create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"victim-2"},
 "spec":{"nodeName":"node-2","containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"3500m"}}}]}}
EOF
pod widget-p default-scheduler 2 '"example.com/widget":"1"' '"priorityClassName":"high","affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["node-1","node-2"]}]}]}}}'
wait_until "the preemptor is nominated" 100 bash -c \
  "kubectl --cache-dir $WORK/kcache get pod widget-p -o jsonpath='{.status.nominatedNodeName}' | grep -q ."
expect_eq "the extender's choice wins" "node-1" "$(kube get pod widget-p -o jsonpath='{.status.nominatedNodeName}')"
OUT=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["pod"] == "widget-p" and e["path"] in ("/ok/preempt", "victims"): print(e["path"], e.get("via", "-"), json.dumps(e["nodes"], sort_keys=True))' "$WORK/ext.jsonl")
expect_match "preempt got both candidates as nodeNameToVictims" '^/ok/preempt nodeNameToVictims \["node-1", "node-2"\]' "$OUT"
expect_match "with their victims" '^victims - \{"node-1": \["victim-1"\], "node-2": \["victim-2"\]\}' "$OUT"
wait_until "Preempted event" 100 has_event victim-1 Preempted
wait_until "victim-1 is gone" 100 bash -c "! kubectl --cache-dir $WORK/kcache get pod victim-1 >/dev/null 2>&1"
expect_eq "victim-2 is left alone" "" "$(kube get pod victim-2 -o jsonpath='{.metadata.deletionTimestamp}')"
wait_until "the preemptor binds to node-1 through the extender" 150 bound widget-p
expect_eq "on node-1" "node-1" "$(node_of widget-p)"

# nodeCacheCapable: names only
pod gadget-1 packer 100m '"example.com/gadget":"1"'
wait_until "gadget pod bound" 100 bound gadget-1
OUT=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["pod"] == "gadget-1": print(e["path"], e["via"], ",".join(sorted(e["nodes"])))' "$WORK/ext.jsonl")
expect_match "nodeCacheCapable filter got node names" '^/ok//?filter nodenames node-0,node-1,node-2$' "$OUT"
expect_match "and the pod avoided the excluded node" '^node-[01]$' "$(node_of gadget-1)"

# ---- failing extenders ----
pod broken-1 default-scheduler 100m '"example.com/broken":"1"'
wait_until "FailedScheduling for broken-1" 100 has_event broken-1 FailedScheduling
expect_match "a 500 fails the attempt with upstream's message" \
  "^failed filter with extender at URL $EXT/broken/filter, code 500$" "$(events_of broken-1 FailedScheduling)"
wait_until "PodScheduled=False SchedulerError" 50 bash -c \
  "kubectl --cache-dir $WORK/kcache get pod broken-1 -o jsonpath='{.status.conditions[?(@.type==\"PodScheduled\")].reason}' | grep -qx SchedulerError"
pod garbage-1 default-scheduler 100m '"example.com/garbage":"1"'
wait_until "FailedScheduling for garbage-1" 100 has_event garbage-1 FailedScheduling
expect_match "an answer that is not JSON fails the attempt" \
  "^failed filter with extender at URL $EXT/garbage/filter" "$(events_of garbage-1 FailedScheduling)"

pod slow-1 default-scheduler 100m '"example.com/slow":"1"'
wait_until "the slow extender is being asked" 100 bash -c "[[ \$(grep -c '\"/slow/filter\"' $WORK/ext.jsonl) -ge 1 ]]"
ok "the scheduler answers while an extender call is out" curl -fsSk -m 1.5 "https://127.0.0.1:$SPORT/healthz"
wait_until "an ignorable extender that times out is skipped" 100 bound slow-1
expect_match "and the skip is logged" "Skipping extender as it returned error and has ignorable flag set extender=$EXT/slow" \
  "$(cat "$WORK/scheduler.log")"

# other pods still schedule after the failures
pod spread-2 default-scheduler 100m
wait_until "scheduling goes on" 100 bound spread-2
done_testing
