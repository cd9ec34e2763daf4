#!/usr/bin/env python3
"""Write the DistilBERT test cross-encoder's model.safetensors from all-MiniLM-L6-v2's.

    make_distilbert.py MINILM_SAFETENSORS HEAD_SAFETENSORS OUT

DistilBERT's layer is BERT's under other names, and it has no token-type embeddings. So the
MiniLM trunk becomes a DistilBERT one with its tensors renamed (under "distilbert.", as
transformers' save_pretrained writes a DistilBertForSequenceClassification) and its
token-type row 0 added into every position embedding (float32 sums, rounded to float32 as
torch rounds them): for text whose token types are all 0 the two compute the same function.
The head: pre_classifier = MiniLM's pooler.dense, classifier = HEAD_SAFETENSORS's
classifier.weight / .bias. Standard library only (scripts/setup.sh runs it); make_fixtures.py
runs it too and checks that transformers loads the result into the model it scored
(tests/fixtures/test-distilbert-cross-encoder/README.md).
"""
import json
import os
import struct
import sys
from array import array

LAYER = {  # BERT name (after "encoder.layer.N.") -> DistilBERT name (after "transformer.layer.N.")
    "attention.self.query": "attention.q_lin", "attention.self.key": "attention.k_lin",
    "attention.self.value": "attention.v_lin", "attention.output.dense": "attention.out_lin",
    "attention.output.LayerNorm": "sa_layer_norm", "intermediate.dense": "ffn.lin1",
    "output.dense": "ffn.lin2", "output.LayerNorm": "output_layer_norm",
}


def read(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k != "__metadata__":
            b, e = v["data_offsets"]
            out[k] = (v["dtype"], v["shape"], data[b:e])
    return out


def rename(k):
    if k.startswith("embeddings.") and "token_type" not in k and "position_ids" not in k:
        return "distilbert." + k
    if k.startswith("encoder.layer."):
        n, rest = k[len("encoder.layer."):].split(".", 1)
        part, kind = rest.rsplit(".", 1)
        return f"distilbert.transformer.layer.{n}.{LAYER[part]}.{kind}"
    if k.startswith("pooler.dense."):
        return "pre_classifier." + k[len("pooler.dense."):]
    return None  # token types (folded), the position_ids buffer


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__.strip().split("\n")[2].strip())
    trunk, head = read(argv[1]), read(argv[2])
    tensors = {}
    for k, (dt, shape, raw) in trunk.items():
        name = rename(k)
        if name:
            if dt != "F32":
                sys.exit(f"{argv[1]}: {k}: dtype {dt}, F32 expected")
            tensors[name] = (dt, shape, raw)
    # position embeddings + token-type row 0
    dt, shape, raw = trunk["embeddings.position_embeddings.weight"]
    pos, typ = array("f"), array("f")
    pos.frombytes(raw)
    typ.frombytes(trunk["embeddings.token_type_embeddings.weight"][2])
    h = shape[1]
    folded = array("f", (pos[i] + typ[i % h] for i in range(len(pos))))
    tensors["distilbert.embeddings.position_embeddings.weight"] = (dt, shape, folded.tobytes())
    for k in ("classifier.weight", "classifier.bias"):
        tensors[k] = head[k]
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for k in sorted(tensors):
        dt, shape, raw = tensors[k]
        header[k] = {"dtype": dt, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    tmp = argv[3] + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb)
        for b in blobs:
            f.write(b)
    os.replace(tmp, argv[3])


if __name__ == "__main__":
    main(sys.argv)
