#!/usr/bin/env python3
"""PyTorch reference for LoRA Lab's training benchmark (same MLP, same workloads).

Prints one JSON object: samples/s per workload, measured as the median step time
after warm-up. LoRA is measured two ways: the classic experiment's parametrisation
(W + scale·B·A materialised every step, as the reference notebook does) and the
efficient form x·Wᵀ + scale·(x·Aᵀ)·Bᵀ; the faster of the two is the reference.

The LoRA variants (rank 1 on every layer, batch 10 and 64) are written plainly with
PEFT's formulas (PyTorch orientation: W0 [out, in], A [r, in], B [out, r]):
- DoRA (PEFT's DoraLinearLayer.forward): lora_weight = lora_B(lora_A(eye(in)))ᵀ, the
  full [out, in] product every forward, ‖W0 + s·lora_weight‖ over dim 1, detached;
  z = base(x) + (m/‖·‖ − 1)·(base(x) − bias) + (m/‖·‖)·s·lora_B(lora_A(x)). Measured
  also with lora_weight = B·A (no identity), the faster of the two is the reference.
- LoRA-FA (PEFT's LoraFAOptimizer): A frozen, B's gradient ← (1/s²)·g_B·pinv(A·Aᵀ + δI)
  before Adam, recomputed each step as PEFT does.
- PiSSA / OLoRA: the step is plain LoRA's on the residual base; their initialisation
  (torch.linalg.svd / qr, as PEFT's pissa_init / olora_init) is timed separately.
Variants are timed round-robin (one step of each in turn) so the machine's load moves
them alike, and compared with plain LoRA measured in the same rounds.

`--check DIR`: how close LoRA Lab's PiSSA / OLoRA factors (written by train-bench.ts)
are to the exact decomposition (float64): ‖s·B0·A0 − U_r·S_r·V_rᵀ‖_F / ‖U_r·S_r·V_rᵀ‖_F
for PiSSA, the same against Q_r·Q_rᵀ·W0 for OLoRA.
"""
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

QUICK = "--quick" in sys.argv
THREADS = int(os.environ.get("TORCH_THREADS", "2"))
torch.set_num_threads(THREADS)
torch.manual_seed(0)
SIZES = [784, 1000, 2000, 10]


def mlp():
    layers = [nn.Linear(SIZES[i], SIZES[i + 1]) for i in range(len(SIZES) - 1)]
    return nn.ModuleList(layers)


def forward(layers, x, lora=None, mode="efficient"):
    h = x
    for i, l in enumerate(layers):
        if lora is None:
            z = l(h)
        elif mode == "classic":
            a, b, s = lora[i]
            z = F.linear(h, l.weight + s * (b @ a), l.bias)
        else:
            a, b, s = lora[i]
            z = l(h) + s * ((h @ a.t()) @ b.t())
        h = F.relu(z) if i < len(layers) - 1 else z
    return h


