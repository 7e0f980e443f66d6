#!/usr/bin/python3
"""checkpointd end to end on one machine (`make demo`):
  - replayed camera frames with real face photographs (masked and unmasked), 5 visitors;
  - the GY-MCU90640 sensor simulator on a pseudo-terminal, showing each visitor's warm face;
  - the real daemon with its SQLite queue and local API socket;
  - the reference receiver over HTTPS (certificates made here with openssl) on 127.0.0.1;
  - a scripted kiosk front end posting one declaration per visitor over the API socket.
Visitor 2 has a fever; the link to the receiver goes down for visitors 3 and 4 and comes back.
The launch code (photos, frames, TLS, receiver, simulator, daemon, API) is the system tests' harness
(Tests/system/harness), shared with the soak and the daemon benchmark.

Environment: BIN (the built binaries, required), SHARED (fixtures; default ../shared), DEMO_SCREENS=0 (no
screenshots of the kiosk screen). Exits 0 when the receiver stored every declaration, the queue drained, every
visitor's declaration was bound to their own screening, and every stored record matches the upload contract.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "system"))
if not os.environ.get("BIN"):
    sys.exit("BIN must point at the built binaries")
os.environ.setdefault("SHARED", str(ROOT.parent / "shared"))

from harness import SHARED, MODEL_NAME, Stack, demo_assets, free_port, python, wait_until  # noqa: E402
from harness.contract import contract  # noqa: E402

FPS, LEAD, VISIT, GAP = 5, 5, 7, 3
# Skin temperatures the sensor sees per visitor; the calibration adds 0.9 °C skin-to-body.
TEMPS = ["35.9", "37.9", "35.8", "36.0", "35.7"]
NAMES = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung", "Hoàng Văn Em"]
SCREENS_DIR = ROOT / ".build" / "demo-screens"
START = time.monotonic()


def say(msg):
    print("[%5.1fs] %s" % (time.monotonic() - START, msg), flush=True)


def screens_possible():
    if not (os.access("/usr/bin/chromium", os.X_OK) and os.access("/usr/bin/chromedriver", os.X_OK)):
        return False
    return subprocess.run([python, "-c", "import selenium"], capture_output=True).returncode == 0


def follow_log(path, stop, pattern=re.compile(r"screening (normal|elevated|invalid)|upload failed|dead letter")):
    """Prints the daemon's log lines about screenings and uploads as they come (tail -f | grep)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        buf = ""
        while True:
            chunk = f.readline()
            if chunk:
                buf += chunk
                if not buf.endswith("\n"):
                    continue
                line, buf = buf.rstrip("\n"), ""
                if pattern.search(line):
                    print(re.sub(r"^<[0-9]>", "           daemon: ", line), flush=True)
            elif stop.is_set():
                return
            else:
                time.sleep(0.1)


def main():
    work = Path(tempfile.mkdtemp(prefix="checkpointd-demo.", dir="/tmp"))
    stack = Stack(work)
    stop_follow = threading.Event()
    try:
        return run(stack, work, stop_follow)
    finally:
        stop_follow.set()
        stack.close()


