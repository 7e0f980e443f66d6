#!/usr/bin/env python3
"""The soak's kiosk front end: one declaration per visitor, for as long as the soak runs.

Usage: kiosk.py API_SOCKET SIM_FIFO LOG STOP_FILE

For each visitor it sets the face temperature the simulated sensor shows (a line on the simulator's stdin
FIFO, as the demo does; one visitor in seven has a fever), waits until the daemon shows a new screening
result (GET /v1/screening), and posts a health declaration bound to its screeningId (POST /v1/declarations, with an Idempotency-Key) whose phone number is
unique to the visitor, so the receiver's copy can be matched to it. Appends "unix_time status id phone" to
LOG per declaration (id "-" when none came back). Stops when STOP_FILE exists.
"""
import http.client
import json
import os
import socket
import sys
import time

api, fifo, log_path, stop = sys.argv[1:5]
temps = [35.9, 36.1, 35.7, 36.0, 35.8, 36.2, 37.9]


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("kiosk", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(method, url, body=None, key=None):
    conn = UnixConnection(api)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if key:
            headers["Idempotency-Key"] = key
        conn.request(method, url, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def screening():
    try:
        status, data = call("GET", "/v1/screening")
        o = json.loads(data) if status == 200 else {}
    except (OSError, ValueError, http.client.HTTPException):
        return None, None
    return o.get("state"), o.get("screeningId")


sim = open(fifo, "w", buffering=1)
log = open(log_path, "a", buffering=1)
last = None
k = 0
while not os.path.exists(stop):
    sim.write(f"face {temps[k % len(temps)]}\n")
    deadline = time.monotonic() + 15
    measured = None
    while time.monotonic() < deadline and not os.path.exists(stop):
        state, at = screening()
        if state == "result" and at and at != last:
            measured = at
            break
        time.sleep(0.1)
    if measured is None:
        continue
    last = measured
    phone = "09%08d" % k
    body = json.dumps({"fullName": f"Khách {k}", "birthYear": 1950 + k % 60, "gender": "Nam" if k % 2 == 0 else "Nu",
                       "nation": "VN", "provinceId": "19", "wardId": "05446",
                       "address": "Tổ 5, phường Quang Trung, TP Thái Nguyên", "phone": phone, "hasPatient": 2,
                       "hasFromSickCountry": 2, "hasSick": 2, "symptoms": [], "consent": True,
                       "screeningId": measured}, ensure_ascii=False)
    try:
        status, data = call("POST", "/v1/declarations", body.encode(), key=f"soak-{os.getpid()}-{k}")
        rid = json.loads(data).get("id", "-") if status in (201, 202) else "-"
    except (OSError, ValueError, http.client.HTTPException) as e:
        status, rid = f"error:{type(e).__name__}", "-"
    log.write(f"{int(time.time())} {status} {rid} {phone}\n")
    k += 1
