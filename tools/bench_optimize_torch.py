#!/usr/bin/env python3
"""PyTorch CPU counterpart of `tedi bench optimize`: one step of instance-level optimization
(the optimize node's loop) at the shipped generator's config: rosinality's Generator, 64 px,
style_dim 256, n_mlp 4, channel multiplier 2 with channels divided by 8, random weights, stored
noise; Adam (lr 0.01) on w+ codes (N, 10, 256) lowering pixel MSE + 0.5 × the perceptual distance
over tedi's attribute-network conv stack (random weights: six 3×3 convs 3→32/2, 32→64/2, 64→64,
64→128/2, 128→128, 128→256/2, bias + leaky ReLU ×√2; channel-normalized maps, squared distance
summed over channels, mean over pixels and layers).

    python tools/bench_optimize_torch.py --batch 1 --threads 2

Prints the median and min seconds per step and peak RSS, and a RESULT line.
"""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import peak_rss_mib  # exits with the install hint when torch is missing
from make_fixtures import Generator
import torch
from torch.nn import functional as F


class Features(torch.nn.Module):
    def __init__(self):
        super().__init__()
        spec = [(3, 32, 2), (32, 64, 2), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2)]
        self.convs = torch.nn.ModuleList(torch.nn.Conv2d(i, o, 3, s, 1) for i, o, s in spec)

    def forward(self, x):
        maps = []
        for c in self.convs:
            x = F.leaky_relu(c(x), 0.2) * math.sqrt(2)
            maps.append(x / (x.pow(2).sum(1, keepdim=True) + 1e-10).sqrt())
        return maps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    g = Generator(64, 256, 4, channel_multiplier=2, channel_divisor=8, fused=False).eval()
    g.input.input.data = g.input.input.data.contiguous(memory_format=torch.channels_last)
    f = Features().eval()
    for p in list(g.parameters()) + list(f.parameters()):
        p.requires_grad_(False)
    with torch.no_grad():
        w = g.style(torch.randn(args.batch, 256)).unsqueeze(1).repeat(1, g.n_latent, 1)
        target, _ = g([g.style(torch.randn(args.batch, 256)).unsqueeze(1).repeat(1, g.n_latent, 1)], input_is_latent=True, randomize_noise=False)
        target_maps = f(target)
    w = w.clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=0.01)
    times = []
    for i in range(args.steps + 2):
        t0 = time.perf_counter()
        img, _ = g([w], input_is_latent=True, randomize_noise=False)
        maps = f(img)
        feat = sum((a - b).pow(2).sum(1).mean() for a, b in zip(maps, target_maps)) / len(maps)
        loss = F.mse_loss(img, target) + 0.5 * feat
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    print(f"torch optimize step batch {args.batch} threads {args.threads}: median {med * 1000:.1f} ms, min {times[0] * 1000:.1f} ms, "
          f"peak RSS {peak_rss_mib():.0f} MiB")
    print(f"RESULT median_ms={med * 1000:.2f} min_ms={times[0] * 1000:.2f} peak_rss_mib={peak_rss_mib():.0f}")


if __name__ == "__main__":
    main()