def time_steps(step, warmup, n):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(batch, kind, mode="efficient", n=None):
    layers = mlp()
    x = torch.randn(batch, 784)
    y = torch.randint(0, 10, (batch,))
    lora = None
    if kind == "lora":
        for p in layers.parameters():
            p.requires_grad_(False)
        lora = []
        for i in range(len(SIZES) - 1):
            a = torch.randn(1, SIZES[i]).requires_grad_()
            b = torch.zeros(SIZES[i + 1], 1).requires_grad_()
            lora.append((a, b, 1.0))
        params = [t for a, b, _ in lora for t in (a, b)]
    else:
        params = list(layers.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(forward(layers, x, lora, mode), y)
        loss.backward()
        opt.step()
        loss.item()

    n = 4 if QUICK else n or (40 if batch <= 10 else 20 if batch <= 64 else 10)
    return batch / time_steps(step, 1 if QUICK else 5, n)


def bench_infer(batch=256):
    layers = mlp()
    x = torch.randn(batch, 784)

    def step():
        with torch.no_grad():
            forward(layers, x).argmax(1).tolist()

    return batch / time_steps(step, 1 if QUICK else 3, 4 if QUICK else 20)


# ---- LoRA variants -------------------------------------------------------------

VARIANTS = ("lora", "dora", "dora-ba", "lora-fa", "pissa", "olora")
LORA_FA_DELTA = 1e-8


def pissa_init(weight, r, s):
    """PEFT's pissa_init: (A0, B0, residual) for W0 [out, in]."""
    V, S, Uh = torch.linalg.svd(weight.data.to(torch.float32), full_matrices=False)
    Sr = S[:r] / s
    a = torch.diag(torch.sqrt(Sr)) @ Uh[:r]
    b = V[:, :r] @ torch.diag(torch.sqrt(Sr))
    return a, b, weight.data - s * b @ a


def olora_init(weight, r, s):
    """PEFT's olora_init: (A0, B0, residual) for W0 [out, in]."""
    Q, R = torch.linalg.qr(weight.data.to(torch.float32))
    a, b = R[:r].contiguous(), Q[:, :r].contiguous()
    return a, b, weight.data - s * b @ a


def init_ms(kind, r, s=1.0):
    """Wall time of PiSSA / OLoRA's initialisation of the whole MLP (every layer)."""
    layers = mlp()
    f = pissa_init if kind == "pissa" else olora_init
    t0 = time.perf_counter()
    with torch.no_grad():
        for l in layers:
            _, _, res = f(l.weight, r, s)
            l.weight.data.copy_(res)
    return (time.perf_counter() - t0) * 1000


class Variant:
    """One MLP with a rank-1 adapter of `kind` on every layer, its Adam and its step."""

    def __init__(self, kind, r=1, s=1.0):
        self.kind, self.s = kind, s
        torch.manual_seed(1)
        self.layers = mlp()
        for p in self.layers.parameters():
            p.requires_grad_(False)
        self.a, self.b, self.m = [], [], []
        for l in self.layers:
            out_f, in_f = l.weight.shape
            if kind in ("pissa", "olora"):
                a, b, res = (pissa_init if kind == "pissa" else olora_init)(l.weight, r, s)
                l.weight.data.copy_(res)
            else:
                a, b = torch.randn(r, in_f) / r, torch.zeros(out_f, r)  # gaussian A, B = 0
            self.a.append(a.requires_grad_(kind != "lora-fa"))
            self.b.append(b.requires_grad_())
            if kind.startswith("dora"):
                with torch.no_grad():
                    m = (l.weight + s * (b @ a)).norm(p=2, dim=1)
                self.m.append(m.requires_grad_())
        params = [t for t in self.a if t.requires_grad] + self.b + self.m
        self.opt = torch.optim.Adam(params, lr=1e-3)

    def forward(self, x):
        h, s = x, self.s
        for i, l in enumerate(self.layers):
            a, b = self.a[i], self.b[i]
            result = l(h)  # base_layer(x), bias included
            lora_result = F.linear(F.linear(h, a), b)  # lora_B(lora_A(x))
            if self.kind.startswith("dora"):
                if self.kind == "dora":
                    x_eye = torch.eye(a.shape[1], dtype=h.dtype)
                    lora_weight = F.linear(F.linear(x_eye, a), b).T  # PEFT: lora_B(lora_A(x_eye)).T
                else:
                    lora_weight = b @ a
                weight_norm = torch.linalg.norm(l.weight + s * lora_weight.detach(), dim=1).detach()
                mag_norm_scale = (self.m[i] / weight_norm).view(1, -1)
                base_result = result - l.bias
                result = result + (mag_norm_scale - 1) * base_result + mag_norm_scale * lora_result * s
            else:
                result = result + lora_result * s
            h = F.relu(result) if i < len(self.layers) - 1 else result
        return h

    def step(self, x, y):
        self.opt.zero_grad()
        loss = F.cross_entropy(self.forward(x), y)
        loss.backward()
        if self.kind == "lora-fa":
            with torch.no_grad():
                for a, b in zip(self.a, self.b):
                    aat = a @ a.T
                    inv = torch.linalg.pinv(aat + LORA_FA_DELTA * torch.eye(a.shape[0]))
                    b.grad = (1 / self.s**2) * (b.grad @ inv)
        self.opt.step()
        loss.item()


def bench_variants(batches=(10, 64)):
    """Median step ms per variant and batch, the variants stepped round-robin."""
    models = {k: Variant(k) for k in VARIANTS}
    out = {}
    for batch in batches:
        x = torch.randn(batch, 784)
        y = torch.randint(0, 10, (batch,))
        warm, n = (1, 4) if QUICK else (5, 60 if batch <= 10 else 30)
        times = {k: [] for k in VARIANTS}
        for i in range(warm + n):
            order = VARIANTS[i % len(VARIANTS):] + VARIANTS[: i % len(VARIANTS)]
            for k in order:
                t0 = time.perf_counter()
                models[k].step(x, y)
                if i >= warm:
                    times[k].append(time.perf_counter() - t0)
        for k in VARIANTS:
            out[f"{k}-b{batch}"] = statistics.median(times[k]) * 1000
    return out


def check(folder):
    """LoRA Lab's PiSSA / OLoRA factors against the exact decomposition (float64)."""
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)

    def load(name, shape, dtype):
        with open(os.path.join(folder, name), "rb") as f:
            return torch.frombuffer(bytearray(f.read()), dtype=dtype).reshape(shape).to(torch.float64)

    weights, rows = {}, []
    for e in manifest:
        out_f, in_f, r = e["out"], e["in"], e["r"]
        if e["layer"] not in weights:
            W = load(e["W"], (in_f, out_f), torch.float32).T.contiguous()  # stored [in, out]
            U, S, Vh = torch.linalg.svd(W, full_matrices=False)
            weights[e["layer"]] = (W, U, S, Vh)
        W, U, S, Vh = weights[e["layer"]]
        A = load(e["A"], (r, in_f), torch.float64)
        B = load(e["B"], (out_f, r), torch.float64)
        ours = e["scaling"] * (B @ A)
        if e["variant"] == "pissa":
            exact = (U[:, :r] * S[:r]) @ Vh[:r]
        else:
            Q, _ = torch.linalg.qr(W)
            exact = Q[:, :r] @ (Q[:, :r].T @ W)
        err = (torch.linalg.norm(ours - exact) / torch.linalg.norm(exact)).item()
        gap = (S[r - 1] / S[r]).item() if r < S.numel() else None
        rows.append({"variant": e["variant"], "r": r, "layer": e["layer"], "relErr": err, "sigmaGap": gap})
    return rows


def main():
    if "--check" in sys.argv:
        json.dump({"checks": check(sys.argv[sys.argv.index("--check") + 1])}, sys.stdout)
        return
    out = {"torch": torch.__version__, "threads": THREADS, "workloads": {}}
    w = out["workloads"]
    for b in (10, 64, 256):
        classic = bench(b, "lora", "classic")
        efficient = bench(b, "lora", "efficient")
        w[f"lora-b{b}"] = max(classic, efficient)
        w[f"lora-b{b}-classic"] = classic
        w[f"lora-b{b}-efficient"] = efficient
    for b in (10, 64, 256):
        w[f"full-b{b}"] = bench(b, "full")
    w["infer-b256"] = bench_infer(256)
    out["variantStepMs"] = bench_variants()
    out["initMs"] = {f"{k}-r{r}": init_ms(k, r) for k in ("pissa", "olora") for r in ((1,) if QUICK else (1, 8))}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpuSeconds"] = usage.ru_utime + usage.ru_stime
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
