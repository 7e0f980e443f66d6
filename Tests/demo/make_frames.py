#!/usr/bin/env python3
"""Builds the demo's replay frames from real face photographs.

Each visitor's photo is scaled so the face is about as wide as at kiosk distance (~0.5 m) and
centred in a 640x480 frame, where the simulated thermal sensor shows the warm face. Between
visitors the camera sees an empty background. Usage:
    make_frames.py OUTDIR FPS LEAD_S VISIT_S GAP_S BOXES_JSON PHOTO...
BOXES_JSON holds `checkpointctl detect --json` lines for the photos (face box per photo).
"""
import json
import sys

import cv2
import numpy as np

out, fps, lead, visit, gap, boxes_path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
photos = sys.argv[7:]
boxes = {}
for line in open(boxes_path):
    line = line.strip()
    if line.startswith("{"):
        o = json.loads(line)
        if o["faces"]:
            f = max(o["faces"], key=lambda f: f["w"] * f["h"])
            boxes[o["image"]] = (f["x"], f["y"], f["w"], f["h"])

W, H, FACE_W = 640, 480, 210
background = np.full((H, W, 3), (120, 130, 125), np.uint8)
cv2.putText(background, "checkpointd demo", (20, 460), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (200, 200, 200), 1)
n = 0


def emit(img, seconds):
    global n
    for _ in range(int(round(seconds * fps))):
        cv2.imwrite(f"{out}/frame-{n:05d}.jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        n += 1


emit(background, lead)
for p in photos:
    img = cv2.imread(p)
    if img is None or p not in boxes:
        sys.exit(f"make_frames: no face box for {p}")
    x, y, w, h = boxes[p]
    s = FACE_W / w
    img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    cx, cy = (x + w / 2) * s, (y + h / 2) * s
    frame = background.copy()
    # Paste so the face centre lands at (320, 250), where the simulator's warm face is.
    ox, oy = int(round(320 - cx)), int(round(250 - cy))
    x0, y0 = max(0, ox), max(0, oy)
    x1, y1 = min(W, ox + img.shape[1]), min(H, oy + img.shape[0])
    frame[y0:y1, x0:x1] = img[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    emit(frame, visit)
    emit(background, gap)
print(n)
