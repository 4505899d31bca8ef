#!/usr/bin/env python3
"""Compares the model/* tensors (and optionally optim/*) of two c2am checkpoints.

Usage: compare_checkpoints.py A.pt B.pt [--rtol R] [--atol A] [--exact] [--optim]
Prints the largest absolute and relative differences and exits 1 when a
tensor differs beyond atol + rtol*|b| (or at all with --exact), or when the
key sets or step counters differ.
"""
import argparse
import sys

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rtol", type=float, default=0.0)
    ap.add_argument("--atol", type=float, default=0.0)
    ap.add_argument("--exact", action="store_true")
    ap.add_argument("--optim", action="store_true", help="compare the momentum buffers too")
    args = ap.parse_args()
    a = torch.load(args.a, map_location="cpu")
    b = torch.load(args.b, map_location="cpu")
    prefixes = ("model/", "optim/") if args.optim else ("model/",)
    keys_a = sorted(k for k in a if k.startswith(prefixes))
    keys_b = sorted(k for k in b if k.startswith(prefixes))
    if keys_a != keys_b:
        print(f"key sets differ: only in A {sorted(set(keys_a) - set(keys_b))[:5]}, "
              f"only in B {sorted(set(keys_b) - set(keys_a))[:5]}")
        return 1
    if a["step"] != b["step"]:
        print(f"step differs: {a['step']} vs {b['step']}")
        return 1
    worst_abs, worst_rel, worst_key, bad = 0.0, 0.0, "", []
    for k in keys_a:
        ta, tb = a[k], b[k]
        if ta.shape != tb.shape or ta.dtype != tb.dtype:
            bad.append(f"{k}: {tuple(ta.shape)} {ta.dtype} vs {tuple(tb.shape)} {tb.dtype}")
            continue
        if not ta.is_floating_point():
            if not torch.equal(ta, tb):
                bad.append(f"{k}: integer values differ")
            continue
        diff = (ta.double() - tb.double()).abs()
        d = diff.max().item() if diff.numel() else 0.0
        rel = (diff / tb.double().abs().clamp_min(1e-12)).max().item() if diff.numel() else 0.0
        if d > worst_abs:
            worst_abs, worst_rel, worst_key = d, rel, k
        limit = args.atol + args.rtol * tb.double().abs()
        if (args.exact and d > 0) or (not args.exact and bool((diff > limit).any())):
            bad.append(f"{k}: max |diff| {d:.3g}")
    print(f"{len(keys_a)} tensors at step {a['step']}; largest |diff| {worst_abs:.3g} "
          f"(relative {worst_rel:.3g}) in {worst_key or '-'}")
    for line in bad[:10]:
        print("  differs:", line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
