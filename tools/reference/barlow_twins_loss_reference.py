"""The official Barlow Twins loss (facebookresearch/barlowtwins main.py, after the projector), in float64
with autograd: the reference for vicreg/Losses/BarlowTwinsLoss and `vicreg loss-grad --loss barlowtwins`.

  python3 barlow_twins_loss_reference.py IN OUT [LAMBDA]

IN holds z_a and z_b [N, D]. OUT receives, in float64, what `vicreg loss-grad --loss barlowtwins` writes: loss,
on_diagonal, off_diagonal (unweighted), grad_z_a, grad_z_b (of the loss) and grad_z_a.on_diagonal ...
grad_z_b.off_diagonal (of each unweighted term).
"""
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import safetensors_lite  # noqa: E402


def off_diagonal(x):
    n, m = x.shape
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def terms(za, zb):
    n, d = za.shape
    bn = torch.nn.BatchNorm1d(d, affine=False).double()
    c = bn(za).T @ bn(zb)
    c.div_(n)
    on_diag = torch.diagonal(c).add_(-1).pow_(2).sum()
    off_diag = off_diagonal(c).pow_(2).sum()
    return on_diag, off_diag


def main(path_in, path_out, lambd=0.0051):
    tensors, _ = safetensors_lite.load(path_in)
    za = tensors["z_a"].double().requires_grad_(True)
    zb = tensors["z_b"].double().requires_grad_(True)
    on_diag, off_diag = terms(za, zb)
    loss = on_diag + float(lambd) * off_diag
    ga, gb = torch.autograd.grad(loss, [za, zb])
    out = {"loss": loss.detach(), "on_diagonal": on_diag.detach(), "off_diagonal": off_diag.detach(),
           "grad_z_a": ga, "grad_z_b": gb}
    for index, name in enumerate(("on_diagonal", "off_diagonal")):
        a, b = torch.autograd.grad(terms(za, zb)[index], [za, zb])
        out["grad_z_a." + name] = a
        out["grad_z_b." + name] = b
    safetensors_lite.save(out, path_out)


if __name__ == "__main__":
    main(*sys.argv[1:])
