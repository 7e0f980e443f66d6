#!/usr/bin/env bash
# `make soak DURATION=…` (90s, 10m, 8h or plain seconds): the demo pipeline for DURATION, then a verdict.
#   - the real daemon, the replayed camera with visitors coming and going (the demo's five photos in a loop),
#     the GY-MCU90640 simulator on a PTY, the receiver over HTTPS, and a kiosk posting one declaration per
#     visitor (Tests/soak/kiosk.py); the receiver goes down twice (at 35 % and 65 % of the run) and comes back;
#   - every SAMPLE_S s: the daemon's RSS (VmRSS, VmHWM, and RSS split into anonymous and file-backed), open fds (/proc/PID/fd), threads, queue depth and
#     deliveries (GET /metrics), written to .build/soak/soak-<UTC time>.csv;
#   - at the end the queue drains, then Tests/soak/report.py compares the ids the kiosk got 201/202 for with
#     what the receiver stored, and prints the summary table (RSS slope after warm-up, fds, lost/duplicated).
# Exits non-zero if a record was lost or duplicated, the daemon died, or the fd count grew.
# Knobs (env): SAMPLE_S, WARMUP_S, OUTAGE_S, CAM_FPS (camera replay rate, default 10), FD_SLACK (default 10).
set -euo pipefail
: "${BIN:?BIN must point at the built binaries}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
. "$ROOT/Tests/demo/lib.sh"
DURATION=${DURATION:-10m}
case "$DURATION" in
  *[0-9]s) secs=${DURATION%s} ;;
  *[0-9]m) secs=$(( ${DURATION%m} * 60 )) ;;
  *[0-9]h) secs=$(( ${DURATION%h} * 3600 )) ;;
  *[0-9]) secs=$DURATION ;;
  *) echo "soak: DURATION '$DURATION' is not a duration (use e.g. 90s, 10m, 8h)" >&2; exit 2 ;;
esac
[[ "$secs" =~ ^[0-9]+$ ]] && [ "$secs" -ge 30 ] || { echo "soak: DURATION '$DURATION' is not a duration of at least 30 s (use e.g. 90s, 10m, 8h)" >&2; exit 2; }
SAMPLE_S=${SAMPLE_S:-$(( secs / 150 < 2 ? 2 : (secs / 150 > 60 ? 60 : secs / 150) ))}
WARMUP_S=${WARMUP_S:-$(( secs / 5 < 15 ? 15 : (secs / 5 > 600 ? 600 : secs / 5) ))}
OUTAGE_S=${OUTAGE_S:-$(( secs / 12 < 8 ? 8 : (secs / 12 > 120 ? 120 : secs / 12) ))}
CAM_FPS=${CAM_FPS:-10} FD_SLACK=${FD_SLACK:-10} DRAIN_S=${DRAIN_S:-360}
OUT=$ROOT/.build/soak; mkdir -p "$OUT"
CSV=$OUT/soak-$(date -u +%Y%m%dT%H%M%SZ).csv
D=$(mktemp -d /tmp/checkpointd-soak.XXXXXX)
pids=()
trap cpd_cleanup EXIT
say() { printf '[%6.0fs] %s\n' "$(awk -v s="$START" 'BEGIN{ "date +%s.%N" | getline n; print n - s }')" "$*"; }

cpd_photos
cpd_model || echo "note: no YuNet model under $SHARED/models; the daemon falls back to Haar (blind to masked faces)"
nframes=$(cpd_frames "$D/frames" "$CAM_FPS" 1 4 2)
cpd_tls
cpd_start_receiver
cpd_calibration
cpd_config -e "s#^replay_fps = .*#replay_fps = $CAM_FPS#"
"$BIN/checkpointd" --check-config --no-environment "$D/checkpointd.toml" >/dev/null
cpd_start_sim
cpd_start_daemon
kill -0 "$DAEMON" 2>/dev/null && cpd_api http://kiosk/healthz >/dev/null || { echo "soak: the daemon did not start; log:"; tail -20 "$D/daemon.log"; exit 1; }
START=$(date +%s.%N)
say "soak for $secs s: daemon pid $DAEMON, $nframes replay frames at $CAM_FPS fps, receiver on 127.0.0.1:$PORT, work dir $D"
say "sampling every $SAMPLE_S s to $CSV; warm-up $WARMUP_S s; receiver outages of $OUTAGE_S s at 35 % and 65 %"
: > "$D/kiosk.log"
python3 "$ROOT/Tests/soak/kiosk.py" "$D/api.sock" "$D/sim.in" "$D/kiosk.log" "$D/stop" 2> "$D/kiosk.err" &
KIOSK=$!; pids+=("$KIOSK")

