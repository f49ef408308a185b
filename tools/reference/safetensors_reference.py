"""Cross-checks our safetensors I/O against PyTorch (run by tests/Engine/IO under /usr/bin/python3).

  write PATH   writes tensors whose values follow closed formulas the C# test recomputes
  check PATH   loads a file our writer produced and prints, per tensor, dtype, shape and two checksums
"""
import json
import math
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import safetensors_lite  # noqa: E402


def formula(n):
    # value i = sin(0.37 i - 2) * 3, computed in float64 then cast
    i = torch.arange(n, dtype=torch.float64)
    return torch.sin(0.37 * i - 2.0) * 3.0


def write(path):
    tensors = {
        "conv.weight": formula(2 * 3 * 5 * 7).reshape(2, 3, 5, 7).float(),
        "head.weight64": formula(11 * 3).reshape(11, 3),
        "half": formula(13).half(),
        "brain": formula(9).reshape(3, 3).bfloat16(),
        "bn.num_batches_tracked": torch.tensor(12345, dtype=torch.int64),
        "labels": torch.arange(-3, 4, dtype=torch.int32),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
    }
    safetensors_lite.save(tensors, path, {"format": "pt", "note": "from torch " + torch.__version__})


def check(path):
    tensors, metadata = safetensors_lite.load(path)
    out = {"metadata": metadata, "tensors": {}}
    for name, t in tensors.items():
        flat = t.reshape(-1).double()
        weights = torch.arange(1, flat.numel() + 1, dtype=torch.float64)
        out["tensors"][name] = {
            "dtype": str(t.dtype).replace("torch.", ""),
            "shape": list(t.shape),
            "sum": float(flat.sum()),
            "weighted": float((flat * weights).sum()),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](sys.argv[2])
