#!/usr/bin/env python3
"""Write the RoBERTa test tokenizer's variants: forms RoBERTa checkpoints ship.

    roberta_variants.py SRC_DIR OUT_DIR

SRC_DIR holds the test RoBERTa tokenizer (tokenizer.json or tokenizer.json.gz,
tokenizer_config.json, special_tokens_map.json if any), as transformers 5.24's RobertaTokenizer
writes it: no normalizer, ByteLevel(add_prefix_space false), BPE, RobertaProcessing. Each variant
is OUT_DIR/<name>/ with SRC's files and these edits:

  prefix  add_prefix_space true, in tokenizer.json's ByteLevel and in tokenizer_config.json
  mask    <mask> with "lstrip": true, in tokenizer.json's added_tokens and in
          tokenizer_config.json's added_tokens_decoder (roberta-base's form)
  unk     tokenizer.json's BPE with "unk_token": "<unk>" and "fuse_unk": true, and the character of
          byte 0xE9 (é's second byte) taken out of the vocabulary (every merge that uses it too)
  decoder tokenizer_config.json with added_tokens_decoder as transformers 4.x writes it, <mask>
          with "lstrip": true there only (tokenizer.json as SRC's)
  files   no tokenizer.json: vocab.json and merges.txt ("#version: 0.2", then "a b" lines), the
          files older RoBERTa checkpoints ship (files-file/ is SRC's tokenizer.json)
  nfc     ModernBERT's form (answerdotai/ModernBERT-base, gte-reranker-modernbert-base): the same
          vocabulary and merges with "normalizer": {"type": "NFC"}, added tokens [CLS] (8000) and
          [SEP] (8001) (special, not normalized) and nai\u0308f (8002, normalized: matched after
          NFC, as naïf), BERT's TemplateProcessing ([CLS] A [SEP] / [CLS] A [SEP] B [SEP], B and
          its [SEP] of type 1), tokenizer_config.json's tokenizer_class PreTrainedTokenizerFast
          with cls_token [CLS] and sep_token [SEP]
  nfcseq  nfc's, with the normalizer written {"type": "Sequence", "normalizers": [NFC, NFC]}
  neox    nfc's plus the added tokens ModernBERT's tokenizer.json inherits from GPT-NeoX-20B and
          OLMo: runs of 24, 23, ..., 2 spaces (8003..8025, in the order GPT-NeoX-20B lists them
          as 50254..50276), |||IP_ADDRESS||| |||EMAIL_ADDRESS||| |||PHONE_NUMBER||| (8026..8028),
          all "special": false, "normalized": true (matched in the NFC text, leftmost-longest,
          before ByteLevel), then <|endoftext|> (8029) and <|padding|> (8030), special and not
          normalized

Each, and SRC itself as base, is also written as OUT_DIR/<name>-file/ with tokenizer_config.json's
tokenizer_class set to PreTrainedTokenizerFast: transformers 5's RobertaTokenizer keeps only the
vocabulary and merges of tokenizer.json (unk, for one, is not its form), while a
PreTrainedTokenizerFast reads the file as the `tokenizers` library does; tests/test_tokenizer.c
checks rerank both ways against ../fixtures/roberta_tokenizer_edge.jsonl.

Standard library only. make_fixtures.py (--steps roberta) writes the fixture with these.
"""
import copy
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_xlmr  # noqa: E402

VARIANTS = ("prefix", "mask", "unk", "decoder", "files", "nfc", "nfcseq", "neox")
GONE = "\u00e9"  # the character of byte 0xE9 in GPT-2's byte map
# GPT-NeoX-20B's whitespace tokens (24 spaces first) and OLMo's PII placeholders: non-special,
# normalized; then GPT-NeoX's two specials
NEOX_NORMALIZED = tuple(" " * k for k in range(24, 1, -1)) + (
    "|||IP_ADDRESS|||", "|||EMAIL_ADDRESS|||", "|||PHONE_NUMBER|||")
NEOX_SPECIAL = ("<|endoftext|>", "<|padding|>")


def halves(m):
    return m.split(" ") if isinstance(m, str) else m


