#!/usr/bin/python3
"""`make soak DURATION=…` (90s, 10m, 8h or plain seconds): the demo pipeline for DURATION, then a verdict.
  - the real daemon, the replayed camera with visitors coming and going (the demo's five photos in a loop),
    the GY-MCU90640 simulator on a PTY, the receiver over HTTPS, and a kiosk posting one declaration per
    visitor (Tests/soak/kiosk.py); the receiver goes down twice (at 35 % and 65 % of the run) and comes back;
  - every SAMPLE_S s: the daemon's RSS (VmRSS, VmHWM, and RSS split into anonymous and file-backed), open fds
    (/proc/PID/fd), threads, queue depth and deliveries (GET /metrics), written to .build/soak/soak-<UTC time>.csv;
  - at the end the queue drains, then Tests/soak/report.py compares the ids the kiosk got 201/202 for with
    what the receiver stored, and prints the summary table (RSS slope after warm-up, fds, lost/duplicated).
Exits non-zero if a record was lost or duplicated, the daemon died, or the fd count grew.
Knobs (env): SAMPLE_S, WARMUP_S, OUTAGE_S, CAM_FPS (camera replay rate, default 10), FD_SLACK (default 10), DRAIN_S.
The processes are started by the system tests' harness (Tests/system/harness), as the demo starts them.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "system"))
sys.path.insert(0, str(ROOT / "Tests" / "Benchmarks" / "daemon"))
if not os.environ.get("BIN"):
    sys.exit("BIN must point at the built binaries")
os.environ.setdefault("SHARED", str(ROOT.parent / "shared"))

from harness import SHARED, Stack, python, wait_until  # noqa: E402
from harness.contract import contract  # noqa: E402
from promtext import scrape, total  # noqa: E402

START = None


def say(msg):
    print("[%6.0fs] %s" % (time.monotonic() - START, msg), flush=True)


def duration_seconds(text):
    m = re.fullmatch(r"([0-9]+)([smh]?)", text)
    if not m:
        sys.stderr.write(f"soak: DURATION '{text}' is not a duration (use e.g. 90s, 10m, 8h)\n")
        sys.exit(2)
    secs = int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    if secs < 30:
        sys.stderr.write(f"soak: DURATION '{text}' is not a duration of at least 30 s (use e.g. 90s, 10m, 8h)\n")
        sys.exit(2)
    return secs


def knob(name, default):
    v = os.environ.get(name)
    return float(v) if v else default


def clamp(v, lo, hi):
    return max(lo, min(hi, v))


def main():
    global START
    secs = duration_seconds(os.environ.get("DURATION") or "10m")
    sample_s = knob("SAMPLE_S", clamp(secs // 150, 2, 60))
    warmup_s = knob("WARMUP_S", clamp(secs // 5, 15, 600))
    outage_s = int(knob("OUTAGE_S", clamp(secs // 12, 8, 120)))
    cam_fps = os.environ.get("CAM_FPS") or "10"
    fd_slack = os.environ.get("FD_SLACK") or "10"
    drain_s = int(knob("DRAIN_S", 360))
    out_dir = ROOT / ".build" / "soak"
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"soak-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.csv"
    md_path = csv_path.with_suffix(".md")
    D = Path(tempfile.mkdtemp(prefix="checkpointd-soak.", dir="/tmp"))
    stack = Stack(D)
    try:
        rc = soak(stack, D, secs, sample_s, warmup_s, outage_s, cam_fps, fd_slack, drain_s, csv_path, md_path)
    finally:
        stack.close()
    if rc == 0:
        shutil.rmtree(D, ignore_errors=True)
    else:
        print(f"kept {D} for inspection (daemon.log, kiosk.log, receiver.sqlite)", flush=True)
    return rc


def fmt(x):
    return "nan" if x != x else f"{x:g}"


def soak(stack, D, secs, sample_s, warmup_s, outage_s, cam_fps, fd_slack, drain_s, csv_path, md_path):
    global START
    stack.photos()
    if not stack.model():
        print(f"note: no YuNet model under {SHARED}/models; the daemon falls back to Haar (blind to masked faces)",
              flush=True)
    nframes = stack.frames("frames", cam_fps, 1, 4, 2)
    port = stack.tls()
    receiver = stack.receiver()
    config = stack.config(set={"replay_fps": cam_fps})
    rc, out = stack.check_config(config)
    if rc != 0:
        print(out, end="", flush=True)
        return rc
    stack.simulator("--no-face", "--ambient-c", "27", fifo="sim.in")
    try:
        daemon = stack.daemon(config)
    except RuntimeError as e:
        print(f"soak: the daemon did not start; log:\n{e}", flush=True)
        return 1
    START = time.monotonic()
    say(f"soak for {secs} s: daemon pid {daemon.pid}, {nframes} replay frames at {cam_fps} fps, receiver on "
        f"127.0.0.1:{port}, work dir {D}")
    say(f"sampling every {sample_s:g} s to {csv_path}; warm-up {warmup_s:g} s; receiver outages of {outage_s} s at "
        "35 % and 65 %")
    kiosk_log, stop_file = D / "kiosk.log", D / "stop"
    kiosk_log.write_text("")
    kiosk = stack.spawn([python, ROOT / "Tests/soak/kiosk.py", daemon.sock, D / "sim.in", kiosk_log, stop_file],
                        D / "kiosk.err")

    def metric(*names):
        try:
            m = scrape(daemon.sock)
            return [fmt(total(m, n)) for n in names]
        except Exception:  # noqa: BLE001 — a scrape that fails is a gap in the samples, as in the bash soak
            return ["nan"] * len(names)

    state = {"up": 1}

    def sample():
        """t_s rss_kb hwm_kb fds threads queue_pending delivered confirmed receiver_up rss_anon_kb rss_file_kb"""
        t = time.monotonic() - START
        try:
            status = Path(f"/proc/{daemon.pid}/status").read_text()
            fds = len(os.listdir(f"/proc/{daemon.pid}/fd"))
        except OSError:
            return False
        if not daemon.alive():
            return False
        f = dict(re.findall(r"^(\w+):\s+(\S+)", status, re.M))
        # RSS = anonymous (heap, stacks: where a leak shows) + file-backed (library code and data paged in, which
        # grows once as new code paths run, e.g. the first outage's error handling, and which the kernel can drop).
        q, delivered = metric("checkpointd_queue_pending", "checkpointd_uploads_delivered_total")
        confirmed = sum(1 for ln in kiosk_log.read_text().splitlines()
                        if len(ln.split()) > 1 and ln.split()[1] in ("201", "202"))
        with open(csv_path, "a") as c:
            c.write(f"{t:.1f},{f['VmRSS']},{f['VmHWM']},{fds},{f['Threads']},{q},{delivered},{confirmed},{state['up']},"
                    f"{f['RssAnon']},{f['RssFile']}\n")
        return True

    csv_path.write_text("t_s,rss_kb,hwm_kb,fds,threads,queue_pending,delivered,confirmed,receiver_up,rss_anon_kb,"
                        "rss_file_kb\n")
    outages, alive = 0, "yes"
    o1, o2 = secs * 35 // 100, secs * 65 // 100
    next_sample, last_minute = 0, None
    while True:
        now = int(time.monotonic() - START)
        if now >= secs:
            break
        if not daemon.alive():
            alive = "no"
            say(f"the daemon died; its log: {D}/daemon.log")
            break
        in_outage = o1 <= now < o1 + outage_s or o2 <= now < o2 + outage_s
        if in_outage and state["up"]:
            receiver.stop()
            state["up"] = 0
            outages += 1
            say(f"--- network outage {outages}: the receiver is down for {outage_s} s ---")
        elif not in_outage and not state["up"]:
            receiver = stack.receiver()
            state["up"] = 1
            say("--- network back: the receiver is up ---")
        if now >= next_sample:
            if not sample():
                alive = "no"
                say(f"the daemon died; its log: {D}/daemon.log")
                break
            next_sample = now + sample_s
            if now // 60 != last_minute:
                last_minute = now // 60
                r = csv_path.read_text().splitlines()[-1].split(",")
                say(f"RSS {float(r[1]) / 1024:.1f} MB, {int(r[3])} fds, {int(r[4])} threads, queue {r[5]}, "
                    f"delivered {r[6]}, confirmed {r[7]}")
        time.sleep(1)

    # --- end: the kiosk stops, the link is up, the queue drains -----------------------------------------------
    stop_file.touch()
    wait_until(lambda: not kiosk.alive(), 60)
    kiosk.stop()
    if not state["up"]:
        receiver = stack.receiver()
        state["up"] = 1
        say("--- network back: the receiver is up ---")
    q = "?"
    if alive == "yes":
        n = len(kiosk_log.read_text().splitlines())
        say(f"kiosk stopped after {n} declarations; waiting for the queue to drain (up to {drain_s} s)")
        for _ in range(drain_s):
            if not daemon.alive():
                alive = "no"
                break
            q = metric("checkpointd_queue_pending")[0]
            if q == "0":
                break
            time.sleep(1)
        time.sleep(2)  # the last upload's connection closes
        if not sample():
            alive = "no"
    say(f"queue pending {q}; samples in {csv_path}")
    rep = subprocess.run([python, ROOT / "Tests/soak/report.py", csv_path, kiosk_log, D / "receiver.sqlite",
                          f"{warmup_s:g}", str(secs), f"{outages} × {outage_s} s", alive, fd_slack],
                         stdout=subprocess.PIPE, text=True)
    print(rep.stdout, end="", flush=True)
    md_path.write_text(rep.stdout)
    rc = rep.returncode
    # Every record the receiver stored, validated against the upload contract (openapi.yaml's Record schema).
    ok, out = contract(D / "receiver.sqlite")
    lines = out.splitlines()
    verdict = lines[-1] if ok and lines else "contract: FAILED"
    line = "[%6.0fs] %s" % (time.monotonic() - START, verdict)
    print(line, flush=True)
    with open(md_path, "a") as md:
        md.write(line + "\n")
    if not ok:
        print("\n".join(lines[:20]), flush=True)
        rc = 1
    if alive == "yes":
        daemon.terminate()
    return rc


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
