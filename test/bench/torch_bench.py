#!/usr/bin/env python3
"""PyTorch reference for LoRA Lab's training benchmark (same MLP, same workloads).

Prints one JSON object: samples/s per workload, measured as the median step time
after warm-up. LoRA is measured two ways: the classic experiment's parametrisation
(W + scale·B·A materialised every step, as the reference notebook does) and the
efficient form x·Wᵀ + scale·(x·Aᵀ)·Bᵀ; the faster of the two is the reference.
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

    n = n or (40 if batch <= 10 else 20 if batch <= 64 else 10)
    return batch / time_steps(step, 5, n)


def bench_infer(batch=256):
    layers = mlp()
    x = torch.randn(batch, 784)

    def step():
        with torch.no_grad():
            forward(layers, x).argmax(1).tolist()

    return batch / time_steps(step, 3, 20)


def main():
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
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpuSeconds"] = usage.ru_utime + usage.ru_stime
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
