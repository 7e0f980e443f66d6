#!/bin/bash
# Runs INSIDE the VM (systemd 252 as PID 1, this machine's Debian 12 userspace on an overlay), as root, from
# run-systemd-vm.sh. Env: REPO, DEB (the package built by `make deb`). /opt/swift is hidden first, so the
# package's binaries must run with the Swift runtime linked in. Then: dpkg -i, the user, files, conffiles,
# enablement, a start with a written config, a reinstall over an edited config, dpkg -r, dpkg -P.
set -u
. "$REPO/Tests/system/systemd/guest-lib.sh" || { echo "guest: cannot read $REPO/Tests/system/systemd/guest-lib.sh: the repository is not visible in the VM"; exit 97; }

mount -t tmpfs -o ro,size=1m,mode=0755 noswift /opt/swift 2>/dev/null
check no-swift-toolchain "/opt/swift hidden: $(ls /opt/swift | wc -l) entries, $(command -v swift || echo 'no swift on PATH')" \
  eval '[ ! -e /opt/swift/usr/lib/swift/linux/libswiftCore.so ]'

# --- dpkg -i -----------------------------------------------------------------------------------------------
t0=$(date +%s%N)
dpkg -i "$DEB" > "$O/dpkg-i.log" 2>&1; rc=$?
check dpkg-install "dpkg -i rc=$rc in $(secs "$(ms $t0)") s; $(dpkg-query -W -f='${Package} ${Version} ${Status}' checkpointd 2>&1)" \
  eval '[ $rc = 0 ] && [ "$(dpkg-query -W -f="\${Status}" checkpointd)" = "install ok installed" ]'
[ $rc = 0 ] || info "dpkg -i: $(tail -5 "$O/dpkg-i.log" | tr '\n' ';')"
ids=$(id checkpointd 2>&1); pw=$(getent passwd checkpointd)
check deb-user "$ids; $pw" \
  eval '[[ "$ids" == *"(video)"* && "$ids" == *"(dialout)"* && "$ids" == *"gid="*"(checkpointd)"* && "$pw" == *:/var/lib/checkpointd:/usr/sbin/nologin ]] && [ "$(id -u checkpointd)" -lt 1000 ]'
missing=""
for f in /usr/bin/checkpointd /usr/bin/checkpointctl /usr/bin/checkpoint-receiver /lib/systemd/system/$U \
         /lib/udev/rules.d/70-checkpointd.rules /etc/checkpointd/checkpointd.toml /usr/share/doc/checkpointd/README.md; do
  [ -e "$f" ] || missing="$missing $f"; done
check deb-files "binaries, unit, udev rules, config, README${missing:+; missing:$missing}" eval '[ -z "$missing" ] && ls /etc/checkpointd/calibration/*.toml >/dev/null'
cf=$(dpkg-query -W -f='${Conffiles}' checkpointd | awk 'NF { print $1 }' | tr '\n' ' ')
check deb-conffiles "dpkg knows the conffiles: $cf" eval '[[ " $cf " == *" /etc/checkpointd/checkpointd.toml "* && "$cf" == */etc/checkpointd/calibration/*.toml* ]]'
check deb-enabled "enabled at boot, not started before it is configured: $(systemctl is-enabled $U 2>&1), $(systemctl is-active $U 2>&1)" \
  eval '[ "$(systemctl is-enabled $U)" = enabled ] && [ "$(systemctl is-active $U)" = inactive ]'
kid=$(id checkpoint-kiosk 2>&1)
check deb-kiosk-session "kiosk screen: $kid; unit $(systemctl is-enabled checkpoint-kiosk.service 2>&1)" \
  eval '[[ "$kid" == *"(video)"* && "$kid" == *"(input)"* && "$kid" == *"(render)"* ]] && [ "$(systemctl is-enabled checkpoint-kiosk.service)" = disabled ]'

