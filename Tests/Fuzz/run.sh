#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer binary (build.sh), replays the saved regression inputs, then runs every target
# for FUZZ_RUNS inputs. Fails on any crash, broken invariant, hang (-timeout), leak or memory blow-up (-rss_limit_mb).
#
# Env: FUZZ_RUNS (default 1000000) · FUZZ_TARGETS (space-separated subset; default all) · FUZZ_MAX_TIME (seconds per
# target, 0 = no limit; a target stopped by it fails unless FUZZ_RUNS is reached or FUZZ_TIME_OK=1) · FUZZ_TIMEOUT (seconds one input
# may take, default 10) · FUZZ_JOBS (targets run at once, default 1) · FUZZ_SCRATCH · FUZZ_NO_BUILD=1 ·
# FUZZ_STRICT=1 (also check what Tests/Fuzz/known-findings.txt lists).
# known-findings.txt lists the checks of findings that are reported but not fixed yet (in code this area does not
# own); they are switched off (CHECKPOINT_FUZZ_SKIP) and named in the output, so every other check keeps running.
# Delete a line when its finding is fixed: its reproducer in regressions/ then guards it.
# Per target it prints runs, exec/s and coverage, then one table row: | fuzz <target> | N runs, no crash | … |
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SCRATCH=${FUZZ_SCRATCH:-$ROOT/.build-fuzz}
FUZZ_RUNS=${FUZZ_RUNS:-1000000}
FUZZ_MAX_TIME=${FUZZ_MAX_TIME:-0}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_JOBS=${FUZZ_JOBS:-1}
ALL="gymcu90640 singlepoint asciiline toml config calibration declaration queue-record upload-response pccovid-qr cccd-qr"
TARGETS=${FUZZ_TARGETS:-$ALL}
BIN=${FUZZ_BIN:-$SCRATCH/fuzz/checkpoint-fuzz}

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
  "$HERE/build.sh" || { echo "| fuzz build | FAILED | see above |"; exit 1; }
fi
[ -x "$BIN" ] || { echo "run.sh: $BIN is missing" >&2; exit 1; }

symbolizer=$(command -v llvm-symbolizer || ls /opt/swift/usr/bin/llvm-symbolizer 2>/dev/null || true)
# Swift's own crash backtracer hangs under ASan when an invariant aborts; libFuzzer and ASan report instead.
export SWIFT_BACKTRACE=enable=no
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$HERE/lsan.supp:print_suppressions=0}"
if [ "${FUZZ_STRICT:-0}" != 1 ] && [ -f "$HERE/known-findings.txt" ]; then
  known=$(sed -e 's/#.*//' "$HERE/known-findings.txt" | awk 'NF {print $1}' | paste -sd, -)
  if [ -n "$known" ]; then
    export CHECKPOINT_FUZZ_SKIP="${CHECKPOINT_FUZZ_SKIP:+$CHECKPOINT_FUZZ_SKIP,}$known"
    echo "run.sh: known findings, not checked (FUZZ_STRICT=1 checks them): $known"
  fi
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=0}${symbolizer:+:external_symbolizer_path=$symbolizer}"

dict() { case "$1" in gymcu90640|singlepoint|asciiline) echo thermal;; toml|config|calibration) echo toml;;
  declaration|queue-record) echo json;; upload-response) echo http;; pccovid-qr|cccd-qr) echo qr;; esac; }
maxlen() { case "$1" in gymcu90640) echo 8192;; config) echo 16384;; calibration) echo 8192;;
  declaration) echo 8192;; *) echo 4096;; esac; }

# TOMLKit leaks on every parse (lsan.supp), so libFuzzer would run a full leak scan after every input of the TOML
# targets (about 35x slower); they run without per-input leak checks.
leaks() { case "$1" in toml|config|calibration) echo 0;; *) echo 1;; esac; }
# The same leak grows a TOML target by a few KB per input (about 6 GB over a million config inputs): more room.
rss() { case "$1" in toml|config|calibration) echo "${FUZZ_TOML_RSS_MB:-8192}";; *) echo 2048;; esac; }

results="$SCRATCH/fuzz/results"
mkdir -p "$results"
for t in $TARGETS; do rm -f "$results/$t".*; done

