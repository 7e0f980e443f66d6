"""`checkpointd --check-config` on good and bad files: exit codes 0 / 78 (EX_CONFIG), every planted problem reported as
FILE:LINE: key: … on stderr, --print-config's sources, the environment checks, and the daemon refusing to start on an
invalid config. Tests run in file order on one work directory (the drop-in tests build on each other)."""
import os
import re
import shutil
import subprocess

import pytest

from harness import ROOT, binary, run

EX_CONFIG = 78


def checkpointd(*args, timeout=60):
    return run(binary("checkpointd"), *args, timeout=timeout)


@pytest.fixture(scope="module")
def w(stack):
    """An /etc/checkpointd-like layout (the documented example config and the shipped calibration files) and a
    fresh install (the installed config) under the module's work directory."""
    w = stack.work
    for d, cfg in (("etc", "examples/checkpointd.toml"), ("fresh", "systemd/checkpointd.toml")):
        (w / d / "calibration").mkdir(parents=True)
        shutil.copy(ROOT / cfg, w / d / "checkpointd.toml")
        for c in (ROOT / "calibration").glob("*.toml"):
            shutil.copy(c, w / d / "calibration")
    return w


def fresh(w):
    return w / "fresh" / "checkpointd.toml"


def dropin(w, name):
    return w / "fresh" / "checkpointd.toml.d" / name


def lines(text):
    return text.splitlines()


# Valid files (--no-environment: the files only; this machine has no kiosk devices).
@pytest.fixture(scope="module")
def example(w):
    return checkpointd("--check-config", "--no-environment", w / "etc/checkpointd.toml")


def test_example_config_is_valid(example):
    assert example.rc == 0, example.err


def test_valid_config_prints_nothing_on_stderr(example):
    assert example.err == ""


def test_demo_config_is_valid():
    r = checkpointd("--check-config", "--no-environment", ROOT / "systemd/checkpointd.demo.toml")
    assert r.rc == 0, r.err


def test_check_config_without_path_checks_dash_dash_config(w):
    r = checkpointd("--check-config", "--no-environment", "--config", w / "etc/checkpointd.toml")
    assert r.rc == 0, r.both


# A fresh install: the installed config alone stops with exit 78 and ONE line naming what to set and where.
def unconfigured_line(f):
    return (f"checkpointd: {f}: not configured: set kiosk.checkpoint_id, kiosk.device_id, upload.endpoint in "
            f"{f}.d/50-site.toml (an example with every key: /usr/share/doc/checkpointd/examples/checkpointd.toml)")


def test_unconfigured_install_exits_78_with_one_line(w):
    r = checkpointd("--check-config", fresh(w))
    assert (r.rc, r.err.rstrip("\n")) == (EX_CONFIG, unconfigured_line(fresh(w)))


def test_unconfigured_daemon_does_not_start(w):
    r = checkpointd("--config", fresh(w), timeout=20)
    assert (r.rc, r.err.rstrip("\n")) == (EX_CONFIG, unconfigured_line(fresh(w)) + "; not starting")


# Site settings in a drop-in make it a working configuration; the drop-in's problems carry its own FILE:LINE.
def test_site_dropin_makes_it_valid_and_is_named(w):
    dropin(w, "").mkdir()
    dropin(w, "50-site.toml").write_text('[kiosk]\ncheckpoint_id = "tram-01"\ndevice_id = "kiosk-7"\n[upload]\n'
                                         'endpoint = "https://receiver.example.invalid/v1/records"\n')
    r = checkpointd("--check-config", "--no-environment", fresh(w))
    assert r.rc == 0, r.both
    assert f"with {dropin(w, '50-site.toml')}" in r.out


