"""The benchmarks' common part (Tests/Benchmarks/<topic>/bench.py, run together by Tests/Benchmarks/run.py): knobs
from the environment, a work directory under /tmp with a Stack that is closed and removed at the end, rows
"| measure | value | unit |" on stdout, notes on stderr, and the quantile the benchmarks use.

A benchmark starts its processes through the Stack (stack.spawn, stack.simulator, stack.receiver, …),
so they are stopped however the benchmark ends; it fails (exit status 1, run.py then fails) with fail(message)."""
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .env import BIN
from .stack import Stack


def require_bin():
    """Exits with a message when BIN is not set (every benchmark measures the built binaries)."""
    if BIN is None:
        sys.exit("BIN must point at the built binaries")


def knob(name, default, kind=int):
    """The environment variable `name` as `kind` (int, float, str), or `default` when it is unset or empty."""
    v = os.environ.get(name)
    return kind(v) if v else default


def row(measure, value, unit):
    """One table row for run.py (an empty value or unit is printed as "| |")."""
    print("|" + "|".join(f" {c} " if str(c) else " " for c in (measure, value, unit)) + "|", flush=True)


def note(msg):
    """A line for the reader, not the table (stderr)."""
    print(msg, file=sys.stderr, flush=True)


def fail(msg):
    """Ends the benchmark as failed: the message on stderr, exit status 1 (the Stack is still closed)."""
    raise SystemExit(msg)


def forward(result, what):
    """A program that prints its own rows (checkpointctl camera bench, simulate bench): its stdout passed on, its
    stderr to stderr; fails when it failed or printed no row."""
    if result.err:
        sys.stderr.write(result.err)
    if result.rc != 0:
        fail(f"{what} failed (exit {result.rc})")
    if not any(line.startswith("|") for line in result.out.splitlines()):
        fail(f"{what} printed no row: {result.out.strip()[:500]}")
    sys.stdout.write(result.out)
    sys.stdout.flush()


@contextlib.contextmanager
def bench_stack(name):
    """A Stack in a fresh /tmp/NAME.XXXXXX (mode 755, so a server run as another user, e.g. postgres, can use a
    directory in it); every process it started is stopped and the directory removed on the way out."""
    work = Path(tempfile.mkdtemp(prefix=f"{name}.", dir="/tmp"))
    work.chmod(0o755)
    stack = Stack(work)
    try:
        yield stack
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)


def quantile(values, p):
    """The value at rank round(p·(n−1)) of the sorted values (nearest rank, no interpolation)."""
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]
