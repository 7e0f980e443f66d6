#!/bin/bash
# Runs INSIDE the VM (systemd 252 as PID 1), as root, from run-systemd-vm.sh. Env: REPO, BIN, SHARED.
# Installs checkpointd as the README says for `make install`: make install, systemd-sysusers (the service user and
# its groups), systemctl enable; then an unconfigured start (exit 78, one line saying what to set), the face model
# with `checkpointctl model install`, the site settings in a drop-in, and drives the REAL unit with systemctl.
# Writes "PASS name: detail" / "FAIL name: detail" / "INFO …" lines to /vmout/results.txt. The thermal sensor is the
# simulator on a host PTY, seen here as a QEMU USB serial adapter (FTDI 0403:6001, /dev/ttyUSB0), so the unit's
# DeviceAllow=char-ttyUSB is what lets it through.
set -u
. "$REPO/Tests/system/systemd/guest-lib.sh" || { echo "guest: cannot read $REPO/Tests/system/systemd/guest-lib.sh: the repository is not visible in the VM"; exit 97; }
WD=15   # WatchdogSec of the test drop-in (the shipped 60 s would make every watchdog check a minute long)

# --- Install as a technician would: make install, then the package's own user creation -------------------------
t0=$(date +%s%N)
if make -s -C "$REPO" install BINDIR_REL="$BIN" SHARED="$SHARED" > "$O/install.log" 2>&1; then
  pass install-make "make install in $(secs "$(ms $t0)") s: $(ls /usr/bin/checkpoint* | tr '\n' ' ')"
else fail install-make "$(tail -3 "$O/install.log" | tr '\n' ';')"; fi
t0=$(date +%s%N)
systemd-sysusers checkpointd.conf checkpoint-kiosk.conf > "$O/sysusers.log" 2>&1; rc=$?
systemctl daemon-reload; systemctl enable $U >> "$O/sysusers.log" 2>&1
info "systemd-sysusers rc=$rc, systemctl enable: $(secs "$(ms $t0)") s"
ids=$(id checkpointd 2>&1)
check install-user "checkpointd user from systemd-sysusers (/usr/lib/sysusers.d/checkpointd.conf): $ids" \
  eval '[[ "$ids" == *"(video)"* && "$ids" == *"(dialout)"* && "$(getent passwd checkpointd | cut -d: -f7)" = /usr/sbin/nologin ]]'
check install-enabled "systemctl enable: $(systemctl is-enabled $U 2>&1)" eval '[ "$(systemctl is-enabled $U)" = enabled ]'

setup_devices
if [ "$UDEV" = 1 ]; then
  props=$(udevadm info -q property -n /dev/ttyUSB0 2>&1)
  check udev-modemmanager-ignore "70-checkpointd.rules marks the FTDI sensor adapter ID_MM_DEVICE_IGNORE=1" \
    eval 'grep -q "^ID_MM_DEVICE_IGNORE=1" <<< "$props"'
  if ! grep -q "^ID_MM_DEVICE_IGNORE=1" <<< "$props"; then   # evidence for the fix: the same rules ordered after 60-serial.rules
    cp /lib/udev/rules.d/70-checkpointd.rules /etc/udev/rules.d/70-checkpointd-vmtest.rules
    udevadm control --reload; udevadm trigger --action=change --subsystem-match=tty; udevadm settle -t 20
    info "udev: the same rules as 70-checkpointd.rules give: $(udevadm info -q property -n /dev/ttyUSB0 | grep -E '^ID_MM_DEVICE_IGNORE' || echo 'no ID_MM_DEVICE_IGNORE either')"
    rm -f /etc/udev/rules.d/70-checkpointd-vmtest.rules; udevadm control --reload
  fi
else info "no systemd-udevd in this userspace: the udev rule is not checked"; fi

mkdir -p /etc/systemd/system/$U.d
printf '[Service]\nWatchdogSec=%ss\n' $WD > /etc/systemd/system/$U.d/vmtest-watchdog.conf
systemctl daemon-reload
info "unit under test: $(systemctl show -P FragmentPath $U) + drop-in WatchdogSec=${WD}s (the shipped unit says $(grep ^WatchdogSec= /lib/systemd/system/$U))"

