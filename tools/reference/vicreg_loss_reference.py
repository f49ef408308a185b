"""The official VICReg loss (facebookresearch/vicreg main.py, VICReg.forward after the gather), with
autograd for the gradients: the reference for vicreg/Losses and `vicreg loss-grad`.

  python3 vicreg_loss_reference.py IN OUT [SIM STD COV]

IN holds z_a and z_b [N, D] (float32 or float64; computed in float64). OUT receives, in float64, the same
tensors `vicreg loss-grad` writes: loss, invariance, variance, covariance (unweighted), grad_z_a and
grad_z_b (of the weighted loss) and grad_z_a.invariance ... grad_z_b.covariance (of each unweighted term).
"""
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import safetensors_lite  # noqa: E402


def off_diagonal(x):
    n, m = x.shape
    assert n == m
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def terms(x, y):
    n, d = x.shape
    repr_loss = F.mse_loss(x, y)
    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0) + 0.0001)
    std_y = torch.sqrt(y.var(dim=0) + 0.0001)
    std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
    cov_x = (x.T @ x) / (n - 1)
    cov_y = (y.T @ y) / (n - 1)
    cov_loss = off_diagonal(cov_x).pow_(2).sum().div(d) + off_diagonal(cov_y).pow_(2).sum().div(d)
    return repr_loss, std_loss, cov_loss


def main(path_in, path_out, sim=25.0, std=25.0, cov=1.0):
    tensors, _ = safetensors_lite.load(path_in)
    za = tensors["z_a"].double().requires_grad_(True)
    zb = tensors["z_b"].double().requires_grad_(True)
    out = {}
    inv, var, cv = terms(za, zb)
    loss = float(sim) * inv + float(std) * var + float(cov) * cv
    ga, gb = torch.autograd.grad(loss, [za, zb])
    out["loss"] = loss.detach()
    out["grad_z_a"] = ga
    out["grad_z_b"] = gb
    for name, value in (("invariance", inv), ("variance", var), ("covariance", cv)):
        out[name] = value.detach()
        a, b = torch.autograd.grad(terms(za, zb)[["invariance", "variance", "covariance"].index(name)], [za, zb])
        out["grad_z_a." + name] = a
        out["grad_z_b." + name] = b
    safetensors_lite.save(out, path_out)


if __name__ == "__main__":
    main(*sys.argv[1:])
