#!/usr/bin/env bash
# The daemon's live GET /metrics against Prometheus' own checker (`promtool check metrics`, Debian's prometheus
# package) and what the new state metrics say: the build's version, the sensor up (1 with the simulator, 0 after it
# stops) and its ambient, the calibration's id and age, the client certificate's expiry and the last upload's time.
# Every metric the daemon serves is in the README's metrics table.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
fails=0
ok()  { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
command -v promtool > /dev/null || { bad "promtool installed" "no promtool (make deps installs Debian's prometheus package)"; exit 1; }
D=$(mktemp -d /tmp/cpd-metrics.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$D"' EXIT

mkdir -p "$D/frames"
/usr/bin/python3 -c 'import cv2, numpy as np; cv2.imwrite("'"$D"'/frames/a.jpg", np.full((480,640,3),128,np.uint8))'
"$BIN/checkpointctl" simulate sensor --model gy-mcu90640 --link "$D/thermal-pty" < /dev/null > "$D/sim.log" 2>&1 &
SIM=$!; pids+=($SIM)
for _ in $(seq 600); do [ -e "$D/thermal-pty" ] && break; sleep 0.1; done
"$BIN/checkpoint-receiver" --port 0 --db "$D/recv.db" > "$D/recv.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 600); do grep -q "^listening on" "$D/recv.out" 2>/dev/null && break; sleep 0.1; done
RPORT=$(awk '/^listening on/{print $3}' "$D/recv.out")
# A client certificate (curl does not send it over http://; the daemon still reports when it expires).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/client.key" -out "$D/client.pem" \
  -days 45 -subj "/CN=kiosk-metrics-test" 2> /dev/null
chmod 600 "$D/client.key"
expiry=$(date -d "$(openssl x509 -in "$D/client.pem" -noout -enddate | cut -d= -f2)" +%s)
sed -e "s#/tmp/checkpointd-demo#$D#g" \
    -e "s#^calibration = .*#calibration = \"$ROOT/calibration/gy-mcu90640.toml\"#" \
    -e "s#^endpoint = .*#endpoint = \"http://127.0.0.1:$RPORT/v1/records\"\nclient_cert = \"$D/client.pem\"\nclient_key = \"$D/client.key\"#" \
    -e "s#^tcp_port = .*#tcp_port = 0#" \
    "$ROOT/systemd/checkpointd.demo.toml" > "$D/run.toml"
[ -f "$SHARED/models/face_detection_yunet_2022mar.onnx" ] && cp "$SHARED/models/face_detection_yunet_2022mar.onnx" "$D/"
"$BIN/checkpointd" --config "$D/run.toml" 2> "$D/daemon.log" &
DAEMON=$!; pids+=($DAEMON)

scrape() { curl -s --max-time 10 --unix-socket "$D/api.sock" http://k/metrics > "$D/metrics.txt"; }
# value SERIES: the sample's value ("name" or 'name{label="v"}') in the last scrape.
value() { awk -v s="$1" '$1 == s { print $2 }' "$D/metrics.txt"; }
# is SERIES N: the sample's value equals N numerically (the text says 1.0 for 1).
is() { local v; v=$(value "$1"); [ -n "$v" ] && awk -v v="$v" -v n="$2" 'BEGIN { exit !(v + 0 == n + 0) }'; }
# wait_value SERIES EXPR: scrape until the value satisfies the awk expression on v (60 s).
wait_value() { local i v; for ((i = 0; i < 120; i++)); do scrape; v=$(value "$1"); [ -n "$v" ] && awk -v v="$v" "BEGIN { exit !($2) }" && return 0; sleep 0.5; done; return 1; }

for _ in $(seq 600); do [ -S "$D/api.sock" ] && break; sleep 0.1; done
wait_value checkpointd_sensor_up "v == 1" && ok "sensor up is 1 while the simulator sends frames" \
  || bad "sensor up is 1 with the simulator" "$(grep sensor_up "$D/metrics.txt"; tail -3 "$D/daemon.log")"
if out=$(promtool check metrics < "$D/metrics.txt" 2>&1); then ok "promtool check metrics passes on the live /metrics"
else bad "promtool check metrics" "$out"; fi
n=$(grep -c '^# HELP ' "$D/metrics.txt"); t=$(grep -c '^# TYPE ' "$D/metrics.txt")
[ "$n" -ge 30 ] && [ "$n" = "$t" ] && ok "every metric has # HELP ($n metrics)" || bad "every metric has # HELP" "$n HELP, $t TYPE"
c=$(awk '$1 == "#" && $2 == "TYPE" && $4 == "counter" && $3 !~ /_total$/ { print $3 }' "$D/metrics.txt")
[ -z "$c" ] && ok "every counter ends in _total" || bad "every counter ends in _total" "$c"

version=$("$BIN/checkpointd" --version)
is "checkpointd_build_info{version=\"$version\"}" 1 && ok "build_info's version is checkpointd --version ($version)" \
  || bad "build_info version" "$(grep build_info "$D/metrics.txt")"
amb=$(value checkpointd_sensor_ambient_celsius)
awk -v v="$amb" 'BEGIN { exit !(v > 0 && v < 60) }' && ok "sensor ambient in celsius ($amb)" || bad "sensor ambient in celsius" "'$amb'"
is checkpointd_sensor_warmup_remaining_seconds 0 && ok "warm-up remaining is 0 (warmup_minutes = 0)" \
  || bad "warm-up remaining" "$(grep warmup "$D/metrics.txt")"
calid=$(awk -F'"' '/^id = /{ print $2; exit }' "$ROOT/calibration/gy-mcu90640.toml")
is "checkpointd_calibration_info{id=\"$calid\"}" 1 && ok "calibration_info names the calibration ($calid)" \
  || bad "calibration_info" "$(grep calibration "$D/metrics.txt")"
calat=$(date -d "$(awk '/^calibrated_at = /{ print $3; exit }' "$ROOT/calibration/gy-mcu90640.toml")" +%s)
age=$(value checkpointd_calibration_age_seconds)
awk -v a="$age" -v e="$(( $(date +%s) - calat ))" 'BEGIN { exit !(a > e - 120 && a <= e + 1) }' \
  && ok "calibration age is now - calibrated_at ($age s)" || bad "calibration age" "'$age', expected about $(( $(date +%s) - calat ))"
got=$(value checkpointd_upload_client_certificate_expiry_timestamp_seconds)
awk -v g="$got" -v e="$expiry" 'BEGIN { exit !(g == e) }' && ok "client certificate expiry is its notAfter ($expiry)" \
  || bad "client certificate expiry" "'$got', openssl says $expiry"
[ -z "$(value checkpointd_last_upload_success_timestamp_seconds)" ] && ok "no last-upload time before the first upload" \
  || bad "no last-upload time before the first upload" "$(grep last_upload "$D/metrics.txt")"

decl='{"fullName":"Test Person","birthYear":1990,"gender":"Nam","nation":"VN","provinceId":"19","districtId":"164","wardId":"05446","address":"x","phone":"0912345678","hasPatient":2,"hasFromSickCountry":2,"hasSick":2,"symptoms":[],"consent":true}'
curl -s --max-time 30 --unix-socket "$D/api.sock" -H 'Content-Type: application/json' --data-binary "$decl" http://k/v1/declarations > /dev/null
t0=$(date +%s)
wait_value checkpointd_uploads_delivered_total "v >= 1" && ok "uploads_delivered_total counts the delivery" \
  || bad "uploads_delivered_total" "$(grep uploads_ "$D/metrics.txt"; grep -i upload "$D/daemon.log" | tail -3)"
last=$(value checkpointd_last_upload_success_timestamp_seconds)
awk -v l="$last" -v a="$t0" -v b="$(date +%s)" 'BEGIN { exit !(l >= a - 1 && l <= b + 1) }' \
  && ok "last upload success time is the delivery's ($last)" || bad "last upload success time" "'$last', upload between $t0 and $(date +%s)"
grep -q "Test Person\|0912345678" "$D/metrics.txt" && bad "no personal data in metrics" "found" || ok "no personal data in metrics"

# README: every metric served is in the metrics table.
missing=$(awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$D/metrics.txt" | while read -r m; do grep -q "| \`$m\`" "$ROOT/README.md" || echo "$m"; done)
[ -z "$missing" ] && ok "README's metrics table lists every metric served" || bad "README's metrics table" "missing: $missing"

kill "$SIM"
wait_value checkpointd_sensor_up "v == 0" && ok "sensor up is 0 after the simulator stops" \
  || bad "sensor up is 0 after the simulator stops" "$(grep sensor_up "$D/metrics.txt")"
wait_for_absent() { local i; for ((i = 0; i < 120; i++)); do scrape; [ -z "$(value "$1")" ] && return 0; sleep 0.5; done; return 1; }
wait_for_absent checkpointd_sensor_warmup_remaining_seconds && ok "no warm-up figure while the sensor is down" \
  || bad "no warm-up figure while the sensor is down" "$(grep warmup "$D/metrics.txt")"
if out=$(promtool check metrics < "$D/metrics.txt" 2>&1); then ok "promtool check metrics passes with the sensor down"
else bad "promtool check metrics with the sensor down" "$out"; fi
kill -TERM "$DAEMON"; wait "$DAEMON"
exit $((fails > 0))
