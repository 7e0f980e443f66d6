#!/bin/bash
# Usage: vm-with-sensor.sh GUEST_SCRIPT OUT_DIR   (env: BIN, plus whatever VM_PASS_ENV names)
# Starts the GY-MCU90640 simulator (`checkpointctl simulate sensor`) on a host PTY, boots run-systemd-vm.sh with
# that PTY as a QEMU USB serial adapter (the guest sees /dev/ttyUSB0, FTDI 0403:6001), results in OUT_DIR/vm.
# Prints the runner's log; exits with the runner's status.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
guest=$1; out=$2
mkdir -p "$out"
"$BIN/checkpointctl" simulate sensor --model gy-mcu90640 --link "$out/thermal-pty" < /dev/null > "$out/sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT
for _ in $(seq 100); do [ -e "$out/thermal-pty" ] && break; sleep 0.1; done
pty=$(readlink -e "$out/thermal-pty") || { echo "the sensor simulator made no PTY: $(tail -3 "$out/sim.log")"; exit 98; }
VM_OUT="$out/vm" \
VM_QEMU_ARGS="-device qemu-xhci,id=xhci -chardev serial,id=thermal,path=$pty -device usb-serial,bus=xhci.0,chardev=thermal" \
  bash "$HERE/run-systemd-vm.sh" "$guest"
