#!/usr/bin/env python3
"""`make demo`'s kiosk screen: headless Chromium on the daemon's page, a screenshot of each step a visitor sees.

Usage: screens.py URL OUT_DIR TIMEOUT_S

Runs beside the demo (which drives the visitors and posts their declarations over the API socket) and only looks:
it waits for each step on the real page, fed by the daemon's event stream, and saves OUT_DIR/NN-step.png:
idle, face-seen prompt, measuring, a normal result, one declaration step (the first visitor's name typed on the
on-screen keyboard, then "cancel": the page sends nothing, the demo posts that visitor's declaration itself), an
elevated result. A step whose state changed while it was being photographed is taken again at the next visitor.
Prints one line per saved file; exits 0 when every step was saved, 1 when some were not (within TIMEOUT_S).
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system", "kiosk"))
import browser as B  # noqa: E402
import page as P  # noqa: E402

url, out, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))   # the demo stops us: close the browser on the way out

STATUS = "return [document.body.dataset.screen, document.getElementById('status').dataset.kind, document.body.dataset.mode || 'follow']"
# (file name, status kind to wait for)
STEPS = [("01-idle", "idle"), ("02-face-seen", "face-seen"), ("03-measuring", "measuring"), ("04-result-normal", "normal"),
         ("05-declaration-name", "declare"), ("06-result-elevated", "elevated")]

os.makedirs(out, exist_ok=True)
saved = {}
d = B.start()
try:
    B.viewport(d, "landscape")
    d.get(url + "/ui/")
    B.wait(d, "document.body.dataset.ready === 'true'", 20, "the page to start")
    end = time.monotonic() + timeout
    while time.monotonic() < end and len(saved) < len(STEPS):
        screen, kind, mode = d.execute_script(STATUS)
        for name, want in STEPS:
            if name in saved or kind != want or want == "declare":
                continue
            path = B.shot(d, out, name)
            if d.execute_script(STATUS)[1] != want:
                os.remove(path)                   # the state moved on while the shot was taken: next visitor
                break
            saved[name] = path
            print(path, flush=True)
            if name == "04-result-normal" and "05-declaration-name" not in saved:
                # One declaration step: the person taps "Health declaration" and types a name; then cancels.
                P.tap(d, "#declare")
                B.wait(d, "document.querySelector('#steps .step')", 5, "the declaration form")
                P.type_keys(d, "Nguyeenx Vawn An")
                path = B.shot(d, out, "05-declaration-name")
                saved["05-declaration-name"] = path
                print(path, flush=True)
                P.tap(d, "#form-cancel")
                B.wait(d, "document.body.dataset.mode === 'follow'", 5, "back to the screen")
            break
        time.sleep(0.05)
finally:
    d.quit()
missing = [n for n, _ in STEPS if n not in saved]
if missing:
    print("not captured: " + ", ".join(missing), file=sys.stderr)
sys.exit(1 if missing else 0)