# --- The Swift runtime is inside the binaries ------------------------------------------------------------------
v=$(/usr/bin/checkpointd --version 2>&1); rc=$?
nf=$(ldd /usr/bin/checkpointd /usr/bin/checkpointctl /usr/bin/checkpoint-receiver 2>&1 | grep -E 'not found|swift' | tr -s '\t ' ' ' | tr '\n' ';')
check deb-static-swift "checkpointd --version without /opt/swift: '$v' (rc=$rc)${nf:+; ldd: $nf}" eval '[ $rc = 0 ] && [ -n "$v" ] && [ -z "$nf" ]'

# --- Configure and start, as a technician would ---------------------------------------------------------------
setup_devices
cp "$CONF" "$O/shipped.toml"
mkconf "$O/shipped.toml" "$SENSOR"
out=$(/usr/bin/checkpointd --check-config "$CONF" 2>&1); rc=$?
check deb-check-config "checkpointd --check-config: rc=$rc '$out'" eval '[ $rc = 0 ]'
t0=$(date +%s%N); systemctl start $U; rc=$?; dt=$(ms $t0)
check deb-start "start rc=$rc, READY after $(secs $dt) s (release build): $(state)" eval '[ $rc = 0 ] && [ "$(P ActiveState)/$(P SubState)" = active/running ]'
waitfor $VM_WAIT '[[ "$(P StatusText)" == *"sensor ok"* ]]'
check deb-status "STATUS='$(P StatusText)'" eval '[[ "$(P StatusText)" == *"camera "*"sensor ok; queue "* ]]'

# --- Reinstall over an edited config: the edit stays, the running daemon is restarted on the new files --------
echo "# edited by the technician" >> "$CONF"
pid=$(P MainPID)
dpkg -i "$DEB" > "$O/dpkg-reinstall.log" 2>&1; rc=$?
waitfor $VM_WAIT '[ "$(P ActiveState)/$(P SubState)" = active/running ]'
check deb-reinstall "dpkg -i again rc=$rc: config edit kept=$(grep -c 'edited by the technician' "$CONF"), MainPID $pid -> $(P MainPID), $(state)" \
  eval '[ $rc = 0 ] && grep -q "edited by the technician" "$CONF" && [ "$(P MainPID)" != "$pid" ] && [ "$(P ActiveState)" = active ]'

# --- dpkg -r: stopped, files gone, configuration and queue kept ------------------------------------------------
t0=$(date +%s%N)
dpkg -r checkpointd > "$O/dpkg-r.log" 2>&1; rc=$?
left=""; for f in /usr/bin/checkpointd /lib/systemd/system/$U /lib/udev/rules.d/70-checkpointd.rules; do [ -e "$f" ] && left="$left $f"; done
check deb-remove "dpkg -r rc=$rc in $(secs "$(ms $t0)") s, $(dpkg-query -W -f='${Status}' checkpointd 2>&1), service $(systemctl is-active $U 2>&1)${left:+, left:$left}" \
  eval '[ $rc = 0 ] && [ -z "$left" ] && [ "$(dpkg-query -W -f="\${Status}" checkpointd)" = "deinstall ok config-files" ] && ! pgrep -x checkpointd >/dev/null'
check deb-remove-keeps "kept: $(ls -d "$CONF" /var/lib/checkpointd/queue.sqlite 2>&1 | tr '\n' ' ')" \
  eval 'grep -q "edited by the technician" "$CONF" && [ -f /var/lib/checkpointd/queue.sqlite ] && getent passwd checkpointd >/dev/null'

# --- dpkg -P: configuration, queue, enablement and user gone ---------------------------------------------------
dpkg -P checkpointd > "$O/dpkg-P.log" 2>&1; rc=$?
left=$(ls -d /etc/checkpointd /var/lib/checkpointd /etc/systemd/system/*/checkpointd.service 2>/dev/null | tr '\n' ' ')
check deb-purge "dpkg -P rc=$rc, $(dpkg-query -W -f='${Status}' checkpointd 2>&1 | head -1)${left:+, left: $left}, user: $(getent passwd checkpointd || echo gone)" \
  eval '[ $rc = 0 ] && [ -z "$left" ] && ! getent passwd checkpointd >/dev/null && ! dpkg-query -W -f="\${Status}" checkpointd 2>/dev/null | grep -qE " (installed|config-files)\$"'
jr > "$O/journal-checkpointd.txt"
exit 0
