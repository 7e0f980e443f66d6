"""The daemon's live GET /metrics against Prometheus' own checker (`promtool check metrics`, Debian's prometheus
package) and what the state metrics say: the build's version, the sensor up (1 with the simulator, 0 after it stops)
and its ambient, the calibration's id and age, the client certificate's expiry and the last upload's time. Every metric
the daemon serves is in the README's metrics table. One daemon for the module; tests run in file order."""
import re
import shutil
import subprocess
import time
from datetime import datetime

import pytest

from harness import ROOT, binary, run, wait_until

CALIBRATION = ROOT / "calibration/gy-mcu90640.toml"
DECLARATION = {"fullName": "Test Person", "birthYear": 1990, "gender": "Nam", "nation": "VN", "provinceId": "19",
               "districtId": "164", "wardId": "05446", "address": "x", "phone": "0912345678", "hasPatient": 2,
               "hasFromSickCountry": 2, "hasSick": 2, "symptoms": [], "consent": True}


class Scrape:
    def __init__(self, text):
        self.text = text
        self.samples = {}
        for l in text.splitlines():
            if l and not l.startswith("#"):
                series, _, value = l.rpartition(" ")
                self.samples[series] = value

    def value(self, series):
        v = self.samples.get(series)
        return float(v) if v is not None else None

    def grep(self, word):
        return "\n".join(l for l in self.text.splitlines() if word in l)


def scrape(d):
    return Scrape(d.api("/metrics", timeout=10).text)


def wait_value(d, series, ok, timeout=60):
    """Scrapes until the series' value satisfies ok(v); returns the last scrape."""
    last = [None]

    def probe():
        last[0] = scrape(d)
        v = last[0].value(series)
        return v is not None and ok(v)
    wait_until(probe, timeout, 0.5)
    return last[0]


def promtool(text):
    return subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)


@pytest.fixture(scope="module")
def s(stack):
    if not shutil.which("promtool"):
        pytest.fail("no promtool (make deps installs Debian's prometheus package)")
    stack.gray_frames()
    stack.sim = stack.simulator()
    stack.recv = stack.receiver()
    # A client certificate: the daemon reports when it expires.
    key, pem = stack.work / "client.key", stack.work / "client.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", pem, "-days", "45", "-subj", "/CN=kiosk-metrics-test"],
                   check=True, capture_output=True)
    key.chmod(0o600)
    end = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-enddate"], capture_output=True, text=True).stdout
    stack.expiry = _utc(end.strip().split("=", 1)[1])
    cfg = stack.config("run.toml", set={"calibration": f'"{CALIBRATION}"'},
                       sed=[f's|^endpoint = .*|&\\nclient_cert = "{pem}"\\nclient_key = "{key}"|'])
    stack.model()
    stack.d = stack.daemon(cfg)
    return stack


def _utc(notafter):
    from calendar import timegm
    return timegm(datetime.strptime(notafter, "%b %d %H:%M:%S %Y GMT").timetuple())


@pytest.fixture(scope="module")
def first(s):
    """The first scrape with the sensor up."""
    return wait_value(s.d, "checkpointd_sensor_up", lambda v: v == 1)


def test_sensor_up_is_1_while_the_simulator_sends_frames(s, first):
    assert first.value("checkpointd_sensor_up") == 1, (first.grep("sensor_up"), s.d.tail(3))


def test_promtool_check_metrics_passes_on_the_live_metrics(first):
    r = promtool(first.text)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_metric_has_help(first):
    helps = len(re.findall(r"(?m)^# HELP ", first.text))
    types = len(re.findall(r"(?m)^# TYPE ", first.text))
    assert helps >= 30 and helps == types, f"{helps} HELP, {types} TYPE"


def test_every_counter_ends_in_total(first):
    counters = re.findall(r"(?m)^# TYPE (\S+) counter$", first.text)
    assert counters and [c for c in counters if not c.endswith("_total")] == []


