#!/usr/bin/env bash
# The receiver exercised from the contract by a property-based API tester: schemathesis generates requests from
# Sources/checkpoint-receiver/openapi.yaml (records, heartbeats, the fleet view) and checks every answer against it: no
# server error, only documented status codes, content types, headers and response schemas, invalid data refused.
# First, the production command keeps fault injection out of reach and plain HTTP on loopback.
# schemathesis comes from PyPI into a virtualenv cached under /var/cache (pinned: 3.x, with a hypothesis release its
# hypothesis-jsonschema still works with).
set -uo pipefail
: "${BIN:?BIN must point at the built binaries}"
HERE=$(cd "$(dirname "$0")" && pwd)
SPEC=$HERE/../../Sources/checkpoint-receiver/openapi.yaml
VENV=${SCHEMATHESIS_VENV:-/var/cache/checkpointd-test/schemathesis-3.39}
W=$(mktemp -d /tmp/receiver-contract.XXXXXX)
RPID=
trap '[ -n "$RPID" ] && kill $RPID 2>/dev/null; rm -rf "$W"' EXIT
fail() { echo "FAIL receiver-contract: $*"; exit 1; }

if ! "$VENV/bin/schemathesis" --version >/dev/null 2>&1; then
  rm -rf "$VENV"; mkdir -p "$(dirname "$VENV")"
  /usr/bin/python3 -m venv "$VENV" || fail "cannot create a virtualenv (python3-venv)"
  "$VENV/bin/pip" install -q "schemathesis==3.39.16" "hypothesis<6.120" >"$W/pip.log" 2>&1 || fail "pip install schemathesis: $(tail -3 "$W/pip.log")"
fi

# Production use cannot inject faults by accident: `serve` (the default) has no fault options, the test stand only
# listens on loopback, and plain HTTP is refused off loopback.
"$BIN/checkpoint-receiver" --port 0 --db "$W/x.db" --fail-status 503 --fail-count 1 >"$W/x.out" 2>&1 && fail "serve accepted --fail-status"
grep -q "fail-status" "$W/x.out" || fail "serve did not name the refused option: $(head -3 "$W/x.out")"
"$BIN/checkpoint-receiver" test-stand --host 0.0.0.0 --port 0 --db "$W/x.db" --fail-status 503 >"$W/x.out" 2>&1 && fail "test-stand listened off loopback"
"$BIN/checkpoint-receiver" --host 0.0.0.0 --port 0 --db "$W/x.db" >"$W/x.out" 2>&1 && fail "plain HTTP was served off loopback"
grep -q "tls-cert" "$W/x.out" || fail "plain HTTP off loopback refused without saying why: $(head -3 "$W/x.out")"
echo "PASS receiver-production-mode (no fault options in serve; test-stand and plain HTTP on loopback only)"

# An idle connection (a stalled or hostile client) is closed after --idle-timeout.
"$BIN/checkpoint-receiver" --port 0 --db "$W/i.db" --idle-timeout 2 >"$W/i.out" 2>&1 &
IPID=$!
for _ in $(seq 600); do grep -q '^listening on' "$W/i.out" 2>/dev/null && break; sleep 0.1; done
held=$(/usr/bin/python3 - "$(awk '/^listening on/{print $3}' "$W/i.out")" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(20)
t0 = time.monotonic()
try:
    s.recv(1)   # returns b"" when the server closes
except OSError:
    pass
print(f"{time.monotonic() - t0:.1f}")
PY
)
kill $IPID 2>/dev/null; wait $IPID 2>/dev/null
[ "$(echo "$held >= 1.5 && $held <= 6" | bc)" = 1 ] && echo "PASS receiver-idle-timeout (an idle connection closed after ${held} s; --idle-timeout 2)" \
  || fail "an idle connection was held ${held} s with --idle-timeout 2"

# --admin-port: the fleet view and metrics move to their own listener; the kiosks' port no longer serves them.
"$BIN/checkpoint-receiver" --port 0 --db "$W/a.db" --admin-port 0 >"$W/a.out" 2>&1 &
APID=$!
for _ in $(seq 600); do grep -q '^admin listening on' "$W/a.out" 2>/dev/null && grep -q '^listening on' "$W/a.out" && break; sleep 0.1; done
KP=$(awk '/^listening on/{print $3}' "$W/a.out"); AP=$(awk '/^admin listening on/{print $4}' "$W/a.out")
codes="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$KP/fleet") $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$KP/metrics")"
codes="$codes $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/fleet") $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/metrics")"
codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{}' "http://127.0.0.1:$AP/v1/heartbeats")"
kill $APID 2>/dev/null; wait $APID 2>/dev/null
[ "$codes" = "404 404 200 200 404" ] && echo "PASS receiver-admin-port (fleet and metrics only on the admin listener; it takes no uploads)" \
  || fail "with --admin-port: kiosk port /fleet /metrics, admin /fleet /metrics, admin POST heartbeat = $codes (want 404 404 200 200 404)"

"$BIN/checkpoint-receiver" --port 0 --db "$W/r.db" >"$W/out" 2>"$W/err" &
RPID=$!
for _ in $(seq 600); do grep -q '^listening on' "$W/out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/^listening on/{print $3}' "$W/out")
[ -n "$PORT" ] || fail "receiver did not start: $(cat "$W/err")"

# The hooks add a serializer for the stills' image/jpeg body (Tests/system/lib/schemathesis_hooks.py).
cd "$W" && PYTHONPATH="$HERE/lib" SCHEMATHESIS_HOOKS=schemathesis_hooks "$VENV/bin/schemathesis" run "$SPEC" --experimental=openapi-3.1 --base-url "http://127.0.0.1:$PORT" --checks all \
  --hypothesis-max-examples "${CONTRACT_EXAMPLES:-150}" --hypothesis-seed 20261206 --hypothesis-deadline none \
  --workers 1 --no-color >"$W/st.log" 2>&1
rc=$?
kill -0 $RPID 2>/dev/null || fail "the receiver died under the generated requests: $(tail -5 "$W/err")"
summary=$(grep -E '^(=+ .* in [0-9.]+s =+|    [a-z_]+ +[0-9]+ / [0-9]+ passed)' "$W/st.log" | tr -s ' ' | tr '\n' ';')
if [ $rc -eq 0 ] && grep -q 'not_a_server_error' "$W/st.log"; then echo "PASS receiver-contract (${summary})"
else sed -n '/FAILURES\|ERRORS/,$p' "$W/st.log" | head -60; fail "schemathesis exit $rc"; fi
