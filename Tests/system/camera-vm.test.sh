#!/usr/bin/env bash
# Camera capture against the kernel's vivid driver in a QEMU/TCG VM that this test boots itself.
# The capture code under test is the daemon's own engine (Sources/*/Camera), built into capture-check
# without OpenCV so it starts fast under emulation (camera/build-capture-check.sh), which also prints what
# `checkpointctl camera list` prints (the same CameraProbe code; checkpointctl itself links OpenCV and takes ~25 s
# to start under TCG). vivid's error-injection controls are pressed while capturing:
# error-flagged buffers, a fatal stream error (POLLERR/EIO), Disconnect (unplug: POLLHUP/ENODEV) and 100 %
# dropped buffers (a frozen camera: frame timeout), pressed through a second fd as frames flow. Kernel, initramfs and capture-check are cached under
# /var/cache/checkpointd-vm-kernel (shared with the systemd VM test) and /var/cache/checkpointd-camera-vm, so reruns take about 35–40 s (the first run builds capture-check, ~1.5 min).
set -uo pipefail
: "${BIN:?BIN must point at the built binaries}"
HERE=$(cd "$(dirname "$0")" && pwd)
fails=0
CHECK=$(bash "$HERE/camera/build-capture-check.sh") || { echo "FAIL camera-vm: cannot build capture-check"; exit 1; }

guest=$(mktemp /tmp/camera-guest.XXXXXX)
out=$(mktemp -d /tmp/camera-vm-out.XXXXXX)
# KEEP_WORK=1 (or VM_KEEP=1) keeps the guest's output, its log and the serial console (printed path).
KEEP_WORK=${KEEP_WORK:-${VM_KEEP:-}}
if [ -n "$KEEP_WORK" ]; then echo "  info: guest output kept in $out"; trap 'rm -f "$guest"' EXIT
else trap 'rm -f "$guest"; rm -rf "$out"' EXIT; fi
cat > "$guest" <<G
# One process: camera list, a negotiation run (MJPEG,GREY → GREY), then the capture the faults are injected into.
$CHECK /dev/video0 \$VM_OUT; echo "exit=\$?" >> \$VM_OUT/cap.txt
G

start=$(date +%s)
VM_KEEP_OUT="$out" bash "$HERE/camera/run-vivid-vm.sh" "$guest" > "$out/vm.log" 2>&1
rc=$?
echo "VM run: $(( $(date +%s) - start )) s (rc=$rc)"
grep -v "^t=" "$out/vm.log" | sed 's/^/  | /' | head -5; grep "^set " "$out/cap.txt" | sed 's/^/  | /'
check() { # name file pattern...
  local name=$1 file=$2; shift 2
  local ok=1
  for pat in "$@"; do
    grep -Eq -- "$pat" "$out/$file" 2>/dev/null || { ok=0; echo "  missing /$pat/ in $file"; }
  done
  if [ $ok = 1 ]; then echo "PASS $name"; else echo "FAIL $name"; grep -v "^t=" "$out/$file" 2>/dev/null | tail -8 | sed 's/^/    /'; fails=$((fails + 1)); fi
}
check camera-vm-list list.txt "Driver name +: vivid" "'YUYV'" "'GREY'" "Size: " "Interval: " "brightness 0x" "list rc=0"
check camera-vm-negotiation negotiate.txt "asked for MJPG|offers none|^format: GREY" "^format: GREY [0-9]+x[0-9]+ @ [0-9.]+ fps" \
  "camera format coerced by the driver" "frame sizes: [0-9]+x[0-9]+ bad_size=0" "summary: frames=[1-9]"
check camera-vm-streaming cap.txt "camera streaming" "^format: YUYV" "bad_size=0" "capture rc=0"
check camera-vm-error-flagged-buffers cap.txt "summary: .* error_flag=[1-9]"
check camera-vm-fatal-stream-error cap.txt "fault=I/O error: POLLERR.*reopening"
check camera-vm-unplug cap.txt "fault=disconnected: POLLHUP.*reopening" "summary: .* disconnects=1 "
check camera-vm-frame-timeout cap.txt "fault=frame timeout.*restarting the stream" "fault=frame timeout.*reopening" "summary: .* restarts=[1-9]" \
  "frozen camera: restarted and reopened"
# Sequence-gap counting is asserted against the scripted fake (CameraCaptureTests): in the VM, vivid's
# dropped-buffer window usually ends in a stream restart that resets the sequence, so a gap shows only
# when the timing allows it (seen in some runs, not in others). Reported here, not asserted.
grep -o "seq_gaps=[0-9]*" "$out/cap.txt" | tail -1 | sed 's/^/  info: vivid /'
# After every fault frames flow again: the last status line is healthy and frames kept coming after the timeout test.
check camera-vm-recovers cap.txt "summary: frames=[0-9]+ health=streaming"
# capture-check waits (up to 60 s) for 20 frames after the drop ends, rather than counting frames in a fixed window.
rec=$(grep -m1 "^after recovery: " "$out/cap.txt" 2>/dev/null)
if [[ "$rec" =~ ^after\ recovery:\ delivered\ ([0-9]+)\ frames ]] && [ "${BASH_REMATCH[1]}" -ge 20 ]; then
  echo "PASS camera-vm-delivers-after-recovery (${rec#after recovery: })"
else
  echo "FAIL camera-vm-delivers-after-recovery (${rec:-no 'after recovery' line})"; fails=$((fails + 1))
fi
if [ $fails -gt 0 ]; then
  echo "  --- the guest's log and the VM runner (last 80 lines of $out/vm.log):"; grep -v "^t=" "$out/vm.log" | tail -80 | cut -c1-400 | sed 's/^/  | /'
  if [ -s "$out/serial.log" ]; then echo "  --- the VM's serial console (last 40 lines):"; tail -40 "$out/serial.log" | cut -c1-400 | sed 's/^/  | /'; fi
  [ -n "$KEEP_WORK" ] || echo "  (rerun with KEEP_WORK=1 to keep the work directory with every log)"
fi
[ $fails -eq 0 ]
