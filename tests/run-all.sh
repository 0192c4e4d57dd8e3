#!/usr/bin/env bash
# Installs what the tests need, builds everything twice (a normal -Werror
# build and an ASan+UBSan build), runs the unit tests of both and a short
# libFuzzer run, then the integration tests against the real binaries with
# the real kubectl, helm and Python client ($IT_JOBS at a time, default 2)
# while the end-to-end suite runs beside them (tests/e2e/: a docker
# compose cluster and deploy/local-up.sh on a fresh-machine stand-in),
# then kube-init / kube-join under systemd.  Ends with one line
# "N passed, M failed"; scenarios waiting for work that has not landed are
# listed (they neither pass nor fail).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

mkdir -p "$ROOT/_out"
"$ROOT/deploy/install-deps.sh" --test || exit 1
"$ROOT/deploy/install-clients.sh" "$ROOT/_out/tools" || exit 1

IT_JOBS=${IT_JOBS:-2}
pass=0; fail=0; failed=(); waiting=()
note() { printf '\n=== %s\n' "$*"; }
record() { # name status
  if [[ $2 -eq 0 ]]; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$1"); fi
}
count_ctest() { # name log: adds ctest's own counts to the totals
  local line t f
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$2" | tail -1)
  if [[ -z "$line" ]]; then record "$1" 1; return; fi
  t=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  f=$(sed -E 's/.*tests passed, ([0-9]+) tests failed.*/\1/' <<<"$line")
  pass=$((pass + t - f)); fail=$((fail + f))
  if ((f > 0)); then failed+=("$1"); fi
}

note "build (RelWithDebInfo, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j2 2>&1 | tail -20
build_ok=${PIPESTATUS[0]}
if [[ ! -x build/apiserver/kube-apiserver ]]; then echo "build failed"; echo "0 passed, 1 failed"; exit 1; fi

note "unit tests"
ctest --test-dir build -L unit --output-on-failure -j2 2>&1 | tee _out/ctest.log
count_ctest unit _out/ctest.log

note "build (ASan+UBSan) and unit tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKUBE_SANITIZE=ON >/dev/null && cmake --build build-asan -j2 2>&1 | tail -20
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L unit --output-on-failure -j2 2>&1 | tee _out/ctest-asan.log
count_ctest unit-asan _out/ctest-asan.log

note "fuzz (libFuzzer: fuzz_json 60 s, every other target 20 s; tests/fuzz/run-long.sh runs them for long)"
FUZZ_TARGETS=(fuzz_json fuzz_http fuzz_api_request fuzz_yaml fuzz_protobuf fuzz_selector fuzz_quantity fuzz_patch
              fuzz_kubeconfig fuzz_auth)
if CC=clang cmake -S . -B build-fuzz -DKUBE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
   cmake --build build-fuzz -j2 --target "${FUZZ_TARGETS[@]}" 2>&1 | tail -3; then
  for t in "${FUZZ_TARGETS[@]}"; do
    secs=20; [[ $t == fuzz_json ]] && secs=60
    # Seeds from tests/fuzz/corpus/$t; the working corpus grows in _out/fuzz-ci/$t/corpus.
    if tests/fuzz/run-long.sh --time "$secs" --build build-fuzz --out _out/fuzz-ci "$t" >"_out/$t.log" 2>&1; then
      echo "PASS $(grep "^$t:" "_out/$t.log")"; record "$t" 0
    else
      echo "FAIL $(grep "^$t:" "_out/$t.log" || echo "$t")"; tail -30 "_out/fuzz-ci/$t/fuzz.log"; record "$t" 1
    fi
  done
else
  echo "FAIL fuzz build"; record fuzz_build 1
fi

