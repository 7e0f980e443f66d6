"""The receiver on PostgreSQL, scaled out: a real PostgreSQL server (Debian's postgresql, initdb/pg_ctl as the
unprivileged `postgres` user, on loopback in the module's work directory) and two receivers on that one database.
Two kiosks hold the same 60 records (one queue copied) and drain them at the same time, one to each receiver, then
both again (every record a duplicate by then): each record is stored exactly once, every duplicate answered 200 with
its receipt (both queues end empty, nothing dead-lettered), the duplicates counted. Heartbeats from one device through
both receivers leave one row, the latest. A monitoring-still request made on one receiver is handed out by the other.
A receiver restarted on the same database finds its tables.
The receivers reach PostgreSQL over verified TLS only: the server has a certificate from a test CA made here with
openssl (ssl=on; pg_hba takes TCP only as hostssl), the receivers connect with sslmode=verify-full and that CA; a
receiver given another CA, or a plain TCP connection, refuses to start with a one-line error.
PostgreSQL is started by the module fixture `pg` and stopped after the module's last test; tests run in file order
and build on each other's state (one database)."""
import glob
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import binary, free_port, run

N = 60
DEVICE = "TN-K09"


def _pgbin():
    dirs = glob.glob("/usr/lib/postgresql/*/bin")
    dirs.sort(key=lambda d: [int(x) if x.isdigit() else x for x in re.split(r"[./]", d)])
    return Path(dirs[-1]) if dirs else None


class Postgres:
    """A PostgreSQL server in work/pg on 127.0.0.1:port with ssl = on (server.crt from work/ca.pem) and pg_hba taking
    TCP only as hostssl; run as the `postgres` user when the test runs as root."""

    def __init__(self, work):
        self.bin, self.work = _pgbin(), Path(work)
        self.data, self.sock = self.work / "pg", self.work / "sock"
        self.port = free_port()
        self.receivers = []
        self.started = False

    def as_pg(self, *argv, **kw):
        argv = [str(a) for a in argv]
        if os.getuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)

    def setup(self):
        w = self.work
        w.chmod(0o755)
        for d in (self.data, self.sock):
            d.mkdir()
            if os.getuid() == 0:
                shutil.chown(d, "postgres", "postgres")
        r = self.as_pg(self.bin / "initdb", "-D", self.data, "-U", "ckpt", "--auth=trust", "-E", "UTF8")
        if r.returncode != 0:
            pytest.fail("initdb: " + "\n".join((r.stdout + r.stderr).splitlines()[-3:]))
        # A test CA and the server's certificate (for localhost), and another CA the server's certificate is not from.
        cmds = [["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", w / f"{ca}.key",
                 "-out", w / f"{ca}.pem", "-days", "2", "-subj", f"/CN=checkpoint test {ca}"] for ca in ("ca", "other-ca")]
        cmds.append(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", self.data / "server.key",
                     "-out", w / "server.csr", "-subj", "/CN=localhost"])
        (w / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        cmds.append(["openssl", "x509", "-req", "-in", w / "server.csr", "-CA", w / "ca.pem", "-CAkey", w / "ca.key",
                     "-CAcreateserial", "-out", self.data / "server.crt", "-days", "2", "-extfile", w / "san.ext"])
        for c in cmds:
            if subprocess.run([str(a) for a in c], capture_output=True).returncode != 0:
                pytest.fail("openssl could not make the test CA and certificates")
        (self.data / "server.key").chmod(0o600)
        if os.getuid() == 0:
            for f in ("server.key", "server.crt"):
                shutil.chown(self.data / f, "postgres", "postgres")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        (self.data / "pg_hba.conf").write_text(
            "local     all all                trust\n"
            "hostssl   all all 127.0.0.1/32   trust\n"
            "hostssl   all all ::1/128        trust\n"
            "hostnossl all all 0.0.0.0/0      reject\n"
            "hostnossl all all ::/0           reject\n")
        r = self.as_pg(self.bin / "pg_ctl", "-D", self.data, "-l", self.sock / "pg.log", "-w", "-o",
                       f"-h 127.0.0.1 -p {self.port} -k {self.sock} -c fsync=on", "start")
        if r.returncode != 0:
            log = self.sock / "pg.log"
            pytest.fail("pg_ctl start: " + ("\n".join(log.read_text().splitlines()[-5:]) if log.exists() else r.stderr))
        self.started = True

    def stop(self):
        for r in self.receivers:
            r.stop()
        if self.started and (self.data / "postmaster.pid").exists():
            self.as_pg(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "stop")

    def version(self):
        return subprocess.run([self.bin / "postgres", "--version"], capture_output=True, text=True).stdout.split()[2]

    def psql(self, sql):
        """psql -At over TLS (sslmode=require); the rows as one string, columns joined with |."""
        r = subprocess.run([self.bin / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "ckpt", "-d", "postgres",
                            "-At", "-c", sql], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PGSSLMODE="require"))
        assert r.returncode == 0, f"psql {sql!r}: {r.stderr.strip()}"
        return r.stdout.strip()

    def dsn(self, ca="ca.pem"):
        return f"postgres://ckpt@localhost:{self.port}/postgres?sslmode=verify-full&sslrootcert={self.work / ca}"


