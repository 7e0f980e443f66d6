#!/usr/bin/env bash
# System test: `checkpointctl detect` on the real photographs in $SHARED/fixtures/faces.
# Env: BIN (swift build --show-bin-path), SHARED (path to ../shared).
set -u
BIN=${BIN:?BIN not set}
SHARED=${SHARED:?SHARED not set}
CTL="$BIN/checkpointctl"
MODEL="$SHARED/models/face_detection_yunet_2022mar.onnx"
FIX="$SHARED/fixtures/faces"
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }

if [[ ! -f "$MODEL" || ! -d "$FIX" ]]; then
    fail faces-fixtures "model or fixtures missing under $SHARED"
    exit 1
fi

# check_json FILE EXPECTED_FACES IMAGE...: every line is the issue's JSON shape, one per image, in order,
# with the image's real size, boxes inside the image and 5 landmarks per face.
check_json() {
    "$PY" - "$@" <<'PYEOF'
import json, sys
import cv2
out, expected, images = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
lines = open(out).read().splitlines()
assert len(lines) == len(images), f"{len(lines)} lines for {len(images)} images"
for line, path in zip(lines, images):
    obj = json.loads(line)
    assert list(obj) == ["image", "width", "height", "ms", "faces"], f"keys {list(obj)}"
    assert obj["image"] == path, obj["image"]
    h, w = cv2.imread(path).shape[:2]
    assert (obj["width"], obj["height"]) == (w, h), f"{path}: size {obj['width']}x{obj['height']} != {w}x{h}"
    assert obj["ms"] > 0
    assert len(obj["faces"]) == expected, f"{path}: {len(obj['faces'])} faces, expected {expected}"
    for f in obj["faces"]:
        assert list(f) == ["x", "y", "w", "h", "score", "landmarks"], f"face keys {list(f)}"
        assert 0.75 <= f["score"] <= 1.0, f["score"]
        assert -2 <= f["x"] and f["x"] + f["w"] <= w + 2 and -2 <= f["y"] and f["y"] + f["h"] <= h + 2, f"box outside image: {f}"
        assert f["w"] > 40 and f["h"] > 40, f"implausibly small face box {f}"
        assert len(f["landmarks"]) == 5 and all(len(p) == 2 for p in f["landmarks"])
        for x, y in f["landmarks"]:
            assert f["x"] - 0.1 * f["w"] <= x <= f["x"] + 1.1 * f["w"] and f["y"] - 0.1 * f["h"] <= y <= f["y"] + 1.1 * f["h"], "landmark outside box"
PYEOF
}

