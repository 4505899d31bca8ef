#!/usr/bin/python3
"""Time one C²AM training step of the PyTorch reference, eager mode, on CPU.

    /usr/bin/python3 bench/pytorch_train_step.py [--arch resnet50] [--size 224]
        [--batch 8] [--threads 2] [--steps 10] [--warmup 2] [--alpha 0.05]

One step = forward in train mode, the three losses, backward, SGD step with the
reference optimiser (method doc §6): parameter groups are the backbone conv
weights (lr 1e-4) and the head conv weight (lr x10 = 1e-3 by default, see
--head-lr-mult), weight decay 1e-4, momentum 1e-4 (the reference's
positional-argument slip), poly learning rate; BatchNorm affine parameters
receive gradients but are in no group. Inputs are random, drawn once.
Prints per-step times, a summary, and one JSON line at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
import c2am_reference as ref  # noqa: E402


def make_optimizer(model, lr, head_lr_mult, weight_decay, momentum):
    backbone, head = ref.conv_weight_groups(model)
    return torch.optim.SGD(
        [
            {"params": backbone, "lr": lr, "weight_decay": weight_decay},
            {"params": head, "lr": head_lr_mult * lr, "weight_decay": weight_decay},
        ],
        lr=lr,
        momentum=momentum,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="resnet50", choices=ref.ARCHS)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--head-lr-mult", type=float, default=10.0,
                    help="head conv lr multiplier (method doc: 10; the authors' code effectively uses 1)")
    ap.add_argument("--momentum", type=float, default=1e-4, help="SGD momentum (reference: 1e-4)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.batch < 2 or args.steps < 1 or args.warmup < 0 or args.threads < 1:
        ap.error("need --batch >= 2, --steps >= 1, --warmup >= 0, --threads >= 1")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = ref.C2AM(args.arch)
    model.train()
    opt = make_optimizer(model, args.lr, args.head_lr_mult, weight_decay=1e-4, momentum=args.momentum)
    base_lrs = [g["lr"] for g in opt.param_groups]
    images = torch.randn(args.batch, 3, args.size, args.size)
    max_step = args.warmup + args.steps

    def step(i):
        scale = (1 - i / max_step) ** 0.9  # poly, set before the step as the reference does
        for g, base in zip(opt.param_groups, base_lrs):
            g["lr"] = base * scale
        opt.zero_grad(set_to_none=True)
        v_f, v_b, _ = model(images)
        losses = ref.c2am_losses(v_f, v_b, args.alpha)
        losses["loss_total"].backward()
        opt.step()
        return losses["loss_total"].item()

    print(f"torch {torch.__version__}, {args.arch}, {args.batch}x3x{args.size}x{args.size}, "
          f"{torch.get_num_threads()} threads, {args.warmup} warmup + {args.steps} timed steps", file=sys.stderr)
    times_ms = []
    for i in range(max_step):
        t0 = time.perf_counter()
        loss = step(i)
        dt = (time.perf_counter() - t0) * 1e3
        timed = i >= args.warmup
        if timed:
            times_ms.append(dt)
        print(f"  step {i:3d}{'' if timed else ' (warmup)'}: {dt:9.1f} ms  loss {loss:.5f}", file=sys.stderr)

    med = statistics.median(times_ms)
    result = {
        "bench": "pytorch_train_step",
        "torch": torch.__version__,
        "arch": args.arch,
        "size": args.size,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "warmup": args.warmup,
        "median_ms": round(med, 3),
        "min_ms": round(min(times_ms), 3),
        "max_ms": round(max(times_ms), 3),
        "images_per_s": round(args.batch / (med / 1e3), 3),
    }
    print(f"median {med:.1f} ms/step (min {min(times_ms):.1f}, max {max(times_ms):.1f}), "
          f"{result['images_per_s']:.2f} images/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
