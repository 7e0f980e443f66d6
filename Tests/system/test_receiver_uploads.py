"""Large uploads are streamed, not held: UPLOADS (default 8) concurrent uploads of FACE_MB (default 24) MiB faces each
go to one receiver (SQLite, --faces) and its peak resident memory (VmHWM in /proc/PID/status) may rise by less than a
quarter of the sum of the bodies (whole bodies in memory would raise it by more than their sum); every face is stored
byte for byte, a retry is still a duplicate. A body over --max-body-bytes gets 413 early, whether it declares its
length (refused before its body is read) or is chunked (refused soon after the cap), the connection is closed, and
nothing of it is stored (no record, no face, no temporary file). The figures measured are printed, not asserted
against a clock. One receiver for the module; tests run in file order."""
import hashlib
import http.client
import json
import os
import socket
import threading
import time
import uuid

import pytest

MAX = 48 * 1024 * 1024
UPLOADS = int(os.environ.get("UPLOADS") or 8)
FACE_MB = int(os.environ.get("FACE_MB") or 24)
B = "ckpt-uploads-boundary"


@pytest.fixture(scope="module")
def rx(stack):
    faces = stack.work / "faces"
    faces.mkdir()
    r = stack.receiver("--faces", faces, "--max-body-bytes", MAX, name="r", port=0)
    r.faces = faces
    yield r
    r.stop()


def _status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])


def _record(rid):
    return {"id": rid, "checkpointId": "TN-01", "deviceId": "TN-K01", "softwareVersion": "x", "faceCaptured": True,
            "clock": {"wallTime": "2026-12-07T00:00:00.000Z", "clockSynced": True, "bootId": "b", "monotonicNanos": 1},
            "screening": {"result": "unavailable", "flags": ["no-screening-id"]},
            "declaration": {"fullName": "X", "birthYear": 1990, "gender": "Nam", "nation": "VN", "provinceId": "19",
                            "wardId": "1", "address": "x", "phone": "0912345678", "hasPatient": 2,
                            "hasFromSickCountry": 2, "hasSick": 2, "consent": True}}


