#!/usr/bin/env bash
# Monitoring stills (#20) end to end: a real checkpointd (replayed camera showing a real face photo, YuNet, the
# GY-MCU90640 simulator) and the real receiver over verified HTTPS. An operator asks for a still (the receiver's API);
# the request rides on the kiosk's next heartbeat reply; the kiosk answers:
#   1. stills off (the default): a refusal, the page says "monitoring stills are off on this kiosk", no image kept;
#   2. still_enabled = true, blur_faces = false (SIGHUP reload): the still as the camera sees it;
#   3. blur_faces = true (reload): the still with the face blurred — measured against the same region of still 2
#      (Laplacian variance), YuNet finds no face in it, and the rest of the frame is unchanged.
# Each still arrives within a few heartbeat intervals; the daemon's log has every request id and no image data;
# what the receiver answered and kept is validated against openapi.yaml by the real validator; headless Chromium
# shows the fleet page with the still (screenshot: .build/monitoring-screenshots/fleet-still.png).
set -uo pipefail
: "${BIN:?BIN must point at the built binaries}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
PY=/usr/bin/python3
fail() { echo "FAIL monitoring-still: $*"; exit 1; }
for f in /usr/bin/chromium /usr/bin/chromedriver; do [ -x "$f" ] || fail "$f missing (make deps: chromium chromium-driver)"; done
$PY -c 'import selenium, cv2, numpy, jsonschema, yaml' 2>/dev/null || fail "python3-selenium, python3-opencv, python3-jsonschema and python3-yaml are needed (make deps)"

. "$ROOT/Tests/demo/lib.sh"
D=$(mktemp -d /tmp/checkpointd-still.XXXXXX)
pids=()
trap 'cpd_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$D"' EXIT
passes=0
ok() { echo "ok - $*"; passes=$((passes + 1)); }

INTERVAL=30                         # [heartbeat] interval_s (its minimum)
WITHIN=$((3 * INTERVAL + 30))       # "within a few heartbeat intervals", generous on a shared machine
DEVICE=demo-kiosk
SPEC="$ROOT/Sources/checkpoint-receiver/openapi.yaml"
contract() { $PY "$ROOT/Tests/system/lib/contract.py" "$SPEC" --schema "$@"; }

cpd_tls
cpd_calibration
cpd_model || fail "no YuNet model in $SHARED/models (the face must be detected to be blurred)"
cpd_photos
photo=${photos[4]}
mkdir -p "$D/frames"
# The replayed camera: one real face photo on the kiosk's background, 640x480 (two identical frames).
$PY - "$photo" "$D/frames" <<'PY' || fail "cannot compose the replay frames"
import cv2, numpy, sys
img = cv2.imread(sys.argv[1])
h = 300
img = cv2.resize(img, (int(img.shape[1] * h / img.shape[0]), h))
frame = numpy.full((480, 640, 3), (120, 130, 125), numpy.uint8)
x = (640 - img.shape[1]) // 2
frame[90:90 + h, x:x + img.shape[1]] = img
for i in range(2):
    cv2.imwrite(f"{sys.argv[2]}/{i:04d}.png", frame)
PY
cpd_config -e "s#^interval_s = .*#interval_s = $INTERVAL#"
grep -q '^still_enabled = false' "$D/checkpointd.toml" || fail "the demo config has no [monitoring] still_enabled = false"

"$BIN/checkpoint-receiver" --port "$PORT" --db "$D/receiver.sqlite" --tls-cert "$D/server.pem" --tls-key "$D/server.key" \
  --stills "$D/stills" --silent-after 600 >> "$D/receiver.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do curl -s --cacert "$D/ca.pem" "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -s --cacert "$D/ca.pem" "https://127.0.0.1:$PORT/healthz" >/dev/null || fail "receiver did not start: $(cat "$D/receiver.log")"
R="https://127.0.0.1:$PORT"
rcurl() { curl -s --cacert "$D/ca.pem" "$@"; }

cpd_start_sim
cpd_start_daemon
kill -0 "$DAEMON" 2>/dev/null || fail "daemon did not start: $(tail -5 "$D/daemon.log")"
for _ in $(seq 600); do rcurl "$R/v1/fleet" | grep -q "\"$DEVICE\"" && break; sleep 0.2; done
rcurl "$R/v1/fleet" | grep -q "\"$DEVICE\"" || fail "no heartbeat from the kiosk: $(tail -5 "$D/daemon.log")"