@pytest.fixture(scope="module")
def pg(stack):
    if _pgbin() is None or not (_pgbin() / "initdb").exists():
        pytest.fail("no PostgreSQL server (make deps: postgresql)")
    if subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
        pytest.fail("no postgres user (make deps: postgresql)")
    p = Postgres(stack.work)
    try:
        p.setup()
        yield p
    finally:
        p.stop()


def launch(stack, pg, name):
    """A receiver on the database (verify-full TLS) with the one stills directory shared by all; not waited for."""
    r = stack.receiver("--stills", stack.work / "stills", name=name, port=0, postgres=pg.dsn(), wait=False)
    pg.receivers.append(r)
    return r


def queue_status(stack, db):
    """(pending, dead letters) of a kiosk's queue, from `checkpointctl queue status`."""
    out = run(binary("checkpointctl"), "queue", "status", "--db", stack.work / db).out
    pending = re.search(r"^pending:\s*(\S+)", out, re.M)
    dead = re.search(r"^dead letter:\s*(\S+)", out, re.M)
    return (pending.group(1) if pending else None, dead.group(1) if dead else None)


def heartbeat(r, depth):
    """POSTs a heartbeat of DEVICE with queue depth `depth` to receiver r; (HTTP status, its stillRequest)."""
    h = {"deviceId": DEVICE, "checkpointId": "TN-03", "softwareVersion": "1", "sentAt": "2026-12-07T00:00:00Z",
         "clockSynced": True, "bootId": "b", "sequence": depth, "reason": "interval", "changes": [], "uptimeSeconds": 5,
         "health": {"overall": "ok", "stages": []}, "sensor": {"connected": True, "warmUpRemainingSeconds": 0},
         "calibration": {"id": "c"}, "queue": {"depth": depth, "deadLetters": 0, "alert": False}, "freeDiskBytes": 1,
         "screenings": {"normal": 0, "elevated": 0, "invalid": 0}}
    resp = r.post("/v1/heartbeats", body=h, timeout=30)
    return resp.status, (resp.json().get("stillRequest") if resp.status == 200 else resp.text)


def kiosk(r, device=DEVICE):
    return [k for k in r.get("/v1/fleet", timeout=30).json()["kiosks"] if k["deviceId"] == device]


def test_postgres_started(pg):
    print(f"PostgreSQL {pg.version()} on 127.0.0.1:{pg.port}")
    assert pg.psql("SELECT 1") == "1"