note "container engine"
# The kubelet tests, the compose suite and the fresh-machine test all use
# the machine's Docker engine side by side.  When none answers, one is
# started here, for the whole run, and stopped (by its recorded PID) at the
# end: a test that started its own would stop it under the others.
docker_ping() { curl -fsS --max-time 2 --unix-socket /var/run/docker.sock http://d/_ping >/dev/null 2>&1; }
DOCKERD_PID=
stop_dockerd() {
  [[ -n "$DOCKERD_PID" ]] || return 0
  kill -TERM "$DOCKERD_PID" 2>/dev/null
  for _ in $(seq 1 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$DOCKERD_PID" 2>/dev/null
  DOCKERD_PID=
}
trap stop_dockerd EXIT
if docker_ping; then
  echo "using the Docker engine that answers on /var/run/docker.sock"
else
  dockerd >_out/dockerd.log 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 120); do docker_ping && break; sleep 0.5; done
  if docker_ping; then
    echo "started dockerd (pid $DOCKERD_PID, log _out/dockerd.log) for this run"
  else
    echo "FAIL dockerd did not start"; tail -20 _out/dockerd.log; record dockerd 1
  fi
fi

note "end-to-end suite started (docker compose cluster; deploy/local-up.sh on a fresh machine), beside the integration tests"
export PATH="$ROOT/_out/tools/bin:$PATH"
export KUBE_BIN="$ROOT/build"
# The end-to-end parts spend most of their time waiting on containers, as
# the integration tests do on the programs: they run side by side to keep
# the whole suite within its time.  Each uses its own containers, networks
# and names.
e2e_start=$(date +%s)
( timeout 2700 bash tests/e2e/run.sh >_out/e2e.log 2>&1; echo $? >_out/e2e.rc ) &
E2E_PID=$!
( start=$(date +%s); timeout 2400 bash tests/e2e/test_local_up.sh >_out/e2e-local-up.log 2>&1
  echo "$? $(( $(date +%s) - start ))" >_out/e2e-local-up.rc ) &
LU_PID=$!

note "integration tests ($IT_JOBS at a time)"
# Each test makes its own ports, names, namespaces and containers, so a
# few run side by side (most of their time is waiting on the programs
# under test); results are printed in the order they started, once all have finished.
it_run() { # TEST NAME: runs one test, recording its exit code and seconds
  local start=$(date +%s) rc=0
  timeout 900 bash "$1" >"_out/$2.log" 2>&1 || rc=$?
  echo "$rc $(( $(date +%s) - start ))" >"_out/$2.result"
}
# The longest tests start first (most of their time is waiting: the TLS
# bootstrap test waits for certificates to expire), so no lane ends with
# one of them started last.
LONG_FIRST="test_kubelet_tls_bootstrap test_kubelet_pods test_controllers_endpoints_race test_builtin_kinds"
it_order() {
  local t
  for t in $LONG_FIRST; do [[ -e tests/integration/$t.sh ]] && echo "tests/integration/$t.sh"; done
  for t in tests/integration/test_*.sh; do [[ " $LONG_FIRST " == *" $(basename "$t" .sh) "* ]] || echo "$t"; done
}
its=() IT_PIDS=()
for t in $(it_order); do
  [[ -e "$t" ]] || continue
  name=$(basename "$t" .sh); its+=("$name"); rm -f "_out/$name.result"
  while (( $(jobs -rp | wc -l) >= IT_JOBS + 2 )); do wait -n || true; done  # + the two e2e jobs
  it_run "$t" "$name" &
  IT_PIDS+=("$!")
done
wait "${IT_PIDS[@]}"
for name in "${its[@]}"; do
  read -r rc secs <"_out/$name.result" 2>/dev/null || { rc=1; secs=?; }
  if [[ $rc -eq 0 ]]; then
    echo "PASS $name (${secs}s)"; record "$name" 0
  else
    echo "FAIL $name (${secs}s, exit $rc)"; tail -40 "_out/$name.log"; record "$name" 1
  fi
done

note "end-to-end suite"
# record_e2e LOG: one record per "PASS/FAIL/WAITING e2e/NAME" line
record_e2e() {
  local kind name
  while read -r kind name _; do
    case "$kind" in
      PASS) record "$name" 0 ;;
      FAIL) record "$name" 1 ;;
      WAITING) waiting+=("$name") ;;
    esac
  done < <(grep -E '^(PASS|FAIL|WAITING) e2e/' "$1")
}
wait "$E2E_PID"
e2e_rc=$(cat _out/e2e.rc 2>/dev/null || echo 1)
grep -vE '^\[' _out/e2e.log
record_e2e _out/e2e.log
if ! grep -qE '^e2e: [0-9]+ passed' _out/e2e.log; then
  echo "FAIL e2e (exit $e2e_rc before the summary; see _out/e2e.log)"; tail -30 _out/e2e.log; record e2e/run 1
fi
wait "$LU_PID"
read -r lu_rc lu_secs <_out/e2e-local-up.rc 2>/dev/null || { lu_rc=1; lu_secs=?; }
if ((lu_rc == 0)); then
  echo "PASS e2e/local-up (${lu_secs}s, $(tail -1 _out/e2e-local-up.log | sed 's/^# //'))"; record e2e/local-up 0
elif ((lu_rc == 77)); then
  echo "WAITING e2e/local-up: $(grep -m1 '^WAITING' _out/e2e-local-up.log | sed 's/^WAITING: //')"; waiting+=(e2e/local-up)
else
  echo "FAIL e2e/local-up (${lu_secs}s)"; tail -40 _out/e2e-local-up.log; record e2e/local-up 1
fi
start=$(date +%s)
timeout 1200 bash tests/e2e/test_systemd_join.sh >_out/e2e-systemd.log 2>&1; sd_rc=$?
if ((sd_rc == 0)); then
  echo "PASS e2e/systemd-join ($(( $(date +%s) - start ))s, $(tail -1 _out/e2e-systemd.log | sed 's/^# //'))"; record e2e/systemd-join 0
elif ((sd_rc == 77)); then
  echo "WAITING e2e/systemd-join: $(grep -m1 '^WAITING' _out/e2e-systemd.log | sed 's/^WAITING: //')"; waiting+=(e2e/systemd-join)
else
  echo "FAIL e2e/systemd-join ($(( $(date +%s) - start ))s)"; grep -E '^(ok|FAIL)' _out/e2e-systemd.log | tail -15; record e2e/systemd-join 1
fi
echo "end-to-end wall time (beside the integration tests): $(( ($(date +%s) - e2e_start) / 60 ))m$(( ($(date +%s) - e2e_start) % 60 ))s"

note "summary"
((${#waiting[@]})) && echo "waiting on work that has not landed (see _out/e2e.log): ${waiting[*]}"
((fail)) && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed"
((fail == 0 && build_ok == 0))