# --- 0. As installed, with no site settings: exit 78 at once, one line saying what to set, no restart loop ---------
mark; systemctl start $U; rc=$?
waitfor $VM_WAIT '[ "$(P ActiveState)" = failed ]'
sleep 7   # > RestartSec=5s: a restart would have happened by now
says=$(jn | grep -F 'checkpointd: ' | grep -F 'not configured')
check unconfigured-78 "start rc=$rc, $(state)" eval '[ $rc != 0 ] && [ "$(P ExecMainStatus)" = 78 ] && [ "$(P NRestarts)" = 0 ]'
check unconfigured-one-line "journal: '$says'" \
  eval '[ "$(grep -c . <<< "$says")" = 1 ] && [[ "$says" == *kiosk.checkpoint_id* && "$says" == *upload.endpoint* && "$says" == *50-site.toml* ]]'
systemctl reset-failed $U 2>/dev/null

# --- The face model, as an installer adds it (the package and make install do not carry it) ------------------------
model=${SHARED:-/nonexistent}/models/face_detection_yunet_2022mar.onnx
if [ -f "$model" ]; then
  out=$(checkpointctl model install "$model" 2>&1); rc=$?
  m=/usr/share/checkpointd/models/face_detection_yunet_2022mar.onnx
  check model-install "checkpointctl model install rc=$rc: '$out'; $(stat -c '%n %a %U' $m 2>&1)" \
    eval '[ $rc = 0 ] && [ "$(stat -c %a:%U $m)" = 644:root ] && cmp -s "$model" $m'
else info "no face model at $model: the daemon runs on its Haar fallback"; fi

# --- A. The sensor absent (the default /dev/checkpoint-thermal does not exist here) ---------------------------
mkconf /dev/checkpoint-thermal
mark; t0=$(date +%s%N); systemctl start $U; rc=$?; dt=$(ms $t0)
check missing-sensor-start "start rc=$rc, READY after $(secs $dt) s: $(state)" eval '[ $rc = 0 ] && [ "$(P ActiveState)/$(P SubState)" = active/running ]'
pidA=$(P MainPID); tA=$(date +%s); nA=$(P NRestarts)
waitfor $VM_WAIT '[[ "$(P StatusText)" == *sensor*queue* ]]'
st=$(P StatusText)
check missing-sensor-status "STATUS='$st'" eval '[[ "$st" == *"sensor recovering: unavailable"* ]]'
h=$(healthz)
check missing-sensor-healthz "healthz: $h" eval 'grep -qF "\"stage.thermal\":\"recovering: unavailable: cannot open" <<< "$h"'
waitfor $((2 * WD + 5)) '[ "$(P NRestarts)" != "$nA" ]'
check missing-sensor-stays-up "$(( $(date +%s) - tA )) s (> 2 x WatchdogSec) after READY: $(state)" \
  eval '[ "$(P NRestarts)" = "$nA" ] && [ "$(P MainPID)" = "$pidA" ] && [ "$(P ActiveState)" = active ]'
[ "$(P NRestarts)" = "$nA" ] || info "missing sensor, journal: $(jn | grep -E 'stalled|progressing again|Watchdog timeout|Main process exited' | head -8 | tr '\n' ';')"
systemctl stop $U; systemctl reset-failed $U 2>/dev/null

