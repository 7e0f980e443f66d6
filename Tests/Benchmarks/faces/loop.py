#!/usr/bin/python3
"""Python OpenCV reference loop for the faces benchmark (same frames, resize, detector settings as loop.cpp).
usage: loop.py MODEL WxH THREADS REPEAT FRAME...  -> prints 'mean-over-frames-of-fastest-ms faces-in-one-pass'"""
import sys, time
import cv2

model, size, threads, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
dw, dh = (int(v) for v in size.split("x"))
cv2.setNumThreads(threads)
frames = [cv2.imread(p, cv2.IMREAD_COLOR) for p in sys.argv[5:]]
det = cv2.FaceDetectorYN.create(model, "", (dw, dh), 0.75, 0.3, 50)
ms, faces = [[] for _ in frames], 0
current = (dw, dh)
for r in range(-1, repeat):
    for i, f in enumerate(frames):
        t0 = time.perf_counter()
        h, w = f.shape[:2]
        s = min(1.0, dw / w, dh / h)
        img = cv2.resize(f, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1.0 else f
        if (img.shape[1], img.shape[0]) != current:  # setInputSize regenerates priors: only on change
            current = (img.shape[1], img.shape[0])
            det.setInputSize(current)
        _, out = det.detect(img)
        t1 = time.perf_counter()
        if r >= 0:
            ms[i].append((t1 - t0) * 1000)
        if r == 0:
            faces += 0 if out is None else len(out)
best = [min(v) for v in ms]
print(f"{sum(best) / len(best):.4f} {faces}")
