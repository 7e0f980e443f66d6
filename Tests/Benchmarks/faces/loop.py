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


def detect(f):
    global current
    h, w = f.shape[:2]
    s = min(1.0, dw / w, dh / h)
    img = cv2.resize(f, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1.0 else f
    if (img.shape[1], img.shape[0]) != current:  # setInputSize regenerates priors: only on change
        current = (img.shape[1], img.shape[0])
        det.setInputSize(current)
    return det.detect(img)[1]


for f in frames:  # one warm-up pass
    detect(f)
# Same order as `checkpointctl detect --repeat`: each frame `repeat` times in a row.
for i, f in enumerate(frames):
    for r in range(repeat):
        t0 = time.perf_counter()
        out = detect(f)
        ms[i].append((time.perf_counter() - t0) * 1000)
        if r == 0:
            faces += 0 if out is None else len(out)
best = [min(v) for v in ms]
print(f"{sum(best) / len(best):.4f} {faces}")
