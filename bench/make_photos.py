#!/usr/bin/env python3
"""Turns a synthetic CUB-layout folder (`c2am synth cub`) into real-sized
photographs in place: every image becomes 500x375 (landscape) or 375x500
(portrait, every fifth image), with per-pixel Gaussian noise (sensor-like
grain) chosen so the JPEG at quality 90 weighs 50-80 KB, i.e. ImageNet's
typical file; boxes in bounding_boxes.txt are scaled with the image.
The loader benchmarks of issue 12 (docs/benchmarks.md) run on this set.

Usage: /usr/bin/python3 bench/make_photos.py CUB_ROOT [--sigma 9] [--quality 90]
"""
import argparse
import io
import os

import numpy as np
from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--sigma", type=float, default=9.0, help="noise standard deviation (0-255 scale)")
    ap.add_argument("--quality", type=int, default=90)
    args = ap.parse_args()
    with open(os.path.join(args.root, "images.txt")) as f:
        paths = dict(line.split() for line in f if line.strip())
    boxes_file = os.path.join(args.root, "bounding_boxes.txt")
    boxes = {}
    with open(boxes_file) as f:
        for line in f:
            if line.strip():
                i, *xywh = line.split()
                boxes[i] = [float(v) for v in xywh]
    rng = np.random.default_rng(0)
    sizes = []
    for n, (i, rel) in enumerate(sorted(paths.items(), key=lambda kv: int(kv[0]))):
        path = os.path.join(args.root, "images", rel)
        img = Image.open(path).convert("RGB")
        w, h = (375, 500) if n % 5 == 4 else (500, 375)
        sx, sy = w / img.width, h / img.height
        img = img.resize((w, h), Image.BICUBIC)
        a = np.asarray(img).astype(np.float32) + rng.normal(0.0, args.sigma, (h, w, 3)).astype(np.float32)
        img = Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=args.quality)
        with open(path, "wb") as out:
            out.write(buf.getvalue())
        sizes.append(len(buf.getvalue()))
        if i in boxes:
            x, y, bw, bh = boxes[i]
            boxes[i] = [x * sx, y * sy, bw * sx, bh * sy]
    with open(boxes_file, "w") as f:
        for i in sorted(boxes, key=int):
            f.write("{} {}\n".format(i, " ".join("{:.1f}".format(v) for v in boxes[i])))
    sizes = np.array(sizes) / 1000.0
    print("{} images, JPEG q{}: {:.0f}-{:.0f} KB (median {:.0f} KB)".format(
        len(sizes), args.quality, sizes.min(), sizes.max(), np.median(sizes)))


if __name__ == "__main__":
    main()
