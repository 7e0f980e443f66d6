#!/usr/bin/env bash
# Large uploads are streamed, not held: UPLOADS (default 8) concurrent uploads of FACE_MB (default 24) MiB faces each
# go to one receiver (SQLite, --faces) and its peak resident memory (VmHWM in /proc/PID/status) may rise by less than
# a quarter of the sum of the bodies (whole bodies in memory would raise it by more than their sum); every face is stored byte for byte, a retry is still a duplicate. A body over
# --max-body-bytes gets 413 early, whether it declares its length (refused before its body is read) or is chunked
# (refused soon after the cap), the connection is closed, and nothing of it is stored (no record, no face, no
# temporary file). The figures measured are printed, not asserted against a clock.
set -uo pipefail
: "${BIN:?BIN must point at the built binaries}"
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/receiver-uploads.XXXXXX)
RPID=
trap '[ -n "$RPID" ] && kill $RPID 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
MAX=$((48 * 1024 * 1024))
mkdir -p "$W/faces"
"$BIN/checkpoint-receiver" --port 0 --db "$W/r.db" --faces "$W/faces" --max-body-bytes $MAX >"$W/out" 2>"$W/err" &
RPID=$!
for _ in $(seq 600); do grep -q '^listening on' "$W/out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/^listening on/{print $3}' "$W/out")
[ -n "$PORT" ] || { echo "FAIL receiver-uploads: receiver did not start: $(cat "$W/err")"; exit 1; }
/usr/bin/python3 "$HERE/receiver/uploads.py" "$PORT" "$RPID" "$W/faces" "$MAX" "${UPLOADS:-8}" "${FACE_MB:-24}"
rc=$?
kill -0 $RPID 2>/dev/null || { echo "FAIL receiver-uploads: the receiver died: $(tail -5 "$W/err")"; exit 1; }
exit $rc
