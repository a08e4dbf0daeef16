#!/usr/bin/env python3
"""Independent check of LoRA Lab's exports, in Python + numpy only.

Reads a merged (or base) model exported as safetensors and, optionally, a Hugging Face
PEFT adapter folder, with a reader written from the format description rather than the
`safetensors` package, so it shares no code and no assumptions with the TypeScript
writer. It checks names, shapes, dtypes, `__metadata__` and the PEFT config fields,
runs the MLP forward pass (ReLU between layers, PyTorch layout W [out, in]) on MNIST
test images read from the IDX files, optionally with the adapter applied as
W + scaling * B @ A (LoRA) or, for a DoRA adapter (`use_dora: true`, with
`base_model.model.<layer>.lora_magnitude_vector` [out]),
m * (W + scaling * B @ A) / ||W + scaling * B @ A|| (norm per output row, over the
input dimension), and prints one JSON object: the checks made, the logits and the
predicted digits. --merged-out writes the model with the adapter folded in that way
(float64 arithmetic, stored as F32) as safetensors. Any failed check exits with status 1
and {"ok": false, "error": ...}.

usage: check_exports.py --model FILE.safetensors --mnist DIR [--peft DIR] [--merged-out FILE] [--limit N]
"""
import argparse
import json
import os
import re
import struct
import sys

import numpy as np

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
LAYER = re.compile(r"^linear([1-9][0-9]*)$")


class CheckError(Exception):
    pass


def require(cond, message):
    if not cond:
        raise CheckError(message)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    require(len(keys) == len(set(keys)), "duplicate key in JSON object: %r" % sorted(k for k in keys if keys.count(k) > 1)[:1])
    return dict(pairs)


def read_safetensors(path):
    """-> (tensors: name -> float32 ndarray, metadata: dict). Only F32 is expected here."""
    with open(path, "rb") as f:
        raw = f.read()
    require(len(raw) >= 8, "%s: shorter than the 8-byte header length" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    require(n <= len(raw) - 8, "%s: header length %d runs past the end" % (path, n))
    require((8 + n) % 8 == 0, "%s: data area does not start 8-byte aligned (header length %d)" % (path, n))
    header = json.loads(raw[8 : 8 + n].decode("utf-8"), object_pairs_hook=no_duplicates)
    require(isinstance(header, dict), "%s: header is not a JSON object" % path)
    metadata = header.pop("__metadata__", {}) or {}
    require(all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()), "%s: __metadata__ must map strings to strings" % path)
    data = raw[8 + n :]
    tensors, spans = {}, []
    for name, entry in header.items():
        require(set(entry) == {"dtype", "shape", "data_offsets"}, "%s: %s has keys %s" % (path, name, sorted(entry)))
        require(entry["dtype"] == "F32", "%s: %s has dtype %s, LoRA Lab exports F32" % (path, name, entry["dtype"]))
        shape = entry["shape"]
        begin, end = entry["data_offsets"]
        require(0 <= begin <= end <= len(data), "%s: %s: data_offsets [%d, %d] run past the %d-byte data area" % (path, name, begin, end, len(data)))
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        require(end - begin == 4 * count, "%s: %s: %d bytes for shape %s" % (path, name, end - begin, shape))
        spans.append((begin, end, name))
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(shape).astype(np.float32)
    at = 0
    for begin, end, name in sorted(spans):
        require(begin == at, "%s: %s starts at %d, expected %d (gap or overlap)" % (path, name, begin, at))
        at = end
    require(at == len(data), "%s: tensors cover %d of %d data bytes" % (path, at, len(data)))
    names = sorted(header)
    order = [name for _, _, name in sorted(spans)]
    require(order == names, "%s: tensors are not stored in sorted name order" % path)
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    """The format by hand: names sorted, F32 little-endian, data area 8-byte aligned."""
    header, chunks, at = {}, [], 0
    for name in sorted(tensors):
        raw = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [at, at + len(raw)]}
        chunks.append(raw)
        at += len(raw)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def check_model(tensors, metadata):
    """Names linear1..N weight/bias, chained shapes, format pt. -> layer sizes."""
    layers = sorted({int(LAYER.match(k.split(".")[0]).group(1)) for k in tensors if LAYER.match(k.split(".")[0])})
    require(layers == list(range(1, len(layers) + 1)) and layers, "model layers are not linear1..N: %s" % sorted(tensors))
    expected = {"linear%d.%s" % (i, p) for i in layers for p in ("weight", "bias")}
    require(set(tensors) == expected, "unexpected tensor names: %s" % sorted(set(tensors) ^ expected))
    sizes = [tensors["linear1.weight"].shape[1]]
    for i in layers:
        w, b = tensors["linear%d.weight" % i], tensors["linear%d.bias" % i]
        require(w.ndim == 2 and w.shape[1] == sizes[-1], "linear%d.weight has shape %s after width %d" % (i, w.shape, sizes[-1]))
        require(b.shape == (w.shape[0],), "linear%d.bias has shape %s" % (i, b.shape))
        sizes.append(w.shape[0])
    require(metadata.get("format") == "pt", "__metadata__.format is %r, expected 'pt'" % metadata.get("format"))
    if "lineage" in metadata:
        json.loads(metadata["lineage"])
    return sizes


