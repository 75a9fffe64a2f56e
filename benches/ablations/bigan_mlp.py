#!/usr/bin/env python3
"""Why genzoo's BiGAN has batch norm: a PyTorch replica of genzoo-gan's `bigan` `mnist` preset
(MLPs 32-256-512-784 generator with tanh output, 784-512-256-32 encoder with codes soft-clamped
to (-4, 4), a 816-512-256-1 discriminator on [x, z] with dropout 0.2, non-saturating loss, Adam
2e-4 with beta1 0.5, batch 64) on datasets/mnist10k, in four variants named by the first
argument: `plain`; `bn` (batch norm before the hidden activations of G and E); `split` (separate
x and z pathways into D, as ALI's); `noise` (instance noise on D's inputs, std 0.5 annealed to 0);
combinations such as `bn-split`. Prints D's mean logits and recon_mse of G(E(x)) on 1,000 test
digits (pixels in [0, 1]) beside the test mean's every 500 steps. Not a benchmark; kept so the
README's claim (only `bn` learns) can be rerun:

    .venv/bin/python benches/ablations/bigan_mlp.py bn 2001
"""
import gzip, os, sys, numpy as np, torch, torch.nn as nn, torch.nn.functional as F, time
torch.set_num_threads(2); torch.manual_seed(0)
def idx(p):
    with gzip.open(p) as f: d=f.read()
    return np.frombuffer(d, np.uint8, offset=16).reshape(-1,784)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "datasets", "mnist10k")
X = torch.tensor(idx(os.path.join(ROOT, 'train-images-idx3-ubyte.gz')), dtype=torch.float32)/255*2-1
Xt = torch.tensor(idx(os.path.join(ROOT, 't10k-images-idx3-ubyte.gz')), dtype=torch.float32)/255*2-1
variant = sys.argv[1]; steps=int(sys.argv[2]); Z=32
bn = 'bn' in variant; split = 'split' in variant; noise = 'noise' in variant
lr = 2e-4
def mlp(sizes, act, bnorm):
    L=[]
    for i in range(len(sizes)-1):
        L.append(nn.Linear(sizes[i], sizes[i+1]))
        if i < len(sizes)-2:
            if bnorm: L.append(nn.BatchNorm1d(sizes[i+1]))
            L.append(act())
    return nn.Sequential(*L)
lrelu = lambda: nn.LeakyReLU(0.2)
G = mlp([Z,256,512,784], nn.ReLU, bn)
E = mlp([784,512,256,Z], lrelu, bn)
class D(nn.Module):
    def __init__(s):
        super().__init__()
        if split:
            s.x = nn.Sequential(nn.Linear(784,512), nn.LeakyReLU(0.2), nn.Dropout(0.2))
            s.z = nn.Sequential(nn.Linear(Z,512), nn.LeakyReLU(0.2), nn.Dropout(0.2))
            s.j = nn.Sequential(nn.Linear(1024,256), nn.LeakyReLU(0.2), nn.Dropout(0.2), nn.Linear(256,1))
        else:
            s.j = nn.Sequential(nn.Linear(784+Z,512), nn.LeakyReLU(0.2), nn.Dropout(0.2), nn.Linear(512,256), nn.LeakyReLU(0.2), nn.Dropout(0.2), nn.Linear(256,1))
    def forward(s, x, z):
        if split: return s.j(torch.cat([s.x(x), s.z(z)],1)).squeeze(1)
        return s.j(torch.cat([x,z],1)).squeeze(1)
Dn = D()
gen = lambda z: torch.tanh(G(z))
enc = lambda x: 4*torch.tanh(E(x)/4)
og = torch.optim.Adam(list(G.parameters())+list(E.parameters()), lr, betas=(0.5,0.999))
od = torch.optim.Adam(Dn.parameters(), lr, betas=(0.5,0.999))
t0=time.time()
for s in range(steps):
    x = X[torch.randint(0, len(X), (64,))]; z = torch.randn(64, Z)
    sig = max(0.0, 1 - s/steps)*0.5 if noise else 0.0
    nx = lambda t: t + sig*torch.randn_like(t)
    with torch.no_grad(): ex = enc(x); gz = gen(z)
    dr = Dn(nx(x), nx(ex)); df = Dn(nx(gz), nx(z))
    dl = F.softplus(-dr).mean() + F.softplus(df).mean()
    od.zero_grad(); dl.backward(); od.step()
    ex = enc(x); gz = gen(z)
    gl = F.softplus(-Dn(nx(gz), nx(z))).mean() + F.softplus(Dn(nx(x), nx(ex))).mean()
    og.zero_grad(); gl.backward(); og.step()
    if s % 500 == 0 or s == steps-1:
        G.eval(); E.eval(); Dn.eval()
        with torch.no_grad():
            rec = gen(enc(Xt[:1000])); u=(Xt[:1000]+1)/2; r=(rec+1)/2
            mse = ((r-u)**2).mean().item(); mm = ((u.mean(0,keepdim=True)-u)**2).mean().item()
            print(f"{variant} step {s} d_real {dr.mean():.2f} d_fake {df.mean():.2f} recon {mse:.4f} mean {mm:.4f} t {time.time()-t0:.0f}", flush=True)
        G.train(); E.train(); Dn.train()
