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
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_min  # noqa: E402

LAYER = {  # BERT name (after "encoder.layer.N.") -> DistilBERT name (after "transformer.layer.N.")
    "attention.self.query": "attention.q_lin", "attention.self.key": "attention.k_lin",
    "attention.self.value": "attention.v_lin", "attention.output.dense": "attention.out_lin",
    "attention.output.LayerNorm": "sa_layer_norm", "intermediate.dense": "ffn.lin1",
    "output.dense": "ffn.lin2", "output.LayerNorm": "output_layer_norm",
}


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
    trunk, head = st_min.read(argv[1]), st_min.read(argv[2])
    tensors = {}
    for k, (dt, shape, raw) in trunk.items():
        name = rename(k)
        if name:
            if dt != "F32":
                sys.exit(f"{argv[1]}: {k}: dtype {dt}, F32 expected")
            tensors[name] = (dt, shape, raw)
    # position embeddings + token-type row 0
    dt, shape, raw = trunk["embeddings.position_embeddings.weight"]
    type0 = trunk["embeddings.token_type_embeddings.weight"][2][:4 * shape[1]]
    tensors["distilbert.embeddings.position_embeddings.weight"] = (dt, shape, st_min.f32_add_row(raw, type0))
    for k in ("classifier.weight", "classifier.bias"):
        tensors[k] = head[k]
    st_min.write(argv[3], {k: tensors[k] for k in sorted(tensors)})

if __name__ == "__main__":
    main(sys.argv)
