#!/usr/bin/env python3
"""The 2-D coupling flow of genzoo's `toy-flow` (preset `paper`) in PyTorch, the reference side of
a `toy-flow` benchmark (genzoo_benches::flow::toy_flow_images_per_sec): 8 x [ActNorm (data init),
affine coupling with alternating masks, MLP 2-64-64-4 (zero-init output), scale exp(g) tanh(h)],
standard Gaussian prior, loss = mean NLL in nats on the eight-Gaussians toy, Adam 1e-3, batch 512.
Prints `images_per_sec X` (examples per second).

    .venv/bin/python benches/toy_flow.py --steps 300 --threads 2
"""
import math

import torch
from torch import nn

from flowbench_common import ActNorm, eight_gaussians, parse_args, run, zero_linear

BATCH, COUPLINGS, HIDDEN, D = 512, 8, 64, 2


class Coupling(nn.Module):
    def __init__(self, parity):
        super().__init__()
        m = ((torch.arange(D) + parity) % 2 == 0).float().view(1, D)
        self.register_buffer("m", m)
        self.fc0 = nn.Linear(D, HIDDEN)
        self.fc1 = nn.Linear(HIDDEN, HIDDEN)
        self.out = zero_linear(HIDDEN, 2 * D)
        self.log_scale = nn.Parameter(torch.zeros(1, D))

    def forward(self, x):
        inv = 1.0 - self.m
        xa = x * self.m
        h = self.out(torch.relu(self.fc1(torch.relu(self.fc0(xa)))))
        s, t = h.chunk(2, 1)
        s = torch.tanh(s) * self.log_scale.exp()
        y = xa + inv * (x * s.exp() + t)
        return y, (s * inv).sum(1)


class ToyFlow(nn.Module):
    def __init__(self):
        super().__init__()
        self.steps = nn.ModuleList(nn.ModuleList([ActNorm(D), Coupling(i % 2)]) for i in range(COUPLINGS))

    def forward(self, x, init=False):
        ld = torch.zeros(x.shape[0], device=x.device)
        for an, c in self.steps:
            x, d1 = an(x, init)
            x, d2 = c(x)
            ld = ld + d1 + d2
        return (-0.5 * x * x - 0.5 * math.log(2 * math.pi)).sum(1) + ld


def main():
    a = parse_args()
    torch.manual_seed(0)
    model = ToyFlow()
    run(model, eight_gaussians(), BATCH, a.steps, a.device, lambda x: -model(x).mean(),
        init_fn=lambda x: model(x, init=True), compile=a.compile)


if __name__ == "__main__":
    main()
