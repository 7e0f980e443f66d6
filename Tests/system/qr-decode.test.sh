#!/usr/bin/env bash
# System test: `checkpointctl qr decode` on synthetic 640x480 camera frames made here (Tests/system/qr/make_frames.py:
# segno symbols on a phone screen or a printed card, warped into a scene; no third-party images). Payloads: the
# published PC-COVID example and two CCCD payloads with Vietnamese diacritics; symbol sides 80/120/160/220 px;
# conditions clean, perspective, blur, glare, combined; plus frames without a code (decoys included).
# Asserts: the --json shape, never a wrong payload, no code on the empty frames, decode rate per condition at or above
# a floor (set about ten points under the rates measured on Debian 12 / ZXing-C++ 1.4.0), non-UTF-8 refused, clear
# errors for unreadable images. Prints the measured rates as INFO lines.
# Env: BIN (swift build --show-bin-path).
set -u
BIN=${BIN:?BIN not set}
CTL="$BIN/checkpointctl"
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }

if ! "$PY" -c 'import segno, cv2, numpy' 2>/dev/null; then
    fail qr-fixtures "needs python3-segno, python3-opencv and python3-numpy (make deps)"
    exit 1
fi
if ! "$PY" "$HERE/qr/make_frames.py" "$TMP/frames" --seeds 6 --empty 40 --non-utf8 2>"$TMP/gen.err"; then
    fail qr-fixtures "frame generator failed: $(tail -1 "$TMP/gen.err")"
    exit 1
fi
mapfile -t IMAGES < <("$PY" -c 'import json, sys; [print(m["image"]) for m in json.load(open(sys.argv[1]))]' "$TMP/frames/manifest.json")

"$CTL" qr decode --json "${IMAGES[@]}" >"$TMP/out.json" 2>"$TMP/out.err"
rc=$?
if [[ $rc -eq 0 && ! -s "$TMP/out.err" ]]; then
    pass "qr-decode-runs (${#IMAGES[@]} frames, exit 0, nothing on stderr)"
else
    fail qr-decode-runs "exit $rc, stderr: $(head -c 300 "$TMP/out.err")"
fi

# Floors per condition (all sizes together), in percent, about ten points under what was measured on 2026-12-06 with
# these fixtures (seed 16; Debian 12, ZXing-C++ 1.4.0, x86-64): clean 88, perspective 79, glare 74, combined 46, blur 35.
# The fixtures are deterministic, so a drop means the decoder or the generator changed, not chance.
FLOORS='{"clean": 75, "perspective": 68, "glare": 62, "combined": 35, "blur": 25}' \
"$PY" - "$TMP/frames/manifest.json" "$TMP/out.json" <<'PYEOF'
import collections, json, os, sys
manifest = json.load(open(sys.argv[1]))
lines = open(sys.argv[2], encoding="utf-8").read().splitlines()
floors = json.loads(os.environ["FLOORS"])
failed = False
def report(ok, name, detail=""):
    global failed
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, detail)))
    failed |= not ok

# Shape: exactly one object per image, in order, keys image, ms, codes[text, format].
shape_err = None
objs = []
if len(lines) != len(manifest):
    shape_err = "%d lines for %d images" % (len(lines), len(manifest))
for line, m in zip(lines, manifest):
    try:
        o = json.loads(line)
    except ValueError as e:
        shape_err = shape_err or "not JSON: %s" % e
        continue
    objs.append((o, m))
    if list(o) != ["image", "ms", "codes"] or o["image"] != m["image"]:
        shape_err = shape_err or "keys %s for %s" % (list(o), m["image"])
    elif not isinstance(o["ms"], (int, float)) or o["ms"] < 0 or not isinstance(o["codes"], list):
        shape_err = shape_err or "ms or codes malformed in %s" % m["image"]
    for c in o.get("codes", []):
        keys = list(c)
        if keys != ["text", "format"] and keys != ["text", "format", "refusal", "hex"]:
            shape_err = shape_err or "code keys %s" % keys
        elif c["format"] != "QRCode":
            shape_err = shape_err or "format %r" % c["format"]
report(shape_err is None, "qr-decode-json-shape", shape_err or "")

# Never a wrong payload (compared as text: the JSON carries the decoded UTF-8).
wrong = [(m["image"], m["key"]) for o, m in objs if m["payload"] is not None
         for c in o["codes"] if c["text"] != m["payload"]]
report(not wrong, "qr-decode-no-wrong-payload", "%d wrong, first %s (%s)" % (len(wrong), *wrong[0]) if wrong else "")

# No code on the frames without one.
empty = [(o, m) for o, m in objs if m["key"] == "none"]
fp = [m["image"] for o, m in empty if o["codes"]]
report(empty and not fp, "qr-decode-no-false-positive (%d frames without a code)" % len(empty),
       "%d frames with a code reported, first %s" % (len(fp), fp[0] if fp else "-"))

