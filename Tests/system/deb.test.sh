#!/usr/bin/env bash
# `make deb` builds a package that installs on Debian 12 and runs without a Swift toolchain.
# On this machine: the package's control fields, conffiles, maintainer scripts and contents (dpkg-deb), and
# binaries with no Swift shared library. Then in a QEMU/TCG VM booting this machine's userspace with systemd as
# PID 1 and /opt/swift hidden (systemd/guest-deb.sh): dpkg -i, the user and its groups, enablement, a start
# after writing a config, a reinstall over an edited config, dpkg -r and dpkg -P.
# The static release build behind `make deb` takes ~8-10 min on 2 cores the first time; DEB=path skips it
# and tests that package instead. DEB_SCRATCH / DEB_DIR are passed to make (default .build/deb-build, .build/deb).
set -uo pipefail
: "${BIN:?BIN must point at the built binaries}"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
fails=0
ok()  { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
out=$(mktemp -d /tmp/deb-test.XXXXXX)
# KEEP_WORK=1 (or VM_KEEP=1) keeps the package checks' and the guest's logs (printed path).
export KEEP_WORK=${KEEP_WORK:-${VM_KEEP:-}}
if [ -n "$KEEP_WORK" ]; then echo "  info: output kept in $out"; else trap 'rm -rf "$out"' EXIT; fi

if [ -z "${DEB:-}" ]; then
  t0=$(date +%s)
  if make -s -C "$ROOT" deb > "$out/make-deb.log" 2>&1; then
    DEB=$(sed -n 's/^built //p' "$out/make-deb.log" | tail -1)
    case $DEB in /*) ;; *) DEB=$ROOT/$DEB ;; esac
    ok "make deb ($(( $(date +%s) - t0 )) s): $(basename "$DEB"), $(( $(stat -c %s "$DEB") / 1048576 )) MiB"
  else
    bad "make deb" "$(grep -v '^\s*$' "$out/make-deb.log" | tail -8 | tr '\n' ';')"; exit 1
  fi
fi
[ -f "$DEB" ] || { bad "deb package" "$DEB does not exist"; exit 1; }

# --- The package as dpkg-deb sees it --------------------------------------------------------------------------
f() { dpkg-deb -f "$DEB" "$1"; }
[ "$(f Package)" = checkpointd ] && [ "$(f Architecture)" = "$(dpkg --print-architecture)" ] && [ -n "$(f Version)" ] \
  && ok "control: $(f Package) $(f Version) $(f Architecture), Installed-Size $(f Installed-Size) KiB" \
  || bad "control fields" "$(dpkg-deb -f "$DEB" | tr '\n' ';')"
dep=$(f Depends)
missing=""; for d in libc6 libopencv-core libopencv-objdetect libturbojpeg0 libpng16-16 libzxing2 libcurl4 libsqlite3-0 adduser; do
  [[ ", $dep" == *", $d"* ]] || missing="$missing $d"; done
# and nothing the daemon does not use (OpenCV's imgcodecs drags in GDAL; libv4l2 is not used: raw ioctls)
for d in libopencv-imgcodecs libv4l-0; do [[ ", $dep" == *", $d"* ]] && missing="$missing (unwanted: $d)"; done
[ -z "$missing" ] && [[ "$dep" != *swift* ]] && ok "Depends from dpkg-shlibdeps: $dep" || bad "Depends" "missing$missing in '$dep'"
dpkg-deb -e "$DEB" "$out/ctrl"
ctrl=$(ls "$out/ctrl" | tr '\n' ' ')
lackc=""; for m in control conffiles md5sums postinst prerm postrm; do [ -f "$out/ctrl/$m" ] || lackc="$lackc $m"; done
[ -z "$lackc" ] && ok "control members: $ctrl" || bad "control members" "missing$lackc (have: $ctrl)"
conf=$(cat "$out/ctrl/conffiles" 2>/dev/null)
grep -qx /etc/checkpointd/checkpointd.toml <<< "$conf" && grep -q '^/etc/checkpointd/calibration/.*\.toml$' <<< "$conf" \
  && grep -qx /etc/default/checkpoint-kiosk <<< "$conf" \
  && ok "conffiles: $(echo $conf)" || bad "conffiles" "'$conf'"
cont=$(dpkg-deb -c "$DEB" | awk '{ print $6 }')
lack=""; for p in ./usr/bin/checkpointd ./usr/bin/checkpointctl ./usr/bin/checkpoint-receiver ./lib/systemd/system/checkpointd.service \
                  ./lib/udev/rules.d/70-checkpointd.rules ./etc/checkpointd/checkpointd.toml ./usr/share/doc/checkpointd/README.md \
                  ./lib/systemd/system/checkpoint-kiosk.service ./usr/lib/sysusers.d/checkpoint-kiosk.conf ./etc/default/checkpoint-kiosk \
                  ./usr/share/checkpointd/ui/index.html; do
  grep -qx -- "$p" <<< "$cont" || lack="$lack $p"; done
[ -z "$lack" ] && ok "contents: binaries, units, udev rules, config, README, kiosk screen and its session" || bad "contents" "missing$lack"
[[ "$(f Suggests)" == *cage* && "$(f Suggests)" == *chromium* ]] && ok "Suggests: $(f Suggests)" || bad "Suggests cage and chromium" "'$(f Suggests)'"
# The kiosk screen's Vietnamese glyphs: the font comes with a default install (Recommends), not only on request.
[[ "$(f Recommends)" == *fonts-noto-core* && "$(f Suggests)" != *fonts-noto-core* ]] && ok "Recommends: $(f Recommends)" \
  || bad "Recommends fonts-noto-core" "Recommends '$(f Recommends)', Suggests '$(f Suggests)'"
owners=$(dpkg-deb -c "$DEB" | awk '{ print $2 }' | sort -u | tr '\n' ' ')
[ "$owners" = "root/root " ] && ok "all files root/root" || bad "file owners" "$owners"
mkdir -p "$out/x" && dpkg-deb -x "$DEB" "$out/x"
for b in checkpointd checkpointctl checkpoint-receiver; do
  dyn=$(readelf -d "$out/x/usr/bin/$b" | grep -E 'NEEDED|RPATH|RUNPATH' | grep -iE 'swift|Foundation|dispatch|BlocksRuntime' | tr -s ' ' | tr '\n' ';')
  [ -z "$dyn" ] && ok "$b links the Swift runtime statically ($(( $(stat -c %s "$out/x/usr/bin/$b") / 1048576 )) MiB)" || bad "$b static Swift runtime" "$dyn"
done

# --- Installed on Debian 12 with systemd as PID 1 (VM) ------------------------------------------------------------
start=$(date +%s); mkdir -p "$out/vm-run"
REPO=$ROOT DEB=$(readlink -f "$DEB") VM_PASS_ENV="REPO DEB VM_WAIT" \
  bash "$HERE/systemd/vm-with-sensor.sh" "$HERE/systemd/guest-deb.sh" "$out/vm-run" > "$out/vm-run/vm.log" 2>&1
rc=$?
bash "$HERE/systemd/report.sh" deb-vm "$out/vm-run" "$rc" "$start" || fails=$((fails + 1))
[ "$fails" -eq 0 ]
