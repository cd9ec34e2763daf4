#!/usr/bin/env python3
"""Write the XLM-R test tokenizer's tokenizer.json variants: the forms real XLM-R checkpoints ship.

    xlmr_variants.py SRC_DIR OUT_DIR

SRC_DIR holds the test XLM-R tokenizer (tokenizer.json or tokenizer.json.gz, tokenizer_config.json,
special_tokens_map.json if any): the form transformers 5.24 writes from a SentencePiece model,
normalizer Precompiled, pre_tokenizer Sequence[WhitespaceSplit, Metaspace(prepend_scheme "always",
split true)]. Each variant is OUT_DIR/<name>/ with tokenizer.json (SRC's with the edits below, same
vocabulary, same precompiled charsmap), tokenizer_config.json and special_tokens_map.json copied from
SRC:

  legacy  normalizer Sequence[Precompiled, Replace(Regex " {2,}" -> " ")], pre_tokenizer and decoder
          {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true} (no prepend_scheme or
          split keys), and <mask> added with "lstrip": true: the form of the older files on the hub
          (xlm-roberta-base, BAAI/bge-reranker-base)
  plain   normalizer Precompiled, pre_tokenizer Metaspace(prepend_scheme "always", split true) alone
  first   SRC's form with the Metaspace's prepend_scheme "first"
  never   SRC's form with the Metaspace's prepend_scheme "never"
  strip   normalizer Sequence[Precompiled, Strip(left false, right true), Replace(Regex " {2,}" -> "▁")],
          pre_tokenizer Metaspace(prepend_scheme "always", split true): what transformers 4.x's
          XLMRobertaConverter wrote (SRC is not that form; were it, "strip" would strip both sides)

Each is also written as OUT_DIR/<name>-file/ (and base-file, SRC's tokenizer.json) with
tokenizer_config.json's tokenizer_class set to PreTrainedTokenizerFast: transformers 5's
XLMRobertaTokenizer keeps only the vocabulary, charsmap and added tokens of tokenizer.json and
sets the normalizer and pre-tokenizer itself (the base form), while a PreTrainedTokenizerFast reads
the file as the `tokenizers` library does; tests/test_tokenizer.c checks rerank both ways.

Standard library only. The JSON is written as the tokenizers library writes it (indent 2, raw UTF-8).
make_fixtures.py (--steps xlmr) checks that each loads in the tokenizers library and encodes
../fixtures/xlmr_tokenizer_edge.jsonl with each.
"""
import copy
import gzip
import json
import os
import shutil
import sys

VARIANTS = ("legacy", "plain", "first", "never", "strip")
REPLACE = {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}
LEGACY_METASPACE = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
METASPACE_ALWAYS = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}


def load(src):
    path = os.path.join(src, "tokenizer.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    with gzip.open(path + ".gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def precompiled(tok):
    """SRC's Precompiled normalizer (alone or in a Sequence)."""
    n = tok["normalizer"]
    for x in n["normalizers"] if n["type"] == "Sequence" else [n]:
        if x["type"] == "Precompiled":
            return x
    sys.exit("SRC's normalizer has no Precompiled step")


def metaspace(tok):
    """SRC's Metaspace pre-tokenizer (alone or in a Sequence), the object itself."""
    p = tok["pre_tokenizer"]
    for x in p["pretokenizers"] if p["type"] == "Sequence" else [p]:
        if x["type"] == "Metaspace":
            return x
    sys.exit("SRC's pre_tokenizer has no Metaspace step")


def variant(base, name):
    tok = copy.deepcopy(base)
    pre = precompiled(base)
    if name == "legacy":
        tok["normalizer"] = {"type": "Sequence", "normalizers": [pre, dict(REPLACE)]}
        tok["pre_tokenizer"] = dict(LEGACY_METASPACE)
        tok["decoder"] = dict(LEGACY_METASPACE)
        for t in tok["added_tokens"]:
            if t["content"] == "<mask>":
                t["lstrip"] = True
    elif name == "plain":
        tok["normalizer"] = pre
        tok["pre_tokenizer"] = dict(METASPACE_ALWAYS)
    elif name in ("first", "never"):
        metaspace(tok)["prepend_scheme"] = name
    elif name == "strip":
        strip = {"type": "Strip", "strip_left": False, "strip_right": True}
        already = base["normalizer"].get("type") == "Sequence" and strip in base["normalizer"]["normalizers"]
        if already:
            strip["strip_left"] = True
        tok["normalizer"] = {"type": "Sequence", "normalizers": [
            pre, strip, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"}]}
        tok["pre_tokenizer"] = dict(METASPACE_ALWAYS)
    else:
        raise ValueError(name)
    return tok


def write(d, tok, src, tokenizer_class=None):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8", newline="") as f:
        f.write(json.dumps(tok, indent=2, ensure_ascii=False))
    for f in ("tokenizer_config.json", "special_tokens_map.json"):
        if os.path.exists(os.path.join(src, f)):
            shutil.copyfile(os.path.join(src, f), os.path.join(d, f))
    if tokenizer_class:
        path = os.path.join(d, "tokenizer_config.json")
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
        cfg["tokenizer_class"] = tokenizer_class
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__.strip().split("\n")[2].strip())
    src, out = argv[1:]
    base = load(src)
    for name in VARIANTS:
        write(os.path.join(out, name), variant(base, name), src)
    # the same files under tokenizer_class PreTrainedTokenizerFast: read as the file says
    # (transformers' XLMRobertaTokenizer keeps only the vocabulary, charsmap and added tokens)
    for name in ("base",) + VARIANTS:
        write(os.path.join(out, name + "-file"), base if name == "base" else variant(base, name), src,
              "PreTrainedTokenizerFast")


if __name__ == "__main__":
    main(sys.argv)
