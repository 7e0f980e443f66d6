#!/usr/bin/env bash
# The real release daemon ($BIN/checkpointd), run as the demo runs it (replayed camera frames of real face
# photographs, the GY-MCU90640 simulator on a PTY, the receiver over HTTPS, the API on a Unix socket), measured:
#   1. cold start to READY: exec → READY=1 on a NOTIFY_SOCKET bound here, median and max of $STARTS starts,
#      with the YuNet model loaded (from $SHARED/models) — or the Haar fallback, said so in the row, without it;
#   2. CPU at $CAM_FPS fps with one face in view and the sensor streaming: (utime+stime) delta of /proc/PID/stat
#      over $CPU_S s after $WARM_S s of warm-up, as % of one core; frames the pipeline took per second;
#   3. peak and steady RSS (VmHWM, VmRSS of /proc/PID/status) after that run;
#   4. person ready → screening result for $VISITORS visitors coming and going, read from the daemon's own
#      metrics (GET /metrics): ScreeningHub times it from the camera frame in which the face first became
#      ready to the decided result, beside the K thermal frames' own time.
# Prints markdown rows "| measure | value | unit |"; every figure is measured in this run.
set -euo pipefail
: "${BIN:?BIN must point at the built binaries}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
. "$ROOT/Tests/demo/lib.sh"
HERE=$ROOT/Tests/Benchmarks/daemon
# VERIFY_SIZE / SCORE_THRESHOLD: the detector scheme of the CPU run (default: the daemon's default scheme;
# VERIFY_SIZE=0 SCORE_THRESHOLD=0.75 is the former one-pass default).
STARTS=${STARTS:-7} CAM_FPS=${CAM_FPS:-15} WARM_S=${WARM_S:-10} CPU_S=${CPU_S:-30} VISITORS=${VISITORS:-12}
D=$(mktemp -d /tmp/daemon-bench.XXXXXX)
pids=()
trap 'cpd_cleanup; rm -rf "$D"' EXIT

cpd_photos
detector=YuNet
cpd_model || { detector="Haar fallback"; echo "note: no YuNet model under $SHARED/models; the daemon runs the Haar fallback" >&2; }
all_photos=("${photos[@]}")
# One visitor standing in view (1 s of one masked face, looped), and visitors coming and going
# (each of the five photos 3 s in view, then 1.5 s of empty background).
photos=("${all_photos[0]}")
cpd_frames "$D/face" "$CAM_FPS" 0 1 0 >/dev/null
photos=("${all_photos[@]}")
cpd_frames "$D/visitors" "$CAM_FPS" 0 3 1.5 >/dev/null

cpd_tls
cpd_start_receiver
cpd_calibration
cpd_config -e "s#^verify_size = .*#verify_size = ${VERIFY_SIZE:-$(sed -n 's/^verify_size = //p' "$ROOT/examples/checkpointd.toml")}#" -e "s#^score_threshold = .*#score_threshold = ${SCORE_THRESHOLD:-$(sed -n 's/^score_threshold = //p' "$ROOT/examples/checkpointd.toml")}#" -e "s#^replay_fps = .*#replay_fps = $CAM_FPS#" -e "s#^replay_path = .*#replay_path = \"$D/face\"#"
mv "$D/checkpointd.toml" "$D/face.toml"
cpd_config -e "s#^replay_fps = .*#replay_fps = $CAM_FPS#" -e "s#^replay_path = .*#replay_path = \"$D/visitors\"#"
mv "$D/checkpointd.toml" "$D/visitors.toml"
"$BIN/checkpointd" --check-config --no-environment "$D/face.toml" >/dev/null
sensor_hz=$(sed -n 's/^frame_rate_hz = \([0-9.]*\).*/\1/p' "$D/face.toml")
cpd_start_sim
cpd_sim "face 36.0"

stop_daemon() {
  kill -TERM "$DAEMON" 2>/dev/null || true
  wait "$DAEMON" 2>/dev/null || true
}

# --- 1. cold start to READY ------------------------------------------------------------------------------
python3 "$HERE/coldstart.py" "$BIN/checkpointd" "$D/face.toml" "$STARTS" "$D" > "$D/coldstart.out"
sed 's/^/cold start /' "$D/coldstart.out" | grep -v median >&2
read -r _ median _ max _ n < <(tail -1 "$D/coldstart.out")
echo "| daemon: cold start to READY=1 (exec → sd_notify, $detector model loaded), median of $n | $median | ms |"
echo "| daemon: cold start to READY=1, slowest of $n | $max | ms |"

# --- 2. CPU at 15 fps with a face in view, 3. RSS ------------------------------------------------------------
cp "$D/face.toml" "$D/checkpointd.toml"
cpd_start_daemon
health=$(cpd_api http://kiosk/healthz || true)
[[ "$health" == *'"stage.detector"'* ]] || { echo "daemon did not answer; log:" >&2; tail -20 "$D/daemon.log" >&2; exit 1; }
sleep "$WARM_S"
kill -0 "$DAEMON" || { echo "daemon died during warm-up" >&2; tail -20 "$D/daemon.log" >&2; exit 1; }
tck=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON/stat"; }
frames() { python3 "$HERE/promtext.py" "$D/api.sock" checkpointd_camera_frames_total; }
c0=$(ticks); f0=$(frames); t0=$(date +%s.%N)
sleep "$CPU_S"
c1=$(ticks); f1=$(frames); t1=$(date +%s.%N)
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DAEMON/status"); rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON/status")
results=$(python3 "$HERE/promtext.py" "$D/api.sock" checkpointd_screenings_total)
state=$(cpd_api http://kiosk/v1/screening | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
echo "cpu run: $results screening result(s), kiosk state '$state' with the face in view" >&2
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$tck" -v fps="$CAM_FPS" -v s="$sensor_hz" -v w="$CPU_S" -v d="$detector" \
  'BEGIN { printf "| daemon: CPU, %g fps replay with one face in view, %s, sensor at %s Hz (%g s) | %.1f | %% of one core |\n", fps, d, s, w, 100 * (c1 - c0) / hz / (t1 - t0) }'
awk -v f0="$f0" -v f1="$f1" -v t0="$t0" -v t1="$t1" \
  'BEGIN { printf "| daemon: camera frames through detection in that run | %.1f | frames/s |\n", (f1 - f0) / (t1 - t0) }'
awk -v k="$hwm" 'BEGIN { printf "| daemon: peak RSS (VmHWM) after the CPU run | %.1f | MB |\n", k / 1024 }'
awk -v k="$rss" 'BEGIN { printf "| daemon: steady RSS (VmRSS) after the CPU run | %.1f | MB |\n", k / 1024 }'
stop_daemon

# --- 4. person ready → screening result ----------------------------------------------------------------------
cp "$D/visitors.toml" "$D/checkpointd.toml"
cpd_start_daemon
python3 "$HERE/visitors.py" "$D/api.sock" "$D/sim.in" "$VISITORS" "$D/visitors.csv"
stop_daemon