def test_dropin_problem_has_its_own_file_line(w):
    dropin(w, "60-camera.toml").write_text("[camera]\n\nwidth = 99999\n")
    dropin(w, "70-camera.toml.dpkg-dist").write_text("[camera]\nwidth = 800\n")  # other extensions are ignored
    r = checkpointd("--check-config", fresh(w))
    assert r.rc == EX_CONFIG
    assert f"{dropin(w, '60-camera.toml')}:3: camera.width: 99999 is out of range (allowed: 160..1920 px)" in lines(r.err)


def test_later_dropin_overrides_earlier(w):
    dropin(w, "80-camera.toml").write_text("[camera]\nwidth = 800\n")
    r = checkpointd("--check-config", "--no-environment", fresh(w))
    assert r.rc == 0, r.err


def test_parser_crashing_dropin_is_named(w):
    p = dropin(w, "90-typo.toml")
    p.write_text("t=[}\n")
    try:
        r = checkpointd("--check-config", fresh(w))
    finally:
        p.unlink()
    assert r.rc == EX_CONFIG
    assert re.search(f"^{re.escape(str(p))}: not valid TOML: the parser stopped", r.err, re.M), r.err


def test_print_config_names_every_source(w):
    f = fresh(w)
    r = checkpointd("--print-config", "--config", f)
    assert r.rc == 0, r.err
    cal_line = next(i for i, l in enumerate(f.read_text().splitlines(), 1) if l.startswith("calibration"))
    out = lines(r.out)
    assert f"width = 800  # {dropin(w, '80-camera.toml')}:2" in out
    assert "height = 480  # default" in out
    assert f'device_id = "kiosk-7"  # {dropin(w, "50-site.toml")}:3' in out
    assert f'calibration = "{w}/fresh/calibration/gy-mcu90640.toml"  # {f}:{cal_line}' in out


# The environment (default; --no-environment skips it): devices, face model, TLS files and expiry, socket group,
# checked for the service user. Here the service user is nobody, the camera /dev/null (a readable device).
@pytest.fixture(scope="module")
def env_check(w):
    dropin(w, "60-camera.toml").unlink()
    tls = w / "tls"
    tls.mkdir()
    (tls / "index.txt").touch()
    (tls / "serial").write_text("01\n")
    (tls / "ca.cnf").write_text(f"[ca]\ndefault_ca = d\n[d]\ndatabase = {tls}/index.txt\nnew_certs_dir = {tls}\n"
                                f"serial = {tls}/serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for argv in (["openssl", "req", "-new", *ec, "-keyout", "expired.key", "-subj", "/CN=expired", "-out", "r.csr"],
                 ["openssl", "ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", "expired.key", "-in", "r.csr",
                  "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-out", "expired.pem"],
                 ["openssl", "req", "-x509", *ec, "-keyout", "soon.key", "-subj", "/CN=soon", "-days", "10",
                  "-out", "soon.pem"]):
        subprocess.run(argv, cwd=tls, check=True, capture_output=True)
    for p in tls.glob("*.pem"):
        p.chmod(0o644)
    (tls / "soon.key").chmod(0o600)
    w.chmod(0o755)
    tls.chmod(0o755)
    (w / "model.onnx").write_text("not the model")
    (w / "model.onnx").chmod(0o644)
    e = dropin(w, "60-env.toml")
    e.write_text(f'[camera]\ndevice = "/dev/null"\n[thermal]\nport = "{w}/no-such-tty"\n[detector]\n'
                 f'model = "{w}/model.onnx"\n[api]\nsocket_group = "no-such-group-cpd"\n[upload]\n'
                 f'ca_file = "{tls}/expired.pem"\nclient_cert = "{tls}/soon.pem"\nclient_key = "{tls}/soon.key"\n')
    r = checkpointd("--check-config", "--service-user", "nobody", fresh(w))
    yield e, r
    e.unlink()


def test_environment_problems_exit_78(env_check):
    assert env_check[1].rc == EX_CONFIG


def test_environment_missing_serial_device(w, env_check):
    e, r = env_check
    assert f"{e}:4: thermal.port: {w}/no-such-tty: No such file or directory" in lines(r.err), r.err


