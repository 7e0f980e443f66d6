#!/usr/bin/python3
"""Scores one detector configuration on the local evaluation set (see build-eval.py).

usage: eval.py TRUTH.jsonl DETECTIONS.jsonl LABEL [FOCAL_PX] [PERSON_RANGE_M]
DETECTIONS is `checkpointctl detect --json` output over the set's frames. Prints `| measure | value | unit |` rows:
recall per face width (a truth face is found when a returned box overlaps it with IoU >= 0.4), the share of
face frames with a spurious box (one matching no truth face) and with a spurious box inside the person range
(estimated distance <= PERSON_RANGE_M, as the kiosk estimates it: focal * 0.063 m / eye distance, or
focal * 0.15 m / box width without landmarks), no-face frames with any detection, and the mean ms per frame."""
import json, os, sys


def iou(a, b):
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    u = a[2] * a[3] + b[2] * b[3] - inter
    return inter / u if u > 0 else 0.0


def distance(f, focal):
    lm = f.get("landmarks") or []
    if len(lm) >= 2:
        d = ((lm[0][0] - lm[1][0]) ** 2 + (lm[0][1] - lm[1][1]) ** 2) ** 0.5
        if d > 1:
            return focal * 0.063 / d
    return focal * 0.15 / f["w"] if f["w"] > 1 else float("inf")


def main():
    truth = {}
    for line in open(sys.argv[1]):
        r = json.loads(line)
        truth[r["image"]] = r
    label = sys.argv[3]
    focal = float(sys.argv[4]) if len(sys.argv) > 4 else 600.0
    prange = float(sys.argv[5]) if len(sys.argv) > 5 else 1.5
    found, total = {}, {}
    spurious_frames = spurious_in_range = face_frames = 0
    noface_frames = noface_hits = 0
    ms = []
    for line in open(sys.argv[2]):
        d = json.loads(line)
        t = truth.get(os.path.basename(d["image"]))
        if t is None:
            continue
        ms.append(d["ms"])
        boxes = [(f, [f["x"], f["y"], f["w"], f["h"]]) for f in d["faces"]]
        if t["box"] is None:
            noface_frames += 1
            noface_hits += 1 if boxes else 0
            continue
        face_frames += 1
        w = t["width_px"]
        total[w] = total.get(w, 0) + 1
        if any(iou(b, t["box"]) >= 0.4 for _, b in boxes):
            found[w] = found.get(w, 0) + 1
        extra = [f for f, b in boxes if iou(b, t["box"]) < 0.4]
        spurious_frames += 1 if extra else 0
        spurious_in_range += 1 if any(distance(f, focal) <= prange for f in extra) else 0
    for w in sorted(total):
        print(f"| {label}: recall at {w} px face width ({total[w]} faces) | {100 * found.get(w, 0) / total[w]:.2f} | % |")
    print(f"| {label}: face frames with a spurious box | {100 * spurious_frames / max(1, face_frames):.2f} | % of {face_frames} |")
    print(f"| {label}: face frames with a spurious box within {prange} m | {100 * spurious_in_range / max(1, face_frames):.2f} | % of {face_frames} |")
    print(f"| {label}: no-face frames with any detection | {noface_hits} of {noface_frames} | frames |")
    print(f"| {label}: mean detection time | {sum(ms) / max(1, len(ms)):.3f} | ms/frame |")


if __name__ == "__main__":
    main()
