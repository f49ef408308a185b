#!/usr/bin/python3
"""Anchor for the image-pipeline benchmark: decode + the official VICReg two-view augmentation
(facebookresearch/vicreg augmentations.py, restated) through torchvision's ImageFolder and DataLoader
on PIL, with one worker process per core. Prints one JSON line with images/s of the timed epochs.

Usage: /usr/bin/python3 tools/reference/torchvision_pipeline.py ROOT [--workers N] [--batch-size B]
       [--epochs E] [--size S]   (the first epoch warms the workers up and is not timed)
"""
import argparse
import json
import os
import time

import numpy as np
import torch
from PIL import ImageFilter, ImageOps
from torchvision import datasets, transforms
from torchvision.transforms import InterpolationMode


class GaussianBlur:
    def __init__(self, p):
        self.p = p

    def __call__(self, img):
        if np.random.rand() < self.p:
            sigma = np.random.rand() * 1.9 + 0.1
            return img.filter(ImageFilter.GaussianBlur(sigma))
        return img


class Solarization:
    def __init__(self, p):
        self.p = p

    def __call__(self, img):
        if np.random.rand() < self.p:
            return ImageOps.solarize(img)
        return img


class TrainTransform:
    def __init__(self, size):
        def view(blur_p, solarize_p):
            return transforms.Compose([
                transforms.RandomResizedCrop(size, interpolation=InterpolationMode.BICUBIC),
                transforms.RandomHorizontalFlip(p=0.5),
                transforms.RandomApply([transforms.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)], p=0.8),
                transforms.RandomGrayscale(p=0.2),
                GaussianBlur(p=blur_p),
                Solarization(p=solarize_p),
                transforms.ToTensor(),
                transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
            ])
        self.transform = view(1.0, 0.0)
        self.transform_prime = view(0.1, 0.2)

    def __call__(self, sample):
        return self.transform(sample), self.transform_prime(sample)


def worker_init(worker_id):
    np.random.seed(1234 + worker_id)
    torch.set_num_threads(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = datasets.ImageFolder(args.root, TrainTransform(args.size))
    loader = torch.utils.data.DataLoader(
        ds, batch_size=args.batch_size, shuffle=True, num_workers=args.workers, drop_last=False,
        persistent_workers=args.workers > 0, worker_init_fn=worker_init)
    timed_images, timed_seconds = 0, 0.0
    for epoch in range(args.epochs):
        start = time.perf_counter()
        n = 0
        for (x1, x2), _ in loader:
            n += x1.shape[0]
        elapsed = time.perf_counter() - start
        if epoch > 0 or args.epochs == 1:
            timed_images += n
            timed_seconds += elapsed
    print(json.dumps({"images": timed_images, "seconds": timed_seconds, "images_per_second": timed_images / timed_seconds,
                      "workers": args.workers, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
