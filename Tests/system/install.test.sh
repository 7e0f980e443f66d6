#!/usr/bin/env bash
# `make install DESTDIR=…` lays out binaries, unit, udev rules, config and calibration, and never
# overwrites a configuration file a technician has edited.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
fails=0
ok()  { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
dest=$(mktemp -d); trap 'rm -rf "$dest"' EXIT

make -s -C "$ROOT" install DESTDIR="$dest" BINDIR_REL="$BIN" SHARED="$SHARED" >/dev/null 2>"$dest.err" || bad "make install" "$(cat "$dest.err")"
for f in usr/bin/checkpointd usr/bin/checkpointctl usr/bin/checkpoint-receiver; do
  [ -x "$dest/$f" ] && ok "installs $f" || bad "installs $f" "missing or not executable"
done
for f in lib/systemd/system/checkpointd.service lib/udev/rules.d/70-checkpointd.rules etc/checkpointd/checkpointd.toml \
         usr/share/doc/checkpointd/README.md; do
  [ -f "$dest/$f" ] && ok "installs $f" || bad "installs $f" "missing"
done
n=$(ls "$dest"/etc/checkpointd/calibration/*.toml 2>/dev/null | wc -l)
[ "$n" -ge 1 ] && ok "installs calibration files ($n)" || bad "installs calibration files" "none"
if [ -f "$SHARED/models/face_detection_yunet_2022mar.onnx" ]; then
  [ -f "$dest/usr/share/checkpointd/models/face_detection_yunet_2022mar.onnx" ] && [ -f "$dest/usr/share/checkpointd/models/LICENSE-yunet.txt" ] \
    && ok "installs the face model with its license" || bad "installs the face model" "missing"
fi

# A technician's edits survive a reinstall.
echo "# edited by a technician" >> "$dest/etc/checkpointd/checkpointd.toml"
cal=$(ls "$dest"/etc/checkpointd/calibration/*.toml | head -1); echo "# edited" >> "$cal"
make -s -C "$ROOT" install DESTDIR="$dest" BINDIR_REL="$BIN" SHARED="$SHARED" >/dev/null 2>&1
grep -q "edited by a technician" "$dest/etc/checkpointd/checkpointd.toml" && ok "keeps an edited config" || bad "keeps an edited config" "overwritten"
grep -q "# edited" "$cal" && ok "keeps an edited calibration" || bad "keeps an edited calibration" "overwritten"
exit $((fails > 0))
