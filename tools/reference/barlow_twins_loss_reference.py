"""The official Barlow Twins loss (facebookresearch/barlowtwins main.py, after the projector), in float64
with autograd: the reference for vicreg/Losses/BarlowTwinsLoss.

  python3 barlow_twins_loss_reference.py IN OUT [LAMBDA]

IN holds z_a and z_b [N, D]. OUT receives loss, on_diag, off_diag, grad_z_a, grad_z_b.
"""
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import safetensors_lite  # noqa: E402


def off_diagonal(x):
    n, m = x.shape
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def main(path_in, path_out, lambd=0.0051):
    tensors, _ = safetensors_lite.load(path_in)
    za = tensors["z_a"].double().requires_grad_(True)
    zb = tensors["z_b"].double().requires_grad_(True)
    n, d = za.shape
    bn = torch.nn.BatchNorm1d(d, affine=False).double()
    c = bn(za).T @ bn(zb)
    c.div_(n)
    on_diag = torch.diagonal(c).add_(-1).pow_(2).sum()
    off_diag = off_diagonal(c).pow_(2).sum()
    loss = on_diag + float(lambd) * off_diag
    ga, gb = torch.autograd.grad(loss, [za, zb])
    safetensors_lite.save({"loss": loss.detach(), "on_diag": on_diag.detach(), "off_diag": off_diag.detach(),
                           "grad_z_a": ga, "grad_z_b": gb}, path_out)


if __name__ == "__main__":
    main(*sys.argv[1:])
