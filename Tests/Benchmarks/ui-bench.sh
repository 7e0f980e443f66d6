#!/usr/bin/env bash
# The kiosk screen (ui/) in headless Chromium (Debian's chromium + chromium-driver + python3-selenium) against the
# real release daemon on the demo pipeline (replayed camera frames of real face photographs, visitors coming and
# going; the GY-MCU90640 simulator on a PTY showing a face; the receiver over HTTPS; the screen and its event
# stream on a free 127.0.0.1 TCP port), measured:
#   1. engine state change → event received by the page's EventSource: p50 / p95 / max over ≥ $EVENTS events,
#      from the publish time the hub stamps on each view (publishedAtMs) to the page's arrival stamp (both the wall
#      clock), split into the daemon's share (a bare SSE client) and the browser's (see ui/uibench.py);
#   2. page load: navigation → first daemon state on screen and → loadEventEnd, median and max of $LOADS cold
#      loads in fresh browser sessions; bytes transferred;
#   3. QR scanning (#16, ui/qrbench.py): face detections/s with and without a QR scan stream open (alternated,
#      same run), and a readable QR in view → its fields on screen, over $QR_RUNS runs.
# Prints markdown rows "| measure | value | unit |"; every figure is measured in this run.
set -euo pipefail
: "${BIN:?BIN must point at the built binaries}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
PY=/usr/bin/python3
HERE=$ROOT/Tests/Benchmarks/ui
CAM_FPS=${CAM_FPS:-15} EVENTS=${EVENTS:-60} MAX_S=${MAX_S:-90} LOADS=${LOADS:-7}
QR_WINDOW_S=${QR_WINDOW_S:-15} QR_ROUNDS=${QR_ROUNDS:-3} QR_RUNS=${QR_RUNS:-10}

for f in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$f" ] || { echo "ui-bench: $f missing (make deps: chromium chromium-driver); skipped" >&2; exit 1; }
done
$PY -c 'import selenium' 2>/dev/null || { echo "ui-bench: python3-selenium missing (make deps); skipped" >&2; exit 1; }

. "$ROOT/Tests/demo/lib.sh"
D=$(mktemp -d /tmp/ui-bench.XXXXXX)
pids=()
trap 'cpd_cleanup; rm -rf "$D"' EXIT

cpd_photos
detector=YuNet
cpd_model || { detector="Haar fallback"; echo "note: no YuNet model under $SHARED/models; the daemon runs the Haar fallback" >&2; }
# Visitors coming and going: each of the five photos 3 s in view, then 1.5 s of empty background, looped.
cpd_frames "$D/visitors" "$CAM_FPS" 0 3 1.5 >/dev/null

cpd_tls
cpd_start_receiver
cpd_calibration
CPD_TCP_PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cpd_config -e "s#^replay_fps = .*#replay_fps = $CAM_FPS#" -e "s#^replay_path = .*#replay_path = \"$D/visitors\"#"
"$BIN/checkpointd" --check-config --no-environment "$D/checkpointd.toml" >/dev/null
cpd_start_sim
cpd_sim "face 36.0"
cpd_start_daemon
URL="http://127.0.0.1:$CPD_TCP_PORT"
curl -sf "$URL/ui/" >/dev/null || { echo "the daemon does not serve $URL/ui/; log:" >&2; tail -20 "$D/daemon.log" >&2; exit 1; }
echo "ui bench: daemon ($detector) serving $URL/ui/, $CAM_FPS fps replay of visitors, sensor showing 36.0 °C" >&2

$PY "$HERE/uibench.py" latency "$URL" "$EVENTS" "$MAX_S" "$D/latency.csv"
$PY "$HERE/uibench.py" pageload "$URL" "$LOADS" "$D/pageload.csv"
$PY "$HERE/qrbench.py" fps "$URL" "$QR_WINDOW_S" "$QR_ROUNDS"
$PY "$HERE/qrbench.py" latency "$URL" "$D/visitors" "$QR_RUNS" "$D/qr-latency.csv"
mkdir -p "$ROOT/.build/bench"
cp "$D/qr-latency.csv" "$ROOT/.build/bench/qr-latency.csv"
cp "$D/latency.csv" "$ROOT/.build/bench/ui-latency.csv"
cp "$D/pageload.csv" "$ROOT/.build/bench/ui-pageload.csv"
echo "ui bench: per-event and per-load figures in .build/bench/ui-latency.csv and ui-pageload.csv" >&2
