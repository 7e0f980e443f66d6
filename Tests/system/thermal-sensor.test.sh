#!/usr/bin/env bash
# Thermal sensor end to end through real PTYs: `simulate sensor`, `sensor read`, `calibrate thermal` (+ --validate),
# `calibrate registration` with its overlay PNG, and the stale-sensor report.
set -uo pipefail
CTL="$BIN/checkpointctl"
fails=0
ok()  { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
# Debian's python3 has tomllib and python3-opencv (cv2); a pyenv shim earlier in PATH may not.
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# start_sim NAME ARGS… : runs a simulator with a control FIFO on fd 3+; sets SIM_PATH
start_sim() {
  local name=$1; shift
  mkfifo "$tmp/$name.ctl"
  "$CTL" simulate sensor "$@" <"$tmp/$name.ctl" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  eval "exec {${name}_fd}>\"$tmp/$name.ctl\""
  for _ in $(seq 600); do [ -s "$tmp/$name.out" ] && break; sleep 0.1; done
  SIM_PATH=$(head -1 "$tmp/$name.out")
}

# 1. sensor read --json against a simulator with split writes and garbage.
start_sim a --fault split --fault garbage --face-c 36.6 --ambient-c 25 --link "$tmp/ttyTHERMAL"
if [ "$SIM_PATH" = "$tmp/ttyTHERMAL" ] && [ -L "$tmp/ttyTHERMAL" ]; then ok "simulator prints its stable link path"; else bad "simulator path" "got '$SIM_PATH'"; fi
"$CTL" sensor read --port "$SIM_PATH" --model gy-mcu90640 --baud 115200 --count 4 --json --timeout 10 >"$tmp/read.json" 2>"$tmp/read.err"
rc=$?
if [ $rc -eq 0 ] && $PY - "$tmp/read.json" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 4, f"{len(lines)} lines"
prev = 0
for l in lines:
    o = json.loads(l)
    for k in ("ambient_c", "min_c", "max_c", "mean_c", "frames_ok", "bad_checksum", "resyncs"):
        assert k in o, k
    assert abs(o["max_c"] - 36.6) < 0.5, o["max_c"]
    assert abs(o["min_c"] - 25) < 0.5, o["min_c"]
    assert o["min_c"] < o["mean_c"] < o["max_c"]
    assert o["ambient_c"] == 33.0, o["ambient_c"]
    assert o["frames_ok"] > prev
    prev = o["frames_ok"]
PY
then ok "sensor read --json prints the sensor's own values and counters"; else bad "sensor read --json" "rc=$rc $(cat "$tmp/read.json" "$tmp/read.err" | head -5)"; fi

"$CTL" sensor read --port "$SIM_PATH" --model gy-mcu90640 --count 2 --timeout 10 >"$tmp/read.txt" 2>&1
if [ "$(grep -c 'min .* max .* mean .* ambient .* ok .* bad_checksum .* resyncs' "$tmp/read.txt")" = 2 ]; then ok "sensor read text lines (auto baud)"; else bad "sensor read text" "$(cat "$tmp/read.txt")"; fi

out=$("$CTL" sensor read --port "$SIM_PATH" --model gy-mcu90640 --baud 1234 --count 1 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "baud"; then ok "bad --baud is refused with a clear message"; else bad "bad --baud" "rc=$rc $out"; fi
out=$("$CTL" sensor read --port "$SIM_PATH" --model flir --count 1 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "unknown sensor model"; then ok "unknown model is refused"; else bad "unknown model" "rc=$rc $out"; fi

# 2. A stalled sensor is never read stale: frames stop and the reader says why.
echo stall >&"$a_fd"
"$CTL" sensor read --port "$SIM_PATH" --model gy-mcu90640 --baud 115200 --count 1000 --json --timeout 4 >"$tmp/stall.json" 2>"$tmp/stall.err"; rc=$?
if [ $rc -ne 0 ] && [ ! -s "$tmp/stall.json" ] && grep -q "no frame for" "$tmp/stall.err" && grep -q "re-sent\|unavailable" "$tmp/stall.err"; then
  ok "stalled sensor: init re-sent, no frame printed, exit 1"; else bad "stalled sensor" "rc=$rc $(head -c 600 "$tmp/stall.err")"; fi
echo resume >&"$a_fd"

# 3. Guided 2-point calibration against a simulated blackbody; the sensor reads raw = 0.95·T + 1.2.
start_sim b --error-gain 0.95 --error-offset 1.2 --noise-c 0.02 --blackbody-c 35
mkfifo "$tmp/cal.in"
"$CTL" calibrate thermal --port "$SIM_PATH" --model gy-mcu90640 --baud 115200 --set-point 35 --set-point 40 --frames 8 \
  --region 27,19,3,3 --by tech-01 --serial SIM-0001 --output "$tmp/cal.toml" --settle 0.3 <"$tmp/cal.in" >"$tmp/cal.out" 2>"$tmp/cal.err" &
calpid=$!; pids+=($calpid)
exec {calin}>"$tmp/cal.in"
# Each step waits for its event (60 s at most) instead of sleeping: the prompt for a set point, then the
# simulator's acknowledgement of the new blackbody temperature (its frames carry it from then on).
# wait_line PATTERN FILE
wait_line() { local i; for ((i = 0; i < 600; i++)); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
wait_line "\[1/2\]" "$tmp/cal.err"; echo >&"$calin"
wait_line "\[2/2\]" "$tmp/cal.err"
echo "blackbody 40" >&"$b_fd"; wait_line "^simulate: blackbody 40" "$tmp/b.err"; sleep 0.5; echo >&"$calin"
wait $calpid; rc=$?
exec {calin}>&-
if [ $rc -eq 0 ] && $PY - "$tmp/cal.toml" <<'PY'
import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
g, o = c["fit"]["gain"], c["fit"]["offset"]
assert abs(g - 1 / 0.95) < 0.01, g
assert abs(o - (-1.2 / 0.95)) < 0.15, o
assert c["calibration"]["calibrated_by"] == "tech-01"
assert c["calibration"]["method"] == "2-point"
assert c["sensor"]["serial"] == "SIM-0001" and c["sensor"]["model"] == "gy-mcu90640"
assert len(c["fit"]["points"]) == 2
assert c["fit"]["residual_rms_c"] < 0.05
PY
then ok "calibrate thermal fits gain/offset and writes who, when, sensor, fit quality"; else bad "calibrate thermal" "rc=$rc $(cat "$tmp/cal.out" "$tmp/cal.err" | tail -8)"; fi
# Piped (as here), progress is plain lines — one per set point with its noise — and never a redrawn bar (\r).
grep -q "blackbody 35.00 °C: sensor reads .* noise" "$tmp/cal.err" && ! grep -q $'\r' "$tmp/cal.err" \
  && ok "calibration shows progress and noise as plain lines when piped" || bad "calibration progress" "$(head -c 400 "$tmp/cal.err" | cat -v)"
[ "$(stat -c %a "$tmp/cal.toml" 2>/dev/null)" = 644 ] && ok "calibration file mode 0644" || bad "calibration mode" "$(stat -c %a "$tmp/cal.toml" 2>&1)"
ls "$tmp" | grep -q "cal.toml.tmp" && bad "atomic write" "temp file left" || ok "no temp file left behind"

# --validate reports bias and RMS and changes nothing.
echo "blackbody 37" >&"$b_fd"; wait_line "^simulate: blackbody 37" "$tmp/b.err"; sleep 0.5
before=$(sha256sum "$tmp/cal.toml")
"$CTL" calibrate thermal --validate --calibration "$tmp/cal.toml" --port "$SIM_PATH" --model gy-mcu90640 --baud 115200 \
  --set-point 37 --frames 6 --region 27,19,3,3 --no-wait --settle 0.3 >"$tmp/val.out" 2>"$tmp/val.err"; rc=$?
bias=$(sed -n 's/^bias \([-+0-9.]*\) °C.*/\1/p' "$tmp/val.out")
if [ $rc -eq 0 ] && [ -n "$bias" ] && $PY -c "import sys; sys.exit(0 if abs(float('$bias')) < 0.1 else 1)" && grep -q "rms" "$tmp/val.out" \
   && [ "$before" = "$(sha256sum "$tmp/cal.toml")" ]; then ok "calibrate --validate: bias $bias °C, file unchanged"; else bad "calibrate --validate" "rc=$rc $(cat "$tmp/val.out" "$tmp/val.err" | tail -5)"; fi

out=$("$CTL" calibrate thermal --port "$SIM_PATH" --model gy-mcu90640 --set-point 35 --by x --output "$tmp/x.toml" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "at least 2" && ok "one set point is refused" || bad "one set point" "rc=$rc $out"

# 4. Registration: pairs from a known mapping, thermal = 0.05·camera + (0.5, −0.3), parallax 0.8 px·m.
pairs=()
for p in "40,40" "600,50" "320,240" "60,440" "620,430"; do
  cx=${p%,*}; cy=${p#*,}
  pairs+=(--pair "$cx,$cy,$($PY -c "print(0.05*$cx+0.5)"),$($PY -c "print(0.05*$cy-0.3)")")
done
pairs+=(--pair "320,240,$($PY -c "print(0.05*320+0.5+0.8*(1/0.25-1/0.5))"),$($PY -c "print(0.05*240-0.3)"),0.25")
"$CTL" calibrate registration --by tech-01 --calibration "$tmp/cal.toml" "${pairs[@]}" --nominal-distance-m 0.5 --overlay "$tmp/overlay.png" \
  --port "$SIM_PATH" --model gy-mcu90640 --baud 115200 >"$tmp/reg.out" 2>&1; rc=$?
if [ $rc -eq 0 ] && $PY - "$tmp/cal.toml" "$tmp/overlay.png" <<'PY'
import sys, tomllib, cv2
c = tomllib.load(open(sys.argv[1], "rb"))
h = c["registration"]["homography"]
for got, want in zip(h, [0.05, 0, 0.5, 0, 0.05, -0.3, 0, 0, 1]):
    assert abs(got - want) < 1e-4, h
assert abs(c["registration"]["parallax_px_m"] - 0.8) < 1e-3, c["registration"]
assert c["fit"]["points"], "the thermal fit is kept"
img = cv2.imread(sys.argv[2])
assert img is not None and img.shape == (480, 640, 3), None if img is None else img.shape
# The warm face lands in the middle of the camera frame: redder there than in the corner.
assert int(img[250, 320, 2]) > int(img[20, 20, 2]) + 40, (img[250, 320], img[20, 20])
PY
then ok "calibrate registration fits H and parallax, writes them and an overlay PNG"; else bad "calibrate registration" "rc=$rc $(tail -5 "$tmp/reg.out")"; fi
out=$("$CTL" calibrate registration --by tech-01 --calibration "$tmp/cal.toml" --pair 1,1,1,1 --pair 2,2,2,2 --pair 3,3,3,3 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "at least 4" && ok "registration with 3 pairs is refused" || bad "registration 3 pairs" "rc=$rc $out"

[ $fails -eq 0 ]