def read_peft(folder, sizes):
    """adapter_config.json + adapter_model.safetensors -> (config, {layer: (A, B, m or None)}, scaling)."""
    with open(os.path.join(folder, "adapter_config.json"), encoding="utf-8") as f:
        cfg = json.load(f, object_pairs_hook=no_duplicates)
    want = {"peft_type": "LORA", "bias": "none", "inference_mode": True, "task_type": None,
            "fan_in_fan_out": False, "lora_dropout": 0, "modules_to_save": None}
    for key, value in want.items():
        require(key in cfg and cfg[key] == value, "adapter_config.json: %s is %r, expected %r" % (key, cfg.get(key), value))
    r, alpha = cfg.get("r"), cfg.get("lora_alpha")
    require(isinstance(r, int) and r >= 1, "adapter_config.json: r is %r" % r)
    require(isinstance(alpha, (int, float)) and alpha > 0, "adapter_config.json: lora_alpha is %r" % alpha)
    require(isinstance(cfg.get("use_rslora"), bool), "adapter_config.json: use_rslora missing")
    dora = cfg.get("use_dora", False)
    require(isinstance(dora, bool), "adapter_config.json: use_dora is %r" % dora)
    require(cfg.get("init_lora_weights") in (True, "gaussian"), "adapter_config.json: init_lora_weights is %r" % cfg.get("init_lora_weights"))
    require(isinstance(cfg.get("base_model_name_or_path"), str), "adapter_config.json: base_model_name_or_path missing")
    targets = cfg.get("target_modules")
    require(isinstance(targets, list) and targets and all(isinstance(t, str) and LAYER.match(t) for t in targets), "target_modules is %r" % targets)
    tensors, metadata = read_safetensors(os.path.join(folder, "adapter_model.safetensors"))
    require(metadata.get("format") == "pt", "adapter __metadata__.format is %r" % metadata.get("format"))
    names = {"base_model.model.%s.lora_%s.weight" % (t, x) for t in targets for x in "AB"}
    if dora:
        names |= {"base_model.model.%s.lora_magnitude_vector" % t for t in targets}
    require(set(tensors) == names, "adapter tensor names differ: %s" % sorted(set(tensors) ^ names))
    pairs = {}
    for t in targets:
        i = int(LAYER.match(t).group(1))
        require(i < len(sizes), "target %s is not a layer of the model" % t)
        a = tensors["base_model.model.%s.lora_A.weight" % t]
        b = tensors["base_model.model.%s.lora_B.weight" % t]
        require(a.shape == (r, sizes[i - 1]), "%s lora_A has shape %s, expected %s" % (t, a.shape, (r, sizes[i - 1])))
        require(b.shape == (sizes[i], r), "%s lora_B has shape %s, expected %s" % (t, b.shape, (sizes[i], r)))
        m = None
        if dora:
            m = tensors["base_model.model.%s.lora_magnitude_vector" % t]
            require(m.shape == (sizes[i],), "%s lora_magnitude_vector has shape %s, expected %s" % (t, m.shape, (sizes[i],)))
        pairs[t] = (a, b, m)
    scaling = alpha / np.sqrt(r) if cfg["use_rslora"] else alpha / r
    return cfg, pairs, float(scaling)


