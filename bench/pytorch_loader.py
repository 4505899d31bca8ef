#!/usr/bin/env python3
"""PyTorch's DataLoader + torchvision transforms on a CUB-layout JPEG folder,
the same work as c2am's loader: decode (PIL), Resize((256, 256)), RandomCrop(224),
RandomHorizontalFlip, ToTensor, Normalize, batches of 64.

Usage: /usr/bin/python3 bench/pytorch_loader.py CUB_ROOT [--workers N] [--batch 64] [--epochs 2]
"""
import argparse
import json
import os
import time

import torch
from PIL import Image
from torchvision import transforms


class CubTrain(torch.utils.data.Dataset):
    def __init__(self, root, transform):
        with open(os.path.join(root, "images.txt")) as f:
            paths = dict(line.split() for line in f if line.strip())
        with open(os.path.join(root, "train_test_split.txt")) as f:
            train = {i for i, t in (line.split() for line in f if line.strip()) if t == "1"}
        self.files = [os.path.join(root, "images", paths[i]) for i in sorted(train, key=int)]
        self.transform = transform

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return self.transform(Image.open(self.files[i]).convert("RGB"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    tf = transforms.Compose([
        transforms.Resize((256, 256)), transforms.RandomCrop(224), transforms.RandomHorizontalFlip(),
        transforms.ToTensor(), transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    ds = CubTrain(args.root, tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True, drop_last=True,
                                     num_workers=args.workers, persistent_workers=args.workers > 0)
    images = 0
    t0 = time.perf_counter()
    for _ in range(args.epochs):
        for x in dl:
            images += x.shape[0]
    s = time.perf_counter() - t0
    per = args.workers if args.workers > 0 else 1
    print(f"pytorch DataLoader: {images} images in {s:.2f} s with {args.workers} workers: "
          f"{images / s:.1f} img/s, {images / s / per:.1f} img/s per worker")
    print(json.dumps({"impl": "pytorch", "workers": args.workers, "images": images, "seconds": round(s, 3),
                      "img_per_s": round(images / s, 2)}))


if __name__ == "__main__":
    main()
