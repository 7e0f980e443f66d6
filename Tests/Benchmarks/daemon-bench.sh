#!/usr/bin/env bash
# The real release daemon ($BIN/checkpointd), run as the demo runs it, measured: cold start to READY, CPU and
# frames/s at $CAM_FPS fps with a face in view, peak and steady RSS, person ready → screening result.
# The stack is started by the system tests' harness; the driver is Tests/Benchmarks/daemon/bench.py (knobs:
# STARTS, CAM_FPS, WARM_S, CPU_S, VISITORS, VERIFY_SIZE, SCORE_THRESHOLD). Prints markdown rows
# "| measure | value | unit |" for run.sh; every figure is measured in this run.
set -euo pipefail
: "${BIN:?BIN must point at the built binaries}"
exec /usr/bin/python3 "$(cd "$(dirname "$0")" && pwd)/daemon/bench.py"
