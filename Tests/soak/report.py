#!/usr/bin/env python3
"""The soak's verdict from its samples, the kiosk's log and the receiver's database.

Usage: report.py SAMPLES_CSV KIOSK_LOG RECEIVER_DB WARMUP_S DURATION_S OUTAGES DAEMON_ALIVE FD_SLACK

Prints the summary table (| soak: … | value | unit |) and exits 1 when a record was lost or duplicated,
the receiver holds a record the kiosk was not confirmed, the daemon died, or the fd count grew (the last
sample, after the queue drained, above the first after warm-up by more than FD_SLACK).
"""
import csv
import json
import sqlite3
import sys

samples_path, kiosk_path, db_path = sys.argv[1:4]
warmup, duration, outages = float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
alive, fd_slack = sys.argv[7] == "yes", int(sys.argv[8])

rows = [dict((k, float(v)) for k, v in r.items() if v not in (None, "")) for r in csv.DictReader(open(samples_path))]
kiosk = [line.split() for line in open(kiosk_path) if line.strip()] if kiosk_path else []
confirmed = {parts[2]: parts[3] for parts in kiosk if parts[1] in ("201", "202") and parts[2] != "-"}
refused = [parts for parts in kiosk if parts[1] not in ("201", "202")]


def find(o, key):
    if isinstance(o, dict):
        if key in o:
            return o[key]
        for v in o.values():
            r = find(v, key)
            if r is not None:
                return r
    elif isinstance(o, list):
        for v in o:
            r = find(v, key)
            if r is not None:
                return r
    return None


db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
stored = {}
redeliveries = 0
phones = {}
for rid, blob, dups in db.execute("SELECT id, json, duplicates FROM received"):
    stored[rid.lower()] = blob
    redeliveries += dups
    phone = find(json.loads(blob), "phone")
    phones.setdefault(phone, []).append(rid)
lost = sorted(set(confirmed) - set(stored))
unconfirmed = sorted(set(stored) - set(confirmed))
duplicated = {p: ids for p, ids in phones.items() if len(ids) > 1}

steady = [r for r in rows if r["t_s"] >= warmup] or rows[-1:]
n = len(steady)


def rss_slope(part, key="rss_kb"):
    """Least-squares slope of `key` (KiB) in bytes/hour over the samples in `part` (nan with fewer than 3)."""
    part = [r for r in part if key in r]
    if len(part) < 3:
        return float("nan")
    ts = [r["t_s"] for r in part]
    ys = [r[key] * 1024 for r in part]
    mt, my = sum(ts) / len(part), sum(ys) / len(part)
    var = sum((t - mt) ** 2 for t in ts)
    return float("nan") if var <= 0 else sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / var * 3600


slope = rss_slope(steady)
# The second half alone: a heap that is still settling flattens there, a leak keeps its slope.
late = steady[n // 2:]
late_slope = rss_slope(late)

first, last = steady[0], rows[-1]
fd_grew = last["fds"] > first["fds"] + fd_slack
mb = lambda kb: f"{kb / 1024:.1f}"  # noqa: E731


def row(measure, value, unit=""):
    print(f"| soak: {measure} | {value} | {unit} |")


print("| measure | value | unit |")
print("|---|---|---|")
row("duration", f"{duration:.0f}", "s")
row("samples (every ~%.0f s; warm-up %.0f s)" % ((rows[-1]["t_s"] - rows[0]["t_s"]) / max(1, len(rows) - 1), warmup), len(rows), "samples")
row("receiver outages", outages)
row("declarations confirmed to the kiosk (201/202)", len(confirmed), "records")
row("declarations refused or failed at the kiosk", len(refused), "records")
row("records stored by the receiver", len(stored), "records")
row("records lost (confirmed, never received)", len(lost), "records")
row("records duplicated (one visitor stored twice)", sum(len(v) - 1 for v in duplicated.values()), "records")
row("records received but never confirmed to the kiosk", len(unconfirmed), "records")
row("redeliveries absorbed by the receiver (same Idempotency-Key)", redeliveries, "uploads")
row("queue depth max", f"{max(r['queue_pending'] for r in rows):.0f}", "records")
row("RSS after warm-up first / last / max", f"{mb(first['rss_kb'])} / {mb(last['rss_kb'])} / {mb(max(r['rss_kb'] for r in steady))}", "MB")
row("peak RSS (VmHWM)", mb(max(r["hwm_kb"] for r in rows)), "MB")
row(f"RSS slope (least squares over {n} samples after warm-up)", "n/a" if slope != slope else f"{slope:+.0f}", "bytes/hour")
row(f"RSS slope over the second half of those ({len(late)} samples)", "n/a" if late_slope != late_slope else f"{late_slope:+.0f}", "bytes/hour")
if all("rss_anon_kb" in r for r in steady):
    # Anonymous memory (heap, stacks) is where a leak shows; file-backed pages are library code paged in once.
    anon_slope, anon_late = rss_slope(steady, "rss_anon_kb"), rss_slope(late, "rss_anon_kb")
    row("anonymous RSS after warm-up first / last / max",
        f"{mb(first['rss_anon_kb'])} / {mb(last['rss_anon_kb'])} / {mb(max(r['rss_anon_kb'] for r in steady))}", "MB")
    row("anonymous RSS slope after warm-up / over the second half", "n/a" if anon_slope != anon_slope else
        f"{anon_slope:+.0f} / {anon_late:+.0f}", "bytes/hour")
    row("file-backed RSS after warm-up first / last", f"{mb(first['rss_file_kb'])} / {mb(last['rss_file_kb'])}", "MB")
row("fds after warm-up first / last / max", f"{first['fds']:.0f} / {last['fds']:.0f} / {max(r['fds'] for r in rows):.0f}", "fds")
row("threads first / last / max", f"{first['threads']:.0f} / {last['threads']:.0f} / {max(r['threads'] for r in rows):.0f}", "threads")
row("daemon alive at the end", "yes" if alive else "NO")

problems = []
if not alive:
    problems.append("the daemon died")
if not confirmed:
    problems.append("no declaration was confirmed (nothing was soaked)")
if lost:
    problems.append(f"{len(lost)} confirmed records never reached the receiver: {', '.join(lost[:5])}")
if duplicated:
    problems.append(f"{len(duplicated)} visitors stored more than once")
if unconfirmed:
    problems.append(f"{len(unconfirmed)} received records were never confirmed to the kiosk: {', '.join(unconfirmed[:5])}")
if fd_grew:
    problems.append(f"fd count grew from {first['fds']:.0f} to {last['fds']:.0f} (allowed +{fd_slack})")
for p in problems:
    print(f"soak FAILED: {p}")
if not problems:
    print("soak passed: no record lost or duplicated, daemon alive, fd count steady")
sys.exit(1 if problems else 0)
