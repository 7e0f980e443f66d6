#!/bin/bash
# Boots Debian 12's own kernel under QEMU (software emulation, TCG) with THIS machine's userspace as the root
# file system and systemd as PID 1, then runs a guest script as a systemd service and powers off.
# Adapted from ../shared/design/systemd-vm/run-systemd-vm.sh (ours): only the boot path is kept; the checks
# live in the guest scripts next to this file.
#
# Usage: VM_OUT=DIR run-systemd-vm.sh GUEST_SCRIPT
#   The guest sees the host's / read-only under an overlay with a tmpfs upper layer (it may install, add users,
#   write /etc: the host is never touched), the repository and ../shared at their host paths, DIR read-write at
#   /vmout, and a fresh tmpfs on /tmp (the host's /tmp is read-only at /mnt/host-tmp). Host paths the guest needs
#   that live under /tmp (a clone in /tmp, its .build, a package) would be hidden by that fresh /tmp: every
#   VM_PASS_ENV value naming an existing file or directory there (and each VM_SHARE_PATHS entry) is bind-mounted
#   back, read-only, at its own path. GUEST_SCRIPT runs as root
#   in vmtest-runner.service (bash, stdout+stderr in DIR/guest.log, exit status in DIR/rc); the VM then powers off.
# Env: VM_PASS_ENV="BIN SHARED ..."  variables copied into the guest script's environment
#      VM_SHARE_PATHS="PATH ..."      more host paths the guest must see at their own path (split on spaces)
#      VM_QEMU_ARGS="..."             extra QEMU arguments (e.g. a USB serial device)
#      VM_TIMEOUT (s, default 3000)   host-side kill;  VM_GUEST_MAX (s, default 2880) the runner's RuntimeMaxSec
#                                     (hang guards only: a busy machine runs the emulated guest 2-3 times slower)
#      VM_KERNEL_CACHE (default /var/cache/checkpointd-vm-kernel, shared with the camera VM test): kernel package, vmlinux
#      VM_CACHE (default /var/cache/checkpointd-systemd-vm): the initramfs, so reruns boot at once
# Exit status: the guest script's, 99 when it left none (the tail of the serial console is printed then).
# KVM is not used: on these machines /dev/kvm is kvm_pvm, which runs only PVM-enabled guest kernels.
# no_timer_check: under TCG on a busy host the kernel's IO-APIC timer check can fail ("IO-APIC + timer doesn't
# work!", a panic at boot, seen with two CPU-bound processes beside the test); the emulated timer works.
set -euo pipefail
GUEST_SCRIPT=$(readlink -f "$1")
: "${VM_OUT:?VM_OUT must name a host directory for the results}"
mkdir -p "$VM_OUT"; VM_OUT=$(readlink -f "$VM_OUT")
C=${VM_CACHE:-/var/cache/checkpointd-systemd-vm}
mkdir -p "$C"

. "$(dirname "$0")/../lib/vm-kernel.sh"
vm_tools
[ -x /lib/systemd/systemd ] || { echo "missing /lib/systemd/systemd (apt-get install systemd): the guest boots this machine's systemd"; exit 2; }

# Debian's kernel package, unpacked, never installed. Its modules are shared with the guest over 9p, so the
# guest's udev and modprobe@.service load drivers (usbserial, ftdi_sio, xhci) as on a kiosk.
K=${VM_KERNEL_CACHE:-/var/cache/checkpointd-vm-kernel}
vm_kernel "$K"

W=$(mktemp -d /tmp/systemd-vm.XXXXXX)
QPID=""
trap '[ -n "$QPID" ] && kill "$QPID" 2>/dev/null; rm -rf "$W"' EXIT INT TERM

# initramfs: busybox + the module closure of 9p, overlay and vivid (a /dev/video0). Its /init builds the
# overlay root and switch_roots into systemd, booting vmtest.target.
INITRD=$C/initramfs-$KVER-v3.cpio.gz
if [ ! -f "$INITRD" ]; then
  R=$W/initramfs; mkdir -p $R/{bin,proc,sys,dev,lower,rw,newroot}
  cp "$(command -v busybox)" $R/bin/
  for a in sh mount umount modprobe mkdir cp rm printf switch_root poweroff; do ln -s busybox $R/bin/$a; done
  vm_module_closure "$K/kpkg/lib/modules/$KVER" "$R" 9p 9pnet_virtio virtio_pci overlay vivid
  cat > $R/init <<'I'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in virtio_pci 9pnet_virtio 9p overlay; do modprobe $m; done
modprobe vivid n_devs=1 node_types=0x1
O=trans=virtio,version=9p2000.L,msize=524288
mount -t 9p -o $O,ro,cache=loose hostroot /lower || { echo "VMTEST: 9p root mount failed"; poweroff -f; }
mount -t tmpfs -o mode=0755,size=1536m rw /rw; mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || { echo "VMTEST: overlay failed"; poweroff -f; }
mkdir -p /newroot/vmout /newroot/opt/vmtest /newroot/usr/lib/modules
mount -t 9p -o $O,rw vmout /newroot/vmout
mount -t 9p -o $O,ro vmtest /newroot/opt/vmtest
mount -t 9p -o $O,ro modules /newroot/usr/lib/modules
mkdir -p /newroot/mnt/host-tmp; mount -o bind /lower/tmp /newroot/mnt/host-tmp
# A fresh /tmp: else systemd-tmpfiles-setup empties the host's /tmp over 9p (slow, and only into the overlay).
mount -t tmpfs -o mode=1777,size=256m tmpfs /newroot/tmp
# ... which would hide what the test needs from the host's /tmp (a repository cloned there, its binaries, a
# package): each path the host listed comes back at its own path, read-only like the rest of the host.
# (systemd-tmpfiles' boot-time clean-up of /tmp stops at mount points.)
if [ -f /newroot/opt/vmtest/binds ]; then
  while IFS= read -r p; do
    [ -n "$p" ] || continue
    if [ -d "/lower$p" ]; then mkdir -p "/newroot$p"; else mkdir -p "/newroot${p%/*}" && : > "/newroot$p"; fi
    if mount -o bind "/lower$p" "/newroot$p"; then echo "VMTEST: host $p shared at its own path"
    else echo "VMTEST: cannot share host $p with the guest"; fi
  done < /newroot/opt/vmtest/binds
