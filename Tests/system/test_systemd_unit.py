"""The shipped units on this host (no VM, no systemd as PID 1 needed): the kiosk's systemd/checkpointd.service and
the province's systemd/checkpoint-receiver.service pass `systemd-analyze verify`, keep every required directive, and
their `systemd-analyze security --offline=true` exposure stays <= 2.0; the receiver's user is made by its sysusers
file (into a scratch root, never this machine), and the receiver's shipped arguments (/etc/default/checkpoint-receiver,
split on white space as systemd passes $RECEIVER_ARGS) are parsed and served by the built receiver, with /etc and
/var/lib moved to the work directory."""
import re
import shutil
import subprocess

import pytest

from harness import ROOT, Proc, binary, run, wait_until

UNIT = ROOT / "systemd/checkpointd.service"
RUNIT = ROOT / "systemd/checkpoint-receiver.service"
SYSUSERS = ROOT / "systemd/checkpoint-receiver.sysusers"
DEFAULTS = ROOT / "systemd/checkpoint-receiver.default"
UNIT_TEXT = UNIT.read_text()
RUNIT_TEXT = RUNIT.read_text()


def with_built_binary(work, unit, program):
    """The unit in work with ExecStart pointing at the built binary (verify needs ExecStart's program to exist)."""
    text = unit.read_text()
    moved = re.sub(rf"(?m)^ExecStart=/usr/bin/{program}\b", f"ExecStart={binary(program)}", text)
    assert moved != text, f"{unit.name}: no ExecStart=/usr/bin/{program}"
    path = work / unit.name
    path.write_text(moved)
    return path


def exposure(path):
    """The 'Overall exposure level' figure of `systemd-analyze security --offline=true`, or None."""
    r = run("systemd-analyze", "security", "--offline=true", path)
    m = re.search(r"Overall exposure level for .*: ([0-9.]+)", r.out + r.err)
    return float(m.group(1)) if m else None, r


def has(text, directive):
    return re.search(f"(?m)^{re.escape(directive)}", text) is not None


# Both units: the kiosk's checkpointd.service and the province's checkpoint-receiver.service.
# (--man=no: the receiver's man page is installed by make install, it is not in the tree.)
UNITS = {"checkpointd": (UNIT, ()), "checkpoint-receiver": (RUNIT, ("--man=no",))}


@pytest.mark.parametrize("program", UNITS)
def test_unit_verifies(work, program):
    unit, options = UNITS[program]
    r = run("systemd-analyze", "verify", *options, with_built_binary(work, unit, program))
    assert r.rc == 0, f"{unit.name}: systemd-analyze verify exit {r.rc}: {r.both}"


@pytest.mark.parametrize("program", UNITS)
def test_security_exposure_at_most_2(work, program):
    unit, _ = UNITS[program]
    score, r = exposure(with_built_binary(work, unit, program))
    print(f"{unit.name}: security exposure {score}")
    assert score is not None and score <= 2.0, f"{unit.name}: expected exposure <= 2.0, got {score}: {r.both[-400:]}"


# The kiosk's checkpointd.service.
@pytest.mark.parametrize("directive", [
    "Type=notify", "WatchdogSec=", "Restart=on-failure", "RestartPreventExitStatus=78", "StateDirectory=",
    "ConfigurationDirectory=", "RuntimeDirectory=", "SupplementaryGroups=video dialout",
    "DeviceAllow=char-video4linux", "DeviceAllow=char-ttyUSB", "DeviceAllow=char-ttyACM", "ProtectSystem=strict",
    "After=time-set.target", "ExecReload="])
def test_has(directive):
    assert has(UNIT_TEXT, directive), f"{UNIT.name}: no line starting with {directive!r}"


def test_no_private_devices():
    # PrivateDevices= would hide the cameras and serial ports.
    assert not has(UNIT_TEXT, "PrivateDevices="), f"{UNIT.name}: PrivateDevices= present (hides cameras and ports)"


def test_offline_start():
    after = [l for l in UNIT_TEXT.splitlines() if l.startswith("After=") and "network-online" in l]
    assert after == [], f"{UNIT.name} waits for network-online: {after}"


