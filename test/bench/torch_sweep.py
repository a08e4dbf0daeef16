#!/usr/bin/env python3
"""The issue's sweep as a PyTorch user scripts it, in one process: 27 LoRA fine-tunes of
the classic kind on one base (rank 1, 2, 4 x lr 1e-3, 3e-3, 1e-2 x 3 seeds; alpha 1,
A ~ N(0, 1/r), B = 0, all three layers; Adam; 100 batches of 10 on digit 7; the whole
test set evaluated after each run, the base once).

The base is the one LoRA Lab's bench trained and exported (safetensors, PyTorch's
[out, in] orientation), so both sides fine-tune the same weights and base training is
not part of either figure. `--mode classic` is the reference notebook's parametrisation
(W + s*B*A materialised every step, the issue's anchor); `efficient` is
x*W^T + s*(x*A^T)*B^T.

  python3 torch_sweep.py MNIST_DIR BASE.safetensors [--mode classic|efficient] [--seeds 3]

Prints one JSON line: wall seconds of the sweep (after loading), of the base evaluation,
and per run (train, eval), with each run's digit-7 wrong count.
"""
import argparse
import json
import os
import struct
import time

import numpy as np
import torch
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


def safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        assert meta["dtype"] == "F32", meta["dtype"]
        out[name] = torch.from_numpy(np.frombuffer(raw, dtype="<f4", count=(b - a) // 4, offset=8 + n + a).reshape(meta["shape"]).copy())
    return out


LAYERS = ("linear1", "linear2", "linear3")


def forward(w, x, lora=None, mode="classic"):
    h = x
    for i, name in enumerate(LAYERS):
        W, b = w[f"{name}.weight"], w[f"{name}.bias"]
        if lora is None:
            z = F.linear(h, W, b)
        elif mode == "classic":
            a, bb, s = lora[i]
            z = F.linear(h, W + s * (bb @ a), b)
        else:
            a, bb, s = lora[i]
            z = F.linear(h, W, b) + s * ((h @ a.t()) @ bb.t())
        h = F.relu(z) if i < len(LAYERS) - 1 else z
    return h


def evaluate(w, x, y, lora, mode):
    with torch.no_grad():
        pred = torch.cat([forward(w, x[i:i + 1000], lora, mode).argmax(1) for i in range(0, len(x), 1000)])
    return int(((y == 7) & (pred != 7)).sum()), float((pred == y).float().mean())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mnist")
    p.add_argument("base")
    p.add_argument("--mode", default="classic", choices=["classic", "efficient"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--ranks", default="1,2,4")
    p.add_argument("--lrs", default="0.001,0.003,0.01")
    args = p.parse_args()
    xtr, ytr = load(args.mnist, "train")
    xte, yte = load(args.mnist, "t10k")
    w = safetensors(args.base)
    for t in w.values():
        t.requires_grad_(False)
    sevens_x, sevens_y = xtr[ytr == 7], ytr[ytr == 7]

    t0 = time.perf_counter()
    base_wrong, base_acc = evaluate(w, xte, yte, None, args.mode)
    base_s = time.perf_counter() - t0
    runs = []
    for r in [int(v) for v in args.ranks.split(",")]:
        for lr in [float(v) for v in args.lrs.split(",")]:
            for seed in range(args.seeds):
                t1 = time.perf_counter()
                torch.manual_seed(seed)
                lora = []
                for name in LAYERS:
                    out_f, in_f = w[f"{name}.weight"].shape
                    lora.append(((torch.randn(r, in_f) / r).requires_grad_(), torch.zeros(out_f, r).requires_grad_(), 1.0 / r))
                opt = torch.optim.Adam([t for a, b, _ in lora for t in (a, b)], lr=lr)
                order = torch.randperm(len(sevens_x))
                for i in range(100):
                    sel = order[i * 10:(i + 1) * 10]
                    opt.zero_grad()
                    F.cross_entropy(forward(w, sevens_x[sel], lora, args.mode), sevens_y[sel]).backward()
                    opt.step()
                t2 = time.perf_counter()
                wrong7, acc = evaluate(w, xte, yte, lora, args.mode)
                t3 = time.perf_counter()
                runs.append({"r": r, "lr": lr, "seed": seed, "trainSeconds": t2 - t1, "evalSeconds": t3 - t2, "wrong7": wrong7, "accuracy": acc})
    wall = time.perf_counter() - t0
    print(json.dumps({"bench": "torch-sweep", "mode": args.mode, "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "wallSeconds": wall, "baseEvalSeconds": base_s, "base": {"wrong7": base_wrong, "accuracy": base_acc}, "runs": runs}))


if __name__ == "__main__":
    main()
