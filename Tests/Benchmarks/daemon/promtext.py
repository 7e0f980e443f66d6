#!/usr/bin/env python3
"""Reads the daemon's GET /metrics (Prometheus text) over its API Unix socket with curl.

As a module: scrape(socket_path) -> {metric name: {label text: value}}; total(metrics, name) sums the label sets.
As a command: promtext.py SOCKET NAME... prints each metric's value (summed over its label sets; "nan" if absent).
"""
import math
import subprocess
import sys


def scrape(socket_path, timeout=5):
    out = subprocess.run(["curl", "-s", "-f", "--max-time", str(timeout), "--unix-socket", socket_path, "http://kiosk/metrics"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"GET /metrics on {socket_path} failed (curl exit {out.returncode})")
    return parse(out.stdout)


def parse(text):
    metrics = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        try:
            metrics.setdefault(name, {})[labels.rstrip("}")] = float(value)
        except ValueError:
            continue
    return metrics


def total(metrics, name):
    values = metrics.get(name)
    return sum(values.values()) if values else math.nan


def labelled(metrics, name, key):
    """{label value: sample value} for one label of a metric, e.g. labelled(m, "x_count", "result")."""
    out = {}
    for labels, v in metrics.get(name, {}).items():
        for part in labels.split(","):
            k, _, val = part.partition("=")
            if k == key:
                out[val.strip('"')] = v
    return out


if __name__ == "__main__":
    m = scrape(sys.argv[1])
    print(" ".join(f"{total(m, n):g}" for n in sys.argv[2:]))
