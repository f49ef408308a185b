#!/usr/bin/python3
"""PyTorch anchor for the VICReg training-step benchmark (run with Debian's /usr/bin/python3).

One full step as the official implementation does it: a torchvision ResNet (default ResNet-18 with the
cifar stem: 3x3/1 conv1, no max-pool), zero_init_residual, expander Linear+BN+ReLU twice then
Linear(bias=False), the official VICReg loss, and the official LARS (exclude_bias_and_norm). Random views
(default 32x32 RGB). --width scales every stage's channels as the official resnet.py's widen does
(0.25: 16 stem channels), --stem imagenet keeps torchvision's 7x7/2 conv1 and max-pool.
--device cuda times the step on a GPU, for tools/gpu-check.sh.
Prints one JSON line per thread count: {"threads": t, "pairs_per_second": x, "step_ms": y,
"max_rss_mib": peak resident memory of this process so far (getrusage)}.
"""
import argparse, json, resource, statistics, time
import sys
import torch, torch.nn as nn
import torchvision

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from vicreg_loss_reference import terms  # noqa: E402  (the official loss, written once)


def backbone(arch="resnet18", stem="cifar", width=1.0, channels=3):
    m = getattr(torchvision.models, arch)()
    planes = round(64 * width)
    if width != 1.0:
        # torchvision has no width multiplier: rebuild the stages at the scaled widths with its own _make_layer.
        block = type(m.layer1[0])
        m.inplanes = planes
        m.bn1 = nn.BatchNorm2d(planes)
        for s in range(4):
            setattr(m, f"layer{s + 1}", m._make_layer(block, planes << s, len(getattr(m, f"layer{s + 1}")), stride=1 if s == 0 else 2))
    if stem == "cifar":
        m.conv1 = nn.Conv2d(channels, planes, kernel_size=3, stride=1, padding=1, bias=False)
        m.maxpool = nn.Identity()
    else:
        m.conv1 = nn.Conv2d(channels, planes, kernel_size=7, stride=2, padding=3, bias=False)
    m.fc = nn.Identity()
    # torchvision's initialization and zero_init_residual, redone over the rebuilt layers.
    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
    for mod in m.modules():
        last = getattr(mod, "bn3", None) if isinstance(mod, torchvision.models.resnet.Bottleneck) else getattr(mod, "bn2", None)
        if isinstance(mod, (torchvision.models.resnet.Bottleneck, torchvision.models.resnet.BasicBlock)):
            nn.init.zeros_(last.weight)
    return m, planes * 8 * (4 if arch in ("resnet50", "resnet101") else 1)


def expander(spec, rep=512):
    sizes = [rep] + [int(s) for s in spec.split("-")]
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU(True)]
    layers.append(nn.Linear(sizes[-2], sizes[-1], bias=False))
    return nn.Sequential(*layers)


def vicreg_loss(x, y, sim=25.0, std=25.0, cov=1.0):
    inv, var, cov_term = terms(x, y)
    return sim * inv + std * var + cov * cov_term


class LARS(torch.optim.Optimizer):
    def __init__(self, params, lr, weight_decay=0, momentum=0.9, eta=0.001):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                dp = p.grad
                if dp is None:
                    continue
                if p.ndim != 1:
                    dp = dp.add(p, alpha=g["weight_decay"])
                    param_norm, update_norm = torch.norm(p), torch.norm(dp)
                    one = torch.ones_like(param_norm)
                    q = torch.where(param_norm > 0.0, torch.where(update_norm > 0, g["eta"] * param_norm / update_norm, one), one)
                    dp = dp.mul(q)
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                mu = state["mu"]
                mu.mul_(g["momentum"]).add_(dp)
                p.add_(mu, alpha=-g["lr"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--stem", default="cifar", choices=["cifar", "imagenet"])
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--mlp", default="2048-2048-2048")
    ap.add_argument("--threads", default="1,all")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.manual_seed(0)
    net, rep = backbone(args.arch, args.stem, args.width, args.channels)
    device = torch.device(args.device)
    net = nn.Sequential(net, expander(args.mlp, rep)).to(device)
    opt = LARS(net.parameters(), lr=0.2 * args.batch / 256, weight_decay=1e-6)
    xa = torch.randn(args.batch, args.channels, args.size, args.size, device=device)
    xb = torch.randn(args.batch, args.channels, args.size, args.size, device=device)
    # On a GPU the host thread count does not matter: one measurement.
    for spec in args.threads.split(",") if device.type == "cpu" else ["all"]:
        threads = torch.get_num_threads() if spec == "all" else int(spec)
        if spec == "all":
            import os
            threads = os.cpu_count()
        torch.set_num_threads(threads)
        times = []
        for i in range(args.warmup + args.steps):
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = vicreg_loss(net(xa), net(xb))
            loss.backward()
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()  # the step has finished, not just been queued
            if i >= args.warmup:
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        max_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(json.dumps({"threads": threads, "pairs_per_second": args.batch / med, "step_ms": med * 1000, "loss": float(loss),
                          "max_rss_mib": max_rss_mib}), flush=True)


if __name__ == "__main__":
    main()
