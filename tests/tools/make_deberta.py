#!/usr/bin/env python3
"""Assemble a DeBERTa-v2/v3 test cross-encoder's model directory from all-MiniLM-L6-v2's.

    make_deberta.py MINILM_DIR FIXTURE_DIR OUT_DIR

FIXTURE_DIR (tests/fixtures/test-deberta-cross-encoder or test-deberta-variant-cross-encoder)
holds config.json (a DebertaV2ForSequenceClassification config as transformers' save_pretrained
writes it), head.safetensors (the seeded classifier.weight [1, 384] and classifier.bias [1]),
seeds.json (the seed and the spreads of the tensors drawn here; "tokenizer_dir", when present,
names the directory, relative to FIXTURE_DIR, whose tokenizer files are used) and the DeBERTa-v3
tokenizer (tokenizer.json.gz, tokenizer_config.json: [PAD] [CLS] [SEP] [UNK], SentencePiece
pieces, [MASK]). DeBERTa's layer is BERT's with the attention projections renamed, so the MiniLM
trunk becomes a DebertaV2ForSequenceClassification under "deberta." (as transformers'
save_pretrained writes one):

- deberta.embeddings.word_embeddings.weight: one MiniLM row per piece, by make_xlmr.minilm_token()
  ([PAD] [CLS] [SEP] [UNK] [MASK] take MiniLM's own rows);
- deberta.embeddings.LayerNorm, and per layer N the six encoder layers of MiniLM under DeBERTa's
  names: attention.self.query/key/value -> attention.self.query_proj/key_proj/value_proj;
  attention.output.dense, attention.output.LayerNorm, intermediate.dense, output.dense,
  output.LayerNorm as they are;
- with position_biased_input: deberta.embeddings.position_embeddings.weight = MiniLM's
  [max_position_embeddings, 384]; with type_vocab_size > 0: deberta.embeddings.token_type_embeddings
  .weight = MiniLM's first type_vocab_size rows;
- pooler.dense = MiniLM's pooler.dense; classifier.weight/.bias = FIXTURE_DIR/head.safetensors;
- drawn here, with Python's random.Random(seeds.json "seed").gauss, one generator for all of
  them, in the order of their sorted names, each row-major, rounded to float32:
    deberta.encoder.rel_embeddings.weight [2 * pos_ebd_size, 384] ~ N(0, rel_embeddings_std)
      (pos_ebd_size = position_buckets if > 0, else max_relative_positions, else
      max_position_embeddings, as transformers' DebertaV2Encoder sizes it);
    with norm_rel_ebd "layer_norm": deberta.encoder.LayerNorm.weight ~ 1 + N(0, layer_norm_std),
      .bias ~ N(0, layer_norm_std);
    with share_att_key false, per layer N: attention.self.pos_key_proj (for "c2p") and
      attention.self.pos_query_proj (for "p2c"), .weight [384, 384] ~ N(0, pos_proj_std), .bias
      [384] ~ N(0, pos_proj_bias_std).

Writes into OUT_DIR: config.json (FIXTURE_DIR's), model.safetensors (names sorted, F32),
tokenizer.json (decompressed), tokenizer_config.json and special_tokens_map.json (the
*_token entries of tokenizer_config.json: scripts/setup.sh fills a model directory without a
tokenizer.json with MiniLM's tokenizer files, and this one has its own). Standard library only
(scripts/setup.sh runs it); tests/reference/make_fixtures.py --steps deberta runs it too and
checks the result against transformers (tests/fixtures/test-deberta-cross-encoder/README.md).
"""
import json
import os
import random
import shutil
import sys
from array import array

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_min  # noqa: E402
from make_xlmr import minilm_token, read_tokenizer_json  # noqa: E402

OWN = ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]")  # DeBERTa-v3's own tokens: MiniLM has them too
SPECIAL_KEYS = ("bos_token", "cls_token", "eos_token", "mask_token", "pad_token", "sep_token", "unk_token")
LAYER = {"attention.self.query.": "attention.self.query_proj.", "attention.self.key.": "attention.self.key_proj.",
         "attention.self.value.": "attention.self.value_proj.", "attention.output.dense.": None,
         "attention.output.LayerNorm.": None, "intermediate.dense.": None, "output.dense.": None,
         "output.LayerNorm.": None}


def deberta_token(piece, bert):
    """The MiniLM token whose embedding row the DeBERTa piece takes."""
    return piece if piece in OWN else minilm_token(piece, bert)


def pieces_of(tok):
    """The tokenizer's id -> piece list: tokenizer.json's Unigram vocabulary, then the added
    tokens past its end ([MASK]) in id order."""
    j = json.loads(tok)
    if j["model"].get("type") != "Unigram":
        sys.exit("tokenizer.json's model is not Unigram")
    pieces = [p for p, _ in j["model"]["vocab"]]
    for a in sorted(j["added_tokens"], key=lambda a: a["id"]):
        if a["id"] < len(pieces):
            if pieces[a["id"]] != a["content"]:
                sys.exit(f"tokenizer.json: added token {a['content']!r} is not vocabulary entry {a['id']}")
        elif a["id"] == len(pieces):
            pieces.append(a["content"])
        else:
            sys.exit(f"tokenizer.json: added token {a['content']!r} leaves a gap at id {len(pieces)}")
    return pieces


def rename(k):
    """MiniLM's name -> DeBERTa's, for the tensors taken as they are (None for the rest)."""
    if k.startswith("embeddings.LayerNorm."):
        return "deberta." + k
    if k.startswith("pooler.dense."):
        return k
    if k.startswith("encoder.layer."):
        n, rest = k[len("encoder.layer."):].split(".", 1)
        for old, new in LAYER.items():
            if rest.startswith(old):
                return f"deberta.encoder.layer.{n}.{new or old}{rest[len(old):]}"
    return None


