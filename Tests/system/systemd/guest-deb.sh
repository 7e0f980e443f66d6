#!/bin/bash
# Runs INSIDE the VM (systemd 252 as PID 1, this machine's Debian 12 userspace on an overlay), as root, from
# run-systemd-vm.sh. Env: REPO, DEB (checkpointd_*.deb from `make deb`), MODEL (the YuNet file, or empty).
# /opt/swift is hidden first, so the package's binaries must run with the Swift runtime linked in. Then, as an
# installer would: dpkg -i with no site settings (the daemon stops: exit 78, one line saying what to set), the face
# model with checkpointctl, the site settings in a drop-in, a start, a declaration queued (nothing listens at the
# endpoint), a reinstall, dpkg -r, and dpkg -P keeping the queue while it holds that declaration; emptied, a purge
# removes it.
set -u
. "$REPO/Tests/system/systemd/guest-lib.sh" || { echo "guest: cannot read $REPO/Tests/system/systemd/guest-lib.sh: the repository is not visible in the VM"; exit 97; }

mount -t tmpfs -o ro,size=1m,mode=0755 noswift /opt/swift 2>/dev/null
check no-swift-toolchain "/opt/swift hidden: $(ls /opt/swift | wc -l) entries, $(command -v swift || echo 'no swift on PATH')" \
  eval '[ ! -e /opt/swift/usr/lib/swift/linux/libswiftCore.so ]'
setup_devices
# The package ships man pages, so every dpkg run below ends in man-db's trigger, which re-indexes all of this
# machine's man pages: minutes each under emulation, and nothing this test checks. Debian's switch to skip it:
rm -f /var/lib/man-db/auto-update

# --- dpkg -i with no site settings ------------------------------------------------------------------------------
t0=$(date +%s%N)
dpkg -i "$DEB" > "$O/dpkg-i.log" 2>&1; rc=$?
check dpkg-install "dpkg -i rc=$rc in $(secs "$(ms $t0)") s; $(dpkg-query -W -f='${Package} ${Version} ${Status}' checkpointd 2>&1)" \
  eval '[ $rc = 0 ] && [ "$(dpkg-query -W -f="\${Status}" checkpointd)" = "install ok installed" ]'
[ $rc = 0 ] || info "dpkg -i: $(tail -5 "$O/dpkg-i.log" | tr '\n' ';')"
ids=$(id checkpointd 2>&1); pw=$(getent passwd checkpointd)
check deb-user "systemd-sysusers (dh_installsysusers): $ids; $pw" \
  eval '[[ "$ids" == *"(video)"* && "$ids" == *"(dialout)"* && "$ids" == *"gid="*"(checkpointd)"* && "$pw" == *:/var/lib/checkpointd:/usr/sbin/nologin ]] && [ "$(id -u checkpointd)" -lt 1000 ]'
missing=""
for f in /usr/bin/checkpointd /usr/bin/checkpointctl /lib/systemd/system/$U /lib/udev/rules.d/70-checkpointd.rules \
         $CONF /usr/share/doc/checkpointd/README.md /usr/share/man/man1/checkpointctl.1.gz \
         /usr/share/bash-completion/completions/checkpointctl /etc/checkpointd/checkpointd.toml.d; do
  [ -e "$f" ] || missing="$missing $f"; done
check deb-files "binaries, unit, udev rules, config, drop-in directory, README, man page, completion; no receiver${missing:+; missing:$missing}" \
  eval '[ -z "$missing" ] && [ ! -e /usr/bin/checkpoint-receiver ]'
cal=/etc/checkpointd/calibration/gy-mcu90640.toml
cf=$(dpkg-query -W -f='${Conffiles}' checkpointd | awk 'NF { print $1 }' | sort | tr '\n' ' ')
check deb-conffiles "conffiles: $cf; the calibration the config names, copied from its example (not a conffile): $(ls $cal 2>&1)" \
  eval '[ "$cf" = "/etc/checkpointd/checkpointd.toml /etc/default/checkpoint-kiosk " ] && cmp -s $cal /usr/share/checkpointd/calibration/gy-mcu90640.toml'
kid=$(id checkpoint-kiosk 2>&1)
check deb-kiosk-session "kiosk screen: $kid; unit $(systemctl is-enabled checkpoint-kiosk.service 2>&1)" \
  eval '[[ "$kid" == *"(video)"* && "$kid" == *"(input)"* && "$kid" == *"(render)"* ]] && [ "$(systemctl is-enabled checkpoint-kiosk.service)" = disabled ]'