def _body_parts(rid, face):
    head = (f"--{B}\r\nContent-Disposition: form-data; name=\"record\"\r\nContent-Type: application/json\r\n\r\n"
            + json.dumps(_record(rid)) + f"\r\n--{B}\r\nContent-Disposition: form-data; name=\"face\"; "
            "filename=\"face.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    return head, face, f"\r\n--{B}--\r\n".encode()


def _upload(port, rid, face):
    """POST /v1/records, multipart, the face sent in 1 MiB pieces; returns (status, receipt)."""
    head, face, tail = _body_parts(rid, face)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.putrequest("POST", "/v1/records")
    c.putheader("Content-Type", f"multipart/form-data; boundary={B}")
    c.putheader("Idempotency-Key", rid)
    c.putheader("Content-Length", str(len(head) + len(face) + len(tail)))
    c.endheaders()
    c.send(head)
    view = memoryview(face)
    for i in range(0, len(face), 1 << 20):
        c.send(view[i:i + (1 << 20)])
    c.send(tail)
    r = c.getresponse()
    out = (r.status, json.loads(r.read() or b"{}"))
    c.close()
    return out


def _listing(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/v1/records")
    ids = json.loads(c.getresponse().read())["ids"]
    c.close()
    return ids


# 1. Concurrent large uploads.

@pytest.fixture(scope="module")
def concurrent(rx):
    face = os.urandom(FACE_MB << 20)
    ids = [str(uuid.uuid4()) for _ in range(UPLOADS)]
    results = {}
    before = _status_kb(rx.pid, "VmHWM")  # the peak so far: start-up, the runtime, SQLite
    threads = [threading.Thread(target=lambda r=r: results.__setitem__(r, _upload(rx.port, r, face))) for r in ids]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    peak = _status_kb(rx.pid, "VmHWM")
    return dict(face=face, digest=hashlib.sha256(face).hexdigest(), ids=ids, results=results, before=before, peak=peak,
                elapsed=elapsed)


def test_concurrent_large_uploads_stored(rx, concurrent):
    c = concurrent
    statuses = sorted(s for s, _ in c["results"].values())
    listed = sorted(_listing(rx.port))
    print(f"{UPLOADS} x {FACE_MB} MiB at once: statuses {statuses}, {c['elapsed']:.1f} s")
    assert statuses == [201] * UPLOADS, f"want {UPLOADS} x 201; saw {statuses}"
    assert listed == sorted(c["ids"]), f"want the {UPLOADS} ids listed by GET /v1/records; saw {len(listed)}: {listed[:3]}"


def test_faces_stored_byte_for_byte(rx, concurrent):
    c, faces = concurrent, rx.faces
    stored = [faces / f"{r}.jpg" for r in c["ids"] if (faces / f"{r}.jpg").exists()]
    same = all(p.stat().st_size == len(c["face"]) and hashlib.sha256(p.read_bytes()).hexdigest() == c["digest"]
               for p in stored)
    modes = {oct(p.stat().st_mode & 0o777) for p in stored}
    print(f"{len(stored)} files of {FACE_MB} MiB, sha256 equal: {same}, mode {modes}")
    assert same, "a stored face differs from what was sent (size or sha256)"
    assert len(os.listdir(faces)) == UPLOADS, f"want {UPLOADS} files in the faces directory; saw {os.listdir(faces)}"
    assert modes == {"0o600"}, f"want faces stored 0600; saw {modes}"


def test_peak_memory_far_below_the_bodies(concurrent):
    c = concurrent
    total_mb = UPLOADS * FACE_MB
    growth = (c["peak"] - c["before"]) / 1024
    print(f"MEASURE receiver-peak-rss: VmHWM {c['before'] / 1024:.1f} MiB before, {c['peak'] / 1024:.1f} MiB after "
          f"{UPLOADS} concurrent uploads totalling {total_mb} MiB: the uploads raised the peak by {growth:.1f} MiB")
    assert growth < total_mb / 4, \
        f"peak raised by {growth:.1f} MiB; want < a quarter of the {total_mb} MiB uploaded at once ({total_mb / 4:.0f} MiB)"


# 2. A retry of a stored record: still a duplicate, its face untouched, no temporary file left.

def test_retry_still_a_duplicate(rx, concurrent):
    c = concurrent
    rid = c["ids"][0]
    status, receipt = _upload(rx.port, rid, c["face"][: 1 << 20])
    print(f"retry of a stored record: HTTP {status} {receipt}")
    assert status == 200 and receipt.get("duplicate") is True, f"want 200 with duplicate: true; saw HTTP {status} {receipt}"
    size = (rx.faces / f"{rid}.jpg").stat().st_size
    assert size == len(c["face"]), f"the stored face should be untouched ({len(c['face'])} bytes); it is {size}"
    assert len(os.listdir(rx.faces)) == UPLOADS, f"want {UPLOADS} files in the faces directory; saw {os.listdir(rx.faces)}"


# 3. Bodies over --max-body-bytes.

def _too_large(port, chunked):
    """Sends a body over the cap; returns (id, status, bytes sent when the answer came, how the server closed)."""
    rid = str(uuid.uuid4())
    head, _, _ = _body_parts(rid, b"")
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    hdr = (f"POST /v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={B}\r\n"
           f"Idempotency-Key: {rid}\r\n")
    hdr += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {4 * MAX}\r\n\r\n"
    answer = bytearray()
    got = threading.Event()
    closed = []

    def reader():
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    closed.append("EOF")
                    break
                answer.extend(d)
                got.set()
        except OSError as e:
            closed.append(type(e).__name__)
        got.set()

    threading.Thread(target=reader, daemon=True).start()
    s.sendall(hdr.encode())
    sent = 0
    piece = os.urandom(1 << 16)
    first = head
    try:
        while not got.is_set() and sent < 4 * MAX:
            data = first + piece
            first = b""
            s.sendall((f"{len(data):x}\r\n".encode() + data + b"\r\n") if chunked else data)
            sent += len(data)
    except OSError:
        pass
    got.wait(30)
    time.sleep(0.5)  # lets the reader see the close that follows the answer
    line = bytes(answer).split(b"\r\n", 1)[0].decode(errors="replace")
    code = int(line.split()[1]) if line.startswith("HTTP/1.1 ") else None
    try:
        s.settimeout(5)
        closed_now = closed or [s.recv(1) == b"" and "EOF"]
    except OSError as e:
        closed_now = [type(e).__name__]
    s.close()
    return rid, code, sent, closed_now[0]


@pytest.fixture(scope="module", params=["declared", "chunked"])
def too_large(request, rx, concurrent):
    return request.param, _too_large(rx.port, request.param == "chunked")


def test_too_large_refused_early(too_large):
    kind, (rid, code, sent, closed) = too_large
    early = sent <= MAX + (16 << 20)  # the cap plus what socket buffers hold
    detail = (f"HTTP {code} after {sent / 1048576:.1f} MiB sent of a {4 * MAX / 1048576:.0f} MiB {kind} body "
              f"(cap {MAX / 1048576:.0f} MiB); connection closed: {closed}")
    print(detail)
    assert code == 413, f"want 413: {detail}"
    assert early, f"want the 413 by the cap plus socket buffers ({(MAX + (16 << 20)) / 1048576:.0f} MiB): {detail}"
    assert closed, f"want the connection closed by the receiver: {detail}"


def test_too_large_nothing_stored(rx, too_large):
    kind, (rid, _, _, _) = too_large
    listed = _listing(rx.port)
    files = os.listdir(rx.faces)
    stray = [n for n in files if not n.endswith(".jpg") or n[:-4] == rid]
    assert rid not in listed, f"the refused {kind} upload's record is listed"
    assert len(files) == UPLOADS and not stray, \
        f"want only the {UPLOADS} stored faces in the faces directory; saw {len(files)} files, stray {stray}"
    print(f"{len(listed)} records, {len(files)} files in the faces directory, stray {stray}")


def test_receiver_still_running(rx):
    assert rx.alive(), f"the receiver died: {rx.text()[-500:]}"
