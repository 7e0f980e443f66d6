"""The fleet page in headless Chromium, with a real kiosk's heartbeats and six posted ones (see fleet-view.test.sh)."""
import json
import os
import signal
import ssl
import time
import urllib.request
from datetime import datetime

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

URL = os.environ["FLEET_URL"]
CA = os.environ["FLEET_CA"]
SILENT = float(os.environ["FLEET_SILENT"])
DEVICE = os.environ["FLEET_DEVICE"]
DAEMON = int(os.environ["FLEET_DAEMON_PID"])
SHOTS = os.environ["FLEET_SHOTS"]
CTX = ssl.create_default_context(cafile=CA)


def get(path):
    with urllib.request.urlopen(URL + path, context=CTX, timeout=10) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read()


def fleet():
    return json.loads(get("/v1/fleet")[2])


def heartbeat(device, **over):
    """A heartbeat as a kiosk sends it (the contract's Heartbeat), with `over` merged into its sections."""
    h = {
        "deviceId": device, "checkpointId": "TN-02", "softwareVersion": "0.9.0", "sentAt": datetime.utcnow().isoformat() + "Z",
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


def post_all():
    for h in POSTED:
        req = urllib.request.Request(URL + "/v1/heartbeats", data=json.dumps(h).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=CTX, timeout=10) as r:
            assert r.status == 200, r.status


@pytest.fixture(scope="module")
def browser():
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    # The receiver's certificate is from the test's throwaway CA.
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900", "--lang=vi",
              "--ignore-certificate-errors", "--disable-background-networking", "--disable-component-update", "--no-first-run",
              "--disable-sync", "--disable-default-apps", "--disable-extensions"]:
        o.add_argument(a)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    yield d
    d.quit()


def rows(d):
    return d.execute_script("return [...document.querySelectorAll('#fleet tbody tr[data-device]')].map(r => [r.dataset.device, r.dataset.status])")


def test_every_kiosk_is_listed_worst_first_in_vietnamese_and_english(browser):
    end = time.monotonic() + 90
    while time.monotonic() < end and not any(k["deviceId"] == DEVICE for k in fleet()["kiosks"]):
        time.sleep(0.5)
    real = [k for k in fleet()["kiosks"] if k["deviceId"] == DEVICE]
    assert real, "the real kiosk's heartbeat never arrived"
    assert real[0]["calibrationId"] == "demo-identity" and real[0]["status"] != "silent"
    assert {s["name"] for s in real[0]["stages"]} >= {"thermal"}
    # The simulator is connected: the kiosk says so well before its next interval (30 s), by a state-change heartbeat
    # when its first one went out before the sensor was up.
    seen = time.monotonic()
    while not real[0]["sensorConnected"]:
        assert time.monotonic() - seen < 20, "the sensor's arrival was not reported before the next interval"
        time.sleep(0.5)
        real = [k for k in fleet()["kiosks"] if k["deviceId"] == DEVICE]
    post_all()
    browser.get(URL + "/fleet")
    got = rows(browser)
    assert sorted(d for d, _ in got) == sorted([DEVICE] + [h["deviceId"] for h in POSTED])
    status = dict(got)
    assert status["TN-K03"] == "failed" and status["TN-K02"] == "attention" and status["TN-K04"] == "attention"
    assert status["TN-K05"] == "attention" and status["TN-K01"] == "ok"
    order = ["silent", "failed", "attention", "ok"]
    ranks = [order.index(s) for _, s in got]
    assert ranks == sorted(ranks), got
    text = browser.find_element("tag name", "body").text
    for words in ["Tình trạng các kiosk", "Fleet status", "Mất liên lạc", "Silent", "Cần chú ý", "Hàng đợi", "Queue",
                  "mất cảm biến nhiệt", "hiệu chuẩn cũ", "bản ghi bị từ chối"]:
        assert words in text, words
    # Nothing is loaded from anywhere: no script, style sheet, image or frame element, and every request the browser
    # made went to the receiver itself (Chromium may still ask it for /favicon.ico).
    assert browser.execute_script("return document.querySelectorAll('script, link, img, iframe, object, embed, video, audio').length") == 0
    names = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(n.startswith(URL + "/") for n in names), names
    # Readable at a glance on a 1280 px screen: no sideways scrolling, text at least 12 px, status words at least 14 px.
    assert browser.execute_script("return document.documentElement.scrollWidth <= innerWidth")
    assert browser.execute_script("return Math.min(...[...document.querySelectorAll('td small, td')].map(e => parseFloat(getComputedStyle(e).fontSize)))") >= 12
    assert browser.execute_script("return Math.min(...[...document.querySelectorAll('td.st b')].map(e => parseFloat(getComputedStyle(e).fontSize)))") >= 14
    browser.save_screenshot(os.path.join(SHOTS, "fleet.png"))


def test_a_kiosk_that_goes_silent_shows_as_silent_within_the_threshold(browser):
    os.kill(DAEMON, signal.SIGKILL)   # a power cut: nothing more from it
    time.sleep(1)
    real = [k for k in fleet()["kiosks"] if k["deviceId"] == DEVICE][0]
    # The receiver's own clock: seconds since its last heartbeat now, so its silence starts at now + (SILENT - since).
    silent_at = time.monotonic() + SILENT - real["secondsSinceHeartbeat"]
    assert silent_at - time.monotonic() > 5, "the last heartbeat is already nearly silent-old"
    # Until the threshold the kiosk is not silent (the others keep talking).
    while time.monotonic() < silent_at - 3:
        post_all()
        browser.get(URL + "/fleet")
        assert dict(rows(browser))[DEVICE] != "silent"
        time.sleep(min(5, max(0, silent_at - 3 - time.monotonic())))
    # Once it has passed, the page says so, with the silent kiosk first.
    deadline = silent_at + 3
    while True:
        post_all()
        browser.get(URL + "/fleet")
        got = rows(browser)
        if dict(got)[DEVICE] == "silent":
            break
        assert time.monotonic() < deadline, f"not silent {time.monotonic() - silent_at:.1f} s after the threshold: {got}"
        time.sleep(0.5)
    assert got[0] == [DEVICE, "silent"], got
    assert browser.execute_script("return document.getElementById('count-silent').textContent") == "1"
    assert "không có tín hiệu" in browser.find_element("css selector", f"tr[data-device='{DEVICE}']").text
    browser.save_screenshot(os.path.join(SHOTS, "fleet-silent.png"))
    # The province's monitoring sees it too.
    _, ctype, body = get("/metrics")
    assert ctype.startswith("text/plain")
    assert f'checkpoint_kiosk_silent{{device="{DEVICE}",checkpoint="demo-checkpoint"}} 1.0' in body.decode()
    assert 'checkpoint_kiosk_silent{device="TN-K01",checkpoint="TN-02"} 0.0' in body.decode()
