#!/usr/bin/env python3
"""QR scanning in the running daemon (issue #16): face-detection rate with and without a scan stream open, and the
time from a readable QR in view to its fields on the kiosk screen.

Usage:
  qrbench.py fps URL WINDOW_S ROUNDS
  qrbench.py latency URL REPLAY_DIR N OUT_CSV

fps — from the daemon's own /metrics (checkpointd_detection_seconds_count, checkpointd_camera_frames_total,
  checkpointd_qr_frames_total): the detections per second over WINDOW_S with no scan stream, then WINDOW_S with one
  open (a bare SSE client on GET /v1/qr/events, so the daemon decodes every frame it can), ROUNDS times alternated in
  the same run. The daemon runs on the replayed visitors (faces to detect in most frames; the QR decoder finds no code
  in them, the cost it has on every frame while a person looks for their code).

latency — in headless Chromium: the page is fed a result (?no-events), "Scan your QR" is tapped (the page opens the
  real stream), then every file of the replay directory is rewritten with a phone showing a chip ID card's QR pasted
  into the same frame, starting at the file the replay plays about now (the daemon's camera frame count modulo the
  number of files: the replay plays them in order and loops, so that file is at or just behind the playhead, and the
  writer, ~1 ms a file, overtakes the playhead at once). The time runs from the start of that rewrite (time.time())
  to the page showing "check what was read" (a MutationObserver stamps performance.timeOrigin + performance.now():
  the same wall clock); it includes the replay reaching a rewritten file (≤ one frame period). The original files
  are restored and the scan restarted before each of N runs.

Prints markdown rows "| measure | value | unit |"; notes go to stderr.
"""
import http.client
import os
import re
import statistics
import sys
import threading
import time
from urllib.parse import urlparse

import cv2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "system", "kiosk"))
import browser as B  # noqa: E402
import page as P  # noqa: E402
from scenes import paste_qr  # noqa: E402

QR_CCCD = "079190004321|026111222|Lê Thị Thu Hằng|24061990|Nữ|Tổ 7, Phường Quang Trung, Thái Nguyên|05072022"

PROBE = r"""
(() => {
  const b = window.__qr = { confirmAt: [] };
  const watch = () => new MutationObserver(() => {
    const s = document.querySelector('#steps .step[data-step="qr-confirm"]');
    if (s && !s.dataset.stamped) { s.dataset.stamped = "1"; b.confirmAt.push(performance.timeOrigin + performance.now()); }
  }).observe(document.body, { childList: true, subtree: true });
  if (document.body) watch(); else document.addEventListener("DOMContentLoaded", watch);
})();
"""


def note(*a):
    print(*a, file=sys.stderr, flush=True)


def metrics(url):
    u = urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    def val(name):
        m = re.search(r"(?m)^" + re.escape(name) + r"(?:\{[^}]*\})? ([0-9.e+-]+)$", text)
        return float(m.group(1)) if m else 0.0
    return {"detections": val("checkpointd_detection_seconds_count"), "detect_s": val("checkpointd_detection_seconds_sum"),
            "frames": val("checkpointd_camera_frames_total"),
            "qr": val("checkpointd_qr_frames_total"), "dropped": val("checkpointd_qr_frames_dropped_total")}


class Scan(threading.Thread):
    """A bare client holding GET /v1/qr/events open (the daemon decodes while it is)."""

    def __init__(self, url):
        super().__init__(daemon=True)
        u = urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.opened = threading.Event()
        self.stop = False
        self.error = None

    def run(self):
        try:
            self.conn.request("GET", "/v1/qr/events", headers={"Accept": "text/event-stream"})
            r = self.conn.getresponse()
            if r.status != 200:
                raise RuntimeError(f"GET /v1/qr/events: {r.status}")
            self.opened.set()
            while not self.stop and r.readline():
                pass
        except Exception as e:  # noqa: BLE001
            self.error = e
            self.opened.set()

    def close(self):
        self.stop = True
        try:
            self.conn.sock.shutdown(2)
        except Exception:  # noqa: BLE001
            pass
        self.conn.close()


def window(url, seconds, scanning):
    scan = None
    if scanning:
        scan = Scan(url)
        scan.start()
        scan.opened.wait(10)
        if scan.error:
            raise SystemExit(f"qr bench: {scan.error}")
        time.sleep(1)
    a, t0 = metrics(url), time.monotonic()
    time.sleep(seconds)
    b, t1 = metrics(url), time.monotonic()
    if scan:
        scan.close()
        time.sleep(2)   # the daemon notices the closed stream at its next keepalive
    dt = t1 - t0
    r = {k: (b[k] - a[k]) / dt for k in a}
    r["detect_ms"] = 1000 * (b["detect_s"] - a["detect_s"]) / max(1, b["detections"] - a["detections"])
    return r