fi
# Else systemd detects "docker" from the host's marker files and ignores the kernel command line.
rm -f /newroot/.dockerenv /newroot/run/.containerenv
# A container image's "never start services" policy (exit 101) would stop the package's deb-systemd-invoke.
rm -f /newroot/usr/sbin/policy-rc.d
mkdir -p /newroot/etc/systemd/journald.conf.d
printf '[Journal]\nStorage=volatile\n' > /newroot/etc/systemd/journald.conf.d/vmtest.conf
cp /newroot/opt/vmtest/vmtest.target /newroot/opt/vmtest/vmtest-runner.service /newroot/etc/systemd/system/
umount /proc /sys /dev
exec switch_root /newroot /lib/systemd/systemd systemd.unit=vmtest.target
I
  chmod +x $R/init
  (cd $R && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"
fi

# The guest payload (read-only at /opt/vmtest): the runner units, the guest script and its environment.
S=$W/share; mkdir -p "$S"
cp "$GUEST_SCRIPT" "$S/guest.sh"
: > "$S/env.sh"
for v in ${VM_PASS_ENV:-}; do [ -n "${!v+x}" ] && declare -p "$v" | sed 's/^declare -[-a-z]* /export /' >> "$S/env.sh"; done
# Host paths under /tmp the guest needs (see the usage above), resolved; nested ones are dropped (their parent
# brings them). Paths elsewhere are in the guest's root already, except under /run (systemd's own tmpfs there).
shares=()
for v in ${VM_PASS_ENV:-}; do [ -n "${!v:-}" ] && shares+=("${!v}"); done
for p in ${VM_SHARE_PATHS:-}; do shares+=("$p"); done
for p in "${shares[@]}"; do
  case $p in /*) ;; *) continue ;; esac
  [ -e "$p" ] || continue
  p=$(readlink -f "$p")
  case $p in
    /tmp/*) printf '%s\n' "$p" ;;
    /run/*|/dev/shm/*) echo "run-systemd-vm: warning: $p is hidden in the guest by its own /run or /dev/shm" >&2 ;;
  esac
done | sort -u | awk '{ for (i = 1; i <= n; i++) if (index($0, kept[i] "/") == 1) next; kept[++n] = $0; print }' > "$S/binds"
if [ -s "$S/binds" ]; then echo "host paths under /tmp shared with the guest: $(tr '\n' ' ' < "$S/binds")"; fi
cat > "$S/vmtest.target" <<'U'
[Unit]
Description=checkpointd VM test (booted with systemd.unit=vmtest.target)
Requires=basic.target vmtest-runner.service
After=basic.target
AllowIsolate=yes
U
cat > "$S/vmtest-runner.service" <<U
[Unit]
Description=Run the checkpointd guest script, then power off
After=basic.target
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=exec
ExecStart=/bin/bash /opt/vmtest/runner.sh
StandardOutput=journal+console
StandardError=journal+console
RuntimeMaxSec=${VM_GUEST_MAX:-2880}
U
cat > "$S/runner.sh" <<'U'
#!/bin/bash
. /opt/vmtest/env.sh
bash /opt/vmtest/guest.sh > /vmout/guest.log 2>&1
echo $? > /vmout/rc
sync
U
chmod -R a+rX "$S"
rm -f "$VM_OUT/rc" "$VM_OUT/guest.log"

T0=$(date +%s%N); set +e
timeout "${VM_TIMEOUT:-3000}" qemu-system-x86_64 -accel tcg,thread=multi -m 2048 -smp 2 \
  -display none -serial file:"$VM_OUT/serial.log" -monitor none -no-reboot -nic none \
  -bios /usr/share/qemu/qboot.rom -kernel "$K/vmlinux-$KVER" -initrd "$INITRD" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$VM_OUT",mount_tag=vmout,security_model=none \
  -virtfs local,path="$S",mount_tag=vmtest,security_model=none,readonly=on \
  -virtfs local,path="$K/kpkg/lib/modules",mount_tag=modules,security_model=none,readonly=on \
  ${VM_QEMU_ARGS:-} -append "console=ttyS0 panic=-1 quiet no_timer_check systemd.show_status=error systemd.unit=vmtest.target" &
QPID=$!; wait $QPID; QRC=$?; QPID=""; set -e
echo "VM wall time: $(( ($(date +%s%N) - T0) / 1000000 )) ms (qemu rc=$QRC, 124 = killed by timeout)"
if [ ! -f "$VM_OUT/rc" ]; then
  echo "the guest script left no exit status; tail of the serial console:"; tail -30 "$VM_OUT/serial.log"
  exit 99
fi
exit "$(cat "$VM_OUT/rc")"
