#!/usr/bin/env python3
"""Reference fixtures for tedi's StyleGAN2 generator, computed by rosinality's PyTorch model.

The model below follows rosinality/stylegan2-pytorch `model.py` (Generator and its parts) with the
repository's pure-PyTorch CPU fallbacks for `upfirdn2d` and `fused_leaky_relu` (its CUDA
extensions do not build here). One addition: `channel_divisor` divides every channel count so
fixtures stay small (1 = rosinality). References run in float64.

    pip install torch numpy
    python tools/make_fixtures.py                       # the committed fixtures (Tests/ModelsTests/Fixtures)
    python tools/make_fixtures.py --out DIR --name big --size 256 --style-dim 512 --n-mlp 8 \
        --channel-multiplier 1                          # one custom config (the TEDI_SLOW test uses this)

Each fixture directory holds weights.safetensors (config in __metadata__) and .npy files:
z, out_z (noise const), w, out_w, wplus, out_wplus, out_wplus_zero (noise zero), mean_z,
mean_latent, out_trunc (z, psi 0.7 toward mean_latent), grad_seed (R), grad_wplus and
grad_<param> (gradients of sum(out_wplus * R)); custom configs add grad_wplus_torch32 (PyTorch float32),
and with --dump-layers per-layer inputs and layer-local gradients (see dump_layers; the opt-in
layerLocalGradients test reads them via TEDI_SG2_LAYERS=DIR).
"""
import argparse
import copy
import json
import math
import os
import struct
import sys

try:
    import numpy as np
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as e:  # pragma: no cover
    sys.exit(f"make_fixtures.py needs torch and numpy ({e}); install them with: pip install torch numpy")


# ---- rosinality op/ fallbacks (CPU paths) ----

def upfirdn2d_native(input, kernel, up_x, up_y, down_x, down_y, pad_x0, pad_x1, pad_y0, pad_y1):
    _, channel, in_h, in_w = input.shape
    input = input.reshape(-1, in_h, in_w, 1)
    _, in_h, in_w, minor = input.shape
    kernel_h, kernel_w = kernel.shape
    out = input.view(-1, in_h, 1, in_w, 1, minor)
    out = F.pad(out, [0, 0, 0, up_x - 1, 0, 0, 0, up_y - 1])
    out = out.view(-1, in_h * up_y, in_w * up_x, minor)
    out = F.pad(out, [0, 0, max(pad_x0, 0), max(pad_x1, 0), max(pad_y0, 0), max(pad_y1, 0)])
    out = out[:, max(-pad_y0, 0): out.shape[1] - max(-pad_y1, 0),
              max(-pad_x0, 0): out.shape[2] - max(-pad_x1, 0), :]
    out = out.permute(0, 3, 1, 2)
    out = out.reshape([-1, 1, in_h * up_y + pad_y0 + pad_y1, in_w * up_x + pad_x0 + pad_x1])
    w = torch.flip(kernel, [0, 1]).view(1, 1, kernel_h, kernel_w)
    out = F.conv2d(out, w)
    out = out.reshape(-1, minor, in_h * up_y + pad_y0 + pad_y1 - kernel_h + 1,
                      in_w * up_x + pad_x0 + pad_x1 - kernel_w + 1)
    out = out.permute(0, 2, 3, 1)
    out = out[:, ::down_y, ::down_x, :]
    out_h = (in_h * up_y + pad_y0 + pad_y1 - kernel_h + down_y) // down_y
    out_w = (in_w * up_x + pad_x0 + pad_x1 - kernel_w + down_x) // down_x
    return out.view(-1, channel, out_h, out_w)


def upfirdn2d(input, kernel, up=1, down=1, pad=(0, 0)):
    return upfirdn2d_native(input, kernel, up, up, down, down, pad[0], pad[1], pad[0], pad[1])


def fused_leaky_relu(input, bias=None, negative_slope=0.2, scale=2 ** 0.5):
    if bias is not None:
        rest_dim = [1] * (input.ndim - bias.ndim - 1)
        return F.leaky_relu(input + bias.view(1, bias.shape[0], *rest_dim), negative_slope=0.2) * scale
    return F.leaky_relu(input, negative_slope=0.2) * scale


