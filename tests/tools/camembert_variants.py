#!/usr/bin/env python3
"""Write the CamemBERT test tokenizer's variants: where transformers' CamembertTokenizer and the file part.

    camembert_variants.py SRC_DIR OUT_DIR

SRC_DIR is the assembled test-camembert-cross-encoder (tokenizer.json and tokenizer_config.json as
transformers 5.24's CamembertTokenizer writes them; tests/tools/make_camembert.py). transformers 5's
CamembertTokenizer keeps only the vocabulary, the charsmap and the added tokens of tokenizer.json and
sets the rest itself: XLM-R's normalizer and pre-tokenizer (prepend from tokenizer_config.json's
add_prefix_space), the template <s> A </s> </s> B </s> from bos_token / eos_token, unk_id = the index
of unk_token in the vocabulary (not model.unk_id), and adds its additional special tokens
(extra_special_tokens, else additional_special_tokens, else "<s>NOTUSED" "</s>NOTUSED"
"<unk>NOTUSED") and the named special tokens. Each variant is OUT_DIR/<name>/:

  legacy    xlmr_variants.py's legacy form (Replace normalizer, Metaspace add_prefix_space, <mask>
            lstrip) with a RobertaProcessing template (cls <s> 5, sep </s> 6)
  unk       model.unk_id 0 ("<s>NOTUSED"): the file's unknown token; transformers keeps <unk> (3)
  defaults  no NOTUSED added tokens in tokenizer.json and no extra_special_tokens in
            tokenizer_config.json: transformers adds its three defaults, the file has none
  two       no NOTUSED added tokens; tokenizer_config.json's additional_special_tokens
            ["<s>NOTUSED", "</s>NOTUSED"] (transformers 4's key): "<unk>NOTUSED" is text
  never     tokenizer_config.json's add_prefix_space false: transformers prepends no "▁"

and OUT_DIR/<name>-file/ (and base-file) the same files under tokenizer_class
PreTrainedTokenizerFast, read as the `tokenizers` library reads the file. tests/test_tokenizer.c
reads each both ways against ../fixtures/camembert_tokenizer_edge.jsonl. Standard library only.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_camembert  # noqa: E402
import xlmr_variants  # noqa: E402

VARIANTS = ("legacy", "unk", "defaults", "two", "never")
ROBERTA_PROCESSING = {"type": "RobertaProcessing", "sep": ["</s>", make_camembert.EOS],
                      "cls": ["<s>", make_camembert.BOS], "trim_offsets": True, "add_prefix_space": True}


def variant(base, cfg, name):
    """(tokenizer.json, tokenizer_config.json) of the variant, as new objects."""
    tok, cfg = json.loads(json.dumps(base)), dict(cfg)
    if name == "legacy":
        tok = xlmr_variants.variant(base, "legacy")
        tok["post_processor"] = dict(ROBERTA_PROCESSING)
    elif name == "unk":
        tok["model"]["unk_id"] = 0
    elif name in ("defaults", "two"):
        tok["added_tokens"] = [t for t in tok["added_tokens"] if t["content"] not in make_camembert.NOTUSED]
        cfg.pop("extra_special_tokens", None)
        if name == "two":
            cfg["additional_special_tokens"] = ["<s>NOTUSED", "</s>NOTUSED"]
    elif name == "never":
        cfg["add_prefix_space"] = False
    else:
        raise ValueError(name)
    return tok, cfg


def write(d, tok, cfg, tokenizer_class=None):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8", newline="") as f:
        f.write(json.dumps(tok, indent=2, ensure_ascii=False))
    if tokenizer_class:
        cfg = dict(cfg, tokenizer_class=tokenizer_class)
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8", newline="") as f:
        f.write(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__.strip().split("\n")[2].strip())
    src, out = argv[1:]
    base = xlmr_variants.load(src)
    with open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    for name in ("base",) + VARIANTS:
        tok, vcfg = (base, cfg) if name == "base" else variant(base, cfg, name)
        if name != "base":
            write(os.path.join(out, name), tok, vcfg)
        write(os.path.join(out, name + "-file"), tok, vcfg, "PreTrainedTokenizerFast")


if __name__ == "__main__":
    main(sys.argv)
