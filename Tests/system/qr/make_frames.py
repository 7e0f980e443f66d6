#!/usr/bin/python3
"""Synthetic 640x480 gray camera frames with QR codes, for the QR system test and benchmark.

Everything is drawn here (segno for the symbols, OpenCV and numpy for the scene): no third-party images.
Each frame holds one code on a phone screen (dark body, white screen) or a printed card (off-white, text lines),
warped by a homography into a synthetic scene (gradients, shapes, text), then blurred, glared, noised and saved as a
JPEG (quality 80, like an MJPEG camera). Frames without a code hold the same phones and cards showing decoys: text,
random module patterns without finder patterns, stripes.

usage: make_frames.py OUT_DIR [--seeds N] [--empty N] [--sizes 80,120,...] [--conditions clean,...]
writes OUT_DIR/*.jpg and OUT_DIR/manifest.json: [{"image", "payload", "style", "size", "condition"}],
payload null for frames without a code.
"""
import argparse
import json
import math
import os
import sys

import cv2
import numpy as np
import segno

# The published PC-COVID example (standards-and-declaration.md B.3) and CCCD-style payloads (B.4), invented people.
PAYLOADS = {
    "pccovid": ("phone", "001093029317|NGUYEN LE KHA HAN|1987-01-18|0|162979388586171100|<1<HS4010120878821<0944713700"),
    "cccd": ("card", "079203001234|025123456|Nguyễn Văn An|01011990|Nam|Số 3 Quang Trung, Thái Nguyên|15082021"),
    "cccd-long": ("card", "038185001234|173456789|Trần Thị Bích Ngọc|24121985|Nữ|Thôn Đông Hưng, Xã Quảng Phú, "
                          "Huyện Quảng Xương, Thanh Hóa|10042021"),
}
CONDITIONS = ["clean", "perspective", "blur", "glare", "combined"]
SIZES = [80, 120, 160, 220]
W, H = 640, 480
OVERSAMPLE = 2  # objects are drawn at 8 px per module and shrunk by the warp (anti-aliased by a pre-blur)


def qr_modules(payload):
    """The symbol's modules (1 = dark) without quiet zone, error level M as the apps use."""
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    q = segno.make(data, error="m", boost_error=False, micro=False)
    return np.array([list(row) for row in q.matrix], dtype=np.uint8), f"{q.version}-{q.error}"


def background(rng):
    """A cluttered indoor-ish scene: gradient, rectangles, ellipses, lines and text, softly blurred."""
    gx = np.linspace(0, 1, W, dtype=np.float32)[None, :]
    gy = np.linspace(0, 1, H, dtype=np.float32)[:, None]
    a, b, c = rng.uniform(60, 190), rng.uniform(-60, 60), rng.uniform(-60, 60)
    img = np.clip(a + b * gx + c * gy, 0, 255).astype(np.float32)
    for _ in range(rng.integers(6, 14)):
        col = float(rng.uniform(20, 235))
        if rng.random() < 0.5:
            x0, y0 = int(rng.integers(-100, W)), int(rng.integers(-100, H))
            cv2.rectangle(img, (x0, y0), (x0 + int(rng.integers(30, 250)), y0 + int(rng.integers(30, 250))), col, -1)
        else:
            cv2.ellipse(img, (int(rng.integers(0, W)), int(rng.integers(0, H))),
                        (int(rng.integers(10, 120)), int(rng.integers(10, 120))), float(rng.uniform(0, 180)), 0, 360, col, -1)
    for _ in range(rng.integers(2, 6)):
        cv2.line(img, (int(rng.integers(0, W)), int(rng.integers(0, H))), (int(rng.integers(0, W)), int(rng.integers(0, H))),
                 float(rng.uniform(0, 255)), int(rng.integers(1, 5)))
    for _ in range(rng.integers(1, 4)):
        cv2.putText(img, "CHECKPOINT %d" % rng.integers(0, 99), (int(rng.integers(0, W - 200)), int(rng.integers(20, H))),
                    cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.5, 1.5)), float(rng.uniform(0, 255)), 2)
    return cv2.GaussianBlur(img, (0, 0), 1.2)


def decoy_modules(rng, n):
    """A random module grid with no finder patterns: looks like a code, is none."""
    return (rng.random((n, n)) < 0.5).astype(np.uint8)


