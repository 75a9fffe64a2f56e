#!/usr/bin/env python3
"""The MLP GAN of genzoo-gan's `toy` preset (Goodfellow et al. 2014 with MLP players) in PyTorch,
the reference side of `cargo xtask bench gan-toy` (genzoo_benches::gan::gan_toy_examples_per_sec):
generator 8-64-64-64-2 with ReLU (linear output), discriminator 2-64-64-64-1 with LeakyReLU 0.2
after every hidden layer (one logit out), torch's default initialization (genzoo's: Kaiming-uniform
weights, uniform biases), the non-saturating game, one discriminator and one generator step per
training step, Adam 1e-3 with betas (0.5, 0.999) for each player, batch 256, on the
eight-Gaussians toy (8,192 points). The step is in ganbench_common.py. Prints `images_per_sec X`
(examples per second).

    .venv/bin/python benches/gan_toy.py --steps 300 --threads 2
"""
import torch
from torch import nn
import torch.nn.functional as F

from flowbench_common import eight_gaussians, parse_args
from ganbench_common import run

BATCH, LR, LATENT, HIDDEN, D = 256, 1e-3, 8, 64, 2


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(LATENT, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, HIDDEN)
        self.fc3 = nn.Linear(HIDDEN, HIDDEN)
        self.fc4 = nn.Linear(HIDDEN, D)

    def forward(self, z):
        h = F.relu(self.fc1(z))
        h = F.relu(self.fc2(h))
        h = F.relu(self.fc3(h))
        return self.fc4(h)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(D, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, HIDDEN)
        self.fc3 = nn.Linear(HIDDEN, HIDDEN)
        self.fc4 = nn.Linear(HIDDEN, 1)

    def forward(self, x):
        h = F.leaky_relu(self.fc1(x), 0.2)
        h = F.leaky_relu(self.fc2(h), 0.2)
        h = F.leaky_relu(self.fc3(h), 0.2)
        return self.fc4(h).view(-1)


def main():
    a = parse_args()
    torch.manual_seed(0)
    run(Generator(), Discriminator(), LATENT, eight_gaussians(), BATCH, LR, a, name="eight-gaussians/train")


if __name__ == "__main__":
    main()
