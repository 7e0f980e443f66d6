"""checkpoint-receiver started with the options a receiver test needs (harness.Stack.receiver() takes none): plain HTTP
on loopback with --port 0 (the port it prints), or over HTTPS with the stack's test CA on the stack's port (what the
daemon's config points at) with extra options such as --silent-after or --stills. Also the contract validator,
Tests/system/lib/contract.py, run as the bash tests ran it."""
import json
import re
import subprocess
from pathlib import Path

from .env import ROOT, binary, python
from .http import http_get
from .wait import wait_until

SPEC = ROOT / "Sources" / "checkpoint-receiver" / "openapi.yaml"
CONTRACT = ROOT / "Tests" / "system" / "lib" / "contract.py"


class PlainReceiver:
    """`checkpoint-receiver ARGS…` with --port 0 among them: waits for 'listening on PORT' (and 'admin listening on
    PORT' when admin=True); stdout and stderr in work/NAME.log. url(path) is http://127.0.0.1:PORT/path."""

    def __init__(self, stack, *args, name="receiver", admin=False, wait=True):
        self.args, self.admin = args, admin
        self.proc = stack.spawn([binary("checkpoint-receiver"), *args], stack.work / f"{name}.log")
        self.port = self.admin_port = None
        if wait:
            self.wait()

    def wait(self):
        """Waits until it listens (raises RuntimeError when it exits or does not within the harness' deadline)."""
        admin, args = self.admin, self.args

        def ports():
            t = self.proc.text()
            p = re.search(r"^listening on (\d+)", t, re.M)
            a = re.search(r"^admin listening on (\d+)", t, re.M)
            if p and (a or not admin):
                return int(p.group(1)), int(a.group(1)) if a else None
            return not self.proc.alive() and "exited"
        got = wait_until(ports)
        if not isinstance(got, tuple):
            raise RuntimeError(f"checkpoint-receiver {' '.join(map(str, args))} did not start: {self.proc.tail()}")
        self.port, self.admin_port = got
        return self

    def url(self, path, port=None):
        return f"http://127.0.0.1:{port or self.port}{path}"

    def get(self, path, **kw):
        return http_get(self.url(path), **kw)

    def post(self, path, body=b"", **kw):
        return http_get(self.url(path), method="POST", body=body, **kw)

    def stop(self):
        return self.proc.stop()


class HTTPSReceiver:
    """checkpoint-receiver over HTTPS on the stack's port with its test CA (as harness.Receiver), plus `args`; its
    SQLite db in work/NAME.sqlite. get(path) is a verified HTTPS request."""

    def __init__(self, stack, *args, name="receiver"):
        stack.tls()
        w = stack.work
        self.port, self.cafile, self.db = stack.port, w / "ca.pem", w / f"{name}.sqlite"
        self.base = f"https://127.0.0.1:{self.port}"
        self.proc = stack.spawn([binary("checkpoint-receiver"), "--port", self.port, "--db", self.db,
                                 "--tls-cert", w / "server.pem", "--tls-key", w / "server.key", *args], w / f"{name}.log")

        def up():
            try:
                return self.get("/healthz", timeout=2).status == 200
            except OSError:
                return not self.proc.alive() and "exited"
        if wait_until(up) is not True:
            raise RuntimeError(f"the receiver did not start: {self.proc.tail()}")

    def get(self, path, **kw):
        return http_get(self.base + path, cafile=self.cafile, **kw)

    def post(self, path, body=b"", **kw):
        return http_get(self.base + path, method="POST", body=body, cafile=self.cafile, **kw)

    def fleet(self):
        return self.get("/v1/fleet", timeout=10).json()

    def kiosk(self, device):
        """The device's entry in /v1/fleet (None when it has sent no heartbeat)."""
        return next((k for k in self.fleet()["kiosks"] if k["deviceId"] == device), None)

    def stop(self):
        return self.proc.stop()


def contract(*args):
    """Tests/system/lib/contract.py OPENAPI ARGS… (e.g. DB --heartbeats, or --schema NAME FILE…): (exit status, output)."""
    p = subprocess.run([python, str(CONTRACT), str(SPEC), *[str(a) for a in args]], capture_output=True, text=True,
                       timeout=120)
    return p.returncode, (p.stdout + p.stderr).strip()


def contract_document(work, name, doc, label):
    """Validates one JSON document (what the receiver answered or kept) against the contract's schema NAME."""
    path = Path(work) / f"{label}.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, (bytes, str)) else (doc.decode() if isinstance(doc, bytes) else doc))
    return contract("--schema", name, path)
