#!/bin/bash
# kill -9 of a process enqueuing and uploading at random moments, against a receiver that sometimes answers 503 or a
# gateway's 200 page; afterwards every confirmed record must be at the receiver exactly once (after dedup), the
# queue database must pass integrity_check, and every stored record must match the contract (openapi.yaml).
# TRIALS (default 200) sets the number of kills; `TRIALS=2000` is the stress variant.
set -u
BIN=${BIN:?BIN must point at the build products}
TRIALS=${TRIALS:-200}
W=$(mktemp -d /tmp/uplink-crash.XXXXXX)
trap 'kill $RPID 2>/dev/null; wait $RPID 2>/dev/null; rm -rf "$W"' EXIT
fail() { echo "FAIL uplink-crash: $*"; exit 1; }

# The receiver also fails 10 % of requests, with a 503 or with a gateway's "200 OK" page that carries no receipt
# (a captive portal, a proxy answering for the server), so kills land in retries too and a 200 that is not a
# delivery must lose nothing.
"$BIN/checkpoint-receiver" test-stand --port 0 --db "$W/recv.db" --fail-status 503,200 --fail-rate 0.1 --retry-after 0 >"$W/recv.out" 2>"$W/recv.err" &
RPID=$!
for _ in $(seq 600); do grep -q "listening on" "$W/recv.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/listening on/{print $3}' "$W/recv.out")
[ -n "$PORT" ] || fail "receiver did not start: $(cat "$W/recv.err")"
URL="http://127.0.0.1:$PORT/v1/records"

: >"$W/confirmed"
for i in $(seq "$TRIALS"); do
  "$BIN/checkpointctl" queue pump --db "$W/q.db" --endpoint "$URL" --allow-insecure-http --count 40 --interval-ms 1 \
      --face-bytes 3000 >"$W/out.$i" 2>"$W/err.$i" &
  P=$!
  # a random moment 0.2–1.2 s after start (start-up takes ~0.5 s): during open, enqueue, upload or drain
  sleep "$(awk -v r=$RANDOM 'BEGIN{printf "%.3f", 0.2 + (r % 1000) / 1000}')"
  kill -9 "$P" 2>/dev/null
  wait "$P" 2>/dev/null
  grep '^confirmed ' "$W/out.$i" | awk '{print $2}' >>"$W/confirmed"
  if grep -q -i "fatal\|corrupt" "$W/err.$i"; then fail "trial $i: $(head -3 "$W/err.$i")"; fi
  rm -f "$W/out.$i" "$W/err.$i"
done
CONFIRMED=$(sort -u "$W/confirmed" | wc -l)
[ "$CONFIRMED" -gt 0 ] || fail "no record was ever confirmed"

# Integrity of the queue after all those kills.
IC=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])" "$W/q.db")
[ "$IC" = "ok" ] || fail "integrity_check after $TRIALS kills: $IC"
MODE=$(stat -c %a "$W/q.db"); [ "$MODE" = "600" ] || fail "queue db mode is $MODE, expected 600"

# Link stays up: drain what is left.
"$BIN/checkpointctl" queue drain --db "$W/q.db" --endpoint "$URL" --allow-insecure-http --timeout 400 >"$W/drain.out" 2>&1 \
  || fail "drain did not empty the queue: $(cat "$W/drain.out")"

python3 - "$W/recv.db" "$W/confirmed" <<'PY' || exit 1
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT id, duplicates FROM received").fetchall()
received = {r[0] for r in rows}
confirmed = {l.strip() for l in open(sys.argv[2]) if l.strip()}
missing = confirmed - received
dups = sum(r[1] for r in rows)
if len(rows) != len(received):
    print("FAIL uplink-crash: receiver holds a key twice"); sys.exit(1)
if missing:
    print(f"FAIL uplink-crash: {len(missing)} confirmed record(s) never reached the receiver, e.g. {sorted(missing)[:3]}"); sys.exit(1)
print(f"uplink-crash: {len(confirmed)} confirmed, {len(received)} received once each, {dups} duplicate upload(s) absorbed by Idempotency-Key")
PY
HERE=$(cd "$(dirname "$0")" && pwd)
/usr/bin/python3 "$HERE/lib/contract.py" "$HERE/../../Sources/checkpoint-receiver/openapi.yaml" "$W/recv.db" || fail "records do not match the contract"
echo "PASS uplink-crash ($TRIALS kill -9 trials)"
