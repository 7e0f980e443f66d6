#!/bin/bash
# Usage: report.sh PREFIX OUT_DIR RUNNER_RC START_EPOCH — prints the guest's INFO/PASS/FAIL lines (PASS/FAIL
# prefixed with PREFIX-) and, on failure, the end of the logs; exits non-zero when anything failed.
out=$2; rc=$3; res=$out/vm/results.txt
echo "  info: VM run $(( $(date +%s) - $4 )) s; $(grep -m1 'VM wall time' "$out/vm.log")"
if [ ! -s "$res" ]; then
  echo "FAIL $1: no results from the guest (runner exit $rc)"
  tail -20 "$out/vm.log" | sed 's/^/  | /'; tail -20 "$out/vm/guest.log" 2>/dev/null | sed 's/^/  guest| /'
  exit 1
fi
grep '^INFO ' "$res" | sed 's/^INFO /  info: /'
grep -E '^(PASS|FAIL) ' "$res" | sed "s/^\(PASS\|FAIL\) /\1 $1-/"
fails=$(grep -c '^FAIL ' "$res")
if [ "$fails" -gt 0 ]; then
  echo "  end of the daemon's journal in the VM:"; tail -15 "$out/vm/journal-checkpointd.txt" 2>/dev/null | sed 's/^/  | /'
fi
[ "$rc" = 0 ] || { echo "FAIL $1: the guest script exited $rc"; fails=$((fails + 1)); }
[ "$fails" -eq 0 ]
