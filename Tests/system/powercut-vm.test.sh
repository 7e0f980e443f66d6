#!/usr/bin/env bash
# Power cuts while declarations are being queued: the queue's own code (`checkpointctl queue pump`: QueueStore.enqueue,
# one 30 KB face each, background WAL checkpoints running) writes to an ext4 disk in a QEMU/TCG VM and prints
# "confirmed ID" after each commit, as the daemon answers 201; the host pulls the plug (SIGKILL to QEMU) a few
# seconds after the 20th confirmation (waited for, however slow the machine), at a different moment each trial,
# mid-commit or mid-checkpoint. The guest's page cache dies with it and is never written back on its own
# (powercut/run-powercut-vm.sh), so only what was fsynced survives.
# Then, on the host: e2fsck replays the file system's journal, debugfs copies the queue out, and
#   - every confirmed record is in the queue (none lost), and nothing unconfirmed beyond the one commit in flight;
#   - SQLite's integrity check passes, and checkpointd's store opens it without moving it aside as corrupt.
# A control run proves the harness can see a loss: the same writes with synchronous=NORMAL (GRDB's WAL default, which
# the store overrides: commits are fsynced only at checkpoints, and the control runs none) must lose confirmed records.
# Env: POWERCUT_TRIALS (default 3). Kernel and initramfs are cached (/var/cache/checkpointd-vm-kernel,
# /var/cache/checkpointd-powercut-vm).
set -uo pipefail
: "${BIN:?BIN must point at the built binaries}"
HERE=$(cd "$(dirname "$0")" && pwd)
TRIALS=${POWERCUT_TRIALS:-3}
fails=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
for tool in mkfs.ext4 e2fsck debugfs sqlite3; do
  command -v "$tool" >/dev/null || { fail powercut-tools "missing $tool (make deps: e2fsprogs sqlite3)"; exit 1; }
done
W=$(mktemp -d /tmp/powercut.XXXXXX)
# KEEP_WORK=1 (or VM_KEEP=1) keeps the disk images, consoles and queues (printed path).
KEEP_WORK=${KEEP_WORK:-${VM_KEEP:-}}
if [ -n "$KEEP_WORK" ]; then echo "  info: work directory kept in $W"; else trap 'rm -rf "$W"' EXIT; fi

# The daemon's queue code, writing as fast as it can (each commit fsynced before "confirmed" is printed).
cat > "$W/pump.sh" <<G
mkdir -p /mnt/pc
exec "$BIN/checkpointctl" queue pump --db /mnt/pc/q.db --endpoint http://127.0.0.1:9/x --allow-insecure-http --no-upload \
  --count 100000 --face-bytes 30000 --interval-ms 0 --max-kib 300000
G
# The control: the same shape of writes through Python's sqlite3 with synchronous=NORMAL, confirming after each commit.
cat > "$W/control.py" <<'P'
import os, sqlite3, sys, uuid
os.makedirs("/mnt/pc", exist_ok=True)
db = sqlite3.connect("/mnt/pc/q.db", isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
db.execute("PRAGMA wal_autocheckpoint=0")  # NORMAL fsyncs only at checkpoints: with none, no commit is fsynced
db.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, face BLOB)")
face = os.urandom(30000)
for _ in range(100000):
    rid = str(uuid.uuid4())
    db.execute("INSERT INTO records (id, face) VALUES (?, ?)", (rid, face))
    print("confirmed", rid, flush=True)
P
echo "exec /usr/bin/python3 $W/control.py" > "$W/control.sh"

# trial NAME GUEST KILL_AFTER: one cut; leaves $W/NAME.confirmed, $W/NAME.stored (lower-case ids) and $W/NAME.out/.
trial() {
  local name=$1 guest=$2 after=$3 rc
  rm -f "$W/disk.img"; truncate -s 512M "$W/disk.img"; mkfs.ext4 -q -F "$W/disk.img"
  local s; s=$(date +%s)
  MIN_CONFIRMED=20 bash "$HERE/powercut/run-powercut-vm.sh" "$W/disk.img" "$guest" "$W/$name.console" "$after" > "$W/$name.vm" 2>&1
  rc=$?
  echo "  $name: VM $(( $(date +%s) - s )) s, cut $after s after the 20th confirmation (rc=$rc)"
  if [ "$rc" != 0 ]; then
    echo "  --- the VM runner:"; tail -15 "$W/$name.vm" | sed 's/^/  | /'
    echo "  --- the guest's serial console (last 60 lines of $(wc -l < "$W/$name.console" 2>/dev/null || echo 0)):"
    tail -60 "$W/$name.console" 2>/dev/null | tr -d '\r' | cut -c1-400 | sed 's/^/  | /'
    [ -n "$KEEP_WORK" ] || echo "  (rerun with KEEP_WORK=1 to keep the work directory)"
    return 1
  fi
  # Complete lines only: the cut can fall in the middle of the last one.
  tr -d '\r' < "$W/$name.console" | grep -aE '^confirmed [0-9a-fA-F-]{36}$' | awk '{ print tolower($2) }' | sort -u > "$W/$name.confirmed"
  e2fsck -fy "$W/disk.img" > "$W/$name.fsck" 2>&1; rc=$?
  [ "$rc" -lt 4 ] || { echo "  | e2fsck exit $rc:"; tail -5 "$W/$name.fsck" | sed 's/^/  | /'; return 1; }
  mkdir -p "$W/$name.out"
  debugfs -R "rdump /pc $W/$name.out" "$W/disk.img" > /dev/null 2>&1
  return 0
}

