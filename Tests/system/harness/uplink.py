"""`checkpointctl queue` on a queue database as the uplink tests and the uplink benchmark use it: pump (enqueue
synthetic records), drain to an endpoint, status (pending, dead letters, faces, integrity). The receiver they upload
to is harness/receiver.py's; the contract check is harness/contract.py."""
import re

from .env import binary
from .proc import run


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
