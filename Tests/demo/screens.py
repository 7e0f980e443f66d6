#!/usr/bin/env python3
"""`make demo`'s kiosk screen: headless Chromium on the daemon's page, a screenshot of each step a visitor sees.

Usage: screens.py URL OUT_DIR TIMEOUT_S

Runs beside the demo (which drives the visitors and posts their declarations over the API socket) and only looks:
it waits for each step on the real page, fed by the daemon's event stream, and saves OUT_DIR/NN-step.png:
idle, face-seen prompt, measuring, a normal result, one declaration step (the first visitor's name typed on the
on-screen keyboard, then "cancel": the page sends nothing, the demo posts that visitor's declaration itself), an
elevated result. A step whose state changed while it was being photographed is taken again at the next visitor.

Then the steps the demo's visitors do not produce, on a page that does not follow the daemon (`?no-events`) and is
fed the views instead: the sensor warming up, an invalid reading (hat or glasses), and one whole declaration filled
in on the screen (keyboard, pickers, consent) and sent to the real daemon: "declaration saved" with its short code.
The demo's front end posts every visitor's declaration with their screening, so this one goes with a fed screening
id that the daemon never issued: it is stored with screening `unavailable`, and the done screen says so. It prints
"declared: CODE" on stderr (the demo counts that record).

Prints one line per saved file; exits 0 when every step was saved, 1 when some were not (live steps within TIMEOUT_S).
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
FED = ["07-warming-up", "08-result-invalid", "09-declaration-consent", "10-done"]
PERSON = dict(
    name_keys="Nguyeenx Vawn Hoaf", fullName="Nguyễn Văn Hoà", birthYear="1985", gender="Nam", nation="VN",
    province_filter="thai ng", provinceId="19", ward_filter="phan dinh", wardId="05443",
    address_keys="Toor 5 phuwowngf Phan Ddinhf Phungf", address="Tổ 5 phường Phan Đình Phùng",
    phone="0912345678", hasPatient=2, hasFromSickCountry=2, hasSick=2, symptoms=[],
)
BASE = {"seq": 1, "state": "idle", "sensor": {"available": True, "warmUpRemainingSeconds": None}, "faces": 0, "reasons": [],
        "distanceM": None, "progress": None, "screeningId": None, "screening": None, "personInView": None, "publishedAtMs": None}


def fed_steps(d):
    """The steps the demo does not produce, on a fed page; the declaration goes to the real daemon."""
    d.get(url + "/ui/?no-events")
    B.wait(d, "document.body.dataset.ready === 'true'", 20, "the fed page to start")
    feed = lambda v: d.execute_script("window.kiosk.feed(arguments[0])", dict(BASE, **v))
    feed({"seq": 2, "state": "warming-up", "sensor": {"available": True, "warmUpRemainingSeconds": 754}})
    B.wait(d, "document.body.dataset.screen === 'warming-up'", 5, "warming-up")
    yield "07-warming-up"
    feed({"seq": 3, "state": "result", "faces": 1, "screeningId": "00000000-0000-4000-8000-0000000000d1", "personInView": True,
          "screening": {"result": "invalid", "correctedTemperatureC": None, "flags": ["implausible_low"], "thresholdC": 37.5}})
    B.wait(d, "document.body.dataset.screen === 'result'", 5, "the invalid result")
    yield "08-result-invalid"
    feed({"seq": 4, "state": "result", "faces": 1, "screeningId": "00000000-0000-4000-8000-0000000000d2", "personInView": True,
          "screening": {"result": "normal", "correctedTemperatureC": 36.6, "flags": [], "thresholdC": 37.5}})
    B.wait(d, "document.getElementById('result-card').dataset.screeningId === '00000000-0000-4000-8000-0000000000d2'", 5, "the result")
    P.tap(d, "#declare")
    P.fill_declaration(d, PERSON)
    P.tap(d, '.toggle[data-field="consent"]')
    yield "09-declaration-consent"
    P.tap(d, "#form-next")
    B.wait(d, "document.body.dataset.screen === 'done'", 30, "declaration saved")
    print("declared: " + d.execute_script("return document.getElementById('short-code').textContent"), file=sys.stderr, flush=True)
    yield "10-done"

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
    for name in fed_steps(d):
        saved[name] = B.shot(d, out, name)
        print(saved[name], flush=True)
finally:
    d.quit()
missing = [n for n, _ in STEPS if n not in saved] + [n for n in FED if n not in saved]
if missing:
    print("not captured: " + ", ".join(missing), file=sys.stderr)
sys.exit(1 if missing else 0)
