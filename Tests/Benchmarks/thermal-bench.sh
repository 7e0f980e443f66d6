#!/usr/bin/env bash
# Thermal figures, measured in process by `checkpointctl simulate bench`: parse throughput (frames/s) and the latency
# from a frame's last byte to the updated screening. Also frames per second through a real PTY end to end.
set -euo pipefail
CTL="$BIN/checkpointctl"
"$CTL" simulate bench --frames 4000
tmp=$(mktemp -d); trap 'kill $sim 2>/dev/null; rm -rf "$tmp"' EXIT
"$CTL" simulate sensor --rate-hz 8 </dev/null >"$tmp/sim.out" 2>/dev/null & sim=$!
for _ in $(seq 50); do [ -s "$tmp/sim.out" ] && break; sleep 0.1; done
start=$(date +%s.%N)
"$CTL" sensor read --port "$(head -1 "$tmp/sim.out")" --model gy-mcu90640 --baud 460800 --rate-hz 8 --count 16 --json --timeout 10 >"$tmp/read.json" 2>/dev/null
end=$(date +%s.%N)
n=$(wc -l <"$tmp/read.json")
echo "| thermal PTY end-to-end frames (simulator at 8 Hz, 460800 baud), incl. open+init | $(python3 -c "print(round($n/($end-$start),2))") | frames/s |"
