#!/usr/bin/env bash
# Camera: capture + conversion cost per 640x480 frame, YUYV and MJPEG, to the detector's BGR and to gray.
# `checkpointctl camera bench` runs the daemon's capture engine (drain, checks, conversion or MJPEG decode,
# Frame copy) over an in-memory V4L2 device: the figures exclude the kernel/USB transfer, which a real UVC
# camera adds via DMA (no CPU copy). Throughput run: 300 frames back to back; paced run: 15 fps for 4 s (CPU %).
set -euo pipefail
: "${BIN:?BIN must point at the built binaries}"
for fmt in YUYV MJPEG; do
  for out in bgr gray; do
    "$BIN/checkpointctl" camera bench --format "$fmt" --output "$out" --width 640 --height 480 --frames 300 --fps 15 --seconds 4
  done
done
