#!/usr/bin/env bash
# The fleet view in a real browser (headless Chromium through selenium): a real checkpointd (replayed camera,
# GY-MCU90640 simulator) sends its heartbeats over verified HTTPS to the receiver, beside six kiosks whose heartbeats
# the test posts (silent, sensor lost, failed detector, dead letters, old calibration, fine). The page lists every
# kiosk with silent ones first, in Vietnamese and English, loads nothing from anywhere, and — the issue's check — the
# real kiosk, killed (-9, as a power cut), shows as silent once the threshold has passed and not before.
# Every heartbeat stored is validated against openapi.yaml's Heartbeat schema. Screenshots: .build/fleet-screenshots/.
set -uo pipefail
: "${BIN:?BIN must point at the built binaries}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
PY=/usr/bin/python3
fail() { echo "FAIL fleet-view: $*"; exit 1; }
for f in /usr/bin/chromium /usr/bin/chromedriver; do [ -x "$f" ] || fail "$f missing (make deps: chromium chromium-driver)"; done
$PY -c 'import selenium, pytest, cv2, numpy' 2>/dev/null || fail "python3-selenium, python3-pytest and python3-opencv are needed (make deps)"

. "$ROOT/Tests/demo/lib.sh"
D=$(mktemp -d /tmp/checkpointd-fleet.XXXXXX)
pids=()
trap 'cpd_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$D"' EXIT

INTERVAL=30     # [heartbeat] interval_s (its minimum)
SILENT=45       # the receiver's --silent-after: longer than one interval
cpd_tls
cpd_calibration
mkdir -p "$D/frames"
$PY -c 'import cv2, numpy, sys; [cv2.imwrite(f"{sys.argv[1]}/{i:04d}.jpg", numpy.full((480, 640, 3), 90 + i, numpy.uint8)) for i in range(4)]' "$D/frames"
cpd_config -e "s#^interval_s = .*#interval_s = $INTERVAL#"
grep -q "^interval_s = $INTERVAL" "$D/checkpointd.toml" || fail "the demo config has no [heartbeat] interval_s"

"$BIN/checkpoint-receiver" --port "$PORT" --db "$D/receiver.sqlite" --tls-cert "$D/server.pem" --tls-key "$D/server.key" \
  --silent-after "$SILENT" >> "$D/receiver.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do curl -s --cacert "$D/ca.pem" "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -s --cacert "$D/ca.pem" "https://127.0.0.1:$PORT/healthz" >/dev/null || fail "receiver did not start: $(cat "$D/receiver.log")"

cpd_start_sim
cpd_start_daemon
kill -0 "$DAEMON" 2>/dev/null || fail "daemon did not start: $(tail -5 "$D/daemon.log")"

mkdir -p "$ROOT/.build/fleet-screenshots"
cd "$ROOT/Tests/system/fleet" && FLEET_URL="https://127.0.0.1:$PORT" FLEET_CA="$D/ca.pem" FLEET_DAEMON_PID="$DAEMON" \
  FLEET_SILENT="$SILENT" FLEET_DEVICE="demo-kiosk" FLEET_SHOTS="$ROOT/.build/fleet-screenshots" FLEET_WORK="$D" \
  $PY -m pytest -q -p no:cacheprovider test_fleet_page.py 2>&1 | tee "$D/pytest.log"
rc=${PIPESTATUS[0]}
[ $rc -eq 0 ] || { tail -20 "$D/daemon.log"; tail -5 "$D/receiver.log"; fail "pytest exit $rc"; }
out=$($PY "$ROOT/Tests/system/lib/contract.py" "$ROOT/Sources/checkpoint-receiver/openapi.yaml" "$D/receiver.sqlite" --heartbeats 2>&1) \
  || fail "stored heartbeats do not match the contract: $out"
echo "PASS fleet-view ($(grep -Eo '[0-9]+ passed' "$D/pytest.log"); $out)"
