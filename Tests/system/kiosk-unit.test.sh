#!/usr/bin/env bash
# The optional kiosk-screen session (systemd/checkpoint-kiosk.service): `systemd-analyze verify`, it runs cage and
# Chromium as the unprivileged user checkpoint-kiosk on a loopback URL with the kiosk flags, its sysusers file
# parses and creates that user (into a scratch root, never this machine), and `make install` lays out the unit, the
# sysusers file and /etc/default/checkpoint-kiosk without enabling anything and keeps an edited default file.
# Whether cage + Chromium really show the page is not checked here (no display; see README "The kiosk screen").
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
UNIT=$ROOT/systemd/checkpoint-kiosk.service
SYSUSERS=$ROOT/systemd/checkpoint-kiosk.sysusers
DEFAULTS=$ROOT/systemd/checkpoint-kiosk.default
fails=0
ok()  { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# verify needs ExecStart's program to exist (cage need not be installed here): point it at true(1).
sed "s#^ExecStart=/usr/bin/cage#ExecStart=$(command -v true)#" "$UNIT" > "$tmp/checkpoint-kiosk.service"
grep -q "^ExecStart=$(command -v true) " "$tmp/checkpoint-kiosk.service" || bad "ExecStart runs /usr/bin/cage" "$(grep '^ExecStart=' "$UNIT")"
if out=$(systemd-analyze verify "$tmp/checkpoint-kiosk.service" 2>&1); then ok "unit verifies"; else bad "unit verifies" "$out"; fi

# The effective command line (continuation lines joined).
cmd=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$UNIT" | sed -n 's/^ExecStart=//p')
[[ "$cmd" == "/usr/bin/cage "*" -- /usr/bin/chromium "* ]] && ok "cage runs chromium" || bad "cage runs chromium" "$cmd"
for flag in --kiosk --ozone-platform=wayland --disable-features=Translate \
            --autoplay-policy=no-user-gesture-required --no-first-run --noerrdialogs --incognito --disable-pinch \
            --overscroll-history-navigation=0 --lang=vi '--force-device-scale-factor=${KIOSK_SCALE}'; do
  [[ " $cmd " == *" $flag "* ]] && ok "chromium $flag" || bad "chromium $flag" "missing in: $cmd"
done
# The page as a plain last argument: with --kiosk, --app= makes Chromium 156 under cage exit after ~1.5 s.
[[ "$cmd" == *' ${KIOSK_URL}' ]] && ok "chromium opens \${KIOSK_URL}" || bad "chromium opens \${KIOSK_URL}" "not the last argument: $cmd"
[[ "$cmd" != *--app=* ]] && ok "no --app= next to --kiosk" || bad "no --app=" "present (Chromium exits under cage): $cmd"

user=$(sed -n 's/^User=//p' "$UNIT")
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] && ok "runs as $user, not root" || bad "runs as non-root" "User='$user'"
for d in 'PAMName=login' 'TTYPath=/dev/tty1' 'StandardInput=tty' 'UtmpIdentifier=tty1' 'Conflicts=getty@tty1.service' \
         'Restart=always' 'NoNewPrivileges=yes' 'EnvironmentFile=-/etc/default/checkpoint-kiosk'; do
  grep -q "^$d" "$UNIT" && ok "has $d" || bad "has $d" "missing"
done
grep -q '^After=.*checkpointd.service' "$UNIT" && ok "after checkpointd.service" || bad "after checkpointd.service" "missing"
# Chromium's sandbox needs user namespaces and V8 needs W+X memory: these would break the screen.
for d in RestrictNamespaces=yes MemoryDenyWriteExecute=yes PrivateUsers=yes ProtectHome=yes PrivateDevices=yes; do
  grep -q "^$d" "$UNIT" && bad "no $d" "present (breaks Chromium's sandbox, V8, the Wayland socket or the devices)" || ok "no $d"
done

