#!/usr/bin/env bash
# The receiver under a province's day: KIOSKS (107, Thái Nguyên's count) kiosks' heartbeats (one per 300 s: 288 each)
# and a day's declarations (DECLARATIONS, default 150 per kiosk) with FACE_BYTES face images, sent by WORKERS
# concurrent keep-alive clients on loopback (Tests/Benchmarks/fleet/load.py). Figures: requests/s, p50/p99 latency,
# against one receiver on SQLite, and — when PostgreSQL is installed — one and two receivers on one PostgreSQL
# (the two-receiver run also re-sends every tenth record to the other receiver, as a kiosk retrying would).
# Prints markdown rows; every figure is measured here. Scale down with DAY_FRACTION (e.g. 0.1) on a slow machine.
set -u
BIN=${BIN:?BIN must point at the build products}
HERE=$(cd "$(dirname "$0")" && pwd)
KIOSKS=${KIOSKS:-107}
FRACTION=${DAY_FRACTION:-1}
DECLS=$(python3 -c "print(int($KIOSKS * 150 * $FRACTION))")
BEATS=$(python3 -c "print(max(1, int(288 * $FRACTION)))")
FACE=${FACE_BYTES:-8000}
WORKERS=${WORKERS:-16}
W=$(mktemp -d /tmp/fleet-bench.XXXXXX); chmod 755 "$W"
PIDS=()
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null
  [ -f "$W/pg/postmaster.pid" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/pg" -m immediate stop >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT

start() {  # name args… → prints the port
  "$BIN/checkpoint-receiver" --port 0 "${@:2}" >"$W/$1.out" 2>"$W/$1.err" & PIDS+=($!)
  for _ in $(seq 600); do grep -q "listening on" "$W/$1.out" 2>/dev/null && break; sleep 0.1; done
}
port() { awk '/listening on/{print $3}' "$W/$1.out"; }
row() {  # label json
  python3 - "$1" "$2" "$KIOSKS" <<'PY'
import json, sys
label, r, k = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
what = f"{k} kiosks, {r['records']} declarations + {r['heartbeats']} heartbeats"
print(f"| receiver {label}: requests/s ({what}) | {r['per_second']} | requests/s |")
print(f"| receiver {label}: p50 latency | {r['p50_ms']} | ms |")
print(f"| receiver {label}: p99 latency | {r['p99_ms']} | ms |")
if r["errors"]:
    print(f"note: {label}: {r['errors']} errors, e.g. {r['first_errors']}")
PY
}
load() { python3 "$HERE/fleet/load.py" "$1" "$KIOSKS" "$DECLS" "$BEATS" "$FACE" "$WORKERS"; }

start sqlite --db "$W/r.db"
r=$(load "http://127.0.0.1:$(port sqlite)") || { echo "load failed"; exit 1; }
row "SQLite, 1 instance" "$r"

if [ -x "$PGBIN/initdb" ] && id postgres >/dev/null 2>&1; then
  PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$W/pg" "$W/sock"; chown postgres: "$W/pg" "$W/sock"
  runuser -u postgres -- "$PGBIN/initdb" -D "$W/pg" -U ckpt --auth=trust >/dev/null 2>&1
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/pg" -l "$W/sock/pg.log" -w -o "-h 127.0.0.1 -p $PGPORT -k $W/sock" start >/dev/null 2>&1
  DSN="postgres://ckpt@127.0.0.1:$PGPORT/postgres"
  start pg1 --postgres "$DSN"
  r=$(load "http://127.0.0.1:$(port pg1)") && row "PostgreSQL, 1 instance" "$r"
  "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U ckpt -d postgres -qc "TRUNCATE received, heartbeats" >/dev/null
  start pg2 --postgres "$DSN"
  r=$(load "http://127.0.0.1:$(port pg1),http://127.0.0.1:$(port pg2)") && row "PostgreSQL, 2 instances" "$r"
  stored=$("$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U ckpt -d postgres -Atc "SELECT count(*) FROM received")
  sent=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["records"])' "$r")
  [ "$stored" = "$sent" ] || echo "note: two receivers stored $stored rows for $sent distinct records"
else
  echo "note: no PostgreSQL server installed; the PostgreSQL rows are skipped"
fi
