"""The receiver exercised from the contract by a property-based API tester: schemathesis generates requests from
Sources/checkpoint-receiver/openapi.yaml (records, heartbeats, the fleet view) and checks every answer against it: no
server error, only documented status codes, content types, headers and response schemas, invalid data refused.
First, the production command keeps fault injection out of reach and plain HTTP on loopback; an idle connection is
closed after --idle-timeout; --admin-port moves the fleet view and metrics to their own listener.
schemathesis comes from PyPI into a virtualenv cached under /var/cache (pinned: 3.x, with a hypothesis release its
hypothesis-jsonschema still works with; SCHEMATHESIS_VENV overrides the place, CONTRACT_EXAMPLES the examples per
operation, default 150)."""
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness import binary, http_get, python, run
from harness.contract import SPEC

HERE = Path(__file__).resolve().parent
VENV = Path(os.environ.get("SCHEMATHESIS_VENV") or "/var/cache/checkpointd-test/schemathesis-3.39")


def refused(*args):
    """Runs checkpoint-receiver ARGS… to its exit (a receiver that started serving is stopped after 60 s and counts
    as not refused); returns (exit status or None when it kept running, output)."""
    try:
        r = run(binary("checkpoint-receiver"), *args, timeout=60)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        return None, out.decode("utf-8", "replace") if isinstance(out, bytes) else out
    return r.rc, r.both


# Production use cannot inject faults by accident: `serve` (the default) has no fault options, the test stand only
# listens on loopback, and plain HTTP is refused off loopback.
def test_serve_refuses_fault_options_and_names_them(work):
    rc, out = refused("--port", 0, "--db", work / "x.db", "--fail-status", 503, "--fail-count", 1)
    assert rc not in (0, None), f"serve accepted --fail-status (exit {rc}): {out[:300]}"
    assert "fail-status" in out, f"serve refused without naming the option: {out.splitlines()[:3]}"


def test_test_stand_does_not_listen_off_loopback(work):
    rc, out = refused("test-stand", "--host", "0.0.0.0", "--port", 0, "--db", work / "x.db", "--fail-status", 503)
    assert rc not in (0, None), f"test-stand listened on 0.0.0.0 (exit {rc}): {out[:300]}"


def test_plain_http_is_refused_off_loopback_saying_why(work):
    rc, out = refused("--host", "0.0.0.0", "--port", 0, "--db", work / "x.db")
    assert rc not in (0, None), f"plain HTTP was served off loopback (exit {rc}): {out[:300]}"
    assert "tls-cert" in out, f"plain HTTP off loopback refused without saying why: {out.splitlines()[:3]}"


def test_an_idle_connection_is_closed_after_idle_timeout(stack):
    r = stack.receiver("--idle-timeout", 2, name="idle", port=0)
    try:
        with socket.create_connection(("127.0.0.1", r.port)) as s:
            s.settimeout(20)
            t0 = time.monotonic()
            try:
                s.recv(1)   # b"" when the server closes
            except OSError:
                pass
            held = time.monotonic() - t0
    finally:
        r.stop()
    print(f"an idle connection closed after {held:.1f} s; --idle-timeout 2")
    assert 1.5 <= held <= 6, f"an idle connection was held {held:.1f} s with --idle-timeout 2 (want 1.5 to 6 s)"


def test_admin_port_alone_serves_fleet_and_metrics_and_takes_no_uploads(stack):
    r = stack.receiver("--admin-port", 0, name="admin", port=0, admin=True)
    try:
        codes = [http_get(r.url("/fleet")).status, http_get(r.url("/metrics")).status,
                 http_get(r.url("/fleet", r.admin_port)).status, http_get(r.url("/metrics", r.admin_port)).status,
                 http_get(r.url("/v1/heartbeats", r.admin_port), body={}).status]
    finally:
        r.stop()
    assert codes == [404, 404, 200, 200, 404], \
        f"with --admin-port: kiosk port /fleet /metrics, admin /fleet /metrics, admin POST heartbeat = {codes} " \
        "(want 404 404 200 200 404)"


@pytest.fixture(scope="module")
def schemathesis(stack):
    exe = VENV / "bin" / "schemathesis"
    ok = subprocess.run([exe, "--version"], capture_output=True).returncode == 0 if exe.exists() else False
    if not ok:
        shutil.rmtree(VENV, ignore_errors=True)
        VENV.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([python, "-m", "venv", VENV], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail(f"cannot create a virtualenv (python3-venv): {r.stderr[-300:]}")
        r = subprocess.run([VENV / "bin" / "pip", "install", "-q", "schemathesis==3.39.16", "hypothesis<6.120"],
                           capture_output=True, text=True, timeout=1200)
        if r.returncode != 0:
            pytest.fail("pip install schemathesis: " + "\n".join((r.stdout + r.stderr).splitlines()[-3:]))
    return exe


def test_every_generated_request_is_answered_within_the_contract(stack, schemathesis):
    r = stack.receiver(name="contract", port=0)
    # The hooks add a serializer for the stills' image/jpeg body (Tests/system/lib/schemathesis_hooks.py).
    env = dict(os.environ, PYTHONPATH=str(HERE / "lib"), SCHEMATHESIS_HOOKS="schemathesis_hooks")
    p = subprocess.run([schemathesis, "run", SPEC, "--experimental=openapi-3.1", "--base-url", r.url(""), "--checks", "all",
                        "--hypothesis-max-examples", os.environ.get("CONTRACT_EXAMPLES", "150"),
                        "--hypothesis-seed", "20261206", "--hypothesis-deadline", "none", "--workers", "1", "--no-color"],
                       cwd=stack.work, env=env, capture_output=True, text=True, timeout=3600)
    log = p.stdout + p.stderr
    (stack.work / "st.log").write_text(log)
    alive = r.proc.alive()
    r.stop()
    assert alive, f"the receiver died under the generated requests: {r.proc.tail(5)}"
    summary = ";".join(" ".join(l.split()) for l in log.splitlines()
                       if re.match(r"^(=+ .* in [0-9.]+s =+|    [a-z_]+ +[0-9]+ / [0-9]+ passed)", l))
    print(f"schemathesis: {summary}")
    failures = log[min([i for i in (log.find("FAILURES"), log.find("ERRORS")) if i >= 0], default=0):]
    assert p.returncode == 0, f"schemathesis exit {p.returncode}:\n" + "\n".join(failures.splitlines()[:60])
    assert "not_a_server_error" in log, f"schemathesis ran no not_a_server_error check:\n{log[-2000:]}"
