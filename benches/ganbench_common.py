"""The timing loop shared by the PyTorch twins of the GAN benchmarks (benches/dcgan.py,
gan_toy.py; genzoo_benches::gan is the genzoo side): genzoo-gan's training step written the way a
speed-minded PyTorch user writes it, and the `images_per_sec X` line genzoo_benches::harness reads.

One training step, as genzoo's `Gan::train_step` with `n_critic` = 1:
* discriminator step: a generated batch (no autograd), D on the real batch and on it (two passes,
  batch norm in train mode), the non-saturating game's D loss `-mean log D(x) - mean log(1 -
  D(G(z)))` as binary cross-entropy with logits, Adam step of D only;
* generator step: fresh noise, G then D (train mode), `-mean log D(G(z))`, gradients of G's
  parameters only (`backward(inputs=...)`: genzoo computes no gradient for the other player),
  Adam step of G only.
Each player has its own Adam (betas (0.5, 0.999), torch's fused kernel over all its parameters).
Data are reshuffled each epoch, the last partial batch dropped; WARMUP_STEPS untimed steps first
(3x under `--compile`, which wraps each player's step in torch.compile, reported beside the eager
figure).
"""
import gzip
import os
import struct
import time

import torch
import torch.nn.functional as F

WARMUP_STEPS = 5
BETAS = (0.5, 0.999)


def mnist_u8():
    """datasets/mnist10k's 9,000 training digits, u8 [n, 1, 28, 28], and their name; else 9,000
    seeded random binary images (0 or 255), as genzoo_benches::vae::bench_split."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets", "mnist10k")
    path = os.path.join(root, "train-images-idx3-ubyte.gz")
    if os.path.exists(path):
        with gzip.open(path, "rb") as f:
            data = f.read()
        magic, n, rows, cols = struct.unpack(">IIII", data[:16])
        if magic != 2051:
            raise ValueError(f"{path}: not an IDX image file (magic {magic})")
        x = torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8)
        return x.view(n, 1, rows, cols), "mnist10k/train"
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 2, (9000, 1, 28, 28), generator=g, dtype=torch.uint8) * 255
    return x, "random-binary"


def adam(params, lr):
    """Adam at `lr` with BETAS: the fused kernel (CPU and CUDA in torch 2.11), else foreach."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=BETAS, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, betas=BETAS, foreach=True)


def run(gen, disc, latent_dim, data, batch, lr, args, prep=lambda x: x, name="data"):
    """Trains `gen` against `disc` on `data` (batches mapped to model space by `prep`) for
    WARMUP_STEPS + args.steps steps; prints the final losses and `images_per_sec X` (examples
    per second of the timed steps)."""
    dev = torch.device(args.device)
    data = data.to(dev)
    gen.to(dev).train()
    disc.to(dev).train()
    g_params = list(gen.parameters())
    d_opt, g_opt = adam(disc.parameters(), lr), adam(g_params, lr)
    n = data.shape[0]

    def d_step(x):
        d_opt.zero_grad(set_to_none=True)
        x = prep(x)
        b = x.shape[0]
        with torch.no_grad():
            fake = gen(torch.randn(b, latent_dim, device=dev))
        d_real, d_fake = disc(x), disc(fake)
        loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + \
            F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        loss.backward()
        d_opt.step()
        return loss

    def g_step(b):
        g_opt.zero_grad(set_to_none=True)
        out = disc(gen(torch.randn(b, latent_dim, device=dev)))
        loss = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        loss.backward(inputs=g_params)
        g_opt.step()
        return loss

    if args.compile:
        d_step, g_step = torch.compile(d_step), torch.compile(g_step)

    order, pos = torch.randperm(n, device=dev), 0

    def step():
        nonlocal order, pos
        if pos + batch > n:
            order, pos = torch.randperm(n, device=dev), 0
        x = data[order[pos:pos + batch]]
        pos += batch
        return d_step(x), g_step(batch)

    for _ in range(WARMUP_STEPS * (3 if args.compile else 1)):
        step()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        d_loss, g_loss = step()
    d_loss, g_loss = d_loss.item(), g_loss.item()  # one sync, so the timing covers all queued work
    secs = time.perf_counter() - t0
    print(f"data {name} steps {args.steps} threads {args.threads} d_loss {d_loss:.4f} g_loss {g_loss:.4f}")
    print(f"images_per_sec {args.steps * batch / secs:.3f}")
