#!/usr/bin/env python3
"""PixelCNN (genzoo's `mnist` preset: a 7x7 masked convolution of type A to 2h = 48 channels, 5
residual blocks of ReLU, 1x1 48->24, ReLU, 3x3 masked type B 24->24, ReLU, 1x1 24->48 plus the
block's input, then ReLU, 1x1 48->64, ReLU, 1x1 64->1 Bernoulli logits; Adam 1e-3, batch 64) timed
in PyTorch, the reference side of `cargo xtask bench pixelcnn`
(genzoo_benches::autoregressive::pixelcnn_images_per_sec is the same model in genzoo).

The twin computes exactly genzoo's math (genzoo-autoregressive's pixel_cnn.rs, masked_conv.rs,
layers.rs), written as a speed-minded PyTorch user would: each masked k x k convolution keeps its
0/1 mask as a buffer multiplied into the weight at every forward (centred anchor, symmetric
padding); on one-channel images the channel masks of genzoo's 1x1 layers are all ones, so they are
plain 1x1 convolutions here. The loss is `binary_cross_entropy_with_logits` summed per digit,
averaged over the batch; Adam is torch's fused kernel. `--compile` wraps the training step in
`torch.compile` (reported beside the eager figure; genzoo's ratio is taken against eager).

Data: the shipped datasets/mnist10k training digits, dynamically binarized per batch as on the
Rust side (`vae_mlp.load_data`: `--data random` or a missing mnist10k gives seeded random binary
images). Prints `images_per_sec X` (wall clock) and `images_per_cpu_sec Y`.

    .venv/bin/python benches/pixelcnn.py --steps 20 --threads 2
"""
import torch
import torch.nn.functional as F
from torch import nn

from binary_bench import run_twin

BATCH = 64
WARMUP_STEPS = 5
HIDDEN, BLOCKS, FIRST_KERNEL, KERNEL, HEAD = 24, 5, 7, 3, 64


class MaskedConv2d(nn.Conv2d):
    """A centred k x k convolution whose kernel is zero after the centre in raster order, and at
    the centre itself for type A (one colour group: the pixel never sees itself)."""

    def __init__(self, cin, cout, k, mask_type):
        super().__init__(cin, cout, k, padding=k // 2)
        mask = torch.ones_like(self.weight)
        mask[:, :, k // 2, k // 2 + (mask_type == "B"):] = 0
        mask[:, :, k // 2 + 1:] = 0
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class Block(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.reduce = nn.Conv2d(2 * h, h, 1)
        self.conv = MaskedConv2d(h, h, KERNEL, "B")
        self.expand = nn.Conv2d(h, 2 * h, 1)

    def forward(self, x):
        r = F.relu(self.reduce(F.relu(x)))
        r = F.relu(self.conv(r))
        return x + self.expand(r)


class PixelCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = MaskedConv2d(1, 2 * HIDDEN, FIRST_KERNEL, "A")
        self.blocks = nn.Sequential(*[Block(HIDDEN) for _ in range(BLOCKS)])
        self.fc1 = nn.Conv2d(2 * HIDDEN, HEAD, 1)
        self.fc2 = nn.Conv2d(HEAD, 1, 1)

    def forward(self, x):
        x = self.blocks(self.first(x))
        return self.fc2(F.relu(self.fc1(F.relu(x))))  # logits [n, 1, 28, 28]


def loss_function(logits, x):
    # genzoo: -log p(x) summed over the pixels of each digit, mean over the batch.
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()


def main():
    run_twin(__doc__, PixelCNN(), loss_function, BATCH, WARMUP_STEPS, shape=(-1, 1, 28, 28))


if __name__ == "__main__":
    main()
