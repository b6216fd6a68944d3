#!/usr/bin/env python3
"""PyTorch CPU counterpart of `tedi bench generator`: rosinality's Generator (tools/make_fixtures.py),
random weights, z -> image with the stored noise; --backward adds d sum(image) / d w+.

    python tools/bench_torch.py --size 256 --channel-multiplier 1 --batch 1 --threads 2 [--backward]

Uses rosinality's non-fused modulated conv (scale input, shared conv, scale output) in channels-last
memory format, PyTorch's fastest CPU form here; --fused uses the grouped-conv form instead.
Prints median and min wall time and peak RSS (VmHWM), and a RESULT line for tools/bench_generator.sh.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import torch
    from make_fixtures import Generator
except ImportError as e:
    sys.exit(f"bench_torch.py needs torch ({e}); install it with: pip install torch numpy")


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--channel-multiplier", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backward", action="store_true")
    ap.add_argument("--fused", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    g = Generator(args.size, 512, 8, channel_multiplier=args.channel_multiplier, fused=args.fused).eval()
    if not args.fused:
        # Channels-last propagates from the constant input through the convs (5-D weights cannot convert).
        g.input.input.data = g.input.input.data.contiguous(memory_format=torch.channels_last)
    for p in g.parameters():
        p.requires_grad_(False)
    z = torch.randn(args.batch, 512)
    times = []
    for i in range(args.runs + 1):
        t0 = time.perf_counter()
        if args.backward:
            w = g.style(z).detach()
            wplus = w.unsqueeze(1).repeat(1, g.n_latent, 1).requires_grad_(True)
            out = g([wplus], input_is_latent=True, randomize_noise=False)[0]
            out.sum().backward()
        else:
            with torch.no_grad():
                g([z], randomize_noise=False)
        if i > 0:
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    med, mn, rss = times[len(times) // 2], times[0], peak_rss_mib()
    mode = "forward+backward" if args.backward else "forward"
    print(f"torch {torch.__version__} generator size {args.size} cm {args.channel_multiplier} batch {args.batch} "
          f"threads {args.threads} {mode}: median {med:.1f} ms, min {mn:.1f} ms, peak RSS {rss:.1f} MiB ({args.runs} runs)")
    print(f"RESULT median_ms={med:.2f} min_ms={mn:.2f} peak_rss_mib={rss:.1f}")


if __name__ == "__main__":
    main()
