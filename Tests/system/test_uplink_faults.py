"""The libcurl uploader (`checkpointctl queue drain`) against the reference receiver on 127.0.0.1: HTTP, HTTPS and
mutual TLS with certificates made here by openssl; 503 + Retry-After, 500s, 422 (dead letter), a stall mid-body and
connection resets (a tiny faulty proxy); the server down then back (backlog drains, nothing lost or duplicated); a
full queue. Heartbeats run beside the declarations where faults are injected (503, 500s, stall and resets, the
outage), every second on their own connection as the daemon sends them: the declarations keep every guarantee and
timing they have without them, and after the outage the receiver holds the kiosk's current heartbeat, not a replayed
backlog. One work directory for the module (certificates, queues, receiver databases); tests run in file order and
the last ones look at what the earlier ones left (the queue files' mode, every stored record against the contract).
"""
import base64
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import socketserver
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import binary, free_port, run
from harness.contract import contract
from harness.uplink import ctl, dead, drain, enqueue, heartbeat_line, pending, pump, queue_status, confirmed_ids
from harness.wait import wait_until

HB = ("--heartbeat-interval", "1")
INSECURE = "--allow-insecure-http"


@pytest.fixture(scope="module")
def w(stack):
    return stack.work


@pytest.fixture(scope="module")
def receiver(stack):
    """receiver(NAME, ARGS…, port=0) → a harness Receiver on a port it picks, work/NAME.sqlite (HTTPS when ARGS
    carry --tls-cert, the test stand when they carry fault options); stopped at the module's end at the latest."""
    return lambda name, *args, port=0: stack.receiver(*args, name=name, port=port)


def _openssl(w, *args, input=None):
    r = run("openssl", *args, cwd=w, input=input)
    assert r.rc == 0, f"openssl {' '.join(map(str, args))} failed: {r.err}"
    return r.out


def _pin(w, cert):
    """sha256//BASE64 of a certificate's public key (DER), as libcurl's CURLOPT_PINNEDPUBLICKEY takes it."""
    pem = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"], cwd=w, capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pem, capture_output=True, check=True).stdout
    return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture(scope="module")
