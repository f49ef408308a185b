"""A tiny pure-Python safetensors reader and writer on top of torch (Debian has no python3-safetensors).

It follows the format as the Rust implementation writes it: an 8-byte little-endian header length, a
JSON header (optional "__metadata__" of strings; per tensor dtype, shape and data_offsets into the data
section), padded with spaces to a multiple of 8 bytes, then the tensors' bytes back to back, laid out
by element size (widest first) and then by name. Tensors are read with torch.frombuffer.
"""
import json
import struct

import torch

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
}
NAMES = {v: k for k, v in DTYPES.items()}


def load(path):
    """Returns ({name: tensor}, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        dtype = DTYPES[e["dtype"]]
        if end == begin:
            tensors[name] = torch.empty(e["shape"], dtype=dtype)
            continue
        buffer = bytearray(data[base + begin : base + end])
        tensors[name] = torch.frombuffer(buffer, dtype=dtype).reshape(e["shape"]).clone()
    return tensors, metadata


def save(tensors, path, metadata=None):
    items = sorted(tensors.items(), key=lambda kv: (-kv[1].element_size(), kv[0]))
    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    blobs = []
    for name, t in items:
        t = t.detach().contiguous().cpu()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
