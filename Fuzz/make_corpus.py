#!/usr/bin/env python3
"""Writes the seed corpora for the fuzz targets (Fuzz/corpus/<target>/), using only the
Python standard library: small valid graph files, PNGs (every colour type, 16-bit, interlaced,
palette, with and without a `tedi.graph` recipe), safetensors and npy files.

Run from anywhere: python3 Fuzz/make_corpus.py   (deterministic; the output is committed)."""
import json, os, shutil, struct, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


# ---- graphs -----------------------------------------------------------------------------------
GRAPHS = {
    "minimal.yaml": """tedi: 1
nodes:
  t: { op: input.text, text: "She is smiling." }
  w: { op: write.text, in: t, path: "cap_${seed}.txt" }
""",
    "images.yaml": """tedi: 1
name: images
params:
  width: 6
  alpha: 0.25
nodes:
  photo: { op: input.image, path: photo.png }
  small: { op: image.resize, in: photo, width: "${width}", method: bilinear }
  gray:  { op: image.grayscale, in: small }
  lines: { op: sketch.edges, in: small, threshold: 0.3 }
  mixed: { op: image.blend, in: { a: small, b: gray }, alpha: "${alpha}" }
  grid:  { op: write.grid, in: { in: [small, lines, mixed] }, path: "grid_${seed}.png", columns: 3 }
  one:   { op: write.png, in: gray, path: "sub/gray.png" }
""",
    "latent.yaml": """tedi: 1
params: { layers: "4-9" }
nodes:
  a:   { op: input.latent, path: a.npy, space: "w+" }
  b:   { op: input.latent, path: b.npy }
  mix: { op: mix, in: { base: a, style: b }, layers: "${layers}", alpha: 1.0 }
  out: { op: write.npy, in: mix, path: mixed.npy }
""",
    "labels.yaml": """tedi: 1
nodes:
  lab: { op: input.label, path: labels.png, format: palette }
  col: { op: label.colorize, in: lab }
  sk:  { op: input.sketch, path: s.png }
  out: { op: write.grid, in: { in: [col, sk] }, columns: 2, padding: 0, size: 32, path: g.png }
""",
    "anchors.yaml": """tedi: 1
params: &p
  seed: 3
  size: 64
nodes:
  face: &f { op: synthfaces.sample, index: 1, size: "${size}" }
  face2: { op: synthfaces.sample, index: 2, size: 64, caption: 3 }
  e: { op: sketch.edges, in: face.image }
  w: { op: write.png, in: e, path: "e_${seed}.png" }
  c: { op: write.text, in: face2.caption, path: "c.txt" }
""",
    "errors.yaml": """tedi: 2
bogus: 1
nodes:
  a: { op: input.imag, path: x.png }
  b: { op: image.resize, in: { inn: a.out }, widht: 3 }
  c: { op: image.blend, in: { a: c, b: b } }
  d: { op: write.png, in: c, path: ../../etc/passwd }
  e: [1, 2]
  f: { op: write.npy, in: b, path: /abs.npy }
  g: { op: input.text, text: "${missing}" }
""",
    "models_errors.yaml": """tedi: 1
models:
  ffhq: ffhq.safetensors
  small: { path: small.safetensors, size: 64, style_dim: 64, n_mlp: 2, channel_multiplier: 1 }
nodes:
  w:     { op: sample, model: small, count: 2, truncation: 0.7, space: w+ }
  style: { op: sample, model: ffhq, seed: 42, space: w+ }
  mixed: { op: mix, in: { base: w, style: style }, layers: "8-17" }
  image: { op: synthesize, model: small, in: mixed, noise: const }
  sheet: { op: write.png, in: image, path: "mix_${seed}.png" }
""",
    "flow.yaml": '{tedi: 1, nodes: {t: {op: input.text, text: "x"}, w: {op: write.text, in: t, path: "a.txt"}}}\n',
}
for name, text in GRAPHS.items():
    put("graph", name, text)
demo = os.path.join(ROOT, "Graphs", "demo.yaml")
if os.path.exists(demo):
    shutil.copy(demo, os.path.join(OUT, "graph", "demo.yaml"))


# ---- PNG --------------------------------------------------------------------------------------
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def adam7(pixels, width, height, bpp):
    """Adam7 pass layout of 8-bit pixel rows (`pixels[y]` is a bytes row, `bpp` bytes per pixel)."""
    out = []
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
        for y in range(y0, height, dy):
            row = b"".join(pixels[y][x * bpp:(x + 1) * bpp] for x in range(x0, width, dx))
            if row:
                out.append(row)
    return out


