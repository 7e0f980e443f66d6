#!/usr/bin/env bash
# The receiver on PostgreSQL, scaled out: a real PostgreSQL server (Debian's postgresql, initdb/pg_ctl as the
# unprivileged `postgres` user, on loopback in a temp dir) and two receivers on that one database. Two kiosks hold
# the same 60 records (one queue copied) and drain them at the same time, one to each receiver, then both again
# (every record a duplicate by then): each record is stored exactly once, every duplicate answered 200 with its
# receipt (both queues end empty, nothing dead-lettered), the duplicates counted. Heartbeats from one device
# through both receivers leave one row, the latest. A receiver restarted on the same database finds its tables.
# The receivers reach PostgreSQL over verified TLS only: the server has a certificate from a test CA made here with
# openssl (ssl=on; pg_hba takes TCP only as hostssl), the receivers connect with sslmode=verify-full and that CA; a
# receiver given another CA, or a plain TCP connection, refuses to start with a one-line error.
set -uo pipefail
: "${BIN:?BIN must point at the built binaries}"
CTL="$BIN/checkpointctl"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fails=0
pass() { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; fails=1; }
[ -x "$PGBIN/initdb" ] || { echo "FAIL receiver-postgres: no PostgreSQL server (make deps: postgresql)"; exit 1; }
id postgres >/dev/null 2>&1 || { echo "FAIL receiver-postgres: no postgres user (make deps: postgresql)"; exit 1; }