class FusedLeakyReLU(nn.Module):
    def __init__(self, channel, bias=True, negative_slope=0.2, scale=2 ** 0.5):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel)) if bias else None
        self.negative_slope = negative_slope
        self.scale = scale

    def forward(self, input):
        return fused_leaky_relu(input, self.bias, self.negative_slope, self.scale)


# ---- rosinality model.py (Generator) ----

class PixelNorm(nn.Module):
    def forward(self, input):
        return input * torch.rsqrt(torch.mean(input ** 2, dim=1, keepdim=True) + 1e-8)


def make_kernel(k):
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    k /= k.sum()
    return k


class Upsample(nn.Module):
    def __init__(self, kernel, factor=2):
        super().__init__()
        self.factor = factor
        kernel = make_kernel(kernel) * (factor ** 2)
        self.register_buffer("kernel", kernel)
        p = kernel.shape[0] - factor
        pad0 = (p + 1) // 2 + factor - 1
        pad1 = p // 2
        self.pad = (pad0, pad1)

    def forward(self, input):
        return upfirdn2d(input, self.kernel, up=self.factor, down=1, pad=self.pad)


class Blur(nn.Module):
    def __init__(self, kernel, pad, upsample_factor=1):
        super().__init__()
        kernel = make_kernel(kernel)
        if upsample_factor > 1:
            kernel = kernel * (upsample_factor ** 2)
        self.register_buffer("kernel", kernel)
        self.pad = pad

    def forward(self, input):
        return upfirdn2d(input, self.kernel, pad=self.pad)


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, bias_init=0, lr_mul=1, activation=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_dim).fill_(bias_init)) if bias else None
        self.activation = activation
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, input):
        if self.activation:
            out = F.linear(input, self.weight * self.scale)
            out = fused_leaky_relu(out, self.bias * self.lr_mul)
        else:
            out = F.linear(input, self.weight * self.scale, bias=self.bias * self.lr_mul)
        return out


class ModulatedConv2d(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, demodulate=True, upsample=False,
                 blur_kernel=[1, 3, 3, 1], fused=True):
        super().__init__()
        self.eps = 1e-8
        self.kernel_size = kernel_size
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.upsample = upsample
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            pad0 = (p + 1) // 2 + factor - 1
            pad1 = p // 2 + 1
            self.blur = Blur(blur_kernel, pad=(pad0, pad1), upsample_factor=factor)
        fan_in = in_channel * kernel_size ** 2
        self.scale = 1 / math.sqrt(fan_in)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)
        self.demodulate = demodulate
        self.fused = fused

    def forward(self, input, style):
        batch, in_channel, height, width = input.shape
        if not self.fused:
            # rosinality's non-fused path: scale input, shared conv, scale output (fastest on CPU).
            weight = self.scale * self.weight.squeeze(0)
            style = self.modulation(style)
            if self.demodulate:
                w = weight.unsqueeze(0) * style.view(batch, 1, in_channel, 1, 1)
                dcoefs = (w.square().sum((2, 3, 4)) + 1e-8).rsqrt()
            input = input * style.reshape(batch, in_channel, 1, 1)
            if self.upsample:
                weight = weight.transpose(0, 1)
                out = F.conv_transpose2d(input, weight, padding=0, stride=2)
                out = self.blur(out)
            else:
                out = F.conv2d(input, weight, padding=self.padding)
            if self.demodulate:
                out = out * dcoefs.view(batch, -1, 1, 1)
            return out

        style = self.modulation(style).view(batch, 1, in_channel, 1, 1)
        weight = self.scale * self.weight * style
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(batch, self.out_channel, 1, 1, 1)
        weight = weight.view(batch * self.out_channel, in_channel, self.kernel_size, self.kernel_size)
        if self.upsample:
            input = input.view(1, batch * in_channel, height, width)
            weight = weight.view(batch, self.out_channel, in_channel, self.kernel_size, self.kernel_size)
            weight = weight.transpose(1, 2).reshape(batch * in_channel, self.out_channel, self.kernel_size,
                                                    self.kernel_size)
            out = F.conv_transpose2d(input, weight, padding=0, stride=2, groups=batch)
            _, _, height, width = out.shape
            out = out.view(batch, self.out_channel, height, width)
            out = self.blur(out)
        else:
            input = input.view(1, batch * in_channel, height, width)
            out = F.conv2d(input, weight, padding=self.padding, groups=batch)
            _, _, height, width = out.shape
            out = out.view(batch, self.out_channel, height, width)
        return out


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, image, noise=None):
        if noise is None:
            batch, _, height, width = image.shape
            noise = image.new_empty(batch, 1, height, width).normal_()
        return image + self.weight * noise


