#!/usr/bin/env python3
"""Assemble the XLM-RoBERTa test cross-encoder's model directory from all-MiniLM-L6-v2's.

    make_xlmr.py MINILM_DIR FIXTURE_DIR OUT_DIR

FIXTURE_DIR (tests/fixtures/test-xlmr-cross-encoder) holds the XLM-R tokenizer (tokenizer.json.gz,
tokenizer_config.json: a SentencePiece Unigram model trained on SciFact, as transformers' 5.24
XLMRobertaTokenizer writes it), config.json and head.safetensors (the seeded
classifier.out_proj.weight and .bias). XLM-R's layer is BERT's under the same names, so the
MiniLM trunk becomes an XLMRobertaForSequenceClassification under "roberta." (as transformers'
save_pretrained writes one):

- roberta.embeddings.word_embeddings.weight: one MiniLM row per XLM-R piece, by minilm_token()
  below (<s> <pad> </s> <unk> <mask> take [CLS] [PAD] [SEP] [UNK] [MASK]; "▁w" takes w, "w" takes
  ##w, lower-cased or by longest prefix if absent; [UNK] when nothing matches);
- roberta.embeddings.position_embeddings.weight [514, 384]: two zero rows, then MiniLM's 512 (XLM-R's
  position ids start at padding_idx + 1 = 2); token_type_embeddings [1, 384] = MiniLM's row 0;
  embeddings.LayerNorm and the encoder layers: MiniLM's, renamed "X" -> "roberta.X";
- classifier.dense = MiniLM's pooler.dense; classifier.out_proj = FIXTURE_DIR/head.safetensors.

Writes into OUT_DIR: config.json (FIXTURE_DIR's), model.safetensors (names sorted, F32),
tokenizer.json (FIXTURE_DIR's, decompressed), tokenizer_config.json (FIXTURE_DIR's) and
special_tokens_map.json: FIXTURE_DIR's if it has one, else the *_token entries of
tokenizer_config.json (transformers 5.24 writes no special_tokens_map.json, and scripts/setup.sh
fills a model directory's missing tokenizer files with MiniLM's: MiniLM's [CLS]/[SEP]/[PAD]/[MASK]
map would make transformers add those as new tokens). Standard library only (scripts/setup.sh runs it); make_fixtures.py
runs it too and checks the result against the model and tokenizer transformers saved
(tests/fixtures/test-xlmr-cross-encoder/README.md).
"""
import gzip
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_min  # noqa: E402

# XLM-R's own tokens -> the BERT token whose embedding row they take
OWN = {"<s>": "[CLS]", "<pad>": "[PAD]", "</s>": "[SEP]", "<unk>": "[UNK]", "<mask>": "[MASK]"}
META = "\u2581"  # SentencePiece's word-start mark
SPECIAL_KEYS = ("bos_token", "cls_token", "eos_token", "mask_token", "pad_token", "sep_token", "unk_token")


def minilm_token(piece, bert):
    """The MiniLM (BERT uncased WordPiece) token whose embedding row the XLM-R piece takes.
    bert: a set of MiniLM's tokens. A word-initial piece "▁w" takes w, w.lower(), ##w or
    ##w.lower(), the first that exists; a piece "w" inside a word takes ##w, ##w.lower(), w or
    w.lower(). Failing those, the longest proper prefix p of w.lower() that exists (as p for "▁w";
    as ##p, else p, for "w"). The bare "▁", and pieces none of that finds, take [UNK]."""
    if piece in OWN:
        return OWN[piece]
    word = piece.startswith(META)
    w = piece[1:] if word else piece
    if not w:
        return "[UNK]"
    for c in ([w, w.lower(), "##" + w, "##" + w.lower()] if word else
              ["##" + w, "##" + w.lower(), w, w.lower()]):
        if c in bert:
            return c
    lw = w.lower()
    for k in range(len(lw) - 1, 0, -1):
        for c in ([lw[:k]] if word else ["##" + lw[:k], lw[:k]]):
            if c in bert:
                return c
    return "[UNK]"


def minilm_vocab(minilm):
    """MiniLM's vocab.txt as a list (id = index); exits when it repeats a token or lacks BERT's own."""
    with open(os.path.join(minilm, "vocab.txt"), encoding="utf-8", newline="") as f:
        bert = f.read().split("\n")
    if bert[-1] == "":
        bert.pop()
    if len(set(bert)) != len(bert) or not set(OWN.values()) <= set(bert):
        sys.exit(f"{minilm}/vocab.txt: repeated tokens, or no [CLS] [PAD] [SEP] [UNK] [MASK]")
    return bert


