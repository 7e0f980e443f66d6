"""Running the binaries: one-shot commands (`run`) and background processes (`Proc`) stopped at teardown."""
import os
import signal as signals
import subprocess
import time
from dataclasses import dataclass


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def both(self):
        return self.out + self.err


def run(*argv, timeout=120, env=None, input=None, cwd=None):
    """Runs a command to completion; returns its exit status, stdout and stderr (text; bytes that are not UTF-8, e.g. a
    binary journal field of another process, are replaced rather than failing the test)."""
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, errors="replace", timeout=timeout, env=e, input=input,
                       cwd=cwd, stdin=None if input is not None else subprocess.DEVNULL)
    return Result(p.returncode, p.stdout, p.stderr)


class Proc:
    """A background process whose output goes to a log file in the work directory."""

    def __init__(self, argv, log, env=None, stdin=subprocess.DEVNULL, stdout=None):
        e = dict(os.environ)
        if env:
            e.update(env)
        self.log = log
        self._logf = open(log, "ab")
        self.popen = subprocess.Popen([str(a) for a in argv], stdin=stdin,
                                      stdout=stdout if stdout is not None else self._logf, stderr=self._logf, env=e)

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def signal(self, sig):
        if self.alive():
            self.popen.send_signal(sig)

    def stop(self, sig=signals.SIGTERM, timeout=30):
        """Sends sig and waits for the exit (SIGKILL after timeout); returns (exit status, seconds it took)."""
        t0 = time.monotonic()
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._logf.close()
        return self.popen.returncode, time.monotonic() - t0

    def text(self):
        """The log so far."""
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def tail(self, n=10):
        return "\n".join(self.text().splitlines()[-n:])
