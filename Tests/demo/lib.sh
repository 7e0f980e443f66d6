# LEGACY launch code for the demo pipeline, kept only for the bash scripts not yet moved onto the harness
# (Tests/system/kiosk-screen.test.sh, fleet-view.test.sh, monitoring-still.test.sh): the one launch code is now
# Tests/system/harness (demo_assets.py, stack.py), which make demo (Tests/demo/demo.py), make soak
# (Tests/soak/soak.py), the daemon and ui benchmarks and the pytest modules use. Delete this file with the last of
# those scripts. Nothing here prints unless something fails.
#
# The caller sets BIN (built binaries), ROOT (the repository), SHARED, D (a work directory) and an array
# `pids` (background processes to stop at exit); the functions below set PORT, RECEIVER and DAEMON.

# Face photos for the visitors, in `photos`: ../shared when present, otherwise photographs from Debian packages.
cpd_photos() {
  if [ -d "$SHARED/fixtures/faces" ]; then
    local F=$SHARED/fixtures/faces
    photos=("$F/masked/astronaut-mask-blue.png" "$F/masked/grace_hopper_512-mask-white.png" "$F/with-face/astronaut.png"
            "$F/masked/grace_hopper_512-mask-black.png" "$F/with-face/grace_hopper_512.jpg")
  else
    local need="" p a g
    for p in python3-skimage facedetect; do dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q "ok installed" || need="$need $p"; done
    if [ -n "$need" ]; then apt-get install -y -qq --no-install-recommends $need >/dev/null; fi
    a=$(/usr/bin/python3 -c 'import skimage, os; print(os.path.join(os.path.dirname(skimage.__file__), "data", "astronaut.png"))')
    g=$(ls /usr/share/doc/facedetect/examples/grace_hopper*.jpg 2>/dev/null | head -1)
    photos=("$a" "$g" "$a" "$g" "$a")
  fi
}

# Copies the YuNet model into $D; returns 1 (the daemon will fall back to Haar) when there is none.
cpd_model() {
  local model=$SHARED/models/face_detection_yunet_2022mar.onnx
  [ -f "$model" ] || return 1
  cp "$model" "$D/"
}

# Replay frames in $1 from the photos in `photos`: cpd_frames DIR FPS LEAD_S VISIT_S GAP_S; prints the frame count.
cpd_frames() {
  local out=$1 fps=$2 lead=$3 visit=$4 gap=$5
  "$BIN/checkpointctl" detect --json --model "$D/face_detection_yunet_2022mar.onnx" --allow-fallback "${photos[@]}" > "$D/boxes.json" 2>/dev/null || true
  mkdir -p "$out"
  /usr/bin/python3 "$ROOT/Tests/demo/make_frames.py" "$out" "$fps" "$lead" "$visit" "$gap" "$D/boxes.json" "${photos[@]}"
}

# A throwaway CA and a server certificate for 127.0.0.1 in $D, and a free port in PORT.
cpd_tls() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=checkpointd demo CA" -keyout "$D/ca.key" -out "$D/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$D/server.key" -out "$D/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' > "$D/san.ext"
  openssl x509 -req -in "$D/server.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial -days 2 -extfile "$D/san.ext" -out "$D/server.pem" 2>/dev/null
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
}

# The receiver over HTTPS on PORT with its SQLite db in $D/receiver.sqlite; waits until it answers.
cpd_start_receiver() {
  "$BIN/checkpoint-receiver" --port "$PORT" --db "$D/receiver.sqlite" --tls-cert "$D/server.pem" --tls-key "$D/server.key" >> "$D/receiver.log" 2>&1 &
  RECEIVER=$!; pids+=("$RECEIVER")
  local _
  for _ in $(seq 600); do curl -s --cacert "$D/ca.pem" "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "receiver did not start"; cat "$D/receiver.log"; exit 1
}

# The network goes down: the receiver stops (its database stays).
cpd_stop_receiver() {
  kill "$RECEIVER" 2>/dev/null || true
  wait "$RECEIVER" 2>/dev/null || true
}