def bert_template(cls_id, sep_id):
    """ModernBERT's post-processor: BERT's TemplateProcessing, [CLS] A [SEP] / [CLS] A [SEP] B [SEP]
    with B and its [SEP] of type 1 (also fixtures_real_bpe.py's)."""
    cls, sep = {"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}
    sep1 = {"SpecialToken": {"id": "[SEP]", "type_id": 1}}
    return {
        "type": "TemplateProcessing",
        "single": [cls, {"Sequence": {"id": "A", "type_id": 0}}, sep],
        "pair": [cls, {"Sequence": {"id": "A", "type_id": 0}}, sep, {"Sequence": {"id": "B", "type_id": 1}}, sep1],
        "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for t, i in (("[CLS]", cls_id), ("[SEP]", sep_id))}}


def variant(base, cfg, name):
    if name == "neox":
        tok, cfg = variant(base, cfg, "nfc")
        n = 1 + max(t["id"] for t in tok["added_tokens"])
        for i, content in enumerate(NEOX_NORMALIZED + NEOX_SPECIAL):
            special = content in NEOX_SPECIAL
            tok["added_tokens"].append({"id": n + i, "content": content, "single_word": False, "lstrip": False,
                                        "rstrip": False, "normalized": not special, "special": special})
        return tok, cfg
    tok, cfg = copy.deepcopy(base), copy.deepcopy(cfg)
    if name == "prefix":
        tok["pre_tokenizer"]["add_prefix_space"] = True
        cfg["add_prefix_space"] = True
    elif name == "mask":
        for t in tok["added_tokens"]:
            if t["content"] == "<mask>":
                t["lstrip"] = True
        for t in cfg.get("added_tokens_decoder", {}).values():
            if t["content"] == "<mask>":
                t["lstrip"] = True
    elif name == "decoder":
        cfg["added_tokens_decoder"] = {
            str(t["id"]): {"content": t["content"], "lstrip": t["content"] == "<mask>", "normalized": False,
                           "rstrip": False, "single_word": False, "special": True}
            for t in tok["added_tokens"]}
    elif name in ("nfc", "nfcseq"):
        tok["normalizer"] = {"type": "NFC"} if name == "nfc" else {
            "type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "NFC"}]}
        n = len(tok["model"]["vocab"])
        for i, (content, special) in enumerate((("[CLS]", True), ("[SEP]", True), ("nai\u0308f", False))):
            tok["added_tokens"].append({"id": n + i, "content": content, "single_word": False, "lstrip": False,
                                        "rstrip": False, "normalized": not special, "special": special})
        tok["post_processor"] = bert_template(n, n + 1)
        cfg.update(tokenizer_class="PreTrainedTokenizerFast", cls_token="[CLS]", sep_token="[SEP]")
    elif name == "unk":
        model = tok["model"]
        model["unk_token"] = "<unk>"
        model["fuse_unk"] = True
        model["vocab"] = {k: v for k, v in model["vocab"].items() if GONE not in k}
        model["merges"] = [m for m in model["merges"] if not any(GONE in h for h in halves(m))]
    return tok, cfg


def write(out, tok, cfg, src, files=False):
    os.makedirs(out, exist_ok=True)
    if files:
        with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(tok["model"]["vocab"], f, ensure_ascii=False)
        with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8", newline="") as f:
            f.write("#version: 0.2\n" + "".join(" ".join(halves(m)) + "\n" for m in tok["model"]["merges"]))
    else:
        with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tok, f, indent=2, ensure_ascii=False)
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
    if os.path.exists(os.path.join(src, "special_tokens_map.json")):
        shutil.copyfile(os.path.join(src, "special_tokens_map.json"), os.path.join(out, "special_tokens_map.json"))


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__.strip().split("\n")[2].strip())
    src, out = argv[1:]
    base = json.loads(make_xlmr.read_tokenizer_json(src))
    with open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    forms = {"base": (base, cfg)}
    forms.update({v: variant(base, cfg, v) for v in VARIANTS})
    for name, (tok, c) in forms.items():
        if name != "base":
            write(os.path.join(out, name), tok, c, src, files=name == "files")
        write(os.path.join(out, name + "-file"), tok, dict(c, tokenizer_class="PreTrainedTokenizerFast"), src)


if __name__ == "__main__":
    main(sys.argv)
