#!/usr/bin/env bash
# checkpointd end to end on one machine (`make demo`):
#   - replayed camera frames with real face photographs (masked and unmasked), 5 visitors;
#   - the GY-MCU90640 sensor simulator on a pseudo-terminal, showing each visitor's warm face;
#   - the real daemon with its SQLite queue and local API socket;
#   - the reference receiver over HTTPS (certificates made here with openssl) on 127.0.0.1;
#   - a scripted kiosk front end posting one declaration per visitor over the API socket.
# Visitor 2 has a fever; the link to the receiver goes down for visitors 3 and 4 and comes back.
# The launch code (photos, frames, TLS, receiver, simulator, daemon, API) is shared with the soak and the
# daemon benchmark: Tests/demo/lib.sh.
set -euo pipefail
: "${BIN:?BIN must point at the built binaries}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
. "$ROOT/Tests/demo/lib.sh"
D=$(mktemp -d /tmp/checkpointd-demo.XXXXXX)
FPS=5 LEAD=5 VISIT=7 GAP=3
pids=()
trap cpd_cleanup EXIT
say() { printf '[%5.1fs] %s\n' "$(awk -v s="$START" 'BEGIN{ "date +%s.%N" | getline n; print n - s }')" "$*"; }
START=$(date +%s.%N)

# --- faces: ../shared when present, otherwise photographs from Debian packages -------------
cpd_photos
cpd_model || echo "note: no YuNet model at $SHARED/models/face_detection_yunet_2022mar.onnx; the daemon falls back to Haar (blind to masked faces)"

# Skin temperatures the sensor sees per visitor; the calibration adds 0.9 °C skin-to-body.
temps=(35.9 37.9 35.8 36.0 35.7)
names=("Nguyễn Văn An" "Trần Thị Bình" "Lê Văn Cường" "Phạm Thị Dung" "Hoàng Văn Em")

nframes=$(cpd_frames "$D/frames" $FPS $LEAD $VISIT $GAP)

# --- TLS for the receiver: a throwaway CA and a server certificate for 127.0.0.1 -------------
cpd_tls
start_receiver() { cpd_start_receiver; }
received() { cpd_received; }

