"""checkpoint-receiver for a test, the demo, the soak or a benchmark: the one way the harness starts it.

  Receiver(stack)                      over HTTPS with the stack's test CA on the stack's port (what the daemon's config
                                       points at), its SQLite db work/receiver.sqlite; again after stop(): same port, db
  Receiver(stack, ARGS…, port=0)       plain HTTP on a port it picks (read from its 'listening on PORT' line); ARGS
                                       with --tls-cert … make it HTTPS with that certificate; tls=True: the stack's
  name="r"                             work/r.sqlite and work/r.log (stdout and stderr)
  postgres=DSN                         --postgres DSN instead of --db (the SQLite queries then see no database)
  admin=True                           with --admin-port among ARGS: waits for 'admin listening on PORT' (admin_port)
  wait=False                           returns at once; wait() waits until it listens
Fault options among ARGS (--fail-status, --fail-rate, --fail-count, --retry-after) run it as `test-stand`, the only
mode that injects faults. Stack.receiver(ARGS…, **kw) is Receiver(stack, ARGS…, **kw)."""
import json
import re
import sqlite3

from .env import binary
from .http import http_get
from .wait import wait_until

FAULTS = ("--fail-status", "--fail-rate", "--fail-count", "--retry-after")


class Receiver:
    def __init__(self, stack, *args, name="receiver", port=None, tls=None, postgres=None, admin=False, wait=True):
        w = stack.work
        if port is None:
            port = stack.tls()
            tls = True if tls is None else tls
        if tls:
            stack.tls()
        args = [str(a) for a in args]
        self.stack, self.name, self.admin = stack, name, admin
        self.db = None if postgres else w / f"{name}.sqlite"
        self.log = w / f"{name}.log"
        self.cafile = w / "ca.pem" if tls else None
        self.scheme = "https" if tls or "--tls-cert" in args else "http"
        self.port = self.admin_port = None
        mode = ["test-stand"] if any(a in FAULTS for a in args) else []
        storage = ["--postgres", postgres] if postgres else ["--db", self.db]
        cert = ["--tls-cert", w / "server.pem", "--tls-key", w / "server.key"] if tls else []
        self._start = self.log.stat().st_size if self.log.exists() else 0  # a restart appends to the same log
        self.proc = stack.spawn([binary("checkpoint-receiver"), *mode, "--port", port, *storage, *cert, *args],
                                self.log)
        if wait:
            self.wait()

    def wait(self):
        """Waits until it listens (raises RuntimeError when it exits or does not within the harness' deadline)."""
        def ports():
            with open(self.log, "rb") as f:
                f.seek(self._start)
                t = f.read().decode("utf-8", "replace")
            p = re.search(r"^listening on (\d+)", t, re.M)
            a = re.search(r"^admin listening on (\d+)", t, re.M)
            if p and (a or not self.admin):
                return int(p.group(1)), int(a.group(1)) if a else None
            return not self.proc.alive() and "exited"
        got = wait_until(ports)
        if not isinstance(got, tuple):
            raise RuntimeError(f"checkpoint-receiver {self.name} did not start: {self.proc.tail()}")
        self.port, self.admin_port = got
        return self

    # HTTP.
    def url(self, path="/v1/records", port=None):
        """http(s)://127.0.0.1:PORT/PATH (its records endpoint by default; port=r.admin_port for the admin one)."""
        return f"{self.scheme}://127.0.0.1:{port or self.port}{path}"

    def get(self, path, **kw):
        """A request to PATH (verified against the stack's CA over HTTPS); harness.http.Response."""
        return http_get(self.url(path), cafile=self.cafile, **kw)

    def post(self, path, body=b"", **kw):
        return http_get(self.url(path), method="POST", body=body, cafile=self.cafile, **kw)

    def records(self):
        """GET /v1/records: {'count': N, 'ids': […]} (stored, deduplicated by Idempotency-Key)."""
        return self.get("/v1/records", timeout=10).json()

    def count(self):
        """The number of records it has stored (deduplicated by Idempotency-Key)."""
        return self.records()["count"]

    def fleet(self):
        return self.get("/v1/fleet", timeout=10).json()

    def kiosk(self, device):
        """The device's entry in /v1/fleet (None when it has sent no heartbeat)."""
        return next((k for k in self.fleet()["kiosks"] if k["deviceId"] == device), None)

    # Its SQLite database, read as the tests read it.
    def _query(self, sql, *params):
        if self.db is None or not self.db.exists():
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
        """(id, duplicates) of every stored record."""
        return self._query("SELECT id, duplicates FROM received")

    def heartbeat(self, device):
        """The heartbeat it holds for a device (parsed JSON), or None."""
        rows = self._query("SELECT json FROM heartbeats WHERE device_id = ?", device)
        return json.loads(rows[0][0]) if rows else None

    # The process.
    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.alive()

    def text(self):
        """Its log so far (stdout and stderr; every run under this name)."""
        return self.proc.text()

    def tail(self, n=10):
        return self.proc.tail(n)

    def stop(self):
        """SIGTERM and wait: (exit status, seconds). The network goes down; its database stays, and a receiver started
        again with the same name (and port) finds it."""
        return self.proc.stop()