def png(width, height, color, depth, rows, text=None, palette=None, interlace=0, trns=None):
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace))
    if palette:
        out += chunk(b"PLTE", bytes(c for rgb in palette for c in rgb))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    for k, v in (text or {}).items():
        out += chunk(b"tEXt", k.encode("latin-1") + b"\0" + v.encode("latin-1"))
    raw = b"".join(b"\0" + r for r in rows)
    out += chunk(b"IDAT", zlib.compress(raw, 6))
    return out + chunk(b"IEND", b"")


def recipe(source, seed=0, params=None, files=None):
    q = lambda s: json.dumps(s)   # JSON strings are valid YAML double-quoted scalars
    t = "tedi-recipe: 1\n" + "graph: " + q("/work/g.yaml") + "\n" + "seed: %d\n" % seed + "params:\n"
    for k, v in sorted((params or {}).items()):
        t += "  %s: %s\n" % (q(k), q(v))
    t += "files:\n"
    for k, v in sorted((files or {}).items()):
        t += "  %s: %s\n" % (q(k), q(v))
    return t + "source: " + q(source) + "\n"


rgb_rows = [bytes((x * 40 + y * 7) % 256 for x in range(3 * 4)) for y in range(3)]
r1 = recipe(GRAPHS["anchors.yaml"], seed=2, params={"size": "64"}, files={"/work/photo.png": "ab" * 32})
r2 = recipe(GRAPHS["minimal.yaml"], seed=0)
pngs = {
    "rgb8.png": png(4, 3, 2, 8, rgb_rows),
    "rgb8_recipe.png": png(4, 3, 2, 8, rgb_rows, text={"tedi.graph": r1, "Software": "tedi"}),
    "gray8.png": png(5, 2, 0, 8, [bytes(range(5)), bytes(range(100, 105))]),
    "gray1.png": png(9, 2, 0, 1, [b"\xaa\x80", b"\x55\x00"]),
    "graya8.png": png(2, 2, 4, 8, [b"\x10\xff\x20\x80", b"\x30\x00\x40\x7f"]),
    "rgba8.png": png(2, 1, 6, 8, [b"\x01\x02\x03\x04\x05\x06\x07\x08"], text={"tedi.graph": r2}),
    "rgb16.png": png(2, 2, 2, 16, [bytes(range(12)), bytes(range(12, 24))]),
    "palette4.png": png(4, 2, 3, 4, [b"\x01\x23", b"\x32\x10"], palette=[(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)],
                        trns=b"\x00\xff"),
    "interlaced.png": png(5, 5, 2, 8, adam7([bytes((x * 9 + y) % 256 for x in range(15)) for y in range(5)], 5, 5, 3), interlace=1),
}
for name, data in pngs.items():
    put("png", name, b"\x00" + data)         # even first byte: the rest is a PNG file
put("png", "recipe_images.txt", b"\x01" + r1.encode())   # odd first byte: the rest is recipe text
put("png", "recipe_minimal.txt", b"\x01" + r2.encode())


# ---- safetensors -------------------------------------------------------------------------------
def safetensors(tensors, metadata=None):
    header, blob = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


f32 = lambda xs: struct.pack("<%df" % len(xs), *xs)
put("safetensors", "f32.safetensors", safetensors({"w": ("F32", [2, 3], f32([0.5, -1, 2, 3, 4, 1e-3]))}))
put("safetensors", "mixed.safetensors", safetensors({
    "a": ("F16", [2], struct.pack("<2e", 1.5, -2.0)),
    "b": ("BF16", [1, 2], b"\x80\x3f\x00\x40"),
    "scalar": ("F32", [], f32([7.0])),
    "empty": ("F32", [0, 4], b""),
}, metadata={"format": "pt", "arch": "stylegan2"}))
put("safetensors", "empty.safetensors", safetensors({}))


# ---- npy ---------------------------------------------------------------------------------------
def npy(descr, shape, data, version=1):
    shape_text = "(" + "".join("%d," % s for s in shape) + ")" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_text)
    head_len = 10 if version == 1 else 12
    h += " " * (-(head_len + len(h) + 1) % 64) + "\n"
    size = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + size + h.encode() + data


put("npy", "f4_2x3.npy", npy("<f4", [2, 3], f32([1, 2, 3, 4, 5, 6])))
put("npy", "f8_4.npy", npy("<f8", [4], struct.pack("<4d", 0.5, 1, -2, 3)))
put("npy", "i4_2x2.npy", npy("<i4", [2, 2], struct.pack("<4i", 1, -2, 3, 4)))
put("npy", "u1_3.npy", npy("|u1", [3], b"\x00\x7f\xff"))
put("npy", "f4_wplus_v2.npy", npy("<f4", [1, 2, 4], f32([0.1 * i for i in range(8)]), version=2))
put("npy", "scalar.npy", npy("<f4", [], f32([3.5])))
print("corpora written to", OUT)