# The record ids in a queue file (none if the cut took the file itself).
ids() { [ -f "$1" ] && sqlite3 "$1" "SELECT lower(id) FROM records" 2>/dev/null | sort -u; true; }

for i in $(seq "$TRIALS"); do
  # A different moment each trial: 2–7 s after the 20th confirmation, to the millisecond.
  after=$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.3f", 2 + rand() * 5 }')
  name=cut$i
  if ! trial "$name" "$W/pump.sh" "$after"; then fail "powercut-$i-ran" "the VM run did not end in a cut after confirmations"; continue; fi
  q=$W/$name.out/pc
  n=$(wc -l < "$W/$name.confirmed")
  [ -f "$q/q.db" ] || { fail "powercut-$i-queue-file" "the queue file is not on the disk after the cut ($n confirmed)"; continue; }
  # checkpointd's own store opens what the cut left: recovery, integrity_check, no quarantine.
  status=$("$BIN/checkpointctl" queue status --db "$q/q.db" 2>&1)
  corrupt=$(ls "$q" | grep -c 'corrupt' || true)
  ids "$q/q.db" > "$W/$name.stored"
  lost=$(comm -23 "$W/$name.confirmed" "$W/$name.stored" | wc -l)
  extra=$(comm -13 "$W/$name.confirmed" "$W/$name.stored" | wc -l)
  integrity=$(sqlite3 "$q/q.db" "PRAGMA integrity_check")
  echo "  $name: $n confirmed, $(wc -l < "$W/$name.stored") stored, $lost lost, $extra stored but unconfirmed; e2fsck: $(grep -c 'recovering journal' "$W/$name.fsck") journal replay(s)"
  [ "$n" -ge 20 ] || fail "powercut-$i-enough-writes" "only $n confirmations before the cut"
  [ "$lost" = 0 ] && pass "powercut-$i-no-confirmed-record-lost ($n confirmed)" \
    || fail "powercut-$i-no-confirmed-record-lost" "$lost of $n confirmed records are gone: $(comm -23 "$W/$name.confirmed" "$W/$name.stored" | head -3 | tr '\n' ' ')"
  # At most the record whose commit was in flight (fsynced, its confirmation not yet printed) may be extra.
  [ "$extra" -le 1 ] && pass "powercut-$i-nothing-extra" || fail "powercut-$i-nothing-extra" "$extra records stored that were never confirmed"
  [ "$integrity" = ok ] && echo "$status" | grep -q '^integrity: *ok' && [ "$corrupt" = 0 ] \
    && pass "powercut-$i-queue-intact (integrity_check ok, opened by checkpointctl without quarantine)" \
    || fail "powercut-$i-queue-intact" "sqlite: $integrity; checkpointctl: $(echo "$status" | tr '\n' ' ' | cut -c1-200); quarantined files: $corrupt"
done

# The control: without an fsync per commit, the same cut must lose confirmed records, or this harness could not see a loss.
if trial control "$W/control.sh" 4; then
  n=$(wc -l < "$W/control.confirmed")
  lost=$(comm -23 "$W/control.confirmed" <(ids "$W/control.out/pc/q.db") | wc -l)
  echo "  control (synchronous=NORMAL): $n confirmed, $lost lost"
  [ "$lost" -gt 0 ] && pass "powercut-control-harness-sees-loss ($lost of $n confirmed lost with synchronous=NORMAL)" \
    || fail powercut-control-harness-sees-loss "a cut with synchronous=NORMAL lost nothing of $n: the harness cannot tell"
else
  fail powercut-control-ran "the control VM run did not end in a cut after confirmations"
fi
[ "$fails" = 0 ]
