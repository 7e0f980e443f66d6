"""Drives receiver-uploads.test.sh: concurrent large uploads, peak RSS, early 413s, nothing partial stored."""
import hashlib, json, os, socket, sys, threading, time, uuid, http.client

port, pid, faces, cap, uploads, face_mb = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
failed = False


def ok(name, cond, detail):
    global failed
    print(f"{'PASS' if cond else 'FAIL'} {name} ({detail})" if cond else f"FAIL {name}: {detail}", flush=True)
    failed |= not cond


def status_kb(field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])


def record(rid):
    return {"id": rid, "checkpointId": "TN-01", "deviceId": "TN-K01", "softwareVersion": "x", "faceCaptured": True,
            "clock": {"wallTime": "2026-12-07T00:00:00.000Z", "clockSynced": True, "bootId": "b", "monotonicNanos": 1},
            "screening": {"result": "unavailable", "flags": ["no-screening-id"]},
            "declaration": {"fullName": "X", "birthYear": 1990, "gender": "Nam", "nation": "VN", "provinceId": "19", "wardId": "1",
                            "address": "x", "phone": "0912345678", "hasPatient": 2, "hasFromSickCountry": 2, "hasSick": 2, "consent": True}}


B = "ckpt-uploads-boundary"


def body_parts(rid, face):
    head = (f"--{B}\r\nContent-Disposition: form-data; name=\"record\"\r\nContent-Type: application/json\r\n\r\n"
            + json.dumps(record(rid)) + f"\r\n--{B}\r\nContent-Disposition: form-data; name=\"face\"; filename=\"face.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()
    return head, face, f"\r\n--{B}--\r\n".encode()


def upload(rid, face):
    head, face, tail = body_parts(rid, face)
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=300)
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


def listing():
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    c.request("GET", "/v1/records")
    return json.loads(c.getresponse().read())["ids"]


# 1. Concurrent large uploads.
face = os.urandom(face_mb << 20)
digest = hashlib.sha256(face).hexdigest()
ids = [str(uuid.uuid4()) for _ in range(uploads)]
results = {}
before = status_kb("VmHWM")   # the peak so far: start-up, the runtime, SQLite
threads = [threading.Thread(target=lambda r=r: results.__setitem__(r, upload(r, face))) for r in ids]
t0 = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.monotonic() - t0
peak = status_kb("VmHWM")
total_mb = uploads * face_mb
statuses = sorted(s for s, _ in results.values())
ok("concurrent-large-uploads-stored", statuses == [201] * uploads and sorted(listing()) == sorted(ids),
   f"{uploads} x {face_mb} MiB at once: statuses {statuses}, {elapsed:.1f} s")
same = all(os.path.getsize(f"{faces}/{r}.jpg") == len(face) and hashlib.sha256(open(f"{faces}/{r}.jpg", "rb").read()).hexdigest() == digest
           for r in ids if os.path.exists(f"{faces}/{r}.jpg"))
modes = {oct(os.stat(f"{faces}/{r}.jpg").st_mode & 0o777) for r in ids if os.path.exists(f"{faces}/{r}.jpg")}
ok("faces-stored-byte-for-byte", same and len(os.listdir(faces)) == uploads and modes == {"0o600"},
   f"{uploads} files of {face_mb} MiB, sha256 equal, mode {modes}")
growth = (peak - before) / 1024
print(f"MEASURE receiver-peak-rss: VmHWM {before / 1024:.1f} MiB before, {peak / 1024:.1f} MiB after {uploads} concurrent uploads "
      f"totalling {total_mb} MiB: the uploads raised the peak by {growth:.1f} MiB", flush=True)
ok("peak-memory-far-below-the-bodies", growth < total_mb / 4,
   f"peak raised by {growth:.1f} MiB < a quarter of the {total_mb} MiB uploaded at once")

# 2. A retry of a stored record: still a duplicate, its face untouched, no temporary file left.
status, receipt = upload(ids[0], face[: 1 << 20])
ok("retry-still-a-duplicate", status == 200 and receipt.get("duplicate") is True and os.path.getsize(f"{faces}/{ids[0]}.jpg") == len(face)
   and len(os.listdir(faces)) == uploads, f"HTTP {status} {receipt}")


def too_large(chunked):
    """Sends a body over the cap; returns (status, bytes sent when the answer came, closed by the server)."""
    rid = str(uuid.uuid4())
    head, big, tail = body_parts(rid, b"")
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
    hdr = f"POST /v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={B}\r\nIdempotency-Key: {rid}\r\n"
    hdr += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {4 * cap}\r\n\r\n"
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
        while not got.is_set() and sent < 4 * cap:
            data = first + piece
            first = b""
            s.sendall((f"{len(data):x}\r\n".encode() + data + b"\r\n") if chunked else data)
            sent += len(data)
    except OSError:
        pass
    got.wait(30)
    time.sleep(0.5)
    line = bytes(answer).split(b"\r\n", 1)[0].decode(errors="replace")
    code = int(line.split()[1]) if line.startswith("HTTP/1.1 ") else None
    try:
        s.settimeout(5)
        closed_now = closed or [s.recv(1) == b"" and "EOF"]
    except OSError as e:
        closed_now = [type(e).__name__]
    s.close()
    return rid, code, sent, closed_now[0]


for chunked in (False, True):
    rid, code, sent, closed = too_large(chunked)
    kind = "chunked" if chunked else "declared"
    early = sent <= cap + (16 << 20)   # the cap plus what socket buffers hold
    ok(f"too-large-{kind}-refused-early", code == 413 and early and bool(closed),
       f"HTTP {code} after {sent / 1048576:.1f} MiB sent of a {4 * cap / 1048576:.0f} MiB body (cap {cap / 1048576:.0f} MiB); connection closed: {closed}")
    stray = [n for n in os.listdir(faces) if not n.endswith(".jpg") or n[:-4] == rid]
    ok(f"too-large-{kind}-nothing-stored", rid not in listing() and len(os.listdir(faces)) == uploads and not stray,
       f"{len(listing())} records, {len(os.listdir(faces))} files in the faces directory, stray {stray}")

sys.exit(1 if failed else 0)
