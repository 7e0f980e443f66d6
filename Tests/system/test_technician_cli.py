"""checkpointctl beside a running daemon, as a technician on a kiosk uses it: every default from the daemon's
configuration (--config, no device paths typed), the live view (watch, sensor live, camera live) through the daemon's
API, hardware and the queue the daemon holds named as such, and the exit codes: 0 ok, 1 a run-time failure in one line
(never the usage text), 64 wrong usage, 78 an unusable configuration. Then, with the service stopped, the calibration
a technician makes (thermal with a blackbody the tool finds itself, distance and skin-to-body from volunteers, the
report page), the registration found automatically beside a running daemon, and a poster beside a person.
One stack for the module (a replayed face photo, the sensor simulator, an endpoint where nothing listens); tests run
in file order and build on each other."""
import json
import os
import random
import re
import shutil
import subprocess
import time
import tomllib
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from harness import BIN, MODEL_NAME, ROOT, SHARED, Proc, binary, run, wait_until

CTL = str(BIN / "checkpointctl") if BIN else "checkpointctl"
DECLARATION = {"fullName": "Test Person", "birthYear": 1990, "gender": "Nam", "nation": "VN", "provinceId": "19",
               "wardId": "05446", "address": "x", "phone": "0912345678", "hasPatient": 2, "hasFromSickCountry": 2,
               "hasSick": 2, "symptoms": [], "consent": True}
WAIT = 120  # seconds: generous, a busy machine makes a step slower, not wrong


def ctl(*args, **kw):
    return run(CTL, *args, **kw)


def one_line(text):
    """Exactly one line and no usage text."""
    return text.count("\n") == 1 and text.strip() != "" and "usage:" not in text.lower()


def send(sim, line):
    """Sends a command line to a simulator and waits until it acknowledges it ("simulate: LINE" on its stderr)."""
    ack = re.compile(rf"(?m)^simulate: {re.escape(line)}$")
    before = len(ack.findall(sim.proc.text()))
    sim.send(line)
    return wait_until(lambda: len(ack.findall(sim.proc.text())) > before, WAIT)


def stop_main_daemon(k):
    """The first daemon holds the API socket and the queue: it is stopped before another one starts."""
    if getattr(k, "d", None) is not None and k.d.alive():
        k.d.terminate()


def json_lines(path):
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


@pytest.fixture(scope="module")
def k(stack):
    """The demo pipeline: a replayed face, the sensor simulator on a PTY, a queue, an unreachable endpoint; the
    config kiosk.toml (the demo's, with the test calibration Tests/demo/gy-mcu90640.toml) and bad.toml."""
    w = stack.work
    frames = w / "frames"
    frames.mkdir()
    photos = sorted((SHARED / "fixtures/faces/with-face").glob("*.jpg"))
    stack.photo = photos[0] if photos else None
    if stack.photo:
        shutil.copy(stack.photo, frames / "a.jpg")
    else:
        cv2.imwrite(str(frames / "a.jpg"), np.full((480, 640, 3), 128, np.uint8))
    stack.sim = stack.simulator()
    stack.cfg = stack.config("kiosk.toml", set={"calibration": f'"{ROOT}/Tests/demo/gy-mcu90640.toml"',
                                                "endpoint": '"https://127.0.0.1:9/v1/records"'})
    stack.model()
    stack.bad = w / "bad.toml"
    stack.bad.write_text(re.sub(r"(?m)^elevated_c = .*", "elevated_c = 99.0", stack.cfg.read_text()))
    stack.badline = next(i for i, l in enumerate(stack.bad.read_text().splitlines(), 1) if l.startswith("elevated_c"))
    return stack


# 1. The daemon is not running.
def test_status_with_the_daemon_down_exits_1_in_one_line_naming_the_configured_socket(k):
    r = ctl("status", "--config", k.cfg)
    assert r.rc == 1 and one_line(r.err), f"expected exit 1 and one line, got exit {r.rc}: {r.err}"
    assert f"cannot reach checkpointd at {k.work}/api.sock" in r.err, r.err


