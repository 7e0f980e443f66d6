"""The optional kiosk-screen session (systemd/checkpoint-kiosk.service): `systemd-analyze verify`, it runs cage and
Chromium as the unprivileged user checkpoint-kiosk on a loopback URL with the kiosk flags, its sysusers file parses and
creates that user (into a scratch root, never this machine), and `make install` lays out the unit, the sysusers file
and /etc/default/checkpoint-kiosk without enabling anything and keeps an edited default file. Whether cage + Chromium
really show the page is not checked here (no display; see README "The kiosk screen")."""
import filecmp
import os
import re
import shutil

import pytest

from harness import BIN, ROOT, SHARED, run

UNIT = ROOT / "systemd/checkpoint-kiosk.service"
SYSUSERS = ROOT / "systemd/checkpoint-kiosk.sysusers"
DEFAULTS = ROOT / "systemd/checkpoint-kiosk.default"
UNIT_TEXT = UNIT.read_text()
# The effective command line (continuation lines joined).
CMD = re.search(r"(?m)^ExecStart=(.*)$", re.sub(r"\\\n", "", UNIT_TEXT)).group(1)
USER = (re.search(r"(?m)^User=(.*)$", UNIT_TEXT) or [None, ""])[1]


def test_unit_verifies(work):
    # verify needs ExecStart's program to exist (cage need not be installed here): point it at true(1).
    true = shutil.which("true")
    text = re.sub(r"(?m)^ExecStart=/usr/bin/cage", f"ExecStart={true}", UNIT_TEXT)
    assert f"\nExecStart={true} " in text, "ExecStart does not run /usr/bin/cage"
    (work / "checkpoint-kiosk.service").write_text(text)
    r = run("systemd-analyze", "verify", work / "checkpoint-kiosk.service")
    assert r.rc == 0, r.both


def test_cage_runs_chromium():
    assert CMD.startswith("/usr/bin/cage ") and " -- /usr/bin/chromium " in CMD, CMD


@pytest.mark.parametrize("flag", ["--kiosk", "--ozone-platform=wayland", "--disable-features=Translate",
                                  "--autoplay-policy=no-user-gesture-required", "--no-first-run", "--noerrdialogs",
                                  "--incognito", "--disable-pinch", "--overscroll-history-navigation=0", "--lang=vi",
                                  "--force-device-scale-factor=${KIOSK_SCALE}"])
def test_chromium_flag(flag):
    assert f" {flag} " in f" {CMD} ", CMD


def test_chromium_opens_kiosk_url_as_last_argument():
    # The page as a plain last argument: with --kiosk, --app= makes Chromium 156 under cage exit after ~1.5 s.
    assert CMD.endswith(" ${KIOSK_URL}"), CMD


def test_no_app_next_to_kiosk():
    assert "--app=" not in CMD, CMD


def test_runs_as_non_root():
    assert USER and USER not in ("root", "0"), USER


@pytest.mark.parametrize("directive", ["PAMName=login", "TTYPath=/dev/tty1", "StandardInput=tty", "UtmpIdentifier=tty1",
                                       "Conflicts=getty@tty1.service", "Restart=always", "NoNewPrivileges=yes",
                                       "EnvironmentFile=-/etc/default/checkpoint-kiosk"])
def test_has(directive):
    assert re.search(f"(?m)^{re.escape(directive)}", UNIT_TEXT)


def test_after_checkpointd_service():
    assert re.search(r"(?m)^After=.*checkpointd\.service", UNIT_TEXT)


# Chromium's sandbox needs user namespaces and V8 needs W+X memory: these would break the screen.
@pytest.mark.parametrize("directive", ["RestrictNamespaces=yes", "MemoryDenyWriteExecute=yes", "PrivateUsers=yes",
                                       "ProtectHome=yes", "PrivateDevices=yes"])
def test_has_no(directive):
    assert not re.search(f"(?m)^{re.escape(directive)}", UNIT_TEXT)


def setting(text, prefix):
    m = re.search(f"(?m)^{re.escape(prefix)}(.*)$", text)
    return m.group(1) if m else ""