def certs(w):
    """A private CA, a server cert for 127.0.0.1, client certs (CN pump: `queue pump` records are device "pump";
    CN kiosk-other: another kiosk); and an unrelated CA."""
    o = lambda *a: _openssl(w, *a)  # noqa: E731
    o("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=uplink test CA")
    o("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=other CA")
    o("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (w / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    o("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
      "-days", "2", "-extfile", "server.ext")
    for name, cn in (("client", "pump"), ("other-client", "kiosk-other")):
        o("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
        o("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2")
    for k in w.glob("*.key"):
        k.chmod(0o600)
    assert (w / "server.pem").stat().st_size and (w / "client.pem").stat().st_size, "openssl could not make certificates"
    return w


# --- plain HTTP (explicit insecure flag) ---

@pytest.fixture(scope="module")
def http_receiver(receiver):
    r = receiver("http")
    yield r
    r.stop()


def test_http_delivers_with_allow_insecure_http(w, http_receiver):
    n = enqueue(w / "http.q", 10)
    drain(w / "http.q", http_receiver.url(), INSECURE, timeout=30)
    r, p = http_receiver.received(), pending(w / "http.q")
    assert (n, r, p) == (10, 10, 0), f"want 10 enqueued, 10 received, 0 pending; saw {n} enqueued, {r} received, {p} pending"


def test_http_refused_without_allow_insecure_http(w, http_receiver):
    d = drain(w / "http.q", http_receiver.url(), timeout=5)
    assert d.rc != 0, f"plain http:// accepted without --allow-insecure-http: {d.both}"
    assert "allow-insecure-http" in d.both, f"the refusal should name --allow-insecure-http: {d.both}"


# --- HTTPS with mutual TLS ---

@pytest.fixture(scope="module")
def mtls(certs, receiver):
    r = receiver("mtls", "--tls-cert", certs / "server.pem", "--tls-key", certs / "server.key", "--client-ca", certs / "ca.pem")
    assert enqueue(certs / "mtls.q", 5) == 5
    yield r
    r.stop()


def _mtls_drain(w, r, *tls, timeout=3):
    return drain(w / "mtls.q", r.url(), *[str(w / a) if a.endswith((".pem", ".key")) else a for a in tls],
                 timeout=timeout)


def test_mtls_requires_a_client_certificate(w, mtls):
    _mtls_drain(w, mtls, "--ca-file", "ca.pem")
    assert (mtls.received(), pending(w / "mtls.q")) == (0, 5), \
        f"without a client certificate: want 0 received, 5 still pending; saw {mtls.received()}, {pending(w / 'mtls.q')}"


def test_tls_verifies_the_server(w, mtls):
    _mtls_drain(w, mtls, "--ca-file", "other.pem", "--client-cert", "client.pem", "--client-key", "client.key")
    assert (mtls.received(), pending(w / "mtls.q")) == (0, 5), \
        f"server signed by an untrusted CA: want 0 received, 5 pending; saw {mtls.received()}, {pending(w / 'mtls.q')}"


def test_mtls_certificate_names_the_device(w, mtls):
    # another kiosk's certificate (valid, same CA): 403, nothing stored, nothing lost
    _mtls_drain(w, mtls, "--ca-file", "ca.pem", "--client-cert", "other-client.pem", "--client-key", "other-client.key")
    assert (mtls.received(), pending(w / "mtls.q")) == (0, 5), \
        f"another kiosk's certificate: want 0 received, 5 pending; saw {mtls.received()}, {pending(w / 'mtls.q')}"
    assert "certificate of kiosk-other used for device pump" in mtls.text(), \
        f"the receiver should log the certificate/device mismatch: {mtls.text()[-500:]}"


def test_mtls_delivers_with_the_right_client_certificate(w, mtls):
    _mtls_drain(w, mtls, "--ca-file", "ca.pem", "--client-cert", "client.pem", "--client-key", "client.key", timeout=30)
    assert (mtls.received(), pending(w / "mtls.q")) == (5, 0), \
        f"want 5 received, 0 pending; saw {mtls.received()}, {pending(w / 'mtls.q')}"


def test_mtls_revoked_certificate_refused(certs, receiver):
    # a revoked certificate (the province's list names its serial): 403 even for its own device
    w = certs
    serial = _openssl(w, "x509", "-in", "client.pem", "-noout", "-serial").strip()
    (w / "revoked.txt").write_text(f"# revoked\n{serial}\n")
    r = receiver("revoked", "--tls-cert", w / "server.pem", "--tls-key", w / "server.key", "--client-ca", w / "ca.pem",
                 "--revoked", w / "revoked.txt")
    try:
        enqueue(w / "rev.q", 2)
        drain(w / "rev.q", r.url(), "--ca-file", w / "ca.pem", "--client-cert", w / "client.pem",
              "--client-key", w / "client.key", timeout=3)
        assert (r.received(), pending(w / "rev.q")) == (0, 2), \
            f"revoked certificate: want 0 received, 2 pending; saw {r.received()}, {pending(w / 'rev.q')}"
        assert "is revoked" in r.text(), f"the receiver should log the revocation: {r.text()[-500:]}"
    finally:
        r.stop()


# --- ca_file is the whole trust: a server whose certificate a system-store CA signed is refused ---

def test_ca_file_is_the_only_trust(certs, receiver):
    """A CA is put into the system store's hashed directory (/etc/ssl/certs/HASH.0, what libcurl's CAPATH reads) for
    this test only and removed after it. Without ca_file that server is trusted (the harness sees the system store);
    with ca_file naming another CA it must not be: before the fix, Debian's libcurl kept its CA directory beside
    ca_file."""
    w = certs
    o = lambda *a: _openssl(w, *a)  # noqa: E731
    o("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "sys.key", "-out", "sys.pem", "-days", "2",
      "-subj", "/CN=checkpointd test system-store CA")
    o("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "syssrv.key", "-out", "syssrv.csr", "-subj", "/CN=127.0.0.1")
    o("x509", "-req", "-in", "syssrv.csr", "-CA", "sys.pem", "-CAkey", "sys.key", "-CAcreateserial", "-out", "syssrv.pem",
      "-days", "2", "-extfile", "server.ext")
    h = o("x509", "-hash", "-noout", "-in", "sys.pem").strip()
    i = 0
    while Path(f"/etc/ssl/certs/{h}.{i}").exists():
        i += 1
    syslink = Path(f"/etc/ssl/certs/{h}.{i}")
    r = None
    try:
        shutil.copy(w / "sys.pem", syslink)
        r = receiver("sysca", "--tls-cert", w / "syssrv.pem", "--tls-key", w / "syssrv.key")
        enqueue(w / "sysca.q", 3)
        drain(w / "sysca.q", r.url(), "--ca-file", w / "ca.pem", timeout=3)
        r_cafile = r.received()
        drain(w / "sysca.q", r.url(), timeout=30)
        r_system = r.received()
    finally:
        if r:
            r.stop()
        syslink.unlink(missing_ok=True)
    assert (r_cafile, r_system) == (0, 3), \
        f"with ca_file of another CA: {r_cafile} received (must be 0); with the system store: {r_system} (must be 3)"


# --- public-key pinning: the right pin uploads, a wrong one sends nothing ---

def test_pinned_public_key(certs, receiver):
    w = certs
    r = receiver("pin", "--tls-cert", w / "server.pem", "--tls-key", w / "server.key")
    try:
        pin, wrong = _pin(w, "server.pem"), _pin(w, "other.pem")
        enqueue(w / "pin.q", 2)
        drain(w / "pin.q", r.url(), "--ca-file", w / "ca.pem", "--pinned-public-key", wrong, timeout=3)
        r_wrong = r.received()
        drain(w / "pin.q", r.url(), "--ca-file", w / "ca.pem", "--pinned-public-key", f"{wrong};{pin}", timeout=30)
        r_right, p = r.received(), pending(w / "pin.q")
    finally:
        r.stop()
    assert (r_wrong, r_right, p) == (0, 2, 0), \
        f"wrong pin: {r_wrong} received (must be 0); right pin among two: {r_right}/2 received, {p} pending (must be 0)"


# --- a gateway or captive portal answering 200 with its own page: nothing is deleted, it all arrives later ---

def test_gateway_200_is_not_a_delivery(w, receiver):
    gw = receiver("gateway", "--fail-status", "200", "--fail-count", "1000")
    try:
        enqueue(w / "gw.q", 4)
        drain(w / "gw.q", gw.url(), INSECURE, timeout=3)
        st = queue_status(w / "gw.q")
    finally:
        gw.stop()
    after = receiver("afterGateway")
    try:
        drain(w / "gw.q", after.url(), INSECURE, timeout=30)
        got, p = after.received(), pending(w / "gw.q")
    finally:
        after.stop()
    assert (st["pending"], st["dead"]) == (4, 0), \
        f"after the gateway's 200 page: want 4 pending, 0 dead; saw {st['pending']} pending, {st['dead']} dead"
    assert (got, p) == (4, 0), f"then at the real receiver: want 4 received, 0 pending; saw {got} received, {p} pending"


# --- allow_insecure_http is for loopback only: another host is refused before anything is sent ---

def test_insecure_http_is_for_loopback_only(w):
    enqueue(w / "lan.q", 1)
    d = drain(w / "lan.q", "http://0.0.0.0:9/v1/records", INSECURE, timeout=3)
    assert d.rc != 0, f"plain http:// to a non-loopback host accepted: {d.both}"
    assert "loopback" in d.both, f"the refusal should say loopback: {d.both}"
    assert pending(w / "lan.q") == 1, f"the record should stay pending: {pending(w / 'lan.q')}"


# --- 503 with Retry-After: honoured (3 failures x 1 s), then delivered; heartbeats beside ---

def test_503_retry_after_honoured_with_heartbeats_beside(w, receiver):
    r = receiver("r503", "--fail-status", "503", "--fail-count", "3", "--retry-after", "1")
    try:
        enqueue(w / "r503.q", 4)
        t0 = time.monotonic()
        d = drain(w / "r503.q", r.url(), INSECURE, *HB, timeout=30)
        el = time.monotonic() - t0
        got = r.received()
    finally:
        r.stop()
    line, sent, _ = heartbeat_line(d.out)
    print(f"503 + Retry-After 1 s x 3: {got}/4 received in {el:.1f} s; heartbeats beside: {line}")
    assert got == 4, f"want 4 received after three 503s; saw {got}: {d.both[-300:]}"
    assert el >= 2.9, f"Retry-After 1 s x 3 should take >= 3 s; the drain took {el:.1f} s"
    assert sent and sent >= 1, f"want heartbeats sent beside the drain; saw {line!r}: {d.both[-300:]}"


# --- 500s at random: retried until delivered, no duplicates ---

def test_500s_retried_until_delivered_with_heartbeats_beside(w, receiver):
    r = receiver("r500", "--fail-status", "500", "--fail-rate", "0.5")
    try:
        enqueue(w / "r500.q", 20, 1000)
        d = drain(w / "r500.q", r.url(), INSECURE, *HB, timeout=60)
        got, dups, p = r.received(), r.duplicates(), pending(w / "r500.q")
    finally:
        r.stop()
    line = heartbeat_line(d.out)[0]
    print(f"500s at rate 0.5: {got}/20 received, {dups} duplicates absorbed; heartbeats beside: {line}")
    assert (got, p) == (20, 0), f"want 20 received once each, 0 pending; saw {got} received, {p} pending: {d.both[-300:]}"
    assert line, f"the heartbeats beside the drain should report: {d.both[-300:]}"


# --- 422: dead letter, the rest not blocked; retry-dead brings them back ---

def test_422_dead_letter_then_retry_dead(w, receiver):
    r = receiver("r422", "--fail-status", "422", "--fail-count", "2")
    q = w / "r422.q"
    try:
        enqueue(q, 6)
        drain(q, r.url(), INSECURE, timeout=30)
        first = (r.received(), dead(q), pending(q))
        assert first == (4, 2, 0), f"after two 422s: want 4 received, 2 dead, 0 pending; saw {first}"
        rd = ctl("queue", "retry-dead", "--db", q)
        assert rd.rc == 0, rd.both
        drain(q, r.url(), INSECURE, timeout=30)
        second = (r.received(), dead(q))
        assert second == (6, 0), f"after retry-dead and a drain: want 6 received, 0 dead; saw {second}"
    finally:
        r.stop()


# --- stall mid-body and connection resets, through a faulty proxy in front of the receiver ---

class FaultyProxy:
    """A TCP proxy on 127.0.0.1 whose n-th declaration connection follows plan[n]: "stall" (reads the start of the
    request, then says nothing for 60 s), "reset" (reads the start, then RST), or passes through; after the plan, and
    for heartbeat connections (their own, as the kiosk sends them), everything passes."""

    def __init__(self, target, plan):
        self.target, self.plan, self.n = target, list(plan), 0
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        self.conns = []
        self.modes = []
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.conns.append(c)
            head = b""
            for _ in range(100):  # the whole request line, which names the path
                head = c.recv(2000, socket.MSG_PEEK)
                if b"\r\n" in head or not head:
                    break
                time.sleep(0.01)
            if b"/v1/heartbeats" in head:
                mode = "pass"
            else:
                mode = self.plan[self.n] if self.n < len(self.plan) else "pass"
                self.n += 1
            self.modes.append(mode)
            if mode in ("stall", "reset"):
                c.recv(2000)  # the request line, headers and the start of the body
                if mode == "stall":
                    threading.Thread(target=lambda c=c: (time.sleep(60), c.close()), daemon=True).start()
                else:
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    c.close()
                continue
            u = socket.create_connection(("127.0.0.1", self.target))
            self.conns.append(u)
            threading.Thread(target=self._pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c), daemon=True).start()

    def close(self):
        self.srv.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def test_stall_and_reset_recovered_with_heartbeats_beside(w, receiver):
    r = receiver("proxied")
    proxy = FaultyProxy(r.port, ["stall", "reset", "reset"])
    try:
        enqueue(w / "proxy.q", 5)
        t0 = time.monotonic()
        d = drain(w / "proxy.q", f"http://127.0.0.1:{proxy.port}/v1/records", INSECURE, "--low-speed-seconds", "2",
                  *HB, timeout=60)
        el = time.monotonic() - t0
        got, p = r.received(), pending(w / "proxy.q")
    finally:
        proxy.close()
        r.stop()
    line = heartbeat_line(d.out)[0]
    print(f"stall then two resets: {got}/5 received in {el:.0f} s (connections through the proxy: "
          f"{[m for m in proxy.modes]}); heartbeats beside: {line}")
    assert (got, p) == (5, 0), f"want 5 received, 0 pending; saw {got} received, {p} pending: {d.both[-300:]}"
    # The stalled connection holds for 60 s: only the low-speed limit (2 s) gets the drain past it well before.
    assert el < 40, f"the stall should be cut off by --low-speed-seconds 2, not waited out (60 s): the drain took {el:.0f} s"
    assert line, f"the heartbeats beside the drain should report: {d.both[-300:]}"


# --- server down, then back: the backlog drains, nothing lost, nothing duplicated ---

@pytest.fixture(scope="module")
def outage(w, stack):
    """30 records queued; a drain against a port where nothing listens; then one drain across the outage, heartbeats
    every second beside it (and 3 s after it): the receiver comes up 4 s after the drain has opened its queue."""
    q = w / "down.q"
    enqueue(q, 30)
    dport = free_port()  # nothing listens on this port yet
    url = f"http://127.0.0.1:{dport}/v1/records"
    drain(q, url, INSECURE, timeout=3)
    before = pending(q)
    with open(w / "down.drain", "wb") as out:
        d = stack.spawn([binary("checkpointctl"), "queue", "drain", "--db", q, "--endpoint", url, INSECURE,
                         "--timeout", 60, *HB, "--heartbeat-linger", 3], w / "down.drain.err", stdout=out)

    def opened():  # the drain has started: its queue database is open
        try:
            return any(os.readlink(f"/proc/{d.pid}/fd/{fd}") == str(q) for fd in os.listdir(f"/proc/{d.pid}/fd"))
        except OSError:
            return not d.alive()
    wait_until(opened)
    time.sleep(4)  # the outage
    t_up = time.monotonic()
    r = stack.receiver(name="down", port=dport)
    try:
        d.popen.wait(timeout=200)
        back = time.monotonic() - t_up
        text = (w / "down.drain").read_text() + d.text()
        res = dict(before=before, back=back, text=text, hb=heartbeat_line(text), held=r.heartbeat("pump"),
                   received=r.received(), dups=r.duplicates(), pending=pending(q))
    finally:
        r.stop()
    return res


def test_heartbeats_latest_only_after_outage(outage):
    """Sequence numbers count every attempt from 0, so the current heartbeat is number sent + failed - 1; it was sent
    after the drain, so it reports an empty queue. At 1 s, no more can be delivered than the seconds after the
    receiver came up (+2): the failed ones were not queued and replayed."""
    line, sent, failed = outage["hb"]
    back = outage["back"]
    allowed = int(back) + 2
    h = outage["held"] or {}
    held = (h.get("sequence"), (h.get("queue") or {}).get("depth"))
    assert line, f"the drain should report its heartbeats: {outage['text'][-300:]}"
    print(f"{failed} failed while down, {sent} delivered in the {back:.0f} s after: at most {allowed} at 1 s; "
          f"the receiver holds sequence {held[0]}, queue depth {held[1]}")
    assert failed >= 2, f"want at least 2 heartbeats failed during the 4 s outage; saw {failed}"
    assert 1 <= sent <= allowed, f"want 1..{allowed} heartbeats delivered in the {back:.1f} s after the outage; saw {sent}"
    assert held == (sent + failed - 1, 0), \
        f"the receiver should hold the last heartbeat (sequence {sent + failed - 1}, queue depth 0); holds {held}"


def test_server_down_then_back_backlog_drains_once(outage):
    o = outage
    seen = (o["before"], o["received"], o["pending"], o["dups"])
    assert seen == (30, 30, 0, 0), \
        f"want 30 pending while down, then 30 received, 0 pending, 0 duplicates; saw {seen}: {o['text'][-300:]}"


# --- full queue (tiny size limit): old faces dropped first, then refused; nothing half-stored ---

def test_queue_full_drops_old_faces_then_refuses(w):
    q = w / "full.q"
    # 20 records with 30 KB faces into 200 KiB: every declaration is kept, old faces make room
    p1 = pump(q, 20, 30000, "--max-kib", "200", endpoint="http://127.0.0.1:9/x")
    # then 800 declarations without faces: the queue fills and refuses, never overwrites
    p2 = pump(q, 800, 0, "--max-kib", "200", endpoint="http://127.0.0.1:9/x")
    ids1 = confirmed_ids(p1.out)
    conf1, conf2 = len(ids1), len(confirmed_ids(p2.out))
    refused = len(re.findall(r"^refused queue-full", p2.out, re.M))
    st = queue_status(q, "--max-mib", "1")
    con = sqlite3.connect(q)
    try:
        first_kept = con.execute("SELECT COUNT(*) FROM records WHERE lower(id) IN (%s)" % ",".join("?" * len(ids1)),
                                 [i.lower() for i in ids1]).fetchone()[0] if ids1 else 0
    finally:
        con.close()
    print(f"phase 1 confirmed {conf1} (kept {first_kept}, {st['faces']} faces left); phase 2 confirmed {conf2}, "
          f"refused {refused}; stored {st['pending']}; integrity {st['integrity']}")
    assert conf1 == 20 and first_kept == 20, f"want the 20 declarations with faces all kept; confirmed {conf1}, kept {first_kept}"
    assert st["faces"] is not None and st["faces"] < 20, f"want old faces dropped to make room; {st['faces']} of 20 left"
    assert refused > 0, "want the queue to refuse (queue-full) once full; nothing refused"
    assert st["pending"] == conf1 + conf2, f"stored {st['pending']} should be every confirmed record ({conf1 + conf2})"
    assert st["integrity"] == "ok", f"integrity_check: {st['integrity']}"


def test_disk_floor_refuses_as_disk_full(w):
    # free-disk floor above what the disk has: refused as disk-full, nothing stored
    p = pump(w / "floor.q", 3, 100, "--floor-kib", "1000000000", endpoint="http://127.0.0.1:9/x")
    refused = len(re.findall(r"^refused disk-full", p.out, re.M))
    assert (refused, pending(w / "floor.q")) == (3, 0), \
        f"want 3 refused disk-full, 0 stored; saw {refused}, {pending(w / 'floor.q')}: {p.out[:300]}"


# --- export: every pending/dead record as private files ---

def test_export_writes_private_files(w):
    enqueue(w / "exp.q", 3, 2000)
    ctl("queue", "export", "--db", w / "exp.q", w / "export")
    ex = w / "export"
    js, jpgs = sorted(ex.glob("*.json")), sorted(ex.glob("*.jpg"))
    modes = sorted({oct(f.stat().st_mode & 0o777) for f in ex.iterdir()})
    dmode = oct(ex.stat().st_mode & 0o777)
    assert (len(js), len(jpgs)) == (3, 3), f"want 3 .json and 3 .jpg; saw {len(js)} and {len(jpgs)}"
    assert modes == ["0o600"] and dmode == "0o700", f"want files 0600 in a 0700 directory; saw files {modes}, dir {dmode}"
    show = ctl("queue", "show", "--db", w / "exp.q", js[0].stem)
    assert '"checkpointId":"stress"' in show.out, f"queue show {js[0].stem} should show the record: {show.both[:300]}"


# --- checkpointctl status: GET /healthz over a Unix socket, shown for a person ---

class _Health(http.server.BaseHTTPRequestHandler):
    status = "ok"

    def address_string(self):
        return "unix"

    def log_message(self, *a):
        pass

    def do_GET(self):
        healthz = self.path == "/healthz"
        body = json.dumps({"status": self.status, "queue.pending": "4", "upload.lastError": "HTTP 503"}).encode() \
            if healthz else b"{}"
        self.send_response(200 if healthz else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_status_command(w):
    servers = []
    for name, status in (("api.sock", "ok"), ("api2.sock", "degraded")):
        h = type(f"Health_{status}", (_Health,), {"status": status})
        s = socketserver.ThreadingUnixStreamServer(str(w / name), h)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
    try:
        ok = ctl("status", "--socket", w / "api.sock")
        degraded = ctl("status", "--socket", w / "api2.sock")
        missing = ctl("status", "--socket", w / "missing.sock")
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()
    assert ok.rc == 0, f"status of an ok daemon should exit 0: rc {ok.rc}: {ok.both}"
    assert "checkpointd: ok" in ok.both and re.search(r"queue\.pending *4", ok.both), \
        f"want 'checkpointd: ok' and 'queue.pending 4' shown: {ok.both}"
    assert degraded.rc != 0, f"status of a degraded daemon should exit non-zero: {degraded.both}"
    assert missing.rc != 0 and "cannot reach checkpointd" in missing.both, \
        f"a missing socket: want non-zero and 'cannot reach checkpointd'; rc {missing.rc}: {missing.both}"


# --- personal data: database files private ---

def test_queue_database_is_private(w):
    q = w / "http.q"
    if not q.exists():  # the first test's queue, when run alone
        enqueue(q, 1)
    m = oct(q.stat().st_mode & 0o777)
    assert m == "0o600", f"queue db mode {m}, want 0o600"


# --- durability: every confirmed enqueue is fsynced before it is confirmed (synchronous=FULL, not NORMAL) ---

def test_enqueue_fsyncs_each_record(w):
    assert shutil.which("strace"), "strace missing (make deps installs it)"
    # -y names each fd: count the syncs of the write-ahead log only (background checkpoints sync it too, but at most a
    # few times for this burst; a commit that is not synced leaves the count well under one per record).
    trace = w / "sync.trace"
    r = run("strace", "-f", "-y", "-e", "trace=fsync,fdatasync", "-o", trace, binary("checkpointctl"), "queue", "pump",
            "--db", w / "sync.q", "--endpoint", "http://127.0.0.1:9/x", INSECURE, "--no-upload", "--count", "20",
            "--face-bytes", "1000", "--interval-ms", "0", timeout=300)
    syncs = len(re.findall(r"^[0-9]+ +f(?:data)?sync\([0-9]+<[^>]*sync\.q-wal>", trace.read_text(), re.M))
    confirmed = len(confirmed_ids(r.out))
    print(f"{confirmed} confirmed, {syncs} fsyncs of the WAL")
    assert confirmed == 20, f"want 20 confirmed; saw {confirmed}: {r.both[-300:]}"
    assert syncs >= 20, f"want one fsync of the WAL per record at least; saw {syncs} for {confirmed} records"


# --- the contract: every record any receiver of this module stored validates against openapi.yaml's Record schema ---

def test_records_match_the_contract(w):
    dbs = sorted(w.glob("*.sqlite"))
    assert dbs, "no receiver database in the work directory (the earlier tests of this module make them)"
    ok, out = contract(*dbs)
    print(out)
    assert ok, out
