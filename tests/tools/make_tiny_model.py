#!/usr/bin/env python3
"""tests/tools/make_tiny_model.py OUT_DIR VOCAB_DIR [--seed N]

A tiny BERT cross-encoder (BertForSequenceClassification: hidden 32, 2 layers, 2 heads,
intermediate 64, one label) with seeded random F32 weights and the tokenizer files of
VOCAB_DIR (all-MiniLM-L6-v2's), written as a Hugging Face directory. For tests that need
many pairs fast (kill-and-resume, memory pressure) rather than a meaningful ranking. Needs
only the Python standard library.
"""
import array
import json
import random
import shutil
import struct
import sys
from pathlib import Path

H, LAYERS, HEADS, INTER, POS = 32, 2, 2, 64, 512


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    out, vocab_dir = Path(argv[0]), Path(argv[1])
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 7
    rng = random.Random(seed)
    V = sum(1 for _ in open(vocab_dir / "vocab.txt", encoding="utf-8"))
    tensors = {}

    def rand(name, *shape, scale=0.05, base=0.0):
        n = 1
        for d in shape:
            n *= d
        tensors[name] = (list(shape), array.array("f", (base + rng.gauss(0.0, scale) for _ in range(n))))

    rand("bert.embeddings.word_embeddings.weight", V, H)
    rand("bert.embeddings.position_embeddings.weight", POS, H)
    rand("bert.embeddings.token_type_embeddings.weight", 2, H)
    rand("bert.embeddings.LayerNorm.weight", H, base=1.0)
    rand("bert.embeddings.LayerNorm.bias", H, scale=0.01)
    for i in range(LAYERS):
        p = f"bert.encoder.layer.{i}."
        for m in ("query", "key", "value"):
            rand(p + f"attention.self.{m}.weight", H, H, scale=0.2)
            rand(p + f"attention.self.{m}.bias", H, scale=0.02)
        rand(p + "attention.output.dense.weight", H, H, scale=0.2)
        rand(p + "attention.output.dense.bias", H, scale=0.02)
        rand(p + "attention.output.LayerNorm.weight", H, base=1.0)
        rand(p + "attention.output.LayerNorm.bias", H, scale=0.01)
        rand(p + "intermediate.dense.weight", INTER, H, scale=0.2)
        rand(p + "intermediate.dense.bias", INTER, scale=0.02)
        rand(p + "output.dense.weight", H, INTER, scale=0.2)
        rand(p + "output.dense.bias", H, scale=0.02)
        rand(p + "output.LayerNorm.weight", H, base=1.0)
        rand(p + "output.LayerNorm.bias", H, scale=0.01)
    rand("bert.pooler.dense.weight", H, H, scale=0.2)
    rand("bert.pooler.dense.bias", H, scale=0.02)
    rand("classifier.weight", 1, H, scale=0.5)
    rand("classifier.bias", 1, scale=0.1)

    out.mkdir(parents=True, exist_ok=True)
    header, offset = {}, 0
    for name, (shape, data) in tensors.items():
        nbytes = len(data) * 4
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    header["__metadata__"] = {"format": "pt", "made_by": "tests/tools/make_tiny_model.py", "seed": str(seed)}
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    tmp = out / "model.safetensors.tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, (_, data) in tensors.items():
            if sys.byteorder != "little":
                data.byteswap()
            f.write(data.tobytes())
    tmp.replace(out / "model.safetensors")
    config = {
        "architectures": ["BertForSequenceClassification"], "model_type": "bert",
        "hidden_size": H, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "intermediate_size": INTER, "max_position_embeddings": POS, "type_vocab_size": 2,
        "vocab_size": V, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
        "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0},
    }
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (vocab_dir / f).exists():
            shutil.copy(vocab_dir / f, out / f)


if __name__ == "__main__":
    main(sys.argv[1:])