# Started by the package, the unconfigured daemon stops at once: exit 78 (no restart loop), one line saying what to set.
waitfor $VM_WAIT '[ "$(P ActiveState)" = failed ]'
sleep 7   # > RestartSec=5s: a restart would have happened by now
says=$(jr | grep -F 'not configured')
check deb-unconfigured-78 "enabled: $(systemctl is-enabled $U 2>&1); $(state)" \
  eval '[ "$(systemctl is-enabled $U)" = enabled ] && [ "$(P ExecMainStatus)" = 78 ] && [ "$(P NRestarts)" = 0 ]'
check deb-unconfigured-one-line "journal: '$says'" \
  eval '[ "$(grep -c . <<< "$says")" = 1 ] && [[ "$says" == *kiosk.checkpoint_id* && "$says" == *upload.endpoint* && "$says" == *50-site.toml* ]]'
systemctl reset-failed $U 2>/dev/null

# --- The Swift runtime is inside the binaries ------------------------------------------------------------------
v=$(/usr/bin/checkpointd --version 2>&1); rc=$?
nf=$(ldd /usr/bin/checkpointd /usr/bin/checkpointctl 2>&1 | grep -E 'not found|swift' | tr -s '\t ' ' ' | tr '\n' ';')
check deb-static-swift "checkpointd --version without /opt/swift: '$v' (rc=$rc)${nf:+; ldd: $nf}" eval '[ $rc = 0 ] && [ -n "$v" ] && [ -z "$nf" ]'

# --- The face model: a wrong file refused (one line, exit 1, nothing written), the right one installed 0644 ---------
m=/usr/share/checkpointd/models/face_detection_yunet_2022mar.onnx
head -c 345478 /dev/urandom > /tmp/not-yunet.onnx
err=$(checkpointctl model install /tmp/not-yunet.onnx 2>&1 >/dev/null); rc=$?
check model-wrong-file "rc=$rc: '$err'" eval '[ $rc = 1 ] && [ "$(grep -c . <<< "$err")" = 1 ] && [[ "$err" == *sha256* ]] && [ ! -e $m ] && [ -z "$(ls /usr/share/checkpointd/models)" ]'
if [ -n "${MODEL:-}" ] && [ -f "$MODEL" ]; then
  out=$(checkpointctl model install "$MODEL" 2>&1); rc=$?
  check model-install "rc=$rc: '$out'; $(stat -c '%n %a %U:%G' $m 2>&1)" \
    eval '[ $rc = 0 ] && [ "$(stat -c %a:%U $m)" = 644:root ] && cmp -s "$MODEL" $m'
else info "no face model on this machine (../shared/models): checkpointctl model install not tried with the real file"; fi

# --- Site settings in a drop-in, as a technician would; start -------------------------------------------------------
mkconf "$SENSOR"
out=$(checkpointd --check-config 2>&1); rc=$?
check deb-check-config "checkpointd --check-config: rc=$rc '$(head -3 <<< "$out" | tr '\n' ' ')'" eval '[ $rc = 0 ]'
t0=$(date +%s%N); systemctl restart $U; rc=$?; dt=$(ms $t0)
check deb-start "start rc=$rc, READY after $(secs $dt) s: $(state)" eval '[ $rc = 0 ] && [ "$(P ActiveState)/$(P SubState)" = active/running ]'
waitfor $VM_WAIT '[[ "$(P StatusText)" == *"sensor ok"* ]]'
check deb-status "STATUS='$(P StatusText)'" eval '[[ "$(P StatusText)" == *"camera "*"sensor ok; queue "* ]]'
# A declaration the kiosk confirmed but could not upload yet (nothing listens at the endpoint).
decl='{"fullName":"LE VAN AN","birthYear":1979,"gender":"Nam","nation":"VN","provinceId":"19","wardId":"05436","address":"3 Quang Trung","phone":"0987654321","hasPatient":2,"hasFromSickCountry":2,"hasSick":2,"consent":true}'
answer=$(curl -s --max-time 60 --unix-socket /run/checkpointd/api.sock -H 'Content-Type: application/json' --data "$decl" http://localhost/v1/declarations)
rid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("id", ""))' "$answer" 2>/dev/null)
pending() { sqlite3 -readonly /var/lib/checkpointd/queue.sqlite 'SELECT count(*) FROM records' 2>&1; }
check deb-declaration-queued "POST answered id '$rid'; records not uploaded: $(pending)" eval '[ -n "$rid" ] && [ "$(pending)" = 1 ]'

# --- Reinstall: the site settings stay, the running daemon is restarted on the new files --------------------------
echo "# edited by the technician" >> "$SITE"
pid=$(P MainPID)
dpkg -i "$DEB" > "$O/dpkg-reinstall.log" 2>&1; rc=$?
waitfor $VM_WAIT '[ "$(P ActiveState)/$(P SubState)" = active/running ]'
check deb-reinstall "dpkg -i again rc=$rc: drop-in kept=$(grep -c 'edited by the technician' "$SITE"), MainPID $pid -> $(P MainPID), $(state)" \
  eval '[ $rc = 0 ] && grep -q "edited by the technician" "$SITE" && [ "$(P MainPID)" != "$pid" ] && [ "$(P ActiveState)" = active ]'

