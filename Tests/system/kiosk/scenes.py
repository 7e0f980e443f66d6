"""What the replayed camera shows, switched while the daemon runs.

The daemon's replay source lists its directory once but reads each file again every time it plays it, so
rewriting every file of the directory (atomically: write, then rename) changes the scene within one loop.
Camera(DIR, BOXES_JSON, PHOTOS).show(scene) writes a scene (Tests/system/test_kiosk_screen.py shows the empty
background before the daemon starts: it needs images at start).
Scenes: background; visitor (one face ~210 px wide, about 0.5 m); far (the same face scaled down to ~60 px, beyond
max_distance_m); close (~330 px, about 0.27 m: nearer than tracking.min_distance_m, 0.3 m, yet not as near as
detector.nearest_face_m, 0.25 m, under which the detector drops a box as frame-filling and false); blurry (the
visitor out of focus); two (two faces side by side); qr (a phone held up to the camera showing a QR code with `Camera.qr_payload`, drawn with segno through
Tests/system/qr/make_frames.py's `qr_modules`).
"""
import json
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qr"))
from make_frames import qr_modules  # noqa: E402

W, H = 640, 480
FRAMES = 10


def load_boxes(path):
    boxes = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            o = json.loads(line)
            if o.get("faces"):
                f = max(o["faces"], key=lambda f: f["w"] * f["h"])
                boxes[o["image"]] = (f["x"], f["y"], f["w"], f["h"])
    return boxes


def background():
    img = np.full((H, W, 3), (120, 130, 125), np.uint8)
    cv2.putText(img, "checkpointd kiosk test", (20, 460), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (200, 200, 200), 1)
    return img


def paste(frame, photo, box, face_w, cx, cy):
    img = cv2.imread(photo)
    x, y, w, h = box
    s = face_w / w
    img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    fx, fy = (x + w / 2) * s, (y + h / 2) * s
    ox, oy = int(round(cx - fx)), int(round(cy - fy))
    x0, y0 = max(0, ox), max(0, oy)
    x1, y1 = min(W, ox + img.shape[1]), min(H, oy + img.shape[0])
    frame[y0:y1, x0:x1] = img[y0 - oy:y1 - oy, x0 - ox:x1 - ox]


def paste_qr(frame, payload, cx, cy, module=5):
    """A phone (dark body, white screen) held up with the QR code of `payload`, centred at (cx, cy)."""
    modules, _ = qr_modules(payload)
    n = modules.shape[0]
    side, quiet, bezel = n * module, 4 * module, 14
    w, h = side + 2 * quiet + 2 * bezel, side + 2 * quiet + 2 * bezel + 60
    x0, y0 = int(cx - w / 2), int(cy - h / 2)
    cv2.rectangle(frame, (x0, y0), (x0 + w, y0 + h), (30, 30, 30), -1)
    cv2.rectangle(frame, (x0 + bezel, y0 + bezel), (x0 + w - bezel, y0 + h - bezel), (245, 245, 245), -1)
    sym = cv2.resize(modules, (side, side), interpolation=cv2.INTER_NEAREST).astype(bool)
    sx, sy = x0 + bezel + quiet, y0 + bezel + 30 + quiet
    patch = frame[sy:sy + side, sx:sx + side]
    patch[sym] = (35, 35, 35)


class Camera:
    def __init__(self, directory, boxes_path, photos):
        self.dir = directory
        self.boxes = load_boxes(boxes_path)
        self.photos = [p for p in photos if p in self.boxes]
        if len(self.photos) < 2:
            raise ValueError(f"scenes: need two photos with a detected face, got {self.photos}")
        self.current = None
        self.qr_payload = None

    def image(self, kind, k=0):
        frame = background()
        if kind == "visitor":
            p = self.photos[k % len(self.photos)]
            paste(frame, p, self.boxes[p], 210, 320, 250)
        elif kind == "far":
            p = self.photos[k % len(self.photos)]
            paste(frame, p, self.boxes[p], 60, 320, 250)
        elif kind == "close":
            p = self.photos[k % len(self.photos)]
            paste(frame, p, self.boxes[p], 330, 320, 240)
        elif kind == "blurry":
            p = self.photos[k % len(self.photos)]
            paste(frame, p, self.boxes[p], 210, 320, 250)
            frame = cv2.GaussianBlur(frame, (0, 0), 4)
        elif kind == "qr":
            paste_qr(frame, self.qr_payload, 320, 240)
        elif kind == "two":
            a, b = self.photos[0], self.photos[1]
            frame[:] = background()
            paste(frame, a, self.boxes[a], 150, 170, 240)
            paste(frame, b, self.boxes[b], 150, 470, 240)
        return frame

    def show(self, kind, k=0):
        img = self.image(kind, k)
        os.makedirs(self.dir, exist_ok=True)
        for i in range(FRAMES):
            tmp = os.path.join(self.dir, f".tmp-{i:05d}.jpg.part")
            ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            with open(tmp, "wb") as f:
                f.write(data.tobytes())
            os.replace(tmp, os.path.join(self.dir, f"frame-{i:05d}.jpg"))
        self.current = (kind, k)

