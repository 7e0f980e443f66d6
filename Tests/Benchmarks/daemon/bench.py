#!/usr/bin/python3
"""The daemon benchmark's driver (Tests/Benchmarks/run.py runs it): the real daemon ($BIN/checkpointd),
started as the demo starts it by the system tests' harness (replayed camera frames of real face photographs, the
GY-MCU90640 simulator on a PTY, the receiver over HTTPS, the API on a Unix socket), measured:
  1. cold start to READY: exec → READY=1 on a NOTIFY_SOCKET (coldstart.py), median and max of $STARTS starts,
     with the YuNet model loaded (from $SHARED/models) — or the Haar fallback, said so in the row, without it;
  2. CPU at $CAM_FPS fps with one face in view and the sensor streaming: (utime+stime) delta of /proc/PID/stat
     over $CPU_S s after $WARM_S s of warm-up, as % of one core; frames the pipeline took per second;
  3. peak and steady RSS (VmHWM, VmRSS of /proc/PID/status) after that run;
  4. person ready → screening result for $VISITORS visitors coming and going, read from the daemon's own
     metrics (GET /metrics; visitors.py).
Prints markdown rows "| measure | value | unit |" on stdout (notes on stderr); every figure is measured in this run.
VERIFY_SIZE / SCORE_THRESHOLD: the detector scheme of the CPU run (default: the daemon's default scheme, as in
examples/checkpointd.toml; VERIFY_SIZE=0 SCORE_THRESHOLD=0.75 is the former one-pass default).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "system"))
sys.path.insert(0, str(HERE))
if not os.environ.get("BIN"):
    sys.exit("BIN must point at the built binaries")
os.environ.setdefault("SHARED", str(ROOT.parent / "shared"))

from harness import SHARED, Stack, binary, python  # noqa: E402
from promtext import scrape, total  # noqa: E402


def env(name, default):
    return os.environ.get(name) or default


def example(key):
    m = re.search(rf"^{key} = (.*)$", (ROOT / "examples/checkpointd.toml").read_text(), re.M)
    return m.group(1)


def note(msg):
    print(msg, file=sys.stderr, flush=True)


def main():
    starts, cam_fps, warm_s = env("STARTS", "7"), env("CAM_FPS", "15"), float(env("WARM_S", "10"))
    cpu_s, visitors = float(env("CPU_S", "30")), env("VISITORS", "12")
    D = Path(tempfile.mkdtemp(prefix="daemon-bench.", dir="/tmp"))
    stack = Stack(D)
    try:
        bench(stack, D, starts, cam_fps, warm_s, cpu_s, visitors)
    finally:
        stack.close()
        shutil.rmtree(D, ignore_errors=True)


def bench(stack, D, starts, cam_fps, warm_s, cpu_s, visitors):
    photos = stack.photos()
    detector = "YuNet"
    if not stack.model():
        detector = "Haar fallback"
        note(f"note: no YuNet model under {SHARED}/models; the daemon runs the Haar fallback")
    # One visitor standing in view (1 s of one masked face, looped), and visitors coming and going
    # (each of the five photos 3 s in view, then 1.5 s of empty background).
    stack.frames("face", cam_fps, 0, 1, 0, photos=photos[:1])
    stack.frames("visitors", cam_fps, 0, 3, 1.5, photos=photos)
    stack.receiver()
    face = stack.config("face.toml", set={"verify_size": env("VERIFY_SIZE", example("verify_size")),
                                          "score_threshold": env("SCORE_THRESHOLD", example("score_threshold")),
                                          "replay_fps": cam_fps, "replay_path": f'"{D}/face"'})
    visitors_toml = stack.config("visitors.toml", set={"replay_fps": cam_fps, "replay_path": f'"{D}/visitors"'})
    rc, out = stack.check_config(face)
    if rc != 0:
        sys.exit(f"checkpointd --check-config {face} failed: {out}")
    sensor_hz = re.search(r"^frame_rate_hz = ([0-9.]*)", face.read_text(), re.M).group(1)
    sim = stack.simulator("--no-face", "--ambient-c", "27", fifo="sim.in")
    sim.send("face 36.0")

    # --- 1. cold start to READY ------------------------------------------------------------------------------
    cs = subprocess.run([python, HERE / "coldstart.py", binary("checkpointd"), face, starts, D], stdout=subprocess.PIPE,
                        text=True, check=True).stdout.splitlines()
    for line in cs:
        if "median" not in line:
            note("cold start " + line)
    _, median, _, mx, _, n = cs[-1].split()[:6]
    print(f"| daemon: cold start to READY=1 (exec → sd_notify, {detector} model loaded), median of {n} | {median} | ms |")
    print(f"| daemon: cold start to READY=1, slowest of {n} | {mx} | ms |", flush=True)

    # --- 2. CPU at 15 fps with a face in view, 3. RSS ------------------------------------------------------------
    daemon = stack.daemon(face)
    health = daemon.api("/healthz", timeout=30).text
    if '"stage.detector"' not in health:
        sys.exit(f"daemon did not answer; log:\n{daemon.tail(20)}")
    time.sleep(warm_s)
    if not daemon.alive():
        sys.exit(f"daemon died during warm-up\n{daemon.tail(20)}")
    tck = os.sysconf("SC_CLK_TCK")

    def ticks():
        rest = Path(f"/proc/{daemon.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(rest[11]) + int(rest[12])  # utime + stime (fields 14, 15)

    def frames():
        return total(scrape(daemon.sock), "checkpointd_camera_frames_total")
    c0, f0, t0 = ticks(), frames(), time.time()
    time.sleep(cpu_s)
    c1, f1, t1 = ticks(), frames(), time.time()
    status = dict(re.findall(r"^(\w+):\s+(\S+)", Path(f"/proc/{daemon.pid}/status").read_text(), re.M))
    results = total(scrape(daemon.sock), "checkpointd_screenings_total")
    state = daemon.api("/v1/screening", timeout=30).json()["state"]
    note(f"cpu run: {results:g} screening result(s), kiosk state '{state}' with the face in view")
    print(f"| daemon: CPU, {float(cam_fps):g} fps replay with one face in view, {detector}, sensor at {sensor_hz} Hz "
          f"({cpu_s:g} s) | {100 * (c1 - c0) / tck / (t1 - t0):.1f} | % of one core |")
    print(f"| daemon: camera frames through detection in that run | {(f1 - f0) / (t1 - t0):.1f} | frames/s |")
    print(f"| daemon: peak RSS (VmHWM) after the CPU run | {int(status['VmHWM']) / 1024:.1f} | MB |")
    print(f"| daemon: steady RSS (VmRSS) after the CPU run | {int(status['VmRSS']) / 1024:.1f} | MB |", flush=True)
    daemon.terminate()

    # --- 4. person ready → screening result ----------------------------------------------------------------------
    daemon = stack.daemon(visitors_toml)
    subprocess.run([python, HERE / "visitors.py", daemon.sock, sim.fifo_path, visitors, D / "visitors.csv"],
                   check=True)
    daemon.terminate()


if __name__ == "__main__":
    main()
