#!/usr/bin/python3
"""Uplink benchmarks: durable enqueue latency (WAL + synchronous=FULL, 30 KB face; N_ENQ records, default 500) and the
backlog drain rate (N_DRAIN records, default 300) to a loopback receiver over HTTP and over HTTPS (the harness's
throwaway CA; one reused connection). Processes through the harness (the receiver on a port it picks,
harness/receiver.py; `checkpointctl queue pump/drain`, harness/uplink.py). Prints markdown table rows; every figure
is measured here.
"""
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "system"))
from harness.bench import bench_stack, fail, knob, note, require_bin, row  # noqa: E402
from harness.uplink import confirmed_ids, drain, pump  # noqa: E402


def enqueue(db, n):
    """`queue pump --no-upload` of n 30 KB records; returns its output (fails unless all n were confirmed)."""
    r = pump(db, n, 30000)
    got = len(confirmed_ids(r.out))
    if r.rc != 0 or got != n:
        fail(f"checkpointctl queue pump: exit {r.rc}, {got} of {n} records confirmed: {r.err.strip()[-500:]}")
    return r.both


def drain_rate(stack, name, n, tls=False, drain_args=()):
    """n records enqueued, then drained to a fresh receiver (over HTTPS with the stack's test CA when tls): the row of
    records stored per second of the drain."""
    db = stack.work / f"{name}.db"
    enqueue(db, n)
    receiver = stack.receiver(name=f"recv-{name}", port=0, tls=tls)
    t0 = time.monotonic()
    r = drain(db, receiver.url(), *drain_args, timeout=600)
    t1 = time.monotonic()
    got = receiver.received()
    receiver.stop()
    if r.rc != 0:
        note(r.both.strip()[-1000:])
        fail(f"checkpointctl queue drain ({name}) failed (exit {r.rc}); the receiver stored {got} of {n} records")
    row(f"uplink: backlog drain {name} ({got} records, 30 KB images, loopback)", f"{got / (t1 - t0):.1f}", "records/s")


def main():
    require_bin()
    n_enq, n_drain = knob("N_ENQ", 500), knob("N_DRAIN", 300)
    with bench_stack("uplink-bench") as stack:
        # 1. durable enqueue latency, from pump's line "enqueue_ms … p50=… p99=…"
        out = enqueue(stack.work / "enq.db", n_enq)
        m = re.search(r"^enqueue_ms\b.*\bp50=([0-9.]+).*\bp99=([0-9.]+)", out, re.M)
        if not m:
            fail(f"checkpointctl queue pump printed no 'enqueue_ms … p50=… p99=…' line: {out.strip()[-500:]}")
        row(f"uplink: durable enqueue p50 (WAL, synchronous=FULL, 30 KB face, n={n_enq})", m.group(1), "ms")
        row("uplink: durable enqueue p99", m.group(2), "ms")
        # 2. backlog drain, plain HTTP and HTTPS (one reused connection)
        drain_rate(stack, "http", n_drain, drain_args=("--allow-insecure-http",))
        stack.tls()
        drain_rate(stack, "https", n_drain, tls=True, drain_args=("--ca-file", stack.work / "ca.pem"))


if __name__ == "__main__":
    main()
