#!/usr/bin/env bash
# The real checkpointd binary and the real unit under a real systemd 252 (PID 1), in a QEMU/TCG VM that boots
# this machine's own Debian 12 userspace (systemd/run-systemd-vm.sh). Inside, systemd/guest-daemon.sh installs
# with `make install`, systemd-sysusers and systemctl enable (as the README says), checks that the installed config
# alone stops the daemon (exit 78, one line saying what to set), installs the face model with `checkpointctl model
# install`, writes the site settings in a drop-in, then checks with systemctl: Type=notify READY, the STATUS= line,
# the missing-sensor case, the hardening (seccomp, no new privileges, no capabilities) with the Swift runtime
# running past the watchdog period, reload good and bad, the watchdog restarting a hung (SIGSTOPped) daemon,
# a clean stop, exit 78 without restarts, and `systemd-analyze security`.
# The thermal sensor is `checkpointctl simulate sensor` on a host PTY, handed to the VM as a QEMU USB serial
# adapter, so it is a real /dev/ttyUSB0 behind the unit's DeviceAllow=char-ttyUSB and the udev rules.
# The kernel is cached in /var/cache/checkpointd-vm-kernel (shared with the camera VM test; the first run downloads it),
# the initramfs in /var/cache/checkpointd-systemd-vm.
set -uo pipefail
: "${BIN:?BIN must point at the built binaries}"
HERE=$(cd "$(dirname "$0")" && pwd)
for b in checkpointd checkpointctl checkpoint-receiver; do
  [ -x "$BIN/$b" ] || { echo "FAIL systemd-vm: $BIN/$b is not built"; exit 1; }
done
out=$(mktemp -d /tmp/systemd-vm-out.XXXXXX)
# KEEP_WORK=1 (or VM_KEEP=1) keeps the guest's logs and journals (printed path) for a look after a failure.
export KEEP_WORK=${KEEP_WORK:-${VM_KEEP:-}}
if [ -n "$KEEP_WORK" ]; then echo "  info: guest output kept in $out"; else trap 'rm -rf "$out"' EXIT; fi

# make install runs swift-argument-parser's generate-manual tool: build it here (once), not in the emulated guest.
make -s -C "$HERE/../.." manual-tool > "$out/manual-tool.log" 2>&1 || { echo "FAIL systemd-vm: make manual-tool: $(tail -3 "$out/manual-tool.log")"; exit 1; }
start=$(date +%s)
REPO=$(cd "$HERE/../.." && pwd) SHARED=${SHARED:-$HERE/../../../shared} VM_PASS_ENV="REPO BIN SHARED VM_WAIT" \
  bash "$HERE/systemd/vm-with-sensor.sh" "$HERE/systemd/guest-daemon.sh" "$out" > "$out/vm.log" 2>&1
rc=$?
bash "$HERE/systemd/report.sh" systemd-vm "$out" "$rc" "$start"