W=$(mktemp -d /tmp/receiver-postgres.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ -f "$W/pg/postmaster.pid" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/pg" -m immediate stop >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$W/pg" "$W/sock" && chown postgres: "$W/pg" "$W/sock" 2>/dev/null
as_pg "$PGBIN/initdb" -D "$W/pg" -U ckpt --auth=trust -E UTF8 >"$W/initdb.log" 2>&1 || { echo "FAIL receiver-postgres: initdb: $(tail -3 "$W/initdb.log")"; exit 1; }
# A test CA and the server's certificate (for localhost), and another CA the server's certificate is not from.
tls_ok=1
for ca in ca other-ca; do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/$ca.key" -out "$W/$ca.pem" -days 2 -subj "/CN=checkpoint test $ca" >/dev/null 2>&1 || tls_ok=0
done
openssl req -newkey rsa:2048 -nodes -keyout "$W/pg/server.key" -out "$W/server.csr" -subj "/CN=localhost" >/dev/null 2>&1 || tls_ok=0
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$W/san.ext"
openssl x509 -req -in "$W/server.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -out "$W/pg/server.crt" -days 2 \
  -extfile "$W/san.ext" >/dev/null 2>&1 || tls_ok=0
[ $tls_ok = 1 ] || { echo "FAIL receiver-postgres: openssl could not make the test CA and certificates"; exit 1; }
chmod 600 "$W/pg/server.key"; chown postgres: "$W/pg/server.key" "$W/pg/server.crt" 2>/dev/null
cat >>"$W/pg/postgresql.conf" <<CONF
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
CONF
cat >"$W/pg/pg_hba.conf" <<HBA
local     all all                trust
hostssl   all all 127.0.0.1/32   trust
hostssl   all all ::1/128        trust
hostnossl all all 0.0.0.0/0      reject
hostnossl all all ::/0           reject
HBA
as_pg "$PGBIN/pg_ctl" -D "$W/pg" -l "$W/sock/pg.log" -w -o "-h 127.0.0.1 -p $PGPORT -k $W/sock -c fsync=on" start >/dev/null 2>&1 \
  || { echo "FAIL receiver-postgres: pg_ctl start: $(tail -5 "$W/sock/pg.log" 2>/dev/null)"; exit 1; }
psql_() { PGSSLMODE=require "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U ckpt -d postgres -At -c "$1"; }
pass "postgres-started (PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT)"

DSN="postgres://ckpt@localhost:$PGPORT/postgres?sslmode=verify-full&sslrootcert=$W/ca.pem"
# Refusals first: another CA, and plain TCP (which pg_hba rejects): each stops the start with one line naming why.
refuses() {  # name dsn grep-pattern
  timeout 60 "$BIN/checkpoint-receiver" --port 0 --postgres "$2" >"$W/$1.out" 2>"$W/$1.err"
  local rc=$? lines msg
  lines=$(grep -c . "$W/$1.err"); msg=$(cat "$W/$1.err")
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$lines" = 1 ] && ! grep -q listening "$W/$1.out" && grep -qiE "$3" "$W/$1.err"; then
    pass "$1 (exit $rc: $msg)"
  else bad "$1" "exit $rc, $lines lines: $msg $(cat "$W/$1.out")"; fi
}
refuses postgres-wrong-ca-refused "postgres://ckpt@localhost:$PGPORT/postgres?sslmode=verify-full&sslrootcert=$W/other-ca.pem" "does not verify against the CA in $W/other-ca.pem"
refuses postgres-plain-tcp-refused "postgres://ckpt@127.0.0.1:$PGPORT/postgres" "pg_hba.conf.*no encryption|refused.*encryption"
# One stills directory for all (shared, as the faces directory would be); the still requests live in the database.
launch() { "$BIN/checkpoint-receiver" --port 0 --postgres "$DSN" --stills "$W/stills" >"$W/$1.out" 2>"$W/$1.err" & PIDS+=($!); }
port_of() {  # name → its port, once it listens
  for _ in $(seq 600); do grep -q "listening on" "$W/$1.out" 2>/dev/null && break; sleep 0.1; done
  awk '/listening on/{print $3}' "$W/$1.out"
}
# Both at once: the table creation takes turns.
launch a; launch b
PORT_a=$(port_of a); PORT_b=$(port_of b)
[ -n "$PORT_a" ] && [ -n "$PORT_b" ] && pass "two-receivers-on-one-database (started together over verify-full TLS; ports $PORT_a, $PORT_b)" \
  || { bad two-receivers-on-one-database "$(cat "$W"/*.err | tail -5)"; exit 1; }

N=60
"$CTL" queue pump --db "$W/k1.db" --endpoint http://127.0.0.1:9/x --allow-insecure-http --no-upload --count $N --face-bytes 2000 --interval-ms 0 >/dev/null 2>&1
cp "$W/k1.db" "$W/k2.db"
drain() { "$CTL" queue drain --db "$W/$1.db" --endpoint "http://127.0.0.1:$2/v1/records" --allow-insecure-http --timeout 120 >"$W/$1.drain" 2>&1; }
drain k1 "$PORT_a" & d1=$!; drain k2 "$PORT_b" & d2=$!; wait $d1 $d2
stored=$(psql_ "SELECT count(*), count(DISTINCT id), sum(duplicates) FROM received")
pending() { "$CTL" queue status --db "$1" | awk '/^pending:/{print $2}'; }
dead() { "$CTL" queue status --db "$1" | awk '/^dead letter:/{print $3}'; }
[ "$stored" = "$N|$N|$N" ] && pass "same-records-to-both-stored-once ($N records x 2 receivers: $N rows, $N duplicates absorbed)" \
  || bad same-records-to-both-stored-once "count|distinct|duplicates = $stored (want $N|$N|$N)"
[ "$(pending "$W/k1.db")/$(dead "$W/k1.db")" = "0/0" ] && [ "$(pending "$W/k2.db")/$(dead "$W/k2.db")" = "0/0" ] \
  && pass "duplicates-answered-with-receipts (both kiosks emptied their queues, nothing dead-lettered)" \
  || bad duplicates-answered-with-receipts "k1 $(pending "$W/k1.db")/$(dead "$W/k1.db") k2 $(pending "$W/k2.db")/$(dead "$W/k2.db")"

# A key reused with a different record is refused by either receiver.
rid=$(psql_ "SELECT id FROM received LIMIT 1")
code=$(python3 - "$PORT_b" "$rid" <<'PY'
import json, sys, urllib.request, urllib.error
port, rid = sys.argv[1], sys.argv[2]
rec = {"id": rid, "checkpointId": "other", "deviceId": "other", "softwareVersion": "x", "faceCaptured": False,
       "clock": {"wallTime": "2026-12-07T00:00:00.000Z", "clockSynced": True, "bootId": "b", "monotonicNanos": 1},
       "screening": {"result": "unavailable", "flags": ["no-screening-id"]},
       "declaration": {"fullName": "X", "birthYear": 1990, "gender": "Nam", "nation": "VN", "provinceId": "19", "wardId": "1",
                       "address": "x", "phone": "0912345678", "hasPatient": 2, "hasFromSickCountry": 2, "hasSick": 2, "consent": True}}
b = "B0undary"
body = (f"--{b}\r\nContent-Disposition: form-data; name=\"record\"\r\nContent-Type: application/json\r\n\r\n" + json.dumps(rec) + f"\r\n--{b}--\r\n").encode()
req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/records", data=body, method="POST",
                             headers={"Content-Type": f"multipart/form-data; boundary={b}", "Idempotency-Key": rid})
try:
    print(urllib.request.urlopen(req).status)
except urllib.error.HTTPError as e:
    print(e.code)
PY
)
[ "$code" = 422 ] && pass "reused-key-refused (422 from the other receiver)" || bad reused-key-refused "HTTP $code"

# Heartbeats of one device through both receivers: one row, the latest.
hb() {  # port depth
  python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request
port, depth = sys.argv[1], int(sys.argv[2])
h = {"deviceId": "TN-K09", "checkpointId": "TN-03", "softwareVersion": "1", "sentAt": "2026-12-07T00:00:00Z", "clockSynced": True,
     "bootId": "b", "sequence": depth, "reason": "interval", "changes": [], "uptimeSeconds": 5,
     "health": {"overall": "ok", "stages": []}, "sensor": {"connected": True, "warmUpRemainingSeconds": 0},
     "calibration": {"id": "c"}, "queue": {"depth": depth, "deadLetters": 0, "alert": False}, "freeDiskBytes": 1,
     "screenings": {"normal": 0, "elevated": 0, "invalid": 0}}
req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/heartbeats", data=json.dumps(h).encode(), method="POST",
                             headers={"Content-Type": "application/json"})
r = urllib.request.urlopen(req)
print(r.status, json.dumps(json.load(r).get("stillRequest")))
PY
}
hb "$PORT_a" 1 >/dev/null; hb "$PORT_b" 2 >/dev/null
rows=$(psql_ "SELECT count(*) FROM heartbeats WHERE device_id = 'TN-K09'")
depth=$(curl -s "http://127.0.0.1:$PORT_a/v1/fleet" | python3 -c 'import json,sys; print([k["queueDepth"] for k in json.load(sys.stdin)["kiosks"] if k["deviceId"]=="TN-K09"])')
[ "$rows" = 1 ] && [ "$depth" = "[2]" ] && pass "heartbeats-latest-per-device-across-receivers (1 row; receiver A shows B's newer one)" \
  || bad heartbeats-latest-per-device-across-receivers "rows $rows, fleet depth $depth"

