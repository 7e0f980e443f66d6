#!/usr/bin/env bash
# #15 on the real daemon, loopback only, bounded in count and time: the API socket gets [api] socket_mode and
# socket_group (a missing group is a FILE:LINE config error); a client sending a header byte per second is cut
# off after idle_timeout_seconds; 300 connections opened at once leave the daemon's fd count bounded and the API
# answering; on TCP a declaration without Content-Type: application/json gets 415.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
fails=0
ok()  { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
D=$(mktemp -d /tmp/cpd-apilimits.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$D"' EXIT
GROUP=$(for g in video dialout; do getent group "$g" >/dev/null && { echo "$g"; break; }; done)
[ -n "$GROUP" ] || { echo "FAIL api-limits: neither group video nor dialout exists"; exit 1; }
GID=$(getent group "$GROUP" | cut -d: -f3)

mkdir -p "$D/frames" "$D/ui" "$D/run"
/usr/bin/python3 -c 'import cv2, numpy as np; cv2.imwrite("'"$D"'/frames/a.jpg", np.full((480,640,3),128,np.uint8))'
echo '<!doctype html><title>kiosk</title>' > "$D/ui/index.html"
"$BIN/checkpointctl" simulate sensor --model gy-mcu90640 --link "$D/thermal-pty" < /dev/null > "$D/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "$D/thermal-pty" ] && break; sleep 0.1; done
TCP=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
IDLE=3 MAXCONN=16
sed -e "s#/tmp/checkpointd-demo#$D#g" \
    -e "s#^socket = .*#socket = \"$D/run/api.sock\"#" \
    -e "s#^calibration = .*#calibration = \"$ROOT/Tests/demo/gy-mcu90640.toml\"#" \
    -e "s#^endpoint = .*#endpoint = \"https://127.0.0.1:9/v1/records\"#" \
    -e "s#^allow_insecure_http = .*#allow_insecure_http = false#" \
    -e "s#^tcp_port = .*#tcp_port = $TCP#" \
    -e "s#^dir = .*#dir = \"$D/ui\"#" \
    -e "s#^socket_mode = .*#socket_mode = 0o620#" \
    -e "s#^\# socket_group = .*#socket_group = \"$GROUP\"#" \
    -e "s#^idle_timeout_seconds = .*#idle_timeout_seconds = $IDLE#" \
    -e "s#^max_connections = .*#max_connections = $MAXCONN#" \
    "$ROOT/systemd/checkpointd.demo.toml" > "$D/good.toml"
SOCK=$D/run/api.sock
[ -f "$SHARED/models/face_detection_yunet_2022mar.onnx" ] && cp "$SHARED/models/face_detection_yunet_2022mar.onnx" "$D/"

# 1. A socket group that does not exist: FILE:LINE, exit 78, for --check-config and at start.
sed "s#^socket_group = .*#socket_group = \"no-such-group-cpd\"#" "$D/good.toml" > "$D/nogroup.toml"
line=$(grep -n '^socket_group' "$D/nogroup.toml" | cut -d: -f1)
"$BIN/checkpointd" --check-config "$D/nogroup.toml" > /dev/null 2> "$D/nogroup.err"; rc=$?
[ "$rc" = 78 ] && grep -q "$D/nogroup.toml:$line: api.socket_group: group \"no-such-group-cpd\" does not exist" "$D/nogroup.err" \
  && ok "a missing socket group is a FILE:LINE config error" || bad "a missing socket group is a FILE:LINE config error" "exit $rc: $(head -2 "$D/nogroup.err")"
timeout 20 "$BIN/checkpointd" --config "$D/nogroup.toml" > /dev/null 2> "$D/nogroup-start.err"; rc=$?
[ "$rc" = 78 ] && ok "the daemon does not start with a missing socket group" || bad "no start with a missing socket group" "exit $rc"

# 2. The daemon.
chmod 0700 "$D/run"
"$BIN/checkpointd" --config "$D/good.toml" 2> "$D/daemon.log" &
DAEMON=$!; pids+=($DAEMON)
for _ in $(seq 150); do curl -s --max-time 1 --unix-socket "$SOCK" http://k/healthz >/dev/null 2>&1 && break; sleep 0.1; done
curl -s --max-time 2 --unix-socket "$SOCK" http://k/healthz | grep -q '"status"' && ok "the API answers" \
  || { bad "the API answers" "$(tail -5 "$D/daemon.log")"; exit 1; }
perm=$(stat -c '%a %g' "$SOCK"); dperm=$(stat -c '%a %g' "$D/run")
[ "$perm" = "620 $GID" ] && ok "socket has socket_mode and socket_group ($perm)" || bad "socket mode and group" "got $perm, want 620 $GID"
[ "$dperm" = "710 $GID" ] && ok "socket directory is given to the group, traversable ($dperm)" || bad "socket directory group" "got $dperm, want 710 $GID"

# 3. Content-Type on TCP.
decl='{"fullName":"TEST","birthYear":1980,"gender":"Nam","nation":"VN","provinceId":"19","wardId":"05436","address":"1 A","phone":"0987654321","hasPatient":2,"hasFromSickCountry":2,"hasSick":2,"consent":true}'
s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H 'Content-Type: text/plain' --data "$decl" "http://127.0.0.1:$TCP/v1/declarations")
[ "$s" = 415 ] && ok "TCP: a text/plain declaration gets 415" || bad "TCP: text/plain declaration" "status $s"
s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H 'Content-Type: application/json' --data "$decl" "http://127.0.0.1:$TCP/v1/declarations")
[ "$s" = 201 ] && ok "TCP: a JSON declaration gets 201" || bad "TCP: JSON declaration" "status $s"