def draw_object(rng, style, modules, decoy):
    """The phone or card at OVERSAMPLE x scale, in its own coordinates.
    Returns (image float32, mask float32, symbol corners (4x2) in object coordinates, module count)."""
    n = modules.shape[0]
    mod = OVERSAMPLE * 4  # pixels per module in object space (before the warp scales to the wanted size)
    side = n * mod
    if style == "phone":
        quiet = 4 * mod
        bezel = int(rng.uniform(0.08, 0.14) * side)
        screen_w = side + 2 * quiet + int(rng.uniform(0.1, 0.3) * side)
        screen_h = int(screen_w * rng.uniform(1.7, 2.1))
        ow, oh = screen_w + 2 * bezel, screen_h + 2 * bezel
        img = np.full((oh, ow), float(rng.uniform(15, 45)), np.float32)      # phone body
        white = float(rng.uniform(215, 250))
        img[bezel:bezel + screen_h, bezel:bezel + screen_w] = white          # lit screen
        header = int(screen_h * rng.uniform(0.08, 0.14))
        img[bezel:bezel + header, bezel:bezel + screen_w] = float(rng.uniform(60, 140))  # app bar
        cv2.putText(img, "PC-COVID", (bezel + mod * 2, bezel + header - mod * 2), cv2.FONT_HERSHEY_SIMPLEX,
                    OVERSAMPLE * 0.6, 255.0, OVERSAMPLE * 2)
        x0 = bezel + (screen_w - side) // 2
        y0 = bezel + header + quiet + int(rng.uniform(0, 0.15) * screen_h)
        ink = float(rng.uniform(20, 60))  # a screen's black is not black
    else:
        quiet = int(rng.uniform(2.5, 4) * mod)
        ow = int(side * rng.uniform(2.6, 3.0))
        oh = int(ow / 1.586)  # ID-1 card
        oh = max(oh, side + 2 * quiet + 2 * mod)
        img = np.full((oh, ow), float(rng.uniform(190, 235)), np.float32)
        # A faint printed pattern and text lines left of the code.
        for k in range(0, ow, 6 * mod):
            cv2.line(img, (k, 0), (k + oh // 2, oh), float(rng.uniform(170, 200)), OVERSAMPLE)
        x0 = ow - side - quiet
        y0 = quiet + int(rng.uniform(0, max(1, oh - side - 2 * quiet)))
        font = ow / 1800.0 * OVERSAMPLE * 0.45
        for line in range(6):
            y = int(oh * (0.15 + 0.13 * line))
            cv2.putText(img, "CAN CUOC CONG DAN" if line == 0 else "Ho ten  Ngay sinh  %d" % rng.integers(0, 1e6),
                        (int(ow * 0.03), y), cv2.FONT_HERSHEY_SIMPLEX, font, float(rng.uniform(30, 80)),
                        max(2, int(font * 4)))
        img[y0 - quiet:y0 + side + quiet, x0 - quiet:x0 + side + quiet] = float(rng.uniform(215, 245))  # over the text
        ink = float(rng.uniform(25, 60))
    grid = decoy if decoy is not None else modules
    if grid is not None:
        big = cv2.resize(grid, (side, side), interpolation=cv2.INTER_NEAREST).astype(bool)
        patch = img[y0:y0 + side, x0:x0 + side]
        patch[big] = ink
    mask = np.ones_like(img)
    corners = np.float32([[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]])
    return img, mask, corners, n


def place(rng, img, mask, corners, size, condition):
    """The homography putting the symbol at `size` px, rotated and (for perspective) tilted, inside the frame."""
    oh, ow = img.shape
    scale = size / float(corners[1][0] - corners[0][0])
    if condition in ("perspective", "combined"):
        angle = rng.uniform(0, 360)
    else:
        angle = rng.uniform(-12, 12)
    th = math.radians(angle)
    rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]], np.float32)
    obj = np.float32([[0, 0], [ow, 0], [ow, oh], [0, oh]])
    centre = corners.mean(axis=0)
    dst = (obj - centre) * scale @ rot.T
    if condition in ("perspective", "combined"):
        # Tilt: move the corners of the object's outline toward/away from each other (up to ~35 degrees).
        tilt = rng.uniform(0.10, 0.22 if condition == "perspective" else 0.16)
        axis = rng.integers(0, 2)
        span = np.abs(dst).max()
        for i in range(4):
            sgn = 1 if (i in (0, 1) if axis == 0 else i in (0, 3)) else -1
            dst[i] += sgn * tilt * span * (dst[(i + 1) % 4] - dst[i]) / np.linalg.norm(dst[(i + 1) % 4] - dst[i]) * 0.5
        dst += rng.normal(0, 0.02 * size, dst.shape).astype(np.float32)
    # Where the symbol lands; move the whole object so the symbol is inside the frame with a margin.
    hm = cv2.getPerspectiveTransform(obj, dst.astype(np.float32))
    sym = cv2.perspectiveTransform(corners[None], hm)[0]
    lo, hi = sym.min(axis=0), sym.max(axis=0)
    margin = 8
    tx = rng.uniform(margin - lo[0], max(margin - lo[0] + 1, W - margin - hi[0]))
    ty = rng.uniform(margin - lo[1], max(margin - lo[1] + 1, H - margin - hi[1]))
    dst = dst + np.float32([tx, ty])
    hm = cv2.getPerspectiveTransform(obj, dst.astype(np.float32))
    return hm, cv2.perspectiveTransform(corners[None], hm)[0]


