#!/usr/bin/env bash
# `checkpointd --check-config` on good and bad files: exit codes 0 / 78 (EX_CONFIG), every planted problem
# reported as FILE:LINE: key: … on stderr, and the daemon refusing to start on an invalid config.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${BIN:?BIN must point at the built binaries}"
D="$BIN/checkpointd"
fails=0
ok()  { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# An /etc/checkpointd-like layout: the documented example config with the shipped calibration files.
mkdir -p "$work/etc/calibration"
cp "$ROOT/examples/checkpointd.toml" "$work/etc/checkpointd.toml"
cp "$ROOT"/calibration/*.toml "$work/etc/calibration/"

# (--no-environment: the files only; this machine has no kiosk devices. The environment is checked further down.)
out=$("$D" --check-config --no-environment "$work/etc/checkpointd.toml" 2>"$work/err"); rc=$?
[ "$rc" -eq 0 ] && ok "example config is valid (exit 0)" || bad "example config is valid" "exit $rc: $(cat "$work/err")"
[ ! -s "$work/err" ] && ok "valid config prints nothing on stderr" || bad "valid config prints nothing on stderr" "$(cat "$work/err")"

"$D" --check-config --no-environment "$ROOT/systemd/checkpointd.demo.toml" >/dev/null 2>"$work/err"; rc=$?
[ "$rc" -eq 0 ] && ok "demo config is valid (exit 0)" || bad "demo config is valid" "exit $rc: $(cat "$work/err")"

"$D" --check-config --no-environment --config "$work/etc/checkpointd.toml" >/dev/null 2>&1; rc=$?
[ "$rc" -eq 0 ] && ok "--check-config without PATH checks --config" || bad "--check-config without PATH checks --config" "exit $rc"

# A fresh install: the installed config alone stops with exit 78 and ONE line naming what to set and where.
mkdir -p "$work/fresh/calibration"
cp "$ROOT/systemd/checkpointd.toml" "$work/fresh/checkpointd.toml"
cp "$ROOT"/calibration/*.toml "$work/fresh/calibration/"
F="$work/fresh/checkpointd.toml"
want="checkpointd: $F: not configured: set kiosk.checkpoint_id, kiosk.device_id, upload.endpoint in $F.d/50-site.toml (an example with every key: /usr/share/doc/checkpointd/examples/checkpointd.toml)"
"$D" --check-config "$F" >"$work/out" 2>"$work/err"; rc=$?
[ "$rc" -eq 78 ] && [ "$(cat "$work/err")" = "$want" ] && ok "unconfigured install: exit 78 and one line naming the keys and the drop-in" \
  || bad "unconfigured install" "exit $rc: $(cat "$work/err")"
timeout 20 "$D" --config "$F" >"$work/out" 2>"$work/err"; rc=$?
[ "$rc" -eq 78 ] && [ "$(cat "$work/err")" = "$want; not starting" ] && ok "the unconfigured daemon does not start: exit 78, one line" \
  || bad "unconfigured daemon" "exit $rc: $(cat "$work/err")"
# Site settings in a drop-in make it a working configuration; the drop-in's problems carry its own FILE:LINE.
mkdir -p "$F.d"
printf '[kiosk]\ncheckpoint_id = "tram-01"\ndevice_id = "kiosk-7"\n[upload]\nendpoint = "https://receiver.example.invalid/v1/records"\n' > "$F.d/50-site.toml"
"$D" --check-config --no-environment "$F" >"$work/out" 2>"$work/err"; rc=$?
[ "$rc" -eq 0 ] && grep -qF "with $F.d/50-site.toml" "$work/out" && ok "installed config + 50-site.toml drop-in is valid and says which files it read" \
  || bad "installed config + drop-in" "exit $rc: $(cat "$work/err" "$work/out")"
printf '[camera]\n\nwidth = 99999\n' > "$F.d/60-camera.toml"
printf '[camera]\nwidth = 800\n' > "$F.d/70-camera.toml.dpkg-dist"
"$D" --check-config "$F" >"$work/out" 2>"$work/err"; rc=$?
[ "$rc" -eq 78 ] && grep -qxF "$F.d/60-camera.toml:3: camera.width: 99999 is out of range (allowed: 160..1920 px)" "$work/err" \
  && ok "a drop-in's problem is reported as its own FILE:LINE (other extensions ignored)" || bad "drop-in problem" "exit $rc: $(cat "$work/err")"
printf '[camera]\nwidth = 800\n' > "$F.d/80-camera.toml"
"$D" --check-config --no-environment "$F" >"$work/out" 2>"$work/err"; rc=$?
[ "$rc" -eq 0 ] && ok "a later drop-in overrides an earlier one (name order)" || bad "drop-in order" "exit $rc: $(cat "$work/err")"
printf 't=[}\n' > "$F.d/90-typo.toml"
"$D" --check-config "$F" >"$work/out" 2>"$work/err"; rc=$?
[ "$rc" -eq 78 ] && grep -q "^$F.d/90-typo.toml: not valid TOML: the parser stopped" "$work/err" \
  && ok "a drop-in that crashes the TOML parser is parsed in a child and named (exit 78)" || bad "parser-crashing drop-in" "exit $rc: $(head -3 "$work/err")"
rm -f "$F.d/90-typo.toml"

# --print-config: the effective settings, each with where it comes from.
"$D" --print-config --config "$F" >"$work/out" 2>"$work/err"; rc=$?
[ "$rc" -eq 0 ] && grep -qxF "width = 800  # $F.d/80-camera.toml:2" "$work/out" && grep -qxF "height = 480  # default" "$work/out" \
  && grep -qxF "device_id = \"kiosk-7\"  # $F.d/50-site.toml:3" "$work/out" \
  && grep -qxF "calibration = \"$work/fresh/calibration/gy-mcu90640.toml\"  # $F:$(grep -n "^calibration" "$F" | cut -d: -f1)" "$work/out" \
  && ok "--print-config prints every effective value with its FILE:LINE or default" || bad "--print-config" "exit $rc: $(head -20 "$work/out") $(cat "$work/err")"

# The environment (default; --no-environment skips it): devices, face model, TLS files and expiry, socket group,
# checked for the service user. Here the service user is nobody, the camera /dev/null (a readable device).
E="$F.d/60-env.toml"; rm -f "$F.d/60-camera.toml"
mkdir -p "$work/tls" && (cd "$work/tls" && touch index.txt && echo 01 > serial && cat > ca.cnf <<CNF
[ca]
default_ca = d
[d]
database = $work/tls/index.txt
new_certs_dir = $work/tls
serial = $work/tls/serial
default_md = sha256
policy = p
[p]
commonName = supplied
CNF
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout expired.key -subj /CN=expired -out r.csr 2>/dev/null \
  && openssl ca -batch -config ca.cnf -selfsign -keyfile expired.key -in r.csr -startdate 20200101000000Z -enddate 20200201000000Z -out expired.pem >/dev/null 2>&1 \
  && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout soon.key -subj /CN=soon -days 10 -out soon.pem 2>/dev/null) \
  || bad "make test certificates" "openssl failed"
chmod 0644 "$work/tls"/*.pem; chmod 0600 "$work/tls/soon.key"; chmod 755 "$work" "$work/tls"
printf 'not the model' > "$work/model.onnx"; chmod 0644 "$work/model.onnx"
cat > "$E" <<TOML
[camera]
device = "/dev/null"
[thermal]
port = "$work/no-such-tty"
[detector]
model = "$work/model.onnx"
[api]
socket_group = "no-such-group-cpd"
[upload]
ca_file = "$work/tls/expired.pem"
client_cert = "$work/tls/soon.pem"
client_key = "$work/tls/soon.key"
TOML
"$D" --check-config --service-user nobody "$F" >"$work/out" 2>"$work/err"; rc=$?
expect_env() { grep -qxF -- "$2" "$work/err" && ok "$1" || bad "$1" "expected line: $2; got:"$'\n'"$(cat "$work/err")"; }
[ "$rc" -eq 78 ] && ok "environment problems: exit 78" || bad "environment problems: exit 78" "exit $rc"
expect_env "a missing serial device, at its FILE:LINE" "$E:4: thermal.port: $work/no-such-tty: No such file or directory"
grep -qF "$E:6: detector.model: face model at $work/model.onnx has sha256 " "$work/err" && grep -qF "expected 50ef07f702a31741ca46a4c0d947773b64143b9362780237bf0d427d6c79bab7" "$work/err" \
  && ok "a face model with the wrong sha256, at its FILE:LINE" || bad "model sha256" "$(cat "$work/err")"
expect_env "a missing socket group" "$E:8: api.socket_group: group \"no-such-group-cpd\" does not exist on this system (allowed: an existing group (getent group))"
grep -qE "^$E:10: upload.ca_file: certificate in $work/tls/expired.pem expired at 2020-02-01T00:00:00Z; uploads will fail" "$work/err" \
  && ok "an expired certificate is a problem" || bad "expired certificate" "$(cat "$work/err")"
grep -qE "^$E:11: upload.client_cert: warning: certificate in $work/tls/soon.pem expires in (9|10) days" "$work/err" \
  && ok "a certificate expiring within 30 days is a warning" || bad "expiring certificate warning" "$(cat "$work/err")"
expect_env "a key the service user cannot read" "$E:12: upload.client_key: $work/tls/soon.key is not readable by nobody (mode 600, owner root, group root)"
grep -q "camera.device" "$work/err" && bad "a readable device passes" "$(grep camera.device "$work/err")" || ok "a readable device passes"
"$D" --check-config --no-environment --service-user nobody "$F" >"$work/out" 2>"$work/err"; rc=$?
[ "$rc" -eq 0 ] && [ ! -s "$work/err" ] && ok "--no-environment checks the files only" || bad "--no-environment" "exit $rc: $(cat "$work/err")"
rm -f "$E"

# Planted problems; the line numbers below are the lines of this heredoc.
cat > "$work/etc/bad.toml" <<'EOF'
[kiosk]
checkpoint_id = "site-1"
[camera]
fsp = 15
buffers = 12
width = "640"
source = "usb"
[snapshot]
jpeg_quality = 150
[thermal]
model = "gy-mcu90640"
calibration = "calibration/broken.toml"
[upload]
endpoint = "http://uploads.example.org/v1"
EOF
sed 's/^emissivity = 0.98/emissivity = 0.5/' "$ROOT/calibration/gy-mcu90640.toml" > "$work/etc/calibration/broken.toml"
cal_line=$(grep -n '^emissivity = 0.5' "$work/etc/calibration/broken.toml" | cut -d: -f1)

"$D" --check-config "$work/etc/bad.toml" >"$work/out" 2>"$work/err"; rc=$?
[ "$rc" -eq 78 ] && ok "invalid config exits 78" || bad "invalid config exits 78" "exit $rc"
B="$work/etc/bad.toml"
expect_line() { # name, exact stderr line
  if grep -qxF -- "$2" "$work/err"; then ok "$1"; else bad "$1" "expected line: $2; got:"$'\n'"$(cat "$work/err")"; fi
}
expect_line "missing key at its table header" "$B:1: kiosk.device_id: missing required key (allowed: 1..64 of A-Z a-z 0-9 . _ -)"
expect_line "typo'd key with did-you-mean" "$B:4: camera.fsp: unknown key; did you mean \"fps\"? (allowed: source, device, replay_path, replay_fps, formats, width, height, fps, buffers, frame_timeout_ms, [controls])"
expect_line "out of range" "$B:5: camera.buffers: 12 is out of range (allowed: 2..8 buffers)"
expect_line "wrong type" "$B:6: camera.width: expected an integer, found string \"640\" (allowed: 160..1920 px)"
expect_line "bad enum" "$B:7: camera.source: \"usb\" is not a known value (allowed: \"v4l2\", \"replay\")"
expect_line "second out of range" "$B:9: snapshot.jpeg_quality: 150 is out of range (allowed: 1..100 percent)"
expect_line "insecure endpoint" "$B:14: upload.endpoint: endpoint http://uploads.example.org/v1 is plain http://, which sends health data unencrypted; refused unless insecure http is allowed (allow_insecure_http = true; checkpointctl: --allow-insecure-http) (allowed: an https:// URL (http:// only to a loopback host, with allow_insecure_http = true))"
expect_line "calibration file problem with its own file and line" \
  "$work/etc/calibration/broken.toml:$cal_line: sensor.emissivity: 0.5 is out of range (allowed: 0.9..1 ratio)"
n=$(grep -c "^$work/etc/" "$work/err")
[ "$n" -eq 8 ] && ok "all 8 problems in one run" || bad "all 8 problems in one run" "$n lines"
[ ! -s "$work/out" ] && ok "problems go to stderr only" || bad "problems go to stderr only" "$(cat "$work/out")"
lines=$(grep "^$B:" "$work/err" | cut -d: -f2 | tr '\n' ' ')
[ "$lines" = "$(grep "^$B:" "$work/err" | cut -d: -f2 | sort -n | tr '\n' ' ')" ] && ok "sorted by line" || bad "sorted by line" "$lines"

# Syntax error in a separate file: its line.
printf '[kiosk]\ncheckpoint_id = "a"\ndevice_id = = "b"\n' > "$work/syntax.toml"
"$D" --check-config "$work/syntax.toml" >/dev/null 2>"$work/err"; rc=$?
[ "$rc" -eq 78 ] && grep -q "^$work/syntax.toml:3: TOML syntax error" "$work/err" \
  && ok "syntax error with its line" || bad "syntax error with its line" "exit $rc: $(cat "$work/err")"

# Unreadable files.
"$D" --check-config "$work/nope.toml" >/dev/null 2>"$work/err"; rc=$?
[ "$rc" -eq 78 ] && grep -qxF "$work/nope.toml: cannot read: No such file or directory" "$work/err" \
  && ok "missing file: cannot read" || bad "missing file: cannot read" "exit $rc: $(cat "$work/err")"
if [ "$(id -u)" -ne 0 ]; then
  cp "$work/etc/checkpointd.toml" "$work/secret.toml"; chmod 000 "$work/secret.toml"
  "$D" --check-config "$work/secret.toml" >/dev/null 2>"$work/err"; rc=$?
  [ "$rc" -eq 78 ] && grep -qxF "$work/secret.toml: cannot read: Permission denied" "$work/err" \
    && ok "unreadable file: permission denied" || bad "unreadable file: permission denied" "exit $rc: $(cat "$work/err")"
fi

# The daemon itself refuses to start on the invalid config, with the same messages.
"$D" --config "$work/etc/bad.toml" >"$work/out" 2>"$work/err2"; rc=$?
"$D" --check-config "$work/etc/bad.toml" >/dev/null 2>"$work/err"
[ "$rc" -eq 78 ] && ok "daemon refuses an invalid config (exit 78)" || bad "daemon refuses an invalid config" "exit $rc"
diff <(grep "^$work/etc/" "$work/err") <(grep "^$work/etc/" "$work/err2") >/dev/null \
  && ok "daemon prints the same messages" || bad "daemon prints the same messages" "$(diff "$work/err" "$work/err2")"
grep -q "not starting" "$work/err2" && ok "daemon says it is not starting" || bad "daemon says it is not starting" "$(cat "$work/err2")"
# (Starting on a valid config runs the pipeline; that is covered by the daemon's own tests and the demo.)
"$D" --print-reference >"$work/out" 2>&1; rc=$?
[ "$rc" -eq 0 ] && grep -q '^### \[thermal\]' "$work/out" && grep -q '^### \[fit\]' "$work/out" \
  && ok "--print-reference lists config and calibration keys" || bad "--print-reference" "exit $rc"

"$D" --version >"$work/out" 2>&1; rc=$?
[ "$rc" -eq 0 ] && grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+' "$work/out" && ok "--version" || bad "--version" "exit $rc: $(cat "$work/out")"
# Files on which toml++ aborts (an assertion; found by fuzzing) are reported, not fatal: the parse runs in a
# child first. Exit 78 and a message naming the file, for check-config and for a start.
for t in 't=[}' '_=2121-11-20T:'; do
  printf '%s\n' "$t" > "$work/crash.toml"
  "$D" --check-config "$work/crash.toml" >/dev/null 2>"$work/err"; rc=$?
  [ "$rc" -eq 78 ] && grep -q "crash.toml: not valid TOML" "$work/err" && ok "parser-crashing file '$t' is reported (exit 78)" \
    || bad "parser-crashing file '$t' is reported" "exit $rc: $(head -3 "$work/err")"
done
timeout 20 "$D" --config "$work/crash.toml" >/dev/null 2>"$work/err"; rc=$?
[ "$rc" -eq 78 ] && grep -q "not starting" "$work/err" && ok "the daemon refuses a parser-crashing file with 78, no crash" \
  || bad "the daemon refuses a parser-crashing file" "exit $rc: $(head -3 "$work/err")"
exit $((fails > 0))
