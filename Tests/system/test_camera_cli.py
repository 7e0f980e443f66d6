"""checkpointctl camera on the host (no camera needed): replay → record → replay round trip, snapshot with faces
outlined, and clear errors for a missing device and bad arguments. The V4L2 paths run in camera-vm.test.sh."""
import filecmp
import os
import re
import shutil

import pytest

from harness import MODEL_NAME, SHARED, binary, run

FACES = SHARED / "fixtures/faces"
MODEL = SHARED / "models" / MODEL_NAME


def ctl(*args, timeout=120):
    return run(binary("checkpointctl"), "camera", *args, timeout=timeout)


@pytest.fixture(scope="module")
def t(stack):
    src = stack.work / "src"
    src.mkdir()
    for d in ("with-face", "masked"):
        for f in (FACES / d).glob("*"):
            shutil.copy(f, src)
    return stack.work


@pytest.fixture(scope="module")
def recorded(t):
    """A whole replay recorded (it stops when the replay ends, or after --seconds: a generous 60 s, not a window to
    count frames in); at 5 fps even a starved recorder keeps most of the images (the newest frame when it is late)."""
    return ctl("record", "--replay", t / "src", "--fps", "5", "--seconds", "60", "--out", t / "rec")


def test_record(t, recorded):
    assert recorded.rc == 0, recorded.both
    n_src = len(os.listdir(t / "src"))
    frames = sorted((t / "rec").glob("frame-*.jpg"))
    assert 5 <= len(frames) <= n_src, f"{len(frames)} frames from {n_src} images"
    assert frames[0].read_bytes()[:2] == b"\xff\xd8"
    assert f"recorded {len(frames)} frames" in recorded.both


def test_replay_recording(t, recorded):
    r = ctl("snapshot", "--replay", t / "rec", "--out", t / "again.png")
    assert r.rc == 0 and (t / "again.png").read_bytes()[:4] == b"\x89PNG", r.both
    assert re.search(r"wrote .*again.png: [0-9]+x[0-9]+ sequence 0", r.both), r.both


def test_images_are_private(t, recorded):
    """Stills and recordings show faces (personal data): files 0600, a new recording directory 0700, whatever the umask."""
    modes = {oct(p.stat().st_mode & 0o777) for p in [*(t / "rec").glob("frame-*.jpg"), t / "again.png"]}
    assert modes == {oct(0o600)}
    assert oct((t / "rec").stat().st_mode & 0o777) == oct(0o700)


def test_record_refuses_overwrite(t, recorded):
    r = ctl("record", "--replay", t / "src", "--seconds", "1", "--out", t / "rec")
    assert r.rc != 0, f"accepted: {r.both}"
    assert "already holds" in r.both, r.both


@pytest.fixture(scope="module")
def one(t):
    if not MODEL.is_file():
        pytest.fail(f"model missing at {MODEL}")
    for d, f in (("one", "with-face/grace_hopper_512.jpg"), ("none", "no-face/coffee.png")):
        (t / d).mkdir()
        shutil.copy(FACES / f, t / d)
    return t


def test_snapshot_faces(one):
    r = ctl("snapshot", "--replay", one / "one", "--faces", "--model", MODEL, "--out", one / "face.png")
    ctl("snapshot", "--replay", one / "one", "--out", one / "plain.png")
    assert ", 1 face" in r.both, r.both
    assert not filecmp.cmp(one / "face.png", one / "plain.png", shallow=False), "no face outlined"


def test_snapshot_no_face(one):
    r = ctl("snapshot", "--replay", one / "none", "--faces", "--model", MODEL, "--out", one / "noface.jpg")
    assert ", 0 faces" in r.both, r.both


def test_list_missing_device(t):
    r = ctl("list", "--device", t / "video9")
    assert r.rc != 0, r.both
    assert re.search(f"cannot open camera {re.escape(str(t))}/video9.*No such file", r.both), r.both


def test_snapshot_missing_device(t):
    r = ctl("snapshot", "--device", t / "video9", "--timeout", "1.5", "--out", t / "x.jpg")
    assert r.rc != 0
    assert re.search(r"no frame within 1.5 s.*disconnected", r.both), r.both
    assert not (t / "x.jpg").exists()


@pytest.mark.parametrize("args,message", [
    (["--format", "H264", "--out", "a.jpg"], "H264 is not one of YUYV, MJPEG, GREY"),
    (["--replay", "src", "--out", "a.bmp"], "must end in .jpg, .jpeg or .png"),
    (["--replay", "empty-dir", "--out", "a.jpg"], "cannot read replay directory"),
], ids=["format", "extension", "replay-dir"])
def test_bad_arguments(t, args, message):
    r = ctl("snapshot", *[str(t / a) if a in ("a.jpg", "a.bmp", "src", "empty-dir") else a for a in args])
    assert r.rc != 0, f"accepted: {r.both}"
    assert message in r.both, r.both
