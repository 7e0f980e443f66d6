#!/usr/bin/env bash
# checkpointd end to end on one machine (`make demo`):
#   - replayed camera frames with real face photographs (masked and unmasked), 5 visitors;
#   - the GY-MCU90640 sensor simulator on a pseudo-terminal, showing each visitor's warm face;
#   - the real daemon with its SQLite queue and local API socket;
#   - the reference receiver over HTTPS (certificates made here with openssl) on 127.0.0.1;
#   - a scripted kiosk front end posting one declaration per visitor over the API socket.
# Visitor 2 has a fever; the link to the receiver goes down for visitors 3 and 4 and comes back.
set -euo pipefail
: "${BIN:?BIN must point at the built binaries}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
D=$(mktemp -d /tmp/checkpointd-demo.XXXXXX)
FPS=5 LEAD=5 VISIT=7 GAP=3
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -P $$ 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
say() { printf '[%5.1fs] %s\n' "$(awk -v s="$START" 'BEGIN{ "date +%s.%N" | getline n; print n - s }')" "$*"; }
START=$(date +%s.%N)

# --- faces: ../shared when present, otherwise photographs from Debian packages -------------
if [ -d "$SHARED/fixtures/faces" ]; then
  F=$SHARED/fixtures/faces
  photos=("$F/masked/astronaut-mask-blue.png" "$F/masked/grace_hopper_512-mask-white.png" "$F/with-face/astronaut.png"
          "$F/masked/grace_hopper_512-mask-black.png" "$F/with-face/grace_hopper_512.jpg")
else
  for p in python3-skimage facedetect; do dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q "ok installed" || need="${need:-} $p"; done
  if [ -n "${need:-}" ]; then apt-get install -y -qq --no-install-recommends $need >/dev/null; fi
  a=$(/usr/bin/python3 -c 'import skimage, os; print(os.path.join(os.path.dirname(skimage.__file__), "data", "astronaut.png"))')
  g=$(ls /usr/share/doc/facedetect/examples/grace_hopper*.jpg 2>/dev/null | head -1)
  photos=("$a" "$g" "$a" "$g" "$a")
fi
MODEL=$SHARED/models/face_detection_yunet_2022mar.onnx
if [ -f "$MODEL" ]; then cp "$MODEL" "$D/"; else echo "note: no YuNet model at $MODEL; the daemon falls back to Haar (blind to masked faces)"; fi

# Skin temperatures the sensor sees per visitor; the calibration adds 0.9 °C skin-to-body.
temps=(35.9 37.9 35.8 36.0 35.7)
names=("Nguyễn Văn An" "Trần Thị Bình" "Lê Văn Cường" "Phạm Thị Dung" "Hoàng Văn Em")

"$BIN/checkpointctl" detect --json --model "$D/face_detection_yunet_2022mar.onnx" --allow-fallback "${photos[@]}" > "$D/boxes.json" 2>/dev/null || true
mkdir -p "$D/frames"
nframes=$(/usr/bin/python3 "$ROOT/Tests/demo/make_frames.py" "$D/frames" $FPS $LEAD $VISIT $GAP "$D/boxes.json" "${photos[@]}")

