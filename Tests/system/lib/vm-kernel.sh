# Sourced by the QEMU/TCG VM tests (camera/run-vivid-vm.sh, systemd/run-systemd-vm.sh, powercut/run-powercut-vm.sh): Debian's own kernel,
# fetched and unpacked once into a cache both share, and the module closure an initramfs needs.

# vm_tools [TOOL...]: exits 2 with what to install unless QEMU, qboot, busybox, kmod, cpio and the extra TOOLs are here.
vm_tools() {
  local tool
  for tool in qemu-system-x86_64 busybox modinfo depmod cpio python3 "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool (make deps: qemu-system-x86 busybox-static kmod cpio python3)"; exit 2; }
  done
  [ -f /usr/share/qemu/qboot.rom ] || { echo "missing /usr/share/qemu/qboot.rom (apt-get install qemu-system-data)"; exit 2; }
}

# vm_kernel DIR: Debian's current kernel package unpacked (never installed) in DIR/kpkg, with the modules.dep its
# postinst would have made (without it modprobe finds nothing), and its uncompressed vmlinux in DIR/vmlinux-$KVER
# (it boots directly through PVH from qboot: about 9 s faster than the bzImage under TCG). Sets KVER.
vm_kernel() {
  local dir=$1 pkg
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  KVER=${pkg#linux-image-}
  [ -n "$KVER" ] || { echo "cannot find Debian's kernel package (apt-cache depends linux-image-amd64)"; exit 2; }
  mkdir -p "$dir"
  if [ ! -d "$dir/kpkg/lib/modules/$KVER" ]; then
    (cd "$dir" && rm -rf kpkg kpkg.tmp && apt-get download "$pkg" >/dev/null 2>&1 && dpkg-deb -x "${pkg}"_*.deb kpkg.tmp \
      && rm -f "${pkg}"_*.deb && mv kpkg.tmp kpkg) || { echo "cannot download $pkg (apt-get download)"; exit 2; }
  fi
  [ -f "$dir/kpkg/lib/modules/$KVER/modules.dep" ] || depmod -b "$dir/kpkg" "$KVER"
  if [ ! -f "$dir/vmlinux-$KVER" ]; then
    python3 - "$dir/kpkg/boot/vmlinuz-$KVER" "$dir/vmlinux-$KVER" <<'PY'
import lzma, sys
d = open(sys.argv[1], 'rb').read(); off = d.find(b'\xfd7zXZ\x00')
open(sys.argv[2] + '.tmp', 'wb').write(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(d[off:]))
PY
    mv "$dir/vmlinux-$KVER.tmp" "$dir/vmlinux-$KVER"
  fi
}

# vm_module_closure KM ROOT MODULE...: copies each MODULE and every module it depends on from the kernel's module
# tree KM into the initramfs tree ROOT (same layout), and makes their modules.dep there.
vm_module_closure() {
  local km=$1 root=$2; shift 2
  local todo="$*" seen=" " m f d
  deps() { modinfo -F depends "$(find "$km" -name "$1.ko*" | head -1)" | tr ',' ' '; }
  while [ -n "${todo// }" ]; do
    set -- $todo; m=$1; shift; todo="$*"
    [[ "$seen" == *" $m "* ]] && continue
    seen="$seen$m "; todo="$todo $(deps "$m")"
  done
  for m in $seen; do
    f=$(find "$km" -name "$m.ko*" | head -1); d=$root/lib/modules/$KVER/$(dirname "${f#$km/}")
    mkdir -p "$d"; cp "$f" "$d/"
  done
  cp "$km"/modules.order "$km"/modules.builtin "$km"/modules.builtin.modinfo "$root/lib/modules/$KVER/" 2>/dev/null || true
  depmod -b "$root" "$KVER"
}
