#!/usr/bin/python3
"""Builds the benchmark's 640x480 frames: each fixture photo letterboxed onto a grey 640x480 canvas.
usage: frames.py OUTDIR PHOTO..."""
import os, sys
import cv2
import numpy as np

out = sys.argv[1]
for p in sys.argv[2:]:
    img = cv2.imread(p, cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    s = min(640 / w, 480 / h)
    img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 118, np.uint8)
    y, x = (480 - img.shape[0]) // 2, (640 - img.shape[1]) // 2
    canvas[y:y + img.shape[0], x:x + img.shape[1]] = img
    cv2.imwrite(os.path.join(out, os.path.splitext(os.path.basename(p))[0] + ".png"), canvas)