def run(stack, D, stop_follow):
    # --- faces: ../shared when present, otherwise photographs from Debian packages -------------
    stack.photos()
    if not stack.model():
        print(f"note: no YuNet model at {SHARED}/models/{MODEL_NAME}; the daemon falls back to Haar "
              "(blind to masked faces)", flush=True)
    nframes = stack.frames("frames", FPS, LEAD, VISIT, GAP)

    # --- TLS for the receiver: a throwaway CA and a server certificate for 127.0.0.1 -------------
    port = stack.tls()

    # --- the kiosk screen: when headless Chromium can be driven (make deps), the daemon also serves ui/ on a free
    # loopback port and Tests/demo/screens.py photographs each step a visitor sees (DEMO_SCREENS=0: not at all) ----
    tcp_port = 0
    if os.environ.get("DEMO_SCREENS", "1") != "0":
        if screens_possible():
            tcp_port = free_port()
            for png in SCREENS_DIR.glob("*.png"):
                png.unlink()
        else:
            print("note: no chromium, chromium-driver or python3-selenium (make deps): the kiosk screen is not shown",
                  flush=True)

    # --- calibration (identity fit, 0.9 °C skin-to-body) and config ------------------------------
    config = stack.config(tcp_port=tcp_port)
    rc, out = stack.check_config(config)  # the simulator starts below
    print(out, end="", flush=True)
    if rc != 0:
        return rc

    # --- start: receiver, sensor simulator, daemon -------------------------------------------
    receiver = stack.receiver()
    say(f"receiver: HTTPS on 127.0.0.1:{port} (CA {D}/ca.pem)")
    sim = stack.simulator("--no-face", "--ambient-c", "27", fifo="sim.in")
    say(f"sensor simulator: {sim.printed_path()} -> {D}/thermal-pty")
    daemon = stack.daemon(config)

    def health():
        return daemon.api("/healthz", timeout=30).json()
    say(f"daemon: ready, replaying {nframes} frames at {FPS} fps (detector {health().get('stage.detector', '?')})")
    screens = None
    if tcp_port:
        SCREENS_DIR.mkdir(parents=True, exist_ok=True)
        with open(D / "screens.out", "wb") as out:
            screens = stack.spawn([python, ROOT / "Tests/demo/screens.py", f"http://127.0.0.1:{tcp_port}", SCREENS_DIR,
                                   60], D / "screens.log", stdout=out)
        say(f"kiosk screen: http://127.0.0.1:{tcp_port}/ui/ (while the demo runs; headless Chromium photographs it "
            f"to {SCREENS_DIR})")
    threading.Thread(target=follow_log, args=(daemon.log, stop_follow), daemon=True).start()

    shown = {"delivered": "0", "pending": "0"}

    def show_uploads():
        h = health()
        d, p = str(h.get("upload.delivered", "0")), str(h.get("queue.pending", "0"))
        if (d, p) != (shown["delivered"], shown["pending"]):
            say(f"uploads: {d} delivered to the province receiver, {p} pending")
            shown.update(delivered=d, pending=p)

    def screening():
        o = daemon.api("/v1/screening", timeout=30).json()
        return o["state"], o.get("screeningId") or "-"

    def wait_result(last, timeout=60):
        """Waits for a screening result other than the one with id `last`; returns its screeningId (what the kiosk
        sends with that person's declaration; the last one seen when none comes)."""
        seen = {"sid": "-"}

        def new_result():
            state, sid = screening()
            seen["sid"] = sid
            return state == "result" and sid not in (last, "-")
        wait_until(new_result, timeout)
        return seen["sid"]

    screened = elevated = unbound = 0
    last_result = ""
    # The kiosk front end: for each visitor, wait until the daemon shows a new screening result for the
    # person in front of the camera, then post their declaration with that result's screeningId (the daemon
    # binds exactly that screening to it; a declaration without one gets none). Each POST carries an
    # Idempotency-Key, as the screen sends it, so a retried POST cannot store the declaration twice.
    for k, temp in enumerate(TEMPS):
        # The sensor sees the next visitor's face temperature from now on; the camera shows them after the gap.
        sim.send(f"face {temp}")
        if k == 2:
            receiver.stop()
            say("--- network outage: the receiver is down; declarations are buffered in the queue ---")
        last_result = wait_result(last_result)
        body = demo_assets.declaration_json(NAMES[k], k, "", last_result)
        r = daemon.api("/v1/declarations", body=body.encode(), timeout=60,
                       headers={"Content-Type": "application/json", "Idempotency-Key": f"demo-{os.getpid()}-{k}"})
        try:
            o = r.json()
            s = o.get("screening", {})
            t = s.get("correctedTemperatureC")
            msg = f'{s.get("result")} {t:.1f} °C' if t is not None else \
                f'{s.get("result")} ({", ".join(s.get("flags", []))})'
            if s.get("result") == "elevated":
                msg += " -> secondary check with a clinical thermometer"
            line = f'record {o.get("shortCode", "?")}: {msg}'
        except (ValueError, AttributeError) as e:
            line = f"no record ({type(e).__name__}: {r.text[:200]})"
        say(f"visitor {k + 1} (skin {temp} °C): declaration {r.status}, {line}")
        screened += 1
        elevated += "elevated" in line
        unbound += "unavailable" in line
        show_uploads()
        if k == 3:
            receiver = stack.receiver()
            say("--- network back: the receiver is up again; the backlog drains ---")

    # The screen's own declaration (screens.py fills one in on the page after the visitors' steps): wait for it.
    page_declared = 0
    if screens:
        wait_until(lambda: not screens.alive(), 120)
        declared = [ln[len("declared: "):] for ln in screens.text().splitlines() if ln.startswith("declared: ")]
        page_declared = len(declared)
        if declared:
            say(f"kiosk screen: one declaration typed on the screen ({declared[0]}, screening unavailable: a fed "
                "result)")
    p = "?"
    for _ in range(150):
        show_uploads()
        p = str(health().get("queue.pending", "?"))
        if p == "0":
            break
        time.sleep(1)
    got = receiver.count()
    if screens:
        wait_until(lambda: not screens.alive(), 10)
        screens.stop()
        shots = (D / "screens.out").read_text().splitlines()
        say(f"kiosk screen: {len(shots)} screenshots of the steps a visitor sees:")
        for s in shots:
            print("           " + s)
        for s in screens.text().splitlines()[-5:]:
            print("           screens: " + s)
        sys.stdout.flush()
    say(f"summary: screened {screened} (+ {page_declared} declared on the screen), elevated {elevated}, without their "
        f"own screening {unbound}, uploaded {got} (receiver count, deduplicated), pending {p}")
    # Every record the receiver stored, validated against the upload contract (openapi.yaml's Record schema).
    contract_ok, out = contract(D / "receiver.sqlite")
    if contract_ok:
        say(out.splitlines()[-1])
    else:
        say("contract: FAILED")
        print("\n".join(out.splitlines()[:20]), flush=True)
    daemon.terminate()
    say(f"daemon stopped; its log: {D}/daemon.log")
    return 0 if got == screened + page_declared and p == "0" and unbound == 0 and contract_ok else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