def read_tokenizer_json(fixture):
    """FIXTURE_DIR's tokenizer.json text (tokenizer.json, or tokenizer.json.gz decompressed)."""
    path = os.path.join(fixture, "tokenizer.json")
    if os.path.exists(path):
        with open(path, "rb") as f:
            return f.read()
    with gzip.open(path + ".gz", "rb") as f:
        return f.read()


def rename(k):
    if k.startswith("embeddings.LayerNorm.") or k.startswith("encoder.layer."):
        return "roberta." + k
    if k.startswith("pooler.dense."):
        return "classifier.dense." + k[len("pooler.dense."):]
    return None  # the embeddings (below), the position_ids buffer


def tensors(trunk, head, bert, pieces):
    out = {}
    try:
        trunk = {k: st_min.as_f32(t) for k, t in trunk.items() if rename(k) or k.endswith("embeddings.weight")}
    except ValueError as e:
        sys.exit(f"MiniLM's model.safetensors: {e}")
    for k, t in trunk.items():
        name = rename(k)
        if name:
            out[name] = t
    dt, (_, h), words = trunk["embeddings.word_embeddings.weight"]
    row, bert_id = 4 * h, {t: i for i, t in enumerate(bert)}
    known = set(bert)
    rows = (bert_id[minilm_token(p, known)] for p in pieces)
    out["roberta.embeddings.word_embeddings.weight"] = (
        dt, [len(pieces), h], b"".join(words[i * row:(i + 1) * row] for i in rows))
    _, (n, _), pos = trunk["embeddings.position_embeddings.weight"]
    out["roberta.embeddings.position_embeddings.weight"] = (dt, [n + 2, h], bytes(2 * row) + pos)
    typ = trunk["embeddings.token_type_embeddings.weight"][2][:row]
    out["roberta.embeddings.token_type_embeddings.weight"] = (dt, [1, h], typ)
    for k, t in head.items():
        assert k not in out, k
        out[k] = t
    return {k: out[k] for k in sorted(out)}


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__.strip().split("\n")[2].strip())
    minilm, fixture, out = argv[1:]
    bert = minilm_vocab(minilm)
    tok = read_tokenizer_json(fixture)
    model = json.loads(tok)["model"]
    if model.get("type") != "Unigram":
        sys.exit(f"{fixture}: tokenizer.json's model is not Unigram")
    pieces = [p for p, _ in model["vocab"]]
    assemble(minilm, fixture, out, bert, tok, pieces)


def assemble(minilm, fixture, out, bert, tok, pieces):
    """OUT_DIR from the fixture: config.json, model.safetensors (tensors() with one MiniLM row per
    piece), tokenizer.json (tok, its bytes), tokenizer_config.json and special_tokens_map.json. Shared
    with make_roberta.py."""
    with open(os.path.join(fixture, "config.json"), encoding="utf-8") as f:
        if json.load(f)["vocab_size"] != len(pieces):
            sys.exit(f"{fixture}: config.json's vocab_size is not the tokenizer's {len(pieces)}")
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(os.path.join(fixture, "config.json"), os.path.join(out, "config.json"))
    st_min.write(os.path.join(out, "model.safetensors"),
                 tensors(st_min.read(os.path.join(minilm, "model.safetensors")),
                         st_min.read(os.path.join(fixture, "head.safetensors")), bert, pieces))
    with open(os.path.join(out, "tokenizer.json"), "wb") as f:
        f.write(tok)
    shutil.copyfile(os.path.join(fixture, "tokenizer_config.json"), os.path.join(out, "tokenizer_config.json"))
    if os.path.exists(os.path.join(fixture, "special_tokens_map.json")):
        shutil.copyfile(os.path.join(fixture, "special_tokens_map.json"), os.path.join(out, "special_tokens_map.json"))
    else:
        with open(os.path.join(fixture, "tokenizer_config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        special = {k: v for k, v in cfg.items() if k in SPECIAL_KEYS and isinstance(v, str)}
        with open(os.path.join(out, "special_tokens_map.json"), "w", encoding="utf-8", newline="") as f:
            f.write(json.dumps(special, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv)
