#!/usr/bin/python3
"""The kiosk screen benchmark's driver (Tests/Benchmarks/run.py runs it): the real daemon on the demo pipeline,
started by the system tests' harness as the demo starts it (replayed camera frames of real face photographs,
visitors coming and going; the GY-MCU90640 simulator on a PTY showing a face; the receiver over HTTPS; the screen and
its event stream on a free 127.0.0.1 TCP port), then uibench.py (event latency, page load) and qrbench.py (QR
scanning) in headless Chromium (Debian's chromium + chromium-driver + python3-selenium), measured:
  1. engine state change → event received by the page's EventSource: p50 / p95 / max over ≥ $EVENTS events, from the
     publish time the hub stamps on each view (publishedAtMs) to the page's arrival stamp (both the wall clock), split
     into the daemon's share (a bare SSE client) and the browser's (see uibench.py);
  2. page load: navigation → first daemon state on screen and → loadEventEnd, median and max of $LOADS cold loads in
     fresh browser sessions; bytes transferred;
  3. QR scanning (#16, qrbench.py): face detections/s with and without a QR scan stream open (alternated, same run),
     and a readable QR in view → its fields on screen, over $QR_RUNS runs.
Prints their markdown rows "| measure | value | unit |"; notes on stderr. Every figure is measured in this run.
Knobs: CAM_FPS, EVENTS, MAX_S, LOADS, QR_WINDOW_S, QR_ROUNDS, QR_RUNS.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "system"))
if not os.environ.get("BIN"):
    sys.exit("BIN must point at the built binaries")
os.environ.setdefault("SHARED", str(ROOT.parent / "shared"))

from harness import SHARED, Stack, free_port, http_get, python  # noqa: E402


def env(name, default):
    return os.environ.get(name) or default


def note(msg):
    print(msg, file=sys.stderr, flush=True)


def main():
    for f in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.access(f, os.X_OK):
            note(f"ui-bench: {f} missing (make deps: chromium chromium-driver); skipped")
            return 1
    if subprocess.run([python, "-c", "import selenium"], capture_output=True).returncode != 0:
        note("ui-bench: python3-selenium missing (make deps); skipped")
        return 1
    D = Path(tempfile.mkdtemp(prefix="ui-bench.", dir="/tmp"))
    stack = Stack(D)
    try:
        return bench(stack, D)
    finally:
        stack.close()
        shutil.rmtree(D, ignore_errors=True)


def bench(stack, D):
    cam_fps = env("CAM_FPS", "15")
    stack.photos()
    detector = "YuNet"
    if not stack.model():
        detector = "Haar fallback"
        note(f"note: no YuNet model under {SHARED}/models; the daemon runs the Haar fallback")
    # Visitors coming and going: each of the five photos 3 s in view, then 1.5 s of empty background, looped.
    stack.frames("visitors", cam_fps, 0, 3, 1.5)
    stack.receiver()
    tcp_port = free_port()
    config = stack.config(tcp_port=tcp_port, set={"replay_fps": cam_fps, "replay_path": f'"{D}/visitors"'})
    rc, out = stack.check_config(config)
    if rc != 0:
        sys.exit(f"checkpointd --check-config {config} failed: {out}")
    sim = stack.simulator("--no-face", "--ambient-c", "27", fifo="sim.in")
    sim.send("face 36.0")
    daemon = stack.daemon(config)
    url = f"http://127.0.0.1:{tcp_port}"
    try:
        ok = http_get(f"{url}/ui/", timeout=30).status == 200
    except OSError:
        ok = False
    if not ok:
        note(f"the daemon does not serve {url}/ui/; log:\n{daemon.tail(20)}")
        return 1
    note(f"ui bench: daemon ({detector}) serving {url}/ui/, {cam_fps} fps replay of visitors, sensor showing 36.0 °C")

    def py(*args):
        subprocess.run([python, *[str(a) for a in args]], check=True)
    py(HERE / "uibench.py", "latency", url, env("EVENTS", "60"), env("MAX_S", "90"), D / "latency.csv")
    py(HERE / "uibench.py", "pageload", url, env("LOADS", "7"), D / "pageload.csv")
    py(HERE / "qrbench.py", "fps", url, env("QR_WINDOW_S", "15"), env("QR_ROUNDS", "3"))
    py(HERE / "qrbench.py", "latency", url, D / "visitors", env("QR_RUNS", "10"), D / "qr-latency.csv")
    out = ROOT / ".build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(D / "qr-latency.csv", out / "qr-latency.csv")
    shutil.copy(D / "latency.csv", out / "ui-latency.csv")
    shutil.copy(D / "pageload.csv", out / "ui-pageload.csv")
    note("ui bench: per-event and per-load figures in .build/bench/ui-latency.csv and ui-pageload.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
