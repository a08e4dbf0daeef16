#!/usr/bin/env python3
"""The LoRA variants written plainly in PyTorch, for test/trainer/torch-variants.test.ts.

Shares no code with LoRA Lab: tensors come in as safetensors files (parsed here with
json + numpy from the format description: 8-byte little-endian header length, JSON
header, raw little-endian data) and results go out as one JSON file. Every tensor a
run starts from is given (frozen W per layer as trained against, biases, A0, B0, DoRA's
m0, the batches), so no seed matters.

Formulas as Hugging Face PEFT has them (PyTorch orientation: W [out, in], A [r, in],
B [out, r]; s = alpha/r, or alpha/sqrt(r) with rsLoRA):
  LoRA:     z = x W^T + b + s (x A^T) B^T
  DoRA:     z = (m / ||W + s B A||) * (x W^T + s (x A^T) B^T) + b, the norm per output
            row over the input dimension and detached (PEFT: weight_norm.detach())
  LoRA-FA:  A frozen; before the step B's gradient becomes (1/s^2) g_B pinv(A A^T + 1e-8 I)
            (PEFT's create_lorafa_optimizer)
  LoRA+:    B (and DoRA's magnitude) at ratio x lr
ReLU between layers, none after the last; loss F.cross_entropy (mean over the batch);
torch.optim.Adam (betas 0.9/0.999, eps 1e-8, no weight decay). Each variant runs in
float32 (what LoRA Lab is compared with) and in float64 (what float32 rounding is
measured against).

PiSSA / OLoRA initialisations are computed here too, from the original base W0, as
PEFT's pissa_init / olora_init do: torch.linalg.svd (B = U_r sqrt(S_r/s),
A = sqrt(S_r/s) V_r^T) and torch.linalg.qr (B = Q_r, A = R_r), in float64; what is
returned is s B0 A0 per layer, which does not depend on the factors' signs.

usage: torch_variants.py DIR   (reads DIR/manifest.json, writes DIR/torch.json)
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)  # one thread: a fixed summation order, and the test runs beside others


def read_safetensors(path):
    """name -> float32 ndarray (F32 only: what LoRA Lab writes)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    data = raw[8 + n :]
    out = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            raise ValueError("%s: %s is %s, expected F32" % (path, name, e["dtype"]))
        begin, end = e["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(e["shape"]).copy()
    return out


def flat(t):
    return [float(v) for v in t.detach().double().reshape(-1).tolist()]


def train(spec, init, xs, ys, dtype):
    """Run spec's steps from init's tensors. -> (losses, final tensors by LoRA Lab's names)."""
    s, dora, freeze_a, n = spec["scaling"], spec["dora"], spec["freezeA"], spec["layers"]
    t = lambda name, grad: torch.tensor(init[name], dtype=dtype).requires_grad_(grad)
    layers = []
    for i in range(1, n + 1):
        name = "linear%d" % i
        layers.append({
            "name": name,
            "W": t(name + ".weight", False),  # frozen: the base, or PiSSA/OLoRA's residual
            "b": t(name + ".bias", False),
            "A": t(name + ".lora_A", not freeze_a),
            "B": t(name + ".lora_B", True),
            "m": t(name + ".lora_magnitude_vector", True) if dora else None,
        })
    slow = [l["A"] for l in layers if not freeze_a]
    fast = [l["B"] for l in layers] + [l["m"] for l in layers if dora]
    groups = [{"params": fast, "lr": spec["lr"] * spec["ratio"]}]
    if slow:
        groups.append({"params": slow, "lr": spec["lr"]})
    opt = torch.optim.Adam(groups, lr=spec["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    if freeze_a:
        # LoRA-FA's projection, constant while A is frozen (computed in the run's dtype, as PEFT).
        for l in layers:
            r = l["A"].shape[0]
            gram = l["A"] @ l["A"].T + 1e-8 * torch.eye(r, dtype=dtype)
            l["P"] = torch.linalg.pinv(gram) / (s * s)
    losses = []
    for x_np, y_np in zip(xs, ys):
        x = torch.tensor(x_np, dtype=dtype)
        y = torch.tensor(y_np, dtype=torch.int64)
        opt.zero_grad(set_to_none=True)
        h = x
        for i, l in enumerate(layers):
            lora = s * ((h @ l["A"].T) @ l["B"].T)
            if dora:
                norm = torch.linalg.norm(l["W"] + s * (l["B"] @ l["A"]), dim=1).detach()
                z = (l["m"] / norm) * (h @ l["W"].T + lora) + l["b"]
            else:
                z = h @ l["W"].T + l["b"] + lora
            h = F.relu(z) if i < n - 1 else z
        loss = F.cross_entropy(h, y)
        loss.backward()
        if freeze_a:
            for l in layers:
                l["B"].grad = l["B"].grad @ l["P"]
        opt.step()
        losses.append(float(loss.item()))
    final = {}
    for l in layers:
        final[l["name"] + ".lora_A"] = flat(l["A"])
        final[l["name"] + ".lora_B"] = flat(l["B"])
        if dora:
            final[l["name"] + ".lora_magnitude_vector"] = flat(l["m"])
    return losses, final


def init_product(kind, w0, r, s):
    """s B0 A0 [out, in] for PiSSA (SVD) or OLoRA (QR) from W0 [out, in], in float64."""
    w = torch.tensor(w0, dtype=torch.float64)
    if kind == "pissa":
        u, sv, vh = torch.linalg.svd(w, full_matrices=False)
        sr = sv[:r] / s
        b = u[:, :r] @ torch.diag(torch.sqrt(sr))
        a = torch.diag(torch.sqrt(sr)) @ vh[:r]
    elif kind == "olora":
        q, rr = torch.linalg.qr(w)
        b, a = q[:, :r], rr[:r]
    else:
        raise ValueError("unknown init %r" % kind)
    return s * (b @ a)


def main():
    folder = sys.argv[1]
    with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    batches = read_safetensors(os.path.join(folder, manifest["batches"]))
    size, steps = manifest["batch"], manifest["steps"]
    x_all, y_all = batches["x"], batches["y"].astype(np.int64)
    xs = [x_all[k * size : (k + 1) * size] for k in range(steps)]
    ys = [y_all[k * size : (k + 1) * size] for k in range(steps)]
    out = {"torch": torch.__version__, "variants": {}, "inits": {}}
    for spec in manifest["variants"]:
        init = read_safetensors(os.path.join(folder, spec["file"]))
        res = {}
        for label, dtype in (("float32", torch.float32), ("float64", torch.float64)):
            losses, final = train(spec, init, xs, ys, dtype)
            res[label] = {"losses": losses, "tensors": final}
        out["variants"][spec["name"]] = res
    base = read_safetensors(os.path.join(folder, manifest["base"]))
    for spec in manifest["inits"]:
        out["inits"][spec["name"]] = {
            layer: flat(init_product(spec["kind"], base[layer + ".weight"], spec["r"], spec["scaling"])) for layer in spec["layers"]
        }
    with open(os.path.join(folder, "torch.json"), "w", encoding="utf-8") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
