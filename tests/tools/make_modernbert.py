#!/usr/bin/env python3
"""Write a seeded ModernBERT test cross-encoder (ModernBertForSequenceClassification) directory.

    make_modernbert.py FIXTURE_DIR OUT_DIR [--variant] [--bpe ROBERTA_FIXTURE_DIR] [--positions N]

FIXTURE_DIR (tests/fixtures/test-modernbert-cross-encoder, or test-modernbert-variant-cross-encoder
with --variant) holds config.json and tokenizer_config.json; OUT_DIR gets

  config.json            FIXTURE_DIR's, copied byte for byte (the shapes and bias switches are read
                         from it: hidden_size, num_hidden_layers, num_attention_heads,
                         intermediate_size, vocab_size, num_labels, norm_bias, attention_bias,
                         mlp_bias, classifier_bias); with --positions N, max_position_embeddings
                         N in place of the fixture's value, the rest byte for byte. ModernBERT's
                         positions are rotary (no table), so the same tensors make the same
                         network at N positions: test-modernbert-long-cross-encoder, the variant
                         at 8,192 (real ModernBERT's length; tests/reference/fixtures_long.py)
  model.safetensors      every tensor of the model, float32, drawn by random.Random(SEED) (the
                         variant: VARIANT_SEED) in the order of tensors() below
  tokenizer.json         the RoBERTa test tokenizer's vocabulary and merges (ROBERTA_FIXTURE_DIR,
                         default FIXTURE_DIR/../test-roberta-cross-encoder, tokenizer.json.gz) laid
                         out as answerdotai/ModernBERT-base's tokenizer.json: NFC normalizer,
                         ByteLevel pre-tokenizer (no prefix space), [CLS] A [SEP] (B [SEP])
                         template with type ids 0 (1 for B), [UNK] [CLS] [SEP] [PAD] [MASK] added
                         after the vocabulary (8000..8004), ByteLevel decoder (tokenizer_json())
  tokenizer_config.json  FIXTURE_DIR's, copied

Not a trained model: the same function everywhere, for checking rerank against transformers
(tests/fixtures/test-modernbert-cross-encoder/README.md). Standard library only (scripts/setup.sh
runs it); tests/reference/fixtures_modernbert.py runs it too and checks the result against the
model transformers loads and saves.
"""
import array
import gzip
import json
import os
import random
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_min  # noqa: E402

SEED = 20261203
VARIANT_SEED = 20261204
SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]  # ids = BPE vocabulary size + 0..4

# standard deviations of the draws (the output must not be degenerate: logits spread over a few units)
STD_EMBED = 0.5     # tok_embeddings
STD_NORM = 0.1      # LayerNorm weights: 1 + N(0, STD_NORM); their biases (norm_bias): N(0, STD_NORM)
STD_IN = 0.15       # Wqkv, mlp.Wi, head.dense
STD_OUT = 0.1       # attn.Wo, mlp.Wo
STD_BIAS = 0.05     # the biases of the linears (attention_bias, mlp_bias, classifier_bias)
STD_CLS = 1.0       # classifier.weight
STD_CLS_BIAS = 0.1  # classifier.bias (always present: transformers' classifier is nn.Linear with bias)


def tensors(cfg):
    """(name, shape, kind) in draw order; kind: "embed", "norm_w", "norm_b", "in", "out", "bias",
    "cls_w", "cls_b". Names as transformers 5.24's ModernBertForSequenceClassification has them."""
    H, I, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    V, labels = cfg["vocab_size"], len(cfg.get("id2label") or {"0": 0})
    nb, ab, mb, cb = (bool(cfg.get(k, False)) for k in ("norm_bias", "attention_bias", "mlp_bias", "classifier_bias"))
    out = []

    def norm(p):
        out.append((p + ".weight", [H], "norm_w"))
        if nb:
            out.append((p + ".bias", [H], "norm_b"))

    def linear(p, o, i, kind, bias):
        out.append((p + ".weight", [o, i], kind))
        if bias:
            out.append((p + ".bias", [o], "bias"))

    out.append(("model.embeddings.tok_embeddings.weight", [V, H], "embed"))
    norm("model.embeddings.norm")
    for n in range(L):
        p = f"model.layers.{n}."
        if n:  # layer 0's attn_norm is nn.Identity
            norm(p + "attn_norm")
        linear(p + "attn.Wqkv", 3 * H, H, "in", ab)
        linear(p + "attn.Wo", H, H, "out", ab)
        norm(p + "mlp_norm")
        linear(p + "mlp.Wi", 2 * I, H, "in", mb)
        linear(p + "mlp.Wo", H, I, "out", mb)
    norm("model.final_norm")
    linear("head.dense", H, H, "in", cb)
    norm("head.norm")
    out.append(("classifier.weight", [labels, H], "cls_w"))
    out.append(("classifier.bias", [labels], "cls_b"))
    return out


