#!/usr/bin/python3
"""Camera: capture + conversion cost per 640x480 frame, YUYV and MJPEG, to the detector's BGR and to gray.
`checkpointctl camera bench` runs the daemon's capture engine (drain, checks, conversion or MJPEG decode, Frame copy)
over an in-memory V4L2 device: the figures exclude the kernel/USB transfer, which a real UVC camera adds via DMA (no
CPU copy). Throughput run: CAMERA_FRAMES (300) frames back to back; paced run: 15 fps for CAMERA_SECONDS (4) s (CPU %).
checkpointctl prints the rows ("| measure | value | unit |") and a note; they are passed on as they are.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "system"))
from harness import binary, run  # noqa: E402
from harness.bench import forward, knob, require_bin  # noqa: E402


def main():
    require_bin()
    frames, seconds = knob("CAMERA_FRAMES", 300), knob("CAMERA_SECONDS", 4.0, float)
    for fmt in ("YUYV", "MJPEG"):
        for out in ("bgr", "gray"):
            r = run(binary("checkpointctl"), "camera", "bench", "--format", fmt, "--output", out, "--width", 640,
                    "--height", 480, "--frames", frames, "--fps", 15, "--seconds", seconds, timeout=600)
            forward(r, f"checkpointctl camera bench --format {fmt} --output {out}")


if __name__ == "__main__":
    main()
