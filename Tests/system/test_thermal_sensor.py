"""The thermal sensor end to end through real PTYs: `simulate sensor`, `sensor read`, `calibrate thermal` (+ --validate),
`calibrate registration` with its overlay PNG, and the stale-sensor report. Tests run in file order."""
import hashlib
import json
import re
import subprocess
import time
import tomllib

import pytest

from harness import binary, run, wait_until

GY = ["--model", "gy-mcu90640"]


def ctl(*args, timeout=120):
    return run(binary("checkpointctl"), *args, timeout=timeout)


# 1. sensor read against a simulator with split writes and garbage.
@pytest.fixture(scope="module")
def a(stack):
    return stack.simulator("--fault", "split", "--fault", "garbage", "--face-c", "36.6", "--ambient-c", "25",
                           link="ttyTHERMAL", name="a")


def test_simulator_prints_its_stable_link_path(a):
    assert wait_until(a.printed_path) == str(a.link) and a.link.is_symlink(), a.printed_path()


def test_sensor_read_json_prints_the_sensors_values_and_counters(a):
    r = ctl("sensor", "read", "--port", a.path, *GY, "--baud", "115200", "--count", "4", "--json", "--timeout", "10")
    assert r.rc == 0, r.both[-500:]
    lines = r.out.splitlines()
    assert len(lines) == 4, lines
    prev = 0
    for l in lines:
        o = json.loads(l)
        for k in ("ambient_c", "min_c", "max_c", "mean_c", "frames_ok", "bad_checksum", "resyncs"):
            assert k in o, k
        assert abs(o["max_c"] - 36.6) < 0.5, o
        assert abs(o["min_c"] - 25) < 0.5, o
        assert o["min_c"] < o["mean_c"] < o["max_c"], o
        assert o["ambient_c"] == 33.0, o
        assert o["frames_ok"] > prev, o
        prev = o["frames_ok"]


def test_sensor_read_text_lines_auto_baud(a):
    r = ctl("sensor", "read", "--port", a.path, *GY, "--count", "2", "--timeout", "10")
    assert len(re.findall(r"(?m)min .* max .* mean .* ambient .* ok .* bad_checksum .* resyncs", r.both)) == 2, r.both


def test_bad_baud_is_refused_with_a_clear_message(a):
    r = ctl("sensor", "read", "--port", a.path, *GY, "--baud", "1234", "--count", "1")
    assert r.rc != 0 and "baud" in r.both, r.both


def test_unknown_model_is_refused(a):
    r = ctl("sensor", "read", "--port", a.path, "--model", "flir", "--count", "1")
    assert r.rc != 0 and "unknown sensor model" in r.both, r.both


# 2. A stalled sensor is never read stale: frames stop and the reader says why.
def test_stalled_sensor_init_resent_no_frame_printed_exit_1(a):
    a.send("stall")
    try:
        r = ctl("sensor", "read", "--port", a.path, *GY, "--baud", "115200", "--count", "1000", "--json", "--timeout", "4")
    finally:
        a.send("resume")
    assert r.rc != 0 and r.out == "", (r.rc, r.out[:200])
    assert "no frame for" in r.err and re.search("re-sent|unavailable", r.err), r.err[:600]


# 3. Guided 2-point calibration against a simulated blackbody; the sensor reads raw = 0.95·T + 1.2.
@pytest.fixture(scope="module")
def b(stack):
    return stack.simulator("--error-gain", "0.95", "--error-offset", "1.2", "--noise-c", "0.02", "--blackbody-c", "35",
                           link=None, name="b")


