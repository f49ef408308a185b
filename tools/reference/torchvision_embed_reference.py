"""Reference for `vicreg embed --images` (tests/App/Commands/EmbedImagesTests.cs), under /usr/bin/python3.

  resnet ARCH SEED SIZE WEIGHTS OUT IMAGE...
      a torchvision ResNet (imagenet stem, random weights and BatchNorm statistics) saved by torch.save (zip
      format) to WEIGHTS; each IMAGE opened with PIL and taken through the linear evaluation's transform as
      the official evaluate.py writes it (Resize(256 * SIZE / 224) with torchvision's default, bilinear,
      CenterCrop(SIZE), ToTensor, Normalize with ImageNet's statistics); OUT (safetensors)
      gets the eval-mode features [N, rep] as "features"
  throughput LIST THREADS BATCH SIZE REPEATS
      the anchor of tools/bench's embed section: the files LIST names (one per line) through PIL, the same
      transform and torchvision's resnet18 (random weights, eval mode, no grad), with THREADS torch threads and
      THREADS DataLoader workers of one thread each; one batch to warm up, then the whole list REPEATS times;
      prints {"images_per_second": best} as one JSON line
"""
import json
import sys
import time

import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import safetensors_lite  # noqa: E402
import torchvision_resnet_reference  # noqa: E402


def evaluation_transform(size):
    return transforms.Compose([
        transforms.Resize(round(256 * size / 224), interpolation=InterpolationMode.BILINEAR),
        transforms.CenterCrop(size),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])


def resnet(arch, seed, size, weights, out, *images):
    model = torchvision_resnet_reference.random_model(arch, "imagenet", 3, seed)
    torch.save(model.state_dict(), weights)
    transform = evaluation_transform(int(size))
    x = torch.stack([transform(Image.open(path).convert("RGB")) for path in images])
    model.eval()
    with torch.no_grad():
        features = model(x)
    safetensors_lite.save({"features": features.contiguous()}, out)


class Files(torch.utils.data.Dataset):
    def __init__(self, paths, transform):
        self.paths = paths
        self.transform = transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return self.transform(Image.open(self.paths[i]).convert("RGB"))


def worker_init(_):
    torch.set_num_threads(1)


def throughput(listing, threads, batch, size, repeats):
    threads, batch, size = int(threads), int(batch), int(size)
    with open(listing) as f:
        paths = [line.rstrip("\n") for line in f if line.strip()]
    torch.set_num_threads(threads)
    model = torchvision_resnet_reference.build("resnet18", "imagenet", 3).eval()
    transform = evaluation_transform(size)

    def embed(files):
        loader = torch.utils.data.DataLoader(Files(files, transform), batch_size=batch, num_workers=threads, worker_init_fn=worker_init)
        count = 0
        with torch.no_grad():
            for x in loader:
                count += model(x).shape[0]
        return count

    embed(paths[:batch])
    best = 0.0
    for _ in range(int(repeats)):
        start = time.perf_counter()
        n = embed(paths)
        best = max(best, n / (time.perf_counter() - start))
    print(json.dumps({"images_per_second": best}))


if __name__ == "__main__":
    {"resnet": resnet, "throughput": throughput}[sys.argv[1]](*sys.argv[2:])