def test_build_info_version_is_checkpointd_version(first):
    version = run(binary("checkpointd"), "--version").out.strip()
    assert first.value(f'checkpointd_build_info{{version="{version}"}}') == 1, first.grep("build_info")


def test_sensor_ambient_in_celsius(first):
    amb = first.value("checkpointd_sensor_ambient_celsius")
    assert amb is not None and 0 < amb < 60, amb


def test_warmup_remaining_is_0_with_warmup_minutes_0(first):
    assert first.value("checkpointd_sensor_warmup_remaining_seconds") == 0, first.grep("warmup")


def test_calibration_info_names_the_calibration(first):
    calid = re.search(r'(?m)^id = "([^"]*)"', CALIBRATION.read_text()).group(1)
    assert first.value(f'checkpointd_calibration_info{{id="{calid}"}}') == 1, first.grep("calibration")


def test_calibration_age_is_now_minus_calibrated_at(s):
    at = re.search(r"(?m)^calibrated_at = (\S+)", CALIBRATION.read_text()).group(1)
    sc = scrape(s.d)
    expected = time.time() - datetime.fromisoformat(at).timestamp()
    age = sc.value("checkpointd_calibration_age_seconds")
    assert age is not None and expected - 120 < age <= expected + 1, f"{age}, expected about {expected:.0f}"


def test_client_certificate_expiry_is_its_not_after(s, first):
    assert first.value("checkpointd_upload_client_certificate_expiry_timestamp_seconds") == s.expiry


def test_no_last_upload_time_before_the_first_upload(first):
    assert first.value("checkpointd_last_upload_success_timestamp_seconds") is None, first.grep("last_upload")


@pytest.fixture(scope="module")
def delivered(s, first):
    t0 = time.time()
    s.d.api("/v1/declarations", body=DECLARATION)
    sc = wait_value(s.d, "checkpointd_uploads_delivered_total", lambda v: v >= 1)
    return t0, time.time(), sc


def test_uploads_delivered_total_counts_the_delivery(s, delivered):
    sc = delivered[2]
    assert sc.value("checkpointd_uploads_delivered_total") >= 1, (sc.grep("uploads_"), s.d.tail(3))


def test_last_upload_success_time_is_the_deliverys(delivered):
    t0, t1, sc = delivered
    last = sc.value("checkpointd_last_upload_success_timestamp_seconds")
    assert last is not None and t0 - 1 <= last <= t1 + 1, f"{last}, upload between {t0:.0f} and {t1:.0f}"


def test_record_reached_the_receiver(s, delivered):
    assert s.recv.records().get("count", 0) >= 1


def test_no_personal_data_in_metrics(delivered):
    assert "Test Person" not in delivered[2].text and "0912345678" not in delivered[2].text


def test_readme_metrics_table_lists_every_metric_served(first):
    readme = (ROOT / "README.md").read_text()
    missing = [m for m in re.findall(r"(?m)^# TYPE (\S+) ", first.text) if f"| `{m}`" not in readme]
    assert missing == []


@pytest.fixture(scope="module")
def sensor_down(s, delivered):
    s.sim.stop()
    return wait_value(s.d, "checkpointd_sensor_up", lambda v: v == 0)


def test_sensor_up_is_0_after_the_simulator_stops(sensor_down):
    assert sensor_down.value("checkpointd_sensor_up") == 0, sensor_down.grep("sensor_up")


def test_no_warmup_figure_while_the_sensor_is_down(s, sensor_down):
    sc = [sensor_down]

    def absent():
        sc[0] = scrape(s.d)
        return sc[0].value("checkpointd_sensor_warmup_remaining_seconds") is None
    assert wait_until(absent, 60, 0.5), sc[0].grep("warmup")
    s.down = sc[0]


def test_promtool_check_metrics_passes_with_the_sensor_down(s, sensor_down):
    r = promtool(getattr(s, "down", sensor_down).text)
    assert r.returncode == 0, r.stdout + r.stderr


def test_daemon_stops_on_sigterm(s):
    assert s.d.terminate()[0] == 0, s.d.tail(5)