# Records the receiver has stored (deduplicated by Idempotency-Key).
cpd_received() { curl -s --cacert "$D/ca.pem" "https://127.0.0.1:$PORT/v1/records" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'; }

# The demo calibration in $D/calibration.toml: identity fit, 0.9 °C skin-to-body.
cpd_calibration() {
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
}

# The daemon's config in $D/checkpointd.toml from systemd/checkpointd.demo.toml: everything under $D, the
# receiver on PORT over verified HTTPS, the kiosk screen from the repository's ui/ (served only when
# CPD_TCP_PORT names a loopback port: off by default, so parallel runs do not collide).
# Extra sed expressions may follow (e.g. -e 's#^replay_fps = .*#…#').
cpd_config() {
  sed -e "s#/tmp/checkpointd-demo#$D#g" \
      -e "s#^calibration = .*#calibration = \"$D/calibration.toml\"#" \
      -e "s#^endpoint = .*#endpoint = \"https://127.0.0.1:$PORT/v1/records\"#" \
      -e "s#^allow_insecure_http = .*#allow_insecure_http = false\nca_file = \"$D/ca.pem\"#" \
      -e "s#^tcp_port = .*#tcp_port = ${CPD_TCP_PORT:-0}#" \
      -e "s#^dir = .*#dir = \"$ROOT/ui\"#" \
      -e "s#^level = .*#level = \"info\"#" \
      "$@" "$ROOT/systemd/checkpointd.demo.toml" > "$D/checkpointd.toml"
}

# The GY-MCU90640 simulator on a PTY linked at $D/thermal-pty, driven through the FIFO $D/sim.in on fd 3
# (`cpd_sim "face 37.9"`); extra arguments go to the simulator.
cpd_start_sim() {
  mkfifo "$D/sim.in"
  "$BIN/checkpointctl" simulate sensor --model gy-mcu90640 --no-face --ambient-c 27 --link "$D/thermal-pty" "$@" < "$D/sim.in" > "$D/sim.log" 2>&1 &
  pids+=($!)
  exec 3>"$D/sim.in"
  local _
  for _ in $(seq 600); do [ -e "$D/thermal-pty" ] && break; sleep 0.1; done
}
cpd_sim() { echo "$*" >&3; }

# The daemon on $D/checkpointd.toml, its log in $D/daemon.log; waits (up to 60 s: generous on a busy machine) until the API answers.
cpd_start_daemon() {
  "$BIN/checkpointd" --config "$D/checkpointd.toml" 2> "$D/daemon.log" &
  DAEMON=$!; pids+=("$DAEMON")
  local _
  for _ in $(seq 600); do cpd_api http://kiosk/healthz >/dev/null 2>&1 && break; sleep 0.1; done
}

# The local API over the Unix socket.
cpd_api() { curl -s --unix-socket "$D/api.sock" "$@"; }

# "<state> <screeningId>" of the screening the kiosk sees ("-" when no result is shown).
cpd_screening() { cpd_api http://kiosk/v1/screening | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["state"], o.get("screeningId") or "-")'; }

# Waits (up to $2 tenths of a second, default 300) for a screening result other than the one with id $1;
# prints its screeningId (what the kiosk sends with that person's declaration).
cpd_wait_result() {
  local last=$1 tries=${2:-300} state sid _
  for _ in $(seq "$tries"); do
    read -r state sid <<<"$(cpd_screening)"
    [ "$state" = result ] && [ "$sid" != "$last" ] && [ "$sid" != - ] && break
    sleep 0.1
  done
  echo "$sid"
}

# A health declaration as the kiosk front end posts it, bound to the person's own screening:
# cpd_declaration NAME K [PHONE] [SCREENING_ID].
cpd_declaration() {
  python3 - "$1" "$2" "${3:-}" "${4:-}" <<'PY'
import json, sys
name, k, phone, sid = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
d = {"fullName": name, "birthYear": 1980 + k % 40, "gender": "Nam" if k % 2 == 0 else "Nu", "nation": "VN",
     "provinceId": "19", "wardId": "05446", "address": "Tổ 5, phường Quang Trung, TP Thái Nguyên",
     "phone": phone or "091234567%d" % k, "hasPatient": 2, "hasFromSickCountry": 2, "hasSick": 1 if k == 1 else 2,
     "symptoms": ["fever"] if k == 1 else [], "consent": True}
if sid and sid != "-":
    d["screeningId"] = sid
print(json.dumps(d, ensure_ascii=False))
PY
}

# Stops everything in `pids` (at exit).
cpd_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -P $$ 2>/dev/null || true
  wait 2>/dev/null || true
}
