"""The short CI soak: Tests/soak/soak.py for SOAK_DURATION (default 60s) on the build in BIN, camera at SOAK_CAM_FPS
(default 5) fps, niced. Checks what its summary says: no record lost or duplicated, the daemon alive, fds reported,
both receiver outages survived, samples written. One soak run for the module; each check reads its output."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import ROOT, python

pytestmark = [pytest.mark.slow]

DURATION = os.environ.get("SOAK_DURATION") or "60s"


class Soak:
    def __init__(self, rc, out):
        self.rc, self.out = rc, out

    def val(self, prefix):
        """The value column of the summary row '| soak: PREFIX… | value | unit |' (None when missing)."""
        for line in self.out.splitlines():
            if line.startswith(f"| soak: {prefix}"):
                return line.split("|")[2].strip()
        return None

    def num(self, prefix):
        v = self.val(prefix)
        return int(v) if v is not None and re.fullmatch(r"[0-9]+", v) else None

    def why(self):
        return f"\n--- soak output\n{self.out}"


@pytest.fixture(scope="module")
def soak():
    env = dict(os.environ, DURATION=DURATION, CAM_FPS=os.environ.get("SOAK_CAM_FPS") or "5")
    p = subprocess.run(["nice", "-n", "5", python, str(ROOT / "Tests/soak/soak.py")], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    sys.stdout.write(p.stdout)
    return Soak(p.returncode, p.stdout)


def test_soak_exits_0(soak):
    bad = "\n".join(l for l in soak.out.splitlines() if re.search("FAILED|died|did not", l))[:600]
    assert soak.rc == 0, f"soak ({DURATION}) should exit 0, exited {soak.rc}: {bad}{soak.why()}"


def test_kiosk_got_declarations_confirmed(soak):
    confirmed = soak.num("declarations confirmed")
    print(f"kiosk got {confirmed} declarations confirmed")
    assert confirmed is not None and confirmed >= 3, \
        f"the kiosk should get at least 3 declarations confirmed, got {confirmed}{soak.why()}"


def test_receiver_stored_every_confirmed_record(soak):
    confirmed, stored, lost = soak.num("declarations confirmed"), soak.num("records stored"), soak.num("records lost")
    print(f"receiver stored {stored} of {confirmed} confirmed records, {lost} lost")
    assert lost == 0 and stored is not None and stored == confirmed, \
        f"no record lost: confirmed {confirmed}, stored {stored}, lost {lost}{soak.why()}"


def test_no_record_duplicated_or_unconfirmed(soak):
    dup, unconf = soak.num("records duplicated"), soak.num("records received but never")
    assert dup == 0 and unconf == 0, f"no record duplicated or unconfirmed: duplicated {dup}, unconfirmed {unconf}" \
                                     f"{soak.why()}"


def test_two_receiver_outages_survived(soak):
    outages = soak.val("receiver outages")
    print(f"receiver outages: {outages}")
    assert outages is not None and outages.startswith("2"), f"two receiver outages, the summary says {outages}" \
                                                            f"{soak.why()}"


def test_daemon_alive_at_the_end(soak):
    alive = soak.val("daemon alive")
    assert alive == "yes", f"the daemon should be alive at the end, the summary says {alive}{soak.why()}"


def test_fd_count_reported(soak):
    fds = soak.val("fds after warm-up")
    print(f"fds after warm-up first / last / max: {fds}")
    assert fds, f"the summary should report the fd count after warm-up{soak.why()}"


def test_samples_written(soak):
    m = re.search(r"/[^ ]*/\.build/soak/soak-[0-9TZ]*\.csv", soak.out)
    assert m, f"the soak should name its samples file{soak.why()}"
    rows = len(Path(m.group(0)).read_text().splitlines())
    print(f"samples written: {rows - 1} rows in {m.group(0)}")
    assert rows >= 5, f"at least 4 samples in {m.group(0)}, found {rows - 1}{soak.why()}"
