#!/usr/bin/env python3
"""Draws face sketches the way a person does, for Examples/sketches/: wobbly strokes of uneven
thickness, lines left open or missing, proportions off SynthFaces' grid. Not SynthFaces' pencil
renderer: the encoders never trained on these. Needs numpy only.

    python3 tools/draw_hand_sketch.py Examples/sketches/hand_1.png --seed 1
"""
import argparse, math, struct, zlib
import numpy as np


def write_png(path, gray):
    h, w = gray.shape
    raw = b"".join(b"\x00" + gray[y].tobytes() for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(png)


class Pen:
    def __init__(self, size, rng):
        self.ink = np.zeros((size, size), np.float32)
        self.size, self.rng = size, rng
        yy, xx = np.mgrid[0:size, 0:size]
        self.xx, self.yy = xx.astype(np.float32), yy.astype(np.float32)

    def stroke(self, pts, width=(1.5, 3.5), wobble=1.2, skip=0.0):
        """A polyline through pts (in 0..1 units), drawn with a hand's wobble and pressure; a share
        `skip` of it is left out in one gap."""
        s, rng = self.size, self.rng
        pts = np.array(pts, np.float64) * s
        seg = np.linspace(0, 1, 160)
        t = np.linspace(0, len(pts) - 1, len(seg))
        xs = np.interp(t, np.arange(len(pts)), pts[:, 0]); ys = np.interp(t, np.arange(len(pts)), pts[:, 1])
        phase = rng.uniform(0, 6.28, 2)
        xs += wobble * np.sin(seg * rng.uniform(4, 9) + phase[0]); ys += wobble * np.sin(seg * rng.uniform(4, 9) + phase[1])
        w = width[0] + (width[1] - width[0]) * (0.5 + 0.5 * np.sin(seg * rng.uniform(2, 5) + rng.uniform(0, 6.28)))
        gap0 = rng.uniform(0, 1 - skip)
        for x, y, r, u in zip(xs, ys, w, seg):
            if skip > 0 and gap0 <= u <= gap0 + skip:
                continue
            d = np.hypot(self.xx - x, self.yy - y)
            self.ink = np.maximum(self.ink, np.clip(r / 2 + 0.5 - d, 0, 1) * rng.uniform(0.75, 1.0))


def arc(cx, cy, rx, ry, a0, a1, n=24):
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in np.linspace(a0, a1, n)]


def draw(size, seed):
    rng = np.random.default_rng(seed)
    p = Pen(size, rng)
    j = lambda v, e=0.02: v + rng.uniform(-e, e)
    cx, cy = j(0.5), j(0.47)
    fw, fh = j(0.22, 0.02), j(0.28, 0.02)
    p.stroke(arc(cx, cy, fw, fh, 0.1, math.pi - 0.1), width=(2, 4), skip=0.12)                    # jaw and cheeks
    hair_top = cy - fh - j(0.05)
    p.stroke(arc(cx, cy - 0.02, fw + 0.05, fh + 0.07, math.pi + 0.05, 2 * math.pi - 0.05), width=(2, 5))  # hair outline
    p.stroke([(cx - fw - 0.04, cy - 0.02), (cx - fw - 0.06, cy + 0.12 + j(0.03))], width=(2, 4))
    p.stroke([(cx + fw + 0.04, cy - 0.02), (cx + fw + 0.05, cy + 0.1 + j(0.03))], width=(2, 4), skip=0.3)
    p.stroke(arc(cx, cy - fh + 0.1, fw * 0.9, 0.07, math.pi, 2 * math.pi), width=(1, 2.5), skip=0.2)  # hairline
    ey, ex = cy - j(0.04), fw * j(0.45, 0.05)
    for side in (-1, 1):
        p.stroke(arc(cx + side * ex, ey, 0.045, 0.02, 0, 2 * math.pi), width=(1.5, 3))              # eye
        p.stroke(arc(cx + side * ex, ey - 0.045, 0.05, 0.02, math.pi + 0.3, 2 * math.pi - 0.3), width=(2, 4.5))  # brow
    p.stroke([(cx - 0.005, ey + 0.03), (cx - 0.02, cy + 0.07), (cx + 0.015, cy + 0.08)], width=(1, 2.5))    # nose
    my = cy + j(0.14)
    p.stroke(arc(cx, my - 0.03, 0.07, 0.035, 0.3, math.pi - 0.3), width=(1.5, 3.5))                # mouth
    p.stroke([(cx - 0.08, cy + fh - 0.02), (cx - 0.08, 0.86)], width=(1.5, 3), skip=0.25)          # neck
    p.stroke([(cx + 0.08, cy + fh - 0.02), (cx + 0.08, 0.86)], width=(1.5, 3))
    p.stroke(arc(cx, 1.12, 0.5, 0.3, math.pi + 0.15, 2 * math.pi - 0.15), width=(2, 5))             # shoulders
    return np.clip(255 * (1 - p.ink), 0, 255).astype(np.uint8)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", type=int, default=128)
    a = ap.parse_args()
    write_png(a.out, draw(a.size, a.seed))
