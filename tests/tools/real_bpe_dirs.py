#!/usr/bin/env python3
"""Write tokenizer directories from the committed real-vocabulary BPE tokenizers.

    real_bpe_dirs.py SRC_DIR OUT_DIR

SRC_DIR is tests/fixtures/real-bpe (gpt2-roberta/ and olmo-modernbert/, each tokenizer.json.gz and
tokenizer_config.json; tests/reference/fixtures_real_bpe.py made them). Writes:

  OUT_DIR/gpt2/        gpt2-roberta's tokenizer.json and tokenizer_config.json (RobertaTokenizer)
  OUT_DIR/gpt2-file/   the same, tokenizer_class PreTrainedTokenizerFast: the file as the
                       `tokenizers` library reads it
  OUT_DIR/gpt2files/   vocab.json and merges.txt from that tokenizer.json, no tokenizer.json: the
                       files older RoBERTa checkpoints (roberta-base among them) also ship
  OUT_DIR/olmo/        olmo-modernbert's files (PreTrainedTokenizerFast)

Standard library only; tests/test_tokenizer.c and fixtures_real_bpe.py run it.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_xlmr  # noqa: E402
import roberta_variants  # noqa: E402


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__.strip().split("\n")[2].strip())
    src, out = argv[1:]
    for name, sub, forms in (("gpt2", "gpt2-roberta", ("gpt2", "gpt2-file", "gpt2files")),
                             ("olmo", "olmo-modernbert", ("olmo",))):
        d = os.path.join(src, sub)
        tok = json.loads(make_xlmr.read_tokenizer_json(d))
        with open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        for form in forms:
            c = dict(cfg, tokenizer_class="PreTrainedTokenizerFast") if form.endswith("-file") else cfg
            roberta_variants.write(os.path.join(out, form), tok, c, d, files=form.endswith("files"))


if __name__ == "__main__":
    main(sys.argv)
