"""Fixtures and reporting for the host-side system tests (Tests/system/test_*.py), run by Tests/system/run.sh.

Fixtures: `work` (a fresh directory under /tmp, removed afterwards unless KEEP_WORK=1), `stack` (a module's
processes in its own work directory: receiver, simulator, daemon, notify sockets; see harness/stack.py),
`notify` (a NOTIFY_SOCKET in `work`), `browser` (headless Chromium through chromedriver).
Markers: slow (left out of `make check`), vm (boots QEMU), browser (drives Chromium).
Each test prints one "PASS <module>: <test>" / "FAIL …" line, which run.sh counts.
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import BIN, Stack  # noqa: E402
from harness.stack import NotifySocket  # noqa: E402


def pytest_configure(config):
    for m in ("slow: a long test, left out of make check's fast tier",
              "vm: boots a QEMU virtual machine",
              "browser: drives headless Chromium"):
        config.addinivalue_line("markers", m)


def _ours(report):
    return Path(str(report.fspath)).resolve().parent == HERE


def pytest_runtest_logreport(report):
    if not _ours(report):
        return
    module = Path(str(report.fspath)).stem.removeprefix("test_").replace("_", "-")
    name = f"{module}: {report.nodeid.split('::')[-1]}"
    if report.skipped and report.when in ("setup", "call"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        print(f"\nSKIP {name}: {reason}", flush=True)
    elif report.when == "call":
        print(f"\n{'PASS' if report.passed else 'FAIL'} {name}", flush=True)
    elif report.failed:
        print(f"\nFAIL {name} ({report.when})", flush=True)


def _mkwork(label):
    # Short paths under /tmp: a Unix socket's path must stay under 108 bytes wherever the clone lives.
    return Path(tempfile.mkdtemp(prefix=f"cpd-{label[:16]}.", dir="/tmp"))


def _rmwork(path):
    if os.environ.get("KEEP_WORK"):
        print(f"\nkept work directory {path}", flush=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


# Helper modules, not tests: kiosk/ (the screen's page, scenes and Chromium for test_kiosk_screen.py) and the harness.
collect_ignore = ["kiosk", "harness"]


@pytest.fixture(autouse=True)
def _need_bin(request):
    if Path(str(request.fspath)).resolve().parent == HERE and (BIN is None or not (BIN / "checkpointd").exists()):
        pytest.exit("BIN must point at the built binaries (checkpointd, checkpointctl, checkpoint-receiver)", 2)


@pytest.fixture
def work(request):
    """A fresh work directory for one test."""
    d = _mkwork(request.node.name.removeprefix("test_"))
    yield d
    _rmwork(d)


@pytest.fixture(scope="module")
def stack(request):
    """The module's processes and files, in one work directory; everything is stopped after the module's last test.
    Tests in a module run in file order and may build on the state earlier ones left (one daemon per module)."""
    d = _mkwork(Path(str(request.fspath)).stem.removeprefix("test_"))
    s = Stack(d)
    yield s
    s.close()
    _rmwork(d)


@pytest.fixture
def notify(work):
    """A NOTIFY_SOCKET in `work` (messages in order: notify.wait_for("READY=1"))."""
    s = NotifySocket(work / "notify.sock")
    yield s
    s.close()


@pytest.fixture(scope="module")
def browser(request, stack):
    """Headless Chromium (Debian's chromium + chromium-driver, python3-selenium), one per module; it accepts the
    module stack's test server certificate (the receiver over HTTPS), by its public key."""
    for f in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.access(f, os.X_OK):
            pytest.fail(f"{f} missing (make deps: chromium chromium-driver)")
    sys.path.insert(0, str(HERE / "kiosk"))
    import browser as chromium  # Tests/system/kiosk/browser.py: one way to start Chromium for every browser test
    d = _mkwork("browser")
    drv = chromium.start(str(d), spki=[stack.tls_spki()])
    yield drv
    drv.quit()
    _rmwork(d)