# Asks for a still: its request id in REQ; the 202's body is validated against StillRequestAccepted.
ask() {
  local n=$1 code
  code=$(rcurl -o "$D/accepted-$n.json" -w '%{http_code}' -X POST "$R/v1/fleet/$DEVICE/still-requests")
  [ "$code" = 202 ] || fail "still request $n: HTTP $code $(cat "$D/accepted-$n.json")"
  contract StillRequestAccepted "$D/accepted-$n.json" >/dev/null || fail "the 202 does not match the contract: $(contract StillRequestAccepted "$D/accepted-$n.json")"
  REQ=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["requestId"])' "$D/accepted-$n.json")
}
# Waits until the kiosk's still request $1 is in state $2; prints the seconds it took.
wait_state() {
  local id=$1 want=$2 start=$SECONDS state
  while [ $((SECONDS - start)) -le $WITHIN ]; do
    rcurl "$R/v1/fleet" > "$D/fleet.json"
    state=$($PY -c 'import json,sys; k=[k for k in json.load(open(sys.argv[1]))["kiosks"] if k["deviceId"]==sys.argv[2]][0]; s=k.get("still") or {}; print(s.get("request","-") if s.get("requestId")==sys.argv[3] else "other")' "$D/fleet.json" "$DEVICE" "$id")
    [ "$state" = "$want" ] && { echo $((SECONDS - start)); return 0; }
    sleep 1
  done
  return 1
}
reload() {
  sed -i -e "s#^still_enabled = .*#still_enabled = $1#" -e "s#^blur_faces = .*#blur_faces = $2#" "$D/checkpointd.toml"
  kill -HUP "$DAEMON"
  sleep 2
  kill -0 "$DAEMON" 2>/dev/null || fail "daemon died on reload: $(tail -5 "$D/daemon.log")"
}

# 1. Stills off (the default): refused, nothing kept, the page says so.
ask 1; id1=$REQ
t=$(wait_state "$id1" refused) || fail "stills off: request $id1 not refused within $WITHIN s: $(grep -i still "$D/daemon.log" | tail -3)"
$PY -c 'import json,sys; k=[k for k in json.load(open(sys.argv[1]))["kiosks"] if k["deviceId"]=="demo-kiosk"][0]; assert k["still"]["refusal"]=="disabled", k["still"]; assert "still" not in k["still"], k["still"]' "$D/fleet.json" \
  || fail "stills off: the fleet says $(cat "$D/fleet.json")"
[ ! -e "$D/stills/$DEVICE.jpg" ] || fail "stills off: an image was kept"
rcurl "$R/fleet" | grep -q "monitoring stills are off on this kiosk" || fail "stills off: the page does not say so"
grep -q "request_id=$id1" "$D/daemon.log" && grep "request_id=$id1" "$D/daemon.log" | grep -q "refused" \
  || fail "stills off: the daemon's log has no refusal of $id1: $(grep -i still "$D/daemon.log" | tail -3)"
ok "stills off: request refused in ${t} s, the page says 'monitoring stills are off on this kiosk', nothing uploaded or kept, logged with its id"

# 2. On, faces not blurred.
reload true false
ask 2; id2=$REQ
t2=$(wait_state "$id2" received) || fail "blur off: still $id2 not received within $WITHIN s: $(grep -i still "$D/daemon.log" | tail -3)"
rcurl -D "$D/raw.headers" -o "$D/raw.jpg" "$R/v1/fleet/$DEVICE/still.jpg"
grep -qi "^x-faces-blurred: false" "$D/raw.headers" && grep -qi "^x-request-id: $id2" "$D/raw.headers" || fail "blur off: headers $(cat "$D/raw.headers")"
ok "still_enabled = true, blur_faces = false: still $id2 received in ${t2} s ($(stat -c %s "$D/raw.jpg") bytes, faces not blurred)"

# 3. On, faces blurred (the default once enabled).
reload true true
ask 3; id3=$REQ
t3=$(wait_state "$id3" received) || fail "blur on: still $id3 not received within $WITHIN s: $(grep -i still "$D/daemon.log" | tail -3)"
rcurl -D "$D/blurred.headers" -o "$D/blurred.jpg" "$R/v1/fleet/$DEVICE/still.jpg"
grep -qi "^x-faces-blurred: true" "$D/blurred.headers" || fail "blur on: headers $(cat "$D/blurred.headers")"
ok "blur_faces = true: still $id3 received in ${t3} s ($(stat -c %s "$D/blurred.jpg") bytes)"

