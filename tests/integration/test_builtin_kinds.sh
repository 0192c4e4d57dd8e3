#!/usr/bin/env bash
# Every kind of the built-in API, proved with the real kubectl:
#  (a) `kubectl api-resources` lists it with upstream's group/version,
#      scope, kind and short names;
#  (b) its group-version's OpenAPI v3 document carries its schema, tagged
#      with x-kubernetes-group-version-kind;
#  (c) an upstream-documentation-style manifest (tests/fixtures/kinds/)
#      created with `kubectl create -f` (strict field validation) reads back
#      with every field unchanged, and the only fields the server added are
#      the defaults upstream sets (pkg/apis/*/v1/defaults.go, the strategies'
#      PrepareForCreate and the admission plugins upstream enables).
# All mismatches of (c) are listed before the test fails, so one run shows
# the whole picture.
source "$(dirname "$0")/lib.sh"
K=$(cd "$(dirname "$0")/../fixtures/kinds" && pwd)
start_apiserver

# (a) discovery ------------------------------------------------------------
# plural shortnames apiVersion namespaced kind  ("-" = no short names)
EXPECTED_RESOURCES="
namespaces ns v1 false Namespace
pods po v1 true Pod
nodes no v1 false Node
services svc v1 true Service
endpoints ep v1 true Endpoints
configmaps cm v1 true ConfigMap
secrets - v1 true Secret
serviceaccounts sa v1 true ServiceAccount
events ev v1 true Event
persistentvolumes pv v1 false PersistentVolume
persistentvolumeclaims pvc v1 true PersistentVolumeClaim
limitranges limits v1 true LimitRange
resourcequotas quota v1 true ResourceQuota
podtemplates - v1 true PodTemplate
replicationcontrollers rc v1 true ReplicationController
deployments deploy apps/v1 true Deployment
replicasets rs apps/v1 true ReplicaSet
statefulsets sts apps/v1 true StatefulSet
daemonsets ds apps/v1 true DaemonSet
controllerrevisions - apps/v1 true ControllerRevision
jobs - batch/v1 true Job
cronjobs cj batch/v1 true CronJob
horizontalpodautoscalers hpa autoscaling/v2 true HorizontalPodAutoscaler
endpointslices - discovery.k8s.io/v1 true EndpointSlice
leases - coordination.k8s.io/v1 true Lease
events ev events.k8s.io/v1 true Event
ingresses ing networking.k8s.io/v1 true Ingress
ingressclasses - networking.k8s.io/v1 false IngressClass
networkpolicies netpol networking.k8s.io/v1 true NetworkPolicy
poddisruptionbudgets pdb policy/v1 true PodDisruptionBudget
priorityclasses pc scheduling.k8s.io/v1 false PriorityClass
storageclasses sc storage.k8s.io/v1 false StorageClass
roles - rbac.authorization.k8s.io/v1 true Role
rolebindings - rbac.authorization.k8s.io/v1 true RoleBinding
clusterroles - rbac.authorization.k8s.io/v1 false ClusterRole
clusterrolebindings - rbac.authorization.k8s.io/v1 false ClusterRoleBinding
mutatingwebhookconfigurations - admissionregistration.k8s.io/v1 false MutatingWebhookConfiguration
validatingwebhookconfigurations - admissionregistration.k8s.io/v1 false ValidatingWebhookConfiguration
"
ok "api-resources" kube api-resources --no-headers
API_RESOURCES=$(awk 'NF==4 {print $1, "-", $2, $3, $4; next} {print $1, $2, $3, $4, $5}' <<<"$OUT")
while read -r plural short gv nsd kind; do
  [[ -z "$plural" ]] && continue
  expect_match "api-resources: $plural ($gv)" "^$plural $short $gv $nsd $kind\$" "$API_RESOURCES"
done <<<"$EXPECTED_RESOURCES"

# (b) OpenAPI v3 -----------------------------------------------------------
curl -fsS "$API_URL/openapi/v3" >"$WORK/openapi-index.json"
python3 - "$API_URL" "$WORK/openapi-index.json" "$EXPECTED_RESOURCES" >"$WORK/openapi.out" 2>&1 <<'PY' || true
import json, sys, urllib.request
url, index, table = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
docs = {}
for line in table.strip().splitlines():
    plural, short, gv, nsd, kind = line.split()
    group, version = gv.split("/") if "/" in gv else ("", gv)
    key = "api/v1" if not group else "apis/" + gv
    ent = index.get("paths", {}).get(key)
    if not ent:
        print(f"FAIL {kind} {gv}: /openapi/v3 lists no {key}"); continue
    if key not in docs:
        docs[key] = json.load(urllib.request.urlopen(url + ent["serverRelativeURL"]))
    schemas = docs[key].get("components", {}).get("schemas", {})
    hit = [n for n, s in schemas.items()
           if {"group": group, "version": version, "kind": kind} in s.get("x-kubernetes-group-version-kind", [])]
    if not hit:
        print(f"FAIL {kind} {gv}: no schema with x-kubernetes-group-version-kind"); continue
    props = schemas[hit[0]].get("properties", {})
    if "metadata" not in props:
        print(f"FAIL {kind} {gv}: schema {hit[0]} has no metadata property"); continue
    print(f"PASS {kind} {gv} {hit[0]}")
