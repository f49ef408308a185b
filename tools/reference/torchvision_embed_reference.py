"""Reference for `vicreg embed --images` (tests/Vicreg/Commands/EmbedImagesTests.cs), under /usr/bin/python3.

  resnet ARCH SEED SIZE WEIGHTS OUT IMAGE...
      a torchvision ResNet (imagenet stem, random weights and BatchNorm statistics) saved by torch.save (zip
      format) to WEIGHTS; each IMAGE opened with PIL and taken through the linear evaluation's transform as
      torchvision writes it (Resize(256 * SIZE / 224, bicubic), CenterCrop(SIZE), ToTensor, Normalize with
      ImageNet's statistics; our evaluation transform resamples bicubically as Pillow does); OUT (safetensors)
      gets the eval-mode features [N, rep] as "features"
"""
import sys

import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import safetensors_lite  # noqa: E402
import torchvision_resnet_reference  # noqa: E402


def evaluation_transform(size):
    return transforms.Compose([
        transforms.Resize(round(256 * size / 224), interpolation=InterpolationMode.BICUBIC),
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


if __name__ == "__main__":
    {"resnet": resnet}[sys.argv[1]](*sys.argv[2:])
