#!/usr/bin/env python3
"""Glow (Kingma & Dhariwal 2018) in PyTorch, the reference side of `cargo xtask bench glow`; the
same architecture as genzoo_benches::flow::glow_bench_config: 1x28x28 8-bit images, uniform
dequantization, input y - 1/2, L = 2 levels of [squeeze, K = 4 steps of (ActNorm with data init,
LU-decomposed invertible 1x1 conv, affine coupling on channel halves with scale sigmoid(h + 2) and
net conv3x3-relu-conv1x1-relu-zeroconv3x3 of 64 channels), split with a learned conditional
prior], learned diagonal Gaussian top prior, loss = mean bits/dim, Adam 1e-3, batch 64.
Prints `images_per_sec X`.

    .venv/bin/python benches/glow.py --steps 50 --threads 2
"""
import math

import torch
from torch import nn
import torch.nn.functional as F

from flowbench_common import ActNorm, mnist_u8, parse_args, run, sum_per_example, zero_conv

BATCH, LEVELS, STEPS, HIDDEN = 64, 2, 4, 64
HALF_LN_2PI = 0.5 * math.log(2 * math.pi)


class InvConvLU(nn.Module):
    def __init__(self, c):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(c, c, dtype=torch.float64))
        p, l, u = torch.linalg.lu(q)
        s = torch.diagonal(u)
        self.register_buffer("p", p.float())
        self.register_buffer("sign_s", torch.sign(s).float())
        self.register_buffer("l_mask", torch.tril(torch.ones(c, c), -1))
        self.register_buffer("eye", torch.eye(c))
        self.l = nn.Parameter(torch.tril(l, -1).float())
        self.u = nn.Parameter(torch.triu(u, 1).float())
        self.log_s = nn.Parameter(s.abs().log().float())

    def forward(self, x):
        lower = self.l * self.l_mask + self.eye
        upper = self.u * self.l_mask.t() + torch.diag_embed(self.sign_s * self.log_s.exp())
        w = self.p @ lower @ upper
        c = w.shape[0]
        hw = x.shape[2] * x.shape[3]
        return F.conv2d(x, w.view(c, c, 1, 1)), (self.log_s.sum() * hw).expand(x.shape[0])


class Coupling(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = nn.Conv2d(c // 2, HIDDEN, 3, padding=1)
        self.c2 = nn.Conv2d(HIDDEN, HIDDEN, 1)
        self.out = zero_conv(HIDDEN, c, 3)

    def forward(self, x):
        xa, xb = x.chunk(2, 1)
        h = self.out(F.relu(self.c2(F.relu(self.c1(xa)))))
        s, t = h.chunk(2, 1)
        s = F.logsigmoid(s + 2.0)
        yb = (xb + t) * s.exp()
        return torch.cat([xa, yb], 1), sum_per_example(s)


class Glow(nn.Module):
    def __init__(self):
        super().__init__()
        c, h, w = 1, 28, 28
        self.levels = nn.ModuleList()
        self.priors = nn.ModuleList()
        for l in range(LEVELS):
            c, h, w = 4 * c, h // 2, w // 2
            steps = nn.ModuleList()
            for _ in range(STEPS):
                steps.append(nn.ModuleList([ActNorm(c), InvConvLU(c), Coupling(c)]))
            self.levels.append(steps)
            last = l == LEVELS - 1
            self.priors.append(nn.Identity() if last else zero_conv(c // 2, c, 3))
            if not last:
                c //= 2
        d = 784  # the whole latent: factored-out parts and the top
        self.loc = nn.Parameter(torch.zeros(d))
        self.log_scale = nn.Parameter(torch.zeros(d))

    def forward(self, x, init=False):
        b = x.shape[0]
        ld = torch.zeros(b, device=x.device)
        zs = []
        h = x
        for li, (steps, prior) in enumerate(zip(self.levels, self.priors)):
            h = F.pixel_unshuffle(h, 2)
            for an, conv, coup in steps:
                h, d1 = an(h, init)
                h, d2 = conv(h)
                h, d3 = coup(h)
                ld = ld + d1 + d2 + d3
            if li < LEVELS - 1:
                keep, out = h.chunk(2, 1)
                mean, logs = prior(keep).chunk(2, 1)
                out = (out - mean) * (-logs).exp()
                ld = ld - sum_per_example(logs)
                zs.append(out.reshape(b, -1))
                h = keep
        zs.append(h.reshape(b, -1))
        z = torch.cat(zs, 1)
        zn = (z - self.loc) * (-self.log_scale).exp()
        logp = (-0.5 * zn * zn - self.log_scale - HALF_LN_2PI).sum(1)
        return logp + ld


def main():
    a = parse_args()
    torch.manual_seed(0)
    model = Glow()
    dims = 784

    def dequant(x):
        xf = x.float()
        return (xf + torch.rand_like(xf)) / 256.0 - 0.5

    def loss_fn(x):
        nll = -model(dequant(x)) + dims * math.log(256)
        return nll.mean() / (dims * math.log(2))

    run(model, mnist_u8(), BATCH, a.steps, a.device, loss_fn,
        init_fn=lambda x: model(dequant(x), init=True), compile=a.compile)


if __name__ == "__main__":
    main()
