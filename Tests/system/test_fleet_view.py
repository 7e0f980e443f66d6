"""The fleet view in a real browser (headless Chromium through selenium, conftest's `browser`): a real checkpointd
(replayed camera, GY-MCU90640 simulator) sends its heartbeats over verified HTTPS to the receiver (--silent-after 45,
heartbeats every 30 s), beside six kiosks whose heartbeats the test posts (silent, sensor lost, failed detector, dead
letters, old calibration, fine). The page lists every kiosk with silent ones first, in Vietnamese and English, loads
nothing from anywhere, and — the issue's check — the real kiosk, killed (-9, as a power cut), shows as silent once the
threshold has passed and not before. Every heartbeat stored is validated against openapi.yaml's Heartbeat schema.
Screenshots: .build/fleet-screenshots/. One stack for the module; tests run in file order and build on each other."""
import signal
import time
from datetime import datetime, timezone

import pytest

from harness import ROOT
from harness.contract import contract

pytestmark = [pytest.mark.slow, pytest.mark.browser]

INTERVAL = 30   # [heartbeat] interval_s (its minimum)
SILENT = 45     # the receiver's --silent-after: longer than one interval
DEVICE = "demo-kiosk"
SHOTS = ROOT / ".build" / "fleet-screenshots"


def heartbeat(device, **over):
    """A heartbeat as a kiosk sends it (the contract's Heartbeat), with `over` merged into its sections."""
    h = {
        "deviceId": device, "checkpointId": "TN-02", "softwareVersion": "0.9.0",
        "sentAt": datetime.now(timezone.utc).replace(tzinfo=None).isoformat() + "Z",
        "clockSynced": True, "bootId": "boot-" + device, "sequence": 1, "reason": "interval", "changes": [], "uptimeSeconds": 3600,
        "health": {"overall": "ok", "stages": [{"name": "camera", "state": "ok"}, {"name": "detector", "state": "ok"},
                                                {"name": "thermal", "state": "ok"}]},
        "sensor": {"connected": True, "ambientC": 29.5, "warmUpRemainingSeconds": 0},
        "calibration": {"id": "TN-02-2026-10", "ageDays": 40},
        "queue": {"depth": 0, "deadLetters": 0, "alert": False},
        "freeDiskBytes": 20_000_000_000, "screenings": {"normal": 12, "elevated": 1, "invalid": 2},
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(h.get(k), dict):
            h[k].update(v)
        else:
            h[k] = v
    return h


POSTED = [
    heartbeat("TN-K01"),
    heartbeat("TN-K02", sensor={"connected": False}, changes=["sensor-lost"], reason="state-change"),
    heartbeat("TN-K03", health={"overall": "failed", "stages": [{"name": "detector", "state": "failed", "detail": "model missing"}]}),
    heartbeat("TN-K04", queue={"depth": 230, "oldestPendingAgeSeconds": 7200, "deadLetters": 3, "alert": True}),
    heartbeat("TN-K05", calibration={"id": "TN-02-2025-01", "ageDays": 400}),
    heartbeat("TN-K06"),
]


@pytest.fixture(scope="module")
def fleet(stack):
    import cv2
    import numpy
    stack.tls()
    stack.calibration()
    frames = stack.work / "frames"
    frames.mkdir()
    for i in range(4):
        cv2.imwrite(str(frames / f"{i:04d}.jpg"), numpy.full((480, 640, 3), 90 + i, numpy.uint8))
    cfg = stack.config(sed=[f"s#^interval_s = .*#interval_s = {INTERVAL}#"])
    assert f"\ninterval_s = {INTERVAL}\n" in cfg.read_text(), "the demo config has no [heartbeat] interval_s"
    stack.recv = stack.receiver("--silent-after", SILENT)
    stack.sim = stack.simulator("--no-face", "--ambient-c", "27")
    stack.d = stack.daemon(cfg)
    SHOTS.mkdir(parents=True, exist_ok=True)
    return stack


@pytest.fixture(scope="module")
def page(browser, fleet):
    # The screen the original test used: 1280x900 (conftest's `browser` accepts the receiver's test certificate).
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    return browser


def post_all(r):
    for h in POSTED:
        resp = r.post("/v1/heartbeats", body=h, timeout=10)
        assert resp.status == 200, f"posting {h['deviceId']}'s heartbeat: HTTP {resp.status} {resp.text[:200]}"


def rows(d):
    return d.execute_script("return [...document.querySelectorAll('#fleet tbody tr[data-device]')]"
                            ".map(r => [r.dataset.device, r.dataset.status])")


def test_the_real_kiosk_reports_its_calibration_stages_and_sensor(fleet):
    r = fleet.recv
    end = time.monotonic() + 90
    while time.monotonic() < end and r.kiosk(DEVICE) is None:
        time.sleep(0.5)
    real = r.kiosk(DEVICE)
    assert real, f"the real kiosk's heartbeat never arrived: {fleet.d.tail(5)}"
    assert real["calibrationId"] == "demo-identity" and real["status"] != "silent", real
    assert {s["name"] for s in real["stages"]} >= {"thermal"}, real["stages"]
    # The simulator is connected: the kiosk says so well before its next interval (30 s), by a state-change heartbeat
    # when its first one went out before the sensor was up.
    seen = time.monotonic()
    while not real["sensorConnected"]:
        assert time.monotonic() - seen < 20, "the sensor's arrival was not reported before the next interval"
        time.sleep(0.5)
        real = r.kiosk(DEVICE)


def test_every_kiosk_is_listed_worst_first(fleet, page):
    post_all(fleet.recv)
    page.get(fleet.recv.url("/fleet"))
    got = rows(page)
    assert sorted(d for d, _ in got) == sorted([DEVICE] + [h["deviceId"] for h in POSTED]), got
    status = dict(got)
    assert status["TN-K03"] == "failed" and status["TN-K02"] == "attention" and status["TN-K04"] == "attention", got
    assert status["TN-K05"] == "attention" and status["TN-K01"] == "ok", got
    order = ["silent", "failed", "attention", "ok"]
    ranks = [order.index(s) for _, s in got]
    assert ranks == sorted(ranks), f"not worst first: {got}"


def test_the_page_is_in_vietnamese_and_english(page):
    text = page.find_element("tag name", "body").text
    missing = [w for w in ["Tình trạng các kiosk", "Fleet status", "Mất liên lạc", "Silent", "Cần chú ý", "Hàng đợi", "Queue",
                           "mất cảm biến nhiệt", "hiệu chuẩn cũ", "bản ghi bị từ chối"] if w not in text]
    assert not missing, f"the page lacks {missing}"


def test_the_page_loads_nothing_from_anywhere(fleet, page):
    # No script, style sheet, image or frame element, and every request the browser made went to the receiver itself
    # (Chromium may still ask it for /favicon.ico).
    n = page.execute_script("return document.querySelectorAll('script, link, img, iframe, object, embed, video, audio').length")
    assert n == 0, f"{n} script/link/img/iframe/object/embed/video/audio elements"
    names = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(n.startswith(fleet.recv.url("/")) for n in names), names


def test_the_page_is_readable_on_a_1280_px_screen(page):
    # No sideways scrolling, text at least 12 px, status words at least 14 px.
    assert page.execute_script("return document.documentElement.scrollWidth <= innerWidth"), "the page scrolls sideways"
    text = page.execute_script("return Math.min(...[...document.querySelectorAll('td small, td')]"
                               ".map(e => parseFloat(getComputedStyle(e).fontSize)))")
    status = page.execute_script("return Math.min(...[...document.querySelectorAll('td.st b')]"
                                 ".map(e => parseFloat(getComputedStyle(e).fontSize)))")
    assert text >= 12, f"table text {text} px (want at least 12)"
    assert status >= 14, f"status words {status} px (want at least 14)"
    page.save_screenshot(str(SHOTS / "fleet.png"))


def test_a_kiosk_that_goes_silent_shows_as_silent_once_the_threshold_has_passed(fleet, page):
    r = fleet.recv
    fleet.d.signal(signal.SIGKILL)   # a power cut: nothing more from it
    fleet.d.popen.wait(30)
    real = r.kiosk(DEVICE)
    # The receiver's own clock: seconds since its last heartbeat now, so its silence starts at now + (SILENT - since).
    silent_at = time.monotonic() + SILENT - real["secondsSinceHeartbeat"]
    assert silent_at - time.monotonic() > 5, "the last heartbeat is already nearly silent-old"
    # Until the threshold the kiosk is not silent (the others keep talking).
    while time.monotonic() < silent_at - 3:
        post_all(r)
        page.get(r.url("/fleet"))
        assert dict(rows(page))[DEVICE] != "silent", f"silent {silent_at - time.monotonic():.1f} s before the threshold"
        time.sleep(min(5, max(0, silent_at - 3 - time.monotonic())))
    # Once it has passed, the page says so, with the silent kiosk first.
    deadline = silent_at + 3
    while True:
        post_all(r)
        page.get(r.url("/fleet"))
        got = rows(page)
        if dict(got)[DEVICE] == "silent":
            break
        assert time.monotonic() < deadline, f"not silent {time.monotonic() - silent_at:.1f} s after the threshold: {got}"
        time.sleep(0.5)
    print(f"silent {time.monotonic() - silent_at:+.1f} s from the threshold ({SILENT} s)")
    assert got[0] == [DEVICE, "silent"], f"the silent kiosk is not first: {got}"
    count = page.execute_script("return document.getElementById('count-silent').textContent")
    assert count == "1", f"silent count {count!r}"
    row = page.find_element("css selector", f"tr[data-device='{DEVICE}']").text
    assert "không có tín hiệu" in row, row
    page.save_screenshot(str(SHOTS / "fleet-silent.png"))


def test_metrics_show_the_silent_kiosk(fleet):
    # The province's monitoring sees it too.
    resp = fleet.recv.get("/metrics", timeout=10)
    ctype = {k.lower(): v for k, v in resp.headers.items()}.get("content-type", "")
    assert ctype.startswith("text/plain"), ctype
    assert f'checkpoint_kiosk_silent{{device="{DEVICE}",checkpoint="demo-checkpoint"}} 1.0' in resp.text, \
        [l for l in resp.text.splitlines() if "kiosk_silent" in l]
    assert 'checkpoint_kiosk_silent{device="TN-K01",checkpoint="TN-02"} 0.0' in resp.text, \
        [l for l in resp.text.splitlines() if "kiosk_silent" in l]


def test_every_stored_heartbeat_matches_the_contract(fleet):
    ok, out = contract(fleet.recv.db, "--heartbeats")
    print(out)
    assert ok, f"stored heartbeats do not match the contract: {out}"
