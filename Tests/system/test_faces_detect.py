"""`checkpointctl detect` on the real photographs in $SHARED/fixtures/faces with the YuNet model from
$SHARED/models: the issue's JSON shape per image (one line each, in order, the image's own size, boxes inside it,
5 landmarks per face), one face in every face photo (masked ones too) and none in the others, boxes in the image's
own pixels, a missing or wrong model refused in one clear message (or the Haar fallback, saying it is degraded, when
allowed), an unreadable image failing only itself, and by default the daemon's scheme, whose range gate drops a face
far beyond the working range (shown only with --stages)."""
import json
import re

import cv2
import numpy as np
import pytest

from harness import MODEL_NAME, SHARED, binary, run

MODEL = SHARED / "models" / MODEL_NAME
FIX = SHARED / "fixtures" / "faces"
ASTRONAUT = FIX / "with-face/astronaut.png"
HOPPER = FIX / "with-face/grace_hopper_512.jpg"


@pytest.fixture(autouse=True)
def fixtures():
    if not MODEL.is_file() or not FIX.is_dir():
        pytest.fail(f"model or fixtures missing under {SHARED} (expected {MODEL} and {FIX})")


def detect(*args):
    return run(binary("checkpointctl"), "detect", *args)


def check_json(out, expected, images):
    """Every line is the issue's JSON shape, one per image, in order, with the image's real size, boxes inside the
    image and 5 landmarks per face; `expected` faces per image."""
    lines = out.splitlines()
    assert len(lines) == len(images), f"{len(lines)} lines for {len(images)} images"
    for line, path in zip(lines, images):
        obj = json.loads(line)
        assert list(obj) == ["image", "width", "height", "ms", "faces"], f"keys {list(obj)}"
        assert obj["image"] == str(path), f"image {obj['image']}, expected {path}"
        h, w = cv2.imread(str(path)).shape[:2]
        assert (obj["width"], obj["height"]) == (w, h), f"{path}: size {obj['width']}x{obj['height']} != {w}x{h}"
        assert obj["ms"] > 0, f"{path}: ms {obj['ms']}"
        assert len(obj["faces"]) == expected, f"{path}: {len(obj['faces'])} faces, expected {expected}"
        for f in obj["faces"]:
            assert list(f) == ["x", "y", "w", "h", "score", "landmarks"], f"face keys {list(f)}"
            assert 0.75 <= f["score"] <= 1.0, f"{path}: score {f['score']}"
            assert -2 <= f["x"] and f["x"] + f["w"] <= w + 2 and -2 <= f["y"] and f["y"] + f["h"] <= h + 2, \
                f"{path}: box outside the image: {f}"
            assert f["w"] > 40 and f["h"] > 40, f"{path}: implausibly small face box {f}"
            assert len(f["landmarks"]) == 5 and all(len(p) == 2 for p in f["landmarks"]), f["landmarks"]
            for x, y in f["landmarks"]:
                assert f["x"] - 0.1 * f["w"] <= x <= f["x"] + 1.1 * f["w"] and \
                    f["y"] - 0.1 * f["h"] <= y <= f["y"] + 1.1 * f["h"], f"{path}: landmark {x},{y} outside box {f}"


@pytest.mark.parametrize("folder,faces", [("with-face", 1), ("masked", 1), ("no-face", 0)])
def test_photos(folder, faces):
    images = sorted((FIX / folder).iterdir())
    r = detect("--json", "--model", MODEL, *images)
    assert r.rc == 0, f"exit {r.rc}: {r.err.strip().splitlines()[-1:]}"
    check_json(r.out, faces, images)
    print(f"{folder}: {len(images)} images, {faces} face each")


def test_boxes_are_in_the_images_own_pixels(work):
    # A 2x upscaled copy gives a box twice as large, at twice the position.
    big = work / "big.png"
    cv2.imwrite(str(big), cv2.resize(cv2.imread(str(HOPPER)), None, fx=2, fy=2))
    r = detect("--json", "--model", MODEL, HOPPER, big)
    assert r.rc == 0, f"exit {r.rc}: {r.err}"
    a, b = [json.loads(l)["faces"][0] for l in r.out.splitlines()]
    for k in "xywh":
        assert abs(b[k] - 2 * a[k]) <= 0.08 * a["w"], f"{k}: {b[k]} vs 2 x {a[k]}: the box does not scale with the image"


def test_missing_model_is_a_clear_error_naming_the_path(work):
    absent = work / "absent.onnx"
    r = detect("--json", "--model", absent, ASTRONAUT)
    assert r.rc != 0, "exit 0 without a model"
    assert str(absent) in r.err and "not found" in r.err.lower(), f"expected 'not found' and the path, got: {r.err}"


def test_wrong_model_is_rejected_by_its_sha256(work):
    wrong = work / "wrong.onnx"
    wrong.write_bytes(np.random.default_rng().integers(0, 256, 4096, dtype=np.uint8).tobytes())
    r = detect("--model", wrong, ASTRONAUT)
    assert r.rc != 0, "exit 0 with a random model file"
    assert "sha256" in r.err and str(wrong) in r.err, f"expected sha256 and the path, got: {r.err}"


def test_haar_fallback_says_it_is_degraded(work):
    r = detect("--json", "--allow-fallback", "--model", work / "absent.onnx", ASTRONAUT)
    assert r.rc == 0, f"exit {r.rc}: {r.err}"
    assert "degraded: blind to masked faces" in r.err, r.err
    assert '"faces":[{' in r.out, f"expected a face from the Haar cascade: {r.out}"


def test_unreadable_image_fails_only_itself(work):
    bad = work / "bad.jpg"
    bad.write_text("not an image")
    r = detect("--json", "--model", MODEL, bad, ASTRONAUT)
    assert r.rc != 0, "exit 0 with an unreadable image"
    assert len(r.out.splitlines()) == 1, f"expected the other image's line only: {r.out}"
    assert "bad.jpg" in r.err, f"stderr does not name the bad image: {r.err}"


def test_range_gate_drops_a_far_face_shown_only_with_stages(work):
    # Issue #17: by default detect runs the daemon's scheme (the config schema's [detector] defaults), and a face far
    # beyond the working range (a 24 px face in a 640x480 frame: about 3.5 m) is gated, shown only with --stages.
    far = work / "far.png"
    s = cv2.resize(cv2.imread(str(ASTRONAUT)), None, fx=0.27, fy=0.27, interpolation=cv2.INTER_AREA)
    f = np.full((480, 640, 3), 118, np.uint8)
    f[200:200 + s.shape[0], 300:300 + s.shape[1]] = s
    cv2.imwrite(str(far), f)
    stages = detect("--stages", "--detect-size", "640x480", "--model", MODEL, far).out
    plain = detect("--json", "--detect-size", "640x480", "--model", MODEL, far).out
    nogate = detect("--json", "--detect-size", "640x480", "--farthest-face", "0", "--model", MODEL, far).out
    print(stages)
    assert re.search(r"(?m)^scheme: 640×480 proposals ≥ 0\.35 .*verified on 224×224 crops .*mirror image.*0\.25…3\.0 m only", stages), \
        f"expected the daemon's scheme line: {stages}"
    assert "0 faces" in stages and "rejected proposal" in stages, f"expected 0 faces and a rejected proposal: {stages}"
    assert '"faces":[]' in plain, f"expected no face by default: {plain}"
    assert '"faces":[{' in nogate, f"expected the face with --farthest-face 0: {nogate}"
