#!/usr/bin/env bash
# The kiosk screen (ui/) in headless Chromium (Debian's chromium + chromium-driver + python3-selenium) against the
# real release daemon on the demo pipeline (replayed camera frames of real face photographs, visitors coming and
# going; the GY-MCU90640 simulator on a PTY showing a face; the receiver over HTTPS; the screen and its event
# stream on a free 127.0.0.1 TCP port), measured:
#   1. engine state change → event received by the page's EventSource: p50 / p95 / max over ≥ $EVENTS events,
#      from the publish time the hub stamps on each view (publishedAtMs) to the page's arrival stamp (both the wall
#      clock), split into the daemon's share (a bare SSE client) and the browser's (see ui/uibench.py);
#   2. page load: navigation → first daemon state on screen and → loadEventEnd, median and max of $LOADS cold
#      loads in fresh browser sessions; bytes transferred;
#   3. QR scanning (#16, ui/qrbench.py): face detections/s with and without a QR scan stream open (alternated,
#      same run), and a readable QR in view → its fields on screen, over $QR_RUNS runs.
# Prints markdown rows "| measure | value | unit |"; every figure is measured in this run. The stack is started by the
# system tests' harness; the driver is Tests/Benchmarks/ui/bench.py (knobs: CAM_FPS, EVENTS, MAX_S, LOADS, QR_WINDOW_S,
# QR_ROUNDS, QR_RUNS).
set -euo pipefail
: "${BIN:?BIN must point at the built binaries}"
exec /usr/bin/python3 "$(cd "$(dirname "$0")" && pwd)/ui/bench.py"