# --- dpkg -r: stopped, files gone, configuration and queue kept ------------------------------------------------
t0=$(date +%s%N)
dpkg -r checkpointd > "$O/dpkg-r.log" 2>&1; rc=$?
left=""; for f in /usr/bin/checkpointd /lib/systemd/system/$U /lib/udev/rules.d/70-checkpointd.rules; do [ -e "$f" ] && left="$left $f"; done
check deb-remove "dpkg -r rc=$rc in $(secs "$(ms $t0)") s, $(dpkg-query -W -f='${Status}' checkpointd 2>&1), service $(systemctl is-active $U 2>&1)${left:+, left:$left}" \
  eval '[ $rc = 0 ] && [ -z "$left" ] && [ "$(dpkg-query -W -f="\${Status}" checkpointd)" = "deinstall ok config-files" ] && ! pgrep -x checkpointd >/dev/null'
check deb-remove-keeps "kept: $(ls -d "$CONF" "$SITE" /var/lib/checkpointd/queue.sqlite 2>&1 | tr '\n' ' ')" \
  eval '[ -f "$CONF" ] && grep -q "edited by the technician" "$SITE" && [ -f /var/lib/checkpointd/queue.sqlite ] && getent passwd checkpointd >/dev/null'

# --- dpkg -P with a declaration not uploaded: the queue and the site settings stay, and it says so -----------------
dpkg -P checkpointd > "$O/dpkg-P.log" 2>&1; rc=$?
said=$(grep -F 'checkpointd:' "$O/dpkg-P.log" | tr '\n' ' ')
check deb-purge-keeps-pending "dpkg -P rc=$rc: '$said'; $(dpkg-query -W -f='${Status}' checkpointd 2>&1 | head -1); kept: $(ls -d /var/lib/checkpointd/queue.sqlite "$SITE" 2>&1 | tr '\n' ' ')" \
  eval '[ $rc = 0 ] && [ "$(pending)" = 1 ] && [ -f "$SITE" ] && [[ "$said" == *"1 declarations not uploaded (1 pending, 0 dead)"* && "$said" == *"kept /var/lib/checkpointd"* ]] && ! dpkg-query -W -f="\${Status}" checkpointd 2>/dev/null | grep -qE " (installed|config-files)\$"'

# --- Cannot tell (a queue database the daemon moved aside as damaged): kept too --------------------------------------
dpkg -i "$DEB" > "$O/dpkg-i3.log" 2>&1; systemctl stop $U
sqlite3 /var/lib/checkpointd/queue.sqlite 'DELETE FROM records'      # as if uploaded (a delivered record is deleted)
echo "not a database" > /var/lib/checkpointd/queue.sqlite.corrupt-1700000000
dpkg -P checkpointd > "$O/dpkg-P2.log" 2>&1; rc=$?
said=$(grep -F 'checkpointd:' "$O/dpkg-P2.log" | tr '\n' ' ')
check deb-purge-keeps-unknown "dpkg -P rc=$rc: '$said'" \
  eval '[ $rc = 0 ] && [ -d /var/lib/checkpointd ] && [[ "$said" == *"moved aside as damaged"* ]]'

# --- Nothing left to upload: purge removes the configuration and the queue ---------------------------------------------
dpkg -i "$DEB" > "$O/dpkg-i4.log" 2>&1; systemctl stop $U
rm -f /var/lib/checkpointd/queue.sqlite.corrupt-1700000000
dpkg -P checkpointd > "$O/dpkg-P3.log" 2>&1; rc=$?
left=$(ls -d /etc/checkpointd /var/lib/checkpointd /etc/systemd/system/*/checkpointd.service 2>/dev/null | tr '\n' ' ')
check deb-purge "dpkg -P rc=$rc, queue empty: $(dpkg-query -W -f='${Status}' checkpointd 2>&1 | head -1)${left:+, left: $left}; $(grep -F 'checkpointd:' "$O/dpkg-P3.log" | head -2 | tr '\n' ' ')" \
  eval '[ $rc = 0 ] && [ -z "$left" ] && ! dpkg-query -W -f="\${Status}" checkpointd 2>/dev/null | grep -qE " (installed|config-files)\$"'
info "after purge, the service users stay (Debian removes no system user): $(getent passwd checkpointd | cut -d: -f1,6)"
jr > "$O/journal-checkpointd.txt"
exit 0