metric() { python3 "$ROOT/Tests/Benchmarks/daemon/promtext.py" "$D/api.sock" "$@" 2>/dev/null || echo "nan nan"; }
sample() {  # t_s rss_kb hwm_kb fds threads queue_pending delivered confirmed receiver_up rss_anon_kb rss_file_kb
  local t rss hwm fds thr q anon file
  t=$(awk -v s="$START" 'BEGIN{ "date +%s.%N" | getline n; printf "%.1f", n - s }')
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON/status" 2>/dev/null) || return 1
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DAEMON/status" 2>/dev/null) || return 1
  thr=$(awk '/^Threads:/ { print $2 }' "/proc/$DAEMON/status" 2>/dev/null) || return 1
  # RSS = anonymous (heap, stacks: where a leak shows) + file-backed (library code and data paged in, which grows
  # once as new code paths run, e.g. the first outage's error handling, and which the kernel can drop).
  anon=$(awk '/^RssAnon:/ { print $2 }' "/proc/$DAEMON/status" 2>/dev/null) || return 1
  file=$(awk '/^RssFile:/ { print $2 }' "/proc/$DAEMON/status" 2>/dev/null) || return 1
  fds=$(ls "/proc/$DAEMON/fd" 2>/dev/null | wc -l)
  read -r q delivered <<<"$(metric checkpointd_queue_pending checkpointd_uploads_delivered)"
  [ -n "$rss" ] || return 1
  echo "$t,$rss,$hwm,$fds,$thr,$q,$delivered,$(awk '$2 == 201 || $2 == 202 { n++ } END { print n + 0 }' "$D/kiosk.log"),$up,$anon,$file" >> "$CSV"
}
echo "t_s,rss_kb,hwm_kb,fds,threads,queue_pending,delivered,confirmed,receiver_up,rss_anon_kb,rss_file_kb" > "$CSV"

up=1 outages=0 alive=yes
o1=$(( secs * 35 / 100 )) o2=$(( secs * 65 / 100 ))
next_sample=0
while :; do
  now=$(awk -v s="$START" 'BEGIN{ "date +%s.%N" | getline n; printf "%d", n - s }')
  [ "$now" -ge "$secs" ] && break
  if ! kill -0 "$DAEMON" 2>/dev/null; then alive=no; say "the daemon died; its log: $D/daemon.log"; break; fi
  in_outage=0
  { [ "$now" -ge "$o1" ] && [ "$now" -lt $(( o1 + OUTAGE_S )) ]; } || { [ "$now" -ge "$o2" ] && [ "$now" -lt $(( o2 + OUTAGE_S )) ]; } && in_outage=1
  if [ "$in_outage" = 1 ] && [ "$up" = 1 ]; then
    cpd_stop_receiver; up=0; outages=$((outages + 1))
    say "--- network outage $outages: the receiver is down for $OUTAGE_S s ---"
  elif [ "$in_outage" = 0 ] && [ "$up" = 0 ]; then
    cpd_start_receiver; up=1
    say "--- network back: the receiver is up ---"
  fi
  if [ "$now" -ge "$next_sample" ]; then
    sample || { alive=no; say "the daemon died; its log: $D/daemon.log"; break; }
    next_sample=$(( now + SAMPLE_S ))
    if [ $(( now / 60 )) != "${last_minute:-x}" ]; then
      last_minute=$(( now / 60 ))
      say "$(tail -1 "$CSV" | awk -F, '{ printf "RSS %.1f MB, %d fds, %d threads, queue %s, delivered %s, confirmed %s", $2 / 1024, $4, $5, $6, $7, $8 }')"
    fi
  fi
  sleep 1
done

# --- end: the kiosk stops, the link is up, the queue drains ---------------------------------------------------
touch "$D/stop"
wait "$KIOSK" 2>/dev/null || true
[ "$up" = 1 ] || { cpd_start_receiver; up=1; say "--- network back: the receiver is up ---"; }
if [ "$alive" = yes ]; then
  say "kiosk stopped after $(wc -l < "$D/kiosk.log") declarations; waiting for the queue to drain (up to $DRAIN_S s)"
  for _ in $(seq "$DRAIN_S"); do
    kill -0 "$DAEMON" 2>/dev/null || { alive=no; break; }
    read -r q _ <<<"$(metric checkpointd_queue_pending)"
    [ "$q" = 0 ] && break
    sleep 1
  done
  sleep 2  # the last upload's connection closes
  sample || alive=no
fi
say "queue pending ${q:-?}; samples in $CSV"
python3 "$ROOT/Tests/soak/report.py" "$CSV" "$D/kiosk.log" "$D/receiver.sqlite" "$WARMUP_S" "$secs" \
  "$outages × ${OUTAGE_S} s" "$alive" "$FD_SLACK" | tee "$OUT/$(basename "$CSV" .csv).md"
rc=${PIPESTATUS[0]}
# Every record the receiver stored, validated against the upload contract (openapi.yaml's Record schema).
if contract=$(/usr/bin/python3 "$ROOT/Tests/system/lib/contract.py" "$ROOT/Sources/checkpoint-receiver/openapi.yaml" "$D/receiver.sqlite" 2>&1); then
  say "$(tail -1 <<<"$contract")" | tee -a "$OUT/$(basename "$CSV" .csv).md"
else
  say "contract: FAILED" | tee -a "$OUT/$(basename "$CSV" .csv).md"; head -20 <<<"$contract"; rc=1
fi
if [ "$alive" = yes ]; then kill -TERM "$DAEMON"; wait "$DAEMON" 2>/dev/null || true; fi
[ "$rc" = 0 ] && rm -rf "$D" || echo "kept $D for inspection (daemon.log, kiosk.log, receiver.sqlite)"
exit "$rc"