# The URL: the unit's default and the shipped /etc/default file, both loopback and the same.
u1=$(sed -n 's/^Environment=KIOSK_URL=//p' "$UNIT"); u2=$(sed -n 's/^KIOSK_URL=//p' "$DEFAULTS")
loop() { [[ "$1" =~ ^http://(127\.0\.0\.1|localhost):[0-9]+/ui/$ ]]; }
loop "$u1" && loop "$u2" && [ "$u1" = "$u2" ] && ok "URL is loopback: $u1" || bad "URL is loopback" "unit '$u1', default file '$u2'"
# The panel's scale (touch targets ≥ 15 mm): a positive number, the same default in the unit and the shipped file,
# and the file states the density rule the browser test checks (≤ 108 CSS px per inch).
s1=$(sed -n 's/^Environment=KIOSK_SCALE=//p' "$UNIT"); s2=$(sed -n 's/^KIOSK_SCALE=//p' "$DEFAULTS")
[[ "$s1" =~ ^[0-9]+(\.[0-9]+)?$ ]] && [ "$s1" = "$s2" ] && awk -v s="$s1" 'BEGIN { exit !(s > 0) }' \
  && ok "KIOSK_SCALE default $s1 in the unit and the default file" || bad "KIOSK_SCALE" "unit '$s1', default file '$s2'"
grep -q '108' "$DEFAULTS" && grep -q 'ppi' "$DEFAULTS" && grep -q '15 mm' "$DEFAULTS" \
  && ok "the default file states the density rule" || bad "density rule" "not stated in $DEFAULTS"
grep -q '^KIOSK_CSS_PPI_MAX = 108' "$ROOT/Tests/system/kiosk/browser.py" && ok "the browser check uses the same 108 CSS px/in" \
  || bad "the browser check's density" "browser.py does not say KIOSK_CSS_PPI_MAX = 108"
# The daemon's Host check admits 127.0.0.1:<port> and localhost:<port> only; the demo config uses that port.
port=${u1#http://*:}; port=${port%%/*}
grep -q "^tcp_port = $port\$" "$ROOT/systemd/checkpointd.demo.toml" && ok "the demo config's tcp_port is $port" \
  || bad "port $port" "not the demo config's tcp_port"

# sysusers: parses and creates the user with its groups, in a scratch root.
mkdir -p "$tmp/root/etc" "$tmp/root/usr/lib/sysusers.d"
cp "$SYSUSERS" "$tmp/root/usr/lib/sysusers.d/checkpoint-kiosk.conf"
if out=$(systemd-sysusers --root="$tmp/root" checkpoint-kiosk.conf 2>&1); then
  pw=$(grep "^$user:" "$tmp/root/etc/passwd")
  grp=$(for g in video render input audio; do grep -q "^$g:[^:]*:[0-9]*:\(.*,\)\?$user\(,.*\)\?$" "$tmp/root/etc/group" && echo -n "$g "; done)
  [[ "$pw" == *:/usr/sbin/nologin ]] && [ "$(echo "$pw" | cut -d: -f3)" -lt 1000 ] && [ "$grp" = "video render input audio " ] \
    && ok "sysusers: $pw; groups $grp" || bad "sysusers creates $user" "passwd '$pw', groups '$grp'"
else bad "sysusers file parses" "$out"; fi

# make install: the three files, nothing enabled, an edited default file kept.
dest=$tmp/dest
make -s -C "$ROOT" install DESTDIR="$dest" BINDIR_REL="${BIN:-/nonexistent}" SHARED="${SHARED:-}" >/dev/null 2>"$tmp/make.err" \
  || bad "make install" "$(tail -3 "$tmp/make.err")"
for f in lib/systemd/system/checkpoint-kiosk.service usr/lib/sysusers.d/checkpoint-kiosk.conf etc/default/checkpoint-kiosk; do
  [ -f "$dest/$f" ] && ok "installs $f" || bad "installs $f" "missing"
done
cmp -s "$UNIT" "$dest/lib/systemd/system/checkpoint-kiosk.service" && cmp -s "$SYSUSERS" "$dest/usr/lib/sysusers.d/checkpoint-kiosk.conf" \
  && ok "installed unit and sysusers file are the tree's" || bad "installed files" "differ from the tree"
en=$(find "$dest" \( -name '*.wants' -o -name '*.requires' \) 2>/dev/null; find "$dest" -type l 2>/dev/null)
[ -z "$en" ] && ok "nothing enabled (no .wants links)" || bad "nothing enabled" "$en"
echo "KIOSK_URL=http://127.0.0.1:9000/ui/  # edited" > "$dest/etc/default/checkpoint-kiosk"
make -s -C "$ROOT" install DESTDIR="$dest" BINDIR_REL="${BIN:-/nonexistent}" SHARED="${SHARED:-}" >/dev/null 2>&1
grep -q "# edited" "$dest/etc/default/checkpoint-kiosk" && ok "keeps an edited /etc/default/checkpoint-kiosk" \
  || bad "keeps an edited /etc/default/checkpoint-kiosk" "overwritten"
exit $((fails > 0))
