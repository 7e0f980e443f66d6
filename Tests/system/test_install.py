"""`make install DESTDIR=…` lays out binaries, units, udev rules, sysusers files, man pages and completions, the
installed config (no site settings: the daemon says what to set and exits 78), the examples under
/usr/share/doc/checkpointd/examples, empty drop-in and calibration-ready directories, no face model; and never
overwrites a file a technician has edited. Tests run in file order on one install."""
import filecmp
import os
import re

import pytest

from harness import BIN, MODEL_NAME, ROOT, SHARED, run

PROGRAMS = ["checkpointd", "checkpointctl", "checkpoint-receiver"]
CAL = re.search(r'(?m)^calibration = "(.*)"', (ROOT / "systemd/checkpointd.toml").read_text()).group(1)


def make_install(dest):
    return run("make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}", f"BINDIR_REL={BIN}", f"SHARED={SHARED}",
               timeout=900)


@pytest.fixture(scope="module")
def dest(stack):
    d = stack.work / "dest"
    r = make_install(d)
    assert r.rc == 0, r.err[-800:]
    return d


@pytest.mark.parametrize("f", [f"usr/bin/{p}" for p in PROGRAMS])
def test_installs_program(dest, f):
    assert os.access(dest / f, os.X_OK)


@pytest.mark.parametrize("f", ["lib/systemd/system/checkpointd.service", "lib/udev/rules.d/70-checkpointd.rules",
                               "etc/checkpointd/checkpointd.toml", "usr/share/doc/checkpointd/README.md",
                               "usr/lib/sysusers.d/checkpointd.conf"])
def test_installs_file(dest, f):
    assert (dest / f).is_file()


def test_examples_in_doc_examples(dest):
    have = set(os.listdir(dest / "usr/share/doc/checkpointd/examples"))
    want = {"gy-mcu90640.toml", "single-point.toml"} | ({"checkpointd.toml"} if (ROOT / "examples/checkpointd.toml").exists() else set())
    assert want <= have, sorted(have)


def test_etc_holds_the_config_and_the_named_calibration_only(dest):
    # Examples are documentation; the only live files under /etc/checkpointd are the installed config and the
    # calibration it names (the example, marked as one: screening refuses it until the kiosk is calibrated).
    etc = dest / "etc/checkpointd"
    live = sorted(str(p.relative_to(etc)) for p in etc.rglob("*") if p.is_file())
    assert live == sorted([CAL, "checkpointd.toml"]), live
    assert filecmp.cmp(etc / CAL, dest / "usr/share/checkpointd/calibration" / os.path.basename(CAL), shallow=False)
    ids = [l for l in (etc / CAL).read_text().splitlines() if re.match(r"(serial|id) *=", l)]
    assert any("example" in l.lower() for l in ids), ids


def test_empty_dropin_and_models_directories(dest):
    for d in ("etc/checkpointd/checkpointd.toml.d", "etc/checkpointd/calibration", "usr/share/checkpointd/models"):
        assert (dest / d).is_dir(), d
    assert os.listdir(dest / "etc/checkpointd/checkpointd.toml.d") == []
    assert os.listdir(dest / "usr/share/checkpointd/models") == [], "no face model: checkpointctl model install"


def test_installed_config_sets_no_identity_and_no_endpoint(dest):
    assert not re.search(r"(?m)^(checkpoint_id|device_id|endpoint) *=", (dest / "etc/checkpointd/checkpointd.toml").read_text())


def test_unconfigured_check_config_exits_78_with_one_line(dest):
    r = run(dest / "usr/bin/checkpointd", "--check-config", dest / "etc/checkpointd/checkpointd.toml")
    out = [l for l in r.both.splitlines() if l]
    assert r.rc == 78 and len(out) == 1, r.both
    assert "not configured" in out[0] and "kiosk.checkpoint_id" in out[0] and "upload.endpoint" in out[0], out


def test_man_pages_and_completions_0644(dest):
    lack = []
    for p in PROGRAMS:
        for g in (f"usr/share/man/man1/{p}.1", f"usr/share/bash-completion/completions/{p}",
                  f"usr/share/zsh/vendor-completions/_{p}", f"usr/share/fish/vendor_completions.d/{p}.fish"):
            f = dest / g
            if not (f.is_file() and f.stat().st_size > 0 and f.stat().st_mode & 0o777 == 0o644):
                lack.append(g)
    assert lack == []


def test_checkpointctl_man_page_documents_the_model_command(dest):
    t = (dest / "usr/share/man/man1/checkpointctl.1").read_text()
    assert re.search(r"(?m)^\.Sh NAME", t) and "model" in t, t[:200]


# checkpointctl model install, on this install (not configured yet: the model goes in before the site settings), to
# the [detector] model a drop-in names: a wrong file refused in one line with nothing written, the right one 0644.
@pytest.fixture(scope="module")
def model_dropin(dest):
    m = dest / "usr/share/checkpointd/models" / MODEL_NAME
    p = dest / "etc/checkpointd/checkpointd.toml.d/40-model.toml"
    p.write_text(f'[detector]\nmodel = "{m}"\n')
    yield m
    p.unlink()


def test_model_install_refuses_a_wrong_file(dest, model_dropin):
    wrong = dest / "not-yunet.onnx"
    wrong.write_bytes(os.urandom(345478))
    r = run(dest / "usr/bin/checkpointctl", "model", "install", "--config", dest / "etc/checkpointd/checkpointd.toml", wrong)
    err = [l for l in r.err.splitlines() if l]
    assert r.rc == 1 and len(err) == 1 and re.search("sha256.*not installed", err[0]), (r.rc, r.err)
    assert os.listdir(model_dropin.parent) == []


MODEL = SHARED / "models" / MODEL_NAME


@pytest.mark.skipif(not MODEL.is_file(), reason=f"no face model at {MODEL}: checked with a wrong file only")
def test_model_install_puts_yunet_where_the_dropin_says(dest, model_dropin):
    r = run(dest / "usr/bin/checkpointctl", "model", "install", "--config", dest / "etc/checkpointd/checkpointd.toml", MODEL)
    assert r.rc == 0, r.both
    assert filecmp.cmp(MODEL, model_dropin, shallow=False) and model_dropin.stat().st_mode & 0o777 == 0o644
    assert os.listdir(model_dropin.parent) == [MODEL_NAME]


@pytest.mark.skipif(not MODEL.is_file(), reason=f"no face model at {MODEL}")
def test_model_install_to_file_0644_whatever_the_umask(dest):
    old = os.umask(0o077)
    try:
        r = run(dest / "usr/bin/checkpointctl", "model", "install", "--to", dest / "elsewhere/yunet.onnx", MODEL)
    finally:
        os.umask(old)
    assert r.rc == 0, r.both
    assert (dest / "elsewhere/yunet.onnx").stat().st_mode & 0o777 == 0o644


# A technician's edits survive a reinstall.
@pytest.fixture(scope="module")
def reinstalled(dest, model_dropin):
    with open(dest / "etc/checkpointd/checkpointd.toml", "a") as f:
        f.write("# edited by a technician\n")
    with open(dest / "etc/checkpointd" / CAL, "a") as f:
        f.write("# edited\n")
    make_install(dest)
    return dest


def test_keeps_an_edited_config(reinstalled):
    assert "edited by a technician" in (reinstalled / "etc/checkpointd/checkpointd.toml").read_text()


def test_keeps_an_edited_calibration(reinstalled):
    assert "# edited" in (reinstalled / "etc/checkpointd" / CAL).read_text()