PY
while read -r verdict what; do
  if [[ $verdict == PASS ]]; then pass "openapi v3 schema: $what"; else echo "FAIL: openapi v3: $what" >&2; BAD=1; fi
done <"$WORK/openapi.out"
[[ -z "${BAD:-}" ]] || { cat "$WORK/openapi.out"; fail "openapi v3 schemas missing"; }

# (c) create each manifest and read it back --------------------------------
# The ServiceAccount admission plugin needs the namespace's `default`
# ServiceAccount (the serviceaccount controller makes it; none runs here).
kube get sa default >/dev/null 2>&1 || kube create sa default >/dev/null
# LimitRange and ResourceQuota last: they would change the pods after them.
ORDER=$(cd "$K" && ls *.yaml | grep -v -e '^limitrange' -e '^resourcequota'; echo limitrange.yaml; echo resourcequota.yaml)
for f in $ORDER; do
  if kube create -f "$K/$f" -o json >"$WORK/$f.json" 2>"$WORK/$f.err"; then
    pass "create -f kinds/$f"
  else
    echo "FAIL: create -f kinds/$f: $(cat "$WORK/$f.err")" >&2
    echo "{}" >"$WORK/$f.json"
    CREATE_FAILED="${CREATE_FAILED:-} $f"
  fi
  # read back what a later GET sees (not just the create answer)
  kind=$(awk '/^kind:/ {print $2; exit}' "$K/$f")
  api=$(awk '/^apiVersion:/ {print $2; exit}' "$K/$f")
  name=$(python3 -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["metadata"]["name"])' "$K/$f")
  res=$(awk -v k="$kind" -v a="$api" '$5==k && $3==a {print $1; exit}' <<<"$API_RESOURCES")
  group=${api%/*}; [[ $group == "$api" ]] && group="" || group=".$group"
  kube get "$res$group" "$name" -o json >"$WORK/$f.get.json" 2>&1 || echo "{}" >"$WORK/$f.get.json"
done

python3 - "$K" "$WORK" $ORDER >"$WORK/roundtrip.out" 2>&1 <<'PY' || true
import json, re, sys, yaml
kdir, work, files = sys.argv[1], sys.argv[2], sys.argv[3:]
UID = "<uid>"           # equals the object's metadata.uid
def RE(p): return ("re", p)

# The fields upstream adds to each manifest (v1.32 defaults, strategies and
# default admission plugins).  Server-owned metadata (uid, resourceVersion,
# creationTimestamp, namespace, generation, managedFields) and empty {} / []
# values (Go's encoding of empty structs) are not listed.
TEMPLATE = lambda p, pull="IfNotPresent", restart="Always", grace=True, ports=(): dict(
    {f"{p}.containers[0].imagePullPolicy": pull,
     f"{p}.containers[0].terminationMessagePath": "/dev/termination-log",
     f"{p}.containers[0].terminationMessagePolicy": "File",
     f"{p}.dnsPolicy": "ClusterFirst",
     f"{p}.schedulerName": "default-scheduler"},
    **({f"{p}.restartPolicy": restart} if restart else {}),
    **({f"{p}.terminationGracePeriodSeconds": 30} if grace else {}),
    **{f"{p}.containers[0].ports[{i}].protocol": "TCP" for i in ports})
SA_VOLUME = {
    "spec.serviceAccount": "default",
    "spec.volumes[0].name": RE(r"^kube-api-access-[a-z0-9]{5}$"),
    "spec.volumes[0].projected.defaultMode": 420,
    "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds": 3607,
    "spec.volumes[0].projected.sources[0].serviceAccountToken.path": "token",
    "spec.volumes[0].projected.sources[1].configMap.name": "kube-root-ca.crt",
    "spec.volumes[0].projected.sources[1].configMap.items[0].key": "ca.crt",
    "spec.volumes[0].projected.sources[1].configMap.items[0].path": "ca.crt",
    "spec.volumes[0].projected.sources[2].downwardAPI.items[0].fieldRef.apiVersion": "v1",
    "spec.volumes[0].projected.sources[2].downwardAPI.items[0].fieldRef.fieldPath": "metadata.namespace",
    "spec.volumes[0].projected.sources[2].downwardAPI.items[0].path": "namespace",
    "spec.containers[0].volumeMounts[0].name": RE(r"^kube-api-access-[a-z0-9]{5}$"),
    "spec.containers[0].volumeMounts[0].mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
    "spec.containers[0].volumeMounts[0].readOnly": True,
}
EXPECTED = {
  "namespace.yaml": {"metadata.labels.kubernetes.io/metadata.name": "development",
                     "spec.finalizers[0]": "kubernetes", "status.phase": "Active"},
  "pod.yaml": {**TEMPLATE("spec", ports=[0]), **SA_VOLUME,
               "spec.enableServiceLinks": True, "spec.preemptionPolicy": "PreemptLowerPriority",
               "spec.priority": 0, "spec.serviceAccountName": "default",
               **{f"spec.tolerations[{i}].{k}": v for i, key in enumerate(
                   ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"])
                  for k, v in (("key", key), ("operator", "Exists"), ("effect", "NoExecute"),
                               ("tolerationSeconds", 300))},
               "status.phase": "Pending", "status.qosClass": "BestEffort"},
  # NodeSystemInfo and DaemonEndpoint fields have no omitempty: Go prints
  # their zero values
  "node.yaml": {"status.daemonEndpoints.kubeletEndpoint.Port": 0,
                **{f"status.nodeInfo.{k}": "" for k in (
                    "architecture", "bootID", "containerRuntimeVersion", "kernelVersion",
                    "kubeProxyVersion", "kubeletVersion", "machineID", "operatingSystem",
                    "osImage", "systemUUID")}},
  "service.yaml": {"spec.clusterIP": RE(r"^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$"), "spec.clusterIPs[0]": RE(r"^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$"),
                   "spec.internalTrafficPolicy": "Cluster", "spec.ipFamilies[0]": "IPv4",
                   "spec.ipFamilyPolicy": "SingleStack", "spec.sessionAffinity": "None",
                   "spec.type": "ClusterIP"},
  "endpoints.yaml": {}, "configmap.yaml": {}, "serviceaccount.yaml": {},
  "secret.yaml": {"data.password": "dDBwLVNlY3JldA=="},
  "event.yaml": {"reportingComponent": "", "reportingInstance": ""}, "event-v1.yaml": {},
  "persistentvolume.yaml": {"spec.hostPath.type": "", "spec.persistentVolumeReclaimPolicy": "Retain",
                            "spec.volumeMode": "Filesystem", "status.phase": "Pending"},
  "persistentvolumeclaim.yaml": {"spec.volumeMode": "Filesystem", "status.phase": "Pending"},
  "limitrange.yaml": {}, "resourcequota.yaml": {},
  "podtemplate.yaml": TEMPLATE("template.spec"),
  "replicationcontroller.yaml": {**TEMPLATE("spec.template.spec", pull="Always", ports=[0]),
                                 "metadata.labels.app": "nginx-rc", "status.replicas": 0},
  "deployment.yaml": {**TEMPLATE("spec.template.spec", ports=[0]),
                      "spec.progressDeadlineSeconds": 600, "spec.revisionHistoryLimit": 10,
                      "spec.strategy.type": "RollingUpdate",
                      "spec.strategy.rollingUpdate.maxSurge": "25%",
                      "spec.strategy.rollingUpdate.maxUnavailable": "25%"},
  "replicaset.yaml": {**TEMPLATE("spec.template.spec"), "status.replicas": 0},
  "statefulset.yaml": {**TEMPLATE("spec.template.spec", grace=False, ports=[0]),
                       "spec.podManagementPolicy": "OrderedReady", "spec.revisionHistoryLimit": 10,
                       "spec.updateStrategy.type": "RollingUpdate",
                       "spec.updateStrategy.rollingUpdate.partition": 0,
                       "spec.persistentVolumeClaimRetentionPolicy.whenDeleted": "Retain",
                       "spec.persistentVolumeClaimRetentionPolicy.whenScaled": "Retain",
                       "spec.volumeClaimTemplates[0].apiVersion": "v1",
                       "spec.volumeClaimTemplates[0].kind": "PersistentVolumeClaim",
                       "spec.volumeClaimTemplates[0].spec.volumeMode": "Filesystem",
                       "spec.volumeClaimTemplates[0].status.phase": "Pending",
                       "status.replicas": 0, "status.availableReplicas": 0},
  "daemonset.yaml": {**TEMPLATE("spec.template.spec", grace=False),
                     "spec.revisionHistoryLimit": 10, "spec.template.spec.volumes[0].hostPath.type": "",
                     "spec.updateStrategy.type": "RollingUpdate",
                     "spec.updateStrategy.rollingUpdate.maxSurge": 0,
                     "spec.updateStrategy.rollingUpdate.maxUnavailable": 1,
                     "status.currentNumberScheduled": 0, "status.desiredNumberScheduled": 0,
                     "status.numberMisscheduled": 0, "status.numberReady": 0},
  "controllerrevision.yaml": {},
  "job.yaml": {**TEMPLATE("spec.template.spec", restart=None),
               "spec.completionMode": "NonIndexed", "spec.completions": 1, "spec.parallelism": 1,
               "spec.podReplacementPolicy": "TerminatingOrFailed", "spec.suspend": False,
               "spec.selector.matchLabels.batch.kubernetes.io/controller-uid": UID,
               **{f"{p}.{k}": v for p in ("metadata.labels", "spec.template.metadata.labels")
                  for k, v in (("batch.kubernetes.io/controller-uid", UID), ("controller-uid", UID),
                               ("batch.kubernetes.io/job-name", "pi"), ("job-name", "pi"))}},
  "cronjob.yaml": {**{k: v for k, v in TEMPLATE("spec.jobTemplate.spec.template.spec", restart=None).items()
                      if not k.endswith("imagePullPolicy")},
                   "spec.concurrencyPolicy": "Allow", "spec.failedJobsHistoryLimit": 1,
                   "spec.successfulJobsHistoryLimit": 3, "spec.suspend": False},
  "horizontalpodautoscaler.yaml": {"status.desiredReplicas": 0},
  "endpointslice.yaml": {}, "lease.yaml": {},
  "ingress.yaml": {}, "ingressclass.yaml": {}, "networkpolicy.yaml": {},
  "poddisruptionbudget.yaml": {"status.currentHealthy": 0, "status.desiredHealthy": 0,
                               "status.disruptionsAllowed": 0, "status.expectedPods": 0},
  "priorityclass.yaml": {"preemptionPolicy": "PreemptLowerPriority"},
  "storageclass.yaml": {},
  "role.yaml": {}, "rolebinding.yaml": {}, "clusterrole.yaml": {}, "clusterrolebinding.yaml": {},
}
# Manifest fields upstream moves: Secret stringData is folded into data.
MOVED = {"secret.yaml": {"stringData.password"}}
# Manifest fields upstream drops: zero values of omitempty fields.
DROPPED = {"priorityclass.yaml": {"globalDefault"}}
SERVER_META = {"metadata.uid", "metadata.resourceVersion", "metadata.creationTimestamp",
               "metadata.namespace", "metadata.generation"}

def flat(v, p, out):
    if isinstance(v, dict) and v:
        for k, x in v.items(): flat(x, f"{p}.{k}" if p else k, out)
    elif isinstance(v, list) and v:
        for i, x in enumerate(v): flat(x, f"{p}[{i}]", out)
    elif v not in ({}, [], None):
        out[p] = v

def match(want, got, uid):
    if want == UID: return got == uid
    if isinstance(want, tuple): return isinstance(got, str) and re.match(want[1], got) is not None
    return type(want) is type(got) and want == got

for f in files:
    man = yaml.safe_load(open(f"{kdir}/{f}"))
    for which in ("json", "get.json"):
        got = json.load(open(f"{work}/{f}.{which}"))
        if not got.get("metadata"):
            print(f"FAIL {f} ({which}): no object came back"); break
        fm, fg = {}, {}
        flat(man, "", fm); flat(got, "", fg)
        uid = got["metadata"].get("uid")
        problems = []
        for k, v in fm.items():
            if k in MOVED.get(f, ()) or k in DROPPED.get(f, ()):
                if k in fg: problems.append(f"{k} should have gone")
            elif k not in fg: problems.append(f"lost {k} (was {v!r})")
            elif fg[k] != v: problems.append(f"changed {k}: {v!r} -> {fg[k]!r}")
        exp = EXPECTED[f]
        for k, v in fg.items():
            if k in fm or k in SERVER_META or k.startswith("metadata.managedFields"): continue
            if k not in exp: problems.append(f"unexpected {k}: {v!r}")
            elif not match(exp[k], v, uid): problems.append(f"default {k}: want {exp[k]!r} got {v!r}")
        for k, v in exp.items():
            if k not in fg: problems.append(f"missing default {k}: {v!r}")
        if problems:
            print(f"FAIL {f} ({which}): " + "; ".join(problems))
        else:
            print(f"PASS {f} ({which}) round trip and defaults as upstream")
PY
while read -r verdict what; do
  if [[ $verdict == PASS ]]; then pass "$what"; else echo "FAIL: $what" >&2; RT_BAD=1; fi
done <"$WORK/roundtrip.out"
[[ -z "${CREATE_FAILED:-}" ]] || fail "create failed for:$CREATE_FAILED"
[[ -z "${RT_BAD:-}" ]] || fail "round trip / defaults differ from upstream (listed above)"
done_testing
