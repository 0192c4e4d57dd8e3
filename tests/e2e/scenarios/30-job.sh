# 30-job: a Job with completions 4 and parallelism 2 runs to completion
# (never more than 2 pods at once), and a CronJob fires on its schedule
# and its Job completes.
new_namespace
kns apply -f - >/dev/null <<YAML || fail "create job and cronjob"
apiVersion: batch/v1
kind: Job
metadata: {name: work}
spec:
  completions: 4
  parallelism: 2
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: $BUSYBOX_IMAGE
        command: ["sh", "-c", "echo working on \$(hostname); sleep 2"]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 2
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: $BUSYBOX_IMAGE
            command: ["sh", "-c", "date; echo tick"]
YAML
max_active=0
job_done() {
  local a
  a=$(kns get job work -o jsonpath='{.status.active}')
  ((${a:-0} > max_active)) && max_active=${a:-0}
  [[ "$(kns get job work -o jsonpath='{.status.succeeded} {.status.conditions[?(@.type=="Complete")].status}')" == "4 True" ]]
}
deadline=$((SECONDS + 180))
until job_done; do ((SECONDS < deadline)) || fail "job work did not complete: $(kns get job work -o wide)"; sleep 1; done
pass "job completed 4 times"
((max_active <= 2)) || fail "job ran $max_active pods at once (parallelism 2)"
pass "at most 2 pods at once (seen $max_active)"
ok "job pods" kns get pods -l job-name=work -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}'
expect_eq "4 pods Succeeded" 4 "$(grep -c Succeeded <<<"$OUT")"
first=$(kns get pods -l job-name=work -o jsonpath='{.items[0].metadata.name}')
ok "job pod log" kns logs "$first"
expect_match "the pod's output" "^working on $first\$" "$OUT"

cron_ran() {
  local j
  j=$(kns get jobs -o jsonpath='{range .items[?(@.metadata.ownerReferences[0].name=="tick")]}{.metadata.name}={.status.succeeded}{"\n"}{end}' | grep '=1$' | head -1)
  [[ -n "$j" ]] && echo "${j%=1}"
}
wait_until "the CronJob fired and its Job succeeded" 150 cron_ran
cron_job=$OUT
ok "lastScheduleTime and lastSuccessfulTime" kns get cronjob tick -o jsonpath='{.status.lastScheduleTime} {.status.lastSuccessfulTime}'
expect_match "CronJob status" '^20[0-9-]+T[0-9:]+Z 20[0-9-]+T[0-9:]+Z$' "$OUT"
ok "the cron job's log" kns logs "job/$cron_job"
expect_match "cron output" '^tick$' "$OUT"
