#!/usr/bin/env python3
"""Which attributes does a training run's discriminator look at? Scores held-out renders with the
D of a `tedi train generator` checkpoint and prints the mean logit per attribute value (and per
quarter of face width, yaw and tilt), with its standard error. A value D scores far above the
rest is one G fails to draw and D has learned to reward (on a mode-dropped value: G cannot reach
it); equal scores across a value G never draws mean D is blind to it, and no balancing of the real
stream can give G a gradient toward it. A diagnostic only; tedi never runs it.

    pip install torch numpy pillow
    tedi dataset --count 800 --size 64 --split test --out runs/ds-test
    python tools/d_scores_by_attribute.py Models/train/synthfaces64_checkpoint.safetensors runs/ds-test

D runs in groups of 4 consecutive images (its minibatch-stddev group), in the dataset's order.
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_torch import Discriminator  # exits with the install hint when torch is missing
from make_fixtures import stylegan2_channels
import numpy as np
import torch

try:
    from PIL import Image
except ImportError:  # pragma: no cover
    sys.exit("d_scores_by_attribute.py reads the dataset's PNGs with Pillow: pip install pillow")

BINS = {"face_width": (0.92, 1.08), "yaw": (-1.0, 1.0), "tilt": (-7.0, 7.0)}


def load_d(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.get("__metadata__", {})
    if "d.size" not in meta:
        sys.exit(f"{path}: no discriminator metadata (d.size); give a `tedi train generator` checkpoint.safetensors")
    size = int(meta["d.size"])
    mult, div = int(meta.get("d.channel_multiplier", "1")), int(meta.get("d.channel_divisor", "1"))
    d = Discriminator(size, stylegan2_channels(mult, div))
    state = {}
    for key, m in header.items():
        if key.startswith("param.d."):
            a, b = m["data_offsets"]
            if m["dtype"] != "F32":
                sys.exit(f"{path}: {key} is {m['dtype']}, expected F32")
            state[key[len("param.d."):]] = torch.from_numpy(
                np.frombuffer(data[8 + n + a:8 + n + b], dtype=np.float32).reshape(m["shape"]).copy())
    d.load_state_dict(state)
    return d.eval(), size


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    d, size = load_d(sys.argv[1])
    rows = [json.loads(line) for line in open(os.path.join(sys.argv[2], "attributes.jsonl"))]
    files = [os.path.join(sys.argv[2], "images", f"{r['index']:06d}.png") for r in rows]
    missing = [f for f in files if not os.path.exists(f)]
    if missing or len(rows) < 8:
        sys.exit(f"{sys.argv[2]}: {len(rows)} attribute rows, {len(missing)} of their images missing (first: "
                 f"{missing[0] if missing else '-'}); write it with `tedi dataset`")
    x = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    if x.shape[1] != size:
        sys.exit(f"{sys.argv[2]} holds {x.shape[1]} px images, the discriminator reads {size} px")
    x = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1
    keep = len(x) - len(x) % 4
    with torch.no_grad():
        s = torch.cat([d(x[i:i + 4]) for i in range(0, keep, 4)]).squeeze(1).numpy()
    rows = rows[:keep]
    print(f"{keep} renders: D logit mean {s.mean():.3f}, sd {s.std():.3f}")
    print("| attribute | value | n | mean D logit | ± SE |\n|---|---|---|---|---|")
    for key in rows[0]:
        if key == "index":
            continue
        if key in BINS:
            lo, hi = BINS[key]
            edges = np.linspace(lo, hi, 5)
            v = np.array([r[key] for r in rows])
            groups = [(f"{a:g}..{b:g}", (v >= a) & (v < b) if i < 3 else v >= a)
                      for i, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]
        else:
            values = sorted({str(r[key]) for r in rows})
            groups = [(val, np.array([str(r[key]) == val for r in rows])) for val in values]
        for name, m in groups:
            if m.sum() > 1:
                print(f"| {key} | {name} | {m.sum()} | {s[m].mean():.3f} | {s[m].std() / np.sqrt(m.sum()):.3f} |")


if __name__ == "__main__":
    main()