# --- B. The sensor present: READY, STATUS, hardening, reload, watchdog, stop ------------------------------
mkconf "$SENSOR"
mark; t0=$(date +%s%N); systemctl start $U; rc=$?; dt=$(ms $t0)
check start-ready "start rc=$rc, Type=notify READY after $(secs $dt) s: $(state)" eval '[ $rc = 0 ] && [ "$(P ActiveState)/$(P SubState)" = active/running ]'
info "start-to-READY $(secs $dt) s under TCG (debug build, OpenCV + YuNet load)"
pid=$(P MainPID); tB=$(date +%s); nB=$(P NRestarts)
waitfor $VM_WAIT '[[ "$(P StatusText)" == *"camera "*" fps"*"sensor ok"* ]]'
st=$(P StatusText)
check status-summary "STATUS='$st'" eval '[[ "$st" =~ camera\ [0-9.]+\ fps\;\ sensor\ ok\;\ queue\ [0-9]+\; ]]'
h=$(healthz)
check healthz-stages "healthz: $h" eval 'grep -qF "\"stage.camera\":\"ok\"" <<< "$h" && grep -qF "\"stage.thermal\":\"ok\"" <<< "$h"'
# The record clock under the shipped unit: the boot id comes from the ExecStartPre copy (ProcSubset=pid hides
# /proc/sys from the daemon) and the sync flag from adjtimex(2) (the state chrony and timesyncd both keep). The guest
# has no NTP: the test marks the kernel clock synchronised, as an NTP daemon would, then stores a declaration.
sync=$(python3 - <<'PY'
import ctypes
L = ctypes.c_long
class Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_uint), ("offset", L), ("freq", L), ("maxerror", L), ("esterror", L), ("status", ctypes.c_int),
                ("constant", L), ("precision", L), ("tolerance", L), ("sec", L), ("usec", L), ("tick", L), ("ppsfreq", L),
                ("jitter", L), ("shift", ctypes.c_int), ("stabil", L), ("jitcnt", L), ("calcnt", L), ("errcnt", L),
                ("stbcnt", L), ("tai", ctypes.c_int), ("pad", ctypes.c_int * 11)]
libc = ctypes.CDLL(None, use_errno=True)
t = Timex(); libc.adjtimex(ctypes.byref(t))
t.modes = 0x0010 | 0x0004 | 0x0008          # ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR
t.status &= ~0x0040; t.maxerror = 10000; t.esterror = 1000   # clear STA_UNSYNC
print(libc.adjtimex(ctypes.byref(t)))      # 0 = TIME_OK
PY
)
decl='{"fullName":"LE VAN AN","birthYear":1979,"gender":"Nam","nation":"VN","provinceId":"19","wardId":"05436","address":"3 Quang Trung","phone":"0987654321","hasPatient":2,"hasFromSickCountry":2,"hasSick":2,"consent":true}'
answer=$(curl -s --max-time 60 --unix-socket /run/checkpointd/api.sock -H 'Content-Type: application/json' --data "$decl" http://localhost/v1/declarations)
rid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("id", ""))' "$answer" 2>/dev/null)
rec=$(checkpointctl queue show "$rid" 2>&1 | head -1)
boot=$(cat /proc/sys/kernel/random/boot_id)
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["clock"][sys.argv[2]])' "$rec" "$1" 2>/dev/null; }
check record-boot-id "stored record $rid: bootId $(field bootId), kernel $boot (checkpointctl queue show, default database)" eval '[ -n "$rid" ] && [ "$(field bootId)" = "$boot" ]'
info "unit's SystemCallFilter has adjtimex: $(systemctl show -P SystemCallFilter $U | tr ' ' '\n' | grep -cx adjtimex); journal: $(jr | grep -m1 'record clock' | cut -c1-200)"
check record-clock-synced "kernel clock marked synchronised (adjtimex rc $sync): the record says clockSynced=$(field clockSynced)" eval '[ "$sync" = 0 ] && [ "$(field clockSynced)" = True ]'
ps=$(grep -E '^(Uid|Gid|Groups|NoNewPrivs|Seccomp|CapEff|CapBnd):' /proc/$pid/status | tr -s '\t ' ' ' | tr '\n' ';')
uid=$(id -u checkpointd)
check hardening-proc-status "$ps" eval '[[ "$ps" == *"NoNewPrivs: 1"* && "$ps" == *"Seccomp: 2"* && "$ps" == *"CapEff: 0000000000000000"* && "$ps" == *"Uid: $uid "* ]]'
check hardening-groups "supplementary groups video+dialout: $(grep ^Groups: /proc/$pid/status)" \
  eval 'g=$(grep ^Groups: /proc/$pid/status | tr -s "\t " "  "); [[ " $g " == *" $(getent group video | cut -d: -f3) "* && " $g " == *" $(getent group dialout | cut -d: -f3) "* ]]'
