#!/usr/bin/python3
"""Barlow Twins training steps as the official main.py (facebookresearch/barlowtwins, the version with
--learning-rate-biases), in float64: the reference for `vicreg pretrain --loss barlowtwins` (one process).

  python3 barlow_twins_step.py IN OUT

IN holds the model's state dict under "model." (backbone.* with torchvision's names, projector.* the official
projector's), the views "view_a.K" and "view_b.K" [N, C, H, W] of each step K, and as metadata: arch, stem, width,
channels, mlp, batch_size, epochs, warmup_epochs, steps_per_epoch, steps (the global step indices, comma-separated),
lambd, learning_rate_weights, learning_rate_biases, weight_decay, eta.
Each step is the official one: both views through backbone and projector (train mode), the loss of the official
formula, LARS over two parameter groups (weights: ndim > 1; biases and batch norm: ndim == 1, left out of weight decay
and of the trust ratio) whose learning rates adjust_learning_rate sets. OUT receives loss.K, on_diagonal.K,
off_diagonal.K and, under "model.", the state dict after the last step.
"""
import math
import sys

import torch
import torch.nn as nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import safetensors_lite  # noqa: E402
from barlow_twins_loss_reference import terms  # noqa: E402  (the official loss, written once)
from vicreg_step import LARS, backbone  # noqa: E402  (its LARS is the official one with both filters on)


def projector(spec, rep):
    sizes = [rep] + [int(s) for s in spec.split("-")]
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU(True)]
    layers.append(nn.Linear(sizes[-2], sizes[-1], bias=False))
    return nn.Sequential(*layers)


def learning_rate(m, step):
    """adjust_learning_rate: batch/256 times linear warm-up, then cosine to 0.001 of it; one value for both groups."""
    steps_per_epoch = int(m["steps_per_epoch"])
    max_steps = int(m["epochs"]) * steps_per_epoch
    warmup_steps = int(m["warmup_epochs"]) * steps_per_epoch
    base_lr = int(m["batch_size"]) / 256
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    step -= warmup_steps
    max_steps -= warmup_steps
    q = 0.5 * (1 + math.cos(math.pi * step / max_steps))
    end_lr = base_lr * 0.001
    return base_lr * q + end_lr * (1 - q)


def main(path_in, path_out):
    tensors, m = safetensors_lite.load(path_in)
    net, rep = backbone(m["arch"], m["stem"], float(m["width"]), int(m["channels"]))
    model = nn.Module()
    model.backbone = net
    model.projector = projector(m["mlp"], rep)
    model = model.double()
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(state, strict=True)
    model.train()

    weights = [p for p in model.parameters() if p.ndim != 1]
    biases = [p for p in model.parameters() if p.ndim == 1]
    optimizer = LARS([{"params": weights}, {"params": biases}], lr=0, weight_decay=float(m["weight_decay"]), eta=float(m["eta"]))
    out = {}
    for k in m["steps"].split(","):
        lr = learning_rate(m, int(k))
        optimizer.param_groups[0]["lr"] = lr * float(m["learning_rate_weights"])
        optimizer.param_groups[1]["lr"] = lr * float(m["learning_rate_biases"])
        optimizer.zero_grad()
        z1 = model.projector(model.backbone(tensors["view_a." + k]))
        z2 = model.projector(model.backbone(tensors["view_b." + k]))
        on_diag, off_diag = terms(z1, z2)
        loss = on_diag + float(m["lambd"]) * off_diag
        loss.backward()
        optimizer.step()
        out["loss." + k] = loss.detach()
        out["on_diagonal." + k] = on_diag.detach()
        out["off_diagonal." + k] = off_diag.detach()
    for name, value in model.state_dict().items():
        out["model." + name] = value.detach().clone()
    safetensors_lite.save(out, path_out)


if __name__ == "__main__":
    main(*sys.argv[1:])
