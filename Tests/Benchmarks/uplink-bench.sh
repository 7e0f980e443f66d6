#!/bin/bash
# Uplink benchmarks: durable enqueue latency (WAL + synchronous=FULL, 30 KB face) and backlog drain rate to a
# loopback receiver over HTTP and HTTPS. Prints markdown table rows; every figure is measured here.
set -u
BIN=${BIN:?BIN must point at the build products}
N_ENQ=${N_ENQ:-500}
N_DRAIN=${N_DRAIN:-300}
W=$(mktemp -d /tmp/uplink-bench.XXXXXX)
RPID=
trap '[ -n "$RPID" ] && kill $RPID 2>/dev/null; rm -rf "$W"' EXIT
CTL="$BIN/checkpointctl"

start_receiver() {
  "$BIN/checkpoint-receiver" --port 0 --db "$W/recv-$1.db" "${@:2}" >"$W/recv-$1.out" 2>/dev/null &
  RPID=$!
  for _ in $(seq 100); do grep -q "listening on" "$W/recv-$1.out" 2>/dev/null && break; sleep 0.1; done
  PORT=$(awk '/listening on/{print $3}' "$W/recv-$1.out")
}

# 1. durable enqueue latency
"$CTL" queue pump --db "$W/enq.db" --endpoint http://127.0.0.1:9/x --allow-insecure-http --no-upload --count "$N_ENQ" \
  --face-bytes 30000 --interval-ms 0 >"$W/enq.out" 2>&1
line=$(grep '^enqueue_ms' "$W/enq.out")
p50=$(echo "$line" | sed 's/.*p50=\([0-9.]*\).*/\1/'); p99=$(echo "$line" | sed 's/.*p99=\([0-9.]*\).*/\1/')
echo "| uplink: durable enqueue p50 (WAL, synchronous=FULL, 30 KB face, n=$N_ENQ) | $p50 | ms |"
echo "| uplink: durable enqueue p99 | $p99 | ms |"

# 2. backlog drain, plain HTTP and HTTPS (one reused connection)
drain() {  # name url extra-args…
  local name=$1 url=$2; shift 2
  "$CTL" queue pump --db "$W/$name.db" --endpoint http://127.0.0.1:9/x --allow-insecure-http --no-upload --count "$N_DRAIN" \
    --face-bytes 30000 --interval-ms 0 >/dev/null 2>&1
  local t0 t1
  t0=$(date +%s.%N)
  "$CTL" queue drain --db "$W/$name.db" --endpoint "$url" "$@" --timeout 600 >"$W/$name.drain" 2>&1
  t1=$(date +%s.%N)
  local got
  got=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM received').fetchone()[0])" "$W/recv-$name.db")
  python3 -c "import sys; n=int(sys.argv[1]); dt=float(sys.argv[3])-float(sys.argv[2]); print(f'| uplink: backlog drain {sys.argv[4]} ({n} records, 30 KB images, loopback) | {n/dt:.1f} | records/s |')" \
    "$got" "$t0" "$t1" "$name"
}
start_receiver http; drain http "http://127.0.0.1:$PORT/v1/records" --allow-insecure-http; kill $RPID; wait $RPID 2>/dev/null

cd "$W"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf "subjectAltName=IP:127.0.0.1\n" >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
start_receiver https --tls-cert server.pem --tls-key server.key
drain https "https://127.0.0.1:$PORT/v1/records" --ca-file ca.pem
kill $RPID; wait $RPID 2>/dev/null; RPID=
