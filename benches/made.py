#!/usr/bin/env python3
"""MADE (genzoo's `mnist` preset: 784-500-784, ReLU, one natural ordering, Bernoulli logits; Adam
1e-3, batch 128) timed in PyTorch, the reference side of `cargo xtask bench made`
(genzoo_benches::autoregressive::made_images_per_sec is the same model in genzoo).

The twin computes exactly genzoo's math (genzoo-autoregressive's made.rs on
genzoo_core::layers::made), written as a speed-minded PyTorch user would: the masks of Germain et
al. (2015, eqs. 12-13) are buffers multiplied into the weights at every forward. Input d has degree
d (1..784), hidden unit k degree 1 + floor(782 k / 499) (genzoo's degrees spread over 1..783 in a
layer narrower than the ordering, `spread_degree` in genzoo_core::layers::made), the hidden mask
is `m(k) >= d` and the output mask `d > m(k)`. The loss is `binary_cross_entropy_with_logits`
summed per digit, averaged over the batch; Adam is torch's fused kernel. `--compile` wraps the
training step in `torch.compile` (reported beside the eager figure; genzoo's ratio is taken
against eager).

Data: the shipped datasets/mnist10k training digits, dynamically binarized per batch as on the
Rust side (`vae_mlp.load_data`: `--data random` or a missing mnist10k gives seeded random binary
images). Prints `images_per_sec X` (wall clock) and `images_per_cpu_sec Y`.

    .venv/bin/python benches/made.py --steps 300 --threads 2
"""
import torch
import torch.nn.functional as F
from torch import nn

from binary_bench import run_twin

BATCH = 128
WARMUP_STEPS = 20
D, HIDDEN = 784, 500


class MaskedLinear(nn.Linear):
    def __init__(self, cin, cout, mask):
        super().__init__(cin, cout)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    def __init__(self):
        super().__init__()
        m_in = torch.arange(1, D + 1)
        lo = 1
        m_h = lo + torch.arange(HIDDEN) * (D - 1 - lo) // (HIDDEN - 1)  # HIDDEN < D - lo
        self.l0 = MaskedLinear(D, HIDDEN, (m_h[:, None] >= m_in[None, :]).float())
        self.l1 = MaskedLinear(HIDDEN, D, (m_in[:, None] > m_h[None, :]).float())

    def forward(self, x):
        return self.l1(F.relu(self.l0(x)))  # logits [n, 784]


def loss_function(logits, x):
    # genzoo: -log p(x) summed over the pixels of each digit, mean over the batch.
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1).mean()


def main():
    run_twin(__doc__, MADE(), loss_function, BATCH, WARMUP_STEPS, shape=(-1, 784))


if __name__ == "__main__":
    main()