# Refusals first: another CA, and plain TCP (which pg_hba rejects): each stops the start with one line naming why.
@pytest.mark.parametrize("case", ["wrong-ca", "plain-tcp"])
def test_receiver_refuses_to_start_with_one_line(stack, pg, case):
    if case == "wrong-ca":
        dsn, pattern = pg.dsn("other-ca.pem"), re.escape(f"does not verify against the CA in {stack.work / 'other-ca.pem'}")
    else:
        dsn, pattern = f"postgres://ckpt@127.0.0.1:{pg.port}/postgres", r"pg_hba.conf.*no encryption|refused.*encryption"
    try:
        r = run(binary("checkpoint-receiver"), "--port", 0, "--postgres", dsn, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: the receiver was still running after 60 s")
    lines = [l for l in r.err.splitlines() if l]
    print(f"{case}: exit {r.rc}: {r.err.strip()}")
    assert r.rc != 0, f"{case}: the receiver started (exit 0): {r.out} {r.err}"
    assert "listening" not in r.out, f"{case}: the receiver listened: {r.out}"
    assert len(lines) == 1, f"{case}: want one line on stderr, got {len(lines)}: {r.err}"
    assert re.search(pattern, r.err, re.I), f"{case}: stderr does not match /{pattern}/: {r.err}"


@pytest.fixture(scope="module")
def ab(stack, pg):
    # Both at once: the table creation takes turns.
    a, b = launch(stack, pg, "a"), launch(stack, pg, "b")
    for r in (a, b):
        try:
            r.wait()
        except RuntimeError as e:
            pytest.fail(f"two receivers on one database: {e}")
    return a, b


def test_two_receivers_start_together_on_one_database(ab):
    a, b = ab
    print(f"started together over verify-full TLS; ports {a.port}, {b.port}")
    assert a.port and b.port and a.proc.alive() and b.proc.alive()


@pytest.fixture(scope="module")
def drained(stack, ab):
    a, b = ab
    ctl = binary("checkpointctl")
    r = run(ctl, "queue", "pump", "--db", stack.work / "k1.db", "--endpoint", "http://127.0.0.1:9/x", "--allow-insecure-http",
            "--no-upload", "--count", N, "--face-bytes", 2000, "--interval-ms", 0)
    assert r.rc == 0, f"queue pump: {r.both[-500:]}"
    shutil.copy(stack.work / "k1.db", stack.work / "k2.db")
    procs = []
    for db, rec in (("k1", a), ("k2", b)):
        with open(stack.work / f"{db}.drain", "wb") as out:
            procs.append(subprocess.Popen([ctl, "queue", "drain", "--db", str(stack.work / f"{db}.db"), "--endpoint",
                                           rec.url("/v1/records"), "--allow-insecure-http", "--timeout", "120"],
                                          stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    for p in procs:
        p.wait(timeout=300)
    return True


def test_same_records_to_both_receivers_are_stored_once(pg, drained):
    stored = pg.psql("SELECT count(*), count(DISTINCT id), sum(duplicates) FROM received")
    print(f"{N} records x 2 receivers: count|distinct|duplicates = {stored}")
    assert stored == f"{N}|{N}|{N}", f"count|distinct|duplicates = {stored} (want {N}|{N}|{N})"


def test_duplicates_are_answered_with_receipts(stack, drained):
    k1, k2 = queue_status(stack, "k1.db"), queue_status(stack, "k2.db")
    assert k1 == ("0", "0") and k2 == ("0", "0"), \
        f"pending/dead letters: k1 {k1}, k2 {k2} (want both queues empty, nothing dead-lettered)"


# A key reused with a different record is refused by either receiver.
def test_a_reused_key_with_another_record_is_refused_by_the_other_receiver(pg, ab, drained):
    _, b = ab
    rid = pg.psql("SELECT id FROM received LIMIT 1")
    rec = {"id": rid, "checkpointId": "other", "deviceId": "other", "softwareVersion": "x", "faceCaptured": False,
           "clock": {"wallTime": "2026-12-07T00:00:00.000Z", "clockSynced": True, "bootId": "b", "monotonicNanos": 1},
           "screening": {"result": "unavailable", "flags": ["no-screening-id"]},
           "declaration": {"fullName": "X", "birthYear": 1990, "gender": "Nam", "nation": "VN", "provinceId": "19",
                           "wardId": "1", "address": "x", "phone": "0912345678", "hasPatient": 2,
                           "hasFromSickCountry": 2, "hasSick": 2, "consent": True}}
    bd = "B0undary"
    body = (f"--{bd}\r\nContent-Disposition: form-data; name=\"record\"\r\nContent-Type: application/json\r\n\r\n"
            + json.dumps(rec) + f"\r\n--{bd}--\r\n").encode()
    resp = b.post("/v1/records", body=body, headers={"Content-Type": f"multipart/form-data; boundary={bd}",
                                                     "Idempotency-Key": rid})
    assert resp.status == 422, f"HTTP {resp.status} (want 422): {resp.text[:200]}"


# Heartbeats of one device through both receivers: one row, the latest.
def test_heartbeats_keep_the_latest_per_device_across_receivers(pg, ab):
    a, b = ab
    assert heartbeat(a, 1)[0] == 200 and heartbeat(b, 2)[0] == 200
    rows = pg.psql(f"SELECT count(*) FROM heartbeats WHERE device_id = '{DEVICE}'")
    depth = [k["queueDepth"] for k in kiosk(a)]
    assert rows == "1" and depth == [2], f"rows {rows}, receiver A's fleet depth {depth} (want 1 row, [2]: B's newer one)"


# A monitoring-still request made on A is handed out by B on the kiosk's next heartbeat, once; the kiosk's refusal
# reaches A; both show it (the request lives in the database, not in one receiver's memory).
def test_a_still_request_is_shared_across_receivers(pg, ab):
    a, b = ab
    resp = a.post(f"/v1/fleet/{DEVICE}/still-requests")
    req_id = resp.json().get("requestId") if resp.status == 202 else None
    on_b, on_a = heartbeat(b, 3), heartbeat(a, 4)
    refused = a.post("/v1/monitoring/still-refusals",
                     body={"deviceId": DEVICE, "requestId": req_id, "reason": "disabled"}).status
    state_b = [k["still"]["request"] for k in kiosk(b)]
    rows = pg.psql(f"SELECT count(*) FROM still_requests WHERE device_id = '{DEVICE}' AND request_id = '{req_id}' "
                   "AND state = 'refused'")
    seen = f"id {req_id!r} (HTTP {resp.status}), B's reply {on_b}, A's reply {on_a}, refusal HTTP {refused}, " \
           f"B shows {state_b}, rows {rows}"
    assert req_id, seen
    assert on_b == (200, {"id": req_id}), f"B did not hand out the request: {seen}"
    assert on_a == (200, None), f"A handed out the request again: {seen}"
    assert refused == 204 and state_b == ["refused"] and rows == "1", seen


# Restart: the tables are found, the records still there.
def test_a_restarted_receiver_keeps_the_records(stack, pg, ab):
    a, _ = ab
    a.stop()
    c = launch(stack, pg, "c").wait()
    n = c.get("/v1/records", timeout=30).json()["count"]
    assert n == N, f"count {n} after a restart (want {N})"


def test_the_receivers_connections_are_encrypted(pg):
    tls = pg.psql("SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                  "WHERE a.client_addr IS NOT NULL AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'")
    enc, total = tls.split("|")
    print(f"TLS on {enc} of the receivers' {total} connections")
    assert int(total) > 0 and enc == total, f"TLS|all = {tls}"
