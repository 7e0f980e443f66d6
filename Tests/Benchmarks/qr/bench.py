#!/usr/bin/python3
"""QR benchmark: decode cost per 640x480 gray frame through `checkpointctl qr decode` (Swift wrapper + C shim +
ZXing-C++), one thread, over a few hundred synthetic frames (Tests/system/qr/make_frames.py: PC-COVID and CCCD
payloads, symbol sides 80-220 px, clean/perspective/blur/glare/combined, and frames without a code).
The time is the decode call only (not reading the JPEG). Median and p95 over the frames, for the fastest of REPEAT
runs per frame (least disturbed by other load on the machine) and for a single run; and the share decoded.
Knobs: QR_BENCH_SEEDS (4: frames per payload x size x condition, 240 frames with a code), QR_BENCH_EMPTY (60 frames
without a code), QR_BENCH_REPEAT (5). Prints `| measure | value | unit |` rows.
"""
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "system"))
from harness import binary, python, run  # noqa: E402
from harness.bench import bench_stack, fail, knob, quantile, require_bin, row  # noqa: E402

MAKE_FRAMES = HERE.parents[1] / "system" / "qr" / "make_frames.py"


def decode(frames, *args):
    """`checkpointctl qr decode --json ARGS… FRAMES…` on CPU 0 (one CPU, so "one thread" also means no migration
    between cores mid-frame): one parsed JSON line per frame."""
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    r = run(*pin, binary("checkpointctl"), "qr", "decode", "--json", *args, *frames, timeout=1800)
    if r.rc != 0:
        fail(f"checkpointctl qr decode {' '.join(args)} failed (exit {r.rc}): {r.err.strip()[-500:]}")
    results = [json.loads(line) for line in r.out.splitlines() if line.strip()]
    if len(results) != len(frames):
        fail(f"checkpointctl qr decode gave {len(results)} results for {len(frames)} frames")
    return results


def main():
    require_bin()
    seeds, empty, repeat = knob("QR_BENCH_SEEDS", 4), knob("QR_BENCH_EMPTY", 60), knob("QR_BENCH_REPEAT", 5)
    with bench_stack("qr-bench") as stack:
        d = stack.work / "frames"
        r = run(python, MAKE_FRAMES, d, "--seeds", seeds, "--empty", empty, "--seed", 1616, timeout=1800)
        if r.rc != 0:
            fail(f"make_frames.py failed (exit {r.rc}): {r.err.strip()[-500:]}")
        manifest = {m["image"]: m for m in json.loads((d / "manifest.json").read_text())}
        frames = list(manifest)
        best = decode(frames, "--repeat", repeat)
        once = decode(frames)

    with_code = [r for r in best if manifest[r["image"]]["payload"] is not None]
    without = [r for r in best if manifest[r["image"]]["payload"] is None]
    decoded = sum(any(c["text"] == manifest[r["image"]]["payload"] for c in r["codes"]) for r in with_code)
    wrong = sum(c["text"] != manifest[r["image"]]["payload"] for r in with_code for c in r["codes"])
    fp = sum(len(r["codes"]) for r in without)

    def ms(results, p):
        return f"{quantile([r['ms'] for r in results], p):.3f}"
    row(f"QR benchmark: {len(best)} synthetic 640x480 gray frames ({len(with_code)} with a code, {len(without)} "
        f"without), checkpointctl qr decode, one thread, decode call only", "", "")
    row(f"QR decode, median (fastest of {repeat} runs per frame)", ms(best, 0.5), "ms/frame")
    row(f"QR decode, p95 (fastest of {repeat} runs per frame)", ms(best, 0.95), "ms/frame")
    row("QR decode, median, frames with a code", ms(with_code, 0.5), "ms/frame")
    row("QR decode, median, frames without a code", ms(without, 0.5), "ms/frame")
    row("QR decode, median (single run per frame)", ms(once, 0.5), "ms/frame")
    row("QR decode, p95 (single run per frame)", ms(once, 0.95), "ms/frame")
    row("QR frames decoded (exact payload)", f"{decoded} of {len(with_code)}", "frames")
    row("QR wrong payloads / codes on frames without one (target 0)", f"{wrong} / {fp}", "codes")


if __name__ == "__main__":
    main()
