"""The timing harness shared by the PyTorch twins of models trained on dynamically binarized
mnist10k digits (`made.py`, `pixelcnn.py`): arguments, data, fused Adam, the batch loop with a
fresh Bernoulli draw per batch, warm-up, and the `images_per_sec X` / `images_per_cpu_sec Y` lines
that `genzoo_benches::harness` reads.
"""
import argparse
import time

import torch

from vae_mlp import load_data


def run_twin(doc, model, loss_function, batch, warmup_steps, shape=(-1, 784)):
    """Trains `model` (built on the CPU) with `loss_function(model(x), x)` on batches of `batch`
    binarized digits shaped `shape`, and prints the figures of the timed steps."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
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
    x_all = x_all.view(*shape).to(dev)
    n = x_all.shape[0]
    model = model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    model.train()

    def step(x):
        opt.zero_grad(set_to_none=True)
        loss = loss_function(model(x), x)
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
            if pos + batch > n:
                perm, pos = torch.randperm(n, device=dev), 0
            x = torch.bernoulli(x_all[perm[pos:pos + batch]])
            pos += batch
            last = step(x)
        return last.item()  # one sync, so the timing covers all queued work

    run(warmup_steps if not args.compile else 3 * warmup_steps)
    t0, c0 = time.perf_counter(), time.process_time()
    loss = run(args.steps)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"data {name} steps {args.steps} threads {args.threads} final_loss_per_example {loss:.2f}")
    print(f"images_per_sec {args.steps * batch / dt:.1f}")
    # Per second of this process's CPU time (all threads): steadier on a shared machine.
    print(f"images_per_cpu_sec {args.steps * batch / cpu:.1f}")
