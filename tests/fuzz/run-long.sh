#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz one after the other, each for a
# given time or number of executions, under nice 19 (the machine is shared),
# and prints per target: executions, seconds, executions per second and
# crashes (a crash, leak, sanitizer report, timeout or out-of-memory ends
# that target's run; its input is kept as OUT/<target>/crash-*, leak-*,
# timeout-* or oom-*).
#
#   tests/fuzz/run-long.sh [--time SECONDS | --runs N] [--build DIR]
#                          [--out DIR] [--max-len BYTES] [TARGET...]
#
# Defaults: --time 1800, --build build-fuzz (configured with CC=clang
# -DKUBE_FUZZ=ON; built here when a target is missing), --out
# _out/fuzz-long, every target.  Each target reads its seeds from
# tests/fuzz/corpus/<target>/ and grows a working corpus in
# OUT/<target>/corpus/ that later runs start from.  The last line is
# "fuzz: N passed, M failed"; the exit status is 0 only when none failed.
# Summary lines are also appended to OUT/summary.txt.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

TIME=1800 RUNS= BUILD=build-fuzz OUT=_out/fuzz-long MAX_LEN=4096
TARGETS=()
while (($#)); do
  case $1 in
  --time) TIME=$2; RUNS=; shift 2 ;;
  --runs) RUNS=$2; TIME=; shift 2 ;;
  --build) BUILD=$2; shift 2 ;;
  --out) OUT=$2; shift 2 ;;
  --max-len) MAX_LEN=$2; shift 2 ;;
  -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
  -*) echo "unknown option $1" >&2; exit 2 ;;
  *) TARGETS+=("$1"); shift ;;
  esac
done
# Every target is one tests/fuzz/fuzz_*.c file.
ALL=()
for f in tests/fuzz/fuzz_*.c; do ALL+=("$(basename "$f" .c)"); done
((${#TARGETS[@]})) || TARGETS=("${ALL[@]}")

missing=0
for t in "${TARGETS[@]}"; do [[ -x $BUILD/tests/fuzz/$t ]] || missing=1; done
if ((missing)); then
  { CC=clang cmake -S . -B "$BUILD" -DKUBE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    nice -n 19 cmake --build "$BUILD" -j2 --target "${TARGETS[@]}" 2>&1 | tail -3; } ||
    { echo "fuzz build failed"; exit 1; }
fi

# UBSan findings must end the run like ASan's (the fuzz build lets them recover otherwise).
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

pass=0 fail=0
mkdir -p "$OUT"
for t in "${TARGETS[@]}"; do
  dir=$OUT/$t
  mkdir -p "$dir/corpus"
  seeds=tests/fuzz/corpus/$t
  [[ -d $seeds ]] || seeds=
  limit=(-max_total_time="$TIME")
  [[ -n $RUNS ]] && limit=(-runs="$RUNS")
  log=$dir/fuzz.log
  start=$(date +%s.%N)
  nice -n 19 "$BUILD/tests/fuzz/$t" "${limit[@]}" -max_len="$MAX_LEN" -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" ${seeds:+"$seeds"} >"$log" 2>&1
  rc=$?
  end=$(date +%s.%N)
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
  # Executions: the final stats, else the last status line ("#12345 ...").
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [[ -n $execs ]] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  execs=${execs:-0}
  rate=$(awk -v n="$execs" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : n) }')
  crashes=0 status=PASS note=
  if ((rc != 0)); then
    crashes=1 status=FAIL
    art=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //')
    kind=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-zA-Z-]+|runtime error|check failed' "$log")
    note=" (${kind:-exit $rc}${art:+, input $art}; log $log)"
  fi
  line="$t: $status $execs executions in $secs s ($rate/s), $crashes crash(es)$note"
  echo "$line"
  echo "$(date -u +%FT%TZ) $line" >>"$OUT/summary.txt"
  if [[ $status == PASS ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "fuzz: $pass passed, $fail failed"
((fail == 0))