# The face region, measured: YuNet's box on the unblurred still; Laplacian variance there in both stills; YuNet on
# the blurred still; the rest of the frame (outside the box grown by the 30 % margin) against the unblurred still.
"$BIN/checkpointctl" detect --json --model "$D/face_detection_yunet_2022mar.onnx" "$D/raw.jpg" "$D/blurred.jpg" > "$D/detect.json" 2>/dev/null
measure=$($PY - "$D/detect.json" "$D/raw.jpg" "$D/blurred.jpg" <<'PY'
import cv2, json, sys
found = {}
for line in open(sys.argv[1]):
    if line.startswith("{"):
        o = json.loads(line)
        found[o["image"]] = o["faces"]
raw_faces = found.get(sys.argv[2], [])
if not raw_faces:
    print("FAIL no face detected in the unblurred still"); sys.exit(1)
f = max(raw_faces, key=lambda f: f["w"] * f["h"])
x, y, w, h = int(f["x"]), int(f["y"]), int(f["w"]), int(f["h"])
raw = cv2.imread(sys.argv[2], cv2.IMREAD_GRAYSCALE)
blur = cv2.imread(sys.argv[3], cv2.IMREAD_GRAYSCALE)
var = lambda img: cv2.Laplacian(img[y:y + h, x:x + w], cv2.CV_64F).var()
vr, vb = var(raw), var(blur)
mx, my = int(w * 0.3) + 2, int(h * 0.3) + 2
mask = cv2.rectangle(raw * 0 + 255, (max(0, x - mx), max(0, y - my)), (x + w + mx, y + h + my), 0, -1)
outside = cv2.absdiff(raw, blur)[mask > 0].mean()
print(f"face box {w}x{h}: Laplacian variance {vr:.0f} unblurred, {vb:.1f} blurred ({100 * vb / vr:.2f} %); "
      f"faces YuNet finds in the blurred still: {len(found.get(sys.argv[3], []))}; mean difference outside: {outside:.2f}")
ok = vb < 0.02 * vr and not found.get(sys.argv[3]) and outside < 2.0
sys.exit(0 if ok else 1)
PY
) || fail "the face is not blurred enough: $measure"
ok "face blurred: $measure"

# The daemon's log: every request id, with its outcome; no image data.
for id in "$id1" "$id2" "$id3"; do grep -q "request_id=$id" "$D/daemon.log" || fail "request $id not in the daemon's log"; done
grep "request_id=$id3" "$D/daemon.log" | grep -q "bytes=" || fail "the sent still's size is not logged"
$PY - "$D/daemon.log" <<'PY' || fail "the daemon's log carries image data"
import re, sys
data = open(sys.argv[1], "rb").read()
assert b"\xff\xd8\xff" not in data, "JPEG bytes"
assert not re.search(rb"[A-Za-z0-9+/=]{200,}", data), "a base64 run"
assert max(len(l) for l in data.splitlines()) < 2000, "an overlong line"
PY
ok "daemon log: $(grep -c 'monitoring still' "$D/daemon.log") monitoring still lines, every request id, sizes, no image data"

# The contract: the fleet (still states, refusal, the still's facts) and the stored heartbeats.
rcurl "$R/v1/fleet" > "$D/fleet.json"
out=$(contract Fleet "$D/fleet.json") || fail "the fleet JSON does not match the contract: $out"
out2=$($PY "$ROOT/Tests/system/lib/contract.py" "$SPEC" "$D/receiver.sqlite" --heartbeats 2>&1) || fail "heartbeats: $out2"
ok "contract: $out; $out2"

# The fleet page in headless Chromium, showing the still.
mkdir -p "$ROOT/.build/monitoring-screenshots"
$PY - "$R/fleet" "$ROOT/.build/monitoring-screenshots/fleet-still.png" "$DEVICE" <<'PY' > "$D/chromium.log" 2>&1 || fail "Chromium: $(tail -5 "$D/chromium.log")"
import sys
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
url, shot, device = sys.argv[1:4]
o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1600,900", "--lang=vi",
          "--ignore-certificate-errors", "--disable-background-networking", "--disable-component-update", "--no-first-run",
          "--disable-sync", "--disable-default-apps", "--disable-extensions"]:
    o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
try:
    d.get(url)
    img = d.execute_script(
        "const i = document.querySelector('tr[data-device=\"' + arguments[0] + '\"] td.still img');"
        "return i ? [i.complete, i.naturalWidth, i.naturalHeight] : null;", device)
    assert img and img[0] and img[1] == 640 and img[2] == 480, f"the still is not shown: {img}"
    text = d.execute_script("return document.querySelector('tr[data-device=\"' + arguments[0] + '\"] td.still').innerText;", device)
    assert "faces blurred" in text, text
    assert d.find_element("css selector", f'form[action="/v1/fleet/{device}/still-requests"] button')
    d.save_screenshot(shot)
    print(f"still shown 640x480; '{text.strip().splitlines()[0]}'")
finally:
    d.quit()
PY
ok "fleet page in Chromium: $(tail -1 "$D/chromium.log"); screenshot .build/monitoring-screenshots/fleet-still.png"

echo "PASS monitoring-still ($passes checks)"