# 4. A slowloris client: one header byte per second; cut off after about IDLE s.
cut=$(/usr/bin/python3 - "$TCP" "$IDLE" <<'PY'
import socket, sys, time
port, idle = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=1)
start = time.monotonic()
req = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
for b in req:
    try:
        s.send(bytes([b]))
        data = s.recv(1024)
        if data == b"":
            break
    except socket.timeout:
        pass
    except OSError:
        break
    if time.monotonic() - start > idle + 10:
        print("never"); sys.exit(0)
print(round(time.monotonic() - start, 1))
PY
)
awk -v c="$cut" -v i="$IDLE" 'BEGIN { exit !(c != "never" && c + 0 >= i - 1 && c + 0 <= i + 3) }' \
  && ok "a header byte per second is cut off after ${cut} s (idle_timeout_seconds = $IDLE)" || bad "slow client cut off" "after $cut"

# 5. 300 connections at once (TCP): fds stay bounded; the socket API answers meanwhile; TCP answers once they go.
base=$(ls /proc/$DAEMON/fd | wc -l)
/usr/bin/python3 - "$TCP" "$D/flood.ready" "$D/flood.stop" <<'PY' &
import socket, sys, time, os
port, ready, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conns = []
for _ in range(300):
    s = socket.socket(); s.setblocking(False)
    try: s.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    conns.append(s)
open(ready, "w").close()
deadline = time.monotonic() + 30
while not os.path.exists(stop) and time.monotonic() < deadline: time.sleep(0.1)
for s in conns: s.close()
PY
FLOOD=$!; pids+=($FLOOD)
for _ in $(seq 50); do [ -e "$D/flood.ready" ] && break; sleep 0.1; done
sleep 1
peak=$(ls /proc/$DAEMON/fd | wc -l)
t0=$(date +%s.%N)
h=$(curl -s --max-time 3 --unix-socket "$SOCK" http://k/healthz)
t=$(awk -v s="$t0" 'BEGIN{ "date +%s.%N" | getline n; printf "%.2f", n - s }')
grep -q '"status"' <<<"$h" && ok "with 300 connections open the socket API answers (${t} s)" || bad "API answers under 300 connections" "no answer in 3 s"
[ "$peak" -le $((base + MAXCONN + 8)) ] && ok "fd count bounded under 300 connections ($base → $peak, max_connections $MAXCONN)" \
  || bad "fd count bounded" "$base → $peak (max_connections $MAXCONN)"
touch "$D/flood.stop"; wait "$FLOOD" 2>/dev/null
s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$TCP/healthz")
[ "$s" = 200 ] && ok "TCP answers again once the flood is gone" || bad "TCP answers after the flood" "status $s"
kill -0 "$DAEMON" 2>/dev/null && ok "the daemon is still running" || bad "the daemon is still running" "$(tail -5 "$D/daemon.log")"

kill -TERM "$DAEMON"; wait "$DAEMON" 2>/dev/null
exit $((fails > 0))