# 2. Wrong usage is 64 with the usage text; an unusable config is 78 with FILE:LINE.
def test_bad_usage_exits_64_with_the_usage(k):
    r = ctl("sensor", "read", "--config", k.cfg, "--baud", "7")
    assert r.rc == 64 and "usage:" in r.err.lower(), f"exit {r.rc}: {r.err[:300]}"


def test_unusable_config_exits_78_naming_file_and_line(k):
    r = ctl("sensor", "read", "--config", k.bad, "--count", "1")
    assert r.rc == 78, f"exit {r.rc}: {r.err[:300]}"
    assert f"{k.bad}:{k.badline}: screening.elevated_c" in r.err and "usage:" not in r.err.lower(), r.err[:300]


def test_no_config_and_no_port_says_what_to_give(k):
    r = ctl("sensor", "read", "--config", k.work / "none.toml", "--count", "1")
    assert r.rc == 64 and "give --port, --model, or --config FILE" in r.err, f"exit {r.rc}: {r.err[:300]}"


# 3. Defaults from the config before the daemon starts.
def test_sensor_read_takes_port_and_model_from_the_config(k):
    r = ctl("sensor", "read", "--config", k.cfg, "--count", "2", "--json", "--timeout", "60", timeout=180)
    frames = [json.loads(l) for l in r.out.splitlines() if l.strip()] if r.rc == 0 else []
    assert r.rc == 0 and sum(1 for f in frames if f["width"] == 32) == 2, \
        f"expected 2 JSON frames 32 wide, exit {r.rc}: {r.out[:300]} {r.err[-300:]}"


def test_camera_snapshot_takes_the_camera_from_the_config(k):
    out = k.work / "snap.jpg"
    r = ctl("camera", "snapshot", "--config", k.cfg, "--out", out)
    assert r.rc == 0, f"exit {r.rc}: {r.both[-300:]}"
    assert out.read_bytes()[:2] == b"\xff\xd8", "not a JPEG"


# 4. The daemon runs.
@pytest.fixture(scope="module")
def daemon(k):
    k.d = k.daemon(k.cfg)
    return k.d


def test_status_ok_once_the_daemon_is_healthy(k, daemon):
    last = [None]

    def healthy():
        last[0] = ctl("status", "--config", k.cfg)
        return last[0].rc == 0
    wait_until(healthy, WAIT, 0.2)
    assert last[0].rc == 0 and re.search(r"(?m)^checkpointd: ok", last[0].out), \
        f"exit {last[0].rc}: {last[0].both} {daemon.tail(3)}"


def test_status_json_is_one_json_object(k, daemon):
    r = ctl("status", "--config", k.cfg, "--json")
    o = json.loads(r.both)
    assert o["status"] == "ok" and "queue.pending" in o, o


def test_sensor_read_on_the_daemons_port_fails_at_once_naming_the_daemon_and_the_way_out(k, daemon):
    # The sensor is the daemon's: a hardware command says so at once, in one line.
    t0 = time.monotonic()
    r = ctl("sensor", "read", "--config", k.cfg, "--count", "1")
    print(f"sensor read on the daemon's port: exit {r.rc} after {time.monotonic() - t0:.1f} s")
    assert r.rc == 1 and one_line(r.err), f"expected exit 1 and one line, got exit {r.rc}: {r.err}"
    assert "in use, most likely by checkpointd" in r.err and "systemctl stop checkpointd" in r.err, r.err


@pytest.fixture(scope="module")
def record_id(k, daemon):
    resp = daemon.api("/v1/declarations", body=DECLARATION)
    try:
        return resp.json().get("id", "")
    except ValueError:
        return ""


def test_queue_status_reads_the_configs_database_beside_the_running_daemon(k, record_id):
    r = ctl("queue", "status", "--config", k.cfg, "--json")
    assert record_id, "the declaration was not accepted (no id)"
    assert r.rc == 0, f"exit {r.rc}: {r.both}"
    o = json.loads(r.out)
    assert o["database"] == f"{k.work}/queue.sqlite" and o["status"]["pending"] >= 1 and o["integrity"] == ["ok"], o


