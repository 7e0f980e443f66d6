"""PASS / FAIL lines for Tests/system/run.sh, one per test."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pytest_runtest_logreport(report):
    name = "kiosk-screen: " + report.nodeid.split("::")[-1]
    if report.when == "call":
        print(f"\n{'PASS' if report.passed else 'FAIL'} {name}", flush=True)
    elif report.failed:
        print(f"\nFAIL {name} ({report.when})", flush=True)
