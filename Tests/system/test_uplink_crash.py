"""kill -9 of a process enqueuing and uploading (`checkpointctl queue pump`) at random moments, against a receiver that
sometimes answers 503 or a gateway's 200 page; afterwards every confirmed record must be at the receiver exactly once
(after dedup), the queue database must pass integrity_check and stay private, and every stored record must match the
contract (openapi.yaml). TRIALS (default 200) sets the number of kills; `TRIALS=2000` is the stress variant.
The trials run once for the module (fixture `trials`); each test looks at one guarantee."""
import os
import random
import re
import signal
import sqlite3
import time

import pytest

from harness import binary
from harness.contract import contract
from harness.uplink import confirmed_ids, drain

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("TRIALS") or 200)


@pytest.fixture(scope="module")
def receiver(stack):
    """The receiver also fails 10 % of requests, with a 503 or with a gateway's "200 OK" page that carries no receipt
    (a captive portal, a proxy answering for the server), so kills land in retries too and a 200 that is not a
    delivery must lose nothing."""
    r = stack.receiver("--fail-status", "503,200", "--fail-rate", "0.1", "--retry-after", "0", name="recv", port=0)
    yield r
    r.stop()


@pytest.fixture(scope="module")
def trials(stack, receiver):
    """TRIALS times: a pump of 40 records (3000-byte faces, 1 ms apart) uploading as it goes, SIGKILLed at a random
    moment 0.2–1.2 s after start (start-up takes ~0.5 s): during open, enqueue, upload or drain. Returns the ids it
    confirmed and the trials whose stderr said fatal or corrupt."""
    w = stack.work
    q = w / "q.db"
    confirmed, bad = set(), []
    for i in range(1, TRIALS + 1):
        out, err = w / "pump.out", w / "pump.err"
        with open(out, "wb") as o:
            p = stack.spawn([binary("checkpointctl"), "queue", "pump", "--db", q, "--endpoint", receiver.url(),
                             "--allow-insecure-http", "--count", 40, "--interval-ms", 1, "--face-bytes", 3000], err,
                            stdout=o)
        time.sleep(0.2 + random.randrange(1000) / 1000)
        p.stop(signal.SIGKILL)
        stack.procs.remove(p)
        confirmed.update(confirmed_ids(out.read_text()))
        e = err.read_text(errors="replace")
        if re.search(r"fatal|corrupt", e, re.I):
            bad.append((i, "\n".join(e.splitlines()[:3])))
        out.unlink()
        err.unlink()
    return {"queue": q, "confirmed": confirmed, "bad": bad}


def test_no_kill_leaves_a_fatal_or_corrupt_error(trials):
    assert not trials["bad"], f"{len(trials['bad'])} of {TRIALS} trials reported fatal/corrupt, e.g. {trials['bad'][:3]}"


def test_records_were_confirmed_before_the_kills(trials):
    print(f"{len(trials['confirmed'])} records confirmed across {TRIALS} kill -9 trials")
    assert trials["confirmed"], f"no record was ever confirmed in {TRIALS} trials"


def test_queue_passes_integrity_check_after_the_kills(trials):
    con = sqlite3.connect(trials["queue"])
    try:
        ic = con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()
    assert ic == "ok", f"integrity_check after {TRIALS} kills: {ic}"


def test_queue_database_is_private(trials):
    m = oct(trials["queue"].stat().st_mode & 0o777)
    assert m == "0o600", f"queue db mode is {m}, expected 0o600"


@pytest.fixture(scope="module")
def drained(trials, receiver):
    """The link stays up: drain what is left."""
    return drain(trials["queue"], receiver.url(), "--allow-insecure-http", timeout=400)


def test_drain_empties_the_queue(drained):
    assert drained.rc == 0, f"drain did not empty the queue (exit {drained.rc}): {drained.both[-500:]}"


def test_receiver_holds_each_key_once(drained, receiver):
    rows = receiver.rows()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), f"the receiver holds a key twice: {len(ids)} rows, {len(set(ids))} keys"


def test_every_confirmed_record_reached_the_receiver_once(trials, drained, receiver):
    rows = receiver.rows()
    received = {r[0] for r in rows}
    confirmed = trials["confirmed"]
    missing = confirmed - received
    dups = sum(r[1] for r in rows)
    print(f"uplink-crash: {len(confirmed)} confirmed, {len(received)} received once each, {dups} duplicate upload(s) "
          f"absorbed by Idempotency-Key ({TRIALS} kill -9 trials)")
    assert confirmed, "no record was confirmed"
    assert not missing, f"{len(missing)} confirmed record(s) never reached the receiver, e.g. {sorted(missing)[:3]}"


def test_records_match_the_contract(drained, receiver):
    ok, out = contract(receiver.db)
    print(out)
    assert ok, f"records do not match the contract: {out}"