def test_environment_model_with_wrong_sha256(w, env_check):
    e, r = env_check
    assert f"{e}:6: detector.model: face model at {w}/model.onnx has sha256 " in r.err
    assert "expected 50ef07f702a31741ca46a4c0d947773b64143b9362780237bf0d427d6c79bab7" in r.err


def test_environment_missing_socket_group(env_check):
    e, r = env_check
    assert (f'{e}:8: api.socket_group: group "no-such-group-cpd" does not exist on this system '
            "(allowed: an existing group (getent group))") in lines(r.err), r.err


def test_environment_expired_certificate(w, env_check):
    e, r = env_check
    assert re.search(f"^{re.escape(str(e))}:10: upload.ca_file: certificate in {re.escape(str(w))}/tls/expired.pem "
                     "expired at 2020-02-01T00:00:00Z; uploads will fail", r.err, re.M), r.err


def test_environment_certificate_expiring_within_30_days_warns(w, env_check):
    e, r = env_check
    assert re.search(f"^{re.escape(str(e))}:11: upload.client_cert: warning: certificate in "
                     f"{re.escape(str(w))}/tls/soon.pem expires in (9|10) days", r.err, re.M), r.err


def test_environment_key_unreadable_by_service_user(w, env_check):
    e, r = env_check
    assert (f"{e}:12: upload.client_key: {w}/tls/soon.key is not readable by nobody "
            "(mode 600, owner root, group root)") in lines(r.err), r.err


def test_environment_readable_device_passes(env_check):
    assert "camera.device" not in env_check[1].err


def test_no_environment_checks_files_only(w, env_check):
    r = checkpointd("--check-config", "--no-environment", "--service-user", "nobody", fresh(w))
    assert (r.rc, r.err) == (0, "")


# Planted problems; the line numbers are the lines of BAD.
BAD = """[kiosk]
checkpoint_id = "site-1"
[camera]
fsp = 15
buffers = 12
width = "640"
source = "usb"
[snapshot]
jpeg_quality = 150
[thermal]
model = "gy-mcu90640"
calibration = "calibration/broken.toml"
[upload]
endpoint = "http://uploads.example.org/v1"
"""


@pytest.fixture(scope="module")
def bad(w):
    b = w / "etc/bad.toml"
    b.write_text(BAD)
    cal = (ROOT / "calibration/gy-mcu90640.toml").read_text().replace("\nemissivity = 0.98", "\nemissivity = 0.5")
    broken = w / "etc/calibration/broken.toml"
    broken.write_text(cal)
    cal_line = cal.splitlines().index("emissivity = 0.5") + 1
    return b, broken, cal_line, checkpointd("--check-config", b)


def test_invalid_config_exits_78(bad):
    assert bad[3].rc == EX_CONFIG


PLANTED = [
    ("missing-key-at-table-header", "1: kiosk.device_id: missing required key (allowed: 1..64 of A-Z a-z 0-9 . _ -)"),
    ("typo-with-did-you-mean", '4: camera.fsp: unknown key; did you mean "fps"? (allowed: source, device, replay_path, '
                               "replay_fps, formats, width, height, fps, buffers, frame_timeout_ms, [controls])"),
    ("out-of-range", "5: camera.buffers: 12 is out of range (allowed: 2..8 buffers)"),
    ("wrong-type", '6: camera.width: expected an integer, found string "640" (allowed: 160..1920 px)'),
    ("bad-enum", '7: camera.source: "usb" is not a known value (allowed: "v4l2", "replay")'),
    ("second-out-of-range", "9: snapshot.jpeg_quality: 150 is out of range (allowed: 1..100 percent)"),
    ("insecure-endpoint", "14: upload.endpoint: endpoint http://uploads.example.org/v1 is plain http://, which sends "
                          "health data unencrypted; refused unless insecure http is allowed (allow_insecure_http = true; "
                          "checkpointctl: --allow-insecure-http) (allowed: an https:// URL (http:// only to a loopback "
                          "host, with allow_insecure_http = true))"),
]