def test_queue_list_json_one_line_per_record_no_personal_data(k, record_id):
    r = ctl("queue", "list", "--config", k.cfg, "--json")
    ids = [json.loads(l)["id"] for l in r.both.splitlines()]
    assert record_id in ids, f"{record_id} not in {ids}"
    assert "Test Person" not in r.both, "the name is in queue list's output"


def test_queue_show_json_the_stored_record(k, record_id):
    r = ctl("queue", "show", "--config", k.cfg, "--json", record_id)
    o = json.loads(r.both)
    assert o["state"] == "pending" and o["record"]["id"].lower() == record_id.lower(), o


def test_queue_drain_while_the_daemon_owns_the_queue_exits_1_in_one_line(k, record_id):
    r = ctl("queue", "drain", "--config", k.cfg, "--timeout", "5")
    assert r.rc == 1 and one_line(r.err), f"expected exit 1 and one line, got exit {r.rc}: {r.err}"


# 5. The live view of a visitor (the replayed face is measured).
@pytest.fixture(scope="module")
def watched(k, daemon):
    out = k.work / "watch.out"
    with open(out, "wb") as o:
        p = Proc([CTL, "watch", "--config", k.cfg, "--json", "--seconds", "600", "--interval", "0.2"],
                 k.work / "watch.err", stdout=o)
    seen = wait_until(lambda: '"state":"result"' in out.read_text(), WAIT)
    p.stop()
    return SimpleNamespace(out=out, seen=seen, err=p.text())


def test_watch_json_follows_a_visitor_to_a_result(watched):
    lines = json_lines(watched.out)
    assert watched.seen, f"no result within {WAIT} s: {watched.out.read_text()[:400]} {watched.err}"
    assert all({"state", "faces", "reasons", "health", "lastResults"} <= set(u) for u in lines), lines[0]
    assert any(u["faces"] >= 1 for u in lines), f"no face seen: {lines}"
    last = [u for u in lines if u["state"] == "result"][-1]
    assert last["result"] in ("normal", "elevated", "invalid") and last["lastResults"], last
    assert all(lines[i] != lines[i + 1] for i in range(len(lines) - 1)), "an update without a change"


def test_sensor_live_json_gives_the_frame_raw_and_calibrated_with_the_faces_eye_band(k, watched):
    r = ctl("sensor", "live", "--config", k.cfg, "--json")
    assert r.rc == 0, f"exit {r.rc}: {r.both[:300]}"
    v = json.loads(r.out.splitlines()[0])
    assert v["width"] == 32 and v["height"] == 24 and len(v["rawC"]) == 768 and len(v["calibratedC"]) == 768, v.keys()
    f = v["face"]
    print(f"face: {f['facePixels']} px, eye band {f['bandPixels']} px, corrected {f['stages']['corrected_c']} °C")
    assert f["facePixels"] > 0 and f["bandPixels"] > 0 and 35 < f["stages"]["corrected_c"] < 40, f


def test_sensor_live_draws_the_thermal_map_with_the_face_box_and_its_correction_stages(k, watched):
    r = ctl("sensor", "live", "--config", k.cfg)
    text = r.both
    rows = sum(1 for l in text.splitlines(keepends=True) if re.fullmatch(r"  [.:=+*%@\[\]-]{32}\n", l))
    assert rows == 24, f"expected 24 map rows of 32, got {rows}: {text[:400]}"
    assert re.search(r"(?m)^  .*\[.*\]", text), f"no face box on the map: {text[:400]}"
    assert re.search(r"(?m)^face at .* = .* °C", text), f"no 'face at … = … °C' line: {text[-400:]}"


def test_watch_json_carries_the_sensors_ambient_and_the_faces_thermal_figures(watched):
    t = watched.out.read_text()
    assert '"sensorAmbientC":' in t and '"faceCorrectedC":' in t, t[-300:]


