#!/usr/bin/env python3
"""Rewrite a (possibly sharded) safetensors checkpoint as ONE model.safetensors the way
transformers' save_pretrained writes a BertForSequenceClassification (or the Electra / DistilBert
one, as config.json's model_type says): encoder tensors under "bert." ("electra.",
"distilbert."), the head at top level, optionally in F16 or BF16. Python standard library only (no
numpy, no torch), so CI can run it.

usage: convert_checkpoint.py SRC_DIR DST_DIR {F32,F16,BF16}
"""
import json
import os
import shutil
import struct
import sys
from array import array

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools"))
import st_min  # noqa: E402


def convert(raw, dtype):
    floats = array("f")
    floats.frombytes(raw)
    if dtype == "F32":
        return raw
    if dtype == "F16":
        return struct.pack("<%de" % len(floats), *floats)
    # BF16: round-to-nearest-even of the float32 bit pattern
    words = array("I")
    words.frombytes(raw)
    out = array("H", (((w + 0x7FFF + ((w >> 16) & 1)) >> 16) & 0xFFFF for w in words))
    return out.tobytes()


def main():
    src, dst, dtype = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(dst, exist_ok=True)
    prefix = json.load(open(os.path.join(src, "config.json")))["model_type"] + "."
    tensors = {}
    for key, (dt, shape, raw) in st_min.read_dir(src).items():
        if dt != "F32":  # buffers such as embeddings.position_ids stay as they are
            out, odt = raw, dt
        else:
            out, odt = convert(raw, dtype), dtype
        name = key if key.startswith((prefix, "classifier.")) else prefix + key
        tensors[name] = (odt, shape, out)
    st_min.write(os.path.join(dst, "model.safetensors"), tensors)
    for name in ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json"):
        if os.path.exists(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), dst)


if __name__ == "__main__":
    main()
