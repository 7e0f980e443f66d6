#!/bin/bash
# The libcurl uploader against the reference receiver on 127.0.0.1: HTTP, HTTPS and mutual TLS with certificates
# made here by openssl; 503 + Retry-After, 500s, 422 (dead letter), a stall mid-body and connection resets (a tiny
# faulty proxy); the server down then back (backlog drains, nothing lost or duplicated); a full queue.
# Heartbeats run beside the declarations where faults are injected (503, 500s, stall and resets, the outage), every
# second on their own connection as the daemon sends them: the declarations keep every guarantee and timing they have
# without them, and after the outage the receiver holds the kiosk's current heartbeat, not a replayed backlog.
set -u
BIN=${BIN:?BIN must point at the build products}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/uplink-faults.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$W"; }
trap cleanup EXIT
FAILED=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; FAILED=1; }
CTL="$BIN/checkpointctl"
HB=(--heartbeat-interval 1)

# start_receiver NAME ARGS… → sets PORT and RPID. Fault options (--fail-status …) run it as the test stand
# (`checkpoint-receiver test-stand`), the only mode that injects faults.
start_receiver() {
  local name=$1; shift
  local mode=(); [[ " $* " == *" --fail-status "* ]] && mode=(test-stand)
  "$BIN/checkpoint-receiver" "${mode[@]}" --port 0 --db "$W/$name.db" "$@" >"$W/$name.out" 2>"$W/$name.err" &
  RPID=$!; PIDS+=("$RPID")
  for _ in $(seq 600); do grep -q "listening on" "$W/$name.out" 2>/dev/null && break; sleep 0.1; done
  PORT=$(awk '/listening on/{print $3}' "$W/$name.out")
  [ -n "$PORT" ] || { echo "receiver $name did not start: $(cat "$W/$name.err")"; exit 1; }
}
stop_receiver() { kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; }
received() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM received').fetchone()[0])" "$W/$1.db"; }
pending() { "$CTL" queue status --db "$1" | awk '/^pending:/{print $2}'; }
dead() { "$CTL" queue status --db "$1" | awk '/^dead letter:/{print $3}'; }
enqueue() { "$CTL" queue pump --db "$1" --endpoint http://127.0.0.1:9/unused --allow-insecure-http --no-upload --count "$2" \
              --face-bytes "${3:-30000}" --interval-ms 0 >"$W/pump.out" 2>&1; grep -c '^confirmed' "$W/pump.out"; }