for set in with-face:1 masked:1 no-face:0; do
    dir=${set%%:*}; n=${set##*:}
    images=("$FIX/$dir"/*)
    if "$CTL" detect --json --model "$MODEL" "${images[@]}" >"$TMP/$dir.json" 2>"$TMP/$dir.err"; then
        if msg=$(check_json "$TMP/$dir.json" "$n" "${images[@]}" 2>&1); then
            pass "faces-detect-$dir (${#images[@]} images, $n face each)"
        else
            fail "faces-detect-$dir" "$(echo "$msg" | tail -1)"
        fi
    else
        fail "faces-detect-$dir" "exit $?: $(tail -1 "$TMP/$dir.err")"
    fi
done

# Boxes are in the image's own pixels: a 2x upscaled copy gives a box twice as large, at twice the position.
"$PY" -c "import cv2,sys; i=cv2.imread(sys.argv[1]); cv2.imwrite(sys.argv[2], cv2.resize(i, None, fx=2, fy=2))" \
    "$FIX/with-face/grace_hopper_512.jpg" "$TMP/big.png"
if "$CTL" detect --json --model "$MODEL" "$FIX/with-face/grace_hopper_512.jpg" "$TMP/big.png" >"$TMP/scale.json" 2>/dev/null &&
    "$PY" - "$TMP/scale.json" <<'PYEOF'
import json, sys
a, b = [json.loads(l)["faces"][0] for l in open(sys.argv[1])]
for k in "xywh":
    assert abs(b[k] - 2 * a[k]) <= 0.08 * a["w"], f"{k}: {b[k]} vs 2 x {a[k]}"
PYEOF
then pass faces-detect-image-coordinates; else fail faces-detect-image-coordinates "box does not scale with the image"; fi

# A missing model is a clear error naming the path, not a crash.
if "$CTL" detect --json --model "$TMP/absent.onnx" "$FIX/with-face/astronaut.png" >/dev/null 2>"$TMP/missing.err"; then
    fail faces-detect-missing-model "exit 0 without a model"
elif grep -q "$TMP/absent.onnx" "$TMP/missing.err" && grep -qi "not found" "$TMP/missing.err"; then
    pass faces-detect-missing-model
else
    fail faces-detect-missing-model "message: $(cat "$TMP/missing.err")"
fi

# A wrong file under the model's name is rejected by its sha256.
head -c 4096 /dev/urandom >"$TMP/wrong.onnx"
if "$CTL" detect --model "$TMP/wrong.onnx" "$FIX/with-face/astronaut.png" >/dev/null 2>"$TMP/wrong.err"; then
    fail faces-detect-wrong-model "exit 0 with a random model file"
elif grep -q "sha256" "$TMP/wrong.err" && grep -q "$TMP/wrong.onnx" "$TMP/wrong.err"; then
    pass faces-detect-wrong-model
else
    fail faces-detect-wrong-model "message: $(cat "$TMP/wrong.err")"
fi

# With --allow-fallback the Haar cascade runs and says it is degraded.
if "$CTL" detect --json --allow-fallback --model "$TMP/absent.onnx" "$FIX/with-face/astronaut.png" >"$TMP/fb.json" 2>"$TMP/fb.err" &&
    grep -q "degraded: blind to masked faces" "$TMP/fb.err" && grep -q '"faces":\[{' "$TMP/fb.json"; then
    pass faces-detect-haar-fallback
else
    fail faces-detect-haar-fallback "$(cat "$TMP/fb.err")"
fi

# An unreadable image fails that image only (exit 1), the others are still reported.
printf 'not an image' >"$TMP/bad.jpg"
"$CTL" detect --json --model "$MODEL" "$TMP/bad.jpg" "$FIX/with-face/astronaut.png" >"$TMP/bad.json" 2>"$TMP/bad.err"
rc=$?
if [[ $rc -ne 0 ]] && [[ $(wc -l <"$TMP/bad.json") -eq 1 ]] && grep -q "bad.jpg" "$TMP/bad.err"; then
    pass faces-detect-bad-image
else
    fail faces-detect-bad-image "rc=$rc, $(wc -l <"$TMP/bad.json") lines, stderr: $(cat "$TMP/bad.err")"
fi

# Issue #17: by default detect runs the daemon's scheme (the config schema's [detector] defaults), and a face
# far beyond the working range (a 24 px face in a 640x480 frame: about 3.5 m) is gated, shown only with --stages.
"$PY" -c "
import cv2, numpy as np, sys
i = cv2.imread(sys.argv[1]); s = cv2.resize(i, None, fx=0.27, fy=0.27, interpolation=cv2.INTER_AREA)
f = np.full((480, 640, 3), 118, np.uint8); f[200:200 + s.shape[0], 300:300 + s.shape[1]] = s; cv2.imwrite(sys.argv[2], f)" \
    "$FIX/with-face/astronaut.png" "$TMP/far.png"
stages=$("$CTL" detect --stages --detect-size 640x480 --model "$MODEL" "$TMP/far.png" 2>/dev/null)
plain=$("$CTL" detect --json --detect-size 640x480 --model "$MODEL" "$TMP/far.png" 2>/dev/null)
nogate=$("$CTL" detect --json --detect-size 640x480 --farthest-face 0 --model "$MODEL" "$TMP/far.png" 2>/dev/null)
if grep -q "^scheme: 640×480 proposals ≥ 0.5 .*verified on 320×320 crops .*0.2…3.0 m only" <<<"$stages" &&
    grep -q "0 faces" <<<"$stages" && grep -q "rejected proposal" <<<"$stages" &&
    grep -q '"faces":\[\]' <<<"$plain" && grep -q '"faces":\[{' <<<"$nogate"; then
    pass faces-detect-range-gate
else
    fail faces-detect-range-gate "stages: $stages / plain: $plain / no gate: $nogate"
fi

exit $failed
