#!/usr/bin/env python3
"""Cold start to READY: exec of the daemon → READY=1 on a NOTIFY_SOCKET this script binds (as systemd does).

Usage: coldstart.py CHECKPOINTD CONFIG RUNS WORKDIR
Starts the daemon RUNS times; each time measures from just before exec to the READY=1 datagram, then stops it
with SIGTERM and waits for its exit. Prints one line per start ("start N: X ms") and a last line
"median X max Y n N" (ms). Exits non-zero if a start gives no READY=1 within 60 s.
"""
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

daemon, config, runs, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
path = os.path.join(work, "coldstart-notify.sock")
if os.path.exists(path):
    os.unlink(path)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
env = dict(os.environ, NOTIFY_SOCKET=path)
env.pop("WATCHDOG_USEC", None)
times = []
for n in range(1, runs + 1):
    with open(os.path.join(work, f"coldstart-{n}.log"), "wb") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen([daemon, "--config", config], env=env, stdout=subprocess.DEVNULL, stderr=log)
        ready = None
        deadline = t0 + 60
        while ready is None and time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                msg = sock.recv(4096).decode(errors="replace")
            except socket.timeout:
                break
            if "READY=1" in msg.split("\n"):
                ready = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        if ready is None:
            sys.exit(f"start {n}: no READY=1 within 60 s (exit {rc}); see {log.name}")
        if rc != 0:
            sys.exit(f"start {n}: the daemon exited {rc} after SIGTERM; see {log.name}")
        ms = (ready - t0) * 1000
        times.append(ms)
        print(f"start {n}: {ms:.1f} ms", flush=True)
    # Drain STOPPING=1 and anything else left from this start before the next one.
    sock.setblocking(False)
    try:
        while sock.recv(4096):
            pass
    except BlockingIOError:
        pass
    sock.setblocking(True)
print(f"median {statistics.median(times):.1f} max {max(times):.1f} n {len(times)}")
