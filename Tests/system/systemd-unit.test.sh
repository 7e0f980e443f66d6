#!/usr/bin/env bash
# The shipped unit passes `systemd-analyze verify`, keeps every required directive, and its
# `systemd-analyze security --offline=true` exposure stays <= 2.0.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
UNIT=$ROOT/systemd/checkpointd.service
fails=0
ok()   { echo "PASS $1"; }
bad()  { echo "FAIL $1: $2"; fails=$((fails + 1)); }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# verify needs ExecStart to exist: point it at the freshly built daemon.
sed "s#^ExecStart=/usr/bin/checkpointd#ExecStart=$BIN/checkpointd#" "$UNIT" > "$tmp/checkpointd.service"
if out=$(systemd-analyze verify "$tmp/checkpointd.service" 2>&1); then ok "unit verifies"; else bad "unit verifies" "$out"; fi

line=$(systemd-analyze security --offline=true "$tmp/checkpointd.service" 2>/dev/null | grep -o 'Overall exposure level for .*: [0-9.]*' )
score=${line##* }
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then ok "security exposure $score <= 2.0"; else bad "security exposure <= 2.0" "got '${score:-none}'"; fi

for d in 'Type=notify' 'WatchdogSec=' 'Restart=on-failure' 'RestartPreventExitStatus=78' 'StateDirectory=' \
         'ConfigurationDirectory=' 'RuntimeDirectory=' 'SupplementaryGroups=video dialout' \
         'DeviceAllow=char-video4linux' 'DeviceAllow=char-ttyUSB' 'DeviceAllow=char-ttyACM' 'ProtectSystem=strict' \
         'After=time-set.target' 'ExecReload='; do
  if grep -q "^$d" "$UNIT"; then ok "has $d"; else bad "has $d" "missing"; fi
done
if grep -q '^PrivateDevices=' "$UNIT"; then bad "no PrivateDevices" "present (would hide cameras and serial ports)"; else ok "no PrivateDevices"; fi
if grep -q '^After=.*network-online' "$UNIT"; then bad "offline start" "waits for network-online"; else ok "offline start"; fi
exit $((fails > 0))
