#!/usr/bin/env bash
# The shipped units pass `systemd-analyze verify`, keep every required directive, and their
# `systemd-analyze security --offline=true` exposure stays <= 2.0: the kiosk's checkpointd.service, and the province's
# checkpoint-receiver.service, whose user is made by its sysusers file and whose shipped arguments
# (/etc/default/checkpoint-receiver) are parsed and served by the built receiver, with their paths moved to a temp dir
# (this machine has no systemd as PID 1 to start the unit itself).
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

# The receiver's unit.
RUNIT=$ROOT/systemd/checkpoint-receiver.service
sed "s#^ExecStart=/usr/bin/checkpoint-receiver#ExecStart=$BIN/checkpoint-receiver#" "$RUNIT" > "$tmp/checkpoint-receiver.service"
if out=$(systemd-analyze verify --man=no "$tmp/checkpoint-receiver.service" 2>&1); then ok "receiver unit verifies (man page: installed by make install, not in the tree)"; else bad "receiver unit verifies" "$out"; fi
line=$(systemd-analyze security --offline=true "$tmp/checkpoint-receiver.service" 2>/dev/null | grep -o 'Overall exposure level for .*: [0-9.]*')
score=${line##* }
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then ok "receiver security exposure $score <= 2.0"; else bad "receiver security exposure <= 2.0" "got '${score:-none}'"; fi
for d in 'User=checkpoint-receiver' 'StateDirectory=checkpoint-receiver' 'ConfigurationDirectory=checkpoint-receiver' \
         'EnvironmentFile=-/etc/default/checkpoint-receiver' 'ExecStart=/usr/bin/checkpoint-receiver serve $RECEIVER_ARGS' \
         'RestartPreventExitStatus=64' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'PrivateDevices=yes' 'CapabilityBoundingSet=$' \
         'MemoryDenyWriteExecute=yes' 'UMask=0077'; do
  if grep -q "^$d" "$RUNIT"; then ok "receiver has $d"; else bad "receiver has $d" "missing"; fi
done
if grep -q '^DeviceAllow=' "$RUNIT"; then bad "receiver reaches no devices" "DeviceAllow= present"; else ok "receiver reaches no devices"; fi
# Its user, made as systemd-sysusers makes it on install (into a scratch root).
mkdir -p "$tmp/root/etc"
if systemd-sysusers --root="$tmp/root" "$ROOT/systemd/checkpoint-receiver.sysusers" >/dev/null 2>&1 \
   && pw=$(grep '^checkpoint-receiver:' "$tmp/root/etc/passwd") && [[ "$pw" == *:/var/lib/checkpoint-receiver:/usr/sbin/nologin ]]; then
  ok "receiver user from its sysusers file ($pw)"
else bad "receiver user from its sysusers file" "$(cat "$tmp/root/etc/passwd" 2>/dev/null)"; fi
# The shipped arguments, as systemd passes them ($RECEIVER_ARGS split on white space), with /etc and /var/lib moved
# to the temp dir, certificates made there, and the ports picked free (later options win).
args=$(sed -n 's/^RECEIVER_ARGS=//p' "$ROOT/systemd/checkpoint-receiver.default" | sed "s#/etc/checkpoint-receiver#$tmp/etc#g; s#/var/lib/checkpoint-receiver#$tmp/state#g")
mkdir -p "$tmp/etc" "$tmp/state"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/etc/server.key" -out "$tmp/etc/server.pem" -days 1 -subj /CN=localhost >/dev/null 2>&1
cp "$tmp/etc/server.pem" "$tmp/etc/kiosk-ca.pem"; : >"$tmp/etc/revoked.txt"
# shellcheck disable=SC2086
"$BIN/checkpoint-receiver" serve $args --port 0 --admin-port 0 >"$tmp/r.out" 2>"$tmp/r.err" &
rpid=$!
for _ in $(seq 300); do grep -q '^admin listening on' "$tmp/r.out" 2>/dev/null && grep -q '^listening on' "$tmp/r.out" && break; sleep 0.1; done
ap=$(awk '/^admin listening on/{print $4}' "$tmp/r.out")
health=$([ -n "$ap" ] && curl -sk --max-time 10 "https://127.0.0.1:$ap/healthz")
kill $rpid 2>/dev/null; wait $rpid 2>/dev/null
[ "$health" = ok ] && [ -f "$tmp/state/receiver.db" ] && [ -d "$tmp/state/faces" ] \
  && ok "receiver serves with the shipped arguments (TLS, client CA, admin listener on $ap, SQLite and faces in the state directory)" \
  || bad "receiver serves with the shipped arguments" "healthz '$health'; $(head -3 "$tmp/r.err") $(ls "$tmp/state")"
exit $((fails > 0))
