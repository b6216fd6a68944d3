#!/usr/bin/env python3
"""Convert a rosinality/stylegan2-pytorch checkpoint (.pt with "g_ema") to safetensors for tedi.

    pip install torch
    python tools/convert_rosinality.py 550000.pt ffhq.safetensors --size 1024 \
        [--style-dim 512] [--n-mlp 8] [--channel-multiplier 2] [--key g_ema]

State-dict names are kept unchanged (style.1.weight, convs.0.conv.weight, noises.noise_0, ...);
the config goes into __metadata__ (size, style_dim, n_mlp, channel_multiplier, lr_mlp, arch), so a
graph can reference the file without repeating it. Weights are stored as float32.
When --size is omitted it is inferred from the number of noise buffers.
"""
import argparse
import json
import re
import struct
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("output")
    ap.add_argument("--key", default="g_ema", help="generator entry of the checkpoint (default g_ema; '' = the file is a state dict)")
    ap.add_argument("--size", type=int)
    ap.add_argument("--style-dim", type=int)
    ap.add_argument("--n-mlp", type=int)
    ap.add_argument("--channel-multiplier", type=int, help="default: inferred from convs.6 (64 px) when size >= 64, else 2")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("convert_rosinality.py needs PyTorch to read .pt checkpoints: pip install torch")

    ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    if args.key:
        if not isinstance(ckpt, dict) or args.key not in ckpt:
            keys = list(ckpt.keys())[:10] if isinstance(ckpt, dict) else type(ckpt).__name__
            sys.exit(f"{args.checkpoint}: no '{args.key}' entry (has {keys}); pass --key or --key '' for a bare state dict")
        sd = ckpt[args.key]
    else:
        sd = ckpt
    sd = {k: v for k, v in sd.items() if hasattr(v, "detach")}

    noises = [int(m.group(1)) for k in sd for m in [re.fullmatch(r"noises\.noise_(\d+)", k)] if m]
    size = args.size or (2 ** ((max(noises) + 4) // 2) if noises else None)
    if size is None:
        sys.exit("cannot infer --size (no noises.noise_i buffers); pass --size")
    style_dim = args.style_dim or sd["style.1.weight"].shape[1]
    n_mlp = args.n_mlp or len([k for k in sd if re.fullmatch(r"style\.\d+\.weight", k)])
    cm = args.channel_multiplier
    if cm is None:
        cm = sd["convs.6.conv.weight"].shape[1] // 256 if "convs.6.conv.weight" in sd else 2
    meta = {"arch": "stylegan2", "size": str(size), "style_dim": str(style_dim), "n_mlp": str(n_mlp),
            "channel_multiplier": str(cm), "lr_mlp": "0.01",
            "source": args.checkpoint.split("/")[-1]}

    header = {"__metadata__": meta}
    blobs, offset = [], 0
    for name in sorted(sd):
        b = sd[name].detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(sd[name].shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(args.output, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print(f"{args.output}: {len(sd)} tensors, {offset / 2**20:.1f} MiB, size {size}, style_dim {style_dim}, "
          f"n_mlp {n_mlp}, channel_multiplier {cm}")


if __name__ == "__main__":
    main()
