"""The daemon's log in a real systemd-journald (this machine's, run in a private mount namespace so nothing outside
the test sees its sockets): with stderr connected to the journal and JOURNAL_STREAM naming it, as systemd sets up a
service, each line arrives through the native protocol with structured fields, so `journalctl RECORD_ID=<id>` finds a
declaration's lines (stored, delivered), with PRIORITY, SYSLOG_IDENTIFIER, LOGGER and CODE_FILE, none of it personal
data. Needs root (unshare -m); the same runs under the real unit with systemd as PID 1 in systemd-vm (part E)."""
import os
import re

import pytest

from harness import run, wait_until

DECLARATION = {"fullName": "LE VAN AN", "birthYear": 1979, "gender": "Nam", "nation": "VN", "provinceId": "19",
               "wardId": "05436", "address": "3 Quang Trung", "phone": "0987654321", "hasPatient": 2,
               "hasFromSickCountry": 2, "hasSick": 2, "consent": True}


@pytest.fixture(scope="module")
def ns(stack):
    """A private mount namespace (held by `sleep`) with journald's sockets and journals on its own tmpfs, and
    systemd-journald running in it; returns a function making an argv run inside it."""
    if os.geteuid() != 0 or run("unshare", "-m", "--propagation", "private", "true").rc != 0:
        pytest.skip("needs root and unshare -m to run a private systemd-journald; systemd-vm checks the same")
    holder = stack.spawn(["unshare", "-m", "--propagation", "private", "sleep", "infinity"], stack.work / "ns.log")
    mine = os.readlink("/proc/self/ns/mnt")
    assert wait_until(lambda: os.path.exists(f"/proc/{holder.pid}/ns/mnt")
                      and os.readlink(f"/proc/{holder.pid}/ns/mnt") != mine), "no private mount namespace"

    def inside(*argv):
        return ["nsenter", "-t", str(holder.pid), "-m", "--", *[str(a) for a in argv]]
    varlog = stack.work / "varlog"
    varlog.mkdir()
    script = ("mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/journal /run/systemd/jlog"
              f" && mount --bind {varlog} /var/log && {{ [ ! -d /run/log ] || mount -t tmpfs tmpfs /run/log; }}")
    r = run(*inside("sh", "-c", script))
    assert r.rc == 0, r.both
    journald = stack.spawn(inside("/lib/systemd/systemd-journald"), stack.work / "journald.log")
    root = f"/proc/{holder.pid}/root"
    up = wait_until(lambda: os.path.exists(f"{root}/run/systemd/journal/socket")
                    and os.path.exists(f"{root}/run/systemd/journal/stdout"), 10)
    assert up, f"systemd-journald did not start: {journald.tail(5)}"
    return inside


def J(inside, *args):
    r = run(*inside("journalctl", "--no-pager", "-q", *args))
    return r.out + r.err


@pytest.fixture(scope="module")
def rid(stack, ns):
    """A declaration stored by the daemon (stdout/stderr on a journal stream via systemd-cat, JOURNAL_STREAM=<dev>:<inode>
    of that stream as systemd sets it), and its record id once the journal has its delivered line."""
    stack.receiver()
    stack.gray_frames()
    stack.model()
    cfg = stack.config("run.toml")
    d = stack.daemon(cfg, wrap=lambda argv: ns("systemd-cat", "-t", "checkpointd-stream", "bash", "-c",
                                               'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$@"', "_", *argv))
    resp = d.api("/v1/declarations", body=DECLARATION)
    rid = resp.json().get("id", "") if resp.status in (200, 201) else ""
    if rid:
        wait_until(lambda: "record delivered" in J(ns, "-o", "cat", f"RECORD_ID={rid}"), 60, 0.2)
    return rid, resp.text


def test_declaration_stored(rid):
    assert rid[0], rid[1]


def test_journalctl_record_id_finds_the_records_lines(ns, rid):
    lines = J(ns, "-o", "cat", f"RECORD_ID={rid[0]}")
    assert re.search(f"checkpointd.api: declaration stored .*record_id={rid[0]}", lines), (lines, J(ns, "-o", "cat")[-500:])
    assert f"checkpointd.upload: record delivered record_id={rid[0]}" in lines, lines


def test_structured_fields(ns, rid):
    export = J(ns, "-o", "export", f"RECORD_ID={rid[0]}", "LOGGER=checkpointd.api")
    f = set(l for l in export.splitlines()
            if re.match("(PRIORITY|SYSLOG_IDENTIFIER|LOGGER|CODE_FILE|CODE_LINE|_TRANSPORT)=", l))
    for want in ("PRIORITY=6", "SYSLOG_IDENTIFIER=checkpointd", "LOGGER=checkpointd.api",
                 "CODE_FILE=CheckpointAdapters/DeclarationAPI.swift", "_TRANSPORT=journal"):
        assert want in f, sorted(f)
    assert not any(x.startswith("CODE_FILE=/") for x in f), sorted(f)
    assert any(x.startswith("CODE_LINE=") for x in f), sorted(f)


def test_native_protocol_only(ns, rid):
    stream = [l for l in J(ns, "-o", "cat", "_TRANSPORT=stdout").splitlines() if "checkpointd" in l]
    assert stream == [], stream[:3]


def test_no_personal_data_in_the_journal(ns, rid):
    assert not re.search("LE VAN AN|0987654321|Quang Trung", J(ns, "-o", "export"))
