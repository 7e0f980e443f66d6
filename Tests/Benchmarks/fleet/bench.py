#!/usr/bin/python3
"""The receiver under a province's day: KIOSKS (107, Thái Nguyên's count) kiosks' heartbeats (one per 300 s: 288 each)
and a day's declarations (150 per kiosk) with FACE_BYTES (8000) face images, sent by WORKERS (16) concurrent keep-alive
clients on loopback (fleet/load.py, which prints its figures as one JSON line). Figures: requests/s, p50/p99 latency,
against one receiver on SQLite, and — when PostgreSQL is installed (and this runs as root, to run it as the postgres
user) — one and two receivers on one PostgreSQL (the two-receiver run also re-sends every tenth record to the other
receiver, as a kiosk retrying would; the rows it stored are counted against the records sent).
Receivers are started through the harness (harness/receiver.py). Prints markdown rows; every figure is measured here.
Scale down with DAY_FRACTION (e.g. 0.1) on a slow machine.
"""
import glob
import json
import os
import pwd
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "system"))
from harness import free_port, python, run  # noqa: E402
from harness.bench import bench_stack, fail, knob, note, require_bin, row  # noqa: E402

KIOSKS = knob("KIOSKS", 107)
FRACTION = knob("DAY_FRACTION", 1.0, float)
DECLS = int(KIOSKS * 150 * FRACTION)
BEATS = max(1, int(288 * FRACTION))
FACE = knob("FACE_BYTES", 8000)
WORKERS = knob("WORKERS", 16)


def load(*receivers):
    """fleet/load.py against the receivers: its JSON summary (fails when it fails)."""
    urls = ",".join(f"http://127.0.0.1:{r.port}" for r in receivers)
    r = run(python, HERE / "load.py", urls, KIOSKS, DECLS, BEATS, FACE, WORKERS, timeout=4 * 3600)
    lines = [ln for ln in r.out.splitlines() if ln.startswith("{")]
    if r.rc != 0 or not lines:
        fail(f"load.py against {urls} failed (exit {r.rc}): {r.both.strip()[-500:]}")
    return json.loads(lines[-1])


def rows(label, r):
    what = f"{KIOSKS} kiosks, {r['records']} declarations + {r['heartbeats']} heartbeats"
    row(f"receiver {label}: requests/s ({what})", r["per_second"], "requests/s")
    row(f"receiver {label}: p50 latency", r["p50_ms"], "ms")
    row(f"receiver {label}: p99 latency", r["p99_ms"], "ms")
    if r["errors"]:
        note(f"note: {label}: {r['errors']} errors, e.g. {r['first_errors']}")


def pg_bin():
    """The newest installed PostgreSQL server's bin directory, when it can be run here as the postgres user."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: [int(x) for x in re.findall(r"\d+", Path(d).parent.name)])
    if not dirs or not os.access(Path(dirs[-1]) / "initdb", os.X_OK):
        return None, "no PostgreSQL server installed"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None, "no postgres user"
    if os.geteuid() != 0:
        return None, "not root (PostgreSQL is run as the postgres user)"
    return Path(dirs[-1]), None


def postgres(stack, pgbin):
    """Runs the PostgreSQL rows on a throwaway cluster in the work directory."""
    w, port = stack.work, free_port()
    for d in (w / "pg", w / "sock"):
        d.mkdir()
        shutil.chown(d, "postgres", "postgres")

    def as_postgres(tool, *args):
        r = run("runuser", "-u", "postgres", "--", pgbin / tool, *args, timeout=300)
        if r.rc != 0:
            fail(f"{tool} failed (exit {r.rc}): {r.both.strip()[-500:]}")

    def psql(*args):
        r = run(pgbin / "psql", "-h", "127.0.0.1", "-p", port, "-U", "ckpt", "-d", "postgres", *args)
        if r.rc != 0:
            fail(f"psql {' '.join(args)} failed (exit {r.rc}): {r.err.strip()}")
        return r.out.strip()

    as_postgres("initdb", "-D", w / "pg", "-U", "ckpt", "--auth=trust")
    as_postgres("pg_ctl", "-D", w / "pg", "-l", w / "sock" / "pg.log", "-w",
                "-o", f"-h 127.0.0.1 -p {port} -k {w / 'sock'}", "start")
    receivers = []
    try:
        dsn = f"postgres://ckpt@127.0.0.1:{port}/postgres"
        receivers.append(stack.receiver(name="pg1", port=0, postgres=dsn))
        rows("PostgreSQL, 1 instance", load(receivers[0]))
        psql("-qc", "TRUNCATE received, heartbeats")
        receivers.append(stack.receiver(name="pg2", port=0, postgres=dsn))
        r = load(*receivers)
        rows("PostgreSQL, 2 instances", r)
        stored = int(psql("-Atc", "SELECT count(*) FROM received"))
        if stored != r["records"]:
            note(f"note: two receivers stored {stored} rows for {r['records']} distinct records")
    finally:
        for rc in receivers:
            rc.stop()
        run("runuser", "-u", "postgres", "--", pgbin / "pg_ctl", "-D", w / "pg", "-m", "immediate", "stop")


def main():
    require_bin()
    with bench_stack("fleet-bench") as stack:
        sqlite = stack.receiver(name="sqlite", port=0)
        rows("SQLite, 1 instance", load(sqlite))
        sqlite.stop()
        pgbin, why = pg_bin()
        if pgbin:
            postgres(stack, pgbin)
        else:
            note(f"note: {why}; the PostgreSQL rows are skipped")


if __name__ == "__main__":
    main()
