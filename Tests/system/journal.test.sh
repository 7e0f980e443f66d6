#!/usr/bin/env bash
# The daemon's log in a real systemd-journald (this machine's, run in a private mount namespace so nothing outside
# the test sees its sockets): with stderr connected to the journal and JOURNAL_STREAM naming it, as systemd sets up a
# service, each line arrives through the native protocol with structured fields, so `journalctl RECORD_ID=<id>`
# finds a declaration's lines (stored, delivered), with PRIORITY, SYSLOG_IDENTIFIER, LOGGER and CODE_FILE, none of
# it personal data. The same under the real unit and systemd as PID 1: systemd-vm (part E).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${CPD_JOURNAL_NS:-}" != 1 ]; then
  # Re-run inside a private mount namespace (root only: unshare(CLONE_NEWNS)).
  if [ "$(id -u)" != 0 ] || ! unshare -m --propagation private true 2> /dev/null; then
    echo "INFO journal: skipped (needs root and unshare -m to run a private systemd-journald); systemd-vm checks the same"; exit 0
  fi
  CPD_JOURNAL_NS=1 exec unshare -m --propagation private bash "$0"
fi
fails=0
ok()  { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
D=$(mktemp -d /tmp/cpd-journal.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$D"' EXIT
# journald's sockets, runtime and persistent journals on this namespace's own tmpfs.
mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/journal /run/systemd/jlog
mkdir -p "$D/varlog" && mount --bind "$D/varlog" /var/log
[ -d /run/log ] && mount -t tmpfs tmpfs /run/log
/lib/systemd/systemd-journald > "$D/journald.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S /run/systemd/journal/socket ] && [ -S /run/systemd/journal/stdout ] && break; sleep 0.1; done
[ -S /run/systemd/journal/socket ] || { bad "systemd-journald starts" "$(head -5 "$D/journald.out")"; exit 1; }

"$BIN/checkpoint-receiver" --port 0 --db "$D/recv.db" > "$D/recv.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 600); do grep -q "^listening on" "$D/recv.out" 2>/dev/null && break; sleep 0.1; done
RPORT=$(awk '/^listening on/{print $3}' "$D/recv.out")
mkdir -p "$D/frames"
/usr/bin/python3 -c 'import cv2, numpy as np; cv2.imwrite("'"$D"'/frames/a.jpg", np.full((480,640,3),128,np.uint8))'
sed -e "s#/tmp/checkpointd-demo#$D#g" \
    -e "s#^calibration = .*#calibration = \"$ROOT/calibration/gy-mcu90640.toml\"#" \
    -e "s#^endpoint = .*#endpoint = \"http://127.0.0.1:$RPORT/v1/records\"#" \
    -e "s#^tcp_port = .*#tcp_port = 0#" \
    "$ROOT/systemd/checkpointd.demo.toml" > "$D/run.toml"
[ -f "$SHARED/models/face_detection_yunet_2022mar.onnx" ] && cp "$SHARED/models/face_detection_yunet_2022mar.onnx" "$D/"
# stdout/stderr on a journal stream (systemd-cat), and JOURNAL_STREAM=<dev>:<inode> of that stream, as systemd sets it.
export BIN D
systemd-cat -t checkpointd-stream bash -c 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$BIN/checkpointd" --config "$D/run.toml"' &
pids+=($!)
for _ in $(seq 600); do [ -S "$D/api.sock" ] && break; sleep 0.1; done
decl='{"fullName":"LE VAN AN","birthYear":1979,"gender":"Nam","nation":"VN","provinceId":"19","wardId":"05436","address":"3 Quang Trung","phone":"0987654321","hasPatient":2,"hasFromSickCountry":2,"hasSick":2,"consent":true}'
resp=$(curl -s --max-time 30 --unix-socket "$D/api.sock" -H 'Content-Type: application/json' --data-binary "$decl" http://k/v1/declarations)
rid=$(echo "$resp" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("id",""))' 2>/dev/null)
[ -n "$rid" ] && ok "declaration stored ($rid)" || bad "declaration stored" "$resp"
J() { journalctl --no-pager -q "$@" 2>&1; }
for _ in $(seq 300); do J -o cat RECORD_ID="$rid" | grep -q "record delivered" && break; sleep 0.2; done
lines=$(J -o cat RECORD_ID="$rid")
grep -q "checkpointd.api: declaration stored .*record_id=$rid" <<< "$lines" && grep -q "checkpointd.upload: record delivered record_id=$rid" <<< "$lines" \
  && ok "journalctl RECORD_ID=$rid finds the record's lines (stored, delivered)" || bad "journalctl RECORD_ID=<id>" "'$lines'; all: $(J -o cat | tail -5)"
f=$(J -o export RECORD_ID="$rid" LOGGER=checkpointd.api | grep -aE '^(PRIORITY|SYSLOG_IDENTIFIER|LOGGER|CODE_FILE|CODE_LINE|_TRANSPORT)=' | sort -u | tr '\n' ' ')
[[ "$f" == *"PRIORITY=6 "* && "$f" == *"SYSLOG_IDENTIFIER=checkpointd "* && "$f" == *"LOGGER=checkpointd.api "* \
   && "$f" == *"CODE_FILE=CheckpointAdapters/DeclarationAPI.swift "* && "$f" != *"CODE_FILE=/"* && "$f" == *"CODE_LINE="* \
   && "$f" == *"_TRANSPORT=journal "* ]] \
  && ok "structured fields: $f" || bad "structured fields" "'$f'"
n=$(J -o cat _TRANSPORT=stdout | grep -c "checkpointd" || true)
[ "$n" = 0 ] && ok "no line also went to the stderr stream (native protocol only)" || bad "native protocol only" "$n stream lines: $(J -o cat _TRANSPORT=stdout | head -3)"
J -o export | grep -aqE "LE VAN AN|0987654321|Quang Trung" && bad "no personal data in the journal" "found" || ok "no personal data in the journal"
exit $((fails > 0))
