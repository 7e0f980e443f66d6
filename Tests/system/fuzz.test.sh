#!/usr/bin/env bash
# Short CI fuzz run: every libFuzzer target in Tests/Fuzz for FUZZ_CI_RUNS inputs (default 20000), after replaying the
# saved regression inputs, at most FUZZ_CI_MAX_TIME s (default 20) each on a busy machine. PASS per target with no
# crash, broken invariant, hang or leak. `make fuzz` runs 1,000,000.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp); trap 'rm -f "$out"' EXIT
FUZZ_RUNS=${FUZZ_CI_RUNS:-20000} FUZZ_MAX_TIME=${FUZZ_CI_MAX_TIME:-20} FUZZ_TIME_OK=1 "$ROOT/Tests/Fuzz/run.sh" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
fails=0
while IFS= read -r row; do
  t=$(echo "$row" | sed -E 's/^\| fuzz ([^ |]+) .*/\1/')
  if echo "$row" | grep -q 'no crash'; then
    echo "PASS fuzz $t: $(echo "$row" | cut -d'|' -f3- | sed 's/ |$//')"
  else
    echo "FAIL fuzz $t: $(echo "$row" | cut -d'|' -f3- | sed 's/ |$//')"
    fails=$((fails + 1))
  fi
done < <(grep '^| fuzz ' "$out")
if ! grep -q '^| fuzz ' "$out"; then echo "FAIL fuzz: no result (build failed?)"; fails=$((fails + 1)); fi
[ "$rc" -ne 0 ] && [ "$fails" -eq 0 ] && { echo "FAIL fuzz: run.sh exited $rc"; fails=1; }
exit $((fails > 0))
