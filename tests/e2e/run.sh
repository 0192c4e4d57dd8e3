#!/usr/bin/env bash
# tests/e2e/run.sh [SCENARIO...] - the end-to-end suite: a cluster of
# deploy/docker-compose.yml (API server, scheduler, controller-manager and
# E2E_NODES workers, default 2), the scenarios of tests/e2e/scenarios/ in
# order against it, then everything removed.  Prints one line per scenario
# (PASS, FAIL or WAITING with the reason), the wall time, and a summary;
# exits non-zero when a scenario failed.  Scenario logs are kept under
# _out/e2e/<project>/.
#
# Images: the runtime image is deploy/Dockerfile's node-base stage plus
# the programs of the build in $KUBE_BIN (default build/), so CI compiles
# once; the test images come from tests/e2e/images.sh; all are loaded into
# each node's own runtime as `kind load docker-image` does.
#
#   E2E_NODES=3 tests/e2e/run.sh            three workers
#   tests/e2e/run.sh deployment service     only these scenarios (after 00-cluster)
#   E2E_KEEP=1 tests/e2e/run.sh             leave the cluster running at the end
#   KUBE_E2E_IMAGE=kube:latest tests/e2e/run.sh   use an image built by
#                                           `docker build -f deploy/Dockerfile .`
#   E2E_PROJECT=kube-e2e-x E2E_REUSE=1 tests/e2e/run.sh service
#                                           run scenarios against a cluster kept
#                                           by E2E_KEEP (it stays up)
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=cluster.sh
source "$(dirname "$0")/cluster.sh"

CLUSTER_STARTED=0
teardown() {
  local rc=$?
  trap - EXIT INT TERM
  if ((CLUSTER_STARTED)); then
    ((rc != 0 || FAILED > 0)) && save_logs
    if [[ -n "${E2E_KEEP:-}" ]]; then
      log "E2E_KEEP: the cluster stays up; KUBECONFIG=$KUBECONFIG; remove it with:"
      log "  ${COMPOSE_CMD[*]} -p $E2E_PROJECT -f $COMPOSE_FILE down -v"
    else
      compose down -v --remove-orphans >"$E2E_WORK/compose-down.log" 2>&1 || log "compose down failed; see $E2E_WORK/compose-down.log"
    fi
  fi
  rm -rf "$E2E_WORK/stage" "$E2E_WORK/kcache"
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

PASSED=() FAILED=0 FAILED_NAMES=() WAITING=()
run_scenario() { # FILE
  local f=$1 name rc t
  name=$(basename "$f" .sh); name=${name#[0-9][0-9]-}
  t=$SECONDS
  (
    E2E_SCENARIO=$name
    set -e
    # shellcheck disable=SC1090
    source "$f"
    echo "# $CHECKS checks passed"
  ) >"$E2E_WORK/$name.log" 2>&1
  rc=$?
  if ((rc != 0 && rc != 77)); then
    { echo "## objects in e2e-$name"; kube -n "e2e-$name" get all,endpointslices,events -o wide; } >>"$E2E_WORK/$name.log" 2>&1
  fi
  kube delete namespace "e2e-$name" --wait=false >/dev/null 2>&1
  case $rc in
    0) PASSED+=("$name"); echo "PASS e2e/$name ($((SECONDS - t))s, $(tail -1 "$E2E_WORK/$name.log" | sed 's/^# //'))"
       [[ -f "$E2E_WORK/note.$name" ]] && sed 's/^/    note: /' "$E2E_WORK/note.$name" ;;
    77) WAITING+=("$name"); echo "WAITING e2e/$name ($((SECONDS - t))s): $(cat "$E2E_WORK/waiting.$name" 2>/dev/null)" ;;
    *) FAILED=$((FAILED + 1)); FAILED_NAMES+=("$name")
       echo "FAIL e2e/$name ($((SECONDS - t))s); from $E2E_WORK/$name.log:"
       sed -n '/^## objects in/q; p' "$E2E_WORK/$name.log" | tail -n 15 | sed 's/^/    /' ;;
  esac
}

preflight
missing=$(missing_programs | tr '\n' ' ')
if [[ -n "$missing" && -z "${E2E_REUSE:-}" ]]; then
  # a branch without all five programs (before they are merged): nothing to
  # run a cluster with, and nothing that may be reported as passed
  echo "WAITING e2e/all (0s): the build in $KUBE_BIN has no ${missing% } (not merged yet): no cluster to test"
  echo "e2e: 0 passed, 0 failed, 1 waiting"
  exit 0
fi
if [[ -n "${E2E_REUSE:-}" ]]; then
  [[ -s "$KUBECONFIG" ]] || die "E2E_REUSE: no kubeconfig at $KUBECONFIG"
  E2E_NODES=$(ready_nodes | wc -l)
  log "reusing the running cluster of $E2E_PROJECT ($E2E_NODES nodes)"
else
  ensure_debian_base || die "no debian:bookworm-slim image"
  ensure_test_images || die "building the test images failed"
  runtime_image
  CLUSTER_STARTED=1
  cluster_up || { FAILED=1; FAILED_NAMES+=(cluster-up); echo "FAIL e2e/cluster-up"; exit 1; }
fi

for f in "$E2E_DIR"/scenarios/[0-9][0-9]-*.sh; do
  n=$(basename "$f" .sh); n=${n#[0-9][0-9]-}
  if (($#)) && [[ "$n" != cluster ]] && ! printf '%s\n' "$@" | grep -qx "$n"; then continue; fi
  run_scenario "$f"
done

echo
echo "e2e wall time: $(((SECONDS - T0) / 60))m$(((SECONDS - T0) % 60))s ($E2E_NODES workers)"
((${#WAITING[@]})) && echo "e2e waiting on unlanded work: ${WAITING[*]}"
((FAILED)) && echo "e2e failed: ${FAILED_NAMES[*]}"
echo "e2e: ${#PASSED[@]} passed, $FAILED failed, ${#WAITING[@]} waiting"
((FAILED == 0))