def test_url_is_loopback_and_the_same_in_unit_and_default_file():
    u1, u2 = setting(UNIT_TEXT, "Environment=KIOSK_URL="), setting(DEFAULTS.read_text(), "KIOSK_URL=")
    loop = re.compile(r"http://(127\.0\.0\.1|localhost):[0-9]+/ui/")
    assert loop.fullmatch(u1) and loop.fullmatch(u2) and u1 == u2, (u1, u2)


def test_kiosk_scale_default_in_unit_and_default_file():
    s1, s2 = setting(UNIT_TEXT, "Environment=KIOSK_SCALE="), setting(DEFAULTS.read_text(), "KIOSK_SCALE=")
    assert re.fullmatch(r"[0-9]+(\.[0-9]+)?", s1) and s1 == s2 and float(s1) > 0, (s1, s2)


def test_default_file_states_the_density_rule():
    t = DEFAULTS.read_text()
    assert "108" in t and "ppi" in t and "15 mm" in t


def test_browser_check_uses_the_same_108_css_px_per_inch():
    assert re.search(r"(?m)^KIOSK_CSS_PPI_MAX = 108", (ROOT / "Tests/system/kiosk/browser.py").read_text())


def test_demo_config_tcp_port_is_the_urls():
    # The daemon's Host check admits 127.0.0.1:<port> and localhost:<port> only; the demo config uses that port.
    port = re.match(r"http://[^:]+:([0-9]+)/", setting(UNIT_TEXT, "Environment=KIOSK_URL=")).group(1)
    assert re.search(f"(?m)^tcp_port = {port}$", (ROOT / "systemd/checkpointd.demo.toml").read_text())


def test_sysusers_creates_the_user_with_its_groups(work):
    root = work / "root"
    (root / "etc").mkdir(parents=True)
    (root / "usr/lib/sysusers.d").mkdir(parents=True)
    shutil.copy(SYSUSERS, root / "usr/lib/sysusers.d/checkpoint-kiosk.conf")
    r = run("systemd-sysusers", f"--root={root}", "checkpoint-kiosk.conf")
    assert r.rc == 0, r.both
    pw = next((l for l in (root / "etc/passwd").read_text().splitlines() if l.startswith(f"{USER}:")), "")
    groups = [g for g in ("video", "render", "input", "audio")
              if re.search(rf"(?m)^{g}:[^:]*:[0-9]*:(.*,)?{re.escape(USER)}(,.*)?$", (root / "etc/group").read_text())]
    assert pw.endswith(":/usr/sbin/nologin") and int(pw.split(":")[2]) < 1000, pw
    assert groups == ["video", "render", "input", "audio"], groups


# make install: the three files, nothing enabled, an edited default file kept.
INSTALLED = ["lib/systemd/system/checkpoint-kiosk.service", "usr/lib/sysusers.d/checkpoint-kiosk.conf",
             "etc/default/checkpoint-kiosk"]


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    dest = tmp_path_factory.mktemp("kiosk-install") / "dest"
    r = make_install(dest)
    assert r.rc == 0, r.err[-600:]
    yield dest
    shutil.rmtree(dest.parent, ignore_errors=True)


def make_install(dest):
    return run("make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}", f"BINDIR_REL={BIN}", f"SHARED={SHARED}",
               timeout=600)


@pytest.mark.parametrize("path", INSTALLED)
def test_installs(dest, path):
    assert (dest / path).is_file()


def test_installed_unit_and_sysusers_file_are_the_trees(dest):
    assert filecmp.cmp(UNIT, dest / INSTALLED[0], shallow=False)
    assert filecmp.cmp(SYSUSERS, dest / INSTALLED[1], shallow=False)


def test_nothing_enabled(dest):
    found = [os.path.join(d, n) for d, dirs, files in os.walk(dest) for n in dirs + files
             if n.endswith((".wants", ".requires")) or os.path.islink(os.path.join(d, n))]
    assert found == []


def test_keeps_an_edited_default_file(dest):
    (dest / INSTALLED[2]).write_text("KIOSK_URL=http://127.0.0.1:9000/ui/  # edited\n")
    make_install(dest)
    assert "# edited" in (dest / INSTALLED[2]).read_text()
