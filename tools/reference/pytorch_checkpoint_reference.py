"""torch.save files for the tests of our .pth reader and writer (engine/IO/Pytorch), run by
tests/Engine/IO/PytorchCheckpointTests.cs under /usr/bin/python3.

  resnet ARCH STEM IN_CHANNELS N H W SEED FORMAT LAYOUT OUT IO
      a torchvision ResNet with random weights and BatchNorm statistics, saved with torch.save to OUT in
      FORMAT (zip | legacy) and LAYOUT: plain (its state dict), ddp ({'epoch', 'model': state dict of a
      DistributedDataParallel-wrapped VICReg model, keys module.backbone.* and module.projector.*,
      'optimizer'}); IO gets an input x and the eval-mode features
  views FORMAT OUT EXPECTED
      tensors laid out as views (a transposed matrix, two views of one storage, a strided slice with an
      offset, a scalar) and of other types (float16, bfloat16, float64, int64, int32), saved to OUT; EXPECTED
      (safetensors) holds each one made contiguous, float types as float32 (our tensors' type)
  hostile KIND OUT MARKER
      a .pth whose pickle would create the file MARKER if it were unpickled by Python (KIND: os-system,
      builtins-eval, load-from-bytes); written by hand, never loaded here
  load PTH OUT
      torch.load(PTH, weights_only=True) of a state dict; writes its tensors to OUT (safetensors) and
      prints their names and dtypes as JSON
"""
import collections
import io
import json
import pickle
import sys
import zipfile

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import safetensors_lite  # noqa: E402
import torchvision_resnet_reference  # noqa: E402


def save(obj, path, fmt):
    torch.save(obj, path, _use_new_zipfile_serialization=(fmt == "zip"))


def resnet(arch, stem, in_channels, n, h, w, seed, fmt, layout, out, io_path):
    model = torchvision_resnet_reference.random_model(arch, stem, in_channels, seed)
    x = torch.randn(int(n), int(in_channels), int(h), int(w))
    model.eval()
    with torch.no_grad():
        features = model(x)
    if layout == "plain":
        save(model.state_dict(), out, fmt)
    elif layout == "ddp":
        # The official checkpoint: torch.save(dict(epoch=..., model=model.state_dict(), optimizer=...)) of a
        # DistributedDataParallel(VICReg) whose backbone is the ResNet and projector an MLP.
        vicreg = torch.nn.Module()
        vicreg.backbone = model
        vicreg.projector = torch.nn.Sequential(torch.nn.Linear(features.shape[1], 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, 16))
        wrapper = torch.nn.Module()
        wrapper.module = vicreg  # the names DistributedDataParallel gives
        optimizer = torch.optim.SGD(wrapper.parameters(), lr=0.1, momentum=0.9)
        save({"epoch": 3, "model": wrapper.state_dict(), "optimizer": optimizer.state_dict()}, out, fmt)
    else:
        raise SystemExit(f"unknown layout {layout}")
    safetensors_lite.save({"x": x, "features": features}, io_path)


def views(fmt, out, expected):
    g = torch.Generator().manual_seed(5)
    base = torch.randn(7, 5, generator=g)
    shared = torch.randn(30, generator=g)
    state = collections.OrderedDict()
    state["transposed"] = base.t()  # strides (1, 5)
    state["base"] = base
    state["first_view"] = shared[3:13].view(2, 5)  # offset 3
    state["second_view"] = shared[10:30:4]  # offset 10, stride 4: shares the storage of first_view
    state["scalar"] = torch.tensor(2.5)
    state["half"] = torch.randn(3, 4, generator=g).half()
    state["bfloat"] = torch.randn(2, 3, generator=g).bfloat16()
    state["double"] = torch.randn(3, generator=g).double()
    state["bn.num_batches_tracked"] = torch.tensor(123456, dtype=torch.int64)
    state["int"] = torch.arange(-3, 3, dtype=torch.int32).view(2, 3)[:, 1:]  # non-contiguous int32
    save(state, out, fmt)
    safetensors_lite.save({k: (v.float() if v.is_floating_point() else v.int()).contiguous() for k, v in state.items()}, expected)


def hostile(kind, out, marker):
    """A protocol-2 pickle written opcode by opcode; Python's pickle would run the payload."""
    command = f"touch {marker}".encode()
    if kind == "os-system":
        payload = b"cos\nsystem\n(X" + len(command).to_bytes(4, "little") + command + b"tR"
    elif kind == "builtins-eval":
        code = f"open({marker!r}, 'w')".encode()
        payload = b"cbuiltins\neval\n(X" + len(code).to_bytes(4, "little") + code + b"tR"
    elif kind == "load-from-bytes":
        blob = pickle.dumps(None)
        payload = b"ctorch.storage\n_load_from_bytes\n(C" + bytes([len(blob)]) + blob + b"tR"
    else:
        raise SystemExit(f"unknown kind {kind}")
    # {'weight': payload} inside a genuine zip container
    pkl = b"\x80\x02}X\x06\x00\x00\x00weight" + payload + b"s."
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/version", "3\n")


def load(path, out):
    state = torch.load(path, weights_only=True)
    safetensors_lite.save({k: v.contiguous() for k, v in state.items()}, out)
    print(json.dumps({k: str(v.dtype) for k, v in state.items()}))


if __name__ == "__main__":
    {"resnet": resnet, "views": views, "hostile": hostile, "load": load}[sys.argv[1]](*sys.argv[2:])
