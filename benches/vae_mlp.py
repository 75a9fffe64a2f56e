#!/usr/bin/env python3
"""The classic MLP VAE (pytorch/examples' vae/main.py architecture: 784-400-20, ReLU, Bernoulli
decoder, Adam 1e-3, batch 128) timed in PyTorch, the reference side of `cargo xtask bench vae-mlp`
(genzoo_benches::vae::vae_mlp_images_per_sec is the same model in genzoo).

The twin computes exactly genzoo's math, written as a speed-minded PyTorch user would: the decoder
returns logits and the loss is `binary_cross_entropy_with_logits` (per-example sums, batch mean)
plus the closed-form Gaussian KL (per-dimension batch means, summed); Adam is torch's fused kernel
(`fused=True`, one kernel over all parameters). `--compile` wraps the training step in
`torch.compile` (reported beside the eager figure; genzoo's ratio is taken against eager).

Data: the shipped datasets/mnist10k training digits (IDX gz, read with the standard library),
dynamically binarized per batch as on the Rust side; `--data random` (or a missing mnist10k)
uses seeded random binary images instead. Prints `images_per_sec X` (wall clock) and
`images_per_cpu_sec Y` (per second of process CPU time, steadier on a shared machine).

    .venv/bin/python benches/vae_mlp.py --steps 300 --threads 2
"""
import argparse
import gzip
import os
import struct
import time

import torch
import torch.nn.functional as F
from torch import nn

BATCH = 128
WARMUP_STEPS = 20


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return self.fc4(h3)  # logits

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(logits, x, mu, logvar):
    # genzoo: -log p(x|z) summed per example, mean over the batch; KL per dimension averaged over
    # the batch, then summed over dimensions.
    recon = F.binary_cross_entropy_with_logits(logits, x.view(-1, 784), reduction="none").sum(1).mean()
    kl = (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(0).sum()
    return recon + kl


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051:
        raise ValueError(f"{path}: not an IDX image file (magic {magic})")
    x = torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8)
    return x.view(n, rows * cols)


def load_data(kind):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets", "mnist10k")
    path = os.path.join(root, "train-images-idx3-ubyte.gz")
    if kind == "mnist10k" or (kind == "auto" and os.path.exists(path)):
        return read_idx_images(path).float() / 255.0, "mnist10k/train"
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 2, (9000, 784), generator=g).float(), "random-binary"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="timed training steps")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    ap.add_argument("--data", choices=["auto", "mnist10k", "random"], default="auto")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--compile", action="store_true", help="torch.compile the training step")
    args = ap.parse_args()
    dev = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x_all, name = load_data(args.data)
    x_all = x_all.to(dev)
    n = x_all.shape[0]
    model = VAE().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    model.train()

    def step(x):
        opt.zero_grad(set_to_none=True)
        logits, mu, logvar = model(x)
        loss = loss_function(logits, x, mu, logvar)
        loss.backward()
        opt.step()
        return loss

    if args.compile:
        step = torch.compile(step)

    def run(steps):
        perm = torch.randperm(n, device=dev)
        pos = 0
        last = None
        for _ in range(steps):
            if pos + BATCH > n:
                perm, pos = torch.randperm(n, device=dev), 0
            x = torch.bernoulli(x_all[perm[pos:pos + BATCH]])
            pos += BATCH
            last = step(x)
        value = last.item()  # one sync, so the timing covers all queued work
        return value

    run(WARMUP_STEPS if not args.compile else 3 * WARMUP_STEPS)
    t0, c0 = time.perf_counter(), time.process_time()
    loss = run(args.steps)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"data {name} steps {args.steps} threads {args.threads} final_loss_per_example {loss:.2f}")
    print(f"images_per_sec {args.steps * BATCH / dt:.1f}")
    # Per second of this process's CPU time (all threads): steadier on a shared machine.
    print(f"images_per_cpu_sec {args.steps * BATCH / cpu:.1f}")


if __name__ == "__main__":
    main()
