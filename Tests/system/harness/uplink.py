"""The uplink's test tools: the reference receiver on a port it picks (plain HTTP or TLS, or `test-stand` with fault
injection), its SQLite database read as the tests read it, and `checkpointctl queue` (pump, drain, status) on a
queue database. Used by test_uplink_faults.py, test_uplink_crash.py and test_receiver_uploads.py."""
import json
import re
import sqlite3
import subprocess

from .env import ROOT, binary, python
from .proc import run
from .wait import wait_until

OPENAPI = ROOT / "Sources" / "checkpoint-receiver" / "openapi.yaml"
CONTRACT = ROOT / "Tests" / "system" / "lib" / "contract.py"


class PortReceiver:
    """`checkpoint-receiver [test-stand] --port PORT --db work/NAME.db ARGS…`; port 0 lets it pick one, read from its
    'listening on PORT' line (stdout in work/NAME.out, stderr in work/NAME.err). Fault options (--fail-status …) run it
    as the test stand, the only mode that injects faults. postgres=DSN: `--postgres DSN` instead of --db (the SQLite
    helpers below then see no database)."""

    def __init__(self, stack, name, *args, port=0, postgres=None):
        w = stack.work
        self.name, self.db = name, w / f"{name}.db"
        self.out, self.err = w / f"{name}.out", w / f"{name}.err"
        mode = ["test-stand"] if "--fail-status" in args else []
        storage = ["--postgres", postgres] if postgres else ["--db", self.db]
        with open(self.out, "wb") as out:
            self.proc = stack.spawn([binary("checkpoint-receiver"), *mode, "--port", port, *storage,
                                     *[str(a) for a in args]], self.err, stdout=out)

        def listening():
            m = re.search(r"^listening on (\d+)", self.out.read_text(), re.M)
            return int(m.group(1)) if m else (not self.proc.alive() and "exited")
        p = wait_until(listening)
        if not isinstance(p, int):
            raise RuntimeError(f"receiver {name} did not start: {self.err_text()}")
        self.port = p

    @property
    def pid(self):
        return self.proc.pid

    def url(self, scheme="http"):
        return f"{scheme}://127.0.0.1:{self.port}/v1/records"

    def err_text(self):
        return self.err.read_text(errors="replace") if self.err.exists() else ""

    def _query(self, sql, *params):
        if not self.db.exists():
            return []
        con = sqlite3.connect(self.db, timeout=30)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def received(self):
        """Records stored (one row per Idempotency-Key)."""
        rows = self._query("SELECT COUNT(*) FROM received")
        return rows[0][0] if rows else 0

    def duplicates(self):
        """Duplicate uploads absorbed by Idempotency-Key."""
        rows = self._query("SELECT COALESCE(SUM(duplicates), 0) FROM received")
        return rows[0][0] if rows else 0

    def rows(self):
        return self._query("SELECT id, duplicates FROM received")

    def heartbeat(self, device):
        """The heartbeat the receiver holds for a device (parsed JSON), or None."""
        rows = self._query("SELECT json FROM heartbeats WHERE device_id = ?", device)
        return json.loads(rows[0][0]) if rows else None

    def alive(self):
        return self.proc.alive()

    def stop(self):
        return self.proc.stop()


def ctl(*args, timeout=600, **kw):
    """checkpointctl ARGS… to completion (harness.run's Result: rc, out, err, both)."""
    return run(binary("checkpointctl"), *args, timeout=timeout, **kw)


def queue_status(db, *args):
    """`checkpointctl queue status --db DB`: {'pending': N, 'faces': N or None, 'dead': N, 'integrity': str, 'text'}."""
    t = ctl("queue", "status", "--db", db, *args).both
    st = {"text": t}
    m = re.search(r"^pending:\s+(\d+)(?: \((\d+))?", t, re.M)
    st["pending"], st["faces"] = (int(m.group(1)), m.group(2) and int(m.group(2))) if m else (None, None)
    m = re.search(r"^dead letter:\s+(\d+)", t, re.M)
    st["dead"] = int(m.group(1)) if m else None
    m = re.search(r"^integrity:\s+(\S+)", t, re.M)
    st["integrity"] = m.group(1) if m else None
    return st


def pending(db):
    return queue_status(db)["pending"]


def dead(db):
    return queue_status(db)["dead"]


def pump(db, count, face_bytes=30000, *extra, endpoint="http://127.0.0.1:9/unused"):
    """`queue pump --no-upload`: enqueues only; returns the Result (its stdout has one 'confirmed ID' per commit)."""
    return ctl("queue", "pump", "--db", db, "--endpoint", endpoint, "--allow-insecure-http", "--no-upload",
               "--count", count, "--face-bytes", face_bytes, "--interval-ms", 0, *extra)


def confirmed_ids(text):
    return re.findall(r"^confirmed (\S+)", text, re.M)


def enqueue(db, count, face_bytes=30000):
    """Enqueues `count` synthetic records; returns how many were confirmed."""
    return len(confirmed_ids(pump(db, count, face_bytes).out))


def drain(db, endpoint, *args, timeout=30):
    """`queue drain --db DB --endpoint URL --timeout T ARGS…` to completion (Result)."""
    return ctl("queue", "drain", "--db", db, "--endpoint", endpoint, "--timeout", timeout, *args, timeout=timeout + 120)


def heartbeat_line(text):
    """'heartbeats sent N; failed M' from a drain with --heartbeat-interval → (line, sent, failed), or (None, None, None)."""
    m = re.search(r"^heartbeats sent (\d+); failed (\d+)", text, re.M)
    return (m.group(0), int(m.group(1)), int(m.group(2))) if m else (None, None, None)


def contract(*dbs):
    """Tests/system/lib/contract.py over receiver databases: (ok, its output)."""
    p = subprocess.run([python, str(CONTRACT), str(OPENAPI), *[str(d) for d in dbs]], capture_output=True, text=True,
                       timeout=300)
    return p.returncode == 0, (p.stdout + p.stderr).strip()