check hardening-state-dir "queue in StateDirectory: $(stat -c '%U %a' /var/lib/checkpointd /var/lib/checkpointd/queue.sqlite 2>&1 | tr '\n' ' ')" \
  eval '[ "$(stat -c %U:%a /var/lib/checkpointd/queue.sqlite)" = checkpointd:600 ]'

# Reload with a valid change: same PID, the journal shows it.
mkconf "$SENSOR" 37.8
systemctl reload $U; rc=$?
waitfor $VM_WAIT 'jr | grep -q "configuration reloaded"'
check reload-good "reload rc=$rc, MainPID $pid -> $(P MainPID), journal: '$(jr | grep -m1 -E '^Reload(ing|ed) ')' / '$(jr | grep -m1 'configuration reloaded')'" \
  eval '[ $rc = 0 ] && [ "$(P MainPID)" = "$pid" ] && [ "$(P ActiveState)" = active ] && jr | grep -q "configuration reloaded"'
# Reload with a broken file: rejected with FILE:LINE, old config kept, still active.
mkconf "$SENSOR" 99.0; line=$(grep -n '^elevated_c' "$SITE" | cut -d: -f1)
systemctl reload $U; rc=$?
waitfor $VM_WAIT 'jr | grep -q "keeping the running configuration"'
bad=$(jr | grep -m1 "reload rejected: $SITE:$line: screening.elevated_c")
check reload-bad-keeps-old "reload rc=$rc, journal: '$bad' / '$(jr | grep -m1 'keeping the running configuration')', $(state)" \
  eval '[ -n "$bad" ] && [ "$(P MainPID)" = "$pid" ] && [ "$(P ActiveState)" = active ]'
mkconf "$SENSOR" 37.8

# The full hardening does not break the Swift runtime: still the same process, pinging, past 2 x WatchdogSec.
waitfor $((2 * WD + 10)) '[ "$(P NRestarts)" != "$nB" ] || [ $(( $(date +%s) - tB )) -gt $((2 * WD + 5)) ]'
check hardening-stays-up "$(( $(date +%s) - tB )) s after READY (WatchdogSec=${WD}s): $(state)" \
  eval '[ "$(P NRestarts)" = "$nB" ] && [ "$(P MainPID)" = "$pid" ] && [ "$(P ActiveState)/$(P SubState)" = active/running ]'
[ "$(P NRestarts)" = "$nB" ] || info "journal: $(jn | grep -E 'stalled|progressing again|Watchdog timeout|Main process exited|error|critical' | head -8 | tr '\n' ';')"

# A hung daemon (SIGSTOP): no more pings, systemd's watchdog kills it and Restart=on-failure starts a new one.
mark; t0=$(date +%s%N); kill -STOP "$pid"
waitfor $VM_WAIT '[ "$(P NRestarts)" -gt "$nB" ] 2>/dev/null'
dt=$(ms $t0)
wdlog=$(jn | grep -m1 'Watchdog timeout'); killed=$(jn | grep -m1 "Main process exited, code=")
check watchdog-restarts-hung "NRestarts=$(P NRestarts) $(secs $dt) s after SIGSTOP, MainPID $pid -> $(P MainPID), journal: '$wdlog' / '$killed'" \
  eval '[ "$(P NRestarts)" = $((nB + 1)) ] && [ -n "$wdlog" ] && [ "$(P MainPID)" != "$pid" ]'
