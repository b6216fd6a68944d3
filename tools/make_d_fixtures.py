#!/usr/bin/env python3
"""Reference fixtures for tedi's StyleGAN2 discriminator and its R1 gradient, computed in PyTorch
float64 by rosinality's residual D (tools/bench_train_torch.py) with exact double backward.

    pip install torch numpy
    python tools/make_d_fixtures.py          # writes Tests/ModelsTests/Fixtures/d32

The directory holds weights.safetensors (the D, config in __metadata__ as d.size,
d.channel_multiplier, d.channel_divisor; nonzero biases) and .npy files (float32): x (a batch of 8
inputs, so the minibatch-stddev groups hold 4 and 2 interleave), logits, grad_x (of sum(logits)),
grad_<param> (of sum(logits)), r1 (mean over the batch of |d sum(logits) / dx_n|^2) and
r1grad_<param> (of r1, by double backward: the quantity tedi's finite-difference
Hessian-vector product approximates).
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_torch import Discriminator  # exits with the install hint when torch is missing
from make_fixtures import stylegan2_channels, write_safetensors
import numpy as np
import torch


def main(out_dir, size=32, multiplier=2, divisor=32, batch=8, seed=7):
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    channels = stylegan2_channels(multiplier, divisor)
    d = Discriminator(size, channels)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in d.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    d = d.double()
    meta = {"d.size": str(size), "d.channel_multiplier": str(multiplier), "d.channel_divisor": str(divisor)}
    write_safetensors(os.path.join(out_dir, "weights.safetensors"),
                      {k: v.float().numpy() for k, v in d.state_dict().items()}, meta)
    save = lambda name, t: np.save(os.path.join(out_dir, name + ".npy"), np.ascontiguousarray(t.detach().float().numpy()))
    x = torch.randn(batch, 3, size, size, generator=gen, dtype=torch.float64).float().double()
    params = dict(d.named_parameters())
    xi = x.clone().requires_grad_(True)
    logits = d(xi)
    grads = torch.autograd.grad(logits.sum(), [xi] + list(params.values()))
    save("x", x); save("logits", logits); save("grad_x", grads[0])
    for name, g in zip(params, grads[1:]):
        save("grad_" + name, g)
    xi = x.clone().requires_grad_(True)
    gx, = torch.autograd.grad(d(xi).sum(), xi, create_graph=True)
    r1 = gx.pow(2).reshape(batch, -1).sum(1).mean()
    r1grads = torch.autograd.grad(r1, list(params.values()), allow_unused=True)   # the last bias does not touch dx
    save("r1", r1.reshape(1))
    for name, g in zip(params, r1grads):
        save("r1grad_" + name, torch.zeros_like(params[name]) if g is None else g)
    print(f"wrote {out_dir}: D {size} px, channels {channels[size]}..{channels[4]}, {len(params)} parameters, "
          f"r1 {r1.item():.6g}")


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "Tests", "ModelsTests", "Fixtures", "d32"))
