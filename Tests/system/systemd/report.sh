#!/bin/bash
# Usage: report.sh PREFIX OUT_DIR RUNNER_RC START_EPOCH — prints the guest's INFO/PASS/FAIL lines (PASS/FAIL
# prefixed with PREFIX-) and, on any failure, what explains it: the ends of the runner's log, of the guest
# script's own log, of the daemon's journal and of the VM's serial console (bounded); exits non-zero when
# anything failed. KEEP_WORK=1 (set by the calling test, which then keeps OUT_DIR) is named in the output.
out=$2; rc=$3; res=$out/vm/results.txt
echo "  info: VM run $(( $(date +%s) - $4 )) s; $(grep -m1 'VM wall time' "$out/vm.log" 2>/dev/null || echo 'the VM did not run')"
# show TITLE FILE LINES: the last LINES lines of FILE, indented, or why there are none.
show() {
  if [ -s "$2" ]; then
    echo "  --- $1 (last $3 of $(wc -l < "$2") lines of $2):"; tail -n "$3" "$2" | cut -c1-400 | sed 's/^/  | /'
  else echo "  --- $1: $2 is missing or empty"; fi
}
fails=0
if [ ! -s "$res" ]; then
  case $rc in
    99) why="the guest script left no exit status: it never ran or the VM stopped first (see the serial console)" ;;
    98) why="the thermal sensor simulator made no PTY" ;;
    2)  why="a tool or the kernel is missing on this machine (see the runner's log)" ;;
    0)  why="the guest script exited 0 without writing a result" ;;
    *)  why="the guest script exited $rc before writing a result (see its log)" ;;
  esac
  echo "FAIL $1: no results from the guest (runner exit $rc: $why)"
  fails=1
else
  grep '^INFO ' "$res" | sed 's/^INFO /  info: /'
  grep -E '^(PASS|FAIL) ' "$res" | sed "s/^\(PASS\|FAIL\) /\1 $1-/"
  fails=$(grep -c '^FAIL ' "$res")
  [ "$rc" = 0 ] || { echo "FAIL $1: the guest script exited $rc"; fails=$((fails + 1)); }
fi
if [ "$fails" -gt 0 ]; then
  show "the VM runner" "$out/vm.log" 30
  show "the guest script" "$out/vm/guest.log" 80
  show "the daemon's journal in the VM" "$out/vm/journal-checkpointd.txt" 15
  show "the VM's serial console" "$out/vm/serial.log" 40
  if [ -n "${KEEP_WORK:-}" ]; then echo "  work directory kept: $out"
  else echo "  (rerun with KEEP_WORK=1 to keep the work directory with every log)"; fi
fi
[ "$fails" -eq 0 ]
