#!/usr/bin/env python3
"""What genzoo's MADE training step does, written by hand in PyTorch: how much of `bench made`'s
ratio a PyTorch user could also get without autograd.

genzoo's MADE (`genzoo_core::layers::made_backprop`) computes its gradients by the
chain rule into buffers kept from step to step (no autograd graph, no fresh tensor of the
network's size per step), and with one fixed mask computes only the blocks of the masks'
staircases that hold nonzero entries (4 groups of rows and of columns: 62.5% of the dense work on
784-500-784). This script times, on the same batch and with the same fused Adam:

* `twin`: the autograd step of `benches/made.py` (what `bench made` compares against);
* `manual`: the hand-written step with dense masked products in preallocated buffers;
* `manual_blocked`: the same with the staircase blocks only;
* `bernoulli`: one `torch.bernoulli` binarization of a batch (what both `bench made` sides
  would pay for it; genzoo draws the levels itself, see `binarize_dynamic`);
* `mask_fresh` / `mask_inplace`: the first layer's `W * M` into a new tensor (as autograd's step
  does at every step) and into existing memory.

Prints milliseconds per step, interleaved over rounds, and checks that the manual gradients equal
autograd's.

    .venv/bin/python benches/ablations/made_manual_step.py --threads 2 --steps 200
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from made import BATCH, D, HIDDEN, MADE, loss_function  # noqa: E402
from made_step_breakdown import parse_args, timed  # noqa: E402

GROUPS = 4


def staircase_blocks(mask, groups):
    """Row groups of `mask` [rows, cols] with the column interval their nonzeros use, and column
    groups with their row interval (mask_blocks.rs, without the dense fallback)."""
    nz = mask.nonzero()

    def spans(rows_first):
        n = mask.shape[0] if rows_first else mask.shape[1]
        a, o = (nz[:, 0], nz[:, 1]) if rows_first else (nz[:, 1], nz[:, 0])
        out = []
        for k in range(groups):
            s, e = n * k // groups, n * (k + 1) // groups
            sel = (a >= s) & (a < e)
            lo, hi = (int(o[sel].min()), int(o[sel].max()) + 1) if sel.any() else (0, 0)
            out.append((s, e - s, lo, hi))
        return out

    return spans(True), spans(False)


class ManualStep:
    def __init__(self, model, blocked):
        layers = [model.l0, model.l1]
        self.w = [l.weight.detach().clone() for l in layers]
        self.b = [l.bias.detach().clone() for l in layers]
        self.m = [l.mask for l in layers]
        self.params = self.w[:1] + self.b[:1] + self.w[1:] + self.b[1:]
        self.wm = [torch.zeros_like(w) for w in self.w]
        self.dw = [torch.zeros_like(w) for w in self.w]
        self.db = [torch.zeros_like(b) for b in self.b]
        self.h = torch.empty(BATCH, HIDDEN)
        self.y = torch.empty(BATCH, D)
        self.g = torch.empty(BATCH, D)
        self.dh = torch.empty(BATCH, HIDDEN)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.t = [torch.tensor(0.0) for _ in self.params]
        def dense(m):
            return [(0, m.shape[0], 0, m.shape[1])], [(0, m.shape[1], 0, m.shape[0])]

        self.blocks = [staircase_blocks(m, GROUPS) if blocked else dense(m) for m in self.m]

    def step(self, x):
        prev = [x, self.h]
        outs = [self.h, self.y]
        for l in range(2):
            for s, n, lo, hi in self.blocks[l][0]:
                torch.mul(self.w[l][s:s + n, lo:hi], self.m[l][s:s + n, lo:hi],
                          out=self.wm[l][s:s + n, lo:hi])
                torch.addmm(self.b[l][s:s + n], prev[l][:, lo:hi], self.wm[l][s:s + n, lo:hi].t(),
                            out=outs[l][:, s:s + n])
            if l == 0:
                self.h.relu_()
        loss = F.binary_cross_entropy_with_logits(self.y, x, reduction="sum") / BATCH
        torch.sigmoid(self.y, out=self.g)
        self.g.sub_(x).div_(BATCH)
        delta = [self.dh, self.g]
        for l in (1, 0):
            for s, n, lo, hi in self.blocks[l][0]:
                torch.mm(delta[l][:, s:s + n].t(), prev[l][:, lo:hi], out=self.dw[l][s:s + n, lo:hi])
                self.dw[l][s:s + n, lo:hi].mul_(self.m[l][s:s + n, lo:hi])
            torch.sum(delta[l], 0, out=self.db[l])
            if l == 1:
                for s, n, lo, hi in self.blocks[1][1]:
                    torch.mm(self.g[:, lo:hi], self.wm[1][lo:hi, s:s + n], out=self.dh[:, s:s + n])
                self.dh.masked_fill_(self.h <= 0, 0.0)
        for t in self.t:
            t.add_(1)
        grads = self.dw[:1] + self.db[:1] + self.dw[1:] + self.db[1:]
        torch._fused_adam_(self.params, grads, self.exp_avg, self.exp_avg_sq, [], self.t, lr=1e-3,
                           beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8, amsgrad=False,
                           maximize=False)
        return loss


def check_gradients(x):
    torch.manual_seed(1)
    model = MADE()
    loss_function(model(x), x).backward()
    want = [model.l0.weight.grad, model.l0.bias.grad, model.l1.weight.grad, model.l1.bias.grad]
    for blocked in (False, True):
        manual = ManualStep(model, blocked)
        manual.step(x)  # updates its own copy of the weights, after taking the gradients
        got = manual.dw[:1] + manual.db[:1] + manual.dw[1:] + manual.db[1:]
        err = max(float((g - w).abs().max()) for g, w in zip(got, want))
        print(f"check blocked={blocked} max_grad_error {err:.2e}")
        assert err < 1e-5


def main():
    args = parse_args(__doc__)
    x = torch.bernoulli(torch.full((BATCH, D), 0.3))
    check_gradients(x)
    model = MADE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)

    def twin():
        opt.zero_grad(set_to_none=True)
        loss_function(model(x), x).backward()
        opt.step()

    dense, blocked = ManualStep(MADE(), False), ManualStep(MADE(), True)
    p = torch.full((BATCH, D), 0.3)
    w, mask = model.l0.weight.detach(), model.l0.mask
    w_copy = w.clone()
    cases = {
        "twin": twin,
        "manual": lambda: dense.step(x),
        "manual_blocked": lambda: blocked.step(x),
        "bernoulli": lambda: torch.bernoulli(p),
        "mask_fresh": lambda: w * mask,  # the twin's forward `W * M`: a new [500, 784] tensor
        "mask_inplace": lambda: w_copy.mul_(mask),  # the same product into existing memory
    }

    print(f"threads {args.threads} steps {args.steps} batch {BATCH} groups {GROUPS}")
    for r in range(args.rounds):
        print(f"round {r} " + " ".join(f"{k}_ms {timed(f, args.steps) * 1e3:.3f}" for k, f in cases.items()))


if __name__ == "__main__":
    main()