class ConstantInput(nn.Module):
    def __init__(self, channel, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, input):
        return self.input.repeat(input.shape[0], 1, 1, 1)


class StyledConv(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, upsample=False,
                 blur_kernel=[1, 3, 3, 1], demodulate=True, fused=True):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel, demodulate=demodulate, fused=fused)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, input, style, noise=None):
        out = self.conv(input, style)
        out = self.noise(out, noise=noise)
        return self.activate(out)


class ToRGB(nn.Module):
    def __init__(self, in_channel, style_dim, upsample=True, blur_kernel=[1, 3, 3, 1], fused=True):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False, fused=fused)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, input, style, skip=None):
        out = self.conv(input, style)
        out = out + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out



def stylegan2_channels(channel_multiplier, channel_divisor=1):
    """rosinality's channel table per resolution, divided by channel_divisor (at least 1): G and D share it."""
    channels = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channel_multiplier, 128: 128 * channel_multiplier,
                256: 64 * channel_multiplier, 512: 32 * channel_multiplier, 1024: 16 * channel_multiplier}
    return {k: max(1, v // channel_divisor) for k, v in channels.items()}


class Generator(nn.Module):
    def __init__(self, size, style_dim, n_mlp, channel_multiplier=2, blur_kernel=[1, 3, 3, 1], lr_mlp=0.01,
                 channel_divisor=1, fused=True):
        super().__init__()
        self.size = size
        self.style_dim = style_dim
        layers = [PixelNorm()]
        for i in range(n_mlp):
            layers.append(EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu"))
        self.style = nn.Sequential(*layers)
        self.channels = stylegan2_channels(channel_multiplier, channel_divisor)
        self.input = ConstantInput(self.channels[4])
        self.conv1 = StyledConv(self.channels[4], self.channels[4], 3, style_dim, blur_kernel=blur_kernel, fused=fused)
        self.to_rgb1 = ToRGB(self.channels[4], style_dim, upsample=False, fused=fused)
        self.log_size = int(math.log(size, 2))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.convs = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        in_channel = self.channels[4]
        for layer_idx in range(self.num_layers):
            res = (layer_idx + 5) // 2
            shape = [1, 1, 2 ** res, 2 ** res]
            self.noises.register_buffer(f"noise_{layer_idx}", torch.randn(*shape))
        for i in range(3, self.log_size + 1):
            out_channel = self.channels[2 ** i]
            self.convs.append(StyledConv(in_channel, out_channel, 3, style_dim, upsample=True,
                                         blur_kernel=blur_kernel, fused=fused))
            self.convs.append(StyledConv(out_channel, out_channel, 3, style_dim, blur_kernel=blur_kernel, fused=fused))
            self.to_rgbs.append(ToRGB(out_channel, style_dim, fused=fused))
            in_channel = out_channel
        self.n_latent = self.log_size * 2 - 2

    def mean_latent(self, n_latent):
        latent_in = torch.randn(n_latent, self.style_dim, device=self.input.input.device)
        return self.style(latent_in).mean(0, keepdim=True)

    def get_latent(self, input):
        return self.style(input)

    def forward(self, styles, return_latents=False, inject_index=None, truncation=1, truncation_latent=None,
                input_is_latent=False, noise=None, randomize_noise=True):
        if not input_is_latent:
            styles = [self.style(s) for s in styles]
        if noise is None:
            if randomize_noise:
                noise = [None] * self.num_layers
            else:
                noise = [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        if truncation < 1:
            styles = [truncation_latent + truncation * (style - truncation_latent) for style in styles]
        if len(styles) < 2:
            inject_index = self.n_latent
            if styles[0].ndim < 3:
                latent = styles[0].unsqueeze(1).repeat(1, inject_index, 1)
            else:
                latent = styles[0]
        else:
            latent = styles[0].unsqueeze(1).repeat(1, inject_index, 1)
            latent2 = styles[1].unsqueeze(1).repeat(1, self.n_latent - inject_index, 1)
            latent = torch.cat([latent, latent2], 1)
        out = self.input(latent)
        out = self.conv1(out, latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, noise1, noise2, to_rgb in zip(self.convs[::2], self.convs[1::2], noise[1::2],
                                                        noise[2::2], self.to_rgbs):
            out = conv1(out, latent[:, i], noise=noise1)
            out = conv2(out, latent[:, i + 1], noise=noise2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        image = skip
        return (image, latent) if return_latents else (image, None)


# ---- fixtures ----

def write_safetensors(path, tensors, metadata):
    """Minimal safetensors writer (F32, little-endian), names sorted."""
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def randomize(g, seed):
    """Nonzero biases and noise strengths, so those paths show in the outputs."""
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("modulation.bias"):
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=gen) / (g.style[1].lr_mul if name.startswith("style.") else 1))
            elif name.endswith("noise.weight"):
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))


GRAD_PARAMS = ["input.input", "conv1.conv.weight", "conv1.noise.weight",
               "convs.0.conv.weight", "convs.0.conv.modulation.weight", "convs.1.activate.bias", "to_rgbs.0.bias"]


def dump_layers(g, wplus, r, out_dir):
    """Opt-in diagnostics (--dump-layers): for every StyledConv and ToRGB of the float64 w+ run, the
    layer's input x, code w and output gradient g (all rounded to float32), and the layer-local
    gradients d(g·layer(x, w))/dx and /dw in float64 and in PyTorch float32 from those same inputs:
    layer_<name>_{x,w,gout,dx64,dw64,dx32,dw32}.npy, plus layer_order.txt (name, w+ row)."""
    records = []

    def hook(name):
        def f(mod, inputs, output):
            output.retain_grad()
            records.append((name, mod, inputs, output))
        return f
    mods = [(n, m) for n, m in g.named_modules() if isinstance(m, (StyledConv, ToRGB))]
    handles = [m.register_forward_hook(hook(n)) for n, m in mods]
    wp = wplus.clone().requires_grad_(True)
    out = g([wp], input_is_latent=True, randomize_noise=False)[0]
    (out * r).sum().backward()
    for h in handles:
        h.remove()
    noise_index = {"conv1": 0, **{f"convs.{k}": k + 1 for k in range(len(g.convs))}}
    save = lambda name, t: np.save(os.path.join(out_dir, name + ".npy"), t.detach().float().numpy())
    order = []
    for name, mod, inputs, output in records:
        x, w = inputs[0].detach().float(), inputs[1].detach().float()
        gout = output.grad.detach().float()
        save(f"layer_{name}_x", x); save(f"layer_{name}_w", w); save(f"layer_{name}_gout", gout)
        for dtype, tag in ((torch.float64, "64"), (torch.float32, "32")):
            m = copy.deepcopy(mod).to(dtype)
            xi, wi = x.to(dtype).requires_grad_(True), w.to(dtype).requires_grad_(True)
            if isinstance(mod, StyledConv):
                noise = getattr(g.noises, f"noise_{noise_index[name]}").to(dtype)
                y = m(xi, wi, noise=noise)
            else:
                y = m(xi, wi)  # the skip only adds; its gradient does not depend on x or w
            dx, dw = torch.autograd.grad(y, [xi, wi], gout.to(dtype))
            save(f"layer_{name}_dx{tag}", dx); save(f"layer_{name}_dw{tag}", dw)
        order.append(name)
    with open(os.path.join(out_dir, "layer_order.txt"), "w") as f:
        f.write("\n".join(order) + "\n")


def make(out_dir, size, style_dim, n_mlp, cm, divisor, seed, batch=2, mean_count=256, torch32=False,
         layers=False):
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    g = Generator(size, style_dim, n_mlp, channel_multiplier=cm, channel_divisor=divisor)
    randomize(g, seed)
    g = g.double().eval()
    meta = {"arch": "stylegan2", "size": str(size), "style_dim": str(style_dim), "n_mlp": str(n_mlp),
            "channel_multiplier": str(cm), "lr_mlp": "0.01"}
    if divisor != 1:
        meta["channel_divisor"] = str(divisor)
    write_safetensors(os.path.join(out_dir, "weights.safetensors"),
                      {k: v.float().numpy() for k, v in g.state_dict().items()}, meta)
    # Inputs are rounded to float32 first, so both sides see identical values.
    f32 = lambda t: t.float().double()
    save = lambda name, t: np.save(os.path.join(out_dir, name + ".npy"), t.detach().float().numpy())
    gen = torch.Generator().manual_seed(seed + 2)
    randn = lambda *s: f32(torch.randn(*s, generator=gen, dtype=torch.float64))
    z, w, wplus = randn(batch, style_dim), randn(batch, style_dim), randn(batch, g.n_latent, style_dim)
    mean_z = randn(mean_count, style_dim)
    with torch.no_grad():
        save("z", z); save("out_z", g([z], randomize_noise=False)[0])
        save("w", w); save("out_w", g([w], input_is_latent=True, randomize_noise=False)[0])
        save("wplus", wplus); save("out_wplus", g([wplus], input_is_latent=True, randomize_noise=False)[0])
        zero = [torch.zeros_like(getattr(g.noises, f"noise_{i}")) for i in range(g.num_layers)]
        save("out_wplus_zero", g([wplus], input_is_latent=True, noise=zero)[0])
        mean = g.style(mean_z).mean(0, keepdim=True)
        save("mean_z", mean_z); save("mean_latent", mean)
        save("out_trunc", g([z], truncation=0.7, truncation_latent=f32(mean), randomize_noise=False)[0])
    # Gradient of sum(out * R) with respect to w+ and some weights.
    wp = wplus.clone().requires_grad_(True)
    out = g([wp], input_is_latent=True, randomize_noise=False)[0]
    r = randn(*out.shape)
    (out * r).sum().backward()
    save("grad_seed", r); save("grad_wplus", wp.grad)
    if torch32:
        # PyTorch's own float32 gradient: how far float32 arithmetic alone lands from the float64 reference.
        g32 = copy.deepcopy(g).float()
        wp32 = wplus.float().clone().requires_grad_(True)
        (g32([wp32], input_is_latent=True, randomize_noise=False)[0] * r.float()).sum().backward()
        save("grad_wplus_torch32", wp32.grad)
    if layers:
        dump_layers(g, wplus, r, out_dir)
    params = dict(g.named_parameters())
    for name in GRAD_PARAMS:
        if name in params:
            save("grad_" + name, params[name].grad)
    print(f"{out_dir}: size {size}, style_dim {style_dim}, n_mlp {n_mlp}, cm {cm}, divisor {divisor}; "
          f"out_wplus range [{out.min().item():.3f}, {out.max().item():.3f}]")


# (name, size, style_dim, n_mlp, channel_multiplier, channel_divisor, seed)
FIXTURES = [
    ("s64_cm1", 64, 16, 3, 1, 32, 1),
    ("s64_cm2", 64, 12, 2, 2, 32, 2),
    ("s16_cm2", 16, 8, 1, 2, 32, 3),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests",
                                                  "ModelsTests", "Fixtures"))
    ap.add_argument("--name", help="make one custom fixture DIR/NAME from the options below")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--style-dim", type=int, default=512)
    ap.add_argument("--n-mlp", type=int, default=8)
    ap.add_argument("--channel-multiplier", type=int, default=1)
    ap.add_argument("--channel-divisor", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--dump-layers", action="store_true",
                    help="with --name: also save per-layer inputs and layer-local gradients (diagnostics)")
    args = ap.parse_args()
    torch.set_grad_enabled(True)
    if args.name:
        make(os.path.join(args.out, args.name), args.size, args.style_dim, args.n_mlp, args.channel_multiplier,
             args.channel_divisor, args.seed, batch=args.batch, torch32=True, layers=args.dump_layers)
        return
    for name, size, sd, n_mlp, cm, div, seed in FIXTURES:
        make(os.path.join(args.out, name), size, sd, n_mlp, cm, div, seed)


if __name__ == "__main__":
    main()