def draw(cfg, seed):
    """{name: (shape, array('f'))}: each tensor's elements in row-major order, one rng.gauss per
    element, tensors in the order of tensors(cfg)."""
    rng = random.Random(seed)
    std = {"embed": STD_EMBED, "norm_b": STD_NORM, "in": STD_IN, "out": STD_OUT, "bias": STD_BIAS,
           "cls_w": STD_CLS, "cls_b": STD_CLS_BIAS}
    res = {}
    for name, shape, kind in tensors(cfg):
        n = 1
        for d in shape:
            n *= d
        g = rng.gauss
        if kind == "norm_w":
            data = array.array("f", (1.0 + g(0.0, STD_NORM) for _ in range(n)))
        else:
            s = std[kind]
            data = array.array("f", (g(0.0, s) for _ in range(n)))
        res[name] = (shape, data)
    return res


def write_safetensors(path, ts, seed):
    """ts ({name: (shape, array('f'))}) as float32 little-endian, in ts' order (st_min.write)."""
    out = {}
    for name, (shape, data) in ts.items():
        if sys.byteorder != "little":
            data = array.array("f", data)
            data.byteswap()
        out[name] = ("F32", shape, data.tobytes())
    st_min.write(path, out, {"made_by": "tests/tools/make_modernbert.py", "seed": str(seed)})


def tokenizer_json(bpe_dir):
    """The ModernBERT-style tokenizer.json (bytes) over the BPE of bpe_dir/tokenizer.json.gz."""
    with gzip.open(os.path.join(bpe_dir, "tokenizer.json.gz"), "rb") as f:
        src = json.loads(f.read())
    model = src["model"]
    if model.get("type") != "BPE":
        sys.exit(f"{bpe_dir}: tokenizer.json's model is not BPE")
    n = len(model["vocab"])
    if sorted(model["vocab"].values()) != list(range(n)):
        sys.exit(f"{bpe_dir}: tokenizer.json's vocabulary ids are not 0..n-1")
    ids = {t: n + i for i, t in enumerate(SPECIALS)}
    added = [{"id": ids[t], "content": t, "single_word": False, "lstrip": t == "[MASK]", "rstrip": False,
              "normalized": False, "special": True} for t in SPECIALS]

    def special(t, type_id):
        return {"SpecialToken": {"id": t, "type_id": type_id}}

    def seq(s, type_id):
        return {"Sequence": {"id": s, "type_id": type_id}}

    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)],
            "pair": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1), special("[SEP]", 1)],
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in ("[CLS]", "[SEP]")},
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": model,
    }
    return (json.dumps(tok, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def main(argv):
    args = list(argv[1:])
    variant = "--variant" in args
    if variant:
        args.remove("--variant")
    bpe = None
    if "--bpe" in args:
        i = args.index("--bpe")
        bpe = args[i + 1]
        del args[i:i + 2]
    positions = None
    if "--positions" in args:
        i = args.index("--positions")
        positions = int(args[i + 1])
        del args[i:i + 2]
        if positions < 1:
            sys.exit(f"--positions must be positive, not {positions}")
    if len(args) != 2:
        sys.exit(__doc__.strip().split("\n")[2].strip())
    fixture, out = args
    bpe = bpe or os.path.join(os.path.dirname(os.path.abspath(fixture)), "test-roberta-cross-encoder")
    with open(os.path.join(fixture, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "modernbert":
        sys.exit(f"{fixture}/config.json: model_type is not modernbert")
    # the variant switches every bias on; a mix-up of fixture and flag would draw other tensors
    if bool(cfg.get("attention_bias", False)) != variant:
        sys.exit(f"{fixture}/config.json: attention_bias {cfg.get('attention_bias')} does not go with "
                 f"{'--variant' if variant else 'no --variant'}")
    seed = VARIANT_SEED if variant else SEED
    tj = tokenizer_json(bpe)
    n_tok = len(json.loads(tj)["model"]["vocab"]) + len(SPECIALS)
    if cfg["vocab_size"] < n_tok:
        sys.exit(f"{fixture}/config.json: vocab_size {cfg['vocab_size']} < the tokenizer's {n_tok}")
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "model.safetensors"), draw(cfg, seed), seed)
    with open(os.path.join(out, "tokenizer.json"), "wb") as f:
        f.write(tj)
    for name in ("config.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(fixture, name), os.path.join(out, name))
    if positions is not None:
        path = os.path.join(out, "config.json")
        with open(path, encoding="utf-8") as f:
            text, n = re.subn(r'"max_position_embeddings": [0-9]+,', f'"max_position_embeddings": {positions},',
                              f.read())
        if n != 1:
            sys.exit(f"{fixture}/config.json: {n} max_position_embeddings entries (want 1)")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main(sys.argv)
