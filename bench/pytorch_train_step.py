#!/usr/bin/python3
"""Time one C²AM training step of the PyTorch reference, eager mode, on CPU or CUDA.

    /usr/bin/python3 bench/pytorch_train_step.py [--arch resnet50] [--size 224]
        [--batch 8] [--threads 2] [--steps 10] [--warmup 2] [--alpha 0.05]
        [--device cpu|cuda] [--bf16] [--channels-last]

--bf16 runs the forward under torch.autocast(dtype=bfloat16) with the losses
in fp32 (the embeddings cast back), as c2am's run.precision = "bf16" does;
--channels-last converts the model and the input. On CUDA the timing
synchronises around the timed steps, the peak allocated memory is reported,
and (PyTorch >= 2.1) the step's FLOPs are counted once with FlopCounterMode
for the model FLOPs utilisation (--peak-tflops: the GPU's dense bf16/fp32 peak).

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
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--bf16", action="store_true", help="autocast the forward to bfloat16, losses in fp32")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="device peak for the MFU figure (0 = none)")
    args = ap.parse_args()
    if args.batch < 2 or args.steps < 1 or args.warmup < 0 or args.threads < 1:
        ap.error("need --batch >= 2, --steps >= 1, --warmup >= 0, --threads >= 1")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = ref.C2AM(args.arch).to(device)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    model.train()
    opt = make_optimizer(model, args.lr, args.head_lr_mult, weight_decay=1e-4, momentum=args.momentum)
    base_lrs = [g["lr"] for g in opt.param_groups]
    images = torch.randn(args.batch, 3, args.size, args.size, device=device).contiguous(memory_format=fmt)
    max_step = args.warmup + args.steps

    def forward_losses():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
            v_f, v_b, _ = model(images)
        return ref.c2am_losses(v_f.float(), v_b.float(), args.alpha)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step(i):
        scale = (1 - i / max_step) ** 0.9  # poly, set before the step as the reference does
        for g, base in zip(opt.param_groups, base_lrs):
            g["lr"] = base * scale
        opt.zero_grad(set_to_none=True)
        losses = forward_losses()
        losses["loss_total"].backward()
        opt.step()
        return losses["loss_total"]

    print(f"torch {torch.__version__}, {args.arch}, {args.batch}x3x{args.size}x{args.size}, "
          f"{torch.get_num_threads()} threads, {args.warmup} warmup + {args.steps} timed steps", file=sys.stderr)
    times_ms = []
    for i in range(max_step):
        if i == args.warmup and device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        sync()
        t0 = time.perf_counter()
        loss = step(i)
        sync()
        dt = (time.perf_counter() - t0) * 1e3
        timed = i >= args.warmup
        if timed:
            times_ms.append(dt)
        print(f"  step {i:3d}{'' if timed else ' (warmup)'}: {dt:9.1f} ms  loss {loss.item():.5f}", file=sys.stderr)

    flops = None
    try:
        from torch.utils.flop_counter import FlopCounterMode  # PyTorch >= 2.1
        counter = FlopCounterMode(display=False)
        with counter:
            forward_losses()["loss_total"].backward()
        flops = counter.get_total_flops()
        opt.zero_grad(set_to_none=True)
    except ImportError:
        pass
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
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "bf16": args.bf16,
        "channels_last": args.channels_last,
    }
    if device.type == "cuda":
        result["peak_memory_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    if flops is not None:
        result["step_gflops"] = round(flops / 1e9, 2)
        result["achieved_tflops"] = round(flops / (med / 1e3) / 1e12, 2)
        if args.peak_tflops > 0:
            result["mfu"] = round(flops / (med / 1e3) / 1e12 / args.peak_tflops, 4)
    print(f"median {med:.1f} ms/step (min {min(times_ms):.1f}, max {max(times_ms):.1f}), "
          f"{result['images_per_s']:.2f} images/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
