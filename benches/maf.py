#!/usr/bin/env python3
"""MAF (Papamakarios et al. 2017) on 2-D data in PyTorch, the reference side of
`cargo xtask bench maf`; the same model as genzoo_benches::flow::maf_bench_config: 5 MADE layers
(2 inputs, 2 hidden layers of 64 ReLU units, outputs mu and alpha, alpha = 5 tanh(a / 5)),
orderings alternating natural/reversed, hidden degrees spread evenly, standard Gaussian prior,
loss = mean NLL in nats on the eight-Gaussians toy, Adam 1e-3, batch 512.
Prints `images_per_sec X` (examples per second).

    .venv/bin/python benches/maf.py --steps 300 --threads 2
"""
import math

import torch
from torch import nn

from flowbench_common import eight_gaussians, parse_args, run

BATCH, LAYERS, HIDDEN, DEPTH, D, BOUND = 512, 5, 64, 2, 2, 5.0


def made_masks(degrees, hidden):
    d = len(degrees)
    prev = degrees
    masks = []
    for h in hidden:
        lo = min(min(prev), d - 1)
        deg = [lo + k % (d - lo) for k in range(h)]
        masks.append(torch.tensor([[float(mk >= mj) for mj in prev] for mk in deg]))
        prev = deg
    out = [[float(md > mk) for mk in prev] for _ in range(2) for md in degrees]
    masks.append(torch.tensor(out))
    return masks


class MaskedLinear(nn.Linear):
    def __init__(self, cin, cout, mask):
        super().__init__(cin, cout)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class MAFLayer(nn.Module):
    def __init__(self, reverse):
        super().__init__()
        degrees = list(range(D, 0, -1)) if reverse else list(range(1, D + 1))
        dims = [D] + [HIDDEN] * DEPTH + [2 * D]
        masks = made_masks(degrees, [HIDDEN] * DEPTH)
        self.layers = nn.ModuleList(MaskedLinear(a, b, m) for a, b, m in zip(dims[:-1], dims[1:], masks))

    def forward(self, x):
        h = self.layers[0](x)
        for l in self.layers[1:]:
            h = l(torch.relu(h))
        mu, a = h.chunk(2, 1)
        alpha = torch.tanh(a / BOUND) * BOUND
        return (x - mu) * (-alpha).exp(), -alpha.sum(1)


class MAF(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(MAFLayer(i % 2 == 1) for i in range(LAYERS))

    def forward(self, x):
        ld = torch.zeros(x.shape[0], device=x.device)
        for l in self.layers:
            x, d = l(x)
            ld = ld + d
        return (-0.5 * x * x - 0.5 * math.log(2 * math.pi)).sum(1) + ld


def main():
    a = parse_args()
    torch.manual_seed(0)
    model = MAF()
    run(model, eight_gaussians(), BATCH, a.steps, a.device, lambda x: -model(x).mean(), compile=a.compile)


if __name__ == "__main__":
    main()
