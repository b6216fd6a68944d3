#!/usr/bin/env python3
"""PyTorch CPU counterpart of `tedi bench train`: one rosinality StyleGAN2 training step at the
same config as `tedi train generator` (rosinality's train.py loop without path-length regularization).

    python tools/bench_train_torch.py --size 64 --channel-divisor 4 --channel-multiplier 1 --threads 2

Step = D step (non-saturating loss on G(z) and a real batch), R1 every 16 steps (double backward, as
in rosinality; tedi uses a finite-difference Hessian-vector product instead), G step, EMA update;
Adam lr 0.002, betas (0, 0.99) with the lazy-regularization correction on D, style mixing 0.9,
random noise. Generator: tools/make_fixtures.py (rosinality's model, non-fused modulation,
channels-last); discriminator: rosinality's residual D below. Real images are a fixed random batch
(tedi renders SynthFaces on a background thread). Times --steps steps after 2 warm-up steps (step 0
and step 16 are R1 steps, as in tedi) and prints the mean, median and min seconds per step and peak
RSS, plus a RESULT line.

--blur native (default) keeps rosinality's upfirdn2d_native, which blurs with a 1-in/1-out
conv2d over (N·C, 1, H, W): on CPU its backward dominates the step (72% of the time in
aten::convolution_backward at 64 px, light config). --blur depthwise replaces it with the same
filter as a depthwise conv2d (groups = C, zero-insertion upsampling, stride = down), numerically
the same, the fastest PyTorch form found here; BENCHMARKS.md reports both.
"""
import argparse
import copy
import math
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import peak_rss_mib  # exits with the install hint when torch is missing
from make_fixtures import Blur, EqualLinear, FusedLeakyReLU, Generator
import make_fixtures
import torch
from torch import nn
from torch.nn import functional as F


def upfirdn2d_depthwise(input, kernel, up=1, down=1, pad=(0, 0)):
    """rosinality's upfirdn2d as zero insertion + pad + depthwise conv2d with stride `down`."""
    n, c, h, w = input.shape
    x = input
    if up > 1:
        x = x.new_zeros(n, c, h * up, w * up)
        x[:, :, ::up, ::up] = input
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    kh, kw = kernel.shape
    weight = torch.flip(kernel, [0, 1]).view(1, 1, kh, kw).expand(c, 1, kh, kw).contiguous()
    return F.conv2d(x, weight.to(x.dtype), stride=down, groups=c)


# ---- rosinality's discriminator (model.py) ----

class EqualConv2d(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(out_channel)) if bias else None

    def forward(self, input):
        return F.conv2d(input, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)


class ConvLayer(nn.Sequential):
    def __init__(self, in_channel, out_channel, kernel_size, downsample=False, blur_kernel=(1, 3, 3, 1),
                 bias=True, activate=True):
        layers = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(list(blur_kernel), pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_channel, out_channel, kernel_size, padding=padding, stride=stride,
                                  bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channel, bias=bias))
        super().__init__(*layers)


class ResBlock(nn.Module):
    def __init__(self, in_channel, out_channel):
        super().__init__()
        self.conv1 = ConvLayer(in_channel, in_channel, 3)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True)
        self.skip = ConvLayer(in_channel, out_channel, 1, downsample=True, activate=False, bias=False)

    def forward(self, input):
        return (self.conv2(self.conv1(input)) + self.skip(input)) / math.sqrt(2)


