"""Shared helpers of the flow benchmarks (benches/realnvp.py, glow.py, maf.py, toy_flow.py):
data (mnist10k when installed, else seeded random 8-bit images; the eight-Gaussians toy for 2-D
flows), the timing loop (Adam 1e-3 as torch's fused kernel over all parameters, shuffled epochs,
warm-up steps untimed; `--compile` wraps the training step in torch.compile, reported beside the
eager figure) and flow pieces that mirror genzoo-flow's layers op for op."""
import argparse
import gzip
import math
import os
import struct
import time

import torch
from torch import nn
import torch.nn.functional as F

WARMUP_STEPS = 5


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--compile", action="store_true", help="torch.compile the training step")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    return a


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051:
        raise ValueError(f"{path}: not an IDX image file (magic {magic})")
    return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).view(n, 1, rows, cols)


def mnist_u8():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets", "mnist10k")
    path = os.path.join(root, "train-images-idx3-ubyte.gz")
    if os.path.exists(path):
        return read_idx_images(path)
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (4096, 1, 28, 28), generator=g, dtype=torch.uint8)


def eight_gaussians(n=8192):
    g = torch.Generator().manual_seed(0)
    k = torch.randint(0, 8, (n,), generator=g).float()
    r = 2.0 * math.sqrt(2.0)
    means = torch.stack([r * torch.cos(k * math.pi / 4), r * torch.sin(k * math.pi / 4)], 1)
    return means + torch.randn(n, 2, generator=g) * (0.5 / math.sqrt(2.0))


def adam(params):
    """Adam 1e-3 the way a speed-minded user writes it: the fused kernel (CPU and CUDA in torch
    2.11), else the multi-tensor (foreach) one."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=1e-3, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=1e-3, foreach=True)


def run(model, data, batch, steps, device, loss_fn, init_fn=None, compile=False):
    """Trains `model` with Adam 1e-3 for WARMUP_STEPS + steps (3x the warm-up under
    torch.compile); prints `images_per_sec X` of the timed steps."""
    data = data.to(device)
    model.to(device)
    opt = adam(model.parameters())
    n = data.shape[0]
    order, pos = torch.randperm(n, device=device), 0
    if init_fn is not None:
        with torch.no_grad():
            init_fn(data[order[:batch]])

    def train_step(x):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(x)
        loss.backward()
        opt.step()
        return loss

    if compile:
        train_step = torch.compile(train_step)

    def step():
        nonlocal order, pos
        if pos + batch > n:
            order, pos = torch.randperm(n, device=device), 0
        x = data[order[pos:pos + batch]]
        pos += batch
        return train_step(x)

    for _ in range(WARMUP_STEPS * (3 if compile else 1)):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    loss.item()
    secs = time.perf_counter() - t0
    print(f"loss {loss.item():.4f}")
    print(f"images_per_sec {steps * batch / secs:.3f}")


def sum_per_example(t):
    return t.reshape(t.shape[0], -1).sum(1)


def dequantize_logit(x, alpha):
    """Uniform dequantization then RealNVP's logit; returns (z, logdet)."""
    xf = x.float()
    y = (xf + torch.rand_like(xf)) / 256.0
    s = y * (1 - 2 * alpha) + alpha
    z = s.log() - torch.log1p(-s)
    ld = -(s.log() + torch.log1p(-s)) + math.log(1 - 2 * alpha)
    return z, sum_per_example(ld)


def std_normal_logp(z):
    return (-0.5 * z * z - 0.5 * math.log(2 * math.pi)).reshape(z.shape[0], -1).sum(1)


def zero_conv(cin, cout, k):
    c = nn.Conv2d(cin, cout, k, padding=k // 2)
    nn.init.zeros_(c.weight)
    nn.init.zeros_(c.bias)
    return c


def zero_linear(cin, cout):
    l = nn.Linear(cin, cout)
    nn.init.zeros_(l.weight)
    nn.init.zeros_(l.bias)
    return l


class ActNorm(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(c))
        self.log_s = nn.Parameter(torch.zeros(c))

    def shape(self, x):
        return (1, -1, 1, 1) if x.dim() == 4 else (1, -1)

    def init(self, x):
        dims = [0, 2, 3] if x.dim() == 4 else [0]
        mean = x.mean(dims, keepdim=True)
        var = ((x - mean) ** 2).mean(dims, keepdim=True)
        self.bias.data.copy_(-mean.reshape(-1))
        self.log_s.data.copy_(-(var.sqrt() + 1e-6).log().reshape(-1))

    def forward(self, x, init=False):
        if init:
            self.init(x)
        s = self.shape(x)
        hw = x[0, 0].numel() if x.dim() == 4 else 1
        y = (x + self.bias.view(s)) * self.log_s.view(s).exp()
        return y, (self.log_s.sum() * hw).expand(x.shape[0])