def read_idx(path, dims):
    with open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    require(magic == 0x0800 | dims, "%s: bad IDX magic %#x" % (path, magic))
    shape = struct.unpack(">" + "I" * dims, raw[4 : 4 + 4 * dims])
    data = np.frombuffer(raw[4 + 4 * dims :], dtype=np.uint8)
    require(data.size == int(np.prod(shape)), "%s: size does not match its header" % path)
    return data.reshape(shape)


def adapted_weights(tensors, sizes, adapter=None, scaling=0.0):
    """Per layer W [out, in] in float64: W0, W0 + scaling * B @ A (LoRA), or DoRA's
    m * V / ||V|| with V = W0 + scaling * B @ A, the norm of each output row."""
    out = {}
    for i in range(1, len(sizes)):
        w = tensors["linear%d.weight" % i].astype(np.float64)
        if adapter and "linear%d" % i in adapter:
            a, b, m = adapter["linear%d" % i]
            w = w + scaling * (b.astype(np.float64) @ a.astype(np.float64))
            if m is not None:
                norm = np.sqrt((w * w).sum(axis=1))
                w = (m.astype(np.float64) / norm)[:, None] * w
        out["linear%d" % i] = w
    return out


def forward(tensors, sizes, x, adapter=None, scaling=0.0):
    """Logits in float64: h = relu(h @ W.T + b) between layers, W from adapted_weights."""
    weights = adapted_weights(tensors, sizes, adapter, scaling)
    h = x.astype(np.float64)
    last = len(sizes) - 1
    for i in range(1, last + 1):
        h = h @ weights["linear%d" % i].T + tensors["linear%d.bias" % i].astype(np.float64)
        if i < last:
            h = np.maximum(h, 0.0)
    return h


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="merged or base model, .safetensors")
    p.add_argument("--peft", help="PEFT adapter folder to apply on top of --model")
    p.add_argument("--mnist", required=True, help="folder with t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte")
    p.add_argument("--limit", type=int, default=1000, help="number of test images")
    p.add_argument("--merged-out", help="write the model with the adapter folded in here (.safetensors)")
    args = p.parse_args()
    try:
        tensors, metadata = read_safetensors(args.model)
        sizes = check_model(tensors, metadata)
        out = {"ok": True, "model": {"sizes": sizes, "metadata": metadata, "names": sorted(tensors)}}
        adapter, scaling = None, 0.0
        if args.peft:
            cfg, adapter, scaling = read_peft(args.peft, sizes)
            out["peft"] = {"config": cfg, "scaling": scaling, "targets": sorted(adapter), "dora": cfg.get("use_dora", False)}
        if args.merged_out:
            merged = dict(tensors)
            for layer, w in adapted_weights(tensors, sizes, adapter, scaling).items():
                merged[layer + ".weight"] = w.astype(np.float32)
            write_safetensors(args.merged_out, merged, {"format": "pt"})
        images = read_idx(os.path.join(args.mnist, "t10k-images-idx3-ubyte"), 3)[: args.limit]
        labels = read_idx(os.path.join(args.mnist, "t10k-labels-idx1-ubyte"), 1)[: args.limit]
        require(sizes[0] == images.shape[1] * images.shape[2], "model takes %d inputs, images have %d pixels" % (sizes[0], images.shape[1] * images.shape[2]))
        x = (images.reshape(len(images), -1).astype(np.float64) / 255.0 - MNIST_MEAN) / MNIST_STD
        logits = forward(tensors, sizes, x, adapter, scaling)
        out["logits"] = logits.tolist()
        out["predictions"] = logits.argmax(axis=1).tolist()
        out["accuracy"] = float((logits.argmax(axis=1) == labels).mean())
    except (CheckError, ValueError, TypeError, KeyError, OSError, struct.error) as err:
        json.dump({"ok": False, "error": "%s: %s" % (type(err).__name__, err)}, sys.stdout)
        sys.stdout.write("\n")
        return 1
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
