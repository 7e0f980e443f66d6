#!/usr/bin/python3
"""Thermal figures, measured in process by `checkpointctl simulate bench` (THERMAL_FRAMES frames, default 4000): parse
throughput (frames/s) and the latency from a frame's last byte to the updated screening (it prints those rows itself;
they are passed on). Also frames per second through a real PTY end to end: the GY-MCU90640 simulator at 8 Hz on a
pseudo-terminal (started through the harness) and `checkpointctl sensor read --count 16 --json`, timed from its start
(open + init included) to its exit; the frames are the JSON lines it printed.
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "system"))
from harness import binary, run  # noqa: E402
from harness.bench import bench_stack, fail, forward, knob, require_bin, row  # noqa: E402


def main():
    require_bin()
    ctl = binary("checkpointctl")
    forward(run(ctl, "simulate", "bench", "--frames", knob("THERMAL_FRAMES", 4000), timeout=600),
            "checkpointctl simulate bench")
    with bench_stack("thermal-bench") as stack:
        sim = stack.simulator("--rate-hz", 8, link=None)
        t0 = time.monotonic()
        r = run(ctl, "sensor", "read", "--port", sim.path, "--model", "gy-mcu90640", "--baud", 460800, "--rate-hz", 8,
                "--count", 16, "--json", "--timeout", 10, timeout=120)
        t1 = time.monotonic()
        if r.rc != 0:
            fail(f"checkpointctl sensor read failed (exit {r.rc}): {r.err.strip()[-500:]}")
        frames = [json.loads(line) for line in r.out.splitlines() if line.strip()]
        row("thermal PTY end-to-end frames (simulator at 8 Hz, 460800 baud), incl. open+init",
            round(len(frames) / (t1 - t0), 2), "frames/s")


if __name__ == "__main__":
    main()
