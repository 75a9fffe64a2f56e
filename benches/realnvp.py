#!/usr/bin/env python3
"""RealNVP (Dinh et al. 2017) in PyTorch, the reference side of `cargo xtask bench realnvp`; the
same architecture as genzoo_benches::flow::realnvp_bench_config: 1x28x28 8-bit images, uniform
dequantization, logit (alpha 0.05), 2 scales of [3 checkerboard affine couplings, squeeze,
3 channel affine couplings, factor out half], 4 final checkerboard couplings, ResNet coupling nets
(32 channels, 2 blocks, zero-init output), scale exp(g) tanh(h), standard Gaussian prior, loss =
mean bits/dim, Adam 1e-3, batch 64. Prints `images_per_sec X`.

    .venv/bin/python benches/realnvp.py --steps 50 --threads 2
"""
import math

import torch
from torch import nn
import torch.nn.functional as F

from flowbench_common import (dequantize_logit, mnist_u8, parse_args, run, std_normal_logp,
                              sum_per_example, zero_conv)

BATCH, HIDDEN, BLOCKS, SCALES, COUPLINGS, FINAL, ALPHA = 64, 32, 2, 2, 3, 4, 0.05


class ResNet(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.inp = nn.Conv2d(cin, HIDDEN, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.ModuleList([nn.Conv2d(HIDDEN, HIDDEN, 3, padding=1), nn.Conv2d(HIDDEN, HIDDEN, 3, padding=1)])
            for _ in range(BLOCKS))
        self.out = zero_conv(HIDDEN, cout, 3)

    def forward(self, x):
        h = self.inp(x)
        for c1, c2 in self.blocks:
            h = h + c2(F.relu(c1(F.relu(h))))
        return self.out(F.relu(h))


class Coupling(nn.Module):
    def __init__(self, c, h, w, checkerboard, parity):
        super().__init__()
        self.checkerboard, self.parity = checkerboard, parity
        if checkerboard:
            i = torch.arange(h).view(h, 1)
            j = torch.arange(w).view(1, w)
            m = ((i + j + parity) % 2 == 0).float().view(1, 1, h, w).expand(1, c, h, w).contiguous()
            self.register_buffer("m", m)
            self.net = ResNet(c, 2 * c)
            cout = c
        else:
            self.net = ResNet(c // 2, c)
            cout = c // 2
        self.log_scale = nn.Parameter(torch.zeros(1, cout, 1, 1))

    def st(self, xa):
        s, t = self.net(xa).chunk(2, 1)
        return torch.tanh(s) * self.log_scale.exp(), t

    def forward(self, x):
        if not self.checkerboard:
            a, b = x.chunk(2, 1)
            xa, xb = (a, b) if self.parity == 0 else (b, a)
            s, t = self.st(xa)
            yb = xb * s.exp() + t
            y = torch.cat([xa, yb], 1) if self.parity == 0 else torch.cat([yb, xa], 1)
            return y, sum_per_example(s)
        m = self.m
        inv = 1.0 - m
        xa = x * m
        s, t = self.st(xa)
        y = xa + inv * (x * s.exp() + t)
        return y, sum_per_example(s * inv)


class RealNVP(nn.Module):
    def __init__(self):
        super().__init__()
        c, h, w = 1, 28, 28
        self.levels = nn.ModuleList()
        self.splits = []
        for s in range(SCALES):
            last = s == SCALES - 1
            steps = nn.ModuleList()
            for i in range(FINAL if last else COUPLINGS):
                steps.append(Coupling(c, h, w, True, i % 2))
            if not last:
                steps.append(nn.PixelUnshuffle(2))
                c, h, w = 4 * c, h // 2, w // 2
                for i in range(COUPLINGS):
                    steps.append(Coupling(c, h, w, False, i % 2))
            self.levels.append(steps)
            self.splits.append(not last)
            if not last:
                c //= 2

    def forward(self, x):
        b = x.shape[0]
        ld = torch.zeros(b, device=x.device)
        zs = []
        h = x
        for steps, split in zip(self.levels, self.splits):
            for layer in steps:
                if isinstance(layer, nn.PixelUnshuffle):
                    h = layer(h)
                else:
                    h, d = layer(h)
                    ld = ld + d
            if split:
                keep, out = h.chunk(2, 1)
                zs.append(out.reshape(b, -1))
                h = keep
        zs.append(h.reshape(b, -1))
        return torch.cat(zs, 1), ld


def main():
    a = parse_args()
    torch.manual_seed(0)
    model = RealNVP()
    dims = 784

    def loss_fn(x):
        z0, ld0 = dequantize_logit(x, ALPHA)
        z, ld = model(z0)
        nll = -(std_normal_logp(z) + ld + ld0) + dims * math.log(256)
        return nll.mean() / (dims * math.log(2))

    run(model, mnist_u8(), BATCH, a.steps, a.device, loss_fn, compile=a.compile)


if __name__ == "__main__":
    main()