# --- TLS for the receiver: a throwaway CA and a server certificate for 127.0.0.1 -------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=checkpointd demo CA" -keyout "$D/ca.key" -out "$D/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$D/server.key" -out "$D/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$D/san.ext"
openssl x509 -req -in "$D/server.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial -days 2 -extfile "$D/san.ext" -out "$D/server.pem" 2>/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_receiver() {
  "$BIN/checkpoint-receiver" --port "$PORT" --db "$D/receiver.sqlite" --tls-cert "$D/server.pem" --tls-key "$D/server.key" >> "$D/receiver.log" 2>&1 &
  RECEIVER=$!; pids+=("$RECEIVER")
  for _ in $(seq 50); do curl -s --cacert "$D/ca.pem" "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "receiver did not start"; cat "$D/receiver.log"; exit 1
}
received() { curl -s --cacert "$D/ca.pem" "https://127.0.0.1:$PORT/v1/records" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'; }

# --- calibration (identity fit, 0.9 °C skin-to-body) and config ------------------------------
cat > "$D/calibration.toml" <<EOF
# Demo calibration: the simulator reports true temperatures, so the fit is the identity.
[sensor]
model = "gy-mcu90640"
serial = "SIM-DEMO-0001"
emissivity = 0.98
[calibration]
id = "demo-identity"
calibrated_by = "make-demo"
calibrated_at = 2026-11-23T08:00:00+07:00
method = "2-point"
[fit]
gain = 1.0
offset = 0.0
points = [[35.0, 35.0], [40.0, 40.0]]
residual_rms_c = 0.0
max_residual_c = 0.0
[ambient]
coefficient = 0.0
reference_c = 25.0
[distance]
table = [[0.3, 0.0], [1.0, 0.0]]
[body]
skin_to_body_offset_c = 0.9
[registration]
homography = [0.05, 0.0, 0.0, 0.0, 0.05, 0.0, 0.0, 0.0, 1.0]
nominal_distance_m = 0.5
baseline_m = 0.0
parallax_px_m = 0.0
[reference]
enabled = false
region = [0, 0, 2, 2]
temperature_c = 35.0
max_noise_c = 0.5
EOF
sed -e "s#/tmp/checkpointd-demo#$D#g" \
    -e "s#^calibration = .*#calibration = \"$D/calibration.toml\"#" \
    -e "s#^endpoint = .*#endpoint = \"https://127.0.0.1:$PORT/v1/records\"#" \
    -e "s#^allow_insecure_http = .*#allow_insecure_http = false\nca_file = \"$D/ca.pem\"#" \
    -e "s#^tcp_port = .*#tcp_port = 0#" \
    -e "s#^level = .*#level = \"info\"#" \
    "$ROOT/systemd/checkpointd.demo.toml" > "$D/checkpointd.toml"
"$BIN/checkpointd" --check-config "$D/checkpointd.toml"

# --- start: receiver, sensor simulator, daemon -------------------------------------------
start_receiver
say "receiver: HTTPS on 127.0.0.1:$PORT (CA $D/ca.pem)"
mkfifo "$D/sim.in"
"$BIN/checkpointctl" simulate sensor --model gy-mcu90640 --no-face --ambient-c 27 --link "$D/thermal-pty" < "$D/sim.in" > "$D/sim.log" 2>&1 &
pids+=($!)
exec 3>"$D/sim.in"
sim() { echo "$*" >&3; }
for _ in $(seq 50); do [ -e "$D/thermal-pty" ] && break; sleep 0.1; done
say "sensor simulator: $(head -1 "$D/sim.log") -> $D/thermal-pty"
"$BIN/checkpointd" --config "$D/checkpointd.toml" 2> "$D/daemon.log" &
DAEMON=$!; pids+=("$DAEMON")
api() { curl -s --unix-socket "$D/api.sock" "$@"; }
for _ in $(seq 100); do api http://kiosk/healthz >/dev/null 2>&1 && break; sleep 0.1; done
say "daemon: ready, replaying $nframes frames at $FPS fps ($(api http://kiosk/healthz | python3 -c 'import json,sys; h=json.load(sys.stdin); print("detector " + h.get("stage.detector","?"))'))"
tail --pid="$DAEMON" -n +1 -f "$D/daemon.log" 2>/dev/null | grep --line-buffered -E "screening (normal|elevated|invalid)|upload failed|dead letter" \
  | sed -u 's/^<[0-9]>/           daemon: /' &
pids+=($!)

delivered=0 pending=0
show_uploads() {
  local n; n=$(api http://kiosk/healthz | python3 -c 'import json,sys; h=json.load(sys.stdin); print(h.get("upload.delivered","0"), h.get("queue.pending","0"))')
  local d=${n% *} p=${n#* }
  if [ "$d" != "$delivered" ] || [ "$p" != "$pending" ]; then say "uploads: $d delivered to the province receiver, $p pending"; delivered=$d; pending=$p; fi
}

screened=0 elevated=0 last_result=""
# The kiosk front end: for each visitor, wait until the daemon shows a new screening result for the
# person in front of the camera, then post their declaration (the daemon attaches that result).
screening() { api http://kiosk/v1/screening | python3 -c 'import json,sys; o=json.load(sys.stdin); s=o.get("screening") or {}; print(o["state"], s.get("measuredAt",""))'; }
for k in "${!temps[@]}"; do
  # The sensor sees the next visitor's face temperature from now on; the camera shows them after the gap.
  sim "face ${temps[$k]}"
  if [ "$k" = 2 ]; then
    kill "$RECEIVER"; wait "$RECEIVER" 2>/dev/null || true
    say "--- network outage: the receiver is down; declarations are buffered in the queue ---"
  fi
  for _ in $(seq 300); do
    read -r state measured <<<"$(screening)"
    [ "$state" = result ] && [ "$measured" != "$last_result" ] && break
    sleep 0.1
  done
  last_result=$measured
  body=$(python3 - "${names[$k]}" "$k" <<'PY'
import json, sys
name, k = sys.argv[1], int(sys.argv[2])
print(json.dumps({"fullName": name, "birthYear": 1980 + k, "gender": "Nam" if k % 2 == 0 else "Nu", "nation": "VN",
                  "provinceId": "19", "districtId": "164", "wardId": "05446", "address": "Tổ 5, phường Quang Trung, TP Thái Nguyên",
                  "phone": "091234567%d" % k, "hasPatient": 2, "hasFromSickCountry": 2, "hasSick": 1 if k == 1 else 2,
                  "symptoms": ["fever"] if k == 1 else [], "consent": True}, ensure_ascii=False))
PY
)
  resp=$(api -w '\n%{http_code}' -H 'Content-Type: application/json' --data-binary "$body" http://kiosk/v1/declarations)
  code=${resp##*$'\n'}; json=${resp%$'\n'*}
  line=$(python3 - "$json" <<'PY'
import json, sys
o = json.loads(sys.argv[1]); s = o.get("screening", {})
t = s.get("correctedTemperatureC")
msg = f'{s.get("result")} {t:.1f} °C' if t is not None else f'{s.get("result")} ({", ".join(s.get("flags", []))})'
if s.get("result") == "elevated": msg += " -> secondary check with a clinical thermometer"
print(f'record {o.get("id", "?")[:8]}…: {msg}')
PY
)
  say "visitor $((k + 1)) (skin ${temps[$k]} °C): declaration $code, $line"
  screened=$((screened + 1)); case "$line" in *elevated*) elevated=$((elevated + 1));; esac
  show_uploads
  if [ "$k" = 3 ]; then
    start_receiver
    say "--- network back: the receiver is up again; the backlog drains ---"
  fi
done

for _ in $(seq 150); do
  show_uploads
  p=$(api http://kiosk/healthz | python3 -c 'import json,sys; print(json.load(sys.stdin).get("queue.pending","?"))')
  [ "$p" = 0 ] && break
  sleep 1
done
got=$(received)
say "summary: screened $screened, elevated $elevated, uploaded $got (receiver count, deduplicated), pending $p"
kill -TERM "$DAEMON"; wait "$DAEMON" 2>/dev/null || true
say "daemon stopped; its log: $D/daemon.log"
[ "$got" = "$screened" ] && [ "$p" = 0 ]
