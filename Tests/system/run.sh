#!/usr/bin/env bash
# Runs the system tests with BIN (built binaries) and SHARED (../shared) set: the bash scripts Tests/system/*.test.sh
# (QEMU runners, packaging, and those not yet on the harness) and the pytest modules Tests/system/test_*.py (the
# harness: conftest.py, harness/). Every test prints "PASS name" / "FAIL name"; one summary at the end.
# SYSTEM_TESTS selects by name: "metrics" is metrics.test.sh or else test_metrics.py ("daemon-lifecycle" →
# test_daemon_lifecycle.py; "metrics.test.sh" still finds test_metrics.py once ported). SYSTEM_MARKERS is a pytest
# -m expression for the pytest modules (make check: "not slow and not vm and not browser").
set -uo pipefail
cd "$(dirname "$0")"
: "${BIN:?BIN must point at the built binaries}"
export BIN SHARED="${SHARED:-$(cd ../../.. && pwd)/shared}"
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in the tree
pass=0; fail=0; failed=(); summary=()
resolve() { # a SYSTEM_TESTS word → the file that runs it (nothing when there is none)
  local t=$1 base=${1%.test.sh}; base=${base%.py}; base=${base#test_}
  for c in "$t" "$t.test.sh" "test_${base//-/_}.py"; do [ -f "$c" ] && { echo "$c"; return; }; done
}
if [ -n "${SYSTEM_TESTS:-}" ]; then
  tests=(); for w in $SYSTEM_TESTS; do f=$(resolve "$w"); if [ -n "$f" ]; then tests+=("$f"); else echo "no system test named $w"; fail=$((fail + 1)); failed+=("$w"); fi; done
else tests=(*.test.sh test_*.py); fi
for t in "${tests[@]}"; do
  echo "=== $t"
  log=$(mktemp)
  start=$(date +%s)
  if [[ $t == *.py ]]; then
    $PY -m pytest -p no:cacheprovider -q -rN --tb=short ${SYSTEM_MARKERS:+-m "$SYSTEM_MARKERS"} "$t" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    [ "$rc" -eq 5 ] && rc=0   # every test deselected by SYSTEM_MARKERS
  else
    bash "$t" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
  fi
  p=$(grep -c '^PASS ' "$log" || true); f=$(grep -c '^FAIL ' "$log" || true)
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL $t (exit $rc)"; fi
  pass=$((pass + p)); fail=$((fail + f))
  [ "$f" -gt 0 ] && failed+=("$t")
  line="$t: $p passed, $f failed ($(( $(date +%s) - start )) s)"
  echo "=== $line"; summary+=("$line")
  rm -f "$log"
done
echo "=== summary"
printf '  %s\n' "${summary[@]}"
[ "${#failed[@]}" -gt 0 ] && echo "failed: ${failed[*]}"
echo "system: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