# --- the kiosk screen: when headless Chromium can be driven (make deps), the daemon also serves ui/ on a free
# loopback port and Tests/demo/screens.py photographs each step a visitor sees (DEMO_SCREENS=0: not at all) ----
SCREENS_DIR=$ROOT/.build/demo-screens SCREENS=""
if [ "${DEMO_SCREENS:-1}" != 0 ] && [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
  CPD_TCP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -f "$SCREENS_DIR"/*.png
elif [ "${DEMO_SCREENS:-1}" != 0 ]; then
  echo "note: no chromium, chromium-driver or python3-selenium (make deps): the kiosk screen is not shown"
fi

# --- calibration (identity fit, 0.9 °C skin-to-body) and config ------------------------------
cpd_calibration
cpd_config
"$BIN/checkpointd" --check-config --no-environment "$D/checkpointd.toml"   # the simulator starts below

# --- start: receiver, sensor simulator, daemon -------------------------------------------
start_receiver
say "receiver: HTTPS on 127.0.0.1:$PORT (CA $D/ca.pem)"
cpd_start_sim
sim() { cpd_sim "$@"; }
say "sensor simulator: $(head -1 "$D/sim.log") -> $D/thermal-pty"
cpd_start_daemon
api() { cpd_api "$@"; }
say "daemon: ready, replaying $nframes frames at $FPS fps ($(api http://kiosk/healthz | python3 -c 'import json,sys; h=json.load(sys.stdin); print("detector " + h.get("stage.detector","?"))'))"
if [ -n "${CPD_TCP_PORT:-}" ]; then
  /usr/bin/python3 "$ROOT/Tests/demo/screens.py" "http://127.0.0.1:$CPD_TCP_PORT" "$SCREENS_DIR" 60 > "$D/screens.out" 2> "$D/screens.log" &
  SCREENS=$!; pids+=("$SCREENS")
  say "kiosk screen: http://127.0.0.1:$CPD_TCP_PORT/ui/ (while the demo runs; headless Chromium photographs it to $SCREENS_DIR)"
fi
tail --pid="$DAEMON" -n +1 -f "$D/daemon.log" 2>/dev/null | grep --line-buffered -E "screening (normal|elevated|invalid)|upload failed|dead letter" \
  | sed -u 's/^<[0-9]>/           daemon: /' &
pids+=($!)

delivered=0 pending=0
show_uploads() {
  local n; n=$(api http://kiosk/healthz | python3 -c 'import json,sys; h=json.load(sys.stdin); print(h.get("upload.delivered","0"), h.get("queue.pending","0"))')
  local d=${n% *} p=${n#* }
  if [ "$d" != "$delivered" ] || [ "$p" != "$pending" ]; then say "uploads: $d delivered to the province receiver, $p pending"; delivered=$d; pending=$p; fi
}

screened=0 elevated=0 unbound=0 last_result=""
# The kiosk front end: for each visitor, wait until the daemon shows a new screening result for the
# person in front of the camera, then post their declaration with that result's screeningId (the daemon
# binds exactly that screening to it; a declaration without one gets none). Each POST carries an
# Idempotency-Key, as the screen sends it, so a retried POST cannot store the declaration twice.
for k in "${!temps[@]}"; do
  # The sensor sees the next visitor's face temperature from now on; the camera shows them after the gap.
  sim "face ${temps[$k]}"
  if [ "$k" = 2 ]; then
    cpd_stop_receiver
    say "--- network outage: the receiver is down; declarations are buffered in the queue ---"
  fi
  last_result=$(cpd_wait_result "$last_result")
  body=$(cpd_declaration "${names[$k]}" "$k" "" "$last_result")
  resp=$(api -w '\n%{http_code}' -H 'Content-Type: application/json' -H "Idempotency-Key: demo-$$-$k" --data-binary "$body" http://kiosk/v1/declarations)
  code=${resp##*$'\n'}; json=${resp%$'\n'*}
  line=$(python3 - "$json" <<'PY'
import json, sys
o = json.loads(sys.argv[1]); s = o.get("screening", {})
t = s.get("correctedTemperatureC")
msg = f'{s.get("result")} {t:.1f} °C' if t is not None else f'{s.get("result")} ({", ".join(s.get("flags", []))})'
if s.get("result") == "elevated": msg += " -> secondary check with a clinical thermometer"
print(f'record {o.get("shortCode", "?")}: {msg}')
PY
)
  say "visitor $((k + 1)) (skin ${temps[$k]} °C): declaration $code, $line"
  screened=$((screened + 1)); case "$line" in *elevated*) elevated=$((elevated + 1));; esac
  case "$line" in *unavailable*) unbound=$((unbound + 1));; esac
  show_uploads
  if [ "$k" = 3 ]; then
    start_receiver
    say "--- network back: the receiver is up again; the backlog drains ---"
  fi
done

# The screen's own declaration (screens.py fills one in on the page after the visitors' steps): wait for it.
page_declared=0
if [ -n "$SCREENS" ]; then
  for _ in $(seq 1200); do kill -0 "$SCREENS" 2>/dev/null || break; sleep 0.1; done
  page_declared=$(grep -c '^declared: ' "$D/screens.log" || true)
  [ "$page_declared" = 0 ] || say "kiosk screen: one declaration typed on the screen ($(sed -n 's/^declared: //p' "$D/screens.log" | head -1), screening unavailable: a fed result)"
fi
for _ in $(seq 150); do
  show_uploads
  p=$(api http://kiosk/healthz | python3 -c 'import json,sys; print(json.load(sys.stdin).get("queue.pending","?"))')
  [ "$p" = 0 ] && break
  sleep 1
done
got=$(received)
if [ -n "$SCREENS" ]; then
  for _ in $(seq 100); do kill -0 "$SCREENS" 2>/dev/null || break; sleep 0.1; done
  kill -TERM "$SCREENS" 2>/dev/null || true; wait "$SCREENS" 2>/dev/null || true
  say "kiosk screen: $(wc -l < "$D/screens.out") screenshots of the steps a visitor sees:"
  sed 's/^/           /' "$D/screens.out"
  if [ -s "$D/screens.log" ]; then sed 's/^/           screens: /' "$D/screens.log" | tail -5; fi
fi
say "summary: screened $screened (+ $page_declared declared on the screen), elevated $elevated, without their own screening $unbound, uploaded $got (receiver count, deduplicated), pending $p"
# Every record the receiver stored, validated against the upload contract (openapi.yaml's Record schema).
if contract=$(/usr/bin/python3 "$ROOT/Tests/system/lib/contract.py" "$ROOT/Sources/checkpoint-receiver/openapi.yaml" "$D/receiver.sqlite" 2>&1); then
  contract_ok=yes; say "$(tail -1 <<<"$contract")"
else
  contract_ok=no; say "contract: FAILED"; head -20 <<<"$contract"
fi
kill -TERM "$DAEMON"; wait "$DAEMON" 2>/dev/null || true
say "daemon stopped; its log: $D/daemon.log"
[ "$got" = "$((screened + page_declared))" ] && [ "$p" = 0 ] && [ "$unbound" = 0 ] && [ "$contract_ok" = yes ]
