"""RankMe (Garrido et al. 2023) from torch.linalg.svdvals in float64: the reference for vicreg/Training/RankMe.

  python3 rankme_reference.py IN OUT

IN holds any number of [N, D] matrices. For each matrix NAME, OUT receives NAME.singular_values
(descending) and NAME.rankme = exp(-sum p log p) with p = s / sum(s) + 1e-7.
"""
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import safetensors_lite  # noqa: E402


def rankme(s, eps=1e-7):
    p = s / s.sum() + eps
    return torch.exp(-(p * torch.log(p)).sum())


def main(path_in, path_out):
    tensors, _ = safetensors_lite.load(path_in)
    out = {}
    for name, z in tensors.items():
        s = torch.linalg.svdvals(z.double())
        out[name + ".singular_values"] = s
        out[name + ".rankme"] = rankme(s)
    safetensors_lite.save(out, path_out)


if __name__ == "__main__":
    main(*sys.argv[1:])