def seeded_shapes(cfg):
    """name -> (shape, mean, std key) of the tensors drawn here, for config cfg."""
    h = cfg["hidden_size"]
    out = {}
    if not cfg.get("relative_attention", False):
        return out
    mrp = cfg.get("max_relative_positions", -1)
    if mrp < 1:
        mrp = cfg["max_position_embeddings"]
    span = cfg["position_buckets"] if cfg.get("position_buckets", -1) > 0 else mrp
    out["deberta.encoder.rel_embeddings.weight"] = ([2 * span, h], 0.0, "rel_embeddings_std")
    if "layer_norm" in [x.strip() for x in cfg.get("norm_rel_ebd", "none").lower().split("|")]:
        out["deberta.encoder.LayerNorm.weight"] = ([h], 1.0, "layer_norm_std")
        out["deberta.encoder.LayerNorm.bias"] = ([h], 0.0, "layer_norm_std")
    pat = cfg.get("pos_att_type") or []
    if isinstance(pat, str):
        pat = [x.strip() for x in pat.lower().split("|")]
    if not cfg.get("share_att_key", False):
        heads = cfg["num_attention_heads"]
        all_head = heads * cfg.get("attention_head_size", h // heads)
        for n in range(cfg["num_hidden_layers"]):
            for kind, proj in (("c2p", "pos_key_proj"), ("p2c", "pos_query_proj")):
                if kind in pat:
                    p = f"deberta.encoder.layer.{n}.attention.self.{proj}."
                    out[p + "weight"] = ([all_head, h], 0.0, "pos_proj_std")
                    out[p + "bias"] = ([all_head], 0.0, "pos_proj_bias_std")
    return out


def seeded(cfg, seeds):
    """The tensors drawn here (name -> (dtype, shape, bytes)), in sorted name order."""
    rng = random.Random(seeds["seed"])
    out = {}
    for name, (shape, mean, key) in sorted(seeded_shapes(cfg).items()):
        n = 1
        for d in shape:
            n *= d
        std = float(seeds[key])
        out[name] = ("F32", shape, array("f", (mean + rng.gauss(0.0, std) for _ in range(n))).tobytes())
    return out


def tensors(trunk, head, drawn, bert, pieces, cfg):
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
    if cfg["hidden_size"] != h or cfg.get("embedding_size", h) != h:
        sys.exit(f"config.json: hidden_size/embedding_size is not MiniLM's {h}")
    row, bert_id = 4 * h, {t: i for i, t in enumerate(bert)}
    known = set(bert)
    rows = (bert_id[deberta_token(p, known)] for p in pieces)
    out["deberta.embeddings.word_embeddings.weight"] = (
        dt, [len(pieces), h], b"".join(words[i * row:(i + 1) * row] for i in rows))
    if cfg.get("position_biased_input", True):
        _, (n, _), pos = trunk["embeddings.position_embeddings.weight"]
        m = cfg["max_position_embeddings"]
        if m > n:
            sys.exit(f"config.json: max_position_embeddings {m} > MiniLM's {n}")
        out["deberta.embeddings.position_embeddings.weight"] = (dt, [m, h], pos[:m * row])
    t = cfg.get("type_vocab_size", 0)
    if t > 0:
        _, (n, _), typ = trunk["embeddings.token_type_embeddings.weight"]
        if t > n:
            sys.exit(f"config.json: type_vocab_size {t} > MiniLM's {n}")
        out["deberta.embeddings.token_type_embeddings.weight"] = (dt, [t, h], typ[:t * row])
    for k, v in list(head.items()) + list(drawn.items()):
        assert k not in out, k
        out[k] = v
    return {k: out[k] for k in sorted(out)}


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__.strip().split("\n")[2].strip())
    minilm, fixture, out = argv[1:]
    with open(os.path.join(minilm, "vocab.txt"), encoding="utf-8", newline="") as f:
        bert = f.read().split("\n")
    if bert[-1] == "":
        bert.pop()
    if len(set(bert)) != len(bert) or not set(OWN) <= set(bert):
        sys.exit(f"{minilm}/vocab.txt: repeated tokens, or no [PAD] [CLS] [SEP] [UNK] [MASK]")
    with open(os.path.join(fixture, "seeds.json"), encoding="utf-8") as f:
        seeds = json.load(f)
    tokdir = os.path.join(fixture, seeds.get("tokenizer_dir", "."))
    tok = read_tokenizer_json(tokdir)
    pieces = pieces_of(tok)
    with open(os.path.join(fixture, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "deberta-v2" or cfg["vocab_size"] != len(pieces):
        sys.exit(f"{fixture}: config.json is not deberta-v2 with the tokenizer's vocab_size {len(pieces)}")
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(os.path.join(fixture, "config.json"), os.path.join(out, "config.json"))
    st_min.write(os.path.join(out, "model.safetensors"),
                 tensors(st_min.read(os.path.join(minilm, "model.safetensors")),
                         st_min.read(os.path.join(fixture, "head.safetensors")), seeded(cfg, seeds), bert, pieces,
                         cfg))
    with open(os.path.join(out, "tokenizer.json"), "wb") as f:
        f.write(tok)
    shutil.copyfile(os.path.join(tokdir, "tokenizer_config.json"), os.path.join(out, "tokenizer_config.json"))
    with open(os.path.join(tokdir, "tokenizer_config.json"), encoding="utf-8") as f:
        tc = json.load(f)
    special = {k: v for k, v in tc.items() if k in SPECIAL_KEYS and isinstance(v, str)}
    with open(os.path.join(out, "special_tokens_map.json"), "w", encoding="utf-8", newline="") as f:
        f.write(json.dumps(special, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv)
