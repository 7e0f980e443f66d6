# Sourced by the guest scripts (guest-*.sh) INSIDE the VM. Results go to /vmout/results.txt as
# "PASS name: detail", "FAIL name: detail" and "INFO text" lines; the host test prints them.
O=/vmout; R=$O/results.txt; : > "$R"
U=checkpointd.service
CONF=/etc/checkpointd/checkpointd.toml
up()    { cut -d' ' -f1 /proc/uptime; }
log()   { echo "[$(up)s] $*"; }
pass()  { echo "PASS $1${2:+: $2}" >> "$R"; log "PASS $1${2:+: $2}"; }
fail()  { echo "FAIL $1: $2" >> "$R"; log "FAIL $1: $2"; }
info()  { echo "INFO $*" >> "$R"; log "INFO $*"; }
# check NAME DETAIL COMMAND...: PASS when the command succeeds.
check() { local name=$1 detail=$2; shift 2; if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi; }
P()     { systemctl show -P "$1" "$U"; }
state() { systemctl show -p ActiveState,SubState,Result,NRestarts,MainPID,ExecMainCode,ExecMainStatus "$U" | tr '\n' ' '; }
jr()    { journalctl -b -q --no-pager -o cat -u "$U"; }
# mark: remember the journal's length; jn: the unit's journal lines since the last mark (one phase's lines).
mark()  { J0=$(jr | wc -l); jr > "$O/journal-checkpointd.txt"; }
jn()    { jr | tail -n +$((${J0:-0} + 1)); }
ms()    { echo $((($(date +%s%N) - $1) / 1000000)); }
secs()  { awk -v m="$1" 'BEGIN { printf "%.1f", m / 1000 }'; }
# The deadline for an event the guest waits for (a status line, a journal line, a device): generous, since an
# emulated guest on a busy host runs several times slower (the first camera frame took over 60 s once); a check
# returns as soon as its event happens.
VM_WAIT=${VM_WAIT:-180}   # the host's VM_WAIT when set (systemd-vm.test.sh and deb.test.sh pass it on)
# waitfor SECONDS 'shell condition': until the condition holds or SECONDS of wall-clock time passed (an emulated
# guest runs each check slowly, so counting iterations would stretch the deadline several times over).
waitfor() { local end=$(( $(date +%s) + $1 )); while :; do eval "$2" && return 0; [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.2; done; }
healthz() { curl -s --max-time 60 --unix-socket /run/checkpointd/api.sock http://localhost/healthz; }  # a starved guest answers late

log "guest: $(systemctl --version | head -1), kernel $(uname -r), PID 1 = $(cat /proc/1/comm)"

# Devices: vivid is /dev/video0; the thermal sensor is the host's simulator behind a QEMU USB serial adapter
# (FTDI 0403:6001). udev (part of this userspace) loads the drivers and sets the groups; without udev, do what
# Debian's default rules would. Sets SENSOR to the adapter's /dev/serial/by-id/ path, as a technician would.
setup_devices() {
  modprobe -q xhci_pci; modprobe -q ftdi_sio
  waitfor $VM_WAIT '[ -c /dev/ttyUSB0 ]' || fail sensor-usb-serial "no /dev/ttyUSB0"
  if systemctl -q is-active systemd-udevd.service; then
    udevadm control --reload
    udevadm trigger --action=change --subsystem-match=tty --subsystem-match=video4linux; udevadm settle -t 60
    UDEV=1
  else
    UDEV=0
    for d in /dev/video*; do chgrp video "$d"; chmod 0660 "$d"; done
    for d in /dev/ttyUSB*; do chgrp dialout "$d"; chmod 0660 "$d"; done
  fi
  SENSOR=$(ls /dev/serial/by-id/* 2>/dev/null | head -1); SENSOR=${SENSOR:-/dev/ttyUSB0}
  info "devices: $(stat -c '%n %U:%G %a' /dev/video0 /dev/ttyUSB0 2>&1 | tr '\n' ' ')(udev: $UDEV); sensor $SENSOR"
}

# mkconf THERMAL_PORT [ELEVATED_C]: this test kiosk's site settings, written atomically to the drop-in $SITE as a
# technician would (the installed $CONF stays as shipped): identity, this VM's devices, a calibration of this sensor
# (Tests/demo/gy-mcu90640.toml: not marked as an example) and an endpoint on loopback (nothing listens: uploads simply
# wait, which is what a kiosk offline does). 320x240 at 5 fps spares the emulated CPU. frame_timeout_ms 10000
# (default 2500): the camera stage counts as stalled after 4 frame timeouts, and an emulated guest on a busy host (two
# CPU-bound processes and a build beside it) once went more than 10 s without a frame, so the daemon withheld its
# pings and the 15 s test watchdog restarted it in the middle of the hardening check.
SITE=/etc/checkpointd/checkpointd.toml.d/50-site.toml
mkconf() {
  mkdir -p "${SITE%/*}" /etc/checkpointd/calibration
  [ -f /etc/checkpointd/calibration/vm-kiosk.toml ] || cp "$REPO/Tests/demo/gy-mcu90640.toml" /etc/checkpointd/calibration/vm-kiosk.toml
  cat > "$SITE.tmp" <<EOF
# Site settings of the test kiosk (written by Tests/system/systemd/guest-lib.sh).
[kiosk]
checkpoint_id = "vm-test-site"
device_id = "vm-kiosk-0001"

[camera]
device = "/dev/video0"
width = 320
height = 240
fps = 5
frame_timeout_ms = 10000

[thermal]
port = "$1"
calibration = "/etc/checkpointd/calibration/vm-kiosk.toml"

[screening]
elevated_c = ${2:-37.5}

[upload]
endpoint = "https://127.0.0.1:8443/v1/declarations"
EOF
  mv "$SITE.tmp" "$SITE"
}
