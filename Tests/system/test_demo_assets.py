"""The harness's files, which the demo, the soak, the benchmarks and every test start from (harness/demo_assets.py):
the config edits give what GNU sed gives for the same s commands, the demo config points everything into the work
directory and at the receiver over verified HTTPS and passes the daemon's own check, and the throwaway certificate
verifies for 127.0.0.1 against its CA."""
import re
import subprocess

import pytest

from harness import ROOT, Stack, demo_assets

TEMPLATE = (ROOT / "systemd/checkpointd.demo.toml").read_text()
EDITS = {
    "global path replacement and a newline added": ["s#/tmp/checkpointd-demo#/tmp/w x#g",
                                                    's#^allow_insecure_http = .*#allow_insecure_http = false\\nca_file = "/c.pem"#'],
    "the matched text (&) kept, lines appended": ['s|^endpoint = .*|&\\nclient_cert = "/a.pem"\\nclient_key = "/b"|'],
    "a commented-out key set": ['s|^# socket_group = .*|socket_group = "adm"|'],
    "groups and a bracket expression": ['s/^frame_rate_hz = \\([0-9.]*\\).*/frame_rate_hz = \\1/', 's/[^a-z =]/_/g'],
    "BRE: ( ) + ? | are literal": ['s/(x)/Y/', 's/a+b/X/', 's/= 0o660|x/= 0o640/'],
    "set={...} with an ampersand and a backslash": demo_assets.set_exprs({"device_id": '"a&b\\\\c"', "fps": 30}),
}


@pytest.mark.parametrize("exprs", list(EDITS.values()), ids=list(EDITS))
def test_config_edits_match_gnu_sed(exprs):
    args = [a for e in exprs for a in ("-e", e)]
    want = subprocess.run(["sed", *args], input=TEMPLATE, capture_output=True, text=True, check=True).stdout
    got = demo_assets.sed(TEMPLATE, exprs)
    assert got == want, f"sed {exprs}: the harness's edit differs from GNU sed's: " + \
        "; ".join(f"{a!r} vs {b!r}" for a, b in zip(got.splitlines(), want.splitlines()) if a != b)[:600]


def test_demo_config_points_into_the_work_directory(work):
    s = Stack(work)
    try:
        cfg = s.config(tcp_port=12345).read_text()
    finally:
        s.close()
    assert "/tmp/checkpointd-demo" not in cfg, "no path of the template's /tmp/checkpointd-demo may stay"
    for line in (f'endpoint = "https://127.0.0.1:{s.port}/v1/records"', "allow_insecure_http = false",
                 f'ca_file = "{work}/ca.pem"', f'calibration = "{work}/calibration.toml"', "tcp_port = 12345",
                 f'dir = "{ROOT}/ui"', 'level = "info"', f'socket = "{work}/api.sock"'):
        assert re.search(f"(?m)^{re.escape(line)}$", cfg), f"the demo config should have the line `{line}`"


def test_demo_config_passes_the_daemons_check(work):
    s = Stack(work)
    try:
        rc, out = s.check_config(s.config())
    finally:
        s.close()
    assert rc == 0, f"checkpointd --check-config should accept the demo config, exit {rc}: {out}"
    print(out.strip())


def test_certificate_verifies_for_127_0_0_1(work):
    demo_assets.tls(work)
    p = subprocess.run(["openssl", "verify", "-CAfile", work / "ca.pem", "-verify_ip", "127.0.0.1", work / "server.pem"],
                       capture_output=True, text=True)
    assert p.returncode == 0, f"server.pem should verify for 127.0.0.1 against ca.pem: {p.stdout}{p.stderr}"
