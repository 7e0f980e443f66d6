#!/usr/bin/env bash
# `make deb` builds, with debhelper (debian/), the packages checkpointd and checkpoint-receiver; they install on
# Debian 12 and run without a Swift toolchain.
# On this machine: lintian (no error; every warning fixed or overridden with a comment), the control fields,
# conffiles, maintainer scripts and contents (dpkg-deb), the man pages and completions, and binaries with no Swift
# shared library. Then in a QEMU/TCG VM booting this machine's userspace with systemd as PID 1 and /opt/swift hidden
# (systemd/guest-deb.sh): dpkg -i with no site settings (exit 78 and the one line saying what to set), the model
# installed with checkpointctl, the site settings in a drop-in, a start, a reinstall, dpkg -r, and dpkg -P keeping a
# queue that holds declarations not uploaded (then, emptied, removing it).
# The packages are built with DEB_BUILD_OPTIONS="noopt noautodbgsym" in .build (DEB_SCRATCH), where `make test` has
# just made its debug build: dpkg-buildpackage then only relinks the three programs with the Swift runtime inside
# (~1 min) instead of a static release build (~25 min on CI's 2 cores), and makes no -dbgsym packages; dpkg-deb
# compresses with gzip -1 (DPKG_DEB_COMPRESSOR_TYPE/LEVEL): xz took 2.5 min on the debug binaries' 260 MiB, and the
# emulated guest unpacks gzip faster. Everything else is `make deb`'s: debian/rules, make install, debhelper.
# DEB_BUILD_OPTIONS= DEB_SCRATCH=.build/deb-build tests the release packages `make deb` builds; DEB=path
# (checkpointd_*.deb, with checkpoint-receiver_*.deb beside it) skips the build and tests those packages instead.
# DEB_SCRATCH / DEB_DIR are passed to make (.build/deb-build and .build/deb by default there).
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
  export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-noopt noautodbgsym} DEB_SCRATCH=${DEB_SCRATCH:-.build}
  export DPKG_DEB_COMPRESSOR_TYPE=${DPKG_DEB_COMPRESSOR_TYPE:-gzip} DPKG_DEB_COMPRESSOR_LEVEL=${DPKG_DEB_COMPRESSOR_LEVEL:-1}
  # In .build, the static link must find every object compiled for the shared runtime, as `make test` leaves them
  # (a module compiled first by the static build would keep its static library names and break the next plain
  # `swift build`): build first (nothing to do after `make test`), and afterwards relink the plain binaries, so
  # the tree and BIN are as they were (SwiftPM recompiles Hummingbird's three modules at each switch, ~1 min).
  same_tree=""; [[ " $DEB_BUILD_OPTIONS " == *" noopt "* && $DEB_SCRATCH == .build ]] && same_tree=1
  swift_build() { (cd "$ROOT" && ${SWIFT:-swift} build) >> "$out/make-deb.log" 2>&1 || bad "swift build in $ROOT ($1)" "$(grep -E 'error' "$out/make-deb.log" | tail -3 | tr '\n' ';')"; }
  [ -n "$same_tree" ] && swift_build "before the package"
  if make -s -C "$ROOT" deb >> "$out/make-deb.log" 2>&1; then
    DEB=$(sed -n 's/^built \(.*checkpointd_.*\.deb\)$/\1/p' "$out/make-deb.log" | tail -1)
    case $DEB in /*) ;; *) DEB=$ROOT/$DEB ;; esac
    ok "make deb ($(( $(date +%s) - t0 )) s, DEB_BUILD_OPTIONS='$DEB_BUILD_OPTIONS' in $DEB_SCRATCH): $(basename "$DEB"), $(( $(stat -c %s "$DEB") / 1048576 )) MiB"
  else
    bad "make deb" "$(grep -v '^\s*$' "$out/make-deb.log" | tail -8 | tr '\n' ';')"; exit 1
  fi
  if [ -n "$same_tree" ]; then
    swift_build "after the package"
    dyn=$(ldd "$ROOT/.build/debug/checkpointd" 2>&1 | grep -c libswiftCore)
    [ "$dyn" = 1 ] && ok "the tree's own build is as before: .build/debug/checkpointd links the shared Swift runtime again" \
      || bad "the tree's own build after the package" "ldd .build/debug/checkpointd: $dyn libswiftCore"
  fi
fi
[ -f "$DEB" ] || { bad "deb package" "$DEB does not exist"; exit 1; }
RDEB=$(dirname "$DEB")/$(basename "$DEB" | sed 's/^checkpointd_/checkpoint-receiver_/')
[ -f "$RDEB" ] || { bad "receiver package" "$RDEB does not exist"; exit 1; }

# --- lintian: no error; a warning is either fixed or overridden (debian/*.lintian-overrides) with its reason -------
lintian --fail-on error,warning --display-level '>=warning' --show-overrides "$DEB" "$RDEB" > "$out/lintian.txt" 2>&1; rc=$?
shown=$(grep -E '^[EW]: ' "$out/lintian.txt" | tr '\n' ';')
overridden=$(grep -c '^O: ' "$out/lintian.txt")
[ $rc = 0 ] && [ -z "$shown" ] && ok "lintian: no errors or warnings ($overridden overridden, see debian/*.lintian-overrides)" \
  || bad "lintian" "rc=$rc: ${shown:-$(tail -5 "$out/lintian.txt" | tr '\n' ';')}"
nocomment=""
for f in "$ROOT"/debian/*.lintian-overrides; do
  [ -f "$f" ] || continue
  nocomment+=$(awk -v f="$(basename "$f")" '/^[^#[:space:]]/ && prev !~ /^#/ { printf "%s: %s; ", f, $0 } { prev = $0 }' "$f")
done
[ -z "$nocomment" ] && ok "every lintian override says why (a comment above it)" || bad "lintian overrides without a reason" "$nocomment"

# --- The packages as dpkg-deb sees them ---------------------------------------------------------------------------
f() { dpkg-deb -f "$DEB" "$1"; }
mkdir -p "$out/x" "$out/rx" && dpkg-deb -x "$DEB" "$out/x" && dpkg-deb -x "$RDEB" "$out/rx"
v=$("$out/x/usr/bin/checkpointd" --version 2>&1)
[ "$(f Package)" = checkpointd ] && [ "$(f Architecture)" = "$(dpkg --print-architecture)" ] && [ "$(f Version)" = "$v" ] \
  && [ "$(dpkg-deb -f "$RDEB" Package)" = checkpoint-receiver ] \
  && ok "control: $(f Package) $(f Version) $(f Architecture) (checkpointd --version $v), Installed-Size $(f Installed-Size) KiB; $(dpkg-deb -f "$RDEB" Package) $(dpkg-deb -f "$RDEB" Installed-Size) KiB" \
  || bad "control fields" "$(dpkg-deb -f "$DEB" | head -6 | tr '\n' ';') --version '$v'"
dep=$(f Depends)
missing=""; for d in libc6 libopencv-core libopencv-objdetect libturbojpeg0 libpng16-16 libzxing2 libcurl4 libsqlite3-0; do
  [[ ", $dep" == *", $d"* ]] || missing="$missing $d"; done
# and nothing the daemon does not use (OpenCV's imgcodecs drags in GDAL; libv4l2 is not used: raw ioctls)
for d in libopencv-imgcodecs libv4l-0; do [[ ", $dep" == *", $d"* ]] && missing="$missing (unwanted: $d)"; done
[ -z "$missing" ] && [[ "$dep" != *swift* ]] && ok "Depends from dh_shlibdeps: $dep" || bad "Depends" "missing$missing in '$dep'"
rdep=$(dpkg-deb -f "$RDEB" Depends)
[[ "$rdep" == *libc6* && "$rdep" != *swift* && "$rdep" != *checkpointd* ]] && ok "checkpoint-receiver Depends: $rdep" || bad "checkpoint-receiver Depends" "'$rdep'"
dpkg-deb -e "$DEB" "$out/ctrl"
ctrl=$(ls "$out/ctrl" | tr '\n' ' ')
lackc=""; for m in control conffiles md5sums postinst prerm postrm; do [ -f "$out/ctrl/$m" ] || lackc="$lackc $m"; done
[ -z "$lackc" ] && ok "control members: $ctrl" || bad "control members" "missing$lackc (have: $ctrl)"
# The maintainer scripts are debhelper's: sysusers, the unit (enabled, started; the kiosk screen's unit neither).
grep -q 'systemd-sysusers' "$out/ctrl/postinst" && grep -q "deb-systemd-helper.*enable 'checkpointd.service'" "$out/ctrl/postinst" \
  && grep -q "if deb-systemd-helper debian-installed 'checkpoint-kiosk.service'; then" "$out/ctrl/postinst" && grep -q 'Automatically added by dh_installsystemd' "$out/ctrl/postinst" \
  && ok "postinst from debhelper: systemd-sysusers, checkpointd.service enabled, checkpoint-kiosk.service only if it was (--no-enable)" \
  || bad "postinst" "$(grep -E 'sysusers|deb-systemd' "$out/ctrl/postinst" | tr '\n' ';')"
conf=$(sort "$out/ctrl/conffiles" 2>/dev/null | tr '\n' ' ')
[ "$conf" = "/etc/checkpointd/checkpointd.toml /etc/default/checkpoint-kiosk " ] \
  && ok "conffiles: $conf(the examples are not: they are in /usr/share/doc)" || bad "conffiles" "'$conf'"
cont=$(dpkg-deb -c "$DEB" | awk '{ print $6 }')
lack=""
for p in ./usr/bin/checkpointd ./usr/bin/checkpointctl ./lib/systemd/system/checkpointd.service \
         ./lib/udev/rules.d/70-checkpointd.rules ./etc/checkpointd/checkpointd.toml ./usr/share/doc/checkpointd/README.md \
         ./lib/systemd/system/checkpoint-kiosk.service ./usr/lib/sysusers.d/checkpointd.conf ./usr/lib/sysusers.d/checkpoint-kiosk.conf \
         ./etc/default/checkpoint-kiosk ./usr/share/checkpointd/ui/index.html \
         ./etc/checkpointd/checkpointd.toml.d/ ./etc/checkpointd/calibration/ ./usr/share/checkpointd/models/ \
         ./usr/share/doc/checkpointd/examples/gy-mcu90640.toml ./usr/share/doc/checkpointd/examples/single-point.toml; do
  grep -qx -- "$p" <<< "$cont" || lack="$lack $p"; done
[ -z "$lack" ] && ok "checkpointd contents: binaries, units, udev rules, sysusers, config, empty drop-in and calibration directories, examples, kiosk screen" \
  || bad "checkpointd contents" "missing$lack"
if [ -f "$ROOT/examples/checkpointd.toml" ]; then
  grep -qx ./usr/share/doc/checkpointd/examples/checkpointd.toml <<< "$cont" && ok "the documented example config is in /usr/share/doc/checkpointd/examples/" \
    || bad "example config" "examples/checkpointd.toml is not in the package"
fi
extra=$(grep -E '^\./etc/checkpointd/.+[^/]$' <<< "$cont" | grep -vx ./etc/checkpointd/checkpointd.toml | tr '\n' ' ')
[ -z "$extra" ] && ok "nothing under /etc/checkpointd but checkpointd.toml (no live example calibration)" || bad "files under /etc/checkpointd" "$extra"
unwanted=$(grep -E 'checkpoint-receiver|\.onnx$|LICENSE-yunet' <<< "$cont" | tr '\n' ' ')
[ -z "$unwanted" ] && ok "no receiver and no face model in checkpointd (nothing from ../shared)" || bad "checkpointd holds" "$unwanted"
rcont=$(dpkg-deb -c "$RDEB" | awk '{ print $6 }')
grep -qx ./usr/bin/checkpoint-receiver <<< "$rcont" && ! grep -qE 'checkpointd\.service|bin/checkpointd$|bin/checkpointctl' <<< "$rcont" \
  && ok "checkpoint-receiver holds the receiver only: $(grep -E 'bin/|man1/' <<< "$rcont" | tr '\n' ' ')" || bad "checkpoint-receiver contents" "$(tr '\n' ' ' <<< "$rcont")"
runit=""; for f in ./lib/systemd/system/checkpoint-receiver.service ./usr/lib/sysusers.d/checkpoint-receiver.conf ./etc/default/checkpoint-receiver; do
  grep -qx "$f" <<< "$rcont" || runit="$runit $f"; done
[ -z "$runit" ] && ok "checkpoint-receiver ships its unit, its user and /etc/default/checkpoint-receiver" || bad "checkpoint-receiver unit files" "missing$runit"

# Man pages and completions: generated at build time from the argument parsers, for all three programs.
lackm=""
for p in checkpointd checkpointctl checkpoint-receiver; do
  x=$out/x; [ $p = checkpoint-receiver ] && x=$out/rx
  for g in usr/share/man/man1/$p.1.gz usr/share/bash-completion/completions/$p usr/share/zsh/vendor-completions/_$p \
           usr/share/fish/vendor_completions.d/$p.fish; do [ -s "$x/$g" ] || lackm="$lackm $g"; done
done
[ -z "$lackm" ] && ok "man pages and bash, zsh and fish completions for the three programs" || bad "man pages and completions" "missing$lackm"
page=$(MANWIDTH=100 man -l "$out/x/usr/share/man/man1/checkpointctl.1.gz" 2> "$out/man.err" | col -b)
grep -q '^NAME' <<< "$page" && grep -q "Check a downloaded YuNet 2022mar model's sha256" <<< "$page" && [ ! -s "$out/man.err" ] \
  && ok "man checkpointctl renders with no warning and documents 'model install' ($(wc -l <<< "$page") lines)" \
  || bad "man checkpointctl" "$(head -3 "$out/man.err" | tr '\n' ';') $(grep -c model <<< "$page") lines name model"
dpage=$(MANWIDTH=100 man -l "$out/x/usr/share/man/man1/checkpointd.1.gz" 2>&1 | col -b)
grep -q -- '--check-config' <<< "$dpage" && ok "man checkpointd documents --check-config" || bad "man checkpointd" "$(head -5 <<< "$dpage" | tr '\n' ';')"
cat > "$out/comp.sh" <<'SH'
. "$1"
fn=$(complete -p checkpointctl | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
COMP_WORDS=(checkpointctl mo); COMP_CWORD=1; COMP_LINE='checkpointctl mo'; COMP_POINT=${#COMP_LINE}
"$fn" checkpointctl mo checkpointctl
printf '%s\n' "${COMPREPLY[@]}"
SH
bash "$out/comp.sh" "$out/x/usr/share/bash-completion/completions/checkpointctl" > "$out/comp.txt" 2>&1
grep -qx model "$out/comp.txt" && ok "bash completion: 'checkpointctl mo<TAB>' offers model" || bad "bash completion" "$(head -3 "$out/comp.txt" | tr '\n' ';')"
head -1 "$out/x/usr/share/zsh/vendor-completions/_checkpointctl" | grep -q '^#compdef checkpointctl' \
  && grep -q "complete -c '\\?checkpointctl" "$out/x/usr/share/fish/vendor_completions.d/checkpointctl.fish" \
  && ok "zsh (#compdef) and fish (complete -c) completion scripts" || bad "zsh/fish completion" "unexpected content"

[[ "$(f Suggests)" == *cage* && "$(f Suggests)" == *chromium* ]] && ok "Suggests: $(f Suggests)" || bad "Suggests cage and chromium" "'$(f Suggests)'"
# The kiosk screen's Vietnamese glyphs: the font comes with a default install (Recommends), not only on request.
[[ "$(f Recommends)" == *fonts-noto-core* && "$(f Suggests)" != *fonts-noto-core* ]] && ok "Recommends: $(f Recommends)" \
  || bad "Recommends fonts-noto-core" "Recommends '$(f Recommends)', Suggests '$(f Suggests)'"
owners=$( (dpkg-deb -c "$DEB"; dpkg-deb -c "$RDEB") | awk '{ print $2 }' | sort -u | tr '\n' ' ')
[ "$owners" = "root/root " ] && ok "all files root/root" || bad "file owners" "$owners"
for b in x/usr/bin/checkpointd x/usr/bin/checkpointctl rx/usr/bin/checkpoint-receiver; do
  dyn=$(readelf -d "$out/$b" | grep -E 'NEEDED|RPATH|RUNPATH' | grep -iE 'swift|Foundation|dispatch|BlocksRuntime' | tr -s ' ' | tr '\n' ';')
  [ -z "$dyn" ] && ok "$(basename $b) links the Swift runtime statically ($(( $(stat -c %s "$out/$b") / 1048576 )) MiB)" || bad "$(basename $b) static Swift runtime" "$dyn"
done

# --- Installed on Debian 12 with systemd as PID 1 (VM) ------------------------------------------------------------
# DEB_SKIP_VM=1: the package checks above only (the VM part takes ~20 minutes on a busy 2-core machine).
if [ -n "${DEB_SKIP_VM:-}" ]; then echo "  info: DEB_SKIP_VM set: the package was not installed in the VM"; [ "$fails" -eq 0 ]; exit; fi
MODEL=${SHARED:-$ROOT/../shared}/models/face_detection_yunet_2022mar.onnx
# Resolved, as DEB is: the guest has a fresh /tmp, and only resolved host paths under /tmp are bound back into it (a
# clone under /tmp with ../shared a symlink elsewhere gave the guest a path it could not see: run D, this session).
if [ -f "$MODEL" ]; then MODEL=$(readlink -f "$MODEL"); else MODEL=; fi
start=$(date +%s); mkdir -p "$out/vm-run"
REPO=$ROOT DEB=$(readlink -f "$DEB") MODEL=$MODEL VM_PASS_ENV="REPO DEB MODEL VM_WAIT" \
  bash "$HERE/systemd/vm-with-sensor.sh" "$HERE/systemd/guest-deb.sh" "$out/vm-run" > "$out/vm-run/vm.log" 2>&1
rc=$?
bash "$HERE/systemd/report.sh" deb-vm "$out/vm-run" "$rc" "$start" || fails=$((fails + 1))
[ "$fails" -eq 0 ]
