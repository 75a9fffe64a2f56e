#!/usr/bin/env python3
"""Where a training step of `bench made`'s MADE goes, in PyTorch itself: the whole step of the
twin (`benches/made.py`: 784-500-784, batch 128, fused Adam), the five matrix products any
implementation of that step must do (two forward, the two weight gradients, the hidden layer's
input gradient), and the fused Adam update of the 785,284 parameters alone.

The products plus the update bound from below what any library doing the same dense math can
spend per step, so `step_twin / (gemm + adam)` is the most a faster dispatcher (genzoo's, or any)
can gain over this PyTorch step: the ceiling on `bench made`'s ratio. The 1.3x target of
`bench made` (docs/benchmarks.md) rests on per-op overhead dominating there; this measures whether
it does.

    .venv/bin/python benches/ablations/made_step_breakdown.py --threads 2 --steps 200
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from made import BATCH, D, HIDDEN, MADE, loss_function  # noqa: E402


def timed(fn, steps):
    for _ in range(10):
        fn()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps


def parse_args(doc):
    """`--steps`, `--threads`, `--rounds` of the MADE ablations; sets the threads and seed 0."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    return args


def main():
    args = parse_args(__doc__)
    model = MADE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    x = torch.bernoulli(torch.full((BATCH, D), 0.3))

    def step():
        opt.zero_grad(set_to_none=True)
        loss_function(model(x), x).backward()
        opt.step()

    w0, w1 = torch.randn(HIDDEN, D), torch.randn(D, HIDDEN)
    b0, b1 = torch.randn(HIDDEN), torch.randn(D)
    h = torch.randn(BATCH, HIDDEN)
    g_out = torch.randn(BATCH, D)
    g_h = torch.randn(BATCH, HIDDEN)

    def gemms():
        torch.addmm(b0, x, w0.t())  # forward, layer 0: [128, 784] x [784, 500]
        torch.addmm(b1, h, w1.t())  # forward, layer 1: [128, 500] x [500, 784]
        g_out.t().mm(h)  # dW1: [784, 128] x [128, 500]
        g_out.mm(w1)  # dh: [128, 784] x [784, 500]
        g_h.t().mm(x)  # dW0: [500, 128] x [128, 784]

    params = [p.detach().clone() for p in model.parameters()]
    for p in params:
        p.grad = torch.randn_like(p)
    adam = torch.optim.Adam(params, lr=1e-3, fused=True)
    print(f"threads {args.threads} steps {args.steps} params {sum(p.numel() for p in params)}")
    for r in range(args.rounds):
        t_step = timed(step, args.steps)
        t_gemm = timed(gemms, args.steps)
        t_adam = timed(adam.step, args.steps)
        floor = t_gemm + t_adam
        print(
            f"round {r} step_twin_ms {1e3 * t_step:.3f} gemm_ms {1e3 * t_gemm:.3f} "
            f"adam_ms {1e3 * t_adam:.3f} rest_ms {1e3 * (t_step - floor):.3f} "
            f"ceiling_ratio {t_step / floor:.3f}"
        )


if __name__ == "__main__":
    main()
