"""#15 on the real daemon, loopback only, bounded in count and time: the API socket gets [api] socket_mode and
socket_group (a missing group is a FILE:LINE config error); a client sending a header byte per second is cut off after
idle_timeout_seconds; 300 connections opened at once leave the daemon's fd count bounded and the API answering; on TCP
a declaration without Content-Type: application/json gets 415. One daemon for the module; tests run in file order."""
import grp
import json
import os
import socket
import time

import pytest

from harness import binary, free_port, http_get, run

IDLE, MAXCONN = 3, 16
DECLARATION = {"fullName": "TEST", "birthYear": 1980, "gender": "Nam", "nation": "VN", "provinceId": "19",
               "wardId": "05436", "address": "1 A", "phone": "0987654321", "hasPatient": 2, "hasFromSickCountry": 2,
               "hasSick": 2, "consent": True}


def _group():
    for g in ("video", "dialout"):
        try:
            return grp.getgrnam(g)
        except KeyError:
            pass
    pytest.fail("neither group video nor dialout exists")


@pytest.fixture(scope="module")
def setup(stack):
    g = _group()
    tcp = free_port()
    stack.gray_frames()
    ui = stack.work / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("<!doctype html><title>kiosk</title>")
    (stack.work / "run").mkdir()
    stack.model()
    stack.simulator()
    good = stack.config("good.toml", tcp_port=tcp, set={
        "socket": f'"{stack.work}/run/api.sock"', "dir": f'"{ui}"', "socket_mode": "0o620",
        "idle_timeout_seconds": IDLE, "max_connections": MAXCONN},
        sed=[f's|^# socket_group = .*|socket_group = "{g.gr_name}"|'])
    return g, tcp, good


@pytest.fixture(scope="module")
def nogroup(stack, setup):
    p = stack.work / "nogroup.toml"
    p.write_text(setup[2].read_text().replace(f'socket_group = "{setup[0].gr_name}"', 'socket_group = "no-such-group-cpd"'))
    return p


def test_missing_socket_group_is_a_file_line_config_error(nogroup):
    line = next(i for i, l in enumerate(nogroup.read_text().splitlines(), 1) if l.startswith("socket_group"))
    r = run(binary("checkpointd"), "--check-config", nogroup)
    assert r.rc == 78, r.err
    assert f'{nogroup}:{line}: api.socket_group: group "no-such-group-cpd" does not exist' in r.err


def test_daemon_does_not_start_with_missing_socket_group(nogroup):
    assert run(binary("checkpointd"), "--config", nogroup, timeout=20).rc == 78


@pytest.fixture(scope="module")
def daemon(stack, setup):
    (stack.work / "run").chmod(0o700)
    return stack.daemon(setup[2])


def test_api_answers(daemon):
    assert '"status"' in daemon.api("/healthz", timeout=2).text


def test_socket_has_socket_mode_and_group(setup, daemon):
    st = os.stat(daemon.sock)
    assert (oct(st.st_mode & 0o7777), st.st_gid) == (oct(0o620), setup[0].gr_gid)


def test_socket_directory_is_given_to_the_group_traversable(stack, setup, daemon):
    st = os.stat(stack.work / "run")
    assert (oct(st.st_mode & 0o7777), st.st_gid) == (oct(0o710), setup[0].gr_gid)


def test_tcp_text_plain_declaration_gets_415(setup, daemon):
    r = http_get(f"http://127.0.0.1:{setup[1]}/v1/declarations", body=json.dumps(DECLARATION),
                 headers={"Content-Type": "text/plain"}, timeout=5)
    assert r.status == 415


def test_tcp_json_declaration_gets_201(setup, daemon):
    assert http_get(f"http://127.0.0.1:{setup[1]}/v1/declarations", body=DECLARATION, timeout=5).status == 201


def test_slow_client_is_cut_off_after_idle_timeout(setup, daemon):
    """A slowloris client, one header byte per second: cut off after about IDLE s."""
    s = socket.create_connection(("127.0.0.1", setup[1]), timeout=1)
    start = time.monotonic()
    cut = None
    try:
        for b in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
            try:
                s.send(bytes([b]))
                if s.recv(1024) == b"":
                    cut = time.monotonic() - start
                    break
            except socket.timeout:
                pass
            except OSError:
                cut = time.monotonic() - start
                break
            if time.monotonic() - start > IDLE + 10:
                break
    finally:
        s.close()
    assert cut is not None, f"never cut off in {IDLE + 10} s"
    assert IDLE - 1 <= cut <= IDLE + 3, f"cut off after {cut:.1f} s (idle_timeout_seconds = {IDLE})"


class Flood:
    """300 TCP connections opened at once and held; the daemon's fd count before and while they are open, and
    whether the socket API answered meanwhile."""

    def __init__(self, daemon, port):
        self.base = daemon.fd_count()
        self.conns = []
        for _ in range(300):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            self.conns.append(c)
        time.sleep(1)
        self.peak = daemon.fd_count()
        try:
            self.health = daemon.api("/healthz", timeout=3).text
        except OSError as e:
            self.health = f"no answer in 3 s: {e}"

    def close(self):
        for c in self.conns:
            c.close()
        self.conns = []


@pytest.fixture(scope="module")
def flood(setup, daemon):
    f = Flood(daemon, setup[1])
    yield f
    f.close()


def test_socket_api_answers_under_300_connections(flood):
    assert '"status"' in flood.health, flood.health


def test_fd_count_bounded_under_300_connections(flood):
    assert flood.peak <= flood.base + MAXCONN + 8, f"{flood.base} → {flood.peak} (max_connections {MAXCONN})"


def test_tcp_answers_again_once_the_flood_is_gone(setup, flood):
    flood.close()
    assert http_get(f"http://127.0.0.1:{setup[1]}/healthz", timeout=10).status == 200


def test_daemon_still_running(daemon):
    assert daemon.alive(), daemon.tail(5)


def test_daemon_stops_on_sigterm(daemon):
    rc, _ = daemon.terminate()
    assert rc == 0, daemon.tail(5)
