#!/bin/bash
# Boots Debian 12's own kernel under QEMU (software emulation, TCG) with the vivid test driver and runs a
# guest script from the HOST filesystem (shared read-only over 9p) against /dev/video0.
# Adapted from ../shared/design/v4l2-vm/run-vivid-vm.sh (ours).
# Usage: run-vivid-vm.sh GUEST_SCRIPT   (the script runs chrooted in the host fs; write only to $VM_OUT)
# KVM is NOT used: on these machines /dev/kvm is kvm_pvm, which only runs PVM-enabled guest kernels.
# The kernel package and the unpacked vmlinux are cached in $VM_CACHE (default /var/cache/checkpointd-camera-vm).
set -euo pipefail
GUEST_SCRIPT=$(readlink -f "$1")
C=${VM_CACHE:-/var/cache/checkpointd-camera-vm}
mkdir -p "$C"
W=$(mktemp -d /tmp/camera-vm.XXXXXX)
mkdir -p "$W/out"
export VM_OUT="$W/out"

for tool in qemu-system-x86_64 busybox modinfo depmod cpio; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install qemu-system-x86 busybox-static kmod cpio)"; exit 2; }
done
[ -f /usr/share/qemu/qboot.rom ] || { echo "missing /usr/share/qemu/qboot.rom (apt-get install qemu-system-data)"; exit 2; }

KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
KVER=${KPKG#linux-image-}
if [ ! -d "$C/kpkg/lib/modules/$KVER" ]; then
  (cd "$C" && rm -rf kpkg && apt-get download "$KPKG" >/dev/null 2>&1 && dpkg-deb -x "${KPKG}"_*.deb kpkg && rm -f "${KPKG}"_*.deb)
fi
# The uncompressed vmlinux boots directly through PVH: about 9 s faster than the bzImage under TCG.
if [ ! -f "$C/vmlinux-$KVER" ]; then
  python3 - "$C/kpkg/boot/vmlinuz-$KVER" "$C/vmlinux-$KVER" <<'PY'
import lzma, sys
d = open(sys.argv[1], 'rb').read(); off = d.find(b'\xfd7zXZ\x00')
open(sys.argv[2] + '.tmp', 'wb').write(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(d[off:]))
PY
  mv "$C/vmlinux-$KVER.tmp" "$C/vmlinux-$KVER"
fi

# initramfs: busybox + the module closure of vivid and 9p (cached).
if [ ! -f "$C/initramfs-$KVER-v3.cpio.gz" ]; then
  KM=$C/kpkg/lib/modules/$KVER; R=$W/initramfs; mkdir -p $R/{bin,proc,sys,dev,host}
  cp "$(command -v busybox)" $R/bin/; for a in sh mount umount modprobe cat sleep poweroff chroot mkdir; do ln -s busybox $R/bin/$a; done
  deps() { modinfo -F depends "$(find $KM -name "$1.ko*" | head -1)" | tr ',' ' '; }
  todo="vivid 9p 9pnet_virtio virtio_pci"; seen=" "
  while [ -n "${todo// }" ]; do set -- $todo; m=$1; shift; todo="$*"
    [[ "$seen" == *" $m "* ]] && continue; seen="$seen$m "; todo="$todo $(deps $m)"; done
  for m in $seen; do f=$(find $KM -name "$m.ko*" | head -1); d=$R/lib/modules/$KVER/$(dirname ${f#$KM/}); mkdir -p $d; cp $f $d/; done
  cp $KM/modules.order $KM/modules.builtin $KM/modules.builtin.modinfo $R/lib/modules/$KVER/ 2>/dev/null || true
  depmod -b $R "$KVER"
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
timeout "${VM_TIMEOUT:-240}" qemu-system-x86_64 -accel tcg,thread=multi -m 1024 -smp 2 \
  -display none -serial file:"$W/serial.log" -monitor none -no-reboot -nic none \
  -bios /usr/share/qemu/qboot.rom -kernel "$C/vmlinux-$KVER" -initrd "$C/initramfs-$KVER-v3.cpio.gz" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$W/out",mount_tag=out,security_model=none \
  -append "console=ttyS0 quiet panic=-1 vmout=$W/out vmscript=$GUEST_SCRIPT" || true
echo "VM wall time: $(( ($(date +%s%N) - S) / 1000000 )) ms"
cat "$W/out/guest.log" 2>/dev/null || { echo "no guest log; serial console:"; tail -30 "$W/serial.log"; }
rc=$(cat "$W/out/rc" 2>/dev/null || echo 99)
# VM_KEEP_OUT: copy the guest's result files there before the work dir goes.
if [ -n "${VM_KEEP_OUT:-}" ]; then cp -r "$W/out/." "$VM_KEEP_OUT/"; fi
rm -rf "$W"
exit "$rc"
