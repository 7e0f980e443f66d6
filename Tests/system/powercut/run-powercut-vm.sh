#!/bin/bash
# One power cut: boots Debian 12's own kernel under QEMU (TCG) with DISK (raw ext4 image) as /dev/vda, runs
# GUEST_SCRIPT chrooted in this machine's file system (shared read-only over 9p) with the disk mounted at
# /mnt, and SIGKILLs QEMU KILL_AFTER seconds after the guest printed its MIN_CONFIRMED-th (default: first)
# "confirmed" line. The guest's RAM,
# page cache included, is gone at once, as when a kiosk loses power; what the guest had written to the virtual
# disk (its flushes are fdatasync on this host: cache=writeback) stays, as on a disk that honours flushes.
#
# Usage: [MIN_CONFIRMED=N] run-powercut-vm.sh DISK GUEST_SCRIPT CONSOLE_LOG KILL_AFTER
#   The guest script's stdout and stderr go to the serial console, which is written to CONSOLE_LOG as it comes.
#   The guest's dirty page cache is never written back on its own (vm.dirty_expire_centisecs an hour, ext4
#   commit=600): only what the program fsyncs reaches the disk before the cut.
# no_timer_check: under TCG on a busy host the kernel's IO-APIC timer check can fail (a panic at boot).
# Exit status: 0 when the cut happened after a confirmation, 3 when the guest never confirmed anything
# (or finished before the cut), 2 for a missing tool.
set -euo pipefail
DISK=$(readlink -f "$1"); GUEST_SCRIPT=$(readlink -f "$2"); CONSOLE=$3; KILL_AFTER=$4
C=${VM_CACHE:-/var/cache/checkpointd-powercut-vm}
mkdir -p "$C"
. "$(dirname "$0")/../lib/vm-kernel.sh"
vm_tools
K=${VM_KERNEL_CACHE:-/var/cache/checkpointd-vm-kernel}
vm_kernel "$K"

INITRD=$C/initramfs-$KVER-v2.cpio.gz
if [ ! -f "$INITRD" ]; then
  W=$(mktemp -d /tmp/powercut-initramfs.XXXXXX)
  R=$W/r; mkdir -p $R/{bin,proc,sys,dev,host}
  cp "$(command -v busybox)" $R/bin/
  for a in sh mount modprobe cat chroot sysctl sleep poweroff; do ln -s busybox $R/bin/$a; done
  # crc32c_generic: ext4 and jbd2 want crc32c through the crypto API (a soft dependency modinfo does not list).
  vm_module_closure "$K/kpkg/lib/modules/$KVER" "$R" 9p 9pnet_virtio virtio_pci virtio_blk ext4 crc32c_generic
  cat > $R/init <<'I'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in virtio_pci 9pnet_virtio 9p virtio_blk crc32c_generic ext4; do modprobe $m; done
# Nothing reaches the disk unless it is fsynced: the page cache would otherwise flush dirty data after 30 s, and
# ext4's journal commit (every 5 s by default, commit=600 below) would write newly allocated data blocks with it.
sysctl -qw vm.dirty_expire_centisecs=360000 vm.dirty_writeback_centisecs=0
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 hostroot /host
mount -t ext4 -o commit=600 /dev/vda /host/mnt || { echo "POWERCUT: cannot mount /dev/vda"; poweroff -f; }
mount -o bind /dev /host/dev; mount -t proc proc /host/proc; mount -t sysfs sys /host/sys
SCRIPT=$(sed -n 's/.*pcscript=\([^ ]*\).*/\1/p' /proc/cmdline)
chroot /host /bin/sh -c "cd /mnt; HOME=/mnt TMPDIR=/mnt /bin/sh $SCRIPT" > /dev/ttyS0 2>&1
echo "POWERCUT: guest script ended before the cut"
sleep 3600
I
  chmod +x $R/init
  (cd $R && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"
  rm -rf "$W"
fi

: > "$CONSOLE"
qemu-system-x86_64 -accel tcg,thread=multi -m 1024 -smp 2 \
  -display none -serial file:"$CONSOLE" -monitor none -no-reboot -nic none \
  -bios /usr/share/qemu/qboot.rom -kernel "$K/vmlinux-$KVER" -initrd "$INITRD" \
  -drive file="$DISK",format=raw,if=virtio,cache=writeback \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -append "console=ttyS0 quiet panic=-1 no_timer_check pcscript=$GUEST_SCRIPT" &
QPID=$!
trap 'kill -9 $QPID 2>/dev/null || true' EXIT
# Wait (up to VM_BOOT_MAX s) for the MIN_CONFIRMED-th confirmation (default 1), then cut the power KILL_AFTER s later:
# however slowly a busy machine runs the guest, the cut comes after that many commits, not after a fixed time.
want=${MIN_CONFIRMED:-1}; boot_max=${VM_BOOT_MAX:-600}
for _ in $(seq $(( boot_max * 10 ))); do
  [ "$(grep -c '^confirmed ' "$CONSOLE" 2>/dev/null)" -ge "$want" ] && break
  kill -0 $QPID 2>/dev/null || break
  sleep 0.1
done
n=$(grep -c '^confirmed ' "$CONSOLE" 2>/dev/null || true)
if [ "${n:-0}" -lt "$want" ]; then
  if kill -0 $QPID 2>/dev/null; then echo "only ${n:-0} of $want confirmations within $boot_max s; console:"
  else echo "QEMU exited after ${n:-0} of $want confirmations; console:"; fi
  tail -20 "$CONSOLE"; exit 3
fi
sleep "$KILL_AFTER"
grep -q 'POWERCUT: guest script ended' "$CONSOLE" && { echo "the guest finished before the cut"; exit 3; }
kill -9 $QPID
wait $QPID 2>/dev/null || true
trap - EXIT
exit 0
