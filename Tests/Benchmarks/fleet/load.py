#!/usr/bin/env python3
"""Load for the receiver: a day of a province's fleet replayed as fast as the receiver takes it.

Usage: load.py URL[,URL…] KIOSKS DECLARATIONS HEARTBEATS_PER_KIOSK FACE_BYTES WORKERS
Each kiosk's day (its declarations and its heartbeats, interleaved in time order) is sent by one of WORKERS threads
over keep-alive HTTP connections; with several URLs (receivers on one database) kiosk i uses URL i mod n, and every
tenth record is sent a second time to the other receiver (a retry after a lost answer). Prints one JSON line:
requests, records, heartbeats, seconds, requests per second, p50/p99/max latency in ms, errors.
"""
import http.client
import json
import random
import sys
import threading
import time
import uuid
from urllib.parse import urlparse

urls = sys.argv[1].split(",")
kiosks, decls, beats_each, face_bytes, workers = (int(a) for a in sys.argv[2:7])
face = bytes(random.getrandbits(8) for _ in range(min(face_bytes, 4096))) * (face_bytes // 4096 + 1)
face = face[:face_bytes]
B = "ckptbench"


def record(device, i):
    rid = str(uuid.uuid4())
    rec = {"id": rid, "checkpointId": "TN-%02d" % (hash(device) % 40), "deviceId": device, "softwareVersion": "bench", "faceCaptured": face_bytes > 0,
           "clock": {"wallTime": "2026-12-07T08:%02d:%02d.000Z" % (i // 60 % 60, i % 60), "clockSynced": True, "bootId": "b", "monotonicNanos": i},
           "screening": {"result": "normal", "rawTemperatureC": 34.1, "correctedTemperatureC": 36.6, "flags": []},
           "declaration": {"fullName": "Nguyen Van %d" % i, "birthYear": 1980, "gender": "Nam", "nation": "VN", "provinceId": "19",
                           "wardId": "05446", "address": "x", "phone": "0912345678", "hasPatient": 2, "hasFromSickCountry": 2,
                           "hasSick": 2, "consent": True, "source": "form"}}
    body = (f"--{B}\r\nContent-Disposition: form-data; name=\"record\"\r\nContent-Type: application/json\r\n\r\n").encode() + json.dumps(rec).encode()
    if face_bytes:
        body += (f"\r\n--{B}\r\nContent-Disposition: form-data; name=\"face\"; filename=\"face.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + face
    body += f"\r\n--{B}--\r\n".encode()
    return rid, body


def heartbeat(device, seq):
    return json.dumps({
        "deviceId": device, "checkpointId": "TN-01", "softwareVersion": "bench", "sentAt": "2026-12-07T08:00:00Z", "clockSynced": True,
        "bootId": "b", "sequence": seq, "reason": "interval", "changes": [], "uptimeSeconds": seq * 300.0,
        "health": {"overall": "ok", "stages": [{"name": "camera", "state": "ok"}, {"name": "thermal", "state": "ok"}]},
        "sensor": {"connected": True, "ambientC": 29.0, "warmUpRemainingSeconds": 0}, "calibration": {"id": "c", "ageDays": 30},
        "queue": {"depth": 0, "deadLetters": 0, "alert": False}, "freeDiskBytes": 10_000_000_000,
        "screenings": {"normal": 3, "elevated": 0, "invalid": 0}}).encode()


lat, errors, counts = [], [], {"records": 0, "heartbeats": 0, "retries": 0}
lock = threading.Lock()


def worker(mine):
    conns = {}

    def send(url, path, body, headers):
        u = urlparse(url)
        for attempt in range(2):
            c = conns.get(url) or http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            conns[url] = c
            t0 = time.perf_counter()
            try:
                c.request("POST", path, body=body, headers=headers)
                r = c.getresponse()
                r.read()
                dt = time.perf_counter() - t0
                with lock:
                    lat.append(dt)
                    if r.status not in (200, 201):
                        errors.append(r.status)
                return
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                c.close()
                conns.pop(url, None)
                if attempt:
                    with lock:
                        errors.append(str(e))

    for k in mine:
        device = "TN-K%03d" % k
        url = urls[k % len(urls)]
        events = [("d", i) for i in range(decls // kiosks + (1 if k < decls % kiosks else 0))] + [("h", i) for i in range(beats_each)]
        events.sort(key=lambda e: e[1] / (beats_each if e[0] == "h" else max(1, decls // kiosks)))
        for kind, i in events:
            if kind == "h":
                send(url, "/v1/heartbeats", heartbeat(device, i), {"Content-Type": "application/json"})
                with lock:
                    counts["heartbeats"] += 1
            else:
                rid, body = record(device, i)
                headers = {"Content-Type": f"multipart/form-data; boundary={B}", "Idempotency-Key": rid}
                send(url, "/v1/records", body, headers)
                with lock:
                    counts["records"] += 1
                if len(urls) > 1 and i % 10 == 0:
                    send(urls[(k + 1) % len(urls)], "/v1/records", body, headers)
                    with lock:
                        counts["retries"] += 1


t0 = time.perf_counter()
threads = [threading.Thread(target=worker, args=(list(range(w, kiosks, workers)),)) for w in range(workers)]
for t in threads:
    t.start()
for t in threads:
    t.join()
secs = time.perf_counter() - t0
lat.sort()
n = len(lat)
print(json.dumps({"requests": n, **counts, "seconds": round(secs, 2), "per_second": round(n / secs, 1),
                  "p50_ms": round(lat[n // 2] * 1000, 2), "p99_ms": round(lat[min(n - 1, int(n * 0.99))] * 1000, 2),
                  "max_ms": round(lat[-1] * 1000, 2), "errors": len(errors), "first_errors": errors[:5]}))