def render(rng, style, modules, size, condition, decoy=None):
    frame = background(rng)
    img, mask, corners, _ = draw_object(rng, style, modules, decoy)
    hm, sym = place(rng, img, mask, corners, size, condition)
    # Shrinking by the homography aliases: pre-blur the oversampled object by about the shrink factor.
    shrink = (corners[1][0] - corners[0][0]) / size
    src = cv2.GaussianBlur(img, (0, 0), max(0.5, 0.45 * shrink))
    warped = cv2.warpPerspective(src, hm, (W, H), flags=cv2.INTER_LINEAR)
    wmask = cv2.warpPerspective(mask, hm, (W, H), flags=cv2.INTER_LINEAR)
    frame = frame * (1 - wmask) + warped * wmask
    # Lens: always a little soft; "blur" is defocus at the frame's scale.
    sigma = 0.6
    if condition == "blur":
        sigma = rng.uniform(1.4, 2.4)
    elif condition == "combined":
        sigma = rng.uniform(1.0, 1.6)
    frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    if condition in ("glare", "combined"):
        # A soft specular patch (a ceiling light on the screen or the card's laminate) over part of the symbol.
        c = sym.mean(axis=0) + rng.uniform(-0.35, 0.35, 2) * size
        axes = (rng.uniform(0.12, 0.28) * size, rng.uniform(0.08, 0.2) * size)
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        a = math.radians(rng.uniform(0, 180))
        u = ((xx - c[0]) * math.cos(a) + (yy - c[1]) * math.sin(a)) / axes[0]
        v = (-(xx - c[0]) * math.sin(a) + (yy - c[1]) * math.cos(a)) / axes[1]
        g = np.exp(-(u * u + v * v) ** 1.5) * rng.uniform(0.75, 0.95)
        frame = frame + (255 - frame) * g
    frame = frame + 3.0 * rng.standard_normal(frame.shape, dtype=np.float32)  # sensor noise
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seeds", type=int, default=6, help="frames per payload, size and condition")
    ap.add_argument("--empty", type=int, default=40, help="frames without a code")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--payloads", default=",".join(PAYLOADS))
    ap.add_argument("--non-utf8", action="store_true", help="also one clean frame whose payload is not UTF-8")
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    conditions = args.conditions.split(",")
    manifest = []
    rng = np.random.default_rng(args.seed)

    def save(name, frame, **meta):
        path = os.path.join(args.out, name + ".jpg")
        cv2.imwrite(path, frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
        manifest.append(dict(image=path, **meta))

    for key in args.payloads.split(","):
        style, payload = PAYLOADS[key]
        modules, version = qr_modules(payload)
        for size in sizes:
            for cond in conditions:
                for s in range(args.seeds):
                    frame = render(rng, style, modules, size, cond)
                    save(f"{key}-{size}-{cond}-{s}", frame, payload=payload, key=key, version=version, style=style,
                         size=size, condition=cond)
    for i in range(args.empty):
        style = "phone" if i % 2 == 0 else "card"
        kind = i % 4
        n = int(rng.choice([25, 41, 49]))
        decoy = decoy_modules(rng, n) if kind in (0, 1) else None
        if kind == 2:  # stripes: a barcode-like pattern
            decoy = np.tile((rng.random(n) < 0.5).astype(np.uint8), (n, 1))
        frame = render(rng, style, np.zeros((n, n), np.uint8), int(rng.choice(sizes)), conditions[i % len(conditions)],
                       decoy=decoy if decoy is not None else np.zeros((n, n), np.uint8))
        save(f"empty-{i}", frame, payload=None, key="none", style=style, size=0, condition="empty")
    if args.non_utf8:
        raw = bytes([0x43, 0x43, 0x43, 0x44, 0xFF, 0xFE, 0x80, 0x41])  # Latin-1-ish bytes, invalid as UTF-8
        modules, version = qr_modules(raw)
        save("non-utf8-0", render(rng, "card", modules, 160, "clean"), payload=None, payload_hex=raw.hex(),
             key="non-utf8", version=version, style="card", size=160, condition="clean")
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=0)
    print(f"{len(manifest)} frames in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
