#!/usr/bin/env bash
# Runs every Tests/system/*.test.sh with BIN (built binaries) and SHARED (../shared) set.
# Each script prints "PASS name" / "FAIL name" lines and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")"
: "${BIN:?BIN must point at the built binaries}"
export BIN SHARED="${SHARED:-$(cd ../../.. && pwd)/shared}"
pass=0; fail=0; failed_scripts=()
for t in ${SYSTEM_TESTS:-*.test.sh}; do
  [ -f "$t" ] || [ ! -f "$t.test.sh" ] || t=$t.test.sh   # a name without .test.sh, as in SYSTEM_TESTS="deb install"
  [ -f "$t" ] || continue
  echo "=== $t"
  log=$(mktemp)
  start=$(date +%s)
  bash "$t" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  p=$(grep -c '^PASS ' "$log" || true); f=$(grep -c '^FAIL ' "$log" || true)
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL $t (exit $rc)"; fi
  pass=$((pass + p)); fail=$((fail + f))
  [ "$f" -gt 0 ] && failed_scripts+=("$t")
  echo "=== $t: $p passed, $f failed ($(( $(date +%s) - start )) s)"
  rm -f "$log"
done
[ "${#failed_scripts[@]}" -gt 0 ] && echo "failed: ${failed_scripts[*]}"
echo "system: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