# The watchdog's SIGABRT ends the process itself (no SIGKILL after TimeoutAbortSec): the unit turns off the Swift
# backtracer, which cannot run under MemoryDenyWriteExecute= and used to swallow the abort.
check watchdog-abort-ends-it "$killed" eval '[[ "$killed" == *"status=6/ABRT"* ]]'
t0=$(date +%s%N)
waitfor $VM_WAIT '[ "$(P ActiveState)/$(P SubState)" = active/running ]'
check watchdog-restarted-ready "the new process reached READY $(secs "$(ms $t0)") s later: $(state)" eval '[ "$(P ActiveState)/$(P SubState)" = active/running ]'

# SIGTERM: a clean exit within TimeoutStopSec.
mark; t0=$(date +%s%N); systemctl stop $U; dt=$(ms $t0)
check stop-clean "stop took $(secs $dt) s (TimeoutStopSec=$(P TimeoutStopUSec)): $(state)" \
  eval '[ "$(P Result)" = success ] && [ "$(P ExecMainStatus)" = 0 ] && [ "$(P ActiveState)" = inactive ] && [ $dt -lt 20000 ]'
jn | grep -q "checkpointd stopped" && pass stop-drained "journal: '$(jn | grep -m1 'checkpointd stopped')'" || fail stop-drained "no 'checkpointd stopped' in the journal"

# --- C. An invalid config: exit 78, failed, no restart loop ----------------------------------------------------
systemctl reset-failed $U 2>/dev/null
mkconf "$SENSOR" 99.0; line=$(grep -n '^elevated_c' "$SITE" | cut -d: -f1)
n0=$(P NRestarts); mark
systemctl start $U; rc=$?
waitfor $VM_WAIT '[ "$(P ActiveState)" = failed ]'
sleep 8   # > RestartSec=5s: a restart would have happened by now
check config-error-78 "start rc=$rc, $(state) (NRestarts was $n0 before the start)" \
  eval '[ $rc != 0 ] && [ "$(P ActiveState)" = failed ] && [ "$(P ExecMainStatus)" = 78 ] && [ "$(P NRestarts)" = "$n0" ]'
e=$(jn | grep -m1 "$SITE:$line: screening.elevated_c")
check config-error-journal "journal: '$e'" eval '[ -n "$e" ]'
systemctl reset-failed $U 2>/dev/null

# --- D. systemd's own view of the installed unit ---------------------------------------------------------------
rm -f /etc/systemd/system/$U.d/vmtest-watchdog.conf; systemctl daemon-reload
systemd-analyze security $U > "$O/security.txt" 2>&1
ex=$(grep -o 'Overall exposure level for .*' "$O/security.txt")
score=$(grep -o 'Overall exposure level for [^:]*: [0-9.]*' "$O/security.txt" | grep -o '[0-9.]*$')
check security-exposure "systemd-analyze security (online, installed unit): $ex" eval '[ -n "$score" ] && awk -v s="$score" "BEGIN { exit !(s <= 2.0) }"'
info "boot: $(systemd-analyze time 2>&1 | head -1)"

# --- E. Structured journal fields (metrics/journal work, #18): the record stored in B is one journalctl query --------
rj=$(journalctl -b -q --no-pager -o cat RECORD_ID="$rid" 2>&1)
check journal-record-id "journalctl RECORD_ID=$rid: '$(head -1 <<< "$rj")'" eval '[ -n "$rid" ] && grep -q "declaration stored" <<< "$rj"'
jf=$(journalctl -b -q --no-pager -o export RECORD_ID="$rid" 2>&1 | grep -aE '^(PRIORITY|SYSLOG_IDENTIFIER|LOGGER|CODE_FILE|_SYSTEMD_UNIT)=' | sort -u | tr '\n' ' ')
check journal-fields "$jf" eval '[[ "$jf" == *"SYSLOG_IDENTIFIER=checkpointd "* && "$jf" == *"PRIORITY=6 "* && "$jf" == *"_SYSTEMD_UNIT=$U"* && "$jf" == *CODE_FILE=* ]]'
# --- end E ---------------------------------------------------------------------------------------------------------
jr > "$O/journal-checkpointd.txt"; journalctl -b -q --no-pager -o short-monotonic > "$O/journal.txt" 2>&1
exit 0
