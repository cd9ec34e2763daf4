#!/usr/bin/env python3
"""Assemble the MPNet test cross-encoder's model directory from all-MiniLM-L6-v2's.

    make_mpnet.py MINILM_DIR FIXTURE_DIR OUT_DIR

MPNet's vocabulary is BERT's uncased one under other ids: <s> <pad> </s> <unk> (ids 0-3), BERT's
vocab.txt in order (ids 4-30525), <mask> (30526). Its layer is BERT's under other names; it has
no token-type embeddings, and its position ids start at padding_idx + 1 = 2. So the MiniLM trunk
becomes an MPNet one (under "mpnet.", as transformers' save_pretrained writes an
MPNetForSequenceClassification): word embedding rows permuted to MPNet's ids (<s> <pad> </s>
<unk> <mask> take the rows of [CLS] [PAD] [SEP] [UNK] [MASK]); position embeddings = two zero
rows, then MiniLM's 512 rows with its token-type row 0 added (float32); classifier.dense =
MiniLM's pooler.dense. FIXTURE_DIR/head.safetensors holds the seeded tensors
(mpnet.encoder.relative_attention_bias.weight, classifier.out_proj.weight and .bias).

Writes into OUT_DIR: config.json (FIXTURE_DIR's), model.safetensors (names sorted, F32),
vocab.txt, and tokenizer.json, tokenizer_config.json, special_tokens_map.json as transformers'
MPNetTokenizer writes them for that vocabulary (unk [UNK], id 104; <s> a </s> </s> b </s>).
Standard library only (scripts/setup.sh runs it); make_fixtures.py runs it too and checks the
result against the model and tokenizer transformers saved
(tests/fixtures/test-mpnet-cross-encoder/README.md).
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_min  # noqa: E402

# MPNet's own tokens (ids 0-3 and the last) -> the BERT token whose embedding row they take
OWN = {"<s>": "[CLS]", "<pad>": "[PAD]", "</s>": "[SEP]", "<unk>": "[UNK]", "<mask>": "[MASK]"}
# MPNetTokenizer's special tokens (its defaults); <unk> is an ordinary vocabulary entry
SPECIAL = {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "mask_token": "<mask>",
           "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "[UNK]"}
LAYER = {  # BERT name (after "encoder.layer.N.") -> MPNet name (after "mpnet.encoder.layer.N.")
    "attention.self.query": "attention.attn.q", "attention.self.key": "attention.attn.k",
    "attention.self.value": "attention.attn.v", "attention.output.dense": "attention.attn.o",
    "attention.output.LayerNorm": "attention.LayerNorm",
    "intermediate.dense": "intermediate.dense", "output.dense": "output.dense",
    "output.LayerNorm": "output.LayerNorm",
}


def vocabulary(bert):
    own = list(OWN)
    return own[:4] + bert + own[4:]


def rename(k):
    if k.startswith("embeddings.LayerNorm."):
        return "mpnet." + k
    if k.startswith("encoder.layer."):
        n, rest = k[len("encoder.layer."):].split(".", 1)
        part, kind = rest.rsplit(".", 1)
        return f"mpnet.encoder.layer.{n}.{LAYER[part]}.{kind}"
    if k.startswith("pooler.dense."):
        return "classifier.dense." + k[len("pooler.dense."):]
    return None  # the embeddings (below), the position_ids buffer


def tensors(trunk, head, bert, vocab):
    out = {}
    try:
        trunk = {k: st_min.as_f32(t) for k, t in trunk.items() if rename(k) or k.endswith("embeddings.weight")}
    except ValueError as e:
        sys.exit(f"MiniLM's model.safetensors: {e}")
    for k, (dt, shape, raw) in trunk.items():
        name = rename(k)
        if name:
            out[name] = (dt, shape, raw)
    dt, (_, h), words = trunk["embeddings.word_embeddings.weight"]
    row, bert_id = 4 * h, {t: i for i, t in enumerate(bert)}
    rows = (bert_id[OWN.get(t, t)] for t in vocab)
    words = b"".join(words[i * row:(i + 1) * row] for i in rows)
    out["mpnet.embeddings.word_embeddings.weight"] = (dt, [len(vocab), h], words)
    _, (n, _), pos = trunk["embeddings.position_embeddings.weight"]
    typ = trunk["embeddings.token_type_embeddings.weight"][2][:row]
    pos = bytes(2 * row) + st_min.f32_add_row(pos, typ)
    out["mpnet.embeddings.position_embeddings.weight"] = (dt, [n + 2, h], pos)
    for k, t in head.items():
        assert k not in out, k
        out[k] = t
    return {k: out[k] for k in sorted(out)}


def tokenizer_files(vocab):
    """tokenizer.json, tokenizer_config.json, special_tokens_map.json: their text."""
    ids = {t: i for i, t in enumerate(vocab)}
    added = sorted({ids[t] for t in SPECIAL.values()})
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": vocab[i], "single_word": False,
                          "lstrip": vocab[i] == "<mask>", "rstrip": False, "normalized": False,
                          "special": True} for i in added],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", ids["</s>"]],
                           "cls": ["<s>", ids["<s>"]], "trim_offsets": True,
                           "add_prefix_space": False},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": SPECIAL["unk_token"],
                  "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                  "vocab": ids},
    }
    config = dict(SPECIAL, backend="tokenizers", do_lower_case=True, model_max_length=512,
                  strip_accents=None, tokenize_chinese_chars=True, tokenizer_class="MPNetTokenizer")
    # as tokenizers writes tokenizer.json and transformers the other two
    return {"tokenizer.json": json.dumps(tok, indent=2, ensure_ascii=False),
            "tokenizer_config.json": json.dumps(config, indent=2, sort_keys=True,
                                                ensure_ascii=False) + "\n",
            "special_tokens_map.json": json.dumps(SPECIAL, indent=2, sort_keys=True,
                                                  ensure_ascii=False) + "\n"}


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__.strip().split("\n")[2].strip())
    minilm, fixture, out = argv[1:]
    with open(os.path.join(minilm, "vocab.txt"), encoding="utf-8", newline="") as f:
        bert = f.read().split("\n")
    if bert[-1] == "":
        bert.pop()
    vocab = vocabulary(bert)
    if len(set(vocab)) != len(vocab):
        sys.exit(f"{minilm}/vocab.txt: repeated tokens, or MPNet's own")
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(os.path.join(fixture, "config.json"), os.path.join(out, "config.json"))
    st_min.write(os.path.join(out, "model.safetensors"),
                 tensors(st_min.read(os.path.join(minilm, "model.safetensors")),
                         st_min.read(os.path.join(fixture, "head.safetensors")), bert, vocab))
    files = tokenizer_files(vocab)
    files["vocab.txt"] = "".join(t + "\n" for t in vocab)
    for name, text in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as f:
            f.write(text)


if __name__ == "__main__":
    main(sys.argv)