@pytest.fixture(scope="module")
def cal(stack, b):
    out = stack.work / "cal.toml"
    err = stack.work / "cal.err"
    with open(err, "wb") as e:
        p = subprocess.Popen([binary("checkpointctl"), "calibrate", "thermal", "--port", b.path, *GY, "--baud", "115200",
                              "--set-point", "35", "--set-point", "40", "--frames", "8", "--region", "27,19,3,3",
                              "--by", "tech-01", "--serial", "SIM-0001", "--output", out, "--settle", "0.3"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=e)
    # Each step waits for its event (60 s at most): the prompt for a set point, then the simulator's acknowledgement
    # of the new blackbody temperature (its frames carry it from then on).
    try:
        wait_until(lambda: "[1/2]" in err.read_text())
        p.stdin.write(b"\n")
        p.stdin.flush()
        wait_until(lambda: "[2/2]" in err.read_text())
        b.send("blackbody 40")
        b.wait_log(r"^simulate: blackbody 40")
        time.sleep(0.5)
        p.stdin.write(b"\n")
        p.stdin.close()
        stdout = p.stdout.read().decode()
        rc = p.wait(120)
    finally:
        if p.poll() is None:
            p.kill()
    return out, rc, stdout + err.read_text()


def test_calibrate_thermal_fits_gain_offset_and_writes_who_when_sensor_quality(cal):
    out, rc, log = cal
    assert rc == 0, log[-600:]
    c = tomllib.loads(out.read_text())
    g, o = c["fit"]["gain"], c["fit"]["offset"]
    assert abs(g - 1 / 0.95) < 0.01, g
    assert abs(o - (-1.2 / 0.95)) < 0.15, o
    assert c["calibration"]["calibrated_by"] == "tech-01"
    assert c["calibration"]["method"] == "2-point"
    assert c["sensor"]["serial"] == "SIM-0001" and c["sensor"]["model"] == "gy-mcu90640"
    assert len(c["fit"]["points"]) == 2
    assert c["fit"]["residual_rms_c"] < 0.05


def test_calibration_progress_and_noise_as_plain_lines_when_piped(stack, cal):
    err = (stack.work / "cal.err").read_text()
    assert re.search("blackbody 35.00 °C: sensor reads .* noise", err) and "\r" not in err, err[:400]


def test_calibration_file_mode_0644(cal):
    assert cal[0].stat().st_mode & 0o777 == 0o644


def test_no_temp_file_left_behind(stack, cal):
    assert not [p for p in stack.work.iterdir() if "cal.toml.tmp" in p.name]


def test_calibrate_validate_reports_bias_and_changes_nothing(b, cal):
    b.send("blackbody 37")
    b.wait_log(r"^simulate: blackbody 37")
    time.sleep(0.5)
    before = hashlib.sha256(cal[0].read_bytes()).hexdigest()
    r = ctl("calibrate", "thermal", "--validate", "--calibration", cal[0], "--port", b.path, *GY, "--baud", "115200",
            "--set-point", "37", "--frames", "6", "--region", "27,19,3,3", "--no-wait", "--settle", "0.3")
    m = re.search(r"(?m)^bias ([-+0-9.]*) °C", r.out)
    assert r.rc == 0 and m and abs(float(m.group(1))) < 0.1 and "rms" in r.out, r.both[-400:]
    assert hashlib.sha256(cal[0].read_bytes()).hexdigest() == before


def test_one_set_point_is_refused(stack, b):
    r = ctl("calibrate", "thermal", "--port", b.path, *GY, "--set-point", "35", "--by", "x", "--output", stack.work / "x.toml")
    assert r.rc != 0 and "at least 2" in r.both, r.both


# 4. Registration: pairs from a known mapping, thermal = 0.05·camera + (0.5, −0.3), parallax 0.8 px·m.
def test_calibrate_registration_fits_h_and_parallax_and_writes_an_overlay(stack, b, cal):
    import cv2
    pairs = []
    for cx, cy in ((40, 40), (600, 50), (320, 240), (60, 440), (620, 430)):
        pairs += ["--pair", f"{cx},{cy},{0.05 * cx + 0.5},{0.05 * cy - 0.3}"]
    pairs += ["--pair", f"320,240,{0.05 * 320 + 0.5 + 0.8 * (1 / 0.25 - 1 / 0.5)},{0.05 * 240 - 0.3},0.25"]
    overlay = stack.work / "overlay.png"
    r = ctl("calibrate", "registration", "--by", "tech-01", "--calibration", cal[0], *pairs, "--nominal-distance-m", "0.5",
            "--overlay", overlay, "--port", b.path, *GY, "--baud", "115200")
    assert r.rc == 0, r.both[-500:]
    c = tomllib.loads(cal[0].read_text())
    h = c["registration"]["homography"]
    for got, want in zip(h, [0.05, 0, 0.5, 0, 0.05, -0.3, 0, 0, 1]):
        assert abs(got - want) < 1e-4, h
    assert abs(c["registration"]["parallax_px_m"] - 0.8) < 1e-3, c["registration"]
    assert c["fit"]["points"], "the thermal fit is kept"
    img = cv2.imread(str(overlay))
    assert img is not None and img.shape == (480, 640, 3), None if img is None else img.shape
    # The warm face lands in the middle of the camera frame: redder there than in the corner.
    assert int(img[250, 320, 2]) > int(img[20, 20, 2]) + 40, (img[250, 320], img[20, 20])


def test_registration_with_3_pairs_is_refused(cal):
    r = ctl("calibrate", "registration", "--by", "tech-01", "--calibration", cal[0],
            "--pair", "1,1,1,1", "--pair", "2,2,2,2", "--pair", "3,3,3,3")
    assert r.rc != 0 and "at least 4" in r.both, r.both