def fps(url, seconds, rounds):
    off, on = [], []
    for _ in range(rounds):
        off.append(window(url, seconds, False))
        on.append(window(url, seconds, True))
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    for name, rs in (("no scan stream", off), ("scan stream open", on)):
        note(f"qr bench: {name}: " + "; ".join(f"{r['detections']:.2f} det/s ({r['detect_ms']:.1f} ms each), {r['frames']:.2f} frames/s, "
                                               f"{r['qr']:.2f} decoded/s" for r in rs))
    d_off, d_on = med(off, "detections"), med(on, "detections")
    print(f"| qr: face detections/s, no scan stream (median of {rounds} × {seconds:.0f} s) | {d_off:.2f} | 1/s |")
    print(f"| qr: face detections/s, scan stream open (median of {rounds} × {seconds:.0f} s, same run, alternated) | {d_on:.2f} | 1/s |")
    print(f"| qr: face detection time per frame, mean, no stream / stream open | {med(off, 'detect_ms'):.1f} / {med(on, 'detect_ms'):.1f} | ms |")
    print(f"| qr: camera frames/s, no stream / stream open | {med(off, 'frames'):.2f} / {med(on, 'frames'):.2f} | 1/s |")
    print(f"| qr: frames QR-decoded/s while the stream is open (stale frames dropped: {med(on, 'dropped'):.2f}/s) | {med(on, 'qr'):.2f} | 1/s |")
    print(f"| qr: frames QR-decoded/s with no stream (target 0) | {med(off, 'qr'):.2f} | 1/s |")


def latency(url, replay_dir, n, out_csv):
    names = sorted(f for f in os.listdir(replay_dir) if not f.startswith("."))
    originals = {f: open(os.path.join(replay_dir, f), "rb").read() for f in names}
    with_qr = {}
    for f in names:
        img = cv2.imread(os.path.join(replay_dir, f))
        paste_qr(img, QR_CCCD, 150, 240)
        ok, data = cv2.imencode(os.path.splitext(f)[1] or ".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        with_qr[f] = data.tobytes()

    def rewrite(files, start=0):
        for f in names[start:] + names[:start]:
            tmp = os.path.join(replay_dir, "." + f + ".part")
            with open(tmp, "wb") as h:
                h.write(files[f])
            os.replace(tmp, os.path.join(replay_dir, f))

    d = B.start()
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
    rows = []
    try:
        B.viewport(d, "landscape")
        d.get(url + "/ui/?no-events")
        B.wait(d, "document.body.dataset.ready === 'true'", 20, "the page")
        d.execute_script("window.kiosk.feed(arguments[0])", {
            "seq": 1, "state": "result", "sensor": {"available": True, "warmUpRemainingSeconds": None}, "faces": 1, "reasons": [],
            "distanceM": 0.5, "progress": None, "screeningId": "00000000-0000-4000-8000-0000000000aa",
            "screening": {"result": "normal", "correctedTemperatureC": 36.6, "flags": [], "thresholdC": 37.5}})
        B.wait(d, "document.body.dataset.screen === 'result'", 10, "the result")
        P.tap(d, "#declare-qr")
        for i in range(n):
            B.wait(d, "document.body.dataset.qrScan === 'open'", 20, "the scan stream")
            time.sleep(1.0)
            before = d.execute_script("return window.__qr.confirmAt.length")
            start = int(metrics(url)["frames"]) % len(names)
            t0 = time.time()
            rewrite(with_qr, start)
            t1 = time.time()
            B.wait(d, f"window.__qr.confirmAt.length > {before}", 30, "the fields on screen")
            shown = d.execute_script("return window.__qr.confirmAt[window.__qr.confirmAt.length - 1]") / 1000
            rows.append((i, (shown - t0) * 1000, (t1 - t0) * 1000))
            rewrite(originals)
            time.sleep(0.5)
            P.tap(d, "#qr-again")
    finally:
        rewrite(originals)
        d.quit()
    with open(out_csv, "w") as f:
        f.write("run,qr_in_view_to_fields_ms,rewrite_ms\n")
        for r in rows:
            f.write(f"{r[0]},{r[1]:.1f},{r[2]:.1f}\n")
    ms = [r[1] for r in rows]
    w = [r[2] for r in rows]
    print(f"| qr: readable QR in view → fields on screen, median of {len(ms)} (from the start of the replay rewrite) | {statistics.median(ms):.0f} | ms |")
    print(f"| qr: readable QR in view → fields on screen, max of {len(ms)} | {max(ms):.0f} | ms |")
    print(f"| qr: of which rewriting the {len(names)} replay files, median | {statistics.median(w):.0f} | ms |")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "fps":
        fps(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
    elif mode == "latency":
        latency(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        raise SystemExit(__doc__)
