#!/bin/bash
# Boots Debian 12's own kernel under QEMU (software emulation, TCG) with the vivid test driver and runs a
# guest script from the HOST filesystem (shared read-only over 9p) against /dev/video0.
# Adapted from ../shared/design/v4l2-vm/run-vivid-vm.sh (ours).
# Usage: run-vivid-vm.sh GUEST_SCRIPT   (the script runs chrooted in the host fs; write only to $VM_OUT)
# KVM is NOT used: on these machines /dev/kvm is kvm_pvm, which only runs PVM-enabled guest kernels.
# no_timer_check: under TCG on a busy host the kernel's IO-APIC timer check can fail ("IO-APIC + timer doesn't
# work!", a panic at boot, seen with two CPU-bound processes beside the test); the emulated timer works.
# The kernel package and vmlinux are cached in $VM_KERNEL_CACHE (default /var/cache/checkpointd-vm-kernel, shared with
# the systemd VM test), the initramfs in $VM_CACHE (default /var/cache/checkpointd-camera-vm).
set -euo pipefail
GUEST_SCRIPT=$(readlink -f "$1")
C=${VM_CACHE:-/var/cache/checkpointd-camera-vm}
mkdir -p "$C"
W=$(mktemp -d /tmp/camera-vm.XXXXXX)
mkdir -p "$W/out"
export VM_OUT="$W/out"

# Debian's kernel, shared with the systemd VM test (lib/vm-kernel.sh).
. "$(dirname "$0")/../lib/vm-kernel.sh"
vm_tools
K=${VM_KERNEL_CACHE:-/var/cache/checkpointd-vm-kernel}
vm_kernel "$K"

# initramfs: busybox + the module closure of vivid and 9p (cached).
if [ ! -f "$C/initramfs-$KVER-v3.cpio.gz" ]; then
  R=$W/initramfs; mkdir -p $R/{bin,proc,sys,dev,host}
  cp "$(command -v busybox)" $R/bin/; for a in sh mount umount modprobe cat sleep poweroff chroot mkdir; do ln -s busybox $R/bin/$a; done
  vm_module_closure "$K/kpkg/lib/modules/$KVER" "$R" vivid 9p 9pnet_virtio virtio_pci
  cat > $R/init <<'I'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
modprobe vivid n_devs=1 node_types=0x1
modprobe virtio_pci; modprobe 9pnet_virtio; modprobe 9p
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 hostroot /host
mount -o bind /dev /host/dev; mount -t proc proc /host/proc; mount -t sysfs sys /host/sys
OUT=$(cat /proc/cmdline | sed -n 's/.*vmout=\([^ ]*\).*/\1/p'); SCRIPT=$(cat /proc/cmdline | sed -n 's/.*vmscript=\([^ ]*\).*/\1/p')
mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=262144 out /host$OUT
chroot /host /bin/sh -c "cd $OUT; VM_OUT=$OUT HOME=$OUT TMPDIR=$OUT /bin/sh $SCRIPT" > /host$OUT/guest.log 2>&1; echo $? > /host$OUT/rc
umount /host$OUT; poweroff -f
I
  chmod +x $R/init
  (cd $R && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$C/initramfs-$KVER-v3.cpio.gz.tmp"
  mv "$C/initramfs-$KVER-v3.cpio.gz.tmp" "$C/initramfs-$KVER-v3.cpio.gz"
fi

cp "$GUEST_SCRIPT" "$W/out/guest.sh"; GUEST_SCRIPT=$W/out/guest.sh
S=$(date +%s%N)
timeout "${VM_TIMEOUT:-900}" qemu-system-x86_64 -accel tcg,thread=multi -m 1024 -smp 2 \
  -display none -serial file:"$W/serial.log" -monitor none -no-reboot -nic none \
  -bios /usr/share/qemu/qboot.rom -kernel "$K/vmlinux-$KVER" -initrd "$C/initramfs-$KVER-v3.cpio.gz" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$W/out",mount_tag=out,security_model=none \
  -append "console=ttyS0 quiet panic=-1 no_timer_check vmout=$W/out vmscript=$GUEST_SCRIPT" || true
echo "VM wall time: $(( ($(date +%s%N) - S) / 1000000 )) ms"
cat "$W/out/guest.log" 2>/dev/null || { echo "no guest log; serial console:"; tail -30 "$W/serial.log"; }
rc=$(cat "$W/out/rc" 2>/dev/null || echo 99)
# VM_KEEP_OUT: copy the guest's result files and the serial console there before the work dir goes.
if [ -n "${VM_KEEP_OUT:-}" ]; then cp -r "$W/out/." "$VM_KEEP_OUT/"; cp "$W/serial.log" "$VM_KEEP_OUT/serial.log" 2>/dev/null || true; fi
rm -rf "$W"
exit "$rc"
