"""The demo pipeline's parts for a test, the demo, the soak or a benchmark, in one work directory: TLS material,
calibration, replay frames and the daemon's config (harness/demo_assets.py), the receiver (harness/receiver.py), the
sensor simulator on a PTY, a NOTIFY_SOCKET, and the daemon, waited for until it says READY=1 and its API answers.
Stack.close() stops them all. This is the one launch code of the demo pipeline: Tests/demo/demo.py, Tests/soak/soak.py,
Tests/Benchmarks/daemon/bench.py and the system tests all start it through here."""
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from . import demo_assets
from .env import binary
from .http import api
from .proc import Proc
from .receiver import Receiver
from .wait import DEADLINE, wait_until


class NotifySocket:
    """A NOTIFY_SOCKET as systemd provides it: a datagram socket whose messages (READY=1, STATUS=…, WATCHDOG=1,
    RELOADING=1, STOPPING=1) are kept in order, one string per datagram ("\\n" shown as " | ")."""

    def __init__(self, path):
        self.path = str(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._sock.settimeout(0.2)
        self._messages = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._closed:
            try:
                data = self._sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._cond:
                self._messages.append(data.decode("utf-8", "replace").replace("\n", " | "))
                self._cond.notify_all()

    def messages(self):
        with self._cond:
            return list(self._messages)

    def mark(self):
        """The number of messages so far: pass it as `since` to look only at later ones."""
        with self._cond:
            return len(self._messages)

    def count(self, pattern, since=0):
        return sum(1 for m in self.messages()[since:] if re.search(pattern, m))

    def wait_for(self, pattern, count=1, since=0, timeout=DEADLINE):
        """Waits until `count` messages after `since` match the regex; returns whether they did."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                if sum(1 for m in self._messages[since:] if re.search(pattern, m)) >= count:
                    return True
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)

    def close(self):
        self._closed = True
        self._sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class Simulator:
    """`checkpointctl simulate sensor` (GY-MCU90640 protocol) on a pseudo-terminal, linked at work/`link` (None: no
    link; `path` is then the PTY the simulator prints first). send() writes a command line to its stdin (e.g.
    "face 37.9", "noface", "stall"); its stdout goes to work/NAME.out, its stderr to work/NAME.log.
    fifo="sim.in": its stdin is that FIFO in work (`fifo_path`), which other processes (the soak's kiosk, the
    benchmark's visitors) may open and write to as well; it stays open, so their closing it does not end the input."""

    def __init__(self, stack, *args, link="thermal-pty", name="sim", fifo=None):
        self.link = stack.work / link if link else None
        self.out = stack.work / f"{name}.out"
        self.fifo_path = stack.work / fifo if fifo else None
        self._writer = None
        argv = [binary("checkpointctl"), "simulate", "sensor", "--model", "gy-mcu90640",
                *(["--link", self.link] if link else []), *args]
        stdin, rfd = subprocess.PIPE, None
        if fifo:
            os.mkfifo(self.fifo_path)
            rfd = stdin = os.open(self.fifo_path, os.O_RDWR)  # read-write: opening it does not wait for a writer
        try:
            with open(self.out, "wb") as out:
                self.proc = stack.spawn(argv, stack.work / f"{name}.log", stdin=stdin, stdout=out)
        finally:
            if rfd is not None:
                os.close(rfd)
        if fifo:
            self._writer = open(self.fifo_path, "w", buffering=1)
            stack.closers.append(self._writer.close)

        def first_line():
            t = self.out.read_text()
            return t.split("\n", 1)[0] if "\n" in t else None
        ready = wait_until(lambda: (self.link.exists() if link else first_line()) or not self.proc.alive())
        self.path = str(self.link) if link else first_line()
        if not ready or not self.proc.alive():
            raise RuntimeError(f"the simulator did not start: {self.proc.tail()}")

    def printed_path(self):
        """The first line the simulator printed: the path clients open (its link, when it has one)."""
        t = self.out.read_text()
        return t.split("\n", 1)[0] if "\n" in t else None

    def send(self, line):
        if self._writer is not None:
            self._writer.write(line + "\n")
            return
        self.proc.popen.stdin.write((line + "\n").encode())
        self.proc.popen.stdin.flush()

    def wait_log(self, pattern, timeout=DEADLINE):
        """Waits until a line of the simulator's stderr matches the regex (e.g. its acknowledgement of a command)."""
        return wait_until(lambda: re.search(pattern, self.proc.text(), re.M), timeout)

    def stop(self):
        return self.proc.stop()


class Daemon(Proc):
    """checkpointd on a config, under a NOTIFY_SOCKET (and WATCHDOG_USEC when given), stdout and stderr in `log`.
    With wait=True (default) it returns once the daemon sent READY=1 and its API socket answers /healthz.
    wrap(argv) → argv runs it under something else (e.g. nsenter + systemd-cat); the wrapper must exec it."""

    def __init__(self, stack, config, notify=None, watchdog_usec=None, log="daemon.log", wait=True, env=None,
                 wrap=None):
        self.stack, self.config = stack, Path(config)
        self.notify = notify or stack.notify_socket()
        m = re.search(r'^socket = "(.*)"', self.config.read_text(), re.M)
        self.sock = m.group(1) if m else str(stack.work / "api.sock")
        e = {"NOTIFY_SOCKET": self.notify.path, **(env or {})}
        if watchdog_usec:
            e["WATCHDOG_USEC"] = str(watchdog_usec)
        since = self.notify.mark()
        argv = [binary("checkpointd"), "--config", str(self.config)]
        super().__init__(wrap(argv) if wrap else argv, stack.work / log, env=e)
        stack.procs.append(self)
        if wait:
            ok = wait_until(lambda: not self.alive() or self.notify.wait_for("READY=1", since=since, timeout=0.5))
            if not ok or not self.alive():
                raise RuntimeError(f"checkpointd did not get ready (exit {self.popen.poll()}): {self.tail(20)}")
            if not wait_until(self._healthy):
                raise RuntimeError(f"checkpointd's API does not answer on {self.sock}: {self.tail(20)}")

    def _healthy(self):
        try:
            return self.api("/healthz", timeout=2).status in (200, 503)
        except OSError:
            return False

    def api(self, path, **kw):
        """A request to the daemon's API over its Unix socket (see harness.http.api)."""
        return api(self.sock, path, **kw)

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def terminate(self, timeout=30):
        """SIGTERM; returns (exit status, seconds to exit)."""
        return self.stop(signal.SIGTERM, timeout)


class Stack:
    """One test's (or module's, or the demo's) processes and files in `work`; close() stops every process it started."""

    def __init__(self, work):
        self.work = Path(work)
        self.procs = []
        self.port = None
        self.closers = []
        self._notify = []
        self._calibration = None
        self._photos = None

    # Files (harness/demo_assets.py).
    def tls(self):
        """A throwaway CA and a server certificate for 127.0.0.1 (ca.pem, server.pem, server.key) and the
        receiver's port."""
        if self.port is None:
            self.port = demo_assets.tls(self.work)
        return self.port

    def tls_spki(self):
        """The server certificate's public-key hash (demo_assets.spki), for a browser that is to accept it."""
        self.tls()
        return demo_assets.spki(self.work / "server.pem")

    def calibration(self):
        """The demo calibration (identity fit, 0.9 °C skin-to-body) in work/calibration.toml."""
        if self._calibration is None:
            self._calibration = demo_assets.calibration(self.work)
        return self._calibration

    def model(self):
        """Copies the YuNet model from SHARED into work; False when there is none (the daemon falls back to Haar)."""
        return demo_assets.model(self.work)

    def photos(self):
        """The visitors' five face photos (SHARED's fixtures, else photographs from Debian packages)."""
        if self._photos is None:
            self._photos = demo_assets.photos()
        return self._photos

    def frames(self, dirname="frames", fps=5, lead=5, visit=7, gap=3, photos=None):
        """Replay frames of visitors in work/dirname (each photo `visit` s in view, `gap` s of background between,
        `lead` s before the first); returns the frame count. Call model() first for YuNet's face boxes."""
        return demo_assets.frames(self.work, self.work / dirname, fps, lead, visit, gap,
                                  photos if photos is not None else self.photos())

    def config(self, name="checkpointd.toml", tcp_port=0, set=None, sed=()):
        """The daemon's config from systemd/checkpointd.demo.toml as the demo makes it (everything under work, the
        receiver's HTTPS endpoint verified with the test CA, the demo calibration), then `set` ({key: TOML literal},
        each replacing the line `key = …`) and raw sed s commands (e.g. 's|^endpoint = .*|&\\nca = …|'); written to
        work/name."""
        self.tls()
        self.calibration()
        return demo_assets.config(self.work, self.port, tcp_port, [*demo_assets.set_exprs(set), *sed], name)

    def check_config(self, config):
        """`checkpointd --check-config --no-environment CONFIG`: (exit status, output)."""
        return demo_assets.check_config(config)

    def gray_frames(self, n=1, dirname="frames"):
        """n plain grey 640×480 JPEG frames (no face) for the replay camera."""
        import cv2
        import numpy as np
        d = self.work / dirname
        d.mkdir(exist_ok=True)
        for i in range(n):
            cv2.imwrite(str(d / f"{i:04d}.jpg"), np.full((480, 640, 3), 128, np.uint8))
        return d

    # Processes.
    def spawn(self, argv, log, **kw):
        p = Proc(argv, log, **kw)
        self.procs.append(p)
        return p

    def notify_socket(self, name=None):
        s = NotifySocket(self.work / (name or f"notify-{len(self._notify)}.sock"))
        self._notify.append(s)
        return s

    def receiver(self, *args, **kw):
        """checkpoint-receiver (harness/receiver.py): by default over HTTPS with the test CA on the stack's port and
        work/receiver.sqlite (what the daemon's config points at); again after stop(): the same port and db."""
        return Receiver(self, *args, **kw)

    def simulator(self, *args, **kw):
        return Simulator(self, *args, **kw)

    def daemon(self, config, **kw):
        return Daemon(self, config, **kw)

    def close(self):
        for c in self.closers:
            try:
                c()
            except OSError:
                pass
        for p in reversed(self.procs):
            p.stop(timeout=10)
        for s in self._notify:
            s.close()