def test_camera_live_png_0600_with_face_box_landmarks_thermal_overlay_and_reasons_band(k, watched):
    png = k.work / "live.png"
    r = ctl("camera", "live", "--config", k.cfg, "--out", png)
    assert r.rc == 0, f"exit {r.rc}: {r.both}"
    assert oct(png.stat().st_mode & 0o777) == "0o600", oct(png.stat().st_mode & 0o777)
    img = cv2.imread(str(png))
    assert img is not None and img.shape[1] >= 320, "not a PNG"
    b, g, r_ = img[..., 0].astype(int), img[..., 1].astype(int), img[..., 2].astype(int)
    green = int(((g == 200) & (b == 0) & (r_ == 0)).sum())            # the measured face's box (0,200,0)
    amber = int(((b == 0) & (g == 176) & (r_ == 255)).sum())          # any other face's
    magenta = int(((b == 255) & (g == 0) & (r_ == 255)).sum())        # landmarks
    white = int(((b == 255) & (g == 255) & (r_ == 255))[:60].sum())   # the text band's letters
    print(f"camera live: box {green + amber} px, landmarks {magenta} px, text {white} px")
    assert green + amber > 200, f"face box pixels: green {green}, amber {amber}"
    assert magenta > 20, f"landmark pixels {magenta}"
    assert white > 200, f"text band letters {white}"
    assert (img[:60] < 70).mean() > 0.5, "no dark text band"


def test_watch_piped_prints_plain_lines_without_terminal_escapes(k, watched):
    r = ctl("watch", "--config", k.cfg, "--count", "1")
    assert r.rc == 0 and "\x1b" not in r.both and re.search(r"(?m)^state ", r.both), \
        f"exit {r.rc}: {r.both[:300]!r}"


def test_watch_with_the_daemon_stopped_exits_1_in_one_line(k, daemon, watched):
    daemon.terminate()
    r = ctl("watch", "--config", k.cfg, "--count", "1")
    assert r.rc == 1 and one_line(r.err), f"expected exit 1 and one line, got exit {r.rc}: {r.err}"