class Discriminator(nn.Module):
    def __init__(self, size, channels):
        super().__init__()
        convs = [ConvLayer(3, channels[size], 1)]
        in_channel = channels[size]
        for i in range(int(math.log(size, 2)), 2, -1):
            convs.append(ResBlock(in_channel, channels[2 ** (i - 1)]))
            in_channel = channels[2 ** (i - 1)]
        self.convs = nn.Sequential(*convs)
        self.final_conv = ConvLayer(in_channel + 1, channels[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(channels[4] * 16, channels[4], activation="fused_lrelu"),
                                          EqualLinear(channels[4], 1))

    def forward(self, input):
        out = self.convs(input)
        batch, channel, height, width = out.shape
        group = min(batch, 4)
        stddev = out.view(group, -1, 1, channel, height, width)
        stddev = torch.sqrt(stddev.var(0, unbiased=False) + 1e-8)
        stddev = stddev.mean([2, 3, 4], keepdim=True).squeeze(2).repeat(group, 1, height, width)
        out = self.final_conv(torch.cat([out, stddev], 1))
        return self.final_linear(out.reshape(batch, -1))


def mixed_styles(batch, style_dim, n_latent, p):
    """rosinality's mixing_noise: two z codes and a crossover layer with probability p, else one."""
    if random.random() < p:
        return [torch.randn(batch, style_dim), torch.randn(batch, style_dim)], random.randint(1, n_latent - 1)
    return [torch.randn(batch, style_dim)], None


def requires_grad(m, flag):
    for p in m.parameters():
        p.requires_grad_(flag)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--channel-divisor", type=int, default=4)
    ap.add_argument("--channel-multiplier", type=int, default=1)
    ap.add_argument("--style-dim", type=int, default=256)
    ap.add_argument("--n-mlp", type=int, default=4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--blur", choices=["native", "depthwise"], default="native")
    args = ap.parse_args()
    if args.blur == "depthwise":
        make_fixtures.upfirdn2d = upfirdn2d_depthwise   # Blur and Upsample look it up at call time
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    random.seed(1)
    g = Generator(args.size, args.style_dim, args.n_mlp, channel_multiplier=args.channel_multiplier,
                  channel_divisor=args.channel_divisor, fused=False)
    g.input.input.data = g.input.input.data.contiguous(memory_format=torch.channels_last)
    d = Discriminator(args.size, g.channels)
    g_ema = copy.deepcopy(g).eval()
    ratio = 16 / 17
    g_optim = torch.optim.Adam(g.parameters(), lr=0.002, betas=(0.0, 0.99))
    d_optim = torch.optim.Adam(d.parameters(), lr=0.002 * ratio, betas=(0.0, 0.99 ** ratio))
    real = (torch.rand(args.batch, 3, args.size, args.size) * 2 - 1).contiguous(memory_format=torch.channels_last)

    styles = lambda: mixed_styles(args.batch, args.style_dim, g.n_latent, 0.9)

    def step(i):
        requires_grad(g, False); requires_grad(d, True)
        s, k = styles()
        fake, _ = g(s, inject_index=k)
        d_loss = F.softplus(d(fake)).mean() + F.softplus(-d(real)).mean()
        d.zero_grad(); d_loss.backward(); d_optim.step()
        if i % 16 == 0:
            x = real.detach().requires_grad_(True)
            pred = d(x)
            grad, = torch.autograd.grad(pred.sum(), x, create_graph=True)
            r1 = grad.pow(2).reshape(args.batch, -1).sum(1).mean()
            d.zero_grad(); (0.2 / 2 * r1 * 16 + 0 * pred[0]).backward(); d_optim.step()
        requires_grad(g, True); requires_grad(d, False)
        s, k = styles()
        fake, _ = g(s, inject_index=k)
        g_loss = F.softplus(-d(fake)).mean()
        g.zero_grad(); g_loss.backward(); g_optim.step()
        with torch.no_grad():
            for pe, p in zip(g_ema.parameters(), g.parameters()):
                pe.mul_(0.999).add_(p, alpha=0.001)

    times = []
    for i in range(args.steps + 2):
        t0 = time.perf_counter()
        step(i)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    mean = sum(times) / len(times)
    times.sort()
    med, mn, rss = times[len(times) // 2], times[0], peak_rss_mib()
    chans = "/".join(str(g.channels[2 ** r]) for r in range(2, int(math.log(args.size, 2)) + 1))
    print(f"torch {torch.__version__} train step size {args.size} channels {chans} style_dim {args.style_dim} "
          f"n_mlp {args.n_mlp} batch {args.batch} threads {args.threads} blur {args.blur}: mean {mean:.3f} s/step over {args.steps} "
          f"steps (R1 every 16 included), median {med:.3f} s, min {mn:.3f} s, peak RSS {rss:.1f} MiB")
    print(f"RESULT mean_s={mean:.4f} median_s={med:.4f} min_s={mn:.4f} peak_rss_mib={rss:.1f}")


if __name__ == "__main__":
    main()