# The province's checkpoint-receiver.service.
@pytest.mark.parametrize("directive", [
    "User=checkpoint-receiver", "StateDirectory=checkpoint-receiver", "ConfigurationDirectory=checkpoint-receiver",
    "EnvironmentFile=-/etc/default/checkpoint-receiver", "ExecStart=/usr/bin/checkpoint-receiver serve $RECEIVER_ARGS",
    "RestartPreventExitStatus=64", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateDevices=yes",
    "CapabilityBoundingSet=", "MemoryDenyWriteExecute=yes", "UMask=0077"])
def test_receiver_has(directive):
    if directive == "CapabilityBoundingSet=":
        # The empty set (no capabilities at all): the whole line.
        assert directive in RUNIT_TEXT.splitlines(), f"{RUNIT.name}: no line {directive!r} (an empty bounding set)"
    else:
        assert has(RUNIT_TEXT, directive), f"{RUNIT.name}: no line starting with {directive!r}"


def test_receiver_reaches_no_devices():
    assert not has(RUNIT_TEXT, "DeviceAllow="), f"{RUNIT.name}: DeviceAllow= present"


def test_receiver_user_from_its_sysusers_file(work):
    root = work / "root"
    (root / "etc").mkdir(parents=True)
    r = run("systemd-sysusers", f"--root={root}", SYSUSERS)
    passwd = (root / "etc/passwd").read_text() if (root / "etc/passwd").exists() else ""
    pw = next((l for l in passwd.splitlines() if l.startswith("checkpoint-receiver:")), "")
    print(pw)
    assert r.rc == 0, f"systemd-sysusers exit {r.rc}: {r.both}"
    assert pw.endswith(":/var/lib/checkpoint-receiver:/usr/sbin/nologin"), \
        f"expected home /var/lib/checkpoint-receiver and shell /usr/sbin/nologin, passwd: {passwd}"


def test_receiver_serves_with_the_shipped_arguments(work):
    etc, state = work / "etc", work / "state"
    etc.mkdir()
    state.mkdir()
    line = next(l for l in DEFAULTS.read_text().splitlines() if l.startswith("RECEIVER_ARGS="))
    args = line.removeprefix("RECEIVER_ARGS=").replace("/etc/checkpoint-receiver", str(etc)) \
        .replace("/var/lib/checkpoint-receiver", str(state)).split()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", etc / "server.key",
                    "-out", etc / "server.pem", "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    shutil.copy(etc / "server.pem", etc / "kiosk-ca.pem")
    (etc / "revoked.txt").write_text("")
    # The ports picked free and the kiosks' listener on loopback (the shipped --host 0.0.0.0 is parsed, then
    # overridden: later options win; the tests reach nothing outside 127.0.0.1).
    out = work / "r.out"
    with open(out, "wb") as o:
        p = Proc([binary("checkpoint-receiver"), "serve", *args, "--port", "0", "--admin-port", "0",
                  "--host", "127.0.0.1"], work / "r.err",
                 stdout=o)

    def admin_port():
        lines = out.read_text().splitlines()
        admin = [l.split()[3] for l in lines if l.startswith("admin listening on") and len(l.split()) > 3]
        if admin and any(l.startswith("listening on") for l in lines):
            return admin[0]
        return not p.alive() and "exited"
    try:
        ap = wait_until(admin_port, 60)
        health = _get_insecure(f"https://127.0.0.1:{ap}/healthz") if ap and ap != "exited" else None
    finally:
        p.stop()
    print(f"receiver with the shipped arguments: admin listener on {ap}, state {sorted(x.name for x in state.iterdir())}")
    assert health == "ok", \
        f"expected /healthz 'ok' on the admin listener, got {health!r} (port {ap}): {p.tail(3)} {out.read_text()[:300]}"
    assert (state / "receiver.db").is_file(), f"no SQLite database in the state directory: {list(state.iterdir())}"
    assert (state / "faces").is_dir(), f"no faces directory in the state directory: {list(state.iterdir())}"


def _get_insecure(url):
    """GET over HTTPS without verifying the self-signed certificate (curl -k); the body, or None."""
    import http.client
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    host, _, rest = url.removeprefix("https://").partition("/")
    h, _, port = host.partition(":")
    conn = http.client.HTTPSConnection(h, int(port), timeout=10, context=ctx)
    try:
        conn.request("GET", "/" + rest)
        return conn.getresponse().read().decode().strip()
    except OSError:
        return None
    finally:
        conn.close()