# 6. Calibration with the service stopped, as a technician does it: a sensor whose gain and offset are off (the
#    simulator reads raw = 1.03·true − 0.6), a blackbody the tool must find by itself beside a warm face, the set
#    points confirmed when the tool asks; then the distance table and skin-to-body offset from volunteers' readings.
@pytest.fixture(scope="module")
def thermal_cal(k):
    stop_main_daemon(k)      # with the service stopped
    sim = k.simulator("--error-gain", "1.03", "--error-offset=-0.6", link="cal-pty", name="cal-sim")
    new = k.work / "new-cal.toml"
    p = subprocess.Popen([CTL, "calibrate", "thermal", "--config", k.cfg, "--port", sim.path, "--set-point", "35",
                          "--set-point", "40", "--frames", "16", "--by", "tech-01", "--output", new],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    said = []
    try:
        for line in p.stderr:
            said.append("stderr: " + line)
            if "Set the blackbody to" in line:
                c = line.split("Set the blackbody to ")[1].split(" ")[0]
                send(sim, f"blackbody {c}")
                time.sleep(1.5)          # frames at the new temperature, as a technician waits for the blackbody
            if "Press Enter" in line:
                p.stdin.write("\n")
                p.stdin.flush()
        out, _ = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    sim.stop()
    text = "".join(said) + out
    (k.work / "cal.out").write_text(text)
    return SimpleNamespace(rc=p.returncode, out=text, path=new)


def test_calibrate_thermal_finds_the_blackbody_and_fits_the_sensors_error(thermal_cal):
    assert thermal_cal.rc == 0, f"exit {thermal_cal.rc}: {thermal_cal.out[-800:]}"
    assert "blackbody found at x=" in thermal_cal.out and "sensor warm" in thermal_cal.out, thermal_cal.out[-800:]
    cal = tomllib.loads(thermal_cal.path.read_text())
    gain, offset = cal["fit"]["gain"], cal["fit"]["offset"]
    true_gain = 1 / 1.03
    raw37 = 1.03 * 37 - 0.6
    print(f"fit: gain {gain:.5f} (true {true_gain:.5f}), 37 °C read as {gain * raw37 + offset:.3f} °C")
    assert abs(gain - true_gain) / true_gain < 0.005, f"gain {gain}, expected {true_gain} within 0.5 %"
    assert abs(gain * raw37 + offset - 37) < 0.05, f"37 °C corrected to {gain * raw37 + offset}, expected within 0.05"
    assert any("thermal 2-point by tech-01" in h and "blackbody found at" in h for h in cal["audit"]["history"]), \
        cal["audit"]


def test_calibrate_thermal_ends_by_saying_how_to_apply_it(k, thermal_cal):
    expected = f"point thermal.calibration at {thermal_cal.path}, then: systemctl reload checkpointd"
    assert expected in thermal_cal.out, thermal_cal.out[-300:]


def calibrate_from_volunteers(k, thermal_cal, kind, rows, name):
    """`checkpointctl calibrate KIND` on the volunteers' readings (rows of distance_m,kiosk_c,clinical_c written to
    work/NAME) by tech-01: its Result (output printed) after asserting it succeeded, and the calibration file it wrote."""
    csv = k.work / name
    csv.write_text("\n".join(rows) + "\n")
    res = ctl("calibrate", kind, "--config", k.cfg, "--calibration", thermal_cal.path, "--readings-file", csv,
              "--by", "tech-01")
    print(res.out)
    assert res.rc == 0, f"exit {res.rc}: {res.both}"
    return res, tomllib.loads(thermal_cal.path.read_text())


def test_calibrate_distance_fits_the_table_from_volunteers(k, thermal_cal):
    # Volunteers: the kiosk reads 0.1 °C lower per 10 cm beyond 0.5 m and 0.4 °C low overall.
    r = random.Random(7)
    rows = ["# distance_m,kiosk_c,clinical_c"]
    for d in (0.3, 0.5, 0.8, 1.0):
        for _ in range(8):
            body = r.uniform(36.2, 37.4)
            rows.append(f"{d + r.uniform(-0.02, 0.02):.2f},{body - 0.4 - (d - 0.5) + r.gauss(0, 0.05):.2f},{body:.1f}")
    _, cal = calibrate_from_volunteers(k, thermal_cal, "distance", rows, "volunteers.csv")
    table = cal["distance"]["table"]
    assert [round(d, 1) for d, _ in table] == [0.3, 0.5, 0.8, 1.0], table
    # The readings were taken with the example's table in place: each offset moves by that distance's own error.
    previous = [(0.3, -0.2), (0.5, 0.0), (0.8, 0.4), (1.0, 0.7)]

    def before(d):
        if d <= previous[0][0]:
            return previous[0][1]
        if d >= previous[-1][0]:
            return previous[-1][1]
        for (d0, o0), (d1, o1) in zip(previous, previous[1:]):
            if d0 <= d <= d1:
                return o0 + (o1 - o0) * (d - d0) / (d1 - d0)
    for d, o in table:
        assert abs(o - (before(d) + d - 0.5)) < 0.05, f"offset at {d} m: {o}, expected {before(d) + d - 0.5:.2f}: {table}"
    assert any(h.split(" ", 1)[1].startswith("distance by tech-01") for h in cal["audit"]["history"]), cal["audit"]


def test_calibrate_skin_to_body_fits_the_offset_with_its_95_percent_interval(k, thermal_cal):
    # After the table, the kiosk's readings are only 0.4 °C low: skin-to-body takes it (from 1.0 in the example).
    r = random.Random(8)
    rows = []
    for _ in range(20):
        body = r.uniform(36.2, 37.4)
        rows.append(f"0.5,{body - 0.4 + r.gauss(0, 0.1):.2f},{body:.1f}")
    res, cal = calibrate_from_volunteers(k, thermal_cal, "skin-to-body", rows, "volunteers2.csv")
    assert re.search(r"± .* \(95 %, n = 20", res.both), f"no 95 % interval over 20 readings: {res.both}"
    assert abs(cal["body"]["skin_to_body_offset_c"] - 1.4) < 0.06, f"expected about 1.4: {cal['body']}"
    assert len(cal["audit"]["history"]) == 3, cal["audit"]


@pytest.fixture(scope="module")
def new_config(k, thermal_cal):
    path = k.work / "kiosk-new.toml"
    path.write_text(re.sub(r"(?m)^calibration = .*", f'calibration = "{thermal_cal.path}"', k.cfg.read_text()))
    return path


def test_the_written_calibration_passes_checkpointd_check_config(new_config):
    r = run(binary("checkpointd"), "--check-config", "--no-environment", new_config)
    assert r.rc == 0, f"exit {r.rc}: {r.both}"


def test_calibrate_report_one_a4_page_of_the_configured_calibration(k, new_config):
    png = k.work / "report.png"
    r = ctl("calibrate", "report", "--config", new_config, "--out", png)
    assert r.rc == 0 and "3 history line" in r.both, f"exit {r.rc}: {r.both}"
    img = cv2.imread(str(png))
    assert img is not None and img.shape[:2] == (1754, 1240), None if img is None else img.shape
    ink = img.sum(axis=2) < 100
    assert ink[:200].sum() > 2000, "no title"
    assert ink[1300:].sum() > 500, "no history lines"
    red = (img[..., 2] > 200) & (img[..., 1] < 60) & (img[..., 0] < 60)
    assert red.sum() > 300, "no plotted points"


def test_too_few_volunteers_exits_1_saying_how_many_are_needed(k, thermal_cal):
    r = ctl("calibrate", "skin-to-body", "--config", k.cfg, "--calibration", thermal_cal.path,
            "--reading", "0.5,37,36.9", "--by", "tech-01")
    assert r.rc == 1 and one_line(r.err) and "at least 5" in r.err, f"exit {r.rc}: {r.err}"


# 7. Registration found automatically beside the running daemon: a heated disc on a stand, moved over the view. The
#    camera replays one image the test rewrites (the disc and its stand, drawn at sub-pixel positions); the simulator
#    draws the disc where a known homography puts it in the thermal frame. The fit must recover that homography.
TRUTH = cv2.getPerspectiveTransform(np.float32([[0, 0], [640, 0], [0, 480], [640, 480]]),
                                    np.float32([[1.2, 0.4], [31.0, 1.3], [0.6, 23.1], [30.5, 23.8]]))
SPOTS = [(90.3, 70.6), (552.0, 84.4), (318.7, 251.2), (104.1, 398.8), (541.5, 405.0), (300.2, 130.9)]


def booth_frame(target=None):
    yy, xx = np.mgrid[0:480, 0:640]
    g = (150 + 20 * np.sin(xx / 37) + 15 * np.cos(yy / 23)).astype(np.uint8)
    img = cv2.merge([g, g, g])
    cv2.rectangle(img, (40, 300), (200, 470), (90, 110, 130), -1)     # a bench in the booth
    if target:
        cx, cy = target
        c = (int(round((cx - 0.5) * 16)), int(round((cy - 0.5) * 16)))
        cv2.line(img, (int(cx), int(cy)), (int(cx), 479), (70, 70, 70), 4)                          # the stand
        cv2.circle(img, c, 20 * 16, (35, 35, 35), -1, cv2.LINE_AA, 4)                                # the disc
    return img


def show(frames, img):
    """Replaces the replayed image at once (written beside it under a name the replay never lists, then renamed)."""
    ok, png = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    tmp = frames / ".a.tmp"
    tmp.write_bytes(png.tobytes())
    os.replace(tmp, frames / "a.png")


def camera_shows(d, img):
    """Whether the daemon's camera frame (GET /v1/camera/snapshot.png?raw=1) is the image now replayed."""
    try:
        r = d.api("/v1/camera/snapshot.png?raw=1", timeout=20)
    except OSError:
        return False
    got = cv2.imdecode(np.frombuffer(r.body, np.uint8), cv2.IMREAD_COLOR) if r.status == 200 else None
    return got is not None and got.shape == img.shape and np.abs(got.astype(int) - img).mean() < 2


@pytest.fixture(scope="module")
def registration(k):
    stop_main_daemon(k)
    w = k.work
    frames = w / "reg-frames"
    frames.mkdir()
    sim = k.simulator("--no-face", link="reg-pty", name="reg-sim")
    cal = w / "reg-cal.toml"
    shutil.copy(ROOT / "calibration/gy-mcu90640.toml", cal)
    cfg = w / "reg.toml"
    text = k.cfg.read_text().replace(f'"{w}/frames"', f'"{frames}"').replace(f'"{w}/thermal-pty"', f'"{sim.path}"')
    cfg.write_text(re.sub(r"(?m)^calibration = .*", f'calibration = "{cal}"', text))
    show(frames, booth_frame())
    d = k.daemon(cfg, log="reg-daemon.log")
    wait_until(lambda: ctl("status", "--config", cfg).rc == 0, WAIT, 0.2)
    overlay = w / "reg-overlay.png"
    p = subprocess.Popen([CTL, "calibrate", "registration", "--auto", "--config", cfg, "--positions", "6",
                          "--by", "tech-01", "--overlay", overlay], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=open(w / "reg.err", "w"), text=True, bufsize=1)
    said = []
    camera_skipped = False
    try:
        for line in p.stdout:
            said.append(line)
            if "clear the view" in line:
                wait_until(lambda: camera_shows(d, booth_frame()), WAIT, 0.2)
                time.sleep(1.0)
                p.stdin.write("\n")
                p.stdin.flush()
            elif "put the target at position" in line:
                n = int(line.split("at position ")[1].split(" ")[0])
                cx, cy = SPOTS[n - 1]
                tx, ty = cv2.perspectiveTransform(np.float32([[[cx, cy]]]), TRUTH)[0][0]
                cmd = f"target {tx:.3f} {ty:.3f} 55"
                if n == 3 and not camera_skipped:
                    camera_skipped = True           # the first try at position 3: hot, but out of the camera's view
                    img = booth_frame()
                else:
                    img = booth_frame((cx, cy))
                show(frames, img)
                send(sim, cmd)
                wait_until(lambda: camera_shows(d, img), WAIT, 0.2)
                time.sleep(1.5)
                p.stdin.write("\n")
                p.stdin.flush()
        rc = p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        d.terminate()
        sim.stop()
    text = "".join(said) + (w / "reg.err").read_text()
    (w / "reg.out").write_text(text)
    return SimpleNamespace(rc=rc, out=text, cal=cal, overlay=overlay, daemon_log=d.tail(3))


def test_calibrate_registration_auto_finds_the_target_at_6_positions_and_recovers_the_homography(registration):
    reg = registration
    found = len(re.findall(r"(?m)^   found: camera", reg.out))
    print(f"registration --auto: {found} positions found")
    assert reg.rc == 0, f"exit {reg.rc}: {reg.out[-1200:]} {reg.daemon_log}"
    assert found == 6, f"expected 6 'found: camera' lines, got {found}: {reg.out[-1200:]}"
    assert re.search(r"(?m)^   not taken: no target in the camera image", reg.out), \
        f"the position without the target in the camera was not refused: {reg.out[-1200:]}"
    assert "systemctl reload checkpointd" in reg.out, reg.out[-300:]
    cal = tomllib.loads(reg.cal.read_text())
    h = np.array(cal["registration"]["homography"]).reshape(3, 3)
    worst = 0.0
    for x, y in [(0, 0), (320, 240), (640, 480), (100, 400), (600, 60)]:
        a = h @ [x, y, 1]
        b = TRUTH @ [x, y, 1]
        a, b = a[:2] / a[2], b[:2] / b[2]
        worst = max(worst, float(np.abs(a - b).max()))
        assert np.abs(a - b).max() < 0.3, f"camera ({x}, {y}) maps to {a}, the truth is {b}"
    print(f"worst distance from the true homography: {worst:.3f} thermal px")
    assert any(" registration auto by tech-01: 6 pair(s)" in l for l in cal["audit"]["history"]), cal["audit"]


def test_registration_auto_draws_its_overlay_on_the_daemons_own_camera_image(registration):
    img = cv2.imread(str(registration.overlay))
    assert img is not None and img.shape[:2] == (480, 640), None if img is None else img.shape


# 8. A poster beside the person: YuNet finds both faces (the poster's at about 1.1 m, inside the person range), but
#    the poster's registered thermal region is at room temperature, so the kiosk measures the person instead of
#    saying "one person at a time". On a day as warm as skin (ambient 34 °C) the thermal side cannot tell, and the
#    poster counts again: the check only removes a face when it is sure.
@pytest.fixture(scope="module")
def poster(k):
    stop_main_daemon(k)
    w = k.work
    frames = w / "poster-frames"
    frames.mkdir()
    src = cv2.imread(str(k.photo)) if k.photo else None
    canvas = np.full((480, 640, 3), 140, np.uint8)
    if src is not None:
        canvas[75:405, 200:530] = cv2.resize(src, (330, 330))    # the person, in the sensor's warm area
        canvas[40:230, 5:195] = cv2.resize(src, (190, 190))      # the poster on the wall, upper left
    cv2.imwrite(str(frames / "a.jpg"), canvas)
    shutil.copy(frames / "a.jpg", w / "poster.jpg")
    sim = k.simulator(link="poster-pty", name="poster-sim")
    cfg = w / "poster.toml"
    cfg.write_text(k.cfg.read_text().replace(f'"{w}/frames"', f'"{frames}"')
                   .replace(f'"{w}/thermal-pty"', f'"{sim.path}"'))
    d = k.daemon(cfg, log="poster-daemon.log")
    wait_until(lambda: ctl("status", "--config", cfg).rc == 0, WAIT, 0.2)
    detected = ctl("detect", "--model", w / MODEL_NAME, "--json", frames / "a.jpg")
    out = w / "poster-watch.out"
    with open(out, "wb") as o:
        watch = Proc([CTL, "watch", "--config", cfg, "--json", "--seconds", "900", "--interval", "0.2"],
                     w / "poster-watch.err", stdout=o)
    k.procs.append(watch)
    wait_until(lambda: '"state":"result"' in out.read_text(), WAIT)
    time.sleep(2)   # a little more of the scene: no later update may bring the poster back
    return SimpleNamespace(out=out, detected=detected, sim=sim, frames=frames, daemon=d, watch=watch)


def test_a_poster_beside_the_person_cold_in_the_thermal_frame_is_not_a_second_person(poster):
    faces = json.loads(poster.detected.out.splitlines()[0])["faces"] if poster.detected.out else []
    assert len(faces) == 2, f"the detector does not see both faces: {poster.detected.both[:300]}"
    lines = json_lines(poster.out)
    assert any(u["state"] == "result" for u in lines), f"no result: {poster.out.read_text()[-600:]}"
    # Once the thermal sensor has seen the scene (before its first frame the poster's warmth is unknown and it
    # counts), only the person counts, for good: watch prints only changes, so no later update may bring it back.
    settled = next((i for i, u in enumerate(lines) if u["faces"] == 1 and u["state"] == "result"), None)
    assert settled is not None, f"never one face with a result: {lines[-5:]}"
    assert all("multiple-faces" not in u["reasons"] and u["faces"] == 1 for u in lines[settled:]), lines[settled:]


def test_the_same_poster_on_a_day_as_warm_as_skin_counts_as_a_person(k, poster):
    # A new visitor on a hot day: the booth empties (the replayed image without faces), the room warms, both come back.
    w = k.work
    last = lambda: (poster.out.read_text().strip().splitlines() or [""])[-1]  # noqa: E731
    tmp = poster.frames / ".t"
    cv2.imwrite(str(w / "poster-empty.jpg"), np.full((480, 640, 3), 140, np.uint8))
    shutil.copy(w / "poster-empty.jpg", tmp)
    os.replace(tmp, poster.frames / "a.jpg")
    emptied = wait_until(lambda: '"faces":0' in last(), WAIT)
    send(poster.sim, "ambient 34")
    time.sleep(1)
    shutil.copy(w / "poster.jpg", tmp)
    os.replace(tmp, poster.frames / "a.jpg")
    wait_until(lambda: '"faces":2' in last(), WAIT)
    poster.watch.stop()
    poster.daemon.terminate()
    assert emptied, f"the booth never showed empty: {last()}"
    assert '"faces":2' in last(), f"expected both faces on a 34 °C day: {poster.out.read_text()[-400:]}"
