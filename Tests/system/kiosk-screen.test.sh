#!/usr/bin/env bash
# The kiosk screen in a real browser (headless Chromium, Debian's chromium + chromium-driver + python3-selenium)
# against the real daemon on the demo pipeline: replayed camera frames (switched by the test: empty, a visitor,
# a visitor too far, two faces), the GY-MCU90640 simulator on a pseudo-terminal, the receiver over HTTPS.
# The scenarios and checks are in kiosk/test_kiosk_screen.py (pytest); screenshots go to .build/ui-screenshots/.
set -uo pipefail
: "${BIN:?BIN must point at the built binaries}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
PY=/usr/bin/python3
fail() { echo "FAIL kiosk-screen: $*"; exit 1; }

for f in /usr/bin/chromium /usr/bin/chromedriver; do [ -x "$f" ] || fail "$f missing (make deps: chromium chromium-driver)"; done
$PY -c 'import selenium, pytest, cv2' 2>/dev/null || fail "python3-selenium, python3-pytest and python3-opencv are needed (make deps)"
[[ "$(fc-match "Noto Sans")" == *Noto* ]] || echo "note: fonts-noto-core is not installed; the screen falls back to DejaVu Sans"

. "$ROOT/Tests/demo/lib.sh"
D=$(mktemp -d /tmp/checkpointd-kiosk.XXXXXX)
pids=()
trap 'cpd_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$D"' EXIT

cpd_photos
cpd_model || echo "note: no YuNet model in $SHARED/models; the daemon falls back to Haar (blind to masked faces)"
"$BIN/checkpointctl" detect --json --model "$D/face_detection_yunet_2022mar.onnx" --allow-fallback "${photos[@]}" > "$D/boxes.json" 2>/dev/null || true
$PY "$ROOT/Tests/system/kiosk/scenes.py" "$D/frames" || fail "cannot write the replay frames"

cpd_tls
cpd_calibration
UI_PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The demo config, with: the screen on 127.0.0.1:UI_PORT served from this tree's ui/, a one-minute sensor warm-up
# (the warming-up screen), 24 thermal frames per measurement (the measuring screen stays long enough to look at).
cpd_config -e "s#^tcp_port = .*#tcp_port = $UI_PORT#" -e "s#^warmup_minutes = .*#warmup_minutes = 1#" \
           -e "s#^frames = .*#frames = 24#" -e "s#^dir = .*#dir = \"$ROOT/ui\"#" -e "s#^level = .*#level = \"info\"#"
grep -q '^\[ui\]' "$D/checkpointd.toml" || printf '\n[ui]\ndir = "%s"\n' "$ROOT/ui" >> "$D/checkpointd.toml"
# The demo config of this tree may still carry a key the daemon under test no longer knows (result_wait_ms).
if ! out=$("$BIN/checkpointd" --check-config --no-environment "$D/checkpointd.toml" 2>&1); then
  if grep -q result_wait_ms <<<"$out"; then sed -i '/^result_wait_ms/d' "$D/checkpointd.toml"; fi
  "$BIN/checkpointd" --check-config --no-environment "$D/checkpointd.toml" >/dev/null 2>&1 || { echo "$out"; fail "the test config is invalid"; }
fi

cpd_start_receiver
cpd_start_sim
cpd_sim "noface"
cpd_start_daemon
curl -sf "http://127.0.0.1:$UI_PORT/ui/" >/dev/null || { tail -20 "$D/daemon.log"; fail "the daemon does not serve /ui/ on 127.0.0.1:$UI_PORT"; }

mkdir -p "$ROOT/.build/ui-screenshots"
KIOSK_URL="http://127.0.0.1:$UI_PORT" KIOSK_DIR="$D" KIOSK_ROOT="$ROOT" KIOSK_PHOTOS="$(printf '%s\n' "${photos[@]}")" \
KIOSK_SHOTS="$ROOT/.build/ui-screenshots" KIOSK_DAEMON_PID="$DAEMON" \
  $PY -m pytest -p no:cacheprovider -q --tb=short "$ROOT/Tests/system/kiosk/test_kiosk_screen.py" 2>&1 | tee "$D/pytest.log"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || { echo "--- daemon log (tail)"; tail -30 "$D/daemon.log"; }
exit "$rc"
