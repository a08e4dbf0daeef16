#!/usr/bin/env python3
"""Independent check of `lora-lab analyze`, in Python + numpy only.

Reads a base model exported as safetensors and a PEFT adapter folder (with the
readers of check_exports.py, written from the format descriptions), forms each target
layer's update densely, dW = W' - W0 with W' = W0 + s * B @ A (LoRA) or DoRA's
m * (W0 + s * B @ A) / ||W0 + s * B @ A|| (per output row), and prints per layer, from
numpy's own SVDs:
  the singular values of dW, effective rank exp(-sum p ln p) with p = sigma / sum sigma,
  stable rank sum sigma^2 / sigma_1^2, the fewest sigma holding 90% of sum sigma^2,
  ||dW||_F / ||W0||_F, the amplification factor ||dW||_F / ||U^T W0 V||_F (U, V the top-r
  singular vectors of dW), and intruder dimensions: of the top-k left singular vectors
  of W', those whose largest |cosine| with the left singular vectors of W0 (thin SVD)
  is below eps.
With --tuned FILE instead of --peft, the update is a fine-tuned model's W - W0 on every
layer (a full fine-tune exported as safetensors; amplification over its top 8 directions).
With --vs FOLDER, phi[i-1][j-1] = ||X1[:, :i]^T X2[:, :j]||_F^2 / min(i, j) for the
right (input) and left (output) singular vectors of the two updates (at most 64 each).

usage: analyze_adapter.py --model BASE.safetensors (--peft DIR | --tuned FILE.safetensors) [--vs DIR] [--k 10] [--eps 0.5]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_exports import adapted_weights, check_model, read_peft, read_safetensors, require  # noqa: E402

KEPT = 64
DENSE_RANK = 8


def updates(tensors, sizes, folder):
    cfg, pairs, scaling = read_peft(folder, sizes)
    base = adapted_weights(tensors, sizes)
    tuned = adapted_weights(tensors, sizes, pairs, scaling)
    return cfg, {layer: (base[layer], tuned[layer]) for layer in pairs}


def tuned_updates(tensors, sizes, path):
    tuned, metadata = read_safetensors(path)
    require(check_model(tuned, metadata) == sizes, "the tuned model's layers differ from the base's")
    base = adapted_weights(tensors, sizes)
    after = adapted_weights(tuned, sizes)
    return {layer: (base[layer], after[layer]) for layer in base}


def layer_figures(w0, w1, r, k, eps):
    dw = w1 - w0
    u, s, vt = np.linalg.svd(dw, full_matrices=False)
    keep = s > 1e-9 * s[0]
    sig = s[keep]
    p = sig / sig.sum()
    energy = (sig ** 2).sum()
    rank90 = int(np.searchsorted(np.cumsum(sig ** 2), 0.9 * energy) + 1)
    q = min(r, sig.size)
    projected = u[:, :q].T @ w0 @ vt[:q].T
    u0, _, _ = np.linalg.svd(w0, full_matrices=False)
    ut, st, _ = np.linalg.svd(w1, full_matrices=False)
    kk = min(k, ut.shape[1])
    max_cos = np.abs(ut[:, :kk].T @ u0).max(axis=1)
    return {
        "singularValues": sig.tolist(),
        "effectiveRank": float(np.exp(-(p * np.log(p)).sum())),
        "stableRank": float(energy / sig[0] ** 2),
        "rank90": rank90,
        "relativeNorm": float(np.sqrt(energy) / np.linalg.norm(w0)),
        "amplification": float(np.sqrt(energy) / np.linalg.norm(projected)),
        "intruders": {"count": int((max_cos < eps).sum()), "maxCosine": max_cos.tolist(), "sigma": st[:kk].tolist()},
    }, u[:, : min(KEPT, sig.size)], vt[: min(KEPT, sig.size)].T


def phi(x1, x2):
    p = (x1.T @ x2) ** 2
    c = p.cumsum(axis=0).cumsum(axis=1)
    i = np.arange(1, x1.shape[1] + 1)[:, None]
    j = np.arange(1, x2.shape[1] + 1)[None, :]
    return (c / np.minimum(i, j)).tolist()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--peft")
    ap.add_argument("--tuned")
    ap.add_argument("--vs")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--eps", type=float, default=0.5)
    a = ap.parse_args()
    tensors, metadata = read_safetensors(a.model)
    sizes = check_model(tensors, metadata)
    require((a.peft is None) != (a.tuned is None), "give --peft DIR or --tuned FILE")
    if a.peft:
        cfg, ups = updates(tensors, sizes, a.peft)
        rank = cfg["r"]
    else:
        ups, rank = tuned_updates(tensors, sizes, a.tuned), DENSE_RANK
    layers, dirs = [], {}
    for layer, (w0, w1) in ups.items():
        figures, u, v = layer_figures(w0, w1, rank, a.k, a.eps)
        layers.append({"layer": layer, **figures})
        dirs[layer] = (u, v)
    out = {"ok": True, "layers": layers}
    if a.vs:
        cfg2, ups2 = updates(tensors, sizes, a.vs)
        sims = []
        for layer, (w0, w1) in ups2.items():
            if layer not in dirs:
                continue
            _, u2, v2 = layer_figures(w0, w1, cfg2["r"], 1, a.eps)
            u1, v1 = dirs[layer]
            sims.append({"layer": layer, "side": "input", "phi": phi(v1, v2)})
            sims.append({"layer": layer, "side": "output", "phi": phi(u1, u2)})
        out["similarity"] = sims
    print(json.dumps(out))


if __name__ == "__main__":
    main()
