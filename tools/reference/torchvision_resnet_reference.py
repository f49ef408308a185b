"""torchvision ResNets as the reference for vicreg/Models (run by tests/Vicreg/Models under /usr/bin/python3).

  names ARCH STEM IN_CHANNELS
      prints JSON {"state": [[name, shape], ...] in state_dict order, "parameters": count}, without fc
  parity ARCH STEM IN_CHANNELS N H W SEED WEIGHTS IO
      builds the network with random weights and random BatchNorm statistics, writes its state dict to
      WEIGHTS and, to IO, an input x [N, C, H, W] with the eval-mode output "features" (and, run in
      training mode on a copy, "train_features"); "features64" and "train_features64" are the same
      network (the same float32 weights, exactly widened) run in float64: the exact result to within
      float64 rounding, against which the float32 outputs' own rounding error is measured
  load ARCH STEM IN_CHANNELS WEIGHTS IO OUT
      loads WEIGHTS (written by our StateDictFile) with load_state_dict(strict=True), checks that every
      tensor keeps torchvision's dtype, and writes to OUT the eval-mode features of IO's "x"

The "cifar" stem is torchvision's ResNet with conv1 = 3x3 stride 1 padding 1 and no max-pool.
"""
import copy
import json
import sys

import torch
import torchvision

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import safetensors_lite  # noqa: E402


def build(arch, stem, in_channels):
    model = getattr(torchvision.models, arch)(zero_init_residual=True)
    if stem == "cifar":
        model.conv1 = torch.nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = torch.nn.Identity()
    elif in_channels != 3:
        model.conv1 = torch.nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    model.fc = torch.nn.Identity()
    return model


def names(arch, stem, in_channels):
    # Names and shapes only: skip the (slow) random initialization of every layer.
    torch.nn.init.kaiming_normal_ = lambda t, *a, **k: t
    torch.nn.Conv2d.reset_parameters = lambda self: None
    model = build(arch, stem, int(in_channels))
    state = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    count = sum(p.numel() for p in model.parameters())
    print(json.dumps({"state": state, "parameters": count}))


def random_model(arch, stem, in_channels, seed):
    """The network with random weights and random BatchNorm statistics (seeded)."""
    torch.manual_seed(int(seed))
    model = build(arch, stem, int(in_channels))
    with torch.no_grad():
        # Non-trivial BN everywhere (zero_init_residual would otherwise hide every residual branch).
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)
    return model


def parity(arch, stem, in_channels, n, h, w, seed, weights, io):
    model = random_model(arch, stem, in_channels, seed)
    x = torch.randn(int(n), int(in_channels), int(h), int(w))
    safetensors_lite.save(model.state_dict(), weights, {"format": "pt"})
    model.eval()
    with torch.no_grad():
        features = model(x)
    train_model = copy.deepcopy(model).train()
    with torch.no_grad():
        train_features = train_model(x)
    wide = copy.deepcopy(model).double()
    wide_train = copy.deepcopy(model).double().train()
    with torch.no_grad():
        features64 = wide(x.double())
        train_features64 = wide_train(x.double())
    safetensors_lite.save({"x": x, "features": features, "train_features": train_features,
                           "features64": features64, "train_features64": train_features64}, io)


def load(arch, stem, in_channels, weights, io, out):
    model = build(arch, stem, int(in_channels))
    state, _ = safetensors_lite.load(weights)
    expected = model.state_dict()
    for name, t in state.items():
        if name in expected and t.dtype != expected[name].dtype:
            raise SystemExit(f"{name}: dtype {t.dtype}, torchvision has {expected[name].dtype}")
    model.load_state_dict(state, strict=True)
    model.eval()
    x = safetensors_lite.load(io)[0]["x"]
    with torch.no_grad():
        features = model(x)
    safetensors_lite.save({"features": features}, out)


if __name__ == "__main__":
    {"names": names, "parity": parity, "load": load}[sys.argv[1]](*sys.argv[2:])
