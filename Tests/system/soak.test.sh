#!/usr/bin/env bash
# The short CI soak: Tests/soak/soak.sh for SOAK_DURATION (default 60s) on the debug build, camera at 5 fps.
# Checks what its summary says: no record lost or duplicated, the daemon alive, fds steady, outages survived.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
fails=0
ok()  { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
DURATION=${SOAK_DURATION:-60s}
DURATION=$DURATION CAM_FPS=${SOAK_CAM_FPS:-5} nice -n 5 bash "$ROOT/Tests/soak/soak.sh" > "$log" 2>&1
rc=$?
val() { grep -F "| soak: $1" "$log" | head -1 | awk -F'|' '{ gsub(/^ +| +$/, "", $3); print $3 }'; }
confirmed=$(val "declarations confirmed"); stored=$(val "records stored"); lost=$(val "records lost")
dup=$(val "records duplicated"); unconf=$(val "records received but never"); alive=$(val "daemon alive")
outages=$(val "receiver outages"); fds=$(val "fds after warm-up")
[ "$rc" = 0 ] && ok "soak exits 0 ($DURATION)" || bad "soak exits 0" "exit $rc; $(grep -E 'FAILED|died|did not' "$log" | head -3)"
[ "${confirmed:-0}" -ge 3 ] 2>/dev/null && ok "kiosk got $confirmed declarations confirmed" || bad "kiosk got declarations confirmed" "${confirmed:-none}"
[ -n "$lost" ] && [ "$lost" = 0 ] && [ "$stored" = "$confirmed" ] && ok "receiver stored all $stored confirmed records, none lost" \
  || bad "no record lost" "confirmed ${confirmed:-?}, stored ${stored:-?}, lost ${lost:-?}"
[ "$dup" = 0 ] && [ "$unconf" = 0 ] && ok "no record duplicated or unconfirmed" || bad "no record duplicated" "duplicated ${dup:-?}, unconfirmed ${unconf:-?}"
case "$outages" in 2*) ok "two receiver outages survived ($outages)";; *) bad "two receiver outages" "${outages:-none}";; esac
[ "$alive" = yes ] && ok "daemon alive at the end" || bad "daemon alive at the end" "${alive:-?}"
[ -n "$fds" ] && ok "fd count reported (first / last / max: $fds)" || bad "fd count reported" "missing"
csv=$(grep -o '/[^ ]*/\.build/soak/soak-[0-9TZ]*\.csv' "$log" | head -1)
[ -n "$csv" ] && [ "$(wc -l < "$csv")" -ge 5 ] && ok "samples written ($(( $(wc -l < "$csv") - 1 )) rows in $csv)" || bad "samples written" "${csv:-no csv named}"
[ "$fails" -gt 0 ] && { echo "--- soak output"; cat "$log"; }
exit $((fails > 0))
