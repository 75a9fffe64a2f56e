#!/usr/bin/env python3
"""DCGAN (Radford, Metz & Chintala 2016) in PyTorch, the reference side of `cargo xtask bench
dcgan`; the same players as genzoo-gan's DCGAN `mnist` preset (genzoo_benches::gan::
dcgan_images_per_sec), layer for layer:

* generator: z [64] ~ N(0, I), linear to 64 maps at 7x7 (no bias), then [batch norm, ReLU,
  ConvTranspose2d k4 s2 p1] twice (64 -> 32 -> 1 maps, 7 -> 14 -> 28; a bias on the last only),
  tanh;
* discriminator: Conv2d k4 s2 p1 1 -> 32 (bias), LeakyReLU 0.2, Conv2d k4 s2 p1 32 -> 64 (no
  bias), batch norm, LeakyReLU 0.2, linear 64*7*7 -> 1 logit;
* weights from N(0, 0.02), batch-norm scales from N(1, 0.02), biases 0;

the non-saturating game, one discriminator and one generator step per training step, Adam 2e-4
with betas (0.5, 0.999) for each player, batch 64, mnist10k's training digits scaled to [-1, 1]
per batch (x / 127.5 - 1). The step is in ganbench_common.py. Prints `images_per_sec X`.

    .venv/bin/python benches/dcgan.py --steps 50 --threads 2
"""
import torch
from torch import nn
import torch.nn.functional as F

from flowbench_common import parse_args
from ganbench_common import mnist_u8, run

BATCH, LR, LATENT, GEN_CH, DISC_CH, BASE = 64, 2e-4, 64, 64, 32, 7


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(LATENT, GEN_CH * BASE * BASE, bias=False)
        self.bn0 = nn.BatchNorm2d(GEN_CH)
        self.tconv1 = nn.ConvTranspose2d(GEN_CH, GEN_CH // 2, 4, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(GEN_CH // 2)
        self.tconv2 = nn.ConvTranspose2d(GEN_CH // 2, 1, 4, 2, 1, bias=True)

    def forward(self, z):
        h = self.fc(z).view(z.shape[0], GEN_CH, BASE, BASE)
        h = self.tconv1(F.relu(self.bn0(h)))
        h = self.tconv2(F.relu(self.bn1(h)))
        return torch.tanh(h)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, DISC_CH, 4, 2, 1, bias=True)
        self.conv2 = nn.Conv2d(DISC_CH, 2 * DISC_CH, 4, 2, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(2 * DISC_CH)
        self.fc = nn.Linear(2 * DISC_CH * BASE * BASE, 1)

    def forward(self, x):
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.norm2(self.conv2(h)), 0.2)
        return self.fc(h.flatten(1)).view(-1)


def dcgan_init(m):
    """N(0, 0.02) weights, N(1, 0.02) batch-norm scales, zero biases (Radford et al., sec. 4)."""
    if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def main():
    a = parse_args()
    torch.manual_seed(0)
    gen, disc = Generator(), Discriminator()
    gen.apply(dcgan_init)
    disc.apply(dcgan_init)
    data, name = mnist_u8()
    run(gen, disc, LATENT, data, BATCH, LR, a, prep=lambda x: x.float() / 127.5 - 1.0, name=name)


if __name__ == "__main__":
    main()
