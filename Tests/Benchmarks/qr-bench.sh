#!/usr/bin/env bash
# QR benchmark: decode cost per 640x480 gray frame through `checkpointctl qr decode` (Swift wrapper + C shim +
# ZXing-C++), one thread, over a few hundred synthetic frames (Tests/system/qr/make_frames.py: PC-COVID and CCCD
# payloads, symbol sides 80-220 px, clean/perspective/blur/glare/combined, and frames without a code).
# The time is the decode call only (not reading the JPEG). Median and p95 over the frames, for the fastest of REPEAT
# runs per frame (least disturbed by other load on the machine) and for a single run; and the share decoded.
# Env: BIN. Prints `| measure | value | unit |` rows.
set -euo pipefail
BIN=${BIN:?BIN not set}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
SEEDS=${QR_BENCH_SEEDS:-4}      # frames per payload x size x condition: 4 -> 240 frames with a code
EMPTY=${QR_BENCH_EMPTY:-60}     # frames without a code
REPEAT=${QR_BENCH_REPEAT:-5}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$PY" "$HERE/../system/qr/make_frames.py" "$TMP/frames" --seeds "$SEEDS" --empty "$EMPTY" --seed 1616 2>/dev/null
mapfile -t FRAMES < <("$PY" -c 'import json, sys; [print(m["image"]) for m in json.load(open(sys.argv[1]))]' "$TMP/frames/manifest.json")
# One CPU, so "one thread" also means no migration between cores mid-frame.
PIN=(); command -v taskset >/dev/null && PIN=(taskset -c 0)
"${PIN[@]}" "$BIN/checkpointctl" qr decode --json --repeat "$REPEAT" "${FRAMES[@]}" >"$TMP/best.json"
"${PIN[@]}" "$BIN/checkpointctl" qr decode --json "${FRAMES[@]}" >"$TMP/once.json"

"$PY" - "$TMP/frames/manifest.json" "$TMP/best.json" "$TMP/once.json" "$REPEAT" <<'PYEOF'
import json, sys
manifest = {m["image"]: m for m in json.load(open(sys.argv[1]))}
best = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
once = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8")]
repeat = sys.argv[4]
def q(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]
with_code = [r for r in best if manifest[r["image"]]["payload"] is not None]
without = [r for r in best if manifest[r["image"]]["payload"] is None]
decoded = sum(any(c["text"] == manifest[r["image"]]["payload"] for c in r["codes"]) for r in with_code)
wrong = sum(c["text"] != manifest[r["image"]]["payload"] for r in with_code for c in r["codes"])
fp = sum(len(r["codes"]) for r in without)
n = len(best)
print(f"| QR benchmark: {n} synthetic 640x480 gray frames ({len(with_code)} with a code, {len(without)} without), "
      f"checkpointctl qr decode, one thread, decode call only | | |")
print(f"| QR decode, median (fastest of {repeat} runs per frame) | {q([r['ms'] for r in best], 0.5):.3f} | ms/frame |")
print(f"| QR decode, p95 (fastest of {repeat} runs per frame) | {q([r['ms'] for r in best], 0.95):.3f} | ms/frame |")
print(f"| QR decode, median, frames with a code | {q([r['ms'] for r in with_code], 0.5):.3f} | ms/frame |")
print(f"| QR decode, median, frames without a code | {q([r['ms'] for r in without], 0.5):.3f} | ms/frame |")
print(f"| QR decode, median (single run per frame) | {q([r['ms'] for r in once], 0.5):.3f} | ms/frame |")
print(f"| QR decode, p95 (single run per frame) | {q([r['ms'] for r in once], 0.95):.3f} | ms/frame |")
print(f"| QR frames decoded (exact payload) | {decoded} of {len(with_code)} | frames |")
print(f"| QR wrong payloads / codes on frames without one (target 0) | {wrong} / {fp} | codes |")
PYEOF