# A monitoring-still request made on A is handed out by B on the kiosk's next heartbeat, once; the kiosk's refusal
# reaches A; both show it (the request lives in the database, not in one receiver's memory).
req_id=$(curl -s -X POST "http://127.0.0.1:$PORT_a/v1/fleet/TN-K09/still-requests" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requestId"])')
on_b=$(hb "$PORT_b" 3); on_a=$(hb "$PORT_a" 4)
refused=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data "{\"deviceId\":\"TN-K09\",\"requestId\":\"$req_id\",\"reason\":\"disabled\"}" "http://127.0.0.1:$PORT_a/v1/monitoring/still-refusals")
state_b=$(curl -s "http://127.0.0.1:$PORT_b/v1/fleet" | python3 -c 'import json,sys; print([k["still"]["request"] for k in json.load(sys.stdin)["kiosks"] if k["deviceId"]=="TN-K09"])')
rows=$(psql_ "SELECT count(*) FROM still_requests WHERE device_id = 'TN-K09' AND request_id = '$req_id' AND state = 'refused'")
[ -n "$req_id" ] && [ "$on_b" = "200 {\"id\": \"$req_id\"}" ] && [ "$on_a" = "200 null" ] && [ "$refused" = 204 ] && [ "$state_b" = "['refused']" ] && [ "$rows" = 1 ] \
  && pass "still-request-across-receivers (asked on A, handed out once by B, refusal on A, B shows refused, 1 row)" \
  || bad still-request-across-receivers "id '$req_id', B's reply '$on_b', A's reply '$on_a', refusal HTTP $refused, B shows $state_b, rows $rows"

# Restart: the tables are found, the records still there.
kill "${PIDS[0]}" 2>/dev/null; wait "${PIDS[0]}" 2>/dev/null
launch c; PORT_c=$(port_of c)
n=$(curl -s "http://127.0.0.1:$PORT_c/v1/records" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
[ "$n" = "$N" ] && pass "receiver-restart-keeps-records ($n)" || bad receiver-restart-keeps-records "count $n"
tls=$(psql_ "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.client_addr IS NOT NULL AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'")
[ -n "$tls" ] && [ "${tls%|*}" = "${tls#*|}" ] && [ "${tls#*|}" -gt 0 ] && pass "receiver-connections-encrypted (TLS on $tls of the receivers' connections)" \
  || bad receiver-connections-encrypted "TLS|all = $tls"

exit $fails
