"""Minimal safetensors reading and writing, standard library only: the test tools that
scripts/setup.sh and CI run (st_extract.py, make_distilbert.py, make_mpnet.py,
../convert_checkpoint.py) cannot assume numpy or torch.

A tensor is (dtype, shape, raw little-endian bytes); a file's tensors are a dict in file order.
"""
import json
import os
import struct
from array import array


def read(path):
    """Every tensor of one .safetensors file (the __metadata__ entry left out)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name != "__metadata__":
            b, e = meta["data_offsets"]
            if e > len(data) or b > e:
                raise ValueError(f"{path}: tensor {name!r} runs past the end of the file")
            out[name] = (meta["dtype"], meta["shape"], data[b:e])
    return out


def read_dir(model_dir):
    """A model directory's tensors: model.safetensors, or the shards its index names."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = (sorted(set(json.load(open(index))["weight_map"].values()))
             if os.path.exists(index) else ["model.safetensors"])
    out = {}
    for name in files:
        out.update(read(os.path.join(model_dir, name)))
    return out


def as_f32(t):
    """A tensor as F32: F32 as it is, BF16 widened exactly (a bfloat16 is a float32's high half;
    bench/gpu_check.sh carries a BF16 trunk); any other dtype is a ValueError."""
    dt, shape, raw = t
    if dt == "F32":
        return t
    if dt != "BF16":
        raise ValueError(f"dtype {dt}: F32 or BF16 expected")
    h = array("H")
    h.frombytes(raw)
    return ("F32", shape, array("I", (x << 16 for x in h)).tobytes())


def f32_add_row(raw, row):
    """float32 matrix bytes with the float32 vector row added to each of its rows: each sum is
    torch's float32 sum (a double sum of two floats rounded to float is the correctly rounded
    float sum, as 53 >= 2 * 24 + 2)."""
    m, r = array("f"), array("f")
    m.frombytes(raw)
    r.frombytes(row)
    h = len(r)
    return array("f", (m[i] + r[i % h] for i in range(len(m)))).tobytes()


def write(path, tensors, metadata=None):
    """tensors (name -> (dtype, shape, bytes)) as one file, in the dict's order, with metadata
    (str -> str) added to the header's __metadata__; written beside PATH and renamed into place."""
    header, offset = {"__metadata__": dict({"format": "pt"}, **(metadata or {}))}, 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb)
        for _, _, raw in tensors.values():
            f.write(raw)
    os.replace(tmp, path)