@pytest.mark.parametrize("what,line", PLANTED, ids=[w for w, _ in PLANTED])
def test_planted_problem(bad, what, line):
    b, _, _, r = bad
    assert f"{b}:{line}" in lines(r.err), r.err


def test_calibration_problem_with_its_own_file_and_line(bad):
    _, broken, cal_line, r = bad
    assert f"{broken}:{cal_line}: sensor.emissivity: 0.5 is out of range (allowed: 0.9..1 ratio)" in lines(r.err), r.err


def test_all_8_problems_in_one_run(w, bad):
    assert len([l for l in lines(bad[3].err) if l.startswith(f"{w}/etc/")]) == 8, bad[3].err


def test_problems_go_to_stderr_only(bad):
    assert bad[3].out == ""


def test_problems_sorted_by_line(bad):
    b, r = bad[0], bad[3]
    nums = [int(l.split(":")[1]) for l in lines(r.err) if l.startswith(f"{b}:")]
    assert nums and nums == sorted(nums)


def test_syntax_error_with_its_line(w):
    p = w / "syntax.toml"
    p.write_text('[kiosk]\ncheckpoint_id = "a"\ndevice_id = = "b"\n')
    r = checkpointd("--check-config", p)
    assert r.rc == EX_CONFIG
    assert re.search(f"^{re.escape(str(p))}:3: TOML syntax error", r.err, re.M), r.err


def test_missing_file_cannot_read(w):
    r = checkpointd("--check-config", w / "nope.toml")
    assert r.rc == EX_CONFIG
    assert f"{w}/nope.toml: cannot read: No such file or directory" in lines(r.err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 file")
def test_unreadable_file_permission_denied(w):
    p = w / "secret.toml"
    shutil.copy(w / "etc/checkpointd.toml", p)
    p.chmod(0)
    r = checkpointd("--check-config", p)
    assert r.rc == EX_CONFIG
    assert f"{p}: cannot read: Permission denied" in lines(r.err)


# The daemon itself refuses to start on the invalid config, with the same messages.
@pytest.fixture(scope="module")
def start_bad(bad):
    return checkpointd("--config", bad[0])


def test_daemon_refuses_invalid_config(start_bad):
    assert start_bad.rc == EX_CONFIG


def test_daemon_prints_the_same_messages(w, bad, start_bad):
    def problems(t):
        return [l for l in lines(t) if l.startswith(f"{w}/etc/")]
    assert problems(start_bad.err) == problems(bad[3].err)


def test_daemon_says_it_is_not_starting(start_bad):
    assert "not starting" in start_bad.err


def test_print_reference_lists_config_and_calibration_keys():
    r = checkpointd("--print-reference")
    assert r.rc == 0
    assert re.search(r"^### \[thermal\]", r.out, re.M) and re.search(r"^### \[fit\]", r.out, re.M)


def test_version():
    r = checkpointd("--version")
    assert r.rc == 0 and re.match(r"[0-9]+\.[0-9]+\.[0-9]+", r.out), r.both


# Files on which toml++ aborts (an assertion; found by fuzzing) are reported, not fatal: the parse runs in a child.
@pytest.mark.parametrize("text", ["t=[}", "_=2121-11-20T:"])
def test_parser_crashing_file_is_reported(w, text):
    p = w / "crash.toml"
    p.write_text(text + "\n")
    r = checkpointd("--check-config", p)
    assert r.rc == EX_CONFIG and "crash.toml: not valid TOML" in r.err, r.err


def test_daemon_refuses_parser_crashing_file(w):
    p = w / "crash.toml"
    p.write_text("_=2121-11-20T:\n")
    r = checkpointd("--config", p, timeout=20)
    assert r.rc == EX_CONFIG and "not starting" in r.err, r.err