# --- certificates: a private CA, a server cert for 127.0.0.1, a client cert; and an unrelated CA ---
cd "$W"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=uplink test CA" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj "/CN=other CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf "subjectAltName=IP:127.0.0.1,DNS:localhost\n" >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
# The client certificate names its device: `queue pump` records are device "pump"; "kiosk-other" is another kiosk.
openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=pump" 2>/dev/null
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout other-client.key -out other-client.csr -subj "/CN=kiosk-other" 2>/dev/null
openssl x509 -req -in other-client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out other-client.pem -days 2 2>/dev/null
chmod 600 ./*.key
[ -s server.pem ] && [ -s client.pem ] || { echo "FAIL uplink-faults: openssl could not make certificates"; exit 1; }

# --- plain HTTP (explicit insecure flag) ---
start_receiver http
n=$(enqueue "$W/http.q" 10)
"$CTL" queue drain --db "$W/http.q" --endpoint "http://127.0.0.1:$PORT/v1/records" --allow-insecure-http --timeout 30 >/dev/null 2>&1
r=$(received http)
[ "$n" = 10 ] && [ "$r" = 10 ] && [ "$(pending "$W/http.q")" = 0 ] && pass uplink-http || fail uplink-http "enqueued $n, received $r"
if "$CTL" queue drain --db "$W/http.q" --endpoint "http://127.0.0.1:$PORT/v1/records" --timeout 5 >"$W/o" 2>&1; then
  fail uplink-http-refused-without-flag "plain http:// accepted without --allow-insecure-http"
else grep -q "allow-insecure-http" "$W/o" && pass uplink-http-refused-without-flag || fail uplink-http-refused-without-flag "$(cat "$W/o")"; fi
stop_receiver

# --- HTTPS with mutual TLS ---
start_receiver mtls --tls-cert server.pem --tls-key server.key --client-ca ca.pem
URL="https://127.0.0.1:$PORT/v1/records"
enqueue "$W/mtls.q" 5 >/dev/null
# no client certificate: the handshake fails, nothing is lost
"$CTL" queue drain --db "$W/mtls.q" --endpoint "$URL" --ca-file ca.pem --timeout 3 >/dev/null 2>&1
[ "$(received mtls)" = 0 ] && [ "$(pending "$W/mtls.q")" = 5 ] && pass uplink-mtls-requires-client-cert \
  || fail uplink-mtls-requires-client-cert "received $(received mtls) without a client certificate"
# wrong CA: server not trusted, nothing sent, nothing lost
"$CTL" queue drain --db "$W/mtls.q" --endpoint "$URL" --ca-file other.pem --client-cert client.pem --client-key client.key --timeout 3 >/dev/null 2>&1
[ "$(received mtls)" = 0 ] && [ "$(pending "$W/mtls.q")" = 5 ] && pass uplink-tls-verifies-server \
  || fail uplink-tls-verifies-server "uploaded to a server signed by an untrusted CA"
# another kiosk's certificate (valid, same CA): 403, nothing stored, nothing lost
"$CTL" queue drain --db "$W/mtls.q" --endpoint "$URL" --ca-file ca.pem --client-cert other-client.pem --client-key other-client.key --timeout 3 >/dev/null 2>&1
[ "$(received mtls)" = 0 ] && [ "$(pending "$W/mtls.q")" = 5 ] && grep -q "certificate of kiosk-other used for device pump" "$W/mtls.err" \
  && pass uplink-mtls-certificate-names-the-device || fail uplink-mtls-certificate-names-the-device "received $(received mtls) with another kiosk's certificate"
"$CTL" queue drain --db "$W/mtls.q" --endpoint "$URL" --ca-file ca.pem --client-cert client.pem --client-key client.key --timeout 30 >/dev/null 2>&1
[ "$(received mtls)" = 5 ] && [ "$(pending "$W/mtls.q")" = 0 ] && pass uplink-mtls || fail uplink-mtls "received $(received mtls) of 5"
stop_receiver
# a revoked certificate (the province's list names its serial): 403 even for its own device
printf '# revoked\n%s\n' "$(openssl x509 -in client.pem -noout -serial)" > revoked.txt
start_receiver revoked --tls-cert server.pem --tls-key server.key --client-ca ca.pem --revoked revoked.txt
enqueue "$W/rev.q" 2 >/dev/null
"$CTL" queue drain --db "$W/rev.q" --endpoint "https://127.0.0.1:$PORT/v1/records" --ca-file ca.pem --client-cert client.pem --client-key client.key --timeout 3 >/dev/null 2>&1
[ "$(received revoked)" = 0 ] && [ "$(pending "$W/rev.q")" = 2 ] && grep -q "is revoked" "$W/revoked.err" \
  && pass uplink-mtls-revoked-certificate-refused || fail uplink-mtls-revoked-certificate-refused "received $(received revoked) with a revoked certificate"
stop_receiver

# --- ca_file is the whole trust: a server whose certificate a system-store CA signed is refused ---
# A CA is put into the system store's hashed directory (/etc/ssl/certs/HASH.0, what libcurl's CAPATH reads) for this
# test only and removed at exit. Without ca_file that server is trusted (the harness sees the system store); with
# ca_file naming another CA it must not be: before the fix, Debian's libcurl kept its CA directory beside ca_file.
openssl req -x509 -newkey rsa:2048 -nodes -keyout sys.key -out sys.pem -days 2 -subj "/CN=checkpointd test system-store CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout syssrv.key -out syssrv.csr -subj "/CN=127.0.0.1" 2>/dev/null
openssl x509 -req -in syssrv.csr -CA sys.pem -CAkey sys.key -CAcreateserial -out syssrv.pem -days 2 -extfile server.ext 2>/dev/null
SYSLINK=/etc/ssl/certs/$(openssl x509 -hash -noout -in sys.pem).0
while [ -e "$SYSLINK" ]; do SYSLINK=${SYSLINK%.*}.$(( ${SYSLINK##*.} + 1 )); done
cp sys.pem "$SYSLINK"
cleanup_syslink() { rm -f "$SYSLINK"; }
trap 'cleanup_syslink; cleanup' EXIT
start_receiver sysca --tls-cert syssrv.pem --tls-key syssrv.key
URL="https://127.0.0.1:$PORT/v1/records"
enqueue "$W/sysca.q" 3 >/dev/null
"$CTL" queue drain --db "$W/sysca.q" --endpoint "$URL" --ca-file ca.pem --timeout 3 >"$W/sysca.out" 2>&1
r_cafile=$(received sysca)
"$CTL" queue drain --db "$W/sysca.q" --endpoint "$URL" --timeout 30 >/dev/null 2>&1
r_system=$(received sysca)
if [ "$r_cafile" = 0 ] && [ "$r_system" = 3 ]; then pass uplink-ca-file-is-the-only-trust
else fail uplink-ca-file-is-the-only-trust "with ca_file of another CA: $r_cafile received (must be 0); with the system store: $r_system (must be 3)"; fi
stop_receiver
cleanup_syslink

# --- public-key pinning: the right pin uploads, a wrong one sends nothing ---
start_receiver pin --tls-cert server.pem --tls-key server.key
URL="https://127.0.0.1:$PORT/v1/records"
PIN="sha256//$(openssl x509 -in server.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"
WRONG="sha256//$(openssl x509 -in other.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"
enqueue "$W/pin.q" 2 >/dev/null
"$CTL" queue drain --db "$W/pin.q" --endpoint "$URL" --ca-file ca.pem --pinned-public-key "$WRONG" --timeout 3 >/dev/null 2>&1
r_wrong=$(received pin)
"$CTL" queue drain --db "$W/pin.q" --endpoint "$URL" --ca-file ca.pem --pinned-public-key "$WRONG;$PIN" --timeout 30 >/dev/null 2>&1
[ "$r_wrong" = 0 ] && [ "$(received pin)" = 2 ] && [ "$(pending "$W/pin.q")" = 0 ] && pass uplink-pinned-public-key   || fail uplink-pinned-public-key "wrong pin: $r_wrong received (must be 0); right pin among two: $(received pin)/2"
stop_receiver

# --- a gateway or captive portal answering 200 with its own page: nothing is deleted, it all arrives later ---
start_receiver gateway --fail-status 200 --fail-count 1000
enqueue "$W/gw.q" 4 >/dev/null
"$CTL" queue drain --db "$W/gw.q" --endpoint "http://127.0.0.1:$PORT/v1/records" --allow-insecure-http --timeout 3 >/dev/null 2>&1
gw_pending=$(pending "$W/gw.q"); gw_dead=$(dead "$W/gw.q")
stop_receiver
start_receiver afterGateway
"$CTL" queue drain --db "$W/gw.q" --endpoint "http://127.0.0.1:$PORT/v1/records" --allow-insecure-http --timeout 30 >/dev/null 2>&1
[ "$gw_pending" = 4 ] && [ "$gw_dead" = 0 ] && [ "$(received afterGateway)" = 4 ] && [ "$(pending "$W/gw.q")" = 0 ] \
  && pass uplink-gateway-200-is-not-a-delivery \
  || fail uplink-gateway-200-is-not-a-delivery "after the gateway: pending $gw_pending (must be 4), dead $gw_dead; then received $(received afterGateway)/4"
stop_receiver

# --- allow_insecure_http is for loopback only: another host is refused before anything is sent ---
enqueue "$W/lan.q" 1 >/dev/null
if "$CTL" queue drain --db "$W/lan.q" --endpoint "http://0.0.0.0:9/v1/records" --allow-insecure-http --timeout 3 >"$W/lan.out" 2>&1; then
  fail uplink-insecure-http-loopback-only "plain http:// to a non-loopback host accepted"
else grep -q "loopback" "$W/lan.out" && [ "$(pending "$W/lan.q")" = 1 ] && pass uplink-insecure-http-loopback-only \
  || fail uplink-insecure-http-loopback-only "$(cat "$W/lan.out")"; fi

# --- 503 with Retry-After: honoured (3 failures x 1 s), then delivered ---
start_receiver r503 --fail-status 503 --fail-count 3 --retry-after 1
enqueue "$W/r503.q" 4 >/dev/null
t0=$(date +%s.%N)
"$CTL" queue drain --db "$W/r503.q" --endpoint "http://127.0.0.1:$PORT/v1/records" --allow-insecure-http --timeout 30 "${HB[@]}" >"$W/r503.drain" 2>&1
el=$(echo "$(date +%s.%N) - $t0" | bc)
if [ "$(received r503)" = 4 ] && [ "$(echo "$el >= 2.9" | bc)" = 1 ] && grep -q '^heartbeats sent [1-9]' "$W/r503.drain"; then
  pass "uplink-503-retry-after (heartbeats beside: $(grep '^heartbeats' "$W/r503.drain"))"
else fail uplink-503-retry-after "received $(received r503)/4 in ${el}s (Retry-After 1 s x 3 should take >= 3 s); $(tail -2 "$W/r503.drain")"; fi
stop_receiver

# --- 500s at random: retried until delivered, no duplicates ---
start_receiver r500 --fail-status 500 --fail-rate 0.5
enqueue "$W/r500.q" 20 1000 >/dev/null
"$CTL" queue drain --db "$W/r500.q" --endpoint "http://127.0.0.1:$PORT/v1/records" --allow-insecure-http --timeout 60 "${HB[@]}" >"$W/r500.drain" 2>&1
dups=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COALESCE(SUM(duplicates),0) FROM received').fetchone()[0])" "$W/r500.db")
[ "$(received r500)" = 20 ] && [ "$(pending "$W/r500.q")" = 0 ] && pass "uplink-500-retry ($dups duplicates absorbed; heartbeats beside: $(grep '^heartbeats' "$W/r500.drain"))" \
  || fail uplink-500-retry "received $(received r500)/20; $(tail -2 "$W/r500.drain")"
stop_receiver

# --- 422: dead letter, the rest not blocked; retry-dead brings them back ---
start_receiver r422 --fail-status 422 --fail-count 2
enqueue "$W/r422.q" 6 >/dev/null
"$CTL" queue drain --db "$W/r422.q" --endpoint "http://127.0.0.1:$PORT/v1/records" --allow-insecure-http --timeout 30 >/dev/null 2>&1
if [ "$(received r422)" = 4 ] && [ "$(dead "$W/r422.q")" = 2 ] && [ "$(pending "$W/r422.q")" = 0 ]; then
  "$CTL" queue retry-dead --db "$W/r422.q" >/dev/null
  "$CTL" queue drain --db "$W/r422.q" --endpoint "http://127.0.0.1:$PORT/v1/records" --allow-insecure-http --timeout 30 >/dev/null 2>&1
  [ "$(received r422)" = 6 ] && [ "$(dead "$W/r422.q")" = 0 ] && pass uplink-422-dead-letter || fail uplink-422-dead-letter "retry-dead: received $(received r422)/6"
else fail uplink-422-dead-letter "received $(received r422), dead $(dead "$W/r422.q"), pending $(pending "$W/r422.q")"; fi
stop_receiver

# --- stall mid-body and connection resets, through a faulty proxy in front of the receiver ---
start_receiver proxied
cat >"$W/faulty.py" <<'PY'
import socket, sys, threading, time
listen_port, target, plan = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port)); srv.listen(16)
print(srv.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    finally:
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
n = 0
while True:
    c, _ = srv.accept()
    # The plan is for declaration uploads; a heartbeat connection (its own, as the kiosk sends them) passes.
    head = b""
    for _ in range(100):                  # the whole request line, which names the path
        head = c.recv(2000, socket.MSG_PEEK)
        if b"\r\n" in head or not head: break
        time.sleep(0.01)
    if b"/v1/heartbeats" in head: mode = "pass"
    else: mode = plan[n] if n < len(plan) else "pass"; n += 1
    if mode in ("stall", "reset"):
        c.recv(2000)                      # the request line, headers and the start of the body
        if mode == "stall": threading.Thread(target=lambda c=c: (time.sleep(60), c.close()), daemon=True).start()
        else:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"); c.close()
        continue
    u = socket.create_connection(("127.0.0.1", target))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
PY
python3 "$W/faulty.py" 0 "$PORT" stall,reset,reset >"$W/proxy.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 600); do [ -s "$W/proxy.out" ] && break; sleep 0.1; done
PPORT=$(head -1 "$W/proxy.out")
enqueue "$W/proxy.q" 5 >/dev/null
t0=$(date +%s)
"$CTL" queue drain --db "$W/proxy.q" --endpoint "http://127.0.0.1:$PPORT/v1/records" --allow-insecure-http --low-speed-seconds 2 \
  --timeout 60 "${HB[@]}" >"$W/proxy.drain" 2>&1
el=$(( $(date +%s) - t0 ))
[ "$(received proxied)" = 5 ] && [ "$(pending "$W/proxy.q")" = 0 ] && [ "$el" -lt 40 ] && pass "uplink-stall-and-reset (${el} s; heartbeats beside: $(grep '^heartbeats' "$W/proxy.drain"))" \
  || fail uplink-stall-and-reset "received $(received proxied)/5 in ${el}s: $(tail -2 "$W/proxy.drain")"
stop_receiver

# --- server down, then back: the backlog drains, nothing lost, nothing duplicated ---
enqueue "$W/down.q" 30 >/dev/null
# nothing listens on this port yet
DPORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
"$CTL" queue drain --db "$W/down.q" --endpoint "http://127.0.0.1:$DPORT/v1/records" --allow-insecure-http --timeout 3 >/dev/null 2>&1
before=$(pending "$W/down.q")
# One drain across the outage, heartbeats every second beside it (and 3 s after it): the receiver comes up 4 s in.
"$CTL" queue drain --db "$W/down.q" --endpoint "http://127.0.0.1:$DPORT/v1/records" --allow-insecure-http --timeout 60 \
  "${HB[@]}" --heartbeat-linger 3 >"$W/down.drain" 2>&1 &
DRAIN=$!
sleep 4
t_up=$(date +%s.%N)
"$BIN/checkpoint-receiver" --port "$DPORT" --db "$W/down.db" >"$W/down.out" 2>&1 &
RPID=$!; PIDS+=("$RPID")
for _ in $(seq 600); do grep -q "listening on" "$W/down.out" 2>/dev/null && break; sleep 0.1; done
wait $DRAIN
back=$(echo "$(date +%s.%N) - $t_up" | bc)
# What the kiosk sent and what the receiver holds: sequence numbers count every attempt from 0, so the current
# heartbeat is number sent + failed - 1; it was sent after the drain, so it reports an empty queue.
sent=$(awk '/^heartbeats sent/{gsub(/;/,"",$3); print $3}' "$W/down.drain"); hfailed=$(awk '/^heartbeats sent/{print $5}' "$W/down.drain")
held=$(python3 -c "
import json, sqlite3, sys
row = sqlite3.connect(sys.argv[1]).execute(\"SELECT json FROM heartbeats WHERE device_id = 'pump'\").fetchone()
h = json.loads(row[0]) if row else {}
print(h.get('sequence'), h.get('queue', {}).get('depth'))" "$W/down.db")
allowed=$(echo "$back / 1 + 2" | bc)
if [ -n "$sent" ] && [ "${hfailed:-0}" -ge 2 ] && [ "$sent" -ge 1 ] && [ "$sent" -le "$allowed" ] && [ "$held" = "$((sent + hfailed - 1)) 0" ]; then
  pass "uplink-heartbeats-latest-only-after-outage ($hfailed failed while down, $sent delivered in the ${back%.*} s after: at most $allowed at 1 s; the receiver holds the last, sequence ${held% *}, queue depth 0)"
else fail uplink-heartbeats-latest-only-after-outage "sent $sent, failed $hfailed, ${back} s after the receiver came up (at most $allowed allowed); receiver holds sequence/depth '$held' (want $((${sent:-0} + ${hfailed:-0} - 1)) 0); $(tail -2 "$W/down.drain")"; fi
dups=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COALESCE(SUM(duplicates),0) FROM received').fetchone()[0])" "$W/down.db")
[ "$before" = 30 ] && [ "$(received down)" = 30 ] && [ "$(pending "$W/down.q")" = 0 ] && [ "$dups" = 0 ] && pass uplink-server-down-then-back \
  || fail uplink-server-down-then-back "pending while down $before, received $(received down)/30, duplicates $dups"
stop_receiver

# --- full queue (tiny size limit): old faces dropped first, then refused; nothing half-stored ---
# 20 records with 30 KB faces into 200 KiB: every declaration is kept, old faces make room
"$CTL" queue pump --db "$W/full.q" --endpoint http://127.0.0.1:9/x --allow-insecure-http --no-upload --count 20 --face-bytes 30000 \
  --max-kib 200 --interval-ms 0 >"$W/full1.out" 2>&1
# then 800 declarations without faces: the queue fills and refuses, never overwrites
"$CTL" queue pump --db "$W/full.q" --endpoint http://127.0.0.1:9/x --allow-insecure-http --no-upload --count 800 --face-bytes 0 \
  --max-kib 200 --interval-ms 0 >"$W/full2.out" 2>&1
conf1=$(grep -c '^confirmed' "$W/full1.out"); conf2=$(grep -c '^confirmed' "$W/full2.out"); refused=$(grep -c '^refused queue-full' "$W/full2.out")
st=$("$CTL" queue status --db "$W/full.q" --max-mib 1)
p=$(echo "$st" | awk '/^pending:/{print $2}'); faces=$(echo "$st" | awk '/^pending:/{gsub(/\(/,"",$3); print $3}')
ic=$(echo "$st" | awk '/^integrity:/{print $2}')
first_kept=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM records WHERE lower(id) IN (%s)' % ','.join('?'*len(sys.argv[2:])), sys.argv[2:]).fetchone()[0])" "$W/full.q" $(awk '/^confirmed/{print $2}' "$W/full1.out"))
if [ "$conf1" = 20 ] && [ "$first_kept" = 20 ] && [ "$faces" -lt 20 ] && [ "$refused" -gt 0 ] && [ "$p" = $((conf1 + conf2)) ] && [ "$ic" = ok ]; then
  pass uplink-queue-full
else fail uplink-queue-full "phase 1 confirmed $conf1 (kept $first_kept, $faces faces left); phase 2 confirmed $conf2, refused $refused; stored $p; integrity $ic"; fi
# free-disk floor above what the disk has: refused as disk-full, nothing stored
"$CTL" queue pump --db "$W/floor.q" --endpoint http://127.0.0.1:9/x --allow-insecure-http --no-upload --count 3 --face-bytes 100 \
  --floor-kib 1000000000 --interval-ms 0 >"$W/floor.out" 2>&1
[ "$(grep -c '^refused disk-full' "$W/floor.out")" = 3 ] && [ "$(pending "$W/floor.q")" = 0 ] && pass uplink-disk-floor \
  || fail uplink-disk-floor "$(head -3 "$W/floor.out")"

# --- export: every pending/dead record as private files ---
enqueue "$W/exp.q" 3 2000 >/dev/null
"$CTL" queue export --db "$W/exp.q" "$W/export" >/dev/null 2>&1
nj=$(ls "$W/export"/*.json 2>/dev/null | wc -l); nf=$(ls "$W/export"/*.jpg 2>/dev/null | wc -l)
modes=$(stat -c %a "$W/export"/* | sort -u | tr '\n' ' '); dmode=$(stat -c %a "$W/export")
id=$(basename "$(ls "$W/export"/*.json | head -1)" .json)
if [ "$nj" = 3 ] && [ "$nf" = 3 ] && [ "$modes" = "600 " ] && [ "$dmode" = 700 ] \
   && "$CTL" queue show --db "$W/exp.q" "$id" | grep -q '"checkpointId":"stress"'; then pass uplink-export
else fail uplink-export "json $nj, jpg $nf, file modes '$modes', dir mode $dmode"; fi

# --- checkpointctl status: GET /healthz over a Unix socket, shown for a person ---
cat >"$W/health.py" <<'PY'
import http.server, socketserver, sys, os, json
class H(http.server.BaseHTTPRequestHandler):
    def address_string(self): return "unix"
    def log_message(self, *a): pass
    def do_GET(self):
        body = json.dumps({"status": sys.argv[2], "queue.pending": "4", "upload.lastError": "HTTP 503"}).encode() if self.path == "/healthz" else b"{}"
        self.send_response(200 if self.path == "/healthz" else 404); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
class S(socketserver.UnixStreamServer): pass
S(sys.argv[1], H).serve_forever()
PY
python3 "$W/health.py" "$W/api.sock" ok & PIDS+=($!)
python3 "$W/health.py" "$W/api2.sock" degraded & PIDS+=($!)
for _ in $(seq 600); do [ -S "$W/api.sock" ] && [ -S "$W/api2.sock" ] && break; sleep 0.1; done
out=$("$CTL" status --socket "$W/api.sock" 2>&1); rc=$?
"$CTL" status --socket "$W/api2.sock" >/dev/null 2>&1; rc2=$?
"$CTL" status --socket "$W/missing.sock" >"$W/st3" 2>&1; rc3=$?
if [ $rc = 0 ] && echo "$out" | grep -q "checkpointd: ok" && echo "$out" | grep -q "queue.pending *4" && [ $rc2 != 0 ] \
   && [ $rc3 != 0 ] && grep -q "cannot reach checkpointd" "$W/st3"; then pass uplink-status-command
else fail uplink-status-command "rc $rc/$rc2/$rc3: $out $(cat "$W/st3")"; fi

# --- personal data: database files private ---
m=$(stat -c %a "$W/http.q"); [ "$m" = 600 ] && pass uplink-db-mode || fail uplink-db-mode "queue db mode $m"
# --- durability: every confirmed enqueue is fsynced before it is confirmed (synchronous=FULL, not NORMAL) ---
if command -v strace >/dev/null; then
  # -y names each fd: count the syncs of the write-ahead log only (background checkpoints sync it too, but at most
  # a few times for this burst; a commit that is not synced leaves the count well under one per record).
  strace -f -y -e trace=fsync,fdatasync -o "$W/sync.trace" "$CTL" queue pump --db "$W/sync.q" --endpoint http://127.0.0.1:9/x \
    --allow-insecure-http --no-upload --count 20 --face-bytes 1000 --interval-ms 0 >"$W/sync.out" 2>&1
  syncs=$(grep -cE '^[0-9]+ +f(data)?sync\([0-9]+<[^>]*sync\.q-wal>' "$W/sync.trace")
  confirmed=$(grep -c '^confirmed ' "$W/sync.out")
  [ "$confirmed" = 20 ] && [ "$syncs" -ge 20 ] && pass uplink-enqueue-fsync-each-record \
    || fail uplink-enqueue-fsync-each-record "$confirmed confirmed, $syncs fsyncs of the WAL (want one per record at least)"
else fail uplink-enqueue-fsync-each-record "strace missing (make deps installs it)"; fi
# --- the contract: every record any receiver of this test stored validates against openapi.yaml's Record schema ---
if out=$(/usr/bin/python3 "$HERE/lib/contract.py" "$HERE/../../Sources/checkpoint-receiver/openapi.yaml" "$W"/*.db 2>&1); then
  pass "uplink-records-match-the-contract ($out)"
else fail uplink-records-match-the-contract "$out"; fi
exit $FAILED
