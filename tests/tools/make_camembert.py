#!/usr/bin/env python3
"""Assemble the CamemBERT test cross-encoder's model directory from all-MiniLM-L6-v2's.

    make_camembert.py MINILM_DIR FIXTURE_DIR OUT_DIR

FIXTURE_DIR (tests/fixtures/test-camembert-cross-encoder) holds config.json (model_type camembert,
CamembertForSequenceClassification), tokenizer_config.json (as transformers 5.24's
CamembertTokenizer writes it) and head.safetensors (the seeded classifier.out_proj.weight and
.bias). The tokenizer is the XLM-R test tokenizer (../test-xlmr-cross-encoder/tokenizer.json.gz)
laid out as transformers' CamembertConverter lays out a SentencePiece vocabulary (camembert()
below): "<s>NOTUSED" "<pad>" "</s>NOTUSED" "<unk>" "<unk>NOTUSED" (ids 0-4), the SentencePiece
pieces from the model's piece 1 on ("<s>" 5, "</s>" 6, then XLM-R's ids 4-8000 as 7-8003, same
scores), "<mask>" (8004); so the same charsmap, normalizer and pre-tokenizer, bos/eos 5/6, pad 1,
unk 3. CamemBERT's layer is XLM-R's, so the rest is make_xlmr.py's: MiniLM's trunk under
"roberta.", one MiniLM embedding row per piece (the three NOTUSED tokens take [UNK]'s, as "<unk>"
does), classifier.dense = MiniLM's pooler.dense, classifier.out_proj from head.safetensors.

Writes into OUT_DIR what make_xlmr.py writes (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, special_tokens_map.json). Standard library only (scripts/setup.sh runs
it); tests/reference/fixtures_camembert.py runs it too and checks the result against the model
and tokenizer transformers saved (tests/fixtures/test-camembert-cross-encoder/README.md).
"""
import copy
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_xlmr  # noqa: E402

NOTUSED = ("<s>NOTUSED", "</s>NOTUSED", "<unk>NOTUSED")
# transformers' CamembertConverter: its own five tokens first, <mask> last
HEAD = [["<s>NOTUSED", 0.0], ["<pad>", 0.0], ["</s>NOTUSED", 0.0], ["<unk>", 0.0], ["<unk>NOTUSED", -100.0]]
BOS, EOS, MASK = 5, 6, 8004


def added(i, content, lstrip=False):
    return {"id": i, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": False,
            "normalized": False, "special": True}


def camembert(xlmr):
    """The XLM-R test tokenizer.json (parsed) laid out as CamembertTokenizer saves one (the same
    normalizer, pre-tokenizer and decoder; vocabulary, added tokens, template ids and unk_id
    rewritten)."""
    tok = copy.deepcopy(xlmr)
    vocab = xlmr["model"]["vocab"]
    if [p for p, _ in vocab[:4]] != ["<s>", "<pad>", "</s>", "<unk>"] or vocab[-1][0] != "<mask>":
        sys.exit("the XLM-R tokenizer.json's vocabulary is not <s> <pad> </s> <unk> ... <mask>")
    # SentencePiece's piece 0 is <unk>, 1 <s>, 2 </s>: the XLM-R file holds those from 3 on at 4
    pieces = HEAD + [["<s>", 0.0], ["</s>", 0.0]] + vocab[4:-1] + [["<mask>", 0.0]]
    assert len(pieces) == MASK + 1 and pieces[BOS][0] == "<s>" and pieces[EOS][0] == "</s>"
    tok["model"] = {"type": "Unigram", "unk_id": 3, "vocab": pieces, "byte_fallback": False}
    tok["added_tokens"] = [added(i, p) for i, (p, _) in enumerate(pieces[:EOS + 1])] + [added(MASK, "<mask>", True)]
    special = tok["post_processor"]["special_tokens"]
    special["<s>"]["ids"], special["</s>"]["ids"] = [BOS], [EOS]
    return tok


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__.strip().split("\n")[2].strip())
    minilm, fixture, out = argv[1:]
    bert = make_xlmr.minilm_vocab(minilm)
    xlmr = json.loads(make_xlmr.read_tokenizer_json(os.path.join(os.path.dirname(os.path.abspath(fixture)),
                                                                 "test-xlmr-cross-encoder")))
    tok = camembert(xlmr)
    tj = json.dumps(tok, indent=2, ensure_ascii=False).encode("utf-8")
    rows = ["<unk>" if p in NOTUSED else p for p, _ in tok["model"]["vocab"]]  # the MiniLM row each takes
    make_xlmr.assemble(minilm, fixture, out, bert, tj, rows)


if __name__ == "__main__":
    main(sys.argv)