# Vietnamese diacritics come through exactly: every clean 220 px CCCD frame decodes to the exact UTF-8 text.
cccd = [(o, m) for o, m in objs if m["key"].startswith("cccd") and m["size"] == 220 and m["condition"] == "clean"]
exact = [1 for o, m in cccd if [c["text"] for c in o["codes"]] == [m["payload"]]]
report(cccd and len(exact) == len(cccd), "qr-decode-cccd-diacritics (%d of %d clean 220 px CCCD frames exact)" % (len(exact), len(cccd)),
       "only %d of %d" % (len(exact), len(cccd)))

# A payload that is not UTF-8 gives no text, a reason, and its bytes.
nu = [(o, m) for o, m in objs if m["key"] == "non-utf8"]
ok = len(nu) == 1 and len(nu[0][0]["codes"]) == 1
if ok:
    c = nu[0][0]["codes"][0]
    ok = c["text"] is None and "not UTF-8" in c.get("refusal", "") and c.get("hex") == nu[0][1]["payload_hex"]
report(ok, "qr-decode-non-utf8-refused", "got %s" % (nu[0][0]["codes"] if nu else "no frame"))

# Rates per condition (floors) and per condition x size (INFO).
stat = collections.defaultdict(lambda: [0, 0])
for o, m in objs:
    if m["payload"] is None:
        continue
    hit = any(c["text"] == m["payload"] for c in o["codes"])
    keys = [(m["condition"], "all"), (m["condition"], m["size"]), ("payload " + m["key"], m["size"])]
    if m["size"] >= 120:
        keys.append((m["condition"], ">=120"))
    for k in keys:
        stat[k][0] += hit
        stat[k][1] += 1
order = {"all": 0, ">=120": 1}
for (cond, size), (h, n) in sorted(stat.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], kv[0][1]))):
    if size != "all":
        print("INFO qr-decode-rate %s %s px: %d/%d = %.0f%%" % (cond, size, h, n, 100.0 * h / n))
ms = sorted(o["ms"] for o, m in objs)
if ms:
    print("INFO qr-decode-ms: median %.2f, p95 %.2f, max %.2f (wall clock, one run per frame)" % (
        ms[len(ms) // 2], ms[int(0.95 * (len(ms) - 1))], ms[-1]))
for cond, floor in floors.items():
    h, n = stat[(cond, "all")]
    rate = 100.0 * h / n if n else 0.0
    report(n > 0 and rate >= floor, "qr-decode-rate-%s (%d/%d = %.0f%%, floor %d%%)" % (cond, h, n, rate, floor),
           "%.0f%% below the floor %d%%" % (rate, floor))
sys.exit(1 if failed else 0)
PYEOF
[[ $? -eq 0 ]] || failed=1

# Plain output: path, size, count, time, the code's text.
pc=$("$PY" -c 'import json, sys; print(next(m["image"] for m in json.load(open(sys.argv[1])) if m["key"] == "pccovid" and m["size"] == 220 and m["condition"] == "clean"))' "$TMP/frames/manifest.json")
if "$CTL" qr decode "$pc" >"$TMP/plain.out" 2>&1 && grep -q "^$pc: 640×480, 1 code, " "$TMP/plain.out" &&
    grep -q "code 1 (QRCode, 92 bytes): 001093029317|NGUYEN LE KHA HAN|" "$TMP/plain.out"; then
    pass qr-decode-plain-output
else
    fail qr-decode-plain-output "$(head -c 300 "$TMP/plain.out")"
fi

# Unreadable images: each named with its reason on stderr, exit 1, the readable image still reported.
printf 'not an image' >"$TMP/bad.jpg"
"$CTL" qr decode --json "$TMP/bad.jpg" "$TMP/absent.png" "$pc" >"$TMP/bad.json" 2>"$TMP/bad.err"
rc=$?
if [[ $rc -eq 1 ]] && [[ $(wc -l <"$TMP/bad.json") -eq 1 ]] && grep -q "\"image\":\"$pc\"" "$TMP/bad.json" &&
    grep -q "^error: $TMP/bad.jpg: cannot decode image" "$TMP/bad.err" && grep -q "^error: $TMP/absent.png: no such file" "$TMP/bad.err"; then
    pass qr-decode-unreadable-images
else
    fail qr-decode-unreadable-images "rc=$rc, $(wc -l <"$TMP/bad.json") lines, stderr: $(cat "$TMP/bad.err")"
fi

# No image at all is a usage error.
if "$CTL" qr decode >/dev/null 2>&1; then fail qr-decode-no-argument "exit 0 without images"; else pass qr-decode-no-argument; fi

exit $failed