run_target() {
  local t=$1 log="$results/$1.log" row="$results/$1.row"
  local work="$SCRATCH/fuzz/corpus/$t" art="$SCRATCH/fuzz/artifacts/$t"
  mkdir -p "$work" "$art"
  local seeds=("$HERE/corpus/$t")
  # Regression inputs (reported findings, fixed or not) must pass first.
  local reg=()
  if [ -d "$HERE/regressions/$t" ]; then mapfile -t reg < <(find "$HERE/regressions/$t" -type f | sort); fi
  if [ "${#reg[@]}" -gt 0 ]; then
    if ! CHECKPOINT_FUZZ_TARGET=$t "$BIN" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb=2048 -detect_leaks="$(leaks "$t")" "${reg[@]}" >"$log.reg" 2>&1; then
      cat "$log.reg" > "$log"
      echo "| fuzz $t | REGRESSION: a saved input in Tests/Fuzz/regressions/$t fails | $(grep -m1 -o 'INVARIANT.*\|ERROR: [A-Za-z]*Sanitizer.*\|deadly signal' "$log.reg" | head -c 200) |" > "$row"
      return 1
    fi
  fi
  local start=$(date +%s)
  CHECKPOINT_FUZZ_TARGET=$t nice -n 5 "$BIN" "$work" "${seeds[@]}" \
    -runs="$FUZZ_RUNS" -max_total_time="$FUZZ_MAX_TIME" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$(rss "$t")" \
    -max_len="$(maxlen "$t")" -dict="$HERE/dict/$(dict "$t").dict" -artifact_prefix="$art/" \
    -detect_leaks="$(leaks "$t")" -print_final_stats=1 -close_fd_mask=1 >"$log" 2>&1
  local rc=$? secs=$(( $(date +%s) - start ))
  local runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)
  local eps=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)
  local cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n1)
  local corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -n1)
  runs=${runs:-0}; eps=${eps:-0}
  [ "$eps" -eq 0 ] && [ "$secs" -gt 0 ] && eps=$((runs / secs))
  echo "fuzz $t: runs $runs, $eps exec/s, ${cov:-cov ?}, ${corp:-corp ?}, ${secs} s, exit $rc"
  if [ "$rc" -eq 0 ] && [ "$runs" -ge "$FUZZ_RUNS" ]; then
    echo "| fuzz $t | $runs runs, no crash | $eps exec/s, ${cov:-cov ?}, ${secs} s |" > "$row"
    return 0
  fi
  if [ "$rc" -eq 0 ] && [ "${FUZZ_TIME_OK:-0}" = 1 ]; then
    echo "| fuzz $t | $runs runs (time limit ${FUZZ_MAX_TIME} s), no crash | $eps exec/s, ${cov:-cov ?}, ${secs} s |" > "$row"
    return 0
  fi
  local why
  why=$(grep -m1 -o 'INVARIANT.*\|ERROR: [A-Za-z]*Sanitizer: [a-z-]*\|ERROR: libFuzzer: [a-z-]*\|Fatal error.*' "$log" | head -c 300)
  [ -z "$why" ] && [ "$rc" -eq 0 ] && why="stopped after $runs of $FUZZ_RUNS runs (FUZZ_MAX_TIME=$FUZZ_MAX_TIME s)"
  local artifact=$(grep -o "Test unit written to [^ ]*" "$log" | tail -n1 | sed 's/Test unit written to //')
  echo "| fuzz $t | FAILED after $runs runs: ${why:-exit $rc} | ${artifact:+reproduce: CHECKPOINT_FUZZ_TARGET=$t $BIN $artifact} |" > "$row"
  return 1
}

failed=0
pids=()
for t in $TARGETS; do
  if [ "$FUZZ_JOBS" -gt 1 ]; then
    while [ "$(jobs -rp | wc -l)" -ge "$FUZZ_JOBS" ]; do sleep 1; done
    run_target "$t" & pids+=($!)
  else
    run_target "$t" || failed=1
  fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done

echo
echo "| measure | value | notes |"
echo "|---|---|---|"
for t in $TARGETS; do
  cat "$results/$t.row" 2>/dev/null || { echo "| fuzz $t | FAILED: no result |  |"; failed=1; }
done
if [ "$failed" -ne 0 ]; then
  echo
  for t in $TARGETS; do
    if grep -q FAILED\\\|REGRESSION "$results/$t.row" 2>/dev/null; then
      echo "--- $t (log $results/$t.log), last lines:"
      grep -v '^#[0-9]' "$results/$t.log" | tail -n 40
    fi
  done
fi
exit "$failed"
