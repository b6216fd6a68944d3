#!/usr/bin/env python3
"""A PyTorch reference run of `tedi train generator`: the same recipe in rosinality's code, to tell
a recipe problem (PyTorch learns no better) from an implementation problem (PyTorch learns faster
per step than tedi). A diagnostic only; tedi never runs it.

    pip install torch numpy pillow
    tedi dataset --count 25600 --size 64 --out runs/ds64          # the real images (cycled)
    python tools/train_torch_reference.py --data runs/ds64 --out runs/torch64 --steps 3000 \
        --channel-divisor 8 --channel-multiplier 2 --threads 2

Loop: tools/bench_train_torch.py's step (D step, lazy R1 by double backward every --r1-every, G
step with style mixing 0.9, Adam lr 0.002 betas (0, 0.99), D's lr and betas raised to the lazy
ratio) with real batches drawn in order from DIR/images, and tedi's EMA schedule (half-life
--ema-kimg·1000 images, capped at --ema-rampup × images seen). Writes OUT/log.csv (step, seconds,
d_loss, g_loss, r1, real_score, fake_score) and every --sample-every steps OUT/samples_STEP.png
(EMA G, 32 fixed z, noise zero) and OUT/ema_STEP.safetensors (rosinality names, loadable by tedi).
"""
import argparse
import copy
import glob
import math
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_torch import Discriminator, mixed_styles, requires_grad, upfirdn2d_depthwise  # exits with the install hint when torch is missing
from make_fixtures import Generator, write_safetensors
import make_fixtures
import numpy as np
import torch
from torch.nn import functional as F

try:
    from PIL import Image
except ImportError:  # pragma: no cover
    sys.exit("train_torch_reference.py reads the dataset's PNGs with Pillow: pip install pillow")


def load_images(data, size):
    files = sorted(glob.glob(os.path.join(data, "images", "*.png")))
    if not files:
        sys.exit(f"no images under {data}/images; write them with: tedi dataset --count N --size {size} --out {data}")
    arr = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    if arr.shape[1:3] != (size, size):
        sys.exit(f"{data} holds {arr.shape[1]} px images, expected {size}")
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()   # uint8 (N, 3, S, S)


def save_grid(images, path, cols=8):
    t = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    n, s = t.shape[0], t.shape[1]
    rows = (n + cols - 1) // cols
    grid = np.zeros((rows * (s + 2), cols * (s + 2), 3), np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[r * (s + 2) + 1:r * (s + 2) + 1 + s, c * (s + 2) + 1:c * (s + 2) + 1 + s] = t[i]
    Image.fromarray(grid).save(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--channel-divisor", type=int, default=8)
    ap.add_argument("--channel-multiplier", type=int, default=2)
    ap.add_argument("--style-dim", type=int, default=256)
    ap.add_argument("--n-mlp", type=int, default=4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--r1", type=float, default=0.2)
    ap.add_argument("--r1-every", type=int, default=16)
    ap.add_argument("--mixing", type=float, default=0.9)
    ap.add_argument("--ema-kimg", type=float, default=10)
    ap.add_argument("--ema-rampup", type=float, default=0.05)
    ap.add_argument("--sample-every", type=int, default=250)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    make_fixtures.upfirdn2d = upfirdn2d_depthwise
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    data = load_images(args.data, args.size)
    print(f"{data.shape[0]} real images from {args.data}", flush=True)

    g = Generator(args.size, args.style_dim, args.n_mlp, channel_multiplier=args.channel_multiplier,
                  channel_divisor=args.channel_divisor, fused=False)
    d = Discriminator(args.size, g.channels)
    g_ema = copy.deepcopy(g).eval()
    ratio = args.r1_every / (args.r1_every + 1)
    g_optim = torch.optim.Adam(g.parameters(), lr=args.lr, betas=(0.0, 0.99))
    d_optim = torch.optim.Adam(d.parameters(), lr=args.lr * ratio, betas=(0.0, 0.99 ** ratio))
    sample_z = torch.randn(32, args.style_dim, generator=torch.Generator().manual_seed(1234))
    zero_noise = [torch.zeros_like(getattr(g.noises, f"noise_{i}")) for i in range(g.num_layers)]

    styles = lambda: mixed_styles(args.batch, args.style_dim, g.n_latent, args.mixing)

    log = open(os.path.join(args.out, "log.csv"), "w")
    log.write("step,seconds,d_loss,g_loss,r1,real_score,fake_score\n")
    start = time.perf_counter()
    for i in range(args.steps):
        lo = (i * args.batch) % (data.shape[0] - args.batch + 1)
        real = data[lo:lo + args.batch].float() / 127.5 - 1
        requires_grad(g, False); requires_grad(d, True)
        s, k = styles()
        fake, _ = g(s, inject_index=k)
        fp, rp = d(fake), d(real)
        d_loss = F.softplus(fp).mean() + F.softplus(-rp).mean()
        d.zero_grad(); d_loss.backward(); d_optim.step()
        r1v = float("nan")
        if args.r1 > 0 and i % args.r1_every == 0:
            x = real.detach().requires_grad_(True)
            pred = d(x)
            grad, = torch.autograd.grad(pred.sum(), x, create_graph=True)
            r1 = grad.pow(2).reshape(args.batch, -1).sum(1).mean()
            d.zero_grad(); (args.r1 / 2 * r1 * args.r1_every + 0 * pred[0]).backward(); d_optim.step()
            r1v = r1.item()
        requires_grad(g, True); requires_grad(d, False)
        s, k = styles()
        fake, _ = g(s, inject_index=k)
        g_loss = F.softplus(-d(fake)).mean()
        g.zero_grad(); g_loss.backward(); g_optim.step()
        seen = (i + 1) * args.batch
        half = min(args.ema_kimg * 1000, args.ema_rampup * seen) if args.ema_rampup > 0 else args.ema_kimg * 1000
        beta = 0.5 ** (args.batch / max(half, 1e-8))
        with torch.no_grad():
            for pe, p in zip(g_ema.parameters(), g.parameters()):
                pe.mul_(beta).add_(p, alpha=1 - beta)
        log.write(f"{i + 1},{time.perf_counter() - start:.2f},{d_loss.item():.6g},{g_loss.item():.6g},{r1v:.6g},"
                  f"{rp.mean().item():.6g},{fp.mean().item():.6g}\n")
        if (i + 1) % 50 == 0:
            log.flush()
            print(f"step {i + 1}: d {d_loss.item():.3f} g {g_loss.item():.3f} "
                  f"{(time.perf_counter() - start) / (i + 1):.3f} s/step", flush=True)
        if (i + 1) % args.sample_every == 0 or i + 1 == args.steps:
            with torch.no_grad():
                img, _ = g_ema([sample_z], noise=zero_noise)
            save_grid(img, os.path.join(args.out, f"samples_{i + 1:06d}.png"))
            sd = {k: v.detach().float().numpy() for k, v in g_ema.state_dict().items()}
            meta = {"arch": "stylegan2", "size": str(args.size), "style_dim": str(args.style_dim),
                    "n_mlp": str(args.n_mlp), "channel_multiplier": str(args.channel_multiplier),
                    "channel_divisor": str(args.channel_divisor), "lr_mlp": "0.01"}
            write_safetensors(os.path.join(args.out, f"ema_{i + 1:06d}.safetensors"), sd, meta)
    log.close()


if __name__ == "__main__":
    main()
